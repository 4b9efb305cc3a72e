//! String expressions: `$concat`, `$substrBytes`/`$substr`, `$substrCP`,
//! `$toLower`, `$toUpper`, `$strLenBytes`, `$strLenCP`, `$split`,
//! `$indexOfBytes`, `$indexOfCP`, `$strcasecmp`, `$trim` family,
//! `$replaceOne`/`$replaceAll`, `$regexMatch`/`$regexFind`/`$regexFindAll`.

use bson::{doc, Bson};

use super::ops::{RegexMode, TrimMode};
use super::{nullish, value_type_name, Ctx, Node, Value};
use crate::display;
use crate::error::{codes, err, Result};
use crate::regex::MongoRegex;

/// MongoDB's `coerceToString`: null and missing become "", numbers and
/// dates their text form; documents, arrays and the like are errors.
pub(crate) fn coerce_to_string(v: &Value) -> Result<String> {
    Ok(match v {
        None | Some(Bson::Null) | Some(Bson::Undefined) => String::new(),
        Some(Bson::String(s)) | Some(Bson::Symbol(s)) => s.clone(),
        Some(Bson::Int32(i)) => i.to_string(),
        Some(Bson::Int64(i)) => i.to_string(),
        Some(Bson::Double(d)) => format_double(*d),
        Some(Bson::Decimal128(d)) => d.to_string(),
        Some(Bson::DateTime(d)) => {
            super::date::format_date(super::date::ISO_FORMAT, d.timestamp_millis(), 0)?
        }
        Some(Bson::Timestamp(t)) => format!("Timestamp({}, {})", t.time, t.increment),
        Some(Bson::JavaScriptCode(c)) => c.clone(),
        Some(other) => {
            return err(
                codes::L16007,
                format!("can't convert from BSON type {} to String", crate::types::type_name(other)),
            )
        }
    })
}

/// A double as MongoDB renders it in strings: shortest round-trip form,
/// exponent notation for very large or small magnitudes.
pub(crate) fn format_double(d: f64) -> String {
    if d.is_nan() {
        return "NaN".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    if d == 0.0 {
        return if d.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let a = d.abs();
    if !(1e-4..1e16).contains(&a) {
        let s = format!("{d:e}");
        // Rust prints "1e300"; MongoDB prints "1e+300".
        return match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
            _ => s,
        };
    }
    format!("{d}")
}

pub(crate) fn concat(args: Vec<Value>) -> Result<Value> {
    let mut out = String::new();
    for v in &args {
        if nullish(v) {
            return Ok(Some(Bson::Null));
        }
        match v {
            Some(Bson::String(s)) => out.push_str(s),
            _ => {
                return err(
                    codes::L16702,
                    format!("$concat only supports strings, not {}", value_type_name(v)),
                )
            }
        }
    }
    Ok(Some(Bson::String(out)))
}

fn is_continuation(b: u8) -> bool {
    b & 0xC0 == 0x80
}

pub(crate) fn substr_bytes(args: Vec<Value>) -> Result<Value> {
    let s = coerce_to_string(&args[0])?;
    let op = "$substrBytes";
    let Some(lower) = args[1].as_ref().and_then(crate::numeric::to_f64) else {
        return err(
            codes::L16034,
            format!(
                "{op}:  starting index must be a numeric type (is BSON type {})",
                value_type_name(&args[1])
            ),
        );
    };
    let Some(length) = args[2].as_ref().and_then(crate::numeric::to_f64) else {
        return err(
            codes::L16035,
            format!("{op}:  length must be a numeric type (is BSON type {})", value_type_name(&args[2])),
        );
    };
    let lower = lower as i64;
    if lower < 0 {
        return err(codes::L50752, format!("{op}:  starting index must be non-negative (got: {lower})"));
    }
    let bytes = s.as_bytes();
    let lower = lower as usize;
    let length = if (length as i64) < 0 { bytes.len() } else { length as i64 as usize };
    if lower < bytes.len() && is_continuation(bytes[lower]) {
        return err(
            codes::L28656,
            format!("{op}:  Invalid range, starting index is a UTF-8 continuation byte."),
        );
    }
    let end = lower.saturating_add(length);
    if end < bytes.len() && is_continuation(bytes[end]) {
        return err(
            codes::L28657,
            format!("{op}:  Invalid range, ending index is in the middle of a UTF-8 character."),
        );
    }
    if lower >= bytes.len() {
        return Ok(Some(Bson::String(String::new())));
    }
    let end = end.min(bytes.len());
    Ok(Some(Bson::String(s[lower..end].to_string())))
}

pub(crate) fn substr_cp(args: Vec<Value>) -> Result<Value> {
    let s = coerce_to_string(&args[0])?;
    let op = "$substrCP";
    let start = match &args[1] {
        Some(v) if crate::numeric::is_number(v) => match crate::numeric::to_exact_i32(v) {
            Some(i) => i,
            None => {
                return err(
                    codes::L34451,
                    format!(
                        "{op}: starting index cannot be represented as a 32-bit integral value: {}",
                        display::value(v)
                    ),
                )
            }
        },
        _ => {
            return err(
                codes::L34450,
                format!(
                    "{op}: starting index must be a numeric type (is BSON type {})",
                    value_type_name(&args[1])
                ),
            )
        }
    };
    let length = match &args[2] {
        Some(v) if crate::numeric::is_number(v) => match crate::numeric::to_exact_i32(v) {
            Some(i) => i,
            None => {
                return err(
                    codes::L34453,
                    format!(
                        "{op}: length cannot be represented as a 32-bit integral value: {}",
                        display::value(v)
                    ),
                )
            }
        },
        _ => {
            return err(
                codes::L34452,
                format!("{op}: length must be a numeric type (is BSON type {})", value_type_name(&args[2])),
            )
        }
    };
    if length < 0 {
        return err(codes::L34454, format!("{op}: length must be a nonnegative integer."));
    }
    if start < 0 {
        return err(codes::L34455, format!("{op}: the starting index must be nonnegative integer."));
    }
    let out: String = s.chars().skip(start as usize).take(length as usize).collect();
    Ok(Some(Bson::String(out)))
}

pub(crate) fn str_len(code_points: bool, v: &Value) -> Result<Value> {
    match v {
        Some(Bson::String(s)) => {
            let n = if code_points { s.chars().count() } else { s.len() };
            Ok(Some(Bson::Int32(n as i32)))
        }
        _ => {
            let (code, name) =
                if code_points { (codes::L34471, "$strLenCP") } else { (codes::L34473, "$strLenBytes") };
            err(code, format!("{name} requires a string argument, found: {}", value_type_name(v)))
        }
    }
}

pub(crate) fn split((input, sep): (Value, Value)) -> Result<Value> {
    if nullish(&input) || nullish(&sep) {
        return Ok(Some(Bson::Null));
    }
    let Some(Bson::String(input)) = input else {
        return err(
            codes::L40085,
            format!(
                "$split requires an expression that evaluates to a string as a first argument, found: {}",
                value_type_name(&input)
            ),
        );
    };
    let Some(Bson::String(sep)) = sep else {
        return err(
            codes::L40086,
            format!(
                "$split requires an expression that evaluates to a string as a second argument, found: {}",
                value_type_name(&sep)
            ),
        );
    };
    if sep.is_empty() {
        return err(codes::L40087, "$split requires a non-empty separator");
    }
    Ok(Some(Bson::Array(input.split(sep.as_str()).map(|p| Bson::String(p.to_string())).collect())))
}

/// Validates a start or end index of `$indexOf*`.
pub(crate) fn index_arg(op: &str, what: &str, v: &Value) -> Result<usize> {
    let Some(i) = v.as_ref().and_then(crate::numeric::to_exact_i64) else {
        return err(
            codes::L40096,
            format!(
                "{op}requires an integral {what}, found a value of type: {}, with value: {}",
                value_type_name(v),
                v.as_ref().map(display::value).unwrap_or_else(|| "missing".into())
            ),
        );
    };
    if i < 0 {
        return err(codes::L40097, format!("{op} requires a nonnegative {what}, found: {i}"));
    }
    Ok(i as usize)
}

fn find_bytes(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() {
        return (from <= hay.len()).then_some(from);
    }
    if from >= hay.len() {
        return None;
    }
    hay[from..].windows(needle.len()).position(|w| w == needle).map(|p| p + from)
}

pub(crate) fn index_of(code_points: bool, args: Vec<Value>) -> Result<Value> {
    let op = if code_points { "$indexOfCP" } else { "$indexOfBytes" };
    if nullish(&args[0]) {
        return Ok(Some(Bson::Null));
    }
    let Some(Bson::String(input)) = &args[0] else {
        let code = if code_points { codes::L40093 } else { codes::L40091 };
        return err(
            code,
            format!("{op} requires a string as the first argument, found: {}", value_type_name(&args[0])),
        );
    };
    let Some(Bson::String(token)) = &args[1] else {
        let code = if code_points { codes::L40094 } else { codes::L40092 };
        return err(
            code,
            format!("{op} requires a string as the second argument, found: {}", value_type_name(&args[1])),
        );
    };
    let start = match args.get(2) {
        Some(v) => index_arg(op, "starting index", v)?,
        None => 0,
    };
    let len = if code_points { input.chars().count() } else { input.len() };
    let end = match args.get(3) {
        Some(v) => index_arg(op, "ending index", v)?.min(len),
        None => len,
    };
    let not_found = Ok(Some(Bson::Int32(-1)));
    if start > len || end < start {
        return not_found;
    }
    if !code_points {
        return Ok(Some(Bson::Int32(match find_bytes(&input.as_bytes()[..end], token.as_bytes(), start) {
            Some(p) if p + token.len() <= end => p as i32,
            _ => -1,
        })));
    }
    let offsets: Vec<usize> =
        input.char_indices().map(|(i, _)| i).chain(std::iter::once(input.len())).collect();
    if input.is_empty() && token.is_empty() && start == 0 {
        return Ok(Some(Bson::Int32(0)));
    }
    for (cp, offset) in offsets.iter().enumerate().take(end).skip(start) {
        if input.as_bytes()[*offset..].starts_with(token.as_bytes()) {
            return Ok(Some(Bson::Int32(cp as i32)));
        }
    }
    not_found
}

/// Compiles the pattern of a `$regex*` expression; `None` when the
/// pattern is null.
pub(crate) fn compile_regex(mode: RegexMode, regex: &Value, options: &Value) -> Result<Option<MongoRegex>> {
    let op = mode.name();
    let (pattern, flags) = match regex {
        v if nullish(v) => (None, None),
        Some(Bson::String(s)) => (Some(s.clone()), None),
        Some(Bson::RegularExpression(r)) => {
            let f = r.options.as_str();
            if !nullish(options) && !f.is_empty() {
                return err(
                    codes::L51107,
                    format!("{op}: found regex option(s) specified in both 'regex' and 'option' fields"),
                );
            }
            (Some(r.pattern.as_str().to_string()), (!f.is_empty()).then(|| f.to_string()))
        }
        _ => return err(codes::L51105, format!("{op} needs 'regex' to be of type string or regex")),
    };
    let flags = match options {
        v if nullish(v) => flags,
        Some(Bson::String(s)) => Some(s.clone()),
        _ => return err(codes::L51106, format!("{op} needs 'options' to be of type string")),
    };
    let Some(pattern) = pattern else { return Ok(None) };
    let flags = flags.unwrap_or_default();
    if pattern.contains('\0') {
        return err(codes::L51109, format!("{op}: regular expression cannot contain an embedded null byte"));
    }
    if flags.contains('\0') {
        return err(
            codes::L51110,
            format!("{op}: regular expression options cannot contain an embedded null byte"),
        );
    }
    match MongoRegex::with_codes(&pattern, &flags, codes::L51111, codes::L51108) {
        Ok(re) => Ok(Some(re)),
        Err(e) if e.code == 51108 => {
            Err(crate::error::QueryError::new(codes::L51108, format!("{op} {}", e.message)))
        }
        Err(e) => {
            let detail = e.message.trim_start_matches("Regular expression is invalid: ").to_string();
            err(codes::L51111, format!("Invalid Regex in {op}: {detail}"))
        }
    }
}

pub(crate) fn eval_regex(
    ctx: &Ctx,
    mode: RegexMode,
    input: &Node,
    regex: &Node,
    options: Option<&Node>,
    compiled: Option<&MongoRegex>,
) -> Result<Value> {
    let input = input.eval(ctx)?;
    let op = mode.name();
    let owned;
    let re = match compiled {
        Some(re) => Some(re),
        None => {
            let r = regex.eval(ctx)?;
            let o = match options {
                Some(o) => o.eval(ctx)?,
                None => None,
            };
            owned = compile_regex(mode, &r, &o)?;
            owned.as_ref()
        }
    };
    let text = match &input {
        v if nullish(v) => None,
        Some(Bson::String(s)) => Some(s.as_str()),
        _ => return err(codes::L51104, format!("{op} needs 'input' to be of type string")),
    };
    let (Some(re), Some(text)) = (re, text) else {
        return Ok(Some(match mode {
            RegexMode::Match => Bson::Boolean(false),
            RegexMode::Find => Bson::Null,
            RegexMode::FindAll => Bson::Array(vec![]),
        }));
    };
    let inner = re.inner();
    match mode {
        RegexMode::Match => Ok(Some(Bson::Boolean(inner.is_match(text)))),
        RegexMode::Find => Ok(Some(match inner.captures(text) {
            Some(c) => match_document(text, &c),
            None => Bson::Null,
        })),
        RegexMode::FindAll => {
            let mut out = Vec::new();
            let mut pos = 0;
            while pos <= text.len() {
                let Some(c) = inner.captures_at(text, pos) else { break };
                let m = c.get(0).expect("group 0");
                out.push(match_document(text, &c));
                pos = if m.end() == m.start() {
                    // An empty match: move on by one character.
                    match text[m.end()..].chars().next() {
                        Some(ch) => m.end() + ch.len_utf8(),
                        None => break,
                    }
                } else {
                    m.end()
                };
            }
            Ok(Some(Bson::Array(out)))
        }
    }
}

fn match_document(text: &str, c: &regex::Captures) -> Bson {
    let m = c.get(0).expect("group 0");
    let idx = text[..m.start()].chars().count() as i32;
    let captures: Vec<Bson> = (1..c.len())
        .map(|i| match c.get(i) {
            Some(g) => Bson::String(g.as_str().to_string()),
            None => Bson::Null,
        })
        .collect();
    Bson::Document(doc! {"match": m.as_str(), "idx": idx, "captures": captures})
}

pub(crate) fn eval_replace(all: bool, input: Value, find: Value, replacement: Value) -> Result<Value> {
    let op = if all { "$replaceAll" } else { "$replaceOne" };
    let shown = |v: &Value| v.as_ref().map(display::value).unwrap_or_else(|| "missing".into());
    let check = |v: &Value| nullish(v) || matches!(v, Some(Bson::String(_)));
    if !check(&input) {
        return err(
            codes::L51746,
            format!("{op} requires that 'input' be a string, found: {}", shown(&input)),
        );
    }
    if !check(&find) {
        return err(codes::L51745, format!("{op} requires that 'find' be a string, found: {}", shown(&find)));
    }
    if !check(&replacement) {
        return err(
            codes::L51744,
            format!("{op} requires that 'replacement' be a string, found: {}", shown(&replacement)),
        );
    }
    let (Some(Bson::String(input)), Some(Bson::String(find)), Some(Bson::String(repl))) =
        (input, find, replacement)
    else {
        return Ok(Some(Bson::Null));
    };
    let out = if !all {
        input.replacen(find.as_str(), &repl, 1)
    } else if find.is_empty() {
        let mut out = String::with_capacity(input.len() * (repl.len() + 1) + repl.len());
        for c in input.chars() {
            out.push_str(&repl);
            out.push(c);
        }
        out.push_str(&repl);
        out
    } else {
        input.replace(find.as_str(), &repl)
    };
    Ok(Some(Bson::String(out)))
}

const DEFAULT_TRIM: &[char] = &[
    '\0', ' ', '\t', '\n', '\u{0B}', '\u{0C}', '\r', '\u{A0}', '\u{1680}', '\u{2000}', '\u{2001}',
    '\u{2002}', '\u{2003}', '\u{2004}', '\u{2005}', '\u{2006}', '\u{2007}', '\u{2008}', '\u{2009}',
    '\u{200A}',
];

pub(crate) fn eval_trim(mode: TrimMode, name: &str, input: Value, chars: Option<Value>) -> Result<Value> {
    if nullish(&input) {
        return Ok(Some(Bson::Null));
    }
    let Some(Bson::String(s)) = &input else {
        let v = input.as_ref().expect("not nullish");
        return err(
            codes::L50699,
            format!(
                "{name} requires its input to be a string, got {} (of type {}) instead.",
                display::value(v),
                crate::types::type_name(v)
            ),
        );
    };
    let set: Vec<char> = match chars {
        None => DEFAULT_TRIM.to_vec(),
        Some(c) if nullish(&c) => return Ok(Some(Bson::Null)),
        Some(Some(Bson::String(c))) => c.chars().collect(),
        Some(Some(other)) => {
            return err(
                codes::L50700,
                format!(
                    "{name} requires 'chars' to be a string, got {} (of type {}) instead.",
                    display::value(&other),
                    crate::types::type_name(&other)
                ),
            )
        }
        Some(None) => unreachable!("missing is nullish"),
    };
    let t: &str = match mode {
        TrimMode::Both => s.trim_matches(set.as_slice()),
        TrimMode::Left => s.trim_start_matches(set.as_slice()),
        TrimMode::Right => s.trim_end_matches(set.as_slice()),
    };
    Ok(Some(Bson::String(t.to_string())))
}
