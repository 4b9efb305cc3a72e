//! `explain` of find, count, distinct, aggregate, update and delete: the
//! plan Argon runs (IDHACK point read or COLLSCAN) with the numbers the
//! execution produced.

use argon_query::Filter;
use bson::{doc, Bson, Document};

use super::{Call, Ctx};
use crate::error::{CmdResult, CommandError};
use crate::source::point_id;

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
    let filter_doc = match verb.as_str() {
        "find" => inner.get_document("filter").cloned().unwrap_or_default(),
        "count" => inner.get_document("query").cloned().unwrap_or_default(),
        "distinct" => inner.get_document("query").cloned().unwrap_or_default(),
        "aggregate" => inner
            .get_array("pipeline")
            .ok()
            .and_then(|p| p.first())
            .and_then(|s| s.as_document())
            .and_then(|s| s.get_document("$match").ok())
            .cloned()
            .unwrap_or_default(),
        "update" | "delete" => Document::new(),
        other => return Err(CommandError::bad_value(format!("explain does not support {other}"))),
    };
    let filter = Filter::parse(&filter_doc)?;
    let target = call.target(ctx)?;
    let snap = call.snapshot(ctx, &target)?;
    let src = call.source(&snap);
    let (stage, keys, examined) = if let Some(id) = point_id(&filter) {
        let found = src.get(&coll, &id)?.is_some();
        ("IDHACK", 1i64, found as i64)
    } else {
        let mut n = 0i64;
        src.for_each(&coll, &mut |_| {
            n += 1;
            Ok(true)
        })?;
        ("COLLSCAN", 0, n)
    };
    let returned = src.matching(&coll, &filter, None, 0, None)?.len() as i64;
    Ok(doc! {
        "queryPlanner": {
            "namespace": format!("{}.{coll}", call.db),
            "parsedQuery": filter_doc,
            "readLsn": snap.lsn().0 as i64,
            "winningPlan": { "stage": stage },
            "rejectedPlans": [],
        },
        "executionStats": {
            "nReturned": returned,
            "totalKeysExamined": keys,
            "totalDocsExamined": examined,
            "executionStages": { "stage": stage, "nReturned": returned, "docsExamined": examined, "keysExamined": keys },
        },
        "command": inner,
    })
}
