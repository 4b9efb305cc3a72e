//! `currentOp` lists the commands running on every connection (filtered by
//! the command's other fields); `killOp` interrupts one with 11601
//! Interrupted, and the server goes on serving.

mod common;

use std::time::{Duration, Instant};

use bson::{doc, Bson, Document};
use common::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_op_interrupts_a_waiting_get_more_found_with_current_op() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let db = client.database("app");
    db.collection::<Document>("c").insert_one(doc! {"_id": 1}).await.unwrap();

    // A change stream cursor whose getMore waits up to 60 s for events.
    let opened = db
        .run_command(doc! {"aggregate": "c", "pipeline": [{"$changeStream": {}}], "cursor": {}})
        .await
        .unwrap();
    let cursor_id = opened.get_document("cursor").unwrap().get_i64("id").unwrap();
    let waiter = {
        let db = db.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let r = db.run_command(doc! {"getMore": cursor_id, "collection": "c", "maxTimeMS": 60_000}).await;
            (r, started.elapsed())
        })
    };

    // Find it with a filtered currentOp.
    let admin = client.database("admin");
    let deadline = Instant::now() + Duration::from_secs(20);
    let op = loop {
        let r = admin.run_command(doc! {"currentOp": 1, "op": "getmore", "ns": "app.c"}).await.unwrap();
        let inprog = r.get_array("inprog").unwrap();
        if let Some(Bson::Document(op)) = inprog.first() {
            assert_eq!(inprog.len(), 1, "the filter keeps only the getMore: {r}");
            break op.clone();
        }
        assert!(Instant::now() < deadline, "the getMore never showed up in currentOp");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(op.get_bool("active").unwrap());
    assert_eq!(op.get_document("command").unwrap().get_i64("getMore").unwrap(), cursor_id);
    // Shown without session and cluster-time noise (the driver sent both).
    let shown = op.get_document("command").unwrap();
    assert!(!shown.contains_key("lsid") && !shown.contains_key("$clusterTime"), "{shown}");
    assert_eq!(shown.get_str("collection").unwrap(), "c");
    assert!(op.get_i64("connectionId").is_ok() && op.get_str("client").is_ok(), "{op}");
    // An unfiltered currentOp also lists itself.
    let all = admin.run_command(doc! {"currentOp": 1}).await.unwrap();
    let cmds: Vec<String> = all
        .get_array("inprog")
        .unwrap()
        .iter()
        .map(|o| o.as_document().unwrap().get_document("command").unwrap().keys().next().unwrap().clone())
        .collect();
    assert!(cmds.contains(&"currentOp".to_string()) && cmds.contains(&"getMore".to_string()), "{cmds:?}");

    let killed = admin.run_command(doc! {"killOp": 1, "op": op.get_i64("opid").unwrap()}).await.unwrap();
    assert_eq!(killed.get_str("info").unwrap(), "attempting to kill op");
    let (result, waited) = tokio::time::timeout(Duration::from_secs(20), waiter).await.unwrap().unwrap();
    let err = result.unwrap_err();
    assert!(err.to_string().contains("Interrupted") || err.to_string().contains("11601"), "{err}");
    assert!(waited < Duration::from_secs(30), "killOp did not end the wait early ({waited:?})");

    // Gone from currentOp; bad arguments get MongoDB errors; still serving.
    let r = admin.run_command(doc! {"currentOp": 1, "op": "getmore"}).await.unwrap();
    assert!(r.get_array("inprog").unwrap().is_empty(), "{r}");
    let e = admin.run_command(doc! {"killOp": 1, "op": "x"}).await.unwrap_err();
    assert!(e.to_string().contains("TypeMismatch"), "{e}");
    let e = admin.run_command(doc! {"killOp": 1}).await.unwrap_err();
    assert!(e.to_string().contains("op"), "{e}");
    assert_eq!(db.collection::<Document>("c").count_documents(doc! {}).await.unwrap(), 1);
    server.stop().await;
}
