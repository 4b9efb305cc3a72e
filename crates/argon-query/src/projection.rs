//! Projections: `find`'s `projection` and the aggregation stages
//! `$project`, `$addFields`/`$set` and `$unset`.
//!
//! A spec is parsed into a tree keyed by path component, so `{"a.b": 1,
//! "a.c": 1}` and `{a: {b: 1, c: 1}}` are the same tree. A projection is
//! either an inclusion (only the named fields, plus `_id` unless excluded,
//! plus computed fields) or an exclusion (everything but the named fields);
//! mixing the two is MongoDB error 31253/31254. `find` also supports
//! `$slice`, `$elemMatch` and the positional `a.$`.

use bson::{Bson, Document};

use crate::deps::Deps;
use crate::error::{codes, err, QueryError, Result};
use crate::expr::{Expression, Vars};
use crate::filter::Filter;

/// Which language the spec is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProjectionKind {
    /// `find`/`findAndModify` projections (`$slice`, `$elemMatch`, `a.$`).
    Find,
    /// The `$project` stage.
    Project,
    /// `$addFields`/`$set`: every field is computed and merged in.
    AddFields,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Inclusion,
    Exclusion,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Node {
    items: Vec<(String, Item)>,
}

#[derive(Clone, Debug)]
enum Item {
    Include,
    Exclude,
    Sub(Node),
    Computed(Expression),
    /// `$slice: limit` or `$slice: [skip, limit]`.
    Slice {
        skip: Option<i64>,
        limit: i64,
    },
    /// `$elemMatch`: the filter `{<field>: {$elemMatch: ...}}`.
    ElemMatch(Box<Filter>),
    /// `<field>.$`.
    Positional,
}

impl Node {
    fn get(&self, name: &str) -> Option<&Item> {
        self.items.iter().find(|(k, _)| k == name).map(|(_, i)| i)
    }

    fn has_computed(&self) -> bool {
        self.items.iter().any(|(_, i)| match i {
            Item::Computed(_) => true,
            Item::Sub(n) => n.has_computed(),
            _ => false,
        })
    }
}

/// A parsed projection.
#[derive(Clone, Debug)]
pub struct Projection {
    kind: ProjectionKind,
    mode: Mode,
    root: Node,
    /// `{}` in `find`: the document unchanged.
    identity: bool,
    /// `_id` is included unless excluded explicitly.
    id_excluded: bool,
    positional: bool,
    /// `find`'s `{<field>: {$meta: "textScore"}}`: fields set to the text
    /// score, whatever the mode.
    text_score_fields: Vec<String>,
    /// The command's `let` variables, for a `find` projection's expressions.
    lets: Vars,
}

fn path_collision(path: &str, remaining: Option<&str>) -> QueryError {
    match remaining {
        Some(rest) => {
            QueryError::new(codes::L31249, format!("Path collision at {path} remaining portion {rest}"))
        }
        None => QueryError::new(codes::L31250, format!("Path collision at {path}")),
    }
}

/// The fields computed items of a projection tree read.
fn node_deps(node: &Node, deps: &mut Deps) {
    for (_, item) in &node.items {
        match item {
            Item::Computed(e) => deps.extend(e.dependencies()),
            Item::Sub(n) => node_deps(n, deps),
            Item::ElemMatch(f) => deps.extend(f.dependencies()),
            _ => {}
        }
    }
}

/// Inserts `item` at the dotted `path` of the tree, rejecting paths that
/// overlap ones already present.
fn insert(root: &mut Node, path: &str, item: Item) -> Result<()> {
    let parts: Vec<&str> = path.split('.').collect();
    let mut node = root;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let pos = node.items.iter().position(|(k, _)| k == part);
        if last {
            if pos.is_some() {
                return Err(path_collision(path, None));
            }
            node.items.push((part.to_string(), item));
            return Ok(());
        }
        let idx = match pos {
            Some(idx) => {
                if !matches!(node.items[idx].1, Item::Sub(_)) {
                    return Err(path_collision(path, Some(&parts[i + 1..].join("."))));
                }
                idx
            }
            None => {
                node.items.push((part.to_string(), Item::Sub(Node::default())));
                node.items.len() - 1
            }
        };
        let Item::Sub(child) = &mut node.items[idx].1 else { unreachable!() };
        node = child;
    }
    Ok(())
}

/// 0/false exclude, other numbers and true include.
fn inclusion_value(v: &Bson) -> Option<bool> {
    match v {
        Bson::Boolean(b) => Some(*b),
        v if crate::numeric::is_number(v) => Some(crate::numeric::to_f64(v).is_some_and(|f| f != 0.0)),
        _ => None,
    }
}

struct Builder {
    kind: ProjectionKind,
    mode: Option<Mode>,
    root: Node,
    id_excluded: bool,
    positional: bool,
    vars: Vec<String>,
    text_score_fields: Vec<String>,
}

impl Builder {
    fn set_mode(&mut self, mode: Mode, path: &str) -> Result<()> {
        match (self.mode, mode) {
            (None, m) => self.mode = Some(m),
            (Some(Mode::Inclusion), Mode::Exclusion) => {
                return err(
                    codes::L31254,
                    format!("Cannot do exclusion on field {path} in inclusion projection"),
                )
            }
            (Some(Mode::Exclusion), Mode::Inclusion) => {
                return err(
                    codes::L31253,
                    format!("Cannot do inclusion on field {path} in exclusion projection"),
                )
            }
            _ => {}
        }
        Ok(())
    }

    fn add_spec(&mut self, prefix: &str, spec: &Document) -> Result<()> {
        for (key, value) in spec {
            let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
            self.add_field(&path, key, value)?;
        }
        Ok(())
    }

    fn add_field(&mut self, path: &str, key: &str, value: &Bson) -> Result<()> {
        validate_path(path, self.kind)?;
        if self.kind == ProjectionKind::AddFields {
            return self.add_computed_or_nested(path, value);
        }
        if let Some(base) = path.strip_suffix(".$") {
            if self.kind != ProjectionKind::Find {
                return err(codes::L31324, "Cannot use positional projection in aggregation projection");
            }
            if inclusion_value(value) == Some(false) {
                return err(codes::L31395, "positional projection cannot be used with exclusion");
            }
            if self.positional {
                return err(codes::L31276, "Cannot specify more than one positional projection per query.");
            }
            self.positional = true;
            self.set_mode(Mode::Inclusion, path)?;
            return insert(&mut self.root, base, Item::Positional);
        }
        if let Some(include) = inclusion_value(value) {
            if path == "_id" {
                self.id_excluded = !include;
                if include {
                    return insert(&mut self.root, path, Item::Include);
                }
                return insert(&mut self.root, path, Item::Exclude);
            }
            let mode = if include { Mode::Inclusion } else { Mode::Exclusion };
            self.set_mode(mode, path)?;
            return insert(&mut self.root, path, if include { Item::Include } else { Item::Exclude });
        }
        if let Bson::Document(d) = value {
            let first = d.keys().next().map(String::as_str);
            match first {
                None => {
                    return err(
                        codes::L51270,
                        format!(
                            "An empty sub-projection is not a valid value. Found empty object at path {path}"
                        ),
                    )
                }
                Some("$slice") if self.kind == ProjectionKind::Find && d.len() == 1 => {
                    if let Some(item) = parse_slice(&d["$slice"])? {
                        return insert(&mut self.root, path, item);
                    }
                }
                Some("$elemMatch") if self.kind == ProjectionKind::Find && d.len() == 1 => {
                    if path.contains('.') {
                        return err(codes::L31275, "Cannot use $elemMatch projection on a nested field.");
                    }
                    let Bson::Document(_) = &d["$elemMatch"] else {
                        return err(codes::BAD_VALUE, "$elemMatch needs an Object");
                    };
                    let filter = Filter::parse(&bson::doc! {key: {"$elemMatch": d["$elemMatch"].clone()}})?;
                    self.set_mode(Mode::Inclusion, path)?;
                    return insert(&mut self.root, path, Item::ElemMatch(Box::new(filter)));
                }
                Some("$meta") if self.kind == ProjectionKind::Find => {
                    if d.len() == 1 && d.get_str("$meta").ok() == Some("textScore") {
                        self.text_score_fields.push(path.to_string());
                    }
                    // Other metadata (search scores, ...) does not exist
                    // here: the field is left out, as MongoDB does for
                    // missing metadata.
                    return Ok(());
                }
                Some(k) if !k.starts_with('$') => {
                    // A nested projection: {a: {b: 1}} is {"a.b": 1}.
                    return self.add_spec(path, d);
                }
                _ => {}
            }
        }
        // Anything else is an aggregation expression (a computed field).
        if self.mode == Some(Mode::Exclusion) {
            return err(codes::L31252, "Cannot use expression other than $meta in exclusion projection");
        }
        if path != "_id" {
            self.set_mode(Mode::Inclusion, path)?;
        }
        let e = Expression::parse_with_vars(value, &self.vars)?;
        insert(&mut self.root, path, Item::Computed(e))
    }

    /// `$addFields`: nested objects without operators merge into the
    /// existing subdocument; everything else is computed.
    fn add_computed_or_nested(&mut self, path: &str, value: &Bson) -> Result<()> {
        if let Bson::Document(d) = value {
            if let Some(first) = d.keys().next() {
                if !first.starts_with('$') {
                    for (k, v) in d {
                        let sub = format!("{path}.{k}");
                        validate_path(&sub, self.kind)?;
                        self.add_computed_or_nested(&sub, v)?;
                    }
                    return Ok(());
                }
            }
        }
        let e = Expression::parse_with_vars(value, &self.vars)?;
        insert(&mut self.root, path, Item::Computed(e))
    }
}

/// Sets a dotted path, creating (or replacing non-document values with)
/// subdocuments on the way.
fn set_dotted(doc: &mut Document, path: &str, value: Bson) {
    match path.split_once('.') {
        None => {
            doc.insert(path, value);
        }
        Some((head, rest)) => {
            if !matches!(doc.get(head), Some(Bson::Document(_))) {
                doc.insert(head, Document::new());
            }
            if let Some(Bson::Document(sub)) = doc.get_mut(head) {
                set_dotted(sub, rest, value);
            }
        }
    }
}

fn validate_path(path: &str, kind: ProjectionKind) -> Result<()> {
    let body = path.strip_suffix(".$").unwrap_or(path);
    if body.is_empty() {
        return err(codes::L40352, "FieldPath cannot be constructed with empty string");
    }
    if body.ends_with('.') {
        return err(codes::L40353, "FieldPath must not end with a '.'.");
    }
    for part in body.split('.') {
        if part == "$" {
            return err(
                codes::L31394,
                "As of 4.4, it's illegal to specify positional operator in the middle of a path.Positional projection may only be used at the end, for example: a.b.$. If the query previously used a form like a.b.$.d, remove the parts following the '$' and the results will be equivalent.",
            );
        }
        if part.is_empty() {
            return err(codes::L15998, "FieldPath field names may not be empty strings.");
        }
        if part.starts_with('$')
            && kind != ProjectionKind::Find
            && !crate::expr::DOLLAR_FIELDS_ALLOWED.contains(&part)
        {
            return err(
                codes::L16410,
                "FieldPath field names may not start with '$'. Consider using $getField or $setField.",
            );
        }
    }
    Ok(())
}

/// `$slice` in a find projection: a number or `[skip, limit]`; `None` when
/// the argument is an aggregation expression instead.
fn parse_slice(arg: &Bson) -> Result<Option<Item>> {
    match arg {
        v if crate::numeric::is_number(v) => {
            let limit = crate::numeric::to_f64(v).unwrap_or(0.0);
            Ok(Some(Item::Slice { skip: None, limit: limit.clamp(i64::MIN as f64, i64::MAX as f64) as i64 }))
        }
        Bson::Array(items) if items.len() == 2 && items.iter().all(crate::numeric::is_number) => {
            let skip = crate::numeric::to_f64(&items[0]).unwrap_or(0.0) as i64;
            let limit = crate::numeric::to_f64(&items[1]).unwrap_or(0.0) as i64;
            if limit <= 0 {
                return err(codes::L31257, format!("$slice limit must be positive, got {limit}"));
            }
            Ok(Some(Item::Slice { skip: Some(skip), limit }))
        }
        _ => Ok(None),
    }
}

impl Projection {
    /// Parses a `find` projection.
    pub fn parse(spec: &Document) -> Result<Projection> {
        Self::parse_kind(spec, ProjectionKind::Find, &[])
    }

    /// Parses a projection of the given kind; `vars` are the user variables
    /// its expressions may use.
    pub fn parse_kind(spec: &Document, kind: ProjectionKind, vars: &[String]) -> Result<Projection> {
        let mut b = Builder {
            kind,
            mode: None,
            root: Node::default(),
            id_excluded: false,
            positional: false,
            vars: vars.to_vec(),
            text_score_fields: Vec::new(),
        };
        let wrap = |e: QueryError| match kind {
            ProjectionKind::Find => e,
            ProjectionKind::Project => e.caused_by("Invalid $project"),
            ProjectionKind::AddFields => e,
        };
        if spec.is_empty() && kind == ProjectionKind::Project {
            return Err(wrap(QueryError::new(
                codes::L51272,
                "projection specification must have at least one field",
            )));
        }
        b.add_spec("", spec).map_err(wrap)?;
        let mode = match (kind, b.mode) {
            (ProjectionKind::AddFields, _) => Mode::Inclusion,
            (_, Some(m)) => m,
            // Only _id (and $slice): {_id: 0} keeps every other field.
            (_, None) => {
                if b.root
                    .items
                    .iter()
                    .any(|(k, i)| k == "_id" && matches!(i, Item::Include | Item::Computed(_)))
                {
                    Mode::Inclusion
                } else {
                    Mode::Exclusion
                }
            }
        };
        Ok(Projection {
            kind,
            mode,
            identity: spec.is_empty(),
            root: b.root,
            id_excluded: b.id_excluded,
            positional: b.positional,
            text_score_fields: b.text_score_fields,
            lets: Vars::default(),
        })
    }

    /// Parses a `find` projection whose expressions may read the command's
    /// `let` variables (`$$name`); [`Projection::apply`] binds them.
    pub fn parse_with_let(spec: &Document, lets: &Vars) -> Result<Projection> {
        let mut p = Self::parse_kind(spec, ProjectionKind::Find, &crate::expr::let_names(lets))?;
        p.lets = lets.clone();
        Ok(p)
    }

    /// The fields of its input the projection reads, and whether its
    /// output is built only from them (an inclusion `$project`); otherwise
    /// (exclusion, `$addFields`, `find`) the input passes through and the
    /// fields later stages read are needed too.
    pub fn dependencies(&self) -> (Deps, bool) {
        let mut deps = Deps::none();
        if self.identity {
            return (deps, false);
        }
        let replaces = self.kind == ProjectionKind::Project && self.mode == Mode::Inclusion;
        if replaces {
            deps.add_field("_id");
            for (k, _) in &self.root.items {
                deps.add_field(k);
            }
        }
        node_deps(&self.root, &mut deps);
        if self.kind == ProjectionKind::Find {
            // $elemMatch and positional projections read their field.
            for (k, _) in &self.root.items {
                deps.add_field(k);
            }
        }
        (deps, replaces)
    }

    /// Whether this projection keeps only the named fields.
    pub fn is_inclusion(&self) -> bool {
        self.mode == Mode::Inclusion
    }

    /// Whether the projection uses the positional `$` (the caller must
    /// pass the query's filter to [`Projection::apply`]).
    pub fn needs_filter(&self) -> bool {
        self.positional
    }

    /// Applies the projection. `filter` is the query's filter, needed by a
    /// positional `a.$` projection to find the matched array element.
    pub fn apply(&self, doc: &Document, filter: Option<&Filter>) -> Result<Document> {
        self.apply_with_vars(doc, filter, &self.lets)
    }

    /// Whether the projection sets a field to the text score (`find`'s
    /// `{$meta: "textScore"}`).
    pub fn uses_text_score(&self) -> bool {
        !self.text_score_fields.is_empty()
    }

    /// Applies a `find` projection to a document whose text score is
    /// `score` (the server keeps scores beside documents).
    pub fn apply_scored(
        &self,
        doc: &Document,
        filter: Option<&Filter>,
        score: Option<f64>,
    ) -> Result<Document> {
        let mut out = self.apply(doc, filter)?;
        if let Some(score) = score {
            for path in &self.text_score_fields {
                set_dotted(&mut out, path, Bson::Double(score));
            }
        }
        Ok(out)
    }

    /// Applies the projection with variables for its expressions.
    pub fn apply_with_vars(&self, doc: &Document, filter: Option<&Filter>, vars: &Vars) -> Result<Document> {
        if self.identity {
            return Ok(doc.clone());
        }
        let ctx = ApplyCtx { root: doc, vars, position: self.position(doc, filter)? };
        if self.kind == ProjectionKind::AddFields {
            let mut out = doc.clone();
            set_computed(&mut out, &self.root, &ctx, true)?;
            return Ok(out);
        }
        match self.mode {
            Mode::Inclusion => {
                let mut out = Document::new();
                if !self.id_excluded && self.root.get("_id").is_none() {
                    if let Some(id) = doc.get("_id") {
                        out.insert("_id", id.clone());
                    }
                }
                include_document(doc, &self.root, &ctx, &mut out)?;
                set_computed(&mut out, &self.root, &ctx, false)?;
                Ok(out)
            }
            Mode::Exclusion => exclude_document(doc, &self.root, &ctx),
        }
    }

    fn position(&self, doc: &Document, filter: Option<&Filter>) -> Result<Option<usize>> {
        if !self.positional {
            return Ok(None);
        }
        let key = filter.and_then(|f| f.matches_with_details(doc)).and_then(|d| d.elem_match_key);
        match key {
            Some(k) => Ok(Some(k)),
            None => {
                err(codes::L51246, "positional operator '.$' couldn't find a matching element in the array")
            }
        }
    }
}

struct ApplyCtx<'a> {
    root: &'a Document,
    vars: &'a Vars,
    position: Option<usize>,
}

fn include_document(doc: &Document, node: &Node, ctx: &ApplyCtx, out: &mut Document) -> Result<()> {
    for (k, v) in doc {
        let Some(item) = node.get(k) else { continue };
        match item {
            Item::Include => {
                out.insert(k.clone(), v.clone());
            }
            Item::Sub(child) => {
                if let Some(x) = include_value(v, child, ctx)? {
                    out.insert(k.clone(), x);
                }
            }
            Item::Slice { skip, limit } => {
                out.insert(k.clone(), slice_value(v, *skip, *limit));
            }
            Item::ElemMatch(filter) => {
                let probe = bson::doc! {k.clone(): v.clone()};
                if let (Some(details), Bson::Array(items)) = (filter.matches_with_details(&probe), v) {
                    if let Some(i) = details.elem_match_key {
                        out.insert(k.clone(), Bson::Array(vec![items[i].clone()]));
                    }
                }
            }
            Item::Positional => {
                out.insert(k.clone(), positional_value(v, ctx.position)?);
            }
            Item::Exclude | Item::Computed(_) => {}
        }
    }
    Ok(())
}

/// An included subtree applied to a value: documents are projected,
/// arrays element by element; scalars have no subfields and disappear.
fn include_value(v: &Bson, node: &Node, ctx: &ApplyCtx) -> Result<Option<Bson>> {
    match v {
        Bson::Document(d) => {
            let mut out = Document::new();
            include_document(d, node, ctx, &mut out)?;
            Ok(Some(Bson::Document(out)))
        }
        Bson::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                if let Some(x) = include_value(item, node, ctx)? {
                    out.push(x);
                }
            }
            Ok(Some(Bson::Array(out)))
        }
        _ => Ok(None),
    }
}

fn exclude_document(doc: &Document, node: &Node, ctx: &ApplyCtx) -> Result<Document> {
    let mut out = Document::new();
    for (k, v) in doc {
        match node.get(k) {
            None | Some(Item::Include) | Some(Item::Computed(_)) => {
                out.insert(k.clone(), v.clone());
            }
            Some(Item::Exclude) => {}
            Some(Item::Sub(child)) => {
                out.insert(k.clone(), exclude_value(v, child, ctx)?);
            }
            Some(Item::Slice { skip, limit }) => {
                out.insert(k.clone(), slice_value(v, *skip, *limit));
            }
            Some(Item::ElemMatch(_)) | Some(Item::Positional) => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Ok(out)
}

fn exclude_value(v: &Bson, node: &Node, ctx: &ApplyCtx) -> Result<Bson> {
    Ok(match v {
        Bson::Document(d) => Bson::Document(exclude_document(d, node, ctx)?),
        Bson::Array(items) => {
            Bson::Array(items.iter().map(|i| exclude_value(i, node, ctx)).collect::<Result<Vec<_>>>()?)
        }
        other => other.clone(),
    })
}

fn slice_value(v: &Bson, skip: Option<i64>, limit: i64) -> Bson {
    let Bson::Array(items) = v else { return v.clone() };
    let len = items.len() as i64;
    let (start, end) = match skip {
        None if limit >= 0 => (0, limit.min(len)),
        None => ((len + limit).max(0), len),
        Some(s) => {
            let start = if s < 0 { (len + s).max(0) } else { s.min(len) };
            (start, start.saturating_add(limit).min(len))
        }
    };
    Bson::Array(items[start as usize..end as usize].to_vec())
}

fn positional_value(v: &Bson, position: Option<usize>) -> Result<Bson> {
    let mismatch = || err(codes::L51247, "positional operator '.$' element mismatch");
    match (v, position) {
        (Bson::Array(items), Some(i)) => match items.get(i) {
            Some(x) => Ok(Bson::Array(vec![x.clone()])),
            None => mismatch(),
        },
        (Bson::Array(_), None) => {
            err(codes::L51246, "positional operator '.$' couldn't find a matching element in the array")
        }
        _ => mismatch(),
    }
}

/// Evaluates the computed fields of `node` into `out`. With `merge`
/// (`$addFields`), scalars in the way are replaced and `$$REMOVE` removes.
fn set_computed(out: &mut Document, node: &Node, ctx: &ApplyCtx, merge: bool) -> Result<()> {
    for (k, item) in &node.items {
        match item {
            Item::Computed(e) => match e.evaluate(ctx.root, ctx.vars)? {
                Some(v) => {
                    out.insert(k.clone(), v);
                }
                None => {
                    out.remove(k);
                }
            },
            Item::Sub(child) if child.has_computed() => {
                let slot = out.get_mut(k);
                match slot {
                    Some(Bson::Document(d)) => set_computed(d, child, ctx, merge)?,
                    Some(Bson::Array(items)) => set_computed_in_array(items, child, ctx, merge)?,
                    _ => {
                        let mut d = Document::new();
                        set_computed(&mut d, child, ctx, merge)?;
                        out.insert(k.clone(), Bson::Document(d));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn set_computed_in_array(items: &mut [Bson], node: &Node, ctx: &ApplyCtx, merge: bool) -> Result<()> {
    for item in items.iter_mut() {
        match item {
            Bson::Document(d) => set_computed(d, node, ctx, merge)?,
            Bson::Array(inner) => set_computed_in_array(inner, node, ctx, merge)?,
            other => {
                let mut d = Document::new();
                set_computed(&mut d, node, ctx, merge)?;
                *other = Bson::Document(d);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn paths_collide() {
        let e = Projection::parse(&doc! {"a": 1, "a.b": 1}).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (31249, "Path collision at a.b remaining portion b"));
        let e = Projection::parse(&doc! {"a.b": 1, "a": 1}).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (31250, "Path collision at a"));
    }
}
