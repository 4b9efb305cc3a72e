//! `$setWindowFields`: window functions computed per document over the
//! other documents of its partition.
//!
//! ```text
//! input ─▶ sort by (partition, sortBy) ─▶ split into partitions
//!            (stable: without sortBy a      │ per output field, per document:
//!             partition keeps input order)  ▼ fold its window
//!                                         [ documents: positions around it
//!                                           range: sortBy values around its own ]
//! ```
//!
//! Accumulator windows are folded incrementally while their lower end stays
//! put (`["unbounded", ...]`, or a whole-partition window), so running totals
//! cost one pass; sliding windows are refolded per document.

use bson::{Bson, Document};

use super::accumulators::{AccState, Accumulator};
use super::stages::set_in_documents;
use super::{DocStream, Env};
use crate::compare::compare;
use crate::deps::Deps;
use crate::error::{codes, err, QueryError, Result};
use crate::expr::date::TimeUnit;
use crate::expr::{Expression, Value};
use crate::sort::SortSpec;

const STAGE: &str = "$setWindowFields";

/// The window functions that are `$group` accumulators.
const ACCUMULATORS: &[&str] = &[
    "$sum",
    "$avg",
    "$min",
    "$max",
    "$count",
    "$push",
    "$addToSet",
    "$first",
    "$last",
    "$stdDevPop",
    "$stdDevSamp",
    "$firstN",
    "$lastN",
    "$minN",
    "$maxN",
    "$top",
    "$bottom",
    "$topN",
    "$bottomN",
    "$percentile",
    "$median",
];

/// The other window functions.
const OTHER_FUNCTIONS: &[&str] = &[
    "$rank",
    "$denseRank",
    "$documentNumber",
    "$shift",
    "$locf",
    "$linearFill",
    "$derivative",
    "$integral",
    "$expMovingAvg",
    "$covariancePop",
    "$covarianceSamp",
];

fn is_window_function(name: &str) -> bool {
    ACCUMULATORS.contains(&name) || OTHER_FUNCTIONS.contains(&name)
}

fn failed_to_parse<T>(message: impl Into<String>) -> Result<T> {
    err(codes::FAILED_TO_PARSE, message)
}

#[derive(Clone, Debug)]
pub(crate) struct SetWindowFields {
    /// `None` when every document is in one partition (also for a constant).
    partition_by: Option<Expression>,
    sort_by: Option<SortSpec>,
    /// `$field` of a one-field `sortBy`: the position range windows,
    /// `$derivative` and `$integral` measure.
    sort_field: Option<Expression>,
    outputs: Vec<WindowOutput>,
}

#[derive(Clone, Debug)]
struct WindowOutput {
    path: Vec<String>,
    function: WindowFunction,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RankKind {
    Rank,
    DenseRank,
    DocumentNumber,
}

#[derive(Clone, Debug)]
enum WindowFunction {
    Accumulate {
        acc: Accumulator,
        window: Window,
    },
    Rank(RankKind),
    Shift {
        output: Expression,
        by: i64,
        default: Bson,
    },
    /// Last observation carried forward: the latest non-null value so far.
    Locf(Expression),
    /// Nulls between two numbers interpolated along the one `sortBy` field.
    LinearFill(Expression),
    /// `value·alpha + previous·(1 - alpha)` over the partition so far.
    ExpMovingAvg {
        input: Expression,
        alpha: f64,
    },
    /// Covariance of `[x, y]` pairs in the window (population, or sample).
    Covariance {
        pair: Expression,
        sample: bool,
        window: Window,
    },
    Derivative {
        input: Expression,
        unit_ms: Option<i64>,
        window: Window,
    },
    Integral {
        input: Expression,
        unit_ms: Option<i64>,
        window: Window,
    },
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Bound<T> {
    Unbounded,
    Current,
    Offset(T),
}

#[derive(Clone, Debug, PartialEq)]
enum Window {
    /// Positions relative to the current document.
    Documents { lower: Bound<i64>, upper: Bound<i64> },
    /// `sortBy` values relative to the current document's: numbers, or
    /// with a unit whole units of time from a date.
    Range { lower: Bound<f64>, upper: Bound<f64>, unit: Option<TimeUnit> },
}

impl Window {
    /// The whole partition, the default for accumulators.
    const WHOLE: Window = Window::Documents { lower: Bound::Unbounded, upper: Bound::Unbounded };
}

/// A range window's `unit` (the date module's units).
fn parse_unit(name: &str) -> Result<TimeUnit> {
    TimeUnit::from_name(name).map_or_else(|| failed_to_parse(format!("unknown time unit value: {name}")), Ok)
}

/// `millis` moved by `n` units, as `$dateAdd` in UTC does (months land on
/// the month's last day when the day does not exist); saturating at the
/// ends of the date range.
fn add_units(unit: TimeUnit, millis: i64, n: i64) -> i64 {
    crate::expr::date::date_add(millis, unit, n, &crate::expr::date::TimeZone::UTC).unwrap_or(if n < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

impl SetWindowFields {
    pub(crate) fn parse(arg: &Bson, vars: &[String]) -> Result<SetWindowFields> {
        let Bson::Document(spec) = arg else {
            return failed_to_parse(format!(
                "the {STAGE} stage specification must be an object, found {}",
                crate::types::type_name(arg)
            ));
        };
        let (mut partition_by, mut sort_by, mut output) = (None, None, None);
        for (k, v) in spec {
            match k.as_str() {
                "partitionBy" => partition_by = Some(v),
                "sortBy" => sort_by = Some(object_field("sortBy", v)?),
                "output" => output = Some(object_field("output", v)?),
                _ => {
                    return err(codes::L40415, format!("BSON field '{STAGE}.{k}' is an unknown field."));
                }
            }
        }
        let Some(output) = output else {
            return err(
                codes::L40414,
                format!("BSON field '{STAGE}.output' is missing but a required field"),
            );
        };
        let partition_by = match partition_by {
            None => None,
            Some(v) => {
                let e = Expression::parse_with_vars(v, vars)?;
                match e.as_constant() {
                    Some(Bson::Array(_)) => return Err(partition_is_array()),
                    // A constant puts every document in the same partition.
                    Some(_) => None,
                    None => Some(e),
                }
            }
        };
        let (sort_by, sort_field) = parse_sort_by(sort_by)?;
        let mut outputs: Vec<WindowOutput> = Vec::with_capacity(output.len());
        for (name, v) in output {
            let path: Vec<String> = crate::expr::parse_field_path(name)?.into_vec();
            let conflicts = outputs.iter().any(|o| {
                let n = o.path.len().min(path.len());
                o.path[..n] == path[..n]
            });
            if conflicts {
                return err(
                    codes::L6307900,
                    format!("{STAGE} 'output' specification contains two conflicting paths"),
                );
            }
            let Bson::Document(f) = v else {
                return failed_to_parse(format!("The field '{name}' must be an object"));
            };
            let function = WindowFunction::parse(name, f, sort_by.as_ref(), vars)?;
            outputs.push(WindowOutput { path, function });
        }
        Ok(SetWindowFields { partition_by, sort_by, sort_field, outputs })
    }

    /// The fields of its input the stage reads (its documents also reach
    /// the output).
    pub(crate) fn dependencies(&self) -> Deps {
        let mut deps = Deps::none();
        if let Some(p) = &self.partition_by {
            deps.extend(p.dependencies());
        }
        if let Some(s) = &self.sort_by {
            deps.extend(&s.dependencies());
        }
        for o in &self.outputs {
            match &o.function {
                WindowFunction::Accumulate { acc, .. } => deps.extend(acc.expression().dependencies()),
                WindowFunction::Rank(_) => {}
                WindowFunction::Shift { output, .. } => deps.extend(output.dependencies()),
                WindowFunction::Locf(e)
                | WindowFunction::LinearFill(e)
                | WindowFunction::ExpMovingAvg { input: e, .. }
                | WindowFunction::Covariance { pair: e, .. }
                | WindowFunction::Derivative { input: e, .. }
                | WindowFunction::Integral { input: e, .. } => deps.extend(e.dependencies()),
            }
        }
        deps
    }

    pub(crate) fn run(&self, input: DocStream<'_>, env: &Env) -> Result<Vec<Document>> {
        let mut rows: Vec<(Bson, Vec<Bson>, Document)> = Vec::new();
        for doc in input {
            let doc = doc?;
            let partition = match &self.partition_by {
                None => Bson::Null,
                Some(e) => match e.evaluate(&doc, &env.vars)? {
                    Some(Bson::Array(_)) => return Err(partition_is_array()),
                    // Missing and null are one partition, as in $group.
                    v => v.unwrap_or(Bson::Null),
                },
            };
            let key = self.sort_by.as_ref().map(|s| s.sort_key(&doc)).unwrap_or_default();
            rows.push((partition, key, doc));
        }
        if self.partition_by.is_some() || self.sort_by.is_some() {
            rows.sort_by(|a, b| {
                let by_sort = || {
                    self.sort_by.as_ref().map_or(std::cmp::Ordering::Equal, |s| s.compare_keys(&a.1, &b.1))
                };
                compare(&a.0, &b.0).then_with(by_sort)
            });
        }
        let mut out: Vec<Document> = Vec::with_capacity(rows.len());
        let mut start = 0;
        while start < rows.len() {
            let end =
                start + rows[start..].iter().take_while(|r| compare(&r.0, &rows[start].0).is_eq()).count();
            let (keys, docs): (Vec<Vec<Bson>>, Vec<Document>) = rows[start..end]
                .iter_mut()
                .map(|r| (std::mem::take(&mut r.1), std::mem::take(&mut r.2)))
                .unzip();
            let partition = Partition { docs: &docs, keys: &keys, stage: self, env };
            let mut values: Vec<Vec<Bson>> = Vec::with_capacity(self.outputs.len());
            for o in &self.outputs {
                values.push(partition.compute(&o.function)?);
            }
            for (i, mut doc) in docs.into_iter().enumerate() {
                for (o, vals) in self.outputs.iter().zip(values.iter_mut()) {
                    set_in_documents(&mut doc, &o.path, Some(std::mem::take(&mut vals[i])));
                }
                out.push(doc);
            }
            start = end;
        }
        Ok(out)
    }
}

fn partition_is_array() -> QueryError {
    QueryError::new(
        codes::TYPE_MISMATCH,
        "An expression used to partition cannot evaluate to value of type array",
    )
}

fn object_field<'a>(field: &str, v: &'a Bson) -> Result<&'a Document> {
    match v {
        Bson::Document(d) => Ok(d),
        other => err(
            codes::TYPE_MISMATCH,
            format!(
                "BSON field '{STAGE}.{field}' is the wrong type '{}', expected type 'object'",
                crate::types::type_name(other)
            ),
        ),
    }
}

impl WindowFunction {
    /// Parses one output field's `{$function: ..., window: {...}}`.
    fn parse(
        field: &str,
        spec: &Document,
        sort_by: Option<&SortSpec>,
        vars: &[String],
    ) -> Result<WindowFunction> {
        let Some((name, arg)) = spec.iter().find(|(k, _)| k.starts_with('$')) else {
            let first = spec.keys().next().map(|k| format!(", {k}")).unwrap_or_default();
            return failed_to_parse(format!("Expected a $-prefixed window function{first}"));
        };
        if !is_window_function(name) {
            return failed_to_parse(format!("Unrecognized window function, {name}"));
        }
        let mut window = None;
        for (k, v) in spec {
            if k == "window" {
                window = Some(parse_window(v, sort_by)?);
            } else if is_window_function(k) {
                if k != name {
                    return failed_to_parse("Cannot specify two functions in window function spec");
                }
            } else {
                return failed_to_parse(format!("Window function found an unknown argument: {k}"));
            }
        }
        let one_sort_key = sort_by.is_some_and(|s| s.fields().count() == 1);
        let refuse_window = |what: &str| -> Result<()> {
            if spec.contains_key("window") {
                return failed_to_parse(format!("'window' field is not allowed in {what}"));
            }
            Ok(())
        };
        Ok(match name.as_str() {
            "$rank" | "$denseRank" | "$documentNumber" => {
                if spec.len() != 1 {
                    return err(codes::L5371601, "Rank style window functions take no other arguments");
                }
                if !matches!(arg, Bson::Document(d) if d.is_empty()) {
                    return err(
                        codes::L5371603,
                        format!("{name} must be specified with '{{}}' as the value"),
                    );
                }
                if !one_sort_key {
                    return err(
                        codes::L5371602,
                        format!("{name} must be specified with a top level sortBy expression with exactly one element"),
                    );
                }
                WindowFunction::Rank(match name.as_str() {
                    "$rank" => RankKind::Rank,
                    "$denseRank" => RankKind::DenseRank,
                    _ => RankKind::DocumentNumber,
                })
            }
            "$shift" => {
                refuse_window("$shift")?;
                if sort_by.is_none() {
                    return failed_to_parse("$shift requires a sortBy");
                }
                parse_shift(arg, vars)?
            }
            "$locf" => {
                refuse_window("$locf")?;
                WindowFunction::Locf(Expression::parse_with_vars(arg, vars)?)
            }
            "$linearFill" => {
                refuse_window("$linearFill")?;
                if sort_by.is_none() {
                    return err(super::fill::L605001, "$linearFill requires an explicit 'sortBy'");
                }
                if !one_sort_key {
                    return err(super::fill::L605002, "$linearFill requires a sortBy with exactly one field");
                }
                WindowFunction::LinearFill(Expression::parse_with_vars(arg, vars)?)
            }
            "$expMovingAvg" => {
                refuse_window("$expMovingAvg")?;
                if sort_by.is_none() {
                    return failed_to_parse("$expMovingAvg requires an explicit 'sortBy'");
                }
                parse_exp_moving_avg(arg, vars)?
            }
            "$covariancePop" | "$covarianceSamp" => WindowFunction::Covariance {
                pair: Expression::parse_with_vars(arg, vars)?,
                sample: name == "$covarianceSamp",
                window: window.unwrap_or(Window::WHOLE),
            },
            "$derivative" | "$integral" => {
                let Some(sort) = sort_by else { return failed_to_parse(format!("{name} requires a sortBy")) };
                if sort.fields().count() != 1 {
                    return failed_to_parse(format!("{name} requires a non-compound sortBy"));
                }
                let (input, unit_ms) = parse_with_unit(name, arg, vars)?;
                if name == "$derivative" {
                    let Some(window) = window else {
                        return failed_to_parse("$derivative requires explicit window bounds");
                    };
                    WindowFunction::Derivative { input, unit_ms, window }
                } else {
                    WindowFunction::Integral { input, unit_ms, window: window.unwrap_or(Window::WHOLE) }
                }
            }
            _ => {
                let single = Bson::Document(bson::doc! {name.as_str(): arg.clone()});
                let acc = Accumulator::parse(field, &single, vars)?;
                WindowFunction::Accumulate { acc, window: window.unwrap_or(Window::WHOLE) }
            }
        })
    }
}

fn parse_shift(arg: &Bson, vars: &[String]) -> Result<WindowFunction> {
    let Bson::Document(d) = arg else {
        return failed_to_parse("Argument to $shift must be an object");
    };
    let (mut output, mut by, mut default) = (None, None, Bson::Null);
    for (k, v) in d {
        match k.as_str() {
            "output" => output = Some(Expression::parse_with_vars(v, vars)?),
            "by" => match crate::numeric::to_exact_i32(v) {
                Some(n) => by = Some(n as i64),
                None => {
                    return failed_to_parse(format!(
                        "'$shift:by' field must be an integer, but found  {}",
                        crate::display::element("by", v)
                    ))
                }
            },
            "default" => match Expression::parse_with_vars(v, vars)?.as_constant() {
                Some(c) => default = c.clone(),
                None => return failed_to_parse("'$shift:default' expression must yield a constant value."),
            },
            _ => return failed_to_parse("Unknown argument in $shift"),
        }
    }
    let Some(output) = output else { return failed_to_parse("$shift requires an 'output' expression.") };
    let Some(by) = by else { return failed_to_parse("$shift requires 'by' as an integer value.") };
    Ok(WindowFunction::Shift { output, by, default })
}

/// `{input: <expression>, N: <integer>}` or `{input, alpha: <0 < number < 1>}`.
fn parse_exp_moving_avg(arg: &Bson, vars: &[String]) -> Result<WindowFunction> {
    let Bson::Document(d) = arg else {
        return failed_to_parse("$expMovingAvg must have exactly one argument that is an object");
    };
    let (mut input, mut alpha) = (None, None);
    let both = "$expMovingAvg sub object must have exactly two fields: An 'input' field, and either an 'N' field or an 'alpha' field";
    for (k, v) in d {
        match k.as_str() {
            "input" => input = Some(Expression::parse_with_vars(v, vars)?),
            "N" | "alpha" if alpha.is_some() => return failed_to_parse(both),
            "N" => {
                let Some(n) = crate::numeric::to_exact_i64(v) else {
                    return failed_to_parse(format!(
                        "'N' field must be an integer, but found type {}",
                        crate::types::type_name(v)
                    ));
                };
                if n <= 0 {
                    return failed_to_parse(format!("'N' must be greater than zero. Got {n}"));
                }
                alpha = Some(2.0 / (n as f64 + 1.0));
            }
            "alpha" => {
                let Some(a) = crate::numeric::to_f64(v) else {
                    return failed_to_parse("'alpha' must be a number");
                };
                if !(a > 0.0 && a < 1.0) {
                    return failed_to_parse(format!(
                        "'alpha' must be between 0 and 1 (exclusive), found {a}"
                    ));
                }
                alpha = Some(a);
            }
            other => return failed_to_parse(format!("Got unrecognized field in $expMovingAvg: {other}")),
        }
    }
    match (input, alpha) {
        (Some(input), Some(alpha)) => Ok(WindowFunction::ExpMovingAvg { input, alpha }),
        _ => failed_to_parse(both),
    }
}

/// `{input: <expression>, unit: <time unit>}` of `$derivative` and
/// `$integral`; the unit as milliseconds.
fn parse_with_unit(name: &str, arg: &Bson, vars: &[String]) -> Result<(Expression, Option<i64>)> {
    let Bson::Document(d) = arg else {
        return failed_to_parse(format!(
            "{name} expects an object, but got a {}: {}",
            crate::types::type_name(arg),
            crate::display::element(name, arg)
        ));
    };
    let (mut input, mut unit_ms) = (None, None);
    for (k, v) in d {
        match k.as_str() {
            "input" => input = Some(Expression::parse_with_vars(v, vars)?),
            "unit" => {
                let Bson::String(s) = v else {
                    return failed_to_parse(format!(
                        "unit' must be a string, but got {}",
                        crate::types::type_name(v)
                    ));
                };
                match parse_unit(s)?.fixed_millis() {
                    Some(ms) => unit_ms = Some(ms),
                    None => return err(codes::L5490710, "unit must be 'week' or smaller"),
                }
            }
            _ => return failed_to_parse(format!("{name} got unexpected argument: {k}")),
        }
    }
    let Some(input) = input else { return failed_to_parse(format!("{name} requires an 'input' expression")) };
    Ok((input, unit_ms))
}

/// Parses `{documents: [lower, upper]}` or `{range: [lower, upper], unit}`.
fn parse_window(v: &Bson, sort_by: Option<&SortSpec>) -> Result<Window> {
    let Bson::Document(w) = v else { return failed_to_parse("'window' field must be an object") };
    let (documents, range, unit) = (w.get("documents"), w.get("range"), w.get("unit"));
    if documents.is_some() && range.is_some() {
        return failed_to_parse("Window bounds can specify either 'documents' or 'unit', not both.");
    }
    if range.is_none() && unit.is_some() {
        return failed_to_parse("Window bounds can only specify 'unit' with range-based bounds.");
    }
    let pair = |name: &str, e: &Bson| -> Result<(Bson, Bson)> {
        match e {
            Bson::Array(items) if items.len() == 2 => Ok((items[0].clone(), items[1].clone())),
            other => failed_to_parse(format!(
                "Window bounds must be a 2-element array: {}",
                crate::display::element(name, other)
            )),
        }
    };
    if let Some(documents) = documents {
        if w.len() != 1 {
            return failed_to_parse("'window' field that specifies documents cannot have other fields");
        }
        let (l, u) = pair("documents", documents)?;
        let integer = |v: &Bson| -> Result<i64> {
            match crate::numeric::to_exact_i32(v) {
                Some(n) => Ok(n as i64),
                None => failed_to_parse("Numeric document-based bounds must be an integer"),
            }
        };
        let (lower, upper) = (parse_bound(&l, integer)?, parse_bound(&u, integer)?);
        check_forward(lower, upper, 0, |a, b| a <= b, |n| n.to_string())?;
        let unbounded = lower == Bound::Unbounded && upper == Bound::Unbounded;
        if !unbounded && sort_by.is_none() {
            return err(codes::L5339901, "Document-based bounds require a sortBy");
        }
        return Ok(Window::Documents { lower, upper });
    }
    let Some(range) = range else {
        if !w.is_empty() {
            return failed_to_parse(
                "'window' field can only contain 'documents' as the only argument or 'range' with an optional 'unit' field",
            );
        }
        return Ok(Window::WHOLE);
    };
    let (l, u) = pair("range", range)?;
    let (lower, upper, unit) = match unit {
        Some(unit) => {
            if w.len() != 2 {
                return failed_to_parse(
                    "'window' field that specifies unit cannot have other fields besides 'range'",
                );
            }
            let Bson::String(unit) = unit else { return failed_to_parse("'unit' must be a string") };
            let integer = |v: &Bson| -> Result<f64> {
                match crate::numeric::to_exact_i64(v) {
                    Some(n) => Ok(n as f64),
                    None => failed_to_parse("With 'unit', range-based bounds must be an integer"),
                }
            };
            (parse_bound(&l, integer)?, parse_bound(&u, integer)?, Some(parse_unit(unit)?))
        }
        None => {
            if w.len() != 1 {
                return failed_to_parse(
                    "'window' field that specifies range cannot have other fields besides 'unit'",
                );
            }
            let number = |v: &Bson| -> Result<f64> {
                match crate::numeric::to_f64(v) {
                    Some(n) => Ok(n),
                    None => failed_to_parse("Range-based bounds expression must be a number"),
                }
            };
            (parse_bound(&l, number)?, parse_bound(&u, number)?, None)
        }
    };
    check_forward(lower, upper, 0.0, |a, b| a <= b, crate::display::double_g)?;
    let Some(sort) = sort_by.filter(|s| s.fields().count() == 1) else {
        return err(codes::L5339902, "Range-based bounds require sortBy a single field");
    };
    if sort.fields().any(|(_, descending)| descending) {
        return err(codes::L8947401, "Range-based bounds require an ascending sortBy");
    }
    Ok(Window::Range { lower, upper, unit })
}

/// One end of a window: `"unbounded"`, `"current"` or a constant.
fn parse_bound<T>(v: &Bson, value: impl Fn(&Bson) -> Result<T>) -> Result<Bound<T>> {
    match v {
        Bson::String(s) if s == "unbounded" => Ok(Bound::Unbounded),
        Bson::String(s) if s == "current" => Ok(Bound::Current),
        Bson::String(_) => failed_to_parse("Window bounds must be 'unbounded', 'current', or a number."),
        other => match Expression::parse(other)?.as_constant() {
            Some(c) => Ok(Bound::Offset(value(c)?)),
            None => failed_to_parse("Window bounds expression must be a constant."),
        },
    }
}

/// Refuses numeric bounds whose lower end lies above the upper one
/// (`"current"` counting as zero).
fn check_forward<T: Copy>(
    lower: Bound<T>,
    upper: Bound<T>,
    zero: T,
    le: impl Fn(T, T) -> bool,
    show: impl Fn(T) -> String,
) -> Result<()> {
    let numeric = |b: Bound<T>| match b {
        Bound::Current => Some(zero),
        Bound::Offset(n) => Some(n),
        Bound::Unbounded => None,
    };
    if let (Some(l), Some(u)) = (numeric(lower), numeric(upper)) {
        if !le(l, u) {
            return err(
                codes::L5339900,
                format!("Lower bound must not exceed upper bound: [{}, {}]", show(l), show(u)),
            );
        }
    }
    Ok(())
}

/// One partition, in window order, with the `sortBy` key of each document.
struct Partition<'a> {
    docs: &'a [Document],
    keys: &'a [Vec<Bson>],
    stage: &'a SetWindowFields,
    env: &'a Env<'a>,
}

impl Partition<'_> {
    /// The value of a window function for each document.
    fn compute(&self, function: &WindowFunction) -> Result<Vec<Bson>> {
        let n = self.docs.len();
        Ok(match function {
            WindowFunction::Accumulate { acc, window } => {
                let values = self.evaluate(acc.expression())?;
                let spans = self.spans(window)?;
                // `n` cannot depend on a group key here: it is evaluated once.
                let fresh = acc.start(&Bson::Null, &self.env.vars)?;
                fold_windows(acc, &fresh, &values, &spans)?
            }
            WindowFunction::Rank(kind) => self.ranks(*kind),
            WindowFunction::Shift { output, by, default } => {
                let mut out = Vec::with_capacity(n);
                for i in 0..n as i64 {
                    let target = i + by;
                    out.push(if (0..n as i64).contains(&target) {
                        output.evaluate(&self.docs[target as usize], &self.env.vars)?.unwrap_or(Bson::Null)
                    } else {
                        default.clone()
                    });
                }
                out
            }
            WindowFunction::Locf(input) => {
                let mut last = Bson::Null;
                let mut out = Vec::with_capacity(n);
                for v in self.evaluate(input)? {
                    if !crate::expr::nullish(&v) {
                        last = v.unwrap_or(Bson::Null);
                    }
                    out.push(last.clone());
                }
                out
            }
            WindowFunction::LinearFill(input) => {
                let xs: Vec<Value> = self.sort_values()?.into_iter().map(Some).collect();
                super::fill::linear(&xs, self.evaluate(input)?)?
            }
            WindowFunction::ExpMovingAvg { input, alpha } => exp_moving_avg(self.evaluate(input)?, *alpha),
            WindowFunction::Covariance { pair, sample, window } => {
                covariances(&self.evaluate(pair)?, &self.spans(window)?, *sample)
            }
            WindowFunction::Derivative { input, unit_ms, window } => {
                let ys = self.evaluate(input)?;
                let xs = self.sort_values()?;
                let mut out = Vec::with_capacity(n);
                for span in self.spans(window)? {
                    out.push(match span {
                        Some((lo, hi)) if lo < hi => {
                            derivative((&xs[lo], &ys[lo]), (&xs[hi], &ys[hi]), *unit_ms)?
                        }
                        _ => Bson::Null,
                    });
                }
                out
            }
            WindowFunction::Integral { input, unit_ms, window } => {
                let ys = self.evaluate(input)?;
                let xs = self.sort_values()?;
                let mut out = Vec::with_capacity(n);
                for span in self.spans(window)? {
                    out.push(match span {
                        Some((lo, hi)) => integral(&xs[lo..=hi], &ys[lo..=hi], *unit_ms)?,
                        None => Bson::Null,
                    });
                }
                out
            }
        })
    }

    fn evaluate(&self, e: &Expression) -> Result<Vec<Value>> {
        self.docs.iter().map(|d| e.evaluate(d, &self.env.vars)).collect()
    }

    /// The `sortBy` field's value of each document (missing as null).
    fn sort_values(&self) -> Result<Vec<Bson>> {
        match &self.stage.sort_field {
            Some(e) => Ok(self.evaluate(e)?.into_iter().map(|v| v.unwrap_or(Bson::Null)).collect()),
            None => Ok(vec![Bson::Null; self.docs.len()]),
        }
    }

    /// `$rank` (ties share a rank, then a gap), `$denseRank` (no gap),
    /// `$documentNumber` (position); ties are equal sort keys.
    fn ranks(&self, kind: RankKind) -> Vec<Bson> {
        let sort = self.stage.sort_by.as_ref();
        let mut out = Vec::with_capacity(self.docs.len());
        let (mut rank, mut dense) = (0i64, 0i64);
        for i in 0..self.docs.len() {
            let tie = i > 0 && sort.is_some_and(|s| s.compare_keys(&self.keys[i - 1], &self.keys[i]).is_eq());
            if !tie {
                rank = i as i64 + 1;
                dense += 1;
            }
            out.push(crate::expr::arith_int_or_long(match kind {
                RankKind::Rank => rank,
                RankKind::DenseRank => dense,
                RankKind::DocumentNumber => i as i64 + 1,
            }));
        }
        out
    }

    /// The inclusive span of positions in each document's window, `None`
    /// when the window is empty.
    fn spans(&self, window: &Window) -> Result<Vec<Option<(usize, usize)>>> {
        let n = self.docs.len() as i64;
        let clamp = |lo: i64, hi: i64| -> Option<(usize, usize)> {
            let (lo, hi) = (lo.max(0), hi.min(n - 1));
            (lo <= hi).then_some((lo as usize, hi as usize))
        };
        match window {
            Window::Documents { lower, upper } => Ok((0..n)
                .map(|i| {
                    let at = |b: &Bound<i64>, unbounded: i64| match b {
                        Bound::Unbounded => unbounded,
                        Bound::Current => i,
                        Bound::Offset(k) => i.saturating_add(*k),
                    };
                    clamp(at(lower, 0), at(upper, n - 1))
                })
                .collect()),
            Window::Range { lower, upper, unit } => {
                let positions = self.range_positions(*unit)?;
                Ok(positions
                    .iter()
                    .map(|&base| {
                        let shifted = |offset: f64| match unit {
                            Some(u) => add_units(*u, base as i64, offset as i64) as f64,
                            None => base + offset,
                        };
                        let lo = match lower {
                            Bound::Unbounded => 0,
                            Bound::Current => positions.partition_point(|&p| p < base),
                            Bound::Offset(d) => positions.partition_point(|&p| p < shifted(*d)),
                        } as i64;
                        let hi = match upper {
                            Bound::Unbounded => n as usize,
                            Bound::Current => positions.partition_point(|&p| p <= base),
                            Bound::Offset(d) => positions.partition_point(|&p| p <= shifted(*d)),
                        } as i64
                            - 1;
                        clamp(lo, hi)
                    })
                    .collect())
            }
        }
    }

    /// Each document's place on a range window's axis: its `sortBy` number,
    /// or with a unit its date in milliseconds.
    fn range_positions(&self, unit: Option<TimeUnit>) -> Result<Vec<f64>> {
        self.sort_values()?
            .iter()
            .map(|v| match (unit, v) {
                (Some(_), Bson::DateTime(d)) => Ok(d.timestamp_millis() as f64),
                (Some(_), other) => err(
                    codes::L5429513,
                    format!(
                        "Invalid range: Expected the sortBy field to be a Date, but it was {}",
                        crate::types::type_name(other)
                    ),
                ),
                (None, Bson::DateTime(_)) => err(
                    codes::L5429413,
                    "Invalid range: For windows that involve date or time ranges, a unit must be provided.",
                ),
                (None, other) => match crate::numeric::to_f64(other) {
                    Some(x) => Ok(x),
                    None => err(
                        codes::L5429414,
                        format!(
                            "Invalid range: Expected the sortBy field to be a number, but it was {}",
                            crate::types::type_name(other)
                        ),
                    ),
                },
            })
            .collect()
    }
}

/// Folds an accumulator over each document's window, carrying the state
/// forward while the window's lower end does not move.
fn fold_windows(
    acc: &Accumulator,
    fresh: &AccState,
    values: &[Value],
    spans: &[Option<(usize, usize)>],
) -> Result<Vec<Bson>> {
    let mut out = Vec::with_capacity(spans.len());
    // (lower end, next position to add, state)
    let mut running: Option<(usize, usize, AccState)> = None;
    for span in spans {
        let Some((lo, hi)) = *span else {
            out.push(acc.finish(fresh.clone())?);
            continue;
        };
        let reusable = matches!(&running, Some((l, next, _)) if *l == lo && *next <= hi + 1);
        if !reusable {
            running = Some((lo, lo, fresh.clone()));
        }
        let (_, next, state) = running.as_mut().expect("set above");
        while *next <= hi {
            acc.accumulate(state, values[*next].clone())?;
            *next += 1;
        }
        out.push(acc.finish(state.clone())?);
    }
    Ok(out)
}

/// The exponential moving average at each document: non-numbers are
/// skipped (the previous average stays), the first number is taken as it
/// is, later ones are doubles, or decimals once a decimal was seen.
fn exp_moving_avg(values: Vec<Value>, alpha: f64) -> Vec<Bson> {
    let mut current: Option<(f64, Bson)> = None;
    let mut decimal = false;
    values
        .into_iter()
        .map(|v| {
            let Some(x) =
                v.as_ref().filter(|v| crate::numeric::is_number(v)).and_then(crate::numeric::to_f64)
            else {
                return current.as_ref().map_or(Bson::Null, |(_, out)| out.clone());
            };
            decimal |= matches!(v, Some(Bson::Decimal128(_)));
            let next = match &current {
                None => (x, v.expect("a number")),
                Some((previous, _)) => {
                    let avg = x * alpha + previous * (1.0 - alpha);
                    let out = match decimal {
                        true => Bson::Decimal128(crate::numeric::decimal_from_f64(avg)),
                        false => Bson::Double(avg),
                    };
                    (avg, out)
                }
            };
            current = Some(next);
            current.as_ref().expect("set").1.clone()
        })
        .collect()
}

/// `$covariancePop`/`$covarianceSamp` of each window, from prefix sums of
/// the numeric `[x, y]` pairs (other inputs are skipped): null without a
/// pair (a sample needs two).
fn covariances(pairs: &[Value], spans: &[Option<(usize, usize)>], sample: bool) -> Vec<Bson> {
    let number = |v: &Bson| crate::numeric::is_number(v).then(|| crate::numeric::to_f64(v)).flatten();
    let numeric_pair = |p: &Value| match p {
        Some(Bson::Array(a)) => match a.as_slice() {
            [x, y] => number(x).zip(number(y)),
            _ => None,
        },
        _ => None,
    };
    // Covariance does not change when both axes are shifted; shifting by
    // the first pair keeps the sums small (no cancellation for values
    // like timestamps).
    let (kx, ky) = pairs.iter().find_map(numeric_pair).unwrap_or((0.0, 0.0));
    // prefix[i] = (count, Σx, Σy, Σxy) over pairs[..i], shifted
    let mut prefix = Vec::with_capacity(pairs.len() + 1);
    let mut sums = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    prefix.push(sums);
    for p in pairs {
        if let Some((x, y)) = numeric_pair(p) {
            let (x, y) = (x - kx, y - ky);
            sums = (sums.0 + 1.0, sums.1 + x, sums.2 + y, sums.3 + x * y);
        }
        prefix.push(sums);
    }
    spans
        .iter()
        .map(|span| {
            let Some((lo, hi)) = *span else { return Bson::Null };
            let (a, b) = (prefix[lo], prefix[hi + 1]);
            let (n, sx, sy, sxy) = (b.0 - a.0, b.1 - a.1, b.2 - a.2, b.3 - a.3);
            let divisor = if sample { n - 1.0 } else { n };
            if n == 0.0 || divisor <= 0.0 {
                return Bson::Null;
            }
            Bson::Double((sxy - sx * sy / n) / divisor)
        })
        .collect()
}

/// A point's x for `$derivative`/`$integral`: a number without a unit, a
/// date (in units) with one.
fn axis(x: &Bson, unit_ms: Option<i64>, function: &str) -> Result<f64> {
    let derivative = function == "$derivative";
    match (unit_ms, x) {
        (Some(ms), Bson::DateTime(d)) => Ok(d.timestamp_millis() as f64 / ms as f64),
        (Some(_), _) if derivative => {
            err(codes::L5624900, "$derivative with 'unit' expects the sortBy field to be a Date")
        }
        (Some(_), _) => err(codes::L5423901, "$integral with 'unit' expects the sortBy field to be a Date"),
        (None, Bson::DateTime(_)) if derivative => {
            err(codes::L5624901, "$derivative where the sortBy is a Date requires an 'unit'")
        }
        (None, other) => match crate::numeric::to_f64(other) {
            Some(v) => Ok(v),
            None if derivative => {
                err(codes::L5624901, "$derivative where the sortBy is a Date requires an 'unit'")
            }
            None => err(codes::L5423902, "$integral (with no 'unit') expects the sortBy field to be numeric"),
        },
    }
}

/// The slope between the first and last points of the window; null when
/// an input is not a number or both points share an x.
fn derivative(first: (&Bson, &Value), last: (&Bson, &Value), unit_ms: Option<i64>) -> Result<Bson> {
    let (x0, x1) = (axis(first.0, unit_ms, "$derivative")?, axis(last.0, unit_ms, "$derivative")?);
    let number = |v: &Value| v.as_ref().and_then(crate::numeric::to_f64);
    Ok(match (number(first.1), number(last.1)) {
        (Some(y0), Some(y1)) if x1 != x0 => Bson::Double((y1 - y0) / (x1 - x0)),
        _ => Bson::Null,
    })
}

/// The area under the window's points by the trapezoidal rule; points
/// whose input is not a number are skipped.
fn integral(xs: &[Bson], ys: &[Value], unit_ms: Option<i64>) -> Result<Bson> {
    let mut area = 0.0;
    let mut previous: Option<(f64, f64)> = None;
    for (x, y) in xs.iter().zip(ys) {
        let x = axis(x, unit_ms, "$integral")?;
        let Some(y) = y.as_ref().and_then(crate::numeric::to_f64) else { continue };
        if let Some((px, py)) = previous {
            area += (x - px) * (y + py) / 2.0;
        }
        previous = Some((x, y));
    }
    Ok(Bson::Double(area))
}

/// A stage's `sortBy` (`$setWindowFields`, `$fill`): the sort, and its
/// field as an expression when it has exactly one (what ranges and
/// interpolation read).
pub(crate) fn parse_sort_by(sort_by: Option<&Document>) -> Result<(Option<SortSpec>, Option<Expression>)> {
    let sort_by = match sort_by {
        None => None,
        Some(d) if d.is_empty() => {
            return err(codes::L15976, "$sort stage must have at least one sort key");
        }
        Some(d) => Some(SortSpec::parse(d)?),
    };
    let sort_field = match &sort_by {
        Some(s) if s.fields().count() == 1 => {
            let (path, _) = s.fields().next().expect("one key");
            Some(Expression::parse(&Bson::String(format!("${path}")))?)
        }
        _ => None,
    };
    Ok((sort_by, sort_field))
}
