//! Change streams, fed by the WAL.
//!
//! The WAL already holds every change's post- and pre-image, so a change
//! stream is a reader of the log from a starting LSN, filtered to one
//! branch (and collection), turned into MongoDB change events. Resume
//! tokens encode (LSN, position in the commit), so a stream resumes exactly
//! after the last event it delivered, for as long as the WAL is kept.

use std::time::{Duration, Instant};

use argon_query::pipeline::{NoCollections, Pipeline};
use argon_store::{At, CommitTime, DocOpKind, Entry, Lsn, Op};
use bson::{doc, Bson, Document};

use crate::commands::{Call, Ctx};
use crate::cursor::{Cursor, CursorSource};
use crate::error::{CmdResult, CommandError};
use crate::state::ServerState;

/// An open change stream.
pub struct ChangeStream {
    /// `None` watches every project and branch (a deployment stream).
    project: Option<String>,
    branch: Option<String>,
    coll: Option<String>,
    /// Next LSN to read.
    next_lsn: Lsn,
    /// Skip events at or before this (LSN, op index) (resumeAfter).
    skip_through: Option<(Lsn, u32)>,
    full_document: String,
    before_change: String,
    pipeline: Option<Pipeline>,
    last_token: Document,
    invalidated: bool,
    /// `showExpandedEvents` (MongoDB 6.0): also `create`, `createIndexes`,
    /// `dropIndexes` and `modify` events.
    expanded: bool,
    /// The WAL reader, kept between polls at `next_lsn`: opening one scans
    /// its segment from the start to the position.
    reader: Option<argon_store::LogReader>,
    /// Events of an entry already read that did not fit in the last batch
    /// (a batch stops at its size or about 16 MB, even inside an entry),
    /// and the token that follows the entry once they are all returned.
    pending: std::collections::VecDeque<Document>,
    pending_token: Option<Document>,
}

fn token(lsn: Lsn, idx: u32) -> Document {
    doc! { "_data": format!("{:016X}{:08X}", lsn.0, idx) }
}

fn parse_token(t: &Document) -> CmdResult<(Lsn, u32)> {
    let data =
        t.get_str("_data").map_err(|_| CommandError::bad_value("resume token must have a string _data"))?;
    if data.len() != 24 {
        return Err(CommandError::bad_value(format!("invalid resume token {data:?}")));
    }
    let lsn =
        u64::from_str_radix(&data[..16], 16).map_err(|_| CommandError::bad_value("invalid resume token"))?;
    let idx =
        u32::from_str_radix(&data[16..], 16).map_err(|_| CommandError::bad_value("invalid resume token"))?;
    Ok((Lsn(lsn), idx))
}

/// `aggregate` with a leading `$changeStream`.
pub fn open(
    ctx: &mut Ctx<'_>,
    call: &mut Call,
    coll: Option<&str>,
    stages: &[Document],
    batch_size: Option<usize>,
) -> CmdResult<Document> {
    let opts = stages[0]
        .get_document("$changeStream")
        .map_err(|_| CommandError::type_mismatch("$changeStream must be an object"))?;
    let all = opts.get_bool("allChangesForCluster").unwrap_or(false);
    let (project, branch) = if all {
        if call.db != "admin" {
            return Err(CommandError::bad_value(
                "allChangesForCluster is only allowed on the admin database",
            ));
        }
        (None, None)
    } else {
        let t = call.target(ctx)?;
        (Some(t.project), Some(t.branch))
    };
    let full_document = opts.get_str("fullDocument").unwrap_or("default").to_string();
    if !matches!(full_document.as_str(), "default" | "updateLookup" | "whenAvailable" | "required") {
        return Err(CommandError::bad_value(format!("unknown fullDocument mode {full_document:?}")));
    }
    let before_change = opts.get_str("fullDocumentBeforeChange").unwrap_or("off").to_string();
    if !matches!(before_change.as_str(), "off" | "whenAvailable" | "required") {
        return Err(CommandError::bad_value(format!(
            "unknown fullDocumentBeforeChange mode {before_change:?}"
        )));
    }
    let expanded = match opts.get("showExpandedEvents") {
        None => false,
        Some(Bson::Boolean(b)) => *b,
        Some(_) => return Err(CommandError::type_mismatch("showExpandedEvents must be a boolean")),
    };
    let store = &ctx.state.store;
    let mut next_lsn = store.visible_lsn().next();
    let mut skip_through = None;
    for key in ["resumeAfter", "startAfter"] {
        if let Some(v) = opts.get(key) {
            let t = v
                .as_document()
                .ok_or_else(|| CommandError::type_mismatch(format!("{key} must be an object")))?;
            let (lsn, idx) = parse_token(t)?;
            next_lsn = lsn;
            skip_through = Some((lsn, idx));
        }
    }
    if let Some(v) = opts.get("startAtOperationTime") {
        let Bson::Timestamp(ts) = v else {
            return Err(CommandError::type_mismatch("startAtOperationTime must be a timestamp"));
        };
        next_lsn = match ctx.state.at_cluster_time(*ts) {
            At::Lsn(l) => l,
            At::Time(t) => store.lsn_at_time(t)?.next(),
            At::Head => store.visible_lsn().next(),
        };
    }
    let pipeline = if stages.len() > 1 { Some(Pipeline::parse(&stages[1..])?) } else { None };
    let first_token = token(next_lsn.prev(), u32::MAX);
    let mut cs = ChangeStream {
        project,
        branch,
        coll: coll.map(str::to_string),
        next_lsn,
        skip_through,
        full_document,
        before_change,
        pipeline,
        last_token: first_token,
        invalidated: false,
        expanded,
        reader: None,
        pending: Default::default(),
        pending_token: None,
    };
    let first = cs.poll(&ctx.state, batch_size.unwrap_or(usize::MAX))?;
    let ns = match coll {
        Some(c) => format!("{}.{c}", call.db),
        None => format!("{}.$cmd.aggregate", call.db),
    };
    let pbrt = cs.post_batch_resume_token();
    let id = ctx.state.cursors.insert(Cursor {
        ns: ns.clone(),
        source: CursorSource::ChangeStream(Box::new(cs)),
        last_used: Instant::now(),
        no_timeout: false,
        session: call.session.clone(),
    });
    Ok(doc! { "cursor": { "firstBatch": first, "id": id, "ns": ns, "postBatchResumeToken": pbrt } })
}

impl ChangeStream {
    /// The token after the last event returned (or the read position).
    pub fn post_batch_resume_token(&self) -> Document {
        self.last_token.clone()
    }

    /// Waits up to `wait` for events, then returns what there is.
    pub async fn next_batch(
        &mut self,
        state: &ServerState,
        n: Option<usize>,
        wait: Duration,
    ) -> CmdResult<Vec<Document>> {
        let deadline = Instant::now() + wait;
        loop {
            let batch = self.poll(state, n.unwrap_or(usize::MAX))?;
            if !batch.is_empty() || Instant::now() >= deadline || self.invalidated {
                return Ok(batch);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Reads the log from the current position up to the visible LSN.
    fn poll(&mut self, state: &ServerState, max: usize) -> CmdResult<Vec<Document>> {
        let mut out = Vec::new();
        let mut bytes = 0usize;
        loop {
            while let Some(ev) = self.pending.front() {
                let size = crate::cursor::doc_batch_cost(ev, out.len());
                if out.len() >= max || (!out.is_empty() && bytes + size > crate::cursor::BATCH_BYTES) {
                    return Ok(out);
                }
                let ev = self.pending.pop_front().expect("front exists");
                // An event's `_id` is its resume token: a batch that stops
                // inside an entry resumes after its last event.
                if let Ok(t) = ev.get_document("_id") {
                    self.last_token = t.clone();
                }
                bytes += size;
                out.push(ev);
            }
            if let Some(t) = self.pending_token.take() {
                self.last_token = t;
            }
            if out.len() >= max || self.invalidated {
                return Ok(out);
            }
            let visible = state.store.visible_lsn();
            if self.next_lsn > visible {
                self.last_token = token(visible, u32::MAX);
                return Ok(out);
            }
            let mut reader = state.store.log_resumed(self.reader.take(), self.next_lsn)?;
            let next = reader.next();
            self.reader = Some(reader);
            let Some(r) = next else { return Ok(out) };
            let (lsn, time, entry) = r?;
            let mut events = self.events(state, lsn, time, &entry)?;
            if let Some(p) = &self.pipeline {
                events =
                    p.run(Box::new(events.into_iter()), &NoCollections { now: bson::DateTime::now() })?;
            }
            self.next_lsn = lsn.next();
            self.pending.extend(events);
            self.pending_token = Some(token(lsn, u32::MAX));
        }
    }

    fn watches(&self, project: &str, branch: &str) -> bool {
        self.project.as_deref().is_none_or(|p| p == project)
            && self.branch.as_deref().is_none_or(|b| b == branch)
    }

    fn events(
        &mut self,
        state: &ServerState,
        lsn: Lsn,
        time: CommitTime,
        entry: &Entry,
    ) -> CmdResult<Vec<Document>> {
        let mut out = Vec::new();
        let cluster_time = Bson::Timestamp(state.cluster_time(lsn, time));
        let wall = Bson::DateTime(time.to_bson_datetime());
        match entry {
            Entry::Commit(c) if self.watches(&c.project, &c.branch) => {
                let db = crate::commands::db_name(&c.project, &c.branch);
                for (idx, op) in c.ops.iter().enumerate() {
                    let idx = idx as u32;
                    if self.skip_through.is_some_and(|(l, i)| (lsn, idx) <= (l, i)) {
                        continue;
                    }
                    let op_coll = match op {
                        Op::Doc { coll, .. } => coll,
                        Op::DropCollection { name, .. } => name,
                        Op::RenameCollection { from, .. } => from,
                        Op::CreateCollection { name, .. } if self.expanded => name,
                        Op::CreateIndex { coll, .. }
                        | Op::DropIndex { coll, .. }
                        | Op::SetCollectionOptions { coll, .. }
                        | Op::SetIndexOptions { coll, .. }
                            if self.expanded =>
                        {
                            coll
                        }
                        _ => continue,
                    };
                    // System collections (the profiler's) are not reported, as in MongoDB.
                    if self.coll.as_deref().is_some_and(|w| w != op_coll) || op_coll.starts_with("system.") {
                        continue;
                    }
                    let mut ev = doc! {
                        "_id": token(lsn, idx),
                        "clusterTime": cluster_time.clone(),
                        "wallTime": wall.clone(),
                        "ns": { "db": &db, "coll": op_coll },
                    };
                    match op {
                        Op::Doc { kind, id, post, pre, coll, .. } => {
                            let decode = |d: &Option<bson::RawDocumentBuf>| {
                                d.as_ref().and_then(|d| Document::try_from(d.as_ref()).ok())
                            };
                            let (post, pre) = (decode(post), decode(pre));
                            let op_type = match kind {
                                DocOpKind::Insert => "insert",
                                DocOpKind::Update => "update",
                                DocOpKind::Replace => "replace",
                                DocOpKind::Delete => "delete",
                            };
                            ev.insert("operationType", op_type);
                            ev.insert("documentKey", doc! { "_id": id.clone() });
                            match kind {
                                DocOpKind::Insert | DocOpKind::Replace => {
                                    ev.insert(
                                        "fullDocument",
                                        post.clone().map(Bson::Document).unwrap_or(Bson::Null),
                                    );
                                }
                                DocOpKind::Update => {
                                    ev.insert(
                                        "updateDescription",
                                        update_description(pre.as_ref(), post.as_ref()),
                                    );
                                    if self.full_document != "default" {
                                        let current = state
                                            .store
                                            .snapshot(&c.project, &c.branch, At::Head)
                                            .ok()
                                            .and_then(|s| s.get(coll, id).ok().flatten());
                                        let v = if self.full_document == "updateLookup" {
                                            current
                                        } else {
                                            post.clone()
                                        };
                                        ev.insert(
                                            "fullDocument",
                                            v.map(Bson::Document).unwrap_or(Bson::Null),
                                        );
                                    }
                                }
                                DocOpKind::Delete => {}
                            }
                            if self.before_change != "off" && !matches!(kind, DocOpKind::Insert) {
                                ev.insert(
                                    "fullDocumentBeforeChange",
                                    pre.clone().map(Bson::Document).unwrap_or(Bson::Null),
                                );
                            }
                            if let Some(Bson::Document(t)) = &c.txn {
                                if let Some(n) = t.get("txnNumber") {
                                    ev.insert("txnNumber", n.clone());
                                }
                                if let Some(l) = t.get("lsid") {
                                    ev.insert("lsid", l.clone());
                                }
                            }
                            out.push(ev);
                        }
                        Op::DropCollection { .. } => {
                            ev.insert("operationType", "drop");
                            out.push(ev);
                            if self.coll.is_some() {
                                out.push(doc! { "_id": token(lsn, idx + 1), "operationType": "invalidate", "clusterTime": cluster_time.clone(), "wallTime": wall.clone() });
                                self.invalidated = true;
                            }
                        }
                        Op::CreateCollection { options, .. } => {
                            let mut description = crate::commands::search_indexes::public_options(options);
                            if !crate::views::is_view(options) {
                                description
                                    .insert("idIndex", doc! { "v": 2, "key": { "_id": 1 }, "name": "_id_" });
                            }
                            ev.insert("operationType", "create");
                            ev.insert("operationDescription", description);
                            out.push(ev);
                        }
                        Op::CreateIndex { spec, .. } => {
                            ev.insert("operationType", "createIndexes");
                            ev.insert("operationDescription", doc! { "indexes": [spec.clone()] });
                            out.push(ev);
                        }
                        Op::DropIndex { name, .. } => {
                            ev.insert("operationType", "dropIndexes");
                            ev.insert("operationDescription", doc! { "indexes": [{ "name": name }] });
                            out.push(ev);
                        }
                        // (The collection's or index's options as they became.)
                        Op::SetCollectionOptions { options, .. } => {
                            ev.insert("operationType", "modify");
                            ev.insert(
                                "operationDescription",
                                crate::commands::search_indexes::public_options(options),
                            );
                            out.push(ev);
                        }
                        Op::SetIndexOptions { spec, .. } => {
                            ev.insert("operationType", "modify");
                            ev.insert("operationDescription", doc! { "index": spec.clone() });
                            out.push(ev);
                        }
                        Op::RenameCollection { to, .. } => {
                            ev.insert("operationType", "rename");
                            ev.insert("to", doc! { "db": &db, "coll": to });
                            out.push(ev);
                            if self.coll.is_some() {
                                out.push(doc! { "_id": token(lsn, idx + 1), "operationType": "invalidate", "clusterTime": cluster_time.clone(), "wallTime": wall.clone() });
                                self.invalidated = true;
                            }
                        }
                    }
                    if self.invalidated {
                        break;
                    }
                }
            }
            Entry::DropProject { project, .. }
                if self.coll.is_none() && self.project.as_deref().is_none_or(|p| p == project) =>
            {
                out.push(doc! {
                    "_id": token(lsn, 0), "operationType": "dropDatabase", "clusterTime": cluster_time, "wallTime": wall,
                    "ns": { "db": project },
                });
            }
            _ => {}
        }
        Ok(out)
    }
}

/// `updateDescription` from the pre- and post-image (top-level fields).
fn update_description(pre: Option<&Document>, post: Option<&Document>) -> Document {
    let empty = Document::new();
    let pre = pre.unwrap_or(&empty);
    let post = post.unwrap_or(&empty);
    let mut updated = Document::new();
    for (k, v) in post {
        if pre.get(k) != Some(v) {
            updated.insert(k.clone(), v.clone());
        }
    }
    let removed: Vec<Bson> =
        pre.keys().filter(|k| !post.contains_key(*k)).map(|k| Bson::String(k.clone())).collect();
    doc! { "updatedFields": updated, "removedFields": removed, "truncatedArrays": [] }
}
