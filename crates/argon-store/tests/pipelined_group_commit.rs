//! Pipelined group commit (`SyncMode::Always`): while one group waits for
//! its fdatasync on the ack thread, the commit thread applies the next.
//! An acknowledged write must be visible to the writer's next read, must be
//! durable (present after reopen), and the visible LSN must never pass the
//! durable one, with one fdatasync in flight at a time or several.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use argon_store::{At, Check, ReadBase, Store, StoreOptions, SyncMode, WriteOp, WriteRequest};
use bson::{doc, Bson};
use common::*;

const WRITERS: i32 = 16;
const PER_WRITER: i32 = 150;

fn options(wal_sync_threads: usize) -> StoreOptions {
    StoreOptions {
        sync: SyncMode::Always,
        wal_sync_threads,
        wal_segment_bytes: 32 << 10,
        index_map_bytes: 256 << 20,
        ..Default::default()
    }
}

#[test]
fn acknowledged_writes_are_visible_at_once_and_survive_reopen() {
    acknowledged_writes_are_visible_and_durable(1);
}

/// Several ack threads, each with an fdatasync in flight: groups are still
/// published in order and only once durable.
#[test]
fn with_several_fdatasyncs_in_flight_too() {
    acknowledged_writes_are_visible_and_durable(3);
}

fn acknowledged_writes_are_visible_and_durable(sync_threads: usize) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(dir.path(), options(sync_threads)).unwrap();
    store.create_project("p").unwrap();
    insert(&store, "p", "main", "c", doc_v(-1, 0));

    // A watcher checks that readers never see an LSN that is not durable.
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (store, stop) = (store.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut checks = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let visible = store.visible_lsn();
                let durable = store.durable_lsn();
                assert!(visible <= durable, "visible LSN {visible} ahead of durable LSN {durable}");
                checks += 1;
            }
            checks
        })
    };

    std::thread::scope(|s| {
        for t in 0..WRITERS {
            let store = store.clone();
            s.spawn(move || {
                for i in 0..PER_WRITER {
                    let id = t * 10_000 + i;
                    let out = store
                        .write(
                            WriteRequest::new("p", "main")
                                .op(WriteOp::Insert { coll: "c".into(), doc: doc! {"_id": id, "v": i} }),
                        )
                        .unwrap();
                    let lsn = out.lsn.unwrap();
                    assert!(store.visible_lsn() >= lsn, "acknowledged LSN {lsn} not yet visible");
                    // Read your own write, at head, right after the ack.
                    let snap = store.snapshot("p", "main", At::Head).unwrap();
                    assert_eq!(snap.get("c", &Bson::Int32(id)).unwrap(), Some(doc! {"_id": id, "v": i}));
                    // And update it based on that read: no false conflict.
                    let mut update = WriteRequest::new("p", "main").op(WriteOp::Update {
                        coll: "c".into(),
                        id: Bson::Int32(id),
                        doc: doc! {"_id": id, "v": i + 1},
                        replace: true,
                        check: Check::UnchangedSinceBase,
                    });
                    update.base = Some(ReadBase { timeline: snap.view().timeline, lsn: snap.lsn() });
                    store.write(update).unwrap();
                }
            });
        }
    });
    stop.store(true, Ordering::Relaxed);
    assert!(watcher.join().unwrap() > 0);
    let stats = store.stats();
    assert!(stats.wal_fsyncs > 0);
    let before = read_all(&store, "p", "main", "c", At::Head);
    assert_eq!(before.len(), (WRITERS * PER_WRITER + 1) as usize);
    drop(store);

    let store = Store::open_with(dir.path(), options(sync_threads)).unwrap();
    assert!(!store.stats().index_rebuilt);
    let after = read_all(&store, "p", "main", "c", At::Head);
    assert_eq!(after, before);
    for (id, v) in after.into_iter().filter(|(id, _)| *id >= 0) {
        assert_eq!(v, id % 10_000 + 1, "document {id} lost its acknowledged update");
    }
}
