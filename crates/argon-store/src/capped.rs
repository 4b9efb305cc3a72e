//! Capped collections: a size (and optionally a document count) limit,
//! with the oldest documents removed to make room, and an insertion order.
//!
//! The insertion ("natural") order is an index of its own in the index
//! database, under the collection's id (collection and index ids come from
//! one counter, so no index has that id): a forward entry per document,
//! keyed by the insert's record id (LSN, position in its commit), and a
//! reverse entry by `_id` that finds the record id again when the document
//! is deleted. Updates keep a document's place. Entries are versioned like
//! every index entry, so branches, history and materialization handle them
//! as any other.
//!
//! ```text
//! idx: timeline | collection id | 0x00 LSN op | _id   (natural order)
//!      timeline | collection id | 0x01 _id LSN op | _id (by _id)
//! ```
//!
//! Eviction happens on the commit thread, where writes are serialised:
//! after a request's operations are prepared, the oldest documents past
//! the cap are deleted in the same commit (the WAL records those deletes
//! with their pre-images, so replay and history see them). The cap is
//! checked against a running (count, bytes) per timeline and collection,
//! computed by one scan the first time and kept up to date by every
//! request that touches the collection.

use std::collections::{HashMap, HashSet};
use std::ops::Bound;

use argon_types::{keycodec, Lsn, TimelineId};
use bson::{Bson, Document, RawDocumentBuf};
use heed::RwTxn;

use crate::entry::{DocOpKind, Op};
use crate::error::{Result, StoreError};
use crate::index::Index;
use crate::keys::{self, DocKey};
use crate::meta::{Catalog, Chain};
use crate::snapshot::scan_chain;

const FORWARD: u8 = 0x00;
const REVERSE: u8 = 0x01;

/// A capped collection's limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cap {
    /// Most bytes of BSON documents (MongoDB's rounding applied: at least
    /// 4096, else up to a multiple of 256).
    pub size: u64,
    /// Most documents, if limited.
    pub max: Option<u64>,
}

/// The limits of a collection with `{capped: true, size, max?}` options.
pub fn cap_of(options: &Document) -> Option<Cap> {
    if !matches!(options.get("capped"), Some(Bson::Boolean(true))) {
        return None;
    }
    let number = |k: &str| match options.get(k) {
        Some(Bson::Int32(n)) => Some(i64::from(*n)),
        Some(Bson::Int64(n)) => Some(*n),
        Some(Bson::Double(f)) if f.is_finite() => Some(*f as i64),
        Some(Bson::Decimal128(d)) => {
            d.to_string().parse::<f64>().ok().filter(|f| f.is_finite()).map(|f| f as i64)
        }
        _ => None,
    };
    let size = number("size").unwrap_or(0).max(0) as u64;
    let size = if size <= 4096 { 4096 } else { size.div_ceil(256) * 256 };
    let max = number("max").filter(|m| *m > 0).map(|m| m as u64);
    Some(Cap { size, max })
}

/// The forward (natural order) entry sub-key of a record.
fn forward_values(lsn: Lsn, op: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(13);
    k.push(FORWARD);
    k.extend_from_slice(&lsn.0.to_be_bytes());
    k.extend_from_slice(&op.to_be_bytes());
    k
}

fn reverse_prefix(id_key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(id_key.len() + 1);
    k.push(REVERSE);
    k.extend_from_slice(id_key);
    k
}

/// Bounds of the forward entries, for a natural-order scan.
pub(crate) fn forward_bounds() -> ([u8; 1], [u8; 1]) {
    ([FORWARD], [REVERSE])
}

/// Keeps the natural-order entries of one document change (`(had a
/// version, has one)`; op `op` of the commit at `lsn` on timeline `tl`):
/// an insert adds them, a delete removes them (found by `_id` in `chain`),
/// an update leaves them.
#[allow(clippy::too_many_arguments)]
pub(crate) fn apply(
    index: &Index,
    w: &mut RwTxn,
    chain: &Chain,
    tl: TimelineId,
    coll_id: u64,
    id: &Bson,
    change: (bool, bool),
    (lsn, op): (Lsn, u32),
) -> Result<()> {
    let id_key = keycodec::encode(id);
    let entry = |values: &[u8]| {
        let mut k = values.to_vec();
        k.extend_from_slice(&id_key);
        DocKey::from_parts(tl, coll_id, &k).into_version(lsn)
    };
    match change {
        (false, true) => {
            let forward = forward_values(lsn, op);
            let mut reverse = reverse_prefix(&id_key);
            reverse.extend_from_slice(&forward[1..]);
            index.idx.put(w, entry(&forward).as_bytes(), &keys::value::live(&id_key))?;
            index.idx.put(w, entry(&reverse).as_bytes(), &keys::value::live(&id_key))?;
        }
        (true, false) => {
            let prefix = reverse_prefix(&id_key);
            let end = keys::prefix_end(&prefix);
            let found = {
                let mut scan =
                    scan_chain(&index.idx, w, chain, coll_id, Bound::Included(&prefix), Some(&end))?;
                scan.next_raw()?.map(|(sub, _)| sub.to_vec())
            };
            // (A document written before its collection was capped has none.)
            let Some(sub) = found else { return Ok(()) };
            let record = sub.get(prefix.len()..prefix.len() + 12).ok_or_else(|| {
                StoreError::Corrupt("a capped collection's order entry is too short".into())
            })?;
            let mut forward = vec![FORWARD];
            forward.extend_from_slice(record);
            let mut reverse = prefix;
            reverse.extend_from_slice(record);
            index.idx.put(w, entry(&forward).as_bytes(), &keys::value::tombstone())?;
            index.idx.put(w, entry(&reverse).as_bytes(), &keys::value::tombstone())?;
        }
        _ => {}
    }
    Ok(())
}

/// Running (documents, bytes) of capped collections, by (timeline,
/// collection id): kept by the commit thread, dropped on any branch or
/// project change (a reset moves a branch's head).
#[derive(Default)]
pub(crate) struct Sizes(HashMap<(TimelineId, u64), (u64, u64)>);

impl Sizes {
    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }
}

/// The capped collections `ops` writes to: (name, id, cap), found by id
/// under the name each has at the end of the request (a request may create
/// a capped collection, fill it and rename it).
pub(crate) fn written(catalog: &Catalog, ops: &[Op]) -> Vec<(String, u64, Cap)> {
    let mut seen: Vec<u64> = Vec::new();
    let mut out = Vec::new();
    for op in ops {
        let Op::Doc { coll, coll_id, .. } = op else { continue };
        if seen.contains(coll_id) {
            continue;
        }
        seen.push(*coll_id);
        let current = match catalog.get(coll) {
            Some(c) if c.id == *coll_id => Some((coll, c)),
            _ => catalog.collections.iter().find(|(_, c)| c.id == *coll_id),
        };
        if let Some((name, cap)) = current.and_then(|(n, c)| cap_of(&c.options).map(|cap| (n, cap))) {
            out.push((name.clone(), *coll_id, cap));
        }
    }
    out
}

/// Deletes, in the same request, the oldest documents of the capped
/// collections `touched` ([`written`]) until each fits its cap again;
/// keeps `sizes`.
pub(crate) fn evict(
    index: &Index,
    w: &RwTxn,
    chain: &Chain,
    timeline: TimelineId,
    touched: Vec<(String, u64, Cap)>,
    sizes: &mut Sizes,
    ops: &mut Vec<Op>,
) -> Result<()> {
    for (coll, coll_id, cap) in touched {
        let key = (timeline, coll_id);
        let (mut count, mut bytes) = match sizes.0.get(&key) {
            Some(&s) => s,
            None => {
                let mut s = (0u64, 0u64);
                let mut scan = scan_chain(&index.docs, w, chain, coll_id, Bound::Unbounded, None)?;
                while let Some((_, doc)) = scan.next_raw()? {
                    s = (s.0 + 1, s.1 + doc.len() as u64);
                }
                s
            }
        };
        // This request's changes, and each document's latest content in it.
        let mut latest: HashMap<Vec<u8>, Option<RawDocumentBuf>> = HashMap::new();
        let mut inserted: Vec<Vec<u8>> = Vec::new();
        for op in ops.iter() {
            let Op::Doc { coll_id: c, id, pre, post, .. } = op else { continue };
            if *c != coll_id {
                continue;
            }
            if let Some(p) = pre {
                count = count.saturating_sub(1);
                bytes = bytes.saturating_sub(p.as_bytes().len() as u64);
            }
            if let Some(p) = post {
                if p.as_bytes().len() as u64 > cap.size {
                    return Err(StoreError::InvalidArgument(format!(
                        "document of {} bytes is larger than the capped collection {coll}'s size of {} bytes",
                        p.as_bytes().len(),
                        cap.size
                    )));
                }
                count += 1;
                bytes += p.as_bytes().len() as u64;
            }
            let id_key = keycodec::encode(id);
            if pre.is_none() && post.is_some() {
                inserted.push(id_key.clone());
            }
            latest.insert(id_key, post.clone());
        }
        let over = |count: u64, bytes: u64| bytes > cap.size || cap.max.is_some_and(|m| count > m);
        if over(count, bytes) {
            let mut evicted: HashSet<Vec<u8>> = HashSet::new();
            let mut victims: Vec<(Bson, RawDocumentBuf)> = Vec::new();
            // Oldest first: the stored documents in natural order, then this
            // request's own inserts in order.
            let (lower, upper) = forward_bounds();
            let mut scan = scan_chain(&index.idx, w, chain, coll_id, Bound::Included(&lower), Some(&upper))?;
            let mut stored_done = false;
            let mut own = inserted.iter();
            while over(count, bytes) {
                let id_key = if stored_done {
                    match own.next() {
                        Some(k) => k.clone(),
                        None => break,
                    }
                } else {
                    match scan.next_raw()? {
                        Some((_, id_key)) => id_key.to_vec(),
                        None => {
                            stored_done = true;
                            continue;
                        }
                    }
                };
                if !evicted.insert(id_key.clone()) {
                    continue;
                }
                let content = match latest.get(&id_key) {
                    Some(doc) => doc.clone(),
                    None => index
                        .get_version(w, chain, coll_id, &id_key)?
                        .and_then(|(_, d)| d)
                        .map(|d| RawDocumentBuf::from_bytes(d.to_vec()))
                        .transpose()
                        .map_err(|e| StoreError::Corrupt(format!("bad document: {e}")))?,
                };
                let Some(doc) = content else { continue }; // deleted by this request
                let id = doc
                    .get("_id")
                    .ok()
                    .flatten()
                    .and_then(|v| Bson::try_from(v).ok())
                    .ok_or_else(|| StoreError::Corrupt("a capped document without _id".into()))?;
                count -= 1;
                bytes = bytes.saturating_sub(doc.as_bytes().len() as u64);
                latest.insert(id_key, None);
                victims.push((id, doc));
            }
            for (id, doc) in victims {
                ops.push(Op::Doc {
                    coll: coll.clone(),
                    coll_id,
                    kind: DocOpKind::Delete,
                    id,
                    post: None,
                    pre: Some(doc),
                });
            }
        }
        sizes.0.insert(key, (count, bytes));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use crate::{At, Store, WriteOp, WriteRequest};

    /// An index written before capped collections kept an insertion order
    /// (layout 0, no order entries) is rebuilt from the WAL when opened, so
    /// its capped collections read in insertion order again.
    #[test]
    fn an_index_of_an_older_layout_is_rebuilt_with_the_order_entries() {
        let dir = tempfile::tempdir().unwrap();
        let natural = |store: &Store| -> Vec<i32> {
            let snap = store.snapshot("app", "main", At::Head).unwrap();
            let mut scan = snap.natural_scan("log", false).unwrap();
            let mut out = Vec::new();
            while let Some((_, id_key)) = scan.next_raw().unwrap() {
                out.push(snap.get_by_id_key("log", id_key).unwrap().unwrap().get_i32("_id").unwrap());
            }
            out
        };
        {
            let store = Store::open(dir.path()).unwrap();
            store.create_project("app").unwrap();
            let options = doc! {"capped": true, "size": 100_000};
            store
                .write(
                    WriteRequest::new("app", "main")
                        .op(WriteOp::CreateCollection { name: "log".into(), options }),
                )
                .unwrap();
            for id in [3, 1, 2] {
                let doc = doc! {"_id": id};
                store
                    .write(WriteRequest::new("app", "main").op(WriteOp::Insert { coll: "log".into(), doc }))
                    .unwrap();
            }
            assert_eq!(natural(&store), vec![3, 1, 2]);
        }
        // What an older version left: no order entries, layout 0.
        {
            let index = crate::index::Index::open(&dir.path().join("index"), 1 << 30).unwrap();
            let mut meta = index.load_meta().unwrap();
            assert_eq!(meta.counters.layout, crate::index::LAYOUT);
            let mut w = index.env.write_txn().unwrap();
            index.idx.clear(&mut w).unwrap();
            meta.counters.layout = 0;
            index.put_meta(&mut w, &mut meta).unwrap();
            w.commit().unwrap();
        }
        {
            let index = crate::index::Index::open(&dir.path().join("index"), 1 << 30).unwrap();
            assert_eq!(index.load_meta().unwrap().counters.layout, 0, "the old layout was written");
        }
        let store = Store::open(dir.path()).unwrap();
        assert!(store.stats().index_rebuilt, "an index of layout 0 is rebuilt");
        assert_eq!(natural(&store), vec![3, 1, 2]);
        drop(store);
        // Rebuilt once: the next open takes the index as it is.
        let store = Store::open(dir.path()).unwrap();
        assert!(!store.stats().index_rebuilt);
        assert_eq!(natural(&store), vec![3, 1, 2]);
    }
}
