//! Query engine throughput on already decoded documents, a bench binary:
//! `cargo bench -p argon-query --bench engine`. Targets (issue 3): simple
//! filters examine at least 2,000,000 documents/s on one core; `$group` over
//! 1,000,000 documents with 1,000 keys finishes well under a second. The
//! figures are printed with the target beside them; results go to
//! docs/BENCHMARKS.md.

use std::time::Instant;

/// CPU time of the current thread in seconds (Linux), so the numbers
/// hold on a shared, loaded machine; falls back to wall time elsewhere.
struct Clock {
    cpu: Option<u64>,
    wall: Instant,
}

fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

impl Clock {
    fn start() -> Clock {
        Clock { cpu: thread_cpu_ns(), wall: Instant::now() }
    }

    fn secs(&self) -> f64 {
        match (self.cpu, thread_cpu_ns()) {
            (Some(a), Some(b)) => (b - a) as f64 / 1e9,
            _ => self.wall.elapsed().as_secs_f64(),
        }
    }
}

use argon_query::pipeline::NoCollections;
use argon_query::{Filter, Pipeline};
use bson::{doc, Document};

fn docs(n: i32) -> Vec<Document> {
    (0..n)
        .map(|i| doc! {"_id": i, "a": i % 1000, "b": format!("name{}", i % 97), "c": {"d": i, "e": [1, 2, 3]}, "f": 1.5})
        .collect()
}

fn filter_throughput() {
    let data = docs(1_000_000);
    for spec in [
        doc! {"a": {"$gt": 500}},
        doc! {"a": 7},
        doc! {"b": "name5", "a": {"$lt": 10}},
        doc! {"c.d": {"$gte": 999_000}},
        doc! {"a": {"$in": [1, 2, 3, 500, 999]}},
    ] {
        let f = Filter::parse(&spec).unwrap();
        let start = Clock::start();
        let mut n = 0usize;
        for _ in 0..3 {
            n += data.iter().filter(|d| f.matches(d)).count();
        }
        let secs = start.secs();
        let rate = 3.0 * data.len() as f64 / secs;
        let verdict = if rate >= 2_000_000.0 { "meets" } else { "BELOW" };
        println!("{spec}: {:.1}M docs/s ({n} matches; {verdict} the 2M docs/s target)", rate / 1e6);
    }
    // Not a simple filter, reported for reference.
    let f = Filter::parse(&doc! {"$expr": {"$gt": ["$a", {"$multiply": ["$c.d", 0.001]}]}}).unwrap();
    let start = Clock::start();
    let n = data.iter().filter(|d| f.matches(d)).count();
    println!("$expr: {:.1}M docs/s ({n} matches)", data.len() as f64 / start.secs() / 1e6);
}

fn group_throughput() {
    // Documents are produced one at a time, as the server decodes them
    // from storage; the cost of producing and freeing them is measured
    // separately and subtracted.
    let make = |i: i32| doc! {"_id": i, "a": i % 1000, "c": {"d": i}, "f": 1.5};
    let n = 1_000_000;
    let start = Clock::start();
    let mut sink = 0usize;
    for i in 0..n {
        sink += make(i).len();
    }
    let baseline = start.secs();
    let p = Pipeline::parse(&[
        doc! {"$group": {"_id": "$a", "n": {"$sum": 1}, "total": {"$sum": "$c.d"}, "avg": {"$avg": "$f"}}},
    ])
    .unwrap();
    let ctx = NoCollections { now: bson::DateTime::now() };
    let start = Clock::start();
    let out = p.run(Box::new((0..n).map(make)), &ctx).unwrap();
    let total = start.secs();
    let group = total - baseline;
    println!(
        "$group 1M docs, {} groups: {total:.3}s, of which producing and freeing the input {baseline:.3}s ({sink}); grouping {group:.3}s",
        out.len()
    );
    assert_eq!(out.len(), 1000, "the pipeline must still be right");
    assert_eq!(out[7].get("n"), Some(&bson::Bson::Int32(1000)));
}

/// What a collation costs: a string filter, a sort and a `$group` on a
/// string key, binary against `{locale: "en", strength: 2}`.
fn collation_cost() {
    use argon_query::compare::with_collation;
    use argon_query::SortSpec;
    let ci = argon_types::collation::Collation::parse(&doc! {"locale": "en", "strength": 2}).unwrap();
    let names: Vec<Document> =
        (0..200_000).map(|i| doc! {"_id": i, "name": format!("{} {}", ["user", "User", "USER"][i as usize % 3], (i * 7919) % 1000)}).collect();
    for (label, c) in [("binary", None), ("en strength 2", ci.as_ref())] {
        with_collation(c, || {
            let f = Filter::parse(&doc! {"name": "user 42"}).unwrap();
            let start = Clock::start();
            let n = names.iter().filter(|d| f.matches(d)).count();
            let filter = start.secs();
            let mut sorted = names.clone();
            let start = Clock::start();
            SortSpec::parse(&doc! {"name": 1}).unwrap().sort(&mut sorted);
            let sort = start.secs();
            let p = Pipeline::parse(&[doc! {"$group": {"_id": "$name", "n": {"$sum": 1}}}]).unwrap();
            let ctx = NoCollections { now: bson::DateTime::now() };
            let start = Clock::start();
            let groups = p.run(Box::new(names.clone().into_iter()), &ctx).unwrap().len();
            let group = start.secs();
            println!(
                "collation {label}: string equality filter {:.1}M docs/s ({n} matches); sort 200k strings {sort:.3}s; \
                 $group by string {group:.3}s ({groups} groups)",
                names.len() as f64 / filter / 1e6
            );
        });
    }
}

/// The update lanes' in-place `$inc` on stored bytes (`Update::apply_raw`)
/// of the load generator's ~200-byte document.
fn apply_raw_cost() {
    let stored = bson::rawdoc! {
        "_id": 5i64, "name": "user-000000000005", "email": "user5@example.com", "n": 5i64,
        "tags": ["alpha", "beta", "gamma"], "pad": "x".repeat(96), "counter": 7i64,
    };
    let u = argon_query::Update::parse(&bson::Bson::Document(doc! {"$inc": {"counter": 1}}), None).unwrap();
    let now = bson::DateTime::now();
    let start = Clock::start();
    let mut bytes = 0usize;
    for _ in 0..1_000_000 {
        if let Some(Ok(Some(d))) = u.apply_raw(&stored, now) {
            bytes += d.as_bytes().len();
        }
    }
    println!("apply_raw $inc: {:.0} ns per call ({bytes} bytes written)", start.secs() * 1e9 / 1e6);
}

/// What the update lane did with a driver's `{$inc: {counter: 1}}` before
/// applying it (decode the raw update and parse it), and what it does now
/// (parse the bytes).
fn parse_update_cost() {
    let raw = bson::rawdoc! { "$inc": { "counter": 1 } };
    let start = Clock::start();
    let mut ops = 0usize;
    for _ in 0..1_000_000 {
        let d = Document::try_from(raw.as_ref()).unwrap();
        let u = argon_query::Update::parse(&bson::Bson::Document(d), None).unwrap();
        ops += usize::from(!u.is_replacement());
    }
    println!("decode + parse {{$inc: {{counter: 1}}}}: {:.0} ns per call ({ops})", start.secs() * 1e9 / 1e6);
    let start = Clock::start();
    let mut ops = 0usize;
    for _ in 0..1_000_000 {
        let u = argon_query::Update::parse_raw(&raw).unwrap();
        ops += usize::from(!u.is_replacement());
    }
    println!("parse_raw {{$inc: {{counter: 1}}}}: {:.0} ns per call ({ops})", start.secs() * 1e9 / 1e6);
}

fn main() {
    // `cargo test` runs bench targets only when asked; do nothing then.
    if !std::env::args().any(|a| a == "--bench") {
        println!("engine bench: skipped (run with cargo bench)");
        return;
    }
    // Optional filter: `cargo bench -p argon-query --bench engine -- update`.
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let want = |name: &str| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()));
    if want("filter") {
        filter_throughput();
    }
    if want("group") {
        group_throughput();
    }
    if want("collation") {
        collation_cost();
    }
    if want("update apply_raw") {
        apply_raw_cost();
    }
    if want("update parse") {
        parse_update_cost();
    }
}
