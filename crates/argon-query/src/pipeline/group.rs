//! `$group`, and the stages built on it: `$sortByCount` and `$bucket`.
//!
//! Groups are found by hashing the order-preserving encoding of the group
//! key (`argon_types::keycodec`), so keys MongoDB considers equal (`1`,
//! `1.0`, `1i64`) share a group, and no key is compared twice.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use bson::{Bson, Document};

use super::accumulators::{AccState, Accumulator};
use super::{DocStream, Env};
use crate::compare::compare;
use crate::error::{codes, err, Result};
use crate::expr::{Expression, Value};

/// A small, fast hasher for encoded group keys (FxHash's mixing step);
/// keys come from the query's own data, so hash flooding is not a concern
/// beyond the cost of the query itself.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.mix(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let mut tail = [0u8; 8];
        let rest = chunks.remainder();
        tail[..rest.len()].copy_from_slice(rest);
        self.mix(u64::from_le_bytes(tail) ^ (rest.len() as u64) << 56);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl KeyHasher {
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type KeyMap = HashMap<Vec<u8>, usize, BuildHasherDefault<KeyHasher>>;

#[derive(Clone, Debug)]
pub(crate) struct Group {
    id: Expression,
    accumulators: Vec<Accumulator>,
}

impl Group {
    pub(crate) fn parse(spec: &Bson, vars: &[String]) -> Result<Group> {
        let Bson::Document(d) = spec else {
            return err(codes::L15947, "a group's fields must be specified in an object");
        };
        let mut id = None;
        let mut accumulators = Vec::new();
        for (k, v) in d {
            if k == "_id" {
                id = Some(Expression::parse_with_vars(v, vars)?);
                continue;
            }
            if k.starts_with('$') {
                return err(codes::L40236, format!("The field name '{k}' cannot be an operator name"));
            }
            if k.contains('.') {
                return err(codes::L40235, format!("The field name '{k}' cannot contain '.'"));
            }
            accumulators.push(Accumulator::parse(k, v, vars)?);
        }
        let Some(id) = id else {
            return err(codes::L15955, "a group specification must include an _id");
        };
        Ok(Group { id, accumulators })
    }

    /// The fields of its input the group reads.
    pub(crate) fn dependencies(&self) -> crate::deps::Deps {
        let mut deps = self.id.dependencies().clone();
        for a in &self.accumulators {
            deps.extend(a.expression().dependencies());
        }
        deps
    }

    pub(crate) fn from_parts(id: Expression, accumulators: Vec<Accumulator>) -> Group {
        Group { id, accumulators }
    }

    /// Groups the whole input; output in order of first appearance.
    pub(crate) fn run(&self, input: DocStream<'_>, env: &Env) -> Result<Vec<Document>> {
        let mut index: KeyMap = KeyMap::default();
        let mut groups: Vec<(Bson, Vec<AccState>)> = Vec::new();
        let mut key_buf: Vec<u8> = Vec::with_capacity(32);
        for doc in input {
            let doc = doc?;
            let key = self.id.evaluate(&doc, &env.vars)?.unwrap_or(Bson::Null);
            key_buf.clear();
            crate::compare::value_key_into(&key, &mut key_buf);
            let slot = match index.get(key_buf.as_slice()) {
                Some(&i) => i,
                None => {
                    index.insert(key_buf.clone(), groups.len());
                    let states = self
                        .accumulators
                        .iter()
                        .map(|a| a.start(&key, &env.vars))
                        .collect::<Result<Vec<_>>>()?;
                    groups.push((key, states));
                    groups.len() - 1
                }
            };
            let states = &mut groups[slot].1;
            for (acc, state) in self.accumulators.iter().zip(states.iter_mut()) {
                let v: Value = acc.expression().evaluate(&doc, &env.vars)?;
                acc.accumulate(state, v)?;
            }
        }
        groups
            .into_iter()
            .map(|(key, states)| {
                let mut out = Document::new();
                out.insert("_id", key);
                for (acc, state) in self.accumulators.iter().zip(states) {
                    out.insert(acc.field.clone(), acc.finish(state)?);
                }
                Ok(out)
            })
            .collect()
    }
}

/// `$bucket`: documents grouped into ranges of `groupBy`.
#[derive(Clone, Debug)]
pub(crate) struct Bucket {
    group_by: Expression,
    boundaries: Vec<Bson>,
    default: Option<Bson>,
    accumulators: Vec<Accumulator>,
}

impl Bucket {
    /// The fields of its input the stage reads.
    pub(crate) fn dependencies(&self) -> crate::deps::Deps {
        let mut deps = self.group_by.dependencies().clone();
        for a in &self.accumulators {
            deps.extend(a.expression().dependencies());
        }
        deps
    }

    pub(crate) fn parse(spec: &Bson, vars: &[String]) -> Result<Bucket> {
        let Bson::Document(d) = spec else {
            return err(
                codes::L40201,
                format!(
                    "Argument to $bucket stage must be an object, but found type: {}.",
                    crate::types::type_name(spec)
                ),
            );
        };
        let (mut group_by, mut boundaries, mut default, mut output) = (None, None, None, None);
        for (k, v) in d {
            match k.as_str() {
                "groupBy" => {
                    let ok =
                        matches!(v, Bson::String(s) if s.starts_with('$')) || matches!(v, Bson::Document(_));
                    if !ok {
                        return err(
                            codes::L40202,
                            format!(
                                "The $bucket 'groupBy' field must be defined as a $-prefixed path or an expression, but found: {}.",
                                crate::display::value(v)
                            ),
                        );
                    }
                    group_by = Some(Expression::parse_with_vars(v, vars)?);
                }
                "boundaries" => {
                    let Bson::Array(items) = v else {
                        return err(
                            codes::L40200,
                            format!(
                                "The $bucket 'boundaries' field must be an array, but found type: {}.",
                                crate::types::type_name(v)
                            ),
                        );
                    };
                    let mut values = Vec::with_capacity(items.len());
                    for b in items {
                        match Expression::parse_with_vars(b, vars)?.as_constant() {
                            Some(c) => values.push(c.clone()),
                            None => {
                                return err(
                                    codes::L40191,
                                    format!(
                                        "The $bucket 'boundaries' field must be an array of constant values, but found value: {}.",
                                        crate::display::value(b)
                                    ),
                                )
                            }
                        }
                    }
                    boundaries = Some(values);
                }
                "default" => match Expression::parse_with_vars(v, vars)?.as_constant() {
                    Some(c) => default = Some(c.clone()),
                    None => {
                        return err(
                            codes::L40195,
                            format!(
                                "The $bucket 'default' field must be a constant expression, but found: {}.",
                                crate::display::value(v)
                            ),
                        )
                    }
                },
                "output" => {
                    let Bson::Document(o) = v else {
                        return err(
                            codes::L40196,
                            format!(
                                "The $bucket 'output' field must be an object, but found type: {}.",
                                crate::types::type_name(v)
                            ),
                        );
                    };
                    output = Some(o.clone());
                }
                _ => return err(codes::L40197, format!("Unrecognized option to $bucket: {k}.")),
            }
        }
        let (Some(group_by), Some(boundaries)) = (group_by, boundaries) else {
            return err(codes::L40198, "$bucket requires 'groupBy' and 'boundaries' to be specified.");
        };
        if boundaries.len() < 2 {
            return err(
                codes::L40192,
                format!(
                    "The $bucket 'boundaries' field must have at least 2 values, but found {} value(s).",
                    boundaries.len()
                ),
            );
        }
        let class = argon_types::keycodec::type_class(&boundaries[0]);
        for (i, w) in boundaries.windows(2).enumerate() {
            if argon_types::keycodec::type_class(&w[1]) != class {
                return err(
                    codes::L40193,
                    format!(
                        "All values in the the 'boundaries' option to $bucket must have the same type. Found conflicting types {} and {}.",
                        crate::types::type_name(&w[0]),
                        crate::types::type_name(&w[1])
                    ),
                );
            }
            if !compare(&w[0], &w[1]).is_lt() {
                return err(
                    codes::L40194,
                    format!(
                        "The 'boundaries' option to $bucket must be sorted, but elements {} and {} are not in ascending order ({} is not less than {}).",
                        i,
                        i + 1,
                        crate::display::value(&w[0]),
                        crate::display::value(&w[1])
                    ),
                );
            }
        }
        if let Some(def) = &default {
            let below = compare(def, &boundaries[0]).is_lt();
            let above = compare(def, boundaries.last().expect("2+")).is_ge();
            let same_class = argon_types::keycodec::type_class(def) == class;
            if same_class && !below && !above {
                return err(
                    codes::L40199,
                    "The $bucket 'default' field must be less than the lowest boundary or greater than or equal to the highest boundary.",
                );
            }
        }
        let accumulators = match output {
            Some(o) => o.iter().map(|(k, v)| Accumulator::parse(k, v, vars)).collect::<Result<Vec<_>>>()?,
            None => vec![Accumulator::parse("count", &bson::bson!({"$sum": 1}), vars)?],
        };
        Ok(Bucket { group_by, boundaries, default, accumulators })
    }

    pub(crate) fn run(&self, input: DocStream<'_>, env: &Env) -> Result<Vec<Document>> {
        let buckets = self.boundaries.len() - 1;
        let mut states: Vec<Option<Vec<AccState>>> = vec![None; buckets + 1];
        for doc in input {
            let doc = doc?;
            let v = self.group_by.evaluate(&doc, &env.vars)?.unwrap_or(Bson::Null);
            let class = argon_types::keycodec::type_class(&self.boundaries[0]);
            let mut slot = None;
            if argon_types::keycodec::type_class(&v) == class {
                // The bucket whose [lower, upper) range holds v.
                let upper = self.boundaries.partition_point(|b| compare(b, &v).is_le());
                if upper >= 1 && upper <= buckets {
                    slot = Some(upper - 1);
                }
            }
            let slot = match slot {
                Some(s) => s,
                None if self.default.is_some() => buckets,
                None => return err(
                    codes::L40066,
                    "$switch could not find a matching branch for an input, and no default was specified.",
                ),
            };
            if states[slot].is_none() {
                let key = if slot < buckets {
                    &self.boundaries[slot]
                } else {
                    self.default.as_ref().unwrap_or(&Bson::Null)
                };
                states[slot] = Some(
                    self.accumulators.iter().map(|a| a.start(key, &env.vars)).collect::<Result<Vec<_>>>()?,
                );
            }
            let st = states[slot].as_mut().expect("set above");
            for (acc, state) in self.accumulators.iter().zip(st.iter_mut()) {
                let v = acc.expression().evaluate(&doc, &env.vars)?;
                acc.accumulate(state, v)?;
            }
        }
        let mut out = Vec::new();
        for (i, st) in states.into_iter().enumerate() {
            let Some(st) = st else { continue };
            let id = if i < buckets {
                self.boundaries[i].clone()
            } else {
                self.default.clone().unwrap_or(Bson::Null)
            };
            let mut d = Document::new();
            d.insert("_id", id);
            for (acc, state) in self.accumulators.iter().zip(st) {
                d.insert(acc.field.clone(), acc.finish(state)?);
            }
            out.push(d);
        }
        Ok(out)
    }
}
