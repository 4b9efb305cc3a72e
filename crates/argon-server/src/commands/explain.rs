//! `explain` of find, count, distinct, aggregate, update and delete: the
//! plan the planner chose (IDHACK, COLLSCAN, or FETCH over an IXSCAN with
//! its bounds; under a SORT when the documents were sorted in memory, and
//! SKIP/LIMIT) and what running it examined.

use argon_query::SortSpec;
use bson::{doc, Bson, Document};

use super::{Call, Ctx};
use crate::error::{CmdResult, CommandError};
use crate::planner::Plan;
use crate::source::Query;

pub fn run(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let inner = match call.cmd.get("explain") {
        Some(Bson::Document(d)) => d.clone(),
        _ => return Err(CommandError::type_mismatch("explain must be an object")),
    };
    let verb = inner.keys().next().cloned().unwrap_or_default();
    let coll = inner
        .get_str(&verb)
        .map_err(|_| CommandError::bad_value("explained command must name a collection"))?
        .to_string();
    // A read of a view runs as an aggregation over its source: explain that.
    if matches!(verb.as_str(), "find" | "count" | "distinct" | "aggregate") {
        let target = call.target(ctx)?;
        let snap = call.snapshot(ctx, &target)?;
        if let Some((base, stages)) = crate::views::resolve(&snap, &coll)? {
            let pipeline = view_pipeline(&verb, &inner, stages);
            let mut explained = run_on(ctx, call, doc! { "aggregate": base, "pipeline": pipeline })?;
            explained.insert("command", inner);
            return Ok(explained);
        }
    }
    run_on(ctx, call, inner)
}

/// The pipeline a read of a view runs: the view's stages, then the read's
/// filter (and a find's sort, skip and limit).
fn view_pipeline(verb: &str, inner: &Document, mut stages: Vec<Document>) -> Vec<Bson> {
    let filter_field = if verb == "find" { "filter" } else { "query" };
    match verb {
        "aggregate" => stages.extend(
            inner
                .get_array("pipeline")
                .map(|p| p.as_slice())
                .unwrap_or_default()
                .iter()
                .filter_map(|s| s.as_document().cloned()),
        ),
        _ => {
            let filter = inner.get_document(filter_field).cloned().unwrap_or_default();
            stages.push(doc! { "$match": filter });
            if let Ok(sort) = inner.get_document("sort") {
                if verb == "find" && !sort.is_empty() {
                    stages.push(doc! { "$sort": sort.clone() });
                }
            }
            for (field, stage) in [("skip", "$skip"), ("limit", "$limit")] {
                if let Some(n) = inner.get(field).and_then(|v| v.as_i64().or(v.as_i32().map(i64::from))) {
                    if verb == "find" && n != 0 {
                        stages.push(doc! { stage: n.abs() });
                    }
                }
            }
        }
    }
    stages.into_iter().map(Bson::Document).collect()
}

/// Explains `inner` (a find, count, distinct, aggregate, update, delete or
/// findAndModify) on the collection it names.
fn run_on(ctx: &mut Ctx<'_>, call: &mut Call, inner: Document) -> CmdResult<Document> {
    let verb = inner.keys().next().cloned().unwrap_or_default();
    let coll = inner
        .get_str(&verb)
        .map_err(|_| CommandError::bad_value("explained command must name a collection"))?
        .to_string();
    let first_stmt = |field: &str, q: &str| -> Document {
        inner
            .get_array(field)
            .ok()
            .and_then(|a| a.first())
            .and_then(|s| s.as_document())
            .and_then(|s| s.get_document(q).ok())
            .cloned()
            .unwrap_or_default()
    };
    let filter_doc = match verb.as_str() {
        "find" => inner.get_document("filter").cloned().unwrap_or_default(),
        "count" | "distinct" => inner.get_document("query").cloned().unwrap_or_default(),
        "aggregate" => first_stmt("pipeline", "$match"),
        "update" => first_stmt("updates", "q"),
        "delete" => first_stmt("deletes", "q"),
        "findAndModify" => inner.get_document("query").cloned().unwrap_or_default(),
        other => return Err(CommandError::bad_value(format!("explain does not support {other}"))),
    };
    // find and findAndModify sort (and find skips and limits): the plan
    // depends on them.
    let sort_doc = match verb.as_str() {
        "find" | "findAndModify" => inner.get_document("sort").ok().filter(|s| !s.is_empty()).cloned(),
        _ => None,
    };
    let sort = sort_doc.as_ref().map(SortSpec::parse).transpose()?;
    let number = |field: &str| inner.get(field).and_then(|v| v.as_i64().or(v.as_i32().map(i64::from)));
    let (skip, limit) = match verb.as_str() {
        "find" => (
            number("skip").unwrap_or(0).max(0) as u64,
            number("limit").map(|l| l.unsigned_abs()).filter(|l| *l > 0),
        ),
        _ => (0, None),
    };
    let query = Query::parse(&filter_doc)?.with_hint(inner.get("hint").cloned());
    let target = call.target(ctx)?;
    let snap = call.snapshot(ctx, &target)?;
    let src = call.source(&snap);
    let e = src.execute(&coll, &query, sort.as_ref(), skip, limit)?;
    let returned = e.docs.len() as i64;
    let (keys, examined) = (e.keys_examined as i64, e.docs_examined as i64);
    // The plan tree, leaf first: COLLSCAN | IDHACK | FETCH <- IXSCAN, then
    // SORT when sorted in memory, then SKIP and LIMIT.
    let mut winning = doc! { "stage": e.plan.stage() };
    let mut stats = doc! { "stage": e.plan.stage(), "nReturned": returned, "docsExamined": examined, "keysExamined": keys };
    if let Plan::Index { name, bounds, reverse, multikey, .. } = &e.plan {
        let key = match name.as_str() {
            crate::planner::ID_INDEX => doc! { "_id": 1 },
            _ => snap
                .collection(&coll)
                .and_then(|c| c.indexes.iter().find(|i| i.name() == name))
                .and_then(|i| i.spec.get_document("key").ok().cloned())
                .unwrap_or_default(),
        };
        let ixscan = doc! {
            "stage": "IXSCAN",
            "indexName": name,
            "keyPattern": key,
            "isMultiKey": *multikey,
            "direction": if *reverse { "backward" } else { "forward" },
            "indexBounds": bounds.clone(),
        };
        let mut ixstats = ixscan.clone();
        ixstats.insert("keysExamined", keys);
        winning = doc! { "stage": "FETCH", "inputStage": ixscan };
        stats =
            doc! { "stage": "FETCH", "nReturned": returned, "docsExamined": examined, "inputStage": ixstats };
    }
    let wrap = |stage: Document, inner: Document| {
        let mut d = stage;
        d.insert("inputStage", inner);
        d
    };
    if e.sorted_in_memory {
        let mut sort_stage = doc! { "stage": "SORT", "sortPattern": sort_doc.clone().unwrap_or_default() };
        if let Some(l) = limit {
            sort_stage.insert("limitAmount", (l + skip) as i64);
        }
        winning = wrap(sort_stage.clone(), winning);
        sort_stage.insert("nReturned", returned);
        stats = wrap(sort_stage, stats);
    }
    if skip > 0 {
        winning = wrap(doc! { "stage": "SKIP", "skipAmount": skip as i64 }, winning);
        stats = wrap(doc! { "stage": "SKIP", "skipAmount": skip as i64, "nReturned": returned }, stats);
    }
    if let Some(l) = limit {
        winning = wrap(doc! { "stage": "LIMIT", "limitAmount": l as i64 }, winning);
        stats = wrap(doc! { "stage": "LIMIT", "limitAmount": l as i64, "nReturned": returned }, stats);
    }
    let query_planner = doc! {
        "namespace": format!("{}.{coll}", call.db),
        "parsedQuery": filter_doc,
        "readLsn": snap.lsn().0 as i64,
        "winningPlan": winning,
        "rejectedPlans": [],
    };
    let mut out = doc! {
        "queryPlanner": query_planner.clone(),
        "executionStats": {
            "nReturned": returned,
            "totalKeysExamined": keys,
            "totalDocsExamined": examined,
            "executionStages": stats,
        },
    };
    if verb == "aggregate" {
        // As MongoDB shows a pipeline: the query that feeds it (its leading
        // `$match`), then the other stages as given.
        let mut stages = vec![Bson::Document(doc! { "$cursor": { "queryPlanner": query_planner } })];
        let pipeline = inner.get_array("pipeline").map(|p| p.as_slice()).unwrap_or_default();
        let leading_match =
            pipeline.first().and_then(|s| s.as_document()).is_some_and(|s| s.contains_key("$match"));
        stages.extend(pipeline.iter().skip(usize::from(leading_match)).cloned());
        out.insert("stages", stages);
    }
    out.insert("command", inner);
    Ok(out)
}
