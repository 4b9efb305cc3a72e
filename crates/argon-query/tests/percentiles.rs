//! `$percentile` and `$median`: accumulators, window functions and
//! expressions, computed exactly (nearest rank; `continuous` interpolates),
//! and their specification errors.

use argon_query::expr::{Expression, Vars};
use argon_query::pipeline::{NoCollections, Pipeline};
use argon_query::Result;
use bson::{bson, doc, Bson, Document};

fn scores() -> Vec<Document> {
    vec![
        doc! {"_id": 1, "game": "G1", "score": 31},
        doc! {"_id": 2, "game": "G1", "score": 33.0},
        doc! {"_id": 3, "game": "G1", "score": 99i64},
        doc! {"_id": 4, "game": "G1", "score": 1},
        doc! {"_id": 5, "game": "G2", "score": 10},
        doc! {"_id": 6, "game": "G2", "score": 14},
        doc! {"_id": 7, "game": "G2", "score": 66},
        doc! {"_id": 8, "game": "G2", "score": 80},
        doc! {"_id": 9, "game": "G1", "score": "none"},
    ]
}

fn run(stages: Vec<Document>) -> Result<Vec<Document>> {
    let ctx = NoCollections { now: bson::DateTime::from_millis(0) };
    Pipeline::parse(&stages)?.run(Box::new(scores().into_iter()), &ctx)
}

fn ok(stages: Vec<Document>) -> Vec<Document> {
    run(stages.clone()).unwrap_or_else(|e| panic!("{stages:?}: {e}"))
}

fn eval(expr: Bson) -> Result<Option<Bson>> {
    Expression::parse(&expr).and_then(|e| e.evaluate(&doc! {"p": [0.5]}, &Vars::default()))
}

#[test]
fn accumulators() {
    let out = ok(vec![
        doc! {"$group": {
            "_id": "$game",
            "median": {"$median": {"input": "$score", "method": "approximate"}},
            "pcts": {"$percentile": {"input": "$score", "p": [0, 0.5, 0.9, 1], "method": "approximate"}},
            "smooth": {"$median": {"input": "$score", "method": "continuous"}},
        }},
        doc! {"$sort": {"_id": 1}},
    ]);
    assert_eq!(
        out,
        vec![
            doc! {"_id": "G1", "median": 31.0, "pcts": [1.0, 31.0, 99.0, 99.0], "smooth": 32.0},
            doc! {"_id": "G2", "median": 14.0, "pcts": [10.0, 14.0, 80.0, 80.0], "smooth": 40.0},
        ]
    );
    // No numeric input: null, or one null per percentile.
    let none = ok(vec![doc! {"$group": {
        "_id": null,
        "median": {"$median": {"input": "$game", "method": "approximate"}},
        "pcts": {"$percentile": {"input": "$game", "p": [0.1, 0.2], "method": "discrete"}},
    }}]);
    assert_eq!(none, vec![doc! {"_id": null, "median": null, "pcts": [null, null]}]);
}

#[test]
fn window_function() {
    let out = ok(vec![
        doc! {"$match": {"game": "G2"}},
        doc! {"$setWindowFields": {
            "sortBy": {"score": 1},
            "output": {"running": {
                "$median": {"input": "$score", "method": "approximate"},
                "window": {"documents": ["unbounded", "current"]},
            }},
        }},
    ]);
    let running: Vec<Bson> = out.iter().map(|d| d.get("running").cloned().unwrap()).collect();
    assert_eq!(running, vec![bson!(10.0), bson!(10.0), bson!(14.0), bson!(14.0)]);
}

#[test]
fn expressions() {
    let cases = [
        (bson!({"$median": {"input": [3, 1, "x", 2], "method": "approximate"}}), bson!(2.0)),
        (bson!({"$median": {"input": [], "method": "approximate"}}), Bson::Null),
        (bson!({"$median": {"input": "$nope", "method": "approximate"}}), Bson::Null),
        (bson!({"$percentile": {"input": 5, "p": [0.1, 0.9], "method": "approximate"}}), bson!([5.0, 5.0])),
        (
            bson!({"$percentile": {"input": "abc", "p": [0.1, 0.9], "method": "approximate"}}),
            bson!([null, null]),
        ),
        (
            bson!({"$percentile": {"input": [10, 20, 30, 40, 50], "p": [0.2, 0.21, 1.0], "method": "approximate"}}),
            bson!([10.0, 20.0, 50.0]),
        ),
    ];
    for (expr, want) in cases {
        assert_eq!(eval(expr.clone()).ok().flatten(), Some(want), "{expr}");
    }
    let errors = [
        (bson!({"$percentile": {"input": 1, "p": [], "method": "approximate"}}), 7750301),
        (bson!({"$percentile": {"input": 1, "p": 0.5, "method": "approximate"}}), 7750301),
        (bson!({"$percentile": {"input": 1, "p": ["a"], "method": "approximate"}}), 7750302),
        (bson!({"$percentile": {"input": 1, "p": [1.5], "method": "approximate"}}), 7750303),
        (bson!({"$percentile": {"input": 1, "p": "$p", "method": "approximate"}}), 7750300),
        (bson!({"$percentile": {"input": 1, "p": [0.5]}}), 40414),
        (bson!({"$percentile": {"input": 1, "method": "approximate"}}), 40414),
        (bson!({"$median": {"method": "approximate"}}), 40414),
        (bson!({"$median": {"input": 1, "p": [0.5], "method": "approximate"}}), 40415),
        (bson!({"$median": {"input": 1, "method": "exact"}}), 2),
        (bson!({"$median": {"input": 1, "method": 1}}), 14),
        (bson!({"$median": 1}), 7436201),
        (bson!({"$percentile": [1]}), 7436200),
    ];
    for (expr, code) in errors {
        match eval(expr.clone()) {
            Err(e) => assert_eq!(e.code, code, "{expr}: {}", e.message),
            Ok(v) => panic!("{expr} gave {v:?}"),
        }
    }
    let e = eval(bson!({"$percentile": {"input": 1, "p": [0.5]}})).unwrap_err();
    assert_eq!(e.message, "BSON field '$percentile.method' is missing but a required field");
}

#[test]
fn accumulator_errors() {
    let code =
        |acc: Document| run(vec![doc! {"$group": {"_id": null, "x": acc}}]).expect_err("must fail").code;
    assert_eq!(code(doc! {"$median": "$score"}), 7436100);
    assert_eq!(code(doc! {"$percentile": "$score"}), 7429703);
    assert_eq!(code(doc! {"$percentile": {"input": "$score", "p": "$p", "method": "approximate"}}), 7750300);
    assert_eq!(
        code(doc! {"$percentile": {"input": "$score", "p": [-0.1], "method": "approximate"}}),
        7750303
    );
}
