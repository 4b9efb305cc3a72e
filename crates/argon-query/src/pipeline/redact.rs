//! `$redact`: keeps, prunes or descends into each embedded document by an
//! expression evaluated at that level.
//!
//! ```text
//! doc ─▶ eval expr (fields of this level) ─▶ $$KEEP    → the level as it is
//!                                        ├─▶ $$PRUNE   → dropped
//!                                        └─▶ $$DESCEND → the level's scalars,
//!                                             each sub-document redacted, and
//!                                             arrays with their documents
//!                                             redacted (nested arrays too)
//! ```
//!
//! The expression sees the current level as `$$CURRENT` and as the base of
//! its field paths. Unlike MongoDB, `$$ROOT` is the current level too.

use bson::{Bson, Document};

use super::{DocStream, Env};
use crate::deps::Deps;
use crate::error::{ErrorCode, QueryError, Result};
use crate::expr::{Expression, Vars};

const L17053: ErrorCode = ErrorCode { code: 17053, name: "Location17053" };

const DESCEND: &str = "descend";
const PRUNE: &str = "prune";
const KEEP: &str = "keep";

#[derive(Clone, Debug)]
pub(crate) struct Redact {
    expr: Expression,
}

enum Decision {
    Keep,
    Prune,
    Descend,
}

impl Redact {
    pub(crate) fn parse(arg: &Bson, vars: &[String]) -> Result<Redact> {
        let mut names = vars.to_vec();
        names.extend(["DESCEND", "PRUNE", "KEEP"].map(String::from));
        Ok(Redact { expr: Expression::parse_with_vars(arg, &names)? })
    }

    pub(crate) fn dependencies(&self) -> Deps {
        // Every level is read, under any field name.
        Deps::whole_document()
    }

    pub(crate) fn apply<'a>(&'a self, input: DocStream<'a>, env: &'a Env<'a>) -> DocStream<'a> {
        let vars = env
            .vars
            .clone()
            .with("DESCEND", Bson::String(DESCEND.into()))
            .with("PRUNE", Bson::String(PRUNE.into()))
            .with("KEEP", Bson::String(KEEP.into()));
        Box::new(input.filter_map(move |d| match d {
            Ok(doc) => self.redact_document(doc, &vars).transpose(),
            Err(e) => Some(Err(e)),
        }))
    }

    fn decide(&self, doc: &Document, vars: &Vars) -> Result<Decision> {
        let v = self.expr.evaluate(doc, vars)?;
        match &v {
            Some(Bson::String(s)) if s == KEEP => Ok(Decision::Keep),
            Some(Bson::String(s)) if s == PRUNE => Ok(Decision::Prune),
            Some(Bson::String(s)) if s == DESCEND => Ok(Decision::Descend),
            other => {
                let shown = match other {
                    Some(v) => crate::display::value(v),
                    None => "MISSING".to_string(),
                };
                Err(QueryError::new(
                    L17053,
                    format!(
                        "$redact's expression should not return anything aside from the variables $$KEEP, $$DESCEND, and $$PRUNE, but returned {shown}"
                    ),
                ))
            }
        }
    }

    /// The redacted document, or `None` when it is pruned.
    fn redact_document(&self, doc: Document, vars: &Vars) -> Result<Option<Document>> {
        match self.decide(&doc, vars)? {
            Decision::Keep => Ok(Some(doc)),
            Decision::Prune => Ok(None),
            Decision::Descend => {
                let mut out = Document::new();
                for (k, v) in doc {
                    match v {
                        Bson::Document(sub) => {
                            if let Some(kept) = self.redact_document(sub, vars)? {
                                out.insert(k, Bson::Document(kept));
                            }
                        }
                        Bson::Array(items) => {
                            out.insert(k, Bson::Array(self.redact_array(items, vars)?));
                        }
                        other => {
                            out.insert(k, other);
                        }
                    }
                }
                Ok(Some(out))
            }
        }
    }

    fn redact_array(&self, items: Vec<Bson>, vars: &Vars) -> Result<Vec<Bson>> {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Bson::Document(sub) => {
                    if let Some(kept) = self.redact_document(sub, vars)? {
                        out.push(Bson::Document(kept));
                    }
                }
                Bson::Array(inner) => out.push(Bson::Array(self.redact_array(inner, vars)?)),
                other => out.push(other),
            }
        }
        Ok(out)
    }
}
