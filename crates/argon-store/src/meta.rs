//! The store's metadata: projects, branches, timelines and the versioned
//! catalog of collections and indexes.
//!
//! A **branch** is a name that points at a **timeline**. A timeline has an
//! optional ancestor timeline and the LSN it forked at (`fork_lsn`); reading
//! a branch at LSN `L` reads its timeline at `L`, then falls through to the
//! ancestor at `min(L, fork_lsn)`, and so on: the [`Chain`]. Nothing is
//! copied when a branch is created or reset.
//!
//! The catalog (which collections and indexes exist, and their ids) is
//! versioned the same way: each timeline keeps the catalog as of every LSN
//! that changed it, and a read finds the newest one at or below its LSN
//! along the chain.

use std::collections::BTreeMap;

// Persistent maps: cloning the metadata for each group commit is O(1) and a
// change copies one path, however many projects, branches and timelines exist.
use imbl::OrdMap;
use std::sync::Arc;

use argon_types::{CommitTime, Lsn, TimelineId};
use bson::Document;
use serde::{Deserialize, Serialize};

/// A branch as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BranchMeta {
    pub name: String,
    /// The branch it was created from (`None` for `main`).
    pub parent: Option<String>,
    /// The timeline this name points at now (changes on reset).
    pub timeline: TimelineId,
    /// The LSN this branch's history forked from its parent (0 for `main`).
    pub fork_lsn: Lsn,
    /// The LSN of the entry that created the branch.
    pub created_lsn: Lsn,
    pub created_at: CommitTime,
    pub expires_at: Option<CommitTime>,
    pub protected: bool,
}

/// A project as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProjectMeta {
    pub name: String,
    pub created_lsn: Lsn,
    pub created_at: CommitTime,
    /// Stored one row per branch (see [`crate::index`]), so a branch
    /// operation writes one small row however many branches exist.
    #[serde(skip)]
    pub branches: OrdMap<String, BranchMeta>,
}

/// A timeline as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelineMeta {
    pub id: TimelineId,
    pub project: String,
    /// The timeline this one continues, and the last LSN of it that is visible here.
    pub ancestor: Option<(TimelineId, Lsn)>,
    pub created_lsn: Lsn,
    /// The LSN of the newest entry written on this timeline (its head).
    pub last_lsn: Lsn,
    /// Time of that entry.
    pub last_time: CommitTime,
    /// Number of commit entries written on this timeline.
    pub commits: u64,
    /// Catalog versions on this timeline, by the LSN that produced them.
    #[serde(skip)]
    pub catalogs: OrdMap<Lsn, Arc<Catalog>>,
    /// This timeline continues its ancestor for the same branch (the
    /// branch moved here to materialize its state, see
    /// [`crate::materialize`]), rather than forking from another branch or
    /// a reset point.
    #[serde(default)]
    pub continues: bool,
    /// Documents visible on the timeline, estimated from the changes
    /// applied (inherited from the ancestor at creation): the size of a
    /// materialization, against which `superseded` is weighed.
    #[serde(default)]
    pub live: u64,
    /// Versions written here that replaced or deleted an older one: what a
    /// historical scan of this timeline steps over.
    #[serde(default)]
    pub superseded: u64,
    /// Bytes of the document versions written here (their post-images;
    /// copies made by a materialization not counted): the size reported
    /// for the branches whose own history this is. (0 in an index written
    /// before it was kept.)
    #[serde(default)]
    pub written_bytes: u64,
    /// Copying of the ancestor's visible state into this timeline, while
    /// it is under way.
    #[serde(default)]
    pub materialize: Option<MaterializeTask>,
    /// Set once the copy is complete: reads at or after this LSN need no
    /// ancestor (see [`Meta::read_chain`]).
    #[serde(default)]
    pub materialized_at: Option<Lsn>,
    /// For a timeline that continues another: the first timeline of its
    /// run of continuations (the one that does not continue), whose entry
    /// in [`Meta::runs`] lists them all. Derived, not stored.
    #[serde(skip)]
    pub run_root: Option<TimelineId>,
}

/// What is left of a materialization: copy every version visible at `at`
/// through the ancestor chain into the timeline, table by table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MaterializeTask {
    /// The last LSN of the ancestor visible on the timeline.
    pub at: Lsn,
    /// Still to copy, in order: (table, collection or index id).
    pub todo: Vec<(CopyTable, u64)>,
    /// The last sub-key copied of `todo[0]`.
    pub after: Option<bson::Binary>,
}

/// Which table of the index a materialization copies from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CopyTable {
    Docs,
    Indexes,
}

/// The collections and indexes visible at one point of one branch.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    pub collections: BTreeMap<String, CollectionMeta>,
}

/// One collection in a catalog.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CollectionMeta {
    /// Stable id used in index keys; a dropped and re-created collection gets a new one.
    pub id: u64,
    pub created_lsn: Lsn,
    pub options: Document,
    /// Secondary indexes, in creation order.
    pub indexes: Vec<IndexMeta>,
}

/// One secondary index in a catalog.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IndexMeta {
    /// Stable id used in index entry keys.
    pub id: u64,
    /// The LSN of the entry that created it (its entries exist from there on).
    pub created_lsn: Lsn,
    /// The spec as given (`{v, key, name, unique, sparse, ...}`).
    pub spec: Document,
}

impl IndexMeta {
    pub fn name(&self) -> &str {
        self.spec.get_str("name").unwrap_or_default()
    }
}

/// Counters and watermarks of the whole data dir.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    /// The last LSN whose effects are in the index.
    pub applied_lsn: Lsn,
    /// What the index holds ([`crate::index::LAYOUT`]); an index of an older
    /// layout is rebuilt from the WAL when opened. (0: before it was kept.)
    #[serde(default)]
    pub layout: u32,
    /// Commit time of that LSN.
    pub applied_time: CommitTime,
    pub next_timeline: u64,
    pub next_collection: u64,
}

/// The whole metadata, shared by readers as an immutable `Arc<Meta>` and
/// replaced by the commit thread after each group commit.
#[derive(Clone, Debug, Default)]
pub struct Meta {
    pub projects: OrdMap<String, Arc<ProjectMeta>>,
    pub timelines: OrdMap<TimelineId, Arc<TimelineMeta>>,
    pub counters: Counters,
    /// Timelines changed since their rows were last written to the index:
    /// written once per group commit, not once per entry.
    pub dirty_timelines: std::collections::BTreeSet<TimelineId>,
    /// Timelines with a [`MaterializeTask`] under way, oldest first.
    pub materializing: std::collections::BTreeSet<TimelineId>,
    /// Runs of continuations, by their first timeline: every timeline that
    /// continued it or one of its continuations, in order, with the LSN it
    /// continued at. Lets a read at an old LSN jump over the continuations
    /// made after it (see [`Meta::cut_chain`]) instead of stepping through
    /// one per materialization. Derived, not stored.
    pub runs: OrdMap<TimelineId, imbl::Vector<(Lsn, TimelineId)>>,
}

/// The timelines a read consults, child first, each with the highest LSN
/// visible on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain(pub Vec<(TimelineId, Lsn)>);

impl Meta {
    /// The chain for reading `timeline` at `lsn`.
    pub fn chain(&self, timeline: TimelineId, lsn: Lsn) -> Chain {
        let mut out = Vec::new();
        let mut cur = Some((timeline, lsn));
        while let Some((tl, bound)) = cur {
            out.push((tl, bound));
            cur = self.timelines.get(&tl).and_then(|t| t.ancestor).map(|(anc, fork)| (anc, fork.min(bound)));
        }
        Chain(out)
    }

    /// The chain a data read needs: [`Meta::chain`] cut after the first
    /// timeline materialized at or below its bound, whose own versions
    /// already hold everything its ancestors show. Same answers, fewer
    /// levels; but a document deleted before the cut is simply absent
    /// (its tombstone is not copied): see [`Meta::check_chain`].
    pub fn read_chain(&self, timeline: TimelineId, lsn: Lsn) -> Chain {
        self.cut_chain(timeline, lsn, Lsn::MAX)
    }

    /// The chain a write's conflict check needs: it must find every version
    /// written after `base` (the snapshot the write was computed from),
    /// tombstones included. A materialized timeline's ancestors hold only
    /// versions at or below its materialization LSN, so when that is at or
    /// below `base` the chain is cut there as for a read; otherwise it goes
    /// on. The length stays independent of how often the branch was
    /// materialized before `base`, where [`Meta::chain`] grows with it.
    pub fn check_chain(&self, timeline: TimelineId, base: Lsn) -> Chain {
        self.cut_chain(timeline, Lsn::MAX, base)
    }

    /// [`Meta::chain`] at `lsn`, cut after the first timeline materialized
    /// at an LSN at or below both the bound it is read at and `cut_by`.
    fn cut_chain(&self, timeline: TimelineId, lsn: Lsn, cut_by: Lsn) -> Chain {
        let mut out = Vec::new();
        let mut cur = Some((timeline, lsn));
        while let Some((tl, bound)) = cur {
            let t = self.timelines.get(&tl);
            // A timeline continuing its ancestor at `fork` holds only copies
            // of the ancestor's versions at or below `fork`: skip it there.
            let copies_only =
                t.is_some_and(|t| t.continues && t.ancestor.is_some_and(|(_, fork)| bound <= fork));
            if copies_only {
                // Skipping continuations leaves `bound` as it is (each fork
                // is at or above it), so jump to the newest earlier one in
                // the run that has versions below `bound`, or the run's first.
                cur = match t.and_then(|t| t.run_root.map(|root| (root, t.id))) {
                    Some((root, id)) => Some((self.continued_below(root, id, bound), bound)),
                    None => t.and_then(|t| t.ancestor).map(|(anc, fork)| (anc, fork.min(bound))),
                };
                continue;
            }
            out.push((tl, bound));
            let cut = t.and_then(|t| t.materialized_at).is_some_and(|at| bound >= at && cut_by >= at);
            if cut {
                break;
            }
            cur = t.and_then(|t| t.ancestor).map(|(anc, fork)| (anc, fork.min(bound)));
        }
        Chain(out)
    }

    /// Of the timelines of run `root` before `id` (a continuation in it),
    /// the newest that continued at an LSN below `bound` (so holds versions
    /// a read at `bound` needs), or `root` itself. A binary search: both
    /// the timelines and the LSNs they continued at increase along a run.
    fn continued_below(&self, root: TimelineId, id: TimelineId, bound: Lsn) -> TimelineId {
        let Some(run) = self.runs.get(&root) else { return root };
        let before = run.binary_search_by(|&(_, t)| t.cmp(&id)).unwrap_or_else(|at| at);
        // The first of them that continued at or above `bound`.
        let (mut lo, mut hi) = (0, before);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if run[mid].0 < bound {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if lo == 0 {
            root
        } else {
            run[lo - 1].1
        }
    }

    /// Records that `id` continues its ancestor (a materialization began):
    /// it joins its ancestor's run of continuations.
    pub fn note_continuation(&mut self, id: TimelineId) {
        let Some(t) = self.timelines.get(&id) else { return };
        let Some((ancestor, fork)) = t.ancestor.filter(|_| t.continues) else { return };
        let root = self.timelines.get(&ancestor).and_then(|a| a.run_root).unwrap_or(ancestor);
        if let Some(t) = self.timelines.get_mut(&id) {
            Arc::make_mut(t).run_root = Some(root);
        }
        self.runs.entry(root).or_default().push_back((fork, id));
    }

    /// Whether `timeline` is `other` or continues it (through
    /// materializations of the same branch): the same history, so a read
    /// of `other` is still a valid base for a write to `timeline`.
    /// (A run is a line with increasing ids: any earlier member of
    /// `timeline`'s run is continued by it.)
    pub fn continues(&self, timeline: TimelineId, other: TimelineId) -> bool {
        if timeline == other {
            return true;
        }
        let Some(root) = self.timelines.get(&timeline).and_then(|t| t.run_root) else { return false };
        other < timeline
            && (other == root || self.timelines.get(&other).is_some_and(|o| o.run_root == Some(root)))
    }

    /// The catalog visible through `chain`.
    pub fn catalog(&self, chain: &Chain) -> Arc<Catalog> {
        for &(tl, bound) in &chain.0 {
            if let Some(t) = self.timelines.get(&tl) {
                if let Some((_, c)) = t.catalogs.range(..=bound).next_back() {
                    return c.clone();
                }
            }
        }
        Arc::new(Catalog::default())
    }

    pub fn project(&self, name: &str) -> Option<&ProjectMeta> {
        self.projects.get(name).map(|p| p.as_ref())
    }

    pub fn branch(&self, project: &str, branch: &str) -> Option<&BranchMeta> {
        self.project(project).and_then(|p| p.branches.get(branch))
    }

    /// The head LSN of a branch: its newest entry (at least its creation).
    pub fn branch_head(&self, b: &BranchMeta) -> Lsn {
        self.timelines.get(&b.timeline).map(|t| t.last_lsn).unwrap_or(b.created_lsn)
    }
}

impl Catalog {
    pub fn get(&self, name: &str) -> Option<&CollectionMeta> {
        self.collections.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeline(
        id: u64,
        ancestor: Option<(u64, u64)>,
        continues: bool,
        materialized_at: Option<u64>,
    ) -> TimelineMeta {
        TimelineMeta {
            id: TimelineId(id),
            project: "app".into(),
            ancestor: ancestor.map(|(t, l)| (TimelineId(t), Lsn(l))),
            created_lsn: Lsn(ancestor.map_or(1, |(_, l)| l + 1)),
            last_lsn: Lsn(0),
            last_time: CommitTime(0),
            commits: 0,
            catalogs: OrdMap::new(),
            continues,
            live: 0,
            superseded: 0,
            written_bytes: 0,
            materialize: None,
            materialized_at: materialized_at.map(Lsn),
            run_root: None,
        }
    }

    /// A branch materialized `n` times: timeline `k` (1-based) continues
    /// timeline `k - 1` at LSN `100 k`, and its copy completed at `100 k + 10`.
    fn materialized_many_times(n: u64) -> Meta {
        let mut meta = Meta::default();
        meta.timelines.insert(TimelineId(0), Arc::new(timeline(0, None, false, None)));
        for k in 1..=n {
            let t = timeline(k, Some((k - 1, 100 * k)), true, Some(100 * k + 10));
            meta.timelines.insert(TimelineId(k), Arc::new(t));
            meta.note_continuation(TimelineId(k));
        }
        meta
    }

    #[test]
    fn write_checks_consult_the_timelines_since_their_base_not_the_whole_history() {
        for n in [3u64, 50, 500] {
            let meta = materialized_many_times(n);
            let head = TimelineId(n);
            assert_eq!(meta.chain(head, Lsn::MAX).0.len() as u64, n + 1, "the whole history");
            assert_eq!(meta.read_chain(head, Lsn::MAX).0.len(), 1, "a read at the head");
            // A base after the last copy completed: one timeline, however
            // many materializations came before.
            assert_eq!(meta.check_chain(head, Lsn(100 * n + 10)).0.len(), 1);
            // A base during the last copy: that timeline and its ancestor,
            // whose copy had completed before the base.
            let chain = meta.check_chain(head, Lsn(100 * n + 5));
            assert_eq!(chain.0, vec![(head, Lsn::MAX), (TimelineId(n - 1), Lsn(100 * n))]);
            // A base older than three materializations: four timelines.
            assert_eq!(meta.check_chain(head, Lsn(100 * (n - 2) + 10)).0.len(), 3);
            assert_eq!(meta.check_chain(head, Lsn(100 * (n - 2) + 9)).0.len(), 4);
            // A base before everything: the whole history, as before.
            assert_eq!(meta.check_chain(head, Lsn(1)), meta.chain(head, Lsn::MAX));
        }
    }

    /// The chain walk as it was before runs: one step per timeline.
    fn cut_chain_stepwise(meta: &Meta, timeline: TimelineId, lsn: Lsn, cut_by: Lsn) -> Chain {
        let mut out = Vec::new();
        let mut cur = Some((timeline, lsn));
        while let Some((tl, bound)) = cur {
            let t = meta.timelines.get(&tl);
            let copies_only =
                t.is_some_and(|t| t.continues && t.ancestor.is_some_and(|(_, fork)| bound <= fork));
            if !copies_only {
                out.push((tl, bound));
            }
            let cut = t.and_then(|t| t.materialized_at).is_some_and(|at| bound >= at && cut_by >= at);
            if !copies_only && cut {
                break;
            }
            cur = t.and_then(|t| t.ancestor).map(|(anc, fork)| (anc, fork.min(bound)));
        }
        Chain(out)
    }

    #[test]
    fn jumping_along_runs_gives_the_stepwise_chain() {
        // Branches that materialize, reset to a past point and fork, in a
        // pseudo-random order; every chain at every bound must be the one
        // the step-by-step walk gives.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rand = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut meta = Meta::default();
        meta.timelines.insert(TimelineId(0), Arc::new(timeline(0, None, false, Some(1))));
        let mut heads = vec![TimelineId(0)]; // each branch's current timeline
        let mut lsn = 10u64;
        for id in 1..400u64 {
            lsn += 1 + rand(20);
            // Mostly the first branch, so some runs grow long.
            let b = if rand(3) == 0 { rand(heads.len() as u64) as usize } else { 0 };
            let head = heads[b];
            let materialized = (rand(4) > 0).then_some(lsn + rand(5));
            let t = match rand(20) {
                // A materialization of branch b: continues its head.
                0..=16 => {
                    let t = timeline(id, Some((head.0, lsn)), true, materialized);
                    heads[b] = TimelineId(id);
                    t
                }
                // A reset of branch b to a past LSN of its own history.
                17 => {
                    let t = timeline(id, Some((head.0, lsn - rand(lsn))), false, None);
                    heads[b] = TimelineId(id);
                    t
                }
                // A new branch forked from b, now or in the past.
                _ => {
                    heads.push(TimelineId(id));
                    timeline(id, Some((head.0, lsn - rand(lsn / 2 + 1))), false, None)
                }
            };
            meta.timelines.insert(TimelineId(id), Arc::new(t));
            meta.note_continuation(TimelineId(id));
        }
        assert!(
            meta.runs.values().any(|r| r.len() > 30),
            "long runs were built: {:?}",
            meta.runs.values().map(|r| r.len()).collect::<Vec<_>>()
        );
        let mut compared = 0;
        for id in 0..400u64 {
            for bound in (0..lsn + 30).step_by(7).map(Lsn).chain([Lsn::MAX]) {
                for cut_by in [Lsn::MAX, bound, Lsn(bound.0 / 2)] {
                    let tl = TimelineId(id);
                    assert_eq!(
                        meta.cut_chain(tl, bound, cut_by),
                        cut_chain_stepwise(&meta, tl, bound, cut_by),
                        "timeline {id} at {bound:?} cut by {cut_by:?}"
                    );
                    compared += 1;
                }
            }
        }
        assert!(compared > 100_000);
        // And `continues` is the step-by-step walk up a run.
        let continues_stepwise = |timeline: TimelineId, other: TimelineId| {
            let mut cur = Some(timeline);
            while let Some(tl) = cur {
                if tl == other {
                    return true;
                }
                cur =
                    meta.timelines.get(&tl).filter(|t| t.continues).and_then(|t| t.ancestor).map(|(a, _)| a);
            }
            false
        };
        let mut yes = 0;
        for a in 0..400u64 {
            for b in 0..400u64 {
                let (a, b) = (TimelineId(a), TimelineId(b));
                assert_eq!(meta.continues(a, b), continues_stepwise(a, b), "{a:?} continues {b:?}");
                yes += continues_stepwise(a, b) as usize;
            }
        }
        assert!(yes > 1000, "{yes} pairs continue each other");
    }
}
