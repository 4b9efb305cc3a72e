//! One interface, two ways to reach a data dir, so each command is written
//! once:
//!
//! ```text
//!  command ─▶ dyn Backend ─┬─▶ Local:  argon_store::Store on a stopped data dir (--data-dir)
//!                          └─▶ Remote: mongodb::Client → a running `argon serve` (--uri),
//!                                      admin commands on `admin`, data commands on
//!                                      `project~branch@lsn`
//! ```
//!
//! Both return the structs of [`crate::model`], so output does not depend
//! on the mode.

use std::path::PathBuf;

use argon_types::{CommitTime, Lsn};
use bson::{Bson, Document};

use crate::error::{CliError, Result};
use crate::model::{Branch, Health, LogLine, Metrics, Preview, Project, Status, Storage, TimeTravelInfo};
use crate::time_arg::Point;

/// A read of one collection.
#[derive(Clone, Debug, Default)]
pub struct Query {
    pub filter: Option<Document>,
    pub sort: Option<Document>,
    pub limit: Option<u64>,
}

/// Which entries `log` shows.
#[derive(Clone, Debug, Default)]
pub struct LogFilter {
    pub collection: Option<String>,
    pub id: Option<Bson>,
    pub from_lsn: Option<Lsn>,
    pub to_lsn: Option<Lsn>,
    pub actor: Option<String>,
    /// Keep only the newest N.
    pub limit: Option<usize>,
}

/// Why an insert stopped: at which document of the batch, if one was refused.
#[derive(Debug)]
pub struct InsertError {
    pub index: Option<usize>,
    pub error: CliError,
}

impl From<CliError> for InsertError {
    fn from(error: CliError) -> InsertError {
        InsertError { index: None, error }
    }
}

/// Everything the commands need from a data dir.
pub trait Backend {
    fn create_project(&self, name: &str) -> Result<Lsn>;
    fn drop_project(&self, name: &str) -> Result<Lsn>;
    fn projects(&self) -> Result<Vec<Project>>;

    fn create_branch(&self, project: &str, name: &str, from: &str, at: Point) -> Result<Branch>;
    fn branches(&self, project: &str) -> Result<Vec<Branch>>;
    fn branch(&self, project: &str, name: &str) -> Result<Branch>;
    fn delete_branch(&self, project: &str, name: &str) -> Result<Lsn>;
    fn protect_branch(&self, project: &str, name: &str, protected: bool) -> Result<Branch>;

    fn time_travel_info(&self, project: &str, branch: &str) -> Result<TimeTravelInfo>;
    /// The LSN a time stands for on a branch (the newest entry at or before it).
    fn lsn_at_time(&self, project: &str, branch: &str, time: CommitTime) -> Result<Lsn>;
    fn restore_preview(&self, project: &str, branch: &str, lsn: Lsn) -> Result<Preview>;
    fn reset_branch(&self, project: &str, branch: &str, lsn: Lsn, backup: Option<&str>) -> Result<Branch>;

    /// Reads a collection of a branch at an LSN (the head if `None`),
    /// calling `each` for every result in order. The collection must exist.
    fn read(
        &self,
        project: &str,
        branch: &str,
        lsn: Option<Lsn>,
        coll: &str,
        query: &Query,
        each: &mut dyn FnMut(Document) -> Result<()>,
    ) -> Result<()>;
    /// Inserts documents (each with an `_id`) into a branch, in order; a
    /// failure stops there (the documents before it are written).
    fn insert(&self, project: &str, branch: &str, coll: &str, docs: Vec<Document>)
        -> Result<(), InsertError>;

    /// A branch's history, newest first.
    fn log(&self, project: &str, branch: &str, filter: &LogFilter) -> Result<Vec<LogLine>>;

    fn status(&self) -> Result<Status>;
    fn metrics(&self) -> Result<Metrics>;
    fn health(&self) -> Result<Health>;
    fn storage(&self) -> Result<Storage>;
}

/// Where a command's data dir is.
#[derive(Clone, Debug)]
pub enum Target {
    DataDir(PathBuf),
    Uri(String),
}

/// Whether a local command may create a missing data dir.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Create {
    Yes,
    No,
}

impl Target {
    /// Opens the backend for this target.
    pub fn open(&self, create: Create) -> Result<Box<dyn Backend>> {
        match self {
            Target::DataDir(dir) => Ok(Box::new(crate::local::Local::open(dir, create)?)),
            Target::Uri(uri) => Ok(Box::new(crate::remote::Remote::connect(uri)?)),
        }
    }
}

/// Turns a point into the LSN it stands for on a branch, and checks that
/// the branch's history reaches it: a branch reads its ancestors below its
/// fork point, down to the entry that created the project; older LSNs are
/// not part of its history. (LSNs beyond the head are refused by the store
/// itself, in both modes.) `None` for the head.
pub fn resolve_point(b: &dyn Backend, project: &str, branch: &str, at: Point) -> Result<Option<Lsn>> {
    if at == Point::Head {
        // Still check that the branch exists.
        b.branch(project, branch)?;
        return Ok(None);
    }
    let info = b.time_travel_info(project, branch)?;
    let lsn = match at {
        Point::Head => unreachable!("handled above"),
        Point::Lsn(l) => l,
        Point::Time(t) => {
            let l = b.lsn_at_time(project, branch, t)?;
            if l.0 < info.first_lsn {
                return Err(CliError::new(format!(
                    "time {} is before the history of branch {branch:?} of project {project:?}, \
                     which starts at LSN {} ({})",
                    t.to_rfc3339(),
                    info.first_lsn,
                    info.first_time
                )));
            }
            l
        }
    };
    if lsn.0 < info.first_lsn {
        return Err(CliError::new(format!(
            "LSN {lsn} is below the history kept for branch {branch:?} of project {project:?} \
             (oldest readable LSN is {}, at {})",
            info.first_lsn, info.first_time
        )));
    }
    Ok(Some(lsn))
}
