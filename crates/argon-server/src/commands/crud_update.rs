//! `update`: each statement finds its documents in a snapshot, computes
//! the new versions with the query engine, and commits them with a
//! conflict check against that snapshot. A conflict (another commit changed
//! one of the documents) retries the statement on a fresh snapshot, as
//! MongoDB retries WriteConflict internally outside transactions.

use argon_query::compare::with_collation;
use argon_query::Update;

use crate::source::Query;
use crate::validation::Validator;
use argon_store::{Check, ReadBase, WriteMode, WriteOp};
use bson::{doc, Bson, Document};

use super::{Call, Ctx};
use crate::args::{collection_name, Args};
use crate::error::{code, CmdResult, CommandError};
use crate::writes;

/// Statement retries on write conflicts before giving up.
pub const CONFLICT_RETRIES: usize = 100;

/// One update statement's outcome.
#[derive(Default)]
pub struct UpdateResult {
    pub matched: i64,
    pub modified: i64,
    pub upserted: Option<Bson>,
    /// The document before and after (for findAndModify).
    pub before: Option<Document>,
    pub after: Option<Document>,
}

/// What an update statement asks for.
pub struct UpdateSpec<'a> {
    pub coll: &'a str,
    pub filter_doc: &'a Document,
    pub update: &'a Bson,
    pub array_filters: Option<Vec<Document>>,
    pub multi: bool,
    pub upsert: bool,
    pub sort: Option<&'a Document>,
    /// The command's `let` variables.
    pub lets: &'a argon_query::expr::Vars,
    /// The statement's collation (`None`: simple), for matching and for
    /// the update operators that compare (`$min`, `$max`, `$addToSet`, `$pull`).
    pub collation: Option<std::sync::Arc<argon_types::collation::Collation>>,
}

pub async fn run(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let coll = collection_name(&call.cmd, "update")?;
    super::crud_insert::check_writable_collection(&coll)?;
    let (stmts, ordered) = crate::args::statements(&call.cmd, "update", "updates")?;
    let lets = Args::new(&call.cmd, "update").let_vars()?;
    // Refused for the whole command, as MongoDB parses it.
    if stmts.iter().any(|s| matches!(s.get("multi"), Some(Bson::Boolean(true))) && s.contains_key("sort")) {
        return Err(CommandError::new(code::INVALID_OPTIONS, "Cannot specify sort with multi=true"));
    }
    let target = call.target(ctx)?;
    target.writable()?;
    ctx.state.metrics.ops_update.fetch_add(stmts.len() as u64, std::sync::atomic::Ordering::Relaxed);
    let (mut n, mut modified) = (0i64, 0i64);
    let mut upserted = Vec::new();
    let mut write_errors = Vec::new();
    for (i, stmt) in stmts.iter().enumerate() {
        let r = statement(ctx, call, &coll, stmt, &lets).await;
        match r {
            Ok(r) => {
                n += r.matched;
                modified += r.modified;
                if let Some(id) = r.upserted {
                    n += 1;
                    upserted.push(doc! { "index": i as i32, "_id": id });
                }
            }
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
    let mut reply = doc! { "n": n as i32, "nModified": modified as i32 };
    if !upserted.is_empty() {
        reply.insert("upserted", upserted);
    }
    if !write_errors.is_empty() {
        reply.insert("writeErrors", write_errors);
    }
    Ok(reply)
}

async fn statement(
    ctx: &mut Ctx<'_>,
    call: &mut Call,
    coll: &str,
    stmt: &Document,
    lets: &argon_query::expr::Vars,
) -> CmdResult<UpdateResult> {
    let a = Args::new(stmt, "update.updates");
    let q = a.doc("q")?.ok_or_else(|| crate::args::missing("update.updates", "q"))?;
    let u = stmt.get("u").ok_or_else(|| crate::args::missing("update.updates", "u"))?;
    if !matches!(u, Bson::Document(_) | Bson::Array(_)) {
        return Err(CommandError::type_mismatch(
            "BSON field 'update.updates.u' is the wrong type, expected type 'object' or 'array'",
        ));
    }
    let array_filters = a.docs("arrayFilters")?.map(|v| v.into_iter().cloned().collect());
    let multi = a.bool("multi")?.unwrap_or(false);
    // MongoDB 8.0: `updateOne`/`replaceOne` pick the first match in `sort`
    // order (`run` refused it with `multi`).
    let sort = a.doc("sort")?;
    let spec = UpdateSpec {
        coll,
        filter_doc: q,
        update: u,
        array_filters,
        multi,
        upsert: a.bool("upsert")?.unwrap_or(false),
        sort,
        lets,
        collation: super::collation_for(ctx, call, stmt, Some(coll))?,
    };
    apply(ctx, call, &spec).await
}

/// Runs one update statement, retrying on write conflicts.
pub async fn apply(ctx: &mut Ctx<'_>, call: &mut Call, spec: &UpdateSpec<'_>) -> CmdResult<UpdateResult> {
    let query = Query::parse_with_let(spec.filter_doc, spec.lets)?;
    let filter = &query.filter;
    let update = Update::parse_with_let(spec.update, spec.array_filters.as_deref(), spec.lets)?;
    if spec.multi && update.is_replacement() {
        return Err(CommandError::new(
            code::FAILED_TO_PARSE,
            "multi update is not supported for replacement-style update",
        ));
    }
    let sort = crate::source::parse_sort(spec.sort)?;
    let target = call.target(ctx)?;
    crate::validation::check_bypass(&call.cmd)?;
    let geo = crate::geo_keys::GeoKeys::for_target(&ctx.state, &target, spec.coll);
    let collation = spec.collation.as_ref();
    let mut attempt = 0;
    loop {
        attempt += 1;
        crate::ops::check_interrupted()?;
        let now = bson::DateTime::now();
        // Read and compute in a snapshot (a new project has none yet).
        let (docs, base, validator) = match call.snapshot(ctx, &target) {
            Ok(snap) => {
                crate::views::check_not_view(&snap, &call.db, spec.coll)?;
                let base = ReadBase { timeline: snap.view().timeline, lsn: snap.lsn() };
                let src = call.source(&snap);
                let limit = if spec.multi { None } else { Some(1) };
                let validator =
                    Validator::for_write(snap.collection(spec.coll).map(|c| &c.options), &call.cmd)?;
                let docs =
                    with_collation(collation, || src.matching(spec.coll, &query, sort.as_ref(), 0, limit))?;
                (docs, Some(base), validator)
            }
            Err(e) if e.code == code::NAMESPACE_NOT_FOUND.0 && target.branch == "main" && spec.upsert => {
                (vec![], None, None)
            }
            Err(e) => return Err(e),
        };
        let mut result = UpdateResult::default();
        let mut ops = Vec::new();
        if docs.is_empty() {
            if !spec.upsert {
                return Ok(result);
            }
            let new_doc = with_collation(collation, || update.upsert_document(spec.filter_doc, now))?;
            let new_doc = super::crud_insert::prepare_document(&new_doc)?;
            if let Some(v) = &validator {
                v.check_insert(&new_doc)?;
            }
            geo.check(&new_doc)?;
            result.upserted = new_doc.get("_id").cloned();
            result.after = Some(new_doc.clone());
            ops.push(WriteOp::Insert { coll: spec.coll.to_string(), doc: new_doc });
        } else {
            for d in &docs {
                crate::ops::check_interrupted()?;
                result.matched += 1;
                let new_doc = with_collation(collation, || update.apply(d, Some(filter), now))?;
                if result.before.is_none() {
                    result.before = Some(d.clone());
                    result.after = Some(new_doc.clone());
                }
                if argon_query::identical_documents(&new_doc, d) {
                    continue; // a no-op update writes nothing
                }
                if let Some(v) = &validator {
                    v.check_update(d, &new_doc)?;
                }
                geo.check(&new_doc)?;
                result.modified += 1;
                let id = d.get("_id").cloned().unwrap_or(Bson::Null);
                ops.push(WriteOp::Update {
                    coll: spec.coll.to_string(),
                    id,
                    doc: new_doc,
                    replace: update.is_replacement(),
                    check: Check::UnchangedSinceBase,
                });
            }
        }
        if ops.is_empty() {
            return Ok(result);
        }
        match writes::submit(ctx, call, &target, ops, WriteMode::Atomic, base).await {
            Ok(_) => return Ok(result),
            Err(e)
                if (e.code == code::WRITE_CONFLICT.0 || (e.code == code::DUPLICATE_KEY.0 && spec.upsert))
                    && call.txn.is_none()
                    && attempt < CONFLICT_RETRIES =>
            {
                tokio::task::yield_now().await;
                continue;
            }
            Err(e) => return Err(e),
        }
    }
}
