//! `$percentile` and `$median`, as accumulators (window functions too) and
//! as expressions.
//!
//! MongoDB answers `method: "approximate"` with a t-digest, whose contract
//! is only "close to the true percentile". These compute the true one
//! exactly, by nearest rank over the sorted numeric inputs (the smallest
//! value with at least `p` of the values at or below it), which is what
//! MongoDB's own expression form and its t-digest on small inputs give.
//! `"discrete"` is the same; `"continuous"` interpolates linearly between
//! the two nearest ranks. Non-numeric inputs are ignored; with none left
//! the result is null (`$median`) or an array of nulls (`$percentile`).

use bson::Bson;

use crate::error::{codes, err, Result};

/// How the percentile is computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    /// `"approximate"` and `"discrete"`: nearest rank.
    NearestRank,
    /// `"continuous"`: linear interpolation.
    Continuous,
}

/// A parsed `$percentile`/`$median` specification.
#[derive(Clone, Debug)]
pub(crate) struct Quantiles {
    /// `None` for `$median` (one value, not an array).
    pub(crate) ps: Option<Vec<f64>>,
    pub(crate) method: Method,
}

/// Splits and checks `{input, p, method}` (no `p` for `$median`); returns
/// the `input` to parse and the `p` argument (to be checked constant by
/// the caller, then given to [`Quantiles::new`]).
pub(crate) fn parse_spec<'a>(
    name: &str,
    arg: &'a Bson,
    not_object: crate::error::ErrorCode,
) -> Result<(&'a Bson, Option<&'a Bson>, Method)> {
    let Bson::Document(d) = arg else {
        return err(
            not_object,
            format!("specification must be an object; found {}", crate::display::element(name, arg)),
        );
    };
    let median = name == "$median";
    let (mut input, mut p, mut method) = (None, None, None);
    for (k, v) in d {
        match k.as_str() {
            "input" => input = Some(v),
            "p" if !median => p = Some(v),
            "method" => method = Some(v),
            _ => return err(codes::L40415, format!("BSON field '{name}.{k}' is an unknown field.")),
        }
    }
    let missing = |field: &str| {
        err(codes::L40414, format!("BSON field '{name}.{field}' is missing but a required field"))
    };
    let Some(input) = input else { return missing("input") };
    if p.is_none() && !median {
        return missing("p");
    }
    let Some(method) = method else { return missing("method") };
    let method = match method {
        Bson::String(s) if s == "approximate" || s == "discrete" => Method::NearestRank,
        Bson::String(s) if s == "continuous" => Method::Continuous,
        Bson::String(_) => return err(
            codes::BAD_VALUE,
            "Currently only 'approximate', 'discrete', and 'continuous' can be used as percentile 'method'.",
        ),
        other => {
            return err(
                codes::TYPE_MISMATCH,
                format!(
                    "BSON field '{name}.method' is the wrong type '{}', expected type 'string'",
                    crate::types::type_name(other)
                ),
            )
        }
    };
    Ok((input, p, method))
}

impl Quantiles {
    /// `p` is the constant value of the `p` argument (`None` for `$median`
    /// or when it is not constant).
    pub(crate) fn new(p_arg: Option<&Bson>, p_value: Option<&Bson>, method: Method) -> Result<Quantiles> {
        let Some(p_arg) = p_arg else { return Ok(Quantiles { ps: None, method }) };
        let Some(p) = p_value else {
            return err(
                codes::L7750300,
                format!(
                    "The $percentile 'p' field must be an array of constant values, but found value: {}.",
                    crate::display::value(p_arg)
                ),
            );
        };
        const MSG: &str =
            "The $percentile 'p' field must be an array of numbers from [0.0, 1.0], but found: ";
        let items = match p {
            Bson::Array(items) if !items.is_empty() => items,
            other => return err(codes::L7750301, format!("{MSG}{}", crate::display::value(other))),
        };
        let mut ps = Vec::with_capacity(items.len());
        for item in items {
            let Some(x) = crate::numeric::is_number(item).then(|| crate::numeric::to_f64(item)).flatten()
            else {
                return err(codes::L7750302, format!("{MSG}{}", crate::display::value(item)));
            };
            if !(0.0..=1.0).contains(&x) {
                return err(codes::L7750303, format!("{MSG}{x}"));
            }
            ps.push(x);
        }
        Ok(Quantiles { ps: Some(ps), method })
    }

    /// The result over `values` (sorted here).
    pub(crate) fn finish(&self, mut values: Vec<f64>) -> Bson {
        values.sort_by(f64::total_cmp);
        let one = |p: f64| -> Bson {
            if values.is_empty() {
                return Bson::Null;
            }
            Bson::Double(match self.method {
                Method::NearestRank => values[nearest_rank(values.len(), p)],
                Method::Continuous => interpolate(&values, p),
            })
        };
        match &self.ps {
            None => one(0.5),
            Some(ps) => Bson::Array(ps.iter().map(|p| one(*p)).collect()),
        }
    }

    /// The expression form: a number is every percentile of itself, an
    /// array the percentiles of its numeric elements, anything else none.
    pub(crate) fn of_value(&self, v: Option<&Bson>) -> Bson {
        match v {
            Some(Bson::Array(items)) => self.finish(items.iter().filter_map(numeric).collect()),
            Some(other) => self.finish(numeric(other).into_iter().collect()),
            None => self.finish(Vec::new()),
        }
    }
}

/// A numeric input as a double; other types are ignored.
pub(crate) fn numeric(v: &Bson) -> Option<f64> {
    if crate::numeric::is_number(v) {
        crate::numeric::to_f64(v)
    } else {
        None
    }
}

/// The index of the smallest value with at least `p` of the `n` values at
/// or below it.
fn nearest_rank(n: usize, p: f64) -> usize {
    if p >= 1.0 {
        return n - 1;
    }
    ((n as f64 * p).ceil() as usize).saturating_sub(1)
}

fn interpolate(sorted: &[f64], p: f64) -> f64 {
    let rank = p * (sorted.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    if lo == hi {
        return sorted[lo];
    }
    (hi as f64 - rank) * sorted[lo] + (rank - lo as f64) * sorted[hi]
}
