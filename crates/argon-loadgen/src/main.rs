//! `argon-loadgen`: drives a MongoDB-protocol server with N concurrent
//! connections over the real wire protocol (OP_MSG built with `argon-wire`,
//! no driver in between, so the client costs little) and reports
//! throughput and latency percentiles.
//!
//! Workloads: `insert` (insert_one of ~200-byte documents), `find` (find_one
//! by `_id` over a preloaded collection), `mixed` (50% find_one, 50%
//! update_one `$inc` by `_id`), `update`, `find-indexed` (find_one by an
//! indexed field), `find-range` (ten documents by a range on that field),
//! `branch` (createBranch latency over a preloaded collection, one
//! connection), `ping` (no storage work: the transport's ceiling).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use argon_wire::{OpMsg, Response};
use bson::raw::{RawBsonRef, RawDocument, RawDocumentBuf};
use bson::rawdoc;
use bson::{doc, Bson, Document};
use clap::{Parser, ValueEnum};
use rand::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Workload {
    Insert,
    Find,
    Mixed,
    /// `update_one({_id}, {$inc})` on a preloaded document.
    Update,
    /// `find_one({n})` on an indexed field of a preloaded document: the
    /// server's full query path (planner, index scan), not the `_id` lane.
    FindIndexed,
    /// `find({n: {$gte: x, $lt: x + 10}})` on the same index: a range of
    /// ten documents, the whole batch returned.
    FindRange,
    Branch,
    /// `{ping: 1}`: no storage work at all. The ceiling that the transport
    /// (loopback TCP, framing, dispatch) and this client set for the others.
    Ping,
}

#[derive(Parser, Debug)]
#[command(about = "MongoDB wire-protocol load generator")]
struct Args {
    /// host:port of the server, or the path of its Unix socket
    /// (`argon serve --unix-socket`; anything starting with `/`).
    #[arg(long, default_value = "127.0.0.1:27017")]
    addr: String,
    #[arg(long, value_enum)]
    workload: Workload,
    /// Concurrent connections.
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// Seconds to run (not for `branch`).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Documents preloaded for find, mixed and branch.
    #[arg(long, default_value_t = 100_000)]
    preload: u64,
    /// The `--preload` documents are there already (an earlier run loaded
    /// them): use them as the `_id` range without loading them again.
    #[arg(long)]
    preloaded: bool,
    /// Send writes as drivers do by default (retryWrites=true): each
    /// connection's own session id (`lsid`) and a new `txnNumber` per write.
    #[arg(long)]
    retryable: bool,
    /// Branches to create for `branch`.
    #[arg(long, default_value_t = 200)]
    branches: u64,
    /// Database (project) to use; a fresh name per run avoids collisions.
    #[arg(long, default_value = "loadgen")]
    db: String,
    /// Client threads (tokio workers; one is an event loop like
    /// redis-benchmark's). Two by default: once the server answered a find
    /// in ~10 µs of CPU, one client thread (~8 µs per operation, ~0.7 of a
    /// core) became the limit of `find` and `ping` at 64 connections
    /// (docs/BENCHMARKS.md, session 18).
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

/// Loopback TCP or the server's Unix socket.
enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// One connection speaking OP_MSG.
struct Conn {
    stream: Stream,
    buf: Vec<u8>,
    next_id: i32,
}

impl Conn {
    async fn connect(addr: &str) -> Conn {
        let stream = if addr.starts_with('/') {
            Stream::Unix(UnixStream::connect(addr).await.expect("connect"))
        } else {
            let tcp = TcpStream::connect(addr).await.expect("connect");
            tcp.set_nodelay(true).ok();
            Stream::Tcp(tcp)
        };
        Conn { stream, buf: Vec::with_capacity(64 * 1024), next_id: 1 }
    }

    async fn command(&mut self, body: &Document) -> Document {
        self.next_id += 1;
        let frame = argon_wire::encode_op_msg_request(self.next_id, 0, body, &[], None).expect("encode");
        let raw = self.send(&frame).await;
        Document::try_from(raw.as_ref()).expect("reply document")
    }

    /// Sends a command built as BSON bytes, with its bulk field as an
    /// OP_MSG document sequence when there is one (drivers send `insert`'s
    /// `documents` and `update`'s `updates` that way), and returns the reply
    /// body undecoded. The client shares the 2 cores with the server, so it
    /// builds requests like redis-benchmark does, without an intermediate
    /// `Document`: the bytes on the wire are what a driver sends.
    async fn command_raw(
        &mut self,
        body: &RawDocumentBuf,
        sequence: Option<(&str, &RawDocumentBuf)>,
    ) -> RawDocumentBuf {
        self.next_id += 1;
        let mut frame = Vec::with_capacity(256);
        frame.extend_from_slice(&[0; 4]); // length, set below
        frame.extend_from_slice(&self.next_id.to_le_bytes());
        frame.extend_from_slice(&0i32.to_le_bytes()); // responseTo
        frame.extend_from_slice(&2013i32.to_le_bytes()); // OP_MSG
        frame.extend_from_slice(&0u32.to_le_bytes()); // flagBits
        frame.push(0); // section kind 0: the body
        frame.extend_from_slice(body.as_bytes());
        if let Some((identifier, doc)) = sequence {
            frame.push(1); // section kind 1: a document sequence
            let size = 4 + identifier.len() + 1 + doc.as_bytes().len();
            frame.extend_from_slice(&(size as i32).to_le_bytes());
            frame.extend_from_slice(identifier.as_bytes());
            frame.push(0);
            frame.extend_from_slice(doc.as_bytes());
        }
        let len = frame.len() as i32;
        frame[..4].copy_from_slice(&len.to_le_bytes());
        self.send(&frame).await
    }

    async fn send(&mut self, frame: &[u8]) -> RawDocumentBuf {
        match &mut self.stream {
            Stream::Tcp(s) => s.write_all(frame).await,
            Stream::Unix(s) => s.write_all(frame).await,
        }
        .expect("write");
        loop {
            if let Ok(Some(len)) = argon_wire::frame_length(&self.buf) {
                if self.buf.len() >= len {
                    let body = reply_body(&self.buf[..len]);
                    self.buf.drain(..len);
                    return body;
                }
            }
            self.buf.reserve(64 * 1024);
            let n = match &mut self.stream {
                Stream::Tcp(s) => s.read_buf(&mut self.buf).await,
                Stream::Unix(s) => s.read_buf(&mut self.buf).await,
            }
            .expect("read");
            assert!(n > 0, "server closed the connection");
        }
    }
}

/// The body of a reply frame: OP_MSG section 0 read in place; anything else
/// (OP_REPLY, compressed) through the full decoder.
fn reply_body(frame: &[u8]) -> RawDocumentBuf {
    const OP_MSG: i32 = 2013;
    let opcode = i32::from_le_bytes(frame[12..16].try_into().expect("header"));
    if opcode == OP_MSG && frame.len() > 21 && frame[20] == 0 {
        let len = i32::from_le_bytes(frame[21..25].try_into().expect("len")) as usize;
        return RawDocumentBuf::from_bytes(frame[21..21 + len].to_vec()).expect("reply body");
    }
    let reply = argon_wire::decode_response(frame).expect("decode reply");
    let doc = match reply.response {
        Response::Msg(OpMsg { body, .. }) => body,
        Response::Reply(r) => r.documents.into_iter().next().unwrap_or_default(),
    };
    RawDocumentBuf::try_from(&doc).expect("encode")
}

fn check(reply: &Document) {
    let ok = reply.get("ok").and_then(Bson::as_f64).unwrap_or(0.0);
    assert!(ok == 1.0 && !reply.contains_key("writeErrors"), "command failed: {reply}");
}

/// `check` on an undecoded reply; with `want_doc`, a find's first batch
/// must hold a document.
fn check_raw(reply: &RawDocument, want_doc: bool) {
    let ok = match reply.get("ok") {
        Ok(Some(RawBsonRef::Double(d))) => d,
        Ok(Some(RawBsonRef::Int32(i))) => i as f64,
        _ => 0.0,
    };
    let failed = ok != 1.0 || matches!(reply.get("writeErrors"), Ok(Some(_)));
    let found = !want_doc
        || reply
            .get_document("cursor")
            .ok()
            .and_then(|c| c.get_array("firstBatch").ok())
            .is_some_and(|b| b.into_iter().next().is_some());
    if failed || !found {
        panic!("command failed: {:?}", Document::try_from(reply));
    }
}

fn payload(i: u64) -> Document {
    Document::try_from(payload_raw(i).as_ref()).expect("payload")
}

/// The ~200-byte document inserted for `i`.
fn payload_raw(i: u64) -> RawDocumentBuf {
    const PAD: &str =
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
    rawdoc! { "_id": i as i64, "name": format!("user-{i:012}"), "email": format!("user{i}@example.com"), "n": i as i64,
    "tags": ["alpha", "beta", "gamma"], "pad": PAD }
}

async fn preload(addr: &str, db: &str, n: u64) {
    let mut c = Conn::connect(addr).await;
    let mut i = 0;
    while i < n {
        let batch: Vec<Document> = (i..(i + 1000).min(n)).map(payload).collect();
        i += batch.len() as u64;
        check(&c.command(&doc! { "insert": "bench", "documents": batch, "$db": db }).await);
    }
}

/// Latencies in microseconds.
fn report(name: &str, lat: &mut [u64], elapsed: Duration) {
    lat.sort_unstable();
    let q = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1))).copied().unwrap_or(0)
    };
    println!(
        "{name}: {} ops in {:.2}s = {:.0} ops/s; latency p50 {} us, p99 {} us, max {} us",
        lat.len(),
        elapsed.as_secs_f64(),
        lat.len() as f64 / elapsed.as_secs_f64(),
        q(0.5),
        q(0.99),
        lat.last().copied().unwrap_or(0)
    );
}

fn main() {
    let args = Args::parse();
    let runtime = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(args.threads).enable_all().build()
    };
    runtime.expect("tokio runtime").block_on(run(args));
}

async fn run(args: Args) {
    let db = args.db.clone();
    match args.workload {
        Workload::Branch => {
            preload(&args.addr, &db, args.preload).await;
            let mut c = Conn::connect(&args.addr).await;
            let mut lat = Vec::new();
            let start = Instant::now();
            for i in 0..args.branches {
                let t = Instant::now();
                check(
                    &c.command(&doc! { "createBranch": format!("b{i}"), "project": &db, "$db": "admin" })
                        .await,
                );
                lat.push(t.elapsed().as_micros() as u64);
            }
            report(&format!("createBranch at {} documents", args.preload), &mut lat, start.elapsed());
            return;
        }
        Workload::Find | Workload::Mixed | Workload::Update if !args.preloaded => {
            preload(&args.addr, &db, args.preload).await
        }
        Workload::FindIndexed | Workload::FindRange if !args.preloaded => {
            preload(&args.addr, &db, args.preload).await;
            let mut c = Conn::connect(&args.addr).await;
            let index = doc! { "key": {"n": 1}, "name": "n_1" };
            check(&c.command(&doc! { "createIndexes": "bench", "indexes": [index], "$db": &db }).await);
        }
        Workload::Find | Workload::Mixed | Workload::Update | Workload::FindIndexed | Workload::FindRange => {
        }
        Workload::Insert | Workload::Ping => {}
    }
    let stop = Arc::new(AtomicBool::new(false));
    let next_id = Arc::new(AtomicU64::new(10_000_000));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.connections {
        let (addr, db, stop, next_id) = (args.addr.clone(), db.clone(), stop.clone(), next_id.clone());
        let (workload, preload, retryable) = (args.workload, args.preload.max(1), args.retryable);
        tasks.push(tokio::spawn(async move {
            let mut c = Conn::connect(&addr).await;
            let mut lat = Vec::new();
            let lsid = rawdoc! { "id": bson::Binary {
                subtype: bson::spec::BinarySubtype::Uuid,
                bytes: rand::rng().random::<[u8; 16]>().to_vec(),
            } };
            let mut txn_number = 0i64;
            while !stop.load(Ordering::Relaxed) {
                let mut want_doc = false;
                let mut sequence = None;
                let update = |id: i64| {
                    let stmt = rawdoc! {"q": {"_id": id}, "u": {"$inc": {"n": 1}}};
                    (Some(("updates", stmt)), rawdoc! { "update": "bench", "$db": db.as_str() })
                };
                let find = |id: i64| {
                    rawdoc! { "find": "bench", "filter": {"_id": id}, "limit": 1, "singleBatch": true, "$db": db.as_str() }
                };
                let mut body = match workload {
                    Workload::Insert => {
                        let id = next_id.fetch_add(1, Ordering::Relaxed);
                        sequence = Some(("documents", payload_raw(id)));
                        rawdoc! { "insert": "bench", "$db": db.as_str() }
                    }
                    Workload::Find => {
                        want_doc = true;
                        find(rand::rng().random_range(0..preload) as i64)
                    }
                    Workload::Mixed => {
                        let id = rand::rng().random_range(0..preload) as i64;
                        if rand::rng().random_bool(0.5) {
                            find(id)
                        } else {
                            let (seq, body) = update(id);
                            sequence = seq;
                            body
                        }
                    }
                    Workload::Update => {
                        let (seq, body) = update(rand::rng().random_range(0..preload) as i64);
                        sequence = seq;
                        body
                    }
                    Workload::FindIndexed => {
                        want_doc = true;
                        let n = rand::rng().random_range(0..preload) as i64;
                        rawdoc! { "find": "bench", "filter": {"n": n}, "limit": 1, "singleBatch": true, "$db": db.as_str() }
                    }
                    Workload::FindRange => {
                        want_doc = true;
                        let n = rand::rng().random_range(0..preload.saturating_sub(10).max(1)) as i64;
                        rawdoc! { "find": "bench", "filter": {"n": {"$gte": n, "$lt": n + 10}}, "$db": db.as_str() }
                    }
                    Workload::Ping => rawdoc! { "ping": 1, "$db": db.as_str() },
                    Workload::Branch => unreachable!(),
                };
                if retryable && sequence.is_some() {
                    txn_number += 1;
                    body.append(bson::raw::cstr!("lsid"), lsid.clone());
                    body.append(bson::raw::cstr!("txnNumber"), txn_number);
                }
                let t = Instant::now();
                check_raw(&c.command_raw(&body, sequence.as_ref().map(|(i, d)| (*i, d))).await, want_doc);
                lat.push(t.elapsed().as_micros() as u64);
            }
            lat
        }));
    }
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    let elapsed = start.elapsed();
    report(&format!("{:?} with {} connections", args.workload, args.connections), &mut all, elapsed);
}
