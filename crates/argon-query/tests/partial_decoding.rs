//! Property: matching a filter, or running a pipeline, on documents that
//! hold only the fields the filter or pipeline depends on (decoded from
//! stored BSON by `Deps::decode_into`) gives exactly the same result as on
//! whole documents. Stored documents are built field by field, so they can
//! repeat a key, as raw BSON may.

use argon_query::pipeline::{NoCollections, Pipeline};
use argon_query::{Deps, Filter};
use bson::{bson, doc, Bson, Document};
use proptest::prelude::*;

fn scalar() -> impl Strategy<Value = Bson> {
    prop_oneof![
        (0i32..4).prop_map(Bson::Int32),
        (0i64..4).prop_map(Bson::Int64),
        (0i32..4).prop_map(|i| Bson::Double(i as f64 + 0.5)),
        "[ab]{0,2}".prop_map(Bson::String),
        Just(Bson::Null),
        any::<bool>().prop_map(Bson::Boolean),
    ]
}

fn value() -> impl Strategy<Value = Bson> {
    scalar().prop_recursive(2, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Bson::Array),
            prop::collection::vec((prop::sample::select(vec!["x", "y", "0"]), inner), 0..3).prop_map(
                |fields| Bson::Document(fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            ),
        ]
    })
}

/// Fields of a stored document, in order, keys possibly repeated.
fn fields() -> impl Strategy<Value = Vec<(String, Bson)>> {
    prop::collection::vec((prop::sample::select(vec!["a", "b", "c", "d", "a"]), value()), 0..5)
        .prop_map(|v| v.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// The BSON bytes of a document with these fields, in this order.
fn raw_bytes(id: i32, fields: &[(String, Bson)]) -> Vec<u8> {
    let mut body = Vec::new();
    let id_doc = doc! {"_id": id}.to_vec().unwrap();
    body.extend_from_slice(&id_doc[4..id_doc.len() - 1]);
    for (k, v) in fields {
        let one = doc! {k.clone(): v.clone()}.to_vec().unwrap();
        body.extend_from_slice(&one[4..one.len() - 1]);
    }
    let mut out = ((body.len() + 5) as i32).to_le_bytes().to_vec();
    out.extend(body);
    out.push(0);
    out
}

fn path() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["a", "b", "c", "a.x", "b.0", "c.x.y", "d", "a.0.x", "e"])
}

fn leaf() -> impl Strategy<Value = Document> {
    let cond = prop_oneof![
        scalar(),
        scalar().prop_map(|v| bson!({"$ne": v})),
        scalar().prop_map(|v| bson!({"$gt": v})),
        scalar().prop_map(|v| bson!({"$lte": v})),
        prop::collection::vec(scalar(), 0..3).prop_map(|v| bson!({"$in": v})),
        prop::collection::vec(scalar(), 0..3).prop_map(|v| bson!({"$nin": v})),
        any::<bool>().prop_map(|b| bson!({"$exists": b})),
        prop::sample::select(vec!["array", "number", "string", "object", "null"])
            .prop_map(|t| bson!({"$type": t})),
        (0i32..3).prop_map(|n| bson!({"$size": n})),
        scalar().prop_map(|v| bson!({"$elemMatch": {"$gte": v}})),
        scalar().prop_map(|v| bson!({"$elemMatch": {"x": v}})),
        scalar().prop_map(|v| bson!({"$not": {"$gt": v}})),
        scalar().prop_map(|v| bson!({"$all": [v]})),
        Just(argon_query::regex::regex_value("^a", "")),
        value().prop_map(|v| bson!({"$eq": v})),
    ];
    (path(), cond).prop_map(|(p, c)| doc! {p: c})
}

fn expr_filter() -> impl Strategy<Value = Document> {
    prop_oneof![
        Just(doc! {"$expr": {"$gt": ["$a", "$b"]}}),
        scalar().prop_map(|v| doc! {"$expr": {"$eq": ["$$ROOT.c", v]}}),
        Just(doc! {"$expr": {"$eq": [{"$size": {"$objectToArray": "$$ROOT"}}, 3]}}),
        scalar().prop_map(|v| doc! {"$expr": {"$lt": ["$c.x", v]}}),
        Just(doc! {"$expr": {"$eq": [{"$type": "$$CURRENT.d"}, "missing"]}}),
    ]
}

/// `$jsonSchema` filters: some read named fields, some the whole document.
fn schema_filter() -> impl Strategy<Value = Document> {
    let field = prop::sample::select(vec!["a", "b", "c", "d"]);
    let field_schema = prop_oneof![
        prop::sample::select(vec!["int", "string", "array", "object", "null"])
            .prop_map(|t| doc! {"bsonType": t}),
        scalar().prop_map(|v| doc! {"minimum": v}),
        Just(doc! {"items": {"bsonType": "int"}}),
        Just(doc! {"required": ["x"], "properties": {"x": {"maxLength": 1}}}),
        prop::collection::vec(scalar(), 1..3).prop_map(|v| doc! {"not": {"enum": v}}),
    ];
    prop_oneof![
        (field.clone(), field_schema).prop_map(|(f, s)| doc! {"$jsonSchema": {"properties": {f: s}}}),
        field.clone().prop_map(|f| doc! {"$jsonSchema": {"required": [f]}}),
        (field.clone(), field).prop_map(|(f, g)| doc! {"$jsonSchema": {"dependencies": {f: [g]}}}),
        (0i32..4).prop_map(|n| doc! {"$jsonSchema": {"maxProperties": n}}),
        Just(doc! {"$jsonSchema": {"properties": {"_id": {}, "a": {}}, "additionalProperties": false}}),
        Just(doc! {"$jsonSchema": {"patternProperties": {"^[ab]$": {"bsonType": "int"}}}}),
    ]
}

fn filter() -> impl Strategy<Value = Document> {
    let base = prop_oneof![4 => leaf(), 1 => expr_filter(), 1 => schema_filter(), 1 => Just(Document::new())];
    base.prop_recursive(2, 8, 3, |inner| {
        (prop::sample::select(vec!["$and", "$or", "$nor"]), prop::collection::vec(inner.clone(), 1..3))
            .prop_map(|(op, items)| doc! {op: items})
    })
}

fn stage() -> impl Strategy<Value = Document> {
    prop_oneof![
        3 => filter().prop_map(|f| doc! {"$match": f}),
        1 => Just(doc! {"$group": {"_id": "$a", "n": {"$sum": 1}, "s": {"$push": "$b"}, "f": {"$first": "$c.x"}}}),
        1 => Just(doc! {"$group": {"_id": null, "m": {"$max": "$a"}, "t": {"$addToSet": "$d"}}}),
        1 => Just(doc! {"$group": {"_id": {"x": "$a.x", "y": "$b"}, "r": {"$push": "$$ROOT"}}}),
        1 => Just(doc! {"$project": {"a": 1, "_id": 0}}),
        1 => Just(doc! {"$project": {"b": 1, "z": {"$concatArrays": [["$a"], ["$c"]]}}}),
        1 => Just(doc! {"$project": {"a": 0}}),
        1 => Just(doc! {"$project": {"c.x": 1}}),
        1 => Just(doc! {"$addFields": {"z": "$a"}}),
        1 => Just(doc! {"$set": {"a.q": 1}}),
        1 => Just(doc! {"$unset": "b"}),
        1 => Just(doc! {"$unwind": "$a"}),
        1 => Just(doc! {"$unwind": {"path": "$b", "preserveNullAndEmptyArrays": true, "includeArrayIndex": "i"}}),
        1 => Just(doc! {"$sort": {"a": 1, "_id": 1}}),
        1 => Just(doc! {"$sort": {"c.x": -1}}),
        1 => Just(doc! {"$limit": 3}),
        1 => Just(doc! {"$skip": 1}),
        1 => Just(doc! {"$count": "n"}),
        1 => Just(doc! {"$replaceRoot": {"newRoot": {"x": "$a", "y": "$$ROOT.d"}}}),
        1 => Just(doc! {"$sortByCount": "$b"}),
        1 => Just(doc! {"$setWindowFields": {
            "partitionBy": "$a",
            "sortBy": {"b": 1},
            "output": {"s": {"$push": "$c.x", "window": {"documents": ["unbounded", "current"]}}, "r": {"$rank": {}}},
        }}),
        1 => Just(doc! {"$setWindowFields": {"output": {"n": {"$count": {}}, "l": {"$last": "$d"}}}}),
        1 => Just(doc! {"$bucketAuto": {"groupBy": "$a", "buckets": 2, "output": {"n": {"$sum": 1}, "d": {"$push": "$d"}}}}),
        1 => Just(doc! {"$bucketAuto": {"groupBy": "$c", "buckets": 3}}),
        1 => filter().prop_map(|f| doc! {"$facet": {"m": [{"$match": f}, {"$project": {"d": 1}}], "n": [{"$count": "n"}]}}),
    ]
}

fn outcome<T>(r: argon_query::Result<T>) -> Result<T, i32> {
    r.map_err(|e| e.code)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn filters_match_the_same_on_partial_documents(
        docs in prop::collection::vec(fields(), 1..8),
        f in filter(),
    ) {
        let Ok(filter) = Filter::parse(&f) else { return Ok(()) };
        let deps = filter.dependencies();
        let (mut scratch, mut reused) = (Document::new(), Document::new());
        for (i, fields) in docs.iter().enumerate() {
            let bytes = raw_bytes(i as i32, fields);
            let whole = Document::try_from(bson::RawDocument::from_bytes(&bytes).unwrap()).unwrap();
            prop_assert!(deps.decode_into(&bytes, &mut scratch));
            let expected = outcome(filter.try_matches(&whole));
            prop_assert_eq!(&expected, &outcome(filter.try_matches(&scratch)), "filter {} on {} (partial {})", f, whole, scratch);
            // The same fields, in the order of the dependencies, reusing
            // the previous document's storage.
            prop_assert!(deps.decode_for_matching(&bytes, &mut reused));
            prop_assert_eq!(reused.len(), scratch.len());
            for (k, v) in &scratch {
                prop_assert_eq!(reused.get(k), Some(v));
            }
            prop_assert_eq!(&expected, &outcome(filter.try_matches(&reused)));
        }
    }

    #[test]
    fn pipelines_give_the_same_results_on_partial_documents(
        docs in prop::collection::vec(fields(), 0..8),
        stages in prop::collection::vec(stage(), 1..4),
    ) {
        let Ok(pipeline) = Pipeline::parse(&stages) else { return Ok(()) };
        let deps: &Deps = pipeline.dependencies();
        let (mut whole, mut partial) = (Vec::new(), Vec::new());
        for (i, fields) in docs.iter().enumerate() {
            let bytes = raw_bytes(i as i32, fields);
            whole.push(Document::try_from(bson::RawDocument::from_bytes(&bytes).unwrap()).unwrap());
            partial.push(deps.decode(&bytes).unwrap());
        }
        let ctx = NoCollections { now: bson::DateTime::from_millis(0) };
        let a = outcome(pipeline.run(Box::new(whole.into_iter()), &ctx));
        let b = outcome(pipeline.run(Box::new(partial.into_iter()), &ctx));
        prop_assert_eq!(a, b, "pipeline {:?} with deps {:?}", stages, deps);
    }
}

#[test]
fn dependencies_of_common_shapes() {
    let f =
        Filter::parse(&doc! {"a.b": 1, "$or": [{"c": {"$gt": 1}}, {"$expr": {"$eq": ["$d.e", 1]}}]}).unwrap();
    assert_eq!(f.dependencies().fields(), ["a", "c", "d"]);
    let f = Filter::parse(&doc! {"$expr": {"$eq": ["$$ROOT", {}]}}).unwrap();
    assert!(f.dependencies().needs_whole_document());
    let p = Pipeline::parse(&[
        doc! {"$match": {"x": 1}},
        doc! {"$group": {"_id": "$k", "n": {"$sum": 1}, "avg": {"$avg": "$u"}}},
        doc! {"$sort": {"n": -1}},
    ])
    .unwrap();
    assert_eq!(p.dependencies().fields(), ["x", "k", "u"]);
    let p = Pipeline::parse(&[doc! {"$match": {"x": 1}}, doc! {"$limit": 5}]).unwrap();
    assert!(p.dependencies().needs_whole_document(), "the documents themselves are the output");
    let p = Pipeline::parse(&[doc! {"$project": {"a": 1}}]).unwrap();
    assert_eq!(p.dependencies().fields(), ["_id", "a"]);
    let p = Pipeline::parse(&[doc! {"$count": "n"}]).unwrap();
    assert!(p.dependencies().fields().is_empty() && !p.dependencies().needs_whole_document());
    let p = Pipeline::parse(&[
        doc! {"$setWindowFields": {"partitionBy": "$k", "sortBy": {"t": 1}, "output": {"s": {"$sum": "$u.v"}}}},
        doc! {"$group": {"_id": null, "m": {"$max": "$s"}}},
    ])
    .unwrap();
    assert_eq!(p.dependencies().fields(), ["k", "t", "u", "s"]);
    let p =
        Pipeline::parse(&[doc! {"$setWindowFields": {"sortBy": {"t": 1}, "output": {"r": {"$rank": {}}}}}])
            .unwrap();
    assert!(p.dependencies().needs_whole_document(), "the documents themselves are the output");
    let p = Pipeline::parse(&[
        doc! {"$bucketAuto": {"groupBy": "$p", "buckets": 2, "output": {"t": {"$sum": "$q"}}}},
    ])
    .unwrap();
    assert_eq!(p.dependencies().fields(), ["p", "q"]);
    let p = Pipeline::parse(&[
        doc! {"$graphLookup": {"from": "c", "startWith": "$s", "connectFromField": "a", "connectToField": "b", "as": "g"}},
        doc! {"$project": {"_id": 0, "g": 1}},
    ])
    .unwrap();
    assert_eq!(p.dependencies().fields(), ["s", "_id", "g"]);
}
