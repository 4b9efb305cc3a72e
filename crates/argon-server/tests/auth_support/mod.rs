//! Starts an in-process `argon serve` with auth, TLS or metrics options,
//! on free ports with a fresh data dir. Shared by the auth, TLS and metrics
//! driver tests.
#![allow(dead_code)]

use std::net::SocketAddr;

use argon_server::{ServerConfig, StartError};
use argon_store::Store;

pub struct Server {
    pub addr: SocketAddr,
    pub metrics_addr: Option<SocketAddr>,
    pub dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), StartError>>>,
}

impl Server {
    /// Serves with `config` (its `advertised_host` is filled in) and, with
    /// `metrics`, an HTTP metrics endpoint on a free port. `prepare` runs
    /// on the data dir before the server opens it.
    pub async fn start_with(
        config: ServerConfig,
        metrics: bool,
        prepare: impl FnOnce(&std::path::Path),
    ) -> Server {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        prepare(&dir.path().join("data"));
        Server::start_in(dir, config, metrics).await
    }

    /// Serves the data dir `dir/data` (for example one a stopped server left).
    pub async fn start_in(dir: tempfile::TempDir, config: ServerConfig, metrics: bool) -> Server {
        let store = Store::open(dir.path().join("data")).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let metrics_listener =
            if metrics { Some(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()) } else { None };
        let metrics_addr = metrics_listener.as_ref().map(|l| l.local_addr().unwrap());
        let config = ServerConfig { advertised_host: addr.to_string(), ..config };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(argon_server::try_run_with_metrics(
            listener,
            metrics_listener,
            store,
            config,
            async move {
                let _ = rx.await;
            },
        ));
        Server { addr, metrics_addr, dir, shutdown: Some(tx), task: Some(task) }
    }

    pub async fn start(config: ServerConfig) -> Server {
        Server::start_with(config, false, |_| {}).await
    }

    pub fn data_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    /// `mongodb://[user:pass@]addr/?directConnection=true&...`.
    pub fn uri(&self, credentials: Option<(&str, &str)>, extra: &str) -> String {
        let who = credentials.map(|(u, p)| format!("{u}:{p}@")).unwrap_or_default();
        let timeout =
            if extra.contains("serverSelectionTimeoutMS") { "" } else { "&serverSelectionTimeoutMS=5000" };
        format!("mongodb://{who}{}/?directConnection=true{timeout}{extra}", self.addr)
    }

    pub async fn client(&self, credentials: Option<(&str, &str)>, extra: &str) -> mongodb::Client {
        mongodb::Client::with_uri_str(self.uri(credentials, extra)).await.unwrap()
    }

    /// Stops the server; returns what `try_run` returned and the data dir.
    pub async fn stop(mut self) -> (Result<(), StartError>, tempfile::TempDir) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let result = self.task.take().unwrap().await.unwrap();
        (result, self.dir)
    }
}

/// The server error code of a driver error, if it is a command error.
pub fn error_code(e: &mongodb::error::Error) -> Option<i32> {
    use mongodb::error::ErrorKind;
    match e.kind.as_ref() {
        ErrorKind::Command(c) => Some(c.code),
        ErrorKind::Write(mongodb::error::WriteFailure::WriteError(w)) => Some(w.code),
        ErrorKind::InsertMany(m) => m.write_errors.as_ref().and_then(|w| w.first()).map(|w| w.code),
        _ => None,
    }
}

/// Whether a driver error is an authentication failure.
pub fn is_auth_failure(e: &mongodb::error::Error) -> bool {
    matches!(e.kind.as_ref(), mongodb::error::ErrorKind::Authentication { .. })
}

/// A plain HTTP/1.1 GET: (status, body).
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8(buf).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}
