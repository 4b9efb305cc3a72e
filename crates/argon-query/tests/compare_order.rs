//! BSON ordering: compare() is a total order that agrees with the key
//! codec's byte order, and orders types and numbers as MongoDB does.

mod common;

use std::cmp::Ordering;

use argon_query::{compare, values_equal};
use argon_types::keycodec::encode;
use bson::{doc, oid::ObjectId, spec::BinarySubtype, Binary, Bson, Document, Timestamp};
use common::*;
use proptest::prelude::*;

fn scalar() -> impl Strategy<Value = Bson> {
    prop_oneof![
        Just(Bson::Null),
        Just(Bson::Undefined),
        Just(Bson::MinKey),
        Just(Bson::MaxKey),
        any::<bool>().prop_map(Bson::Boolean),
        (-3i32..3).prop_map(Bson::Int32),
        any::<i32>().prop_map(Bson::Int32),
        prop_oneof![Just(i64::MAX), Just(i64::MIN), Just((1 << 53) + 1), any::<i64>()].prop_map(Bson::Int64),
        prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-0.0),
            Just(9007199254740992.0),
            (-3i32..3).prop_map(|i| i as f64 + 0.5),
            any::<f64>()
        ]
        .prop_map(Bson::Double),
        prop_oneof![Just("1"), Just("-2.5"), Just("NaN"), Just("1E+400"), Just("0.1")].prop_map(dec),
        "[a-c\\x00]{0,3}".prop_map(Bson::String),
        "[a-c]{0,2}".prop_map(Bson::Symbol),
        any::<i64>().prop_map(|m| Bson::DateTime(bson::DateTime::from_millis(m))),
        (any::<u32>(), 0u32..3).prop_map(|(time, increment)| Bson::Timestamp(Timestamp { time, increment })),
        any::<[u8; 12]>().prop_map(|b| Bson::ObjectId(ObjectId::from_bytes(b))),
        (prop::collection::vec(any::<u8>(), 0..3), 0u8..2).prop_map(|(bytes, st)| Bson::Binary(Binary {
            subtype: if st == 0 { BinarySubtype::Generic } else { BinarySubtype::Function },
            bytes
        })),
        ("[a-b]{0,2}", "[im]{0,1}").prop_map(|(p, o)| regex(&p, &o)),
        "[a-b]{0,2}".prop_map(Bson::JavaScriptCode),
    ]
}

fn value() -> impl Strategy<Value = Bson> {
    scalar().prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Bson::Array),
            prop::collection::vec(("[a-c]{0,2}", inner), 0..3).prop_map(|fields| {
                let mut d = Document::new();
                for (k, v) in fields {
                    d.insert(k, v);
                }
                Bson::Document(d)
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn compare_agrees_with_keycodec(a in value(), b in value()) {
        prop_assert_eq!(compare(&a, &b), encode(&a).cmp(&encode(&b)), "a={:?} b={:?}", a, b);
    }

    #[test]
    fn compare_is_antisymmetric_and_reflexive(a in value(), b in value()) {
        prop_assert_eq!(compare(&a, &b), compare(&b, &a).reverse());
        prop_assert_eq!(compare(&a, &a), Ordering::Equal);
        prop_assert_eq!(values_equal(&a, &b), encode(&a) == encode(&b));
    }

    #[test]
    fn compare_is_transitive(mut v in prop::collection::vec(value(), 3..8)) {
        v.sort_by(compare);
        for i in 0..v.len() {
            for j in i..v.len() {
                prop_assert_ne!(compare(&v[i], &v[j]), Ordering::Greater, "{:?} > {:?}", v[i], v[j]);
            }
        }
    }
}

#[test]
fn canonical_type_order() {
    let ordered = vec![
        Bson::MinKey,
        Bson::Undefined,
        Bson::Null,
        Bson::Double(f64::NAN),
        Bson::Int64(i64::MIN),
        Bson::Int32(-1),
        Bson::Double(0.5),
        Bson::Decimal128("1".parse().unwrap()),
        Bson::Int64(2),
        Bson::Double(f64::INFINITY),
        Bson::String("".into()),
        Bson::Symbol("a".into()),
        Bson::String("b".into()),
        Bson::Document(doc! {}),
        Bson::Document(doc! {"a": 1}),
        Bson::Array(vec![]),
        Bson::Array(vec![Bson::Int32(1)]),
        Bson::Binary(Binary { subtype: BinarySubtype::Generic, bytes: vec![9] }),
        Bson::Binary(Binary { subtype: BinarySubtype::Generic, bytes: vec![0, 0] }),
        Bson::ObjectId(ObjectId::from_bytes([0; 12])),
        Bson::Boolean(false),
        Bson::Boolean(true),
        Bson::DateTime(bson::DateTime::from_millis(-1)),
        Bson::DateTime(bson::DateTime::from_millis(0)),
        Bson::Timestamp(Timestamp { time: 0, increment: 5 }),
        Bson::Timestamp(Timestamp { time: 1, increment: 0 }),
        regex("a", ""),
        regex("a", "i"),
        Bson::JavaScriptCode("x".into()),
        Bson::MaxKey,
    ];
    for w in ordered.windows(2) {
        assert_eq!(compare(&w[0], &w[1]), Ordering::Less, "{:?} < {:?}", w[0], w[1]);
    }
}

#[test]
fn numbers_compare_by_value_across_types() {
    assert!(values_equal(&Bson::Int32(1), &Bson::Double(1.0)));
    assert!(values_equal(&Bson::Int64(1), &dec("1.0")));
    assert!(values_equal(&Bson::Double(-0.0), &Bson::Int32(0)));
    assert!(values_equal(&Bson::Double(f64::NAN), &dec("NaN")));
    assert_eq!(compare(&Bson::Int64((1 << 53) + 1), &Bson::Double((1u64 << 53) as f64)), Ordering::Greater);
    assert_eq!(compare(&Bson::Int64(i64::MAX), &Bson::Double(9.223_372_036_854_776e18)), Ordering::Less);
    // Documents compare field by field: type, then name, then value.
    assert_eq!(compare(&Bson::Document(doc! {"b": 1}), &Bson::Document(doc! {"a": "x"})), Ordering::Less);
    assert_eq!(
        compare(&Bson::Document(doc! {"a": 1, "b": 1}), &Bson::Document(doc! {"a": 1})),
        Ordering::Greater
    );
    assert!(values_equal(&Bson::Document(doc! {"a": 1}), &Bson::Document(doc! {"a": 1.0})));
}
