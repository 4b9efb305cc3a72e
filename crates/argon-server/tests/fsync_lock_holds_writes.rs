//! `fsync`, `fsync` with `lock: true` and `fsyncUnlock` over the official
//! Rust driver: a lock holds back every write (documents, branches) until
//! the last unlock while reads go on; errors as mongod gives them. And
//! MongoDB's other spellings of command names (`dbstats`, `collstats`,
//! `findandmodify`, `deleteIndexes`) run the same commands.

mod common;

use std::time::Duration;

use bson::{doc, Document};
use common::{error_code as code_of, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_holds_writes_until_the_last_unlock() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let admin = client.database("admin");
    let coll = client.database("app").collection::<Document>("c");
    coll.insert_one(doc! { "_id": 0 }).await.unwrap();

    let plain = admin.run_command(doc! { "fsync": 1 }).await.unwrap();
    assert_eq!(plain.get_i32("numFiles").unwrap(), 1);
    let e = client.database("app").run_command(doc! { "fsync": 1 }).await.unwrap_err();
    assert_eq!(code_of(&e), Some(13), "{e}");
    let e = admin.run_command(doc! { "fsyncUnlock": 1 }).await.unwrap_err();
    assert_eq!(code_of(&e), Some(20), "{e}");

    let locked = admin.run_command(doc! { "fsync": 1, "lock": true }).await.unwrap();
    assert_eq!(locked.get_i64("lockCount").unwrap(), 1);
    let again = admin.run_command(doc! { "fsync": 1, "lock": true }).await.unwrap();
    assert_eq!(again.get_i64("lockCount").unwrap(), 2);
    let op = admin.run_command(doc! { "currentOp": 1 }).await.unwrap();
    assert!(op.get_bool("fsyncLock").unwrap());

    // A write and a branch creation wait; a read does not.
    let insert = {
        let coll = coll.clone();
        tokio::spawn(async move { coll.insert_one(doc! { "_id": 1 }).await })
    };
    let branch = {
        let admin = admin.clone();
        tokio::spawn(async move { admin.run_command(doc! { "createBranch": "b", "project": "app" }).await })
    };
    assert_eq!(coll.count_documents(doc! {}).await.unwrap(), 1, "reads go on under the lock");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!insert.is_finished() && !branch.is_finished(), "writes wait for the unlock");

    let one = admin.run_command(doc! { "fsyncUnlock": 1 }).await.unwrap();
    assert_eq!(one.get_i64("lockCount").unwrap(), 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!insert.is_finished(), "still locked once");
    let zero = admin.run_command(doc! { "fsyncUnlock": 1 }).await.unwrap();
    assert_eq!(zero.get_i64("lockCount").unwrap(), 0);

    insert.await.unwrap().unwrap();
    branch.await.unwrap().unwrap();
    assert_eq!(coll.count_documents(doc! {}).await.unwrap(), 2);
    // The branch was made after the unlock, before or after the insert
    // (the two were released together): it holds the first document.
    let on_branch = client.database("app~b").collection::<Document>("c");
    assert!(on_branch.find_one(doc! { "_id": 0 }).await.unwrap().is_some());
    let op = admin.run_command(doc! { "currentOp": 1 }).await.unwrap();
    assert!(!op.contains_key("fsyncLock"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_spellings_of_command_names_run_the_same_commands() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let db = client.database("app");
    db.collection::<Document>("c")
        .insert_many([doc! { "_id": 1, "v": 1 }, doc! { "_id": 2, "v": 2 }])
        .await
        .unwrap();
    db.collection::<Document>("c")
        .create_index(mongodb::IndexModel::builder().keys(doc! { "v": 1 }).build())
        .await
        .unwrap();

    let stats = db.run_command(doc! { "collstats": "c" }).await.unwrap();
    assert_eq!(stats.get_i64("count").unwrap(), 2);
    let db_stats = db.run_command(doc! { "dbstats": 1 }).await.unwrap();
    assert_eq!(db_stats.get_str("db").unwrap(), "app");
    let modified = db
        .run_command(doc! { "findandmodify": "c", "query": { "_id": 2 }, "update": { "$set": { "v": 20 } }, "new": true })
        .await
        .unwrap();
    assert_eq!(modified.get_document("value").unwrap().get_i32("v").unwrap(), 20);
    db.run_command(doc! { "deleteIndexes": "c", "index": "v_1" }).await.unwrap();
    let names = db.collection::<Document>("c").list_index_names().await.unwrap();
    assert_eq!(names, vec!["_id_".to_string()]);
    server.stop().await;
}
