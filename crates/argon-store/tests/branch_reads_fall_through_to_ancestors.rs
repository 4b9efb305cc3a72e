//! A branch reads its own writes, then its ancestors' history below each
//! fork point, at every LSN before, at and after each fork.

mod common;
use argon_store::{At, Lsn, Store};
use common::*;

#[test]
fn grandchild_sees_each_ancestor_up_to_its_fork_point() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.create_project("app").unwrap();
    let l1 = insert(&store, "app", "main", "c", doc_v(1, 1));
    let l2 = insert(&store, "app", "main", "c", doc_v(2, 1));
    let feature = store.create_branch("app", "feature", "main", At::Head).unwrap();
    assert_eq!(feature.base_lsn, l2, "a branch from the head forks at the newest LSN");
    let l4 = put(&store, "app", "main", "c", doc_v(1, 2)); // after the fork: not on feature
    let l5 = put(&store, "app", "feature", "c", doc_v(2, 3));
    let sub = store.create_branch("app", "sub", "feature", At::Head).unwrap();
    let l7 = insert(&store, "app", "feature", "c", doc_v(3, 1)); // after sub's fork
    let l8 = delete(&store, "app", "sub", "c", 1);

    // main
    assert_eq!(read_all(&store, "app", "main", "c", At::Head), vec![(1, 2), (2, 1)]);
    assert_eq!(read_all(&store, "app", "main", "c", At::Lsn(l1)), vec![(1, 1)]);
    // feature: before, at and after its fork point
    assert_eq!(read_all(&store, "app", "feature", "c", At::Lsn(l1)), vec![(1, 1)]);
    assert_eq!(read_all(&store, "app", "feature", "c", At::Lsn(l2)), vec![(1, 1), (2, 1)]);
    assert_eq!(read_all(&store, "app", "feature", "c", At::Lsn(l4)), vec![(1, 1), (2, 1)]);
    assert_eq!(read_all(&store, "app", "feature", "c", At::Lsn(l5)), vec![(1, 1), (2, 3)]);
    assert_eq!(read_all(&store, "app", "feature", "c", At::Head), vec![(1, 1), (2, 3), (3, 1)]);
    // sub: inherits feature up to its fork, main up to feature's fork
    assert_eq!(read_all(&store, "app", "sub", "c", At::Lsn(l5)), vec![(1, 1), (2, 3)]);
    assert_eq!(read_all(&store, "app", "sub", "c", At::Lsn(l7)), vec![(1, 1), (2, 3)]);
    assert_eq!(read_all(&store, "app", "sub", "c", At::Lsn(l8)), vec![(2, 3)]);
    assert_eq!(read_all(&store, "app", "sub", "c", At::Head), vec![(2, 3)]);
    assert_eq!(sub.parent.as_deref(), Some("feature"));
    // point reads agree with scans
    let snap = store.snapshot("app", "sub", At::Lsn(l7)).unwrap();
    assert_eq!(snap.get("c", &1.into()).unwrap().unwrap().get_i32("v").unwrap(), 1);
    assert!(snap.get("c", &3.into()).unwrap().is_none());
    assert_eq!(snap.lsn(), l7);
}

#[test]
fn reading_beyond_the_head_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.create_project("app").unwrap();
    let l = insert(&store, "app", "main", "c", doc_v(1, 1));
    let err = store.snapshot("app", "main", At::Lsn(Lsn(l.0 + 10))).err().unwrap();
    assert!(err.to_string().contains("beyond the head"), "{err}");
    let err = store.snapshot("app", "nope", At::Head).err().unwrap();
    assert!(err.to_string().contains("argon branch create nope -p app"), "{err}");
    let err = store.snapshot("nope", "main", At::Head).err().unwrap();
    assert!(matches!(err, argon_store::StoreError::ProjectNotFound(_)));
}

#[test]
fn branch_creation_copies_nothing_and_is_independent_of_size() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.create_project("app").unwrap();
    let mut req = argon_store::WriteRequest::new("app", "main");
    for i in 0..5000 {
        req = req.op(argon_store::WriteOp::Insert { coll: "c".into(), doc: doc_v(i, i) });
    }
    store.write(req).unwrap();
    let before = store.stats().index_bytes;
    for i in 0..20 {
        store.create_branch("app", &format!("b{i}"), "main", At::Head).unwrap();
    }
    let after = store.stats().index_bytes;
    // Twenty branches of 5000 documents: the index must not grow by copies.
    assert!(after < before + 5000 * 20, "index grew from {before} to {after}");
    assert_eq!(read_all(&store, "app", "b7", "c", At::Head).len(), 5000);
}

#[test]
fn storage_accounting_splits_own_and_shared_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.create_project("app").unwrap();
    for i in 0..10 {
        insert(&store, "app", "main", "c", doc_v(i, i));
    }
    store.create_branch("app", "b", "main", At::Head).unwrap();
    put(&store, "app", "b", "c", doc_v(1, 100));
    insert(&store, "app", "b", "c", doc_v(50, 1));
    let main = store.branch_storage("app", "main").unwrap();
    let b = store.branch_storage("app", "b").unwrap();
    assert_eq!((main.documents, main.shared_bytes), (10, 0));
    assert_eq!(b.documents, 11);
    let one = doc_v(1, 100).to_vec().unwrap().len() as u64;
    assert_eq!(b.own_bytes, 2 * one, "two documents written on the branch");
    assert_eq!(b.copy_bytes(), main.copy_bytes() + one, "a copy holds every visible document");
}
