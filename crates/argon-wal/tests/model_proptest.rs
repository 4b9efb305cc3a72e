//! Property: whatever the sequence of appends, commits and reopens, the WAL
//! reads back exactly the committed records (a naive Vec is the model).

mod common;

use argon_wal::{CommitTime, Lsn, SyncMode, Wal, WalOptions};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Append {
        len: usize,
        compressible: bool,
    },
    Commit,
    /// Drop (discarding uncommitted appends) and open again.
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (prop_oneof![0usize..64, 64usize..1200, 1200usize..5000], any::<bool>())
            .prop_map(|(len, compressible)| Op::Append { len, compressible }),
        3 => Just(Op::Commit),
        1 => Just(Op::Reopen),
    ]
}

fn payload(n: u64, len: usize, compressible: bool) -> Vec<u8> {
    if compressible {
        format!("{n}:").bytes().cycle().take(len).collect()
    } else {
        common::random_bytes(n, len)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn reads_back_exactly_what_was_committed(
        ops in prop::collection::vec(op(), 1..60),
        segment_bytes in prop_oneof![Just(1024u64), Just(4096), Just(1 << 20)],
        from_fraction in 0.0f64..1.2,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let o = WalOptions { sync: SyncMode::Never, segment_bytes, ..WalOptions::default() };
        let mut wal = Wal::open(dir.path(), o.clone()).unwrap();
        let mut committed: Vec<(CommitTime, Vec<u8>)> = Vec::new();
        let mut pending: Vec<(CommitTime, Vec<u8>)> = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            match *op {
                Op::Append { len, compressible } => {
                    let rec = (CommitTime(i as i64), payload(i as u64, len, compressible));
                    let lsn = wal.append(rec.0, &rec.1).unwrap();
                    pending.push(rec);
                    prop_assert_eq!(lsn, Lsn((committed.len() + pending.len()) as u64));
                }
                Op::Commit => {
                    wal.commit().unwrap();
                    committed.append(&mut pending);
                }
                Op::Reopen => {
                    drop(wal);
                    pending.clear();
                    wal = Wal::open(dir.path(), o.clone()).unwrap();
                    prop_assert_eq!(wal.last_lsn(), Lsn(committed.len() as u64));
                }
            }
        }
        wal.commit().unwrap();
        committed.append(&mut pending);
        drop(wal);

        let wal = Wal::open(dir.path(), o).unwrap();
        prop_assert_eq!(wal.last_lsn(), Lsn(committed.len() as u64));
        let from = (committed.len() as f64 * from_fraction) as u64;
        let got: Vec<_> = wal.reader(Lsn(from)).unwrap().map(|r| r.unwrap().1).collect();
        let skip = from.saturating_sub(1) as usize;
        let want: Vec<_> = committed.iter().enumerate().skip(skip).collect();
        prop_assert_eq!(got.len(), want.len());
        for (rec, (i, (time, payload))) in got.iter().zip(want) {
            prop_assert_eq!(rec.lsn, Lsn(i as u64 + 1));
            prop_assert_eq!(rec.time, *time);
            prop_assert_eq!(&rec.payload, payload);
        }
        let report = argon_wal::verify(dir.path(), &mut |_, _| {}).unwrap();
        prop_assert!(report.is_ok());
        prop_assert_eq!(report.records, committed.len() as u64);
    }
}
