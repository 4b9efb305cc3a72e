//! The deployment admin commands behind `argon wal dump|verify` and
//! `argon health` over --uri: `walDump` pages through the WAL, `walVerify`
//! checks it (at once, or as a job with progress), `dataDirHealth`
//! measures the server's own data dir; bad arguments get MongoDB errors.

mod common;

use bson::{doc, Bson, Document};
use common::TestServer;
use mongodb::error::ErrorKind;

/// `(code, codeName)` of a command error.
fn code_of(e: &mongodb::error::Error) -> (i32, String) {
    match &*e.kind {
        ErrorKind::Command(c) => (c.code, c.code_name.clone()),
        other => panic!("not a command error: {other:?}"),
    }
}

/// The LSNs of a `walDump` reply, and its `nextLsn`.
fn lsns(reply: &Document) -> (Vec<i64>, Option<i64>) {
    let lsns = reply
        .get_array("entries")
        .unwrap()
        .iter()
        .map(|e| e.as_document().unwrap().get_i64("lsn").unwrap())
        .collect();
    let next = match reply.get("nextLsn") {
        Some(Bson::Int64(n)) => Some(*n),
        Some(Bson::Null) => None,
        other => panic!("nextLsn: {other:?}"),
    };
    (lsns, next)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wal_dump_pages_verify_checks_and_data_dir_health_measures() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let admin = client.database("admin");
    admin.run_command(doc! { "createProject": "app" }).await.unwrap();
    let coll = client.database("app").collection::<Document>("c");
    for i in 0..24 {
        coll.insert_one(doc! { "_id": i, "v": format!("value {i}") }).await.unwrap();
    }
    let status = admin.run_command(doc! { "serverStatus": 1 }).await.unwrap();
    let argon = status.get_document("argon").unwrap();
    let head = argon.get_i64("visibleLsn").unwrap();
    assert_eq!(head, 25, "one entry for the project, one per insert");

    // Pages of 10: 1-10, 11-20, 21-25; each says where the next starts.
    let mut all = vec![];
    let mut from = 0i64;
    let mut pages = 0;
    loop {
        let r = admin.run_command(doc! { "walDump": 1, "fromLsn": from, "limit": 10 }).await.unwrap();
        let (page, next) = lsns(&r);
        assert!(page.len() <= 10);
        all.extend(page);
        pages += 1;
        match next {
            Some(n) => from = n,
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(all, (1..=head).collect::<Vec<_>>());

    // An entry: where it is in the WAL, when, and what.
    let r = admin.run_command(doc! { "walDump": 1, "fromLsn": 2, "toLsn": 2 }).await.unwrap();
    let e = r.get_array("entries").unwrap()[0].as_document().unwrap().clone();
    assert_eq!(e.get_str("segment").unwrap(), argon_wal::segment_file_name(argon_wal::Lsn(1)));
    assert!(e.get_i64("offset").unwrap() > 0, "{e}");
    assert!(matches!(e.get("time"), Some(Bson::DateTime(_))), "{e}");
    let entry = e.get_document("entry").unwrap();
    assert_eq!(entry.get_str("kind").unwrap(), "commit", "{entry}");
    assert_eq!(lsns(&r), (vec![2], None));
    let r = admin.run_command(doc! { "walDump": 1 }).await.unwrap();
    let first = r.get_array("entries").unwrap()[0].as_document().unwrap().get_document("entry").unwrap();
    assert_eq!(first.get_str("kind").unwrap(), "create_project");
    assert_eq!(lsns(&r).0.len() as i64, head, "the default page holds them all");
    // A range ending past the head stops at the head; one past it is empty.
    assert_eq!(
        lsns(&admin.run_command(doc! { "walDump": 1, "fromLsn": 24, "toLsn": 1000 }).await.unwrap()),
        (vec![24, 25], None)
    );
    assert_eq!(
        lsns(&admin.run_command(doc! { "walDump": 1, "fromLsn": head + 1 }).await.unwrap()),
        (vec![], None)
    );
    // A limit above the maximum is cut to it.
    let r = admin.run_command(doc! { "walDump": 1, "limit": 1_000_000 }).await.unwrap();
    assert_eq!(lsns(&r).0.len() as i64, head);

    // walVerify at once, and as a job polled for progress.
    let v = admin.run_command(doc! { "walVerify": 1 }).await.unwrap();
    assert!(v.get_bool("done").unwrap());
    assert!(v.get_bool("wal_ok").unwrap(), "{v}");
    assert_eq!(v.get_i64("records").unwrap(), head);
    assert_eq!((v.get_i64("first_lsn").unwrap(), v.get_i64("last_lsn").unwrap()), (1, head));
    assert_eq!(v.get_i64("segments").unwrap(), 1);
    assert!(v.get_i64("bytes").unwrap() > 0);
    assert_eq!(v.get("first_bad"), Some(&Bson::Null));
    let mut r = admin.run_command(doc! { "walVerify": 1, "waitMS": 0 }).await.unwrap();
    let mut job = None;
    while !r.get_bool("done").unwrap() {
        let id = r.get_i64("job").unwrap();
        assert!(r.get_i64("bytes_done").unwrap() >= 0 && r.get_i64("bytes_total").unwrap() >= 0, "{r}");
        job = Some(id);
        r = admin.run_command(doc! { "walVerify": 1, "job": id, "waitMS": 50 }).await.unwrap();
    }
    assert_eq!(r.get_i64("records").unwrap(), head, "{r}");
    if let Some(id) = job {
        // A report is handed out once.
        let e = admin.run_command(doc! { "walVerify": 1, "job": id }).await.unwrap_err();
        assert_eq!(code_of(&e), (4, "NoSuchKey".into()), "{e}");
    }

    // dataDirHealth measures the server's own data dir.
    let h = admin.run_command(doc! { "dataDirHealth": 1 }).await.unwrap();
    assert_eq!(h.get_str("dataDir").unwrap(), argon.get_str("dataDir").unwrap());
    let (free, total) = (h.get_i64("freeBytes").unwrap(), h.get_i64("totalBytes").unwrap());
    assert!(free > 0 && free <= total, "{h}");
    let ms = h.get_f64("fsyncMillis").unwrap();
    assert!((0.0..60_000.0).contains(&ms), "{h}");
    assert_eq!(h.get_i32("fsyncSamples").unwrap(), 3);
    let probes: Vec<String> = std::fs::read_dir(server.dir.path().join("data"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("probe"))
        .collect();
    assert!(probes.is_empty(), "the probe file is removed: {probes:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_to_wal_and_disk_commands_get_mongodb_errors() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let admin = client.database("admin");
    admin.run_command(doc! { "createProject": "app" }).await.unwrap();
    let cases: Vec<(Document, i32, &str, &str)> = vec![
        (doc! { "walDump": 1, "fromLsn": "one" }, 14, "TypeMismatch", "walDump.fromLsn"),
        (doc! { "walDump": 1, "toLsn": { "lsn": 3 } }, 14, "TypeMismatch", "walDump.toLsn"),
        (doc! { "walDump": 1, "limit": true }, 14, "TypeMismatch", "walDump.limit"),
        (doc! { "walDump": 1, "fromLsn": -1 }, 2, "BadValue", "non-negative"),
        (doc! { "walDump": 1, "limit": -5 }, 2, "BadValue", "non-negative"),
        (doc! { "walDump": 1, "limit": 0 }, 2, "BadValue", "positive"),
        (doc! { "walDump": 1, "toLsn": 2.5 }, 9, "FailedToParse", "whole number"),
        (doc! { "walVerify": 1, "waitMS": "soon" }, 14, "TypeMismatch", "walVerify.waitMS"),
        (doc! { "walVerify": 1, "waitMS": -1 }, 2, "BadValue", "non-negative"),
        (doc! { "walVerify": 1, "job": "x" }, 14, "TypeMismatch", "walVerify.job"),
        (doc! { "walVerify": 1, "job": -2 }, 2, "BadValue", "non-negative"),
        (doc! { "walVerify": 1, "job": 987_654_321i64 }, 4, "NoSuchKey", "no WAL check"),
    ];
    for (cmd, code, name, says) in cases {
        let e = admin.run_command(cmd.clone()).await.unwrap_err();
        assert_eq!(code_of(&e), (code, name.to_string()), "{cmd}: {e}");
        assert!(e.to_string().contains(says), "{cmd}: {e}");
    }
    // Still serving.
    admin.run_command(doc! { "walDump": 1, "limit": 1 }).await.unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damage_in_the_live_wal_is_reported_by_verify_and_dump() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let admin = client.database("admin");
    admin.run_command(doc! { "createProject": "app" }).await.unwrap();
    let coll = client.database("app").collection::<Document>("c");
    for i in 0..5 {
        coll.insert_one(doc! { "_id": i, "pad": "x".repeat(200) }).await.unwrap();
    }
    let r = admin.run_command(doc! { "walDump": 1, "fromLsn": 3, "toLsn": 3 }).await.unwrap();
    let e = r.get_array("entries").unwrap()[0].as_document().unwrap().clone();
    let seg = server.dir.path().join("data/wal").join(e.get_str("segment").unwrap());
    let offset = e.get_i64("offset").unwrap() as usize;
    // Flip a payload byte of LSN 3 (a record is 25 bytes of header, then its payload).
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[offset + 25 + 10] ^= 0xFF;
    std::fs::write(&seg, bytes).unwrap();

    let v = admin.run_command(doc! { "walVerify": 1 }).await.unwrap();
    assert!(!v.get_bool("wal_ok").unwrap(), "{v}");
    assert_eq!(v.get_i64("records").unwrap(), 2, "the records before the damage: {v}");
    let bad = v.get_document("first_bad").unwrap();
    assert_eq!(bad.get_i64("offset").unwrap() as usize, offset, "{v}");
    assert_eq!(bad.get_i64("lsn").unwrap(), 3, "{v}");
    assert_eq!(bad.get_str("segment").unwrap(), seg.display().to_string());

    // Dumping up to the damage works; through it is DataCorruptionDetected.
    let r = admin.run_command(doc! { "walDump": 1, "toLsn": 2 }).await.unwrap();
    assert_eq!(lsns(&r), (vec![1, 2], None));
    // A page ends before the damage; the page that starts there is the error.
    let r = admin.run_command(doc! { "walDump": 1 }).await.unwrap();
    assert_eq!(lsns(&r), (vec![1, 2], Some(3)));
    let e = admin.run_command(doc! { "walDump": 1, "fromLsn": 3 }).await.unwrap_err();
    assert_eq!(code_of(&e), (301, "DataCorruptionDetected".into()), "{e}");
    assert!(e.to_string().contains("offset"), "{e}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_entries_end_a_dump_page_early() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let admin = client.database("admin");
    let coll = client.database("app").collection::<Document>("c");
    let big = "b".repeat(5 << 20);
    for i in 0..3 {
        coll.insert_one(doc! { "_id": i, "big": &big }).await.unwrap();
    }
    // Project, then three commits of 5 MiB: two never fit in one 8 MiB page.
    let mut pages = vec![];
    let mut from = 1i64;
    loop {
        let r = admin.run_command(doc! { "walDump": 1, "fromLsn": from }).await.unwrap();
        let (page, next) = lsns(&r);
        pages.push(page);
        match next {
            Some(n) => from = n,
            None => break,
        }
    }
    assert_eq!(pages, vec![vec![1, 2], vec![3], vec![4]]);
    server.stop().await;
}
