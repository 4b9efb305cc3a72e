//! `createIndexes`, `listIndexes`, `dropIndexes`. Index definitions are
//! catalog entries in the WAL, versioned with the branch: an index exists
//! on the branch where it was created and on branches forked after it.

use argon_store::{WriteMode, WriteOp};
use bson::{doc, Bson, Document};

use super::find::cursor_reply;
use super::{Call, Ctx};
use crate::args::{collection_name, Args};
use crate::error::{code, CmdResult, CommandError};
use crate::writes;

/// The `_id` index every collection has.
fn id_index() -> Document {
    doc! { "v": 2, "key": { "_id": 1 }, "name": "_id_" }
}

/// MongoDB's default index name: `field_dir_field_dir`.
fn default_name(key: &Document) -> String {
    key.iter()
        .map(|(k, v)| {
            format!(
                "{k}_{}",
                match v {
                    Bson::String(s) => s.clone(),
                    v => v.to_string(),
                }
            )
        })
        .collect::<Vec<_>>()
        .join("_")
}

pub async fn create(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let coll = collection_name(&call.cmd, "createIndexes")?;
    let a = Args::new(&call.cmd, "createIndexes");
    let specs = a.docs("indexes")?.ok_or_else(|| crate::args::missing("createIndexes", "indexes"))?;
    if specs.is_empty() {
        return Err(CommandError::bad_value("Must specify at least one index to create"));
    }
    let target = call.target(ctx)?;
    let before = match ctx.state.store.snapshot(&target.project, &target.branch, argon_store::At::Head) {
        Ok(s) => s.collection(&coll).map(|c| c.indexes.len() + 1).unwrap_or(0),
        Err(_) => 0,
    };
    let created_collection = before == 0;
    // Text indexes already there (name, key): MongoDB allows one.
    let mut text_indexes: Vec<(String, Document)> =
        match ctx.state.store.snapshot(&target.project, &target.branch, argon_store::At::Head) {
            Ok(s) => s
                .collection(&coll)
                .map(|c| {
                    c.indexes
                        .iter()
                        .filter(|i| argon_query::text::TextIndex::is_text_index(&i.spec))
                        .map(|i| {
                            (i.name().to_string(), i.spec.get_document("key").cloned().unwrap_or_default())
                        })
                        .collect()
                })
                .unwrap_or_default(),
            Err(_) => Vec::new(),
        };
    let default = super::default_collation(ctx, call, &coll);
    let mut ops = Vec::new();
    for spec in specs {
        let key = match spec.get("key") {
            Some(Bson::Document(k)) if !k.is_empty() => k.clone(),
            Some(Bson::Document(_)) => {
                return Err(CommandError::new(code::BAD_VALUE, "Index keys cannot be empty."))
            }
            _ => {
                return Err(CommandError::new(
                    code::FAILED_TO_PARSE,
                    "The 'key' field is a required property of an index specification",
                ))
            }
        };
        for (_, v) in &key {
            let ok = match v {
                Bson::Int32(i) => *i != 0,
                Bson::Int64(i) => *i != 0,
                Bson::Double(d) => *d != 0.0,
                Bson::String(s) => matches!(s.as_str(), "text" | "2dsphere" | "2d" | "hashed"),
                _ => false,
            };
            if !ok {
                return Err(CommandError::new(code::BAD_VALUE, format!("Values in the index key pattern can only be numbers or strings, bad index key pattern {key}")));
            }
        }
        let name = match spec.get("name") {
            Some(Bson::String(s)) => s.clone(),
            Some(_) => return Err(CommandError::type_mismatch("index name must be a string")),
            None => default_name(&key),
        };
        if name == "_id_" || key == doc! {"_id": 1} {
            continue;
        }
        let mut full = doc! { "v": 2, "key": key, "name": name.clone() };
        for (k, v) in spec {
            if !matches!(k.as_str(), "key" | "name" | "v" | "ns") {
                full.insert(k.clone(), v.clone());
            }
        }
        // The collation as MongoDB stores it: every option filled in (none
        // for the simple one); without one, the collection's default.
        // Text and 2d keys are not ordered strings.
        let collation = match spec.get("collation") {
            Some(c) => Some(super::parse_collation(c)?),
            None => default.clone().map(Some),
        };
        if let Some(c) = collation {
            match c {
                Some(c) => {
                    let unordered = full.get_document("key").ok().and_then(|k| {
                        k.values().find_map(|v| match v {
                            Bson::String(t) if t == "text" || t == "2d" => Some(t.clone()),
                            _ => None,
                        })
                    });
                    if let Some(kind) = unordered {
                        return Err(CommandError::new(
                            (67, "CannotCreateIndex"),
                            format!("Index type '{kind}' does not support collation: {}", c.to_document()),
                        ));
                    }
                    full.insert("collation", c.to_document());
                }
                None => {
                    full.remove("collation");
                }
            }
        }
        if argon_query::text::TextIndex::is_text_index(&full) {
            argon_query::text::TextIndex::from_spec(&full)?;
            let key = full.get_document("key").cloned().unwrap_or_default();
            if let Some((other, _)) = text_indexes.iter().find(|(n, k)| *n != name || *k != key) {
                return Err(CommandError::new(
                    code::INDEX_OPTIONS_CONFLICT,
                    format!(
                        "only one text index per collection allowed, found existing text index \"{other}\""
                    ),
                ));
            }
            text_indexes.push((name.clone(), key));
        }
        if let Ok(snap) = ctx.state.store.snapshot(&target.project, &target.branch, argon_store::At::Head) {
            crate::geo_keys::check_existing(&snap, &coll, &full)?;
        }
        ops.push(WriteOp::CreateIndex { coll: coll.clone(), spec: full });
    }
    let mut note = None;
    if ops.is_empty() {
        note = Some("all indexes already exist");
    } else {
        let outcome = writes::submit(ctx, call, &target, ops, WriteMode::Atomic, None).await?;
        if outcome.results.iter().all(|r| matches!(r, Ok(argon_store::OpEffect::NoOp))) {
            note = Some("all indexes already exist");
        }
    }
    let after = match ctx.state.store.snapshot(&target.project, &target.branch, argon_store::At::Head) {
        Ok(s) => s.collection(&coll).map(|c| c.indexes.len() + 1).unwrap_or(1),
        Err(_) => 1,
    };
    let mut reply = doc! {
        "numIndexesBefore": before.max(1) as i32,
        "numIndexesAfter": after as i32,
        "createdCollectionAutomatically": created_collection,
    };
    if let Some(n) = note {
        reply.insert("note", n);
    }
    Ok(reply)
}

pub fn list(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let coll = collection_name(&call.cmd, "listIndexes")?;
    let target = call.target(ctx)?;
    let snap = call.snapshot(ctx, &target)?;
    let c = snap.collection(&coll).ok_or_else(|| {
        CommandError::new(code::NAMESPACE_NOT_FOUND, format!("ns does not exist: {}.{coll}", call.db))
    })?;
    let mut out = vec![id_index()];
    out.extend(c.indexes.iter().map(|i| i.spec.clone()));
    let ns = format!("{}.{coll}", call.db);
    Ok(cursor_reply(ctx, call, ns, out.into(), None, false, false))
}

pub async fn drop_indexes(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let name = call.name.clone();
    let coll = collection_name(&call.cmd, &name)?;
    let target = call.target(ctx)?;
    let snap = call.snapshot(ctx, &target)?;
    let c = snap.collection(&coll).ok_or_else(|| {
        CommandError::new(code::NAMESPACE_NOT_FOUND, format!("ns not found {}.{coll}", call.db))
    })?;
    let existing: Vec<Document> = c.indexes.iter().map(|i| i.spec.clone()).collect();
    drop(snap);
    let names: Vec<String> = match call.cmd.get("index") {
        Some(Bson::String(s)) if s == "*" => {
            existing.iter().filter_map(|s| s.get_str("name").ok().map(str::to_string)).collect()
        }
        Some(Bson::String(s)) if s == "_id_" => {
            return Err(CommandError::new(code::INVALID_OPTIONS, "cannot drop _id index"));
        }
        Some(Bson::String(s)) => vec![s.clone()],
        Some(Bson::Array(a)) => a.iter().filter_map(|b| b.as_str().map(str::to_string)).collect(),
        Some(Bson::Document(key)) => {
            let found = existing.iter().find(|s| s.get_document("key").ok() == Some(key));
            match found {
                Some(s) => vec![s.get_str("name").unwrap_or_default().to_string()],
                None => {
                    return Err(CommandError::new(
                        code::INDEX_NOT_FOUND,
                        format!("can't find index with key: {key}"),
                    ))
                }
            }
        }
        Some(_) => {
            return Err(CommandError::type_mismatch("dropIndexes.index must be a string, array or object"))
        }
        None => return Err(crate::args::missing(&name, "index")),
    };
    for n in &names {
        if !existing.iter().any(|s| s.get_str("name").ok() == Some(n.as_str())) {
            return Err(CommandError::new(code::INDEX_NOT_FOUND, format!("index not found with name [{n}]")));
        }
    }
    if !names.is_empty() {
        let ops = names.into_iter().map(|name| WriteOp::DropIndex { coll: coll.clone(), name }).collect();
        writes::submit(ctx, call, &target, ops, WriteMode::Atomic, None).await?;
    }
    Ok(doc! { "nIndexesWas": (existing.len() + 1) as i32 })
}
