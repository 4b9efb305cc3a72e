//! `{shutdown: 1}` on `admin` stops the server as SIGTERM does: the
//! connection closes without a reply (as mongod's does), the server stops
//! accepting and returns, and what was written is there after a restart.
//! Malformed requests get MongoDB's errors and stop nothing.

mod common;

use std::time::Duration;

use bson::{doc, Document};
use common::{RawClient, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_command_stops_the_server_and_keeps_the_data() {
    let mut server = TestServer::start().await;
    let client = server.client().await;
    let coll = client.database("app").collection::<Document>("c");
    coll.insert_many((0..50).map(|i| doc! { "_id": i, "v": i * 2 })).await.unwrap();

    let mut raw = RawClient::connect(server.addr).await;
    let bad = [
        (doc! { "shutdown": 1, "$db": "app" }, 13),
        (doc! { "shutdown": 1, "force": "yes", "$db": "admin" }, 14),
        (doc! { "shutdown": 1, "timeoutSecs": "ten", "$db": "admin" }, 14),
        (doc! { "shutdown": 1, "timeoutSecs": -1, "$db": "admin" }, 2),
    ];
    for (cmd, code) in bad {
        let reply = raw.command(cmd.clone()).await;
        assert_eq!(reply.get_f64("ok").unwrap(), 0.0, "{cmd}: {reply}");
        assert_eq!(reply.get_i32("code").unwrap(), code, "{cmd}: {reply}");
    }
    // Still serving after the refused ones.
    assert_eq!(coll.count_documents(doc! {}).await.unwrap(), 50);
    assert!(!server.stopped_within(Duration::from_millis(200)).await);

    let mut asker = RawClient::connect(server.addr).await;
    let answer = asker
        .command_then_close(doc! { "shutdown": 1, "force": true, "timeoutSecs": 5, "$db": "admin" })
        .await;
    assert_eq!(answer, None, "the shutdown command is answered by closing");
    assert!(server.stopped_within(Duration::from_secs(10)).await, "the server did not stop");
    // Nothing listens any more.
    assert!(tokio::net::TcpStream::connect(server.addr).await.is_err());

    let server = TestServer::start_in(server.keep_dir_and_stop().await).await;
    let coll = server.client().await.database("app").collection::<Document>("c");
    assert_eq!(coll.count_documents(doc! {}).await.unwrap(), 50);
    assert_eq!(coll.find_one(doc! { "_id": 49 }).await.unwrap(), Some(doc! { "_id": 49, "v": 98 }));
    server.stop().await;
}
