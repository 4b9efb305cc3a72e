//! Duplicate keys, write conflicts, and the three batch modes.

mod common;
use argon_store::{At, Check, ReadBase, Store, StoreError, WriteMode, WriteOp, WriteRequest};
use bson::doc;
use common::*;

#[test]
fn duplicate_id_is_refused_and_ordered_batches_stop() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.create_project("app").unwrap();
    insert(&store, "app", "main", "c", doc_v(1, 1));
    let mut req = WriteRequest::new("app", "main");
    req.mode = WriteMode::Ordered;
    for id in [2, 1, 3] {
        req.ops.push(WriteOp::Insert { coll: "c".into(), doc: doc_v(id, 0) });
    }
    let out = store.write(req.clone()).unwrap();
    assert_eq!(out.results.len(), 2);
    assert!(matches!(out.results[1], Err(StoreError::DuplicateKey { .. })));
    assert_eq!(read_all(&store, "app", "main", "c", At::Head), vec![(1, 1), (2, 0)]);

    req.mode = WriteMode::Unordered;
    req.ops = vec![
        WriteOp::Insert { coll: "c".into(), doc: doc_v(4, 0) },
        WriteOp::Insert { coll: "c".into(), doc: doc_v(1, 0) },
        WriteOp::Insert { coll: "c".into(), doc: doc_v(5, 0) },
        WriteOp::Insert { coll: "c".into(), doc: doc_v(5, 1) },
    ];
    let out = store.write(req.clone()).unwrap();
    assert_eq!(out.results.iter().filter(|r| r.is_ok()).count(), 2);
    assert_eq!(read_all(&store, "app", "main", "c", At::Head), vec![(1, 1), (2, 0), (4, 0), (5, 0)]);

    req.mode = WriteMode::Atomic;
    req.ops = vec![
        WriteOp::Insert { coll: "c".into(), doc: doc_v(6, 0) },
        WriteOp::Insert { coll: "c".into(), doc: doc_v(1, 0) },
    ];
    let e = store.write(req).unwrap_err();
    match e {
        StoreError::DuplicateKey { key_value, key_pattern, .. } => {
            assert_eq!(*key_value, doc! {"_id": 1});
            assert_eq!(*key_pattern, doc! {"_id": 1});
        }
        e => panic!("unexpected {e}"),
    }
    assert!(store.snapshot("app", "main", At::Head).unwrap().get("c", &6.into()).unwrap().is_none());
}

#[test]
fn a_document_changed_after_the_snapshot_is_a_write_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.create_project("app").unwrap();
    insert(&store, "app", "main", "c", doc_v(1, 1));
    let snap = store.snapshot("app", "main", At::Head).unwrap();
    let base = ReadBase { timeline: snap.view().timeline, lsn: snap.lsn() };
    // Someone else commits a change to the document.
    put(&store, "app", "main", "c", doc_v(1, 2));
    let mut req = WriteRequest::new("app", "main");
    req.base = Some(base);
    req.ops.push(WriteOp::Update {
        coll: "c".into(),
        id: 1.into(),
        doc: doc_v(1, 3),
        replace: false,
        check: Check::UnchangedSinceBase,
    });
    let e = store.write(req.clone()).unwrap_err();
    assert!(matches!(e, StoreError::WriteConflict(_)), "{e}");
    // Reading a changed document also conflicts.
    req.ops = vec![
        WriteOp::Read { coll: "c".into(), id: 1.into() },
        WriteOp::Insert { coll: "c".into(), doc: doc_v(7, 7) },
    ];
    assert!(matches!(store.write(req.clone()).unwrap_err(), StoreError::WriteConflict(_)));
    // A reset of the branch since the snapshot conflicts too.
    let fresh = store.snapshot("app", "main", At::Head).unwrap();
    req.base = Some(ReadBase { timeline: fresh.view().timeline, lsn: fresh.lsn() });
    req.ops = vec![WriteOp::Insert { coll: "c".into(), doc: doc_v(8, 8) }];
    store.reset_branch("app", "main", At::Lsn(argon_store::Lsn(2)), None).unwrap();
    assert!(matches!(store.write(req).unwrap_err(), StoreError::WriteConflict(_)));
}

#[test]
fn concurrent_writers_share_group_commits() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.create_project("app").unwrap();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..200 {
                    insert(&store, "app", "main", "c", doc_v(t * 1000 + i, t));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(read_all(&store, "app", "main", "c", At::Head).len(), 1600);
    let stats = store.stats();
    assert!(
        stats.group_commits < stats.commits,
        "{} groups for {} commits",
        stats.group_commits,
        stats.commits
    );
}

#[test]
fn catalog_operations_are_versioned() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.create_project("app").unwrap();
    let l1 = insert(&store, "app", "main", "c", doc_v(1, 1));
    let rename = store
        .write(WriteRequest::new("app", "main").op(WriteOp::RenameCollection {
            from: "c".into(),
            to: "d".into(),
            drop_target: false,
        }))
        .unwrap()
        .lsn
        .unwrap();
    let drop = store
        .write(WriteRequest::new("app", "main").op(WriteOp::DropCollection { name: "d".into() }))
        .unwrap()
        .lsn
        .unwrap();
    assert_eq!(read_all(&store, "app", "main", "c", At::Lsn(l1)), vec![(1, 1)]);
    assert_eq!(read_all(&store, "app", "main", "d", At::Lsn(rename)), vec![(1, 1)]);
    assert!(read_all(&store, "app", "main", "c", At::Lsn(rename)).is_empty());
    assert!(store.snapshot("app", "main", At::Lsn(drop)).unwrap().collection("d").is_none());
    // Recreating a dropped collection starts empty.
    insert(&store, "app", "main", "d", doc_v(5, 5));
    assert_eq!(read_all(&store, "app", "main", "d", At::Head), vec![(5, 5)]);
    // Restore the dropped collection by rewinding.
    store.reset_branch("app", "main", At::Lsn(rename), None).unwrap();
    assert_eq!(read_all(&store, "app", "main", "d", At::Head), vec![(1, 1)]);
}
