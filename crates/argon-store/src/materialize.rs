//! Materialization: keeping reads independent of how long history is.
//!
//! All versions of a document sit side by side in the index, newest first.
//! A scan at an old LSN steps over every version newer than its read point,
//! so after many updates it would read many versions per document it
//! returns. (Neon solves the same problem with image layers.)
//!
//! So once a branch's timeline holds at least as many superseded versions
//! as documents (and at least [`crate::StoreOptions::materialize_after`]),
//! the next commit on the branch moves it onto a **new timeline** that
//! continues the old one at the LSN before that commit (`Commit::continues`
//! in the WAL, so replay makes the same move). The index then copies the
//! branch's visible state at that LSN into the new timeline, a bounded
//! number of versions per group commit and more while the store is idle.
//! Copies keep their original LSN and bytes, so a read returns exactly
//! what it would have without them; tombstones are not copied.
//!
//! Until the copy is complete, reads consult the new timeline and its
//! ancestors (the chain, as for any branch). Once it is, reads at or after
//! the continuation LSN stop at the new timeline ([`Meta::read_chain`]):
//! a scan there sees at most one copy plus the versions written since per
//! document, and a branch forked long ago no longer reads through its
//! parents. The cost: each materialization writes one copy per visible
//! document, at most one per superseded version written before it.

use std::ops::Bound;
use std::sync::Arc;

use argon_types::{CommitTime, Lsn, TimelineId};
use heed::RwTxn;

use crate::entry::Commit;
use crate::error::{Result, StoreError};
use crate::index::Index;
use crate::keys::{self, DocKey};
use crate::meta::{CopyTable, MaterializeTask, Meta};
use crate::snapshot::scan_chain;

/// Whether the next commit on `timeline` should move its branch to a new
/// timeline: enough superseded versions, and no copy under way.
pub(crate) fn due(meta: &Meta, timeline: TimelineId, threshold: u64) -> bool {
    meta.timelines
        .get(&timeline)
        .is_some_and(|t| t.materialize.is_none() && t.superseded >= threshold && t.superseded >= t.live)
}

/// Applies the start of a materialization (from [`Index::apply`]): creates
/// the timeline `c.timeline` continuing `old` at `at`, points the branch at
/// it, and queues the copy.
#[allow(clippy::too_many_arguments)]
pub(crate) fn begin(
    index: &Index,
    w: &mut RwTxn,
    meta: &mut Meta,
    c: &Commit,
    old: TimelineId,
    at: Lsn,
    lsn: Lsn,
    time: CommitTime,
) -> Result<()> {
    let prev = meta
        .timelines
        .get(&old)
        .cloned()
        .ok_or_else(|| StoreError::Corrupt(format!("WAL entry continues unknown timeline {old}")))?;
    let catalog = meta.catalog(&meta.read_chain(old, at));
    let mut todo = Vec::new();
    for cm in catalog.collections.values() {
        todo.push((CopyTable::Docs, cm.id));
        todo.extend(cm.indexes.iter().map(|ix| (CopyTable::Indexes, ix.id)));
        // A capped collection's insertion order (kept under its own id).
        if crate::capped::cap_of(&cm.options).is_some() {
            todo.push((CopyTable::Indexes, cm.id));
        }
    }
    // Copies keep their LSNs, so the new timeline's reads must treat an
    // index as multikey from where the old chain did.
    let source = meta.read_chain(old, at);
    index.new_timeline(w, meta, c.timeline, &c.project, Some((old, at)), lsn, time)?;
    index.put_catalog(w, c.timeline, at, &catalog)?;
    index.copy_multikey(
        w,
        &source,
        c.timeline,
        todo.iter().filter(|(table, _)| *table == CopyTable::Indexes).map(|&(_, id)| id),
    )?;
    let t =
        meta.timelines.get_mut(&c.timeline).ok_or_else(|| StoreError::Corrupt("timeline vanished".into()))?;
    let t = Arc::make_mut(t);
    t.continues = true;
    t.live = prev.live;
    t.commits = prev.commits;
    t.catalogs.insert(at, catalog);
    if todo.is_empty() {
        t.materialized_at = Some(at);
    } else {
        t.materialize = Some(MaterializeTask { at, todo, after: None });
        meta.materializing.insert(c.timeline);
    }
    meta.note_continuation(c.timeline);
    meta.dirty_timelines.insert(c.timeline);
    index.update_project(w, meta, &c.project, &c.branch, |p| {
        if let Some(b) = p.branches.get_mut(&c.branch) {
            b.timeline = c.timeline;
        }
    })
}

/// Copies up to `budget` versions of the oldest materializations under way
/// into `w`. Returns how many it copied.
pub(crate) fn step(index: &Index, w: &mut RwTxn, meta: &mut Meta, budget: usize) -> Result<usize> {
    let mut copied = 0;
    while copied < budget {
        let Some(&tl) = meta.materializing.iter().next() else { break };
        let Some(t) = meta.timelines.get(&tl).cloned() else {
            meta.materializing.remove(&tl);
            continue;
        };
        let (Some(task), Some((ancestor, _))) = (t.materialize.clone(), t.ancestor) else {
            meta.materializing.remove(&tl);
            continue;
        };
        let mut task = task;
        let Some(&(table, id)) = task.todo.first() else {
            let t = Arc::make_mut(meta.timelines.get_mut(&tl).expect("present"));
            t.materialize = None;
            t.materialized_at = Some(task.at);
            meta.materializing.remove(&tl);
            meta.dirty_timelines.insert(tl);
            continue;
        };
        let source = meta.read_chain(ancestor, task.at);
        // Versions read from timelines of the same branch (this timeline's
        // run of continuations) stay "own"; the others are inherited.
        let root = t.run_root.unwrap_or(tl);
        let own: Vec<bool> = source
            .0
            .iter()
            .map(|&(x, _)| x == root || meta.timelines.get(&x).is_some_and(|m| m.run_root == Some(root)))
            .collect();
        let db = match table {
            CopyTable::Docs => index.docs,
            CopyTable::Indexes => index.idx,
        };
        let room = budget - copied;
        let mut copies: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(room.min(4096));
        let mut finished = false;
        {
            let lower = match &task.after {
                Some(a) => Bound::Excluded(a.bytes.as_slice()),
                None => Bound::Unbounded,
            };
            let mut scan = scan_chain(&db, w, &source, id, lower, None)?;
            while copies.len() < room {
                let Some((v, level)) = scan.next_version()? else {
                    finished = true;
                    break;
                };
                let key = DocKey::from_parts(tl, id, v.sub).into_version(v.lsn);
                let inherited = table == CopyTable::Docs && !own[level];
                let value = match v.value.split_first() {
                    Some((&keys::value::LIVE, rest)) if inherited => {
                        [&[keys::value::INHERITED][..], rest].concat()
                    }
                    _ => v.value.to_vec(),
                };
                copies.push((key.as_bytes().to_vec(), value));
                task.after =
                    Some(bson::Binary { subtype: bson::spec::BinarySubtype::Generic, bytes: v.sub.to_vec() });
            }
        }
        for (k, v) in &copies {
            db.put(w, k, v)?;
        }
        copied += copies.len();
        if finished {
            task.todo.remove(0);
            task.after = None;
        }
        let t = Arc::make_mut(meta.timelines.get_mut(&tl).expect("present"));
        t.materialize = Some(task);
        meta.dirty_timelines.insert(tl);
        if copies.is_empty() && !finished {
            break; // no room left
        }
    }
    Ok(copied)
}
