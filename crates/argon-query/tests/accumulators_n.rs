//! The several-value accumulators (`$firstN $lastN $minN $maxN $top
//! $bottom $topN $bottomN`) in `$group` and `$setWindowFields`, the
//! `$firstN $lastN $minN $maxN` array expressions, and their `n` errors.

mod common;

use argon_query::expr::{Expression, Vars};
use argon_query::pipeline::{NoCollections, Pipeline};
use argon_query::Result;
use bson::{bson, doc, Bson, Document};

fn scores() -> Vec<Document> {
    vec![
        doc! {"_id": 1, "game": "G1", "player": "a", "score": 31},
        doc! {"_id": 2, "game": "G1", "player": "b", "score": 33},
        doc! {"_id": 3, "game": "G1", "player": "c", "score": 99},
        doc! {"_id": 4, "game": "G1", "player": "d", "score": 1},
        doc! {"_id": 5, "game": "G2", "player": "a", "score": 10},
        doc! {"_id": 6, "game": "G2", "player": "b", "score": 14},
        doc! {"_id": 7, "game": "G2", "player": "c", "score": 66},
        doc! {"_id": 8, "game": "G2", "player": "d", "score": 80},
        doc! {"_id": 9, "game": "G1", "player": "e"},
    ]
}

fn run(stages: Vec<Document>) -> Result<Vec<Document>> {
    let ctx = NoCollections { now: bson::DateTime::from_millis(0) };
    Pipeline::parse(&stages)?.run(Box::new(scores().into_iter()), &ctx)
}

fn ok(stages: Vec<Document>) -> Vec<Document> {
    run(stages.clone()).unwrap_or_else(|e| panic!("{stages:?}: {e}"))
}

fn error_code(stages: Vec<Document>) -> i32 {
    match run(stages.clone()) {
        Ok(out) => panic!("{stages:?} succeeded with {out:?}"),
        Err(e) => e.code,
    }
}

#[test]
fn group_keeps_several_values() {
    let out = ok(vec![
        doc! {"$group": {
            "_id": "$game",
            "firstPlayers": {"$firstN": {"input": "$player", "n": 2}},
            "lastScores": {"$lastN": {"input": "$score", "n": 2}},
            "lowest": {"$minN": {"input": "$score", "n": 2}},
            "highest": {"$maxN": {"input": "$score", "n": 2.0}},
            "winner": {"$top": {"output": "$player", "sortBy": {"score": -1}}},
            "loser": {"$bottom": {"output": "$player", "sortBy": {"score": -1}}},
            "lowThree": {"$topN": {"output": ["$player", "$score"], "sortBy": {"score": 1}, "n": 3}},
            "highTwo": {"$bottomN": {"output": "$player", "sortBy": {"score": 1}, "n": 2}},
        }},
        doc! {"$sort": {"_id": 1}},
    ]);
    assert_eq!(
        out,
        vec![
            doc! {
                "_id": "G1",
                "firstPlayers": ["a", "b"],
                // A missing value is null for $lastN, skipped by $minN/$maxN.
                "lastScores": [1, null],
                "lowest": [1, 31],
                "highest": [99, 33],
                "winner": "c",
                // Missing sorts below every number.
                "loser": "e",
                "lowThree": [["e", null], ["d", 1], ["a", 31]],
                "highTwo": ["b", "c"],
            },
            doc! {
                "_id": "G2",
                "firstPlayers": ["a", "b"],
                "lastScores": [66, 80],
                "lowest": [10, 14],
                "highest": [80, 66],
                "winner": "d",
                "loser": "a",
                "lowThree": [["a", 10], ["b", 14], ["c", 66]],
                "highTwo": ["c", "d"],
            },
        ]
    );
}

#[test]
fn ties_keep_the_first_seen_and_n_may_depend_on_the_key() {
    let out = ok(vec![doc! {"$group": {
        "_id": null,
        "top": {"$topN": {"output": "$_id", "sortBy": {"game": 1}, "n": 2}},
        "bottom": {"$bottomN": {"output": "$_id", "sortBy": {"game": 1}, "n": 2}},
    }}]);
    assert_eq!(out, vec![doc! {"_id": null, "top": [1, 2], "bottom": [5, 6]}]);
    // `n` is evaluated against the group's _id document.
    let out = ok(vec![
        doc! {"$group": {
            "_id": {"game": "$game"},
            "players": {"$firstN": {"input": "$player", "n": {"$cond": [{"$eq": ["$game", "G2"]}, 1, 3]}}},
        }},
        doc! {"$sort": {"_id.game": 1}},
    ]);
    assert_eq!(
        out,
        vec![
            doc! {"_id": {"game": "G1"}, "players": ["a", "b", "c"]},
            doc! {"_id": {"game": "G2"}, "players": ["a"]},
        ]
    );
}

#[test]
fn window_functions() {
    let out = ok(vec![doc! {"$setWindowFields": {
        "partitionBy": "$game",
        "sortBy": {"score": 1},
        "output": {
            "best2": {"$maxN": {"input": "$score", "n": 2}, "window": {"documents": ["unbounded", "current"]}},
            "first2": {"$firstN": {"input": "$player", "n": 2}, "window": {"documents": [-1, 0]}},
            "winner": {"$top": {"output": "$player", "sortBy": {"score": -1}}},
            "bottom2": {"$bottomN": {"output": "$_id", "sortBy": {"score": 1}, "n": 2}},
        },
    }}]);
    let column = |field: &str| out.iter().map(|d| d.get(field).cloned().unwrap()).collect::<Vec<_>>();
    assert_eq!(
        column("_id"),
        vec![bson!(9), bson!(4), bson!(1), bson!(2), bson!(3), bson!(5), bson!(6), bson!(7), bson!(8)]
    );
    assert_eq!(
        column("best2"),
        vec![
            bson!([]),
            bson!([1]),
            bson!([31, 1]),
            bson!([33, 31]),
            bson!([99, 33]),
            bson!([10]),
            bson!([14, 10]),
            bson!([66, 14]),
            bson!([80, 66])
        ]
    );
    assert_eq!(column("first2")[..3], [bson!(["e"]), bson!(["e", "d"]), bson!(["d", "a"])]);
    assert_eq!(column("winner"), ["c", "c", "c", "c", "c", "d", "d", "d", "d"].map(Bson::from).to_vec());
    assert_eq!(column("bottom2")[0], bson!([2, 3]));
    assert_eq!(column("bottom2")[8], bson!([7, 8]));
}

#[test]
fn array_expressions() {
    let cases = [
        (bson!({"$firstN": {"n": 2, "input": [1, 2, 3]}}), bson!([1, 2])),
        (bson!({"$lastN": {"n": 2, "input": [1, 2, 3]}}), bson!([2, 3])),
        (bson!({"$firstN": {"n": 10, "input": [1]}}), bson!([1])),
        (bson!({"$lastN": {"n": 1i64, "input": [null, 2, null]}}), bson!([null])),
        (bson!({"$minN": {"n": 2, "input": [3, null, 1, "x", 2]}}), bson!([1, 2])),
        (bson!({"$maxN": {"n": 2, "input": [3, null, 1, "x", 2]}}), bson!(["x", 3])),
        (bson!({"$maxN": {"n": "$n", "input": "$a"}}), bson!([5, 4, 3])),
    ];
    let root = doc! {"n": 3, "a": [1, 5, 3, 4]};
    for (expr, want) in cases {
        let got = Expression::parse(&expr).and_then(|e| e.evaluate(&root, &Vars::default()));
        assert_eq!(got.ok().flatten(), Some(want), "{expr}");
    }
    let errors = [
        (bson!({"$firstN": {"n": 2, "input": 5}}), 5788200, "Input must be an array"),
        (bson!({"$firstN": {"n": 2, "input": null}}), 5788200, "Input must be an array"),
        (bson!({"$lastN": {"n": 0, "input": [1]}}), 5787908, "'n' must be greater than 0, found 0"),
        (bson!({"$minN": {"n": -2, "input": [1]}}), 5787908, "'n' must be greater than 0, found -2"),
        (
            bson!({"$maxN": {"n": 1.5, "input": [1]}}),
            5787903,
            "Value for 'n' must be of integral type, but found 1.5",
        ),
        (
            bson!({"$maxN": {"n": null, "input": [1]}}),
            5787902,
            "Value for 'n' must be of integral type, but found null",
        ),
        (bson!({"$firstN": {"input": [1]}}), 5787906, "Missing value for 'n'"),
        (bson!({"$firstN": {"n": 1}}), 5787907, "Missing value for 'input'"),
        (bson!({"$firstN": {"n": 1, "input": [1], "x": 1}}), 5787901, "Unknown argument for 'n' operator: x"),
        (bson!({"$minN": [1]}), 5787900, "specification must be an object; found minN: [ 1 ]"),
        (bson!({"$lastN": 1}), 5787801, "specification must be an object; found lastN: 1"),
    ];
    for (expr, code, message) in errors {
        match Expression::parse(&expr).and_then(|e| e.evaluate(&root, &Vars::default())) {
            Err(e) => assert_eq!((e.code, e.message.as_str()), (code, message), "{expr}"),
            Ok(v) => panic!("{expr} gave {v:?}"),
        }
    }
}

#[test]
fn accumulator_errors() {
    let group = |acc: Document| vec![doc! {"$group": {"_id": null, "x": acc}}];
    assert_eq!(error_code(group(doc! {"$topN": {"output": "$a", "sortBy": {"a": 1}}})), 5788003);
    assert_eq!(error_code(group(doc! {"$topN": {"n": 1, "sortBy": {"a": 1}}})), 5788004);
    assert_eq!(error_code(group(doc! {"$bottomN": {"n": 1, "output": "$a"}})), 5788005);
    assert_eq!(error_code(group(doc! {"$top": {"n": 1, "output": "$a", "sortBy": {"a": 1}}})), 5788002);
    assert_eq!(error_code(group(doc! {"$top": "$a"})), 5788001);
    assert_eq!(error_code(group(doc! {"$top": {"output": "$a", "sortBy": 1}})), 10065);
    assert_eq!(error_code(group(doc! {"$top": {"output": "$a", "sortBy": {"a": 2}}})), 15975);
    assert_eq!(error_code(group(doc! {"$firstN": "$a"})), 5787801);
    assert_eq!(error_code(group(doc! {"$minN": {"input": "$a", "n": 1, "sortBy": 1}})), 5787901);
    assert_eq!(error_code(group(doc! {"$maxN": {"input": "$a", "n": 0}})), 5787908);
    assert_eq!(error_code(group(doc! {"$lastN": {"input": "$a", "n": "$score"}})), 5787902);
    let window = vec![doc! {"$setWindowFields": {"output": {"x": {"$minN": {"input": "$a", "n": -1}}}}}];
    assert_eq!(error_code(window), 5787908);
}
