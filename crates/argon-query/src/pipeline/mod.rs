//! Aggregation pipelines.
//!
//! ```text
//! [ {$match}, {$group}, {$sort}, {$limit} ]
//!      │ parse: one Stage per document (validated, expressions compiled)
//!      ▼
//! input ─▶ $match ─▶ $group ─▶ $sort+$limit ─▶ output
//!          (stream)   (blocking) (bounded top-k)
//! ```
//!
//! Streaming stages (`$match`, `$project`, `$addFields`, `$unwind`,
//! `$limit`, ...) pass documents through one at a time; blocking stages
//! (`$group`, `$sort`, `$facet`, ...) collect their input first. Data the
//! pipeline needs from outside (`$lookup`, `$graphLookup`, `$unionWith`,
//! `$out`, `$merge`)
//! comes through [`PipelineContext`], which the server implements.

mod accumulators;
mod bucket_auto;
mod densify;
mod fill;
mod geo_near;
mod group;
mod lookup;
mod redact;
mod stages;
mod window;

use bson::{Bson, Document};

use crate::deps::Deps;
use crate::error::{codes, err, QueryError, Result};
use crate::expr::Vars;

pub use geo_near::GeoNear;
pub(crate) use stages::Stage;

/// What a pipeline needs from the server.
pub trait PipelineContext {
    /// All documents of a collection of the current database (`$lookup`,
    /// `$unionWith`); an empty vector when it does not exist.
    fn collection(&self, name: &str) -> Result<Vec<Document>>;
    /// Replaces the contents of a collection (`$out`).
    fn write_out(&self, coll: &str, docs: Vec<Document>) -> Result<()>;
    /// Replaces the contents of a collection of another database (`$out:
    /// {db, coll}`). Refused unless the context supports it.
    fn write_out_to(&self, db: &str, coll: &str, docs: Vec<Document>) -> Result<()> {
        let _ = (coll, docs);
        err(
            codes::NOT_IMPLEMENTED,
            format!("$out to another database ({db}) is not available in this context"),
        )
    }
    /// Merges documents into a collection (`$merge`); `spec` is the stage's
    /// argument, normalized to a document with at least `into` (which may
    /// name another database: `into: {db, coll}`).
    fn merge_into(&self, coll: &str, docs: Vec<Document>, spec: &Document) -> Result<()>;
    /// The value of `$$NOW` for this command.
    fn now(&self) -> bson::DateTime;
    /// The documents of `coll` whose `field` equals one of `values` (as
    /// `{field: {$in: values}}` matches), when the context can find them
    /// without reading the whole collection (an index on `field`);
    /// `None` otherwise. `$lookup` then asks per input document instead
    /// of loading the foreign collection.
    fn find_equal(&self, coll: &str, field: &str, values: &[Bson]) -> Result<Option<Vec<Document>>> {
        let _ = (coll, field, values);
        Ok(None)
    }
}

/// A context for pipelines that touch no other collection (tests, update
/// pipelines): other collections are empty, and writes are refused.
pub struct NoCollections {
    pub now: bson::DateTime,
}

impl PipelineContext for NoCollections {
    fn collection(&self, _name: &str) -> Result<Vec<Document>> {
        Ok(Vec::new())
    }

    fn write_out(&self, _coll: &str, _docs: Vec<Document>) -> Result<()> {
        err(codes::NOT_IMPLEMENTED, "$out is not available in this context")
    }

    fn merge_into(&self, _coll: &str, _docs: Vec<Document>, _spec: &Document) -> Result<()> {
        err(codes::NOT_IMPLEMENTED, "$merge is not available in this context")
    }

    fn now(&self) -> bson::DateTime {
        self.now
    }
}

/// A stream of documents between stages.
pub(crate) type DocStream<'a> = Box<dyn Iterator<Item = Result<Document>> + 'a>;

/// What stages see while running.
pub(crate) struct Env<'a> {
    pub(crate) ctx: &'a dyn PipelineContext,
    pub(crate) vars: Vars,
}

/// A parsed aggregation pipeline.
#[derive(Clone, Debug)]
pub struct Pipeline {
    stages: Vec<Stage>,
    leading_match: Option<Document>,
    /// The fields of its input documents the pipeline reads.
    deps: Deps,
    /// A leading `$geoNear`, which the server runs (it is not in `stages`).
    geo_near: Option<Box<GeoNear>>,
}

/// Where a pipeline runs, which decides the stages it may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Context {
    Aggregate,
    /// Inside `$facet`: no `$out`, `$merge`, `$facet`.
    Facet,
    /// Inside `$lookup` or `$unionWith`: no `$out`, `$merge`.
    SubPipeline,
    /// An update given as a pipeline.
    Update,
}

impl Pipeline {
    /// Parses an aggregation pipeline.
    pub fn parse(stages: &[Document]) -> Result<Pipeline> {
        Self::parse_with_vars(stages, &[])
    }

    /// Parses a pipeline whose expressions may use the user variables
    /// `vars` (the `let` option of `aggregate`).
    pub fn parse_with_vars(stages: &[Document], vars: &[String]) -> Result<Pipeline> {
        Self::parse_in(stages, vars, Context::Aggregate)
    }

    /// Parses the pipeline of `$merge`'s `whenMatched`: update stages only,
    /// whose expressions may use the user variables `vars` (`$$new` and
    /// the stage's `let`).
    pub fn parse_for_merge(stages: &[Document], vars: &[String]) -> Result<Pipeline> {
        Self::parse_in(stages, vars, Context::Update)
    }

    pub(crate) fn parse_for_update(stages: &[Document], vars: &[String]) -> Result<Pipeline> {
        Self::parse_in(stages, vars, Context::Update)
    }

    pub(crate) fn parse_in(stages: &[Document], vars: &[String], context: Context) -> Result<Pipeline> {
        let mut parsed: Vec<Stage> = Vec::with_capacity(stages.len());
        let mut geo_near = None;
        for (i, spec) in stages.iter().enumerate() {
            if spec.len() != 1 {
                return err(
                    codes::L40323,
                    "A pipeline stage specification object must contain exactly one field.",
                );
            }
            let (name, arg) = spec.iter().next().expect("one field");
            if name == "$geoNear" && context != Context::Update {
                geo_near = Some(Box::new(parse_geo_near(i, arg, context)?));
                continue;
            }
            let stage = Stage::parse(name, arg, vars, context)?;
            if matches!(&stage, Stage::Match(f) if f.has_near()) {
                return err(
                    crate::geo::NEAR_IN_MATCH,
                    "$geoNear, $near, and $nearSphere are not allowed in this context, as these operators require sorting geospatial data. If you do not need sort, consider using $geoWithin instead.",
                );
            }
            if stage.must_be_last() && i + 1 != stages.len() {
                return err(codes::L40601, format!("{name} can only be the final stage in the pipeline"));
            }
            parsed.push(stage);
        }
        let parsed = stages::coalesce(parsed);
        let text_first = parsed.first().is_some_and(stages::is_text_match)
            && context == Context::Aggregate
            && geo_near.is_none();
        for (i, stage) in parsed.iter().enumerate() {
            if stages::is_text_match(stage) && (i > 0 || !text_first) {
                return err(codes::L17313, "$match with $text is only allowed as the first pipeline stage");
            }
            if stages::sorts_by_text_score(stage) && !text_first && context == Context::Aggregate {
                return err(codes::L40218, "query requires text score metadata, but it is not available");
            }
        }
        let leading_match = match stages.first().and_then(|s| s.get("$match")) {
            Some(Bson::Document(d)) => Some(d.clone()),
            _ => None,
        };
        let mut deps = Deps::none();
        if parsed.iter().all(|s| s.add_dependencies(&mut deps)) || geo_near.is_some() {
            // The input documents (or some of them) reach the output.
            deps.set_whole();
        }
        Ok(Pipeline { stages: parsed, leading_match, deps, geo_near })
    }

    /// The top-level fields of its input documents the pipeline reads:
    /// running it on documents holding only those fields gives the same
    /// result as on whole documents.
    pub fn dependencies(&self) -> &Deps {
        &self.deps
    }

    /// The filter of a leading `$match`, which the server may evaluate with
    /// an index before running the pipeline (the pipeline still applies
    /// it, so pushing it down is an optimization only).
    pub fn leading_match(&self) -> Option<&Document> {
        self.leading_match.as_ref()
    }

    /// Whether the pipeline ends with `$out` or `$merge`.
    pub fn writes_output(&self) -> bool {
        self.stages.last().is_some_and(Stage::must_be_last)
    }

    /// Runs the pipeline over `input`.
    pub fn run(
        &self,
        input: Box<dyn Iterator<Item = Document> + '_>,
        ctx: &dyn PipelineContext,
    ) -> Result<Vec<Document>> {
        self.run_with_vars(input, ctx, &Vars::new(ctx.now()))
    }

    /// Runs the pipeline with user variables bound (the `let` option).
    pub fn run_with_vars(
        &self,
        input: Box<dyn Iterator<Item = Document> + '_>,
        ctx: &dyn PipelineContext,
        vars: &Vars,
    ) -> Result<Vec<Document>> {
        let env = Env { ctx, vars: vars.clone() };
        let stream: DocStream<'_> = Box::new(input.map(Ok));
        let out: Result<Vec<Document>> = self.run_stream(stream, &env)?.collect();
        out
    }

    /// Runs the pipeline over a fallible input, streaming it through the
    /// stages (an error from the input stops the pipeline and is returned).
    pub fn run_results(
        &self,
        input: Box<dyn Iterator<Item = Result<Document>> + '_>,
        ctx: &dyn PipelineContext,
        vars: &Vars,
    ) -> Result<Vec<Document>> {
        let env = Env { ctx, vars: vars.clone() };
        let out: Result<Vec<Document>> = self.run_stream(input, &env)?.collect();
        out
    }

    /// Whether the pipeline starts with `$match: {$text: ...}` (the server
    /// then runs the text search and calls [`Pipeline::run_text_results`]).
    pub fn starts_with_text_match(&self) -> bool {
        self.stages.first().is_some_and(stages::is_text_match)
    }

    /// Runs the pipeline after its leading `$match` with `$text`, over the
    /// documents that match it with their text scores. Each score rides on
    /// its document through the stages (see [`crate::text`]) and is
    /// stripped from the output.
    pub fn run_text_results(
        &self,
        input: Box<dyn Iterator<Item = Result<(Document, f64)>> + '_>,
        ctx: &dyn PipelineContext,
        vars: &Vars,
    ) -> Result<Vec<Document>> {
        let env = Env { ctx, vars: vars.clone() };
        let mut stream: DocStream<'_> = Box::new(input.map(|r| {
            r.map(|(mut d, score)| {
                crate::text::attach_score(&mut d, score);
                d
            })
        }));
        for stage in self.stages.iter().skip(usize::from(self.starts_with_text_match())) {
            stream = stage.apply(stream, &env)?;
        }
        stream.map(stages::without_score).collect()
    }

    /// Runs the whole pipeline over the output of a leading
    /// `$vectorSearch` (which the server runs and takes off the pipeline
    /// before parsing it): each document carries its score for
    /// `{$meta: "vectorSearchScore"}` and leaves without it.
    pub fn run_vector_search_results(
        &self,
        input: Vec<(Document, f64)>,
        ctx: &dyn PipelineContext,
        vars: &Vars,
    ) -> Result<Vec<Document>> {
        let env = Env { ctx, vars: vars.clone() };
        let mut stream: DocStream<'_> = Box::new(input.into_iter().map(|(mut d, score)| {
            d.insert(crate::text::VECTOR_SCORE_KEY, Bson::Double(score));
            Ok(d)
        }));
        for stage in &self.stages {
            stream = stage.apply(stream, &env)?;
        }
        stream.map(stages::without_score).collect()
    }

    /// The leading `$geoNear` stage, which the server runs with the
    /// collection's geo index before [`Pipeline::run_after_geo_near`].
    pub fn geo_near(&self) -> Option<&GeoNear> {
        self.geo_near.as_deref()
    }

    /// Runs the stages after the leading `$geoNear` over its output.
    pub fn run_after_geo_near(
        &self,
        input: Vec<Document>,
        ctx: &dyn PipelineContext,
        vars: &Vars,
    ) -> Result<Vec<Document>> {
        let env = Env { ctx, vars: vars.clone() };
        let mut stream: DocStream<'_> = Box::new(input.into_iter().map(Ok));
        for stage in &self.stages {
            stream = stage.apply(stream, &env)?;
        }
        stream.collect()
    }

    pub(crate) fn run_stream<'a>(
        &'a self,
        mut stream: DocStream<'a>,
        env: &'a Env<'a>,
    ) -> Result<DocStream<'a>> {
        if self.geo_near.is_some() {
            return err(codes::NOT_IMPLEMENTED, "$geoNear is only supported on a collection by Argon");
        }
        for stage in &self.stages {
            stream = stage.apply(stream, env)?;
        }
        Ok(stream)
    }

    /// Runs an update pipeline on one document (with `$$NOW` and the
    /// command's `let` variables from `vars`).
    pub(crate) fn run_on_document(&self, doc: &Document, vars: &Vars) -> Result<Document> {
        let ctx = NoCollections { now: vars.now() };
        let env = Env { ctx: &ctx, vars: vars.clone() };
        let stream: DocStream<'_> = Box::new(std::iter::once(Ok(doc.clone())));
        let mut out = self.run_stream(stream, &env)?;
        let first = out.next();
        drop(out);
        match first {
            Some(d) => d,
            None => Ok(Document::new()),
        }
    }
}

/// A `$geoNear` at position `i` of a pipeline in `context`.
fn parse_geo_near(i: usize, arg: &Bson, context: Context) -> Result<GeoNear> {
    match context {
        Context::Facet => {
            return err(codes::L40600, "$geoNear is not allowed to be used within a $facet stage")
        }
        Context::SubPipeline => {
            return err(
                codes::NOT_IMPLEMENTED,
                "$geoNear inside $lookup or $unionWith is not implemented by Argon",
            )
        }
        _ => {}
    }
    if i != 0 {
        return err(
            crate::error::ErrorCode { code: 40603, name: "Location40603" },
            "$geoNear was not the first stage in the pipeline.",
        );
    }
    GeoNear::parse(arg)
}

/// Prefixes an error with the stage it came from, as MongoDB does.
pub(crate) fn in_stage(stage: &str) -> impl Fn(QueryError) -> QueryError + '_ {
    move |e| e.caused_by(&format!("Invalid {stage}"))
}
