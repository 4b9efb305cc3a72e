//! Errors of the versioned store. Callers branch on these (the wire server
//! maps them to MongoDB error codes), so each distinct situation is its own
//! variant.

use std::path::PathBuf;

use argon_types::names::InvalidName;
use argon_types::Lsn;
use bson::Document;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("data dir {} is in use by another process (pid {pid}); stop it, or talk to the running server with --uri", dir.display())]
    Locked { dir: PathBuf, pid: String },

    #[error("project {0:?} does not exist")]
    ProjectNotFound(String),

    #[error("project {0:?} already exists")]
    ProjectExists(String),

    #[error("branch {branch:?} does not exist in project {project:?}; create it with `argon branch create {branch} -p {project}` or the createBranch command")]
    BranchNotFound { project: String, branch: String },

    #[error("branch {branch:?} already exists in project {project:?}")]
    BranchExists { project: String, branch: String },

    #[error("cannot delete branch {branch:?} of project {project:?}: {reason}")]
    BranchDeleteRefused { project: String, branch: String, reason: String },

    #[error("cannot {action} protected branch {branch:?} of project {project:?}; unprotect it first")]
    BranchProtected { project: String, branch: String, action: &'static str },

    #[error("ns does not exist: {0}")]
    NamespaceNotFound(String),

    #[error("collection already exists. NS: {0}")]
    NamespaceExists(String),

    /// A document or index write to a view (a collection whose options
    /// name `viewOn`): views hold no data of their own.
    #[error("Namespace {0} is a view, not a collection")]
    NotACollection(String),

    #[error("E11000 duplicate key error collection: {ns} index: {index} dup key: {key_value}")]
    /// (The documents are boxed to keep every `Result<_, StoreError>` small.)
    DuplicateKey { ns: String, index: String, key_pattern: Box<Document>, key_value: Box<Document> },

    #[error("WriteConflict: {0}")]
    WriteConflict(String),

    #[error("LSN {requested} is beyond the head (the newest LSN is {head})")]
    LsnBeyondHead { requested: Lsn, head: Lsn },

    #[error("LSN {requested} is below the history kept for {what} (oldest readable LSN is {oldest})")]
    LsnBelowHistory { requested: Lsn, oldest: Lsn, what: String },

    #[error(transparent)]
    InvalidName(#[from] InvalidName),

    #[error("{0}")]
    InvalidArgument(String),

    #[error("document too large: size in bytes: {size}, max size: {max}", max = crate::write::MAX_DOCUMENT_BYTES)]
    DocumentTooLarge { size: usize },

    #[error("write-ahead log: {0}")]
    Wal(#[from] argon_wal::WalError),

    #[error("index: {0}")]
    Index(#[from] heed::Error),

    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),

    #[error("corrupt data: {0}")]
    Corrupt(String),

    #[error("the store is shut down or its commit thread failed; reopen the data dir")]
    Closed,
}

/// Shorthand for store results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    #[test]
    fn errors_stay_small_enough_to_return_cheaply() {
        // Every store call returns `Result<_, StoreError>`: a large error
        // makes every return move that much.
        assert!(
            std::mem::size_of::<super::StoreError>() <= 80,
            "{}",
            std::mem::size_of::<super::StoreError>()
        );
    }
}
