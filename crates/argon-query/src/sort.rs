//! Sort specifications (`find`'s `sort`, `$sort`, `$push` with `$sort`).
//!
//! Each key extracts one value per document: a missing field sorts as
//! null; an array sorts by its smallest element when ascending and its
//! largest when descending; an empty array sorts below null. Ties keep the
//! input order (the sort is stable).

use std::cmp::Ordering;

use bson::{Bson, Document};

use crate::compare::compare;
use crate::error::{codes, err, Result};
use crate::path::{Part, Path};

#[derive(Clone, Debug)]
struct Key {
    path: Path,
    descending: bool,
    /// `{$meta: "textScore"}`: the document's text score, highest first
    /// (`path` is the key's name, not read).
    text_score: bool,
}

/// A parsed sort specification.
#[derive(Clone, Debug, Default)]
pub struct SortSpec {
    keys: Vec<Key>,
    natural: Option<i32>,
}

impl SortSpec {
    /// Parses `{field: 1 | -1, ...}` (also `{$natural: 1 | -1}`).
    pub fn parse(spec: &Document) -> Result<SortSpec> {
        let mut out = SortSpec::default();
        for (field, v) in spec {
            let direction = match v {
                v if crate::numeric::is_number(v) => {
                    let d = crate::numeric::to_f64(v).unwrap_or(0.0);
                    if d == 1.0 {
                        1
                    } else if d == -1.0 {
                        -1
                    } else {
                        return err(
                            codes::L15975,
                            "$sort key ordering must be 1 (for ascending) or -1 (for descending)",
                        );
                    }
                }
                Bson::Document(d) if d.contains_key("$meta") => {
                    if d.len() == 1 && d.get_str("$meta").ok() == Some("textScore") {
                        out.keys.push(Key { path: Path::parse(field), descending: true, text_score: true });
                    }
                    // Other metadata (search scores, ...) does not exist
                    // here; every document ties on such a key.
                    continue;
                }
                Bson::Document(_) => {
                    return err(codes::L17312, "$meta is the only expression supported by $sort right now");
                }
                other => {
                    return err(
                        codes::L15974,
                        format!(
                            "Illegal key in $sort specification: {}",
                            crate::display::element(field, other)
                        ),
                    );
                }
            };
            if field == "$natural" {
                out.natural = Some(direction);
                continue;
            }
            if field.is_empty() || field.split('.').any(str::is_empty) {
                return err(codes::L15998, "FieldPath field names may not be empty strings.");
            }
            out.keys.push(Key { path: Path::parse(field), descending: direction < 0, text_score: false });
        }
        Ok(out)
    }

    /// `Some(1)` or `Some(-1)` for `{$natural: 1 | -1}`: return documents in
    /// (reverse) storage order instead of sorting.
    pub fn is_natural(&self) -> Option<i32> {
        if self.keys.is_empty() {
            self.natural
        } else {
            None
        }
    }

    /// The sort keys as (dotted path, descending), in order (a text score
    /// key ends the list: no index provides it).
    pub fn fields(&self) -> impl Iterator<Item = (&str, bool)> {
        self.keys.iter().take_while(|k| !k.text_score).map(|k| (k.path.dotted.as_str(), k.descending))
    }

    /// Whether the sort has a `{$meta: "textScore"}` key.
    pub fn uses_text_score(&self) -> bool {
        self.keys.iter().any(|k| k.text_score)
    }

    /// The top-level fields the sort reads.
    pub fn dependencies(&self) -> crate::deps::Deps {
        let mut deps = crate::deps::Deps::fields_of(
            self.keys.iter().filter(|k| !k.text_score).map(|k| k.path.parts[0].name.as_str()),
        );
        if self.uses_text_score() {
            deps.add_field(crate::text::SCORE_KEY);
        }
        deps
    }

    /// True when there is nothing to sort by.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The sort key of a document: one value per key.
    /// A text score key reads the score the document carries (inside a
    /// pipeline, see [`crate::text`]).
    pub fn sort_key(&self, doc: &Document) -> Vec<Bson> {
        self.sort_key_scored(doc, crate::text::carried_score(doc))
    }

    /// The sort key of a document whose text score is `score`.
    pub fn sort_key_scored(&self, doc: &Document, score: Option<f64>) -> Vec<Bson> {
        self.keys
            .iter()
            .map(|k| {
                if k.text_score {
                    score.map_or(Bson::Null, Bson::Double)
                } else {
                    key_value(doc, &k.path.parts, k.descending)
                }
            })
            .collect()
    }

    /// Compares two sort keys produced by [`SortSpec::sort_key`].
    pub fn compare_keys(&self, a: &[Bson], b: &[Bson]) -> Ordering {
        for ((x, y), key) in a.iter().zip(b.iter()).zip(self.keys.iter()) {
            let ord = compare(x, y);
            let ord = if key.descending { ord.reverse() } else { ord };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    }

    /// Compares two documents in this order.
    pub fn compare_docs(&self, a: &Document, b: &Document) -> Ordering {
        if self.uses_text_score() {
            return self.compare_keys(&self.sort_key(a), &self.sort_key(b));
        }
        for key in &self.keys {
            let x = key_value(a, &key.path.parts, key.descending);
            let y = key_value(b, &key.path.parts, key.descending);
            let ord = compare(&x, &y);
            let ord = if key.descending { ord.reverse() } else { ord };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    }

    /// Sorts documents in place (stable), computing each key once.
    pub fn sort(&self, docs: &mut Vec<Document>) {
        if self.keys.is_empty() {
            if self.natural == Some(-1) {
                docs.reverse();
            }
            return;
        }
        let mut keyed: Vec<(Vec<Bson>, Document)> = docs.drain(..).map(|d| (self.sort_key(&d), d)).collect();
        keyed.sort_by(|a, b| self.compare_keys(&a.0, &b.0));
        docs.extend(keyed.into_iter().map(|(_, d)| d));
    }

    /// The first `limit` documents in this order (a bounded sort: memory
    /// proportional to `limit`, not to the input).
    pub fn top_k(&self, docs: impl Iterator<Item = Document>, limit: usize) -> Vec<Document> {
        if limit == 0 {
            return Vec::new();
        }
        // Keep a buffer of at most 2*limit, trimming it when full.
        let mut buf: Vec<(Vec<Bson>, usize, Document)> = Vec::new();
        for (seq, d) in docs.enumerate() {
            buf.push((self.sort_key(&d), seq, d));
            if buf.len() >= limit.saturating_mul(2).max(64) {
                buf.sort_by(|a, b| self.compare_keys(&a.0, &b.0).then(a.1.cmp(&b.1)));
                buf.truncate(limit);
            }
        }
        buf.sort_by(|a, b| self.compare_keys(&a.0, &b.0).then(a.1.cmp(&b.1)));
        buf.truncate(limit);
        buf.into_iter().map(|(_, _, d)| d).collect()
    }
}

/// The value a document sorts by for one key.
fn key_value(doc: &Document, parts: &[Part], descending: bool) -> Bson {
    let mut best: Option<&Bson> = None;
    let mut saw_null = false;
    let mut saw_empty_array = false;
    collect(doc, parts, &mut |v| match v {
        SortValue::Missing => saw_null = true,
        SortValue::EmptyArray => saw_empty_array = true,
        SortValue::Value(v) => {
            let better = match best {
                None => true,
                Some(b) => {
                    let ord = compare(v, b);
                    if descending {
                        ord.is_gt()
                    } else {
                        ord.is_lt()
                    }
                }
            };
            if better {
                best = Some(v);
            }
        }
    });
    // Missing sorts as null, and an empty array below null.
    let mut candidates: Vec<Bson> = Vec::with_capacity(3);
    if let Some(b) = best {
        candidates.push(b.clone());
    }
    if saw_null {
        candidates.push(Bson::Null);
    }
    if saw_empty_array {
        candidates.push(Bson::Undefined);
    }
    let pick = if descending {
        candidates.into_iter().max_by(compare)
    } else {
        candidates.into_iter().min_by(compare)
    };
    pick.unwrap_or(Bson::Null)
}

enum SortValue<'a> {
    Missing,
    EmptyArray,
    Value(&'a Bson),
}

fn collect<'a>(doc: &'a Document, parts: &[Part], f: &mut dyn FnMut(SortValue<'a>)) {
    let Some(v) = doc.get(&parts[0].name) else {
        f(SortValue::Missing);
        return;
    };
    collect_value(v, &parts[1..], f);
}

fn collect_value<'a>(v: &'a Bson, rest: &[Part], f: &mut dyn FnMut(SortValue<'a>)) {
    if rest.is_empty() {
        match v {
            Bson::Array(items) if items.is_empty() => f(SortValue::EmptyArray),
            Bson::Array(items) => items.iter().for_each(|i| f(SortValue::Value(i))),
            other => f(SortValue::Value(other)),
        }
        return;
    }
    match v {
        Bson::Document(d) => collect(d, rest, f),
        Bson::Array(items) => {
            if let Some(i) = rest[0].index {
                if let Some(item) = items.get(i) {
                    collect_value(item, &rest[1..], f);
                    return;
                }
            }
            if items.is_empty() {
                f(SortValue::Missing);
            }
            for item in items {
                match item {
                    Bson::Document(d) => collect(d, rest, f),
                    _ => f(SortValue::Missing),
                }
            }
        }
        _ => f(SortValue::Missing),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn arrays_sort_by_min_ascending_and_max_descending() {
        let s = SortSpec::parse(&doc! {"a": 1}).unwrap();
        assert_eq!(s.sort_key(&doc! {"a": [3, 1, 2]}), vec![Bson::Int32(1)]);
        let s = SortSpec::parse(&doc! {"a": -1}).unwrap();
        assert_eq!(s.sort_key(&doc! {"a": [3, 1, 2]}), vec![Bson::Int32(3)]);
        assert_eq!(s.sort_key(&doc! {}), vec![Bson::Null]);
    }

    #[test]
    fn bad_directions_are_rejected() {
        assert_eq!(SortSpec::parse(&doc! {"a": 2}).unwrap_err().code, 15975);
        assert_eq!(SortSpec::parse(&doc! {"a": "asc"}).unwrap_err().code, 15974);
    }
}
