//! `insert` with its documents in an OP_MSG document sequence (what drivers
//! send) takes a fast lane that hands the documents' bytes to the store
//! (see the server's `fast_path` module). Two servers get the same
//! requests: one as drivers send them (fast lane where it applies), the
//! other with a `comment` added (which the fast lane does not take). Every
//! reply and the data left behind must be the same.

mod common;

use bson::{doc, spec::BinarySubtype, Binary, Bson, Document};
use common::{time_lsns, without_time, RawClient, TestServer};

/// (body, documents sent as a sequence)
fn requests() -> Vec<(Document, Vec<Document>)> {
    let lsid = doc! { "id": Binary { subtype: BinarySubtype::Uuid, bytes: vec![7; 16] } };
    let ins = |coll: &str| doc! { "insert": coll, "$db": "app" };
    vec![
        (
            ins("c"),
            vec![doc! {"_id": 1, "a": "x"}, doc! {"_id": 2}, doc! {"_id": "three", "n": {"deep": [1, 2]}}],
        ),
        // A duplicate in the middle, ordered: the first goes in, then stop.
        (ins("c"), vec![doc! {"_id": 4}, doc! {"_id": 1}, doc! {"_id": 5}]),
        // Unordered: every other document goes in, one error each.
        (
            doc! { "insert": "c", "ordered": false, "$db": "app" },
            vec![doc! {"_id": 2}, doc! {"_id": 6}, doc! {"_id": "three"}, doc! {"_id": 7}],
        ),
        // Cross-type numbers are the same _id.
        (ins("c"), vec![doc! {"_id": 6_i64}]),
        // Full path in both: no _id, a bad _id, a system collection, a
        // write concern.
        (ins("c"), vec![doc! {"no_id": true}]),
        (ins("c"), vec![doc! {"_id": [1, 2]}]),
        (ins("system.views"), vec![doc! {"_id": 1}]),
        (doc! { "insert": "c", "writeConcern": {"w": 1}, "$db": "app" }, vec![doc! {"_id": 8}]),
        // An unknown branch, a read-only view, a new project on first write.
        (doc! { "insert": "c", "$db": "app~nope" }, vec![doc! {"_id": 1}]),
        (doc! { "insert": "c", "$db": "app~main@1" }, vec![doc! {"_id": 1}]),
        (doc! { "insert": "c", "$db": "fresh" }, vec![doc! {"_id": 1}]),
        // A retryable write and its retry.
        (
            doc! { "insert": "d", "lsid": lsid.clone(), "txnNumber": 1_i64, "$db": "app" },
            vec![doc! {"_id": 1}],
        ),
        (
            doc! { "insert": "d", "lsid": lsid.clone(), "txnNumber": 1_i64, "$db": "app" },
            vec![doc! {"_id": 1}],
        ),
        (doc! { "insert": "d", "lsid": lsid, "txnNumber": 2_i64, "$db": "app" }, vec![doc! {"_id": 1}]),
    ]
}

/// A collection's documents, with `_id`s the server generated (they
/// differ between the servers) shown as "generated".
async fn contents(c: &mut RawClient, db: &str, coll: &str) -> Vec<Bson> {
    let r =
        c.command(doc! {"find": coll, "filter": {}, "sort": {"_id": 1}, "batchSize": 1000, "$db": db}).await;
    let batch = r.get_document("cursor").map(|c| c.get_array("firstBatch").cloned().unwrap_or_default());
    batch
        .unwrap_or_default()
        .into_iter()
        .map(|d| match d {
            Bson::Document(mut d) if matches!(d.get("_id"), Some(Bson::ObjectId(_))) => {
                d.insert("_id", "generated");
                Bson::Document(d)
            }
            other => other,
        })
        .collect()
}

#[tokio::test]
async fn fast_and_full_paths_give_the_same_replies_and_data() {
    let (fast, full) = (TestServer::start().await, TestServer::start().await);
    let mut f = RawClient::connect(fast.addr).await;
    let mut s = RawClient::connect(full.addr).await;
    // Some data in a project for the view above.
    for c in [&mut f, &mut s] {
        c.command(doc! {"insert": "c", "documents": [{"_id": 0}], "$db": "app"}).await;
    }
    for (body, docs) in requests() {
        let a = f.command_with_sequence(body.clone(), Some(("documents", docs.clone()))).await;
        let mut slow = body.clone();
        slow.insert("comment", "full path");
        let b = s.command_with_sequence(slow, Some(("documents", docs))).await;
        // Both servers saw the same writes: the same LSNs in the times.
        assert_eq!(time_lsns(&a), time_lsns(&b), "{body}");
        assert!(time_lsns(&a).iter().all(Option::is_some), "{a}");
        assert_eq!(without_time(a.clone()), without_time(b), "{body}");
        // A successful write's reply names its commit point.
        if a.get_f64("ok").ok() == Some(1.0) && !a.contains_key("writeErrors") {
            assert!(matches!(a.get("operationTime"), Some(Bson::Timestamp(_))), "{a}");
        }
    }
    for (db, coll) in [("app", "c"), ("app", "d"), ("fresh", "c")] {
        let (a, b) = (contents(&mut f, db, coll).await, contents(&mut s, db, coll).await);
        assert_eq!(a, b, "{db}.{coll}");
        assert!(!a.is_empty(), "{db}.{coll} has the inserted documents");
    }
    drop((f, s)); // open connections would hold the shutdown for its grace period
    fast.stop().await;
    full.stop().await;
}

/// A sequence document whose nested string is not UTF-8: the fast lane
/// hands the bytes to the store without decoding them, so the store must
/// check every element; the insert is refused and nothing is stored.
#[tokio::test]
async fn a_document_with_bad_bytes_inside_is_refused_and_not_stored() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestServer::start().await;
    let mut doc =
        bson::RawDocumentBuf::try_from(&doc! {"_id": 1, "n": {"deep": ["ok", "zz"]}}).unwrap().into_bytes();
    let at = doc.windows(2).rposition(|w| w == b"zz").unwrap();
    doc[at..at + 2].copy_from_slice(&[0xff, 0xfe]);
    let body = bson::RawDocumentBuf::try_from(&doc! {"insert": "c", "$db": "app"}).unwrap().into_bytes();
    let mut section = vec![1u8];
    section.extend_from_slice(&((4 + "documents".len() + 1 + doc.len()) as i32).to_le_bytes());
    section.extend_from_slice(b"documents\0");
    section.extend_from_slice(&doc);
    let mut frame = Vec::new();
    frame.extend_from_slice(&((16 + 4 + 1 + body.len() + section.len()) as i32).to_le_bytes());
    frame.extend_from_slice(&1i32.to_le_bytes());
    frame.extend_from_slice(&0i32.to_le_bytes());
    frame.extend_from_slice(&2013i32.to_le_bytes());
    frame.extend_from_slice(&0u32.to_le_bytes());
    frame.push(0);
    frame.extend_from_slice(&body);
    frame.extend_from_slice(&section);
    let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    s.write_all(&frame).await.unwrap();
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await.unwrap();
    let mut reply = vec![0u8; i32::from_le_bytes(len) as usize];
    reply[..4].copy_from_slice(&len);
    s.read_exact(&mut reply[4..]).await.unwrap();
    let reply = match argon_wire::decode_response(&reply).unwrap().response {
        argon_wire::Response::Msg(m) => m.body,
        argon_wire::Response::Reply(r) => r.documents[0].clone(),
    };
    assert_eq!(reply.get_f64("ok").unwrap(), 0.0, "{reply}");
    assert_eq!(reply.get_str("codeName").unwrap(), "InvalidBSON", "{reply}");
    assert_eq!(reply.get_i32("code").unwrap(), 22, "{reply}");
    drop(s);

    let mut c = RawClient::connect(server.addr).await;
    let r = c.command(doc! {"find": "c", "filter": {}, "$db": "app"}).await;
    let stored = r.get_document("cursor").map(|c| c.get_array("firstBatch").unwrap().len()).unwrap_or(0);
    assert_eq!(stored, 0, "nothing stored: {r}");
    // The connection and the server go on.
    let r = c
        .command_with_sequence(doc! {"insert": "c", "$db": "app"}, Some(("documents", vec![doc! {"_id": 1}])))
        .await;
    assert_eq!(r.get_i32("n").unwrap(), 1, "{r}");
    drop(c);
    server.stop().await;
}
