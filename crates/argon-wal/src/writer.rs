//! The writer: [`Wal`], owned by the store's single commit thread.
//!
//! ```text
//!  append ──► buf (encoded records, in memory) ──commit──► one write() ──► fdatasync (Always)
//!                                                              │           background thread (Interval)
//!                                                              └─ segment full? seal: cut, fsync; create next
//! ```
//!
//! `append` only encodes into a reused buffer: no syscall per record. A
//! group of records reaches the OS with one positioned write at `commit`,
//! then (per [`SyncMode`]) one fdatasync makes the whole group durable.
//! Segments are preallocated, so that fdatasync rarely has file-size
//! metadata to write; the true end is the write offset kept here, and after
//! a crash, the first zero length field (see `recovery`).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use argon_types::{CommitTime, Lsn};

use crate::durable;
use crate::error::{io_at, WalError};
use crate::format::{self, HEADER_LEN, MAX_PAYLOAD};
use crate::options::{SyncMode, WalOptions};
use crate::reader::WalReader;
use crate::recovery::{self, Tail};
use crate::segment::{self, SegmentFile};
use crate::syncer::{Mark, Shared, SyncTarget, Syncer, MARK_EVERY};
use crate::WalStats;

/// The page size the early write-out rounds to (the OS page on x86-64 and
/// most arm64 kernels; elsewhere only the rounding is off).
const PAGE: u64 = 4096;

/// Above this, the group buffer is given back to the allocator after a
/// commit, so one huge group does not pin its memory forever.
const BUF_KEEP: usize = 16 << 20;

/// The write-ahead log of one data dir, open for writing.
///
/// Owned by one thread (the store's commit thread); readers on other threads
/// use [`WalReader`], which reads the files directly.
pub struct Wal {
    dir: PathBuf,
    opts: WalOptions,
    active: Active,
    /// The segment sealed last, while its tail is still cached for readers
    /// following the log: dropped once the active one holds [`CACHE_KEEP`].
    retired: Option<Active>,
    /// Encoded records appended since the last commit.
    buf: Vec<u8>,
    /// Where in `buf` a new segment starts, and its first LSN: rolls are
    /// decided at append but done at commit, so nothing reaches the files
    /// before `commit()`.
    rolls: Vec<(usize, Lsn)>,
    /// Size the segment the next record goes to will have, counting the
    /// records in `buf` after the last roll.
    seg_len: u64,
    /// `None` when compression is disabled.
    compressor: Option<zstd::bulk::Compressor<'static>>,
    last_lsn: Lsn,
    /// The last LSN handed to the OS.
    written_lsn: Lsn,
    sealed_segments: u64,
    sealed_bytes: u64,
    records_appended: u64,
    shared: Arc<Shared>,
    /// Background sync thread of `SyncMode::Interval`.
    _syncer: Option<Syncer>,
}

/// Makes what a [`Wal`] has written durable, from another thread (see
/// [`Wal::sync_handle`]). Segments sealed by the writer are synced when
/// sealed, so syncing the active segment covers every written LSN.
#[derive(Clone)]
pub struct SyncHandle {
    shared: Arc<Shared>,
    slots: usize,
}

impl SyncHandle {
    /// The last [`Mark`] at or before `lsn`: where a reader of `lsn` may
    /// start instead of its segment's first record
    /// ([`WalReader::open_near`]). `None` for LSNs before any mark.
    pub fn mark_at_or_before(&self, lsn: Lsn) -> Option<Mark> {
        self.shared.mark_at_or_before(lsn)
    }

    /// Bytes of headers and records in the segments (preallocated space
    /// not counted), as of the last group written: [`WalStats::bytes`]
    /// from any thread.
    pub fn written_bytes(&self) -> u64 {
        self.shared.written_bytes()
    }

    /// fdatasyncs the active segment if anything written is not yet durable;
    /// returns the durable LSN. A failure poisons the WAL (the writer then
    /// refuses all writes), and so does any later call.
    pub fn sync(&self) -> Result<Lsn, WalError> {
        if self.shared.is_poisoned() {
            return Err(WalError::Poisoned);
        }
        let (file, upto) = self.shared.target();
        if upto > self.shared.durable_lsn() {
            self.shared.sync(&file, upto)?;
        }
        Ok(self.shared.durable_lsn())
    }

    /// The LSN known durable.
    pub fn durable_lsn(&self) -> Lsn {
        self.shared.durable_lsn()
    }

    /// Takes the [`Mark`]s a reader found scanning the whole of sealed
    /// segment `segment` (first LSN) of the WAL at `dir`, which had none (a
    /// segment sealed before mark files existed): kept for this process's
    /// readers, and in a mark file for the next. `marks` must be the
    /// segment's records at least [`MARK_EVERY`] bytes apart, in order.
    pub fn learn_marks(&self, dir: &Path, segment: Lsn, marks: Vec<Mark>) {
        if marks.iter().any(|m| m.segment != segment) || !self.shared.learn_marks(segment, &marks) {
            return;
        }
        let seg = crate::segment::SegmentFile {
            first_lsn: segment,
            path: dir.join(format::segment_file_name(segment)),
        };
        if let Err(e) = crate::marks::write(&seg, &marks) {
            tracing::debug!(segment = %seg.path.display(), "cannot write the segment's mark file: {e}");
        }
    }

    /// The last LSN handed to the OS: what a sync started now makes durable.
    pub fn written_lsn(&self) -> Lsn {
        self.shared.written_lsn()
    }

    /// How many threads can sync at once, each through its own
    /// [`sync_slot`](Self::sync_slot) ([`WalOptions::sync_threads`]).
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// [`sync`](Self::sync) through descriptor `slot` (`0..slots()`) of the
    /// active segment, so that several threads can each have an fdatasync
    /// in flight. Each thread must use its own slot: Linux reports a
    /// writeback error once per open file description, and a thread that
    /// shared one could see success for pages whose error another consumed.
    pub fn sync_slot(&self, slot: usize) -> Result<Lsn, WalError> {
        if self.shared.is_poisoned() {
            return Err(WalError::Poisoned);
        }
        let (files, upto) = self.shared.slot_target();
        if upto > self.shared.durable_lsn() {
            let file = files.get(slot).ok_or_else(|| {
                WalError::Io(std::io::Error::other(format!("no sync slot {slot} of {}", files.len())))
            })?;
            self.shared.sync(file, upto)?;
        }
        Ok(self.shared.durable_lsn())
    }

    /// fdatasyncs (and fsyncs of sealed segments) since the WAL was opened.
    pub fn fsyncs(&self) -> u64 {
        self.shared.fsyncs()
    }

    /// Time spent in the commit fdatasyncs since open (their mean latency
    /// is this over the growth of [`fsyncs`](Self::fsyncs)).
    pub fn fsync_time(&self) -> std::time::Duration {
        self.shared.fsync_time()
    }
}

/// The segment being appended to.
struct Active {
    seg: SegmentFile,
    file: Arc<File>,
    /// Bytes handed to the OS: the offset of the next record.
    written: u64,
    /// The file holds written bytes (records or zeros) up to here; beyond
    /// it the preallocated blocks are still "unwritten" extents.
    zeroed: u64,
    /// Offset of the last [`Mark`] left in this segment (its start: none).
    marked: u64,
    /// The page cache was asked to drop this segment's pages below here.
    uncached: u64,
}

impl Active {
    fn new(seg: SegmentFile, file: File, written: u64) -> Active {
        Active { seg, file: Arc::new(file), written, zeroed: written, marked: HEADER_LEN as u64, uncached: 0 }
    }

    /// Drops the cached pages of records more than `keep` bytes behind the
    /// tail. Best-effort: pages still dirty or on their way to disk stay;
    /// each call covers the last [`ZERO_CHUNK`] of the previous one again,
    /// by when they are usually clean.
    fn drop_behind(&mut self, keep: u64) {
        let to = self.written.saturating_sub(keep) / PAGE * PAGE;
        if to <= self.uncached {
            return;
        }
        let from = self.uncached.saturating_sub(ZERO_CHUNK);
        durable::drop_cached(&self.file, from, to - from);
        self.uncached = to;
    }
}

/// Written records stay in the page cache this far behind the tail, for
/// readers following the log (change streams); older pages are dropped.
///
/// Why drop them: the log is written once and read back rarely, and every
/// page it keeps cached is one the next write takes fresh from the kernel.
/// On this VM memory the guest frees is handed back to the host (free page
/// reporting), so a fresh page costs a host fault on first touch: ~2.4 µs
/// of CPU per KiB of log written, against ~0.6 µs when the writes reuse the
/// pages just dropped (docs/BENCHMARKS.md, session 18).
const CACHE_KEEP: u64 = 4 << 20;

/// `n` (at least one) more descriptors of a segment, for the threads of
/// [`SyncHandle::sync_slot`].
fn open_sync_slots(path: &Path, n: usize) -> Result<Arc<[File]>, WalError> {
    (0..n.max(1)).map(|_| File::open(path).map_err(io_at(path))).collect::<Result<Vec<_>, _>>().map(Arc::from)
}

/// Zeros are written ahead of the records a chunk at a time, when fewer
/// than [`ZERO_LOW_WATER`] zeroed bytes are left ahead.
///
/// Why: fallocate leaves "unwritten" extents, and the first write into one
/// makes the next fdatasync also write the extent tree (on this machine's
/// ext4, 4 KiB appends + fdatasync: p50 ~300 µs into fallocated space,
/// ~200 µs into zero-filled space). Zeroing ahead in large chunks pays that
/// once per chunk instead of on almost every group commit.
const ZERO_CHUNK: u64 = 1 << 20;
const ZERO_LOW_WATER: u64 = 256 << 10;
static ZEROS: [u8; 64 << 10] = [0; 64 << 10];

impl Wal {
    /// Opens or creates the WAL in `dir` (creating the directory).
    ///
    /// Recovery checks the header of every segment and scans the last one:
    /// a torn or corrupt record at its tail (and anything after it) is cut
    /// off with a warning naming segment and offset. A bad record followed
    /// by valid ones, or a bad segment header, is [`WalError::Corrupt`].
    /// Records of earlier segments are not read here (that would make open
    /// O(WAL size)); [`WalReader`] and [`crate::verify`] check them.
    pub fn open(dir: &Path, opts: WalOptions) -> Result<Wal, WalError> {
        durable::create_dir_durably(dir)?;
        segment::remove_leftover_tmp(dir)?;
        let segs = segment::list(dir)?;
        let prealloc = opts.segment_bytes.max(HEADER_LEN as u64);

        let (active, last_lsn, sealed_bytes, marks) = match segs.split_last() {
            None => {
                let first = opts.first_lsn.max(Lsn(1));
                let (seg, file) = segment::create(dir, first, prealloc)?;
                (Active::new(seg, file, HEADER_LEN as u64), first.prev(), 0, Vec::new())
            }
            Some((last, sealed)) => {
                let mut sealed_bytes = 0;
                let mut sealed_marks = Vec::new();
                for seg in sealed {
                    let f = File::open(&seg.path).map_err(io_at(&seg.path))?;
                    segment::check_header(seg, &f)?;
                    let len = f.metadata().map_err(io_at(&seg.path))?.len();
                    sealed_bytes += len;
                    sealed_marks.extend(crate::marks::read(seg, len).unwrap_or_default());
                }
                let rec = recovery::recover_last_segment(last)?;
                let path = &last.path;
                let file = OpenOptions::new().read(true).write(true).open(path).map_err(io_at(path))?;
                if let Tail::Torn { reason } = &rec.tail {
                    tracing::warn!(
                        segment = %path.display(),
                        offset = rec.end,
                        "truncating torn WAL tail after LSN {}: {reason}",
                        rec.last_lsn
                    );
                    file.set_len(rec.end).map_err(io_at(path))?;
                }
                durable::preallocate(&file, prealloc);
                // What recovery kept may be only in the page cache (the
                // process was killed, not the machine): make it durable
                // before anything new is acknowledged on top of it.
                file.sync_all().map_err(io_at(path))?;
                let mut active = Active::new(last.clone(), file, rec.end);
                active.marked = rec.marks.last().map_or(active.marked, |m| m.offset);
                sealed_marks.extend(rec.marks);
                (active, rec.last_lsn, sealed_bytes, sealed_marks)
            }
        };

        let slots = open_sync_slots(&active.seg.path, opts.sync_threads)?;
        let target = SyncTarget { file: Arc::clone(&active.file), slots, written_lsn: last_lsn };
        let shared = Arc::new(Shared::new(target, last_lsn));
        for mark in marks {
            shared.add_mark(mark);
        }
        shared.set_written_bytes(sealed_bytes + active.written);
        shared.count_fsync();
        let syncer = match opts.sync {
            SyncMode::Interval(every) => Some(Syncer::spawn(Arc::clone(&shared), every)?),
            SyncMode::Always | SyncMode::Never => None,
        };
        let compressor =
            if opts.compress_min_bytes == usize::MAX { None } else { Some(zstd::bulk::Compressor::new(1)?) };
        Ok(Wal {
            dir: dir.to_path_buf(),
            seg_len: active.written,
            active,
            retired: None,
            buf: Vec::with_capacity(64 << 10),
            rolls: Vec::new(),
            compressor,
            last_lsn,
            written_lsn: last_lsn,
            sealed_segments: segs.len().saturating_sub(1) as u64,
            sealed_bytes,
            records_appended: 0,
            shared,
            _syncer: syncer,
            opts,
        })
    }

    /// LSN of the last record appended (`Lsn(0)` if the WAL is empty).
    pub fn last_lsn(&self) -> Lsn {
        self.last_lsn
    }

    /// LSN of the last record known durable (fdatasync'd).
    pub fn durable_lsn(&self) -> Lsn {
        self.shared.durable_lsn()
    }

    /// Appends one record with the next LSN and returns that LSN.
    ///
    /// Buffered in memory: not written, readable or durable until
    /// [`Wal::commit`]; records appended but not committed when the `Wal` is
    /// dropped are discarded (and their LSNs reused). A record that would
    /// take its segment past `segment_bytes` starts a new segment.
    pub fn append(&mut self, time: CommitTime, payload: &[u8]) -> Result<Lsn, WalError> {
        self.check_writable()?;
        if payload.len() > MAX_PAYLOAD {
            return Err(WalError::RecordTooLarge { len: payload.len(), max: MAX_PAYLOAD });
        }
        let lsn = self.last_lsn.next();
        let mark = self.buf.len();
        let cx = if payload.len() >= self.opts.compress_min_bytes { self.compressor.as_mut() } else { None };
        format::encode_record(&mut self.buf, lsn, time, payload, cx);
        let frame_len = (self.buf.len() - mark) as u64;

        let has_records = self.seg_len > HEADER_LEN as u64;
        if has_records && self.seg_len + frame_len > self.opts.segment_bytes {
            self.rolls.push((mark, lsn));
            self.seg_len = HEADER_LEN as u64;
        }
        self.seg_len += frame_len;
        self.last_lsn = lsn;
        self.records_appended += 1;
        Ok(lsn)
    }

    /// Ends a group: writes the buffered records to the OS with one write
    /// call, then per [`SyncMode`]: `Always` fdatasyncs now (the group is
    /// durable when this returns); `Interval` leaves it to the background
    /// thread; `Never` does not sync. Returns the durable LSN.
    pub fn commit(&mut self) -> Result<Lsn, WalError> {
        self.check_writable()?;
        self.write_group()?;
        if self.opts.sync == SyncMode::Always {
            self.sync_active()?;
        }
        Ok(self.shared.durable_lsn())
    }

    /// Ends a group without syncing it, whatever the mode: hands the buffered
    /// records to the OS with one write call and returns the last LSN
    /// written. Not durable until a [`SyncHandle::sync`] (typically on
    /// another thread, overlapping the next group's work) or [`Wal::sync`].
    pub fn write(&mut self) -> Result<Lsn, WalError> {
        self.check_writable()?;
        self.write_group()?;
        Ok(self.written_lsn)
    }

    /// A handle that fdatasyncs, from any thread, what this writer has
    /// written so far. It lets the store pipeline group commits: while one
    /// group's fdatasync runs, the commit thread prepares the next group.
    pub fn sync_handle(&self) -> SyncHandle {
        SyncHandle { shared: Arc::clone(&self.shared), slots: self.opts.sync_threads.max(1) }
    }

    /// Writes everything appended and fdatasyncs it, whatever the mode
    /// (for shutdown and checkpoints). Returns the durable LSN.
    pub fn sync(&mut self) -> Result<Lsn, WalError> {
        self.check_writable()?;
        self.write_group()?;
        self.sync_active()?;
        Ok(self.shared.durable_lsn())
    }

    /// Reads the records with LSN >= `from` that have been committed (written
    /// to the OS), in order, across segments.
    pub fn reader(&self, from: Lsn) -> Result<WalReader, WalError> {
        WalReader::open(&self.dir, from)
    }

    pub fn stats(&self) -> WalStats {
        WalStats {
            segments: self.sealed_segments + 1,
            bytes: self.sealed_bytes + self.active.written,
            records_appended: self.records_appended,
            fsyncs: self.shared.fsyncs(),
            last_lsn: self.last_lsn,
            durable_lsn: self.shared.durable_lsn(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn options(&self) -> &WalOptions {
        &self.opts
    }

    fn check_writable(&self) -> Result<(), WalError> {
        if self.shared.is_poisoned() {
            Err(WalError::Poisoned)
        } else {
            Ok(())
        }
    }

    /// Writes `buf[range]`, records from LSN `first` on, at the end of the
    /// active segment, leaving a [`Mark`] when [`MARK_EVERY`] bytes passed
    /// since the last. A failed write poisons: how much of it reached the
    /// file is unknown.
    fn write_range(&mut self, range: std::ops::Range<usize>, first: Lsn) -> Result<(), WalError> {
        if range.is_empty() {
            return Ok(());
        }
        let len = range.len() as u64;
        let at = self.active.written;
        if let Err(e) = self.active.file.write_all_at(&self.buf[range], at) {
            self.shared.poison();
            return Err(io_at(&self.active.seg.path)(e));
        }
        self.active.written += len;
        if self.opts.early_writeback && self.opts.sync == SyncMode::Always {
            // Only pages this write completed: a partial last page would be
            // written again by the next group while still on its way (and
            // a page on its way is skipped, so it would stay dirty).
            let (from, to) = (at / PAGE * PAGE, (at + len) / PAGE * PAGE);
            if to > from {
                durable::start_writeback(&self.active.file, from, to - from);
            }
        }
        if at >= self.active.marked + MARK_EVERY {
            self.active.marked = at;
            self.shared.add_mark(Mark { lsn: first, segment: self.active.seg.first_lsn, offset: at });
        }
        Ok(())
    }

    /// Hands every appended record to the OS: one write call, or one per
    /// segment when the group crosses into new segments.
    fn write_group(&mut self) -> Result<(), WalError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let mut from = 0;
        let mut first = self.written_lsn.next();
        for (at, first_lsn) in std::mem::take(&mut self.rolls) {
            self.write_range(from..at, first)?;
            self.written_lsn = first_lsn.prev();
            self.roll(first_lsn)?;
            (from, first) = (at, first_lsn);
        }
        self.write_range(from..self.buf.len(), first)?;
        self.shared.set_written_bytes(self.sealed_bytes + self.active.written);
        self.zero_ahead();
        self.buf.clear();
        if self.buf.capacity() > BUF_KEEP {
            self.buf = Vec::with_capacity(64 << 10);
        }
        self.written_lsn = self.last_lsn;
        // For the Interval thread and for `SyncHandle`s.
        self.shared.set_written(self.written_lsn);
        Ok(())
    }

    /// Keeps written zeros ahead of the records ([`ZERO_CHUNK`]),
    /// within the preallocated size. Best-effort: the space past the last
    /// record is never read as records (recovery stops at a zero length),
    /// so a failed or missing zero write costs only speed.
    fn zero_ahead(&mut self) {
        let a = &mut self.active;
        a.zeroed = a.zeroed.max(a.written);
        let limit = self.opts.segment_bytes;
        if a.zeroed >= limit || a.zeroed >= a.written + ZERO_LOW_WATER {
            return;
        }
        // Once per chunk, just before its zeros take pages: the pages of
        // old records go back to the kernel, to be taken again at once.
        a.drop_behind(CACHE_KEEP);
        if a.written >= CACHE_KEEP {
            if let Some(mut sealed) = self.retired.take() {
                sealed.drop_behind(0);
            }
        }
        let end = (a.zeroed + ZERO_CHUNK).min(limit);
        let start = a.zeroed;
        while a.zeroed < end {
            let n = (end - a.zeroed).min(ZEROS.len() as u64) as usize;
            if let Err(e) = a.file.write_all_at(&ZEROS[..n], a.zeroed) {
                tracing::debug!("zeroing WAL space ahead failed ({e}); the segment stays as preallocated");
                a.zeroed = limit;
                return;
            }
            a.zeroed += n as u64;
        }
        if self.opts.sync == SyncMode::Always {
            // Written out now, in the background (once per chunk): left
            // dirty, the whole chunk would be written by the next group's
            // fdatasync.
            durable::start_writeback(&a.file, start, end - start);
        }
    }

    fn sync_active(&mut self) -> Result<(), WalError> {
        if self.shared.durable_lsn() >= self.written_lsn {
            return Ok(());
        }
        self.shared.sync(&self.active.file, self.written_lsn).map_err(io_at(&self.active.seg.path))
    }

    /// Seals the active segment (all of whose records are written, up to
    /// `written_lsn`) and starts the next one at `first_lsn`.
    fn roll(&mut self, first_lsn: Lsn) -> Result<(), WalError> {
        // Cut the preallocated space and make the segment durable *before*
        // its successor exists: then only the last segment can ever have a
        // torn tail, and any bad byte in an earlier one is corruption.
        let path = self.active.seg.path.clone();
        let sealed = self
            .active
            .file
            .set_len(self.active.written)
            .and_then(|()| self.active.file.sync_all())
            .map_err(io_at(&path));
        if let Err(e) = sealed {
            self.shared.poison();
            return Err(e);
        }
        self.shared.count_fsync();
        self.shared.mark_durable(self.written_lsn);
        // Its marks, for readers after a restart (a hint: no fsync).
        if let Err(e) =
            crate::marks::write(&self.active.seg, &self.shared.marks_of(self.active.seg.first_lsn))
        {
            tracing::warn!(segment = %path.display(), "cannot write the segment's mark file ({e}); its readers will scan it");
        }

        let prealloc = self.opts.segment_bytes.max(HEADER_LEN as u64);
        let (seg, file) = match segment::create(&self.dir, first_lsn, prealloc) {
            Ok(created) => created,
            Err(e) => {
                self.shared.poison();
                return Err(e);
            }
        };
        self.sealed_segments += 1;
        self.sealed_bytes += self.active.written;
        // Opened before any record is written to it, so each sees every
        // writeback error of the segment.
        let slots = match open_sync_slots(&seg.path, self.opts.sync_threads) {
            Ok(slots) => slots,
            Err(e) => {
                self.shared.poison();
                return Err(e);
            }
        };
        let sealed = std::mem::replace(&mut self.active, Active::new(seg, file, HEADER_LEN as u64));
        // (Durable and written in full: nothing of it stays dirty.)
        if let Some(mut older) = self.retired.replace(sealed) {
            older.drop_behind(0);
        }
        self.shared.set_target(SyncTarget {
            file: Arc::clone(&self.active.file),
            slots,
            written_lsn: self.written_lsn,
        });
        Ok(())
    }

    /// Test seam: the next fdatasync fails as if the disk had.
    #[cfg(test)]
    pub(crate) fn inject_sync_failure(&self) {
        self.shared.fail_next_sync.store(true, std::sync::atomic::Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(sync: SyncMode) -> WalOptions {
        WalOptions { sync, segment_bytes: 4096, ..WalOptions::default() }
    }

    #[test]
    fn zeros_are_written_ahead_of_the_records_a_chunk_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let o = WalOptions { sync: SyncMode::Never, segment_bytes: 3 << 20, ..WalOptions::default() };
        let mut wal = Wal::open(dir.path(), o).unwrap();
        let record = vec![7u8; 4000];
        wal.append(CommitTime(1), &record).unwrap();
        wal.commit().unwrap();
        let first = wal.active.written;
        assert_eq!(wal.active.zeroed, first + ZERO_CHUNK, "one chunk ahead after the first group");
        // No more zeros until fewer than the low-water mark are left ahead.
        while wal.active.written + ZERO_LOW_WATER <= first + ZERO_CHUNK {
            assert_eq!(wal.active.zeroed, first + ZERO_CHUNK);
            wal.append(CommitTime(1), &record).unwrap();
            wal.commit().unwrap();
        }
        assert_eq!(wal.active.zeroed, (first + 2 * ZERO_CHUNK).min(3 << 20), "the next chunk");
        // Never past the segment's preallocated size.
        for _ in 0..600 {
            wal.append(CommitTime(1), &record).unwrap();
            wal.commit().unwrap();
            assert!(wal.active.zeroed <= 3 << 20 || wal.active.zeroed == wal.active.written);
        }
        // The zeroed space reads as zeros, and everything reads back.
        let (a, b) = (wal.active.written, wal.active.zeroed);
        if b > a {
            let mut buf = vec![1u8; (b - a) as usize];
            wal.active.file.read_exact_at(&mut buf, a).unwrap();
            assert!(buf.iter().all(|&x| x == 0));
        }
        let n = wal.last_lsn().0;
        drop(wal);
        let back = WalReader::open(dir.path(), Lsn(1)).unwrap().count();
        assert_eq!(back as u64, n);
    }

    #[test]
    fn readers_started_at_marks_read_what_full_scans_read() {
        let dir = tempfile::tempdir().unwrap();
        let o = WalOptions { sync: SyncMode::Never, segment_bytes: 1 << 20, ..WalOptions::default() };
        let mut wal = Wal::open(dir.path(), o.clone()).unwrap();
        // Records of varied sizes (incompressible), some groups of several.
        let mut seed = 1u64;
        for i in 0..1200u64 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let len = 200 + (seed >> 40) as usize % 6000;
            let mut x = seed | 1;
            let record: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            wal.append(CommitTime(i as i64), &record).unwrap();
            if i % 3 == 0 {
                wal.commit().unwrap();
            }
        }
        wal.commit().unwrap();
        let handle = wal.sync_handle();
        let last = wal.last_lsn();
        assert!(wal.stats().segments > 3, "several segments");
        let marks: Vec<Mark> = (1..=last.0).filter_map(|l| handle.mark_at_or_before(Lsn(l))).collect();
        let distinct: std::collections::BTreeSet<_> = marks.iter().map(|m| (m.lsn, m.offset)).collect();
        assert!(distinct.len() > 10, "a mark every {MARK_EVERY} bytes: {}", distinct.len());
        assert_eq!(handle.mark_at_or_before(Lsn(1)), None, "none before the first");
        let lsns = |r: WalReader| -> Vec<(u64, i64)> {
            r.map(|x| x.unwrap().1).map(|r| (r.lsn.0, r.time.0)).collect()
        };
        for from in (1..=last.0).step_by(7).chain([last.0]) {
            let mark = handle.mark_at_or_before(Lsn(from));
            assert!(mark.is_none_or(|m| m.lsn <= Lsn(from)));
            let near = lsns(WalReader::open_near(dir.path(), Lsn(from), mark).unwrap());
            let full = lsns(WalReader::open(dir.path(), Lsn(from)).unwrap());
            assert_eq!(near, full, "from {from}, mark {mark:?}");
            assert_eq!(near.first().map(|r| r.0), Some(from));
        }
        // A mark of another segment than the one holding `from` is not used.
        let far = handle.mark_at_or_before(last).unwrap();
        let early = WalReader::open_near(dir.path(), Lsn(2), Some(far)).unwrap();
        assert_eq!(lsns(early).len() as u64, last.0 - 1);

        // Reopened, the WAL has marks in its last segment again (left by
        // recovery's scan, at records rather than at groups), those of the
        // sealed segments from their mark files, the same as before; and
        // readers started at them read what full scans read.
        let last_segment = far.segment;
        let sealed_before: Vec<_> = (1..last_segment.0).map(|l| handle.mark_at_or_before(Lsn(l))).collect();
        drop(wal);
        let wal = Wal::open(dir.path(), o.clone()).unwrap();
        let again = wal.sync_handle();
        assert!(again.mark_at_or_before(last).is_some_and(|m| m.segment == last_segment));
        let sealed_after: Vec<_> = (1..last_segment.0).map(|l| again.mark_at_or_before(Lsn(l))).collect();
        assert_eq!(sealed_after, sealed_before, "sealed segments' marks restored from their files");
        for from in (1..=last.0).step_by(3) {
            let mark = again.mark_at_or_before(Lsn(from));
            let near = lsns(WalReader::open_near(dir.path(), Lsn(from), mark).unwrap());
            assert_eq!(near, lsns(WalReader::open(dir.path(), Lsn(from)).unwrap()), "from {from}");
        }

        // A missing or damaged mark file: its segment has no marks (and is
        // read from its start), the others keep theirs.
        drop(wal);
        let segs = crate::segment::list(dir.path()).unwrap();
        let (gone, bad, kept) = (&segs[0], &segs[1], &segs[2]);
        std::fs::remove_file(crate::marks::path_for(&gone.path)).unwrap();
        let bad_marks = crate::marks::path_for(&bad.path);
        let mut bytes = std::fs::read(&bad_marks).unwrap();
        bytes[12] ^= 1;
        std::fs::write(&bad_marks, bytes).unwrap();
        let wal = Wal::open(dir.path(), o).unwrap();
        let h = wal.sync_handle();
        let in_segment = |seg: &crate::segment::SegmentFile, next: Lsn| {
            (seg.first_lsn.0..next.0)
                .filter(|&l| h.mark_at_or_before(Lsn(l)).is_some_and(|m| m.segment == seg.first_lsn))
                .count()
        };
        assert_eq!(in_segment(gone, bad.first_lsn), 0);
        assert_eq!(in_segment(bad, kept.first_lsn), 0);
        assert!(in_segment(kept, segs[3].first_lsn) > 0);
    }

    #[test]
    fn wal_and_reader_can_move_between_threads() {
        fn assert_send<T: Send>() {}
        assert_send::<Wal>();
        assert_send::<WalReader>();
    }

    #[test]
    fn failed_fsync_poisons_until_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut wal = Wal::open(dir.path(), opts(SyncMode::Always)).unwrap();
        wal.append(CommitTime(1), b"one").unwrap();
        wal.commit().unwrap();
        wal.append(CommitTime(2), b"two").unwrap();
        wal.inject_sync_failure();
        assert!(matches!(wal.commit(), Err(WalError::Io(_))));
        assert_eq!(wal.durable_lsn(), Lsn(1), "a failed fsync must not advance durability");
        // Never retry: every later write is refused.
        assert!(matches!(wal.commit(), Err(WalError::Poisoned)));
        assert!(matches!(wal.sync(), Err(WalError::Poisoned)));
        assert!(matches!(wal.append(CommitTime(3), b"three"), Err(WalError::Poisoned)));
        drop(wal);

        // Reopening re-reads what reached the file (here: both records, the
        // write itself succeeded) and writes again.
        let mut wal = Wal::open(dir.path(), opts(SyncMode::Always)).unwrap();
        assert_eq!(wal.last_lsn(), Lsn(2));
        assert_eq!(wal.append(CommitTime(3), b"three").unwrap(), Lsn(3));
        assert_eq!(wal.commit().unwrap(), Lsn(3));
    }

    #[test]
    fn failed_background_fsync_poisons_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let every = std::time::Duration::from_millis(5);
        let mut wal = Wal::open(dir.path(), opts(SyncMode::Interval(every))).unwrap();
        wal.inject_sync_failure();
        wal.append(CommitTime(1), b"one").unwrap();
        wal.commit().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        // The background thread may poison the WAL between an append and
        // its commit, so either call can be the first to refuse.
        loop {
            let appended = wal.append(CommitTime(2), b"x");
            if matches!(appended, Err(WalError::Poisoned)) {
                break;
            }
            appended.unwrap();
            match wal.commit() {
                Err(WalError::Poisoned) => break,
                other => {
                    other.unwrap();
                }
            }
            assert!(std::time::Instant::now() < deadline, "background failure never poisoned the WAL");
            std::thread::sleep(every);
        }
        assert_eq!(wal.durable_lsn(), Lsn(0));
    }

    #[test]
    fn a_sync_handle_makes_written_groups_durable_from_another_thread() {
        let dir = tempfile::tempdir().unwrap();
        // Tiny segments: groups cross segment boundaries while the handle syncs.
        let mut wal = Wal::open(dir.path(), opts(SyncMode::Always)).unwrap();
        let handle = wal.sync_handle();
        let syncer = std::thread::spawn(move || {
            let mut last = Lsn(0);
            while last < Lsn(300) {
                last = handle.sync().unwrap();
            }
            last
        });
        for i in 0..300u64 {
            wal.append(CommitTime(i as i64), &[7u8; 100]).unwrap();
            let written = wal.write().unwrap();
            assert_eq!(written, Lsn(i + 1));
        }
        assert_eq!(syncer.join().unwrap(), Lsn(300));
        assert_eq!(wal.durable_lsn(), Lsn(300));
        assert!(wal.stats().segments > 1, "the test should cross segments");
        drop(wal);
        let reopened = Wal::open(dir.path(), opts(SyncMode::Always)).unwrap();
        assert_eq!(reopened.last_lsn(), Lsn(300));
    }

    #[test]
    fn several_threads_sync_through_their_own_slots_across_segments() {
        use std::os::fd::AsRawFd;
        let dir = tempfile::tempdir().unwrap();
        let o = WalOptions { sync_threads: 3, ..opts(SyncMode::Always) };
        let mut wal = Wal::open(dir.path(), o).unwrap();
        let handle = wal.sync_handle();
        assert_eq!(handle.slots(), 3);
        // Each slot is its own open file description (not a dup of the
        // writer's), so each sees every writeback error.
        let (files, _) = wal.shared.slot_target();
        let mut fds: Vec<i32> = files.iter().map(|f| f.as_raw_fd()).collect();
        fds.push(wal.active.file.as_raw_fd());
        fds.sort_unstable();
        fds.dedup();
        assert_eq!(fds.len(), 4);
        assert!(handle.sync_slot(3).is_ok(), "nothing to sync: no slot needed");
        let syncers: Vec<_> = (0..3)
            .map(|slot| {
                let handle = handle.clone();
                std::thread::spawn(move || {
                    let mut last = Lsn(0);
                    while last < Lsn(300) {
                        last = handle.sync_slot(slot).unwrap();
                    }
                    last
                })
            })
            .collect();
        for i in 0..300u64 {
            wal.append(CommitTime(i as i64), &[7u8; 100]).unwrap();
            wal.write().unwrap();
            assert!(wal.durable_lsn() <= Lsn(i + 1), "durable beyond what was written");
        }
        for s in syncers {
            assert_eq!(s.join().unwrap(), Lsn(300));
        }
        assert!(wal.stats().segments > 1, "the test should cross segments");
        wal.append(CommitTime(301), b"x").unwrap();
        wal.write().unwrap();
        assert!(matches!(handle.sync_slot(3), Err(WalError::Io(_))), "slot 3 of 3");
        assert_eq!(handle.sync_slot(2).unwrap(), Lsn(301));
    }

    #[test]
    fn a_failed_slot_sync_poisons_every_slot() {
        let dir = tempfile::tempdir().unwrap();
        let mut wal = Wal::open(dir.path(), opts(SyncMode::Always)).unwrap();
        let handle = wal.sync_handle();
        wal.append(CommitTime(1), b"one").unwrap();
        wal.write().unwrap();
        assert_eq!(handle.sync_slot(1).unwrap(), Lsn(1));
        wal.append(CommitTime(2), b"two").unwrap();
        wal.write().unwrap();
        wal.inject_sync_failure();
        assert!(matches!(handle.sync_slot(0), Err(WalError::Io(_))));
        assert!(matches!(handle.sync_slot(1), Err(WalError::Poisoned)));
        assert_eq!(handle.durable_lsn(), Lsn(1));
    }

    #[test]
    fn write_does_not_sync_and_a_failed_handle_sync_poisons_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let mut wal = Wal::open(dir.path(), opts(SyncMode::Always)).unwrap();
        let handle = wal.sync_handle();
        wal.append(CommitTime(1), b"one").unwrap();
        assert_eq!(wal.write().unwrap(), Lsn(1));
        assert_eq!(wal.durable_lsn(), Lsn(0), "write() alone is not durable");
        assert_eq!(handle.sync().unwrap(), Lsn(1));
        wal.append(CommitTime(2), b"two").unwrap();
        wal.write().unwrap();
        wal.inject_sync_failure();
        assert!(matches!(handle.sync(), Err(WalError::Io(_))));
        assert_eq!(handle.durable_lsn(), Lsn(1));
        assert!(matches!(handle.sync(), Err(WalError::Poisoned)));
        assert!(matches!(wal.append(CommitTime(3), b"three"), Err(WalError::Poisoned)));
    }

    #[test]
    fn sync_modes_decide_when_commit_is_durable() {
        let dir = tempfile::tempdir().unwrap();
        let mut never = Wal::open(dir.path(), opts(SyncMode::Never)).unwrap();
        never.append(CommitTime(1), b"a").unwrap();
        assert_eq!(never.commit().unwrap(), Lsn(0), "Never does not sync on commit");
        assert_eq!(never.sync().unwrap(), Lsn(1), "sync() always does");
        drop(never);

        let dir = tempfile::tempdir().unwrap();
        let every = std::time::Duration::from_millis(10);
        let mut interval = Wal::open(dir.path(), opts(SyncMode::Interval(every))).unwrap();
        interval.append(CommitTime(1), b"a").unwrap();
        interval.commit().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while interval.durable_lsn() < Lsn(1) {
            assert!(std::time::Instant::now() < deadline, "background sync never happened");
            std::thread::sleep(every);
        }

        let dir = tempfile::tempdir().unwrap();
        let mut always = Wal::open(dir.path(), opts(SyncMode::Always)).unwrap();
        always.append(CommitTime(1), b"a").unwrap();
        always.append(CommitTime(1), b"b").unwrap();
        assert_eq!(always.durable_lsn(), Lsn(0));
        assert_eq!(always.commit().unwrap(), Lsn(2));
        let fsyncs = always.stats().fsyncs;
        assert_eq!(always.commit().unwrap(), Lsn(2));
        assert_eq!(always.stats().fsyncs, fsyncs, "an empty group needs no fsync");
    }

    #[test]
    fn too_large_payload_is_refused_without_taking_an_lsn() {
        let dir = tempfile::tempdir().unwrap();
        let mut wal = Wal::open(dir.path(), opts(SyncMode::Never)).unwrap();
        let err = wal.append(CommitTime(0), &vec![0u8; MAX_PAYLOAD + 1]).unwrap_err();
        assert!(matches!(err, WalError::RecordTooLarge { .. }), "{err}");
        assert_eq!(wal.append(CommitTime(0), b"ok").unwrap(), Lsn(1));
    }

    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    #[repr(C)]
    #[derive(Default)]
    struct CacheStat {
        cache: u64,
        dirty: u64,
        writeback: u64,
        evicted: u64,
        recently_evicted: u64,
    }

    /// Pages of `file` in `[off, off + len)` that are dirty (written, not yet on
    /// their way to disk), by the `cachestat` syscall (Linux 6.5+; `None`
    /// where it is missing).
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    fn dirty_pages(file: &File, off: u64, len: u64) -> Option<u64> {
        cache_stat(file, off, len).map(|s| s.dirty)
    }

    /// What the page cache holds of `file` in `[off, off + len)`
    /// (`cachestat`, Linux 6.5+; `None` where it is missing).
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    fn cache_stat(file: &File, off: u64, len: u64) -> Option<CacheStat> {
        use std::os::fd::AsRawFd;
        #[repr(C)]
        struct Range {
            off: u64,
            len: u64,
        }
        const SYS_CACHESTAT: libc::c_long = 451;
        let range = Range { off, len };
        let mut stat = CacheStat::default();
        // SAFETY: the kernel reads `range` and writes `stat`, both live here.
        let rc = unsafe {
            libc::syscall(
                SYS_CACHESTAT,
                file.as_raw_fd(),
                &range as *const Range,
                &mut stat as *mut CacheStat,
                0,
            )
        };
        (rc == 0).then_some(stat)
    }

    /// Held by the tests that watch the page cache: one's fdatasyncs slow
    /// the write-out the other waits for.
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    static PAGE_CACHE_TESTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    #[test]
    fn old_records_leave_the_page_cache_and_read_back_from_disk() {
        let _alone = PAGE_CACHE_TESTS.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let seg = 12u64 << 20;
        let o = WalOptions { sync: SyncMode::Always, segment_bytes: seg, ..WalOptions::default() };
        let mut wal = Wal::open(dir.path(), o).unwrap();
        // (Pseudo-random bytes: nothing for compression to shrink.)
        let record = |i: u64| -> Vec<u8> {
            let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            (0..8000)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect()
        };
        let mut n = 0u64;
        // Into a second segment, and past CACHE_KEEP in it.
        while wal.sealed_segments == 0 || wal.active.written < CACHE_KEEP + 2 * ZERO_CHUNK {
            for _ in 0..8 {
                n += 1;
                wal.append(CommitTime(n as i64), &record(n)).unwrap();
            }
            wal.commit().unwrap();
        }
        let cached = |file: &File, from: u64, to: u64| cache_stat(file, from, to - from).map(|s| s.cache);
        // The active segment: old records are gone from the cache, the
        // last CACHE_KEEP bytes are not.
        let written = wal.active.written;
        let Some(old) = cached(&wal.active.file, 0, written - CACHE_KEEP - ZERO_CHUNK) else {
            eprintln!("no cachestat syscall on this kernel: nothing to observe");
            return;
        };
        let old_pages = (written - CACHE_KEEP - ZERO_CHUNK) / PAGE;
        assert!(old * 8 < old_pages, "{old} of {old_pages} old pages still cached");
        let recent = cached(&wal.active.file, written - CACHE_KEEP / 2, written / PAGE * PAGE).unwrap();
        assert!(recent * 10 >= (CACHE_KEEP / 2 / PAGE) * 9, "only {recent} recent pages cached");
        // The sealed segment, once the active one holds CACHE_KEEP: all gone.
        let first = File::open(&crate::segment::list(dir.path()).unwrap()[0].path).unwrap();
        let first_len = first.metadata().unwrap().len();
        let sealed = cached(&first, 0, first_len).unwrap();
        assert!(sealed * 8 < first_len / PAGE, "{sealed} of the sealed segment's pages still cached");
        drop(wal);
        // Every record reads back (from disk) as written.
        let mut seen = 0u64;
        for item in WalReader::open(dir.path(), Lsn(1)).unwrap() {
            let (_, rec) = item.unwrap();
            seen += 1;
            assert_eq!(rec.lsn, Lsn(seen));
            assert_eq!(rec.payload, record(seen), "record {seen}");
        }
        assert_eq!(seen, n);
    }

    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    #[test]
    fn written_groups_and_zeros_are_sent_on_their_way_before_any_fdatasync() {
        let _alone = PAGE_CACHE_TESTS.lock().unwrap_or_else(|e| e.into_inner());
        // Returns (dirty pages among the full pages of records, dirty pages
        // among the zeros written ahead of them) after 50 groups are
        // written, none synced.
        let dirty_after_writes = |sync: SyncMode, early_writeback: bool| -> Option<(u64, u64)> {
            let dir = tempfile::tempdir().unwrap();
            let o = WalOptions { sync, segment_bytes: 4 << 20, early_writeback, ..WalOptions::default() };
            let mut wal = Wal::open(dir.path(), o).unwrap();
            for i in 0..50u64 {
                for _ in 0..4 {
                    wal.append(CommitTime(i as i64), &[7u8; 1000]).unwrap();
                }
                wal.write().unwrap();
                // As between group commits: time for the write-out to end
                // (a page still on its way when the next group writes into
                // it is not sent again, and stays dirty).
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            let full_pages = wal.active.written / PAGE * PAGE;
            let records = dirty_pages(&wal.active.file, 0, full_pages)?;
            let next_page = full_pages + PAGE;
            assert!(wal.active.zeroed >= next_page + ZERO_LOW_WATER, "zeros were written ahead");
            let zeros = dirty_pages(&wal.active.file, next_page, wal.active.zeroed - next_page)?;
            drop(wal);
            let reopened =
                Wal::open(dir.path(), WalOptions { sync: SyncMode::Never, ..WalOptions::default() });
            assert_eq!(reopened.unwrap().last_lsn(), Lsn(200));
            Some((records, zeros))
        };
        // Nothing sent early without fdatasyncs to prepare for.
        let Some((records, zeros)) = dirty_after_writes(SyncMode::Never, true) else {
            eprintln!("no cachestat syscall on this kernel: nothing to observe");
            return;
        };
        assert!(records >= 40, "written pages stay dirty: {records}");
        assert!(zeros >= 64, "zeros written ahead stay dirty: {zeros}");
        // (Not 0 below: a write-out slower than the pause leaves a page dirty.)
        // With fdatasyncs: zeros are always sent early...
        let (late_records, always_zeros) = dirty_after_writes(SyncMode::Always, false).unwrap();
        assert!(always_zeros * 4 <= zeros, "{always_zeros} pages of zeros are still dirty");
        assert!(late_records >= 40, "written pages wait for their fdatasync: {late_records}");
        // ...and records with `early_writeback`.
        let (early_records, _) = dirty_after_writes(SyncMode::Always, true).unwrap();
        assert!(early_records * 4 <= records, "{early_records} of the written pages are still dirty");
    }
}
