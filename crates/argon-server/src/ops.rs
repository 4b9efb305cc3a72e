//! Operations in progress: what `currentOp` lists and `killOp` interrupts.
//!
//! Every command registers itself for as long as it runs. A kill sets the
//! operation's flag and wakes it: a command waiting at an `.await` (a
//! commit, a change stream's await) ends at once with 11601 Interrupted;
//! long loops (scans, batches) call [`check_interrupted`] between documents.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bson::{doc, Bson, Document};
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::error::{CmdResult, CommandError};

/// Runs `f`, which may take long (a scan, a sort, a pipeline), without
/// stalling the other connections this thread serves: on the server's
/// multi-threaded runtime, the thread's queued work moves to another
/// thread while `f` runs (`block_in_place`; when `f` is short, the thread
/// takes it back before anyone else does). On a single-threaded runtime
/// (in-process tests) `f` simply runs.
pub fn long_running<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// MongoDB's code for an operation ended by killOp.
pub const INTERRUPTED: (i32, &str) = (11601, "Interrupted");

/// One running command.
pub struct RunningOp {
    pub opid: i64,
    pub connection_id: i64,
    pub client: String,
    pub ns: String,
    /// MongoDB's `op` field: "command", "query", "insert", "getmore", ...
    pub op: &'static str,
    /// The command as received (shared with the running handler, not
    /// copied: registering runs on every request). `currentOp` shows it
    /// without its possibly large data arguments.
    pub command: Arc<Document>,
    pub started: Instant,
    killed: AtomicBool,
    wake: Notify,
}

impl RunningOp {
    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    /// Resolves when the operation is killed.
    pub async fn killed(&self) {
        loop {
            // Register for the wake-up before checking, so none is missed.
            let notified = self.wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_killed() {
                return;
            }
            notified.await;
        }
    }

    fn to_document(&self) -> Document {
        let micros = self.started.elapsed().as_micros() as i64;
        doc! {
            "type": "op",
            "host": "",
            "desc": format!("conn{}", self.connection_id),
            "connectionId": self.connection_id,
            "client": self.client.clone(),
            "opid": self.opid,
            "active": true,
            "secs_running": micros / 1_000_000,
            "microsecs_running": micros,
            "op": self.op,
            "ns": self.ns.clone(),
            "command": self
                .command
                .iter()
                .filter(|(k, _)| !BULKY.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<Document>(),
            "killPending": self.is_killed(),
        }
    }
}

/// The registry of running operations.
#[derive(Default)]
pub struct Ops {
    next_opid: AtomicI64,
    running: Mutex<HashMap<i64, Arc<RunningOp>>>,
}

/// Removes its operation from the registry when the command ends.
pub struct OpGuard<'a> {
    ops: &'a Ops,
    pub op: Arc<RunningOp>,
}

impl Drop for OpGuard<'_> {
    fn drop(&mut self) {
        self.ops.running.lock().remove(&self.op.opid);
    }
}

/// Arguments left out of `currentOp`'s copy of a command (bulk data).
const BULKY: &[&str] = &["documents", "updates", "deletes", "pipeline", "$clusterTime", "lsid"];

impl Ops {
    /// Registers a command that starts running now.
    pub fn begin(
        &self,
        connection_id: i64,
        client: &str,
        name: &str,
        db: &str,
        cmd: &Arc<Document>,
    ) -> OpGuard<'_> {
        let opid = self.next_opid.fetch_add(1, Ordering::Relaxed) + 1;
        // getMore names its collection in `collection`; others in their first field.
        let coll_field = if name == "getMore" { "collection" } else { name };
        let coll = cmd.get(coll_field).and_then(Bson::as_str).unwrap_or("$cmd");
        let op = match name {
            "find" => "query",
            "insert" => "insert",
            "update" => "update",
            "delete" => "remove",
            "getMore" => "getmore",
            _ => "command",
        };
        let op = Arc::new(RunningOp {
            opid,
            connection_id,
            client: client.to_string(),
            ns: format!("{db}.{coll}"),
            op,
            command: Arc::clone(cmd),
            started: Instant::now(),
            killed: AtomicBool::new(false),
            wake: Notify::new(),
        });
        self.running.lock().insert(opid, op.clone());
        OpGuard { ops: self, op }
    }

    /// Every running operation, oldest first, as `currentOp` shows it.
    pub fn list(&self) -> Vec<Document> {
        let mut ops: Vec<Arc<RunningOp>> = self.running.lock().values().cloned().collect();
        ops.sort_by_key(|o| o.opid);
        ops.iter().map(|o| o.to_document()).collect()
    }

    /// Marks an operation killed and wakes it. False if it is not running.
    pub fn kill(&self, opid: i64) -> bool {
        let Some(op) = self.running.lock().get(&opid).cloned() else { return false };
        op.killed.store(true, Ordering::Release);
        op.wake.notify_waiters();
        true
    }
}

tokio::task_local! {
    /// The operation the current task is running (set by the dispatcher).
    static CURRENT: Arc<RunningOp>;
}

/// Runs `fut` as `op`, so [`check_interrupted`] inside it sees `op`.
pub async fn scope<F: std::future::Future>(op: Arc<RunningOp>, fut: F) -> F::Output {
    CURRENT.scope(op, fut).await
}

/// Fails with 11601 Interrupted if the running operation was killed; call
/// it in long loops. Outside a command it never fails.
pub fn check_interrupted() -> CmdResult<()> {
    match CURRENT.try_with(|op| op.is_killed()) {
        Ok(true) => Err(interrupted()),
        _ => Ok(()),
    }
}

pub fn interrupted() -> CommandError {
    CommandError::new(INTERRUPTED, "operation was interrupted")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_killed_operation_fails_its_next_check_and_leaves_the_registry() {
        let ops = Ops::default();
        let guard = ops.begin(
            7,
            "127.0.0.1:1",
            "aggregate",
            "app",
            &Arc::new(doc! {"aggregate": "c", "pipeline": []}),
        );
        let op = guard.op.clone();
        assert_eq!(ops.list().len(), 1);
        assert_eq!(ops.list()[0].get_str("ns").unwrap(), "app.c");
        assert!(ops.list()[0].get_document("command").unwrap().get("pipeline").is_none());
        // A long loop checks between items; outside a command nothing fails.
        assert!(check_interrupted().is_ok());
        let looped = scope(op.clone(), async {
            let mut n = 0u64;
            loop {
                if let Err(e) = check_interrupted() {
                    return (n, e);
                }
                n += 1;
                if n == 1000 {
                    assert!(ops.kill(op.opid));
                }
                tokio::task::yield_now().await;
            }
        })
        .await;
        assert_eq!(looped.0, 1000, "stopped at the first check after the kill");
        assert_eq!(looped.1.code, INTERRUPTED.0);
        assert!(ops.list()[0].get_bool("killPending").unwrap());
        drop(guard);
        assert!(ops.list().is_empty());
        assert!(!ops.kill(op.opid), "a finished operation cannot be killed");
    }
}
