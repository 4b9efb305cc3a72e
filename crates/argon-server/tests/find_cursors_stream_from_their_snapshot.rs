//! A find that scans a collection returns its rest batch by batch from the
//! snapshot it started at: writes after the find (inserts, updates,
//! deletes) never show up in later batches, and skip, limit, projection,
//! batchSize (also 0) and the 16 MB batch limit behave as in MongoDB.

mod common;

use bson::{doc, Bson, Document};
use common::TestServer;
use futures::TryStreamExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn getmore_reads_the_snapshot_the_find_started_at() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let db = client.database("app");
    let coll = db.collection::<Document>("c");
    coll.insert_many((0..1000).map(|i| doc! {"_id": i, "v": i % 10, "pad": "x".repeat(50)})).await.unwrap();

    // First batch of 10, then change everything before reading the rest.
    let first = db
        .run_command(
            doc! {"find": "c", "filter": {"v": {"$lt": 5}}, "batchSize": 10, "projection": {"pad": 0}},
        )
        .await
        .unwrap();
    let cursor = first.get_document("cursor").unwrap();
    let id = cursor.get_i64("id").unwrap();
    assert_ne!(id, 0);
    let mut seen: Vec<i32> = cursor
        .get_array("firstBatch")
        .unwrap()
        .iter()
        .map(|d| d.as_document().unwrap().get_i32("_id").unwrap())
        .collect();
    assert_eq!(seen.len(), 10);
    coll.insert_many((1000..1100).map(|i| doc! {"_id": i, "v": 0})).await.unwrap();
    coll.update_many(doc! {}, doc! {"$set": {"v": 100}}).await.unwrap();
    coll.delete_many(doc! {"_id": {"$gte": 500}}).await.unwrap();
    let mut batches = 1;
    loop {
        let more = db.run_command(doc! {"getMore": id, "collection": "c", "batchSize": 37}).await.unwrap();
        let c = more.get_document("cursor").unwrap();
        let batch = c.get_array("nextBatch").unwrap();
        assert!(batch.len() <= 37);
        for d in batch {
            let d = d.as_document().unwrap();
            assert!(d.get("pad").is_none(), "projection applies to every batch");
            assert!(d.get_i32("v").unwrap() < 5, "a later update leaked into the cursor: {d}");
            seen.push(d.get_i32("_id").unwrap());
        }
        batches += 1;
        assert!(batches < 100, "the cursor never ends: {} documents so far", seen.len());
        if c.get_i64("id").unwrap() == 0 {
            break;
        }
    }
    assert!(batches > 10);
    let expected: Vec<i32> = (0..1000).filter(|i| i % 10 < 5).collect();
    assert_eq!(seen, expected, "exactly the documents matching at the find's snapshot, in _id order");

    // skip + limit across batches, and batchSize 0.
    let found: Vec<Document> =
        coll.find(doc! {}).skip(5).limit(250).batch_size(7).await.unwrap().try_collect().await.unwrap();
    let ids: Vec<i32> = found.iter().map(|d| d.get_i32("_id").unwrap()).collect();
    assert_eq!(ids, (5..255).collect::<Vec<_>>());
    let zero = db.run_command(doc! {"find": "c", "batchSize": 0}).await.unwrap();
    let z = zero.get_document("cursor").unwrap();
    assert!(z.get_array("firstBatch").unwrap().is_empty());
    assert_ne!(z.get_i64("id").unwrap(), 0, "batchSize 0 leaves the cursor open");

    // Large documents: a batch stops near 16 MB.
    let big = db.collection::<Document>("big");
    for i in 0..6 {
        big.insert_one(doc! {"_id": i, "blob": Bson::String("y".repeat(5 << 20))}).await.unwrap();
    }
    let r = db.run_command(doc! {"find": "big", "batchSize": 100}).await.unwrap();
    let n = r.get_document("cursor").unwrap().get_array("firstBatch").unwrap().len();
    assert!((1..=3).contains(&n), "first batch of {n} 5 MB documents");
    let all: Vec<Document> = big.find(doc! {}).await.unwrap().try_collect().await.unwrap();
    assert_eq!(all.len(), 6);
    server.stop().await;
}
