//! MongoDB's `$jsonSchema`: the subset of JSON Schema draft 4 MongoDB
//! supports, plus `bsonType`, applied to BSON documents.
//!
//! A schema document is parsed once into a [`Schema`], a list of rules (one
//! per keyword, or per group of keywords that only make sense together,
//! such as `patternProperties` with `additionalProperties`), and nested
//! schemas for `properties`, `items`, `allOf`... Matching evaluates the
//! rules against a value; the top-level schema describes the document
//! itself.
//!
//! As in MongoDB (and JSON Schema), a keyword that constrains one type
//! ignores values of other types: `{minimum: 5}` accepts `"abc"`,
//! `{properties: ...}` accepts `3`, `{items: ...}` accepts a string. Only
//! `type` and `bsonType` demand a type. `properties` applies to the fields
//! that are present; `required` demands them.
//!
//! Equality (`enum`, `uniqueItems`) is MongoDB's: numbers compare by value
//! across types, and embedded documents are equal when they hold the same
//! fields whatever their order.
//!
//! Parse errors carry MongoDB's codes and messages: TypeMismatch for an
//! argument of the wrong type, FailedToParse for unknown keywords and for
//! invalid values, BadValue for an unknown type alias.

use std::cmp::Ordering;

use bson::{doc, Bson, Document};

use crate::compare::compare;
use crate::deps::Deps;
use crate::display;
use crate::error::{codes, err, Result};
use crate::filter::{compare_match, Cmp};
use crate::numeric::{is_multiple_of, is_number};
use crate::regex::MongoRegex;
use crate::types::{code_for_alias, type_code, type_name, TypeSet};
use argon_types::keycodec::type_class;

/// A parsed `$jsonSchema`, matched against many documents (filters share
/// it behind an `Arc`).
#[derive(Clone, Debug)]
pub struct Schema {
    rules: Vec<Rule>,
    /// The schema as written, for `specifiedAs` in failure details.
    spec: Document,
    title: Option<String>,
    description: Option<String>,
}

#[derive(Clone, Debug)]
enum Rule {
    /// `type` or `bsonType` (`keyword` says which, for failure details).
    Type {
        keyword: &'static str,
        types: TypeSet,
    },
    /// `minimum` (with `exclusiveMinimum`) or `maximum` (with
    /// `exclusiveMaximum`): a numeric value compared with `limit`.
    Bound {
        keyword: &'static str,
        cmp: Cmp,
        limit: Bson,
    },
    MultipleOf(Bson),
    /// `minLength`, `maxLength`, `minItems`, `maxItems`, `minProperties`,
    /// `maxProperties`.
    Count {
        keyword: &'static str,
        counted: Counted,
        limit: u64,
        at_least: bool,
    },
    Pattern(MongoRegex),
    /// `items` as one schema: every element matches it.
    Items(Box<Schema>),
    /// `items` as an array of schemas: element `i` matches schema `i`, and
    /// the elements after them are governed by `additional`
    /// (`additionalItems`).
    TupleItems {
        schemas: Vec<Schema>,
        additional: Additional,
    },
    UniqueItems,
    Required(Vec<String>),
    Properties(Vec<(String, Schema)>),
    /// `patternProperties` and `additionalProperties`: each field matches
    /// the schemas of the patterns its name matches; a field named by
    /// neither `properties` (`named`) nor a pattern must satisfy
    /// `additional`.
    AllowedProperties {
        named: Vec<String>,
        patterns: Vec<(MongoRegex, Schema)>,
        additional: Additional,
    },
    Dependencies(Vec<(String, Dependency)>),
    AllOf(Vec<Schema>),
    AnyOf(Vec<Schema>),
    OneOf(Vec<Schema>),
    Not(Box<Schema>),
    Enum(Vec<Bson>),
}

/// What a count keyword counts; values of other types are not constrained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Counted {
    /// The length of a string in Unicode code points.
    CodePoints,
    ArrayItems,
    ObjectFields,
}

/// `additionalItems` / `additionalProperties`: `true`, `false`, or a schema.
#[derive(Clone, Debug)]
enum Additional {
    Allowed,
    Forbidden,
    Schema(Box<Schema>),
}

/// One entry of `dependencies`: when the field is present, these fields must
/// be too, or the object must match the schema.
#[derive(Clone, Debug)]
enum Dependency {
    Fields(Vec<String>),
    Schema(Schema),
}

/// A value being matched: the document itself at the top level (borrowed,
/// so matching a document never copies it), or a value inside it.
#[derive(Clone, Copy)]
enum Val<'a> {
    Root(&'a Document),
    Value(&'a Bson),
}

impl<'a> Val<'a> {
    fn document(self) -> Option<&'a Document> {
        match self {
            Val::Root(d) | Val::Value(Bson::Document(d)) => Some(d),
            Val::Value(_) => None,
        }
    }

    fn array(self) -> Option<&'a [Bson]> {
        match self {
            Val::Value(Bson::Array(a)) => Some(a),
            _ => None,
        }
    }

    /// The value unless it is the root document (which no scalar keyword
    /// constrains).
    fn value(self) -> Option<&'a Bson> {
        match self {
            Val::Value(v) => Some(v),
            Val::Root(_) => None,
        }
    }

    fn type_code(self) -> i32 {
        match self {
            Val::Root(_) => 3,
            Val::Value(v) => type_code(v),
        }
    }

    fn type_name(self) -> &'static str {
        match self {
            Val::Root(_) => "object",
            Val::Value(v) => type_name(v),
        }
    }

    fn to_bson(self) -> Bson {
        match self {
            Val::Root(d) => Bson::Document(d.clone()),
            Val::Value(v) => v.clone(),
        }
    }

    fn equals(self, other: &Bson) -> bool {
        match (self, other) {
            (Val::Root(d), Bson::Document(o)) => compare_documents_unordered(d, o).is_eq(),
            (Val::Root(_), _) => false,
            (Val::Value(v), o) => compare_unordered(v, o).is_eq(),
        }
    }
}

/// Keywords MongoDB accepts.
const KEYWORDS: &[&str] = &[
    "additionalItems",
    "additionalProperties",
    "allOf",
    "anyOf",
    "bsonType",
    "dependencies",
    "description",
    "enum",
    "exclusiveMaximum",
    "exclusiveMinimum",
    "items",
    "maxItems",
    "maxLength",
    "maxProperties",
    "maximum",
    "minItems",
    "minLength",
    "minProperties",
    "minimum",
    "multipleOf",
    "not",
    "oneOf",
    "pattern",
    "patternProperties",
    "properties",
    "required",
    "title",
    "type",
    "uniqueItems",
];

/// JSON Schema keywords MongoDB knows but rejects.
const UNSUPPORTED_KEYWORDS: &[&str] = &["$ref", "$schema", "default", "definitions", "format", "id"];

/// Client-side field level encryption keywords: MongoDB accepts them, Argon
/// has no encryption, so they are refused rather than silently ignored.
const ENCRYPTION_KEYWORDS: &[&str] = &["encrypt", "encryptMetadata"];

impl Schema {
    /// Parses the argument of `$jsonSchema`.
    pub fn parse(spec: &Document) -> Result<Schema> {
        for key in spec.keys() {
            let key = key.as_str();
            if UNSUPPORTED_KEYWORDS.contains(&key) {
                return err(
                    codes::FAILED_TO_PARSE,
                    format!("$jsonSchema keyword '{key}' is not currently supported"),
                );
            }
            if ENCRYPTION_KEYWORDS.contains(&key) {
                return err(
                    codes::NOT_IMPLEMENTED,
                    format!("$jsonSchema keyword '{key}' is not implemented by Argon"),
                );
            }
            if !KEYWORDS.contains(&key) {
                return err(codes::FAILED_TO_PARSE, format!("Unknown $jsonSchema keyword: {key}"));
            }
        }
        let title = annotation(spec, "title")?;
        let description = annotation(spec, "description")?;
        let mut rules = Vec::new();
        parse_type(spec, &mut rules)?;
        parse_scalar_keywords(spec, &mut rules)?;
        parse_array_keywords(spec, &mut rules)?;
        parse_object_keywords(spec, &mut rules)?;
        parse_logical_keywords(spec, &mut rules)?;
        Ok(Schema { rules, spec: spec.clone(), title, description })
    }

    /// Whether the document satisfies the schema.
    pub fn matches(&self, doc: &Document) -> bool {
        self.holds(Val::Root(doc))
    }

    /// Whether a value satisfies the schema (as a nested schema sees it: a
    /// document here is an embedded object).
    pub fn matches_value(&self, v: &Bson) -> bool {
        self.holds(Val::Value(v))
    }

    fn holds(&self, v: Val) -> bool {
        self.rules.iter().all(|r| r.holds(v))
    }

    /// Why the document fails the schema, in the shape of MongoDB's
    /// document validation error (`errInfo.details`):
    /// `{operatorName: "$jsonSchema", schemaRulesNotSatisfied: [...]}`,
    /// one entry per unsatisfied keyword, nesting into `properties`,
    /// `items`, `allOf`... `None` when the document matches.
    pub fn explain_failure(&self, doc: &Document) -> Option<Document> {
        let failures = self.failures(Val::Root(doc));
        if failures.is_empty() {
            return None;
        }
        let mut out = doc! {"operatorName": "$jsonSchema"};
        if let Some(title) = &self.title {
            out.insert("title", title.as_str());
        }
        out.insert("schemaRulesNotSatisfied", documents(failures));
        Some(out)
    }

    fn failures(&self, v: Val) -> Vec<Document> {
        let mut out = Vec::new();
        for rule in &self.rules {
            if !rule.holds(v) {
                rule.explain(self, v, &mut out);
            }
        }
        out
    }

    /// `{keyword: <as written>}`, MongoDB's `specifiedAs`.
    fn specified_as(&self, keywords: &[&str]) -> Document {
        keywords.iter().filter_map(|k| self.spec.get(*k).map(|v| (k.to_string(), v.clone()))).collect()
    }

    /// Adds the top-level fields matching a document against this schema
    /// reads (see [`Deps`]).
    pub(crate) fn add_dependencies(&self, deps: &mut Deps) {
        for rule in &self.rules {
            match rule {
                Rule::Required(names) => names.iter().for_each(|n| deps.add_field(n)),
                Rule::Properties(properties) => properties.iter().for_each(|(n, _)| deps.add_field(n)),
                Rule::Dependencies(dependencies) => {
                    for (name, dependency) in dependencies {
                        deps.add_field(name);
                        match dependency {
                            Dependency::Fields(names) => names.iter().for_each(|n| deps.add_field(n)),
                            Dependency::Schema(s) => s.add_dependencies(deps),
                        }
                    }
                }
                Rule::AllOf(schemas) | Rule::AnyOf(schemas) | Rule::OneOf(schemas) => {
                    schemas.iter().for_each(|s| s.add_dependencies(deps))
                }
                Rule::Not(s) => s.add_dependencies(deps),
                // These look at every field (or compare the whole document).
                Rule::AllowedProperties { .. } | Rule::Enum(_) => deps.set_whole(),
                Rule::Count { counted: Counted::ObjectFields, .. } => deps.set_whole(),
                // The rest constrain non-objects (or the type, always
                // "object" here): they read no field of a document.
                Rule::Type { .. }
                | Rule::Bound { .. }
                | Rule::MultipleOf(_)
                | Rule::Count { .. }
                | Rule::Pattern(_)
                | Rule::Items(_)
                | Rule::TupleItems { .. }
                | Rule::UniqueItems => {}
            }
        }
    }
}

impl Rule {
    fn holds(&self, v: Val) -> bool {
        match self {
            Rule::Type { types, .. } => types.contains_code(v.type_code()),
            Rule::Bound { cmp, limit, .. } => match v.value() {
                Some(x) if is_number(x) => compare_match(*cmp, Some(x), limit),
                _ => true,
            },
            Rule::MultipleOf(divisor) => match v.value() {
                Some(x) if is_number(x) => is_multiple_of(x, divisor),
                _ => true,
            },
            Rule::Count { counted, limit, at_least, .. } => match count(*counted, v) {
                Some(n) if *at_least => n >= *limit,
                Some(n) => n <= *limit,
                None => true,
            },
            Rule::Pattern(re) => match v.value() {
                Some(Bson::String(s)) => re.is_match(s),
                _ => true,
            },
            Rule::Items(schema) => {
                v.array().is_none_or(|items| items.iter().all(|x| schema.matches_value(x)))
            }
            Rule::TupleItems { schemas, additional } => v.array().is_none_or(|items| {
                items.iter().zip(schemas).all(|(x, s)| s.matches_value(x))
                    && items.iter().skip(schemas.len()).all(|x| additional.admits(x))
            }),
            Rule::UniqueItems => v.array().is_none_or(|items| first_duplicate(items).is_none()),
            Rule::Required(names) => v.document().is_none_or(|d| names.iter().all(|n| d.contains_key(n))),
            Rule::Properties(properties) => v.document().is_none_or(|d| {
                properties.iter().all(|(name, s)| d.get(name).is_none_or(|x| s.matches_value(x)))
            }),
            Rule::AllowedProperties { .. } => {
                v.document().is_none_or(|d| d.iter().all(|(name, x)| self.allows_property(name, x)))
            }
            Rule::Dependencies(dependencies) => v.document().is_none_or(|d| {
                dependencies.iter().all(|(name, dependency)| !d.contains_key(name) || dependency.holds(d, v))
            }),
            Rule::AllOf(schemas) => schemas.iter().all(|s| s.holds(v)),
            Rule::AnyOf(schemas) => schemas.iter().any(|s| s.holds(v)),
            Rule::OneOf(schemas) => schemas.iter().filter(|s| s.holds(v)).take(2).count() == 1,
            Rule::Not(schema) => !schema.holds(v),
            Rule::Enum(values) => values.iter().any(|e| v.equals(e)),
        }
    }

    /// For [`Rule::AllowedProperties`]: whether one field is allowed.
    fn allows_property(&self, name: &str, value: &Bson) -> bool {
        let Rule::AllowedProperties { named, patterns, additional } = self else { return true };
        let mut matched_a_pattern = false;
        for (re, schema) in patterns {
            if re.is_match(name) {
                matched_a_pattern = true;
                if !schema.matches_value(value) {
                    return false;
                }
            }
        }
        matched_a_pattern || named.iter().any(|n| n == name) || additional.admits(value)
    }

    /// Appends MongoDB-style details of why this (failing) rule fails.
    fn explain(&self, schema: &Schema, v: Val, out: &mut Vec<Document>) {
        let considered = || v.to_bson();
        match self {
            Rule::Type { keyword, .. } => out.push(doc! {
                "operatorName": *keyword,
                "specifiedAs": schema.specified_as(&[*keyword]),
                "reason": "type did not match",
                "consideredValue": considered(),
                "consideredType": v.type_name(),
            }),
            Rule::Bound { keyword, .. } => {
                let exclusive = if *keyword == "minimum" { "exclusiveMinimum" } else { "exclusiveMaximum" };
                out.push(doc! {
                    "operatorName": *keyword,
                    "specifiedAs": schema.specified_as(&[*keyword, exclusive]),
                    "reason": "comparison failed",
                    "consideredValue": considered(),
                });
            }
            Rule::MultipleOf(_) => out.push(doc! {
                "operatorName": "multipleOf",
                "specifiedAs": schema.specified_as(&["multipleOf"]),
                "reason": "considered value is not a multiple of the specified value",
                "consideredValue": considered(),
            }),
            Rule::Count { keyword, counted, .. } => {
                let mut entry = doc! {
                    "operatorName": *keyword,
                    "specifiedAs": schema.specified_as(&[*keyword]),
                };
                match counted {
                    Counted::CodePoints => {
                        entry.insert("reason", "specified string length was not satisfied");
                        entry.insert("consideredValue", considered());
                    }
                    Counted::ArrayItems => {
                        entry.insert("reason", "array did not match specified length");
                        entry.insert("consideredValue", considered());
                    }
                    Counted::ObjectFields => {
                        entry.insert("reason", "specified number of properties was not satisfied");
                        entry.insert("numberOfProperties", count(*counted, v).unwrap_or(0) as i64);
                    }
                }
                out.push(entry);
            }
            Rule::Pattern(_) => out.push(doc! {
                "operatorName": "pattern",
                "specifiedAs": schema.specified_as(&["pattern"]),
                "reason": "regular expression did not match",
                "consideredValue": considered(),
            }),
            Rule::Items(item_schema) => {
                let items = v.array().unwrap_or_default();
                if let Some((i, x)) = items.iter().enumerate().find(|(_, x)| !item_schema.matches_value(x)) {
                    out.push(doc! {
                        "operatorName": "items",
                        "reason": "At least one item did not match the sub-schema",
                        "itemIndex": i as i64,
                        "details": documents(item_schema.failures(Val::Value(x))),
                    });
                }
            }
            Rule::TupleItems { schemas, additional } => {
                let items = v.array().unwrap_or_default();
                let positional =
                    items.iter().zip(schemas).enumerate().find(|(_, (x, s))| !s.matches_value(x));
                if let Some((i, (x, s))) = positional {
                    out.push(doc! {
                        "operatorName": "items",
                        "details": [{"index": i as i64, "details": documents(s.failures(Val::Value(x)))}],
                    });
                }
                let extra = items.iter().enumerate().skip(schemas.len()).find(|(_, x)| !additional.admits(x));
                if let Some((i, x)) = extra {
                    let mut entry = doc! {"operatorName": "additionalItems"};
                    match additional {
                        Additional::Schema(s) => {
                            entry.insert(
                                "reason",
                                "At least one additional item did not match the sub-schema",
                            );
                            entry.insert("itemIndex", i as i64);
                            entry.insert("details", documents(s.failures(Val::Value(x))));
                        }
                        _ => {
                            entry.insert("specifiedAs", schema.specified_as(&["additionalItems"]));
                            entry.insert("reason", "found additional items");
                            entry.insert("additionalItems", Bson::Array(items[schemas.len()..].to_vec()));
                        }
                    }
                    out.push(entry);
                }
            }
            Rule::UniqueItems => {
                let items = v.array().unwrap_or_default();
                let mut entry = doc! {
                    "operatorName": "uniqueItems",
                    "specifiedAs": schema.specified_as(&["uniqueItems"]),
                    "reason": "found a duplicate item",
                    "consideredValue": considered(),
                };
                if let Some(duplicate) = first_duplicate(items) {
                    entry.insert("duplicatedValue", duplicate.clone());
                }
                out.push(entry);
            }
            Rule::Required(names) => {
                let d = v.document();
                let missing: Vec<Bson> = names
                    .iter()
                    .filter(|n| d.is_some_and(|d| !d.contains_key(n.as_str())))
                    .map(|n| Bson::String(n.clone()))
                    .collect();
                out.push(doc! {
                    "operatorName": "required",
                    "specifiedAs": schema.specified_as(&["required"]),
                    "missingProperties": missing,
                });
            }
            Rule::Properties(properties) => {
                let Some(d) = v.document() else { return };
                let mut failing = Vec::new();
                for (name, s) in properties {
                    let Some(x) = d.get(name) else { continue };
                    if s.matches_value(x) {
                        continue;
                    }
                    let mut entry = doc! {"propertyName": name.as_str()};
                    if let Some(description) = &s.description {
                        entry.insert("description", description.as_str());
                    }
                    entry.insert("details", documents(s.failures(Val::Value(x))));
                    failing.push(entry);
                }
                out.push(doc! {"operatorName": "properties", "propertiesNotSatisfied": documents(failing)});
            }
            Rule::AllowedProperties { patterns, additional, .. } => {
                let Some(d) = v.document() else { return };
                let mut pattern_failures = Vec::new();
                let mut additional_names = Vec::new();
                let mut additional_failure = None;
                for (name, x) in d {
                    let mut matched_a_pattern = false;
                    for (re, s) in patterns {
                        if re.is_match(name) {
                            matched_a_pattern = true;
                            if !s.matches_value(x) {
                                pattern_failures.push(doc! {
                                    "propertyName": name.as_str(),
                                    "regexMatched": re.pattern(),
                                    "details": documents(s.failures(Val::Value(x))),
                                });
                            }
                        }
                    }
                    if matched_a_pattern || self.names_property(name) || additional.admits(x) {
                        continue;
                    }
                    additional_names.push(Bson::String(name.clone()));
                    if let (Additional::Schema(s), None) = (additional, &additional_failure) {
                        additional_failure = Some((name, s.failures(Val::Value(x))));
                    }
                }
                if !pattern_failures.is_empty() {
                    out.push(
                        doc! {"operatorName": "patternProperties", "details": documents(pattern_failures)},
                    );
                }
                if let Some((name, details)) = additional_failure {
                    out.push(doc! {
                        "operatorName": "additionalProperties",
                        "reason": "at least one additional property did not match the subschema",
                        "failingProperty": name.as_str(),
                        "details": documents(details),
                    });
                } else if !additional_names.is_empty() {
                    out.push(doc! {
                        "operatorName": "additionalProperties",
                        "specifiedAs": schema.specified_as(&["additionalProperties"]),
                        "additionalProperties": additional_names,
                    });
                }
            }
            Rule::Dependencies(dependencies) => {
                let Some(d) = v.document() else { return };
                let mut failing = Vec::new();
                for (name, dependency) in dependencies {
                    if !d.contains_key(name) || dependency.holds(d, v) {
                        continue;
                    }
                    let mut entry = doc! {"conditionalProperty": name.as_str()};
                    match dependency {
                        Dependency::Fields(names) => {
                            let missing: Vec<Bson> = names
                                .iter()
                                .filter(|n| !d.contains_key(n.as_str()))
                                .map(|n| Bson::String(n.clone()))
                                .collect();
                            entry.insert("missingProperties", missing);
                        }
                        Dependency::Schema(s) => {
                            entry.insert("details", documents(s.failures(v)));
                        }
                    }
                    failing.push(entry);
                }
                out.push(doc! {"operatorName": "dependencies", "failingDependencies": documents(failing)});
            }
            Rule::AllOf(schemas) | Rule::AnyOf(schemas) | Rule::OneOf(schemas) => {
                let operator = match self {
                    Rule::AllOf(_) => "allOf",
                    Rule::AnyOf(_) => "anyOf",
                    _ => "oneOf",
                };
                let matching: Vec<Bson> = (0..schemas.len())
                    .filter(|i| schemas[*i].holds(v))
                    .map(|i| Bson::Int64(i as i64))
                    .collect();
                if operator == "oneOf" && matching.len() > 1 {
                    out.push(doc! {
                        "operatorName": "oneOf",
                        "reason": "more than one subschema matched",
                        "matchingSchemaIndexes": matching,
                    });
                    return;
                }
                let not_satisfied: Vec<Document> = schemas
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| !s.holds(v))
                    .map(|(i, s)| doc! {"index": i as i64, "details": documents(s.failures(v))})
                    .collect();
                out.push(doc! {"operatorName": operator, "schemasNotSatisfied": documents(not_satisfied)});
            }
            Rule::Not(_) => out.push(doc! {
                "operatorName": "not",
                "specifiedAs": schema.specified_as(&["not"]),
                "reason": "child expression matched",
            }),
            Rule::Enum(_) => out.push(doc! {
                "operatorName": "enum",
                "specifiedAs": schema.specified_as(&["enum"]),
                "reason": "value was not found in enum",
                "consideredValue": considered(),
            }),
        }
    }

    /// For [`Rule::AllowedProperties`]: whether `properties` names the field.
    fn names_property(&self, name: &str) -> bool {
        matches!(self, Rule::AllowedProperties { named, .. } if named.iter().any(|n| n == name))
    }
}

impl Additional {
    fn admits(&self, v: &Bson) -> bool {
        match self {
            Additional::Allowed => true,
            Additional::Forbidden => false,
            Additional::Schema(s) => s.matches_value(v),
        }
    }
}

impl Dependency {
    /// Whether the object `d` (seen as `v`) satisfies the dependency, given
    /// that its field is present.
    fn holds(&self, d: &Document, v: Val) -> bool {
        match self {
            Dependency::Fields(names) => names.iter().all(|n| d.contains_key(n)),
            Dependency::Schema(s) => s.holds(v),
        }
    }
}

/// The size a count keyword constrains, `None` for values of other types.
fn count(counted: Counted, v: Val) -> Option<u64> {
    let n = match counted {
        Counted::CodePoints => match v.value() {
            Some(Bson::String(s)) => s.chars().count(),
            _ => return None,
        },
        Counted::ArrayItems => v.array()?.len(),
        Counted::ObjectFields => v.document()?.len(),
    };
    Some(n as u64)
}

/// An element equal (as `uniqueItems` sees it) to an earlier one.
fn first_duplicate(items: &[Bson]) -> Option<&Bson> {
    let mut sorted: Vec<&Bson> = items.iter().collect();
    sorted.sort_by(|a, b| compare_unordered(a, b));
    sorted.windows(2).find(|w| compare_unordered(w[0], w[1]).is_eq()).map(|w| w[0])
}

/// MongoDB's order with documents compared as sets of fields, so that
/// `{a: 1, b: 2}` equals `{b: 2, a: 1}` (how `enum` and `uniqueItems`
/// compare). A total order, so duplicates can be found by sorting.
fn compare_unordered(a: &Bson, b: &Bson) -> Ordering {
    match (a, b) {
        (Bson::Document(x), Bson::Document(y)) => compare_documents_unordered(x, y),
        (Bson::Array(x), Bson::Array(y)) => {
            for (p, q) in x.iter().zip(y) {
                let ord = compare_unordered(p, q);
                if ord.is_ne() {
                    return ord;
                }
            }
            x.len().cmp(&y.len())
        }
        _ => compare(a, b),
    }
}

fn compare_documents_unordered(a: &Document, b: &Document) -> Ordering {
    let (fa, fb) = (fields_by_name(a), fields_by_name(b));
    for ((ka, va), (kb, vb)) in fa.iter().zip(&fb) {
        let ord = type_class(va)
            .cmp(&type_class(vb))
            .then_with(|| ka.as_bytes().cmp(kb.as_bytes()))
            .then_with(|| compare_unordered(va, vb));
        if ord.is_ne() {
            return ord;
        }
    }
    fa.len().cmp(&fb.len())
}

fn fields_by_name(d: &Document) -> Vec<(&String, &Bson)> {
    let mut fields: Vec<(&String, &Bson)> = d.iter().collect();
    fields.sort_by(|p, q| p.0.as_bytes().cmp(q.0.as_bytes()));
    fields
}

fn documents(items: Vec<Document>) -> Bson {
    Bson::Array(items.into_iter().map(Bson::Document).collect())
}

// Parsing, keyword group by keyword group, in MongoDB's order (so the first
// error reported is the one MongoDB reports).

/// `title` and `description`: strings that do not affect matching.
fn annotation(spec: &Document, keyword: &str) -> Result<Option<String>> {
    match spec.get(keyword) {
        None => Ok(None),
        Some(Bson::String(s)) => Ok(Some(s.clone())),
        Some(_) => {
            err(codes::TYPE_MISMATCH, format!("$jsonSchema keyword '{keyword}' must be of type string"))
        }
    }
}

fn parse_type(spec: &Document, rules: &mut Vec<Rule>) -> Result<()> {
    let (json_type, bson_type) = (spec.get("type"), spec.get("bsonType"));
    let (keyword, value) = match (json_type, bson_type) {
        (Some(_), Some(_)) => {
            return err(
                codes::FAILED_TO_PARSE,
                "Cannot specify both $jsonSchema keywords 'type' and 'bsonType'",
            )
        }
        (Some(t), None) => ("type", t),
        (None, Some(t)) => ("bsonType", t),
        (None, None) => return Ok(()),
    };
    let names: Vec<&str> = match value {
        Bson::String(s) => vec![s.as_str()],
        Bson::Array(items) => {
            let mut names = Vec::with_capacity(items.len());
            for item in items {
                let Bson::String(s) = item else {
                    return err(
                        codes::TYPE_MISMATCH,
                        format!("$jsonSchema keyword '{keyword}' array elements must be strings"),
                    );
                };
                names.push(s.as_str());
            }
            names
        }
        _ => {
            return err(
                codes::TYPE_MISMATCH,
                format!("$jsonSchema keyword '{keyword}' must be either a string or an array of strings"),
            )
        }
    };
    let mut types = TypeSet::EMPTY;
    for (i, name) in names.iter().enumerate() {
        if *name == "integer" {
            return err(codes::FAILED_TO_PARSE, "$jsonSchema type 'integer' is not currently supported.");
        }
        if names[..i].contains(name) {
            return err(
                codes::FAILED_TO_PARSE,
                format!("$jsonSchema keyword '{keyword}' has duplicate value: {name}"),
            );
        }
    }
    for name in names {
        if name == "number" {
            types.insert_numbers();
            continue;
        }
        let code = if keyword == "type" { json_type_code(name) } else { code_for_alias(name) };
        let Some(code) = code else {
            return err(codes::BAD_VALUE, format!("Unknown type name alias: {name}"));
        };
        types.insert_code(code);
    }
    if types.is_empty() {
        return err(
            codes::FAILED_TO_PARSE,
            format!("$jsonSchema keyword '{keyword}' must name at least one type"),
        );
    }
    rules.push(Rule::Type { keyword, types });
    Ok(())
}

/// The BSON type number of a JSON Schema `type` name ("number" aside).
fn json_type_code(name: &str) -> Option<i32> {
    Some(match name {
        "object" => 3,
        "array" => 4,
        "string" => 2,
        "boolean" => 8,
        "null" => 10,
        _ => return None,
    })
}

fn parse_scalar_keywords(spec: &Document, rules: &mut Vec<Rule>) -> Result<()> {
    if let Some(pattern) = spec.get("pattern") {
        let Bson::String(pattern) = pattern else {
            return err(codes::TYPE_MISMATCH, "$jsonSchema keyword 'pattern' must be a string");
        };
        // JSON Schema has no way to give regex flags.
        rules.push(Rule::Pattern(MongoRegex::new(pattern, "")?));
    }
    for (keyword, at_least) in [("maxLength", false), ("minLength", true)] {
        if let Some(value) = spec.get(keyword) {
            let limit = parse_count(keyword, value)?;
            rules.push(Rule::Count { keyword, counted: Counted::CodePoints, limit, at_least });
        }
    }
    if let Some(divisor) = spec.get("multipleOf") {
        if !is_number(divisor) {
            return err(codes::TYPE_MISMATCH, "$jsonSchema keyword 'multipleOf' must be a number");
        }
        if compare(divisor, &Bson::Int32(0)).is_le() && !crate::compare::is_nan(divisor) {
            return err(
                codes::FAILED_TO_PARSE,
                "$jsonSchema keyword 'multipleOf' must have a positive value",
            );
        }
        rules.push(Rule::MultipleOf(divisor.clone()));
    }
    for (keyword, exclusive_keyword, inclusive, exclusive) in [
        ("maximum", "exclusiveMaximum", Cmp::Lte, Cmp::Lt),
        ("minimum", "exclusiveMinimum", Cmp::Gte, Cmp::Gt),
    ] {
        let is_exclusive = match spec.get(exclusive_keyword) {
            None => false,
            Some(Bson::Boolean(b)) => *b,
            Some(_) => {
                return err(
                    codes::TYPE_MISMATCH,
                    format!("$jsonSchema keyword '{exclusive_keyword}' must be a boolean"),
                )
            }
        };
        let Some(limit) = spec.get(keyword) else {
            if spec.contains_key(exclusive_keyword) {
                // MongoDB's wording, "a present" included.
                return err(
                    codes::FAILED_TO_PARSE,
                    format!(
                        "$jsonSchema keyword '{keyword}' must be a present if {exclusive_keyword} is present"
                    ),
                );
            }
            continue;
        };
        if !is_number(limit) {
            return err(codes::TYPE_MISMATCH, format!("$jsonSchema keyword '{keyword}' must be a number"));
        }
        let cmp = if is_exclusive { exclusive } else { inclusive };
        rules.push(Rule::Bound { keyword, cmp, limit: limit.clone() });
    }
    Ok(())
}

fn parse_array_keywords(spec: &Document, rules: &mut Vec<Rule>) -> Result<()> {
    for (keyword, at_least) in [("minItems", true), ("maxItems", false)] {
        if let Some(value) = spec.get(keyword) {
            let limit = parse_count(keyword, value)?;
            rules.push(Rule::Count { keyword, counted: Counted::ArrayItems, limit, at_least });
        }
    }
    match spec.get("uniqueItems") {
        None | Some(Bson::Boolean(false)) => {}
        Some(Bson::Boolean(true)) => rules.push(Rule::UniqueItems),
        Some(_) => return err(codes::TYPE_MISMATCH, "$jsonSchema keyword 'uniqueItems' must be a boolean"),
    }
    let mut tuple = None;
    match spec.get("items") {
        None => {}
        Some(Bson::Document(d)) => rules.push(Rule::Items(Box::new(Schema::parse(d)?))),
        Some(Bson::Array(items)) => {
            let mut schemas = Vec::with_capacity(items.len());
            for item in items {
                let Bson::Document(d) = item else {
                    return err(
                        codes::TYPE_MISMATCH,
                        format!(
                            "$jsonSchema keyword 'items' requires that each element of the array is an object, but found a {}",
                            type_name(item)
                        ),
                    );
                };
                schemas.push(Schema::parse(d)?);
            }
            tuple = Some(schemas);
        }
        Some(other) => {
            return err(
                codes::TYPE_MISMATCH,
                format!(
                    "$jsonSchema keyword 'items' must be an array or an object, not {}",
                    type_name(other)
                ),
            )
        }
    }
    // additionalItems is checked even where it has no effect (when items is
    // absent or a single schema), as MongoDB does.
    let additional = match spec.get("additionalItems") {
        None => Additional::Allowed,
        Some(value) => match parse_additional(value) {
            Some(parsed) => parsed?,
            None => {
                return err(
                    codes::TYPE_MISMATCH,
                    format!(
                        "$jsonSchema keyword 'additionalItems' must be either an object or a boolean, but got a {}",
                        type_name(value)
                    ),
                )
            }
        },
    };
    if let Some(schemas) = tuple {
        rules.push(Rule::TupleItems { schemas, additional });
    }
    Ok(())
}

/// `true`, `false` or a schema; `None` for other types (each keyword words
/// that error itself).
fn parse_additional(value: &Bson) -> Option<Result<Additional>> {
    match value {
        Bson::Boolean(true) => Some(Ok(Additional::Allowed)),
        Bson::Boolean(false) => Some(Ok(Additional::Forbidden)),
        Bson::Document(d) => Some(Schema::parse(d).map(|s| Additional::Schema(Box::new(s)))),
        _ => None,
    }
}

fn parse_object_keywords(spec: &Document, rules: &mut Vec<Rule>) -> Result<()> {
    let required = match spec.get("required") {
        None => None,
        Some(value) => Some(parse_required(value)?),
    };
    let mut named = Vec::new();
    if let Some(value) = spec.get("properties") {
        let Bson::Document(properties) = value else {
            return err(codes::TYPE_MISMATCH, "$jsonSchema keyword 'properties' must be an object");
        };
        let mut parsed = Vec::with_capacity(properties.len());
        for (name, sub) in properties {
            let Bson::Document(sub) = sub else {
                return err(
                    codes::TYPE_MISMATCH,
                    format!("Nested schema for $jsonSchema property '{name}' must be an object"),
                );
            };
            parsed.push((name.clone(), Schema::parse(sub)?));
            named.push(name.clone());
        }
        rules.push(Rule::Properties(parsed));
    }
    let pattern_properties = spec.get("patternProperties");
    let additional_properties = spec.get("additionalProperties");
    if pattern_properties.is_some() || additional_properties.is_some() {
        let mut patterns = Vec::new();
        if let Some(value) = pattern_properties {
            let Bson::Document(d) = value else {
                return err(
                    codes::TYPE_MISMATCH,
                    "$jsonSchema keyword 'patternProperties' must be an object",
                );
            };
            for (pattern, sub) in d {
                let Bson::Document(sub) = sub else {
                    return err(
                        codes::TYPE_MISMATCH,
                        format!("$jsonSchema keyword 'patternProperties' has property '{pattern}' which is not an object"),
                    );
                };
                patterns.push((MongoRegex::new(pattern, "")?, Schema::parse(sub)?));
            }
        }
        let additional = match additional_properties {
            None => Additional::Allowed,
            Some(value) => match parse_additional(value) {
                Some(parsed) => parsed?,
                None => {
                    return err(
                        codes::TYPE_MISMATCH,
                        "$jsonSchema keyword 'additionalProperties' must be an object or a boolean",
                    )
                }
            },
        };
        rules.push(Rule::AllowedProperties { named, patterns, additional });
    }
    if let Some(required) = required {
        rules.push(Rule::Required(required));
    }
    for (keyword, at_least) in [("minProperties", true), ("maxProperties", false)] {
        if let Some(value) = spec.get(keyword) {
            let limit = parse_count(keyword, value)?;
            rules.push(Rule::Count { keyword, counted: Counted::ObjectFields, limit, at_least });
        }
    }
    if let Some(value) = spec.get("dependencies") {
        rules.push(Rule::Dependencies(parse_dependencies(value)?));
    }
    Ok(())
}

fn parse_required(value: &Bson) -> Result<Vec<String>> {
    let Bson::Array(items) = value else {
        return err(
            codes::TYPE_MISMATCH,
            format!(
                "$jsonSchema keyword 'required' must be an array, but found an element of type {}",
                type_name(value)
            ),
        );
    };
    let mut names: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let Bson::String(name) = item else {
            return err(
                codes::TYPE_MISMATCH,
                format!(
                    "$jsonSchema keyword 'required' must be an array of strings, but found an element of type: {}",
                    type_name(item)
                ),
            );
        };
        names.push(name.clone());
    }
    if names.is_empty() {
        return err(codes::FAILED_TO_PARSE, "$jsonSchema keyword 'required' cannot be an empty array");
    }
    let mut sorted: Vec<&String> = names.iter().collect();
    sorted.sort();
    if sorted.windows(2).any(|w| w[0] == w[1]) {
        return err(
            codes::FAILED_TO_PARSE,
            "$jsonSchema keyword 'required' array cannot contain duplicate values",
        );
    }
    Ok(names)
}

fn parse_dependencies(value: &Bson) -> Result<Vec<(String, Dependency)>> {
    let Bson::Document(d) = value else {
        return err(codes::TYPE_MISMATCH, "$jsonSchema keyword 'dependencies' must be an object");
    };
    let mut dependencies = Vec::with_capacity(d.len());
    for (name, dependency) in d {
        let parsed = match dependency {
            Bson::Document(sub) => Dependency::Schema(Schema::parse(sub)?),
            Bson::Array(items) => {
                if items.is_empty() {
                    return err(
                        codes::FAILED_TO_PARSE,
                        format!("property '{name}' in $jsonSchema keyword 'dependencies' cannot be an empty array"),
                    );
                }
                let mut fields: Vec<String> = Vec::with_capacity(items.len());
                for item in items {
                    let Bson::String(field) = item else {
                        return err(
                            codes::TYPE_MISMATCH,
                            format!(
                                "array '{name}' in $jsonSchema keyword 'dependencies' can only contain strings, but found element of type: {}",
                                type_name(item)
                            ),
                        );
                    };
                    if fields.contains(field) {
                        return err(
                            codes::FAILED_TO_PARSE,
                            format!(
                                "array '{name}' in $jsonSchema keyword 'dependencies' contains duplicate element: {field}"
                            ),
                        );
                    }
                    fields.push(field.clone());
                }
                Dependency::Fields(fields)
            }
            _ => {
                return err(
                    codes::TYPE_MISMATCH,
                    format!("property '{name}' in $jsonSchema keyword 'dependencies' must be either an object or an array"),
                )
            }
        };
        dependencies.push((name.clone(), parsed));
    }
    Ok(dependencies)
}

fn parse_logical_keywords(spec: &Document, rules: &mut Vec<Rule>) -> Result<()> {
    for keyword in ["allOf", "anyOf", "oneOf"] {
        let Some(value) = spec.get(keyword) else { continue };
        let Bson::Array(items) = value else {
            return err(codes::TYPE_MISMATCH, format!("$jsonSchema keyword '{keyword}' must be an array"));
        };
        if items.is_empty() {
            return err(
                codes::BAD_VALUE,
                format!("$jsonSchema keyword '{keyword}' must be a non-empty array"),
            );
        }
        let mut schemas = Vec::with_capacity(items.len());
        for item in items {
            let Bson::Document(d) = item else {
                return err(
                    codes::TYPE_MISMATCH,
                    format!(
                        "$jsonSchema keyword '{keyword}' must be an array of objects, but found an element of type {}",
                        type_name(item)
                    ),
                );
            };
            schemas.push(Schema::parse(d)?);
        }
        rules.push(match keyword {
            "allOf" => Rule::AllOf(schemas),
            "anyOf" => Rule::AnyOf(schemas),
            _ => Rule::OneOf(schemas),
        });
    }
    if let Some(value) = spec.get("not") {
        let Bson::Document(d) = value else {
            return err(
                codes::TYPE_MISMATCH,
                format!(
                    "$jsonSchema keyword 'not' must be an object, but found an element of type {}",
                    type_name(value)
                ),
            );
        };
        rules.push(Rule::Not(Box::new(Schema::parse(d)?)));
    }
    if let Some(value) = spec.get("enum") {
        let Bson::Array(items) = value else {
            return err(
                codes::TYPE_MISMATCH,
                format!(
                    "$jsonSchema keyword 'enum' must be an array, but found an element of type {}",
                    type_name(value)
                ),
            );
        };
        if items.is_empty() {
            return err(codes::FAILED_TO_PARSE, "$jsonSchema keyword 'enum' cannot be an empty array");
        }
        if first_duplicate(items).is_some() {
            return err(
                codes::FAILED_TO_PARSE,
                "$jsonSchema keyword 'enum' array cannot contain duplicate values.",
            );
        }
        rules.push(Rule::Enum(items.clone()));
    }
    Ok(())
}

/// A non-negative integer argument (`minLength`, `maxItems`, ...), with
/// MongoDB's errors (all FailedToParse).
fn parse_count(keyword: &str, value: &Bson) -> Result<u64> {
    let shown = display::element(keyword, value);
    let n: i64 = match value {
        Bson::Int32(i) => *i as i64,
        Bson::Int64(i) => *i,
        Bson::Double(_) | Bson::Decimal128(_) => {
            let f = crate::numeric::to_f64(value).unwrap_or(f64::NAN);
            if f.is_nan() {
                return err(
                    codes::FAILED_TO_PARSE,
                    format!("Expected an integer, but found NaN in: {shown}"),
                );
            }
            if !(-9.223372036854776e18..9.223372036854776e18).contains(&f) {
                return err(codes::FAILED_TO_PARSE, format!("Cannot represent as a 64-bit integer: {shown}"));
            }
            if f.fract() != 0.0 {
                return err(codes::FAILED_TO_PARSE, format!("Expected an integer: {shown}"));
            }
            f as i64
        }
        _ => return err(codes::FAILED_TO_PARSE, format!("Expected a number in: {shown}")),
    };
    u64::try_from(n)
        .or_else(|_| err(codes::FAILED_TO_PARSE, format!("Expected a positive number in: {shown}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regex::regex_value;
    use crate::Filter;
    use bson::{oid::ObjectId, Binary, Decimal128, JavaScriptCodeWithScope, Timestamp};
    use proptest::prelude::*;

    fn schema(spec: Document) -> Schema {
        Schema::parse(&spec).unwrap_or_else(|e| panic!("{spec} should parse: {e}"))
    }

    fn dec(s: &str) -> Bson {
        Bson::Decimal128(s.parse::<Decimal128>().unwrap())
    }

    /// Whether `{x: value}` satisfies `{properties: {x: field_schema}}`.
    fn field_matches(field_schema: &Document, value: &Bson) -> bool {
        let s = schema(doc! {"properties": {"x": field_schema.clone()}});
        let nested = s.matches(&doc! {"x": value.clone()});
        // The same answer through the public value entry point.
        assert_eq!(
            nested,
            Schema::parse(field_schema).unwrap().matches_value(value),
            "{field_schema} on {value}"
        );
        nested
    }

    fn parse_error(spec: Document) -> (i32, String) {
        let e = Schema::parse(&spec).expect_err(&format!("{spec} should not parse"));
        (e.code, e.message)
    }

    /// Per keyword: a field schema, values it accepts, values it rejects.
    fn keyword_cases() -> Vec<(Document, Vec<Bson>, Vec<Bson>)> {
        vec![
            (doc! {"bsonType": "string"}, vec![Bson::from("a")], vec![Bson::Int32(1), Bson::Null]),
            (
                doc! {"bsonType": ["int", "long"]},
                vec![Bson::Int32(1), Bson::Int64(1)],
                vec![Bson::Double(1.0)],
            ),
            (
                doc! {"bsonType": "number"},
                vec![Bson::Int32(1), Bson::Int64(2), Bson::Double(1.5), dec("2.5")],
                vec![Bson::from("1"), Bson::Boolean(true)],
            ),
            (doc! {"type": "object"}, vec![Bson::Document(doc! {})], vec![Bson::Array(vec![])]),
            (doc! {"type": "array"}, vec![Bson::Array(vec![])], vec![Bson::Document(doc! {})]),
            (doc! {"type": "number"}, vec![Bson::Int32(1), dec("1")], vec![Bson::from("1")]),
            (doc! {"type": "boolean"}, vec![Bson::Boolean(false)], vec![Bson::Int32(0)]),
            (doc! {"type": "string"}, vec![Bson::from("")], vec![Bson::Symbol("s".into())]),
            (doc! {"type": ["null", "string"]}, vec![Bson::Null, Bson::from("a")], vec![Bson::Undefined]),
            (
                doc! {"required": ["a", "b"]},
                vec![Bson::Document(doc! {"a": 1, "b": null})],
                vec![Bson::Document(doc! {"a": 1}), Bson::Document(doc! {})],
            ),
            (
                doc! {"properties": {"a": {"bsonType": "int"}}},
                vec![Bson::Document(doc! {"a": 1}), Bson::Document(doc! {"b": "absent a is fine"})],
                vec![Bson::Document(doc! {"a": "1"})],
            ),
            (
                doc! {"patternProperties": {"^s_": {"bsonType": "string"}, "n$": {"minimum": 0}}},
                vec![Bson::Document(doc! {"s_a": "x", "other": 1, "sn": "both apply"})],
                vec![Bson::Document(doc! {"s_a": 1}), Bson::Document(doc! {"s_n": -1.5})],
            ),
            (
                doc! {"properties": {"a": {}}, "additionalProperties": false},
                vec![Bson::Document(doc! {"a": 1}), Bson::Document(doc! {})],
                vec![Bson::Document(doc! {"a": 1, "b": 2})],
            ),
            (
                doc! {"properties": {"a": {}}, "patternProperties": {"^p": {}}, "additionalProperties": {"bsonType": "int"}},
                vec![Bson::Document(doc! {"a": "x", "p1": "y", "z": 3})],
                vec![Bson::Document(doc! {"a": "x", "z": "3"})],
            ),
            (
                doc! {"additionalProperties": true, "properties": {"a": {"bsonType": "int"}}},
                vec![Bson::Document(doc! {"a": 1, "b": 2})],
                vec![Bson::Document(doc! {"a": 1.5, "b": 2})],
            ),
            (
                doc! {"minProperties": 2},
                vec![Bson::Document(doc! {"a": 1, "b": 2})],
                vec![Bson::Document(doc! {"a": 1})],
            ),
            (
                doc! {"maxProperties": 1},
                vec![Bson::Document(doc! {"a": 1})],
                vec![Bson::Document(doc! {"a": 1, "b": 2})],
            ),
            (
                doc! {"enum": [1, "a", {"p": 1, "q": [1, {"r": 2, "s": 3}]}]},
                vec![
                    Bson::Double(1.0),
                    Bson::from("a"),
                    Bson::Document(doc! {"q": [1, {"s": 3, "r": 2}], "p": 1}),
                ],
                vec![Bson::Int32(2), Bson::Array(vec![Bson::Int32(1)]), Bson::Document(doc! {"p": 1})],
            ),
            (
                doc! {"minimum": 5},
                vec![Bson::Int32(5), Bson::Double(5.5), dec("6")],
                vec![Bson::Int64(4), Bson::Double(f64::NAN)],
            ),
            (doc! {"minimum": 5, "exclusiveMinimum": true}, vec![Bson::Double(5.01)], vec![Bson::Int32(5)]),
            (doc! {"minimum": 5, "exclusiveMinimum": false}, vec![Bson::Int32(5)], vec![Bson::Int32(4)]),
            (
                doc! {"maximum": 5},
                vec![Bson::Int32(5), Bson::Int64(-9)],
                vec![Bson::Double(5.5), Bson::Double(f64::NAN)],
            ),
            (doc! {"maximum": 5, "exclusiveMaximum": true}, vec![Bson::Double(4.99)], vec![dec("5")]),
            (
                doc! {"multipleOf": 0.1},
                vec![Bson::Double(0.3), Bson::Int32(2), dec("0.7")],
                vec![Bson::Double(0.35), Bson::Double(f64::INFINITY)],
            ),
            (doc! {"multipleOf": 3}, vec![Bson::Int64(-9), Bson::Int32(0)], vec![Bson::Int32(10)]),
            (
                doc! {"minLength": 3},
                vec![Bson::from("héé"), Bson::from("abcd")],
                vec![Bson::from("ab"), Bson::from("")],
            ),
            (doc! {"maxLength": 3}, vec![Bson::from("日本語"), Bson::from("")], vec![Bson::from("abcd")]),
            (
                doc! {"pattern": "^a.c$"},
                vec![Bson::from("abc"), Bson::from("a-c")],
                vec![Bson::from("abd"), Bson::from("xabc")],
            ),
            (doc! {"pattern": "b"}, vec![Bson::from("abc")], vec![Bson::from("ac")]),
            (
                doc! {"items": {"bsonType": "int"}},
                vec![Bson::Array(vec![]), Bson::Array(vec![Bson::Int32(1), Bson::Int32(2)])],
                vec![Bson::Array(vec![Bson::Int32(1), Bson::from("2")])],
            ),
            (
                doc! {"items": [{"bsonType": "string"}, {"bsonType": "int"}]},
                vec![
                    Bson::Array(vec![Bson::from("a"), Bson::Int32(1), Bson::Null]),
                    Bson::Array(vec![Bson::from("only the first")]),
                ],
                vec![Bson::Array(vec![Bson::Int32(1), Bson::Int32(1)])],
            ),
            (
                doc! {"items": [{"bsonType": "string"}], "additionalItems": false},
                vec![Bson::Array(vec![Bson::from("a")]), Bson::Array(vec![])],
                vec![Bson::Array(vec![Bson::from("a"), Bson::from("b")])],
            ),
            (
                doc! {"items": [{}], "additionalItems": {"bsonType": "bool"}},
                vec![Bson::Array(vec![Bson::Int32(1), Bson::Boolean(true), Bson::Boolean(false)])],
                vec![Bson::Array(vec![Bson::Int32(1), Bson::Boolean(true), Bson::Int32(0)])],
            ),
            (
                // additionalItems does nothing without positional items.
                doc! {"items": {}, "additionalItems": false},
                vec![Bson::Array(vec![Bson::Int32(1), Bson::Int32(2)])],
                vec![],
            ),
            (
                doc! {"minItems": 2},
                vec![Bson::Array(vec![Bson::Null, Bson::Null])],
                vec![Bson::Array(vec![Bson::Null])],
            ),
            (
                doc! {"maxItems": 1},
                vec![Bson::Array(vec![Bson::Null])],
                vec![Bson::Array(vec![Bson::Null, Bson::Null])],
            ),
            (
                doc! {"uniqueItems": true},
                vec![
                    Bson::Array(vec![Bson::Int32(1), Bson::from("1"), Bson::Document(doc! {"a": 1})]),
                    Bson::Array(vec![
                        Bson::Document(doc! {"a": 1, "b": 2}),
                        Bson::Document(doc! {"a": 2, "b": 1}),
                    ]),
                ],
                vec![
                    Bson::Array(vec![Bson::Int32(1), Bson::Double(1.0)]),
                    Bson::Array(vec![
                        Bson::Document(doc! {"a": 1, "b": 2}),
                        Bson::Document(doc! {"b": 2, "a": 1}),
                    ]),
                ],
            ),
            (doc! {"uniqueItems": false}, vec![Bson::Array(vec![Bson::Int32(1), Bson::Int32(1)])], vec![]),
            (
                doc! {"allOf": [{"bsonType": "int"}, {"minimum": 2}]},
                vec![Bson::Int32(3)],
                vec![Bson::Int32(1), Bson::Double(3.0)],
            ),
            (
                doc! {"anyOf": [{"bsonType": "string"}, {"minimum": 2}]},
                vec![Bson::from("a"), Bson::Int32(3)],
                vec![Bson::Int32(1)],
            ),
            (
                doc! {"oneOf": [{"bsonType": "int"}, {"minimum": 2}]},
                vec![Bson::Int32(1), Bson::Double(2.5)],
                vec![Bson::Int32(3), Bson::Double(1.5)],
            ),
            (doc! {"not": {"bsonType": "string"}}, vec![Bson::Int32(1)], vec![Bson::from("a")]),
            (
                doc! {"dependencies": {"card": ["billing", "cvv"]}},
                vec![
                    Bson::Document(doc! {"card": 1, "billing": 2, "cvv": 3}),
                    Bson::Document(doc! {"billing": 2}),
                ],
                vec![Bson::Document(doc! {"card": 1, "billing": 2})],
            ),
            (
                doc! {"dependencies": {"card": {"required": ["billing"], "properties": {"card": {"bsonType": "string"}}}}},
                vec![Bson::Document(doc! {"card": "x", "billing": 2}), Bson::Document(doc! {"other": 1})],
                vec![Bson::Document(doc! {"card": "x"}), Bson::Document(doc! {"card": 1, "billing": 2})],
            ),
            (
                doc! {"title": "t", "description": "d", "bsonType": "int"},
                vec![Bson::Int32(1)],
                vec![Bson::from("annotations change nothing")],
            ),
        ]
    }

    #[test]
    fn each_keyword_accepts_and_rejects() {
        for (field_schema, accepted, rejected) in keyword_cases() {
            for v in &accepted {
                assert!(field_matches(&field_schema, v), "{field_schema} should accept {v}");
            }
            for v in &rejected {
                assert!(!field_matches(&field_schema, v), "{field_schema} should reject {v}");
            }
        }
    }

    fn sample_of_each_type() -> Vec<(&'static str, Bson)> {
        vec![
            ("double", Bson::Double(1.5)),
            ("string", Bson::from("s")),
            ("object", Bson::Document(doc! {"a": 1})),
            ("array", Bson::Array(vec![Bson::Int32(1)])),
            ("binData", Bson::Binary(Binary { subtype: bson::spec::BinarySubtype::Generic, bytes: vec![1] })),
            ("undefined", Bson::Undefined),
            ("objectId", Bson::ObjectId(ObjectId::from_bytes([1; 12]))),
            ("bool", Bson::Boolean(true)),
            ("date", Bson::DateTime(bson::DateTime::from_millis(1))),
            ("null", Bson::Null),
            ("regex", regex_value("a", "i")),
            ("javascript", Bson::JavaScriptCode("f()".into())),
            ("symbol", Bson::Symbol("s".into())),
            (
                "javascriptWithScope",
                Bson::JavaScriptCodeWithScope(JavaScriptCodeWithScope { code: "f()".into(), scope: doc! {} }),
            ),
            ("int", Bson::Int32(1)),
            ("timestamp", Bson::Timestamp(Timestamp { time: 1, increment: 1 })),
            ("long", Bson::Int64(1)),
            ("decimal", dec("1.5")),
            ("minKey", Bson::MinKey),
            ("maxKey", Bson::MaxKey),
        ]
    }

    #[test]
    fn bson_type_aliases_match_exactly_their_type() {
        let samples = sample_of_each_type();
        for (alias, _) in &samples {
            let s = doc! {"bsonType": *alias};
            for (other, value) in &samples {
                assert_eq!(field_matches(&s, value), alias == other, "bsonType {alias} on a {other}");
            }
        }
    }

    #[test]
    fn type_restricted_keywords_ignore_other_types() {
        let ignored = [
            (doc! {"minimum": 5}, Bson::from("abc")),
            (doc! {"maximum": 5}, Bson::Array(vec![Bson::Int32(10)])),
            (doc! {"multipleOf": 2}, Bson::from("3")),
            (doc! {"minLength": 5}, Bson::Int32(3)),
            (doc! {"pattern": "^x"}, Bson::Symbol("abc".into())),
            (doc! {"items": {"bsonType": "int"}}, Bson::from("abc")),
            (doc! {"minItems": 2}, Bson::Document(doc! {})),
            (doc! {"uniqueItems": true}, Bson::from("aa")),
            (doc! {"required": ["a"]}, Bson::Int32(3)),
            (
                doc! {"properties": {"a": {"bsonType": "int"}}},
                Bson::Array(vec![Bson::Document(doc! {"a": "x"})]),
            ),
            (doc! {"additionalProperties": false}, Bson::from("abc")),
            (doc! {"minProperties": 3}, Bson::Array(vec![])),
            (doc! {"dependencies": {"a": ["b"]}}, Bson::Null),
        ];
        for (field_schema, value) in ignored {
            assert!(field_matches(&field_schema, &value), "{field_schema} should ignore {value}");
        }
        // With a type, the type is enforced.
        assert!(!field_matches(&doc! {"bsonType": "number", "minimum": 5}, &Bson::from("abc")));
    }

    #[test]
    fn nested_properties_and_items_of_objects() {
        let s = schema(doc! {
            "bsonType": "object",
            "required": ["name", "address"],
            "properties": {
                "name": {"bsonType": "string", "description": "must be a string"},
                "address": {
                    "bsonType": "object",
                    "required": ["zip"],
                    "properties": {"zip": {"bsonType": "string", "pattern": "^[0-9]{5}$"}},
                },
                "phones": {
                    "bsonType": "array",
                    "items": {
                        "bsonType": "object",
                        "required": ["kind"],
                        "properties": {"kind": {"enum": ["home", "work"]}},
                        "additionalProperties": {"bsonType": "string"},
                    },
                },
            },
        });
        let ok = doc! {
            "_id": 1, "name": "Ann", "address": {"zip": "12345"},
            "phones": [{"kind": "home", "number": "555"}, {"kind": "work"}],
        };
        assert!(s.matches(&ok));
        let mut bad_zip = ok.clone();
        bad_zip.insert("address", doc! {"zip": "1234"});
        assert!(!s.matches(&bad_zip));
        let mut no_zip = ok.clone();
        no_zip.insert("address", doc! {"street": "x"});
        assert!(!s.matches(&no_zip));
        let mut bad_kind = ok.clone();
        bad_kind.insert("phones", vec![Bson::Document(doc! {"kind": "cell"})]);
        assert!(!s.matches(&bad_kind));
        let mut bad_extra = ok.clone();
        bad_extra.insert("phones", vec![Bson::Document(doc! {"kind": "home", "number": 555})]);
        assert!(!s.matches(&bad_extra));
        let mut missing_name = ok.clone();
        missing_name.remove("name");
        assert!(!s.matches(&missing_name));
        // Arrays are not traversed: "address" as an array of objects is not an object.
        let mut address_array = ok;
        address_array.insert("address", vec![Bson::Document(doc! {"zip": "12345"})]);
        assert!(!s.matches(&address_array));
    }

    #[test]
    fn the_top_level_is_the_document() {
        let d = doc! {"_id": 1, "a": 1};
        assert!(schema(doc! {"type": "object"}).matches(&d));
        assert!(schema(doc! {"bsonType": ["object", "array"]}).matches(&d));
        assert!(!schema(doc! {"bsonType": "array"}).matches(&d));
        // Scalar keywords have nothing to constrain at the top level.
        assert!(schema(doc! {"minimum": 5, "maxLength": 0, "minItems": 3}).matches(&d));
        assert!(schema(doc! {"minProperties": 2, "maxProperties": 2}).matches(&d));
        assert!(!schema(doc! {"maxProperties": 1}).matches(&d));
        // additionalProperties counts _id.
        assert!(!schema(doc! {"properties": {"a": {}}, "additionalProperties": false}).matches(&d));
        assert!(schema(doc! {"properties": {"_id": {}, "a": {}}, "additionalProperties": false}).matches(&d));
        // A top-level enum compares the whole document, fields in any order.
        let e = schema(doc! {"enum": [{"a": 1, "_id": 1}, 3]});
        assert!(e.matches(&d));
        assert!(!e.matches(&doc! {"_id": 1, "a": 1, "b": 2}));
        assert!(schema(doc! {"not": {"required": ["b"]}}).matches(&d));
        assert!(!schema(doc! {"not": {"required": ["a"]}}).matches(&d));
    }

    #[test]
    fn parse_errors_carry_mongodb_codes() {
        const BAD_VALUE: i32 = 2;
        const FAILED_TO_PARSE: i32 = 9;
        const TYPE_MISMATCH: i32 = 14;
        let cases: Vec<(Document, i32, &str)> = vec![
            (doc! {"foo": 1}, FAILED_TO_PARSE, "Unknown $jsonSchema keyword: foo"),
            (doc! {"properties": {"a": {"foo": 1}}}, FAILED_TO_PARSE, "Unknown $jsonSchema keyword: foo"),
            (
                doc! {"format": "email"},
                FAILED_TO_PARSE,
                "$jsonSchema keyword 'format' is not currently supported",
            ),
            (doc! {"$ref": "#/x"}, FAILED_TO_PARSE, "$jsonSchema keyword '$ref' is not currently supported"),
            (doc! {"encrypt": {}}, codes::NOT_IMPLEMENTED.code, "encrypt"),
            (doc! {"title": 1}, TYPE_MISMATCH, "$jsonSchema keyword 'title' must be of type string"),
            (doc! {"description": null}, TYPE_MISMATCH, "'description' must be of type string"),
            (doc! {"type": "object", "bsonType": "object"}, FAILED_TO_PARSE, "Cannot specify both"),
            (
                doc! {"type": "integer"},
                FAILED_TO_PARSE,
                "$jsonSchema type 'integer' is not currently supported.",
            ),
            (doc! {"bsonType": ["int", "integer"]}, FAILED_TO_PARSE, "'integer' is not currently supported"),
            (doc! {"type": "double"}, BAD_VALUE, "Unknown type name alias: double"),
            (doc! {"bsonType": "boolean"}, BAD_VALUE, "Unknown type name alias: boolean"),
            (doc! {"bsonType": 1}, TYPE_MISMATCH, "must be either a string or an array of strings"),
            (doc! {"bsonType": ["int", 1]}, TYPE_MISMATCH, "array elements must be strings"),
            (doc! {"bsonType": ["int", "int"]}, FAILED_TO_PARSE, "has duplicate value: int"),
            (doc! {"bsonType": []}, FAILED_TO_PARSE, "must name at least one type"),
            (
                doc! {"required": "a"},
                TYPE_MISMATCH,
                "'required' must be an array, but found an element of type string",
            ),
            (doc! {"required": ["a", 1]}, TYPE_MISMATCH, "must be an array of strings"),
            (doc! {"required": []}, FAILED_TO_PARSE, "'required' cannot be an empty array"),
            (doc! {"required": ["a", "b", "a"]}, FAILED_TO_PARSE, "cannot contain duplicate values"),
            (doc! {"properties": 1}, TYPE_MISMATCH, "'properties' must be an object"),
            (
                doc! {"properties": {"a": 1}},
                TYPE_MISMATCH,
                "Nested schema for $jsonSchema property 'a' must be an object",
            ),
            (doc! {"patternProperties": []}, TYPE_MISMATCH, "'patternProperties' must be an object"),
            (
                doc! {"patternProperties": {"^a": true}},
                TYPE_MISMATCH,
                "has property '^a' which is not an object",
            ),
            (doc! {"patternProperties": {"(": {}}}, 51091, "Regular expression is invalid"),
            (doc! {"additionalProperties": 1}, TYPE_MISMATCH, "must be an object or a boolean"),
            (doc! {"additionalProperties": {"minimum": "x"}}, TYPE_MISMATCH, "'minimum' must be a number"),
            (doc! {"minProperties": -1}, FAILED_TO_PARSE, "Expected a positive number in: minProperties: -1"),
            (doc! {"maxProperties": "1"}, FAILED_TO_PARSE, "Expected a number in"),
            (doc! {"enum": 1}, TYPE_MISMATCH, "'enum' must be an array"),
            (doc! {"enum": []}, FAILED_TO_PARSE, "'enum' cannot be an empty array"),
            (
                doc! {"enum": [{"a": 1, "b": 2}, {"b": 2, "a": 1.0}]},
                FAILED_TO_PARSE,
                "cannot contain duplicate values",
            ),
            (doc! {"minimum": "1"}, TYPE_MISMATCH, "$jsonSchema keyword 'minimum' must be a number"),
            (doc! {"maximum": null}, TYPE_MISMATCH, "'maximum' must be a number"),
            (
                doc! {"minimum": 1, "exclusiveMinimum": 1},
                TYPE_MISMATCH,
                "'exclusiveMinimum' must be a boolean",
            ),
            (
                doc! {"exclusiveMaximum": true},
                FAILED_TO_PARSE,
                "'maximum' must be a present if exclusiveMaximum is present",
            ),
            (doc! {"multipleOf": "2"}, TYPE_MISMATCH, "'multipleOf' must be a number"),
            (doc! {"multipleOf": 0}, FAILED_TO_PARSE, "'multipleOf' must have a positive value"),
            (doc! {"multipleOf": -1.5}, FAILED_TO_PARSE, "must have a positive value"),
            (doc! {"minLength": 1.5}, FAILED_TO_PARSE, "Expected an integer: minLength: 1.5"),
            (doc! {"maxLength": f64::NAN}, FAILED_TO_PARSE, "Expected an integer, but found NaN"),
            (doc! {"maxLength": 1e300}, FAILED_TO_PARSE, "Cannot represent as a 64-bit integer"),
            (doc! {"pattern": 1}, TYPE_MISMATCH, "'pattern' must be a string"),
            (doc! {"pattern": "a("}, 51091, "Regular expression is invalid"),
            (doc! {"items": 1}, TYPE_MISMATCH, "'items' must be an array or an object, not int"),
            (doc! {"items": [{}, 1]}, TYPE_MISMATCH, "each element of the array is an object"),
            (doc! {"items": {"type": "integer"}}, FAILED_TO_PARSE, "'integer' is not currently supported"),
            (
                doc! {"additionalItems": "no"},
                TYPE_MISMATCH,
                "'additionalItems' must be either an object or a boolean",
            ),
            (doc! {"minItems": -2}, FAILED_TO_PARSE, "Expected a positive number"),
            (doc! {"uniqueItems": 1}, TYPE_MISMATCH, "'uniqueItems' must be a boolean"),
            (doc! {"allOf": {}}, TYPE_MISMATCH, "'allOf' must be an array"),
            (doc! {"anyOf": []}, BAD_VALUE, "'anyOf' must be a non-empty array"),
            (doc! {"oneOf": [{}, 1]}, TYPE_MISMATCH, "must be an array of objects"),
            (doc! {"oneOf": [{"bar": 1}]}, FAILED_TO_PARSE, "Unknown $jsonSchema keyword: bar"),
            (doc! {"not": []}, TYPE_MISMATCH, "'not' must be an object"),
            (doc! {"dependencies": []}, TYPE_MISMATCH, "'dependencies' must be an object"),
            (doc! {"dependencies": {"a": "b"}}, TYPE_MISMATCH, "must be either an object or an array"),
            (doc! {"dependencies": {"a": []}}, FAILED_TO_PARSE, "cannot be an empty array"),
            (doc! {"dependencies": {"a": [1]}}, TYPE_MISMATCH, "can only contain strings"),
            (doc! {"dependencies": {"a": ["b", "b"]}}, FAILED_TO_PARSE, "contains duplicate element: b"),
            (doc! {"dependencies": {"a": {"minimum": true}}}, TYPE_MISMATCH, "'minimum' must be a number"),
        ];
        for (spec, code, message) in cases {
            let (got_code, got_message) = parse_error(spec.clone());
            assert_eq!(got_code, code, "{spec}: {got_message}");
            assert!(got_message.contains(message), "{spec}: {got_message:?} should contain {message:?}");
        }
    }

    #[test]
    fn filters_with_json_schema() {
        let f = Filter::parse(
            &doc! {"$jsonSchema": {"required": ["a"], "properties": {"a": {"bsonType": "int"}}}},
        )
        .unwrap();
        assert!(f.matches(&doc! {"a": 1}));
        assert!(!f.matches(&doc! {"a": "1"}));
        assert!(!f.matches(&doc! {"b": 1}));

        let and = Filter::parse(&doc! {
            "$and": [{"$jsonSchema": {"required": ["a"]}}, {"a": {"$gt": 5}}],
        })
        .unwrap();
        assert!(and.matches(&doc! {"a": 6}));
        assert!(!and.matches(&doc! {"a": 4}));
        assert!(!and.matches(&doc! {"b": 6}));

        let or = Filter::parse(&doc! {
            "$or": [{"$jsonSchema": {"properties": {"a": {"bsonType": "string"}}, "required": ["a"]}}, {"b": 1}],
        })
        .unwrap();
        assert!(or.matches(&doc! {"a": "x"}));
        assert!(or.matches(&doc! {"a": 1, "b": 1}));
        assert!(!or.matches(&doc! {"a": 1, "b": 2}));

        let nor = Filter::parse(&doc! {"$nor": [{"$jsonSchema": {"required": ["a"]}}]}).unwrap();
        assert!(nor.matches(&doc! {"b": 1}));
        assert!(!nor.matches(&doc! {"a": 1}));

        // Next to other conditions at the top level.
        let side = Filter::parse(&doc! {"x": 1, "$jsonSchema": {"maxProperties": 2}}).unwrap();
        assert!(side.matches(&doc! {"_id": 1, "x": 1}));
        assert!(!side.matches(&doc! {"_id": 1, "x": 1, "y": 2}));
        assert!(!side.matches(&doc! {"_id": 1, "x": 2}));

        // Inside $elemMatch, the schema describes each element.
        let elem = Filter::parse(&doc! {"v": {"$elemMatch": {"$jsonSchema": {"required": ["k"]}}}}).unwrap();
        assert!(elem.matches(&doc! {"v": [{"j": 1}, {"k": 1}]}));
        assert!(!elem.matches(&doc! {"v": [{"j": 1}]}));
    }

    #[test]
    fn filter_parse_errors() {
        let e = Filter::parse(&doc! {"$jsonSchema": 1}).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (14, "$jsonSchema must be an object"));
        let e = Filter::parse(&doc! {"$jsonSchema": [{"required": ["a"]}]}).unwrap_err();
        assert_eq!(e.code, 14);
        let e = Filter::parse(&doc! {"a": {"$jsonSchema": {}}}).unwrap_err();
        assert_eq!(e.code, 2, "not allowed under a field: {e}");
        let e = Filter::parse(&doc! {"$or": [{"$jsonSchema": {"bsonType": "nope"}}]}).unwrap_err();
        assert_eq!(e.code, 2);
        let e = Filter::parse(&doc! {"$and": [{"$jsonSchema": {"minLength": "x"}}]}).unwrap_err();
        assert_eq!(e.code, 9);
        assert!(Filter::parse(&doc! {"$jsonSchema": {}}).unwrap().matches(&doc! {"a": 1}));
    }

    #[test]
    fn dependencies_are_the_fields_read() {
        let f = Filter::parse(&doc! {"$jsonSchema": {
            "required": ["a"],
            "properties": {"b": {"minimum": 1}},
            "dependencies": {"c": ["d"], "e": {"required": ["f"]}},
            "anyOf": [{"required": ["g"]}, {"not": {"required": ["h"]}}],
            "minimum": 3,
        }})
        .unwrap();
        let mut fields = f.dependencies().fields().to_vec();
        fields.sort();
        assert_eq!(fields, ["a", "b", "c", "d", "e", "f", "g", "h"]);
        for whole in [
            doc! {"additionalProperties": false},
            doc! {"patternProperties": {"^a": {}}},
            doc! {"minProperties": 1},
            doc! {"enum": [{"a": 1}]},
            doc! {"allOf": [{"maxProperties": 3}]},
        ] {
            let f = Filter::parse(&doc! {"$jsonSchema": whole.clone()}).unwrap();
            assert!(f.dependencies().needs_whole_document(), "{whole}");
        }
    }

    #[test]
    fn explain_failure_describes_unsatisfied_rules() {
        let s = schema(doc! {
            "title": "student",
            "required": ["name", "gpa"],
            "properties": {
                "name": {"bsonType": "string", "description": "must be a string"},
                "gpa": {"bsonType": "double", "minimum": 0},
                "tags": {"items": {"bsonType": "string"}},
            },
        });
        assert_eq!(s.explain_failure(&doc! {"name": "x", "gpa": 3.5}), None);
        let details = s.explain_failure(&doc! {"name": 1, "tags": ["a", 2]}).unwrap();
        assert_eq!(
            details,
            doc! {
                "operatorName": "$jsonSchema",
                "title": "student",
                "schemaRulesNotSatisfied": [
                    {"operatorName": "properties", "propertiesNotSatisfied": [
                        {"propertyName": "name", "description": "must be a string", "details": [{
                            "operatorName": "bsonType",
                            "specifiedAs": {"bsonType": "string"},
                            "reason": "type did not match",
                            "consideredValue": 1,
                            "consideredType": "int",
                        }]},
                        {"propertyName": "tags", "details": [{
                            "operatorName": "items",
                            "reason": "At least one item did not match the sub-schema",
                            "itemIndex": 1i64,
                            "details": [{
                                "operatorName": "bsonType",
                                "specifiedAs": {"bsonType": "string"},
                                "reason": "type did not match",
                                "consideredValue": 2,
                                "consideredType": "int",
                            }],
                        }]},
                    ]},
                    {"operatorName": "required", "specifiedAs": {"required": ["name", "gpa"]}, "missingProperties": ["gpa"]},
                ],
            }
        );
        let closed =
            schema(doc! {"properties": {"_id": {}}, "additionalProperties": false, "minProperties": 3});
        let details = closed.explain_failure(&doc! {"_id": 1, "x": 1}).unwrap();
        let rules = details.get_array("schemaRulesNotSatisfied").unwrap();
        assert_eq!(
            rules[0],
            Bson::Document(doc! {
                "operatorName": "additionalProperties",
                "specifiedAs": {"additionalProperties": false},
                "additionalProperties": ["x"],
            })
        );
        assert_eq!(rules[1].as_document().unwrap().get_i64("numberOfProperties").ok(), Some(2));
        let one_of = schema(doc! {"oneOf": [{"required": ["a"]}, {"required": ["b"]}]});
        let details = one_of.explain_failure(&doc! {"a": 1, "b": 1}).unwrap();
        assert_eq!(
            details.get_array("schemaRulesNotSatisfied").unwrap()[0],
            Bson::Document(doc! {
                "operatorName": "oneOf",
                "reason": "more than one subschema matched",
                "matchingSchemaIndexes": [0i64, 1i64],
            })
        );
    }

    #[test]
    fn filters_report_the_failing_schema() {
        let validator = doc! {"$jsonSchema": {"required": ["a"]}};
        let f = Filter::parse(&validator).unwrap();
        let details = f.schema_failure_details(&doc! {"b": 1}).unwrap();
        assert_eq!(details.get_str("operatorName").ok(), Some("$jsonSchema"));
        assert_eq!(f.schema_failure_details(&doc! {"a": 1}), None);
        let and = Filter::parse(&doc! {"x": {"$gt": 0}, "$jsonSchema": {"required": ["a"]}}).unwrap();
        assert!(and.schema_failure_details(&doc! {"x": 1}).is_some());
        assert_eq!(and.schema_failure_details(&doc! {"x": 0, "a": 1}), None, "only the schema's failures");
        let plain = Filter::parse(&doc! {"a": 1}).unwrap();
        assert_eq!(plain.schema_failure_details(&doc! {"a": 2}), None);
    }

    /// Field schemas built from a few keywords with valid arguments.
    fn field_schema() -> impl Strategy<Value = Document> {
        let keyword = prop_oneof![
            prop::sample::select(vec!["int", "string", "object", "array", "number", "null"])
                .prop_map(|t| ("bsonType".to_string(), Bson::from(t))),
            (0i32..4).prop_map(|n| ("minimum".to_string(), Bson::Int32(n))),
            (0i32..4).prop_map(|n| ("maxLength".to_string(), Bson::Int32(n))),
            (1i32..3).prop_map(|n| ("maxItems".to_string(), Bson::Int32(n))),
            (1i32..3).prop_map(|n| ("multipleOf".to_string(), Bson::Int32(n))),
            Just(("uniqueItems".to_string(), Bson::Boolean(true))),
            Just(("pattern".to_string(), Bson::from("^a"))),
            Just(("required".to_string(), Bson::Array(vec![Bson::from("x")]))),
            Just(("enum".to_string(), Bson::Array(vec![Bson::Int32(1), Bson::from("a"), Bson::Null]))),
        ];
        let flat = prop::collection::vec(keyword, 0..3).prop_map(|k| k.into_iter().collect::<Document>());
        flat.prop_recursive(2, 8, 2, |inner| {
            prop_oneof![
                inner.clone().prop_map(|s| doc! {"items": s}),
                inner.clone().prop_map(|s| doc! {"properties": {"x": s}}),
                inner.clone().prop_map(|s| doc! {"additionalProperties": s}),
                inner.clone().prop_map(|s| doc! {"not": s}),
                prop::collection::vec(inner.clone(), 1..3).prop_map(|s| doc! {"anyOf": s}),
                prop::collection::vec(inner, 1..3).prop_map(|s| doc! {"oneOf": s}),
            ]
        })
    }

    fn value() -> impl Strategy<Value = Bson> {
        let scalar = prop_oneof![
            (0i32..5).prop_map(Bson::Int32),
            prop_oneof![Just(1.0), Just(2.5), Just(f64::NAN)].prop_map(Bson::Double),
            "[ab]{0,3}".prop_map(Bson::String),
            Just(Bson::Null),
        ];
        scalar.prop_recursive(2, 10, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Bson::Array),
                prop::collection::vec((prop::sample::select(vec!["x", "y"]), inner), 0..3).prop_map(|f| {
                    Bson::Document(f.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
                }),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// A document fails exactly when there are details to explain, and
        /// `not` inverts a schema.
        #[test]
        fn explanations_agree_with_matching(s in field_schema(), v in value()) {
            let top = Schema::parse(&doc! {"properties": {"x": s.clone()}}).unwrap();
            let negated = Schema::parse(&doc! {"properties": {"x": {"not": s.clone()}}}).unwrap();
            let d = doc! {"x": v.clone()};
            let hit = top.matches(&d);
            prop_assert_eq!(hit, top.explain_failure(&d).is_none(), "{} on {}", s, v);
            prop_assert_eq!(hit, !negated.matches(&d), "{} on {}", s, v);
            prop_assert_eq!(hit, Schema::parse(&s).unwrap().matches_value(&v));
        }
    }
}
