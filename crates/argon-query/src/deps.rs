//! Which top-level fields of a document a filter, an expression or a
//! pipeline reads, and decoding only those fields from stored BSON.
//!
//! A collection scan spends most of its time turning stored bytes into a
//! [`Document`]. A filter such as `{s: "x"}` needs one field, so the server
//! decodes just that field from the raw bytes ([`Deps::decode_into`]),
//! matches the small document, and decodes the whole document only when it
//! matches. The same goes for a pipeline whose leading stages reach a stage
//! that replaces the document (`$group`, an inclusion `$project`,
//! `$count`...): only the fields read up to there are decoded.
//!
//! Dependencies are conservative: a field that might be read is listed,
//! and anything that may read the whole document (`$$ROOT`, `$$CURRENT`,
//! `$lookup`, a pipeline that returns its input documents) makes
//! [`Deps::needs_whole_document`] true. Because the small document holds
//! exactly the listed top-level fields, with the same values, in the same
//! order, as the full one, every operator that only reads those fields sees
//! the same thing either way.

use bson::{Bson, Document, RawDocument};

/// The top-level fields something reads, or "the whole document".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Deps {
    whole: bool,
    fields: Vec<String>,
}

impl Deps {
    /// Reads nothing.
    pub fn none() -> Deps {
        Deps::default()
    }

    /// Reads the whole document.
    pub fn whole_document() -> Deps {
        Deps { whole: true, fields: Vec::new() }
    }

    /// Reads exactly these top-level fields.
    pub fn fields_of<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> Deps {
        let mut d = Deps::none();
        for n in names {
            d.add_field(n.as_ref());
        }
        d
    }

    /// Whether the whole document is needed (then [`Deps::fields`] is
    /// meaningless).
    pub fn needs_whole_document(&self) -> bool {
        self.whole
    }

    /// The top-level field names read (without duplicates).
    pub fn fields(&self) -> &[String] {
        &self.fields
    }

    pub(crate) fn add_field(&mut self, name: &str) {
        if !self.whole && !self.fields.iter().any(|f| f == name) {
            self.fields.push(name.to_string());
        }
    }

    /// Adds the first component of a dotted path.
    pub(crate) fn add_path(&mut self, dotted: &str) {
        self.add_field(dotted.split('.').next().unwrap_or(dotted));
    }

    pub(crate) fn set_whole(&mut self) {
        self.whole = true;
        self.fields.clear();
    }

    /// Adds everything `other` reads.
    pub fn extend(&mut self, other: &Deps) {
        if other.whole {
            self.set_whole();
        } else {
            for f in &other.fields {
                self.add_field(f);
            }
        }
    }

    /// Decodes the fields this reads from stored BSON into `out` (cleared
    /// first), in document order, exactly as decoding the whole document
    /// would give them (a repeated key keeps its first position and last
    /// value). With [`Deps::needs_whole_document`], decodes everything.
    /// Returns false when the bytes are not a valid document (the caller
    /// decodes the whole document to report the error). Fields not read
    /// are skipped by their length, not validated.
    pub fn decode_into(&self, bytes: &[u8], out: &mut Document) -> bool {
        out.clear();
        if !self.whole && self.decode_fast(bytes, out).is_some() {
            return true;
        }
        out.clear();
        let Ok(raw) = RawDocument::from_bytes(bytes) else { return false };
        for elem in raw.iter_elements() {
            let Ok(elem) = elem else { return false };
            let key = elem.key().as_str();
            if self.whole || self.fields.iter().any(|f| f == key) {
                let Ok(value) = elem.value() else { return false };
                let Ok(value) = Bson::try_from(value) else { return false };
                out.insert(key, value);
            }
        }
        true
    }

    /// Walks the elements by their lengths and decodes the wanted ones of
    /// the common types directly; `None` when anything is unusual (a rare
    /// type among the wanted fields, malformed bytes), for the general
    /// path to handle.
    fn decode_fast(&self, bytes: &[u8], out: &mut Document) -> Option<()> {
        self.walk(bytes, &mut |i, t, value| {
            out.insert(self.fields[i].as_str(), decode_value(t, value)?);
            Some(())
        })
    }

    /// Like [`Deps::decode_into`], for matching only: `out` ends up with
    /// the same fields and values, but in the order of [`Deps::fields`]
    /// rather than document order, and keeps `out`'s keys and string
    /// buffers from the previous call when the fields present are the same
    /// (so a scan over documents of one shape allocates nothing here).
    pub fn decode_for_matching(&self, bytes: &[u8], out: &mut Document) -> bool {
        const MAX: usize = 8;
        if self.whole || self.fields.len() > MAX {
            return self.decode_into(bytes, out);
        }
        let mut found: [Option<(u8, &[u8])>; MAX] = [None; MAX];
        let walked = self.walk(bytes, &mut |i, t, value| {
            found[i] = Some((t, value)); // a repeated key: the last value
            Some(())
        });
        if walked.is_some() && self.fill_slots(&found[..self.fields.len()], out).is_some() {
            return true;
        }
        self.decode_into(bytes, out)
    }

    /// Writes the found values into `out`, reusing its slots when its keys
    /// are exactly the found fields in order, else rebuilding it.
    fn fill_slots(&self, found: &[Option<(u8, &[u8])>], out: &mut Document) -> Option<()> {
        let present = found.iter().filter(|f| f.is_some()).count();
        let same_shape = out.len() == present
            && out
                .keys()
                .zip(found.iter().enumerate().filter(|(_, f)| f.is_some()))
                .all(|(k, (i, _))| *k == self.fields[i]);
        if same_shape {
            for ((_, slot), (t, value)) in out.iter_mut().zip(found.iter().flatten()) {
                match (slot, *t) {
                    (Bson::String(s), 0x02) => {
                        let (last, text) = value.get(4..)?.split_last()?;
                        if *last != 0 {
                            return None;
                        }
                        s.clear();
                        s.push_str(std::str::from_utf8(text).ok()?);
                    }
                    (slot, t) => *slot = decode_value(t, value)?,
                }
            }
        } else {
            out.clear();
            for (i, f) in found.iter().enumerate() {
                if let Some((t, value)) = f {
                    out.insert(self.fields[i].as_str(), decode_value(*t, value)?);
                }
            }
        }
        Some(())
    }

    /// Walks the top-level elements of a document by their lengths, calling
    /// `f(field index, type, value bytes)` for the wanted ones; `None` when
    /// the bytes are malformed or `f` returns `None`.
    fn walk<'b>(&self, bytes: &'b [u8], f: &mut dyn FnMut(usize, u8, &'b [u8]) -> Option<()>) -> Option<()> {
        let int =
            |at: usize| -> Option<i32> { Some(i32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?)) };
        let len = usize::try_from(int(0)?).ok()?;
        if len != bytes.len() || len < 5 || bytes[len - 1] != 0 {
            return None;
        }
        let end = len - 1;
        let body = &bytes[..end];
        let mut pos = 4;
        while pos < end {
            let t = body[pos];
            let key_start = pos + 1;
            let mut key_end = key_start;
            while *body.get(key_end)? != 0 {
                key_end += 1;
            }
            let key = &body[key_start..key_end];
            let at = key_end + 1;
            let size = |n: i32| usize::try_from(n).ok();
            let vlen = match t {
                0x01 | 0x09 | 0x11 | 0x12 => 8,
                0x02 | 0x0D | 0x0E => 4 + size(int(at)?)?,
                0x03 | 0x04 | 0x0F => size(int(at)?)?,
                0x05 => 5 + size(int(at)?)?,
                0x06 | 0x0A | 0xFF | 0x7F => 0,
                0x07 => 12,
                0x08 => 1,
                0x0B => {
                    let p = body.get(at..)?.iter().position(|b| *b == 0)?;
                    let o = body.get(at + p + 1..)?.iter().position(|b| *b == 0)?;
                    p + o + 2
                }
                0x0C => 4 + size(int(at)?)? + 12,
                0x10 => 4,
                0x13 => 16,
                _ => return None,
            };
            let value = body.get(at..at + vlen)?;
            // Cheap tests first: most keys are not wanted.
            let wanted = self.fields.iter().position(|f| {
                let f = f.as_bytes();
                f.len() == key.len() && f.first() == key.first() && f == key
            });
            if let Some(i) = wanted {
                f(i, t, value)?;
            }
            pos = at + vlen;
        }
        (pos == end).then_some(())
    }

    /// [`Deps::decode_into`] into a new document.
    pub fn decode(&self, bytes: &[u8]) -> Option<Document> {
        let mut out = Document::new();
        self.decode_into(bytes, &mut out).then_some(out)
    }
}

/// One value of the common types from its bytes; `None` for other types
/// (the general path decodes them) or malformed bytes.
fn decode_value(t: u8, value: &[u8]) -> Option<Bson> {
    Some(match t {
        0x01 => Bson::Double(f64::from_le_bytes(value.try_into().ok()?)),
        0x02 => {
            let (last, text) = value.get(4..)?.split_last()?;
            if *last != 0 {
                return None;
            }
            Bson::String(std::str::from_utf8(text).ok()?.to_string())
        }
        0x03 => Bson::Document(Document::try_from(RawDocument::from_bytes(value).ok()?).ok()?),
        0x04 => {
            let raw = RawDocument::from_bytes(value).ok()?;
            let mut items = Vec::new();
            for item in raw.iter() {
                items.push(Bson::try_from(item.ok()?.1).ok()?);
            }
            Bson::Array(items)
        }
        0x07 => Bson::ObjectId(bson::oid::ObjectId::from_bytes(value.try_into().ok()?)),
        0x08 => match value.first()? {
            0 => Bson::Boolean(false),
            1 => Bson::Boolean(true),
            _ => return None,
        },
        0x09 => Bson::DateTime(bson::DateTime::from_millis(i64::from_le_bytes(value.try_into().ok()?))),
        0x0A => Bson::Null,
        0x10 => Bson::Int32(i32::from_le_bytes(value.try_into().ok()?)),
        0x12 => Bson::Int64(i64::from_le_bytes(value.try_into().ok()?)),
        _ => return None,
    })
}

/// The fields an aggregation expression reads, from its source: every
/// `"$path"` string and `"$$ROOT.path"`/`"$$CURRENT.path"`; a bare
/// `"$$ROOT"`/`"$$CURRENT"` reads the whole document. Expressions read the
/// document through nothing else, so this is a safe over-approximation
/// (a `$literal` string that looks like a path only adds a field).
pub(crate) fn expression_source_deps(v: &Bson, deps: &mut Deps) {
    match v {
        Bson::String(s) => {
            if let Some(var) = s.strip_prefix("$$") {
                let (name, path) = match var.split_once('.') {
                    Some((n, p)) => (n, Some(p)),
                    None => (var, None),
                };
                if name == "ROOT" || name == "CURRENT" {
                    match path {
                        Some(p) => deps.add_path(p),
                        None => deps.set_whole(),
                    }
                }
            } else if let Some(path) = s.strip_prefix('$') {
                if !path.is_empty() {
                    deps.add_path(path);
                }
            }
        }
        Bson::Document(d) => {
            // `$getField` without `input` reads `$$CURRENT` by a literal
            // field name (which may hold dots): the whole document.
            if let Some(arg) = d.get("$getField") {
                if !matches!(arg, Bson::Document(a) if a.contains_key("input")) {
                    deps.set_whole();
                }
            }
            for (_, v) in d {
                expression_source_deps(v, deps);
            }
        }
        Bson::Array(items) => {
            for v in items {
                expression_source_deps(v, deps);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn expression_paths_and_root() {
        let mut d = Deps::none();
        expression_source_deps(&bson::bson!({"$add": ["$a.b", "$$ROOT.c", "$$NOW", 1, {"x": "$d"}]}), &mut d);
        assert_eq!(d.fields(), ["a", "c", "d"]);
        expression_source_deps(&bson::bson!("$$CURRENT"), &mut d);
        assert!(d.needs_whole_document());
    }

    #[test]
    fn every_type_decodes_as_whole_decoding_does() {
        use bson::spec::BinarySubtype;
        let full = doc! {
            "_id": bson::oid::ObjectId::new(),
            "d": 1.5, "s": "héllo", "o": {"x": [1, {"y": null}]}, "a": [1, "two", [3]],
            "bin": bson::Binary { subtype: BinarySubtype::Generic, bytes: vec![1, 2, 3] },
            "u": Bson::Undefined, "b": true, "f": false, "t": bson::DateTime::from_millis(1_700_000_000_000),
            "n": null, "re": crate::regex::regex_value("^a.*", "i"),
            "code": Bson::JavaScriptCode("1".into()), "sym": Bson::Symbol("s".into()),
            "i": 7, "ts": bson::Timestamp { time: 1, increment: 2 }, "l": 9i64,
            "dec": Bson::Decimal128("1.25".parse().unwrap()), "min": Bson::MinKey, "max": Bson::MaxKey,
            "empty": {}, "ea": [],
        };
        let bytes = full.to_vec().unwrap();
        for (k, v) in &full {
            let got = Deps::fields_of([k.as_str(), "s"]).decode(&bytes).unwrap();
            assert_eq!(got.get(k), Some(v), "{k}");
            assert_eq!(got.len(), if k == "s" { 1 } else { 2 });
        }
        let all: Vec<&str> = full.keys().map(String::as_str).collect();
        assert_eq!(Deps::fields_of(all).decode(&bytes).unwrap(), full);
    }

    #[test]
    fn decoding_keeps_order_and_duplicates_as_full_decoding() {
        let full = doc! {"_id": 1, "b": "x", "a": [1, 2], "c": {"d": 1}};
        let bytes = full.to_vec().unwrap();
        let d = Deps::fields_of(["a", "_id", "zz"]);
        assert_eq!(d.decode(&bytes).unwrap(), doc! {"_id": 1, "a": [1, 2]});
        assert_eq!(Deps::whole_document().decode(&bytes).unwrap(), full);
        assert!(d.decode(&bytes[..bytes.len() - 1]).is_none());
        // {a: 1, b: 2, a: 3}: the first position, the last value.
        let mut raw = bson::RawDocumentBuf::new();
        raw.append(bson::raw::cstr!("a"), 1);
        raw.append(bson::raw::cstr!("b"), 2);
        raw.append(bson::raw::cstr!("a"), 3);
        let whole = Document::try_from(raw.as_ref()).unwrap();
        assert_eq!(whole, doc! {"a": 3, "b": 2});
        assert_eq!(Deps::fields_of(["a"]).decode(raw.as_bytes()).unwrap(), doc! {"a": 3});
    }
}
