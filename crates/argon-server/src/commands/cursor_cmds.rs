//! `getMore` and `killCursors`.

use bson::{doc, Bson, Document};

use super::{Call, Ctx};
use crate::args::Args;
use crate::cursor::{take_batch, CursorSource};
use crate::error::{code, CmdResult, CommandError};

pub async fn get_more(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    ctx.state.metrics.ops_getmore.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let id = match call.cmd.get("getMore") {
        Some(Bson::Int64(i)) => *i,
        Some(Bson::Int32(i)) => *i as i64,
        Some(_) => return Err(CommandError::type_mismatch("getMore cursor id must be a long")),
        None => return Err(crate::args::missing("getMore", "getMore")),
    };
    let a = Args::new(&call.cmd, "getMore");
    let coll = a.req_str("collection")?;
    let batch_size = a.non_negative("batchSize")?.filter(|b| *b > 0).map(|b| b as usize);
    let max_await_ms = a.non_negative("maxTimeMS")?.unwrap_or(1000) as u64;
    let ns = format!("{}.{}", call.db, coll);
    let Some(mut cursor) = ctx.state.cursors.take(id) else {
        return Err(CommandError::new(code::CURSOR_NOT_FOUND, format!("cursor id {id} not found")));
    };
    if cursor.ns != ns && !(cursor.ns.ends_with(".$cmd.aggregate") && cursor.ns.starts_with(&call.db)) {
        let msg = format!(
            "Requested getMore on namespace '{ns}', but cursor belongs to a different namespace {}",
            cursor.ns
        );
        ctx.state.cursors.put_back(id, cursor);
        return Err(CommandError::new(code::UNAUTHORIZED, msg));
    }
    let (batch, exhausted) = match &mut cursor.source {
        CursorSource::Buffered(docs) => {
            let b = take_batch(docs, batch_size);
            let done = docs.is_empty();
            (b, done)
        }
        CursorSource::Scan(scan) => {
            let b = crate::ops::long_running_once(|| scan.next_batch(&ctx.state.store, batch_size))?;
            (b, scan.done)
        }
        CursorSource::ChangeStream(cs) => {
            let b =
                cs.next_batch(&ctx.state, batch_size, std::time::Duration::from_millis(max_await_ms)).await?;
            (b, false)
        }
        CursorSource::Tail(tail) => {
            // With awaitData, wait up to maxTimeMS for a document.
            let deadline = std::time::Instant::now() + std::time::Duration::from_millis(max_await_ms);
            let b = loop {
                let seen = ctx.state.store.visible_lsn();
                let b = tail.next_batch(&ctx.state.store, batch_size)?;
                if !b.is_empty() || !tail.await_data || tail.at_lsn.is_some() {
                    break b;
                }
                // Nothing new until something commits.
                while ctx.state.store.visible_lsn() == seen && std::time::Instant::now() < deadline {
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
                if std::time::Instant::now() >= deadline {
                    break tail.next_batch(&ctx.state.store, batch_size)?;
                }
            };
            (b, false)
        }
        CursorSource::Oplog(oplog) => {
            let n = batch_size.unwrap_or(usize::MAX);
            let deadline = std::time::Instant::now() + std::time::Duration::from_millis(max_await_ms);
            let b = loop {
                let seen = ctx.state.store.visible_lsn();
                let b = crate::ops::long_running_once(|| oplog.next_batch(&ctx.state, n))?;
                if !b.is_empty() || !oplog.await_data || oplog.done || std::time::Instant::now() >= deadline {
                    break b;
                }
                while ctx.state.store.visible_lsn() == seen && std::time::Instant::now() < deadline {
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
            };
            (b, oplog.done)
        }
    };
    let mut reply_cursor = doc! { "nextBatch": batch, "id": if exhausted { 0i64 } else { id }, "ns": ns };
    if let CursorSource::ChangeStream(cs) = &cursor.source {
        reply_cursor.insert("postBatchResumeToken", cs.post_batch_resume_token());
    }
    if !exhausted {
        ctx.state.cursors.put_back(id, cursor);
    }
    Ok(doc! { "cursor": reply_cursor })
}

pub fn kill_cursors(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let a = Args::new(&call.cmd, "killCursors");
    let ids = a.array("cursors")?.ok_or_else(|| crate::args::missing("killCursors", "cursors"))?;
    let ids: Vec<i64> = ids
        .iter()
        .map(|b| match b {
            Bson::Int64(i) => Ok(*i),
            Bson::Int32(i) => Ok(*i as i64),
            _ => Err(CommandError::type_mismatch("killCursors.cursors must hold longs")),
        })
        .collect::<CmdResult<_>>()?;
    let coll = crate::args::collection_name(&call.cmd, "killCursors")?;
    let (killed, not_found) = ctx.state.cursors.kill(&format!("{}.{coll}", call.db), &ids);
    Ok(doc! {
        "cursorsKilled": killed,
        "cursorsNotFound": not_found,
        "cursorsAlive": Vec::<i64>::new(),
        "cursorsUnknown": Vec::<i64>::new(),
    })
}
