//! Projections: find projections (inclusion, exclusion, _id rules, dotted
//! paths, $slice, $elemMatch, positional $, expressions) and the
//! aggregation forms ($project, $addFields).

mod common;

use argon_query::{Filter, Projection, ProjectionKind};
use bson::{doc, Document};
use common::*;

fn project(spec: Document, input: Document) -> Document {
    Projection::parse(&spec).unwrap_or_else(|e| panic!("{spec}: {e}")).apply(&input, None).unwrap()
}

struct Case {
    name: &'static str,
    spec: Document,
    input: Document,
    want: Document,
}

fn run(kind: ProjectionKind, cases: Vec<Case>) {
    let mut failures = Vec::new();
    for c in cases {
        let got = Projection::parse_kind(&c.spec, kind, &[]).and_then(|p| p.apply(&c.input, None));
        match got {
            Ok(got) if got == c.want => {}
            other => failures.push(format!(
                "{}: {} on {}\n   want {}\n    got {:?}",
                c.name, c.spec, c.input, c.want, other
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn c(name: &'static str, spec: Document, input: Document, want: Document) -> Case {
    Case { name, spec, input, want }
}

#[test]
fn find_projections() {
    let d = doc! {"_id": 1, "a": 1, "b": {"c": 2, "d": 3}, "e": [1, 2, 3]};
    run(
        ProjectionKind::Find,
        vec![
            c("inclusion keeps _id", doc! {"a": 1}, d.clone(), doc! {"_id": 1, "a": 1}),
            c(
                "inclusion with true",
                doc! {"a": true, "e": 1},
                d.clone(),
                doc! {"_id": 1, "a": 1, "e": [1, 2, 3]},
            ),
            c("non-zero numbers include", doc! {"a": -5.5}, d.clone(), doc! {"_id": 1, "a": 1}),
            c("_id excluded", doc! {"a": 1, "_id": 0}, d.clone(), doc! {"a": 1}),
            c("exclusion", doc! {"a": 0, "e": false}, d.clone(), doc! {"_id": 1, "b": {"c": 2, "d": 3}}),
            c(
                "only _id excluded",
                doc! {"_id": 0},
                d.clone(),
                doc! {"a": 1, "b": {"c": 2, "d": 3}, "e": [1, 2, 3]},
            ),
            c("only _id included", doc! {"_id": 1}, d.clone(), doc! {"_id": 1}),
            c("empty is the identity", doc! {}, d.clone(), d.clone()),
            c("dotted inclusion", doc! {"b.c": 1}, d.clone(), doc! {"_id": 1, "b": {"c": 2}}),
            c("nested spec", doc! {"b": {"d": 1}}, d.clone(), doc! {"_id": 1, "b": {"d": 3}}),
            c(
                "dotted exclusion",
                doc! {"b.c": 0},
                d.clone(),
                doc! {"_id": 1, "a": 1, "b": {"d": 3}, "e": [1, 2, 3]},
            ),
            c("missing field", doc! {"zz": 1}, d.clone(), doc! {"_id": 1}),
            c(
                "field order follows the document",
                doc! {"e": 1, "a": 1},
                d.clone(),
                doc! {"_id": 1, "a": 1, "e": [1, 2, 3]},
            ),
            c(
                "expression",
                doc! {"x": {"$add": ["$a", 1]}, "a": 1},
                d.clone(),
                doc! {"_id": 1, "a": 1, "x": 2},
            ),
            c("field path", doc! {"x": "$b.c"}, d.clone(), doc! {"_id": 1, "x": 2}),
            c("literal string", doc! {"x": "hello"}, d.clone(), doc! {"_id": 1, "x": "hello"}),
            c("$literal of a number", doc! {"x": {"$literal": 1}}, d.clone(), doc! {"_id": 1, "x": 1}),
            c("missing expression value is left out", doc! {"x": "$nope"}, d.clone(), doc! {"_id": 1}),
            c("computed _id", doc! {"_id": "$a"}, d.clone(), doc! {"_id": 1}),
        ],
    );
}

#[test]
fn dotted_paths_through_arrays() {
    let d = doc! {"_id": 1, "a": [{"b": 1, "c": 2}, {"c": 3}, 5, [{"b": 4, "c": 6}]]};
    run(
        ProjectionKind::Find,
        vec![
            c(
                "inclusion drops scalars in arrays",
                doc! {"a.b": 1},
                d.clone(),
                doc! {"_id": 1, "a": [{"b": 1}, {}, [{"b": 4}]]},
            ),
            c(
                "exclusion keeps scalars",
                doc! {"a.b": 0},
                d.clone(),
                doc! {"_id": 1, "a": [{"c": 2}, {"c": 3}, 5, [{"c": 6}]]},
            ),
        ],
    );
}

#[test]
fn slice_elem_match_and_positional() {
    let d = doc! {"_id": 1, "a": [1, 2, 3, 4], "b": 1, "s": [{"x": 1}, {"x": 2, "y": 1}, {"x": 2}]};
    run(
        ProjectionKind::Find,
        vec![
            c(
                "$slice alone keeps other fields",
                doc! {"a": {"$slice": 2}},
                d.clone(),
                doc! {"_id": 1, "a": [1, 2], "b": 1, "s": d.get_array("s").unwrap().clone()},
            ),
            c(
                "negative $slice",
                doc! {"a": {"$slice": -2}, "b": 1},
                d.clone(),
                doc! {"_id": 1, "a": [3, 4], "b": 1},
            ),
            c(
                "$slice skip and limit",
                doc! {"a": {"$slice": [1, 2]}, "_id": 0, "b": 1},
                d.clone(),
                doc! {"a": [2, 3], "b": 1},
            ),
            c(
                "$slice negative skip",
                doc! {"a": {"$slice": [-3, 2]}, "b": 1},
                d.clone(),
                doc! {"_id": 1, "a": [2, 3], "b": 1},
            ),
            c(
                "$slice past the end",
                doc! {"a": {"$slice": [10, 2]}, "b": 1},
                d.clone(),
                doc! {"_id": 1, "a": [], "b": 1},
            ),
            c(
                "$slice of a non-array",
                doc! {"b": {"$slice": 1}, "a": 0, "s": 0},
                d.clone(),
                doc! {"_id": 1, "b": 1},
            ),
            c(
                "$elemMatch returns the first match",
                doc! {"s": {"$elemMatch": {"x": 2}}},
                d.clone(),
                doc! {"_id": 1, "s": [{"x": 2, "y": 1}]},
            ),
            c(
                "$elemMatch without a match",
                doc! {"s": {"$elemMatch": {"x": 9}}, "b": 1},
                d.clone(),
                doc! {"_id": 1, "b": 1},
            ),
        ],
    );
    let f = Filter::parse(&doc! {"s.x": 2}).unwrap();
    let p = Projection::parse(&doc! {"s.$": 1}).unwrap();
    assert_eq!(p.apply(&d, Some(&f)).unwrap(), doc! {"_id": 1, "s": [{"x": 2, "y": 1}]});
    let f = Filter::parse(&doc! {"a": {"$gte": 3}}).unwrap();
    let p = Projection::parse(&doc! {"a.$": 1, "b": 1}).unwrap();
    assert_eq!(p.apply(&d, Some(&f)).unwrap(), doc! {"_id": 1, "a": [3], "b": 1});
    let f = Filter::parse(&doc! {"b": 1}).unwrap();
    assert_error(
        p.apply(&d, Some(&f)),
        51246,
        "Location51246",
        "positional operator '.$' couldn't find a matching element in the array",
    );
    let f = Filter::parse(&doc! {"a": 2}).unwrap();
    let p = Projection::parse(&doc! {"b.$": 1}).unwrap();
    assert_error(p.apply(&d, Some(&f)), 51247, "Location51247", "positional operator '.$' element mismatch");
}

#[test]
fn find_projection_errors() {
    run_error_cases(
        &[
            err_case("exclusion in inclusion", doc! {"a": 1, "b": 0}, 31254, "Cannot do exclusion on field b in inclusion projection"),
            err_case("inclusion in exclusion", doc! {"a": 0, "b": 1}, 31253, "Cannot do inclusion on field b in exclusion projection"),
            err_case("expression in exclusion", doc! {"a": 0, "b": "$x"}, 31252, "Cannot use expression other than $meta in exclusion projection"),
            err_case("path collision", doc! {"a": 1, "a.b": 1}, 31249, "Path collision at a.b remaining portion b"),
            err_case("path collision at parent", doc! {"a.b": 1, "a": 1}, 31250, "Path collision at a"),
            err_case("empty sub-projection", doc! {"a": {}}, 51270, "An empty sub-projection is not a valid value. Found empty object at path a"),
            err_case("positional exclusion", doc! {"a.$": 0}, 31395, "positional projection cannot be used with exclusion"),
            err_case(
                "positional in the middle",
                doc! {"a.$.b": 1},
                31394,
                "As of 4.4, it's illegal to specify positional operator in the middle of a path.Positional projection may only be used at the end, for example: a.b.$. If the query previously used a form like a.b.$.d, remove the parts following the '$' and the results will be equivalent.",
            ),
            err_case("two positionals", doc! {"a.$": 1, "b.$": 1}, 31276, "Cannot specify more than one positional projection per query."),
            err_case("unknown expression", doc! {"a": {"$foo": 1}}, 168, "Unrecognized expression '$foo'"),
            err_case("$slice arity", doc! {"a": {"$slice": "x"}}, 28667, "Expression $slice takes at least 2 arguments, and at most 3, but 1 were passed in."),
        ],
        Projection::parse,
    );
}

#[test]
fn project_stage() {
    let d = doc! {"_id": 1, "a": 1, "b": {"c": 2}};
    run(
        ProjectionKind::Project,
        vec![
            c("inclusion", doc! {"a": 1}, d.clone(), doc! {"_id": 1, "a": 1}),
            c("computed nested", doc! {"x.y": "$b.c"}, d.clone(), doc! {"_id": 1, "x": {"y": 2}}),
            c(
                "nested object of expressions",
                doc! {"x": {"y": {"$add": ["$a", 1]}}, "_id": 0},
                d.clone(),
                doc! {"x": {"y": 2}},
            ),
            c("exclusion", doc! {"b": 0}, d.clone(), doc! {"_id": 1, "a": 1}),
        ],
    );
    let parse = |s: &Document| Projection::parse_kind(s, ProjectionKind::Project, &[]);
    run_error_cases(
        &[
            err_case("empty", doc! {}, 51272, "Invalid $project :: caused by :: projection specification must have at least one field"),
            err_case("positional", doc! {"a.$": 1}, 31324, "Invalid $project :: caused by :: Cannot use positional projection in aggregation projection"),
            err_case("mixed", doc! {"a": 1, "b": 0}, 31254, "Invalid $project :: caused by :: Cannot do exclusion on field b in inclusion projection"),
            err_case(
                "dollar field",
                doc! {"$a": 1},
                16410,
                "Invalid $project :: caused by :: FieldPath field names may not start with '$'. Consider using $getField or $setField.",
            ),
            err_case("empty name", doc! {"": 1}, 40352, "Invalid $project :: caused by :: FieldPath cannot be constructed with empty string"),
            err_case("empty component", doc! {"a..b": 1}, 15998, "Invalid $project :: caused by :: FieldPath field names may not be empty strings."),
        ],
        parse,
    );
}

#[test]
fn add_fields() {
    run(
        ProjectionKind::AddFields,
        vec![
            c(
                "adds at the end",
                doc! {"x": {"$add": ["$a", 1]}},
                doc! {"_id": 1, "a": 1},
                doc! {"_id": 1, "a": 1, "x": 2},
            ),
            c(
                "overwrites in place",
                doc! {"a": 5},
                doc! {"_id": 1, "a": 1, "b": 2},
                doc! {"_id": 1, "a": 5, "b": 2},
            ),
            c(
                "dotted merges into subdocument",
                doc! {"a.c": 5},
                doc! {"a": {"b": 1}},
                doc! {"a": {"b": 1, "c": 5}},
            ),
            c(
                "nested object merges too",
                doc! {"a": {"c": 5}},
                doc! {"a": {"b": 1}},
                doc! {"a": {"b": 1, "c": 5}},
            ),
            c(
                "into array elements",
                doc! {"a.c": 5},
                doc! {"a": [{"b": 1}, 2]},
                doc! {"a": [{"b": 1, "c": 5}, {"c": 5}]},
            ),
            c("$$REMOVE removes", doc! {"a": "$$REMOVE"}, doc! {"a": 1, "b": 2}, doc! {"b": 2}),
            c("replaces a scalar parent", doc! {"a.b": 1}, doc! {"a": 5}, doc! {"a": {"b": 1}}),
        ],
    );
    assert_eq!(project(doc! {"a": 1}, doc! {"a": 1, "b": 2}), doc! {"a": 1});
}
