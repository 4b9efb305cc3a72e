//! With one connection thread (what `argon serve` runs on a 2-core
//! machine), a long scan on one connection must not stall the others: the
//! scanning part of `find`, `aggregate`, `count`, `distinct` and `getMore`
//! hands the thread's other connections to another thread while it runs
//! (`ops::long_running`). Seen from a second connection, the long command
//! is listed by `currentOp` while it runs; a stalled thread would answer
//! `currentOp` only after the scan ended, and never list it.
//!
//! Short queries stay on the thread (handing over costs more than they
//! do): only a query still running after its inline budget is run again
//! handed over, with the same result and its `$out` written once.

mod common;

use std::time::{Duration, Instant};

use bson::{doc, Document};
use common::TestServer;
use futures::TryStreamExt;

/// Documents enough for scans that take a while in a debug build.
const DOCS: i64 = 40_000;

async fn load(db: &mongodb::Database) {
    let coll = db.collection::<Document>("big");
    let pad = "x".repeat(200);
    for start in (0..DOCS).step_by(5_000) {
        let batch: Vec<Document> = (start..start + 5_000)
            .map(|i| doc! {"_id": i, "n": i, "s": format!("v{i}"), "pad": &pad})
            .collect();
        coll.insert_many(batch).await.unwrap();
    }
}

/// Runs `long` on its own connection and polls `currentOp` from another
/// until it lists a command named `name` on `app.big`. Returns how many
/// `currentOp` replies came back while the long command ran.
async fn seen_while_running<F>(server: &TestServer, name: &str, long: F) -> usize
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let watcher = server.client().await;
    let admin = watcher.database("admin");
    admin.run_command(doc! {"ping": 1}).await.unwrap();
    let running = tokio::spawn(long);
    let started = Instant::now();
    let mut seen = 0;
    while !running.is_finished() {
        let r = admin.run_command(doc! {"currentOp": 1, "ns": "app.big"}).await.unwrap();
        let listed = r.get_array("inprog").unwrap().iter().any(|op| {
            op.as_document()
                .and_then(|o| o.get_document("command").ok())
                .is_some_and(|c| c.contains_key(name))
        });
        if listed && !running.is_finished() {
            seen += 1;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    running.await.unwrap();
    eprintln!("{name}: {seen} currentOp replies listed it during {:?}", started.elapsed());
    seen
}

/// `serverStatus.argon.queriesHandedOver`.
async fn handed_over(db: &mongodb::Database) -> i64 {
    let r = db.run_command(doc! {"serverStatus": 1}).await.unwrap();
    r.get_document("argon").unwrap().get_i64("queriesHandedOver").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_long_scan_leaves_the_other_connections_served() {
    // A debug build's short queries take up to a few milliseconds; the
    // long ones here take hundreds.
    argon_server::ops::set_inline_budget(Duration::from_millis(20));
    let server = TestServer::start().await;
    let client = server.client().await;
    let db = client.database("app");
    load(&db).await;
    let big = db.collection::<Document>("big");
    big.create_index(mongodb::IndexModel::builder().keys(doc! {"n": 1}).build()).await.unwrap();

    // Short queries through the full path (an indexed field, an `$in`, a
    // count by index) finish on the thread.
    let before = handed_over(&db).await;
    for i in (0..DOCS).step_by(200) {
        let found = big.find_one(doc! {"n": i}).await.unwrap().unwrap();
        assert_eq!(found.get_i64("_id").unwrap(), i);
        let some: Vec<Document> =
            big.find(doc! {"n": {"$in": [i, i + 1, i + 2]}}).await.unwrap().try_collect().await.unwrap();
        assert_eq!(some.len(), 3);
    }
    assert_eq!(big.count_documents(doc! {"n": {"$in": [1, 2, 3]}}).await.unwrap(), 3);
    assert_eq!(handed_over(&db).await, before, "short queries were handed over");

    // An unindexed filter matching nothing: a whole collection scan.
    let finder = server.client().await.database("app").collection::<Document>("big");
    let seen = seen_while_running(&server, "find", async move {
        let found: Vec<Document> =
            finder.find(doc! {"s": {"$regex": "^nomatch"}}).await.unwrap().try_collect().await.unwrap();
        assert!(found.is_empty());
    })
    .await;
    assert!(seen > 0, "currentOp was never answered while the find scanned");

    // count_documents is an aggregate ($match, $group) over every document.
    let counter = server.client().await.database("app").collection::<Document>("big");
    let seen = seen_while_running(&server, "aggregate", async move {
        let n = counter.count_documents(doc! {"s": {"$regex": "^v"}}).await.unwrap();
        assert_eq!(n, DOCS as u64);
    })
    .await;
    assert!(seen > 0, "currentOp was never answered while the aggregate scanned");
    assert!(handed_over(&db).await >= before + 2, "the long find and aggregate were handed over");

    // Run again from the start after the budget: `$out` writes each
    // document once.
    let out: Vec<Document> = big
        .aggregate(vec![doc! {"$match": {"s": {"$regex": "^v"}}}, doc! {"$out": "copy"}])
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(out.is_empty());
    assert_eq!(db.collection::<Document>("copy").count_documents(doc! {}).await.unwrap(), DOCS as u64);

    // The server still answers, with every document there.
    assert_eq!(db.collection::<Document>("big").estimated_document_count().await.unwrap(), DOCS as u64);
    server.stop().await;
}
