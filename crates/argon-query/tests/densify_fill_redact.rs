//! `$densify`, `$fill` and `$redact`, and the `let` variables of commands:
//! results over small collections and the stages' parse errors.

mod common;

use argon_query::expr::{command_let, let_names, Vars};
use argon_query::pipeline::{NoCollections, Pipeline};
use argon_query::{Filter, QueryError, Result, Update};
use bson::{doc, Bson, Document};
use common::*;

fn run_on(docs: Vec<Document>, stages: Vec<Document>) -> Result<Vec<Document>> {
    let ctx = NoCollections { now: bson::DateTime::from_millis(0) };
    Pipeline::parse(&stages)?.run(Box::new(docs.into_iter()), &ctx)
}

fn ok(docs: Vec<Document>, stage: Document) -> Vec<Document> {
    run_on(docs, vec![stage.clone()]).unwrap_or_else(|e| panic!("{stage}: {e}"))
}

fn fails(docs: Vec<Document>, stage: Document) -> QueryError {
    match run_on(docs, vec![stage.clone()]) {
        Ok(out) => panic!("{stage} should fail, gave {out:?}"),
        Err(e) => e,
    }
}

fn column(out: &[Document], field: &str) -> Vec<Bson> {
    out.iter().map(|d| d.get(field).cloned().unwrap_or(Bson::String("<missing>".into()))).collect()
}

fn ints(values: &[i32]) -> Vec<Bson> {
    values.iter().map(|v| Bson::Int32(*v)).collect()
}

/// Documents the stage generated: those without `_id`.
fn generated(out: &[Document]) -> Vec<&Document> {
    out.iter().filter(|d| !d.contains_key("_id")).collect()
}

const HOUR: i64 = 3_600_000;
/// 2021-05-18T00:00:00Z
const T0: i64 = 1_621_296_000_000;

// ---- $densify ---------------------------------------------------------------

#[test]
fn densify_full_numeric_fills_the_gaps_and_passes_null_documents_first() {
    let docs =
        vec![doc! {"_id": 1, "v": 4}, doc! {"_id": 2, "v": 1}, doc! {"_id": 3, "v": null}, doc! {"_id": 4}];
    let out = ok(docs, doc! {"$densify": {"field": "v", "range": {"step": 1, "bounds": "full"}}});
    assert_eq!(column(&out[..2], "_id"), ints(&[3, 4]));
    assert_eq!(column(&out[2..], "v"), ints(&[1, 2, 3, 4]));
    assert_eq!(generated(&out), vec![&doc! {"v": 2}, &doc! {"v": 3}]);
}

#[test]
fn densify_keeps_the_grid_of_the_lowest_value_past_off_step_values() {
    let docs = vec![doc! {"_id": 1, "v": 0}, doc! {"_id": 2, "v": 2.5}, doc! {"_id": 3, "v": 6}];
    let out = ok(docs, doc! {"$densify": {"field": "v", "range": {"step": 2, "bounds": "full"}}});
    assert_eq!(
        column(&out, "v"),
        vec![Bson::Int32(0), Bson::Int32(2), Bson::Double(2.5), Bson::Int32(4), Bson::Int32(6)]
    );
    assert_eq!(generated(&out).len(), 2);
}

#[test]
fn densify_explicit_bounds_exclude_the_upper_bound_and_keep_outside_documents() {
    let docs = vec![doc! {"_id": 1, "v": 4}, doc! {"_id": 2, "v": 12}, doc! {"_id": 3, "v": -5}];
    let out = ok(docs, doc! {"$densify": {"field": "v", "range": {"step": 3, "bounds": [0, 10]}}});
    assert_eq!(column(&out, "v"), ints(&[-5, 0, 3, 4, 6, 9, 12]));
    assert_eq!(column(&out, "_id")[0], Bson::Int32(3));
    // Over no documents at all, the whole range.
    let out = ok(vec![], doc! {"$densify": {"field": "v", "range": {"step": 3, "bounds": [0, 10]}}});
    assert_eq!(column(&out, "v"), ints(&[0, 3, 6, 9]));
}

fn two_partitions() -> Vec<Document> {
    vec![
        doc! {"_id": 1, "p": "a", "v": 1},
        doc! {"_id": 2, "p": "a", "v": 4},
        doc! {"_id": 3, "p": "b", "v": 12},
        doc! {"_id": 4, "p": "b", "v": 10},
    ]
}

#[test]
fn densify_partition_bounds_stay_within_each_partition() {
    let out = ok(
        two_partitions(),
        doc! {"$densify": {"field": "v", "partitionByFields": ["p"], "range": {"step": 1, "bounds": "partition"}}},
    );
    assert_eq!(column(&out, "p"), ["a", "a", "a", "a", "b", "b", "b"].map(Bson::from).to_vec());
    assert_eq!(column(&out, "v"), ints(&[1, 2, 3, 4, 10, 11, 12]));
    assert!(generated(&out).contains(&&doc! {"p": "b", "v": 11}));
}

#[test]
fn densify_full_bounds_with_partitions_cover_the_global_range_in_each() {
    let out = ok(
        two_partitions(),
        doc! {"$densify": {"field": "v", "partitionByFields": ["p"], "range": {"step": 3, "bounds": "full"}}},
    );
    let in_partition = |p: &str| -> Vec<Bson> {
        out.iter().filter(|d| d.get_str("p").ok() == Some(p)).map(|d| d.get("v").cloned().unwrap()).collect()
    };
    assert_eq!(in_partition("a"), ints(&[1, 4, 7, 10]));
    assert_eq!(in_partition("b"), ints(&[1, 4, 7, 10, 12]));
    // In field order across partitions.
    let values: Vec<i32> = out.iter().map(|d| d.get_i32("v").unwrap()).collect();
    assert!(values.windows(2).all(|w| w[0] <= w[1]), "{values:?}");
}

#[test]
fn densify_explicit_bounds_with_partitions() {
    let out = ok(
        two_partitions(),
        doc! {"$densify": {"field": "v", "partitionByFields": ["p"], "range": {"step": 2, "bounds": [0, 4]}}},
    );
    assert_eq!(column(&out, "v"), ints(&[0, 1, 2, 4, 0, 2, 10, 12]));
    assert_eq!(generated(&out)[0], &doc! {"p": "a", "v": 0});
}

#[test]
fn densify_dates_by_hour_and_by_month() {
    let docs = vec![doc! {"_id": 1, "t": date(T0)}, doc! {"_id": 2, "t": date(T0 + 3 * HOUR)}];
    let out =
        ok(docs, doc! {"$densify": {"field": "t", "range": {"step": 1, "unit": "hour", "bounds": "full"}}});
    assert_eq!(column(&out, "t"), (0..4).map(|h| date(T0 + h * HOUR)).collect::<Vec<_>>());

    // One month at a time from January 31: February 28, then March 28.
    let jan31 = bson::DateTime::parse_rfc3339_str("2021-01-31T00:00:00Z").unwrap();
    let may1 = bson::DateTime::parse_rfc3339_str("2021-05-01T00:00:00Z").unwrap();
    let out = ok(
        vec![],
        doc! {"$densify": {"field": "t", "range": {"step": 1, "unit": "month", "bounds": [jan31, may1]}}},
    );
    let shown: Vec<String> =
        out.iter().map(|d| d.get_datetime("t").unwrap().try_to_rfc3339_string().unwrap()).collect();
    assert_eq!(
        shown,
        ["2021-01-31T00:00:00Z", "2021-02-28T00:00:00Z", "2021-03-28T00:00:00Z", "2021-04-28T00:00:00Z"]
    );
}

#[test]
fn densify_dates_with_partitions() {
    let docs = vec![
        doc! {"_id": 1, "s": {"k": 1}, "t": date(T0)},
        doc! {"_id": 2, "s": {"k": 1}, "t": date(T0 + 2 * HOUR)},
        doc! {"_id": 3, "s": {"k": 2}, "t": date(T0 + HOUR)},
    ];
    let out = ok(
        docs,
        doc! {"$densify": {"field": "t", "partitionByFields": ["s.k"], "range": {"step": 1, "unit": "hour", "bounds": "partition"}}},
    );
    assert_eq!(generated(&out), vec![&doc! {"s": {"k": 1}, "t": date(T0 + HOUR)}]);
    assert_eq!(out.len(), 4);
}

#[test]
fn densify_errors_carry_mongodb_codes() {
    let d = |range: Document| doc! {"$densify": {"field": "v", "range": range}};
    let cases: Vec<(Document, i32)> = vec![
        (d(doc! {"step": 0, "bounds": "full"}), 5733401),
        (d(doc! {"step": -1, "bounds": "full"}), 5733401),
        (d(doc! {"step": "1", "bounds": "full"}), 5733401),
        (d(doc! {"step": 1.5, "unit": "hour", "bounds": "full"}), 6586400),
        (d(doc! {"step": 1, "unit": "fortnight", "bounds": "full"}), 9),
        (d(doc! {"step": 1, "bounds": "all"}), 5946802),
        (d(doc! {"step": 1, "bounds": 5}), 5733404),
        (d(doc! {"step": 1, "bounds": [1]}), 5733403),
        (d(doc! {"step": 1, "bounds": [5, 1]}), 5733402),
        (d(doc! {"step": 1, "unit": "day", "bounds": [1, 5]}), 5733409),
        (d(doc! {"step": 1.0, "bounds": [1, 5]}), 5876900),
        (d(doc! {"step": 1, "bounds": [date(0), date(HOUR)]}), 5733410),
        (d(doc! {"step": 1, "bounds": ["a", "b"]}), 5946800),
        (d(doc! {"step": 1, "bounds": "partition"}), 5733408),
        (d(doc! {"bounds": "full"}), 40414),
        (d(doc! {"step": 1, "bounds": "full", "extra": 1}), 40415),
        (doc! {"$densify": {"range": {"step": 1, "bounds": "full"}}}, 40414),
        (doc! {"$densify": {"field": 1, "range": {"step": 1, "bounds": "full"}}}, 14),
        (doc! {"$densify": 1}, 9),
    ];
    for (stage, code) in cases {
        assert_eq!(fails(vec![], stage.clone()).code, code, "{stage}");
    }
    // Values of the wrong kind for the range.
    let full = |unit: Option<&str>| {
        let mut range = doc! {"step": 1, "bounds": "full"};
        if let Some(u) = unit {
            range.insert("unit", u);
        }
        doc! {"$densify": {"field": "v", "range": range}}
    };
    assert_eq!(fails(vec![doc! {"v": date(0)}], full(None)).code, 6053600);
    assert_eq!(fails(vec![doc! {"v": 3}], full(Some("hour"))).code, 6053600);
    assert_eq!(fails(vec![doc! {"v": "x"}], full(None)).code, 5733201);
    // Too many documents to generate.
    let e = fails(vec![doc! {"v": 0}, doc! {"v": 1_000_000}], full(None));
    assert_eq!(e.code, 5897900);
}

// ---- $fill ------------------------------------------------------------------

#[test]
fn fill_value_keeps_input_order_and_reads_the_document() {
    let docs = vec![doc! {"_id": 1, "a": null, "b": 7}, doc! {"_id": 2, "a": 5}, doc! {"_id": 3, "b": 8}];
    let out = ok(docs.clone(), doc! {"$fill": {"output": {"a": {"value": 0}}}});
    assert_eq!(column(&out, "a"), ints(&[0, 5, 0]));
    let out = ok(docs, doc! {"$fill": {"output": {"a": {"value": {"$multiply": ["$b", 2]}}}}});
    assert_eq!(column(&out, "a"), ints(&[14, 5, 16]));
}

#[test]
fn fill_locf_in_sort_order_and_per_partition() {
    let docs = vec![
        doc! {"_id": 1, "p": "x", "t": 3, "v": null},
        doc! {"_id": 2, "p": "x", "t": 1, "v": 10},
        doc! {"_id": 3, "p": "y", "t": 1},
        doc! {"_id": 4, "p": "x", "t": 2},
        doc! {"_id": 5, "p": "y", "t": 2, "v": 30},
        doc! {"_id": 6, "p": "y", "t": 3},
        doc! {"_id": 7, "p": "x", "t": 4, "v": 20},
    ];
    let out = ok(
        docs.clone(),
        doc! {"$fill": {"sortBy": {"t": 1}, "partitionByFields": ["p"], "output": {"v": {"method": "locf"}}}},
    );
    assert_eq!(column(&out, "_id"), ints(&[2, 4, 1, 7, 3, 5, 6]));
    assert_eq!(
        column(&out, "v"),
        vec![
            Bson::Int32(10),
            Bson::Int32(10),
            Bson::Int32(10),
            Bson::Int32(20),
            Bson::Null,
            Bson::Int32(30),
            Bson::Int32(30)
        ]
    );
    // The same with partitionBy as an expression.
    let out2 = ok(
        docs.clone(),
        doc! {"$fill": {"sortBy": {"t": 1}, "partitionBy": "$p", "output": {"v": {"method": "locf"}}}},
    );
    assert_eq!(column(&out2, "v"), column(&out, "v"));
    // Without partitions one sequence over all documents.
    let out = ok(docs, doc! {"$fill": {"sortBy": {"t": 1, "_id": 1}, "output": {"v": {"method": "locf"}}}});
    assert_eq!(column(&out, "_id"), ints(&[2, 3, 4, 5, 1, 6, 7]));
    assert_eq!(column(&out, "v"), ints(&[10, 10, 10, 30, 30, 30, 20]));
}

#[test]
fn fill_linear_interpolates_along_the_sort_field() {
    let docs = vec![
        doc! {"_id": 1, "x": 1, "y": 10},
        doc! {"_id": 2, "x": 2},
        doc! {"_id": 3, "x": 4, "y": null},
        doc! {"_id": 4, "x": 5, "y": 50},
        doc! {"_id": 5, "x": 6},
        doc! {"_id": 0, "x": 0},
    ];
    let out = ok(docs, doc! {"$fill": {"sortBy": {"x": 1}, "output": {"y": {"method": "linear"}}}});
    assert_eq!(
        column(&out, "y"),
        vec![
            Bson::Null,
            Bson::Int32(10),
            Bson::Double(20.0),
            Bson::Double(40.0),
            Bson::Int32(50),
            Bson::Null
        ]
    );
}

#[test]
fn fill_linear_over_dates_per_partition_with_a_value_field() {
    let docs = vec![
        doc! {"_id": 1, "p": 1, "t": date(T0), "y": 0.0},
        doc! {"_id": 2, "p": 1, "t": date(T0 + HOUR)},
        doc! {"_id": 3, "p": 1, "t": date(T0 + 4 * HOUR), "y": 8.0},
        doc! {"_id": 4, "p": 2, "t": date(T0 + HOUR), "y": 1.0},
        doc! {"_id": 5, "p": 2, "t": date(T0 + 2 * HOUR)},
    ];
    let out = ok(
        docs,
        doc! {"$fill": {"sortBy": {"t": 1}, "partitionBy": {"p": "$p"}, "output": {"y": {"method": "linear"}, "note": {"value": "filled"}}}},
    );
    assert_eq!(
        column(&out, "y"),
        vec![Bson::Double(0.0), Bson::Double(2.0), Bson::Double(8.0), Bson::Double(1.0), Bson::Null]
    );
    assert!(out.iter().all(|d| d.get_str("note").ok() == Some("filled")));
}

#[test]
fn fill_errors_carry_mongodb_codes() {
    let cases: Vec<(Document, i32)> = vec![
        (doc! {"$fill": {"output": {"y": {"method": "linear"}}}}, 605001),
        (doc! {"$fill": {"sortBy": {"a": 1, "b": 1}, "output": {"y": {"method": "linear"}}}}, 605002),
        (doc! {"$fill": {"output": {"y": {"method": "locf", "value": 1}}}}, 6050201),
        (doc! {"$fill": {"output": {"y": {"method": "spline"}}}}, 6050202),
        (doc! {"$fill": {"output": {}}}, 6050203),
        (doc! {"$fill": {"output": {"y": 1}}}, 6050200),
        (
            doc! {"$fill": {"partitionBy": "$a", "partitionByFields": ["a"], "output": {"y": {"value": 1}}}},
            6050204,
        ),
        (doc! {"$fill": {"sortBy": {"a": 1}}}, 40414),
        (doc! {"$fill": {"output": {"y": {"value": 1}}, "other": 1}}, 40415),
        (doc! {"$fill": []}, 9),
    ];
    for (stage, code) in cases {
        assert_eq!(fails(vec![], stage.clone()).code, code, "{stage}");
    }
    let linear = doc! {"$fill": {"sortBy": {"x": 1}, "output": {"y": {"method": "linear"}}}};
    assert_eq!(fails(vec![doc! {"x": 1, "y": "a"}], linear.clone()).code, 6050105);
    assert_eq!(fails(vec![doc! {"x": 1, "y": 1}, doc! {"x": 1, "y": 2}], linear).code, 6050106);
}

// ---- $redact ----------------------------------------------------------------

fn tagged() -> Vec<Document> {
    vec![
        doc! {
            "_id": 1, "tags": ["G"], "n": 5,
            "inner": {"tags": ["S"], "z": 1},
            "open": {"tags": ["G"], "deeper": {"tags": ["S"]}, "w": 2},
            "subs": [
                {"tags": ["G"], "x": 1},
                {"tags": ["S"], "x": 2},
                [{"tags": ["S"]}, {"tags": ["G"], "y": 3}],
                7,
            ],
        },
        doc! {"_id": 2, "tags": ["S"], "n": 6},
    ]
}

fn by_tag(on_match: &str) -> Document {
    doc! {"$redact": {"$cond": {"if": {"$in": ["G", {"$ifNull": ["$tags", []]}]}, "then": on_match, "else": "$$PRUNE"}}}
}

#[test]
fn redact_descends_into_documents_and_arrays_of_documents() {
    let out = ok(tagged(), by_tag("$$DESCEND"));
    assert_eq!(
        out,
        vec![doc! {
            "_id": 1, "tags": ["G"], "n": 5,
            "open": {"tags": ["G"], "w": 2},
            "subs": [{"tags": ["G"], "x": 1}, [{"tags": ["G"], "y": 3}], 7],
        }]
    );
}

#[test]
fn redact_keep_returns_the_level_whole() {
    let out = ok(tagged(), by_tag("$$KEEP"));
    assert_eq!(out, vec![tagged().remove(0)]);
}

#[test]
fn redact_rejects_other_results() {
    let e = fails(tagged(), doc! {"$redact": "$n"});
    assert_eq!(e.code, 17053);
    assert!(e.message.contains("$$KEEP, $$DESCEND, and $$PRUNE"), "{}", e.message);
}

// ---- let --------------------------------------------------------------------

#[test]
fn let_values_are_evaluated_once_in_order() {
    let vars = command_let(
        &doc! {"low": 3, "high": {"$add": ["$$low", 4]}, "list": ["$$low", "$$high"]},
        bson::DateTime::from_millis(0),
    )
    .unwrap();
    assert_eq!(vars.get("high"), Some(&Bson::Int32(7)));
    assert_eq!(vars.get("list"), Some(&Bson::Array(ints(&[3, 7]))));
    assert_eq!(let_names(&vars), ["low", "high", "list"]);
}

#[test]
fn let_names_and_values_are_checked() {
    let now = bson::DateTime::from_millis(0);
    assert_eq!(command_let(&doc! {"Upper": 1}, now).unwrap_err().code, 16867);
    assert_eq!(command_let(&doc! {"a-b": 1}, now).unwrap_err().code, 16868);
    assert_eq!(command_let(&doc! {"a": "$field"}, now).unwrap_err().code, 4890500);
    assert_eq!(command_let(&doc! {"a": "$$undefinedVar"}, now).unwrap_err().code, 17276);
}

fn lets() -> Vars {
    command_let(&doc! {"limit": 5, "label": {"$concat": ["n", "ew"]}}, bson::DateTime::from_millis(0))
        .unwrap()
}

#[test]
fn let_variables_in_filters_pipelines_and_updates() {
    let vars = lets();
    let names = let_names(&vars);
    let filter = Filter::parse_with_vars(&doc! {"$expr": {"$gt": ["$qty", "$$limit"]}}, &names)
        .unwrap()
        .with_let(&vars);
    assert!(filter.matches(&doc! {"qty": 6}));
    assert!(!filter.matches(&doc! {"qty": 5}));
    // Without the names the filter does not parse.
    assert_eq!(Filter::parse(&doc! {"$expr": {"$gt": ["$qty", "$$limit"]}}).unwrap_err().code, 17276);

    let pipeline = Pipeline::parse_with_vars(
        &[doc! {"$match": {"$expr": {"$lte": ["$qty", "$$limit"]}}}, doc! {"$set": {"tag": "$$label"}}],
        &names,
    )
    .unwrap();
    let ctx = NoCollections { now: bson::DateTime::from_millis(0) };
    let docs = vec![doc! {"_id": 1, "qty": 3}, doc! {"_id": 2, "qty": 9}];
    let out = pipeline.run_with_vars(Box::new(docs.into_iter()), &ctx, &vars).unwrap();
    assert_eq!(out, vec![doc! {"_id": 1, "qty": 3, "tag": "new"}]);

    let update = Update::parse_with_let(
        &bson::bson!([{"$set": {"qty": {"$add": [{"$ifNull": ["$qty", 0]}, "$$limit"]}}}]),
        None,
        &vars,
    )
    .unwrap();
    let now = bson::DateTime::from_millis(0);
    assert_eq!(update.apply(&doc! {"_id": 1, "qty": 1}, None, now).unwrap(), doc! {"_id": 1, "qty": 6});
    let upserted = update.upsert_document(&doc! {"_id": 9, "$expr": {"$eq": ["$$limit", 5]}}, now).unwrap();
    assert_eq!(upserted, doc! {"_id": 9, "qty": 5});
    assert!(Update::parse(&bson::bson!([{"$set": {"q": "$$limit"}}]), None).is_err());
}
