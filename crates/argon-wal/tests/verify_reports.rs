//! verify() counts a good WAL, names the first bad record of a damaged one,
//! and tells a torn tail (crash debris) from damage.

mod common;

use argon_wal::{verify, Lsn, SyncMode, Wal, WalOptions};
use common::*;

fn never(segment_bytes: u64) -> WalOptions {
    WalOptions { sync: SyncMode::Never, ..opts(segment_bytes) }
}

#[test]
fn good_wal_is_counted_and_progress_reaches_the_total() {
    let dir = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(dir.path(), never(8192)).unwrap();
    fill(&mut wal, 300, 9);
    let stats = wal.stats();
    let mut calls: Vec<(u64, u64)> = Vec::new();
    let report = verify(dir.path(), &mut |done, total| calls.push((done, total))).unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.first_bad, None);
    assert_eq!(report.torn_tail, None);
    assert_eq!(report.segments, stats.segments);
    assert_eq!(report.records, 300);
    assert_eq!((report.first_lsn, report.last_lsn), (Lsn(1), Lsn(300)));
    assert_eq!(report.bytes, stats.bytes);

    let total: u64 = segment_paths(dir.path()).iter().map(|p| file_len(p)).sum();
    assert!(calls.len() as u64 > report.segments, "one call per segment at least");
    assert!(calls.iter().all(|&(_, t)| t == total));
    assert!(calls.windows(2).all(|w| w[0].0 <= w[1].0), "progress goes forward");
    assert_eq!(*calls.last().unwrap(), (total, total));
}

#[test]
fn empty_wal_verifies_empty() {
    let dir = tempfile::tempdir().unwrap();
    drop(Wal::open(dir.path(), never(8192)).unwrap());
    let report = verify(dir.path(), &mut |_, _| {}).unwrap();
    assert!(report.is_ok());
    assert_eq!((report.segments, report.records, report.last_lsn), (1, 0, Lsn(0)));
}

#[test]
fn damaged_record_is_named_with_its_lsn() {
    let dir = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(dir.path(), never(8192)).unwrap();
    fill(&mut wal, 300, 9);
    drop(wal);
    let (pos, _) = read_all(dir.path(), Lsn(77)).remove(0);
    flip_byte(&pos.segment, pos.offset + frame_len(&pos) - 1);
    let report = verify(dir.path(), &mut |_, _| {}).unwrap();
    assert!(!report.is_ok());
    let bad = report.first_bad.unwrap();
    assert_eq!((bad.segment, bad.offset, bad.lsn), (pos.segment, pos.offset, Some(Lsn(77))));
    assert!(bad.reason.contains("checksum"), "{}", bad.reason);
    assert_eq!((report.records, report.last_lsn), (76, Lsn(76)));
}

#[test]
fn torn_tail_is_reported_as_such_not_as_damage() {
    let dir = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(dir.path(), never(8192)).unwrap();
    fill(&mut wal, 50, 10);
    drop(wal);
    let (pos, _) = read_all(dir.path(), Lsn(50)).remove(0);
    set_len(&pos.segment, pos.offset + 30);
    let report = verify(dir.path(), &mut |_, _| {}).unwrap();
    assert!(report.is_ok(), "{report:?}");
    let torn = report.torn_tail.unwrap();
    assert_eq!((torn.segment, torn.offset, torn.lsn), (pos.segment, pos.offset, Some(Lsn(50))));
    assert_eq!(report.last_lsn, Lsn(49));
}
