//! Choosing how to find a query's documents: a point read by `_id`, a
//! secondary index scan, or a collection scan.
//!
//! An index is used when the filter constrains its first key field at top
//! level (directly or inside a top-level `$and`) with an equality on a
//! scalar, an `$in` of scalars, or a range bound. The index produces
//! candidates only: every candidate is re-checked against the whole filter,
//! so a plan can be looser than the filter but never miss a document.
//! Multikey indexes make combining a lower and an upper bound unsafe (one
//! element may satisfy each), so a range uses one side only, up to the edge
//! of the value's type bracket. Sparse and partial indexes are used only
//! when hinted, since they may not hold every matching document.

use std::ops::Bound;

use argon_store::{CollectionMeta, IndexDef};
use argon_types::keycodec;
use bson::{Bson, Document};

use crate::error::{code, CmdResult, CommandError};

/// One key range of an index, on encoded key prefixes.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyRange {
    pub lower: Bound<Vec<u8>>,
    pub upper: Bound<Vec<u8>>,
}

/// How a query finds its candidates.
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    /// `_id` pinned to one value.
    IdPoint(Bson),
    /// Scan these ranges of a secondary index.
    Index { name: String, ranges: Vec<KeyRange> },
    /// Read every document.
    CollScan,
}

impl Plan {
    /// The stage name `explain` reports.
    pub fn stage(&self) -> &'static str {
        match self {
            Plan::IdPoint(_) => "IDHACK",
            Plan::Index { .. } => "IXSCAN",
            Plan::CollScan => "COLLSCAN",
        }
    }
}

fn scalar(v: &Bson) -> bool {
    !matches!(
        v,
        Bson::Document(_) | Bson::Array(_) | Bson::RegularExpression(_) | Bson::Null | Bson::Undefined
    )
}

/// Top-level conditions on `path`, looking inside a top-level `$and`.
fn conditions<'a>(filter: &'a Document, path: &str, out: &mut Vec<&'a Bson>) {
    for (k, v) in filter {
        if k == path {
            out.push(v);
        } else if k == "$and" {
            if let Bson::Array(items) = v {
                for item in items {
                    if let Bson::Document(d) = item {
                        conditions(d, path, out);
                    }
                }
            }
        }
    }
}

/// Key ranges for one condition on the index's first field, if it has some.
fn ranges_for(def: &IndexDef, cond: &Bson) -> Option<Vec<KeyRange>> {
    let point = |v: &Bson| {
        let k = def.encode_field(0, v);
        KeyRange { lower: Bound::Included(k.clone()), upper: Bound::Included(k) }
    };
    let descending = def.fields.first().is_some_and(|f| f.descending);
    match cond {
        Bson::Document(ops) if ops.keys().next().is_some_and(|k| k.starts_with('$')) => {
            if let Some(v) = ops.get("$eq").filter(|v| scalar(v)) {
                return Some(vec![point(v)]);
            }
            if let Some(Bson::Array(vs)) = ops.get("$in") {
                if !vs.is_empty() && vs.iter().all(scalar) {
                    return Some(vs.iter().map(point).collect());
                }
            }
            if descending {
                return None;
            }
            // One side of a range, to the edge of the value's type bracket.
            for (op, inclusive, is_lower) in
                [("$gt", false, true), ("$gte", true, true), ("$lt", false, false), ("$lte", true, false)]
            {
                if let Some(v) = ops.get(op).filter(|v| scalar(v)) {
                    let k = def.encode_field(0, v);
                    let class = keycodec::type_class(v);
                    let bound = if inclusive { Bound::Included(k) } else { Bound::Excluded(k) };
                    return Some(vec![if is_lower {
                        KeyRange { lower: bound, upper: Bound::Excluded(vec![class + 1]) }
                    } else {
                        KeyRange { lower: Bound::Included(vec![class]), upper: bound }
                    }]);
                }
            }
            None
        }
        v if scalar(v) => Some(vec![point(v)]),
        _ => None,
    }
}

/// Chooses a plan for `filter` on a collection.
pub fn plan(filter: &Document, coll: Option<&CollectionMeta>, hint: Option<&Bson>) -> CmdResult<Plan> {
    let mut ids = Vec::new();
    conditions(filter, "_id", &mut ids);
    if hint.is_none() {
        for c in &ids {
            match c {
                Bson::Document(ops) if ops.len() == 1 => {
                    if let Some(v) = ops.get("$eq").filter(|v| scalar(v)) {
                        return Ok(Plan::IdPoint(v.clone()));
                    }
                }
                v if scalar(v) => return Ok(Plan::IdPoint((*v).clone())),
                _ => {}
            }
        }
    }
    let Some(coll) = coll else { return Ok(Plan::CollScan) };
    // A hint names an index (or its key pattern) to use, or $natural.
    let hinted = match hint {
        None => None,
        Some(Bson::String(name)) => {
            Some(coll.indexes.iter().find(|i| i.name() == name).ok_or_else(|| {
                CommandError::new(
                    code::BAD_VALUE,
                    format!("hint provided does not correspond to an existing index: {name}"),
                )
            })?)
        }
        Some(Bson::Document(k)) if k.contains_key("$natural") => return Ok(Plan::CollScan),
        Some(Bson::Document(k)) if k == &bson::doc! {"_id": 1} => return Ok(Plan::CollScan),
        Some(Bson::Document(k)) => Some(
            coll.indexes.iter().find(|i| i.spec.get_document("key").ok() == Some(k)).ok_or_else(|| {
                CommandError::new(
                    code::BAD_VALUE,
                    format!("hint provided does not correspond to an existing index: {k}"),
                )
            })?,
        ),
        Some(_) => return Err(CommandError::bad_value("hint must be a string or an object")),
    };
    let candidates: Vec<_> = match hinted {
        Some(ix) => vec![ix],
        None => coll
            .indexes
            .iter()
            .filter(|i| {
                !i.spec.get_bool("sparse").unwrap_or(false) && !i.spec.contains_key("partialFilterExpression")
            })
            .collect(),
    };
    // Prefer an equality ($eq/$in) plan over a range plan.
    let mut best: Option<(bool, Plan)> = None;
    for ix in candidates {
        let def = IndexDef::from_spec(&ix.spec);
        let Some(first) = def.fields.first() else { continue };
        if matches!(ix.spec.get_document("key").ok().and_then(|k| k.get(&first.path)), Some(Bson::String(_)))
        {
            continue; // text, 2d, hashed: not ordered by value
        }
        let mut conds = Vec::new();
        conditions(filter, &first.path, &mut conds);
        for c in conds {
            if let Some(ranges) = ranges_for(&def, c) {
                let is_eq = ranges.iter().all(|r| r.lower == r.upper);
                let plan = Plan::Index { name: ix.name().to_string(), ranges };
                if best.as_ref().is_none_or(|(eq, _)| is_eq && !eq) {
                    best = Some((is_eq, plan));
                }
            }
        }
        if hinted.is_some() && best.is_none() {
            // A hinted index without usable bounds is scanned whole.
            best = Some((
                false,
                Plan::Index {
                    name: ix.name().to_string(),
                    ranges: vec![KeyRange { lower: Bound::Unbounded, upper: Bound::Unbounded }],
                },
            ));
        }
    }
    Ok(best.map(|(_, p)| p).unwrap_or(Plan::CollScan))
}
