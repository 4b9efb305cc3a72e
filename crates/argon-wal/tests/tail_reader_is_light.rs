//! A reader waiting at the live tail (a change stream, an oplog tailer)
//! lets its large read buffer go and reads the next records in small
//! chunks, so thousands of idle readers cost little memory, yet it still
//! reads every record, small or large, written after it stopped.

mod common;

use argon_wal::{Lsn, SyncMode, Wal, WalOptions};
use common::*;

#[test]
fn a_reader_at_the_tail_holds_little_and_still_reads_everything() {
    let dir = tempfile::tempdir().unwrap();
    // No compression: the reader should never need a zstd context either.
    let o = WalOptions { sync: SyncMode::Never, compress_min_bytes: usize::MAX, ..opts(64 << 20) };
    let mut wal = Wal::open(dir.path(), o).unwrap();
    fill(&mut wal, 2000, 50); // ~1.5 MB: the catch-up read grows its buffer
    let mut reader = wal.reader(Lsn(1)).unwrap();
    let mut n = 0;
    let mut peak = 0;
    while let Some(r) = reader.next() {
        let (_, rec) = r.unwrap();
        n += 1;
        assert_eq!(rec.payload, payload_for(rec.lsn.0));
        peak = peak.max(reader.buffered_bytes());
    }
    assert_eq!(n, 2000);
    assert!(peak >= 128 << 10, "catching up reads in large chunks ({peak} bytes)");
    assert!(reader.buffered_bytes() <= 8 << 10, "at the tail: {} bytes held", reader.buffered_bytes());

    // New records of every size, including ones far larger than the first
    // tail read, and a group that spans many tail reads.
    let mut next = 2001u64;
    for size in [10usize, 5_000, 100_000, 1_000_000, 3] {
        for _ in 0..3 {
            wal.append(time_for(next), &random_bytes(next, size)).unwrap();
            next += 1;
        }
        wal.commit().unwrap();
        let got: Vec<_> = reader.by_ref().map(|r| r.unwrap().1).collect();
        assert_eq!(got.len(), 3, "records of {size} bytes");
        for rec in got {
            assert_eq!(rec.payload, random_bytes(rec.lsn.0, size));
        }
        assert!(reader.buffered_bytes() <= 8 << 10, "back at the tail after {size}-byte records");
    }
    assert!(reader.next().is_none());
}
