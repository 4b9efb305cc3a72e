//! Collations: MongoDB's language-aware string comparison
//! (`{locale: "en", strength: 2}`), on ICU4X's collator.
//!
//! A [`Collation`] compares two strings and produces **sort keys**: bytes
//! whose bytewise order is the collation's order, and which are equal
//! exactly when the collation considers the strings equal. Index keys of a
//! collated index hold sort keys instead of the strings
//! ([`crate::keycodec::encode_into_collated`]), so "a" and "A" are one key
//! under strength 2 and a unique index refuses the second.
//!
//! Parsing follows MongoDB's collation document: `locale` (one of the
//! locales MongoDB lists, optionally with `@collation=<variant>`),
//! `strength` 1–5, `caseLevel`, `caseFirst`, `numericOrdering`,
//! `alternate`, `maxVariable`, `normalization`; errors carry MongoDB's codes.
//! `backwards: true` is refused (ICU4X offers backward secondary ordering
//! only through locale data); `{locale: "simple"}` is the binary
//! comparison, represented as no collation at all (`None`).
//!
//! Sort keys depend on the ICU4X data compiled into this binary
//! (`version` in [`Collation::to_document`]): an index built by a binary
//! with other collation data would have to be rebuilt.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use bson::{doc, Bson, Document};
use icu_collator::options::{AlternateHandling, CaseLevel, CollatorOptions, MaxVariable, Strength};
use icu_collator::preferences::{CollationCaseFirst, CollationNumericOrdering};
use icu_collator::{Collator, CollatorBorrowed, CollatorPreferences};

/// The version string reported with every collation spec (the ICU4X
/// collation data this binary carries).
pub const DATA_VERSION: &str = "icu4x-2.4";

/// The locales MongoDB accepts (its "Supported Languages and Locales").
const LOCALES: &[&str] = &[
    "af",
    "sq",
    "am",
    "ar",
    "hy",
    "as",
    "az",
    "bn",
    "be",
    "bs",
    "bs_Cyrl",
    "bg",
    "my",
    "ca",
    "chr",
    "zh",
    "zh_Hant",
    "hr",
    "cs",
    "da",
    "nl",
    "dz",
    "en",
    "en_US",
    "en_US_POSIX",
    "eo",
    "et",
    "ee",
    "fo",
    "fil",
    "fi",
    "fr",
    "fr_CA",
    "gl",
    "ka",
    "de",
    "de_AT",
    "el",
    "gu",
    "ha",
    "haw",
    "he",
    "hi",
    "hu",
    "is",
    "ig",
    "smn",
    "id",
    "ga",
    "it",
    "ja",
    "kl",
    "kn",
    "kk",
    "km",
    "kok",
    "ko",
    "ky",
    "lkt",
    "lo",
    "lv",
    "ln",
    "lt",
    "dsb",
    "lb",
    "mk",
    "ms",
    "ml",
    "mt",
    "mr",
    "mn",
    "ne",
    "se",
    "nb",
    "nn",
    "or",
    "om",
    "ps",
    "fa",
    "fa_AF",
    "pl",
    "pt",
    "pa",
    "ro",
    "ru",
    "sr",
    "sr_Latn",
    "si",
    "sk",
    "sl",
    "es",
    "sw",
    "sv",
    "ta",
    "te",
    "th",
    "bo",
    "to",
    "tr",
    "uk",
    "hsb",
    "ur",
    "ug",
    "vi",
    "wae",
    "cy",
    "yi",
    "yo",
    "zu",
];

/// ICU locale-ID collation variants and their BCP 47 `-u-co-` names.
const VARIANTS: &[(&str, &str)] = &[
    ("big5han", "big5han"),
    ("compat", "compat"),
    ("dictionary", "dict"),
    ("eor", "eor"),
    ("gb2312han", "gb2312"),
    ("phonebook", "phonebk"),
    ("phonetic", "phonetic"),
    ("search", "search"),
    ("searchjl", "searchjl"),
    ("traditional", "trad"),
    ("unihan", "unihan"),
    ("zhuyin", "zhuyin"),
];

/// Where uppercase sorts at the tertiary level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CaseFirst {
    Upper,
    Lower,
    Off,
}

/// A parsed collation document, every option resolved.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Spec {
    pub locale: String,
    pub case_level: bool,
    pub case_first: CaseFirst,
    pub strength: u8,
    pub numeric_ordering: bool,
    /// `alternate: "shifted"` (else "non-ignorable").
    pub shifted: bool,
    /// `maxVariable: "space"` (else "punct").
    pub max_variable_space: bool,
    pub normalization: bool,
}

/// A collation that can compare strings and make sort keys.
pub struct Collation {
    spec: Spec,
    collator: CollatorBorrowed<'static>,
}

impl std::fmt::Debug for Collation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collation").field("spec", &self.spec).finish()
    }
}

impl PartialEq for Collation {
    fn eq(&self, other: &Self) -> bool {
        self.spec == other.spec
    }
}

/// A collation document MongoDB would refuse: its code, code name and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollationError {
    pub code: i32,
    pub code_name: &'static str,
    pub message: String,
}

impl std::fmt::Display for CollationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CollationError {}

fn error(code: i32, code_name: &'static str, message: impl Into<String>) -> CollationError {
    CollationError { code, code_name, message: message.into() }
}

fn bad_value(message: impl Into<String>) -> CollationError {
    error(2, "BadValue", message)
}

fn type_name(v: &Bson) -> &'static str {
    match v {
        Bson::Double(_) => "double",
        Bson::String(_) => "string",
        Bson::Document(_) => "object",
        Bson::Array(_) => "array",
        Bson::Boolean(_) => "bool",
        Bson::Null => "null",
        Bson::Int32(_) => "int",
        Bson::Int64(_) => "long",
        Bson::Decimal128(_) => "decimal",
        _ => "other",
    }
}

fn wrong_type(field: &str, v: &Bson, expected: &str) -> CollationError {
    error(
        14,
        "TypeMismatch",
        format!(
            "BSON field 'collation.{field}' is the wrong type '{}', expected type '{expected}'",
            type_name(v)
        ),
    )
}

/// The value named by one of a field's allowed strings.
fn choice<T: Copy>(field: &str, given: &str, allowed: &[(&str, T)]) -> Result<T, CollationError> {
    match allowed.iter().find(|(name, _)| *name == given) {
        Some((_, v)) => Ok(*v),
        None => {
            let names: Vec<String> = allowed.iter().map(|(n, _)| format!("\"{n}\"")).collect();
            Err(bad_value(format!("Field '{field}' must be one of {}, got: \"{given}\"", names.join(", "))))
        }
    }
}

/// MongoDB prints the offending document in shell form in some messages.
fn shell_form(d: &Document) -> String {
    let fields: Vec<String> = d
        .iter()
        .map(|(k, v)| match v {
            Bson::String(s) => format!("{k}: \"{s}\""),
            other => format!("{k}: {other}"),
        })
        .collect();
    format!("{{ {} }}", fields.join(", "))
}

impl Collation {
    /// Parses a `collation` field's value: `Ok(None)` for the simple
    /// (binary) collation, `{locale: "simple"}` or `{}`.
    pub fn from_bson(v: &Bson) -> Result<Option<Arc<Collation>>, CollationError> {
        match v {
            Bson::Document(d) => Collation::parse(d),
            other => Err(error(
                14,
                "TypeMismatch",
                format!(
                    "BSON field 'collation' is the wrong type '{}', expected type 'object'",
                    type_name(other)
                ),
            )),
        }
    }

    /// Parses a collation document: `Ok(None)` for the simple collation.
    /// Collators are cached per resolved spec, so this is cheap to repeat.
    pub fn parse(d: &Document) -> Result<Option<Arc<Collation>>, CollationError> {
        if d.is_empty() {
            return Ok(None);
        }
        let mut locale = None;
        let mut spec = Spec {
            locale: String::new(),
            case_level: false,
            case_first: CaseFirst::Off,
            strength: 3,
            numeric_ordering: false,
            shifted: false,
            max_variable_space: false,
            normalization: false,
        };
        let mut backwards = false;
        let mut explicit = Vec::new();
        for (k, v) in d {
            let boolean = |v: &Bson| match v {
                Bson::Boolean(b) => Ok(*b),
                other => Err(wrong_type(k, other, "bool")),
            };
            let string = |v: &Bson| match v {
                Bson::String(s) => Ok(s.clone()),
                other => Err(wrong_type(k, other, "string")),
            };
            match k.as_str() {
                "locale" => locale = Some(string(v)?),
                "caseLevel" => spec.case_level = boolean(v)?,
                "caseFirst" => {
                    let choices =
                        [("upper", CaseFirst::Upper), ("lower", CaseFirst::Lower), ("off", CaseFirst::Off)];
                    spec.case_first = choice(k, &string(v)?, &choices)?;
                }
                "strength" => {
                    let n = match v {
                        Bson::Int32(n) => *n as i64,
                        Bson::Int64(n) => *n,
                        Bson::Double(f) if f.fract() == 0.0 => *f as i64,
                        Bson::Double(f) => {
                            return Err(bad_value(format!(
                                "Field 'strength' must be a whole number, got: {f}"
                            )))
                        }
                        other => return Err(wrong_type(k, other, "int")),
                    };
                    if n < 1 {
                        return Err(error(
                            51024,
                            "Location51024",
                            format!("BSON field 'strength' value must be >= 1, actual value '{n}'"),
                        ));
                    }
                    if n > 5 {
                        return Err(error(
                            51024,
                            "Location51024",
                            format!("BSON field 'strength' value must be <= 5, actual value '{n}'"),
                        ));
                    }
                    spec.strength = n as u8;
                }
                "numericOrdering" => spec.numeric_ordering = boolean(v)?,
                "alternate" => {
                    spec.shifted = choice(k, &string(v)?, &[("non-ignorable", false), ("shifted", true)])?
                }
                "maxVariable" => {
                    spec.max_variable_space = choice(k, &string(v)?, &[("punct", false), ("space", true)])?
                }
                "normalization" => spec.normalization = boolean(v)?,
                "backwards" => backwards = boolean(v)?,
                // MongoDB echoes the ICU version back; any value is accepted.
                "version" => {
                    string(v)?;
                }
                other => {
                    return Err(error(
                        40415,
                        "Location40415",
                        format!("BSON field 'collation.{other}' is an unknown field."),
                    ))
                }
            }
            if k != "locale" {
                explicit.push(k.as_str());
            }
        }
        let Some(locale) = locale else {
            return Err(error(
                40414,
                "Location40414",
                "BSON field 'collation.locale' is missing but a required field",
            ));
        };
        if locale == "simple" {
            return match explicit.is_empty() {
                true => Ok(None),
                false => Err(bad_value(format!(
                    "Collation with locale 'simple' cannot have other options, got: {}",
                    shell_form(d)
                ))),
            };
        }
        let Some(bcp47) = bcp47(&locale) else {
            return Err(bad_value(format!("Field 'locale' is invalid in: {}", shell_form(d))));
        };
        if backwards {
            return Err(error(
                238,
                "NotImplemented",
                "collation option backwards: true is not supported by Argon",
            ));
        }
        spec.locale = locale;
        cached(spec, &bcp47).map(Some)
    }

    /// The resolved options.
    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    /// The collation document with every option filled in, as MongoDB
    /// shows it (listIndexes, listCollections, explain).
    pub fn to_document(&self) -> Document {
        let s = &self.spec;
        doc! {
            "locale": &s.locale,
            "caseLevel": s.case_level,
            "caseFirst": match s.case_first {
                CaseFirst::Upper => "upper",
                CaseFirst::Lower => "lower",
                CaseFirst::Off => "off",
            },
            "strength": s.strength as i32,
            "numericOrdering": s.numeric_ordering,
            "alternate": if s.shifted { "shifted" } else { "non-ignorable" },
            "maxVariable": if s.max_variable_space { "space" } else { "punct" },
            "normalization": s.normalization,
            "backwards": false,
            "version": DATA_VERSION,
        }
    }

    /// Compares two strings under this collation.
    pub fn compare(&self, a: &str, b: &str) -> Ordering {
        self.collator.compare(a, b)
    }

    /// Appends the sort key of `s`: bytes that order and compare equal
    /// exactly as [`Collation::compare`] does.
    pub fn sort_key_into(&self, s: &str, out: &mut Vec<u8>) {
        let Ok(()) = self.collator.write_sort_key_to(s, out);
    }

    /// Whether two optional collations are the same (`None` = simple).
    pub fn same(a: Option<&Collation>, b: Option<&Collation>) -> bool {
        match (a, b) {
            (None, None) => true,
            (Some(a), Some(b)) => a.spec == b.spec,
            _ => false,
        }
    }
}

/// Turns a MongoDB (ICU locale ID) locale into a BCP 47 tag, if it is one
/// MongoDB supports: `en_US` → `en-US`, `de@collation=phonebook` →
/// `de-u-co-phonebk`.
fn bcp47(locale: &str) -> Option<String> {
    let (base, variant) = match locale.split_once('@') {
        Some((base, keywords)) => {
            let variant = keywords.strip_prefix("collation=")?;
            (base, Some(VARIANTS.iter().find(|(icu, _)| *icu == variant)?.1))
        }
        None => (locale, None),
    };
    if !LOCALES.contains(&base) {
        return None;
    }
    let mut tag = match base {
        // The POSIX variant orders like the root collation with ASCII first;
        // ICU4X has no such tailoring, so it is refused below.
        "en_US_POSIX" => return None,
        other => other.replace('_', "-"),
    };
    if let Some(v) = variant {
        tag.push_str("-u-co-");
        tag.push_str(v);
    }
    Some(tag)
}

/// The collator for a spec, built once per spec.
fn cached(spec: Spec, bcp47: &str) -> Result<Arc<Collation>, CollationError> {
    static CACHE: OnceLock<Mutex<HashMap<Spec, Arc<Collation>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(c) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&spec) {
        return Ok(Arc::clone(c));
    }
    let invalid = || bad_value(format!("Field 'locale' is invalid in: {{ locale: \"{}\" }}", spec.locale));
    let locale: icu_locale_core::Locale = bcp47.parse().map_err(|_| invalid())?;
    let mut prefs = CollatorPreferences::from(&locale);
    prefs.case_first = Some(match spec.case_first {
        CaseFirst::Upper => CollationCaseFirst::Upper,
        CaseFirst::Lower => CollationCaseFirst::Lower,
        CaseFirst::Off => CollationCaseFirst::False,
    });
    prefs.numeric_ordering = Some(if spec.numeric_ordering {
        CollationNumericOrdering::True
    } else {
        CollationNumericOrdering::False
    });
    let mut options = CollatorOptions::default();
    options.strength = Some(match spec.strength {
        1 => Strength::Primary,
        2 => Strength::Secondary,
        3 => Strength::Tertiary,
        4 => Strength::Quaternary,
        _ => Strength::Identical,
    });
    options.case_level = Some(if spec.case_level { CaseLevel::On } else { CaseLevel::Off });
    options.alternate_handling =
        Some(if spec.shifted { AlternateHandling::Shifted } else { AlternateHandling::NonIgnorable });
    options.max_variable =
        Some(if spec.max_variable_space { MaxVariable::Space } else { MaxVariable::Punctuation });
    let collator = Collator::try_new(prefs, options).map_err(|_| invalid())?;
    let c = Arc::new(Collation { spec: spec.clone(), collator });
    cache.lock().unwrap_or_else(|e| e.into_inner()).insert(spec, Arc::clone(&c));
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(d: Document) -> Arc<Collation> {
        Collation::parse(&d).unwrap().unwrap()
    }

    fn key(c: &Collation, s: &str) -> Vec<u8> {
        let mut k = Vec::new();
        c.sort_key_into(s, &mut k);
        k
    }

    #[test]
    fn strengths_decide_what_is_equal() {
        let primary = c(doc! {"locale": "en", "strength": 1});
        let secondary = c(doc! {"locale": "en", "strength": 2});
        let tertiary = c(doc! {"locale": "en"});
        assert_eq!(primary.compare("cafe", "Café"), Ordering::Equal);
        assert_eq!(secondary.compare("cafe", "CAFE"), Ordering::Equal);
        assert_ne!(secondary.compare("cafe", "café"), Ordering::Equal);
        assert_ne!(tertiary.compare("cafe", "Cafe"), Ordering::Equal);
        // Sort keys agree with compare, equal exactly when compare is.
        for (a, b) in [("cafe", "Café"), ("abc", "ABD"), ("b", "a"), ("Zoë", "zoe")] {
            for coll in [&primary, &secondary, &tertiary] {
                assert_eq!(key(coll, a).cmp(&key(coll, b)), coll.compare(a, b), "{a} {b} {:?}", coll.spec);
            }
        }
    }

    #[test]
    fn language_order_differs_from_binary_order() {
        let en = c(doc! {"locale": "en"});
        // Binary: "Z" < "a"; English: "a" < "Z".
        assert_eq!(en.compare("a", "Z"), Ordering::Less);
        // Swedish puts "ö" after "z"; German with "o".
        let sv = c(doc! {"locale": "sv"});
        let de = c(doc! {"locale": "de"});
        assert_eq!(sv.compare("ö", "z"), Ordering::Greater);
        assert_eq!(de.compare("ö", "z"), Ordering::Less);
    }

    #[test]
    fn numeric_ordering_and_case_first() {
        let numeric = c(doc! {"locale": "en_US", "numericOrdering": true});
        assert_eq!(numeric.compare("10", "2"), Ordering::Greater);
        let plain = c(doc! {"locale": "en_US"});
        assert_eq!(plain.compare("10", "2"), Ordering::Less);
        let upper = c(doc! {"locale": "en", "caseFirst": "upper"});
        let lower = c(doc! {"locale": "en", "caseFirst": "lower"});
        assert_eq!(upper.compare("A", "a"), Ordering::Less);
        assert_eq!(lower.compare("A", "a"), Ordering::Greater);
    }

    #[test]
    fn alternate_shifted_ignores_punctuation() {
        let shifted = c(doc! {"locale": "en", "alternate": "shifted", "strength": 3});
        let plain = c(doc! {"locale": "en", "strength": 3});
        assert_eq!(shifted.compare("a-b", "ab"), Ordering::Equal);
        assert_ne!(plain.compare("a-b", "ab"), Ordering::Equal);
    }

    #[test]
    fn simple_is_no_collation_and_specs_are_cached() {
        assert!(Collation::parse(&doc! {"locale": "simple"}).unwrap().is_none());
        assert!(Collation::parse(&doc! {}).unwrap().is_none());
        let a = c(doc! {"locale": "fr", "strength": 2});
        let b = c(doc! {"strength": 2, "locale": "fr"});
        assert!(Arc::ptr_eq(&a, &b));
        let d = a.to_document();
        assert_eq!(d.get_str("locale").unwrap(), "fr");
        assert_eq!(d.get_i32("strength").unwrap(), 2);
        assert_eq!(d.get_str("caseFirst").unwrap(), "off");
        assert_eq!(c(d.clone()).spec(), a.spec(), "the full form parses back to the same spec");
        assert!(c(doc! {"locale": "de@collation=phonebook"}).compare("a", "b") == Ordering::Less);
    }

    #[test]
    fn bad_documents_get_mongodbs_errors() {
        let err = |d: Document| Collation::parse(&d).unwrap_err();
        let e = err(doc! {"locale": "xx"});
        assert_eq!((e.code, e.message.as_str()), (2, "Field 'locale' is invalid in: { locale: \"xx\" }"));
        assert_eq!(err(doc! {"locale": "en", "strength": 6}).code, 51024);
        assert_eq!(
            err(doc! {"locale": "en", "strength": 0}).message,
            "BSON field 'strength' value must be >= 1, actual value '0'"
        );
        assert_eq!(err(doc! {"strength": 2}).code, 40414);
        assert_eq!(err(doc! {"locale": "en", "bogus": 1}).code, 40415);
        assert_eq!(err(doc! {"locale": 1}).code, 14);
        assert_eq!(err(doc! {"locale": "en", "caseFirst": "sideways"}).code, 2);
        assert_eq!(err(doc! {"locale": "simple", "strength": 2}).code, 2);
        assert_eq!(err(doc! {"locale": "fr", "backwards": true}).code, 238);
        assert_eq!(Collation::from_bson(&Bson::String("en".into())).unwrap_err().code, 14);
    }
}
