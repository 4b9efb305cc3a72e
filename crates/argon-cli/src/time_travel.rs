//! `argon time-travel info|query`: how far back a branch reaches, and reads
//! of a collection at any point of it.

use clap::{Args, Subcommand};

use crate::backend::{resolve_point, Create, Query, Target};
use crate::error::Result;
use crate::extjson;
use crate::output::{self, Format};
use crate::time_arg::PointArgs;

#[derive(Args, Debug)]
pub struct BranchArgs {
    /// Project.
    #[arg(short, long)]
    pub project: String,
    /// Branch.
    #[arg(short, long, default_value = "main")]
    pub branch: String,
}

#[derive(Subcommand, Debug)]
pub enum TimeTravelCmd {
    /// Head and base LSN, first and last entry times, entry counts.
    Info(BranchArgs),
    /// Read a collection as it was at an LSN or time: one Extended JSON
    /// document per line (a JSON array with -o json).
    Query {
        #[command(flatten)]
        branch: BranchArgs,
        #[command(flatten)]
        at: PointArgs,
        /// Collection.
        #[arg(short, long)]
        collection: String,
        /// Query filter (Extended JSON), e.g. '{"age": {"$gt": 30}}'.
        #[arg(long)]
        filter: Option<String>,
        /// Sort (Extended JSON), e.g. '{"age": -1}'.
        #[arg(long)]
        sort: Option<String>,
        /// Return at most N documents.
        #[arg(long)]
        limit: Option<u64>,
    },
}

pub fn run(target: &Target, format: Format, cmd: TimeTravelCmd) -> Result<()> {
    match cmd {
        TimeTravelCmd::Info(b) => {
            let info = target.open(Create::No)?.time_travel_info(&b.project, &b.branch)?;
            match format {
                Format::Json => output::json(&info),
                Format::Table => output::fields(&[
                    ("project", info.project.clone()),
                    ("branch", info.branch.clone()),
                    ("base LSN", info.base_lsn.to_string()),
                    ("head LSN", info.head_lsn.to_string()),
                    ("first entry", format!("LSN {} at {}", info.first_lsn, info.first_time)),
                    ("last entry", format!("LSN {} at {}", info.last_lsn, info.last_time)),
                    ("entries", info.entries.to_string()),
                ]),
            }
        }
        TimeTravelCmd::Query { branch: b, at, collection, filter, sort, limit } => {
            let query = Query {
                filter: filter.as_deref().map(|f| extjson::parse_document(f, "--filter")).transpose()?,
                sort: sort.as_deref().map(|s| extjson::parse_document(s, "--sort")).transpose()?,
                limit,
            };
            let backend = target.open(Create::No)?;
            let lsn = resolve_point(backend.as_ref(), &b.project, &b.branch, at.point()?)?;
            match format {
                Format::Table => backend.read(&b.project, &b.branch, lsn, &collection, &query, &mut |d| {
                    output::say(extjson::doc_to_json(&d))
                }),
                Format::Json => {
                    // One JSON array, one document per line.
                    let mut first = true;
                    let mut out = String::from("[");
                    backend.read(&b.project, &b.branch, lsn, &collection, &query, &mut |d| {
                        if !first {
                            out.push(',');
                        }
                        first = false;
                        out.push_str("\n  ");
                        out.push_str(&extjson::doc_to_json(&d));
                        Ok(())
                    })?;
                    out.push_str(if first { "]" } else { "\n]" });
                    output::say(out)
                }
            }
        }
    }
}
