//! Read-only views: `create` with `viewOn` and `pipeline` records a
//! collection entry whose options name its source, and holds no documents.
//! Reads of a view run its pipeline over the source (views on views
//! resolve to the first real collection, pipelines innermost first):
//! `aggregate` prepends it, and `find`, `count` and `distinct` run as
//! aggregations. Writes and index builds on a view fail with 166
//! CommandNotSupportedOnView (the store refuses them too). Like every
//! catalog entry, a view is versioned per branch and LSN.

use argon_query::pipeline::Pipeline;
use argon_store::Snapshot;
use bson::{Bson, Document};

use crate::error::{code, CmdResult, CommandError};

/// Views on views deeper than this are refused (MongoDB's limit).
const MAX_DEPTH: usize = 20;

/// Whether collection options describe a view.
pub fn is_view(options: &Document) -> bool {
    options.contains_key("viewOn")
}

/// The error for a write to a view.
pub fn not_a_collection(db: &str, name: &str) -> CommandError {
    CommandError::new(
        code::COMMAND_NOT_SUPPORTED_ON_VIEW,
        format!("Namespace {db}.{name} is a view, not a collection"),
    )
}

/// Fails when `name` is a view in `snap` (for writes).
pub fn check_not_view(snap: &Snapshot, db: &str, name: &str) -> CmdResult<()> {
    match snap.collection(name) {
        Some(c) if is_view(&c.options) => Err(not_a_collection(db, name)),
        _ => Ok(()),
    }
}

/// Checks `create`'s view options: `viewOn` a non-empty string, `pipeline`
/// an array of stages that parses and does not write.
pub fn check_definition(options: &Document) -> CmdResult<()> {
    match options.get("viewOn") {
        Some(Bson::String(s)) if !s.is_empty() => {}
        Some(Bson::String(_)) => return Err(CommandError::bad_value("'viewOn' cannot be empty")),
        Some(v) => {
            return Err(CommandError::type_mismatch(format!(
                "BSON field 'create.viewOn' is the wrong type '{}', expected type 'string'",
                argon_query::types::type_name(v)
            )))
        }
        None => return Ok(()),
    }
    let stages = stages_of(options)?;
    for stage in &stages {
        if let Some(name) = stage.keys().next() {
            if matches!(name.as_str(), "$out" | "$merge" | "$changeStream") {
                return Err(CommandError::new(
                    code::OPTION_NOT_SUPPORTED_ON_VIEW,
                    format!("{name} cannot be used in a view definition"),
                ));
            }
        }
    }
    Pipeline::parse(&stages)?;
    for (k, _) in options.iter() {
        if !matches!(k.as_str(), "viewOn" | "pipeline" | "collation") {
            return Err(CommandError::new(
                code::INVALID_OPTIONS,
                format!("option '{k}' is not allowed with a view"),
            ));
        }
    }
    Ok(())
}

fn stages_of(options: &Document) -> CmdResult<Vec<Document>> {
    match options.get("pipeline") {
        None => Ok(vec![]),
        Some(Bson::Array(items)) => items
            .iter()
            .map(|s| match s {
                Bson::Document(d) => Ok(d.clone()),
                _ => Err(CommandError::type_mismatch("each view pipeline stage must be an object")),
            })
            .collect(),
        Some(v) => Err(CommandError::type_mismatch(format!(
            "BSON field 'create.pipeline' is the wrong type '{}', expected type 'array'",
            argon_query::types::type_name(v)
        ))),
    }
}

/// When `name` is a view in `snap`: the collection it reads in the end and
/// the whole pipeline to run over it, innermost view's stages first.
pub fn resolve(snap: &Snapshot, name: &str) -> CmdResult<Option<(String, Vec<Document>)>> {
    let mut current = name.to_string();
    let mut layers: Vec<Vec<Document>> = Vec::new();
    while let Some(c) = snap.collection(&current) {
        // (`create` only records a string `viewOn`.)
        let Some(Bson::String(source)) = c.options.get("viewOn") else { break };
        if layers.len() == MAX_DEPTH {
            return Err(CommandError::new(
                code::VIEW_DEPTH_LIMIT_EXCEEDED,
                format!("View depth too deep or view cycle detected; maximum depth is {MAX_DEPTH}"),
            ));
        }
        layers.push(stages_of(&c.options)?);
        current = source.clone();
    }
    if layers.is_empty() {
        return Ok(None);
    }
    Ok(Some((current, layers.into_iter().rev().flatten().collect())))
}
