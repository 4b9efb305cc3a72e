//! Extended JSON in and out, keeping field order.
//!
//! `bson`'s own conversions go through `serde_json::Value`, whose maps sort
//! their keys (this workspace does not enable `preserve_order`), so a
//! document would come back with its fields reordered and a sort spec such
//! as `{"b": 1, "a": -1}` would change meaning. Here, documents are read
//! field by field into a [`Document`] and written field by field; only the
//! small wrapper objects of Extended JSON (`{"$oid": ...}`, `{"$date": ...}`)
//! go through `bson`'s parser and printer.
//!
//! Reading accepts canonical and relaxed Extended JSON; plain integers
//! become `Int32` when they fit, else `Int64`. Writing is relaxed Extended
//! JSON, one document per line, with no spaces: what `export` and
//! `wal dump` print.

use std::fmt;
use std::io::Read;

use bson::{Bson, Document};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::error::{CliError, Result};

/// The keys that make an object an Extended JSON wrapper of one value.
/// (`$regex` is not one of them: it is also a query operator.)
const WRAPPER_KEYS: &[&str] = &[
    "$oid",
    "$symbol",
    "$numberInt",
    "$numberLong",
    "$numberDouble",
    "$numberDecimal",
    "$binary",
    "$uuid",
    "$code",
    "$scope",
    "$timestamp",
    "$regularExpression",
    "$dbPointer",
    "$date",
    "$minKey",
    "$maxKey",
    "$undefined",
];

/// A BSON value read from Extended JSON.
pub struct ExtBson(pub Bson);

impl<'de> Deserialize<'de> for ExtBson {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(ExtVisitor).map(ExtBson)
    }
}

struct ExtVisitor;

impl<'de> Visitor<'de> for ExtVisitor {
    type Value = Bson;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an Extended JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> std::result::Result<Bson, E> {
        Ok(Bson::Boolean(v))
    }

    fn visit_i64<E>(self, v: i64) -> std::result::Result<Bson, E> {
        Ok(i32::try_from(v).map(Bson::Int32).unwrap_or(Bson::Int64(v)))
    }

    fn visit_u64<E>(self, v: u64) -> std::result::Result<Bson, E> {
        Ok(match (i32::try_from(v), i64::try_from(v)) {
            (Ok(i), _) => Bson::Int32(i),
            (_, Ok(l)) => Bson::Int64(l),
            _ => Bson::Double(v as f64),
        })
    }

    fn visit_f64<E>(self, v: f64) -> std::result::Result<Bson, E> {
        Ok(Bson::Double(v))
    }

    fn visit_str<E>(self, v: &str) -> std::result::Result<Bson, E> {
        Ok(Bson::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> std::result::Result<Bson, E> {
        Ok(Bson::String(v))
    }

    fn visit_unit<E>(self) -> std::result::Result<Bson, E> {
        Ok(Bson::Null)
    }

    fn visit_none<E>(self) -> std::result::Result<Bson, E> {
        Ok(Bson::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Bson, A::Error> {
        let mut out = Vec::new();
        while let Some(ExtBson(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Bson::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Bson, A::Error> {
        let mut doc = Document::new();
        // Once a wrapper key shows up, the whole object is handed to bson's
        // Extended JSON parser (its fields in any order).
        let mut wrapper: Option<serde_json::Map<String, serde_json::Value>> = None;
        while let Some(key) = map.next_key::<String>()? {
            match wrapper.as_mut() {
                Some(w) => {
                    w.insert(key, map.next_value()?);
                }
                None if WRAPPER_KEYS.contains(&key.as_str()) => {
                    let mut w: serde_json::Map<String, serde_json::Value> = std::mem::take(&mut doc)
                        .into_iter()
                        .map(|(k, v)| (k, v.into_canonical_extjson()))
                        .collect();
                    w.insert(key, map.next_value()?);
                    wrapper = Some(w);
                }
                None => {
                    let ExtBson(v) = map.next_value()?;
                    doc.insert(key, v);
                }
            }
        }
        match wrapper {
            Some(w) => Bson::try_from(serde_json::Value::Object(w)).map_err(de::Error::custom),
            None => Ok(Bson::Document(doc)),
        }
    }
}

/// Parses one Extended JSON value.
pub fn parse_value(text: &str) -> Result<Bson> {
    let mut de = serde_json::Deserializer::from_str(text);
    let ExtBson(v) = ExtBson::deserialize(&mut de)?;
    de.end()?;
    Ok(v)
}

/// Parses an Extended JSON object (a filter, a sort, a document).
pub fn parse_document(text: &str, what: &str) -> Result<Document> {
    match parse_value(text) {
        Ok(Bson::Document(d)) => Ok(d),
        Ok(other) => Err(CliError::new(format!("{what} must be a JSON object, not {other}"))),
        Err(e) => Err(CliError::new(format!("{what} is not valid JSON: {e}"))),
    }
}

/// Reads JSON values one after another (JSON lines, or any whitespace
/// between values).
pub fn stream<R: Read>(reader: R) -> impl Iterator<Item = Result<Bson>> {
    serde_json::Deserializer::from_reader(reader)
        .into_iter::<ExtBson>()
        .map(|r| r.map(|ExtBson(v)| v).map_err(CliError::from))
}

/// Relaxed Extended JSON text of a value, on one line, fields in order.
pub fn to_json(value: &Bson) -> String {
    let mut out = String::new();
    write_json(value, &mut out);
    out
}

/// Relaxed Extended JSON text of a document, on one line, fields in order.
pub fn doc_to_json(doc: &Document) -> String {
    let mut out = String::new();
    write_doc(doc, &mut out);
    out
}

fn write_doc(doc: &Document, out: &mut String) {
    out.push('{');
    for (i, (k, v)) in doc.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::Value::String(k.clone()).to_string());
        out.push(':');
        write_json(v, out);
    }
    out.push('}');
}

fn write_json(value: &Bson, out: &mut String) {
    match value {
        Bson::Document(d) => write_doc(d, out),
        Bson::Array(a) => {
            out.push('[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.clone().into_relaxed_extjson().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{doc, oid::ObjectId};

    #[test]
    fn documents_keep_their_field_order() {
        let d = parse_document(r#"{"b": 1, "a": {"z": true, "y": null}, "c": [1, "x"]}"#, "doc").unwrap();
        assert_eq!(d, doc! {"b": 1, "a": {"z": true, "y": Bson::Null}, "c": [1, "x"]});
        assert_eq!(doc_to_json(&d), r#"{"b":1,"a":{"z":true,"y":null},"c":[1,"x"]}"#);
    }

    #[test]
    fn numbers_take_the_smallest_bson_type() {
        assert_eq!(parse_value("-5").unwrap(), Bson::Int32(-5));
        assert_eq!(parse_value("5000000000").unwrap(), Bson::Int64(5_000_000_000));
        assert_eq!(parse_value("2.5").unwrap(), Bson::Double(2.5));
        assert_eq!(parse_value(r#"{"$numberLong": "7"}"#).unwrap(), Bson::Int64(7));
    }

    #[test]
    fn wrappers_become_bson_values() {
        let oid = ObjectId::parse_str("65a1b2c3d4e5f60718293a4b").unwrap();
        let d = parse_document(
            r#"{"_id": {"$oid": "65a1b2c3d4e5f60718293a4b"}, "at": {"$date": "2024-01-02T03:04:05Z"}, "n": {"$gt": 3}}"#,
            "doc",
        )
        .unwrap();
        assert_eq!(d.get_object_id("_id").unwrap(), oid);
        assert_eq!(d.get_datetime("at").unwrap().timestamp_millis(), 1_704_164_645_000);
        assert_eq!(d.get_document("n").unwrap(), &doc! {"$gt": 3});
        // And back: what export prints re-imports to the same document.
        assert_eq!(parse_document(&doc_to_json(&d), "doc").unwrap(), d);
    }

    #[test]
    fn bad_json_is_an_error() {
        assert!(parse_document("{", "--filter").unwrap_err().to_string().contains("--filter"));
        assert!(parse_document("[1]", "--filter").is_err());
    }
}
