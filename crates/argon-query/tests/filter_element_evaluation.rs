//! Element and evaluation operators: $exists, $type, $regex/$options,
//! $mod, and the bitwise operators.

mod common;

use argon_query::Filter;
use bson::{doc, spec::BinarySubtype, Binary, Bson};
use common::*;

#[test]
fn exists() {
    let data = all_docs();
    run_filter_cases(
        &data,
        &[
            case_ids("true", doc! {"v": {"$exists": true}}, all_except(&data, &["missing"])),
            case("false", doc! {"v": {"$exists": false}}, &["missing"]),
            case_ids("truthy number", doc! {"v": {"$exists": 1}}, all_except(&data, &["missing"])),
            case("null counts as false", doc! {"v": {"$exists": null}}, &["missing"]),
            case("dotted", doc! {"v.a": {"$exists": true}}, &["array-docs", "doc", "doc-nested"]),
            case("array index", doc! {"v.2": {"$exists": true}}, &["array-three"]),
        ],
    );
}

#[test]
fn type_operator() {
    let data = all_docs();
    run_filter_cases(
        &data,
        &[
            case(
                "number alias",
                doc! {"v": {"$type": "number"}},
                &[
                    "int",
                    "int-zero",
                    "long",
                    "double",
                    "double-frac",
                    "double-nan",
                    "double-neg-zero",
                    "decimal",
                    "array-one",
                    "array-three",
                ],
            ),
            case("int", doc! {"v": {"$type": "int"}}, &["int", "int-zero", "array-one", "array-three"]),
            case("by number", doc! {"v": {"$type": 18}}, &["long"]),
            case(
                "double as a double code",
                doc! {"v": {"$type": 1.0}},
                &["double", "double-frac", "double-nan", "double-neg-zero"],
            ),
            case(
                "array matches the array itself",
                doc! {"v": {"$type": "array"}},
                &["array-empty", "array-one", "array-three", "array-nested", "array-docs", "array-null"],
            ),
            case(
                "string includes array elements",
                doc! {"v": {"$type": "string"}},
                &["string", "string-num", "string-empty", "array-three"],
            ),
            case(
                "null does not match missing",
                doc! {"v": {"$type": 10}},
                &["null", "array-three", "array-null"],
            ),
            case(
                "list of types",
                doc! {"v": {"$type": ["bool", "date"]}},
                &["bool-true", "bool-false", "date"],
            ),
            case(
                "object",
                doc! {"v": {"$type": "object"}},
                &["array-docs", "doc", "doc-empty", "doc-nested"],
            ),
            case("minKey and maxKey", doc! {"v": {"$type": [-1, 127]}}, &["minkey", "maxkey"]),
            case("regex", doc! {"v": {"$type": "regex"}}, &["regex"]),
            case("objectId", doc! {"v": {"$type": "objectId"}}, &["objectid"]),
        ],
    );
    run_error_cases(
        &[
            err_case("alias", doc! {"v": {"$type": "foo"}}, 2, "Unknown type name alias: foo"),
            err_case("code", doc! {"v": {"$type": 100}}, 2, "Invalid numerical type code: 100"),
            err_case("fraction", doc! {"v": {"$type": 1.5}}, 2, "Invalid numerical type code: 1.5"),
            err_case("empty", doc! {"v": {"$type": []}}, 9, "v must match at least one type"),
            err_case(
                "wrong type",
                doc! {"v": {"$type": {}}},
                14,
                "type must be represented as a number or a string",
            ),
        ],
        Filter::parse,
    );
}

#[test]
fn regex_operator() {
    let data = all_docs();
    run_filter_cases(
        &data,
        &[
            case("$regex string", doc! {"v": {"$regex": "^f"}}, &["string", "array-three"]),
            case("$options", doc! {"v": {"$regex": "^F", "$options": "i"}}, &["string", "array-three"]),
            case(
                "options before regex",
                doc! {"v": {"$options": "i", "$regex": "O+$"}},
                &["string", "array-three"],
            ),
            case(
                "bare regex also matches an equal stored regex",
                doc! {"v": regex("foo", "i")},
                &["string", "regex", "array-three"],
            ),
            case("$regex with a regex value", doc! {"v": {"$regex": regex("^4", "")}}, &["string-num"]),
            case(
                "anchors, groups and classes",
                doc! {"_id": {"$regex": "^array-(one|n[a-z]+)$"}},
                &["array-one", "array-nested", "array-null"],
            ),
            case("multiline", doc! {"s": {"$regex": "^b", "$options": "m"}}, &[]),
            case("dotall", doc! {"_id": {"$regex": "int.zero", "$options": "s"}}, &["int-zero"]),
            case("extended", doc! {"_id": {"$regex": "^ in t $ # comment", "$options": "x"}}, &["int"]),
            case("non-strings never match", doc! {"v": {"$regex": "4"}}, &["string-num"]),
        ],
    );
    let lines = vec![doc! {"_id": "lines", "s": "a\nb"}];
    run_filter_cases(
        &lines,
        &[
            case("multiline anchor", doc! {"s": {"$regex": "^b", "$options": "m"}}, &["lines"]),
            case("no multiline", doc! {"s": {"$regex": "^b"}}, &[]),
        ],
    );
    run_error_cases(
        &[
            err_case("not a string", doc! {"v": {"$regex": 1}}, 2, "$regex has to be a string"),
            err_case("options alone", doc! {"v": {"$options": "i"}}, 2, "$options needs a $regex"),
            err_case(
                "options not a string",
                doc! {"v": {"$regex": "a", "$options": 1}},
                2,
                "$options has to be a string",
            ),
            err_case(
                "bad flag",
                doc! {"v": {"$regex": "a", "$options": "z"}},
                51108,
                "invalid flag in regex options: z",
            ),
            err_case(
                "options twice",
                doc! {"v": {"$options": "i", "$regex": regex("a", "m")}},
                51074,
                "options set in both $regex and $options",
            ),
        ],
        Filter::parse,
    );
    let e = Filter::parse(&doc! {"v": {"$regex": "("}}).unwrap_err();
    assert_eq!(e.code, 51091);
    assert!(e.message.starts_with("Regular expression is invalid: "), "{}", e.message);
}

#[test]
fn modulo() {
    let data = all_docs();
    run_filter_cases(
        &data,
        &[
            case(
                "42 % 5 == 2, fractions truncated",
                doc! {"v": {"$mod": [5, 2]}},
                &["int", "long", "double", "double-frac", "decimal", "array-one", "array-three"],
            ),
            case(
                "zero",
                doc! {"v": {"$mod": [7, 0]}},
                &[
                    "int",
                    "int-zero",
                    "long",
                    "double",
                    "double-frac",
                    "double-neg-zero",
                    "decimal",
                    "array-one",
                    "array-three",
                ],
            ),
            case(
                "negative divisor",
                doc! {"v": {"$mod": [-5, 2]}},
                &["int", "long", "double", "double-frac", "decimal", "array-one", "array-three"],
            ),
            case(
                "double divisor truncated",
                doc! {"v": {"$mod": [5.9, 2]}},
                &["int", "long", "double", "double-frac", "decimal", "array-one", "array-three"],
            ),
        ],
    );
    run_error_cases(
        &[
            err_case("zero divisor", doc! {"v": {"$mod": [0, 1]}}, 2, "divisor cannot be 0"),
            err_case("not array", doc! {"v": {"$mod": 1}}, 2, "malformed mod, needs to be an array"),
            err_case("empty", doc! {"v": {"$mod": []}}, 2, "malformed mod, not enough elements"),
            err_case("one", doc! {"v": {"$mod": [1]}}, 2, "malformed mod, not enough elements"),
            err_case("three", doc! {"v": {"$mod": [1, 2, 3]}}, 2, "malformed mod, too many elements"),
            err_case(
                "divisor type",
                doc! {"v": {"$mod": ["a", 1]}},
                2,
                "malformed mod, divisor not a number",
            ),
            err_case(
                "remainder type",
                doc! {"v": {"$mod": [1, "a"]}},
                2,
                "malformed mod, remainder not a number",
            ),
        ],
        Filter::parse,
    );
}

#[test]
fn bitwise() {
    let data = vec![
        doc! {"_id": "five", "b": 5},
        doc! {"_id": "six-long", "b": 6i64},
        doc! {"_id": "neg", "b": -1},
        doc! {"_id": "bin", "b": Bson::Binary(Binary { subtype: BinarySubtype::Generic, bytes: vec![0b0000_0101] })},
        doc! {"_id": "frac", "b": 5.5},
        doc! {"_id": "str", "b": "5"},
    ];
    run_filter_cases(
        &data,
        &[
            case("all set mask", doc! {"b": {"$bitsAllSet": 5}}, &["five", "neg", "bin"]),
            case("all set positions", doc! {"b": {"$bitsAllSet": [0, 2]}}, &["five", "neg", "bin"]),
            case("any set", doc! {"b": {"$bitsAnySet": [1]}}, &["six-long", "neg"]),
            case("all clear", doc! {"b": {"$bitsAllClear": [1]}}, &["five", "bin"]),
            case("any clear", doc! {"b": {"$bitsAnyClear": 7}}, &["five", "six-long", "bin"]),
            case("high bits test the sign", doc! {"b": {"$bitsAllSet": [100]}}, &["neg"]),
        ],
    );
    run_error_cases(
        &[
            err_case(
                "negative mask",
                doc! {"b": {"$bitsAllSet": -1}},
                9,
                "Expected a non-negative number in: $bitsAllSet: -1",
            ),
            err_case(
                "fraction",
                doc! {"b": {"$bitsAnySet": 1.2}},
                9,
                "Expected an integer: $bitsAnySet: 1.2",
            ),
            err_case(
                "string",
                doc! {"b": {"$bitsAllClear": "123"}},
                2,
                "b takes an Array, a number, or a BinData but received: $bitsAllClear: \"123\"",
            ),
            err_case(
                "negative position",
                doc! {"b": {"$bitsAnyClear": [-1]}},
                2,
                "Failed to parse bit position. Expected a non-negative number in: 0: -1",
            ),
        ],
        Filter::parse,
    );
}
