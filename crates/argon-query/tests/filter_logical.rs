//! Logical query operators ($and, $or, $nor, $not), $expr, $comment, and
//! the parse errors of top-level operators.

mod common;

use argon_query::Filter;
use bson::doc;
use common::*;

#[test]
fn logical_operators() {
    let data = all_docs();
    let gt_40 = &["int", "long", "double", "double-frac", "decimal", "array-one", "array-three"];
    run_filter_cases(
        &data,
        &[
            case(
                "$and",
                doc! {"$and": [{"v": {"$gt": 40}}, {"v": {"$type": "double"}}]},
                &["double", "double-frac"],
            ),
            case(
                "implicit and",
                doc! {"v": {"$gt": 40}, "_id": {"$regex": "^d"}},
                &["double", "double-frac", "decimal"],
            ),
            case("$or", doc! {"$or": [{"v": "foo"}, {"v": false}]}, &["string", "bool-false", "array-three"]),
            case("$nor", doc! {"$nor": [{"v": {"$exists": true}}, {"_id": "int"}]}, &["missing"]),
            case_ids("$not", doc! {"v": {"$not": {"$gt": 40}}}, all_except(&data, gt_40)),
            case(
                "$not regex",
                doc! {"_id": {"$not": regex("-", "")}},
                &[
                    "int", "long", "double", "decimal", "string", "null", "missing", "date", "objectid",
                    "regex", "minkey", "maxkey", "doc",
                ],
            ),
            case(
                "nested $or in $and",
                doc! {"$and": [{"$or": [{"v": 42}, {"v": "foo"}]}, {"_id": {"$regex": "array"}}]},
                &["array-one", "array-three"],
            ),
            case(
                "$comment is ignored",
                doc! {"v": 42, "$comment": "hello"},
                &["int", "long", "double", "decimal", "array-one", "array-three"],
            ),
            case("$alwaysFalse", doc! {"$alwaysFalse": 1}, &[]),
        ],
    );
}

#[test]
fn expr() {
    let data =
        vec![doc! {"_id": "a", "x": 5, "y": 3}, doc! {"_id": "b", "x": 1, "y": 3}, doc! {"_id": "c", "x": 4}];
    run_filter_cases(
        &data,
        &[
            case("compares fields", doc! {"$expr": {"$gt": ["$x", "$y"]}}, &["a", "c"]),
            case("arithmetic", doc! {"$expr": {"$eq": [{"$add": ["$x", 1]}, 2]}}, &["b"]),
            case("truthiness of a value", doc! {"$expr": "$y"}, &["a", "b"]),
            case("with other conditions", doc! {"$expr": {"$lt": ["$x", 5]}, "y": 3}, &["b"]),
        ],
    );
    // Evaluation errors surface through try_matches.
    let f = Filter::parse(&doc! {"$expr": {"$divide": ["$x", 0]}}).unwrap();
    assert_error(f.try_matches(&data[0]), 2, "BadValue", "can't $divide by zero");
    assert!(!f.matches(&data[0]));
}

#[test]
fn top_level_errors() {
    run_error_cases(
        &[
            err_case(
                "unknown top level operator",
                doc! {"$foo": 1},
                2,
                "unknown top level operator: $foo. If you have a field name that starts with a '$' symbol, consider using $getField or $setField.",
            ),
            err_case("$and empty", doc! {"$and": []}, 2, "$and/$or/$nor must be a nonempty array"),
            err_case("$or not an array", doc! {"$or": {}}, 2, "$or must be an array"),
            err_case("$nor entries", doc! {"$nor": [1]}, 2, "$or/$and/$nor entries need to be full objects"),
            err_case("$not empty", doc! {"v": {"$not": {}}}, 2, "$not cannot be empty"),
            err_case("$not scalar", doc! {"v": {"$not": 1}}, 2, "$not needs a regex or a document"),
            err_case("$not with a field", doc! {"v": {"$not": {"a": 1}}}, 2, "unknown operator: a"),
            err_case("unknown expression", doc! {"$expr": {"$foo": 1}}, 168, "Unrecognized expression '$foo'"),
            err_case("$expr under a field", doc! {"v": {"$expr": 1}}, 2, "unknown operator: $expr"),
            err_case(
                "$expr inside $elemMatch",
                doc! {"v": {"$elemMatch": {"a": 1, "$expr": {"$eq": [1, 1]}}}},
                2,
                "$expr can only be applied to the top-level document",
            ),
            err_case("$where on a field", doc! {"v": {"$where": "x"}}, 2, "$where cannot be applied to a field"),
            err_case("$alwaysTrue value", doc! {"$alwaysTrue": 2}, 9, "$alwaysTrue must be an integer value of 1"),
        ],
        Filter::parse,
    );
}

#[test]
fn equality_fields_for_upserts() {
    let f = Filter::parse(&doc! {
        "a": 1,
        "b": {"$eq": 2},
        "c": {"$gt": 1},
        "$and": [{"d.e": 3}],
        "f": {"$in": [5]},
        "g": {"$in": [5, 6]},
        "$or": [{"h": 1}],
    })
    .unwrap();
    let got: Vec<(String, bson::Bson)> = f.equality_fields();
    assert_eq!(
        got,
        vec![
            ("a".into(), bson::Bson::Int32(1)),
            ("b".into(), bson::Bson::Int32(2)),
            ("d.e".into(), bson::Bson::Int32(3)),
            ("f".into(), bson::Bson::Int32(5)),
        ]
    );
}

#[test]
fn sample_rate_keeps_about_that_share() {
    let docs: Vec<bson::Document> = (0..4000).map(|i| bson::doc! {"_id": i}).collect();
    let count = |p: f64| {
        let f = argon_query::Filter::parse(&bson::doc! {"$sampleRate": p}).unwrap();
        docs.iter().filter(|d| f.matches(d)).count()
    };
    assert_eq!(count(0.0), 0);
    assert_eq!(count(1.0), 4000);
    let half = count(0.5);
    assert!((1700..2300).contains(&half), "{half} of 4000 at 0.5");
    for bad in [bson::bson!(1.5), bson::bson!(-0.1), bson::bson!("x")] {
        let e = argon_query::Filter::parse(&bson::doc! {"$sampleRate": bad}).unwrap_err();
        assert_eq!(e.code, 2);
    }
    assert!(argon_query::Filter::parse(&bson::doc! {"a": {"$elemMatch": {"$sampleRate": 0.5}}}).is_err());
}
