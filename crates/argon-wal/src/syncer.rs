//! Durability state shared by the writer and the background sync thread of
//! [`SyncMode::Interval`](crate::SyncMode::Interval), and that thread.
//!
//! All fdatasyncs go through [`Shared::sync`], so there is one place that
//! advances `durable_lsn` and one place that poisons the WAL when an fsync
//! fails.

use std::fs::File;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use argon_types::Lsn;
use parking_lot::{Condvar, Mutex};

/// What the sync thread should sync: the active segment, and the last LSN
/// handed to the OS (all of it is in that file or in sealed, synced segments).
pub struct SyncTarget {
    pub file: Arc<File>,
    /// Descriptors of the same segment opened for [`crate::SyncHandle::sync_slot`],
    /// one per syncing thread (see there).
    pub slots: Arc<[File]>,
    pub written_lsn: Lsn,
}

pub struct Shared {
    durable_lsn: AtomicU64,
    poisoned: AtomicBool,
    fsyncs: AtomicU64,
    /// Wall time spent in the fdatasyncs counted by `fsyncs`, in ns.
    fsync_nanos: AtomicU64,
    target: Mutex<SyncTarget>,
    /// Where some records start, in LSN order (see [`Mark`]).
    marks: Mutex<Vec<Mark>>,
    /// Bytes of headers and records written to the segments (preallocated
    /// space not counted), as of the last group written.
    written_bytes: AtomicU64,
    stop: Mutex<bool>,
    wake: Condvar,
    /// Test seam: make the next fdatasync fail as if the disk had.
    #[cfg(test)]
    pub fail_next_sync: AtomicBool,
}

/// Where a record starts: the segment (by its first LSN) and the offset
/// of the record with LSN `lsn`. The writer leaves one every
/// [`MARK_EVERY`] bytes it writes, so that a reader can start near any
/// LSN written since the WAL was opened instead of scanning its segment
/// from the start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    pub lsn: Lsn,
    pub segment: Lsn,
    pub offset: u64,
}

/// Bytes of WAL between two marks (4 per MiB: 4,096 marks per GiB).
pub const MARK_EVERY: u64 = 256 << 10;

impl Shared {
    pub fn set_written_bytes(&self, n: u64) {
        self.written_bytes.store(n, Ordering::Release);
    }

    pub fn written_bytes(&self) -> u64 {
        self.written_bytes.load(Ordering::Acquire)
    }

    /// Records a mark (after the records it points to were written).
    pub fn add_mark(&self, mark: Mark) {
        self.marks.lock().push(mark);
    }

    /// Adds the marks of a sealed segment that has none yet (found by a
    /// reader that scanned it whole), in LSN order among the others.
    pub fn learn_marks(&self, segment: Lsn, new: &[Mark]) -> bool {
        let mut marks = self.marks.lock();
        if new.is_empty() || marks.iter().any(|m| m.segment == segment) {
            return false;
        }
        let at = marks.partition_point(|m| m.lsn < new[0].lsn);
        marks.splice(at..at, new.iter().copied());
        true
    }

    /// The marks left in the segment whose first LSN is `segment`.
    pub fn marks_of(&self, segment: Lsn) -> Vec<Mark> {
        self.marks.lock().iter().filter(|m| m.segment == segment).copied().collect()
    }

    /// The last mark at or before `lsn`.
    pub fn mark_at_or_before(&self, lsn: Lsn) -> Option<Mark> {
        let marks = self.marks.lock();
        let n = marks.partition_point(|m| m.lsn <= lsn);
        n.checked_sub(1).map(|i| marks[i])
    }

    pub fn new(target: SyncTarget, durable: Lsn) -> Shared {
        Shared {
            durable_lsn: AtomicU64::new(durable.0),
            poisoned: AtomicBool::new(false),
            fsyncs: AtomicU64::new(0),
            fsync_nanos: AtomicU64::new(0),
            target: Mutex::new(target),
            marks: Mutex::new(Vec::new()),
            written_bytes: AtomicU64::new(0),
            stop: Mutex::new(false),
            wake: Condvar::new(),
            #[cfg(test)]
            fail_next_sync: AtomicBool::new(false),
        }
    }

    pub fn durable_lsn(&self) -> Lsn {
        Lsn(self.durable_lsn.load(Ordering::Acquire))
    }

    pub fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Acquire)
    }

    pub fn poison(&self) {
        self.poisoned.store(true, Ordering::Release);
    }

    pub fn fsyncs(&self) -> u64 {
        self.fsyncs.load(Ordering::Relaxed)
    }

    /// Total time spent in fdatasync since open.
    pub fn fsync_time(&self) -> Duration {
        Duration::from_nanos(self.fsync_nanos.load(Ordering::Relaxed))
    }

    pub fn set_target(&self, target: SyncTarget) {
        *self.target.lock() = target;
    }

    /// The active segment and the last LSN written to it.
    pub fn target(&self) -> (Arc<File>, Lsn) {
        let t = self.target.lock();
        (Arc::clone(&t.file), t.written_lsn)
    }

    /// The active segment's descriptors for syncing threads, and the last
    /// LSN written to it.
    pub fn slot_target(&self) -> (Arc<[File]>, Lsn) {
        let t = self.target.lock();
        (Arc::clone(&t.slots), t.written_lsn)
    }

    /// The last LSN handed to the OS.
    pub fn written_lsn(&self) -> Lsn {
        self.target.lock().written_lsn
    }

    pub fn set_written(&self, written_lsn: Lsn) {
        self.target.lock().written_lsn = written_lsn;
    }

    /// fdatasyncs `file`, after which everything up to `upto` is durable
    /// (the caller guarantees earlier segments are already synced). A
    /// failure poisons the WAL: the kernel may have dropped the dirty pages,
    /// so a retry could report success for data that is gone.
    pub fn sync(&self, file: &File, upto: Lsn) -> std::io::Result<()> {
        #[cfg(test)]
        if self.fail_next_sync.swap(false, Ordering::AcqRel) {
            self.poison();
            return Err(std::io::Error::other("injected fdatasync failure"));
        }
        let started = std::time::Instant::now();
        match file.sync_data() {
            // Another thread's failed fdatasync poisoned the WAL while this
            // one ran: trust neither.
            Ok(()) if self.is_poisoned() => {
                Err(std::io::Error::other("the WAL was poisoned by a failed fdatasync"))
            }
            Ok(()) => {
                self.fsyncs.fetch_add(1, Ordering::Relaxed);
                self.fsync_nanos.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
                self.durable_lsn.fetch_max(upto.0, Ordering::AcqRel);
                Ok(())
            }
            Err(e) => {
                self.poison();
                Err(e)
            }
        }
    }

    /// Marks `upto` durable without a sync of its own (an fsync that covered
    /// it happened elsewhere, e.g. at open or when sealing a segment).
    pub fn mark_durable(&self, upto: Lsn) {
        self.durable_lsn.fetch_max(upto.0, Ordering::AcqRel);
    }

    pub fn count_fsync(&self) {
        self.fsyncs.fetch_add(1, Ordering::Relaxed);
    }
}

/// The background thread of `SyncMode::Interval`. Dropping it stops the
/// thread after a last sync, so a clean shutdown loses nothing.
pub struct Syncer {
    shared: Arc<Shared>,
    handle: Option<JoinHandle<()>>,
}

impl Syncer {
    pub fn spawn(shared: Arc<Shared>, every: Duration) -> std::io::Result<Syncer> {
        let s = Arc::clone(&shared);
        let handle =
            std::thread::Builder::new().name("argon-wal-sync".into()).spawn(move || run(&s, every))?;
        Ok(Syncer { shared, handle: Some(handle) })
    }
}

fn run(shared: &Shared, every: Duration) {
    loop {
        let stopping = {
            let mut stop = shared.stop.lock();
            if !*stop {
                shared.wake.wait_for(&mut stop, every);
            }
            *stop
        };
        let (file, upto) = {
            let t = shared.target.lock();
            (Arc::clone(&t.file), t.written_lsn)
        };
        if upto > shared.durable_lsn() && !shared.is_poisoned() {
            if let Err(e) = shared.sync(&file, upto) {
                // Handled here: the writer only sees `Poisoned` on its next call.
                tracing::error!("WAL background fdatasync failed, refusing further writes: {e}");
            }
        }
        if stopping {
            return;
        }
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        *self.shared.stop.lock() = true;
        self.shared.wake.notify_all();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
