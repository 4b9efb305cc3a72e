//! Retryable writes: a write sent again with the same `lsid` and
//! `txnNumber` (a driver retrying after a network error) gets the first
//! reply and is not applied twice; a new `txnNumber` is a new write.
//! Sent as raw OP_MSG requests over one connection, as a driver would on
//! a retry, so the test controls `lsid` and `txnNumber` exactly.

mod common;

use bson::{doc, spec::BinarySubtype, Binary, Bson, Document};
use common::{without_time, RawClient, TestServer};

fn lsid(n: u8) -> Document {
    doc! { "id": Binary { subtype: BinarySubtype::Uuid, bytes: vec![n; 16] } }
}

#[tokio::test]
async fn a_retried_write_is_answered_from_the_first_and_not_applied_again() {
    let server = TestServer::start().await;
    let mut c = RawClient::connect(server.addr).await;
    let insert = |txn: i64, docs: Vec<Document>| {
        doc! { "insert": "c", "documents": docs, "lsid": lsid(1), "txnNumber": txn, "$db": "retry" }
    };
    let first = c.command(insert(1, vec![doc! {"_id": 1, "n": 0}, doc! {"_id": 2, "n": 0}])).await;
    assert_eq!(first.get_i32("n").unwrap(), 2, "{first}");
    // The retry: same session and number; it must not fail with a
    // duplicate key, and must not write again.
    let again = c.command(insert(1, vec![doc! {"_id": 1, "n": 0}, doc! {"_id": 2, "n": 0}])).await;
    assert_eq!(without_time(again), without_time(first.clone()));

    // A non-idempotent update, retried: applied once.
    let inc = |txn: i64| {
        doc! {
            "update": "c",
            "updates": [{"q": {"_id": 1}, "u": {"$inc": {"n": 1}}}],
            "lsid": lsid(1), "txnNumber": txn, "$db": "retry",
        }
    };
    let r1 = c.command(inc(2)).await;
    let r2 = c.command(inc(2)).await;
    assert_eq!(without_time(r1.clone()), without_time(r2));
    assert_eq!(r1.get_i32("nModified").unwrap(), 1, "{r1}");
    // A new number is a new write; another session's number 2 is its own.
    c.command(inc(3)).await;
    let other = doc! {
        "update": "c", "updates": [{"q": {"_id": 1}, "u": {"$inc": {"n": 10}}}],
        "lsid": lsid(2), "txnNumber": 2_i64, "$db": "retry",
    };
    c.command(other).await;

    let found = c.command(doc! {"find": "c", "filter": {"_id": 1}, "$db": "retry"}).await;
    let batch = found.get_document("cursor").unwrap().get_array("firstBatch").unwrap();
    assert_eq!(batch[0], Bson::Document(doc! {"_id": 1, "n": 12}), "1 + 1 + 10: each write once");
    let count = c.command(doc! {"count": "c", "$db": "retry"}).await;
    assert_eq!(count.get("n").and_then(|n| n.as_i64().or(n.as_i32().map(i64::from))), Some(2), "{count}");

    // Without a retry, inserting the same _id again is a duplicate key.
    let dup = c.command(insert(4, vec![doc! {"_id": 2}])).await;
    let errors = dup.get_array("writeErrors").unwrap();
    assert_eq!(errors[0].as_document().unwrap().get_i32("code").unwrap(), 11000);
    server.stop().await;
}
