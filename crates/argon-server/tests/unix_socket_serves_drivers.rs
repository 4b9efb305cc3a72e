//! `--unix-socket`: the official Rust driver over the Unix domain socket,
//! next to the TCP listener on the same data; the socket file's mode and
//! removal at shutdown; a path that cannot be used stops the server from
//! starting; the localhost exception holds for the socket's clients.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use argon_server::{ServerConfig, StartError};
use argon_store::Store;
use bson::{doc, Document};
use futures::TryStreamExt;

struct Server {
    tcp: std::net::SocketAddr,
    socket: PathBuf,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), StartError>>,
    _dir: tempfile::TempDir,
}

async fn start(auth: bool) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("argon.sock");
    let store = Store::open(dir.path().join("data")).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tcp = listener.local_addr().unwrap();
    let config = ServerConfig {
        advertised_host: tcp.to_string(),
        unix_socket: Some(socket.clone()),
        auth,
        ..ServerConfig::default()
    };
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(argon_server::try_run(listener, store, config, async move {
        let _ = rx.await;
    }));
    for _ in 0..200 {
        if socket.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    Server { tcp, socket, stop, task, _dir: dir }
}

/// The driver's URI for a socket: the path percent-encoded as the host.
fn socket_uri(path: &Path) -> String {
    format!("mongodb://{}/?directConnection=true", path.display().to_string().replace('/', "%2F"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drivers_use_the_socket_and_tcp_on_the_same_data() {
    let server = start(false).await;
    let mode = std::fs::metadata(&server.socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "owner only, as mongod's default");

    let local = mongodb::Client::with_uri_str(socket_uri(&server.socket)).await.unwrap();
    let tcp = mongodb::Client::with_uri_str(format!("mongodb://{}/?directConnection=true", server.tcp))
        .await
        .unwrap();
    let over_socket = local.database("app").collection::<Document>("c");
    over_socket.insert_many((0..50).map(|i| doc! { "_id": i, "v": i * 2 })).await.unwrap();
    // A branch made over the socket, written over TCP, read back over the socket.
    local.database("admin").run_command(doc! { "createBranch": "f", "project": "app" }).await.unwrap();
    tcp.database("app~f").collection::<Document>("c").insert_one(doc! { "_id": 100, "v": 0 }).await.unwrap();
    let main: Vec<Document> =
        over_socket.find(doc! { "v": { "$gte": 90 } }).await.unwrap().try_collect().await.unwrap();
    assert_eq!(main.len(), 5);
    let branch = local.database("app~f").collection::<Document>("c");
    assert_eq!(branch.count_documents(doc! {}).await.unwrap(), 51);
    assert_eq!(tcp.database("app").collection::<Document>("c").count_documents(doc! {}).await.unwrap(), 50);

    let me = local.database("admin").run_command(doc! { "whatsmyuri": 1 }).await.unwrap();
    assert_eq!(me.get_str("you").unwrap(), "anonymous unix socket");

    let Server { socket, stop, task, _dir, .. } = server;
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    assert!(!socket.exists(), "the socket file is removed at shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_localhost_exception_holds_for_socket_clients() {
    let server = start(true).await;
    let local = mongodb::Client::with_uri_str(socket_uri(&server.socket)).await.unwrap();
    let e = local.list_database_names().await.unwrap_err();
    assert!(e.to_string().contains("13") || e.to_string().to_lowercase().contains("unauthorized"), "{e}");
    local
        .database("admin")
        .run_command(doc! { "createUser": "root", "pwd": "pw", "roles": [{ "role": "root", "db": "admin" }] })
        .await
        .unwrap();
    let uri = format!(
        "mongodb://root:pw@{}/?directConnection=true&authSource=admin",
        server.socket.display().to_string().replace('/', "%2F")
    );
    let root = mongodb::Client::with_uri_str(uri).await.unwrap();
    root.database("app").collection::<Document>("c").insert_one(doc! { "_id": 1 }).await.unwrap();
    assert!(root.list_database_names().await.unwrap().contains(&"app".to_string()));
    server.stop.send(()).unwrap();
    server.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_path_in_use_or_not_a_socket_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("taken.sock");
    std::fs::write(&path, b"not a socket").unwrap();
    let store = Store::open(dir.path().join("data")).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = ServerConfig { unix_socket: Some(path.clone()), ..ServerConfig::default() };
    let err = argon_server::try_run(listener, store, config, std::future::pending()).await.unwrap_err();
    assert!(matches!(err, StartError::UnixSocket { .. }), "{err}");
    assert!(err.to_string().contains("taken.sock"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), b"not a socket", "a regular file is never deleted");
}
