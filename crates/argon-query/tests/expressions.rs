//! Aggregation expressions, operator by operator, with MongoDB's result
//! types (int/long/double promotion), null and missing handling, and error
//! codes.

mod common;

use argon_query::expr::{eval, Expression, Vars};
use bson::{bson, doc, Bson, Document};
use common::*;

fn root() -> Document {
    doc! {
        "_id": 1,
        "a": 5,
        "b": 2,
        "l": 10i64,
        "f": 2.5,
        "s": "Hello World",
        "u": "héllo",
        "arr": [1, 2, 3],
        "docs": [{"x": 1, "y": "a"}, {"x": 2}, {"y": "c"}],
        "n": null,
        "d": date(1_700_000_000_123),
        "obj": {"k": "v", "z": 0},
        "t": true,
    }
}

fn vars() -> Vars {
    Vars::new(bson::DateTime::from_millis(1_000)).with("limit", Bson::Int32(2))
}

/// `want: None` means the result is missing.
fn check(cases: Vec<(&str, Bson, Option<Bson>)>) {
    let doc = root();
    let vars = vars();
    let names: Vec<String> = vars.names().map(String::from).collect();
    let mut failures = Vec::new();
    for (name, expr, want) in cases {
        let got = Expression::parse_with_vars(&expr, &names).and_then(|e| e.evaluate(&doc, &vars));
        match got {
            Ok(got) if got == want => {}
            other => failures.push(format!("{name}: {expr}\n   want {want:?}\n    got {other:?}")),
        }
    }
    assert!(failures.is_empty(), "{} failed:\n{}", failures.len(), failures.join("\n"));
}

fn v(b: Bson) -> Option<Bson> {
    Some(b)
}

fn check_errors(cases: Vec<(&str, Bson, i32, &str)>) {
    let doc = root();
    let vars = vars();
    let names: Vec<String> = vars.names().map(String::from).collect();
    let mut failures = Vec::new();
    for (name, expr, code, message) in cases {
        match Expression::parse_with_vars(&expr, &names).and_then(|e| e.evaluate(&doc, &vars)) {
            Err(e) if e.code == code && e.message == message => {}
            other => failures.push(format!("{name}: {expr}\n   want {code} {message:?}\n    got {other:?}")),
        }
    }
    assert!(failures.is_empty(), "{} failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn field_paths_and_variables() {
    check(vec![
        ("field", bson!("$a"), v(bson!(5))),
        ("nested", bson!("$obj.k"), v(bson!("v"))),
        ("through array of documents", bson!("$docs.x"), v(bson!([1, 2]))),
        ("numeric component is a field name", bson!("$arr.0"), v(bson!([]))),
        (
            "nested arrays are skipped",
            bson!({"$let": {"vars": {"x": [[{"b": 1}], {"b": 2}, 3]}, "in": "$$x.b"}}),
            v(bson!([2])),
        ),
        ("missing", bson!("$nope"), None),
        ("missing under scalar", bson!("$a.b"), None),
        ("$$ROOT", bson!("$$ROOT.b"), v(bson!(2))),
        ("$$CURRENT", bson!("$$CURRENT.a"), v(bson!(5))),
        ("$$NOW", bson!("$$NOW"), v(Bson::DateTime(bson::DateTime::from_millis(1_000)))),
        ("user variable", bson!("$$limit"), v(bson!(2))),
        ("$$REMOVE", bson!("$$REMOVE"), None),
        ("object literal drops missing", bson!({"x": "$a", "y": "$nope"}), v(bson!({"x": 5}))),
        ("array literal turns missing into null", bson!(["$a", "$nope"]), v(bson!([5, null]))),
        ("$literal", bson!({"$literal": "$a"}), v(bson!("$a"))),
        ("$let", bson!({"$let": {"vars": {"x": "$a", "y": 3}, "in": {"$add": ["$$x", "$$y"]}}}), v(bson!(8))),
        (
            "nested $let shadows",
            bson!({"$let": {"vars": {"x": 1}, "in": {"$let": {"vars": {"x": 2}, "in": "$$x"}}}}),
            v(bson!(2)),
        ),
    ]);
    check_errors(vec![
        ("undefined variable", bson!("$$nope"), 17276, "Use of undefined variable: nope"),
        ("bare $", bson!("$"), 16872, "'$' by itself is not a valid FieldPath"),
        ("empty component", bson!("$a..b"), 15998, "FieldPath field names may not be empty strings."),
        ("trailing dot", bson!("$a."), 40353, "FieldPath must not end with a '.'."),
        ("unknown operator", bson!({"$foo": 1}), 168, "Unrecognized expression '$foo'"),
        (
            "two operators",
            bson!({"$add": [1], "$abs": 1}),
            15983,
            "An object representing an expression must have exactly one field: { $add: [ 1 ], $abs: 1 }",
        ),
        (
            "$let bad name",
            bson!({"$let": {"vars": {"X": 1}, "in": 1}}),
            16867,
            "'X' starts with an invalid character for a user variable name",
        ),
        ("$let missing in", bson!({"$let": {"vars": {}}}), 16877, "Missing 'in' parameter to $let"),
    ]);
}

#[test]
fn arithmetic() {
    check(vec![
        ("add ints", bson!({"$add": ["$a", "$b"]}), v(bson!(7))),
        ("add int and long", bson!({"$add": ["$a", "$l"]}), v(bson!(15i64))),
        ("add double", bson!({"$add": ["$a", "$f"]}), v(bson!(7.5))),
        ("add overflow to long", bson!({"$add": [i32::MAX, 1]}), v(bson!(i32::MAX as i64 + 1))),
        ("add long overflow to double", bson!({"$add": [i64::MAX, 1i64]}), v(bson!(i64::MAX as f64 + 1.0))),
        ("add decimal", bson!({"$add": [dec("0.1"), dec("0.2")]}), v(dec("0.3"))),
        ("add null", bson!({"$add": ["$a", null]}), v(Bson::Null)),
        ("add missing", bson!({"$add": ["$a", "$nope"]}), v(Bson::Null)),
        ("add date and millis", bson!({"$add": ["$d", 1000]}), v(date(1_700_000_001_123))),
        ("add nothing", bson!({"$add": []}), v(bson!(0))),
        ("subtract", bson!({"$subtract": ["$a", "$b"]}), v(bson!(3))),
        ("subtract dates", bson!({"$subtract": ["$d", date(1_700_000_000_000)]}), v(bson!(123i64))),
        ("subtract millis from date", bson!({"$subtract": ["$d", 123]}), v(date(1_700_000_000_000))),
        ("multiply", bson!({"$multiply": ["$a", "$b", "$f"]}), v(bson!(25.0))),
        ("multiply overflow", bson!({"$multiply": [i64::MAX, 2]}), v(bson!(i64::MAX as f64 * 2.0))),
        ("divide is double", bson!({"$divide": ["$a", "$b"]}), v(bson!(2.5))),
        ("divide exact is double", bson!({"$divide": [4, 2]}), v(bson!(2.0))),
        ("mod ints", bson!({"$mod": ["$a", "$b"]}), v(bson!(1))),
        ("mod negative", bson!({"$mod": [-5, 3]}), v(bson!(-2))),
        ("mod double", bson!({"$mod": [5.5, 2]}), v(bson!(1.5))),
        ("mod long", bson!({"$mod": ["$l", 3]}), v(bson!(1i64))),
        ("abs", bson!({"$abs": -3}), v(bson!(3))),
        ("abs int min widens", bson!({"$abs": i32::MIN}), v(bson!(2147483648i64))),
        ("abs null", bson!({"$abs": null}), v(Bson::Null)),
        ("ceil", bson!({"$ceil": 2.1}), v(bson!(3.0))),
        ("floor", bson!({"$floor": -2.1}), v(bson!(-3.0))),
        ("floor int unchanged", bson!({"$floor": 7}), v(bson!(7))),
        ("round half to even", bson!({"$round": [2.5]}), v(bson!(2.0))),
        ("round places uses the exact binary value", bson!({"$round": [2.675, 2]}), v(bson!(2.67))),
        ("round places up", bson!({"$round": [2.345, 2]}), v(bson!(2.35))),
        ("round exact tie to even", bson!({"$round": [0.125, 2]}), v(bson!(0.12))),
        ("trunc exact value", bson!({"$trunc": [1.005, 2]}), v(bson!(1.0))),
        ("round to tens of a double", bson!({"$round": [1234.5, -1]}), v(bson!(1230.0))),
        ("round tie to even tens", bson!({"$round": [25.0, -1]}), v(bson!(20.0))),
        ("round small to zero", bson!({"$round": [0.004, 2]}), v(bson!(0.0))),
        ("round negative places", bson!({"$round": [1250, -2]}), v(bson!(1200))),
        ("round int with places", bson!({"$round": ["$a", 1]}), v(bson!(5))),
        ("trunc", bson!({"$trunc": [-2.7]}), v(bson!(-2.0))),
        ("trunc places", bson!({"$trunc": [2.789, 1]}), v(bson!(2.7))),
        ("pow ints", bson!({"$pow": [2, 10]}), v(bson!(1024))),
        ("pow overflow int to long", bson!({"$pow": [2, 40]}), v(bson!(1i64 << 40))),
        ("pow negative exponent", bson!({"$pow": [2, -1]}), v(bson!(0.5))),
        ("pow double", bson!({"$pow": [4.0, 0.5]}), v(bson!(2.0))),
        ("sqrt", bson!({"$sqrt": 16}), v(bson!(4.0))),
        ("exp", bson!({"$exp": 0}), v(bson!(1.0))),
        ("ln", bson!({"$ln": 1}), v(bson!(0.0))),
        ("log10", bson!({"$log10": 1000}), v(bson!(3.0))),
        ("log", bson!({"$log": [8, 2]}), v(bson!(3.0))),
        ("sum of array", bson!({"$sum": "$arr"}), v(bson!(6))),
        ("sum of args ignores strings", bson!({"$sum": [1, "x", 2.5]}), v(bson!(3.5))),
        ("avg of array", bson!({"$avg": "$arr"}), v(bson!(2.0))),
        ("avg of nothing", bson!({"$avg": "$s"}), v(Bson::Null)),
        ("max of array", bson!({"$max": "$arr"}), v(bson!(3))),
        ("min ignores null", bson!({"$min": [null, 4, 2]}), v(bson!(2))),
    ]);
    check_errors(vec![
        ("add string", bson!({"$add": [1, "x"]}), 14, "$add only supports numeric or date types, not string"),
        (
            "add two dates",
            bson!({"$add": ["$d", "$d"]}),
            16612,
            "only one date allowed in an $add expression",
        ),
        ("subtract date from number", bson!({"$subtract": [1, "$d"]}), 14, "can't $subtract date from int"),
        (
            "multiply string",
            bson!({"$multiply": [2, "$s"]}),
            14,
            "$multiply only supports numeric types, not string",
        ),
        ("divide by zero", bson!({"$divide": [1, 0]}), 2, "can't $divide by zero"),
        (
            "divide string",
            bson!({"$divide": ["$s", 1]}),
            14,
            "$divide only supports numeric types, not string and int",
        ),
        ("mod by zero", bson!({"$mod": [1, 0]}), 16610, "can't $mod by zero"),
        (
            "mod string",
            bson!({"$mod": ["x", 1]}),
            16611,
            "$mod only supports numeric types, not string and int",
        ),
        ("abs string", bson!({"$abs": "x"}), 28765, "$abs only supports numeric types, not string"),
        ("abs long min", bson!({"$abs": i64::MIN}), 28680, "can't take $abs of long long min"),
        ("sqrt negative", bson!({"$sqrt": -1}), 28714, "$sqrt's argument must be greater than or equal to 0"),
        ("ln zero", bson!({"$ln": 0}), 28766, "$ln's argument must be a positive number, but is 0"),
        (
            "log10 negative",
            bson!({"$log10": -1}),
            28761,
            "$log10's argument must be a positive number, but is -1",
        ),
        (
            "log base one",
            bson!({"$log": [2, 1]}),
            28759,
            "$log's base must be a positive number not equal to 1, but is 1",
        ),
        (
            "pow zero negative",
            bson!({"$pow": [0, -1]}),
            28764,
            "$pow cannot take a base of 0 and a negative exponent",
        ),
        (
            "round places type",
            bson!({"$round": [1, 1.5]}),
            51082,
            "precision argument to  $round must be a integral value",
        ),
        (
            "round places range",
            bson!({"$round": [1, 200]}),
            51083,
            "cannot apply $round with precision value 200 value must be in [-20, 100]",
        ),
        (
            "arity",
            bson!({"$abs": [1, 2]}),
            16020,
            "Expression $abs takes exactly 1 arguments. 2 were passed in.",
        ),
        (
            "ranged arity",
            bson!({"$round": []}),
            28667,
            "Expression $round takes at least 1 arguments, and at most 2, but 0 were passed in.",
        ),
    ]);
}

#[test]
fn comparison_and_boolean() {
    check(vec![
        ("eq across numeric types", bson!({"$eq": ["$a", 5.0]}), v(bson!(true))),
        ("ne", bson!({"$ne": ["$a", "$b"]}), v(bson!(true))),
        ("gt across types uses BSON order", bson!({"$gt": ["$s", "$a"]}), v(bson!(true))),
        ("missing is not null", bson!({"$eq": ["$nope", null]}), v(bson!(false))),
        ("missing is less than null", bson!({"$lt": ["$nope", null]}), v(bson!(true))),
        ("cmp", bson!({"$cmp": ["$a", "$b"]}), v(bson!(1))),
        ("cmp arrays", bson!({"$cmp": [[1, 2], [1, 3]]}), v(bson!(-1))),
        ("lte", bson!({"$lte": ["$b", 2]}), v(bson!(true))),
        ("and", bson!({"$and": ["$t", {"$gt": ["$a", 1]}]}), v(bson!(true))),
        ("and with zero", bson!({"$and": [1, 0]}), v(bson!(false))),
        ("and empty", bson!({"$and": []}), v(bson!(true))),
        ("or", bson!({"$or": [null, "$nope", ""]}), v(bson!(true))),
        ("or all false", bson!({"$or": [false, 0, null]}), v(bson!(false))),
        ("not", bson!({"$not": [[]]}), v(bson!(false))),
        ("not missing", bson!({"$not": "$nope"}), v(bson!(true))),
    ]);
}

#[test]
fn strings() {
    check(vec![
        ("concat", bson!({"$concat": ["$s", "!", ""]}), v(bson!("Hello World!"))),
        ("concat null", bson!({"$concat": ["a", "$nope"]}), v(Bson::Null)),
        ("toLower", bson!({"$toLower": "$s"}), v(bson!("hello world"))),
        ("toUpper number", bson!({"$toUpper": 5}), v(bson!("5"))),
        ("toLower null", bson!({"$toLower": null}), v(bson!(""))),
        ("substr", bson!({"$substr": ["$s", 0, 5]}), v(bson!("Hello"))),
        ("substrBytes rest", bson!({"$substrBytes": ["$s", 6, -1]}), v(bson!("World"))),
        ("substrBytes past end", bson!({"$substrBytes": ["$s", 50, 2]}), v(bson!(""))),
        ("substrCP", bson!({"$substrCP": ["$u", 1, 3]}), v(bson!("éll"))),
        ("strLenBytes", bson!({"$strLenBytes": "$u"}), v(bson!(6))),
        ("strLenCP", bson!({"$strLenCP": "$u"}), v(bson!(5))),
        ("split", bson!({"$split": ["a,b,,c", ","]}), v(bson!(["a", "b", "", "c"]))),
        ("split null", bson!({"$split": [null, ","]}), v(Bson::Null)),
        ("trim", bson!({"$trim": {"input": "  hi \n"}}), v(bson!("hi"))),
        ("ltrim chars", bson!({"$ltrim": {"input": "xxhix", "chars": "x"}}), v(bson!("hix"))),
        ("rtrim", bson!({"$rtrim": {"input": " hi "}}), v(bson!(" hi"))),
        ("indexOfBytes", bson!({"$indexOfBytes": ["$s", "o"]}), v(bson!(4))),
        ("indexOfBytes from", bson!({"$indexOfBytes": ["$s", "o", 5]}), v(bson!(7))),
        ("indexOfBytes absent", bson!({"$indexOfBytes": ["$s", "z"]}), v(bson!(-1))),
        ("indexOfCP", bson!({"$indexOfCP": ["$u", "l"]}), v(bson!(2))),
        ("strcasecmp", bson!({"$strcasecmp": ["abc", "ABD"]}), v(bson!(-1))),
        (
            "regexMatch",
            bson!({"$regexMatch": {"input": "$s", "regex": "^hello", "options": "i"}}),
            v(bson!(true)),
        ),
        (
            "regexMatch regex value",
            bson!({"$regexMatch": {"input": "$s", "regex": regex("world$", "")}}),
            v(bson!(false)),
        ),
        ("regexMatch null input", bson!({"$regexMatch": {"input": "$nope", "regex": "x"}}), v(bson!(false))),
        (
            "regexFind",
            bson!({"$regexFind": {"input": "$s", "regex": "(o)(x)?"}}),
            v(bson!({"match": "o", "idx": 4, "captures": ["o", null]})),
        ),
        (
            "regexFindAll",
            bson!({"$regexFindAll": {"input": "a1b22", "regex": "[0-9]+"}}),
            v(bson!([{"match": "1", "idx": 1, "captures": []}, {"match": "22", "idx": 3, "captures": []}])),
        ),
        (
            "replaceAll",
            bson!({"$replaceAll": {"input": "$s", "find": "o", "replacement": "0"}}),
            v(bson!("Hell0 W0rld")),
        ),
        (
            "replaceOne",
            bson!({"$replaceOne": {"input": "$s", "find": "o", "replacement": "0"}}),
            v(bson!("Hell0 World")),
        ),
        (
            "replaceAll null",
            bson!({"$replaceAll": {"input": null, "find": "o", "replacement": "0"}}),
            v(Bson::Null),
        ),
    ]);
    check_errors(vec![
        ("concat number", bson!({"$concat": ["a", 1]}), 16702, "$concat only supports strings, not int"),
        (
            "strLenBytes number",
            bson!({"$strLenBytes": 1}),
            34473,
            "$strLenBytes requires a string argument, found: int",
        ),
        (
            "strLenCP missing",
            bson!({"$strLenCP": "$nope"}),
            34471,
            "$strLenCP requires a string argument, found: missing",
        ),
        ("split separator", bson!({"$split": ["a", ""]}), 40087, "$split requires a non-empty separator"),
        (
            "split input",
            bson!({"$split": [1, ","]}),
            40085,
            "$split requires an expression that evaluates to a string as a first argument, found: int",
        ),
        (
            "substr index",
            bson!({"$substrBytes": ["abc", "x", 1]}),
            16034,
            "$substrBytes:  starting index must be a numeric type (is BSON type string)",
        ),
        (
            "substrBytes mid character",
            bson!({"$substrBytes": ["$u", 2, 1]}),
            28656,
            "$substrBytes:  Invalid range, starting index is a UTF-8 continuation byte.",
        ),
        (
            "toUpper object",
            bson!({"$toUpper": "$obj"}),
            16007,
            "can't convert from BSON type object to String",
        ),
        (
            "trim input",
            bson!({"$trim": {"input": 5}}),
            50699,
            "$trim requires its input to be a string, got 5 (of type int) instead.",
        ),
        (
            "trim unknown",
            bson!({"$trim": {"input": "x", "what": 1}}),
            50694,
            "$trim found an unknown argument: what",
        ),
        (
            "regexMatch input",
            bson!({"$regexMatch": {"input": 1, "regex": "x"}}),
            51104,
            "$regexMatch needs 'input' to be of type string",
        ),
        (
            "regexMatch flag",
            bson!({"$regexMatch": {"input": "x", "regex": "x", "options": "q"}}),
            51108,
            "$regexMatch invalid flag in regex options: q",
        ),
        (
            "replaceAll input",
            bson!({"$replaceAll": {"input": 1, "find": "a", "replacement": "b"}}),
            51746,
            "$replaceAll requires that 'input' be a string, found: 1",
        ),
    ]);
}

#[test]
fn conditionals() {
    check(vec![
        ("cond array", bson!({"$cond": [{"$gt": ["$a", 3]}, "big", "small"]}), v(bson!("big"))),
        ("cond object", bson!({"$cond": {"if": "$nope", "then": 1, "else": 2}}), v(bson!(2))),
        ("ifNull", bson!({"$ifNull": ["$nope", "$n", "default"]}), v(bson!("default"))),
        ("ifNull first", bson!({"$ifNull": ["$a", 0]}), v(bson!(5))),
        ("ifNull last may be missing", bson!({"$ifNull": ["$n", "$nope"]}), None),
        (
            "switch",
            bson!({"$switch": {"branches": [{"case": {"$lt": ["$a", 0]}, "then": "neg"}, {"case": {"$gt": ["$a", 0]}, "then": "pos"}], "default": "zero"}}),
            v(bson!("pos")),
        ),
        (
            "switch default",
            bson!({"$switch": {"branches": [{"case": false, "then": 1}], "default": 2}}),
            v(bson!(2)),
        ),
    ]);
    check_errors(vec![
        (
            "cond missing else",
            bson!({"$cond": {"if": 1, "then": 2}}),
            17082,
            "Missing 'else' parameter to $cond",
        ),
        (
            "cond unknown",
            bson!({"$cond": {"if": 1, "then": 2, "else": 3, "x": 1}}),
            17083,
            "Unrecognized parameter to $cond: x",
        ),
        (
            "cond arity",
            bson!({"$cond": [1, 2]}),
            16020,
            "Expression $cond takes exactly 3 arguments. 2 were passed in.",
        ),
        ("ifNull arity", bson!({"$ifNull": ["$a"]}), 1257300, "$ifNull needs at least two arguments, had: 1"),
        (
            "switch no match",
            bson!({"$switch": {"branches": [{"case": false, "then": 1}]}}),
            40066,
            "$switch could not find a matching branch for an input, and no default was specified.",
        ),
        (
            "switch no branches",
            bson!({"$switch": {"branches": []}}),
            40068,
            "$switch requires at least one branch.",
        ),
        (
            "switch branch",
            bson!({"$switch": {"branches": [{"case": true}]}}),
            40065,
            "$switch requires each branch have a 'then' expression.",
        ),
    ]);
}

#[test]
fn arrays_and_objects() {
    check(vec![
        ("size", bson!({"$size": "$arr"}), v(bson!(3))),
        ("arrayElemAt", bson!({"$arrayElemAt": ["$arr", 1]}), v(bson!(2))),
        ("arrayElemAt negative", bson!({"$arrayElemAt": ["$arr", -1]}), v(bson!(3))),
        ("arrayElemAt out of range is missing", bson!({"$arrayElemAt": ["$arr", 5]}), None),
        ("first", bson!({"$first": "$arr"}), v(bson!(1))),
        ("last", bson!({"$last": "$docs"}), v(bson!({"y": "c"}))),
        ("first of empty is missing", bson!({"$first": [[]]}), None),
        ("in", bson!({"$in": [2.0, "$arr"]}), v(bson!(true))),
        ("in absent", bson!({"$in": ["x", "$arr"]}), v(bson!(false))),
        ("concatArrays", bson!({"$concatArrays": ["$arr", [4], []]}), v(bson!([1, 2, 3, 4]))),
        ("concatArrays null", bson!({"$concatArrays": ["$arr", null]}), v(Bson::Null)),
        ("slice count", bson!({"$slice": ["$arr", 2]}), v(bson!([1, 2]))),
        ("slice negative", bson!({"$slice": ["$arr", -2]}), v(bson!([2, 3]))),
        ("slice position", bson!({"$slice": ["$arr", 1, 5]}), v(bson!([2, 3]))),
        ("reverseArray", bson!({"$reverseArray": "$arr"}), v(bson!([3, 2, 1]))),
        ("range", bson!({"$range": [0, 10, 3]}), v(bson!([0, 3, 6, 9]))),
        ("range down", bson!({"$range": [5, 0, -2]}), v(bson!([5, 3, 1]))),
        ("range empty", bson!({"$range": [0, 5, -1]}), v(bson!([]))),
        ("isArray", bson!({"$isArray": "$arr"}), v(bson!(true))),
        ("indexOfArray", bson!({"$indexOfArray": ["$arr", 3]}), v(bson!(2))),
        (
            "filter",
            bson!({"$filter": {"input": "$arr", "as": "x", "cond": {"$gte": ["$$x", 2]}}}),
            v(bson!([2, 3])),
        ),
        (
            "filter this and limit",
            bson!({"$filter": {"input": "$arr", "cond": true, "limit": "$$limit"}}),
            v(bson!([1, 2])),
        ),
        ("filter null input", bson!({"$filter": {"input": "$nope", "cond": true}}), v(Bson::Null)),
        (
            "map",
            bson!({"$map": {"input": "$arr", "as": "x", "in": {"$multiply": ["$$x", 10]}}}),
            v(bson!([10, 20, 30])),
        ),
        (
            "map fields of documents",
            bson!({"$map": {"input": "$docs", "in": "$$this.x"}}),
            v(bson!([1, 2, null])),
        ),
        (
            "map sees outer fields",
            bson!({"$map": {"input": "$arr", "in": {"$add": ["$$this", "$a"]}}}),
            v(bson!([6, 7, 8])),
        ),
        (
            "reduce",
            bson!({"$reduce": {"input": "$arr", "initialValue": 0, "in": {"$add": ["$$value", "$$this"]}}}),
            v(bson!(6)),
        ),
        (
            "reduce strings",
            bson!({"$reduce": {"input": ["a", "b"], "initialValue": "", "in": {"$concat": ["$$value", "$$this"]}}}),
            v(bson!("ab")),
        ),
        ("allElementsTrue", bson!({"$allElementsTrue": [[1, true, "x"]]}), v(bson!(true))),
        ("anyElementTrue", bson!({"$anyElementTrue": [[0, false, null]]}), v(bson!(false))),
        ("setUnion sorted and unique", bson!({"$setUnion": [[3, 1], [1, 2.0]]}), v(bson!([1, 2.0, 3]))),
        ("setIntersection", bson!({"$setIntersection": [[1, 2, 3], [3, 2]]}), v(bson!([2, 3]))),
        ("setDifference", bson!({"$setDifference": [[1, 2, 3, 1], [2]]}), v(bson!([1, 3]))),
        ("setEquals", bson!({"$setEquals": [[1, 2], [2, 1, 1]]}), v(bson!(true))),
        ("setIsSubset", bson!({"$setIsSubset": [[1], [1, 2]]}), v(bson!(true))),
        (
            "mergeObjects",
            bson!({"$mergeObjects": ["$obj", {"z": 1, "w": 2}, null]}),
            v(bson!({"k": "v", "z": 1, "w": 2})),
        ),
        (
            "objectToArray",
            bson!({"$objectToArray": "$obj"}),
            v(bson!([{"k": "k", "v": "v"}, {"k": "z", "v": 0}])),
        ),
        (
            "arrayToObject pairs",
            bson!({"$arrayToObject": [[["a", 1], ["b", 2]]]}),
            v(bson!({"a": 1, "b": 2})),
        ),
        (
            "arrayToObject kv",
            bson!({"$arrayToObject": [[{"k": "a", "v": 1}, {"k": "a", "v": 2}]]}),
            v(bson!({"a": 2})),
        ),
    ]);
    check_errors(vec![
        (
            "size of missing",
            bson!({"$size": "$nope"}),
            17124,
            "The argument to $size must be an array, but was of type: missing",
        ),
        (
            "arrayElemAt not array",
            bson!({"$arrayElemAt": ["$a", 0]}),
            28689,
            "$arrayElemAt's first argument must be an array, but is int",
        ),
        (
            "arrayElemAt fraction",
            bson!({"$arrayElemAt": ["$arr", 1.5]}),
            28691,
            "$arrayElemAt's second argument must be representable as a 32-bit integer: 1.5",
        ),
        ("first not array", bson!({"$first": "$a"}), 28689, "$first's argument must be an array, but is int"),
        (
            "in not array",
            bson!({"$in": [1, "$a"]}),
            40081,
            "$in requires an array as a second argument, found: int",
        ),
        (
            "concatArrays",
            bson!({"$concatArrays": ["$arr", 1]}),
            28664,
            "$concatArrays only supports arrays, not int",
        ),
        (
            "slice",
            bson!({"$slice": ["$a", 1]}),
            28724,
            "First argument to $slice must be an array, but is of type: int",
        ),
        (
            "slice count",
            bson!({"$slice": ["$arr", 1, 0]}),
            28729,
            "Third argument to $slice must be positive: 0",
        ),
        (
            "reverseArray",
            bson!({"$reverseArray": 1}),
            34435,
            "The argument to $reverseArray must be an array, but was of type: int",
        ),
        ("range step", bson!({"$range": [0, 1, 0]}), 34449, "$range requires a non-zero step value"),
        (
            "filter input",
            bson!({"$filter": {"input": 1, "cond": true}}),
            28651,
            "input to $filter must be an array not int",
        ),
        (
            "filter param",
            bson!({"$filter": {"input": [], "cond": true, "x": 1}}),
            28647,
            "Unrecognized parameter to $filter: x",
        ),
        (
            "map input",
            bson!({"$map": {"input": "x", "in": 1}}),
            16883,
            "input to $map must be an array not string",
        ),
        (
            "reduce missing in",
            bson!({"$reduce": {"input": [], "initialValue": 0}}),
            40079,
            "$reduce requires 'in' to be specified",
        ),
        (
            "mergeObjects",
            bson!({"$mergeObjects": [1]}),
            40400,
            "$mergeObjects requires object inputs, but input 1 is of type int",
        ),
        (
            "objectToArray",
            bson!({"$objectToArray": 1}),
            40390,
            "$objectToArray requires a document input, found: int",
        ),
        (
            "arrayToObject",
            bson!({"$arrayToObject": [[["a"]]]}),
            40397,
            "$arrayToObject requires an array of size 2 arrays,found array of size: 1",
        ),
    ]);
}

#[test]
fn dates() {
    // 2023-11-14T22:13:20.123Z, a Tuesday.
    check(vec![
        ("year", bson!({"$year": "$d"}), v(bson!(2023))),
        ("month", bson!({"$month": "$d"}), v(bson!(11))),
        ("dayOfMonth", bson!({"$dayOfMonth": "$d"}), v(bson!(14))),
        ("hour", bson!({"$hour": "$d"}), v(bson!(22))),
        ("minute", bson!({"$minute": "$d"}), v(bson!(13))),
        ("second", bson!({"$second": "$d"}), v(bson!(20))),
        ("millisecond", bson!({"$millisecond": "$d"}), v(bson!(123))),
        ("dayOfWeek", bson!({"$dayOfWeek": "$d"}), v(bson!(3))),
        ("dayOfYear", bson!({"$dayOfYear": "$d"}), v(bson!(318))),
        ("week", bson!({"$week": "$d"}), v(bson!(46))),
        ("isoWeek", bson!({"$isoWeek": "$d"}), v(bson!(46))),
        ("with timezone offset", bson!({"$hour": {"date": "$d", "timezone": "+05:30"}}), v(bson!(3))),
        ("year in array form", bson!({"$year": ["$d"]}), v(bson!(2023))),
        ("null date", bson!({"$year": "$nope"}), v(Bson::Null)),
        (
            "dateToString default",
            bson!({"$dateToString": {"date": "$d"}}),
            v(bson!("2023-11-14T22:13:20.123Z")),
        ),
        (
            "dateToString format",
            bson!({"$dateToString": {"date": "$d", "format": "%Y/%m/%d %H:%M:%S %j %%"}}),
            v(bson!("2023/11/14 22:13:20 318 %")),
        ),
        (
            "dateToString timezone",
            bson!({"$dateToString": {"date": "$d", "format": "%d %H:%M %z", "timezone": "-0300"}}),
            v(bson!("14 19:13 -0300")),
        ),
        (
            "dateToString onNull",
            bson!({"$dateToString": {"date": "$nope", "onNull": "none"}}),
            v(bson!("none")),
        ),
        ("date from objectId", bson!({"$year": oid("5f5f5f5f0000000000000000")}), v(bson!(2020))),
        (
            "dateFromString",
            bson!({"$dateFromString": {"dateString": "2023-11-14T22:13:20.123Z"}}),
            v(date(1_700_000_000_123)),
        ),
        (
            "dateFromString timezone",
            bson!({"$dateFromString": {"dateString": "2023-11-14 23:13:20.123", "timezone": "+01:00"}}),
            v(date(1_700_000_000_123)),
        ),
        (
            "dateFromString format",
            bson!({"$dateFromString": {"dateString": "14/11/2023", "format": "%d/%m/%Y"}}),
            v(date(1_699_920_000_000)),
        ),
        (
            "dateFromString onError",
            bson!({"$dateFromString": {"dateString": "nope", "onError": "bad"}}),
            v(bson!("bad")),
        ),
        ("dateFromString onNull", bson!({"$dateFromString": {"dateString": null, "onNull": 0}}), v(bson!(0))),
        (
            "dateToParts",
            bson!({"$dateToParts": {"date": "$d"}}),
            v(
                bson!({"year": 2023, "month": 11, "day": 14, "hour": 22, "minute": 13, "second": 20, "millisecond": 123}),
            ),
        ),
        (
            "dateToParts iso",
            bson!({"$dateToParts": {"date": "$d", "iso8601": true}}),
            v(
                bson!({"isoWeekYear": 2023, "isoWeek": 46, "isoDayOfWeek": 2, "hour": 22, "minute": 13, "second": 20, "millisecond": 123}),
            ),
        ),
        (
            "dateFromParts",
            bson!({"$dateFromParts": {"year": 2023, "month": 11, "day": 14, "hour": 22, "minute": 13, "second": 20, "millisecond": 123}}),
            v(date(1_700_000_000_123)),
        ),
        (
            "dateFromParts carries",
            bson!({"$dateFromParts": {"year": 2022, "month": 23, "day": 14, "hour": 23, "minute": 13, "second": 20, "millisecond": 123, "timezone": "+01:00"}}),
            v(date(1_700_000_000_123)),
        ),
        (
            "dateFromParts iso",
            bson!({"$dateFromParts": {"isoWeekYear": 2023, "isoWeek": 46, "isoDayOfWeek": 2}}),
            v(date(1_699_920_000_000)),
        ),
        (
            "dateDiff days",
            bson!({"$dateDiff": {"startDate": date(1_699_920_000_000), "endDate": "$d", "unit": "day"}}),
            v(bson!(0i64)),
        ),
        (
            "dateDiff months",
            bson!({"$dateDiff": {"startDate": date(0), "endDate": "$d", "unit": "month"}}),
            v(bson!(646i64)),
        ),
        (
            "dateDiff hours",
            bson!({"$dateDiff": {"startDate": date(1_699_920_000_000), "endDate": "$d", "unit": "hour"}}),
            v(bson!(22i64)),
        ),
    ]);
    check_errors(vec![
        ("not a date", bson!({"$year": "$s"}), 16006, "can't convert from BSON type string to Date"),
        (
            "bad timezone",
            bson!({"$hour": {"date": "$d", "timezone": "Mars/Olympus"}}),
            40485,
            "unrecognized time zone identifier: \"Mars/Olympus\"",
        ),
        (
            "bad format",
            bson!({"$dateToString": {"date": "$d", "format": "%Q"}}),
            18536,
            "Invalid format character '%Q' in format string",
        ),
        (
            "unmatched percent",
            bson!({"$dateToString": {"date": "$d", "format": "abc%"}}),
            18535,
            "Unmatched '%' at end of format string",
        ),
        (
            "missing date",
            bson!({"$dateToString": {"format": "%Y"}}),
            18628,
            "Missing 'date' parameter to $dateToString",
        ),
        (
            "unknown option",
            bson!({"$year": {"date": "$d", "x": 1}}),
            40535,
            "unrecognized option to $year: \"x\"",
        ),
    ]);
}

/// Olson zones: the offset follows the instant, on both sides of a
/// daylight-saving change (New York springs forward 2024-03-10 at 02:00
/// EST, 07:00Z; Paris falls back 2024-10-27 at 03:00 CEST, 01:00Z).
#[test]
fn olson_time_zones() {
    const NY_BEFORE: i64 = 1_710_052_200_000; // 2024-03-10T06:30Z, 01:30 EST
    const NY_AFTER: i64 = 1_710_055_800_000; // 2024-03-10T07:30Z, 03:30 EDT
    const PARIS_SUMMER: i64 = 1_729_989_000_000; // 2024-10-27T00:30Z, 02:30 CEST
    const PARIS_WINTER: i64 = 1_729_992_600_000; // 2024-10-27T01:30Z, 02:30 CET
    let ny = "America/New_York";
    check(vec![
        (
            "hour before spring forward",
            bson!({"$hour": {"date": date(NY_BEFORE), "timezone": ny}}),
            v(bson!(1)),
        ),
        (
            "hour after spring forward",
            bson!({"$hour": {"date": date(NY_AFTER), "timezone": ny}}),
            v(bson!(3)),
        ),
        (
            "day of month of the evening before, in New York",
            bson!({"$dayOfMonth": {"date": date(1_710_039_600_000), "timezone": ny}}),
            v(bson!(9)),
        ),
        (
            "offsets either side",
            bson!([
                {"$dateToString": {"date": date(NY_BEFORE), "format": "%H:%M %z", "timezone": ny}},
                {"$dateToString": {"date": date(NY_AFTER), "format": "%H:%M %z %Z", "timezone": ny}}
            ]),
            v(bson!(["01:30 -0500", "03:30 -0400 -240"])),
        ),
        (
            "default format has no Z in a zone",
            bson!({"$dateToString": {"date": date(NY_AFTER), "timezone": ny}}),
            v(bson!("2024-03-10T03:30:00.000")),
        ),
        (
            "the same wall time twice in Paris",
            bson!([
                {"$dateToString": {"date": date(PARIS_SUMMER), "format": "%H:%M %z", "timezone": "Europe/Paris"}},
                {"$dateToString": {"date": date(PARIS_WINTER), "format": "%H:%M %z", "timezone": "Europe/Paris"}}
            ]),
            v(bson!(["02:30 +0200", "02:30 +0100"])),
        ),
        (
            "dateToParts in Paris",
            bson!({"$dateToParts": {"date": date(PARIS_WINTER), "timezone": "Europe/Paris"}}),
            v(
                bson!({"year": 2024, "month": 10, "day": 27, "hour": 2, "minute": 30, "second": 0, "millisecond": 0}),
            ),
        ),
        (
            "dateFromParts in an overlap is the first occurrence",
            bson!({"$dateFromParts": {"year": 2024, "month": 10, "day": 27, "hour": 2, "minute": 30, "timezone": "Europe/Paris"}}),
            v(date(PARIS_SUMMER)),
        ),
        (
            "dateFromParts in a gap reads the offset before it",
            bson!({"$dateFromParts": {"year": 2024, "month": 3, "day": 10, "hour": 2, "minute": 30, "timezone": ny}}),
            v(date(NY_AFTER)),
        ),
        (
            "dateFromString summer and winter",
            bson!([
                {"$dateFromString": {"dateString": "2024-07-01T12:00:00", "timezone": "Europe/Paris"}},
                {"$dateFromString": {"dateString": "2024-01-01T12:00:00", "timezone": "Europe/Paris"}}
            ]),
            v(bson!([date(1_719_828_000_000), date(1_704_106_800_000)])),
        ),
        (
            "dateDiff hours count elapsed time across the change",
            bson!({"$dateDiff": {"startDate": date(NY_BEFORE), "endDate": date(NY_AFTER), "unit": "hour", "timezone": ny}}),
            v(bson!(1i64)),
        ),
        (
            "dateDiff days count local midnights",
            bson!([
                {"$dateDiff": {"startDate": date(1_710_039_600_000), "endDate": date(1_710_046_800_000), "unit": "day", "timezone": ny}},
                {"$dateDiff": {"startDate": date(1_710_039_600_000), "endDate": date(1_710_046_800_000), "unit": "day"}}
            ]),
            v(bson!([1i64, 0i64])),
        ),
    ]);
    check_errors(vec![(
        "unknown name",
        bson!({"$year": {"date": "$d", "timezone": "America/Nowhere"}}),
        40485,
        "unrecognized time zone identifier: \"America/Nowhere\"",
    )]);
}

#[test]
fn date_add_subtract_and_trunc() {
    let ny = "America/New_York";
    let add = |start: i64, unit: &str, amount: Bson| bson!({"$dateAdd": {"startDate": date(start), "unit": unit, "amount": amount}});
    let trunc = |d: i64, unit: &str| bson!({"$dateTrunc": {"date": date(d), "unit": unit}});
    check(vec![
        (
            "month from the 31st lands on Feb 29",
            add(1_706_695_200_000, "month", bson!(1)),
            v(date(1_709_200_800_000)),
        ),
        (
            "month from the 31st lands on Feb 28",
            add(1_675_123_200_000, "month", bson!(1)),
            v(date(1_677_542_400_000)),
        ),
        ("year from Feb 29", add(1_709_200_800_000, "year", bson!(1)), v(date(1_740_736_800_000))),
        ("quarter from Nov 30", add(1_732_924_800_000, "quarter", bson!(1i64)), v(date(1_740_700_800_000))),
        ("integral double amount", add(0, "millisecond", bson!(1500.0)), v(date(1500))),
        ("null amount", add(0, "day", Bson::Null), v(Bson::Null)),
        ("null unit", bson!({"$dateAdd": {"startDate": date(0), "unit": null, "amount": 1}}), v(Bson::Null)),
        (
            "subtract a month from Mar 31",
            bson!({"$dateSubtract": {"startDate": date(1_711_843_200_000), "unit": "month", "amount": 1}}),
            v(date(1_709_164_800_000)),
        ),
        (
            "a day across spring forward keeps the wall clock",
            bson!([
                {"$dateAdd": {"startDate": date(1_710_003_600_000), "unit": "day", "amount": 1, "timezone": ny}},
                {"$dateAdd": {"startDate": date(1_710_003_600_000), "unit": "day", "amount": 1}}
            ]),
            v(bson!([date(1_710_086_400_000), date(1_710_090_000_000)])),
        ),
        (
            "an hour across fall back is elapsed time",
            bson!({"$dateAdd": {"startDate": date(1_730_613_000_000), "unit": "hour", "amount": 1, "timezone": ny}}),
            v(date(1_730_616_600_000)),
        ),
        ("trunc hour", trunc(1_710_056_220_000, "hour"), v(date(1_710_054_000_000))),
        (
            "trunc two hours",
            bson!({"$dateTrunc": {"date": date(1_710_056_220_000), "unit": "hour", "binSize": 2}}),
            v(date(1_710_050_400_000)),
        ),
        (
            "trunc hour at a half-hour offset",
            bson!([
                {"$dateTrunc": {"date": date(1_710_056_220_000), "unit": "hour", "timezone": "+05:30"}},
                {"$dateTrunc": {"date": date(1_710_056_220_000), "unit": "hour", "timezone": "Asia/Kolkata"}}
            ]),
            v(bson!([date(1_710_055_800_000), date(1_710_055_800_000)])),
        ),
        (
            "trunc day in New York on the spring-forward day",
            bson!({"$dateTrunc": {"date": date(1_710_086_400_000), "unit": "day", "timezone": ny}}),
            v(date(1_710_046_800_000)),
        ),
        ("trunc week starts on Sunday", trunc(1_710_331_200_000, "week"), v(date(1_710_028_800_000))),
        (
            "trunc week from Monday",
            bson!({"$dateTrunc": {"date": date(1_710_331_200_000), "unit": "week", "startOfWeek": "MON"}}),
            v(date(1_710_115_200_000)),
        ),
        ("trunc quarter", trunc(1_715_731_200_000, "quarter"), v(date(1_711_929_600_000))),
        (
            "trunc six months",
            bson!({"$dateTrunc": {"date": date(1_715_731_200_000), "unit": "month", "binSize": 6}}),
            v(date(1_704_067_200_000)),
        ),
        (
            "trunc five years counts from 2000",
            bson!({"$dateTrunc": {"date": date(1_715_731_200_000), "unit": "year", "binSize": 5}}),
            v(date(1_577_836_800_000)),
        ),
        (
            "trunc null binSize",
            bson!({"$dateTrunc": {"date": "$d", "unit": "day", "binSize": null}}),
            v(Bson::Null),
        ),
        ("trunc null date", bson!({"$dateTrunc": {"date": "$nope", "unit": "day"}}), v(Bson::Null)),
    ]);
    check_errors(vec![
        ("add not an object", bson!({"$dateAdd": 1}), 5166400, "$dateAdd expects an object as its argument"),
        (
            "add unknown argument",
            bson!({"$dateAdd": {"startDate": "$d", "unit": "day", "amount": 1, "x": 1}}),
            5166401,
            "Unrecognized argument to $dateAdd: x",
        ),
        (
            "subtract without amount",
            bson!({"$dateSubtract": {"startDate": "$d", "unit": "day"}}),
            5166402,
            "$dateSubtract requires startDate, unit, and amount to be present",
        ),
        (
            "add to a string",
            bson!({"$dateAdd": {"startDate": "$s", "unit": "day", "amount": 1}}),
            5166403,
            "$dateAdd requires startDate to be convertible to a date",
        ),
        (
            "fractional amount",
            bson!({"$dateAdd": {"startDate": "$d", "unit": "day", "amount": 1.5}}),
            5166405,
            "$dateAdd expects integer amount of time units",
        ),
        (
            "unit not a string",
            bson!({"$dateAdd": {"startDate": "$d", "unit": 5, "amount": 1}}),
            5439013,
            "$dateAdd requires 'unit' to be a string, but got int",
        ),
        (
            "unknown unit",
            bson!({"$dateAdd": {"startDate": "$d", "unit": "decade", "amount": 1}}),
            5439014,
            "$dateAdd parameter 'unit' value cannot be recognized as a time unit: decade",
        ),
        (
            "amount out of range",
            bson!({"$dateAdd": {"startDate": "$d", "unit": "year", "amount": 1_000_000_000_000i64}}),
            5976500,
            "invalid dateAdd 'amount' parameter value: 1000000000000 year",
        ),
        (
            "result out of range",
            bson!({"$dateAdd": {"startDate": "$d", "unit": "year", "amount": 300_000_000}}),
            5166406,
            "dateAdd overflowed",
        ),
        (
            "subtract the minimum long",
            bson!({"$dateSubtract": {"startDate": "$d", "unit": "millisecond", "amount": i64::MIN}}),
            6045000,
            "invalid $dateSubtract 'amount' parameter value: -9223372036854775808",
        ),
        (
            "trunc not an object",
            bson!({"$dateTrunc": "$d"}),
            5439007,
            "$dateTrunc only supports an object as its argument",
        ),
        (
            "trunc unknown argument",
            bson!({"$dateTrunc": {"date": "$d", "unit": "day", "bins": 2}}),
            5439008,
            "Unrecognized argument to $dateTrunc: bins",
        ),
        (
            "trunc without date",
            bson!({"$dateTrunc": {"unit": "day"}}),
            5439009,
            "Missing 'date' parameter to $dateTrunc",
        ),
        (
            "trunc without unit",
            bson!({"$dateTrunc": {"date": "$d"}}),
            5439010,
            "Missing 'unit' parameter to $dateTrunc",
        ),
        (
            "trunc zero binSize",
            bson!({"$dateTrunc": {"date": "$d", "unit": "day", "binSize": 0}}),
            5439018,
            "$dateTrunc requires 'binSize' to be greater than 0, but got value 0",
        ),
        (
            "trunc fractional binSize",
            bson!({"$dateTrunc": {"date": "$d", "unit": "day", "binSize": 1.5}}),
            5439017,
            "$dateTrunc requires 'binSize' to be a 64-bit integer, but got value '1.5' of type double",
        ),
        (
            "trunc huge binSize",
            bson!({"$dateTrunc": {"date": "$d", "unit": "day", "binSize": 200_000_000_000i64}}),
            5439006,
            "dateTrunc unsupported binSize value",
        ),
        (
            "trunc a string",
            bson!({"$dateTrunc": {"date": "$s", "unit": "day"}}),
            5166307,
            "$dateTrunc requires 'date' to be a date, but got string",
        ),
        (
            "trunc unknown weekday",
            bson!({"$dateTrunc": {"date": "$d", "unit": "week", "startOfWeek": "funday"}}),
            5439016,
            "$dateTrunc parameter 'startOfWeek' value cannot be recognized as a day of a week: funday",
        ),
    ]);
}

#[test]
fn type_conversion() {
    check(vec![
        ("type", bson!({"$type": "$a"}), v(bson!("int"))),
        ("type missing", bson!({"$type": "$nope"}), v(bson!("missing"))),
        ("type of array literal", bson!({"$type": [[1]]}), v(bson!("array"))),
        ("isNumber", bson!({"$isNumber": "$f"}), v(bson!(true))),
        ("toString int", bson!({"$toString": "$a"}), v(bson!("5"))),
        ("toString double", bson!({"$toString": 2.5}), v(bson!("2.5"))),
        ("toString date", bson!({"$toString": "$d"}), v(bson!("2023-11-14T22:13:20.123Z"))),
        (
            "toString objectId",
            bson!({"$toString": oid("000102030405060708091011")}),
            v(bson!("000102030405060708091011")),
        ),
        ("toString bool", bson!({"$toString": true}), v(bson!("true"))),
        ("toInt string", bson!({"$toInt": "42"}), v(bson!(42))),
        ("toInt double truncates", bson!({"$toInt": -2.9}), v(bson!(-2))),
        ("toInt bool", bson!({"$toInt": true}), v(bson!(1))),
        ("toLong", bson!({"$toLong": "$d"}), v(bson!(1_700_000_000_123i64))),
        ("toDouble string", bson!({"$toDouble": "1.5e3"}), v(bson!(1500.0))),
        ("toDecimal", bson!({"$toDecimal": "$a"}), v(dec("5"))),
        ("toBool zero", bson!({"$toBool": 0}), v(bson!(false))),
        ("toBool string", bson!({"$toBool": ""}), v(bson!(true))),
        ("toDate string", bson!({"$toDate": "2023-11-14T22:13:20.123Z"}), v(date(1_700_000_000_123))),
        ("toDate long", bson!({"$toDate": 0i64}), v(date(0))),
        (
            "toObjectId",
            bson!({"$toObjectId": "000102030405060708091011"}),
            v(oid("000102030405060708091011")),
        ),
        ("toInt null", bson!({"$toInt": null}), v(Bson::Null)),
        ("convert onError", bson!({"$convert": {"input": "abc", "to": "int", "onError": -1}}), v(bson!(-1))),
        ("convert onNull", bson!({"$convert": {"input": "$nope", "to": "int", "onNull": 0}}), v(bson!(0))),
        ("convert by number", bson!({"$convert": {"input": "7", "to": 18}}), v(bson!(7i64))),
    ]);
    check_errors(vec![
        ("toInt bad string", bson!({"$toInt": "abc"}), 241, "Failed to parse number 'abc' in $convert with no onError value: Did not consume whole string."),
        ("toInt overflow", bson!({"$toInt": 1e10}), 241, "Conversion would overflow target type in $convert with no onError value: 1e+10"),
        ("toInt nan", bson!({"$toInt": f64::NAN}), 241, "Attempt to convert NaN value to integer type in $convert with no onError value"),
        ("toDate int", bson!({"$toDate": 5}), 241, "Unsupported conversion from int to date in $convert with no onError value"),
        ("toObjectId short", bson!({"$toObjectId": "abc"}), 241, "Failed to parse objectId 'abc' in $convert with no onError value: Invalid string length for parsing to OID, expected 24 but found 3"),
        ("convert unknown type", bson!({"$convert": {"input": 1, "to": "foo"}}), 2, "Unknown type name: foo"),
        ("convert missing to", bson!({"$convert": {"input": 1}}), 9, "Missing 'to' parameter to $convert"),
        ("toInt arity", bson!({"$toInt": [1, 2]}), 50723, "$toInt requires a single argument, got 2"),
    ]);
}

#[test]
fn eval_helper_reports_missing_as_null() {
    let d = root();
    assert_eq!(eval(&bson!("$nope"), &d, &Vars::default()).unwrap(), Bson::Null);
    assert_eq!(eval(&bson!({"$add": ["$a", 1]}), &d, &Vars::default()).unwrap(), bson!(6));
    assert_eq!(Expression::parse(&bson!({"$literal": 1})).unwrap().as_constant(), Some(&bson!(1)));
}

#[test]
fn trigonometry_and_sigmoid() {
    let pi = std::f64::consts::PI;
    check(vec![
        ("sin int", bson!({"$sin": 0}), v(bson!(0.0))),
        ("cos", bson!({"$cos": 0}), v(bson!(1.0))),
        ("tan", bson!({"$tan": 0.0}), v(bson!(0.0))),
        ("asin", bson!({"$asin": 1}), v(bson!(pi / 2.0))),
        ("acos", bson!({"$acos": 1}), v(bson!(0.0))),
        ("atan", bson!({"$atan": 1}), v(bson!(pi / 4.0))),
        ("atan2", bson!({"$atan2": [1, 1]}), v(bson!(pi / 4.0))),
        ("atan2 quadrant", bson!({"$atan2": [1, -1]}), v(bson!(3.0 * pi / 4.0))),
        ("atan2 null", bson!({"$atan2": [null, 1]}), v(Bson::Null)),
        ("sinh", bson!({"$sinh": 0}), v(bson!(0.0))),
        ("cosh", bson!({"$cosh": 0}), v(bson!(1.0))),
        ("tanh", bson!({"$tanh": 0}), v(bson!(0.0))),
        ("asinh", bson!({"$asinh": 0}), v(bson!(0.0))),
        ("acosh", bson!({"$acosh": 1}), v(bson!(0.0))),
        ("atanh", bson!({"$atanh": 0}), v(bson!(0.0))),
        ("atanh bound", bson!({"$atanh": 1}), v(bson!(f64::INFINITY))),
        ("degrees to radians", bson!({"$degreesToRadians": 180}), v(bson!(pi))),
        ("radians to degrees", bson!({"$radiansToDegrees": pi}), v(bson!(180.0))),
        ("sigmoid", bson!({"$sigmoid": 0}), v(bson!(0.5))),
        ("null", bson!({"$sin": null}), v(Bson::Null)),
        ("missing", bson!({"$cos": "$nope"}), v(Bson::Null)),
        ("array form", bson!({"$sin": [0]}), v(bson!(0.0))),
        ("decimal stays decimal", bson!({"$cos": dec("0")}), v(dec("1"))),
    ]);
    let nan = Expression::parse(&bson!({"$asin": f64::NAN})).unwrap().evaluate(&root(), &vars()).unwrap();
    assert!(matches!(nan, Some(Bson::Double(x)) if x.is_nan()), "NaN passes through: {nan:?}");
    check_errors(vec![
        (
            "asin out of domain",
            bson!({"$asin": 2}),
            50989,
            "cannot apply $asin to 2, value must be in [-1,1]",
        ),
        (
            "acosh below one",
            bson!({"$acosh": 0.5}),
            50989,
            "cannot apply $acosh to 0.5, value must be in [1,inf]",
        ),
        (
            "sin of infinity",
            bson!({"$sin": f64::INFINITY}),
            50989,
            "cannot apply $sin to inf, value must be in (-inf,inf)",
        ),
        ("string", bson!({"$cos": "$s"}), 28765, "$cos only supports numeric types, not string"),
        (
            "arity",
            bson!({"$sin": [1, 2]}),
            16020,
            "Expression $sin takes exactly 1 arguments. 2 were passed in.",
        ),
    ]);
}

#[test]
fn bitwise_operators() {
    check(vec![
        ("and", bson!({"$bitAnd": [12, 10]}), v(bson!(8))),
        ("or", bson!({"$bitOr": [12, 10]}), v(bson!(14))),
        ("xor", bson!({"$bitXor": [12, 10]}), v(bson!(6))),
        ("not", bson!({"$bitNot": 12}), v(bson!(-13))),
        ("long wins", bson!({"$bitOr": [1, 2i64]}), v(bson!(3i64))),
        ("not long", bson!({"$bitNot": 0i64}), v(bson!(-1i64))),
        ("no operands and", bson!({"$bitAnd": []}), v(bson!(-1))),
        ("no operands or", bson!({"$bitOr": []}), v(bson!(0))),
        ("null", bson!({"$bitAnd": [1, null]}), v(Bson::Null)),
        ("missing", bson!({"$bitNot": "$nope"}), v(Bson::Null)),
    ]);
    check_errors(vec![(
        "double",
        bson!({"$bitAnd": [1, 2.0]}),
        14,
        "$bitAnd only supports int and long operands, not double",
    )]);
}

#[test]
fn get_field_set_field_unset_field() {
    let doc = doc! {"a.b": 1, "$price": 2, "a": {"b": 3}, "keep": true};
    let vars = vars();
    let eval = |e: Bson| Expression::parse(&e).and_then(|x| x.evaluate(&doc, &vars));
    // Literal names: dots and dollars are part of the name.
    assert_eq!(eval(bson!({"$getField": "a.b"})).unwrap(), Some(bson!(1)));
    assert_eq!(eval(bson!({"$getField": {"$literal": "$price"}})).unwrap(), Some(bson!(2)));
    assert_eq!(eval(bson!({"$getField": {"field": "b", "input": "$a"}})).unwrap(), Some(bson!(3)));
    assert_eq!(eval(bson!({"$getField": {"field": "x", "input": "$a"}})).unwrap(), None);
    assert_eq!(eval(bson!({"$getField": {"field": "x", "input": null}})).unwrap(), Some(Bson::Null));
    assert_eq!(
        eval(bson!({"$setField": {"field": "a.b", "input": "$$ROOT", "value": 10}})).unwrap(),
        Some(bson!({"a.b": 10, "$price": 2, "a": {"b": 3}, "keep": true}))
    );
    assert_eq!(
        eval(bson!({"$setField": {"field": "new", "input": {"x": 1}, "value": "$keep"}})).unwrap(),
        Some(bson!({"x": 1, "new": true}))
    );
    assert_eq!(
        eval(bson!({"$setField": {"field": {"$literal": "$price"}, "input": "$$ROOT", "value": "$$REMOVE"}}))
            .unwrap(),
        Some(bson!({"a.b": 1, "a": {"b": 3}, "keep": true}))
    );
    assert_eq!(
        eval(bson!({"$unsetField": {"field": "a.b", "input": "$$ROOT"}})).unwrap(),
        Some(bson!({"$price": 2, "a": {"b": 3}, "keep": true}))
    );
    // `$getField` without `input` reads the whole document: its
    // dependencies say so (a partial decode would miss "a.b").
    assert!(Expression::parse(&bson!({"$getField": "a.b"})).unwrap().dependencies().needs_whole_document());
    check_errors(vec![
        (
            "field not a string",
            bson!({"$getField": 5}),
            3041703,
            "$getField requires 'field' to evaluate to type String, but got int",
        ),
        (
            "input not an object",
            bson!({"$getField": {"field": "x", "input": 5}}),
            3041705,
            "$getField requires 'input' to evaluate to type Object, but got int",
        ),
        (
            "unknown argument",
            bson!({"$getField": {"field": "x", "y": 1}}),
            3041701,
            "$getField found an unknown argument: y",
        ),
        (
            "no field",
            bson!({"$getField": {"input": "$obj"}}),
            3041702,
            "$getField requires 'field' to be specified",
        ),
        (
            "set without value",
            bson!({"$setField": {"field": "x", "input": "$obj"}}),
            4161104,
            "$setField requires 'value' to be specified",
        ),
        (
            "set on a scalar",
            bson!({"$setField": {"field": "x", "input": 1, "value": 2}}),
            4161105,
            "$setField requires 'input' to evaluate to type Object, but got int",
        ),
        (
            "set non-constant field",
            bson!({"$setField": {"field": "$s", "input": "$obj", "value": 2}}),
            4161106,
            "$setField requires 'field' to evaluate to a constant string",
        ),
        (
            "unset with value",
            bson!({"$unsetField": {"field": "x", "input": "$obj", "value": 1}}),
            4161101,
            "$unsetField found an unknown argument: value",
        ),
    ]);
}

#[test]
fn zip_and_sort_array() {
    check(vec![
        (
            "zip shortest",
            bson!({"$zip": {"inputs": [[1, 2, 3], ["a", "b"]]}}),
            v(bson!([[1, "a"], [2, "b"]])),
        ),
        (
            "zip longest",
            bson!({"$zip": {"inputs": [[1, 2, 3], ["a"]], "useLongestLength": true}}),
            v(bson!([[1, "a"], [2, null], [3, null]])),
        ),
        (
            "zip defaults",
            bson!({"$zip": {"inputs": [[1, 2], ["a"]], "useLongestLength": true, "defaults": [0, "$s"]}}),
            v(bson!([[1, "a"], [2, "Hello World"]])),
        ),
        ("zip null input", bson!({"$zip": {"inputs": ["$arr", "$nope"]}}), v(Bson::Null)),
        ("sort numbers", bson!({"$sortArray": {"input": [3, 1, 2], "sortBy": 1}}), v(bson!([1, 2, 3]))),
        ("sort descending", bson!({"$sortArray": {"input": [3, 1, 2], "sortBy": -1}}), v(bson!([3, 2, 1]))),
        (
            "sort mixed types",
            bson!({"$sortArray": {"input": ["b", 2, null, {"x": 1}], "sortBy": 1}}),
            v(bson!([null, 2, "b", {"x": 1}])),
        ),
        (
            "sort documents by field",
            bson!({"$sortArray": {"input": "$docs", "sortBy": {"x": -1}}}),
            v(bson!([{"x": 2}, {"x": 1, "y": "a"}, {"y": "c"}])),
        ),
        ("sort null", bson!({"$sortArray": {"input": null, "sortBy": 1}}), v(Bson::Null)),
    ]);
    check_errors(vec![
        (
            "zip non-array",
            bson!({"$zip": {"inputs": [[1], 5]}}),
            34468,
            "$zip found a non-array expression in input: 5",
        ),
        ("zip no inputs", bson!({"$zip": {"inputs": []}}), 34465, "$zip requires at least one input array"),
        (
            "zip defaults alone",
            bson!({"$zip": {"inputs": [[1]], "defaults": [0]}}),
            34466,
            "cannot specify defaults unless useLongestLength is true",
        ),
        (
            "zip defaults length",
            bson!({"$zip": {"inputs": [[1]], "useLongestLength": true, "defaults": [0, 1]}}),
            34467,
            "$zip requires that defaults and inputs are the same length",
        ),
        (
            "zip unknown",
            bson!({"$zip": {"inputs": [[1]], "x": 1}}),
            34464,
            "$zip found an unknown argument: x",
        ),
        (
            "sort non-array",
            bson!({"$sortArray": {"input": 5, "sortBy": 1}}),
            2942504,
            "The input argument to $sortArray must be an array, but was of type: int",
        ),
        (
            "sort no sortBy",
            bson!({"$sortArray": {"input": [1]}}),
            2942503,
            "$sortArray requires 'sortBy' to be specified",
        ),
    ]);
}

#[test]
fn timestamps_and_sizes() {
    let ts = Bson::Timestamp(bson::Timestamp { time: 1_700_000_000, increment: 7 });
    check(vec![
        ("tsSecond", bson!({"$tsSecond": ts.clone()}), v(bson!(1_700_000_000i64))),
        ("tsIncrement", bson!({"$tsIncrement": ts}), v(bson!(7i64))),
        ("tsSecond null", bson!({"$tsSecond": null}), v(Bson::Null)),
        ("binarySize string", bson!({"$binarySize": "$u"}), v(bson!(6))),
        (
            "binarySize binary",
            bson!({"$binarySize": Bson::Binary(bson::Binary { subtype: bson::spec::BinarySubtype::Generic, bytes: vec![1, 2, 3] })}),
            v(bson!(3)),
        ),
        ("bsonSize", bson!({"$bsonSize": {"$literal": {"a": 1}}}), v(bson!(12))),
        // {"k": "v", "z": 0}: 4 + (1 + 2 + 4 + 2) + (1 + 2 + 4) + 1
        ("bsonSize root", bson!({"$bsonSize": "$obj"}), v(bson!(21))),
        ("bsonSize null", bson!({"$bsonSize": "$nope"}), v(Bson::Null)),
        (
            "toUUID",
            bson!({"$toUUID": "6e2b7c1e-9d4f-4b6a-8c3d-2f1e0a9b8c7d"}),
            v(Bson::Binary(bson::Binary::from_uuid(
                bson::Uuid::parse_str("6e2b7c1e9d4f4b6a8c3d2f1e0a9b8c7d").unwrap(),
            ))),
        ),
        ("toUUID null", bson!({"$toUUID": null}), v(Bson::Null)),
    ]);
    check_errors(vec![
        (
            "tsSecond of int",
            bson!({"$tsSecond": 1}),
            5687301,
            "Argument to $tsSecond must be a timestamp, but is int",
        ),
        (
            "binarySize of int",
            bson!({"$binarySize": 1}),
            51276,
            "$binarySize requires a string or BinData argument, found: int",
        ),
        (
            "bsonSize of string",
            bson!({"$bsonSize": "$s"}),
            31393,
            "$bsonSize requires a document input, found: string",
        ),
        ("toUUID bad string", bson!({"$toUUID": "nope"}), 241, "Failed to parse UUID from string: \"nope\""),
        ("toUUID of int", bson!({"$toUUID": 1}), 241, "Unsupported conversion from int to UUID in $toUUID"),
    ]);
}
