//! `status`, `metrics`, `health` and `storage`, in both modes.

mod common;

use common::{in_both_modes, Mode};

#[test]
fn status_metrics_health_and_storage_report_the_data_dir() {
    in_both_modes(|m: &Mode| {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("d.jsonl");
        std::fs::write(&file, "{\"_id\":1,\"pad\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}\n{\"_id\":2}\n")
            .unwrap();
        let own = tmp.path().join("own.jsonl");
        std::fs::write(&own, "{\"_id\":3,\"pad\":\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"}\n")
            .unwrap();
        m.ok(&["project", "create", "app"]);
        m.ok(&["import", "-p", "app", "-c", "c", file.to_str().unwrap()]);
        m.ok(&["branch", "create", "feat", "-p", "app"]);
        m.ok(&["import", "-p", "app", "-b", "feat", "-c", "c", own.to_str().unwrap()]);

        let s = m.json(&["status"]);
        assert_eq!(s["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(
            (s["projects"].as_u64(), s["branches"].as_u64(), s["head_lsn"].as_u64()),
            (Some(1), Some(2), Some(4))
        );
        assert!(s["wal_bytes"].as_u64().unwrap() > 0);
        assert!(!s["data_dir"].as_str().unwrap().is_empty());
        match m {
            Mode::Uri(_) => {
                assert_eq!(s["mode"], "uri");
                assert!(s["uptime_secs"].as_f64().is_some());
                assert_eq!(s["server_version"], env!("CARGO_PKG_VERSION"));
            }
            Mode::DataDir(_) => {
                assert_eq!(s["mode"], "data-dir");
                assert!(s["uptime_secs"].is_null());
            }
        }
        let text = m.ok(&["status"]);
        assert!(text.contains("head LSN:") && text.contains("WAL size:"), "{text}");

        let metrics = m.json(&["metrics"]);
        assert_eq!(metrics["head_lsn"], 4);
        if let Mode::Uri(_) = m {
            assert!(metrics["latency"]["p99_micros"].is_i64(), "{metrics}");
            assert!(metrics["opcounters"]["insert"].as_i64().unwrap() >= 2, "{metrics}");
        }
        assert!(m.ok(&["metrics"]).contains("commits:"));

        let h = m.json(&["health"]);
        assert_eq!(h["healthy"], true, "{h}");
        let names: Vec<&str> =
            h["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        for want in ["disk_space", "wal_fsync_latency", "index_lag", "open_cursors"] {
            assert!(names.contains(&want), "{}: {names:?}", m.name());
        }
        let lag = h["checks"].as_array().unwrap().iter().find(|c| c["name"] == "index_lag").unwrap();
        assert_eq!(lag["status"], "ok", "{}: {lag}", m.name());

        let st = m.json(&["storage"]);
        let p = &st["projects"][0];
        assert_eq!(p["name"], "app");
        let feat = p["branches"].as_array().unwrap().iter().find(|b| b["name"] == "feat").unwrap();
        let main = p["branches"].as_array().unwrap().iter().find(|b| b["name"] == "main").unwrap();
        assert_eq!((feat["documents"].as_u64(), main["documents"].as_u64()), (Some(3), Some(2)));
        assert!(feat["copy_bytes"].as_u64().unwrap() > main["copy_bytes"].as_u64().unwrap());
        // In both modes: feat owns only the document written on it; the
        // rest it shares with main.
        assert_eq!(feat["shared_bytes"], main["copy_bytes"], "{}: {st}", m.name());
        assert_eq!(
            feat["own_bytes"].as_u64().unwrap() + feat["shared_bytes"].as_u64().unwrap(),
            feat["copy_bytes"].as_u64().unwrap()
        );
        assert_eq!(main["own_bytes"], main["copy_bytes"]);
        // WAL: main inherits nothing; feat wrote records of its own and
        // inherits main's up to its fork; the project has them all.
        let wal = |b: &serde_json::Value, k: &str| b[k].as_u64().unwrap();
        assert_eq!(wal(main, "wal_inherited_bytes"), 0, "{}: {st}", m.name());
        assert!(wal(feat, "wal_own_bytes") > 0 && wal(feat, "wal_inherited_bytes") > 0, "{}: {st}", m.name());
        assert!(wal(feat, "wal_inherited_bytes") <= wal(main, "wal_own_bytes"), "{}: {st}", m.name());
        assert!(
            p["wal_bytes"].as_u64().unwrap() >= wal(main, "wal_own_bytes") + wal(feat, "wal_own_bytes"),
            "{}: {st}",
            m.name()
        );
        let table = m.ok(&["storage"]);
        assert!(table.contains("AS A COPY") && table.contains("WAL INHERITED"), "{table}");
    });
}
