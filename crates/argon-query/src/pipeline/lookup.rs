//! `$lookup` (equality and pipeline forms), `$graphLookup` and
//! `$unionWith`: the stages that read another collection through
//! [`super::PipelineContext`].

use std::collections::{HashMap, HashSet};

use bson::{Bson, Document};

use super::stages::set_in_documents;
use super::{Context, DocStream, Env, Pipeline};
use crate::error::{codes, err, Result};
use crate::expr::{validate_variable_name_for_write, Expression};
use crate::filter::Filter;
use crate::path::{path_values, Path};

#[derive(Clone, Debug)]
pub(crate) struct Lookup {
    from: String,
    equality: Option<(String, String)>,
    as_path: Vec<String>,
    lets: Vec<(String, Expression)>,
    pipeline: Option<Pipeline>,
}

fn string_arg<'a>(name: &str, v: &'a Bson) -> Result<&'a str> {
    match v {
        Bson::String(s) => Ok(s),
        other => err(
            codes::FAILED_TO_PARSE,
            format!(
                "$lookup argument '{}' must be a string, is type {}",
                crate::display::element(name, other),
                crate::types::type_name(other)
            ),
        ),
    }
}

fn sub_pipeline(stages: &Bson, vars: &[String], owner: &str) -> Result<Pipeline> {
    let Bson::Array(items) = stages else {
        return err(codes::FAILED_TO_PARSE, format!("{owner} 'pipeline' must be an array"));
    };
    let mut docs = Vec::with_capacity(items.len());
    for i in items {
        let Bson::Document(d) = i else {
            return err(codes::FAILED_TO_PARSE, format!("{owner} 'pipeline' must be an array of objects"));
        };
        docs.push(d.clone());
    }
    Pipeline::parse_in(&docs, vars, Context::SubPipeline)
}

impl Lookup {
    pub(crate) fn parse(arg: &Bson, vars: &[String]) -> Result<Lookup> {
        let Bson::Document(d) = arg else {
            return err(codes::FAILED_TO_PARSE, "the $lookup specification must be an Object");
        };
        let (mut from, mut local, mut foreign, mut as_, mut lets, mut pipeline) =
            (None, None, None, None, None, None);
        for (k, v) in d {
            match k.as_str() {
                "from" => {
                    from = Some(match v {
                        Bson::Document(ns) => match ns.get("coll") {
                            Some(Bson::String(c)) => c.clone(),
                            _ => return err(codes::FAILED_TO_PARSE, "$lookup 'from' must specify 'coll'"),
                        },
                        other => string_arg(k, other)?.to_string(),
                    })
                }
                "localField" => local = Some(string_arg(k, v)?.to_string()),
                "foreignField" => foreign = Some(string_arg(k, v)?.to_string()),
                "as" => as_ = Some(string_arg(k, v)?.to_string()),
                "let" => {
                    let Bson::Document(l) = v else {
                        return err(codes::FAILED_TO_PARSE, "$lookup argument 'let' must be an object");
                    };
                    lets = Some(l.clone());
                }
                "pipeline" => pipeline = Some(v.clone()),
                _ => return err(codes::FAILED_TO_PARSE, format!("unknown argument to $lookup: {k}")),
            }
        }
        let Some(as_) = as_ else {
            return err(codes::FAILED_TO_PARSE, "must specify 'as' field for a $lookup");
        };
        let equality = match (local, foreign) {
            (Some(l), Some(f)) => Some((l, f)),
            (None, None) => None,
            _ => {
                return err(
                    codes::FAILED_TO_PARSE,
                    "$lookup requires both or neither of 'localField' and 'foreignField' to be specified",
                )
            }
        };
        if equality.is_none() && pipeline.is_none() {
            return err(
                codes::FAILED_TO_PARSE,
                "$lookup requires either 'pipeline' or both 'localField' and 'foreignField' to be specified",
            );
        }
        if lets.is_some() && pipeline.is_none() {
            return err(codes::FAILED_TO_PARSE, "$lookup with 'let' must also specify 'pipeline'");
        }
        let Some(from) = from else {
            return err(codes::FAILED_TO_PARSE, "must specify 'from' field for a $lookup");
        };
        let mut let_exprs = Vec::new();
        let mut names: Vec<String> = vars.to_vec();
        if let Some(l) = lets {
            for (k, v) in &l {
                validate_variable_name_for_write(k)?;
                let_exprs.push((k.clone(), Expression::parse_with_vars(v, vars)?));
            }
            names.extend(l.keys().cloned());
        }
        let pipeline = pipeline.map(|p| sub_pipeline(&p, &names, "$lookup")).transpose()?;
        crate::expr::parse_field_path(&as_)?;
        Ok(Lookup {
            from,
            equality,
            as_path: as_.split('.').map(str::to_string).collect(),
            lets: let_exprs,
            pipeline,
        })
    }

    pub(crate) fn apply<'a>(&'a self, input: DocStream<'a>, env: &'a Env<'a>) -> Result<DocStream<'a>> {
        // With an index on foreignField, each input document looks up its
        // matches; otherwise the foreign collection is read once.
        let mut input = input.peekable();
        let per_document = match (&self.equality, input.peek()) {
            (Some((local, foreign)), Some(Ok(first))) => {
                env.ctx.find_equal(&self.from, foreign, &local_values(first, local))?.is_some()
            }
            _ => false,
        };
        let foreign = match per_document {
            true => Vec::new(),
            false => env.ctx.collection(&self.from)?,
        };
        let index = match per_document {
            true => None,
            false => self.equality.as_ref().map(|(_, f)| ForeignIndex::build(&foreign, f)),
        };
        Ok(Box::new(input.map(move |d| {
            let mut doc = d?;
            let looked_up: Vec<Document>;
            let candidates: Vec<&Document> = match (&self.equality, &index) {
                (Some((local, foreign_field)), None) if per_document => {
                    let values = local_values(&doc, local);
                    // (The context answered for the first document; it
                    // reads one snapshot, so it answers for every one.)
                    let Some(mut found) = env.ctx.find_equal(&self.from, foreign_field, &values)? else {
                        return err(codes::INTERNAL_ERROR, "$lookup: the foreign index is no longer usable");
                    };
                    // In the foreign collection's order, as a scan gives them.
                    found.sort_by(|a, b| {
                        crate::compare(
                            a.get("_id").unwrap_or(&Bson::Null),
                            b.get("_id").unwrap_or(&Bson::Null),
                        )
                    });
                    looked_up = found;
                    looked_up.iter().collect()
                }
                (Some((local, _)), Some(idx)) => {
                    idx.matches(&doc, local).into_iter().map(|i| &foreign[i]).collect()
                }
                _ => foreign.iter().collect(),
            };
            let results: Vec<Bson> = match &self.pipeline {
                None => candidates.into_iter().cloned().map(Bson::Document).collect(),
                Some(p) => {
                    let mut vars = env.vars.clone();
                    for (name, e) in &self.lets {
                        vars.set(name.clone(), e.evaluate(&doc, &env.vars)?.unwrap_or(Bson::Null));
                    }
                    let sub_env = Env { ctx: env.ctx, vars };
                    let stream: DocStream<'_> = Box::new(candidates.into_iter().cloned().map(Ok));
                    let out: Vec<Document> = p.run_stream(stream, &sub_env)?.collect::<Result<_>>()?;
                    out.into_iter().map(Bson::Document).collect()
                }
            };
            set_in_documents(&mut doc, &self.as_path, Some(Bson::Array(results)));
            Ok(doc)
        })))
    }
}

/// The values of `localField` an input document looks up: each array
/// element (not the arrays), null when there is none (it matches null and
/// missing foreign fields), undefined read as null.
fn local_values(doc: &Document, local: &str) -> Vec<Bson> {
    let mut values: Vec<Bson> = path_values(doc, local)
        .into_iter()
        .filter(|v| !matches!(v, Bson::Array(_)))
        .map(|v| if matches!(v, Bson::Undefined) { Bson::Null } else { v.clone() })
        .collect();
    if values.is_empty() {
        values.push(Bson::Null);
    }
    values
}

/// The foreign collection keyed by the encoded values of `foreignField`,
/// so each input document finds its matches without a scan.
struct ForeignIndex {
    by_key: HashMap<Vec<u8>, Vec<usize>>,
}

impl ForeignIndex {
    fn build(docs: &[Document], field: &str) -> ForeignIndex {
        let mut by_key: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
        let path = Path::parse(field);
        for (i, d) in docs.iter().enumerate() {
            let mut keys: Vec<Vec<u8>> = Vec::new();
            let mut missing = false;
            crate::path::visit(d, &path.parts, crate::path::LeafArrays::Traverse, &mut |v, _| {
                match v {
                    Some(v) => keys.push(crate::compare::value_key(v)),
                    None => missing = true,
                }
                false
            });
            if missing || keys.is_empty() {
                keys.push(crate::compare::value_key(&Bson::Null));
            }
            keys.sort();
            keys.dedup();
            for k in keys {
                by_key.entry(k).or_default().push(i);
            }
        }
        ForeignIndex { by_key }
    }

    fn matches(&self, doc: &Document, local: &str) -> Vec<usize> {
        let mut values: Vec<Bson> = Vec::new();
        for v in path_values(doc, local) {
            // Arrays match through their elements, which are visited too.
            if !matches!(v, Bson::Array(_)) {
                values.push(v.clone());
            }
        }
        if values.is_empty() {
            values.push(Bson::Null);
        }
        let mut out: Vec<usize> = Vec::new();
        for v in &values {
            let key = crate::compare::value_key(v);
            if let Some(ids) = self.by_key.get(&key) {
                out.extend(ids);
            }
            // Undefined matches null, as in queries.
            if matches!(v, Bson::Undefined) {
                if let Some(ids) = self.by_key.get(&crate::compare::value_key(&Bson::Null)) {
                    out.extend(ids);
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

#[derive(Clone, Debug)]
pub(crate) struct UnionWith {
    coll: String,
    pipeline: Option<Pipeline>,
}

impl UnionWith {
    pub(crate) fn parse(arg: &Bson, vars: &[String]) -> Result<UnionWith> {
        match arg {
            Bson::String(s) => Ok(UnionWith { coll: s.clone(), pipeline: None }),
            Bson::Document(d) => {
                let (mut coll, mut pipeline) = (None, None);
                for (k, v) in d {
                    match k.as_str() {
                        "coll" => match v {
                            Bson::String(s) => coll = Some(s.clone()),
                            other => {
                                return err(
                                    codes::TYPE_MISMATCH,
                                    format!(
                                        "BSON field '$unionWith.coll' is the wrong type '{}', expected type 'string'",
                                        crate::types::type_name(other)
                                    ),
                                )
                            }
                        },
                        "pipeline" => pipeline = Some(sub_pipeline(v, vars, "$unionWith")?),
                        _ => {
                            return err(codes::L40415, format!("BSON field '$unionWith.{k}' is an unknown field."))
                        }
                    }
                }
                let Some(coll) = coll else {
                    return err(
                        codes::L40414,
                        "BSON field '$unionWith.coll' is missing but a required field",
                    );
                };
                Ok(UnionWith { coll, pipeline })
            }
            other => err(
                codes::FAILED_TO_PARSE,
                format!(
                    "the $unionWith stage specification must be an object or string, but found {}",
                    crate::types::type_name(other)
                ),
            ),
        }
    }

    pub(crate) fn apply<'a>(&'a self, input: DocStream<'a>, env: &'a Env<'a>) -> Result<DocStream<'a>> {
        let tail = std::iter::once_with(move || -> Result<Vec<Document>> {
            let docs = env.ctx.collection(&self.coll)?;
            match &self.pipeline {
                None => Ok(docs),
                Some(p) => {
                    let stream: DocStream<'_> = Box::new(docs.into_iter().map(Ok));
                    p.run_stream(stream, env)?.collect()
                }
            }
        })
        .flat_map(|r| -> Vec<Result<Document>> {
            match r {
                Ok(docs) => docs.into_iter().map(Ok).collect(),
                Err(e) => vec![Err(e)],
            }
        });
        Ok(Box::new(input.chain(tail)))
    }
}

/// `$graphLookup`: a breadth-first search of another collection from each
/// input document, following `connectFromField` values to documents whose
/// `connectToField` equals them.
#[derive(Clone, Debug)]
pub(crate) struct GraphLookup {
    from: String,
    start_with: Expression,
    connect_from: String,
    connect_to: String,
    as_path: Vec<String>,
    /// Depth 0 is the documents `startWith` reaches directly.
    max_depth: Option<i64>,
    depth_field: Option<Vec<String>>,
    restrict: Option<Filter>,
}

impl GraphLookup {
    pub(crate) fn parse(arg: &Bson, vars: &[String]) -> Result<GraphLookup> {
        let Bson::Document(d) = arg else {
            return err(
                codes::FAILED_TO_PARSE,
                format!(
                    "the $graphLookup stage specification must be an object, but found {}",
                    crate::types::type_name(arg)
                ),
            );
        };
        let (mut from, mut start_with, mut connect_from, mut connect_to, mut as_, mut depth_field) =
            (None, None, None, None, None, None);
        let (mut max_depth, mut restrict) = (None, None);
        for (k, v) in d {
            match k.as_str() {
                "startWith" => start_with = Some(Expression::parse_with_vars(v, vars)?),
                "maxDepth" => {
                    if !crate::numeric::is_number(v) {
                        return err(
                            codes::L40100,
                            format!("maxDepth must be numeric, found type: {}", crate::types::type_name(v)),
                        );
                    }
                    let depth = crate::numeric::to_f64(v).unwrap_or(0.0);
                    if depth.trunc() < 0.0 {
                        return err(
                            codes::L40101,
                            format!(
                                "maxDepth requires a nonnegative argument, found: {}",
                                depth.trunc() as i64
                            ),
                        );
                    }
                    let Some(depth) = crate::numeric::to_exact_i64(v) else {
                        return err(
                            codes::L40102,
                            format!(
                                "maxDepth could not be represented as a long long: {}",
                                depth.trunc() as i64
                            ),
                        );
                    };
                    max_depth = Some(depth);
                }
                "restrictSearchWithMatch" => {
                    let Bson::Document(m) = v else {
                        return err(
                            codes::L40185,
                            format!(
                                "restrictSearchWithMatch must be an object, found {}",
                                crate::types::type_name(v)
                            ),
                        );
                    };
                    let filter = Filter::parse(m).map_err(|e| {
                        e.caused_by("Failed to parse 'restrictSearchWithMatch' option to $graphLookup")
                    })?;
                    restrict = Some(filter);
                }
                "from" | "as" | "connectFromField" | "connectToField" | "depthField" => {
                    let Bson::String(s) = v else {
                        if k == "from" && matches!(v, Bson::Document(_)) {
                            return err(
                                codes::FAILED_TO_PARSE,
                                "$graphLookup with syntax {from: {db:<>, coll:<>},..} is not supported",
                            );
                        }
                        return err(
                            codes::L40103,
                            format!(
                                "expected string as argument for {k}, found: {}",
                                crate::types::type_name(v)
                            ),
                        );
                    };
                    let slot = match k.as_str() {
                        "from" => &mut from,
                        "as" => &mut as_,
                        "connectFromField" => &mut connect_from,
                        "connectToField" => &mut connect_to,
                        _ => &mut depth_field,
                    };
                    *slot = Some(s.clone());
                }
                _ => return err(codes::L40104, format!("Unknown argument to $graphLookup: {k}")),
            }
        }
        let present = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.is_empty());
        let complete = present(&from) && present(&as_) && present(&connect_from) && present(&connect_to);
        let (Some(from), Some(as_), Some(connect_from), Some(connect_to), Some(start_with), true) =
            (from, as_, connect_from, connect_to, start_with, complete)
        else {
            return err(
                codes::L40105,
                "$graphLookup requires 'from', 'as', 'startWith', 'connectFromField', and 'connectToField' to be specified.",
            );
        };
        for path in [&as_, &connect_from, &connect_to] {
            crate::expr::parse_field_path(path)?;
        }
        let depth_field =
            depth_field.map(|f| crate::expr::parse_field_path(&f).map(|p| p.into_vec())).transpose()?;
        Ok(GraphLookup {
            from,
            start_with,
            connect_from,
            connect_to,
            as_path: as_.split('.').map(str::to_string).collect(),
            max_depth,
            depth_field,
            restrict,
        })
    }

    /// The fields of its input the stage reads (its documents also reach
    /// the output).
    pub(crate) fn dependencies(&self) -> &crate::deps::Deps {
        self.start_with.dependencies()
    }

    pub(crate) fn apply<'a>(&'a self, input: DocStream<'a>, env: &'a Env<'a>) -> Result<DocStream<'a>> {
        let mut foreign = env.ctx.collection(&self.from)?;
        if let Some(f) = &self.restrict {
            let mut kept = Vec::with_capacity(foreign.len());
            for d in foreign {
                if f.try_matches_with_vars(&d, &env.vars)? {
                    kept.push(d);
                }
            }
            foreign = kept;
        }
        let index = ConnectIndex::build(&foreign, &self.connect_to);
        Ok(Box::new(input.map(move |d| {
            let mut doc = d?;
            let found = self.search(&doc, &foreign, &index, env)?;
            set_in_documents(&mut doc, &self.as_path, Some(Bson::Array(found)));
            Ok(doc)
        })))
    }

    /// The documents reachable from `doc`, each once (by `_id`), in the
    /// order found: by depth, then in collection order.
    fn search(
        &self,
        doc: &Document,
        foreign: &[Document],
        index: &ConnectIndex,
        env: &Env,
    ) -> Result<Vec<Bson>> {
        let mut frontier: Vec<Bson> = match self.start_with.evaluate(doc, &env.vars)? {
            Some(Bson::Array(items)) => items,
            Some(v) => vec![v],
            None => Vec::new(),
        };
        let mut visited: HashSet<Vec<u8>> = HashSet::new();
        let mut found: Vec<Bson> = Vec::new();
        let mut depth: i64 = 0;
        while !frontier.is_empty() && self.max_depth.is_none_or(|max| depth <= max) {
            let mut next: Vec<Bson> = Vec::new();
            for i in index.matching(&frontier) {
                let candidate = &foreign[i];
                let Some(id) = candidate.get("_id") else {
                    return err(
                        codes::L40271,
                        format!(
                            "Documents in the '{}' namespace must contain an _id for de-duplication in $graphLookup",
                            self.from
                        ),
                    );
                };
                if !visited.insert(crate::compare::value_key(id)) {
                    continue;
                }
                // Arrays connect through each of their elements.
                next.extend(
                    path_values(candidate, &self.connect_from)
                        .into_iter()
                        .filter(|v| !matches!(v, Bson::Array(_)))
                        .cloned(),
                );
                let mut result = candidate.clone();
                if let Some(field) = &self.depth_field {
                    set_in_documents(&mut result, field, Some(Bson::Int64(depth)));
                }
                found.push(Bson::Document(result));
            }
            frontier = next;
            depth += 1;
        }
        Ok(found)
    }
}

/// The foreign documents keyed by the encoded values of `connectToField`
/// (arrays by each element and as a whole, as a query's equality matches;
/// documents without the field are never matched, not even by null).
struct ConnectIndex {
    by_key: HashMap<Vec<u8>, Vec<usize>>,
}

impl ConnectIndex {
    fn build(docs: &[Document], field: &str) -> ConnectIndex {
        let mut by_key: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
        for (i, d) in docs.iter().enumerate() {
            let mut keys: Vec<Vec<u8>> =
                path_values(d, field).into_iter().map(crate::compare::value_key).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                by_key.entry(k).or_default().push(i);
            }
        }
        ConnectIndex { by_key }
    }

    /// Positions of the documents matching any of `values`, in order.
    fn matching(&self, values: &[Bson]) -> Vec<usize> {
        let mut out: Vec<usize> = values
            .iter()
            .filter_map(|v| self.by_key.get(&crate::compare::value_key(v)))
            .flatten()
            .copied()
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}
