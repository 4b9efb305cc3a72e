//! Opening a data dir after a crash, and peak memory while loading and
//! reading a data set of several GB.
//!
//! Method: the bench re-executes itself as a child process
//! (`ARGON_BENCH_CHILD=build`) that opens a data dir with
//! `SyncMode::Never` and writes `ARGON_BENCH_RECORDS` (default 10,000,000)
//! single-document inserts of ~200 bytes, one WAL record each (requests
//! kept in flight by one thread, so the commit thread forms large groups).
//! It then reads everything back (a full scan, then 1,000,000 random
//! `get`s), printing its memory (`VmHWM`, `RssAnon`, `RssFile` from
//! `/proc/self/status`; the anonymous peak is sampled every 50 ms), queues
//! more writes and calls `std::process::abort()` with them in flight: no
//! clean shutdown, no final fsync. The parent then times `Store::open`
//! (the index reopens at its last LMDB commit and replays the WAL after it;
//! what was replayed is taken from the store's log message), and reads the
//! whole data set again in this fresh process to report its memory.
//! With `ARGON_BENCH_REBUILD=1` it also times a full index rebuild
//! (`rebuild_index: true`): the replay of every record, the worst case.
//!
//! Run: `cargo bench -p argon-store --bench recovery`
//! (`ARGON_BENCH_RECORDS=n`, `ARGON_BENCH_DIR=dir`). Needs about 800 bytes
//! of disk per record. Reference numbers are in docs/BENCHMARKS.md,
//! "Storage core (issue 2)".

mod common;

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use argon_store::{At, Store, StoreOptions, SyncMode};
use bson::Bson;
use common::*;
use parking_lot::Mutex;

fn records() -> i64 {
    std::env::var("ARGON_BENCH_RECORDS").ok().and_then(|s| s.parse().ok()).unwrap_or(10_000_000)
}

/// Collects the store's log events (to learn what recovery replayed).
#[derive(Default)]
struct Capture(Mutex<Vec<String>>);

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?} ");
        } else {
            let _ = write!(self.0, "{}={value:?} ", field.name());
        }
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut f = Fields(String::new());
        event.record(&mut f);
        self.0.lock().push(format!("{} {}", event.metadata().level(), f.0.trim_end()));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Opens the data dir, timing it and capturing its log.
fn timed_open(dir: &std::path::Path, opts: StoreOptions) -> (Store, f64, Vec<String>) {
    let capture = Arc::new(Capture::default());
    let start = Instant::now();
    let store =
        tracing::subscriber::with_default(capture.clone(), || Store::open_with(dir, opts)).expect("open");
    let secs = start.elapsed().as_secs_f64();
    let log = capture.0.lock().clone();
    (store, secs, log)
}

/// A full scan, then 1,000,000 random point reads; prints rates.
fn read_everything(store: &Store, n: i64, who: &str) {
    let snap = store.snapshot(PROJECT, "main", At::Head).expect("snapshot");
    let t = Instant::now();
    let mut scan = snap.scan(COLL).expect("scan");
    let mut seen = 0i64;
    while let Some((_, bytes)) = scan.next_raw().expect("scan") {
        std::hint::black_box(bytes);
        seen += 1;
    }
    let scan_s = t.elapsed().as_secs_f64();
    // Writes in flight at the crash may have committed too.
    assert!(seen >= n, "scan saw {seen} documents, fewer than the {n} acknowledged");
    let mut rng = Rng::new(7);
    let t = Instant::now();
    for _ in 0..1_000_000 {
        let id = Bson::Int64(rng.below(n as u64) as i64);
        assert!(snap.get_raw(COLL, &id).expect("get").is_some());
    }
    let get_s = t.elapsed().as_secs_f64();
    println!(
        "{who}: scanned {seen} docs ({:.1} GiB of BSON) in {scan_s:.1} s ({:.0} docs/s); 1M random get_raw in {get_s:.2} s ({:.0}/s)",
        (seen as f64 * doc_size() as f64) / (1u64 << 30) as f64,
        seen as f64 / scan_s,
        1e6 / get_s
    );
}

fn child_build(dir: &std::path::Path, n: i64) -> ! {
    let peak = AnonPeak::start();
    let store =
        Store::open_with(dir, StoreOptions { sync: SyncMode::Never, ..Default::default() }).expect("open");
    store.create_project(PROJECT).expect("project");
    let start = Instant::now();
    let mut p = Pipeline::new(&store, 512);
    let step = (n / 10).max(1);
    for id in 0..n {
        p.submit(insert_req(id..id + 1));
        if (id + 1) % step == 0 {
            let s = store.stats();
            println!(
                "child: {} records in {:.0} s ({:.0}/s); WAL {} MiB, index {} MiB; {}",
                id + 1,
                start.elapsed().as_secs_f64(),
                (id + 1) as f64 / start.elapsed().as_secs_f64(),
                s.wal_bytes >> 20,
                s.index_bytes >> 20,
                mem()
            );
        }
    }
    p.finish();
    let elapsed = start.elapsed().as_secs_f64();
    let s = store.stats();
    println!(
        "child: loaded {n} single-document records in {elapsed:.0} s = {:.0} records/s ({} group commits); \
         WAL {} MiB, index {} MiB",
        n as f64 / elapsed,
        s.group_commits,
        s.wal_bytes >> 20,
        s.index_bytes >> 20
    );
    println!("child: memory after loading: {}", mem());
    read_everything(&store, n, "child");
    let (anon, file) = peak.finish();
    println!(
        "child: memory after reading: {}; sampled peak RssAnon {} MiB, peak RssFile {} MiB",
        mem(),
        anon >> 10,
        file >> 10
    );
    // Crash with writes in flight: no clean shutdown, no final sync.
    let mut p = Pipeline::new(&store, 4096);
    for id in n..n + 4096 {
        p.submit(insert_req(id..id + 1));
    }
    println!("child: aborting with up to 4096 writes in flight");
    // No core dump: it would be as large as the process.
    let no_core = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: setrlimit with a valid, initialised struct.
    unsafe { libc::setrlimit(libc::RLIMIT_CORE, &no_core) };
    std::process::abort();
}

fn main() {
    let n = records();
    if std::env::var("ARGON_BENCH_CHILD").as_deref() == Ok("build") {
        let dir = std::env::var_os("ARGON_BENCH_DATA").expect("ARGON_BENCH_DATA");
        child_build(std::path::Path::new(&dir), n);
    }
    if skip_unless_bench("recovery") {
        return;
    }
    print_machine();
    let dir = scratch_dir("recovery");
    let exe = std::env::current_exe().expect("current exe");
    let status = std::process::Command::new(exe)
        .env("ARGON_BENCH_CHILD", "build")
        .env("ARGON_BENCH_DATA", dir.path())
        .env("ARGON_BENCH_RECORDS", n.to_string())
        .status()
        .expect("run child");
    println!("child exited: {status}");
    assert!(!status.success(), "the child must crash, not exit cleanly");

    let (store, secs, log) = timed_open(dir.path(), StoreOptions::default());
    let s = store.stats();
    println!(
        "open after crash: {secs:.3} s; visible LSN {}; WAL {} MiB, index {} MiB",
        s.visible_lsn,
        s.wal_bytes >> 20,
        s.index_bytes >> 20
    );
    if log.is_empty() {
        println!("  log: nothing replayed (the index's last commit covered the whole WAL)");
    }
    for l in &log {
        println!("  log: {l}");
    }
    let before = mem();
    println!("parent: memory before reading: {before}");
    let peak = AnonPeak::start();
    read_everything(&store, n, "parent");
    let (anon, file) = peak.finish();
    println!(
        "parent: memory after reading: {}; sampled peak RssAnon {} MiB, peak RssFile {} MiB",
        mem(),
        anon >> 10,
        file >> 10
    );
    drop(store);

    if std::env::var("ARGON_BENCH_REBUILD").as_deref() == Ok("1") {
        let (store, secs, log) =
            timed_open(dir.path(), StoreOptions { rebuild_index: true, ..Default::default() });
        println!(
            "open with a full index rebuild (every WAL record replayed): {secs:.1} s = {:.0} records/s",
            store.visible_lsn().0 as f64 / secs
        );
        for l in &log {
            println!("  log: {l}");
        }
        println!("parent: memory after rebuild: {}", mem());
    }
}
