//! `mapReduce` (deprecated in MongoDB, kept for old applications): `map`
//! runs on each document the `query` (with `sort`, `limit`) selects and
//! `emit`s (key, value) pairs; `reduce(key, values)` folds each key's
//! values (not called for a key with one value); `finalize(key, value)`
//! shapes the result. `scope` is visible to all three.
//!
//! `out: {inline: 1}` answers `{results: [{_id, value}]}` in key order; a
//! collection name or `{replace: coll}` replaces that collection, `{merge:
//! coll}` overwrites documents with the same key, `{reduce: coll}` first
//! reduces a key's new value with the one already there: all commit as the
//! aggregation's `$out`/`$merge` do, in one atomic write.

use std::collections::BTreeMap;

use argon_query::js::JsFunction;
use bson::{doc, Bson, Document};

use super::{Call, Ctx};
use crate::args::{collection_name, Args};
use crate::error::{CmdResult, CommandError};
use crate::source::Query;

pub async fn run(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let coll = collection_name(&call.cmd, "mapReduce")?;
    let a = Args::new(&call.cmd, "mapReduce");
    let required = |name: &str| call.cmd.get(name).ok_or_else(|| crate::args::missing("mapReduce", name));
    let scope = a.doc("scope")?;
    let map = JsFunction::parse_map(required("map")?, scope)?;
    let reduce = JsFunction::parse_scoped(required("reduce")?, "reduce", scope)?;
    let finalize = match call.cmd.get("finalize") {
        None | Some(Bson::Null) => None,
        Some(f) => Some(JsFunction::parse_scoped(f, "finalize", scope)?),
    };
    let out = Output::parse(required("out")?)?;
    let query = Query::parse_with_let(a.doc("query")?.unwrap_or(&Document::new()), &a.let_vars()?)?;
    let sort = crate::source::parse_sort(a.doc("sort")?)?;
    let limit = a.non_negative("limit")?.filter(|l| *l > 0).map(|l| l as u64);

    let target = call.target(ctx)?;
    let snap = call.snapshot(ctx, &target)?;
    let docs = call.source(&snap).find(&coll, &query, sort.as_ref(), 0, limit, None)?;
    drop(snap);

    // Keys in BSON order (the key codec sorts as `compare` does).
    let mut groups: BTreeMap<Vec<u8>, (Bson, Vec<Bson>)> = BTreeMap::new();
    for d in &docs {
        crate::ops::check_interrupted()?;
        for (key, value) in map.emits(d)? {
            let slot = groups.entry(argon_types::keycodec::encode(&key)).or_insert_with(|| (key, Vec::new()));
            slot.1.push(value);
        }
    }
    // `out: {reduce: coll}`: a key already in the target is reduced again
    // with the value there (before `finalize`, as in MongoDB).
    let existing = match &out {
        Output::Reduce { coll, db } => {
            let t = ctx.state.target(db.as_deref().unwrap_or(&call.db))?;
            match ctx.state.store.snapshot(&t.project, &t.branch, t.at()) {
                Ok(snap) => Some((snap, coll.clone())),
                Err(argon_store::StoreError::ProjectNotFound(_)) => None,
                Err(e) => return Err(e.into()),
            }
        }
        _ => None,
    };
    let mut results = Vec::with_capacity(groups.len());
    for (_, (key, mut values)) in groups {
        crate::ops::check_interrupted()?;
        if let Some((snap, coll)) = &existing {
            if let Some(mut before) = snap.get(coll, &key)? {
                values.insert(0, before.remove("value").unwrap_or(Bson::Null));
            }
        }
        let mut value = match values.len() {
            1 => values.pop().expect("one"),
            _ => reduce.call(None, &[key.clone(), Bson::Array(values)])?.unwrap_or(Bson::Null),
        };
        if let Some(f) = &finalize {
            value = f.call(None, &[key.clone(), value])?.unwrap_or(Bson::Null);
        }
        results.push(doc! { "_id": key, "value": value });
    }
    drop(existing);
    let (db, coll, merge) = match out {
        Output::Inline => return Ok(doc! { "results": results }),
        Output::Replace { coll, db } => (db, coll, None),
        Output::Merge { coll, db } | Output::Reduce { coll, db } => {
            let into = match &db {
                Some(db) => Bson::Document(doc! { "db": db, "coll": &coll }),
                None => Bson::String(coll.clone()),
            };
            (db, coll, Some(doc! { "into": into, "whenMatched": "replace", "whenNotMatched": "insert" }))
        }
    };
    let result = match &db {
        Some(db) => Bson::Document(doc! { "db": db, "collection": &coll }),
        None => Bson::String(coll.clone()),
    };
    // One commit, as the aggregation's `$out`/`$merge` make it.
    super::aggregate::write_documents(ctx, call, db, coll, results, merge).await?;
    Ok(doc! { "result": result })
}

/// Where the results go.
enum Output {
    Inline,
    Replace { coll: String, db: Option<String> },
    Merge { coll: String, db: Option<String> },
    Reduce { coll: String, db: Option<String> },
}

impl Output {
    fn parse(v: &Bson) -> CmdResult<Output> {
        let d = match v {
            Bson::String(coll) => return Ok(Output::Replace { coll: coll.clone(), db: None }),
            Bson::Document(d) => d,
            _ => return Err(CommandError::type_mismatch("'out' must be a string or an object")),
        };
        let db = match d.get("db") {
            None => None,
            Some(Bson::String(s)) => Some(s.clone()),
            Some(_) => return Err(CommandError::type_mismatch("'out.db' must be a string")),
        };
        let name = |v: &Bson| match v {
            Bson::String(s) if !s.is_empty() => Ok(s.clone()),
            _ => Err(CommandError::bad_value("the output collection must be a non-empty string")),
        };
        let mode = d.iter().find(|(k, _)| matches!(k.as_str(), "inline" | "replace" | "merge" | "reduce"));
        match mode {
            Some((k, _)) if k == "inline" => Ok(Output::Inline),
            Some((k, v)) if k == "replace" => Ok(Output::Replace { coll: name(v)?, db }),
            Some((k, v)) if k == "merge" => Ok(Output::Merge { coll: name(v)?, db }),
            Some((_, v)) => Ok(Output::Reduce { coll: name(v)?, db }),
            None => Err(CommandError::bad_value("'out' needs one of inline, replace, merge or reduce")),
        }
    }
}
