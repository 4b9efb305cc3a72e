//! Order-preserving byte encoding of BSON values.
//!
//! `encode(a) < encode(b)` (bytewise) exactly when MongoDB orders `a` before
//! `b`, and `encode(a) == encode(b)` exactly when MongoDB considers them equal
//! (so `1`, `1i64` and `1.0` encode the same). This lets an ordered key-value
//! engine keep documents in `_id` order and secondary index entries in index
//! order without decoding anything.
//!
//! Layout: one type-class byte in MongoDB's cross-type order, then a payload
//! that is prefix-free (fixed width, length-prefixed or terminated), so that
//! compound keys can be concatenated and a component can be inverted bitwise
//! for descending order ([`encode_desc_into`]).
//!
//! Known approximation: `Decimal128` values are ordered by their nearest
//! `f64`, so two decimals closer together than an `f64` can resolve compare
//! equal.

use crate::collation::Collation;
use bson::spec::BinarySubtype;
use bson::{Bson, Document};

/// Cross-type order classes (MongoDB's canonical type order).
mod class {
    pub const END: u8 = 0x00; // terminates objects and arrays
    pub const MIN_KEY: u8 = 0x05;
    pub const UNDEFINED: u8 = 0x08;
    pub const NULL: u8 = 0x0A;
    pub const NUMBER: u8 = 0x10;
    pub const STRING: u8 = 0x14;
    pub const OBJECT: u8 = 0x18;
    pub const ARRAY: u8 = 0x1C;
    pub const BIN_DATA: u8 = 0x20;
    pub const OBJECT_ID: u8 = 0x24;
    pub const BOOL: u8 = 0x28;
    pub const DATE: u8 = 0x2C;
    pub const TIMESTAMP: u8 = 0x30;
    pub const REGEX: u8 = 0x34;
    pub const DB_POINTER: u8 = 0x38;
    pub const JS_CODE: u8 = 0x3C;
    pub const JS_CODE_WITH_SCOPE: u8 = 0x40;
    pub const MAX_KEY: u8 = 0x7F;
}

/// Encodes one value.
pub fn encode(value: &Bson) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    encode_into(value, &mut out);
    out
}

/// Encodes one value in descending order (every byte inverted).
pub fn encode_desc_into(value: &Bson, out: &mut Vec<u8>) {
    encode_desc_into_collated(value, out, None);
}

/// [`encode_desc_into`] under a collation (see [`encode_into_collated`]).
pub fn encode_desc_into_collated(value: &Bson, out: &mut Vec<u8>, collation: Option<&Collation>) {
    let start = out.len();
    encode_into_collated(value, out, collation);
    for b in &mut out[start..] {
        *b = !*b;
    }
}

/// The type class byte of a value, in MongoDB's canonical type order.
pub fn type_class(value: &Bson) -> u8 {
    match value {
        Bson::MinKey => class::MIN_KEY,
        Bson::Undefined => class::UNDEFINED,
        Bson::Null => class::NULL,
        Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_) => class::NUMBER,
        Bson::String(_) | Bson::Symbol(_) => class::STRING,
        Bson::Document(_) => class::OBJECT,
        Bson::Array(_) => class::ARRAY,
        Bson::Binary(_) => class::BIN_DATA,
        Bson::ObjectId(_) => class::OBJECT_ID,
        Bson::Boolean(_) => class::BOOL,
        Bson::DateTime(_) => class::DATE,
        Bson::Timestamp(_) => class::TIMESTAMP,
        Bson::RegularExpression(_) => class::REGEX,
        Bson::DbPointer(_) => class::DB_POINTER,
        Bson::JavaScriptCode(_) => class::JS_CODE,
        Bson::JavaScriptCodeWithScope(_) => class::JS_CODE_WITH_SCOPE,
        Bson::MaxKey => class::MAX_KEY,
    }
}

/// Appends the encoding of `value` to `out`.
pub fn encode_into(value: &Bson, out: &mut Vec<u8>) {
    encode_into_collated(value, out, None);
}

/// Appends the encoding of `value` under a collation: strings (also inside
/// documents and arrays, but not field names) are encoded by their sort
/// keys, so strings the collation considers equal encode the same and
/// others order as the collation orders them. `None` is [`encode_into`].
pub fn encode_into_collated(value: &Bson, out: &mut Vec<u8>, collation: Option<&Collation>) {
    out.push(type_class(value));
    match value {
        Bson::MinKey | Bson::MaxKey | Bson::Null | Bson::Undefined => {}
        Bson::Int32(i) => encode_integer(*i as i64, out),
        Bson::Int64(i) => encode_integer(*i, out),
        Bson::Double(d) => encode_double(*d, out),
        Bson::Decimal128(d) => {
            let f = d.to_string().parse::<f64>().unwrap_or(f64::NAN);
            encode_double(f, out)
        }
        Bson::String(s) | Bson::Symbol(s) => match collation {
            None => encode_bytes(s.as_bytes(), out),
            Some(c) => {
                let mut key = Vec::with_capacity(s.len() * 2);
                c.sort_key_into(s, &mut key);
                encode_bytes(&key, out)
            }
        },
        Bson::Document(d) => encode_document_body(d, out, collation),
        Bson::Array(a) => {
            for v in a {
                encode_into_collated(v, out, collation);
            }
            out.push(class::END);
        }
        Bson::Binary(b) => {
            // MongoDB orders binData by length, then subtype, then bytes.
            out.extend_from_slice(&(b.bytes.len() as u32).to_be_bytes());
            out.push(u8::from(b.subtype));
            out.extend_from_slice(&b.bytes);
        }
        Bson::ObjectId(o) => out.extend_from_slice(&o.bytes()),
        Bson::Boolean(b) => out.push(*b as u8),
        Bson::DateTime(d) => out.extend_from_slice(&sortable_i64(d.timestamp_millis())),
        Bson::Timestamp(t) => {
            out.extend_from_slice(&t.time.to_be_bytes());
            out.extend_from_slice(&t.increment.to_be_bytes());
        }
        Bson::RegularExpression(r) => {
            encode_bytes(r.pattern.as_str().as_bytes(), out);
            encode_bytes(r.options.as_str().as_bytes(), out);
        }
        Bson::DbPointer(p) => {
            // The bson crate keeps DbPointer's fields private; its debug form
            // is stable enough to order by.
            encode_bytes(format!("{p:?}").as_bytes(), out);
        }
        Bson::JavaScriptCode(c) => encode_bytes(c.as_bytes(), out),
        Bson::JavaScriptCodeWithScope(c) => {
            encode_bytes(c.code.as_bytes(), out);
            encode_document_body(&c.scope, out, None);
        }
    }
}

/// MongoDB compares embedded documents field by field: type class, then
/// field name, then value.
fn encode_document_body(d: &Document, out: &mut Vec<u8>, collation: Option<&Collation>) {
    for (k, v) in d {
        out.push(type_class(v));
        encode_bytes(k.as_bytes(), out);
        let start = out.len();
        encode_into_collated(v, out, collation);
        // The class byte was already written before the name; drop the copy.
        out.remove(start);
    }
    out.push(class::END);
}

/// Escaped, terminated bytes: 0x00 becomes 0x00 0xFF and the string ends
/// with 0x00 0x00, so shorter prefixes sort first and the form is prefix-free.
fn encode_bytes(b: &[u8], out: &mut Vec<u8>) {
    for &c in b {
        out.push(c);
        if c == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

fn sortable_i64(i: i64) -> [u8; 8] {
    ((i as u64) ^ (1 << 63)).to_be_bytes()
}

fn sortable_f64(f: f64) -> [u8; 8] {
    let bits = f.to_bits();
    let key = if bits >> 63 == 1 { !bits } else { bits ^ (1 << 63) };
    key.to_be_bytes()
}

// Numbers: a marker byte (0 = NaN, which MongoDB orders below every number;
// 1 = any other number), the nearest f64, then the exact remainder of an
// integer that f64 cannot represent, so 2^53+1 (int64) sorts above 2^53.
fn encode_double(d: f64, out: &mut Vec<u8>) {
    if d.is_nan() {
        out.push(0);
        return;
    }
    let d = if d == 0.0 { 0.0 } else { d }; // -0.0 == 0.0
    out.push(1);
    out.extend_from_slice(&sortable_f64(d));
    out.extend_from_slice(&sortable_i64(0));
}

fn encode_integer(i: i64, out: &mut Vec<u8>) {
    let f = i as f64;
    let rem = i as i128 - f as i128;
    out.push(1);
    out.extend_from_slice(&sortable_f64(if f == 0.0 { 0.0 } else { f }));
    out.extend_from_slice(&sortable_i64(rem as i64));
}

/// Subtype helper for tests and callers building binData keys.
pub fn generic_binary(bytes: Vec<u8>) -> Bson {
    Bson::Binary(bson::Binary { subtype: BinarySubtype::Generic, bytes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{doc, oid::ObjectId, Bson};

    fn lt(a: Bson, b: Bson) {
        assert!(encode(&a) < encode(&b), "expected {a:?} < {b:?}");
    }
    fn eq(a: Bson, b: Bson) {
        assert_eq!(encode(&a), encode(&b), "expected {a:?} == {b:?}");
    }

    #[test]
    fn cross_type_order() {
        let ordered = vec![
            Bson::MinKey,
            Bson::Null,
            Bson::Int32(5),
            Bson::String("a".into()),
            Bson::Document(doc! {"a": 1}),
            Bson::Array(vec![Bson::Int32(1)]),
            generic_binary(vec![1]),
            Bson::ObjectId(ObjectId::new()),
            Bson::Boolean(false),
            Bson::DateTime(bson::DateTime::from_millis(0)),
            Bson::Timestamp(bson::Timestamp { time: 1, increment: 1 }),
            Bson::RegularExpression(bson::Regex {
                pattern: "a".to_string().try_into().unwrap(),
                options: String::new().try_into().unwrap(),
            }),
            Bson::MaxKey,
        ];
        for w in ordered.windows(2) {
            lt(w[0].clone(), w[1].clone());
        }
    }

    #[test]
    fn numbers_compare_by_value_across_types() {
        eq(Bson::Int32(1), Bson::Int64(1));
        eq(Bson::Int32(1), Bson::Double(1.0));
        eq(Bson::Double(0.0), Bson::Double(-0.0));
        lt(Bson::Double(f64::NAN), Bson::Double(f64::NEG_INFINITY));
        lt(Bson::Double(f64::NEG_INFINITY), Bson::Int64(i64::MIN));
        lt(Bson::Int32(-3), Bson::Double(-2.5));
        lt(Bson::Double(2.5), Bson::Int32(3));
        lt(Bson::Int64(1 << 53), Bson::Int64((1 << 53) + 1));
        lt(Bson::Double(9007199254740992.0), Bson::Int64((1 << 53) + 1));
        lt(Bson::Int64(i64::MAX - 1), Bson::Int64(i64::MAX));
        lt(Bson::Int64(i64::MAX), Bson::Double(f64::INFINITY));
    }

    #[test]
    fn strings_and_documents() {
        lt(Bson::String("a".into()), Bson::String("ab".into()));
        lt(Bson::String("a\0".into()), Bson::String("a\u{1}".into()));
        lt(Bson::String("ab".into()), Bson::String("b".into()));
        eq(Bson::String("x".into()), Bson::Symbol("x".into()));
        lt(Bson::Document(doc! {}), Bson::Document(doc! {"a": 1}));
        lt(Bson::Document(doc! {"a": 1}), Bson::Document(doc! {"a": 2}));
        lt(Bson::Document(doc! {"a": 5}), Bson::Document(doc! {"b": 1}));
        // type is compared before the field name
        lt(Bson::Document(doc! {"b": 1}), Bson::Document(doc! {"a": "x"}));
        eq(Bson::Document(doc! {"a": 1}), Bson::Document(doc! {"a": 1.0}));
        lt(Bson::Array(vec![]), Bson::Array(vec![Bson::MinKey]));
    }

    #[test]
    fn bin_data_orders_by_length_first() {
        lt(generic_binary(vec![9, 9]), generic_binary(vec![1, 1, 1]));
    }

    #[test]
    fn descending_inverts_order() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        encode_desc_into(&Bson::String("a".into()), &mut a);
        encode_desc_into(&Bson::String("ab".into()), &mut b);
        assert!(b < a);
    }

    proptest::proptest! {
        #[test]
        fn integer_order_matches(a: i64, b: i64) {
            let (ea, eb) = (encode(&Bson::Int64(a)), encode(&Bson::Int64(b)));
            proptest::prop_assert_eq!(a.cmp(&b), ea.cmp(&eb));
        }

        #[test]
        fn double_order_matches(a: f64, b: f64) {
            proptest::prop_assume!(!a.is_nan() && !b.is_nan());
            let (ea, eb) = (encode(&Bson::Double(a)), encode(&Bson::Double(b)));
            proptest::prop_assert_eq!(a.partial_cmp(&b).unwrap(), ea.cmp(&eb));
        }

        #[test]
        fn mixed_int_double_order_matches(a: i64, b: f64) {
            proptest::prop_assume!(!b.is_nan());
            let (ea, eb) = (encode(&Bson::Int64(a)), encode(&Bson::Double(b)));
            let exact = (a as i128 as f64).partial_cmp(&b).unwrap();
            // Compare exactly: a vs b using i128 where b is integral.
            let expected = if b.fract() == 0.0 && b.abs() < 1.7e38 {
                (a as i128).cmp(&(b as i128))
            } else { exact };
            proptest::prop_assert_eq!(expected, ea.cmp(&eb));
        }

        #[test]
        fn string_order_matches(a: String, b: String) {
            let (ea, eb) = (encode(&Bson::String(a.clone())), encode(&Bson::String(b.clone())));
            proptest::prop_assert_eq!(a.as_bytes().cmp(b.as_bytes()), ea.cmp(&eb));
        }
    }
}
