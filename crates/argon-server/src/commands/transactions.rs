//! `commitTransaction`, `abortTransaction`, `endSessions`, `killSessions`.

use argon_store::{WriteMode, WriteRequest};
use bson::{doc, Bson, Document};

use super::{Call, Ctx};
use crate::error::{code, CmdResult, CommandError};
use crate::session::{session_key, TxnState};

pub async fn commit(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let Some(txn) = call.txn.as_mut() else {
        return Err(CommandError::new(code::NO_SUCH_TRANSACTION, "no transaction is open on this session"));
    };
    match txn.state {
        TxnState::Committed => return Ok(txn.commit_reply.clone().unwrap_or_default()),
        TxnState::Aborted => {
            return Err(CommandError::new(code::NO_SUCH_TRANSACTION, "Transaction has been aborted."));
        }
        TxnState::Active => {}
    }
    let (Some(target), Some(view)) = (txn.target.clone(), txn.view.clone()) else {
        // A transaction that did nothing commits trivially.
        txn.state = TxnState::Committed;
        txn.commit_reply = Some(Document::new());
        return Ok(Document::new());
    };
    let ops = std::mem::take(&mut txn.ops);
    if ops.is_empty() {
        txn.state = TxnState::Committed;
        txn.commit_reply = Some(Document::new());
        return Ok(Document::new());
    }
    let mut req = WriteRequest::new(target.project.clone(), target.branch.clone());
    req.actor = crate::writes::actor(ctx);
    req.txn = call.cmd.get("lsid").cloned().map(|l| bson::bson!({ "lsid": l, "txnNumber": txn.number }));
    req.base = Some(argon_store::ReadBase { timeline: view.timeline, lsn: view.lsn });
    req.mode = WriteMode::Atomic;
    req.ops = ops;
    match ctx.state.write(req).await {
        Ok(outcome) => {
            if let Some(lsn) = outcome.lsn {
                call.op_time = Some((lsn, outcome.time));
            }
            txn.state = TxnState::Committed;
            txn.commit_reply = Some(Document::new());
            Ok(Document::new())
        }
        Err(e) => {
            txn.state = TxnState::Aborted;
            let err = CommandError::from(e);
            Err(if err.code == code::WRITE_CONFLICT.0 || err.code == code::DUPLICATE_KEY.0 {
                err.with_label("TransientTransactionError")
            } else {
                err
            })
        }
    }
}

pub async fn abort(_ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let Some(txn) = call.txn.as_mut() else {
        return Err(CommandError::new(code::NO_SUCH_TRANSACTION, "no transaction is open on this session"));
    };
    match txn.state {
        TxnState::Committed => {
            Err(CommandError::new(code::TRANSACTION_COMMITTED, "Transaction has been committed."))
        }
        TxnState::Aborted | TxnState::Active => {
            // Nothing reached the WAL: dropping the collected writes is the abort.
            txn.ops.clear();
            txn.overlay.clear();
            txn.state = TxnState::Aborted;
            Ok(Document::new())
        }
    }
}

fn sessions_arg(call: &Call) -> Vec<Vec<u8>> {
    match call.cmd.get(&call.name) {
        Some(Bson::Array(a)) => a.iter().filter_map(|b| b.as_document().map(session_key)).collect(),
        _ => vec![],
    }
}

pub fn end_sessions(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    for key in sessions_arg(call) {
        ctx.state.sessions.end(&key);
        ctx.state.cursors.kill_session(&key);
    }
    Ok(Document::new())
}

pub fn kill_sessions(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    end_sessions(ctx, call)
}

/// `killAllSessions` (user patterns) and `killAllSessionsByPattern`
/// (patterns with `lsid` or users): an empty list kills every session,
/// their transactions and cursors. Argon does not record which user
/// started a session, so user patterns are refused rather than guessed.
pub fn kill_all_sessions(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let patterns = match call.cmd.get(&call.name) {
        Some(Bson::Array(a)) => a.clone(),
        _ => return Err(CommandError::type_mismatch(format!("{} takes an array of patterns", call.name))),
    };
    if patterns.is_empty() {
        ctx.state.sessions.end_all();
        ctx.state.cursors.kill_all_sessions();
        return Ok(Document::new());
    }
    for pattern in &patterns {
        match pattern {
            Bson::Document(p) if call.name == "killAllSessionsByPattern" && p.keys().eq(["lsid"]) => {
                let Ok(lsid) = p.get_document("lsid") else {
                    return Err(CommandError::type_mismatch("a pattern's lsid must be an object"));
                };
                let key = session_key(lsid);
                ctx.state.sessions.end(&key);
                ctx.state.cursors.kill_session(&key);
            }
            Bson::Document(_) => {
                return Err(CommandError::new(
                    code::NOT_IMPLEMENTED,
                    format!(
                        "{}: Argon does not record sessions' users; pass [] (all sessions) or lsid patterns",
                        call.name
                    ),
                ))
            }
            _ => return Err(CommandError::type_mismatch("a session pattern must be an object")),
        }
    }
    Ok(Document::new())
}

/// `startSession`: a new server session id (drivers make their own
/// client-side; this is for shells and tools that ask), registered so that
/// `refreshSessions`, `endSessions` and the idle reaper know it.
pub fn start_session(ctx: &mut Ctx<'_>, _call: &mut Call) -> CmdResult<Document> {
    let id = crate::users::new_uuid_bytes();
    ctx.state.sessions.touch(&id);
    let id = bson::Binary { subtype: bson::spec::BinarySubtype::Uuid, bytes: id.to_vec() };
    Ok(doc! { "id": { "id": id }, "timeoutMinutes": crate::session::SESSION_IDLE.as_secs() as i32 / 60 })
}

/// `refreshSessions`: keeps the listed sessions from expiring.
pub fn refresh_sessions(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    for key in sessions_arg(call) {
        ctx.state.sessions.touch(&key);
    }
    Ok(Document::new())
}
