//! Upsert documents (seeded from the query's equality fields) and updates
//! given as aggregation pipelines.

mod common;

use argon_query::Update;
use bson::{doc, Bson, Document};
use common::*;

fn now() -> bson::DateTime {
    bson::DateTime::from_millis(1_000)
}

fn upsert(filter: Document, update: Bson) -> Result<Document, argon_query::QueryError> {
    Update::parse(&update, None)?.upsert_document(&filter, now())
}

#[test]
fn upserts_are_seeded_from_equalities() {
    let d =
        upsert(doc! {"a": 1, "b": {"$gt": 1}, "c.d": "x"}, Bson::Document(doc! {"$set": {"e": 1}})).unwrap();
    assert!(matches!(d.get("_id"), Some(Bson::ObjectId(_))), "{d}");
    let mut rest = d.clone();
    rest.remove("_id");
    assert_eq!(rest, doc! {"a": 1, "c": {"d": "x"}, "e": 1});
    assert_eq!(d.keys().next().map(String::as_str), Some("_id"));

    let d = upsert(
        doc! {"_id": 5, "$and": [{"k": "v"}], "n": {"$in": [3]}},
        Bson::Document(doc! {"$setOnInsert": {"z": true}, "$inc": {"count": 1}}),
    )
    .unwrap();
    assert_eq!(d, doc! {"_id": 5, "k": "v", "n": 3, "count": 1, "z": true});

    // Replacement upserts take only _id from the query.
    let d = upsert(doc! {"_id": 7, "a": 1}, Bson::Document(doc! {"b": 2})).unwrap();
    assert_eq!(d, doc! {"_id": 7, "b": 2});

    // An update that sets a conflicting _id fails.
    assert_error(
        upsert(doc! {"_id": 1}, Bson::Document(doc! {"$set": {"_id": 2}})),
        66,
        "ImmutableField",
        "Performing an update on the path '_id' would modify the immutable field '_id'",
    );
    // ...but may set _id when the query does not.
    let d = upsert(doc! {"a": 1}, Bson::Document(doc! {"$set": {"_id": "mine"}})).unwrap();
    assert_eq!(d, doc! {"_id": "mine", "a": 1});
    assert_error(
        upsert(doc! {"a": 1, "a.b": 2}, Bson::Document(doc! {"$set": {"x": 1}})),
        54,
        "NotSingleValueField",
        "cannot infer query fields to set, path 'a' is matched twice",
    );
    assert_error(
        upsert(doc! {"a": 1}, Bson::Document(doc! {"$set": {"a.$": 1}})),
        2,
        "BadValue",
        "The positional operator did not find the match needed from the query.",
    );
}

#[test]
fn pipeline_updates() {
    let input = doc! {"_id": 1, "a": 1, "b": 2};
    let apply = |stages: Bson| Update::parse(&stages, None).and_then(|u| u.apply(&input, None, now()));
    assert_eq!(
        apply(bson::bson!([{"$set": {"total": {"$add": ["$a", "$b"]}}}, {"$unset": "b"}])).unwrap(),
        doc! {"_id": 1, "a": 1, "total": 3}
    );
    assert_eq!(
        apply(bson::bson!([{"$addFields": {"when": "$$NOW"}}, {"$project": {"when": 1}}])).unwrap(),
        doc! {"_id": 1, "when": Bson::DateTime(now())}
    );
    assert_eq!(apply(bson::bson!([{"$replaceWith": {"x": "$a"}}])).unwrap(), doc! {"_id": 1, "x": 1});
    assert_eq!(
        apply(bson::bson!([{"$replaceRoot": {"newRoot": {"_id": 1, "y": "$b"}}}])).unwrap(),
        doc! {"_id": 1, "y": 2}
    );
    assert_eq!(apply(bson::bson!([])).unwrap(), input.clone());
    assert_error(
        apply(bson::bson!([{"$replaceWith": {"_id": 9}}])),
        66,
        "ImmutableField",
        "Performing an update on the path '_id' would modify the immutable field '_id'",
    );
    assert_error(
        apply(bson::bson!([{"$group": {"_id": null}}])),
        72,
        "InvalidOptions",
        "$group is not allowed to be used within an update",
    );
    assert!(Update::parse(&bson::bson!([{"$set": {"a": 1}}]), None).unwrap().is_pipeline());
    // Upsert through a pipeline.
    let d = Update::parse(&bson::bson!([{"$set": {"n": {"$add": ["$k", 1]}}}]), None)
        .unwrap()
        .upsert_document(&doc! {"_id": 3, "k": 4}, now())
        .unwrap();
    assert_eq!(d, doc! {"_id": 3, "k": 4, "n": 5});
}
