//! `drop`, `dropDatabase` and `renameCollection`. All are WAL entries:
//! the data stays in history and can be restored by rewinding.

use argon_store::{WriteMode, WriteOp};
use bson::{doc, Document};

use super::{Call, Ctx};
use crate::args::{collection_name, Args};
use crate::error::{code, CmdResult, CommandError};
use crate::writes;

pub async fn collection(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let name = collection_name(&call.cmd, "drop")?;
    let target = call.target(ctx)?;
    let r = writes::submit(
        ctx,
        call,
        &target,
        vec![WriteOp::DropCollection { name: name.clone() }],
        WriteMode::Atomic,
        None,
    )
    .await;
    match r {
        Ok(_) => Ok(doc! { "nIndexesWas": 1, "ns": format!("{}.{}", call.db, name) }),
        // MongoDB 7 answers ok for a missing collection; 6.0 says NamespaceNotFound.
        Err(e) if e.code == code::NAMESPACE_NOT_FOUND.0 => {
            Err(CommandError::new(code::NAMESPACE_NOT_FOUND, "ns not found"))
        }
        Err(e) => Err(e),
    }
}

pub async fn database(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let target = call.target(ctx)?;
    target.writable()?;
    let store = ctx.state.store.clone();
    let names: Vec<String> = match store.snapshot(&target.project, &target.branch, argon_store::At::Head) {
        Ok(s) => s.collections().map(|(n, _)| n.clone()).collect(),
        Err(argon_store::StoreError::ProjectNotFound(_))
        | Err(argon_store::StoreError::BranchNotFound { .. }) => {
            return Ok(Document::new());
        }
        Err(e) => return Err(e.into()),
    };
    if !names.is_empty() {
        let ops = names.into_iter().map(|name| WriteOp::DropCollection { name }).collect();
        writes::submit(ctx, call, &target, ops, WriteMode::Atomic, None).await?;
    }
    Ok(doc! { "dropped": &call.db })
}

pub async fn rename(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let a = Args::new(&call.cmd, "renameCollection");
    let from = a.req_str("renameCollection")?;
    let to = a.req_str("to")?;
    let drop_target = a.bool("dropTarget")?.unwrap_or(false);
    let (from_db, from_coll) = from.split_once('.').ok_or_else(|| {
        CommandError::new(code::INVALID_NAMESPACE, format!("Invalid source namespace: {from}"))
    })?;
    let (to_db, to_coll) = to.split_once('.').ok_or_else(|| {
        CommandError::new(code::INVALID_NAMESPACE, format!("Invalid target namespace: {to}"))
    })?;
    if from_db != to_db {
        return Err(CommandError::new(
            code::COMMAND_NOT_SUPPORTED,
            "renameCollection across databases (branches) is not supported; use $out or a branch",
        ));
    }
    let target = ctx.state.target(from_db)?;
    let op = WriteOp::RenameCollection { from: from_coll.to_string(), to: to_coll.to_string(), drop_target };
    writes::submit(ctx, call, &target, vec![op], WriteMode::Atomic, None).await?;
    Ok(Document::new())
}
