//! Secondary index keys: which index entries a document version has.
//!
//! An index entry key is the index's key values, each encoded with
//! [`keycodec`] (inverted for descending fields), followed by the encoded
//! `_id`. An array value makes the index multikey (one entry per element);
//! a missing field indexes as `null`, except in a sparse index, which skips
//! documents missing every indexed field. A partial index keeps only
//! documents matching its `partialFilterExpression`, evaluated here with the
//! operators MongoDB allows in one (equality, `$exists`, `$gt`, `$gte`,
//! `$lt`, `$lte`, `$type`, `$in`, `$and`, `$or`).
//!
//! Index entries are versioned exactly like documents (see [`crate::keys`]):
//! `timeline | index id | entry key | LSN descending` → present/absent.

use std::collections::BTreeSet;
use std::sync::Arc;

use argon_types::collation::Collation;
use argon_types::keycodec;
use bson::{Bson, Document};

/// One field of an index key pattern.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyField {
    pub path: String,
    pub descending: bool,
}

/// A parsed index definition.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexDef {
    pub fields: Vec<KeyField>,
    pub unique: bool,
    pub sparse: bool,
    pub partial: Option<Document>,
    /// The index's collation (`None`: simple): string key values are
    /// stored as its sort keys, so its unique check and its order follow it.
    pub collation: Option<Arc<Collation>>,
}

impl IndexDef {
    /// Reads `{key, unique, sparse, partialFilterExpression}` from a spec.
    pub fn from_spec(spec: &Document) -> IndexDef {
        let fields = spec
            .get_document("key")
            .map(|k| {
                k.iter()
                    .map(|(path, dir)| KeyField {
                        path: path.clone(),
                        descending: matches!(dir, Bson::Int32(d) if *d < 0)
                            || matches!(dir, Bson::Int64(d) if *d < 0)
                            || matches!(dir, Bson::Double(d) if *d < 0.0),
                    })
                    .collect()
            })
            .unwrap_or_default();
        IndexDef {
            fields,
            unique: spec.get_bool("unique").unwrap_or(false),
            sparse: spec.get_bool("sparse").unwrap_or(false),
            partial: spec.get_document("partialFilterExpression").ok().cloned(),
            // (createIndexes checked the document; a spec stored by an
            // older version has none.)
            collation: spec.get_document("collation").ok().and_then(|c| Collation::parse(c).ok().flatten()),
        }
    }

    /// The encoded key values (without `_id`) of a document: one per index
    /// entry (several for a multikey document, none if it is not indexed).
    pub fn key_values(&self, doc: &Document) -> BTreeSet<Vec<u8>> {
        let mut out = BTreeSet::new();
        if let Some(p) = &self.partial {
            if !matches_partial(doc, p) {
                return out;
            }
        }
        let per_field: Vec<Vec<Bson>> = self.fields.iter().map(|f| values_at(doc, &f.path)).collect();
        if self.sparse && per_field.iter().all(|v| v.is_empty()) {
            return out;
        }
        // Cartesian product of the fields' values (missing indexes as null).
        let mut keys: Vec<Vec<u8>> = vec![Vec::new()];
        for (field, values) in self.fields.iter().zip(per_field) {
            let values = if values.is_empty() { vec![Bson::Null] } else { values };
            let mut next = Vec::with_capacity(keys.len() * values.len());
            for k in &keys {
                for v in &values {
                    let mut k = k.clone();
                    self.encode_into(field.descending, v, &mut k);
                    next.push(k);
                }
            }
            keys = next;
        }
        out.extend(keys);
        out
    }

    /// Whether the document has an array on one of the key paths (at the
    /// end or in the middle): then it may have several entries, and the
    /// index becomes multikey.
    pub fn has_array(&self, doc: &Document) -> bool {
        self.fields.iter().any(|f| {
            let parts: Vec<&str> = f.path.split('.').collect();
            parts
                .split_first()
                .is_some_and(|(first, rest)| doc.get(*first).is_some_and(|v| array_on(v, rest)))
        })
    }

    /// The encoding of one field value in this index's order.
    pub fn encode_field(&self, field: usize, v: &Bson) -> Vec<u8> {
        let mut k = Vec::new();
        self.encode_into(self.fields.get(field).is_some_and(|f| f.descending), v, &mut k);
        k
    }

    fn encode_into(&self, descending: bool, v: &Bson, out: &mut Vec<u8>) {
        let collation = self.collation.as_deref();
        if descending {
            keycodec::encode_desc_into_collated(v, out, collation);
        } else {
            keycodec::encode_into_collated(v, out, collation);
        }
    }
}

/// An index entry key: key values then `_id`.
pub fn entry_key(key_values: &[u8], id: &Bson) -> Vec<u8> {
    let mut k = key_values.to_vec();
    keycodec::encode_into(id, &mut k);
    k
}

/// Values at a dotted path, with MongoDB's implicit array traversal: an
/// array at the end of the path contributes its elements (multikey); an
/// array in the middle is traversed element by element; a numeric
/// component indexes into an array.
pub fn values_at(doc: &Document, path: &str) -> Vec<Bson> {
    let mut out = Vec::new();
    let parts: Vec<&str> = path.split('.').collect();
    collect(&Bson::Document(doc.clone()), &parts, &mut out);
    out
}

fn collect(v: &Bson, parts: &[&str], out: &mut Vec<Bson>) {
    let Some((first, rest)) = parts.split_first() else {
        match v {
            Bson::Array(items) if items.is_empty() => out.push(Bson::Undefined),
            Bson::Array(items) => out.extend(items.iter().cloned()),
            v => out.push(v.clone()),
        }
        return;
    };
    match v {
        Bson::Document(d) => {
            if let Some(child) = d.get(*first) {
                collect(child, rest, out);
            }
        }
        Bson::Array(items) => {
            if let Ok(i) = first.parse::<usize>() {
                if let Some(child) = items.get(i) {
                    collect(child, rest, out);
                }
            }
            for item in items {
                if let Bson::Document(_) = item {
                    collect(item, parts, out);
                }
            }
        }
        _ => {}
    }
}

fn array_on(v: &Bson, rest: &[&str]) -> bool {
    match v {
        Bson::Array(_) => true,
        Bson::Document(d) => {
            rest.split_first().is_some_and(|(first, rest)| d.get(*first).is_some_and(|c| array_on(c, rest)))
        }
        _ => false,
    }
}

/// Evaluates a partial filter expression.
pub fn matches_partial(doc: &Document, filter: &Document) -> bool {
    filter.iter().all(|(k, cond)| match k.as_str() {
        "$and" => cond
            .as_array()
            .is_some_and(|a| a.iter().all(|c| c.as_document().is_some_and(|c| matches_partial(doc, c)))),
        "$or" => cond
            .as_array()
            .is_some_and(|a| a.iter().any(|c| c.as_document().is_some_and(|c| matches_partial(doc, c)))),
        path => {
            let values = values_at(doc, path);
            match cond {
                Bson::Document(ops) if ops.keys().next().is_some_and(|k| k.starts_with('$')) => {
                    ops.iter().all(|(op, arg)| field_matches(&values, op, arg))
                }
                eq => field_matches(&values, "$eq", eq),
            }
        }
    })
}

fn field_matches(values: &[Bson], op: &str, arg: &Bson) -> bool {
    let cmp = |v: &Bson| {
        (keycodec::type_class(v) == keycodec::type_class(arg))
            .then(|| keycodec::encode(v).cmp(&keycodec::encode(arg)))
    };
    use std::cmp::Ordering::*;
    match op {
        "$exists" => {
            let want = !matches!(arg, Bson::Boolean(false) | Bson::Int32(0) | Bson::Int64(0) | Bson::Null);
            values.is_empty() != want
        }
        "$eq" => {
            if matches!(arg, Bson::Null) {
                return values.is_empty() || values.iter().any(|v| matches!(v, Bson::Null));
            }
            values.iter().any(|v| cmp(v) == Some(Equal))
        }
        "$gt" => values.iter().any(|v| cmp(v) == Some(Greater)),
        "$gte" => values.iter().any(|v| matches!(cmp(v), Some(Greater | Equal))),
        "$lt" => values.iter().any(|v| cmp(v) == Some(Less)),
        "$lte" => values.iter().any(|v| matches!(cmp(v), Some(Less | Equal))),
        "$in" => arg.as_array().is_some_and(|a| a.iter().any(|x| field_matches(values, "$eq", x))),
        "$type" => values.iter().any(|v| type_matches(v, arg)),
        _ => false,
    }
}

fn type_matches(v: &Bson, t: &Bson) -> bool {
    let name = match v {
        Bson::Double(_) => "double",
        Bson::String(_) => "string",
        Bson::Document(_) => "object",
        Bson::Array(_) => "array",
        Bson::Boolean(_) => "bool",
        Bson::Int32(_) => "int",
        Bson::Int64(_) => "long",
        Bson::ObjectId(_) => "objectId",
        Bson::DateTime(_) => "date",
        Bson::Null => "null",
        _ => "other",
    };
    match t {
        Bson::String(s) if s == "number" => {
            matches!(v, Bson::Double(_) | Bson::Int32(_) | Bson::Int64(_) | Bson::Decimal128(_))
        }
        Bson::String(s) => s == name,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn multikey_sparse_and_partial() {
        let def = IndexDef::from_spec(&doc! {"key": {"tags": 1}});
        assert_eq!(def.key_values(&doc! {"tags": ["a", "b", "a"]}).len(), 2);
        assert_eq!(def.key_values(&doc! {"x": 1}).len(), 1, "missing indexes as null");
        let sparse = IndexDef::from_spec(&doc! {"key": {"tags": 1}, "sparse": true});
        assert!(sparse.key_values(&doc! {"x": 1}).is_empty());
        let partial =
            IndexDef::from_spec(&doc! {"key": {"a": 1}, "partialFilterExpression": {"n": {"$gt": 5}}});
        assert!(partial.key_values(&doc! {"a": 1, "n": 3}).is_empty());
        assert_eq!(partial.key_values(&doc! {"a": 1, "n": 7}).len(), 1);
        let compound = IndexDef::from_spec(&doc! {"key": {"a.b": 1, "c": -1}});
        assert_eq!(compound.key_values(&doc! {"a": [{"b": 1}, {"b": 2}], "c": 3}).len(), 2);
    }

    #[test]
    fn arrays_on_a_key_path_make_a_document_multikey() {
        let def = IndexDef::from_spec(&doc! {"key": {"a.b": 1, "c": -1}});
        assert!(!def.has_array(&doc! {"a": {"b": 1}, "c": 2}));
        assert!(!def.has_array(&doc! {"x": [1, 2]}), "arrays off the key paths do not count");
        assert!(!def.has_array(&doc! {"a": {"x": [1]}, "c": {"d": [1]}}));
        assert!(def.has_array(&doc! {"a": {"b": []}}), "an empty array is one at the end");
        assert!(def.has_array(&doc! {"a": [{"b": 1}]}), "an array in the middle");
        assert!(def.has_array(&doc! {"a": [1]}), "an array where a document was expected");
        assert!(def.has_array(&doc! {"c": [3, 4]}), "the second field");
    }

    #[test]
    fn descending_fields_invert_order() {
        let def = IndexDef::from_spec(&doc! {"key": {"n": -1}});
        let k1 = def.key_values(&doc! {"n": 1}).into_iter().next().unwrap();
        let k2 = def.key_values(&doc! {"n": 2}).into_iter().next().unwrap();
        assert!(k2 < k1);
    }
}
