//! A writer process killed with SIGKILL in the middle of group commits
//! loses no acknowledged record, and the WAL reopens cleanly, again and
//! again.
//!
//! The test re-executes its own binary as the child (selected by an
//! environment variable); the child appends and commits groups forever,
//! printing `ACK <lsn>` after each commit() returns.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use argon_wal::{Lsn, SyncMode, Wal, WalOptions};
use common::*;

const CHILD_ENV: &str = "ARGON_WAL_TEST_SIGKILL_CHILD_DIR";
const TEST_NAME: &str = "sigkill_during_group_commits_keeps_every_acknowledged_record";
const ACKS_PER_ROUND: usize = 30;

fn options() -> WalOptions {
    // Small segments, so kills also land around segment rolls.
    WalOptions { sync: SyncMode::Always, segment_bytes: 16 << 10, ..WalOptions::default() }
}

#[test]
fn sigkill_during_group_commits_keeps_every_acknowledged_record() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        child_writer(Path::new(&dir));
    }
    let dir = tempfile::tempdir().unwrap();
    let mut max_acked = 0u64;
    for round in 0..3 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut acks = 0;
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            let Some(lsn) = line.unwrap().strip_prefix("ACK ").map(|n| n.parse::<u64>().unwrap()) else {
                continue;
            };
            assert!(lsn > max_acked, "round {round}: acknowledged LSN {lsn} after {max_acked}");
            max_acked = lsn;
            acks += 1;
            if acks == ACKS_PER_ROUND {
                break;
            }
        }
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        assert_eq!(acks, ACKS_PER_ROUND, "round {round}: the child stopped early:\n{stderr}");

        let wal = Wal::open(dir.path(), options()).unwrap();
        let last = wal.last_lsn().0;
        assert!(last >= max_acked, "round {round}: acknowledged {max_acked}, recovered only {last}");
        // Every record, acknowledged or not, that survived is whole and right.
        assert_records(&read_all(dir.path(), Lsn(0)), 1, last);
        max_acked = last;
    }
}

/// The child: append groups of 1..=23 records, commit, acknowledge; forever.
fn child_writer(dir: &Path) -> ! {
    let mut wal = Wal::open(dir, options()).unwrap();
    let mut out = std::io::stdout().lock();
    loop {
        let group = 1 + wal.last_lsn().0 * 7 % 23;
        for _ in 0..group {
            let lsn = wal.last_lsn().0 + 1;
            wal.append(time_for(lsn), &payload_for(lsn)).unwrap();
        }
        let durable = wal.commit().unwrap();
        assert_eq!(durable, wal.last_lsn());
        writeln!(out, "ACK {}", durable.0).unwrap();
        out.flush().unwrap();
    }
}
