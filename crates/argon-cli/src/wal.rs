//! `argon wal dump|verify|rebuild-index`.
//!
//! `dump` and `verify` read the segment files directly (read-only, no lock),
//! so they also work on the data dir of a running server; `rebuild-index`
//! opens the data dir and needs it stopped.

use std::io::Write;
use std::time::Instant;

use argon_store::Entry;
use argon_types::Lsn;
use bson::doc;
use clap::Subcommand;
use serde::Serialize;

use crate::backend::Target;
use crate::error::{CliError, Result};
use crate::output::{self, bytes, Format};

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

pub fn run(target: &Target, format: Format, cmd: WalCmd) -> Result<()> {
    match cmd {
        WalCmd::Dump { from_lsn, to_lsn } => {
            let dir = target.data_dir("wal dump")?;
            crate::local::must_exist(dir)?;
            let reader = argon_wal::WalReader::open(&dir.join("wal"), Lsn(from_lsn.unwrap_or(0)))?;
            let bar = output::counter("dumping records");
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            for r in reader {
                let (pos, rec) = r?;
                if to_lsn.is_some_and(|t| rec.lsn.0 > t) {
                    break;
                }
                let entry = Entry::decode(&rec.payload)?;
                let entry = bson::serialize_to_document(&entry)
                    .map_err(|e| CliError::new(format!("LSN {}: {e}", rec.lsn)))?;
                let segment =
                    pos.segment.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let line = doc! {
                    "lsn": rec.lsn.0 as i64,
                    "time": rec.time.to_rfc3339(),
                    "segment": segment,
                    "offset": pos.offset as i64,
                    "entry": entry,
                };
                writeln!(out, "{}", crate::extjson::doc_to_json(&line))?;
                bar.inc(1);
            }
            out.flush()?;
            bar.finish_and_clear();
            Ok(())
        }
        WalCmd::Verify => {
            let dir = target.data_dir("wal verify")?;
            crate::local::must_exist(dir)?;
            let bar = output::bytes_bar(0, "verifying");
            let report = argon_wal::verify(&dir.join("wal"), &mut |done, total| {
                bar.set_length(total);
                bar.set_position(done);
            })?;
            bar.finish_and_clear();
            if format == Format::Json {
                output::json(&VerifyJson {
                    ok: report.is_ok(),
                    segments: report.segments,
                    records: report.records,
                    bytes: report.bytes,
                    first_lsn: report.first_lsn.0,
                    last_lsn: report.last_lsn.0,
                    first_bad: report.first_bad.as_ref().map(BadJson::from),
                    torn_tail: report.torn_tail.as_ref().map(BadJson::from),
                })?;
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
                        t.segment.display(),
                        t.offset,
                        t.reason
                    ))?;
                }
                if report.is_ok() {
                    output::say("ok: every checksum matches")?;
                }
            }
            match &report.first_bad {
                None => Ok(()),
                Some(b) => Err(CliError::new(format!(
                    "WAL damaged in {} at offset {}{}: {}",
                    b.segment.display(),
                    b.offset,
                    b.lsn.map(|l| format!(" (LSN {l})")).unwrap_or_default(),
                    b.reason
                ))),
            }
        }
        WalCmd::RebuildIndex => {
            let dir = target.data_dir("wal rebuild-index")?;
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
