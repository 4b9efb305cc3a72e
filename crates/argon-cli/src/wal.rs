//! `argon wal dump|verify|rebuild-index`.
//!
//! With `--data-dir`, `dump` and `verify` read the segment files directly
//! (read-only, no lock), so they also work on the data dir of a running
//! server; with `--uri` the server reads its own WAL for them (`walDump`,
//! page by page, and `walVerify`, with progress), and the output is the
//! same. `rebuild-index` opens the data dir and needs it stopped.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use argon_store::Entry;
use argon_types::{CommitTime, Lsn};
use bson::{doc, Bson, Document};
use clap::Subcommand;
use serde::Serialize;

use crate::backend::Target;
use crate::error::{CliError, Result};
use crate::output::{self, bytes, Format};
use crate::remote::Remote;

#[derive(Subcommand, Debug)]
pub enum WalCmd {
    /// Print WAL entries as JSON lines (relaxed Extended JSON).
    Dump {
        /// First LSN to print.
        #[arg(long)]
        from_lsn: Option<u64>,
        /// Last LSN to print.
        #[arg(long)]
        to_lsn: Option<u64>,
    },
    /// Check the header, checksum and LSN of every record of every segment.
    Verify,
    /// Drop the index and rebuild it from the WAL (the data dir must be stopped).
    RebuildIndex,
}

/// `wal verify -o json`.
#[derive(Serialize)]
struct VerifyJson {
    ok: bool,
    segments: u64,
    records: u64,
    bytes: u64,
    first_lsn: u64,
    last_lsn: u64,
    /// The first damaged record: `{segment, offset, lsn, reason}`.
    first_bad: Option<BadJson>,
    /// A torn record at the very end (a crash's remains, cut off on open).
    torn_tail: Option<BadJson>,
}

#[derive(Serialize)]
struct BadJson {
    segment: String,
    offset: u64,
    lsn: Option<u64>,
    reason: String,
}

impl From<&argon_wal::BadRecord> for BadJson {
    fn from(b: &argon_wal::BadRecord) -> BadJson {
        BadJson {
            segment: b.segment.display().to_string(),
            offset: b.offset,
            lsn: b.lsn.map(|l| l.0),
            reason: b.reason.clone(),
        }
    }
}

/// Entries per `walDump` page asked of a server (it also stops a page at
/// about 8 MiB).
const DUMP_PAGE: i64 = 1000;

/// How long one `walVerify` call waits before reporting progress.
const VERIFY_POLL_MS: i64 = 250;

pub fn run(target: &Target, format: Format, cmd: WalCmd) -> Result<()> {
    match cmd {
        WalCmd::Dump { from_lsn, to_lsn } => {
            let bar = output::counter("dumping records");
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let mut print = |line: Document| -> Result<()> {
                writeln!(out, "{}", crate::extjson::doc_to_json(&line))?;
                bar.inc(1);
                Ok(())
            };
            match target {
                Target::DataDir(dir) => dump_local(dir, from_lsn, to_lsn, &mut print)?,
                Target::Uri(uri) => dump_remote(&Remote::connect(uri)?, from_lsn, to_lsn, &mut print)?,
            }
            out.flush()?;
            bar.finish_and_clear();
            Ok(())
        }
        WalCmd::Verify => {
            let bar = output::bytes_bar(0, "verifying");
            let mut progress = |done: u64, total: u64| {
                bar.set_length(total);
                bar.set_position(done);
            };
            let report = match target {
                Target::DataDir(dir) => {
                    crate::local::must_exist(dir)?;
                    let r = argon_wal::verify(&dir.join("wal"), &mut progress)?;
                    VerifyJson {
                        ok: r.is_ok(),
                        segments: r.segments,
                        records: r.records,
                        bytes: r.bytes,
                        first_lsn: r.first_lsn.0,
                        last_lsn: r.last_lsn.0,
                        first_bad: r.first_bad.as_ref().map(BadJson::from),
                        torn_tail: r.torn_tail.as_ref().map(BadJson::from),
                    }
                }
                Target::Uri(uri) => verify_remote(&Remote::connect(uri)?, &mut progress)?,
            };
            bar.finish_and_clear();
            print_verify(format, &report)
        }
        WalCmd::RebuildIndex => {
            let dir = match target {
                Target::DataDir(dir) => dir,
                Target::Uri(_) => {
                    return Err(CliError::new(
                        "`argon wal rebuild-index` rebuilds the index of a stopped data dir: \
                         stop the server, then run it on the server's machine with --data-dir DIR",
                    ))
                }
            };
            let bar = output::spinner("rebuilding the index from the WAL");
            let started = Instant::now();
            let store = crate::local::Local::rebuild_index(dir)?;
            store.sync()?;
            bar.finish_and_clear();
            let lsn = store.visible_lsn();
            match format {
                Format::Json => output::json(&serde_json::json!({
                    "head_lsn": lsn.0,
                    "seconds": started.elapsed().as_secs_f64(),
                })),
                Format::Table => output::say(format!(
                    "rebuilt the index from the WAL up to LSN {lsn} in {:.1?}",
                    started.elapsed()
                )),
            }
        }
    }
}

/// One line of `wal dump`, the same in both modes.
fn dump_line(lsn: u64, time: CommitTime, segment: &str, offset: u64, entry: Document) -> Document {
    doc! {
        "lsn": lsn as i64,
        "time": time.to_rfc3339(),
        "segment": segment,
        "offset": offset as i64,
        "entry": entry,
    }
}

/// Reads the segment files directly (no lock: also on a running server's data dir).
fn dump_local(
    dir: &Path,
    from: Option<u64>,
    to: Option<u64>,
    print: &mut dyn FnMut(Document) -> Result<()>,
) -> Result<()> {
    crate::local::must_exist(dir)?;
    let reader = argon_wal::WalReader::open(&dir.join("wal"), Lsn(from.unwrap_or(0)))?;
    for r in reader {
        let (pos, rec) = r?;
        if to.is_some_and(|t| rec.lsn.0 > t) {
            break;
        }
        let entry = Entry::decode(&rec.payload)?;
        let entry = bson::serialize_to_document(&entry)
            .map_err(|e| CliError::new(format!("LSN {}: {e}", rec.lsn)))?;
        let segment = pos.segment.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        print(dump_line(rec.lsn.0, rec.time, &segment, pos.offset, entry))?;
        // Stop without reading past the range (what follows may be damaged).
        if to.is_some_and(|t| rec.lsn.0 >= t) {
            break;
        }
    }
    Ok(())
}

/// Pages through the server's `walDump`, one bounded page at a time.
fn dump_remote(
    remote: &Remote,
    from: Option<u64>,
    to: Option<u64>,
    print: &mut dyn FnMut(Document) -> Result<()>,
) -> Result<()> {
    let lsn_arg = |l: u64| l.min(i64::MAX as u64) as i64;
    let mut next = from.unwrap_or(0);
    loop {
        let mut cmd = doc! { "walDump": 1, "fromLsn": lsn_arg(next), "limit": DUMP_PAGE };
        if let Some(t) = to {
            cmd.insert("toLsn", lsn_arg(t));
        }
        let reply = remote.command(cmd)?;
        let entries = reply.get_array("entries").map_err(|_| CliError::new("walDump returned no entries"))?;
        for e in entries.iter().filter_map(Bson::as_document) {
            let lsn =
                e.get_i64("lsn").map_err(|_| CliError::new(format!("walDump returned a bad entry: {e}")))?;
            let time = match e.get("time") {
                Some(Bson::DateTime(t)) => CommitTime::from_millis(t.timestamp_millis()),
                _ => return Err(CliError::new(format!("walDump entry {lsn} has no time"))),
            };
            let entry = e
                .get_document("entry")
                .map_err(|_| CliError::new(format!("walDump entry {lsn} has no entry")))?
                .clone();
            let offset = e.get_i64("offset").unwrap_or(0).max(0) as u64;
            print(dump_line(
                lsn.max(0) as u64,
                time,
                e.get_str("segment").unwrap_or_default(),
                offset,
                entry,
            ))?;
        }
        match reply.get("nextLsn") {
            Some(Bson::Int64(n)) if *n as u64 > next => next = *n as u64,
            Some(Bson::Int32(n)) if *n as u64 > next => next = *n as u64,
            _ => return Ok(()),
        }
    }
}

/// Runs the server's `walVerify`, asking for progress every
/// [`VERIFY_POLL_MS`] until the report comes.
fn verify_remote(remote: &Remote, progress: &mut dyn FnMut(u64, u64)) -> Result<VerifyJson> {
    let mut reply = remote.command(doc! { "walVerify": 1, "waitMS": VERIFY_POLL_MS })?;
    while !reply.get_bool("done").unwrap_or(true) {
        let num = |k: &str| reply.get_i64(k).unwrap_or(0).max(0) as u64;
        progress(num("bytes_done"), num("bytes_total"));
        let job = reply.get_i64("job").map_err(|_| CliError::new("walVerify returned no job id"))?;
        reply = remote.command(doc! { "walVerify": 1, "job": job, "waitMS": VERIFY_POLL_MS })?;
    }
    let num = |k: &str| reply.get_i64(k).unwrap_or(0).max(0) as u64;
    let bad = |k: &str| {
        reply.get_document(k).ok().map(|b| BadJson {
            segment: b.get_str("segment").unwrap_or_default().to_string(),
            offset: b.get_i64("offset").unwrap_or(0).max(0) as u64,
            lsn: b.get_i64("lsn").ok().map(|l| l.max(0) as u64),
            reason: b.get_str("reason").unwrap_or_default().to_string(),
        })
    };
    Ok(VerifyJson {
        ok: reply.get_bool("wal_ok").map_err(|_| CliError::new("walVerify returned no wal_ok"))?,
        segments: num("segments"),
        records: num("records"),
        bytes: num("bytes"),
        first_lsn: num("first_lsn"),
        last_lsn: num("last_lsn"),
        first_bad: bad("first_bad"),
        torn_tail: bad("torn_tail"),
    })
}

/// Prints a verification report; damage is an error (exit code 1).
fn print_verify(format: Format, report: &VerifyJson) -> Result<()> {
    if format == Format::Json {
        output::json(report)?;
    } else {
        output::say(format!(
            "{} segments, {} records (LSN {} to {}), {}",
            report.segments,
            report.records,
            report.first_lsn,
            report.last_lsn,
            bytes(report.bytes)
        ))?;
        if let Some(t) = &report.torn_tail {
            output::say(format!(
                "torn record at the end of {} offset {} ({}): a crash's remains, cut off when the data dir opens",
                t.segment, t.offset, t.reason
            ))?;
        }
        if report.ok {
            output::say("ok: every checksum matches")?;
        }
    }
    match &report.first_bad {
        None => Ok(()),
        Some(b) => Err(CliError::new(format!(
            "WAL damaged in {} at offset {}{}: {}",
            b.segment,
            b.offset,
            b.lsn.map(|l| format!(" (LSN {l})")).unwrap_or_default(),
            b.reason
        ))),
    }
}
