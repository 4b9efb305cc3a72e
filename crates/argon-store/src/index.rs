//! The derived, versioned index: an LMDB environment (via `heed`) holding
//! every document version plus the metadata needed to open quickly.
//!
//! The WAL is the source of truth; this index is derived from it and can be
//! rebuilt from it. It is written without its own fsync (LMDB `NO_SYNC`): it
//! records the LSN it covers (`applied_lsn`) in the same LMDB transaction as
//! the data, so after a crash the store replays the WAL from there.
//!
//! Tables:
//! - `docs`: versioned documents, see [`crate::keys`].
//! - `projects`: name → project, BSON.
//! - `branches`: project | 0 | branch → branch, BSON (one row per branch).
//! - `timelines`: id → timeline, BSON.
//! - `catalogs`: timeline | LSN → catalog as of that LSN, BSON.
//! - `times`: commit time | LSN → (), to map a time to an LSN.
//! - `state`: `counters` → watermarks and id counters, BSON.
//! - `idx`: versioned secondary index entries, see [`crate::secondary`].

use std::path::Path;
use std::sync::Arc;

use argon_types::{CommitTime, Lsn, TimelineId};
use heed::types::Bytes;
use heed::{Database, Env, EnvFlags, EnvOpenOptions, RoTxn, RwTxn, WithoutTls};

use argon_types::keycodec;
use bson::{Bson, Document};

use crate::entry::{Commit, Entry, Op};
use crate::error::{Result, StoreError};
use crate::keys::{self, DocKey};
use crate::meta::{
    BranchMeta, Catalog, Chain, CollectionMeta, Counters, IndexMeta, Meta, ProjectMeta, TimelineMeta,
};
use crate::secondary::{self, IndexDef};

/// The index's layout: what a data dir's index must hold to be read by
/// this version. 1: capped collections' insertion order entries (an index
/// written before them is rebuilt from the WAL, which restores them).
pub(crate) const LAYOUT: u32 = 1;

/// A document version read in place: its LSN and its bytes (`None` for a
/// tombstone).
pub type Version<'t> = (Lsn, Option<&'t [u8]>);

/// Handles to the LMDB environment and its tables.
#[derive(Clone)]
pub struct Index {
    pub env: Env<WithoutTls>,
    pub docs: Database<Bytes, Bytes>,
    projects: Database<Bytes, Bytes>,
    timelines: Database<Bytes, Bytes>,
    catalogs: Database<Bytes, Bytes>,
    times: Database<Bytes, Bytes>,
    state: Database<Bytes, Bytes>,
    /// Versioned secondary index entries, see [`crate::secondary`].
    pub idx: Database<Bytes, Bytes>,
    branches: Database<Bytes, Bytes>,
    /// Multikey markers: `timeline | index id` → the LSN of the first entry
    /// made from an array on that timeline (see [`Index::is_multikey`]).
    multikey: Database<Bytes, Bytes>,
    /// Indexes with a lower id are taken as multikey: they were built by a
    /// version without markers, so an array may hide in them unmarked.
    unmarked_below: u64,
    /// This opening's number in the process (see [`Index::instance`]).
    instance: u64,
}

/// Openings of an index in this process, for [`Index::instance`].
static OPENINGS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

const COUNTERS_KEY: &[u8] = b"counters";
/// In `state`: the id below which indexes are unmarked (see
/// [`Index::unmarked_below`]); present once markers are kept.
const UNMARKED_BELOW_KEY: &[u8] = b"multikey-unmarked-below";

fn multikey_key(tl: TimelineId, index_id: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&tl.0.to_be_bytes());
    k[8..].copy_from_slice(&index_id.to_be_bytes());
    k
}

fn u64_value(v: &[u8], what: &str) -> Result<u64> {
    Ok(u64::from_be_bytes(v.try_into().map_err(|_| StoreError::Corrupt(format!("bad {what} in index")))?))
}

fn to_bson<T: serde::Serialize>(v: &T) -> Result<Vec<u8>> {
    bson::serialize_to_vec(v).map_err(|e| StoreError::Corrupt(format!("cannot encode metadata: {e}")))
}

fn from_bson<T: serde::de::DeserializeOwned>(b: &[u8], what: &str) -> Result<T> {
    bson::deserialize_from_slice(b)
        .map_err(|e| StoreError::Corrupt(format!("undecodable {what} in index: {e}")))
}

fn time_key(time: CommitTime, lsn: Lsn) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&((time.0 as u64) ^ (1 << 63)).to_be_bytes());
    k[8..].copy_from_slice(&lsn.to_be_bytes());
    k
}

/// (commit time, LSN) of a `times` key.
fn decode_time_key(k: &[u8]) -> Option<(CommitTime, Lsn)> {
    let time = u64::from_be_bytes(k.get(..8)?.try_into().ok()?) ^ (1 << 63);
    let lsn = u64::from_be_bytes(k.get(8..16)?.try_into().ok()?);
    Some((CommitTime(time as i64), Lsn(lsn)))
}

fn branch_key(project: &str, branch: &str) -> Vec<u8> {
    [project.as_bytes(), &[0], branch.as_bytes()].concat()
}

fn catalog_key(tl: TimelineId, lsn: Lsn) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&tl.0.to_be_bytes());
    k[8..].copy_from_slice(&lsn.to_be_bytes());
    k
}

impl Index {
    /// Opens (creating) the index in `dir`. `map_bytes` is LMDB's address
    /// space reservation, not memory use.
    pub fn open(dir: &Path, map_bytes: usize) -> Result<Index> {
        std::fs::create_dir_all(dir)?;
        let mut opts = EnvOpenOptions::new().read_txn_without_tls();
        opts.map_size(map_bytes).max_dbs(16).max_readers(1024);
        // SAFETY: NO_SYNC and NO_READAHEAD only trade durability of the
        // index (the WAL is the durable copy) and readahead; the environment
        // is opened once per process, guarded by the data dir lock.
        let env = unsafe {
            opts.flags(EnvFlags::NO_SYNC | EnvFlags::NO_READ_AHEAD | EnvFlags::WRITE_MAP);
            opts.open(dir)?
        };
        let mut wtxn = env.write_txn()?;
        let docs = env.create_database(&mut wtxn, Some("docs"))?;
        let projects = env.create_database(&mut wtxn, Some("projects"))?;
        let timelines = env.create_database(&mut wtxn, Some("timelines"))?;
        let catalogs = env.create_database(&mut wtxn, Some("catalogs"))?;
        let times = env.create_database(&mut wtxn, Some("times"))?;
        let state = env.create_database(&mut wtxn, Some("state"))?;
        let idx = env.create_database(&mut wtxn, Some("idx"))?;
        let branches = env.create_database(&mut wtxn, Some("branches"))?;
        let multikey = env.create_database(&mut wtxn, Some("multikey"))?;
        let unmarked_below = match state.get(&wtxn, UNMARKED_BELOW_KEY)? {
            Some(v) => u64_value(v, "multikey watermark")?,
            None => {
                // First opened by a version that keeps markers: indexes
                // already holding entries may be multikey without a marker.
                let below = if idx.is_empty(&wtxn)? {
                    0
                } else {
                    match state.get(&wtxn, COUNTERS_KEY)? {
                        Some(c) => from_bson::<Counters>(c, "counters")?.next_collection,
                        None => u64::MAX,
                    }
                };
                state.put(&mut wtxn, UNMARKED_BELOW_KEY, &below.to_be_bytes()[..])?;
                below
            }
        };
        wtxn.commit()?;
        Ok(Index {
            env,
            docs,
            projects,
            timelines,
            catalogs,
            times,
            state,
            idx,
            branches,
            multikey,
            unmarked_below,
            instance: OPENINGS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        })
    }

    /// A number for this opening of the index, unique in the process: tells
    /// one data dir's snapshots from another's without hashing its path.
    pub fn instance(&self) -> u64 {
        self.instance
    }

    /// Whether index `index_id` may hold several entries for one document
    /// (a document had an array on a key path) in what `chain` sees. Sticky,
    /// as in MongoDB: once an array was indexed, later reads on that
    /// timeline treat the index as multikey even if the array is gone. A
    /// read below the first array, or on a branch forked before it, does
    /// not.
    pub fn is_multikey(&self, txn: &RoTxn, chain: &Chain, index_id: u64) -> Result<bool> {
        if index_id < self.unmarked_below {
            return Ok(true);
        }
        Ok(self.multikey_since(txn, chain, index_id)?.is_some())
    }

    /// The first LSN at which `chain` sees index `index_id` multikey.
    fn multikey_since(&self, txn: &RoTxn, chain: &Chain, index_id: u64) -> Result<Option<Lsn>> {
        let mut first: Option<Lsn> = None;
        for &(tl, bound) in &chain.0 {
            if let Some(v) = self.multikey.get(txn, &multikey_key(tl, index_id))? {
                let at = Lsn(u64_value(v, "multikey marker")?);
                if at <= bound {
                    first = Some(first.map_or(at, |f| f.min(at)));
                }
            }
        }
        Ok(first)
    }

    /// Records that index `index_id` got an entry from an array at `lsn` on
    /// `tl` (the first such LSN is kept).
    fn mark_multikey(&self, w: &mut RwTxn, tl: TimelineId, index_id: u64, lsn: Lsn) -> Result<()> {
        let key = multikey_key(tl, index_id);
        if self.multikey.get(w, &key)?.is_none() {
            self.multikey.put(w, &key, &lsn.0.to_be_bytes()[..])?;
        }
        Ok(())
    }

    /// Gives the timeline a materialization creates (`tl`, reading `source`
    /// as it was) the markers of the indexes it copies.
    pub(crate) fn copy_multikey(
        &self,
        w: &mut RwTxn,
        source: &Chain,
        tl: TimelineId,
        index_ids: impl Iterator<Item = u64>,
    ) -> Result<()> {
        for id in index_ids {
            if let Some(at) = self.multikey_since(w, source, id)? {
                self.multikey.put(w, &multikey_key(tl, id), &at.0.to_be_bytes()[..])?;
            }
        }
        Ok(())
    }

    /// Loads all metadata (small: projects, branches, timelines, catalogs).
    pub fn load_meta(&self) -> Result<Meta> {
        let txn = self.env.read_txn()?;
        let mut meta = Meta::default();
        if let Some(c) = self.state.get(&txn, COUNTERS_KEY)? {
            meta.counters = from_bson::<Counters>(c, "counters")?;
        }
        for r in self.projects.iter(&txn)? {
            let (_, v) = r?;
            let p: ProjectMeta = from_bson(v, "project")?;
            meta.projects.insert(p.name.clone(), Arc::new(p));
        }
        for r in self.branches.iter(&txn)? {
            let (k, v) = r?;
            let project = k.split(|b| *b == 0).next().map(String::from_utf8_lossy).unwrap_or_default();
            let b: BranchMeta = from_bson(v, "branch")?;
            if let Some(p) = meta.projects.get_mut(project.as_ref()) {
                Arc::make_mut(p).branches.insert(b.name.clone(), b);
            }
        }
        for r in self.timelines.iter(&txn)? {
            let (_, v) = r?;
            let t: TimelineMeta = from_bson(v, "timeline")?;
            meta.timelines.insert(t.id, Arc::new(t));
        }
        // In id order, so each ancestor's run is known before its successor.
        let continuing: Vec<TimelineId> =
            meta.timelines.values().filter(|t| t.continues).map(|t| t.id).collect();
        for id in continuing {
            meta.note_continuation(id);
        }
        for r in self.catalogs.iter(&txn)? {
            let (k, v) = r?;
            if k.len() != 16 {
                return Err(StoreError::Corrupt("bad catalog key".into()));
            }
            let tl = TimelineId(u64::from_be_bytes(k[..8].try_into().unwrap_or_default()));
            let lsn = Lsn(u64::from_be_bytes(k[8..].try_into().unwrap_or_default()));
            let c: Catalog = from_bson(v, "catalog")?;
            if let Some(t) = meta.timelines.get_mut(&tl) {
                Arc::make_mut(t).catalogs.insert(lsn, Arc::new(c));
            }
        }
        meta.materializing =
            meta.timelines.values().filter(|t| t.materialize.is_some()).map(|t| t.id).collect();
        Ok(meta)
    }

    /// Empties every table (before a rebuild from the WAL, which marks
    /// every multikey index again).
    pub fn clear(&mut self) -> Result<()> {
        let mut w = self.env.write_txn()?;
        for db in [
            &self.docs,
            &self.projects,
            &self.timelines,
            &self.catalogs,
            &self.times,
            &self.state,
            &self.idx,
            &self.branches,
            &self.multikey,
        ] {
            db.clear(&mut w)?;
        }
        self.state.put(&mut w, UNMARKED_BELOW_KEY, &0u64.to_be_bytes()[..])?;
        w.commit()?;
        self.unmarked_below = 0;
        Ok(())
    }

    /// Records the watermarks; called once per group commit.
    /// Writes the metadata rows that entries changed (dirty timelines, the
    /// counters); called once before each index transaction commits.
    pub fn put_meta(&self, w: &mut RwTxn, meta: &mut Meta) -> Result<()> {
        for tl in std::mem::take(&mut meta.dirty_timelines) {
            if let Some(t) = meta.timelines.get(&tl) {
                self.put_timeline(w, t)?;
            }
        }
        self.state.put(w, COUNTERS_KEY, &to_bson(&meta.counters)?)?;
        Ok(())
    }

    fn put_project(&self, w: &mut RwTxn, p: &ProjectMeta) -> Result<()> {
        self.projects.put(w, p.name.as_bytes(), &to_bson(p)?)?;
        for b in p.branches.values() {
            self.put_branch(w, &p.name, b)?;
        }
        Ok(())
    }

    fn put_branch(&self, w: &mut RwTxn, project: &str, b: &BranchMeta) -> Result<()> {
        self.branches.put(w, &branch_key(project, &b.name), &to_bson(b)?)?;
        Ok(())
    }

    /// Stores the catalog a timeline has from `lsn` on.
    pub(crate) fn put_catalog(&self, w: &mut RwTxn, tl: TimelineId, lsn: Lsn, c: &Catalog) -> Result<()> {
        self.catalogs.put(w, &catalog_key(tl, lsn), &to_bson(c)?)?;
        Ok(())
    }

    fn put_timeline(&self, w: &mut RwTxn, t: &TimelineMeta) -> Result<()> {
        self.timelines.put(w, &t.id.0.to_be_bytes(), &to_bson(t)?)?;
        Ok(())
    }

    /// The newest LSN whose commit time is at or before `time` (0 if none).
    pub fn lsn_at_time(&self, txn: &RoTxn, time: CommitTime) -> Result<Lsn> {
        let key = time_key(time, Lsn::MAX);
        let row = self.times.get_lower_than_or_equal_to(txn, &key)?;
        Ok(row.and_then(|(k, _)| decode_time_key(k)).map_or(Lsn::ZERO, |(_, lsn)| lsn))
    }

    /// Commit time of an LSN, if it is known. The times table is ordered by
    /// (time, LSN) and both grow together: a recent LSN is a few rows back
    /// from the newest; an older one is found by bisecting over time with
    /// [`Index::lsn_at_time`] (64 seeks at most, however long the history).
    pub fn time_of_lsn(&self, txn: &RoTxn, lsn: Lsn) -> Result<Option<CommitTime>> {
        const RECENT: usize = 16;
        for r in self.times.rev_iter(txn)?.take(RECENT) {
            let (k, _) = r?;
            let Some((time, l)) = decode_time_key(k) else { return Ok(None) };
            if l == lsn {
                return Ok(Some(time));
            }
            if l < lsn {
                return Ok(None);
            }
        }
        let bound = |row: Option<(&[u8], &[u8])>| row.and_then(|(k, _)| decode_time_key(k)).map(|(t, _)| t.0);
        let (Some(mut lo), Some(mut hi)) = (bound(self.times.first(txn)?), bound(self.times.last(txn)?))
        else {
            return Ok(None);
        };
        // The first time whose newest LSN reaches `lsn` is `lsn`'s own.
        while lo < hi {
            let mid = lo + ((i128::from(hi) - i128::from(lo)) / 2) as i64;
            if self.lsn_at_time(txn, CommitTime(mid))? >= lsn {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        Ok(self.times.get(txn, &time_key(CommitTime(lo), lsn))?.map(|_| CommitTime(lo)))
    }

    /// The newest version of a document visible through `chain`: its LSN and
    /// its bytes (`None` for a tombstone). `None` if no version is visible.
    pub fn get_version<'t>(
        &self,
        txn: &'t RoTxn,
        chain: &Chain,
        coll_id: u64,
        id_key: &[u8],
    ) -> Result<Option<Version<'t>>> {
        for &(tl, bound) in &chain.0 {
            let seek = DocKey::from_parts(tl, coll_id, id_key).into_version(bound);
            if let Some((k, v)) = self.docs.get_greater_than_or_equal_to(txn, seek.as_bytes())? {
                if let Some((doc, lsn)) = keys::split_version_key(k) {
                    if doc == seek.doc_bytes() {
                        return Ok(Some((lsn, keys::value::doc_bytes(v))));
                    }
                }
            }
        }
        Ok(None)
    }

    /// Applies one WAL entry at `lsn` to the index and to `meta`. This is the
    /// only function that changes derived state, used both by the commit
    /// thread and by recovery, so replay is exactly what happened live.
    pub fn apply(
        &self,
        w: &mut RwTxn,
        meta: &mut Meta,
        entry: &Entry,
        lsn: Lsn,
        time: CommitTime,
    ) -> Result<()> {
        match entry {
            Entry::CreateProject { project, main_timeline, .. } => {
                let main = BranchMeta {
                    name: argon_types::names::MAIN_BRANCH.to_string(),
                    parent: None,
                    timeline: *main_timeline,
                    fork_lsn: Lsn::ZERO,
                    created_lsn: lsn,
                    created_at: time,
                    expires_at: None,
                    protected: false,
                };
                let p = ProjectMeta {
                    name: project.clone(),
                    created_lsn: lsn,
                    created_at: time,
                    branches: [(main.name.clone(), main)].into_iter().collect(),
                };
                self.put_project(w, &p)?;
                meta.projects.insert(project.clone(), Arc::new(p));
                self.new_timeline(w, meta, *main_timeline, project, None, lsn, time)?;
            }
            Entry::DropProject { project, .. } => {
                meta.projects.remove(project);
                self.projects.delete(w, project.as_bytes())?;
                let prefix = branch_key(project, "");
                let end = keys::prefix_end(&prefix);
                self.branches.delete_range(
                    w,
                    &(
                        std::ops::Bound::Included(prefix.as_slice()),
                        std::ops::Bound::Excluded(end.as_slice()),
                    ),
                )?;
            }
            Entry::CreateBranch {
                project,
                branch,
                parent,
                timeline,
                ancestor,
                fork_lsn,
                expires_at_ms,
                ..
            } => {
                let b = BranchMeta {
                    name: branch.clone(),
                    parent: Some(parent.clone()),
                    timeline: *timeline,
                    fork_lsn: *fork_lsn,
                    created_lsn: lsn,
                    created_at: time,
                    expires_at: expires_at_ms.map(CommitTime::from_millis),
                    protected: false,
                };
                self.update_project(w, meta, project, branch, |p| {
                    p.branches.insert(branch.clone(), b);
                })?;
                self.new_timeline(w, meta, *timeline, project, Some((*ancestor, *fork_lsn)), lsn, time)?;
            }
            Entry::DeleteBranch { project, branch, .. } => {
                self.update_project(w, meta, project, branch, |p| {
                    p.branches.remove(branch);
                })?;
            }
            Entry::ResetBranch { project, branch, timeline, ancestor, to_lsn, .. } => {
                self.update_project(w, meta, project, branch, |p| {
                    if let Some(b) = p.branches.get_mut(branch) {
                        b.timeline = *timeline;
                    }
                })?;
                self.new_timeline(w, meta, *timeline, project, Some((*ancestor, *to_lsn)), lsn, time)?;
            }
            Entry::ProtectBranch { project, branch, protected, .. } => {
                self.update_project(w, meta, project, branch, |p| {
                    if let Some(b) = p.branches.get_mut(branch) {
                        b.protected = *protected;
                    }
                })?;
            }
            Entry::Commit(c) => self.apply_commit(w, meta, c, lsn, time)?,
        }
        self.times.put(w, &time_key(time, lsn), &[])?;
        meta.counters.applied_lsn = lsn;
        meta.counters.applied_time = time;
        Ok(())
    }

    /// Changes one branch of a project and persists just that branch's row.
    pub(crate) fn update_project(
        &self,
        w: &mut RwTxn,
        meta: &mut Meta,
        project: &str,
        branch: &str,
        f: impl FnOnce(&mut ProjectMeta),
    ) -> Result<()> {
        let p = meta
            .projects
            .get_mut(project)
            .ok_or_else(|| StoreError::Corrupt(format!("WAL entry names unknown project {project:?}")))?;
        let p = Arc::make_mut(p);
        f(p);
        match p.branches.get(branch) {
            Some(b) => self.put_branch(w, project, b),
            None => {
                self.branches.delete(w, &branch_key(project, branch))?;
                Ok(())
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new_timeline(
        &self,
        w: &mut RwTxn,
        meta: &mut Meta,
        id: TimelineId,
        project: &str,
        ancestor: Option<(TimelineId, Lsn)>,
        lsn: Lsn,
        time: CommitTime,
    ) -> Result<()> {
        // A new branch starts with its ancestor's documents.
        let live = ancestor.and_then(|(a, _)| meta.timelines.get(&a)).map_or(0, |a| a.live);
        let t = TimelineMeta {
            id,
            project: project.to_string(),
            ancestor,
            created_lsn: lsn,
            last_lsn: lsn,
            last_time: time,
            commits: 0,
            catalogs: Default::default(),
            continues: false,
            live,
            superseded: 0,
            written_bytes: 0,
            materialize: None,
            materialized_at: None,
            run_root: None,
        };
        self.put_timeline(w, &t)?;
        meta.timelines.insert(id, Arc::new(t));
        meta.counters.next_timeline = meta.counters.next_timeline.max(id.0 + 1);
        Ok(())
    }

    fn apply_commit(
        &self,
        w: &mut RwTxn,
        meta: &mut Meta,
        c: &Commit,
        lsn: Lsn,
        time: CommitTime,
    ) -> Result<()> {
        if let Some(old) = c.continues {
            crate::materialize::begin(self, w, meta, c, old, Lsn(lsn.0 - 1), lsn, time)?;
        }
        let chain = meta.read_chain(c.timeline, Lsn::MAX);
        let base = meta.catalog(&chain);
        let mut catalog: Option<Catalog> = None;
        let mut value = Vec::with_capacity(256);
        let (mut born, mut died, mut superseded) = (0u64, 0u64, 0u64);
        let mut written_bytes = 0u64;
        for (op_index, op) in c.ops.iter().enumerate() {
            match op {
                Op::Doc { coll, coll_id, id, post, pre, .. } => {
                    written_bytes += post.as_ref().map_or(0, |d| d.as_bytes().len() as u64);
                    match (pre.is_some(), post.is_some()) {
                        (false, true) => born += 1,
                        (true, false) => (died, superseded) = (died + 1, superseded + 1),
                        (true, true) => superseded += 1,
                        (false, false) => {}
                    }
                    let key = DocKey::new(c.timeline, *coll_id, id).into_version(lsn);
                    value.clear();
                    match post {
                        Some(doc) => {
                            value.push(keys::value::LIVE);
                            value.extend_from_slice(doc.as_bytes());
                        }
                        None => value.push(keys::value::TOMBSTONE),
                    }
                    self.docs.put(w, key.as_bytes(), &value)?;
                    let cat = catalog.as_ref().unwrap_or(&base);
                    let cm = cat.get(coll).filter(|cm| cm.id == *coll_id);
                    if cm.is_some_and(|cm| crate::capped::cap_of(&cm.options).is_some()) {
                        let change = (pre.is_some(), post.is_some());
                        let at = (lsn, op_index as u32);
                        crate::capped::apply(self, w, &chain, c.timeline, *coll_id, id, change, at)?;
                    }
                    if let Some(cm) = cm.filter(|cm| !cm.indexes.is_empty()) {
                        // Secondary keys need the fields: decode once per change.
                        let decode = |d: &Option<bson::RawDocumentBuf>| -> Result<Option<Document>> {
                            d.as_ref()
                                .map(|d| Document::try_from(d.as_ref()))
                                .transpose()
                                .map_err(|e| StoreError::Corrupt(format!("bad document: {e}")))
                        };
                        let (pre, post) = (decode(pre)?, decode(post)?);
                        for ix in &cm.indexes {
                            self.update_index_entries(
                                w,
                                c.timeline,
                                ix,
                                id,
                                pre.as_ref(),
                                post.as_ref(),
                                lsn,
                            )?;
                        }
                    }
                }
                ddl => {
                    let cat = catalog.get_or_insert_with(|| (*base).clone());
                    cat.apply(ddl, lsn).map_err(StoreError::Corrupt)?;
                    match ddl {
                        Op::CreateCollection { coll_id, .. } => {
                            meta.counters.next_collection = meta.counters.next_collection.max(coll_id + 1);
                        }
                        Op::CreateIndex { coll, index_id, .. } => {
                            meta.counters.next_collection = meta.counters.next_collection.max(index_id + 1);
                            let cm = cat.get(coll).cloned().ok_or_else(|| {
                                StoreError::Corrupt(format!("index on unknown collection {coll}"))
                            })?;
                            if let Some(ix) = cm.indexes.iter().find(|i| i.id == *index_id) {
                                // The visible documents: a read's chain.
                                let chain = meta.read_chain(c.timeline, Lsn::MAX);
                                self.build_index(w, &chain, c.timeline, cm.id, ix, lsn)?;
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        let t = meta
            .timelines
            .get_mut(&c.timeline)
            .ok_or_else(|| StoreError::Corrupt(format!("WAL entry names unknown timeline {}", c.timeline)))?;
        let t = Arc::make_mut(t);
        t.last_lsn = lsn;
        t.last_time = time;
        t.commits += 1;
        t.live = (t.live + born).saturating_sub(died);
        t.superseded += superseded;
        t.written_bytes += written_bytes;
        if let Some(cat) = catalog {
            self.catalogs.put(w, &catalog_key(c.timeline, lsn), &to_bson(&cat)?)?;
            t.catalogs.insert(lsn, Arc::new(cat));
        }
        meta.dirty_timelines.insert(c.timeline);
        Ok(())
    }

    /// Writes the index entries a document change adds and removes.
    #[allow(clippy::too_many_arguments)]
    fn update_index_entries(
        &self,
        w: &mut RwTxn,
        tl: TimelineId,
        ix: &IndexMeta,
        id: &Bson,
        pre: Option<&Document>,
        post: Option<&Document>,
        lsn: Lsn,
    ) -> Result<()> {
        let def = IndexDef::from_spec(&ix.spec);
        let old = pre.map(|d| def.key_values(d)).unwrap_or_default();
        let new = post.map(|d| def.key_values(d)).unwrap_or_default();
        let id_key = keycodec::encode(id);
        for gone in old.difference(&new) {
            let k = DocKey::from_parts(tl, ix.id, &secondary::entry_key(gone, id)).into_version(lsn);
            self.idx.put(w, k.as_bytes(), &keys::value::tombstone())?;
        }
        for added in new.difference(&old) {
            let k = DocKey::from_parts(tl, ix.id, &secondary::entry_key(added, id)).into_version(lsn);
            self.idx.put(w, k.as_bytes(), &keys::value::live(&id_key))?;
        }
        if !new.is_empty() && post.is_some_and(|d| def.has_array(d)) {
            self.mark_multikey(w, tl, ix.id, lsn)?;
        }
        Ok(())
    }

    /// Builds a new index's entries for every document visible on the
    /// timeline, in bounded batches (never the whole collection in memory).
    fn build_index(
        &self,
        w: &mut RwTxn,
        chain: &Chain,
        tl: TimelineId,
        coll_id: u64,
        ix: &IndexMeta,
        lsn: Lsn,
    ) -> Result<()> {
        const BATCH: usize = 4096;
        let def = IndexDef::from_spec(&ix.spec);
        let mut after: Option<Vec<u8>> = None;
        let mut multikey = false;
        loop {
            let mut entries: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(BATCH);
            let mut docs = 0;
            {
                let lower = match &after {
                    Some(a) => std::ops::Bound::Excluded(a.as_slice()),
                    None => std::ops::Bound::Unbounded,
                };
                let mut scan = crate::snapshot::scan_chain(&self.docs, w, chain, coll_id, lower, None)?;
                while docs < BATCH {
                    let Some((id_key, bytes)) = scan.next_raw()? else { break };
                    let doc = crate::snapshot::decode_doc(bytes)?;
                    let id = doc.get("_id").cloned().unwrap_or(Bson::Null);
                    let kvs = def.key_values(&doc);
                    multikey |= !kvs.is_empty() && def.has_array(&doc);
                    for kv in kvs {
                        let k =
                            DocKey::from_parts(tl, ix.id, &secondary::entry_key(&kv, &id)).into_version(lsn);
                        entries.push((k.as_bytes().to_vec(), keys::value::live(id_key)));
                    }
                    after = Some(id_key.to_vec());
                    docs += 1;
                }
            }
            for (k, v) in &entries {
                self.idx.put(w, k, v)?;
            }
            if docs < BATCH {
                break;
            }
        }
        if multikey {
            self.mark_multikey(w, tl, ix.id, lsn)?;
        }
        Ok(())
    }
}

impl Catalog {
    /// Applies a catalog operation. Used by the commit thread to validate a
    /// request and by [`Index::apply`], so both agree on the outcome.
    pub fn apply(&mut self, op: &Op, lsn: Lsn) -> std::result::Result<(), String> {
        match op {
            Op::CreateCollection { name, coll_id, options } => {
                if self.collections.contains_key(name) {
                    return Err(format!("collection {name} already exists"));
                }
                self.collections.insert(
                    name.clone(),
                    CollectionMeta {
                        id: *coll_id,
                        created_lsn: lsn,
                        options: options.clone(),
                        indexes: vec![],
                    },
                );
            }
            Op::DropCollection { name, .. } => {
                self.collections.remove(name).ok_or_else(|| format!("collection {name} does not exist"))?;
            }
            Op::RenameCollection { from, to, .. } => {
                if self.collections.contains_key(to) {
                    return Err(format!("collection {to} already exists"));
                }
                let c = self
                    .collections
                    .remove(from)
                    .ok_or_else(|| format!("collection {from} does not exist"))?;
                self.collections.insert(to.clone(), c);
            }
            Op::CreateIndex { coll, index_id, spec } => {
                let c = self
                    .collections
                    .get_mut(coll)
                    .ok_or_else(|| format!("collection {coll} does not exist"))?;
                let name = spec.get_str("name").unwrap_or_default();
                c.indexes.retain(|i| i.name() != name);
                c.indexes.push(IndexMeta { id: *index_id, created_lsn: lsn, spec: spec.clone() });
            }
            Op::DropIndex { coll, name } => {
                let c = self
                    .collections
                    .get_mut(coll)
                    .ok_or_else(|| format!("collection {coll} does not exist"))?;
                c.indexes.retain(|i| i.name() != name);
            }
            Op::SetCollectionOptions { coll, options } => {
                let c = self
                    .collections
                    .get_mut(coll)
                    .ok_or_else(|| format!("collection {coll} does not exist"))?;
                c.options = options.clone();
            }
            Op::SetIndexOptions { coll, name, spec } => {
                let c = self
                    .collections
                    .get_mut(coll)
                    .ok_or_else(|| format!("collection {coll} does not exist"))?;
                let index = c
                    .indexes
                    .iter_mut()
                    .find(|i| i.name() == name)
                    .ok_or_else(|| format!("index {name} of {coll} does not exist"))?;
                index.spec = spec.clone();
            }
            Op::Doc { .. } => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A data dir whose indexes were built before markers existed: every
    /// index it already has counts as multikey (an array may hide in it
    /// unmarked); indexes created later are tracked.
    #[test]
    fn indexes_from_before_markers_count_as_multikey() {
        let dir = tempfile::tempdir().unwrap();
        let chain = Chain(vec![(TimelineId(1), Lsn(100))]);
        {
            let index = Index::open(dir.path(), 16 << 20).unwrap();
            assert!(!index.is_multikey(&index.env.read_txn().unwrap(), &chain, 3).unwrap(), "fresh: tracked");
            // Make it look like an older version's index: entries, the
            // counters, and no watermark.
            let mut w = index.env.write_txn().unwrap();
            index.idx.put(&mut w, b"an index entry", b"x").unwrap();
            let counters = Counters { next_collection: 5, ..Counters::default() };
            index.state.put(&mut w, COUNTERS_KEY, &to_bson(&counters).unwrap()).unwrap();
            index.state.delete(&mut w, UNMARKED_BELOW_KEY).unwrap();
            w.commit().unwrap();
        }
        for _ in 0..2 {
            // The watermark is kept, so a second open agrees.
            let index = Index::open(dir.path(), 16 << 20).unwrap();
            let txn = index.env.read_txn().unwrap();
            assert!(index.is_multikey(&txn, &chain, 3).unwrap(), "an index of the older version");
            assert!(!index.is_multikey(&txn, &chain, 5).unwrap(), "an index created since");
        }
        let mut index = Index::open(dir.path(), 16 << 20).unwrap();
        index.clear().unwrap();
        let txn = index.env.read_txn().unwrap();
        assert!(!index.is_multikey(&txn, &chain, 3).unwrap(), "a rebuild marks every index again");
    }
}
