//! A data dir that a running server holds cannot be opened with
//! --data-dir; the error says so and suggests --uri. The WAL tools, which
//! only read files, still work on it; and --uri reaches the same data.

mod common;

use common::{argon, one_line_error, Mode, Server};

#[test]
fn a_data_dir_held_by_a_server_points_to_uri() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let server = Server::start(&dir);
    let remote = Mode::Uri(server.uri.clone());
    let local = Mode::DataDir(dir.clone());
    remote.ok(&["project", "create", "app"]);

    for args in [&["project", "list"][..], &["branch", "list", "-p", "app"], &["status"]] {
        let e = local.fails(args);
        assert!(e.contains("in use by another process") && e.contains("--uri"), "{e}");
    }

    // Reading the segment files needs no lock.
    let v = local.json(&["wal", "verify"]);
    assert_eq!(v["ok"], true);
    assert_eq!(v["last_lsn"], 1);
    assert_eq!(local.ok(&["wal", "dump"]).lines().count(), 1);

    // ARGON_URI selects the server; an explicit --data-dir wins over it.
    let out = argon().env("ARGON_URI", &server.uri).args(["project", "list", "-o", "json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = argon()
        .env("ARGON_URI", &server.uri)
        .args(["project", "list", "--data-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(one_line_error("ARGON_URI + --data-dir", &["project", "list"], &out).contains("in use"));

    // The lock goes with the process.
    server.stop();
    let projects = local.json(&["project", "list"]);
    assert_eq!(projects[0]["name"], "app");

    // No server at all: a one-line error naming the URI.
    let e = Mode::Uri(remote_uri_nobody_listens_on()).fails(&["project", "list"]);
    assert!(e.contains("cannot reach an argon server"), "{e}");
}

fn remote_uri_nobody_listens_on() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("mongodb://127.0.0.1:{port}/?serverSelectionTimeoutMS=500&connectTimeoutMS=500")
}
