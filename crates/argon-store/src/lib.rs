//! Argon's versioned store: projects, branches as pointers into the WAL,
//! and reads of any branch at any LSN or time without replaying history.
//!
//! ```text
//!  write ─▶ commit thread ─▶ WAL (source of truth, fsync per group)
//!                        └──▶ index (LMDB: every version, keyed newest-first)
//!  read  ─▶ Snapshot(branch, LSN) ─▶ one seek per timeline of the branch's chain
//! ```
//!
//! See docs/ARCHITECTURE.md at the repository root for the full picture.

mod ack;
mod capped;
mod check;
mod commit;
mod entry;
mod error;
mod index;
mod keys;
mod lock;
mod materialize;
mod meta;
mod resident;
mod secondary;
mod session_marker;
mod snapshot;
mod store;
mod write;

pub use argon_types::{CommitTime, Lsn, TimelineId};
pub use argon_wal::SyncMode;
pub use capped::{cap_of, Cap};
pub use check::{CollectionCheck, IndexCheck};
pub use entry::{Commit, DocOpKind, Entry, Op};
pub use error::{Result, StoreError};
pub use lock::DirLock;
pub use meta::{Catalog, Chain, CollectionMeta, IndexMeta};
pub use secondary::{values_at, IndexDef};
pub use snapshot::{decode_doc, ReadView, Scan, Snapshot};
pub use store::{
    At, BranchInfo, BranchStorage, BranchWal, LogReader, NewestFirst, ProjectInfo, RestorePreview, Store,
    StoreOptions, StoreStats, WalStorage,
};
pub use write::{Check, CommitOutcome, OpEffect, ReadBase, WriteMode, WriteOp, WriteRequest};
