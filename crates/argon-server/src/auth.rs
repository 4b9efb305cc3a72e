//! Authentication and authorisation.
//!
//! Off by default (the embedded default, like a fresh `mongod`): every
//! client may do everything. With `--auth`, clients authenticate with
//! SCRAM-SHA-256 or SCRAM-SHA-1 (`commands::auth_cmds`, [`crate::scram`])
//! and each user has roles per project ([`crate::users`]), so a user of one
//! project cannot see or touch another's branches.
//!
//! [`check_access`] runs before every command. It reads what the command
//! needs from [`requirement`]: nothing (the handshake and SASL), any
//! authenticated user (the handler checks the project named in its
//! arguments, or filters its answer), a role on the project of `$db`
//! (`app`, `app~feature` and `app~main@1500` all belong to project `app`),
//! or `admin` on every project (user management and server diagnostics).
//! A command missing from the table needs `admin` on its project, so a new
//! command is closed until someone decides otherwise.
//!
//! Roles are looked up on every command, so dropping a user or taking a
//! role away applies to connections already authenticated.
//!
//! The localhost exception: with `--auth` and no users yet, a client on a
//! loopback address may run `createUser` (and `usersInfo`) without
//! authenticating, to create the first user, as `mongod` allows.

use bson::{Bson, Document};

use crate::commands::Ctx;
use crate::error::{code, CmdResult, CommandError};
use crate::scram::{Mechanism, ServerExchange};
use crate::state::ServerState;
use crate::users::{Role, ALL_PROJECTS};

/// An authenticated user.
#[derive(Clone, Debug)]
pub struct Principal {
    pub name: String,
}

/// An in-progress SASL exchange on one connection.
#[derive(Debug)]
pub struct SaslConversation {
    pub id: i32,
    pub user: String,
    pub mechanism: Mechanism,
    pub exchange: ServerExchange,
    /// The proof was checked and the server-final sent; the client still
    /// owes the empty message that ends MongoDB's original exchange.
    pub proven: bool,
    /// `saslStart`'s `options.skipEmptyExchange`: finish with the
    /// server-final instead of waiting for that empty message.
    pub skip_empty_exchange: bool,
}

/// What a command needs before its handler runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// Nothing: the handshake, SASL, `ping`, `logout`.
    Nothing,
    /// Any authenticated user; the handler checks the project named in its
    /// arguments, or shows only what the user may see.
    Authenticated,
    /// A role on the project of `$db` (`admin` on every project for the
    /// `admin`, `local` and `config` databases, which hold no project).
    OnDb(Role),
    /// A role on the project of each `db.collection` namespace.
    OnNamespaces(Role, Vec<String>),
    /// `admin` on every project.
    ServerAdmin,
}

/// The access table.
pub fn requirement(name: &str, cmd: &Document) -> Need {
    match name {
        "hello" | "isMaster" | "saslStart" | "saslContinue" | "ping" | "buildInfo" | "logout"
        | "whatsmyuri" | "connectionStatus" | "endSessions" | "refreshSessions" => Need::Nothing,
        "startSession" => Need::Authenticated,

        // Filtered by the handler: listDatabases, listProjects, usersInfo.
        // Checked by the handler: user management, branch and project admin.
        "listDatabases"
        | "listProjects"
        | "listCommands"
        | "getParameter"
        | "commitTransaction"
        | "abortTransaction"
        | "killSessions"
        | "usersInfo"
        | "createUser"
        | "updateUser"
        | "dropUser"
        | "grantRolesToUser"
        | "revokeRolesFromUser"
        | "dropAllUsersFromDatabase"
        | "rolesInfo"
        | "createProject"
        | "dropProject"
        | "createBranch"
        | "deleteBranch"
        | "protectBranch"
        | "unprotectBranch"
        | "resetBranch"
        | "restorePreview"
        | "timeTravelInfo"
        | "branchInfo"
        | "listBranches"
        | "history"
        | "storageInfo" => Need::Authenticated,

        // Server diagnostics, and the deployment's files (the WAL of every
        // project, the data dir's disk).
        "serverStatus"
        | "hostInfo"
        | "getCmdLineOpts"
        | "getLog"
        | "currentOp"
        | "killOp"
        | "killAllSessions"
        | "killAllSessionsByPattern"
        | "walDump"
        | "walVerify"
        | "dataDirHealth"
        | "replSetGetStatus"
        | "replSetGetConfig"
        | "fsync"
        | "fsyncUnlock"
        | "shutdown"
        | "top"
        | "lockInfo"
        | "connPoolStats"
        | "getDiagnosticData"
        | "getDefaultRWConcern"
        | "setDefaultRWConcern"
        | "setParameter" => Need::ServerAdmin,

        "find" | "count" | "distinct" | "listCollections" | "listIndexes" | "collStats" | "dbStats"
        | "dbHash" | "explain" | "getMore" | "killCursors" => Need::OnDb(Role::Read),
        // Its namespace names the database it reads.
        "dataSize" => Need::OnNamespaces(Role::Read, vec![cmd.get_str("dataSize").unwrap_or("").to_string()]),

        "aggregate" if first_stage_is(cmd, "$currentOp") => Need::ServerAdmin,
        // Skipping a collection's validator is a dbAdmin privilege in MongoDB.
        "insert" | "update" | "findAndModify" | "aggregate"
            if matches!(cmd.get("bypassDocumentValidation"), Some(Bson::Boolean(true))) =>
        {
            Need::OnDb(Role::Admin)
        }
        // Reads its own database; writes there or where `$out`/`$merge` say.
        "aggregate" if pipeline_writes(cmd) => match output_db(cmd) {
            Some(out) => {
                Need::OnNamespaces(Role::ReadWrite, vec![cmd.get_str("$db").unwrap_or("").to_string(), out])
            }
            None => Need::OnDb(Role::ReadWrite),
        },
        "aggregate" => Need::OnDb(Role::Read),
        // Inline results only read; an output collection is written.
        "mapReduce" => match cmd.get("out") {
            Some(Bson::Document(o)) if o.contains_key("inline") => Need::OnDb(Role::Read),
            Some(Bson::Document(o)) if o.get("db").is_some() => Need::OnNamespaces(
                Role::ReadWrite,
                vec![cmd.get_str("$db").unwrap_or("").to_string(), o.get_str("db").unwrap_or("").to_string()],
            ),
            _ => Need::OnDb(Role::ReadWrite),
        },

        "insert"
        | "update"
        | "delete"
        | "findAndModify"
        | "create"
        | "drop"
        | "createIndexes"
        | "dropIndexes"
        | "createSearchIndexes"
        | "convertToCapped"
        | "cloneCollectionAsCapped"
        | "updateSearchIndex"
        | "dropSearchIndex" => Need::OnDb(Role::ReadWrite),

        // Read-write on every database its operations name (admin there to
        // skip validators, as for insert and update).
        "bulkWrite" => Need::OnNamespaces(
            match cmd.get("bypassDocumentValidation") {
                Some(Bson::Boolean(true)) => Role::Admin,
                _ => Role::ReadWrite,
            },
            cmd.get_array("nsInfo")
                .map(|a| {
                    a.iter()
                        .filter_map(|i| {
                            i.as_document().and_then(|d| d.get_str("ns").ok()).map(str::to_string)
                        })
                        .collect()
                })
                .unwrap_or_default(),
        ),

        "renameCollection" => {
            let ns = |f: &str| cmd.get_str(f).unwrap_or("").to_string();
            Need::OnNamespaces(Role::ReadWrite, vec![ns("renameCollection"), ns("to")])
        }

        // dropDatabase of a branch's database empties the branch.
        _ => Need::OnDb(Role::Admin),
    }
}

/// Whether an aggregation's first stage is `stage`.
fn first_stage_is(cmd: &Document, stage: &str) -> bool {
    cmd.get_array("pipeline")
        .ok()
        .and_then(|p| p.first())
        .and_then(Bson::as_document)
        .is_some_and(|s| s.contains_key(stage))
}

/// Whether an aggregation writes (`$out` or `$merge`).
fn pipeline_writes(cmd: &Document) -> bool {
    let Ok(stages) = cmd.get_array("pipeline") else { return false };
    stages.iter().any(|s| match s {
        Bson::Document(d) => d.contains_key("$out") || d.contains_key("$merge"),
        _ => false,
    })
}

/// The database a pipeline's `$out: {db}` or `$merge: {into: {db}}` names.
fn output_db(cmd: &Document) -> Option<String> {
    let stage = cmd.get_array("pipeline").ok()?.last()?.as_document()?;
    let db = match (stage.get("$out"), stage.get("$merge")) {
        (Some(Bson::Document(out)), _) => out.get_str("db").ok(),
        (_, Some(Bson::Document(merge))) => merge.get_document("into").ok()?.get_str("db").ok(),
        _ => None,
    };
    db.map(str::to_string)
}

/// The authenticated user's name.
fn user_name<'a>(ctx: &'a Ctx<'_>) -> Option<&'a str> {
    ctx.conn.user.as_ref().map(|p| p.name.as_str())
}

/// Whether the localhost exception applies to this connection now.
pub fn localhost_exception(ctx: &Ctx<'_>) -> bool {
    let Some(users) = &ctx.state.auth else { return false };
    users.is_empty() && ctx.conn.local
}

/// Checks that the connection may run a command (before its handler).
pub fn check_access(ctx: &Ctx<'_>, name: &str, db: &str, cmd: &Document) -> CmdResult<()> {
    let Some(users) = &ctx.state.auth else { return Ok(()) };
    let need = requirement(name, cmd);
    if need == Need::Nothing {
        return Ok(());
    }
    let Some(user) = user_name(ctx) else {
        if matches!(name, "createUser" | "usersInfo") && localhost_exception(ctx) {
            return Ok(());
        }
        return Err(CommandError::new(code::UNAUTHORIZED, format!("Command {name} requires authentication")));
    };
    let denied = |role: Role, project: &str| {
        CommandError::new(
            code::UNAUTHORIZED,
            format!(
                "not authorized on {db} to execute command {name}: user {user} needs role {role} on {}",
                if project == ALL_PROJECTS {
                    "every project".to_string()
                } else {
                    format!("project {project}")
                }
            ),
        )
    };
    let on_db = |db: &str, role: Role| -> CmdResult<()> {
        // admin, local and config hold no project: server administrators only.
        let (project, role) = match project_of(db)? {
            Some(p) => (p, role),
            None => (ALL_PROJECTS.to_string(), Role::Admin),
        };
        if users.can(user, &project, role) {
            Ok(())
        } else {
            Err(denied(role, &project))
        }
    };
    match need {
        Need::Nothing | Need::Authenticated => Ok(()),
        Need::ServerAdmin => on_db("admin", Role::Admin),
        Need::OnDb(role) => on_db(db, role),
        Need::OnNamespaces(role, namespaces) => {
            for ns in namespaces {
                on_db(ns.split_once('.').map_or(ns.as_str(), |(d, _)| d), role)?;
            }
            Ok(())
        }
    }
}

/// The project a database belongs to; `None` for `admin`, `local` and
/// `config`, which only a server administrator may address.
fn project_of(db: &str) -> CmdResult<Option<String>> {
    if matches!(db, "admin" | "local" | "config") {
        return Ok(None);
    }
    argon_types::names::DbAddress::parse(db)
        .map(|a| Some(a.project))
        .map_err(|e| CommandError::new(code::INVALID_NAMESPACE, e.to_string()))
}

/// Whether the connection may see a project (listDatabases, listProjects).
pub fn can_see_project(ctx: &Ctx<'_>, project: &str) -> bool {
    match &ctx.state.auth {
        None => true,
        Some(users) => user_name(ctx).is_some_and(|u| users.can(u, project, Role::Read)),
    }
}

fn require(ctx: &Ctx<'_>, project: &str, role: Role) -> CmdResult<()> {
    let Some(users) = &ctx.state.auth else { return Ok(()) };
    match user_name(ctx) {
        Some(u) if users.can(u, project, role) => Ok(()),
        Some(u) => Err(CommandError::new(
            code::UNAUTHORIZED,
            format!("not authorized on project {project}: user {u} needs role {role} on it"),
        )),
        None => Err(CommandError::new(code::UNAUTHORIZED, "command requires authentication")),
    }
}

pub fn check_project_read(ctx: &Ctx<'_>, project: &str) -> CmdResult<()> {
    require(ctx, project, Role::Read)
}

pub fn check_project_admin(ctx: &Ctx<'_>, project: &str) -> CmdResult<()> {
    require(ctx, project, Role::Admin)
}

/// User management and server-wide commands.
pub fn check_server_admin(ctx: &Ctx<'_>, what: &str) -> CmdResult<()> {
    let Some(users) = &ctx.state.auth else { return Ok(()) };
    match user_name(ctx) {
        Some(u) if users.can(u, ALL_PROJECTS, Role::Admin) => Ok(()),
        Some(u) => Err(CommandError::new(
            code::UNAUTHORIZED,
            format!("not authorized to {what}: user {u} needs role admin on every project (admin@*)"),
        )),
        None => Err(CommandError::new(code::UNAUTHORIZED, format!("{what} requires authentication"))),
    }
}

/// The mechanisms a user can authenticate with (`saslSupportedMechs`,
/// which names the user as `db.user`). An unknown user gets both, so the
/// answer does not tell who exists.
pub fn supported_mechanisms(state: &ServerState, db_user: &str) -> Vec<String> {
    let user = db_user.split_once('.').map_or(db_user, |(_, u)| u);
    let mechs = state
        .auth
        .as_ref()
        .and_then(|u| u.get(user))
        .map(|r| r.mechanisms())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| Mechanism::ALL.to_vec());
    let mut mechs = mechs;
    mechs.sort_by_key(|m| std::cmp::Reverse(*m)); // SCRAM-SHA-256 first
    mechs.iter().map(|m| m.name().to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn every_registered_command_is_classified_on_purpose() {
        // Commands that fall to the default (admin on the project) must be
        // listed here, so adding one to the registry is a decision.
        // collMod, validate, profile and reIndex are dbAdmin commands in MongoDB.
        let default_admin = ["dropDatabase", "collMod", "validate", "profile", "reIndex"];
        for name in crate::commands::COMMAND_NAMES {
            let need = requirement(name, &doc! {});
            if need == Need::OnDb(Role::Admin) {
                assert!(default_admin.contains(name), "{name} falls to the default; classify it in auth.rs");
            }
        }
    }

    #[test]
    fn bulk_write_needs_read_write_on_every_namespace_it_names() {
        let cmd = doc! { "bulkWrite": 1, "nsInfo": [{"ns": "a.x"}, {"ns": "b~dev.y"}] };
        assert_eq!(
            requirement("bulkWrite", &cmd),
            Need::OnNamespaces(Role::ReadWrite, vec!["a.x".to_string(), "b~dev.y".to_string()])
        );
        let mut bypass = cmd.clone();
        bypass.insert("bypassDocumentValidation", true);
        assert!(matches!(requirement("bulkWrite", &bypass), Need::OnNamespaces(Role::Admin, _)));
    }

    #[test]
    fn reads_writes_and_admin_are_told_apart() {
        assert_eq!(requirement("find", &doc! {}), Need::OnDb(Role::Read));
        assert_eq!(requirement("insert", &doc! {}), Need::OnDb(Role::ReadWrite));
        assert_eq!(
            requirement("insert", &doc! { "bypassDocumentValidation": true }),
            Need::OnDb(Role::Admin),
            "skipping a validator is a dbAdmin privilege"
        );
        assert_eq!(
            requirement("aggregate", &doc! { "pipeline": [{ "$match": {} }, { "$out": "x" }] }),
            Need::OnDb(Role::ReadWrite)
        );
        assert_eq!(
            requirement("aggregate", &doc! { "pipeline": [{ "$match": {} }] }),
            Need::OnDb(Role::Read)
        );
        assert_eq!(requirement("serverStatus", &doc! {}), Need::ServerAdmin);
        for deployment in ["walDump", "walVerify", "dataDirHealth"] {
            assert_eq!(requirement(deployment, &doc! {}), Need::ServerAdmin, "{deployment}");
        }
        assert_eq!(requirement("somethingNew", &doc! {}), Need::OnDb(Role::Admin));
        assert_eq!(
            requirement("renameCollection", &doc! { "renameCollection": "a.x", "to": "b.y" }),
            Need::OnNamespaces(Role::ReadWrite, vec!["a.x".into(), "b.y".into()])
        );
    }

    #[test]
    fn projects_of_branch_and_view_databases() {
        assert_eq!(project_of("app").unwrap().as_deref(), Some("app"));
        assert_eq!(project_of("app~feature").unwrap().as_deref(), Some("app"));
        assert_eq!(project_of("app~main@12").unwrap().as_deref(), Some("app"));
        assert_eq!(project_of("admin").unwrap(), None);
        assert!(project_of("bad name").is_err());
    }
}
