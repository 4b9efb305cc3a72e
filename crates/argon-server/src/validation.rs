//! Schema validation: a collection's `validator` (a query filter, often a
//! `$jsonSchema`), set by `create` or `collMod`, checked on every insert
//! and update as MongoDB does.
//!
//! - `validationLevel`: `strict` (default) checks every insert and update;
//!   `moderate` does not check updates of documents that already failed
//!   the validator; `off` checks nothing.
//! - `validationAction`: `error` (default) fails the write with 121
//!   DocumentValidationFailure; `warn` logs and writes.
//! - `bypassDocumentValidation: true` on the command skips the check.
//!
//! A time series collection (`timeseries: {timeField}`) also requires every
//! document to hold a date in its time field, bypass or not.
//!
//! The validator is read from the snapshot the write computes its outcome
//! from, so a write that races a `collMod` is checked against the validator
//! it saw (MongoDB takes a collection lock instead).

use argon_query::Filter;
use bson::{doc, Bson, Document};

use crate::error::{CmdResult, CommandError};
use crate::state::{ServerState, Target};

pub const DOCUMENT_VALIDATION_FAILURE: (i32, &str) = (121, "DocumentValidationFailure");

/// The collection options validation reads (what `collMod` may change).
pub const OPTIONS: [&str; 3] = ["validator", "validationLevel", "validationAction"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    Strict,
    Moderate,
}

/// A collection's validator, ready to check documents.
pub struct Validator {
    /// The `validator` (none when bypassed or off).
    filter: Option<Filter>,
    spec: Document,
    level: Level,
    warn_only: bool,
    /// A time series collection's `timeField`.
    time_field: Option<String>,
}

/// The `timeField` of a time series collection's options.
pub fn time_field(options: &Document) -> Option<&str> {
    options.get_document("timeseries").ok()?.get_str("timeField").ok()
}

/// Whether writes to a collection with these options are checked (the
/// fast write lanes leave those to the full path).
pub fn checks_writes(options: &Document) -> bool {
    active(options) || time_field(options).is_some()
}

/// Checks the validation options of a `create` or `collMod` (`command`
/// names the command in messages): their types, their values, and that
/// the validator parses.
pub fn check_options(options: &Document, command: &str) -> CmdResult<()> {
    if let Some(v) = options.get("validator") {
        let Bson::Document(spec) = v else {
            return Err(CommandError::type_mismatch(format!(
                "BSON field '{command}.validator' is the wrong type '{}', expected type 'object'",
                argon_query::types::type_name(v)
            )));
        };
        parse_filter(spec)?;
    }
    for (field, allowed) in [
        ("validationLevel", &["off", "strict", "moderate"][..]),
        ("validationAction", &["error", "warn"][..]),
    ] {
        match options.get(field) {
            None => {}
            Some(Bson::String(s)) if allowed.contains(&s.as_str()) => {}
            Some(Bson::String(s)) => {
                return Err(CommandError::bad_value(format!(
                    "Enumeration value '{s}' for field '{command}.{field}' is not a valid value."
                )))
            }
            Some(v) => {
                return Err(CommandError::type_mismatch(format!(
                    "BSON field '{command}.{field}' is the wrong type '{}', expected type 'string'",
                    argon_query::types::type_name(v)
                )))
            }
        }
    }
    Ok(())
}

fn parse_filter(spec: &Document) -> CmdResult<Filter> {
    for op in ["$near", "$nearSphere", "$text", "$where"] {
        if mentions(spec, op) {
            return Err(CommandError::bad_value(format!(
                "{op} is not allowed inside of a document validator"
            )));
        }
    }
    Ok(Filter::parse(spec)?)
}

/// Whether `op` appears as a key anywhere in `d`.
fn mentions(d: &Document, op: &str) -> bool {
    fn in_value(v: &Bson, op: &str) -> bool {
        match v {
            Bson::Document(d) => mentions(d, op),
            Bson::Array(items) => items.iter().any(|i| in_value(i, op)),
            _ => false,
        }
    }
    d.iter().any(|(k, v)| k == op || in_value(v, op))
}

/// Whether a collection with these options validates writes (the fast
/// write lanes leave those to the full path).
pub fn active(options: &Document) -> bool {
    matches!(options.get("validator"), Some(Bson::Document(v)) if !v.is_empty())
        && options.get_str("validationLevel").ok() != Some("off")
}

impl Validator {
    /// The validator of a collection with `options`, unless it has none,
    /// validation is off, or the command (`cmd`) asks to bypass it.
    pub fn for_write(options: Option<&Document>, cmd: &Document) -> CmdResult<Option<Validator>> {
        let Some(options) = options.filter(|o| checks_writes(o)) else { return Ok(None) };
        let bypass = matches!(cmd.get("bypassDocumentValidation"), Some(Bson::Boolean(true)));
        let time_field = time_field(options).map(str::to_string);
        if (bypass || !active(options)) && time_field.is_none() {
            return Ok(None);
        }
        let spec = options.get_document("validator").cloned().unwrap_or_default();
        let filter = match bypass || !active(options) {
            true => None,
            false => Some(parse_filter(&spec)?),
        };
        Ok(Some(Validator {
            filter,
            time_field,
            spec,
            level: match options.get_str("validationLevel") {
                Ok("moderate") => Level::Moderate,
                _ => Level::Strict,
            },
            warn_only: options.get_str("validationAction").ok() == Some("warn"),
        }))
    }

    /// Checks a document about to be inserted.
    pub fn check_insert(&self, doc: &Document) -> CmdResult<()> {
        self.check(doc)
    }

    /// Checks the new version of an updated document (`before` is what it
    /// replaces: under `moderate`, an invalid document may stay invalid).
    pub fn check_update(&self, before: &Document, after: &Document) -> CmdResult<()> {
        if self.level == Level::Moderate && self.filter.as_ref().is_some_and(|f| !f.matches(before)) {
            return self.check_time(after);
        }
        self.check(after)
    }

    /// A time series document needs a date in its time field.
    fn check_time(&self, doc: &Document) -> CmdResult<()> {
        match &self.time_field {
            Some(field) if !matches!(doc.get(field), Some(Bson::DateTime(_))) => {
                Err(CommandError::bad_value(format!(
                    "'{field}' must be present and contain a valid BSON UTC datetime value"
                )))
            }
            _ => Ok(()),
        }
    }

    fn check(&self, doc: &Document) -> CmdResult<()> {
        self.check_time(doc)?;
        let Some(filter) = &self.filter else { return Ok(()) };
        if filter.matches(doc) {
            return Ok(());
        }
        let id = doc.get("_id").cloned().unwrap_or(Bson::Null);
        if self.warn_only {
            tracing::warn!(id = %id, "document failed validation (validationAction: warn): written anyway");
            return Ok(());
        }
        let mut err = CommandError::new(DOCUMENT_VALIDATION_FAILURE, "Document failed validation");
        // A `$jsonSchema` says which rules failed; otherwise the validator
        // is shown as it was specified.
        let details = filter.schema_failure_details(doc).unwrap_or_else(|| {
            let operator = self.spec.keys().next().filter(|k| k.starts_with('$') && self.spec.len() == 1);
            doc! {
                "operatorName": operator.cloned().unwrap_or_else(|| "$and".to_string()),
                "specifiedAs": self.spec.clone(),
            }
        });
        err.extra = Box::new(doc! { "errInfo": { "failingDocumentId": id, "details": details } });
        Err(err)
    }
}

/// The validator a write command (`cmd`) to `coll` on `target` must
/// satisfy, from the branch head's catalog (none for a new project).
pub fn for_target(
    state: &ServerState,
    target: &Target,
    coll: &str,
    cmd: &Document,
) -> CmdResult<Option<Validator>> {
    check_bypass(cmd)?;
    let Ok(catalog) = state.store.head_catalog(&target.project, &target.branch) else { return Ok(None) };
    Validator::for_write(catalog.get(coll).map(|c| &c.options), cmd)
}

/// `bypassDocumentValidation` must be a boolean when present.
pub fn check_bypass(cmd: &Document) -> CmdResult<()> {
    match cmd.get("bypassDocumentValidation") {
        None | Some(Bson::Boolean(_)) => Ok(()),
        Some(v) => Err(CommandError::type_mismatch(format!(
            "BSON field 'bypassDocumentValidation' is the wrong type '{}', expected type 'bool'",
            argon_query::types::type_name(v)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(v: Document) -> Document {
        v
    }

    #[test]
    fn levels_actions_and_bypass() {
        let strict = options(doc! {"validator": {"a": {"$gt": 0}}});
        let v = Validator::for_write(Some(&strict), &doc! {}).unwrap().unwrap();
        assert!(v.check_insert(&doc! {"_id": 1, "a": 1}).is_ok());
        let e = v.check_insert(&doc! {"_id": 2, "a": 0}).unwrap_err();
        assert_eq!((e.code, e.code_name.as_str()), (121, "DocumentValidationFailure"));
        assert_eq!(e.extra.get_document("errInfo").unwrap().get("failingDocumentId"), Some(&Bson::Int32(2)));
        assert!(v.check_update(&doc! {"a": -1}, &doc! {"a": -1}).is_err(), "strict checks every update");

        let moderate = options(doc! {"validator": {"a": {"$gt": 0}}, "validationLevel": "moderate"});
        let v = Validator::for_write(Some(&moderate), &doc! {}).unwrap().unwrap();
        assert!(v.check_update(&doc! {"a": -1}, &doc! {"a": -2}).is_ok(), "invalid stays invalid");
        assert!(v.check_update(&doc! {"a": 1}, &doc! {"a": -2}).is_err(), "valid may not become invalid");
        assert!(v.check_insert(&doc! {"a": -2}).is_err());

        let warn = options(doc! {"validator": {"a": {"$gt": 0}}, "validationAction": "warn"});
        let v = Validator::for_write(Some(&warn), &doc! {}).unwrap().unwrap();
        assert!(v.check_insert(&doc! {"a": 0}).is_ok());

        let off = options(doc! {"validator": {"a": {"$gt": 0}}, "validationLevel": "off"});
        assert!(Validator::for_write(Some(&off), &doc! {}).unwrap().is_none());
        assert!(Validator::for_write(Some(&strict), &doc! {"bypassDocumentValidation": true})
            .unwrap()
            .is_none());
        assert!(Validator::for_write(Some(&doc! {}), &doc! {}).unwrap().is_none());
        assert!(!active(&doc! {"validator": {}}));
    }

    #[test]
    fn bad_options_are_refused() {
        let code_of = |o: Document| check_options(&o, "create").unwrap_err().code;
        assert_eq!(code_of(doc! {"validator": 5}), 14);
        assert_eq!(code_of(doc! {"validationLevel": "sometimes"}), 2);
        assert_eq!(code_of(doc! {"validationAction": 1}), 14);
        assert_eq!(code_of(doc! {"validator": {"$where": "true"}}), 2);
        assert_eq!(code_of(doc! {"validator": {"$or": [{"a": {"$near": [0, 0]}}]}}), 2);
        assert_eq!(code_of(doc! {"validator": {"a": {"$bogus": 1}}}), 2);
        assert!(
            check_options(&doc! {"validator": {"a": 1}, "validationLevel": "moderate"}, "collMod").is_ok()
        );
    }
}
