//! Logical sessions: retryable-write de-duplication and multi-document
//! transactions.
//!
//! A transaction is bound to one branch. Its reads see one snapshot (taken at
//! its first operation) plus its own writes (the overlay); its writes are
//! collected and committed as one atomic WAL record by `commitTransaction`,
//! with conflict detection against everything committed after its snapshot.
//! Abort simply drops the collected writes: nothing reached the WAL.

use std::collections::{BTreeMap, HashMap};
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
        }
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
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<Vec<u8>, SessionState>>,
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
const SESSION_IDLE: Duration = Duration::from_secs(30 * 60);

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

    /// Takes the session's transaction out for the duration of a command.
    pub fn take_txn(&self, key: &[u8]) -> Option<Txn> {
        let mut map = self.map.lock();
        let s = map.entry(key.to_vec()).or_default();
        s.last_used = Some(Instant::now());
        s.txn.take()
    }

    /// Puts a transaction back after a command.
    pub fn put_txn(&self, key: &[u8], txn: Txn) {
        let mut map = self.map.lock();
        map.entry(key.to_vec()).or_default().txn = Some(txn);
    }

    /// Ends sessions (endSessions / killSessions): their transactions abort.
    pub fn end(&self, key: &[u8]) {
        self.map.lock().remove(key);
    }

    /// Drops sessions idle for longer than the logical session timeout.
    pub fn reap(&self) {
        let now = Instant::now();
        self.map.lock().retain(|_, s| s.last_used.is_some_and(|t| now.duration_since(t) < SESSION_IDLE));
    }

    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
