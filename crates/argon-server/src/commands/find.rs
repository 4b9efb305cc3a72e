//! `find`: filter, sort, skip, limit, projection and a first batch; the
//! rest stays in a cursor computed from the same snapshot.

use std::collections::VecDeque;
use std::time::Instant;

use argon_query::Projection;

use crate::source::Query;
use bson::{doc, Document};

use super::{Call, Ctx};
use crate::args::{collection_name, Args};
use crate::cursor::{take_batch, Cursor, CursorSource, ScanCursor};
use crate::error::CmdResult;

/// Default size of a first batch, as MongoDB.
pub const DEFAULT_FIRST_BATCH: usize = 101;

pub fn run(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let coll = collection_name(&call.cmd, "find")?;
    let a = Args::new(&call.cmd, "find");
    let hint = a.get("hint").cloned();
    let lets = a.let_vars()?;
    let mut filter = a.doc("filter")?.cloned().unwrap_or_default();
    if a.bool("showRecordId")?.unwrap_or(false) {
        return Err(crate::error::CommandError::new(
            crate::error::code::NOT_IMPLEMENTED,
            "showRecordId: Argon's documents have no record ids (they are kept by _id)",
        ));
    }
    let return_key = a.bool("returnKey")?.unwrap_or(false);
    let sort = crate::source::parse_sort(a.doc("sort")?)?;
    let projection = match a.doc("projection")? {
        Some(p) if !p.is_empty() => Some(Projection::parse_with_let(p, &lets)?),
        _ => None,
    };
    let skip = a.non_negative("skip")?.unwrap_or(0) as u64;
    let limit = a.i64("limit")?;
    let single_batch = a.bool("singleBatch")?.unwrap_or(false) || limit.is_some_and(|l| l < 0);
    let limit = limit.map(|l| l.unsigned_abs()).filter(|l| *l > 0);
    let batch_size = a.non_negative("batchSize")?.map(|b| b as usize);
    let no_timeout = a.bool("noCursorTimeout")?.unwrap_or(false);
    let tailable = a.bool("tailable")?.unwrap_or(false);
    let await_data = a.bool("awaitData")?.unwrap_or(false);
    if await_data && !tailable {
        return Err(crate::error::CommandError::bad_value(
            "Cannot set 'awaitData' without also setting 'tailable'",
        ));
    }

    let sort_doc = a.doc("sort")?.filter(|s| !s.is_empty()).cloned();
    if crate::oplog::is_oplog(&call.db, &coll) {
        let query = Query::parse_with_let(&filter, &lets)?;
        let natural = match &sort {
            None => Some(1),
            Some(s) => s.is_natural(),
        };
        let ns = format!("{}.{coll}", call.db);
        let Some(direction) = natural else {
            // Any other order: the matching entries, sorted in memory.
            let mut stages = vec![doc! { "$match": filter }, doc! { "$sort": sort_doc.unwrap_or_default() }];
            if skip > 0 {
                stages.push(doc! { "$skip": skip as i64 });
            }
            if let Some(l) = limit {
                stages.push(doc! { "$limit": l as i64 });
            }
            let mut docs = crate::oplog::aggregate(ctx, &stages, &lets)?;
            if let Some(p) = &projection {
                docs = docs.iter().map(|d| p.apply(d, Some(&query.filter))).collect::<Result<_, _>>()?;
            }
            let first_batch = batch_size.or(Some(DEFAULT_FIRST_BATCH));
            return Ok(cursor_reply(ctx, call, ns, docs.into(), first_batch, single_batch, no_timeout));
        };
        if tailable && (direction != 1 || single_batch) {
            return Err(crate::error::CommandError::bad_value(
                "a tailable cursor reads in {$natural: 1} order, in more than one batch",
            ));
        }
        let mut cursor =
            crate::oplog::OplogCursor::new(&ctx.state, query, projection, direction == -1, skip, limit);
        (cursor.tailable, cursor.await_data) = (tailable, await_data);
        let batch = crate::ops::long_running_once(|| {
            cursor.next_batch(&ctx.state, batch_size.unwrap_or(DEFAULT_FIRST_BATCH))
        })?;
        let id = if cursor.done || single_batch {
            0i64
        } else {
            register(ctx, call, &ns, CursorSource::Oplog(Box::new(cursor)), no_timeout)
        };
        return Ok(doc! { "cursor": { "firstBatch": batch, "id": id, "ns": ns } });
    }
    let target = call.target(ctx)?;
    let ns = format!("{}.{}", call.db, coll);
    let (min, max) = (a.doc("min")?.cloned(), a.doc("max")?.cloned());
    let snap = match call.snapshot(ctx, &target) {
        Ok(s) => s,
        // A database nobody wrote to reads as empty, as in MongoDB (an
        // unknown branch of an existing project stays an error).
        Err(e)
            if e.code == crate::error::code::NAMESPACE_NOT_FOUND.0
                && !project_exists(ctx, &target.project) =>
        {
            return Ok(cursor_reply(ctx, call, ns, Vec::new().into(), Some(0), false, false));
        }
        Err(e) => return Err(e),
    };
    if min.is_some() || max.is_some() {
        let Some(hint) = &hint else {
            return Err(crate::error::CommandError::new(
                (51173, "Location51173"),
                "When using min()/max() a hint of which index to use must be provided",
            ));
        };
        let pattern = crate::planner::hinted_key_pattern(snap.collection(&coll), hint)?.ok_or_else(|| {
            crate::error::CommandError::bad_value("min()/max() need an index hint, not $natural")
        })?;
        filter = doc! { "$and": [filter, key_range_filter(&pattern, min.as_ref(), max.as_ref())?] };
    }
    let query = Query::parse_with_let(&filter, &lets)?.with_hint(hint);
    if projection.as_ref().is_some_and(Projection::uses_text_score) && !query.filter.has_text() {
        return Err(crate::error::CommandError::new(
            (40218, "Location40218"),
            "query requires text score metadata, but it is not available",
        ));
    }
    // `returnKey`: each result becomes its key in the index the query
    // reads (`{}` when it reads none), as in MongoDB.
    let key_pattern = match return_key {
        false => None,
        true => Some(match &query.hint {
            Some(h) => crate::planner::hinted_key_pattern(snap.collection(&coll), h)?,
            None => {
                let plan = crate::planner::plan(
                    &query.doc,
                    snap.collection(&coll),
                    None,
                    sort.as_ref(),
                    limit.is_some(),
                    &crate::source::multikey_in(&snap, &coll),
                )?;
                crate::planner::plan_key_pattern(&plan, snap.collection(&coll))
            }
        }),
    };
    // The reply to a find whose results are all here: the first batch,
    // each document replaced by its index key with `returnKey`.
    let results_reply = |ctx: &Ctx<'_>, call: &Call, ns: String, docs: Vec<Document>| {
        let docs: Vec<Document> = match &key_pattern {
            None => docs,
            Some(pattern) => docs.iter().map(|d| index_key(pattern.as_ref(), d)).collect(),
        };
        let first_batch = batch_size.or(Some(DEFAULT_FIRST_BATCH));
        cursor_reply(ctx, call, ns, docs.into(), first_batch, single_batch, no_timeout)
    };
    if tailable {
        // A tailable cursor follows a capped collection's insertion order.
        if snap.collection(&coll).is_none_or(|c| argon_store::cap_of(&c.options).is_none()) {
            return Err(crate::error::CommandError::bad_value(format!(
                "error processing query: ns={ns} tailable cursor requested on non capped collection"
            )));
        }
        if sort.as_ref().is_some_and(|s| s.is_natural() != Some(1)) {
            return Err(crate::error::CommandError::bad_value(
                "cannot use tailable option with a sort other than {$natural: 1}",
            ));
        }
        if single_batch {
            return Err(crate::error::CommandError::bad_value(
                "cannot use tailable option with the 'singleBatch' option",
            ));
        }
        let mut tail = crate::cursor::TailCursor {
            project: target.project.clone(),
            branch: target.branch.clone(),
            at_lsn: target.view_lsn,
            coll: coll.clone(),
            query,
            projection,
            after: None,
            await_data,
            collation: argon_query::compare::active_collation(),
        };
        drop(snap);
        let batch = tail.next_batch(&ctx.state.store, batch_size.or(Some(DEFAULT_FIRST_BATCH)))?;
        // No match at all: the cursor is dead, as in MongoDB (the driver queries again).
        let id = if batch.is_empty() && tail.after.is_none() {
            0i64
        } else {
            register(ctx, call, &ns, CursorSource::Tail(Box::new(tail)), no_timeout)
        };
        return Ok(doc! { "cursor": { "firstBatch": batch, "id": id, "ns": ns } });
    }
    if let Some((base, mut stages)) = crate::views::resolve(&snap, &coll)? {
        // A view: its pipeline, then the find's filter, sort, skip and limit.
        stages.push(doc! { "$match": query.doc.clone() });
        if let Some(s) = sort_doc {
            stages.push(doc! { "$sort": s });
        }
        if skip > 0 {
            stages.push(doc! { "$skip": skip as i64 });
        }
        if let Some(l) = limit {
            stages.push(doc! { "$limit": l as i64 });
        }
        let mut docs = super::aggregate::run_read_only_with_let(call, &snap, &base, &stages, &lets)?;
        if let Some(p) = &projection {
            docs = docs.iter().map(|d| p.apply(d, Some(&query.filter))).collect::<Result<_, _>>()?;
        }
        return Ok(results_reply(ctx, call, ns, docs));
    }
    // A capped collection reads in insertion order without a sort (or
    // sorted by `$natural`), as in MongoDB. (Inside a transaction, whose
    // own writes have no place in that order yet, it reads in `_id` order.)
    let natural_sort = sort.as_ref().and_then(|s| s.is_natural());
    let capped = snap.collection(&coll).is_some_and(|c| argon_store::cap_of(&c.options).is_some());
    if capped
        && call.txn.is_none()
        && (sort.is_none() || natural_sort.is_some())
        && !query.filter.has_text()
        && !query.filter.has_near()
        && query.hint.is_none()
    {
        let docs = call.source(&snap).natural(
            &coll,
            &query,
            natural_sort == Some(-1),
            skip,
            limit,
            projection.as_ref(),
        )?;
        return Ok(results_reply(ctx, call, ns, docs));
    }
    // A collection scan in `_id` order outside a transaction streams: the
    // cursor reads on from the same view at each getMore.
    // ($text runs through `Source::find`, which keeps scores beside documents;
    // $near through it too, to order by distance.)
    let streams = call.txn.is_none()
        && key_pattern.is_none()
        && sort.is_none()
        && !query.filter.has_text()
        && !query.filter.has_near()
        && !single_batch
        && crate::planner::plan(
            &query.doc,
            snap.collection(&coll),
            query.hint.as_ref(),
            None,
            limit.is_some(),
            &crate::source::multikey_in(&snap, &coll),
        )? == crate::planner::Plan::CollScan;
    if streams {
        let mut scan = ScanCursor {
            view: snap.view().clone(),
            coll: coll.clone(),
            query,
            projection,
            skip,
            remaining: limit,
            after: None,
            done: false,
            collation: argon_query::compare::active_collation(),
        };
        drop(snap);
        let batch = scan.next_batch(&ctx.state.store, batch_size.or(Some(DEFAULT_FIRST_BATCH)))?;
        let id = if scan.done {
            0i64
        } else {
            register(ctx, call, &ns, CursorSource::Scan(Box::new(scan)), no_timeout)
        };
        return Ok(doc! { "cursor": { "firstBatch": batch, "id": id, "ns": ns } });
    }
    let src = call.source(&snap);
    let docs = src.find(&coll, &query, sort.as_ref(), skip, limit, projection.as_ref())?;
    Ok(results_reply(ctx, call, ns, docs))
}

/// Builds `{cursor: {firstBatch, id, ns}}`, registering a cursor for the
/// rest when there is more.
pub fn cursor_reply(
    ctx: &Ctx<'_>,
    call: &Call,
    ns: String,
    mut docs: VecDeque<Document>,
    first_batch: Option<usize>,
    single_batch: bool,
    no_timeout: bool,
) -> Document {
    let batch = take_batch(&mut docs, first_batch);
    let id = if docs.is_empty() || single_batch {
        0i64
    } else {
        register(ctx, call, &ns, CursorSource::Buffered(docs), no_timeout)
    };
    doc! { "cursor": { "firstBatch": batch, "id": id, "ns": ns } }
}

/// Keeps a cursor open for getMore; its id.
fn register(ctx: &Ctx<'_>, call: &Call, ns: &str, source: CursorSource, no_timeout: bool) -> i64 {
    ctx.state.cursors.insert(Cursor {
        ns: ns.to_string(),
        source,
        last_used: Instant::now(),
        no_timeout,
        session: call.session.clone(),
    })
}

/// Whether the data dir holds `project`.
fn project_exists(ctx: &Ctx<'_>, project: &str) -> bool {
    ctx.state.store.projects().iter().any(|p| p.name == project)
}

/// `find`'s `min` (inclusive) and `max` (exclusive) as a filter: the
/// documents whose key in an index with key `pattern` lies between them,
/// comparing keys field by field in index order (a descending field
/// reversed), across BSON types as an index does (hence `$expr`, with a
/// missing field taken as null, as the index stores it).
pub(crate) fn key_range_filter(
    pattern: &Document,
    min: Option<&Document>,
    max: Option<&Document>,
) -> CmdResult<Document> {
    let fields: Vec<(&String, bool)> = pattern
        .iter()
        .map(|(k, v)| {
            (
                k,
                v.as_f64()
                    .or(v.as_i32().map(f64::from))
                    .or(v.as_i64().map(|n| n as f64))
                    .is_some_and(|d| d < 0.0),
            )
        })
        .collect();
    let mut conditions = Vec::new();
    for (bound, lower) in [(min, true), (max, false)] {
        let Some(bound) = bound else { continue };
        let names: Vec<&String> = bound.keys().collect();
        if names != fields.iter().map(|(k, _)| *k).collect::<Vec<_>>() {
            return Err(crate::error::CommandError::new(
                (51174, "Location51174"),
                format!(
                    "The index chosen is not valid for min/max specifications: {pattern} against {bound}"
                ),
            ));
        }
        let values: Vec<&bson::Bson> = bound.values().collect();
        conditions.push(bson::Bson::Document(doc! { "$expr": key_compare(&fields, &values, lower) }));
    }
    Ok(doc! { "$and": conditions })
}

/// Key ≥ `values` (`lower`) or key < `values`, from field `fields[0]` on.
fn key_compare(fields: &[(&String, bool)], values: &[&bson::Bson], lower: bool) -> bson::Bson {
    let Some(((field, descending), rest)) = fields.split_first() else {
        return bson::Bson::Boolean(lower); // all equal: in for min, out for max
    };
    let key = doc! { "$ifNull": [format!("${field}"), bson::Bson::Null] };
    let value = doc! { "$literal": values[0].clone() };
    // Past the bound in index order: above it, or below on a descending field.
    let beyond = if lower != *descending { "$gt" } else { "$lt" };
    bson::bson!({ "$or": [
        { beyond: [key.clone(), value.clone()] },
        { "$and": [{ "$eq": [key, value] }, key_compare(rest, &values[1..], lower)] },
    ] })
}

/// A document's key in an index with key `pattern` (`returnKey`); `{}`
/// without an index. Missing fields are null, as the index stores them.
fn index_key(pattern: Option<&Document>, doc: &Document) -> Document {
    let Some(pattern) = pattern else { return Document::new() };
    pattern
        .keys()
        .map(|k| (k.clone(), argon_query::get_path(doc, k).cloned().unwrap_or(bson::Bson::Null)))
        .collect()
}
