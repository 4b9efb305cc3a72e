//! Aggregation stages and accumulators, run through Pipeline with a fake
//! server context for $lookup, $unionWith, $out and $merge.

mod common;

use std::cell::RefCell;
use std::collections::HashMap;

use argon_query::pipeline::{Pipeline, PipelineContext};
use argon_query::{QueryError, Result};
use bson::{bson, doc, Bson, Document};
use common::*;

/// What `$out` (no spec) and `$merge` (its spec) wrote, per collection.
type Written = Vec<(String, Vec<Document>, Option<Document>)>;

#[derive(Default)]
struct FakeServer {
    collections: HashMap<String, Vec<Document>>,
    written: RefCell<Written>,
}

impl PipelineContext for FakeServer {
    fn collection(&self, name: &str) -> Result<Vec<Document>> {
        Ok(self.collections.get(name).cloned().unwrap_or_default())
    }

    fn write_out(&self, coll: &str, docs: Vec<Document>) -> Result<()> {
        self.written.borrow_mut().push((coll.to_string(), docs, None));
        Ok(())
    }

    fn merge_into(&self, coll: &str, docs: Vec<Document>, spec: &Document) -> Result<()> {
        self.written.borrow_mut().push((coll.to_string(), docs, Some(spec.clone())));
        Ok(())
    }

    fn now(&self) -> bson::DateTime {
        bson::DateTime::from_millis(42)
    }
}

fn sales() -> Vec<Document> {
    vec![
        doc! {"_id": 1, "item": "abc", "price": 10, "qty": 2, "tags": ["a", "b"]},
        doc! {"_id": 2, "item": "jkl", "price": 20, "qty": 1, "tags": ["b"]},
        doc! {"_id": 3, "item": "xyz", "price": 5, "qty": 10, "tags": []},
        doc! {"_id": 4, "item": "xyz", "price": 5.5, "qty": 20},
        doc! {"_id": 5, "item": "abc", "price": 10, "qty": 10, "tags": null},
    ]
}

fn server() -> FakeServer {
    let mut s = FakeServer::default();
    s.collections.insert(
        "inventory".into(),
        vec![
            doc! {"_id": 10, "sku": "abc", "stock": 120},
            doc! {"_id": 11, "sku": "xyz", "stock": 80},
            doc! {"_id": 12, "sku": "xyz", "stock": 5},
            doc! {"_id": 13, "sku": null, "stock": 0},
            doc! {"_id": 14, "stock": 1},
            doc! {"_id": 15, "sku": ["jkl", "zzz"], "stock": 7},
        ],
    );
    s.collections.insert("other".into(), vec![doc! {"_id": 100, "item": "u"}]);
    s
}

fn run(stages: Vec<Document>) -> Result<Vec<Document>> {
    run_with(&server(), stages)
}

fn run_with(ctx: &FakeServer, stages: Vec<Document>) -> Result<Vec<Document>> {
    Pipeline::parse(&stages)?.run(Box::new(sales().into_iter()), ctx)
}

fn ok(stages: Vec<Document>) -> Vec<Document> {
    run(stages.clone()).unwrap_or_else(|e| panic!("{stages:?}: {e}"))
}

#[test]
fn match_project_add_fields_unset() {
    assert_eq!(
        ok(vec![doc! {"$match": {"qty": {"$gte": 10}}}, doc! {"$project": {"item": 1, "_id": 0}}]),
        vec![doc! {"item": "xyz"}, doc! {"item": "xyz"}, doc! {"item": "abc"}]
    );
    assert_eq!(
        ok(vec![
            doc! {"$match": {"_id": 1}},
            doc! {"$addFields": {"total": {"$multiply": ["$price", "$qty"]}}},
            doc! {"$set": {"now": "$$NOW"}},
            doc! {"$unset": ["tags", "price"]},
        ]),
        vec![
            doc! {"_id": 1, "item": "abc", "qty": 2, "total": 20, "now": Bson::DateTime(bson::DateTime::from_millis(42))}
        ]
    );
    assert_eq!(
        ok(vec![
            doc! {"$match": {"$expr": {"$gt": [{"$multiply": ["$price", "$qty"]}, 100]}}},
            doc! {"$unset": "tags"}
        ]),
        vec![doc! {"_id": 4, "item": "xyz", "price": 5.5, "qty": 20}]
    );
}

#[test]
fn group_and_accumulators() {
    let out = ok(vec![
        doc! {"$group": {
            "_id": "$item",
            "count": {"$count": {}},
            "n": {"$sum": 1},
            "qty": {"$sum": "$qty"},
            "avgPrice": {"$avg": "$price"},
            "minQty": {"$min": "$qty"},
            "maxQty": {"$max": "$qty"},
            "first": {"$first": "$_id"},
            "last": {"$last": "$_id"},
            "ids": {"$push": "$_id"},
            "prices": {"$addToSet": "$price"},
            "revenue": {"$sum": {"$multiply": ["$price", "$qty"]}},
        }},
        doc! {"$sort": {"_id": 1}},
    ]);
    assert_eq!(
        out,
        vec![
            doc! {"_id": "abc", "count": 2, "n": 2, "qty": 12, "avgPrice": 10.0, "minQty": 2, "maxQty": 10, "first": 1, "last": 5, "ids": [1, 5], "prices": [10], "revenue": 120},
            doc! {"_id": "jkl", "count": 1, "n": 1, "qty": 1, "avgPrice": 20.0, "minQty": 1, "maxQty": 1, "first": 2, "last": 2, "ids": [2], "prices": [20], "revenue": 20},
            doc! {"_id": "xyz", "count": 2, "n": 2, "qty": 30, "avgPrice": 5.25, "minQty": 10, "maxQty": 20, "first": 3, "last": 4, "ids": [3, 4], "prices": [5, 5.5], "revenue": 160.0},
        ]
    );
    // Group keys compare by value: 10 and 10.0 are one group; missing is null.
    let mixed = vec![doc! {"k": 10}, doc! {"k": 10.0}, doc! {"k": 10i64}, doc! {}, doc! {"k": null}];
    let p = Pipeline::parse(&[doc! {"$group": {"_id": "$k", "n": {"$sum": 1}}}]).unwrap();
    let out = p.run(Box::new(mixed.into_iter()), &server()).unwrap();
    assert_eq!(out, vec![doc! {"_id": 10, "n": 3}, doc! {"_id": null, "n": 2}]);
    // A null _id groups everything; $sum ignores non-numbers.
    let all = ok(vec![
        doc! {"$group": {"_id": null, "total": {"$sum": "$tags"}, "all": {"$sum": "$qty"}, "sd": {"$stdDevPop": "$qty"}, "sds": {"$stdDevSamp": "$qty"}}},
    ]);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].get("_id"), Some(&Bson::Null));
    assert_eq!(all[0].get("total"), Some(&bson!(0)));
    assert_eq!(all[0].get("all"), Some(&bson!(43)));
    assert!((all[0].get_f64("sd").unwrap() - 47.04f64.sqrt()).abs() < 1e-9);
    assert!((all[0].get_f64("sds").unwrap() - 58.8f64.sqrt()).abs() < 1e-9);
    assert_eq!(
        ok(vec![
            doc! {"$group": {"_id": {"i": "$item", "p": "$price"}, "n": {"$sum": 1}}},
            doc! {"$sort": {"_id.i": 1, "_id.p": -1}},
            doc! {"$limit": 2}
        ]),
        vec![doc! {"_id": {"i": "abc", "p": 10}, "n": 2}, doc! {"_id": {"i": "jkl", "p": 20}, "n": 1}]
    );
    let merged = ok(vec![doc! {"$group": {"_id": null, "m": {"$mergeObjects": {"x": "$_id"}}}}]);
    assert_eq!(merged[0].get_document("m").unwrap(), &doc! {"x": 5});
}

#[test]
fn sort_limit_skip_count() {
    let ids = |docs: Vec<Document>| docs.iter().map(|d| d.get("_id").cloned().unwrap()).collect::<Vec<_>>();
    assert_eq!(
        ids(ok(vec![doc! {"$sort": {"qty": -1, "_id": 1}}])),
        vec![bson!(4), bson!(3), bson!(5), bson!(1), bson!(2)]
    );
    assert_eq!(
        ids(ok(vec![doc! {"$sort": {"price": 1, "_id": -1}}, doc! {"$skip": 1}, doc! {"$limit": 2}])),
        vec![bson!(4), bson!(5)]
    );
    assert_eq!(
        ids(ok(vec![doc! {"$sort": {"tags": 1, "_id": 1}}])),
        vec![bson!(3), bson!(4), bson!(5), bson!(1), bson!(2)]
    );
    assert_eq!(ok(vec![doc! {"$count": "total"}]), vec![doc! {"total": 5}]);
    assert_eq!(ok(vec![doc! {"$match": {"qty": 99}}, doc! {"$count": "total"}]), Vec::<Document>::new());
    assert_eq!(ids(ok(vec![doc! {"$skip": 4}])), vec![bson!(5)]);
}

#[test]
fn unwind() {
    let items = |docs: Vec<Document>| {
        docs.into_iter()
            .map(|d| (d.get("_id").cloned().unwrap(), d.get("tags").cloned(), d.get("i").cloned()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        items(ok(vec![doc! {"$unwind": "$tags"}])),
        vec![
            (bson!(1), Some(bson!("a")), None),
            (bson!(1), Some(bson!("b")), None),
            (bson!(2), Some(bson!("b")), None)
        ]
    );
    assert_eq!(
        items(ok(vec![
            doc! {"$unwind": {"path": "$tags", "includeArrayIndex": "i", "preserveNullAndEmptyArrays": true}}
        ])),
        vec![
            (bson!(1), Some(bson!("a")), Some(bson!(0i64))),
            (bson!(1), Some(bson!("b")), Some(bson!(1i64))),
            (bson!(2), Some(bson!("b")), Some(bson!(0i64))),
            (bson!(3), None, Some(Bson::Null)),
            (bson!(4), None, Some(Bson::Null)),
            (bson!(5), Some(Bson::Null), Some(Bson::Null)),
        ]
    );
    let p = Pipeline::parse(&[doc! {"$unwind": "$a.b"}]).unwrap();
    let out = p
        .run(Box::new(vec![doc! {"a": {"b": [1, 2], "c": 3}}, doc! {"a": {"b": "x"}}].into_iter()), &server())
        .unwrap();
    assert_eq!(out, vec![doc! {"a": {"b": 1, "c": 3}}, doc! {"a": {"b": 2, "c": 3}}, doc! {"a": {"b": "x"}}]);
}

#[test]
fn lookup() {
    let out = ok(vec![
        doc! {"$match": {"_id": {"$in": [1, 2, 3]}}},
        doc! {"$lookup": {"from": "inventory", "localField": "item", "foreignField": "sku", "as": "inv"}},
        doc! {"$project": {"ids": "$inv._id"}},
    ]);
    assert_eq!(
        out,
        vec![doc! {"_id": 1, "ids": [10]}, doc! {"_id": 2, "ids": [15]}, doc! {"_id": 3, "ids": [11, 12]}]
    );
    // A missing local field matches null and missing foreign fields.
    let p = Pipeline::parse(&[
        doc! {"$lookup": {"from": "inventory", "localField": "nope", "foreignField": "sku", "as": "inv"}},
        doc! {"$project": {"ids": "$inv._id", "_id": 0}},
    ])
    .unwrap();
    assert_eq!(p.run(Box::new(vec![doc! {}].into_iter()), &server()).unwrap(), vec![doc! {"ids": [13, 14]}]);
    // Array local values match any element.
    let p = Pipeline::parse(&[
        doc! {"$lookup": {"from": "inventory", "localField": "s", "foreignField": "sku", "as": "inv"}},
        doc! {"$project": {"ids": "$inv._id", "_id": 0}},
    ])
    .unwrap();
    assert_eq!(
        p.run(Box::new(vec![doc! {"s": ["abc", "zzz"]}].into_iter()), &server()).unwrap(),
        vec![doc! {"ids": [10, 15]}]
    );
    // Pipeline form with let.
    let out = ok(vec![
        doc! {"$match": {"_id": 4}},
        doc! {"$lookup": {
            "from": "inventory",
            "let": {"want": "$item", "need": "$qty"},
            "pipeline": [
                {"$match": {"$expr": {"$and": [{"$eq": ["$sku", "$$want"]}, {"$gte": ["$stock", "$$need"]}]}}},
                {"$project": {"_id": 0, "stock": 1}},
            ],
            "as": "enough",
        }},
        doc! {"$project": {"enough": 1}},
    ]);
    assert_eq!(out, vec![doc! {"_id": 4, "enough": [{"stock": 80}]}]);
    // Equality and pipeline together.
    let out = ok(vec![
        doc! {"$match": {"_id": 3}},
        doc! {"$lookup": {"from": "inventory", "localField": "item", "foreignField": "sku", "pipeline": [{"$match": {"stock": {"$lt": 10}}}], "as": "low"}},
        doc! {"$project": {"n": {"$size": "$low"}}},
    ]);
    assert_eq!(out, vec![doc! {"_id": 3, "n": 1}]);
}

#[test]
fn reshaping_stages() {
    assert_eq!(
        ok(vec![
            doc! {"$match": {"_id": 1}},
            doc! {"$replaceRoot": {"newRoot": {"i": "$item", "q": "$qty"}}}
        ]),
        vec![doc! {"i": "abc", "q": 2}]
    );
    assert_eq!(
        ok(vec![
            doc! {"$match": {"_id": 2}},
            doc! {"$replaceWith": {"$mergeObjects": [{"z": 0}, {"i": "$item"}]}}
        ]),
        vec![doc! {"z": 0, "i": "jkl"}]
    );
    assert_eq!(
        ok(vec![doc! {"$sortByCount": "$item"}])
            .into_iter()
            .map(|d| d.get_i32("count").unwrap())
            .collect::<Vec<_>>(),
        vec![2, 2, 1]
    );
    let out = ok(vec![doc! {"$facet": {
        "byItem": [{"$group": {"_id": "$item"}}, {"$sort": {"_id": 1}}],
        "total": [{"$count": "n"}],
        "top": [{"$sort": {"qty": -1}}, {"$limit": 1}, {"$project": {"_id": 1}}],
    }}]);
    assert_eq!(
        out,
        vec![
            doc! {"byItem": [{"_id": "abc"}, {"_id": "jkl"}, {"_id": "xyz"}], "total": [{"n": 5}], "top": [{"_id": 4}]}
        ]
    );
    let out = ok(vec![doc! {"$bucket": {
        "groupBy": "$qty",
        "boundaries": [0, 5, 15],
        "default": "other",
        "output": {"n": {"$sum": 1}, "ids": {"$push": "$_id"}},
    }}]);
    assert_eq!(
        out,
        vec![
            doc! {"_id": 0, "n": 2, "ids": [1, 2]},
            doc! {"_id": 5, "n": 2, "ids": [3, 5]},
            doc! {"_id": "other", "n": 1, "ids": [4]}
        ]
    );
    assert_error(
        run(vec![doc! {"$bucket": {"groupBy": "$qty", "boundaries": [0, 5]}}]),
        40066,
        "Location40066",
        "$switch could not find a matching branch for an input, and no default was specified.",
    );
    let sample = ok(vec![doc! {"$sample": {"size": 3}}]);
    assert_eq!(sample.len(), 3);
    let mut ids: Vec<i32> = sample.iter().map(|d| d.get_i32("_id").unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "sampled without replacement");
    assert_eq!(ok(vec![doc! {"$sample": {"size": 10}}]).len(), 5);
}

#[test]
fn union_with_out_merge_documents() {
    let out = ok(vec![
        doc! {"$match": {"_id": 1}},
        doc! {"$project": {"item": 1}},
        doc! {"$unionWith": {"coll": "other", "pipeline": [{"$set": {"x": 1}}]}},
    ]);
    assert_eq!(out, vec![doc! {"_id": 1, "item": "abc"}, doc! {"_id": 100, "item": "u", "x": 1}]);
    assert_eq!(ok(vec![doc! {"$match": {"_id": 2}}, doc! {"$unionWith": "other"}]).len(), 2);

    let s = server();
    let out = run_with(
        &s,
        vec![doc! {"$match": {"item": "xyz"}}, doc! {"$project": {"qty": 1}}, doc! {"$out": "copy"}],
    )
    .unwrap();
    assert!(out.is_empty());
    let merged = run_with(
        &s,
        vec![doc! {"$match": {"_id": 2}}, doc! {"$merge": {"into": "dest", "whenMatched": "replace"}}],
    )
    .unwrap();
    assert!(merged.is_empty());
    let written = s.written.borrow();
    assert_eq!(written[0].0, "copy");
    assert_eq!(written[0].1, vec![doc! {"_id": 3, "qty": 10}, doc! {"_id": 4, "qty": 20}]);
    assert_eq!(written[1].0, "dest");
    assert_eq!(written[1].2.as_ref().unwrap(), &doc! {"into": "dest", "whenMatched": "replace"});

    let p = Pipeline::parse(&[doc! {"$documents": [{"a": 1}, {"a": 2}]}, doc! {"$match": {"a": 2}}]).unwrap();
    assert_eq!(p.run(Box::new(std::iter::empty()), &server()).unwrap(), vec![doc! {"a": 2}]);
}

#[test]
fn leading_match_is_exposed() {
    let p = Pipeline::parse(&[doc! {"$match": {"a": 1}}, doc! {"$limit": 1}]).unwrap();
    assert_eq!(p.leading_match(), Some(&doc! {"a": 1}));
    assert!(Pipeline::parse(&[doc! {"$limit": 1}]).unwrap().leading_match().is_none());
}

#[test]
fn dbref_fields_are_allowed_in_field_paths() {
    // What Beanie's links and mongoengine's references store: DBRefs.
    let books = vec![
        doc! {"_id": 1, "author": {"$ref": "authors", "$id": 10, "$db": "lib"}},
        doc! {"_id": 2, "author": {"$ref": "authors", "$id": 10, "$db": "lib"}},
        doc! {"_id": 3, "author": {"$ref": "authors", "$id": 11, "$db": "lib"}},
    ];
    let stages = vec![
        doc! {"$group": {"_id": "$author.$id", "n": {"$sum": 1}, "coll": {"$first": "$author.$ref"}}},
        doc! {"$project": {"n": 1, "coll": 1, "author.$db": "lib"}},
        doc! {"$sort": {"_id": 1}},
    ];
    let out = Pipeline::parse(&stages).unwrap().run(Box::new(books.into_iter()), &server()).unwrap();
    assert_eq!(
        out,
        vec![
            doc! {"_id": 10, "n": 2, "coll": "authors", "author": {"$db": "lib"}},
            doc! {"_id": 11, "n": 1, "coll": "authors", "author": {"$db": "lib"}},
        ]
    );
    // Other `$` names stay refused.
    let e = Pipeline::parse(&[doc! {"$group": {"_id": "$author.$name"}}]).unwrap_err();
    assert_eq!(e.code, 16410);
}

#[test]
fn stage_errors() {
    let parse = |stages: &Document| -> std::result::Result<Pipeline, QueryError> {
        let list: Vec<Document> =
            stages.get_array("p").unwrap().iter().map(|s| s.as_document().unwrap().clone()).collect();
        Pipeline::parse(&list)
    };
    run_error_cases(
        &[
            err_case("unknown stage", doc! {"p": [{"$foo": 1}]}, 40324, "Unrecognized pipeline stage name: '$foo'"),
            err_case("two fields", doc! {"p": [{"$match": {}, "$limit": 1}]}, 40323, "A pipeline stage specification object must contain exactly one field."),
            err_case("$out not last", doc! {"p": [{"$out": "x"}, {"$limit": 1}]}, 40601, "$out can only be the final stage in the pipeline"),
            err_case("$limit zero", doc! {"p": [{"$limit": 0}]}, 15958, "the limit must be positive"),
            err_case("$limit string", doc! {"p": [{"$limit": "1"}]}, 15957, "the limit must be specified as a number"),
            err_case("$skip negative", doc! {"p": [{"$skip": -1}]}, 5107200, "invalid argument to $skip stage: Expected a non-negative number in: $skip: -1"),
            err_case("$match not object", doc! {"p": [{"$match": 1}]}, 15959, "the match filter must be an expression in an object"),
            err_case("$project not object", doc! {"p": [{"$project": 1}]}, 15969, "$project specification must be an object"),
            err_case("$set not object", doc! {"p": [{"$set": "x"}]}, 40272, "$set specification stage must be an object, got string"),
            err_case(
                "$addFields dollar field",
                doc! {"p": [{"$addFields": {"$x": 1}}]},
                16410,
                "Invalid $addFields :: caused by :: FieldPath field names may not start with '$'. Consider using $getField or $setField.",
            ),
            err_case("$unset type", doc! {"p": [{"$unset": 1}]}, 31002, "$unset specification must be a string or an array"),
            err_case("$unset empty", doc! {"p": [{"$unset": []}]}, 31119, "$unset specification must be a string or an array with at least one field"),
            err_case("$unset collision", doc! {"p": [{"$unset": ["a", "a.b"]}]}, 31249, "Invalid $unset :: caused by :: Path collision at a.b remaining portion b"),
            err_case("$group no _id", doc! {"p": [{"$group": {"n": {"$sum": 1}}}]}, 15955, "a group specification must include an _id"),
            err_case("$group not accumulator", doc! {"p": [{"$group": {"_id": null, "n": 1}}]}, 40234, "The field 'n' must be an accumulator object"),
            err_case("$group empty accumulator", doc! {"p": [{"$group": {"_id": null, "n": {}}}]}, 40234, "The field 'n' must be an accumulator object"),
            err_case("$group empty array argument", doc! {"p": [{"$group": {"_id": null, "n": {"$sum": []}}}]}, 40237, "The $sum accumulator is a unary operator"),
            err_case("$group unknown accumulator", doc! {"p": [{"$group": {"_id": null, "n": {"$foo": 1}}}]}, 15952, "unknown group operator '$foo'"),
            err_case("$group two accumulators", doc! {"p": [{"$group": {"_id": null, "n": {"$sum": 1, "$avg": 1}}}]}, 40238, "The field 'n' must specify one accumulator"),
            err_case("$group array arg", doc! {"p": [{"$group": {"_id": null, "n": {"$sum": [1, 2]}}}]}, 40237, "The $sum accumulator is a unary operator"),
            err_case("$group dotted field", doc! {"p": [{"$group": {"_id": null, "a.b": {"$sum": 1}}}]}, 40235, "The field name 'a.b' cannot contain '.'"),
            err_case("$sort empty", doc! {"p": [{"$sort": {}}]}, 15976, "$sort stage must have at least one sort key"),
            err_case("$unwind no $", doc! {"p": [{"$unwind": "tags"}]}, 28818, "path option to $unwind stage should be prefixed with a '$': tags"),
            err_case("$unwind no path", doc! {"p": [{"$unwind": {}}]}, 28812, "no path specified to $unwind stage"),
            err_case("$unwind option", doc! {"p": [{"$unwind": {"path": "$a", "x": 1}}]}, 28811, "unrecognized option to $unwind stage: x"),
            err_case("$count $", doc! {"p": [{"$count": "$x"}]}, 40158, "the count field cannot be a $-prefixed path"),
            err_case("$count dot", doc! {"p": [{"$count": "a.b"}]}, 40160, "the count field cannot contain '.'"),
            err_case("$replaceRoot", doc! {"p": [{"$replaceRoot": {}}]}, 40414, "BSON field '$replaceRoot.newRoot' is missing but a required field"),
            err_case("$lookup as", doc! {"p": [{"$lookup": {"from": "x", "localField": "a", "foreignField": "b"}}]}, 9, "must specify 'as' field for a $lookup"),
            err_case("$sample size", doc! {"p": [{"$sample": {"size": -1}}]}, 28747, "size argument to $sample must not be negative"),
            err_case("$bucket required", doc! {"p": [{"$bucket": {"groupBy": "$a"}}]}, 40198, "$bucket requires 'groupBy' and 'boundaries' to be specified."),
            err_case(
                "$bucket unsorted",
                doc! {"p": [{"$bucket": {"groupBy": "$a", "boundaries": [5, 1]}}]},
                40194,
                "The 'boundaries' option to $bucket must be sorted, but elements 0 and 1 are not in ascending order (5 is not less than 1).",
            ),
            err_case("$bucket groupBy", doc! {"p": [{"$bucket": {"groupBy": "a", "boundaries": [1, 5]}}]}, 40202, "The $bucket 'groupBy' field must be defined as a $-prefixed path or an expression, but found: \"a\"."),
            err_case("$facet $out", doc! {"p": [{"$facet": {"a": [{"$out": "x"}]}}]}, 40600, "$out is not allowed to be used within $facet stage"),
        ],
        parse,
    );
    assert_error(
        run(vec![doc! {"$replaceRoot": {"newRoot": "$qty"}}]),
        40228,
        "Location40228",
        "'newRoot' expression  must evaluate to an object, but resulting value was: 2. Type of resulting value: 'int'. Input document: { _id: 1, item: \"abc\", price: 10, qty: 2, tags: [ \"a\", \"b\" ] }",
    );
    assert_error(
        run(vec![doc! {"$project": {"x": {"$divide": [1, 0]}}}]),
        2,
        "BadValue",
        "can't $divide by zero",
    );
}
