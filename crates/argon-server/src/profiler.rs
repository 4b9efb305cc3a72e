//! The database profiler (`profile`, `db.setProfilingLevel()`): level 2
//! records every operation on a database, level 1 those slower than
//! `slowms` (and matching the optional `filter`), each with probability
//! `sampleRate`, into the branch's `system.profile`, a capped collection of
//! 1 MiB created when profiling is turned on. As in mongod, the level is
//! per database and `slowms`/`sampleRate` are the server's; a `filter`
//! (a query on the profile document) replaces both. None of it outlives
//! the process.
//!
//! A profile document is written after the operation has answered, by a
//! task of its own (its commit is not waited for), so a profiled
//! operation's latency does not include it. While any database is profiled
//! the fast lanes step aside, so every operation passes the dispatcher.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use argon_store::{WriteMode, WriteOp, WriteRequest};
use bson::{doc, oid::ObjectId, Bson, Document};
use parking_lot::Mutex;

use crate::error::CmdResult;
use crate::ops::RunningOp;
use crate::state::ServerState;

/// The profile collection's name and size.
pub const COLLECTION: &str = "system.profile";
pub const SIZE_BYTES: i64 = 1024 * 1024;

/// One database's profiling.
#[derive(Clone)]
pub struct DbProfile {
    pub level: i32,
    /// The `filter` given, and its parsed form.
    pub filter: Option<(Document, Arc<argon_query::Filter>)>,
}

pub struct Profiler {
    /// Whether any database is profiled (read by every fast-lane request).
    any: AtomicBool,
    slow_ms: AtomicI64,
    /// `sampleRate`'s bits.
    sample_rate: AtomicU64,
    dbs: Mutex<HashMap<String, DbProfile>>,
}

impl Default for Profiler {
    fn default() -> Self {
        Profiler {
            any: AtomicBool::new(false),
            slow_ms: AtomicI64::new(100),
            sample_rate: AtomicU64::new(1.0f64.to_bits()),
            dbs: Mutex::default(),
        }
    }
}

impl Profiler {
    pub fn any(&self) -> bool {
        self.any.load(Ordering::Relaxed)
    }

    pub fn slow_ms(&self) -> i64 {
        self.slow_ms.load(Ordering::Relaxed)
    }

    pub fn sample_rate(&self) -> f64 {
        f64::from_bits(self.sample_rate.load(Ordering::Relaxed))
    }

    pub fn get(&self, db: &str) -> Option<DbProfile> {
        self.dbs.lock().get(db).cloned()
    }

    /// Sets a database's profiling (level 0 removes it) and the server's
    /// thresholds; returns the database's previous settings.
    pub fn set(
        &self,
        db: &str,
        profile: Option<DbProfile>,
        slow_ms: Option<i64>,
        sample_rate: Option<f64>,
    ) -> Option<DbProfile> {
        if let Some(ms) = slow_ms {
            self.slow_ms.store(ms, Ordering::Relaxed);
        }
        if let Some(rate) = sample_rate {
            self.sample_rate.store(rate.to_bits(), Ordering::Relaxed);
        }
        let mut dbs = self.dbs.lock();
        let before = match profile {
            Some(p) if p.level > 0 => dbs.insert(db.to_string(), p),
            _ => dbs.remove(db),
        };
        self.any.store(!dbs.is_empty(), Ordering::Relaxed);
        before
    }
}

/// Records `op` (which ended with `result` after `millis`) in its
/// database's `system.profile`, if that database is profiled and the
/// operation qualifies.
pub fn record(state: &Arc<ServerState>, op: &RunningOp, user: Option<&str>, result: &CmdResult<Document>) {
    let Some((db, coll)) = op.ns.split_once('.') else { return };
    let Some(profile) = state.profiler.get(db) else { return };
    if coll == COLLECTION {
        return; // reading the profile is not profiled
    }
    let millis = op.started.elapsed().as_millis() as i64;
    // A filter decides alone; without one, slowms (level 1) and sampleRate.
    if profile.filter.is_none() {
        if profile.level == 1 && millis < state.profiler.slow_ms() {
            return;
        }
        let rate = state.profiler.sample_rate();
        if rate < 1.0 && rand::random::<f64>() >= rate {
            return;
        }
    }
    let mut entry = doc! {
        "_id": ObjectId::new(),
        "op": op.op,
        "ns": &op.ns,
        "command": op.command_summary(),
    };
    outcome_fields(&mut entry, result);
    entry.insert("millis", millis);
    entry.insert("ts", bson::DateTime::now());
    entry.insert("client", op.client.clone());
    entry.insert("user", user.unwrap_or(""));
    if let Some((_, filter)) = &profile.filter {
        if !filter.matches(&entry) {
            return;
        }
    }
    let Ok(target) = state.target(db) else { return };
    if target.view_lsn.is_some() {
        return;
    }
    let mut req = WriteRequest::new(target.project, target.branch);
    req.ops.push(WriteOp::Insert { coll: COLLECTION.to_string(), doc: entry });
    req.mode = WriteMode::Atomic;
    req.actor = "profiler".to_string();
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(e) = state.write(req).await {
            tracing::debug!("profile entry not written: {e}");
        }
    });
}

/// What the reply says about the outcome: documents returned, written or
/// matched, or the error.
fn outcome_fields(entry: &mut Document, result: &CmdResult<Document>) {
    match result {
        Ok(reply) => {
            let cursor = reply.get_document("cursor").ok();
            let batch =
                cursor.and_then(|c| c.get_array("firstBatch").or_else(|_| c.get_array("nextBatch")).ok());
            if let Some(batch) = batch {
                entry.insert("nreturned", batch.len() as i32);
            }
            let n = reply.get("n").and_then(Bson::as_i32);
            match entry.get_str("op").unwrap_or_default() {
                "insert" => {
                    entry.insert("ninserted", n.unwrap_or(0));
                }
                "update" => {
                    entry.insert("nMatched", n.unwrap_or(0));
                    entry.insert("nModified", reply.get("nModified").and_then(Bson::as_i32).unwrap_or(0));
                }
                "remove" => {
                    entry.insert("ndeleted", n.unwrap_or(0));
                }
                _ => {}
            }
            // A write error (the command itself succeeded): the first one.
            if let Some(Bson::Document(first)) = reply.get_array("writeErrors").ok().and_then(|w| w.first()) {
                entry.insert("errCode", first.get("code").cloned().unwrap_or(Bson::Null));
                entry.insert("errMsg", first.get("errmsg").cloned().unwrap_or(Bson::Null));
            }
            entry.insert("ok", 1.0);
        }
        Err(e) => {
            entry.insert("ok", 0.0);
            entry.insert("errCode", e.code);
            entry.insert("errName", e.code_name.to_string());
            entry.insert("errMsg", e.message.clone());
        }
    }
}
