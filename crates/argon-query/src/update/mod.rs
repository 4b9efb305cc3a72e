//! Updates: replacement documents, update operators, and updates given as
//! an aggregation pipeline; plus the document an upsert inserts.
//!
//! ```text
//! {$set: {"a.b": 1}, $inc: {n: 1}}
//!   parse:  validate, reject conflicting paths (40), sort by path
//!   apply:  for each (path, op) in path order: walk the path
//!           (creating documents, expanding $, $[], $[id]) and apply the op
//!           to the field it names; then check _id is unchanged (66)
//! ```
//!
//! Operators are applied in path order, as MongoDB does, so the fields an
//! update creates appear in sorted order whatever the order of the update
//! document.

mod array_filters;
mod ops;
mod walk;

use bson::{oid::ObjectId, Bson, Document};

use crate::compare::values_equal;
use crate::display;
use crate::error::{codes, err, QueryError, Result};
use crate::expr::Vars;
use crate::filter::Filter;
use crate::numeric::Num;
use crate::pipeline::Pipeline;

pub(crate) use array_filters::ArrayFilters;
pub(crate) use ops::UpdateOp;

/// One component of an update path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Component {
    Field(String),
    /// `$`: the array position the query matched.
    Positional,
    /// `$[]`: every element.
    All,
    /// `$[id]`: the elements matching array filter `id`.
    Filtered(String),
}

impl Component {
    fn text(&self) -> String {
        match self {
            Component::Field(f) => f.clone(),
            Component::Positional => "$".into(),
            Component::All => "$[]".into(),
            Component::Filtered(id) => format!("$[{id}]"),
        }
    }
}

/// A dotted update path split into components.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UpdatePath {
    pub(crate) dotted: String,
    pub(crate) parts: Vec<Component>,
}

impl UpdatePath {
    fn parse(dotted: &str) -> Result<UpdatePath> {
        if dotted.is_empty() {
            return err(codes::EMPTY_FIELD_NAME, "An empty update path is not valid.");
        }
        let mut parts = Vec::new();
        for p in dotted.split('.') {
            if p.is_empty() {
                return err(
                    codes::EMPTY_FIELD_NAME,
                    format!("The update path '{dotted}' contains an empty field name, which is not allowed."),
                );
            }
            parts.push(if p == "$" {
                Component::Positional
            } else if p == "$[]" {
                Component::All
            } else if let Some(id) = p.strip_prefix("$[").and_then(|r| r.strip_suffix(']')) {
                Component::Filtered(id.to_string())
            } else {
                if p.starts_with('$') {
                    return err(
                        codes::DOLLAR_PREFIXED_FIELD_NAME,
                        format!(
                            "The dollar ($) prefixed field '{p}' in '{dotted}' is not valid for storage."
                        ),
                    );
                }
                Component::Field(p.to_string())
            });
        }
        Ok(UpdatePath { dotted: dotted.to_string(), parts })
    }

    fn is_dynamic(&self) -> bool {
        self.parts.iter().any(|p| !matches!(p, Component::Field(_)))
    }

    /// Component-wise prefix (or equal).
    fn is_prefix_of(&self, other: &UpdatePath) -> bool {
        self.parts.len() <= other.parts.len() && self.parts.iter().zip(&other.parts).all(|(a, b)| a == b)
    }
}

#[derive(Clone, Debug)]
pub(crate) struct FieldUpdate {
    pub(crate) path: UpdatePath,
    pub(crate) op: UpdateOp,
}

#[derive(Clone, Debug)]
enum Kind {
    Replacement(Document),
    Operators(Vec<FieldUpdate>),
    Pipeline(Box<Pipeline>),
}

/// A parsed update.
#[derive(Clone, Debug)]
pub struct Update {
    kind: Kind,
    array_filters: ArrayFilters,
    /// The command's `let` variables (pipeline updates read them).
    lets: Vars,
}

/// Context of one application of an update.
pub(crate) struct ApplyCtx<'a> {
    pub(crate) now: bson::DateTime,
    /// The position the query matched, for `$`.
    pub(crate) position: Option<usize>,
    pub(crate) array_filters: &'a ArrayFilters,
    /// True when building an upsert's document ($setOnInsert applies).
    pub(crate) inserting: bool,
    /// The `_id` of the document, for error messages.
    pub(crate) id: Option<Bson>,
}

impl ApplyCtx<'_> {
    /// `{_id: 1}` as MongoDB prints the document in error messages.
    pub(crate) fn doc_id(&self) -> String {
        match &self.id {
            Some(id) => format!("{{{}}}", display::element("_id", id)),
            None => "{}".to_string(),
        }
    }
}

const OPERATORS: &[&str] = &[
    "$set",
    "$unset",
    "$inc",
    "$mul",
    "$min",
    "$max",
    "$rename",
    "$currentDate",
    "$setOnInsert",
    "$push",
    "$addToSet",
    "$pop",
    "$pull",
    "$pullAll",
    "$bit",
];

impl Update {
    /// Parses an update: a replacement document, an operator document, or
    /// an array (an aggregation pipeline).
    pub fn parse(update: &Bson, array_filters: Option<&[Document]>) -> Result<Update> {
        Self::parse_with_let(update, array_filters, &Vars::new(bson::DateTime::from_millis(0)))
    }

    /// Parses an update whose pipeline may use the variables of the
    /// command's `let` (see [`crate::expr::command_let`]).
    pub fn parse_with_let(update: &Bson, array_filters: Option<&[Document]>, lets: &Vars) -> Result<Update> {
        let filters = ArrayFilters::parse(array_filters.unwrap_or(&[]))?;
        let kind = match update {
            Bson::Array(stages) => {
                if array_filters.is_some_and(|f| !f.is_empty()) {
                    return err(
                        codes::FAILED_TO_PARSE,
                        "arrayFilters may not be specified for pipeline-style updates",
                    );
                }
                let mut docs = Vec::with_capacity(stages.len());
                for s in stages {
                    let Bson::Document(d) = s else {
                        return err(
                            codes::FAILED_TO_PARSE,
                            "Each element of the 'pipeline' array must be an object",
                        );
                    };
                    docs.push(d.clone());
                }
                Kind::Pipeline(Box::new(Pipeline::parse_for_update(&docs, &crate::expr::let_names(lets))?))
            }
            Bson::Document(d) => {
                if d.keys().next().is_some_and(|k| k.starts_with('$')) {
                    Kind::Operators(parse_operators(d)?)
                } else {
                    for k in d.keys() {
                        if k.starts_with('$') {
                            return err(
                                codes::DOLLAR_PREFIXED_FIELD_NAME,
                                format!(
                                    "The dollar ($) prefixed field '{k}' in '{k}' is not allowed in the context of an update's replacement document. Consider using an aggregation pipeline with $replaceWith."
                                ),
                            );
                        }
                    }
                    if matches!(d.get("_id"), Some(Bson::Array(_))) {
                        return err(codes::INVALID_ID_FIELD, "The '_id' value cannot be of type array");
                    }
                    Kind::Replacement(d.clone())
                }
            }
            other => {
                return err(
                    codes::FAILED_TO_PARSE,
                    format!(
                        "Update argument must be either an object or an array, not {}",
                        crate::types::type_name(other)
                    ),
                )
            }
        };
        if let Kind::Operators(updates) = &kind {
            filters.check_all_used(updates, update)?;
        } else if !filters.is_empty() {
            filters.check_all_used(&[], update)?;
        }
        Ok(Update { kind, array_filters: filters, lets: lets.clone() })
    }

    /// [`Update::parse`] of an operator update given as BSON bytes (what the
    /// update lane has), without decoding it into `Document`s first: the
    /// same `Update`. `None` when it is not a plain operator update or
    /// anything in it is amiss (an unknown or repeated operator, an empty
    /// one, a path conflict, a value that does not decode): [`Update::parse`]
    /// of the decoded document then gives the answer, and words the error.
    pub fn parse_raw(update: &bson::RawDocument) -> Option<Update> {
        let mut all = Vec::new();
        let mut ops: Vec<&str> = Vec::with_capacity(2);
        for element in update.iter() {
            let (op, arg) = element.ok()?;
            let op = op.as_str();
            // (Decoding keeps one of a repeated key.)
            if !OPERATORS.contains(&op) || ops.contains(&op) {
                return None;
            }
            ops.push(op);
            let bson::raw::RawBsonRef::Document(fields) = arg else { return None };
            let before = all.len();
            for field in fields.iter() {
                let (field, value) = field.ok()?;
                add_field_update(&mut all, op, field.as_str(), &Bson::try_from(value).ok()?).ok()?;
            }
            if all.len() == before {
                return None; // an empty operator
            }
        }
        if ops.is_empty() {
            return None; // `{}` replaces the document
        }
        sort_field_updates(&mut all);
        let filters = ArrayFilters::parse(&[]).ok()?;
        filters.check_all_used(&all, &Bson::Null).ok()?;
        Some(Update {
            kind: Kind::Operators(all),
            array_filters: filters,
            lets: Vars::new(bson::DateTime::from_millis(0)),
        })
    }

    pub fn is_replacement(&self) -> bool {
        matches!(self.kind, Kind::Replacement(_))
    }

    pub fn is_pipeline(&self) -> bool {
        matches!(self.kind, Kind::Pipeline(_))
    }

    /// Whether a path uses the positional `$` (the caller must pass the
    /// query's filter to [`Update::apply`]).
    pub fn needs_filter(&self) -> bool {
        match &self.kind {
            Kind::Operators(u) => u.iter().any(|f| f.path.parts.contains(&Component::Positional)),
            _ => false,
        }
    }

    /// Applies the update to an existing document and returns the new one.
    /// `filter` is the query's filter, used by the positional `$`.
    pub fn apply(&self, doc: &Document, filter: Option<&Filter>, now: bson::DateTime) -> Result<Document> {
        let position = if self.needs_filter() {
            filter.and_then(|f| f.matches_with_details(doc)).and_then(|d| d.elem_match_key)
        } else {
            None
        };
        let ctx = ApplyCtx {
            now,
            position,
            array_filters: &self.array_filters,
            inserting: false,
            id: doc.get("_id").cloned(),
        };
        let out = match &self.kind {
            Kind::Replacement(r) => {
                let mut out = Document::new();
                match (doc.get("_id"), r.get("_id")) {
                    (Some(old), Some(new)) if !values_equal(old, new) => {
                        return err(
                            codes::IMMUTABLE_FIELD,
                            format!(
                                "After applying the update, the (immutable) field '_id' was found to have been altered to {}",
                                display::element("_id", new)
                            ),
                        );
                    }
                    (Some(old), None) => {
                        out.insert("_id", old.clone());
                    }
                    (_, Some(new)) => {
                        out.insert("_id", new.clone());
                    }
                    (None, None) => {}
                }
                for (k, v) in r {
                    if k != "_id" {
                        out.insert(k.clone(), v.clone());
                    }
                }
                out
            }
            Kind::Operators(updates) => {
                let mut out = doc.clone();
                for fu in updates {
                    walk::apply_field_update(&mut out, fu, &ctx)?;
                }
                check_id_unchanged(doc, &out)?;
                out
            }
            Kind::Pipeline(p) => {
                let mut out = p.run_on_document(doc, &self.lets.clone().at(now))?;
                // A pipeline that drops _id keeps the original one.
                if let (false, Some(id)) = (out.contains_key("_id"), doc.get("_id")) {
                    out.insert("_id", id.clone());
                    out = id_first(out);
                }
                check_id_unchanged(doc, &out)?;
                out
            }
        };
        validate_for_storage(&out)?;
        Ok(out)
    }

    /// [`Update::apply`] to a stored document given as BSON bytes, for
    /// operator updates whose paths are all top-level fields other than
    /// `_id` (the common `{$set: {a: 1}, $inc: {n: 1}}`): only `_id` and the
    /// fields the update names are decoded and updated by `apply`; the
    /// other fields are copied as bytes. The result is the document `apply`
    /// would return: fields it keeps stay in place, fields it creates come
    /// after the others in the order it creates them.
    ///
    /// `None` when the update or the document is not of that kind (paths
    /// into sub-documents or arrays, a repeated field name in the document,
    /// a value that does not decode): call [`Update::apply`]. Otherwise
    /// `apply`'s error, or `Ok(None)` when the document stays as it was.
    pub fn apply_raw(
        &self,
        stored: &bson::RawDocument,
        now: bson::DateTime,
    ) -> Option<Result<Option<bson::RawDocumentBuf>>> {
        let Kind::Operators(updates) = &self.kind else { return None };
        let mut named = Vec::with_capacity(updates.len());
        for fu in updates {
            match (fu.path.parts.as_slice(), &fu.op) {
                // ($rename writes a second field.)
                (_, UpdateOp::Rename { .. }) => return None,
                ([Component::Field(f)], _) if f != "_id" => named.push(f.as_str()),
                _ => return None,
            }
        }
        // `_id` and the named fields' stored values, in stored order;
        // every element's byte range, to copy the others unchanged.
        let bytes = stored.as_bytes();
        let mut found: Vec<(&str, bson::raw::RawBsonRef)> = Vec::with_capacity(named.len() + 1);
        let mut spans: Vec<(&str, std::ops::Range<usize>)> = Vec::with_capacity(16);
        let mut offset = 4;
        for element in stored.iter_elements() {
            let element = element.ok()?;
            let key = element.key().as_str();
            // (A few fields: a linear scan beats hashing.)
            if spans.iter().any(|(k, _)| *k == key) {
                return None; // decoding keeps one of a repeated field
            }
            if key == "_id" || named.contains(&key) {
                found.push((key, element.value().ok()?));
            }
            // type byte, key, its terminator, value
            let end = offset + 1 + key.len() + 1 + element.size();
            spans.push((key, offset..end));
            offset = end;
        }
        if offset + 1 != bytes.len() {
            return None;
        }
        if let Some(changes) = plain_changes(updates, &found) {
            return match changes {
                None => Some(Ok(None)),
                Some(c) => Some(Ok(Some(write_changes(bytes, &spans, &c)?))),
            };
        }
        // Other operators: `apply` on `_id` and the named fields.
        let mut before = Document::new();
        for (key, value) in &found {
            before.insert(*key, Bson::try_from(*value).ok()?);
        }
        let after = match self.apply(&before, None, now) {
            Ok(after) => after,
            Err(e) => return Some(Err(e)),
        };
        if crate::compare::identical_documents(&after, &before) {
            return Some(Ok(None));
        }
        // The named fields `after` keeps or creates, in its order, then the
        // ones it removed.
        let mut changes: FieldChanges = after
            .iter()
            .filter(|(k, _)| named.contains(&k.as_str()))
            .map(|(k, v)| (k.as_str(), Some(v.clone())))
            .collect();
        changes.extend(named.iter().filter(|k| !after.contains_key(**k)).map(|k| (*k, None)));
        Some(Ok(Some(write_changes(bytes, &spans, &changes)?)))
    }

    /// The document an upsert inserts when nothing matched `filter`: the
    /// filter's equality fields, then the update with `$setOnInsert`
    /// active. An `_id` is generated when neither provides one.
    pub fn upsert_document(&self, filter: &Document, now: bson::DateTime) -> Result<Document> {
        let parsed = Filter::parse_with_vars(filter, &crate::expr::let_names(&self.lets))?;
        let seed = seed_from_query(&parsed)?;
        let mut out = match &self.kind {
            Kind::Replacement(r) => {
                let mut out = Document::new();
                if let Some(id) = r.get("_id").or_else(|| seed.get("_id")) {
                    out.insert("_id", id.clone());
                }
                for (k, v) in r {
                    if k != "_id" {
                        out.insert(k.clone(), v.clone());
                    }
                }
                out
            }
            Kind::Operators(updates) => {
                let ctx = ApplyCtx {
                    now,
                    position: None,
                    array_filters: &self.array_filters,
                    inserting: true,
                    id: seed.get("_id").cloned(),
                };
                let mut out = seed.clone();
                for fu in updates {
                    walk::apply_field_update(&mut out, fu, &ctx)?;
                }
                if seed.contains_key("_id") {
                    check_id_unchanged(&seed, &out)?;
                }
                out
            }
            Kind::Pipeline(p) => {
                let mut out = p.run_on_document(&seed, &self.lets.clone().at(now))?;
                if let (false, Some(id)) = (out.contains_key("_id"), seed.get("_id")) {
                    out.insert("_id", id.clone());
                }
                if seed.contains_key("_id") {
                    check_id_unchanged(&seed, &out)?;
                }
                out
            }
        };
        if !out.contains_key("_id") {
            out.insert("_id", ObjectId::new());
        }
        let out = id_first(out);
        validate_for_storage(&out)?;
        Ok(out)
    }
}

/// Moves `_id` to the front, where MongoDB stores it.
fn id_first(doc: Document) -> Document {
    if doc.keys().next().map(String::as_str) == Some("_id") {
        return doc;
    }
    let mut out = Document::new();
    if let Some(id) = doc.get("_id") {
        out.insert("_id", id.clone());
    }
    for (k, v) in doc {
        if k != "_id" {
            out.insert(k, v);
        }
    }
    out
}

fn check_id_unchanged(before: &Document, after: &Document) -> Result<()> {
    let Some(old) = before.get("_id") else { return Ok(()) };
    match after.get("_id") {
        Some(new) if values_equal(old, new) => Ok(()),
        _ => err(
            codes::IMMUTABLE_FIELD,
            "Performing an update on the path '_id' would modify the immutable field '_id'",
        ),
    }
}

fn validate_for_storage(doc: &Document) -> Result<()> {
    match doc.get("_id") {
        Some(Bson::Array(_)) => err(codes::INVALID_ID_FIELD, "The '_id' value cannot be of type array"),
        Some(Bson::RegularExpression(_)) => err(codes::INVALID_ID_FIELD, "can't use a regex for _id"),
        Some(Bson::Undefined) => err(codes::INVALID_ID_FIELD, "can't use a undefined for _id"),
        _ => Ok(()),
    }
}

/// The document seeded from a query's equality conditions.
fn seed_from_query(filter: &Filter) -> Result<Document> {
    let mut fields = filter.equality_fields();
    fields.retain(|(path, _)| !path.split('.').any(|p| p.starts_with('$')));
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    for w in fields.windows(2) {
        let (a, b) = (&w[0].0, &w[1].0);
        if a == b || b.starts_with(&format!("{a}.")) {
            return err(
                codes::NOT_SINGLE_VALUE_FIELD,
                format!("cannot infer query fields to set, path '{a}' is matched twice"),
            );
        }
    }
    let mut doc = Document::new();
    for (path, value) in fields {
        set_dotted(&mut doc, &path, value)?;
    }
    Ok(doc)
}

fn set_dotted(doc: &mut Document, path: &str, value: Bson) -> Result<()> {
    match path.split_once('.') {
        None => {
            doc.insert(path, value);
            Ok(())
        }
        Some((head, rest)) => {
            let entry = doc.entry(head.to_string()).or_insert_with(|| Bson::Document(Document::new()));
            match entry {
                Bson::Document(d) => set_dotted(d, rest, value),
                _ => err(
                    codes::NOT_SINGLE_VALUE_FIELD,
                    format!("cannot infer query fields to set, path '{head}' is matched twice"),
                ),
            }
        }
    }
}

fn parse_operators(update: &Document) -> Result<Vec<FieldUpdate>> {
    let mut all: Vec<FieldUpdate> = Vec::new();
    for (op, arg) in update {
        if !OPERATORS.contains(&op.as_str()) {
            return err(
                codes::FAILED_TO_PARSE,
                format!(
                    "Unknown modifier: {op}. Expected a valid update modifier or pipeline-style update specified as an array"
                ),
            );
        }
        let Bson::Document(fields) = arg else {
            return err(
                codes::FAILED_TO_PARSE,
                format!(
                    "Modifiers operate on fields but we found type {} instead. For example: {{$mod: {{<field>: ...}}}} not {{{}}}",
                    crate::types::type_name(arg),
                    display::element(op, arg)
                ),
            );
        };
        if fields.is_empty() {
            return err(
                codes::FAILED_TO_PARSE,
                format!("'{op}' is empty. You must specify a field like so: {{{op}: {{<field>: ...}}}}"),
            );
        }
        for (field, value) in fields {
            add_field_update(&mut all, op, field, value)?;
        }
    }
    sort_field_updates(&mut all);
    Ok(all)
}

/// Parses `{<op>: {<field>: <value>}}`'s one field into `all`, refusing a
/// path that conflicts with one already there.
fn add_field_update(all: &mut Vec<FieldUpdate>, op: &str, field: &str, value: &Bson) -> Result<()> {
    let path = UpdatePath::parse(field)?;
    let op = UpdateOp::parse(op, &path, field, value)?;
    let mut paths = vec![path.clone()];
    if let UpdateOp::Rename { to } = &op {
        paths.push(to.clone());
    }
    for p in &paths {
        for existing in all.iter() {
            let mut existing_paths = vec![&existing.path];
            if let UpdateOp::Rename { to } = &existing.op {
                existing_paths.push(to);
            }
            for e in existing_paths {
                if e.is_prefix_of(p) || p.is_prefix_of(e) {
                    let shorter = if e.parts.len() <= p.parts.len() { e } else { p };
                    return err(
                        codes::CONFLICTING_UPDATE_OPERATORS,
                        format!(
                            "Updating the path '{}' would create a conflict at '{}'",
                            p.dotted, shorter.dotted
                        ),
                    );
                }
            }
        }
    }
    all.push(FieldUpdate { path, op });
    Ok(())
}

/// Updates apply in path order, whatever the order given.
fn sort_field_updates(all: &mut [FieldUpdate]) {
    all.sort_by(|a, b| {
        let ka: Vec<String> = a.path.parts.iter().map(Component::text).collect();
        let kb: Vec<String> = b.path.parts.iter().map(Component::text).collect();
        ka.cmp(&kb)
    });
}

impl From<&UpdatePath> for String {
    fn from(p: &UpdatePath) -> String {
        p.dotted.clone()
    }
}

pub(crate) fn type_mismatch(msg: String) -> QueryError {
    QueryError::new(codes::TYPE_MISMATCH, msg)
}

/// Fields and their new values (`None`: removed), for [`write_changes`].
type FieldChanges<'a> = Vec<(&'a str, Option<Bson>)>;

/// The new values of an update made of `$set` and `$inc` on top-level
/// fields only, the commonest kind, worked out from the stored values
/// (`found`: field and value, `_id` among them) by the rules `apply`
/// follows, without building documents: `Some(None)` when nothing changes,
/// else each field the update names with its new value, in the update's
/// order. `None` leaves it to `apply`: another operator, or an `$inc` that
/// `apply` refuses (a value that is not a number, an overflow), whose error
/// it words.
fn plain_changes<'u>(
    updates: &'u [FieldUpdate],
    found: &[(&str, bson::raw::RawBsonRef<'_>)],
) -> Option<Option<FieldChanges<'u>>> {
    use bson::raw::RawBsonRef;
    let stored = |name: &str| found.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
    // `apply` refuses to store these `_id`s; so does the full path.
    match stored("_id") {
        Some(RawBsonRef::Array(_) | RawBsonRef::RegularExpression(_) | RawBsonRef::Undefined) => return None,
        // (`apply` decodes it: a sub-document that does not decode is
        // declined there.)
        Some(id @ RawBsonRef::Document(_)) => {
            Bson::try_from(id).ok()?;
        }
        _ => {}
    }
    let mut changes = Vec::with_capacity(updates.len());
    let mut changed = false;
    for fu in updates {
        let [Component::Field(name)] = fu.path.parts.as_slice() else { return None };
        let current = stored(name);
        let new = match &fu.op {
            UpdateOp::Set(v) => v.clone(),
            UpdateOp::Inc(n) => match current {
                None => n.to_bson(),
                Some(cur) => {
                    let cur = match cur {
                        RawBsonRef::Int32(i) => Num::Int(i),
                        RawBsonRef::Int64(i) => Num::Long(i),
                        RawBsonRef::Double(d) => Num::Double(d),
                        RawBsonRef::Decimal128(d) => Num::Decimal(d),
                        _ => return None,
                    };
                    cur.checked_add(*n)?.to_bson()
                }
            },
            _ => return None,
        };
        // A new field, or a value not stored as the same bytes.
        changed |= match current {
            None => true,
            Some(cur) => !crate::compare::identical(&Bson::try_from(cur).ok()?, &new),
        };
        changes.push((name.as_str(), Some(new)));
    }
    Some(changed.then_some(changes))
}

/// `stored` (its elements' byte ranges in `spans`) with the fields of
/// `changes` given their new values (`None`: removed): in place when
/// stored, after the others in `changes`' order when new.
fn write_changes(
    stored: &[u8],
    spans: &[(&str, std::ops::Range<usize>)],
    changes: &[(&str, Option<Bson>)],
) -> Option<bson::RawDocumentBuf> {
    let mut out = Vec::with_capacity(stored.len() + 32);
    out.extend_from_slice(&[0; 4]); // length, set below
    for (key, range) in spans {
        match changes.iter().find(|(k, _)| k == key) {
            Some((_, Some(v))) => append_element(&mut out, key, v)?,
            Some((_, None)) => {}
            None => out.extend_from_slice(&stored[range.clone()]),
        }
    }
    for (key, v) in changes {
        if let (Some(v), false) = (v, spans.iter().any(|(k, _)| k == key)) {
            append_element(&mut out, key, v)?;
        }
    }
    out.push(0);
    let len = i32::try_from(out.len()).ok()?;
    out[..4].copy_from_slice(&len.to_le_bytes());
    bson::RawDocumentBuf::from_bytes(out).ok()
}

/// Appends one element (type, key, value) to BSON bytes being built.
fn append_element(out: &mut Vec<u8>, key: &str, v: &Bson) -> Option<()> {
    // Numbers (what `$inc` writes) directly: type byte, key, value.
    let number: Option<(u8, [u8; 8], usize)> = match v {
        Bson::Int32(i) => Some((0x10, (*i as i64).to_le_bytes(), 4)),
        Bson::Int64(i) => Some((0x12, i.to_le_bytes(), 8)),
        Bson::Double(d) => Some((0x01, d.to_le_bytes(), 8)),
        _ => None,
    };
    if let Some((tag, value, len)) = number {
        if key.as_bytes().contains(&0) {
            return None;
        }
        out.push(tag);
        out.extend_from_slice(key.as_bytes());
        out.push(0);
        out.extend_from_slice(&value[..len]);
        return Some(());
    }
    let mut one = bson::RawDocumentBuf::new();
    let key: &bson::raw::CStr = key.try_into().ok()?;
    one.append(key, bson::RawBson::try_from(v.clone()).ok()?);
    let b = one.as_bytes();
    out.extend_from_slice(&b[4..b.len() - 1]);
    Some(())
}
