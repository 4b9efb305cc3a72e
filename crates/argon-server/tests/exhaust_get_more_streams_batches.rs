//! OP_MSG `exhaustAllowed` on a getMore: the server streams the remaining
//! batches, each reply flagged `moreToCome` and answering the previous
//! reply, the last one (cursor id 0) without the flag.

mod common;

use bson::{doc, Document};
use common::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Frame {
    request_id: i32,
    response_to: i32,
    flags: u32,
    body: Document,
}

async fn read_frame(s: &mut TcpStream) -> Frame {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await.unwrap();
    let n = i32::from_le_bytes(len) as usize;
    let mut frame = len.to_vec();
    frame.resize(n, 0);
    s.read_exact(&mut frame[4..]).await.unwrap();
    let request_id = i32::from_le_bytes(frame[4..8].try_into().unwrap());
    let response_to = i32::from_le_bytes(frame[8..12].try_into().unwrap());
    let flags = u32::from_le_bytes(frame[16..20].try_into().unwrap());
    let body = match argon_wire::decode_response(&frame).unwrap().response {
        argon_wire::Response::Msg(m) => m.body,
        argon_wire::Response::Reply(r) => r.documents[0].clone(),
    };
    Frame { request_id, response_to, flags, body }
}

async fn send(s: &mut TcpStream, request_id: i32, flags: u32, body: &Document) {
    let mut frame = argon_wire::encode_op_msg_request(request_id, 0, body, &[], None).unwrap();
    frame[16..20].copy_from_slice(&flags.to_le_bytes());
    s.write_all(&frame).await.unwrap();
}

fn ids(batch: &Document, key: &str) -> Vec<i32> {
    batch
        .get_document("cursor")
        .unwrap()
        .get_array(key)
        .unwrap()
        .iter()
        .map(|d| d.as_document().unwrap().get_i32("_id").unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhaust_get_more_streams_every_batch_then_stops() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let coll = client.database("app").collection::<Document>("c");
    coll.insert_many((0..95).map(|i| doc! {"_id": i})).await.unwrap();

    let mut s = TcpStream::connect(server.addr).await.unwrap();
    send(&mut s, 1, 0, &doc! {"find": "c", "batchSize": 10, "$db": "app"}).await;
    let first = read_frame(&mut s).await;
    assert_eq!(first.response_to, 1);
    let mut seen = ids(&first.body, "firstBatch");
    let cursor = first.body.get_document("cursor").unwrap().get_i64("id").unwrap();
    assert_ne!(cursor, 0);

    send(
        &mut s,
        2,
        argon_wire::OpMsg::EXHAUST_ALLOWED,
        &doc! {"getMore": cursor, "collection": "c", "batchSize": 10, "$db": "app"},
    )
    .await;
    let mut answers = 2;
    let mut replies = 0;
    loop {
        let r = read_frame(&mut s).await;
        replies += 1;
        assert_eq!(r.response_to, answers, "each reply answers the previous one");
        answers = r.request_id;
        assert_eq!(r.body.get_f64("ok").unwrap(), 1.0, "{}", r.body);
        seen.extend(ids(&r.body, "nextBatch"));
        let id = r.body.get_document("cursor").unwrap().get_i64("id").unwrap();
        let more = r.flags & argon_wire::OpMsg::MORE_TO_COME != 0;
        assert_eq!(more, id != 0, "moreToCome exactly while the cursor is open");
        if !more {
            break;
        }
    }
    assert_eq!(replies, 9, "85 documents after the first batch, 10 per reply");
    assert_eq!(seen, (0..95).collect::<Vec<_>>());

    // The connection is back to request/response afterwards.
    send(&mut s, 3, 0, &doc! {"ping": 1, "$db": "admin"}).await;
    let pong = read_frame(&mut s).await;
    assert_eq!(pong.response_to, 3);
    assert_eq!(pong.flags, 0);
    server.stop().await;
}
