//! WAL accounting per project and per branch: a branch's history is made
//! of records written on its own timelines and records of its ancestors up
//! to its fork points. Writes after a fork count for one side only; a
//! reset drops the discarded records from the branch's own bytes (they stay
//! in the project's); the figures survive a reopen.

use argon_store::{At, BranchWal, Lsn, Store, WriteOp, WriteRequest};
use bson::doc;

fn insert(store: &Store, branch: &str, id: i64) -> Lsn {
    let req = WriteRequest::new("app", branch)
        .op(WriteOp::Insert { coll: "c".into(), doc: doc! {"_id": id, "pad": "x".repeat(100)} });
    store.write(req).unwrap().lsn.unwrap()
}

fn wal(store: &Store, branch: &str) -> BranchWal {
    store.wal_storage("app").unwrap().branches[branch]
}

#[test]
fn branches_count_their_own_records_and_inherit_their_ancestors_up_to_the_fork() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.create_project("app").unwrap();
    let mut main_after_two = None;
    for i in 0..5 {
        let lsn = insert(&store, "main", i);
        if i == 1 {
            main_after_two = Some((lsn, wal(&store, "main").own_bytes));
        }
    }
    let (after_two_inserts, main_two_bytes) = main_after_two.unwrap();
    let main_at_fork = wal(&store, "main");
    assert!(main_at_fork.own_bytes > 5 * 100, "five records of over 100 bytes: {main_at_fork:?}");
    assert_eq!(main_at_fork.inherited_bytes, 0, "main has no ancestor");

    store.create_branch("app", "b", "main", At::Head).unwrap();
    let b = wal(&store, "b");
    assert_eq!(b, BranchWal { own_bytes: 0, inherited_bytes: main_at_fork.own_bytes });

    // Writes after the fork count for their branch only.
    let project_before = store.wal_storage("app").unwrap().project_bytes;
    insert(&store, "main", 100);
    let main_one = wal(&store, "main").own_bytes - main_at_fork.own_bytes;
    assert!(main_one > 100);
    assert_eq!(wal(&store, "b"), b, "main's later writes are not b's history");
    insert(&store, "b", 200);
    insert(&store, "b", 201);
    let b_now = wal(&store, "b");
    assert_eq!(b_now.inherited_bytes, main_at_fork.own_bytes);
    // (b's records are 3 bytes shorter than main's: the branch name is in them.)
    assert_eq!(b_now.own_bytes, 2 * (main_one - 3), "b's two records");
    let project = store.wal_storage("app").unwrap().project_bytes;
    assert_eq!(project - project_before, main_one + b_now.own_bytes, "the project counts every record");

    // A grandchild inherits b's own and b's inherited history.
    store.create_branch("app", "c", "b", At::Head).unwrap();
    assert_eq!(
        wal(&store, "c"),
        BranchWal { own_bytes: 0, inherited_bytes: b_now.own_bytes + b_now.inherited_bytes }
    );

    // A fork from the past inherits only what its parent had then.
    store.create_branch("app", "old", "main", At::Lsn(after_two_inserts)).unwrap();
    assert_eq!(wal(&store, "old"), BranchWal { own_bytes: 0, inherited_bytes: main_two_bytes });

    // Resetting b to its creation discards its own records from its history.
    store.reset_branch("app", "b", At::Lsn(store.branch("app", "b").unwrap().created_lsn), None).unwrap();
    assert_eq!(wal(&store, "b"), BranchWal { own_bytes: 0, inherited_bytes: main_at_fork.own_bytes });
    assert!(store.wal_storage("app").unwrap().project_bytes > project, "the WAL keeps them");
    assert_eq!(
        wal(&store, "c"),
        BranchWal { own_bytes: 0, inherited_bytes: b_now.own_bytes + b_now.inherited_bytes }
    );

    // The same after a reopen (the accounting reads the WAL).
    let before = store.wal_storage("app").unwrap();
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.wal_storage("app").unwrap(), before);
    assert!(store.wal_storage("nope").is_err());
}

/// A branch moved onto new timelines by materialization still owns every
/// record written to it.
#[test]
fn materialized_timelines_stay_the_branchs_own() {
    let dir = tempfile::tempdir().unwrap();
    let opts = argon_store::StoreOptions { materialize_after: 1, ..Default::default() };
    let store = Store::open_with(dir.path(), opts).unwrap();
    store.create_project("app").unwrap();
    let created = store.wal_storage("app").unwrap().project_bytes;
    for round in 0..6 {
        for id in 0..3 {
            let req = WriteRequest::new("app", "main").op(WriteOp::Update {
                coll: "c".into(),
                id: id.into(),
                doc: doc! {"_id": id, "round": round},
                replace: true,
                check: argon_store::Check::Blind,
            });
            store.write(req).unwrap();
        }
    }
    assert!(store.stats().timelines > 1, "materialization moved main to a new timeline");
    let w = store.wal_storage("app").unwrap();
    assert_eq!(w.branches["main"].own_bytes, w.project_bytes - created, "every commit is main's");
    assert_eq!(w.branches["main"].inherited_bytes, 0);
}
