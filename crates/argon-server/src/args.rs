//! Typed access to command fields, with MongoDB's errors for wrong types:
//! "wrong types in every command field" must produce TypeMismatch, never a
//! panic or a silent default.

use argon_query::types::type_name;
use bson::{Bson, Document};

use crate::error::{CmdResult, CommandError};

fn mismatch(cmd: &str, field: &str, expected: &str, got: &Bson) -> CommandError {
    CommandError::type_mismatch(format!(
        "BSON field '{cmd}.{field}' is the wrong type '{}', expected type '{expected}'",
        type_name(got)
    ))
}

/// Reads the fields of one command, naming the command in its errors.
pub struct Args<'a> {
    pub cmd: &'a Document,
    pub name: &'a str,
}

impl<'a> Args<'a> {
    pub fn new(cmd: &'a Document, name: &'a str) -> Args<'a> {
        Args { cmd, name }
    }

    pub fn get(&self, field: &str) -> Option<&'a Bson> {
        match self.cmd.get(field) {
            None | Some(Bson::Null) => None,
            Some(v) => Some(v),
        }
    }

    pub fn str(&self, field: &str) -> CmdResult<Option<&'a str>> {
        match self.get(field) {
            None => Ok(None),
            Some(Bson::String(s)) => Ok(Some(s)),
            Some(v) => Err(mismatch(self.name, field, "string", v)),
        }
    }

    pub fn req_str(&self, field: &str) -> CmdResult<&'a str> {
        self.str(field)?.ok_or_else(|| missing(self.name, field))
    }

    pub fn doc(&self, field: &str) -> CmdResult<Option<&'a Document>> {
        match self.get(field) {
            None => Ok(None),
            Some(Bson::Document(d)) => Ok(Some(d)),
            Some(v) => Err(mismatch(self.name, field, "object", v)),
        }
    }

    pub fn array(&self, field: &str) -> CmdResult<Option<&'a Vec<Bson>>> {
        match self.get(field) {
            None => Ok(None),
            Some(Bson::Array(a)) => Ok(Some(a)),
            Some(v) => Err(mismatch(self.name, field, "array", v)),
        }
    }

    /// The command's `let` variables (MongoDB 5.0+), evaluated once; no
    /// variables when absent.
    pub fn let_vars(&self) -> CmdResult<argon_query::expr::Vars> {
        let now = bson::DateTime::now();
        match self.doc("let")? {
            Some(spec) => Ok(argon_query::expr::command_let(spec, now)?),
            None => Ok(argon_query::expr::Vars::new(now)),
        }
    }

    /// An array whose elements must all be documents.
    pub fn docs(&self, field: &str) -> CmdResult<Option<Vec<&'a Document>>> {
        let Some(a) = self.array(field)? else { return Ok(None) };
        a.iter()
            .enumerate()
            .map(|(i, v)| match v {
                Bson::Document(d) => Ok(d),
                v => Err(mismatch(self.name, &format!("{field}.{i}"), "object", v)),
            })
            .collect::<CmdResult<Vec<_>>>()
            .map(Some)
    }

    pub fn bool(&self, field: &str) -> CmdResult<Option<bool>> {
        match self.get(field) {
            None => Ok(None),
            Some(Bson::Boolean(b)) => Ok(Some(*b)),
            Some(Bson::Int32(i)) => Ok(Some(*i != 0)),
            Some(Bson::Int64(i)) => Ok(Some(*i != 0)),
            Some(Bson::Double(d)) => Ok(Some(*d != 0.0)),
            Some(v) => Err(mismatch(self.name, field, "bool", v)),
        }
    }

    /// A whole number (int, long, or a double without fraction).
    pub fn i64(&self, field: &str) -> CmdResult<Option<i64>> {
        match self.get(field) {
            None => Ok(None),
            Some(Bson::Int32(i)) => Ok(Some(*i as i64)),
            Some(Bson::Int64(i)) => Ok(Some(*i)),
            Some(Bson::Double(d)) if d.fract() == 0.0 && d.is_finite() => Ok(Some(*d as i64)),
            Some(Bson::Double(d)) => Err(CommandError::new(
                crate::error::code::FAILED_TO_PARSE,
                format!("Expected field {field} to have a whole number value, but found {d}"),
            )),
            Some(v) => Err(mismatch(self.name, field, "long", v)),
        }
    }

    /// A non-negative whole number.
    pub fn non_negative(&self, field: &str) -> CmdResult<Option<i64>> {
        match self.i64(field)? {
            Some(n) if n < 0 => {
                Err(CommandError::bad_value(format!("{field} value must be non-negative, but received: {n}")))
            }
            other => Ok(other),
        }
    }
}

pub fn missing(cmd: &str, field: &str) -> CommandError {
    CommandError::new(
        crate::error::code::FAILED_TO_PARSE,
        format!("BSON field '{cmd}.{field}' is missing but a required field"),
    )
}

/// The command's target collection: the string value of its first field.
pub fn collection_name(cmd: &Document, name: &str) -> CmdResult<String> {
    match cmd.get(name) {
        Some(Bson::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Bson::String(_)) => Err(CommandError::new(
            crate::error::code::INVALID_NAMESPACE,
            "Invalid namespace specified: collection name is empty",
        )),
        Some(v) => Err(CommandError::new(
            crate::error::code::INVALID_NAMESPACE,
            format!("collection name has invalid type {}", type_name(v)),
        )),
        None => Err(missing(name, name)),
    }
}

/// The statements of a write command (`updates`, `deletes`) and its
/// `ordered` flag (default true).
pub fn statements(cmd: &Document, name: &str, field: &str) -> CmdResult<(Vec<Document>, bool)> {
    let a = Args::new(cmd, name);
    let stmts = a.docs(field)?.ok_or_else(|| missing(name, field))?.into_iter().cloned().collect();
    Ok((stmts, a.bool("ordered")?.unwrap_or(true)))
}
