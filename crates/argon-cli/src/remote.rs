//! The `--uri` backend: talks to a running `argon serve` with the official
//! MongoDB driver.
//!
//! Branch and project management are the server's admin commands (run on
//! `admin`); data is read and written with ordinary commands on the
//! branch's database, `project~branch@lsn` for a read at an LSN.
//!
//! A `--time` is turned into an LSN by the server: `restorePreview` with
//! `time` reports the `target_lsn` the time stands for (the same
//! `Store::resolve` the --data-dir mode uses, to the millisecond, which is
//! BSON's date precision). Everything after that works at that LSN, so a
//! query at a time reads exactly what a query at the LSN reads. (The
//! alternative, `readConcern.atClusterTime = Timestamp(secs, 0)`, only
//! has whole-second precision.)

use std::collections::BTreeMap;
use std::time::Duration;

use argon_types::names::DbAddress;
use argon_types::{CommitTime, Lsn};
use bson::{doc, Bson, Document};
use mongodb::error::ErrorKind;
use mongodb::options::ClientOptions;
use mongodb::Client;

use crate::backend::{Backend, InsertError, LogFilter, Query};
use crate::error::{CliError, Result};
use crate::model::{
    Branch, BranchStorage, Check, Health, Latency, LogLine, Metrics, Preview, Project, ProjectStorage,
    Status, Storage, TimeTravelInfo,
};
use crate::time_arg::Point;

/// How long to look for the server before giving up (unless the URI says
/// `serverSelectionTimeoutMS`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Remote {
    /// Dropped inside the runtime (see `Drop`).
    client: Option<Client>,
    rt: tokio::runtime::Runtime,
    uri: String,
}

impl Drop for Remote {
    fn drop(&mut self) {
        let _guard = self.rt.enter();
        self.client.take();
    }
}

impl Remote {
    pub fn connect(uri: &str) -> Result<Remote> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let client = rt.block_on(async {
            let mut opts = ClientOptions::parse(uri)
                .await
                .map_err(|e| CliError::new(format!("bad --uri {uri:?}: {}", message(&e))))?;
            // An admin tool talks to the one server it was pointed at.
            if opts.direct_connection.is_none() && opts.hosts.len() == 1 && opts.repl_set_name.is_none() {
                opts.direct_connection = Some(true);
            }
            opts.server_selection_timeout.get_or_insert(CONNECT_TIMEOUT);
            opts.connect_timeout.get_or_insert(CONNECT_TIMEOUT);
            opts.app_name.get_or_insert_with(|| "argon-cli".into());
            Client::with_options(opts).map_err(|e| CliError::new(message(&e)))
        })?;
        let remote = Remote { client: Some(client), rt, uri: uri.to_string() };
        let bar = crate::output::spinner(&format!("connecting to {uri}"));
        let ping = remote.admin(doc! { "ping": 1 });
        bar.finish_and_clear();
        ping?;
        Ok(remote)
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("the client lives as long as Remote")
    }

    fn err(&self, e: mongodb::error::Error) -> CliError {
        match e.kind.as_ref() {
            ErrorKind::ServerSelection { .. } => {
                CliError::new(format!("cannot reach an argon server at {}: {}", self.uri, message(&e)))
            }
            _ => CliError::new(message(&e)),
        }
    }

    /// Runs an admin command.
    fn admin(&self, cmd: Document) -> Result<Document> {
        let admin = self.client().database("admin");
        self.rt.block_on(async { admin.run_command(cmd).await }).map_err(|e| self.err(e))
    }

    /// Runs an admin command that older servers may lack: a server without
    /// it gets an error that names the command and says to use --data-dir.
    pub fn command(&self, cmd: Document) -> Result<Document> {
        let name = cmd.keys().next().cloned().unwrap_or_default();
        let admin = self.client().database("admin");
        match self.rt.block_on(async { admin.run_command(cmd).await }) {
            Ok(r) => Ok(r),
            Err(e) if matches!(e.kind.as_ref(), ErrorKind::Command(c) if c.code == 59) => {
                Err(CliError::new(format!(
                    "the server at {} has no `{name}` command (it is older than this CLI); \
                     run the command on its machine with --data-dir DIR",
                    self.uri
                )))
            }
            Err(e) => Err(self.err(e)),
        }
    }

    fn server_status(&self) -> Result<Document> {
        self.admin(doc! { "serverStatus": 1 })
    }

    fn point_fields(cmd: &mut Document, at: Point) {
        match at {
            Point::Head => {}
            Point::Lsn(l) => {
                cmd.insert("lsn", l.0 as i64);
            }
            Point::Time(t) => {
                cmd.insert("time", t.to_bson_datetime());
            }
        }
    }
}

/// The message of a driver error: a server's `errmsg` as it is (the
/// store's own message, as with --data-dir), otherwise the driver's text.
fn message(e: &mongodb::error::Error) -> String {
    match e.kind.as_ref() {
        ErrorKind::Command(c) => c.message.clone(),
        ErrorKind::Write(mongodb::error::WriteFailure::WriteError(w)) => w.message.clone(),
        ErrorKind::InsertMany(m) => match m.write_errors.as_deref() {
            Some([first, ..]) => first.message.clone(),
            _ => e.to_string(),
        },
        ErrorKind::ServerSelection { message, .. } => {
            message.split(". Topology:").next().unwrap_or(message).trim().to_string()
        }
        _ => e.to_string(),
    }
}

fn int(d: &Document, k: &str) -> u64 {
    match d.get(k) {
        Some(Bson::Int64(v)) => (*v).max(0) as u64,
        Some(Bson::Int32(v)) => (*v).max(0) as u64,
        Some(Bson::Double(v)) => v.max(0.0) as u64,
        _ => 0,
    }
}

fn opt_int(d: &Document, k: &str) -> Option<i64> {
    match d.get(k) {
        Some(Bson::Int64(v)) => Some(*v),
        Some(Bson::Int32(v)) => Some(*v as i64),
        Some(Bson::Double(v)) => Some(*v as i64),
        _ => None,
    }
}

fn opt_time(d: &Document, k: &str) -> Option<String> {
    match d.get(k) {
        Some(Bson::DateTime(t)) => Some(CommitTime::from_millis(t.timestamp_millis()).to_rfc3339()),
        _ => None,
    }
}

fn time(d: &Document, k: &str) -> String {
    opt_time(d, k).unwrap_or_default()
}

fn sub<'a>(d: &'a Document, k: &str) -> Result<&'a Document> {
    d.get_document(k).map_err(|_| CliError::new(format!("the server's reply has no {k:?} document")))
}

fn branch_from(d: &Document) -> Branch {
    let s = |k: &str| d.get_str(k).unwrap_or_default().to_string();
    Branch {
        name: s("name"),
        project: s("project"),
        parent: d.get_str("parent").ok().map(str::to_string),
        base_lsn: int(d, "base_lsn"),
        head_lsn: int(d, "head_lsn"),
        created_lsn: int(d, "created_lsn"),
        created_at: time(d, "created_at"),
        head_time: time(d, "head_time"),
        expires_at: opt_time(d, "expires_at"),
        protected: d.get_bool("protected").unwrap_or(false),
        commits: int(d, "commits"),
        database: DbAddress { project: s("project"), branch: s("name"), at_lsn: None }.to_string(),
    }
}

impl Backend for Remote {
    fn create_project(&self, name: &str) -> Result<Lsn> {
        Ok(Lsn(int(&self.admin(doc! { "createProject": name })?, "lsn")))
    }

    fn drop_project(&self, name: &str) -> Result<Lsn> {
        Ok(Lsn(int(&self.admin(doc! { "dropProject": name })?, "lsn")))
    }

    fn projects(&self) -> Result<Vec<Project>> {
        let reply = self.admin(doc! { "listProjects": 1 })?;
        let list =
            reply.get_array("projects").map_err(|_| CliError::new("listProjects returned no projects"))?;
        Ok(list
            .iter()
            .filter_map(Bson::as_document)
            .map(|p| Project {
                name: p.get_str("name").unwrap_or_default().into(),
                created_lsn: int(p, "created_lsn"),
                created_at: time(p, "created_at"),
                branches: int(p, "branches"),
            })
            .collect())
    }

    fn create_branch(&self, project: &str, name: &str, from: &str, at: Point) -> Result<Branch> {
        let mut cmd = doc! { "createBranch": name, "project": project, "from": from };
        Remote::point_fields(&mut cmd, at);
        Ok(branch_from(sub(&self.admin(cmd)?, "branch")?))
    }

    fn branches(&self, project: &str) -> Result<Vec<Branch>> {
        let reply = self.admin(doc! { "listBranches": project })?;
        let list =
            reply.get_array("branches").map_err(|_| CliError::new("listBranches returned no branches"))?;
        Ok(list.iter().filter_map(Bson::as_document).map(branch_from).collect())
    }

    fn branch(&self, project: &str, name: &str) -> Result<Branch> {
        Ok(branch_from(sub(&self.admin(doc! { "branchInfo": name, "project": project })?, "branch")?))
    }

    fn delete_branch(&self, project: &str, name: &str) -> Result<Lsn> {
        Ok(Lsn(int(&self.admin(doc! { "deleteBranch": name, "project": project })?, "lsn")))
    }

    fn protect_branch(&self, project: &str, name: &str, protected: bool) -> Result<Branch> {
        let verb = if protected { "protectBranch" } else { "unprotectBranch" };
        Ok(branch_from(sub(&self.admin(doc! { verb: name, "project": project })?, "branch")?))
    }

    fn time_travel_info(&self, project: &str, branch: &str) -> Result<TimeTravelInfo> {
        let r = self.admin(doc! { "timeTravelInfo": branch, "project": project })?;
        let b = branch_from(sub(&r, "branch")?);
        Ok(TimeTravelInfo {
            project: project.into(),
            branch: branch.into(),
            base_lsn: b.base_lsn,
            head_lsn: b.head_lsn,
            first_lsn: int(&r, "first_lsn"),
            first_time: time(&r, "first_time"),
            last_lsn: int(&r, "last_lsn"),
            last_time: time(&r, "last_time"),
            entries: int(&r, "entries"),
        })
    }

    fn lsn_at_time(&self, project: &str, branch: &str, t: CommitTime) -> Result<Lsn> {
        let r =
            self.admin(doc! { "restorePreview": branch, "project": project, "time": t.to_bson_datetime() })?;
        Ok(Lsn(int(&r, "target_lsn")))
    }

    fn restore_preview(&self, project: &str, branch: &str, lsn: Lsn) -> Result<Preview> {
        let r = self.admin(doc! { "restorePreview": branch, "project": project, "lsn": lsn.0 as i64 })?;
        let collections: BTreeMap<String, u64> = r
            .get_document("collections")
            .map(|c| c.keys().map(|k| (k.clone(), int(c, k))).collect())
            .unwrap_or_default();
        let catalog_changes = r
            .get_array("catalog_changes")
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        Ok(Preview {
            project: project.into(),
            branch: branch.into(),
            target_lsn: int(&r, "target_lsn"),
            head_lsn: int(&r, "head_lsn"),
            entries: int(&r, "entries"),
            collections,
            catalog_changes,
        })
    }

    fn reset_branch(&self, project: &str, branch: &str, lsn: Lsn, backup: Option<&str>) -> Result<Branch> {
        let mut cmd = doc! { "resetBranch": branch, "project": project, "lsn": lsn.0 as i64 };
        if let Some(b) = backup {
            cmd.insert("backup", b);
        }
        Ok(branch_from(sub(&self.admin(cmd)?, "branch")?))
    }

    fn read(
        &self,
        project: &str,
        branch: &str,
        lsn: Option<Lsn>,
        coll: &str,
        query: &Query,
        each: &mut dyn FnMut(Document) -> Result<()>,
    ) -> Result<()> {
        let db_name = DbAddress { project: project.into(), branch: branch.into(), at_lsn: lsn }.to_string();
        let db = self.client().database(&db_name);
        self.rt.block_on(async {
            let names =
                db.list_collection_names().filter(doc! { "name": coll }).await.map_err(|e| self.err(e))?;
            if names.is_empty() {
                let at = lsn.map(|l| format!("at LSN {l}")).unwrap_or_else(|| "at its head".into());
                return Err(CliError::new(format!(
                    "collection {coll:?} does not exist in branch {branch:?} of project {project:?} {at}"
                )));
            }
            let collection = db.collection::<Document>(coll);
            let mut find = collection.find(query.filter.clone().unwrap_or_default());
            if let Some(s) = &query.sort {
                find = find.sort(s.clone());
            }
            if let Some(l) = query.limit.filter(|&l| l > 0) {
                find = find.limit(l as i64);
            }
            let mut cursor = find.await.map_err(|e| self.err(e))?;
            while cursor.advance().await.map_err(|e| self.err(e))? {
                each(cursor.deserialize_current().map_err(|e| self.err(e))?)?;
            }
            Ok(())
        })
    }

    fn insert(
        &self,
        project: &str,
        branch: &str,
        coll: &str,
        docs: Vec<Document>,
    ) -> Result<(), InsertError> {
        let db_name = DbAddress { project: project.into(), branch: branch.into(), at_lsn: None }.to_string();
        let c = self.client().database(&db_name).collection::<Document>(coll);
        self.rt.block_on(async { c.insert_many(docs).ordered(true).await }).map_err(|e| {
            let index = match e.kind.as_ref() {
                ErrorKind::InsertMany(m) => {
                    m.write_errors.as_deref().and_then(|w| w.first()).map(|w| w.index)
                }
                _ => None,
            };
            InsertError { index, error: self.err(e) }
        })?;
        Ok(())
    }

    /// Needs a `history` admin command (see README.md, "Server API wanted");
    /// until the server has one, says so.
    fn log(&self, project: &str, branch: &str, filter: &LogFilter) -> Result<Vec<LogLine>> {
        let mut cmd = doc! { "history": branch, "project": project };
        if let Some(c) = &filter.collection {
            cmd.insert("collection", c);
        }
        if let Some(id) = &filter.id {
            cmd.insert("id", id.clone());
        }
        if let Some(l) = filter.from_lsn {
            cmd.insert("fromLsn", l.0 as i64);
        }
        if let Some(l) = filter.to_lsn {
            cmd.insert("toLsn", l.0 as i64);
        }
        if let Some(a) = &filter.actor {
            cmd.insert("actor", a);
        }
        if let Some(n) = filter.limit {
            cmd.insert("limit", n as i64);
        }
        let admin = self.client().database("admin");
        let reply = match self.rt.block_on(async { admin.run_command(cmd).await }) {
            Ok(r) => r,
            Err(e) if matches!(e.kind.as_ref(), ErrorKind::Command(c) if c.code == 59) => {
                return Err(CliError::new(format!(
                    "the server at {} has no `history` command yet, so `argon log` cannot run over --uri; \
                     stop the server and use --data-dir",
                    self.uri
                )))
            }
            Err(e) => return Err(self.err(e)),
        };
        // Shape: {entries: [{lsn, time, entry}]}, newest first; the server
        // filters, the CLI summarizes as in --data-dir mode.
        let entries = reply.get_array("entries").map_err(|_| CliError::new("history returned no entries"))?;
        if reply.get_bool("truncated").unwrap_or(false) {
            eprintln!(
                "note: only the newest {} entries fit in one reply (16 MB); narrow the range with \
                 --from-lsn/--to-lsn, --collection or --limit",
                entries.len()
            );
        }
        let mut out = Vec::new();
        for e in entries.iter().filter_map(Bson::as_document) {
            let lsn = Lsn(int(e, "lsn"));
            let t = match e.get("time") {
                Some(Bson::DateTime(d)) => CommitTime::from_millis(d.timestamp_millis()),
                _ => CommitTime(0),
            };
            let entry: argon_store::Entry = bson::deserialize_from_document(sub(e, "entry")?.clone())
                .map_err(|err| CliError::new(format!("undecodable history entry at LSN {lsn}: {err}")))?;
            let all = |_: argon_types::TimelineId, _: Lsn| true;
            if let Some(line) = crate::log::line_for(project, branch, &all, (lsn, t, &entry), filter) {
                out.push(line);
            }
        }
        Ok(out)
    }

    fn status(&self) -> Result<Status> {
        let s = self.server_status()?;
        let a = sub(&s, "argon")?;
        let build = self.admin(doc! { "buildInfo": 1 })?;
        Ok(Status {
            mode: "uri".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            server_version: build.get_str("argonVersion").ok().map(str::to_string),
            uptime_secs: s.get_f64("uptime").ok(),
            data_dir: a.get_str("dataDir").unwrap_or_default().into(),
            projects: int(a, "projects"),
            branches: int(a, "branches"),
            timelines: int(a, "timelines"),
            wal_bytes: int(a, "walBytes"),
            index_bytes: int(a, "indexBytes"),
            head_lsn: int(a, "visibleLsn"),
            head_time: None,
        })
    }

    fn metrics(&self) -> Result<Metrics> {
        let s = self.server_status()?;
        let a = sub(&s, "argon")?;
        let conns = s.get_document("connections").ok();
        let ops = s
            .get_document("opcounters")
            .map(|o| o.keys().filter_map(|k| opt_int(o, k).map(|v| (k.clone(), v))).collect())
            .unwrap_or_default();
        let latency = s.get_document("latency").ok().map(|l| Latency {
            count: opt_int(l, "count").unwrap_or(0),
            p50_micros: opt_int(l, "p50_micros").unwrap_or(0),
            p99_micros: opt_int(l, "p99_micros").unwrap_or(0),
        });
        Ok(Metrics {
            mode: "uri".into(),
            head_lsn: int(a, "visibleLsn"),
            commits: int(a, "commits"),
            group_commits: int(a, "groupCommits"),
            wal_bytes: int(a, "walBytes"),
            index_bytes: int(a, "indexBytes"),
            connections_current: conns.and_then(|c| opt_int(c, "current")),
            connections_total: conns.and_then(|c| opt_int(c, "totalCreated")),
            open_cursors: open_cursors(&s),
            opcounters: ops,
            latency,
        })
    }

    fn health(&self) -> Result<Health> {
        let started = std::time::Instant::now();
        let s = self.server_status()?;
        let rtt = started.elapsed();
        let mut checks = vec![Check::new(
            "server",
            if rtt < Duration::from_secs(1) { "ok" } else { "warn" },
            Some(rtt.as_secs_f64() * 1000.0),
            format!("serverStatus answered in {} ms", rtt.as_millis()),
        )];
        // The server measures the disk of its own data dir, wherever this
        // CLI runs (the same probe as `argon health --data-dir`).
        match self.command(doc! { "dataDirHealth": 1 }) {
            Ok(d) => {
                let space = match (opt_int(&d, "freeBytes"), opt_int(&d, "totalBytes")) {
                    (Some(free), Some(total)) => Ok((free.max(0) as u64, total.max(0) as u64)),
                    _ => Err(d
                        .get_str("diskError")
                        .unwrap_or("the server did not measure its disk")
                        .to_string()),
                };
                let fsync = match d.get("fsyncMillis") {
                    Some(Bson::Double(ms)) => Ok(*ms),
                    _ => Err(d
                        .get_str("fsyncError")
                        .unwrap_or("the server did not measure fdatasync latency")
                        .to_string()),
                };
                let samples = opt_int(&d, "fsyncSamples").unwrap_or(0).max(0) as u32;
                checks.push(crate::status::disk_check(space));
                checks.push(crate::status::fsync_check(fsync, samples));
            }
            Err(e) => {
                checks.push(Check::new("disk_space", "unknown", None, e.to_string()));
                checks.push(Check::new("wal_fsync_latency", "unknown", None, e.to_string()));
            }
        }
        let argon = sub(&s, "argon")?;
        let lag = match opt_int(argon, "indexLag") {
            Some(n) if n >= 0 => Ok(n as u64),
            _ => Err("the server cannot read its WAL".to_string()),
        };
        checks.push(crate::status::index_lag_check(lag, int(argon, "visibleLsn")));
        let cursors = open_cursors(&s).unwrap_or(0);
        checks.push(Check::new(
            "open_cursors",
            if cursors > 10_000 { "warn" } else { "ok" },
            Some(cursors as f64),
            format!("{cursors} open cursors"),
        ));
        Ok(crate::status::health_of(checks))
    }

    fn storage(&self) -> Result<Storage> {
        let r = self.admin(doc! { "storageInfo": 1 })?;
        let mut projects = Vec::new();
        for p in r
            .get_array("projects")
            .map_err(|_| CliError::new("storageInfo returned no projects"))?
            .iter()
            .filter_map(Bson::as_document)
        {
            let mut branches = Vec::new();
            for b in p
                .get_array("branches")
                .map(|a| a.iter().filter_map(Bson::as_document).collect::<Vec<_>>())
                .unwrap_or_default()
            {
                branches.push(BranchStorage {
                    name: b.get_str("name").unwrap_or_default().to_string(),
                    parent: b.get_str("parent").ok().map(str::to_string),
                    documents: int(b, "documents"),
                    own_bytes: Some(int(b, "own_bytes")),
                    shared_bytes: Some(int(b, "shared_bytes")),
                    copy_bytes: int(b, "copy_bytes"),
                    wal_own_bytes: int(b, "wal_own_bytes"),
                    wal_inherited_bytes: int(b, "wal_inherited_bytes"),
                });
            }
            projects.push(ProjectStorage {
                name: p.get_str("name").unwrap_or_default().to_string(),
                own_bytes: Some(branches.iter().filter_map(|b| b.own_bytes).sum()),
                copy_bytes: branches.iter().map(|b| b.copy_bytes).sum(),
                wal_bytes: int(p, "wal_bytes"),
                branches,
            });
        }
        Ok(Storage { wal_bytes: int(&r, "wal_bytes"), index_bytes: int(&r, "index_bytes"), projects })
    }
}

fn open_cursors(s: &Document) -> Option<i64> {
    let m = s.get_document("metrics").ok()?;
    let c = m.get_document("cursor").ok()?;
    opt_int(c.get_document("open").ok()?, "total")
}
