//! Comparison query operators: $eq, $ne, $gt, $gte, $lt, $lte, $in, $nin,
//! including null versus missing, mixed numeric types, type bracketing,
//! MinKey/MaxKey, NaN, and arrays.

mod common;

use bson::{doc, Bson};
use common::*;

const EQ_42: &[&str] = &["int", "long", "double", "decimal", "array-one", "array-three"];
const NULLISH: &[&str] = &["null", "missing", "array-three", "array-null"];

#[test]
fn equality() {
    let data = all_docs();
    run_filter_cases(
        &data,
        &[
            case("int", doc! {"v": 42}, EQ_42),
            case("explicit $eq", doc! {"v": {"$eq": 42}}, EQ_42),
            case("double matches all numeric types", doc! {"v": 42.0}, EQ_42),
            case("long", doc! {"v": 42i64}, EQ_42),
            case("decimal", doc! {"v": dec("42.0")}, EQ_42),
            case("zero and negative zero", doc! {"v": 0}, &["int-zero", "double-neg-zero"]),
            case("nan equals nan", doc! {"v": f64::NAN}, &["double-nan"]),
            case("string", doc! {"v": "foo"}, &["string", "array-three"]),
            case("numeric string is not a number", doc! {"v": "42"}, &["string-num"]),
            case("empty string", doc! {"v": ""}, &["string-empty"]),
            case("null matches null, missing and arrays holding null", doc! {"v": null}, NULLISH),
            case("bool", doc! {"v": false}, &["bool-false"]),
            case("date", doc! {"v": date(1_700_000_000_000)}, &["date"]),
            case("objectid", doc! {"v": oid("000102030405060708091011")}, &["objectid"]),
            case(
                "whole array or element equal to the array",
                doc! {"v": [42]},
                &["array-one", "array-nested"],
            ),
            case("empty array", doc! {"v": []}, &["array-empty"]),
            case("array order matters", doc! {"v": [null, "foo", 42]}, &[]),
            case(
                "document equality, also as an array element",
                doc! {"v": {"a": 42}},
                &["array-docs", "doc"],
            ),
            case("empty document", doc! {"v": {}}, &["doc-empty"]),
            case("field order matters in documents", doc! {"v": {"b": 1, "a": "foo"}}, &[]),
            case("$eq with a regex compares regexes", doc! {"v": {"$eq": regex("foo", "i")}}, &["regex"]),
            case("minkey", doc! {"v": Bson::MinKey}, &["minkey"]),
            case("maxkey", doc! {"v": Bson::MaxKey}, &["maxkey"]),
        ],
    );
}

#[test]
fn not_equal() {
    let data = all_docs();
    run_filter_cases(
        &data,
        &[
            case_ids(
                "$ne 42 rejects arrays containing 42",
                doc! {"v": {"$ne": 42}},
                all_except(&data, EQ_42),
            ),
            case_ids("$ne null", doc! {"v": {"$ne": null}}, all_except(&data, NULLISH)),
            case_ids(
                "$ne array",
                doc! {"v": {"$ne": [42]}},
                all_except(&data, &["array-one", "array-nested"]),
            ),
        ],
    );
}

#[test]
fn ordering_within_type_brackets() {
    let data = all_docs();
    let gte_42 = &["int", "long", "double", "double-frac", "decimal", "array-one", "array-three"];
    run_filter_cases(
        &data,
        &[
            case("$gt number", doc! {"v": {"$gt": 42}}, &["double-frac"]),
            case("$gte number", doc! {"v": {"$gte": 42}}, gte_42),
            case("$gt across numeric types", doc! {"v": {"$gt": dec("41.9")}}, gte_42),
            case(
                "$lt number excludes NaN and strings",
                doc! {"v": {"$lt": 42}},
                &["int-zero", "double-neg-zero"],
            ),
            case("$lte zero", doc! {"v": {"$lte": 0}}, &["int-zero", "double-neg-zero"]),
            case("$gt string", doc! {"v": {"$gt": "a"}}, &["string", "array-three"]),
            case("$lt string", doc! {"v": {"$lt": "5"}}, &["string-num", "string-empty"]),
            case("$gt date", doc! {"v": {"$gt": date(0)}}, &["date"]),
            case("$lt true", doc! {"v": {"$lt": true}}, &["bool-false"]),
            case("$gte null is like $eq null", doc! {"v": {"$gte": null}}, NULLISH),
            case("$lt null matches nothing", doc! {"v": {"$lt": null}}, &[]),
            case("$gt NaN matches nothing", doc! {"v": {"$gt": f64::NAN}}, &[]),
            case("$gte NaN matches NaN", doc! {"v": {"$gte": f64::NAN}}, &["double-nan"]),
            case(
                "$gt empty array compares arrays",
                doc! {"v": {"$gt": []}},
                &["array-one", "array-three", "array-nested", "array-docs", "array-null"],
            ),
            case("$gt empty document", doc! {"v": {"$gt": {}}}, &["array-docs", "doc", "doc-nested"]),
            case_ids(
                "$gt MinKey matches everything else, even missing",
                doc! {"v": {"$gt": Bson::MinKey}},
                all_except(&data, &["minkey"]),
            ),
            case_ids(
                "$lt MaxKey matches everything else, even missing",
                doc! {"v": {"$lt": Bson::MaxKey}},
                all_except(&data, &["maxkey"]),
            ),
            case("$gte MaxKey", doc! {"v": {"$gte": Bson::MaxKey}}, &["maxkey"]),
            case(
                "range",
                doc! {"v": {"$gt": 0, "$lt": 42.5}},
                &["int", "long", "double", "decimal", "array-one", "array-three"],
            ),
        ],
    );
}

#[test]
fn in_and_nin() {
    let data = all_docs();
    let in_42_null =
        &["int", "long", "double", "decimal", "null", "missing", "array-one", "array-three", "array-null"];
    run_filter_cases(
        &data,
        &[
            case(
                "$in values",
                doc! {"v": {"$in": [42, "foo"]}},
                &["int", "long", "double", "decimal", "string", "array-one", "array-three"],
            ),
            case("$in null matches missing", doc! {"v": {"$in": [null]}}, NULLISH),
            case("$in regex", doc! {"v": {"$in": [regex("^fo", "")]}}, &["string", "array-three"]),
            case(
                "$in regex and value",
                doc! {"v": {"$in": [regex("^F", "i"), false]}},
                &["string", "bool-false", "array-three"],
            ),
            case("$in empty matches nothing", doc! {"v": {"$in": []}}, &[]),
            case("$in array value", doc! {"v": {"$in": [[42]]}}, &["array-one", "array-nested"]),
            case("$in", doc! {"v": {"$in": [42, null]}}, in_42_null),
            case_ids("$nin", doc! {"v": {"$nin": [42, null]}}, all_except(&data, in_42_null)),
            case_ids("$nin empty matches everything", doc! {"v": {"$nin": []}}, all_except(&data, &[])),
        ],
    );
}

#[test]
fn dotted_paths() {
    let data = all_docs();
    let scalar_ids: Vec<String> = scalars().iter().map(id_of).collect();
    let mut null_sub = scalar_ids.clone();
    null_sub.push("doc-empty".into());
    run_filter_cases(
        &data,
        &[
            case("through documents and arrays of documents", doc! {"v.a": 42}, &["array-docs", "doc"]),
            case("second element", doc! {"v.a": "foo"}, &["array-docs"]),
            case("deeper", doc! {"v.a.b": 42}, &["doc-nested"]),
            // A scalar in the middle of the path counts as missing, but an
            // array with no documents yields nothing at all.
            case_ids("null through scalars", doc! {"v.a": null}, null_sub),
            case("numeric component indexes arrays", doc! {"v.0": 42}, &["array-one", "array-three"]),
            case("numeric component names a nested array", doc! {"v.0": [42]}, &["array-nested"]),
            case("second index", doc! {"v.1": "foo"}, &["array-three"]),
            case("index then field", doc! {"v.1.a": "foo"}, &["array-docs"]),
            case("$gt through arrays of documents", doc! {"v.a": {"$gt": 40}}, &["array-docs", "doc"]),
        ],
    );
}

#[test]
fn arrays_of_arrays_are_not_flattened() {
    let data = vec![
        doc! {"_id": "nested", "a": [[1, 2], [3]]},
        doc! {"_id": "flat", "a": [1, 2, 3]},
        doc! {"_id": "deep", "a": [{"b": [[5]]}]},
    ];
    run_filter_cases(
        &data,
        &[
            case("scalar does not match inside nested arrays", doc! {"a": 1}, &["flat"]),
            case("nested array element matches", doc! {"a": [1, 2]}, &["nested"]),
            case("index into nested", doc! {"a.0": [1, 2]}, &["nested"]),
            case("index then index", doc! {"a.0.1": 2}, &["nested"]),
            case("nested array at the end of a dotted path", doc! {"a.b": [5]}, &["deep"]),
            case("no double flattening", doc! {"a.b": 5}, &[]),
        ],
    );
}

#[test]
fn comparison_errors() {
    run_error_cases(
        &[
            err_case(
                "regex in $gt",
                doc! {"v": {"$gt": regex("x", "")}},
                2,
                "Can't have RegEx as arg to predicate over field 'v'.",
            ),
            err_case(
                "regex in $ne",
                doc! {"v": {"$ne": regex("x", "")}},
                2,
                "Can't have regex as arg to $ne.",
            ),
            err_case("$in not array", doc! {"v": {"$in": 1}}, 2, "$in needs an array"),
            err_case("$nin not array", doc! {"v": {"$nin": "x"}}, 2, "$nin needs an array"),
            err_case("operator in $in", doc! {"v": {"$in": [{"$gt": 1}]}}, 2, "cannot nest $ under $in"),
            err_case("undefined", doc! {"v": {"$eq": Bson::Undefined}}, 2, "cannot compare to undefined"),
            err_case("unknown operator", doc! {"v": {"$foo": 1}}, 2, "unknown operator: $foo"),
            err_case("field after operator", doc! {"v": {"$gt": 1, "b": 2}}, 2, "unknown operator: b"),
        ],
        argon_query::Filter::parse,
    );
}

#[test]
fn missing_field_only_matches_null_like_predicates() {
    let data = vec![doc! {"_id": "missing"}];
    run_filter_cases(
        &data,
        &[
            case("$eq null", doc! {"x": null}, &["missing"]),
            case("$lte null", doc! {"x": {"$lte": null}}, &["missing"]),
            case("$ne 1", doc! {"x": {"$ne": 1}}, &["missing"]),
            case("$gt null", doc! {"x": {"$gt": null}}, &[]),
            case("$eq 0", doc! {"x": 0}, &[]),
            case("$exists", doc! {"x": {"$exists": true}}, &[]),
        ],
    );
}
