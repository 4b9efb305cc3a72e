//! What commands report, as plain structs with the field names of `-o json`.
//!
//! Both backends fill the same structs, so the JSON of a command is the same
//! whether it ran against a data dir or a server. These names are a stable,
//! documented interface (crates/argon-cli/README.md): add fields, never
//! rename them.

use std::collections::BTreeMap;

use argon_types::CommitTime;
use serde::Serialize;

/// A branch (`branch list`, `branch info`, and every command that changes one).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Branch {
    pub name: String,
    pub project: String,
    /// The branch it was created from (`null` for `main`).
    pub parent: Option<String>,
    /// Where its history forks from the parent's (0 for `main`).
    pub base_lsn: u64,
    /// Its newest entry.
    pub head_lsn: u64,
    /// The entry that created it.
    pub created_lsn: u64,
    pub created_at: String,
    pub head_time: String,
    pub expires_at: Option<String>,
    pub protected: bool,
    /// Commits written on the branch's current timeline.
    pub commits: u64,
    /// The MongoDB database name that addresses it.
    pub database: String,
}

/// A project (`project list`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Project {
    pub name: String,
    pub created_lsn: u64,
    pub created_at: String,
    pub branches: u64,
}

/// `time-travel info`: how far back a branch can be read.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimeTravelInfo {
    pub project: String,
    pub branch: String,
    pub base_lsn: u64,
    pub head_lsn: u64,
    /// The oldest readable point: the entry that created the project.
    pub first_lsn: u64,
    pub first_time: String,
    /// The branch's newest entry.
    pub last_lsn: u64,
    pub last_time: String,
    /// Commit entries on the branch's current timeline.
    pub entries: u64,
}

/// `restore preview`: what a reset would discard.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Preview {
    pub project: String,
    pub branch: String,
    pub target_lsn: u64,
    pub head_lsn: u64,
    /// Commit entries after the target on the branch's history.
    pub entries: u64,
    /// Per collection: distinct documents changed after the target.
    pub collections: BTreeMap<String, u64>,
    pub catalog_changes: Vec<String>,
}

/// `status`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Status {
    /// `"data-dir"` or `"uri"`.
    pub mode: String,
    /// This CLI's version.
    pub version: String,
    /// The server's version (`null` with --data-dir).
    pub server_version: Option<String>,
    /// Seconds the server has run (`null` with --data-dir: nothing runs).
    pub uptime_secs: Option<f64>,
    pub data_dir: String,
    pub projects: u64,
    pub branches: u64,
    pub timelines: u64,
    pub wal_bytes: u64,
    pub index_bytes: u64,
    pub head_lsn: u64,
    pub head_time: Option<String>,
}

/// `metrics`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Metrics {
    pub mode: String,
    pub head_lsn: u64,
    /// Commits and group commits since the server (or this process) opened the data dir.
    pub commits: u64,
    pub group_commits: u64,
    pub wal_bytes: u64,
    pub index_bytes: u64,
    pub connections_current: Option<i64>,
    pub connections_total: Option<i64>,
    pub open_cursors: Option<i64>,
    /// Operation counters (insert, query, update, delete, getmore, command).
    pub opcounters: BTreeMap<String, i64>,
    /// Command latency percentiles (`null` with --data-dir).
    pub latency: Option<Latency>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Latency {
    pub count: i64,
    pub p50_micros: i64,
    pub p99_micros: i64,
}

/// `health`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Health {
    /// False when any check failed.
    pub healthy: bool,
    pub checks: Vec<Check>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Check {
    pub name: String,
    /// `ok`, `warn`, `fail` or `unknown` (the check could not run in this mode).
    pub status: String,
    pub value: Option<f64>,
    pub detail: String,
}

impl Check {
    pub fn new(name: &str, status: &str, value: Option<f64>, detail: impl Into<String>) -> Check {
        Check { name: name.into(), status: status.into(), value, detail: detail.into() }
    }
}

/// `storage`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Storage {
    pub wal_bytes: u64,
    pub index_bytes: u64,
    pub projects: Vec<ProjectStorage>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProjectStorage {
    pub name: String,
    /// Bytes of documents written on the project's branches themselves
    /// (`null` over --uri: the server does not report it yet).
    pub own_bytes: Option<u64>,
    /// What full copies of every branch would have taken.
    pub copy_bytes: u64,
    /// Bytes of the WAL records naming the project (any branch, deleted
    /// ones included).
    pub wal_bytes: u64,
    pub branches: Vec<BranchStorage>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BranchStorage {
    pub name: String,
    pub parent: Option<String>,
    pub documents: u64,
    /// Bytes of visible documents written on this branch's own timeline.
    pub own_bytes: Option<u64>,
    /// Bytes of visible documents it shares with its ancestors.
    pub shared_bytes: Option<u64>,
    /// What copying the branch would have cost: all its visible documents.
    pub copy_bytes: u64,
    /// WAL bytes of its history written on its own timelines.
    pub wal_own_bytes: u64,
    /// WAL bytes of its history it shares with its ancestors (up to its
    /// fork points).
    pub wal_inherited_bytes: u64,
}

/// One entry of `log`, printed as one JSON line by `-o json`
/// (see [`LogLine::to_document`] for the field order).
#[derive(Clone, Debug, PartialEq)]
pub struct LogLine {
    pub lsn: u64,
    pub time: String,
    pub actor: String,
    /// `create_project`, `create_branch`, `commit`, ...
    pub kind: String,
    pub project: String,
    pub branch: Option<String>,
    pub summary: String,
    /// The entry itself (its ops filtered by -c/--id).
    pub entry: bson::Document,
}

impl LogLine {
    /// The line as an ordered document, for relaxed Extended JSON output.
    pub fn to_document(&self) -> bson::Document {
        bson::doc! {
            "lsn": self.lsn as i64,
            "time": &self.time,
            "actor": &self.actor,
            "kind": &self.kind,
            "project": &self.project,
            "branch": self.branch.clone().map(bson::Bson::String).unwrap_or(bson::Bson::Null),
            "summary": &self.summary,
            "entry": self.entry.clone(),
        }
    }
}

/// RFC 3339 text of a commit time.
pub fn rfc3339(t: CommitTime) -> String {
    t.to_rfc3339()
}
