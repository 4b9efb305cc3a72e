//! The bytes on disk are exactly FORMAT.md's: checked against bytes
//! computed independently of this crate (a few lines of Python following
//! FORMAT.md), in both directions.

use argon_wal::{CommitTime, Lsn, SyncMode, Wal, WalOptions, WalReader};

/// Header of the segment with first LSN 1, then one record: LSN 1, time
/// 1000 µs, payload "hi", uncompressed. (FORMAT.md, "Example".)
const GOLDEN_HEX: &str = concat!(
    "4152474f4e57414c",
    "01000000",
    "0100000000000000",
    "f6fb0d50", // header
    "17000000",
    "55edaed3",
    "0100000000000000",
    "e803000000000000",
    "00",
    "6869", // record
);

fn golden() -> Vec<u8> {
    (0..GOLDEN_HEX.len()).step_by(2).map(|i| u8::from_str_radix(&GOLDEN_HEX[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn writer_produces_the_documented_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mut wal =
        Wal::open(dir.path(), WalOptions { sync: SyncMode::Never, ..WalOptions::default() }).unwrap();
    wal.append(CommitTime(1000), b"hi").unwrap();
    wal.commit().unwrap();
    drop(wal);
    let bytes = std::fs::read(dir.path().join("00000000000000000001.wal")).unwrap();
    let golden = golden();
    assert_eq!(&bytes[..golden.len()], &golden[..]);
    assert!(bytes[golden.len()..].iter().all(|&b| b == 0), "only preallocated zeros after the record");
}

#[test]
fn reader_reads_the_documented_bytes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("00000000000000000001.wal"), golden()).unwrap();
    let recs: Vec<_> = WalReader::open(dir.path(), Lsn(0)).unwrap().map(|r| r.unwrap()).collect();
    assert_eq!(recs.len(), 1);
    let (pos, rec) = &recs[0];
    assert_eq!((rec.lsn, rec.time, &rec.payload[..]), (Lsn(1), CommitTime(1000), &b"hi"[..]));
    assert_eq!((pos.offset, pos.stored_len, pos.compressed), (24, 2, false));
    // And a writer continues it.
    let mut wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
    assert_eq!(wal.last_lsn(), Lsn(1));
    assert_eq!(wal.append(CommitTime(1001), b"more").unwrap(), Lsn(2));
}
