//! Copying between branches and comparing them, with the official driver:
//! `$out: {db, coll}` and `$merge: {into: {db, coll}}` write a pipeline's
//! result into another branch or project (a database of its own to a
//! driver; the source stays as it was; a read-only `@lsn` view and an
//! unknown branch are refused); `$merge` on unique fields with
//! `whenMatched` pipelines; `dbHash` says whether two branches hold the
//! same data.

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_matches_on_unique_fields_and_runs_a_when_matched_pipeline() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let db = client.database("app");
    let sales = db.collection::<Document>("sales");
    sales
        .insert_many(vec![
            doc! {"_id": 1, "sku": "a", "qty": 2},
            doc! {"_id": 2, "sku": "b", "qty": 5},
            doc! {"_id": 3, "sku": "a", "qty": 1},
        ])
        .await
        .unwrap();
    let totals = db.collection::<Document>("totals");
    let by_sku = |when_matched: bson::Bson| {
        vec![
            doc! {"$group": {"_id": "$sku", "qty": {"$sum": "$qty"}}},
            doc! {"$project": {"_id": 0, "sku": "$_id", "qty": 1}},
            doc! {"$merge": {"into": "totals", "on": "sku", "whenMatched": when_matched, "whenNotMatched": "insert"}},
        ]
    };
    let add = bson::Bson::Array(vec![bson::Bson::Document(
        doc! {"$set": {"qty": {"$add": ["$qty", "$$new.qty"]}}},
    )]);

    // `on` a field needs a unique index on it.
    let e = sales.aggregate(by_sku(add.clone())).await.unwrap_err();
    assert_eq!(code_of(&e), 51183, "{e}");
    totals
        .create_index(
            mongodb::IndexModel::builder()
                .keys(doc! {"sku": 1})
                .options(mongodb::options::IndexOptions::builder().unique(true).build())
                .build(),
        )
        .await
        .unwrap();
    totals.insert_one(doc! {"_id": "keep", "sku": "a", "qty": 100}).await.unwrap();

    // First run: "a" matched (the pipeline adds), "b" inserted with a new _id.
    sales.aggregate(by_sku(add.clone())).await.unwrap();
    let a = totals.find_one(doc! {"sku": "a"}).await.unwrap().unwrap();
    assert_eq!((a.get_str("_id").unwrap(), a.get_i32("qty").unwrap()), ("keep", 103));
    let b = totals.find_one(doc! {"sku": "b"}).await.unwrap().unwrap();
    assert!(b.get_object_id("_id").is_ok(), "{b}");
    assert_eq!(b.get_i32("qty").unwrap(), 5);

    // Again: both matched, both added to.
    sales.aggregate(by_sku(add)).await.unwrap();
    let all_totals = all(&totals).await;
    let qty: Vec<(String, i32)> = all_totals
        .iter()
        .map(|d| (d.get_str("sku").unwrap().to_string(), d.get_i32("qty").unwrap()))
        .collect();
    assert!(qty.contains(&("a".into(), 106)) && qty.contains(&("b".into(), 10)), "{qty:?}");

    // `let` variables in the pipeline; a pipeline that changes _id fails.
    let with_let = vec![
        doc! {"$group": {"_id": "$sku", "qty": {"$sum": "$qty"}}},
        doc! {"$project": {"_id": 0, "sku": "$_id", "qty": 1}},
        doc! {"$merge": {"into": "totals", "on": ["sku"], "let": {"factor": 10},
        "whenMatched": [{"$set": {"qty": {"$multiply": ["$$new.qty", "$$factor"]}}}]}},
    ];
    sales.aggregate(with_let).await.unwrap();
    let a = totals.find_one(doc! {"sku": "a"}).await.unwrap().unwrap();
    assert_eq!(a.get_i32("qty").unwrap(), 30);
    let bad = vec![
        doc! {"$project": {"_id": 0, "sku": 1}},
        doc! {"$merge": {"into": "totals", "on": "sku", "whenMatched": [{"$set": {"_id": "other"}}]}},
    ];
    let e = sales.aggregate(bad).await.unwrap_err();
    assert_eq!(code_of(&e), 66, "{e}");
    // A document without the `on` field cannot be matched.
    let missing =
        vec![doc! {"$project": {"_id": 0, "qty": 1}}, doc! {"$merge": {"into": "totals", "on": "sku"}}];
    assert_eq!(code_of(&sales.aggregate(missing).await.unwrap_err()), 51132);
    // Bad modes.
    let e = sales
        .aggregate(vec![doc! {"$merge": {"into": "totals", "whenMatched": "upsert"}}])
        .await
        .unwrap_err();
    assert_eq!(code_of(&e), 2, "{e}");
    let e = sales
        .aggregate(vec![doc! {"$merge": {"into": "totals", "whenMatched": "merge", "let": {"x": 1}}}])
        .await
        .unwrap_err();
    assert_eq!(code_of(&e), 51199, "{e}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn db_hash_tells_whether_two_branches_hold_the_same_data() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let admin = client.database("admin");
    let main = client.database("app");
    main.collection::<Document>("a").insert_many((0..50).map(|i| doc! {"_id": i, "v": i})).await.unwrap();
    main.collection::<Document>("b").insert_one(doc! {"_id": "x"}).await.unwrap();
    admin.run_command(doc! {"createBranch": "copy", "project": "app"}).await.unwrap();
    let copy = client.database("app~copy");
    let hash = |db: mongodb::Database| async move { db.run_command(doc! {"dbHash": 1}).await.unwrap() };
    let (m, c) = (hash(main.clone()).await, hash(copy.clone()).await);
    assert_eq!(m.get_str("md5").unwrap(), c.get_str("md5").unwrap());
    assert_eq!(m.get_document("collections").unwrap().len(), 2);

    // One change on the branch: that collection's hash and the whole differ.
    copy.collection::<Document>("a").update_one(doc! {"_id": 7}, doc! {"$set": {"v": -7}}).await.unwrap();
    let c2 = hash(copy.clone()).await;
    assert_ne!(m.get_str("md5").unwrap(), c2.get_str("md5").unwrap());
    let (mc, cc) = (m.get_document("collections").unwrap(), c2.get_document("collections").unwrap());
    assert_ne!(mc.get_str("a").unwrap(), cc.get_str("a").unwrap());
    assert_eq!(mc.get_str("b").unwrap(), cc.get_str("b").unwrap());

    // Putting it back restores the hash; insertion order does not matter.
    copy.collection::<Document>("a").update_one(doc! {"_id": 7}, doc! {"$set": {"v": 7}}).await.unwrap();
    assert_eq!(hash(copy.clone()).await.get_str("md5").unwrap(), m.get_str("md5").unwrap());
    let other = client.database("other");
    other.collection::<Document>("b").insert_one(doc! {"_id": "x"}).await.unwrap();
    other
        .collection::<Document>("a")
        .insert_many((0..50).rev().map(|i| doc! {"_id": i, "v": i}))
        .await
        .unwrap();
    assert_eq!(hash(other.clone()).await.get_str("md5").unwrap(), m.get_str("md5").unwrap());
    // Only some collections.
    let only = other.run_command(doc! {"dbHash": 1, "collections": ["b"]}).await.unwrap();
    assert_eq!(only.get_document("collections").unwrap().keys().collect::<Vec<_>>(), vec!["b"]);
    assert_eq!(only.get_document("collections").unwrap().get_str("b").unwrap(), mc.get_str("b").unwrap());
    server.stop().await;
}
