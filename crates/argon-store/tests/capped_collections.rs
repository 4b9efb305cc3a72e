//! Capped collections: the oldest documents go when a write passes the
//! cap (count or bytes), in the same commit; insertion order survives
//! updates, deletes, branches, reopening, rebuilding the index and
//! materialization; a property test against a plain model.

mod common;

use argon_store::{At, Check, Store, StoreOptions, WriteMode, WriteOp, WriteRequest};
use bson::{doc, Bson, Document};
use common::*;
use proptest::prelude::*;

fn create_capped(store: &Store, branch: &str, coll: &str, options: Document) {
    let mut o = doc! {"capped": true};
    o.extend(options);
    store
        .write(
            WriteRequest::new("app", branch).op(WriteOp::CreateCollection { name: coll.into(), options: o }),
        )
        .expect("create");
}

/// `_id`s in insertion order (natural order), read through the order index.
fn natural(store: &Store, branch: &str, at: At) -> Vec<i32> {
    let snap = store.snapshot("app", branch, at).unwrap();
    let mut scan = snap.natural_scan("c", false).unwrap();
    let mut out = Vec::new();
    while let Some((_, id_key)) = scan.next_raw().unwrap() {
        out.push(
            snap.get_by_id_key("c", id_key).unwrap().expect("listed documents exist").get_i32("_id").unwrap(),
        );
    }
    // The reverse scan is the same, backwards.
    let mut rev = Vec::new();
    let mut scan = snap.natural_scan("c", true).unwrap();
    while let Some((_, id_key)) = scan.next_raw().unwrap() {
        rev.push(snap.get_by_id_key("c", id_key).unwrap().unwrap().get_i32("_id").unwrap());
    }
    rev.reverse();
    assert_eq!(out, rev, "forward and reverse natural order");
    // Every document is listed exactly once.
    let mut by_id: Vec<i32> = read_all(store, "app", branch, "c", at).into_iter().map(|(id, _)| id).collect();
    let mut sorted = out.clone();
    sorted.sort();
    by_id.sort();
    assert_eq!(sorted, by_id, "natural order lists every document once");
    out
}

fn insert_many(store: &Store, branch: &str, ids: impl IntoIterator<Item = i32>) {
    let mut req = WriteRequest::new("app", branch);
    req.mode = WriteMode::Ordered;
    for i in ids {
        req = req.op(WriteOp::Insert { coll: "c".into(), doc: doc_v(i, i) });
    }
    store.write(req).expect("insert many");
}

#[test]
fn a_count_cap_keeps_the_newest_documents_in_insertion_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.create_project("app").unwrap();
    create_capped(&store, "main", "c", doc! {"size": 100_000, "max": 5});
    // Inserted out of _id order: natural order is insertion order.
    for i in [10, 3, 7, 1, 9, 2, 8] {
        insert(&store, "app", "main", "c", doc_v(i, i));
    }
    assert_eq!(natural(&store, "main", At::Head), vec![7, 1, 9, 2, 8]);
    // One request inserting more than the cap keeps its own last five.
    insert_many(&store, "main", 100..107);
    assert_eq!(natural(&store, "main", At::Head), vec![102, 103, 104, 105, 106]);
    // An update keeps its place; a delete leaves a gap the next insert fills.
    put(&store, "app", "main", "c", doc! {"_id": 102, "v": -1, "pad": "x".repeat(50)});
    delete(&store, "app", "main", "c", 104);
    insert(&store, "app", "main", "c", doc_v(200, 0));
    assert_eq!(natural(&store, "main", At::Head), vec![102, 103, 105, 106, 200]);
    insert(&store, "app", "main", "c", doc_v(201, 0));
    assert_eq!(natural(&store, "main", At::Head), vec![103, 105, 106, 200, 201]);
}

#[test]
fn a_size_cap_counts_bytes_and_refuses_a_document_larger_than_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.create_project("app").unwrap();
    // 1000 bytes rounds up to MongoDB's minimum of 4096.
    create_capped(&store, "main", "c", doc! {"size": 1000});
    let big = |i: i32| doc! {"_id": i, "pad": "p".repeat(1000)}; // ~1017 bytes
    for i in 0..10 {
        insert(&store, "app", "main", "c", big(i));
    }
    let snap = store.snapshot("app", "main", At::Head).unwrap();
    let bytes: usize = snap
        .scan("c")
        .unwrap()
        .map(|d| bson::RawDocumentBuf::try_from(&d.unwrap()).unwrap().as_bytes().len())
        .sum();
    assert!(bytes <= 4096, "{bytes} bytes kept");
    assert_eq!(natural(&store, "main", At::Head), vec![6, 7, 8, 9]);
    let e = store
        .write(
            WriteRequest::new("app", "main")
                .op(WriteOp::Insert { coll: "c".into(), doc: doc! {"_id": 99, "pad": "p".repeat(5000)} }),
        )
        .unwrap_err();
    assert!(e.to_string().contains("larger than the capped collection"), "{e}");
    assert_eq!(natural(&store, "main", At::Head), vec![6, 7, 8, 9], "nothing changed");
}

#[test]
fn evictions_are_in_the_history_branches_and_the_past() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.create_project("app").unwrap();
    create_capped(&store, "main", "c", doc! {"size": 100_000, "max": 3});
    for i in 0..3 {
        insert(&store, "app", "main", "c", doc_v(i, i));
    }
    let full = store.visible_lsn();
    store.create_branch("app", "b", "main", At::Head).unwrap();
    insert(&store, "app", "main", "c", doc_v(3, 3));
    insert(&store, "app", "b", "c", doc_v(50, 0));
    insert(&store, "app", "b", "c", doc_v(51, 0));
    assert_eq!(natural(&store, "main", At::Head), vec![1, 2, 3]);
    assert_eq!(natural(&store, "b", At::Head), vec![2, 50, 51]);
    // The past still has what was evicted since.
    assert_eq!(natural(&store, "main", At::Lsn(full)), vec![0, 1, 2]);
    // Reopened, and with the index rebuilt from the WAL: the same, and the
    // caps still hold (the running sizes are counted again).
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(natural(&store, "main", At::Head), vec![1, 2, 3]);
    drop(store);
    std::fs::remove_dir_all(dir.path().join("index")).unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(natural(&store, "main", At::Head), vec![1, 2, 3]);
    assert_eq!(natural(&store, "b", At::Head), vec![2, 50, 51]);
    assert_eq!(natural(&store, "main", At::Lsn(full)), vec![0, 1, 2]);
    insert(&store, "app", "main", "c", doc_v(4, 4));
    assert_eq!(natural(&store, "main", At::Head), vec![2, 3, 4]);
}

/// A plain model: documents in insertion order, oldest dropped past `max`.
#[derive(Clone, Debug)]
enum Step {
    Insert(Vec<i32>),
    Update(usize),
    Delete(usize),
    Branch,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => prop::collection::vec(0..1000i32, 1..4).prop_map(Step::Insert),
        2 => (0usize..8).prop_map(Step::Update),
        1 => (0usize..8).prop_map(Step::Delete),
        1 => Just(Step::Branch),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    /// With materialization after every write (the order entries are
    /// copied to new timelines too), natural order matches the model on
    /// main and on a branch, at every step.
    #[test]
    fn natural_order_matches_a_model(steps in prop::collection::vec(step(), 1..25), max in 1u64..6) {
        let dir = tempfile::tempdir().unwrap();
        let opts = StoreOptions { materialize_after: 1, ..Default::default() };
        let store = Store::open_with(dir.path(), opts).unwrap();
        store.create_project("app").unwrap();
        create_capped(&store, "main", "c", doc! {"size": 1_000_000, "max": max as i64});
        let mut model: Vec<i32> = Vec::new();
        let mut branch: Option<Vec<i32>> = None;
        let mut next = 0;
        for s in steps {
            match s {
                Step::Insert(n) => {
                    let ids: Vec<i32> = n.iter().map(|_| { next += 1; next }).collect();
                    insert_many(&store, "main", ids.clone());
                    model.extend(ids);
                    while model.len() as u64 > max {
                        model.remove(0);
                    }
                }
                Step::Update(i) if !model.is_empty() => {
                    let id = model[i % model.len()];
                    store.write(WriteRequest::new("app", "main").op(WriteOp::Update {
                        coll: "c".into(), id: Bson::Int32(id), doc: doc! {"_id": id, "v": -id}, replace: true, check: Check::Blind,
                    })).unwrap();
                }
                Step::Delete(i) if !model.is_empty() => {
                    let id = model.remove(i % model.len());
                    delete(&store, "app", "main", "c", id);
                }
                Step::Branch if branch.is_none() => {
                    store.create_branch("app", "b", "main", At::Head).unwrap();
                    branch = Some(model.clone());
                    // The branch takes an insert of its own.
                    next += 1;
                    insert(&store, "app", "b", "c", doc_v(next, 0));
                    let b = branch.as_mut().unwrap();
                    b.push(next);
                    while b.len() as u64 > max {
                        b.remove(0);
                    }
                }
                _ => {}
            }
            prop_assert_eq!(natural(&store, "main", At::Head), model.clone());
            if let Some(b) = &branch {
                prop_assert_eq!(natural(&store, "b", At::Head), b.clone());
            }
        }
    }
}
