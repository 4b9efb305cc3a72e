//! The edges of reading by LSN and by time: before anything was written,
//! LSN 0, times between and after commits, branches from a past time, and
//! projects that were dropped and created again.

mod common;

use std::time::Duration;

use argon_store::{At, CommitTime, Lsn, Store, StoreError, StoreOptions};
use bson::Bson;
use common::*;

/// Small WAL segments and index map: these tests hold little data.
fn open(dir: &std::path::Path) -> Store {
    let opts = StoreOptions { wal_segment_bytes: 1 << 20, index_map_bytes: 64 << 20, ..Default::default() };
    Store::open_with(dir, opts).unwrap()
}

fn sleep_a_little() {
    // Commit times have microsecond resolution; make neighbours distinct.
    std::thread::sleep(Duration::from_millis(3));
}

#[test]
fn a_time_before_the_first_commit_reads_the_empty_state() {
    let dir = scratch_dir();
    let store = open(dir.path());
    let before = CommitTime::now();
    assert_eq!(store.lsn_at_time(before).unwrap(), Lsn(0), "an empty data dir");
    sleep_a_little();
    store.create_project("app").unwrap();
    insert(&store, "app", "main", "c", doc_v(1, 1));

    assert_eq!(store.lsn_at_time(before).unwrap(), Lsn(0));
    assert_eq!(store.lsn_at_time(CommitTime(0)).unwrap(), Lsn(0), "the epoch");
    assert_eq!(store.lsn_at_time(CommitTime(i64::MIN)).unwrap(), Lsn(0), "the smallest time there is");
    for at in [At::Time(before), At::Time(CommitTime(0))] {
        let snap = store.snapshot("app", "main", at).unwrap();
        assert_eq!(snap.lsn(), Lsn(0), "{at:?}");
        assert!(snap.collection("c").is_none(), "{at:?}: no collection yet");
        assert_eq!(snap.count("c").unwrap(), 0, "{at:?}");
        assert!(snap.get("c", &Bson::Int32(1)).unwrap().is_none(), "{at:?}");
    }
}

#[test]
fn lsn_zero_is_before_everything_on_every_branch() {
    let dir = scratch_dir();
    let store = open(dir.path());
    store.create_project("app").unwrap();
    insert(&store, "app", "main", "c", doc_v(1, 1));
    store.create_branch("app", "f", "main", At::Head).unwrap();
    insert(&store, "app", "f", "c", doc_v(2, 2));
    for branch in ["main", "f"] {
        let snap = store.snapshot("app", branch, At::Lsn(Lsn(0))).unwrap();
        assert_eq!(snap.lsn(), Lsn(0));
        assert_eq!(snap.collections().count(), 0, "{branch}: no collections at LSN 0");
        assert!(read_all(&store, "app", branch, "c", At::Lsn(Lsn(0))).is_empty(), "{branch}");
    }
    // The project's creation is LSN 1: the project exists, nothing in it.
    assert!(read_all(&store, "app", "main", "c", At::Lsn(Lsn(1))).is_empty());
    assert_eq!(read_all(&store, "app", "main", "c", At::Lsn(Lsn(2))), vec![(1, 1)]);
    // A branch created at LSN 0 starts empty, whatever its parent holds now.
    let empty = store.create_branch("app", "empty", "main", At::Lsn(Lsn(0))).unwrap();
    assert_eq!(empty.base_lsn, Lsn(0));
    assert!(read_all(&store, "app", "empty", "c", At::Head).is_empty());
    // And a reset to LSN 0 empties a branch.
    store.reset_branch("app", "f", At::Lsn(Lsn(0)), None).unwrap();
    assert!(read_all(&store, "app", "f", "c", At::Head).is_empty());
    assert!(store.snapshot("app", "f", At::Head).unwrap().collection("c").is_none());
}

#[test]
fn times_map_to_the_newest_lsn_at_or_before_them() {
    let dir = scratch_dir();
    let store = open(dir.path());
    store.create_project("app").unwrap();
    sleep_a_little();
    let l1 = insert(&store, "app", "main", "c", doc_v(1, 1));
    sleep_a_little();
    let between = CommitTime::now();
    sleep_a_little();
    let l2 = insert(&store, "app", "main", "c", doc_v(2, 2));
    let t1 = store.time_of_lsn(l1).unwrap().unwrap();
    let t2 = store.time_of_lsn(l2).unwrap().unwrap();
    assert!(t1 < between && between < t2, "{t1:?} {between:?} {t2:?}");

    assert_eq!(store.lsn_at_time(t1).unwrap(), l1, "exactly a commit's time");
    assert_eq!(store.lsn_at_time(CommitTime(t1.0 - 1)).unwrap(), l1.prev(), "just before it");
    assert_eq!(store.lsn_at_time(between).unwrap(), l1, "between two commits");
    assert_eq!(store.lsn_at_time(t2).unwrap(), l2);
    let future = CommitTime(t2.0 + 3_600_000_000);
    assert_eq!(store.lsn_at_time(future).unwrap(), l2, "a future time is the head");
    assert_eq!(read_all(&store, "app", "main", "c", At::Time(between)), vec![(1, 1)]);
    assert_eq!(read_all(&store, "app", "main", "c", At::Time(future)), vec![(1, 1), (2, 2)]);

    // An LSN past the head is refused, and says where the head is.
    match store.snapshot("app", "main", At::Lsn(l2.next())) {
        Err(StoreError::LsnBeyondHead { requested, head }) => assert_eq!((requested, head), (l2.next(), l2)),
        other => panic!("expected LsnBeyondHead, got {:?}", other.map(|s| s.lsn())),
    }

    // Commit times come from the WAL: the same after rebuilding the index.
    drop(store);
    std::fs::remove_dir_all(dir.path().join("index")).unwrap();
    let store = open(dir.path());
    assert_eq!(store.time_of_lsn(l1).unwrap(), Some(t1));
    assert_eq!(store.lsn_at_time(between).unwrap(), l1);
    assert_eq!(store.lsn_at_time(t2).unwrap(), l2);
    assert_eq!(read_all(&store, "app", "main", "c", At::Time(between)), vec![(1, 1)]);
}

#[test]
fn a_branch_from_a_past_time_holds_the_state_of_that_time() {
    let dir = scratch_dir();
    let store = open(dir.path());
    store.create_project("app").unwrap();
    let l1 = insert(&store, "app", "main", "c", doc_v(1, 1));
    sleep_a_little();
    let then = CommitTime::now();
    sleep_a_little();
    put(&store, "app", "main", "c", doc_v(1, 2));
    insert(&store, "app", "main", "c", doc_v(2, 2));

    let b = store.create_branch("app", "then", "main", At::Time(then)).unwrap();
    assert_eq!(b.base_lsn, l1, "forks at the newest LSN at or before the time");
    assert_eq!(read_all(&store, "app", "then", "c", At::Head), vec![(1, 1)]);
    // It is a branch like any other: it writes without touching main.
    insert(&store, "app", "then", "c", doc_v(3, 3));
    assert_eq!(read_all(&store, "app", "then", "c", At::Head), vec![(1, 1), (3, 3)]);
    assert_eq!(read_all(&store, "app", "main", "c", At::Head), vec![(1, 2), (2, 2)]);

    // A branch from a time before the project existed is empty.
    let early = store.create_branch("app", "early", "main", At::Time(CommitTime(0))).unwrap();
    assert_eq!(early.base_lsn, Lsn(0));
    assert!(read_all(&store, "app", "early", "c", At::Head).is_empty());
    // A reset to a past time works the same way.
    store.reset_branch("app", "main", At::Time(then), None).unwrap();
    assert_eq!(read_all(&store, "app", "main", "c", At::Head), vec![(1, 1)]);
}

#[test]
fn a_dropped_project_is_not_found_at_any_point() {
    let dir = scratch_dir();
    let store = open(dir.path());
    store.create_project("app").unwrap();
    let l1 = insert(&store, "app", "main", "c", doc_v(1, 1));
    store.create_branch("app", "f", "main", At::Head).unwrap();
    store.drop_project("app").unwrap();

    let not_found = |r: Result<argon_store::Snapshot, StoreError>, what: &str| match r {
        Err(StoreError::ProjectNotFound(p)) => assert_eq!(p, "app", "{what}"),
        other => panic!("{what}: expected ProjectNotFound, got {:?}", other.map(|s| s.lsn())),
    };
    not_found(store.snapshot("app", "main", At::Head), "head");
    not_found(store.snapshot("app", "main", At::Lsn(l1)), "an LSN when it existed");
    not_found(store.snapshot("app", "f", At::Head), "another branch");
    assert!(matches!(store.branches("app"), Err(StoreError::ProjectNotFound(_))));
    assert!(matches!(store.branch("app", "main"), Err(StoreError::ProjectNotFound(_))));
    let e = store.write(
        argon_store::WriteRequest::new("app", "main")
            .op(argon_store::WriteOp::Insert { coll: "c".into(), doc: doc_v(2, 2) }),
    );
    assert!(matches!(e, Err(StoreError::ProjectNotFound(_))), "{e:?}");
    let e = store.create_branch("app", "g", "main", At::Head).unwrap_err();
    assert!(matches!(e, StoreError::ProjectNotFound(_)), "{e}");
    assert!(matches!(store.drop_project("app"), Err(StoreError::ProjectNotFound(_))));
    assert!(store.projects().is_empty());

    // The same after a reopen, and after rebuilding the index from the WAL.
    drop(store);
    let store = open(dir.path());
    not_found(store.snapshot("app", "main", At::Head), "after reopen");
    drop(store);
    std::fs::remove_dir_all(dir.path().join("index")).unwrap();
    let store = open(dir.path());
    not_found(store.snapshot("app", "main", At::Head), "after rebuild");
}

#[test]
fn a_project_created_again_with_the_same_name_starts_empty() {
    let dir = scratch_dir();
    let store = open(dir.path());
    store.create_project("app").unwrap();
    insert(&store, "app", "main", "c", doc_v(1, 1));
    insert(&store, "app", "main", "d", doc_v(2, 2));
    store.create_branch("app", "f", "main", At::Head).unwrap();
    let dropped = store.drop_project("app").unwrap();
    let created = store.create_project("app").unwrap();
    assert_eq!(created, dropped.next());

    let check = |store: &Store, when: &str| {
        let names: Vec<String> = store.branches("app").unwrap().into_iter().map(|b| b.name).collect();
        assert_eq!(names, ["main"], "{when}: only main");
        assert!(
            matches!(store.snapshot("app", "f", At::Head), Err(StoreError::BranchNotFound { .. })),
            "{when}"
        );
        let snap = store.snapshot("app", "main", At::Head).unwrap();
        assert_eq!(snap.collections().count(), 0, "{when}: no collections");
        assert!(snap.get("c", &Bson::Int32(1)).unwrap().is_none(), "{when}");
        // Nor does its history show the old project's documents.
        for l in 0..=created.0 {
            let snap = store.snapshot("app", "main", At::Lsn(Lsn(l))).unwrap();
            assert_eq!(snap.collections().count(), 0, "{when}: LSN {l}");
            assert!(snap.get("c", &Bson::Int32(1)).unwrap().is_none(), "{when}: LSN {l}");
        }
        assert_eq!(store.branch("app", "main").unwrap().created_lsn, created, "{when}");
    };
    check(&store, "live");
    // The old `_id`s are free again, and a branch name too.
    insert(&store, "app", "main", "c", doc_v(1, 10));
    store.create_branch("app", "f", "main", At::Head).unwrap();
    assert_eq!(read_all(&store, "app", "f", "c", At::Head), vec![(1, 10)]);
    store.delete_branch("app", "f").unwrap();
    let after = store.reset_branch("app", "main", At::Lsn(created), None).unwrap();
    assert!(after.head_lsn > created);
    check(&store, "after a reset to its creation");
    drop(store);
    std::fs::remove_dir_all(dir.path().join("index")).unwrap();
    let store = open(dir.path());
    check(&store, "after rebuilding the index");
}

#[test]
fn a_log_reader_stops_at_its_head_and_goes_on_when_let_further() {
    let dir = scratch_dir();
    let store = open(dir.path());
    store.create_project("app").unwrap();
    let first = insert(&store, "app", "main", "c", doc_v(1, 1));
    let mut reader = store.log(Lsn(1)).unwrap();
    let lsns = |r: &mut argon_store::LogReader| -> Vec<u64> { r.map(|e| e.unwrap().0 .0).collect() };
    assert_eq!(lsns(&mut reader), vec![1, first.0]);
    // Written since: not read until the reader is let further, then read
    // from where it stopped, across a segment boundary too.
    // (Incompressible, so that the 1 MiB segments fill: records are zstd'd.)
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut noise = || -> String {
        (0..300_000)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                char::from(b'a' + (seed % 26) as u8)
            })
            .collect()
    };
    let mut written = vec![];
    for i in 2..14 {
        let mut d = doc_v(i, 1);
        d.insert("pad", noise());
        written.push(insert(&store, "app", "main", "c", d).0);
    }
    assert!(wal_segments(dir.path()).len() > 1, "the writes went on into another segment");
    assert_eq!(lsns(&mut reader), Vec::<u64>::new());
    reader.extend_to(Lsn(written[3]));
    assert_eq!(lsns(&mut reader), written[..4].to_vec());
    reader.extend_to(store.visible_lsn());
    assert_eq!(lsns(&mut reader), written[4..].to_vec());
}

/// An LSN's commit time, for every LSN of a history longer than the few
/// newest rows looked at first: the older ones are found by bisecting over
/// time, with several commits in one microsecond too (a group's commits
/// often share one).
#[test]
fn every_lsn_maps_to_its_commit_time_however_far_back() {
    let dir = scratch_dir();
    let store = open(dir.path());
    store.create_project("app").unwrap();
    let mut written = Vec::new();
    std::thread::scope(|s| {
        let writers: Vec<_> = (0..4)
            .map(|t| {
                let store = store.clone();
                s.spawn(move || {
                    (0..75)
                        .map(|i| {
                            let req = argon_store::WriteRequest::new("app", "main").op(
                                argon_store::WriteOp::Insert {
                                    coll: "c".into(),
                                    doc: doc_v(t * 1000 + i, i),
                                },
                            );
                            let out = store.write(req).unwrap();
                            (out.lsn.unwrap(), out.time)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for w in writers {
            written.extend(w.join().unwrap());
        }
    });
    written.sort();
    assert_eq!(written.len(), 300);
    for &(lsn, time) in &written {
        assert_eq!(store.time_of_lsn(lsn).unwrap(), Some(time), "LSN {lsn}");
        assert!(store.lsn_at_time(time).unwrap() >= lsn);
    }
    let head = written.last().unwrap().0;
    assert_eq!(store.time_of_lsn(head.next()).unwrap(), None, "past the head");
    assert_eq!(store.time_of_lsn(Lsn(0)).unwrap(), None, "LSN 0 is no commit");
}
