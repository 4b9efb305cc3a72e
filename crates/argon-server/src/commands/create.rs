//! `create`: an explicit collection creation (options are recorded; the
//! validation options are checked and enforced, see `validation.rs`), and
//! `collMod`, which changes a collection's validation options.

use argon_store::{WriteMode, WriteOp};
use bson::Document;

use super::{Call, Ctx};
use crate::args::collection_name;
use crate::error::{CmdResult, CommandError};
use crate::writes;

pub async fn run(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let name = collection_name(&call.cmd, "create")?;
    super::crud_insert::check_writable_collection(&name)?;
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
    crate::validation::check_options(&options, "create")?;
    crate::views::check_definition(&options)?;
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

/// `collMod`: sets `validator`, `validationLevel` and `validationAction`
/// (the other options MongoDB's `collMod` has are refused by name).
pub async fn coll_mod(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let name = collection_name(&call.cmd, "collMod")?;
    super::crud_insert::check_writable_collection(&name)?;
    let mut changes = Document::new();
    for (k, v) in call.cmd.iter() {
        match k.as_str() {
            "collMod"
            | "$db"
            | "lsid"
            | "txnNumber"
            | "$clusterTime"
            | "writeConcern"
            | "$readPreference"
            | "apiVersion"
            | "apiStrict"
            | "apiDeprecationErrors"
            | "comment" => {}
            k if crate::validation::OPTIONS.contains(&k) => {
                changes.insert(k, v.clone());
            }
            "index"
            | "viewOn"
            | "pipeline"
            | "expireAfterSeconds"
            | "changeStreamPreAndPostImages"
            | "timeseries"
            | "cappedSize"
            | "cappedMax"
            | "recordIdsReplicated" => {
                return Err(CommandError::new(
                    crate::error::code::COMMAND_NOT_SUPPORTED,
                    format!("collMod option '{k}' is not supported by Argon"),
                ))
            }
            k => {
                return Err(CommandError::new(
                    (40415, "IDLUnknownField"),
                    format!("BSON field 'collMod.{k}' is an unknown field."),
                ))
            }
        }
    }
    crate::validation::check_options(&changes, "collMod")?;
    let target = call.target(ctx)?;
    target.writable()?;
    let snap = call.snapshot(ctx, &target)?;
    let Some(current) = snap.collection(&name) else {
        return Err(CommandError::new(
            crate::error::code::NAMESPACE_NOT_FOUND,
            format!("ns does not exist: {}.{name}", call.db),
        ));
    };
    let mut options = current.options.clone();
    drop(snap);
    for (k, v) in changes {
        options.insert(k, v);
    }
    let op = WriteOp::SetCollectionOptions { coll: name, options };
    drop(writes::submit(ctx, call, &target, vec![op], WriteMode::Atomic, None).await?);
    Ok(Document::new())
}
