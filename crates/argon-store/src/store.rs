//! The public face of the store: open a data dir, manage projects and
//! branches, write, read at any point, restore.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

use argon_types::{CommitTime, Lsn, TimelineId};
use argon_wal::{SyncMode, Wal, WalOptions, WalReader};
use parking_lot::{Mutex, RwLock};
use tokio::sync::oneshot;

use crate::commit::{self, Job, Reply};
use crate::entry::{Entry, Op};
use crate::error::{Result, StoreError};
use crate::index::Index;
use crate::lock::DirLock;
use crate::meta::{BranchMeta, Catalog, Chain, Meta, TimelineMeta};
use crate::snapshot::{ReadView, Snapshot};
use crate::write::{CommitOutcome, WriteRequest};

/// A point in a branch's history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum At {
    /// The newest committed state.
    Head,
    /// The state right after the entry with this LSN.
    Lsn(Lsn),
    /// The state at this wall-clock time (the newest LSN committed at or before it).
    Time(CommitTime),
}

/// How to open a data dir.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// WAL durability. Default = [`SyncMode::Always`].
    pub sync: SyncMode,
    /// WAL segment size. Default = 64 MiB.
    pub wal_segment_bytes: u64,
    /// Address space reserved for the index (not memory). Default = 1 TiB.
    pub index_map_bytes: usize,
    /// Drop the index and rebuild it from the WAL. Default = false.
    pub rebuild_index: bool,
    /// The budget for the process's file-backed resident memory, which is
    /// the index's memory map (plus the program's own code): above it,
    /// pages of the map are unmapped in a sweep (they stay in the OS page
    /// cache). Default = 512 MiB; `usize::MAX` leaves it to the kernel
    /// (and then the map is not populated ahead of the index's growth
    /// either: the same thread does both, see `resident.rs`).
    pub index_resident_bytes: usize,
    /// A branch's timeline is materialized (its visible state copied into
    /// a fresh timeline, so reads stop stepping over old versions) once it
    /// holds this many superseded versions and at least as many as it has
    /// documents. Default = 4096; `u64::MAX` never materializes.
    pub materialize_after: u64,
    /// Versions a materialization copies per group commit, besides two per
    /// document the group writes (and 32 times this per idle millisecond).
    /// Default = 256.
    pub materialize_batch: usize,
    /// fdatasyncs in flight at once under `SyncMode::Always` (one per ack
    /// thread; see `WalOptions::sync_threads`). Default = 2.
    pub wal_sync_threads: usize,
    /// Under `SyncMode::Always`, start writing a group's WAL bytes to disk
    /// as soon as they are written, ahead of their fdatasync (see
    /// `WalOptions::early_writeback`). Default = false.
    pub wal_early_writeback: bool,
    /// The first LSN of a new data dir's WAL (see `WalOptions::first_lsn`).
    /// Default = 1.
    pub first_lsn: Lsn,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            sync: SyncMode::Always,
            wal_segment_bytes: 64 << 20,
            index_map_bytes: 1 << 40,
            rebuild_index: false,
            index_resident_bytes: 512 << 20,
            materialize_after: 4096,
            materialize_batch: 256,
            wal_sync_threads: 2,
            wal_early_writeback: false,
            first_lsn: Lsn(1),
        }
    }
}

/// Counters for metrics.
#[derive(Default)]
pub(crate) struct Counters {
    pub commits: AtomicU64,
    pub groups: AtomicU64,
}

/// State shared by readers and the commit thread.
pub(crate) struct Shared {
    pub dir: PathBuf,
    pub index: Index,
    pub meta: RwLock<Arc<Meta>>,
    /// Newest LSN that is durable (per the sync mode) and applied to the index.
    pub visible_lsn: AtomicU64,
    pub visible_time: AtomicI64,
    pub failed: AtomicBool,
    pub closed: AtomicBool,
    pub stats: Counters,
    /// Whether this open rebuilt the index from the WAL.
    pub index_rebuilt: bool,
    /// For the WAL's fsync counter.
    pub wal_sync: argon_wal::SyncHandle,
    /// Jobs queued or being committed, not yet answered (a lone caller
    /// polls for its answer before sleeping; see `Store::run`).
    pub jobs_in_flight: std::sync::atomic::AtomicUsize,
    /// See [`StoreOptions::materialize_after`].
    pub materialize_after: u64,
    /// See [`StoreOptions::materialize_batch`].
    pub materialize_batch: usize,
    /// Running sizes of capped collections (the commit thread's).
    pub capped_sizes: Mutex<crate::capped::Sizes>,
}

struct Inner {
    shared: Arc<Shared>,
    /// Taken (`None`) to close the channel. A read lock to send: callers on
    /// several threads do not queue for it (a `Sender` is `Sync`).
    tx: RwLock<Option<Sender<(Job, Reply)>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    trimmer: Mutex<Option<crate::resident::Trimmer>>,
    _lock: DirLock,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.trimmer.lock().take();
        self.tx.write().take();
        if let Some(t) = self.thread.lock().take() {
            let _ = t.join();
        }
    }
}

/// An open data dir. Cheap to clone; the data dir closes when the last
/// clone is dropped (after making everything durable).
///
/// ```
/// use argon_store::{At, Store, WriteOp, WriteRequest};
/// use bson::doc;
///
/// let dir = tempfile::tempdir().unwrap();
/// let store = Store::open(dir.path()).unwrap();
/// store.create_project("app").unwrap();
/// let first = store
///     .write(WriteRequest::new("app", "main").op(WriteOp::Insert {
///         coll: "users".into(),
///         doc: doc! {"_id": 1, "name": "ada"},
///     }))
///     .unwrap();
/// store.create_branch("app", "feature", "main", At::Head).unwrap();
/// store
///     .write(WriteRequest::new("app", "feature").op(WriteOp::Delete {
///         coll: "users".into(),
///         id: 1.into(),
///         check: argon_store::Check::Blind,
///     }))
///     .unwrap();
/// // The branch no longer has the document; main still does, and so does
/// // the branch's own past.
/// let feature = store.snapshot("app", "feature", At::Head).unwrap();
/// assert!(feature.get("users", &1.into()).unwrap().is_none());
/// let main = store.snapshot("app", "main", At::Head).unwrap();
/// assert!(main.get("users", &1.into()).unwrap().is_some());
/// let past = store.snapshot("app", "feature", At::Lsn(first.lsn.unwrap())).unwrap();
/// assert!(past.get("users", &1.into()).unwrap().is_some());
/// ```
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

/// A branch as reported to users.
#[derive(Clone, Debug, PartialEq)]
pub struct BranchInfo {
    pub project: String,
    pub name: String,
    pub parent: Option<String>,
    pub timeline: TimelineId,
    /// Where its history forks from the parent's (0 for `main`).
    pub base_lsn: Lsn,
    /// Its newest entry.
    pub head_lsn: Lsn,
    pub created_lsn: Lsn,
    pub created_at: CommitTime,
    pub head_time: CommitTime,
    pub expires_at: Option<CommitTime>,
    pub protected: bool,
    /// Commits written on the branch's current timeline.
    pub commits: u64,
    /// Bytes of the document versions written on the branch itself (its
    /// own timelines, history included; what it shares with its ancestors
    /// is not counted): what the branch adds to the data dir.
    pub written_bytes: u64,
}

/// A project as reported to users.
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectInfo {
    pub name: String,
    pub created_lsn: Lsn,
    pub created_at: CommitTime,
    pub branches: usize,
}

/// What resetting a branch would discard.
#[derive(Clone, Debug, PartialEq)]
pub struct RestorePreview {
    pub project: String,
    pub branch: String,
    pub target_lsn: Lsn,
    pub head_lsn: Lsn,
    /// Commit entries after the target on the branch's history.
    pub entries: u64,
    /// Per collection: distinct documents changed after the target.
    pub collections: BTreeMap<String, u64>,
    /// Catalog changes after the target (for example "drop users").
    pub catalog_changes: Vec<String>,
}

/// What one branch's visible data costs, and what copying it would.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BranchStorage {
    pub project: String,
    pub branch: String,
    /// Visible documents.
    pub documents: u64,
    /// Bytes of visible documents written on the branch's own timeline.
    pub own_bytes: u64,
    /// Bytes of visible documents it shares with its ancestors.
    pub shared_bytes: u64,
}

impl BranchStorage {
    /// What a full copy of the branch would have written.
    pub fn copy_bytes(&self) -> u64 {
        self.own_bytes + self.shared_bytes
    }
}

/// WAL bytes of one project (records as stored on disk, header included).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WalStorage {
    /// Every record naming the project since it was created: data,
    /// catalog and branch operations, on any branch, deleted ones included.
    pub project_bytes: u64,
    /// Per branch, the records of its history at its head.
    pub branches: BTreeMap<String, BranchWal>,
}

/// WAL bytes of one branch's history.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BranchWal {
    /// Records written on the branch's own timelines (the one made when it
    /// was created, and those a reset or a materialization moved it to).
    pub own_bytes: u64,
    /// Records of its ancestors up to its fork points: the history it
    /// shares instead of copying.
    pub inherited_bytes: u64,
}

/// Counters for `status` and metrics.
#[derive(Clone, Debug, Default)]
pub struct StoreStats {
    pub visible_lsn: Lsn,
    pub projects: usize,
    pub branches: usize,
    pub timelines: usize,
    pub commits: u64,
    /// Groups applied to the index (one LMDB transaction each).
    pub group_commits: u64,
    /// fdatasyncs of the WAL since open: with `SyncMode::Always` one covers
    /// one or more groups (the next group is prepared during the fdatasync).
    pub wal_fsyncs: u64,
    /// Time spent in those fdatasyncs.
    pub wal_fsync_time: std::time::Duration,
    pub wal_bytes: u64,
    pub index_bytes: u64,
    /// Whether opening rebuilt the index from the WAL (requested, index
    /// missing or ahead of the WAL, or the machine went down with it open).
    pub index_rebuilt: bool,
}

fn branch_info(meta: &Meta, project: &str, b: &BranchMeta) -> BranchInfo {
    let t = meta.timelines.get(&b.timeline);
    BranchInfo {
        project: project.to_string(),
        name: b.name.clone(),
        parent: b.parent.clone(),
        timeline: b.timeline,
        base_lsn: b.fork_lsn,
        head_lsn: meta.branch_head(b),
        created_lsn: b.created_lsn,
        created_at: b.created_at,
        head_time: t.map(|t| t.last_time).unwrap_or(b.created_at),
        expires_at: b.expires_at,
        protected: b.protected,
        commits: t.map(|t| t.commits).unwrap_or(0),
        written_bytes: own_timelines(meta, b).map(|t| t.written_bytes).sum(),
    }
}

/// The timelines of a branch's own history, newest first: its chain down
/// to the timeline made when it was created (resets and materializations
/// add newer ones); below that are its ancestors'.
fn own_timelines<'m>(meta: &'m Meta, b: &BranchMeta) -> impl Iterator<Item = &'m TimelineMeta> + 'm {
    let created = b.created_lsn;
    let chain = meta.chain(b.timeline, Lsn::MAX);
    let mut done = false;
    chain.0.into_iter().filter_map(move |(id, _)| {
        if done {
            return None;
        }
        let t = meta.timelines.get(&id)?;
        done = t.created_lsn == created;
        Some(t.as_ref())
    })
}

impl Store {
    /// Opens (or creates) a data dir with default options.
    pub fn open(dir: impl AsRef<Path>) -> Result<Store> {
        Store::open_with(dir, StoreOptions::default())
    }

    /// Opens (or creates) a data dir: takes its lock, opens the index at its
    /// last checkpoint, and replays the WAL tail into it.
    pub fn open_with(dir: impl AsRef<Path>, opts: StoreOptions) -> Result<Store> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir)?;
        let lock = DirLock::acquire(&dir)?;
        let mut index = Index::open(&dir.join("index"), opts.index_map_bytes)?;
        let wal_opts = WalOptions {
            sync: opts.sync,
            segment_bytes: opts.wal_segment_bytes,
            sync_threads: opts.wal_sync_threads,
            early_writeback: opts.wal_early_writeback,
            first_lsn: opts.first_lsn,
            ..WalOptions::default()
        };
        let wal = Wal::open(&dir.join("wal"), wal_opts)?;
        let mut meta = index.load_meta()?;
        let torn = crate::session_marker::open(&dir.join("index"), &crate::session_marker::boot_id())?;
        if torn {
            tracing::warn!(
                "the machine went down while the index was open; rebuilding the index from the WAL"
            );
        }
        let old_layout = meta.counters.applied_lsn > Lsn::ZERO && meta.counters.layout < crate::index::LAYOUT;
        if old_layout {
            tracing::warn!(
                "the index was written by an older version (layout {}, this one reads {}); rebuilding it from the WAL",
                meta.counters.layout,
                crate::index::LAYOUT
            );
        }
        let rebuilt = opts.rebuild_index || torn || old_layout || meta.counters.applied_lsn > wal.last_lsn();
        if rebuilt {
            if !opts.rebuild_index && !torn && !old_layout {
                tracing::warn!(
                    "index covers LSN {} but the WAL ends at {}; rebuilding the index from the WAL",
                    meta.counters.applied_lsn,
                    wal.last_lsn()
                );
            }
            index.clear()?;
            meta = Meta::default();
        }
        meta.counters.layout = crate::index::LAYOUT;
        replay(&index, &mut meta, &wal)?;
        let shared = Arc::new(Shared {
            dir,
            index,
            visible_lsn: AtomicU64::new(meta.counters.applied_lsn.0),
            visible_time: AtomicI64::new(meta.counters.applied_time.0),
            index_rebuilt: rebuilt,
            meta: RwLock::new(Arc::new(meta)),
            failed: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            stats: Counters::default(),
            wal_sync: wal.sync_handle(),
            jobs_in_flight: Default::default(),
            materialize_after: opts.materialize_after,
            materialize_batch: opts.materialize_batch.max(1),
            capped_sizes: Mutex::new(Default::default()),
        });
        let trimmer = crate::resident::spawn(
            shared.index.env.clone(),
            &shared.dir.join("index").join("data.mdb"),
            opts.index_resident_bytes,
        );
        let (tx, rx) = mpsc::channel();
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("argon-commit".into())
            .spawn(move || commit::run(thread_shared, wal, rx))?;
        Ok(Store {
            inner: Arc::new(Inner {
                shared,
                tx: RwLock::new(Some(tx)),
                thread: Mutex::new(Some(thread)),
                trimmer: Mutex::new(trimmer),
                _lock: lock,
            }),
        })
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    /// The data dir.
    pub fn dir(&self) -> &Path {
        &self.shared().dir
    }

    /// Queues a job for the commit thread. Counts it in `jobs_in_flight`
    /// until the commit thread answers it.
    fn submit(&self, job: Job) -> Result<oneshot::Receiver<Result<CommitOutcome>>> {
        if self.shared().failed.load(Ordering::SeqCst) {
            return Err(StoreError::Closed);
        }
        let (tx, rx) = oneshot::channel();
        let guard = self.inner.tx.read();
        let sender = guard.as_ref().ok_or(StoreError::Closed)?;
        self.shared().jobs_in_flight.fetch_add(1, Ordering::AcqRel);
        if sender.send((job, tx)).is_err() {
            self.shared().jobs_in_flight.fetch_sub(1, Ordering::AcqRel);
            return Err(StoreError::Closed);
        }
        Ok(rx)
    }

    fn run(&self, job: Job) -> Result<CommitOutcome> {
        // A lone commit that needs no fdatasync answers within microseconds:
        // poll briefly before sleeping, since waking a sleeping thread
        // costs tens of microseconds on an idle VM. Only when no other
        // commit is in flight: waiting threads must not eat the CPUs that
        // concurrent commits need.
        let alone = self.shared().jobs_in_flight.load(Ordering::Acquire) == 0;
        let mut rx = self.submit(job)?;
        let spin_until =
            std::time::Instant::now() + if alone { crate::commit::SPIN } else { std::time::Duration::ZERO };
        let polled = loop {
            match rx.try_recv() {
                Ok(outcome) => break Some(outcome),
                Err(oneshot::error::TryRecvError::Closed) => break Some(Err(StoreError::Closed)),
                Err(oneshot::error::TryRecvError::Empty) if std::time::Instant::now() < spin_until => {
                    std::hint::spin_loop();
                }
                Err(oneshot::error::TryRecvError::Empty) => break None,
            }
        };
        match polled {
            Some(outcome) => outcome,
            None => rx.blocking_recv().map_err(|_| StoreError::Closed)?,
        }
    }

    /// Commits a write request and waits until it is durable (per the sync
    /// mode). Do not call from inside an async runtime; use [`Store::write_async`].
    pub fn write(&self, mut req: WriteRequest) -> Result<CommitOutcome> {
        req.encode_documents();
        self.run(Job::Write(req))
    }

    /// Like [`Store::write`], for async callers.
    pub async fn write_async(&self, mut req: WriteRequest) -> Result<CommitOutcome> {
        req.encode_documents();
        self.submit(Job::Write(req))?.await.map_err(|_| StoreError::Closed)?
    }

    /// Creates a project with its `main` branch.
    pub fn create_project(&self, project: &str) -> Result<Lsn> {
        let o = self.run(Job::CreateProject { project: project.into(), actor: "admin".into() })?;
        o.lsn.ok_or(StoreError::Closed)
    }

    /// Drops a project and its branches (refused if a branch is protected).
    /// Its history stays in the WAL.
    pub fn drop_project(&self, project: &str) -> Result<Lsn> {
        let o = self.run(Job::DropProject { project: project.into(), actor: "admin".into() })?;
        o.lsn.ok_or(StoreError::Closed)
    }

    /// Creates branch `name` from branch `from` at a point of its history.
    /// A metadata write: nothing is copied.
    pub fn create_branch(&self, project: &str, name: &str, from: &str, at: At) -> Result<BranchInfo> {
        self.create_branch_with(project, name, from, at, None)
    }

    /// [`Store::create_branch`] with an expiry time.
    pub fn create_branch_with(
        &self,
        project: &str,
        name: &str,
        from: &str,
        at: At,
        expires_at: Option<CommitTime>,
    ) -> Result<BranchInfo> {
        let at = self.clamp_at(at)?;
        self.run(Job::CreateBranch {
            project: project.into(),
            branch: name.into(),
            from: from.into(),
            at,
            expires_at,
            actor: "admin".into(),
        })?;
        self.branch(project, name)
    }

    /// Deletes a branch name (refused for `main`, protected branches and
    /// branches with children). Its history stays.
    pub fn delete_branch(&self, project: &str, name: &str) -> Result<Lsn> {
        let o = self.run(Job::DeleteBranch {
            project: project.into(),
            branch: name.into(),
            actor: "admin".into(),
        })?;
        o.lsn.ok_or(StoreError::Closed)
    }

    /// Sets or clears a branch's protected flag.
    pub fn protect_branch(&self, project: &str, name: &str, protected: bool) -> Result<Lsn> {
        let o = self.run(Job::ProtectBranch {
            project: project.into(),
            branch: name.into(),
            protected,
            actor: "admin".into(),
        })?;
        o.lsn.ok_or(StoreError::Closed)
    }

    /// Points a branch back at a past state. With `backup`, first forks the
    /// current head as a branch of that name. Nothing is deleted: the
    /// discarded entries stay in the log and in branches forked before.
    pub fn reset_branch(
        &self,
        project: &str,
        branch: &str,
        at: At,
        backup: Option<&str>,
    ) -> Result<BranchInfo> {
        let at = self.clamp_at(at)?;
        self.run(Job::ResetBranch {
            project: project.into(),
            branch: branch.into(),
            at,
            backup: backup.map(str::to_string),
            actor: "admin".into(),
        })?;
        self.branch(project, branch)
    }

    /// Makes everything written so far durable, whatever the sync mode, and
    /// checkpoints the index.
    pub fn sync(&self) -> Result<()> {
        self.run(Job::Sync).map(|_| ())
    }

    /// The projects, by name.
    pub fn projects(&self) -> Vec<ProjectInfo> {
        let meta = self.meta();
        meta.projects
            .values()
            .map(|p| ProjectInfo {
                name: p.name.clone(),
                created_lsn: p.created_lsn,
                created_at: p.created_at,
                branches: p.branches.len(),
            })
            .collect()
    }

    /// A project's branches, by name.
    pub fn branches(&self, project: &str) -> Result<Vec<BranchInfo>> {
        let meta = self.meta();
        let p = meta.project(project).ok_or_else(|| StoreError::ProjectNotFound(project.into()))?;
        Ok(p.branches.values().map(|b| branch_info(&meta, project, b)).collect())
    }

    /// One branch.
    pub fn branch(&self, project: &str, name: &str) -> Result<BranchInfo> {
        let meta = self.meta();
        let p = meta.project(project).ok_or_else(|| StoreError::ProjectNotFound(project.into()))?;
        let b = p
            .branches
            .get(name)
            .ok_or_else(|| StoreError::BranchNotFound { project: project.into(), branch: name.into() })?;
        Ok(branch_info(&meta, project, b))
    }

    /// The newest visible LSN of the whole data dir.
    pub fn visible_lsn(&self) -> Lsn {
        Lsn(self.shared().visible_lsn.load(Ordering::SeqCst))
    }

    /// The newest LSN known to be on disk (fdatasync'd). With
    /// `SyncMode::Always` the visible LSN never passes it.
    pub fn durable_lsn(&self) -> Lsn {
        self.shared().wal_sync.durable_lsn()
    }

    /// Commit time of the newest visible LSN.
    pub fn visible_time(&self) -> CommitTime {
        CommitTime(self.shared().visible_time.load(Ordering::SeqCst))
    }

    fn meta(&self) -> Arc<Meta> {
        self.shared().meta.read().clone()
    }

    /// Turns a time into an LSN and checks an LSN against the head.
    fn clamp_at(&self, at: At) -> Result<At> {
        Ok(match at {
            At::Head => At::Head,
            At::Lsn(l) => At::Lsn(self.check_lsn(l)?),
            At::Time(t) => At::Lsn(self.lsn_at_time(t)?),
        })
    }

    fn check_lsn(&self, l: Lsn) -> Result<Lsn> {
        let head = self.visible_lsn();
        if l > head {
            return Err(StoreError::LsnBeyondHead { requested: l, head });
        }
        Ok(l)
    }

    /// The LSN a point in history stands for.
    pub fn resolve(&self, at: At) -> Result<Lsn> {
        match at {
            At::Head => Ok(self.visible_lsn()),
            At::Lsn(l) => self.check_lsn(l),
            At::Time(t) => self.lsn_at_time(t),
        }
    }

    /// The newest LSN committed at or before `time` (0 if none).
    pub fn lsn_at_time(&self, time: CommitTime) -> Result<Lsn> {
        let txn = self.shared().index.env.read_txn()?;
        Ok(self.shared().index.lsn_at_time(&txn, time)?.min(self.visible_lsn()))
    }

    /// Commit time of an LSN.
    pub fn time_of_lsn(&self, lsn: Lsn) -> Result<Option<CommitTime>> {
        let txn = self.shared().index.env.read_txn()?;
        self.shared().index.time_of_lsn(&txn, lsn)
    }

    /// Opens a consistent read of a branch at a point in its history.
    pub fn snapshot(&self, project: &str, branch: &str, at: At) -> Result<Snapshot> {
        let lsn = self.resolve(at)?;
        let meta = self.meta();
        let b = meta.branch(project, branch).ok_or_else(|| match meta.project(project) {
            None => StoreError::ProjectNotFound(project.into()),
            Some(_) => StoreError::BranchNotFound { project: project.into(), branch: branch.into() },
        })?;
        let read_chain = meta.read_chain(b.timeline, lsn);
        let catalog = meta.catalog(&read_chain);
        let view = ReadView {
            project: project.into(),
            branch: branch.into(),
            timeline: b.timeline,
            lsn,
            read_chain,
            catalog,
        };
        self.open_view(view)
    }

    /// The catalog at a branch's head, from memory (no index transaction):
    /// for a quick look at a collection's options before a write.
    pub fn head_catalog(&self, project: &str, branch: &str) -> Result<Arc<Catalog>> {
        let lsn = self.visible_lsn();
        let meta = self.meta();
        let b = meta.branch(project, branch).ok_or_else(|| match meta.project(project) {
            None => StoreError::ProjectNotFound(project.into()),
            Some(_) => StoreError::BranchNotFound { project: project.into(), branch: branch.into() },
        })?;
        Ok(meta.catalog(&meta.read_chain(b.timeline, lsn)))
    }

    /// Every timeline a branch's history consists of, child first, each with
    /// the last LSN of it the branch shows: for "is this WAL entry part of
    /// the branch" questions (history, log). Its length grows with the
    /// branch's forks, resets and materializations; reads never need it.
    pub fn history_chain(&self, project: &str, branch: &str) -> Result<Chain> {
        let meta = self.meta();
        let b = meta.branch(project, branch).ok_or_else(|| match meta.project(project) {
            None => StoreError::ProjectNotFound(project.into()),
            Some(_) => StoreError::BranchNotFound { project: project.into(), branch: branch.into() },
        })?;
        Ok(meta.chain(b.timeline, Lsn::MAX))
    }

    /// Opens a new snapshot of a view taken earlier (a cursor's next batch).
    /// It reads exactly the same state, however much was written since.
    pub fn reopen(&self, view: &ReadView) -> Result<Snapshot> {
        self.open_view(view.clone())
    }

    /// A snapshot reading `view`: an index read transaction opened now,
    /// which sees every commit up to the view's LSN (it was visible before).
    fn open_view(&self, view: ReadView) -> Result<Snapshot> {
        let index = self.shared().index.clone();
        let txn = index.env.clone().static_read_txn()?;
        Ok(Snapshot { index, txn, view })
    }

    /// What resetting `branch` to `at` would discard.
    pub fn restore_preview(&self, project: &str, branch: &str, at: At) -> Result<RestorePreview> {
        let target = self.resolve(at)?;
        let head = self.visible_lsn();
        let meta = self.meta();
        let b = meta
            .branch(project, branch)
            .ok_or_else(|| StoreError::BranchNotFound { project: project.into(), branch: branch.into() })?;
        let chain = meta.chain(b.timeline, Lsn::MAX);
        let on_branch = |tl: TimelineId, lsn: Lsn| chain.0.iter().any(|&(t, bound)| t == tl && lsn <= bound);
        let mut preview = RestorePreview {
            project: project.into(),
            branch: branch.into(),
            target_lsn: target,
            head_lsn: meta.branch_head(b),
            entries: 0,
            collections: BTreeMap::new(),
            catalog_changes: vec![],
        };
        let mut seen = std::collections::HashSet::new();
        for r in WalReader::open(&self.dir().join("wal"), target.next())? {
            let (_, rec) = r?;
            if rec.lsn > head {
                break;
            }
            let Entry::Commit(c) = Entry::decode(&rec.payload)? else { continue };
            if !on_branch(c.timeline, rec.lsn) {
                continue;
            }
            preview.entries += 1;
            for op in &c.ops {
                match op {
                    Op::Doc { coll, id, .. } => {
                        let key = (coll.clone(), argon_types::keycodec::encode(id));
                        if seen.insert(key) {
                            *preview.collections.entry(coll.clone()).or_default() += 1;
                        }
                    }
                    Op::CreateCollection { name, .. } => {
                        preview.catalog_changes.push(format!("create {name}"))
                    }
                    Op::DropCollection { name, .. } => preview.catalog_changes.push(format!("drop {name}")),
                    Op::RenameCollection { from, to, .. } => {
                        preview.catalog_changes.push(format!("rename {from} to {to}"))
                    }
                    Op::CreateIndex { coll, spec, .. } => preview
                        .catalog_changes
                        .push(format!("create index {} on {coll}", spec.get_str("name").unwrap_or("?"))),
                    Op::DropIndex { coll, name } => {
                        preview.catalog_changes.push(format!("drop index {name} on {coll}"))
                    }
                    Op::SetCollectionOptions { coll, .. } => {
                        preview.catalog_changes.push(format!("change options of {coll}"))
                    }
                    Op::SetIndexOptions { coll, name, .. } => {
                        preview.catalog_changes.push(format!("change options of index {name} on {coll}"))
                    }
                }
            }
        }
        Ok(preview)
    }

    /// WAL records written but not yet applied to the index (the index is
    /// maintained in the commit, so this is 0 except while a group commit
    /// is between its WAL write and its index commit).
    pub fn index_lag(&self) -> Result<u64> {
        let mut n = 0;
        for r in WalReader::open(&self.dir().join("wal"), self.visible_lsn().next())? {
            r?;
            n += 1;
        }
        Ok(n)
    }

    /// Storage accounting for one branch: visible documents and bytes,
    /// split into those written on its own timeline and those shared with
    /// its ancestors (a scan of the branch's visible data).
    pub fn branch_storage(&self, project: &str, branch: &str) -> Result<BranchStorage> {
        let snap = self.snapshot(project, branch, At::Head)?;
        let mut out = BranchStorage { project: project.into(), branch: branch.into(), ..Default::default() };
        let names: Vec<String> = snap.collections().map(|(n, _)| n.clone()).collect();
        for name in names {
            let mut scan = snap.scan(&name)?;
            while let Some((_, bytes, level)) = scan.next_raw_with_level()? {
                out.documents += 1;
                if level == 0 {
                    out.own_bytes += bytes.len() as u64;
                } else {
                    out.shared_bytes += bytes.len() as u64;
                }
            }
        }
        Ok(out)
    }

    /// WAL accounting for one project: what its records take, and for each
    /// branch which of them its history is made of, own or inherited. A
    /// report, not a read path: it reads the project's part of the WAL
    /// (from the project's creation on), looking only at each record's
    /// project and timeline.
    pub fn wal_storage(&self, project: &str) -> Result<WalStorage> {
        let meta = self.meta();
        let p = meta.projects.get(project).ok_or_else(|| StoreError::ProjectNotFound(project.into()))?;
        let until = self.visible_lsn();
        // Timeline -> the branches whose history holds it: (branch, highest
        // LSN of it they see, own?). A branch's chain is its own down to the
        // timeline made when it was created; below are its ancestors'.
        let mut holders: std::collections::HashMap<TimelineId, Vec<(&str, Lsn, bool)>> = Default::default();
        for (name, b) in &p.branches {
            let mut own = true;
            for &(timeline, cap) in &meta.chain(b.timeline, until).0 {
                holders.entry(timeline).or_default().push((name.as_str(), cap, own));
                if meta.timelines.get(&timeline).is_some_and(|t| t.created_lsn == b.created_lsn) {
                    own = false;
                }
            }
        }
        let mut out = WalStorage {
            branches: p.branches.keys().map(|n| (n.clone(), BranchWal::default())).collect(),
            ..Default::default()
        };
        for item in WalReader::open(&self.dir().join("wal"), p.created_lsn)? {
            let (pos, rec) = item?;
            if rec.lsn > until {
                break;
            }
            let entry = bson::RawDocument::from_bytes(&rec.payload)
                .map_err(|e| StoreError::Corrupt(format!("WAL record {}: {e}", rec.lsn)))?;
            if entry.get_str("project").ok() != Some(project) {
                continue;
            }
            let bytes = argon_wal::RECORD_OVERHEAD as u64 + u64::from(pos.stored_len);
            out.project_bytes += bytes;
            let timeline = match entry.get("timeline") {
                Ok(Some(bson::raw::RawBsonRef::Int64(t))) => TimelineId(t as u64),
                Ok(Some(bson::raw::RawBsonRef::Int32(t))) => TimelineId(t as u64),
                _ => continue,
            };
            if entry.get_str("kind").ok() != Some("commit") {
                continue;
            }
            for &(branch, cap, own) in holders.get(&timeline).into_iter().flatten() {
                if rec.lsn <= cap {
                    let b = out.branches.get_mut(branch).expect("every branch has a row");
                    if own {
                        b.own_bytes += bytes;
                    } else {
                        b.inherited_bytes += bytes;
                    }
                }
            }
        }
        Ok(out)
    }

    /// Bytes of the WAL's headers and records (its preallocated space not
    /// counted, unlike [`StoreStats::wal_bytes`]).
    pub fn wal_record_bytes(&self) -> u64 {
        self.shared().wal_sync.written_bytes()
    }

    /// `kept` (a reader of this store positioned at `from`) let on to the
    /// newest visible entry, or a new reader from `from` when there is
    /// none: for readers that follow the log (change streams, the oplog).
    pub fn log_resumed(&self, kept: Option<LogReader>, from: Lsn) -> Result<LogReader> {
        match kept {
            Some(mut r) => {
                r.extend_to(self.visible_lsn());
                Ok(r)
            }
            None => self.log(from),
        }
    }

    /// The log from `from` up to the newest visible entry, decoded. This
    /// reads the WAL files (for history, audit and change streams), not the
    /// index.
    pub fn log(&self, from: Lsn) -> Result<LogReader> {
        let from = from.max(Lsn(1));
        // (Near the position the writer left a mark at, when it did.)
        let mark = self.shared().wal_sync.mark_at_or_before(from);
        Ok(LogReader {
            inner: WalReader::open_near(&self.dir().join("wal"), from, mark)?,
            until: self.visible_lsn(),
            held: None,
        })
    }

    /// The log from `upto` down to `floor` (both included, `upto` at most
    /// the newest visible entry), decoded, newest first. It reads a window
    /// at a time, from the WAL mark or segment start below the window's
    /// end, forward, then hands the window out in reverse: a few hundred
    /// KiB of WAL per window where the WAL has marks (every 256 KiB, kept
    /// beside sealed segments), a segment where it has none. So the newest
    /// entries of a long history cost no more than those of a short one.
    pub fn log_newest_first(&self, floor: Lsn, upto: Lsn) -> Result<NewestFirst> {
        let dir = self.dir().join("wal");
        Ok(NewestFirst {
            segments: argon_wal::segment_starts(&dir)?,
            dir,
            marks: self.shared().wal_sync.clone(),
            floor: floor.max(Lsn(1)),
            end: upto.min(self.visible_lsn()).next(),
            window: Vec::new(),
            project: None,
        })
    }

    /// Counters for `status` and metrics.
    pub fn stats(&self) -> StoreStats {
        let meta = self.meta();
        // Bytes allocated on disk, not apparent sizes: the index file is
        // sparse (LMDB with WRITE_MAP sizes it to the whole map reservation).
        let dir_bytes = |d: PathBuf| -> u64 {
            use std::os::unix::fs::MetadataExt;
            std::fs::read_dir(d)
                .map(|rd| rd.filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.blocks() * 512).sum())
                .unwrap_or(0)
        };
        StoreStats {
            visible_lsn: self.visible_lsn(),
            projects: meta.projects.len(),
            branches: meta.projects.values().map(|p| p.branches.len()).sum(),
            timelines: meta.timelines.len(),
            commits: self.shared().stats.commits.load(Ordering::Relaxed),
            group_commits: self.shared().stats.groups.load(Ordering::Relaxed),
            wal_fsyncs: self.shared().wal_sync.fsyncs(),
            wal_fsync_time: self.shared().wal_sync.fsync_time(),
            wal_bytes: dir_bytes(self.dir().join("wal")),
            index_bytes: dir_bytes(self.dir().join("index")),
            index_rebuilt: self.shared().index_rebuilt,
        }
    }
}

/// Decoded WAL entries in LSN order: `(lsn, commit time, entry)`, up to
/// the entry visible when it opened. A reader that came to its end can be
/// let on with [`LogReader::extend_to`] and goes on from where it stopped
/// (opening a new one scans its segment from the start to the position).
pub struct LogReader {
    inner: WalReader,
    until: Lsn,
    /// A record read past `until` (written, not yet visible), kept for
    /// when the reader is let further.
    held: Option<argon_wal::Record>,
}

impl LogReader {
    /// Lets the reader go on up to `until` (the store's newer visible LSN).
    pub fn extend_to(&mut self, until: Lsn) {
        self.until = self.until.max(until);
    }
}

impl Iterator for LogReader {
    type Item = Result<(Lsn, CommitTime, Entry)>;
    fn next(&mut self) -> Option<Self::Item> {
        let rec = match self.held.take() {
            Some(rec) => rec,
            None => match self.inner.next()? {
                Ok((_, rec)) => rec,
                Err(e) => return Some(Err(e.into())),
            },
        };
        if rec.lsn > self.until {
            self.held = Some(rec);
            return None;
        }
        Some(Entry::decode(&rec.payload).map(|e| (rec.lsn, rec.time, e)))
    }
}

/// See [`Store::log_newest_first`].
pub struct NewestFirst {
    dir: std::path::PathBuf,
    segments: Vec<Lsn>,
    marks: argon_wal::SyncHandle,
    floor: Lsn,
    /// The next window ends below this.
    end: Lsn,
    /// The current window's records, oldest first (handed out from its
    /// end, decoded then: a caller that stops early decodes only what it
    /// takes, and a window can be a whole segment).
    window: Vec<argon_wal::Record>,
    /// Only entries of this project (see [`NewestFirst::of_project`]).
    project: Option<String>,
}

impl NewestFirst {
    /// Only the entries of `project`; the others are passed over without
    /// being decoded.
    pub fn of_project(mut self, project: &str) -> Self {
        self.project = Some(project.to_string());
        self
    }

    /// Reads the window below `end`.
    fn read_window(&mut self) -> Result<()> {
        let last = self.end.prev();
        let Some(&seg) = self.segments[..self.segments.partition_point(|&s| s <= last)].last() else {
            self.end = self.floor; // below the first segment: nothing more
            return Ok(());
        };
        let mark = self.marks.mark_at_or_before(last).filter(|m| m.segment == seg && m.lsn > seg);
        let start = mark.map_or(seg, |m| m.lsn).max(self.floor);
        let reader = argon_wal::WalReader::open_near(&self.dir, start, mark.filter(|m| m.lsn <= start))?;
        // A sealed segment without marks (sealed before mark files existed)
        // read whole: note marks along the way, so the next reader of it
        // reads a window, not the segment.
        let next_seg = self.segments.iter().copied().find(|&s| s > seg);
        let whole = mark.is_none() && start == seg && next_seg == Some(self.end);
        let mut learned: Vec<argon_wal::Mark> = Vec::new();
        let mut marked = None;
        for r in reader {
            let (pos, rec) = r?;
            if rec.lsn >= self.end {
                break;
            }
            if whole {
                let base = *marked.get_or_insert(pos.offset);
                if pos.offset >= base + argon_wal::MARK_EVERY {
                    learned.push(argon_wal::Mark { lsn: rec.lsn, segment: seg, offset: pos.offset });
                    marked = Some(pos.offset);
                }
            }
            self.window.push(rec);
        }
        if whole && self.window.last().is_some_and(|r| r.lsn.next() == self.end) {
            self.marks.learn_marks(&self.dir, seg, learned);
        }
        self.end = start;
        Ok(())
    }
}

impl Iterator for NewestFirst {
    type Item = Result<(Lsn, CommitTime, Entry)>;
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            while self.window.is_empty() {
                if self.end <= self.floor || self.segments.is_empty() {
                    return None;
                }
                if let Err(e) = self.read_window() {
                    self.end = self.floor; // nothing more after an error
                    return Some(Err(e));
                }
            }
            let rec = self.window.pop()?;
            if let Some(p) = &self.project {
                // (An entry whose project cannot be read is decoded: its error is reported.)
                if Entry::peek_project(&rec.payload).is_some_and(|q| q != p) {
                    continue;
                }
            }
            return Some(Entry::decode(&rec.payload).map(|e| (rec.lsn, rec.time, e)));
        }
    }
}

/// Applies every WAL record after the index's checkpoint.
fn replay(index: &Index, meta: &mut Meta, wal: &Wal) -> Result<()> {
    let from = meta.counters.applied_lsn.next();
    if from > wal.last_lsn() {
        return Ok(());
    }
    let started = std::time::Instant::now();
    let mut w = index.env.write_txn()?;
    let mut n = 0u64;
    for r in wal.reader(from)? {
        let (_, rec) = r?;
        let entry = Entry::decode(&rec.payload)?;
        index.apply(&mut w, meta, &entry, rec.lsn, rec.time)?;
        n += 1;
        if n.is_multiple_of(50_000) {
            index.put_meta(&mut w, meta)?;
            w.commit()?;
            w = index.env.write_txn()?;
        }
    }
    index.put_meta(&mut w, meta)?;
    w.commit()?;
    tracing::info!("replayed {n} WAL records from LSN {from} in {:?}", started.elapsed());
    Ok(())
}
