//! Secondary indexes: built on existing data, maintained by writes,
//! versioned like documents, unique per branch.

mod common;
use std::ops::Bound;

use argon_store::{At, IndexDef, Store, StoreError, WriteOp, WriteRequest};
use bson::{doc, Bson, Document};
use common::*;

fn create_index(store: &Store, branch: &str, spec: Document) -> Result<(), StoreError> {
    store
        .write(WriteRequest::new("app", branch).op(WriteOp::CreateIndex { coll: "c".into(), spec }))
        .map(|_| ())
}

/// Ids found through the index for key value `v` of field `f`.
fn lookup(store: &Store, branch: &str, at: At, index: &str, spec: &Document, v: Bson) -> Vec<i32> {
    let snap = store.snapshot("app", branch, at).unwrap();
    let def = IndexDef::from_spec(spec);
    let k = def.encode_field(0, &v);
    let mut scan = snap.index_scan("c", index, Bound::Included(&k), Bound::Included(&k)).unwrap();
    let mut out = Vec::new();
    while let Some((_, id_key)) = scan.next_raw().unwrap() {
        out.push(snap.get_by_id_key("c", id_key).unwrap().unwrap().get_i32("_id").unwrap());
    }
    out
}

#[test]
fn index_reads_follow_history_and_branches() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.create_project("app").unwrap();
    for i in 0..10 {
        insert(&store, "app", "main", "c", doc! {"_id": i, "g": i % 3, "tags": [i, 100]});
    }
    let spec = doc! {"key": {"g": 1}, "name": "g_1"};
    create_index(&store, "main", spec.clone()).unwrap();
    let built = store.visible_lsn();
    assert_eq!(lookup(&store, "main", At::Head, "g_1", &spec, Bson::Int32(1)), vec![1, 4, 7]);
    // Changes move entries; the past still sees the old ones.
    put(&store, "app", "main", "c", doc! {"_id": 1, "g": 2});
    delete(&store, "app", "main", "c", 4);
    assert_eq!(lookup(&store, "main", At::Head, "g_1", &spec, Bson::Int32(1)), vec![7]);
    assert_eq!(lookup(&store, "main", At::Head, "g_1", &spec, Bson::Int32(2)), vec![1, 2, 5, 8]);
    assert_eq!(lookup(&store, "main", At::Lsn(built), "g_1", &spec, Bson::Int32(1)), vec![1, 4, 7]);
    // A branch inherits the index; its changes are its own.
    store.create_branch("app", "b", "main", At::Head).unwrap();
    put(&store, "app", "b", "c", doc! {"_id": 7, "g": 0});
    assert!(lookup(&store, "b", At::Head, "g_1", &spec, Bson::Int32(1)).is_empty());
    assert_eq!(lookup(&store, "main", At::Head, "g_1", &spec, Bson::Int32(1)), vec![7]);
    // An index created on the branch does not exist on main.
    let tags = doc! {"key": {"tags": 1}, "name": "tags_1"};
    create_index(&store, "b", tags.clone()).unwrap();
    // 10 documents, minus 4 (deleted) and 1 and 7 (replaced without tags).
    assert_eq!(
        lookup(&store, "b", At::Head, "tags_1", &tags, Bson::Int32(100)),
        vec![0, 2, 3, 5, 6, 8, 9],
        "multikey"
    );
    assert!(store
        .snapshot("app", "main", At::Head)
        .unwrap()
        .index_scan("c", "tags_1", Bound::Unbounded, Bound::Unbounded)
        .is_err());
    // Before the index existed, it is not in the catalog.
    let before = store.snapshot("app", "main", At::Lsn(built.prev())).unwrap();
    assert!(before.collection("c").unwrap().indexes.is_empty());
}

#[test]
fn unique_indexes_are_enforced_per_branch() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.create_project("app").unwrap();
    insert(&store, "app", "main", "c", doc! {"_id": 1, "email": "a@x"});
    insert(&store, "app", "main", "c", doc! {"_id": 2, "email": "a@x"});
    // Existing duplicates refuse the index.
    let spec = doc! {"key": {"email": 1}, "name": "email_1", "unique": true};
    let e = create_index(&store, "main", spec.clone()).unwrap_err();
    assert!(matches!(e, StoreError::DuplicateKey { .. }), "{e}");
    put(&store, "app", "main", "c", doc! {"_id": 2, "email": "b@x"});
    create_index(&store, "main", spec).unwrap();
    store.create_branch("app", "b", "main", At::Head).unwrap();
    let e = store
        .write(
            WriteRequest::new("app", "main")
                .op(WriteOp::Insert { coll: "c".into(), doc: doc! {"_id": 3, "email": "a@x"} }),
        )
        .unwrap_err();
    match e {
        StoreError::DuplicateKey { index, key_pattern, key_value, .. } => {
            assert_eq!(index, "email_1");
            assert_eq!(*key_pattern, doc! {"email": 1});
            assert_eq!(*key_value, doc! {"email": "a@x"});
        }
        e => panic!("{e}"),
    }
    // On the branch, freeing a key lets another document take it.
    put(&store, "app", "b", "c", doc! {"_id": 1, "email": "z@x"});
    insert(&store, "app", "b", "c", doc! {"_id": 3, "email": "a@x"});
    // ...but main still holds a@x for document 1.
    assert!(store
        .write(
            WriteRequest::new("app", "main")
                .op(WriteOp::Insert { coll: "c".into(), doc: doc! {"_id": 4, "email": "a@x"} })
        )
        .is_err());
    // Two inserts of one key in one request: the second fails.
    let mut req = WriteRequest::new("app", "main");
    req.ops.push(WriteOp::Insert { coll: "c".into(), doc: doc! {"_id": 5, "email": "new@x"} });
    req.ops.push(WriteOp::Insert { coll: "c".into(), doc: doc! {"_id": 6, "email": "new@x"} });
    assert!(matches!(store.write(req).unwrap_err(), StoreError::DuplicateKey { .. }));
}

#[test]
fn indexes_survive_reopen_and_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let spec = doc! {"key": {"g": 1}, "name": "g_1"};
    {
        let store = Store::open(dir.path()).unwrap();
        store.create_project("app").unwrap();
        for i in 0..50 {
            insert(&store, "app", "main", "c", doc! {"_id": i, "g": i % 5});
        }
        create_index(&store, "main", spec.clone()).unwrap();
        put(&store, "app", "main", "c", doc! {"_id": 0, "g": 9});
    }
    std::fs::remove_dir_all(dir.path().join("index")).unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(
        lookup(&store, "main", At::Head, "g_1", &spec, Bson::Int32(0)),
        vec![5, 10, 15, 20, 25, 30, 35, 40, 45]
    );
    assert_eq!(lookup(&store, "main", At::Head, "g_1", &spec, Bson::Int32(9)), vec![0]);
}

/// Every (sub-key, payload) of an index scan, in the scan's order.
fn entries(
    store: &Store,
    branch: &str,
    at: At,
    lower: Bound<&[u8]>,
    upper: Bound<&[u8]>,
    rev: bool,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let snap = store.snapshot("app", branch, at).unwrap();
    let mut scan = if rev {
        snap.index_scan_rev("c", "g_1", lower, upper).unwrap()
    } else {
        snap.index_scan("c", "g_1", lower, upper).unwrap()
    };
    let mut out = Vec::new();
    while let Some((k, v)) = scan.next_raw().unwrap() {
        out.push((k.to_vec(), v.to_vec()));
    }
    out
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// A descending index scan returns exactly the ascending scan reversed,
    /// at every LSN of a history with updates, deletes, a branch forked in
    /// the middle and changes on both sides, with and without bounds.
    #[test]
    fn a_descending_index_scan_is_the_ascending_scan_reversed(
        ops in proptest::collection::vec((0..3u8, 0..12i32, 0..5i32, proptest::bool::ANY), 1..40),
        fork_at in 0..40usize,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.create_project("app").unwrap();
        insert(&store, "app", "main", "c", doc! {"_id": -1, "g": 0});
        create_index(&store, "main", doc! {"key": {"g": 1}, "name": "g_1"}).unwrap();
        let mut lsns = vec![store.visible_lsn()];
        let mut forked = false;
        for (i, (kind, id, g, on_branch)) in ops.into_iter().enumerate() {
            if i == fork_at {
                store.create_branch("app", "b", "main", At::Head).unwrap();
                forked = true;
            }
            let branch = if forked && on_branch { "b" } else { "main" };
            match kind {
                0 | 1 => { put(&store, "app", branch, "c", doc! {"_id": id, "g": g}); }
                _ => {
                    let _ = store.write(WriteRequest::new("app", branch).op(WriteOp::Delete {
                        coll: "c".into(), id: Bson::Int32(id), check: argon_store::Check::Blind,
                    }));
                }
            }
            lsns.push(store.visible_lsn());
        }
        let def = IndexDef::from_spec(&doc! {"key": {"g": 1}, "name": "g_1"});
        let (k1, k3) = (def.encode_field(0, &Bson::Int32(1)), def.encode_field(0, &Bson::Int32(3)));
        type Range<'a> = (Bound<&'a [u8]>, Bound<&'a [u8]>);
        let bounds: [Range; 3] = [
            (Bound::Unbounded, Bound::Unbounded),
            (Bound::Included(&k1), Bound::Included(&k3)),
            (Bound::Excluded(&k1), Bound::Excluded(&k3)),
        ];
        let mut branches = vec!["main"];
        if forked { branches.push("b"); }
        for branch in branches {
            for &lsn in &lsns {
                let at = At::Lsn(lsn);
                if store.snapshot("app", branch, at).is_err() { continue; }
                for (lo, hi) in bounds.iter().cloned() {
                    let mut fwd = entries(&store, branch, at, lo, hi, false);
                    let rev = entries(&store, branch, at, lo, hi, true);
                    fwd.reverse();
                    proptest::prop_assert_eq!(&rev, &fwd, "branch {} at LSN {}", branch, lsn);
                }
            }
        }
    }
}

#[test]
fn collated_unique_indexes_survive_reopen_and_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let collation = doc! {"locale": "en", "strength": 2};
    let spec = doc! {"key": {"email": 1}, "name": "email_ci", "unique": true, "collation": collation.clone()};
    {
        let store = Store::open(dir.path()).unwrap();
        store.create_project("app").unwrap();
        insert(&store, "app", "main", "c", doc! {"_id": 1, "email": "Ada@Example.com"});
        create_index(&store, "main", spec.clone()).unwrap();
        insert(&store, "app", "main", "c", doc! {"_id": 2, "email": "grace@example.com"});
        let dup = store.write(
            WriteRequest::new("app", "main")
                .op(WriteOp::Insert { coll: "c".into(), doc: doc! {"_id": 3, "email": "ADA@example.COM"} }),
        );
        assert!(matches!(dup, Err(StoreError::DuplicateKey { .. })), "{dup:?}");
    }
    // Replayed from the WAL alone, the index holds the same sort keys.
    let store = Store::open_with(
        dir.path(),
        argon_store::StoreOptions { rebuild_index: true, ..argon_store::StoreOptions::default() },
    )
    .unwrap();
    let any_case = Bson::String("ada@EXAMPLE.com".into());
    assert_eq!(lookup(&store, "main", At::Head, "email_ci", &spec, any_case), vec![1]);
    let dup = store.write(
        WriteRequest::new("app", "main")
            .op(WriteOp::Insert { coll: "c".into(), doc: doc! {"_id": 4, "email": "GRACE@example.com"} }),
    );
    assert!(matches!(dup, Err(StoreError::DuplicateKey { .. })), "{dup:?}");
    // The same key under the simple collation is another index.
    let simple = doc! {"key": {"email": 1}, "name": "email_1"};
    create_index(&store, "main", simple.clone()).unwrap();
    assert!(lookup(&store, "main", At::Head, "email_1", &simple, Bson::String("ada@example.com".into()))
        .is_empty());
}
