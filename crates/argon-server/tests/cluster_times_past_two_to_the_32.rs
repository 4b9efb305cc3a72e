//! A MongoDB Timestamp's increment has 32 bits, and Argon's cluster times
//! carry the LSN there. A store past LSN 2^32 (days of writes at full
//! speed) must still answer `operationTime`s that read back as their
//! LSNs: snapshot reads at each write's `operationTime` see exactly the
//! writes up to it, change streams start at one, and the oplog finds
//! entries from a `ts` bound, across the point where the increment wraps.

mod common;

use argon_store::{Lsn, StoreOptions};
use bson::{doc, Bson, Document, Timestamp};
use common::TestServer;
use futures::TryStreamExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_at_cluster_times_across_the_increment_wrap() {
    // The project's creation and the collection's take a few LSNs; the
    // inserts then cross 2^32.
    let server =
        TestServer::start_with(StoreOptions { first_lsn: Lsn((1u64 << 32) - 8), ..Default::default() }).await;
    let client = server.client().await;
    let db = client.database("wrap");
    let mut times: Vec<Timestamp> = Vec::new();
    for i in 0..16 {
        let r = db.run_command(doc! {"insert": "c", "documents": [{"_id": i}]}).await.unwrap();
        times.push(r.get_timestamp("operationTime").unwrap());
    }
    assert!(times.iter().all(|t| t.increment != 0), "no increment is 0: {times:?}");
    assert!(times.iter().any(|t| t.increment < 100), "the inserts crossed the wrap: {times:?}");
    for (i, t) in times.iter().enumerate() {
        let r = db
            .run_command(doc! {"find": "c", "readConcern": {"level": "snapshot", "atClusterTime": Bson::Timestamp(*t)}})
            .await
            .unwrap();
        let ids: Vec<i32> = r
            .get_document("cursor")
            .unwrap()
            .get_array("firstBatch")
            .unwrap()
            .iter()
            .map(|d| d.as_document().unwrap().get_i32("_id").unwrap())
            .collect();
        assert_eq!(ids, (0..=i as i32).collect::<Vec<_>>(), "at the operationTime of insert {i} ({t:?})");
    }

    // A change stream started at the 10th insert's time sees inserts 9.. on.
    let coll = db.collection::<Document>("c");
    let mut stream = coll.watch().start_at_operation_time(times[9]).await.unwrap();
    let first = stream.try_next().await.unwrap().unwrap();
    assert_eq!(first.document_key.unwrap().get_i32("_id").unwrap(), 9);

    // The oplog from the 12th insert's ts on: inserts 11..=15.
    let oplog = client.database("local").collection::<Document>("oplog.rs");
    let entries: Vec<Document> = oplog
        .find(doc! {"ns": "wrap.c", "ts": {"$gte": Bson::Timestamp(times[11])}})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let ids: Vec<i32> =
        entries.iter().map(|e| e.get_document("o").unwrap().get_i32("_id").unwrap()).collect();
    assert_eq!(ids, vec![11, 12, 13, 14, 15]);
    // Each entry's LSN is past 2^32 where its ts increment is small.
    let lsns: Vec<i64> = entries.iter().map(|e| e.get_i64("lsn").unwrap()).collect();
    assert!(lsns.iter().all(|&l| l as u64 >= (1u64 << 32) - 8), "{lsns:?} {:?}", &times[11..]);
    server.stop().await;
}
