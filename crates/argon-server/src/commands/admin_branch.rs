//! Admin commands for projects, branches and history, so any driver can do
//! what the CLI does:
//!
//! | command | arguments |
//! |---|---|
//! | `createProject: NAME` | |
//! | `dropProject: NAME` | |
//! | `listProjects: 1` | |
//! | `createBranch: NAME` | `project`, `from` (default `main`), one of `lsn`, `time` (date), `atClusterTime`; `expiresAt` |
//! | `listBranches: PROJECT` | |
//! | `branchInfo: NAME` | `project` |
//! | `deleteBranch: NAME` | `project` |
//! | `protectBranch: NAME` / `unprotectBranch: NAME` | `project` |
//! | `restorePreview: BRANCH` | `project`, `lsn` or `time` |
//! | `resetBranch: BRANCH` | `project`, `lsn` or `time`, `backup` (optional branch name) |
//! | `timeTravelInfo: BRANCH` | `project` |
//!
//! A branch from history is `createBranch` with `lsn` or `time`.

use argon_store::{At, BranchInfo, CommitTime, Lsn, Store};
use bson::{doc, Bson, Document};

use super::{Call, Ctx};
use crate::args::Args;
use crate::error::{CmdResult, CommandError};

/// Runs a blocking store write (projects, branches) off the async executor.
async fn blocking<T: Send + 'static>(
    ctx: &Ctx<'_>,
    f: impl FnOnce(Store) -> argon_store::Result<T> + Send + 'static,
) -> CmdResult<T> {
    // Every caller writes (projects, branches): held back by an fsync lock.
    let _open = ctx.state.write_gate.read().await;
    let store = ctx.state.store.clone();
    tokio::task::spawn_blocking(move || f(store))
        .await
        .map_err(|e| CommandError::new(crate::error::code::INTERNAL_ERROR, e.to_string()))?
        .map_err(Into::into)
}

fn date(t: CommitTime) -> Bson {
    Bson::DateTime(t.to_bson_datetime())
}

/// A branch as admin commands report it (the CLI's JSON uses the same names).
pub fn branch_doc(b: &BranchInfo) -> Document {
    doc! {
        "name": &b.name,
        "project": &b.project,
        "parent": b.parent.clone().map(Bson::String).unwrap_or(Bson::Null),
        "base_lsn": b.base_lsn.0 as i64,
        "head_lsn": b.head_lsn.0 as i64,
        "created_lsn": b.created_lsn.0 as i64,
        "created_at": date(b.created_at),
        "head_time": date(b.head_time),
        "expires_at": b.expires_at.map(date).unwrap_or(Bson::Null),
        "protected": b.protected,
        "commits": b.commits as i64,
        "timeline": b.timeline.0 as i64,
        "database": super::list::db_name(&b.project, &b.name),
    }
}

/// `lsn`, `time` or `atClusterTime` → a point in history (default: head).
fn point(ctx: &Ctx<'_>, a: &Args<'_>) -> CmdResult<At> {
    if let Some(l) = a.i64("lsn")? {
        if l < 0 {
            return Err(CommandError::bad_value("lsn must be non-negative"));
        }
        return Ok(At::Lsn(Lsn(l as u64)));
    }
    match a.get("time") {
        Some(Bson::DateTime(d)) => return Ok(At::Time(CommitTime::from_millis(d.timestamp_millis()))),
        Some(Bson::String(s)) => {
            let d = bson::DateTime::parse_rfc3339_str(s)
                .map_err(|_| CommandError::bad_value(format!("time {s:?} is not an RFC 3339 date")))?;
            return Ok(At::Time(CommitTime::from_millis(d.timestamp_millis())));
        }
        Some(_) => return Err(CommandError::type_mismatch("time must be a date or an RFC 3339 string")),
        None => {}
    }
    match a.get("atClusterTime") {
        Some(Bson::Timestamp(ts)) => Ok(ctx.state.at_cluster_time(*ts)),
        Some(_) => Err(CommandError::type_mismatch("atClusterTime must be a timestamp")),
        None => Ok(At::Head),
    }
}

fn name_arg<'a>(a: &Args<'a>, field: &str) -> CmdResult<&'a str> {
    a.req_str(field)
}

pub async fn create_project(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let name = name_arg(&Args::new(&call.cmd, "createProject"), "createProject")?.to_string();
    crate::auth::check_project_admin(ctx, &name)?;
    let lsn = blocking(ctx, move |s| s.create_project(&name)).await?;
    Ok(doc! { "lsn": lsn.0 as i64 })
}

pub async fn drop_project(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let name = name_arg(&Args::new(&call.cmd, "dropProject"), "dropProject")?.to_string();
    crate::auth::check_project_admin(ctx, &name)?;
    let lsn = blocking(ctx, move |s| s.drop_project(&name)).await?;
    Ok(doc! { "lsn": lsn.0 as i64 })
}

pub fn list_projects(ctx: &mut Ctx<'_>, _call: &mut Call) -> CmdResult<Document> {
    let projects: Vec<Bson> = ctx
        .state
        .store
        .projects()
        .into_iter()
        .filter(|p| crate::auth::can_see_project(ctx, &p.name))
        .map(|p| {
            Bson::Document(doc! {
                "name": p.name, "created_lsn": p.created_lsn.0 as i64, "created_at": date(p.created_at), "branches": p.branches as i64,
            })
        })
        .collect();
    Ok(doc! { "projects": projects })
}

pub async fn create_branch(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let a = Args::new(&call.cmd, "createBranch");
    let name = a.req_str("createBranch")?.to_string();
    let project = a.req_str("project")?.to_string();
    let from = a.str("from")?.unwrap_or("main").to_string();
    let at = point(ctx, &a)?;
    let expires = match a.get("expiresAt") {
        Some(Bson::DateTime(d)) => Some(CommitTime::from_millis(d.timestamp_millis())),
        Some(_) => return Err(CommandError::type_mismatch("expiresAt must be a date")),
        None => None,
    };
    crate::auth::check_project_admin(ctx, &project)?;
    let b = blocking(ctx, move |s| s.create_branch_with(&project, &name, &from, at, expires)).await?;
    Ok(doc! { "branch": branch_doc(&b) })
}

pub fn list_branches(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let project = name_arg(&Args::new(&call.cmd, "listBranches"), "listBranches")?;
    crate::auth::check_project_read(ctx, project)?;
    let branches = ctx.state.store.branches(project)?;
    Ok(doc! { "branches": branches.iter().map(|b| Bson::Document(branch_doc(b))).collect::<Vec<_>>() })
}

pub async fn branch_info(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let a = Args::new(&call.cmd, "branchInfo");
    let name = a.req_str("branchInfo")?;
    let project = a.req_str("project")?;
    crate::auth::check_project_read(ctx, project)?;
    let b = ctx.state.store.branch(project, name)?;
    Ok(doc! { "branch": branch_doc(&b) })
}

pub async fn delete_branch(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let a = Args::new(&call.cmd, "deleteBranch");
    let name = a.req_str("deleteBranch")?.to_string();
    let project = a.req_str("project")?.to_string();
    crate::auth::check_project_admin(ctx, &project)?;
    let lsn = blocking(ctx, move |s| s.delete_branch(&project, &name)).await?;
    Ok(doc! { "lsn": lsn.0 as i64 })
}

pub async fn protect_branch(ctx: &mut Ctx<'_>, call: &mut Call, protected: bool) -> CmdResult<Document> {
    let field = if protected { "protectBranch" } else { "unprotectBranch" };
    let a = Args::new(&call.cmd, field);
    let name = a.req_str(field)?.to_string();
    let project = a.req_str("project")?.to_string();
    crate::auth::check_project_admin(ctx, &project)?;
    let (p2, n2) = (project.clone(), name.clone());
    blocking(ctx, move |s| s.protect_branch(&p2, &n2, protected)).await?;
    let b = ctx.state.store.branch(&project, &name)?;
    Ok(doc! { "branch": branch_doc(&b) })
}

pub fn restore_preview(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let a = Args::new(&call.cmd, "restorePreview");
    let branch = a.req_str("restorePreview")?;
    let project = a.req_str("project")?;
    crate::auth::check_project_read(ctx, project)?;
    let at = point(ctx, &a)?;
    let p = ctx.state.store.restore_preview(project, branch, at)?;
    let colls: Document = p.collections.iter().map(|(k, v)| (k.clone(), Bson::Int64(*v as i64))).collect();
    Ok(doc! {
        "project": p.project, "branch": p.branch,
        "target_lsn": p.target_lsn.0 as i64, "head_lsn": p.head_lsn.0 as i64,
        "entries": p.entries as i64, "collections": colls, "catalog_changes": p.catalog_changes,
    })
}

pub async fn reset_branch(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let a = Args::new(&call.cmd, "resetBranch");
    let branch = a.req_str("resetBranch")?.to_string();
    let project = a.req_str("project")?.to_string();
    let backup = a.str("backup")?.map(str::to_string);
    let at = point(ctx, &a)?;
    if at == At::Head {
        return Err(CommandError::bad_value("resetBranch needs lsn, time or atClusterTime"));
    }
    crate::auth::check_project_admin(ctx, &project)?;
    let b = blocking(ctx, move |s| s.reset_branch(&project, &branch, at, backup.as_deref())).await?;
    Ok(doc! { "branch": branch_doc(&b) })
}

pub fn time_travel_info(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let a = Args::new(&call.cmd, "timeTravelInfo");
    let branch = a.req_str("timeTravelInfo")?;
    let project = a.req_str("project")?;
    crate::auth::check_project_read(ctx, project)?;
    let b = ctx.state.store.branch(project, branch)?;
    let p = ctx.state.store.projects().into_iter().find(|p| p.name == project);
    Ok(doc! {
        "branch": branch_doc(&b),
        "first_lsn": p.as_ref().map(|p| p.created_lsn.0 as i64).unwrap_or(0),
        "first_time": p.map(|p| date(p.created_at)).unwrap_or(Bson::Null),
        "last_lsn": b.head_lsn.0 as i64,
        "last_time": date(b.head_time),
        "entries": b.commits as i64,
    })
}
