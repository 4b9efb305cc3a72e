//! Reset points a branch at its past; the discarded entries stay readable
//! through a backup branch and branches forked before, and the log.

mod common;
use argon_store::{At, Store, StoreError};
use common::*;

#[test]
fn reset_with_backup_and_preview() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.create_project("app").unwrap();
    let good = insert(&store, "app", "main", "c", doc_v(1, 1));
    let early = store.create_branch("app", "early", "main", At::Head).unwrap();
    put(&store, "app", "main", "c", doc_v(1, 2));
    insert(&store, "app", "main", "c", doc_v(2, 2));
    insert(&store, "app", "main", "d", doc_v(9, 9));

    let preview = store.restore_preview("app", "main", At::Lsn(good)).unwrap();
    assert_eq!(preview.entries, 3);
    assert_eq!(preview.collections.get("c"), Some(&2));
    assert_eq!(preview.collections.get("d"), Some(&1));
    assert!(preview.catalog_changes.iter().any(|c| c == "create d"));

    let after = store.reset_branch("app", "main", At::Lsn(good), Some("backup")).unwrap();
    assert!(after.head_lsn > good);
    assert_eq!(read_all(&store, "app", "main", "c", At::Head), vec![(1, 1)]);
    let snap = store.snapshot("app", "main", At::Head).unwrap();
    assert!(snap.collection("d").is_none(), "collection created after the target is gone");
    // The discarded state is intact in the backup.
    assert_eq!(read_all(&store, "app", "backup", "c", At::Head), vec![(1, 2), (2, 2)]);
    assert_eq!(read_all(&store, "app", "backup", "d", At::Head), vec![(9, 9)]);
    // A branch forked before the reset is unaffected.
    assert_eq!(read_all(&store, "app", "early", "c", At::Head), vec![(1, 1)]);
    assert_eq!(early.parent.as_deref(), Some("main"));
    // Writing after the reset continues from the target.
    insert(&store, "app", "main", "c", doc_v(3, 3));
    assert_eq!(read_all(&store, "app", "main", "c", At::Head), vec![(1, 1), (3, 3)]);
    // The log still holds every entry.
    let n = store.log(argon_store::Lsn(1)).unwrap().count();
    assert!(n >= 9, "log has {n} entries");
}

#[test]
fn deletion_rules() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.create_project("app").unwrap();
    store.create_branch("app", "a", "main", At::Head).unwrap();
    store.create_branch("app", "a1", "a", At::Head).unwrap();
    let e = store.delete_branch("app", "main").unwrap_err();
    assert!(matches!(e, StoreError::BranchDeleteRefused { .. }), "{e}");
    let e = store.delete_branch("app", "a").unwrap_err();
    assert!(e.to_string().contains("child branches: a1"), "{e}");
    store.protect_branch("app", "a1", true).unwrap();
    let e = store.delete_branch("app", "a1").unwrap_err();
    assert!(e.to_string().contains("protected"), "{e}");
    let e = store.reset_branch("app", "a1", At::Lsn(argon_store::Lsn(1)), None).unwrap_err();
    assert!(matches!(e, StoreError::BranchProtected { .. }), "{e}");
    store.protect_branch("app", "a1", false).unwrap();
    store.delete_branch("app", "a1").unwrap();
    store.delete_branch("app", "a").unwrap();
    let names: Vec<String> = store.branches("app").unwrap().into_iter().map(|b| b.name).collect();
    assert_eq!(names, vec!["main"]);
    let e = store.create_branch("app", "main", "main", At::Head).unwrap_err();
    assert!(matches!(e, StoreError::BranchExists { .. }));
}

#[test]
fn time_maps_to_lsn() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.create_project("app").unwrap();
    let l1 = insert(&store, "app", "main", "c", doc_v(1, 1));
    let t1 = store.time_of_lsn(l1).unwrap().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    insert(&store, "app", "main", "c", doc_v(2, 1));
    assert_eq!(store.lsn_at_time(t1).unwrap(), l1);
    assert_eq!(read_all(&store, "app", "main", "c", At::Time(t1)), vec![(1, 1)]);
    let b = store.create_branch("app", "then", "main", At::Time(t1)).unwrap();
    assert_eq!(b.base_lsn, l1);
    assert_eq!(read_all(&store, "app", "then", "c", At::Head), vec![(1, 1)]);
}
