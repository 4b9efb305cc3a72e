//! `argon health --uri` measures the disk of the server's data dir (the
//! server runs the probe for `dataDirHealth`), even where the CLI cannot
//! see that dir; and its index lag and open cursors are the server's.

mod common;

use common::{Mode, Server};
use serde_json::Value;

fn check<'a>(h: &'a Value, name: &str) -> &'a Value {
    h["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} check: {h}"))
}

/// `argon health --uri URI -o json`, run from `cwd`.
fn health(uri: &str, cwd: &std::path::Path) -> Value {
    let out = Mode::Uri(uri.to_string()).cmd(&["health", "-o", "json"]).current_dir(cwd).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn health_over_uri_measures_the_servers_own_data_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let server_cwd = tmp.path().join("server");
    let cli_cwd = tmp.path().join("elsewhere");
    std::fs::create_dir_all(&server_cwd).unwrap();
    std::fs::create_dir_all(&cli_cwd).unwrap();
    // A relative data dir: the server's `dataDir` means nothing where the CLI runs.
    let server = Server::start_in(&server_cwd, std::path::Path::new("data"));
    let remote = Mode::Uri(server.uri.clone());
    remote.ok(&["project", "create", "app"]);
    let file = tmp.path().join("d.jsonl");
    std::fs::write(&file, "{\"_id\":1}\n{\"_id\":2}\n{\"_id\":3}\n").unwrap();
    remote.ok(&["import", "-p", "app", "-c", "c", file.to_str().unwrap()]);
    assert_eq!(remote.json(&["status"])["data_dir"], "data");

    let h = health(&server.uri, &cli_cwd);
    assert_eq!(h["healthy"], true, "{h}");
    let names: Vec<&str> =
        h["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["server", "disk_space", "wal_fsync_latency", "index_lag", "open_cursors"]);
    let disk = check(&h, "disk_space");
    assert!(matches!(disk["status"].as_str(), Some("ok" | "warn")), "{disk}");
    assert!(disk["value"].as_f64().unwrap() > 0.0, "{disk}");
    assert!(disk["detail"].as_str().unwrap().contains("free of"), "{disk}");
    let fsync = check(&h, "wal_fsync_latency");
    assert!(matches!(fsync["status"].as_str(), Some("ok" | "warn")), "measured, not unknown: {fsync}");
    assert!(fsync["value"].as_f64().unwrap() >= 0.0, "{fsync}");
    assert!(fsync["detail"].as_str().unwrap().ends_with("ms per fdatasync (worst of 3)"), "{fsync}");
    // The probe cleans up after itself in the server's data dir.
    let left: Vec<_> = std::fs::read_dir(server_cwd.join("data"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().contains("probe"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let lag = check(&h, "index_lag");
    assert_eq!((lag["status"].as_str(), lag["value"].as_f64()), (Some("ok"), Some(0.0)), "{lag}");
    assert_eq!(lag["detail"], "the index is caught up at LSN 2");
    assert_eq!(check(&h, "open_cursors")["value"], 0.0);

    // Cursors a client keeps open are counted.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let client =
            mongodb::Client::with_uri_str(format!("{}/?directConnection=true", server.uri)).await.unwrap();
        let coll = client.database("app").collection::<bson::Document>("c");
        let mut a = coll.find(bson::doc! {}).batch_size(1).await.unwrap();
        let mut b = coll.find(bson::doc! {}).batch_size(1).await.unwrap();
        assert!(a.advance().await.unwrap() && b.advance().await.unwrap());
        let uri = server.uri.clone();
        let cwd = cli_cwd.clone();
        let h = tokio::task::spawn_blocking(move || health(&uri, &cwd)).await.unwrap();
        let cursors = check(&h, "open_cursors");
        assert_eq!((cursors["status"].as_str(), cursors["value"].as_f64()), (Some("ok"), Some(2.0)), "{h}");
        assert_eq!(cursors["detail"], "2 open cursors");
    });

    // The table for people.
    let table = remote.ok(&["health"]);
    assert!(table.starts_with("CHECK") && table.contains("wal_fsync_latency"), "{table}");

    // --data-dir on the same dir, once the server is stopped: the same checks, measured here.
    server.stop();
    let local = Mode::DataDir(server_cwd.join("data"));
    let h = local.json(&["health"]);
    let names: Vec<&str> =
        h["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["disk_space", "wal_fsync_latency", "index_lag", "open_cursors"]);
    assert_eq!(check(&h, "index_lag")["detail"], "the index is caught up at LSN 2");
    assert!(check(&h, "wal_fsync_latency")["detail"].as_str().unwrap().ends_with("(worst of 3)"));
}
