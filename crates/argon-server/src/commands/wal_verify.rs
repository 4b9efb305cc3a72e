//! `walVerify`: checks the header, checksum, LSN and compressed payload of
//! every record of every WAL segment ([`argon_wal::verify`], read-only and
//! safe on the live WAL), for `argon wal verify` over `--uri`.
//!
//! `{walVerify: 1}` waits for the check and replies with its report:
//! `{done: true, wal_ok, segments, records, bytes, first_lsn, last_lsn,
//! first_bad, torn_tail}`, the fields of `argon wal verify -o json`
//! (`wal_ok` is its `ok`: a reply's own `ok` is the command's). `first_bad`
//! and `torn_tail` are `null` or `{segment, offset, lsn, reason}`, with the
//! segment's path on the server. A damaged WAL is a successful command
//! whose `wal_ok` is false.
//!
//! With progress, for long checks: `{walVerify: 1, waitMS: N}` replies
//! within about N ms; while the check still runs that is
//! `{done: false, job, bytes_done, bytes_total}`, and
//! `{walVerify: 1, job: ID, waitMS: N}` asks again, until the report comes
//! (handed out once). Reports nobody asks for are dropped after 10 minutes.
//! Deployment administrators only.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use argon_wal::{BadRecord, VerifyReport};
use bson::{doc, Bson, Document};
use parking_lot::Mutex;

use super::{Call, Ctx};
use crate::args::Args;
use crate::error::{code, CmdResult, CommandError};

/// Finished reports are kept this long for the client to collect.
const KEEP_FINISHED: Duration = Duration::from_secs(600);

/// The server's running and finished WAL checks.
#[derive(Default)]
pub struct VerifyJobs {
    next: AtomicI64,
    jobs: Mutex<HashMap<i64, Arc<Job>>>,
}

struct Job {
    bytes_done: AtomicU64,
    bytes_total: AtomicU64,
    /// Set once, when the check ends.
    result: Mutex<Option<(Instant, Result<VerifyReport, String>)>>,
    finished: tokio::sync::watch::Sender<bool>,
}

impl VerifyJobs {
    /// Starts a check of the WAL in `dir` on a blocking thread.
    fn start(&self, dir: PathBuf) -> (i64, Arc<Job>) {
        let (finished, _) = tokio::sync::watch::channel(false);
        let job = Arc::new(Job {
            bytes_done: AtomicU64::new(0),
            bytes_total: AtomicU64::new(0),
            result: Mutex::new(None),
            finished,
        });
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let mut jobs = self.jobs.lock();
        jobs.retain(|_, j| j.result.lock().as_ref().is_none_or(|(at, _)| at.elapsed() < KEEP_FINISHED));
        jobs.insert(id, job.clone());
        drop(jobs);
        let j = job.clone();
        tokio::task::spawn_blocking(move || {
            let report = argon_wal::verify(&dir, &mut |done, total| {
                j.bytes_done.store(done, Ordering::Relaxed);
                j.bytes_total.store(total, Ordering::Relaxed);
            });
            *j.result.lock() = Some((Instant::now(), report.map_err(|e| e.to_string())));
            j.finished.send_replace(true);
        });
        (id, job)
    }

    fn get(&self, id: i64) -> Option<Arc<Job>> {
        self.jobs.lock().get(&id).cloned()
    }

    fn remove(&self, id: i64) {
        self.jobs.lock().remove(&id);
    }
}

pub async fn run(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let a = Args::new(&call.cmd, "walVerify");
    let wait = a.non_negative("waitMS")?.map(|ms| Duration::from_millis(ms as u64));
    let jobs = &ctx.state.wal_verify_jobs;
    let (id, job) = match a.non_negative("job")? {
        Some(id) => {
            let job = jobs.get(id).ok_or_else(|| {
                CommandError::new(
                    code::NO_SUCH_KEY,
                    format!("no WAL check with job id {id} (a report is handed out once)"),
                )
            })?;
            (id, job)
        }
        None => jobs.start(ctx.state.store.dir().join("wal")),
    };
    let mut finished = job.finished.subscribe();
    let done = finished.wait_for(|d| *d);
    match wait {
        None => {
            let _ = done.await;
        }
        Some(w) => {
            let _ = tokio::time::timeout(w, done).await;
        }
    }
    let result = job.result.lock().as_ref().map(|(_, r)| r.clone());
    match result {
        None => Ok(doc! {
            "done": false,
            "job": id,
            "bytes_done": job.bytes_done.load(Ordering::Relaxed) as i64,
            "bytes_total": job.bytes_total.load(Ordering::Relaxed) as i64,
        }),
        Some(r) => {
            jobs.remove(id);
            let report = r.map_err(|e| CommandError::new(code::INTERNAL_ERROR, e))?;
            Ok(report_doc(&report))
        }
    }
}

fn report_doc(r: &VerifyReport) -> Document {
    let bad = |b: &Option<BadRecord>| match b {
        None => Bson::Null,
        Some(b) => Bson::Document(doc! {
            "segment": b.segment.display().to_string(),
            "offset": b.offset as i64,
            "lsn": b.lsn.map(|l| Bson::Int64(l.0 as i64)).unwrap_or(Bson::Null),
            "reason": &b.reason,
        }),
    };
    doc! {
        "done": true,
        "wal_ok": r.is_ok(),
        "segments": r.segments as i64,
        "records": r.records as i64,
        "bytes": r.bytes as i64,
        "first_lsn": r.first_lsn.0 as i64,
        "last_lsn": r.last_lsn.0 as i64,
        "first_bad": bad(&r.first_bad),
        "torn_tail": bad(&r.torn_tail),
    }
}
