//! Mark files: the [`Mark`]s of a sealed segment, kept beside it
//! (`<segment>.marks`), so that after a restart a reader of an old LSN,
//! or one reading the log newest first, starts near its position instead
//! of scanning the segment from its first record.
//!
//! Written when the writer seals a segment (it knows every mark of it: it
//! wrote the segment, or recovery scanned the part written before), with
//! no fsync: the file is a hint. A missing, torn or otherwise unreadable
//! one is ignored (its segment is then scanned, as before marks existed).
//!
//! Format: `ARGONMK1`, the mark count (u32 LE), per mark its LSN and offset
//! (u64 LE each), then a CRC32C of everything before it (u32 LE).

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use argon_types::Lsn;

use crate::format::HEADER_LEN;
use crate::segment::SegmentFile;
use crate::syncer::Mark;

const MAGIC: &[u8; 8] = b"ARGONMK1";

/// The mark file of the segment at `segment_path`.
pub fn path_for(segment_path: &Path) -> PathBuf {
    let mut name = segment_path.as_os_str().to_owned();
    name.push(".marks");
    PathBuf::from(name)
}

/// Writes the mark file of `seg` (atomically: a temporary file renamed).
pub fn write(seg: &SegmentFile, marks: &[Mark]) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(16 + marks.len() * 16);
    buf.extend_from_slice(MAGIC);
    buf.extend_from_slice(&(marks.len() as u32).to_le_bytes());
    for m in marks {
        buf.extend_from_slice(&m.lsn.0.to_le_bytes());
        buf.extend_from_slice(&m.offset.to_le_bytes());
    }
    let crc = crc32c::crc32c(&buf);
    buf.extend_from_slice(&crc.to_le_bytes());
    let path = path_for(&seg.path);
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    fs::write(&tmp, &buf)?;
    fs::rename(&tmp, &path)
}

/// The marks in `seg`'s mark file, if it has a sound one: a valid
/// checksum, and marks that lie in the segment (`seg_len` bytes) in
/// increasing LSN and offset order, after its first record.
pub fn read(seg: &SegmentFile, seg_len: u64) -> Option<Vec<Mark>> {
    let mut bytes = Vec::new();
    File::open(path_for(&seg.path)).ok()?.read_to_end(&mut bytes).ok()?;
    if bytes.len() < MAGIC.len() + 8 || &bytes[..MAGIC.len()] != MAGIC {
        return None;
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    if crc32c::crc32c(body) != u32::from_le_bytes(crc.try_into().ok()?) {
        return None;
    }
    let count = u32::from_le_bytes(body[8..12].try_into().ok()?) as usize;
    let entries = &body[12..];
    if entries.len() != count * 16 {
        return None;
    }
    let mut marks: Vec<Mark> = Vec::with_capacity(count);
    for e in entries.chunks_exact(16) {
        let lsn = Lsn(u64::from_le_bytes(e[..8].try_into().ok()?));
        let offset = u64::from_le_bytes(e[8..].try_into().ok()?);
        let after_prev = marks.last().is_none_or(|p| p.lsn < lsn && p.offset < offset);
        if !after_prev || lsn <= seg.first_lsn || offset <= HEADER_LEN as u64 || offset >= seg_len {
            return None;
        }
        marks.push(Mark { lsn, segment: seg.first_lsn, offset });
    }
    Some(marks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(dir: &Path) -> SegmentFile {
        let path = dir.join(crate::format::segment_file_name(Lsn(10)));
        std::fs::write(&path, vec![0u8; 4096]).unwrap();
        SegmentFile { first_lsn: Lsn(10), path }
    }

    #[test]
    fn marks_round_trip_and_damage_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let s = seg(dir.path());
        let marks = vec![
            Mark { lsn: Lsn(20), segment: Lsn(10), offset: 1000 },
            Mark { lsn: Lsn(35), segment: Lsn(10), offset: 3000 },
        ];
        assert_eq!(read(&s, 4096), None, "no file yet");
        write(&s, &marks).unwrap();
        assert_eq!(read(&s, 4096), Some(marks.clone()));
        // A mark beyond the segment's end (a file from elsewhere): ignored.
        assert_eq!(read(&s, 2000), None);
        // Any flipped byte fails the checksum.
        let path = path_for(&s.path);
        let good = std::fs::read(&path).unwrap();
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x40;
            std::fs::write(&path, &bad).unwrap();
            assert_eq!(read(&s, 4096), None, "byte {i} flipped");
        }
        // Cut short (a torn write).
        std::fs::write(&path, &good[..good.len() - 3]).unwrap();
        assert_eq!(read(&s, 4096), None);
        // Out of order, even with a valid checksum.
        write(&s, &[marks[1], marks[0]]).unwrap();
        assert_eq!(read(&s, 4096), None);
    }
}
