//! Reads of MongoDB's `local` and `config` databases. Argon keeps no user
//! data there: `local` holds only `oplog.rs`, the WAL read as an oplog
//! ([`crate::oplog`]), and any other namespace reads as what a non-sharded
//! replica set member's empty one gives: no documents. Tools read them on
//! every connection (Compass looks up each collection's shard key in
//! `config.collections`), and an empty answer is the true one. Writes, and
//! reads this module does not answer, keep the error that says these
//! databases hold no user data.

use bson::{doc, Bson, Document};

use super::{Call, Ctx};
use crate::error::{code, CmdResult, CommandError};

/// MongoDB's system databases that Argon reads as empty.
pub fn is_system_db(db: &str) -> bool {
    matches!(db, "local" | "config")
}

/// The reply to a read of `call.db` (a system database), or `None` when
/// the command is not a plain read (it then fails as before).
pub fn empty_read(ctx: &Ctx<'_>, call: &Call) -> CmdResult<Option<Document>> {
    let oplog = |field: &str| matches!(call.cmd.get(field), Some(Bson::String(c)) if crate::oplog::is_oplog(&call.db, c));
    let empty_cursor =
        |coll: &str| doc! { "cursor": { "firstBatch": [], "id": 0i64, "ns": format!("{}.{coll}", call.db) } };
    let coll = |field: &str| match call.cmd.get(field) {
        Some(Bson::String(s)) => Ok(s.clone()),
        _ => Err(CommandError::type_mismatch(format!("{field} must name a collection"))),
    };
    Ok(Some(match call.name.as_str() {
        // (The oplog's reads run in the find and aggregate handlers.)
        "find" | "aggregate" | "distinct" if oplog(call.name.as_str()) => return Ok(None),
        "find" => empty_cursor(&coll("find")?),
        "aggregate" => {
            let first =
                call.cmd.get_array("pipeline").ok().and_then(|p| p.first()).and_then(Bson::as_document);
            // Session listings and change streams are not empty reads.
            if first.is_some_and(|s| {
                s.contains_key("$listSessions")
                    || s.contains_key("$changeStream")
                    || s.contains_key("$currentOp")
            }) {
                return Ok(None);
            }
            match call.cmd.get("aggregate") {
                Some(Bson::String(c)) => empty_cursor(c),
                _ => return Ok(None),
            }
        }
        "count" if oplog("count") => {
            let query = match call.cmd.get("query") {
                Some(Bson::Document(q)) => q.clone(),
                None | Some(Bson::Null) => Document::new(),
                Some(_) => return Err(CommandError::type_mismatch("count.query must be an object")),
            };
            doc! { "n": crate::oplog::count(ctx, &query)? }
        }
        "count" => {
            coll("count")?;
            doc! { "n": 0 }
        }
        "distinct" => {
            coll("distinct")?;
            doc! { "values": [] }
        }
        "collStats" if oplog("collStats") => {
            crate::oplog::stats(&ctx.state, super::diagnostics::scale_of(call.cmd.get("scale"))?)
        }
        "listCollections" if call.db == crate::oplog::DB => {
            let name_only = matches!(call.cmd.get("nameOnly"), Some(Bson::Boolean(true)));
            let info = crate::oplog::collection_info(&ctx.state, name_only);
            let keep = match call.cmd.get("filter") {
                Some(Bson::Document(f)) => argon_query::Filter::parse(f)?.try_matches(&info)?,
                None | Some(Bson::Null) => true,
                Some(_) => {
                    return Err(CommandError::type_mismatch("listCollections.filter must be an object"))
                }
            };
            let batch: Vec<Document> = if keep { vec![info] } else { vec![] };
            doc! { "cursor": { "firstBatch": batch, "id": 0i64, "ns": format!("{}.$cmd.listCollections", call.db) } }
        }
        "listCollections" => empty_cursor("$cmd.listCollections"),
        "listIndexes" if oplog("listIndexes") => empty_cursor(crate::oplog::COLL),
        "listIndexes" => {
            return Err(CommandError::new(
                code::NAMESPACE_NOT_FOUND,
                format!("ns does not exist: {}.{}", call.db, coll("listIndexes")?),
            ))
        }
        _ => return Ok(None),
    }))
}
