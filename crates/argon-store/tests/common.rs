//! Helpers shared by the store's integration tests.
#![allow(dead_code)]

use argon_store::{At, Check, Lsn, Store, WriteOp, WriteRequest};
use bson::{doc, Bson, Document};

pub fn insert(store: &Store, project: &str, branch: &str, coll: &str, doc: Document) -> Lsn {
    let out = store
        .write(WriteRequest::new(project, branch).op(WriteOp::Insert { coll: coll.into(), doc }))
        .expect("insert");
    out.lsn.expect("wrote")
}

pub fn put(store: &Store, project: &str, branch: &str, coll: &str, doc: Document) -> Lsn {
    let id = doc.get("_id").cloned().unwrap();
    let out = store
        .write(WriteRequest::new(project, branch).op(WriteOp::Update {
            coll: coll.into(),
            id,
            doc,
            replace: true,
            check: Check::Blind,
        }))
        .expect("put");
    out.lsn.expect("wrote")
}

pub fn delete(store: &Store, project: &str, branch: &str, coll: &str, id: i32) -> Lsn {
    let out = store
        .write(WriteRequest::new(project, branch).op(WriteOp::Delete {
            coll: coll.into(),
            id: Bson::Int32(id),
            check: Check::Blind,
        }))
        .expect("delete");
    out.lsn.expect("wrote")
}

/// All documents of a collection at a point, as (_id, v) pairs.
pub fn read_all(store: &Store, project: &str, branch: &str, coll: &str, at: At) -> Vec<(i32, i32)> {
    let snap = store.snapshot(project, branch, at).expect("snapshot");
    snap.scan(coll)
        .expect("scan")
        .map(|d| {
            let d = d.expect("doc");
            (d.get_i32("_id").unwrap(), d.get_i32("v").unwrap_or(-1))
        })
        .collect()
}

pub fn doc_v(id: i32, v: i32) -> Document {
    doc! {"_id": id, "v": v}
}
