//! Array and object expressions: `$size`, `$arrayElemAt`, `$first`,
//! `$last`, `$in`, `$concatArrays`, `$slice`, `$reverseArray`, `$range`,
//! `$indexOfArray`, `$allElementsTrue`, `$anyElementTrue`, the set
//! operators, `$mergeObjects`, `$objectToArray`, `$arrayToObject`,
//! `$firstN`, `$lastN`, `$minN`, `$maxN`.

use std::collections::BTreeSet;

use bson::{doc, Bson, Document};

use super::ops::Func;
use super::{compare_values, nullish, truthy, value_type_name, Value};
use crate::display;
use crate::error::{codes, err, Result};
use crate::numeric::{is_number, to_exact_i32, to_f64};

pub(crate) fn size(v: &Value) -> Result<Value> {
    match v {
        Some(Bson::Array(a)) => Ok(Some(super::arith::int_or_long(a.len() as i64))),
        _ => err(
            codes::L17124,
            format!("The argument to $size must be an array, but was of type: {}", value_type_name(v)),
        ),
    }
}

pub(crate) fn elem_at(name: &str, arity: usize, (array, index): (Value, Value)) -> Result<Value> {
    if nullish(&array) || nullish(&index) {
        return Ok(Some(Bson::Null));
    }
    let Some(Bson::Array(items)) = array else {
        let which = if arity == 1 { "argument" } else { "first argument" };
        return err(
            codes::L28689,
            format!("{name}'s {which} must be an array, but is {}", value_type_name(&array)),
        );
    };
    let idx = index.as_ref().expect("not nullish");
    if !is_number(idx) {
        return err(
            codes::L28690,
            format!(
                "{name}'s second argument must be a numeric value, but is {}",
                crate::types::type_name(idx)
            ),
        );
    }
    let Some(i) = to_exact_i32(idx) else {
        return err(
            codes::L28691,
            format!(
                "{name}'s second argument must be representable as a 32-bit integer: {}",
                display::double_g(to_f64(idx).unwrap_or(f64::NAN))
            ),
        );
    };
    let len = items.len() as i64;
    let i = i as i64;
    let pos = if i < 0 { len + i } else { i };
    if pos < 0 || pos >= len {
        return Ok(None);
    }
    Ok(items.into_iter().nth(pos as usize))
}

pub(crate) fn in_array((needle, hay): (Value, Value)) -> Result<Value> {
    let Some(Bson::Array(items)) = hay else {
        return err(
            codes::L40081,
            format!("$in requires an array as a second argument, found: {}", value_type_name(&hay)),
        );
    };
    let found = items.into_iter().any(|i| compare_values(&needle, &Some(i)).is_eq());
    Ok(Some(Bson::Boolean(found)))
}

pub(crate) fn concat_arrays(args: Vec<Value>) -> Result<Value> {
    let mut out = Vec::new();
    for v in args {
        if nullish(&v) {
            return Ok(Some(Bson::Null));
        }
        match v {
            Some(Bson::Array(a)) => out.extend(a),
            other => {
                return err(
                    codes::L28664,
                    format!("$concatArrays only supports arrays, not {}", value_type_name(&other)),
                )
            }
        }
    }
    Ok(Some(Bson::Array(out)))
}

pub(crate) fn slice(args: Vec<Value>) -> Result<Value> {
    let n = args.len();
    let mut it = args.into_iter();
    let (array, arg2) = (it.next().expect("2+"), it.next().expect("2+"));
    if nullish(&array) || nullish(&arg2) {
        return Ok(Some(Bson::Null));
    }
    let Some(Bson::Array(items)) = array else {
        return err(
            codes::L28724,
            format!("First argument to $slice must be an array, but is of type: {}", value_type_name(&array)),
        );
    };
    let a2 = arg2.as_ref().expect("not nullish");
    if !is_number(a2) {
        return err(
            codes::L28725,
            format!(
                "Second argument to $slice must be a numeric value, but is of type: {}",
                crate::types::type_name(a2)
            ),
        );
    }
    let Some(a2) = to_exact_i32(a2) else {
        return err(
            codes::L28726,
            format!(
                "Second argument to $slice can't be represented as a 32-bit integer: {}",
                to_f64(a2).unwrap_or(0.0)
            ),
        );
    };
    let len = items.len() as i64;
    let (start, end) = if n == 2 {
        if a2 >= 0 {
            (0, (a2 as i64).min(len))
        } else {
            ((len + a2 as i64).max(0), len)
        }
    } else {
        let start = if a2 < 0 { (len + a2 as i64).max(0) } else { (a2 as i64).min(len) };
        let count = it.next().expect("3 arguments");
        if nullish(&count) {
            return Ok(Some(Bson::Null));
        }
        let c = count.as_ref().expect("not nullish");
        if !is_number(c) {
            return err(
                codes::L28727,
                format!(
                    "Third argument to $slice must be numeric, but is of type: {}",
                    crate::types::type_name(c)
                ),
            );
        }
        let Some(c) = to_exact_i32(c) else {
            return err(
                codes::L28728,
                format!(
                    "Third argument to $slice can't be represented as a 32-bit integer: {}",
                    to_f64(c).unwrap_or(0.0)
                ),
            );
        };
        if c <= 0 {
            return err(codes::L28729, format!("Third argument to $slice must be positive: {c}"));
        }
        (start, (start + c as i64).min(len))
    };
    Ok(Some(Bson::Array(items[start as usize..end as usize].to_vec())))
}

pub(crate) fn reverse(v: Value) -> Result<Value> {
    if nullish(&v) {
        return Ok(Some(Bson::Null));
    }
    match v {
        Some(Bson::Array(mut a)) => {
            a.reverse();
            Ok(Some(Bson::Array(a)))
        }
        other => err(
            codes::L34435,
            format!(
                "The argument to $reverseArray must be an array, but was of type: {}",
                value_type_name(&other)
            ),
        ),
    }
}

/// The most elements `$range` produces (MongoDB bounds it by memory).
const MAX_RANGE: i64 = 50_000_000;

pub(crate) fn range(args: Vec<Value>) -> Result<Value> {
    let int_arg = |v: &Value, numeric_code, integral_code, what: &str| -> Result<i64> {
        match v {
            Some(b) if is_number(b) => match to_exact_i32(b) {
                Some(i) => Ok(i as i64),
                None => err(
                    integral_code,
                    format!(
                        "$range requires a{} {what} value that can be represented as a 32-bit integer, found value: {}",
                        if what == "ending" { "n" } else { "" },
                        display::value(b)
                    ),
                ),
            },
            _ => err(
                numeric_code,
                format!(
                    "$range requires a numeric {what} value, found value of type: {}",
                    value_type_name(v)
                ),
            ),
        }
    };
    let start = int_arg(&args[0], codes::L34443, codes::L34444, "starting")?;
    let end = int_arg(&args[1], codes::L34445, codes::L34446, "ending")?;
    let step = match args.get(2) {
        Some(v) => {
            let s = match v {
                Some(b) if is_number(b) => match to_exact_i32(b) {
                    Some(i) => i as i64,
                    None => {
                        return err(
                            codes::L34448,
                            format!(
                                "$range requires a step value that can be represented as a 32-bit integer, found value: {}",
                                display::value(b)
                            ),
                        )
                    }
                },
                _ => {
                    return err(
                        codes::L34447,
                        format!("$range requires a numeric step value, found value of type:{}", value_type_name(v)),
                    )
                }
            };
            if s == 0 {
                return err(codes::L34449, "$range requires a non-zero step value");
            }
            s
        }
        None => 1,
    };
    let steps = (end - start) / step;
    let length = if steps >= 0 { steps + 1 } else { 0 };
    if length > MAX_RANGE {
        return err(
            codes::EXCEEDED_MEMORY_LIMIT,
            format!("$range would use too much memory ({} bytes) and cannot spill to disk", length * 16),
        );
    }
    let mut out = Vec::new();
    let mut cur = start;
    while if step > 0 { cur < end } else { cur > end } {
        out.push(Bson::Int32(cur as i32));
        cur += step;
    }
    Ok(Some(Bson::Array(out)))
}

pub(crate) fn index_of_array(args: Vec<Value>) -> Result<Value> {
    if nullish(&args[0]) {
        return Ok(Some(Bson::Null));
    }
    let Some(Bson::Array(items)) = &args[0] else {
        return err(
            codes::L40090,
            format!(
                "$indexOfArray requires an array as a first argument, found: {}",
                value_type_name(&args[0])
            ),
        );
    };
    let op = "$indexOfArray";
    let start = match args.get(2) {
        Some(v) => super::string::index_arg(op, "starting index", v)?,
        None => 0,
    };
    let end = match args.get(3) {
        Some(v) => super::string::index_arg(op, "ending index", v)?.min(items.len()),
        None => items.len(),
    };
    for (i, item) in items.iter().enumerate().take(end).skip(start) {
        if compare_values(&Some(item.clone()), &args[1]).is_eq() {
            return Ok(Some(Bson::Int32(i as i32)));
        }
    }
    Ok(Some(Bson::Int32(-1)))
}

pub(crate) fn all_or_any(all: bool, name: &str, v: &Value) -> Result<Value> {
    let Some(Bson::Array(items)) = v else {
        let code = if all { codes::L17040 } else { codes::L17041 };
        return err(code, format!("{name}'s argument must be an array, but is {}", value_type_name(v)));
    };
    let result = if all {
        items.iter().all(|i| truthy(&Some(i.clone())))
    } else {
        items.iter().any(|i| truthy(&Some(i.clone())))
    };
    Ok(Some(Bson::Boolean(result)))
}

/// A set of values keyed by their order-preserving encoding, so iteration
/// is in BSON order and equal numbers of different types are one element.
fn value_set(items: &[Bson]) -> BTreeSet<(Vec<u8>, usize)> {
    let mut seen = std::collections::HashSet::new();
    let mut set = BTreeSet::new();
    for (i, item) in items.iter().enumerate() {
        let key = crate::compare::value_key(item);
        if seen.insert(key.clone()) {
            set.insert((key, i));
        }
    }
    set
}

pub(crate) fn set_op(f: Func, name: &str, args: Vec<Value>) -> Result<Value> {
    match f {
        Func::SetUnion | Func::SetIntersection => {
            let mut result: Option<Vec<Bson>> = None;
            let mut union: Vec<Bson> = Vec::new();
            for v in args {
                if nullish(&v) {
                    return Ok(Some(Bson::Null));
                }
                let Some(Bson::Array(items)) = v else {
                    let code = if f == Func::SetUnion { codes::L17043 } else { codes::L17047 };
                    return err(
                        code,
                        format!(
                            "All operands of {name} must be arrays. One argument is of type: {}",
                            value_type_name(&v)
                        ),
                    );
                };
                if f == Func::SetUnion {
                    union.extend(items);
                } else {
                    result = Some(match result {
                        None => items,
                        Some(acc) => {
                            let keys: std::collections::HashSet<Vec<u8>> =
                                items.iter().map(crate::compare::value_key).collect();
                            acc.into_iter().filter(|x| keys.contains(&crate::compare::value_key(x))).collect()
                        }
                    });
                }
            }
            let items = if f == Func::SetUnion { union } else { result.unwrap_or_default() };
            let set = value_set(&items);
            Ok(Some(Bson::Array(set.into_iter().map(|(_, i)| items[i].clone()).collect())))
        }
        Func::SetDifference => {
            let mut it = args.into_iter();
            let (a, b) = (it.next().expect("2"), it.next().expect("2"));
            if nullish(&a) || nullish(&b) {
                return Ok(Some(Bson::Null));
            }
            let Some(Bson::Array(a)) = a else {
                return err(
                    codes::L17048,
                    format!(
                        "both operands of $setDifference must be arrays. First argument is of type: {}",
                        value_type_name(&a)
                    ),
                );
            };
            let Some(Bson::Array(b)) = b else {
                return err(
                    codes::L17049,
                    format!(
                        "both operands of $setDifference must be arrays. Second argument is of type: {}",
                        value_type_name(&b)
                    ),
                );
            };
            let mut seen: std::collections::HashSet<Vec<u8>> =
                b.iter().map(crate::compare::value_key).collect();
            Ok(Some(Bson::Array(
                a.into_iter().filter(|x| seen.insert(crate::compare::value_key(x))).collect(),
            )))
        }
        Func::SetEquals => {
            let mut first: Option<std::collections::HashSet<Vec<u8>>> = None;
            for (i, v) in args.into_iter().enumerate() {
                let Some(Bson::Array(items)) = v else {
                    return err(
                        codes::L17044,
                        format!(
                            "All operands of $setEquals must be arrays. {}-th argument is of type: {}",
                            i + 1,
                            value_type_name(&v)
                        ),
                    );
                };
                let set: std::collections::HashSet<Vec<u8>> =
                    items.iter().map(crate::compare::value_key).collect();
                match &first {
                    None => first = Some(set),
                    Some(f) if *f != set => return Ok(Some(Bson::Boolean(false))),
                    Some(_) => {}
                }
            }
            Ok(Some(Bson::Boolean(true)))
        }
        _ => {
            let mut it = args.into_iter();
            let (a, b) = (it.next().expect("2"), it.next().expect("2"));
            let Some(Bson::Array(a)) = a else {
                return err(
                    codes::L17046,
                    format!(
                        "both operands of $setIsSubset must be arrays. First argument is of type: {}",
                        value_type_name(&a)
                    ),
                );
            };
            let Some(Bson::Array(b)) = b else {
                return err(
                    codes::L17042,
                    format!(
                        "both operands of $setIsSubset must be arrays. Second argument is of type: {}",
                        value_type_name(&b)
                    ),
                );
            };
            let set: std::collections::HashSet<Vec<u8>> = b.iter().map(crate::compare::value_key).collect();
            Ok(Some(Bson::Boolean(a.iter().all(|x| set.contains(&crate::compare::value_key(x))))))
        }
    }
}

pub(crate) fn merge_objects(args: Vec<Value>) -> Result<Value> {
    let mut out = Document::new();
    for v in args {
        if nullish(&v) {
            continue;
        }
        match v {
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
                        display::value(&other),
                        crate::types::type_name(&other)
                    ),
                )
            }
            None => {}
        }
    }
    Ok(Some(Bson::Document(out)))
}

pub(crate) fn object_to_array(v: &Value) -> Result<Value> {
    if nullish(v) {
        return Ok(Some(Bson::Null));
    }
    let Some(Bson::Document(d)) = v else {
        return err(
            codes::L40390,
            format!("$objectToArray requires a document input, found: {}", value_type_name(v)),
        );
    };
    let out = d.iter().map(|(k, v)| Bson::Document(doc! {"k": k.clone(), "v": v.clone()})).collect();
    Ok(Some(Bson::Array(out)))
}

pub(crate) fn array_to_object(v: &Value) -> Result<Value> {
    if nullish(v) {
        return Ok(Some(Bson::Null));
    }
    let Some(Bson::Array(items)) = v else {
        return err(
            codes::L40386,
            format!("$arrayToObject requires an array input, found: {}", value_type_name(v)),
        );
    };
    let mut out = Document::new();
    let Some(first) = items.first() else {
        return Ok(Some(Bson::Document(out)));
    };
    let array_format = match first {
        Bson::Array(_) => true,
        Bson::Document(_) => false,
        other => {
            return err(
                codes::L40398,
                format!(
                    "Unrecognised input type format for $arrayToObject: {}",
                    crate::types::type_name(other)
                ),
            )
        }
    };
    for item in items {
        if array_format {
            let Bson::Array(pair) = item else {
                return err(
                    codes::L40396,
                    format!(
                        "$arrayToObject requires a consistent input format. Elements mustall be arrays or all be objects. Array was detected, now found: {}",
                        crate::types::type_name(item)
                    ),
                );
            };
            if pair.len() != 2 {
                return err(
                    codes::L40397,
                    format!(
                        "$arrayToObject requires an array of size 2 arrays,found array of size: {}",
                        pair.len()
                    ),
                );
            }
            let Bson::String(k) = &pair[0] else {
                return err(
                    codes::L40395,
                    format!(
                        "$arrayToObject requires an array of key-value pairs, where the key must be of type string. Found key type: {}",
                        crate::types::type_name(&pair[0])
                    ),
                );
            };
            if k.contains('\0') {
                return err(codes::L4940400, "Key field cannot contain an embedded null byte");
            }
            out.insert(k.clone(), pair[1].clone());
        } else {
            let Bson::Document(kv) = item else {
                return err(
                    codes::L40391,
                    format!(
                        "$arrayToObject requires a consistent input format. Elements mustall be arrays or all be objects. Object was detected, now found: {}",
                        crate::types::type_name(item)
                    ),
                );
            };
            if kv.len() != 2 {
                return err(
                    codes::L40392,
                    format!(
                        "$arrayToObject requires an object keys of 'k' and 'v'. Found incorrect number of keys:{}",
                        kv.len()
                    ),
                );
            }
            let (Some(k), Some(val)) = (kv.get("k"), kv.get("v")) else {
                return err(
                    codes::L40393,
                    format!(
                        "$arrayToObject requires an object with keys 'k' and 'v'. Missing either or both keys from: {}",
                        display::document(kv)
                    ),
                );
            };
            let Bson::String(k) = k else {
                return err(
                    codes::L40394,
                    format!(
                        "$arrayToObject requires an object with keys 'k' and 'v', where the value of 'k' must be of type string. Found type: {}",
                        crate::types::type_name(k)
                    ),
                );
            };
            if k.contains('\0') {
                return err(codes::L4940401, "Key field cannot contain an embedded null byte");
            }
            out.insert(k.clone(), val.clone());
        }
    }
    Ok(Some(Bson::Document(out)))
}

/// Parses the object argument of `$firstN`/`$lastN`/`$minN`/`$maxN`
/// (accumulators and expressions alike): `(n, input)`.
pub(crate) fn parse_n_args<'a>(name: &str, arg: &'a Bson) -> Result<(&'a Bson, &'a Bson)> {
    let Bson::Document(d) = arg else {
        let code = if matches!(name, "$minN" | "$maxN") { codes::L5787900 } else { codes::L5787801 };
        return err(
            code,
            format!("specification must be an object; found {}", crate::display::element(&name[1..], arg)),
        );
    };
    let (mut n, mut input) = (None, None);
    for (k, v) in d {
        match k.as_str() {
            "n" => n = Some(v),
            "input" => input = Some(v),
            _ => return err(codes::L5787901, format!("Unknown argument for 'n' operator: {k}")),
        }
    }
    let Some(n) = n else { return err(codes::L5787906, "Missing value for 'n'") };
    let Some(input) = input else { return err(codes::L5787907, "Missing value for 'input'") };
    Ok((n, input))
}

/// MongoDB's check of an evaluated `n`: a positive integral number.
pub(crate) fn validate_n(v: &Value) -> Result<usize> {
    let shown = || v.as_ref().map(crate::display::value).unwrap_or_else(|| "missing".into());
    let Some(x) = v.as_ref().filter(|b| crate::numeric::is_number(b)).and_then(crate::numeric::to_f64) else {
        return err(
            codes::L5787902,
            format!("Value for 'n' must be of integral type, but found {}", shown()),
        );
    };
    if x.fract() != 0.0 || x.is_nan() {
        return err(
            codes::L5787903,
            format!("Value for 'n' must be of integral type, but found {}", shown()),
        );
    }
    if x < 1.0 {
        return err(codes::L5787908, format!("'n' must be greater than 0, found {}", x as i64));
    }
    Ok(if x >= usize::MAX as f64 { usize::MAX } else { x as usize })
}

/// `$firstN`/`$lastN`/`$minN`/`$maxN` over an array: `n` is checked
/// first, then the input must be an array. `$minN`/`$maxN` skip null and
/// undefined elements and give the values best first.
pub(crate) fn n_of_array(name: &str, n: &Value, input: Value) -> Result<Value> {
    let n = validate_n(n)?;
    let Some(Bson::Array(mut items)) = input else { return err(codes::L5788200, "Input must be an array") };
    match name {
        "$firstN" => items.truncate(n),
        "$lastN" => {
            let skip = items.len().saturating_sub(n);
            items.drain(..skip);
        }
        _ => {
            items.retain(|v| !matches!(v, Bson::Null | Bson::Undefined));
            if name == "$maxN" {
                items.sort_by(|a, b| crate::compare::compare(b, a));
            } else {
                items.sort_by(crate::compare::compare);
            }
            items.truncate(n);
        }
    }
    Ok(Some(Bson::Array(items)))
}
