//! Submitting writes: straight to the store's commit thread, or into the
//! session's transaction (its overlay and op list) when inside one.

use argon_store::{CommitOutcome, OpEffect, ReadBase, StoreError, WriteMode, WriteOp, WriteRequest};
use argon_types::keycodec::encode as keycodec_id;
use bson::Bson;

use crate::commands::{Call, Ctx};
use crate::error::{CmdResult, CommandError};
use crate::state::Target;

/// Who is writing, as recorded in the WAL.
pub fn actor(ctx: &Ctx<'_>) -> String {
    if let Some(u) = &ctx.conn.user {
        return u.name.clone();
    }
    let app = ctx
        .conn
        .client_metadata
        .as_ref()
        .and_then(|m| m.get_document("application").ok())
        .and_then(|a| a.get_str("name").ok());
    match app {
        Some(app) => format!("anonymous ({app})"),
        None => "anonymous".to_string(),
    }
}

/// Commits `ops` on the target branch (or adds them to the transaction).
pub async fn submit(
    ctx: &Ctx<'_>,
    call: &mut Call,
    target: &Target,
    ops: Vec<WriteOp>,
    mode: WriteMode,
    base: Option<ReadBase>,
) -> CmdResult<CommitOutcome> {
    target.writable()?;
    if let Some(txn) = call.txn.as_mut() {
        if txn.target.as_ref().is_some_and(|t| t.db != target.db) {
            return Err(CommandError::new(
                crate::error::code::OPERATION_NOT_SUPPORTED_IN_TRANSACTION,
                "a transaction in Argon reads and writes one branch (one database)",
            ));
        }
        if txn.view.is_none() {
            // The transaction's snapshot starts at its first operation.
            let store = &ctx.state.store;
            let snap = match store.snapshot(&target.project, &target.branch, argon_store::At::Head) {
                // MongoDB creates a database on its first write, also inside a
                // transaction: create the (empty) project, then snapshot it.
                Err(StoreError::ProjectNotFound(_)) if target.branch == argon_types::names::MAIN_BRANCH => {
                    let (s, p) = (store.clone(), target.project.clone());
                    let _open = ctx.state.write_gate.read().await;
                    let created = tokio::task::spawn_blocking(move || s.create_project(&p))
                        .await
                        .map_err(|e| CommandError::new(crate::error::code::INTERNAL_ERROR, e.to_string()))?;
                    match created {
                        Ok(_) | Err(StoreError::ProjectExists(_)) => {}
                        Err(e) => return Err(e.into()),
                    }
                    store.snapshot(&target.project, &target.branch, argon_store::At::Head)?
                }
                other => other?,
            };
            txn.view = Some(snap.view().clone());
            txn.target = Some(target.clone());
        }
        let view = txn.view.clone().expect("set above");
        let snap = ctx.state.store.reopen(&view)?;
        let mut results = Vec::with_capacity(ops.len());
        for op in ops {
            let r = stage(&snap, &mut txn.overlay, &op, &target.project);
            match r {
                Ok(e) => {
                    txn.ops.push(op);
                    results.push(Ok(e));
                }
                Err(e) => {
                    // Inside a transaction any failed write aborts it.
                    return Err(e.into());
                }
            }
        }
        return Ok(CommitOutcome { lsn: None, time: ctx.state.store.visible_time(), results });
    }
    let mut req = WriteRequest::new(target.project.clone(), target.branch.clone());
    req.actor = actor(ctx);
    req.base = base;
    req.create_project = target.branch == argon_types::names::MAIN_BRANCH;
    req.mode = mode;
    req.ops = ops;
    let outcome = ctx.state.write(req).await?;
    if let Some(lsn) = outcome.lsn {
        call.op_time = Some((lsn, outcome.time));
    }
    Ok(outcome)
}

/// Applies one op to a transaction's overlay, checking what the store would.
fn stage(
    snap: &argon_store::Snapshot,
    overlay: &mut crate::session::Overlay,
    op: &WriteOp,
    project: &str,
) -> Result<OpEffect, StoreError> {
    let current = |overlay: &crate::session::Overlay,
                   coll: &str,
                   id: &Bson|
     -> Result<Option<bson::Document>, StoreError> {
        match overlay.get(&(coll.to_string(), keycodec_id(id))) {
            Some(d) => Ok(d.clone()),
            None => snap.get(coll, id),
        }
    };
    let decoded;
    // (Encoded inserts and updates come from the fast lanes, never in a
    // transaction; staged like the decoded ones should that change.)
    let decode = |doc: &bson::RawDocumentBuf| {
        bson::Document::try_from(doc.as_ref())
            .map_err(|e| StoreError::InvalidArgument(format!("invalid BSON document: {e}")))
    };
    let op = match op {
        WriteOp::InsertEncoded { coll, doc, .. } => {
            decoded = WriteOp::Insert { coll: coll.clone(), doc: decode(doc)? };
            &decoded
        }
        WriteOp::UpdateEncoded { coll, id, doc, check } => {
            let doc = decode(doc)?;
            decoded =
                WriteOp::Update { coll: coll.clone(), id: id.clone(), doc, replace: false, check: *check };
            &decoded
        }
        op => op,
    };
    match op {
        WriteOp::Insert { coll, doc } => {
            let id = doc.get("_id").cloned().unwrap_or(Bson::Null);
            if current(overlay, coll, &id)?.is_some() {
                return Err(StoreError::DuplicateKey {
                    ns: format!("{project}.{coll}"),
                    index: "_id_".into(),
                    key_pattern: Box::new(bson::doc! {"_id": 1}),
                    key_value: Box::new(bson::doc! {"_id": id}),
                });
            }
            overlay.insert((coll.clone(), keycodec_id(&id)), Some(doc.clone()));
            Ok(OpEffect::Written)
        }
        WriteOp::Update { coll, id, doc, .. } => {
            overlay.insert((coll.clone(), keycodec_id(id)), Some(doc.clone()));
            Ok(OpEffect::Written)
        }
        WriteOp::Delete { coll, id, .. } => {
            if current(overlay, coll, id)?.is_none() {
                return Ok(OpEffect::NoOp);
            }
            overlay.insert((coll.clone(), keycodec_id(id)), None);
            Ok(OpEffect::Written)
        }
        _ => Ok(OpEffect::Written),
    }
}
