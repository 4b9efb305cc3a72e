//! Sequential scan of the records of one segment file, shared by the reader,
//! recovery and verify.
//!
//! The scan reads the file in large chunks (never a syscall per record),
//! checks each record's length, checksum and LSN, and stops at the first
//! position that does not hold the next record, saying why. What a stop
//! means (clean end, torn tail, corruption) depends on where it is, so that
//! is left to the caller.

use std::fs::File;
use std::path::{Path, PathBuf};

use argon_types::Lsn;

use crate::error::{io_at, WalError};
use crate::format::{self, Decoded, RawRecord, HEADER_LEN, MAX_RECORD_LEN, MIN_RECORD_LEN};
use crate::segment::{self, SegmentFile};

/// Bytes read per refill, at most.
const CHUNK: usize = 256 << 10;

/// Bytes read by the first refill after a stop at the live tail, doubling
/// per refill that finds the file full up to its end, up to [`CHUNK`]. A
/// tailing reader (a change stream) mostly finds a few new records followed
/// by the zeros the writer wrote ahead: reading 256 KiB of them per poll
/// (and checking they are zeros) cost more than the records.
const TAIL_CHUNK: usize = 8 << 10;

/// Why a scan stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndKind {
    /// The file ends exactly here.
    Eof,
    /// A zero length field: unwritten (preallocated) space starts here.
    Zero,
    /// Bytes that are not a whole valid record: a torn write, or damage.
    Torn(String),
}

/// One step of a scan.
#[derive(Debug)]
pub enum Step<'a> {
    Record {
        offset: u64,
        raw: RawRecord<'a>,
    },
    /// No further record at `offset`.
    End {
        offset: u64,
        kind: EndKind,
    },
    /// A record whose checksum is valid but whose LSN is not the next one:
    /// never a torn write, always corruption.
    Corrupt {
        offset: u64,
        reason: String,
    },
}

pub struct SegmentScan {
    file: File,
    path: PathBuf,
    /// `buf[..filled]` holds the file's bytes from offset `buf_start` on.
    /// The buffer is reused (compacted, not reallocated or re-zeroed).
    buf: Vec<u8>,
    filled: usize,
    buf_start: u64,
    /// Offset of the next record.
    pos: u64,
    /// The LSN the next record must have.
    next_lsn: Lsn,
    /// Bytes the next refill reads (see [`TAIL_CHUNK`]).
    chunk: usize,
}

impl SegmentScan {
    /// Opens `seg` and checks its header; the scan starts at the first record.
    pub fn open(seg: &SegmentFile) -> Result<SegmentScan, WalError> {
        Self::open_with_buffer(seg, Vec::new())
    }

    /// Like [`SegmentScan::open`], reusing the buffer of a previous scan
    /// (see [`SegmentScan::into_buffer`]).
    pub fn open_with_buffer(seg: &SegmentFile, buf: Vec<u8>) -> Result<SegmentScan, WalError> {
        let file = File::open(&seg.path).map_err(io_at(&seg.path))?;
        segment::check_header(seg, &file)?;
        Ok(SegmentScan {
            file,
            path: seg.path.clone(),
            buf,
            filled: 0,
            buf_start: HEADER_LEN as u64,
            pos: HEADER_LEN as u64,
            next_lsn: seg.first_lsn,
            chunk: CHUNK,
        })
    }

    /// Like [`SegmentScan::open_with_buffer`], starting at the record at
    /// `offset`, whose LSN is `lsn` (a [`crate::Mark`] the writer left).
    pub fn open_at(seg: &SegmentFile, buf: Vec<u8>, offset: u64, lsn: Lsn) -> Result<SegmentScan, WalError> {
        let mut scan = Self::open_with_buffer(seg, buf)?;
        (scan.buf_start, scan.pos, scan.next_lsn) = (offset, offset, lsn);
        Ok(scan)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn file(&self) -> &File {
        &self.file
    }

    /// The LSN the next record must have.
    pub fn next_lsn(&self) -> Lsn {
        self.next_lsn
    }

    /// Whether the bytes buffered from the stop on are all zeros (cheap: no
    /// read; says nothing of bytes past the buffer).
    pub fn buffered_rest_is_zero(&self) -> bool {
        let rel = (self.pos - self.buf_start) as usize;
        // An OR over all bytes (no early exit) is vectorized.
        self.buf[rel.min(self.filled)..self.filled].iter().fold(0u8, |acc, &b| acc | b) == 0
    }

    /// Bytes of read buffer held.
    pub fn buffer_len(&self) -> usize {
        self.buf.capacity()
    }

    /// The read buffer, for the next segment's scan.
    pub fn into_buffer(self) -> Vec<u8> {
        self.buf
    }

    /// Forgets buffered bytes, so the next step re-reads the file: a file
    /// being written may hold more (or different) bytes at the stop now.
    ///
    /// Also called at the live tail, where the reader waits for more: the
    /// next refill reads [`TAIL_CHUNK`] first, and a large buffer is let go
    /// (a reader parked at the tail, like an idle change stream, then
    /// holds almost no memory).
    pub fn invalidate(&mut self) {
        self.filled = 0;
        self.buf_start = self.pos;
        self.chunk = TAIL_CHUNK;
        if self.buf.len() > TAIL_CHUNK {
            self.buf = Vec::new();
        }
    }

    /// The next record, or why there is none.
    pub fn step(&mut self) -> Result<Step<'_>, WalError> {
        let offset = self.pos;
        let avail = self.fill(4)?;
        if avail == 0 {
            return Ok(Step::End { offset, kind: EndKind::Eof });
        }
        let rel = (self.pos - self.buf_start) as usize;
        if avail < 4 {
            let kind = if self.buf[rel..self.filled].iter().all(|&b| b == 0) {
                EndKind::Zero
            } else {
                EndKind::Torn(format!("{avail} stray bytes at the end of the file"))
            };
            return Ok(Step::End { offset, kind });
        }
        let len = format::peek_len(&self.buf[rel..]);
        if len == 0 {
            return Ok(Step::End { offset, kind: EndKind::Zero });
        }
        if !(MIN_RECORD_LEN..=MAX_RECORD_LEN).contains(&len) {
            let why = format!("record length {len} outside {MIN_RECORD_LEN}..={MAX_RECORD_LEN}");
            return Ok(Step::End { offset, kind: EndKind::Torn(why) });
        }
        let frame_len = 4 + len as usize;
        let avail = self.fill(frame_len)?;
        if avail < frame_len {
            let why = format!("record of {frame_len} bytes is cut off by the end of the file after {avail}");
            return Ok(Step::End { offset, kind: EndKind::Torn(why) });
        }
        let rel = (self.pos - self.buf_start) as usize;
        let raw = match format::decode_record(&self.buf[rel..rel + frame_len]) {
            Decoded::Record(raw) => raw,
            Decoded::Bad(why) => return Ok(Step::End { offset, kind: EndKind::Torn(why) }),
            // Excluded by the checks above, but say so rather than panic.
            Decoded::Zero | Decoded::Incomplete { .. } => {
                return Ok(Step::End { offset, kind: EndKind::Torn("undecodable record".into()) })
            }
        };
        if raw.lsn != self.next_lsn {
            let reason = format!("expected LSN {}, found a valid record with LSN {}", self.next_lsn, raw.lsn);
            return Ok(Step::Corrupt { offset, reason });
        }
        self.pos += frame_len as u64;
        self.next_lsn = self.next_lsn.next();
        Ok(Step::Record { offset, raw })
    }

    /// Makes at least `need` bytes from `pos` available in `buf` if the file
    /// has them; returns how many are available.
    fn fill(&mut self, need: usize) -> Result<usize, WalError> {
        let rel = (self.pos - self.buf_start) as usize;
        if rel + need <= self.filled {
            return Ok(self.filled - rel);
        }
        // Keep the unread bytes, at the front.
        self.buf.copy_within(rel..self.filled, 0);
        self.filled -= rel;
        self.buf_start = self.pos;
        let want = need.max(self.chunk).max(self.filled + 1);
        if self.buf.len() < want {
            // vec! of zeros is calloc: no byte-by-byte fill, even unoptimized.
            let mut bigger = vec![0u8; want];
            bigger[..self.filled].copy_from_slice(&self.buf[..self.filled]);
            self.buf = bigger;
        }
        let n =
            segment::read_up_to(&self.file, &mut self.buf[self.filled..want], self.pos + self.filled as u64)
                .map_err(io_at(&self.path))?;
        if self.filled + n == want {
            // The file had all of it: read more at a time.
            self.chunk = (self.chunk * 2).min(CHUNK);
        }
        self.filled += n;
        Ok(self.filled)
    }
}
