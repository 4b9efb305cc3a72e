//! Point reads by `_id` and ordered scans, at the head and in the past.
//!
//! Method: 100,000 ~200-byte documents, each written 10 times (one insert,
//! nine full replacements; 1,000,000 versions; requests of 1000 documents).
//! "Halfway" is the LSN after the fifth write of every document: each
//! document then has five versions above the read point and five at or
//! below it.
//! - Point reads: one snapshot per thread, 1,000,000 `get`s of uniformly
//!   random `_id`s per thread (`get` decodes the BSON document; `get_raw`
//!   returns the stored bytes), 1 and 2 threads, at head and halfway.
//! - Scans: all 100,000 documents (`Scan::next_raw`, and decoding each
//!   document), at head and halfway.
//! - History: the halfway scan over histories of 100k (1 version per
//!   document: only the first half is visible halfway), 200k (2), 1M (10)
//!   and 2M (20) versions, compared by CPU time per visible document.
//!
//! - Materializations: 1,000 documents rewritten 2,000 times with
//!   materialization after 1,000 superseded versions (about 2,000
//!   timelines in the branch's history); a point read with its own
//!   snapshot (as the wire server opens one per request) at the head, at
//!   the first pass and halfway, in reads per second on one thread.
//!
//! Run: `cargo bench -p argon-store --bench read` (`ARGON_MATERIALIZE_AFTER=18446744073709551615` to
//! measure without materialization) (filters: `-- get`,
//! `-- scan`, `-- history`, `-- materializations`). Reference numbers are in docs/BENCHMARKS.md, "Storage core
//! (issue 2)".

mod common;

use std::time::{Duration, Instant};

use argon_store::{At, Lsn, Store, StoreOptions, SyncMode};
use bson::Bson;
use common::*;

const DOCS: i64 = 100_000;
const READS: usize = 1_000_000;
const RUNS: usize = 3;

/// A store with `DOCS` documents written `versions` times. Returns the
/// store and the LSN after each pass.
fn build(dir: &std::path::Path, versions: i32) -> (Store, Vec<Lsn>) {
    // ARGON_MATERIALIZE_AFTER=18446744073709551615 measures without materialization.
    let materialize_after = std::env::var("ARGON_MATERIALIZE_AFTER")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(StoreOptions::default().materialize_after);
    let store = Store::open_with(
        dir,
        StoreOptions { sync: SyncMode::Never, materialize_after, ..Default::default() },
    )
    .expect("open");
    store.create_project(PROJECT).expect("project");
    let t = Instant::now();
    let mut passes = vec![load_inserts(&store, DOCS, 1000)];
    for v in 1..versions {
        passes.push(load_updates(&store, DOCS, 1000, v));
    }
    store.sync().expect("sync");
    println!(
        "built {DOCS} docs x {versions} versions in {:.1} s (WAL {} MiB, index {} MiB)",
        t.elapsed().as_secs_f64(),
        store.stats().wal_bytes >> 20,
        store.stats().index_bytes >> 20
    );
    (store, passes)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Reads per wall-clock second over `threads` threads, each with its own
/// snapshot, and reads per second of CPU time those threads used.
fn point_reads(store: &Store, at: At, threads: usize, raw: bool) -> (f64, f64) {
    let start = Instant::now();
    let cpu: Duration = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let store = store.clone();
                s.spawn(move || {
                    let cpu0 = thread_cpu();
                    let snap = store.snapshot(PROJECT, "main", at).expect("snapshot");
                    let mut rng = Rng::new(0xC0FFEE + t as u64);
                    let mut found = 0usize;
                    for _ in 0..READS {
                        let id = Bson::Int64(rng.below(DOCS as u64) as i64);
                        found += if raw {
                            snap.get_raw(COLL, &id).expect("get").is_some() as usize
                        } else {
                            snap.get(COLL, &id).expect("get").is_some() as usize
                        };
                    }
                    assert_eq!(found, READS, "every document is visible");
                    thread_cpu() - cpu0
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("reader")).sum()
    });
    let n = (threads * READS) as f64;
    (n / start.elapsed().as_secs_f64(), n / cpu.as_secs_f64())
}

/// One full scan: (visible documents, wall time, CPU time).
fn scan(store: &Store, at: At, decode: bool) -> (u64, Duration, Duration) {
    let snap = store.snapshot(PROJECT, "main", at).expect("snapshot");
    let start = Instant::now();
    let cpu0 = thread_cpu();
    let mut n = 0u64;
    if decode {
        for d in snap.scan(COLL).expect("scan") {
            std::hint::black_box(d.expect("doc"));
            n += 1;
        }
    } else {
        let mut s = snap.scan(COLL).expect("scan");
        while let Some((_, bytes)) = s.next_raw().expect("next") {
            std::hint::black_box(bytes);
            n += 1;
        }
    }
    (n, start.elapsed(), thread_cpu() - cpu0)
}

/// Median of `RUNS` scans: (visible documents, wall ms, CPU ns per document).
fn scan_median(store: &Store, at: At, decode: bool) -> (u64, f64, f64) {
    let mut n = 0;
    let mut cpu = Vec::new();
    let ms = median(
        (0..RUNS)
            .map(|_| {
                let (docs, d, c) = scan(store, at, decode);
                n = docs;
                cpu.push(c.as_secs_f64() * 1e9 / docs.max(1) as f64);
                d.as_secs_f64() * 1e3
            })
            .collect(),
    );
    (n, ms, median(cpu))
}

fn main() {
    if skip_unless_bench("read") {
        return;
    }
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let want = |name: &str| filters.is_empty() || filters.iter().any(|f| f == name);
    print_machine();

    let dir = scratch_dir("read");
    let (store, passes) = if want("get") || want("scan") {
        build(dir.path(), 10)
    } else {
        (Store::open(dir.path()).expect("open"), vec![Lsn(0); 5])
    };
    let half = At::Lsn(passes[4]);
    if want("get") || want("scan") {
        println!("head LSN {}, halfway LSN {}", store.visible_lsn(), passes[4]);
    }

    if want("get") {
        for (label, at) in [("head", At::Head), ("halfway", half)] {
            for raw in [false, true] {
                for threads in [1, 2] {
                    let runs: Vec<(f64, f64)> =
                        (0..RUNS).map(|_| point_reads(&store, at, threads, raw)).collect();
                    let wall = median(runs.iter().map(|r| r.0).collect());
                    let cpu = median(runs.iter().map(|r| r.1).collect());
                    println!(
                        "point read {} at {label}, {threads} thread(s): {wall:.0} reads/s wall clock, \
                         {cpu:.0} reads per CPU-second (load {})",
                        if raw { "get_raw" } else { "get    " },
                        loadavg()
                    );
                }
            }
        }
    }

    if want("scan") {
        for decode in [false, true] {
            let mode = if decode { "decoded" } else { "raw    " };
            let (n, head_ms, head_ns) = scan_median(&store, At::Head, decode);
            let (m, half_ms, half_ns) = scan_median(&store, half, decode);
            println!(
                "scan {mode}, 1M-version history: head {n} docs in {head_ms:.1} ms ({:.0} docs/s, {head_ns:.0} CPU ns/doc); \
                 halfway {m} docs in {half_ms:.1} ms ({:.0} docs/s, {half_ns:.0} CPU ns/doc); halfway/head {:.2} wall, {:.2} CPU (load {})",
                n as f64 / head_ms * 1e3,
                m as f64 / half_ms * 1e3,
                half_ms / head_ms,
                half_ns / head_ns,
                loadavg()
            );
        }
    }
    drop(store);
    drop(dir);

    if want("history") {
        let mut per_doc = Vec::new();
        for versions in [1, 2, 10, 20] {
            let dir = scratch_dir("read-history");
            let (store, passes) = build(dir.path(), versions);
            // Halfway through the history: the middle of the pass list, or
            // for a single pass the LSN halfway through it.
            let half = if versions == 1 {
                let first = store.visible_lsn().0 - (DOCS as u64 / 1000) + 1;
                Lsn(first + DOCS as u64 / 2000 - 1)
            } else {
                passes[versions as usize / 2 - 1]
            };
            let (n, ms, ns) = scan_median(&store, At::Lsn(half), false);
            let levels =
                store.snapshot(PROJECT, "main", At::Lsn(half)).expect("snapshot").view().read_chain.0.len();
            println!(
                "halfway scan (raw), history {} versions: {n} visible docs in {ms:.1} ms wall; {ns:.0} CPU ns per visible doc; \
                 {levels} timeline(s) read (load {})",
                DOCS * versions as i64,
                loadavg()
            );
            per_doc.push((DOCS * versions as i64, ns));
        }
        for &(large, b) in &per_doc[1..] {
            let (small, a) = per_doc[0];
            println!("halfway scan CPU ns/doc ratio, history {large} / {small}: {:.2}", b / a);
        }
    }

    if want("materializations") {
        const DOCS: i64 = 1000;
        const PASSES: i32 = 2000;
        let dir = scratch_dir("read-materializations");
        let store = Store::open_with(
            dir.path(),
            StoreOptions { sync: SyncMode::Never, materialize_after: DOCS as u64, ..Default::default() },
        )
        .expect("open");
        store.create_project(PROJECT).expect("project");
        let t = Instant::now();
        let mut passes = vec![load_inserts(&store, DOCS, 1000)];
        for v in 1..PASSES {
            passes.push(load_updates(&store, DOCS, 1000, v));
        }
        store.sync().expect("sync");
        let timelines = store.history_chain(PROJECT, "main").expect("chain").0.len();
        println!(
            "built {DOCS} docs x {PASSES} versions in {:.1} s: {timelines} timelines in main's history",
            t.elapsed().as_secs_f64()
        );
        for (label, at) in [
            ("head", At::Head),
            ("first pass", At::Lsn(passes[0])),
            ("halfway", At::Lsn(passes[PASSES as usize / 2])),
        ] {
            let mut rng = Rng::new(7);
            let n = 200_000;
            let start = Instant::now();
            let mut found = 0;
            for _ in 0..n {
                let snap = store.snapshot(PROJECT, "main", at).expect("snapshot");
                let id = Bson::Int64((rng.next_u64() % DOCS as u64) as i64);
                found += snap.get_raw(COLL, &id).expect("get").is_some() as usize;
            }
            assert_eq!(found, n, "every document is visible");
            let secs = start.elapsed().as_secs_f64();
            println!(
                "snapshot + get_raw at {label}, {timelines} timelines: {:.0} reads/s ({:.2} us each) (load {})",
                n as f64 / secs,
                secs * 1e6 / n as f64,
                loadavg()
            );
        }
    }
}
