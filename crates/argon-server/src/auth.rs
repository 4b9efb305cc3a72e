//! Authentication and authorisation.
//!
//! Off by default (the embedded default, like a fresh `mongod`): every
//! client may do everything. With `--auth`, clients authenticate with
//! SCRAM-SHA-256 or SCRAM-SHA-1 and each user has roles per project
//! (`read`, `readWrite`, `admin`), so a user of one project cannot see or
//! touch another's branches.

use bson::Document;

use crate::commands::Ctx;
use crate::error::CmdResult;
use crate::state::ServerState;

/// An authenticated user.
#[derive(Clone, Debug)]
pub struct Principal {
    pub name: String,
    /// (project, role) pairs; project `*` means every project.
    pub roles: Vec<(String, String)>,
}

/// An in-progress SASL exchange on one connection.
#[derive(Debug, Default)]
pub struct SaslConversation {
    pub mechanism: String,
    pub user: String,
    pub step: u32,
    pub state: Document,
}

/// Whether the server requires authentication.
pub fn enabled(state: &ServerState) -> bool {
    state.auth.is_some()
}

/// Checks that the connection may run a command at all.
pub fn check_access(ctx: &Ctx<'_>, name: &str, db: &str, cmd: &Document) -> CmdResult<()> {
    match &ctx.state.auth {
        None => Ok(()),
        Some(users) => users.check_access(ctx.conn.user.as_ref(), name, db, cmd),
    }
}

/// Whether the connection may see a project (listDatabases, listProjects).
pub fn can_see_project(ctx: &Ctx<'_>, project: &str) -> bool {
    match &ctx.state.auth {
        None => true,
        Some(users) => users.has_role(ctx.conn.user.as_ref(), project, "read"),
    }
}

pub fn check_project_read(ctx: &Ctx<'_>, project: &str) -> CmdResult<()> {
    match &ctx.state.auth {
        None => Ok(()),
        Some(users) => users.require(ctx.conn.user.as_ref(), project, "read"),
    }
}

pub fn check_project_admin(ctx: &Ctx<'_>, project: &str) -> CmdResult<()> {
    match &ctx.state.auth {
        None => Ok(()),
        Some(users) => users.require(ctx.conn.user.as_ref(), project, "admin"),
    }
}

/// The mechanisms a user can authenticate with.
pub fn supported_mechanisms(state: &ServerState, _user: &str) -> Vec<String> {
    let _ = state;
    vec!["SCRAM-SHA-256".to_string(), "SCRAM-SHA-1".to_string()]
}
