//! The official `mongodb` crate against a real server: CRUD, branches over
//! the wire, snapshot reads at a cluster time, transactions, change streams.

mod common;

use bson::{doc, Bson, Document};
use common::TestServer;
use futures::TryStreamExt;
use mongodb::error::ErrorKind;

fn code_of(e: &mongodb::error::Error) -> Option<i32> {
    match &*e.kind {
        ErrorKind::Command(c) => Some(c.code),
        ErrorKind::Write(mongodb::error::WriteFailure::WriteError(w)) => Some(w.code),
        ErrorKind::InsertMany(m) => m.write_errors.as_ref().and_then(|w| w.first()).map(|w| w.code),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crud_with_the_official_driver() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let coll = client.database("app").collection::<Document>("users");
    coll.insert_one(doc! {"_id": 1, "name": "ada", "tags": ["a", "b"]}).await.unwrap();
    coll.insert_many((2..=20).map(|i| doc! {"_id": i, "name": format!("u{i}"), "n": i})).await.unwrap();
    let found = coll.find_one(doc! {"_id": 1}).await.unwrap().unwrap();
    assert_eq!(found.get_str("name").unwrap(), "ada");
    let big: Vec<Document> =
        coll.find(doc! {"n": {"$gt": 15}}).sort(doc! {"n": -1}).await.unwrap().try_collect().await.unwrap();
    assert_eq!(big.iter().map(|d| d.get_i32("n").unwrap()).collect::<Vec<_>>(), vec![20, 19, 18, 17, 16]);
    let r = coll.update_many(doc! {"n": {"$lte": 5}}, doc! {"$set": {"small": true}}).await.unwrap();
    assert_eq!((r.matched_count, r.modified_count), (4, 4));
    let r = coll.delete_one(doc! {"_id": 20}).await.unwrap();
    assert_eq!(r.deleted_count, 1);
    assert_eq!(coll.count_documents(doc! {}).await.unwrap(), 19);
    let e = coll.insert_one(doc! {"_id": 1}).await.unwrap_err();
    assert_eq!(code_of(&e), Some(11000));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn branches_are_databases_and_isolated() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let admin = client.database("admin");
    let main = client.database("app").collection::<Document>("c");
    main.insert_one(doc! {"_id": 1, "v": "main"}).await.unwrap();
    let r = admin.run_command(doc! {"createBranch": "feature", "project": "app"}).await.unwrap();
    let base = r.get_document("branch").unwrap().get_i64("base_lsn").unwrap();
    let feature = client.database("app~feature").collection::<Document>("c");
    feature.insert_one(doc! {"_id": 2, "v": "feature"}).await.unwrap();
    main.insert_one(doc! {"_id": 3, "v": "main-later"}).await.unwrap();
    let ids = |docs: Vec<Document>| docs.iter().map(|d| d.get_i32("_id").unwrap()).collect::<Vec<_>>();
    assert_eq!(ids(feature.find(doc! {}).await.unwrap().try_collect().await.unwrap()), vec![1, 2]);
    assert_eq!(ids(main.find(doc! {}).await.unwrap().try_collect().await.unwrap()), vec![1, 3]);
    // A read-only view at the fork LSN.
    let view = client.database(&format!("app~main@{base}")).collection::<Document>("c");
    assert_eq!(ids(view.find(doc! {}).await.unwrap().try_collect().await.unwrap()), vec![1]);
    let e = view.insert_one(doc! {"_id": 9}).await.unwrap_err();
    assert!(e.to_string().contains("read-only view"), "{e}");
    // Unknown branch: the error says how to create it.
    let e =
        client.database("app~nope").collection::<Document>("c").insert_one(doc! {"x": 1}).await.unwrap_err();
    assert!(e.to_string().contains("createBranch"), "{e}");
    let listed = admin.run_command(doc! {"listBranches": "app"}).await.unwrap();
    assert_eq!(listed.get_array("branches").unwrap().len(), 2);
    let names = client.list_database_names().await.unwrap();
    assert!(names.contains(&"app".to_string()) && names.contains(&"app~feature".to_string()), "{names:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_read_at_cluster_time_sees_exactly_that_state() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let db = client.database("app");
    let r = db.run_command(doc! {"insert": "c", "documents": [{"_id": 1}]}).await.unwrap();
    let t1 = match r.get("operationTime") {
        Some(Bson::Timestamp(t)) => *t,
        other => panic!("no operationTime: {other:?}"),
    };
    db.run_command(doc! {"insert": "c", "documents": [{"_id": 2}]}).await.unwrap();
    let r = db
        .run_command(
            doc! {"find": "c", "readConcern": {"level": "snapshot", "atClusterTime": Bson::Timestamp(t1)}},
        )
        .await
        .unwrap();
    let batch = r.get_document("cursor").unwrap().get_array("firstBatch").unwrap();
    assert_eq!(batch.len(), 1);
    let r = db.run_command(doc! {"find": "c"}).await.unwrap();
    assert_eq!(r.get_document("cursor").unwrap().get_array("firstBatch").unwrap().len(), 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_commit_atomically_and_abort_leaves_no_trace() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let a = client.database("bank").collection::<Document>("a");
    let b = client.database("bank").collection::<Document>("b");
    a.insert_one(doc! {"_id": 1, "bal": 100}).await.unwrap();
    b.insert_one(doc! {"_id": 1, "bal": 0}).await.unwrap();
    let mut s = client.start_session().await.unwrap();
    s.start_transaction().await.unwrap();
    a.update_one(doc! {"_id": 1}, doc! {"$inc": {"bal": -30}}).session(&mut s).await.unwrap();
    b.update_one(doc! {"_id": 1}, doc! {"$inc": {"bal": 30}}).session(&mut s).await.unwrap();
    // Inside the transaction its own write is visible; outside it is not yet.
    assert_eq!(
        a.find_one(doc! {"_id": 1}).session(&mut s).await.unwrap().unwrap().get_i32("bal").unwrap(),
        70
    );
    assert_eq!(a.find_one(doc! {"_id": 1}).await.unwrap().unwrap().get_i32("bal").unwrap(), 100);
    s.commit_transaction().await.unwrap();
    assert_eq!(a.find_one(doc! {"_id": 1}).await.unwrap().unwrap().get_i32("bal").unwrap(), 70);
    assert_eq!(b.find_one(doc! {"_id": 1}).await.unwrap().unwrap().get_i32("bal").unwrap(), 30);

    s.start_transaction().await.unwrap();
    a.insert_one(doc! {"_id": 2, "bal": 5}).session(&mut s).await.unwrap();
    s.abort_transaction().await.unwrap();
    assert!(a.find_one(doc! {"_id": 2}).await.unwrap().is_none());

    // A conflicting commit fails with WriteConflict and a transient label.
    s.start_transaction().await.unwrap();
    a.update_one(doc! {"_id": 1}, doc! {"$inc": {"bal": 1}}).session(&mut s).await.unwrap();
    a.update_one(doc! {"_id": 1}, doc! {"$inc": {"bal": 1000}}).await.unwrap();
    let e = s.commit_transaction().await.unwrap_err();
    assert!(e.contains_label("TransientTransactionError"), "{e}");
    assert_eq!(a.find_one(doc! {"_id": 1}).await.unwrap().unwrap().get_i32("bal").unwrap(), 1070);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_streams_deliver_inserts_updates_and_deletes() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let coll = client.database("app").collection::<Document>("c");
    coll.insert_one(doc! {"_id": 0}).await.unwrap();
    let mut stream = coll.watch().await.unwrap();
    coll.insert_one(doc! {"_id": 1, "v": 1}).await.unwrap();
    coll.update_one(doc! {"_id": 1}, doc! {"$set": {"v": 2}}).await.unwrap();
    coll.delete_one(doc! {"_id": 1}).await.unwrap();
    let mut kinds = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while kinds.len() < 3 {
        assert!(tokio::time::Instant::now() < deadline, "change events never arrived: {kinds:?}");
        let ev = stream.next_if_any().await.unwrap();
        if let Some(ev) = ev {
            kinds.push(format!("{:?}", ev.operation_type));
        }
    }
    assert_eq!(kinds, vec!["Insert", "Update", "Delete"]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursors_batch_and_are_killed_only_from_their_namespace() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let app = client.database("app");
    app.collection::<Document>("c").insert_many((0..50).map(|i| doc! {"_id": i})).await.unwrap();
    let r = app.run_command(doc! {"find": "c", "batchSize": 10}).await.unwrap();
    let cursor = r.get_document("cursor").unwrap();
    let id = cursor.get_i64("id").unwrap();
    assert_eq!(cursor.get_array("firstBatch").unwrap().len(), 10);
    // Another project cannot kill it.
    let r = client.database("other").run_command(doc! {"killCursors": "c", "cursors": [id]}).await.unwrap();
    assert_eq!(r.get_array("cursorsNotFound").unwrap(), &vec![Bson::Int64(id)]);
    let r = app.run_command(doc! {"getMore": id, "collection": "c", "batchSize": 15}).await.unwrap();
    assert_eq!(r.get_document("cursor").unwrap().get_array("nextBatch").unwrap().len(), 15);
    let r = app.run_command(doc! {"killCursors": "c", "cursors": [id]}).await.unwrap();
    assert_eq!(r.get_array("cursorsKilled").unwrap(), &vec![Bson::Int64(id)]);
    let e = app.run_command(doc! {"getMore": id, "collection": "c"}).await.unwrap_err();
    assert_eq!(code_of(&e), Some(43));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collations_compare_strings_in_queries_updates_deletes_and_indexes() {
    use mongodb::options::{Collation, CollationStrength};
    let server = TestServer::start().await;
    let client = server.client().await;
    let coll = client.database("app").collection::<Document>("names");
    coll.insert_many([
        doc! {"_id": 1, "name": "Ada"},
        doc! {"_id": 2, "name": "ADA"},
        doc! {"_id": 3, "name": "Bob"},
    ])
    .await
    .unwrap();
    let case_insensitive = Collation::builder().locale("en").strength(CollationStrength::Secondary).build();
    let found = coll.find_one(doc! {"name": "ada"}).collation(case_insensitive.clone()).await.unwrap();
    assert_eq!(found.and_then(|d| d.get_i32("_id").ok()), Some(1));
    assert!(coll.find_one(doc! {"name": "ada"}).await.unwrap().is_none(), "no collation: binary");
    let r = coll
        .update_many(doc! {"name": "ada"}, doc! {"$set": {"x": 1}})
        .collation(case_insensitive.clone())
        .await
        .unwrap();
    assert_eq!((r.matched_count, r.modified_count), (2, 2));
    // A case-insensitive unique index refuses a name differing in case.
    let index = mongodb::IndexModel::builder()
        .keys(doc! {"name": 1})
        .options(
            mongodb::options::IndexOptions::builder()
                .collation(case_insensitive.clone())
                .unique(true)
                .name("name_ci".to_string())
                .build(),
        )
        .build();
    let e = coll.create_index(index.clone()).await.unwrap_err();
    assert_eq!(code_of(&e), Some(11000), "Ada and ADA collide: {e}");
    let deleted = coll.delete_many(doc! {"name": "ada"}).collation(case_insensitive.clone()).await.unwrap();
    assert_eq!(deleted.deleted_count, 2);
    coll.create_index(index).await.unwrap();
    let e = coll.insert_one(doc! {"name": "bOB"}).await.unwrap_err();
    assert_eq!(code_of(&e), Some(11000), "{e}");
    // A malformed collation is refused with MongoDB's error.
    let bad = Collation::builder().locale("no_such_locale").build();
    assert_eq!(code_of(&coll.find_one(doc! {}).collation(bad).await.unwrap_err()), Some(2));
    let simple = Collation::builder().locale("simple").build();
    assert!(coll.find_one(doc! {"name": "Bob"}).collation(simple).await.unwrap().is_some());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_that_transactions_do_not_allow_fail_with_263() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let db = client.database("app");
    db.collection::<Document>("c").insert_one(doc! {"_id": 1}).await.unwrap();
    for cmd in [
        doc! {"collMod": "c", "validator": {"x": 1}},
        doc! {"count": "c"},
        doc! {"validate": "c"},
        doc! {"drop": "c"},
    ] {
        let mut session = client.start_session().await.unwrap();
        session.start_transaction().await.unwrap();
        let e = db.run_command(cmd.clone()).session(&mut session).await.unwrap_err();
        assert_eq!(code_of(&e), Some(263), "{cmd}: {e}");
    }
    // Nothing happened: the collection is there, without a validator.
    let c = db.collection::<Document>("c");
    c.insert_one(doc! {"_id": 2}).await.unwrap();
    assert_eq!(c.count_documents(doc! {}).await.unwrap(), 2);
    // What transactions do allow still works.
    let mut session = client.start_session().await.unwrap();
    session.start_transaction().await.unwrap();
    c.insert_one(doc! {"_id": 3}).session(&mut session).await.unwrap();
    assert_eq!(c.count_documents(doc! {}).session(&mut session).await.unwrap(), 3);
    session.commit_transaction().await.unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coll_stats_reports_documents_and_index_sizes() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let db = client.database("app");
    let coll = db.collection::<Document>("c");
    let docs: Vec<Document> =
        (0..10i32).map(|i| doc! {"_id": i, "n": i, "pad": "x".repeat(i as usize)}).collect();
    let size: i64 =
        docs.iter().map(|d| bson::RawDocumentBuf::try_from(d).unwrap().as_bytes().len() as i64).sum();
    coll.insert_many(docs).await.unwrap();
    coll.create_index(mongodb::IndexModel::builder().keys(doc! {"n": 1}).build()).await.unwrap();

    let stats: Vec<Document> = coll
        .aggregate(vec![doc! {"$collStats": {"storageStats": {}, "count": {}}}])
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0].get_i64("count").unwrap(), 10);
    let s = stats[0].get_document("storageStats").unwrap();
    assert_eq!((s.get_i64("count").unwrap(), s.get_i64("size").unwrap()), (10, size), "{s}");
    assert_eq!(s.get_i32("nindexes").unwrap(), 2);
    let sizes = s.get_document("indexSizes").unwrap();
    let total = sizes.get_i64("_id_").unwrap() + sizes.get_i64("n_1").unwrap();
    assert!(sizes.get_i64("n_1").unwrap() > 0);
    assert_eq!(s.get_i64("totalIndexSize").unwrap(), total);
    // The legacy command, scaled.
    let legacy = db.run_command(doc! {"collStats": "c", "scale": 2}).await.unwrap();
    assert_eq!(legacy.get_i64("size").unwrap(), size / 2);
    assert_eq!(legacy.get_i64("scaleFactor").unwrap(), 2);
    let e = db.run_command(doc! {"collStats": "c", "scale": 0}).await.unwrap_err();
    assert_eq!(code_of(&e), Some(2));
    let e = coll.aggregate(vec![doc! {"$collStats": {"queryExecStats": {}}}]).await.unwrap_err();
    assert_eq!(code_of(&e), Some(115));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_aggregations_and_shell_helpers() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let admin = client.database("admin");
    // {aggregate: 1} over $documents, and $currentOp (only on admin).
    let r = admin
        .run_command(doc! {"aggregate": 1, "pipeline": [{"$documents": [{"a": 1}, {"a": 2}]}, {"$match": {"a": 2}}], "cursor": {}})
        .await
        .unwrap();
    assert_eq!(r.get_document("cursor").unwrap().get_array("firstBatch").unwrap().len(), 1);
    let ops: Vec<Document> = admin
        .aggregate(vec![doc! {"$currentOp": {}}, doc! {"$match": {"op": "command"}}])
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(
        ops.iter().any(|o| o.get_document("command").is_ok_and(|c| c.contains_key("aggregate"))),
        "{ops:?}"
    );
    let e = client.database("app").aggregate(vec![doc! {"$currentOp": {}}]).await.unwrap_err();
    assert_eq!(code_of(&e), Some(73));
    // rs.status(), rs.conf() and the profiler settings.
    let status = admin.run_command(doc! {"replSetGetStatus": 1}).await.unwrap();
    assert_eq!(status.get_i32("myState").unwrap(), 1);
    assert_eq!(status.get_array("members").unwrap().len(), 1);
    let config = admin.run_command(doc! {"replSetGetConfig": 1}).await.unwrap();
    assert_eq!(
        config.get_document("config").unwrap().get_str("_id").unwrap(),
        status.get_str("set").unwrap()
    );
    let app = client.database("app");
    assert_eq!(app.run_command(doc! {"profile": -1}).await.unwrap().get_i32("was").unwrap(), 0);
    assert_eq!(app.run_command(doc! {"profile": 2}).await.unwrap().get_i32("was").unwrap(), 0);
    assert_eq!(app.run_command(doc! {"profile": 0}).await.unwrap().get_i32("was").unwrap(), 2);
    assert_eq!(code_of(&app.run_command(doc! {"profile": 3}).await.unwrap_err()), Some(2));
    server.stop().await;
}
