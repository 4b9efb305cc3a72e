//! `bulkWrite` (MongoDB 8.0, on `admin`): inserts, updates and deletes
//! across namespaces (`nsInfo`: `db.coll`, so across branches and
//! projects too) in one command, what drivers' `client.bulkWrite` sends.
//!
//! Each operation runs as the `insert`, `update` or `delete` command would
//! (same validation, conflict retries, transactions), so the semantics are
//! theirs; consecutive inserts into one namespace go as one `insert` (one
//! group commit). Results come back per operation in a cursor (all in the
//! first batch), errors as `{ok: 0, idx, code, errmsg}`; `ordered` stops
//! at the first error, `errorsOnly` lists only the errors. A retry of the
//! same `lsid` + `txnNumber` is answered from the stored reply (as every
//! retryable write is, in `dispatch_command`).

use bson::{doc, Bson, Document};

use super::{crud_delete, crud_insert, crud_update, Call, Ctx};
use crate::error::{code, CmdResult, CommandError};

/// One operation of `ops`, as the `insert`/`update`/`delete` statement it is.
enum Op {
    Insert(Document),
    Update(Document),
    Delete(Document),
}

/// Parses `ops[i]`: `{insert: n, document}`, `{update: n, filter,
/// updateMods, multi?, upsert?, arrayFilters?, hint?, collation?, sort?}`
/// or `{delete: n, filter, multi?, hint?, collation?}`; returns its
/// `nsInfo` index and the statement.
fn parse_op(i: usize, op: &Bson, namespaces: usize) -> CmdResult<(usize, Op)> {
    let Bson::Document(op) = op else {
        return Err(CommandError::type_mismatch(format!("BSON field 'bulkWrite.ops.{i}' must be an object")));
    };
    let Some((kind, ns)) = op.iter().next() else {
        return Err(CommandError::new(code::FAILED_TO_PARSE, "Unrecognized bulk write operation: {}"));
    };
    let ns = match argon_query::numeric::to_exact_i64(ns) {
        Some(n) if n >= 0 && (n as usize) < namespaces => n as usize,
        _ => {
            return Err(CommandError::bad_value(format!(
                "BulkWriteOp at index {i} has an invalid nsInfo index: {ns}"
            )))
        }
    };
    let unknown = |k: &str| {
        Err(CommandError::new(
            (40415, "IDLUnknownField"),
            format!("BSON field 'bulkWrite.ops.{k}' is an unknown field."),
        ))
    };
    let filter = || -> CmdResult<Document> {
        op.get_document("filter").cloned().map_err(|_| {
            CommandError::new(
                code::FAILED_TO_PARSE,
                format!("BulkWriteOp at index {i} needs a 'filter' object"),
            )
        })
    };
    let parsed = match kind.as_str() {
        "insert" => {
            if let Some(k) = op.keys().skip(1).find(|k| *k != "document") {
                return unknown(k);
            }
            let Ok(d) = op.get_document("document") else {
                return Err(CommandError::new(
                    code::FAILED_TO_PARSE,
                    format!("BulkWriteOp at index {i} needs a 'document' object"),
                ));
            };
            Op::Insert(d.clone())
        }
        "update" => {
            let mut stmt = doc! { "q": filter()? };
            for (k, v) in op.iter().skip(1) {
                match k.as_str() {
                    "filter" => {}
                    "updateMods" => {
                        stmt.insert("u", v.clone());
                    }
                    "multi" | "upsert" | "arrayFilters" | "hint" | "collation" | "sort"
                    | "upsertSupplied" => {
                        stmt.insert(k.clone(), v.clone());
                    }
                    other => return unknown(other),
                }
            }
            if !stmt.contains_key("u") {
                return Err(CommandError::new(
                    code::FAILED_TO_PARSE,
                    format!("BulkWriteOp at index {i} needs 'updateMods'"),
                ));
            }
            stmt.remove("upsertSupplied");
            Op::Update(stmt)
        }
        "delete" => {
            let mut stmt = doc! { "q": filter()?, "limit": 1 };
            for (k, v) in op.iter().skip(1) {
                match k.as_str() {
                    "filter" => {}
                    "multi" => {
                        let multi = matches!(v, Bson::Boolean(true));
                        stmt.insert("limit", if multi { 0 } else { 1 });
                    }
                    "hint" | "collation" => {
                        stmt.insert(k.clone(), v.clone());
                    }
                    other => return unknown(other),
                }
            }
            Op::Delete(stmt)
        }
        other => {
            return Err(CommandError::new(
                code::FAILED_TO_PARSE,
                format!("Unrecognized bulk write operation: {other}"),
            ))
        }
    };
    Ok((ns, parsed))
}

/// Totals and per-operation results of the reply.
#[derive(Default)]
struct Tally {
    results: Vec<Document>,
    errors: i32,
    inserted: i32,
    matched: i32,
    modified: i32,
    upserted: i32,
    deleted: i32,
}

impl Tally {
    fn error(&mut self, idx: usize, e: &Document) {
        self.errors += 1;
        let mut r = doc! { "ok": 0.0, "idx": idx as i32 };
        for (k, v) in e {
            if k != "index" {
                r.insert(k.clone(), v.clone());
            }
        }
        self.results.push(r);
    }
}

pub async fn run(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    if call.db != "admin" {
        return Err(CommandError::new(
            (13, "Unauthorized"),
            "bulkWrite may only be run against the admin database.",
        ));
    }
    let a = crate::args::Args::new(&call.cmd, "bulkWrite");
    let ordered = a.bool("ordered")?.unwrap_or(true);
    let errors_only = a.bool("errorsOnly")?.unwrap_or(false);
    let ns_info = a.docs("nsInfo")?.ok_or_else(|| crate::args::missing("bulkWrite", "nsInfo"))?;
    let ops = a.array("ops")?.ok_or_else(|| crate::args::missing("bulkWrite", "ops"))?;
    if ops.is_empty() {
        return Err(CommandError::bad_value("Number of operations in bulkWrite must be at least 1"));
    }
    let mut namespaces = Vec::with_capacity(ns_info.len());
    for info in &ns_info {
        let ns = info.get_str("ns").map_err(|_| crate::args::missing("bulkWrite.nsInfo", "ns"))?;
        let Some((db, coll)) = ns.split_once('.').filter(|(d, c)| !d.is_empty() && !c.is_empty()) else {
            return Err(CommandError::new(
                code::INVALID_NAMESPACE,
                format!("Invalid namespace specified '{ns}'"),
            ));
        };
        namespaces.push((db.to_string(), coll.to_string()));
    }
    let parsed = ops
        .iter()
        .enumerate()
        .map(|(i, op)| parse_op(i, op, namespaces.len()))
        .collect::<CmdResult<Vec<_>>>()?;
    // Command-level options each statement's command carries.
    let mut shared = Document::new();
    for k in ["bypassDocumentValidation", "let", "comment"] {
        if let Some(v) = call.cmd.get(k) {
            shared.insert(k, v.clone());
        }
    }

    let mut tally = Tally::default();
    let mut i = 0;
    while i < parsed.len() {
        let (ns, _) = &parsed[i];
        let (db, coll) = &namespaces[*ns];
        // A run of inserts into one namespace is one `insert` command.
        let mut end = i + 1;
        if matches!(parsed[i].1, Op::Insert(_)) {
            while end < parsed.len() && parsed[end].0 == *ns && matches!(parsed[end].1, Op::Insert(_)) {
                end += 1;
            }
        }
        let mut cmd = match &parsed[i].1 {
            Op::Insert(_) => {
                let docs: Vec<Bson> = parsed[i..end]
                    .iter()
                    .map(|(_, op)| match op {
                        Op::Insert(d) => Bson::Document(d.clone()),
                        _ => unreachable!("a run of inserts"),
                    })
                    .collect();
                doc! { "insert": coll, "documents": docs, "ordered": ordered }
            }
            Op::Update(stmt) => doc! { "update": coll, "updates": [stmt.clone()] },
            Op::Delete(stmt) => doc! { "delete": coll, "deletes": [stmt.clone()] },
        };
        cmd.extend(shared.clone());
        cmd.insert("$db", db.clone());
        let mut sub = Call {
            name: cmd.keys().next().cloned().unwrap_or_default(),
            db: db.clone(),
            cmd: std::sync::Arc::new(cmd),
            txn: call.txn.take(),
            op_time: None,
            at: call.at,
            session: call.session.clone(),
        };
        let reply = match &parsed[i].1 {
            Op::Insert(_) => crud_insert::run(ctx, &mut sub).await,
            Op::Update(_) => crud_update::run(ctx, &mut sub).await,
            Op::Delete(_) => crud_delete::run(ctx, &mut sub).await,
        };
        call.txn = sub.txn.take();
        if sub.op_time.is_some() && sub.op_time > call.op_time {
            call.op_time = sub.op_time;
        }
        // Inside a transaction a failed operation fails the command (and so
        // aborts the transaction), as in MongoDB.
        let reply = match reply {
            Err(e) if call.txn.is_some() => return Err(e),
            other => other,
        };
        let stopped = record(&mut tally, &parsed[i].1, i, end - i, reply, ordered, errors_only)?;
        if stopped && ordered {
            break;
        }
        i = end;
    }
    let Tally { results, errors, inserted, matched, modified, upserted, deleted } = tally;
    Ok(doc! {
        "cursor": { "id": 0i64, "firstBatch": results, "ns": "admin.$cmd.bulkWrite" },
        "nErrors": errors,
        "nInserted": inserted,
        "nMatched": matched,
        "nModified": modified,
        "nUpserted": upserted,
        "nDeleted": deleted,
    })
}

/// Adds one command's outcome (for operations `first..first + count`) to
/// the tally; whether an error occurred. A write conflict fails the whole
/// command (the driver retries it).
fn record(
    tally: &mut Tally,
    op: &Op,
    first: usize,
    count: usize,
    reply: CmdResult<Document>,
    ordered: bool,
    errors_only: bool,
) -> CmdResult<bool> {
    let reply = match reply {
        Ok(r) => r,
        Err(e)
            if e.code == code::WRITE_CONFLICT.0
                || e.labels.iter().any(|l| l == "TransientTransactionError") =>
        {
            return Err(e)
        }
        Err(e) => {
            tally.error(
                first,
                &doc! { "code": e.code, "codeName": e.code_name.clone(), "errmsg": e.message.clone() },
            );
            return Ok(true);
        }
    };
    let write_errors: Vec<Document> = reply
        .get_array("writeErrors")
        .map(|a| a.iter().filter_map(|e| e.as_document().cloned()).collect())
        .unwrap_or_default();
    let failed: std::collections::HashMap<usize, Document> =
        write_errors.into_iter().map(|e| (e.get_i32("index").unwrap_or(0) as usize, e)).collect();
    let n = reply.get_i32("n").unwrap_or(0);
    for k in 0..count {
        let idx = first + k;
        if let Some(e) = failed.get(&k) {
            tally.error(idx, e);
            continue;
        }
        match op {
            Op::Insert(_) => {
                // An ordered run stops at its first failed insert.
                if ordered && failed.keys().any(|&f| f < k) {
                    continue;
                }
                tally.inserted += 1;
                if !errors_only {
                    tally.results.push(doc! { "ok": 1.0, "idx": idx as i32, "n": 1 });
                }
            }
            Op::Update(_) => {
                let upserted =
                    reply.get_array("upserted").ok().and_then(|u| u.first()).and_then(Bson::as_document);
                let modified = reply.get_i32("nModified").unwrap_or(0);
                let mut r = doc! { "ok": 1.0, "idx": idx as i32, "n": n, "nModified": modified };
                match upserted {
                    Some(u) => {
                        tally.upserted += 1;
                        r.insert("upserted", doc! { "_id": u.get("_id").cloned().unwrap_or(Bson::Null) });
                    }
                    None => tally.matched += n,
                }
                tally.modified += modified;
                if !errors_only {
                    tally.results.push(r);
                }
            }
            Op::Delete(_) => {
                tally.deleted += n;
                if !errors_only {
                    tally.results.push(doc! { "ok": 1.0, "idx": idx as i32, "n": n });
                }
            }
        }
    }
    Ok(!failed.is_empty())
}
