//! What callers ask the commit thread to do.

use argon_types::{Lsn, TimelineId};
use bson::{Bson, Document, RawDocumentBuf};

use crate::error::{Result, StoreError};

/// A group of writes to one branch.
#[derive(Debug)]
pub struct WriteRequest {
    pub project: String,
    pub branch: String,
    /// Who is writing (recorded in the WAL).
    pub actor: String,
    /// The client's transaction identity, recorded in the WAL.
    pub txn: Option<Bson>,
    /// The snapshot the writes were computed from. With it, a document that
    /// another commit changed after `base.lsn` (or a branch reset since) makes
    /// the request fail with [`crate::StoreError::WriteConflict`].
    pub base: Option<ReadBase>,
    /// Create the project if it does not exist (MongoDB creates databases on
    /// first write).
    pub create_project: bool,
    pub mode: WriteMode,
    pub ops: Vec<WriteOp>,
    /// The documents of `ops` as BSON, encoded by [`Store::write`] on the
    /// caller's thread (the commit thread is the store's serial part).
    ///
    /// [`Store::write`]: crate::Store::write
    pub(crate) encoded: Vec<Option<Result<RawDocumentBuf>>>,
}

impl Clone for WriteRequest {
    /// A copy without the encoded documents (a cache, encoded again when the
    /// copy is written).
    fn clone(&self) -> WriteRequest {
        WriteRequest {
            project: self.project.clone(),
            branch: self.branch.clone(),
            actor: self.actor.clone(),
            txn: self.txn.clone(),
            base: self.base,
            create_project: self.create_project,
            mode: self.mode,
            ops: self.ops.clone(),
            encoded: vec![],
        }
    }
}

/// MongoDB's largest document.
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;

/// Reads every element of `doc`, nested documents and arrays included, so
/// bytes that are not valid BSON (a bad length, type, UTF-8 string or key)
/// fail here rather than being stored.
fn validate(doc: &bson::RawDocument) -> std::result::Result<(), bson::error::Error> {
    for element in doc.iter() {
        validate_value(element?.1)?;
    }
    Ok(())
}

fn validate_value(value: bson::raw::RawBsonRef<'_>) -> std::result::Result<(), bson::error::Error> {
    use bson::raw::RawBsonRef;
    match value {
        RawBsonRef::Document(d) => validate(d),
        RawBsonRef::Array(a) => a.into_iter().try_for_each(|v| validate_value(v?)),
        RawBsonRef::JavaScriptCodeWithScope(c) => validate(c.scope),
        _ => Ok(()),
    }
}

/// A document's bytes, if within MongoDB's size limit.
pub(crate) fn check_size(raw: RawDocumentBuf) -> Result<RawDocumentBuf> {
    let size = raw.as_bytes().len();
    if size > MAX_DOCUMENT_BYTES {
        return Err(StoreError::DocumentTooLarge { size });
    }
    Ok(raw)
}

/// Encodes a document to store, checking MongoDB's size limit.
pub(crate) fn encode_document(doc: &Document) -> Result<RawDocumentBuf> {
    let raw = RawDocumentBuf::try_from(doc)
        .map_err(|e| StoreError::InvalidArgument(format!("document cannot be stored as BSON: {e}")))?;
    check_size(raw)
}

impl WriteRequest {
    /// Fills [`WriteRequest::encoded`] for the `ops` that have no encoded
    /// document yet (an encoding error fails only its op, as the request's
    /// mode says).
    pub(crate) fn encode_documents(&mut self) {
        self.encoded.resize_with(self.ops.len(), || None);
        for (slot, op) in self.encoded.iter_mut().zip(self.ops.iter_mut()) {
            // An insert becomes its encoded form here, so the document is
            // freed on the caller's thread, not the commit thread's.
            if let (None, WriteOp::Insert { coll, doc }) = (&slot, &mut *op) {
                if let (Ok(raw), Some(id)) = (encode_document(doc), doc.get("_id").cloned()) {
                    *op = WriteOp::InsertEncoded { coll: std::mem::take(coll), id, doc: raw };
                    continue;
                }
            }
            if let (None, WriteOp::Insert { doc, .. } | WriteOp::Update { doc, .. }) = (&slot, &*op) {
                *slot = Some(encode_document(doc));
            }
        }
    }

    /// Adds an insert of a document the caller already holds as BSON (a
    /// server, from the wire): it is stored as these bytes, neither decoded
    /// nor encoded again ([`WriteOp::InsertEncoded`]). Fails if the bytes
    /// are not a valid document (checked element by element, nested ones
    /// included, without building it) or have no `_id`.
    pub fn insert_encoded(&mut self, coll: impl Into<String>, raw: RawDocumentBuf) -> Result<()> {
        validate(&raw).map_err(|e| StoreError::InvalidArgument(format!("invalid BSON document: {e}")))?;
        let id = match raw.get("_id") {
            Ok(Some(id)) => {
                Bson::try_from(id).map_err(|e| StoreError::InvalidArgument(format!("invalid _id: {e}")))?
            }
            Ok(None) => return Err(StoreError::InvalidArgument("document to insert has no _id".into())),
            Err(e) => return Err(StoreError::InvalidArgument(format!("invalid BSON document: {e}"))),
        };
        self.ops.push(WriteOp::InsertEncoded { coll: coll.into(), id, doc: raw });
        Ok(())
    }

    /// Adds the outcome of an operator update of document `id`, held as
    /// BSON ([`WriteOp::UpdateEncoded`]; a server computes it from the
    /// stored bytes). Fails if the bytes are not a valid document; its
    /// `_id`, if any, must be `id`.
    pub fn update_encoded(
        &mut self,
        coll: impl Into<String>,
        id: Bson,
        raw: RawDocumentBuf,
        check: Check,
    ) -> Result<()> {
        validate(&raw).map_err(|e| StoreError::InvalidArgument(format!("invalid BSON document: {e}")))?;
        self.ops.push(WriteOp::UpdateEncoded { coll: coll.into(), id, doc: raw, check });
        Ok(())
    }

    /// A request with no ops yet, ordered mode, anonymous actor.
    pub fn new(project: impl Into<String>, branch: impl Into<String>) -> WriteRequest {
        WriteRequest {
            project: project.into(),
            branch: branch.into(),
            actor: "anonymous".into(),
            txn: None,
            base: None,
            create_project: false,
            mode: WriteMode::Atomic,
            ops: vec![],
            encoded: vec![],
        }
    }

    pub fn op(mut self, op: WriteOp) -> WriteRequest {
        self.ops.push(op);
        self
    }
}

/// The view a write was computed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadBase {
    pub timeline: TimelineId,
    pub lsn: Lsn,
}

/// What happens when one op of a request fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMode {
    /// All ops commit together or none does (a transaction).
    Atomic,
    /// Ops before the failing one commit; the rest are skipped (an ordered batch).
    Ordered,
    /// Every op that can commit does (an unordered batch).
    Unordered,
}

/// Whether an update or delete checks for concurrent changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// Write whatever is there now.
    Blind,
    /// Fail with a write conflict if the document changed after the request's base LSN.
    UnchangedSinceBase,
}

/// One operation.
#[derive(Clone, Debug)]
pub enum WriteOp {
    /// Inserts a document (it must have an `_id`); fails with a duplicate key
    /// error if one with that `_id` exists. Creates the collection if needed.
    Insert {
        coll: String,
        doc: Document,
    },
    /// [`WriteOp::Insert`] of a document given as BSON bytes, with its
    /// `_id` (see [`WriteRequest::insert_encoded`]): stored as these bytes,
    /// decoded only to compute secondary index keys.
    InsertEncoded {
        coll: String,
        id: Bson,
        doc: RawDocumentBuf,
    },
    /// Stores `doc` as the new version of document `id` (an update's outcome).
    /// Creates the document when it does not exist (an upsert's outcome).
    Update {
        coll: String,
        id: Bson,
        doc: Document,
        replace: bool,
        check: Check,
    },
    /// [`WriteOp::Update`] of an operator update's outcome given as BSON
    /// bytes (see [`WriteRequest::update_encoded`]): stored as these bytes.
    UpdateEncoded {
        coll: String,
        id: Bson,
        doc: RawDocumentBuf,
        check: Check,
    },
    /// Deletes document `id` (no-op if absent).
    Delete {
        coll: String,
        id: Bson,
        check: Check,
    },
    /// Records that the request read this document, for conflict detection.
    Read {
        coll: String,
        id: Bson,
    },
    CreateCollection {
        name: String,
        options: Document,
    },
    DropCollection {
        name: String,
    },
    RenameCollection {
        from: String,
        to: String,
        drop_target: bool,
    },
    CreateIndex {
        coll: String,
        spec: Document,
    },
    DropIndex {
        coll: String,
        name: String,
    },
    /// Replaces a collection's options (what `create` recorded), as
    /// `collMod` does.
    SetCollectionOptions {
        coll: String,
        options: Document,
    },
    /// Replaces the spec of index `name` by `spec` (same `key` and
    /// `name`), as `collMod` does for `hidden` and `expireAfterSeconds`.
    /// The index's entries are kept: no option that changes them.
    SetIndexOptions {
        coll: String,
        name: String,
        spec: Document,
    },
}

/// The outcome of a request.
#[derive(Debug)]
pub struct CommitOutcome {
    /// The commit point (`None` if nothing was written).
    pub lsn: Option<Lsn>,
    pub time: argon_types::CommitTime,
    /// Per op: what it did, or why it failed (non-atomic modes). For an
    /// ordered batch, ops after the first failure are absent.
    pub results: Vec<Result<OpEffect, crate::StoreError>>,
}

/// What one op did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpEffect {
    Written,
    /// A delete of an absent document, or an index that already existed.
    NoOp,
}
