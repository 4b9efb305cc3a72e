//! The planner over the wire, with the official driver: an index provides
//! a sort (no SORT stage, a limit stops the scan), an equality prefix plus
//! a sort on the next field of a compound index, and compound bounds
//! (equality on the first field, range or equality on the second) that
//! examine only the keys that match. Every result is checked against the
//! same query run as a collection scan (`hint: {$natural: 1}`).

mod common;

use bson::{doc, Bson, Document};
use common::TestServer;
use futures::TryStreamExt;
use mongodb::options::Hint;
use mongodb::{Collection, Database, IndexModel};

/// The query's results, and the same query as a collection scan.
async fn both(
    coll: &Collection<Document>,
    filter: Document,
    sort: Document,
    skip: u64,
    limit: i64,
) -> (Vec<Document>, Vec<Document>) {
    let run = |hint: Option<Hint>| {
        let (filter, sort) = (filter.clone(), sort.clone());
        async move {
            let mut f = coll.find(filter).sort(sort).skip(skip);
            if limit != 0 {
                f = f.limit(limit);
            }
            if let Some(h) = hint {
                f = f.hint(h);
            }
            f.await.unwrap().try_collect::<Vec<Document>>().await.unwrap()
        }
    };
    (run(None).await, run(Some(Hint::Keys(doc! {"$natural": 1}))).await)
}

async fn explain(db: &Database, find: Document) -> Document {
    db.run_command(doc! {"explain": find, "verbosity": "executionStats"}).await.unwrap()
}

/// Stage names from the root of a plan tree down to its leaf.
fn stages(mut plan: &Document) -> Vec<String> {
    let mut out = vec![plan.get_str("stage").unwrap().to_string()];
    while let Ok(inner) = plan.get_document("inputStage") {
        out.push(inner.get_str("stage").unwrap().to_string());
        plan = inner;
    }
    out
}

fn winning(e: &Document) -> &Document {
    e.get_document("queryPlanner").unwrap().get_document("winningPlan").unwrap()
}

fn stat(e: &Document, field: &str) -> i64 {
    let s = e.get_document("executionStats").unwrap();
    s.get_i64(field).or_else(|_| s.get_i32(field).map(i64::from)).unwrap()
}

fn ixscan(e: &Document) -> &Document {
    let mut plan = winning(e);
    while plan.get_str("stage").unwrap() != "IXSCAN" {
        plan = plan.get_document("inputStage").unwrap();
    }
    plan
}

async fn setup(server: &TestServer) -> (Database, Collection<Document>) {
    let client = server.client().await;
    let db = client.database("app");
    let coll = db.collection::<Document>("c");
    // 500 documents: a = i % 10, b = i, c = i % 7; every 50th has an
    // array b (multikey) and every 60th no b at all.
    let docs: Vec<Document> = (0..500)
        .map(|i| {
            let mut d = doc! {"_id": i, "a": i % 10, "c": i % 7};
            if i % 50 == 25 {
                d.insert("b", vec![Bson::Int32(i), Bson::Int32(1000 - i)]);
            } else if i % 60 != 30 {
                d.insert("b", i);
            }
            d
        })
        .collect();
    coll.insert_many(docs).await.unwrap();
    for keys in [doc! {"b": 1}, doc! {"a": 1, "b": 1}, doc! {"c": -1, "b": 1}] {
        coll.create_index(IndexModel::builder().keys(keys).build()).await.unwrap();
    }
    (db, coll)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_index_provides_the_sort_and_the_limit_stops_the_scan() {
    let server = TestServer::start().await;
    let (db, coll) = setup(&server).await;

    // sort({b: 1}).limit(10) on the index {b: 1}: no SORT stage.
    let (got, scanned) = both(&coll, doc! {}, doc! {"b": 1}, 0, 10).await;
    assert_eq!(got.len(), 10);
    assert_eq!(got, scanned);
    let e = explain(&db, doc! {"find": "c", "filter": {}, "sort": {"b": 1}, "limit": 10}).await;
    assert_eq!(stages(winning(&e)), ["LIMIT", "FETCH", "IXSCAN"], "{e}");
    assert_eq!(ixscan(&e).get_str("indexName").unwrap(), "b_1");
    assert!(stat(&e, "totalKeysExamined") <= 11, "{e}");
    assert!(stat(&e, "totalDocsExamined") <= 11, "{e}");

    // With a skip, a filter on another field and no limit, still in order.
    for (filter, skip, limit) in [(doc! {}, 5, 7), (doc! {"c": {"$gte": 3}}, 0, 20), (doc! {"c": 2}, 0, 0)] {
        let (got, scanned) = both(&coll, filter.clone(), doc! {"b": 1}, skip, limit).await;
        assert!(!got.is_empty());
        assert_eq!(got, scanned, "filter {filter} skip {skip} limit {limit}");
    }

    // A descending index provides a descending sort; ties on c come in _id
    // order, as a collection scan's stable sort gives them.
    let (got, scanned) = both(&coll, doc! {}, doc! {"c": -1, "b": 1}, 0, 12).await;
    assert_eq!(got, scanned);
    let e = explain(&db, doc! {"find": "c", "filter": {}, "sort": {"c": -1, "b": 1}, "limit": 12}).await;
    assert_eq!(stages(winning(&e)), ["LIMIT", "FETCH", "IXSCAN"], "{e}");

    // Descending on an ascending index: the index scanned backwards, no
    // SORT stage, and the limit stops the scan; same results.
    let (got, scanned) = both(&coll, doc! {}, doc! {"b": -1}, 0, 10).await;
    assert_eq!(got, scanned);
    let e = explain(&db, doc! {"find": "c", "filter": {}, "sort": {"b": -1}, "limit": 10}).await;
    assert_eq!(stages(winning(&e)), ["LIMIT", "FETCH", "IXSCAN"], "{e}");
    let ixscan = winning(&e).get_document("inputStage").unwrap().get_document("inputStage").unwrap();
    assert_eq!(ixscan.get_str("direction").unwrap(), "backward", "{e}");
    assert!(stat(&e, "totalKeysExamined") <= 11, "{e}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn equality_prefix_and_sort_on_the_next_field_of_a_compound_index() {
    let server = TestServer::start().await;
    let (db, coll) = setup(&server).await;
    let (got, scanned) = both(&coll, doc! {"a": 5}, doc! {"b": 1}, 0, 5).await;
    assert_eq!(got.len(), 5);
    assert_eq!(got, scanned);
    let e = explain(&db, doc! {"find": "c", "filter": {"a": 5}, "sort": {"b": 1}, "limit": 5}).await;
    assert_eq!(stages(winning(&e)), ["LIMIT", "FETCH", "IXSCAN"], "{e}");
    assert_eq!(ixscan(&e).get_str("indexName").unwrap(), "a_1_b_1");
    assert!(stat(&e, "totalKeysExamined") <= 6, "{e}");
    // Descending, a skip, and every matching document.
    for (sort, skip, limit) in [(doc! {"b": -1}, 0, 5), (doc! {"b": 1}, 3, 4), (doc! {"b": 1}, 0, 0)] {
        let (got, scanned) = both(&coll, doc! {"a": 5}, sort.clone(), skip, limit).await;
        assert_eq!(got, scanned, "sort {sort} skip {skip} limit {limit}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compound_bounds_use_the_second_field() {
    let server = TestServer::start().await;
    let (db, coll) = setup(&server).await;
    // a = 5 and b > 300: 16 plain documents (305, 315, ..., 495 but 325,
    // 375, 425 and 475), and the 10 with an array b = [i, 1000 - i]
    // (i = 25, 75, ..., 475), whose second element is always > 300.
    let filter = doc! {"a": 5, "b": {"$gt": 300}};
    let (got, scanned) = both(&coll, filter.clone(), doc! {}, 0, 0).await;
    assert_eq!(got.len(), 26);
    assert_eq!(got, scanned);
    let e = explain(&db, doc! {"find": "c", "filter": filter.clone()}).await;
    assert_eq!(stages(winning(&e)), ["FETCH", "IXSCAN"], "{e}");
    let ix = ixscan(&e);
    assert_eq!(ix.get_str("indexName").unwrap(), "a_1_b_1");
    assert_eq!(ix.get_document("indexBounds").unwrap(), &doc! {"a": ["[5, 5]"], "b": ["(300, +inf]"]});
    // Tight bounds: only keys (5, b > 300): one per plain document, one
    // per array with i < 300, two per array with i > 300.
    assert_eq!(stat(&e, "totalKeysExamined"), 16 + 6 + 2 * 4, "{e}");
    assert_eq!(stat(&e, "totalDocsExamined"), 26, "{e}");
    assert_eq!(stat(&e, "nReturned"), 26);

    // Equality on both fields: one key.
    let e = explain(&db, doc! {"find": "c", "filter": {"a": 7, "b": 137}}).await;
    assert_eq!((stat(&e, "totalKeysExamined"), stat(&e, "nReturned")), (1, 1), "{e}");

    // $in on the first field, a range on the second, both directions.
    for filter in [
        doc! {"a": {"$in": [1, 2]}, "b": {"$lte": 40}},
        doc! {"a": {"$in": [3, 4]}, "b": {"$gte": 450}},
        doc! {"$and": [{"a": 9}, {"b": {"$lt": 100}}]},
        doc! {"c": 4, "b": {"$gt": 200}},
        doc! {"c": {"$in": [0, 6]}, "b": {"$lte": 100}},
    ] {
        let (got, scanned) = both(&coll, filter.clone(), doc! {}, 0, 0).await;
        assert!(!got.is_empty(), "{filter}");
        assert_eq!(got, scanned, "{filter}");
        let e = explain(&db, doc! {"find": "c", "filter": filter.clone()}).await;
        assert_eq!(stat(&e, "totalDocsExamined"), got.len() as i64, "only matching documents: {filter} {e}");
    }
    // The same with a sort done in memory (SORT over the IXSCAN).
    let (got, scanned) = both(&coll, doc! {"a": 3, "b": {"$gte": 200}}, doc! {"b": -1}, 0, 4).await;
    assert_eq!(got, scanned);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_sided_range_is_one_range_until_the_index_is_multikey() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let db = client.database("app");
    let coll = db.collection::<Document>("r");
    coll.insert_many((0..1000).map(|i| doc! {"_id": i, "n": i}).collect::<Vec<_>>()).await.unwrap();
    coll.create_index(IndexModel::builder().keys(doc! {"n": 1}).build()).await.unwrap();
    let filter = doc! {"n": {"$gte": 100, "$lt": 110}};

    let e = explain(&db, doc! {"find": "r", "filter": filter.clone()}).await;
    let ix = ixscan(&e);
    assert!(!ix.get_bool("isMultiKey").unwrap(), "{e}");
    assert_eq!(ix.get_document("indexBounds").unwrap(), &doc! {"n": ["[100, 110)"]});
    assert_eq!((stat(&e, "totalKeysExamined"), stat(&e, "nReturned")), (10, 10), "{e}");
    // Sorted by the ranged field: the index order, no SORT stage.
    let e = explain(&db, doc! {"find": "r", "filter": filter.clone(), "sort": {"n": -1}, "limit": 3}).await;
    assert_eq!(stages(winning(&e)), ["LIMIT", "FETCH", "IXSCAN"], "{e}");
    let (got, scanned) = both(&coll, filter.clone(), doc! {"n": -1}, 0, 3).await;
    assert_eq!(got, scanned);
    assert_eq!(got.iter().map(|d| d.get_i32("n").unwrap()).collect::<Vec<_>>(), [109, 108, 107]);

    // An array whose elements are on either side of the range matches it:
    // the index is multikey from now on and the range goes one-sided.
    coll.insert_one(doc! {"_id": 5000, "n": [5, 500]}).await.unwrap();
    let e = explain(&db, doc! {"find": "r", "filter": filter.clone()}).await;
    let ix = ixscan(&e);
    assert!(ix.get_bool("isMultiKey").unwrap(), "{e}");
    assert_eq!(ix.get_document("indexBounds").unwrap(), &doc! {"n": ["[100, +inf]"]});
    let (got, scanned) = both(&coll, filter.clone(), doc! {"n": 1}, 0, 0).await;
    assert_eq!(got, scanned);
    assert_eq!(got.len(), 11, "the ten plus the array");
    // Sticky: removing the array does not make the index single-key again.
    coll.delete_one(doc! {"_id": 5000}).await.unwrap();
    let e = explain(&db, doc! {"find": "r", "filter": filter}).await;
    assert!(ixscan(&e).get_bool("isMultiKey").unwrap(), "{e}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregate_with_explain_returns_the_plan_not_the_documents() {
    let server = TestServer::start().await;
    let (db, _coll) = setup(&server).await;
    let pipeline =
        vec![doc! {"$match": {"a": 5, "b": {"$gt": 300}}}, doc! {"$group": {"_id": "$c", "n": {"$sum": 1}}}];
    for cmd in [
        doc! {"aggregate": "c", "pipeline": pipeline.clone(), "explain": true},
        doc! {"explain": {"aggregate": "c", "pipeline": pipeline.clone(), "cursor": {}}},
    ] {
        let e = db.run_command(cmd.clone()).await.unwrap();
        assert!(!e.contains_key("cursor"), "{cmd}: {e}");
        let pipeline_stages = e.get_array("stages").unwrap();
        let cursor = pipeline_stages[0].as_document().unwrap().get_document("$cursor").unwrap();
        let plan = cursor.get_document("queryPlanner").unwrap().get_document("winningPlan").unwrap();
        assert_eq!(stages(plan), ["FETCH", "IXSCAN"], "{e}");
        assert_eq!(pipeline_stages[1].as_document().unwrap(), &pipeline[1]);
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn id_ranges_in_lists_and_id_sorts_read_only_what_they_need() {
    let server = TestServer::start().await;
    let (db, coll) = setup(&server).await;
    // Keyset pagination, a batch of ids, the newest first: each as the
    // collection scan answers it, examining only the documents it returns
    // (1,000 is not there).
    let cases: Vec<(Document, Document, i64, usize)> = vec![
        (doc! {"_id": {"$gt": 100, "$lte": 110}}, doc! {}, 0, 10),
        (doc! {"_id": {"$gt": 480}}, doc! {"_id": 1}, 5, 5),
        (doc! {"_id": {"$in": [3, 250, 499, 1000]}}, doc! {}, 0, 3),
        (doc! {}, doc! {"_id": -1}, 4, 4),
        (doc! {"_id": {"$lt": 50}}, doc! {"_id": -1}, 3, 3),
    ];
    for (filter, sort, limit, examined) in cases {
        let (got, want) = both(&coll, filter.clone(), sort.clone(), 0, limit).await;
        assert_eq!(got, want, "{filter} {sort}");
        let mut find = doc! {"find": "c", "filter": filter.clone(), "sort": sort.clone()};
        if limit != 0 {
            find.insert("limit", limit);
        }
        let e = explain(&db, find).await;
        assert_eq!(ixscan(&e).get_str("indexName").unwrap(), "_id_", "{filter} {sort}");
        // (A sorted scan reads one document past the limit: ties with the
        // last one returned would have to come too.)
        let read = stat(&e, "totalDocsExamined") as usize;
        assert!(read == examined || (limit != 0 && read == examined + 1), "{filter} {sort}: {read}");
    }
    // The _id index can be hinted, by name or by key.
    for hint in [Bson::String("_id_".into()), Bson::Document(doc! {"_id": 1})] {
        let e =
            explain(&db, doc! {"find": "c", "filter": {"a": 3, "_id": {"$lt": 40}}, "hint": hint.clone()})
                .await;
        assert_eq!(ixscan(&e).get_str("indexName").unwrap(), "_id_", "{hint}");
        assert_eq!(stat(&e, "nReturned"), 4, "{hint}");
    }
    // A range on _id and an equality on an indexed field: both narrow.
    let (got, want) = both(&coll, doc! {"_id": {"$gte": 200, "$lt": 300}, "a": 3}, doc! {}, 0, 0).await;
    assert_eq!(got, want);
    assert_eq!(got.len(), 10);
    server.stop().await;
}
