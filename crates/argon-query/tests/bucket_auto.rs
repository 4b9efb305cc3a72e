//! `$bucketAuto`: even splits, equal values kept together, granularity
//! rounding, and the stage's errors.

mod common;

use argon_query::pipeline::{NoCollections, Pipeline};
use argon_query::{QueryError, Result};
use bson::{doc, Bson, Document};
use common::*;

fn run_on(docs: Vec<Document>, stage: Document) -> Result<Vec<Document>> {
    let ctx = NoCollections { now: bson::DateTime::from_millis(0) };
    Pipeline::parse(&[stage])?.run(Box::new(docs.into_iter()), &ctx)
}

fn ok(docs: Vec<Document>, stage: Document) -> Vec<Document> {
    run_on(docs, stage.clone()).unwrap_or_else(|e| panic!("{stage}: {e}"))
}

/// Documents `{_id: i, v: value}` in this order.
fn values(vs: &[Bson]) -> Vec<Document> {
    vs.iter().enumerate().map(|(i, v)| doc! {"_id": i as i32, "v": v.clone()}).collect()
}

fn ints(vs: &[i32]) -> Vec<Document> {
    values(&vs.iter().map(|v| Bson::Int32(*v)).collect::<Vec<_>>())
}

fn bucket(min: impl Into<Bson>, max: impl Into<Bson>, count: i32) -> Document {
    doc! {"_id": {"min": min.into(), "max": max.into()}, "count": count}
}

#[test]
fn splits_sorted_values_evenly_and_the_last_bucket_takes_the_rest() {
    // Unsorted input: buckets follow the sorted values.
    let out =
        ok(ints(&[7, 1, 10, 4, 2, 9, 3, 8, 5, 6]), doc! {"$bucketAuto": {"groupBy": "$v", "buckets": 3}});
    assert_eq!(out, vec![bucket(1, 4, 3), bucket(4, 7, 3), bucket(7, 10, 4)]);
}

#[test]
fn equal_values_never_straddle_buckets() {
    let out = ok(ints(&[1, 1, 1, 1, 2, 3]), doc! {"$bucketAuto": {"groupBy": "$v", "buckets": 3}});
    assert_eq!(out, vec![bucket(1, 2, 4), bucket(2, 3, 2)]);
}

#[test]
fn fewer_distinct_values_than_buckets_give_fewer_buckets() {
    let out = ok(ints(&[5, 7, 5, 7, 5]), doc! {"$bucketAuto": {"groupBy": "$v", "buckets": 4}});
    assert_eq!(out, vec![bucket(5, 7, 3), bucket(7, 7, 2)]);
    // More buckets than documents: one document each.
    let out = ok(ints(&[3, 1]), doc! {"$bucketAuto": {"groupBy": "$v", "buckets": 5}});
    assert_eq!(out, vec![bucket(1, 3, 1), bucket(3, 3, 1)]);
    // One bucket holds everything.
    let out = ok(ints(&[3, 1, 2]), doc! {"$bucketAuto": {"groupBy": "$v", "buckets": 1}});
    assert_eq!(out, vec![bucket(1, 3, 3)]);
}

#[test]
fn empty_input_gives_no_buckets() {
    assert!(ok(Vec::new(), doc! {"$bucketAuto": {"groupBy": "$v", "buckets": 3}}).is_empty());
}

#[test]
fn output_accumulators_replace_the_default_count() {
    let out = ok(
        ints(&[30, 10, 20, 40]),
        doc! {"$bucketAuto": {
            "groupBy": "$v",
            "buckets": 2,
            "output": {"ids": {"$push": "$_id"}, "total": {"$sum": "$v"}, "avg": {"$avg": "$v"}},
        }},
    );
    assert_eq!(
        out,
        vec![
            doc! {"_id": {"min": 10, "max": 30}, "ids": [1, 2], "total": 30, "avg": 15.0},
            doc! {"_id": {"min": 30, "max": 40}, "ids": [0, 3], "total": 70, "avg": 35.0},
        ]
    );
}

#[test]
fn missing_groups_with_null_and_types_sort_in_bson_order() {
    let docs =
        vec![doc! {"_id": 0, "v": "b"}, doc! {"_id": 1}, doc! {"_id": 2, "v": 5}, doc! {"_id": 3, "v": null}];
    let out = ok(docs, doc! {"$bucketAuto": {"groupBy": "$v", "buckets": 2}});
    assert_eq!(out, vec![bucket(Bson::Null, 5, 2), bucket(5, "b", 2)]);
}

#[test]
fn granularity_rounds_boundaries_to_the_series() {
    let vs: Vec<i32> = (0..10).map(|i| 15 + 10 * i).collect();
    let out = ok(ints(&vs), doc! {"$bucketAuto": {"groupBy": "$v", "buckets": 3, "granularity": "1-2-5"}});
    assert_eq!(out, vec![bucket(10.0, 50.0, 4), bucket(50.0, 100.0, 5), bucket(100.0, 200.0, 1)]);
    let out = ok(
        ints(&[1, 2, 3, 4, 5, 6, 7, 8]),
        doc! {"$bucketAuto": {"groupBy": "$v", "buckets": 2, "granularity": "POWERSOF2"}},
    );
    assert_eq!(out, vec![bucket(0.5, 8, 7), bucket(8, 16, 1)]);
    let out = ok(
        ints(&[100, 200, 300, 400]),
        doc! {"$bucketAuto": {"groupBy": "$v", "buckets": 2, "granularity": "R5"}},
    );
    assert_eq!(out, vec![bucket(63.0, 250.0, 2), bucket(250.0, 630.0, 2)]);
}

#[test]
fn granularity_needs_non_negative_numbers() {
    let g = |v: Bson| {
        run_on(
            values(&[Bson::Int32(1), v]),
            doc! {"$bucketAuto": {"groupBy": "$v", "buckets": 2, "granularity": "E6"}},
        )
    };
    assert_error(
        g(Bson::String("x".into())),
        40258,
        "Location40258",
        "$bucketAuto can specify a 'granularity' with numeric boundaries only, but found a value with type: string",
    );
    assert_error(
        g(Bson::Double(f64::NAN)),
        40259,
        "Location40259",
        "$bucketAuto can specify a 'granularity' with numeric boundaries only, but found a NaN",
    );
    assert_error(
        g(Bson::Int32(-1)),
        40260,
        "Location40260",
        "$bucketAuto can specify a 'granularity' with non-negative numbers only, but found a negative number",
    );
}

#[test]
fn parse_errors() {
    let parse = |stages: &Document| -> std::result::Result<Pipeline, QueryError> {
        let list: Vec<Document> =
            stages.get_array("p").unwrap().iter().map(|s| s.as_document().unwrap().clone()).collect();
        Pipeline::parse(&list)
    };
    run_error_cases(
        &[
            err_case("not an object", doc! {"p": [{"$bucketAuto": 1}]}, 40240, "The argument to $bucketAuto must be an object, but found type: int"),
            err_case("groupBy not a path", doc! {"p": [{"$bucketAuto": {"groupBy": "v", "buckets": 2}}]}, 40239, "The $bucketAuto 'groupBy' field must be defined as a $-prefixed path or an expression object, but found: \"v\""),
            err_case("groupBy object literal", doc! {"p": [{"$bucketAuto": {"groupBy": {"a": "$v"}, "buckets": 2}}]}, 40239, "The $bucketAuto 'groupBy' field must be defined as a $-prefixed path or an expression object, but found: { a: \"$v\" }"),
            err_case("buckets type", doc! {"p": [{"$bucketAuto": {"groupBy": "$v", "buckets": "2"}}]}, 40241, "The $bucketAuto 'buckets' field must be a numeric value, but found type: string"),
            err_case("buckets fraction", doc! {"p": [{"$bucketAuto": {"groupBy": "$v", "buckets": 2.5}}]}, 40242, "The $bucketAuto 'buckets' field must be representable as a 32-bit integer, but found 2.5"),
            err_case("buckets zero", doc! {"p": [{"$bucketAuto": {"groupBy": "$v", "buckets": 0}}]}, 40243, "The $bucketAuto 'buckets' field must be greater than 0, but found: 0"),
            err_case("output type", doc! {"p": [{"$bucketAuto": {"groupBy": "$v", "buckets": 2, "output": 1}}]}, 40244, "The $bucketAuto 'output' field must be an object, but found type: int"),
            err_case("granularity type", doc! {"p": [{"$bucketAuto": {"groupBy": "$v", "buckets": 2, "granularity": 5}}]}, 40261, "The $bucketAuto 'granularity' field must be a string, but found type: int"),
            err_case("unknown granularity", doc! {"p": [{"$bucketAuto": {"groupBy": "$v", "buckets": 2, "granularity": "R7"}}]}, 40257, "Unknown rounding granularity 'R7'"),
            err_case("unknown option", doc! {"p": [{"$bucketAuto": {"groupBy": "$v", "buckets": 2, "boundaries": [1]}}]}, 40245, "Unrecognized option to $bucketAuto: boundaries"),
            err_case("no buckets", doc! {"p": [{"$bucketAuto": {"groupBy": "$v"}}]}, 40246, "$bucketAuto requires 'groupBy' and 'buckets' to be specified"),
            err_case("bad accumulator", doc! {"p": [{"$bucketAuto": {"groupBy": "$v", "buckets": 2, "output": {"n": {"$foo": 1}}}}]}, 15952, "unknown group operator '$foo'"),
        ],
        parse,
    );
}
