//! Open cursors. A cursor holds the rest of its result, computed from one
//! snapshot, so every batch reads the LSN the query started at. Idle cursors
//! are closed after the timeout unless opened with `noCursorTimeout`.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use bson::Document;
use parking_lot::Mutex;

use crate::change_stream::ChangeStream;

/// Where a cursor's documents come from.
pub enum CursorSource {
    /// A computed result, drained batch by batch.
    Buffered(VecDeque<Document>),
    /// A change stream tailing the WAL.
    ChangeStream(Box<ChangeStream>),
}

pub struct Cursor {
    /// `db.collection`, checked on getMore.
    pub ns: String,
    pub source: CursorSource,
    pub last_used: Instant,
    pub no_timeout: bool,
    /// Session the cursor belongs to (killed with it).
    pub session: Option<Vec<u8>>,
}

/// Replies larger than this end a batch early (MongoDB's 16 MB rule).
pub const BATCH_BYTES: usize = 16 * 1024 * 1024;

pub struct Cursors {
    map: Mutex<HashMap<i64, Cursor>>,
    next: AtomicI64,
    timeout: Duration,
}

impl Cursors {
    pub fn new(timeout: Duration) -> Cursors {
        // Start from a time-derived value so ids are not reused across restarts.
        let seed = (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as i64
            & 0x0000_ffff_ffff)
            << 16;
        Cursors { map: Mutex::new(HashMap::new()), next: AtomicI64::new(seed.max(1)), timeout }
    }

    /// Registers a cursor and returns its id.
    pub fn insert(&self, cursor: Cursor) -> i64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.map.lock().insert(id, cursor);
        id
    }

    /// Takes a cursor out (for a getMore); put it back with [`Cursors::put_back`].
    pub fn take(&self, id: i64) -> Option<Cursor> {
        self.map.lock().remove(&id)
    }

    pub fn put_back(&self, id: i64, mut cursor: Cursor) {
        cursor.last_used = Instant::now();
        self.map.lock().insert(id, cursor);
    }

    /// Kills cursors of namespace `ns` (`db.collection`, or a command
    /// namespace of `db`); returns (killed, not found). A cursor of another
    /// namespace counts as not found, so one project cannot kill another's.
    pub fn kill(&self, ns: &str, ids: &[i64]) -> (Vec<i64>, Vec<i64>) {
        let mut map = self.map.lock();
        let db = ns.split_once('.').map(|(d, _)| d).unwrap_or(ns);
        ids.iter().partition(|id| {
            let owned = map.get(id).is_some_and(|c| c.ns == ns || c.ns.starts_with(&format!("{db}.$cmd")));
            owned && map.remove(id).is_some()
        })
    }

    /// Closes the cursors of a session.
    pub fn kill_session(&self, session: &[u8]) {
        self.map.lock().retain(|_, c| c.session.as_deref() != Some(session));
    }

    /// Closes idle cursors.
    pub fn reap(&self) -> usize {
        let now = Instant::now();
        let mut map = self.map.lock();
        let before = map.len();
        map.retain(|_, c| c.no_timeout || now.duration_since(c.last_used) < self.timeout);
        before - map.len()
    }

    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Takes up to `n` documents (and at most [`BATCH_BYTES`]) from a buffer.
pub fn take_batch(docs: &mut VecDeque<Document>, n: Option<usize>) -> Vec<Document> {
    let n = n.unwrap_or(usize::MAX);
    let mut out = Vec::new();
    let mut bytes = 0usize;
    while out.len() < n {
        let Some(d) = docs.front() else { break };
        let size = d.to_vec().map(|v| v.len()).unwrap_or(0);
        if !out.is_empty() && bytes + size > BATCH_BYTES {
            break;
        }
        bytes += size;
        out.push(docs.pop_front().expect("front exists"));
    }
    out
}
