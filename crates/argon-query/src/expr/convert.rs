//! `$convert` and its shortcuts (`$toString`, `$toInt`, `$toLong`,
//! `$toDouble`, `$toDecimal`, `$toBool`, `$toDate`, `$toObjectId`).
//!
//! Failed conversions raise ConversionFailure (241), which `onError`
//! catches; null or missing input yields `onNull` (or null).

use bson::oid::ObjectId;
use bson::Bson;

use super::{nullish, Ctx, Node, Value};
use crate::error::{codes, err, QueryError, Result};
use crate::numeric::{decimal_from_f64, parse_decimal, Num};
use crate::types;

pub(crate) fn eval_convert(
    ctx: &Ctx,
    input: &Node,
    to: &Node,
    on_error: Option<&Node>,
    on_null: Option<&Node>,
    _alias: Option<&str>,
) -> Result<Value> {
    let to_v = to.eval(ctx)?;
    let input_v = input.eval(ctx)?;
    let target = if nullish(&to_v) { None } else { Some(target_type(to_v.as_ref().expect("not nullish"))?) };
    if nullish(&input_v) {
        return match on_null {
            Some(n) => n.eval(ctx),
            None => Ok(Some(Bson::Null)),
        };
    }
    let Some(target) = target else { return Ok(Some(Bson::Null)) };
    match convert(input_v.as_ref().expect("not nullish"), target) {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.code == codes::CONVERSION_FAILURE.code => match on_error {
            Some(h) => h.eval(ctx),
            None => Err(e),
        },
        Err(e) => Err(e),
    }
}

/// The BSON type number `to` names (`None` for "missing").
fn target_type(to: &Bson) -> Result<Option<i32>> {
    match to {
        Bson::String(s) if s == "missing" => Ok(None),
        Bson::String(s) => match types::code_for_alias(s) {
            Some(c) => Ok(Some(c)),
            None => err(codes::BAD_VALUE, format!("Unknown type name: {s}")),
        },
        v if crate::numeric::is_number(v) => {
            let Some(code) = crate::numeric::to_exact_i32(v) else {
                return err(codes::FAILED_TO_PARSE, "In $convert, numeric 'to' argument is not an integer");
            };
            if types::alias_for_code(code).is_none() {
                return err(
                    codes::FAILED_TO_PARSE,
                    format!("In $convert, numeric value for 'to' does not correspond to a BSON type: {code}"),
                );
            }
            Ok(Some(code))
        }
        other => err(
            codes::FAILED_TO_PARSE,
            format!(
                "$convert's 'to' argument must be a string or number, but is {}",
                types::type_name(other)
            ),
        ),
    }
}

fn failure(msg: impl Into<String>) -> QueryError {
    QueryError::new(codes::CONVERSION_FAILURE, msg)
}

fn overflow(v: &str) -> QueryError {
    failure(format!("Conversion would overflow target type in $convert with no onError value: {v}"))
}

fn check_finite(d: f64) -> Result<()> {
    if d.is_nan() {
        return Err(failure(
            "Attempt to convert NaN value to integer type in $convert with no onError value",
        ));
    }
    if d.is_infinite() {
        return Err(failure(
            "Attempt to convert infinity value to integer type in $convert with no onError value",
        ));
    }
    Ok(())
}

fn double_to_long(d: f64, shown: &str) -> Result<i64> {
    check_finite(d)?;
    if !(d >= i64::MIN as f64 && d < 9.223372036854776e18) {
        return Err(overflow(shown));
    }
    Ok(d as i64)
}

fn parse_number_string(s: &str) -> Result<()> {
    if s.starts_with("0x") || s.starts_with("-0x") {
        return Err(failure(format!("Illegal hexadecimal input in $convert with no onError value: {s}")));
    }
    Ok(())
}

fn parse_failed(s: &str, reason: &str) -> QueryError {
    failure(format!("Failed to parse number '{s}' in $convert with no onError value: {reason}"))
}

fn parse_integer(s: &str) -> Result<i64> {
    parse_number_string(s)?;
    if s.is_empty() {
        return Err(parse_failed(s, "No digits"));
    }
    s.parse::<i64>().map_err(|e| {
        let reason = match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => "Out of range",
            _ => "Did not consume whole string.",
        };
        parse_failed(s, reason)
    })
}

/// Converts a non-null value to the BSON type numbered `target`.
pub(crate) fn convert(v: &Bson, target: Option<i32>) -> Result<Bson> {
    let unsupported = || {
        Err(failure(format!(
            "Unsupported conversion from {} to {} in $convert with no onError value",
            types::type_name(v),
            target.and_then(types::alias_for_code).unwrap_or("missing")
        )))
    };
    let Some(target) = target else { return unsupported() };

    match target {
        // double
        1 => Ok(Bson::Double(match v {
            Bson::Double(d) => *d,
            Bson::Int32(i) => *i as f64,
            Bson::Int64(i) => *i as f64,
            Bson::Decimal128(d) => {
                let f = crate::compare::decimal_to_f64(d);
                let s = d.to_string();
                if f.is_infinite() && !s.contains("Infinity") {
                    return Err(overflow(&s));
                }
                f
            }
            Bson::Boolean(b) => f64::from(u8::from(*b)),
            Bson::DateTime(d) => d.timestamp_millis() as f64,
            Bson::String(s) => {
                parse_number_string(s)?;
                if s.is_empty() || s.trim() != s {
                    return Err(parse_failed(s, "Did not consume whole string."));
                }
                s.parse::<f64>().map_err(|_| parse_failed(s, "Did not consume whole string."))?
            }
            _ => return unsupported(),
        })),
        // string
        2 => Ok(Bson::String(match v {
            Bson::String(s) => s.clone(),
            Bson::Double(d) => super::string::format_double(*d),
            Bson::Int32(i) => i.to_string(),
            Bson::Int64(i) => i.to_string(),
            Bson::Decimal128(d) => d.to_string(),
            Bson::Boolean(b) => b.to_string(),
            Bson::ObjectId(o) => o.to_hex(),
            Bson::DateTime(d) => super::date::format_date(super::date::ISO_FORMAT, d.timestamp_millis(), 0)?,
            _ => return unsupported(),
        })),
        // objectId
        7 => match v {
            Bson::ObjectId(_) => Ok(v.clone()),
            Bson::String(s) => {
                if s.len() != 24 {
                    return Err(failure(format!(
                        "Failed to parse objectId '{s}' in $convert with no onError value: Invalid string length for parsing to OID, expected 24 but found {}",
                        s.len()
                    )));
                }
                ObjectId::parse_str(s).map(Bson::ObjectId).map_err(|_| {
                    failure(format!(
                        "Failed to parse objectId '{s}' in $convert with no onError value: Invalid character found in hex string: {s}"
                    ))
                })
            }
            _ => unsupported(),
        },
        // bool
        8 => Ok(Bson::Boolean(match v {
            Bson::Boolean(b) => *b,
            Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_) => {
                Num::from_bson(v).is_some_and(|n| !n.is_zero())
            }
            Bson::Null | Bson::Undefined => return unsupported(),
            _ => true,
        })),
        // date
        9 => {
            let millis = match v {
                Bson::DateTime(d) => d.timestamp_millis(),
                Bson::Int64(i) => *i,
                Bson::Double(d) => double_to_long(*d, &crate::display::double_g(*d))?,
                Bson::Decimal128(d) => double_to_long(crate::compare::decimal_to_f64(d), &d.to_string())?,
                Bson::ObjectId(o) => o.timestamp().timestamp_millis(),
                Bson::Timestamp(t) => t.time as i64 * 1000,
                Bson::String(s) => match super::date::parse_date_string(s) {
                    Some(ms) => ms,
                    None => return Err(failure(format!("Error parsing date string '{s}'"))),
                },
                _ => return unsupported(),
            };
            Ok(Bson::DateTime(bson::DateTime::from_millis(millis)))
        }
        // int
        16 => Ok(Bson::Int32(match v {
            Bson::Int32(i) => *i,
            Bson::Int64(i) => i32::try_from(*i).map_err(|_| overflow(""))?,
            Bson::Double(d) => {
                check_finite(*d)?;
                if !(*d >= i32::MIN as f64 && *d <= i32::MAX as f64) {
                    return Err(overflow(&crate::display::double_g(*d)));
                }
                *d as i32
            }
            Bson::Decimal128(d) => {
                let f = crate::compare::decimal_to_f64(d);
                check_finite(f)?;
                if !(f > i32::MIN as f64 - 1.0 && f < i32::MAX as f64 + 1.0) {
                    return Err(overflow(&d.to_string()));
                }
                f as i32
            }
            Bson::Boolean(b) => i32::from(*b),
            Bson::String(s) => {
                let i = parse_integer(s)?;
                i32::try_from(i).map_err(|_| parse_failed(s, "Out of range"))?
            }
            _ => return unsupported(),
        })),
        // long
        18 => Ok(Bson::Int64(match v {
            Bson::Int32(i) => *i as i64,
            Bson::Int64(i) => *i,
            Bson::Double(d) => double_to_long(*d, &crate::display::double_g(*d))?,
            Bson::Decimal128(d) => double_to_long(crate::compare::decimal_to_f64(d), &d.to_string())?,
            Bson::Boolean(b) => i64::from(*b),
            Bson::DateTime(d) => d.timestamp_millis(),
            Bson::String(s) => parse_integer(s)?,
            _ => return unsupported(),
        })),
        // decimal
        19 => Ok(Bson::Decimal128(match v {
            Bson::Decimal128(d) => *d,
            Bson::Int32(i) => parse_decimal(&i.to_string()),
            Bson::Int64(i) => parse_decimal(&i.to_string()),
            Bson::Double(d) => decimal_from_f64(*d),
            Bson::Boolean(b) => parse_decimal(if *b { "1" } else { "0" }),
            Bson::DateTime(d) => parse_decimal(&d.timestamp_millis().to_string()),
            Bson::String(s) => {
                parse_number_string(s)?;
                s.parse::<bson::Decimal128>()
                    .map_err(|_| parse_failed(s, "Failed to parse string to decimal"))?
            }
            _ => return unsupported(),
        })),
        _ => unsupported(),
    }
}

/// `$tsSecond` / `$tsIncrement`: a timestamp's seconds or increment, as a long.
pub(crate) fn timestamp_part(increment: bool, v: &Value) -> Result<Value> {
    match v {
        None | Some(Bson::Null) | Some(Bson::Undefined) => Ok(Some(Bson::Null)),
        Some(Bson::Timestamp(t)) => {
            Ok(Some(Bson::Int64(i64::from(if increment { t.increment } else { t.time }))))
        }
        Some(other) => {
            let (code, name) =
                if increment { (codes::L5687302, "$tsIncrement") } else { (codes::L5687301, "$tsSecond") };
            err(
                code,
                format!("Argument to {name} must be a timestamp, but is {}", crate::types::type_name(other)),
            )
        }
    }
}

/// `$binarySize`: bytes of a string (UTF-8) or of binary data.
pub(crate) fn binary_size(v: &Value) -> Result<Value> {
    match v {
        None | Some(Bson::Null) | Some(Bson::Undefined) => Ok(Some(Bson::Null)),
        Some(Bson::String(s)) => Ok(Some(super::arith::int_or_long(s.len() as i64))),
        Some(Bson::Binary(b)) => Ok(Some(super::arith::int_or_long(b.bytes.len() as i64))),
        Some(other) => err(
            codes::L51276,
            format!(
                "$binarySize requires a string or BinData argument, found: {}",
                crate::types::type_name(other)
            ),
        ),
    }
}

/// `$bsonSize`: bytes of a document encoded as BSON.
pub(crate) fn bson_size(v: &Value) -> Result<Value> {
    match v {
        None | Some(Bson::Null) | Some(Bson::Undefined) => Ok(Some(Bson::Null)),
        Some(Bson::Document(d)) => {
            let raw = bson::RawDocumentBuf::try_from(d)
                .map_err(|e| crate::error::QueryError::new(codes::BAD_VALUE, format!("$bsonSize: {e}")))?;
            Ok(Some(Bson::Int32(raw.as_bytes().len() as i32)))
        }
        Some(other) => err(
            codes::L31393,
            format!("$bsonSize requires a document input, found: {}", crate::types::type_name(other)),
        ),
    }
}

/// `$toUUID` (MongoDB 8.0): a UUID string (hex, hyphens optional) as
/// binary subtype 4; null stays null.
pub(crate) fn to_uuid(v: &Value) -> Result<Value> {
    match v {
        None | Some(Bson::Null) | Some(Bson::Undefined) => Ok(Some(Bson::Null)),
        Some(Bson::Binary(b)) if b.subtype == bson::spec::BinarySubtype::Uuid => Ok(v.clone()),
        Some(Bson::String(s)) => match bson::Uuid::parse_str(s) {
            Ok(u) => Ok(Some(Bson::Binary(bson::Binary::from_uuid(u)))),
            Err(_) => err(codes::CONVERSION_FAILURE, format!("Failed to parse UUID from string: \"{s}\"")),
        },
        Some(other) => err(
            codes::CONVERSION_FAILURE,
            format!("Unsupported conversion from {} to UUID in $toUUID", crate::types::type_name(other)),
        ),
    }
}
