//! Open cursors. A cursor reads the LSN its query started at: either it
//! holds the rest of a result computed from one snapshot, or (a find that
//! scans the collection in `_id` order) it keeps the snapshot's view and
//! where it stopped, and each getMore reopens that view and reads on, so a
//! large result is never held in memory. Idle cursors are closed after the
//! timeout unless opened with `noCursorTimeout`.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use argon_query::Projection;
use argon_store::{ReadView, Store};
use bson::Document;
use parking_lot::Mutex;

use crate::change_stream::ChangeStream;
use crate::error::CmdResult;
use crate::source::{Query, Source, Want};

/// Where a cursor's documents come from.
pub enum CursorSource {
    /// A computed result, drained batch by batch.
    Buffered(VecDeque<Document>),
    /// A collection scan resumed batch by batch.
    Scan(Box<ScanCursor>),
    /// A change stream tailing the WAL.
    ChangeStream(Box<ChangeStream>),
    /// A tailable cursor following a capped collection.
    Tail(Box<TailCursor>),
    /// A read of `local.oplog.rs` (the WAL), tailable or not.
    Oplog(Box<crate::oplog::OplogCursor>),
}

/// A tailable cursor (`find` with `tailable`, on a capped collection):
/// reads the collection in insertion order at the branch head, each
/// getMore going on after the last document it returned, so it sees
/// documents inserted since; with `awaitData` a getMore waits up to its
/// `maxTimeMS` (default 1 s) for one.
pub struct TailCursor {
    pub project: String,
    pub branch: String,
    /// `Some` on a read-only view (`app~main@1500`): nothing new ever comes.
    pub at_lsn: Option<argon_store::Lsn>,
    pub coll: String,
    pub query: Query,
    pub projection: Option<Projection>,
    /// The record key (insertion position) of the last document returned.
    pub after: Option<Vec<u8>>,
    pub await_data: bool,
    pub collation: Option<std::sync::Arc<argon_types::collation::Collation>>,
}

impl TailCursor {
    /// The next documents after the last one returned: up to `n` (and
    /// about [`BATCH_BYTES`]); empty when none came.
    pub fn next_batch(&mut self, store: &Store, n: Option<usize>) -> CmdResult<Vec<Document>> {
        let collation = self.collation.clone();
        argon_query::compare::with_collation(collation.as_ref(), || {
            let at = self.at_lsn.map(argon_store::At::Lsn).unwrap_or(argon_store::At::Head);
            let snap = store.snapshot(&self.project, &self.branch, at)?;
            // The position must still exist: if it was evicted (or deleted),
            // documents after it may have gone unread.
            if let Some(after) = &self.after {
                let mut at_position = snap.natural_scan_from(&self.coll, after)?;
                if at_position.next_raw()?.map(|(k, _)| k) != Some(after.as_slice()) {
                    return Err(crate::error::CommandError::new(
                        (136, "CappedPositionLost"),
                        format!(
                            "CollectionScan died due to position in capped collection {} being deleted",
                            self.coll
                        ),
                    ));
                }
            }
            let mut scan = snap.natural_scan_after(&self.coll, self.after.as_deref(), false)?;
            let (n, mut out, mut bytes) = (n.unwrap_or(usize::MAX), Vec::new(), 0usize);
            while out.len() < n {
                let Some((record, id_key)) = scan.next_raw()? else { break };
                let Some(doc) = snap.get_by_id_key(&self.coll, id_key)? else {
                    self.after = Some(record.to_vec());
                    continue;
                };
                if !self.query.filter.try_matches(&doc)? {
                    self.after = Some(record.to_vec());
                    continue;
                }
                let doc = match &self.projection {
                    Some(p) => p.apply(&doc, Some(&self.query.filter))?,
                    None => doc,
                };
                let size = doc_batch_cost(&doc, out.len());
                if !out.is_empty() && bytes + size > BATCH_BYTES {
                    break; // not consumed: the next batch starts with it
                }
                self.after = Some(record.to_vec());
                bytes += size;
                out.push(doc);
            }
            Ok(out)
        })
    }
}

/// A find over a collection scan in `_id` order, read a batch at a time
/// from the view it started at.
pub struct ScanCursor {
    pub view: ReadView,
    pub coll: String,
    pub query: Query,
    pub projection: Option<Projection>,
    /// Matches still to skip.
    pub skip: u64,
    /// Documents still to return (`None`: no limit).
    pub remaining: Option<u64>,
    /// The encoded `_id` of the last document consumed.
    pub after: Option<Vec<u8>>,
    pub done: bool,
    /// The query's collation, in effect again at every batch.
    pub collation: Option<std::sync::Arc<argon_types::collation::Collation>>,
}

impl ScanCursor {
    /// The next batch: up to `n` documents (and about [`BATCH_BYTES`]).
    /// Sets `done` when the scan or the limit is exhausted.
    pub fn next_batch(&mut self, store: &Store, n: Option<usize>) -> CmdResult<Vec<Document>> {
        let collation = self.collation.clone();
        argon_query::compare::with_collation(collation.as_ref(), || self.next_batch_collated(store, n))
    }

    fn next_batch_collated(&mut self, store: &Store, n: Option<usize>) -> CmdResult<Vec<Document>> {
        let n = n.unwrap_or(usize::MAX);
        let mut out = Vec::new();
        if self.done || self.remaining == Some(0) {
            self.done = true;
            return Ok(out);
        }
        if n == 0 {
            return Ok(out); // `batchSize: 0`: an empty first batch, cursor open
        }
        let snap = store.reopen(&self.view)?;
        let src = Source { snap: &snap, overlay: None };
        let mut bytes = 0usize;
        let mut stopped = false;
        let after = self.after.clone();
        src.scan_matching_after(
            &self.coll,
            after.as_deref(),
            &self.query.filter,
            Want::Whole,
            &mut |id, d| {
                if self.skip > 0 {
                    self.skip -= 1;
                    self.after = Some(id.to_vec());
                    return Ok(true);
                }
                let d = match &self.projection {
                    Some(p) => p.apply(&d, Some(&self.query.filter))?,
                    None => d,
                };
                let size = doc_batch_cost(&d, out.len());
                if !out.is_empty() && bytes + size > BATCH_BYTES {
                    stopped = true;
                    return Ok(false); // not consumed: the next batch starts with it
                }
                bytes += size;
                out.push(d);
                self.after = Some(id.to_vec());
                if let Some(r) = self.remaining.as_mut() {
                    *r -= 1;
                    if *r == 0 {
                        self.done = true;
                        stopped = true;
                        return Ok(false);
                    }
                }
                if out.len() >= n {
                    stopped = true;
                    return Ok(false);
                }
                Ok(true)
            },
        )?;
        if !stopped {
            self.done = true;
        }
        Ok(out)
    }
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

/// What a document of `doc_bytes` adds to a batch array as element
/// `index`: itself, a type byte, and its key (the index in decimal, NUL
/// ended). The keys matter: a million 14-byte documents are 14 MB of
/// documents but 23 MB of array.
pub fn batch_cost(doc_bytes: usize, index: usize) -> usize {
    let digits = index.checked_ilog10().map_or(1, |d| d as usize + 1);
    doc_bytes + 2 + digits
}

/// [`batch_cost`] of a decoded document.
pub fn doc_batch_cost(doc: &Document, index: usize) -> usize {
    batch_cost(doc.to_vec().map(|v| v.len()).unwrap_or(0), index)
}

pub struct Cursors {
    map: Mutex<HashMap<i64, Cursor>>,
    next: AtomicI64,
    /// The idle timeout in milliseconds (`cursorTimeoutMillis`, settable).
    timeout_ms: AtomicU64,
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
        Cursors {
            map: Mutex::new(HashMap::new()),
            next: AtomicI64::new(seed.max(1)),
            timeout_ms: AtomicU64::new(timeout.as_millis() as u64),
        }
    }

    /// How long a cursor may stay idle before it is closed.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.load(Ordering::Relaxed))
    }

    /// Sets the idle timeout; returns the one it replaces.
    pub fn set_timeout(&self, timeout: Duration) -> Duration {
        Duration::from_millis(self.timeout_ms.swap(timeout.as_millis() as u64, Ordering::Relaxed))
    }

    /// Registers a cursor and returns its id.
    pub fn insert(&self, cursor: Cursor) -> i64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.map.lock().insert(id, cursor);
        id
    }

    /// Takes a cursor out (for a getMore); put it back with [`Cursors::put_back`].
    /// One idle past the timeout is gone, whether or not the reaper has
    /// come by yet.
    pub fn take(&self, id: i64) -> Option<Cursor> {
        let cursor = self.map.lock().remove(&id)?;
        (cursor.no_timeout || cursor.last_used.elapsed() < self.timeout()).then_some(cursor)
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

    /// Closes every cursor opened in a session (`killAllSessions: []`).
    pub fn kill_all_sessions(&self) {
        self.map.lock().retain(|_, c| c.session.is_none());
    }

    /// Closes the cursors of a session.
    pub fn kill_session(&self, session: &[u8]) {
        self.map.lock().retain(|_, c| c.session.as_deref() != Some(session));
    }

    /// Closes idle cursors.
    pub fn reap(&self) -> usize {
        let now = Instant::now();
        let timeout = self.timeout();
        let mut map = self.map.lock();
        let before = map.len();
        map.retain(|_, c| c.no_timeout || now.duration_since(c.last_used) < timeout);
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
        let size = doc_batch_cost(d, out.len());
        if !out.is_empty() && bytes + size > BATCH_BYTES {
            break;
        }
        bytes += size;
        out.push(docs.pop_front().expect("front exists"));
    }
    out
}
