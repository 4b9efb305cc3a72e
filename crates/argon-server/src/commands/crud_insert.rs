//! `insert`: documents get an `_id` if they lack one; the batch commits as
//! one WAL record, ordered (stop at the first error) or unordered.

use argon_store::{WriteMode, WriteOp};
use bson::{doc, oid::ObjectId, Bson, Document};

use super::{Call, Ctx};
use crate::args::{collection_name, Args};
use crate::error::{code, CmdResult, CommandError};
use crate::writes;

pub async fn run(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let coll = collection_name(&call.cmd, "insert")?;
    check_writable_collection(&coll)?;
    let a = Args::new(&call.cmd, "insert");
    let docs = a.docs("documents")?.ok_or_else(|| crate::args::missing("insert", "documents"))?;
    if docs.is_empty() {
        return Err(CommandError::new(
            code::INVALID_OPTIONS,
            "Write batch sizes must be between 1 and 100000. Got 0 operations.",
        ));
    }
    let ordered = a.bool("ordered")?.unwrap_or(true);
    let target = call.target(ctx)?;
    let mut ops = Vec::with_capacity(docs.len());
    let mut pre_errors: Vec<(usize, CommandError)> = Vec::new();
    for (i, d) in docs.into_iter().enumerate() {
        match prepare_document(d) {
            Ok(doc) => ops.push((i, WriteOp::Insert { coll: coll.clone(), doc })),
            Err(e) => {
                pre_errors.push((i, e));
                if ordered {
                    break;
                }
            }
        }
    }
    ctx.state.metrics.ops_insert.fetch_add(ops.len() as u64, std::sync::atomic::Ordering::Relaxed);
    let indexes: Vec<usize> = ops.iter().map(|(i, _)| *i).collect();
    let mode = if ordered { WriteMode::Ordered } else { WriteMode::Unordered };
    let mut n = 0i64;
    let mut write_errors: Vec<(usize, CommandError)> = pre_errors;
    if !ops.is_empty() {
        let outcome =
            writes::submit(ctx, call, &target, ops.into_iter().map(|(_, o)| o).collect(), mode, None).await?;
        for (pos, r) in outcome.results.into_iter().enumerate() {
            match r {
                Ok(_) => n += 1,
                Err(e) => {
                    let i = indexes[pos];
                    write_errors.push((i, CommandError::from(e)));
                }
            }
        }
    }
    write_errors.sort_by_key(|(i, _)| *i);
    if ordered {
        write_errors.truncate(1);
    }
    let mut reply = doc! { "n": n as i32 };
    if !write_errors.is_empty() {
        if call.txn.is_some() {
            // Inside a transaction the statement fails as a whole.
            return Err(write_errors.remove(0).1);
        }
        reply.insert(
            "writeErrors",
            write_errors.into_iter().map(|(i, e)| Bson::Document(e.to_write_error(i))).collect::<Vec<_>>(),
        );
    }
    Ok(reply)
}

/// Adds an `_id` (first) when missing and checks the `_id`. (The store
/// checks the size when it encodes the document: 10334 BSONObjectTooLarge.)
pub fn prepare_document(d: &Document) -> CmdResult<Document> {
    match d.get("_id") {
        Some(Bson::Array(_)) => {
            Err(CommandError::new((53, "InvalidIdField"), "The '_id' value cannot be of type array"))
        }
        Some(Bson::RegularExpression(_)) => {
            Err(CommandError::new((53, "InvalidIdField"), "can't use a regex for _id"))
        }
        Some(Bson::Undefined) => {
            Err(CommandError::new((53, "InvalidIdField"), "can't use a undefined for _id"))
        }
        Some(_) => Ok(d.clone()),
        None => {
            let mut out = doc! { "_id": ObjectId::new() };
            for (k, v) in d {
                out.insert(k.clone(), v.clone());
            }
            Ok(out)
        }
    }
}

/// System collections are not writable.
pub fn check_writable_collection(coll: &str) -> CmdResult<()> {
    if coll.starts_with("system.") {
        return Err(CommandError::new(
            code::INVALID_NAMESPACE,
            format!("cannot write to system collection {coll}"),
        ));
    }
    argon_types::names::check_collection(coll)
        .map_err(|e| CommandError::new(code::INVALID_NAMESPACE, e.to_string()))
}
