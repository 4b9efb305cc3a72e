//! Random histories of writes, branch creations, resets, branch deletions
//! and reopens, mirrored into a naive model that keeps, per branch, the
//! list of changes its history consists of. After each history, every
//! branch is read at every LSN from 0 to the head and must equal the model
//! replayed from scratch up to that LSN.
//!
//! The model knows nothing of timelines, chains or indexes:
//! - a branch's history (its *lineage*) is a list of (LSN, change);
//! - creating branch B from P at LSN F gives B the part of P's lineage at
//!   or below F; B's own changes are appended after it;
//! - resetting B to L0 keeps the part of its lineage at or below L0; what
//!   it writes afterwards is appended; a backup gets the whole old lineage;
//! - B at LSN L is its lineage's changes with LSN <= L, replayed in order.
//!
//! Every operation's outcome is checked too: the LSN it took (LSNs are dense
//! and every entry takes one, nothing else does), per-op results of batches,
//! and the error for refused operations. Every branch's head is checked after
//! every step, scans resumed after each document (cursors) at the head, and
//! the final state once more after rebuilding the index from the WAL.
//!
//! Cases run with materialization thresholds of 1, 2 and never, so the
//! store keeps moving branches onto new timelines and copying their state
//! (see the store's `materialize` module) while the model knows nothing of it.
//!
//! `PROPTEST_CASES=5000` runs a longer hunt than the default 64 cases.

mod common;

use std::collections::BTreeMap;

use argon_store::{
    At, Check, Lsn, OpEffect, Store, StoreError, StoreOptions, SyncMode, WriteMode, WriteOp, WriteRequest,
};
use bson::{doc, Bson};
use common::scratch_dir;
use proptest::prelude::*;
use proptest::sample::Index;

const PROJECT: &str = "p";
/// A second project sharing the data dir (and its LSNs).
const OTHER_PROJECT: &str = "q";
const BRANCHES: [&str; 4] = ["main", "b1", "b2", "b3"];
const COLLS: [&str; 2] = ["c0", "c1"];
const IDS: i32 = 8;

// ---------------------------------------------------------------------------
// Generated steps

/// A point in history, resolved against the head when the step runs.
#[derive(Clone, Debug)]
enum Point {
    Head,
    /// `frac / u16::MAX` of the way from LSN 0 to the head.
    Frac(u16),
    /// One past the head: must be refused.
    BeyondHead,
}

#[derive(Clone, Debug)]
enum DocStep {
    Insert {
        coll: usize,
        id: i32,
    },
    Replace {
        coll: usize,
        id: i32,
    },
    Delete {
        coll: usize,
        id: i32,
    },
    DropColl {
        coll: usize,
    },
    /// Renames `COLLS[from]` to the other collection.
    Rename {
        from: usize,
        drop_target: bool,
    },
}

#[derive(Clone, Debug)]
enum Reopen {
    Plain,
    RebuildFlag,
    RemoveIndexDir,
}

#[derive(Clone, Debug)]
enum Step {
    /// A request on an existing branch (chosen by `branch` among them).
    Write {
        branch: Index,
        mode: WriteMode,
        ops: Vec<DocStep>,
    },
    CreateBranch {
        name: usize,
        from: Index,
        at: Point,
    },
    Reset {
        branch: Index,
        at: Point,
        backup: Option<usize>,
    },
    DeleteBranch {
        branch: Index,
    },
    Reopen(Reopen),
    /// A write to another project: it takes an LSN and changes nothing here.
    OtherProject {
        id: i32,
    },
}

fn point() -> impl Strategy<Value = Point> {
    prop_oneof![3 => Just(Point::Head), 6 => any::<u16>().prop_map(Point::Frac), 1 => Just(Point::BeyondHead)]
}

fn doc_step() -> impl Strategy<Value = DocStep> {
    let coll = 0..COLLS.len();
    let id = 0..IDS;
    prop_oneof![
        5 => (coll.clone(), id.clone()).prop_map(|(coll, id)| DocStep::Insert { coll, id }),
        3 => (coll.clone(), id.clone()).prop_map(|(coll, id)| DocStep::Replace { coll, id }),
        3 => (coll.clone(), id).prop_map(|(coll, id)| DocStep::Delete { coll, id }),
        1 => coll.clone().prop_map(|coll| DocStep::DropColl { coll }),
        1 => (coll, any::<bool>()).prop_map(|(from, drop_target)| DocStep::Rename { from, drop_target }),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let mode = prop_oneof![Just(WriteMode::Atomic), Just(WriteMode::Ordered), Just(WriteMode::Unordered)];
    prop_oneof![
        12 => (any::<Index>(), mode, prop::collection::vec(doc_step(), 1..4))
            .prop_map(|(branch, mode, ops)| Step::Write { branch, mode, ops }),
        3 => (0..BRANCHES.len(), any::<Index>(), point())
            .prop_map(|(name, from, at)| Step::CreateBranch { name, from, at }),
        3 => (any::<Index>(), point(), prop::option::weighted(0.3, 0..BRANCHES.len()))
            .prop_map(|(branch, at, backup)| Step::Reset { branch, at, backup }),
        1 => any::<Index>().prop_map(|branch| Step::DeleteBranch { branch }),
        1 => prop_oneof![Just(Reopen::Plain), Just(Reopen::RebuildFlag), Just(Reopen::RemoveIndexDir)]
            .prop_map(Step::Reopen),
        1 => (0..IDS).prop_map(|id| Step::OtherProject { id }),
    ]
}

// ---------------------------------------------------------------------------
// The model

/// One change in a branch's history.
#[derive(Clone, Debug)]
enum Change {
    CreateColl(usize),
    DropColl(usize),
    /// The collection `from` becomes `to` (replacing `to` if it existed).
    Rename {
        from: usize,
        to: usize,
    },
    Doc {
        coll: usize,
        id: i32,
        v: Option<i32>,
    },
}

/// A branch's state: per collection, `None` if it does not exist, else its
/// documents as `_id -> v`.
type State = [Option<BTreeMap<i32, i32>>; 2];

fn apply(state: &mut State, change: &Change) {
    match *change {
        Change::CreateColl(c) => {
            assert!(state[c].is_none(), "model: create of an existing collection");
            state[c] = Some(BTreeMap::new());
        }
        Change::DropColl(c) => state[c] = None,
        Change::Rename { from, to } => state[to] = state[from].take(),
        Change::Doc { coll, id, v } => {
            let docs = state[coll].as_mut().expect("model: doc change in a missing collection");
            match v {
                Some(v) => docs.insert(id, v),
                None => docs.remove(&id),
            };
        }
    }
}

#[derive(Clone, Debug)]
struct ModelBranch {
    parent: Option<String>,
    /// Every change of this branch's history, in LSN order.
    lineage: Vec<(u64, Change)>,
}

impl ModelBranch {
    /// The state at `lsn`: the lineage replayed from scratch up to it.
    fn state_at(&self, lsn: u64) -> State {
        let mut s: State = [None, None];
        for (l, change) in &self.lineage {
            if *l <= lsn {
                apply(&mut s, change);
            }
        }
        s
    }

    fn prefix(&self, lsn: u64) -> Vec<(u64, Change)> {
        self.lineage.iter().filter(|(l, _)| *l <= lsn).cloned().collect()
    }
}

/// Errors the model predicts, compared by kind.
#[derive(Clone, Debug, PartialEq, Eq)]
enum ErrKind {
    DuplicateKey,
    NamespaceNotFound,
    NamespaceExists,
    BranchNotFound,
    BranchExists,
    DeleteRefused,
    LsnBeyondHead,
    Other(String),
}

fn kind(e: &StoreError) -> ErrKind {
    match e {
        StoreError::DuplicateKey { .. } => ErrKind::DuplicateKey,
        StoreError::NamespaceNotFound(_) => ErrKind::NamespaceNotFound,
        StoreError::NamespaceExists(_) => ErrKind::NamespaceExists,
        StoreError::BranchNotFound { .. } => ErrKind::BranchNotFound,
        StoreError::BranchExists { .. } => ErrKind::BranchExists,
        StoreError::BranchDeleteRefused { .. } => ErrKind::DeleteRefused,
        StoreError::LsnBeyondHead { .. } => ErrKind::LsnBeyondHead,
        e => ErrKind::Other(e.to_string()),
    }
}

/// What a write request did, as the model sees it.
#[derive(Debug, PartialEq, Eq)]
struct WriteResult {
    lsn: Option<u64>,
    results: Vec<Result<OpEffect, ErrKind>>,
}

#[derive(Debug)]
struct Model {
    /// The newest LSN.
    head: u64,
    branches: BTreeMap<String, ModelBranch>,
    /// Values written, so every written version is distinct.
    next_v: i32,
}

impl Model {
    fn new(project_lsn: u64) -> Model {
        let main = ModelBranch { parent: None, lineage: vec![] };
        Model { head: project_lsn, branches: [("main".to_string(), main)].into(), next_v: 0 }
    }

    fn names(&self) -> Vec<String> {
        self.branches.keys().cloned().collect()
    }

    fn resolve(&self, at: &Point) -> At {
        match at {
            Point::Head => At::Head,
            Point::Frac(f) => At::Lsn(Lsn(self.head * u64::from(*f) / u64::from(u16::MAX))),
            Point::BeyondHead => At::Lsn(Lsn(self.head + 1)),
        }
    }

    fn lsn_of(&self, at: At) -> Result<u64, ErrKind> {
        match at {
            At::Head => Ok(self.head),
            At::Lsn(l) if l.0 > self.head => Err(ErrKind::LsnBeyondHead),
            At::Lsn(l) => Ok(l.0),
            At::Time(_) => unreachable!("the model test uses no times"),
        }
    }

    /// A write request on an existing branch: the ops to send, and what
    /// the model expects of them.
    fn write(
        &mut self,
        branch: &str,
        mode: WriteMode,
        steps: &[DocStep],
    ) -> (Vec<WriteOp>, Result<WriteResult, ErrKind>) {
        let vs: Vec<i32> = steps
            .iter()
            .map(|_| {
                self.next_v += 1;
                self.next_v
            })
            .collect();
        let ops = steps.iter().zip(&vs).map(|(s, v)| op_for(s, *v)).collect();
        let mut state = self.branches[branch].state_at(self.head);
        let mut changes: Vec<Change> = Vec::new();
        let mut results = Vec::new();
        for (s, v) in steps.iter().zip(&vs) {
            match effect_of(&state, s, *v) {
                Ok((effect, cs)) => {
                    for c in &cs {
                        apply(&mut state, c);
                    }
                    changes.extend(cs);
                    results.push(Ok(effect));
                }
                Err(e) => match mode {
                    WriteMode::Atomic => return (ops, Err(e)),
                    WriteMode::Ordered => {
                        results.push(Err(e));
                        break;
                    }
                    WriteMode::Unordered => results.push(Err(e)),
                },
            }
        }
        let lsn = if changes.is_empty() {
            None
        } else {
            self.head += 1;
            let lsn = self.head;
            let b = self.branches.get_mut(branch).unwrap();
            b.lineage.extend(changes.into_iter().map(|c| (lsn, c)));
            Some(lsn)
        };
        (ops, Ok(WriteResult { lsn, results }))
    }

    fn create_branch(&mut self, name: &str, from: &str, at: At) -> Result<(u64, u64), ErrKind> {
        let fork = self.lsn_of(at)?;
        if self.branches.contains_key(name) {
            return Err(ErrKind::BranchExists);
        }
        let lineage = self.branches[from].prefix(fork);
        self.head += 1;
        self.branches.insert(name.to_string(), ModelBranch { parent: Some(from.to_string()), lineage });
        Ok((self.head, fork))
    }

    fn reset(&mut self, branch: &str, at: At, backup: Option<&str>) -> Result<u64, ErrKind> {
        let to = self.lsn_of(at)?;
        if let Some(name) = backup {
            if self.branches.contains_key(name) {
                return Err(ErrKind::BranchExists);
            }
            let lineage = self.branches[branch].lineage.clone();
            self.head += 1;
            self.branches.insert(name.to_string(), ModelBranch { parent: Some(branch.to_string()), lineage });
        }
        let b = self.branches.get_mut(branch).unwrap();
        b.lineage = b.prefix(to);
        self.head += 1;
        Ok(self.head)
    }

    fn delete_branch(&mut self, name: &str) -> Result<u64, ErrKind> {
        if name == "main" || self.branches.values().any(|b| b.parent.as_deref() == Some(name)) {
            return Err(ErrKind::DeleteRefused);
        }
        self.branches.remove(name);
        self.head += 1;
        Ok(self.head)
    }
}

/// The request op a step stands for; `v` is the value it writes.
fn op_for(s: &DocStep, v: i32) -> WriteOp {
    match *s {
        DocStep::Insert { coll, id } => {
            WriteOp::Insert { coll: COLLS[coll].into(), doc: doc! {"_id": id, "v": v} }
        }
        DocStep::Replace { coll, id } => WriteOp::Update {
            coll: COLLS[coll].into(),
            id: Bson::Int32(id),
            doc: doc! {"_id": id, "v": v},
            replace: true,
            check: Check::Blind,
        },
        DocStep::Delete { coll, id } => {
            WriteOp::Delete { coll: COLLS[coll].into(), id: Bson::Int32(id), check: Check::Blind }
        }
        DocStep::DropColl { coll } => WriteOp::DropCollection { name: COLLS[coll].into() },
        DocStep::Rename { from, drop_target } => {
            WriteOp::RenameCollection { from: COLLS[from].into(), to: COLLS[1 - from].into(), drop_target }
        }
    }
}

/// What a step does to `state` (the state its request sees so far): its
/// effect and the changes it makes, or its error.
fn effect_of(state: &State, s: &DocStep, v: i32) -> Result<(OpEffect, Vec<Change>), ErrKind> {
    let written = |changes| Ok((OpEffect::Written, changes));
    match *s {
        DocStep::Insert { coll, id } => match &state[coll] {
            Some(docs) if docs.contains_key(&id) => Err(ErrKind::DuplicateKey),
            Some(_) => written(vec![Change::Doc { coll, id, v: Some(v) }]),
            None => written(vec![Change::CreateColl(coll), Change::Doc { coll, id, v: Some(v) }]),
        },
        DocStep::Replace { coll, id } => {
            let mut changes = vec![];
            if state[coll].is_none() {
                changes.push(Change::CreateColl(coll));
            }
            changes.push(Change::Doc { coll, id, v: Some(v) });
            written(changes)
        }
        DocStep::Delete { coll, id } => match &state[coll] {
            Some(docs) if docs.contains_key(&id) => written(vec![Change::Doc { coll, id, v: None }]),
            _ => Ok((OpEffect::NoOp, vec![])),
        },
        DocStep::DropColl { coll } => match state[coll] {
            Some(_) => written(vec![Change::DropColl(coll)]),
            None => Err(ErrKind::NamespaceNotFound),
        },
        DocStep::Rename { from, drop_target } => {
            let to = 1 - from;
            if state[from].is_none() {
                Err(ErrKind::NamespaceNotFound)
            } else if state[to].is_some() && !drop_target {
                Err(ErrKind::NamespaceExists)
            } else {
                written(vec![Change::Rename { from, to }])
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Running a history against the store

thread_local! {
    /// This case's `StoreOptions::materialize_after`.
    static MATERIALIZE_AFTER: std::cell::Cell<u64> = const { std::cell::Cell::new(u64::MAX) };
}

fn options() -> StoreOptions {
    // Small segments, so histories span several and replay crosses them.
    // Materializations (with thresholds of 1 and 2: all the time, copying
    // a few versions per group, so reads also meet copies under way).
    StoreOptions {
        sync: SyncMode::Never,
        wal_segment_bytes: 8 << 10,
        index_map_bytes: 64 << 20,
        materialize_after: MATERIALIZE_AFTER.with(|m| m.get()),
        materialize_batch: 1,
        ..Default::default()
    }
}

fn open(dir: &std::path::Path, how: &Reopen) -> Store {
    match how {
        Reopen::Plain => Store::open_with(dir, options()),
        Reopen::RebuildFlag => Store::open_with(dir, StoreOptions { rebuild_index: true, ..options() }),
        Reopen::RemoveIndexDir => {
            std::fs::remove_dir_all(dir.join("index")).expect("remove index dir");
            Store::open_with(dir, options())
        }
    }
    .expect("reopen")
}

fn pick<'a>(names: &'a [String], i: &Index) -> &'a str {
    &names[i.index(names.len())]
}

fn run_step(store: &Store, model: &mut Model, step: &Step) -> Result<(), TestCaseError> {
    let names = model.names();
    match step {
        Step::Write { branch, mode, ops } => {
            let branch = pick(&names, branch);
            let (ops, want) = model.write(branch, *mode, ops);
            let mut req = WriteRequest::new(PROJECT, branch);
            req.mode = *mode;
            req.ops = ops;
            let got = store.write(req).map_err(|e| kind(&e)).map(|o| WriteResult {
                lsn: o.lsn.map(|l| l.0),
                results: o.results.iter().map(|r| r.as_ref().copied().map_err(kind)).collect(),
            });
            prop_assert_eq!(got, want, "write on {}", branch);
        }
        Step::CreateBranch { name, from, at } => {
            let name = BRANCHES[*name];
            let from = pick(&names, from);
            let at = model.resolve(at);
            let want = model.create_branch(name, from, at);
            let got = store.create_branch(PROJECT, name, from, at).map_err(|e| kind(&e));
            match (got, want) {
                (Ok(info), Ok((lsn, fork))) => {
                    prop_assert_eq!(info.created_lsn.0, lsn, "create {} from {}", name, from);
                    prop_assert_eq!(info.base_lsn.0, fork, "create {} from {}", name, from);
                    prop_assert_eq!(info.parent.as_deref(), Some(from));
                }
                (got, want) => {
                    prop_assert_eq!(got.map(|_| ()), want.map(|_| ()), "create {} from {}", name, from)
                }
            }
        }
        Step::Reset { branch, at, backup } => {
            let branch = pick(&names, branch);
            let backup = backup.map(|b| BRANCHES[b]);
            let at = model.resolve(at);
            let want = model.reset(branch, at, backup);
            let got = store.reset_branch(PROJECT, branch, at, backup).map_err(|e| kind(&e));
            prop_assert_eq!(
                got.map(|i| i.head_lsn.0),
                want,
                "reset {} to {:?}, backup {:?}",
                branch,
                at,
                backup
            );
        }
        Step::DeleteBranch { branch } => {
            let branch = pick(&names, branch);
            let want = model.delete_branch(branch);
            let got = store.delete_branch(PROJECT, branch).map(|l| l.0).map_err(|e| kind(&e));
            prop_assert_eq!(got, want, "delete {}", branch);
        }
        Step::OtherProject { id } => {
            let got = store.write(WriteRequest::new(OTHER_PROJECT, "main").op(WriteOp::Update {
                coll: COLLS[0].into(),
                id: Bson::Int32(*id),
                doc: doc! {"_id": id},
                replace: true,
                check: Check::Blind,
            }))?;
            model.head += 1;
            prop_assert_eq!(got.lsn, Some(Lsn(model.head)), "write to the other project");
        }
        Step::Reopen(_) => unreachable!("reopens are run by run_history"),
    }
    Ok(())
}

/// Closes `old` (the last handle) and opens the data dir again.
fn open_after_drop(old: Store, dir: &std::path::Path, how: &Reopen) -> Store {
    drop(old);
    open(dir, how)
}

/// Reads every branch at every LSN from 0 to the head (and at the head, and
/// past it) and compares with the model.
fn check_all(store: &Store, model: &Model) -> Result<(), TestCaseError> {
    prop_assert_eq!(store.visible_lsn().0, model.head, "visible LSN");
    let infos = store.branches(PROJECT)?;
    let got: Vec<(String, Option<String>)> =
        infos.iter().map(|b| (b.name.clone(), b.parent.clone())).collect();
    let want: Vec<(String, Option<String>)> =
        model.branches.iter().map(|(n, b)| (n.clone(), b.parent.clone())).collect();
    prop_assert_eq!(got, want, "branches and their parents");
    for (name, b) in &model.branches {
        for lsn in 0..=model.head {
            check_state(store, name, At::Lsn(Lsn(lsn)), &b.state_at(lsn))?;
        }
        check_state(store, name, At::Head, &b.state_at(model.head))?;
        let beyond = store.snapshot(PROJECT, name, At::Lsn(Lsn(model.head + 1)));
        prop_assert!(
            matches!(beyond, Err(StoreError::LsnBeyondHead { .. })),
            "reading {} beyond the head: {:?}",
            name,
            beyond.map(|s| s.lsn())
        );
    }
    Ok(())
}

fn check_state(store: &Store, branch: &str, at: At, want: &State) -> Result<(), TestCaseError> {
    let snap = store.snapshot(PROJECT, branch, at)?;
    for (c, coll) in COLLS.iter().enumerate() {
        prop_assert_eq!(
            snap.collection(coll).is_some(),
            want[c].is_some(),
            "{} exists on {} at {:?}",
            coll,
            branch,
            at
        );
        let empty = BTreeMap::new();
        let want_docs = want[c].as_ref().unwrap_or(&empty);
        let mut scanned = Vec::new();
        for d in snap.scan(coll)? {
            let d = d?;
            scanned.push((d.get_i32("_id").unwrap(), d.get_i32("v").unwrap()));
        }
        let want_vec: Vec<(i32, i32)> = want_docs.iter().map(|(k, v)| (*k, *v)).collect();
        prop_assert_eq!(&scanned, &want_vec, "scan of {} on {} at {:?}", coll, branch, at);
        if at == At::Head {
            // A scan resumed after each document (a cursor's next batch)
            // returns exactly the rest.
            let mut scan = snap.scan(coll)?;
            let mut resume_keys = Vec::new();
            while let Some((key, _)) = scan.next_raw()? {
                resume_keys.push(key.to_vec());
            }
            for (i, key) in resume_keys.iter().enumerate() {
                let mut rest = Vec::new();
                for d in snap.scan_after(coll, Some(key))? {
                    let d = d?;
                    rest.push((d.get_i32("_id").unwrap(), d.get_i32("v").unwrap()));
                }
                prop_assert_eq!(
                    &rest[..],
                    &want_vec[i + 1..],
                    "scan of {} on {} after {:?}",
                    coll,
                    branch,
                    want_vec[i]
                );
            }
        }
        for id in 0..IDS {
            let got = snap.get(coll, &Bson::Int32(id))?.map(|d| d.get_i32("v").unwrap());
            prop_assert_eq!(
                got,
                want_docs.get(&id).copied(),
                "get {} {} on {} at {:?}",
                coll,
                id,
                branch,
                at
            );
        }
    }
    Ok(())
}

fn run_history(steps: &[Step]) -> Result<(), TestCaseError> {
    let dir = scratch_dir();
    let mut store = Store::open_with(dir.path(), options())?;
    store.create_project(PROJECT)?;
    let created = store.create_project(OTHER_PROJECT)?;
    let mut model = Model::new(created.0);
    for step in steps {
        match step {
            Step::Reopen(how) => store = open_after_drop(store, dir.path(), how),
            step => run_step(&store, &mut model, step)?,
        }
        // Every branch's head after every step: the final check reads the
        // histories as they end up, and resets rewrite what a branch's past
        // looks like.
        for (name, b) in &model.branches {
            check_state(&store, name, At::Head, &b.state_at(model.head))?;
        }
    }
    check_all(&store, &model)?;
    // The same history read back from the WAL alone.
    store = open_after_drop(store, dir.path(), &Reopen::RemoveIndexDir);
    check_all(&store, &model)
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_branch_at_every_lsn_matches_the_model(
        steps in prop::collection::vec(step(), 1..40),
        materialize_after in prop_oneof![Just(1u64), Just(2), Just(u64::MAX)],
    ) {
        MATERIALIZE_AFTER.with(|m| m.set(materialize_after));
        run_history(&steps)?;
    }
}
