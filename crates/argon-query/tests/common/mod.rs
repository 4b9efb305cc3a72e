//! Shared fixtures and table runners for the conformance tests.
//!
//! Every filter table runs against the same small collection (modelled on
//! FerretDB's shared test data): one document per interesting value of
//! field `v`, named by `_id`. A case lists the `_id`s it must match, in
//! collection order; the runner also fails when a table expects nothing
//! at all, so no table passes vacuously.
#![allow(dead_code)]

use argon_query::{Filter, QueryError};
use bson::{doc, oid::ObjectId, Bson, Decimal128, Document};

pub fn dec(s: &str) -> Bson {
    Bson::Decimal128(s.parse::<Decimal128>().unwrap())
}

pub fn regex(pattern: &str, options: &str) -> Bson {
    argon_query::regex::regex_value(pattern, options)
}

pub fn date(millis: i64) -> Bson {
    Bson::DateTime(bson::DateTime::from_millis(millis))
}

pub fn oid(hex: &str) -> Bson {
    Bson::ObjectId(ObjectId::parse_str(hex).unwrap())
}

pub fn scalars() -> Vec<Document> {
    vec![
        doc! {"_id": "int", "v": 42},
        doc! {"_id": "int-zero", "v": 0},
        doc! {"_id": "long", "v": 42i64},
        doc! {"_id": "double", "v": 42.0},
        doc! {"_id": "double-frac", "v": 42.5},
        doc! {"_id": "double-nan", "v": f64::NAN},
        doc! {"_id": "double-neg-zero", "v": -0.0},
        doc! {"_id": "decimal", "v": dec("42")},
        doc! {"_id": "string", "v": "foo"},
        doc! {"_id": "string-num", "v": "42"},
        doc! {"_id": "string-empty", "v": ""},
        doc! {"_id": "null", "v": null},
        doc! {"_id": "missing"},
        doc! {"_id": "bool-true", "v": true},
        doc! {"_id": "bool-false", "v": false},
        doc! {"_id": "date", "v": date(1_700_000_000_000)},
        doc! {"_id": "objectid", "v": oid("000102030405060708091011")},
        doc! {"_id": "regex", "v": regex("foo", "i")},
        doc! {"_id": "minkey", "v": Bson::MinKey},
        doc! {"_id": "maxkey", "v": Bson::MaxKey},
    ]
}

pub fn composites() -> Vec<Document> {
    vec![
        doc! {"_id": "array-empty", "v": []},
        doc! {"_id": "array-one", "v": [42]},
        doc! {"_id": "array-three", "v": [42, "foo", null]},
        doc! {"_id": "array-nested", "v": [[42], ["foo"]]},
        doc! {"_id": "array-docs", "v": [{"a": 42}, {"a": "foo", "b": 1}]},
        doc! {"_id": "array-null", "v": [null]},
        doc! {"_id": "doc", "v": {"a": 42}},
        doc! {"_id": "doc-empty", "v": {}},
        doc! {"_id": "doc-nested", "v": {"a": {"b": 42}}},
    ]
}

pub fn all_docs() -> Vec<Document> {
    let mut v = scalars();
    v.extend(composites());
    v
}

pub fn id_of(d: &Document) -> String {
    match d.get("_id") {
        Some(Bson::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => "<no _id>".into(),
    }
}

/// The `_id`s of the documents the filter matches, in collection order.
pub fn matching(filter: &Document, data: &[Document]) -> Vec<String> {
    let f = Filter::parse(filter).unwrap_or_else(|e| panic!("filter {filter} failed to parse: {e}"));
    data.iter().filter(|d| f.matches(d)).map(id_of).collect()
}

/// All `_id`s except the listed ones.
pub fn all_except(data: &[Document], except: &[&str]) -> Vec<String> {
    data.iter().map(id_of).filter(|id| !except.contains(&id.as_str())).collect()
}

pub struct FilterCase {
    pub name: &'static str,
    pub filter: Document,
    pub want: Vec<String>,
}

pub fn case(name: &'static str, filter: Document, want: &[&str]) -> FilterCase {
    FilterCase { name, filter, want: want.iter().map(|s| s.to_string()).collect() }
}

pub fn case_ids(name: &'static str, filter: Document, want: Vec<String>) -> FilterCase {
    FilterCase { name, filter, want }
}

pub fn run_filter_cases(data: &[Document], cases: &[FilterCase]) {
    assert!(cases.iter().any(|c| !c.want.is_empty()), "a table must contain cases that match something");
    let mut failures = Vec::new();
    for c in cases {
        let got = matching(&c.filter, data);
        if got != c.want {
            failures
                .push(format!("{}: filter {}\n   want {:?}\n    got {:?}", c.name, c.filter, c.want, got));
        }
    }
    assert!(failures.is_empty(), "{} case(s) failed:\n{}", failures.len(), failures.join("\n"));
}

/// An expected error: code and exact message.
pub struct ErrorCase {
    pub name: &'static str,
    pub input: Document,
    pub code: i32,
    pub message: String,
}

pub fn err_case(name: &'static str, input: Document, code: i32, message: &str) -> ErrorCase {
    ErrorCase { name, input, code, message: message.to_string() }
}

pub fn run_error_cases<T: std::fmt::Debug>(
    cases: &[ErrorCase],
    f: impl Fn(&Document) -> Result<T, QueryError>,
) {
    let mut failures = Vec::new();
    for c in cases {
        match f(&c.input) {
            Ok(v) => {
                failures.push(format!("{}: {} succeeded ({v:?}), want error {}", c.name, c.input, c.code))
            }
            Err(e) => {
                if e.code != c.code || e.message != c.message {
                    failures.push(format!(
                        "{}: {}\n   want {} {:?}\n    got {} {:?}",
                        c.name, c.input, c.code, c.message, e.code, e.message
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} case(s) failed:\n{}", failures.len(), failures.join("\n"));
}

/// Asserts an error's code, code name and message.
pub fn assert_error<T: std::fmt::Debug>(r: Result<T, QueryError>, code: i32, code_name: &str, message: &str) {
    match r {
        Ok(v) => panic!("expected error {code} {message:?}, got {v:?}"),
        Err(e) => {
            assert_eq!((e.code, e.code_name, e.message.as_str()), (code, code_name, message));
        }
    }
}
