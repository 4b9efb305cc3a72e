//! `$bucketAuto`: documents sorted by `groupBy` and cut into a number of
//! buckets of about equal size.
//!
//! Each bucket takes `round(n / buckets)` documents (at least one), the
//! last bucket takes whatever remains, and a bucket also absorbs the
//! following documents with the same value as its last one, so equal
//! values never straddle two buckets (and fewer buckets than asked for may
//! come out). A bucket's `_id` is `{min, max}`: `max` is the next bucket's
//! `min` (exclusive), except for the last bucket, whose `max` is its
//! largest value. With a `granularity`, boundaries are rounded outwards to
//! a series of preferred numbers (or powers of two).

use bson::{Bson, Document};

use super::accumulators::{AccState, Accumulator};
use super::{DocStream, Env};
use crate::compare::compare;
use crate::deps::Deps;
use crate::error::{codes, err, Result};
use crate::expr::Expression;
use crate::numeric::decimal_from_f64;

#[derive(Clone, Debug)]
pub(crate) struct BucketAuto {
    group_by: Expression,
    buckets: usize,
    accumulators: Vec<Accumulator>,
    granularity: Option<Granularity>,
}

impl BucketAuto {
    pub(crate) fn parse(spec: &Bson, vars: &[String]) -> Result<BucketAuto> {
        let Bson::Document(d) = spec else {
            return err(
                codes::L40240,
                format!(
                    "The argument to $bucketAuto must be an object, but found type: {}",
                    crate::types::type_name(spec)
                ),
            );
        };
        let (mut group_by, mut buckets, mut output, mut granularity) = (None, None, None, None);
        for (k, v) in d {
            match k.as_str() {
                "groupBy" => {
                    let path = matches!(v, Bson::String(s) if s.len() > 1 && s.starts_with('$'));
                    let expression_object =
                        matches!(v, Bson::Document(o) if o.keys().next().is_some_and(|f| f.starts_with('$')));
                    if !path && !expression_object {
                        return err(
                            codes::L40239,
                            format!(
                                "The $bucketAuto 'groupBy' field must be defined as a $-prefixed path or an expression object, but found: {}",
                                crate::display::value(v)
                            ),
                        );
                    }
                    group_by = Some(Expression::parse_with_vars(v, vars)?);
                }
                "buckets" => {
                    if !crate::numeric::is_number(v) {
                        return err(
                            codes::L40241,
                            format!(
                                "The $bucketAuto 'buckets' field must be a numeric value, but found type: {}",
                                crate::types::type_name(v)
                            ),
                        );
                    }
                    let Some(n) = crate::numeric::to_exact_i32(v) else {
                        return err(
                            codes::L40242,
                            format!(
                                "The $bucketAuto 'buckets' field must be representable as a 32-bit integer, but found {}",
                                crate::display::double_g(crate::numeric::to_f64(v).unwrap_or(f64::NAN))
                            ),
                        );
                    };
                    buckets = Some(n);
                }
                "output" => {
                    let Bson::Document(o) = v else {
                        return err(
                            codes::L40244,
                            format!(
                                "The $bucketAuto 'output' field must be an object, but found type: {}",
                                crate::types::type_name(v)
                            ),
                        );
                    };
                    output = Some(o);
                }
                "granularity" => {
                    let Bson::String(name) = v else {
                        return err(
                            codes::L40261,
                            format!(
                                "The $bucketAuto 'granularity' field must be a string, but found type: {}",
                                crate::types::type_name(v)
                            ),
                        );
                    };
                    granularity = Some(Granularity::named(name)?);
                }
                _ => return err(codes::L40245, format!("Unrecognized option to $bucketAuto: {k}")),
            }
        }
        let (Some(group_by), Some(buckets)) = (group_by, buckets) else {
            return err(codes::L40246, "$bucketAuto requires 'groupBy' and 'buckets' to be specified");
        };
        if buckets <= 0 {
            return err(
                codes::L40243,
                format!("The $bucketAuto 'buckets' field must be greater than 0, but found: {buckets}"),
            );
        }
        let accumulators = match output {
            Some(o) if !o.is_empty() => {
                o.iter().map(|(k, v)| Accumulator::parse(k, v, vars)).collect::<Result<Vec<_>>>()?
            }
            _ => vec![Accumulator::parse("count", &bson::bson!({"$sum": 1}), vars)?],
        };
        Ok(BucketAuto { group_by, buckets: buckets as usize, accumulators, granularity })
    }

    /// The fields of its input the stage reads.
    pub(crate) fn dependencies(&self) -> Deps {
        let mut deps = self.group_by.dependencies().clone();
        for a in &self.accumulators {
            deps.extend(a.expression().dependencies());
        }
        deps
    }

    pub(crate) fn run(&self, input: DocStream<'_>, env: &Env) -> Result<Vec<Document>> {
        let mut keyed: Vec<(Bson, Document)> = Vec::new();
        for doc in input {
            let doc = doc?;
            // Missing groups with null, as in $group.
            let key = self.group_by.evaluate(&doc, &env.vars)?.unwrap_or(Bson::Null);
            if self.granularity.is_some() {
                check_roundable(&key)?;
            }
            keyed.push((key, doc));
        }
        // Stable: documents with equal values keep their input order.
        keyed.sort_by(|a, b| compare(&a.0, &b.0));
        let total = keyed.len();
        let per_bucket = ((total as f64 / self.buckets as f64).round() as usize).max(1);
        let mut sorted = keyed.into_iter().peekable();
        let mut out = Vec::new();
        let mut previous_max: Option<Bson> = None;
        for bucket_number in 1..=self.buckets {
            let Some((first_key, first_doc)) = sorted.next() else { break };
            let mut bucket = OpenBucket {
                min: first_key.clone(),
                max: first_key.clone(),
                states: self
                    .accumulators
                    .iter()
                    .map(|a| a.start(&Bson::Null, &env.vars))
                    .collect::<Result<Vec<_>>>()?,
            };
            if let Some(g) = &self.granularity {
                bucket.min = match previous_max.take() {
                    Some(m) => m,
                    None => g.round_down(&first_key),
                };
            }
            self.add(&mut bucket, first_key, &first_doc, env)?;
            let is_last = bucket_number == self.buckets;
            let mut taken = 1;
            while is_last || taken < per_bucket {
                let Some((key, doc)) = sorted.next() else { break };
                self.add(&mut bucket, key, &doc, env)?;
                taken += 1;
            }
            match &self.granularity {
                None => {
                    while let Some((key, doc)) = sorted.next_if(|(k, _)| compare(k, &bucket.max).is_eq()) {
                        self.add(&mut bucket, key, &doc, env)?;
                    }
                    if let Some((next_key, _)) = sorted.peek() {
                        bucket.max = next_key.clone();
                    }
                }
                Some(g) => {
                    let boundary = g.round_up(&bucket.max);
                    // Values below the rounded boundary belong here too.
                    while let Some((key, doc)) = sorted
                        .next_if(|(k, _)| compare(&boundary, k).is_gt() || compare(k, &bucket.max).is_eq())
                    {
                        self.add(&mut bucket, key, &doc, env)?;
                    }
                    // A bucket of zeros ends where the next one starts,
                    // rounded down, so its max stays exclusive.
                    let zero = crate::numeric::to_f64(&boundary) == Some(0.0);
                    bucket.max = match sorted.peek() {
                        Some((next_key, _)) if zero => g.round_down(next_key),
                        _ => boundary,
                    };
                    previous_max = Some(bucket.max.clone());
                }
            }
            let mut d = Document::new();
            d.insert("_id", bson::doc! {"min": bucket.min, "max": bucket.max});
            for (acc, state) in self.accumulators.iter().zip(bucket.states) {
                d.insert(acc.field.clone(), acc.finish(state)?);
            }
            out.push(d);
        }
        Ok(out)
    }

    fn add(&self, bucket: &mut OpenBucket, key: Bson, doc: &Document, env: &Env) -> Result<()> {
        bucket.max = key;
        for (acc, state) in self.accumulators.iter().zip(bucket.states.iter_mut()) {
            acc.accumulate(state, acc.expression().evaluate(doc, &env.vars)?)?;
        }
        Ok(())
    }
}

struct OpenBucket {
    min: Bson,
    max: Bson,
    states: Vec<AccState>,
}

/// With a granularity, every `groupBy` value must be a non-negative number.
fn check_roundable(key: &Bson) -> Result<()> {
    let Some(x) = crate::numeric::to_f64(key) else {
        return err(
            codes::L40258,
            format!(
                "$bucketAuto can specify a 'granularity' with numeric boundaries only, but found a value with type: {}",
                crate::types::type_name(key)
            ),
        );
    };
    if x.is_nan() {
        return err(
            codes::L40259,
            "$bucketAuto can specify a 'granularity' with numeric boundaries only, but found a NaN",
        );
    }
    if x < 0.0 {
        return err(
            codes::L40260,
            "$bucketAuto can specify a 'granularity' with non-negative numbers only, but found a negative number",
        );
    }
    Ok(())
}

/// A rounding scheme for bucket boundaries.
#[derive(Clone, Copy, Debug)]
enum Granularity {
    /// A preferred-number series for one decade, repeated in every decade
    /// (scaled by powers of ten).
    Series(&'static [f64]),
    PowersOfTwo,
}

// The Renard, E and 1-2-5 preferred-number series, one decade each.
const R5: &[f64] = &[10.0, 16.0, 25.0, 40.0, 63.0];
const R10: &[f64] = &[100.0, 125.0, 160.0, 200.0, 250.0, 315.0, 400.0, 500.0, 630.0, 800.0];
const R20: &[f64] = &[
    100.0, 112.0, 125.0, 140.0, 160.0, 180.0, 200.0, 224.0, 250.0, 280.0, 315.0, 355.0, 400.0, 450.0, 500.0,
    560.0, 630.0, 710.0, 800.0, 900.0,
];
const R40: &[f64] = &[
    100.0, 106.0, 112.0, 118.0, 125.0, 132.0, 140.0, 150.0, 160.0, 170.0, 180.0, 190.0, 200.0, 212.0, 224.0,
    236.0, 250.0, 265.0, 280.0, 300.0, 315.0, 355.0, 375.0, 400.0, 425.0, 450.0, 475.0, 500.0, 530.0, 560.0,
    600.0, 630.0, 670.0, 710.0, 750.0, 800.0, 850.0, 900.0, 950.0,
];
const R80: &[f64] = &[
    103.0, 109.0, 115.0, 122.0, 128.0, 136.0, 145.0, 155.0, 165.0, 175.0, 185.0, 195.0, 206.0, 218.0, 230.0,
    243.0, 258.0, 272.0, 290.0, 307.0, 325.0, 345.0, 365.0, 387.0, 412.0, 437.0, 462.0, 487.0, 515.0, 545.0,
    575.0, 615.0, 650.0, 690.0, 730.0, 775.0, 825.0, 875.0, 925.0, 975.0,
];
const SERIES_1_2_5: &[f64] = &[10.0, 20.0, 50.0];
const E6: &[f64] = &[10.0, 15.0, 22.0, 33.0, 47.0, 68.0];
const E12: &[f64] = &[10.0, 12.0, 15.0, 18.0, 22.0, 27.0, 33.0, 39.0, 47.0, 56.0, 68.0, 82.0];
const E24: &[f64] = &[
    10.0, 11.0, 12.0, 13.0, 15.0, 16.0, 18.0, 20.0, 22.0, 24.0, 27.0, 30.0, 33.0, 36.0, 39.0, 43.0, 47.0,
    51.0, 56.0, 62.0, 68.0, 75.0, 82.0, 91.0,
];
const E48: &[f64] = &[
    100.0, 105.0, 110.0, 115.0, 121.0, 127.0, 133.0, 140.0, 147.0, 154.0, 162.0, 169.0, 178.0, 187.0, 196.0,
    205.0, 215.0, 226.0, 237.0, 249.0, 261.0, 274.0, 287.0, 301.0, 316.0, 332.0, 348.0, 365.0, 383.0, 402.0,
    422.0, 442.0, 464.0, 487.0, 511.0, 536.0, 562.0, 590.0, 619.0, 649.0, 681.0, 715.0, 750.0, 787.0, 825.0,
    866.0, 909.0, 953.0,
];
const E96: &[f64] = &[
    100.0, 102.0, 105.0, 107.0, 110.0, 113.0, 115.0, 118.0, 121.0, 124.0, 127.0, 130.0, 133.0, 137.0, 140.0,
    143.0, 147.0, 150.0, 154.0, 158.0, 162.0, 165.0, 169.0, 174.0, 178.0, 182.0, 187.0, 191.0, 196.0, 200.0,
    205.0, 210.0, 215.0, 221.0, 226.0, 232.0, 237.0, 243.0, 249.0, 255.0, 261.0, 267.0, 274.0, 280.0, 287.0,
    294.0, 301.0, 309.0, 316.0, 324.0, 332.0, 340.0, 348.0, 357.0, 365.0, 374.0, 383.0, 392.0, 402.0, 412.0,
    422.0, 432.0, 442.0, 453.0, 464.0, 475.0, 487.0, 499.0, 511.0, 523.0, 536.0, 549.0, 562.0, 576.0, 590.0,
    604.0, 619.0, 634.0, 649.0, 665.0, 681.0, 698.0, 715.0, 732.0, 750.0, 768.0, 787.0, 806.0, 825.0, 845.0,
    866.0, 887.0, 909.0, 931.0, 953.0, 976.0,
];
const E192: &[f64] = &[
    100.0, 101.0, 102.0, 104.0, 105.0, 106.0, 107.0, 109.0, 110.0, 111.0, 113.0, 114.0, 115.0, 117.0, 118.0,
    120.0, 121.0, 123.0, 124.0, 126.0, 127.0, 129.0, 130.0, 132.0, 133.0, 135.0, 137.0, 138.0, 140.0, 142.0,
    143.0, 145.0, 147.0, 149.0, 150.0, 152.0, 154.0, 156.0, 158.0, 160.0, 162.0, 164.0, 165.0, 167.0, 169.0,
    172.0, 174.0, 176.0, 178.0, 180.0, 182.0, 184.0, 187.0, 189.0, 191.0, 193.0, 196.0, 198.0, 200.0, 203.0,
    205.0, 208.0, 210.0, 213.0, 215.0, 218.0, 221.0, 223.0, 226.0, 229.0, 232.0, 234.0, 237.0, 240.0, 243.0,
    246.0, 249.0, 252.0, 255.0, 258.0, 261.0, 264.0, 267.0, 271.0, 274.0, 277.0, 280.0, 284.0, 287.0, 291.0,
    294.0, 298.0, 301.0, 305.0, 309.0, 312.0, 316.0, 320.0, 324.0, 328.0, 332.0, 336.0, 340.0, 344.0, 348.0,
    352.0, 357.0, 361.0, 365.0, 370.0, 374.0, 379.0, 383.0, 388.0, 392.0, 397.0, 402.0, 407.0, 412.0, 417.0,
    422.0, 427.0, 432.0, 437.0, 442.0, 448.0, 453.0, 459.0, 464.0, 470.0, 475.0, 481.0, 487.0, 493.0, 499.0,
    505.0, 511.0, 517.0, 523.0, 530.0, 536.0, 542.0, 549.0, 556.0, 562.0, 569.0, 576.0, 583.0, 590.0, 597.0,
    604.0, 612.0, 619.0, 626.0, 634.0, 642.0, 649.0, 657.0, 665.0, 673.0, 681.0, 690.0, 698.0, 706.0, 715.0,
    723.0, 732.0, 741.0, 750.0, 759.0, 768.0, 777.0, 787.0, 796.0, 806.0, 816.0, 825.0, 835.0, 845.0, 856.0,
    866.0, 876.0, 887.0, 898.0, 909.0, 920.0, 931.0, 942.0, 953.0, 965.0, 976.0, 988.0,
];

impl Granularity {
    fn named(name: &str) -> Result<Granularity> {
        Ok(Granularity::Series(match name {
            "R5" => R5,
            "R10" => R10,
            "R20" => R20,
            "R40" => R40,
            "R80" => R80,
            "1-2-5" => SERIES_1_2_5,
            "E6" => E6,
            "E12" => E12,
            "E24" => E24,
            "E48" => E48,
            "E96" => E96,
            "E192" => E192,
            "POWERSOF2" => return Ok(Granularity::PowersOfTwo),
            _ => return err(codes::L40257, format!("Unknown rounding granularity '{name}'")),
        }))
    }

    /// The smallest boundary strictly above `v` (zero stays zero).
    fn round_up(self, v: &Bson) -> Bson {
        self.round(v, true)
    }

    /// The largest boundary strictly below `v` (zero stays zero).
    fn round_down(self, v: &Bson) -> Bson {
        self.round(v, false)
    }

    fn round(self, v: &Bson, up: bool) -> Bson {
        let x = crate::numeric::to_f64(v).unwrap_or(0.0);
        // Zero has no neighbour in a geometric series; infinity none above.
        if x == 0.0 || x.is_infinite() {
            return v.clone();
        }
        match self {
            Granularity::Series(series) => {
                let rounded = series_neighbour(series, x, up);
                match v {
                    Bson::Decimal128(_) => Bson::Decimal128(decimal_from_f64(rounded)),
                    _ => Bson::Double(rounded),
                }
            }
            Granularity::PowersOfTwo => {
                let exponent = match v {
                    Bson::Int32(_) | Bson::Int64(_) => {
                        let n = crate::numeric::to_exact_i64(v).unwrap_or(1);
                        let floor_log2 = 63 - n.leading_zeros() as i32;
                        match (up, n.count_ones() == 1) {
                            (true, _) => floor_log2 + 1,
                            (false, true) => floor_log2 - 1,
                            (false, false) => floor_log2,
                        }
                    }
                    _ if up => (x.log2().floor() as i32).saturating_add(1),
                    _ => (x.log2().ceil() as i32).saturating_sub(1),
                };
                power_of_two(exponent, matches!(v, Bson::Decimal128(_)))
            }
        }
    }
}

/// The nearest member of the series (scaled to any decade) above or below `x`.
fn series_neighbour(series: &[f64], x: f64, up: bool) -> f64 {
    // The decade of `x` relative to the series' first member; its
    // neighbours are in that decade or an adjacent one.
    // (Clamped: tiny doubles underflow to a decade of minus infinity.)
    let decade = (x / series[0]).log10().floor().clamp(-400.0, 400.0) as i32;
    let mut best: Option<f64> = None;
    for d in decade - 1..=decade + 1 {
        let scale = decade_scale(d);
        for s in series {
            let candidate = s * scale;
            let better = if up {
                candidate > x && best.is_none_or(|b| candidate < b)
            } else {
                candidate < x && best.is_none_or(|b| candidate > b)
            };
            if better {
                best = Some(candidate);
            }
        }
    }
    best.unwrap_or(x)
}

/// 10^d, by repeated multiplication or division by ten.
fn decade_scale(d: i32) -> f64 {
    let mut scale = 1.0;
    for _ in 0..d.unsigned_abs() {
        if d > 0 {
            scale *= 10.0;
        } else {
            scale /= 10.0;
        }
    }
    scale
}

/// 2^exponent as `$pow` gives it: an integer (int, then long) for
/// non-negative exponents, a double for negative ones.
fn power_of_two(exponent: i32, decimal: bool) -> Bson {
    let value = (exponent as f64).exp2();
    if decimal {
        return Bson::Decimal128(decimal_from_f64(value));
    }
    match exponent {
        0..=30 => Bson::Int32(1 << exponent),
        31..=62 => Bson::Int64(1i64 << exponent),
        _ => Bson::Double(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_rounding_moves_to_the_neighbouring_preferred_number() {
        let r5 = Granularity::Series(R5);
        // Decades below the series' own are scaled by dividing by ten.
        assert_eq!(r5.round_up(&Bson::Int32(1)), Bson::Double(16.0 * 0.1));
        assert_eq!(r5.round_up(&Bson::Double(16.0)), Bson::Double(25.0));
        assert_eq!(r5.round_down(&Bson::Double(16.0)), Bson::Double(10.0));
        assert_eq!(r5.round_up(&Bson::Int32(70)), Bson::Double(100.0));
        assert_eq!(r5.round_down(&Bson::Int32(70)), Bson::Double(63.0));
        assert_eq!(r5.round_up(&Bson::Int32(0)), Bson::Int32(0));
        let e6 = Granularity::Series(E6);
        assert_eq!(e6.round_up(&Bson::Double(0.8)), Bson::Double(1.0));
        let one_two_five = Granularity::Series(SERIES_1_2_5);
        assert_eq!(one_two_five.round_up(&Bson::Int32(3)), Bson::Double(5.0));
        assert_eq!(one_two_five.round_down(&Bson::Int32(3)), Bson::Double(2.0));
        assert_eq!(one_two_five.round_down(&Bson::Int32(10)), Bson::Double(5.0));
    }

    #[test]
    fn powers_of_two_round_to_the_next_power_strictly() {
        let p = Granularity::PowersOfTwo;
        assert_eq!(p.round_up(&Bson::Int32(4)), Bson::Int32(8));
        assert_eq!(p.round_up(&Bson::Int32(5)), Bson::Int32(8));
        assert_eq!(p.round_down(&Bson::Int32(4)), Bson::Int32(2));
        assert_eq!(p.round_down(&Bson::Int32(5)), Bson::Int32(4));
        assert_eq!(p.round_up(&Bson::Double(0.3)), Bson::Double(0.5));
        assert_eq!(p.round_down(&Bson::Double(3.5)), Bson::Int32(2));
        assert_eq!(p.round_up(&Bson::Int64(1 << 40)), Bson::Int64(1 << 41));
    }

    #[test]
    fn extreme_values_round_without_panicking() {
        for g in [Granularity::Series(R80), Granularity::Series(SERIES_1_2_5), Granularity::PowersOfTwo] {
            for x in [f64::MIN_POSITIVE, 5e-324, 1e-300, 1e300, f64::MAX, f64::INFINITY] {
                let v = Bson::Double(x);
                let (up, down) = (g.round_up(&v), g.round_down(&v));
                let (up, down) =
                    (crate::numeric::to_f64(&up).unwrap(), crate::numeric::to_f64(&down).unwrap());
                assert!(up >= x && down <= x, "{g:?} {x}: down {down} up {up}");
            }
            let top = crate::numeric::to_f64(&g.round_up(&Bson::Int64(i64::MAX))).unwrap();
            assert!(top >= i64::MAX as f64, "{g:?}: {top}");
        }
    }

    #[test]
    fn unknown_granularities_are_refused() {
        let e = Granularity::named("R7").unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (40257, "Unknown rounding granularity 'R7'"));
    }
}
