//! Walking an update path through a document: creating missing
//! documents, indexing and padding arrays, expanding `$`, `$[]` and
//! `$[id]`, and handing the named field to the operator.

use bson::{Bson, Document};

use super::{ApplyCtx, Component, FieldUpdate, UpdateOp, UpdatePath};
use crate::display;
use crate::error::{codes, err, QueryError, Result};
use crate::path::parse_index;

/// The field an update operator works on: a document field or an array
/// slot (which may be past the end; setting it pads with nulls).
pub(crate) enum Leaf<'a> {
    Field(&'a mut Document, &'a str),
    Elem(&'a mut Vec<Bson>, usize),
}

impl Leaf<'_> {
    pub(crate) fn name(&self) -> String {
        match self {
            Leaf::Field(_, name) => name.to_string(),
            Leaf::Elem(_, i) => i.to_string(),
        }
    }

    pub(crate) fn get(&self) -> Option<&Bson> {
        match self {
            Leaf::Field(d, name) => d.get(*name),
            Leaf::Elem(a, i) => a.get(*i),
        }
    }

    pub(crate) fn get_mut(&mut self) -> Option<&mut Bson> {
        match self {
            Leaf::Field(d, name) => d.get_mut(*name),
            Leaf::Elem(a, i) => a.get_mut(*i),
        }
    }

    pub(crate) fn set(&mut self, v: Bson) {
        match self {
            Leaf::Field(d, name) => {
                d.insert(name.to_string(), v);
            }
            Leaf::Elem(a, i) => {
                while a.len() <= *i {
                    a.push(Bson::Null);
                }
                a[*i] = v;
            }
        }
    }

    /// `$unset`: removes a field; an array element becomes null.
    pub(crate) fn remove(&mut self) {
        match self {
            Leaf::Field(d, name) => {
                d.remove(*name);
            }
            Leaf::Elem(a, i) => {
                if let Some(slot) = a.get_mut(*i) {
                    *slot = Bson::Null;
                }
            }
        }
    }
}

/// MongoDB refuses to pad an array with nulls beyond this many elements.
const MAX_BACKFILL: usize = 1_500_000;

struct Walk<'a, 'c> {
    update: &'a FieldUpdate,
    ctx: &'a ApplyCtx<'c>,
    creates: bool,
}

pub(crate) fn apply_field_update(doc: &mut Document, fu: &FieldUpdate, ctx: &ApplyCtx) -> Result<()> {
    if let UpdateOp::Rename { to } = &fu.op {
        return rename(doc, &fu.path, to, ctx);
    }
    if matches!(fu.op, UpdateOp::SetOnInsert(_)) && !ctx.inserting {
        return Ok(());
    }
    let w = Walk { update: fu, ctx, creates: fu.op.creates(ctx) };
    w.in_document(doc, 0)
}

fn cannot_create(field: &Component, parent_name: &str, parent: &Bson) -> QueryError {
    QueryError::new(
        codes::PATH_NOT_VIABLE,
        format!(
            "Cannot create field '{}' in element {{{}}}",
            field.text(),
            display::element(parent_name, parent)
        ),
    )
}

fn is_array_component(c: &Component) -> bool {
    matches!(c, Component::Positional | Component::All | Component::Filtered(_))
}

impl Walk<'_, '_> {
    fn parts(&self) -> &[Component] {
        &self.update.path.parts
    }

    fn prefix(&self, upto: usize) -> String {
        self.parts()[..upto].iter().map(Component::text).collect::<Vec<_>>().join(".")
    }

    fn leaf(&self, mut leaf: Leaf) -> Result<()> {
        self.update.op.apply(&mut leaf, &self.update.path.dotted, self.ctx)
    }

    fn in_document(&self, d: &mut Document, i: usize) -> Result<()> {
        let parts = self.parts();
        let last = i + 1 == parts.len();
        let name = match &parts[i] {
            Component::Field(name) => name,
            other => {
                // $, $[] or $[id] applied to a document.
                let parent = self.prefix(i);
                if other == &Component::Positional && self.ctx.position.is_none() {
                    return err(
                        codes::BAD_VALUE,
                        "The positional operator did not find the match needed from the query.",
                    );
                }
                return err(
                    codes::BAD_VALUE,
                    format!(
                        "Cannot apply array updates to non-array element {}",
                        display::element(&parent, &Bson::Document(d.clone()))
                    ),
                );
            }
        };
        if last {
            return self.leaf(Leaf::Field(d, name));
        }
        let next = &parts[i + 1];
        match d.get_mut(name) {
            Some(Bson::Document(child)) => self.in_document(child, i + 1),
            Some(Bson::Array(items)) => self.in_array(items, i + 1, name),
            Some(other) => {
                if !self.creates {
                    return Ok(());
                }
                if is_array_component(next) {
                    return self.array_update_on_non_array(i + 1, name, other);
                }
                Err(cannot_create(next, name, other))
            }
            None => {
                if !self.creates {
                    return Ok(());
                }
                if is_array_component(next) {
                    if next == &Component::Positional && self.ctx.position.is_none() {
                        return err(
                            codes::BAD_VALUE,
                            "The positional operator did not find the match needed from the query.",
                        );
                    }
                    return err(
                        codes::BAD_VALUE,
                        format!(
                            "The path '{}' must exist in the document in order to apply array updates.",
                            self.prefix(i + 1)
                        ),
                    );
                }
                d.insert(name.clone(), Bson::Document(Document::new()));
                let Some(Bson::Document(child)) = d.get_mut(name) else { unreachable!() };
                self.in_document(child, i + 1)
            }
        }
    }

    fn array_update_on_non_array(&self, i: usize, name: &str, value: &Bson) -> Result<()> {
        if self.parts()[i] == Component::Positional && self.ctx.position.is_none() {
            return err(
                codes::BAD_VALUE,
                "The positional operator did not find the match needed from the query.",
            );
        }
        err(
            codes::BAD_VALUE,
            format!("Cannot apply array updates to non-array element {}", display::element(name, value)),
        )
    }

    /// `items` is the array at `parts[..i]`; `name` its field name.
    fn in_array(&self, items: &mut Vec<Bson>, i: usize, name: &str) -> Result<()> {
        let parts = self.parts();
        match &parts[i] {
            Component::Field(f) => match parse_index(f) {
                Some(idx) => self.at_index(items, idx, i),
                None => {
                    if self.creates {
                        Err(cannot_create(&parts[i], name, &Bson::Array(items.clone())))
                    } else {
                        Ok(())
                    }
                }
            },
            Component::Positional => match self.ctx.position {
                Some(idx) => self.at_index(items, idx, i),
                None => err(
                    codes::BAD_VALUE,
                    "The positional operator did not find the match needed from the query.",
                ),
            },
            Component::All => {
                for idx in 0..items.len() {
                    self.at_index(items, idx, i)?;
                }
                Ok(())
            }
            Component::Filtered(id) => {
                let Some(filter) = self.ctx.array_filters.get(id) else {
                    return err(
                        codes::BAD_VALUE,
                        format!(
                            "No array filter found for identifier '{id}' in path '{}'",
                            self.update.path.dotted
                        ),
                    );
                };
                let matching: Vec<usize> = items
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| filter.matches(&bson::doc! {id.clone(): (*v).clone()}))
                    .map(|(i, _)| i)
                    .collect();
                for idx in matching {
                    self.at_index(items, idx, i)?;
                }
                Ok(())
            }
        }
    }

    fn at_index(&self, items: &mut Vec<Bson>, idx: usize, i: usize) -> Result<()> {
        let parts = self.parts();
        if idx >= items.len() && idx > MAX_BACKFILL && self.creates {
            return err(codes::BAD_VALUE, "can't backfill array to larger than 1500000 elements");
        }
        if i + 1 == parts.len() {
            return self.leaf(Leaf::Elem(items, idx));
        }
        let next = &parts[i + 1];
        let idx_name = idx.to_string();
        match items.get_mut(idx) {
            Some(Bson::Document(child)) => self.in_document(child, i + 1),
            Some(Bson::Array(inner)) => self.in_array(inner, i + 1, &idx_name),
            Some(other) => {
                if !self.creates {
                    return Ok(());
                }
                if is_array_component(next) {
                    return self.array_update_on_non_array(i + 1, &idx_name, other);
                }
                Err(cannot_create(next, &idx_name, other))
            }
            None => {
                if !self.creates {
                    return Ok(());
                }
                if is_array_component(next) {
                    return err(
                        codes::BAD_VALUE,
                        format!(
                            "The path '{}' must exist in the document in order to apply array updates.",
                            self.prefix(i + 1)
                        ),
                    );
                }
                while items.len() < idx {
                    items.push(Bson::Null);
                }
                items.push(Bson::Document(Document::new()));
                let Some(Bson::Document(child)) = items.get_mut(idx) else { unreachable!() };
                self.in_document(child, i + 1)
            }
        }
    }
}

/// `$rename`: moves a value between document paths (no arrays allowed on
/// either path).
fn rename(doc: &mut Document, from: &UpdatePath, to: &UpdatePath, ctx: &ApplyCtx) -> Result<()> {
    let names = |p: &UpdatePath| -> Vec<String> {
        p.parts
            .iter()
            .map(|c| match c {
                Component::Field(f) => f.clone(),
                other => other.text(),
            })
            .collect()
    };
    let from_parts = names(from);
    // Find the source, refusing to look inside arrays.
    let mut cur: &Document = doc;
    for (i, p) in from_parts.iter().enumerate() {
        match cur.get(p) {
            None => return Ok(()),
            Some(v) if i + 1 == from_parts.len() => {
                let _ = v;
            }
            Some(Bson::Document(d)) => cur = d,
            Some(Bson::Array(_)) => {
                return err(
                    codes::BAD_VALUE,
                    format!(
                        "The source field cannot be an array element, '{}' in doc with {} has an array field called '{p}'",
                        from.dotted,
                        crate::display::element("_id", ctx.id.as_ref().unwrap_or(&Bson::Null))
                    ),
                )
            }
            Some(_) => return Ok(()),
        }
    }
    // The destination must not go through an array either.
    let to_parts = names(to);
    let mut probe: &Document = doc;
    for p in &to_parts[..to_parts.len() - 1] {
        match probe.get(p) {
            Some(Bson::Document(d)) => probe = d,
            Some(Bson::Array(_)) => {
                return err(
                    codes::BAD_VALUE,
                    format!(
                        "The destination field cannot be an array element, '{}' in doc with {} has an array field called '{p}'",
                        to.dotted,
                        crate::display::element("_id", ctx.id.as_ref().unwrap_or(&Bson::Null))
                    ),
                )
            }
            _ => break,
        }
    }
    // Remove the source.
    let value = {
        let mut cur: &mut Document = doc;
        for p in &from_parts[..from_parts.len() - 1] {
            let Some(Bson::Document(d)) = cur.get_mut(p) else { return Ok(()) };
            cur = d;
        }
        match cur.remove(from_parts.last().expect("non-empty path")) {
            Some(v) => v,
            None => return Ok(()),
        }
    };
    let set = FieldUpdate { path: to.clone(), op: UpdateOp::Set(value) };
    let w = Walk { update: &set, ctx, creates: true };
    w.in_document(doc, 0)
}
