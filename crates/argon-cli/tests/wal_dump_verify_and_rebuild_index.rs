//! `wal dump` prints one JSON line per entry, `wal verify` checks every
//! checksum, `wal rebuild-index` rebuilds the index from the WAL, on a
//! stopped data dir (--data-dir). Over --uri:
//! `wal_dump_and_verify_over_uri_match_the_data_dir.rs`.

mod common;

use common::{json_lines, Mode};

#[test]
fn wal_dump_verify_and_rebuild_index() {
    let tmp = tempfile::tempdir().unwrap();
    let m = Mode::DataDir(tmp.path().join("data"));
    let file = tmp.path().join("docs.jsonl");
    std::fs::write(&file, "{\"_id\":1,\"a\":\"x\"}\n{\"_id\":2,\"a\":\"y\"}\n").unwrap();
    m.ok(&["project", "create", "app"]);
    m.ok(&["import", "-p", "app", "-c", "things", file.to_str().unwrap()]);
    m.ok(&["branch", "create", "b1", "-p", "app"]);

    let dump = json_lines(&m.ok(&["wal", "dump"]));
    assert_eq!(dump.len(), 3);
    assert_eq!(dump[0]["lsn"], 1);
    assert_eq!(dump[0]["entry"]["kind"], "create_project");
    assert_eq!(dump[1]["entry"]["kind"], "commit");
    assert_eq!(dump[1]["entry"]["ops"][1]["post"]["a"], "x", "{}", dump[1]);
    assert_eq!(dump[2]["entry"]["kind"], "create_branch");
    chrono::DateTime::parse_from_rfc3339(dump[0]["time"].as_str().unwrap()).unwrap();
    let some = json_lines(&m.ok(&["wal", "dump", "--from-lsn", "2", "--to-lsn", "2"]));
    assert_eq!(some.len(), 1);
    assert_eq!(some[0]["lsn"], 2);

    let v = m.json(&["wal", "verify"]);
    assert_eq!(
        (v["ok"].as_bool(), v["records"].as_u64(), v["last_lsn"].as_u64()),
        (Some(true), Some(3), Some(3))
    );
    assert!(m.ok(&["wal", "verify"]).contains("ok"));

    let r = m.json(&["wal", "rebuild-index"]);
    assert_eq!(r["head_lsn"], 3);
    assert_eq!(m.ok(&["export", "-p", "app", "-b", "b1", "-c", "things"]).lines().count(), 2);

    // Damage is found and reported with exit code 1.
    // (A record is 25 bytes of header, then its payload.)
    let seg = tmp.path().join("data/wal").join(dump[1]["segment"].as_str().unwrap());
    let mut bytes = std::fs::read(&seg).unwrap();
    let at = dump[1]["offset"].as_u64().unwrap() as usize + 25 + 10;
    bytes[at] ^= 0xFF;
    std::fs::write(&seg, bytes).unwrap();
    let e = m.fails(&["wal", "verify"]);
    assert!(e.contains("WAL damaged") && e.contains("(LSN 2)"), "{e}");
    // Up to the damage the dump works; through it, it prints the good
    // entries and then fails.
    assert_eq!(json_lines(&m.ok(&["wal", "dump", "--to-lsn", "1"])).len(), 1);
    let out = m.cmd(&["wal", "dump"]).output().unwrap();
    assert_eq!(json_lines(&String::from_utf8_lossy(&out.stdout)).len(), 1);
    let e = common::one_line_error("--data-dir", &["wal", "dump"], &out);
    assert!(e.contains("WAL corrupt") && e.contains("offset"), "{e}");
}
