//! `$fill`: sets null and missing fields, with a value, the last value
//! seen before (`locf`) or a linear interpolation between the values
//! around (`linear`).
//!
//! ```text
//! only {value}: each document on its own, in input order
//! a method:     sort by (partition, sortBy) ─▶ per partition, per field:
//!                 locf   → last non-null value so far (null before any)
//!                 linear → y₁ + (x - x₁)·(y₂ - y₁)/(x₂ - x₁) between the
//!                          non-null neighbours (x: the one sortBy field)
//!               ─▶ then the {value} fields, as $ifNull
//! ```
//!
//! As in MongoDB (which rewrites `$fill` into `$setWindowFields` and
//! `$addFields`), a method writes null where it has nothing to fill with.

use bson::{Bson, Document};

use super::stages::set_in_documents;
use super::{DocStream, Env};
use crate::compare::compare;
use crate::deps::Deps;
use crate::error::{codes, err, ErrorCode, QueryError, Result};
use crate::expr::{nullish, Expression, Value};
use crate::sort::SortSpec;

const STAGE: &str = "$fill";

const L6050200: ErrorCode = ErrorCode { code: 6050200, name: "Location6050200" };
const L6050201: ErrorCode = ErrorCode { code: 6050201, name: "Location6050201" };
const L6050202: ErrorCode = ErrorCode { code: 6050202, name: "Location6050202" };
const L6050203: ErrorCode = ErrorCode { code: 6050203, name: "Location6050203" };
const L6050204: ErrorCode = ErrorCode { code: 6050204, name: "Location6050204" };
pub(super) const L605001: ErrorCode = ErrorCode { code: 605001, name: "Location605001" };
pub(super) const L605002: ErrorCode = ErrorCode { code: 605002, name: "Location605002" };
const L6050105: ErrorCode = ErrorCode { code: 6050105, name: "Location6050105" };
const L6050106: ErrorCode = ErrorCode { code: 6050106, name: "Location6050106" };

#[derive(Clone, Debug)]
enum PartitionBy {
    None,
    Expr(Expression),
    /// `partitionByFields`: the names and their `$name` paths.
    Fields(Vec<(String, Expression)>),
}

#[derive(Clone, Debug)]
enum Method {
    Value(Expression),
    Locf,
    Linear,
}

#[derive(Clone, Debug)]
struct FillOutput {
    path: Vec<String>,
    /// `$<field>`: the value to fill.
    current: Expression,
    method: Method,
}

#[derive(Clone, Debug)]
pub(crate) struct Fill {
    partition_by: PartitionBy,
    sort_by: Option<SortSpec>,
    /// `$<field>` of the one `sortBy` field (what `linear` measures along).
    sort_field: Option<Expression>,
    outputs: Vec<FillOutput>,
}

fn unknown(field: &str) -> QueryError {
    QueryError::new(codes::L40415, format!("BSON field '{STAGE}.{field}' is an unknown field."))
}

fn wrong_type(field: &str, v: &Bson, expected: &str) -> QueryError {
    super::stages::wrong_type(&format!("{STAGE}.{field}"), v, expected)
}

fn path_expr(path: &str) -> Result<Expression> {
    crate::expr::parse_field_path(path)?;
    Expression::parse(&Bson::String(format!("${path}")))
}

impl Fill {
    pub(crate) fn parse(arg: &Bson, vars: &[String]) -> Result<Fill> {
        let Bson::Document(spec) = arg else {
            return err(
                codes::FAILED_TO_PARSE,
                format!(
                    "The {STAGE} stage specification must be an object, found {}",
                    crate::types::type_name(arg)
                ),
            );
        };
        let (mut sort_by, mut partition_by, mut partition_fields, mut output) = (None, None, None, None);
        for (k, v) in spec {
            match k.as_str() {
                "sortBy" => match v {
                    Bson::Document(d) => sort_by = Some(d),
                    other => return Err(wrong_type(k, other, "object")),
                },
                "partitionBy" => match v {
                    Bson::Document(_) | Bson::String(_) => partition_by = Some(v),
                    other => return Err(wrong_type(k, other, "string or object")),
                },
                "partitionByFields" => {
                    let Bson::Array(items) = v else { return Err(wrong_type(k, v, "array")) };
                    let mut fields = Vec::with_capacity(items.len());
                    for i in items {
                        let Bson::String(s) = i else {
                            return Err(wrong_type(&format!("{k}.{}", fields.len()), i, "string"));
                        };
                        fields.push((s.clone(), path_expr(s)?));
                    }
                    partition_fields = Some(fields);
                }
                "output" => match v {
                    Bson::Document(d) => output = Some(d),
                    other => return Err(wrong_type(k, other, "object")),
                },
                _ => return Err(unknown(k)),
            }
        }
        let Some(output) = output else {
            return err(
                codes::L40414,
                format!("BSON field '{STAGE}.output' is missing but a required field"),
            );
        };
        if output.is_empty() {
            return err(
                L6050203,
                "The output field in '$fill' must contain an object with at least one element",
            );
        }
        let (sort_by, sort_field) = super::window::parse_sort_by(sort_by)?;
        let mut outputs = Vec::with_capacity(output.len());
        for (name, v) in output {
            let Bson::Document(o) = v else {
                return err(
                    L6050200,
                    "Each fill output specification must be an object with exactly one field",
                );
            };
            let (mut method, mut value) = (None, None);
            for (k, v) in o {
                match k.as_str() {
                    "method" => match v {
                        Bson::String(s) => method = Some(s.as_str()),
                        other => return Err(wrong_type("method", other, "string")),
                    },
                    "value" => value = Some(v),
                    _ => return Err(unknown(k)),
                }
            }
            let method = match (method, value) {
                (Some(_), Some(_)) => {
                    return err(
                        L6050201,
                        "Each fill output specification must have exactly one of 'method' or 'value' fields, not both",
                    )
                }
                (Some("locf"), None) => Method::Locf,
                (Some("linear"), None) => {
                    let Some(sort) = &sort_by else {
                        return err(L605001, "$linearFill requires an explicit 'sortBy'");
                    };
                    if sort.fields().count() != 1 {
                        return err(L605002, "$linearFill requires a sortBy with exactly one field");
                    }
                    Method::Linear
                }
                (Some(_), None) => return err(L6050202, "Method must be either locf or linear"),
                (None, Some(v)) => Method::Value(Expression::parse_with_vars(v, vars)?),
                (None, None) => continue,
            };
            outputs.push(FillOutput {
                path: crate::expr::parse_field_path(name)?.into_vec(),
                current: path_expr(name)?,
                method,
            });
        }
        let partition_by = match (partition_by, partition_fields) {
            (Some(_), Some(_)) => {
                return err(
                    L6050204,
                    "Maximum one of 'partitionBy' and 'partitionByFields can be specified in '$fill'",
                )
            }
            (Some(e), None) => match Expression::parse_with_vars(e, vars)? {
                e if e.as_constant().is_some() => PartitionBy::None,
                e => PartitionBy::Expr(e),
            },
            (None, Some(fields)) if !fields.is_empty() => PartitionBy::Fields(fields),
            _ => PartitionBy::None,
        };
        Ok(Fill { partition_by, sort_by, sort_field, outputs })
    }

    /// The fields of its input the stage reads (its documents also reach
    /// the output).
    pub(crate) fn dependencies(&self) -> Deps {
        let mut deps = Deps::none();
        match &self.partition_by {
            PartitionBy::None => {}
            PartitionBy::Expr(e) => deps.extend(e.dependencies()),
            PartitionBy::Fields(f) => f.iter().for_each(|(_, e)| deps.extend(e.dependencies())),
        }
        if let Some(s) = &self.sort_by {
            deps.extend(&s.dependencies());
        }
        for o in &self.outputs {
            deps.extend(o.current.dependencies());
            if let Method::Value(e) = &o.method {
                deps.extend(e.dependencies());
            }
        }
        deps
    }

    fn has_methods(&self) -> bool {
        self.outputs.iter().any(|o| !matches!(o.method, Method::Value(_)))
    }

    fn partition_key(&self, doc: &Document, env: &Env) -> Result<Bson> {
        Ok(match &self.partition_by {
            PartitionBy::None => Bson::Null,
            PartitionBy::Expr(e) => match e.evaluate(doc, &env.vars)? {
                Some(Bson::Array(_)) => {
                    return err(
                        codes::TYPE_MISMATCH,
                        "An expression used to partition cannot evaluate to value of type array",
                    )
                }
                v => v.unwrap_or(Bson::Null),
            },
            PartitionBy::Fields(fields) => {
                let mut key = Document::new();
                for (name, e) in fields {
                    if let Some(v) = e.evaluate(doc, &env.vars)? {
                        key.insert(name.clone(), v);
                    }
                }
                Bson::Document(key)
            }
        })
    }

    /// The `value` outputs of one document.
    fn fill_values(&self, mut doc: Document, env: &Env) -> Result<Document> {
        for o in &self.outputs {
            if let Method::Value(e) = &o.method {
                if nullish(&o.current.evaluate(&doc, &env.vars)?) {
                    let v = e.evaluate(&doc, &env.vars)?;
                    set_in_documents(&mut doc, &o.path, v);
                }
            }
        }
        Ok(doc)
    }

    pub(crate) fn run<'a>(&'a self, input: DocStream<'a>, env: &'a Env<'a>) -> Result<DocStream<'a>> {
        if !self.has_methods() {
            return Ok(Box::new(input.map(move |d| d.and_then(|doc| self.fill_values(doc, env)))));
        }
        let mut rows: Vec<(Bson, Vec<Bson>, Document)> = Vec::new();
        for doc in input {
            let doc = doc?;
            let partition = self.partition_key(&doc, env)?;
            let key = self.sort_by.as_ref().map(|s| s.sort_key(&doc)).unwrap_or_default();
            rows.push((partition, key, doc));
        }
        rows.sort_by(|a, b| {
            let by_sort =
                || self.sort_by.as_ref().map_or(std::cmp::Ordering::Equal, |s| s.compare_keys(&a.1, &b.1));
            compare(&a.0, &b.0).then_with(by_sort)
        });
        let mut out: Vec<Document> = Vec::with_capacity(rows.len());
        let mut start = 0;
        while start < rows.len() {
            let end =
                start + rows[start..].iter().take_while(|r| compare(&r.0, &rows[start].0).is_eq()).count();
            let mut docs: Vec<Document> =
                rows[start..end].iter_mut().map(|r| std::mem::take(&mut r.2)).collect();
            for o in &self.outputs {
                let values: Vec<Value> =
                    docs.iter().map(|d| o.current.evaluate(d, &env.vars)).collect::<Result<_>>()?;
                let filled = match o.method {
                    Method::Value(_) => continue,
                    Method::Locf => locf(values),
                    Method::Linear => {
                        let xs: Vec<Value> = docs
                            .iter()
                            .map(|d| {
                                self.sort_field.as_ref().expect("checked at parse").evaluate(d, &env.vars)
                            })
                            .collect::<Result<_>>()?;
                        linear(&xs, values)?
                    }
                };
                for (d, v) in docs.iter_mut().zip(filled) {
                    set_in_documents(d, &o.path, Some(v));
                }
            }
            for d in docs {
                out.push(self.fill_values(d, env)?);
            }
            start = end;
        }
        Ok(Box::new(out.into_iter().map(Ok)))
    }
}

/// Last observation carried forward: each null or missing value becomes
/// the latest non-null one before it (null when there is none).
fn locf(values: Vec<Value>) -> Vec<Bson> {
    let mut last = Bson::Null;
    values
        .into_iter()
        .map(|v| {
            if !nullish(&v) {
                last = v.expect("not missing");
            }
            last.clone()
        })
        .collect()
}

/// A `sortBy` value as a position on the line: numbers, or dates as
/// milliseconds.
fn position(x: &Value) -> Option<f64> {
    match x {
        Some(Bson::DateTime(d)) => Some(d.timestamp_millis() as f64),
        Some(v) => crate::numeric::to_f64(v),
        None => None,
    }
}

/// Linear interpolation of the null and missing values between the
/// non-null values around them (null where one side has none).
pub(super) fn linear(xs: &[Value], values: Vec<Value>) -> Result<Vec<Bson>> {
    let mut known: Vec<(usize, f64, f64)> = Vec::new();
    for (i, v) in values.iter().enumerate() {
        if nullish(v) {
            continue;
        }
        let Some(y) = v.as_ref().and_then(crate::numeric::to_f64) else {
            return err(L6050105, "Value to be filled must be numeric or nullish");
        };
        let Some(x) = position(&xs[i]) else {
            return err(L6050106, "The sortBy field of $linearFill must be numeric or a date");
        };
        known.push((i, x, y));
    }
    for w in known.windows(2) {
        if w[0].1 == w[1].1 {
            return err(L6050106, "There can be no repeated values in the sort field");
        }
    }
    let mut out = Vec::with_capacity(values.len());
    let mut next = 0; // index in `known` of the first known value at or after i
    for (i, v) in values.into_iter().enumerate() {
        while next < known.len() && known[next].0 < i {
            next += 1;
        }
        if !nullish(&v) {
            out.push(v.expect("not missing"));
            continue;
        }
        let filled = match (next.checked_sub(1).map(|p| known[p]), known.get(next)) {
            (Some((_, x1, y1)), Some(&(_, x2, y2))) => match position(&xs[i]) {
                Some(x) => Bson::Double(y1 + (x - x1) * (y2 - y1) / (x2 - x1)),
                None => Bson::Null,
            },
            _ => Bson::Null,
        };
        out.push(filled);
    }
    Ok(out)
}
