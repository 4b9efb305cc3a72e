//! Aggregation expressions: parsed once into a tree, then evaluated per
//! document.
//!
//! ```text
//! Bson ──parse──▶ Expression (Node tree, field paths split, regexes compiled)
//!                     │
//!   document, Vars ──▶ evaluate ──▶ Option<Bson>   (None = "missing")
//! ```
//!
//! Missing and null are different values in aggregation: a field path to a
//! missing field evaluates to missing, object literals drop missing fields,
//! and array literals turn them into null. [`eval`] (the convenience entry
//! point) reports missing as null.
//!
//! Variables: `$$ROOT` and `$$CURRENT` are the document, `$$NOW` the time
//! in [`Vars`], `$$REMOVE` is missing; user variables come from [`Vars`]
//! (`let` of `$lookup` or of the command) and from `$let`, `$map`,
//! `$filter` and `$reduce`. References to undefined variables are rejected
//! when the expression is parsed, as MongoDB does.

mod arith;
pub(crate) mod array;
mod command_let;
mod convert;
pub(crate) mod date;
mod object;
mod ops;
pub(crate) mod percentile;
mod string;

use bson::{Bson, Document};

use crate::error::{codes, err, Result};

pub use command_let::{command_let, names as let_names};
pub(crate) use ops::Op;

/// An evaluated value; `None` is "missing".
pub type Value = Option<Bson>;

/// Values of the variables an expression can read, beyond the document.
#[derive(Clone, Debug)]
pub struct Vars {
    now: bson::DateTime,
    bindings: Vec<(String, Bson)>,
}

impl Default for Vars {
    fn default() -> Self {
        Vars::new(bson::DateTime::now())
    }
}

impl Vars {
    /// Variables with `$$NOW` fixed to `now` (one value for the whole
    /// command, as MongoDB does).
    pub fn new(now: bson::DateTime) -> Vars {
        Vars { now, bindings: Vec::new() }
    }

    /// Binds a user variable (`$$name`).
    pub fn with(mut self, name: impl Into<String>, value: Bson) -> Vars {
        self.set(name, value);
        self
    }

    pub fn set(&mut self, name: impl Into<String>, value: Bson) {
        let name = name.into();
        if let Some(slot) = self.bindings.iter_mut().find(|(n, _)| *n == name) {
            slot.1 = value;
        } else {
            self.bindings.push((name, value));
        }
    }

    pub fn get(&self, name: &str) -> Option<&Bson> {
        self.bindings.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    pub fn now(&self) -> bson::DateTime {
        self.now
    }

    /// The names of the bound user variables.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.bindings.iter().map(|(n, _)| n.as_str())
    }

    /// The bound user variables with their values.
    pub fn bindings(&self) -> impl Iterator<Item = (&str, &Bson)> {
        self.bindings.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// The same user variables with `$$NOW` at `now`.
    pub fn at(mut self, now: bson::DateTime) -> Vars {
        self.now = now;
        self
    }
}

/// Parses and evaluates `expr` against `root` in one go. Missing is
/// reported as null. Prefer [`Expression::parse`] once and
/// [`Expression::evaluate`] per document in loops.
pub fn eval(expr: &Bson, root: &Document, vars: &Vars) -> Result<Bson> {
    let names: Vec<String> = vars.names().map(str::to_string).collect();
    let parsed = Expression::parse_with_vars(expr, &names)?;
    Ok(parsed.evaluate(root, vars)?.unwrap_or(Bson::Null))
}

/// A parsed aggregation expression.
#[derive(Clone, Debug)]
pub struct Expression {
    node: Node,
    /// The fields of the input document it reads.
    deps: crate::deps::Deps,
}

impl Expression {
    /// Parses an expression that may use only system variables.
    pub fn parse(expr: &Bson) -> Result<Expression> {
        Self::parse_with_vars(expr, &[])
    }

    /// Parses an expression that may also use the user variables `names`.
    pub fn parse_with_vars(expr: &Bson, names: &[String]) -> Result<Expression> {
        let mut scope = ParseScope { vars: names.to_vec() };
        let node = parse_operand(expr, &mut scope)?;
        let mut deps = crate::deps::Deps::none();
        crate::deps::expression_source_deps(expr, &mut deps);
        Ok(Expression { node, deps })
    }

    /// The top-level fields of the input document the expression reads.
    pub fn dependencies(&self) -> &crate::deps::Deps {
        &self.deps
    }

    /// Evaluates against a document; `None` when the result is missing.
    pub fn evaluate(&self, root: &Document, vars: &Vars) -> Result<Value> {
        let ctx = Ctx { root, vars, scope: None };
        self.node.eval(&ctx)
    }

    /// The constant value, when the expression does not depend on its input.
    pub fn as_constant(&self) -> Option<&Bson> {
        match &self.node {
            Node::Const(v) => Some(v),
            _ => None,
        }
    }
}

/// Which variable names are in scope while parsing.
pub(crate) struct ParseScope {
    vars: Vec<String>,
}

impl ParseScope {
    fn define(&mut self, name: &str) {
        self.vars.push(name.to_string());
    }

    fn undefine(&mut self, count: usize) {
        let len = self.vars.len();
        self.vars.truncate(len - count);
    }

    fn has(&self, name: &str) -> bool {
        self.vars.iter().any(|v| v == name)
    }
}

#[derive(Clone, Debug)]
pub(crate) enum Node {
    Const(Bson),
    /// `$a.b`: a path into `$$CURRENT`.
    Field(Box<[String]>),
    /// `$$name.a.b`.
    Var(VarRef, Box<[String]>),
    Object(Vec<(String, Node)>),
    Array(Vec<Node>),
    Op(Box<Op>),
    /// `{$meta: "textScore"}`: the score the document carries (see
    /// [`crate::text`]).
    TextScore,
    /// `{$meta: "vectorSearchScore"}`: the `$vectorSearch` score it carries.
    VectorSearchScore,
}

#[derive(Clone, Debug)]
pub(crate) enum VarRef {
    Root,
    Now,
    ClusterTime,
    Remove,
    User(String),
}

/// Evaluation context: the document, the caller's variables and the
/// variables bound by enclosing `$let`/`$map`/`$filter`/`$reduce`.
pub(crate) struct Ctx<'a> {
    pub(crate) root: &'a Document,
    pub(crate) vars: &'a Vars,
    pub(crate) scope: Option<&'a Scope<'a>>,
}

/// One frame of bound variables (a linked list on the stack, so binding a
/// variable per array element allocates nothing).
pub(crate) struct Scope<'a> {
    pub(crate) names: &'a [String],
    pub(crate) values: &'a [Value],
    pub(crate) parent: Option<&'a Scope<'a>>,
}

impl<'a> Ctx<'a> {
    pub(crate) fn with_scope<'b>(&'b self, scope: &'b Scope<'b>) -> Ctx<'b>
    where
        'a: 'b,
    {
        Ctx { root: self.root, vars: self.vars, scope: Some(scope) }
    }

    fn lookup(&self, name: &str) -> Option<Value> {
        let mut frame = self.scope;
        while let Some(s) = frame {
            if let Some(i) = s.names.iter().rposition(|n| n == name) {
                return Some(s.values[i].clone());
            }
            frame = s.parent;
        }
        self.vars.get(name).map(|v| Some(v.clone()))
    }
}

impl Node {
    pub(crate) fn eval(&self, ctx: &Ctx) -> Result<Value> {
        match self {
            Node::Const(v) => Ok(Some(v.clone())),
            Node::Field(parts) => Ok(field_path_in_document(ctx.root, parts)),
            Node::Var(var, path) => {
                let base: Value = match var {
                    VarRef::Root => {
                        if path.is_empty() {
                            let mut d = ctx.root.clone();
                            // The text score is metadata, not a field.
                            crate::text::strip_score(&mut d);
                            return Ok(Some(Bson::Document(d)));
                        }
                        return Ok(field_path_in_document(ctx.root, path));
                    }
                    VarRef::Now => Some(Bson::DateTime(ctx.vars.now())),
                    VarRef::ClusterTime => {
                        let secs = (ctx.vars.now().timestamp_millis() / 1000).max(0) as u32;
                        Some(Bson::Timestamp(bson::Timestamp { time: secs, increment: 1 }))
                    }
                    VarRef::Remove => None,
                    VarRef::User(name) => match ctx.lookup(name) {
                        Some(v) => v,
                        None => return err(codes::L17276, format!("Use of undefined variable: {name}")),
                    },
                };
                if path.is_empty() {
                    return Ok(base);
                }
                Ok(match base {
                    Some(Bson::Document(d)) => field_path_in_document(&d, path),
                    Some(Bson::Array(a)) => Some(field_path_in_array(&a, path)),
                    _ => None,
                })
            }
            Node::Object(fields) => {
                let mut out = Document::new();
                for (k, node) in fields {
                    if let Some(v) = node.eval(ctx)? {
                        out.insert(k.clone(), v);
                    }
                }
                Ok(Some(Bson::Document(out)))
            }
            Node::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for node in items {
                    out.push(node.eval(ctx)?.unwrap_or(Bson::Null));
                }
                Ok(Some(Bson::Array(out)))
            }
            Node::Op(op) => op.eval(ctx),
            Node::TextScore => match crate::text::carried_score(ctx.root) {
                Some(s) => Ok(Some(Bson::Double(s))),
                None => err(codes::L40218, "query requires text score metadata, but it is not available"),
            },
            Node::VectorSearchScore => match crate::text::carried_vector_score(ctx.root) {
                Some(s) => Ok(Some(Bson::Double(s))),
                None => {
                    err(codes::L40218, "query requires vectorSearchScore metadata, but it is not available")
                }
            },
        }
    }

    pub(crate) fn is_const(&self) -> bool {
        matches!(self, Node::Const(_))
    }
}

/// Aggregation field path semantics: arrays on the way map the rest of the
/// path over their document elements (`$a.b` on `{a: [{b: 1}, {b: 2}]}` is
/// `[1, 2]`); numeric components are field names, not indexes.
pub(crate) fn field_path_in_document(doc: &Document, parts: &[String]) -> Value {
    let v = doc.get(&parts[0])?;
    if parts.len() == 1 {
        return Some(v.clone());
    }
    match v {
        Bson::Document(d) => field_path_in_document(d, &parts[1..]),
        Bson::Array(a) => Some(field_path_in_array(a, &parts[1..])),
        _ => None,
    }
}

/// Only document elements contribute; nested arrays and scalars are
/// skipped (`$a.b` on `{a: [[{b: 1}], {b: 2}]}` is `[2]`).
fn field_path_in_array(items: &[Bson], parts: &[String]) -> Bson {
    let mut out = Vec::new();
    for item in items {
        if let Bson::Document(d) = item {
            if let Some(v) = field_path_in_document(d, parts) {
                out.push(v);
            }
        }
    }
    Bson::Array(out)
}

/// `{$meta: <name>}`: only the text score exists here.
fn parse_meta(arg: &Bson) -> Result<Node> {
    match arg {
        Bson::String(s) if s == "textScore" => Ok(Node::TextScore),
        Bson::String(s) if s == "vectorSearchScore" => Ok(Node::VectorSearchScore),
        Bson::String(s)
            if matches!(
                s.as_str(),
                "randVal"
                    | "searchScore"
                    | "searchHighlights"
                    | "geoNearDistance"
                    | "geoNearPoint"
                    | "recordId"
                    | "indexKey"
                    | "sortKey"
                    | "searchScoreDetails"
                    | "score"
                    | "scoreDetails"
                    | "searchSequenceToken"
            ) =>
        {
            err(codes::NOT_IMPLEMENTED, format!("$meta \"{s}\" is not implemented by Argon"))
        }
        other => {
            err(codes::L17308, format!("Unsupported argument to $meta: {}", crate::display::value(other)))
        }
    }
}

/// Parses one operand: a field path, a variable, an object (literal or
/// operator), an array, or a constant.
pub(crate) fn parse_operand(v: &Bson, scope: &mut ParseScope) -> Result<Node> {
    match v {
        Bson::String(s) if s.starts_with('$') => parse_path_string(s, scope),
        Bson::Document(d) => parse_object(d, scope),
        Bson::Array(items) => {
            let nodes = items.iter().map(|i| parse_operand(i, scope)).collect::<Result<Vec<_>>>()?;
            if nodes.iter().all(Node::is_const) {
                let values = nodes
                    .into_iter()
                    .map(|n| match n {
                        Node::Const(v) => v,
                        _ => unreachable!(),
                    })
                    .collect();
                return Ok(Node::Const(Bson::Array(values)));
            }
            Ok(Node::Array(nodes))
        }
        other => Ok(Node::Const(other.clone())),
    }
}

fn parse_object(d: &Document, scope: &mut ParseScope) -> Result<Node> {
    let Some(first) = d.keys().next() else {
        return Ok(Node::Const(Bson::Document(Document::new())));
    };
    if first.starts_with('$') {
        if d.len() != 1 {
            return err(
                codes::L15983,
                format!(
                    "An object representing an expression must have exactly one field: {}",
                    crate::display::document(d)
                ),
            );
        }
        let (name, arg) = d.iter().next().expect("one field");
        if name == "$meta" {
            return parse_meta(arg);
        }
        return ops::parse(name, arg, scope);
    }
    let mut fields: Vec<(String, Node)> = Vec::with_capacity(d.len());
    for (k, v) in d {
        validate_field_name(k)?;
        if fields.iter().any(|(f, _)| f == k) {
            return err(
                codes::L16406,
                format!("duplicate field name specified in object literal: {}", crate::display::document(d)),
            );
        }
        fields.push((k.clone(), parse_operand(v, scope)?));
    }
    if fields.iter().all(|(_, n)| n.is_const()) {
        let mut out = Document::new();
        for (k, n) in fields {
            if let Node::Const(v) = n {
                out.insert(k, v);
            }
        }
        return Ok(Node::Const(Bson::Document(out)));
    }
    Ok(Node::Object(fields))
}

/// `$`-prefixed names a field path may still hold: a DBRef's fields
/// (`"$author.$id"`), as mongod allows.
pub(crate) const DOLLAR_FIELDS_ALLOWED: [&str; 3] = ["$id", "$ref", "$db"];

/// MongoDB's rules for one field name of a field path or object literal.
pub(crate) fn validate_field_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return err(codes::L15998, "FieldPath field names may not be empty strings.");
    }
    if name.starts_with('$') && !DOLLAR_FIELDS_ALLOWED.contains(&name) {
        return err(
            codes::L16410,
            "FieldPath field names may not start with '$'. Consider using $getField or $setField.",
        );
    }
    if name.contains('\0') {
        return err(codes::L16411, "FieldPath field names may not contain '\\0'.");
    }
    if name.contains('.') {
        return err(codes::L16412, "FieldPath field names may not contain '.'.");
    }
    Ok(())
}

/// Splits and validates a dotted field path (without its `$`).
pub(crate) fn parse_field_path(path: &str) -> Result<Box<[String]>> {
    if path.is_empty() {
        return err(codes::L40352, "FieldPath cannot be constructed with empty string");
    }
    if path.ends_with('.') {
        return err(codes::L40353, "FieldPath must not end with a '.'.");
    }
    let parts: Vec<String> = path.split('.').map(str::to_string).collect();
    for p in &parts {
        validate_field_name(p)?;
    }
    Ok(parts.into_boxed_slice())
}

fn parse_path_string(s: &str, scope: &mut ParseScope) -> Result<Node> {
    if s.len() < 2 {
        return err(codes::L16872, "'$' by itself is not a valid FieldPath");
    }
    if let Some(rest) = s.strip_prefix("$$") {
        let (name, path) = match rest.split_once('.') {
            Some((n, p)) => (n, Some(p)),
            None => (rest, None),
        };
        let path: Box<[String]> = match path {
            Some(p) => parse_field_path(p)?,
            None => Box::new([]),
        };
        validate_variable_name_for_read(name)?;
        let var = match name {
            "ROOT" | "CURRENT" => VarRef::Root,
            "NOW" => VarRef::Now,
            "CLUSTER_TIME" => VarRef::ClusterTime,
            "REMOVE" => VarRef::Remove,
            _ if scope.has(name) => VarRef::User(name.to_string()),
            _ => return err(codes::L17276, format!("Use of undefined variable: {name}")),
        };
        return Ok(Node::Var(var, path));
    }
    Ok(Node::Field(parse_field_path(&s[1..])?))
}

fn validate_variable_name_for_read(name: &str) -> Result<()> {
    if name.is_empty() {
        return err(codes::L16869, "empty variable names are not allowed");
    }
    let first = name.chars().next().expect("non-empty");
    if !(first.is_ascii_lowercase() || first.is_ascii_uppercase() || !first.is_ascii()) {
        return err(
            codes::L16870,
            format!("'{name}' starts with an invalid character for a user variable name"),
        );
    }
    validate_variable_chars(name)
}

/// Names bound by `$let`, `$map`, `$filter` and `let` must start with a
/// lowercase letter (or a non-ASCII character).
pub(crate) fn validate_variable_name_for_write(name: &str) -> Result<()> {
    if name.is_empty() {
        return err(codes::L16866, "empty variable names are not allowed");
    }
    let first = name.chars().next().expect("non-empty");
    if first.is_ascii() && !first.is_ascii_lowercase() {
        return err(
            codes::L16867,
            format!("'{name}' starts with an invalid character for a user variable name"),
        );
    }
    validate_variable_chars(name)
}

fn validate_variable_chars(name: &str) -> Result<()> {
    for c in name.chars() {
        if !(c.is_ascii_alphanumeric() || c == '_' || !c.is_ascii()) {
            return err(
                codes::L16868,
                format!("'{name}' contains an invalid character for a variable name: '{c}'"),
            );
        }
    }
    Ok(())
}

/// MongoDB's truthiness: false, null, missing, undefined and numeric zero
/// are false; everything else (including empty strings and arrays) is true.
pub fn truthy(v: &Value) -> bool {
    match v {
        None | Some(Bson::Null) | Some(Bson::Undefined) => false,
        Some(Bson::Boolean(b)) => *b,
        Some(Bson::Int32(i)) => *i != 0,
        Some(Bson::Int64(i)) => *i != 0,
        Some(Bson::Double(d)) => *d != 0.0,
        Some(Bson::Decimal128(d)) => crate::compare::decimal_to_f64(d) != 0.0,
        Some(_) => true,
    }
}

/// An integer as int32 when it fits, else int64.
pub(crate) fn arith_int_or_long(i: i64) -> Bson {
    arith::int_or_long(i)
}

/// Null, undefined or missing.
pub(crate) fn nullish(v: &Value) -> bool {
    matches!(v, None | Some(Bson::Null) | Some(Bson::Undefined))
}

/// The type name of an evaluated value, "missing" for missing.
pub(crate) fn value_type_name(v: &Value) -> &'static str {
    match v {
        None => "missing",
        Some(b) => crate::types::type_name(b),
    }
}

/// Compares two evaluated values; missing sorts before everything.
pub(crate) fn compare_values(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (None, None) => std::cmp::Ordering::Equal,
        (None, Some(_)) => std::cmp::Ordering::Less,
        (Some(_), None) => std::cmp::Ordering::Greater,
        (Some(x), Some(y)) => crate::compare::compare(x, y),
    }
}
