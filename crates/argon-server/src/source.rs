//! Reading documents for a command: a snapshot, plus a transaction's own
//! uncommitted writes when the command runs inside one, plus the query
//! loop shared by find, count, distinct, update, delete and findAndModify.

use std::cmp::Ordering;

use argon_query::{Filter, Projection, SortSpec};
use argon_store::{decode_doc, Snapshot};
use argon_types::keycodec;
use bson::{Bson, Document};

use crate::error::CmdResult;
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

    /// Documents matching `filter`, sorted, skipped and limited (no projection).
    /// Uses a point read when the filter pins `_id` to one value.
    pub fn matching(
        &self,
        coll: &str,
        filter: &Filter,
        sort: Option<&SortSpec>,
        skip: u64,
        limit: Option<u64>,
    ) -> CmdResult<Vec<Document>> {
        let mut out = Vec::new();
        if let Some(id) = point_id(filter) {
            if let Some(d) = self.get(coll, &id)? {
                if filter.matches(&d) {
                    out.push(d);
                }
            }
        } else {
            // Without a sort, stop as soon as skip + limit documents matched.
            let stop_at = if sort.is_none() { limit.map(|l| l + skip) } else { None };
            self.for_each(coll, &mut |d| {
                if filter.matches(&d) {
                    out.push(d);
                }
                Ok(stop_at.is_none_or(|s| (out.len() as u64) < s))
            })?;
        }
        if let Some(s) = sort {
            out.sort_by(|a, b| s.compare_docs(a, b));
        }
        let skip = skip.min(out.len() as u64) as usize;
        out.drain(..skip);
        if let Some(l) = limit {
            out.truncate(l as usize);
        }
        Ok(out)
    }

    /// `matching` plus projection.
    pub fn find(
        &self,
        coll: &str,
        filter: &Filter,
        sort: Option<&SortSpec>,
        skip: u64,
        limit: Option<u64>,
        projection: Option<&Projection>,
    ) -> CmdResult<Vec<Document>> {
        let docs = self.matching(coll, filter, sort, skip, limit)?;
        match projection {
            None => Ok(docs),
            Some(p) => docs.iter().map(|d| p.apply(d, Some(filter)).map_err(Into::into)).collect(),
        }
    }
}

/// The `_id` a filter pins to exactly one value, if it does.
pub fn point_id(filter: &Filter) -> Option<Bson> {
    filter
        .equality_fields()
        .into_iter()
        .find(|(path, v)| {
            path == "_id" && !matches!(v, Bson::Document(_) | Bson::Array(_) | Bson::RegularExpression(_))
        })
        .map(|(_, v)| v)
}
