//! `argon project create|list|delete`.

use clap::Subcommand;

use crate::backend::{Create, Target};
use crate::error::Result;
use crate::output::{self, Format, Table};

#[derive(Subcommand, Debug)]
pub enum ProjectCmd {
    /// Create a project with its `main` branch (creates the data dir if needed).
    Create { name: String },
    /// List projects.
    #[command(alias = "ls")]
    List,
    /// Drop a project and its branches (refused while a branch is protected);
    /// its history stays in the WAL.
    #[command(alias = "drop")]
    Delete { name: String },
}

pub fn run(target: &Target, format: Format, cmd: ProjectCmd) -> Result<()> {
    match cmd {
        ProjectCmd::Create { name } => {
            let lsn = target.open(Create::Yes)?.create_project(&name)?;
            match format {
                Format::Json => output::json(&serde_json::json!({ "name": name, "lsn": lsn.0 })),
                Format::Table => output::say(format!("created project {name} (branch main) at LSN {lsn}")),
            }
        }
        ProjectCmd::List => {
            let projects = target.open(Create::No)?.projects()?;
            if format == Format::Json {
                return output::json(&projects);
            }
            let mut t = Table::new(&["NAME", "BRANCHES", "CREATED LSN", "CREATED AT"]);
            for p in &projects {
                t.row(vec![
                    p.name.clone(),
                    p.branches.to_string(),
                    p.created_lsn.to_string(),
                    p.created_at.clone(),
                ]);
            }
            t.print()
        }
        ProjectCmd::Delete { name } => {
            let lsn = target.open(Create::No)?.drop_project(&name)?;
            match format {
                Format::Json => output::json(&serde_json::json!({ "name": name, "lsn": lsn.0 })),
                Format::Table => {
                    output::say(format!("dropped project {name} at LSN {lsn} (its history stays in the WAL)"))
                }
            }
        }
    }
}
