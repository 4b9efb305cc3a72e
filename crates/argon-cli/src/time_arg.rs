//! `--lsn N` and `--time T`: a point in a branch's history.
//!
//! `--time` takes RFC 3339 (`2024-05-01T12:00:00Z`, any offset, fractions
//! of a second) or a time relative to now (`-15m`, `-2h`, `-1d`, `-1h30m`,
//! anything `humantime` reads after the minus), or `now`. Times are parsed
//! when the command runs, not by clap, so a bad one is a one-line error
//! like any other.

use argon_types::{CommitTime, Lsn};
use clap::Args;

use crate::error::{CliError, Result};

/// A point in a branch's history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Point {
    Head,
    Lsn(Lsn),
    Time(CommitTime),
}

/// Exactly one of `--lsn` and `--time`.
#[derive(Args, Debug, Clone)]
#[group(required = true, multiple = false)]
pub struct PointArgs {
    /// The state right after the entry with this LSN.
    #[arg(long)]
    pub lsn: Option<u64>,
    /// The state at this time: RFC 3339, or relative such as -15m, -2h, -1d.
    #[arg(long, allow_hyphen_values = true)]
    pub time: Option<String>,
}

/// At most one of `--lsn` and `--time` (neither: the head).
#[derive(Args, Debug, Clone)]
#[group(required = false, multiple = false)]
pub struct OptPointArgs {
    /// The state right after the entry with this LSN (default: the head).
    #[arg(long)]
    pub lsn: Option<u64>,
    /// The state at this time: RFC 3339, or relative such as -15m, -2h, -1d.
    #[arg(long, allow_hyphen_values = true)]
    pub time: Option<String>,
}

impl PointArgs {
    pub fn point(&self) -> Result<Point> {
        to_point(self.lsn, self.time.as_deref())
    }
}

impl OptPointArgs {
    pub fn point(&self) -> Result<Point> {
        to_point(self.lsn, self.time.as_deref())
    }
}

fn to_point(lsn: Option<u64>, time: Option<&str>) -> Result<Point> {
    match (lsn, time) {
        (Some(l), _) => Ok(Point::Lsn(Lsn(l))),
        (None, Some(t)) => Ok(Point::Time(parse_time(t, CommitTime::now())?)),
        (None, None) => Ok(Point::Head),
    }
}

/// Parses a `--time` value; relative times count back from `now`.
pub fn parse_time(text: &str, now: CommitTime) -> Result<CommitTime> {
    let bad = || {
        CliError::new(format!(
            "invalid time {text:?}: expected RFC 3339 such as 2024-05-01T12:00:00Z, \
             or a relative time such as -15m, -2h or -1d"
        ))
    };
    let t = text.trim();
    if t.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    if let Some(ago) = t.strip_prefix('-') {
        let d = humantime::parse_duration(ago.trim()).map_err(|_| bad())?;
        let micros = i64::try_from(d.as_micros()).map_err(|_| bad())?;
        return Ok(CommitTime(now.0.saturating_sub(micros)));
    }
    let dt = chrono::DateTime::parse_from_rfc3339(t).map_err(|_| bad())?;
    Ok(CommitTime(dt.timestamp_micros()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: CommitTime = CommitTime(1_700_000_000_000_000);

    #[test]
    fn relative_times_count_back_from_now() {
        assert_eq!(parse_time("-15m", NOW).unwrap(), CommitTime(NOW.0 - 15 * 60 * 1_000_000));
        assert_eq!(parse_time("-2h", NOW).unwrap(), CommitTime(NOW.0 - 2 * 3600 * 1_000_000));
        assert_eq!(parse_time("-1d", NOW).unwrap(), CommitTime(NOW.0 - 86_400 * 1_000_000));
        assert_eq!(parse_time("-1h30m", NOW).unwrap(), CommitTime(NOW.0 - 5400 * 1_000_000));
        assert_eq!(parse_time("now", NOW).unwrap(), NOW);
    }

    #[test]
    fn rfc3339_with_offsets_and_fractions() {
        assert_eq!(parse_time("2023-11-14T22:13:20Z", NOW).unwrap(), NOW);
        assert_eq!(parse_time("2023-11-14T23:13:20+01:00", NOW).unwrap(), NOW);
        assert_eq!(parse_time("2023-11-14T22:13:20.000250Z", NOW).unwrap(), CommitTime(NOW.0 + 250));
    }

    #[test]
    fn bad_times_say_what_is_expected() {
        for bad in ["yesterday", "-15", "-15 parsecs", "2023-13-01T00:00:00Z", ""] {
            let e = parse_time(bad, NOW).unwrap_err().to_string();
            assert!(e.contains("invalid time") && e.contains("RFC 3339"), "{bad}: {e}");
        }
    }
}
