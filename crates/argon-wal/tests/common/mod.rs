//! Helpers shared by the integration tests: deterministic payloads, and
//! poking at segment files.
#![allow(dead_code)]
// `is_multiple_of` is newer than the workspace's rust-version (1.85).
#![allow(unknown_lints, clippy::manual_is_multiple_of)]

use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use argon_wal::{CommitTime, Lsn, Record, RecordPos, Wal, WalOptions, WalReader};

/// The payload of the record with `lsn` in these tests: sizes from 0 to
/// ~1.5 KB; every third is compressible text, the rest random bytes, so
/// both stored forms occur (compression starts at 512 bytes by default).
pub fn payload_for(lsn: u64) -> Vec<u8> {
    let len = (lsn.wrapping_mul(7919) % 1500) as usize;
    if lsn % 3 == 0 {
        format!("record {lsn} ").bytes().cycle().take(len).collect()
    } else {
        random_bytes(lsn, len)
    }
}

pub fn time_for(lsn: u64) -> CommitTime {
    CommitTime(1_700_000_000_000_000 + lsn as i64 * 17)
}

/// Incompressible bytes (xorshift64 seeded by `seed`).
pub fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Compression from 512 bytes (below the default), so that the tests'
/// small records include compressed ones.
pub fn opts(segment_bytes: u64) -> WalOptions {
    WalOptions { segment_bytes, compress_min_bytes: 512, ..WalOptions::default() }
}

/// Appends records `last_lsn+1 ..= upto` with `payload_for`, committing
/// every `group` records.
pub fn fill(wal: &mut Wal, upto: u64, group: u64) {
    while wal.last_lsn().0 < upto {
        let lsn = wal.last_lsn().0 + 1;
        assert_eq!(wal.append(time_for(lsn), &payload_for(lsn)).unwrap(), Lsn(lsn));
        if lsn % group == 0 || lsn == upto {
            wal.commit().unwrap();
        }
    }
}

/// Every record from `from` on, panicking on errors.
pub fn read_all(dir: &Path, from: Lsn) -> Vec<(RecordPos, Record)> {
    WalReader::open(dir, from).unwrap().map(|r| r.unwrap()).collect()
}

/// Checks that `records` are exactly LSNs `first..=last` with the test payloads.
pub fn assert_records(records: &[(RecordPos, Record)], first: u64, last: u64) {
    let lsns: Vec<u64> = records.iter().map(|(_, r)| r.lsn.0).collect();
    let want: Vec<u64> = (first..=last).collect();
    assert_eq!(lsns, want);
    for (_, r) in records {
        assert_eq!(r.payload, payload_for(r.lsn.0), "payload of LSN {}", r.lsn);
        assert_eq!(r.time, time_for(r.lsn.0), "time of LSN {}", r.lsn);
    }
}

/// The segment files of `dir`, in LSN order.
pub fn segment_paths(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .collect();
    v.sort();
    v
}

pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

pub fn flip_byte(path: &Path, offset: u64) {
    let f = OpenOptions::new().read(true).write(true).open(path).unwrap();
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, offset).unwrap();
    b[0] ^= 0x5A;
    f.write_all_at(&b, offset).unwrap();
}

pub fn write_at(path: &Path, offset: u64, bytes: &[u8]) {
    let f = OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(bytes, offset).unwrap();
}

pub fn set_len(path: &Path, len: u64) {
    OpenOptions::new().write(true).open(path).unwrap().set_len(len).unwrap();
}

pub fn file_len(path: &Path) -> u64 {
    fs::metadata(path).unwrap().len()
}

/// Bytes a record takes on disk.
pub fn frame_len(pos: &RecordPos) -> u64 {
    25 + pos.stored_len as u64
}
