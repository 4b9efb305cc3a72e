//! `explain` of find, count, distinct, aggregate, update and delete: the
//! plan the planner chose (IDHACK, IXSCAN or COLLSCAN) and what running it
//! examined.

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
    let query = Query::parse(&filter_doc)?.with_hint(inner.get("hint").cloned());
    let target = call.target(ctx)?;
    let snap = call.snapshot(ctx, &target)?;
    let src = call.source(&snap);
    let (docs, plan, keys, examined) = src.execute(&coll, &query, None, 0, None)?;
    let returned = docs.len() as i64;
    let mut winning = doc! { "stage": plan.stage() };
    if let Plan::Index { name, .. } = &plan {
        let key = snap
            .collection(&coll)
            .and_then(|c| c.indexes.iter().find(|i| i.name() == name))
            .and_then(|i| i.spec.get_document("key").ok().cloned())
            .unwrap_or_default();
        winning = doc! { "stage": "FETCH", "inputStage": { "stage": "IXSCAN", "indexName": name, "keyPattern": key } };
    }
    Ok(doc! {
        "queryPlanner": {
            "namespace": format!("{}.{coll}", call.db),
            "parsedQuery": filter_doc,
            "readLsn": snap.lsn().0 as i64,
            "winningPlan": winning,
            "rejectedPlans": [],
        },
        "executionStats": {
            "nReturned": returned,
            "totalKeysExamined": keys as i64,
            "totalDocsExamined": examined as i64,
            "executionStages": { "stage": plan.stage(), "nReturned": returned, "docsExamined": examined as i64, "keysExamined": keys as i64 },
        },
        "command": inner,
    })
}
