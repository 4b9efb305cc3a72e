//! Branch creation latency, and that it does not depend on the data size.
//!
//! Method: load N ~200-byte documents on `main` (N = 10,000 and
//! 1,000,000), then time `create_branch` of `main` at its head (a metadata
//! write: one WAL record; with `SyncMode::Always` one fdatasync):
//! - steady: `ARGON_BENCH_BRANCHES` (default 1000) times, create a branch
//!   (timed) and delete it again (not timed), so the project keeps one
//!   branch besides `main`; with `SyncMode::Always`, then reopened with
//!   `SyncMode::Never`;
//! - accumulating (`SyncMode::Never`): create that many branches and keep
//!   them, reporting p50 per tenth, to show how the cost grows with the
//!   number of branches in the project.
//!
//! The disk's raw fdatasync latency is printed first: it is the floor for a
//! durable branch creation.
//!
//! Run: `cargo bench -p argon-store --bench branch` (filters: `-- 10k`,
//! `-- 1m`). Reference numbers are in docs/BENCHMARKS.md, "Storage core
//! (issue 2)".

mod common;

use std::time::{Duration, Instant};

use argon_store::{At, Store, StoreOptions, SyncMode};
use common::*;

fn branches() -> usize {
    std::env::var("ARGON_BENCH_BRANCHES").ok().and_then(|s| s.parse().ok()).unwrap_or(1000)
}

fn open(dir: &std::path::Path, sync: SyncMode) -> Store {
    Store::open_with(dir, StoreOptions { sync, ..Default::default() }).expect("open")
}

/// Creates `n` branches named `{prefix}{i}`, deleting each again unless
/// `keep`; returns each creation's latency.
fn create(store: &Store, prefix: &str, n: usize, keep: bool) -> Vec<Duration> {
    (0..n)
        .map(|i| {
            let name = format!("{prefix}{i}");
            let t = Instant::now();
            store.create_branch(PROJECT, &name, "main", At::Head).expect("create branch");
            let took = t.elapsed();
            if !keep {
                store.delete_branch(PROJECT, &name).expect("delete branch");
            }
            took
        })
        .collect()
}

fn report(label: &str, lat: &[Duration]) -> Duration {
    let mut all = lat.to_vec();
    let (p50, p99, max, mean) = summary(&mut all);
    println!(
        "{label}: {} creations: p50 {:.1} us, p99 {:.1} us, max {:.1} us, mean {:.1} us",
        lat.len(),
        us(p50),
        us(p99),
        us(max),
        us(mean),
    );
    p50
}

/// p50 of each tenth of the samples, in order.
fn report_growth(label: &str, lat: &[Duration]) {
    let tenth = (lat.len() / 10).max(1);
    let p50s: Vec<String> = lat
        .chunks(tenth)
        .map(|c| {
            let mut c = c.to_vec();
            format!("{:.0}", us(summary(&mut c).0))
        })
        .collect();
    println!("{label}: p50 (us) per {tenth} creations as branches accumulate: {}", p50s.join(", "));
}

fn main() {
    if skip_unless_bench("branch") {
        return;
    }
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let want = |name: &str| filters.is_empty() || filters.iter().any(|f| f == name);
    print_machine();
    let n = branches();

    print_fdatasync(500);

    let mut p50s = Vec::new();
    for (label, docs) in [("10k", 10_000i64), ("1m", 1_000_000)] {
        if !want(label) {
            continue;
        }
        let dir = scratch_dir("branch");
        let store = open(dir.path(), SyncMode::Never);
        store.create_project(PROJECT).expect("project");
        let t = Instant::now();
        load_inserts(&store, docs, 1000);
        store.sync().expect("sync");
        println!("loaded {docs} docs in {:.1} s", t.elapsed().as_secs_f64());
        drop(store);

        let store = open(dir.path(), SyncMode::Always);
        let always = report(
            &format!("branch create, {docs} docs, sync=always, steady"),
            &create(&store, "a", n, false),
        );
        drop(store);
        let store = open(dir.path(), SyncMode::Never);
        let never = report(
            &format!("branch create, {docs} docs, sync=never,  steady"),
            &create(&store, "n", n, false),
        );
        let grow = create(&store, "g", n, true);
        report(&format!("branch create, {docs} docs, sync=never,  accumulating"), &grow);
        report_growth(&format!("branch create, {docs} docs, sync=never"), &grow);
        drop(store);
        p50s.push((docs, always, never));
    }
    if let [(small, a0, n0), (large, a1, n1)] = p50s[..] {
        println!(
            "p50 ratio {large} docs / {small} docs: sync=always {:.2}, sync=never {:.2}",
            a1.as_secs_f64() / a0.as_secs_f64(),
            n1.as_secs_f64() / n0.as_secs_f64()
        );
    }
}
