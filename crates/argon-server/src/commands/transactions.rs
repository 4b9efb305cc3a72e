//! `commitTransaction`, `abortTransaction`, `endSessions`, `killSessions`.

use argon_store::{WriteMode, WriteRequest};
use bson::{Bson, Document};

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
