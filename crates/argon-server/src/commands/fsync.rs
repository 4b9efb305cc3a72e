//! `fsync` and `fsyncUnlock`.
//!
//! `{fsync: 1}` makes everything written durable (the WAL is already, with
//! `--fsync always`) and checkpoints the index. `{fsync: 1, lock: true}`
//! also holds back every later write until `fsyncUnlock` (reads go on), as
//! mongod does for backups that copy files: the data dir can then be
//! copied while nothing changes. Locks count: each `fsyncUnlock` undoes one.

use bson::{doc, Bson, Document};

use super::{Call, Ctx};
use crate::error::{code, CmdResult, CommandError};

pub async fn fsync(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    super::admin_only(call, "fsync")?;
    let lock = match call.cmd.get("lock") {
        None | Some(Bson::Null) => false,
        Some(Bson::Boolean(b)) => *b,
        Some(v) => v
            .as_f64()
            .map(|n| n != 0.0)
            .or_else(|| v.as_i64().map(|n| n != 0))
            .ok_or_else(|| CommandError::type_mismatch("fsync's lock must be a boolean"))?,
    };
    if !lock {
        sync(ctx).await?;
        return Ok(doc! { "numFiles": 1 });
    }
    let mut held = ctx.state.fsync_lock.lock().await;
    let count = match held.as_mut() {
        Some((_, count)) => {
            *count += 1;
            *count
        }
        None => {
            // Waits for the commits in flight; later ones wait for the unlock.
            let guard = ctx.state.write_gate.clone().write_owned().await;
            sync(ctx).await?;
            *held = Some((guard, 1));
            1
        }
    };
    Ok(doc! {
        "info": "now locked against writes, use db.fsyncUnlock() to unlock",
        "lockCount": count as i64,
        "seeAlso": "http://dochub.mongodb.org/core/fsynccommand",
    })
}

pub async fn fsync_unlock(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    super::admin_only(call, "fsyncUnlock")?;
    let mut held = ctx.state.fsync_lock.lock().await;
    let remaining = match held.as_mut() {
        None => return Err(CommandError::new(code::ILLEGAL_OPERATION, "fsyncUnlock called when not locked")),
        Some((_, count)) if *count > 1 => {
            *count -= 1;
            *count
        }
        Some(_) => {
            *held = None; // drops the write guard: writes go on
            0
        }
    };
    Ok(doc! { "info": "fsyncUnlock completed", "lockCount": remaining as i64 })
}

/// Whether writes are held back now (or about to be: an fsync lock waits
/// for the commits in flight), for `currentOp`'s `fsyncLock`.
pub fn is_locked(ctx: &Ctx<'_>) -> bool {
    ctx.state.write_gate.try_read().is_err()
}

async fn sync(ctx: &Ctx<'_>) -> CmdResult<()> {
    let store = ctx.state.store.clone();
    tokio::task::spawn_blocking(move || store.sync())
        .await
        .map_err(|e| CommandError::new(code::INTERNAL_ERROR, e.to_string()))?
        .map_err(Into::into)
}
