//! Damage that cannot be a torn tail is reported as `Corrupt`, naming the
//! segment and offset, by open, by the reader and by verify: never skipped.

mod common;

use std::path::Path;

use argon_wal::{verify, Lsn, SyncMode, Wal, WalError, WalOptions, WalReader};
use common::*;

fn never(segment_bytes: u64) -> WalOptions {
    WalOptions { sync: SyncMode::Never, ..opts(segment_bytes) }
}

fn expect_corrupt<T>(r: Result<T, WalError>, segment: &Path, offset: u64, case: &str) -> String {
    match r {
        Err(WalError::Corrupt { segment: s, offset: o, reason }) => {
            assert_eq!((s.as_path(), o), (segment, offset), "{case}: {reason}");
            reason
        }
        Err(e) => panic!("{case}: expected Corrupt, got {e}"),
        Ok(_) => panic!("{case}: expected Corrupt, got Ok"),
    }
}

/// The first error of a reader from the start, if any.
fn reader_error(dir: &Path) -> Result<(), WalError> {
    WalReader::open(dir, Lsn(0))?.find_map(|r| r.err()).map_or(Ok(()), Err)
}

#[test]
fn flipped_byte_in_a_middle_record_of_the_last_segment() {
    let template = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(template.path(), never(64 << 10)).unwrap();
    fill(&mut wal, 20, 5);
    drop(wal);
    let recs = read_all(template.path(), Lsn(0));
    // LSN 4: 176 random bytes, stored as is; LSN 12: 528 bytes of text,
    // stored compressed.
    for victim in [4u64, 12] {
        let (pos, _) = &recs[victim as usize - 1];
        assert_eq!(pos.compressed, victim == 12, "pick one record of each kind");
        let scratch = tempfile::tempdir().unwrap();
        for at in pos.offset..pos.offset + frame_len(pos) {
            let case = format!("LSN {victim}, byte {at}");
            let dir = scratch.path().join(at.to_string());
            copy_dir(template.path(), &dir);
            let seg = dir.join(pos.segment.file_name().unwrap());
            flip_byte(&seg, at);
            let reason = expect_corrupt(Wal::open(&dir, never(64 << 10)), &seg, pos.offset, &case);
            assert!(reason.contains("follows"), "{case}: {reason}");
            expect_corrupt(reader_error(&dir), &seg, pos.offset, &format!("{case}, reader"));
            let bad = verify(&dir, &mut |_, _| {}).unwrap().first_bad.expect(&case);
            assert_eq!(
                (bad.segment, bad.offset, bad.lsn),
                (seg.clone(), pos.offset, Some(Lsn(victim))),
                "{case}"
            );
            // Open must not have "repaired" anything.
            assert_eq!(file_len(&seg), file_len(&pos.segment), "{case}");
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}

#[test]
fn flipped_byte_in_an_earlier_segment_is_reported_by_reader_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(dir.path(), never(4096)).unwrap();
    fill(&mut wal, 100, 10);
    drop(wal);
    let recs = read_all(dir.path(), Lsn(0));
    let segs = segment_paths(dir.path());
    // The last record of the second segment: in a sealed segment, even the
    // tail is not allowed to be torn.
    let (pos, rec) = recs.iter().rfind(|(p, _)| p.segment == segs[1]).unwrap();
    flip_byte(&pos.segment, pos.offset + 26);
    expect_corrupt(reader_error(dir.path()), &segs[1], pos.offset, "reader");
    // A reader that starts after the damage does not read it.
    assert_eq!(read_all(dir.path(), rec.lsn.next()).len(), 100 - rec.lsn.0 as usize);
    let report = verify(dir.path(), &mut |_, _| {}).unwrap();
    let bad = report.first_bad.expect("verify must find it");
    assert_eq!((bad.segment, bad.offset, bad.lsn), (segs[1].clone(), pos.offset, Some(rec.lsn)));
    assert_eq!(report.records, rec.lsn.0 - 1);
    // Open scans only the last segment's records: it succeeds, appends go on.
    let mut wal = Wal::open(dir.path(), never(4096)).unwrap();
    assert_eq!(wal.last_lsn(), Lsn(100));
    fill(&mut wal, 101, 1);
}

#[test]
fn corrupt_segment_header_fails_open() {
    let template = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(template.path(), never(4096)).unwrap();
    fill(&mut wal, 60, 10);
    drop(wal);
    let n = segment_paths(template.path()).len();
    assert!(n >= 3);
    for (which, idx) in [("first", 0), ("middle", n / 2), ("last", n - 1)] {
        for at in 0..24 {
            let case = format!("{which} segment, header byte {at}");
            let dir = tempfile::tempdir().unwrap();
            copy_dir(template.path(), dir.path());
            let seg = segment_paths(dir.path())[idx].clone();
            flip_byte(&seg, at);
            match Wal::open(dir.path(), never(4096)) {
                Err(WalError::Corrupt { segment, offset: 0, .. }) => assert_eq!(segment, seg, "{case}"),
                // A flipped version byte is caught by the header checksum,
                // so only a consistent newer header can say "version".
                Err(e) => panic!("{case}: {e}"),
                Ok(_) => panic!("{case}: opened"),
            }
            let bad = verify(dir.path(), &mut |_, _| {}).unwrap().first_bad.expect(&case);
            assert_eq!((bad.segment, bad.offset, bad.lsn), (seg, 0, None), "{case}");
        }
    }
}

#[test]
fn truncated_header_fails_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(dir.path(), never(4096)).unwrap();
    fill(&mut wal, 60, 10);
    drop(wal);
    let seg = segment_paths(dir.path()).pop().unwrap();
    set_len(&seg, 10);
    expect_corrupt(Wal::open(dir.path(), never(4096)), &seg, 0, "truncated header");
}

#[test]
fn newer_format_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(Wal::open(dir.path(), never(4096)).unwrap());
    let seg = segment_paths(dir.path()).pop().unwrap();
    let mut header = std::fs::read(&seg).unwrap()[..24].to_vec();
    header[8..12].copy_from_slice(&2u32.to_le_bytes());
    let crc = crc32c::crc32c(&header[..20]);
    header[20..24].copy_from_slice(&crc.to_le_bytes());
    write_at(&seg, 0, &header);
    match Wal::open(dir.path(), never(4096)) {
        Err(WalError::UnsupportedVersion { segment, version: 2 }) => assert_eq!(segment, seg),
        other => panic!("{:?}", other.map(|_| ())),
    }
}

#[test]
fn missing_segment_is_an_lsn_gap() {
    let dir = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(dir.path(), never(4096)).unwrap();
    fill(&mut wal, 100, 10);
    drop(wal);
    let segs = segment_paths(dir.path());
    std::fs::remove_file(&segs[2]).unwrap();
    let reason = expect_corrupt(reader_error(dir.path()), &segs[3], 0, "gap");
    assert!(reason.contains("LSN"), "{reason}");
    let bad = verify(dir.path(), &mut |_, _| {}).unwrap().first_bad.unwrap();
    assert_eq!((bad.segment, bad.offset), (segs[3].clone(), 0));
}

#[test]
fn zeroed_record_followed_by_valid_ones_is_not_a_clean_end() {
    let dir = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(dir.path(), never(1 << 20)).unwrap();
    fill(&mut wal, 20, 20);
    drop(wal);
    let (pos, _) = read_all(dir.path(), Lsn(8)).remove(0);
    write_at(&pos.segment, pos.offset, &vec![0u8; frame_len(&pos) as usize]);
    expect_corrupt(Wal::open(dir.path(), never(1 << 20)), &pos.segment, pos.offset, "zeroed LSN 8");
}

#[test]
fn valid_record_with_a_wrong_lsn_is_corrupt() {
    // Copy LSN 5's bytes over LSN 6 (same length, valid checksum).
    let dir = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(dir.path(), never(1 << 20)).unwrap();
    for _ in 0..10 {
        wal.append(argon_wal::CommitTime(0), b"same size").unwrap();
    }
    wal.commit().unwrap();
    drop(wal);
    let recs = read_all(dir.path(), Lsn(0));
    let (p5, p6) = (&recs[4].0, &recs[5].0);
    let bytes = std::fs::read(&p5.segment).unwrap();
    write_at(&p6.segment, p6.offset, &bytes[p5.offset as usize..(p5.offset + frame_len(p5)) as usize]);
    let reason = expect_corrupt(Wal::open(dir.path(), never(1 << 20)), &p6.segment, p6.offset, "dup");
    assert!(reason.contains("expected LSN 6"), "{reason}");
    expect_corrupt(reader_error(dir.path()), &p6.segment, p6.offset, "dup, reader");
}
