//! Which embedded key-value engine should hold Argon's versioned index?
//!
//! The workload is the store's: keys are
//! `timeline (8, BE) | collection (8, BE) | keycodec-like _id (9) | LSN descending (8)`
//! (33 bytes), values are 256 bytes. `DOCS` documents get `VERSIONS` versions
//! each (1,000,000 versions), written in passes (every document once per
//! pass, in a shuffled order, each version with the next LSN), in write
//! batches of 1000 versions with no fsync per batch (the WAL is the durable
//! copy; one final sync).
//!
//! Measured per engine, median of `RUNS` runs (each on a fresh directory),
//! per wall-clock second and per CPU-second of the process (all its threads;
//! the second is steadier on a shared machine):
//! - load: versions/s for the whole batched load including the final sync;
//! - seek: "newest version of document d at or below LSN L" (one positioned
//!   read, d and L uniformly random), seeks/s on one thread;
//! - scan: an ordered scan of the collection at the halfway LSN that keeps
//!   the newest visible version of each document (plain iteration, same
//!   code for every engine), visible documents/s.
//!
//! Engines run with their defaults except: heed as the store opens it
//! (`NO_SYNC | NO_READ_AHEAD`); redb with `Durability::None` per batch;
//! fjall with a 512 MiB block cache (its default 32 MiB would not hold the
//! data set, which fits easily in the page cache LMDB and redb use).
//!
//! Run: `cargo run --release --manifest-path bench/engines/Cargo.toml [-- heed redb fjall]`
//! (`ENGINE_BENCH_RUNS`, default 3; `ENGINE_BENCH_DIR`, default the temp dir).
//! Build times: `bench/engines/build_time.sh`. Results and the decision are
//! in docs/BENCHMARKS.md, "Key-value engine choice".

use std::time::Instant;

const DOCS: u64 = 200_000;
const VERSIONS: u64 = 5;
const BATCH: usize = 1000;
const VALUE_LEN: usize = 256;
const SEEKS: u64 = 500_000;
const TIMELINE: u64 = 1;
const COLLECTION: u64 = 7;

/// The document part of a key: timeline | collection | encoded `_id`.
fn doc_key(id: u64) -> [u8; 25] {
    let mut k = [0u8; 25];
    k[..8].copy_from_slice(&TIMELINE.to_be_bytes());
    k[8..16].copy_from_slice(&COLLECTION.to_be_bytes());
    // Like argon-types' keycodec for an integer: number class, then an
    // order-preserving 8-byte payload.
    k[16] = 0x10;
    k[17..25].copy_from_slice(&(id ^ (1 << 63)).to_be_bytes());
    k
}

fn version_key(id: u64, lsn: u64) -> [u8; 33] {
    let mut k = [0u8; 33];
    k[..25].copy_from_slice(&doc_key(id));
    k[25..].copy_from_slice(&(u64::MAX - lsn).to_be_bytes());
    k
}

fn collection_range() -> ([u8; 16], [u8; 16]) {
    let mut lo = [0u8; 16];
    lo[..8].copy_from_slice(&TIMELINE.to_be_bytes());
    lo[8..].copy_from_slice(&COLLECTION.to_be_bytes());
    let mut hi = lo;
    hi[8..].copy_from_slice(&(COLLECTION + 1).to_be_bytes());
    (lo, hi)
}

/// xorshift64*: deterministic, so every engine gets the same keys.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Every version in write order: (key, LSN), LSN = position + 1.
fn write_order() -> Vec<[u8; 33]> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut out = Vec::with_capacity((DOCS * VERSIONS) as usize);
    let mut lsn = 0;
    for _ in 0..VERSIONS {
        let mut ids: Vec<u64> = (0..DOCS).collect();
        for i in (1..ids.len()).rev() {
            ids.swap(i, (rng.next() % (i as u64 + 1)) as usize);
        }
        for id in ids {
            lsn += 1;
            out.push(version_key(id, lsn));
        }
    }
    out
}

fn value(lsn: u64) -> [u8; VALUE_LEN] {
    let mut v = [0x5Au8; VALUE_LEN];
    v[..8].copy_from_slice(&lsn.to_le_bytes());
    v
}

fn lsn_of(key: &[u8]) -> u64 {
    u64::MAX - u64::from_be_bytes(key[key.len() - 8..].try_into().expect("8 bytes"))
}

/// Resolves the visible version per document while iterating in key order.
/// Returns (visible docs, checksum of their values' first bytes).
fn resolve<'a>(entries: impl Iterator<Item = (&'a [u8], &'a [u8])>, bound: u64) -> (u64, u64) {
    let mut last: Option<[u8; 25]> = None;
    let (mut docs, mut sum) = (0u64, 0u64);
    for (k, v) in entries {
        let doc: [u8; 25] = k[..25].try_into().expect("doc key");
        if last == Some(doc) || lsn_of(k) > bound {
            continue;
        }
        last = Some(doc);
        docs += 1;
        sum = sum.wrapping_add(v[0] as u64);
    }
    (docs, sum)
}

/// One engine under test.
trait Engine {
    fn name(&self) -> &'static str;
    fn load_batch(&mut self, batch: &[([u8; 33], u64)]);
    fn finish_load(&mut self);
    /// For each (id, bound): seeks the newest version of `id` at or below
    /// `bound`, in one read transaction (like one store snapshot). Returns
    /// how many found one.
    fn seeks(&mut self, queries: &[(u64, u64)]) -> u64;
    /// Visible documents at `bound` (see [`resolve`]).
    fn scan(&mut self, bound: u64) -> (u64, u64);
}

mod heed_engine {
    use heed::types::Bytes;
    use heed::{Database, Env, EnvFlags, EnvOpenOptions};

    pub struct Heed {
        env: Env,
        db: Database<Bytes, Bytes>,
    }

    impl Heed {
        pub fn open(dir: &std::path::Path) -> Heed {
            let mut opts = EnvOpenOptions::new();
            opts.map_size(64 << 30).max_dbs(4);
            // SAFETY: as in argon-store's index: one environment per
            // directory per process; NO_SYNC because the WAL is durable.
            let env = unsafe {
                opts.flags(EnvFlags::NO_SYNC | EnvFlags::NO_READ_AHEAD);
                opts.open(dir).expect("open lmdb")
            };
            let mut w = env.write_txn().expect("txn");
            let db = env.create_database(&mut w, Some("docs")).expect("db");
            w.commit().expect("commit");
            Heed { env, db }
        }
    }

    impl super::Engine for Heed {
        fn name(&self) -> &'static str {
            "heed (LMDB)"
        }
        fn load_batch(&mut self, batch: &[([u8; 33], u64)]) {
            let mut w = self.env.write_txn().expect("txn");
            for (k, lsn) in batch {
                self.db.put(&mut w, k, &super::value(*lsn)).expect("put");
            }
            w.commit().expect("commit");
        }
        fn finish_load(&mut self) {
            self.env.force_sync().expect("sync");
        }
        fn seeks(&mut self, queries: &[(u64, u64)]) -> u64 {
            let r = self.env.read_txn().expect("txn");
            let mut found = 0;
            for &(id, bound) in queries {
                let key = super::version_key(id, bound);
                if let Some((k, _)) = self.db.get_greater_than_or_equal_to(&r, &key).expect("seek") {
                    found += (k[..25] == key[..25] && super::lsn_of(k) <= bound) as u64;
                }
            }
            found
        }
        fn scan(&mut self, bound: u64) -> (u64, u64) {
            let r = self.env.read_txn().expect("txn");
            let (lo, hi) = super::collection_range();
            let range = (std::ops::Bound::Included(&lo[..]), std::ops::Bound::Excluded(&hi[..]));
            let iter = self.db.range(&r, &range).expect("range").map(|e| e.expect("entry"));
            super::resolve(iter, bound)
        }
    }
}

mod redb_engine {
    use redb::{Database, Durability, ReadableDatabase, TableDefinition};

    const DOCS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("docs");

    pub struct Redb {
        db: Database,
    }

    impl Redb {
        pub fn open(dir: &std::path::Path) -> Redb {
            Redb { db: Database::create(dir.join("redb")).expect("open redb") }
        }
    }

    impl super::Engine for Redb {
        fn name(&self) -> &'static str {
            "redb"
        }
        fn load_batch(&mut self, batch: &[([u8; 33], u64)]) {
            let mut w = self.db.begin_write().expect("txn");
            w.set_durability(Durability::None).expect("durability");
            {
                let mut t = w.open_table(DOCS).expect("table");
                for (k, lsn) in batch {
                    t.insert(&k[..], &super::value(*lsn)[..]).expect("insert");
                }
            }
            w.commit().expect("commit");
        }
        fn finish_load(&mut self) {
            // An empty durable commit makes the non-durable ones durable.
            let w = self.db.begin_write().expect("txn");
            w.commit().expect("commit");
        }
        fn seeks(&mut self, queries: &[(u64, u64)]) -> u64 {
            let r = self.db.begin_read().expect("txn");
            let t = r.open_table(DOCS).expect("table");
            let mut found = 0;
            for &(id, bound) in queries {
                let key = super::version_key(id, bound);
                if let Some(e) = t.range(&key[..]..).expect("range").next() {
                    let (k, _) = e.expect("entry");
                    let k = k.value();
                    found += (k[..25] == key[..25] && super::lsn_of(k) <= bound) as u64;
                }
            }
            found
        }
        fn scan(&mut self, bound: u64) -> (u64, u64) {
            let r = self.db.begin_read().expect("txn");
            let t = r.open_table(DOCS).expect("table");
            let (lo, hi) = super::collection_range();
            let mut last: Option<[u8; 25]> = None;
            let (mut docs, mut sum) = (0u64, 0u64);
            // Same logic as `resolve`; redb's guards do not lend plain slices
            // to an iterator adapter.
            for e in t.range(&lo[..]..&hi[..]).expect("range") {
                let (k, v) = e.expect("entry");
                let (k, v) = (k.value(), v.value());
                let doc: [u8; 25] = k[..25].try_into().expect("doc key");
                if last == Some(doc) || super::lsn_of(k) > bound {
                    continue;
                }
                last = Some(doc);
                docs += 1;
                sum = sum.wrapping_add(v[0] as u64);
            }
            (docs, sum)
        }
    }
}

mod fjall_engine {
    use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode, Readable};

    pub struct Fjall {
        db: Database,
        ks: Keyspace,
    }

    impl Fjall {
        pub fn open(dir: &std::path::Path) -> Fjall {
            let db = Database::builder(dir.join("fjall")).cache_size(512 << 20).open().expect("open fjall");
            let ks = db.keyspace("docs", KeyspaceCreateOptions::default).expect("keyspace");
            Fjall { db, ks }
        }
    }

    impl super::Engine for Fjall {
        fn name(&self) -> &'static str {
            "fjall"
        }
        fn load_batch(&mut self, batch: &[([u8; 33], u64)]) {
            let mut b = self.db.batch();
            for (k, lsn) in batch {
                b.insert(&self.ks, k.to_vec(), super::value(*lsn).to_vec());
            }
            b.commit().expect("commit");
        }
        fn finish_load(&mut self) {
            self.db.persist(PersistMode::SyncAll).expect("persist");
        }
        fn seeks(&mut self, queries: &[(u64, u64)]) -> u64 {
            let snap = self.db.snapshot();
            let mut found = 0;
            for &(id, bound) in queries {
                let key = super::version_key(id, bound);
                if let Some(g) = snap.range(&self.ks, &key[..]..).next() {
                    let (k, _) = g.into_inner().expect("entry");
                    found += (k[..25] == key[..25] && super::lsn_of(&k) <= bound) as u64;
                }
            }
            found
        }
        fn scan(&mut self, bound: u64) -> (u64, u64) {
            let (lo, hi) = super::collection_range();
            let mut last: Option<[u8; 25]> = None;
            let (mut docs, mut sum) = (0u64, 0u64);
            let snap = self.db.snapshot();
            for g in snap.range(&self.ks, &lo[..]..&hi[..]) {
                let (k, v) = g.into_inner().expect("entry");
                let doc: [u8; 25] = k[..25].try_into().expect("doc key");
                if last == Some(doc) || super::lsn_of(&k) > bound {
                    continue;
                }
                last = Some(doc);
                docs += 1;
                sum = sum.wrapping_add(v[0] as u64);
            }
            (docs, sum)
        }
    }
}

fn open(name: &str, dir: &std::path::Path) -> Box<dyn Engine> {
    match name {
        "heed" => Box::new(heed_engine::Heed::open(dir)),
        "redb" => Box::new(redb_engine::Redb::open(dir)),
        "fjall" => Box::new(fjall_engine::Fjall::open(dir)),
        other => panic!("unknown engine {other}: expected heed, redb or fjall"),
    }
}

/// CPU time of the whole process (all threads, including an engine's
/// background threads), so rates can be compared on a busy machine.
fn process_cpu() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Rates per wall-clock second and per CPU-second of one run.
struct Run {
    load: (f64, f64),
    seeks: (f64, f64),
    scan: (f64, f64),
}

/// Times `f`, returning (its result, wall seconds, CPU seconds).
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64, f64) {
    let (start, cpu) = (Instant::now(), process_cpu());
    let out = f();
    (out, start.elapsed().as_secs_f64(), process_cpu() - cpu)
}

fn one_run(name: &str, order: &[[u8; 33]]) -> Run {
    let base =
        std::env::var_os("ENGINE_BENCH_DIR").map(std::path::PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::Builder::new().prefix("argon-engine-bench-").tempdir_in(base).expect("dir");
    let mut e = open(name, dir.path());
    let total = order.len() as u64;

    let ((), wall, cpu) = timed(|| {
        let mut batch = Vec::with_capacity(BATCH);
        for (i, k) in order.iter().enumerate() {
            batch.push((*k, i as u64 + 1));
            if batch.len() == BATCH {
                e.load_batch(&batch);
                batch.clear();
            }
        }
        if !batch.is_empty() {
            e.load_batch(&batch);
        }
        e.finish_load();
    });
    let load = (total as f64 / wall, total as f64 / cpu);

    let mut rng = Rng(42);
    let queries: Vec<(u64, u64)> = (0..SEEKS).map(|_| (rng.next() % DOCS, 1 + rng.next() % total)).collect();
    let (found, wall, cpu) = timed(|| e.seeks(&queries));
    let seeks = (SEEKS as f64 / wall, SEEKS as f64 / cpu);
    assert!(found > SEEKS / 2, "{}: seeks found too little ({found})", e.name());

    let half = total / 2;
    let ((docs, _), wall, cpu) = timed(|| e.scan(half));
    let scan = (docs as f64 / wall, docs as f64 / cpu);
    // At the halfway LSN every document has at least one visible version.
    assert_eq!(docs, DOCS, "{}: scan saw the wrong number of documents", e.name());
    drop(e);
    Run { load, seeks, scan }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let mut engines: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    if engines.is_empty() {
        engines = vec!["heed".into(), "redb".into(), "fjall".into()];
    }
    let runs: usize = std::env::var("ENGINE_BENCH_RUNS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let order = write_order();
    println!(
        "{} versions ({DOCS} docs x {VERSIONS}), 33-byte keys, {VALUE_LEN}-byte values, batches of {BATCH}; median of {runs} runs",
        order.len()
    );
    println!("rates per wall-clock second / per CPU-second of the process (load average {})", loadavg());
    println!("{:<8} {:>22} {:>22} {:>22}", "engine", "load (versions/s)", "seeks/s", "scan (docs/s)");
    for name in &engines {
        let mut all = Vec::new();
        for _ in 0..runs {
            all.push(one_run(name, &order));
        }
        let pair = |f: fn(&Run) -> (f64, f64)| {
            let wall = median(all.iter().map(|r| f(r).0).collect());
            let cpu = median(all.iter().map(|r| f(r).1).collect());
            format!("{:>10.0} / {:>9.0}", wall, cpu)
        };
        println!(
            "{:<8} {:>22} {:>22} {:>22}   (load average {})",
            name,
            pair(|r| r.load),
            pair(|r| r.seeks),
            pair(|r| r.scan),
            loadavg()
        );
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_default()
}
