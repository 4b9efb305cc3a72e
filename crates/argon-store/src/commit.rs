//! The commit thread: the single writer of the WAL and the index. The ack
//! threads (`ack.rs`) make its groups durable and visible.
//!
//! ```text
//!  callers ──jobs──▶ [commit thread] ── validate against head (index + this batch)
//!                        │              append records to the WAL buffer
//!                        │              apply them to one LMDB write txn
//!                        ▼
//!                    WAL write (one write call for the whole batch)
//!                    LMDB commit (no fsync; it records the LSN it covers)
//!                        │ Done ──▶ [ack threads] fdatasyncs (Always: group commit; up to
//!                        ▼                          one in flight per ack thread), then publish
//!                    next batch                     metadata and the visible LSN; wake callers
//! ```
//!
//! The fdatasync of one group overlaps the work on the next. A lone small
//! group with nothing in flight is synced and published inline instead.
//! Concurrent writers are serialised here; validation sees every earlier
//! commit, so duplicate keys and write conflicts are decided exactly. A
//! failed WAL write or fsync stops the thread: the store refuses further
//! writes until reopened (never retry an fsync).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;

use argon_types::names::{check_branch, check_collection, check_project, MAIN_BRANCH};
use argon_types::{keycodec, CommitTime, Lsn, TimelineId};
use argon_wal::{SyncMode, Wal};
use bson::{doc, Bson, Document, RawDocumentBuf};
use heed::RwTxn;
use tokio::sync::oneshot;

use crate::ack::{Acks, Done};
use crate::entry::{Commit, DocOpKind, Entry, Op};
use crate::error::{Result, StoreError};
use crate::meta::{Catalog, Chain, CollectionMeta, Meta};
use crate::secondary::IndexDef;
use crate::snapshot::scan_chain;
use crate::store::{At, Shared};
use crate::write::{Check, CommitOutcome, OpEffect, WriteMode, WriteOp, WriteRequest};

/// Work for the commit thread.
pub(crate) enum Job {
    Write(WriteRequest),
    CreateProject {
        project: String,
        actor: String,
    },
    DropProject {
        project: String,
        actor: String,
    },
    CreateBranch {
        project: String,
        branch: String,
        from: String,
        at: At,
        expires_at: Option<CommitTime>,
        actor: String,
    },
    DeleteBranch {
        project: String,
        branch: String,
        actor: String,
    },
    ResetBranch {
        project: String,
        branch: String,
        at: At,
        backup: Option<String>,
        actor: String,
    },
    ProtectBranch {
        project: String,
        branch: String,
        protected: bool,
        actor: String,
    },
    /// Make everything durable (fsync WAL, sync index): checkpoints and shutdown.
    Sync,
}

pub(crate) type Reply = oneshot::Sender<Result<CommitOutcome>>;

/// Most jobs taken into one group commit.
const MAX_BATCH: usize = 4096;

/// How long a thread polls before going to sleep when it expects work or
/// an answer soon (the commit thread after a group, a caller waiting for
/// its commit). Waking a sleeping thread costs tens of microseconds on an
/// idle VM, more than a lone commit without fdatasync takes.
pub(crate) const SPIN: std::time::Duration = std::time::Duration::from_micros(50);

/// What the commit thread does next. (Returned once per job and moved
/// straight into the batch: boxing the job would cost an allocation.)
#[allow(clippy::large_enum_variant)]
enum Next {
    Job((Job, Reply)),
    /// Nothing arrived for [`IDLE`]: time for background copying.
    Idle,
    Closed,
}

/// How long the commit thread waits for a job before it copies a
/// materialization's versions instead (when one is under way).
const IDLE: std::time::Duration = std::time::Duration::from_millis(1);

/// The next job: polls for [`SPIN`] before blocking when `spin` (a lone
/// writer: polling saves its wake-up; with many, sleeping lets a group form).
/// With `idle_work`, gives up after [`IDLE`].
fn next_job(rx: &Receiver<(Job, Reply)>, spin: bool, idle_work: bool) -> Next {
    let spin_until = std::time::Instant::now() + if spin { SPIN } else { std::time::Duration::ZERO };
    loop {
        match rx.try_recv() {
            Ok(j) => return Next::Job(j),
            Err(TryRecvError::Disconnected) => return Next::Closed,
            Err(TryRecvError::Empty) if std::time::Instant::now() < spin_until => std::hint::spin_loop(),
            Err(TryRecvError::Empty) if idle_work => {
                return match rx.recv_timeout(IDLE) {
                    Ok(j) => Next::Job(j),
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Next::Idle,
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Next::Closed,
                }
            }
            Err(TryRecvError::Empty) => return rx.recv().map_or(Next::Closed, Next::Job),
        }
    }
}

pub(crate) fn run(shared: Arc<Shared>, mut wal: Wal, rx: Receiver<(Job, Reply)>) {
    // Groups are published and their callers woken on the ack thread, so
    // this thread can prepare and apply the next group meanwhile. With
    // `Always` the ack thread also runs the group's fdatasync (pipelined
    // group commit: one fdatasync overlaps the next group's work).
    let always = wal.options().sync == SyncMode::Always;
    // Groups handed to the ack thread and not yet published: a group is
    // only published inline when none is in flight, so order is kept.
    let in_flight = Arc::new(AtomicUsize::new(0));
    // Under `Always` each ack thread can have one fdatasync in flight.
    let ack_threads = if always { wal.options().sync_threads.max(1) } else { 1 };
    let ack = match Acks::spawn(
        Arc::clone(&shared),
        always.then(|| wal.sync_handle()),
        ack_threads,
        Arc::clone(&in_flight),
    ) {
        Ok(acks) => Some(acks),
        Err(e) => {
            tracing::warn!("no ack thread ({e}): groups are synced and published on the commit thread");
            None
        }
    };
    // The newest applied metadata, possibly ahead of the published one
    // while its group waits for its fdatasync.
    let mut head: Arc<Meta> = shared.meta.read().clone();
    let mut batch: Vec<(Job, Reply)> = Vec::new();
    let mut last_batch = 0usize;
    loop {
        // Poll for the next job only in a lone writer's rhythm.
        let lone = last_batch <= 1 && shared.jobs_in_flight.load(Ordering::Acquire) <= 1;
        // Copying in the background only publishes inline, so only when no
        // group waits for its fdatasync (that would publish it early).
        let idle_work = !head.materializing.is_empty() && in_flight.load(Ordering::Acquire) == 0;
        match next_job(&rx, lone, idle_work) {
            Next::Job(j) => batch.push(j),
            Next::Idle => {
                if in_flight.load(Ordering::Acquire) == 0 {
                    match idle_copy(&shared, &mut head) {
                        Ok(done) => done.publish(&shared),
                        Err(e) => {
                            tracing::error!("commit thread stopping: {e}");
                            shared.failed.store(true, Ordering::SeqCst);
                            break;
                        }
                    }
                }
                continue;
            }
            Next::Closed => break, // every sender dropped: the store is closing
        }
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => break,
            }
        }
        // A lone small group with nothing in flight is synced and published
        // inline: no thread hop, and nothing to overlap with anyway.
        // ("Lone": no other caller is waiting for a commit either, or it
        // would wait behind this group's fdatasync instead of overlapping it.)
        let inline = ack.is_none()
            || (batch.len() <= 2
                && in_flight.load(Ordering::Acquire) == 0
                && shared.jobs_in_flight.load(Ordering::Acquire) <= batch.len());
        let pipelined = always && !inline;
        last_batch = batch.len();
        let written = || {
            if let Some(acks) = &ack {
                acks.written();
            }
        };
        match group_commit(&shared, &mut wal, &mut head, &mut batch, pipelined, &written) {
            Ok(done) => match &ack {
                Some(_) if inline => done.publish(&shared),
                Some(acks) => {
                    if let Err(unsent) = acks.push(done) {
                        // An fdatasync failed.
                        unsent.fail(|| StoreError::Closed);
                        shared.failed.store(true, Ordering::SeqCst);
                        break;
                    }
                }
                None => done.publish(&shared),
            },
            Err(e) => {
                tracing::error!("commit thread stopping: {e}");
                shared.failed.store(true, Ordering::SeqCst);
                for (_, reply) in batch.drain(..) {
                    let _ = reply.send(Err(StoreError::Closed));
                }
                break;
            }
        }
    }
    // Let the ack threads finish what they hold before the last sync.
    if let Some(acks) = ack {
        acks.close();
    }
    // Closing (or failed): make what was written durable, then say so.
    let _ = wal.sync();
    if shared.index.env.force_sync().is_ok() && !shared.failed.load(Ordering::SeqCst) {
        let _ = crate::session_marker::close(&shared.dir.join("index"));
    }
    shared.closed.store(true, Ordering::SeqCst);
    // Fail anything still queued.
    while let Ok((_, reply)) = rx.try_recv() {
        let _ = reply.send(Err(StoreError::Closed));
    }
}

/// A group with no jobs: copies a materialization's versions while the
/// store is idle.
fn idle_copy(shared: &Shared, head: &mut Arc<Meta>) -> Result<Done> {
    let mut meta: Meta = (**head).clone();
    let mut w = shared.index.env.write_txn()?;
    crate::materialize::step(&shared.index, &mut w, &mut meta, 32 * shared.materialize_batch)?;
    shared.index.put_meta(&mut w, &mut meta)?;
    w.commit()?;
    *head = Arc::new(meta);
    Ok(Done { meta: Arc::clone(head), replies: vec![], entries: vec![] })
}

/// One group commit: validates and applies `batch` to one LMDB write
/// transaction and writes its WAL records. Without `pipelined` the records
/// are also synced per the WAL's mode; with it, the returned [`Done`] waits
/// for the ack thread's fdatasync, which may start as soon as the records
/// are written (`written` is called then). `Err` only for failures that
/// must stop the writer.
///
/// With `pipelined`, requests that only write documents of plain
/// collections ([`defers`]) are applied to the index after the WAL write,
/// not one by one: their fdatasync then runs while the index is updated.
/// Later requests of the group see their documents through [`GroupDocs`];
/// any other request first applies what is pending, so it sees the index
/// as it would be.
fn group_commit(
    shared: &Shared,
    wal: &mut Wal,
    head: &mut Arc<Meta>,
    batch: &mut Vec<(Job, Reply)>,
    pipelined: bool,
    written: &dyn Fn(),
) -> Result<Done> {
    let mut meta: Meta = (**head).clone();
    let mut w = shared.index.env.write_txn()?;
    let mut outcomes: Vec<Result<CommitOutcome>> = Vec::with_capacity(batch.len());
    let mut sync_requested = false;
    let mut wrote = false;
    let mut applied: Vec<Entry> = Vec::new();
    let mut unapplied = Unapplied::default();
    let mut payload = Vec::with_capacity(1024);
    let mut ops_written = 0usize;
    // Commit times never go back, even when the clock does.
    let mut last_time = meta.counters.applied_time;

    for (job, _) in batch.iter_mut() {
        if matches!(job, Job::Sync) {
            sync_requested = true;
            outcomes.push(Ok(CommitOutcome { lsn: None, time: last_time, results: vec![] }));
            continue;
        }
        // (Only worth it when an fdatasync can run meanwhile.)
        let defer = pipelined && matches!(job, Job::Write(req) if defers(shared, &meta, req));
        if !defer {
            unapplied.apply(shared, &mut w, &mut meta, &applied)?;
        }
        let group = GroupDocs { unapplied: &unapplied, entries: &applied };
        let prepared = prepare(shared, &meta, &w, &group, job);
        let outcome = match prepared {
            Ok((entries, results)) => {
                let mut last = None;
                for entry in entries {
                    last_time = CommitTime::now().max(last_time);
                    payload.clear();
                    entry.encode_into(&mut payload)?;
                    let lsn = wal.append(last_time, &payload)?;
                    if defer {
                        unapplied.record(&entry, applied.len(), lsn, last_time);
                    } else {
                        shared.index.apply(&mut w, &mut meta, &entry, lsn, last_time)?;
                    }
                    if let Entry::Commit(c) = &entry {
                        ops_written += c.ops.len();
                    }
                    applied.push(entry);
                    last = Some(lsn);
                    wrote = true;
                }
                Ok(CommitOutcome { lsn: last, time: last_time, results })
            }
            Err(e) => Err(e),
        };
        outcomes.push(outcome);
    }

    if sync_requested {
        wal.sync()?;
    } else if wrote {
        if pipelined {
            wal.write()?;
            // The group's records can be synced from now on, while they
            // are applied to the index below.
            written();
        } else {
            wal.commit()?;
        }
    }
    unapplied.apply(shared, &mut w, &mut meta, &applied)?;
    if !meta.materializing.is_empty() {
        // Copy faster than superseded versions arrive, so a copy finishes
        // before the next one is due even under a steady write load.
        let budget = 2 * ops_written + shared.materialize_batch;
        crate::materialize::step(&shared.index, &mut w, &mut meta, budget)?;
    }
    shared.index.put_meta(&mut w, &mut meta)?;
    w.commit()?;
    if sync_requested {
        shared.index.env.force_sync()?;
    }
    shared.stats.commits.fetch_add(batch.len() as u64, Ordering::Relaxed);
    shared.stats.groups.fetch_add(1, Ordering::Relaxed);
    *head = Arc::new(meta);
    let replies = batch.drain(..).map(|(_, reply)| reply).zip(outcomes).collect();
    Ok(Done { meta: Arc::clone(head), replies, entries: applied })
}

/// Validates a job against the head state and turns it into WAL entries.
/// Nothing is changed here: the entries are applied by [`Index::apply`].
fn prepare(
    shared: &Shared,
    meta: &Meta,
    w: &RwTxn,
    group: &GroupDocs,
    job: &mut Job,
) -> Result<(Vec<Entry>, Vec<Result<OpEffect>>)> {
    let mut next_timeline = meta.counters.next_timeline.max(1);
    let mut alloc_timeline = || {
        let t = TimelineId(next_timeline);
        next_timeline += 1;
        t
    };
    let head = meta.counters.applied_lsn;
    if !matches!(job, Job::Write(_) | Job::Sync) {
        // Branches and projects change: capped sizes are counted again.
        shared.capped_sizes.lock().clear();
    }
    match job {
        Job::Write(req) => prepare_write(shared, meta, w, group, req),
        Job::CreateProject { project, actor } => {
            check_project(project)?;
            if meta.project(project).is_some() {
                return Err(StoreError::ProjectExists(project.clone()));
            }
            let e = Entry::CreateProject {
                project: project.clone(),
                main_timeline: alloc_timeline(),
                actor: actor.clone(),
            };
            Ok((vec![e], vec![]))
        }
        Job::DropProject { project, actor } => {
            let p = meta.project(project).ok_or_else(|| StoreError::ProjectNotFound(project.clone()))?;
            if let Some(b) = p.branches.values().find(|b| b.protected) {
                return Err(StoreError::BranchProtected {
                    project: project.clone(),
                    branch: b.name.clone(),
                    action: "drop the project of",
                });
            }
            Ok((vec![Entry::DropProject { project: project.clone(), actor: actor.clone() }], vec![]))
        }
        Job::CreateBranch { project, branch, from, at, expires_at, actor } => {
            check_branch(branch)?;
            let p = meta.project(project).ok_or_else(|| StoreError::ProjectNotFound(project.clone()))?;
            if p.branches.contains_key(branch.as_str()) {
                return Err(StoreError::BranchExists { project: project.clone(), branch: branch.clone() });
            }
            let parent = meta.branch(project, from).ok_or_else(|| StoreError::BranchNotFound {
                project: project.clone(),
                branch: from.clone(),
            })?;
            let fork_lsn = resolve_at(shared, w, at, head)?;
            Ok((
                vec![Entry::CreateBranch {
                    project: project.clone(),
                    branch: branch.clone(),
                    parent: from.clone(),
                    timeline: alloc_timeline(),
                    ancestor: parent.timeline,
                    fork_lsn,
                    expires_at_ms: expires_at.map(|t| t.as_millis()),
                    actor: actor.clone(),
                }],
                vec![],
            ))
        }
        Job::DeleteBranch { project, branch, actor } => {
            let p = meta.project(project).ok_or_else(|| StoreError::ProjectNotFound(project.clone()))?;
            let b = p.branches.get(branch.as_str()).ok_or_else(|| StoreError::BranchNotFound {
                project: project.clone(),
                branch: branch.clone(),
            })?;
            let refuse = |reason: String| StoreError::BranchDeleteRefused {
                project: project.clone(),
                branch: branch.clone(),
                reason,
            };
            if branch == MAIN_BRANCH {
                return Err(refuse("main cannot be deleted (drop the project instead)".into()));
            }
            if b.protected {
                return Err(refuse("it is protected; unprotect it first".into()));
            }
            let children: Vec<&str> = p
                .branches
                .values()
                .filter(|c| c.parent.as_deref() == Some(branch.as_str()))
                .map(|c| c.name.as_str())
                .collect();
            if !children.is_empty() {
                return Err(refuse(format!("it has child branches: {}", children.join(", "))));
            }
            Ok((
                vec![Entry::DeleteBranch {
                    project: project.clone(),
                    branch: branch.clone(),
                    actor: actor.clone(),
                }],
                vec![],
            ))
        }
        Job::ResetBranch { project, branch, at, backup, actor } => {
            let p = meta.project(project).ok_or_else(|| StoreError::ProjectNotFound(project.clone()))?;
            let b = p.branches.get(branch.as_str()).ok_or_else(|| StoreError::BranchNotFound {
                project: project.clone(),
                branch: branch.clone(),
            })?;
            if b.protected {
                return Err(StoreError::BranchProtected {
                    project: project.clone(),
                    branch: branch.clone(),
                    action: "reset",
                });
            }
            let to_lsn = resolve_at(shared, w, at, head)?;
            let mut entries = Vec::new();
            if let Some(name) = backup {
                check_branch(name)?;
                if p.branches.contains_key(name.as_str()) {
                    return Err(StoreError::BranchExists { project: project.clone(), branch: name.clone() });
                }
                entries.push(Entry::CreateBranch {
                    project: project.clone(),
                    branch: name.clone(),
                    parent: branch.clone(),
                    timeline: alloc_timeline(),
                    ancestor: b.timeline,
                    fork_lsn: head,
                    expires_at_ms: None,
                    actor: actor.clone(),
                });
            }
            entries.push(Entry::ResetBranch {
                project: project.clone(),
                branch: branch.clone(),
                timeline: alloc_timeline(),
                ancestor: b.timeline,
                to_lsn,
                actor: actor.clone(),
            });
            Ok((entries, vec![]))
        }
        Job::ProtectBranch { project, branch, protected, actor } => {
            meta.branch(project, branch).ok_or_else(|| StoreError::BranchNotFound {
                project: project.clone(),
                branch: branch.clone(),
            })?;
            Ok((
                vec![Entry::ProtectBranch {
                    project: project.clone(),
                    branch: branch.clone(),
                    protected: *protected,
                    actor: actor.clone(),
                }],
                vec![],
            ))
        }
        Job::Sync => Ok((vec![], vec![])),
    }
}

/// Resolves a point in history for a write-side operation (fork, reset).
fn resolve_at(shared: &Shared, w: &RwTxn, at: &At, head: Lsn) -> Result<Lsn> {
    match *at {
        At::Head => Ok(head),
        At::Lsn(l) if l > head => Err(StoreError::LsnBeyondHead { requested: l, head }),
        At::Lsn(l) => Ok(l),
        At::Time(t) => shared.index.lsn_at_time(w, t),
    }
}

/// Whether a request's entry may be applied to the index after the group's
/// WAL write: it only writes (or reads) documents of existing collections
/// with no secondary index and no cap, on a branch not due to move to a
/// new timeline. Then preparing it reads nothing from the index but
/// document versions, which [`GroupDocs`] answers for the group's pending
/// entries, and applying it changes nothing a later request reads but them.
fn defers(shared: &Shared, meta: &Meta, req: &WriteRequest) -> bool {
    let Some(b) = meta.branch(&req.project, &req.branch) else { return false };
    if crate::materialize::due(meta, b.timeline, shared.materialize_after) {
        return false;
    }
    let catalog = meta.catalog(&meta.read_chain(b.timeline, Lsn::MAX));
    let plain = |coll: &str| {
        catalog.get(coll).is_some_and(|c| {
            c.indexes.is_empty()
                && crate::capped::cap_of(&c.options).is_none()
                && !c.options.contains_key("viewOn")
        })
    };
    req.ops.iter().all(|op| match op {
        WriteOp::Insert { coll, .. }
        | WriteOp::InsertEncoded { coll, .. }
        | WriteOp::Update { coll, .. }
        | WriteOp::UpdateEncoded { coll, .. }
        | WriteOp::Delete { coll, .. }
        | WriteOp::Read { coll, .. } => plain(coll),
        _ => false,
    })
}

/// Entries of the group written to the WAL and not yet applied to the
/// index (see [`group_commit`]).
#[derive(Default)]
struct Unapplied {
    /// (index in the group's entries, LSN, commit time), in LSN order.
    entries: Vec<(usize, Lsn, CommitTime)>,
    /// The newest pending version of each document they write: (LSN,
    /// entry index, op index).
    docs: HashMap<DocAt, (Lsn, usize, usize)>,
}

/// A document of a timeline: (timeline, collection id, encoded `_id`).
type DocAt = (TimelineId, u64, Vec<u8>);

impl Unapplied {
    fn record(&mut self, entry: &Entry, index: usize, lsn: Lsn, time: CommitTime) {
        if let Entry::Commit(c) = entry {
            for (op_index, op) in c.ops.iter().enumerate() {
                if let Op::Doc { coll_id, id, .. } = op {
                    self.docs.insert((c.timeline, *coll_id, keycodec::encode(id)), (lsn, index, op_index));
                }
            }
        }
        self.entries.push((index, lsn, time));
    }

    /// Applies the pending entries to the index, in order.
    fn apply(&mut self, shared: &Shared, w: &mut RwTxn, meta: &mut Meta, entries: &[Entry]) -> Result<()> {
        for (index, lsn, time) in self.entries.drain(..) {
            shared.index.apply(w, meta, &entries[index], lsn, time)?;
        }
        self.docs.clear();
        Ok(())
    }
}

/// The documents a request of the group sees besides the index: those of
/// the group's entries not yet applied to it.
struct GroupDocs<'a> {
    unapplied: &'a Unapplied,
    entries: &'a [Entry],
}

impl GroupDocs<'_> {
    /// The newest pending version of a document as `chain` sees it: (LSN,
    /// post-image, `None` for a delete).
    fn version(&self, chain: &Chain, coll_id: u64, id_key: &[u8]) -> Option<(Lsn, Option<RawDocumentBuf>)> {
        if self.unapplied.docs.is_empty() {
            return None;
        }
        // Pending entries are newer than anything forked from: only the
        // chain's own timeline, read at its head, sees them.
        let &(timeline, bound) = chain.0.first()?;
        let &(lsn, index, op_index) = self.unapplied.docs.get(&(timeline, coll_id, id_key.to_vec()))?;
        if lsn > bound {
            return None;
        }
        match &self.entries[index] {
            Entry::Commit(c) => match &c.ops[op_index] {
                Op::Doc { post, .. } => Some((lsn, post.clone())),
                _ => None,
            },
            _ => None,
        }
    }
}

/// The state of one document as a request sees it: committed head plus the
/// request's own earlier ops.
struct Pending {
    docs: HashMap<(u64, Vec<u8>), Option<RawDocumentBuf>>,
    /// Unique index keys written by earlier ops of the request:
    /// (index id, key values) → encoded `_id`.
    unique: HashMap<(u64, Vec<u8>), Vec<u8>>,
}

impl Pending {
    fn record_unique(&mut self, cm: &CollectionMeta, id_key: &[u8], doc: &Document) {
        for ix in cm.indexes.iter().filter(|i| i.spec.get_bool("unique").unwrap_or(false)) {
            for kv in IndexDef::from_spec(&ix.spec).key_values(doc) {
                self.unique.insert((ix.id, kv), id_key.to_vec());
            }
        }
    }
}

/// Fails with a duplicate key error if `doc` would give a unique index of
/// the collection a key another visible document already has.
#[allow(clippy::too_many_arguments)]
fn check_unique(
    shared: &Shared,
    w: &RwTxn,
    chain: &Chain,
    cm: &CollectionMeta,
    pending: &Pending,
    id: &Bson,
    doc: &Document,
    ns: &str,
) -> Result<()> {
    let id_key = keycodec::encode(id);
    for ix in cm.indexes.iter().filter(|i| i.spec.get_bool("unique").unwrap_or(false)) {
        let def = IndexDef::from_spec(&ix.spec);
        let still_has = |other: &[u8], kv: &[u8]| match pending.docs.get(&(cm.id, other.to_vec())) {
            Some(d) => d
                .as_ref()
                .and_then(|d| Document::try_from(d.as_ref()).ok())
                .is_some_and(|d| def.key_values(&d).contains(kv)),
            None => true,
        };
        for kv in def.key_values(doc) {
            let end = crate::keys::prefix_end(&kv);
            let mut scan = scan_chain(
                &shared.index.idx,
                w,
                chain,
                ix.id,
                std::ops::Bound::Included(kv.as_slice()),
                Some(&end),
            )?;
            let mut clash = false;
            while let Some((_, other)) = scan.next_raw()? {
                if other != id_key.as_slice() && still_has(other, &kv) {
                    clash = true;
                    break;
                }
            }
            if !clash {
                if let Some(other) = pending.unique.get(&(ix.id, kv.clone())) {
                    clash = *other != id_key && still_has(other, &kv);
                }
            }
            if clash {
                let key_value = key_value(&def, doc);
                return Err(StoreError::DuplicateKey {
                    ns: ns.to_string(),
                    index: ix.name().to_string(),
                    key_pattern: Box::new(ix.spec.get_document("key").cloned().unwrap_or_default()),
                    key_value: Box::new(key_value),
                });
            }
        }
    }
    Ok(())
}

fn prepare_write(
    shared: &Shared,
    meta: &Meta,
    w: &RwTxn,
    group: &GroupDocs,
    req: &mut WriteRequest,
) -> Result<(Vec<Entry>, Vec<Result<OpEffect>>)> {
    let mut entries = Vec::new();
    let mut next_timeline = meta.counters.next_timeline.max(1);
    let project_exists = meta.project(&req.project).is_some();
    let timeline = if project_exists {
        let b = meta.branch(&req.project, &req.branch).ok_or_else(|| StoreError::BranchNotFound {
            project: req.project.clone(),
            branch: req.branch.clone(),
        })?;
        b.timeline
    } else if req.create_project && req.branch == MAIN_BRANCH {
        check_project(&req.project)?;
        let t = TimelineId(next_timeline);
        next_timeline += 1;
        entries.push(Entry::CreateProject {
            project: req.project.clone(),
            main_timeline: t,
            actor: req.actor.clone(),
        });
        t
    } else {
        return Err(StoreError::ProjectNotFound(req.project.clone()));
    };
    if let Some(base) = req.base {
        if !meta.continues(timeline, base.timeline) {
            return Err(StoreError::WriteConflict(format!(
                "branch {} of project {} was reset or replaced since this operation started",
                req.branch, req.project
            )));
        }
    }
    // Checks against a base snapshot must see the tombstones written after
    // it, which a materialized timeline does not copy.
    let chain = match (project_exists, req.base) {
        (false, _) => Chain(vec![(timeline, Lsn::MAX)]),
        (true, Some(base)) => meta.check_chain(timeline, base.lsn),
        (true, None) => meta.read_chain(timeline, Lsn::MAX),
    };
    // Time to move the branch onto a fresh timeline (see `materialize`)?
    let continues = (project_exists && crate::materialize::due(meta, timeline, shared.materialize_after))
        .then(|| {
            let t = TimelineId(next_timeline);
            next_timeline += 1;
            t
        });
    let _ = next_timeline;
    // Copy-on-write: most requests only read the catalog.
    let mut catalog: Arc<Catalog> = meta.catalog(&chain);
    // Earlier ops' documents are only consulted by later ops of the same request.
    let track_pending = req.ops.len() > 1;
    let mut next_collection = meta.counters.next_collection.max(1);
    let mut pending = Pending { docs: HashMap::new(), unique: HashMap::new() };
    let mut ops: Vec<Op> = Vec::new();
    let mut results = Vec::with_capacity(req.ops.len());
    let ns = |coll: &str| format!("{}.{}", req.project, coll);

    let encoded = std::mem::take(&mut req.encoded);
    // (A request that did not come through Store::write is encoded per op.)
    let encoded = if encoded.len() == req.ops.len() { encoded } else { Vec::new() };
    let mut encoded = encoded.into_iter();
    for op in req.ops.drain(..) {
        let encoded = encoded.next().flatten();
        let mark = ops.len();
        let catalog_before = Arc::clone(&catalog);
        let r = prepare_op(
            shared,
            w,
            group,
            &chain,
            &mut catalog,
            &mut next_collection,
            &mut pending,
            track_pending,
            &mut ops,
            req.base.map(|b| b.lsn),
            &ns,
            op,
            encoded,
        );
        match r {
            Ok(effect) => results.push(Ok(effect)),
            Err(e) => {
                // Undo this op's partial effects (for example an implicit
                // collection creation before a failing insert).
                ops.truncate(mark);
                catalog = catalog_before;
                match req.mode {
                    WriteMode::Atomic => return Err(e),
                    WriteMode::Ordered => {
                        results.push(Err(e));
                        break;
                    }
                    WriteMode::Unordered => results.push(Err(e)),
                }
            }
        }
    }
    // Capped collections: the oldest documents past the cap go in this commit.
    let capped = crate::capped::written(&catalog, &ops);
    if !capped.is_empty() {
        let head_chain = meta.read_chain(timeline, Lsn::MAX);
        let mut sizes = shared.capped_sizes.lock();
        crate::capped::evict(&shared.index, w, &head_chain, timeline, capped, &mut sizes, &mut ops)?;
    }
    if !ops.is_empty() {
        entries.push(Entry::Commit(Commit {
            project: req.project.clone(),
            branch: req.branch.clone(),
            timeline: continues.unwrap_or(timeline),
            actor: req.actor.clone(),
            txn: req.txn.clone(),
            continues: continues.map(|_| timeline),
            ops,
        }));
    }
    Ok((entries, results))
}

/// A document given to an insert or update, decoded or as BSON bytes.
enum Body {
    Decoded(Document),
    Encoded(RawDocumentBuf),
}

/// An insert or an update's outcome, from either form of its [`WriteOp`].
enum DocWrite {
    Insert { coll: String, id: Bson, body: Body },
    Update { coll: String, id: Bson, body: Body, replace: bool, check: Check },
}

#[allow(clippy::too_many_arguments)]
fn prepare_op(
    shared: &Shared,
    w: &RwTxn,
    group: &GroupDocs,
    chain: &Chain,
    catalog: &mut Arc<Catalog>,
    next_collection: &mut u64,
    pending: &mut Pending,
    track_pending: bool,
    ops: &mut Vec<Op>,
    base_lsn: Option<Lsn>,
    ns: &dyn Fn(&str) -> String,
    op: WriteOp,
    encoded: Option<Result<RawDocumentBuf>>,
) -> Result<OpEffect> {
    // The op's document as stored (encoded on the caller's thread).
    let encoded = |doc: &Document| encoded.unwrap_or_else(|| crate::write::encode_document(doc));
    // Creates a collection implicitly (MongoDB does on first insert).
    let mut ensure_collection = |catalog: &mut Arc<Catalog>, ops: &mut Vec<Op>, name: &str| -> Result<u64> {
        if let Some(c) = catalog.get(name) {
            if c.options.contains_key("viewOn") {
                return Err(StoreError::NotACollection(ns(name)));
            }
            return Ok(c.id);
        }
        check_collection(name)?;
        let id = *next_collection;
        *next_collection += 1;
        let op = Op::CreateCollection { name: name.to_string(), coll_id: id, options: Document::new() };
        Arc::make_mut(catalog).apply(&op, Lsn::ZERO).map_err(StoreError::InvalidArgument)?;
        ops.push(op);
        Ok(id)
    };
    // The current version of a document: (LSN if committed, document).
    let current =
        |pending: &Pending, coll_id: u64, id_key: &[u8]| -> Result<(Option<Lsn>, Option<RawDocumentBuf>)> {
            if let Some(d) = pending.docs.get(&(coll_id, id_key.to_vec())) {
                return Ok((None, d.clone()));
            }
            if let Some((lsn, doc)) = group.version(chain, coll_id, id_key) {
                return Ok((Some(lsn), doc));
            }
            match shared.index.get_version(w, chain, coll_id, id_key)? {
                Some((lsn, Some(bytes))) => Ok((Some(lsn), Some(crate::snapshot::raw_doc(bytes)?))),
                Some((lsn, None)) => Ok((Some(lsn), None)),
                None => Ok((None, None)),
            }
        };
    let conflict_check = |check: Check, version: Option<Lsn>, coll: &str, id: &Bson| -> Result<()> {
        if let (Check::UnchangedSinceBase, Some(base), Some(v)) = (check, base_lsn, version) {
            if v > base {
                return Err(StoreError::WriteConflict(format!(
                    "document {id} in {} was changed at LSN {v}, after this operation's snapshot at LSN {base}",
                    ns(coll)
                )));
            }
        }
        Ok(())
    };

    // Writes one document (an insert or an update's outcome), given
    // decoded or as BSON bytes.
    let write_doc = |write: DocWrite| -> Result<OpEffect> {
        // (`check` is `None` for an insert.)
        let (coll, id, body, kind, check) = match write {
            DocWrite::Insert { coll, id, body } => {
                if matches!(id, Bson::Array(_)) {
                    return Err(StoreError::InvalidArgument(
                        "The '_id' value cannot be of type array".into(),
                    ));
                }
                (coll, id, body, DocOpKind::Insert, None)
            }
            DocWrite::Update { coll, id, body, replace, check } => {
                let new_id = match &body {
                    Body::Decoded(doc) => doc.get("_id").map(keycodec::encode),
                    Body::Encoded(raw) => match raw.get("_id") {
                        Ok(Some(v)) => Some(keycodec::encode(
                            &Bson::try_from(v)
                                .map_err(|e| StoreError::InvalidArgument(format!("invalid _id: {e}")))?,
                        )),
                        Ok(None) => None,
                        Err(e) => {
                            return Err(StoreError::InvalidArgument(format!("invalid BSON document: {e}")))
                        }
                    },
                };
                if new_id.is_some_and(|k| k != keycodec::encode(&id)) {
                    return Err(StoreError::InvalidArgument(
                        "the new version of a document must keep its _id".into(),
                    ));
                }
                (coll, id, body, if replace { DocOpKind::Replace } else { DocOpKind::Update }, Some(check))
            }
        };
        let coll_id = ensure_collection(catalog, ops, &coll)?;
        let id_key = keycodec::encode(&id);
        let (version, cur) = current(pending, coll_id, &id_key)?;
        let (kind, pre) = match check {
            // An insert: the `_id` must be free.
            None if cur.is_some() => {
                return Err(StoreError::DuplicateKey {
                    ns: ns(&coll),
                    index: "_id_".into(),
                    key_pattern: Box::new(doc! {"_id": 1}),
                    key_value: Box::new(doc! {"_id": id.clone()}),
                });
            }
            None => (kind, None),
            // An update: conflicts, and an insert if nothing is there.
            Some(check) => {
                conflict_check(check, version, &coll, &id)?;
                // (A tombstone at or below the base is no conflict: the
                // document was already gone in the snapshot: an upsert.)
                let deleted_since_base = version.is_some_and(|v| base_lsn.is_none_or(|b| v > b));
                if check == Check::UnchangedSinceBase && cur.is_none() && deleted_since_base {
                    return Err(StoreError::WriteConflict(format!(
                        "document {id} in {} was deleted concurrently",
                        ns(&coll)
                    )));
                }
                (if cur.is_none() { DocOpKind::Insert } else { kind }, cur)
            }
        };
        // The document as stored, and decoded if it came so (or if a
        // secondary index needs its values).
        let (doc, raw) = match body {
            Body::Decoded(doc) => {
                let raw = encoded(&doc)?;
                (Some(doc), raw)
            }
            Body::Encoded(raw) => (None, crate::write::check_size(raw)?),
        };
        if let Some(cm) = catalog.get(&coll).filter(|cm| !cm.indexes.is_empty()) {
            let doc = match doc {
                Some(doc) => doc,
                None => Document::try_from(raw.as_ref())
                    .map_err(|e| StoreError::InvalidArgument(format!("invalid BSON document: {e}")))?,
            };
            check_unique(shared, w, chain, cm, pending, &id, &doc, &ns(&coll))?;
            pending.record_unique(cm, &id_key, &doc);
        }
        if track_pending {
            pending.docs.insert((coll_id, id_key), Some(raw.clone()));
        }
        ops.push(Op::Doc { coll, coll_id, kind, id, post: Some(raw), pre });
        Ok(OpEffect::Written)
    };

    match op {
        WriteOp::Insert { coll, doc } => {
            let id = doc
                .get("_id")
                .cloned()
                .ok_or_else(|| StoreError::InvalidArgument("document to insert has no _id".into()))?;
            write_doc(DocWrite::Insert { coll, id, body: Body::Decoded(doc) })
        }
        WriteOp::InsertEncoded { coll, id, doc } => {
            write_doc(DocWrite::Insert { coll, id, body: Body::Encoded(doc) })
        }
        WriteOp::Update { coll, id, doc, replace, check } => {
            write_doc(DocWrite::Update { coll, id, body: Body::Decoded(doc), replace, check })
        }
        WriteOp::UpdateEncoded { coll, id, doc, check } => {
            write_doc(DocWrite::Update { coll, id, body: Body::Encoded(doc), replace: false, check })
        }
        WriteOp::Delete { coll, id, check } => {
            let Some(c) = catalog.get(&coll) else { return Ok(OpEffect::NoOp) };
            let coll_id = c.id;
            let id_key = keycodec::encode(&id);
            let (version, cur) = current(pending, coll_id, &id_key)?;
            conflict_check(check, version, &coll, &id)?;
            let Some(pre) = cur else {
                if check == Check::UnchangedSinceBase
                    && version.is_some_and(|v| base_lsn.is_some_and(|b| v > b))
                {
                    return Err(StoreError::WriteConflict(format!(
                        "document {id} in {} was deleted concurrently",
                        ns(&coll)
                    )));
                }
                return Ok(OpEffect::NoOp);
            };
            pending.docs.insert((coll_id, id_key), None);
            ops.push(Op::Doc { coll, coll_id, kind: DocOpKind::Delete, id, post: None, pre: Some(pre) });
            Ok(OpEffect::Written)
        }
        WriteOp::Read { coll, id } => {
            if let Some(c) = catalog.get(&coll) {
                let (version, _) = current(pending, c.id, &keycodec::encode(&id))?;
                conflict_check(Check::UnchangedSinceBase, version, &coll, &id)?;
            }
            Ok(OpEffect::NoOp)
        }
        WriteOp::CreateCollection { name, options } => {
            check_collection(&name)?;
            if catalog.get(&name).is_some() {
                return Err(StoreError::NamespaceExists(ns(&name)));
            }
            let id = *next_collection;
            *next_collection += 1;
            let op = Op::CreateCollection { name, coll_id: id, options };
            Arc::make_mut(catalog).apply(&op, Lsn::ZERO).map_err(StoreError::InvalidArgument)?;
            ops.push(op);
            Ok(OpEffect::Written)
        }
        WriteOp::DropCollection { name } => {
            let c = catalog.get(&name).ok_or_else(|| StoreError::NamespaceNotFound(ns(&name)))?;
            let op = Op::DropCollection { coll_id: c.id, name };
            Arc::make_mut(catalog).apply(&op, Lsn::ZERO).map_err(StoreError::InvalidArgument)?;
            ops.push(op);
            Ok(OpEffect::Written)
        }
        WriteOp::RenameCollection { from, to, drop_target } => {
            check_collection(&to)?;
            let c = catalog.get(&from).ok_or_else(|| StoreError::NamespaceNotFound(ns(&from)))?;
            let coll_id = c.id;
            if let Some(target) = catalog.get(&to) {
                if !drop_target {
                    return Err(StoreError::NamespaceExists(ns(&to)));
                }
                let op = Op::DropCollection { coll_id: target.id, name: to.clone() };
                Arc::make_mut(catalog).apply(&op, Lsn::ZERO).map_err(StoreError::InvalidArgument)?;
                ops.push(op);
            }
            let op = Op::RenameCollection { from, to, coll_id };
            Arc::make_mut(catalog).apply(&op, Lsn::ZERO).map_err(StoreError::InvalidArgument)?;
            ops.push(op);
            Ok(OpEffect::Written)
        }
        WriteOp::CreateIndex { coll, spec } => {
            let name = spec
                .get_str("name")
                .map_err(|_| StoreError::InvalidArgument("index spec must have a string 'name'".into()))?
                .to_string();
            ensure_collection(catalog, ops, &coll)?;
            let existing = catalog
                .get(&coll)
                .and_then(|c| c.indexes.iter().find(|i| i.name() == name.as_str()).cloned());
            if let Some(e) = existing {
                if e.spec.get("key") == spec.get("key") {
                    return Ok(OpEffect::NoOp);
                }
                return Err(StoreError::InvalidArgument(format!(
                    "An existing index has the same name as the requested index: {name}"
                )));
            }
            if spec.get_bool("unique").unwrap_or(false) {
                if let Some(cm) = catalog.get(&coll) {
                    check_existing_unique(shared, w, chain, cm, &spec, &name, &ns(&coll))?;
                }
            }
            let index_id = *next_collection;
            *next_collection += 1;
            let op = Op::CreateIndex { coll, index_id, spec };
            Arc::make_mut(catalog).apply(&op, Lsn::ZERO).map_err(StoreError::InvalidArgument)?;
            ops.push(op);
            Ok(OpEffect::Written)
        }
        WriteOp::DropIndex { coll, name } => {
            let c = catalog.get(&coll).ok_or_else(|| StoreError::NamespaceNotFound(ns(&coll)))?;
            if !c.indexes.iter().any(|i| i.name() == name.as_str()) {
                return Err(StoreError::InvalidArgument(format!("index not found with name [{name}]")));
            }
            let op = Op::DropIndex { coll, name };
            Arc::make_mut(catalog).apply(&op, Lsn::ZERO).map_err(StoreError::InvalidArgument)?;
            ops.push(op);
            Ok(OpEffect::Written)
        }
        WriteOp::SetCollectionOptions { coll, options } => {
            let c = catalog.get(&coll).ok_or_else(|| StoreError::NamespaceNotFound(ns(&coll)))?;
            if c.options == options {
                return Ok(OpEffect::NoOp);
            }
            let op = Op::SetCollectionOptions { coll, options };
            Arc::make_mut(catalog).apply(&op, Lsn::ZERO).map_err(StoreError::InvalidArgument)?;
            ops.push(op);
            Ok(OpEffect::Written)
        }
        WriteOp::SetIndexOptions { coll, name, spec } => {
            let c = catalog.get(&coll).ok_or_else(|| StoreError::NamespaceNotFound(ns(&coll)))?;
            let Some(index) = c.indexes.iter().find(|i| i.name() == name.as_str()) else {
                return Err(StoreError::InvalidArgument(format!("index not found with name [{name}]")));
            };
            if spec.get("key") != index.spec.get("key") || spec.get_str("name").ok() != Some(name.as_str()) {
                return Err(StoreError::InvalidArgument(format!(
                    "new options of index {name} must keep its key and name"
                )));
            }
            if index.spec == spec {
                return Ok(OpEffect::NoOp);
            }
            let op = Op::SetIndexOptions { coll, name, spec };
            Arc::make_mut(catalog).apply(&op, Lsn::ZERO).map_err(StoreError::InvalidArgument)?;
            ops.push(op);
            Ok(OpEffect::Written)
        }
    }
}

/// Before a unique index is created: the visible documents must not share a key.
fn check_existing_unique(
    shared: &Shared,
    w: &RwTxn,
    chain: &Chain,
    cm: &CollectionMeta,
    spec: &Document,
    name: &str,
    ns: &str,
) -> Result<()> {
    let def = IndexDef::from_spec(spec);
    let mut seen = std::collections::HashSet::new();
    let mut scan = scan_chain(&shared.index.docs, w, chain, cm.id, std::ops::Bound::Unbounded, None)?;
    while let Some((_, bytes)) = scan.next_raw()? {
        let doc = crate::snapshot::decode_doc(bytes)?;
        for kv in def.key_values(&doc) {
            if !seen.insert(kv) {
                let key_value = key_value(&def, &doc);
                return Err(StoreError::DuplicateKey {
                    ns: ns.to_string(),
                    index: name.to_string(),
                    key_pattern: Box::new(spec.get_document("key").cloned().unwrap_or_default()),
                    key_value: Box::new(key_value),
                });
            }
        }
    }
    Ok(())
}

/// `{field: value}` of a duplicate key, for the error (drivers show it).
fn key_value(def: &IndexDef, doc: &Document) -> Document {
    let mut out = Document::new();
    for f in &def.fields {
        let v = crate::secondary::values_at(doc, &f.path).into_iter().next().unwrap_or(Bson::Null);
        out.insert(f.path.clone(), v);
    }
    out
}
