//! Reading documents for a command: a snapshot, plus a transaction's own
//! uncommitted writes when the command runs inside one, plus the query
//! loop shared by find, count, distinct, update, delete, findAndModify and
//! aggregate.
//!
//! A collection scan never decodes a stored document it does not need: the
//! filter is matched against a small document holding only the top-level
//! fields it reads ([`argon_query::Deps`]), decoded from the stored bytes,
//! and the whole document is decoded only when it matches. A pipeline reads
//! only the fields its stages depend on, streamed from the scan into the
//! stages, never collected first.

use std::cmp::Ordering;
use std::collections::HashSet;

use argon_query::pipeline::{Pipeline, PipelineContext};
use argon_query::text::TextIndex;
use argon_query::{Deps, Filter, Projection, QueryError, SortSpec};
use argon_store::{decode_doc, IndexMeta, Scan, Snapshot};
use argon_types::keycodec;
use bson::{Bson, Document, RawDocument};

use crate::error::{code, CmdResult, CommandError};
use crate::planner::{self, KeyRange, Plan};
use crate::session::Overlay;

/// Documents as one command sees them.
pub struct Source<'a> {
    pub snap: &'a Snapshot,
    pub overlay: Option<&'a Overlay>,
}

/// One document of a scan: its encoded `_id`, and its stored bytes or a
/// transaction's own version.
enum Item<'a> {
    Raw(&'a [u8], &'a [u8]),
    Doc(&'a [u8], &'a Document),
}

/// A document as [`Source::each_stored`] hands it over.
#[derive(Clone, Copy)]
pub enum Stored<'a> {
    Raw(&'a [u8]),
    Doc(&'a Document),
}

impl Stored<'_> {
    /// The whole document, decoded.
    pub fn decode(self) -> CmdResult<Document> {
        match self {
            Stored::Raw(bytes) => decode_full(bytes),
            Stored::Doc(d) => Ok(d.clone()),
        }
    }

    /// The top-level fields `deps` names (all of them for a transaction's
    /// own version), into `out`, for matching.
    pub fn decode_for_matching(self, deps: &Deps, out: &mut Document) -> CmdResult<()> {
        match self {
            Stored::Raw(bytes) => decode_for_matching(bytes, deps, out),
            Stored::Doc(d) => {
                *out = d.clone();
                Ok(())
            }
        }
    }
}

/// The documents of one collection in `_id` order: the snapshot's scan
/// merged with the transaction's writes (which shadow stored versions).
struct Items<'a> {
    scan: Scan<'a>,
    pending: std::iter::Peekable<std::vec::IntoIter<(&'a [u8], &'a Option<Document>)>>,
    next: Option<(&'a [u8], &'a [u8])>,
    /// Items produced, for periodic killOp checks.
    produced: u32,
}

impl<'a> Items<'a> {
    fn next(&mut self) -> CmdResult<Option<Item<'a>>> {
        self.produced = self.produced.wrapping_add(1);
        if self.produced.is_multiple_of(1024) {
            crate::ops::check_interrupted()?;
        }
        loop {
            let take_pending = match (&self.next, self.pending.peek()) {
                (None, None) => return Ok(None),
                (Some(_), None) => false,
                (None, Some(_)) => true,
                (Some((k, _)), Some((pk, _))) => match pk.cmp(k) {
                    Ordering::Less => true,
                    Ordering::Equal => {
                        self.next = self.scan.next_raw()?; // shadowed by the transaction's version
                        true
                    }
                    Ordering::Greater => false,
                },
            };
            if take_pending {
                let (id, v) = self.pending.next().expect("peeked");
                if let Some(d) = v {
                    return Ok(Some(Item::Doc(id, d)));
                }
            } else if let Some((id, bytes)) = self.next {
                self.next = self.scan.next_raw()?;
                return Ok(Some(Item::Raw(id, bytes)));
            }
        }
    }
}

/// Decodes a whole stored document.
pub fn decode_full(bytes: &[u8]) -> CmdResult<Document> {
    match RawDocument::from_bytes(bytes).ok().and_then(|r| Document::try_from(r).ok()) {
        Some(d) => Ok(d),
        None => Ok(decode_doc(bytes)?), // reports the error
    }
}

/// Decodes the fields `deps` names from stored bytes into `out`.
fn decode_fields(bytes: &[u8], deps: &Deps, out: &mut Document) -> CmdResult<()> {
    decode_with(bytes, deps, out, Deps::decode_into)
}

/// Decodes the fields `deps` names into `out` for matching: field order
/// is not kept, and `out`'s storage is reused from the previous document.
fn decode_for_matching(bytes: &[u8], deps: &Deps, out: &mut Document) -> CmdResult<()> {
    decode_with(bytes, deps, out, Deps::decode_for_matching)
}

/// Runs `partial` unless `deps` needs everything or nothing; a document
/// it cannot read is decoded whole, which reports the error.
fn decode_with(
    bytes: &[u8],
    deps: &Deps,
    out: &mut Document,
    partial: fn(&Deps, &[u8], &mut Document) -> bool,
) -> CmdResult<()> {
    if deps.needs_whole_document() {
        *out = decode_full(bytes)?;
    } else if deps.fields().is_empty() {
        out.clear();
    } else if !partial(deps, bytes, out) {
        *out = decode_full(bytes)?;
    }
    Ok(())
}

/// What a scan hands to its caller for each matching document.
#[derive(Clone, Copy)]
pub enum Want<'d> {
    /// The whole document.
    Whole,
    /// Only these top-level fields (and the filter's), in no particular
    /// order; a transaction's own documents come whole.
    Fields(&'d Deps),
    /// Nothing: an empty document (counting).
    Nothing,
}

/// Documents of one collection for a pipeline, decoded as far as the
/// pipeline needs. Store errors end the stream; [`DocStream::error`]
/// returns the original error.
pub struct DocStream<'a> {
    items: Option<Items<'a>>,
    deps: Deps,
    error: Option<CommandError>,
}

impl DocStream<'_> {
    /// The store error that ended the stream, if any.
    pub fn error(&mut self) -> Option<CommandError> {
        self.error.take()
    }
}

impl Iterator for DocStream<'_> {
    type Item = argon_query::Result<Document>;
    fn next(&mut self) -> Option<Self::Item> {
        let items = self.items.as_mut()?;
        let item = match items.next() {
            Ok(Some(item)) => item,
            Ok(None) => {
                self.items = None;
                return None;
            }
            Err(e) => {
                self.items = None;
                let q = QueryError { code: e.code, code_name: "InternalError", message: e.message.clone() };
                self.error = Some(e);
                return Some(Err(q));
            }
        };
        Some(Ok(match item {
            Item::Doc(_, d) => d.clone(),
            Item::Raw(_, bytes) => {
                let mut out = Document::new();
                if let Err(e) = decode_fields(bytes, &self.deps, &mut out) {
                    self.items = None;
                    let q =
                        QueryError { code: e.code, code_name: "InternalError", message: e.message.clone() };
                    self.error = Some(e);
                    return Some(Err(q));
                }
                out
            }
        }))
    }
}

/// What running a query did.
pub struct Execution {
    /// The documents, sorted, skipped and limited.
    pub docs: Vec<Document>,
    pub plan: Plan,
    pub keys_examined: u64,
    pub docs_examined: u64,
    /// Whether the documents were sorted in memory (a blocking SORT stage)
    /// rather than produced in order by the plan.
    pub sorted_in_memory: bool,
    /// With `$text`: each document's text score, beside it (same order as
    /// `docs`); empty otherwise. Scores are metadata, never fields.
    pub scores: Vec<f64>,
}

/// A document a bounded sort holds: decoded, or still stored bytes (decoded
/// only if it is among the first `k` at the end).
enum Held<'a> {
    Doc(Document),
    Raw(&'a [u8]),
}

/// Keeps the first `k` documents in a sort order seen so far, ties in
/// `_id` order as a stable sort of a collection scan gives (memory
/// proportional to `k`).
struct TopK<'s, 'a> {
    spec: &'s SortSpec,
    k: usize,
    buf: Vec<(Vec<Bson>, Vec<u8>, Held<'a>)>,
}

impl<'s, 'a> TopK<'s, 'a> {
    fn new(spec: &'s SortSpec, k: usize) -> TopK<'s, 'a> {
        TopK { spec, k, buf: Vec::new() }
    }

    fn push(&mut self, d: Document) {
        let id = keycodec::encode(d.get("_id").unwrap_or(&Bson::Null));
        self.push_held(self.spec.sort_key(&d), id, Held::Doc(d));
    }

    /// `key` is the document's sort key, `id` its encoded `_id`.
    fn push_held(&mut self, key: Vec<Bson>, id: Vec<u8>, d: Held<'a>) {
        self.buf.push((key, id, d));
        if self.buf.len() >= self.k.saturating_mul(2).max(64) {
            self.trim();
        }
    }

    fn trim(&mut self) {
        let spec = self.spec;
        self.buf.sort_by(|a, b| spec.compare_keys(&a.0, &b.0).then(a.1.cmp(&b.1)));
        self.buf.truncate(self.k);
    }

    fn finish(mut self) -> CmdResult<Vec<Document>> {
        self.trim();
        self.buf
            .into_iter()
            .map(|(_, _, d)| match d {
                Held::Doc(d) => Ok(d),
                Held::Raw(bytes) => decode_full(bytes),
            })
            .collect()
    }
}

/// Documents an index scan yields in sort order, with ties put in `_id`
/// order as a stable sort of a collection scan gives: documents with equal
/// sort keys wait in a run until the key changes. A document that sorts
/// before its predecessor sets `out_of_order` (the caller then sorts).
struct Runs<'s> {
    spec: &'s SortSpec,
    key: Vec<Bson>,
    run: Vec<(Vec<u8>, Document)>,
    out_of_order: bool,
}

impl<'s> Runs<'s> {
    fn new(spec: &'s SortSpec) -> Runs<'s> {
        Runs { spec, key: Vec::new(), run: Vec::new(), out_of_order: false }
    }

    fn push(&mut self, id_key: &[u8], d: Document, out: &mut Vec<Document>) {
        let key = self.spec.sort_key(&d);
        if !self.run.is_empty() {
            match self.spec.compare_keys(&key, &self.key) {
                Ordering::Equal => {}
                Ordering::Greater => self.flush(out),
                Ordering::Less => {
                    self.out_of_order = true;
                    self.flush(out);
                }
            }
        }
        if self.run.is_empty() {
            self.key = key;
        }
        self.run.push((id_key.to_vec(), d));
    }

    fn flush(&mut self, out: &mut Vec<Document>) {
        self.run.sort_by(|a, b| a.0.cmp(&b.0));
        out.extend(self.run.drain(..).map(|(_, d)| d));
    }
}

/// Whether an index of `coll` is multikey in `snap`, for the planner (yes
/// when the store cannot say: a multikey plan is slower, never wrong).
/// Applies a query's skip and limit to its (ordered) results.
fn page(docs: &mut Vec<Document>, skip: u64, limit: Option<u64>) {
    docs.drain(..skip.min(docs.len() as u64) as usize);
    if let Some(l) = limit {
        docs.truncate(l.min(usize::MAX as u64) as usize);
    }
}

pub fn multikey_in<'s>(snap: &'s Snapshot, coll: &'s str) -> impl Fn(&IndexMeta) -> bool + 's {
    move |ix| ix.name() != planner::ID_INDEX && snap.index_is_multikey(coll, ix.name()).unwrap_or(true)
}

impl<'a> Source<'a> {
    /// The document with this `_id`.
    pub fn get(&self, coll: &str, id: &Bson) -> CmdResult<Option<Document>> {
        if let Some(o) = self.overlay {
            if let Some(d) = o.get(&(coll.to_string(), keycodec::encode(id))) {
                return Ok(d.clone());
            }
        }
        Ok(self.snap.get(coll, id)?)
    }

    fn items(&self, coll: &str) -> CmdResult<Items<'a>> {
        self.items_after(coll, None)
    }

    /// Calls `f` with every visible document of `coll` in `_id` order, as
    /// stored bytes or (a transaction's own version) decoded, for a caller
    /// that reads fields straight from the bytes (`$vectorSearch`).
    pub fn each_stored(&self, coll: &str, mut f: impl FnMut(Stored<'a>) -> CmdResult<()>) -> CmdResult<()> {
        let mut items = self.items(coll)?;
        while let Some(item) = items.next()? {
            f(match item {
                Item::Raw(_, bytes) => Stored::Raw(bytes),
                Item::Doc(_, d) => Stored::Doc(d),
            })?;
        }
        Ok(())
    }

    /// The collection's items with an encoded `_id` after `after`.
    fn items_after(&self, coll: &str, after: Option<&[u8]>) -> CmdResult<Items<'a>> {
        let snap: &'a Snapshot = self.snap;
        let mut scan = snap.scan_after(coll, after)?;
        let pending: Vec<(&'a [u8], &'a Option<Document>)> = match self.overlay {
            Some(o) => o
                .iter()
                .filter(|((c, k), _)| c == coll && after.is_none_or(|a| k.as_slice() > a))
                .map(|((_, k), v)| (k.as_slice(), v))
                .collect(),
            None => vec![],
        };
        let next = scan.next_raw()?;
        Ok(Items { scan, pending: pending.into_iter().peekable(), next, produced: 0 })
    }

    /// Whether the transaction has written to this collection.
    fn has_pending(&self, coll: &str) -> bool {
        self.overlay.is_some_and(|o| o.keys().any(|(c, _)| c == coll))
    }

    /// Calls `f` for every document in `_id` order until it returns false.
    pub fn for_each(&self, coll: &str, f: &mut dyn FnMut(Document) -> CmdResult<bool>) -> CmdResult<()> {
        let mut items = self.items(coll)?;
        while let Some(item) = items.next()? {
            let d = match item {
                Item::Doc(_, d) => d.clone(),
                Item::Raw(_, bytes) => decode_full(bytes)?,
            };
            if !f(d)? {
                break;
            }
        }
        Ok(())
    }

    /// Calls `f`, in `_id` order until it returns false, for every document
    /// matching `filter`, decoded as `want` says; returns how many
    /// documents were examined. Only the fields the filter reads are
    /// decoded to match it.
    pub fn scan_matching(
        &self,
        coll: &str,
        filter: &Filter,
        want: Want<'_>,
        f: &mut dyn FnMut(Document) -> CmdResult<bool>,
    ) -> CmdResult<u64> {
        self.scan_matching_after(coll, None, filter, want, &mut |_, d| f(d))
    }

    /// [`Source::scan_matching`] from the first document after `after` (an
    /// encoded `_id`); `f` also gets each document's encoded `_id`, so a
    /// cursor can resume after it in a later snapshot of the same view.
    pub fn scan_matching_after(
        &self,
        coll: &str,
        after: Option<&[u8]>,
        filter: &Filter,
        want: Want<'_>,
        f: &mut dyn FnMut(&[u8], Document) -> CmdResult<bool>,
    ) -> CmdResult<u64> {
        if filter.has_near() {
            self.check_near_index(coll, filter)?;
        }
        let bound;
        let filter = if filter.has_text() && !filter.text_is_bound() {
            bound = self.bind_text(coll, filter)?;
            &bound
        } else {
            filter
        };
        // The fields decoded to match (plus, for `Fields`, the wanted ones).
        let mut match_deps = filter.dependencies().clone();
        if let Want::Fields(d) = want {
            match_deps.extend(d);
        }
        let whole_after_match = matches!(want, Want::Whole);
        let always = filter.is_empty();
        let mut items = self.items_after(coll, after)?;
        let mut scratch = Document::new();
        let mut examined = 0u64;
        while let Some(item) = items.next()? {
            examined += 1;
            let id_key = match &item {
                Item::Doc(id, _) | Item::Raw(id, _) => *id,
            };
            let d = match item {
                Item::Doc(_, d) => {
                    if !filter.try_matches(d)? {
                        continue;
                    }
                    d.clone()
                }
                Item::Raw(_, bytes) => {
                    if always && whole_after_match {
                        decode_full(bytes)?
                    } else {
                        decode_for_matching(bytes, &match_deps, &mut scratch)?;
                        if !filter.try_matches(&scratch)? {
                            continue;
                        }
                        match want {
                            Want::Whole if match_deps.needs_whole_document() => std::mem::take(&mut scratch),
                            Want::Whole => decode_full(bytes)?,
                            Want::Fields(_) => scratch.clone(),
                            Want::Nothing => Document::new(),
                        }
                    }
                }
            };
            if !f(id_key, d)? {
                break;
            }
        }
        Ok(examined)
    }

    /// The documents of a collection as a stream for a pipeline, each
    /// holding the fields `deps` names (every field when it needs the
    /// whole document).
    pub fn documents(&self, coll: &str, deps: &Deps) -> CmdResult<DocStream<'a>> {
        Ok(DocStream { items: Some(self.items(coll)?), deps: deps.clone(), error: None })
    }

    /// Runs a pipeline over a collection. A leading `$match` that an index
    /// or an `_id` point read can answer runs first through the planner;
    /// otherwise documents stream from the scan into the stages, decoded
    /// only as far as the pipeline reads them.
    pub fn aggregate(
        &self,
        coll: &str,
        pipeline: &Pipeline,
        ctx: &dyn PipelineContext,
        vars: &argon_query::expr::Vars,
    ) -> CmdResult<Vec<Document>> {
        if let Some(g) = pipeline.geo_near() {
            let (key, kind) = self.geo_near_index(coll, g.key())?;
            let mut stream = self.documents(coll, pipeline.dependencies())?;
            let near = g.run(&mut stream, &key, &kind);
            if let Some(e) = stream.error() {
                return Err(e);
            }
            return Ok(pipeline.run_after_geo_near(near?, ctx, vars)?);
        }
        if pipeline.starts_with_text_match() {
            let m = pipeline
                .leading_match()
                .ok_or_else(|| CommandError::new(code::INTERNAL_ERROR, "no leading $match"))?;
            let e = self.execute(coll, &Query::parse_with_let(m, vars)?, None, 0, None)?;
            let scored = e.docs.into_iter().zip(e.scores).map(Ok);
            return Ok(pipeline.run_text_results(Box::new(scored), ctx, vars)?);
        }
        if let Some(m) = pipeline.leading_match() {
            let q = Query::parse_with_let(m, vars)?;
            let plan = planner::plan(
                &q.doc,
                self.snap.collection(coll),
                None,
                None,
                false,
                &multikey_in(self.snap, coll),
            )?;
            if plan != Plan::CollScan {
                let docs = self.execute(coll, &q, None, 0, None)?.docs;
                return Ok(pipeline.run_results(Box::new(docs.into_iter().map(Ok)), ctx, vars)?);
            }
        }
        let mut stream = self.documents(coll, pipeline.dependencies())?;
        let out = pipeline.run_results(Box::new(&mut stream), ctx, vars);
        if let Some(e) = stream.error() {
            return Err(e);
        }
        Ok(out?)
    }

    /// Documents matching the query, sorted, skipped and limited (no
    /// projection), found by the plan the planner picks. Anything but a
    /// point read by `_id` may scan for long, so it runs through
    /// [`crate::ops::long_running`].
    pub fn matching(
        &self,
        coll: &str,
        q: &Query,
        sort: Option<&SortSpec>,
        skip: u64,
        limit: Option<u64>,
    ) -> CmdResult<Vec<Document>> {
        // A limited read of a capped collection without a sort (a deleteOne,
        // an updateOne, a findAndModify: a queue's next job) takes the
        // oldest match, in insertion order, as in MongoDB.
        let natural = match sort {
            None => Some(1),
            Some(s) => s.is_natural().or(s.is_empty().then_some(1)),
        };
        if let Some(direction) = natural {
            if limit.is_some()
                && self.overlay.is_none()
                && !q.pins_id()
                && q.hint.is_none()
                && !q.filter.has_text()
                && !q.filter.has_near()
                && self.snap.collection(coll).is_some_and(|c| argon_store::cap_of(&c.options).is_some())
            {
                return self.natural(coll, q, direction == -1, skip, limit, None);
            }
        }
        let run = || Ok(self.execute(coll, q, sort, skip, limit)?.docs);
        if q.pins_id() {
            run()
        } else {
            crate::ops::long_running(run)
        }
    }

    /// Runs a query and reports how.
    pub fn execute(
        &self,
        coll: &str,
        q: &Query,
        sort: Option<&SortSpec>,
        skip: u64,
        limit: Option<u64>,
    ) -> CmdResult<Execution> {
        let sort = sort.filter(|s| !s.is_empty());
        if q.filter.has_text() {
            return self.execute_text(coll, q, sort, skip, limit);
        }
        if q.filter.has_near() {
            return self.execute_near(coll, q, sort, skip, limit);
        }
        if sort.is_some_and(SortSpec::uses_text_score) {
            return Err(no_text_score());
        }
        let plan = planner::plan(
            &q.doc,
            self.snap.collection(coll),
            q.hint.as_ref(),
            sort,
            limit.is_some(),
            &multikey_in(self.snap, coll),
        )?;
        match &plan {
            Plan::IdPoint(_) => crate::index_usage::record(self.snap, coll, crate::index_usage::ID_INDEX),
            Plan::Index { name, .. } => crate::index_usage::record_named(self.snap, coll, name),
            Plan::CollScan => {}
        }
        // A transaction's own writes are not in the indexes: with some, an
        // index scan cannot yield documents in order.
        let in_order =
            plan.provides_sort(sort) && !(matches!(plan, Plan::Index { .. }) && self.has_pending(coll));
        // In order, stop as soon as skip + limit documents matched.
        let stop_at = if in_order { limit.map(|l| l + skip) } else { None };
        let full = |n: usize| stop_at.is_some_and(|s| n as u64 >= s);
        // Out of order with a limit: keep only the best skip + limit.
        let mut top = match (sort, limit) {
            (Some(s), Some(l)) if !in_order => Some(TopK::new(s, (l + skip) as usize)),
            _ => None,
        };
        let mut out = Vec::new();
        fn push(top: &mut Option<TopK<'_, '_>>, out: &mut Vec<Document>, d: Document) {
            match top.as_mut() {
                Some(t) => t.push(d),
                None => out.push(d),
            }
        }
        let (mut keys, mut examined) = (0u64, 0u64);
        // Set when documents an index scan should yield in order did not
        // come in order (a safety net: sort them in memory).
        let mut resort = false;
        match &plan {
            Plan::IdPoint(id) => {
                keys = 1;
                if let Some(d) = self.get(coll, id)? {
                    examined = 1;
                    if q.filter.try_matches(&d)? {
                        push(&mut top, &mut out, d);
                    }
                }
            }
            Plan::Index { name, ranges, reverse, multikey, .. } => {
                // In sort order: ties wait in a run until the key changes.
                let mut runs = sort.filter(|_| in_order).map(Runs::new);
                let mut seen = HashSet::new();
                let ordered: Box<dyn Iterator<Item = &KeyRange>> =
                    if *reverse { Box::new(ranges.iter().rev()) } else { Box::new(ranges.iter()) };
                // The `_id` index is the documents themselves, in `_id` order.
                let by_id = name == planner::ID_INDEX;
                'ranges: for r in ordered {
                    let lower = r.lower.as_ref().map(Vec::as_slice);
                    let upper = r.upper.as_ref().map(Vec::as_slice);
                    let mut scan = match (by_id, *reverse) {
                        (true, _) => self.snap.id_scan(coll, lower, upper, *reverse)?,
                        (false, true) => self.snap.index_scan_rev(coll, name, lower, upper)?,
                        (false, false) => self.snap.index_scan(coll, name, lower, upper)?,
                    };
                    while let Some((key, value)) = scan.next_raw()? {
                        let id_key = if by_id { key } else { value };
                        keys += 1;
                        if keys % 1024 == 0 {
                            crate::ops::check_interrupted()?;
                        }
                        // Only a multikey index has several entries per document.
                        if *multikey && !seen.insert(id_key.to_vec()) {
                            continue; // already seen through another key
                        }
                        if let Some(o) = self.overlay {
                            if o.contains_key(&(coll.to_string(), id_key.to_vec())) {
                                continue; // the transaction's version is checked below
                            }
                        }
                        let d = match by_id {
                            true => argon_store::decode_doc(value)?,
                            false => match self.snap.get_by_id_key(coll, id_key)? {
                                Some(d) => d,
                                None => continue,
                            },
                        };
                        examined += 1;
                        if q.filter.try_matches(&d)? {
                            match runs.as_mut() {
                                Some(r) => {
                                    r.push(id_key, d, &mut out);
                                    if r.out_of_order {
                                        continue; // no early stop: sorted in memory below
                                    }
                                }
                                None => push(&mut top, &mut out, d),
                            }
                            if full(out.len()) {
                                break 'ranges;
                            }
                        }
                    }
                }
                if let Some(mut r) = runs {
                    r.flush(&mut out);
                    if r.out_of_order {
                        resort = true;
                    }
                }
                // A transaction's own writes are not in the index yet.
                if let Some(o) = self.overlay {
                    for ((c, _), d) in o.iter() {
                        if c == coll {
                            if let Some(d) = d {
                                examined += 1;
                                if q.filter.try_matches(d)? {
                                    push(&mut top, &mut out, d.clone());
                                }
                            }
                        }
                    }
                }
                if sort.is_none() || !in_order || resort {
                    // Index order is not _id order: restore find's natural
                    // order (which an in-memory sort keeps for ties).
                    out.sort_by_cached_key(|d| keycodec::encode(d.get("_id").unwrap_or(&Bson::Null)));
                }
            }
            Plan::CollScan if top.is_some() => {
                // A bounded sort: decode the fields the filter and the sort
                // read, hold the best stored documents, decode the winners.
                let spec = sort.expect("a bounded sort has a sort");
                let mut deps = q.filter.dependencies().clone();
                deps.extend(&spec.dependencies());
                let t = top.as_mut().expect("checked");
                let mut items = self.items(coll)?;
                let mut scratch = Document::new();
                while let Some(item) = items.next()? {
                    examined += 1;
                    match item {
                        Item::Raw(id, bytes) => {
                            decode_for_matching(bytes, &deps, &mut scratch)?;
                            if q.filter.try_matches(&scratch)? {
                                t.push_held(spec.sort_key(&scratch), id.to_vec(), Held::Raw(bytes));
                            }
                        }
                        Item::Doc(id, d) => {
                            if q.filter.try_matches(d)? {
                                t.push_held(spec.sort_key(d), id.to_vec(), Held::Doc(d.clone()));
                            }
                        }
                    }
                }
            }
            Plan::CollScan => {
                examined = self.scan_matching(coll, &q.filter, Want::Whole, &mut |d| {
                    push(&mut top, &mut out, d);
                    Ok(!full(out.len()))
                })?;
            }
        }
        if let Some(t) = top {
            out = t.finish()?;
        } else if let (Some(s), true) = (sort, !in_order || resort) {
            s.sort(&mut out);
        }
        page(&mut out, skip, limit);
        Ok(Execution {
            docs: out,
            plan,
            keys_examined: keys,
            docs_examined: examined,
            sorted_in_memory: sort.is_some() && (!in_order || resort),
            scores: Vec::new(),
        })
    }

    /// The collection's geospatial indexes: (field, `"2d"` or `"2dsphere"`).
    fn geo_indexes(&self, coll: &str) -> Vec<(String, String)> {
        let Some(c) = self.snap.collection(coll) else { return Vec::new() };
        let mut out = Vec::new();
        for ix in &c.indexes {
            if let Ok(key) = ix.spec.get_document("key") {
                for (field, kind) in key {
                    if let Bson::String(k) = kind {
                        if k == "2d" || k == "2dsphere" {
                            out.push((field.clone(), k.clone()));
                        }
                    }
                }
            }
        }
        out
    }

    /// MongoDB answers `$near`/`$nearSphere` only with a geospatial index on
    /// the field that suits the query point (`2dsphere` for GeoJSON, `2d`
    /// for a legacy `$near`); Argon scans, but keeps the requirement.
    pub fn check_near_index(&self, coll: &str, filter: &Filter) -> CmdResult<()> {
        let Some((path, near)) = filter.near() else { return Ok(()) };
        let types = near.metric.index_types();
        if self.geo_indexes(coll).iter().any(|(f, k)| f == path && types.contains(&k.as_str())) {
            return Ok(());
        }
        Err(CommandError::new(
            (291, "NoQueryExecutionPlans"),
            "error processing query: planner returned error :: caused by :: unable to find index for $geoNear query",
        ))
    }

    /// The index `$geoNear` reads: the one on `key`, or the only `2d`
    /// index, or the only `2dsphere` index.
    fn geo_near_index(&self, coll: &str, key: Option<&str>) -> CmdResult<(String, String)> {
        let geo = self.geo_indexes(coll);
        if let Some(k) = key {
            // A 2d index first, as MongoDB prefers it for legacy points.
            let mut on_key: Vec<_> = geo.into_iter().filter(|(f, _)| f == k).collect();
            on_key.sort_by_key(|(_, kind)| kind != "2d");
            return on_key.into_iter().next().ok_or_else(|| {
                CommandError::new(
                    code::INDEX_NOT_FOUND,
                    format!("$geoNear requires a 2d or 2dsphere index on key '{k}', but none were found"),
                )
            });
        }
        for kind in ["2d", "2dsphere"] {
            let of_kind: Vec<_> = geo.iter().filter(|(_, k)| k == kind).collect();
            match of_kind.len() {
                0 => continue,
                1 => return Ok(of_kind[0].clone()),
                _ => {
                    return Err(CommandError::new(
                        code::INDEX_NOT_FOUND,
                        format!(
                            "There is more than one {kind} index on {coll}; unsure which to use for $geoNear"
                        ),
                    ))
                }
            }
        }
        Err(CommandError::new(
            code::INDEX_NOT_FOUND,
            "$geoNear requires a 2d or 2dsphere index, but none were found",
        ))
    }

    /// Runs a query with `$near`/`$nearSphere`: a collection scan (after
    /// checking the index MongoDB requires), documents ordered by distance
    /// (ties in `_id` order), then by `sort` if given (a stable sort, so
    /// it overrides the distance order as in MongoDB).
    fn execute_near(
        &self,
        coll: &str,
        q: &Query,
        sort: Option<&SortSpec>,
        skip: u64,
        limit: Option<u64>,
    ) -> CmdResult<Execution> {
        let mut hits: Vec<(f64, Document)> = Vec::new();
        let examined = self.scan_matching(coll, &q.filter, Want::Whole, &mut |d| {
            let dist = q.filter.near_distance(&d).unwrap_or(f64::INFINITY);
            hits.push((dist, d));
            Ok(true)
        })?;
        hits.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut docs: Vec<Document> = hits.into_iter().map(|(_, d)| d).collect();
        if let Some(s) = sort {
            s.sort(&mut docs);
        }
        page(&mut docs, skip, limit);
        Ok(Execution {
            docs,
            plan: Plan::CollScan,
            keys_examined: 0,
            docs_examined: examined,
            sorted_in_memory: true,
            scores: Vec::new(),
        })
    }

    /// The collection's text index, bound into a filter with `$text`
    /// (MongoDB's IndexNotFound without one).
    pub fn bind_text(&self, coll: &str, filter: &Filter) -> CmdResult<Filter> {
        let spec = self
            .snap
            .collection(coll)
            .and_then(|c| c.indexes.iter().find(|ix| TextIndex::is_text_index(&ix.spec)))
            .map(|ix| &ix.spec);
        let Some(spec) = spec else {
            return Err(CommandError::new(code::INDEX_NOT_FOUND, "text index required for $text query"));
        };
        let index = TextIndex::from_spec(spec)?
            .ok_or_else(|| CommandError::new(code::INTERNAL_ERROR, "not a text index"))?;
        Ok(filter.with_text_index(&index))
    }

    /// Runs a query with `$text`: a collection scan that matches each
    /// document against the text index's strings and keeps its score
    /// beside it (in [`Execution::scores`]) for sorts and projections.
    fn execute_text(
        &self,
        coll: &str,
        q: &Query,
        sort: Option<&SortSpec>,
        skip: u64,
        limit: Option<u64>,
    ) -> CmdResult<Execution> {
        let filter = self.bind_text(coll, &q.filter)?;
        let mut hits: Vec<(Document, f64)> = Vec::new();
        let examined = self.scan_matching(coll, &filter, Want::Whole, &mut |d| {
            let score = filter.text_score(&d).unwrap_or(0.0);
            hits.push((d, score));
            Ok(true)
        })?;
        if let Some(spec) = sort {
            let mut keyed: Vec<(Vec<Bson>, (Document, f64))> =
                hits.into_iter().map(|(d, s)| (spec.sort_key_scored(&d, Some(s)), (d, s))).collect();
            keyed.sort_by(|a, b| spec.compare_keys(&a.0, &b.0));
            hits = keyed.into_iter().map(|(_, h)| h).collect();
        }
        let (docs, scores): (Vec<Document>, Vec<f64>) = hits
            .into_iter()
            .skip(skip.min(usize::MAX as u64) as usize)
            .take(limit.map_or(usize::MAX, |l| l.min(usize::MAX as u64) as usize))
            .unzip();
        Ok(Execution {
            docs,
            plan: Plan::CollScan,
            keys_examined: 0,
            docs_examined: examined,
            sorted_in_memory: sort.is_some(),
            scores,
        })
    }

    /// `matching` plus projection.
    /// A capped collection's matching documents in insertion order (or
    /// its reverse), skipped, limited and projected. Capped collections are
    /// bounded, so the result is too.
    pub fn natural(
        &self,
        coll: &str,
        q: &Query,
        reverse: bool,
        skip: u64,
        limit: Option<u64>,
        projection: Option<&Projection>,
    ) -> CmdResult<Vec<Document>> {
        crate::ops::long_running(|| {
            let mut scan = self.snap.natural_scan(coll, reverse)?;
            let (mut out, mut skipped, mut seen) = (Vec::new(), 0u64, 0u32);
            while let Some((_, id_key)) = scan.next_raw()? {
                seen = seen.wrapping_add(1);
                if seen.is_multiple_of(1024) {
                    crate::ops::check_interrupted()?;
                }
                let Some(doc) = self.snap.get_by_id_key(coll, id_key)? else { continue };
                if !q.filter.try_matches(&doc)? {
                    continue;
                }
                if skipped < skip {
                    skipped += 1;
                    continue;
                }
                out.push(match projection {
                    Some(p) => p.apply(&doc, Some(&q.filter))?,
                    None => doc,
                });
                if limit.is_some_and(|l| out.len() as u64 >= l) {
                    break;
                }
            }
            Ok(out)
        })
    }

    pub fn find(
        &self,
        coll: &str,
        q: &Query,
        sort: Option<&SortSpec>,
        skip: u64,
        limit: Option<u64>,
        projection: Option<&Projection>,
    ) -> CmdResult<Vec<Document>> {
        if projection.is_some_and(Projection::uses_text_score) && !q.filter.has_text() {
            return Err(no_text_score());
        }
        if !q.filter.has_text() {
            let docs = self.matching(coll, q, sort, skip, limit)?;
            return match projection {
                None => Ok(docs),
                Some(p) => docs.iter().map(|d| p.apply(d, Some(&q.filter)).map_err(Into::into)).collect(),
            };
        }
        let e = crate::ops::long_running(|| self.execute(coll, q, sort, skip, limit))?;
        match projection {
            None => Ok(e.docs),
            Some(p) => e
                .docs
                .iter()
                .zip(e.scores)
                .map(|(d, score)| p.apply_scored(d, Some(&q.filter), Some(score)).map_err(Into::into))
                .collect(),
        }
    }
}

/// MongoDB's error for a text score asked of a query without `$text`.
fn no_text_score() -> CommandError {
    CommandError::new((40218, "Location40218"), "query requires text score metadata, but it is not available")
}

/// A parsed filter with the document it came from (the planner reads the
/// document; matching uses the compiled filter) and an optional hint.
pub struct Query {
    pub doc: Document,
    pub filter: Filter,
    pub hint: Option<Bson>,
}

/// A command's `sort` argument: `None` when absent or empty.
pub fn parse_sort(sort: Option<&Document>) -> CmdResult<Option<SortSpec>> {
    match sort {
        Some(s) if !s.is_empty() => Ok(Some(SortSpec::parse(s)?)),
        _ => Ok(None),
    }
}

impl Query {
    pub fn parse(doc: &Document) -> CmdResult<Query> {
        Ok(Query { doc: doc.clone(), filter: Filter::parse(doc)?, hint: None })
    }

    /// A filter whose `$expr` may read the command's `let` variables.
    pub fn parse_with_let(doc: &Document, lets: &argon_query::expr::Vars) -> CmdResult<Query> {
        let names = argon_query::expr::let_names(lets);
        let filter = Filter::parse_with_vars(doc, &names)?.with_let(lets);
        Ok(Query { doc: doc.clone(), filter, hint: None })
    }

    pub fn with_hint(mut self, hint: Option<Bson>) -> Query {
        self.hint = hint;
        self
    }

    /// Whether the query reads at most one document by `_id` (the
    /// planner's IDHACK): a point read, never a long scan.
    pub fn pins_id(&self) -> bool {
        self.hint.is_none()
            && matches!(
                crate::planner::plan(&self.doc, None, None, None, false, &|_| true),
                Ok(crate::planner::Plan::IdPoint(_))
            )
    }
}

#[cfg(test)]
mod tests {
    //! Properties: an index-assisted query (bounds on one or two fields,
    //! sorts provided by the index or done in memory, skip and limit)
    //! returns exactly the documents, in the same order, as a collection
    //! scan; and a collection scan that decodes only the fields a filter
    //! reads returns what full decoding returns.
    use super::*;
    use argon_store::{At, Store, WriteMode, WriteOp, WriteRequest};
    use bson::doc;
    use proptest::prelude::*;

    fn value() -> BoxedStrategy<Option<Bson>> {
        prop_oneof![
            Just(None),
            (0i32..6).prop_map(|i| Some(Bson::Int32(i))),
            (0i32..6).prop_map(|i| Some(Bson::Double(i as f64 + 0.5))),
            "[ab]{0,2}".prop_map(|s| Some(Bson::String(s))),
            prop::collection::vec(0i32..6, 0..3)
                .prop_map(|v| Some(Bson::Array(v.into_iter().map(Bson::Int32).collect()))),
            Just(Some(Bson::Null)),
        ]
        .boxed()
    }

    /// Strings differing in case (equal under a strength-2 collation) and
    /// a few numbers.
    fn cased() -> BoxedStrategy<Option<Bson>> {
        prop_oneof![
            Just(None),
            (0i32..4).prop_map(|i| Some(Bson::Int32(i))),
            "[aAbB]{0,2}".prop_map(|s| Some(Bson::String(s))),
        ]
        .boxed()
    }

    fn cased_scalar() -> BoxedStrategy<Bson> {
        prop_oneof![(0i32..4).prop_map(Bson::Int32), "[aAbB]{0,2}".prop_map(Bson::String)].boxed()
    }

    fn cased_filter() -> BoxedStrategy<Document> {
        let condition = || {
            prop_oneof![
                cased_scalar(),
                prop::collection::vec(cased_scalar(), 1..4).prop_map(|v| Bson::Document(doc! {"$in": v})),
                cased_scalar().prop_map(|v| Bson::Document(doc! {"$gt": v})),
                cased_scalar().prop_map(|v| Bson::Document(doc! {"$lte": v})),
                (cased_scalar(), cased_scalar())
                    .prop_map(|(x, y)| Bson::Document(doc! {"$gte": x, "$lt": y})),
            ]
        };
        prop_oneof![
            condition().prop_map(|c| doc! {"a": c}),
            condition().prop_map(|c| doc! {"b": c}),
            (condition(), condition()).prop_map(|(x, y)| doc! {"a": x, "b": y}),
            Just(Document::new()),
        ]
        .boxed()
    }

    fn scalar() -> BoxedStrategy<Bson> {
        prop_oneof![
            (0i32..6).prop_map(Bson::Int32),
            (0i32..6).prop_map(|i| Bson::Double(i as f64)),
            "[ab]{0,2}".prop_map(Bson::String)
        ]
        .boxed()
    }

    fn condition() -> BoxedStrategy<Bson> {
        prop_oneof![
            scalar(),
            scalar().prop_map(|v| Bson::Document(doc! {"$eq": v})),
            prop::collection::vec(scalar(), 1..4).prop_map(|v| Bson::Document(doc! {"$in": v})),
            scalar().prop_map(|v| Bson::Document(doc! {"$gt": v})),
            scalar().prop_map(|v| Bson::Document(doc! {"$gte": v})),
            scalar().prop_map(|v| Bson::Document(doc! {"$lt": v})),
            scalar().prop_map(|v| Bson::Document(doc! {"$lte": v})),
            (scalar(), scalar()).prop_map(|(x, y)| Bson::Document(doc! {"$gt": x, "$lt": y})),
        ]
        .boxed()
    }

    fn filter() -> BoxedStrategy<Document> {
        prop_oneof![
            condition().prop_map(|c| doc! {"a": c}),
            condition().prop_map(|c| doc! {"b": c}),
            (condition(), condition()).prop_map(|(x, y)| doc! {"a": x, "b": y}),
            (condition(), condition()).prop_map(|(x, y)| doc! {"$and": [{"a": x}, {"b": y}]}),
            // Plans on the `_id` index (the documents' own order).
            condition().prop_map(|c| doc! {"_id": c}),
            (condition(), condition()).prop_map(|(x, y)| doc! {"_id": x, "a": y}),
            Just(Document::new()),
        ]
        .boxed()
    }

    fn sort() -> BoxedStrategy<Option<Document>> {
        prop::sample::select(vec![
            None,
            Some(doc! {"a": 1}),
            Some(doc! {"a": -1}),
            Some(doc! {"b": 1}),
            Some(doc! {"b": -1}),
            Some(doc! {"a": 1, "b": 1}),
            Some(doc! {"a": 1, "b": -1}),
            Some(doc! {"a": -1, "b": 1}),
            Some(doc! {"_id": 1}),
            Some(doc! {"_id": -1}),
        ])
        .boxed()
    }

    fn index() -> BoxedStrategy<Document> {
        prop::sample::select(vec![
            doc! {"a": 1},
            doc! {"a": -1},
            doc! {"a": 1, "b": 1},
            doc! {"a": 1, "b": -1},
            doc! {"a": -1, "b": 1},
            doc! {"b": 1, "a": 1},
        ])
        .boxed()
    }

    /// Like `value`, or without arrays (an array becomes its first
    /// element), so that indexes stay non-multikey and plans combine bounds.
    fn value_in(arrays: bool) -> BoxedStrategy<Option<Bson>> {
        value()
            .prop_map(move |v| match v {
                Some(Bson::Array(items)) if !arrays => items.into_iter().next(),
                v => v,
            })
            .boxed()
    }

    /// What a query must answer: every document of `c` decoded, matched by
    /// the query engine alone, stably sorted, then skipped and limited.
    fn reference(
        src: &Source,
        q: &Query,
        sort: Option<&SortSpec>,
        skip: u64,
        limit: Option<u64>,
    ) -> Vec<Document> {
        let mut out = Vec::new();
        src.for_each("c", &mut |d| {
            if q.filter.matches(&d) {
                out.push(d);
            }
            Ok(true)
        })
        .unwrap();
        if let Some(sort) = sort {
            sort.sort(&mut out);
        }
        out.into_iter().skip(skip as usize).take(limit.unwrap_or(u64::MAX) as usize).collect()
    }

    fn store_with(docs: &[(Option<Bson>, Option<Bson>)], indexes: &[Document]) -> (tempfile::TempDir, Store) {
        store_ordered(docs, indexes, false)
    }

    /// `index_first`: create the indexes before inserting (entries written
    /// with each document) rather than after (built over existing data).
    fn store_ordered(
        docs: &[(Option<Bson>, Option<Bson>)],
        indexes: &[Document],
        index_first: bool,
    ) -> (tempfile::TempDir, Store) {
        store_collated(docs, indexes, index_first, None)
    }

    /// [`store_ordered`] with every index under `collation`.
    fn store_collated(
        docs: &[(Option<Bson>, Option<Bson>)],
        indexes: &[Document],
        index_first: bool,
        collation: Option<&Document>,
    ) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.create_project("p").unwrap();
        let mut req = WriteRequest::new("p", "main");
        req.mode = WriteMode::Atomic;
        for (i, (a, b)) in docs.iter().enumerate() {
            let mut d = doc! {"_id": i as i32};
            if let Some(a) = a {
                d.insert("a", a.clone());
            }
            if let Some(b) = b {
                d.insert("b", b.clone());
            }
            req.ops.push(WriteOp::Insert { coll: "c".into(), doc: d });
        }
        for (i, key) in indexes.iter().enumerate() {
            let mut spec = doc! {"key": key.clone(), "name": format!("ix{i}")};
            if let Some(c) = collation {
                spec.insert("collation", c.clone());
            }
            let op = WriteOp::CreateIndex { coll: "c".into(), spec };
            if index_first {
                req.ops.insert(i, op);
            } else {
                req.ops.push(op);
            }
        }
        store.write(req).unwrap();
        (dir, store)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        #[test]
        fn index_plans_equal_collection_scans(
            docs in any::<bool>().prop_flat_map(|arrays| prop::collection::vec((value_in(arrays), value_in(arrays)), 0..40)),
            indexes in prop::collection::vec(index(), 1..3),
            index_first in any::<bool>(),
            queries in prop::collection::vec((filter(), sort(), 0u64..3, prop::option::of(1u64..6)), 1..6),
        ) {
            let (_dir, store) = store_ordered(&docs, &indexes, index_first);
            let snap = store.snapshot("p", "main", At::Head).unwrap();
            let src = Source { snap: &snap, overlay: None };
            for (f, s, skip, limit) in queries {
                let spec = s.as_ref().map(|s| SortSpec::parse(s).unwrap());
                let indexed = Query::parse(&f).unwrap();
                let scanned = Query::parse(&f).unwrap().with_hint(Some(Bson::Document(doc! {"$natural": 1})));
                let a = src.execute("c", &indexed, spec.as_ref(), skip, limit).unwrap();
                let b = src.execute("c", &scanned, spec.as_ref(), skip, limit).unwrap();
                prop_assert_eq!(&b.plan, &Plan::CollScan);
                let reference = reference(&src, &indexed, spec.as_ref(), skip, limit);
                if s.is_some() || limit.is_none() {
                    prop_assert_eq!(&b.docs, &reference, "collection scan: filter {} sort {:?}", f, s);
                    // Without a sort, a limit may pick any documents.
                    prop_assert_eq!(&a.docs, &b.docs, "filter {} sort {:?} skip {} limit {:?} plan {:?}", f, s, skip, limit, a.plan);
                }
            }
        }

        /// Collated indexes (strings keyed by sort keys) under queries with
        /// the same collation or with none: plans answer as collection
        /// scans, and both as the query engine alone.
        #[test]
        fn collated_index_plans_equal_collection_scans(
            docs in prop::collection::vec((cased(), cased()), 0..40),
            indexes in prop::collection::vec(index(), 1..3),
            index_first in any::<bool>(),
            same_collation in any::<bool>(),
            queries in prop::collection::vec((cased_filter(), sort(), prop::option::of(1u64..6)), 1..6),
        ) {
            let spec = doc! {"locale": "en", "strength": 2};
            let (_dir, store) = store_collated(&docs, &indexes, index_first, Some(&spec));
            let collation = argon_types::collation::Collation::parse(&spec).unwrap();
            let active = if same_collation { collation.as_ref() } else { None };
            let snap = store.snapshot("p", "main", At::Head).unwrap();
            let src = Source { snap: &snap, overlay: None };
            argon_query::compare::with_collation(active, || {
                for (f, s, limit) in queries {
                    let spec = s.as_ref().map(|s| SortSpec::parse(s).unwrap());
                    let indexed = Query::parse(&f).unwrap();
                    let scanned = Query::parse(&f).unwrap().with_hint(Some(Bson::Document(doc! {"$natural": 1})));
                    let a = src.execute("c", &indexed, spec.as_ref(), 0, limit).unwrap();
                    let b = src.execute("c", &scanned, spec.as_ref(), 0, limit).unwrap();
                    if !same_collation {
                        let collated = matches!(&a.plan, Plan::Index { name, .. } if name.starts_with("ix"));
                        prop_assert!(!collated, "a simple query planned on a collated index: {:?}", a.plan);
                    }
                    let reference = reference(&src, &indexed, spec.as_ref(), 0, limit);
                    if s.is_some() || limit.is_none() {
                        prop_assert_eq!(&b.docs, &reference, "collection scan: filter {} sort {:?}", f, s);
                        prop_assert_eq!(&a.docs, &b.docs, "filter {} sort {:?} limit {:?} plan {:?}", f, s, limit, a.plan);
                    }
                }
                Ok(())
            })?;
        }

        #[test]
        fn partial_decoding_scans_equal_full_decoding(
            docs in prop::collection::vec((value(), value()), 0..30),
            f in filter(),
        ) {
            let (_dir, store) = store_with(&docs, &[]);
            let snap = store.snapshot("p", "main", At::Head).unwrap();
            let src = Source { snap: &snap, overlay: None };
            let filter = Filter::parse(&f).unwrap();
            let mut expected = Vec::new();
            src.for_each("c", &mut |d| {
                if filter.matches(&d) {
                    expected.push(d);
                }
                Ok(true)
            }).unwrap();
            let mut got = Vec::new();
            let examined = src.scan_matching("c", &filter, Want::Whole, &mut |d| {
                got.push(d);
                Ok(true)
            }).unwrap();
            prop_assert_eq!(examined, docs.len() as u64);
            prop_assert_eq!(&got, &expected);
            let want = Deps::fields_of(["b"]);
            let mut fields = Vec::new();
            src.scan_matching("c", &filter, Want::Fields(&want), &mut |d| {
                fields.push(d);
                Ok(true)
            }).unwrap();
            // The wanted and the filter's fields, in no particular order.
            let sorted = |d: &Document| {
                let mut v: Vec<(String, Bson)> = d.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                v.sort_by(|a, b| a.0.cmp(&b.0));
                v
            };
            let fields: Vec<_> = fields.iter().map(sorted).collect();
            let expected_fields: Vec<_> = expected
                .iter()
                .map(|d| {
                    let d: Document = d
                        .iter()
                        .filter(|(k, _)| *k == "b" || filter.dependencies().fields().contains(k))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    sorted(&d)
                })
                .collect();
            prop_assert_eq!(fields, expected_fields);
        }
    }

    fn sample() -> (tempfile::TempDir, Store) {
        let docs: Vec<(Option<Bson>, Option<Bson>)> =
            (0..100).map(|i| (Some(Bson::Int32(i % 10)), Some(Bson::Int32(i)))).collect();
        store_with(&docs, &[doc! {"a": 1}, doc! {"a": 1, "b": 1}, doc! {"b": -1}])
    }

    #[test]
    fn equality_on_an_indexed_field_uses_the_index() {
        let (_dir, store) = sample();
        let snap = store.snapshot("p", "main", At::Head).unwrap();
        let src = Source { snap: &snap, overlay: None };
        let e = src.execute("c", &Query::parse(&doc! {"a": 3}).unwrap(), None, 0, None).unwrap();
        assert_eq!(e.plan.stage(), "IXSCAN");
        assert_eq!((e.docs.len(), e.keys_examined, e.docs_examined), (10, 10, 10));
        let e = src.execute("c", &Query::parse(&doc! {"c": 3}).unwrap(), None, 0, None).unwrap();
        assert_eq!((e.plan.stage(), e.docs_examined), ("COLLSCAN", 100));
        let e = src.execute("c", &Query::parse(&doc! {"_id": 3}).unwrap(), None, 0, None).unwrap();
        assert_eq!(e.plan.stage(), "IDHACK");
    }

    #[test]
    fn compound_bounds_examine_only_matching_keys() {
        let (_dir, store) = sample();
        let snap = store.snapshot("p", "main", At::Head).unwrap();
        let src = Source { snap: &snap, overlay: None };
        // a = 5: b in 5, 15, ..., 95; b > 40 leaves 45..95 (6 documents).
        let e = src
            .execute("c", &Query::parse(&doc! {"a": 5, "b": {"$gt": 40}}).unwrap(), None, 0, None)
            .unwrap();
        assert!(matches!(&e.plan, Plan::Index { name, .. } if name == "ix1"), "{:?}", e.plan);
        assert_eq!((e.docs.len(), e.keys_examined, e.docs_examined), (6, 6, 6));
        let e = src
            .execute(
                "c",
                &Query::parse(&doc! {"a": {"$in": [1, 2]}, "b": {"$lte": 12}}).unwrap(),
                None,
                0,
                None,
            )
            .unwrap();
        assert_eq!((e.docs.len(), e.keys_examined), (4, 4), "_id 1, 11, 2, 12");
        let e = src.execute("c", &Query::parse(&doc! {"a": 5, "b": 25}).unwrap(), None, 0, None).unwrap();
        assert_eq!((e.docs.len(), e.keys_examined), (1, 1));
    }

    #[test]
    fn a_range_on_a_non_multikey_index_examines_only_its_keys() {
        let (_dir, store) = sample();
        let snap = store.snapshot("p", "main", At::Head).unwrap();
        let src = Source { snap: &snap, overlay: None };
        let range = Query::parse(&doc! {"b": {"$gte": 20, "$lt": 25}}).unwrap();
        let e = src.execute("c", &range, None, 0, None).unwrap();
        assert!(
            matches!(&e.plan, Plan::Index { name, multikey: false, .. } if name == "ix2"),
            "{:?}",
            e.plan
        );
        assert_eq!((e.docs.len(), e.keys_examined), (5, 5));
        // The two sides may come from separate conditions, and a sort on
        // the field is served by the index even with the range.
        let split = Query::parse(&doc! {"$and": [{"b": {"$gt": 90}}, {"b": {"$lte": 92}}]}).unwrap();
        let by_b = SortSpec::parse(&doc! {"b": 1}).unwrap();
        let e = src.execute("c", &split, Some(&by_b), 0, None).unwrap();
        assert!(!e.sorted_in_memory, "{:?}", e.plan);
        let ids: Vec<i32> = e.docs.iter().map(|d| d.get_i32("_id").unwrap()).collect();
        assert_eq!((ids, e.keys_examined), (vec![91, 92], 2));
        // Different type brackets do not combine (no number is below "x").
        let mixed = Query::parse(&doc! {"b": {"$gte": 95, "$lt": "x"}}).unwrap();
        assert_eq!(src.execute("c", &mixed, None, 0, None).unwrap().docs.len(), 0);

        // One array anywhere in `b` makes the index multikey: the same
        // range then reads one side to the end of the numbers, and a
        // document whose elements satisfy one side each still matches.
        store
            .write(
                WriteRequest::new("p", "main")
                    .op(WriteOp::Insert { coll: "c".into(), doc: doc! {"_id": 1000, "a": 0, "b": [10, 30]} }),
            )
            .unwrap();
        let snap = store.snapshot("p", "main", At::Head).unwrap();
        let src = Source { snap: &snap, overlay: None };
        let e = src.execute("c", &range, None, 0, None).unwrap();
        assert!(matches!(&e.plan, Plan::Index { multikey: true, .. }), "{:?}", e.plan);
        let mut ids: Vec<i32> = e.docs.iter().map(|d| d.get_i32("_id").unwrap()).collect();
        ids.sort();
        assert_eq!(ids, [20, 21, 22, 23, 24, 1000]);
        assert!(e.keys_examined > 50, "one-sided: {}", e.keys_examined);
        let e = src.execute("c", &split, Some(&by_b), 0, None).unwrap();
        assert!(e.sorted_in_memory, "{:?}", e.plan);
    }

    #[test]
    fn an_index_provides_the_sort_and_a_limit_stops_the_scan() {
        let (_dir, store) = sample();
        let snap = store.snapshot("p", "main", At::Head).unwrap();
        let src = Source { snap: &snap, overlay: None };
        let all = Query::parse(&doc! {}).unwrap();
        let by_b_desc = SortSpec::parse(&doc! {"b": -1}).unwrap();
        let e = src.execute("c", &all, Some(&by_b_desc), 0, Some(3)).unwrap();
        assert!(!e.sorted_in_memory, "{:?}", e.plan);
        // One more than the limit: the fourth shows the third has no tie.
        assert_eq!((e.keys_examined, e.docs_examined), (4, 4));
        let ids: Vec<i32> = e.docs.iter().map(|d| d.get_i32("_id").unwrap()).collect();
        assert_eq!(ids, [99, 98, 97]);
        // Equality prefix + sort on the next field of a compound index.
        let by_b = SortSpec::parse(&doc! {"b": 1}).unwrap();
        let e = src.execute("c", &Query::parse(&doc! {"a": 7}).unwrap(), Some(&by_b), 1, Some(2)).unwrap();
        assert!(matches!(&e.plan, Plan::Index { name, sorted: true, .. } if name == "ix1"), "{:?}", e.plan);
        assert_eq!(e.keys_examined, 4);
        let ids: Vec<i32> = e.docs.iter().map(|d| d.get_i32("_id").unwrap()).collect();
        assert_eq!(ids, [17, 27]);
        // Descending on an ascending index: a backward index scan, which a
        // limit stops too; ties still come in `_id` order.
        let by_a_desc = SortSpec::parse(&doc! {"a": -1}).unwrap();
        let e = src.execute("c", &all, Some(&by_a_desc), 0, Some(2)).unwrap();
        assert!(!e.sorted_in_memory, "{:?}", e.plan);
        assert!(matches!(&e.plan, Plan::Index { reverse: true, sorted: true, .. }), "{:?}", e.plan);
        assert!(e.keys_examined < 20, "stopped early: {}", e.keys_examined);
        let got: Vec<(i32, i32)> =
            e.docs.iter().map(|d| (d.get_i32("a").unwrap(), d.get_i32("_id").unwrap())).collect();
        assert_eq!(got, [(9, 9), (9, 19)]);
    }
}
