//! Helpers shared by the store benchmarks: the ~200-byte test document,
//! data-set loaders, percentiles, the disk's raw fdatasync rate, memory
//! counters from `/proc/self/status`, and a tiny executor that keeps many
//! writes in flight from one thread (so loading measures the commit path,
//! not thread wake-ups).
#![allow(dead_code)]

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant};

use argon_store::{Check, CommitOutcome, Lsn, Store, StoreError, WriteOp, WriteRequest};
use bson::{doc, Bson, Document};

pub const PROJECT: &str = "bench";
pub const COLL: &str = "docs";

/// The benchmark document: about 200 bytes of BSON (see [`doc_size`]).
pub fn make_doc(id: i64, version: i32) -> Document {
    doc! {
        "_id": id,
        "v": version,
        "name": format!("user-{id:010}"),
        "email": format!("user{id}@example.com"),
        "score": (id % 1000) as f64 / 10.0,
        "tags": ["alpha", "beta"],
        "bio": "Argon benchmark document with some padding text to reach two hundred bytes.",
    }
}

/// [`make_doc`] built directly as BSON bytes.
pub fn make_raw_doc(id: i64, version: i32) -> bson::RawDocumentBuf {
    bson::rawdoc! {
        "_id": id,
        "v": version,
        "name": format!("user-{id:010}"),
        "email": format!("user{id}@example.com"),
        "score": (id % 1000) as f64 / 10.0,
        "tags": ["alpha", "beta"],
        "bio": "Argon benchmark document with some padding text to reach two hundred bytes.",
    }
}

/// BSON size of [`make_doc`] for a typical id.
pub fn doc_size() -> usize {
    make_doc(1_234_567, 1).to_vec().map(|v| v.len()).unwrap_or(0)
}

/// Value at quantile `q` (0..=1) of a sorted slice.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i]
}

pub fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Latency summary of a set of samples: (p50, p99, max, mean).
pub fn summary(samples: &mut [Duration]) -> (Duration, Duration, Duration, Duration) {
    samples.sort();
    let sum: Duration = samples.iter().sum();
    let mean = sum / samples.len().max(1) as u32;
    (quantile(samples, 0.5), quantile(samples, 0.99), samples.last().copied().unwrap_or_default(), mean)
}

/// The disk's raw limit: write 4 KiB and fdatasync, `n` times, on a file
/// in `dir`. `prealloc = false` appends (the file grows, so each
/// fdatasync also commits a size change to the filesystem journal);
/// `prealloc = true` overwrites a file whose blocks were allocated and synced
/// first (as the WAL's preallocated segments are). Returns (p50 latency,
/// syncs per second).
pub fn fdatasync_probe(dir: &Path, n: usize, prealloc: bool) -> (Duration, f64) {
    use std::os::unix::fs::FileExt;
    let path = dir.join("fdatasync-probe");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)
        .expect("probe file");
    let block = vec![0xA5u8; 4096];
    if prealloc {
        // Real blocks, not a hole: write them, then sync once.
        let zeros = vec![0u8; 1 << 20];
        let total = (n + 20) * 4096;
        let mut off = 0;
        while off < total {
            f.write_all_at(&zeros, off as u64).expect("prealloc");
            off += zeros.len();
        }
        f.sync_all().expect("fsync");
    }
    let mut off = 0u64;
    let mut one = |f: &std::fs::File| {
        f.write_all_at(&block, off).expect("write");
        f.sync_data().expect("fdatasync");
        off += 4096;
    };
    // Warm up.
    for _ in 0..20 {
        one(&f);
    }
    let mut lat = Vec::with_capacity(n);
    let start = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        one(&f);
        lat.push(t.elapsed());
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    drop(f);
    let _ = std::fs::remove_file(&path);
    lat.sort();
    (quantile(&lat, 0.5), rate)
}

/// Prints both [`fdatasync_probe`] variants.
pub fn print_fdatasync(n: usize) {
    let dir = scratch_dir("fsync");
    for prealloc in [false, true] {
        let (p50, rate) = fdatasync_probe(dir.path(), n, prealloc);
        println!(
            "disk: 4 KiB {} + fdatasync: p50 {:.0} us, {:.0} syncs/s",
            if prealloc { "overwrite (preallocated)" } else { "append (file grows)" },
            us(p50),
            rate
        );
    }
}

/// Memory counters of this process in KiB, from `/proc/self/status`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Mem {
    pub hwm: u64,
    pub rss: u64,
    pub anon: u64,
    pub file: u64,
}

pub fn mem() -> Mem {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| -> u64 {
        s.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Mem { hwm: field("VmHWM:"), rss: field("VmRSS:"), anon: field("RssAnon:"), file: field("RssFile:") }
}

impl std::fmt::Display for Mem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mib = |k: u64| k as f64 / 1024.0;
        write!(
            f,
            "VmHWM {:.0} MiB, VmRSS {:.0} MiB (RssAnon {:.0} MiB, RssFile {:.0} MiB)",
            mib(self.hwm),
            mib(self.rss),
            mib(self.anon),
            mib(self.file)
        )
    }
}

/// Peak anonymous RSS is not reported by the kernel; this samples it.
pub struct AnonPeak {
    stop: Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<(u64, u64)>>,
}

impl AnonPeak {
    /// Samples `RssAnon` and `RssFile` every 50 ms until [`AnonPeak::finish`].
    pub fn start() -> AnonPeak {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s = stop.clone();
        let handle = std::thread::spawn(move || {
            let (mut anon, mut file) = (0, 0);
            while !s.load(std::sync::atomic::Ordering::Relaxed) {
                let m = mem();
                anon = anon.max(m.anon);
                file = file.max(m.file);
                std::thread::sleep(Duration::from_millis(50));
            }
            (anon, file)
        });
        AnonPeak { stop, handle: Some(handle) }
    }

    /// (peak RssAnon, peak RssFile) in KiB.
    pub fn finish(mut self) -> (u64, u64) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.handle.take().and_then(|h| h.join().ok()).unwrap_or((0, 0))
    }
}

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

type WriteFuture<'a> = Pin<Box<dyn Future<Output = Result<CommitOutcome, StoreError>> + Send + 'a>>;

/// Keeps up to `window` write requests in flight from the calling thread
/// (via [`Store::write_async`], whose request is queued on first poll), so
/// the commit thread sees full groups without 64 OS threads.
pub struct Pipeline<'a> {
    store: &'a Store,
    window: usize,
    in_flight: std::collections::VecDeque<WriteFuture<'a>>,
    waker: Waker,
    pub last_lsn: Lsn,
}

impl<'a> Pipeline<'a> {
    pub fn new(store: &'a Store, window: usize) -> Pipeline<'a> {
        Pipeline {
            store,
            window,
            in_flight: Default::default(),
            waker: Waker::from(Arc::new(ThreadWaker(std::thread::current()))),
            last_lsn: Lsn::ZERO,
        }
    }

    pub fn submit(&mut self, req: WriteRequest) {
        if self.in_flight.len() >= self.window {
            self.wait_oldest();
        }
        let mut f: WriteFuture<'a> = Box::pin(self.store.write_async(req));
        let mut cx = Context::from_waker(&self.waker);
        if let Poll::Ready(r) = f.as_mut().poll(&mut cx) {
            self.done(r);
            return;
        }
        self.in_flight.push_back(f);
    }

    fn done(&mut self, r: Result<CommitOutcome, StoreError>) {
        let out = r.expect("write");
        if let Some(Err(e)) = out.results.iter().find(|r| r.is_err()) {
            panic!("write failed: {e}");
        }
        if let Some(l) = out.lsn {
            self.last_lsn = self.last_lsn.max(l);
        }
    }

    fn wait_oldest(&mut self) {
        let Some(mut f) = self.in_flight.pop_front() else { return };
        let mut cx = Context::from_waker(&self.waker);
        loop {
            match f.as_mut().poll(&mut cx) {
                Poll::Ready(r) => return self.done(r),
                Poll::Pending => std::thread::park(),
            }
        }
    }

    /// Waits for everything in flight; returns the newest LSN written.
    pub fn finish(mut self) -> Lsn {
        while !self.in_flight.is_empty() {
            self.wait_oldest();
        }
        self.last_lsn
    }
}

/// An insert of document `id` (version 0).
pub fn insert_req(ids: impl Iterator<Item = i64>) -> WriteRequest {
    let mut req = WriteRequest::new(PROJECT, "main");
    for id in ids {
        req.ops.push(WriteOp::Insert { coll: COLL.into(), doc: make_doc(id, 0) });
    }
    req
}

/// A blind replace of documents `ids` with version `version`.
pub fn update_req(ids: impl Iterator<Item = i64>, version: i32) -> WriteRequest {
    let mut req = WriteRequest::new(PROJECT, "main");
    for id in ids {
        req.ops.push(WriteOp::Update {
            coll: COLL.into(),
            id: Bson::Int64(id),
            doc: make_doc(id, version),
            replace: true,
            check: Check::Blind,
        });
    }
    req
}

/// Inserts documents `0..n` in requests of `batch` documents (one WAL
/// record each), a few requests in flight. Returns the last LSN.
pub fn load_inserts(store: &Store, n: i64, batch: i64) -> Lsn {
    let mut p = Pipeline::new(store, 4);
    let mut id = 0;
    while id < n {
        let end = (id + batch).min(n);
        p.submit(insert_req(id..end));
        id = end;
    }
    p.finish()
}

/// Replaces every document `0..n` once with `version`, in requests of
/// `batch` documents. Returns the last LSN.
pub fn load_updates(store: &Store, n: i64, batch: i64, version: i32) -> Lsn {
    let mut p = Pipeline::new(store, 4);
    let mut id = 0;
    while id < n {
        let end = (id + batch).min(n);
        p.submit(update_req(id..end, version));
        id = end;
    }
    p.finish()
}

/// A scratch data dir under `$ARGON_BENCH_DIR` (default: the system temp
/// dir), removed on drop.
pub fn scratch_dir(name: &str) -> tempfile::TempDir {
    let base =
        std::env::var_os("ARGON_BENCH_DIR").map(std::path::PathBuf::from).unwrap_or_else(std::env::temp_dir);
    tempfile::Builder::new().prefix(&format!("argon-bench-{name}-")).tempdir_in(base).expect("scratch dir")
}

/// A small deterministic PRNG (xorshift64*), so runs read the same keys.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Prints the machine facts that belong next to every figure.
pub fn print_machine() {
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("model name")).map(|l| l.to_string()))
        .and_then(|l| l.split(':').nth(1).map(|s| s.trim().to_string()))
        .unwrap_or_default();
    let mem_total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| s.lines().next().map(|l| l.to_string()))
        .unwrap_or_default();
    println!("# machine: {cpus} CPUs ({model}); {mem_total}; doc size {} B", doc_size());
}

/// CPU time consumed by the calling thread.
pub fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// CPU time consumed by the whole process (all threads).
pub fn process_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The 1-minute load average (other work on the machine skews wall-clock rates).
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_default()
}

/// `cargo bench` passes `--bench`; `cargo test --benches` (or
/// `--all-targets`) does not. These benches take minutes and gigabytes, so
/// under `cargo test` they only say how to run them.
pub fn skip_unless_bench(name: &str) -> bool {
    if std::env::args().any(|a| a == "--bench") {
        return false;
    }
    println!("{name}: skipped (a benchmark; run it with `cargo bench -p argon-store --bench {name}`)");
    true
}
