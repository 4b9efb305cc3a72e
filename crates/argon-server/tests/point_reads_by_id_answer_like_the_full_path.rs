//! `find` by `_id` takes a fast lane that never decodes the request or the
//! document (see the server's `fast_path` module). Its replies must be the
//! ones the full command path gives. The same queries are sent twice with
//! the official driver: as drivers send them (fast lane) and with a
//! `comment` (which the fast lane does not take), and the replies compared.

mod common;

use bson::{doc, oid::ObjectId, Bson, Document};
use common::{without_time, TestServer};

#[tokio::test]
async fn fast_and_full_paths_give_the_same_replies() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let db = client.database("fastlane");
    let oid = ObjectId::new();
    db.collection::<Document>("c")
        .insert_many(vec![
            doc! {"_id": 1, "v": "int", "nested": {"a": [1, 2, {"b": null}]}},
            doc! {"_id": "s", "v": "string"},
            doc! {"_id": oid, "v": "oid"},
            doc! {"_id": 7_i64, "v": "long"},
            doc! {"_id": 2.5, "v": "double"},
        ])
        .await
        .unwrap();
    client.database("fastlane").run_command(doc! {"createBranch": "b"}).await.ok();

    let ids: Vec<Bson> = vec![
        Bson::Int32(1),
        Bson::Int64(1), // the same document: numbers compare by value
        Bson::String("s".into()),
        Bson::ObjectId(oid),
        Bson::Int64(7),
        Bson::Int32(7),
        Bson::Double(2.5),
        Bson::Int32(404),
        Bson::String("missing".into()),
    ];
    for (db_name, coll) in
        [("fastlane", "c"), ("fastlane", "nope"), ("nosuchproject", "c"), ("fastlane~nosuchbranch", "c")]
    {
        let db = client.database(db_name);
        for id in &ids {
            for shape in [
                doc! {"find": coll, "filter": {"_id": id.clone()}, "limit": 1, "singleBatch": true},
                doc! {"find": coll, "filter": {"_id": id.clone()}},
                doc! {"find": coll, "filter": {"_id": id.clone()}, "limit": -1, "batchSize": 5},
            ] {
                let fast = db.run_command(shape.clone()).await.map(without_time).map_err(|e| e.to_string());
                let mut slow_cmd = shape.clone();
                slow_cmd.insert("comment", "full path");
                let slow = db.run_command(slow_cmd).await.map(without_time).map_err(|e| e.to_string());
                assert_eq!(fast, slow, "{db_name}: {shape}");
            }
        }
    }
    // Found documents come back whole, and the reply carries the clock.
    let reply = db.run_command(doc! {"find": "c", "filter": {"_id": 1}}).await.unwrap();
    let batch = reply.get_document("cursor").unwrap().get_array("firstBatch").unwrap();
    assert_eq!(batch[0], Bson::Document(doc! {"_id": 1, "v": "int", "nested": {"a": [1, 2, {"b": null}]}}));
    assert!(matches!(reply.get("operationTime"), Some(Bson::Timestamp(_))));
    assert!(reply.get_document("$clusterTime").unwrap().get_timestamp("clusterTime").is_ok());
    server.stop().await;
}
