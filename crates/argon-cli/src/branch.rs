//! `argon branch create|list|info|delete|protect|unprotect`.

use clap::{Args, Subcommand};

use crate::backend::{resolve_point, Create, Target};
use crate::error::Result;
use crate::model::Branch;
use crate::output::{self, or_dash, Format, Table};
use crate::time_arg::{OptPointArgs, Point};

#[derive(Args, Debug)]
pub struct BranchRef {
    /// Branch name.
    pub name: String,
    /// Project.
    #[arg(short, long)]
    pub project: String,
}

#[derive(Subcommand, Debug)]
pub enum BranchCmd {
    /// Create a branch from another one, at its head or at a point of its
    /// history (copies nothing).
    Create {
        #[command(flatten)]
        branch: BranchRef,
        /// The branch to fork.
        #[arg(long, default_value = "main")]
        from: String,
        #[command(flatten)]
        at: OptPointArgs,
    },
    /// List a project's branches.
    #[command(alias = "ls")]
    List {
        /// Project.
        #[arg(short, long)]
        project: String,
    },
    /// Show one branch.
    Info(BranchRef),
    /// Delete a branch name (refused for main, protected branches and
    /// branches with children); its history stays.
    Delete(BranchRef),
    /// Protect a branch from deletion and reset.
    Protect(BranchRef),
    /// Remove a branch's protection.
    Unprotect(BranchRef),
}

pub fn run(target: &Target, format: Format, cmd: BranchCmd) -> Result<()> {
    let backend = target.open(Create::No)?;
    match cmd {
        BranchCmd::Create { branch: r, from, at } => {
            let at = at.point()?;
            let lsn = resolve_point(backend.as_ref(), &r.project, &from, at)?;
            let b = backend.create_branch(
                &r.project,
                &r.name,
                &from,
                lsn.map(Point::Lsn).unwrap_or(Point::Head),
            )?;
            match format {
                Format::Json => output::json(&b),
                Format::Table => output::say(format!(
                    "created branch {} of project {} from {from} at LSN {} (database {})",
                    b.name, b.project, b.base_lsn, b.database
                )),
            }
        }
        BranchCmd::List { project } => {
            let branches = backend.branches(&project)?;
            if format == Format::Json {
                return output::json(&branches);
            }
            let mut t =
                Table::new(&["NAME", "PARENT", "BASE LSN", "HEAD LSN", "CREATED AT", "PROTECTED", "COMMITS"]);
            for b in &branches {
                t.row(vec![
                    b.name.clone(),
                    or_dash(b.parent.clone()),
                    b.base_lsn.to_string(),
                    b.head_lsn.to_string(),
                    b.created_at.clone(),
                    if b.protected { "yes".into() } else { "no".into() },
                    b.commits.to_string(),
                ]);
            }
            t.print()
        }
        BranchCmd::Info(r) => {
            let b = backend.branch(&r.project, &r.name)?;
            match format {
                Format::Json => output::json(&b),
                Format::Table => print_branch(&b),
            }
        }
        BranchCmd::Delete(r) => {
            let lsn = backend.delete_branch(&r.project, &r.name)?;
            match format {
                Format::Json => {
                    output::json(&serde_json::json!({ "name": r.name, "project": r.project, "lsn": lsn.0 }))
                }
                Format::Table => output::say(format!(
                    "deleted branch {} of project {} at LSN {lsn} (its history stays in the WAL)",
                    r.name, r.project
                )),
            }
        }
        BranchCmd::Protect(r) => protect(backend.as_ref(), format, r, true),
        BranchCmd::Unprotect(r) => protect(backend.as_ref(), format, r, false),
    }
}

fn protect(backend: &dyn crate::backend::Backend, format: Format, r: BranchRef, on: bool) -> Result<()> {
    let b = backend.protect_branch(&r.project, &r.name, on)?;
    match format {
        Format::Json => output::json(&b),
        Format::Table => {
            let verb = if on { "protected" } else { "unprotected" };
            output::say(format!("{verb} branch {} of project {}", b.name, b.project))
        }
    }
}

/// `key: value` lines of a branch.
pub fn print_branch(b: &Branch) -> Result<()> {
    output::fields(&[
        ("name", b.name.clone()),
        ("project", b.project.clone()),
        ("database", b.database.clone()),
        ("parent", or_dash(b.parent.clone())),
        ("base LSN", b.base_lsn.to_string()),
        ("head LSN", b.head_lsn.to_string()),
        ("created LSN", b.created_lsn.to_string()),
        ("created at", b.created_at.clone()),
        ("head time", b.head_time.clone()),
        ("expires at", or_dash(b.expires_at.clone())),
        ("protected", b.protected.to_string()),
        ("commits", b.commits.to_string()),
    ])
}
