//! Vector search indexes and `$vectorSearch` (MongoDB 8.2 / Atlas):
//! `createSearchIndexes`, `updateSearchIndex`, `dropSearchIndex`, the
//! `$listSearchIndexes` stage, and a leading `$vectorSearch` stage.
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
use crate::source::{Source, Stored};
use crate::writes;

/// Where a collection's search index definitions live in its options (a
/// `$` name: `create` refuses such options, `listCollections` hides it).
pub const OPTIONS_KEY: &str = "$searchIndexes";

/// Most dimensions a vector field may have (Atlas's limit).
const MAX_DIMENSIONS: i64 = 8192;
/// Most candidates a `$vectorSearch` may ask for.
const MAX_CANDIDATES: i64 = 10_000;

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

/// How a vector field's similarity is scored.
#[derive(Clone, Copy, Debug)]
enum Similarity {
    Euclidean,
    Cosine,
    DotProduct,
}

impl Similarity {
    /// Atlas's (Lucene's) score in [0, 1], higher is nearer, of a stored
    /// vector against the query; `None` unless it is a vector of numbers
    /// of the query's length. One pass, no allocation.
    fn score(self, query: &[f64], stored: impl Iterator<Item = Option<f64>>) -> Option<f64> {
        let (mut dot, mut norm_q, mut norm_v, mut dist2, mut n) = (0.0, 0.0, 0.0, 0.0, 0usize);
        for x in stored {
            let (x, q) = (x?, *query.get(n)?);
            dot += x * q;
            norm_q += q * q;
            norm_v += x * x;
            dist2 += (x - q) * (x - q);
            n += 1;
        }
        if n != query.len() {
            return None;
        }
        Some(match self {
            Similarity::Euclidean => 1.0 / (1.0 + dist2),
            Similarity::DotProduct => (1.0 + dot) / 2.0,
            // A zero vector has no direction: cosine 0.
            Similarity::Cosine if norm_q == 0.0 || norm_v == 0.0 => 0.5,
            Similarity::Cosine => (1.0 + dot / (norm_q.sqrt() * norm_v.sqrt())) / 2.0,
        })
    }
}

/// The numbers of a BSON vector (binary subtype 9: float32 or int8).
fn binary_vector(b: &bson::Binary) -> Option<Vec<f64>> {
    match bson::binary::Vector::try_from(b).ok()? {
        bson::binary::Vector::Float32(v) => Some(v.into_iter().map(f64::from).collect()),
        bson::binary::Vector::Int8(v) => Some(v.into_iter().map(f64::from).collect()),
        bson::binary::Vector::PackedBit(_) => None,
    }
}

/// A vector: an array of numbers, or a BSON vector; `None` for anything else.
fn as_vector(v: &Bson) -> Option<Vec<f64>> {
    match v {
        Bson::Array(a) => a.iter().map(number).collect(),
        Bson::Binary(b) if b.subtype == bson::spec::BinarySubtype::Vector => binary_vector(b),
        _ => None,
    }
}

fn number(v: &Bson) -> Option<f64> {
    argon_query::numeric::is_number(v).then(|| argon_query::numeric::to_f64(v)).flatten()
}

/// The elements of a stored BSON array read as numbers straight from its
/// bytes (type byte, index key, value): the hot loop of `$vectorSearch`,
/// a few times faster than the generic raw iterator. Yields `None` for an
/// element that is not a double, int32 or int64 (the vector is then
/// skipped) or when the bytes run short.
struct ArrayNumbers<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> ArrayNumbers<'a> {
    /// `bytes`: a whole BSON array (length prefix to final NUL).
    fn new(bytes: &'a [u8]) -> Option<ArrayNumbers<'a>> {
        (bytes.len() >= 5 && bytes[bytes.len() - 1] == 0).then_some(ArrayNumbers { bytes, at: 4 })
    }
}

impl Iterator for ArrayNumbers<'_> {
    type Item = Option<f64>;
    fn next(&mut self) -> Option<Option<f64>> {
        let kind = *self.bytes.get(self.at)?;
        if kind == 0 {
            return None; // the array's end
        }
        // Skip the element's key (a NUL-terminated index).
        let key_len = self.bytes[self.at + 1..].iter().position(|&b| b == 0);
        let Some(value_at) = key_len.map(|n| self.at + 2 + n) else {
            self.at = self.bytes.len();
            return Some(None);
        };
        let fixed = |n: usize| self.bytes.get(value_at..value_at + n);
        let (value, len) = match kind {
            0x01 => (fixed(8).map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes"))), 8),
            0x10 => (fixed(4).map(|b| f64::from(i32::from_le_bytes(b.try_into().expect("4 bytes")))), 4),
            0x12 => (fixed(8).map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")) as f64), 8),
            _ => (None, 0),
        };
        self.at = match value {
            Some(_) => value_at + len,
            None => self.bytes.len(), // stop: the vector is not all numbers
        };
        Some(value)
    }
}

fn raw_number(v: bson::RawBsonRef<'_>) -> Option<f64> {
    match v {
        bson::RawBsonRef::Double(d) => Some(d),
        bson::RawBsonRef::Int32(i) => Some(f64::from(i)),
        bson::RawBsonRef::Int64(i) => Some(i as f64),
        bson::RawBsonRef::Decimal128(d) => number(&Bson::Decimal128(d)),
        _ => None,
    }
}

/// A parsed `$vectorSearch` stage.
pub struct VectorSearch {
    path: String,
    query: Vec<f64>,
    similarity: Similarity,
    limit: usize,
    filter: Option<argon_query::Filter>,
}

impl VectorSearch {
    /// Parses `{index, path, queryVector, numCandidates?, limit, filter?,
    /// exact?}` against the collection's options (its search indexes).
    pub fn parse(spec: &Bson, options: Option<&Document>) -> CmdResult<VectorSearch> {
        let Bson::Document(spec) = spec else {
            return Err(CommandError::type_mismatch("$vectorSearch must take a nested object"));
        };
        let bad = |m: &str| Err(CommandError::bad_value(format!("$vectorSearch: {m}")));
        let (mut index, mut path, mut query, mut candidates, mut limit, mut filter, mut exact) =
            (None, None, None, None, None, None, false);
        for (k, v) in spec {
            match k.as_str() {
                "index" => index = v.as_str(),
                "path" => path = v.as_str(),
                "queryVector" => query = Some(v),
                "numCandidates" => candidates = Some(argon_query::numeric::to_exact_i64(v)),
                "limit" => limit = Some(argon_query::numeric::to_exact_i64(v)),
                "filter" => filter = Some(v),
                "exact" => match v {
                    Bson::Boolean(b) => exact = *b,
                    _ => return bad("\"exact\" must be a boolean"),
                },
                other => {
                    return Err(CommandError::new(
                        (40415, "IDLUnknownField"),
                        format!("BSON field '$vectorSearch.{other}' is an unknown field."),
                    ))
                }
            }
        }
        let Some(index) = index else { return bad("\"index\" is required and must be a string") };
        let Some(path) = path else { return bad("\"path\" is required and must be a string") };
        let Some(query) = query.and_then(as_vector) else {
            return bad("\"queryVector\" is required and must be an array of numbers");
        };
        let limit = match limit {
            Some(Some(n)) if n >= 1 => n,
            _ => return bad("\"limit\" is required and must be a positive integer"),
        };
        match (candidates, exact) {
            (Some(_), true) => return bad("\"numCandidates\" is not allowed with \"exact\": true"),
            (None, false) => return bad("\"numCandidates\" is required unless \"exact\" is true"),
            (Some(Some(n)), false) if n < limit => {
                return bad("\"numCandidates\" must be greater than or equal to \"limit\"")
            }
            (Some(Some(n)), false) if n > MAX_CANDIDATES => {
                return bad(&format!("\"numCandidates\" must be at most {MAX_CANDIDATES}"))
            }
            (Some(None), _) => return bad("\"numCandidates\" must be an integer"),
            _ => {}
        }
        // The index: the named vectorSearch index of this collection (at
        // the query's snapshot), with `path` as one of its vector fields.
        let defs = options.map(definitions).unwrap_or_default();
        let Some(def) = defs.iter().find(|d| d.get_str("name").ok() == Some(index)) else {
            // Atlas answers no documents for an unknown index name.
            return Ok(VectorSearch {
                path: path.into(),
                query,
                similarity: Similarity::Cosine,
                limit: 0,
                filter: None,
            });
        };
        let fields: Vec<&Document> = def
            .get_document("definition")
            .ok()
            .and_then(|d| d.get_array("fields").ok())
            .map(|a| a.iter().filter_map(Bson::as_document).collect())
            .unwrap_or_default();
        let Some(field) = fields
            .iter()
            .find(|f| f.get_str("type").ok() == Some("vector") && f.get_str("path").ok() == Some(path))
        else {
            return bad(&format!("Path '{path}' needs to be indexed as vector in index '{index}'"));
        };
        let dims = field.get("numDimensions").and_then(argon_query::numeric::to_exact_i64).unwrap_or(0);
        if query.len() as i64 != dims {
            return bad(&format!(
                "queryVector has {} dimensions but the index '{index}' expects {dims} for path '{path}'",
                query.len()
            ));
        }
        let similarity = match field.get_str("similarity") {
            Ok("euclidean") => Similarity::Euclidean,
            Ok("dotProduct") => Similarity::DotProduct,
            _ => Similarity::Cosine,
        };
        let filter = match filter {
            None => None,
            Some(Bson::Document(f)) => {
                let parsed = argon_query::Filter::parse(f)?;
                // Only fields the index declares as filters (their top-level
                // names, as the filter's dependencies are recorded).
                let declared: Vec<&str> = fields
                    .iter()
                    .filter(|f| f.get_str("type").ok() == Some("filter"))
                    .filter_map(|f| f.get_str("path").ok())
                    .map(|p| p.split('.').next().unwrap_or(p))
                    .collect();
                if let Some(f) =
                    parsed.dependencies().fields().iter().find(|f| !declared.contains(&f.as_str()))
                {
                    return bad(&format!("Path '{f}' needs to be indexed as filter in index '{index}'"));
                }
                Some(parsed)
            }
            Some(_) => return bad("\"filter\" must be a document"),
        };
        Ok(VectorSearch { path: path.into(), query, similarity, limit: limit as usize, filter })
    }

    /// The score of one document, read from its stored bytes where it
    /// has them (`None`: no vector of the query's length at `path`).
    fn score_of(&self, doc: Stored<'_>) -> Option<f64> {
        let doc = match doc {
            Stored::Doc(d) => {
                let v = as_vector(argon_query::get_path(d, &self.path)?)?;
                return self.similarity.score(&self.query, v.into_iter().map(Some));
            }
            Stored::Raw(bytes) => bson::RawDocument::from_bytes(bytes).ok()?,
        };
        let mut parts = self.path.split('.');
        let mut value = doc.get(parts.next()?).ok()??;
        for part in parts {
            match value {
                bson::RawBsonRef::Document(d) => value = d.get(part).ok()??,
                _ => return None,
            }
        }
        match value {
            // The fast reader first; the generic one for what it does not
            // read (decimals).
            bson::RawBsonRef::Array(a) => ArrayNumbers::new(a.as_bytes())
                .and_then(|numbers| self.similarity.score(&self.query, numbers))
                .or_else(|| {
                    self.similarity.score(&self.query, a.into_iter().map(|e| e.ok().and_then(raw_number)))
                }),
            bson::RawBsonRef::Binary(b) if b.subtype == bson::spec::BinarySubtype::Vector => {
                let v = binary_vector(&bson::Binary { subtype: b.subtype, bytes: b.bytes.to_vec() })?;
                self.similarity.score(&self.query, v.into_iter().map(Some))
            }
            _ => None,
        }
    }

    /// The `limit` nearest documents of `coll`, best first, with their
    /// scores. Vectors are read from the stored bytes and only the
    /// filter's fields are decoded to match; only the winners are decoded
    /// whole. Documents without a vector of the right length at `path` are
    /// skipped; ties keep `_id` order.
    pub fn run(&self, src: &Source<'_>, coll: &str) -> CmdResult<Vec<(Document, f64)>> {
        if self.limit == 0 {
            return Ok(vec![]);
        }
        let mut scratch = Document::new();
        let mut best = Vec::new();
        src.each_stored(coll, |doc| {
            if let Some(f) = &self.filter {
                doc.decode_for_matching(f.dependencies(), &mut scratch)?;
                if !f.matches(&scratch) {
                    return Ok(());
                }
            }
            if let Some(score) = self.score_of(doc) {
                best.push((score, doc));
                // Memory stays bounded: trim to the best `limit` now and then.
                if best.len() >= 2 * self.limit.max(512) {
                    trim(&mut best, self.limit);
                }
            }
            Ok(())
        })?;
        trim(&mut best, self.limit);
        best.into_iter().map(|(score, doc)| Ok((doc.decode()?, score))).collect()
    }
}

/// The best `limit` by score, best first (stable: ties keep their order).
fn trim(scored: &mut Vec<(f64, Stored<'_>)>, limit: usize) {
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.truncate(limit);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn number_strategy() -> impl Strategy<Value = Bson> {
        prop_oneof![
            (-1e6f64..1e6).prop_map(Bson::Double),
            any::<i32>().prop_map(Bson::Int32),
            (-1i64 << 40..1i64 << 40).prop_map(Bson::Int64),
            Just(Bson::String("x".into())),
            Just(Bson::Null),
        ]
    }

    proptest! {
        /// The byte-level reader agrees with decoding the array.
        #[test]
        fn array_numbers_match_the_decoded_array(values in prop::collection::vec(number_strategy(), 0..40)) {
            let doc = doc! {"v": values.clone()};
            let raw = bson::RawDocumentBuf::try_from(&doc).unwrap();
            let arr = raw.get_array("v").unwrap();
            let fast: Vec<Option<f64>> = ArrayNumbers::new(arr.as_bytes()).unwrap().collect();
            let want: Vec<Option<f64>> = values.iter().map(number).collect();
            // The fast reader stops at the first non-number.
            let stop = want.iter().position(Option::is_none).map_or(want.len(), |i| i + 1);
            prop_assert_eq!(fast, want[..stop].to_vec());
        }

        /// Scores from raw bytes equal scores from the decoded vector.
        #[test]
        fn raw_and_decoded_scores_agree(v in prop::collection::vec(-10f64..10.0, 1..20), q in prop::collection::vec(-10f64..10.0, 1..20)) {
            for similarity in [Similarity::Cosine, Similarity::Euclidean, Similarity::DotProduct] {
                let search = VectorSearch { path: "a.e".into(), query: q.clone(), similarity, limit: 1, filter: None };
                let doc = doc! {"a": {"e": v.clone()}};
                let raw = bson::RawDocumentBuf::try_from(&doc).unwrap();
                let from_raw = search.score_of(Stored::Raw(raw.as_bytes()));
                let from_doc = search.score_of(Stored::Doc(&doc));
                prop_assert_eq!(from_raw, from_doc);
                prop_assert_eq!(from_raw.is_some(), v.len() == q.len());
                // (dotProduct is in [0, 1] only for unit vectors, which
                // its users are told to store.)
                if let (Some(s), false) = (from_raw, matches!(similarity, Similarity::DotProduct)) {
                    prop_assert!((0.0..=1.0).contains(&s), "{s}");
                }
            }
        }
    }

    #[test]
    fn decimals_fall_back_to_the_generic_reader() {
        let search = VectorSearch {
            path: "e".into(),
            query: vec![1.0, 2.0],
            similarity: Similarity::DotProduct,
            limit: 1,
            filter: None,
        };
        let doc = doc! {"e": [Bson::Decimal128("1".parse().unwrap()), Bson::Int32(2)]};
        let raw = bson::RawDocumentBuf::try_from(&doc).unwrap();
        assert_eq!(search.score_of(Stored::Raw(raw.as_bytes())), Some((1.0 + 5.0) / 2.0));
    }
}
