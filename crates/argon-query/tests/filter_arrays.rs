//! Array query operators: $all, $elemMatch, $size; and the array position
//! a match reports for the positional `$` operator.

mod common;

use argon_query::Filter;
use bson::doc;
use common::*;

#[test]
fn size() {
    let data = all_docs();
    run_filter_cases(
        &data,
        &[
            case("zero", doc! {"v": {"$size": 0}}, &["array-empty"]),
            case("one", doc! {"v": {"$size": 1}}, &["array-one", "array-null"]),
            case("two", doc! {"v": {"$size": 2}}, &["array-nested", "array-docs"]),
            case("whole double", doc! {"v": {"$size": 3.0}}, &["array-three"]),
            case("long", doc! {"v": {"$size": 3i64}}, &["array-three"]),
            case("non-arrays never match", doc! {"_id": {"$size": 3}}, &[]),
            case("not nested arrays", doc! {"v.0": {"$size": 1}}, &["array-nested"]),
            case_ids(
                "negated",
                doc! {"v": {"$not": {"$size": 1}}},
                all_except(&data, &["array-one", "array-null"]),
            ),
        ],
    );
    run_error_cases(
        &[
            err_case("negative", doc! {"v": {"$size": -1}}, 2, "$size may not be negative"),
            err_case("fraction", doc! {"v": {"$size": 1.5}}, 2, "$size must be a whole number"),
            err_case("string", doc! {"v": {"$size": "1"}}, 2, "$size needs a number"),
            err_case(
                "long too big",
                doc! {"v": {"$size": 1i64 << 40}},
                2,
                "$size must be representable as a 32-bit integer",
            ),
        ],
        Filter::parse,
    );
}

#[test]
fn all() {
    let data = all_docs();
    run_filter_cases(
        &data,
        &[
            case("two values", doc! {"v": {"$all": [42, "foo"]}}, &["array-three"]),
            case(
                "one value is like equality",
                doc! {"v": {"$all": [42]}},
                &["int", "long", "double", "decimal", "array-one", "array-three"],
            ),
            case("empty matches nothing", doc! {"v": {"$all": []}}, &[]),
            case("array value", doc! {"v": {"$all": [[42]]}}, &["array-one", "array-nested"]),
            case("regex", doc! {"v": {"$all": [regex("^f", ""), null]}}, &["array-three"]),
            case(
                "$elemMatch list",
                doc! {"v": {"$all": [{"$elemMatch": {"a": 42}}, {"$elemMatch": {"b": 1}}]}},
                &["array-docs"],
            ),
        ],
    );
    run_error_cases(
        &[
            err_case("not array", doc! {"v": {"$all": 1}}, 2, "$all needs an array"),
            err_case("operator", doc! {"v": {"$all": [{"$gt": 1}]}}, 2, "no $ expressions in $all"),
            err_case(
                "mixed $elemMatch",
                doc! {"v": {"$all": [{"$elemMatch": {"a": 1}}, 5]}},
                2,
                "$all/$elemMatch has to be consistent",
            ),
        ],
        Filter::parse,
    );
}

#[test]
fn elem_match() {
    let data = vec![
        doc! {"_id": "scores", "s": [82, 85, 88]},
        doc! {"_id": "low", "s": [75, 88, 89]},
        doc! {"_id": "scalar", "s": 85},
        doc! {"_id": "docs", "r": [{"p": "a", "q": 10}, {"p": "b", "q": 5}]},
        doc! {"_id": "docs2", "r": [{"p": "a", "q": 5}, {"p": "b", "q": 10}]},
        doc! {"_id": "nested", "s": [[85, 90]]},
    ];
    run_filter_cases(
        &data,
        &[
            case(
                "one element satisfies both bounds",
                doc! {"s": {"$elemMatch": {"$gte": 80, "$lt": 85}}},
                &["scores"],
            ),
            case("versus separate elements", doc! {"s": {"$gte": 80, "$lt": 85}}, &["scores", "low"]),
            case("scalars never match", doc! {"s": {"$elemMatch": {"$eq": 85}}}, &["scores"]),
            case("nested array element", doc! {"s": {"$elemMatch": {"$eq": [85, 90]}}}, &["nested"]),
            case("document form", doc! {"r": {"$elemMatch": {"p": "a", "q": {"$gt": 8}}}}, &["docs"]),
            case(
                "document form without $elemMatch mixes elements",
                doc! {"r.p": "a", "r.q": {"$gt": 8}},
                &["docs", "docs2"],
            ),
            case(
                "$not inside value form (an array element is not less than 88)",
                doc! {"s": {"$elemMatch": {"$not": {"$lt": 88}}}},
                &["scores", "low", "nested"],
            ),
            case(
                "$or inside document form",
                doc! {"r": {"$elemMatch": {"$or": [{"q": 10}, {"p": "z"}]}}},
                &["docs", "docs2"],
            ),
            case("nested arrays as documents", doc! {"s": {"$elemMatch": {"0": 85}}}, &["nested"]),
        ],
    );
    run_error_cases(
        &[err_case("not an object", doc! {"s": {"$elemMatch": 1}}, 2, "$elemMatch needs an Object")],
        Filter::parse,
    );
}

#[test]
fn positional_match_details() {
    let doc = doc! {"_id": 1, "a": [{"b": 1}, {"b": 2}, {"b": 3}], "c": [5, 6, 7]};
    let key = |filter| Filter::parse(&filter).unwrap().matches_with_details(&doc).map(|d| d.elem_match_key);
    assert_eq!(key(doc! {"a.b": 2}), Some(Some(1)));
    assert_eq!(key(doc! {"a.b": {"$gte": 2}}), Some(Some(1)));
    assert_eq!(key(doc! {"a": {"$elemMatch": {"b": 3}}}), Some(Some(2)));
    assert_eq!(key(doc! {"c": 7}), Some(Some(2)));
    assert_eq!(key(doc! {"c": {"$gt": 5}}), Some(Some(1)));
    // The last array-traversing condition decides.
    assert_eq!(key(doc! {"c": 5, "a.b": 3}), Some(Some(2)));
    // Explicit indexes and non-array fields report no position.
    assert_eq!(key(doc! {"c.1": 6}), Some(None));
    assert_eq!(key(doc! {"_id": 1}), Some(None));
    assert_eq!(key(doc! {"c": 8}), None);
}
