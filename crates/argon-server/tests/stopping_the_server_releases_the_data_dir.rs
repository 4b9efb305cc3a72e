//! When `try_run` returns, the server has dropped every clone of its store:
//! the data dir is unlocked and can be opened again at once, even with
//! clients still connected when it stopped (their connections are aborted
//! after the grace period), including an idle connection to the metrics
//! endpoint. A restart in the same process relies on this.

mod auth_support;

use argon_server::ServerConfig;
use argon_store::{At, Store};
use auth_support::Server;
use bson::{doc, Bson, Document};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_dir_opens_right_after_a_stop_with_clients_connected() {
    let mut server = Server::start_with(ServerConfig::default(), true, |_| {}).await;
    for round in 0..2 {
        let client = server.client(None, "").await;
        let coll = client.database("app").collection::<Document>("c");
        coll.insert_one(doc! {"_id": round}).await.unwrap();
        // The client stays connected while the server stops (its connection
        // is aborted after the 5 s grace), and during the grace an HTTP
        // client connects to /metrics and says nothing: that handler would
        // wait 5 s for a request head, past the end of the grace.
        let metrics_addr = server.metrics_addr.unwrap();
        let stopping = tokio::spawn(server.stop());
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let idle_http = tokio::net::TcpStream::connect(metrics_addr).await.unwrap();
        let (result, dir) = stopping.await.unwrap();
        result.unwrap();
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
