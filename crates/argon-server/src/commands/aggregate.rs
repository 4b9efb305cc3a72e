//! `aggregate`: runs a pipeline over one snapshot (`Source::aggregate`). A
//! leading `$match` an index or `_id` can answer runs through the planner;
//! otherwise documents stream from the scan into the stages, decoded only
//! as far as the pipeline reads them; `$lookup`/`$unionWith` read other
//! collections of the same snapshot; `$out`/`$merge` writes are collected
//! and committed through the WAL after the pipeline ran. A pipeline that
//! starts with `$changeStream` opens a change stream instead.

use std::cell::RefCell;

use argon_query::pipeline::{Pipeline, PipelineContext};
use argon_query::QueryError;
use argon_store::{Snapshot, WriteMode, WriteOp};
use bson::{doc, Bson, Document};

use super::find::cursor_reply;
use super::{Call, Ctx};
use crate::args::Args;
use crate::error::{code, CmdResult, CommandError};
use crate::session::Overlay;
use crate::source::Source;

/// Writes a pipeline asked for, committed once it finished.
/// `db` is set when the stage names another database (for Argon,
/// another project or branch: `$out: {db: "app~staging", coll}`).
enum Output {
    Out { db: Option<String>, coll: String, docs: Vec<Document> },
    Merge { db: Option<String>, coll: String, docs: Vec<Document>, spec: Document },
}

struct Context<'a> {
    snap: &'a Snapshot,
    overlay: Option<&'a Overlay>,
    outputs: RefCell<Vec<Output>>,
}

impl PipelineContext for Context<'_> {
    fn collection(&self, name: &str) -> argon_query::Result<Vec<Document>> {
        let src = Source { snap: self.snap, overlay: self.overlay };
        let as_query_error =
            |e: CommandError| QueryError { code: e.code, code_name: "InternalError", message: e.message };
        // `$lookup`/`$unionWith` from a view read what the view shows.
        if let Some((base, stages)) = crate::views::resolve(self.snap, name).map_err(as_query_error)? {
            let pipeline = Pipeline::parse(&stages)?;
            let vars = argon_query::expr::Vars::new(self.now());
            return src.aggregate(&base, &pipeline, self, &vars).map_err(as_query_error);
        }
        let mut out = Vec::new();
        src.for_each(name, &mut |d| {
            out.push(d);
            Ok(true)
        })
        .map_err(|e| QueryError { code: e.code, code_name: "InternalError", message: e.message })?;
        Ok(out)
    }

    fn write_out(&self, coll: &str, docs: Vec<Document>) -> argon_query::Result<()> {
        self.outputs.borrow_mut().push(Output::Out { db: None, coll: coll.to_string(), docs });
        Ok(())
    }

    fn write_out_to(&self, db: &str, coll: &str, docs: Vec<Document>) -> argon_query::Result<()> {
        let db = Some(db.to_string());
        self.outputs.borrow_mut().push(Output::Out { db, coll: coll.to_string(), docs });
        Ok(())
    }

    fn merge_into(&self, coll: &str, docs: Vec<Document>, spec: &Document) -> argon_query::Result<()> {
        let db = spec.get_document("into").ok().and_then(|i| i.get_str("db").ok()).map(str::to_string);
        self.outputs.borrow_mut().push(Output::Merge {
            db,
            coll: coll.to_string(),
            docs,
            spec: spec.clone(),
        });
        Ok(())
    }

    fn now(&self) -> bson::DateTime {
        bson::DateTime::now()
    }

    fn find_equal(
        &self,
        coll: &str,
        field: &str,
        values: &[Bson],
    ) -> argon_query::Result<Option<Vec<Document>>> {
        let as_query_error =
            |e: CommandError| QueryError { code: e.code, code_name: "InternalError", message: e.message };
        let Some(meta) = self.snap.collection(coll) else { return Ok(None) };
        // A view runs its pipeline over all of its source: read it whole.
        if crate::views::is_view(&meta.options) {
            return Ok(None);
        }
        let indexed = field == "_id"
            || meta.indexes.iter().any(|i| {
                let usable = !crate::planner::is_hidden(&i.spec)
                    && !i.spec.get_bool("sparse").unwrap_or(false)
                    && !i.spec.contains_key("partialFilterExpression");
                let first = i.spec.get_document("key").ok().and_then(|k| k.iter().next());
                usable && matches!(first, Some((f, v)) if f == field && !matches!(v, Bson::String(_)))
            });
        if !indexed {
            return Ok(None);
        }
        let src = Source { snap: self.snap, overlay: self.overlay };
        // Equality, not `$in`'s pattern matching, for a regex value.
        let (regexes, plain): (Vec<&Bson>, Vec<&Bson>) =
            values.iter().partition(|v| matches!(v, Bson::RegularExpression(_)));
        let mut filters = vec![doc! { field: { "$in": plain.into_iter().cloned().collect::<Vec<_>>() } }];
        filters.extend(regexes.into_iter().map(|r| doc! { field: { "$eq": r.clone() } }));
        let mut out: Vec<Document> = Vec::new();
        for (i, filter) in filters.into_iter().enumerate() {
            let query = crate::source::Query::parse(&filter).map_err(as_query_error)?;
            for d in src.matching(coll, &query, None, 0, None).map_err(as_query_error)? {
                // (Only a regex query can find a document a second time.)
                if i == 0 || !out.iter().any(|o| o.get("_id") == d.get("_id")) {
                    out.push(d);
                }
            }
        }
        Ok(Some(out))
    }
}

pub async fn run(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let a = Args::new(&call.cmd, "aggregate");
    let coll: Option<String> = match call.cmd.get("aggregate") {
        Some(Bson::String(s)) => Some(s.clone()),
        Some(Bson::Int32(1)) | Some(Bson::Int64(1)) | Some(Bson::Double(_)) => None,
        _ => return Err(CommandError::type_mismatch("aggregate must name a collection or be 1")),
    };
    let stages: Vec<Document> = a
        .docs("pipeline")?
        .ok_or_else(|| crate::args::missing("aggregate", "pipeline"))?
        .into_iter()
        .cloned()
        .collect();
    let cursor_opts = a.doc("cursor")?;
    let collation = super::collation_for(ctx, call, &call.cmd, coll.as_deref())?;
    let lets = a.let_vars()?;
    let let_names = argon_query::expr::let_names(&lets);
    if cursor_opts.is_none() && !a.bool("explain")?.unwrap_or(false) {
        return Err(CommandError::new(
            code::FAILED_TO_PARSE,
            "The 'cursor' option is required, except for aggregate with the explain argument",
        ));
    }
    if a.bool("explain")?.unwrap_or(false) {
        // `{aggregate, pipeline, explain: true}` answers like
        // `{explain: {aggregate, pipeline}}`: the plan, not the documents.
        let mut inner = (*call.cmd).clone();
        for field in ["explain", "cursor", "$db", "lsid", "$clusterTime", "$readPreference"] {
            inner.remove(field);
        }
        call.cmd = std::sync::Arc::new(
            doc! { "explain": inner, "verbosity": "queryPlanner", "$db": call.db.clone() },
        );
        return super::explain::run(ctx, call);
    }
    let batch_size = cursor_opts
        .and_then(|c| c.get("batchSize"))
        .and_then(|b| b.as_i64().or(b.as_i32().map(i64::from)))
        .map(|b| b.max(0) as usize);

    if stages.first().is_some_and(|s| s.contains_key("$changeStream")) {
        return crate::change_stream::open(ctx, call, coll.as_deref(), &stages, batch_size);
    }
    let Some(coll) = coll else {
        return database_aggregate(ctx, call, stages, batch_size, &lets);
    };
    if crate::oplog::is_oplog(&call.db, &coll) {
        let docs = crate::oplog::aggregate(ctx, &stages, &lets)?;
        return Ok(results_reply(ctx, call, format!("{}.{coll}", call.db), docs, batch_size));
    }
    let target = call.target(ctx)?;
    let snap = match call.snapshot(ctx, &target) {
        Ok(s) => Some(s),
        Err(e) if e.code == code::NAMESPACE_NOT_FOUND.0 => None,
        Err(e) => return Err(e),
    };
    // A view: its pipeline first, over the collection it reads.
    let (source, stages) = match snap.as_ref().map(|s| crate::views::resolve(s, &coll)).transpose()?.flatten()
    {
        Some((base, mut view_stages)) => {
            // (Compass asks for every namespace's stats and passes over a view's 166.)
            if stages.first().is_some_and(|s| s.contains_key("$collStats") || s.contains_key("$indexStats")) {
                return Err(CommandError::new(
                    code::COMMAND_NOT_SUPPORTED_ON_VIEW,
                    format!("Namespace {}.{coll} is a view, not a collection", call.db),
                ));
            }
            view_stages.extend(stages);
            (base, view_stages)
        }
        None => (coll.clone(), stages),
    };
    let options = snap.as_ref().and_then(|s| s.collection(&source)).map(|c| c.options.clone());
    let mut stages = match &snap {
        Some(snap) => {
            let host = &ctx.state.config.advertised_host;
            let usage = ctx.state.ops.usage.get(&call.db, &source);
            let stages = coll_stats_stage(snap, &call.db, &source, host, &usage, stages)?;
            let stages = index_stats_stage(snap, &source, host, ctx.state.started, stages)?;
            super::search_indexes::list_stage(options.as_ref(), stages)?
        }
        None => stages,
    };
    // A leading `$vectorSearch` runs here (over the snapshot and the
    // transaction's own writes); the rest of the pipeline takes its output.
    let vector_search = match stages.first().and_then(|s| s.get("$vectorSearch")) {
        Some(spec) => Some(crate::vector_search::VectorSearch::parse(spec, options.as_ref())?),
        None => None,
    };
    if vector_search.is_some() {
        stages.remove(0);
    }
    let pipeline = Pipeline::parse_with_vars(&stages, &let_names)?;
    // A capped collection's documents enter the pipeline in insertion order
    // (outside transactions; `$text` and `$geoNear` order by themselves).
    let natural = call.txn.is_none()
        && !pipeline.starts_with_text_match()
        && pipeline.geo_near().is_none()
        && snap
            .as_ref()
            .and_then(|s| s.collection(&source))
            .is_some_and(|c| argon_store::cap_of(&c.options).is_some());
    let (result, outputs) = match &snap {
        Some(snap) => {
            let overlay = call.txn.as_ref().map(|t| &t.overlay);
            let context = Context { snap, overlay, outputs: RefCell::new(vec![]) };
            let src = Source { snap, overlay };
            let vars = lets.clone();
            let out = crate::ops::long_running(|| {
                // (A run over its inline budget runs again: from no outputs.)
                context.outputs.borrow_mut().clear();
                argon_query::compare::with_collation(collation.as_ref(), || match &vector_search {
                    Some(search) => {
                        Ok(pipeline.run_vector_search_results(search.run(&src, &source)?, &context, &vars)?)
                    }
                    None if natural => {
                        let all = crate::source::Query::parse(&Document::new())?;
                        let docs = src.natural(&source, &all, false, 0, None, None)?;
                        Ok(pipeline.run_results(Box::new(docs.into_iter().map(Ok)), &context, &vars)?)
                    }
                    None => src.aggregate(&source, &pipeline, &context, &vars),
                })
            })?;
            (out, context.outputs.into_inner())
        }
        None => (vec![], vec![]),
    };
    drop(snap);
    for output in outputs {
        write_output(ctx, call, output).await?;
    }
    Ok(results_reply(ctx, call, format!("{}.{coll}", call.db), result, batch_size))
}

/// `{aggregate: 1}`: a pipeline that reads no collection, starting with
/// `$documents` or `$currentOp` (what mongosh's `db.currentOp()` runs:
/// the operations `currentOp` lists, as documents).
fn database_aggregate(
    ctx: &mut Ctx<'_>,
    call: &mut Call,
    stages: Vec<Document>,
    batch_size: Option<usize>,
    lets: &argon_query::expr::Vars,
) -> CmdResult<Document> {
    // The documents the pipeline starts from, and the stages that follow.
    let (input, rest): (Vec<Document>, &[Document]) =
        match stages.first().and_then(|s| s.keys().next()).map(String::as_str) {
            Some("$documents") => (vec![], &stages),
            Some("$currentOp") => {
                if call.db != "admin" {
                    return Err(CommandError::new(
                        code::INVALID_NAMESPACE,
                        "$currentOp must be run against the 'admin' database with {aggregate: 1}",
                    ));
                }
                // As data, not as `$documents` (which would read them as expressions).
                (ctx.state.ops.list(), &stages[1..])
            }
            _ => {
                return Err(CommandError::new(
                    code::INVALID_NAMESPACE,
                    "{aggregate: 1} is only supported with $changeStream, $documents or $currentOp",
                ))
            }
        };
    let pipeline = Pipeline::parse_with_vars(rest, &argon_query::expr::let_names(lets))?;
    let context = argon_query::pipeline::NoCollections { now: lets.now() };
    let vars = lets.clone();
    let docs = pipeline.run_results(Box::new(input.into_iter().map(Ok)), &context, &vars)?;
    Ok(results_reply(ctx, call, format!("{}.$cmd.aggregate", call.db), docs, batch_size))
}

/// The reply to an aggregate whose results are all here: the first batch
/// (`cursor.batchSize`, default 101), the rest in a cursor.
fn results_reply(
    ctx: &Ctx<'_>,
    call: &Call,
    ns: String,
    docs: Vec<Document>,
    batch_size: Option<usize>,
) -> Document {
    cursor_reply(
        ctx,
        call,
        ns,
        docs.into(),
        batch_size.or(Some(super::find::DEFAULT_FIRST_BATCH)),
        false,
        false,
    )
}

/// A leading `$collStats` becomes the one document it describes
/// (`{ns, host, localTime, storageStats?, count?, latencyStats?}`), as `$documents`, so
/// the rest of the pipeline runs over it (mongosh's `db.c.stats()` groups
/// it by shard).
fn coll_stats_stage(
    snap: &Snapshot,
    db: &str,
    coll: &str,
    host: &str,
    usage: &crate::usage::NsUsage,
    mut stages: Vec<Document>,
) -> CmdResult<Vec<Document>> {
    let Some(spec) = stages.first().and_then(|s| s.get("$collStats")) else { return Ok(stages) };
    let Bson::Document(spec) = spec else {
        return Err(CommandError::type_mismatch("$collStats must take a nested object"));
    };
    let mut out = doc! { "ns": format!("{db}.{coll}"), "host": host, "localTime": bson::DateTime::now() };
    for (k, v) in spec {
        match (k.as_str(), v) {
            ("storageStats", Bson::Document(o)) => {
                let scale = super::diagnostics::scale_of(o.get("scale"))?;
                out.insert("storageStats", super::diagnostics::storage_stats(snap, db, coll, scale)?);
            }
            ("count", Bson::Document(_)) => {
                // Just the documents: not the index scans storageStats needs.
                let n = crate::ops::long_running(|| Ok(snap.count(coll)?))?;
                out.insert("count", n as i64);
            }
            ("latencyStats", Bson::Document(o)) => {
                let histograms = match o.get("histograms") {
                    None => false,
                    Some(Bson::Boolean(b)) => *b,
                    Some(_) => return Err(CommandError::type_mismatch("latencyStats.histograms must be a boolean")),
                };
                out.insert("latencyStats", usage.latency_stats(histograms));
            }
            ("queryExecStats", _) => {
                return Err(CommandError::new(
                    code::COMMAND_NOT_SUPPORTED,
                    "$collStats queryExecStats is not supported by Argon (it keeps no per-collection scan counts)",
                ))
            }
            _ => return Err(CommandError::bad_value(format!("unrecognized option to $collStats: {k}"))),
        }
    }
    stages[0] = doc! { "$documents": [out] };
    Ok(stages)
}

/// A leading `$indexStats` becomes one document per index of `coll`
/// (`{name, key, host, accesses: {ops, since}, spec}`), as `$documents`.
/// `accesses.ops` counts the queries that used the index on this branch
/// since the server started (`index_usage`).
fn index_stats_stage(
    snap: &Snapshot,
    coll: &str,
    host: &str,
    started: std::time::Instant,
    mut stages: Vec<Document>,
) -> CmdResult<Vec<Document>> {
    let Some(spec) = stages.first().and_then(|s| s.get("$indexStats")) else { return Ok(stages) };
    match spec {
        Bson::Document(d) if d.is_empty() => {}
        Bson::Document(_) => {
            return Err(CommandError::new(code::FAILED_TO_PARSE, "$indexStats takes an empty object"))
        }
        _ => return Err(CommandError::new(code::FAILED_TO_PARSE, "$indexStats must take a nested object")),
    }
    let since = bson::DateTime::from_system_time(std::time::SystemTime::now() - started.elapsed());
    let mut indexes =
        vec![(crate::index_usage::ID_INDEX, doc! { "v": 2, "key": {"_id": 1}, "name": "_id_" })];
    if let Some(c) = snap.collection(coll) {
        indexes.extend(c.indexes.iter().map(|i| (i.id, i.spec.clone())));
    } else {
        indexes.clear(); // no collection, no indexes
    }
    let docs: Vec<Bson> = indexes
        .into_iter()
        .map(|(id, spec)| {
            let ops = crate::index_usage::accesses(snap, coll, id);
            Bson::Document(doc! {
                "name": spec.get_str("name").unwrap_or_default(),
                "key": spec.get_document("key").cloned().unwrap_or_default(),
                "host": host,
                "accesses": { "ops": ops as i64, "since": since },
                "spec": spec,
            })
        })
        .collect();
    stages[0] = doc! { "$documents": docs };
    Ok(stages)
}

/// Runs `stages` over `coll` in `snap` for a command that reads (a `find`,
/// `count` or `distinct` on a view), with the command's `let` variables:
/// no `$out` or `$merge`.
pub(crate) fn run_read_only_with_let(
    call: &Call,
    snap: &Snapshot,
    coll: &str,
    stages: &[Document],
    lets: &argon_query::expr::Vars,
) -> CmdResult<Vec<Document>> {
    let pipeline = Pipeline::parse_with_vars(stages, &argon_query::expr::let_names(lets))?;
    let overlay = call.txn.as_ref().map(|t| &t.overlay);
    let context = Context { snap, overlay, outputs: RefCell::new(vec![]) };
    let src = Source { snap, overlay };
    let vars = lets.clone();
    let docs = crate::ops::long_running(|| src.aggregate(coll, &pipeline, &context, &vars))?;
    if !context.outputs.borrow().is_empty() {
        return Err(CommandError::new(code::COMMAND_NOT_SUPPORTED, "a read of a view cannot write"));
    }
    Ok(docs)
}

/// Writes `docs` as `$out` would (`merge: None`: replace the collection)
/// or as `$merge` with the stage's `merge` spec would, in one commit (for
/// `mapReduce`'s output collections).
pub(crate) async fn write_documents(
    ctx: &mut Ctx<'_>,
    call: &mut Call,
    db: Option<String>,
    coll: String,
    docs: Vec<Document>,
    merge: Option<Document>,
) -> CmdResult<()> {
    let output = match merge {
        None => Output::Out { db, coll, docs },
        Some(spec) => Output::Merge { db, coll, docs, spec },
    };
    write_output(ctx, call, output).await
}

/// Commits `$out` (replace the collection) or `$merge` (upsert by `_id`).
async fn write_output(ctx: &mut Ctx<'_>, call: &mut Call, output: Output) -> CmdResult<()> {
    let (db, coll, docs, spec) = match output {
        Output::Out { db, coll, docs } => (db, coll, docs, None),
        Output::Merge { db, coll, docs, spec } => (db, coll, docs, Some(spec)),
    };
    let target = match db {
        Some(db) if db != call.db => {
            if call.txn.is_some() {
                return Err(CommandError::new(
                    code::OPERATION_NOT_SUPPORTED_IN_TRANSACTION,
                    "a transaction in Argon reads and writes one branch (one database)",
                ));
            }
            ctx.state.target(&db)?
        }
        _ => call.target(ctx)?,
    };
    let replace_all = spec.is_none();
    let spec = spec.unwrap_or_default();
    let mut ops = Vec::new();
    // The target's validator checks what the pipeline writes (unless the
    // command bypasses it), as it checks inserts and updates.
    let validator = crate::validation::for_target(&ctx.state, &target, &coll, &call.cmd)?;
    if replace_all {
        // $out replaces the documents but keeps the collection's options
        // (validator, ...) and indexes, as MongoDB's does.
        let existing = ctx
            .state
            .store
            .snapshot(&target.project, &target.branch, argon_store::At::Head)
            .ok()
            .and_then(|s| s.collection(&coll).cloned());
        if let Some(c) = &existing {
            if crate::views::is_view(&c.options) {
                return Err(CommandError::new(
                    code::COMMAND_NOT_SUPPORTED_ON_VIEW,
                    format!("$out cannot write to the view {}.{coll}", call.db),
                ));
            }
            ops.push(WriteOp::DropCollection { name: coll.clone() });
        }
        let options = existing.as_ref().map(|c| c.options.clone()).unwrap_or_default();
        ops.push(WriteOp::CreateCollection { name: coll.clone(), options });
        for index in existing.iter().flat_map(|c| &c.indexes) {
            ops.push(WriteOp::CreateIndex { coll: coll.clone(), spec: index.spec.clone() });
        }
        for d in docs {
            let d = super::crud_insert::prepare_document(&d)?;
            if let Some(v) = &validator {
                v.check_insert(&d)?;
            }
            ops.push(WriteOp::Insert { coll: coll.clone(), doc: d });
        }
    } else {
        let merge = MergeSpec::parse(&spec)?;
        let snap = ctx.state.store.snapshot(&target.project, &target.branch, argon_store::At::Head).ok();
        if let (Some(on), Some(s)) = (&merge.on, &snap) {
            check_unique_index(s, &coll, on)?;
        }
        for d in docs {
            let d = match &merge.on {
                // Without `_id` a document matched on other fields keeps the
                // matched one's; an inserted one gets a new ObjectId below.
                Some(_) => d,
                None => super::crud_insert::prepare_document(&d)?,
            };
            let existing = match &snap {
                Some(s) => merge.find_existing(s, &coll, &d)?,
                None => None,
            };
            let Some(new_doc) = merge.combine(existing.as_ref(), d, &call.db, &coll)? else { continue };
            if let Some(v) = &validator {
                match &existing {
                    Some(before) => v.check_update(before, &new_doc)?,
                    None => v.check_insert(&new_doc)?,
                }
            }
            let id = new_doc.get("_id").cloned().unwrap_or(Bson::Null);
            ops.push(WriteOp::Update {
                coll: coll.clone(),
                id,
                doc: new_doc,
                replace: true,
                check: argon_store::Check::Blind,
            });
        }
        if ops.is_empty() {
            return Ok(());
        }
    }
    crate::writes::submit(ctx, call, &target, ops, WriteMode::Atomic, None).await?;
    Ok(())
}

/// `$merge`'s options: `on` (fields a unique index covers; `_id` when
/// absent), `whenMatched` (a mode or an update pipeline with `let`
/// variables and `$$new`), `whenNotMatched`.
struct MergeSpec {
    /// `None` for `_id`.
    on: Option<Vec<String>>,
    when_matched: WhenMatched,
    when_not_matched: String,
}

enum WhenMatched {
    Mode(String),
    Pipeline { pipeline: Box<Pipeline>, vars: Document },
}

impl MergeSpec {
    fn parse(spec: &Document) -> CmdResult<MergeSpec> {
        let on = match spec.get("on") {
            None => None,
            Some(Bson::String(f)) => Some(vec![f.clone()]),
            Some(Bson::Array(fields)) if !fields.is_empty() => Some(
                fields
                    .iter()
                    .map(|f| match f {
                        Bson::String(f) => Ok(f.clone()),
                        _ => Err(CommandError::new(
                            (51134, "Location51134"),
                            "$merge 'on' array elements must be strings",
                        )),
                    })
                    .collect::<CmdResult<Vec<_>>>()?,
            ),
            Some(_) => {
                return Err(CommandError::new(
                    (51186, "Location51186"),
                    "$merge 'on' field must be either a string or an array of strings",
                ))
            }
        };
        let on = on.filter(|fields| fields != &["_id"]);
        let vars = match spec.get("let") {
            None => doc! { "new": "$$ROOT" },
            Some(Bson::Document(vars)) => {
                let mut vars = vars.clone();
                if !vars.contains_key("new") {
                    vars.insert("new", "$$ROOT");
                }
                vars
            }
            Some(_) => return Err(CommandError::type_mismatch("$merge 'let' must be an object")),
        };
        let when_matched = match spec.get("whenMatched") {
            None => WhenMatched::Mode("merge".into()),
            Some(Bson::String(mode))
                if matches!(mode.as_str(), "merge" | "replace" | "keepExisting" | "fail") =>
            {
                if spec.contains_key("let") {
                    return Err(CommandError::new(
                        (51199, "Location51199"),
                        "Cannot use 'let' variables with 'whenMatched: merge|replace|keepExisting|fail' mode",
                    ));
                }
                WhenMatched::Mode(mode.clone())
            }
            Some(Bson::String(mode)) => {
                return Err(CommandError::bad_value(format!(
                    "Enumeration value '{mode}' for field '$merge.whenMatched' is not a valid value."
                )))
            }
            Some(Bson::Array(stages)) => {
                let stages: Vec<Document> = stages
                    .iter()
                    .map(|s| match s {
                        Bson::Document(d) => Ok(d.clone()),
                        _ => Err(CommandError::type_mismatch(
                            "$merge 'whenMatched' pipeline stages must be objects",
                        )),
                    })
                    .collect::<CmdResult<_>>()?;
                let names: Vec<String> = vars.keys().cloned().collect();
                WhenMatched::Pipeline {
                    pipeline: Box::new(Pipeline::parse_for_merge(&stages, &names)?),
                    vars,
                }
            }
            Some(_) => {
                return Err(CommandError::type_mismatch(
                    "$merge 'whenMatched' must be a string or an array of stages",
                ))
            }
        };
        let when_not_matched = match spec.get("whenNotMatched") {
            None => "insert".to_string(),
            Some(Bson::String(m)) if matches!(m.as_str(), "insert" | "discard" | "fail") => m.clone(),
            Some(other) => {
                return Err(CommandError::bad_value(format!(
                    "Enumeration value '{other}' for field '$merge.whenNotMatched' is not a valid value."
                )))
            }
        };
        Ok(MergeSpec { on, when_matched, when_not_matched })
    }

    /// The target's document `incoming` matches: by `_id`, or by the `on`
    /// fields (which it must have, none null or an array).
    fn find_existing(&self, snap: &Snapshot, coll: &str, incoming: &Document) -> CmdResult<Option<Document>> {
        let Some(on) = &self.on else {
            return Ok(snap.get(coll, incoming.get("_id").unwrap_or(&Bson::Null))?);
        };
        let mut filter = Document::new();
        for field in on {
            match argon_query::get_path(incoming, field) {
                Some(Bson::Null | Bson::Undefined | Bson::Array(_)) | None => {
                    return Err(CommandError::new(
                        (51132, "Location51132"),
                        format!("$merge write error: 'on' field '{field}' cannot be missing, null, undefined or an array"),
                    ))
                }
                Some(v) => filter.insert(field.clone(), doc! { "$eq": v.clone() }),
            };
        }
        let src = Source { snap, overlay: None };
        let found = src.execute(coll, &crate::source::Query::parse(&filter)?, None, 0, Some(1))?;
        Ok(found.docs.into_iter().next())
    }

    /// The document to write for `incoming`, or `None` to write nothing.
    fn combine(
        &self,
        existing: Option<&Document>,
        incoming: Document,
        db: &str,
        coll: &str,
    ) -> CmdResult<Option<Document>> {
        let Some(old) = existing else {
            return match self.when_not_matched.as_str() {
                "insert" => Ok(Some(super::crud_insert::prepare_document(&incoming)?)),
                "discard" => Ok(None),
                _ => Err(CommandError::new(
                    (13113, "MergeStageNoMatchingDocument"),
                    "$merge could not find a matching document in the target collection for at least one document in the source collection",
                )),
            };
        };
        let id = old.get("_id").cloned().unwrap_or(Bson::Null);
        let keep_id = |mut d: Document| -> CmdResult<Document> {
            match d.get("_id") {
                Some(new_id) if !argon_query::values_equal(new_id, &id) => Err(CommandError::new(
                    (66, "ImmutableField"),
                    format!("$merge failed to update the matching document, did you attempt to modify the _id or the shard key? Performing an update on the path '_id' would modify the immutable field '_id' (was {id}, would be {new_id})"),
                )),
                Some(_) => Ok(d),
                None => {
                    let mut out = doc! { "_id": id.clone() };
                    out.extend(std::mem::take(&mut d));
                    Ok(out)
                }
            }
        };
        match &self.when_matched {
            WhenMatched::Mode(mode) => match mode.as_str() {
                "replace" => Ok(Some(keep_id(incoming)?)),
                "keepExisting" => Ok(None),
                "fail" => {
                    let mut e = CommandError::new(
                        code::DUPLICATE_KEY,
                        format!("E11000 duplicate key error collection: {db}.{coll} index: _id_"),
                    );
                    e.extra = Box::new(doc! { "keyPattern": {"_id": 1}, "keyValue": {"_id": id} });
                    Err(e)
                }
                _ => {
                    let mut merged = old.clone();
                    for (k, v) in keep_id(incoming)? {
                        merged.insert(k, v);
                    }
                    Ok(Some(merged))
                }
            },
            WhenMatched::Pipeline { pipeline, vars } => {
                let now = bson::DateTime::now();
                let mut bound = argon_query::expr::Vars::new(now);
                for (name, expr) in vars {
                    bound.set(name.clone(), argon_query::expr::eval(expr, &incoming, &bound)?);
                }
                let context = argon_query::pipeline::NoCollections { now };
                let out = pipeline.run_with_vars(Box::new(std::iter::once(old.clone())), &context, &bound)?;
                let Some(updated) = out.into_iter().next() else { return Ok(None) };
                Ok(Some(keep_id(updated)?))
            }
        }
    }
}

/// `$merge` on fields other than `_id` needs a unique index on exactly
/// those fields, so that a document matches at most one (MongoDB's rule).
fn check_unique_index(snap: &Snapshot, coll: &str, on: &[String]) -> CmdResult<()> {
    let covered = snap.collection(coll).is_some_and(|c| {
        c.indexes.iter().any(|i| {
            let unique = matches!(i.spec.get("unique"), Some(Bson::Boolean(true)));
            let key =
                i.spec.get_document("key").map(|k| k.keys().cloned().collect::<Vec<_>>()).unwrap_or_default();
            let partial = i.spec.contains_key("partialFilterExpression");
            unique && !partial && key.len() == on.len() && on.iter().all(|f| key.contains(f))
        })
    });
    if covered {
        Ok(())
    } else {
        Err(CommandError::new(
            (51183, "Location51183"),
            format!("Cannot find index to verify that join fields will be unique: {on:?}"),
        ))
    }
}
