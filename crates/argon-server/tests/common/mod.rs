//! Starts an in-process `argon serve` on a free port with a fresh data dir.
#![allow(dead_code)]

use std::net::SocketAddr;

use argon_server::ServerConfig;
use argon_store::Store;

pub struct TestServer {
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("data")).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let config = ServerConfig { advertised_host: addr.to_string(), ..ServerConfig::default() };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(argon_server::run(listener, store, config, async move {
            let _ = rx.await;
        }));
        TestServer { addr, dir, shutdown: Some(tx), task: Some(task) }
    }

    pub fn uri(&self) -> String {
        format!("mongodb://{}/?directConnection=true", self.addr)
    }

    pub async fn client(&self) -> mongodb::Client {
        mongodb::Client::with_uri_str(self.uri()).await.unwrap()
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}
