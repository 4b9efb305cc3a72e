//! An index is multikey at a snapshot when some document visible up to
//! there had an array on a key path. The query planner combines a lower and
//! an upper bound on a field only when it is not, so a missed marker would
//! make range queries miss documents. Markers must follow the history like
//! the entries do: per branch, per LSN, through index builds, reopens,
//! rebuilds from the WAL and materializations.

mod common;
use std::time::{Duration, Instant};

use argon_store::{At, Lsn, Store, StoreOptions, SyncMode, WriteOp, WriteRequest};
use bson::doc;
use common::*;

fn options(materialize_after: u64) -> StoreOptions {
    StoreOptions {
        sync: SyncMode::Never,
        index_map_bytes: 64 << 20,
        materialize_after,
        materialize_batch: 3,
        ..Default::default()
    }
}

fn create_index(store: &Store, branch: &str, field: &str) -> Lsn {
    let spec = doc! {"key": {field: 1}, "name": format!("{field}_1")};
    store
        .write(WriteRequest::new("app", branch).op(WriteOp::CreateIndex { coll: "c".into(), spec }))
        .unwrap()
        .lsn
        .unwrap()
}

fn multikey(store: &Store, branch: &str, at: At, field: &str) -> bool {
    store.snapshot("app", branch, at).unwrap().index_is_multikey("c", &format!("{field}_1")).unwrap()
}

/// What each read below should answer, checked on one store.
struct Story {
    before_array: Lsn,
    array: Lsn,
}

/// main: `v` indexed over scalars, then an array in `v`, then the array
/// replaced by a scalar; `w` indexed over existing data holding an array;
/// `x` indexed where arrays exist only off its path. Branch `early` forks
/// before the array, `late` after.
fn write_story(store: &Store) -> Story {
    store.create_project("app").unwrap();
    insert(store, "app", "main", "c", doc! {"_id": 1, "v": 1, "w": 1, "x": {"y": [1, 2]}});
    create_index(store, "main", "v");
    let before_array = insert(store, "app", "main", "c", doc! {"_id": 2, "v": 2});
    store.create_branch("app", "early", "main", At::Head).unwrap();
    let array = insert(store, "app", "main", "c", doc! {"_id": 3, "v": [3, 4], "w": [5]});
    store.create_branch("app", "late", "main", At::Head).unwrap();
    put(store, "app", "main", "c", doc! {"_id": 3, "v": 3, "w": [5]});
    insert(store, "app", "early", "c", doc! {"_id": 4, "v": 7});
    create_index(store, "main", "w");
    create_index(store, "main", "x");
    Story { before_array, array }
}

fn check_story(store: &Store, s: &Story) {
    assert!(!multikey(store, "main", At::Lsn(s.before_array), "v"), "no array yet");
    assert!(multikey(store, "main", At::Lsn(s.array), "v"), "from the array's LSN");
    assert!(multikey(store, "main", At::Head, "v"), "sticky after the array is gone");
    assert!(!multikey(store, "early", At::Head, "v"), "forked before the array");
    assert!(multikey(store, "late", At::Head, "v"), "forked after the array");
    assert!(multikey(store, "main", At::Head, "w"), "built over a document with an array");
    assert!(!multikey(store, "main", At::Head, "x"), "arrays off the key path");
}

#[test]
fn markers_follow_branches_and_lsns_through_reopen_and_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let story = {
        let store = Store::open_with(dir.path(), options(u64::MAX)).unwrap();
        let story = write_story(&store);
        check_story(&store, &story);
        story
    };
    let store = Store::open_with(dir.path(), options(u64::MAX)).unwrap();
    check_story(&store, &story);
    drop(store);
    let store =
        Store::open_with(dir.path(), StoreOptions { rebuild_index: true, ..options(u64::MAX) }).unwrap();
    check_story(&store, &story);
}

#[test]
fn a_materialized_timeline_keeps_the_markers_of_what_it_copies() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(dir.path(), options(4)).unwrap();
    let story = write_story(&store);
    // Enough rewrites of one document to move main onto new timelines.
    for round in 0..40 {
        put(&store, "app", "main", "c", doc! {"_id": 2, "v": 100 + round});
    }
    let until = Instant::now() + Duration::from_secs(30);
    while store.snapshot("app", "main", At::Head).unwrap().view().read_chain.0.len() > 1 {
        assert!(Instant::now() < until, "materialization never finished");
        std::thread::sleep(Duration::from_millis(5));
    }
    check_story(&store, &story);
    drop(store);
    let store = Store::open_with(dir.path(), options(4)).unwrap();
    check_story(&store, &story);
}
