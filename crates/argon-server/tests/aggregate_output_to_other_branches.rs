//! `$out: {db, coll}` and `$merge: {into: {db, coll}}` with the official
//! driver: a pipeline on one branch writes into another branch or project
//! (a database of its own to a driver), the source stays as it was, a
//! read-only `@lsn` view and an unknown branch are refused.

mod common;

use bson::{doc, Document};
use common::TestServer;
use futures::TryStreamExt;

async fn all(coll: &mongodb::Collection<Document>) -> Vec<Document> {
    coll.find(doc! {}).sort(doc! {"_id": 1}).await.unwrap().try_collect().await.unwrap()
}

fn code_of(e: &mongodb::error::Error) -> i32 {
    match &*e.kind {
        mongodb::error::ErrorKind::Command(c) => c.code,
        other => panic!("unexpected error {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_writes_into_another_branch_or_project() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let main = client.database("app").collection::<Document>("orders");
    main.insert_many((1..=6).map(|i| doc! {"_id": i, "total": i * 10, "open": i % 2 == 0})).await.unwrap();

    // An unknown branch: refused, with nothing written anywhere.
    let out_to_staging =
        vec![doc! {"$match": {"open": true}}, doc! {"$out": {"db": "app~staging", "coll": "open"}}];
    let err = main.aggregate(out_to_staging.clone()).await.unwrap_err();
    assert!(err.to_string().contains("staging"), "{err}");

    client.database("admin").run_command(doc! {"createBranch": "staging", "project": "app"}).await.unwrap();
    main.aggregate(out_to_staging).await.unwrap();
    let staging = client.database("app~staging");
    let open: Vec<i32> =
        all(&staging.collection("open")).await.iter().map(|d| d.get_i32("_id").unwrap()).collect();
    assert_eq!(open, vec![2, 4, 6]);
    // Main has no such collection: the write went to the branch only.
    let main_names = client.database("app").list_collection_names().await.unwrap();
    assert!(!main_names.contains(&"open".to_string()), "{main_names:?}");

    // $merge into another project (created by the write, as MongoDB
    // creates a database), then again: matched documents are merged.
    let merge = |when: &str| {
        vec![
            doc! {"$project": {"total": 1}},
            doc! {"$merge": {"into": {"db": "reports", "coll": "totals"}, "whenMatched": when}},
        ]
    };
    main.aggregate(merge("merge")).await.unwrap();
    main.update_one(doc! {"_id": 1}, doc! {"$set": {"total": 999}}).await.unwrap();
    main.aggregate(merge("replace")).await.unwrap();
    let totals = all(&client.database("reports").collection("totals")).await;
    assert_eq!(totals.len(), 6);
    assert_eq!(totals[0], doc! {"_id": 1, "total": 999});

    // A read-only view of the past takes no writes.
    let lsn = client
        .database("admin")
        .run_command(doc! {"branchInfo": "main", "project": "app"})
        .await
        .unwrap()
        .get_document("branch")
        .map(|b| b.get_i64("head_lsn").unwrap())
        .unwrap();
    let err = main
        .aggregate(vec![doc! {"$out": {"db": format!("app~main@{lsn}"), "coll": "x"}}])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("read-only") || err.to_string().contains("view"), "{err}");
    let e = main.aggregate(vec![doc! {"$out": {"db": 5, "coll": "x"}}]).await.unwrap_err();
    assert_eq!(code_of(&e), 14, "{e}");
    server.stop().await;
}
