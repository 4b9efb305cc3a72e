//! `$group` accumulators: `$sum`, `$avg`, `$min`, `$max`, `$first`,
//! `$last`, `$push`, `$addToSet`, `$count`, `$mergeObjects`, `$stdDevPop`,
//! `$stdDevSamp`.

use std::collections::HashSet;

use argon_types::keycodec;
use bson::{Bson, Document};

use crate::compare::compare;
use crate::error::{codes, err, Result};
use crate::expr::{Expression, Value};
use crate::numeric::{decimal_from_f64, Num};

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
            _ => return None,
        })
    }
}

/// One output field of `$group`: `name: {$op: expression}`.
#[derive(Clone, Debug)]
pub(crate) struct Accumulator {
    pub(crate) field: String,
    kind: AccKind,
    expr: Expression,
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
            });
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
        Ok(Accumulator { field: field.to_string(), kind, expr: Expression::parse_with_vars(arg, vars)? })
    }

    pub(crate) fn expression(&self) -> &Expression {
        &self.expr
    }

    pub(crate) fn new_state(&self) -> AccState {
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
        }
    }

    /// Folds one evaluated value into the state.
    pub(crate) fn accumulate(&self, state: &mut AccState, v: Value) -> Result<()> {
        match state {
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
                    if seen.insert(keycodec::encode(&v)) {
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
        }
        Ok(())
    }

    /// The accumulated result.
    pub(crate) fn finish(&self, state: AccState) -> Bson {
        match state {
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
        }
    }
}

/// The running state of one accumulator for one group.
#[derive(Clone, Debug)]
pub(crate) enum AccState {
    Sum(Num),
    Avg { sum: Num, count: u64, decimal: bool },
    Best(Option<Bson>),
    First(Option<Bson>),
    Last(Bson),
    Push(Vec<Bson>),
    AddToSet(HashSet<Vec<u8>>, Vec<Bson>),
    Merge(Document),
    StdDev { count: u64, mean: f64, m2: f64 },
}
