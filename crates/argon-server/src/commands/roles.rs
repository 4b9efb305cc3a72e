//! `rolesInfo`: Argon's built-in roles, in MongoDB's reply shape
//! (`db.getRoles()`, `db.getRole()`).
//!
//! Argon has no user-defined roles: a grant is `read`, `readWrite` or
//! `admin` (alias `dbOwner`) on one project, or on every project through
//! the `admin` database's `readAnyDatabase`, `readWriteAnyDatabase`, `root`
//! and `userAdminAnyDatabase` (see `users.rs`). A role's privileges, with
//! `showPrivileges`, are the commands the access table (`auth.rs`) lets it
//! run, derived from that table rather than kept beside it.

use bson::{doc, Bson, Document};

use super::{Call, Ctx, COMMAND_NAMES};
use crate::args::Args;
use crate::auth::{requirement, Need};
use crate::error::{code, CmdResult, CommandError};
use crate::users::{Grant, Role, ALL_PROJECTS};

/// The built-in roles defined on `db`: (name, what it grants).
fn builtin_roles(db: &str) -> Vec<(&'static str, Grant)> {
    let names: &[&'static str] = match db {
        "admin" => &["readAnyDatabase", "readWriteAnyDatabase", "root", "userAdminAnyDatabase"],
        "local" | "config" => &[],
        _ => &["read", "readWrite", "dbOwner", "admin"],
    };
    names.iter().filter_map(|&name| Grant::from_mongo(name, db).ok().map(|g| (name, g))).collect()
}

pub fn roles_info(_ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let a = Args::new(&call.cmd, "rolesInfo");
    let show_privileges = match a.get("showPrivileges") {
        None => false,
        Some(Bson::Boolean(b)) => *b,
        Some(Bson::String(s)) if s == "asUserFragment" => {
            return Err(CommandError::new(
                code::NOT_IMPLEMENTED,
                "showPrivileges: \"asUserFragment\" is not supported by Argon",
            ))
        }
        Some(_) => return Err(CommandError::type_mismatch("showPrivileges must be a boolean")),
    };
    let show_builtin = a.bool("showBuiltinRoles")?.unwrap_or(false);
    a.bool("showAuthenticationRestrictions")?;

    // (name, db) pairs asked for; `None`: every role of the database.
    let wanted: Option<Vec<(String, String)>> = match a.get("rolesInfo") {
        Some(Bson::Int32(1)) | Some(Bson::Int64(1)) => None,
        Some(Bson::Double(n)) if *n == 1.0 => None,
        Some(v @ (Bson::String(_) | Bson::Document(_))) => Some(vec![role_name(v, &call.db)?]),
        Some(Bson::Array(list)) => {
            Some(list.iter().map(|v| role_name(v, &call.db)).collect::<CmdResult<_>>()?)
        }
        _ => {
            return Err(CommandError::bad_value(
                "rolesInfo must be 1, a role name, a {role, db} document or an array of them",
            ))
        }
    };
    if wanted.is_some() && a.get("showBuiltinRoles").is_some() {
        return Err(CommandError::bad_value("showBuiltinRoles is only valid with rolesInfo: 1"));
    }
    let mut out = Vec::new();
    match wanted {
        // Every role defined on this database: the built-in ones only when
        // asked (there are no others).
        None if show_builtin => {
            for (name, grant) in builtin_roles(&call.db) {
                out.push(Bson::Document(role_doc(name, &call.db, &grant, show_privileges)));
            }
        }
        None => {}
        // Unknown roles are left out, as MongoDB does.
        Some(list) => {
            for (name, db) in list {
                if let Some((name, grant)) = builtin_roles(&db).into_iter().find(|(n, _)| *n == name) {
                    out.push(Bson::Document(role_doc(name, &db, &grant, show_privileges)));
                }
            }
        }
    }
    Ok(doc! { "roles": out })
}

fn role_name(v: &Bson, db: &str) -> CmdResult<(String, String)> {
    match v {
        Bson::String(s) => Ok((s.clone(), db.to_string())),
        Bson::Document(d) => {
            let role =
                d.get_str("role").map_err(|_| CommandError::bad_value("a role needs a string 'role'"))?;
            let db = d.get_str("db").map_err(|_| CommandError::bad_value("a role needs a string 'db'"))?;
            Ok((role.to_string(), db.to_string()))
        }
        _ => Err(CommandError::type_mismatch("roles are named by a string or {role, db}")),
    }
}

/// One role as `rolesInfo` shows it.
fn role_doc(name: &str, db: &str, grant: &Grant, show_privileges: bool) -> Document {
    // The weaker built-in roles of the same database that this one includes.
    let inherited: Vec<Bson> = builtin_roles(db)
        .into_iter()
        .filter(|(n, g)| *n != name && g.project == grant.project && g.role < grant.role)
        .map(|(n, _)| Bson::Document(doc! { "role": n, "db": db }))
        .collect();
    let mut d = doc! {
        "_id": format!("{db}.{name}"),
        "role": name,
        "db": db,
        "isBuiltin": true,
        "roles": inherited.clone(),
        "inheritedRoles": inherited,
    };
    if show_privileges {
        let privileges = Bson::Array(privileges(grant));
        d.insert("privileges", privileges.clone());
        d.insert("inheritedPrivileges", privileges);
    }
    d
}

/// The commands `grant` lets a user run, by resource: its project (every
/// database when the grant covers every project) and, for `admin` on every
/// project, the server itself.
fn privileges(grant: &Grant) -> Vec<Bson> {
    let allowed = |need: &Need| match need {
        Need::OnDb(role) | Need::OnNamespaces(role, _) => *role <= grant.role,
        Need::ServerAdmin => false,
        Need::Nothing | Need::Authenticated => false,
    };
    let on_db: Vec<&str> =
        COMMAND_NAMES.iter().copied().filter(|name| allowed(&requirement(name, &Document::new()))).collect();
    let db = if grant.project == ALL_PROJECTS { "" } else { grant.project.as_str() };
    let mut out = vec![Bson::Document(doc! { "resource": { "db": db, "collection": "" }, "actions": on_db })];
    if grant.project == ALL_PROJECTS && grant.role == Role::Admin {
        let on_server: Vec<&str> = COMMAND_NAMES
            .iter()
            .copied()
            .filter(|name| requirement(name, &Document::new()) == Need::ServerAdmin)
            .collect();
        out.push(Bson::Document(doc! { "resource": { "cluster": true }, "actions": on_server }));
    }
    out
}
