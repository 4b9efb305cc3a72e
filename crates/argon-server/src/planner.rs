//! Choosing how to find a query's documents: a point read by `_id`, a
//! secondary index scan, or a collection scan.
//!
//! Index bounds are built field by field along the key pattern: while the
//! filter pins a field at top level (directly or inside a top-level `$and`)
//! to a scalar (`a: 5`, `$eq`, `$in` of scalars), the field adds one point
//! per value (compound `$in`s multiply, up to [`MAX_RANGES`]); the first
//! field that is not pinned may add one range bound (`$gt`, `$gte`, `$lt`,
//! `$lte`), and the bounds stop there. So `{a: 5, b: {$gt: 3}}` on
//! `{a: 1, b: 1}` scans exactly the keys `(5, (3, +inf of numbers))`.
//!
//! The index produces candidates only: every candidate is re-checked
//! against the whole filter, so bounds may be looser than the filter but
//! never miss a document. On a multikey index (some document visible in
//! the snapshot had an array on a key path, see
//! `Snapshot::index_is_multikey`), combining a lower and an upper bound on
//! one field is unsafe (one element may satisfy each), so a range uses one
//! side only, up to the edge of the value's type bracket; otherwise
//! `{$gte: 10, $lt: 20}` scans exactly `[10, 20)`. Index entries are the
//! cartesian product of the key fields' values, so points on several
//! fields are safe even for arrays.
//!
//! Sort: an index provides a sort when the sort keys are the index fields
//! right after a single-point equality prefix, in the index's directions,
//! on top-level (undotted) fields, with no bounds on the sorted fields.
//! Then the first index entry of each document is its sort key (an array
//! sorts by its smallest element ascending, and its entries are in the
//! same order), so documents come out of the scan in sort order, ties in
//! `_id` order as a stable sort of a collection scan gives, and a limit
//! stops the scan. Bounds on a sorted field would break this for arrays
//! whose smallest element is outside the bounds, so on a multikey index
//! such queries sort in memory; on another, a range on the first sorted
//! field is scanned in order.
//! A sort that runs exactly against the index's directions (every key
//! reversed) scans the index backwards: then an array's first entry is its
//! largest element, which is what a descending sort orders it by.
//!
//! Sparse and partial indexes are used only when hinted, since they may not
//! hold every matching document.

use std::ops::Bound;

use argon_query::SortSpec;
use argon_store::{CollectionMeta, IndexDef, IndexMeta};
use argon_types::collation::Collation;
use argon_types::keycodec;
use bson::{Bson, Document};

use crate::error::{code, CmdResult, CommandError};

/// Most key ranges a plan may scan (compound `$in`s multiply).
pub const MAX_RANGES: usize = 256;

/// One key range of an index, on encoded key prefixes.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyRange {
    pub lower: Bound<Vec<u8>>,
    pub upper: Bound<Vec<u8>>,
}

impl KeyRange {
    fn all() -> KeyRange {
        KeyRange { lower: Bound::Unbounded, upper: Bound::Unbounded }
    }
}

/// How a query finds its candidates.
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    /// `_id` pinned to one value.
    IdPoint(Bson),
    /// Scan these ranges of a secondary index. `sorted`: the scan yields
    /// documents in the query's sort order (no in-memory sort); `reverse`:
    /// scan in descending index order (ranges last to first). `bounds`
    /// describes the ranges per key field, as `explain` shows them;
    /// `multikey` whether the index was multikey in the snapshot planned on.
    Index {
        name: String,
        ranges: Vec<KeyRange>,
        sorted: bool,
        reverse: bool,
        bounds: Document,
        multikey: bool,
    },
    /// Read every document (in `_id` order).
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

    /// Whether running the plan yields documents already in `sort` order.
    pub fn provides_sort(&self, sort: Option<&SortSpec>) -> bool {
        let Some(sort) = sort.filter(|s| !s.is_empty()) else { return true };
        match self {
            Plan::IdPoint(_) => true,
            Plan::Index { sorted, .. } => *sorted,
            // A collection scan is in `_id` order (`_id` is never an
            // array), binary order for strings.
            Plan::CollScan => {
                sort.fields().eq([("_id", false)]) && argon_query::compare::active_collation().is_none()
            }
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

/// The values a condition pins its field to (equality or `$in`).
fn points(cond: &Bson) -> Option<Vec<&Bson>> {
    match cond {
        Bson::Document(ops) if ops.keys().next().is_some_and(|k| k.starts_with('$')) => {
            if let Some(v) = ops.get("$eq").filter(|v| scalar(v)) {
                return Some(vec![v]);
            }
            match ops.get("$in") {
                Some(Bson::Array(vs)) if !vs.is_empty() && vs.iter().all(scalar) => Some(vs.iter().collect()),
                _ => None,
            }
        }
        v if scalar(v) => Some(vec![v]),
        _ => None,
    }
}

/// (lower, upper) bounds on one field's encoding.
type FieldRange = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// One side of a range on a field (`$gt 3`), as byte bounds on that
/// field's encoding alone (to append to a prefix): the value on one end,
/// the edge of its type bracket on the other.
struct Side {
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
    /// A lower bound on the value (`$gt`, `$gte`), else an upper one.
    is_lower: bool,
    inclusive: bool,
    class: u8,
    /// The value as `explain` shows it.
    shown: String,
}

impl Side {
    /// How `explain` shows this side alone.
    fn text(&self) -> String {
        let v = &self.shown;
        match (self.is_lower, self.inclusive) {
            (true, true) => format!("[{v}, +inf]"),
            (true, false) => format!("({v}, +inf]"),
            (false, true) => format!("[-inf, {v}]"),
            (false, false) => format!("[-inf, {v})"),
        }
    }
}

/// The range sides a condition puts on field `i`, in the order `$gt`,
/// `$gte`, `$lt`, `$lte`.
fn sides(def: &IndexDef, i: usize, cond: &Bson) -> Vec<Side> {
    let mut out = Vec::new();
    let Bson::Document(ops) = cond else { return out };
    if !ops.keys().next().is_some_and(|k| k.starts_with('$')) {
        return out;
    }
    let descending = def.fields[i].descending;
    for (op, inclusive, is_lower) in
        [("$gt", false, true), ("$gte", true, true), ("$lt", false, false), ("$lte", true, false)]
    {
        // MinKey and MaxKey compare across type brackets: no range.
        let Some(v) = ops.get(op).filter(|v| scalar(v) && !matches!(v, Bson::MinKey | Bson::MaxKey)) else {
            continue;
        };
        let k = def.encode_field(i, v);
        let class = keycodec::type_class(v);
        let shown = argon_query::display::value(v);
        let at = if inclusive { Bound::Included(k) } else { Bound::Excluded(k) };
        // Ascending: values of the class start with the class byte; a
        // descending field inverts every byte, which reverses the order.
        let (lower, upper) = match (descending, is_lower) {
            (false, true) => (at, Bound::Excluded(vec![class + 1])),
            (false, false) => (Bound::Included(vec![class]), at),
            (true, true) => (Bound::Included(vec![!class]), at),
            (true, false) => (at, Bound::Included(vec![!class])),
        };
        out.push(Side { lower, upper, is_lower, inclusive, class, shown });
    }
    out
}

/// The range a field's conditions allow: on a multikey index one side
/// only (the first found); otherwise a lower and an upper side of the same
/// type bracket combined. Returns (lower, upper) and how `explain` shows
/// it.
fn range(def: &IndexDef, i: usize, conds: &[&Bson], multikey: bool) -> Option<(FieldRange, String)> {
    let all: Vec<Side> = conds.iter().flat_map(|c| sides(def, i, c)).collect();
    let first = all.first()?;
    let other = all.iter().find(|s| s.is_lower != first.is_lower && s.class == first.class);
    let (Some(other), false) = (other, multikey) else {
        return Some(((first.lower.clone(), first.upper.clone()), first.text()));
    };
    let (lo, hi) = if first.is_lower { (first, other) } else { (other, first) };
    // The value ends: in byte order an ascending field's lower side bounds
    // from below, a descending field's from above.
    let (lower, upper) = if def.fields[i].descending {
        (hi.lower.clone(), lo.upper.clone())
    } else {
        (lo.lower.clone(), hi.upper.clone())
    };
    let open = if lo.inclusive { "[" } else { "(" };
    let close = if hi.inclusive { "]" } else { ")" };
    Some(((lower, upper), format!("{open}{}, {}{close}", lo.shown, hi.shown)))
}

fn prepend(prefix: &[u8], b: &Bound<Vec<u8>>) -> Bound<Vec<u8>> {
    match b {
        Bound::Included(k) => Bound::Included([prefix, k].concat()),
        Bound::Excluded(k) => Bound::Excluded([prefix, k].concat()),
        Bound::Unbounded if prefix.is_empty() => Bound::Unbounded,
        // Everything under the prefix (the store widens an included upper
        // bound to every key starting with it).
        Bound::Unbounded => Bound::Included(prefix.to_vec()),
    }
}

/// Bounds one index offers a filter.
struct Bounds {
    /// Encoded key prefixes of the pinned leading fields (one per
    /// combination of `$in` values).
    prefixes: Vec<Vec<u8>>,
    /// How many leading fields are pinned.
    pinned: usize,
    /// A range on the next field, if any.
    range: Option<FieldRange>,
    /// Per field, how explain shows its bounds.
    shown: Document,
}

fn bounds(def: &IndexDef, filter: &Document, multikey: bool) -> Bounds {
    let mut b = Bounds { prefixes: vec![Vec::new()], pinned: 0, range: None, shown: Document::new() };
    for (i, field) in def.fields.iter().enumerate() {
        let mut conds = Vec::new();
        conditions(filter, &field.path, &mut conds);
        if let Some(values) = conds.iter().find_map(|c| points(c)) {
            let mut keys: Vec<Vec<u8>> = values.iter().map(|v| def.encode_field(i, v)).collect();
            keys.sort();
            keys.dedup();
            if b.prefixes.len() * keys.len() <= MAX_RANGES {
                b.prefixes = b
                    .prefixes
                    .iter()
                    .flat_map(|p| keys.iter().map(move |k| [p.as_slice(), k].concat()))
                    .collect();
                b.pinned += 1;
                let shown: Vec<Bson> = values
                    .iter()
                    .map(|v| {
                        let v = argon_query::display::value(v);
                        Bson::String(format!("[{v}, {v}]"))
                    })
                    .collect();
                b.shown.insert(field.path.clone(), shown);
                continue;
            }
        } else if let Some((field_range, text)) = range(def, i, &conds, multikey) {
            b.range = Some(field_range);
            b.shown.insert(field.path.clone(), vec![text]);
        }
        break;
    }
    b
}

/// Whether scanning `def` under a single-point prefix of `pinned` fields
/// yields documents in `sort` order (see the module documentation):
/// `Some(false)` scanning forwards, `Some(true)` backwards.
fn index_provides_sort(def: &IndexDef, pinned: usize, sort: &SortSpec) -> Option<bool> {
    let keys: Vec<(&str, bool)> = sort.fields().collect();
    if keys.is_empty() || pinned + keys.len() > def.fields.len() {
        return None;
    }
    let fields = || keys.iter().zip(&def.fields[pinned..]);
    if !fields().all(|((path, _), f)| *path == f.path && !path.contains('.')) {
        return None;
    }
    if fields().all(|((_, desc), f)| *desc == f.descending) {
        Some(false)
    } else if fields().all(|((_, desc), f)| *desc != f.descending) {
        Some(true)
    } else {
        None
    }
}

/// Shows the fields from `from` on as unbounded.
fn shown_all(def: &IndexDef, from: usize, shown: &mut Document) {
    for f in &def.fields[from..] {
        shown.insert(f.path.clone(), vec!["[MinKey, MaxKey]"]);
    }
}

/// A candidate plan and how good it is.
struct Candidate {
    plan: Plan,
    pinned: usize,
    has_range: bool,
    sorted: bool,
}

/// Keeps the better of `best` and `c`: more pinned fields first; then,
/// with a limit, an index that provides the sort (it stops early), else
/// one with a range (it reads fewer documents); the first index wins ties.
fn consider(best: &mut Option<Candidate>, c: Candidate, limited: bool) {
    let score = |c: &Candidate| {
        if limited {
            (c.pinned, c.sorted, c.has_range)
        } else {
            (c.pinned, c.has_range, c.sorted)
        }
    };
    if best.as_ref().is_none_or(|b| score(&c) > score(b)) {
        *best = Some(c);
    }
}

/// Chooses a plan for `filter` on a collection; `sort` and `limited` (the
/// query has a limit) let an index that provides the sort win; `multikey`
/// says whether an index is multikey in the snapshot the plan will read
/// (when unsure, it must say yes).
pub fn plan(
    filter: &Document,
    coll: Option<&CollectionMeta>,
    hint: Option<&Bson>,
    sort: Option<&SortSpec>,
    limited: bool,
    multikey: &dyn Fn(&IndexMeta) -> bool,
) -> CmdResult<Plan> {
    // An index orders strings by its collation; it can answer a query
    // comparing strings by another one only wrongly, so it is not used
    // then (the `_id` index is simple). (MongoDB would still use it for
    // bounds without strings; Argon reads the collection instead.)
    let collation = argon_query::compare::active_collation();
    let usable = |ix: &IndexMeta| match ix.spec.contains_key("collation") {
        false => collation.is_none(), // (no need to parse the spec)
        true => Collation::same(IndexDef::from_spec(&ix.spec).collation.as_deref(), collation.as_deref()),
    };
    let mut ids = Vec::new();
    conditions(filter, "_id", &mut ids);
    if hint.is_none() {
        for c in &ids {
            let point = match c {
                Bson::Document(ops) if ops.len() == 1 => ops.get("$eq").filter(|v| scalar(v)),
                v if scalar(v) => Some(*v),
                _ => None,
            };
            if let Some(v) =
                point.filter(|v| collation.is_none() || !matches!(v, Bson::String(_) | Bson::Symbol(_)))
            {
                return Ok(Plan::IdPoint(v.clone()));
            }
        }
    }
    let Some(coll) = coll else { return Ok(Plan::CollScan) };
    // A hint names an index (or its key pattern) to use, or $natural.
    // Hidden indexes (`hidden: true`) are not planned with, hinted or not.
    let visible = || coll.indexes.iter().filter(|i| !is_hidden(&i.spec));
    // The `_id` index: ranges, `$in` lists and sorts on `_id` read the
    // documents in `_id` order (`Snapshot::id_scan`).
    let id_index = id_index();
    let hinted = match hint {
        None => None,
        Some(h) => match find_hinted(visible(), &id_index, h)? {
            Some(ix) => Some(ix),
            None => return Ok(Plan::CollScan), // {$natural: ..}
        },
    };
    if hinted.is_some_and(|ix| !usable(ix)) {
        return Ok(Plan::CollScan);
    }
    let candidates: Vec<_> = match hinted {
        Some(ix) => vec![ix],
        None => visible()
            .filter(|i| usable(i))
            .filter(|i| {
                !i.spec.get_bool("sparse").unwrap_or(false) && !i.spec.contains_key("partialFilterExpression")
            })
            .chain(std::iter::once(&id_index).filter(|_| collation.is_none()))
            .collect(),
    };
    let sort = sort.filter(|s| !s.is_empty());
    let mut best: Option<Candidate> = None;
    for ix in candidates {
        let def = IndexDef::from_spec(&ix.spec);
        if def.fields.is_empty() {
            continue;
        }
        let key = ix.spec.get_document("key").ok();
        if def.fields.iter().any(|f| matches!(key.and_then(|k| k.get(&f.path)), Some(Bson::String(_)))) {
            continue; // text, 2d, hashed: not ordered by value
        }
        let name = ix.name().to_string();
        // (`_id` cannot hold an array.)
        let multikey = name != ID_INDEX && multikey(ix);
        let b = bounds(&def, filter, multikey);
        let mut shown = b.shown;
        shown_all(&def, shown.len(), &mut shown);
        if b.pinned > 0 || b.range.is_some() {
            let (lower, upper) = b.range.clone().unwrap_or((Bound::Unbounded, Bound::Unbounded));
            let ranges: Vec<KeyRange> = b
                .prefixes
                .iter()
                .map(|p| KeyRange { lower: prepend(p, &lower), upper: prepend(p, &upper) })
                .collect();
            // A range on the sorted field keeps the scan in sort order only
            // when no document has several entries.
            let direction = sort
                .filter(|_| (b.range.is_none() || !multikey) && b.prefixes.len() == 1)
                .and_then(|s| index_provides_sort(&def, b.pinned, s));
            let sorted = direction.is_some();
            let reverse = direction == Some(true);
            consider(
                &mut best,
                Candidate {
                    plan: Plan::Index { name, ranges, sorted, reverse, bounds: shown, multikey },
                    pinned: b.pinned,
                    has_range: b.range.is_some(),
                    sorted,
                },
                limited,
            );
        } else if let Some((sorted, reverse)) = sort
            .and_then(|s| index_provides_sort(&def, 0, s))
            .map(|reverse| (true, reverse))
            .or(hinted.map(|_| (false, false)))
        {
            // No bounds: the whole index is scanned, because it provides
            // the sort (in either direction) or because it was hinted.
            consider(
                &mut best,
                Candidate {
                    plan: Plan::Index {
                        name,
                        ranges: vec![KeyRange::all()],
                        sorted,
                        reverse,
                        bounds: shown,
                        multikey,
                    },
                    pinned: 0,
                    has_range: false,
                    sorted,
                },
                limited,
            );
        }
    }
    Ok(best.map(|c| c.plan).unwrap_or(Plan::CollScan))
}

/// The name a plan gives the `_id` index (not in the catalog: the
/// documents themselves are stored in `_id` order).
pub const ID_INDEX: &str = "_id_";

fn id_index() -> IndexMeta {
    IndexMeta {
        id: 0,
        created_lsn: argon_types::Lsn::ZERO,
        spec: bson::doc! {"v": 2, "key": {"_id": 1}, "name": ID_INDEX},
    }
}

/// Whether an index spec says `hidden: true` (kept up to date, never
/// planned with: how MongoDB lets one try dropping an index).
/// The index a hint names, by name or by key pattern (`None`: the hint is
/// `{$natural: ..}`, a collection scan).
fn find_hinted<'a>(
    mut visible: impl Iterator<Item = &'a IndexMeta>,
    id_index: &'a IndexMeta,
    hint: &Bson,
) -> CmdResult<Option<&'a IndexMeta>> {
    let missing = |what: &dyn std::fmt::Display| {
        CommandError::new(
            code::BAD_VALUE,
            format!("hint provided does not correspond to an existing index: {what}"),
        )
    };
    match hint {
        Bson::String(name) if name == ID_INDEX => Ok(Some(id_index)),
        Bson::String(name) => Ok(Some(visible.find(|i| i.name() == name).ok_or_else(|| missing(name))?)),
        Bson::Document(k) if k.contains_key("$natural") => Ok(None),
        Bson::Document(k) if k == &bson::doc! {"_id": 1} => Ok(Some(id_index)),
        Bson::Document(k) => {
            Ok(Some(visible.find(|i| i.spec.get_document("key").ok() == Some(k)).ok_or_else(|| missing(k))?))
        }
        _ => Err(CommandError::bad_value("hint must be a string or an object")),
    }
}

/// The key pattern of the index a hint names (`None` for `$natural`), for
/// `find`'s `min`/`max` and `returnKey`.
pub fn hinted_key_pattern(coll: Option<&CollectionMeta>, hint: &Bson) -> CmdResult<Option<bson::Document>> {
    let id_index = id_index();
    let indexes = coll.map(|c| c.indexes.as_slice()).unwrap_or_default();
    let visible = indexes.iter().filter(|i| !is_hidden(&i.spec));
    Ok(find_hinted(visible, &id_index, hint)?
        .map(|ix| ix.spec.get_document("key").cloned().unwrap_or_default()))
}

/// The key pattern of the index `plan` reads (`None` for a collection scan).
pub fn plan_key_pattern(plan: &Plan, coll: Option<&CollectionMeta>) -> Option<bson::Document> {
    match plan {
        Plan::IdPoint(_) => Some(bson::doc! { "_id": 1 }),
        Plan::Index { name, .. } if name == ID_INDEX => Some(bson::doc! { "_id": 1 }),
        Plan::Index { name, .. } => coll?
            .indexes
            .iter()
            .find(|i| i.name() == name)
            .and_then(|i| i.spec.get_document("key").ok().cloned()),
        Plan::CollScan => None,
    }
}

pub fn is_hidden(spec: &bson::Document) -> bool {
    matches!(spec.get("hidden"), Some(Bson::Boolean(true)))
}
