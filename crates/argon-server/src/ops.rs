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

/// How long a query runs on a connection thread before it hands the
/// thread's other connections over (see [`long_running`]), in µs.
static INLINE_BUDGET_MICROS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(500);

/// Sets the inline budget of [`long_running`] queries for the process
/// (default 500 µs). Tests of debug builds, whose queries run many times
/// slower, raise it.
pub fn set_inline_budget(budget: std::time::Duration) {
    INLINE_BUDGET_MICROS.store(budget.as_micros() as u64, Ordering::Relaxed);
}

/// Queries handed over to another thread since the process started
/// (`serverStatus.argon.queriesHandedOver`).
static HANDED_OVER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub fn queries_handed_over() -> u64 {
    HANDED_OVER.load(Ordering::Relaxed)
}

/// Where the current thread is running a [`long_running`] query.
#[derive(Clone, Copy)]
enum Running {
    /// Not in one.
    Outside,
    /// On the connection thread, until this instant.
    Inline(Instant),
    /// Handed over (`block_in_place`): as long as it takes.
    HandedOver,
}

thread_local! {
    static RUNNING: std::cell::Cell<Running> = const { std::cell::Cell::new(Running::Outside) };
}

/// The error a query's [`check_interrupted`] returns when its inline
/// budget is spent: [`long_running`] runs it again, handed over. Never
/// reaches a client. (Recognized by its code, which wrappers such as a
/// pipeline's `$lookup` keep when they rename errors.)
fn over_budget() -> CommandError {
    CommandError::new((OVER_BUDGET, "ArgonOverInlineBudget"), "query over its inline budget")
}

/// [`over_budget`]'s code: no MongoDB code is negative.
const OVER_BUDGET: i32 = -7701;

/// Runs `f`, which may take long (a scan, a sort, a pipeline), without
/// stalling the other connections this thread serves.
///
/// On the server's multi-threaded runtime `f` first runs on the thread
/// itself: most queries end within the inline budget (500 µs,
/// [`set_inline_budget`]), and handing a thread's connections over to
/// another thread costs more than they do (tokio's `block_in_place` spawns
/// or wakes a thread each time: 25.8k indexed finds/s at 62 µs of server
/// CPU each, with hundreds of threads). A query still running when the
/// budget is spent fails its next [`check_interrupted`] and runs again
/// from the start through `block_in_place`, so the thread's other
/// connections move to another thread meanwhile. `f` must therefore be a
/// read that can be repeated (its effects come after it). On a
/// single-threaded runtime (in-process tests) `f` simply runs; nested calls
/// run inside the outer one.
pub fn long_running<R>(mut f: impl FnMut() -> CmdResult<R>) -> CmdResult<R> {
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if !multi_thread || !matches!(RUNNING.get(), Running::Outside) {
        return f();
    }
    let _outside = RestoreOnDrop;
    let budget = std::time::Duration::from_micros(INLINE_BUDGET_MICROS.load(Ordering::Relaxed));
    RUNNING.set(Running::Inline(Instant::now() + budget));
    match f() {
        Err(e) if e.code == OVER_BUDGET => {
            RUNNING.set(Running::HandedOver);
            HANDED_OVER.fetch_add(1, Ordering::Relaxed);
            tokio::task::block_in_place(f)
        }
        done => done,
    }
}

/// [`long_running`] for work that cannot be repeated (a cursor's next
/// batch advances it): always handed over.
pub fn long_running_once<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            HANDED_OVER.fetch_add(1, Ordering::Relaxed);
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// Sets the thread back to [`Running::Outside`], also on a panic.
struct RestoreOnDrop;

impl Drop for RestoreOnDrop {
    fn drop(&mut self) {
        RUNNING.set(Running::Outside);
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
    /// When `maxTimeMS` runs out (not for `getMore`, whose `maxTimeMS`
    /// is how long an awaitData cursor waits).
    pub deadline: Option<Instant>,
    killed: AtomicBool,
    wake: Notify,
}

impl RunningOp {
    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    /// Whether `maxTimeMS` has run out.
    pub fn is_expired(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Resolves when `maxTimeMS` runs out (never without one).
    pub async fn expired(&self) {
        match self.deadline {
            Some(d) => tokio::time::sleep_until(d.into()).await,
            None => std::future::pending().await,
        }
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

    /// The command without its possibly large data arguments.
    pub fn command_summary(&self) -> Document {
        self.command
            .iter()
            .filter(|(k, _)| !BULKY.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
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
            "command": self.command_summary(),
            "killPending": self.is_killed(),
        }
    }
}

/// The registry of running operations.
#[derive(Default)]
pub struct Ops {
    next_opid: AtomicI64,
    running: Mutex<HashMap<i64, Arc<RunningOp>>>,
    /// What ended operations did, per collection (`top`, `latencyStats`).
    pub(crate) usage: crate::usage::Usage,
}

/// Removes its operation from the registry when the command ends.
pub struct OpGuard<'a> {
    ops: &'a Ops,
    pub op: Arc<RunningOp>,
}

impl Drop for OpGuard<'_> {
    fn drop(&mut self) {
        self.ops.running.lock().remove(&self.op.opid);
        let op = &self.op;
        if let Some((db, coll)) = op.ns.split_once('.') {
            let command = op.command.keys().next().map_or("", String::as_str);
            let in_transaction = matches!(op.command.get("autocommit"), Some(Bson::Boolean(false)));
            self.ops.usage.record(db, coll, command, in_transaction, op.started.elapsed());
        }
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
            deadline: match name {
                "getMore" => None,
                _ => max_time(cmd).ok().flatten().map(|limit| Instant::now() + limit),
            },
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
/// it in long loops. Outside a command it never fails. Inside a
/// [`long_running`] query whose inline budget is spent, it fails so the
/// query moves off the connection thread.
pub fn check_interrupted() -> CmdResult<()> {
    if let Running::Inline(until) = RUNNING.get() {
        if Instant::now() > until {
            return Err(over_budget());
        }
    }
    match CURRENT.try_with(|op| (op.is_killed(), op.is_expired())) {
        Ok((true, _)) => Err(interrupted()),
        Ok((_, true)) => Err(time_limit_exceeded()),
        _ => Ok(()),
    }
}

/// [`check_interrupted`] for a running script (`$where`, `$function`,
/// `$accumulator`): installed with `argon_query::js::set_interrupt_check`,
/// so `killOp`, `maxTimeMS` and the inline budget stop JavaScript too.
pub fn js_interrupt() -> Option<argon_query::QueryError> {
    let e = check_interrupted().err()?;
    let code_name = match e.code {
        OVER_BUDGET => "ArgonOverInlineBudget",
        50 => "MaxTimeMSExpired",
        _ => "Interrupted",
    };
    Some(argon_query::QueryError { code: e.code, code_name, message: e.message })
}

pub fn interrupted() -> CommandError {
    CommandError::new(INTERRUPTED, "operation was interrupted")
}

/// MongoDB's code for a command that ran past its `maxTimeMS`.
pub const MAX_TIME_MS_EXPIRED: (i32, &str) = (50, "MaxTimeMSExpired");

pub fn time_limit_exceeded() -> CommandError {
    CommandError::new(MAX_TIME_MS_EXPIRED, "operation exceeded time limit")
}

/// A command's `maxTimeMS`: `None` when absent or 0 (no limit). A
/// negative, fractional or non-numeric value is an error (MongoDB's
/// messages), checked by the dispatcher before the command runs.
pub fn max_time(cmd: &Document) -> CmdResult<Option<std::time::Duration>> {
    let ms = match cmd.get("maxTimeMS") {
        None => return Ok(None),
        Some(Bson::Int32(n)) => i64::from(*n),
        Some(Bson::Int64(n)) => *n,
        Some(Bson::Double(d)) if d.fract() == 0.0 && d.is_finite() => *d as i64,
        Some(Bson::Double(d)) => {
            return Err(CommandError::bad_value(format!("maxTimeMS has non-integral value {d}")))
        }
        Some(other) => {
            return Err(CommandError::bad_value(format!(
                "maxTimeMS must be a number, not {}",
                argon_query::types::type_name(other)
            )))
        }
    };
    if !(0..=i64::from(i32::MAX)).contains(&ms) {
        return Err(CommandError::bad_value(format!(
            "{ms} value for maxTimeMS is out of range [0, 2147483647]"
        )));
    }
    Ok((ms > 0).then(|| std::time::Duration::from_millis(ms as u64)))
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
