//! Materialization moves an updated branch onto a fresh timeline and copies
//! its visible state there, so reads stop stepping over old versions. It
//! must change nothing a reader can see: the same history is written to
//! two stores, one materializing all the time and one never, and every
//! read of every branch at every LSN must agree (documents, secondary
//! index entries, storage accounting), also after a reopen and a rebuild
//! of the index from the WAL. Writes based on a snapshot taken before a
//! materialization keep their conflict checks.

mod common;
use std::ops::Bound;
use std::time::{Duration, Instant};

use argon_store::{
    At, Check, Lsn, ReadBase, Store, StoreError, StoreOptions, SyncMode, WriteOp, WriteRequest,
};
use bson::{doc, Document};
use common::*;

const DOCS: i32 = 40;

fn options(materialize_after: u64) -> StoreOptions {
    StoreOptions {
        sync: SyncMode::Never,
        index_map_bytes: 64 << 20,
        materialize_after,
        materialize_batch: 3,
        ..Default::default()
    }
}

/// Main gets documents and an index on `v`; branch `feat` forks and
/// rewrites most of them many times, deletes some, re-inserts some; main keeps
/// changing too. Returns the head LSN.
fn write_history(store: &Store) -> Lsn {
    store.create_project("app").unwrap();
    for id in 0..DOCS {
        insert(store, "app", "main", "c", doc! {"_id": id, "v": id, "pad": "x".repeat(50)});
    }
    store
        .write(
            WriteRequest::new("app", "main")
                .op(WriteOp::CreateIndex { coll: "c".into(), spec: doc! {"key": {"v": 1}, "name": "v_1"} }),
        )
        .unwrap();
    store.create_branch("app", "feat", "main", At::Head).unwrap();
    let mut last = Lsn(0);
    for round in 1..=8 {
        // The last ten documents stay as main had them (inherited).
        for id in 0..DOCS - 10 {
            if (id + round) % 7 == 0 {
                delete(store, "app", "feat", "c", id);
            } else {
                put(store, "app", "feat", "c", doc! {"_id": id, "v": id * 100 + round});
            }
        }
        last = put(store, "app", "main", "c", doc! {"_id": round, "v": -round});
        if round == 4 {
            // A collection created on the branch after a materialization.
            last = insert(store, "app", "feat", "d", doc! {"_id": 1});
        }
    }
    last
}

/// Waits until the store's background copying has finished (reads of
/// `branch` at the head then consult one timeline).
fn wait_materialized(store: &Store, branch: &str) {
    let until = Instant::now() + Duration::from_secs(30);
    while store.snapshot("app", branch, At::Head).unwrap().view().read_chain.0.len() > 1 {
        assert!(Instant::now() < until, "materialization never finished");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Everything a reader can observe of one branch at one LSN.
fn observe(store: &Store, branch: &str, lsn: Lsn) -> (Vec<Document>, Vec<Vec<u8>>, Vec<Document>) {
    let snap = store.snapshot("app", branch, At::Lsn(lsn)).unwrap();
    let docs: Vec<Document> = snap.scan("c").unwrap().map(|d| d.unwrap()).collect();
    let mut entries = Vec::new();
    if snap.collection("c").is_some_and(|c| !c.indexes.is_empty()) {
        let mut scan = snap.index_scan("c", "v_1", Bound::Unbounded, Bound::Unbounded).unwrap();
        while let Some((key, _)) = scan.next_raw().unwrap() {
            entries.push(key.to_vec());
        }
    }
    let points: Vec<Document> = (0..DOCS).filter_map(|id| snap.get("c", &id.into()).unwrap()).collect();
    (docs, entries, points)
}

fn compare(a: &Store, b: &Store, head: Lsn) {
    for branch in ["main", "feat"] {
        for lsn in 0..=head.0 {
            assert_eq!(
                observe(a, branch, Lsn(lsn)),
                observe(b, branch, Lsn(lsn)),
                "{branch} at LSN {lsn} reads differently with materialization"
            );
        }
        assert_eq!(a.branch_storage("app", branch).unwrap(), b.branch_storage("app", branch).unwrap());
    }
}

#[test]
fn every_read_at_every_lsn_is_the_same_with_and_without_materialization() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Store::open_with(da.path(), options(8)).unwrap();
    let b = Store::open_with(db.path(), options(u64::MAX)).unwrap();
    let head = write_history(&a);
    assert_eq!(write_history(&b), head, "materializing takes no LSNs");

    // `feat` moved to new timelines; it no longer reads through main.
    assert_ne!(a.branch("app", "feat").unwrap().timeline, b.branch("app", "feat").unwrap().timeline);
    assert_eq!(b.snapshot("app", "feat", At::Head).unwrap().view().read_chain.0.len(), 2);
    wait_materialized(&a, "feat");
    compare(&a, &b, head);
    // Inherited documents copied from main still count as shared.
    let storage = a.branch_storage("app", "feat").unwrap();
    assert!(storage.own_bytes > 0 && storage.shared_bytes > 0, "{storage:?}");
    // Branch info is unchanged by the move.
    let (ia, ib) = (a.branch("app", "feat").unwrap(), b.branch("app", "feat").unwrap());
    assert_eq!((ia.head_lsn, ia.base_lsn, ia.commits), (ib.head_lsn, ib.base_lsn, ib.commits));

    // From the WAL alone: the same moves, then the copies again.
    drop(a);
    let a = Store::open_with(da.path(), StoreOptions { rebuild_index: true, ..options(8) }).unwrap();
    wait_materialized(&a, "feat");
    compare(&a, &b, head);
}

#[test]
fn a_copy_under_way_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let plain = tempfile::tempdir().unwrap();
    // One version copied per group and per idle round: slow enough that the
    // store closes with copies still to make.
    let opts = StoreOptions { materialize_batch: 1, ..options(8) };
    let store = Store::open_with(dir.path(), opts.clone()).unwrap();
    let b = Store::open_with(plain.path(), options(u64::MAX)).unwrap();
    let head = write_history(&store);
    write_history(&b);
    drop(store);
    let store = Store::open_with(dir.path(), opts).unwrap();
    compare(&store, &b, head);
    wait_materialized(&store, "feat");
    compare(&store, &b, head);
}

#[test]
fn snapshot_writes_keep_their_conflict_checks_across_a_materialization() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(dir.path(), options(8)).unwrap();
    store.create_project("app").unwrap();
    for id in 0..DOCS {
        insert(&store, "app", "main", "c", doc_v(id, 0));
    }
    let snap = store.snapshot("app", "main", At::Head).unwrap();
    let base = ReadBase { timeline: snap.view().timeline, lsn: snap.lsn() };
    drop(snap);
    // After the snapshot: document 1 deleted, document 2 changed, then
    // enough updates of the others to move main to a new timeline.
    delete(&store, "app", "main", "c", 1);
    put(&store, "app", "main", "c", doc_v(2, 9));
    for round in 1..=3 {
        for id in 10..DOCS {
            put(&store, "app", "main", "c", doc_v(id, round));
        }
    }
    assert_ne!(store.branch("app", "main").unwrap().timeline, base.timeline, "main was materialized");
    wait_materialized(&store, "main");
    let write = |id: i32| {
        let mut req = WriteRequest::new("app", "main").op(WriteOp::Update {
            coll: "c".into(),
            id: id.into(),
            doc: doc_v(id, 100),
            replace: true,
            check: Check::UnchangedSinceBase,
        });
        req.base = Some(base);
        store.write(req)
    };
    // Untouched since the snapshot: no conflict, though the branch moved.
    write(3).expect("a document unchanged since the snapshot");
    // Changed, and deleted (its tombstone was not copied): conflicts.
    assert!(matches!(write(2), Err(StoreError::WriteConflict(_))));
    assert!(matches!(write(1), Err(StoreError::WriteConflict(_))));
}

#[test]
fn a_document_deleted_before_the_snapshot_can_be_upserted_from_it() {
    // Materializing often (8) and never: a snapshot taken after both the
    // delete and the materializations sees no document, so a checked
    // upsert of it is no conflict, whether the tombstone was copied or not.
    for materialize_after in [8, u64::MAX] {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_with(dir.path(), options(materialize_after)).unwrap();
        store.create_project("app").unwrap();
        for id in 0..DOCS {
            insert(&store, "app", "main", "c", doc_v(id, 0));
        }
        delete(&store, "app", "main", "c", 1);
        for round in 1..=3 {
            for id in 10..DOCS {
                put(&store, "app", "main", "c", doc_v(id, round));
            }
        }
        wait_materialized(&store, "main");
        let snap = store.snapshot("app", "main", At::Head).unwrap();
        assert!(snap.get("c", &1.into()).unwrap().is_none());
        let base = ReadBase { timeline: snap.view().timeline, lsn: snap.lsn() };
        drop(snap);
        let upsert = |v: i32| {
            let mut req = WriteRequest::new("app", "main").op(WriteOp::Update {
                coll: "c".into(),
                id: 1.into(),
                doc: doc_v(1, v),
                replace: true,
                check: Check::UnchangedSinceBase,
            });
            req.base = Some(base);
            store.write(req)
        };
        upsert(7).unwrap_or_else(|e| panic!("materialize_after {materialize_after}: {e}"));
        let snap = store.snapshot("app", "main", At::Head).unwrap();
        assert_eq!(snap.get("c", &1.into()).unwrap(), Some(doc_v(1, 7)));
        drop(snap);
        // The same upsert again from the same snapshot now conflicts: the
        // document was inserted after it.
        assert!(
            matches!(upsert(8), Err(StoreError::WriteConflict(_))),
            "materialize_after {materialize_after}"
        );
    }
}
