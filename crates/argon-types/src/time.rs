//! Commit timestamps.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Wall-clock commit time in microseconds since the Unix epoch.
///
/// The store makes commit times non-decreasing in LSN order (a clock that
/// steps back is clamped to the previous commit's time), so a time maps to an
/// LSN by binary search.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CommitTime(pub i64);

impl CommitTime {
    /// The current wall-clock time.
    pub fn now() -> CommitTime {
        let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        CommitTime(d.as_micros() as i64)
    }

    /// Milliseconds since the epoch (BSON's datetime unit).
    pub fn as_millis(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// From milliseconds since the epoch.
    pub fn from_millis(ms: i64) -> CommitTime {
        CommitTime(ms.saturating_mul(1000))
    }

    /// As a BSON datetime (millisecond precision).
    pub fn to_bson_datetime(self) -> bson::DateTime {
        bson::DateTime::from_millis(self.as_millis())
    }

    /// RFC 3339 text, for humans and JSON output.
    pub fn to_rfc3339(self) -> String {
        let dt = bson::DateTime::from_millis(self.as_millis());
        dt.try_to_rfc3339_string().unwrap_or_else(|_| self.0.to_string())
    }
}

impl fmt::Display for CommitTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}
