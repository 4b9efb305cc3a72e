//! Argon's shared vocabulary, used by every layer above it.
//!
//! - [`Lsn`]: the log sequence number that orders every WAL entry of a data dir.
//! - [`TimelineId`]: the internal identity of a branch's line of history.
//! - [`CommitTime`]: the wall-clock commit timestamp carried by every entry.
//! - [`keycodec`]: an order-preserving byte encoding of BSON values, so that
//!   an ordered key-value engine sorts keys exactly as MongoDB compares values.
//! - [`collation`]: MongoDB's language-aware string comparison (ICU4X), with
//!   sort keys for collated index keys.
//! - [`names`]: validation of project, branch and collection names.

pub mod collation;
pub mod keycodec;
mod lsn;
pub mod names;
mod time;

pub use lsn::{Lsn, TimelineId};
pub use time::CommitTime;
