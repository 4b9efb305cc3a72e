//! Many writers racing on the same documents under `SyncMode::Always`,
//! where plain document writes are applied to the index after their group's
//! WAL write (commit.rs, `defers`): a request must see every earlier write,
//! applied or not. A racing insert of a taken `_id` fails, and a
//! read-modify-write based on a stale read conflicts instead of losing the
//! other's update. Both fail when a group's pending versions are not
//! consulted (`GroupDocs::version`), and failed likewise for an apply thread
//! a group behind the commit thread whose overlay skipped the groups handed
//! over (tried in session 17, slower here, not kept: BENCHMARKS.md).

mod common;

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use argon_store::{At, Check, ReadBase, Store, StoreError, StoreOptions, SyncMode, WriteOp, WriteRequest};
use bson::{doc, Bson};
use common::*;

const WRITERS: u32 = 16;

fn open(dir: &std::path::Path) -> Store {
    let opts = StoreOptions { sync: SyncMode::Always, index_map_bytes: 256 << 20, ..Default::default() };
    let store = Store::open_with(dir, opts).unwrap();
    store.create_project("p").unwrap();
    // The collection exists before the race, so its writes are plain.
    insert(&store, "p", "main", "c", doc_v(-1, 0));
    store
}

#[test]
fn racing_inserts_of_one_id_succeed_once() {
    const IDS: usize = 400;
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let wins: Vec<AtomicU32> = (0..IDS).map(|_| AtomicU32::new(0)).collect();
    std::thread::scope(|s| {
        for t in 0..WRITERS {
            let (store, wins) = (store.clone(), &wins);
            s.spawn(move || {
                for (id, won) in wins.iter().enumerate() {
                    let req = WriteRequest::new("p", "main")
                        .op(WriteOp::Insert { coll: "c".into(), doc: doc! {"_id": id as i32, "by": t} });
                    match store.write(req) {
                        Ok(out) => {
                            // An acknowledged insert wrote; a refused one did not.
                            if out.results.iter().all(|r| r.is_ok()) {
                                won.fetch_add(1, Ordering::Relaxed);
                            } else {
                                let e = out.results.into_iter().find_map(|r| r.err()).unwrap();
                                assert!(matches!(e, StoreError::DuplicateKey { .. }), "{e}");
                            }
                        }
                        Err(StoreError::DuplicateKey { .. }) => {}
                        Err(e) => panic!("insert {id}: {e}"),
                    }
                }
            });
        }
    });
    for (id, won) in wins.iter().enumerate() {
        assert_eq!(
            won.load(Ordering::Relaxed),
            1,
            "_id {id} was inserted by {} writers",
            won.load(Ordering::Relaxed)
        );
    }
    assert_eq!(read_all(&store, "p", "main", "c", At::Head).len(), IDS + 1);
}

#[test]
fn read_modify_write_loses_no_update() {
    const COUNTERS: i32 = 3;
    const PER_WRITER: u32 = 120;
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for id in 0..COUNTERS {
        insert(&store, "p", "main", "c", doc_v(id, 0));
    }
    let conflicts = AtomicU64::new(0);
    std::thread::scope(|s| {
        for t in 0..WRITERS {
            let (store, conflicts) = (store.clone(), &conflicts);
            s.spawn(move || {
                for i in 0..PER_WRITER {
                    let id = ((t + i) % COUNTERS as u32) as i32;
                    loop {
                        let snap = store.snapshot("p", "main", At::Head).unwrap();
                        let v = snap.get("c", &Bson::Int32(id)).unwrap().unwrap().get_i32("v").unwrap();
                        let mut req = WriteRequest::new("p", "main").op(WriteOp::Update {
                            coll: "c".into(),
                            id: Bson::Int32(id),
                            doc: doc_v(id, v + 1),
                            replace: true,
                            check: Check::UnchangedSinceBase,
                        });
                        req.base = Some(ReadBase { timeline: snap.view().timeline, lsn: snap.lsn() });
                        let failed = match store.write(req) {
                            Ok(out) => out.results.into_iter().find_map(|r| r.err()),
                            Err(e) => Some(e),
                        };
                        match failed {
                            None => break,
                            Some(StoreError::WriteConflict(_)) => {
                                conflicts.fetch_add(1, Ordering::Relaxed);
                            }
                            Some(e) => panic!("update {id}: {e}"),
                        }
                    }
                }
            });
        }
    });
    let total: i32 =
        read_all(&store, "p", "main", "c", At::Head).iter().filter(|(id, _)| *id >= 0).map(|(_, v)| v).sum();
    assert_eq!(total, (WRITERS * PER_WRITER) as i32, "updates were lost");
    // The writers did race (else this proves nothing).
    assert!(conflicts.load(Ordering::Relaxed) > 0, "no write conflicted");
}
