//! Vector search indexes (MongoDB 8.2 / Atlas): `createSearchIndexes`,
//! `updateSearchIndex`, `dropSearchIndex` and the `$listSearchIndexes`
//! stage; `crate::vector_search` runs a leading `$vectorSearch`.
//!
//! A search index here is a definition, not a structure: it is kept in the
//! collection's options (under [`OPTIONS_KEY`], written by the same WAL
//! entry `collMod` writes), so it branches, travels in time and is
//! restored with the collection. `$vectorSearch` reads the definition at
//! the query's snapshot and scores every document that passes its
//! `filter` (an exact nearest-neighbour search: what MongoDB's `exact:
//! true` does, and at least as good as its approximate one). Scores follow
//! Atlas (Lucene): `cosine` and `dotProduct` `(1 + s) / 2`, `euclidean`
//! `1 / (1 + d²)`. Full-text `search` indexes (`$search`) are refused.

use argon_store::{WriteMode, WriteOp};
use bson::{doc, Bson, Document};

use super::{Call, Ctx};
use crate::args::collection_name;
use crate::error::{code, CmdResult, CommandError};
use crate::writes;

/// Where a collection's search index definitions live in its options (a
/// `$` name: `create` refuses such options, `listCollections` hides it).
pub const OPTIONS_KEY: &str = "$searchIndexes";

/// Most dimensions a vector field may have (Atlas's limit).
const MAX_DIMENSIONS: i64 = 8192;

/// The search indexes of a collection's options.
pub fn definitions(options: &Document) -> Vec<Document> {
    match options.get(OPTIONS_KEY) {
        Some(Bson::Array(a)) => a.iter().filter_map(|d| d.as_document().cloned()).collect(),
        _ => vec![],
    }
}

/// `options` without the search indexes (what `listCollections` shows).
pub fn public_options(options: &Document) -> Document {
    let mut out = options.clone();
    out.remove(OPTIONS_KEY);
    out
}

/// Checks a `vectorSearch` definition (`{fields: [{type: "vector", path,
/// numDimensions, similarity}, {type: "filter", path}]}`).
fn check_definition(definition: &Document) -> CmdResult<()> {
    let bad = |m: String| Err(CommandError::bad_value(format!("Invalid vectorSearch index definition: {m}")));
    let Ok(fields) = definition.get_array("fields") else {
        return bad("\"fields\" must be an array of field definitions".into());
    };
    if fields.is_empty() {
        return bad("\"fields\" must not be empty".into());
    }
    let mut vectors = 0;
    let mut paths = std::collections::HashSet::new();
    for f in fields {
        let Bson::Document(f) = f else { return bad("each field must be a document".into()) };
        let Ok(path) = f.get_str("path") else { return bad("each field needs a string \"path\"".into()) };
        if !paths.insert(path.to_string()) {
            return bad(format!("path \"{path}\" is defined twice"));
        }
        match f.get_str("type") {
            Ok("vector") => {
                vectors += 1;
                let dims = f.get("numDimensions").and_then(argon_query::numeric::to_exact_i64);
                if !dims.is_some_and(|d| (1..=MAX_DIMENSIONS).contains(&d)) {
                    return bad(format!(
                        "\"numDimensions\" of \"{path}\" must be an integer from 1 to {MAX_DIMENSIONS}"
                    ));
                }
                if !matches!(f.get_str("similarity"), Ok("euclidean" | "cosine" | "dotProduct")) {
                    return bad(format!(
                        "\"similarity\" of \"{path}\" must be \"euclidean\", \"cosine\" or \"dotProduct\""
                    ));
                }
                for k in f.keys() {
                    if !matches!(
                        k.as_str(),
                        "type" | "path" | "numDimensions" | "similarity" | "quantization"
                    ) {
                        return bad(format!("unknown option \"{k}\" for vector field \"{path}\""));
                    }
                }
            }
            Ok("filter") => {
                if let Some(k) = f.keys().find(|k| !matches!(k.as_str(), "type" | "path")) {
                    return bad(format!("unknown option \"{k}\" for filter field \"{path}\""));
                }
            }
            _ => return bad(format!("\"type\" of \"{path}\" must be \"vector\" or \"filter\"")),
        }
    }
    if vectors == 0 {
        return bad("at least one field must have type \"vector\"".into());
    }
    Ok(())
}

/// An index's id as listed (hex of a random 12 bytes, like an ObjectId).
fn new_id() -> String {
    bson::oid::ObjectId::new().to_hex()
}

/// Finds an index by `id` or `name` in a command; its position.
fn find_index(list: &[Document], cmd: &Document, command: &str) -> CmdResult<usize> {
    let (key, want) = match (cmd.get("id"), cmd.get("name")) {
        (Some(Bson::String(id)), None) => ("id", id),
        (None, Some(Bson::String(name))) => ("name", name),
        _ => {
            return Err(CommandError::bad_value(format!(
                "{command} needs exactly one of 'id' or 'name' (a string)"
            )))
        }
    };
    list.iter().position(|d| d.get_str(key).ok() == Some(want.as_str())).ok_or_else(|| {
        CommandError::new(code::INDEX_NOT_FOUND, format!("Search index with {key} '{want}' not found"))
    })
}

/// Writes a collection's new list of search indexes (creating the
/// collection when `create`).
async fn save(
    ctx: &mut Ctx<'_>,
    call: &mut Call,
    coll: &str,
    options: Option<Document>,
    list: Vec<Document>,
) -> CmdResult<()> {
    let target = call.target(ctx)?;
    let mut options_out = options.clone().unwrap_or_default();
    options_out.insert(OPTIONS_KEY, list.into_iter().map(Bson::Document).collect::<Vec<_>>());
    let op = match options {
        Some(_) => WriteOp::SetCollectionOptions { coll: coll.to_string(), options: options_out },
        None => WriteOp::CreateCollection { name: coll.to_string(), options: options_out },
    };
    std::mem::drop(writes::submit(ctx, call, &target, vec![op], WriteMode::Atomic, None).await?);
    Ok(())
}

/// The collection's options (`None` when it does not exist); views refused.
fn current_options(ctx: &mut Ctx<'_>, call: &mut Call, coll: &str) -> CmdResult<Option<Document>> {
    let target = call.target(ctx)?;
    target.writable()?;
    let snap = match call.snapshot(ctx, &target) {
        Ok(s) => s,
        Err(e) if e.code == code::NAMESPACE_NOT_FOUND.0 => return Ok(None),
        Err(e) => return Err(e),
    };
    let options = snap.collection(coll).map(|c| c.options.clone());
    if options.as_ref().is_some_and(crate::views::is_view) {
        return Err(CommandError::new(
            code::COMMAND_NOT_SUPPORTED_ON_VIEW,
            format!("search indexes are not supported on the view {}.{coll}", call.db),
        ));
    }
    Ok(options)
}

/// `{createSearchIndexes: coll, indexes: [{name?, type?, definition}]}`.
pub async fn create(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let coll = collection_name(&call.cmd, "createSearchIndexes")?;
    super::crud_insert::check_writable_collection(&coll)?;
    let Ok(specs) = call.cmd.get_array("indexes") else {
        return Err(CommandError::type_mismatch("createSearchIndexes 'indexes' must be an array"));
    };
    let specs = specs.clone();
    if specs.is_empty() {
        return Err(CommandError::bad_value("createSearchIndexes needs at least one index"));
    }
    let options = current_options(ctx, call, &coll)?;
    let mut list = options.as_ref().map(definitions).unwrap_or_default();
    let mut created = Vec::new();
    for spec in &specs {
        let Bson::Document(spec) = spec else {
            return Err(CommandError::type_mismatch("each search index must be a document"));
        };
        let name = match spec.get("name") {
            None => "default".to_string(),
            Some(Bson::String(n)) if !n.is_empty() => n.clone(),
            Some(_) => {
                return Err(CommandError::bad_value("a search index 'name' must be a non-empty string"))
            }
        };
        match spec.get_str("type") {
            Ok("vectorSearch") => {}
            Ok("search") | Err(_) => {
                return Err(CommandError::new(
                    code::COMMAND_NOT_SUPPORTED,
                    "Argon has vectorSearch indexes only ($search full-text indexes are not implemented); \
                     use type: \"vectorSearch\", or a text index with $text",
                ))
            }
            Ok(other) => return Err(CommandError::bad_value(format!("unknown search index type '{other}'"))),
        }
        let Ok(definition) = spec.get_document("definition") else {
            return Err(CommandError::bad_value("a search index needs a 'definition' document"));
        };
        check_definition(definition)?;
        if list.iter().any(|d| d.get_str("name").ok() == Some(name.as_str())) {
            return Err(CommandError::new(
                (68, "IndexAlreadyExists"),
                format!(
                    "Duplicate Index: a search index named '{name}' already exists on {}.{coll}",
                    call.db
                ),
            ));
        }
        let id = new_id();
        list.push(doc! {
            "id": &id, "name": &name, "type": "vectorSearch",
            "definition": definition.clone(), "createdAt": bson::DateTime::now(),
        });
        created.push(Bson::Document(doc! { "id": id, "name": name }));
    }
    save(ctx, call, &coll, options, list).await?;
    Ok(doc! { "indexesCreated": created })
}

/// `{updateSearchIndex: coll, id | name, definition}`.
pub async fn update(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let coll = collection_name(&call.cmd, "updateSearchIndex")?;
    let Ok(definition) = call.cmd.get_document("definition").cloned() else {
        return Err(CommandError::bad_value("updateSearchIndex needs a 'definition' document"));
    };
    check_definition(&definition)?;
    let Some(options) = current_options(ctx, call, &coll)? else {
        return Err(CommandError::new(
            code::NAMESPACE_NOT_FOUND,
            format!("ns does not exist: {}.{coll}", call.db),
        ));
    };
    let mut list = definitions(&options);
    let at = find_index(&list, &call.cmd, "updateSearchIndex")?;
    list[at].insert("definition", definition);
    save(ctx, call, &coll, Some(options), list).await?;
    Ok(Document::new())
}

/// `{dropSearchIndex: coll, id | name}`.
pub async fn drop(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let coll = collection_name(&call.cmd, "dropSearchIndex")?;
    let Some(options) = current_options(ctx, call, &coll)? else {
        return Err(CommandError::new(
            code::NAMESPACE_NOT_FOUND,
            format!("ns does not exist: {}.{coll}", call.db),
        ));
    };
    let mut list = definitions(&options);
    let at = find_index(&list, &call.cmd, "dropSearchIndex")?;
    list.remove(at);
    save(ctx, call, &coll, Some(options), list).await?;
    Ok(Document::new())
}

/// A leading `$listSearchIndexes: {id?, name?}` becomes the indexes it
/// lists, as MongoDB shows them (`status: "READY"`: a definition is
/// queryable as soon as it is written).
pub fn list_stage(options: Option<&Document>, mut stages: Vec<Document>) -> CmdResult<Vec<Document>> {
    let Some(spec) = stages.first().and_then(|s| s.get("$listSearchIndexes")) else { return Ok(stages) };
    let Bson::Document(spec) = spec else {
        return Err(CommandError::type_mismatch("$listSearchIndexes must take a nested object"));
    };
    for (k, v) in spec {
        if !matches!((k.as_str(), v), ("id" | "name", Bson::String(_))) {
            return Err(CommandError::new(
                (40415, "IDLUnknownField"),
                format!("BSON field '$listSearchIndexes.{k}' is an unknown field or not a string."),
            ));
        }
    }
    let docs: Vec<Bson> = options
        .map(definitions)
        .unwrap_or_default()
        .into_iter()
        .filter(|d| spec.iter().all(|(k, v)| d.get(k) == Some(v)))
        .map(|d| {
            let definition = d.get_document("definition").cloned().unwrap_or_default();
            let created = d.get("createdAt").cloned().unwrap_or(Bson::Null);
            Bson::Document(doc! {
                "id": d.get_str("id").unwrap_or_default(),
                "name": d.get_str("name").unwrap_or_default(),
                "type": d.get_str("type").unwrap_or("vectorSearch"),
                "status": "READY",
                "queryable": true,
                "latestVersion": 0,
                "latestDefinitionVersion": {"version": 0, "createdAt": created},
                "latestDefinition": definition,
            })
        })
        .collect();
    // As data, not as `$documents` expressions (a definition's strings
    // are paths, not field references).
    stages[0] = doc! { "$documents": {"$literal": docs} };
    Ok(stages)
}
