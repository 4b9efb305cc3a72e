//! `Store::log_newest_first` hands out exactly the log's entries in reverse
//! between any two LSNs, across segments and the WAL's marks, before and
//! after a restart (when the marks of sealed segments come from their mark
//! files), and without them (mark files deleted: whole segments are read).

mod common;

use argon_store::{Lsn, Store, StoreOptions, SyncMode};
use bson::doc;
use common::*;

fn options() -> StoreOptions {
    // Small segments: several segments, each with a few marks (one per 256 KiB).
    StoreOptions {
        sync: SyncMode::Never,
        wal_segment_bytes: 1 << 20,
        index_map_bytes: 256 << 20,
        ..Default::default()
    }
}

fn lsns_forward(store: &Store, floor: u64, upto: u64) -> Vec<u64> {
    let mut v: Vec<u64> =
        store.log(Lsn(floor)).unwrap().map(|r| r.unwrap().0 .0).take_while(|&l| l <= upto).collect();
    v.reverse();
    v
}

fn lsns_backward(store: &Store, floor: u64, upto: u64) -> Vec<u64> {
    store.log_newest_first(Lsn(floor), Lsn(upto)).unwrap().map(|r| r.unwrap().0 .0).collect()
}

fn check_all_bounds(store: &Store) {
    let last = store.visible_lsn().0;
    let bounds =
        [(1, last), (1, 1), (0, 5), (last / 3, last / 2), (last - 1, last), (last / 2, last + 100), (7, 3)];
    for (floor, upto) in bounds {
        assert_eq!(lsns_backward(store, floor, upto), lsns_forward(store, floor, upto), "{floor}..={upto}");
    }
    // The entries themselves, not only their LSNs.
    let forward: Vec<_> = store.log(Lsn(1)).unwrap().map(|r| r.unwrap()).collect();
    let mut backward: Vec<_> =
        store.log_newest_first(Lsn(1), Lsn(last)).unwrap().map(|r| r.unwrap()).collect();
    backward.reverse();
    assert_eq!(format!("{backward:?}"), format!("{forward:?}"));
}

#[test]
fn newest_first_is_the_log_reversed_across_segments_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(dir.path(), options()).unwrap();
    store.create_project("p").unwrap();
    let filler = "z".repeat(900);
    for i in 0..4000 {
        insert(&store, "p", "main", "c", doc! {"_id": i, "f": &filler});
    }
    let wal = dir.path().join("wal");
    let segments = std::fs::read_dir(&wal)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "wal"))
        .count();
    let mark_files = std::fs::read_dir(&wal)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "marks"))
        .count();
    assert!(segments >= 3, "want several segments, got {segments}");
    assert_eq!(mark_files, segments - 1, "every sealed segment has its mark file");
    check_all_bounds(&store);
    drop(store);

    // After a restart the sealed segments' marks come from their files.
    let store = Store::open_with(dir.path(), options()).unwrap();
    check_all_bounds(&store);
    drop(store);

    // Without mark files (a WAL written before them, or lost hints), whole
    // segments are read: same answers.
    for e in std::fs::read_dir(&wal).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "marks") {
            std::fs::remove_file(p).unwrap();
        }
    }
    let store = Store::open_with(dir.path(), options()).unwrap();
    check_all_bounds(&store);
}
