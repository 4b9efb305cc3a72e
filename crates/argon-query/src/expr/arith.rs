//! Arithmetic expressions: `$add`, `$subtract`, `$multiply`, `$divide`,
//! `$mod`, `$abs`, `$ceil`, `$floor`, `$exp`, `$ln`, `$log`, `$log10`,
//! `$pow`, `$sqrt`, `$round`, `$trunc`, and the list forms of `$sum`,
//! `$avg`, `$min`, `$max`.
//!
//! Null or missing operands make the result null. Decimal arguments other
//! than for `+ - *` are computed through `f64` (see `numeric`).

use bson::Bson;

use super::ops::Func;
use super::{nullish, value_type_name, Value};
use crate::error::{codes, err, Result};
use crate::numeric::{decimal_from_f64, Num};

fn null() -> Result<Value> {
    Ok(Some(Bson::Null))
}

fn num(v: &Value) -> Option<Num> {
    v.as_ref().and_then(Num::from_bson)
}

pub(crate) fn add(args: Vec<Value>) -> Result<Value> {
    let mut total = Num::Int(0);
    let mut date = false;
    for v in &args {
        if nullish(v) {
            return null();
        }
        match v {
            Some(Bson::DateTime(d)) => {
                if date {
                    return err(codes::L16612, "only one date allowed in an $add expression");
                }
                date = true;
                total = total + Num::Long(d.timestamp_millis());
            }
            _ => match num(v) {
                Some(n) => total = total + n,
                None => {
                    return err(
                        codes::TYPE_MISMATCH,
                        format!("$add only supports numeric or date types, not {}", value_type_name(v)),
                    )
                }
            },
        }
    }
    if !date {
        return Ok(Some(total.to_bson()));
    }
    let millis = match total {
        Num::Int(i) => i as i64,
        Num::Long(i) => i,
        other => {
            let f = other.to_f64();
            if !(f >= i64::MIN as f64 && f < i64::MAX as f64) {
                return err(codes::OVERFLOW, "date overflow in $add");
            }
            f.round() as i64
        }
    };
    Ok(Some(Bson::DateTime(bson::DateTime::from_millis(millis))))
}

pub(crate) fn subtract((a, b): (Value, Value)) -> Result<Value> {
    if let (Some(x), Some(y)) = (num(&a), num(&b)) {
        return Ok(Some((x - y).to_bson()));
    }
    if nullish(&a) || nullish(&b) {
        return null();
    }
    if let Some(Bson::DateTime(d)) = &a {
        return match &b {
            Some(Bson::DateTime(e)) => Ok(Some(Bson::Int64(d.timestamp_millis() - e.timestamp_millis()))),
            _ => match num(&b) {
                Some(n) => {
                    let ms = match n {
                        Num::Int(i) => i as i64,
                        Num::Long(i) => i,
                        other => other.to_f64() as i64,
                    };
                    Ok(Some(Bson::DateTime(bson::DateTime::from_millis(
                        d.timestamp_millis().wrapping_sub(ms),
                    ))))
                }
                None => {
                    err(codes::TYPE_MISMATCH, format!("can't $subtract {} from Date", value_type_name(&b)))
                }
            },
        };
    }
    err(codes::TYPE_MISMATCH, format!("can't $subtract {} from {}", value_type_name(&b), value_type_name(&a)))
}

pub(crate) fn multiply(args: Vec<Value>) -> Result<Value> {
    let mut product = Num::Int(1);
    for v in &args {
        if nullish(v) {
            return null();
        }
        match num(v) {
            Some(n) => product = product * n,
            None => {
                return err(
                    codes::TYPE_MISMATCH,
                    format!("$multiply only supports numeric types, not {}", value_type_name(v)),
                )
            }
        }
    }
    Ok(Some(product.to_bson()))
}

pub(crate) fn divide((a, b): (Value, Value)) -> Result<Value> {
    match (num(&a), num(&b)) {
        (Some(x), Some(y)) => {
            if y.is_zero() {
                return err(codes::BAD_VALUE, "can't $divide by zero");
            }
            let q = x.to_f64() / y.to_f64();
            if matches!(x, Num::Decimal(_)) || matches!(y, Num::Decimal(_)) {
                Ok(Some(Bson::Decimal128(decimal_from_f64(q))))
            } else {
                Ok(Some(Bson::Double(q)))
            }
        }
        _ if nullish(&a) || nullish(&b) => null(),
        _ => err(
            codes::TYPE_MISMATCH,
            format!(
                "$divide only supports numeric types, not {} and {}",
                value_type_name(&a),
                value_type_name(&b)
            ),
        ),
    }
}

pub(crate) fn modulo((a, b): (Value, Value)) -> Result<Value> {
    match (num(&a), num(&b)) {
        (Some(x), Some(y)) => {
            if matches!(x, Num::Decimal(_)) || matches!(y, Num::Decimal(_)) {
                if y.is_zero() {
                    return err(codes::L5733415, "can't $mod by zero");
                }
                return Ok(Some(Bson::Decimal128(decimal_from_f64(x.to_f64() % y.to_f64()))));
            }
            if y.to_f64() == 0.0 {
                return err(codes::L16610, "can't $mod by zero");
            }
            let y_integral = y.to_f64().fract() == 0.0;
            if matches!(x, Num::Double(_)) || (matches!(y, Num::Double(_)) && !y_integral) {
                return Ok(Some(Bson::Double(x.to_f64() % y.to_f64())));
            }
            let (xl, yl) = (as_long(x), as_long(y));
            if matches!(x, Num::Long(_)) || matches!(y, Num::Long(_)) {
                Ok(Some(Bson::Int64(xl.wrapping_rem(yl))))
            } else {
                Ok(Some(Bson::Int32((xl as i32).wrapping_rem(yl as i32))))
            }
        }
        _ if nullish(&a) || nullish(&b) => null(),
        _ => err(
            codes::L16611,
            format!(
                "$mod only supports numeric types, not {} and {}",
                value_type_name(&a),
                value_type_name(&b)
            ),
        ),
    }
}

fn as_long(n: Num) -> i64 {
    match n {
        Num::Int(i) => i as i64,
        Num::Long(i) => i,
        other => other.to_f64() as i64,
    }
}

/// Formats a double the way MongoDB's messages print it ("0", "-1.5").
fn plain(f: f64) -> String {
    crate::display::double_g(f)
}

/// Rounds (half to even) or truncates a double to `place` decimal places
/// using its exact decimal expansion (34 significant digits, as MongoDB
/// does through decimal128), so 2.345 rounds to 2.34 like the stored
/// binary value, not to 2.35.
pub(crate) fn round_double(x: f64, place: i64, ties_even: bool) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    let sci = format!("{:.33e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').expect("exponent");
    let exp: i64 = exp.parse().expect("exponent digits");
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).map(|b| b - b'0').collect();
    // Digit i has weight 10^(exp - i); keep those of weight >= 10^-place.
    let keep = exp + place + 1;
    if keep >= digits.len() as i64 {
        return x;
    }
    let round_up = |rest: &[u8], last_kept: u8| -> bool {
        if !ties_even || rest.is_empty() {
            return false;
        }
        match rest[0].cmp(&5) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Less => false,
            std::cmp::Ordering::Equal => rest[1..].iter().any(|d| *d != 0) || last_kept % 2 == 1,
        }
    };
    let (kept, rest): (&[u8], &[u8]) = if keep <= 0 {
        (&[], if keep == 0 { &digits[..] } else { &[] })
    } else {
        digits.split_at(keep as usize)
    };
    let mut n: u128 = kept.iter().fold(0u128, |acc, d| acc * 10 + *d as u128);
    if round_up(rest, kept.last().copied().unwrap_or(0)) {
        n += 1;
    }
    let scale = exp - keep.max(0) + 1;
    let sign = if x < 0.0 { "-" } else { "" };
    let out: f64 = format!("{sign}{n}e{scale}").parse().unwrap_or(x);
    if keep < 0 && out == 0.0 {
        return if x < 0.0 { -0.0 } else { 0.0 };
    }
    out
}

/// The one argument of a numeric operator: `None` for null or missing
/// (the operator answers null), 28765 for anything but a number.
fn numeric_arg(name: &str, v: &Value) -> Result<Option<Num>> {
    if nullish(v) {
        return Ok(None);
    }
    match num(v) {
        Some(n) => Ok(Some(n)),
        None => err(codes::L28765, format!("{name} only supports numeric types, not {}", value_type_name(v))),
    }
}

pub(crate) fn unary(f: Func, name: &str, v: Value) -> Result<Value> {
    let Some(n) = numeric_arg(name, &v)? else { return null() };
    let dec = matches!(n, Num::Decimal(_));
    let x = n.to_f64();
    let out = |r: f64| -> Bson {
        if dec {
            Bson::Decimal128(decimal_from_f64(r))
        } else {
            Bson::Double(r)
        }
    };
    Ok(Some(match f {
        Func::Abs => match n {
            Num::Int(i) => int_or_long((i as i64).abs()),
            Num::Long(i) => {
                if i == i64::MIN {
                    return err(codes::L28680, "can't take $abs of long long min");
                }
                Bson::Int64(i.abs())
            }
            _ => out(x.abs()),
        },
        Func::Ceil => match n {
            Num::Int(_) | Num::Long(_) => n.to_bson(),
            _ => out(x.ceil()),
        },
        Func::Floor => match n {
            Num::Int(_) | Num::Long(_) => n.to_bson(),
            _ => out(x.floor()),
        },
        Func::Exp => out(x.exp()),
        Func::Ln => {
            if !(x > 0.0 || x.is_nan()) {
                return err(
                    codes::L28766,
                    format!("$ln's argument must be a positive number, but is {}", plain(x)),
                );
            }
            out(x.ln())
        }
        Func::Log10 => {
            if !(x > 0.0 || x.is_nan()) {
                return err(
                    codes::L28761,
                    format!("$log10's argument must be a positive number, but is {}", plain(x)),
                );
            }
            out(x.log10())
        }
        Func::Sqrt => {
            if x < 0.0 {
                return err(codes::L28714, "$sqrt's argument must be greater than or equal to 0");
            }
            out(x.sqrt())
        }
        _ => unreachable!("not a unary numeric operator"),
    }))
}

pub(crate) fn int_or_long(i: i64) -> Bson {
    match i32::try_from(i) {
        Ok(v) => Bson::Int32(v),
        Err(_) => Bson::Int64(i),
    }
}

pub(crate) fn log((a, b): (Value, Value)) -> Result<Value> {
    if nullish(&a) || nullish(&b) {
        return null();
    }
    let Some(x) = num(&a) else {
        return err(codes::L28756, format!("$log's argument must be numeric, not {}", value_type_name(&a)));
    };
    let Some(base) = num(&b) else {
        return err(codes::L28757, format!("$log's base must be numeric, not {}", value_type_name(&b)));
    };
    let (xf, bf) = (x.to_f64(), base.to_f64());
    if !(xf > 0.0 || xf.is_nan()) {
        return err(
            codes::L28758,
            format!("$log's argument must be a positive number, but is {}", plain(xf)),
        );
    }
    if !((bf > 0.0 && bf != 1.0) || bf.is_nan()) {
        return err(
            codes::L28759,
            format!("$log's base must be a positive number not equal to 1, but is {}", plain(bf)),
        );
    }
    let r = xf.ln() / bf.ln();
    if matches!(x, Num::Decimal(_)) || matches!(base, Num::Decimal(_)) {
        Ok(Some(Bson::Decimal128(decimal_from_f64(r))))
    } else {
        Ok(Some(Bson::Double(r)))
    }
}

pub(crate) fn pow((a, b): (Value, Value)) -> Result<Value> {
    if nullish(&a) || nullish(&b) {
        return null();
    }
    let Some(base) = num(&a) else {
        return err(codes::L28762, format!("$pow's base must be numeric, not {}", value_type_name(&a)));
    };
    let Some(exp) = num(&b) else {
        return err(codes::L28763, format!("$pow's exponent must be numeric, not {}", value_type_name(&b)));
    };
    let (bf, ef) = (base.to_f64(), exp.to_f64());
    if bf == 0.0 && ef < 0.0 {
        return err(codes::L28764, "$pow cannot take a base of 0 and a negative exponent");
    }
    if matches!(base, Num::Decimal(_)) || matches!(exp, Num::Decimal(_)) {
        return Ok(Some(Bson::Decimal128(decimal_from_f64(bf.powf(ef)))));
    }
    if matches!(base, Num::Double(_)) || matches!(exp, Num::Double(_)) {
        return Ok(Some(Bson::Double(bf.powf(ef))));
    }
    let any_long = matches!(base, Num::Long(_)) || matches!(exp, Num::Long(_));
    let format = |r: i64| if any_long { Bson::Int64(r) } else { int_or_long(r) };
    let (bl, el) = (as_long(base), as_long(exp));
    let result = match bl {
        0 => Some(if el == 0 { 1 } else { 0 }),
        1 => Some(1),
        -1 => Some(if el % 2 == 0 { 1 } else { -1 }),
        _ if !(0..=63).contains(&el) => None,
        _ => bl.checked_pow(el as u32),
    };
    Ok(Some(match result {
        Some(r) => format(r),
        None => Bson::Double((bl as f64).powf(el as f64)),
    }))
}

pub(crate) fn round_or_trunc(round: bool, name: &str, args: Vec<Value>) -> Result<Value> {
    let mut it = args.into_iter();
    let v = it.next().expect("at least one argument");
    if nullish(&v) {
        return null();
    }
    let Some(n) = num(&v) else {
        return err(
            codes::L51081,
            format!("{name} only supports numeric types, not {}", value_type_name(&v)),
        );
    };
    let mut place: i64 = 0;
    if let Some(p) = it.next() {
        if nullish(&p) {
            return null();
        }
        match p.as_ref().and_then(crate::numeric::to_exact_i64) {
            Some(i) => place = i,
            None => {
                return err(codes::L51082, format!("precision argument to  {name} must be a integral value"));
            }
        }
        if !(-20..=100).contains(&place) {
            return err(
                codes::L51083,
                format!("cannot apply {name} with precision value {place} value must be in [-20, 100]"),
            );
        }
    }
    let apply = |x: f64| -> f64 { round_double(x, place, round) };
    Ok(Some(match n {
        Num::Double(d) => Bson::Double(apply(d)),
        Num::Decimal(_) => Bson::Decimal128(decimal_from_f64(apply(n.to_f64()))),
        Num::Int(_) | Num::Long(_) => {
            if place >= 0 {
                return Ok(Some(n.to_bson()));
            }
            let i = as_long(n) as i128;
            let factor = 10i128.pow((-place) as u32);
            let q = i / factor;
            let r = i % factor;
            let mut q2 = q;
            if round {
                let twice = r.abs() * 2;
                if twice > factor || (twice == factor && q % 2 != 0) {
                    q2 += if i < 0 { -1 } else { 1 };
                }
            }
            let out = q2 * factor;
            let Ok(out) = i64::try_from(out) else {
                return err(
                    codes::L51080,
                    format!("invalid conversion from Decimal128 result in {name} resulting from arguments: [{i}, {place}]"),
                );
            };
            if matches!(n, Num::Long(_)) || out > i32::MAX as i64 || out < i32::MIN as i64 {
                Bson::Int64(out)
            } else {
                Bson::Int32(out as i32)
            }
        }
    }))
}

/// `$sum`, `$avg`, `$min`, `$max` as expressions: one array argument is
/// reduced element-wise; several arguments are reduced as a list.
pub(crate) fn list_reduction(f: Func, args: Vec<Value>) -> Result<Value> {
    let items: Vec<Value> = if args.len() == 1 {
        match args.into_iter().next().expect("one") {
            Some(Bson::Array(a)) => a.into_iter().map(Some).collect(),
            other => vec![other],
        }
    } else {
        args
    };
    match f {
        Func::Sum | Func::Avg => {
            let mut total = Num::Int(0);
            let mut count = 0usize;
            let mut decimal = false;
            for v in &items {
                if let Some(n) = num(v) {
                    decimal |= matches!(n, Num::Decimal(_));
                    total = total + n;
                    count += 1;
                }
            }
            if f == Func::Sum {
                return Ok(Some(total.to_bson()));
            }
            if count == 0 {
                return null();
            }
            let avg = total.to_f64() / count as f64;
            Ok(Some(if decimal { Bson::Decimal128(decimal_from_f64(avg)) } else { Bson::Double(avg) }))
        }
        _ => {
            let mut best: Option<Bson> = None;
            for v in items.into_iter().flatten() {
                if matches!(v, Bson::Null | Bson::Undefined) {
                    continue;
                }
                let better = match &best {
                    None => true,
                    Some(b) => {
                        let ord = crate::compare::compare(&v, b);
                        if f == Func::Min {
                            ord.is_lt()
                        } else {
                            ord.is_gt()
                        }
                    }
                };
                if better {
                    best = Some(v);
                }
            }
            Ok(Some(best.unwrap_or(Bson::Null)))
        }
    }
}

/// The trigonometric and hyperbolic operators, `$degreesToRadians`,
/// `$radiansToDegrees` and `$sigmoid`: one number (null stays null);
/// decimals stay decimals, other numbers become doubles; outside the
/// function's domain fails with 50989, as MongoDB's bounded operators do.
pub(crate) fn trig(f: Func, name: &str, v: Value) -> Result<Value> {
    let Some(n) = numeric_arg(name, &v)? else { return null() };
    let x = n.to_f64();
    // (lower, upper, whether the bounds belong to the domain)
    let domain = match f {
        Func::Sin | Func::Cos | Func::Tan => Some((f64::NEG_INFINITY, f64::INFINITY, false)),
        Func::Asin | Func::Acos | Func::Atanh => Some((-1.0, 1.0, true)),
        Func::Acosh => Some((1.0, f64::INFINITY, true)),
        _ => None,
    };
    if let Some((lo, hi, closed)) = domain {
        let inside = x.is_nan() || if closed { (lo..=hi).contains(&x) } else { x > lo && x < hi };
        if !inside {
            let (l, r) = if closed { ('[', ']') } else { ('(', ')') };
            return err(
                codes::L50989,
                format!(
                    "cannot apply {name} to {}, value must be in {l}{},{}{r}",
                    plain(x),
                    plain(lo),
                    plain(hi)
                ),
            );
        }
    }
    let r = match f {
        Func::Sin => x.sin(),
        Func::Cos => x.cos(),
        Func::Tan => x.tan(),
        Func::Asin => x.asin(),
        Func::Acos => x.acos(),
        Func::Atan => x.atan(),
        Func::Sinh => x.sinh(),
        Func::Cosh => x.cosh(),
        Func::Tanh => x.tanh(),
        Func::Asinh => x.asinh(),
        Func::Acosh => x.acosh(),
        Func::Atanh => x.atanh(),
        Func::DegreesToRadians => x.to_radians(),
        Func::RadiansToDegrees => x.to_degrees(),
        Func::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        _ => unreachable!("not a trigonometric operator"),
    };
    Ok(Some(match n {
        Num::Decimal(_) => Bson::Decimal128(decimal_from_f64(r)),
        _ => Bson::Double(r),
    }))
}

/// `$atan2: [y, x]`: the angle of the point (x, y), in radians.
pub(crate) fn atan2((y, x): (Value, Value)) -> Result<Value> {
    if nullish(&y) || nullish(&x) {
        return null();
    }
    let (Some(ny), Some(nx)) = (num(&y), num(&x)) else {
        let bad = if num(&y).is_none() { &y } else { &x };
        return err(
            codes::L28765,
            format!("$atan2 only supports numeric types, not {}", value_type_name(bad)),
        );
    };
    let r = ny.to_f64().atan2(nx.to_f64());
    Ok(Some(match (ny, nx) {
        (Num::Decimal(_), _) | (_, Num::Decimal(_)) => Bson::Decimal128(decimal_from_f64(r)),
        _ => Bson::Double(r),
    }))
}

/// `$bitAnd`, `$bitOr`, `$bitXor` over ints and longs (a long if any
/// operand is one; null if any is null; no operands: the operation's
/// identity), and `$bitNot` of one.
pub(crate) fn bitwise(f: Func, name: &str, args: Vec<Value>) -> Result<Value> {
    let mut acc: i64 = if f == Func::BitAnd { -1 } else { 0 };
    let mut long = false;
    for v in &args {
        if nullish(v) {
            return null();
        }
        let x = match v {
            Some(Bson::Int32(i)) => i64::from(*i),
            Some(Bson::Int64(i)) => {
                long = true;
                *i
            }
            _ => {
                return err(
                    codes::TYPE_MISMATCH,
                    format!("{name} only supports int and long operands, not {}", value_type_name(v)),
                )
            }
        };
        acc = match f {
            Func::BitAnd => acc & x,
            Func::BitOr => acc | x,
            Func::BitXor => acc ^ x,
            Func::BitNot => !x,
            _ => unreachable!("not a bitwise operator"),
        };
    }
    Ok(Some(if long { Bson::Int64(acc) } else { Bson::Int32(acc as i32) }))
}
