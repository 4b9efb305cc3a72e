//! The update operators: parsing their arguments and applying them to the
//! one field a path names.

use bson::{Bson, Document};

use super::walk::Leaf;
use super::{type_mismatch, ApplyCtx, UpdatePath};
use crate::compare::{compare, values_equal};
use crate::display;
use crate::error::{codes, err, QueryError, Result};
use crate::filter::Filter;
use crate::numeric::Num;
use crate::sort::SortSpec;

#[derive(Clone, Debug)]
pub(crate) enum PushSort {
    /// Sort the elements themselves; `true` = descending.
    Value(bool),
    Fields(SortSpec),
}

#[derive(Clone, Debug)]
pub(crate) struct Push {
    each: Vec<Bson>,
    slice: Option<i64>,
    sort: Option<PushSort>,
    position: Option<i64>,
}

#[derive(Clone, Debug)]
pub(crate) enum PullMatcher {
    /// `{field: cond, ...}`: document elements matching the filter.
    Object(Box<Filter>),
    /// `{$gt: 1}` or a regex: each element wrapped as `{"": element}`.
    Wrapped(Box<Filter>),
    /// Anything else: elements equal to the value.
    Equal(Bson),
}

impl PullMatcher {
    fn matches(&self, v: &Bson) -> bool {
        match self {
            PullMatcher::Object(f) => match v {
                Bson::Document(d) => f.matches(d),
                _ => false,
            },
            PullMatcher::Wrapped(f) => f.matches(&bson::doc! {"": v.clone()}),
            PullMatcher::Equal(x) => values_equal(x, v),
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum BitOp {
    And,
    Or,
    Xor,
}

#[derive(Clone, Debug)]
pub(crate) enum UpdateOp {
    Set(Bson),
    SetOnInsert(Bson),
    Unset,
    Inc(Num),
    Mul(Num),
    Min(Bson),
    Max(Bson),
    Rename {
        to: UpdatePath,
    },
    CurrentDate {
        timestamp: bool,
    },
    Push(Box<Push>),
    AddToSet(Vec<Bson>),
    /// `true` removes the first element (`$pop: -1`).
    Pop(bool),
    Pull(PullMatcher),
    PullAll(Vec<Bson>),
    Bit(Vec<(BitOp, Num)>),
}

fn bad(msg: impl Into<String>) -> QueryError {
    QueryError::new(codes::BAD_VALUE, msg)
}

impl UpdateOp {
    pub(crate) fn parse(op: &str, path: &UpdatePath, field: &str, value: &Bson) -> Result<UpdateOp> {
        let element = || display::element(field, value);
        Ok(match op {
            "$set" => UpdateOp::Set(value.clone()),
            "$setOnInsert" => UpdateOp::SetOnInsert(value.clone()),
            "$unset" => UpdateOp::Unset,
            "$inc" | "$mul" => {
                let Some(n) = Num::from_bson(value) else {
                    let verb = if op == "$inc" { "increment" } else { "multiply" };
                    return Err(type_mismatch(format!("Cannot {verb} with non-numeric argument: {{{}}}", element())));
                };
                if op == "$inc" {
                    UpdateOp::Inc(n)
                } else {
                    UpdateOp::Mul(n)
                }
            }
            "$min" => UpdateOp::Min(value.clone()),
            "$max" => UpdateOp::Max(value.clone()),
            "$rename" => {
                let Bson::String(to) = value else {
                    return Err(bad(format!("The 'to' field for $rename must be a string: {}", element())));
                };
                if path.is_dynamic() {
                    return Err(bad(format!("The source field for $rename may not be dynamic: {field}")));
                }
                let to = UpdatePath::parse(to)?;
                if to.is_dynamic() {
                    return Err(bad(format!("The destination field for $rename may not be dynamic: {}", to.dotted)));
                }
                if to.dotted == path.dotted {
                    return Err(bad(format!("The source and target field for $rename must differ: {}", element())));
                }
                if to.is_prefix_of(path) || path.is_prefix_of(&to) {
                    return Err(bad(format!(
                        "The source and target field for $rename must not be on the same path: {}",
                        element()
                    )));
                }
                UpdateOp::Rename { to }
            }
            "$currentDate" => match value {
                Bson::Boolean(_) => UpdateOp::CurrentDate { timestamp: false },
                Bson::Document(d) => {
                    let t = d.get("$type");
                    match (d.len(), t) {
                        (1, Some(Bson::String(s))) if s == "date" => UpdateOp::CurrentDate { timestamp: false },
                        (1, Some(Bson::String(s))) if s == "timestamp" => UpdateOp::CurrentDate { timestamp: true },
                        (1, Some(_)) => {
                            return Err(bad(
                                "The '$type' string field is required to be 'date' or 'timestamp': {$currentDate: {field : {$type: 'date'}}}",
                            ))
                        }
                        _ => {
                            return Err(bad(format!(
                                "Unrecognized $currentDate option: {}",
                                d.keys().find(|k| *k != "$type").cloned().unwrap_or_default()
                            )))
                        }
                    }
                }
                _ => {
                    return Err(bad(format!(
                        "{} is not valid type for $currentDate. Please use a boolean ('true') or a $type expression ({{$type: 'timestamp/date'}}).",
                        element()
                    )))
                }
            },
            "$push" => UpdateOp::Push(Box::new(parse_push(value)?)),
            "$addToSet" => UpdateOp::AddToSet(parse_add_to_set(value)?),
            "$pop" => {
                let Some(n) = crate::numeric::to_f64(value) else {
                    return err(codes::FAILED_TO_PARSE, format!("Expected a number in: {}", element()));
                };
                if n == 1.0 {
                    UpdateOp::Pop(false)
                } else if n == -1.0 {
                    UpdateOp::Pop(true)
                } else {
                    return err(codes::FAILED_TO_PARSE, format!("$pop expects 1 or -1, found: {}", display::value(value)));
                }
            }
            "$pull" => UpdateOp::Pull(parse_pull(value)?),
            "$pullAll" => {
                let Bson::Array(items) = value else {
                    return Err(bad(format!(
                        "$pullAll requires an array argument but was given a {}",
                        crate::types::type_name(value)
                    )));
                };
                UpdateOp::PullAll(items.clone())
            }
            "$bit" => UpdateOp::Bit(parse_bit(field, value)?),
            _ => unreachable!("operator list checked by the caller"),
        })
    }

    /// Whether the operator creates the path it names when missing.
    pub(crate) fn creates(&self, ctx: &ApplyCtx) -> bool {
        match self {
            UpdateOp::Unset | UpdateOp::Pop(_) | UpdateOp::Pull(_) | UpdateOp::PullAll(_) => false,
            UpdateOp::SetOnInsert(_) => ctx.inserting,
            _ => true,
        }
    }

    /// Applies the operator to the field `leaf` names. `path` is the full
    /// dotted path, for messages.
    pub(crate) fn apply(&self, leaf: &mut Leaf, path: &str, ctx: &ApplyCtx) -> Result<()> {
        let name = leaf.name();
        match self {
            UpdateOp::Set(v) => leaf.set(v.clone()),
            UpdateOp::SetOnInsert(v) => {
                if ctx.inserting {
                    leaf.set(v.clone());
                }
            }
            UpdateOp::Unset => leaf.remove(),
            UpdateOp::Inc(n) | UpdateOp::Mul(n) => {
                let is_inc = matches!(self, UpdateOp::Inc(_));
                let opname = if is_inc { "$inc" } else { "$mul" };
                let result = match leaf.get() {
                    None => {
                        if is_inc {
                            *n
                        } else {
                            Num::Int(0).checked_mul(*n).unwrap_or(*n)
                        }
                    }
                    Some(current) => {
                        let Some(cur) = Num::from_bson(current) else {
                            return Err(type_mismatch(format!(
                                "Cannot apply {opname} to a value of non-numeric type. {} has the field '{name}' of non-numeric type {}",
                                ctx.doc_id(),
                                crate::types::type_name(current)
                            )));
                        };
                        let r = if is_inc { cur.checked_add(*n) } else { cur.checked_mul(*n) };
                        match r {
                            Some(r) => r,
                            None => {
                                return Err(bad(format!(
                                "Failed to apply {opname} operations to current value ({}) for document {}",
                                typed_value(current),
                                ctx.doc_id()
                            )))
                            }
                        }
                    }
                };
                leaf.set(result.to_bson());
            }
            UpdateOp::Min(v) | UpdateOp::Max(v) => {
                let replace = match leaf.get() {
                    None => true,
                    Some(cur) => {
                        let ord = compare(v, cur);
                        if matches!(self, UpdateOp::Min(_)) {
                            ord.is_lt()
                        } else {
                            ord.is_gt()
                        }
                    }
                };
                if replace {
                    leaf.set(v.clone());
                }
            }
            UpdateOp::CurrentDate { timestamp } => {
                let v = if *timestamp {
                    let secs = (ctx.now.timestamp_millis() / 1000).max(0) as u32;
                    Bson::Timestamp(bson::Timestamp { time: secs, increment: 1 })
                } else {
                    Bson::DateTime(ctx.now)
                };
                leaf.set(v);
            }
            UpdateOp::Push(push) => {
                let mut items = match leaf.get() {
                    None => Vec::new(),
                    Some(Bson::Array(a)) => a.clone(),
                    Some(other) => {
                        return Err(bad(format!(
                            "The field '{name}' must be an array but is of type {} in document {}",
                            crate::types::type_name(other),
                            ctx.doc_id()
                        )))
                    }
                };
                push.apply(&mut items);
                leaf.set(Bson::Array(items));
            }
            UpdateOp::AddToSet(each) => {
                let mut items = match leaf.get() {
                    None => Vec::new(),
                    Some(Bson::Array(a)) => a.clone(),
                    Some(other) => {
                        return Err(bad(format!(
                            "Cannot apply $addToSet to non-array field. Field named '{name}' has non-array type {}",
                            crate::types::type_name(other)
                        )))
                    }
                };
                for v in each {
                    if !items.iter().any(|x| values_equal(x, v)) {
                        items.push(v.clone());
                    }
                }
                leaf.set(Bson::Array(items));
            }
            UpdateOp::Pop(first) => match leaf.get_mut() {
                None => {}
                Some(Bson::Array(a)) if !a.is_empty() => {
                    if *first {
                        a.remove(0);
                    } else {
                        a.pop();
                    }
                }
                Some(Bson::Array(_)) => {}
                Some(other) => {
                    return Err(type_mismatch(format!(
                        "Path '{path}' contains an element of non-array type '{}'",
                        crate::types::type_name(other)
                    )))
                }
            },
            UpdateOp::Pull(_) | UpdateOp::PullAll(_) => match leaf.get_mut() {
                None => {}
                Some(Bson::Array(a)) => match self {
                    UpdateOp::Pull(m) => a.retain(|x| !m.matches(x)),
                    UpdateOp::PullAll(values) => a.retain(|x| !values.iter().any(|v| values_equal(v, x))),
                    _ => unreachable!(),
                },
                Some(_) => return Err(bad("Cannot apply $pull to a non-array value")),
            },
            UpdateOp::Bit(ops) => {
                let mut cur = match leaf.get() {
                    None => Num::Int(0),
                    Some(v @ (Bson::Int32(_) | Bson::Int64(_))) => Num::from_bson(v).expect("integer"),
                    Some(other) => {
                        return Err(bad(format!(
                            "Cannot apply $bit to a value of non-integral type.{} has the field {name} of non-integer type {}",
                            ctx.doc_id(),
                            crate::types::type_name(other)
                        )))
                    }
                };
                for (op, arg) in ops {
                    cur = bit_apply(cur, *op, *arg);
                }
                leaf.set(cur.to_bson());
            }
            UpdateOp::Rename { .. } => unreachable!("$rename is applied by the walker"),
        }
        Ok(())
    }
}

/// `(NumberLong)9223372036854775807`, MongoDB's typed rendering in $inc
/// overflow messages.
fn typed_value(v: &Bson) -> String {
    match v {
        Bson::Int64(i) => format!("(NumberLong){i}"),
        Bson::Int32(i) => format!("(NumberInt){i}"),
        other => display::value(other),
    }
}

fn bit_apply(cur: Num, op: BitOp, arg: Num) -> Num {
    let f = |a: i64, b: i64| match op {
        BitOp::And => a & b,
        BitOp::Or => a | b,
        BitOp::Xor => a ^ b,
    };
    match (cur, arg) {
        (Num::Int(a), Num::Int(b)) => Num::Int(f(a as i64, b as i64) as i32),
        (a, b) => {
            let to = |n: Num| match n {
                Num::Int(i) => i as i64,
                Num::Long(i) => i,
                _ => 0,
            };
            Num::Long(f(to(a), to(b)))
        }
    }
}

fn parse_bit(field: &str, value: &Bson) -> Result<Vec<(BitOp, Num)>> {
    let Bson::Document(d) = value else {
        return Err(bad(format!(
            "The $bit modifier is not compatible with a {}. You must pass in an embedded document: {{$bit: {{field: {{and/or/xor: #}}}}}}",
            crate::types::type_name(value)
        )));
    };
    if d.is_empty() {
        return Err(bad("You must pass in at least one bitwise operation. The format is: {$bit: {field: {and/or/xor: #}}}"));
    }
    let mut out = Vec::new();
    for (k, v) in d {
        let op = match k.as_str() {
            "and" => BitOp::And,
            "or" => BitOp::Or,
            "xor" => BitOp::Xor,
            _ => {
                return Err(bad(format!(
                    "The $bit modifier only supports 'and', 'or', and 'xor', not '{k}' which is an unknown operator: {{{}}}",
                    display::element(k, v)
                )))
            }
        };
        let n = match v {
            Bson::Int32(_) | Bson::Int64(_) => Num::from_bson(v).expect("integer"),
            other => {
                return Err(bad(format!(
                "The $bit modifier field must be an Integer(32/64 bit); a '{}' is not supported here: {{{}}}",
                crate::types::type_name(other),
                display::element(k, v)
            )))
            }
        };
        out.push((op, n));
    }
    let _ = field;
    Ok(out)
}

fn parse_add_to_set(value: &Bson) -> Result<Vec<Bson>> {
    if let Bson::Document(d) = value {
        if let Some(each) = d.get("$each") {
            let Bson::Array(items) = each else {
                return Err(bad(format!(
                    "The argument to $each in $addToSet must be an array but it was of type {}",
                    crate::types::type_name(each)
                )));
            };
            if d.len() > 1 {
                let mut rest = d.clone();
                rest.remove("$each");
                return Err(bad(format!(
                    "Found unexpected fields after $each in $addToSet: {}",
                    display::document(d)
                )));
            }
            let mut unique: Vec<Bson> = Vec::new();
            for i in items {
                if !unique.iter().any(|u| values_equal(u, i)) {
                    unique.push(i.clone());
                }
            }
            return Ok(unique);
        }
    }
    Ok(vec![value.clone()])
}

fn parse_push(value: &Bson) -> Result<Push> {
    let Bson::Document(d) = value else {
        return Ok(Push { each: vec![value.clone()], slice: None, sort: None, position: None });
    };
    if !d.contains_key("$each") {
        return Ok(Push { each: vec![value.clone()], slice: None, sort: None, position: None });
    }
    let mut push = Push { each: Vec::new(), slice: None, sort: None, position: None };
    for (k, v) in d {
        match k.as_str() {
            "$each" => {
                let Bson::Array(items) = v else {
                    return Err(bad(format!(
                        "The argument to $each in $push must be an array but it was of type: {}",
                        crate::types::type_name(v)
                    )));
                };
                push.each = items.clone();
            }
            "$slice" => {
                let Some(n) = crate::numeric::to_exact_i64(v) else {
                    return Err(bad(format!(
                        "The value for $slice must be an integer value but was given type: {}",
                        crate::types::type_name(v)
                    )));
                };
                push.slice = Some(n);
            }
            "$position" => {
                let Some(n) = crate::numeric::to_exact_i64(v) else {
                    return Err(bad(format!(
                        "The value for $position must be an integer value, not of type: {}",
                        crate::types::type_name(v)
                    )));
                };
                push.position = Some(n);
            }
            "$sort" => {
                push.sort = Some(match v {
                    v if crate::numeric::is_number(v) => match crate::numeric::to_f64(v) {
                        Some(1.0) => PushSort::Value(false),
                        Some(-1.0) => PushSort::Value(true),
                        _ => {
                            return Err(bad(
                                "The $sort element value must be either 1 or -1",
                            ))
                        }
                    },
                    Bson::Document(spec) => {
                        if spec.is_empty() {
                            return Err(bad("The $sort pattern is empty when it should be a set of fields."));
                        }
                        for (sk, sv) in spec {
                            if sk.is_empty() || sk.starts_with('$') || sk.split('.').any(str::is_empty) {
                                return Err(bad(format!("The $sort field is a special pattern: {sk}")));
                            }
                            let dir = crate::numeric::to_f64(sv);
                            if dir != Some(1.0) && dir != Some(-1.0) {
                                return Err(bad("The $sort element value must be either 1 or -1"));
                            }
                        }
                        PushSort::Fields(SortSpec::parse(spec)?)
                    }
                    _ => {
                        return Err(bad(
                            "The $sort is invalid: use 1/-1 to sort the whole element, or {field:1/-1} to sort embedded fields",
                        ))
                    }
                });
            }
            other => return Err(bad(format!("Unrecognized clause in $push: {other}"))),
        }
    }
    Ok(push)
}

impl Push {
    fn apply(&self, items: &mut Vec<Bson>) {
        let len = items.len() as i64;
        let at = match self.position {
            None => len,
            Some(p) if p >= 0 => p.min(len),
            Some(p) => (len + p).max(0),
        } as usize;
        items.splice(at..at, self.each.iter().cloned());
        match &self.sort {
            Some(PushSort::Value(desc)) => {
                items.sort_by(|a, b| {
                    let o = compare(a, b);
                    if *desc {
                        o.reverse()
                    } else {
                        o
                    }
                });
            }
            Some(PushSort::Fields(spec)) => {
                let empty = Document::new();
                items.sort_by(|a, b| {
                    let da = if let Bson::Document(d) = a { d } else { &empty };
                    let db = if let Bson::Document(d) = b { d } else { &empty };
                    spec.compare_docs(da, db)
                });
            }
            None => {}
        }
        if let Some(s) = self.slice {
            let len = items.len() as i64;
            if s >= 0 {
                items.truncate(s.min(len) as usize);
            } else {
                let keep = (-s).min(len) as usize;
                items.drain(..items.len() - keep);
            }
        }
    }
}

fn parse_pull(value: &Bson) -> Result<PullMatcher> {
    let is_operator_doc =
        matches!(value, Bson::Document(d) if d.keys().next().is_some_and(|k| k.starts_with('$')));
    match value {
        Bson::Document(d) if !is_operator_doc => Ok(PullMatcher::Object(Box::new(Filter::parse(d)?))),
        Bson::Document(_) | Bson::RegularExpression(_) => {
            Ok(PullMatcher::Wrapped(Box::new(Filter::parse(&bson::doc! {"": value.clone()})?)))
        }
        other => Ok(PullMatcher::Equal(other.clone())),
    }
}
