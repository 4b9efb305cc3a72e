//! Array update operators ($push with modifiers, $addToSet, $pop, $pull,
//! $pullAll) and array paths: positional $, $[], $[<id>] with arrayFilters.

mod common;

use argon_query::{Filter, Update};
use bson::{doc, Bson, Document};
use common::*;

fn now() -> bson::DateTime {
    bson::DateTime::from_millis(0)
}

fn apply(update: Document, input: Document) -> Result<Document, argon_query::QueryError> {
    Update::parse(&Bson::Document(update), None)?.apply(&input, None, now())
}

fn apply_with(
    update: Document,
    filters: &[Document],
    query: Document,
    input: Document,
) -> Result<Document, argon_query::QueryError> {
    let f = Filter::parse(&query)?;
    Update::parse(&Bson::Document(update), Some(filters))?.apply(&input, Some(&f), now())
}

fn check(cases: Vec<(&str, Document, Document, Document)>) {
    let mut failures = Vec::new();
    for (name, update, input, want) in cases {
        match apply(update.clone(), input.clone()) {
            Ok(got) if got == want => {}
            other => failures.push(format!("{name}: {update} on {input}\n   want {want}\n    got {other:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn push() {
    check(vec![
        ("append", doc! {"$push": {"a": 3}}, doc! {"_id": 1, "a": [1, 2]}, doc! {"_id": 1, "a": [1, 2, 3]}),
        ("missing creates", doc! {"$push": {"a": 1}}, doc! {"_id": 1}, doc! {"_id": 1, "a": [1]}),
        (
            "array value is one element",
            doc! {"$push": {"a": [3, 4]}},
            doc! {"_id": 1, "a": [1]},
            doc! {"_id": 1, "a": [1, [3, 4]]},
        ),
        (
            "$each",
            doc! {"$push": {"a": {"$each": [3, 4]}}},
            doc! {"_id": 1, "a": [1]},
            doc! {"_id": 1, "a": [1, 3, 4]},
        ),
        (
            "$position",
            doc! {"$push": {"a": {"$each": [0], "$position": 0}}},
            doc! {"_id": 1, "a": [1, 2]},
            doc! {"_id": 1, "a": [0, 1, 2]},
        ),
        (
            "negative $position",
            doc! {"$push": {"a": {"$each": [9], "$position": -1}}},
            doc! {"_id": 1, "a": [1, 2]},
            doc! {"_id": 1, "a": [1, 9, 2]},
        ),
        (
            "$slice keeps the last",
            doc! {"$push": {"a": {"$each": [3, 4], "$slice": -3}}},
            doc! {"_id": 1, "a": [1, 2]},
            doc! {"_id": 1, "a": [2, 3, 4]},
        ),
        (
            "$slice zero empties",
            doc! {"$push": {"a": {"$each": [], "$slice": 0}}},
            doc! {"_id": 1, "a": [1, 2]},
            doc! {"_id": 1, "a": []},
        ),
        (
            "$sort values",
            doc! {"$push": {"a": {"$each": [0, 5], "$sort": -1}}},
            doc! {"_id": 1, "a": [3, 1]},
            doc! {"_id": 1, "a": [5, 3, 1, 0]},
        ),
        (
            "$sort by field then $slice",
            doc! {"$push": {"q": {"$each": [{"s": 7}, {"s": 2}], "$sort": {"s": -1}, "$slice": 2}}},
            doc! {"_id": 1, "q": [{"s": 5}, {"s": 9}]},
            doc! {"_id": 1, "q": [{"s": 9}, {"s": 7}]},
        ),
        (
            "push into element by index",
            doc! {"$push": {"a.0": 2}},
            doc! {"_id": 1, "a": [[1]]},
            doc! {"_id": 1, "a": [[1, 2]]},
        ),
    ]);
    assert_error(
        apply(doc! {"$push": {"a": 1}}, doc! {"_id": 1, "a": 5}),
        2,
        "BadValue",
        "The field 'a' must be an array but is of type int in document {_id: 1}",
    );
    assert_error(
        apply(doc! {"$push": {"a": {"$each": 1}}}, doc! {}),
        2,
        "BadValue",
        "The argument to $each in $push must be an array but it was of type: int",
    );
    assert_error(
        apply(doc! {"$push": {"a": {"$each": [1], "$foo": 1}}}, doc! {}),
        2,
        "BadValue",
        "Unrecognized clause in $push: $foo",
    );
}

#[test]
fn add_to_set_pop_pull() {
    check(vec![
        (
            "addToSet new",
            doc! {"$addToSet": {"a": 3}},
            doc! {"_id": 1, "a": [1, 2]},
            doc! {"_id": 1, "a": [1, 2, 3]},
        ),
        (
            "addToSet equal number of another type",
            doc! {"$addToSet": {"a": 2.0}},
            doc! {"_id": 1, "a": [1, 2]},
            doc! {"_id": 1, "a": [1, 2]},
        ),
        (
            "addToSet $each dedups",
            doc! {"$addToSet": {"a": {"$each": [2, 3, 3]}}},
            doc! {"_id": 1, "a": [1, 2]},
            doc! {"_id": 1, "a": [1, 2, 3]},
        ),
        (
            "addToSet document",
            doc! {"$addToSet": {"a": {"x": 1}}},
            doc! {"_id": 1, "a": [{"x": 1}]},
            doc! {"_id": 1, "a": [{"x": 1}]},
        ),
        ("addToSet missing", doc! {"$addToSet": {"a": 1}}, doc! {"_id": 1}, doc! {"_id": 1, "a": [1]}),
        ("pop last", doc! {"$pop": {"a": 1}}, doc! {"_id": 1, "a": [1, 2, 3]}, doc! {"_id": 1, "a": [1, 2]}),
        (
            "pop first",
            doc! {"$pop": {"a": -1}},
            doc! {"_id": 1, "a": [1, 2, 3]},
            doc! {"_id": 1, "a": [2, 3]},
        ),
        ("pop empty", doc! {"$pop": {"a": 1}}, doc! {"_id": 1, "a": []}, doc! {"_id": 1, "a": []}),
        ("pop missing", doc! {"$pop": {"a": 1}}, doc! {"_id": 1}, doc! {"_id": 1}),
        (
            "pull value",
            doc! {"$pull": {"a": 2}},
            doc! {"_id": 1, "a": [1, 2, 3, 2]},
            doc! {"_id": 1, "a": [1, 3]},
        ),
        (
            "pull condition",
            doc! {"$pull": {"a": {"$gte": 6}}},
            doc! {"_id": 1, "a": [8, 1, 6, 5]},
            doc! {"_id": 1, "a": [1, 5]},
        ),
        (
            "pull $in",
            doc! {"$pull": {"a": {"$in": ["x", 1]}}},
            doc! {"_id": 1, "a": [1, "x", "y"]},
            doc! {"_id": 1, "a": ["y"]},
        ),
        (
            "pull regex",
            doc! {"$pull": {"a": regex("^b", "")}},
            doc! {"_id": 1, "a": ["ab", "bc"]},
            doc! {"_id": 1, "a": ["ab"]},
        ),
        (
            "pull documents by query, extra fields allowed",
            doc! {"$pull": {"r": {"i": "B", "s": {"$gt": 5}}}},
            doc! {"_id": 1, "r": [{"i": "A", "s": 8}, {"i": "B", "s": 8, "x": 1}, {"i": "B", "s": 1}]},
            doc! {"_id": 1, "r": [{"i": "A", "s": 8}, {"i": "B", "s": 1}]},
        ),
        (
            "pull exact array",
            doc! {"$pull": {"a": [1, 2]}},
            doc! {"_id": 1, "a": [[1, 2], [2, 1]]},
            doc! {"_id": 1, "a": [[2, 1]]},
        ),
        ("pull missing", doc! {"$pull": {"a": 1}}, doc! {"_id": 1}, doc! {"_id": 1}),
        (
            "pullAll",
            doc! {"$pullAll": {"a": [0, 5]}},
            doc! {"_id": 1, "a": [0, 2, 5, 5, 1]},
            doc! {"_id": 1, "a": [2, 1]},
        ),
    ]);
    assert_error(
        apply(doc! {"$addToSet": {"a": 1}}, doc! {"_id": 1, "a": 1}),
        2,
        "BadValue",
        "Cannot apply $addToSet to non-array field. Field named 'a' has non-array type int",
    );
    assert_error(
        apply(doc! {"$pop": {"a.b": 1}}, doc! {"a": {"b": 1}}),
        14,
        "TypeMismatch",
        "Path 'a.b' contains an element of non-array type 'int'",
    );
    assert_error(
        apply(doc! {"$pop": {"a": 2}}, doc! {}),
        9,
        "FailedToParse",
        "$pop expects 1 or -1, found: 2",
    );
    assert_error(
        apply(doc! {"$pull": {"a": 1}}, doc! {"a": 1}),
        2,
        "BadValue",
        "Cannot apply $pull to a non-array value",
    );
    assert_error(
        apply(doc! {"$pullAll": {"a": 1}}, doc! {}),
        2,
        "BadValue",
        "$pullAll requires an array argument but was given a int",
    );
}

#[test]
fn positional_operators() {
    // $ is the position the query matched.
    assert_eq!(
        apply_with(doc! {"$set": {"g.$": 82}}, &[], doc! {"g": 80}, doc! {"_id": 1, "g": [85, 80, 80]})
            .unwrap(),
        doc! {"_id": 1, "g": [85, 82, 80]}
    );
    assert_eq!(
        apply_with(
            doc! {"$inc": {"a.$.n": 1}},
            &[],
            doc! {"a.k": "y"},
            doc! {"_id": 1, "a": [{"k": "x", "n": 1}, {"k": "y", "n": 1}]}
        )
        .unwrap(),
        doc! {"_id": 1, "a": [{"k": "x", "n": 1}, {"k": "y", "n": 2}]}
    );
    assert_eq!(
        apply_with(
            doc! {"$set": {"a.$.n": 0}},
            &[],
            doc! {"a": {"$elemMatch": {"n": {"$gt": 1}}}},
            doc! {"_id": 1, "a": [{"n": 1}, {"n": 5}]}
        )
        .unwrap(),
        doc! {"_id": 1, "a": [{"n": 1}, {"n": 0}]}
    );
    assert_error(
        apply_with(doc! {"$set": {"a.$": 1}}, &[], doc! {"_id": 1}, doc! {"_id": 1, "a": [1]}),
        2,
        "BadValue",
        "The positional operator did not find the match needed from the query.",
    );
    // $[] is every element.
    assert_eq!(
        apply(doc! {"$inc": {"a.$[]": 1}}, doc! {"_id": 1, "a": [1, 2]}).unwrap(),
        doc! {"_id": 1, "a": [2, 3]}
    );
    assert_eq!(
        apply(doc! {"$set": {"a.$[].b": 0}}, doc! {"_id": 1, "a": [{"b": 1}, {}]}).unwrap(),
        doc! {"_id": 1, "a": [{"b": 0}, {"b": 0}]}
    );
    assert_eq!(
        apply(doc! {"$inc": {"m.$[].$[]": 10}}, doc! {"_id": 1, "m": [[1, 2], [3]]}).unwrap(),
        doc! {"_id": 1, "m": [[11, 12], [13]]}
    );
    assert_error(
        apply(doc! {"$set": {"a.$[]": 1}}, doc! {"_id": 1}),
        2,
        "BadValue",
        "The path 'a' must exist in the document in order to apply array updates.",
    );
    assert_error(
        apply(doc! {"$set": {"a.$[].b": 1}}, doc! {"_id": 1, "a": [5]}),
        28,
        "PathNotViable",
        "Cannot create field 'b' in element {0: 5}",
    );
}

#[test]
fn array_filters() {
    let input =
        doc! {"_id": 1, "g": [95, 102, 90, 150], "d": [{"grade": 80, "mean": 75}, {"grade": 87, "mean": 90}]};
    assert_eq!(
        apply_with(doc! {"$set": {"g.$[el]": 100}}, &[doc! {"el": {"$gte": 100}}], doc! {}, input.clone())
            .unwrap(),
        doc! {"_id": 1, "g": [95, 100, 90, 100], "d": input.get_array("d").unwrap().clone()}
    );
    assert_eq!(
        apply_with(
            doc! {"$set": {"d.$[x].mean": 100}},
            &[doc! {"x.grade": {"$gte": 85}}],
            doc! {},
            input.clone()
        )
        .unwrap(),
        doc! {"_id": 1, "g": [95, 102, 90, 150], "d": [{"grade": 80, "mean": 75}, {"grade": 87, "mean": 100}]}
    );
    assert_eq!(
        apply_with(
            doc! {"$inc": {"d.$[a].mean": 1, "g.$[b]": -1}},
            &[doc! {"a.mean": {"$lt": 80}}, doc! {"$or": [{"b": 90}, {"b": 95}]}],
            doc! {},
            input.clone()
        )
        .unwrap(),
        doc! {"_id": 1, "g": [94, 102, 89, 150], "d": [{"grade": 80, "mean": 76}, {"grade": 87, "mean": 90}]}
    );
    let parse =
        |filters: &[Document]| Update::parse(&Bson::Document(doc! {"$set": {"g.$[el]": 1}}), Some(filters));
    assert_error(
        parse(&[doc! {"el": 1}, doc! {"other": 1}]),
        9,
        "FailedToParse",
        "The array filter for identifier 'other' was not used in the update { $set: { g.$[el]: 1 } }",
    );
    assert_error(parse(&[]), 2, "BadValue", "No array filter found for identifier 'el' in path 'g.$[el]'");
    assert_error(
        parse(&[doc! {"el": 1}, doc! {"el": 2}]),
        9,
        "FailedToParse",
        "Found multiple array filters with the same top-level field name el",
    );
    assert_error(
        parse(&[doc! {"El": 1}]),
        2,
        "BadValue",
        "Error parsing array filter :: caused by :: The top-level field name must be an alphanumeric string beginning with a lowercase letter, found 'El'",
    );
    assert_error(
        parse(&[doc! {"el": 1, "x": 2}]),
        9,
        "FailedToParse",
        "Error parsing array filter :: caused by :: Expected a single top-level field name, found 'el' and 'x'",
    );
}
