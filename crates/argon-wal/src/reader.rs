//! [`WalReader`]: reads records in LSN order straight from the segment
//! files, without a [`crate::Wal`]: from another thread while the writer
//! runs, or from the CLI on a stopped data dir.
//!
//! The start is found by binary search over segment names (named by first
//! LSN), then a scan of that one segment. At the end of the last segment
//! the reader stops cleanly, whatever is there: zeros, or a record the
//! writer is still writing. Calling `next` again later picks up records
//! committed since, so a reader can also tail the log.

use std::path::{Path, PathBuf};
use std::time::Duration;

use argon_types::Lsn;

use crate::error::WalError;
use crate::format;
use crate::recovery;
use crate::scan::{EndKind, SegmentScan, Step};
use crate::segment::{self, SegmentFile};
use crate::{Record, RecordPos};

/// Re-reads of a stop that looks like damage before it is reported.
const MAX_RECHECKS: u32 = 3;

/// How far past a suspicious stop in the last segment the reader looks for
/// valid records (open and verify look at the whole segment).
const DAMAGE_WINDOW: u64 = 4 << 20;

pub struct WalReader {
    dir: PathBuf,
    from: Lsn,
    /// The segments known so far, in LSN order.
    segments: Vec<SegmentFile>,
    /// Index in `segments` of the segment being read (or to read next).
    idx: usize,
    scan: Option<SegmentScan>,
    /// The previous scan's read buffer, reused by the next one.
    spare_buf: Vec<u8>,
    /// The LSN the next record must have, once a segment has been opened.
    next_lsn: Option<Lsn>,
    /// Times the current stop was re-read because it looked like damage.
    rechecks: u32,
    /// A stop in the last segment already judged to be its clean end (or a
    /// torn tail), so polling there does not judge it again.
    clean_stop: Option<u64>,
    /// Made at the first compressed record (a zstd context is ~100 KiB; a
    /// change stream's reader may never meet one).
    dctx: Option<zstd::bulk::Decompressor<'static>>,
    /// After an error the reader yields nothing more.
    failed: bool,
}

impl WalReader {
    /// A reader of the records with LSN >= `from` in the WAL at `dir`.
    /// `Lsn(0)` reads from the start. Records before the first segment
    /// present are not an error: reading starts at the first one there is.
    pub fn open(dir: &Path, from: Lsn) -> Result<WalReader, WalError> {
        let segments = segment::list(dir)?;
        let idx = segment::find(&segments, from);
        Ok(WalReader {
            dir: dir.to_path_buf(),
            from,
            segments,
            idx,
            scan: None,
            spare_buf: Vec::new(),
            next_lsn: None,
            rechecks: 0,
            clean_stop: None,
            dctx: None,
            failed: false,
        })
    }

    /// Like [`WalReader::open`], starting at `mark` when it lies in the
    /// segment holding `from` (at or before `from`), so the records before
    /// the mark are not scanned.
    pub fn open_near(dir: &Path, from: Lsn, mark: Option<crate::Mark>) -> Result<WalReader, WalError> {
        let mut reader = Self::open(dir, from)?;
        let seg = reader.segments.get(reader.idx).cloned();
        if let (Some(m), Some(seg)) = (mark, seg) {
            if m.lsn <= from && m.segment == seg.first_lsn {
                reader.scan = Some(SegmentScan::open_at(&seg, Vec::new(), m.offset, m.lsn)?);
                reader.next_lsn = Some(m.lsn);
            }
        }
        Ok(reader)
    }

    /// Memory the reader holds for its read buffers and its zstd context
    /// (when it made one). Small while it waits at the live tail.
    pub fn buffered_bytes(&self) -> usize {
        let scan = self.scan.as_ref().map_or(0, SegmentScan::buffer_len);
        // (ZSTD_DCtx is ~95 KiB before any window; counted as that.)
        scan + self.spare_buf.capacity() + self.dctx.as_ref().map_or(0, |_| 95 << 10)
    }

    fn read_next(&mut self) -> Result<Option<(RecordPos, Record)>, WalError> {
        loop {
            if self.scan.is_none() && !self.open_segment()? {
                return Ok(None);
            }
            let Some(scan) = self.scan.as_mut() else { return Ok(None) };
            match scan.step()? {
                Step::Record { offset, raw } => {
                    self.rechecks = 0;
                    self.next_lsn = Some(raw.lsn.next());
                    if raw.lsn < self.from {
                        continue;
                    }
                    // The scan borrows its buffer; name the file from the list.
                    let path = &self.segments[self.idx].path;
                    let payload = if raw.compressed() {
                        let dctx = match &mut self.dctx {
                            Some(d) => d,
                            None => self.dctx.insert(zstd::bulk::Decompressor::new()?),
                        };
                        format::payload(&raw, dctx).map_err(|why| WalError::corrupt(path, offset, why))?
                    } else {
                        raw.stored.to_vec()
                    };
                    let pos = RecordPos {
                        segment: path.clone(),
                        offset,
                        stored_len: raw.stored.len() as u32,
                        compressed: raw.compressed(),
                    };
                    return Ok(Some((pos, Record { lsn: raw.lsn, time: raw.time, payload })));
                }
                Step::Corrupt { offset, reason } => {
                    return Err(WalError::corrupt(scan.path(), offset, reason))
                }
                Step::End { offset, kind } => {
                    if self.idx + 1 >= self.segments.len() {
                        self.relist()?;
                    }
                    let sealed = self.idx + 1 < self.segments.len();
                    let Some(scan) = self.scan.as_mut() else { return Ok(None) };
                    // A later segment exists only once this one was sealed
                    // (cut to its last record and synced): it must end
                    // exactly at end of file.
                    let damage = match (sealed, kind) {
                        (true, EndKind::Eof) => {
                            self.idx += 1;
                            self.spare_buf =
                                self.scan.take().map(SegmentScan::into_buffer).unwrap_or_default();
                            self.rechecks = 0;
                            self.clean_stop = None;
                            continue;
                        }
                        (true, EndKind::Zero) => Some("zero bytes inside a sealed segment".to_string()),
                        (true, EndKind::Torn(why)) => Some(format!("{why} (in a sealed segment)")),
                        (false, _) if self.clean_stop == Some(offset) => None,
                        (false, kind) => tail_damage(scan, offset, kind)?,
                    };
                    let Some(reason) = damage else {
                        // The live tail: stop for now, and re-read from the
                        // disk when asked again.
                        self.clean_stop = Some(offset);
                        self.rechecks = 0;
                        scan.invalidate();
                        return Ok(None);
                    };
                    // We may have read bytes while the writer was writing
                    // them, or a segment just before it was sealed: look
                    // again, a few times, before calling it damage.
                    if self.rechecks < MAX_RECHECKS {
                        if self.rechecks > 0 {
                            std::thread::sleep(Duration::from_millis(1 << self.rechecks));
                        }
                        self.rechecks += 1;
                        scan.invalidate();
                        continue;
                    }
                    return Err(WalError::corrupt(scan.path(), offset, reason));
                }
            }
        }
    }

    /// Opens `segments[idx]` (listing the directory again if it is not known
    /// yet). Returns false when there is no such segment (yet).
    fn open_segment(&mut self) -> Result<bool, WalError> {
        if self.idx >= self.segments.len() {
            self.relist()?;
            if self.idx >= self.segments.len() {
                return Ok(false);
            }
        }
        let seg = &self.segments[self.idx];
        let scan = SegmentScan::open_with_buffer(seg, std::mem::take(&mut self.spare_buf))?;
        if let Some(expected) = self.next_lsn {
            if seg.first_lsn != expected {
                let reason = format!(
                    "segment starts at LSN {} but the previous segment ended before LSN {expected}",
                    seg.first_lsn
                );
                return Err(WalError::corrupt(&seg.path, 0, reason));
            }
        }
        self.next_lsn = Some(seg.first_lsn);
        self.scan = Some(scan);
        Ok(true)
    }

    /// Lists the directory again to see segments created since.
    fn relist(&mut self) -> Result<(), WalError> {
        let current = self.segments.get(self.idx).map(|s| s.first_lsn);
        self.segments = segment::list(&self.dir)?;
        if let Some(first) = current {
            match self.segments.iter().position(|s| s.first_lsn == first) {
                Some(i) => self.idx = i,
                None => {
                    let path = self.dir.join(format::segment_file_name(first));
                    return Err(WalError::corrupt(&path, 0, "segment disappeared while being read"));
                }
            }
        }
        Ok(())
    }
}

/// Why the stop of a scan of the last segment at `offset` is damage rather
/// than the end of the log, if it is: a bad record or non-zero bytes with a
/// valid record after them.
fn tail_damage(scan: &SegmentScan, offset: u64, kind: EndKind) -> Result<Option<String>, WalError> {
    let reason = match kind {
        EndKind::Eof => return Ok(None),
        // The usual live tail: preallocated zeros, already in the buffer.
        EndKind::Zero if scan.buffered_rest_is_zero() => return Ok(None),
        EndKind::Zero => "zeros followed by non-zero bytes".to_string(),
        EndKind::Torn(why) => why,
    };
    let file_len = scan.file().metadata().map_err(crate::error::io_at(scan.path()))?.len();
    let end = file_len.min(offset.saturating_add(DAMAGE_WINDOW));
    let after = scan.next_lsn().prev();
    let found = recovery::find_valid_record_after(scan.file(), offset + 1, end, after)
        .map_err(crate::error::io_at(scan.path()))?;
    Ok(found.map(|(at, lsn)| format!("{reason}; a valid record (LSN {lsn}) follows at offset {at}")))
}

impl Iterator for WalReader {
    type Item = Result<(RecordPos, Record), WalError>;

    /// The next record, `None` at the current end of the log (a later call
    /// may return records written since), or an error, after which the
    /// reader yields `None`.
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.read_next() {
            Ok(item) => item.map(Ok),
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}
