//! A reader starts at any LSN (first, middle, segment boundaries, beyond
//! the end), and tails a log that is being written.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use argon_wal::{Lsn, SyncMode, Wal, WalOptions, WalReader};
use common::*;

const LAST: u64 = 400;

fn lsns(reader: WalReader) -> Vec<u64> {
    reader.map(|r| r.unwrap().1.lsn.0).collect()
}

#[test]
fn reader_starts_at_any_lsn() {
    let dir = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(dir.path(), WalOptions { sync: SyncMode::Never, ..opts(4096) }).unwrap();
    fill(&mut wal, LAST, 10);

    // First LSN of every segment, from the file names.
    let firsts: Vec<u64> = segment_paths(dir.path())
        .iter()
        .map(|p| p.file_stem().unwrap().to_str().unwrap().parse().unwrap())
        .collect();
    assert!(firsts.len() > 10, "want many segment boundaries, got {firsts:?}");
    assert_eq!(firsts[0], 1);

    let mut starts = vec![0, 1, 2, LAST / 2, LAST - 1, LAST, LAST + 1, LAST + 1000, u64::MAX];
    for &f in &firsts {
        starts.extend([f - 1, f, f + 1]);
    }
    for from in starts {
        let want: Vec<u64> = (from.max(1)..=LAST).collect();
        assert_eq!(lsns(wal.reader(Lsn(from)).unwrap()), want, "from {from}");
        assert_eq!(lsns(WalReader::open(dir.path(), Lsn(from)).unwrap()), want, "from {from}, no Wal");
    }

    // Positions name the segment holding the record.
    for (pos, rec) in read_all(dir.path(), Lsn(0)) {
        let seg_first: u64 = pos.segment.file_stem().unwrap().to_str().unwrap().parse().unwrap();
        let idx = firsts.partition_point(|&f| f <= rec.lsn.0) - 1;
        assert_eq!(seg_first, firsts[idx], "LSN {}", rec.lsn);
    }
}

#[test]
fn reader_tails_records_committed_after_it_reached_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(dir.path(), WalOptions { sync: SyncMode::Never, ..opts(4096) }).unwrap();
    fill(&mut wal, 5, 5);
    let mut reader = wal.reader(Lsn(3)).unwrap();
    assert_eq!(reader.by_ref().map(|r| r.unwrap().1.lsn.0).collect::<Vec<_>>(), [3, 4, 5]);
    assert!(reader.next().is_none(), "still at the end");

    // Appended but not committed: not visible yet.
    wal.append(time_for(6), &payload_for(6)).unwrap();
    assert!(reader.next().is_none());
    wal.commit().unwrap();
    let next = reader.next().unwrap().unwrap().1;
    assert_eq!((next.lsn, next.payload), (Lsn(6), payload_for(6)));

    // Across several new segments too.
    fill(&mut wal, 60, 4);
    assert_eq!(reader.by_ref().map(|r| r.unwrap().1.lsn.0).collect::<Vec<_>>(), (7..=60).collect::<Vec<_>>());
}

#[test]
fn reader_on_another_thread_never_errors_on_the_live_tail() {
    let dir = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(dir.path(), WalOptions { sync: SyncMode::Never, ..opts(4096) }).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let dir = dir.path().to_path_buf();
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let mut reader = WalReader::open(&dir, Lsn(1)).unwrap();
            let mut next = 1u64;
            loop {
                let finished = done.load(Ordering::Acquire);
                for item in reader.by_ref() {
                    let rec = item.unwrap().1;
                    assert_eq!(rec.lsn, Lsn(next));
                    assert_eq!(rec.payload, payload_for(next));
                    next += 1;
                }
                if finished {
                    return next - 1;
                }
                std::thread::yield_now();
            }
        })
    };
    fill(&mut wal, 1500, 3);
    done.store(true, Ordering::Release);
    assert_eq!(reader.join().unwrap(), 1500);
}

#[test]
fn reader_of_a_missing_dir_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    assert!(WalReader::open(&dir.path().join("nope"), Lsn(0)).is_err());
}
