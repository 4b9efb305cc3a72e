//! Query filters: `find`, `$match`, `$pull` conditions, `arrayFilters`.
//!
//! A filter document is parsed once into a [`Filter`] (a tree of [`Node`]s
//! with paths split and regexes compiled), then matched against many
//! documents without allocating:
//!
//! ```text
//! {a: {$gt: 1}, $or: [{b: 2}, {c: /x/}]}
//!   -> And[ Leaf(a, Gt 1), Or[ Leaf(b, Eq 2), Leaf(c, Regex /x/) ] ]
//! ```
//!
//! A leaf matches when any value its path names (see `path::visit`)
//! satisfies its operator; `$ne`, `$nin`, `$not` and `$exists: false` are
//! negations of the whole leaf, so `{a: {$ne: 1}}` rejects `{a: [1, 2]}`.
//! Comparisons only match values of the same type class (`{$gt: 1}` never
//! matches a string), and a missing path matches `null`.

mod parse;

use std::sync::Arc;

use bson::{Bson, Document};

use crate::compare::{compare, is_nan};
use crate::deps::Deps;
use crate::error::Result;
use crate::expr::{Expression, Vars};
use crate::path::{visit, LeafArrays, Path};
use crate::regex::MongoRegex;
use crate::schema::Schema;
use crate::text::{BoundText, TextIndex, TextQuery};
use crate::types::TypeSet;
use argon_types::keycodec::type_class;

/// A parsed query filter. Cheap to clone (regexes are shared).
#[derive(Clone, Debug)]
pub struct Filter {
    root: Node,
    has_expr: bool,
    /// The top-level fields the filter reads.
    deps: Deps,
    /// Variables for `$expr` (`$$NOW` is fixed when the filter is parsed,
    /// once per command as in MongoDB).
    vars: Vars,
}

/// The outcome of matching with details: the position in the first array
/// the query traversed, which the positional `$` operator refers to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MatchDetails {
    pub elem_match_key: Option<usize>,
}

#[derive(Clone, Debug)]
pub(crate) enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Nor(Vec<Node>),
    Not(Box<Node>),
    /// Any value named by the path satisfies the operator.
    Leaf(Path, Op),
    /// Inside `$elemMatch` on values: the operator applies to the element.
    Value(Op),
    Expr(Box<Expression>),
    /// `$where`: a JavaScript function of the document (`this`).
    Where(crate::js::JsFunction),
    /// `$jsonSchema`: the whole document satisfies the schema.
    Schema(Arc<Schema>),
    /// `$text`: matches nothing until bound to the collection's text index
    /// ([`Filter::with_text_index`]).
    Text(Box<TextQuery>, Option<Arc<BoundText>>),
    True,
    False,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Lt,
    Lte,
    Gt,
    Gte,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bits {
    AllSet,
    AllClear,
    AnySet,
    AnyClear,
}

#[derive(Clone, Debug)]
pub(crate) enum Op {
    Cmp(Cmp, Bson),
    In {
        values: Vec<Bson>,
        has_null: bool,
        regexes: Vec<MongoRegex>,
    },
    Regex(MongoRegex),
    Exists,
    Type(TypeSet),
    Size(usize),
    Mod(i64, i64),
    Bits(Bits, u64),
    ElemMatchObject(Box<Node>),
    ElemMatchValue(Box<Node>),
    /// `$geoWithin`, `$geoIntersects`.
    Geo(Arc<crate::geo::GeoQuery>),
    /// `$near`, `$nearSphere`: matches within the distance bounds; the
    /// server orders by distance ([`Filter::near_distance`]).
    Near(Arc<crate::geo::NearQuery>),
}

impl Op {
    fn leaf_arrays(&self) -> LeafArrays {
        match self {
            // Geo operators read arrays as coordinate pairs or lists of
            // geometries themselves.
            Op::Size(_) | Op::ElemMatchObject(_) | Op::ElemMatchValue(_) | Op::Geo(_) | Op::Near(_) => {
                LeafArrays::NoTraversal
            }
            _ => LeafArrays::Traverse,
        }
    }

    /// Whether one value (`None`: the path is missing) satisfies the
    /// operator. `inner` receives the array position an `$elemMatch`
    /// matched at.
    fn matches_single(&self, v: Option<&Bson>, inner: &mut Option<usize>) -> bool {
        match self {
            Op::Cmp(op, rhs) => compare_match(*op, v, rhs),
            Op::In { values, has_null, regexes } => {
                let Some(v) = v else { return *has_null };
                // The list is sorted in binary order; under a collation,
                // equal strings may sit anywhere in it.
                let found = match crate::compare::active_collation() {
                    None => values.binary_search_by(|probe| compare(probe, v)).is_ok(),
                    Some(_) => values.iter().any(|x| compare(x, v).is_eq()),
                };
                if found {
                    return true;
                }
                regexes.iter().any(|r| r.matches_value(v))
            }
            Op::Regex(re) => v.is_some_and(|v| re.matches_value(v)),
            Op::Exists => v.is_some(),
            Op::Type(set) => v.is_some_and(|v| set.contains(v)),
            Op::Size(n) => matches!(v, Some(Bson::Array(a)) if a.len() == *n),
            Op::Mod(divisor, remainder) => {
                v.and_then(mod_dividend).is_some_and(|d| d.wrapping_rem(*divisor) == *remainder)
            }
            Op::Bits(kind, mask) => v.is_some_and(|v| bits_match(*kind, *mask, v)),
            Op::Geo(q) => v.is_some_and(|v| q.matches(v)),
            Op::Near(q) => v.is_some_and(|v| q.matches(v)),
            Op::ElemMatchObject(node) => {
                let Some(Bson::Array(items)) = v else { return false };
                for (i, item) in items.iter().enumerate() {
                    let hit = match item {
                        Bson::Document(d) => node.matches_doc(d, &mut None),
                        Bson::Array(a) => node.matches_doc(&array_as_document(a), &mut None),
                        _ => false,
                    };
                    if hit {
                        *inner = Some(i);
                        return true;
                    }
                }
                false
            }
            Op::ElemMatchValue(node) => {
                let Some(Bson::Array(items)) = v else { return false };
                for (i, item) in items.iter().enumerate() {
                    if node.matches_value(item) {
                        *inner = Some(i);
                        return true;
                    }
                }
                false
            }
        }
    }
}

/// An array seen as the document `{"0": ..., "1": ...}` (how `$elemMatch`
/// treats nested arrays).
fn array_as_document(items: &[Bson]) -> Document {
    items.iter().enumerate().map(|(i, v)| (i.to_string(), v.clone())).collect()
}

impl Cmp {
    fn test(self, ord: std::cmp::Ordering) -> bool {
        match self {
            Cmp::Eq => ord.is_eq(),
            Cmp::Lt => ord.is_lt(),
            Cmp::Lte => ord.is_le(),
            Cmp::Gt => ord.is_gt(),
            Cmp::Gte => ord.is_ge(),
        }
    }
}

/// MongoDB's comparison semantics for one value.
pub(crate) fn compare_match(op: Cmp, v: Option<&Bson>, rhs: &Bson) -> bool {
    // Fast paths for the most common same-type comparisons.
    match (v, rhs) {
        (Some(Bson::Int32(a)), Bson::Int32(b)) => return op.test(a.cmp(b)),
        (Some(Bson::Int64(a)), Bson::Int64(b)) => return op.test(a.cmp(b)),
        (Some(Bson::String(a)), Bson::String(b)) => return op.test(crate::compare::compare_strings(a, b)),
        (Some(Bson::Double(a)), Bson::Double(b)) if !a.is_nan() && !b.is_nan() => {
            return op.test(a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal))
        }
        (Some(Bson::Int32(a)), Bson::Double(b)) if !b.is_nan() => {
            return op.test((*a as f64).partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal))
        }
        (Some(Bson::Double(a)), Bson::Int32(b)) if !a.is_nan() => {
            return op.test(a.partial_cmp(&(*b as f64)).unwrap_or(std::cmp::Ordering::Equal))
        }
        _ => {}
    }
    let inclusive = matches!(op, Cmp::Eq | Cmp::Lte | Cmp::Gte);
    let Some(v) = v else {
        // A missing path compares like null; MinKey and MaxKey bound it.
        return match rhs {
            Bson::Null => inclusive,
            Bson::MinKey => matches!(op, Cmp::Gt | Cmp::Gte),
            Bson::MaxKey => matches!(op, Cmp::Lt | Cmp::Lte),
            _ => false,
        };
    };
    if type_class(v) != type_class(rhs) {
        return match rhs {
            Bson::MinKey => matches!(op, Cmp::Gt | Cmp::Gte),
            Bson::MaxKey => matches!(op, Cmp::Lt | Cmp::Lte),
            _ => false,
        };
    }
    if op != Cmp::Eq {
        let (ln, rn) = (is_nan(v), is_nan(rhs));
        if ln || rn {
            return matches!(op, Cmp::Lte | Cmp::Gte) && ln && rn;
        }
    }
    op.test(compare(v, rhs))
}

/// The integer a `$mod` test divides: numbers truncated toward zero; NaN,
/// infinities and values beyond int64 never match.
fn mod_dividend(v: &Bson) -> Option<i64> {
    match v {
        Bson::Int32(i) => Some(*i as i64),
        Bson::Int64(i) => Some(*i),
        Bson::Double(_) | Bson::Decimal128(_) => {
            let f = crate::numeric::to_f64(v)?.trunc();
            (-9.223372036854776e18..9.223372036854776e18).contains(&f).then_some(f as i64)
        }
        _ => None,
    }
}

fn bits_match(kind: Bits, mask: u64, v: &Bson) -> bool {
    let value: u64 = match v {
        Bson::Int32(i) => *i as i64 as u64,
        Bson::Int64(i) => *i as u64,
        Bson::Double(d) => {
            if d.is_nan() || d.fract() != 0.0 || *d >= 9.223372036854776e18 || *d < -9.223372036854776e18 {
                return false;
            }
            *d as i64 as u64
        }
        Bson::Decimal128(_) => match crate::numeric::to_exact_i64(v) {
            Some(i) => i as u64,
            None => return false,
        },
        Bson::Binary(b) => {
            // Bits beyond the data are clear; bits past 63 were folded
            // into bit 63 of the mask at parse time.
            let mut x: u64 = 0;
            for (i, byte) in b.bytes.iter().take(8).enumerate() {
                x |= (*byte as u64) << (8 * i);
            }
            if b.bytes.len() > 8 && b.bytes[8..].iter().any(|b| *b != 0) {
                x |= 1 << 63;
            }
            x
        }
        _ => return false,
    };
    match kind {
        Bits::AllSet => value & mask == mask,
        Bits::AllClear => !value & mask == mask,
        Bits::AnySet => value & mask != 0,
        Bits::AnyClear => !value & mask != 0,
    }
}

impl Node {
    /// Matches a document; `key` receives the positional `$` index of the
    /// last array-traversing leaf that matched.
    fn matches_doc(&self, doc: &Document, key: &mut Option<usize>) -> bool {
        match self {
            Node::And(children) => children.iter().all(|c| c.matches_doc(doc, key)),
            Node::Or(children) => children.iter().any(|c| c.matches_doc(doc, key)),
            Node::Nor(children) => !children.iter().any(|c| c.matches_doc(doc, &mut None)),
            Node::Not(child) => !child.matches_doc(doc, &mut None),
            Node::Leaf(path, op) => {
                // Fast path: a path through documents only, ending at a
                // value that is not an array (no implicit traversal).
                let mut cur = doc;
                let last = path.parts.len() - 1;
                for (i, part) in path.parts.iter().enumerate() {
                    match cur.get(&part.name) {
                        None => return op.matches_single(None, &mut None),
                        Some(Bson::Array(_)) => break,
                        Some(Bson::Document(d)) if i < last => cur = d,
                        Some(v) if i == last => {
                            let mut inner = None;
                            let hit = op.matches_single(Some(v), &mut inner);
                            if hit && inner.is_some() {
                                *key = inner;
                            }
                            return hit;
                        }
                        // A scalar in the middle: the path is missing.
                        Some(_) => return op.matches_single(None, &mut None),
                    }
                }
                let mut found = None;
                let hit = visit(doc, &path.parts, op.leaf_arrays(), &mut |v, offset| {
                    let mut inner = None;
                    if op.matches_single(v, &mut inner) {
                        found = offset.or(inner);
                        true
                    } else {
                        false
                    }
                });
                if hit && found.is_some() {
                    *key = found;
                }
                hit
            }
            Node::Value(_) => false,
            // Filters with $expr or $where are evaluated by try_matches_doc.
            Node::Expr(_) | Node::Where(_) => false,
            Node::Schema(schema) => schema.matches(doc),
            Node::Text(_, bound) => bound.as_ref().is_some_and(|b| b.matches(doc)),
            Node::True => true,
            Node::False => false,
        }
    }

    /// Matches one array element inside `$elemMatch` (value form).
    fn matches_value(&self, v: &Bson) -> bool {
        match self {
            Node::And(children) => children.iter().all(|c| c.matches_value(v)),
            Node::Not(child) => !child.matches_value(v),
            Node::Value(op) => op.matches_single(Some(v), &mut None),
            Node::True => true,
            _ => false,
        }
    }

    fn try_matches_doc(&self, doc: &Document, vars: &Vars, key: &mut Option<usize>) -> Result<bool> {
        match self {
            Node::And(children) => {
                for c in children {
                    if !c.try_matches_doc(doc, vars, key)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Node::Or(children) => {
                for c in children {
                    if c.try_matches_doc(doc, vars, key)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Node::Nor(children) => {
                for c in children {
                    if c.try_matches_doc(doc, vars, &mut None)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Node::Not(child) => Ok(!child.try_matches_doc(doc, vars, &mut None)?),
            Node::Expr(e) => Ok(crate::expr::truthy(&e.evaluate(doc, vars)?)),
            Node::Where(f) => f.test(doc),
            other => Ok(other.matches_doc(doc, key)),
        }
    }
}

impl Filter {
    /// Parses a filter document.
    pub fn parse(filter: &Document) -> Result<Filter> {
        Self::parse_with_vars(filter, &[])
    }

    /// Parses a filter whose `$expr` parts may use the user variables
    /// `vars` (the `let` of a command or of `$lookup`).
    pub fn parse_with_vars(filter: &Document, vars: &[String]) -> Result<Filter> {
        let mut parser = parse::Parser { vars: vars.to_vec(), has_expr: false, texts: 0, under: None };
        let root = parser.parse_document(filter, parse::Level::Top)?;
        check_near_placement(&root, parser.texts > 0)?;
        let vars = if parser.has_expr {
            Vars::new(bson::DateTime::now())
        } else {
            Vars::new(bson::DateTime::from_millis(0))
        };
        let mut deps = Deps::none();
        node_deps(&root, &mut deps);
        Ok(Filter { root, has_expr: parser.has_expr, deps, vars })
    }

    /// A filter that matches every document.
    pub fn match_all() -> Filter {
        Filter {
            root: Node::True,
            has_expr: false,
            deps: Deps::none(),
            vars: Vars::new(bson::DateTime::from_millis(0)),
        }
    }

    /// The top-level fields the filter reads: matching a document that
    /// holds only these fields (see [`Deps::decode_into`]) gives the same
    /// answer as matching the whole document.
    pub fn dependencies(&self) -> &Deps {
        &self.deps
    }

    /// Fixes `$$NOW` for `$expr` (default: the time of each evaluation).
    pub fn with_now(mut self, now: bson::DateTime) -> Filter {
        self.vars = Vars::new(now);
        self
    }

    /// Binds the user variables of a command's `let` for `$expr` (the
    /// filter is parsed with [`Filter::parse_with_vars`] and their names).
    pub fn with_let(mut self, lets: &Vars) -> Filter {
        for (name, value) in lets.bindings() {
            self.vars.set(name, value.clone());
        }
        self
    }

    /// Whether the filter matches the document. Errors while evaluating
    /// `$expr` (for example a division by zero) count as a non-match; use
    /// [`Filter::try_matches`] to surface them as MongoDB does.
    pub fn matches(&self, doc: &Document) -> bool {
        if self.has_expr {
            return self.try_matches(doc).unwrap_or(false);
        }
        self.root.matches_doc(doc, &mut None)
    }

    /// Like [`Filter::matches`], but reports `$expr` evaluation errors.
    pub fn try_matches(&self, doc: &Document) -> Result<bool> {
        self.try_matches_with_vars(doc, &self.vars)
    }

    /// Matches with user variables bound (for `$expr` in `$lookup`
    /// pipelines and commands with `let`).
    pub fn try_matches_with_vars(&self, doc: &Document, vars: &Vars) -> Result<bool> {
        if !self.has_expr {
            return Ok(self.root.matches_doc(doc, &mut None));
        }
        self.root.try_matches_doc(doc, vars, &mut None)
    }

    /// Matches and reports the array position for the positional `$`
    /// operator (`None` when the document does not match).
    pub fn matches_with_details(&self, doc: &Document) -> Option<MatchDetails> {
        let mut key = None;
        let hit = if self.has_expr {
            self.root.try_matches_doc(doc, &self.vars, &mut key).unwrap_or(false)
        } else {
            self.root.matches_doc(doc, &mut key)
        };
        hit.then_some(MatchDetails { elem_match_key: key })
    }

    /// The equality conditions at the top level of the filter (directly or
    /// under a top-level `$and`), as MongoDB uses them to seed an upsert:
    /// `{a: 1}`, `{a: {$eq: 1}}`, `{"b.c": 2}`, and `$in` with one value.
    pub fn equality_fields(&self) -> Vec<(String, Bson)> {
        let mut out = Vec::new();
        collect_equalities(&self.root, &mut out);
        out
    }

    /// Why a `$jsonSchema` of the filter rejects the document, in the shape
    /// of MongoDB's document validation error details
    /// (`{operatorName: "$jsonSchema", schemaRulesNotSatisfied: [...]}`, see
    /// [`Schema::explain_failure`]), for a validator's `errInfo`. Looks at a
    /// `$jsonSchema` that is the whole filter or one clause of its
    /// top-level `$and` (explicit, or implied by several top-level
    /// conditions); `None` when none of those fails.
    pub fn schema_failure_details(&self, doc: &Document) -> Option<Document> {
        let clauses = match &self.root {
            Node::And(children) => children.as_slice(),
            other => std::slice::from_ref(other),
        };
        clauses.iter().find_map(|clause| match clause {
            Node::Schema(schema) => schema.explain_failure(doc),
            _ => None,
        })
    }

    /// Whether the filter has a `$text` condition (at most one, at the top
    /// level or in a top-level `$and`).
    pub fn has_text(&self) -> bool {
        top_level_text(&self.root).is_some()
    }

    /// Whether the `$text` condition is bound to a text index.
    pub fn text_is_bound(&self) -> bool {
        matches!(top_level_text(&self.root), Some(Node::Text(_, Some(_))))
    }

    /// The filter with its `$text` condition bound to the collection's text
    /// index (an unbound `$text` matches nothing).
    pub fn with_text_index(&self, index: &TextIndex) -> Filter {
        let mut out = self.clone();
        bind_text(&mut out.root, index);
        out
    }

    /// The text score of a document that matches the bound `$text`
    /// condition (`None` without one). The server keeps it beside the
    /// document (see [`crate::text`]).
    pub fn text_score(&self, doc: &Document) -> Option<f64> {
        match top_level_text(&self.root)? {
            Node::Text(_, Some(b)) => Some(b.score(doc)),
            _ => None,
        }
    }

    /// The `$near`/`$nearSphere` condition (at most one, at the top level
    /// or in a top-level `$and`) with its dotted path.
    pub fn near(&self) -> Option<(&str, &crate::geo::NearQuery)> {
        fn find(node: &Node) -> Option<(&str, &crate::geo::NearQuery)> {
            match node {
                Node::Leaf(path, Op::Near(q)) => Some((path.dotted.as_str(), q)),
                Node::And(children) => children.iter().find_map(find),
                _ => None,
            }
        }
        find(&self.root)
    }

    /// Whether the filter has a `$near`/`$nearSphere` condition.
    pub fn has_near(&self) -> bool {
        self.near().is_some()
    }

    /// The distance of a matching document from the `$near` point, in the
    /// query's units: the nearest of its geometries on the path within
    /// the distance bounds (`None` without `$near` or such a geometry).
    pub fn near_distance(&self, doc: &Document) -> Option<f64> {
        let (path, q) = self.near()?;
        let parts = Path::parse(path).parts;
        let mut best: Option<f64> = None;
        visit(doc, &parts, LeafArrays::NoTraversal, &mut |v, _| {
            if let Some((d, _)) = v.and_then(|v| q.nearest(v)) {
                best = Some(best.map_or(d, |b| b.min(d)));
            }
            false
        });
        best
    }

    /// Whether the filter matches everything (`{}`).
    pub fn is_empty(&self) -> bool {
        matches!(&self.root, Node::True) || matches!(&self.root, Node::And(c) if c.is_empty())
    }
}

/// Where a `$near` sits in a filter.
#[derive(Clone, Copy, PartialEq, Eq)]
enum NearPlace {
    /// The top level or a top-level `$and`.
    Top,
    /// Under `$or`/`$nor`.
    Nested,
    /// Under `$not` or `$elemMatch`.
    Forbidden,
}

/// MongoDB's rules for `$near`/`$nearSphere`: at most one, at the top level
/// (or in a top-level `$and`), not under `$not`/`$elemMatch`, and not with
/// `$text`.
fn check_near_placement(root: &Node, has_text: bool) -> Result<()> {
    fn walk(node: &Node, place: NearPlace, found: &mut Vec<NearPlace>) {
        let inner = |p: NearPlace| if p == NearPlace::Forbidden { p } else { NearPlace::Nested };
        match node {
            Node::And(children) => children.iter().for_each(|c| walk(c, place, found)),
            Node::Or(children) | Node::Nor(children) => {
                children.iter().for_each(|c| walk(c, inner(place), found))
            }
            Node::Not(child) => walk(child, NearPlace::Forbidden, found),
            Node::Leaf(_, op) | Node::Value(op) => match op {
                Op::Near(_) => found.push(place),
                Op::ElemMatchObject(n) | Op::ElemMatchValue(n) => walk(n, NearPlace::Forbidden, found),
                _ => {}
            },
            _ => {}
        }
    }
    let mut found = Vec::new();
    walk(root, NearPlace::Top, &mut found);
    let bad = |m: &str| Err(crate::error::QueryError::new(crate::error::codes::BAD_VALUE, m));
    if found.contains(&NearPlace::Forbidden) {
        return bad("$geoNear, $near, and $nearSphere are not allowed in this context");
    }
    if found.len() > 1 {
        return bad("Too many geoNear expressions");
    }
    if found.contains(&NearPlace::Nested) {
        return bad("geoNear must be top-level expr");
    }
    if has_text && !found.is_empty() {
        return bad("text and geoNear not allowed in same query");
    }
    Ok(())
}

fn top_level_text(node: &Node) -> Option<&Node> {
    match node {
        Node::Text(..) => Some(node),
        Node::And(children) => children.iter().find_map(top_level_text),
        _ => None,
    }
}

fn bind_text(node: &mut Node, index: &TextIndex) {
    match node {
        Node::Text(q, bound) => *bound = Some(Arc::new(q.bind(index))),
        Node::And(children) => children.iter_mut().for_each(|c| bind_text(c, index)),
        _ => {}
    }
}

fn node_deps(node: &Node, deps: &mut Deps) {
    match node {
        Node::And(children) | Node::Or(children) | Node::Nor(children) => {
            children.iter().for_each(|c| node_deps(c, deps))
        }
        Node::Not(child) => node_deps(child, deps),
        Node::Leaf(path, _) => deps.add_field(&path.parts[0].name),
        Node::Expr(e) => deps.extend(e.dependencies()),
        Node::Schema(schema) => schema.add_dependencies(deps),
        // Which strings a text index reads depends on the index.
        Node::Text(..) => deps.set_whole(),
        // A script may read any field.
        Node::Where(_) => deps.set_whole(),
        // Element conditions only occur inside a leaf's $elemMatch.
        Node::Value(_) | Node::True | Node::False => {}
    }
}

fn collect_equalities(node: &Node, out: &mut Vec<(String, Bson)>) {
    match node {
        Node::And(children) => {
            for c in children {
                collect_equalities(c, out);
            }
        }
        Node::Leaf(path, Op::Cmp(Cmp::Eq, v)) => out.push((path.dotted.clone(), v.clone())),
        Node::Leaf(path, Op::In { values, has_null, regexes }) if regexes.is_empty() => {
            if values.len() == 1 {
                out.push((path.dotted.clone(), values[0].clone()));
            } else if values.is_empty() && *has_null {
                out.push((path.dotted.clone(), Bson::Null));
            }
        }
        _ => {}
    }
}
