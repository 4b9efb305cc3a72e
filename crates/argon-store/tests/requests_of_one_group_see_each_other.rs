//! Requests committed in one group see each other's writes, as if they
//! had come one at a time. (Plain document writes are applied to the index
//! only after the group's WAL write, so later requests of the group find
//! them in the group's pending entries; any other request applies those
//! first.) The group is formed by queueing the requests while the commit
//! thread is busy with a large one.

mod common;

use argon_store::{
    At, Check, DocOpKind, Entry, Lsn, Op, OpEffect, ReadBase, Store, StoreError, StoreOptions, SyncMode,
    WriteOp, WriteRequest,
};
use bson::{doc, Bson, Document};
use common::*;

fn req(op: WriteOp) -> WriteRequest {
    WriteRequest::new("p", "main").op(op)
}

fn ins(coll: &str, doc: Document) -> WriteRequest {
    req(WriteOp::Insert { coll: coll.into(), doc })
}

fn upd(coll: &str, doc: Document, check: Check) -> WriteRequest {
    let id = doc.get("_id").cloned().unwrap();
    req(WriteOp::Update { coll: coll.into(), id, doc, replace: true, check })
}

fn del(coll: &str, id: i32) -> WriteRequest {
    req(WriteOp::Delete { coll: coll.into(), id: Bson::Int32(id), check: Check::Blind })
}

/// Submits `requests` in order while the commit thread applies a large
/// request, so they queue and are taken as one group; returns their
/// outcomes, or `None` when they did not form exactly one group.
fn in_one_group(
    store: &Store,
    requests: Vec<WriteRequest>,
) -> Option<Vec<argon_store::Result<Vec<OpEffect>>>> {
    let groups_before = store.stats().group_commits;
    let big = {
        let store = store.clone();
        std::thread::spawn(move || {
            let mut r = WriteRequest::new("p", "main");
            r.ops =
                (0..40_000).map(|i| WriteOp::Insert { coll: "big".into(), doc: doc! {"_id": i} }).collect();
            store.write(r).unwrap();
            // (Dropped again so that every attempt starts alike.)
            store
                .write(WriteRequest::new("p", "main").op(WriteOp::DropCollection { name: "big".into() }))
                .unwrap();
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(20));
    // A current-thread runtime polls the spawned tasks in order: each
    // submits its request, then waits.
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let outcomes = rt.block_on(async {
        let tasks: Vec<_> = requests
            .into_iter()
            .map(|r| {
                let store = store.clone();
                tokio::spawn(async move { store.write_async(r).await })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    });
    big.join().unwrap();
    // The big insert, the group, the drop.
    if store.stats().group_commits - groups_before != 3 {
        return None;
    }
    Some(
        outcomes
            .into_iter()
            .map(|o| o.map(|o| o.results.into_iter().map(|r| r.unwrap()).collect()))
            .collect(),
    )
}

fn get(store: &Store, coll: &str, id: i32) -> Option<Document> {
    store.snapshot("p", "main", At::Head).unwrap().get(coll, &Bson::Int32(id)).unwrap()
}

#[test]
fn writes_earlier_in_the_group_are_seen_by_later_requests() {
    let dir = tempfile::tempdir().unwrap();
    let opts = StoreOptions { sync: SyncMode::Always, index_map_bytes: 1 << 30, ..Default::default() };
    let store = Store::open_with(dir.path(), opts.clone()).unwrap();
    store.create_project("p").unwrap();
    insert(&store, "p", "main", "c", doc! {"_id": 5, "v": 0});
    insert(&store, "p", "main", "u", doc! {"_id": 0, "k": 0});
    store
        .write(req(WriteOp::CreateIndex {
            coll: "u".into(),
            spec: doc! {"key": {"k": 1}, "name": "k_1", "unique": true},
        }))
        .unwrap();
    let base = {
        let snap = store.snapshot("p", "main", At::Head).unwrap();
        ReadBase { timeline: snap.view().timeline, lsn: snap.lsn() }
    };
    let mut conflicting = upd("c", doc! {"_id": 5, "v": 2}, Check::UnchangedSinceBase);
    conflicting.base = Some(base);

    let requests = || {
        vec![
            ins("c", doc! {"_id": 1, "v": 1}),
            ins("c", doc! {"_id": 1, "v": 2}), // the first is there: duplicate
            upd("c", doc! {"_id": 1, "v": 3}, Check::Blind), // updates the first
            ins("c", doc! {"_id": 2}),
            del("c", 2),                                     // deletes what the group inserted
            del("c", 3),                                     // nothing there
            upd("c", doc! {"_id": 5, "v": 1}, Check::Blind), // changes 5 after `base`...
            conflicting.clone(),                             // ...so this one conflicts
            ins("u", doc! {"_id": 1, "k": 1}),               // a unique index: not deferred
            ins("c", doc! {"_id": 4}),
            ins("fresh", doc! {"_id": 1}),     // creates a collection
            ins("fresh", doc! {"_id": 1}),     // which the next request sees
            ins("u", doc! {"_id": 2, "k": 1}), // unique key taken in the group
        ]
    };
    let outcomes = (0..5).find_map(|_| {
        // A failed attempt wrote some of its requests: start again clean.
        for (coll, ids) in [("c", vec![1, 2, 4]), ("u", vec![1, 2]), ("fresh", vec![1])] {
            for id in ids {
                store.write(del(coll, id)).unwrap();
            }
        }
        store.write(upd("c", doc! {"_id": 5, "v": 0}, Check::Blind)).unwrap();
        in_one_group(&store, requests())
    });
    let outcomes = outcomes.expect("the requests never formed one group in 5 attempts");
    let written = |i: usize| matches!(&outcomes[i], Ok(e) if e == &vec![OpEffect::Written]);
    let duplicate = |i: usize| matches!(&outcomes[i], Err(StoreError::DuplicateKey { .. }));
    assert!(written(0));
    assert!(duplicate(1), "{:?}", outcomes[1]);
    assert!(written(2) && written(3) && written(4));
    assert!(matches!(&outcomes[5], Ok(e) if e == &vec![OpEffect::NoOp]), "{:?}", outcomes[5]);
    assert!(written(6));
    assert!(matches!(&outcomes[7], Err(StoreError::WriteConflict(_))), "{:?}", outcomes[7]);
    assert!(written(8) && written(9) && written(10));
    assert!(duplicate(11), "{:?}", outcomes[11]);
    assert!(duplicate(12), "{:?}", outcomes[12]);

    let state = |store: &Store| {
        [("c", 1), ("c", 2), ("c", 4), ("c", 5), ("u", 1), ("u", 2), ("fresh", 1)]
            .map(|(c, id)| get(store, c, id))
    };
    let expected = [
        Some(doc! {"_id": 1, "v": 3}),
        None,
        Some(doc! {"_id": 4}),
        Some(doc! {"_id": 5, "v": 1}),
        Some(doc! {"_id": 1, "k": 1}),
        None,
        Some(doc! {"_id": 1}),
    ];
    assert_eq!(state(&store), expected);

    // The WAL says the same: the update's pre-image is the group's insert,
    // the delete's the group's other insert.
    let from = store.visible_lsn().0.saturating_sub(200);
    let mut pre_of = Vec::new();
    for e in store.log(Lsn(from)).unwrap() {
        if let (_, _, Entry::Commit(c)) = e.unwrap() {
            for op in c.ops {
                if let Op::Doc { coll, kind, id, pre, .. } = op {
                    if coll == "c" && matches!(kind, DocOpKind::Replace | DocOpKind::Delete) {
                        pre_of.push((id, kind, pre.map(|p| Document::try_from(p.as_ref()).unwrap())));
                    }
                }
            }
        }
    }
    let pre = |id: i32, kind: DocOpKind| {
        let found = pre_of.iter().rev().find(|(i, k, _)| *i == Bson::Int32(id) && *k == kind);
        found.map(|(_, _, pre)| pre.clone()).expect("the op is in the log")
    };
    assert_eq!(pre(1, DocOpKind::Replace), Some(doc! {"_id": 1, "v": 1}));
    assert_eq!(pre(2, DocOpKind::Delete), Some(doc! {"_id": 2}));

    // And replaying it (a rebuilt index) gives the same state.
    drop(store);
    let store = Store::open_with(dir.path(), StoreOptions { rebuild_index: true, ..opts }).unwrap();
    assert_eq!(state(&store), expected);
}
