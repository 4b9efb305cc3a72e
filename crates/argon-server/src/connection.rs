//! One client connection: read whole frames, decode, dispatch, reply.
//!
//! A frame is buffered only once its declared length is known and within
//! the 48 MB limit. A frame that decodes badly gets an error reply (the
//! connection goes on: its length was valid, so the stream is still in
//! sync); a bad length cannot be resynchronised, so the connection closes.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use argon_wire::{Compressor, Request};
use bson::{doc, Document};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::commands::{self, Ctx};
use crate::error::{code, CommandError};
use crate::state::ServerState;

/// Who is at the other end of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    Tcp(std::net::SocketAddr),
    /// A client of the Unix domain socket (`--unix-socket`): always on
    /// this machine.
    Unix,
}

impl Peer {
    /// As `whatsmyuri` and `currentOp` show it.
    fn describe(self) -> String {
        match self {
            Peer::Tcp(addr) => addr.to_string(),
            Peer::Unix => "anonymous unix socket".to_string(),
        }
    }

    /// Whether the client runs on this machine (the localhost exception).
    fn is_local(self) -> bool {
        match self {
            Peer::Tcp(addr) => addr.ip().is_loopback(),
            Peer::Unix => true,
        }
    }
}

/// Per-connection state.
pub struct ConnState {
    pub id: i64,
    pub peer: String,
    /// The client runs on this machine (loopback TCP or the Unix socket).
    pub local: bool,
    /// Compressors agreed in the handshake.
    pub compressors: Vec<Compressor>,
    /// The authenticated user, if any (with `--auth`).
    pub user: Option<crate::auth::Principal>,
    pub sasl: Option<crate::auth::SaslConversation>,
    pub client_metadata: Option<Document>,
    /// Close the connection without answering the command just run (the
    /// `shutdown` command: mongod answers it by closing).
    pub close_unanswered: bool,
}

/// Bytes a read asks for when no frame length says more is coming.
const READ_CHUNK: usize = 4 * 1024;

/// Serves one connection until the peer closes it or sends garbage framing.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(state: Arc<ServerState>, mut stream: S, peer: Peer) {
    let id = state.next_connection();
    state.metrics.connections_current.fetch_add(1, Ordering::Relaxed);
    let (local, peer) = (peer.is_local(), peer.describe());
    let mut conn = ConnState {
        id,
        peer,
        local,
        compressors: vec![],
        user: None,
        sasl: None,
        client_metadata: None,
        close_unanswered: false,
    };
    tracing::debug!(conn = id, peer = %conn.peer, "connection accepted");
    let mut stopping = state.stopping.subscribe();
    let mut buf: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut next_request_id: i32 = 1;
    'conn: loop {
        // Read until one whole frame is buffered.
        let len = loop {
            let rest = match argon_wire::frame_length(&buf) {
                Ok(Some(len)) if buf.len() >= len => break len,
                Ok(Some(len)) => len - buf.len(),
                Ok(None) => 0,
                Err(e) => {
                    tracing::debug!(conn = id, "closing connection: {e}");
                    break 'conn;
                }
            };
            // Read straight into the buffer's spare capacity (a zeroed
            // stack chunk per read showed up as 7% memset in profiles):
            // room for the rest of the frame when its length is known,
            // else a small chunk, so an idle connection holds little.
            buf.reserve(rest.max(READ_CHUNK));
            let read = tokio::select! {
                read = stream.read_buf(&mut buf) => read,
                // Stopping: a connection between requests closes now (one
                // mid-frame reads on and is answered).
                _ = stopping.wait_for(|stop| *stop), if buf.is_empty() => break 'conn,
            };
            match read {
                Ok(0) | Err(_) => break 'conn,
                Ok(_) => {}
            }
        };
        let frame: Vec<u8> = buf.drain(..len).collect();
        if buf.is_empty() && buf.capacity() > 4 * READ_CHUNK {
            // A large message came: do not keep its room while idle.
            buf = Vec::with_capacity(READ_CHUNK);
        }
        let reply = handle_frame(&state, &mut conn, &frame, &mut next_request_id).await;
        if conn.close_unanswered {
            break;
        }
        if let Some(Reply { bytes, mut exhaust }) = reply {
            if stream.write_all(&bytes).await.is_err() {
                break;
            }
            // An exhaust cursor: keep sending batches, each answering the
            // previous reply, until the cursor is done (no moreToCome).
            while let Some(next) = exhaust.take() {
                let (bytes, more) = exhaust_batch(&state, &mut conn, next, &mut next_request_id).await;
                if stream.write_all(&bytes).await.is_err() {
                    break 'conn;
                }
                exhaust = more;
            }
        }
    }
    state.metrics.connections_current.fetch_sub(1, Ordering::Relaxed);
    tracing::debug!(conn = id, "connection ended");
}

/// A reply frame and, for an exhaust `getMore` whose cursor is still open,
/// what to run for the next reply.
struct Reply {
    bytes: Vec<u8>,
    exhaust: Option<Exhaust>,
}

/// The state of an exhaust cursor between two replies.
struct Exhaust {
    get_more: Document,
    /// The request id of the reply just sent: the next one answers it.
    previous_reply: i32,
    compressor: Option<Compressor>,
}

impl From<Vec<u8>> for Reply {
    fn from(bytes: Vec<u8>) -> Reply {
        Reply { bytes, exhaust: None }
    }
}

/// Whether an exhaust reply continues: it succeeded and its cursor is open.
fn cursor_still_open(reply: &Document) -> bool {
    let ok = reply.get("ok").and_then(|v| v.as_f64().or_else(|| v.as_i32().map(f64::from))) == Some(1.0);
    let id = reply.get_document("cursor").ok().and_then(|c| c.get_i64("id").ok()).unwrap_or(0);
    ok && id != 0
}

/// Runs the next `getMore` of an exhaust cursor and encodes its reply.
async fn exhaust_batch(
    state: &Arc<ServerState>,
    conn: &mut ConnState,
    next: Exhaust,
    next_request_id: &mut i32,
) -> (Vec<u8>, Option<Exhaust>) {
    let request_id = *next_request_id;
    *next_request_id = next_request_id.wrapping_add(1);
    let reply = run(state, conn, next.get_more.clone()).await;
    let more = cursor_still_open(&reply);
    let flags = if more { argon_wire::OpMsg::MORE_TO_COME } else { 0 };
    let bytes = argon_wire::encode_op_msg(request_id, next.previous_reply, flags, &reply, next.compressor)
        .unwrap_or_else(|e| {
            let err = CommandError::new(code::BSON_OBJECT_TOO_LARGE, format!("reply cannot be sent: {e}"));
            argon_wire::encode_op_msg(request_id, next.previous_reply, 0, &err.to_reply(), None)
                .unwrap_or_default()
        });
    let next = more.then_some(Exhaust { previous_reply: request_id, ..next });
    (bytes, next)
}

async fn handle_frame(
    state: &Arc<ServerState>,
    conn: &mut ConnState,
    frame: &[u8],
    next_request_id: &mut i32,
) -> Option<Reply> {
    let request_id = *next_request_id;
    *next_request_id = next_request_id.wrapping_add(1);
    // Point reads and inserts skip decoding the request (see `fast_path`).
    if let Some(msg) = argon_wire::plain_op_msg(frame) {
        let started = Instant::now();
        let response_to = msg.header.request_id;
        let bytes = match &msg.sequence {
            None => crate::fast_path::find_by_id(state, msg.body, started)
                .and_then(|reply| argon_wire::encode_op_msg_raw(request_id, response_to, &reply).ok()),
            Some(("updates", _)) => crate::fast_path::update_by_id(state, conn, &msg, started)
                .await
                .and_then(|reply| argon_wire::encode_op_msg_raw(request_id, response_to, &reply).ok()),
            Some(_) => crate::fast_path::insert(state, conn, &msg, started)
                .await
                .and_then(|reply| argon_wire::encode_op_msg_raw(request_id, response_to, &reply).ok()),
        };
        if let Some(bytes) = bytes {
            state.metrics.latency.lock().record(started.elapsed().as_micros() as u64);
            return Some(Reply::from(bytes));
        }
    }
    let decoded = match argon_wire::decode(frame) {
        Ok(d) => d,
        Err(e) => {
            // The length was sane, so the stream is still framed: answer.
            let response_to = argon_wire::peek_header(frame).map(|h| h.request_id).unwrap_or(0);
            // MongoDB answers a malformed document with InvalidBSON, any
            // other framing fault with ProtocolError.
            let code = match e {
                argon_wire::WireError::InvalidBson { .. } => code::INVALID_BSON,
                _ => code::PROTOCOL_ERROR,
            };
            let err = CommandError::new(code, format!("invalid message: {e}"));
            return argon_wire::encode_op_msg(request_id, response_to, 0, &err.to_reply(), None)
                .ok()
                .map(Reply::from);
        }
    };
    let response_to = decoded.header.request_id;
    let started = Instant::now();
    match decoded.request {
        Request::Query(q) => {
            if !q.is_command() {
                let err = doc! { "$err": "OP_QUERY is only supported for commands (legacy handshake)", "code": 352, "ok": 0.0 };
                return argon_wire::encode_op_reply(request_id, response_to, 2, 0, 0, &[err], None)
                    .ok()
                    .map(Reply::from);
            }
            let db = q.database().to_string();
            let reply = match Request::Query(q).into_command() {
                Ok(mut cmd) => {
                    cmd.insert("$db", db);
                    run(state, conn, cmd).await
                }
                Err(e) => CommandError::bad_value(e.to_string()).to_reply(),
            };
            argon_wire::encode_op_reply(request_id, response_to, 0, 0, 0, &[reply], None)
                .ok()
                .map(Reply::from)
        }
        Request::Msg(msg) => {
            let more_to_come = msg.more_to_come();
            // The client accepts several replies to this getMore (exhaust).
            let exhaust_allowed = msg.exhaust_allowed() && !more_to_come;
            let name = msg.command_name().unwrap_or("").to_string();
            let mut get_more = None;
            let reply = match msg.into_command() {
                Ok(cmd) => {
                    if exhaust_allowed && name == "getMore" {
                        get_more = Some(cmd.clone());
                    }
                    run(state, conn, cmd).await
                }
                Err(e) => CommandError::bad_value(e.to_string()).to_reply(),
            };
            state.metrics.latency.lock().record(started.elapsed().as_micros() as u64);
            if more_to_come {
                return None; // unacknowledged: the client wants no reply
            }
            let compressor = argon_wire::reply_compressor(decoded.compressor, &name);
            let exhaust = get_more.filter(|_| cursor_still_open(&reply)).map(|get_more| Exhaust {
                get_more,
                previous_reply: request_id,
                compressor,
            });
            let flags = if exhaust.is_some() { argon_wire::OpMsg::MORE_TO_COME } else { 0 };
            match argon_wire::encode_op_msg(request_id, response_to, flags, &reply, compressor) {
                Ok(bytes) => Some(Reply { bytes, exhaust }),
                Err(e) => {
                    let err =
                        CommandError::new(code::BSON_OBJECT_TOO_LARGE, format!("reply cannot be sent: {e}"));
                    argon_wire::encode_op_msg(request_id, response_to, 0, &err.to_reply(), None)
                        .ok()
                        .map(Reply::from)
                }
            }
        }
    }
}

/// Runs one command document (with `$db`) and returns its reply.
async fn run(state: &Arc<ServerState>, conn: &mut ConnState, cmd: Document) -> Document {
    let mut ctx = Ctx { state: state.clone(), conn };
    match commands::dispatch(&mut ctx, cmd).await {
        Ok(reply) => reply,
        Err(e) => {
            let mut r = e.to_reply();
            for (k, v) in state.time_fields(None) {
                r.insert(k, v);
            }
            r
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Peer;

    #[test]
    fn local_peers() {
        assert!(Peer::Tcp("127.0.0.1:5000".parse().unwrap()).is_local());
        assert!(Peer::Tcp("[::1]:5000".parse().unwrap()).is_local());
        assert!(!Peer::Tcp("10.0.0.1:5000".parse().unwrap()).is_local());
        assert!(Peer::Unix.is_local());
        assert_eq!(Peer::Tcp("10.0.0.1:5000".parse().unwrap()).describe(), "10.0.0.1:5000");
    }
}
