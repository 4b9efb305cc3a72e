//! When `try_run` returns, the server has dropped every clone of its store:
//! the data dir is unlocked and can be opened again at once, even with
//! clients still connected when it stopped, including an idle connection to
//! the metrics endpoint. A restart in the same process relies on this.
//! Stopping closes idle connections at once and lets a command in flight
//! (here a tailable cursor's `getMore` waiting for data) finish first.

mod auth_support;

use std::time::Duration;

use argon_server::ServerConfig;
use argon_store::{At, Store};
use auth_support::Server;
use bson::{doc, Bson, Document};
use futures::StreamExt;
use mongodb::options::CursorType;
use tokio::io::AsyncReadExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_dir_opens_right_after_a_stop_with_clients_connected() {
    let mut server = Server::start_with(ServerConfig::default(), true, |_| {}).await;
    for round in 0..2 {
        // (Its tailable cursor's next getMore finds no server: give up soon.)
        let client = server.client(None, "&serverSelectionTimeoutMS=300").await;
        let db = client.database("app");
        let coll = db.collection::<Document>("c");
        coll.insert_one(doc! {"_id": round}).await.unwrap();
        // A command in flight while the server stops: a getMore waiting
        // up to 3 s for a capped collection to grow.
        let queue = format!("q{round}");
        db.run_command(doc! { "create": &queue, "capped": true, "size": 4096 }).await.unwrap();
        db.collection::<Document>(&queue).insert_one(doc! { "_id": 0 }).await.unwrap();
        let mut tail = db
            .collection::<Document>(&queue)
            .find(doc! {})
            .cursor_type(CursorType::TailableAwait)
            .max_await_time(Duration::from_secs(3))
            .await
            .unwrap();
        assert!(tail.next().await.unwrap().is_ok());
        let waiting = tokio::spawn(async move {
            let next = tail.next().await;
            drop(tail);
            next
        });
        // An idle connection between requests.
        let mut idle = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;

        let metrics_addr = server.metrics_addr.unwrap();
        let stopping = tokio::spawn(server.stop());
        // The idle connection is closed at once, not after the grace.
        let closed = tokio::time::timeout(Duration::from_secs(2), idle.read(&mut [0u8; 1])).await;
        assert!(matches!(closed, Ok(Ok(0))), "idle connection not closed at once: {closed:?}");
        // During the getMore's wait an HTTP client connects to /metrics and
        // says nothing: that handler would wait 5 s for a request head.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let idle_http = tokio::net::TcpStream::connect(metrics_addr).await.unwrap();
        let (result, dir) = stopping.await.unwrap();
        result.unwrap();
        // The getMore in flight was answered (nothing new: the cursor
        // waits on, or the connection closed after the answer).
        let _ = waiting.await.unwrap();
        let store = Store::open(dir.path().join("data")).expect("the stopped server released the data dir");
        let snap = store.snapshot("app", "main", At::Head).unwrap();
        assert_eq!(snap.scan("c").unwrap().count(), round as usize + 1);
        assert!(snap.get("c", &Bson::Int32(round)).unwrap().is_some());
        drop(snap);
        drop(store);
        drop(client);
        drop(idle_http);
        server = Server::start_in(dir, ServerConfig::default(), true).await;
    }
    let _ = server.stop().await;
}
