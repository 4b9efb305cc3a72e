//! Field update operators ($set, $unset, $inc, $mul, $min, $max, $rename,
//! $currentDate, $setOnInsert, $bit), replacement documents, immutable
//! _id, conflicting paths, and parse errors.

mod common;

use argon_query::Update;
use bson::{doc, Bson, Document};
use common::*;

fn now() -> bson::DateTime {
    bson::DateTime::from_millis(1_700_000_000_123)
}

struct Case {
    name: &'static str,
    update: Document,
    input: Document,
    want: Document,
}

fn c(name: &'static str, update: Document, input: Document, want: Document) -> Case {
    Case { name, update, input, want }
}

fn run(cases: Vec<Case>) {
    let mut failures = Vec::new();
    for c in cases {
        let got = Update::parse(&Bson::Document(c.update.clone()), None)
            .and_then(|u| u.apply(&c.input, None, now()));
        match got {
            Ok(got) if got == c.want => {}
            other => failures.push(format!(
                "{}: {} on {}\n   want {}\n    got {:?}",
                c.name, c.update, c.input, c.want, other
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn apply_err(update: &Document, input: &Document) -> Result<Document, argon_query::QueryError> {
    Update::parse(&Bson::Document(update.clone()), None)?.apply(input, None, now())
}

#[test]
fn set_and_unset() {
    run(vec![
        c(
            "replace value",
            doc! {"$set": {"a": 2}},
            doc! {"_id": 1, "a": 1, "b": 1},
            doc! {"_id": 1, "a": 2, "b": 1},
        ),
        c(
            "new field at the end",
            doc! {"$set": {"c": 1}},
            doc! {"_id": 1, "a": 1},
            doc! {"_id": 1, "a": 1, "c": 1},
        ),
        c(
            "new fields in path order",
            doc! {"$set": {"z": 1, "m": 2}},
            doc! {"_id": 1},
            doc! {"_id": 1, "m": 2, "z": 1},
        ),
        c(
            "creates subdocuments",
            doc! {"$set": {"b.c.d": 1}},
            doc! {"_id": 1},
            doc! {"_id": 1, "b": {"c": {"d": 1}}},
        ),
        c(
            "into existing subdocument",
            doc! {"$set": {"b.c": 1}},
            doc! {"_id": 1, "b": {"x": 0}},
            doc! {"_id": 1, "b": {"x": 0, "c": 1}},
        ),
        c(
            "array index",
            doc! {"$set": {"a.1": 5}},
            doc! {"_id": 1, "a": [1, 2]},
            doc! {"_id": 1, "a": [1, 5]},
        ),
        c(
            "array index pads with null",
            doc! {"$set": {"a.3": 5}},
            doc! {"_id": 1, "a": [1]},
            doc! {"_id": 1, "a": [1, null, null, 5]},
        ),
        c(
            "field inside array element",
            doc! {"$set": {"a.0.b": 5}},
            doc! {"_id": 1, "a": [{"b": 1}]},
            doc! {"_id": 1, "a": [{"b": 5}]},
        ),
        c(
            "creates document in padded slot",
            doc! {"$set": {"a.2.b": 5}},
            doc! {"_id": 1, "a": []},
            doc! {"_id": 1, "a": [null, null, {"b": 5}]},
        ),
        c(
            "same _id is allowed",
            doc! {"$set": {"_id": 1.0, "x": 1}},
            doc! {"_id": 1, "x": 0},
            doc! {"_id": 1.0, "x": 1},
        ),
        c("unset", doc! {"$unset": {"a": ""}}, doc! {"_id": 1, "a": 1, "b": 2}, doc! {"_id": 1, "b": 2}),
        c("unset missing", doc! {"$unset": {"x.y": 1}}, doc! {"_id": 1}, doc! {"_id": 1}),
        c(
            "unset nested",
            doc! {"$unset": {"a.b": 1}},
            doc! {"_id": 1, "a": {"b": 1, "c": 2}},
            doc! {"_id": 1, "a": {"c": 2}},
        ),
        c(
            "unset array element sets null",
            doc! {"$unset": {"a.0": 1}},
            doc! {"_id": 1, "a": [1, 2]},
            doc! {"_id": 1, "a": [null, 2]},
        ),
        c(
            "unset through a scalar is a no-op",
            doc! {"$unset": {"a.b": 1}},
            doc! {"_id": 1, "a": 5},
            doc! {"_id": 1, "a": 5},
        ),
        c(
            "setOnInsert ignored on update",
            doc! {"$setOnInsert": {"x": 1}, "$set": {"y": 1}},
            doc! {"_id": 1},
            doc! {"_id": 1, "y": 1},
        ),
    ]);
    assert_error(
        apply_err(&doc! {"$set": {"a.b": 1}}, &doc! {"_id": 1, "a": 5}),
        28,
        "PathNotViable",
        "Cannot create field 'b' in element {a: 5}",
    );
    assert_error(
        apply_err(&doc! {"$set": {"a.2000000": 1}}, &doc! {"_id": 1, "a": [1]}),
        2,
        "BadValue",
        "can't backfill array to larger than 1500000 elements",
    );
    assert_error(
        apply_err(&doc! {"$set": {"a.b": 1}}, &doc! {"_id": 1, "a": [1]}),
        28,
        "PathNotViable",
        "Cannot create field 'b' in element {a: [ 1 ]}",
    );
}

#[test]
fn arithmetic() {
    run(vec![
        c("inc", doc! {"$inc": {"a": 2}}, doc! {"_id": 1, "a": 1}, doc! {"_id": 1, "a": 3}),
        c("inc missing creates", doc! {"$inc": {"a": 2}}, doc! {"_id": 1}, doc! {"_id": 1, "a": 2}),
        c("inc negative", doc! {"$inc": {"a": -2}}, doc! {"_id": 1, "a": 1}, doc! {"_id": 1, "a": -1}),
        c(
            "inc int overflow widens to long",
            doc! {"$inc": {"a": 1}},
            doc! {"_id": 1, "a": i32::MAX},
            doc! {"_id": 1, "a": i32::MAX as i64 + 1},
        ),
        c("inc int by double", doc! {"$inc": {"a": 0.5}}, doc! {"_id": 1, "a": 1}, doc! {"_id": 1, "a": 1.5}),
        c(
            "inc long keeps long",
            doc! {"$inc": {"a": 1}},
            doc! {"_id": 1, "a": 5i64},
            doc! {"_id": 1, "a": 6i64},
        ),
        c(
            "inc decimal",
            doc! {"$inc": {"a": dec("0.1")}},
            doc! {"_id": 1, "a": dec("0.2")},
            doc! {"_id": 1, "a": dec("0.3")},
        ),
        c("mul", doc! {"$mul": {"a": 3}}, doc! {"_id": 1, "a": 4}, doc! {"_id": 1, "a": 12}),
        c(
            "mul missing gives zero of the argument type",
            doc! {"$mul": {"a": 2.5}},
            doc! {"_id": 1},
            doc! {"_id": 1, "a": 0.0},
        ),
        c("mul missing int", doc! {"$mul": {"a": 2}}, doc! {"_id": 1}, doc! {"_id": 1, "a": 0}),
        c("min lowers", doc! {"$min": {"a": 1}}, doc! {"_id": 1, "a": 5}, doc! {"_id": 1, "a": 1}),
        c("min keeps", doc! {"$min": {"a": 10}}, doc! {"_id": 1, "a": 5}, doc! {"_id": 1, "a": 5}),
        c(
            "max across types uses BSON order",
            doc! {"$max": {"a": "x"}},
            doc! {"_id": 1, "a": 5},
            doc! {"_id": 1, "a": "x"},
        ),
        c("max missing sets", doc! {"$max": {"a": 3}}, doc! {"_id": 1}, doc! {"_id": 1, "a": 3}),
        c(
            "min equal number of another type keeps",
            doc! {"$min": {"a": 5.0}},
            doc! {"_id": 1, "a": 5},
            doc! {"_id": 1, "a": 5},
        ),
        c(
            "bit and/or",
            doc! {"$bit": {"a": {"and": 6, "or": 1}}},
            doc! {"_id": 1, "a": 13},
            doc! {"_id": 1, "a": 5},
        ),
        c(
            "bit xor long",
            doc! {"$bit": {"a": {"xor": 1i64}}},
            doc! {"_id": 1, "a": 3},
            doc! {"_id": 1, "a": 2i64},
        ),
    ]);
    assert_error(
        apply_err(&doc! {"$inc": {"a": 1}}, &doc! {"_id": 1, "a": "x"}),
        14,
        "TypeMismatch",
        "Cannot apply $inc to a value of non-numeric type. {_id: 1} has the field 'a' of non-numeric type string",
    );
    assert_error(
        apply_err(&doc! {"$mul": {"a.b": 2}}, &doc! {"_id": "x", "a": {"b": null}}),
        14,
        "TypeMismatch",
        "Cannot apply $mul to a value of non-numeric type. {_id: \"x\"} has the field 'b' of non-numeric type null",
    );
    assert_error(
        apply_err(&doc! {"$inc": {"a": 1}}, &doc! {"_id": 1, "a": i64::MAX}),
        2,
        "BadValue",
        "Failed to apply $inc operations to current value ((NumberLong)9223372036854775807) for document {_id: 1}",
    );
    assert_error(
        apply_err(&doc! {"$inc": {"a": "x"}}, &doc! {}),
        14,
        "TypeMismatch",
        "Cannot increment with non-numeric argument: {a: \"x\"}",
    );
    assert_error(
        apply_err(&doc! {"$mul": {"a": null}}, &doc! {}),
        14,
        "TypeMismatch",
        "Cannot multiply with non-numeric argument: {a: null}",
    );
}

#[test]
fn rename_and_current_date() {
    run(vec![
        c(
            "rename moves to the end",
            doc! {"$rename": {"a": "z"}},
            doc! {"_id": 1, "a": 1, "b": 2},
            doc! {"_id": 1, "b": 2, "z": 1},
        ),
        c(
            "rename onto existing field",
            doc! {"$rename": {"a": "b"}},
            doc! {"_id": 1, "a": 1, "b": 2},
            doc! {"_id": 1, "b": 1},
        ),
        c("rename missing is a no-op", doc! {"$rename": {"x": "y"}}, doc! {"_id": 1}, doc! {"_id": 1}),
        c(
            "rename nested",
            doc! {"$rename": {"a.b": "c.d"}},
            doc! {"_id": 1, "a": {"b": 1, "x": 1}},
            doc! {"_id": 1, "a": {"x": 1}, "c": {"d": 1}},
        ),
        c(
            "currentDate date",
            doc! {"$currentDate": {"d": true}},
            doc! {"_id": 1},
            doc! {"_id": 1, "d": Bson::DateTime(now())},
        ),
        c(
            "currentDate timestamp",
            doc! {"$currentDate": {"t": {"$type": "timestamp"}}},
            doc! {"_id": 1},
            doc! {"_id": 1, "t": Bson::Timestamp(bson::Timestamp { time: 1_700_000_000, increment: 1 })},
        ),
    ]);
    assert_error(
        apply_err(&doc! {"$rename": {"a.0": "b"}}, &doc! {"_id": 1, "a": [1]}),
        2,
        "BadValue",
        "The source field cannot be an array element, 'a.0' in doc with _id: 1 has an array field called 'a'",
    );
}

#[test]
fn immutable_id_and_replacement() {
    run(vec![
        c(
            "replacement keeps _id first",
            doc! {"b": 2, "c": 3},
            doc! {"_id": 1, "a": 1},
            doc! {"_id": 1, "b": 2, "c": 3},
        ),
        c(
            "replacement with same _id",
            doc! {"c": 3, "_id": 1},
            doc! {"_id": 1, "a": 1},
            doc! {"_id": 1, "c": 3},
        ),
        c("empty replacement", doc! {}, doc! {"_id": 1, "a": 1}, doc! {"_id": 1}),
    ]);
    let msg = "Performing an update on the path '_id' would modify the immutable field '_id'";
    assert_error(apply_err(&doc! {"$set": {"_id": 2}}, &doc! {"_id": 1}), 66, "ImmutableField", msg);
    assert_error(apply_err(&doc! {"$unset": {"_id": 1}}, &doc! {"_id": 1}), 66, "ImmutableField", msg);
    assert_error(apply_err(&doc! {"$rename": {"_id": "x"}}, &doc! {"_id": 1}), 66, "ImmutableField", msg);
    assert_error(
        apply_err(&doc! {"_id": 2, "a": 1}, &doc! {"_id": 1}),
        66,
        "ImmutableField",
        "After applying the update, the (immutable) field '_id' was found to have been altered to _id: 2",
    );
    assert!(Update::parse(&Bson::Document(doc! {"a": 1}), None).is_replacement_helper());
}

trait ReplacementHelper {
    fn is_replacement_helper(&self) -> bool;
}

impl ReplacementHelper for Result<Update, argon_query::QueryError> {
    fn is_replacement_helper(&self) -> bool {
        self.as_ref().map(Update::is_replacement).unwrap_or(false)
    }
}

#[test]
fn parse_errors() {
    let parse = |u: &Document| Update::parse(&Bson::Document(u.clone()), None);
    run_error_cases(
        &[
            err_case("conflict same path", doc! {"$set": {"a": 1}, "$inc": {"a": 1}}, 40, "Updating the path 'a' would create a conflict at 'a'"),
            err_case("conflict child", doc! {"$set": {"a": 1, "a.b": 2}}, 40, "Updating the path 'a.b' would create a conflict at 'a'"),
            err_case("conflict parent", doc! {"$set": {"a.b": 1}, "$unset": {"a": 1}}, 40, "Updating the path 'a' would create a conflict at 'a'"),
            err_case("conflict with rename target", doc! {"$rename": {"a": "b"}, "$set": {"b.c": 1}}, 40, "Updating the path 'b.c' would create a conflict at 'b'"),
            err_case(
                "unknown modifier",
                doc! {"$foo": {"a": 1}},
                9,
                "Unknown modifier: $foo. Expected a valid update modifier or pipeline-style update specified as an array",
            ),
            err_case(
                "field after operators",
                doc! {"$set": {"a": 1}, "b": 1},
                9,
                "Unknown modifier: b. Expected a valid update modifier or pipeline-style update specified as an array",
            ),
            err_case(
                "not a document",
                doc! {"$set": 1},
                9,
                "Modifiers operate on fields but we found type int instead. For example: {$mod: {<field>: ...}} not {$set: 1}",
            ),
            err_case("empty", doc! {"$inc": {}}, 9, "'$inc' is empty. You must specify a field like so: {$inc: {<field>: ...}}"),
            err_case("empty path component", doc! {"$set": {"a..b": 1}}, 56, "The update path 'a..b' contains an empty field name, which is not allowed."),
            err_case(
                "dollar field in replacement",
                doc! {"a": 1, "$set": {"b": 1}},
                52,
                "The dollar ($) prefixed field '$set' in '$set' is not allowed in the context of an update's replacement document. Consider using an aggregation pipeline with $replaceWith.",
            ),
            err_case("rename to non-string", doc! {"$rename": {"a": 1}}, 2, "The 'to' field for $rename must be a string: a: 1"),
            err_case("rename same", doc! {"$rename": {"a": "a"}}, 2, "The source and target field for $rename must differ: a: \"a\""),
            err_case("rename same path", doc! {"$rename": {"a": "a.b"}}, 2, "The source and target field for $rename must not be on the same path: a: \"a.b\""),
            err_case("rename dynamic", doc! {"$rename": {"a.$": "b"}}, 2, "The source field for $rename may not be dynamic: a.$"),
            err_case(
                "currentDate type",
                doc! {"$currentDate": {"a": 1}},
                2,
                "a: 1 is not valid type for $currentDate. Please use a boolean ('true') or a $type expression ({$type: 'timestamp/date'}).",
            ),
            err_case(
                "bit type",
                doc! {"$bit": {"a": {"and": 1.5}}},
                2,
                "The $bit modifier field must be an Integer(32/64 bit); a 'double' is not supported here: {and: 1.5}",
            ),
        ],
        parse,
    );
}
