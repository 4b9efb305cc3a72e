//! `$getField`, `$setField`/`$unsetField` (fields by their literal names,
//! dots and `$` included), `$zip` and `$sortArray`.

use bson::{Bson, Document};

use super::{compare_values, parse_operand, value_type_name, Node, ParseScope, Value};
use crate::error::{codes, err, Result};
use crate::sort::SortSpec;

use super::ops::Op;

/// `$getField: <field>` or `{field, input}`.
pub(super) fn parse_get_field(arg: &Bson, scope: &mut ParseScope) -> Result<Op> {
    let current = || parse_operand(&Bson::String("$$CURRENT".into()), &mut ParseScope { vars: vec![] });
    // Shorthand: the field itself (a string, or an operator such as `$literal`).
    let d = match arg {
        Bson::Document(d) if !d.keys().next().is_some_and(|k| k.starts_with('$')) => d,
        _ => return Ok(Op::GetField { field: string_field(parse_operand(arg, scope)?)?, input: current()? }),
    };
    let (mut field, mut input) = (None, None);
    for (k, v) in d {
        match k.as_str() {
            "field" => field = Some(string_field(parse_operand(v, scope)?)?),
            "input" => input = Some(parse_operand(v, scope)?),
            other => return err(codes::L3041701, format!("$getField found an unknown argument: {other}")),
        }
    }
    let Some(field) = field else {
        return err(codes::L3041702, "$getField requires 'field' to be specified");
    };
    Ok(Op::GetField {
        field,
        input: match input {
            Some(i) => i,
            None => current()?,
        },
    })
}

/// A constant `field` must be a string (an expression is checked when
/// evaluated).
fn string_field(node: Node) -> Result<Node> {
    match &node {
        Node::Const(Bson::String(_)) => Ok(node),
        Node::Const(other) => err(
            codes::L3041703,
            format!(
                "$getField requires 'field' to evaluate to type String, but got {}",
                crate::types::type_name(other)
            ),
        ),
        _ => Ok(node),
    }
}

pub(super) fn get_field(field: Value, input: Value) -> Result<Value> {
    let Some(Bson::String(field)) = field else {
        return err(
            codes::L3041703,
            format!(
                "$getField requires 'field' to evaluate to type String, but got {}",
                value_type_name(&field)
            ),
        );
    };
    match input {
        None | Some(Bson::Null) | Some(Bson::Undefined) => Ok(Some(Bson::Null)),
        Some(Bson::Document(d)) => Ok(d.get(&field).cloned()),
        Some(other) => err(
            codes::L3041705,
            format!(
                "$getField requires 'input' to evaluate to type Object, but got {}",
                crate::types::type_name(&other)
            ),
        ),
    }
}

/// `$setField: {field, input, value}` and `$unsetField: {field, input}`;
/// `field` a constant string.
pub(super) fn parse_set_field(name: &str, arg: &Bson, scope: &mut ParseScope) -> Result<Op> {
    let Bson::Document(d) = arg else {
        return err(codes::L4161101, format!("{name} only supports an object as its argument"));
    };
    let unset = name == "$unsetField";
    let (mut field, mut input, mut value) = (None, None, None);
    for (k, v) in d {
        match k.as_str() {
            "field" => field = Some(parse_operand(v, scope)?),
            "input" => input = Some(parse_operand(v, scope)?),
            "value" if !unset => value = Some(parse_operand(v, scope)?),
            other => return err(codes::L4161101, format!("{name} found an unknown argument: {other}")),
        }
    }
    let Some(field) = field else {
        return err(codes::L4161102, format!("{name} requires 'field' to be specified"));
    };
    let Some(input) = input else {
        return err(codes::L4161103, format!("{name} requires 'input' to be specified"));
    };
    if !unset && value.is_none() {
        return err(codes::L4161104, "$setField requires 'value' to be specified");
    }
    let Node::Const(Bson::String(field)) = field else {
        return err(codes::L4161106, format!("{name} requires 'field' to evaluate to a constant string"));
    };
    Ok(Op::SetField { field, input, value })
}

/// `input` with `field` set to `value`, or removed when `value` is
/// missing (`$$REMOVE`, `$unsetField`); null for a null input.
pub(super) fn set_field(field: &str, input: Value, value: Value) -> Result<Value> {
    let mut doc = match input {
        None | Some(Bson::Null) | Some(Bson::Undefined) => return Ok(Some(Bson::Null)),
        Some(Bson::Document(d)) => d,
        Some(other) => {
            return err(
                codes::L4161105,
                format!(
                    "$setField requires 'input' to evaluate to type Object, but got {}",
                    crate::types::type_name(&other)
                ),
            )
        }
    };
    match value {
        Some(v) => {
            doc.insert(field, v);
        }
        None => {
            doc.remove(field);
        }
    }
    Ok(Some(Bson::Document(doc)))
}

/// `$zip: {inputs: [...], useLongestLength?, defaults?}`.
pub(super) fn parse_zip(arg: &Bson, scope: &mut ParseScope) -> Result<Op> {
    let Bson::Document(d) = arg else {
        return err(
            codes::L34460,
            format!("$zip only supports an object as an argument, found {}", crate::types::type_name(arg)),
        );
    };
    let (mut inputs, mut longest, mut defaults) = (None, false, None);
    for (k, v) in d {
        match k.as_str() {
            "inputs" => {
                let Bson::Array(items) = v else {
                    return err(
                        codes::L34460,
                        format!(
                            "inputs must be an array of expressions, found {}",
                            crate::types::type_name(v)
                        ),
                    );
                };
                inputs = Some(items.iter().map(|i| parse_operand(i, scope)).collect::<Result<Vec<_>>>()?);
            }
            "defaults" => {
                let Bson::Array(items) = v else {
                    return err(
                        codes::L34461,
                        format!(
                            "defaults must be an array of expressions, found {}",
                            crate::types::type_name(v)
                        ),
                    );
                };
                defaults = Some(items.iter().map(|i| parse_operand(i, scope)).collect::<Result<Vec<_>>>()?);
            }
            "useLongestLength" => match v {
                Bson::Boolean(b) => longest = *b,
                _ => {
                    return err(
                        codes::L34469,
                        format!("useLongestLength must be a bool, found {}", crate::types::type_name(v)),
                    )
                }
            },
            other => return err(codes::L34464, format!("$zip found an unknown argument: {other}")),
        }
    }
    let Some(inputs) = inputs.filter(|i| !i.is_empty()) else {
        return err(codes::L34465, "$zip requires at least one input array");
    };
    if let Some(d) = &defaults {
        if !longest {
            return err(codes::L34466, "cannot specify defaults unless useLongestLength is true");
        }
        if d.len() != inputs.len() {
            return err(codes::L34467, "$zip requires that defaults and inputs are the same length");
        }
    }
    Ok(Op::Zip { inputs, longest, defaults })
}

/// The arrays transposed: element i of the result holds element i of each
/// input (to the shortest input, or the longest with `defaults`/null).
pub(super) fn zip(inputs: Vec<Value>, longest: bool, defaults: Option<Vec<Value>>) -> Result<Value> {
    let mut arrays = Vec::with_capacity(inputs.len());
    for v in inputs {
        match v {
            None | Some(Bson::Null) | Some(Bson::Undefined) => return Ok(Some(Bson::Null)),
            Some(Bson::Array(a)) => arrays.push(a),
            Some(other) => {
                return err(
                    codes::L34468,
                    format!("$zip found a non-array expression in input: {}", crate::display::value(&other)),
                )
            }
        }
    }
    let lengths = arrays.iter().map(Vec::len);
    let n = if longest { lengths.max().unwrap_or(0) } else { lengths.min().unwrap_or(0) };
    let fill = |i: usize| -> Bson { defaults.as_ref().and_then(|d| d[i].clone()).unwrap_or(Bson::Null) };
    let out = (0..n)
        .map(|k| {
            Bson::Array(
                arrays
                    .iter()
                    .enumerate()
                    .map(|(i, a)| a.get(k).cloned().unwrap_or_else(|| fill(i)))
                    .collect(),
            )
        })
        .collect();
    Ok(Some(Bson::Array(out)))
}

/// How `$sortArray` orders: whole values, or documents by fields.
#[derive(Clone, Debug)]
pub(crate) enum SortBy {
    Values { descending: bool },
    Fields(SortSpec),
}

/// `$sortArray: {input, sortBy}` (`sortBy`: 1, -1 or a sort document).
pub(super) fn parse_sort_array(arg: &Bson, scope: &mut ParseScope) -> Result<Op> {
    let Bson::Document(d) = arg else {
        return err(
            codes::L2942500,
            format!("$sortArray requires an object as an argument, found: {}", crate::types::type_name(arg)),
        );
    };
    let (mut input, mut by) = (None, None);
    for (k, v) in d {
        match k.as_str() {
            "input" => input = Some(parse_operand(v, scope)?),
            "sortBy" => {
                by = Some(match v {
                    Bson::Document(spec) => SortBy::Fields(SortSpec::parse(spec)?),
                    n if crate::numeric::to_exact_i64(n) == Some(1) => SortBy::Values { descending: false },
                    n if crate::numeric::to_exact_i64(n) == Some(-1) => SortBy::Values { descending: true },
                    _ => return err(codes::L2942503, "$sortArray sortBy must be 1, -1 or a sort document"),
                })
            }
            other => return err(codes::L2942501, format!("$sortArray found an unknown argument: {other}")),
        }
    }
    let Some(input) = input else {
        return err(codes::L2942502, "$sortArray requires 'input' to be specified");
    };
    let Some(by) = by else { return err(codes::L2942503, "$sortArray requires 'sortBy' to be specified") };
    Ok(Op::SortArray { input, by })
}

/// The array sorted (stable); null for a null input.
pub(super) fn sort_array(input: Value, by: &SortBy) -> Result<Value> {
    let mut items = match input {
        None | Some(Bson::Null) | Some(Bson::Undefined) => return Ok(Some(Bson::Null)),
        Some(Bson::Array(a)) => a,
        Some(other) => {
            return err(
                codes::L2942504,
                format!(
                    "The input argument to $sortArray must be an array, but was of type: {}",
                    crate::types::type_name(&other)
                ),
            )
        }
    };
    match by {
        SortBy::Values { descending } => items.sort_by(|a, b| {
            let o = compare_values(&Some(a.clone()), &Some(b.clone()));
            if *descending {
                o.reverse()
            } else {
                o
            }
        }),
        SortBy::Fields(spec) => {
            // Elements that are not documents sort as documents without the fields.
            let empty = Document::new();
            let mut keyed: Vec<(Vec<Bson>, Bson)> =
                items.into_iter().map(|v| (spec.sort_key(v.as_document().unwrap_or(&empty)), v)).collect();
            keyed.sort_by(|a, b| spec.compare_keys(&a.0, &b.0));
            items = keyed.into_iter().map(|(_, v)| v).collect();
        }
    }
    Ok(Some(Bson::Array(items)))
}
