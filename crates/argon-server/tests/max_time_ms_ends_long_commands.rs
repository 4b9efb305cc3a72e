//! `maxTimeMS` with the official driver: a find, a count and an aggregation
//! that need longer than their limit end with 50 MaxTimeMSExpired (the
//! server stays up, the operation leaves `currentOp`); the same commands
//! with a generous limit answer; bad values are refused with 2 BadValue.

mod common;

use std::time::Duration;

use bson::{doc, Document};
use common::TestServer;
use futures::TryStreamExt;

fn code_of(e: &mongodb::error::Error) -> i32 {
    match &*e.kind {
        mongodb::error::ErrorKind::Command(c) => c.code,
        other => panic!("unexpected error {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_past_their_max_time_fail_with_max_time_ms_expired() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let db = client.database("app");
    let coll = db.collection::<Document>("c");
    // Enough documents that a full scan takes many milliseconds.
    for chunk in 0..6 {
        let docs = (0..5_000).map(|i| doc! {"_id": chunk * 5_000 + i, "s": format!("value {i}"), "g": i % 7});
        coll.insert_many(docs).await.unwrap();
    }
    let no_match = doc! {"s": {"$regex": "^nothing"}};
    let tight = Duration::from_millis(1);

    let e = coll.find(no_match.clone()).max_time(tight).await.unwrap_err();
    assert_eq!(code_of(&e), 50, "{e}");
    assert!(e.to_string().contains("exceeded time limit"), "{e}");
    let e = coll.count_documents(no_match.clone()).max_time(tight).await.unwrap_err();
    assert_eq!(code_of(&e), 50, "{e}");
    let group = vec![doc! {"$group": {"_id": "$g", "n": {"$sum": 1}}}];
    let e = coll.aggregate(group.clone()).max_time(tight).await.unwrap_err();
    assert_eq!(code_of(&e), 50, "{e}");

    // With room to finish they answer.
    let roomy = Duration::from_secs(120);
    let found: Vec<Document> =
        coll.find(no_match.clone()).max_time(roomy).await.unwrap().try_collect().await.unwrap();
    assert!(found.is_empty());
    assert_eq!(coll.count_documents(doc! {"g": 3}).max_time(roomy).await.unwrap(), 4_284);
    let groups: Vec<Document> =
        coll.aggregate(group).max_time(roomy).await.unwrap().try_collect().await.unwrap();
    assert_eq!(groups.len(), 7);

    // Bad values.
    for bad in [bson::Bson::Int32(-1), bson::Bson::String("5".into()), bson::Bson::Double(1.5)] {
        let e = db.run_command(doc! {"find": "c", "filter": {}, "maxTimeMS": bad.clone()}).await.unwrap_err();
        assert_eq!(code_of(&e), 2, "{bad}: {e}");
    }

    // Nothing is left running.
    let ops = client.database("admin").run_command(doc! {"currentOp": 1}).await.unwrap();
    let inprog = ops.get_array("inprog").unwrap();
    assert!(
        inprog.iter().all(|o| o.as_document().unwrap().get_str("ns").unwrap_or("") != "app.c"),
        "{inprog:?}"
    );
    server.stop().await;
}
