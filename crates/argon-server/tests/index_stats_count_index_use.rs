//! `$indexStats` over the wire, with the official driver: one document per
//! index (the `_id` index first) with its spec, and `accesses.ops` counting
//! the queries that used it, per branch.

mod common;

use bson::{doc, Document};
use common::TestServer;
use futures::TryStreamExt;
use mongodb::{Collection, IndexModel};

/// `{index name: accesses.ops}` and the documents as they came.
async fn index_stats(coll: &Collection<Document>) -> (Vec<(String, i64)>, Vec<Document>) {
    let docs: Vec<Document> =
        coll.aggregate(vec![doc! {"$indexStats": {}}]).await.unwrap().try_collect().await.unwrap();
    let ops = docs
        .iter()
        .map(|d| {
            let accesses = d.get_document("accesses").unwrap();
            (d.get_str("name").unwrap().to_string(), accesses.get_i64("ops").unwrap())
        })
        .collect();
    (ops, docs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_stats_counts_the_queries_that_used_each_index() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let db = client.database("app");
    let coll = db.collection::<Document>("c");
    coll.insert_many((0..100).map(|i| doc! {"_id": i, "a": i % 10, "b": i})).await.unwrap();
    coll.create_index(IndexModel::builder().keys(doc! {"a": 1}).build()).await.unwrap();
    coll.create_index(IndexModel::builder().keys(doc! {"b": -1}).build()).await.unwrap();

    let (ops, docs) = index_stats(&coll).await;
    assert_eq!(ops, vec![("_id_".into(), 0), ("a_1".into(), 0), ("b_-1".into(), 0)]);
    let b = &docs[2];
    assert_eq!(b.get_document("key").unwrap(), &doc! {"b": -1});
    assert_eq!(b.get_document("spec").unwrap().get_str("name").unwrap(), "b_-1");
    assert!(b.get_str("host").is_ok());
    assert!(b.get_document("accesses").unwrap().get_datetime("since").is_ok());

    // Three queries on a, one on _id (the find fast lane), one collection scan.
    for i in 0..3 {
        assert_eq!(coll.find(doc! {"a": i}).await.unwrap().try_collect::<Vec<_>>().await.unwrap().len(), 10);
    }
    assert!(coll.find_one(doc! {"_id": 7}).await.unwrap().is_some());
    assert_eq!(coll.count_documents(doc! {"b": {"$gte": 90}}).await.unwrap(), 10);
    assert_eq!(coll.count_documents(doc! {"c": 1}).await.unwrap(), 0);
    let (ops, _) = index_stats(&coll).await;
    assert_eq!(ops, vec![("_id_".into(), 1), ("a_1".into(), 3), ("b_-1".into(), 1)]);

    // A branch counts its own uses; main's stay as they were.
    db.run_command(doc! {"ping": 1}).await.unwrap();
    client.database("admin").run_command(doc! {"createBranch": "feature", "project": "app"}).await.unwrap();
    let on_branch = client.database("app~feature").collection::<Document>("c");
    assert!(on_branch.find_one(doc! {"a": 4}).await.unwrap().is_some());
    let (branch_ops, _) = index_stats(&on_branch).await;
    assert_eq!(branch_ops, vec![("_id_".into(), 0), ("a_1".into(), 1), ("b_-1".into(), 0)]);
    assert_eq!(index_stats(&coll).await.0[1], ("a_1".into(), 3));

    // Bad specs and a missing collection.
    let err = coll.aggregate(vec![doc! {"$indexStats": {"x": 1}}]).await.unwrap_err();
    assert!(err.to_string().contains("$indexStats"), "{err}");
    let none = db.collection::<Document>("missing");
    assert!(index_stats(&none).await.0.is_empty());
    server.stop().await;
}
