//! Sort: compound keys, directions, MongoDB's array rule (ascending by the
//! smallest element, descending by the largest), missing as null, empty
//! arrays first, $natural; and a property test that output is sorted.

mod common;

use std::cmp::Ordering;

use argon_query::SortSpec;
use bson::{doc, Bson, Document};
use common::*;
use proptest::prelude::*;

fn sorted_ids(spec: Document, mut docs: Vec<Document>) -> Vec<String> {
    SortSpec::parse(&spec).unwrap().sort(&mut docs);
    docs.iter().map(id_of).collect()
}

#[test]
fn array_rule_and_missing() {
    let docs = vec![
        doc! {"_id": "arr", "a": [3, 1]},
        doc! {"_id": "two", "a": 2},
        doc! {"_id": "null", "a": null},
        doc! {"_id": "missing"},
        doc! {"_id": "empty", "a": []},
        doc! {"_id": "str", "a": "x"},
    ];
    assert_eq!(sorted_ids(doc! {"a": 1}, docs.clone()), ["empty", "null", "missing", "arr", "two", "str"]);
    assert_eq!(sorted_ids(doc! {"a": -1}, docs), ["str", "arr", "two", "null", "missing", "empty"]);
}

#[test]
fn compound_keys_and_dotted_paths() {
    let docs = vec![
        doc! {"_id": "a", "x": 1, "y": {"z": 5}},
        doc! {"_id": "b", "x": 1, "y": {"z": 9}},
        doc! {"_id": "c", "x": 0, "y": {"z": 7}},
        doc! {"_id": "d", "x": 1.0, "y": [{"z": 1}, {"z": 10}]},
    ];
    assert_eq!(sorted_ids(doc! {"x": 1, "y.z": -1}, docs.clone()), ["c", "d", "b", "a"]);
    assert_eq!(sorted_ids(doc! {"x": -1, "y.z": 1}, docs.clone()), ["d", "a", "b", "c"]);
    assert_eq!(sorted_ids(doc! {"y.z": 1}, docs), ["d", "a", "c", "b"]);
}

#[test]
fn mixed_types_follow_bson_order() {
    let docs = vec![
        doc! {"_id": "bool", "a": true},
        doc! {"_id": "str", "a": "s"},
        doc! {"_id": "num", "a": 1.5},
        doc! {"_id": "oid", "a": oid("000000000000000000000000")},
        doc! {"_id": "obj", "a": {"k": 1}},
        doc! {"_id": "null", "a": null},
        doc! {"_id": "date", "a": date(0)},
    ];
    assert_eq!(sorted_ids(doc! {"a": 1}, docs), ["null", "num", "str", "obj", "oid", "bool", "date"]);
}

#[test]
fn natural_and_errors() {
    assert_eq!(SortSpec::parse(&doc! {"$natural": -1}).unwrap().is_natural(), Some(-1));
    assert_eq!(SortSpec::parse(&doc! {"a": 1}).unwrap().is_natural(), None);
    run_error_cases(
        &[
            err_case(
                "bad direction",
                doc! {"a": 2},
                15975,
                "$sort key ordering must be 1 (for ascending) or -1 (for descending)",
            ),
            err_case(
                "string direction",
                doc! {"a": "asc"},
                15974,
                "Illegal key in $sort specification: a: \"asc\"",
            ),
            err_case(
                "object",
                doc! {"a": {"x": 1}},
                17312,
                "$meta is the only expression supported by $sort right now",
            ),
        ],
        SortSpec::parse,
    );
}

#[test]
fn top_k_equals_sort_then_limit() {
    let docs: Vec<Document> = (0..500).map(|i| doc! {"_id": i, "k": (i * 7919) % 101}).collect();
    let spec = SortSpec::parse(&doc! {"k": -1}).unwrap();
    let mut full = docs.clone();
    spec.sort(&mut full);
    full.truncate(25);
    assert_eq!(spec.top_k(docs.into_iter(), 25), full);
}

fn field_value() -> impl Strategy<Value = Option<Bson>> {
    let scalar = prop_oneof![
        Just(Bson::Null),
        (-5i32..5).prop_map(Bson::Int32),
        (-5i64..5).prop_map(Bson::Int64),
        (-5.0f64..5.0).prop_map(Bson::Double),
        "[a-c]{0,2}".prop_map(Bson::String),
        any::<bool>().prop_map(Bson::Boolean),
    ];
    prop_oneof![
        Just(None),
        scalar.clone().prop_map(Some),
        prop::collection::vec(scalar, 0..4).prop_map(|v| Some(Bson::Array(v))),
    ]
}

proptest! {
    #[test]
    fn sort_output_is_sorted(values in prop::collection::vec((field_value(), field_value()), 0..20), desc in any::<bool>()) {
        let docs: Vec<Document> = values.into_iter().enumerate().map(|(i, (a, b))| {
            let mut d = doc! {"_id": i as i32};
            if let Some(a) = a { d.insert("a", a); }
            if let Some(b) = b { d.insert("b", doc! {"c": b}); }
            d
        }).collect();
        let spec = SortSpec::parse(&doc! {"a": if desc { -1 } else { 1 }, "b.c": 1}).unwrap();
        let mut sorted = docs.clone();
        spec.sort(&mut sorted);
        prop_assert_eq!(sorted.len(), docs.len());
        for w in sorted.windows(2) {
            prop_assert_ne!(spec.compare_docs(&w[0], &w[1]), Ordering::Greater);
        }
    }
}
