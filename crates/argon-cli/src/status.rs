//! `argon status | metrics | health | storage`.

use std::path::Path;
use std::time::Duration;

use crate::backend::{Create, Target};
use crate::error::{CliError, Result};
use crate::model::{Check, Health};
use crate::output::{self, bytes, or_dash, Format, Table};

pub fn status(target: &Target, format: Format) -> Result<()> {
    let s = target.open(Create::No)?.status()?;
    if format == Format::Json {
        return output::json(&s);
    }
    let uptime = s.uptime_secs.map(|u| humantime::format_duration(Duration::from_secs(u as u64)).to_string());
    output::fields(&[
        ("version", s.version.clone()),
        ("server version", or_dash(s.server_version.clone())),
        ("uptime", uptime.unwrap_or_else(|| "not running (opened the data dir directly)".into())),
        ("data dir", s.data_dir.clone()),
        ("projects", s.projects.to_string()),
        ("branches", s.branches.to_string()),
        ("timelines", s.timelines.to_string()),
        ("WAL size", bytes(s.wal_bytes)),
        ("index size", bytes(s.index_bytes)),
        ("head LSN", s.head_lsn.to_string()),
        ("head time", or_dash(s.head_time.clone())),
    ])
}

pub fn metrics(target: &Target, format: Format) -> Result<()> {
    let m = target.open(Create::No)?.metrics()?;
    if format == Format::Json {
        return output::json(&m);
    }
    let ops: Vec<(String, String)> =
        m.opcounters.iter().map(|(k, v)| (format!("ops {k}"), v.to_string())).collect();
    let mut pairs = vec![
        ("head LSN", m.head_lsn.to_string()),
        ("commits", m.commits.to_string()),
        ("group commits", m.group_commits.to_string()),
        ("WAL size", bytes(m.wal_bytes)),
        ("index size", bytes(m.index_bytes)),
        ("connections", or_dash(m.connections_current)),
        ("connections total", or_dash(m.connections_total)),
        ("open cursors", or_dash(m.open_cursors)),
    ];
    pairs.extend(ops.iter().map(|(k, v)| (k.as_str(), v.clone())));
    match &m.latency {
        Some(l) => {
            pairs.push(("latency count", l.count.to_string()));
            pairs.push(("latency p50", format!("{} µs", l.p50_micros)));
            pairs.push(("latency p99", format!("{} µs", l.p99_micros)));
        }
        None => pairs.push(("latency", "- (kept by a running server; use --uri)".into())),
    }
    output::fields(&pairs)
}

/// Prints the checks; an unhealthy result is an error (exit code 1).
pub fn health(target: &Target, format: Format) -> Result<()> {
    let h = target.open(Create::No)?.health()?;
    if format == Format::Json {
        output::json(&h)?;
    } else {
        let mut t = Table::new(&["CHECK", "STATUS", "DETAIL"]);
        for c in &h.checks {
            t.row(vec![c.name.clone(), c.status.clone(), c.detail.clone()]);
        }
        t.print()?;
    }
    if h.healthy {
        return Ok(());
    }
    let failed: Vec<&str> = h.checks.iter().filter(|c| c.status == "fail").map(|c| c.name.as_str()).collect();
    Err(CliError::new(format!("unhealthy: {}", failed.join(", "))))
}

pub fn storage(target: &Target, format: Format) -> Result<()> {
    let s = target.open(Create::No)?.storage()?;
    if format == Format::Json {
        return output::json(&s);
    }
    let mut t = Table::new(&[
        "PROJECT",
        "BRANCH",
        "PARENT",
        "DOCS",
        "OWN",
        "SHARED",
        "AS A COPY",
        "WAL OWN",
        "WAL INHERITED",
    ]);
    for p in &s.projects {
        for b in &p.branches {
            t.row(vec![
                p.name.clone(),
                b.name.clone(),
                or_dash(b.parent.clone()),
                b.documents.to_string(),
                or_dash(b.own_bytes.map(bytes)),
                or_dash(b.shared_bytes.map(bytes)),
                bytes(b.copy_bytes),
                bytes(b.wal_own_bytes),
                bytes(b.wal_inherited_bytes),
            ]);
        }
        t.row(vec![
            p.name.clone(),
            "(all)".into(),
            String::new(),
            p.branches.iter().map(|b| b.documents).sum::<u64>().to_string(),
            or_dash(p.own_bytes.map(bytes)),
            String::new(),
            bytes(p.copy_bytes),
            bytes(p.wal_bytes),
            String::new(),
        ]);
    }
    t.print()?;
    output::say(format!("WAL {}, index {}", bytes(s.wal_bytes), bytes(s.index_bytes)))?;
    if s.projects.iter().any(|p| p.own_bytes.is_none()) {
        output::say("(own and shared bytes need --data-dir: the server does not report them yet)")?;
    }
    Ok(())
}

/// Healthy unless a check failed.
pub fn health_of(checks: Vec<Check>) -> Health {
    Health { healthy: checks.iter().all(|c| c.status != "fail"), checks }
}

/// The two checks of the data dir's disk, measured here on a stopped
/// data dir (`--data-dir`) with the probe the server runs on its own data
/// dir for `dataDirHealth` (`--uri`).
pub fn disk_checks(dir: &Path) -> [Check; 2] {
    let space = argon_server::probe::disk_space(dir)
        .map(|s| (s.free, s.total))
        .map_err(|e| format!("cannot stat {}: {e}", dir.display()));
    let fsync = argon_server::probe::fsync_latency(dir)
        .map(|d| d.as_secs_f64() * 1000.0)
        .map_err(|e| format!("cannot probe {}: {e}", dir.display()));
    [disk_check(space), fsync_check(fsync, argon_server::probe::FSYNC_SAMPLES)]
}

/// Free space `(free, total)` of the data dir's file system: fails under
/// 1% or 100 MiB, warns under 10%.
pub fn disk_check(space: std::result::Result<(u64, u64), String>) -> Check {
    let (free, total) = match space {
        Ok(s) => s,
        Err(why) => return Check::new("disk_space", "unknown", None, why),
    };
    let pct = if total > 0 { free as f64 * 100.0 / total as f64 } else { 0.0 };
    let status = if pct < 1.0 || free < 100 << 20 {
        "fail"
    } else if pct < 10.0 {
        "warn"
    } else {
        "ok"
    };
    Check::new(
        "disk_space",
        status,
        Some(free as f64),
        format!("{} free of {} ({pct:.0}%)", bytes(free), bytes(total)),
    )
}

/// How long an fdatasync of a small write takes on the data dir's disk
/// (the worst of `samples`, in ms; the cost every commit pays with
/// `--fsync always`): warns over 50 ms, fails over 1 s.
pub fn fsync_check(millis: std::result::Result<f64, String>, samples: u32) -> Check {
    match millis {
        Ok(ms) => {
            let status = if ms > 1000.0 {
                "fail"
            } else if ms > 50.0 {
                "warn"
            } else {
                "ok"
            };
            Check::new(
                "wal_fsync_latency",
                status,
                Some(ms),
                format!("{ms:.2} ms per fdatasync (worst of {samples})"),
            )
        }
        Err(why) => Check::new("wal_fsync_latency", "unknown", None, why),
    }
}

/// Records in the WAL that the index has not applied, at visible LSN `visible`.
pub fn index_lag_check(lag: std::result::Result<u64, String>, visible: u64) -> Check {
    match lag {
        Ok(0) => Check::new("index_lag", "ok", Some(0.0), format!("the index is caught up at LSN {visible}")),
        Ok(n) => Check::new("index_lag", "warn", Some(n as f64), format!("{n} WAL records not in the index")),
        Err(why) => Check::new("index_lag", "fail", None, format!("cannot read the WAL: {why}")),
    }
}
