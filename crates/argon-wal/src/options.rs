//! Options of an open WAL: the durability policy and segment sizing.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use argon_types::Lsn;

/// When committed records are made durable (fdatasync'd), like Redis'
/// `appendfsync`.
///
/// Whatever the mode, [`crate::Wal::commit`] hands the records to the OS, so
/// a crash of the *process* loses nothing committed; the modes differ in what
/// a power loss or kernel crash can lose. Sealing a full segment always
/// fsyncs it, so damage can only ever be at the tail of the last segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncMode {
    /// `commit()` fdatasyncs before it returns. A power loss loses nothing
    /// that `commit()` returned for; at most the group being committed.
    Always,
    /// A background thread fdatasyncs every interval when there is something
    /// new. A power loss can lose roughly the last interval (up to about two
    /// intervals) of committed records. A failed background fsync poisons
    /// the WAL; the next write reports [`crate::WalError::Poisoned`].
    /// Dropping the [`crate::Wal`] syncs once more.
    Interval(Duration),
    /// Never fdatasyncs on commit; the OS writes back when it likes (Linux:
    /// usually within ~30 s). A power loss can lose everything committed
    /// since the last segment roll or explicit [`crate::Wal::sync`].
    Never,
}

impl SyncMode {
    /// The interval of `"interval"` without a duration.
    pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(100);
}

/// The text of a [`SyncMode`] that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid sync mode {0:?}: expected always, never, interval, or interval:<n>[ms|s|us] (n > 0; bare n is ms)")]
pub struct ParseSyncModeError(pub String);

impl FromStr for SyncMode {
    type Err = ParseSyncModeError;

    /// `always`, `never`, `interval` (100 ms), `interval:50ms`, `interval:50`
    /// (milliseconds), `interval:2s`, `interval:500us`. Case-insensitive.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseSyncModeError(s.to_string());
        let lower = s.trim().to_ascii_lowercase();
        match lower.as_str() {
            "always" => return Ok(SyncMode::Always),
            "never" => return Ok(SyncMode::Never),
            "interval" => return Ok(SyncMode::Interval(Self::DEFAULT_INTERVAL)),
            _ => {}
        }
        let spec = lower.strip_prefix("interval:").ok_or_else(err)?.trim();
        // Longest suffix first: "ms" and "us" both end in "s".
        let (digits, unit): (&str, fn(u64) -> Duration) = if let Some(d) = spec.strip_suffix("ms") {
            (d, Duration::from_millis)
        } else if let Some(d) = spec.strip_suffix("us") {
            (d, Duration::from_micros)
        } else if let Some(d) = spec.strip_suffix('s') {
            (d, Duration::from_secs)
        } else {
            (spec, Duration::from_millis)
        };
        let n: u64 = digits.trim().parse().map_err(|_| err())?;
        if n == 0 {
            // A zero interval would make the sync thread spin.
            return Err(err());
        }
        Ok(SyncMode::Interval(unit(n)))
    }
}

impl fmt::Display for SyncMode {
    /// The form [`SyncMode::from_str`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyncMode::Always => f.write_str("always"),
            SyncMode::Never => f.write_str("never"),
            SyncMode::Interval(d) if d.subsec_nanos() % 1_000_000 == 0 => {
                write!(f, "interval:{}ms", d.as_millis())
            }
            SyncMode::Interval(d) => write!(f, "interval:{}us", d.as_micros()),
        }
    }
}

/// Options of [`crate::Wal::open`].
#[derive(Clone, Debug)]
pub struct WalOptions {
    /// Durability policy. Default = [`SyncMode::Always`].
    pub sync: SyncMode,
    /// A segment is sealed and a new one started when the next record would
    /// take it past this size (a record never spans segments, so a single
    /// larger record makes a larger segment). Segments are preallocated to
    /// this size. Default = 64 MiB.
    pub segment_bytes: u64,
    /// Payloads of at least this many bytes are zstd-compressed (level 1)
    /// when that makes them smaller. `usize::MAX` disables compression.
    /// Default = 4096: on the commit thread a zstd call costs several
    /// microseconds whatever the size, which for the typical update record
    /// (two ~200-byte images) was 23% of the thread's time for a small
    /// saving of disk bytes.
    pub compress_min_bytes: usize,
    /// fdatasyncs that may run at once (each through its own descriptor,
    /// [`crate::SyncHandle::sync_slot`]); the store runs this many ack
    /// threads under [`SyncMode::Always`]. Default = 2: this machine's disk
    /// completes two concurrent fdatasyncs nearly as fast as one
    /// (docs/BENCHMARKS.md).
    pub sync_threads: usize,
    /// Under [`SyncMode::Always`], start the disk write of a group's bytes
    /// (the pages it completed) as soon as they are handed to the OS, with
    /// `sync_file_range`'s `SYNC_FILE_RANGE_WRITE`, which does not wait:
    /// an fdatasync here is two trips to the disk, the data write and the
    /// cache flush (the virtio disk has no FUA), and a group waiting for a
    /// sync slot then has its write under way. Durability still comes only
    /// from the fdatasync. Default = false: the store's commit thread hands
    /// a group to an fdatasync right after its WAL write, before applying
    /// it to the index, so the write starts then anyway, and starting it
    /// costs the commit thread ~25 µs per group (the virtio doorbell),
    /// which cost more than it saved (docs/BENCHMARKS.md, session 16). (The
    /// zeros written ahead of the records are always sent on their way.)
    pub early_writeback: bool,
    /// The LSN of the first record of a WAL created by this open (an
    /// existing WAL goes on from its last record). Default = 1. Tests use
    /// it to run a store past LSNs that take days of writes to reach (2^32,
    /// where a MongoDB Timestamp's increment runs out).
    pub first_lsn: Lsn,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            sync: SyncMode::Always,
            segment_bytes: 64 << 20,
            compress_min_bytes: 4096,
            sync_threads: 2,
            early_writeback: false,
            first_lsn: Lsn(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_documented_form() {
        let ms = Duration::from_millis;
        let cases = [
            ("always", SyncMode::Always),
            ("ALWAYS", SyncMode::Always),
            (" never ", SyncMode::Never),
            ("interval", SyncMode::Interval(ms(100))),
            ("interval:50ms", SyncMode::Interval(ms(50))),
            ("interval:50", SyncMode::Interval(ms(50))),
            ("interval:2s", SyncMode::Interval(Duration::from_secs(2))),
            ("interval:250us", SyncMode::Interval(Duration::from_micros(250))),
        ];
        for (text, want) in cases {
            assert_eq!(text.parse::<SyncMode>(), Ok(want), "{text}");
        }
    }

    #[test]
    fn rejects_malformed_modes() {
        for text in [
            "",
            "sometimes",
            "interval:",
            "interval:0",
            "interval:-5",
            "interval:5m",
            "interval5",
            "always:1",
        ] {
            let err = text.parse::<SyncMode>().unwrap_err();
            assert_eq!(err.0, text);
        }
    }

    #[test]
    fn display_round_trips() {
        for mode in [
            SyncMode::Always,
            SyncMode::Never,
            SyncMode::Interval(Duration::from_millis(100)),
            SyncMode::Interval(Duration::from_micros(1500)),
        ] {
            assert_eq!(mode.to_string().parse::<SyncMode>(), Ok(mode), "{mode}");
        }
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let o = WalOptions::default();
        assert_eq!(o.sync, SyncMode::Always);
        assert_eq!(o.segment_bytes, 64 * 1024 * 1024);
        assert_eq!(o.compress_min_bytes, 4096);
        assert_eq!(o.sync_threads, 2);
    }
}
