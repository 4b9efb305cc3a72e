//! `shutdown`: stops the server as SIGTERM does (no new connections,
//! in-flight commands finish, the WAL is flushed), for `db.shutdownServer()`
//! and drivers' `adminCommand({shutdown: 1})`.
//!
//! As mongod does, the command gets no reply: the connection closes once
//! the server has stopped accepting, and the client sees a network error.
//! Without `--auth` only a local client (loopback or the Unix socket) may
//! ask; with it, an administrator of every project.

use bson::{Bson, Document};

use super::{Call, Ctx};
use crate::error::{code, CmdResult, CommandError};

pub async fn run(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    super::admin_only(call, "shutdown")?;
    if ctx.state.auth.is_none() && !ctx.conn.local {
        return Err(CommandError::new(
            code::UNAUTHORIZED,
            "shutdown must run from localhost when running db without auth",
        ));
    }
    // (A lone primary has no secondaries to wait for: `force` and
    // `timeoutSecs` change nothing, but must be well-formed.)
    match call.cmd.get("force") {
        None | Some(Bson::Boolean(_)) => {}
        Some(_) => return Err(CommandError::type_mismatch("shutdown's force must be a boolean")),
    }
    if let Some(v) = call.cmd.get("timeoutSecs") {
        let secs = match v {
            Bson::Int32(n) => f64::from(*n),
            Bson::Int64(n) => *n as f64,
            Bson::Double(n) => *n,
            _ => return Err(CommandError::type_mismatch("shutdown's timeoutSecs must be a number")),
        };
        if secs < 0.0 {
            return Err(CommandError::bad_value("shutdown's timeoutSecs must not be negative"));
        }
    }
    tracing::warn!(conn = ctx.conn.id, peer = %ctx.conn.peer, "shutdown command received");
    ctx.state.shutdown_requested.send_replace(true);
    // Close only once the server has really stopped accepting.
    let mut stopping = ctx.state.stopping.subscribe();
    let _ = stopping.wait_for(|stop| *stop).await;
    ctx.conn.close_unanswered = true;
    Ok(Document::new())
}
