//! Reads: a [`Snapshot`] is one consistent view of one branch at one LSN.
//!
//! A point read is one LMDB seek per timeline in the chain ("newest version
//! at or below the bound"); a scan merges one ordered range per timeline,
//! child first, skipping versions newer than the bound and older versions of
//! a document already seen. Neither replays history: the cost depends on the
//! data visible and on the chain length, not on how long the log is.

use std::ops::Bound;
use std::sync::Arc;

use argon_types::{keycodec, Lsn, TimelineId};
use bson::{Bson, Document};
use heed::types::Bytes;
use heed::{Database, RoRange, RoTxn, WithoutTls};

use crate::error::{Result, StoreError};
use crate::index::Index;
use crate::keys::{self, collection_prefix, prefix_end};
use crate::meta::{Catalog, Chain, CollectionMeta};

/// What a snapshot reads: which branch, at which LSN, through which chain.
/// Cheap to clone; a cursor keeps one to reopen the same view later.
#[derive(Clone, Debug)]
pub struct ReadView {
    pub project: String,
    pub branch: String,
    pub timeline: TimelineId,
    /// Every version with LSN at or below this is visible, nothing above.
    pub lsn: Lsn,
    /// The timelines data reads consult: the branch's chain cut at the
    /// first materialized timeline (see [`crate::meta::Meta::read_chain`]).
    /// (The whole chain grows with every materialization; questions about
    /// the whole history ask [`crate::Store::history_chain`].)
    pub read_chain: Chain,
    pub catalog: Arc<Catalog>,
}

/// An open, consistent read of one branch at one LSN.
pub struct Snapshot {
    pub(crate) index: Index,
    pub(crate) txn: RoTxn<'static, WithoutTls>,
    pub(crate) view: ReadView,
}

/// Decodes stored document bytes.
pub fn decode_doc(bytes: &[u8]) -> Result<Document> {
    Document::from_reader(bytes).map_err(|e| StoreError::Corrupt(format!("bad stored document: {e}")))
}

/// A stored document's bytes as an owned BSON document, not decoded.
pub fn raw_doc(bytes: &[u8]) -> Result<bson::RawDocumentBuf> {
    bson::RawDocumentBuf::from_bytes(bytes.to_vec())
        .map_err(|e| StoreError::Corrupt(format!("bad stored document: {e}")))
}

impl Snapshot {
    /// The view this snapshot reads.
    pub fn view(&self) -> &ReadView {
        &self.view
    }

    /// The directory of the index this snapshot reads (tells the snapshots
    /// of one data dir from another's in one process).
    pub fn data_dir(&self) -> &std::path::Path {
        self.index.env.path()
    }

    /// A number for the opening of the store this snapshot reads, unique
    /// in the process (cheaper than [`Snapshot::data_dir`] to tell stores
    /// apart; a store opened again gets a new one).
    pub fn store_instance(&self) -> u64 {
        self.index.instance()
    }

    /// The LSN this snapshot reads at.
    pub fn lsn(&self) -> Lsn {
        self.view.lsn
    }

    /// Collections visible in this snapshot, by name.
    pub fn collections(&self) -> impl Iterator<Item = (&String, &CollectionMeta)> {
        self.view.catalog.collections.iter()
    }

    /// One collection's metadata, if it exists here.
    pub fn collection(&self, name: &str) -> Option<&CollectionMeta> {
        self.view.catalog.get(name)
    }

    /// The document with this `_id`, if visible.
    pub fn get(&self, coll: &str, id: &Bson) -> Result<Option<Document>> {
        match self.get_raw(coll, id)? {
            Some(bytes) => Ok(Some(decode_doc(bytes)?)),
            None => Ok(None),
        }
    }

    /// The stored bytes of the document with this `_id`, if visible.
    pub fn get_raw(&self, coll: &str, id: &Bson) -> Result<Option<&[u8]>> {
        let Some(c) = self.view.catalog.get(coll) else { return Ok(None) };
        let id_key = keycodec::encode(id);
        Ok(self.index.get_version(&self.txn, &self.view.read_chain, c.id, &id_key)?.and_then(|(_, d)| d))
    }

    /// All visible documents of a collection in `_id` order.
    pub fn scan(&self, coll: &str) -> Result<Scan<'_>> {
        self.scan_after(coll, None)
    }

    /// Visible documents with an encoded `_id` greater than `after` (a value
    /// from [`Scan::last_id_key`]), to resume a scan in a new snapshot of
    /// the same view.
    pub fn scan_after(&self, coll: &str, after: Option<&[u8]>) -> Result<Scan<'_>> {
        let Some(c) = self.view.catalog.get(coll) else {
            return Ok(Scan { levels: vec![], rev_levels: vec![], last: None });
        };
        let lower = match after {
            Some(a) => Bound::Excluded(a),
            None => Bound::Unbounded,
        };
        scan_chain(&self.index.docs, &self.txn, &self.view.read_chain, c.id, lower, None)
    }

    /// The document whose encoded `_id` is `id_key` (from an index scan).
    pub fn get_by_id_key(&self, coll: &str, id_key: &[u8]) -> Result<Option<Document>> {
        let Some(c) = self.view.catalog.get(coll) else { return Ok(None) };
        match self.index.get_version(&self.txn, &self.view.read_chain, c.id, id_key)? {
            Some((_, Some(bytes))) => Ok(Some(decode_doc(bytes)?)),
            _ => Ok(None),
        }
    }

    /// Entries of a secondary index with key values between `lower` and
    /// `upper` (encoded as [`crate::IndexDef`] does; the bounds apply to the
    /// key prefix), in index order: `(entry key, encoded _id)`.
    pub fn index_scan(
        &self,
        coll: &str,
        index_name: &str,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
    ) -> Result<Scan<'_>> {
        self.index_scan_dir(coll, index_name, lower, upper, false)
    }

    /// Whether the index may hold several entries for one document at this
    /// snapshot: some document visible up to here had an array on a key
    /// path (sticky: it stays multikey after the array is gone, as in
    /// MongoDB). A query planner may combine a lower and an upper bound on
    /// one field only when it is not.
    pub fn index_is_multikey(&self, coll: &str, index_name: &str) -> Result<bool> {
        let Some(c) = self.view.catalog.get(coll) else { return Ok(false) };
        let Some(ix) = c.indexes.iter().find(|i| i.name() == index_name) else {
            return Err(StoreError::InvalidArgument(format!("index {index_name} does not exist on {coll}")));
        };
        self.index.is_multikey(&self.txn, &self.view.read_chain, ix.id)
    }

    /// Like [`Snapshot::index_scan`], in descending index order (for a sort
    /// that runs against the index's directions).
    pub fn index_scan_rev(
        &self,
        coll: &str,
        index_name: &str,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
    ) -> Result<Scan<'_>> {
        self.index_scan_dir(coll, index_name, lower, upper, true)
    }

    /// A capped collection's documents in insertion order (or its reverse):
    /// `(record key, encoded _id)`; fetch each with [`Snapshot::get_by_id_key`].
    /// Empty for a collection that is not capped.
    pub fn natural_scan(&self, coll: &str, reverse: bool) -> Result<Scan<'_>> {
        self.natural_scan_after(coll, None, reverse)
    }

    /// Like [`Snapshot::natural_scan`], forward from the record key `from`
    /// (included): whether a position still exists.
    pub fn natural_scan_from(&self, coll: &str, from: &[u8]) -> Result<Scan<'_>> {
        let Some(c) = self.view.catalog.get(coll).filter(|c| crate::capped::cap_of(&c.options).is_some())
        else {
            return Ok(Scan { levels: vec![], rev_levels: vec![], last: None });
        };
        let (_, upper) = crate::capped::forward_bounds();
        self.bounded_scan(&self.index.idx, c.id, Bound::Included(from), Bound::Excluded(&upper), false)
    }

    /// Like [`Snapshot::natural_scan`], forward from after the record key
    /// `after` (one a scan returned): what a tailable cursor reads on from.
    pub fn natural_scan_after(&self, coll: &str, after: Option<&[u8]>, reverse: bool) -> Result<Scan<'_>> {
        let Some(c) = self.view.catalog.get(coll).filter(|c| crate::capped::cap_of(&c.options).is_some())
        else {
            return Ok(Scan { levels: vec![], rev_levels: vec![], last: None });
        };
        let (lower, upper) = crate::capped::forward_bounds();
        let lower = match after {
            Some(a) => Bound::Excluded(a),
            None => Bound::Included(&lower[..]),
        };
        self.bounded_scan(&self.index.idx, c.id, lower, Bound::Excluded(&upper), reverse)
    }

    /// Visible documents with an encoded `_id` between `lower` and `upper`
    /// (bounds as [`Snapshot::index_scan`] takes them), in `_id` order or
    /// its reverse: `(encoded _id, BSON bytes)`. What a query planner's
    /// `_id` ranges read.
    pub fn id_scan(
        &self,
        coll: &str,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        reverse: bool,
    ) -> Result<Scan<'_>> {
        let Some(c) = self.view.catalog.get(coll) else {
            return Ok(Scan { levels: vec![], rev_levels: vec![], last: None });
        };
        self.bounded_scan(&self.index.docs, c.id, lower, upper, reverse)
    }

    fn index_scan_dir(
        &self,
        coll: &str,
        index_name: &str,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        reverse: bool,
    ) -> Result<Scan<'_>> {
        let Some(c) = self.view.catalog.get(coll) else {
            return Ok(Scan { levels: vec![], rev_levels: vec![], last: None });
        };
        let Some(ix) = c.indexes.iter().find(|i| i.name() == index_name) else {
            return Err(StoreError::InvalidArgument(format!("index {index_name} does not exist on {coll}")));
        };
        self.bounded_scan(&self.index.idx, ix.id, lower, upper, reverse)
    }

    /// A scan of table `db` under `id` (a collection's or an index's)
    /// between key-prefix bounds.
    fn bounded_scan(
        &self,
        db: &Database<Bytes, Bytes>,
        id: u64,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        reverse: bool,
    ) -> Result<Scan<'_>> {
        // Bounds are on key prefixes: an excluded lower bound must skip every
        // entry starting with it, an included upper bound must take them all.
        let lower_owned;
        let lower = match lower {
            Bound::Excluded(l) => {
                lower_owned = prefix_end(l);
                Bound::Included(lower_owned.as_slice())
            }
            b => b,
        };
        let upper_owned;
        let upper = match upper {
            Bound::Included(u) => {
                upper_owned = prefix_end(u);
                Some(upper_owned.as_slice())
            }
            Bound::Excluded(u) => Some(u),
            Bound::Unbounded => None,
        };
        if reverse {
            scan_chain_rev(db, &self.txn, &self.view.read_chain, id, lower, upper)
        } else {
            scan_chain(db, &self.txn, &self.view.read_chain, id, lower, upper)
        }
    }

    /// Number of visible documents in a collection.
    pub fn count(&self, coll: &str) -> Result<u64> {
        let mut scan = self.scan(coll)?;
        let mut n = 0;
        while scan.next_raw()?.is_some() {
            n += 1;
        }
        Ok(n)
    }
}

/// An entry a scan returns with its chain position: (sub-key, document
/// bytes, position of the timeline it came from).
pub type LevelledEntry<'t> = (&'t [u8], &'t [u8], usize);

/// An ordered scan through a chain: for each timeline, the range
/// `prefix(timeline, id) | lower ..< upper` of `db` (`upper` exclusive), merged by sub-key with
/// the child's version winning. Used for documents (sub-key = encoded `_id`,
/// payload = BSON) and index entries (sub-key = key values + `_id`,
/// payload = encoded `_id`).
pub(crate) fn scan_chain<'t>(
    db: &Database<Bytes, Bytes>,
    txn: &'t RoTxn<'t>,
    chain: &Chain,
    id: u64,
    lower: Bound<&[u8]>,
    upper: Option<&[u8]>,
) -> Result<Scan<'t>> {
    let mut levels = Vec::with_capacity(chain.0.len());
    for &(tl, bound) in &chain.0 {
        let (start, end) = level_range(tl, id, lower, upper);
        let mut level = Level { db: *db, txn, end, bound, iter: None, last_id: None, head: None };
        level.seek(&start)?;
        level.advance()?;
        levels.push(level);
    }
    Ok(Scan { levels, rev_levels: vec![], last: None })
}

/// The keys of one timeline's range: `prefix(timeline, id) | lower` (past
/// every version of an excluded `lower`: sub-keys are prefix-free) up to
/// `prefix | upper`, exclusive.
fn level_range(tl: TimelineId, id: u64, lower: Bound<&[u8]>, upper: Option<&[u8]>) -> (Vec<u8>, Vec<u8>) {
    let prefix = collection_prefix(tl, id);
    let start = match lower {
        Bound::Included(l) => [&prefix[..], l].concat(),
        Bound::Excluded(l) => [&prefix[..], l, &[0xFF; 8]].concat(),
        Bound::Unbounded => prefix.to_vec(),
    };
    let end = match upper {
        Some(u) => [&prefix[..], u].concat(),
        None => prefix_end(&prefix),
    };
    (start, end)
}

/// [`scan_chain`] in descending sub-key order.
pub(crate) fn scan_chain_rev<'t>(
    db: &Database<Bytes, Bytes>,
    txn: &'t RoTxn<'t>,
    chain: &Chain,
    id: u64,
    lower: Bound<&[u8]>,
    upper: Option<&[u8]>,
) -> Result<Scan<'t>> {
    let mut rev_levels = Vec::with_capacity(chain.0.len());
    for &(tl, bound) in &chain.0 {
        let (start, end) = level_range(tl, id, lower, upper);
        let iter = if start < end {
            let range = (Bound::Included(start.as_slice()), Bound::Excluded(end.as_slice()));
            Some(db.rev_range(txn, &range)?.peekable())
        } else {
            None
        };
        let mut level = RevLevel { iter, bound, head: None };
        level.advance()?;
        rev_levels.push(level);
    }
    Ok(Scan { levels: vec![], rev_levels, last: None })
}

/// One timeline of a descending scan: sub-keys come newest-key first and,
/// within a sub-key, versions come oldest first, so the visible version is
/// the last one at or below the bound before the sub-key changes.
struct RevLevel<'t> {
    iter: Option<std::iter::Peekable<heed::RoRevRange<'t, Bytes, Bytes>>>,
    bound: Lsn,
    head: Option<Version<'t>>,
}

/// One stored version found by a scan.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Version<'t> {
    /// The key after the (timeline, id) prefix, without the LSN.
    pub sub: &'t [u8],
    pub lsn: Lsn,
    /// The stored value, flag byte first (see [`keys::value`]).
    pub value: &'t [u8],
}

impl<'t> RevLevel<'t> {
    fn advance(&mut self) -> Result<()> {
        self.head = None;
        let Some(iter) = self.iter.as_mut() else { return Ok(()) };
        let split =
            |k: &'t [u8]| keys::split_version_key(k).ok_or_else(|| StoreError::Corrupt("short key".into()));
        loop {
            let Some(item) = iter.next() else {
                self.iter = None;
                return Ok(());
            };
            let (k, v) = item?;
            let (full, lsn) = split(k)?;
            let sub = &full[16..];
            let mut visible = (lsn <= self.bound).then_some((lsn, v));
            while let Some(Ok((k2, v2))) = iter.peek() {
                let (full2, lsn2) = split(k2)?;
                if &full2[16..] != sub {
                    break;
                }
                if lsn2 <= self.bound {
                    visible = Some((lsn2, *v2)); // a newer version, still visible
                }
                iter.next();
            }
            if let Some((lsn, value)) = visible {
                self.head = Some(Version { sub, lsn, value });
                return Ok(());
            }
            // Every version of this sub-key is too new here: the previous one.
        }
    }
}

/// Resolves the visible version of each sub-key on one timeline.
struct Level<'t> {
    db: Database<Bytes, Bytes>,
    txn: &'t RoTxn<'t>,
    end: Vec<u8>,
    bound: Lsn,
    iter: Option<RoRange<'t, Bytes, Bytes>>,
    last_id: Option<&'t [u8]>,
    /// The next visible version (possibly a tombstone).
    head: Option<Version<'t>>,
}

/// After this many skipped versions in a row, reposition with a seek.
const SKIP_BEFORE_SEEK: u32 = 4;

impl<'t> Level<'t> {
    fn seek(&mut self, from: &[u8]) -> Result<()> {
        if from >= self.end.as_slice() {
            self.iter = None;
            return Ok(());
        }
        let range = (Bound::Included(from), Bound::Excluded(self.end.as_slice()));
        self.iter = Some(self.db.range(self.txn, &range)?);
        Ok(())
    }

    /// Moves `head` to the next sub-key's visible version on this timeline.
    fn advance(&mut self) -> Result<()> {
        self.head = None;
        let mut skipped = 0u32;
        loop {
            let Some(iter) = self.iter.as_mut() else { return Ok(()) };
            let Some(item) = iter.next() else {
                self.iter = None;
                return Ok(());
            };
            let (k, v) = item?;
            let (full, lsn) =
                keys::split_version_key(k).ok_or_else(|| StoreError::Corrupt("short key".into()))?;
            let sub = &full[16..];
            if self.last_id == Some(sub) {
                // An older version of the sub-key just returned.
                skipped += 1;
                if skipped >= SKIP_BEFORE_SEEK {
                    let past = [full, &[0xFF; 8]].concat();
                    self.seek(&past)?;
                    skipped = 0;
                }
                continue;
            }
            if lsn > self.bound {
                // Too new for this read: jump to the newest version <= bound.
                skipped += 1;
                if skipped >= SKIP_BEFORE_SEEK {
                    let at = [full, &self.bound.to_desc_bytes()].concat();
                    self.seek(&at)?;
                    skipped = 0;
                }
                continue;
            }
            self.last_id = Some(sub);
            self.head = Some(Version { sub, lsn, value: v });
            return Ok(());
        }
    }
}

/// An ordered scan of one collection (or index) in a snapshot: a k-way
/// merge of the chain's timelines, where the child's version wins.
pub struct Scan<'t> {
    levels: Vec<Level<'t>>,
    /// The timelines of a descending scan (then `levels` is empty).
    rev_levels: Vec<RevLevel<'t>>,
    last: Option<&'t [u8]>,
}

impl<'t> Scan<'t> {
    /// The next visible entry as (sub-key, payload): for a collection
    /// (encoded `_id`, BSON bytes); for an index (entry key, encoded `_id`).
    pub fn next_raw(&mut self) -> Result<Option<(&'t [u8], &'t [u8])>> {
        Ok(self.next_raw_with_level()?.map(|(k, v, _)| (k, v)))
    }

    /// Like [`Scan::next_raw`], plus the position in the chain of the
    /// timeline the entry came from (0: the branch's own timeline).
    /// A copy of another branch's version that a materialization made
    /// counts as coming from an ancestor (position 1 at least).
    pub fn next_raw_with_level(&mut self) -> Result<Option<LevelledEntry<'t>>> {
        Ok(self.next_version()?.and_then(|(v, level)| {
            let level = if keys::value::is_inherited(v.value) { level.max(1) } else { level };
            keys::value::doc_bytes(v.value).map(|bytes| (v.sub, bytes, level))
        }))
    }

    /// The next visible live version as stored, with its position in the chain.
    pub(crate) fn next_version(&mut self) -> Result<Option<(Version<'t>, usize)>> {
        let next = if self.rev_levels.is_empty() {
            merge_next(&mut self.levels, false)?
        } else {
            merge_next(&mut self.rev_levels, true)?
        };
        if let Some((v, _)) = next {
            self.last = Some(v.sub);
        }
        Ok(next)
    }

    /// The sub-key of the last entry returned (to resume later).
    pub fn last_id_key(&self) -> Option<&'t [u8]> {
        self.last
    }
}

/// One timeline of a merged scan: its next visible entry, and moving on.
trait ChainLevel<'t> {
    fn head(&self) -> Option<Version<'t>>;
    fn advance(&mut self) -> Result<()>;
}

impl<'t> ChainLevel<'t> for Level<'t> {
    fn head(&self) -> Option<Version<'t>> {
        self.head
    }
    fn advance(&mut self) -> Result<()> {
        Level::advance(self)
    }
}

impl<'t> ChainLevel<'t> for RevLevel<'t> {
    fn head(&self) -> Option<Version<'t>> {
        self.head
    }
    fn advance(&mut self) -> Result<()> {
        RevLevel::advance(self)
    }
}

/// The k-way merge of a chain's levels: the smallest sub-key next (the
/// greatest when `descending`), the child's version winning (the first
/// level holding it); deleted entries are skipped.
fn merge_next<'t, L: ChainLevel<'t>>(
    levels: &mut [L],
    descending: bool,
) -> Result<Option<(Version<'t>, usize)>> {
    loop {
        let mut best: Option<(Version<'t>, usize)> = None;
        for (i, l) in levels.iter().enumerate() {
            if let Some(v) = l.head() {
                let better = best.is_none_or(|(b, _)| if descending { v.sub > b.sub } else { v.sub < b.sub });
                if better {
                    best = Some((v, i));
                }
            }
        }
        let Some((v, w)) = best else { return Ok(None) };
        for l in levels.iter_mut() {
            if l.head().is_some_and(|h| h.sub == v.sub) {
                l.advance()?;
            }
        }
        if keys::value::doc_bytes(v.value).is_some() {
            return Ok(Some((v, w)));
        }
    }
}

impl Iterator for Scan<'_> {
    type Item = Result<Document>;
    fn next(&mut self) -> Option<Self::Item> {
        match self.next_raw() {
            Ok(Some((_, bytes))) => Some(decode_doc(bytes)),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }
}
