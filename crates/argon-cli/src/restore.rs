//! `argon restore preview|reset|branch`: put a branch back to a past state,
//! or fork the past as a new branch. Nothing is ever deleted: a reset points
//! the branch at a new timeline forked from its past, and the discarded
//! entries stay in the log (and in `--backup`, if asked for).

use clap::{Args, Subcommand};

use crate::backend::{resolve_point, Backend, Create, Target};
use crate::error::{CliError, Result};
use crate::model::Preview;
use crate::output::{self, Format, Table};
use crate::time_arg::{Point, PointArgs};
use argon_types::Lsn;

#[derive(Args, Debug)]
pub struct RestoreTarget {
    /// Project.
    #[arg(short, long)]
    pub project: String,
    /// Branch.
    #[arg(short, long)]
    pub branch: String,
    #[command(flatten)]
    pub at: PointArgs,
}

#[derive(Subcommand, Debug)]
pub enum RestoreCmd {
    /// What resetting the branch would discard.
    Preview(RestoreTarget),
    /// Point the branch back at a past state.
    Reset {
        #[command(flatten)]
        target: RestoreTarget,
        /// First keep the current head as a new branch of this name.
        #[arg(long)]
        backup: Option<String>,
    },
    /// Create a new branch from the past state (the branch itself is untouched).
    Branch {
        #[command(flatten)]
        target: RestoreTarget,
        /// Name of the new branch.
        #[arg(long = "as", value_name = "NAME")]
        new_name: String,
    },
}

fn target_lsn(backend: &dyn Backend, t: &RestoreTarget) -> Result<Lsn> {
    resolve_point(backend, &t.project, &t.branch, t.at.point()?)?
        .ok_or_else(|| CliError::new("restore needs --lsn or --time"))
}

pub fn run(target: &Target, format: Format, cmd: RestoreCmd) -> Result<()> {
    let backend = target.open(Create::No)?;
    match cmd {
        RestoreCmd::Preview(t) => {
            let lsn = target_lsn(backend.as_ref(), &t)?;
            let p = backend.restore_preview(&t.project, &t.branch, lsn)?;
            match format {
                Format::Json => output::json(&p),
                Format::Table => print_preview(&p, "would discard"),
            }
        }
        RestoreCmd::Reset { target: t, backup } => {
            let lsn = target_lsn(backend.as_ref(), &t)?;
            let preview = backend.restore_preview(&t.project, &t.branch, lsn)?;
            let b = backend.reset_branch(&t.project, &t.branch, lsn, backup.as_deref())?;
            match format {
                Format::Json => output::json(&serde_json::json!({
                    "branch": b,
                    "target_lsn": lsn.0,
                    "discarded": preview,
                    "backup": backup,
                })),
                Format::Table => {
                    print_preview(&preview, "discarded")?;
                    if let Some(name) = &backup {
                        output::say(format!("the previous head is kept as branch {name}"))?;
                    }
                    output::say(format!("reset branch {} of project {} to LSN {lsn}", b.name, b.project))
                }
            }
        }
        RestoreCmd::Branch { target: t, new_name } => {
            let lsn = target_lsn(backend.as_ref(), &t)?;
            let b = backend.create_branch(&t.project, &new_name, &t.branch, Point::Lsn(lsn))?;
            match format {
                Format::Json => output::json(&b),
                Format::Table => output::say(format!(
                    "created branch {} of project {} from {} at LSN {lsn} (database {})",
                    b.name, b.project, t.branch, b.database
                )),
            }
        }
    }
}

fn print_preview(p: &Preview, verb: &str) -> Result<()> {
    output::say(format!(
        "resetting branch {} of project {} from LSN {} to LSN {} {verb} {} {}",
        p.branch,
        p.project,
        p.head_lsn,
        p.target_lsn,
        p.entries,
        if p.entries == 1 { "entry" } else { "entries" }
    ))?;
    if !p.collections.is_empty() {
        let mut t = Table::new(&["COLLECTION", "DOCUMENTS CHANGED"]);
        for (c, n) in &p.collections {
            t.row(vec![c.clone(), n.to_string()]);
        }
        t.print()?;
    }
    for c in &p.catalog_changes {
        output::say(format!("catalog: {c}"))?;
    }
    Ok(())
}
