//! Log sequence numbers and timeline ids.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A log sequence number: the position of a commit in the data dir's WAL.
///
/// LSNs are global to a data dir (not per project): every commit, whatever
/// project or branch it touches, takes the next LSN. `Lsn(0)` means "before
/// anything was written". LSNs are dense (1, 2, 3, ...) so that users can type
/// them (`app~main@1500`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Lsn(pub u64);

impl Lsn {
    /// The LSN before the first commit.
    pub const ZERO: Lsn = Lsn(0);
    /// Greater than every real LSN; used as "no upper bound".
    pub const MAX: Lsn = Lsn(u64::MAX);

    /// The LSN that follows this one.
    pub fn next(self) -> Lsn {
        Lsn(self.0.checked_add(1).expect("LSN overflow"))
    }

    /// The LSN before this one (saturating at zero).
    pub fn prev(self) -> Lsn {
        Lsn(self.0.saturating_sub(1))
    }

    /// Big-endian bytes, so byte order equals numeric order.
    pub fn to_be_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }

    /// Bytes that sort in *descending* LSN order, so the newest version of a
    /// key comes first in an ordered scan.
    pub fn to_desc_bytes(self) -> [u8; 8] {
        (u64::MAX - self.0).to_be_bytes()
    }

    /// Inverse of [`Lsn::to_desc_bytes`].
    pub fn from_desc_bytes(b: [u8; 8]) -> Lsn {
        Lsn(u64::MAX - u64::from_be_bytes(b))
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for Lsn {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<u64>().map(Lsn)
    }
}

/// The identity of a timeline: one line of history. A branch is a name that
/// points at a timeline; resetting a branch points it at a new timeline whose
/// ancestor is the old one at the reset LSN, so no history is destroyed.
///
/// Ids are allocated from a counter in the data dir (dense and small, so they
/// make short keys), never reused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TimelineId(pub u64);

impl fmt::Display for TimelineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tl{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn desc_bytes_sort_newest_first() {
        let a = Lsn(5).to_desc_bytes();
        let b = Lsn(6).to_desc_bytes();
        assert!(b < a);
        assert_eq!(Lsn::from_desc_bytes(a), Lsn(5));
    }

    #[test]
    fn parse_and_display() {
        let l: Lsn = "1500".parse().unwrap();
        assert_eq!(l, Lsn(1500));
        assert_eq!(l.to_string(), "1500");
        assert!("x".parse::<Lsn>().is_err());
    }
}
