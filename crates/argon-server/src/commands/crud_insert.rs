//! `insert`: documents get an `_id` if they lack one; the batch commits as
//! one WAL record, ordered (stop at the first error) or unordered.

use argon_store::{OpEffect, StoreError, WriteMode, WriteOp};
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
    let validator = crate::validation::for_target(&ctx.state, &target, &coll, &call.cmd)?;
    let geo = crate::geo_keys::GeoKeys::for_target(&ctx.state, &target, &coll);
    let mut ops = Vec::with_capacity(docs.len());
    let mut pre_errors: Vec<(usize, CommandError)> = Vec::new();
    for (i, d) in docs.into_iter().enumerate() {
        let prepared = prepare_document(d)
            .and_then(|doc| match &validator {
                Some(v) => v.check_insert(&doc).map(|()| doc),
                None => Ok(doc),
            })
            .and_then(|doc| geo.check(&doc).map(|()| doc));
        match prepared {
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
    let results = if ops.is_empty() {
        vec![]
    } else {
        writes::submit(ctx, call, &target, ops.into_iter().map(|(_, o)| o).collect(), mode, None)
            .await?
            .results
    };
    let (n, mut write_errors) = tally(results, &indexes, pre_errors, ordered);
    if !write_errors.is_empty() && call.txn.is_some() {
        // Inside a transaction the statement fails as a whole.
        return Err(write_errors.remove(0).1);
    }
    Ok(reply(n, write_errors))
}

/// Documents written and write errors by position in the request (only
/// the first error when `ordered`): `results` are the store's, for the
/// documents at `indexes`; `pre_errors` failed before reaching it.
pub(crate) fn tally(
    results: Vec<Result<OpEffect, StoreError>>,
    indexes: &[usize],
    pre_errors: Vec<(usize, CommandError)>,
    ordered: bool,
) -> (i64, Vec<(usize, CommandError)>) {
    let mut n = 0i64;
    let mut write_errors = pre_errors;
    for (pos, r) in results.into_iter().enumerate() {
        match r {
            Ok(_) => n += 1,
            Err(e) => write_errors.push((indexes[pos], CommandError::from(e))),
        }
    }
    write_errors.sort_by_key(|(i, _)| *i);
    if ordered {
        write_errors.truncate(1);
    }
    (n, write_errors)
}

/// `{n, writeErrors}`.
pub(crate) fn reply(n: i64, write_errors: Vec<(usize, CommandError)>) -> Document {
    let mut reply = doc! { "n": n as i32 };
    if !write_errors.is_empty() {
        reply.insert(
            "writeErrors",
            write_errors.into_iter().map(|(i, e)| Bson::Document(e.to_write_error(i))).collect::<Vec<_>>(),
        );
    }
    reply
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
