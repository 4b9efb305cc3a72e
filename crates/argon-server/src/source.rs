//! Reading documents for a command: a snapshot, plus a transaction's own
//! uncommitted writes when the command runs inside one, plus the query
//! loop shared by find, count, distinct, update, delete and findAndModify.

use std::cmp::Ordering;

use argon_query::{Filter, Projection, SortSpec};
use argon_store::{decode_doc, Snapshot};
use argon_types::keycodec;
use bson::{Bson, Document};

use crate::error::CmdResult;
use crate::planner::{self, Plan};
use crate::session::Overlay;

/// Documents as one command sees them.
pub struct Source<'a> {
    pub snap: &'a Snapshot,
    pub overlay: Option<&'a Overlay>,
}

impl Source<'_> {
    /// The document with this `_id`.
    pub fn get(&self, coll: &str, id: &Bson) -> CmdResult<Option<Document>> {
        if let Some(o) = self.overlay {
            if let Some(d) = o.get(&(coll.to_string(), keycodec::encode(id))) {
                return Ok(d.clone());
            }
        }
        Ok(self.snap.get(coll, id)?)
    }

    /// Calls `f` for every document in `_id` order until it returns false.
    pub fn for_each(&self, coll: &str, f: &mut dyn FnMut(Document) -> CmdResult<bool>) -> CmdResult<()> {
        let mut scan = self.snap.scan(coll)?;
        let pending: Vec<(&Vec<u8>, &Option<Document>)> = match self.overlay {
            Some(o) => o.iter().filter(|((c, _), _)| c == coll).map(|((_, k), v)| (k, v)).collect(),
            None => vec![],
        };
        let mut p = pending.into_iter().peekable();
        let mut next = scan.next_raw()?;
        loop {
            // Merge the scan with the transaction's writes by encoded _id.
            let take_pending = match (&next, p.peek()) {
                (None, None) => return Ok(()),
                (Some(_), None) => false,
                (None, Some(_)) => true,
                (Some((k, _)), Some((pk, _))) => match (*pk).as_slice().cmp(k) {
                    Ordering::Less => true,
                    Ordering::Equal => {
                        next = scan.next_raw()?; // shadowed by the transaction's version
                        true
                    }
                    Ordering::Greater => false,
                },
            };
            if take_pending {
                let (_, v) = p.next().expect("peeked");
                if let Some(d) = v {
                    if !f(d.clone())? {
                        return Ok(());
                    }
                }
            } else if let Some((_, bytes)) = next {
                if !f(decode_doc(bytes)?)? {
                    return Ok(());
                }
                next = scan.next_raw()?;
            }
        }
    }

    /// Documents matching the query, sorted, skipped and limited (no
    /// projection), found by the plan the planner picks.
    pub fn matching(
        &self,
        coll: &str,
        q: &Query,
        sort: Option<&SortSpec>,
        skip: u64,
        limit: Option<u64>,
    ) -> CmdResult<Vec<Document>> {
        Ok(self.execute(coll, q, sort, skip, limit)?.0)
    }

    /// Runs a query and reports how: (documents, plan, keys examined,
    /// documents examined).
    pub fn execute(
        &self,
        coll: &str,
        q: &Query,
        sort: Option<&SortSpec>,
        skip: u64,
        limit: Option<u64>,
    ) -> CmdResult<(Vec<Document>, Plan, u64, u64)> {
        let plan = planner::plan(&q.doc, self.snap.collection(coll), q.hint.as_ref())?;
        let mut out = Vec::new();
        let (mut keys, mut examined) = (0u64, 0u64);
        // Without a sort, stop as soon as skip + limit documents matched.
        let stop_at = if sort.is_none() { limit.map(|l| l + skip) } else { None };
        match &plan {
            Plan::IdPoint(id) => {
                keys = 1;
                if let Some(d) = self.get(coll, id)? {
                    examined = 1;
                    if q.filter.matches(&d) {
                        out.push(d);
                    }
                }
            }
            Plan::Index { name, ranges } => {
                let mut seen = std::collections::HashSet::new();
                'ranges: for r in ranges {
                    let lower = r.lower.as_ref().map(Vec::as_slice);
                    let upper = r.upper.as_ref().map(Vec::as_slice);
                    let mut scan = self.snap.index_scan(coll, name, lower, upper)?;
                    while let Some((_, id_key)) = scan.next_raw()? {
                        keys += 1;
                        if !seen.insert(id_key.to_vec()) {
                            continue; // multikey: already seen through another key
                        }
                        if let Some(o) = self.overlay {
                            if o.contains_key(&(coll.to_string(), id_key.to_vec())) {
                                continue; // the transaction's version is checked below
                            }
                        }
                        let Some(d) = self.snap.get_by_id_key(coll, id_key)? else { continue };
                        examined += 1;
                        if q.filter.matches(&d) {
                            out.push(d);
                            if stop_at.is_some_and(|s| out.len() as u64 >= s) {
                                break 'ranges;
                            }
                        }
                    }
                }
                // A transaction's own writes are not in the index yet.
                if let Some(o) = self.overlay {
                    for ((c, _), d) in o.iter() {
                        if c == coll {
                            if let Some(d) = d {
                                examined += 1;
                                if q.filter.matches(d) {
                                    out.push(d.clone());
                                }
                            }
                        }
                    }
                }
                if sort.is_none() {
                    // Index order is not _id order; keep find's natural order.
                    out.sort_by_cached_key(|d| keycodec::encode(d.get("_id").unwrap_or(&Bson::Null)));
                }
            }
            Plan::CollScan => {
                self.for_each(coll, &mut |d| {
                    examined += 1;
                    if q.filter.matches(&d) {
                        out.push(d);
                    }
                    Ok(stop_at.is_none_or(|s| (out.len() as u64) < s))
                })?;
            }
        }
        if let Some(s) = sort {
            out.sort_by(|a, b| s.compare_docs(a, b));
        }
        let skip = skip.min(out.len() as u64) as usize;
        out.drain(..skip);
        if let Some(l) = limit {
            out.truncate(l as usize);
        }
        Ok((out, plan, keys, examined))
    }

    /// `matching` plus projection.
    pub fn find(
        &self,
        coll: &str,
        q: &Query,
        sort: Option<&SortSpec>,
        skip: u64,
        limit: Option<u64>,
        projection: Option<&Projection>,
    ) -> CmdResult<Vec<Document>> {
        let docs = self.matching(coll, q, sort, skip, limit)?;
        match projection {
            None => Ok(docs),
            Some(p) => docs.iter().map(|d| p.apply(d, Some(&q.filter)).map_err(Into::into)).collect(),
        }
    }
}

/// A parsed filter with the document it came from (the planner reads the
/// document; matching uses the compiled filter) and an optional hint.
pub struct Query {
    pub doc: Document,
    pub filter: Filter,
    pub hint: Option<Bson>,
}

impl Query {
    pub fn parse(doc: &Document) -> CmdResult<Query> {
        Ok(Query { doc: doc.clone(), filter: Filter::parse(doc)?, hint: None })
    }

    pub fn with_hint(mut self, hint: Option<Bson>) -> Query {
        self.hint = hint;
        self
    }
}

#[cfg(test)]
mod tests {
    //! Property: an index-assisted query returns exactly the documents (in
    //! the same order) as a full collection scan.
    use super::*;
    use argon_store::{At, Store, WriteMode, WriteOp, WriteRequest};
    use bson::doc;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = Option<Bson>> {
        prop_oneof![
            Just(None),
            (0i32..6).prop_map(|i| Some(Bson::Int32(i))),
            (0i32..6).prop_map(|i| Some(Bson::Double(i as f64 + 0.5))),
            "[ab]{0,2}".prop_map(|s| Some(Bson::String(s))),
            prop::collection::vec(0i32..6, 0..3)
                .prop_map(|v| Some(Bson::Array(v.into_iter().map(Bson::Int32).collect()))),
            Just(Some(Bson::Null)),
        ]
    }

    fn scalar() -> impl Strategy<Value = Bson> {
        prop_oneof![
            (0i32..6).prop_map(Bson::Int32),
            (0i32..6).prop_map(|i| Bson::Double(i as f64)),
            "[ab]{0,2}".prop_map(Bson::String)
        ]
    }

    fn filter() -> impl Strategy<Value = Document> {
        prop_oneof![
            scalar().prop_map(|v| doc! {"a": v}),
            scalar().prop_map(|v| doc! {"a": {"$eq": v}}),
            prop::collection::vec(scalar(), 1..4).prop_map(|v| doc! {"a": {"$in": v}}),
            scalar().prop_map(|v| doc! {"a": {"$gt": v}}),
            scalar().prop_map(|v| doc! {"a": {"$gte": v}}),
            scalar().prop_map(|v| doc! {"a": {"$lt": v}}),
            scalar().prop_map(|v| doc! {"a": {"$lte": v}}),
            (scalar(), scalar()).prop_map(|(x, y)| doc! {"a": {"$gt": x, "$lt": y}}),
            (scalar(), scalar()).prop_map(|(x, y)| doc! {"$and": [{"a": {"$gte": x}}, {"b": y}]}),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
        #[test]
        fn index_plans_equal_collection_scans(
            docs in prop::collection::vec((value(), value()), 0..40),
            filters in prop::collection::vec(filter(), 1..6),
            descending in any::<bool>(),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(dir.path()).unwrap();
            store.create_project("p").unwrap();
            let mut req = WriteRequest::new("p", "main");
            req.mode = WriteMode::Atomic;
            for (i, (a, b)) in docs.iter().enumerate() {
                let mut d = doc! {"_id": i as i32};
                if let Some(a) = a { d.insert("a", a.clone()); }
                if let Some(b) = b { d.insert("b", b.clone()); }
                req.ops.push(WriteOp::Insert { coll: "c".into(), doc: d });
            }
            let dir_value = if descending { -1 } else { 1 };
            req.ops.push(WriteOp::CreateIndex { coll: "c".into(), spec: doc! {"key": {"a": dir_value}, "name": "a_1"} });
            store.write(req).unwrap();
            let snap = store.snapshot("p", "main", At::Head).unwrap();
            let src = Source { snap: &snap, overlay: None };
            for f in filters {
                let indexed = Query::parse(&f).unwrap();
                let scanned = Query::parse(&f).unwrap().with_hint(Some(Bson::Document(doc! {"$natural": 1})));
                let (a, plan, _, _) = src.execute("c", &indexed, None, 0, None).unwrap();
                let (b, scan_plan, _, _) = src.execute("c", &scanned, None, 0, None).unwrap();
                prop_assert_eq!(scan_plan, Plan::CollScan);
                prop_assert_eq!(&a, &b, "filter {} with plan {:?}", f, plan);
            }
        }
    }

    #[test]
    fn equality_on_an_indexed_field_uses_the_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.create_project("p").unwrap();
        let mut req = WriteRequest::new("p", "main");
        for i in 0..100 {
            req.ops.push(WriteOp::Insert { coll: "c".into(), doc: doc! {"_id": i, "a": i % 10} });
        }
        req.ops.push(WriteOp::CreateIndex { coll: "c".into(), spec: doc! {"key": {"a": 1}, "name": "a_1"} });
        store.write(req).unwrap();
        let snap = store.snapshot("p", "main", At::Head).unwrap();
        let src = Source { snap: &snap, overlay: None };
        let (docs, plan, keys, examined) =
            src.execute("c", &Query::parse(&doc! {"a": 3}).unwrap(), None, 0, None).unwrap();
        assert_eq!(plan.stage(), "IXSCAN");
        assert_eq!((docs.len(), keys, examined), (10, 10, 10));
        let (_, plan, _, examined) =
            src.execute("c", &Query::parse(&doc! {"b": 3}).unwrap(), None, 0, None).unwrap();
        assert_eq!((plan.stage(), examined), ("COLLSCAN", 100));
        let (_, plan, _, _) =
            src.execute("c", &Query::parse(&doc! {"_id": 3}).unwrap(), None, 0, None).unwrap();
        assert_eq!(plan.stage(), "IDHACK");
    }
}
