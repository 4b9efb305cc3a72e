//! The `let` option of commands (`find`, `aggregate`, `update`, `delete`,
//! `findAndModify`): user variables bound once for the whole command.
//!
//! ```text
//! let: {a: <expr>, b: <expr using $$a>}
//!   each name checked (lowercase first letter), each expression parsed with
//!   the names before it in scope and evaluated once against no document
//!   ─▶ Vars { a, b }  ─▶ $$a, $$b in $expr, pipelines, pipeline updates
//! ```

use bson::{Bson, Document};

use super::{validate_variable_name_for_write, Expression, Vars};
use crate::error::{ErrorCode, QueryError, Result};

const L4890500: ErrorCode = ErrorCode { code: 4890500, name: "Location4890500" };

/// Evaluates a command's `let` document into variables (with `$$NOW` at
/// `now`). Each value is a constant expression: it may use system
/// variables and the variables defined before it, not document fields.
pub fn command_let(spec: &Document, now: bson::DateTime) -> Result<Vars> {
    let mut vars = Vars::new(now);
    let mut names: Vec<String> = Vec::with_capacity(spec.len());
    let empty = Document::new();
    for (name, value) in spec {
        validate_variable_name_for_write(name)?;
        let expr = Expression::parse_with_vars(value, &names)?;
        let deps = expr.dependencies();
        if deps.needs_whole_document() || !deps.fields().is_empty() {
            return Err(QueryError::new(
                L4890500,
                "Command let Expression tried to implicitly reference ROOT/CURRENT",
            ));
        }
        let v = expr.evaluate(&empty, &vars)?.unwrap_or(Bson::Null);
        vars.set(name.clone(), v);
        names.push(name.clone());
    }
    Ok(vars)
}

/// The names of the user variables bound in `vars`, for parsing
/// expressions that may read them.
pub fn names(vars: &Vars) -> Vec<String> {
    vars.names().map(str::to_string).collect()
}
