//! MongoDB's total order over BSON values.
//!
//! Values of different types order by their canonical type class
//! (MinKey < undefined < null < numbers < strings and symbols < objects <
//! arrays < binData < ObjectId < bool < date < timestamp < regex < DBPointer
//! < code < code with scope < MaxKey); values of the same class order by
//! value. Numbers compare by mathematical value across int32, int64, double
//! and decimal128, and NaN sorts below every other number.
//!
//! This order agrees exactly with [`argon_types::keycodec`]: the sign of
//! `compare(a, b)` is the bytewise order of `encode(a)` and `encode(b)`
//! (a property test in `tests/compare_order.rs` guards this). Like the key
//! codec, decimal128 values are compared through their nearest `f64`.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::sync::Arc;

use argon_types::collation::Collation;
use argon_types::keycodec::{self, type_class};
use bson::{Bson, Decimal128, Document};

thread_local! {
    /// The collation of the operation running on this thread, if any.
    static ACTIVE: RefCell<Option<Arc<Collation>>> = const { RefCell::new(None) };
    /// Whether `ACTIVE` holds one: a plain flag, so the common binary case
    /// costs one thread-local load (a `RefCell` with a destructor costs
    /// far more per comparison; measured in benches/engine.rs).
    static ANY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with `collation` deciding every string comparison made through
/// this module on this thread (filters, sorts, groups, sets, expressions):
/// MongoDB applies an operation's collation to all of them, but not to
/// field names or regular expressions. `None` is the simple (binary)
/// collation. `f` must not yield to other tasks (no `.await` inside), or
/// they would compare under this collation too.
pub fn with_collation<R>(collation: Option<&Arc<Collation>>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Arc<Collation>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            ANY.with(|any| any.set(previous.is_some()));
            ACTIVE.with(|a| *a.borrow_mut() = previous);
        }
    }
    ANY.with(|any| any.set(collation.is_some()));
    let _restore = Restore(ACTIVE.with(|a| a.replace(collation.cloned())));
    f()
}

/// The collation in effect on this thread ([`with_collation`]).
pub fn active_collation() -> Option<Arc<Collation>> {
    if !ANY.with(std::cell::Cell::get) {
        return None;
    }
    ACTIVE.with(|a| a.borrow().clone())
}

/// The key codec's encoding under the active collation: equal for values
/// [`compare`] finds equal, so it can key hash maps and sets.
pub fn value_key(v: &Bson) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    value_key_into(v, &mut out);
    out
}

/// [`value_key`] appended to `out`.
pub fn value_key_into(v: &Bson, out: &mut Vec<u8>) {
    if !ANY.with(std::cell::Cell::get) {
        return keycodec::encode_into(v, out);
    }
    ACTIVE.with(|a| keycodec::encode_into_collated(v, out, a.borrow().as_deref()))
}

/// Two strings in the active collation's order (binary without one).
#[inline]
pub fn compare_strings(x: &str, y: &str) -> Ordering {
    if !ANY.with(std::cell::Cell::get) {
        return x.as_bytes().cmp(y.as_bytes());
    }
    ACTIVE.with(|a| match a.borrow().as_deref() {
        Some(c) => c.compare(x, y),
        None => x.as_bytes().cmp(y.as_bytes()),
    })
}

/// Compares two values in MongoDB's BSON order.
pub fn compare(a: &Bson, b: &Bson) -> Ordering {
    let (ca, cb) = (type_class(a), type_class(b));
    if ca != cb {
        return ca.cmp(&cb);
    }
    compare_same_class(a, b)
}

/// True when MongoDB considers the two values equal (`1 == 1.0 == 1i64`).
pub fn values_equal(a: &Bson, b: &Bson) -> bool {
    compare(a, b) == Ordering::Equal
}

/// True when the two values would be stored as the same bytes: same types,
/// fields in the same order, doubles bit for bit (a NaN is itself, -0.0 is
/// not 0.0). What MongoDB compares to decide that an update changed
/// nothing; `==` on `Bson` is not that (NaN differs from itself, -0.0
/// equals 0.0, and documents compare as unordered maps).
pub fn identical(a: &Bson, b: &Bson) -> bool {
    match (a, b) {
        (Bson::Double(x), Bson::Double(y)) => x.to_bits() == y.to_bits(),
        (Bson::Document(x), Bson::Document(y)) => identical_documents(x, y),
        (Bson::Array(x), Bson::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| identical(x, y))
        }
        _ => a == b,
    }
}

/// [`identical`] for documents.
pub fn identical_documents(a: &bson::Document, b: &bson::Document) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|((ka, va), (kb, vb))| ka == kb && identical(va, vb))
}

/// Compares two documents field by field (type, then name, then value).
pub fn compare_documents(a: &Document, b: &Document) -> Ordering {
    let mut ia = a.iter();
    let mut ib = b.iter();
    loop {
        match (ia.next(), ib.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some((ka, va)), Some((kb, vb))) => {
                let ord = type_class(va)
                    .cmp(&type_class(vb))
                    .then_with(|| ka.as_bytes().cmp(kb.as_bytes()))
                    .then_with(|| compare_same_class(va, vb));
                if ord != Ordering::Equal {
                    return ord;
                }
            }
        }
    }
}

fn compare_arrays(a: &[Bson], b: &[Bson]) -> Ordering {
    for (x, y) in a.iter().zip(b.iter()) {
        let ord = compare(x, y);
        if ord != Ordering::Equal {
            return ord;
        }
    }
    a.len().cmp(&b.len())
}

/// Compares two values already known to be in the same type class.
fn compare_same_class(a: &Bson, b: &Bson) -> Ordering {
    match (a, b) {
        (Bson::String(x) | Bson::Symbol(x), Bson::String(y) | Bson::Symbol(y)) => compare_strings(x, y),
        (Bson::Document(x), Bson::Document(y)) => compare_documents(x, y),
        (Bson::Array(x), Bson::Array(y)) => compare_arrays(x, y),
        (Bson::Binary(x), Bson::Binary(y)) => x
            .bytes
            .len()
            .cmp(&y.bytes.len())
            .then_with(|| u8::from(x.subtype).cmp(&u8::from(y.subtype)))
            .then_with(|| x.bytes.cmp(&y.bytes)),
        (Bson::ObjectId(x), Bson::ObjectId(y)) => x.bytes().cmp(&y.bytes()),
        (Bson::Boolean(x), Bson::Boolean(y)) => x.cmp(y),
        (Bson::DateTime(x), Bson::DateTime(y)) => x.timestamp_millis().cmp(&y.timestamp_millis()),
        (Bson::Timestamp(x), Bson::Timestamp(y)) => {
            x.time.cmp(&y.time).then_with(|| x.increment.cmp(&y.increment))
        }
        (Bson::RegularExpression(x), Bson::RegularExpression(y)) => x
            .pattern
            .as_str()
            .as_bytes()
            .cmp(y.pattern.as_str().as_bytes())
            .then_with(|| x.options.as_str().as_bytes().cmp(y.options.as_str().as_bytes())),
        (Bson::DbPointer(x), Bson::DbPointer(y)) => {
            // Same (debug-form) order as the key codec: the fields are private.
            format!("{x:?}").as_bytes().cmp(format!("{y:?}").as_bytes())
        }
        (Bson::JavaScriptCode(x), Bson::JavaScriptCode(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Bson::JavaScriptCodeWithScope(x), Bson::JavaScriptCodeWithScope(y)) => {
            x.code.as_bytes().cmp(y.code.as_bytes()).then_with(|| compare_documents(&x.scope, &y.scope))
        }
        _ => match (number_key(a), number_key(b)) {
            (Some(x), Some(y)) => x.cmp_key(&y),
            // MinKey, MaxKey, null and undefined: one value per class.
            _ => Ordering::Equal,
        },
    }
}

/// A number reduced to (nearest f64, exact integer remainder), the form the
/// key codec encodes, so integers beyond 2^53 still order exactly.
#[derive(Clone, Copy, Debug)]
pub(crate) enum NumberKey {
    NaN,
    Value(f64, i64),
}

impl NumberKey {
    fn cmp_key(&self, other: &NumberKey) -> Ordering {
        match (self, other) {
            (NumberKey::NaN, NumberKey::NaN) => Ordering::Equal,
            (NumberKey::NaN, _) => Ordering::Less,
            (_, NumberKey::NaN) => Ordering::Greater,
            (NumberKey::Value(fa, ra), NumberKey::Value(fb, rb)) => {
                fa.partial_cmp(fb).unwrap_or(Ordering::Equal).then_with(|| ra.cmp(rb))
            }
        }
    }
}

pub(crate) fn number_key(v: &Bson) -> Option<NumberKey> {
    match v {
        Bson::Int32(i) => Some(integer_key(*i as i64)),
        Bson::Int64(i) => Some(integer_key(*i)),
        Bson::Double(d) => Some(double_key(*d)),
        Bson::Decimal128(d) => Some(double_key(decimal_to_f64(d))),
        _ => None,
    }
}

fn integer_key(i: i64) -> NumberKey {
    let f = i as f64;
    let rem = i as i128 - f as i128;
    NumberKey::Value(if f == 0.0 { 0.0 } else { f }, rem as i64)
}

fn double_key(d: f64) -> NumberKey {
    if d.is_nan() {
        NumberKey::NaN
    } else {
        NumberKey::Value(if d == 0.0 { 0.0 } else { d }, 0)
    }
}

/// The nearest `f64` of a decimal128 (NaN when it cannot be read).
pub(crate) fn decimal_to_f64(d: &Decimal128) -> f64 {
    d.to_string().parse::<f64>().unwrap_or(f64::NAN)
}

/// True when the value is NaN (double or decimal).
pub(crate) fn is_nan(v: &Bson) -> bool {
    matches!(number_key(v), Some(NumberKey::NaN))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn numbers_compare_across_types() {
        assert_eq!(compare(&Bson::Int32(1), &Bson::Double(1.0)), Ordering::Equal);
        assert_eq!(compare(&Bson::Int64(2), &Bson::Double(1.5)), Ordering::Greater);
        assert_eq!(compare(&Bson::Double(f64::NAN), &Bson::Int32(i32::MIN)), Ordering::Less);
        assert_eq!(
            compare(&Bson::Int64((1 << 53) + 1), &Bson::Double(9007199254740992.0)),
            Ordering::Greater
        );
        let dec: Decimal128 = "2.5".parse().unwrap();
        assert_eq!(compare(&Bson::Decimal128(dec), &Bson::Double(2.5)), Ordering::Equal);
    }

    #[test]
    fn types_order_by_class_first() {
        assert_eq!(compare(&Bson::Int32(100), &Bson::String("".into())), Ordering::Less);
        assert_eq!(compare(&Bson::Null, &Bson::Int32(-5)), Ordering::Less);
        assert_eq!(compare(&Bson::Document(doc! {}), &Bson::Array(vec![])), Ordering::Less);
        assert_eq!(compare(&Bson::MaxKey, &Bson::Boolean(true)), Ordering::Greater);
    }
}
