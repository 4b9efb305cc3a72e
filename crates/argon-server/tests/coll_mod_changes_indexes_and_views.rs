//! `collMod` beyond validators, with the official driver: hiding and
//! unhiding an index (the planner stops and starts using it, a hint to it
//! fails, listIndexes shows it), changing a TTL index's
//! `expireAfterSeconds`, and redefining a view; all recorded in the WAL,
//! so they survive a restart and stay on the branch they were made on.

mod common;

use bson::{doc, Document};
use common::TestServer;
use mongodb::options::IndexOptions;
use mongodb::{Database, IndexModel};

fn code_of(e: &mongodb::error::Error) -> i32 {
    match &*e.kind {
        mongodb::error::ErrorKind::Command(c) => c.code,
        other => panic!("unexpected error {other:?}"),
    }
}

/// The winning plan's leaf stage of `find(filter)`.
async fn leaf_stage(db: &Database, filter: Document) -> String {
    let e = db
        .run_command(doc! {"explain": {"find": "c", "filter": filter}, "verbosity": "queryPlanner"})
        .await
        .unwrap();
    let mut plan = e.get_document("queryPlanner").unwrap().get_document("winningPlan").unwrap();
    while let Ok(inner) = plan.get_document("inputStage") {
        plan = inner;
    }
    plan.get_str("stage").unwrap().to_string()
}

async fn index_spec(db: &Database, name: &str) -> Document {
    let raw = db.run_command(doc! {"listIndexes": "c"}).await.unwrap();
    let batch = raw.get_document("cursor").unwrap().get_array("firstBatch").unwrap();
    batch
        .iter()
        .map(|s| s.as_document().unwrap().clone())
        .find(|s| s.get_str("name").unwrap() == name)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hidden_indexes_ttl_changes_and_view_redefinitions() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let db = client.database("app");
    let c = db.collection::<Document>("c");
    c.insert_many((0..200).map(|i| doc! {"_id": i, "a": i % 20, "t": bson::DateTime::now()})).await.unwrap();
    c.create_index(IndexModel::builder().keys(doc! {"a": 1}).build()).await.unwrap();
    let ttl = IndexOptions::builder().expire_after(std::time::Duration::from_secs(3600)).build();
    c.create_index(IndexModel::builder().keys(doc! {"t": 1}).options(ttl).build()).await.unwrap();
    assert_eq!(leaf_stage(&db, doc! {"a": 5}).await, "IXSCAN");

    // Hide: no longer planned with, nor hintable; listed as hidden.
    let reply =
        db.run_command(doc! {"collMod": "c", "index": {"name": "a_1", "hidden": true}}).await.unwrap();
    assert_eq!((reply.get_bool("hidden_old").unwrap(), reply.get_bool("hidden_new").unwrap()), (false, true));
    assert_eq!(leaf_stage(&db, doc! {"a": 5}).await, "COLLSCAN");
    let e = db.run_command(doc! {"find": "c", "filter": {"a": 5}, "hint": "a_1"}).await.unwrap_err();
    assert_eq!(code_of(&e), 2, "{e}");
    assert!(index_spec(&db, "a_1").await.get_bool("hidden").unwrap());
    // Still maintained while hidden: the results stay right after unhiding.
    c.insert_one(doc! {"_id": 1000, "a": 5}).await.unwrap();
    db.run_command(doc! {"collMod": "c", "index": {"keyPattern": {"a": 1}, "hidden": false}}).await.unwrap();
    assert_eq!(leaf_stage(&db, doc! {"a": 5}).await, "IXSCAN");
    assert_eq!(c.count_documents(doc! {"a": 5}).await.unwrap(), 11);
    assert!(index_spec(&db, "a_1").await.get("hidden").is_none());

    // TTL: the new expireAfterSeconds is the index's.
    let reply = db
        .run_command(doc! {"collMod": "c", "index": {"name": "t_1", "expireAfterSeconds": 60}})
        .await
        .unwrap();
    assert_eq!(reply.get_i64("expireAfterSeconds_new").unwrap(), 60);
    assert_eq!(index_spec(&db, "t_1").await.get_i64("expireAfterSeconds").unwrap(), 60);

    // Errors: unknown index, _id, no TTL, nothing to change, bad types.
    for (cmd, code) in [
        (doc! {"collMod": "c", "index": {"name": "nope", "hidden": true}}, 27),
        (doc! {"collMod": "c", "index": {"name": "_id_", "hidden": true}}, 2),
        (doc! {"collMod": "c", "index": {"name": "a_1", "expireAfterSeconds": 5}}, 72),
        (doc! {"collMod": "c", "index": {"name": "a_1"}}, 72),
        (doc! {"collMod": "c", "index": {"name": "a_1", "hidden": 1}}, 14),
        (doc! {"collMod": "c", "viewOn": "c", "pipeline": []}, 72),
    ] {
        let e = db.run_command(cmd.clone()).await.unwrap_err();
        assert_eq!(code_of(&e), code, "{cmd}: {e}");
    }

    // A view redefined.
    db.run_command(doc! {"create": "small", "viewOn": "c", "pipeline": [{"$match": {"a": {"$lt": 2}}}]})
        .await
        .unwrap();
    let small = db.collection::<Document>("small");
    assert_eq!(small.count_documents(doc! {}).await.unwrap(), 20);
    db.run_command(doc! {"collMod": "small", "viewOn": "c", "pipeline": [{"$match": {"a": 19}}]})
        .await
        .unwrap();
    assert_eq!(small.count_documents(doc! {}).await.unwrap(), 10);
    let e = db.run_command(doc! {"collMod": "small", "validator": {"a": 1}}).await.unwrap_err();
    assert_eq!(code_of(&e), 72, "{e}");

    // A branch forked now hides its own copy only.
    client.database("admin").run_command(doc! {"createBranch": "exp", "project": "app"}).await.unwrap();
    let exp = client.database("app~exp");
    exp.run_command(doc! {"collMod": "c", "index": {"name": "a_1", "hidden": true}}).await.unwrap();
    assert_eq!(leaf_stage(&exp, doc! {"a": 5}).await, "COLLSCAN");
    assert_eq!(leaf_stage(&db, doc! {"a": 5}).await, "IXSCAN");

    // Replayed from the WAL after a restart.
    let dir = server.dir.path().to_path_buf();
    drop(client);
    let kept = server.keep_dir_and_stop().await;
    let server = TestServer::start_in(kept).await;
    let client = server.client().await;
    assert_eq!(leaf_stage(&client.database("app~exp"), doc! {"a": 5}).await, "COLLSCAN");
    assert_eq!(leaf_stage(&client.database("app"), doc! {"a": 5}).await, "IXSCAN");
    assert_eq!(index_spec(&client.database("app"), "t_1").await.get_i64("expireAfterSeconds").unwrap(), 60);
    assert_eq!(
        client.database("app").collection::<Document>("small").count_documents(doc! {}).await.unwrap(),
        10
    );
    assert!(dir.exists());
    server.stop().await;
}
