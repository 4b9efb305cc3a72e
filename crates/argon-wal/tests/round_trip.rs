//! Records written, committed and reopened read back exactly, across
//! segments, compressed or not.

mod common;

use argon_wal::{CommitTime, Lsn, SyncMode, Wal, WalOptions};
use common::*;

#[test]
fn many_records_survive_reopen_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    let seg_bytes = 8 << 10;
    let mut wal = Wal::open(dir.path(), opts(seg_bytes)).unwrap();
    fill(&mut wal, 1500, 13);
    let stats = wal.stats();
    assert_eq!((stats.last_lsn, stats.durable_lsn), (Lsn(1500), Lsn(1500)));
    assert_eq!(stats.records_appended, 1500);
    assert!(stats.segments >= 20, "only {} segments", stats.segments);
    assert_eq!(stats.segments as usize, segment_paths(dir.path()).len());
    drop(wal);

    let mut wal = Wal::open(dir.path(), opts(seg_bytes)).unwrap();
    assert_eq!((wal.last_lsn(), wal.durable_lsn()), (Lsn(1500), Lsn(1500)));
    let records = read_all(dir.path(), Lsn(0));
    assert_records(&records, 1, 1500);
    let compressed = records.iter().filter(|(p, _)| p.compressed).count();
    assert!(compressed > 100 && compressed < 1000, "{compressed} compressed");
    for (pos, rec) in &records {
        if pos.compressed {
            assert!((pos.stored_len as usize) < rec.payload.len());
        } else {
            assert_eq!(pos.stored_len as usize, rec.payload.len());
        }
    }

    // Every sealed segment respects segment_bytes (no record here is bigger
    // than a segment) and is cut to its last record; the stats count them.
    let segs = segment_paths(dir.path());
    let (last, sealed) = segs.split_last().unwrap();
    for seg in sealed {
        assert!(file_len(seg) <= seg_bytes, "{} is {} bytes", seg.display(), file_len(seg));
        let last_in_seg = records.iter().rfind(|(p, _)| &p.segment == seg).unwrap();
        assert_eq!(last_in_seg.0.offset + frame_len(&last_in_seg.0), file_len(seg), "{}", seg.display());
    }
    let (tail, _) = records.last().unwrap();
    assert_eq!(&tail.segment, last);
    let sealed_bytes: u64 = sealed.iter().map(|s| file_len(s)).sum();
    assert_eq!(wal.stats().bytes, sealed_bytes + tail.offset + frame_len(tail));

    // Appending continues the sequence, and a second reopen sees it all.
    fill(&mut wal, 1600, 7);
    drop(wal);
    let wal = Wal::open(dir.path(), opts(seg_bytes)).unwrap();
    assert_eq!(wal.last_lsn(), Lsn(1600));
    assert_records(&read_all(dir.path(), Lsn(0)), 1, 1600);
}

#[test]
fn empty_wal_reopens_empty() {
    let dir = tempfile::tempdir().unwrap();
    let wal_dir = dir.path().join("nested/wal");
    let wal = Wal::open(&wal_dir, WalOptions::default()).unwrap();
    assert_eq!((wal.last_lsn(), wal.durable_lsn()), (Lsn(0), Lsn(0)));
    drop(wal);
    let mut wal = Wal::open(&wal_dir, WalOptions::default()).unwrap();
    assert_eq!(wal.last_lsn(), Lsn(0));
    assert!(read_all(&wal_dir, Lsn(0)).is_empty());
    assert_eq!(wal.append(time_for(1), &payload_for(1)).unwrap(), Lsn(1));
    wal.commit().unwrap();
    assert_records(&read_all(&wal_dir, Lsn(0)), 1, 1);
}

#[test]
fn uncommitted_appends_are_discarded_and_their_lsns_reused() {
    let dir = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(dir.path(), opts(1 << 20)).unwrap();
    fill(&mut wal, 3, 3);
    wal.append(CommitTime(0), b"never committed").unwrap();
    assert_eq!(wal.last_lsn(), Lsn(4));
    assert_records(&read_all(dir.path(), Lsn(0)), 1, 3);
    drop(wal);
    let mut wal = Wal::open(dir.path(), opts(1 << 20)).unwrap();
    assert_eq!(wal.last_lsn(), Lsn(3));
    fill(&mut wal, 5, 1);
    assert_records(&read_all(dir.path(), Lsn(0)), 1, 5);
}

#[test]
fn an_uncommitted_group_crossing_segments_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(dir.path(), opts(2048)).unwrap();
    fill(&mut wal, 3, 3);
    let segments = segment_paths(dir.path());
    // Enough for several segments, then dropped without commit.
    for lsn in 4..40 {
        wal.append(time_for(lsn), &payload_for(lsn)).unwrap();
    }
    drop(wal);
    assert_eq!(segment_paths(dir.path()), segments, "rolls happen at commit, not append");
    let mut wal = Wal::open(dir.path(), opts(2048)).unwrap();
    assert_eq!(wal.last_lsn(), Lsn(3));
    fill(&mut wal, 40, 40);
    assert!(segment_paths(dir.path()).len() > segments.len() + 3);
    assert_records(&read_all(dir.path(), Lsn(0)), 1, 40);
}

#[test]
fn a_record_bigger_than_a_segment_gets_a_segment_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(dir.path(), opts(2048)).unwrap();
    let big = random_bytes(7, 10_000);
    wal.append(CommitTime(1), b"small").unwrap();
    wal.append(CommitTime(2), &big).unwrap();
    wal.append(CommitTime(3), b"after").unwrap();
    wal.commit().unwrap();
    drop(wal);
    Wal::open(dir.path(), opts(2048)).unwrap();
    let recs = read_all(dir.path(), Lsn(0));
    let payloads: Vec<&[u8]> = recs.iter().map(|(_, r)| &r.payload[..]).collect();
    assert_eq!(payloads, [&b"small"[..], &big[..], &b"after"[..]]);
    let segs: Vec<_> = recs.iter().map(|(p, _)| p.segment.clone()).collect();
    assert!(segs[0] != segs[1] && segs[1] != segs[2], "{segs:?}");
    assert_eq!(segment_paths(dir.path()), segs);
}

#[test]
fn empty_and_maximally_compressible_payloads_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(dir.path(), opts(1 << 20)).unwrap();
    let zeros = vec![0u8; 1 << 20];
    wal.append(CommitTime(-1), b"").unwrap();
    wal.append(CommitTime(i64::MAX), &zeros).unwrap();
    wal.commit().unwrap();
    let recs = read_all(dir.path(), Lsn(0));
    assert_eq!(recs[0].1.payload, b"");
    assert_eq!(recs[0].1.time, CommitTime(-1));
    assert_eq!(recs[1].1.payload, zeros);
    assert!(recs[1].0.compressed && recs[1].0.stored_len < 1000);
}

#[test]
fn compression_can_be_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let o = WalOptions { compress_min_bytes: usize::MAX, sync: SyncMode::Never, ..opts(1 << 20) };
    let mut wal = Wal::open(dir.path(), o).unwrap();
    wal.append(CommitTime(0), &vec![b'a'; 4096]).unwrap();
    wal.commit().unwrap();
    let recs = read_all(dir.path(), Lsn(0));
    assert!(!recs[0].0.compressed);
    assert_eq!(recs[0].0.stored_len, 4096);
}
