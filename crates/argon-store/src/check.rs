//! Consistency check of one collection in a snapshot (the server's
//! `validate`): every stored document is well-formed BSON whose `_id`
//! matches its key, and every secondary index holds exactly the entries its
//! visible documents imply, none missing and none extra. Index entries are
//! derived data, written by the commit thread and by materialization copies;
//! this is how to find out that one of them went wrong.

use std::collections::BTreeSet;

use argon_types::keycodec;
use bson::{Bson, Document};

use crate::error::{Result, StoreError};
use crate::secondary::{self, IndexDef};
use crate::snapshot::Snapshot;

/// What [`Snapshot::check_collection`] found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CollectionCheck {
    /// Visible documents.
    pub documents: u64,
    /// Documents that do not decode, or whose `_id` is not their key.
    pub invalid_documents: u64,
    /// Per secondary index: its name, the entries it holds, and the
    /// entries missing from it and extra in it (encoded entry keys; at most
    /// [`MAX_REPORTED`] of each are kept, the counts are exact).
    pub indexes: Vec<IndexCheck>,
    /// One line per problem, for people (at most [`MAX_REPORTED`]).
    pub errors: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct IndexCheck {
    pub name: String,
    pub entries: u64,
    pub missing: u64,
    pub extra: u64,
}

/// Problems listed one by one before only counting.
pub const MAX_REPORTED: usize = 100;

impl CollectionCheck {
    pub fn valid(&self) -> bool {
        self.invalid_documents == 0 && self.indexes.iter().all(|i| i.missing == 0 && i.extra == 0)
    }

    fn error(&mut self, e: String) {
        if self.errors.len() < MAX_REPORTED {
            self.errors.push(e);
        }
    }
}

impl Snapshot {
    /// Checks `coll` as this snapshot sees it (see the module docs). Reads
    /// the whole collection and every index once; keeps each index's
    /// expected entries in memory.
    pub fn check_collection(&self, coll: &str) -> Result<CollectionCheck> {
        let meta = self
            .collection(coll)
            .ok_or_else(|| StoreError::NamespaceNotFound(format!("{}.{coll}", self.view().project)))?
            .clone();
        let defs: Vec<IndexDef> = meta.indexes.iter().map(|ix| IndexDef::from_spec(&ix.spec)).collect();
        let mut expected: Vec<BTreeSet<Vec<u8>>> = vec![BTreeSet::new(); defs.len()];
        let mut out = CollectionCheck::default();
        let mut scan = self.scan(coll)?;
        while let Some((id_key, bytes)) = scan.next_raw()? {
            out.documents += 1;
            let doc = match Document::from_reader(bytes) {
                Ok(d) => d,
                Err(e) => {
                    out.invalid_documents += 1;
                    out.error(format!("document with key {} does not decode: {e}", hex(id_key)));
                    continue;
                }
            };
            let id = doc.get("_id").cloned().unwrap_or(Bson::Null);
            if keycodec::encode(&id) != id_key {
                out.invalid_documents += 1;
                out.error(format!("document with key {} has _id {id}", hex(id_key)));
                continue;
            }
            for (def, keys) in defs.iter().zip(expected.iter_mut()) {
                keys.extend(def.key_values(&doc).iter().map(|kv| secondary::entry_key(kv, &id)));
            }
        }
        for (ix, mut want) in meta.indexes.iter().zip(expected) {
            let mut check = IndexCheck { name: ix.name().to_string(), ..IndexCheck::default() };
            let mut extra = Vec::new();
            let mut entries =
                self.index_scan(coll, ix.name(), std::ops::Bound::Unbounded, std::ops::Bound::Unbounded)?;
            while let Some((entry, _)) = entries.next_raw()? {
                check.entries += 1;
                if !want.remove(entry) {
                    check.extra += 1;
                    extra.push(entry.to_vec());
                }
            }
            check.missing = want.len() as u64;
            for e in want.iter().take(MAX_REPORTED) {
                out.error(format!("index {} lacks the entry {}", check.name, hex(e)));
            }
            for e in extra.iter().take(MAX_REPORTED) {
                out.error(format!("index {} has an entry no document implies: {}", check.name, hex(e)));
            }
            out.indexes.push(check);
        }
        Ok(out)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use crate::keys::{self, DocKey};
    use crate::{At, Store, WriteOp, WriteRequest};
    use bson::doc;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.create_project("p").unwrap();
        let mut req = WriteRequest::new("p", "main");
        for i in 0..20 {
            let tags: Vec<i32> = (0..i % 3).collect();
            req.ops
                .push(WriteOp::Insert { coll: "c".into(), doc: doc! {"_id": i, "n": i % 7, "tags": tags} });
        }
        req.ops.push(WriteOp::CreateIndex { coll: "c".into(), spec: doc! {"key": {"n": 1}, "name": "n_1"} });
        req.ops.push(WriteOp::CreateIndex {
            coll: "c".into(),
            spec: doc! {"key": {"tags": 1}, "name": "tags_1", "sparse": true},
        });
        store.write(req).unwrap();
        (dir, store)
    }

    #[test]
    fn a_consistent_collection_checks_clean() {
        let (_dir, store) = store();
        let check = store.snapshot("p", "main", At::Head).unwrap().check_collection("c").unwrap();
        assert!(check.valid(), "{check:?}");
        assert_eq!(check.documents, 20);
        let entries: Vec<(&str, u64)> = check.indexes.iter().map(|i| (i.name.as_str(), i.entries)).collect();
        // tags: 0, 1 or 2 elements; an empty array indexes as one entry
        // (undefined) even in a sparse index: 7 + 7 + 2 * 6.
        assert_eq!(entries, [("n_1", 20), ("tags_1", 26)]);
    }

    #[test]
    fn a_missing_and_an_extra_index_entry_are_found() {
        let (_dir, store) = store();
        let snap = store.snapshot("p", "main", At::Head).unwrap();
        let ix = snap.collection("c").unwrap().indexes[0].clone();
        let tl = snap.view().timeline;
        let lsn = snap.lsn();
        drop(snap);
        // Damage the index behind the store's back: delete the entry of
        // document 3 (n = 3) and add one for a document that does not exist.
        let index = store.shared().index.clone();
        let mut w = index.env.write_txn().unwrap();
        let id = bson::Bson::Int32(3);
        let entry = crate::secondary::entry_key(&argon_types::keycodec::encode(&bson::Bson::Int32(3)), &id);
        let key = DocKey::from_parts(tl, ix.id, &entry).into_version(lsn);
        assert!(index.idx.delete(&mut w, key.as_bytes()).unwrap(), "the entry was there");
        let ghost = bson::Bson::Int32(99);
        let entry = crate::secondary::entry_key(&argon_types::keycodec::encode(&ghost), &ghost);
        let key = DocKey::from_parts(tl, ix.id, &entry).into_version(lsn);
        index
            .idx
            .put(&mut w, key.as_bytes(), &keys::value::live(&argon_types::keycodec::encode(&ghost)))
            .unwrap();
        w.commit().unwrap();

        let check = store.snapshot("p", "main", At::Head).unwrap().check_collection("c").unwrap();
        assert!(!check.valid());
        let n = &check.indexes[0];
        assert_eq!((n.name.as_str(), n.entries, n.missing, n.extra), ("n_1", 20, 1, 1), "{check:?}");
        assert_eq!(check.errors.len(), 2, "{:?}", check.errors);
        assert!(check.indexes[1].missing == 0 && check.indexes[1].extra == 0);
    }
}
