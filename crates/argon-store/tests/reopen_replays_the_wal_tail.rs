//! Reopening restores the index from its checkpoint and replays the WAL
//! tail; a lost index is rebuilt; a second opener gets a clear error.

mod common;
use argon_store::{At, Store, StoreError, StoreOptions};
use common::*;

#[test]
fn state_survives_reopen_and_index_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        store.create_project("app").unwrap();
        for i in 0..100 {
            insert(&store, "app", "main", "c", doc_v(i, i));
        }
        store.create_branch("app", "f", "main", At::Head).unwrap();
        put(&store, "app", "f", "c", doc_v(1, 100));
    }
    let expect_main: Vec<(i32, i32)> = (0..100).map(|i| (i, i)).collect();
    {
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(read_all(&store, "app", "main", "c", At::Head), expect_main);
        assert_eq!(read_all(&store, "app", "f", "c", At::Head)[1], (1, 100));
    }
    // Lose the index entirely: it is rebuilt from the WAL.
    std::fs::remove_dir_all(dir.path().join("index")).unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(read_all(&store, "app", "main", "c", At::Head), expect_main);
        assert_eq!(read_all(&store, "app", "f", "c", At::Head)[1], (1, 100));
        assert_eq!(store.branches("app").unwrap().len(), 2);
    }
    let store =
        Store::open_with(dir.path(), StoreOptions { rebuild_index: true, ..Default::default() }).unwrap();
    assert_eq!(read_all(&store, "app", "main", "c", At::Head), expect_main);
}

#[test]
fn a_second_opener_is_told_who_holds_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let _store = Store::open(dir.path()).unwrap();
    match Store::open(dir.path()) {
        Err(StoreError::Locked { pid, .. }) => assert_eq!(pid, std::process::id().to_string()),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("second open succeeded"),
    }
}

#[test]
fn an_index_left_open_by_a_machine_crash_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        store.create_project("app").unwrap();
        insert(&store, "app", "main", "c", doc_v(1, 1));
        assert!(!store.stats().index_rebuilt);
    }
    let marker = dir.path().join("index").join("SESSION");
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "clean");
    // A process crash: unclean, same boot — the index is trusted.
    let this_boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    std::fs::write(&marker, this_boot.trim()).unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        assert!(!store.stats().index_rebuilt);
    }
    // A machine crash: unclean on another boot — rebuilt from the WAL.
    std::fs::write(&marker, "some-earlier-boot").unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert!(store.stats().index_rebuilt);
    assert_eq!(read_all(&store, "app", "main", "c", At::Head), vec![(1, 1)]);
}

#[test]
fn collection_options_changes_are_replayed() {
    use argon_store::{WriteOp, WriteRequest};
    use bson::doc;
    let dir = tempfile::tempdir().unwrap();
    let options = |store: &Store, at: At| {
        store.snapshot("app", "main", at).unwrap().collection("c").map(|c| c.options.clone()).unwrap()
    };
    let (before, after) = {
        let store = Store::open(dir.path()).unwrap();
        store.create_project("app").unwrap();
        let create = WriteOp::CreateCollection { name: "c".into(), options: doc! {"validator": {"a": 1}} };
        let before = store.write(WriteRequest::new("app", "main").op(create)).unwrap().lsn.unwrap();
        let set = WriteOp::SetCollectionOptions { coll: "c".into(), options: doc! {"validator": {"a": 2}} };
        let after = store.write(WriteRequest::new("app", "main").op(set.clone())).unwrap().lsn.unwrap();
        // The same options again change nothing.
        assert_eq!(store.write(WriteRequest::new("app", "main").op(set)).unwrap().lsn, None);
        let missing = WriteOp::SetCollectionOptions { coll: "nope".into(), options: doc! {} };
        assert!(matches!(
            store.write(WriteRequest::new("app", "main").op(missing)),
            Err(StoreError::NamespaceNotFound(_))
        ));
        (before, after)
    };
    for rebuild_index in [false, true] {
        let store =
            Store::open_with(dir.path(), StoreOptions { rebuild_index, ..Default::default() }).unwrap();
        assert_eq!(options(&store, At::Lsn(before)), doc! {"validator": {"a": 1}});
        assert_eq!(options(&store, At::Lsn(after)), doc! {"validator": {"a": 2}});
    }
}

#[test]
fn index_options_changes_are_replayed_and_keep_the_key() {
    use argon_store::{WriteOp, WriteRequest};
    use bson::doc;
    let dir = tempfile::tempdir().unwrap();
    let spec_at = |store: &Store, at: At| {
        store.snapshot("app", "main", at).unwrap().collection("c").unwrap().indexes[0].spec.clone()
    };
    let plain = doc! {"v": 2, "key": {"a": 1}, "name": "a_1"};
    let hidden = doc! {"v": 2, "key": {"a": 1}, "name": "a_1", "hidden": true};
    let (before, after) = {
        let store = Store::open(dir.path()).unwrap();
        store.create_project("app").unwrap();
        let create = WriteOp::CreateIndex { coll: "c".into(), spec: plain.clone() };
        let before = store.write(WriteRequest::new("app", "main").op(create)).unwrap().lsn.unwrap();
        let set = WriteOp::SetIndexOptions { coll: "c".into(), name: "a_1".into(), spec: hidden.clone() };
        let after = store.write(WriteRequest::new("app", "main").op(set.clone())).unwrap().lsn.unwrap();
        assert_eq!(store.write(WriteRequest::new("app", "main").op(set)).unwrap().lsn, None);
        // Another key, or an unknown index, is refused.
        let rekey = WriteOp::SetIndexOptions {
            coll: "c".into(),
            name: "a_1".into(),
            spec: doc! {"v": 2, "key": {"b": 1}, "name": "a_1"},
        };
        assert!(matches!(
            store.write(WriteRequest::new("app", "main").op(rekey)),
            Err(StoreError::InvalidArgument(_))
        ));
        let unknown = WriteOp::SetIndexOptions { coll: "c".into(), name: "zz".into(), spec: plain.clone() };
        assert!(matches!(
            store.write(WriteRequest::new("app", "main").op(unknown)),
            Err(StoreError::InvalidArgument(_))
        ));
        (before, after)
    };
    for rebuild_index in [false, true] {
        let store =
            Store::open_with(dir.path(), StoreOptions { rebuild_index, ..Default::default() }).unwrap();
        assert_eq!(spec_at(&store, At::Lsn(before)), plain);
        assert_eq!(spec_at(&store, At::Lsn(after)), hidden);
    }
}
