//! Durable single-document inserts: 1 writer, and 64 concurrent writers
//! sharing group commits, with `SyncMode::Always` (and `Never` to show the
//! CPU-bound ceiling of the commit path without any fdatasync).
//!
//! Method: each writer calls `Store::write` with one `Insert` of a ~200-byte
//! document and waits for it; every commit is acknowledged only after the
//! group's one fdatasync (Always). Writers run for a fixed time; we report
//! docs/s, the number of group commits (one fdatasync each in Always) and
//! the average group size, next to the disk's raw fdatasync rate (4 KiB
//! write + fdatasync in a loop, same filesystem).
//!
//! Run: `cargo bench -p argon-store --bench write` (optional filters:
//! `-- always`, `-- never`, `-- "never tasks64"`, `-- encoded64`, `-- entry`
//! for the WAL entry encoding alone;
//! `ARGON_BENCH_SECS=n` per measurement, default 5). `tasks64` hands the
//! store `Document`s to encode; `encoded64` hands it BSON bytes built per
//! insert, as the wire server does. `ARGON_BENCH_SYNC_THREADS=n` sets how
//! many fdatasyncs may run at once (default: the store's, 2);
//! `ARGON_BENCH_EARLY_WRITEBACK=1` starts each group's disk write before
//! its fdatasync (`WalOptions::early_writeback`).
//! Reference numbers (date, machine, results) are in docs/BENCHMARKS.md,
//! "Storage core (issue 2)".

mod common;

// The allocator the `argon` binary uses (see crates/argon-cli/src/main.rs).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use argon_store::{Store, StoreOptions, SyncMode, WriteOp, WriteRequest};
use common::*;

fn secs() -> Duration {
    let s = std::env::var("ARGON_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(5.0);
    Duration::from_secs_f64(s)
}

/// fdatasyncs in flight at once: `ARGON_BENCH_SYNC_THREADS`, else the
/// store's default (to compare settings in alternated runs).
fn sync_threads() -> usize {
    let default = StoreOptions::default().wal_sync_threads;
    std::env::var("ARGON_BENCH_SYNC_THREADS").ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// `ARGON_BENCH_EARLY_WRITEBACK=0|1`, else the store's default (false).
fn early_writeback() -> bool {
    let default = StoreOptions::default().wal_early_writeback;
    std::env::var("ARGON_BENCH_EARLY_WRITEBACK").ok().map_or(default, |s| s != "0")
}

/// Runs `writers` threads inserting one document per request for `dur`.
/// Returns (docs, elapsed, group commits, process CPU time).
fn run(store: &Store, writers: usize, dur: Duration) -> (u64, Duration, u64, u64, Duration) {
    let done = AtomicU64::new(0);
    let groups_before = store.stats().group_commits;
    let fsyncs_before = store.stats().wal_fsyncs;
    let start = Instant::now();
    let cpu0 = process_cpu();
    let deadline = start + dur;
    std::thread::scope(|s| {
        for t in 0..writers {
            let store = store.clone();
            let done = &done;
            s.spawn(move || {
                let mut i = 0i64;
                let base = (t as i64 + 1) << 40;
                while Instant::now() < deadline {
                    let req = WriteRequest::new(PROJECT, "main")
                        .op(WriteOp::Insert { coll: COLL.into(), doc: make_doc(base + i, 0) });
                    store.write(req).expect("insert");
                    i += 1;
                }
                done.fetch_add(i as u64, Ordering::Relaxed);
            });
        }
    });
    let elapsed = start.elapsed();
    let cpu = process_cpu() - cpu0;
    (
        done.load(Ordering::Relaxed),
        elapsed,
        store.stats().group_commits - groups_before,
        store.stats().wal_fsyncs - fsyncs_before,
        cpu,
    )
}

/// Runs `writers` async tasks on a 2-worker tokio runtime (the wire
/// server's model: one task per connection), each inserting one document per
/// request with `Store::write_async` for `dur`. `encoded`: each document is
/// built as BSON bytes and handed over with `insert_encoded`, as the wire
/// server does with what a driver sent, instead of as a `Document` the
/// store encodes.
fn run_tasks(
    store: &Store,
    writers: usize,
    dur: Duration,
    encoded: bool,
) -> (u64, Duration, u64, u64, Duration) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
    let done = std::sync::Arc::new(AtomicU64::new(0));
    let groups_before = store.stats().group_commits;
    let fsyncs_before = store.stats().wal_fsyncs;
    let start = Instant::now();
    let cpu0 = process_cpu();
    let deadline = start + dur;
    rt.block_on(async {
        let mut tasks = Vec::new();
        for t in 0..writers {
            let store = store.clone();
            let done = done.clone();
            tasks.push(tokio::spawn(async move {
                let mut i = 0i64;
                let base = (t as i64 + 1) << 40;
                while Instant::now() < deadline {
                    let req = if encoded {
                        let mut req = WriteRequest::new(PROJECT, "main");
                        req.insert_encoded(COLL, make_raw_doc(base + i, 0)).expect("valid");
                        req
                    } else {
                        WriteRequest::new(PROJECT, "main")
                            .op(WriteOp::Insert { coll: COLL.into(), doc: make_doc(base + i, 0) })
                    };
                    store.write_async(req).await.expect("insert");
                    i += 1;
                }
                done.fetch_add(i as u64, Ordering::Relaxed);
            }));
        }
        for t in tasks {
            t.await.expect("task");
        }
    });
    let elapsed = start.elapsed();
    let cpu = process_cpu() - cpu0;
    (
        done.load(Ordering::Relaxed),
        elapsed,
        store.stats().group_commits - groups_before,
        store.stats().wal_fsyncs - fsyncs_before,
        cpu,
    )
}

/// ns per WAL entry encoded by `Entry::encode_into` (a commit of document
/// changes is written by hand) and by serde (the format's definition), for
/// commits of `ops` inserts of the benchmark's document.
fn encode_entries(ops: usize) {
    use argon_store::{Commit, DocOpKind, Entry, Op, TimelineId};
    let entry = Entry::Commit(Commit {
        project: PROJECT.into(),
        branch: "main".into(),
        timeline: TimelineId(1),
        actor: "anonymous".into(),
        txn: None,
        continues: None,
        ops: (0..ops as i64)
            .map(|i| Op::Doc {
                coll: COLL.into(),
                coll_id: 1,
                kind: DocOpKind::Insert,
                id: bson::Bson::Int64(i),
                post: Some(make_raw_doc(i, 0)),
                pre: None,
            })
            .collect(),
    });
    let mut buf = Vec::with_capacity(64 << 10);
    let rounds = 200_000 / ops;
    let mut time = |by_hand: bool| {
        let start = Instant::now();
        for _ in 0..rounds {
            buf.clear();
            if by_hand {
                entry.encode_into(&mut buf).expect("encode");
            } else {
                bson::serialize_to_buffer(&entry, &mut buf).expect("encode");
            }
            std::hint::black_box(&buf);
        }
        start.elapsed().as_nanos() as f64 / rounds as f64
    };
    let (serde, hand) = (time(false), time(true));
    println!(
        "encode WAL entry, {ops} insert(s): serde {serde:.0} ns, by hand {hand:.0} ns ({} bytes)",
        buf.len()
    );
}

fn main() {
    if skip_unless_bench("write") {
        return;
    }
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let want = |name: &str| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()));
    print_machine();
    let dur = secs();

    if want("entry") {
        encode_entries(1);
        encode_entries(16);
    }

    print_fdatasync(500);

    for (name, sync) in [("always", SyncMode::Always), ("never", SyncMode::Never)] {
        for (model, writers) in
            [("threads", 1usize), ("threads", 64), ("tasks", 64), ("encoded", 8), ("encoded", 64)]
        {
            if !want(&format!("{name} {model}{writers}")) {
                continue;
            }
            let dir = scratch_dir("write");
            let opts = StoreOptions {
                sync,
                wal_sync_threads: sync_threads(),
                wal_early_writeback: early_writeback(),
                ..Default::default()
            };
            let store = Store::open_with(dir.path(), opts).expect("open");
            store.create_project(PROJECT).expect("project");
            // Create the collection outside the measurement.
            store.write(insert_req(-1..0)).expect("first insert");
            let fsync_time_before = store.stats().wal_fsync_time;
            let (docs, elapsed, groups, fsyncs, cpu) = match model {
                "tasks" => run_tasks(&store, writers, dur, false),
                "encoded" => run_tasks(&store, writers, dur, true),
                _ => run(&store, writers, dur),
            };
            let rate = docs as f64 / elapsed.as_secs_f64();
            let fsync_mean = (store.stats().wal_fsync_time - fsync_time_before) / fsyncs.max(1) as u32;
            println!(
                "insert sync={name} writers={writers} {model}: {docs} docs in {:.1} s = {:.0} docs/s; {groups} group commits \
                 ({:.0}/s, {:.1} docs/group), {fsyncs} fdatasyncs ({:.0}/s, mean {:.0} us); process CPU {:.1} us/doc (load {})",
                elapsed.as_secs_f64(),
                rate,
                groups as f64 / elapsed.as_secs_f64(),
                docs as f64 / groups.max(1) as f64,
                fsyncs as f64 / elapsed.as_secs_f64(),
                us(fsync_mean),
                us(cpu) / docs.max(1) as f64,
                loadavg()
            );
            drop(store);
        }
    }
}
