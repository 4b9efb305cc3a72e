//! The ack threads: make the commit thread's groups durable and publish
//! them, in order.
//!
//! ```text
//!  commit thread ──Done──▶ queue ◀── ack thread 1: fdatasync ─┐
//!                                ◀── ack thread 2: fdatasync ─┤ (in flight together)
//!                                                             ▼
//!                         publish every queued group at or below the durable LSN
//! ```
//!
//! Why several: this machine's disk completes concurrent fdatasyncs side by
//! side (one at a time: ~6,800/s of p50 130 µs; two at a time: ~11,000/s of
//! p50 155 µs; docs/BENCHMARKS.md). With one ack thread a group written
//! just after an fdatasync started waits for that one to end and then for
//! its own; with two, its own starts at once. An fdatasync that returns
//! makes durable everything written before it started, whichever other is
//! still running, so the durable LSN is the highest LSN any successful one
//! started with.
//!
//! Each ack thread syncs through its own file descriptor of the segment
//! ([`SyncHandle::sync_slot`]): Linux reports a writeback error once per
//! open file description, so with a shared one a thread could see success
//! for pages whose error another thread consumed.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use argon_types::Lsn;
use argon_wal::SyncHandle;
use parking_lot::{Condvar, Mutex, MutexGuard};

use crate::error::StoreError;
use crate::meta::Meta;
use crate::store::Shared;
use crate::write::CommitOutcome;
use crate::{commit::Reply, entry::Entry, Result};

/// A group applied to the index (and written to the WAL) whose callers
/// are still waiting: published once its records are durable.
pub(crate) struct Done {
    pub meta: Arc<Meta>,
    pub replies: Vec<(Reply, Result<CommitOutcome>)>,
    /// The group's entries, dropped on an ack thread (freeing documents is
    /// a measurable share of the commit thread's time otherwise).
    pub entries: Vec<Entry>,
}

impl Done {
    /// The group's last LSN (that of an earlier group when it wrote nothing).
    fn lsn(&self) -> Lsn {
        self.meta.counters.applied_lsn
    }

    /// Makes the group visible to readers, then answers its callers.
    pub fn publish(self, shared: &Shared) {
        let visible = self.meta.counters.applied_lsn;
        let time = self.meta.counters.applied_time;
        *shared.meta.write() = self.meta;
        shared.visible_lsn.store(visible.0, Ordering::SeqCst);
        shared.visible_time.store(time.0, Ordering::SeqCst);
        // Answered from here on (before the answers, so a caller that
        // commits again at once sees itself alone).
        shared.jobs_in_flight.fetch_sub(self.replies.len(), Ordering::AcqRel);
        for (reply, outcome) in self.replies {
            let _ = reply.send(outcome);
        }
        drop(self.entries);
    }

    /// Answers every caller of a group that will never be durable.
    pub fn fail(self, err: impl Fn() -> StoreError) {
        for (reply, _) in self.replies {
            let _ = reply.send(Err(err()));
        }
    }
}

/// The queue between the commit thread and the ack threads.
pub(crate) struct Acks {
    queue: Arc<Queue>,
    threads: Vec<JoinHandle<()>>,
}

struct Queue {
    state: Mutex<State>,
    wake: Condvar,
    store: Arc<Shared>,
    /// `None` when groups need no fdatasync of their own (`Interval`,
    /// `Never`): they are published as they come.
    wal: Option<SyncHandle>,
    /// Groups handed over and not yet published (read by the commit thread,
    /// which publishes a group inline only when this is 0).
    in_flight: Arc<AtomicUsize>,
}

#[derive(Default)]
struct State {
    groups: VecDeque<Done>,
    /// The highest LSN a running or finished fdatasync started with: a
    /// group above it needs another.
    sync_started: Lsn,
    /// Written to the WAL by the commit thread, possibly ahead of the
    /// groups handed over (see [`Acks::written`]).
    written: bool,
    /// A thread is publishing (outside the lock); only one at a time, so
    /// groups are published in order.
    publishing: bool,
    closed: bool,
    failed: bool,
}

impl Acks {
    /// Starts `threads` ack threads (at least one; with `wal`, each can
    /// have one fdatasync in flight).
    pub fn spawn(
        store: Arc<Shared>,
        wal: Option<SyncHandle>,
        threads: usize,
        in_flight: Arc<AtomicUsize>,
    ) -> std::io::Result<Acks> {
        let queue = Arc::new(Queue { state: Mutex::default(), wake: Condvar::new(), store, wal, in_flight });
        let mut handles = Vec::new();
        for slot in 0..threads.max(1) {
            let q = Arc::clone(&queue);
            let name = if slot == 0 { "argon-ack".to_string() } else { format!("argon-ack-{slot}") };
            handles.push(std::thread::Builder::new().name(name).spawn(move || run(&q, slot))?);
        }
        Ok(Acks { queue, threads: handles })
    }

    /// Hands a group over. `Err` gives it back when an fdatasync has failed
    /// (the store must stop writing).
    pub fn push(&self, done: Done) -> std::result::Result<(), Done> {
        let mut st = self.queue.state.lock();
        if st.failed {
            return Err(done);
        }
        // An fdatasync that started after the group's records were written
        // and has not returned: the thread running it publishes the group
        // when it does (it takes this lock first, so it finds the group
        // queued). Waking another thread for it would be a wasted wake-up,
        // ~15 µs of CPU between two vCPUs here.
        let lsn = done.lsn();
        let covered =
            self.queue.wal.as_ref().is_some_and(|wal| st.sync_started >= lsn && wal.durable_lsn() < lsn);
        self.queue.in_flight.fetch_add(1, Ordering::AcqRel);
        st.groups.push_back(done);
        drop(st);
        if !covered {
            self.queue.wake.notify_one();
        }
        Ok(())
    }

    /// Says the commit thread wrote a group's records to the WAL before
    /// handing the group over (it applies them to the index meanwhile): an
    /// idle ack thread starts their fdatasync now.
    pub fn written(&self) {
        let mut st = self.queue.state.lock();
        st.written = true;
        drop(st);
        self.queue.wake.notify_one();
    }

    /// Waits until every group handed over is published (or failed).
    pub fn close(self) {
        self.queue.state.lock().closed = true;
        self.queue.wake.notify_all();
        for t in self.threads {
            let _ = t.join();
        }
    }
}

fn run(q: &Queue, slot: usize) {
    let mut st = q.state.lock();
    loop {
        if st.failed {
            let failed: Vec<Done> = st.groups.drain(..).collect();
            q.in_flight.fetch_sub(failed.len(), Ordering::AcqRel);
            for done in failed {
                done.fail(|| StoreError::Closed);
            }
            if st.closed {
                return;
            }
            q.wake.wait(&mut st);
            continue;
        }
        if !st.publishing && publish_durable(q, &mut st) {
            continue;
        }
        if let Some(wal) = &q.wal {
            // (A group handed over is written; records said written may
            // already be covered by a running fdatasync.)
            let said_written = std::mem::take(&mut st.written);
            let unsynced = st.groups.back().is_some_and(|g| g.lsn() > st.sync_started)
                || (said_written && wal.written_lsn() > st.sync_started);
            // (Each thread runs at most one, so at most one per thread run at once.)
            if unsynced {
                st.sync_started = st.sync_started.max(wal.written_lsn());
                let synced = MutexGuard::unlocked(&mut st, || wal.sync_slot(slot));
                if let Err(e) = synced {
                    tracing::error!("WAL fdatasync failed, refusing further writes: {e}");
                    q.store.failed.store(true, Ordering::SeqCst);
                    st.failed = true;
                    let msg = e.to_string();
                    let failed: Vec<Done> = st.groups.drain(..).collect();
                    q.in_flight.fetch_sub(failed.len(), Ordering::AcqRel);
                    for done in failed {
                        done.fail(|| {
                            StoreError::Wal(argon_wal::WalError::Io(std::io::Error::other(format!(
                                "fdatasync: {msg}"
                            ))))
                        });
                    }
                    q.wake.notify_all();
                }
                continue;
            }
        }
        // (A thread still in an fdatasync finds the queue empty and stops
        // after it; `close` joins every thread.)
        if st.closed && st.groups.is_empty() {
            // Let the others see it too.
            q.wake.notify_all();
            return;
        }
        q.wake.wait(&mut st);
    }
}

/// Publishes, in order, the queued groups whose records are durable
/// (outside the lock, one thread at a time). Returns whether it published.
fn publish_durable(q: &Queue, st: &mut MutexGuard<'_, State>) -> bool {
    let durable = q.wal.as_ref().map_or(Lsn(u64::MAX), SyncHandle::durable_lsn);
    let n = st.groups.iter().take_while(|g| g.lsn() <= durable).count();
    if n == 0 {
        return false;
    }
    let ready: Vec<Done> = st.groups.drain(..n).collect();
    st.publishing = true;
    MutexGuard::unlocked(st, || {
        for done in ready {
            done.publish(&q.store);
            q.in_flight.fetch_sub(1, Ordering::AcqRel);
        }
    });
    st.publishing = false;
    true
}
