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

mod args;
mod auth;
mod change_stream;
mod commands;
mod connection;
mod cursor;
mod error;
mod session;
mod source;
mod state;
mod users;
mod writes;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use argon_store::Store;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

pub use error::{code, CommandError};
pub use state::{ServerConfig, ServerState};

/// Most connections served at once.
pub const MAX_CONNECTIONS: usize = 10_000;

/// Serves MongoDB clients on `listener` until `shutdown` completes, then
/// stops accepting, lets in-flight commands finish (up to a grace period)
/// and makes the WAL durable.
pub async fn run(
    listener: TcpListener,
    store: Store,
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
) {
    let state = Arc::new(ServerState::new(store, config));
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let reaper = {
        let state = state.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                state.cursors.reap();
                state.sessions.reap();
            }
        })
    };
    let mut tasks = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
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
                tasks.spawn(async move {
                    connection::serve(state, socket, peer.to_string()).await;
                    drop(permit);
                });
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    tracing::info!("shutting down: no new connections; waiting for in-flight commands");
    drop(listener);
    let grace = tokio::time::sleep(Duration::from_secs(5));
    tokio::pin!(grace);
    loop {
        tokio::select! {
            _ = &mut grace => break,
            next = tasks.join_next() => if next.is_none() { break },
        }
    }
    tasks.abort_all();
    reaper.abort();
    let store = state.store.clone();
    let _ = tokio::task::spawn_blocking(move || store.sync()).await;
    tracing::info!("shutdown complete; WAL flushed");
}
