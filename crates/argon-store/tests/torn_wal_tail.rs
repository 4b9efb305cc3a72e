//! Damage to the WAL files of a closed data dir, at the store level.
//!
//! A commit whose record is cut short at the end of the last segment (the
//! crash hit while it was being written) was never acknowledged: after
//! reopening it is gone, everything before it is readable (through the
//! index, or rebuilding the index from the WAL), and writing continues at
//! its LSN. A damaged record *followed by valid ones* is damage to
//! acknowledged data: opening fails and names the segment and offset. (In
//! an earlier segment, which opening does not read while the index covers
//! it, the damage is found when the index is rebuilt from the WAL.)

mod common;

use std::path::Path;

use argon_store::{At, Lsn, Store, StoreError, StoreOptions, SyncMode};
use argon_wal::WalError;
use bson::{doc, Document};
use common::*;

/// Small segments, so the log spans several.
fn options() -> StoreOptions {
    StoreOptions {
        sync: SyncMode::Never,
        wal_segment_bytes: 4096,
        index_map_bytes: 64 << 20,
        ..Default::default()
    }
}

/// Documents of the template: `_id` i, `v` i.
const DOCS: i32 = 40;

fn doc_for(i: i32) -> Document {
    doc! {"_id": i, "v": i, "pad": format!("document number {i:04}")}
}

/// A closed data dir: project `app` (LSN 1), then one commit per document
/// `0..docs` (document i at LSN i + 2).
struct Template {
    dir: tempfile::TempDir,
    docs: i32,
    /// The last commit: its LSN and its document as (`_id`, `v`).
    last_lsn: u64,
    last_pair: (i32, i32),
}

/// How the template's last commit is made.
enum Last {
    /// Document `DOCS - 1` like the others.
    Plain,
    /// Document `DOCS - 1` with a payload big enough to be stored compressed.
    Compressed,
    /// Documents until one is the first record of a new segment.
    FirstInSegment,
}

fn template(last: Last) -> Template {
    let dir = scratch_dir();
    let store = Store::open_with(dir.path(), options()).unwrap();
    store.create_project("app").unwrap();
    let mut i = 0;
    let last_pair = loop {
        let doc = match last {
            // Payloads of 512 bytes and more are stored zstd-compressed.
            Last::Compressed if i == DOCS - 1 => doc! {"_id": i, "v": 0, "pad": "compressible ".repeat(100)},
            _ => doc_for(i),
        };
        let pair = (i, doc.get_i32("v").unwrap());
        assert_eq!(insert(&store, "app", "main", "c", doc), Lsn(i as u64 + 2));
        let done = match last {
            Last::Plain | Last::Compressed => i == DOCS - 1,
            Last::FirstInSegment => {
                i >= DOCS - 1 && frames(&wal_segments(dir.path()).pop().unwrap()).len() == 1
            }
        };
        if done {
            break pair;
        }
        assert!(i < 10 * DOCS, "no segment roll after {i} documents");
        i += 1;
    };
    drop(store);
    assert!(wal_segments(dir.path()).len() >= 3, "the template spans several segments");
    Template { dir, docs: i + 1, last_lsn: i as u64 + 2, last_pair }
}

impl Template {
    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Documents of the commits before the last, as (`_id`, `v`).
    fn before_last(&self) -> Vec<(i32, i32)> {
        (0..self.docs - 1).map(|i| (i, i)).collect()
    }

    /// Where the last commit's record is: (segment, frame). It must be the
    /// last record of the last segment.
    fn last_frame(&self) -> (std::path::PathBuf, Frame) {
        let seg = wal_segments(self.path()).pop().unwrap();
        let frame = *frames(&seg).last().unwrap();
        assert_eq!(frame.lsn, self.last_lsn, "the last record of {} is the last commit", seg.display());
        (seg, frame)
    }
}

/// Opens a damaged copy in `dir` whose last commit was cut and checks:
/// commits before it readable, it gone, writing continues at its LSN and
/// survives another reopen.
fn assert_recovers_without_last(t: &Template, dir: &Path, case: &str) {
    let torn = t.last_lsn;
    let before = t.before_last();
    let store = Store::open_with(dir, options()).unwrap_or_else(|e| panic!("{case}: open: {e}"));
    assert_eq!(store.visible_lsn(), Lsn(torn - 1), "{case}");
    assert_eq!(read_all(&store, "app", "main", "c", At::Head), before, "{case}");
    assert_eq!(read_all(&store, "app", "main", "c", At::Lsn(Lsn(2))), vec![(0, 0)], "{case}");
    let beyond = store.snapshot("app", "main", At::Lsn(Lsn(torn))).err();
    assert!(matches!(beyond, Some(StoreError::LsnBeyondHead { .. })), "{case}: {beyond:?}");

    assert_eq!(insert(&store, "app", "main", "c", doc_v(1000, 7)), Lsn(torn), "{case}: next write");
    drop(store);
    let store = Store::open_with(dir, options()).unwrap_or_else(|e| panic!("{case}: second open: {e}"));
    assert_eq!(store.visible_lsn(), Lsn(torn), "{case}");
    let mut after = before;
    after.push((1000, 7));
    assert_eq!(read_all(&store, "app", "main", "c", At::Head), after, "{case}");
}

/// Opens a copy whose last record is still whole and checks that its
/// commit is there.
fn assert_survives(t: &Template, dir: &Path, case: &str) {
    let store = Store::open_with(dir, options()).unwrap_or_else(|e| panic!("{case}: open: {e}"));
    assert_eq!(store.visible_lsn(), Lsn(t.last_lsn), "{case}: the record is whole");
    let mut all = t.before_last();
    all.push(t.last_pair);
    assert_eq!(read_all(&store, "app", "main", "c", At::Head), all, "{case}");
}

/// Cuts the last commit's record at every byte offset inside it (from its
/// first byte to its last) in the shapes a crash leaves: the file ends
/// there, or zeros follow (preallocated space). The shapes alternate from
/// one offset to the next, and both are tried at the record's first and
/// last byte (each case opens a store twice: all of them would be slow).
/// Every third case also loses the index, so the state comes from the WAL
/// alone.
///
/// Zeroing bytes that were zero already (BSON ends in zero bytes) leaves
/// the record whole: then it must survive.
fn cut_last_commit_everywhere(last: Last) {
    let t = template(last);
    let (seg, frame) = t.last_frame();
    let seg_name = seg.file_name().unwrap().to_owned();
    let original = std::fs::read(&seg).unwrap();
    let end = frame.offset + frame.len;

    let scratch = scratch_dir();
    let cases = (frame.offset..end).flat_map(|cut| {
        let rel = cut - frame.offset;
        let both = rel == 0 || rel == frame.len - 1;
        let shapes = if both { vec![false, true] } else { vec![rel % 2 == 1] };
        shapes.into_iter().map(move |zero_filled| (cut, zero_filled))
    });
    for (n, (cut, zero_filled)) in cases.into_iter().enumerate() {
        let lose_index = n % 3 == 0;
        let case = format!(
            "cut at {cut} of [{}, {end}) in {}, zero-filled {zero_filled}, index lost {lose_index}",
            frame.offset,
            seg_name.to_string_lossy()
        );
        let dir = scratch.path().join(n.to_string());
        copy_dir(t.path(), &dir);
        let seg = dir.join("wal").join(&seg_name);
        if zero_filled {
            zero_from(&seg, cut);
        } else {
            set_len(&seg, cut);
        }
        if lose_index {
            std::fs::remove_dir_all(dir.join("index")).unwrap();
        }
        if zero_filled && original[cut as usize..end as usize].iter().all(|&b| b == 0) {
            assert_survives(&t, &dir, &case);
        } else {
            assert_recovers_without_last(&t, &dir, &case);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn a_torn_last_commit_is_gone_and_everything_before_survives() {
    cut_last_commit_everywhere(Last::Plain);
}

#[test]
fn a_torn_compressed_last_commit_is_gone_and_everything_before_survives() {
    cut_last_commit_everywhere(Last::Compressed);
}

#[test]
fn a_torn_first_record_of_a_segment_leaves_an_empty_last_segment() {
    cut_last_commit_everywhere(Last::FirstInSegment);
}

/// Flips one byte of a record that has valid records after it and checks
/// that opening fails with an error naming the segment and the record's
/// offset.
fn assert_open_refuses(dir: &Path, seg: &Path, offset: u64, case: &str) {
    match Store::open_with(dir, options()) {
        Ok(_) => panic!("{case}: opened a WAL with a damaged record followed by valid ones"),
        Err(e @ StoreError::Wal(WalError::Corrupt { .. })) => {
            let StoreError::Wal(WalError::Corrupt { segment, offset: at, .. }) = &e else { unreachable!() };
            assert_eq!(segment, seg, "{case}: {e}");
            assert_eq!(*at, offset, "{case}: {e}");
            let msg = e.to_string();
            assert!(msg.contains(&seg.display().to_string()), "{case}: message names the segment: {msg}");
            assert!(msg.contains(&format!("offset {offset}")), "{case}: message names the offset: {msg}");
        }
        Err(e) => panic!("{case}: expected a corruption error, got {e}"),
    }
}

/// Byte positions to damage in a record of `len` bytes: each header field
/// (length, checksum, LSN, time, flags), the payload, and the last byte.
fn positions(len: u64) -> Vec<u64> {
    vec![0, 1, 3, 4, 7, 8, 15, 16, 23, 24, 25, len / 2, len - 1]
}

#[test]
fn a_damaged_record_in_the_middle_of_the_last_segment_fails_the_open() {
    let t = template(Last::Plain);
    let seg = wal_segments(t.path()).pop().unwrap();
    let fs = frames(&seg);
    assert!(fs.len() >= 3, "the last segment holds {} records", fs.len());
    let victim = fs[fs.len() / 2];

    let scratch = scratch_dir();
    for (n, pos) in positions(victim.len).into_iter().enumerate() {
        let dir = scratch.path().join(n.to_string());
        copy_dir(t.path(), &dir);
        let seg = dir.join("wal").join(seg.file_name().unwrap());
        flip_byte(&seg, victim.offset + pos);
        let case = format!("byte {pos} of the record of LSN {} at offset {}", victim.lsn, victim.offset);
        assert_open_refuses(&dir, &seg, victim.offset, &case);
        // Losing the index does not make the damage acceptable either.
        std::fs::remove_dir_all(dir.join("index")).unwrap();
        assert_open_refuses(&dir, &seg, victim.offset, &format!("{case}, index lost"));
    }
}

#[test]
fn a_damaged_record_in_an_earlier_segment_fails_the_rebuild() {
    let t = template(Last::Plain);
    let first = wal_segments(t.path()).remove(0);
    let fs = frames(&first);
    assert!(fs.len() >= 3, "the first segment holds {} records", fs.len());
    let victim = fs[fs.len() / 2];

    let scratch = scratch_dir();
    for (n, pos) in positions(victim.len).into_iter().enumerate() {
        let dir = scratch.path().join(n.to_string());
        copy_dir(t.path(), &dir);
        let seg = dir.join("wal").join(first.file_name().unwrap());
        flip_byte(&seg, victim.offset + pos);
        // The index must be rebuilt from the WAL, which reads every record.
        std::fs::remove_dir_all(dir.join("index")).unwrap();
        let case = format!("byte {pos} of the record of LSN {} at offset {}", victim.lsn, victim.offset);
        assert_open_refuses(&dir, &seg, victim.offset, &case);
    }
}
