//! The aggregation stages: parsing (with MongoDB's validation and error
//! codes) and execution over a document stream.

use bson::{Bson, Document};
use rand::Rng;

use super::bucket_auto::BucketAuto;
use super::densify::Densify;
use super::fill::Fill;
use super::group::{Bucket, Group};
use super::lookup::{GraphLookup, Lookup, UnionWith};
use super::redact::Redact;
use super::window::SetWindowFields;
use super::{in_stage, Context, DocStream, Env, Pipeline};
use crate::deps::Deps;
use crate::error::{codes, err, QueryError, Result};
use crate::expr::Expression;
use crate::filter::Filter;
use crate::projection::{Projection, ProjectionKind};
use crate::sort::SortSpec;

#[derive(Clone, Debug)]
pub(crate) struct Unwind {
    path: Box<[String]>,
    index_field: Option<String>,
    preserve: bool,
}

#[derive(Clone, Debug)]
pub(crate) enum Stage {
    Match(Box<Filter>),
    /// `$project`, `$addFields`/`$set`, `$unset`; the name for messages.
    Project(Box<Projection>),
    Group(Box<Group>),
    Sort(SortSpec),
    /// `$sort` directly followed by `$limit`: a bounded sort.
    SortLimit(SortSpec, usize),
    Limit(usize),
    Skip(usize),
    Unwind(Unwind),
    Lookup(Box<Lookup>),
    Count(String),
    ReplaceRoot {
        expr: Expression,
        field: &'static str,
    },
    SortByCount(Box<Group>),
    Facet(Vec<(String, Pipeline)>),
    Bucket(Box<Bucket>),
    BucketAuto(Box<BucketAuto>),
    SetWindowFields(Box<SetWindowFields>),
    GraphLookup(Box<GraphLookup>),
    Sample(usize),
    UnionWith(Box<UnionWith>),
    Out(OutTarget),
    Merge {
        into: String,
        spec: Document,
    },
    Documents(Vec<Document>),
    Densify(Box<Densify>),
    Fill(Box<Fill>),
    Redact(Box<Redact>),
}

/// Stages a pipeline update may use.
const UPDATE_STAGES: &[&str] = &["$addFields", "$set", "$project", "$unset", "$replaceRoot", "$replaceWith"];

fn object(arg: &Bson, code: crate::error::ErrorCode, msg: impl FnOnce() -> String) -> Result<&Document> {
    match arg {
        Bson::Document(d) => Ok(d),
        _ => Err(QueryError::new(code, msg())),
    }
}

fn unknown_field(stage: &str, field: &str) -> QueryError {
    QueryError::new(codes::L40415, format!("BSON field '{stage}.{field}' is an unknown field."))
}

/// Where `$out` writes: a collection of the current database, or of the
/// database `db` (for Argon, another project or branch).
#[derive(Clone, Debug)]
pub(crate) struct OutTarget {
    db: Option<String>,
    coll: String,
}

/// The optional `db` of `$out: {db, coll}` or `$merge: {into: {db, coll}}`.
fn out_db(spec: &Document, stage: &str) -> Result<Option<String>> {
    match spec.get("db") {
        None => Ok(None),
        Some(Bson::String(db)) => Ok(Some(db.clone())),
        Some(_) => err(
            codes::TYPE_MISMATCH,
            format!("BSON field '{stage}.db' is the wrong type, expected type 'string'"),
        ),
    }
}

/// MongoDB's error for a stage argument of the wrong type (`field` is the
/// whole dotted name, `$stage.arg`).
pub(crate) fn wrong_type(field: &str, v: &Bson, expected: &str) -> QueryError {
    QueryError::new(
        codes::TYPE_MISMATCH,
        format!(
            "BSON field '{field}' is the wrong type '{}', expected type '{expected}'",
            crate::types::type_name(v)
        ),
    )
}

fn missing_field(stage: &str, field: &str) -> QueryError {
    QueryError::new(codes::L40414, format!("BSON field '{stage}.{field}' is missing but a required field"))
}

impl Stage {
    pub(crate) fn parse(name: &str, arg: &Bson, vars: &[String], context: Context) -> Result<Stage> {
        if context == Context::Update && !UPDATE_STAGES.contains(&name) {
            if name.starts_with('$') && is_stage_name(name) {
                return err(
                    codes::INVALID_OPTIONS,
                    format!("{name} is not allowed to be used within an update"),
                );
            }
            return err(codes::L40324, format!("Unrecognized pipeline stage name: '{name}'"));
        }
        if matches!(context, Context::Facet | Context::SubPipeline) && matches!(name, "$out" | "$merge") {
            let within = if context == Context::Facet { "$facet" } else { "a $lookup or $unionWith" };
            return err(codes::L40600, format!("{name} is not allowed to be used within {within} stage"));
        }
        if context == Context::Facet && name == "$facet" {
            return err(codes::L40600, "$facet is not allowed to be used within a $facet stage");
        }
        Ok(match name {
            "$match" => {
                let d = object(arg, codes::L15959, || {
                    "the match filter must be an expression in an object".into()
                })?;
                Stage::Match(Box::new(Filter::parse_with_vars(d, vars)?))
            }
            "$project" => {
                let d = object(arg, codes::L15969, || "$project specification must be an object".into())?;
                Stage::Project(Box::new(Projection::parse_kind(d, ProjectionKind::Project, vars)?))
            }
            "$addFields" | "$set" => {
                let d = object(arg, codes::L40272, || {
                    format!(
                        "{name} specification stage must be an object, got {}",
                        crate::types::type_name(arg)
                    )
                })?;
                let p = Projection::parse_kind(d, ProjectionKind::AddFields, vars).map_err(in_stage(name))?;
                Stage::Project(Box::new(p))
            }
            "$unset" => Stage::Project(Box::new(parse_unset(arg)?)),
            "$group" => Stage::Group(Box::new(Group::parse(arg, vars)?)),
            "$sort" => {
                let d =
                    object(arg, codes::L15973, || "the $sort key specification must be an object".into())?;
                if d.is_empty() {
                    return err(codes::L15976, "$sort stage must have at least one sort key");
                }
                Stage::Sort(SortSpec::parse(d)?)
            }
            "$limit" => {
                let n = parse_count_arg(name, arg, codes::L15957, "the limit must be specified as a number")?;
                if n <= 0 {
                    return err(codes::L15958, "the limit must be positive");
                }
                Stage::Limit(n as usize)
            }
            "$skip" => {
                let n = parse_count_arg(name, arg, codes::L15956, "argument to $skip must be a number")?;
                if n < 0 {
                    return err(
                        codes::L5107200,
                        format!(
                            "invalid argument to $skip stage: Expected a non-negative number in: {}",
                            crate::display::element("$skip", arg)
                        ),
                    );
                }
                Stage::Skip(n as usize)
            }
            "$unwind" => Stage::Unwind(parse_unwind(arg)?),
            "$lookup" => Stage::Lookup(Box::new(Lookup::parse(arg, vars)?)),
            "$count" => {
                let Bson::String(field) = arg else {
                    return err(codes::L40156, "the count field must be a non-empty string");
                };
                if field.is_empty() {
                    return err(codes::L40157, "the count field must be a non-empty string");
                }
                if field.starts_with('$') {
                    return err(codes::L40158, "the count field cannot be a $-prefixed path");
                }
                if field.contains('.') {
                    return err(codes::L40160, "the count field cannot contain '.'");
                }
                Stage::Count(field.clone())
            }
            "$replaceRoot" => {
                let d = object(arg, codes::L40229, || {
                    format!(
                        "expected an object as specification for $replaceRoot stage, got {}",
                        crate::types::type_name(arg)
                    )
                })?;
                let mut new_root = None;
                for (k, v) in d {
                    if k != "newRoot" {
                        return Err(unknown_field("$replaceRoot", k));
                    }
                    new_root = Some(v);
                }
                let Some(new_root) = new_root else { return Err(missing_field("$replaceRoot", "newRoot")) };
                Stage::ReplaceRoot { expr: Expression::parse_with_vars(new_root, vars)?, field: "newRoot" }
            }
            "$replaceWith" => {
                Stage::ReplaceRoot { expr: Expression::parse_with_vars(arg, vars)?, field: "replacement" }
            }
            "$sortByCount" => {
                let ok = matches!(arg, Bson::String(s) if s.starts_with('$'))
                    || matches!(arg, Bson::Document(d) if d.keys().next().is_some_and(|k| k.starts_with('$')));
                if !ok {
                    return err(
                        codes::L40148,
                        "the sortByCount field must be defined as a $-prefixed path or an expression",
                    );
                }
                let id = Expression::parse_with_vars(arg, vars)?;
                let count =
                    super::accumulators::Accumulator::parse("count", &bson::bson!({"$sum": 1}), vars)?;
                Stage::SortByCount(Box::new(Group::from_parts(id, vec![count])))
            }
            "$facet" => {
                let d = object(arg, codes::L40169, || {
                    "the $facet specification must be a non-empty object".into()
                })?;
                if d.is_empty() {
                    return err(codes::L40169, "the $facet specification must be a non-empty object");
                }
                let mut facets = Vec::with_capacity(d.len());
                for (k, v) in d {
                    crate::expr::validate_field_name(k)?;
                    let Bson::Array(items) = v else {
                        return err(
                            codes::L40170,
                            format!(
                                "arguments to $facet must be arrays, {k} is type {}",
                                crate::types::type_name(v)
                            ),
                        );
                    };
                    let mut stages = Vec::with_capacity(items.len());
                    for item in items {
                        let Bson::Document(s) = item else {
                            return err(
                                codes::L40171,
                                format!(
                                    "subpipeline in $facet stage must be an array of objects, but {k} contains an element of type {}",
                                    crate::types::type_name(item)
                                ),
                            );
                        };
                        stages.push(s.clone());
                    }
                    facets.push((k.clone(), Pipeline::parse_in(&stages, vars, Context::Facet)?));
                }
                Stage::Facet(facets)
            }
            "$bucket" => Stage::Bucket(Box::new(Bucket::parse(arg, vars)?)),
            "$bucketAuto" => Stage::BucketAuto(Box::new(BucketAuto::parse(arg, vars)?)),
            "$setWindowFields" => Stage::SetWindowFields(Box::new(SetWindowFields::parse(arg, vars)?)),
            "$graphLookup" => Stage::GraphLookup(Box::new(GraphLookup::parse(arg, vars)?)),
            "$sample" => {
                let d = object(arg, codes::L28745, || {
                    "the $sample stage specification must be an object".into()
                })?;
                let mut size = None;
                for (k, v) in d {
                    if k != "size" {
                        return err(codes::L28748, format!("unrecognized option to $sample: {k}"));
                    }
                    let Some(n) = crate::numeric::to_f64(v) else {
                        return err(codes::L28746, "size argument to $sample must be a number");
                    };
                    if n < 0.0 {
                        return err(codes::L28747, "size argument to $sample must not be negative");
                    }
                    size = Some(n as usize);
                }
                let Some(size) = size else { return err(codes::L28749, "$sample stage must specify a size") };
                Stage::Sample(size)
            }
            "$unionWith" => Stage::UnionWith(Box::new(UnionWith::parse(arg, vars)?)),
            "$out" => Stage::Out(match arg {
                Bson::String(s) => OutTarget { db: None, coll: s.clone() },
                Bson::Document(d) => match d.get("coll") {
                    Some(Bson::String(s)) => OutTarget { db: out_db(d, "$out")?, coll: s.clone() },
                    Some(_) => {
                        return err(
                            codes::TYPE_MISMATCH,
                            "BSON field '$out.coll' is the wrong type, expected type 'string'",
                        )
                    }
                    None => return Err(missing_field("$out", "coll")),
                },
                other => {
                    return err(
                        codes::L16990,
                        format!(
                            "$out only supports a string or object argument, but found {}",
                            crate::types::type_name(other)
                        ),
                    )
                }
            }),
            "$merge" => {
                let (into, spec) = match arg {
                    Bson::String(s) => (s.clone(), bson::doc! {"into": s.clone()}),
                    Bson::Document(d) => {
                        let into = match d.get("into") {
                            Some(Bson::String(s)) => s.clone(),
                            Some(Bson::Document(t)) => match t.get("coll") {
                                Some(Bson::String(s)) => {
                                    out_db(t, "$merge.into")?;
                                    s.clone()
                                }
                                _ => return Err(missing_field("$merge.into", "coll")),
                            },
                            Some(_) => {
                                return err(
                                    codes::L51178,
                                    "$merge 'into' field must be either a string or an object",
                                )
                            }
                            None => return Err(missing_field("$merge", "into")),
                        };
                        (into, d.clone())
                    }
                    other => {
                        return err(
                            codes::L51182,
                            format!(
                                "$merge only supports a string or object argument, not {}",
                                crate::types::type_name(other)
                            ),
                        )
                    }
                };
                Stage::Merge { into, spec }
            }
            "$documents" => {
                let v = Expression::parse_with_vars(arg, vars)?;
                let value = v.evaluate(&Document::new(), &crate::expr::Vars::default())?;
                let Some(Bson::Array(items)) = value else {
                    return err(
                        codes::L5858203,
                        "error during processing of $documents: value must be an array",
                    );
                };
                let mut docs = Vec::with_capacity(items.len());
                for i in items {
                    let Bson::Document(d) = i else {
                        return err(
                            codes::L5858203,
                            "error during processing of $documents: elements must be objects",
                        );
                    };
                    docs.push(d);
                }
                Stage::Documents(docs)
            }
            "$densify" => Stage::Densify(Box::new(Densify::parse(arg)?)),
            "$fill" => Stage::Fill(Box::new(Fill::parse(arg, vars)?)),
            "$redact" => Stage::Redact(Box::new(Redact::parse(arg, vars)?)),
            "$vectorSearch" => {
                return err(codes::L40602, "$vectorSearch is only valid as the first stage in a pipeline");
            }
            _ if is_stage_name(name) => {
                return err(codes::NOT_IMPLEMENTED, format!("{name} is not implemented by Argon"));
            }
            _ => return err(codes::L40324, format!("Unrecognized pipeline stage name: '{name}'")),
        })
    }

    /// Adds the fields of its input this stage reads to `deps`; returns
    /// false when the stage's output no longer carries its input documents
    /// (so later stages read nothing more from them).
    pub(crate) fn add_dependencies(&self, deps: &mut Deps) -> bool {
        match self {
            Stage::Match(f) => deps.extend(f.dependencies()),
            Stage::Project(p) => {
                let (d, replaces) = p.dependencies();
                deps.extend(&d);
                return !replaces;
            }
            Stage::Group(g) | Stage::SortByCount(g) => {
                deps.extend(&g.dependencies());
                return false;
            }
            Stage::Bucket(b) => {
                deps.extend(&b.dependencies());
                return false;
            }
            Stage::BucketAuto(b) => {
                deps.extend(&b.dependencies());
                return false;
            }
            Stage::SetWindowFields(w) => deps.extend(&w.dependencies()),
            Stage::Densify(d) => deps.extend(&d.dependencies()),
            Stage::Fill(f) => deps.extend(&f.dependencies()),
            Stage::Redact(r) => deps.extend(&r.dependencies()),
            Stage::GraphLookup(g) => deps.extend(g.dependencies()),
            Stage::Sort(s) | Stage::SortLimit(s, _) => deps.extend(&s.dependencies()),
            Stage::Limit(_) | Stage::Skip(_) | Stage::Sample(_) | Stage::UnionWith(_) => {}
            Stage::Unwind(u) => deps.add_field(&u.path[0]),
            Stage::Count(_) | Stage::Documents(_) => return false,
            Stage::ReplaceRoot { expr, .. } => {
                deps.extend(expr.dependencies());
                return false;
            }
            Stage::Facet(facets) => {
                for (_, p) in facets {
                    deps.extend(p.dependencies());
                }
                return false;
            }
            Stage::Lookup(_) | Stage::Out(_) | Stage::Merge { .. } => {
                deps.set_whole();
                return false;
            }
        }
        true
    }

    pub(crate) fn must_be_last(&self) -> bool {
        matches!(self, Stage::Out(_) | Stage::Merge { .. })
    }

    pub(crate) fn apply<'a>(&'a self, input: DocStream<'a>, env: &'a Env<'a>) -> Result<DocStream<'a>> {
        Ok(match self {
            Stage::Match(filter) => Box::new(input.filter_map(move |d| match d {
                Ok(doc) => match filter.try_matches_with_vars(&doc, &env.vars) {
                    Ok(true) => Some(Ok(doc)),
                    Ok(false) => None,
                    Err(e) => Some(Err(e)),
                },
                Err(e) => Some(Err(e)),
            })),
            Stage::Project(p) => Box::new(input.map(move |d| {
                d.and_then(|doc| {
                    let mut out = p.apply_with_vars(&doc, None, &env.vars)?;
                    // The scores stay with the document (an inclusion
                    // `$project` would drop them).
                    crate::text::carry_scores(&doc, &mut out);
                    Ok(out)
                })
            })),
            Stage::Group(g) => Box::new(g.run(input, env)?.into_iter().map(Ok)),
            Stage::Sort(spec) => {
                let mut docs: Vec<Document> = input.collect::<Result<_>>()?;
                spec.sort(&mut docs);
                Box::new(docs.into_iter().map(Ok))
            }
            Stage::SortLimit(spec, limit) => {
                let docs: Vec<Document> = input.collect::<Result<_>>()?;
                Box::new(spec.top_k(docs.into_iter(), *limit).into_iter().map(Ok))
            }
            Stage::Limit(n) => Box::new(input.take(*n)),
            Stage::Skip(n) => {
                let mut left = *n;
                Box::new(input.filter(move |d| {
                    if d.is_ok() && left > 0 {
                        left -= 1;
                        false
                    } else {
                        true
                    }
                }))
            }
            Stage::Unwind(u) => Box::new(input.flat_map(move |d| -> Vec<Result<Document>> {
                match d {
                    Ok(doc) => u.apply(doc).into_iter().map(Ok).collect(),
                    Err(e) => vec![Err(e)],
                }
            })),
            Stage::Lookup(l) => l.apply(input, env)?,
            Stage::Count(field) => {
                let mut n: i64 = 0;
                for d in input {
                    d?;
                    n += 1;
                }
                if n == 0 {
                    Box::new(std::iter::empty())
                } else {
                    let mut out = Document::new();
                    out.insert(field.clone(), crate::expr::arith_int_or_long(n));
                    Box::new(std::iter::once(Ok(out)))
                }
            }
            Stage::ReplaceRoot { expr, field } => Box::new(input.map(move |d| {
                let doc = d?;
                match expr.evaluate(&doc, &env.vars)? {
                    Some(Bson::Document(new_root)) => Ok(new_root),
                    other => {
                        let (shown, ty) = match &other {
                            Some(v) => (crate::display::value(v), crate::types::type_name(v)),
                            None => ("MISSING".to_string(), "missing"),
                        };
                        err(
                            codes::L40228,
                            format!(
                                "'{field}' expression  must evaluate to an object, but resulting value was: {shown}. Type of resulting value: '{ty}'. Input document: {}",
                                crate::display::document(&doc)
                            ),
                        )
                    }
                }
            })),
            Stage::SortByCount(g) => {
                let mut docs = g.run(input, env)?;
                let spec = SortSpec::parse(&bson::doc! {"count": -1})?;
                spec.sort(&mut docs);
                Box::new(docs.into_iter().map(Ok))
            }
            Stage::Facet(facets) => {
                let docs: Vec<Document> = input.collect::<Result<_>>()?;
                let mut out = Document::new();
                for (name, pipeline) in facets {
                    let stream: DocStream<'_> = Box::new(docs.iter().cloned().map(Ok));
                    let results: Vec<Document> =
                        pipeline.run_stream(stream, env)?.map(without_score).collect::<Result<_>>()?;
                    out.insert(name.clone(), Bson::Array(results.into_iter().map(Bson::Document).collect()));
                }
                Box::new(std::iter::once(Ok(out)))
            }
            Stage::Bucket(b) => Box::new(b.run(input, env)?.into_iter().map(Ok)),
            Stage::BucketAuto(b) => Box::new(b.run(input, env)?.into_iter().map(Ok)),
            Stage::SetWindowFields(w) => Box::new(w.run(input, env)?.into_iter().map(Ok)),
            Stage::GraphLookup(g) => g.apply(input, env)?,
            Stage::Sample(size) => {
                // Reservoir sampling: a uniform sample without replacement,
                // in random order.
                let mut rng = rand::rng();
                let mut sample: Vec<Document> = Vec::with_capacity((*size).min(1024));
                for (seen, d) in input.enumerate() {
                    let d = d?;
                    if sample.len() < *size {
                        sample.push(d);
                    } else {
                        let j = rng.random_range(0..=seen);
                        if j < *size {
                            sample[j] = d;
                        }
                    }
                }
                for i in (1..sample.len()).rev() {
                    let j = rng.random_range(0..=i);
                    sample.swap(i, j);
                }
                Box::new(sample.into_iter().map(Ok))
            }
            Stage::UnionWith(u) => u.apply(input, env)?,
            Stage::Out(target) => {
                let docs: Vec<Document> = input.map(without_score).collect::<Result<_>>()?;
                match &target.db {
                    None => env.ctx.write_out(&target.coll, docs)?,
                    Some(db) => env.ctx.write_out_to(db, &target.coll, docs)?,
                }
                Box::new(std::iter::empty())
            }
            Stage::Merge { into, spec } => {
                let docs: Vec<Document> = input.map(without_score).collect::<Result<_>>()?;
                env.ctx.merge_into(into, docs, spec)?;
                Box::new(std::iter::empty())
            }
            Stage::Documents(docs) => {
                // $documents replaces its input.
                drop(input);
                Box::new(docs.iter().cloned().map(Ok))
            }
            Stage::Densify(d) => Box::new(d.run(input)?.into_iter().map(Ok)),
            Stage::Fill(f) => f.run(input, env)?,
            Stage::Redact(r) => r.apply(input, env),
        })
    }
}

/// Known MongoDB stages this crate does not implement (distinct from
/// names that are not stages at all).
fn is_stage_name(name: &str) -> bool {
    matches!(
        name,
        "$match"
            | "$project"
            | "$addFields"
            | "$set"
            | "$unset"
            | "$group"
            | "$sort"
            | "$limit"
            | "$skip"
            | "$unwind"
            | "$lookup"
            | "$count"
            | "$replaceRoot"
            | "$replaceWith"
            | "$sortByCount"
            | "$facet"
            | "$bucket"
            | "$sample"
            | "$unionWith"
            | "$out"
            | "$merge"
            | "$documents"
            | "$bucketAuto"
            | "$collStats"
            | "$currentOp"
            | "$densify"
            | "$fill"
            | "$geoNear"
            | "$graphLookup"
            | "$indexStats"
            | "$listLocalSessions"
            | "$listSessions"
            | "$planCacheStats"
            | "$redact"
            | "$search"
            | "$searchMeta"
            | "$setWindowFields"
            | "$changeStream"
            | "$listSearchIndexes"
            | "$vectorSearch"
    )
}

/// `$limit`/`$skip` arguments: integral numbers.
fn parse_count_arg(stage: &str, arg: &Bson, not_number: crate::error::ErrorCode, msg: &str) -> Result<i64> {
    if !crate::numeric::is_number(arg) {
        return err(not_number, msg);
    }
    match crate::numeric::to_exact_i64(arg) {
        Some(n) => Ok(n),
        None => {
            let code = if stage == "$limit" { codes::L5107201 } else { codes::L5107200 };
            err(
                code,
                format!(
                    "invalid argument to {stage} stage: Expected an integer: {}",
                    crate::display::element(stage, arg)
                ),
            )
        }
    }
}

fn parse_unset(arg: &Bson) -> Result<Projection> {
    let fields: Vec<&str> = match arg {
        Bson::String(s) => vec![s.as_str()],
        Bson::Array(items) => {
            if items.is_empty() {
                return err(
                    codes::L31119,
                    "$unset specification must be a string or an array with at least one field",
                );
            }
            let mut out = Vec::with_capacity(items.len());
            for i in items {
                let Bson::String(s) = i else {
                    return err(
                        codes::L31120,
                        "$unset specification must be a string or an array containing only string values",
                    );
                };
                out.push(s.as_str());
            }
            out
        }
        _ => return err(codes::L31002, "$unset specification must be a string or an array"),
    };
    let mut spec = Document::new();
    for f in &fields {
        if f.is_empty() {
            return Err(QueryError::new(codes::L40352, "FieldPath cannot be constructed with empty string")
                .caused_by("Invalid $unset"));
        }
        if spec.contains_key(*f) {
            return Err(
                QueryError::new(codes::L31250, format!("Path collision at {f}")).caused_by("Invalid $unset")
            );
        }
        spec.insert(f.to_string(), 0);
    }
    Projection::parse_kind(&spec, ProjectionKind::Project, &[]).map_err(|e| {
        match e.message.strip_prefix("Invalid $project :: caused by :: ") {
            Some(rest) => QueryError { message: format!("Invalid $unset :: caused by :: {rest}"), ..e },
            None => e,
        }
    })
}

fn parse_unwind(arg: &Bson) -> Result<Unwind> {
    let (path, index_field, preserve) = match arg {
        Bson::String(s) => (s.clone(), None, false),
        Bson::Document(d) => {
            let (mut path, mut index, mut preserve) = (None, None, false);
            for (k, v) in d {
                match k.as_str() {
                    "path" => {
                        let Bson::String(s) = v else {
                            return err(
                                codes::L28808,
                                format!(
                                    "expected a string as the path for $unwind stage, got {}",
                                    crate::types::type_name(v)
                                ),
                            );
                        };
                        path = Some(s.clone());
                    }
                    "includeArrayIndex" => {
                        let Bson::String(s) = v else {
                            return err(
                                codes::L28810,
                                format!(
                                    "expected a non-empty string for the includeArrayIndex  option to $unwind stage, got {}",
                                    crate::types::type_name(v)
                                ),
                            );
                        };
                        if s.is_empty() {
                            return err(
                                codes::L28810,
                                "expected a non-empty string for the includeArrayIndex  option to $unwind stage, got string",
                            );
                        }
                        if s.starts_with('$') {
                            return err(
                                codes::L28822,
                                format!("includeArrayIndex option to $unwind stage should not be prefixed with a '$': {s}"),
                            );
                        }
                        index = Some(s.clone());
                    }
                    "preserveNullAndEmptyArrays" => {
                        let Bson::Boolean(b) = v else {
                            return err(
                                codes::L28809,
                                format!(
                                    "expected a boolean for the preserveNullAndEmptyArrays option to $unwind stage, got {}",
                                    crate::types::type_name(v)
                                ),
                            );
                        };
                        preserve = *b;
                    }
                    _ => return err(codes::L28811, format!("unrecognized option to $unwind stage: {k}")),
                }
            }
            let Some(path) = path else { return err(codes::L28812, "no path specified to $unwind stage") };
            (path, index, preserve)
        }
        other => {
            return err(
                codes::L15981,
                format!(
                    "expected either a string or an object as specification for $unwind stage, got {}",
                    crate::types::type_name(other)
                ),
            )
        }
    };
    let Some(body) = path.strip_prefix('$') else {
        return err(
            codes::L28818,
            format!("path option to $unwind stage should be prefixed with a '$': {path}"),
        );
    };
    let parts = crate::expr::parse_field_path(body)?;
    if let Some(idx) = &index_field {
        crate::expr::parse_field_path(idx)?;
    }
    Ok(Unwind { path: parts, index_field, preserve })
}

/// Reads a dotted path through documents only (arrays stop it).
pub(crate) fn get_in_documents<'a>(doc: &'a Document, parts: &[String]) -> Option<&'a Bson> {
    let mut cur = doc.get(&parts[0])?;
    for p in &parts[1..] {
        match cur {
            Bson::Document(d) => cur = d.get(p)?,
            _ => return None,
        }
    }
    Some(cur)
}

/// Sets (or with `None` removes) a dotted path, creating documents.
pub(crate) fn set_in_documents(doc: &mut Document, parts: &[String], value: Option<Bson>) {
    if parts.len() == 1 {
        match value {
            Some(v) => {
                doc.insert(parts[0].clone(), v);
            }
            None => {
                doc.remove(&parts[0]);
            }
        }
        return;
    }
    if !matches!(doc.get(&parts[0]), Some(Bson::Document(_))) {
        if value.is_none() {
            return;
        }
        doc.insert(parts[0].clone(), Bson::Document(Document::new()));
    }
    if let Some(Bson::Document(child)) = doc.get_mut(&parts[0]) {
        set_in_documents(child, &parts[1..], value);
    }
}

impl Unwind {
    fn apply(&self, doc: Document) -> Vec<Document> {
        let index_parts: Option<Vec<String>> =
            self.index_field.as_ref().map(|f| f.split('.').map(str::to_string).collect());
        let with_index = |mut d: Document, i: Option<i64>| {
            if let Some(p) = &index_parts {
                set_in_documents(&mut d, p, Some(i.map(Bson::Int64).unwrap_or(Bson::Null)));
            }
            d
        };
        match get_in_documents(&doc, &self.path) {
            Some(Bson::Array(items)) if !items.is_empty() => {
                let items = items.clone();
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let mut d = doc.clone();
                        set_in_documents(&mut d, &self.path, Some(item));
                        with_index(d, Some(i as i64))
                    })
                    .collect()
            }
            Some(Bson::Array(_)) => {
                if !self.preserve {
                    return Vec::new();
                }
                let mut d = doc;
                set_in_documents(&mut d, &self.path, None);
                vec![with_index(d, None)]
            }
            None | Some(Bson::Null) | Some(Bson::Undefined) => {
                if self.preserve {
                    vec![with_index(doc, None)]
                } else {
                    Vec::new()
                }
            }
            Some(_) => vec![with_index(doc, None)],
        }
    }
}

/// Merges `$sort` + `$limit` into a bounded sort.
/// A document leaving the pipeline (or entering an array or another
/// collection) without the text score it carried.
pub(crate) fn without_score(d: Result<Document>) -> Result<Document> {
    d.map(|mut d| {
        crate::text::strip_score(&mut d);
        d
    })
}

/// Whether a stage is a `$match` with `$text`.
pub(crate) fn is_text_match(stage: &Stage) -> bool {
    matches!(stage, Stage::Match(f) if f.has_text())
}

/// Whether a stage sorts by the text score.
pub(crate) fn sorts_by_text_score(stage: &Stage) -> bool {
    matches!(stage, Stage::Sort(s) | Stage::SortLimit(s, _) if s.uses_text_score())
}

pub(crate) fn coalesce(stages: Vec<Stage>) -> Vec<Stage> {
    let mut out: Vec<Stage> = Vec::with_capacity(stages.len());
    for stage in stages {
        match (out.last_mut(), stage) {
            (Some(Stage::Sort(spec)), Stage::Limit(n)) => {
                let spec = std::mem::take(spec);
                *out.last_mut().expect("non-empty") = Stage::SortLimit(spec, n);
            }
            (_, stage) => out.push(stage),
        }
    }
    out
}
