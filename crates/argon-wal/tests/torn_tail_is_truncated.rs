//! After a crash, a torn record at the end of the last segment (and any
//! garbage after it) is cut off; everything before it survives and
//! appending continues with the right LSN.

mod common;

use std::path::Path;

use argon_wal::{CommitTime, Lsn, SyncMode, Wal, WalOptions};
use common::*;

const SEG: u64 = 4096;

fn never(segment_bytes: u64) -> WalOptions {
    WalOptions { sync: SyncMode::Never, ..opts(segment_bytes) }
}

/// A WAL over several segments whose last record has `last_payload`.
/// Returns the LSN of the last record.
fn wal_ending_with(dir: &Path, last_payload: &[u8]) -> u64 {
    let mut wal = Wal::open(dir, never(SEG)).unwrap();
    fill(&mut wal, 30, 4);
    wal.append(time_for(31), last_payload).unwrap();
    wal.sync().unwrap();
    assert!(segment_paths(dir).len() >= 3);
    31
}

/// Opens the damaged copy in `dir` and checks that exactly the records
/// before `torn` survived, that the torn bytes from `seg` offset `at` on
/// are gone from the file, that appending continues at `torn`, and that the
/// result survives another reopen.
fn assert_recovers_to(dir: &Path, seg: &Path, at: u64, torn: u64, case: &str) {
    let mut wal = Wal::open(dir, never(SEG)).unwrap_or_else(|e| panic!("{case}: {e}"));
    assert_eq!(wal.last_lsn(), Lsn(torn - 1), "{case}");
    let bytes = std::fs::read(seg).unwrap();
    assert!(bytes[at as usize..].iter().all(|&b| b == 0), "{case}: torn bytes left in the file");
    assert_records(&read_all(dir, Lsn(0)), 1, torn - 1);
    assert_eq!(wal.append(time_for(torn), &payload_for(torn)).unwrap(), Lsn(torn), "{case}");
    wal.commit().unwrap();
    drop(wal);
    let wal = Wal::open(dir, never(SEG)).unwrap_or_else(|e| panic!("{case}, second open: {e}"));
    assert_eq!(wal.last_lsn(), Lsn(torn), "{case}");
    assert_records(&read_all(dir, Lsn(0)), 1, torn);
}

/// Cuts the last record at every byte offset, both ways a crash leaves it:
/// the file ends there (it was growing), or zeros follow (it was
/// preallocated).
fn cut_last_record_everywhere(last_payload: &[u8], want_compressed: bool) {
    let template = tempfile::tempdir().unwrap();
    let last = wal_ending_with(template.path(), last_payload);
    let (pos, _) = read_all(template.path(), Lsn(last)).pop().unwrap();
    assert_eq!(pos.compressed, want_compressed);
    let seg_name = pos.segment.file_name().unwrap().to_owned();
    let end = pos.offset + frame_len(&pos);

    let scratch = tempfile::tempdir().unwrap();
    for cut in pos.offset..end {
        for zero_filled in [false, true] {
            let dir = scratch.path().join(format!("{cut}-{zero_filled}"));
            copy_dir(template.path(), &dir);
            let seg = dir.join(&seg_name);
            if zero_filled {
                let len = file_len(&seg);
                write_at(&seg, cut, &vec![0u8; (len - cut) as usize]);
            } else {
                set_len(&seg, cut);
            }
            let case = format!("cut at {cut}, zero-filled {zero_filled}");
            assert_recovers_to(&dir, &seg, pos.offset, last, &case);
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}

#[test]
fn every_cut_inside_an_uncompressed_last_record() {
    cut_last_record_everywhere(&random_bytes(1, 40), false);
}

#[test]
fn every_cut_inside_a_compressed_last_record() {
    cut_last_record_everywhere(&b"compressible ".repeat(60), true);
}

#[test]
fn trailing_garbage_after_a_valid_tail_is_cut() {
    for (case, garbage_len) in [("short", 3usize), ("a bit", 50), ("past the preallocation", 6000)] {
        let dir = tempfile::tempdir().unwrap();
        let last = wal_ending_with(dir.path(), b"last");
        let (pos, _) = read_all(dir.path(), Lsn(last)).pop().unwrap();
        let end = pos.offset + frame_len(&pos);
        write_at(&pos.segment, end, &random_bytes(99, garbage_len));
        let wal = Wal::open(dir.path(), never(SEG)).unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(wal.last_lsn(), Lsn(last), "{case}");
        drop(wal);
        // The garbage is gone from the file, not just skipped.
        let bytes = std::fs::read(&pos.segment).unwrap();
        assert!(bytes[end as usize..].iter().all(|&b| b == 0), "{case}: garbage left in the file");
        let mut wal = Wal::open(dir.path(), never(SEG)).unwrap();
        wal.append(CommitTime(0), b"next").unwrap();
        wal.commit().unwrap();
        let recs = read_all(dir.path(), Lsn(0));
        assert_eq!(recs.len() as u64, last + 1, "{case}");
        assert_eq!(recs.last().unwrap().1.payload, b"next");
    }
}

#[test]
fn zeros_after_the_last_record_are_a_clean_end() {
    let dir = tempfile::tempdir().unwrap();
    let last = wal_ending_with(dir.path(), b"last");
    let seg = segment_paths(dir.path()).pop().unwrap();
    let before = std::fs::read(&seg).unwrap();
    set_len(&seg, file_len(&seg) + 10_000);
    let wal = Wal::open(dir.path(), never(SEG)).unwrap();
    assert_eq!(wal.last_lsn(), Lsn(last));
    drop(wal);
    let after = std::fs::read(&seg).unwrap();
    assert_eq!(&after[..before.len()], &before[..], "a clean end must not be rewritten");
    let mut recs = read_all(dir.path(), Lsn(0));
    assert_eq!(recs.pop().unwrap().1.payload, b"last");
    assert_records(&recs, 1, last - 1);
}

#[test]
fn a_crash_while_creating_a_segment_leaves_no_trace() {
    let dir = tempfile::tempdir().unwrap();
    let last = wal_ending_with(dir.path(), b"last");
    // A half-created next segment (never renamed into place)...
    let tmp = dir.path().join(format!("{:020}.wal.tmp", last + 1));
    std::fs::write(&tmp, b"ARGONW").unwrap();
    let mut wal = Wal::open(dir.path(), never(SEG)).unwrap();
    assert!(!tmp.exists());
    assert_eq!(wal.last_lsn(), Lsn(last));
    wal.append(time_for(last + 1), &payload_for(last + 1)).unwrap();
    wal.commit().unwrap();
    assert_eq!(read_all(dir.path(), Lsn(last + 1)).len(), 1);
}

#[test]
fn an_empty_last_segment_continues_its_first_lsn() {
    let dir = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(dir.path(), never(SEG)).unwrap();
    fill(&mut wal, 40, 5);
    // The next append would roll; the crash came just after the roll
    // created the new, still empty, segment. Simulate by cutting the last
    // segment's records.
    drop(wal);
    let segs = segment_paths(dir.path());
    let last_seg = segs.last().unwrap();
    let first: u64 = last_seg.file_stem().unwrap().to_str().unwrap().parse().unwrap();
    set_len(last_seg, 24);
    let mut wal = Wal::open(dir.path(), never(SEG)).unwrap();
    assert_eq!(wal.last_lsn(), Lsn(first - 1));
    assert_eq!(wal.append(time_for(first), &payload_for(first)).unwrap(), Lsn(first));
    wal.commit().unwrap();
    assert_records(&read_all(dir.path(), Lsn(0)), 1, first);
}
