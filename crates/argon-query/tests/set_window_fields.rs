//! `$setWindowFields`: partitions, sortBy order, window functions over
//! document and range windows, and the stage's parse errors.

mod common;

use argon_query::pipeline::{NoCollections, Pipeline};
use argon_query::{QueryError, Result};
use bson::{doc, Bson, Document};
use common::*;

fn run_on(docs: Vec<Document>, stages: Vec<Document>) -> Result<Vec<Document>> {
    let ctx = NoCollections { now: bson::DateTime::from_millis(0) };
    Pipeline::parse(&stages)?.run(Box::new(docs.into_iter()), &ctx)
}

fn ok(docs: Vec<Document>, stage: Document) -> Vec<Document> {
    run_on(docs, vec![stage.clone()]).unwrap_or_else(|e| panic!("{stage}: {e}"))
}

/// One field of each output document, in output order.
fn column(out: &[Document], field: &str) -> Vec<Bson> {
    out.iter().map(|d| d.get(field).cloned().unwrap_or(Bson::String("<missing>".into()))).collect()
}

/// Parses the stages listed under `p` (an error case's input).
fn parse(stages: &Document) -> std::result::Result<Pipeline, QueryError> {
    let list: Vec<Document> =
        stages.get_array("p").unwrap().iter().map(|s| s.as_document().unwrap().clone()).collect();
    Pipeline::parse(&list)
}

fn ints(values: &[i32]) -> Vec<Bson> {
    values.iter().map(|v| Bson::Int32(*v)).collect()
}

fn sales() -> Vec<Document> {
    vec![
        doc! {"_id": 1, "state": "CA", "year": 2019, "qty": 10},
        doc! {"_id": 2, "state": "CA", "year": 2020, "qty": 20},
        doc! {"_id": 3, "state": "CA", "year": 2021, "qty": 20},
        doc! {"_id": 4, "state": "WA", "year": 2019, "qty": 5},
        doc! {"_id": 5, "state": "WA", "year": 2021, "qty": 7},
        doc! {"_id": 6, "state": "CA", "year": 2022, "qty": 30},
    ]
}

#[test]
fn running_totals_per_partition_in_partition_then_sort_order() {
    let out = ok(
        sales(),
        doc! {"$setWindowFields": {
            "partitionBy": "$state",
            "sortBy": {"year": 1},
            "output": {"total": {"$sum": "$qty", "window": {"documents": ["unbounded", "current"]}}},
        }},
    );
    assert_eq!(column(&out, "_id"), ints(&[1, 2, 3, 6, 4, 5]));
    assert_eq!(column(&out, "total"), ints(&[10, 30, 50, 80, 5, 12]));
    // The input documents are kept whole.
    assert_eq!(out[0], doc! {"_id": 1, "state": "CA", "year": 2019, "qty": 10, "total": 10});
}

#[test]
fn accumulators_default_to_the_whole_partition() {
    let out = ok(
        sales(),
        doc! {"$setWindowFields": {
            "partitionBy": "$state",
            "output": {
                "sum": {"$sum": "$qty"},
                "avg": {"$avg": "$qty"},
                "min": {"$min": "$qty"},
                "max": {"$max": "$qty"},
                "count": {"$count": {}},
                "all": {"$push": "$qty"},
                "set": {"$addToSet": "$qty"},
                "first": {"$first": "$qty"},
                "last": {"$last": "$qty"},
                "sd": {"$stdDevPop": "$qty"},
                "sds": {"$stdDevSamp": "$qty"},
            },
        }},
    );
    // Without sortBy a partition keeps its input order.
    assert_eq!(column(&out, "_id"), ints(&[1, 2, 3, 6, 4, 5]));
    let ca = &out[0];
    assert_eq!(ca.get("sum"), Some(&Bson::Int32(80)));
    assert_eq!(ca.get("avg"), Some(&Bson::Double(20.0)));
    assert_eq!((ca.get("min"), ca.get("max")), (Some(&Bson::Int32(10)), Some(&Bson::Int32(30))));
    assert_eq!(ca.get("count"), Some(&Bson::Int32(4)));
    assert_eq!(ca.get("all"), Some(&Bson::Array(ints(&[10, 20, 20, 30]))));
    assert_eq!(ca.get("set"), Some(&Bson::Array(ints(&[10, 20, 30]))));
    assert_eq!((ca.get("first"), ca.get("last")), (Some(&Bson::Int32(10)), Some(&Bson::Int32(30))));
    let close = |field: &str, want: f64| match ca.get(field) {
        Some(Bson::Double(x)) => assert!((x - want).abs() < 1e-9, "{field}: {x} != {want}"),
        other => panic!("{field}: {other:?}"),
    };
    close("sd", 50f64.sqrt());
    close("sds", (200.0f64 / 3.0).sqrt());
    // Every document of a partition gets the same value.
    assert_eq!(column(&out, "sum"), ints(&[80, 80, 80, 80, 12, 12]));
}

#[test]
fn no_partition_and_a_constant_partition_are_one_partition() {
    for partition in [None, Some(Bson::String("everything".into()))] {
        let mut spec = doc! {"output": {"n": {"$count": {}}}};
        if let Some(p) = &partition {
            spec.insert("partitionBy", p.clone());
        }
        let out = ok(sales(), doc! {"$setWindowFields": spec});
        assert_eq!(column(&out, "_id"), ints(&[1, 2, 3, 4, 5, 6]), "{partition:?}");
        assert_eq!(column(&out, "n"), ints(&[6; 6]), "{partition:?}");
    }
}

#[test]
fn empty_input_gives_nothing() {
    let out = ok(
        Vec::new(),
        doc! {"$setWindowFields": {"sortBy": {"a": 1}, "output": {"r": {"$rank": {}}, "s": {"$sum": 1}}}},
    );
    assert!(out.is_empty());
}

#[test]
fn ranks_share_ties() {
    let out = ok(
        sales(),
        doc! {"$setWindowFields": {
            "sortBy": {"qty": -1},
            "output": {"rank": {"$rank": {}}, "dense": {"$denseRank": {}}, "n": {"$documentNumber": {}}},
        }},
    );
    // Ties keep their input order.
    assert_eq!(column(&out, "_id"), ints(&[6, 2, 3, 1, 5, 4]));
    assert_eq!(column(&out, "rank"), ints(&[1, 2, 2, 4, 5, 6]));
    assert_eq!(column(&out, "dense"), ints(&[1, 2, 2, 3, 4, 5]));
    assert_eq!(column(&out, "n"), ints(&[1, 2, 3, 4, 5, 6]));
}

#[test]
fn ranks_restart_in_each_partition_and_treat_missing_as_null() {
    let docs = vec![
        doc! {"_id": 1, "g": 1, "v": 3},
        doc! {"_id": 2, "g": 2, "v": 1},
        doc! {"_id": 3, "g": 1},
        doc! {"_id": 4, "g": 1, "v": null},
        doc! {"_id": 5, "g": 1, "v": 3},
    ];
    let out = ok(
        docs,
        doc! {"$setWindowFields": {"partitionBy": "$g", "sortBy": {"v": 1}, "output": {"r": {"$rank": {}}}}},
    );
    assert_eq!(column(&out, "_id"), ints(&[3, 4, 1, 5, 2]));
    assert_eq!(column(&out, "r"), ints(&[1, 1, 3, 3, 1]));
}

#[test]
fn document_windows_stop_at_the_partition_edges() {
    let out = ok(
        sales(),
        doc! {"$setWindowFields": {
            "partitionBy": "$state",
            "sortBy": {"year": 1},
            "output": {
                "around": {"$sum": "$qty", "window": {"documents": [-1, 1]}},
                "ahead": {"$sum": "$qty", "window": {"documents": [1, 2]}},
                "before": {"$push": "$qty", "window": {"documents": [-2, -1]}},
                "rest": {"$push": "$_id", "window": {"documents": ["current", "unbounded"]}},
                "avg": {"$avg": "$qty", "window": {"documents": [1, 1]}},
            },
        }},
    );
    assert_eq!(column(&out, "around"), ints(&[30, 50, 70, 50, 12, 12]));
    assert_eq!(column(&out, "ahead"), ints(&[40, 50, 30, 0, 7, 0]));
    let arrays = |rows: &[&[i32]]| rows.iter().map(|r| Bson::Array(ints(r))).collect::<Vec<_>>();
    assert_eq!(column(&out, "before"), arrays(&[&[], &[10], &[10, 20], &[20, 20], &[], &[5]]));
    assert_eq!(column(&out, "rest"), arrays(&[&[1, 2, 3, 6], &[2, 3, 6], &[3, 6], &[6], &[4, 5], &[5]]));
    // An empty window: $avg gives null.
    assert_eq!(column(&out, "avg")[3], Bson::Null);
}

#[test]
fn range_windows_follow_the_sort_values() {
    let docs = vec![
        doc! {"_id": "a", "x": 1},
        doc! {"_id": "b", "x": 2},
        doc! {"_id": "c", "x": 2.0},
        doc! {"_id": "d", "x": 4},
        doc! {"_id": "e", "x": 7},
    ];
    let out = ok(
        docs.clone(),
        doc! {"$setWindowFields": {
            "sortBy": {"x": 1},
            "output": {
                "near": {"$count": {}, "window": {"range": [-1, 1]}},
                "upTo": {"$push": "$_id", "window": {"range": ["unbounded", "current"]}},
                "next": {"$count": {}, "window": {"range": [1, 3]}},
                "frac": {"$count": {}, "window": {"range": [-0.5, 0.5]}},
            },
        }},
    );
    assert_eq!(column(&out, "near"), ints(&[3, 3, 3, 1, 1]));
    let strings = |v: &[&str]| Bson::Array(v.iter().map(|s| Bson::String(s.to_string())).collect());
    assert_eq!(
        column(&out, "upTo"),
        vec![
            strings(&["a"]),
            strings(&["a", "b", "c"]),
            strings(&["a", "b", "c"]),
            strings(&["a", "b", "c", "d"]),
            strings(&["a", "b", "c", "d", "e"]),
        ]
    );
    assert_eq!(column(&out, "next"), ints(&[3, 1, 1, 1, 0]));
    assert_eq!(column(&out, "frac"), ints(&[1, 2, 2, 1, 1]));

    let mut with_string = docs;
    with_string.push(doc! {"_id": "f", "x": "seven"});
    assert_error(
        run_on(
            with_string,
            vec![
                doc! {"$setWindowFields": {"sortBy": {"x": 1}, "output": {"n": {"$count": {}, "window": {"range": [-1, 1]}}}}},
            ],
        ),
        5429414,
        "Location5429414",
        "Invalid range: Expected the sortBy field to be a number, but it was string",
    );
}

#[test]
fn date_range_windows_with_a_unit() {
    let day = 86_400_000i64;
    let at = |ms: i64| Bson::DateTime(bson::DateTime::from_millis(ms));
    let docs = vec![
        doc! {"_id": 1, "t": at(day), "v": 1},
        doc! {"_id": 2, "t": at(2 * day), "v": 2},
        doc! {"_id": 3, "t": at(5 * day), "v": 3},
    ];
    let out = ok(
        docs.clone(),
        doc! {"$setWindowFields": {
            "sortBy": {"t": 1},
            "output": {"s": {"$sum": "$v", "window": {"range": [-1, "current"], "unit": "day"}}},
        }},
    );
    assert_eq!(column(&out, "s"), ints(&[1, 3, 3]));
    // Months end on the last day of a shorter month.
    let jan31 = 1_612_051_200_000i64; // 2021-01-31
    let feb28 = jan31 + 28 * day;
    let mar31 = feb28 + 31 * day;
    let months = vec![
        doc! {"_id": 1, "t": at(jan31)},
        doc! {"_id": 2, "t": at(feb28)},
        doc! {"_id": 3, "t": at(mar31)},
    ];
    let out = ok(
        months,
        doc! {"$setWindowFields": {
            "sortBy": {"t": 1},
            "output": {"n": {"$count": {}, "window": {"range": [-1, 0], "unit": "month"}}},
        }},
    );
    assert_eq!(column(&out, "n"), ints(&[1, 2, 2]));
    // Dates need a unit, and a unit needs dates.
    let no_unit = doc! {"$setWindowFields": {"sortBy": {"t": 1}, "output": {"n": {"$count": {}, "window": {"range": [-1, 0]}}}}};
    assert_error(
        run_on(docs.clone(), vec![no_unit]),
        5429413,
        "Location5429413",
        "Invalid range: For windows that involve date or time ranges, a unit must be provided.",
    );
    let numbers = vec![doc! {"t": 1}];
    let with_unit = doc! {"$setWindowFields": {"sortBy": {"t": 1}, "output": {"n": {"$count": {}, "window": {"range": [-1, 0], "unit": "day"}}}}};
    assert_error(
        run_on(numbers, vec![with_unit]),
        5429513,
        "Location5429513",
        "Invalid range: Expected the sortBy field to be a Date, but it was int",
    );
}

#[test]
fn shift_and_locf() {
    let out = ok(
        sales(),
        doc! {"$setWindowFields": {
            "partitionBy": "$state",
            "sortBy": {"year": 1},
            "output": {
                "next": {"$shift": {"output": "$qty", "by": 1}},
                "nextOr": {"$shift": {"output": "$qty", "by": 1, "default": "none"}},
                "previous": {"$shift": {"output": "$qty", "by": -1}},
                "same": {"$shift": {"output": "$_id", "by": 0}},
            },
        }},
    );
    assert_eq!(column(&out, "next"), vec![20.into(), 20.into(), 30.into(), Bson::Null, 7.into(), Bson::Null]);
    assert_eq!(column(&out, "nextOr")[3], Bson::String("none".into()));
    assert_eq!(
        column(&out, "previous"),
        vec![Bson::Null, 10.into(), 20.into(), 20.into(), Bson::Null, 5.into()]
    );
    assert_eq!(column(&out, "same"), column(&out, "_id"));

    let readings = vec![
        doc! {"t": 1, "v": null},
        doc! {"t": 2, "v": 1},
        doc! {"t": 3, "v": null},
        doc! {"t": 4},
        doc! {"t": 5, "v": 4},
        doc! {"t": 6, "v": null},
    ];
    let out = ok(readings, doc! {"$setWindowFields": {"sortBy": {"t": 1}, "output": {"v": {"$locf": "$v"}}}});
    assert_eq!(column(&out, "v"), vec![Bson::Null, 1.into(), 1.into(), 1.into(), 4.into(), 4.into()]);
}

#[test]
fn derivative_and_integral() {
    let points = (0..4).map(|x| doc! {"x": x, "y": x * x}).collect::<Vec<_>>();
    let out = ok(
        points,
        doc! {"$setWindowFields": {
            "sortBy": {"x": 1},
            "output": {
                "slope": {"$derivative": {"input": "$y"}, "window": {"documents": [-1, 0]}},
                "area": {"$integral": {"input": "$y"}, "window": {"documents": ["unbounded", "current"]}},
                "total": {"$integral": {"input": "$y"}},
            },
        }},
    );
    assert_eq!(column(&out, "slope"), vec![Bson::Null, 1.0.into(), 3.0.into(), 5.0.into()]);
    assert_eq!(column(&out, "area"), vec![0.0.into(), 0.5.into(), 3.0.into(), 9.5.into()]);
    assert_eq!(column(&out, "total"), vec![Bson::Double(9.5); 4]);
    // Per hour over dates an hour apart.
    let hour = 3_600_000i64;
    let at = |ms: i64| Bson::DateTime(bson::DateTime::from_millis(ms));
    let out = ok(
        vec![doc! {"t": at(0), "km": 0}, doc! {"t": at(hour), "km": 50}],
        doc! {"$setWindowFields": {
            "sortBy": {"t": 1},
            "output": {"speed": {"$derivative": {"input": "$km", "unit": "hour"}, "window": {"documents": [-1, 0]}}},
        }},
    );
    assert_eq!(column(&out, "speed"), vec![Bson::Null, 50.0.into()]);
}

#[test]
fn partitions_group_missing_with_null_and_refuse_arrays() {
    let docs =
        vec![doc! {"_id": 1, "g": null}, doc! {"_id": 2}, doc! {"_id": 3, "g": 1}, doc! {"_id": 4, "g": 1.0}];
    let out = ok(docs, doc! {"$setWindowFields": {"partitionBy": "$g", "output": {"n": {"$count": {}}}}});
    assert_eq!(column(&out, "n"), ints(&[2, 2, 2, 2]));
    let out = ok(
        sales(),
        doc! {"$setWindowFields": {"partitionBy": {"$mod": ["$year", 2]}, "output": {"ids": {"$push": "$_id"}}}},
    );
    assert_eq!(column(&out, "_id"), ints(&[2, 6, 1, 3, 4, 5]));
    assert_error(
        run_on(
            vec![doc! {"g": [1]}],
            vec![doc! {"$setWindowFields": {"partitionBy": "$g", "output": {"n": {"$count": {}}}}}],
        ),
        14,
        "TypeMismatch",
        "An expression used to partition cannot evaluate to value of type array",
    );
}

#[test]
fn dotted_outputs_set_nested_fields() {
    let out = ok(
        vec![doc! {"_id": 1, "stats": {"keep": true}}],
        doc! {"$setWindowFields": {"output": {"stats.n": {"$count": {}}}}},
    );
    assert_eq!(out, vec![doc! {"_id": 1, "stats": {"keep": true, "n": 1}}]);
}

#[test]
fn parse_errors() {
    run_error_cases(
        &[
            err_case(
                "not an object",
                doc! {"p": [{"$setWindowFields": 1}]},
                9,
                "the $setWindowFields stage specification must be an object, found int",
            ),
            err_case(
                "no output",
                doc! {"p": [{"$setWindowFields": {"sortBy": {"a": 1}}}]},
                40414,
                "BSON field '$setWindowFields.output' is missing but a required field",
            ),
            err_case(
                "unknown field",
                doc! {"p": [{"$setWindowFields": {"output": {}, "x": 1}}]},
                40415,
                "BSON field '$setWindowFields.x' is an unknown field.",
            ),
            err_case(
                "sortBy type",
                doc! {"p": [{"$setWindowFields": {"sortBy": 1, "output": {}}}]},
                14,
                "BSON field '$setWindowFields.sortBy' is the wrong type 'int', expected type 'object'",
            ),
            err_case(
                "constant array partition",
                doc! {"p": [{"$setWindowFields": {"partitionBy": [1], "output": {}}}]},
                14,
                "An expression used to partition cannot evaluate to value of type array",
            ),
            err_case(
                "output not object",
                doc! {"p": [{"$setWindowFields": {"output": {"a": 1}}}]},
                9,
                "The field 'a' must be an object",
            ),
            err_case(
                "unknown function",
                doc! {"p": [{"$setWindowFields": {"output": {"a": {"$foo": 1}}}}]},
                9,
                "Unrecognized window function, $foo",
            ),
            err_case(
                "no function",
                doc! {"p": [{"$setWindowFields": {"output": {"a": {"window": {}}}}}]},
                9,
                "Expected a $-prefixed window function, window",
            ),
            err_case(
                "two functions",
                doc! {"p": [{"$setWindowFields": {"output": {"a": {"$sum": 1, "$max": 1}}}}]},
                9,
                "Cannot specify two functions in window function spec",
            ),
            err_case(
                "unknown argument",
                doc! {"p": [{"$setWindowFields": {"output": {"a": {"$sum": 1, "frame": 1}}}}]},
                9,
                "Window function found an unknown argument: frame",
            ),
            err_case(
                "conflicting paths",
                doc! {"p": [{"$setWindowFields": {"output": {"a": {"$sum": 1}, "a.b": {"$sum": 1}}}}]},
                6307900,
                "$setWindowFields 'output' specification contains two conflicting paths",
            ),
            err_case(
                "rank without sortBy",
                doc! {"p": [{"$setWindowFields": {"output": {"r": {"$rank": {}}}}}]},
                5371602,
                "$rank must be specified with a top level sortBy expression with exactly one element",
            ),
            err_case(
                "rank with two sort keys",
                doc! {"p": [{"$setWindowFields": {"sortBy": {"a": 1, "b": 1}, "output": {"r": {"$denseRank": {}}}}}]},
                5371602,
                "$denseRank must be specified with a top level sortBy expression with exactly one element",
            ),
            err_case(
                "rank with window",
                doc! {"p": [{"$setWindowFields": {"sortBy": {"a": 1}, "output": {"r": {"$rank": {}, "window": {}}}}}]},
                5371601,
                "Rank style window functions take no other arguments",
            ),
            err_case(
                "rank argument",
                doc! {"p": [{"$setWindowFields": {"sortBy": {"a": 1}, "output": {"r": {"$documentNumber": 1}}}}]},
                5371603,
                "$documentNumber must be specified with '{}' as the value",
            ),
            err_case(
                "documents without sortBy",
                doc! {"p": [{"$setWindowFields": {"output": {"s": {"$sum": 1, "window": {"documents": [-1, 0]}}}}}]},
                5339901,
                "Document-based bounds require a sortBy",
            ),
            err_case(
                "bounds backwards",
                doc! {"p": [{"$setWindowFields": {"sortBy": {"a": 1}, "output": {"s": {"$sum": 1, "window": {"documents": [2, 1]}}}}}]},
                5339900,
                "Lower bound must not exceed upper bound: [2, 1]",
            ),
            err_case(
                "bounds backwards from current",
                doc! {"p": [{"$setWindowFields": {"sortBy": {"a": 1}, "output": {"s": {"$sum": 1, "window": {"documents": ["current", -1]}}}}}]},
                5339900,
                "Lower bound must not exceed upper bound: [0, -1]",
            ),
            err_case(
                "bound word",
                doc! {"p": [{"$setWindowFields": {"sortBy": {"a": 1}, "output": {"s": {"$sum": 1, "window": {"documents": ["first", 0]}}}}}]},
                9,
                "Window bounds must be 'unbounded', 'current', or a number.",
            ),
            err_case(
                "fractional documents bound",
                doc! {"p": [{"$setWindowFields": {"sortBy": {"a": 1}, "output": {"s": {"$sum": 1, "window": {"documents": [-1.5, 0]}}}}}]},
                9,
                "Numeric document-based bounds must be an integer",
            ),
            err_case(
                "bounds not a pair",
                doc! {"p": [{"$setWindowFields": {"sortBy": {"a": 1}, "output": {"s": {"$sum": 1, "window": {"documents": [0]}}}}}]},
                9,
                "Window bounds must be a 2-element array: documents: [ 0 ]",
            ),
            err_case(
                "documents and range",
                doc! {"p": [{"$setWindowFields": {"sortBy": {"a": 1}, "output": {"s": {"$sum": 1, "window": {"documents": [0, 0], "range": [0, 0]}}}}}]},
                9,
                "Window bounds can specify either 'documents' or 'unit', not both.",
            ),
            err_case(
                "range without sortBy",
                doc! {"p": [{"$setWindowFields": {"output": {"s": {"$sum": 1, "window": {"range": [-1, 1]}}}}}]},
                5339902,
                "Range-based bounds require sortBy a single field",
            ),
            err_case(
                "range descending",
                doc! {"p": [{"$setWindowFields": {"sortBy": {"a": -1}, "output": {"s": {"$sum": 1, "window": {"range": [-1, 1]}}}}}]},
                8947401,
                "Range-based bounds require an ascending sortBy",
            ),
            err_case(
                "range bound type",
                doc! {"p": [{"$setWindowFields": {"sortBy": {"a": 1}, "output": {"s": {"$sum": 1, "window": {"range": [true, 1]}}}}}]},
                9,
                "Range-based bounds expression must be a number",
            ),
            err_case(
                "unit without range",
                doc! {"p": [{"$setWindowFields": {"sortBy": {"a": 1}, "output": {"s": {"$sum": 1, "window": {"documents": [0, 0], "unit": "day"}}}}}]},
                9,
                "Window bounds can only specify 'unit' with range-based bounds.",
            ),
            err_case(
                "unknown unit",
                doc! {"p": [{"$setWindowFields": {"sortBy": {"a": 1}, "output": {"s": {"$sum": 1, "window": {"range": [0, 0], "unit": "fortnight"}}}}}]},
                9,
                "unknown time unit value: fortnight",
            ),
            err_case(
                "shift by fraction",
                doc! {"p": [{"$setWindowFields": {"sortBy": {"a": 1}, "output": {"s": {"$shift": {"output": "$a", "by": 0.5}}}}}]},
                9,
                "'$shift:by' field must be an integer, but found  by: 0.5",
            ),
            err_case(
                "shift default not constant",
                doc! {"p": [{"$setWindowFields": {"sortBy": {"a": 1}, "output": {"s": {"$shift": {"output": "$a", "by": 1, "default": "$a"}}}}}]},
                9,
                "'$shift:default' expression must yield a constant value.",
            ),
            err_case(
                "shift without sortBy",
                doc! {"p": [{"$setWindowFields": {"output": {"s": {"$shift": {"output": "$a", "by": 1}}}}}]},
                9,
                "$shift requires a sortBy",
            ),
            err_case(
                "derivative without window",
                doc! {"p": [{"$setWindowFields": {"sortBy": {"a": 1}, "output": {"d": {"$derivative": {"input": "$b"}}}}}]},
                9,
                "$derivative requires explicit window bounds",
            ),
            err_case(
                "integral month",
                doc! {"p": [{"$setWindowFields": {"sortBy": {"a": 1}, "output": {"d": {"$integral": {"input": "$b", "unit": "month"}}}}}]},
                5490710,
                "unit must be 'week' or smaller",
            ),
        ],
        parse,
    );
}

/// The manual's `$expMovingAvg` example: MDB and MSFT prices by date.
fn stock_prices() -> Vec<Document> {
    let day = |d: i64| bson::DateTime::from_millis(1_589_832_000_000 + d * 86_400_000);
    vec![
        doc! {"stock": "MDB", "date": day(0), "price": 13},
        doc! {"stock": "MDB", "date": day(1), "price": 15.4},
        doc! {"stock": "MDB", "date": day(2), "price": 12},
        doc! {"stock": "MDB", "date": day(3), "price": 11.7},
        doc! {"stock": "MSFT", "date": day(0), "price": 82},
        doc! {"stock": "MSFT", "date": day(1), "price": 94},
        doc! {"stock": "MSFT", "date": day(2), "price": 112},
        doc! {"stock": "MSFT", "date": day(3), "price": 97.3},
    ]
}

fn close(got: &Bson, want: f64) -> bool {
    matches!(got, Bson::Double(g) if (g - want).abs() < 1e-9)
        || matches!(got, Bson::Int32(g) if *g as f64 == want)
}

#[test]
fn exp_moving_avg_by_n_and_by_alpha() {
    let stage = |arg: Document| {
        doc! {"$setWindowFields": {
            "partitionBy": "$stock", "sortBy": {"date": 1},
            "output": {"ema": {"$expMovingAvg": arg}},
        }}
    };
    // N: 2 is alpha 2/3: the manual's results.
    let out = ok(stock_prices(), stage(doc! {"input": "$price", "N": 2}));
    let want = [
        13.0,
        14.6,
        12.866666666666667,
        12.088888888888889,
        82.0,
        90.0,
        104.66666666666667,
        99.75555555555556,
    ];
    for (d, w) in out.iter().zip(want) {
        assert!(close(d.get("ema").unwrap(), w), "{d} want {w}");
    }
    // The first value is taken as it is (an int stays an int).
    assert_eq!(out[0].get("ema"), Some(&Bson::Int32(13)));
    let out = ok(stock_prices(), stage(doc! {"input": "$price", "alpha": 0.75}));
    let want = [13.0, 14.8, 12.7, 11.95, 82.0, 91.0, 106.75, 99.6625];
    for (d, w) in out.iter().zip(want) {
        assert!(close(d.get("ema").unwrap(), w), "{d} want {w}");
    }
}

#[test]
fn exp_moving_avg_skips_non_numbers_and_keeps_decimals() {
    let docs = vec![
        doc! {"t": 1, "v": "x"},
        doc! {"t": 2, "v": 10},
        doc! {"t": 3},
        doc! {"t": 4, "v": 20},
        doc! {"t": 5, "v": Bson::Null},
    ];
    let out = ok(
        docs,
        doc! {"$setWindowFields": {"sortBy": {"t": 1}, "output": {"e": {"$expMovingAvg": {"input": "$v", "alpha": 0.5}}}}},
    );
    assert_eq!(
        column(&out, "e"),
        vec![Bson::Null, Bson::Int32(10), Bson::Int32(10), Bson::Double(15.0), Bson::Double(15.0)]
    );
    let dec = |s: &str| Bson::Decimal128(s.parse().unwrap());
    let out = ok(
        vec![doc! {"t": 1, "v": 1}, doc! {"t": 2, "v": dec("3")}],
        doc! {"$setWindowFields": {"sortBy": {"t": 1}, "output": {"e": {"$expMovingAvg": {"input": "$v", "alpha": 0.5}}}}},
    );
    assert_eq!(out[1].get("e"), Some(&dec("2")));
}

#[test]
fn covariance_over_windows() {
    // y = 2x: cov(x, y) = 2 var(x).
    let docs: Vec<Document> = (1..=5).map(|x| doc! {"x": x, "y": 2 * x}).collect();
    let out = ok(
        docs.clone(),
        doc! {"$setWindowFields": {"sortBy": {"x": 1}, "output": {
            "pop": {"$covariancePop": ["$x", "$y"]},
            "samp": {"$covarianceSamp": ["$x", "$y"]},
            "running": {"$covarianceSamp": ["$x", "$y"], "window": {"documents": ["unbounded", "current"]}},
            "pair": {"$covariancePop": ["$x", "$y"], "window": {"documents": [-1, 0]}},
        }}},
    );
    // var_pop(1..5) = 2, var_samp = 2.5
    assert_eq!(column(&out, "pop"), vec![Bson::Double(4.0); 5]);
    assert_eq!(column(&out, "samp"), vec![Bson::Double(5.0); 5]);
    // Running sample covariance: null for one point, then 2·var_samp(1..k).
    assert_eq!(
        column(&out, "running"),
        vec![
            Bson::Null,
            Bson::Double(1.0),
            Bson::Double(2.0),
            Bson::Double(2.0 * 5.0 / 3.0),
            Bson::Double(5.0)
        ]
    );
    assert_eq!(
        column(&out, "pair"),
        vec![Bson::Double(0.0), Bson::Double(0.5), Bson::Double(0.5), Bson::Double(0.5), Bson::Double(0.5)]
    );
    // Non-numeric pairs are skipped; no pair at all is null.
    let out = ok(
        vec![doc! {"x": 1, "y": "a"}, doc! {"x": 2}, doc! {"x": 3, "y": 3}, doc! {"x": 5, "y": 7}],
        doc! {"$setWindowFields": {"output": {"c": {"$covariancePop": ["$x", "$y"]}, "none": {"$covariancePop": ["$z", "$y"]}}}},
    );
    assert_eq!(out[0].get("c"), Some(&Bson::Double(2.0)));
    assert_eq!(out[0].get("none"), Some(&Bson::Null));
}

#[test]
fn linear_fill_interpolates_along_the_sort_field() {
    let docs = vec![
        doc! {"t": 1, "v": Bson::Null},
        doc! {"t": 2, "v": 10},
        doc! {"t": 3},
        doc! {"t": 5, "v": Bson::Null},
        doc! {"t": 6, "v": 50},
        doc! {"t": 7, "v": Bson::Null},
    ];
    let out =
        ok(docs, doc! {"$setWindowFields": {"sortBy": {"t": 1}, "output": {"f": {"$linearFill": "$v"}}}});
    assert_eq!(
        column(&out, "f"),
        vec![
            Bson::Null,
            Bson::Int32(10),
            Bson::Double(20.0),
            Bson::Double(40.0),
            Bson::Int32(50),
            Bson::Null
        ]
    );
    let bad = run_on(
        vec![doc! {"t": 1, "v": "text"}],
        vec![doc! {"$setWindowFields": {"sortBy": {"t": 1}, "output": {"f": {"$linearFill": "$v"}}}}],
    );
    assert_eq!(bad.unwrap_err().code, 6050105);
}

#[test]
fn new_window_function_parse_errors() {
    let swf = |sort: bool, output: Document| {
        let mut stage = doc! {"output": {"o": output}};
        if sort {
            stage.insert("sortBy", doc! {"t": 1});
        }
        doc! {"p": [{"$setWindowFields": stage}]}
    };
    run_error_cases(
        &[
            err_case(
                "ema without sortBy",
                swf(false, doc! {"$expMovingAvg": {"input": "$v", "N": 2}}),
                9,
                "$expMovingAvg requires an explicit 'sortBy'",
            ),
            err_case(
                "ema with both",
                swf(true, doc! {"$expMovingAvg": {"input": "$v", "N": 2, "alpha": 0.5}}),
                9,
                "$expMovingAvg sub object must have exactly two fields: An 'input' field, and either an 'N' field or an 'alpha' field",
            ),
            err_case(
                "ema with neither",
                swf(true, doc! {"$expMovingAvg": {"input": "$v"}}),
                9,
                "$expMovingAvg sub object must have exactly two fields: An 'input' field, and either an 'N' field or an 'alpha' field",
            ),
            err_case(
                "ema N zero",
                swf(true, doc! {"$expMovingAvg": {"input": "$v", "N": 0}}),
                9,
                "'N' must be greater than zero. Got 0",
            ),
            err_case(
                "ema N fraction",
                swf(true, doc! {"$expMovingAvg": {"input": "$v", "N": 1.5}}),
                9,
                "'N' field must be an integer, but found type double",
            ),
            err_case(
                "ema alpha one",
                swf(true, doc! {"$expMovingAvg": {"input": "$v", "alpha": 1}}),
                9,
                "'alpha' must be between 0 and 1 (exclusive), found 1",
            ),
            err_case(
                "ema with a window",
                swf(true, doc! {"$expMovingAvg": {"input": "$v", "N": 2}, "window": {"documents": [-1, 0]}}),
                9,
                "'window' field is not allowed in $expMovingAvg",
            ),
            err_case(
                "linearFill without sortBy",
                swf(false, doc! {"$linearFill": "$v"}),
                605001,
                "$linearFill requires an explicit 'sortBy'",
            ),
            err_case(
                "linearFill with a window",
                swf(true, doc! {"$linearFill": "$v", "window": {"documents": [-1, 0]}}),
                9,
                "'window' field is not allowed in $linearFill",
            ),
        ],
        parse,
    );
}
