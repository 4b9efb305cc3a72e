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
    /// decodes the whole document to report the error).
    pub fn decode_into(&self, bytes: &[u8], out: &mut Document) -> bool {
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

    /// [`Deps::decode_into`] into a new document.
    pub fn decode(&self, bytes: &[u8]) -> Option<Document> {
        let mut out = Document::new();
        self.decode_into(bytes, &mut out).then_some(out)
    }
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
