//! When `try_run` returns, the server has dropped every clone of its store:
//! the data dir is unlocked and can be opened again at once, even with
//! clients still connected when it stopped (their connections are aborted
//! after the grace period). A restart in the same process relies on this.

mod auth_support;

use argon_server::ServerConfig;
use argon_store::{At, Store};
use auth_support::Server;
use bson::{doc, Bson, Document};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_dir_opens_right_after_a_stop_with_clients_connected() {
    let mut server = Server::start(ServerConfig::default()).await;
    for round in 0..2 {
        let client = server.client(None, "").await;
        let coll = client.database("app").collection::<Document>("c");
        coll.insert_one(doc! {"_id": round}).await.unwrap();
        // The client stays connected while the server stops.
        let (result, dir) = server.stop().await;
        result.unwrap();
        let store = Store::open(dir.path().join("data")).expect("the stopped server released the data dir");
        let snap = store.snapshot("app", "main", At::Head).unwrap();
        assert_eq!(snap.scan("c").unwrap().count(), round as usize + 1);
        assert!(snap.get("c", &Bson::Int32(round)).unwrap().is_some());
        drop(snap);
        drop(store);
        drop(client);
        server = Server::start_in(dir, ServerConfig::default(), false).await;
    }
    let _ = server.stop().await;
}
