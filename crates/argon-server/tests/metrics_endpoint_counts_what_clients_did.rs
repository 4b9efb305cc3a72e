//! The HTTP endpoint: `/metrics` in Prometheus text format counts the
//! connections, operations, latencies, WAL, cursors and branches that
//! clients caused, and agrees with `serverStatus`; `/healthz` says ok.

mod auth_support;

use std::collections::HashMap;

use argon_server::{ServerConfig, StartError};
use auth_support::{http_get, Server};
use bson::{doc, Document};
use futures::StreamExt;

/// `name{labels} value` lines → value, keyed by `name{labels}`.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap_or_else(|| panic!("bad sample line {l:?}"));
            (k.to_string(), v.parse::<f64>().unwrap_or_else(|_| panic!("bad value in {l:?}")))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_operations_connections_cursors_and_branches() {
    let server = Server::start_with(ServerConfig::default(), true, |_| {}).await;
    let http = server.metrics_addr.unwrap();

    let (status, before) = http_get(http, "/metrics").await;
    assert_eq!(status, 200);
    let before = samples(&before);
    assert_eq!(before["argon_ops_total{type=\"insert\"}"], 0.0);
    assert_eq!(before["argon_connections_current"], 0.0);

    let client = server.client(None, "").await;
    let c = client.database("app").collection::<Document>("c");
    c.insert_many((0..5).map(|i| doc! { "_id": i })).await.unwrap();
    c.insert_one(doc! { "_id": 5 }).await.unwrap();
    c.update_one(doc! { "_id": 1 }, doc! { "$set": { "x": 1 } }).await.unwrap();
    c.delete_one(doc! { "_id": 2 }).await.unwrap();
    // A cursor left open after its first batch.
    let mut cursor = c.find(doc! {}).batch_size(2).await.unwrap();
    cursor.next().await.unwrap().unwrap();
    client.database("admin").run_command(doc! { "createBranch": "feature", "project": "app" }).await.unwrap();

    let (status, text) = http_get(http, "/metrics").await;
    assert_eq!(status, 200);
    for family in [
        "# TYPE argon_connections_current gauge",
        "# TYPE argon_ops_total counter",
        "# TYPE argon_command_latency_microseconds histogram",
        "# TYPE argon_wal_fsyncs_total counter",
    ] {
        assert!(text.contains(family), "{family} missing from:\n{text}");
    }
    let m = samples(&text);
    assert_eq!(m["argon_ops_total{type=\"insert\"}"], 6.0);
    assert_eq!(m["argon_ops_total{type=\"update\"}"], 1.0);
    assert_eq!(m["argon_ops_total{type=\"delete\"}"], 1.0);
    assert_eq!(m["argon_ops_total{type=\"query\"}"], 1.0);
    assert!(m["argon_ops_total{type=\"command\"}"] >= 6.0);
    assert!(m["argon_connections_current"] >= 1.0);
    assert!(m["argon_connections_total"] >= 1.0);
    assert_eq!(m["argon_cursors_open"], 1.0);
    assert_eq!(m["argon_projects"], 1.0);
    assert_eq!(m["argon_branches"], 2.0);
    assert!(m["argon_wal_bytes"] > 0.0);
    assert!(m["argon_wal_fsyncs_total"] >= 1.0);
    assert!(m["argon_commits_total"] >= 4.0);
    // The histogram is cumulative and ends with everything.
    let count = m["argon_command_latency_microseconds_count"];
    assert!(count >= 6.0);
    assert_eq!(m["argon_command_latency_microseconds_bucket{le=\"+Inf\"}"], count);
    assert!(m["argon_command_latency_microseconds_sum"] > 0.0);
    let mut last = 0.0;
    for b in 0..31 {
        let v = m[&format!("argon_command_latency_microseconds_bucket{{le=\"{}\"}}", 1u64 << b)];
        assert!(v >= last, "buckets must be cumulative");
        last = v;
    }

    // serverStatus tells the same story.
    let status = client.database("admin").run_command(doc! { "serverStatus": 1 }).await.unwrap();
    let ops = status.get_document("opcounters").unwrap();
    assert_eq!(ops.get_i64("insert").unwrap(), 6);
    assert_eq!(ops.get_i64("update").unwrap(), 1);
    assert_eq!(status.get_document("argon").unwrap().get_i64("branches").unwrap(), 2);
    // With the default `--fsync always`, what is visible is durable, and
    // the acknowledged writes took fdatasyncs.
    let argon = status.get_document("argon").unwrap();
    assert!(argon.get_i64("walFsyncs").unwrap() >= 1, "{argon}");
    assert!(argon.get_i64("durableLsn").unwrap() >= argon.get_i64("visibleLsn").unwrap(), "{argon}");

    let (status, body) = http_get(http, "/healthz").await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let (status, _) = http_get(http, "/nope").await;
    assert_eq!(status, 404);
    drop(cursor);
    let (result, _) = server.stop().await;
    result.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_metrics_address_stops_the_server_from_starting() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = argon_store::Store::open(dir.path()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = ServerConfig { metrics_addr: Some(addr), ..ServerConfig::default() };
    let result = argon_server::try_run(listener, store, config, std::future::pending()).await;
    assert!(matches!(result, Err(StartError::Metrics { .. })), "{result:?}");
}
