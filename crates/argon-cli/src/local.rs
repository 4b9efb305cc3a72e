//! The `--data-dir` backend: opens a stopped data dir with
//! [`argon_store::Store`] (taking its lock, so a running server's data dir
//! is refused with a message that suggests `--uri`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use argon_store::{At, BranchInfo, Lsn, Store, StoreError, WriteOp, WriteRequest};
use argon_types::names::DbAddress;
use argon_types::{CommitTime, TimelineId};
use bson::Document;

use crate::backend::{Backend, Create, InsertError, LogFilter, Query};
use crate::error::{CliError, Result};
use crate::model::{
    rfc3339, Branch, BranchStorage, Check, Health, LogLine, Metrics, Preview, Project, ProjectStorage,
    Status, Storage, TimeTravelInfo,
};
use crate::time_arg::Point;

pub struct Local {
    store: Store,
    dir: PathBuf,
}

impl Local {
    pub fn open(dir: &Path, create: Create) -> Result<Local> {
        if create == Create::No {
            must_exist(dir)?;
        }
        // Opening replays the WAL written since the index's last checkpoint.
        let bar = crate::output::spinner(&format!("opening data dir {}", dir.display()));
        let store = Store::open(dir);
        bar.finish_and_clear();
        Ok(Local { store: store?, dir: dir.to_path_buf() })
    }

    /// Opens a data dir after dropping its index, which is rebuilt from the WAL.
    pub fn rebuild_index(dir: &Path) -> Result<Store> {
        must_exist(dir)?;
        let opts = argon_store::StoreOptions { rebuild_index: true, ..Default::default() };
        Ok(Store::open_with(dir, opts)?)
    }

    fn at(point: Point) -> At {
        match point {
            Point::Head => At::Head,
            Point::Lsn(l) => At::Lsn(l),
            Point::Time(t) => At::Time(t),
        }
    }
}

/// A store branch as the CLI reports it.
pub fn branch_model(b: &BranchInfo) -> Branch {
    Branch {
        name: b.name.clone(),
        project: b.project.clone(),
        parent: b.parent.clone(),
        base_lsn: b.base_lsn.0,
        head_lsn: b.head_lsn.0,
        created_lsn: b.created_lsn.0,
        created_at: rfc3339(b.created_at),
        head_time: rfc3339(b.head_time),
        expires_at: b.expires_at.map(rfc3339),
        protected: b.protected,
        commits: b.commits,
        database: DbAddress { project: b.project.clone(), branch: b.name.clone(), at_lsn: None }.to_string(),
    }
}

impl Backend for Local {
    fn create_project(&self, name: &str) -> Result<Lsn> {
        Ok(self.store.create_project(name)?)
    }

    fn drop_project(&self, name: &str) -> Result<Lsn> {
        Ok(self.store.drop_project(name)?)
    }

    fn projects(&self) -> Result<Vec<Project>> {
        Ok(self
            .store
            .projects()
            .into_iter()
            .map(|p| Project {
                name: p.name,
                created_lsn: p.created_lsn.0,
                created_at: rfc3339(p.created_at),
                branches: p.branches as u64,
            })
            .collect())
    }

    fn create_branch(&self, project: &str, name: &str, from: &str, at: Point) -> Result<Branch> {
        Ok(branch_model(&self.store.create_branch(project, name, from, Local::at(at))?))
    }

    fn branches(&self, project: &str) -> Result<Vec<Branch>> {
        Ok(self.store.branches(project)?.iter().map(branch_model).collect())
    }

    fn branch(&self, project: &str, name: &str) -> Result<Branch> {
        Ok(branch_model(&self.store.branch(project, name)?))
    }

    fn delete_branch(&self, project: &str, name: &str) -> Result<Lsn> {
        Ok(self.store.delete_branch(project, name)?)
    }

    fn protect_branch(&self, project: &str, name: &str, protected: bool) -> Result<Branch> {
        self.store.protect_branch(project, name, protected)?;
        self.branch(project, name)
    }

    fn time_travel_info(&self, project: &str, branch: &str) -> Result<TimeTravelInfo> {
        let b = self.store.branch(project, branch)?;
        let p = self
            .store
            .projects()
            .into_iter()
            .find(|p| p.name == project)
            .ok_or_else(|| StoreError::ProjectNotFound(project.into()))?;
        Ok(TimeTravelInfo {
            project: project.into(),
            branch: branch.into(),
            base_lsn: b.base_lsn.0,
            head_lsn: b.head_lsn.0,
            first_lsn: p.created_lsn.0,
            first_time: rfc3339(p.created_at),
            last_lsn: b.head_lsn.0,
            last_time: rfc3339(b.head_time),
            entries: b.commits,
        })
    }

    fn lsn_at_time(&self, project: &str, branch: &str, time: CommitTime) -> Result<Lsn> {
        self.store.branch(project, branch)?;
        Ok(self.store.lsn_at_time(time)?)
    }

    fn restore_preview(&self, project: &str, branch: &str, lsn: Lsn) -> Result<Preview> {
        self.store.branch(project, branch)?;
        let p = self.store.restore_preview(project, branch, At::Lsn(lsn))?;
        Ok(Preview {
            project: p.project,
            branch: p.branch,
            target_lsn: p.target_lsn.0,
            head_lsn: p.head_lsn.0,
            entries: p.entries,
            collections: p.collections,
            catalog_changes: p.catalog_changes,
        })
    }

    fn reset_branch(&self, project: &str, branch: &str, lsn: Lsn, backup: Option<&str>) -> Result<Branch> {
        Ok(branch_model(&self.store.reset_branch(project, branch, At::Lsn(lsn), backup)?))
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
        let snap = self.store.snapshot(project, branch, lsn.map(At::Lsn).unwrap_or(At::Head))?;
        if snap.collection(coll).is_none() {
            return Err(CliError::new(format!(
                "collection {coll:?} does not exist in branch {branch:?} of project {project:?} at LSN {}",
                snap.lsn()
            )));
        }
        let filter = query.filter.as_ref().map(argon_query::Filter::parse).transpose()?;
        let sort = query.sort.as_ref().map(argon_query::SortSpec::parse).transpose()?;
        let limit = query.limit.filter(|&l| l > 0).map(|l| l as usize);
        let matching = snap.scan(coll)?.map(|r| r.map_err(CliError::from)).filter(|r| match (r, &filter) {
            (Ok(d), Some(f)) => f.matches(d),
            _ => true,
        });
        match sort {
            Some(spec) if !spec.is_empty() => {
                let docs: Vec<Document> = matching.collect::<Result<_>>()?;
                let docs = match limit {
                    Some(l) => spec.top_k(docs.into_iter(), l),
                    None => {
                        let mut docs = docs;
                        spec.sort(&mut docs);
                        docs
                    }
                };
                docs.into_iter().try_for_each(each)
            }
            _ => {
                for d in matching.take(limit.unwrap_or(usize::MAX)) {
                    each(d?)?;
                }
                Ok(())
            }
        }
    }

    fn insert(
        &self,
        project: &str,
        branch: &str,
        coll: &str,
        docs: Vec<Document>,
    ) -> Result<(), InsertError> {
        // Ordered, as the server runs an insert command: documents before a
        // failing one are written.
        let mut req = WriteRequest::new(project, branch);
        req.mode = argon_store::WriteMode::Ordered;
        for doc in docs {
            req.ops.push(WriteOp::Insert { coll: coll.to_string(), doc });
        }
        let outcome = self.store.write(req).map_err(CliError::from)?;
        for (i, r) in outcome.results.into_iter().enumerate() {
            r.map_err(|e| InsertError { index: Some(i), error: e.into() })?;
        }
        Ok(())
    }

    fn log(&self, project: &str, branch: &str, filter: &LogFilter) -> Result<Vec<LogLine>> {
        let chain = self.store.history_chain(project, branch)?;
        let first = self
            .store
            .projects()
            .into_iter()
            .find(|p| p.name == project)
            .map(|p| p.created_lsn)
            .unwrap_or(Lsn(1));
        let on_chain = |tl: TimelineId, lsn: Lsn| chain.0.iter().any(|&(t, bound)| t == tl && lsn <= bound);
        let from = filter.from_lsn.unwrap_or(first).max(first);
        let upto = filter.to_lsn.unwrap_or(self.store.visible_lsn());
        let bar = crate::output::counter("reading the log");
        let mut lines = Vec::new();
        // Newest first: with a limit, only the newest part of the WAL is read.
        for r in self.store.log_newest_first(from, upto)?.of_project(project) {
            if filter.limit.is_some_and(|n| lines.len() >= n) {
                break;
            }
            let (lsn, time, entry) = r?;
            bar.inc(1);
            if let Some(line) = crate::log::line_for(project, branch, &on_chain, (lsn, time, &entry), filter)
            {
                lines.push(line);
            }
        }
        bar.finish_and_clear();
        Ok(lines)
    }

    fn status(&self) -> Result<Status> {
        let st = self.store.stats();
        Ok(Status {
            mode: "data-dir".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            server_version: None,
            uptime_secs: None,
            data_dir: absolute(&self.dir),
            projects: st.projects as u64,
            branches: st.branches as u64,
            timelines: st.timelines as u64,
            wal_bytes: st.wal_bytes,
            index_bytes: st.index_bytes,
            head_lsn: st.visible_lsn.0,
            head_time: (st.visible_lsn.0 > 0).then(|| rfc3339(self.store.visible_time())),
        })
    }

    fn metrics(&self) -> Result<Metrics> {
        let st = self.store.stats();
        Ok(Metrics {
            mode: "data-dir".into(),
            head_lsn: st.visible_lsn.0,
            commits: st.commits,
            group_commits: st.group_commits,
            wal_bytes: st.wal_bytes,
            index_bytes: st.index_bytes,
            connections_current: None,
            connections_total: None,
            open_cursors: None,
            opcounters: BTreeMap::new(),
            latency: None,
        })
    }

    fn health(&self) -> Result<Health> {
        let mut checks = crate::status::disk_checks(&self.dir).to_vec();
        // Records in the WAL that the index has not applied.
        let visible = self.store.visible_lsn();
        let behind = argon_wal::WalReader::open(&self.dir.join("wal"), visible.next())
            .map(|r| r.take_while(|x| x.is_ok()).count() as u64)
            .map_err(|e| e.to_string());
        checks.push(crate::status::index_lag_check(behind, visible.0));
        checks.push(Check::new("open_cursors", "ok", Some(0.0), "no server runs on this data dir"));
        Ok(crate::status::health_of(checks))
    }

    fn storage(&self) -> Result<Storage> {
        let st = self.store.stats();
        let bar = crate::output::counter("measuring branches (documents)");
        let mut projects = Vec::new();
        for p in self.store.projects() {
            let wal = self.store.wal_storage(&p.name)?;
            let mut branches = Vec::new();
            for b in self.store.branches(&p.name)? {
                let s = self.store.branch_storage(&p.name, &b.name)?;
                bar.inc(s.documents);
                let w = wal.branches.get(&b.name).copied().unwrap_or_default();
                branches.push(BranchStorage {
                    name: b.name.clone(),
                    parent: b.parent.clone(),
                    documents: s.documents,
                    own_bytes: Some(s.own_bytes),
                    shared_bytes: Some(s.shared_bytes),
                    copy_bytes: s.copy_bytes(),
                    wal_own_bytes: w.own_bytes,
                    wal_inherited_bytes: w.inherited_bytes,
                });
            }
            projects.push(ProjectStorage {
                name: p.name.clone(),
                own_bytes: Some(branches.iter().filter_map(|b| b.own_bytes).sum()),
                copy_bytes: branches.iter().map(|b| b.copy_bytes).sum(),
                wal_bytes: wal.project_bytes,
                branches,
            });
        }
        bar.finish_and_clear();
        Ok(Storage { wal_bytes: st.wal_bytes, index_bytes: st.index_bytes, projects })
    }
}

/// Refuses a directory that holds no data dir, rather than creating one.
pub fn must_exist(dir: &Path) -> Result<()> {
    if dir.join("wal").is_dir() {
        return Ok(());
    }
    let what = if dir.exists() { "is not an Argon data dir" } else { "does not exist" };
    Err(CliError::new(format!(
        "data dir {} {what}; pass --data-dir DIR, or --uri mongodb://HOST:PORT to talk to a running server \
         (`argon project create NAME` creates a data dir)",
        dir.display()
    )))
}

fn absolute(dir: &Path) -> String {
    std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()).display().to_string()
}
