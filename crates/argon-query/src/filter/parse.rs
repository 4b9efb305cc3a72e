//! Parsing filter documents into match trees, with MongoDB's validation
//! and error messages (mostly BadValue, code 2).

use std::sync::Arc;

use bson::{Bson, Document};

use super::{Bits, Cmp, Node, Op};
use crate::compare::compare;
use crate::display;
use crate::error::{codes, err, Result};
use crate::expr::Expression;
use crate::path::Path;
use crate::regex::MongoRegex;
use crate::schema::Schema;
use crate::types::TypeSet;

/// Where in the filter the parser is: `$expr` is only allowed against the
/// whole document, not inside `$elemMatch`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Top,
    Sub,
}

/// What a field-level operator applies to.
#[derive(Clone)]
enum Target {
    Path(Path),
    /// The array element itself (`$elemMatch: {$gt: 1}`).
    Element,
}

impl Target {
    fn leaf(&self, op: Op) -> Node {
        match self {
            Target::Path(p) => Node::Leaf(p.clone(), op),
            Target::Element => Node::Value(op),
        }
    }

    fn name(&self) -> &str {
        match self {
            Target::Path(p) => &p.dotted,
            Target::Element => "",
        }
    }
}

pub(crate) struct Parser {
    pub(crate) vars: Vec<String>,
    pub(crate) has_expr: bool,
    /// `$text` conditions seen (MongoDB allows one).
    pub(crate) texts: usize,
    /// The `$or`/`$nor` being parsed, if any (`$text` may not be under one).
    pub(crate) under: Option<&'static str>,
}

/// `{$lt: 5}` is an operator document; `{a: 5}`, `{}` and DBRefs
/// (`{$ref, $id}`) are values.
fn is_operator_document(v: &Bson, allow_incomplete_dbref: bool) -> bool {
    let Bson::Document(d) = v else { return false };
    let Some(first) = d.keys().next() else { return false };
    if !first.starts_with('$') {
        return false;
    }
    let (has_ref, has_id, has_db) = (d.contains_key("$ref"), d.contains_key("$id"), d.contains_key("$db"));
    let dbref = if allow_incomplete_dbref { has_ref || has_id || has_db } else { has_ref && has_id };
    !dbref
}

/// Operators that take no path (they apply to the whole document).
fn is_pathless(name: &str) -> bool {
    matches!(
        name,
        "$and"
            | "$or"
            | "$nor"
            | "$expr"
            | "$where"
            | "$text"
            | "$comment"
            | "$jsonSchema"
            | "$alwaysTrue"
            | "$alwaysFalse"
            | "$sampleRate"
            | "$ref"
            | "$id"
            | "$db"
    )
}

/// Operators that take a path (used to reject `{$all: [{$gt: 1}]}`).
fn is_path_operator(name: &str) -> bool {
    matches!(
        name,
        "$eq"
            | "$ne"
            | "$gt"
            | "$gte"
            | "$lt"
            | "$lte"
            | "$in"
            | "$nin"
            | "$not"
            | "$exists"
            | "$type"
            | "$regex"
            | "$options"
            | "$mod"
            | "$all"
            | "$elemMatch"
            | "$size"
            | "$bitsAllSet"
            | "$bitsAllClear"
            | "$bitsAnySet"
            | "$bitsAnyClear"
            | "$near"
            | "$nearSphere"
            | "$geoWithin"
            | "$geoIntersects"
            | "$within"
    )
}

fn and(mut nodes: Vec<Node>) -> Node {
    if nodes.len() == 1 {
        nodes.pop().expect("one node")
    } else {
        Node::And(nodes)
    }
}

/// MongoDB's `trueValue` of `$exists` arguments.
fn true_value(v: &Bson) -> bool {
    match v {
        Bson::Boolean(b) => *b,
        Bson::Null | Bson::Undefined => false,
        v if crate::numeric::is_number(v) => crate::numeric::to_f64(v).is_some_and(|f| f != 0.0),
        _ => true,
    }
}

impl Parser {
    pub(crate) fn parse_document(&mut self, doc: &Document, level: Level) -> Result<Node> {
        let mut nodes = Vec::with_capacity(doc.len());
        for (key, value) in doc {
            if key.starts_with('$') {
                if let Some(node) = self.parse_top_operator(key, value, level)? {
                    nodes.push(node);
                }
                continue;
            }
            let target = Target::Path(Path::parse(key));
            if is_operator_document(value, false) {
                let Bson::Document(ops) = value else { unreachable!() };
                nodes.extend(self.parse_sub(&target, ops, level)?);
            } else if let Bson::RegularExpression(r) = value {
                let re = MongoRegex::new(r.pattern.as_str(), r.options.as_str())?;
                nodes.push(target.leaf(Op::Regex(re)));
            } else {
                nodes.push(target.leaf(self.comparison(Cmp::Eq, key, value)?));
            }
        }
        Ok(and(nodes))
    }

    /// A top-level `$` key; `None` for keys that add no condition
    /// (`$comment`).
    fn parse_top_operator(&mut self, key: &str, value: &Bson, level: Level) -> Result<Option<Node>> {
        match key {
            "$and" | "$or" | "$nor" => {
                let Bson::Array(items) = value else {
                    return err(codes::BAD_VALUE, format!("{key} must be an array"));
                };
                if items.is_empty() {
                    return err(codes::BAD_VALUE, "$and/$or/$nor must be a nonempty array");
                }
                let mut children = Vec::with_capacity(items.len());
                let outer = self.under;
                match key {
                    "$or" => self.under = self.under.or(Some("$or")),
                    "$nor" => self.under = Some("$nor"),
                    _ => {}
                }
                for item in items {
                    let Bson::Document(d) = item else {
                        return err(codes::BAD_VALUE, "$or/$and/$nor entries need to be full objects");
                    };
                    children.push(self.parse_document(d, level)?);
                }
                self.under = outer;
                Ok(Some(match key {
                    "$and" => Node::And(children),
                    "$or" => Node::Or(children),
                    _ => Node::Nor(children),
                }))
            }
            "$comment" => Ok(None),
            "$expr" => {
                if level == Level::Sub {
                    return err(codes::BAD_VALUE, "$expr can only be applied to the top-level document");
                }
                self.has_expr = true;
                let e = Expression::parse_with_vars(value, &self.vars)?;
                Ok(Some(Node::Expr(Box::new(e))))
            }
            // Each document matches with probability p: MongoDB rewrites it
            // to `{$expr: {$lt: [{$rand: {}}, p]}}`, and so does this.
            "$sampleRate" => {
                if level == Level::Sub {
                    return err(codes::BAD_VALUE, "$sampleRate can only be applied to the top-level document");
                }
                let Some(p) = crate::numeric::is_number(value).then(|| crate::numeric::to_f64(value)).flatten()
                else {
                    return err(codes::BAD_VALUE, "argument to $sampleRate must be a numeric type");
                };
                if !(0.0..=1.0).contains(&p) {
                    return err(codes::BAD_VALUE, "numeric argument to $sampleRate must be in [0, 1]");
                }
                self.has_expr = true;
                let e = Expression::parse(&bson::bson!({"$lt": [{"$rand": {}}, p]}))?;
                Ok(Some(Node::Expr(Box::new(e))))
            }
            "$alwaysTrue" | "$alwaysFalse" => {
                if crate::numeric::to_exact_i64(value) != Some(1) {
                    return err(codes::FAILED_TO_PARSE, format!("{key} must be an integer value of 1"));
                }
                Ok(Some(if key == "$alwaysTrue" { Node::True } else { Node::False }))
            }
            "$ref" | "$id" | "$db" => {
                let target = Target::Path(Path::parse(key));
                Ok(Some(target.leaf(Op::Cmp(Cmp::Eq, value.clone()))))
            }
            "$jsonSchema" => {
                let Bson::Document(spec) = value else {
                    return err(codes::TYPE_MISMATCH, "$jsonSchema must be an object");
                };
                Ok(Some(Node::Schema(Arc::new(Schema::parse(spec)?))))
            }
            "$text" => {
                if level == Level::Sub {
                    return err(codes::BAD_VALUE, "$text can only be applied to the top-level document");
                }
                match self.under {
                    Some("$nor") => return err(codes::BAD_VALUE, "text expression not allowed in nor"),
                    Some(_) => {
                        return err(
                            codes::NO_QUERY_EXECUTION_PLANS,
                            "error processing query: planner returned error :: caused by :: $text under $or is not supported by Argon: use $text at the top level or in a top-level $and",
                        )
                    }
                    None => {}
                }
                self.texts += 1;
                if self.texts > 1 {
                    return err(codes::BAD_VALUE, "Too many text expressions");
                }
                let q = crate::text::TextQuery::parse(value)?;
                Ok(Some(Node::Text(Box::new(q), None)))
            }
            "$where" => {
                if level == Level::Sub {
                    return err(codes::BAD_VALUE, "$where can only be applied to the top-level document");
                }
                self.has_expr = true;
                Ok(Some(Node::Where(crate::js::JsFunction::parse_where(value)?)))
            }
            _ => err(
                codes::BAD_VALUE,
                format!(
                    "unknown top level operator: {key}. If you have a field name that starts with a '$' symbol, consider using $getField or $setField."
                ),
            ),
        }
    }

    fn comparison(&self, op: Cmp, path: &str, value: &Bson) -> Result<Op> {
        if op != Cmp::Eq && matches!(value, Bson::RegularExpression(_)) {
            return err(
                codes::BAD_VALUE,
                format!("Can't have RegEx as arg to predicate over field '{path}'."),
            );
        }
        if matches!(value, Bson::Undefined) {
            return err(codes::BAD_VALUE, "cannot compare to undefined");
        }
        Ok(Op::Cmp(op, value.clone()))
    }

    /// The operators of one field: `{$gt: 1, $lt: 5}`.
    fn parse_sub(&mut self, target: &Target, ops: &Document, level: Level) -> Result<Vec<Node>> {
        let mut nodes = Vec::with_capacity(ops.len());
        for (op, value) in ops {
            if let Some(node) = self.parse_field_operator(target, op, value, ops, level)? {
                nodes.push(node);
            }
        }
        Ok(nodes)
    }

    fn parse_field_operator(
        &mut self,
        target: &Target,
        op: &str,
        value: &Bson,
        context: &Document,
        level: Level,
    ) -> Result<Option<Node>> {
        let name = target.name();
        let node = match op {
            "$eq" => target.leaf(self.comparison(Cmp::Eq, name, value)?),
            "$lt" => target.leaf(self.comparison(Cmp::Lt, name, value)?),
            "$lte" => target.leaf(self.comparison(Cmp::Lte, name, value)?),
            "$gt" => target.leaf(self.comparison(Cmp::Gt, name, value)?),
            "$gte" => target.leaf(self.comparison(Cmp::Gte, name, value)?),
            "$ne" => {
                if matches!(value, Bson::RegularExpression(_)) {
                    return err(codes::BAD_VALUE, "Can't have regex as arg to $ne.");
                }
                Node::Not(Box::new(target.leaf(self.comparison(Cmp::Eq, name, value)?)))
            }
            "$in" | "$nin" => {
                let Bson::Array(items) = value else {
                    return err(codes::BAD_VALUE, format!("{op} needs an array"));
                };
                let leaf = target.leaf(parse_in(items)?);
                if op == "$in" {
                    leaf
                } else {
                    Node::Not(Box::new(leaf))
                }
            }
            "$not" => self.parse_not(target, value, level)?,
            "$exists" => {
                let leaf = target.leaf(Op::Exists);
                if true_value(value) {
                    leaf
                } else {
                    Node::Not(Box::new(leaf))
                }
            }
            "$type" => {
                let set = TypeSet::parse(value)?;
                if set.is_empty() {
                    return err(codes::FAILED_TO_PARSE, format!("{name} must match at least one type"));
                }
                target.leaf(Op::Type(set))
            }
            "$size" => target.leaf(Op::Size(parse_size(value)?)),
            "$mod" => target.leaf(parse_mod(value)?),
            "$regex" => target.leaf(Op::Regex(parse_regex_document(context)?)),
            "$options" => {
                if context.contains_key("$regex") {
                    return Ok(None);
                }
                return err(codes::BAD_VALUE, "$options needs a $regex");
            }
            "$elemMatch" => target.leaf(self.parse_elem_match(value)?),
            "$all" => self.parse_all(target, value)?,
            "$bitsAllSet" | "$bitsAllClear" | "$bitsAnySet" | "$bitsAnyClear" => {
                let kind = match op {
                    "$bitsAllSet" => Bits::AllSet,
                    "$bitsAllClear" => Bits::AllClear,
                    "$bitsAnySet" => Bits::AnySet,
                    _ => Bits::AnyClear,
                };
                target.leaf(Op::Bits(kind, parse_bitmask(name, op, value)?))
            }
            "$geoWithin" | "$within" | "$geoIntersects" => {
                target.leaf(Op::Geo(Arc::new(crate::geo::GeoQuery::parse(op, value)?)))
            }
            "$near" | "$nearSphere" | "$geoNear" => {
                target.leaf(Op::Near(Arc::new(crate::geo::NearQuery::parse(op, context)?)))
            }
            "$maxDistance" | "$minDistance" | "$uniqueDocs" => {
                if ["$near", "$nearSphere", "$geoNear"].iter().any(|n| context.contains_key(*n)) {
                    return Ok(None); // read by the near operator
                }
                return err(codes::BAD_VALUE, format!("unknown operator: {op}"));
            }
            "$where" => return err(codes::BAD_VALUE, "$where cannot be applied to a field"),
            _ => return err(codes::BAD_VALUE, format!("unknown operator: {op}")),
        };
        Ok(Some(node))
    }

    fn parse_not(&mut self, target: &Target, value: &Bson, level: Level) -> Result<Node> {
        match value {
            Bson::RegularExpression(r) => {
                let re = MongoRegex::new(r.pattern.as_str(), r.options.as_str())?;
                Ok(Node::Not(Box::new(target.leaf(Op::Regex(re)))))
            }
            Bson::Document(d) => {
                if d.is_empty() {
                    return err(codes::BAD_VALUE, "$not cannot be empty");
                }
                // {$not: {a: 1}} is parsed as operators, so "a" is rejected
                // as an unknown operator.
                let nodes = self.parse_sub(target, d, level)?;
                Ok(Node::Not(Box::new(and(nodes))))
            }
            _ => err(codes::BAD_VALUE, "$not needs a regex or a document"),
        }
    }

    fn parse_elem_match(&mut self, value: &Bson) -> Result<Op> {
        let Bson::Document(d) = value else {
            return err(codes::BAD_VALUE, "$elemMatch needs an Object");
        };
        let value_form =
            is_operator_document(value, true) && d.keys().next().is_some_and(|k| !is_pathless(k));
        if value_form {
            let nodes = self.parse_sub(&Target::Element, d, Level::Sub)?;
            return Ok(Op::ElemMatchValue(Box::new(Node::And(nodes))));
        }
        let node = self.parse_document(d, Level::Sub)?;
        Ok(Op::ElemMatchObject(Box::new(node)))
    }

    fn parse_all(&mut self, target: &Target, value: &Bson) -> Result<Node> {
        let Bson::Array(items) = value else {
            return err(codes::BAD_VALUE, "$all needs an array");
        };
        let first_is_elem_match = matches!(items.first(), Some(Bson::Document(d)) if d.keys().next().map(String::as_str) == Some("$elemMatch"));
        let mut nodes = Vec::with_capacity(items.len());
        if first_is_elem_match {
            for item in items {
                let Bson::Document(d) = item else {
                    return err(codes::BAD_VALUE, "$all/$elemMatch has to be consistent");
                };
                let Some((k, v)) = d.iter().next() else {
                    return err(codes::BAD_VALUE, "$all/$elemMatch has to be consistent");
                };
                if k != "$elemMatch" {
                    return err(codes::BAD_VALUE, "$all/$elemMatch has to be consistent");
                }
                nodes.push(target.leaf(self.parse_elem_match(v)?));
            }
            return Ok(Node::And(nodes));
        }
        for item in items {
            match item {
                Bson::RegularExpression(r) => {
                    nodes.push(
                        target.leaf(Op::Regex(MongoRegex::new(r.pattern.as_str(), r.options.as_str())?)),
                    );
                }
                Bson::Document(d) if d.keys().next().is_some_and(|k| is_path_operator(k)) => {
                    return err(codes::BAD_VALUE, "no $ expressions in $all");
                }
                other => nodes.push(target.leaf(self.comparison(Cmp::Eq, target.name(), other)?)),
            }
        }
        if nodes.is_empty() {
            return Ok(Node::False);
        }
        Ok(Node::And(nodes))
    }
}

fn parse_in(items: &[Bson]) -> Result<Op> {
    let mut values = Vec::with_capacity(items.len());
    let mut regexes = Vec::new();
    let mut has_null = false;
    for item in items {
        if is_operator_document(item, false) {
            return err(codes::BAD_VALUE, "cannot nest $ under $in");
        }
        match item {
            Bson::RegularExpression(r) => {
                regexes.push(MongoRegex::new(r.pattern.as_str(), r.options.as_str())?)
            }
            Bson::Undefined => {
                return err(codes::BAD_VALUE, "InMatchExpression equality cannot be undefined")
            }
            other => {
                has_null |= matches!(other, Bson::Null);
                values.push(other.clone());
            }
        }
    }
    // In binary order whatever collation the query runs under (see
    // `Op::In`'s match).
    crate::compare::with_collation(None, || {
        values.sort_by(compare);
        values.dedup_by(|a, b| compare(a, b).is_eq());
    });
    Ok(Op::In { values, has_null, regexes })
}

fn parse_size(value: &Bson) -> Result<usize> {
    let size: i64 = match value {
        Bson::Int32(i) => *i as i64,
        Bson::Int64(i) => {
            if i32::try_from(*i).is_err() {
                return err(codes::BAD_VALUE, "$size must be representable as a 32-bit integer");
            }
            *i
        }
        Bson::Double(d) => {
            if d.fract() != 0.0 || !d.is_finite() || *d > i32::MAX as f64 || *d < i32::MIN as f64 {
                return err(codes::BAD_VALUE, "$size must be a whole number");
            }
            *d as i64
        }
        _ => return err(codes::BAD_VALUE, "$size needs a number"),
    };
    if size < 0 {
        return err(codes::BAD_VALUE, "$size may not be negative");
    }
    Ok(size as usize)
}

fn parse_mod(value: &Bson) -> Result<Op> {
    let Bson::Array(items) = value else {
        return err(codes::BAD_VALUE, "malformed mod, needs to be an array");
    };
    let Some(d) = items.first() else {
        return err(codes::BAD_VALUE, "malformed mod, not enough elements");
    };
    if !crate::numeric::is_number(d) {
        return err(codes::BAD_VALUE, "malformed mod, divisor not a number");
    }
    let Some(r) = items.get(1) else {
        return err(codes::BAD_VALUE, "malformed mod, not enough elements");
    };
    if !crate::numeric::is_number(r) {
        return err(codes::BAD_VALUE, "malformed mod, remainder not a number");
    }
    if items.len() > 2 {
        return err(codes::BAD_VALUE, "malformed mod, too many elements");
    }
    let to_long = |v: &Bson| -> Result<i64> {
        let f = crate::numeric::to_f64(v).unwrap_or(f64::NAN);
        match v {
            Bson::Int32(i) => Ok(*i as i64),
            Bson::Int64(i) => Ok(*i),
            _ if f.is_finite() && f.trunc() >= -9.223372036854776e18 && f.trunc() < 9.223372036854776e18 => {
                Ok(f.trunc() as i64)
            }
            _ => err(
                codes::BAD_VALUE,
                format!("malformed mod, divisor value is invalid :: caused by :: Unable to coerce NaN/Inf to integral type: {}", display::value(v)),
            ),
        }
    };
    let divisor = to_long(d)?;
    let remainder = to_long(r)?;
    if divisor == 0 {
        return err(codes::BAD_VALUE, "divisor cannot be 0");
    }
    Ok(Op::Mod(divisor, remainder))
}

/// `$regex` and `$options` of one field's operator document.
fn parse_regex_document(context: &Document) -> Result<MongoRegex> {
    let mut pattern: Option<String> = None;
    let mut options = String::new();
    for (k, v) in context {
        match k.as_str() {
            "$regex" => match v {
                Bson::String(s) => pattern = Some(s.clone()),
                Bson::RegularExpression(r) => {
                    pattern = Some(r.pattern.as_str().to_string());
                    let flags = r.options.as_str();
                    if !flags.is_empty() {
                        if !options.is_empty() {
                            return err(codes::L51074, "options set in both $regex and $options");
                        }
                        options = flags.to_string();
                    }
                }
                _ => return err(codes::BAD_VALUE, "$regex has to be a string"),
            },
            "$options" => {
                let Bson::String(s) = v else {
                    return err(codes::BAD_VALUE, "$options has to be a string");
                };
                if !options.is_empty() {
                    return err(codes::L51075, "options set in both $regex and $options");
                }
                options = s.clone();
            }
            _ => {}
        }
    }
    MongoRegex::new(&pattern.unwrap_or_default(), &options)
}

/// The 64-bit mask of a bitwise query operator; positions beyond 63 test
/// the sign bit, as MongoDB sign-extends numbers.
fn parse_bitmask(path: &str, op: &str, value: &Bson) -> Result<u64> {
    let shown = display::element(op, value);
    match value {
        Bson::Array(positions) => {
            let mut mask = 0u64;
            for (i, p) in positions.iter().enumerate() {
                let elem = display::element(&i.to_string(), p);
                if !crate::numeric::is_number(p) {
                    return err(
                        codes::BAD_VALUE,
                        format!("Failed to parse bit position. Expected a number in: {elem}"),
                    );
                }
                let Some(n) = crate::numeric::to_exact_i64(p) else {
                    return err(
                        codes::BAD_VALUE,
                        format!("Failed to parse bit position. Expected an integer: {elem}"),
                    );
                };
                if n < 0 {
                    return err(
                        codes::BAD_VALUE,
                        format!("Failed to parse bit position. Expected a non-negative number in: {elem}"),
                    );
                }
                mask |= 1 << n.min(63);
            }
            Ok(mask)
        }
        Bson::Binary(b) => {
            let mut mask = 0u64;
            for (i, byte) in b.bytes.iter().enumerate() {
                if *byte == 0 {
                    continue;
                }
                if i < 8 {
                    mask |= (*byte as u64) << (8 * i);
                } else {
                    mask |= 1 << 63;
                }
            }
            Ok(mask)
        }
        v if crate::numeric::is_number(v) => {
            let Some(n) = crate::numeric::to_exact_i64(v) else {
                return err(codes::FAILED_TO_PARSE, format!("Expected an integer: {shown}"));
            };
            if n < 0 {
                return err(codes::FAILED_TO_PARSE, format!("Expected a non-negative number in: {shown}"));
            }
            Ok(n as u64)
        }
        _ => err(
            codes::BAD_VALUE,
            format!("{path} takes an Array, a number, or a BinData but received: {shown}"),
        ),
    }
}
