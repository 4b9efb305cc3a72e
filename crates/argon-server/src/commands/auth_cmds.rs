//! Authentication commands: `saslStart`, `saslContinue`, `logout`,
//! `connectionStatus`, and user management (`createUser`, `updateUser`,
//! `dropUser`, `usersInfo`).

use bson::{doc, Bson, Document};

use super::{Call, Ctx};
use crate::error::{code, CmdResult, CommandError};

fn auth_disabled() -> CommandError {
    CommandError::new(
        code::AUTHENTICATION_FAILED,
        "authentication is not enabled on this server; start argon serve with --auth",
    )
}

pub fn sasl_start(ctx: &mut Ctx<'_>, _call: &mut Call) -> CmdResult<Document> {
    if !crate::auth::enabled(&ctx.state) {
        return Err(auth_disabled());
    }
    Err(CommandError::new(code::AUTHENTICATION_FAILED, "SCRAM authentication is not available yet"))
}

pub fn sasl_continue(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    sasl_start(ctx, call)
}

pub fn logout(ctx: &mut Ctx<'_>, _call: &mut Call) -> CmdResult<Document> {
    ctx.conn.user = None;
    ctx.conn.sasl = None;
    Ok(Document::new())
}

pub fn connection_status(ctx: &mut Ctx<'_>, _call: &mut Call) -> CmdResult<Document> {
    let users: Vec<Bson> =
        ctx.conn.user.iter().map(|u| Bson::Document(doc! { "user": &u.name, "db": "admin" })).collect();
    Ok(doc! { "authInfo": { "authenticatedUsers": users, "authenticatedUserRoles": [] } })
}

pub fn create_user(ctx: &mut Ctx<'_>, _call: &mut Call) -> CmdResult<Document> {
    if !crate::auth::enabled(&ctx.state) {
        return Err(auth_disabled());
    }
    Err(CommandError::new(code::COMMAND_NOT_SUPPORTED, "user management is not available yet"))
}

pub fn update_user(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    create_user(ctx, call)
}

pub fn drop_user(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    create_user(ctx, call)
}

pub fn users_info(ctx: &mut Ctx<'_>, _call: &mut Call) -> CmdResult<Document> {
    if !crate::auth::enabled(&ctx.state) {
        return Ok(doc! { "users": [] });
    }
    Err(CommandError::new(code::COMMAND_NOT_SUPPORTED, "user management is not available yet"))
}
