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
    /// A commit of document changes (the entry of nearly every write) is
    /// written by hand, byte for byte what serde writes (a test holds them
    /// equal): serde's generic path was 8-10% of the commit thread.
    pub fn encode_into(&self, buf: &mut Vec<u8>) -> Result<()> {
        if let Entry::Commit(c) = self {
            let start = buf.len();
            if raw::commit(c, buf) {
                return Ok(());
            }
            buf.truncate(start);
        }
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

/// The hand-written encoding of [`Entry::Commit`] (see [`Entry::encode_into`]).
mod raw {
    use super::{Commit, DocOpKind, Op};
    use bson::spec::ElementType;
    use bson::Bson;

    /// Appends `c` as BSON; `false` (and a partial `buf`) when it holds
    /// something left to serde: an op other than a document change, or a
    /// number serde would refuse.
    pub(super) fn commit(c: &Commit, buf: &mut Vec<u8>) -> bool {
        let doc = begin(buf);
        string(buf, "kind", "commit");
        string(buf, "project", &c.project);
        string(buf, "branch", &c.branch);
        if !uint(buf, "timeline", c.timeline.0) {
            return false;
        }
        string(buf, "actor", &c.actor);
        if let Some(txn) = &c.txn {
            if !value(buf, "txn", txn) {
                return false;
            }
        }
        if let Some(t) = c.continues {
            if !uint(buf, "continues", t.0) {
                return false;
            }
        }
        key(buf, ElementType::Array, "ops");
        let ops = begin(buf);
        let mut index = itoa_buf();
        for (i, op) in c.ops.iter().enumerate() {
            let Op::Doc { coll, coll_id, kind, id, post, pre } = op else { return false };
            key(buf, ElementType::EmbeddedDocument, itoa(&mut index, i));
            let d = begin(buf);
            string(buf, "op", "doc");
            string(buf, "coll", coll);
            if !uint(buf, "coll_id", *coll_id) {
                return false;
            }
            let kind = match kind {
                DocOpKind::Insert => "insert",
                DocOpKind::Update => "update",
                DocOpKind::Replace => "replace",
                DocOpKind::Delete => "delete",
            };
            string(buf, "kind", kind);
            if !value(buf, "id", id) {
                return false;
            }
            for (name, image) in [("post", post), ("pre", pre)] {
                if let Some(image) = image {
                    key(buf, ElementType::EmbeddedDocument, name);
                    buf.extend_from_slice(image.as_bytes());
                }
            }
            end(buf, d);
        }
        end(buf, ops);
        end(buf, doc);
        true
    }

    /// Starts a document: room for its length. Returns where it starts.
    fn begin(buf: &mut Vec<u8>) -> usize {
        buf.extend_from_slice(&[0; 4]);
        buf.len() - 4
    }

    /// Ends the document begun at `at`: its terminator and length.
    fn end(buf: &mut Vec<u8>, at: usize) {
        buf.push(0);
        let len = (buf.len() - at) as i32;
        buf[at..at + 4].copy_from_slice(&len.to_le_bytes());
    }

    fn key(buf: &mut Vec<u8>, t: ElementType, name: &str) {
        buf.push(t as u8);
        buf.extend_from_slice(name.as_bytes());
        buf.push(0);
    }

    fn string(buf: &mut Vec<u8>, name: &str, s: &str) {
        key(buf, ElementType::String, name);
        buf.extend_from_slice(&(s.len() as i32 + 1).to_le_bytes());
        buf.extend_from_slice(s.as_bytes());
        buf.push(0);
    }

    /// A `u64` as serde writes it: an Int64 (serde refuses larger ones).
    fn uint(buf: &mut Vec<u8>, name: &str, n: u64) -> bool {
        let Ok(n) = i64::try_from(n) else { return false };
        key(buf, ElementType::Int64, name);
        buf.extend_from_slice(&n.to_le_bytes());
        true
    }

    /// Any value: the common `_id` types by hand, the rest through a
    /// one-field document built by the `bson` crate (`false` if that fails,
    /// say on a nested key holding a NUL byte, for serde to report).
    fn value(buf: &mut Vec<u8>, name: &str, v: &Bson) -> bool {
        match v {
            Bson::Int32(n) => {
                key(buf, ElementType::Int32, name);
                buf.extend_from_slice(&n.to_le_bytes());
            }
            Bson::Int64(n) => {
                key(buf, ElementType::Int64, name);
                buf.extend_from_slice(&n.to_le_bytes());
            }
            Bson::String(s) => string(buf, name, s),
            Bson::ObjectId(oid) => {
                key(buf, ElementType::ObjectId, name);
                buf.extend_from_slice(&oid.bytes());
            }
            other => {
                let mut one = bson::Document::new();
                one.insert(name, other.clone());
                let Ok(bytes) = one.to_vec() else { return false };
                buf.extend_from_slice(&bytes[4..bytes.len() - 1]);
            }
        }
        true
    }

    type ItoaBuf = [u8; 20];

    fn itoa_buf() -> ItoaBuf {
        [0; 20]
    }

    /// `i` in decimal (an array's keys), without the formatting machinery.
    fn itoa(buf: &mut ItoaBuf, mut i: usize) -> &str {
        let mut at = buf.len();
        loop {
            at -= 1;
            buf[at] = b'0' + (i % 10) as u8;
            i /= 10;
            if i == 0 {
                break;
            }
        }
        std::str::from_utf8(&buf[at..]).expect("ASCII digits")
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

    mod hand_encoding {
        use super::super::*;
        use bson::spec::BinarySubtype;
        use proptest::prelude::*;

        /// `_id` (and `txn`) values of every BSON type.
        fn any_value() -> impl Strategy<Value = Bson> {
            prop_oneof![
                any::<i32>().prop_map(Bson::Int32),
                any::<i64>().prop_map(Bson::Int64),
                prop_oneof![any::<f64>(), Just(f64::NAN), Just(-0.0)].prop_map(Bson::Double),
                "\\PC{0,12}".prop_map(Bson::String),
                any::<[u8; 12]>().prop_map(|b| Bson::ObjectId(bson::oid::ObjectId::from_bytes(b))),
                any::<bool>().prop_map(Bson::Boolean),
                Just(Bson::Null),
                Just(Bson::MinKey),
                Just(Bson::MaxKey),
                any::<i64>().prop_map(|ms| Bson::DateTime(bson::DateTime::from_millis(ms))),
                proptest::collection::vec(any::<u8>(), 0..8)
                    .prop_map(|bytes| Bson::Binary(bson::Binary { subtype: BinarySubtype::Generic, bytes })),
                any::<[u8; 16]>().prop_map(|b| Bson::Decimal128(bson::Decimal128::from_bytes(b))),
                (any::<u32>(), any::<u32>())
                    .prop_map(|(time, increment)| Bson::Timestamp(bson::Timestamp { time, increment })),
                (any::<i64>(), "[a-z]{0,5}").prop_map(|(n, k)| Bson::Document(bson::doc! {"n": n, "k": k})),
                (any::<i32>(), "[a-z]{0,5}")
                    .prop_map(|(n, s)| Bson::Array(vec![Bson::Int32(n), Bson::String(s)])),
            ]
        }

        fn any_doc_op() -> impl Strategy<Value = Op> {
            let kind = prop_oneof![
                Just(DocOpKind::Insert),
                Just(DocOpKind::Update),
                Just(DocOpKind::Replace),
                Just(DocOpKind::Delete)
            ];
            let image = proptest::option::of(
                (any::<i64>(), "\\PC{0,20}")
                    .prop_map(|(n, s)| bson::rawdoc! {"_id": n, "s": s, "a": [1, 2.5]}),
            );
            ("[a-z.]{1,8}", 0..(1u64 << 62), kind, any_value(), image.clone(), image).prop_map(
                |(coll, coll_id, kind, id, post, pre)| Op::Doc { coll, coll_id, kind, id, post, pre },
            )
        }

        fn any_commit() -> impl Strategy<Value = Commit> {
            (
                ("\\PC{1,10}", "[a-z~]{1,10}", 0..(1u64 << 62), "\\PC{0,10}"),
                proptest::option::of(any_value()),
                proptest::option::of(0..(1u64 << 62)),
                proptest::collection::vec(any_doc_op(), 0..14),
            )
                .prop_map(|((project, branch, timeline, actor), txn, continues, ops)| Commit {
                    project,
                    branch,
                    timeline: TimelineId(timeline),
                    actor,
                    txn,
                    continues: continues.map(TimelineId),
                    ops,
                })
        }

        /// What serde writes (the format's definition), after what is in `buf`.
        fn by_serde(e: &Entry, prefix: &[u8]) -> Vec<u8> {
            let mut buf = prefix.to_vec();
            bson::serialize_to_buffer(e, &mut buf).unwrap();
            buf
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]
            #[test]
            fn commits_of_document_changes_are_written_as_serde_writes_them(c in any_commit()) {
                let mut buf = vec![9, 9];
                prop_assert!(raw::commit(&c, &mut buf), "a commit of document changes is written by hand");
                let e = Entry::Commit(c);
                prop_assert_eq!(&buf, &by_serde(&e, &[9, 9]));
                let mut through = vec![9, 9];
                e.encode_into(&mut through).unwrap();
                prop_assert_eq!(&through, &buf);
                prop_assert!(Entry::decode(&buf[2..]).is_ok());
            }
        }

        #[test]
        fn anything_else_is_left_to_serde() {
            let doc_op = Op::Doc {
                coll: "c".into(),
                coll_id: 1,
                kind: DocOpKind::Insert,
                id: Bson::Int32(1),
                post: Some(bson::rawdoc! {"_id": 1}),
                pre: None,
            };
            let commit = |ops: Vec<Op>, timeline: u64| Commit {
                project: "p".into(),
                branch: "main".into(),
                timeline: TimelineId(timeline),
                actor: "a".into(),
                txn: None,
                continues: None,
                ops,
            };
            let ddl =
                Op::CreateCollection { name: "c".into(), coll_id: 1, options: bson::doc! {"capped": true} };
            let mixed = commit(vec![doc_op.clone(), ddl], 3);
            let mut buf = vec![];
            assert!(!raw::commit(&mixed, &mut buf));
            let e = Entry::Commit(mixed);
            let mut written = vec![];
            e.encode_into(&mut written).unwrap();
            assert_eq!(written, by_serde(&e, &[]), "the partial hand encoding is dropped");
            // A timeline past i64::MAX: serde refuses it, and so does encode_into.
            let huge = commit(vec![doc_op], u64::MAX);
            assert!(!raw::commit(&huge, &mut vec![]));
            assert!(Entry::Commit(huge).encode_into(&mut vec![]).is_err());
        }
    }
}
