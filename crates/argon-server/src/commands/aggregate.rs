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
enum Output {
    Out { coll: String, docs: Vec<Document> },
    Merge { coll: String, docs: Vec<Document>, spec: Document },
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
        self.outputs.borrow_mut().push(Output::Out { coll: coll.to_string(), docs });
        Ok(())
    }

    fn merge_into(&self, coll: &str, docs: Vec<Document>, spec: &Document) -> argon_query::Result<()> {
        self.outputs.borrow_mut().push(Output::Merge { coll: coll.to_string(), docs, spec: spec.clone() });
        Ok(())
    }

    fn now(&self) -> bson::DateTime {
        bson::DateTime::now()
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
            view_stages.extend(stages);
            (base, view_stages)
        }
        None => (coll.clone(), stages),
    };
    let stages = match &snap {
        Some(snap) => coll_stats_stage(snap, &call.db, &source, &ctx.state.config.advertised_host, stages)?,
        None => stages,
    };
    let pipeline = Pipeline::parse_with_vars(&stages, &let_names)?;
    let (result, outputs) = match &snap {
        Some(snap) => {
            let overlay = call.txn.as_ref().map(|t| &t.overlay);
            let context = Context { snap, overlay, outputs: RefCell::new(vec![]) };
            let src = Source { snap, overlay };
            let vars = lets.clone();
            let out = crate::ops::long_running(|| {
                // (A run over its inline budget runs again: from no outputs.)
                context.outputs.borrow_mut().clear();
                src.aggregate(&source, &pipeline, &context, &vars)
            })?;
            (out, context.outputs.into_inner())
        }
        None => (vec![], vec![]),
    };
    drop(snap);
    for output in outputs {
        write_output(ctx, call, output).await?;
    }
    let ns = format!("{}.{coll}", call.db);
    Ok(cursor_reply(
        ctx,
        call,
        ns,
        result.into(),
        batch_size.or(Some(super::find::DEFAULT_FIRST_BATCH)),
        false,
        false,
    ))
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
    let ns = format!("{}.$cmd.aggregate", call.db);
    Ok(cursor_reply(
        ctx,
        call,
        ns,
        docs.into(),
        batch_size.or(Some(super::find::DEFAULT_FIRST_BATCH)),
        false,
        false,
    ))
}

/// A leading `$collStats` becomes the one document it describes
/// (`{ns, host, localTime, storageStats?, count?}`), as `$documents`, so
/// the rest of the pipeline runs over it (mongosh's `db.c.stats()` groups
/// it by shard).
fn coll_stats_stage(
    snap: &Snapshot,
    db: &str,
    coll: &str,
    host: &str,
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
            ("latencyStats" | "queryExecStats", _) => {
                return Err(CommandError::new(
                    code::COMMAND_NOT_SUPPORTED,
                    format!(
                        "$collStats {k} is not supported by Argon (it keeps no per-collection latencies)"
                    ),
                ))
            }
            _ => return Err(CommandError::bad_value(format!("unrecognized option to $collStats: {k}"))),
        }
    }
    stages[0] = doc! { "$documents": [out] };
    Ok(stages)
}

/// Runs `stages` over `coll` in `snap` for a command that reads (a `find`,
/// `count` or `distinct` on a view): no `$out` or `$merge`.
pub(crate) fn run_read_only(
    call: &Call,
    snap: &Snapshot,
    coll: &str,
    stages: &[Document],
) -> CmdResult<Vec<Document>> {
    run_read_only_with_let(call, snap, coll, stages, &argon_query::expr::Vars::new(bson::DateTime::now()))
}

/// [`run_read_only`] with the command's `let` variables.
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

/// Commits `$out` (replace the collection) or `$merge` (upsert by `_id`).
async fn write_output(ctx: &mut Ctx<'_>, call: &mut Call, output: Output) -> CmdResult<()> {
    let target = call.target(ctx)?;
    let (coll, docs, spec) = match output {
        Output::Out { coll, docs } => (coll, docs, None),
        Output::Merge { coll, docs, spec } => (coll, docs, Some(spec)),
    };
    let replace_all = spec.is_none();
    let spec = spec.unwrap_or_default();
    let mut ops = Vec::new();
    if replace_all {
        let exists = ctx
            .state
            .store
            .snapshot(&target.project, &target.branch, argon_store::At::Head)
            .map(|s| s.collection(&coll).is_some())
            .unwrap_or(false);
        if exists {
            ops.push(WriteOp::DropCollection { name: coll.clone() });
        }
        ops.push(WriteOp::CreateCollection { name: coll.clone(), options: Document::new() });
        for d in docs {
            ops.push(WriteOp::Insert { coll: coll.clone(), doc: super::crud_insert::prepare_document(&d)? });
        }
    } else {
        // $merge on _id: whenMatched merge (default) | replace | keepExisting | fail,
        // whenNotMatched insert (default) | discard | fail.
        let when_matched = match spec.get("whenMatched") {
            None => "merge".to_string(),
            Some(Bson::String(s)) => s.clone(),
            Some(_) => {
                return Err(CommandError::new(
                    crate::error::code::COMMAND_NOT_SUPPORTED,
                    "$merge with a whenMatched pipeline is not supported yet",
                ))
            }
        };
        let when_not_matched = spec.get_str("whenNotMatched").unwrap_or("insert").to_string();
        if spec.get("on").is_some_and(|on| {
            on != &Bson::String("_id".into()) && on != &Bson::Array(vec![Bson::String("_id".into())])
        }) {
            return Err(CommandError::new(
                crate::error::code::COMMAND_NOT_SUPPORTED,
                "$merge supports on: \"_id\" only",
            ));
        }
        let snap = ctx.state.store.snapshot(&target.project, &target.branch, argon_store::At::Head).ok();
        for d in docs {
            let d = super::crud_insert::prepare_document(&d)?;
            let id = d.get("_id").cloned().unwrap_or(Bson::Null);
            let existing = match &snap {
                Some(s) => s.get(&coll, &id)?,
                None => None,
            };
            let new_doc = match (existing, when_matched.as_str(), when_not_matched.as_str()) {
                (None, _, "insert") => d,
                (None, _, "discard") => continue,
                (None, _, _) => {
                    return Err(CommandError::new((13113, "MergeStageNoMatchingDocument"), format!("$merge could not find a matching document in the target collection for at least one document in the source collection: {id}")))
                }
                (Some(_), "replace", _) => d,
                (Some(_), "keepExisting", _) => continue,
                (Some(mut old), "merge", _) => {
                    for (k, v) in d {
                        old.insert(k, v);
                    }
                    old
                }
                (Some(_), "fail", _) => {
                    let mut e = CommandError::new(crate::error::code::DUPLICATE_KEY, format!("E11000 duplicate key error collection: {}.{coll} index: _id_", target.project));
                    e.extra = Box::new(doc! { "keyPattern": {"_id": 1}, "keyValue": {"_id": id} });
                    return Err(e);
                }
                (Some(_), other, _) => return Err(CommandError::bad_value(format!("invalid $merge whenMatched mode {other:?}"))),
            };
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
