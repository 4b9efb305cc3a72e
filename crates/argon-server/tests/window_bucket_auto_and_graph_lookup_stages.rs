//! `$setWindowFields`, `$bucketAuto` and `$graphLookup` through the wire
//! with the official driver: the stages run on stored collections (the
//! graph search reads a second one) and bad arguments come back as
//! command errors with MongoDB's codes.

mod common;

use bson::{doc, Document};
use common::TestServer;
use futures::TryStreamExt;
use mongodb::error::ErrorKind;

fn code_of(e: &mongodb::error::Error) -> Option<i32> {
    match &*e.kind {
        ErrorKind::Command(c) => Some(c.code),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_bucket_auto_and_graph_lookup_over_the_wire() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let db = client.database("app");
    let sales = db.collection::<Document>("sales");
    sales
        .insert_many(vec![
            doc! {"_id": 1, "state": "CA", "year": 2019, "qty": 10},
            doc! {"_id": 2, "state": "CA", "year": 2020, "qty": 20},
            doc! {"_id": 3, "state": "WA", "year": 2019, "qty": 5},
            doc! {"_id": 4, "state": "CA", "year": 2021, "qty": 20},
            doc! {"_id": 5, "state": "WA", "year": 2020, "qty": 7},
        ])
        .await
        .unwrap();

    let windows: Vec<Document> = sales
        .aggregate(vec![doc! {"$setWindowFields": {
            "partitionBy": "$state",
            "sortBy": {"year": 1},
            "output": {
                "running": {"$sum": "$qty", "window": {"documents": ["unbounded", "current"]}},
                "rank": {"$rank": {}},
            },
        }}])
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let rows: Vec<(i32, i32, i32)> = windows
        .iter()
        .map(|d| (d.get_i32("_id").unwrap(), d.get_i32("running").unwrap(), d.get_i32("rank").unwrap()))
        .collect();
    assert_eq!(rows, vec![(1, 10, 1), (2, 30, 2), (4, 50, 3), (3, 5, 1), (5, 12, 2)]);

    let buckets: Vec<Document> = sales
        .aggregate(vec![doc! {"$bucketAuto": {"groupBy": "$qty", "buckets": 2}}])
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        buckets,
        vec![
            doc! {"_id": {"min": 5, "max": 20}, "count": 3},
            doc! {"_id": {"min": 20, "max": 20}, "count": 2},
        ]
    );

    let employees = db.collection::<Document>("employees");
    employees
        .insert_many(vec![
            doc! {"_id": 1, "name": "Dev"},
            doc! {"_id": 2, "name": "Eliot", "reportsTo": "Dev"},
            doc! {"_id": 3, "name": "Ron", "reportsTo": "Eliot"},
            doc! {"_id": 4, "name": "Asya", "reportsTo": "Ron"},
        ])
        .await
        .unwrap();
    let chain: Vec<Document> = employees
        .aggregate(vec![
            doc! {"$match": {"name": "Asya"}},
            doc! {"$graphLookup": {
                "from": "employees",
                "startWith": "$reportsTo",
                "connectFromField": "reportsTo",
                "connectToField": "name",
                "as": "chain",
                "depthField": "depth",
            }},
        ])
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let found: Vec<(String, i64)> = chain[0]
        .get_array("chain")
        .unwrap()
        .iter()
        .map(|d| {
            let d = d.as_document().unwrap();
            (d.get_str("name").unwrap().to_string(), d.get_i64("depth").unwrap())
        })
        .collect();
    assert_eq!(found, vec![("Ron".to_string(), 0), ("Eliot".to_string(), 1), ("Dev".to_string(), 2)]);

    // Bad arguments are command errors with MongoDB's codes.
    let bad: Vec<(Document, i32)> = vec![
        (doc! {"$setWindowFields": {"output": {"r": {"$rank": {}}}}}, 5371602),
        (doc! {"$bucketAuto": {"groupBy": "$qty", "buckets": 0}}, 40243),
        (doc! {"$bucketAuto": {"groupBy": "$qty", "buckets": 2, "granularity": "R7"}}, 40257),
        (doc! {"$graphLookup": {"from": "employees", "startWith": "$x", "as": "y"}}, 40105),
    ];
    for (stage, code) in bad {
        let e = sales.aggregate(vec![stage.clone()]).await.unwrap_err();
        assert_eq!(code_of(&e), Some(code), "{stage}: {e}");
    }
    // The server is still answering.
    let n = sales.count_documents(doc! {}).await.unwrap();
    assert_eq!(n, 5);
    server.stop().await;
}
