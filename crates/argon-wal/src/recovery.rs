//! Crash recovery: finding the true end of the last segment.
//!
//! After a crash the last segment can end in a torn record (a write cut
//! short, or pages of an unsynced write that never reached the disk),
//! followed by zeros (preallocated space) or garbage. Such a tail was never
//! acknowledged as durable, so it is cut off. But a bad record that is
//! *followed by a valid one* cannot be a torn tail, since writes are
//! sequential: it is damage to acknowledged data, and is reported, never
//! skipped.
//!
//! ```text
//!  header | rec | rec | rec | torn.. | 0 0 0 0 0 0 0 0 0 0 0   -> cut at torn
//!  header | rec | rec | rec | 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0   -> clean end
//!  header | rec | bad | rec | rec | 0 0 0 0 0 0 0 0 0 0 0 0   -> Corrupt
//! ```
//!
//! Caveat: a power loss in the middle of an unsynced multi-page write may
//! persist a later page but not an earlier one; the later records then look
//! like "valid records after a bad one" and open() reports Corrupt although
//! nothing acknowledged was lost. Refusing is the safe side of that choice.

use std::fs::File;
use std::path::Path;

use argon_types::Lsn;

use crate::error::{io_at, WalError};
use crate::format::{self, Decoded, HEADER_LEN, MAX_RECORD_LEN, MIN_RECORD_LEN, RECORD_OVERHEAD};
use crate::scan::{EndKind, SegmentScan, Step};
use crate::segment::{self, SegmentFile};

/// What the bytes after the last valid record of the last segment are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tail {
    /// Nothing, or only zeros.
    Clean,
    /// A torn record or garbage with no valid record after it: to be cut off.
    Torn { reason: String },
}

/// The recovered state of the last segment.
#[derive(Debug)]
pub struct Recovered {
    /// The last valid record's LSN (first LSN - 1 for a segment without records).
    pub last_lsn: Lsn,
    /// Offset just past the last valid record.
    pub end: u64,
    pub tail: Tail,
    /// Marks left along the way (see [`crate::Mark`]), as the writer would
    /// have: readers of this segment need not scan it from its start.
    pub marks: Vec<crate::Mark>,
}

/// Scans the last segment to its end and decides what the tail is.
pub fn recover_last_segment(seg: &SegmentFile) -> Result<Recovered, WalError> {
    let mut scan = SegmentScan::open(seg)?;
    let mut marks: Vec<crate::Mark> = Vec::new();
    let mut marked = HEADER_LEN as u64;
    loop {
        match scan.step()? {
            Step::Record { offset, raw } => {
                if offset >= marked + crate::MARK_EVERY {
                    marked = offset;
                    marks.push(crate::Mark { lsn: raw.lsn, segment: seg.first_lsn, offset });
                }
            }
            Step::Corrupt { offset, reason } => return Err(WalError::corrupt(&seg.path, offset, reason)),
            Step::End { offset, kind } => {
                let last_lsn = scan.next_lsn().prev();
                let tail = classify_tail(scan.file(), &seg.path, offset, kind, last_lsn)?;
                return Ok(Recovered { last_lsn, end: offset, tail, marks });
            }
        }
    }
}

/// Decides whether the stop of a scan of a *last* segment, at `offset`
/// after the record with `last_lsn`, is a clean end, a torn tail, or
/// corruption (an error).
pub fn classify_tail(
    file: &File,
    path: &Path,
    offset: u64,
    kind: EndKind,
    last_lsn: Lsn,
) -> Result<Tail, WalError> {
    let file_len = file.metadata().map_err(io_at(path))?.len();
    let reason = match kind {
        EndKind::Eof => return Ok(Tail::Clean),
        EndKind::Zero => match first_nonzero(file, offset, file_len).map_err(io_at(path))? {
            None => return Ok(Tail::Clean),
            Some(at) => format!("zeros followed by non-zero bytes at offset {at}"),
        },
        EndKind::Torn(reason) => reason,
    };
    match find_valid_record_after(file, offset + 1, file_len, last_lsn).map_err(io_at(path))? {
        Some((at, lsn)) => Err(WalError::corrupt(
            path,
            offset,
            format!(
                "{reason}; a valid record (LSN {lsn}) follows at offset {at}, \
                 so this is damage, not a torn tail"
            ),
        )),
        None => Ok(Tail::Torn { reason }),
    }
}

/// Window of the forward scans.
const WINDOW: usize = 1 << 20;

/// The offset of the first non-zero byte in `from..end`.
fn first_nonzero(file: &File, from: u64, end: u64) -> std::io::Result<Option<u64>> {
    let mut buf = vec![0u8; WINDOW.min(end.saturating_sub(from) as usize)];
    let mut at = from;
    while at < end {
        let want = WINDOW.min((end - at) as usize);
        let n = segment::read_up_to(file, &mut buf[..want], at)?;
        if let Some(i) = buf[..n].iter().position(|&b| b != 0) {
            return Ok(Some(at + i as u64));
        }
        if n < want {
            break;
        }
        at += n as u64;
    }
    Ok(None)
}

/// Looks at every byte offset in `from..end` for a record with a valid
/// checksum and an LSN after `after`; returns the first found.
///
/// Cheap on the usual tails: zero runs are skipped at memchr speed, and a
/// candidate needs a plausible length and LSN before its checksum is
/// computed.
pub fn find_valid_record_after(
    file: &File,
    from: u64,
    end: u64,
    after: Lsn,
) -> std::io::Result<Option<(u64, Lsn)>> {
    // No more records than that can fit in the rest of the file.
    let max_lsn = after.0.saturating_add((end.saturating_sub(from)) / RECORD_OVERHEAD as u64 + 1);
    let mut win_start = from;
    // Each window overlaps the next by a record header, so a candidate near
    // the window's end still has its header in the buffer.
    let mut window = vec![0u8; (WINDOW + RECORD_OVERHEAD).min(end.saturating_sub(from) as usize)];
    while win_start + (RECORD_OVERHEAD as u64) <= end {
        let want = window.len().min((end - win_start) as usize);
        let n = segment::read_up_to(file, &mut window[..want], win_start)?;
        let buf = &window[..n];
        let scan_to = WINDOW.min(n);
        let mut i = 0;
        while i < scan_to {
            if buf[i] == 0 {
                // A record's length field has a non-zero byte; the earliest
                // start that can include the next non-zero byte is 3 before it.
                match buf[i..].iter().position(|&b| b != 0) {
                    None => break,
                    Some(nz) => i = (i + nz).saturating_sub(3).max(i),
                }
                if i >= scan_to {
                    break;
                }
            }
            let at = win_start + i as u64;
            if let Some(lsn) = valid_record_at(file, &buf[i..], at, end, after, max_lsn)? {
                return Ok(Some((at, lsn)));
            }
            i += 1;
        }
        if n < want {
            break;
        }
        win_start += WINDOW as u64;
    }
    Ok(None)
}

/// Whether a valid record with an LSN in `after+1..=max_lsn` starts at `at`
/// (`head` holds the bytes from `at` that are in memory).
fn valid_record_at(
    file: &File,
    head: &[u8],
    at: u64,
    end: u64,
    after: Lsn,
    max_lsn: u64,
) -> std::io::Result<Option<Lsn>> {
    if head.len() < RECORD_OVERHEAD {
        return Ok(None);
    }
    let len = format::peek_len(head);
    if !(MIN_RECORD_LEN..=MAX_RECORD_LEN).contains(&len) || at + 4 + len as u64 > end {
        return Ok(None);
    }
    let lsn = format::peek_lsn(head);
    if lsn <= after || lsn.0 > max_lsn {
        return Ok(None);
    }
    let frame_len = 4 + len as usize;
    let owned;
    let frame = if head.len() >= frame_len {
        &head[..frame_len]
    } else {
        let mut b = vec![0u8; frame_len];
        if segment::read_up_to(file, &mut b, at)? < frame_len {
            return Ok(None);
        }
        owned = b;
        &owned[..]
    };
    Ok(matches!(format::decode_record(frame), Decoded::Record(_)).then_some(lsn))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use argon_types::CommitTime;

    use super::*;

    fn file_with(bytes: &[u8]) -> File {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(bytes).unwrap();
        f
    }

    fn record(lsn: u64, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        format::encode_record(&mut v, Lsn(lsn), CommitTime(0), payload, None);
        v
    }

    #[test]
    fn finds_a_valid_record_hidden_after_garbage_and_zeros() {
        let mut bytes = vec![0xAB; 100];
        bytes.extend_from_slice(&[0u8; 5000]);
        let at = bytes.len() as u64;
        bytes.extend_from_slice(&record(8, b"hello"));
        bytes.extend_from_slice(&[0u8; 100]);
        let f = file_with(&bytes);
        let end = bytes.len() as u64;
        assert_eq!(find_valid_record_after(&f, 0, end, Lsn(7)).unwrap(), Some((at, Lsn(8))));
        // An old LSN does not count: only records after the last good one do.
        assert_eq!(find_valid_record_after(&f, 0, end, Lsn(8)).unwrap(), None);
        // Nor does a record beyond the scanned range.
        assert_eq!(find_valid_record_after(&f, at + 1, end, Lsn(7)).unwrap(), None);
    }

    #[test]
    fn finds_a_record_that_straddles_scan_windows() {
        let mut bytes = vec![0x11; WINDOW - 10];
        let at = bytes.len() as u64;
        bytes.extend_from_slice(&record(3, &[7u8; 300]));
        let f = file_with(&bytes);
        assert_eq!(find_valid_record_after(&f, 0, bytes.len() as u64, Lsn(2)).unwrap(), Some((at, Lsn(3))));
    }

    #[test]
    fn zeros_then_garbage_is_torn_and_zeros_alone_are_clean() {
        let path = Path::new("seg");
        let zeros = file_with(&[0u8; 300]);
        assert_eq!(classify_tail(&zeros, path, 0, EndKind::Zero, Lsn(1)).unwrap(), Tail::Clean);
        let mut bytes = vec![0u8; 300];
        bytes[200] = 1;
        let f = file_with(&bytes);
        assert!(matches!(classify_tail(&f, path, 0, EndKind::Zero, Lsn(1)).unwrap(), Tail::Torn { .. }));
    }
}
