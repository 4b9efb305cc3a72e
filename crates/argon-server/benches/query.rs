//! Query engine benchmark (issue 3), in-process: indexed equality find,
//! unindexed filter scan, `$group` with 1,000 keys, a sorted and limited
//! find on the indexed field, each at the head and at a historical LSN,
//! over 1,000,000 documents.
//!
//! Method: load N documents `{_id, u (unique), k (i % 1000), s, pad}` with
//! sync mode `never`, create an index on `u`, then rewrite every document
//! once (so each has two versions and the first load's LSN is halfway
//! through history). Queries run through the server's executor
//! (`Source::execute` and `Source::aggregate`: planner + store + query
//! engine), not over the wire.
//!
//! Scans report the best of three runs, wall-clock and CPU time of the
//! benchmark thread (the machine may be busy with other work).
//!
//! Run: `cargo bench -p argon-server --bench query` (env `ARGON_BENCH_DOCS`
//! to change N, default 1,000,000).

use std::time::Instant;

use argon_query::expr::Vars;
use argon_query::pipeline::{NoCollections, Pipeline};
use argon_query::SortSpec;
use argon_server::source::{Query, Source};
use argon_store::{At, Store, StoreOptions, SyncMode, WriteMode, WriteOp, WriteRequest};
use bson::doc;
use rand::Rng;

fn load(store: &Store, n: u64, version: i64) {
    let mut i = 0;
    while i < n {
        let end = (i + 10_000).min(n);
        let mut req = WriteRequest::new("bench", "main");
        req.mode = WriteMode::Atomic;
        for j in i..end {
            let d = doc! { "_id": j as i64, "u": j as i64, "k": (j % 1000) as i64, "s": format!("name-{j}"), "v": version, "pad": "x".repeat(120) };
            req.ops.push(if version == 0 {
                WriteOp::Insert { coll: "c".into(), doc: d }
            } else {
                WriteOp::Update {
                    coll: "c".into(),
                    id: (j as i64).into(),
                    doc: d,
                    replace: true,
                    check: argon_store::Check::Blind,
                }
            });
        }
        store.write(req).unwrap();
        i = end;
    }
}

/// Seconds of CPU this thread has run (`/proc/thread-self/schedstat`),
/// which other processes on a busy machine do not inflate as they do
/// wall-clock time.
fn thread_cpu() -> f64 {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    s.split_whitespace().next().and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / 1e9
}

/// Runs `f` three times: the best wall-clock and the best CPU time.
fn best_of(mut f: impl FnMut()) -> (f64, f64) {
    let (mut wall, mut cpu) = (f64::MAX, f64::MAX);
    for _ in 0..3 {
        let (t, c) = (Instant::now(), thread_cpu());
        f();
        wall = wall.min(t.elapsed().as_secs_f64());
        cpu = cpu.min(thread_cpu() - c);
    }
    (wall, cpu)
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 * p) as usize).min(v.len() - 1)]
}

fn run(store: &Store, at: At, label: &str, n: u64) {
    let snap = store.snapshot("bench", "main", at).unwrap();
    let src = Source { snap: &snap, overlay: None };
    // Indexed equality.
    let mut lat = Vec::new();
    let mut rng = rand::rng();
    for _ in 0..20_000 {
        let q = Query::parse(&doc! { "u": rng.random_range(0..n) as i64 }).unwrap();
        let t = Instant::now();
        let e = src.execute("c", &q, None, 0, None).unwrap();
        lat.push(t.elapsed().as_secs_f64() * 1e6);
        assert_eq!((e.docs.len(), e.plan.stage()), (1, "IXSCAN"));
    }
    println!(
        "{label}: indexed equality find: p50 {:.1} us, p99 {:.1} us",
        percentile(&mut lat, 0.5),
        percentile(&mut lat, 0.99)
    );
    // The store's raw scan alone (no decoding), for reference.
    let (wall, cpu) = best_of(|| {
        let mut scan = snap.scan("c").unwrap();
        let mut raw = 0u64;
        while scan.next_raw().unwrap().is_some() {
            raw += 1;
        }
        assert_eq!(raw, n);
    });
    println!(
        "{label}: raw scan alone: {:.0} ns/doc (CPU {:.0} ns/doc)",
        wall * 1e9 / n as f64,
        cpu * 1e9 / n as f64
    );
    // Unindexed filter over every document.
    let q = Query::parse(&doc! { "s": "no-such-name" }).unwrap();
    let (wall, cpu) = best_of(|| {
        let e = src.execute("c", &q, None, 0, None).unwrap();
        assert_eq!((e.docs.len(), e.plan.stage(), e.docs_examined), (0, "COLLSCAN", n));
    });
    println!(
        "{label}: unindexed filter: {n} docs in {wall:.3} s = {:.0} docs/s (CPU {cpu:.3} s = {:.0} docs/s)",
        n as f64 / wall,
        n as f64 / cpu
    );
    // $group by a field with 1,000 distinct values, as the aggregate
    // command runs it (streamed, decoding only `k` and `u`).
    let p =
        Pipeline::parse(&[doc! { "$group": { "_id": "$k", "n": { "$sum": 1 }, "avg": { "$avg": "$u" } } }])
            .unwrap();
    let ctx = NoCollections { now: bson::DateTime::now() };
    let (wall, cpu) = best_of(|| {
        let out = src.aggregate("c", &p, &ctx, &Vars::new(ctx.now)).unwrap();
        assert_eq!(out.len(), 1000);
    });
    println!("{label}: $group 1000 keys over {n} docs: {wall:.3} s (CPU {cpu:.3} s)");
    // find().sort({u: -1}).limit(10) on the indexed field: in memory
    // (descending on an ascending index needs a reverse scan), and
    // sort({u: 1}).limit(10): the index provides the order.
    for dir in [1, -1] {
        let sort = SortSpec::parse(&doc! { "u": dir }).unwrap();
        let all = Query::parse(&doc! {}).unwrap();
        let t = Instant::now();
        let e = src.execute("c", &all, Some(&sort), 0, Some(10)).unwrap();
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(e.docs.len(), 10);
        println!(
            "{label}: find().sort({{u: {dir}}}).limit(10): {:.3} ms ({}, {} keys, {} docs examined)",
            secs * 1e3,
            if e.sorted_in_memory { "sorted in memory" } else { "index order" },
            e.keys_examined,
            e.docs_examined
        );
    }
}

fn main() {
    let n: u64 = std::env::var("ARGON_BENCH_DOCS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let store =
        Store::open_with(dir.path(), StoreOptions { sync: SyncMode::Never, ..Default::default() }).unwrap();
    store.create_project("bench").unwrap();
    let t = Instant::now();
    load(&store, n, 0);
    store
        .write(
            WriteRequest::new("bench", "main")
                .op(WriteOp::CreateIndex { coll: "c".into(), spec: doc! {"key": {"u": 1}, "name": "u_1"} }),
        )
        .unwrap();
    let mid = store.visible_lsn();
    load(&store, n, 1);
    println!(
        "loaded {n} documents twice ({} versions) in {:.1} s; halfway LSN {mid}",
        2 * n,
        t.elapsed().as_secs_f64()
    );
    run(&store, At::Head, "head", n);
    run(&store, At::Lsn(mid), "historical (halfway)", n);
}
