//! [`verify`]: checks every header, checksum, LSN and compressed payload of
//! every segment, for `argon wal verify` and tests. Read-only.

use std::fs::File;
use std::path::{Path, PathBuf};

use argon_types::Lsn;

use crate::error::{io_at, WalError};
use crate::format::{self, HEADER_LEN};
use crate::recovery::{self, Tail};
use crate::scan::{EndKind, SegmentScan, Step};
use crate::segment;

/// What [`verify`] found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VerifyReport {
    /// Segment files checked (up to and including the one with `first_bad`).
    pub segments: u64,
    /// Valid records before the first bad one.
    pub records: u64,
    /// Bytes of headers and valid records (preallocated space not counted).
    pub bytes: u64,
    /// LSN of the first valid record (`Lsn(0)` if none).
    pub first_lsn: Lsn,
    /// LSN of the last valid record (`Lsn(0)` if none).
    pub last_lsn: Lsn,
    /// The first damaged record or header: what [`crate::WalReader`] or
    /// [`crate::Wal::open`] would report as `Corrupt`. Checking stops there.
    pub first_bad: Option<BadRecord>,
    /// A torn record at the end of the last segment: the remains of a crash
    /// that [`crate::Wal::open`] will cut off. Not damage.
    pub torn_tail: Option<BadRecord>,
}

impl VerifyReport {
    /// No damage (a torn tail is not damage).
    pub fn is_ok(&self) -> bool {
        self.first_bad.is_none()
    }
}

/// Where and why a record (or header) is bad.
#[derive(Clone, Debug, PartialEq)]
pub struct BadRecord {
    pub segment: PathBuf,
    pub offset: u64,
    /// The LSN the record at `offset` has (or should have, since LSNs are
    /// dense); `None` for a bad segment header.
    pub lsn: Option<Lsn>,
    pub reason: String,
}

/// Checks the WAL in `dir`, calling `progress(bytes_done, bytes_total)` as
/// it goes (file sizes, so preallocated space counts). Damage is reported in
/// the `Ok` report; `Err` is for I/O errors only.
pub fn verify(dir: &Path, progress: &mut dyn FnMut(u64, u64)) -> Result<VerifyReport, WalError> {
    let segs = segment::list(dir)?;
    let mut sizes = Vec::with_capacity(segs.len());
    for seg in &segs {
        sizes.push(std::fs::metadata(&seg.path).map_err(io_at(&seg.path))?.len());
    }
    let total: u64 = sizes.iter().sum();
    let mut report = VerifyReport::default();
    let mut dctx = zstd::bulk::Decompressor::new()?;
    let mut done = 0u64;
    let mut expected: Option<Lsn> = None;
    progress(0, total);

    for (i, seg) in segs.iter().enumerate() {
        report.segments += 1;
        let bad = |offset, lsn, reason: String| BadRecord { segment: seg.path.clone(), offset, lsn, reason };
        if let Some(exp) = expected.filter(|&e| e != seg.first_lsn) {
            let why = format!(
                "segment starts at LSN {} but the previous one ended before LSN {exp}",
                seg.first_lsn
            );
            report.first_bad = Some(bad(0, Some(seg.first_lsn), why));
            break;
        }
        let mut scan = match SegmentScan::open(seg) {
            Ok(scan) => scan,
            Err(WalError::Corrupt { reason, .. }) => {
                report.first_bad = Some(bad(0, None, reason));
                break;
            }
            Err(e @ WalError::UnsupportedVersion { .. }) => {
                report.first_bad = Some(bad(0, None, e.to_string()));
                break;
            }
            Err(e) => return Err(e),
        };
        report.bytes += HEADER_LEN as u64;
        let mut last_progress = 0u64;
        let stop = loop {
            match scan.step()? {
                Step::Record { offset, raw } => {
                    if let Err(why) = format::payload(&raw, &mut dctx) {
                        break Some(bad(offset, Some(raw.lsn), why));
                    }
                    report.records += 1;
                    report.bytes += raw.frame_len as u64;
                    if report.first_lsn == Lsn::ZERO {
                        report.first_lsn = raw.lsn;
                    }
                    report.last_lsn = raw.lsn;
                    if offset - last_progress >= 4 << 20 {
                        last_progress = offset;
                        progress(done + offset, total);
                    }
                }
                Step::Corrupt { offset, reason } => break Some(bad(offset, Some(scan.next_lsn()), reason)),
                Step::End { offset, kind } => {
                    let lsn = Some(scan.next_lsn());
                    let is_last = i + 1 == segs.len();
                    if is_last {
                        let file = File::open(&seg.path).map_err(io_at(&seg.path))?;
                        let last = scan.next_lsn().prev();
                        match recovery::classify_tail(&file, &seg.path, offset, kind, last) {
                            Ok(Tail::Clean) => break None,
                            Ok(Tail::Torn { reason }) => {
                                report.torn_tail = Some(bad(offset, lsn, reason));
                                break None;
                            }
                            Err(WalError::Corrupt { reason, .. }) => break Some(bad(offset, lsn, reason)),
                            Err(e) => return Err(e),
                        }
                    }
                    // A sealed segment ends exactly after its last record.
                    break match kind {
                        EndKind::Eof => None,
                        EndKind::Zero => Some(bad(offset, lsn, "zero bytes inside a sealed segment".into())),
                        EndKind::Torn(why) => Some(bad(offset, lsn, why)),
                    };
                }
            }
        };
        expected = Some(scan.next_lsn());
        done += sizes[i];
        progress(done, total);
        if stop.is_some() {
            report.first_bad = stop;
            break;
        }
    }
    Ok(report)
}
