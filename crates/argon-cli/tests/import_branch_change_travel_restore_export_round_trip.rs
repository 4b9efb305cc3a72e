//! The round trip a user makes: import a file, branch, change data on the
//! branch, time-travel to before the change, restore, export, and get the
//! original file back, byte for byte. In both modes.

mod common;

use common::{in_both_modes, Mode};

/// Sorted by `_id`, in the exact form `export` writes (relaxed Extended
/// JSON, one compact document per line).
const ORIGINAL: &str = r#"{"_id":1,"name":"ada","tags":["math","engines"],"score":9.5,"nested":{"z":1,"a":{"b":null}}}
{"_id":2,"name":"grace","born":{"$date":"2021-12-09T10:00:00Z"},"big":5000000000}
{"_id":3,"name":"linus","ref":{"$oid":"65a1b2c3d4e5f60718293a4b"},"ok":true}
"#;

fn lines(text: &str) -> usize {
    text.lines().count()
}

#[test]
fn import_branch_change_travel_restore_export_round_trip() {
    in_both_modes(|m: &Mode| {
        let dir = tempfile::tempdir().unwrap();
        let original = dir.path().join("items.jsonl");
        std::fs::write(&original, ORIGINAL).unwrap();
        let extra = dir.path().join("extra.jsonl");
        std::fs::write(&extra, "{\"_id\":4,\"name\":\"new on the branch\"}\n").unwrap();

        m.ok(&["project", "create", "shop"]);
        let out = m.ok(&["import", "-p", "shop", "-c", "items", original.to_str().unwrap()]);
        assert!(out.contains("imported 3 documents"), "{out}");

        let b = m.json(&["branch", "create", "feature", "-p", "shop"]);
        let before = b["head_lsn"].as_u64().unwrap();
        assert_eq!(b["parent"], "main");
        assert_eq!(b["base_lsn"].as_u64().unwrap(), before - 1, "forked at main's head, the import");
        let before_time = b["head_time"].as_str().unwrap().to_string();
        std::thread::sleep(std::time::Duration::from_millis(20));

        // Change data on the branch only.
        m.ok(&["import", "-p", "shop", "-b", "feature", "-c", "items", extra.to_str().unwrap()]);
        let head =
            m.ok(&["time-travel", "query", "-p", "shop", "-b", "feature", "--time", "now", "-c", "items"]);
        assert_eq!(lines(&head), 4, "{} head: {head}", m.name());
        let main_now = m.ok(&["export", "-p", "shop", "-c", "items"]);
        assert_eq!(main_now, ORIGINAL, "main is untouched");

        // Time travel to before the change, by LSN and by time.
        let past = m.ok(&[
            "time-travel",
            "query",
            "-p",
            "shop",
            "-b",
            "feature",
            "--lsn",
            &before.to_string(),
            "-c",
            "items",
        ]);
        assert_eq!(past, ORIGINAL);
        let t =
            chrono::DateTime::parse_from_rfc3339(&before_time).unwrap() + chrono::Duration::milliseconds(1);
        let past_t = m.ok(&[
            "time-travel",
            "query",
            "-p",
            "shop",
            "-b",
            "feature",
            "--time",
            &t.to_rfc3339(),
            "-c",
            "items",
        ]);
        assert_eq!(past_t, ORIGINAL);

        // Preview, then restore with a backup of the discarded head.
        let preview =
            m.json(&["restore", "preview", "-p", "shop", "-b", "feature", "--lsn", &before.to_string()]);
        assert_eq!(preview["entries"], 1);
        assert_eq!(preview["collections"]["items"], 1);
        let reset = m.json(&[
            "restore",
            "reset",
            "-p",
            "shop",
            "-b",
            "feature",
            "--lsn",
            &before.to_string(),
            "--backup",
            "feature-before",
        ]);
        assert_eq!(reset["target_lsn"].as_u64().unwrap(), before);
        assert_eq!(reset["branch"]["name"], "feature");

        let out_file = dir.path().join("out.jsonl");
        m.ok(&["export", "-p", "shop", "-b", "feature", "-c", "items", out_file.to_str().unwrap()]);
        assert_eq!(std::fs::read_to_string(&out_file).unwrap(), ORIGINAL, "{}", m.name());
        // The discarded change lives on in the backup.
        assert_eq!(lines(&m.ok(&["export", "-p", "shop", "-b", "feature-before", "-c", "items"])), 4);

        // A new branch from the past.
        let restored = m.json(&[
            "restore",
            "branch",
            "-p",
            "shop",
            "-b",
            "feature-before",
            "--lsn",
            &before.to_string(),
            "--as",
            "again",
        ]);
        assert_eq!(restored["parent"], "feature-before");
        assert_eq!(m.ok(&["export", "-p", "shop", "-b", "again", "-c", "items"]), ORIGINAL);

        // Other formats round-trip too: mongodump .bson and an Extended JSON array.
        let bson_file = dir.path().join("items.bson");
        m.ok(&["export", "-p", "shop", "-c", "items", bson_file.to_str().unwrap()]);
        m.ok(&["import", "-p", "shop", "-c", "from_bson", bson_file.to_str().unwrap()]);
        assert_eq!(m.ok(&["export", "-p", "shop", "-c", "from_bson"]), ORIGINAL);
        let array_file = dir.path().join("items.json");
        m.ok(&["export", "-p", "shop", "-c", "items", "--format", "json", array_file.to_str().unwrap()]);
        assert!(std::fs::read_to_string(&array_file).unwrap().starts_with('['));
        m.ok(&["import", "-p", "shop", "-c", "from_array", array_file.to_str().unwrap()]);
        assert_eq!(m.ok(&["export", "-p", "shop", "-c", "from_array"]), ORIGINAL);

        // Exporting the past.
        let at_before = m.ok(&[
            "export",
            "-p",
            "shop",
            "-b",
            "feature-before",
            "--lsn",
            &before.to_string(),
            "-c",
            "items",
        ]);
        assert_eq!(at_before, ORIGINAL);
    });
}
