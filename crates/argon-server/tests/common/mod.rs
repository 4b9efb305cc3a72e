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
        Self::start_in(tempfile::tempdir().unwrap()).await
    }

    /// Serves the data dir under `dir` (one kept from a stopped server:
    /// a restart).
    pub async fn start_in(dir: tempfile::TempDir) -> TestServer {
        let store = Store::open(dir.path().join("data")).unwrap();
        Self::serve(dir, store).await
    }

    /// Serves a fresh data dir opened with `opts`.
    pub async fn start_with(opts: argon_store::StoreOptions) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_with(dir.path().join("data"), opts).unwrap();
        Self::serve(dir, store).await
    }

    async fn serve(dir: tempfile::TempDir, store: Store) -> TestServer {
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

    /// Stops the server and hands back its directory, for [`Self::start_in`].
    pub async fn keep_dir_and_stop(mut self) -> tempfile::TempDir {
        self.shutdown_and_wait().await;
        let placeholder = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, placeholder)
    }

    async fn shutdown_and_wait(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }

    pub async fn stop(mut self) {
        self.shutdown_and_wait().await;
    }

    /// Waits (up to `limit`) for the server to stop by itself (the
    /// `shutdown` command); true when it did.
    pub async fn stopped_within(&mut self, limit: std::time::Duration) -> bool {
        let Some(t) = self.task.as_mut() else { return true };
        let stopped = tokio::time::timeout(limit, t).await.is_ok();
        if stopped {
            self.task = None; // (a finished JoinHandle must not be polled again)
        }
        stopped
    }
}

/// A bare OP_MSG client: sends exactly the command given (no `lsid` or
/// other fields a driver adds), optionally with a document sequence.
pub struct RawClient {
    stream: tokio::net::TcpStream,
    next_id: i32,
}

impl RawClient {
    pub async fn connect(addr: SocketAddr) -> RawClient {
        RawClient { stream: tokio::net::TcpStream::connect(addr).await.unwrap(), next_id: 0 }
    }

    pub async fn command(&mut self, body: bson::Document) -> bson::Document {
        self.command_with_sequence(body, None).await
    }

    /// Sends `body` and reads until the server closes the connection:
    /// `None` when it closed without answering, else the reply it sent.
    pub async fn command_then_close(&mut self, body: bson::Document) -> Option<bson::Document> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        self.next_id += 1;
        let frame = argon_wire::encode_op_msg_request(self.next_id, 0, &body, &[], None).unwrap();
        self.stream.write_all(&frame).await.unwrap();
        let mut buf = Vec::new();
        loop {
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        match argon_wire::frame_length(&buf) {
            Ok(Some(len)) if buf.len() >= len => {
                match argon_wire::decode_response(&buf[..len]).ok()?.response {
                    argon_wire::Response::Msg(m) => Some(m.body),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// `sequence`: (identifier, documents) sent as an OP_MSG kind 1 section.
    pub async fn command_with_sequence(
        &mut self,
        body: bson::Document,
        sequence: Option<(&str, Vec<bson::Document>)>,
    ) -> bson::Document {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        self.next_id += 1;
        let sequences: Vec<argon_wire::DocumentSequence> = sequence
            .into_iter()
            .map(|(identifier, documents)| argon_wire::DocumentSequence {
                identifier: identifier.to_string(),
                documents,
            })
            .collect();
        let frame = argon_wire::encode_op_msg_request(self.next_id, 0, &body, &sequences, None).unwrap();
        self.stream.write_all(&frame).await.unwrap();
        let mut buf = Vec::new();
        loop {
            if let Ok(Some(len)) = argon_wire::frame_length(&buf) {
                if buf.len() >= len {
                    match argon_wire::decode_response(&buf[..len]).unwrap().response {
                        argon_wire::Response::Msg(m) => return m.body,
                        other => panic!("unexpected reply {other:?}"),
                    }
                }
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "server closed the connection");
            buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// The LSNs a reply's `operationTime` and `$clusterTime` name (a
/// Timestamp's increment; its seconds are the wall clock's).
pub fn time_lsns(d: &bson::Document) -> [Option<u32>; 2] {
    let op = d.get_timestamp("operationTime").map(|t| t.increment).ok();
    let cluster =
        d.get_document("$clusterTime").and_then(|c| c.get_timestamp("clusterTime")).map(|t| t.increment).ok();
    [op, cluster]
}

/// A reply without the clock fields, which move between two requests.
pub fn without_time(mut d: bson::Document) -> bson::Document {
    d.remove("$clusterTime");
    d.remove("operationTime");
    d
}

/// The server's error code in a driver error, if it is a command error.
pub fn error_code(e: &mongodb::error::Error) -> Option<i32> {
    match e.kind.as_ref() {
        mongodb::error::ErrorKind::Command(c) => Some(c.code),
        _ => None,
    }
}
