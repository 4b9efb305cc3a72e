//! `create`: an explicit collection creation (options are recorded).

use argon_store::{WriteMode, WriteOp};
use bson::Document;

use super::{Call, Ctx};
use crate::args::collection_name;
use crate::error::{CmdResult, CommandError};
use crate::writes;

pub async fn run(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let name = collection_name(&call.cmd, "create")?;
    super::crud_insert::check_writable_collection(&name)?;
    if call.cmd.contains_key("viewOn") {
        return Err(CommandError::new(
            crate::error::code::COMMAND_NOT_SUPPORTED,
            "views are not supported by Argon; use a branch view (db@lsn) or an aggregation",
        ));
    }
    let mut options = Document::new();
    for (k, v) in call.cmd.iter() {
        if !matches!(
            k.as_str(),
            "create"
                | "$db"
                | "lsid"
                | "txnNumber"
                | "$clusterTime"
                | "writeConcern"
                | "autocommit"
                | "startTransaction"
                | "$readPreference"
                | "apiVersion"
                | "apiStrict"
                | "apiDeprecationErrors"
                | "comment"
        ) {
            options.insert(k.clone(), v.clone());
        }
    }
    let target = call.target(ctx)?;
    let outcome = writes::submit(
        ctx,
        call,
        &target,
        vec![WriteOp::CreateCollection { name, options }],
        WriteMode::Atomic,
        None,
    )
    .await?;
    drop(outcome);
    Ok(Document::new())
}
