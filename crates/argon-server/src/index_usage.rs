//! How often each index was used by a query since the server started:
//! what `$indexStats` reports as `accesses` (Compass's Indexes tab, and
//! the usual way to find indexes nothing uses).
//!
//! Counted per branch, as MongoDB counts per node: a branch is a database
//! of its own to its users. In memory only, like MongoDB's (which resets
//! on restart). One counter per (opened store, project, branch, collection
//! id, index id), found by a hash of those so that counting allocates
//! nothing: the `_id` lookups of the find fast lane count too.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

use argon_store::Snapshot;
use parking_lot::RwLock;

/// Every counter of this process (tests run several servers in one, so
/// the opened store is part of the key).
static COUNTERS: LazyLock<RwLock<HashMap<u64, Arc<AtomicU64>>>> = LazyLock::new(Default::default);

/// Stands for the `_id` index, which has no catalog entry (index ids of
/// the catalog start at 1).
pub const ID_INDEX: u64 = 0;

fn key(snap: &Snapshot, coll_id: u64, index_id: u64) -> u64 {
    let view = snap.view();
    let mut h = DefaultHasher::new();
    snap.store_instance().hash(&mut h);
    view.project.hash(&mut h);
    view.branch.hash(&mut h);
    coll_id.hash(&mut h);
    index_id.hash(&mut h);
    h.finish()
}

/// Counts one use of index `index_id` ([`ID_INDEX`] for `_id`) of `coll`.
pub fn record(snap: &Snapshot, coll: &str, index_id: u64) {
    let Some(c) = snap.collection(coll) else { return };
    let k = key(snap, c.id, index_id);
    if let Some(counter) = COUNTERS.read().get(&k) {
        counter.fetch_add(1, Ordering::Relaxed);
        return;
    }
    COUNTERS.write().entry(k).or_default().fetch_add(1, Ordering::Relaxed);
}

/// Counts one use of the index named `name` of `coll`.
pub fn record_named(snap: &Snapshot, coll: &str, name: &str) {
    let id = match name {
        "_id_" => Some(ID_INDEX),
        _ => snap.collection(coll).and_then(|c| c.indexes.iter().find(|i| i.name() == name)).map(|i| i.id),
    };
    if let Some(id) = id {
        record(snap, coll, id);
    }
}

/// Uses of index `index_id` of `coll` since the server started.
pub fn accesses(snap: &Snapshot, coll: &str, index_id: u64) -> u64 {
    let Some(c) = snap.collection(coll) else { return 0 };
    COUNTERS.read().get(&key(snap, c.id, index_id)).map_or(0, |n| n.load(Ordering::Relaxed))
}
