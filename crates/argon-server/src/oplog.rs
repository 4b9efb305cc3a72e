//! `local.oplog.rs`: the WAL read as MongoDB's oplog.
//!
//! A replica set member keeps an oplog; tools read it (mongosh's
//! `rs.printReplicationInfo()` reads its first and last entries, oplog
//! tailers follow it with a tailable cursor, people query it to find who
//! changed what). Argon's WAL already holds every change with its
//! outcome, so the oplog is a read-only view of it, computed entry by entry
//! as it is read: nothing is stored twice, and its window is the whole
//! history (until garbage collection), where MongoDB's is a capped size.
//!
//! One WAL entry is one oplog entry, in LSN order (`$natural`):
//! - a commit of one change: `i` (o: the document), `u` (o: the whole new
//!   document, o2: `{_id}`, as a replacement-style update), `d` (o:
//!   `{_id}`), or `c` for DDL (`create`, `drop`, `renameCollection`,
//!   `createIndexes`, `dropIndexes`, `collMod`) on `<db>.$cmd`;
//! - a commit of several (a transaction, a multi-document write):
//!   `c` on `admin.$cmd` with `o: {applyOps: [...]}`, as MongoDB logs a
//!   transaction (several such entries, sharing the commit's `ts` and
//!   `lsn`, when the changes pass 15 MiB: see [`commit`]);
//! - a project or branch operation: a no-op `n` whose `o.msg` says what it
//!   did.
//!
//! Namespaces are database names as clients see them (`app~feature.users`).
//! Each entry has `ts` (its cluster time, as in every reply), `t`, `v`,
//! `wall`, and two fields of Argon's own: `lsn` and `actor` (who wrote it).
//! Reads by `ts` or `lsn` ranges start at the LSN they name instead of
//! the beginning.

use argon_query::Projection;
use argon_store::{Commit, CommitTime, DocOpKind, Entry, Lsn, Op};
use bson::{doc, Bson, Document};

use crate::error::CmdResult;
use crate::source::Query;
use crate::state::ServerState;

pub const DB: &str = "local";
pub const COLL: &str = "oplog.rs";

pub fn is_oplog(db: &str, coll: &str) -> bool {
    db == DB && coll == COLL
}

/// The oplog entries of the WAL entry at `lsn`: one, or several when a
/// commit's `applyOps` would pass 16 MiB (see [`commit`]).
pub fn entry(state: &ServerState, lsn: Lsn, time: CommitTime, e: &Entry) -> Vec<Document> {
    let mut docs = match e {
        Entry::Commit(c) => commit(c),
        other => vec![doc! { "op": "n", "ns": "", "o": { "msg": describe(other) } }],
    };
    for d in &mut docs {
        d.insert("ts", Bson::Timestamp(state.cluster_time(lsn, time)));
        d.insert("t", 1i64);
        d.insert("v", 2i64);
        d.insert("wall", time.to_bson_datetime());
        d.insert("lsn", lsn.0 as i64);
        d.insert("actor", e.actor());
    }
    docs
}

/// An `applyOps` entry's changes take at most this many bytes; a commit
/// with more (one `insert_many` of 20 MB) is logged as several entries,
/// as MongoDB logs a transaction too large for one: all but the last say
/// `o.partialTxn: true`, the last gives the `o.count` of changes. (All of
/// them carry the commit's `ts` and `lsn`: one WAL entry, one cluster
/// time.) A single entry over 16 MiB could never be read.
const APPLY_OPS_BYTES: usize = 15 << 20;

fn commit(c: &Commit) -> Vec<Document> {
    let db = crate::commands::db_name(&c.project, &c.branch);
    if c.ops.len() == 1 {
        return vec![change(&db, &c.ops[0])];
    }
    let mut chunks: Vec<Vec<Document>> = vec![Vec::new()];
    let mut bytes = 0usize;
    for op in &c.ops {
        let size = op_size(op);
        if bytes + size > APPLY_OPS_BYTES && !chunks.last().is_some_and(Vec::is_empty) {
            chunks.push(Vec::new());
            bytes = 0;
        }
        bytes += size;
        chunks.last_mut().expect("one chunk at least").push(change(&db, op));
    }
    let last = chunks.len() - 1;
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, ops)| {
            let o = match (last, i == last) {
                (0, _) => doc! { "applyOps": ops },
                (_, false) => doc! { "applyOps": ops, "partialTxn": true },
                (_, true) => doc! { "applyOps": ops, "count": c.ops.len() as i64 },
            };
            doc! { "op": "c", "ns": "admin.$cmd", "o": o }
        })
        .collect()
}

/// About what a change takes in an `applyOps` array.
fn op_size(op: &Op) -> usize {
    match op {
        Op::Doc { coll, post, id, .. } => {
            100 + coll.len() + post.as_ref().map_or(0, |p| p.as_bytes().len()) + bson_size(id)
        }
        _ => 1024,
    }
}

fn bson_size(v: &Bson) -> usize {
    match v {
        Bson::String(s) => s.len() + 5,
        Bson::Document(d) => d.to_vec().map_or(64, |b| b.len()),
        _ => 16,
    }
}

/// One change of a commit: `{op, ns, o, o2?}`.
fn change(db: &str, op: &Op) -> Document {
    let raw = |d: &Option<bson::RawDocumentBuf>| {
        d.as_ref().and_then(|d| Document::try_from(d.as_ref()).ok()).unwrap_or_default()
    };
    let command = |o: Document| doc! { "op": "c", "ns": format!("{db}.$cmd"), "o": o };
    let with = |mut head: Document, rest: &Document| {
        for (k, v) in rest {
            head.insert(k.clone(), v.clone());
        }
        head
    };
    match op {
        Op::Doc { coll, kind, id, post, .. } => {
            let ns = format!("{db}.{coll}");
            match kind {
                DocOpKind::Insert => {
                    doc! { "op": "i", "ns": ns, "o": raw(post), "o2": { "_id": id.clone() } }
                }
                DocOpKind::Update | DocOpKind::Replace => {
                    doc! { "op": "u", "ns": ns, "o": raw(post), "o2": { "_id": id.clone() } }
                }
                DocOpKind::Delete => doc! { "op": "d", "ns": ns, "o": { "_id": id.clone() } },
            }
        }
        Op::CreateCollection { name, options, .. } => command(with(doc! { "create": name }, options)),
        Op::DropCollection { name, .. } => command(doc! { "drop": name }),
        Op::RenameCollection { from, to, .. } => {
            command(doc! { "renameCollection": format!("{db}.{from}"), "to": format!("{db}.{to}") })
        }
        Op::CreateIndex { coll, spec, .. } => command(with(doc! { "createIndexes": coll }, spec)),
        Op::DropIndex { coll, name } => command(doc! { "dropIndexes": coll, "index": name }),
        Op::SetCollectionOptions { coll, options } => command(with(doc! { "collMod": coll }, options)),
        Op::SetIndexOptions { coll, name, spec } => {
            command(doc! { "collMod": coll, "index": with(doc! { "name": name }, spec) })
        }
    }
}

/// What a project or branch operation did, in words.
fn describe(e: &Entry) -> String {
    let db = crate::commands::db_name;
    match e {
        Entry::CreateProject { project, .. } => format!("create project {project}"),
        Entry::DropProject { project, .. } => format!("drop project {project}"),
        Entry::CreateBranch { project, branch, parent, fork_lsn, .. } => {
            format!(
                "create branch {} from {} at LSN {}",
                db(project, branch),
                db(project, parent),
                fork_lsn.0
            )
        }
        Entry::DeleteBranch { project, branch, .. } => format!("delete branch {}", db(project, branch)),
        Entry::ResetBranch { project, branch, to_lsn, .. } => {
            format!("reset branch {} to LSN {}", db(project, branch), to_lsn.0)
        }
        Entry::ProtectBranch { project, branch, protected, .. } => {
            format!("{} branch {}", if *protected { "protect" } else { "unprotect" }, db(project, branch))
        }
        Entry::Commit(_) => String::new(),
    }
}

/// The first LSN a filter can match, read off a top-level `ts` or `lsn`
/// lower bound (`$gt`/`$gte`, or equality), so a read by time starts
/// there instead of at the beginning.
fn lower_bound(state: &ServerState, filter: &Document) -> Lsn {
    let bound = |v: &Bson| -> Option<(u64, bool)> {
        match v {
            // Timestamps Argon hands out carry the LSN in the increment.
            Bson::Timestamp(t) if t.increment > 0 => Some((state.lsn_of_timestamp(*t).0, true)),
            Bson::Int32(n) => Some((*n as u64, true)),
            Bson::Int64(n) => Some((*n as u64, true)),
            _ => None,
        }
    };
    let mut from = Lsn(1);
    for field in ["ts", "lsn"] {
        let Some(v) = filter.get(field) else { continue };
        let lsn = match v {
            Bson::Document(ops) => ops
                .iter()
                .filter_map(|(op, v)| match op.as_str() {
                    "$gte" | "$eq" => bound(v).map(|(l, _)| l),
                    "$gt" => bound(v).map(|(l, _)| l + 1),
                    _ => None,
                })
                .max(),
            v => bound(v).map(|(l, _)| l),
        };
        if let Some(l) = lsn {
            from = from.max(Lsn(l));
        }
    }
    from
}

/// A read of the oplog in `$natural` order, batch by batch.
pub struct OplogCursor {
    /// Forward: the next LSN to read. Backward: read below this.
    pos: Lsn,
    /// Backward: stop below this (the filter's lower bound).
    floor: Lsn,
    reverse: bool,
    query: Query,
    projection: Option<Projection>,
    skip: u64,
    /// Documents still to return (`limit`).
    remaining: Option<u64>,
    pub tailable: bool,
    pub await_data: bool,
    /// Nothing more will come (a tailable cursor is never done).
    pub done: bool,
    /// The forward reader, kept between batches at `pos`: opening one
    /// scans its segment from the start up to the position.
    reader: Option<argon_store::LogReader>,
    /// The backward reader (newest first), kept between batches.
    backward: Option<argon_store::NewestFirst>,
    /// Entries read and not yet looked at, in read order.
    pending: std::collections::VecDeque<Document>,
    /// The front of `pending` is a result already matched, counted against
    /// skip and limit, and projected (it did not fit in the last batch);
    /// `Some(true)` when it is the last the limit lets through.
    ready_front: Option<bool>,
}

impl OplogCursor {
    pub fn new(
        state: &ServerState,
        query: Query,
        projection: Option<Projection>,
        reverse: bool,
        skip: u64,
        limit: Option<u64>,
    ) -> OplogCursor {
        let floor = lower_bound(state, &query.doc);
        let pos = if reverse { state.store.visible_lsn().next() } else { floor };
        OplogCursor {
            pos,
            floor,
            reverse,
            query,
            projection,
            skip,
            remaining: limit,
            tailable: false,
            await_data: false,
            done: false,
            reader: None,
            backward: None,
            pending: Default::default(),
            ready_front: None,
        }
    }

    /// Up to `n` matching entries (about [`crate::cursor::BATCH_BYTES`] at
    /// most) from where the last batch stopped.
    pub fn next_batch(&mut self, state: &ServerState, n: usize) -> CmdResult<Vec<Document>> {
        let mut out = Vec::new();
        let mut bytes = 0;
        let mut full = false;
        while !self.done && !full && out.len() < n {
            if self.pending.is_empty() {
                // (No more than the limit lets through: an entry can be a
                // commit of 100,000 documents, costly to turn into one.)
                let want = (n - out.len()).min(self.remaining.map_or(usize::MAX, |r| r as usize));
                self.pending = self.read_window(state, want)?.into();
                if self.pending.is_empty() {
                    if !self.tailable || self.reverse {
                        self.done = true;
                    }
                    break;
                }
            }
            while out.len() < n {
                let Some(d) = self.pending.pop_front() else { break };
                let (d, last) = if let Some(last) = self.ready_front.take() {
                    (d, last)
                } else {
                    crate::ops::check_interrupted()?;
                    if !self.query.filter.try_matches(&d)? {
                        continue;
                    }
                    if self.skip > 0 {
                        self.skip -= 1;
                        continue;
                    }
                    let d = match &self.projection {
                        Some(p) => p.apply(&d, Some(&self.query.filter))?,
                        None => d,
                    };
                    let mut last = false;
                    if let Some(r) = self.remaining.as_mut() {
                        *r -= 1;
                        last = *r == 0;
                    }
                    (d, last)
                };
                let size = crate::cursor::doc_batch_cost(&d, out.len());
                if !out.is_empty() && bytes + size > crate::cursor::BATCH_BYTES {
                    // Not consumed: the next batch starts with it.
                    self.pending.push_front(d);
                    self.ready_front = Some(last);
                    full = true;
                    break;
                }
                bytes += size;
                out.push(d);
                if last {
                    self.done = true;
                    break;
                }
            }
        }
        Ok(out)
    }

    /// The next stretch of entries in read order, advancing the position.
    fn read_window(&mut self, state: &ServerState, want: usize) -> CmdResult<Vec<Document>> {
        let visible = state.store.visible_lsn();
        if !self.reverse {
            let mut docs = Vec::new();
            if self.pos > visible {
                return Ok(docs);
            }
            let mut reader = state.store.log_resumed(self.reader.take(), self.pos)?;
            for r in reader.by_ref() {
                let (lsn, time, e) = r?;
                docs.extend(entry(state, lsn, time, &e));
                self.pos = lsn.next();
                if docs.len() >= want.clamp(1, 4096) {
                    break;
                }
            }
            self.reader = Some(reader);
            return Ok(docs);
        }
        // Backward: newest first from below the position (the reader reads
        // the WAL a window at a time and is kept between batches).
        if self.pos <= self.floor {
            return Ok(Vec::new());
        }
        let mut reader = match self.backward.take() {
            Some(r) => r,
            None => state.store.log_newest_first(self.floor, self.pos.prev())?,
        };
        let mut docs = Vec::new();
        for r in reader.by_ref() {
            let (lsn, time, e) = r?;
            docs.extend(entry(state, lsn, time, &e).into_iter().rev());
            self.pos = lsn;
            if docs.len() >= want.clamp(1, 4096) {
                break;
            }
        }
        if docs.is_empty() {
            self.pos = self.floor;
        }
        self.backward = Some(reader);
        Ok(docs)
    }
}

/// Every entry, oldest first, as a stream (for `aggregate` and `count`).
pub fn all(state: &ServerState) -> CmdResult<impl Iterator<Item = argon_query::Result<Document>> + '_> {
    Ok(state.store.log(Lsn(1))?.flat_map(move |r| {
        let docs: Vec<argon_query::Result<Document>> = match r {
            Ok((lsn, time, e)) => entry(state, lsn, time, &e).into_iter().map(Ok).collect(),
            Err(e) => {
                vec![Err(argon_query::QueryError::new(argon_query::codes::INTERNAL_ERROR, e.to_string()))]
            }
        };
        docs
    }))
}

/// The oplog's collection statistics, sizes divided by `scale`: its size
/// is the WAL's records, and the count the number of entries (LSNs are
/// dense from 1).
pub fn stats(state: &ServerState, scale: i64) -> Document {
    let size = state.store.wal_record_bytes() as i64;
    let count = state.store.visible_lsn().0 as i64;
    doc! {
        "ns": format!("{DB}.{COLL}"),
        "size": size / scale,
        "count": count,
        "avgObjSize": if count > 0 { size / count } else { 0 },
        "storageSize": size / scale,
        "capped": true,
        // No cap: the window is the whole history (mongosh needs a size).
        "maxSize": (size / scale).max(1),
        "nindexes": 0,
        "totalIndexSize": 0i64,
        "indexSizes": {},
        "scaleFactor": scale,
    }
}

/// The listCollections entry for the oplog.
pub fn collection_info(state: &ServerState, name_only: bool) -> Document {
    if name_only {
        return doc! { "name": COLL, "type": "collection" };
    }
    let size = state.store.wal_record_bytes() as i64;
    doc! {
        "name": COLL,
        "type": "collection",
        "options": { "capped": true, "size": size.max(1) },
        "info": { "readOnly": true },
    }
}

/// Runs `stages` over every entry, oldest first (`aggregate`, and a
/// `find` sorted by anything but `$natural`); a leading `$collStats`
/// instead describes the oplog ([`stats`]), as for a collection. Nothing
/// else is readable from the pipeline (`$lookup` into a collection fails).
pub fn aggregate(
    ctx: &crate::commands::Ctx<'_>,
    stages: &[Document],
    lets: &argon_query::expr::Vars,
) -> CmdResult<Vec<Document>> {
    let coll_stats = stages.first().and_then(|s| s.get("$collStats"));
    let rest = if coll_stats.is_some() { &stages[1..] } else { stages };
    let pipeline =
        argon_query::pipeline::Pipeline::parse_with_vars(rest, &argon_query::expr::let_names(lets))?;
    let none = argon_query::pipeline::NoCollections { now: bson::DateTime::now() };
    if let Some(spec) = coll_stats {
        let scale = match spec {
            Bson::Document(s) => match s.get("storageStats") {
                Some(Bson::Document(o)) => crate::commands::scale_of(o.get("scale"))?,
                _ => 1,
            },
            _ => {
                return Err(crate::error::CommandError::type_mismatch("$collStats must take a nested object"))
            }
        };
        let stats = stats(&ctx.state, scale);
        let described = doc! {
            "ns": format!("{DB}.{COLL}"),
            "host": &ctx.state.config.advertised_host,
            "localTime": bson::DateTime::now(),
            "count": stats.get_i64("count").unwrap_or(0),
            "storageStats": stats,
        };
        return Ok(pipeline.run_results(Box::new(std::iter::once(Ok(described))), &none, lets)?);
    }
    crate::ops::long_running(|| Ok(pipeline.run_results(Box::new(all(&ctx.state)?), &none, lets)?))
}

/// How many entries match `query` (`count`).
pub fn count(ctx: &crate::commands::Ctx<'_>, query: &Document) -> CmdResult<i64> {
    if query.is_empty() {
        return Ok(ctx.state.store.visible_lsn().0 as i64);
    }
    let filter = argon_query::Filter::parse(query)?;
    crate::ops::long_running(|| {
        let mut n = 0i64;
        for d in all(&ctx.state)? {
            crate::ops::check_interrupted()?;
            if filter.try_matches(&d?)? {
                n += 1;
            }
        }
        Ok(n)
    })
}
