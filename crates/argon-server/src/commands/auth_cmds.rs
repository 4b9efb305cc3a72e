//! Authentication commands: `saslStart`, `saslContinue` (and the
//! speculative `saslStart` inside `hello`), `logout`, `connectionStatus`,
//! and user management (`createUser`, `updateUser`, `dropUser`,
//! `usersInfo`, `grantRolesToUser`, `revokeRolesFromUser`,
//! `dropAllUsersFromDatabase`).
//!
//! A SCRAM conversation, as MongoDB runs it (conversation id 1):
//!
//! ```text
//!  saslStart    {mechanism, payload: client-first}  ─▶ {done: false, payload: server-first}
//!  saslContinue {payload: client-final}             ─▶ {done: false, payload: v=...}
//!  saslContinue {payload: ""}                       ─▶ {done: true,  payload: ""}
//! ```
//!
//! With `options: {skipEmptyExchange: true}` (every current driver) the
//! second reply is already `done: true`. A driver may send the `saslStart`
//! inside its `hello` as `speculativeAuthenticate`, and gets the
//! server-first back in the `hello` reply.
//!
//! Every failure of the exchange answers `18 AuthenticationFailed` with the
//! same message, whether the user is unknown or the proof is wrong; the
//! reason goes to the log.

use std::sync::atomic::Ordering;

use bson::spec::BinarySubtype;
use bson::{doc, Binary, Bson, Document};

use super::{Call, Ctx};
use crate::args::Args;
use crate::auth::{Principal, SaslConversation};
use crate::error::{code, CmdResult, CommandError};
use crate::scram::{ClientFirst, Mechanism, ServerExchange};
use crate::users::{validate_user_name, Grant, UserRecord, Users, UsersError};

const CONVERSATION_ID: i32 = 1;
const MECHANISM_UNAVAILABLE: (i32, &str) = (334, "MechanismUnavailable");
const ROLE_NOT_FOUND: (i32, &str) = (31, "RoleNotFound");
/// MongoDB's code for "user already exists".
const USER_EXISTS: (i32, &str) = (51003, "Location51003");

fn auth_disabled() -> CommandError {
    CommandError::new(
        code::AUTHENTICATION_FAILED,
        "authentication is not enabled on this server; start argon serve with --auth",
    )
}

fn users<'s>(ctx: &'s Ctx<'_>) -> CmdResult<&'s Users> {
    ctx.state.auth.as_ref().ok_or_else(auth_disabled)
}

fn binary(bytes: Vec<u8>) -> Bson {
    Bson::Binary(Binary { subtype: BinarySubtype::Generic, bytes })
}

/// A SASL payload: binary, or (older shells) a string.
fn payload(cmd: &Document) -> CmdResult<Vec<u8>> {
    match cmd.get("payload") {
        Some(Bson::Binary(b)) => Ok(b.bytes.clone()),
        Some(Bson::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(_) => Err(CommandError::type_mismatch("payload must be binary data or a string")),
        None => Err(crate::args::missing("sasl", "payload")),
    }
}

/// Records a failed exchange and answers it, the same way whatever the reason.
fn failed(ctx: &Ctx<'_>, user: Option<&str>, mechanism: &str, reason: &str) -> CommandError {
    ctx.state.metrics.auth_failures.fetch_add(1, Ordering::Relaxed);
    tracing::info!(
        conn = ctx.conn.id,
        peer = %ctx.conn.peer,
        user = user.unwrap_or("?"),
        mechanism,
        "authentication failed: {reason}"
    );
    CommandError::new(code::AUTHENTICATION_FAILED, "Authentication failed.")
}

pub fn sasl_start(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    users(ctx)?;
    begin(ctx, &call.cmd)
}

/// `saslStart` (or the speculative one in `hello`): parse client-first,
/// find the credential, answer server-first.
fn begin(ctx: &mut Ctx<'_>, cmd: &Document) -> CmdResult<Document> {
    let a = Args::new(cmd, "saslStart");
    let name = a.req_str("mechanism")?;
    let mech = Mechanism::from_name(name).ok_or_else(|| {
        CommandError::new(
            MECHANISM_UNAVAILABLE,
            format!("Received authentication for mechanism {name} which is not enabled"),
        )
    })?;
    let bytes = payload(cmd)?;
    let skip_empty_exchange =
        a.doc("options")?.and_then(|o| o.get_bool("skipEmptyExchange").ok()).unwrap_or(false);
    // A new saslStart abandons any earlier conversation on the connection.
    ctx.conn.sasl = None;
    let first = ClientFirst::parse(&bytes).map_err(|e| failed(ctx, None, name, &e.to_string()))?;
    let credential = users(ctx)?.get(&first.user).and_then(|u| u.credential(mech));
    let Some(credential) = credential else {
        return Err(failed(
            ctx,
            Some(&first.user),
            name,
            "no such user, or no credential for this mechanism",
        ));
    };
    let (exchange, server_first) = ServerExchange::start(mech, &first, credential);
    ctx.conn.sasl = Some(SaslConversation {
        id: CONVERSATION_ID,
        user: first.user,
        mechanism: mech,
        exchange,
        proven: false,
        skip_empty_exchange,
    });
    Ok(
        doc! { "conversationId": CONVERSATION_ID, "done": false, "payload": binary(server_first.into_bytes()) },
    )
}

pub fn sasl_continue(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    users(ctx)?;
    let bytes = payload(&call.cmd)?;
    let Some(mut conv) = ctx.conn.sasl.take() else {
        return Err(CommandError::new(code::PROTOCOL_ERROR, "No SASL session state found"));
    };
    let id = match call.cmd.get("conversationId") {
        Some(Bson::Int32(i)) => *i as i64,
        Some(Bson::Int64(i)) => *i,
        Some(Bson::Double(d)) => *d as i64,
        _ => return Err(CommandError::type_mismatch("conversationId must be a number")),
    };
    if id != conv.id as i64 {
        return Err(CommandError::bad_value(format!("no SASL conversation with id {id}")));
    }
    let mech = conv.mechanism.name();
    if conv.proven {
        // MongoDB's original ending: the client acknowledges server-final.
        if !bytes.is_empty() {
            return Err(failed(ctx, Some(&conv.user), mech, "unexpected payload after server-final"));
        }
        authenticated(ctx, &conv);
        return Ok(doc! { "conversationId": conv.id, "done": true, "payload": binary(vec![]) });
    }
    let server_final =
        conv.exchange.finish(&bytes).map_err(|e| failed(ctx, Some(&conv.user), mech, &e.to_string()))?;
    let done = conv.skip_empty_exchange;
    if done {
        authenticated(ctx, &conv);
    } else {
        conv.proven = true;
        ctx.conn.sasl = Some(conv);
    }
    Ok(doc! { "conversationId": CONVERSATION_ID, "done": done, "payload": binary(server_final.into_bytes()) })
}

fn authenticated(ctx: &mut Ctx<'_>, conv: &SaslConversation) {
    ctx.state.metrics.auth_successes.fetch_add(1, Ordering::Relaxed);
    tracing::debug!(conn = ctx.conn.id, user = %conv.user, mechanism = conv.mechanism.name(), "authenticated");
    ctx.conn.user = Some(Principal { name: conv.user.clone() });
}

/// `hello` plus speculative authentication: a `saslStart` in the
/// handshake, answered in the same reply. A failed speculative start is
/// left out of the reply; the driver then authenticates the usual way and
/// gets the error there.
pub fn hello(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let mut reply = super::handshake::hello(ctx, call)?;
    if ctx.state.auth.is_some() {
        if let Ok(spec) = call.cmd.get_document("speculativeAuthenticate") {
            if spec.contains_key("saslStart") {
                if let Ok(first) = begin(ctx, spec) {
                    reply.insert("speculativeAuthenticate", first);
                }
            }
        }
    }
    Ok(reply)
}

pub fn logout(ctx: &mut Ctx<'_>, _call: &mut Call) -> CmdResult<Document> {
    ctx.conn.user = None;
    ctx.conn.sasl = None;
    Ok(Document::new())
}

pub fn connection_status(ctx: &mut Ctx<'_>, _call: &mut Call) -> CmdResult<Document> {
    let mut users_out = Vec::new();
    let mut roles_out = Vec::new();
    if let Some(p) = &ctx.conn.user {
        users_out.push(Bson::Document(doc! { "user": &p.name, "db": "admin" }));
        if let Some(rec) = ctx.state.auth.as_ref().and_then(|u| u.get(&p.name)) {
            roles_out.extend(rec.roles.iter().map(grant_doc));
        }
    }
    Ok(doc! { "authInfo": { "authenticatedUsers": users_out, "authenticatedUserRoles": roles_out } })
}

fn grant_doc(g: &Grant) -> Bson {
    Bson::Document(doc! { "role": g.role.name(), "db": &g.project })
}

fn users_error(e: UsersError) -> CommandError {
    match e {
        UsersError::AlreadyExists(_) => CommandError::new(USER_EXISTS, e.to_string()),
        UsersError::NotFound(_) => CommandError::new(code::USER_NOT_FOUND, e.to_string()),
        UsersError::NotFirst => CommandError::new(code::UNAUTHORIZED, e.to_string()),
        UsersError::Invalid(_) => CommandError::bad_value(e.to_string()),
        _ => {
            tracing::error!("user management failed: {e}");
            CommandError::new(code::INTERNAL_ERROR, e.to_string())
        }
    }
}

/// `roles: ["read", {role: "readWrite", db: "app"}]`; a bare name is a role
/// on the command's database.
fn parse_roles(roles: &[Bson], db: &str) -> CmdResult<Vec<Grant>> {
    let mut out: Vec<Grant> = Vec::new();
    for r in roles {
        let (role, role_db) = match r {
            Bson::String(s) => (s.as_str(), db),
            Bson::Document(d) => {
                let role =
                    d.get_str("role").map_err(|_| CommandError::bad_value("a role needs a string 'role'"))?;
                let role_db =
                    d.get_str("db").map_err(|_| CommandError::bad_value("a role needs a string 'db'"))?;
                (role, role_db)
            }
            _ => return Err(CommandError::type_mismatch("roles must be strings or {role, db} objects")),
        };
        let g = Grant::from_mongo(role, role_db).map_err(|m| CommandError::new(ROLE_NOT_FOUND, m))?;
        if !out.contains(&g) {
            out.push(g);
        }
    }
    Ok(out)
}

fn parse_mechanisms(a: &Args<'_>) -> CmdResult<Option<Vec<Mechanism>>> {
    let Some(list) = a.array("mechanisms")? else { return Ok(None) };
    let mut out = Vec::new();
    for m in list {
        let name = m.as_str().ok_or_else(|| CommandError::type_mismatch("mechanisms must be strings"))?;
        let mech = Mechanism::from_name(name)
            .ok_or_else(|| CommandError::bad_value(format!("Unknown auth mechanism '{name}'")))?;
        if !out.contains(&mech) {
            out.push(mech);
        }
    }
    if out.is_empty() {
        return Err(CommandError::bad_value("mechanisms field must not be empty"));
    }
    Ok(Some(out))
}

fn password<'a>(a: &Args<'a>) -> CmdResult<Option<&'a str>> {
    if a.bool("digestPassword")? == Some(false) {
        return Err(CommandError::bad_value(
            "digestPassword: false is not supported; Argon derives the SCRAM credentials from the password itself",
        ));
    }
    let p = a.str("pwd")?;
    if p == Some("") {
        return Err(CommandError::bad_value("Password cannot be empty"));
    }
    Ok(p)
}

fn custom_data(a: &Args<'_>) -> CmdResult<Option<serde_json::Value>> {
    Ok(a.doc("customData")?.map(|d| Bson::Document(d.clone()).into_relaxed_extjson()))
}

pub fn create_user(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    users(ctx)?;
    // Unauthenticated only through the localhost exception (auth.rs).
    let first_user = ctx.conn.user.is_none();
    if !first_user {
        crate::auth::check_server_admin(ctx, "create users")?;
    }
    let a = Args::new(&call.cmd, "createUser");
    let name = a.req_str("createUser")?;
    validate_user_name(name).map_err(CommandError::bad_value)?;
    let pwd = password(&a)?.ok_or_else(|| {
        CommandError::bad_value(
            "Must provide a 'pwd' field for all user documents, except those with '$external' as the user's source db",
        )
    })?;
    let roles = a
        .array("roles")?
        .ok_or_else(|| CommandError::bad_value("\"createUser\" command requires a \"roles\" array"))?;
    let roles = parse_roles(roles, &call.db)?;
    let mechs = parse_mechanisms(&a)?.unwrap_or_else(|| Mechanism::ALL.to_vec());
    let mut record = UserRecord::new(name, pwd, roles, &mechs).map_err(users_error)?;
    record.custom_data = custom_data(&a)?;
    users(ctx)?.create(record, first_user).map_err(users_error)?;
    tracing::info!(
        user = name,
        by = ctx.conn.user.as_ref().map_or("localhost exception", |p| p.name.as_str()),
        "user created"
    );
    Ok(Document::new())
}

pub fn update_user(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    users(ctx)?;
    crate::auth::check_server_admin(ctx, "update users")?;
    let a = Args::new(&call.cmd, "updateUser");
    let name = a.req_str("updateUser")?.to_string();
    let pwd = password(&a)?;
    let roles = a.array("roles")?.map(|r| parse_roles(r, &call.db)).transpose()?;
    let mechs = parse_mechanisms(&a)?;
    let custom = custom_data(&a)?;
    if pwd.is_none() && roles.is_none() && mechs.is_none() && custom.is_none() {
        return Err(CommandError::bad_value("Must specify at least one field to update in updateUser"));
    }
    // Derive new credentials before taking the table's lock.
    let existing = users(ctx)?.get(&name).ok_or_else(|| users_error(UsersError::NotFound(name.clone())))?;
    let credentials = match pwd {
        Some(p) => {
            let m = mechs.clone().unwrap_or_else(|| Mechanism::ALL.to_vec());
            Some(UserRecord::new(&name, p, vec![], &m).map_err(users_error)?.credentials)
        }
        None => None,
    };
    if let (None, Some(m)) = (&credentials, &mechs) {
        if m.iter().any(|m| !existing.mechanisms().contains(m)) {
            return Err(CommandError::bad_value(
                "mechanisms field must be a subset of previously set mechanisms unless pwd is given",
            ));
        }
    }
    users(ctx)?
        .update(&name, |u| {
            if let Some(c) = credentials {
                u.credentials = c;
            } else if let Some(m) = &mechs {
                u.credentials.retain(|k, _| m.iter().any(|m| m.name() == k));
            }
            if let Some(r) = roles {
                u.roles = r;
            }
            if custom.is_some() {
                u.custom_data = custom;
            }
            Ok(())
        })
        .map_err(users_error)?;
    Ok(Document::new())
}

pub fn drop_user(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    users(ctx)?;
    crate::auth::check_server_admin(ctx, "drop users")?;
    let name = Args::new(&call.cmd, "dropUser").req_str("dropUser")?.to_string();
    users(ctx)?.remove(&name).map_err(|e| match e {
        UsersError::NotFound(_) => {
            CommandError::new(code::USER_NOT_FOUND, format!("User '{name}@admin' not found"))
        }
        e => users_error(e),
    })?;
    Ok(Document::new())
}

/// `grantRolesToUser` and `revokeRolesFromUser`: adds or removes grants
/// (each at most once), leaving the user's other grants as they were.
pub fn change_user_roles(ctx: &mut Ctx<'_>, call: &mut Call, grant: bool) -> CmdResult<Document> {
    users(ctx)?;
    let name = call.name.clone();
    crate::auth::check_server_admin(ctx, if grant { "grant roles" } else { "revoke roles" })?;
    let a = Args::new(&call.cmd, &name);
    let user = a.req_str(&name)?.to_string();
    let roles = a
        .array("roles")?
        .ok_or_else(|| CommandError::bad_value(format!("{name} requires a \"roles\" array")))?;
    let roles = parse_roles(roles, &call.db)?;
    users(ctx)?
        .update(&user, |u| {
            match grant {
                true => {
                    u.roles.extend(roles.iter().filter(|g| !u.roles.contains(g)).cloned().collect::<Vec<_>>())
                }
                false => u.roles.retain(|g| !roles.contains(g)),
            }
            Ok(())
        })
        .map_err(|e| match e {
            UsersError::NotFound(_) => CommandError::new(
                code::USER_NOT_FOUND,
                format!("Could not find user \"{user}\" for db \"admin\""),
            ),
            e => users_error(e),
        })?;
    tracing::info!(
        user,
        command = name,
        by = ctx.conn.user.as_ref().map_or("-", |p| p.name.as_str()),
        "roles changed"
    );
    Ok(Document::new())
}

/// `dropAllUsersFromDatabase`: every user is defined on `admin` in Argon,
/// so on `admin` it drops them all and elsewhere none.
pub fn drop_all_users(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    users(ctx)?;
    crate::auth::check_server_admin(ctx, "drop users")?;
    if call.db != "admin" {
        return Ok(doc! { "n": 0 });
    }
    let n = users(ctx)?.remove_all().map_err(users_error)? as i32;
    tracing::warn!(n, by = ctx.conn.user.as_ref().map_or("-", |p| p.name.as_str()), "all users dropped");
    Ok(doc! { "n": n })
}

pub fn users_info(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let Some(users) = ctx.state.auth.as_ref() else { return Ok(doc! { "users": [] }) };
    let a = Args::new(&call.cmd, "usersInfo");
    // None: every user.
    let wanted: Option<Vec<String>> = match a.get("usersInfo") {
        Some(Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_)) => None,
        Some(Bson::String(s)) => Some(vec![s.clone()]),
        Some(Bson::Document(d)) => Some(vec![user_of(d)?]),
        Some(Bson::Array(list)) => Some(
            list.iter()
                .map(|b| match b {
                    Bson::String(s) => Ok(s.clone()),
                    Bson::Document(d) => user_of(d),
                    _ => Err(CommandError::type_mismatch("usersInfo entries must be names or {user, db}")),
                })
                .collect::<CmdResult<_>>()?,
        ),
        _ => return Err(CommandError::type_mismatch("usersInfo must be 1, a name, {user, db} or an array")),
    };
    let show_credentials = a.bool("showCredentials")?.unwrap_or(false);
    let show_custom_data = a.bool("showCustomData")?.unwrap_or(true);
    let filter = a.doc("filter")?.map(argon_query::Filter::parse).transpose()?;

    // Anyone may look at themselves; looking at others is user management.
    let me = ctx.conn.user.as_ref().map(|p| p.name.clone());
    let only_self = matches!((&wanted, &me), (Some(w), Some(me)) if w.iter().all(|n| n == me));
    if !only_self && me.is_some() {
        crate::auth::check_server_admin(ctx, "view other users")?;
    }
    let records: Vec<UserRecord> = match &wanted {
        None => users.list(),
        Some(names) => names.iter().filter_map(|n| users.get(n)).collect(),
    };
    let mut out = Vec::new();
    for r in records {
        let d = user_doc(&r, show_credentials, show_custom_data);
        if filter.as_ref().is_none_or(|f| f.matches(&d)) {
            out.push(Bson::Document(d));
        }
    }
    Ok(doc! { "users": out })
}

fn user_of(d: &Document) -> CmdResult<String> {
    d.get_str("user")
        .map(str::to_string)
        .map_err(|_| CommandError::bad_value("a user document needs a string 'user'"))
}

/// A user as `usersInfo` shows it.
fn user_doc(r: &UserRecord, show_credentials: bool, show_custom_data: bool) -> Document {
    let mut d = doc! { "_id": format!("admin.{}", r.user) };
    if let Some(bytes) = crate::users::uuid_bytes(&r.user_id) {
        d.insert("userId", Bson::Binary(Binary { subtype: BinarySubtype::Uuid, bytes }));
    }
    d.insert("user", &r.user);
    d.insert("db", "admin");
    if show_custom_data {
        if let Some(c) = r.custom_data.clone().and_then(|v| Bson::try_from(v).ok()) {
            d.insert("customData", c);
        }
    }
    d.insert("roles", r.roles.iter().map(grant_doc).collect::<Vec<_>>());
    d.insert("mechanisms", r.mechanisms().iter().map(|m| m.name()).collect::<Vec<_>>());
    if show_credentials {
        let mut creds = Document::new();
        for (mech, c) in &r.credentials {
            creds.insert(
                mech.clone(),
                doc! {
                    "iterationCount": c.iteration_count as i32,
                    "salt": &c.salt,
                    "storedKey": &c.stored_key,
                    "serverKey": &c.server_key,
                },
            );
        }
        d.insert("credentials", creds);
    }
    d
}
