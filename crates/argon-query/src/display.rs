//! Renders BSON values the way MongoDB prints them inside error messages
//! (`{ a: 1, b: "x" }`, `[ 1, 2 ]`, `ObjectId('...')`), so messages read
//! like the server's.

use std::fmt::Write;

use bson::{Bson, Document};

/// A value as MongoDB prints it in messages.
pub fn value(v: &Bson) -> String {
    let mut out = String::new();
    write_value(&mut out, v);
    out
}

/// `name: value`, MongoDB's form for one element.
pub fn element(name: &str, v: &Bson) -> String {
    format!("{name}: {}", value(v))
}

/// A document as MongoDB prints it in messages.
pub fn document(d: &Document) -> String {
    let mut out = String::new();
    write_document(&mut out, d);
    out
}

fn write_document(out: &mut String, d: &Document) {
    if d.is_empty() {
        out.push_str("{}");
        return;
    }
    out.push_str("{ ");
    for (i, (k, v)) in d.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(k);
        out.push_str(": ");
        write_value(out, v);
    }
    out.push_str(" }");
}

fn write_value(out: &mut String, v: &Bson) {
    match v {
        Bson::Double(d) => write_double(out, *d),
        Bson::String(s) | Bson::Symbol(s) => {
            out.push('"');
            for c in s.chars() {
                if c == '"' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
        }
        Bson::Array(a) => {
            if a.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push_str("[ ");
            for (i, e) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, e);
            }
            out.push_str(" ]");
        }
        Bson::Document(d) => write_document(out, d),
        Bson::Boolean(b) => {
            let _ = write!(out, "{b}");
        }
        Bson::Null => out.push_str("null"),
        Bson::Undefined => out.push_str("undefined"),
        Bson::RegularExpression(r) => {
            let _ = write!(out, "/{}/{}", r.pattern.as_str(), r.options.as_str());
        }
        Bson::JavaScriptCode(c) => out.push_str(c),
        Bson::JavaScriptCodeWithScope(c) => out.push_str(&c.code),
        Bson::Int32(i) => {
            let _ = write!(out, "{i}");
        }
        Bson::Int64(i) => {
            let _ = write!(out, "{i}");
        }
        Bson::Timestamp(t) => {
            let _ = write!(out, "Timestamp({}, {})", t.time, t.increment);
        }
        Bson::Binary(b) => {
            let _ = write!(out, "BinData({}, ", u8::from(b.subtype));
            for byte in &b.bytes {
                let _ = write!(out, "{byte:02X}");
            }
            out.push(')');
        }
        Bson::ObjectId(o) => {
            let _ = write!(out, "ObjectId('{}')", o.to_hex());
        }
        Bson::DateTime(d) => {
            let _ = write!(out, "new Date({})", d.timestamp_millis());
        }
        Bson::Decimal128(d) => {
            let _ = write!(out, "NumberDecimal(\"{d}\")");
        }
        Bson::MaxKey => out.push_str("MaxKey"),
        Bson::MinKey => out.push_str("MinKey"),
        Bson::DbPointer(p) => {
            let _ = write!(out, "{p:?}");
        }
    }
}

fn write_double(out: &mut String, d: f64) {
    if d.is_nan() {
        out.push_str("nan.0");
    } else if d.is_infinite() {
        out.push_str(if d > 0.0 { "inf.0" } else { "-inf.0" });
    } else if d.fract() == 0.0 && d.abs() < 1e16 {
        let _ = write!(out, "{d:.1}");
    } else {
        let _ = write!(out, "{d}");
    }
}

/// A double as C's `%g` prints it (6 significant digits), which is how
/// MongoDB's messages render doubles ("1.5", "1e+10", "3.14159").
pub fn double_g(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let sci = format!("{x:.5e}");
    let (mantissa, exp) = sci.split_once('e').expect("exponent");
    let exp: i32 = exp.parse().expect("exponent digits");
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exp.abs())
    } else {
        let decimals = (5 - exp).max(0) as usize;
        trim(&format!("{x:.decimals$}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn renders_like_mongodb() {
        let d = doc! {"v": [{"foo": [{"bar": "hello"}]}], "n": 1.0, "e": {}};
        assert_eq!(document(&d), r#"{ v: [ { foo: [ { bar: "hello" } ] } ], n: 1.0, e: {} }"#);
        assert_eq!(element("v", &Bson::String("x".into())), r#"v: "x""#);
    }

    #[test]
    fn doubles_print_like_printf_g() {
        assert_eq!(double_g(1e10), "1e+10");
        assert_eq!(double_g(1.5), "1.5");
        assert_eq!(double_g(12345.678), "12345.7");
        assert_eq!(double_g(-1.0), "-1");
        assert_eq!(double_g(0.0001), "0.0001");
        assert_eq!(double_g(0.00001234), "1.234e-05");
    }
}
