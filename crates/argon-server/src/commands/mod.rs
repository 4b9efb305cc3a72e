//! Command handlers, one file per command (or per family of tiny ones), and
//! the registry that maps a command name to its handler.
//!
//! [`dispatch`] does what every command shares: find the name and `$db`,
//! check authentication, attach the session's transaction or retryable-write
//! state, run the handler, and add `ok`, `$clusterTime` and `operationTime`.

mod admin_branch;
mod aggregate;
mod auth_cmds;
mod bulk_write;
mod count;
mod create;
mod crud_delete;
pub(crate) mod crud_insert;
pub(crate) mod crud_update;
mod cursor_cmds;
mod data_dir_health;
mod data_size;
mod db_hash;
mod diagnostics;
mod distinct;
mod drop;
mod explain;
mod find;
mod find_and_modify;
mod fsync;
mod handshake;
mod history;
mod indexes;
mod list;
mod map_reduce;
mod profile;
mod roles;
mod rw_concern;
pub(crate) use diagnostics::scale_of;
pub(crate) use rw_concern::DefaultRwConcern;
pub mod search_indexes;
mod shutdown;
mod storage_info;
mod system_db;
mod transactions;
mod validate;
mod wal_dump;
mod wal_verify;

use std::sync::Arc;

pub use list::db_name;
pub use wal_verify::VerifyJobs;

use argon_store::{At, CommitTime, Lsn, Snapshot};
use argon_types::collation::Collation;
use bson::{Bson, Document};

use crate::connection::ConnState;
use crate::error::{code, CmdResult, CommandError};
use crate::ops::long_running;
use crate::session::{session_key, Txn, TxnState};
use crate::source::Source;
use crate::state::{ServerState, Target};
use argon_query::compare::with_collation;

/// What a handler can reach.
pub struct Ctx<'c> {
    pub state: Arc<ServerState>,
    pub conn: &'c mut ConnState,
}

/// What a handler needs about one invocation.
pub struct Call {
    pub name: String,
    pub db: String,
    /// Shared with the operation registry (`currentOp`).
    pub cmd: std::sync::Arc<Document>,
    /// The session's transaction, when the command runs inside one.
    pub txn: Option<Txn>,
    /// The commit point of the command's write, for `operationTime`.
    pub op_time: Option<(Lsn, CommitTime)>,
    /// `readConcern.atClusterTime`, resolved.
    pub at: Option<At>,
    pub session: Option<Vec<u8>>,
}

impl Call {
    /// The branch addressed by `$db`.
    pub fn target(&self, ctx: &Ctx<'_>) -> CmdResult<Target> {
        ctx.state.target(&self.db)
    }

    /// Opens the snapshot a read runs on: the transaction's, or
    /// `atClusterTime`'s, or the view's LSN, or the head.
    pub fn snapshot(&mut self, ctx: &Ctx<'_>, target: &Target) -> CmdResult<Snapshot> {
        let store = &ctx.state.store;
        if let Some(txn) = self.txn.as_mut() {
            if let Some(view) = &txn.view {
                if txn.target.as_ref().map(|t| &t.db) != Some(&target.db) {
                    return Err(CommandError::new(
                        code::OPERATION_NOT_SUPPORTED_IN_TRANSACTION,
                        "a transaction in Argon reads and writes one branch (one database)",
                    ));
                }
                return Ok(store.reopen(view)?);
            }
            let at = self.at.unwrap_or(target.at());
            let snap = store.snapshot(&target.project, &target.branch, at)?;
            txn.view = Some(snap.view().clone());
            txn.target = Some(target.clone());
            return Ok(snap);
        }
        let at = match (self.at, target.view_lsn) {
            (Some(At::Lsn(a)), Some(v)) => At::Lsn(a.min(v)),
            (Some(a), _) => a,
            (None, _) => target.at(),
        };
        Ok(store.snapshot(&target.project, &target.branch, at)?)
    }

    /// A reader over a snapshot plus the transaction's own writes.
    pub fn source<'s>(&'s self, snap: &'s Snapshot) -> Source<'s> {
        Source { snap, overlay: self.txn.as_ref().map(|t| &t.overlay) }
    }
}

/// MongoDB's other spellings of command names, and the names they stand
/// for. [`dispatch`] renames them first, so everything after sees one name.
const ALIASES: &[(&str, &str)] = &[
    ("buildinfo", "buildInfo"),
    ("collstats", "collStats"),
    ("dbstats", "dbStats"),
    ("deleteIndexes", "dropIndexes"),
    ("findandmodify", "findAndModify"),
    ("ismaster", "isMaster"),
    ("mapreduce", "mapReduce"),
];

/// `cmd` with an alias as its name (first key) renamed to the command's own
/// name, its value and the other fields kept in order.
fn with_canonical_name(cmd: Document) -> Document {
    let Some(first) = cmd.keys().next() else { return cmd };
    let Some(&(_, name)) = ALIASES.iter().find(|(alias, _)| alias == first) else { return cmd };
    cmd.into_iter()
        .enumerate()
        .map(|(i, (k, v))| if i == 0 { (name.to_string(), v) } else { (k, v) })
        .collect()
}

/// Runs one command document.
pub async fn dispatch(ctx: &mut Ctx<'_>, cmd: Document) -> CmdResult<Document> {
    let cmd = with_canonical_name(cmd);
    // Registered for currentOp while it runs; killOp ends it at its next
    // await (or its next interruption check in a long loop).
    let state = ctx.state.clone();
    let name = cmd.keys().next().cloned().unwrap_or_default();
    let db = cmd.get_str("$db").unwrap_or_default().to_string();
    let cmd = std::sync::Arc::new(cmd);
    if name != "getMore" {
        crate::ops::max_time(&cmd)?;
    }
    let guard = state.ops.begin(ctx.conn.id, &ctx.conn.peer, &name, &db, &cmd);
    let op = guard.op.clone();
    // `maxTimeMS` ends it the same ways: at an await, or at a check.
    let result = tokio::select! {
        biased;
        _ = op.killed() => Err(crate::ops::interrupted()),
        _ = op.expired() => Err(crate::ops::time_limit_exceeded()),
        r = crate::ops::scope(op.clone(), dispatch_command(ctx, cmd)) => r,
    };
    if state.profiler.any() {
        crate::profiler::record(&state, &op, ctx.conn.user.as_ref().map(|p| p.name.as_str()), &result);
    }
    result
}

async fn dispatch_command(ctx: &mut Ctx<'_>, cmd: std::sync::Arc<Document>) -> CmdResult<Document> {
    let name = cmd.keys().next().cloned().ok_or_else(|| CommandError::bad_value("empty command document"))?;
    let db = match cmd.get("$db") {
        Some(Bson::String(s)) => s.clone(),
        Some(_) => return Err(CommandError::type_mismatch("$db must be a string")),
        None => {
            return Err(CommandError::new(code::FAILED_TO_PARSE, "OP_MSG requests require a $db argument"))
        }
    };
    crate::auth::check_access(ctx, &name, &db, &cmd)?;
    ctx.state.metrics.ops_command.fetch_add(1, std::sync::atomic::Ordering::Relaxed);

    let session = match cmd.get("lsid") {
        Some(Bson::Document(l)) => Some(session_key(l)),
        Some(_) => return Err(CommandError::type_mismatch("lsid must be an object")),
        None => None,
    };
    let txn_number = match cmd.get("txnNumber") {
        Some(Bson::Int64(n)) => Some(*n),
        Some(Bson::Int32(n)) => Some(*n as i64),
        Some(_) => return Err(CommandError::type_mismatch("txnNumber must be a long")),
        None => None,
    };
    check_collation(&cmd)?;
    let autocommit_false = matches!(cmd.get("autocommit"), Some(Bson::Boolean(false)));
    let start_txn = matches!(cmd.get("startTransaction"), Some(Bson::Boolean(true)));
    let at = read_concern_at(ctx, &cmd)?;

    let mut call =
        Call { name: name.clone(), db, cmd, txn: None, op_time: None, at, session: session.clone() };

    // Transactions: attach the session's transaction to this call.
    if autocommit_false {
        let (Some(key), Some(number)) = (&session, txn_number) else {
            return Err(CommandError::bad_value("a transaction needs lsid and txnNumber"));
        };
        let existing = ctx.state.sessions.take_txn(key);
        let txn = if start_txn {
            if existing.as_ref().is_some_and(|t| t.number > number) {
                return Err(CommandError::new(
                    (225, "TransactionTooOld"),
                    format!("txnNumber {number} is less than the session's last transaction"),
                ));
            }
            Txn::new(number)
        } else {
            match existing {
                Some(t) if t.number == number => t,
                other => {
                    if let Some(t) = other {
                        ctx.state.sessions.put_txn(key, t);
                    }
                    return Err(CommandError::new(
                        code::NO_SUCH_TRANSACTION,
                        format!("Transaction with txnNumber {number} has been aborted or does not exist"),
                    )
                    .with_label("TransientTransactionError"));
                }
            }
        };
        if txn.state == TxnState::Aborted && name != "abortTransaction" {
            ctx.state.sessions.put_txn(key, txn);
            return Err(CommandError::new(
                code::NO_SUCH_TRANSACTION,
                format!("Transaction with txnNumber {number} has been aborted"),
            )
            .with_label("TransientTransactionError"));
        }
        call.txn = Some(txn);
        let result = if allowed_in_transaction(&name) {
            run_handler(ctx, &mut call).await
        } else {
            Err(CommandError::new(
                code::OPERATION_NOT_SUPPORTED_IN_TRANSACTION,
                format!("Cannot run '{name}' in a multi-document transaction."),
            ))
        };
        if let Some(mut txn) = call.txn.take() {
            // A failed statement aborts the transaction (MongoDB does the same).
            if result.is_err() && txn.state == TxnState::Active && name != "commitTransaction" {
                txn.state = TxnState::Aborted;
            }
            ctx.state.sessions.put_txn(key, txn);
        }
        return finish(ctx, &call, result.map_err(transient_label));
    }

    // Retryable writes: answer a retry from the stored reply.
    let retryable = txn_number.is_some() && session.is_some() && is_retryable_write(&name);
    if retryable {
        if let Some(reply) =
            ctx.state.sessions.retried_reply(session.as_ref().expect("checked"), txn_number.unwrap_or(0))
        {
            return Ok(reply);
        }
    }
    let result = run_handler(ctx, &mut call).await;
    let reply = finish(ctx, &call, result)?;
    if retryable {
        ctx.state.sessions.store_reply(
            session.as_ref().expect("checked"),
            txn_number.unwrap_or(0),
            reply.clone(),
        );
    }
    Ok(reply)
}

fn transient_label(e: CommandError) -> CommandError {
    if e.code == code::WRITE_CONFLICT.0 || e.code == code::NO_SUCH_TRANSACTION.0 {
        e.with_label("TransientTransactionError")
    } else {
        e
    }
}

/// The commands MongoDB runs inside a multi-document transaction (others,
/// `collMod`, `count`, `validate`, `drop`..., fail with 263).
fn allowed_in_transaction(name: &str) -> bool {
    matches!(
        name,
        "find"
            | "getMore"
            | "killCursors"
            | "insert"
            | "update"
            | "delete"
            | "findAndModify"
            | "bulkWrite"
            | "aggregate"
            | "distinct"
            | "create"
            | "createIndexes"
            | "commitTransaction"
            | "abortTransaction"
            | "hello"
            | "isMaster"
            | "ping"
            | "buildInfo"
            | "connectionStatus"
    )
}

fn is_retryable_write(name: &str) -> bool {
    matches!(name, "insert" | "update" | "delete" | "findAndModify" | "bulkWrite")
}

fn finish(ctx: &Ctx<'_>, call: &Call, result: CmdResult<Document>) -> CmdResult<Document> {
    let mut reply = result?;
    if !reply.contains_key("ok") {
        reply.insert("ok", 1.0);
    }
    for (k, v) in ctx.state.time_fields(call.op_time) {
        reply.insert(k, v);
    }
    Ok(reply)
}

/// `readConcern: {level: "snapshot", atClusterTime: T}`.
fn read_concern_at(ctx: &Ctx<'_>, cmd: &Document) -> CmdResult<Option<At>> {
    let Some(rc) = cmd.get("readConcern") else { return Ok(None) };
    let Bson::Document(rc) = rc else {
        return Err(CommandError::type_mismatch("readConcern must be an object"));
    };
    if let Some(level) = rc.get("level") {
        match level {
            Bson::String(s)
                if matches!(s.as_str(), "local" | "majority" | "linearizable" | "available" | "snapshot") => {
            }
            Bson::String(s) => {
                return Err(CommandError::bad_value(format!("Invalid read concern level: {s}")))
            }
            _ => return Err(CommandError::type_mismatch("readConcern.level must be a string")),
        }
    }
    match rc.get("atClusterTime") {
        None => Ok(None),
        Some(Bson::Timestamp(ts)) => {
            if !matches!(rc.get("level"), Some(Bson::String(s)) if s == "snapshot") {
                return Err(CommandError::new(
                    code::INVALID_OPTIONS,
                    "atClusterTime is only allowed with readConcern level snapshot",
                ));
            }
            Ok(Some(ctx.state.at_cluster_time(*ts)))
        }
        Some(_) => Err(CommandError::type_mismatch("readConcern.atClusterTime must be a timestamp")),
    }
}

/// The registry: command name → handler. Alphabetical. Handlers that may
/// scan for long run their scanning part through [`long_running`].
async fn run_handler(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    if system_db::is_system_db(&call.db) {
        if let Some(reply) = system_db::empty_read(ctx, call)? {
            return Ok(reply);
        }
    }
    let name = call.name.clone();
    match name.as_str() {
        "abortTransaction" => transactions::abort(ctx, call).await,
        "aggregate" => aggregate::run(ctx, call).await,
        "branchInfo" => admin_branch::branch_info(ctx, call).await,
        "buildInfo" => handshake::build_info(ctx, call),
        "collStats" => diagnostics::coll_stats(ctx, call),
        "commitTransaction" => transactions::commit(ctx, call).await,
        "connectionStatus" => auth_cmds::connection_status(ctx, call),
        "connPoolStats" => diagnostics::conn_pool_stats(ctx, call),
        "count" => {
            let c = read_collation(ctx, call, &call.cmd)?;
            long_running(|| with_collation(c.as_ref(), || count::run(ctx, call)))
        }
        "bulkWrite" => bulk_write::run(ctx, call).await,
        "collMod" => create::coll_mod(ctx, call).await,
        "convertToCapped" | "cloneCollectionAsCapped" => create::to_capped(ctx, call).await,
        "create" => create::run(ctx, call).await,
        "createBranch" => admin_branch::create_branch(ctx, call).await,
        "createIndexes" => indexes::create(ctx, call).await,
        "createSearchIndexes" => search_indexes::create(ctx, call).await,
        "updateSearchIndex" => search_indexes::update(ctx, call).await,
        "dropSearchIndex" => search_indexes::drop(ctx, call).await,
        "createProject" => admin_branch::create_project(ctx, call).await,
        "createUser" => auth_cmds::create_user(ctx, call),
        "currentOp" => diagnostics::current_op(ctx, call),
        "dataDirHealth" => data_dir_health::run(ctx, call).await,
        "dataSize" => data_size::run(ctx, call),
        "dbHash" => db_hash::run(ctx, call),
        "dbStats" => diagnostics::db_stats(ctx, call),
        "delete" => crud_delete::run(ctx, call).await,
        "deleteBranch" => admin_branch::delete_branch(ctx, call).await,
        "distinct" => {
            let c = read_collation(ctx, call, &call.cmd)?;
            long_running(|| with_collation(c.as_ref(), || distinct::run(ctx, call)))
        }
        "drop" => drop::collection(ctx, call).await,
        "dropDatabase" => drop::database(ctx, call).await,
        "dropIndexes" => indexes::drop_indexes(ctx, call).await,
        "dropProject" => admin_branch::drop_project(ctx, call).await,
        "dropUser" => auth_cmds::drop_user(ctx, call),
        "endSessions" => transactions::end_sessions(ctx, call),
        "explain" => {
            let inner = call.cmd.get_document("explain").cloned().unwrap_or_default();
            let c = read_collation(ctx, call, &inner)?;
            long_running(|| with_collation(c.as_ref(), || explain::run(ctx, call)))
        }
        "find" => {
            // (Counted here: a query over its inline budget runs twice.)
            ctx.state.metrics.ops_query.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let c = read_collation(ctx, call, &call.cmd)?;
            long_running(|| with_collation(c.as_ref(), || find::run(ctx, call)))
        }
        "findAndModify" => find_and_modify::run(ctx, call).await,
        "getCmdLineOpts" => diagnostics::get_cmd_line_opts(ctx, call),
        "getDiagnosticData" => diagnostics::get_diagnostic_data(ctx, call),
        "getLog" => diagnostics::get_log(ctx, call),
        "getMore" => cursor_cmds::get_more(ctx, call).await,
        "fsync" => fsync::fsync(ctx, call).await,
        "fsyncUnlock" => fsync::fsync_unlock(ctx, call).await,
        "getParameter" => diagnostics::get_parameter(ctx, call),
        "getDefaultRWConcern" => rw_concern::get(ctx, call),
        "setDefaultRWConcern" => rw_concern::set(ctx, call),
        "mapReduce" => map_reduce::run(ctx, call).await,
        "setParameter" => diagnostics::set_parameter(ctx, call),
        "shutdown" => shutdown::run(ctx, call).await,
        "hello" | "isMaster" => auth_cmds::hello(ctx, call),
        "history" => history::run(ctx, call),
        "hostInfo" => diagnostics::host_info(ctx, call),
        "insert" => crud_insert::run(ctx, call).await,
        "killCursors" => cursor_cmds::kill_cursors(ctx, call),
        "killOp" => diagnostics::kill_op(ctx, call),
        "killSessions" => transactions::kill_sessions(ctx, call),
        "killAllSessions" | "killAllSessionsByPattern" => transactions::kill_all_sessions(ctx, call),
        "refreshSessions" => transactions::refresh_sessions(ctx, call),
        "startSession" => transactions::start_session(ctx, call),
        "listBranches" => admin_branch::list_branches(ctx, call),
        "listCollections" => list::collections(ctx, call),
        "listCommands" => diagnostics::list_commands(ctx, call),
        "lockInfo" => diagnostics::lock_info(ctx, call),
        "listDatabases" => list::databases(ctx, call),
        "listIndexes" => indexes::list(ctx, call),
        "listProjects" => admin_branch::list_projects(ctx, call),
        "logout" => auth_cmds::logout(ctx, call),
        "ping" => Ok(Document::new()),
        "protectBranch" => admin_branch::protect_branch(ctx, call, true).await,
        "renameCollection" => drop::rename(ctx, call).await,
        // What mongod (6.0 on) answers on a replica set member.
        "reIndex" => Err(CommandError::new(
            code::ILLEGAL_OPERATION,
            "reIndex is only allowed on a standalone mongod instance; Argon serves as a replica set primary, and its indexes are kept up to date by every commit (`argon wal rebuild-index` rebuilds them from the WAL)",
        )),
        "resetBranch" => admin_branch::reset_branch(ctx, call).await,
        "restorePreview" => admin_branch::restore_preview(ctx, call),
        "saslContinue" => auth_cmds::sasl_continue(ctx, call),
        "saslStart" => auth_cmds::sasl_start(ctx, call),
        "serverStatus" => diagnostics::server_status(ctx, call),
        "storageInfo" => storage_info::run(ctx, call).await,
        "timeTravelInfo" => admin_branch::time_travel_info(ctx, call),
        "top" => diagnostics::top(ctx, call),
        "unprotectBranch" => admin_branch::protect_branch(ctx, call, false).await,
        "update" => crud_update::run(ctx, call).await,
        "updateUser" => auth_cmds::update_user(ctx, call),
        "usersInfo" => auth_cmds::users_info(ctx, call),
        "grantRolesToUser" => auth_cmds::change_user_roles(ctx, call, true),
        "revokeRolesFromUser" => auth_cmds::change_user_roles(ctx, call, false),
        "dropAllUsersFromDatabase" => auth_cmds::drop_all_users(ctx, call),
        "rolesInfo" => roles::roles_info(ctx, call),
        "replSetGetStatus" => handshake::repl_set_get_status(ctx, call),
        "replSetGetConfig" => handshake::repl_set_get_config(ctx, call),
        "profile" => profile::run(ctx, call).await,
        "validate" => validate::run(ctx, call),
        "walDump" => wal_dump::run(ctx, call).await,
        "walVerify" => wal_verify::run(ctx, call).await,
        "whatsmyuri" => handshake::whatsmyuri(ctx, call),
        other => Err(CommandError::new(code::COMMAND_NOT_FOUND, format!("no such command: '{other}'"))),
    }
}

/// Checks every collation a command carries (the command's, its update
/// and delete statements', its index specs'), with MongoDB's errors for a
/// malformed one.
fn check_collation(cmd: &Document) -> CmdResult<()> {
    if let Some(c) = cmd.get("collation") {
        parse_collation(c)?;
    }
    for list in ["updates", "deletes", "indexes"] {
        if let Ok(items) = cmd.get_array(list) {
            for item in items.iter().filter_map(Bson::as_document) {
                if let Some(c) = item.get("collation") {
                    parse_collation(c)?;
                }
            }
        }
    }
    Ok(())
}

/// Parses a `collation` value (`None`: the simple collation).
pub fn parse_collation(v: &Bson) -> CmdResult<Option<Arc<Collation>>> {
    Collation::from_bson(v).map_err(|e| CommandError::new((e.code, e.code_name), e.message))
}

/// The collation a command (or statement) runs with: its own `collation`
/// when it has one (`{locale: "simple"}` included), else the default
/// collation of `coll`.
pub fn collation_for(
    ctx: &Ctx<'_>,
    call: &Call,
    cmd: &Document,
    coll: Option<&str>,
) -> CmdResult<Option<Arc<Collation>>> {
    match cmd.get("collation") {
        Some(v) => parse_collation(v),
        None => Ok(coll.and_then(|c| default_collation(ctx, call, c))),
    }
}

/// A collection's default collation (`create` with `collation`), from the
/// catalog of the branch head.
pub fn default_collation(ctx: &Ctx<'_>, call: &Call, coll: &str) -> Option<Arc<Collation>> {
    let target = call.target(ctx).ok()?;
    let catalog = ctx.state.store.head_catalog(&target.project, &target.branch).ok()?;
    let spec = catalog.get(coll)?.options.get_document("collation").ok()?;
    Collation::parse(spec).ok().flatten()
}

/// The collation of a read command (`find`, `count`, `distinct`, an
/// `explain`ed one), whose first field names its collection.
fn read_collation(ctx: &Ctx<'_>, call: &Call, cmd: &Document) -> CmdResult<Option<Arc<Collation>>> {
    let coll = cmd.values().next().and_then(Bson::as_str);
    collation_for(ctx, call, cmd, coll)
}

/// Refuses a command sent to another database than `admin` (13
/// Unauthorized, mongod's answer for admin-only commands).
pub(crate) fn admin_only(call: &Call, name: &str) -> CmdResult<()> {
    if call.db == "admin" {
        return Ok(());
    }
    Err(CommandError::new(code::UNAUTHORIZED, format!("{name} may only be run against the admin database.")))
}

/// Every command name the registry knows, for `listCommands`.
pub const COMMAND_NAMES: &[&str] = &[
    "abortTransaction",
    "aggregate",
    "branchInfo",
    "buildInfo",
    "bulkWrite",
    "cloneCollectionAsCapped",
    "collMod",
    "collStats",
    "convertToCapped",
    "commitTransaction",
    "connPoolStats",
    "connectionStatus",
    "count",
    "create",
    "createBranch",
    "createIndexes",
    "createProject",
    "createSearchIndexes",
    "createUser",
    "currentOp",
    "dataDirHealth",
    "dataSize",
    "dbHash",
    "dbStats",
    "delete",
    "deleteBranch",
    "distinct",
    "drop",
    "dropDatabase",
    "dropIndexes",
    "dropProject",
    "dropSearchIndex",
    "dropUser",
    "dropAllUsersFromDatabase",
    "endSessions",
    "explain",
    "find",
    "findAndModify",
    "fsync",
    "fsyncUnlock",
    "getCmdLineOpts",
    "getDefaultRWConcern",
    "getDiagnosticData",
    "getLog",
    "getMore",
    "getParameter",
    "grantRolesToUser",
    "hello",
    "history",
    "hostInfo",
    "insert",
    "isMaster",
    "killCursors",
    "killOp",
    "killSessions",
    "killAllSessions",
    "killAllSessionsByPattern",
    "listBranches",
    "listCollections",
    "listCommands",
    "listDatabases",
    "listIndexes",
    "listProjects",
    "lockInfo",
    "logout",
    "mapReduce",
    "ping",
    "profile",
    "protectBranch",
    "refreshSessions",
    "reIndex",
    "renameCollection",
    "replSetGetConfig",
    "replSetGetStatus",
    "resetBranch",
    "revokeRolesFromUser",
    "rolesInfo",
    "restorePreview",
    "saslContinue",
    "saslStart",
    "serverStatus",
    "setDefaultRWConcern",
    "setParameter",
    "shutdown",
    "startSession",
    "storageInfo",
    "timeTravelInfo",
    "top",
    "unprotectBranch",
    "update",
    "updateSearchIndex",
    "updateUser",
    "usersInfo",
    "validate",
    "walDump",
    "walVerify",
    "whatsmyuri",
];
