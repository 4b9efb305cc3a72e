//! `wal dump` and `wal verify` over --uri (the server's `walDump`, page by
//! page, and `walVerify`) print exactly what they print with --data-dir on
//! the same WAL, also when the WAL is damaged; `wal rebuild-index` over
//! --uri says it needs the server stopped and --data-dir.

mod common;

use common::{json_lines, one_line_error, Mode, Server};

/// Writes through the official driver: many small commits (more than one
/// 1000-entry page) and a few 5 MiB ones (pages also end at 8 MiB).
fn write_many(uri: &str) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let client = mongodb::Client::with_uri_str(format!("{uri}/?directConnection=true")).await.unwrap();
        let coll = client.database("app").collection::<bson::Document>("many");
        for i in 0..1100 {
            coll.insert_one(bson::doc! { "_id": i, "n": i }).await.unwrap();
        }
        let big = "z".repeat(5 << 20);
        let coll = client.database("app~b1").collection::<bson::Document>("big");
        for i in 0..3 {
            coll.insert_one(bson::doc! { "_id": i, "big": &big }).await.unwrap();
        }
    });
}

#[test]
fn wal_dump_and_verify_over_uri_match_the_data_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let server = Server::start(&dir);
    let remote = Mode::Uri(server.uri.clone());
    // The WAL tools read the segment files without the data dir's lock.
    let local = Mode::DataDir(dir.clone());
    let file = tmp.path().join("docs.jsonl");
    std::fs::write(&file, "{\"_id\":1,\"a\":\"x\"}\n{\"_id\":2,\"a\":\"y\"}\n").unwrap();
    remote.ok(&["project", "create", "app"]); // 1
    remote.ok(&["import", "-p", "app", "-c", "things", file.to_str().unwrap()]); // 2
    remote.ok(&["branch", "create", "b1", "-p", "app"]); // 3
    write_many(&server.uri); // 4..=1103, then 1104..=1106
    let head = 1106u64;
    assert_eq!(remote.json(&["status"])["head_lsn"], head);

    // The whole dump: the same bytes in both modes.
    let dump = remote.ok(&["wal", "dump"]);
    assert_eq!(dump, local.ok(&["wal", "dump"]), "wal dump --uri and --data-dir differ");
    let lines = json_lines(&dump);
    let lsns: Vec<u64> = lines.iter().map(|l| l["lsn"].as_u64().unwrap()).collect();
    assert_eq!(lsns, (1..=head).collect::<Vec<_>>());
    assert_eq!(lines[0]["entry"]["kind"], "create_project");
    assert_eq!(lines[1]["entry"]["ops"][1]["post"]["a"], "x", "{}", lines[1]);
    assert_eq!(lines[2]["entry"]["kind"], "create_branch");
    assert_eq!(lines[1002]["entry"]["ops"][0]["post"]["n"], 999, "{}", lines[1002]);
    let big = &lines[head as usize - 1]["entry"]["ops"][0]["post"]["big"];
    assert_eq!(big.as_str().map(str::len), Some(5 << 20));
    for l in &lines {
        chrono::DateTime::parse_from_rfc3339(l["time"].as_str().unwrap()).unwrap();
        assert!(l["segment"].as_str().unwrap().ends_with(".wal"), "{l}");
        assert!(l["offset"].as_u64().is_some());
    }
    // Ranges, across page boundaries too.
    for range in [
        &["--from-lsn", "2", "--to-lsn", "2"][..],
        &["--from-lsn", "990", "--to-lsn", "1010"],
        &["--from-lsn", "1100"],
        &["--to-lsn", "3"],
        &["--from-lsn", "5000"],
        &["--from-lsn", "9", "--to-lsn", "4"],
    ] {
        let mut args = vec!["wal", "dump"];
        args.extend(range);
        let r = remote.ok(&args);
        assert_eq!(r, local.ok(&args), "{range:?}");
        let got: Vec<u64> = json_lines(&r).iter().map(|l| l["lsn"].as_u64().unwrap()).collect();
        let arg =
            |flag: &str| range.iter().position(|a| *a == flag).map(|i| range[i + 1].parse::<u64>().unwrap());
        let want: Vec<u64> =
            (arg("--from-lsn").unwrap_or(1).max(1)..=arg("--to-lsn").unwrap_or(head).min(head)).collect();
        assert_eq!(got, want, "{range:?}");
    }

    // verify: the same JSON and the same table.
    let v = remote.json(&["wal", "verify"]);
    assert_eq!(v, local.json(&["wal", "verify"]));
    assert_eq!(
        (v["ok"].as_bool(), v["records"].as_u64(), v["first_lsn"].as_u64(), v["last_lsn"].as_u64()),
        (Some(true), Some(head), Some(1), Some(head)),
        "{v}"
    );
    // Every record has a 25-byte header (the big payloads are compressed).
    assert!(v["segments"].as_u64().unwrap() >= 1 && v["bytes"].as_u64().unwrap() > 25 * head, "{v}");
    assert!(v["first_bad"].is_null(), "{v}");
    let table = remote.ok(&["wal", "verify"]);
    assert_eq!(table, local.ok(&["wal", "verify"]));
    assert!(
        table.contains(&format!("{head} records")) && table.contains("ok: every checksum matches"),
        "{table}"
    );

    // rebuild-index rewrites the index: the server must be stopped.
    let e = remote.fails(&["wal", "rebuild-index"]);
    assert!(e.contains("stop the server") && e.contains("--data-dir"), "{e}");

    // Damage in the live WAL (a payload byte of LSN 3): both modes report
    // the same place, with exit code 1.
    let seg = dir.join("wal").join(lines[2]["segment"].as_str().unwrap());
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[lines[2]["offset"].as_u64().unwrap() as usize + 25 + 10] ^= 0xFF;
    std::fs::write(&seg, bytes).unwrap();
    let run = |m: &Mode, args: &[&str]| {
        let out = m.cmd(args).output().unwrap();
        let e = one_line_error(m.name(), args, &out);
        (String::from_utf8(out.stdout).unwrap(), e)
    };
    let (json_r, err_r) = run(&remote, &["wal", "verify", "-o", "json"]);
    let (json_l, err_l) = run(&local, &["wal", "verify", "-o", "json"]);
    assert_eq!((&json_r, &err_r), (&json_l, &err_l));
    assert!(err_r.contains("WAL damaged") && err_r.contains("(LSN 3)"), "{err_r}");
    let v: serde_json::Value = serde_json::from_str(&json_r).unwrap();
    assert_eq!((v["ok"].as_bool(), v["records"].as_u64()), (Some(false), Some(2)), "{v}");
    assert_eq!(v["first_bad"]["lsn"], 3);
    assert_eq!(v["first_bad"]["offset"], lines[2]["offset"]);
    assert_eq!(v["first_bad"]["segment"], seg.display().to_string());
    // dump: the good entries, then the same one-line error.
    let (out_r, err_r) = run(&remote, &["wal", "dump"]);
    let (out_l, err_l) = run(&local, &["wal", "dump"]);
    assert_eq!((&out_r, &err_r), (&out_l, &err_l));
    assert_eq!(json_lines(&out_r).len(), 2);
    assert!(err_r.contains("WAL corrupt") && err_r.contains("offset"), "{err_r}");
    assert_eq!(remote.ok(&["wal", "dump", "--to-lsn", "2"]), local.ok(&["wal", "dump", "--to-lsn", "2"]));
    server.stop();
}
