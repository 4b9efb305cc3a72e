//! `arrayFilters`: the conditions `$[<identifier>]` selects elements by.
//!
//! Each filter names one identifier (the first component of its paths,
//! `x` in `{"x.grade": {$gte: 85}}`) and is matched against the document
//! `{<identifier>: <element>}`.

use bson::{Bson, Document};

use super::{Component, FieldUpdate};
use crate::display;
use crate::error::{codes, err, Result};
use crate::filter::Filter;

#[derive(Clone, Debug, Default)]
pub(crate) struct ArrayFilters {
    filters: Vec<(String, Filter)>,
}

fn collect_identifiers(doc: &Document, out: &mut Vec<String>) -> Result<()> {
    for (k, v) in doc {
        if let Some(op) = k.strip_prefix('$') {
            match (op, v) {
                ("and" | "or" | "nor", Bson::Array(items)) => {
                    for item in items {
                        if let Bson::Document(d) = item {
                            collect_identifiers(d, out)?;
                        }
                    }
                }
                ("comment", _) => {}
                _ => {}
            }
            continue;
        }
        let id = k.split('.').next().unwrap_or_default().to_string();
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(())
}

fn valid_identifier(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase()) && chars.all(|c| c.is_ascii_alphanumeric())
}

impl ArrayFilters {
    pub(crate) fn parse(docs: &[Document]) -> Result<ArrayFilters> {
        let mut filters: Vec<(String, Filter)> = Vec::with_capacity(docs.len());
        for d in docs {
            let mut ids = Vec::new();
            collect_identifiers(d, &mut ids)?;
            let id = match ids.as_slice() {
                [] => {
                    return err(
                        codes::FAILED_TO_PARSE,
                        "Cannot use an expression without a top-level field name in arrayFilters",
                    )
                }
                [one] => one.clone(),
                [a, b, ..] => {
                    return err(
                        codes::FAILED_TO_PARSE,
                        format!(
                            "Error parsing array filter :: caused by :: Expected a single top-level field name, found '{a}' and '{b}'"
                        ),
                    )
                }
            };
            if !valid_identifier(&id) {
                return err(
                    codes::BAD_VALUE,
                    format!(
                        "Error parsing array filter :: caused by :: The top-level field name must be an alphanumeric string beginning with a lowercase letter, found '{id}'"
                    ),
                );
            }
            if filters.iter().any(|(existing, _)| *existing == id) {
                return err(
                    codes::FAILED_TO_PARSE,
                    format!("Found multiple array filters with the same top-level field name {id}"),
                );
            }
            let filter = Filter::parse(d).map_err(|e| e.caused_by("Error parsing array filter"))?;
            filters.push((id, filter));
        }
        Ok(ArrayFilters { filters })
    }

    pub(crate) fn get(&self, id: &str) -> Option<&Filter> {
        self.filters.iter().find(|(i, _)| i == id).map(|(_, f)| f)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.filters.is_empty()
    }

    /// Every `$[id]` needs a filter, and every filter must be used.
    pub(crate) fn check_all_used(&self, updates: &[FieldUpdate], source: &Bson) -> Result<()> {
        let mut used: Vec<&str> = Vec::new();
        for fu in updates {
            for part in &fu.path.parts {
                if let Component::Filtered(id) = part {
                    if self.get(id).is_none() {
                        return err(
                            codes::BAD_VALUE,
                            format!(
                                "No array filter found for identifier '{id}' in path '{}'",
                                fu.path.dotted
                            ),
                        );
                    }
                    used.push(id);
                }
            }
        }
        for (id, _) in &self.filters {
            if !used.contains(&id.as_str()) {
                return err(
                    codes::FAILED_TO_PARSE,
                    format!(
                        "The array filter for identifier '{id}' was not used in the update {}",
                        display::value(source)
                    ),
                );
            }
        }
        Ok(())
    }
}
