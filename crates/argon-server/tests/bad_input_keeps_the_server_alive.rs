//! Malformed frames, oversized messages and garbage get an error reply or a
//! closed connection; the server keeps serving and loses nothing.

mod common;

use bson::{doc, Document};
use common::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn send_raw(addr: std::net::SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_millis(500), s.read_to_end(&mut out)).await;
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_bad_frames_do_not_hurt_the_server() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let coll = client.database("app").collection::<Document>("c");
    coll.insert_one(doc! {"_id": 1}).await.unwrap();

    // A length below the header size: closed without a reply.
    let r = send_raw(server.addr, &[5, 0, 0, 0, 1, 2, 3]).await;
    assert!(r.is_empty());
    // A declared length over 48 MB: closed.
    let r = send_raw(server.addr, &(60_000_000i32).to_le_bytes()).await;
    assert!(r.is_empty());
    // An unknown opcode in a well-framed message: an error reply.
    let mut frame = Vec::new();
    frame.extend_from_slice(&20i32.to_le_bytes());
    frame.extend_from_slice(&7i32.to_le_bytes());
    frame.extend_from_slice(&0i32.to_le_bytes());
    frame.extend_from_slice(&9999i32.to_le_bytes());
    frame.extend_from_slice(&[0, 0, 0, 0]);
    let r = send_raw(server.addr, &frame).await;
    let reply =
        argon_wire::decode_response(&r[..i32::from_le_bytes(r[..4].try_into().unwrap()) as usize]).unwrap();
    let body = match reply.response {
        argon_wire::Response::Msg(m) => m.body,
        argon_wire::Response::Reply(r) => r.documents[0].clone(),
    };
    assert_eq!(body.get_f64("ok").unwrap(), 0.0);
    assert!(body.get_str("errmsg").unwrap().contains("9999"), "{body}");
    // OP_MSG with invalid BSON in the body: an error reply.
    let mut frame = Vec::new();
    let body = [0u8, 12, 0, 0, 0, 0x10, b'x', 0, 1, 0]; // kind 0, truncated document
    frame.extend_from_slice(&((16 + 4 + body.len()) as i32).to_le_bytes());
    frame.extend_from_slice(&8i32.to_le_bytes());
    frame.extend_from_slice(&0i32.to_le_bytes());
    frame.extend_from_slice(&2013i32.to_le_bytes());
    frame.extend_from_slice(&0u32.to_le_bytes());
    frame.extend_from_slice(&body);
    let r = send_raw(server.addr, &frame).await;
    assert!(!r.is_empty(), "expected an error reply");
    // Random garbage of many shapes.
    for seed in 0..12u32 {
        let mut g: Vec<u8> = (0..64).map(|i| ((i * 31 + seed * 17) % 251) as u8).collect();
        g[..4].copy_from_slice(&(64i32).to_le_bytes());
        let _ = send_raw(server.addr, &g).await;
    }
    // Unknown commands and wrong types get MongoDB errors.
    let e = client.database("app").run_command(doc! {"noSuchCommand": 1}).await.unwrap_err();
    assert!(e.to_string().contains("no such command"), "{e}");
    let e = client.database("app").run_command(doc! {"find": "c", "filter": 5}).await.unwrap_err();
    assert!(e.to_string().contains("TypeMismatch") || e.to_string().contains("wrong type"), "{e}");
    let e = client
        .database("app")
        .run_command(doc! {"find": "c", "filter": {"a": {"$bogus": 1}}})
        .await
        .unwrap_err();
    assert!(e.to_string().contains("unknown operator"), "{e}");
    // Still serving, nothing lost.
    assert_eq!(coll.count_documents(doc! {}).await.unwrap(), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_over_16_mib_is_refused_with_bson_object_too_large() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let db = client.database("app");
    let big = "x".repeat(16 * 1024 * 1024 + 10);
    let e = db
        .run_command(doc! {"insert": "c", "documents": [{"_id": 1, "s": big.clone()}]})
        .await
        .expect("a reply with writeErrors");
    let errors = e.get_array("writeErrors").expect("writeErrors");
    let first = errors[0].as_document().unwrap();
    assert_eq!(first.get_i32("code").unwrap(), 10334, "{first}");
    assert!(first.get_str("errmsg").unwrap().contains("too large"), "{first}");
    // An update whose outcome would be too large fails the same way.
    db.collection::<Document>("c").insert_one(doc! {"_id": 2}).await.unwrap();
    let r = db
        .run_command(doc! {"update": "c", "updates": [{"q": {"_id": 2}, "u": {"$set": {"s": big}}}]})
        .await
        .expect("a reply with writeErrors");
    let code = r.get_array("writeErrors").unwrap()[0].as_document().unwrap().get_i32("code").unwrap();
    assert_eq!(code, 10334, "{r}");
    // Nothing partial was stored; the server still serves.
    let coll = db.collection::<Document>("c");
    assert_eq!(coll.count_documents(doc! {}).await.unwrap(), 1);
    assert_eq!(coll.find_one(doc! {"_id": 2}).await.unwrap().unwrap(), doc! {"_id": 2});
    server.stop().await;
}
