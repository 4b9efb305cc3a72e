//! The index's memory map is kept under `index_resident_bytes` of
//! file-backed RSS, and trimming it loses nothing.
//!
//! One test function on purpose: RSS is per process, and tests of one
//! binary run in parallel threads.

use std::time::{Duration, Instant};

use argon_store::{At, Store, StoreOptions, SyncMode, WriteMode, WriteOp, WriteRequest};
use bson::doc;

const DOCS: i64 = 40_000;

/// File-backed and shared resident bytes of this process.
fn file_rss() -> usize {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = s.split_whitespace().nth(2).unwrap().parse().unwrap();
    pages * 4096
}

/// Loads ~45 MB of index (40k documents of ~1 KB), then reads it all.
fn load_and_scan(store: &Store) {
    store.create_project("p").unwrap();
    let filler = "x".repeat(1000);
    for batch in 0..(DOCS / 1000) {
        let mut req = WriteRequest::new("p", "main");
        req.mode = WriteMode::Atomic;
        for i in batch * 1000..(batch + 1) * 1000 {
            req.ops.push(WriteOp::Insert { coll: "c".into(), doc: doc! {"_id": i, "f": &filler} });
        }
        store.write(req).unwrap();
    }
    let snap = store.snapshot("p", "main", At::Head).unwrap();
    let mut n = 0;
    for d in snap.scan("c").unwrap() {
        assert_eq!(d.unwrap().get_str("f").unwrap().len(), 1000);
        n += 1;
    }
    assert_eq!(n, DOCS);
}

#[test]
fn the_index_map_is_trimmed_to_its_budget_and_still_reads_everything() {
    // Without a budget, the whole index ends up mapped: this is what the
    // budget prevents (and shows the measurement can see it).
    let dir = tempfile::tempdir().unwrap();
    let before = file_rss();
    let unbounded = Store::open_with(
        dir.path(),
        StoreOptions { sync: SyncMode::Never, index_resident_bytes: usize::MAX, ..Default::default() },
    )
    .unwrap();
    load_and_scan(&unbounded);
    let grown = file_rss().saturating_sub(before);
    assert!(grown > 30 << 20, "without a budget the map should hold the index: grew {grown} bytes");
    drop(unbounded);

    let budget = 16 << 20;
    let dir = tempfile::tempdir().unwrap();
    let before = file_rss();
    let store = Store::open_with(
        dir.path(),
        StoreOptions { sync: SyncMode::Never, index_resident_bytes: budget, ..Default::default() },
    )
    .unwrap();
    load_and_scan(&store);
    // The trimmer checks every 100 ms.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let grown = file_rss().saturating_sub(before);
        if grown <= budget {
            break;
        }
        assert!(Instant::now() < deadline, "still {grown} bytes mapped over a budget of {budget}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Everything still reads back after the pages were unmapped, and the
    // store still writes and reopens.
    let snap = store.snapshot("p", "main", At::Head).unwrap();
    assert_eq!(snap.scan("c").unwrap().count() as i64, DOCS);
    assert_eq!(snap.get("c", &bson::Bson::Int64(7)).unwrap().unwrap().get_i64("_id").unwrap(), 7);
    store
        .write(WriteRequest::new("p", "main").op(WriteOp::Insert { coll: "c".into(), doc: doc! {"_id": -1} }))
        .unwrap();
    drop(snap);
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    let snap = store.snapshot("p", "main", At::Head).unwrap();
    assert_eq!(snap.scan("c").unwrap().count() as i64, DOCS + 1);
}
