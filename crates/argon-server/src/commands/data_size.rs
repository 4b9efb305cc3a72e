//! `dataSize`: the bytes and number of a collection's documents, or of
//! those whose key in an index lies in `[min, max)` (`keyPattern`), at the
//! head of the branch its namespace names. Every document is read (as in
//! MongoDB, the time grows with the collection); with `estimate` the
//! answer is still exact.

use std::time::Instant;

use bson::{doc, Bson, Document};

use super::{Call, Ctx};
use crate::args::Args;
use crate::error::{CmdResult, CommandError};

pub fn run(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let started = Instant::now();
    let a = Args::new(&call.cmd, "dataSize");
    let ns = a.req_str("dataSize")?;
    let (db, coll) = ns.split_once('.').filter(|(d, c)| !d.is_empty() && !c.is_empty()).ok_or_else(|| {
        CommandError::bad_value(format!("dataSize needs a namespace (db.collection), not {ns:?}"))
    })?;
    a.bool("estimate")?;
    let (pattern, min, max) = (a.doc("keyPattern")?, a.doc("min")?, a.doc("max")?);
    let target = ctx.state.target(db)?;
    let snap = match ctx.state.store.snapshot(&target.project, &target.branch, target.at()) {
        Ok(s) => s,
        // Nothing written there: nothing to measure.
        Err(argon_store::StoreError::ProjectNotFound(_)) => return Ok(answer(0, 0, started)),
        Err(e) => return Err(e.into()),
    };
    let range = match pattern {
        None if min.is_some() || max.is_some() => {
            return Err(CommandError::bad_value("dataSize: min and max need a keyPattern"))
        }
        None => None,
        Some(pattern) => {
            if crate::planner::hinted_key_pattern(snap.collection(coll), &Bson::Document(pattern.clone()))?
                .is_none()
            {
                return Err(CommandError::bad_value(format!(
                    "couldn't find valid index containing key pattern {pattern}"
                )));
            }
            let filter = super::find::key_range_filter(pattern, min, max)?;
            Some(argon_query::Filter::parse(&filter)?)
        }
    };
    if snap.collection(coll).is_none() {
        return Ok(answer(0, 0, started));
    }
    let (count, bytes) = crate::ops::long_running(|| {
        let (mut count, mut bytes) = (0i64, 0i64);
        let mut scan = snap.scan(coll)?;
        while let Some((_, doc)) = scan.next_raw()? {
            crate::ops::check_interrupted()?;
            if let Some(f) = &range {
                if !f.try_matches(&argon_store::decode_doc(doc)?)? {
                    continue;
                }
            }
            count += 1;
            bytes += doc.len() as i64;
        }
        Ok((count, bytes))
    })?;
    Ok(answer(bytes, count, started))
}

fn answer(size: i64, count: i64, started: Instant) -> Document {
    doc! { "size": size, "numObjects": count, "millis": started.elapsed().as_millis() as i64 }
}
