//! `delete`: each statement removes the first (limit 1) or all (limit 0)
//! matching documents, with the same conflict check and retry as update.

use crate::source::Query;
use argon_store::{Check, ReadBase, WriteMode, WriteOp};
use bson::{doc, Bson, Document};

use super::{Call, Ctx};
use crate::args::{collection_name, Args};
use crate::error::{code, CmdResult, CommandError};
use crate::writes;

pub async fn run(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let coll = collection_name(&call.cmd, "delete")?;
    let (stmts, ordered) = crate::args::statements(&call.cmd, "delete", "deletes")?;
    let lets = Args::new(&call.cmd, "delete").let_vars()?;
    let target = call.target(ctx)?;
    target.writable()?;
    ctx.state.metrics.ops_delete.fetch_add(stmts.len() as u64, std::sync::atomic::Ordering::Relaxed);
    let mut n = 0i64;
    let mut write_errors = Vec::new();
    for (i, stmt) in stmts.iter().enumerate() {
        let sa = Args::new(stmt, "delete.deletes");
        let r: CmdResult<i64> = async {
            let q = sa.doc("q")?.ok_or_else(|| crate::args::missing("delete.deletes", "q"))?;
            let limit = sa.i64("limit")?.ok_or_else(|| crate::args::missing("delete.deletes", "limit"))?;
            if limit != 0 && limit != 1 {
                return Err(CommandError::new(
                    code::FAILED_TO_PARSE,
                    format!("The limit field in delete objects must be 0 or 1. Got {limit}"),
                ));
            }
            let collation = super::collation_for(ctx, call, stmt, Some(&coll))?;
            Ok(delete_matching(ctx, call, &coll, q, None, limit == 1, &lets, collation.as_ref()).await?.len()
                as i64)
        }
        .await;
        match r {
            Ok(k) => n += k,
            Err(e) => {
                if call.txn.is_some() {
                    return Err(e);
                }
                write_errors.push(e.to_write_error(i));
                if ordered {
                    break;
                }
            }
        }
    }
    let mut reply = doc! { "n": n as i32 };
    if !write_errors.is_empty() {
        reply.insert("writeErrors", write_errors);
    }
    Ok(reply)
}

/// Deletes matching documents (one if `single`), retrying on conflicts.
/// Returns the deleted documents.
#[allow(clippy::too_many_arguments)] // the statement's parts, as parsed
pub async fn delete_matching(
    ctx: &mut Ctx<'_>,
    call: &mut Call,
    coll: &str,
    q: &Document,
    sort: Option<&Document>,
    single: bool,
    lets: &argon_query::expr::Vars,
    collation: Option<&std::sync::Arc<argon_types::collation::Collation>>,
) -> CmdResult<Vec<Document>> {
    let query = Query::parse_with_let(q, lets)?;
    let sort = crate::source::parse_sort(sort)?;
    let target = call.target(ctx)?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        crate::ops::check_interrupted()?;
        let snap = match call.snapshot(ctx, &target) {
            Ok(s) => s,
            Err(e) if e.code == code::NAMESPACE_NOT_FOUND.0 => return Ok(vec![]),
            Err(e) => return Err(e),
        };
        crate::views::check_not_view(&snap, &call.db, coll)?;
        let base = ReadBase { timeline: snap.view().timeline, lsn: snap.lsn() };
        let docs = argon_query::compare::with_collation(collation, || {
            call.source(&snap).matching(coll, &query, sort.as_ref(), 0, if single { Some(1) } else { None })
        })?;
        drop(snap);
        if docs.is_empty() {
            return Ok(docs);
        }
        let ops = docs
            .iter()
            .map(|d| WriteOp::Delete {
                coll: coll.to_string(),
                id: d.get("_id").cloned().unwrap_or(Bson::Null),
                check: Check::UnchangedSinceBase,
            })
            .collect();
        match writes::submit(ctx, call, &target, ops, WriteMode::Atomic, Some(base)).await {
            Ok(_) => return Ok(docs),
            Err(e)
                if e.code == code::WRITE_CONFLICT.0
                    && call.txn.is_none()
                    && attempt < super::crud_update::CONFLICT_RETRIES =>
            {
                tokio::task::yield_now().await;
            }
            Err(e) => return Err(e),
        }
    }
}
