//! A fast lane for the hottest request: `find` of one document by `_id`
//! (what `find_one({_id: ...})` sends), answered from the raw request
//! bytes and the stored document bytes, with no `Document` built.
//!
//! Profiles of the full path showed a point read spending most of its
//! server-side CPU outside the store: decoding the command into a
//! `Document` (13% of the connection threads' time), decoding the stored
//! document, building and encoding the reply, and freeing all of it. The
//! result here is byte for byte what the full path returns.
//!
//! Only the plain shape qualifies: an uncompressed OP_MSG with just a body;
//! `filter: {_id: <string, ObjectId, int or long>}`; optional `limit`,
//! `singleBatch`, `batchSize` ≥ 1 and the fields drivers always add
//! (`lsid`, `$clusterTime`, `$readPreference`, `$db`); a branch head (no
//! `@lsn` view); no transaction, read concern, projection, sort or hint;
//! authentication off. Anything else, or anything unexpected (an unknown
//! project, a malformed element), returns `None` and takes the full path,
//! which also produces every error reply.

use std::sync::atomic::Ordering;

use argon_store::At;
use bson::raw::{RawBsonRef, RawDocument};
use bson::{rawdoc, Bson, RawArrayBuf, RawDocumentBuf};

use crate::state::ServerState;

/// The reply body for a qualifying `find`, or `None` for the full path.
pub fn find_by_id(state: &ServerState, body: &RawDocument) -> Option<RawDocumentBuf> {
    if state.auth.is_some() {
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
    let found = snap.get_raw(coll, &id).ok()?;

    state.metrics.ops_command.fetch_add(1, Ordering::Relaxed);
    state.metrics.ops_query.fetch_add(1, Ordering::Relaxed);
    let mut batch = RawArrayBuf::new();
    if let Some(bytes) = found {
        batch.push(RawDocument::from_bytes(bytes).ok()?);
    }
    let ns = format!("{db}.{coll}");
    let mut reply = rawdoc! {
        "cursor": { "firstBatch": batch, "id": 0i64, "ns": ns },
        "ok": 1.0,
    };
    state.append_time_fields_raw(&mut reply);
    Some(reply)
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
