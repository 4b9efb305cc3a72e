//! TTL indexes: a background task deletes documents whose indexed date is
//! older than `expireAfterSeconds`, as ordinary WAL entries (actor `ttl`),
//! so expiry is part of history like any other delete and can be rewound.

use argon_store::{At, Check, ReadBase, WriteMode, WriteOp, WriteRequest};
use bson::{doc, Bson, Document};

use crate::source::{Query, Source};
use crate::state::ServerState;

/// Most documents one pass deletes per collection (the next pass goes on).
const BATCH: u64 = 10_000;

/// One pass over every branch's TTL indexes. Returns the documents deleted.
pub async fn expire_once(state: &ServerState) -> u64 {
    let mut deleted = 0;
    for req in expired(state) {
        let n = req.ops.len() as u64;
        // A conflict means someone changed a document: the next pass retries.
        if state.write(req).await.is_ok() {
            deleted += n;
        }
    }
    deleted
}

fn seconds(v: &Bson) -> Option<i64> {
    match v {
        Bson::Int32(i) => Some(*i as i64),
        Bson::Int64(i) => Some(*i),
        Bson::Double(d) => Some(*d as i64),
        _ => None,
    }
}

/// The deletions due now, one request per collection and branch.
fn expired(state: &ServerState) -> Vec<WriteRequest> {
    let mut out = Vec::new();
    let now_ms = bson::DateTime::now().timestamp_millis();
    for project in state.store.projects() {
        let Ok(branches) = state.store.branches(&project.name) else { continue };
        for branch in branches {
            let Ok(snap) = state.store.snapshot(&project.name, &branch.name, At::Head) else { continue };
            let mut work: Vec<(String, Document)> = Vec::new();
            for (coll, meta) in snap.collections() {
                // A time series collection's `expireAfterSeconds` expires
                // by its time field.
                if let (Some(field), Some(secs)) = (
                    crate::validation::time_field(&meta.options),
                    meta.options.get("expireAfterSeconds").and_then(seconds),
                ) {
                    let cutoff = bson::DateTime::from_millis(now_ms - secs * 1000);
                    work.push((coll.clone(), doc! { field: { "$lt": cutoff } }));
                }
                for ix in &meta.indexes {
                    let Some(secs) = ix.spec.get("expireAfterSeconds").and_then(seconds) else {
                        continue;
                    };
                    let Some(field) = ix.spec.get_document("key").ok().and_then(|k| k.keys().next().cloned())
                    else {
                        continue;
                    };
                    let cutoff = bson::DateTime::from_millis(now_ms - secs * 1000);
                    work.push((coll.clone(), doc! { field: { "$lt": cutoff } }));
                }
            }
            let src = Source { snap: &snap, overlay: None };
            for (coll, filter) in work {
                let Ok(q) = Query::parse(&filter) else { continue };
                let Ok(docs) = src.matching(&coll, &q, None, 0, Some(BATCH)) else { continue };
                if docs.is_empty() {
                    continue;
                }
                let ops = docs
                    .iter()
                    .map(|d| WriteOp::Delete {
                        coll: coll.clone(),
                        id: d.get("_id").cloned().unwrap_or(Bson::Null),
                        check: Check::UnchangedSinceBase,
                    })
                    .collect();
                let mut req = WriteRequest::new(project.name.clone(), branch.name.clone());
                req.actor = "ttl".into();
                req.base = Some(ReadBase { timeline: snap.view().timeline, lsn: snap.lsn() });
                req.mode = WriteMode::Atomic;
                req.ops = ops;
                out.push(req);
            }
        }
    }
    out
}
