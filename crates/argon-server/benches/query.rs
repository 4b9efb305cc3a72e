//! Query engine benchmark (issue 3), in-process: indexed equality find,
//! unindexed filter scan, `$group` with 1,000 keys, each at the head and at
//! a historical LSN, over 1,000,000 documents.
//!
//! Method: load N documents `{_id, u (unique), k (i % 1000), s, pad}` with
//! sync mode `never`, create an index on `u`, then rewrite every document
//! once (so each has two versions and the first load's LSN is halfway
//! through history). Queries run through the server's executor
//! (`Source::execute`: planner + store + query engine), not over the wire.
//!
//! Run: `cargo bench -p argon-server --bench query` (env `ARGON_BENCH_DOCS`
//! to change N, default 1,000,000).

use std::time::Instant;

use argon_query::pipeline::{NoCollections, Pipeline};
use argon_server::source::{Query, Source};
use argon_store::{At, Store, StoreOptions, SyncMode, WriteMode, WriteOp, WriteRequest};
use bson::{doc, Document};
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
        let (docs, plan, _, _) = src.execute("c", &q, None, 0, None).unwrap();
        lat.push(t.elapsed().as_secs_f64() * 1e6);
        assert_eq!((docs.len(), plan.stage()), (1, "IXSCAN"));
    }
    println!(
        "{label}: indexed equality find: p50 {:.1} us, p99 {:.1} us",
        percentile(&mut lat, 0.5),
        percentile(&mut lat, 0.99)
    );
    // Unindexed filter over every document.
    let q = Query::parse(&doc! { "s": "no-such-name" }).unwrap();
    let t = Instant::now();
    let (docs, plan, _, examined) = src.execute("c", &q, None, 0, None).unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert_eq!((docs.len(), plan.stage(), examined), (0, "COLLSCAN", n));
    println!(
        "{label}: unindexed filter: {examined} docs in {secs:.3} s = {:.0} docs/s",
        examined as f64 / secs
    );
    // $group by a field with 1,000 distinct values.
    let p =
        Pipeline::parse(&[doc! { "$group": { "_id": "$k", "n": { "$sum": 1 }, "avg": { "$avg": "$u" } } }])
            .unwrap();
    let t = Instant::now();
    let mut input: Vec<Document> = Vec::with_capacity(n as usize);
    src.for_each("c", &mut |d| {
        input.push(d);
        Ok(true)
    })
    .unwrap();
    let scanned = t.elapsed().as_secs_f64();
    let out = p.run(Box::new(input.into_iter()), &NoCollections { now: bson::DateTime::now() }).unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(out.len(), 1000);
    println!("{label}: $group 1000 keys over {n} docs: {secs:.3} s (of which scan+decode {scanned:.3} s)");
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
