//! The optional HTTP endpoint: `GET /metrics` (Prometheus text exposition
//! format 0.0.4) and `GET /healthz`.
//!
//! A deliberately small HTTP/1.1 server: one request per connection, a
//! request head of at most 8 KiB read within 5 s, `Connection: close`.
//! It shows counts only (no project, branch or user names), so it needs no
//! authentication; bind it to an address only your monitoring reaches.
//!
//! `/healthz` answers `200 ok` when the store accepts writes: it asks the
//! commit thread for a sync (WAL fdatasync and index checkpoint), which
//! fails if the commit thread has stopped or the WAL cannot be synced.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::state::ServerState;

/// Most HTTP connections served at once; more are closed at once.
const MAX_CONNECTIONS: usize = 32;
const MAX_HEAD: usize = 8 * 1024;
const TIMEOUT: Duration = Duration::from_secs(5);

/// Serves HTTP on `listener` until `stop` changes (or its sender is
/// dropped); then ends its connections and returns once they are gone, so
/// no clone of the server state outlives it.
pub async fn serve(
    listener: TcpListener,
    state: Arc<ServerState>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = stop.changed() => break,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
            accepted = listener.accept() => accepted,
        };
        let (socket, _) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!("metrics: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let Ok(permit) = limit.clone().try_acquire_owned() else { continue };
        let state = state.clone();
        tasks.spawn(async move {
            let _ = tokio::time::timeout(TIMEOUT * 2, handle(socket, &state)).await;
            drop(permit);
        });
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
}

async fn handle(mut socket: TcpStream, state: &Arc<ServerState>) {
    let mut head = Vec::with_capacity(1024);
    let complete = tokio::time::timeout(TIMEOUT, async {
        let mut chunk = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => head.extend_from_slice(&chunk[..n]),
            }
            if head.len() > MAX_HEAD {
                return false;
            }
        }
        true
    })
    .await
    .unwrap_or(false);
    let response = if complete {
        respond(&head, state).await
    } else {
        Response::text(400, "Bad Request", "bad request\n")
    };
    let _ = socket.write_all(&response.bytes()).await;
    let _ = socket.shutdown().await;
}

struct Response {
    status: u16,
    reason: &'static str,
    content_type: &'static str,
    body: String,
    head_only: bool,
}

impl Response {
    fn text(status: u16, reason: &'static str, body: impl Into<String>) -> Response {
        Response {
            status,
            reason,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
            head_only: false,
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.status,
            self.reason,
            self.content_type,
            self.body.len()
        );
        if self.status == 405 {
            out.push_str("Allow: GET, HEAD\r\n");
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        if !self.head_only {
            bytes.extend_from_slice(self.body.as_bytes());
        }
        bytes
    }
}

async fn respond(head: &[u8], state: &Arc<ServerState>) -> Response {
    let line = head.split(|b| *b == b'\r').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let head_only = method == "HEAD";
    if method != "GET" && !head_only {
        return Response::text(405, "Method Not Allowed", "only GET and HEAD\n");
    }
    let mut response = match path {
        "/metrics" => {
            let state = state.clone();
            match tokio::task::spawn_blocking(move || render(&state)).await {
                Ok(body) => Response {
                    content_type: "text/plain; version=0.0.4; charset=utf-8",
                    ..Response::text(200, "OK", body)
                },
                Err(_) => Response::text(500, "Internal Server Error", "metrics failed\n"),
            }
        }
        "/healthz" => health(state).await,
        _ => Response::text(404, "Not Found", "not found: try /metrics or /healthz\n"),
    };
    response.head_only = head_only;
    response
}

async fn health(state: &Arc<ServerState>) -> Response {
    let store = state.store.clone();
    let check = tokio::task::spawn_blocking(move || store.sync());
    match tokio::time::timeout(TIMEOUT, check).await {
        Ok(Ok(Ok(()))) => Response::text(200, "OK", "ok\n"),
        Ok(Ok(Err(e))) => Response::text(503, "Service Unavailable", format!("store refuses writes: {e}\n")),
        Ok(Err(_)) => Response::text(503, "Service Unavailable", "health check failed\n"),
        Err(_) => Response::text(503, "Service Unavailable", "store did not sync within 5 s\n"),
    }
}

/// Appends one metric family.
fn family(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(&str, u64)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, value) in samples {
        let _ = writeln!(out, "{name}{labels} {value}");
    }
}

/// The exposition text.
pub fn render(state: &ServerState) -> String {
    let m = &state.metrics;
    let st = state.store.stats();
    let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let mut out = String::with_capacity(4096);
    let current = m.connections_current.load(Ordering::Relaxed).max(0) as u64;
    family(&mut out, "argon_connections_current", "gauge", "Client connections open now.", &[("", current)]);
    family(
        &mut out,
        "argon_connections_total",
        "counter",
        "Client connections accepted since start.",
        &[("", load(&m.connections_total))],
    );
    family(
        &mut out,
        "argon_ops_total",
        "counter",
        "Operations by type, as serverStatus opcounters (insert, update and delete count statements).",
        &[
            ("{type=\"insert\"}", load(&m.ops_insert)),
            ("{type=\"query\"}", load(&m.ops_query)),
            ("{type=\"update\"}", load(&m.ops_update)),
            ("{type=\"delete\"}", load(&m.ops_delete)),
            ("{type=\"getmore\"}", load(&m.ops_getmore)),
            ("{type=\"command\"}", load(&m.ops_command)),
        ],
    );

    let lat = m.latency.lock().clone();
    let name = "argon_command_latency_microseconds";
    let _ = writeln!(out, "# HELP {name} Time from a command's receipt to its reply (OP_MSG).");
    let _ = writeln!(out, "# TYPE {name} histogram");
    let mut cumulative = 0u64;
    for (b, n) in lat.buckets.iter().enumerate().take(lat.buckets.len() - 1) {
        cumulative += n;
        let _ = writeln!(out, "{name}_bucket{{le=\"{}\"}} {cumulative}", 1u64 << b);
    }
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", lat.count);
    let _ = writeln!(out, "{name}_sum {}", lat.sum_micros);
    let _ = writeln!(out, "{name}_count {}", lat.count);

    family(&mut out, "argon_wal_bytes", "gauge", "Size of the WAL segments on disk.", &[("", st.wal_bytes)]);
    family(
        &mut out,
        "argon_wal_fsyncs_total",
        "counter",
        "Group commits of the commit thread: each is one WAL fdatasync under --fsync always (the store exposes no finer count).",
        &[("", st.group_commits)],
    );
    family(&mut out, "argon_commits_total", "counter", "Write requests committed.", &[("", st.commits)]);
    family(&mut out, "argon_index_bytes", "gauge", "Size of the index on disk.", &[("", st.index_bytes)]);
    family(&mut out, "argon_visible_lsn", "gauge", "Newest LSN visible to reads.", &[("", st.visible_lsn.0)]);
    family(
        &mut out,
        "argon_cursors_open",
        "gauge",
        "Open cursors (including change streams).",
        &[("", state.cursors.len() as u64)],
    );
    family(&mut out, "argon_projects", "gauge", "Projects.", &[("", st.projects as u64)]);
    family(&mut out, "argon_branches", "gauge", "Branches of all projects.", &[("", st.branches as u64)]);
    family(
        &mut out,
        "argon_timelines",
        "gauge",
        "Timelines (branch histories).",
        &[("", st.timelines as u64)],
    );
    family(
        &mut out,
        "argon_auth_total",
        "counter",
        "SASL authentications by result.",
        &[
            ("{result=\"success\"}", load(&m.auth_successes)),
            ("{result=\"failure\"}", load(&m.auth_failures)),
        ],
    );
    family(
        &mut out,
        "argon_tls_handshake_failures_total",
        "counter",
        "TLS handshakes that failed.",
        &[("", load(&m.tls_handshake_failures))],
    );
    family(
        &mut out,
        "argon_uptime_seconds",
        "gauge",
        "Seconds since the server started.",
        &[("", state.started.elapsed().as_secs())],
    );
    out
}
