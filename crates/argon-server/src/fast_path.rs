//! Fast lanes for the hottest requests, read from the raw OP_MSG:
//!
//! - `find` of one document by `_id` (what `find_one({_id: ...})` sends),
//!   answered from the stored document bytes, with no `Document` built;
//! - `insert` of documents that carry their `_id` (what drivers send:
//!   they add `_id` client-side), whose bytes go to the store as they came;
//! - `update` of one document by `_id` (what `update_one({_id: ...})`
//!   sends), without building the command `Document`, a query plan or an
//!   operation record.
//!
//! Profiles of the full path showed a point read spending most of its
//! server-side CPU outside the store: decoding the command into a
//! `Document` (13% of the connection threads' time), decoding the stored
//! document, building and encoding the reply, and freeing all of it. The
//! result here is byte for byte what the full path returns.
//!
//! For `find`, only the plain shape qualifies: an uncompressed OP_MSG with just a body;
//! `filter: {_id: <string, ObjectId, int or long>}`; optional `limit`,
//! `singleBatch`, `batchSize` ≥ 1 and the fields drivers always add
//! (`lsid`, `$clusterTime`, `$readPreference`, `$db`); a branch head (no
//! `@lsn` view); no transaction, read concern, projection, sort or hint;
//! authentication and the profiler off. Anything else, or anything unexpected (an unknown
//! project, a malformed element), returns `None` and takes the full path,
//! which also produces every error reply.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use argon_query::{Filter, Update};
use argon_store::{At, Check, ReadBase, StoreError, WriteMode, WriteOp, WriteRequest};
use argon_wire::PlainOpMsg;
use bson::raw::{RawBsonRef, RawDocument};
use bson::{rawdoc, Bson, Document, RawDocumentBuf};

use crate::commands::crud_insert;
use crate::connection::ConnState;
use crate::error::CommandError;
use crate::state::ServerState;

/// The reply body for a qualifying `find`, or `None` for the full path.
pub fn find_by_id(state: &ServerState, body: &RawDocument, started: Instant) -> Option<RawDocumentBuf> {
    if state.auth.is_some() || state.profiler.any() {
        return None;
    }
    let mut coll = None;
    let mut db = None;
    let mut id = None;
    for element in body.iter() {
        let (key, value) = element.ok()?;
        match (key.as_str(), value) {
            ("find", RawBsonRef::String(c)) if coll.is_none() => coll = Some(c),
            ("find", _) => return None,
            ("$db", RawBsonRef::String(d)) => db = Some(d),
            ("filter", RawBsonRef::Document(f)) => id = Some(single_id(f)?),
            ("limit", RawBsonRef::Int32(_) | RawBsonRef::Int64(_)) => {}
            ("singleBatch", RawBsonRef::Boolean(_)) => {}
            ("batchSize", RawBsonRef::Int32(n)) if n >= 1 => {}
            ("batchSize", RawBsonRef::Int64(n)) if n >= 1 => {}
            ("lsid" | "$clusterTime" | "$readPreference", _) => {}
            _ => return None,
        }
    }
    // `find` must be the command (the first key); the loop took it anywhere.
    if body.iter().next()?.ok()?.0.as_str() != "find" {
        return None;
    }
    let (coll, db, id) = (coll?, db?, id?);
    let target = state.target(db).ok()?;
    if target.view_lsn.is_some() {
        return None;
    }
    let snap = state.store.snapshot(&target.project, &target.branch, At::Head).ok()?;
    // A view runs its pipeline; a default collation may match other
    // `_id` strings than the one asked for.
    if snap
        .collection(coll)
        .is_some_and(|c| crate::views::is_view(&c.options) || c.options.contains_key("collation"))
    {
        return None;
    }
    let found = snap.get_raw(coll, &id).ok()?;
    crate::index_usage::record(&snap, coll, crate::index_usage::ID_INDEX);

    state.metrics.ops_command.fetch_add(1, Ordering::Relaxed);
    state.metrics.ops_query.fetch_add(1, Ordering::Relaxed);
    let mut reply = find_reply(found, db, coll)?;
    state.append_time_fields_raw(&mut reply, None);
    state.ops.usage.record(db, coll, "find", false, started.elapsed());
    Some(reply)
}

/// `{cursor: {firstBatch: [<found>], id: 0, ns: "<db>.<coll>"}, ok: 1.0}`
/// written straight into one buffer, with room for the time fields that
/// follow (`rawdoc!` built the nested documents and the array one by one
/// and copied each into its parent: a tenth of the lane's own time).
fn find_reply(found: Option<&[u8]>, db: &str, coll: &str) -> Option<RawDocumentBuf> {
    fn i32_len(n: usize) -> [u8; 4] {
        (n as i32).to_le_bytes()
    }
    let doc = found.unwrap_or_default();
    if found.is_some() {
        RawDocument::from_bytes(doc).ok()?; // (the stored bytes are a document)
    }
    // The array: length, [type, "0", doc], terminator.
    let array_len = 4 + if found.is_some() { 1 + 2 + doc.len() } else { 0 } + 1;
    let ns_len = db.len() + 1 + coll.len() + 1; // with its terminator
    let cursor_len = 4
        + (1 + b"firstBatch\0".len() + array_len)
        + (1 + b"id\0".len() + 8)
        + (1 + b"ns\0".len() + 4 + ns_len)
        + 1;
    let reply_len = 4 + (1 + b"cursor\0".len() + cursor_len) + (1 + b"ok\0".len() + 8) + 1;
    let mut out = Vec::with_capacity(reply_len + 128);
    out.extend_from_slice(&i32_len(reply_len));
    out.push(0x03);
    out.extend_from_slice(b"cursor\0");
    out.extend_from_slice(&i32_len(cursor_len));
    out.push(0x04);
    out.extend_from_slice(b"firstBatch\0");
    out.extend_from_slice(&i32_len(array_len));
    if found.is_some() {
        out.push(0x03);
        out.extend_from_slice(b"0\0");
        out.extend_from_slice(doc);
    }
    out.push(0);
    out.push(0x12);
    out.extend_from_slice(b"id\0");
    out.extend_from_slice(&0i64.to_le_bytes());
    out.push(0x02);
    out.extend_from_slice(b"ns\0");
    out.extend_from_slice(&i32_len(ns_len));
    out.extend_from_slice(db.as_bytes());
    out.push(b'.');
    out.extend_from_slice(coll.as_bytes());
    out.push(0);
    out.push(0); // end of cursor
    out.push(0x01);
    out.extend_from_slice(b"ok\0");
    out.extend_from_slice(&1.0f64.to_le_bytes());
    out.push(0); // end of reply
    debug_assert_eq!(out.len(), reply_len);
    RawDocumentBuf::from_bytes(out).ok()
}

/// The `_id` of a filter that is exactly `{_id: <scalar>}` of a type whose
/// equality is plain (no numeric NaN, no regex, array or operator document).
fn single_id(filter: &RawDocument) -> Option<Bson> {
    let mut it = filter.iter();
    let (key, value) = it.next()?.ok()?;
    if key.as_str() != "_id" || it.next().is_some() {
        return None;
    }
    match value {
        RawBsonRef::String(s) => Some(Bson::String(s.to_string())),
        RawBsonRef::ObjectId(o) => Some(Bson::ObjectId(o)),
        RawBsonRef::Int32(i) => Some(Bson::Int32(i)),
        RawBsonRef::Int64(i) => Some(Bson::Int64(i)),
        _ => None,
    }
}

/// The reply to a qualifying `insert`, or `None` for the full path.
///
/// Qualifies: the documents in a `documents` sequence, each with an `_id`
/// the full path would accept as is; `ordered`, `lsid`, `txnNumber` (a
/// retryable write: a retry gets the stored reply) and the fields drivers
/// add; no `writeConcern`, transaction or `--auth`; a writable branch and
/// collection. The decision is made before anything is written; once the
/// write is submitted, its outcome (write errors included) is answered here
/// exactly as `crud_insert` and `commands::dispatch` would.
pub async fn insert(
    state: &Arc<ServerState>,
    conn: &mut ConnState,
    msg: &PlainOpMsg<'_>,
    started: Instant,
) -> Option<RawDocumentBuf> {
    let write = PlainWrite::read(state, msg, "insert", "documents")?;
    let (docs, coll, ordered, target) = (write.docs, write.coll, write.ordered, write.target);
    if docs.is_empty() || docs.len() > 100_000 {
        return None;
    }
    if let Some(reply) = write.retried {
        return RawDocumentBuf::try_from(&reply).ok();
    }
    for d in docs {
        match d.get("_id").ok()?? {
            RawBsonRef::Array(_) | RawBsonRef::RegularExpression(_) | RawBsonRef::Undefined => return None,
            _ => {}
        }
    }
    let retry = write.retry;
    let mut req = WriteRequest::new(target.project.clone(), target.branch.clone());
    for d in docs {
        req.insert_encoded(coll, (*d).to_owned()).ok()?;
    }
    req.actor = crate::writes::actor(&crate::commands::Ctx { state: state.clone(), conn });
    req.create_project = target.branch == argon_types::names::MAIN_BRANCH;
    req.mode = if ordered { WriteMode::Ordered } else { WriteMode::Unordered };

    state.metrics.ops_command.fetch_add(1, Ordering::Relaxed);
    state.metrics.ops_insert.fetch_add(docs.len() as u64, Ordering::Relaxed);
    let (mut reply, op_time) = match state.write(req).await {
        Ok(outcome) => {
            let indexes: Vec<usize> = (0..docs.len()).collect();
            let (n, errors) = crud_insert::tally(outcome.results, &indexes, vec![], ordered);
            let mut reply = match errors.is_empty() {
                // The common reply, built as bytes.
                true => {
                    let mut reply = reply_buf();
                    reply.append(bson::raw::cstr!("n"), n as i32);
                    reply
                }
                false => encoded_reply(&crud_insert::reply(n, errors)),
            };
            reply.append(bson::raw::cstr!("ok"), 1.0);
            (reply, Some(outcome.lsn.map(|l| (l, outcome.time))))
        }
        Err(e) => (encoded_reply(&CommandError::from(e).to_reply()), None),
    };
    state.append_time_fields_raw(&mut reply, op_time.flatten());
    // A retry of a write that was answered gets the same reply.
    if let (Some(_), Some((key, n))) = (op_time, retry) {
        store_reply(state, &key, n, &reply);
    }
    state.ops.usage.record(&target.db, coll, "insert", false, started.elapsed());
    Some(reply)
}

// Once a write is submitted, its request must never go to the full path
// (it would run twice): the helpers below cannot fail.

/// An empty reply document with room for a write's reply and its time
/// fields: appending them then moves no bytes (growing a `rawdoc!` built
/// to size field by field was a tenth of the insert lane).
fn reply_buf() -> RawDocumentBuf {
    let mut bytes = Vec::with_capacity(192);
    bytes.extend_from_slice(&[5, 0, 0, 0, 0]);
    RawDocumentBuf::from_bytes(bytes).expect("the empty document")
}

/// A reply built as a `Document` (write errors, a store error), as bytes.
fn encoded_reply(reply: &Document) -> RawDocumentBuf {
    RawDocumentBuf::try_from(reply).unwrap_or_else(|e| {
        // (Only a key with a NUL byte fails, and these keys are ours.)
        rawdoc! { "ok": 0.0, "errmsg": format!("reply not encodable: {e}"), "code": 1, "codeName": "InternalError" }
    })
}

/// Keeps a retryable write's reply for its retries.
fn store_reply(state: &ServerState, key: &[u8], txn_number: i64, reply: &RawDocumentBuf) {
    match Document::try_from(reply.as_ref()) {
        Ok(reply) => state.sessions.store_reply(key, txn_number, reply),
        Err(e) => tracing::error!("retryable write reply not kept: {e}"),
    }
}

/// The reply to a qualifying `update`, or `None` for the full path.
///
/// Qualifies: one statement in an `updates` sequence, `{q: {_id: <string,
/// ObjectId, int or long>}, u: <update document>}` with `multi` and
/// `upsert` absent or false; `ordered`, `lsid`, `txnNumber` (retryable:
/// a retry gets the stored reply) and the fields drivers add; no write
/// concern, transaction, array filters, hint, collation or `--auth`; a
/// writable branch. Whatever fails before the commit (a bad operator, an
/// `_id` change, an unknown project) and a failed commit (nothing is
/// written then) go to the full path, which makes the error reply. A write
/// conflict is retried on a fresh snapshot, as the full path does.
pub async fn update_by_id(
    state: &Arc<ServerState>,
    conn: &mut ConnState,
    msg: &PlainOpMsg<'_>,
    started: Instant,
) -> Option<RawDocumentBuf> {
    let write = PlainWrite::read(state, msg, "update", "updates")?;
    let (coll, target, retry) = (write.coll, write.target, write.retry);
    let [stmt] = write.docs else { return None };
    let (mut filter, mut update) = (None, None);
    for element in stmt.iter() {
        let (key, value) = element.ok()?;
        match (key.as_str(), value) {
            ("q", RawBsonRef::Document(q)) => filter = Some(q),
            ("u", RawBsonRef::Document(u)) => update = Some(u),
            ("multi" | "upsert", RawBsonRef::Boolean(false)) => {}
            _ => return None,
        }
    }
    let (filter, update) = (filter?, update?);
    let id = single_id(filter)?;
    if let Some(reply) = write.retried {
        return RawDocumentBuf::try_from(&reply).ok();
    }
    let update = match Update::parse_raw(update) {
        Some(update) => update,
        None => Update::parse(&Bson::Document(Document::try_from(update).ok()?), None).ok()?,
    };
    // Only the positional `$` reads the filter.
    let filter = match update.needs_filter() {
        true => Some(Filter::parse(&Document::try_from(filter).ok()?).ok()?),
        false => None,
    };
    let actor = crate::writes::actor(&crate::commands::Ctx { state: state.clone(), conn });

    let mut attempt = 0;
    let (matched, outcome) = loop {
        attempt += 1;
        let snap = state.store.snapshot(&target.project, &target.branch, At::Head).ok()?;
        let base = ReadBase { timeline: snap.view().timeline, lsn: snap.lsn() };
        if attempt == 1 {
            crate::index_usage::record(&snap, coll, crate::index_usage::ID_INDEX);
        }
        let Some(stored) = snap.get_raw(coll, &id).ok()? else { break (0, None) };
        let stored = RawDocument::from_bytes(stored).ok()?;
        let mut req = WriteRequest::new(target.project.clone(), target.branch.clone());
        req.actor = actor.clone();
        req.base = Some(base);
        req.mode = WriteMode::Atomic;
        let now = bson::DateTime::now();
        // Top-level field updates work on the stored bytes; the others on
        // the decoded document. An error goes to the full path, which
        // answers it.
        match update.apply_raw(stored, now) {
            Some(Ok(None)) => break (1, None), // a no-op update writes nothing
            Some(Ok(Some(after))) => {
                req.update_encoded(coll, id.clone(), after, Check::UnchangedSinceBase).ok()?;
            }
            Some(Err(_)) => return None,
            None => {
                let before = Document::try_from(stored).ok()?;
                let after = update.apply(&before, filter.as_ref(), now).ok()?;
                if argon_query::identical_documents(&after, &before) {
                    break (1, None);
                }
                req.ops.push(WriteOp::Update {
                    coll: coll.to_string(),
                    id: id.clone(),
                    doc: after,
                    replace: update.is_replacement(),
                    check: Check::UnchangedSinceBase,
                });
            }
        }
        drop(snap);
        match state.write(req).await {
            Ok(outcome) => break (1, Some(outcome)),
            Err(StoreError::WriteConflict(_)) if attempt < crate::commands::crud_update::CONFLICT_RETRIES => {
                tokio::task::yield_now().await;
            }
            Err(_) => return None,
        }
    };

    state.metrics.ops_command.fetch_add(1, Ordering::Relaxed);
    state.metrics.ops_update.fetch_add(1, Ordering::Relaxed);
    let modified = i32::from(outcome.is_some());
    let mut reply = reply_buf();
    reply.append(bson::raw::cstr!("n"), matched);
    reply.append(bson::raw::cstr!("nModified"), modified);
    reply.append(bson::raw::cstr!("ok"), 1.0);
    state.append_time_fields_raw(&mut reply, outcome.and_then(|o| o.lsn.map(|l| (l, o.time))));
    if let Some((key, n)) = retry {
        store_reply(state, &key, n, &reply);
    }
    state.ops.usage.record(&target.db, coll, "update", false, started.elapsed());
    Some(reply)
}

/// What the write lanes share: a plain body (`<command>: <collection>`,
/// `$db`, `ordered`, `lsid`, `txnNumber` and the fields drivers add,
/// nothing else), documents in the sequence `sequence`, a writable
/// collection without a validator on a branch head, and authentication
/// off.
struct PlainWrite<'m> {
    coll: &'m str,
    ordered: bool,
    docs: &'m [&'m RawDocument],
    target: crate::state::Target,
    /// (session key, txnNumber) of a retryable write.
    retry: Option<(Vec<u8>, i64)>,
    /// The stored reply when this is a retry of a write already done.
    retried: Option<Document>,
}

impl<'m> PlainWrite<'m> {
    fn read(
        state: &ServerState,
        msg: &'m PlainOpMsg<'m>,
        command: &str,
        sequence: &str,
    ) -> Option<PlainWrite<'m>> {
        if state.auth.is_some() || state.profiler.any() {
            return None;
        }
        let docs = match &msg.sequence {
            Some((id, docs)) if *id == sequence => docs.as_slice(),
            _ => return None,
        };
        let (mut coll, mut db, mut ordered, mut lsid, mut txn_number) = (None, None, true, None, None);
        for (i, element) in msg.body.iter().enumerate() {
            let (key, value) = element.ok()?;
            match (key.as_str(), value) {
                (k, RawBsonRef::String(c)) if i == 0 && k == command => coll = Some(c),
                ("$db", RawBsonRef::String(d)) => db = Some(d),
                ("ordered", RawBsonRef::Boolean(b)) => ordered = b,
                ("lsid", RawBsonRef::Document(l)) => lsid = Some(l),
                ("txnNumber", RawBsonRef::Int64(n)) => txn_number = Some(n),
                ("$clusterTime" | "$readPreference", _) => {}
                _ => return None,
            }
        }
        let (coll, db) = (coll?, db?);
        crud_insert::check_writable_collection(coll).ok()?;
        let target = state.target(db).ok()?;
        if target.view_lsn.is_some() {
            return None;
        }
        // A collection with a validator, a time field or a geo index (the
        // full path checks documents), a default collation (an update by
        // `_id` may match other strings), or a view (which takes no writes:
        // the full path says so).
        if let Ok(catalog) = state.store.head_catalog(&target.project, &target.branch) {
            if catalog.get(coll).is_some_and(|c| {
                crate::validation::checks_writes(&c.options)
                    || c.options.contains_key("collation")
                    || crate::views::is_view(&c.options)
                    || !crate::geo_keys::GeoKeys::of(Some(c)).is_empty()
            }) {
                return None;
            }
        }
        let retry = match (lsid, txn_number) {
            (Some(l), Some(n)) => Some((crate::session::session_key(&Document::try_from(l).ok()?), n)),
            _ => None,
        };
        let retried = retry.as_ref().and_then(|(key, n)| state.sessions.retried_reply(key, *n));
        Some(PlainWrite { coll, ordered, docs, target, retry, retried })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::RawArrayBuf;

    #[test]
    fn the_find_reply_is_the_one_rawdoc_builds() {
        let stored = rawdoc! { "_id": 7i64, "name": "x", "tags": ["a", "b"] };
        for found in [Some(stored.as_bytes()), None] {
            for (db, coll) in [("app", "users"), ("app~feature", "a.b"), ("d", "")] {
                let mut batch = RawArrayBuf::new();
                if let Some(bytes) = found {
                    batch.push(RawDocument::from_bytes(bytes).unwrap());
                }
                let want = rawdoc! {
                    "cursor": { "firstBatch": batch, "id": 0i64, "ns": format!("{db}.{coll}") },
                    "ok": 1.0,
                };
                let got = find_reply(found, db, coll).unwrap();
                assert_eq!(got.as_bytes(), want.as_bytes(), "{db}.{coll} found={}", found.is_some());
            }
        }
        // The write replies: the same bytes as `rawdoc!` builds, whatever
        // their room.
        let mut reply = reply_buf();
        reply.append(bson::raw::cstr!("n"), 1);
        reply.append(bson::raw::cstr!("nModified"), 0);
        reply.append(bson::raw::cstr!("ok"), 1.0);
        assert_eq!(reply.as_bytes(), rawdoc! { "n": 1, "nModified": 0, "ok": 1.0 }.as_bytes());
        assert_eq!(reply_buf().as_bytes(), rawdoc! {}.as_bytes());
        // Bytes that are not a document are refused, not copied into a reply.
        assert!(find_reply(Some(&[5, 0, 0, 0, 1]), "d", "c").is_none());
    }
}
