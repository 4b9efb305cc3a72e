//! MongoDB regular expressions on top of the `regex` crate.
//!
//! MongoDB uses PCRE; this translates its options (`i`, `m`, `s`, `x`, `u`)
//! into inline flags. Patterns that need PCRE-only features (backreferences,
//! lookaround) are rejected with MongoDB's "Regular expression is invalid"
//! error (51091) rather than silently matching differently.

use std::fmt;
use std::sync::Arc;

use bson::Bson;

use crate::error::{codes, err, ErrorCode, Result};

/// A compiled MongoDB regular expression. Cheap to clone.
#[derive(Clone)]
pub struct MongoRegex {
    pattern: Arc<str>,
    options: Arc<str>,
    re: Arc<regex::Regex>,
}

impl fmt::Debug for MongoRegex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/{}/{}", self.pattern, self.options)
    }
}

impl PartialEq for MongoRegex {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern && self.options == other.options
    }
}

impl MongoRegex {
    /// Compiles a pattern for the query language (`$regex`, bare regexes).
    pub fn new(pattern: &str, options: &str) -> Result<MongoRegex> {
        Self::with_codes(pattern, options, codes::L51091, codes::L51108)
    }

    /// Compiles with the error codes of the caller (`$regexMatch` reports
    /// its own codes).
    pub(crate) fn with_codes(
        pattern: &str,
        options: &str,
        invalid: ErrorCode,
        bad_flag: ErrorCode,
    ) -> Result<MongoRegex> {
        if pattern.contains('\0') {
            return err(codes::BAD_VALUE, "Regular expression cannot contain an embedded null byte");
        }
        let mut flags = String::new();
        for c in options.chars() {
            match c {
                'i' | 'm' | 's' | 'x' => {
                    if !flags.contains(c) {
                        flags.push(c);
                    }
                }
                'u' => {}
                other => {
                    return err(bad_flag, format!("invalid flag in regex options: {other}"));
                }
            }
        }
        let translated = translate(pattern, flags.contains('m'));
        let full = if flags.is_empty() { translated } else { format!("(?{flags}){translated}") };
        let re = regex::RegexBuilder::new(&full)
            .build()
            .or_else(|e| err(invalid, format!("Regular expression is invalid: {}", first_line(&e))))?;
        Ok(MongoRegex { pattern: pattern.into(), options: options.into(), re: Arc::new(re) })
    }

    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    pub fn options(&self) -> &str {
        &self.options
    }

    pub fn is_match(&self, s: &str) -> bool {
        self.re.is_match(s)
    }

    pub(crate) fn inner(&self) -> &regex::Regex {
        &self.re
    }

    /// Query semantics: strings and symbols match by pattern; a stored regex
    /// matches when pattern and options are the same.
    pub fn matches_value(&self, v: &Bson) -> bool {
        match v {
            Bson::String(s) | Bson::Symbol(s) => self.re.is_match(s),
            Bson::RegularExpression(r) => {
                r.pattern.as_str() == &*self.pattern && r.options.as_str() == &*self.options
            }
            _ => false,
        }
    }

    /// The regex as a BSON value.
    pub fn to_bson(&self) -> Bson {
        let mut opts: Vec<char> = self.options.chars().collect();
        opts.sort_unstable();
        let opts: String = opts.into_iter().collect();
        match (bson::raw::CString::try_from(self.pattern.to_string()), bson::raw::CString::try_from(opts)) {
            (Ok(pattern), Ok(options)) => Bson::RegularExpression(bson::Regex { pattern, options }),
            _ => Bson::Null,
        }
    }
}

fn first_line(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .rev()
        .find(|l| l.starts_with("error:"))
        .unwrap_or(text.lines().next().unwrap_or(""))
        .to_string()
}

/// Rewrites the PCRE constructs the `regex` crate spells differently:
/// `\Z`, and (without the `m` flag) `$`, which in PCRE also matches
/// before a final newline.
fn translate(pattern: &str, multiline: bool) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('Z') => out.push_str(r"(?:\n?\z)"),
                Some(next) => {
                    out.push('\\');
                    out.push(next);
                }
                None => out.push('\\'),
            },
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                // A ']' right after '[' or '[^' is a literal.
                let mut peek = chars.clone();
                match peek.next() {
                    Some('^') => {
                        out.push('^');
                        chars.next();
                        if peek.next() == Some(']') {
                            out.push(']');
                            chars.next();
                        }
                    }
                    Some(']') => {
                        out.push(']');
                        chars.next();
                    }
                    _ => {}
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            '$' if !in_class && !multiline => out.push_str(r"(?:\n?\z)"),
            _ => out.push(c),
        }
    }
    out
}

/// Builds a `bson::Regex` value (for tests and callers).
pub fn regex_value(pattern: &str, options: &str) -> Bson {
    match (
        bson::raw::CString::try_from(pattern.to_string()),
        bson::raw::CString::try_from(options.to_string()),
    ) {
        (Ok(pattern), Ok(options)) => Bson::RegularExpression(bson::Regex { pattern, options }),
        _ => Bson::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_become_inline_flags() {
        let re = MongoRegex::new("^ab", "i").unwrap();
        assert!(re.is_match("ABc"));
        let re = MongoRegex::new("^b", "m").unwrap();
        assert!(re.is_match("a\nb"));
        assert!(!MongoRegex::new("^b", "").unwrap().is_match("a\nb"));
    }

    #[test]
    fn dollar_matches_before_a_final_newline() {
        assert!(MongoRegex::new("abc$", "").unwrap().is_match("abc\n"));
        assert!(!MongoRegex::new("abc$", "").unwrap().is_match("abc\nx"));
        assert!(MongoRegex::new("[$]", "").unwrap().is_match("a$"));
        assert!(MongoRegex::new("^b$", "m").unwrap().is_match("a\nb\nc"));
    }

    #[test]
    fn bad_flags_and_patterns_are_errors() {
        assert_eq!(MongoRegex::new("a", "z").unwrap_err().code, 51108);
        assert_eq!(MongoRegex::new("(a", "").unwrap_err().code, 51091);
    }
}
