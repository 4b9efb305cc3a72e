//! Logical sessions: retryable-write de-duplication and multi-document
//! transactions.
//!
//! A transaction is bound to one branch. Its reads see one snapshot (taken at
//! its first operation) plus its own writes (the overlay); its writes are
//! collected and committed as one atomic WAL record by `commitTransaction`,
//! with conflict detection against everything committed after its snapshot.
//! Abort simply drops the collected writes: nothing reached the WAL.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use argon_store::{ReadView, WriteOp};
use bson::{Bson, Document};
use parking_lot::Mutex;

use crate::state::Target;

/// Writes made inside a transaction, visible to its own later reads:
/// (collection, encoded `_id`) → new version (`None`: deleted).
pub type Overlay = BTreeMap<(String, Vec<u8>), Option<Document>>;

/// An open transaction.
#[derive(Debug)]
pub struct Txn {
    pub number: i64,
    pub target: Option<Target>,
    pub view: Option<ReadView>,
    pub ops: Vec<WriteOp>,
    pub overlay: Overlay,
    pub state: TxnState,
    /// The reply to a successful commit, repeated if the commit is retried.
    pub commit_reply: Option<Document>,
    /// When it started: it is aborted once older than the lifetime limit.
    pub started: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnState {
    Active,
    Committed,
    Aborted,
}

impl Txn {
    pub fn new(number: i64) -> Txn {
        Txn {
            number,
            target: None,
            view: None,
            ops: vec![],
            overlay: Overlay::new(),
            state: TxnState::Active,
            commit_reply: None,
            started: Instant::now(),
        }
    }

    /// Aborts it if it is still active and older than `limit`, dropping
    /// its writes (MongoDB's `transactionLifetimeLimitSeconds`). Returns
    /// whether it did.
    pub fn expire(&mut self, now: Instant, limit: Duration) -> bool {
        if self.state != TxnState::Active || now.duration_since(self.started) <= limit {
            return false;
        }
        self.state = TxnState::Aborted;
        self.ops = vec![];
        self.overlay = Overlay::new();
        self.view = None;
        true
    }
}

#[derive(Default)]
struct SessionState {
    last_used: Option<Instant>,
    /// Replies of retryable writes by txnNumber (the newest few).
    retries: Vec<(i64, Document)>,
    txn: Option<Txn>,
}

/// All sessions, by `lsid.id` bytes.
pub struct Sessions {
    map: Mutex<HashMap<Vec<u8>, SessionState>>,
    /// `transactionLifetimeLimitSeconds` (settable; MongoDB's default 60).
    txn_lifetime_secs: AtomicU64,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions { map: Mutex::default(), txn_lifetime_secs: AtomicU64::new(60) }
    }
}

/// The bytes that identify a session.
pub fn session_key(lsid: &Document) -> Vec<u8> {
    match lsid.get("id") {
        Some(Bson::Binary(b)) => b.bytes.clone(),
        Some(other) => argon_types::keycodec::encode(other),
        None => argon_types::keycodec::encode(&Bson::Document(lsid.clone())),
    }
}

const RETRIES_KEPT: usize = 16;
pub const SESSION_IDLE: Duration = Duration::from_secs(30 * 60);

impl Sessions {
    /// The stored reply of a retryable write already executed.
    pub fn retried_reply(&self, key: &[u8], txn_number: i64) -> Option<Document> {
        let map = self.map.lock();
        map.get(key)?.retries.iter().find(|(n, _)| *n == txn_number).map(|(_, d)| d.clone())
    }

    /// Remembers the reply of a retryable write.
    pub fn store_reply(&self, key: &[u8], txn_number: i64, reply: Document) {
        let mut map = self.map.lock();
        let s = map.entry(key.to_vec()).or_default();
        s.last_used = Some(Instant::now());
        s.retries.retain(|(n, _)| *n != txn_number);
        s.retries.push((txn_number, reply));
        if s.retries.len() > RETRIES_KEPT {
            s.retries.remove(0);
        }
    }

    /// Takes the session's transaction out for the duration of a command
    /// (aborted first if it outlived the lifetime limit).
    pub fn take_txn(&self, key: &[u8]) -> Option<Txn> {
        let limit = self.txn_lifetime();
        let mut map = self.map.lock();
        let s = map.entry(key.to_vec()).or_default();
        let now = Instant::now();
        s.last_used = Some(now);
        let mut txn = s.txn.take();
        if let Some(t) = txn.as_mut() {
            t.expire(now, limit);
        }
        txn
    }

    /// How long a transaction may run before it is aborted.
    pub fn txn_lifetime(&self) -> Duration {
        Duration::from_secs(self.txn_lifetime_secs.load(Ordering::Relaxed))
    }

    /// Sets the transaction lifetime limit; returns the one it replaces.
    pub fn set_txn_lifetime(&self, limit: Duration) -> Duration {
        Duration::from_secs(self.txn_lifetime_secs.swap(limit.as_secs(), Ordering::Relaxed))
    }

    /// Puts a transaction back after a command.
    pub fn put_txn(&self, key: &[u8], txn: Txn) {
        let mut map = self.map.lock();
        map.entry(key.to_vec()).or_default().txn = Some(txn);
    }

    /// Ends every session (`killAllSessions: []`).
    pub fn end_all(&self) {
        self.map.lock().clear();
    }

    /// Marks a session used now (`refreshSessions`), so it is not reaped.
    pub fn touch(&self, key: &[u8]) {
        self.map.lock().entry(key.to_vec()).or_default().last_used = Some(Instant::now());
    }

    /// Ends sessions (endSessions / killSessions): their transactions abort.
    pub fn end(&self, key: &[u8]) {
        self.map.lock().remove(key);
    }

    /// Drops sessions idle for longer than the logical session timeout,
    /// and aborts transactions older than the lifetime limit (an abandoned
    /// transaction's writes are not kept in memory for long). Returns the
    /// transactions aborted.
    pub fn reap(&self) -> usize {
        let now = Instant::now();
        let limit = self.txn_lifetime();
        let mut map = self.map.lock();
        map.retain(|_, s| s.last_used.is_some_and(|t| now.duration_since(t) < SESSION_IDLE));
        map.values_mut()
            .filter_map(|s| s.txn.as_mut())
            .map(|t| t.expire(now, limit))
            .filter(|aborted| *aborted)
            .count()
    }

    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transactions_older_than_the_limit_are_aborted_by_the_reaper_and_on_use() {
        let sessions = Sessions::default();
        assert_eq!(sessions.set_txn_lifetime(Duration::from_secs(1)), Duration::from_secs(60));
        let old = |n| {
            let mut t = Txn::new(n);
            t.started = Instant::now().checked_sub(Duration::from_secs(2)).unwrap();
            t.ops.push(WriteOp::Read { coll: "c".into(), id: Bson::Int32(1) });
            t
        };
        // As a command does: take (nothing yet), then put back.
        for key in [b"a", b"b", b"c"] {
            assert!(sessions.take_txn(key).is_none());
        }
        sessions.put_txn(b"a", old(1));
        sessions.put_txn(b"b", Txn::new(1));
        assert_eq!(sessions.reap(), 1, "only the old one");
        let a = sessions.take_txn(b"a").unwrap();
        assert_eq!(a.state, TxnState::Aborted);
        assert!(a.ops.is_empty(), "its writes are dropped");
        assert_eq!(sessions.take_txn(b"b").unwrap().state, TxnState::Active);
        // Taken for a command before the reaper came by: aborted then.
        sessions.put_txn(b"c", old(2));
        assert_eq!(sessions.take_txn(b"c").unwrap().state, TxnState::Aborted);
    }
}
