//! `$group` accumulators: `$sum`, `$avg`, `$min`, `$max`, `$first`,
//! `$last`, `$push`, `$addToSet`, `$count`, `$mergeObjects`, `$stdDevPop`,
//! `$stdDevSamp`, and the ones keeping several values: `$firstN`,
//! `$lastN`, `$minN`, `$maxN`, `$top`, `$bottom`, `$topN`, `$bottomN`;
//! `$percentile` and `$median` (computed exactly, see `expr::percentile`).
//!
//! The `n` of the several-value accumulators is evaluated once per group,
//! against the group's `_id` when it is a document (so `n` may depend on
//! the key, as MongoDB allows), otherwise against an empty document.

use std::collections::{HashSet, VecDeque};

use bson::{Bson, Document};

use crate::compare::compare;
use crate::error::{codes, err, QueryError, Result};
use crate::expr::array::{parse_n_args, validate_n};
use crate::expr::percentile::{numeric, Quantiles};
use crate::expr::{Expression, Value, Vars};
use crate::numeric::{decimal_from_f64, Num};
use crate::sort::SortSpec;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AccKind {
    Sum,
    Avg,
    Min,
    Max,
    First,
    Last,
    Push,
    AddToSet,
    MergeObjects,
    StdDevPop,
    StdDevSamp,
    FirstN,
    LastN,
    MinN,
    MaxN,
    /// `$percentile`, `$median`.
    Quantiles,
    /// `$top`/`$topN` (`bottom: false`) and `$bottom`/`$bottomN`; `single`
    /// for the forms that give one value rather than an array.
    TopBottom {
        bottom: bool,
        single: bool,
    },
    /// `$accumulator`: JavaScript functions (see [`JsAccumulator`]).
    Js,
}

impl AccKind {
    fn from_name(name: &str) -> Option<AccKind> {
        Some(match name {
            "$sum" | "$count" => AccKind::Sum,
            "$avg" => AccKind::Avg,
            "$min" => AccKind::Min,
            "$max" => AccKind::Max,
            "$first" => AccKind::First,
            "$last" => AccKind::Last,
            "$push" => AccKind::Push,
            "$addToSet" => AccKind::AddToSet,
            "$mergeObjects" => AccKind::MergeObjects,
            "$stdDevPop" => AccKind::StdDevPop,
            "$stdDevSamp" => AccKind::StdDevSamp,
            "$percentile" | "$median" => AccKind::Quantiles,
            "$firstN" => AccKind::FirstN,
            "$lastN" => AccKind::LastN,
            "$minN" => AccKind::MinN,
            "$maxN" => AccKind::MaxN,
            "$top" => AccKind::TopBottom { bottom: false, single: true },
            "$topN" => AccKind::TopBottom { bottom: false, single: false },
            "$bottom" => AccKind::TopBottom { bottom: true, single: true },
            "$bottomN" => AccKind::TopBottom { bottom: true, single: false },
            "$accumulator" => AccKind::Js,
            _ => return None,
        })
    }
}

/// The prefix of the fields holding the sort values in the evaluated
/// argument of `$top`/`$bottom` (`{output: ..., sortFields0: "$a", ...}`).
const SORT_FIELDS: &str = "sortFields";

/// One output field of `$group`: `name: {$op: expression}`.
#[derive(Clone, Debug)]
pub(crate) struct Accumulator {
    pub(crate) field: String,
    kind: AccKind,
    expr: Expression,
    /// `n` of the several-value accumulators.
    n: Option<Expression>,
    /// `sortBy` of `$top`/`$bottom`, over the `sortFields<i>` of `expr`.
    sort: Option<SortSpec>,
    /// What `$percentile`/`$median` compute.
    quantiles: Option<Quantiles>,
    /// The functions of `$accumulator` (its `accumulateArgs` are `expr`).
    js: Option<Box<JsAccumulator>>,
}

/// `{$accumulator: {init, initArgs, accumulate, accumulateArgs, merge,
/// finalize, lang: "js"}}`: the state starts as `init(...initArgs)`
/// (`initArgs` evaluated against the group's `_id`), each document makes
/// it `accumulate(state, ...accumulateArgs)`, and the result is
/// `finalize(state)` (or the state). Argon groups in one pass, so `merge`
/// (required, as in MongoDB) is never called.
#[derive(Clone, Debug)]
pub(crate) struct JsAccumulator {
    init: crate::js::JsFunction,
    init_args: Option<Expression>,
    accumulate: crate::js::JsFunction,
    finalize: Option<crate::js::JsFunction>,
}

impl JsAccumulator {
    /// Parses the argument; returns it with the `accumulateArgs` array.
    fn parse(arg: &Bson, vars: &[String]) -> Result<(JsAccumulator, Expression)> {
        let Bson::Document(d) = arg else {
            return err(codes::L4544702, "$accumulator expects an object as an argument");
        };
        let function = |name: &str| -> Result<Option<crate::js::JsFunction>> {
            d.get(name)
                .map(|v| crate::js::JsFunction::parse(v, &format!("$accumulator's {name}")))
                .transpose()
        };
        let args = |name: &str| -> Result<Option<Expression>> {
            match d.get(name) {
                None => Ok(None),
                Some(v @ Bson::Array(_)) => Expression::parse_with_vars(v, vars).map(Some),
                Some(_) => err(codes::L4544711, format!("$accumulator's {name} must be an array")),
            }
        };
        for key in d.keys() {
            if !["init", "initArgs", "accumulate", "accumulateArgs", "merge", "finalize", "lang"]
                .contains(&key.as_str())
            {
                return err(codes::L4544712, format!("$accumulator got an unrecognized field: {key}"));
            }
        }
        if d.get("lang").and_then(Bson::as_str) != Some("js") {
            return err(codes::L31418, "$accumulator only supports language 'js'");
        }
        let missing = |name: &str| {
            QueryError::new(codes::L4544709, format!("$accumulator missing required argument '{name}'"))
        };
        let init = function("init")?.ok_or_else(|| missing("init"))?;
        let accumulate = function("accumulate")?.ok_or_else(|| missing("accumulate"))?;
        function("merge")?.ok_or_else(|| missing("merge"))?;
        let accumulate_args = args("accumulateArgs")?.ok_or_else(|| missing("accumulateArgs"))?;
        Ok((
            JsAccumulator { init, init_args: args("initArgs")?, accumulate, finalize: function("finalize")? },
            accumulate_args,
        ))
    }

    fn start(&self, key: &Bson, vars: &Vars) -> Result<AccState> {
        let empty = Document::new();
        let root = match key {
            Bson::Document(d) => d,
            _ => &empty,
        };
        let args = match &self.init_args {
            Some(e) => match e.evaluate(root, vars)? {
                Some(Bson::Array(a)) => a,
                _ => vec![],
            },
            None => vec![],
        };
        Ok(AccState::Js(self.init.call(None, &args)?.unwrap_or(Bson::Null)))
    }
}

impl Accumulator {
    /// Parses `field: {$op: arg}`.
    pub(crate) fn parse(field: &str, spec: &Bson, vars: &[String]) -> Result<Accumulator> {
        let d = match spec {
            Bson::Document(d) if !d.is_empty() => d,
            _ => return err(codes::L40234, format!("The field '{field}' must be an accumulator object")),
        };
        if d.len() != 1 {
            return err(codes::L40238, format!("The field '{field}' must specify one accumulator"));
        }
        let (name, arg) = d.iter().next().expect("one field");
        let Some(kind) = AccKind::from_name(name) else {
            return err(codes::L15952, format!("unknown group operator '{name}'"));
        };
        if name == "$count" {
            if !matches!(arg, Bson::Document(a) if a.is_empty()) {
                return err(codes::TYPE_MISMATCH, "$count takes no arguments, i.e. $count:{}");
            }
            return Ok(Accumulator {
                field: field.to_string(),
                kind,
                expr: Expression::parse(&Bson::Int32(1))?,
                n: None,
                sort: None,
                quantiles: None,
                js: None,
            });
        }
        match kind {
            AccKind::Quantiles => {
                let not_object = if name == "$median" { codes::L7436100 } else { codes::L7429703 };
                let (input, p, method) = crate::expr::percentile::parse_spec(name, arg, not_object)?;
                let p_value = p.map(|p| Expression::parse_with_vars(p, vars)).transpose()?;
                let quantiles =
                    Quantiles::new(p, p_value.as_ref().and_then(Expression::as_constant), method)?;
                return Ok(Accumulator {
                    field: field.to_string(),
                    kind,
                    expr: Expression::parse_with_vars(input, vars)?,
                    n: None,
                    sort: None,
                    quantiles: Some(quantiles),
                    js: None,
                });
            }
            AccKind::FirstN | AccKind::LastN | AccKind::MinN | AccKind::MaxN => {
                let (n, input) = parse_n_args(name, arg)?;
                return Ok(Accumulator {
                    field: field.to_string(),
                    kind,
                    expr: Expression::parse_with_vars(input, vars)?,
                    n: Some(Expression::parse_with_vars(n, vars)?),
                    sort: None,
                    quantiles: None,
                    js: None,
                });
            }
            AccKind::TopBottom { single, .. } => {
                return Self::parse_top_bottom(field, name, kind, single, arg, vars)
            }
            AccKind::Js => {
                let (js, accumulate_args) = JsAccumulator::parse(arg, vars)?;
                return Ok(Accumulator {
                    field: field.to_string(),
                    kind,
                    expr: accumulate_args,
                    n: None,
                    sort: None,
                    quantiles: None,
                    js: Some(Box::new(js)),
                });
            }
            _ => {}
        }
        if let Bson::Array(items) = arg {
            if items.len() != 1 {
                return err(codes::L40237, format!("The {name} accumulator is a unary operator"));
            }
        }
        let arg = match arg {
            Bson::Array(items) => &items[0],
            other => other,
        };
        Ok(Accumulator {
            field: field.to_string(),
            kind,
            expr: Expression::parse_with_vars(arg, vars)?,
            n: None,
            sort: None,
            quantiles: None,
            js: None,
        })
    }

    /// `{output, sortBy, n}` (no `n` for `$top`/`$bottom`). As MongoDB
    /// does, the argument evaluated per document is `{output: <output>,
    /// sortFields0: "$<first sort path>", ...}`, so only the sort values
    /// are kept, and `sortBy` is applied to those fields.
    fn parse_top_bottom(
        field: &str,
        name: &str,
        kind: AccKind,
        single: bool,
        arg: &Bson,
        vars: &[String],
    ) -> Result<Accumulator> {
        let Bson::Document(d) = arg else {
            return err(
                codes::L5788001,
                format!(
                    "specification must be an object; found {}",
                    crate::display::element(&name[1..], arg)
                ),
            );
        };
        let (mut n, mut output, mut sort_by) = (None, None, None);
        for (k, v) in d {
            match k.as_str() {
                "n" if !single => n = Some(v),
                "output" => output = Some(v),
                "sortBy" => match v {
                    Bson::Document(s) => sort_by = Some(s),
                    _ => return err(codes::L10065, "invalid parameter: expected an object (sortBy)"),
                },
                _ => return err(codes::L5788002, format!("Unknown argument to {name} '{k}'")),
            }
        }
        let n = match n {
            Some(n) => n.clone(),
            None if single => Bson::Int32(1),
            None => return err(codes::L5788003, "Missing value for 'n'"),
        };
        let Some(output) = output else { return err(codes::L5788004, "Missing value for 'output'") };
        let Some(sort_by) = sort_by else { return err(codes::L5788005, "Missing value for 'sortBy'") };
        let spec = SortSpec::parse(sort_by)?;
        let mut argument = Document::new();
        argument.insert("output", output.clone());
        let mut internal_sort = Document::new();
        for (i, (path, descending)) in spec.fields().enumerate() {
            argument.insert(format!("{SORT_FIELDS}{i}"), format!("${path}"));
            internal_sort.insert(format!("{SORT_FIELDS}{i}"), if descending { -1 } else { 1 });
        }
        Ok(Accumulator {
            field: field.to_string(),
            kind,
            expr: Expression::parse_with_vars(&Bson::Document(argument), vars)?,
            n: Some(Expression::parse_with_vars(&n, vars)?),
            sort: Some(SortSpec::parse(&internal_sort)?),
            quantiles: None,
            js: None,
        })
    }

    pub(crate) fn expression(&self) -> &Expression {
        &self.expr
    }

    /// The state of a new group whose `_id` is `key` (the several-value
    /// accumulators evaluate their `n` here).
    pub(crate) fn start(&self, key: &Bson, vars: &Vars) -> Result<AccState> {
        if let Some(js) = &self.js {
            return js.start(key, vars);
        }
        let Some(n_expr) = &self.n else { return Ok(self.new_state()) };
        let empty = Document::new();
        let root = match key {
            Bson::Document(d) => d,
            _ => &empty,
        };
        let n = validate_n(&n_expr.evaluate(root, vars)?)?;
        Ok(match self.kind {
            AccKind::FirstN => AccState::FirstN { n, items: Vec::new() },
            AccKind::LastN => AccState::LastN { n, items: VecDeque::new() },
            AccKind::MinN | AccKind::MaxN => AccState::MinMaxN { n, items: Vec::new() },
            _ => AccState::TopBottom { n, items: Vec::new() },
        })
    }

    fn new_state(&self) -> AccState {
        match self.kind {
            AccKind::Sum => AccState::Sum(Num::Int(0)),
            AccKind::Avg => AccState::Avg { sum: Num::Int(0), count: 0, decimal: false },
            AccKind::Min | AccKind::Max => AccState::Best(None),
            AccKind::First => AccState::First(None),
            AccKind::Last => AccState::Last(Bson::Null),
            AccKind::Push => AccState::Push(Vec::new()),
            AccKind::AddToSet => AccState::AddToSet(HashSet::new(), Vec::new()),
            AccKind::MergeObjects => AccState::Merge(Document::new()),
            AccKind::StdDevPop | AccKind::StdDevSamp => AccState::StdDev { count: 0, mean: 0.0, m2: 0.0 },
            AccKind::Quantiles => AccState::Quantiles(Vec::new()),
            AccKind::FirstN
            | AccKind::LastN
            | AccKind::MinN
            | AccKind::MaxN
            | AccKind::TopBottom { .. }
            | AccKind::Js => unreachable!("started in `start`"),
        }
    }

    /// Folds one evaluated value into the state.
    pub(crate) fn accumulate(&self, state: &mut AccState, v: Value) -> Result<()> {
        match state {
            AccState::Js(current) => {
                let js = self.js.as_ref().expect("parsed with functions");
                let mut args = vec![std::mem::take(current)];
                if let Some(Bson::Array(a)) = v {
                    args.extend(a);
                }
                *current = js.accumulate.call(None, &args)?.unwrap_or(Bson::Null);
            }
            AccState::Sum(total) => {
                if let Some(n) = v.as_ref().and_then(Num::from_bson) {
                    *total = *total + n;
                }
            }
            AccState::Avg { sum, count, decimal } => {
                if let Some(n) = v.as_ref().and_then(Num::from_bson) {
                    *decimal |= matches!(n, Num::Decimal(_));
                    *sum = *sum + n;
                    *count += 1;
                }
            }
            AccState::Best(best) => {
                let Some(v) = v else { return Ok(()) };
                if matches!(v, Bson::Null | Bson::Undefined) {
                    return Ok(());
                }
                let replace = match best {
                    None => true,
                    Some(b) => {
                        let ord = compare(&v, b);
                        if self.kind == AccKind::Min {
                            ord.is_lt()
                        } else {
                            ord.is_gt()
                        }
                    }
                };
                if replace {
                    *best = Some(v);
                }
            }
            AccState::First(first) => {
                if first.is_none() {
                    *first = Some(v.unwrap_or(Bson::Null));
                }
            }
            AccState::Last(last) => *last = v.unwrap_or(Bson::Null),
            AccState::Push(items) => {
                if let Some(v) = v {
                    items.push(v);
                }
            }
            AccState::AddToSet(seen, items) => {
                if let Some(v) = v {
                    if seen.insert(crate::compare::value_key(&v)) {
                        items.push(v);
                    }
                }
            }
            AccState::Merge(out) => match v {
                None | Some(Bson::Null) | Some(Bson::Undefined) => {}
                Some(Bson::Document(d)) => {
                    for (k, val) in d {
                        out.insert(k, val);
                    }
                }
                Some(other) => {
                    return err(
                        codes::L40400,
                        format!(
                            "$mergeObjects requires object inputs, but input {} is of type {}",
                            crate::display::value(&other),
                            crate::types::type_name(&other)
                        ),
                    )
                }
            },
            AccState::StdDev { count, mean, m2 } => {
                if let Some(x) = v.as_ref().and_then(crate::numeric::to_f64) {
                    *count += 1;
                    let delta = x - *mean;
                    *mean += delta / *count as f64;
                    *m2 += delta * (x - *mean);
                }
            }
            AccState::Quantiles(values) => {
                if let Some(x) = v.as_ref().and_then(numeric) {
                    values.push(x);
                }
            }
            AccState::FirstN { n, items } => {
                if items.len() < *n {
                    items.push(v.unwrap_or(Bson::Null));
                }
            }
            AccState::LastN { n, items } => {
                if items.len() == *n {
                    items.pop_front();
                }
                items.push_back(v.unwrap_or(Bson::Null));
            }
            AccState::MinMaxN { n, items } => {
                let Some(v) = v.filter(|b| !matches!(b, Bson::Null | Bson::Undefined)) else { return Ok(()) };
                // Kept best first: ascending for $minN, descending for $maxN.
                let max = self.kind == AccKind::MaxN;
                let better =
                    |a: &Bson, b: &Bson| if max { compare(a, b).is_gt() } else { compare(a, b).is_lt() };
                if items.len() == *n && !better(&v, items.last().expect("n > 0")) {
                    return Ok(());
                }
                let at = items.partition_point(|kept| !better(&v, kept));
                items.insert(at, v);
                items.truncate(*n);
            }
            AccState::TopBottom { n, items } => {
                let sort = self.sort.as_ref().expect("parsed with a sortBy");
                let mut fields = match v {
                    Some(Bson::Document(d)) => d,
                    _ => Document::new(),
                };
                let key = sort.sort_key(&fields);
                let output = fields.remove("output").unwrap_or(Bson::Null);
                let bottom = matches!(self.kind, AccKind::TopBottom { bottom: true, .. });
                // Kept in sort order; on ties the value seen first stays.
                if items.len() == *n {
                    let edge = if bottom { &items[0].0 } else { &items[items.len() - 1].0 };
                    let ord = sort.compare_keys(&key, edge);
                    if (bottom && ord.is_le()) || (!bottom && ord.is_ge()) {
                        return Ok(());
                    }
                }
                let at = items.partition_point(|(kept, _)| sort.compare_keys(kept, &key).is_le());
                items.insert(at, (key, output));
                if items.len() > *n {
                    if bottom {
                        items.remove(0);
                    } else {
                        items.pop();
                    }
                }
            }
        }
        Ok(())
    }

    /// The accumulated result.
    pub(crate) fn finish(&self, state: AccState) -> Result<Bson> {
        Ok(match state {
            AccState::Js(state) => match self.js.as_ref().and_then(|js| js.finalize.as_ref()) {
                Some(finalize) => finalize.call(None, &[state])?.unwrap_or(Bson::Null),
                None => state,
            },
            AccState::Sum(total) => total.to_bson(),
            AccState::Avg { sum, count, decimal } => {
                if count == 0 {
                    Bson::Null
                } else {
                    let avg = sum.to_f64() / count as f64;
                    if decimal {
                        Bson::Decimal128(decimal_from_f64(avg))
                    } else {
                        Bson::Double(avg)
                    }
                }
            }
            AccState::Best(best) => best.unwrap_or(Bson::Null),
            AccState::First(first) => first.unwrap_or(Bson::Null),
            AccState::Last(last) => last,
            AccState::Push(items) | AccState::AddToSet(_, items) => Bson::Array(items),
            AccState::Merge(d) => Bson::Document(d),
            AccState::StdDev { count, m2, .. } => {
                let n = match self.kind {
                    AccKind::StdDevPop => count,
                    _ => count.saturating_sub(1),
                };
                if n == 0 {
                    Bson::Null
                } else {
                    Bson::Double((m2 / n as f64).sqrt())
                }
            }
            AccState::Quantiles(values) => {
                self.quantiles.as_ref().expect("parsed with quantiles").finish(values)
            }
            AccState::FirstN { items, .. } | AccState::MinMaxN { items, .. } => Bson::Array(items),
            AccState::LastN { items, .. } => Bson::Array(items.into()),
            AccState::TopBottom { items, .. } => {
                let mut outputs = items.into_iter().map(|(_, output)| output);
                if matches!(self.kind, AccKind::TopBottom { single: true, .. }) {
                    // Only an empty window has nothing.
                    outputs.next().unwrap_or(Bson::Null)
                } else {
                    Bson::Array(outputs.collect())
                }
            }
        })
    }
}

/// The running state of one accumulator for one group.
#[derive(Clone, Debug)]
pub(crate) enum AccState {
    Sum(Num),
    Avg {
        sum: Num,
        count: u64,
        decimal: bool,
    },
    Best(Option<Bson>),
    First(Option<Bson>),
    Last(Bson),
    Push(Vec<Bson>),
    AddToSet(HashSet<Vec<u8>>, Vec<Bson>),
    Merge(Document),
    StdDev {
        count: u64,
        mean: f64,
        m2: f64,
    },
    /// The numeric inputs of `$percentile`/`$median`, as doubles.
    Quantiles(Vec<f64>),
    FirstN {
        n: usize,
        items: Vec<Bson>,
    },
    LastN {
        n: usize,
        items: VecDeque<Bson>,
    },
    /// Best first.
    MinMaxN {
        n: usize,
        items: Vec<Bson>,
    },
    /// (sort key, output) in sort order.
    TopBottom {
        n: usize,
        items: Vec<(Vec<Bson>, Bson)>,
    },
    /// `$accumulator`'s state, as its functions return it.
    Js(Bson),
}
