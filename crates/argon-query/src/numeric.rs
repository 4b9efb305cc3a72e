//! Numeric values and arithmetic with MongoDB's type promotion.
//!
//! The result of an operation on two numbers has the wider of their types
//! (int32 < int64 < double < decimal128). Integer results that overflow
//! their type widen: int32 to int64, and int64 to double in aggregation
//! (`$add`, `$multiply`, ...). Updates (`$inc`, `$mul`) instead report
//! int64 overflow as an error; see [`Num::checked_add`].
//!
//! Decimal128: addition, subtraction and multiplication are exact while the
//! coefficient fits in 128 bits (results are rounded to 34 digits by the
//! bson crate's parser); other decimal operations go through `f64`.

use bson::{Bson, Decimal128};

use crate::compare::decimal_to_f64;

/// A BSON number.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Num {
    Int(i32),
    Long(i64),
    Double(f64),
    Decimal(Decimal128),
}

pub fn is_number(v: &Bson) -> bool {
    matches!(v, Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_))
}

pub fn to_f64(v: &Bson) -> Option<f64> {
    Num::from_bson(v).map(|n| n.to_f64())
}

/// The value as an i64 when it is a number with an integral value that fits.
pub fn to_exact_i64(v: &Bson) -> Option<i64> {
    match v {
        Bson::Int32(i) => Some(*i as i64),
        Bson::Int64(i) => Some(*i),
        Bson::Double(_) | Bson::Decimal128(_) => {
            let f = to_f64(v)?;
            if f.fract() == 0.0 && (-9.223372036854776e18..9.223372036854776e18).contains(&f) {
                Some(f as i64)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// The value as an i32 when it is a number with an integral value that fits.
pub fn to_exact_i32(v: &Bson) -> Option<i32> {
    to_exact_i64(v).and_then(|i| i32::try_from(i).ok())
}

impl Num {
    pub fn from_bson(v: &Bson) -> Option<Num> {
        match v {
            Bson::Int32(i) => Some(Num::Int(*i)),
            Bson::Int64(i) => Some(Num::Long(*i)),
            Bson::Double(d) => Some(Num::Double(*d)),
            Bson::Decimal128(d) => Some(Num::Decimal(*d)),
            _ => None,
        }
    }

    pub fn to_bson(self) -> Bson {
        match self {
            Num::Int(i) => Bson::Int32(i),
            Num::Long(i) => Bson::Int64(i),
            Num::Double(d) => Bson::Double(d),
            Num::Decimal(d) => Bson::Decimal128(d),
        }
    }

    pub fn to_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Long(i) => i as f64,
            Num::Double(d) => d,
            Num::Decimal(d) => decimal_to_f64(&d),
        }
    }

    pub fn to_decimal(self) -> Decimal128 {
        match self {
            Num::Int(i) => parse_decimal(&i.to_string()),
            Num::Long(i) => parse_decimal(&i.to_string()),
            Num::Double(d) => decimal_from_f64(d),
            Num::Decimal(d) => d,
        }
    }

    fn rank(self) -> u8 {
        match self {
            Num::Int(_) => 0,
            Num::Long(_) => 1,
            Num::Double(_) => 2,
            Num::Decimal(_) => 3,
        }
    }

    fn as_i64(self) -> i64 {
        match self {
            Num::Int(i) => i as i64,
            Num::Long(i) => i,
            _ => unreachable!("as_i64 on a non-integer"),
        }
    }

    pub fn is_zero(self) -> bool {
        match self {
            Num::Int(i) => i == 0,
            Num::Long(i) => i == 0,
            Num::Double(d) => d == 0.0,
            Num::Decimal(d) => decimal_to_f64(&d) == 0.0,
        }
    }

    /// Update addition (`$inc`): int32 overflow widens to int64; int64
    /// overflow is `None` (MongoDB reports an error).
    pub fn checked_add(self, other: Num) -> Option<Num> {
        self.checked(other, Op::Add)
    }

    /// Update multiplication (`$mul`), with the same overflow rule.
    pub fn checked_mul(self, other: Num) -> Option<Num> {
        self.checked(other, Op::Mul)
    }

    fn checked(self, other: Num, op: Op) -> Option<Num> {
        if self.rank().max(other.rank()) <= 1 {
            let (a, b) = (self.as_i64(), other.as_i64());
            let r = match op {
                Op::Add => a.checked_add(b)?,
                Op::Sub => a.checked_sub(b)?,
                Op::Mul => a.checked_mul(b)?,
            };
            if self.rank().max(other.rank()) == 0 {
                if let Ok(i) = i32::try_from(r) {
                    return Some(Num::Int(i));
                }
            }
            return Some(Num::Long(r));
        }
        Some(self.arith(other, op))
    }

    fn arith(self, other: Num, op: Op) -> Num {
        let rank = self.rank().max(other.rank());
        match rank {
            0 | 1 => {
                let (a, b) = (self.as_i64(), other.as_i64());
                let r = match op {
                    Op::Add => a.checked_add(b),
                    Op::Sub => a.checked_sub(b),
                    Op::Mul => a.checked_mul(b),
                };
                match r {
                    Some(r) if rank == 0 => match i32::try_from(r) {
                        Ok(i) => Num::Int(i),
                        Err(_) => Num::Long(r),
                    },
                    Some(r) => Num::Long(r),
                    None => {
                        let (a, b) = (a as f64, b as f64);
                        Num::Double(op.apply_f64(a, b))
                    }
                }
            }
            2 => Num::Double(op.apply_f64(self.to_f64(), other.to_f64())),
            _ => Num::Decimal(decimal_arith(self.to_decimal(), other.to_decimal(), op)),
        }
    }
}

/// Aggregation addition (`$add`, `$sum`).
impl std::ops::Add for Num {
    type Output = Num;

    fn add(self, other: Num) -> Num {
        self.arith(other, Op::Add)
    }
}

/// Aggregation subtraction.
impl std::ops::Sub for Num {
    type Output = Num;

    fn sub(self, other: Num) -> Num {
        self.arith(other, Op::Sub)
    }
}

/// Aggregation multiplication.
impl std::ops::Mul for Num {
    type Output = Num;

    fn mul(self, other: Num) -> Num {
        self.arith(other, Op::Mul)
    }
}

#[derive(Clone, Copy)]
enum Op {
    Add,
    Sub,
    Mul,
}

impl Op {
    fn apply_f64(self, a: f64, b: f64) -> f64 {
        match self {
            Op::Add => a + b,
            Op::Sub => a - b,
            Op::Mul => a * b,
        }
    }
}

pub(crate) fn parse_decimal(s: &str) -> Decimal128 {
    s.parse::<Decimal128>().unwrap_or_else(|_| "NaN".parse().expect("NaN parses"))
}

/// The decimal closest to the shortest round-trip form of `f`.
pub fn decimal_from_f64(f: f64) -> Decimal128 {
    if f.is_nan() {
        parse_decimal("NaN")
    } else if f.is_infinite() {
        parse_decimal(if f > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        parse_decimal(&format!("{f:e}"))
    }
}

/// A finite decimal as sign, coefficient and base-10 exponent.
struct DecParts {
    neg: bool,
    coef: u128,
    exp: i32,
}

fn decimal_parts(d: &Decimal128) -> Option<DecParts> {
    let s = d.to_string();
    let (neg, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.as_str()),
    };
    let (mantissa, exp) = match body.split_once(['E', 'e']) {
        Some((m, e)) => (m, e.parse::<i32>().ok()?),
        None => (body, 0),
    };
    let (digits, exp) = match mantissa.split_once('.') {
        Some((int, frac)) => (format!("{int}{frac}"), exp - frac.len() as i32),
        None => (mantissa.to_string(), exp),
    };
    let coef = digits.parse::<u128>().ok()?;
    Some(DecParts { neg, coef, exp })
}

/// A finite number as decimal parts the way MongoDB widens it to
/// decimal128: doubles keep 15 significant digits, so `0.1` is exactly
/// one tenth. `None` for NaN, infinities and non-numbers.
fn exact_decimal_parts(v: &Bson) -> Option<DecParts> {
    match v {
        Bson::Int32(i) => Some(DecParts { neg: *i < 0, coef: i.unsigned_abs() as u128, exp: 0 }),
        Bson::Int64(i) => Some(DecParts { neg: *i < 0, coef: i.unsigned_abs() as u128, exp: 0 }),
        Bson::Double(d) if d.is_finite() => decimal_parts(&parse_decimal(&format!("{d:.14e}"))),
        Bson::Decimal128(d) => decimal_parts(d),
        _ => None,
    }
}

/// Whether `value` is a whole multiple of `divisor`, computed in decimal
/// as MongoDB's JSON Schema `multipleOf` does (so `0.3` is a multiple of
/// `0.1`). NaN and infinities are multiples of nothing, and neither is a
/// value whose quotient needs more than decimal128's 34 digits (MongoDB's
/// decimal remainder reports an invalid operation there).
pub(crate) fn is_multiple_of(value: &Bson, divisor: &Bson) -> bool {
    const DECIMAL128_LIMIT: u128 = 10u128.pow(34);
    let (Some(v), Some(d)) = (exact_decimal_parts(value), exact_decimal_parts(divisor)) else {
        return false;
    };
    if d.coef == 0 {
        return false;
    }
    if v.coef == 0 {
        return true;
    }
    let exp = v.exp.min(d.exp);
    let scale = |p: &DecParts| p.coef.checked_mul(10u128.checked_pow((p.exp - exp) as u32)?);
    match (scale(&v), scale(&d)) {
        (Some(a), Some(b)) => a / b < DECIMAL128_LIMIT && a % b == 0,
        _ => false,
    }
}

fn decimal_arith(a: Decimal128, b: Decimal128, op: Op) -> Decimal128 {
    let exact = (|| {
        let (x, y) = (decimal_parts(&a)?, decimal_parts(&b)?);
        let (neg, coef, exp) = match op {
            Op::Mul => (x.neg != y.neg, x.coef.checked_mul(y.coef)?, x.exp + y.exp),
            Op::Add | Op::Sub => {
                let yneg = if matches!(op, Op::Sub) { !y.neg } else { y.neg };
                let exp = x.exp.min(y.exp);
                let xs = x.coef.checked_mul(10u128.checked_pow((x.exp - exp) as u32)?)?;
                let ys = y.coef.checked_mul(10u128.checked_pow((y.exp - exp) as u32)?)?;
                let (xs, ys) = (xs as i128, ys as i128);
                let (xs, ys) = (if x.neg { -xs } else { xs }, if yneg { -ys } else { ys });
                let sum = xs.checked_add(ys)?;
                (sum < 0, sum.unsigned_abs(), exp)
            }
        };
        Some(parse_decimal(&format!("{}{}E{}", if neg { "-" } else { "" }, coef, exp)))
    })();
    exact.unwrap_or_else(|| {
        let (x, y) = (decimal_to_f64(&a), decimal_to_f64(&b));
        decimal_from_f64(op.apply_f64(x, y))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int32_overflow_widens() {
        assert_eq!(Num::Int(i32::MAX) + Num::Int(1), Num::Long(i32::MAX as i64 + 1));
        assert_eq!(Num::Long(i64::MAX) + Num::Int(1), Num::Double(i64::MAX as f64 + 1.0));
        assert_eq!(Num::Long(i64::MAX).checked_add(Num::Int(1)), None);
        assert_eq!(Num::Int(2) * Num::Double(1.5), Num::Double(3.0));
    }

    #[test]
    fn multiple_of_is_decimal_exact() {
        let d = |s: &str| Bson::Decimal128(parse_decimal(s));
        assert!(is_multiple_of(&Bson::Double(0.3), &Bson::Double(0.1)));
        assert!(is_multiple_of(&Bson::Int32(12), &Bson::Int64(4)));
        assert!(is_multiple_of(&Bson::Int32(-12), &Bson::Double(1.5)));
        assert!(!is_multiple_of(&Bson::Int32(13), &Bson::Int32(4)));
        assert!(is_multiple_of(&d("7.5"), &d("2.5")));
        assert!(!is_multiple_of(&d("7.6"), &Bson::Double(2.5)));
        assert!(is_multiple_of(&Bson::Int32(0), &Bson::Double(0.7)));
        assert!(!is_multiple_of(&Bson::Double(f64::NAN), &Bson::Int32(1)));
        assert!(!is_multiple_of(&Bson::Double(f64::INFINITY), &Bson::Int32(1)));
        assert!(!is_multiple_of(&Bson::Int32(4), &Bson::Double(f64::NAN)));
        assert!(!is_multiple_of(&Bson::Double(1e300), &Bson::Double(1e-300)));
        assert!(is_multiple_of(&Bson::Double(1e30), &Bson::Int32(1)));
        assert!(!is_multiple_of(&Bson::String("4".into()), &Bson::Int32(2)));
    }

    #[test]
    fn decimal_addition_is_exact() {
        let a = Num::Decimal(parse_decimal("0.1"));
        let b = Num::Decimal(parse_decimal("0.2"));
        assert_eq!((a + b).to_bson(), Bson::Decimal128(parse_decimal("0.3")));
        let c = Num::Decimal(parse_decimal("1.5")) * Num::Int(3);
        assert_eq!(c.to_f64(), 4.5);
    }
}
