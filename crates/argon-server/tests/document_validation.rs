//! Collection validators with the official driver: `create` with a
//! `validator`, every write path (insert and its fast lane, update and its
//! fast lane, upsert, findAndModify, transactions), `validationLevel`,
//! `validationAction`, `bypassDocumentValidation`, `collMod`, and a
//! validator set on a branch only.

mod common;

use bson::{doc, Bson, Document};
use common::TestServer;
use mongodb::error::ErrorKind;
use mongodb::options::{ReturnDocument, UpdateOptions};
use mongodb::{Collection, Database};

/// The code of a failed write or command, and its `errInfo` when it has one.
fn failure(e: &mongodb::error::Error) -> (i32, Option<Document>) {
    match &*e.kind {
        ErrorKind::Command(c) => (c.code, None),
        ErrorKind::Write(mongodb::error::WriteFailure::WriteError(w)) => (w.code, w.details.clone()),
        ErrorKind::InsertMany(m) => {
            let w = m.write_errors.as_ref().and_then(|w| w.first()).expect("a write error");
            (w.code, w.details.clone())
        }
        _ => panic!("unexpected error {e}"),
    }
}

async fn ids(coll: &Collection<Document>) -> Vec<i32> {
    use futures::TryStreamExt;
    let docs: Vec<Document> =
        coll.find(doc! {}).sort(doc! {"_id": 1}).await.unwrap().try_collect().await.unwrap();
    docs.iter().map(|d| d.get_i32("_id").unwrap()).collect()
}

async fn coll_mod(db: &Database, cmd: Document) -> Result<Document, mongodb::error::Error> {
    db.run_command(cmd).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_path_checks_the_validator() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let db = client.database("app");
    db.create_collection("c").validator(doc! {"qty": {"$gte": 0}}).await.unwrap();
    let coll = db.collection::<Document>("c");

    // insert_one takes the insert fast lane when it can: not here.
    coll.insert_one(doc! {"_id": 1, "qty": 5}).await.unwrap();
    let e = coll.insert_one(doc! {"_id": 2, "qty": -1}).await.unwrap_err();
    let (code, info) = failure(&e);
    assert_eq!(code, 121, "{e}");
    assert_eq!(info.unwrap().get("failingDocumentId"), Some(&Bson::Int32(2)));

    // Unordered: the valid documents go in; ordered: up to the first bad one.
    let e = coll
        .insert_many(vec![doc! {"_id": 3, "qty": 1}, doc! {"_id": 4, "qty": -1}, doc! {"_id": 5, "qty": 1}])
        .ordered(false)
        .await
        .unwrap_err();
    assert_eq!(failure(&e).0, 121);
    let e = coll
        .insert_many(vec![doc! {"_id": 6, "qty": 1}, doc! {"_id": 7, "qty": -1}, doc! {"_id": 8, "qty": 1}])
        .await
        .unwrap_err();
    assert_eq!(failure(&e).0, 121);
    assert_eq!(ids(&coll).await, [1, 3, 5, 6]);

    // update_one by _id takes the update fast lane when it can: not here.
    let e = coll.update_one(doc! {"_id": 1}, doc! {"$set": {"qty": -3}}).await.unwrap_err();
    assert_eq!(failure(&e).0, 121, "{e}");
    let e = coll.update_many(doc! {}, doc! {"$inc": {"qty": -5}}).await.unwrap_err();
    assert_eq!(failure(&e).0, 121, "{e}");
    let e = coll
        .update_one(doc! {"_id": 9}, doc! {"$set": {"qty": -1}})
        .with_options(UpdateOptions::builder().upsert(true).build())
        .await
        .unwrap_err();
    assert_eq!(failure(&e).0, 121, "an upsert inserts: {e}");
    let e = coll.find_one_and_update(doc! {"_id": 3}, doc! {"$set": {"qty": -1}}).await.unwrap_err();
    assert_eq!(failure(&e).0, 121, "{e}");
    let e = coll.replace_one(doc! {"_id": 5}, doc! {"qty": "many"}).await.unwrap_err();
    assert_eq!(failure(&e).0, 121, "{e}");
    // Nothing above was written.
    let all = coll.find_one(doc! {"_id": 1}).await.unwrap().unwrap();
    assert_eq!(all.get_i32("qty").unwrap(), 5);
    assert_eq!(ids(&coll).await, [1, 3, 5, 6]);
    // A valid update passes.
    let r = coll
        .find_one_and_update(doc! {"_id": 3}, doc! {"$inc": {"qty": 1}})
        .return_document(ReturnDocument::After)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.get_i32("qty").unwrap(), 2);

    // Inside a transaction the statement fails and the transaction aborts.
    let mut session = client.start_session().await.unwrap();
    session.start_transaction().await.unwrap();
    let e = coll.insert_one(doc! {"_id": 10, "qty": -1}).session(&mut session).await.unwrap_err();
    assert_eq!(failure(&e).0, 121, "{e}");
    drop(session);

    // bypassDocumentValidation lets a write through.
    db.run_command(
        doc! {"insert": "c", "documents": [{"_id": 11, "qty": -1}], "bypassDocumentValidation": true},
    )
    .await
    .unwrap();
    let e = db
        .run_command(doc! {"insert": "c", "documents": [{"_id": 12}], "bypassDocumentValidation": "yes"})
        .await
        .unwrap_err();
    assert_eq!(failure(&e).0, 14);
    assert_eq!(ids(&coll).await, [1, 3, 5, 6, 11]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coll_mod_changes_the_level_the_action_and_the_validator() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let db = client.database("app");
    let coll = db.collection::<Document>("c");
    coll.insert_many(vec![doc! {"_id": 1, "qty": -1}, doc! {"_id": 2, "qty": 1}]).await.unwrap();

    // A validator added later applies to later writes only.
    coll_mod(&db, doc! {"collMod": "c", "validator": {"qty": {"$gte": 0}}, "validationLevel": "moderate"})
        .await
        .unwrap();
    let info = db.run_command(doc! {"listCollections": 1, "filter": {"name": "c"}}).await.unwrap();
    let options = info.get_document("cursor").unwrap().get_array("firstBatch").unwrap()[0]
        .as_document()
        .unwrap()
        .get_document("options")
        .unwrap()
        .clone();
    assert_eq!(options.get_document("validator").unwrap(), &doc! {"qty": {"$gte": 0}});
    assert_eq!(options.get_str("validationLevel").unwrap(), "moderate");

    // moderate: an invalid document may stay invalid, a valid one may not
    // become invalid.
    coll.update_one(doc! {"_id": 1}, doc! {"$inc": {"qty": -1}}).await.unwrap();
    let e = coll.update_one(doc! {"_id": 2}, doc! {"$set": {"qty": -1}}).await.unwrap_err();
    assert_eq!(failure(&e).0, 121);
    coll_mod(&db, doc! {"collMod": "c", "validationLevel": "strict"}).await.unwrap();
    let e = coll.update_one(doc! {"_id": 1}, doc! {"$inc": {"qty": -1}}).await.unwrap_err();
    assert_eq!(failure(&e).0, 121, "strict checks every update");

    // warn: written anyway.
    coll_mod(&db, doc! {"collMod": "c", "validationAction": "warn"}).await.unwrap();
    coll.insert_one(doc! {"_id": 3, "qty": -5}).await.unwrap();
    coll_mod(&db, doc! {"collMod": "c", "validationAction": "error"}).await.unwrap();
    assert_eq!(failure(&coll.insert_one(doc! {"_id": 4, "qty": -5}).await.unwrap_err()).0, 121);
    // An empty validator validates nothing.
    coll_mod(&db, doc! {"collMod": "c", "validator": {}}).await.unwrap();
    coll.insert_one(doc! {"_id": 4, "qty": -5}).await.unwrap();
    assert_eq!(ids(&coll).await, [1, 2, 3, 4]);

    // Bad collMods.
    let code = |r: Result<Document, mongodb::error::Error>| failure(&r.unwrap_err()).0;
    assert_eq!(code(coll_mod(&db, doc! {"collMod": "nope", "validator": {}}).await), 26);
    assert_eq!(code(coll_mod(&db, doc! {"collMod": "c", "colour": "red"}).await), 40415);
    assert_eq!(code(coll_mod(&db, doc! {"collMod": "c", "validationLevel": "sometimes"}).await), 2);
    assert_eq!(code(coll_mod(&db, doc! {"collMod": "c", "validator": {"$where": "1"}}).await), 2);
    assert_eq!(code(coll_mod(&db, doc! {"collMod": "c", "index": {"name": "x", "hidden": true}}).await), 27);
    // Not a capped collection.
    assert_eq!(code(coll_mod(&db, doc! {"collMod": "c", "cappedSize": 10}).await), 72);
    assert_eq!(code(coll_mod(&db, doc! {"collMod": "c", "recordIdsReplicated": true}).await), 115);
    assert_eq!(code(db.run_command(doc! {"create": "d", "validator": 3}).await), 14);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validator_set_on_a_branch_stays_on_the_branch() {
    let server = TestServer::start().await;
    let client = server.client().await;
    client.database("app").collection::<Document>("c").insert_one(doc! {"_id": 1, "qty": 1}).await.unwrap();
    client.database("admin").run_command(doc! {"createBranch": "strict", "project": "app"}).await.unwrap();
    let branch = client.database("app~strict");
    coll_mod(&branch, doc! {"collMod": "c", "validator": {"qty": {"$type": "int"}}}).await.unwrap();
    let e = branch.collection::<Document>("c").insert_one(doc! {"_id": 2, "qty": "x"}).await.unwrap_err();
    assert_eq!(failure(&e).0, 121);
    client.database("app").collection::<Document>("c").insert_one(doc! {"_id": 2, "qty": "x"}).await.unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_checks_indexes_and_counts_non_compliant_documents() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let db = client.database("app");
    let coll = db.collection::<Document>("c");
    coll.insert_many((0..30).map(|i| doc! {"_id": i, "qty": i - 5, "tags": ["a", "b"]})).await.unwrap();
    coll.create_index(mongodb::IndexModel::builder().keys(doc! {"tags": 1}).build()).await.unwrap();
    coll_mod(&db, doc! {"collMod": "c", "validator": {"qty": {"$gte": 0}}, "validationLevel": "moderate"})
        .await
        .unwrap();
    let r = db.run_command(doc! {"validate": "c"}).await.unwrap();
    assert!(r.get_bool("valid").unwrap(), "{r}");
    assert_eq!(r.get_i64("nrecords").unwrap(), 30);
    assert_eq!(r.get_i64("nInvalidDocuments").unwrap(), 0);
    assert_eq!(r.get_i64("nNonCompliantDocuments").unwrap(), 5, "qty -5..-1");
    assert_eq!(r.get_document("keysPerIndex").unwrap(), &doc! {"_id_": 30i64, "tags_1": 60i64});
    assert_eq!(r.get_array("warnings").unwrap().len(), 1);
    let e = db.run_command(doc! {"validate": "nope"}).await.unwrap_err();
    assert_eq!(failure(&e).0, 26);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_schema_validator_says_which_rule_failed() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let db = client.database("app");
    let schema = doc! {"$jsonSchema": {
        "bsonType": "object",
        "required": ["name", "qty"],
        "properties": {
            "name": {"bsonType": "string", "minLength": 2},
            "qty": {"bsonType": ["int", "long"], "minimum": 0},
            "tags": {"bsonType": "array", "items": {"enum": ["a", "b"]}},
        },
    }};
    db.create_collection("items").validator(schema.clone()).await.unwrap();
    let coll = db.collection::<Document>("items");
    coll.insert_one(doc! {"_id": 1, "name": "ok", "qty": 3, "tags": ["a"]}).await.unwrap();
    for bad in [
        doc! {"_id": 2, "name": "ok"},
        doc! {"_id": 3, "name": "x", "qty": 1},
        doc! {"_id": 4, "name": "ok", "qty": 1.5},
        doc! {"_id": 5, "name": "ok", "qty": -1},
        doc! {"_id": 6, "name": "ok", "qty": 1, "tags": ["c"]},
    ] {
        let e = coll.insert_one(bad.clone()).await.unwrap_err();
        let (code, info) = failure(&e);
        assert_eq!(code, 121, "{bad}");
        let details = info.unwrap().get_document("details").unwrap().clone();
        assert_eq!(details.get_str("operatorName").unwrap(), "$jsonSchema", "{details}");
        assert!(!details.get_array("schemaRulesNotSatisfied").unwrap().is_empty(), "{details}");
    }
    // An update that breaks the schema, and a bad schema.
    let e = coll.update_one(doc! {"_id": 1}, doc! {"$unset": {"qty": ""}}).await.unwrap_err();
    assert_eq!(failure(&e).0, 121);
    let e = db.create_collection("bad").validator(doc! {"$jsonSchema": {"bsonType": "nonsense"}}).await;
    assert_eq!(failure(&e.unwrap_err()).0, 2);
    let e = db.create_collection("bad").validator(doc! {"$jsonSchema": {"frobnicate": 1}}).await;
    assert_eq!(failure(&e.unwrap_err()).0, 9);
    // $jsonSchema works as a query too.
    let n = coll.count_documents(doc! {"$jsonSchema": {"required": ["tags"]}}).await.unwrap();
    assert_eq!(n, 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_keeps_the_target_validator_and_indexes_and_merge_is_validated() {
    use futures::TryStreamExt;
    let server = TestServer::start().await;
    let client = server.client().await;
    let db = client.database("app");
    let src = db.collection::<Document>("src");
    src.insert_many((1..=4).map(|i| doc! {"_id": i, "n": i})).await.unwrap();
    db.run_command(doc! {"create": "dst", "validator": {"n": {"$gte": 2}}}).await.unwrap();
    let dst = db.collection::<Document>("dst");
    dst.create_index(mongodb::IndexModel::builder().keys(doc! {"n": -1}).build()).await.unwrap();
    dst.insert_one(doc! {"_id": 100, "n": 50}).await.unwrap();

    // $out of documents the validator refuses: nothing changes.
    let err = src.aggregate(vec![doc! {"$out": "dst"}]).await.unwrap_err();
    assert_eq!(failure(&err).0, 121, "{err}");
    assert_eq!(ids(&dst).await, vec![100]);

    // $out of valid documents: replaced, and the validator and index remain.
    src.aggregate(vec![doc! {"$match": {"n": {"$gte": 2}}}, doc! {"$out": "dst"}]).await.unwrap();
    assert_eq!(ids(&dst).await, vec![2, 3, 4]);
    let names: Vec<String> = dst.list_index_names().await.unwrap();
    assert!(names.contains(&"n_-1".to_string()), "{names:?}");
    assert_eq!(failure(&dst.insert_one(doc! {"_id": 9, "n": 0}).await.unwrap_err()).0, 121);

    // $merge: an invalid merged document fails; bypassing the validator works.
    let merge = doc! {"$merge": {"into": "dst", "whenMatched": "merge"}};
    let invalid = vec![doc! {"$match": {"_id": 3}}, doc! {"$set": {"n": -1}}, merge.clone()];
    let err = src.aggregate(invalid.clone()).await.unwrap_err();
    assert_eq!(failure(&err).0, 121, "{err}");
    let three: Vec<Document> = dst.find(doc! {"_id": 3}).await.unwrap().try_collect().await.unwrap();
    assert_eq!(three[0].get_i32("n").unwrap(), 3);
    src.aggregate(invalid).bypass_document_validation(true).await.unwrap();
    let three: Vec<Document> = dst.find(doc! {"_id": 3}).await.unwrap().try_collect().await.unwrap();
    assert_eq!(three[0].get_i32("n").unwrap(), -1);

    // $out into a view is refused.
    db.run_command(doc! {"create": "v", "viewOn": "src", "pipeline": []}).await.unwrap();
    let err = src.aggregate(vec![doc! {"$out": "v"}]).await.unwrap_err();
    assert_eq!(failure(&err).0, 166, "{err}");
    server.stop().await;
}
