//! `history`: a branch's entries from the WAL, newest first — the audit
//! trail of who changed what (`argon log` over `--uri`).
//!
//! `{history: BRANCH, project, collection?, id?, fromLsn?, toLsn?, actor?, limit?}`
//! → `{entries: [{lsn, time, entry}], truncated?: true}`. The WAL is read
//! newest first (`Store::log_newest_first`), so the newest entries cost the
//! same however long the history; the reading stops at `limit`, or before
//! the reply would pass 16 MiB (then `truncated: true`: narrow the range
//! or lower the limit). A branch's history is every commit
//! on the timelines of its chain (its own, then its ancestors' below each
//! fork point), plus the entries that created, reset, protected or deleted
//! a branch of that name and the project's creation.

use argon_store::{Entry, Lsn, Op};
use argon_types::keycodec;
use bson::{doc, Bson, Document};

use super::{Call, Ctx};
use crate::args::Args;
use crate::error::{code, CmdResult, CommandError};

pub fn run(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let a = Args::new(&call.cmd, "history");
    let branch = a.req_str("history")?.to_string();
    let project = a.req_str("project")?.to_string();
    crate::auth::check_project_read(ctx, &project)?;
    let collection = a.str("collection")?.map(str::to_string);
    let id = a.get("id").map(keycodec::encode);
    let actor = a.str("actor")?.map(str::to_string);
    let from = Lsn(a.non_negative("fromLsn")?.unwrap_or(1) as u64);
    let to = a.non_negative("toLsn")?.map(|l| Lsn(l as u64));
    let limit = a.non_negative("limit")?.map(|l| l as usize);
    let chain = ctx.state.store.history_chain(&project, &branch)?;
    let on_chain = |tl, lsn| chain.0.iter().any(|&(t, bound)| t == tl && lsn <= bound);
    let mut out: Vec<Document> = Vec::new();
    let mut bytes = 0usize;
    let mut truncated = false;
    let upto = to.unwrap_or(ctx.state.store.visible_lsn());
    for r in ctx.state.store.log_newest_first(from, upto)?.of_project(&project) {
        crate::ops::check_interrupted()?;
        if limit.is_some_and(|l| out.len() >= l) {
            break;
        }
        let (lsn, time, entry) = r?;
        if actor.as_deref().is_some_and(|a| entry.actor() != a) {
            continue;
        }
        let keep = match &entry {
            Entry::Commit(c) => {
                on_chain(c.timeline, lsn)
                    && c.ops.iter().any(|op| {
                        let (coll, op_id) = match op {
                            Op::Doc { coll, id, .. } => (coll, Some(id)),
                            Op::CreateCollection { name, .. } | Op::DropCollection { name, .. } => {
                                (name, None)
                            }
                            Op::RenameCollection { from, .. } => (from, None),
                            Op::CreateIndex { coll, .. }
                            | Op::DropIndex { coll, .. }
                            | Op::SetCollectionOptions { coll, .. }
                            | Op::SetIndexOptions { coll, .. } => (coll, None),
                        };
                        collection.as_deref().is_none_or(|c| c == coll)
                            && id
                                .as_ref()
                                .is_none_or(|want| op_id.is_some_and(|i| &keycodec::encode(i) == want))
                    })
            }
            _ if collection.is_some() || id.is_some() => false,
            Entry::CreateProject { project: p, .. } => *p == project,
            Entry::DropProject { project: p, .. } => *p == project,
            Entry::CreateBranch { project: p, branch: b, .. }
            | Entry::DeleteBranch { project: p, branch: b, .. }
            | Entry::ResetBranch { project: p, branch: b, .. }
            | Entry::ProtectBranch { project: p, branch: b, .. } => *p == project && *b == branch,
        };
        if !keep {
            continue;
        }
        let entry = bson::serialize_to_document(&entry).map_err(|e| {
            CommandError::new(code::INTERNAL_ERROR, format!("cannot encode entry {lsn}: {e}"))
        })?;
        let d = doc! { "lsn": lsn.0 as i64, "time": Bson::DateTime(time.to_bson_datetime()), "entry": entry };
        let size = crate::cursor::doc_batch_cost(&d, out.len());
        if bytes + size > crate::cursor::BATCH_BYTES {
            truncated = true;
            break;
        }
        bytes += size;
        out.push(d);
    }
    let mut reply = doc! { "entries": out };
    if truncated {
        reply.insert("truncated", true);
    }
    Ok(reply)
}
