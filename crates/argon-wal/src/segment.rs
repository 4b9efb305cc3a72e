//! Segment files: finding them in a directory, creating them, and checking
//! their headers.
//!
//! A WAL directory holds segment files named by their first LSN
//! (`format::segment_file_name`); name order is LSN order, so the segment
//! holding an LSN is found by binary search over the names.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use argon_types::Lsn;

use crate::durable;
use crate::error::{io_at, WalError};
use crate::format::{self, HeaderError, HEADER_LEN};

/// A segment file of a WAL directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentFile {
    /// The LSN its name (and header) say its first record has.
    pub first_lsn: Lsn,
    pub path: PathBuf,
}

/// The segment files of `dir`, in LSN order. Other files are ignored.
pub fn list(dir: &Path) -> Result<Vec<SegmentFile>, WalError> {
    let mut segs = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_at(dir))? {
        let entry = entry.map_err(io_at(dir))?;
        let name = entry.file_name();
        if let Some(first_lsn) = name.to_str().and_then(format::parse_segment_file_name) {
            segs.push(SegmentFile { first_lsn, path: entry.path() });
        }
    }
    segs.sort_by_key(|s| s.first_lsn);
    Ok(segs)
}

/// Index of the segment that holds `lsn` if any segment does: the last one
/// whose first LSN is <= `lsn`, or the first one when `lsn` is before all.
pub fn find(segs: &[SegmentFile], lsn: Lsn) -> usize {
    segs.partition_point(|s| s.first_lsn <= lsn).saturating_sub(1)
}

/// Removes segments a crash left half-created (`*.wal.tmp`). They were
/// never renamed into place, so they hold no record anyone was told about.
pub fn remove_leftover_tmp(dir: &Path) -> Result<(), WalError> {
    let mut removed = false;
    for entry in fs::read_dir(dir).map_err(io_at(dir))? {
        let entry = entry.map_err(io_at(dir))?;
        let name = entry.file_name();
        let is_tmp_segment = name
            .to_str()
            .and_then(|n| n.strip_suffix(".tmp"))
            .is_some_and(|n| format::parse_segment_file_name(n).is_some());
        if is_tmp_segment {
            let path = entry.path();
            tracing::warn!(file = %path.display(), "removing half-created WAL segment left by a crash");
            fs::remove_file(&path).map_err(io_at(&path))?;
            removed = true;
        }
    }
    if removed {
        durable::fsync_dir(dir)?;
    }
    Ok(())
}

/// Creates the segment starting at `first_lsn`, preallocated to `prealloc`
/// bytes, durably (header synced, name synced). Returns it open read-write.
pub fn create(dir: &Path, first_lsn: Lsn, prealloc: u64) -> Result<(SegmentFile, File), WalError> {
    let path = dir.join(format::segment_file_name(first_lsn));
    let file = durable::create_file_durably(&path, &format::encode_header(first_lsn), prealloc)?;
    Ok((SegmentFile { first_lsn, path }, file))
}

/// Reads and checks the header of `seg` (magic, checksum, version, and that
/// it names the same first LSN as the file name).
pub fn check_header(seg: &SegmentFile, file: &File) -> Result<(), WalError> {
    let mut h = [0u8; HEADER_LEN];
    let n = read_up_to(file, &mut h, 0).map_err(io_at(&seg.path))?;
    match format::decode_header(&h[..n]) {
        Ok(first) if first == seg.first_lsn => Ok(()),
        Ok(first) => Err(WalError::corrupt(
            &seg.path,
            0,
            format!("header says the first LSN is {first} but the file name says {}", seg.first_lsn),
        )),
        Err(HeaderError::Invalid(why)) => Err(WalError::corrupt(&seg.path, 0, why)),
        Err(HeaderError::Version(version)) => {
            Err(WalError::UnsupportedVersion { segment: seg.path.clone(), version })
        }
    }
}

/// Reads into `buf` from `offset` until it is full or the file ends; returns
/// the bytes read.
pub fn read_up_to(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(first: u64) -> SegmentFile {
        SegmentFile { first_lsn: Lsn(first), path: PathBuf::new() }
    }

    #[test]
    fn find_picks_the_segment_holding_the_lsn() {
        let segs = [seg(1), seg(10), seg(20)];
        let cases = [(0, 0), (1, 0), (9, 0), (10, 1), (19, 1), (20, 2), (1000, 2)];
        for (lsn, want) in cases {
            assert_eq!(find(&segs, Lsn(lsn)), want, "lsn {lsn}");
        }
        assert_eq!(find(&[], Lsn(5)), 0);
    }

    #[test]
    fn list_ignores_other_files_and_sorts_by_lsn() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            format::segment_file_name(Lsn(100)),
            format::segment_file_name(Lsn(2)),
            "notes.txt".to_string(),
            format!("{}.tmp", format::segment_file_name(Lsn(300))),
        ] {
            fs::write(dir.path().join(name), b"x").unwrap();
        }
        let firsts: Vec<u64> = list(dir.path()).unwrap().iter().map(|s| s.first_lsn.0).collect();
        assert_eq!(firsts, [2, 100]);
        remove_leftover_tmp(dir.path()).unwrap();
        assert!(!dir.path().join(format!("{}.tmp", format::segment_file_name(Lsn(300)))).exists());
        assert!(dir.path().join("notes.txt").exists());
    }

    #[test]
    fn header_must_match_the_file_name() {
        let dir = tempfile::tempdir().unwrap();
        let (created, file) = create(dir.path(), Lsn(5), 4096).unwrap();
        assert_eq!(file.metadata().unwrap().len(), 4096, "preallocated");
        check_header(&created, &file).unwrap();
        let renamed = SegmentFile { first_lsn: Lsn(6), path: created.path.clone() };
        let err = check_header(&renamed, &file).unwrap_err();
        assert!(matches!(err, WalError::Corrupt { offset: 0, .. }), "{err}");
    }
}
