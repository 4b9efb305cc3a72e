//! Key layout of the derived index.
//!
//! A document version lives at
//!
//! ```text
//! timeline (8, BE) | collection id (8, BE) | keycodec(_id) | LSN descending (8)
//! ```
//!
//! so all versions of one document on one timeline are adjacent, newest
//! first, and one seek finds "the newest version at or below LSN L". The
//! document identity ([`DocKey`]) and the versioned key ([`VersionKey`]) are
//! different types so one can never be passed where the other belongs.

use argon_types::{keycodec, Lsn, TimelineId};
use bson::Bson;

/// Prefix of every document of one collection on one timeline.
pub fn collection_prefix(timeline: TimelineId, collection: u64) -> [u8; 16] {
    let mut p = [0u8; 16];
    p[..8].copy_from_slice(&timeline.0.to_be_bytes());
    p[8..].copy_from_slice(&collection.to_be_bytes());
    p
}

/// The smallest key after every key that starts with `prefix`.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return end;
        }
    }
    vec![0xFF; prefix.len() + 1]
}

/// The identity of a document on one timeline: (timeline, collection, _id).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocKey(Vec<u8>);

impl DocKey {
    pub fn new(timeline: TimelineId, collection: u64, id: &Bson) -> DocKey {
        // (Room for a typical `_id` and an LSN: one allocation per key
        // on the commit thread's path, [`DocKey::into_version`] included.)
        let mut k = Vec::with_capacity(16 + 24 + 8);
        k.extend_from_slice(&collection_prefix(timeline, collection));
        keycodec::encode_into(id, &mut k);
        DocKey(k)
    }

    /// From a collection prefix and an already encoded `_id`.
    pub fn from_parts(timeline: TimelineId, collection: u64, id_key: &[u8]) -> DocKey {
        let mut k = Vec::with_capacity(16 + id_key.len() + 8);
        k.extend_from_slice(&collection_prefix(timeline, collection));
        k.extend_from_slice(id_key);
        DocKey(k)
    }

    /// The version of this document written at `lsn` (tests keep the
    /// document key; the store builds each key with [`DocKey::into_version`]).
    #[cfg(test)]
    pub fn at(&self, lsn: Lsn) -> VersionKey {
        let mut k = Vec::with_capacity(self.0.len() + 8);
        k.extend_from_slice(&self.0);
        k.extend_from_slice(&lsn.to_desc_bytes());
        VersionKey(k)
    }

    /// [`DocKey::at`] without a copy, for a key needed only once.
    pub fn into_version(mut self, lsn: Lsn) -> VersionKey {
        self.0.extend_from_slice(&lsn.to_desc_bytes());
        VersionKey(self.0)
    }

    #[cfg(test)]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// A versioned key: a [`DocKey`] plus the LSN of the version (descending).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionKey(Vec<u8>);

impl VersionKey {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The document's key: all but the LSN.
    pub fn doc_bytes(&self) -> &[u8] {
        &self.0[..self.0.len() - 8]
    }
}

/// Splits a stored versioned key into (doc key bytes, LSN). `None` if the key
/// is too short to be one (a corrupt index).
pub fn split_version_key(key: &[u8]) -> Option<(&[u8], Lsn)> {
    if key.len() < 16 + 8 + 1 {
        return None;
    }
    let (doc, lsn) = key.split_at(key.len() - 8);
    Some((doc, Lsn::from_desc_bytes(lsn.try_into().ok()?)))
}

/// Stored value of a version: a flag byte, then the document's BSON bytes.
pub mod value {
    pub const TOMBSTONE: u8 = 0;
    pub const LIVE: u8 = 1;
    /// A live version copied by a materialization from another branch's
    /// timeline: still counted as shared, not own, in storage accounting.
    pub const INHERITED: u8 = 2;

    pub fn live(doc_bytes: &[u8]) -> Vec<u8> {
        let mut v = Vec::with_capacity(doc_bytes.len() + 1);
        v.push(LIVE);
        v.extend_from_slice(doc_bytes);
        v
    }

    pub fn tombstone() -> Vec<u8> {
        vec![TOMBSTONE]
    }

    /// The document bytes of a stored value, `None` for a tombstone.
    pub fn doc_bytes(v: &[u8]) -> Option<&[u8]> {
        match v.split_first() {
            Some((&LIVE | &INHERITED, rest)) => Some(rest),
            _ => None,
        }
    }

    /// Whether a stored value is a copy of another branch's version.
    pub fn is_inherited(v: &[u8]) -> bool {
        v.first() == Some(&INHERITED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_version_sorts_first() {
        let d = DocKey::new(TimelineId(1), 7, &Bson::Int32(5));
        let old = d.at(Lsn(10));
        let new = d.at(Lsn(11));
        assert!(new.as_bytes() < old.as_bytes());
        let (doc, lsn) = split_version_key(new.as_bytes()).unwrap();
        assert_eq!(doc, d.as_bytes());
        assert_eq!(lsn, Lsn(11));
        assert_eq!(new.doc_bytes(), d.as_bytes());
        // Built in place, the same key, for any `_id` length.
        for id in [Bson::Int32(5), Bson::String("x".repeat(100)), Bson::ObjectId(bson::oid::ObjectId::new())]
        {
            let d = DocKey::new(TimelineId(3), 9, &id);
            assert_eq!(d.clone().into_version(Lsn(7)), d.at(Lsn(7)));
            let parts = DocKey::from_parts(TimelineId(3), 9, &d.as_bytes()[16..]);
            assert_eq!(parts.into_version(Lsn(7)), d.at(Lsn(7)));
        }
    }

    #[test]
    fn prefix_end_is_past_every_key_with_the_prefix() {
        assert_eq!(prefix_end(&[1, 2, 0xFF]), vec![1, 3]);
        let p = collection_prefix(TimelineId(1), 7);
        let k = DocKey::new(TimelineId(1), 7, &Bson::MaxKey).at(Lsn(1));
        assert!(k.as_bytes() < prefix_end(&p).as_slice());
    }
}
