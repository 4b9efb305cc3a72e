//! The WAL's error type: the few cases a caller branches on.

use std::io;
use std::path::{Path, PathBuf};

/// Everything that can go wrong in the WAL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WalError {
    /// An I/O error. The message names the file when one is involved.
    #[error("WAL I/O error: {0}")]
    Io(#[from] io::Error),

    /// Bytes on disk that are not a valid WAL, somewhere recovery may not
    /// discard them: an earlier segment, a segment header, or a bad record
    /// followed by valid ones. Never skipped silently.
    #[error("WAL corrupt in {} at offset {offset}: {reason}", segment.display())]
    Corrupt { segment: PathBuf, offset: u64, reason: String },

    /// A segment written by a newer (or unknown) format version.
    #[error("WAL segment {} has format version {version}; this build reads version {}", segment.display(), crate::format::FORMAT_VERSION)]
    UnsupportedVersion { segment: PathBuf, version: u32 },

    /// A previous write or fsync failed. After a failed fsync the kernel may
    /// have dropped the dirty pages and cleared the error, so retrying could
    /// "succeed" without the data being on disk: the WAL refuses all writes
    /// until it is reopened (which re-reads what actually reached the file).
    #[error("WAL is poisoned by an earlier failed write or fsync; reopen it")]
    Poisoned,

    /// A payload larger than the format allows.
    #[error("WAL record payload of {len} bytes exceeds the maximum of {max}")]
    RecordTooLarge { len: usize, max: usize },
}

impl WalError {
    pub(crate) fn corrupt(segment: &Path, offset: u64, reason: impl Into<String>) -> WalError {
        WalError::Corrupt { segment: segment.to_path_buf(), offset, reason: reason.into() }
    }
}

/// Adds the path to an I/O error's message, keeping its kind (std's errors
/// don't say which file they are about).
pub(crate) fn io_at(path: &Path) -> impl FnOnce(io::Error) -> WalError + '_ {
    move |e| WalError::Io(io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}
