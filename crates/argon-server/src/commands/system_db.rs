//! Reads of MongoDB's `local` and `config` databases. Argon keeps nothing
//! there (no oplog, no sharding metadata), so a read finds what a
//! non-sharded replica set member's empty namespace gives: no documents.
//! Tools read them on every connection (Compass looks up each collection's
//! shard key in `config.collections`), and an empty answer is the true one.
//! Writes, and reads this module does not answer, keep the error that says
//! these databases hold no user data.

use bson::{doc, Bson, Document};

use super::Call;
use crate::error::{code, CmdResult, CommandError};

/// MongoDB's system databases that Argon reads as empty.
pub fn is_system_db(db: &str) -> bool {
    matches!(db, "local" | "config")
}

/// The reply to a read of `call.db` (a system database), or `None` when
/// the command is not a plain read (it then fails as before).
pub fn empty_read(call: &Call) -> CmdResult<Option<Document>> {
    let empty_cursor =
        |coll: &str| doc! { "cursor": { "firstBatch": [], "id": 0i64, "ns": format!("{}.{coll}", call.db) } };
    let coll = |field: &str| match call.cmd.get(field) {
        Some(Bson::String(s)) => Ok(s.clone()),
        _ => Err(CommandError::type_mismatch(format!("{field} must name a collection"))),
    };
    Ok(Some(match call.name.as_str() {
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
        "count" => {
            coll("count")?;
            doc! { "n": 0 }
        }
        "distinct" => {
            coll("distinct")?;
            doc! { "values": [] }
        }
        "listCollections" => empty_cursor("$cmd.listCollections"),
        "listIndexes" => {
            return Err(CommandError::new(
                code::NAMESPACE_NOT_FOUND,
                format!("ns does not exist: {}.{}", call.db, coll("listIndexes")?),
            ))
        }
        _ => return Ok(None),
    }))
}
