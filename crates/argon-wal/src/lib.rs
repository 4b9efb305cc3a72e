//! Argon's write-ahead log: the source of truth of a data dir.
//!
//! A WAL is a directory of segment files holding checksummed records, each
//! with the next [`Lsn`] (dense: 1, 2, 3, ...), a [`CommitTime`] and an
//! opaque payload (the WAL knows nothing of BSON). The byte format is in
//! `FORMAT.md`.
//!
//! The store's commit thread owns the [`Wal`]: it [`append`](Wal::append)s
//! the records of many commits, then one [`commit`](Wal::commit) writes the
//! whole group with one write call and, with [`SyncMode::Always`], one
//! fdatasync; then it acknowledges the writers. Readers anywhere use
//! [`WalReader`], which reads the files directly.
//!
//! ```
//! use argon_wal::{CommitTime, Lsn, Wal, WalOptions};
//!
//! let dir = tempfile::tempdir()?;
//! let mut wal = Wal::open(dir.path(), WalOptions::default())?;
//! let a = wal.append(CommitTime(1_000), b"first")?;
//! let b = wal.append(CommitTime(1_001), b"second")?;
//! assert_eq!((a, b), (Lsn(1), Lsn(2)));
//! assert_eq!(wal.commit()?, Lsn(2)); // durable: one fdatasync for both
//!
//! let payloads: Vec<Vec<u8>> =
//!     wal.reader(Lsn(2))?.map(|r| r.map(|(_pos, rec)| rec.payload)).collect::<Result<_, _>>()?;
//! assert_eq!(payloads, [b"second".to_vec()]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Modules, one job each: `format` (bytes), `segment` (files of a dir),
//! `scan` (records of one file), `recovery` (the true end after a crash),
//! `writer` ([`Wal`]), `syncer` (durability state, interval fsync thread),
//! `reader` ([`WalReader`]), `verify`, `durable` (fsync helpers), `error`.

mod durable;
mod error;
mod format;
mod marks;
mod options;
mod reader;
mod recovery;
mod scan;
mod segment;
mod syncer;
mod verify;
mod writer;

use std::path::PathBuf;

pub use argon_types::{CommitTime, Lsn};

pub use crate::error::WalError;
pub use crate::format::{segment_file_name, MAX_PAYLOAD, RECORD_OVERHEAD};
pub use crate::options::{ParseSyncModeError, SyncMode, WalOptions};
pub use crate::reader::WalReader;
pub use crate::syncer::{Mark, MARK_EVERY};
pub use crate::verify::{verify, BadRecord, VerifyReport};
pub use crate::writer::{SyncHandle, Wal};

/// The first LSN of every segment in the WAL at `dir`, in order.
pub fn segment_starts(dir: &std::path::Path) -> Result<Vec<Lsn>, WalError> {
    Ok(segment::list(dir)?.into_iter().map(|s| s.first_lsn).collect())
}

/// One decoded record.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub lsn: Lsn,
    pub time: CommitTime,
    /// Always decompressed.
    pub payload: Vec<u8>,
}

/// Where a record lives, for dumps and error messages.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordPos {
    pub segment: PathBuf,
    /// Offset of the record's first byte (its length field) in the segment.
    pub offset: u64,
    /// Bytes of the payload as stored (compressed size if `compressed`);
    /// the record takes `25 + stored_len` bytes on disk.
    pub stored_len: u32,
    pub compressed: bool,
}

/// Counters of an open [`Wal`].
#[derive(Clone, Debug, Default)]
pub struct WalStats {
    /// Segment files, including the active one.
    pub segments: u64,
    /// Bytes of headers and records handed to the OS (preallocated space
    /// not counted).
    pub bytes: u64,
    /// Records appended since this `Wal` was opened.
    pub records_appended: u64,
    /// fsyncs and fdatasyncs of segment files since open (including those at
    /// open and when sealing a segment).
    pub fsyncs: u64,
    pub last_lsn: Lsn,
    pub durable_lsn: Lsn,
}
