//! `walDump`: the WAL's entries in LSN order, one bounded page per call
//! (`argon wal dump` over `--uri`).
//!
//! `{walDump: 1, fromLsn?: N, toLsn?: M, limit?: K}` →
//! `{entries: [{lsn, time, segment, offset, entry}], nextLsn}`.
//!
//! - `fromLsn` (default: the first entry) and `toLsn` (default: the newest
//!   entry the server has made visible; never beyond it) bound the range.
//! - A page holds at most `limit` entries (default 1000, at most 10000)
//!   and stops early once it holds about 8 MiB of entries, so neither the
//!   server nor the client ever holds a big WAL in memory. `nextLsn` is
//!   where the next page starts (pass it as `fromLsn`); it is `null` when
//!   the page reached the end of the range.
//! - `segment` is the segment file's name, `offset` the record's offset in
//!   it, `entry` the WAL entry as the store encodes it (`kind` and its
//!   fields): what `argon wal dump --data-dir` prints.
//!
//! The segment files are read directly (read-only, like the CLI does on a
//! stopped data dir). Damage is `DataCorruptionDetected` (301) naming the
//! segment and offset; a page ends before it, so the call that reports it
//! is the one whose `fromLsn` is the damaged entry. Deployment
//! administrators only.

use std::path::Path;

use argon_store::{Entry, Lsn};
use argon_wal::{WalError, WalReader};
use bson::{doc, Bson, Document};

use super::{Call, Ctx};
use crate::args::Args;
use crate::error::{code, CmdResult, CommandError};

/// Entries per page unless `limit` says otherwise.
pub const DEFAULT_LIMIT: i64 = 1000;
/// The largest `limit` honoured; larger ones are cut to it.
pub const MAX_LIMIT: i64 = 10_000;
/// A page stops before an entry that would take it over this many bytes
/// (it always holds at least one entry), far below the 16 MiB reply limit.
const PAGE_BYTES: usize = 8 << 20;

pub async fn run(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let a = Args::new(&call.cmd, "walDump");
    let from = Lsn(a.non_negative("fromLsn")?.unwrap_or(1).max(1) as u64);
    let to = a.non_negative("toLsn")?.map(|t| Lsn(t as u64));
    let limit = match a.non_negative("limit")? {
        None => DEFAULT_LIMIT,
        Some(0) => return Err(CommandError::bad_value("walDump.limit must be positive")),
        Some(n) => n.min(MAX_LIMIT),
    } as usize;
    // Entries past the visible LSN are not acknowledged yet.
    let visible = ctx.state.store.visible_lsn();
    let to = to.map_or(visible, |t| t.min(visible));
    let wal = ctx.state.store.dir().join("wal");
    tokio::task::spawn_blocking(move || page(&wal, from, to, limit))
        .await
        .map_err(|e| CommandError::new(code::INTERNAL_ERROR, e.to_string()))?
}

/// One page of entries from `from` up to `to`.
fn page(wal: &Path, from: Lsn, to: Lsn, limit: usize) -> CmdResult<Document> {
    let mut entries = Vec::new();
    let mut bytes = 0usize;
    let mut next = Bson::Null;
    if from <= to {
        for r in WalReader::open(wal, from).map_err(wal_error)? {
            let (pos, rec) = match r {
                Ok(x) => x,
                // A page ends before damage; the next page reports it, so a
                // client prints every good entry before the error, as
                // `argon wal dump --data-dir` does.
                Err(e) if entries.is_empty() => return Err(wal_error(e)),
                Err(_) => {
                    let last = entries.last().and_then(|d: &Document| d.get_i64("lsn").ok()).unwrap_or(0);
                    next = Bson::Int64(last + 1);
                    break;
                }
            };
            if rec.lsn > to {
                break;
            }
            // The payload is the entry's BSON: its size is the entry's.
            let size = rec.payload.len() + 128;
            if !entries.is_empty() && bytes + size > PAGE_BYTES {
                next = Bson::Int64(rec.lsn.0 as i64);
                break;
            }
            let corrupt = |why: String| {
                CommandError::new(code::DATA_CORRUPTION_DETECTED, format!("WAL entry {}: {why}", rec.lsn))
            };
            let entry = Entry::decode(&rec.payload).map_err(|e| corrupt(e.to_string()))?;
            let entry = bson::serialize_to_document(&entry).map_err(|e| corrupt(e.to_string()))?;
            let segment =
                pos.segment.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            bytes += size;
            entries.push(doc! {
                "lsn": rec.lsn.0 as i64,
                "time": rec.time.to_bson_datetime(),
                "segment": segment,
                "offset": pos.offset as i64,
                "entry": entry,
            });
            // Stop without reading further: what follows may be damaged,
            // and that is the next page's news.
            if rec.lsn >= to {
                break;
            }
            if entries.len() >= limit {
                next = Bson::Int64(rec.lsn.next().0 as i64);
                break;
            }
        }
    }
    Ok(doc! { "entries": entries, "nextLsn": next })
}

/// Damage is the client's news (301); anything else is the server's fault.
pub fn wal_error(e: WalError) -> CommandError {
    match e {
        WalError::Corrupt { .. } | WalError::UnsupportedVersion { .. } => {
            CommandError::new(code::DATA_CORRUPTION_DETECTED, e.to_string())
        }
        e => CommandError::new(code::INTERNAL_ERROR, e.to_string()),
    }
}
