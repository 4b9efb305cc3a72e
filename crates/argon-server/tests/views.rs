//! Read-only views with the official driver: every read command through a
//! view (find with filter/sort/skip/limit/projection, find_one by `_id`,
//! counts, distinct, aggregate, `$lookup` from a view), views on views,
//! writes refused with 166, listCollections, and a view following its
//! source's changes.

mod common;

use bson::{doc, Document};
use common::TestServer;
use futures::TryStreamExt;
use mongodb::error::ErrorKind;
use mongodb::Collection;

fn code_of(e: &mongodb::error::Error) -> i32 {
    match &*e.kind {
        ErrorKind::Command(c) => c.code,
        ErrorKind::Write(mongodb::error::WriteFailure::WriteError(w)) => w.code,
        ErrorKind::InsertMany(m) => {
            m.write_errors.as_ref().and_then(|w| w.first()).map(|w| w.code).unwrap_or(0)
        }
        _ => panic!("unexpected error {e}"),
    }
}

async fn all(coll: &Collection<Document>, filter: Document) -> Vec<Document> {
    coll.find(filter).await.unwrap().try_collect().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_go_through_the_view_pipeline_and_writes_are_refused() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let db = client.database("shop");
    let orders = db.collection::<Document>("orders");
    orders
        .insert_many((0..20).map(|i| {
            doc! {"_id": i, "status": if i % 4 == 0 { "closed" } else { "open" }, "qty": i % 7, "cust": format!("c{}", i % 3)}
        }))
        .await
        .unwrap();
    db.create_collection("open_orders")
        .view_on("orders".to_string())
        .pipeline(vec![doc! {"$match": {"status": "open"}}, doc! {"$project": {"status": 0}}])
        .await
        .unwrap();
    let view = db.collection::<Document>("open_orders");
    let open: Vec<i32> = (0..20).filter(|i| i % 4 != 0).collect();

    // find: filter, sort, skip, limit, projection over what the view shows.
    let got: Vec<Document> = view
        .find(doc! {"qty": {"$gte": 3}})
        .sort(doc! {"qty": -1, "_id": 1})
        .skip(1)
        .limit(3)
        .projection(doc! {"cust": 0})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let mut want: Vec<(i32, i32)> = open.iter().map(|&i| (i % 7, i)).filter(|(q, _)| *q >= 3).collect();
    want.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let want: Vec<Document> = want.iter().skip(1).take(3).map(|&(q, i)| doc! {"_id": i, "qty": q}).collect();
    assert_eq!(got, want);
    // find_one by _id (the point-read lane must not answer for a view).
    assert_eq!(view.find_one(doc! {"_id": 5}).await.unwrap(), Some(doc! {"_id": 5, "qty": 5, "cust": "c2"}));
    assert_eq!(view.find_one(doc! {"_id": 4}).await.unwrap(), None, "closed: not in the view");
    // Counts and distinct.
    assert_eq!(view.count_documents(doc! {}).await.unwrap(), open.len() as u64);
    assert_eq!(view.estimated_document_count().await.unwrap(), open.len() as u64);
    assert_eq!(
        view.count_documents(doc! {"cust": "c1"}).await.unwrap(),
        open.iter().filter(|i| *i % 3 == 1).count() as u64
    );
    let statuses = view.distinct("status", doc! {}).await.unwrap();
    assert!(statuses.is_empty(), "the view projects status away: {statuses:?}");
    assert_eq!(view.distinct("cust", doc! {}).await.unwrap().len(), 3);
    // aggregate, and a view on a view.
    let groups: Vec<Document> = view
        .aggregate(vec![doc! {"$group": {"_id": null, "n": {"$sum": 1}}}])
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(groups[0].get_i32("n").unwrap(), open.len() as i32);
    db.create_collection("big_open")
        .view_on("open_orders".to_string())
        .pipeline(vec![doc! {"$match": {"qty": {"$gte": 5}}}])
        .await
        .unwrap();
    let big = db.collection::<Document>("big_open");
    let ids: Vec<i32> = all(&big, doc! {}).await.iter().map(|d| d.get_i32("_id").unwrap()).collect();
    let want_ids: Vec<i32> = open.iter().copied().filter(|i| i % 7 >= 5).collect();
    assert_eq!(ids, want_ids);
    // $lookup from a view.
    let joined: Vec<Document> = db
        .collection::<Document>("orders")
        .aggregate(vec![
            doc! {"$match": {"_id": 4}},
            doc! {"$lookup": {"from": "big_open", "localField": "cust", "foreignField": "cust", "as": "big"}},
        ])
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let big_for_c1 = open.iter().filter(|i| *i % 7 >= 5 && *i % 3 == 1).count();
    assert_eq!(joined[0].get_array("big").unwrap().len(), big_for_c1);

    // The view follows its source.
    orders.insert_one(doc! {"_id": 100, "status": "open", "qty": 6, "cust": "c0"}).await.unwrap();
    assert!(big.find_one(doc! {"_id": 100}).await.unwrap().is_some());

    // Writes to a view are refused.
    assert_eq!(code_of(&view.insert_one(doc! {"_id": 200}).await.unwrap_err()), 166);
    assert_eq!(code_of(&view.insert_many(vec![doc! {"_id": 201}]).await.unwrap_err()), 166);
    assert_eq!(code_of(&view.update_one(doc! {"_id": 1}, doc! {"$set": {"x": 1}}).await.unwrap_err()), 166);
    assert_eq!(code_of(&view.delete_many(doc! {}).await.unwrap_err()), 166);
    assert_eq!(code_of(&view.find_one_and_delete(doc! {"_id": 1}).await.unwrap_err()), 166);
    let index = mongodb::IndexModel::builder().keys(doc! {"qty": 1}).build();
    assert_eq!(code_of(&view.create_index(index).await.unwrap_err()), 166);
    assert_eq!(orders.count_documents(doc! {}).await.unwrap(), 21, "nothing written through the view");

    // listCollections shows views as views; dropping one leaves the source.
    let specs: Vec<Document> = db
        .run_command(doc! {"listCollections": 1, "filter": {"type": "view"}})
        .await
        .unwrap()
        .get_document("cursor")
        .unwrap()
        .get_array("firstBatch")
        .unwrap()
        .iter()
        .map(|d| d.as_document().unwrap().clone())
        .collect();
    let names: Vec<&str> = specs.iter().map(|d| d.get_str("name").unwrap()).collect();
    assert_eq!(names, ["big_open", "open_orders"]);
    assert_eq!(specs[1].get_document("options").unwrap().get_str("viewOn").unwrap(), "orders");
    big.drop().await.unwrap();
    assert!(all(&big, doc! {}).await.is_empty());
    assert_eq!(all(&view, doc! {}).await.len(), open.len() + 1);

    // Bad definitions.
    let e = db.run_command(doc! {"create": "v2", "viewOn": 5, "pipeline": []}).await.unwrap_err();
    assert_eq!(code_of(&e), 14);
    let e = db
        .run_command(doc! {"create": "v2", "viewOn": "orders", "pipeline": [{"$out": "x"}]})
        .await
        .unwrap_err();
    assert_eq!(code_of(&e), 167);
    let e = db.run_command(doc! {"create": "open_orders", "viewOn": "orders"}).await.unwrap_err();
    assert_eq!(code_of(&e), 48);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_of_a_view_read_shows_the_aggregation_over_its_source() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let db = client.database("shop");
    db.collection::<Document>("orders")
        .insert_many((0..10).map(|i| doc! {"_id": i, "s": i % 2}))
        .await
        .unwrap();
    db.create_collection("odd")
        .view_on("orders".to_string())
        .pipeline(vec![doc! {"$match": {"s": 1}}])
        .await
        .unwrap();
    let find = doc! {"find": "odd", "filter": {"_id": {"$gt": 3}}, "sort": {"_id": -1}, "limit": 2};
    let e = db.run_command(doc! {"explain": find.clone(), "verbosity": "queryPlanner"}).await.unwrap();
    let stages = e.get_array("stages").unwrap();
    let cursor = stages[0].as_document().unwrap().get_document("$cursor").unwrap();
    // The source collection is what is read, with the view's own $match.
    let planner = cursor.get_document("queryPlanner").unwrap();
    assert_eq!(planner.get_str("namespace").unwrap(), "shop.orders");
    assert_eq!(planner.get_document("parsedQuery").unwrap(), &doc! {"s": 1});
    let names: Vec<String> =
        stages[1..].iter().map(|s| s.as_document().unwrap().keys().next().unwrap().clone()).collect();
    assert_eq!(names, vec!["$match", "$sort", "$limit"]);
    assert_eq!(e.get_document("command").unwrap(), &find);
    // count and aggregate on the view too.
    let e = db
        .run_command(doc! {"explain": {"count": "odd", "query": {"_id": 5}}, "verbosity": "queryPlanner"})
        .await
        .unwrap();
    assert!(e.get_array("stages").is_ok(), "{e}");
    let e = db
        .run_command(doc! {"explain": {"aggregate": "odd", "pipeline": [{"$group": {"_id": null}}], "cursor": {}}, "verbosity": "queryPlanner"})
        .await
        .unwrap();
    let stages = e.get_array("stages").unwrap();
    assert_eq!(stages.len(), 2, "{e}");
    server.stop().await;
}
