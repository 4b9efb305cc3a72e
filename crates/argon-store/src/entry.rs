//! The store's WAL entry format: what one WAL record says.
//!
//! A record is one commit point. It records *outcomes*: every document
//! change carries its full post-image (absent for a delete) and pre-image,
//! and every id the change needed (timeline ids, collection ids) was chosen
//! before the record was written. Replaying a prefix of the log is therefore
//! deterministic: [`crate::apply`] needs nothing but the entry and its LSN.
//!
//! Entries are BSON documents (serde), so `argon wal dump` can print them as
//! Extended JSON.

use argon_types::{Lsn, TimelineId};
use bson::{Bson, Document, RawDocumentBuf};
use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};

/// One WAL record's content.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Entry {
    /// A project was created with its `main` branch on a new timeline.
    CreateProject { project: String, main_timeline: TimelineId, actor: String },
    /// A project and all its branches were dropped (history stays in the log).
    DropProject { project: String, actor: String },
    /// A branch was created: a new timeline whose ancestor is `ancestor` at `fork_lsn`.
    CreateBranch {
        project: String,
        branch: String,
        parent: String,
        timeline: TimelineId,
        ancestor: TimelineId,
        fork_lsn: Lsn,
        expires_at_ms: Option<i64>,
        actor: String,
    },
    /// A branch name was removed (its timeline and history stay).
    DeleteBranch { project: String, branch: String, actor: String },
    /// A branch was pointed at a new timeline forked from its old one at `to_lsn`.
    ResetBranch {
        project: String,
        branch: String,
        timeline: TimelineId,
        ancestor: TimelineId,
        to_lsn: Lsn,
        actor: String,
    },
    /// A branch's protected flag changed.
    ProtectBranch { project: String, branch: String, protected: bool, actor: String },
    /// Data and catalog changes on one branch, committed atomically.
    Commit(Commit),
}

/// Changes to one branch that share one commit point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Commit {
    pub project: String,
    pub branch: String,
    pub timeline: TimelineId,
    /// Who wrote it (user name, or "anonymous").
    pub actor: String,
    /// The client's transaction identity, if any (for example `{lsid, txnNumber}`).
    /// All `ops` share this record's LSN, which is the commit point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txn: Option<Bson>,
    /// Set when this commit moves the branch onto `timeline`, a new
    /// timeline that continues this one at the LSN before the commit's (a
    /// materialization, see the store's `materialize` module). Chosen by
    /// the commit thread; replay just follows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continues: Option<TimelineId>,
    pub ops: Vec<Op>,
}

/// How a document changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocOpKind {
    Insert,
    Update,
    Replace,
    Delete,
}

/// `Op` is an internally tagged enum, so serde hands its fields over as
/// buffered values, not as the BSON bytes `RawDocumentBuf` wants: decode
/// a document and encode it again (only when reading the WAL back).
fn raw_via_document<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<RawDocumentBuf>, D::Error> {
    use serde::de::Error;
    let doc: Option<Document> = Option::deserialize(d)?;
    doc.map(|doc| RawDocumentBuf::try_from(&doc).map_err(D::Error::custom)).transpose()
}

/// One change inside a [`Commit`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    Doc {
        coll: String,
        coll_id: u64,
        kind: DocOpKind,
        id: Bson,
        /// Kept as encoded BSON: written to the WAL and the index as is,
        /// decoded only by readers that look inside.
        #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "raw_via_document")]
        post: Option<RawDocumentBuf>,
        #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "raw_via_document")]
        pre: Option<RawDocumentBuf>,
    },
    CreateCollection {
        name: String,
        coll_id: u64,
        options: Document,
    },
    DropCollection {
        name: String,
        coll_id: u64,
    },
    RenameCollection {
        from: String,
        to: String,
        coll_id: u64,
    },
    CreateIndex {
        coll: String,
        index_id: u64,
        spec: Document,
    },
    DropIndex {
        coll: String,
        name: String,
    },
    /// Replaces a collection's options (`collMod`: its validator).
    SetCollectionOptions {
        coll: String,
        options: Document,
    },
    /// Replaces the spec of index `name` by `spec`, which has the same key
    /// (`collMod`: `hidden`, `expireAfterSeconds`). Its entries stay.
    SetIndexOptions {
        coll: String,
        name: String,
        spec: Document,
    },
}

impl Entry {
    /// Encodes the entry as a WAL payload.
    pub fn encode(&self) -> Result<Vec<u8>> {
        bson::serialize_to_vec(self).map_err(|e| StoreError::Corrupt(format!("cannot encode WAL entry: {e}")))
    }

    /// Encodes into `buf` (appending), so the commit thread reuses one buffer.
    pub fn encode_into(&self, buf: &mut Vec<u8>) -> Result<()> {
        bson::serialize_to_buffer(self, buf)
            .map_err(|e| StoreError::Corrupt(format!("cannot encode WAL entry: {e}")))
    }

    /// Decodes a WAL payload.
    pub fn decode(payload: &[u8]) -> Result<Entry> {
        bson::deserialize_from_slice(payload)
            .map_err(|e| StoreError::Corrupt(format!("undecodable WAL entry: {e}")))
    }

    /// The project of an encoded entry, read without decoding the rest (a
    /// commit of many documents costs that much to decode).
    pub fn peek_project(payload: &[u8]) -> Option<&str> {
        bson::RawDocument::from_bytes(payload).ok()?.get_str("project").ok()
    }

    /// The project the entry belongs to.
    pub fn project(&self) -> &str {
        match self {
            Entry::CreateProject { project, .. }
            | Entry::DropProject { project, .. }
            | Entry::CreateBranch { project, .. }
            | Entry::DeleteBranch { project, .. }
            | Entry::ResetBranch { project, .. }
            | Entry::ProtectBranch { project, .. } => project,
            Entry::Commit(c) => &c.project,
        }
    }

    /// Who made the change.
    pub fn actor(&self) -> &str {
        match self {
            Entry::CreateProject { actor, .. }
            | Entry::DropProject { actor, .. }
            | Entry::CreateBranch { actor, .. }
            | Entry::DeleteBranch { actor, .. }
            | Entry::ResetBranch { actor, .. }
            | Entry::ProtectBranch { actor, .. } => actor,
            Entry::Commit(c) => &c.actor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn entries_round_trip() {
        let e = Entry::Commit(Commit {
            project: "app".into(),
            branch: "main".into(),
            timeline: TimelineId(3),
            actor: "alice".into(),
            txn: Some(Bson::Int64(9)),
            continues: Some(TimelineId(2)),
            ops: vec![
                Op::CreateCollection { name: "users".into(), coll_id: 4, options: doc! {} },
                Op::Doc {
                    coll: "users".into(),
                    coll_id: 4,
                    kind: DocOpKind::Insert,
                    id: Bson::Int32(1),
                    post: Some(bson::rawdoc! {"_id": 1, "name": "a"}),
                    pre: None,
                },
                // Every kind of value survives the WAL byte for byte.
                Op::Doc {
                    coll: "users".into(),
                    coll_id: 4,
                    kind: DocOpKind::Update,
                    id: Bson::Int64(2),
                    post: Some(RawDocumentBuf::try_from(&doc! {
                        "_id": 2_i64,
                        "at": bson::DateTime::from_millis(1_700_000_000_123),
                        "ts": bson::Timestamp { time: 5, increment: 6 },
                        "big": i64::MAX,
                        "f": 1.5,
                        "bin": bson::Binary { subtype: bson::spec::BinarySubtype::Generic, bytes: vec![1, 2, 3] },
                        "oid": bson::oid::ObjectId::from_bytes([7; 12]),
                        "dec": bson::Decimal128::from_bytes([1; 16]),
                        "nested": {"arr": [1, "two", {"three": 3}, null], "$weird": true},
                        "minmax": [bson::Bson::MinKey, bson::Bson::MaxKey],
                    })
                    .unwrap()),
                    pre: Some(bson::rawdoc! {"_id": 2_i64, "n": 1}),
                },
            ],
        });
        let bytes = e.encode().unwrap();
        assert_eq!(Entry::decode(&bytes).unwrap(), e);
        assert!(Entry::decode(&bytes[..bytes.len() - 3]).is_err());
    }
}
