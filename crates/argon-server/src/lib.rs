//! `argon serve`: a MongoDB wire-protocol server over Argon's versioned store.
//!
//! ```text
//!  TcpListener ─▶ connection (frames) ─▶ commands::dispatch ─▶ one handler per command
//!                                                 │
//!                                  store (snapshots, commits) + query engine
//! ```
//!
//! Layers: [`connection`] reads whole frames and writes replies (the wire
//! format is `argon-wire`); [`commands`] maps a command name to its handler;
//! handlers read through a snapshot and write through the store's commit
//! thread. [`run`] takes a bound listener so tests can serve on port 0.
//!
//! Optional, all through [`ServerConfig`]: `auth` (SCRAM users per project,
//! see [`Grant`] and [`add_user`]), `tls` (every TCP connection is TLS),
//! `unix_socket` (also listen on a Unix domain socket) and `metrics_addr`
//! (Prometheus `/metrics` and `/healthz` over HTTP).

mod args;
mod auth;
mod change_stream;
mod commands;
mod connection;
mod cursor;
mod durable_file;
mod error;
mod fast_path;
mod geo_keys;
mod index_usage;
pub mod log;
mod metrics_http;
mod oplog;
pub mod ops;
pub mod planner;
pub mod probe;
mod profiler;
mod scram;
pub mod session;
pub mod source;
mod state;
mod tls;
mod ttl;
mod unix_socket;
mod usage;
mod users;
mod validation;
mod vector_search;
mod views;
mod writes;

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use argon_store::Store;
use connection::Peer;
use tokio::net::{TcpListener, UnixStream};
use tokio::sync::Semaphore;

pub use error::{code, CommandError};
pub use state::{ServerConfig, ServerState, TlsFiles};
pub use users::{add_user, Grant, Role, UsersError, USERS_FILE};

/// Why the server could not start. Nothing was served.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// `auth` is on and the user file cannot be read. The server refuses to
    /// start rather than run with no users (which would open the localhost
    /// exception).
    #[error(transparent)]
    Users(#[from] UsersError),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("cannot listen for metrics on {addr}: {source}")]
    Metrics { addr: std::net::SocketAddr, source: std::io::Error },
    #[error("cannot listen on the Unix socket {}: {source}", path.display())]
    UnixSocket { path: std::path::PathBuf, source: std::io::Error },
}

/// Most connections served at once.
pub const MAX_CONNECTIONS: usize = 10_000;

/// A TLS client must finish its handshake within this.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves MongoDB clients on `listener` until `shutdown` completes, then
/// stops accepting, lets in-flight commands finish (up to a grace period)
/// and makes the WAL durable.
///
/// If the config cannot be put in place (see [`try_run`]) this logs the
/// error and returns at once; callers that set `auth`, `tls` or
/// `metrics_addr` should call [`try_run`] and report its error.
pub async fn run(
    listener: TcpListener,
    store: Store,
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
) {
    if let Err(e) = try_run(listener, store, config, shutdown).await {
        tracing::error!("argon serve cannot start: {e}");
    }
}

/// [`run`], but first loads what the config asks for (the user file, the
/// TLS certificate and key) and binds `config.metrics_addr`; if any of
/// that fails it returns the error and serves nothing.
pub async fn try_run(
    listener: TcpListener,
    store: Store,
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    let metrics = match config.metrics_addr {
        Some(addr) => {
            Some(TcpListener::bind(addr).await.map_err(|source| StartError::Metrics { addr, source })?)
        }
        None => None,
    };
    try_run_with_metrics(listener, metrics, store, config, shutdown).await
}

/// [`try_run`] with the metrics endpoint on an already bound listener
/// (`config.metrics_addr` is ignored), so tests can serve it on port 0.
pub async fn try_run_with_metrics(
    listener: TcpListener,
    metrics: Option<TcpListener>,
    store: Store,
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    let users = if config.auth { Some(users::Users::open(store.dir())?) } else { None };
    let tls = config.tls.as_ref().map(tls::acceptor).transpose()?;
    let unix = match &config.unix_socket {
        Some(path) => Some(
            unix_socket::bind(path)
                .map_err(|source| StartError::UnixSocket { path: path.clone(), source })?,
        ),
        None => None,
    };
    if let Some(path) = &config.unix_socket {
        tracing::info!("listening on the Unix socket {}", path.display());
    }
    if users.as_ref().is_some_and(|u| u.is_empty()) {
        tracing::warn!(
            "--auth is on and there are no users yet: create the first one from localhost (createUser), or with argon_server::add_user"
        );
    }
    let mut state = ServerState::new(store, config);
    state.auth = users;
    let state = Arc::new(state);
    let (metrics_stop, metrics_stop_rx) = tokio::sync::watch::channel(false);
    let metrics_task = metrics.map(|l| tokio::spawn(metrics_http::serve(l, state.clone(), metrics_stop_rx)));
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let reaper = {
        let state = state.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                state.cursors.reap();
                let aborted = state.sessions.reap();
                if aborted > 0 {
                    tracing::info!(
                        "aborted {aborted} transactions older than transactionLifetimeLimitSeconds"
                    );
                }
                let expired = ttl::expire_once(&state).await;
                if expired > 0 {
                    tracing::debug!("TTL monitor deleted {expired} documents");
                }
            }
        })
    };
    let mut tasks = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    let mut shutdown_command = state.shutdown_requested.subscribe();
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, data_dir = %state.store.dir().display(), "waiting for connections");
    }
    log::started();
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = until_true(&mut shutdown_command) => {
                tracing::info!("shutdown requested by the shutdown command");
                break;
            }
            accepted = listener.accept() => {
                let (socket, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let Ok(permit) = limit.clone().acquire_owned().await else { break };
                let _ = socket.set_nodelay(true);
                let state = state.clone();
                let tls = tls.clone();
                tasks.spawn(async move {
                    match tls {
                        None => connection::serve(state, socket, Peer::Tcp(peer)).await,
                        Some(acceptor) => {
                            match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(socket)).await {
                                Ok(Ok(stream)) => connection::serve(state, stream, Peer::Tcp(peer)).await,
                                Ok(Err(e)) => {
                                    state.metrics.tls_handshake_failures.fetch_add(1, Ordering::Relaxed);
                                    tracing::debug!(%peer, "TLS handshake failed: {e}");
                                }
                                Err(_) => {
                                    state.metrics.tls_handshake_failures.fetch_add(1, Ordering::Relaxed);
                                    tracing::debug!(%peer, "TLS handshake timed out");
                                }
                            }
                        }
                    }
                    drop(permit);
                });
            }
            accepted = accept_unix(unix.as_ref()) => {
                let socket = match accepted {
                    Ok(socket) => socket,
                    Err(e) => {
                        tracing::warn!("accept on the Unix socket failed: {e}");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let Ok(permit) = limit.clone().acquire_owned().await else { break };
                let state = state.clone();
                tasks.spawn(async move {
                    connection::serve(state, socket, Peer::Unix).await;
                    drop(permit);
                });
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    tracing::info!("shutting down: no new connections; waiting for in-flight commands");
    drop(listener);
    drop(unix);
    state.stopping.send_replace(true);
    let grace = tokio::time::sleep(Duration::from_secs(5));
    tokio::pin!(grace);
    loop {
        tokio::select! {
            _ = &mut grace => break,
            next = tasks.join_next() => if next.is_none() { break },
        }
    }
    // Aborting only requests cancellation: wait until the tasks are gone,
    // so that every clone of the store they held is dropped and the data
    // dir is unlocked when this returns (a restart in the same process
    // must be able to open it).
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    reaper.abort();
    let _ = reaper.await;
    let _ = metrics_stop.send(true);
    if let Some(t) = metrics_task {
        let _ = t.await;
    }
    let store = state.store.clone();
    let _ = tokio::task::spawn_blocking(move || store.sync()).await;
    tracing::info!("shutdown complete; WAL flushed");
    Ok(())
}

/// Resolves once the watched flag is set (the guard `wait_for` returns is
/// not `Send`, so it must not live in a `select!` branch's output).
async fn until_true(flag: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = flag.wait_for(|set| *set).await;
}

/// The next client of the Unix socket; never, without one.
async fn accept_unix(unix: Option<&unix_socket::UnixSocket>) -> std::io::Result<UnixStream> {
    match unix {
        Some(u) => u.listener.accept().await.map(|(socket, _)| socket),
        None => std::future::pending().await,
    }
}
