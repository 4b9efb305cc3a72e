//! Olson time zones, `$dateAdd`/`$dateTrunc`, the several-value
//! accumulators and `$median`/`$percentile` through the wire with the
//! official driver, and one of their argument errors as a command error.

mod common;

use bson::{doc, Bson, Document};
use common::TestServer;
use futures::TryStreamExt;
use mongodb::error::ErrorKind;

fn date(millis: i64) -> Bson {
    Bson::DateTime(bson::DateTime::from_millis(millis))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn date_zones_and_several_value_accumulators_over_the_wire() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let events = client.database("app").collection::<Document>("events");
    // 2024-03-10T06:30Z and 07:30Z: either side of New York's spring forward.
    events
        .insert_many(vec![
            doc! {"_id": 1, "kind": "a", "at": date(1_710_052_200_000), "score": 5},
            doc! {"_id": 2, "kind": "a", "at": date(1_710_055_800_000), "score": 9},
            doc! {"_id": 3, "kind": "b", "at": date(1_710_055_800_000), "score": 1},
            doc! {"_id": 4, "kind": "a", "at": date(1_710_055_800_000), "score": 7},
        ])
        .await
        .unwrap();

    let dates: Vec<Document> = events
        .aggregate(vec![
            doc! {"$match": {"_id": {"$lte": 2}}},
            doc! {"$project": {
                "local": {"$dateToString": {"date": "$at", "format": "%H:%M %z", "timezone": "America/New_York"}},
                "nextDay": {"$dateAdd": {"startDate": "$at", "unit": "day", "amount": 1, "timezone": "America/New_York"}},
                "day": {"$dateTrunc": {"date": "$at", "unit": "day", "timezone": "America/New_York"}},
            }},
        ])
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        dates,
        vec![
            // 01:30 EST plus a day is 01:30 EDT, 23 hours later.
            doc! {"_id": 1, "local": "01:30 -0500", "nextDay": date(1_710_135_000_000), "day": date(1_710_046_800_000)},
            doc! {"_id": 2, "local": "03:30 -0400", "nextDay": date(1_710_142_200_000), "day": date(1_710_046_800_000)},
        ]
    );

    let groups: Vec<Document> = events
        .aggregate(vec![
            doc! {"$group": {
                "_id": "$kind",
                "best": {"$top": {"output": "$_id", "sortBy": {"score": -1}}},
                "lowTwo": {"$minN": {"input": "$score", "n": 2}},
                "firstTwo": {"$firstN": {"input": "$_id", "n": 2}},
                "median": {"$median": {"input": "$score", "method": "approximate"}},
            }},
            doc! {"$sort": {"_id": 1}},
        ])
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        groups,
        vec![
            doc! {"_id": "a", "best": 2, "lowTwo": [5, 7], "firstTwo": [1, 2], "median": 7.0},
            doc! {"_id": "b", "best": 3, "lowTwo": [1], "firstTwo": [3], "median": 1.0},
        ]
    );

    let bad = events
        .aggregate(vec![doc! {"$project": {"x": {"$hour": {"date": "$at", "timezone": "Mars/Olympus"}}}}])
        .await
        .expect_err("an unknown zone fails");
    match &*bad.kind {
        ErrorKind::Command(c) => assert_eq!(c.code, 40485),
        other => panic!("unexpected error {other:?}"),
    }
    let bad = events
        .aggregate(vec![doc! {"$group": {"_id": null, "x": {"$topN": {"output": "$_id", "sortBy": {"score": 1}, "n": 0}}}}])
        .await
        .expect_err("n = 0 fails");
    match &*bad.kind {
        ErrorKind::Command(c) => assert_eq!(c.code, 5787908),
        other => panic!("unexpected error {other:?}"),
    }
    server.stop().await;
}
