//! `$lookup` with localField/foreignField, with the official driver: when
//! the foreign field is `_id` or leads an index, each input document looks
//! its matches up; otherwise the foreign collection is read once. Both
//! ways must give the same documents in the same order: every case here
//! runs against an indexed and an unindexed copy of the same collection.

mod common;

use bson::{doc, Bson, Document};
use common::TestServer;
use futures::TryStreamExt;
use mongodb::IndexModel;

fn regex() -> Bson {
    let cstr = |s: &str| bson::raw::CString::try_from(s.to_string()).unwrap();
    Bson::RegularExpression(bson::Regex { pattern: cstr("^a"), options: cstr("") })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indexed_and_scanned_lookups_agree() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let db = client.database("shop");
    // Foreign documents with every kind of value the lookups below meet.
    let foreign: Vec<Document> = vec![
        doc! {"_id": 1, "k": 1},
        doc! {"_id": 2, "k": 1.0},
        doc! {"_id": 3, "k": "a"},
        doc! {"_id": 4, "k": [1, "b"]},
        doc! {"_id": 5, "k": Bson::Null},
        doc! {"_id": 6},
        doc! {"_id": 7, "k": {"x": 1}},
        doc! {"_id": 8, "k": regex()},
        doc! {"_id": 9, "k": 2},
    ];
    for name in ["indexed", "scanned"] {
        db.collection::<Document>(name).insert_many(foreign.clone()).await.unwrap();
    }
    db.collection::<Document>("indexed")
        .create_index(IndexModel::builder().keys(doc! {"k": 1}).build())
        .await
        .unwrap();
    let local: Vec<Document> = vec![
        doc! {"_id": 100, "ref": 1},
        doc! {"_id": 101, "ref": "a"},
        doc! {"_id": 102, "ref": [2, "b"]},
        doc! {"_id": 103, "ref": Bson::Null},
        doc! {"_id": 104},
        doc! {"_id": 105, "ref": {"x": 1}},
        doc! {"_id": 106, "ref": regex()},
        doc! {"_id": 107, "ref": 42},
        doc! {"_id": 108, "ref": [[1, "b"]]},
    ];
    db.collection::<Document>("orders").insert_many(local).await.unwrap();
    let orders = db.collection::<Document>("orders");
    let run = |from: &'static str, field: &'static str| {
        let orders = orders.clone();
        async move {
            let pipeline = vec![
                doc! {"$lookup": {"from": from, "localField": "ref", "foreignField": field, "as": "m"}},
                doc! {"$project": {"m": "$m._id"}},
                doc! {"$sort": {"_id": 1}},
            ];
            orders.aggregate(pipeline).await.unwrap().try_collect::<Vec<Document>>().await.unwrap()
        }
    };
    let (indexed, scanned) = (run("indexed", "k").await, run("scanned", "k").await);
    assert_eq!(indexed, scanned);
    // Spot checks of the semantics both share.
    let m = |docs: &[Document], id: i32| -> Vec<Bson> {
        docs.iter().find(|d| d.get_i32("_id").unwrap() == id).unwrap().get_array("m").unwrap().clone()
    };
    assert_eq!(m(&indexed, 100), vec![Bson::Int32(1), Bson::Int32(2), Bson::Int32(4)]);
    assert_eq!(m(&indexed, 103), vec![Bson::Int32(5), Bson::Int32(6)]);
    assert_eq!(m(&indexed, 106), vec![Bson::Int32(8)], "a regex matches an equal regex, not strings");
    assert!(m(&indexed, 107).is_empty());

    // By _id (always indexed), and with a sub-pipeline.
    let by_id = |from: &'static str| {
        let orders = orders.clone();
        async move {
            let pipeline = vec![
                doc! {"$lookup": {"from": from, "localField": "ref", "foreignField": "_id", "as": "m",
                "pipeline": [{"$project": {"_id": 1}}]}},
                doc! {"$sort": {"_id": 1}},
            ];
            orders.aggregate(pipeline).await.unwrap().try_collect::<Vec<Document>>().await.unwrap()
        }
    };
    let (a, b) = (by_id("indexed").await, by_id("scanned").await);
    assert_eq!(a, b);
    assert_eq!(a[0].get_array("m").unwrap(), &vec![Bson::Document(doc! {"_id": 1})]);

    // A transaction sees its own foreign writes through the index too.
    let mut session = client.start_session().await.unwrap();
    session.start_transaction().await.unwrap();
    db.collection::<Document>("indexed")
        .insert_one(doc! {"_id": 10, "k": 42})
        .session(&mut session)
        .await
        .unwrap();
    let pipeline = vec![
        doc! {"$match": {"_id": 107}},
        doc! {"$lookup": {"from": "indexed", "localField": "ref", "foreignField": "k", "as": "m"}},
    ];
    let got: Vec<Document> = orders
        .aggregate(pipeline)
        .session(&mut session)
        .await
        .unwrap()
        .stream(&mut session)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(got[0].get_array("m").unwrap().len(), 1);
    session.abort_transaction().await.unwrap();
    server.stop().await;
}
