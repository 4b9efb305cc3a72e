//! The `-o json` of every command that changes or reads data — project
//! create/delete, import, export, branch create/delete, time-travel
//! info/query (filter, sort, limit), restore preview/branch, log, status,
//! metrics, storage — has the documented fields and the same values
//! whichever mode produced it.

mod common;

use std::sync::Mutex;

use common::{in_both_modes, json_lines, Mode};
use serde_json::{json, Value};

/// Drops what depends on when the test ran (checking it is RFC 3339) and
/// where its files are.
fn timeless(mut v: Value) -> Value {
    match &mut v {
        Value::Array(items) => {
            for i in items.iter_mut() {
                *i = timeless(i.take());
            }
        }
        Value::Object(o) => {
            for k in ["created_at", "head_time", "first_time", "last_time", "time"] {
                if let Some(t) = o.get_mut(k) {
                    let s = t.as_str().unwrap_or_else(|| panic!("{k} is not a string: {t}"));
                    chrono::DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("{k}: {s}: {e}"));
                    *t = Value::Null;
                }
            }
            if let Some(Value::String(f)) = o.get_mut("file") {
                *f = std::path::Path::new(f.as_str()).file_name().unwrap().to_string_lossy().into_owned();
            }
            for (k, x) in o.iter_mut() {
                if k != "entry" {
                    *x = timeless(x.take());
                }
            }
        }
        _ => {}
    }
    v
}

const PEOPLE: &str = r#"{"_id":1,"name":"ada","age":36,"born":{"$date":"1985-12-10T00:00:00Z"}}
{"_id":2,"name":"grace","age":85,"born":{"$date":"1996-12-09T00:00:00Z"}}
{"_id":3,"name":"linus","age":28,"ref":{"$oid":"65a1b2c3d4e5f60718293a4b"}}
{"_id":4,"name":"barbara","age":30}
{"_id":5,"name":"edsger","age":72}
"#;

#[test]
fn changes_queries_and_reports_print_the_same_json_in_both_modes() {
    let seen: Mutex<Vec<Vec<Value>>> = Mutex::new(vec![]);
    in_both_modes(|m: &Mode| {
        let dir = tempfile::tempdir().unwrap();
        let people = dir.path().join("people.jsonl");
        std::fs::write(&people, PEOPLE).unwrap();
        let more = dir.path().join("more.jsonl");
        std::fs::write(&more, "{\"_id\":6,\"name\":\"alan\",\"age\":41}\n").unwrap();
        let mut out = vec![];

        let p = m.json(&["project", "create", "app"]);
        assert_eq!(p, json!({"name": "app", "lsn": 1}), "{}", m.name());
        let i = m.json(&["import", "-p", "app", "-c", "people", people.to_str().unwrap()]);
        assert_eq!(
            i,
            json!({"project": "app", "branch": "main", "collection": "people", "imported": 5}),
            "{}",
            m.name()
        );
        let b = m.json(&["branch", "create", "feat", "-p", "app"]);
        assert_eq!((b["base_lsn"].as_u64(), b["head_lsn"].as_u64()), (Some(2), Some(3)), "{b}");
        out.push(timeless(b));
        let i = m.json(&["import", "-p", "app", "-b", "feat", "-c", "people", more.to_str().unwrap()]);
        assert_eq!((i["branch"].as_str(), i["imported"].as_u64()), (Some("feat"), Some(1)), "{i}");

        // Queries: filter, sort, limit, Extended JSON values, at a past LSN and at the head.
        let q = m.json(&[
            "time-travel",
            "query",
            "-p",
            "app",
            "-b",
            "feat",
            "--lsn",
            "3",
            "-c",
            "people",
            "--filter",
            r#"{"age": {"$gte": 30}}"#,
            "--sort",
            r#"{"age": -1}"#,
            "--limit",
            "2",
        ]);
        let names: Vec<&str> = q.as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["grace", "edsger"], "{}: {q}", m.name());
        out.push(q);
        let q = m.json(&[
            "time-travel",
            "query",
            "-p",
            "app",
            "-b",
            "feat",
            "--time",
            "now",
            "-c",
            "people",
            "--filter",
            r#"{"born": {"$lt": {"$date": "1990-01-01T00:00:00Z"}}}"#,
        ]);
        assert_eq!(
            q,
            json!([{"_id": 1, "name": "ada", "age": 36, "born": {"$date": "1985-12-10T00:00:00Z"}}])
        );
        let lines = m.ok(&[
            "time-travel",
            "query",
            "-p",
            "app",
            "-b",
            "feat",
            "--lsn",
            "4",
            "-c",
            "people",
            "--filter",
            r#"{"ref": {"$oid": "65a1b2c3d4e5f60718293a4b"}}"#,
        ]);
        assert_eq!(
            lines,
            "{\"_id\":3,\"name\":\"linus\",\"age\":28,\"ref\":{\"$oid\":\"65a1b2c3d4e5f60718293a4b\"}}\n"
        );
        let head = m.ok(&["time-travel", "query", "-p", "app", "-b", "feat", "--lsn", "4", "-c", "people"]);
        assert_eq!(head.lines().count(), 6);
        out.push(Value::String(head));
        out.push(timeless(m.json(&["time-travel", "info", "-p", "app", "-b", "feat"])));

        // Export to a file reports what it wrote; to stdout it is the data.
        let file = dir.path().join("out.jsonl");
        let e = m.json(&[
            "export",
            "-p",
            "app",
            "-b",
            "feat",
            "--lsn",
            "4",
            "-c",
            "people",
            file.to_str().unwrap(),
        ]);
        assert_eq!(
            timeless(e.clone()),
            json!({"project": "app", "branch": "feat", "collection": "people", "lsn": 4, "exported": 6,
                   "file": "out.jsonl"}),
            "{}: {e}",
            m.name()
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap().lines().count(), 6);
        let array = m.ok(&["export", "-p", "app", "-c", "people", "--format", "json", "--lsn", "2"]);
        let array: Value = serde_json::from_str(&array).unwrap();
        assert_eq!(array.as_array().unwrap().len(), 5);
        out.push(array);

        // Restore: what a reset would discard, and a branch from the past.
        let preview = m.json(&["restore", "preview", "-p", "app", "-b", "feat", "--lsn", "3"]);
        assert_eq!(
            preview,
            json!({"project": "app", "branch": "feat", "target_lsn": 3, "head_lsn": 4, "entries": 1,
                   "collections": {"people": 1}, "catalog_changes": []}),
            "{}",
            m.name()
        );
        let r = m.json(&["restore", "branch", "-p", "app", "-b", "feat", "--lsn", "3", "--as", "past"]);
        assert_eq!((r["parent"].as_str(), r["base_lsn"].as_u64()), (Some("feat"), Some(3)), "{r}");
        out.push(timeless(r));

        // Deletions report what they did.
        let d = m.json(&["branch", "delete", "past", "-p", "app"]);
        assert_eq!(d, json!({"name": "past", "project": "app", "lsn": 6}), "{}", m.name());
        m.ok(&["project", "create", "scratch"]); // 7
        let d = m.json(&["project", "delete", "scratch"]);
        assert_eq!(d, json!({"name": "scratch", "lsn": 8}), "{}", m.name());

        // The log, newest first.
        let log = json_lines(&m.ok(&["log", "-p", "app", "-b", "feat", "-o", "json"]));
        let lsns: Vec<u64> = log.iter().map(|l| l["lsn"].as_u64().unwrap()).collect();
        assert_eq!(lsns, [4, 3, 2, 1], "{}", m.name());
        assert_eq!(log[0]["summary"], "insert people _id=6");
        // Who wrote differs, and says how: a driver's writes carry its app name.
        let writer = match m {
            Mode::Uri(_) => "anonymous (argon-cli)",
            Mode::DataDir(_) => "anonymous",
        };
        assert_eq!((log[0]["actor"].as_str(), log[1]["actor"].as_str()), (Some(writer), Some("admin")));
        let log = log
            .into_iter()
            .map(|mut l| {
                if l["actor"] == writer {
                    l["actor"] = json!("WRITER");
                    l["entry"]["actor"] = json!("WRITER");
                }
                l
            })
            .collect();
        out.push(timeless(Value::Array(log)));

        // Reports.
        let s = m.json(&["status"]);
        out.push(json!([s["projects"], s["branches"], s["timelines"], s["head_lsn"]]));
        assert_eq!((s["projects"].as_u64(), s["head_lsn"].as_u64()), (Some(1), Some(8)), "{s}");
        let metrics = m.json(&["metrics"]);
        assert_eq!(metrics["head_lsn"], 8);
        for k in ["commits", "group_commits", "wal_bytes", "index_bytes"] {
            assert!(metrics[k].is_u64(), "{}: {k}: {metrics}", m.name());
        }
        let mut st = m.json(&["storage"]);
        // WAL bytes differ between the modes by the actor's name in every
        // record (see above); the rest must match.
        for p in st["projects"].as_array_mut().unwrap() {
            let p = p.as_object_mut().unwrap();
            assert!(p.remove("wal_bytes").unwrap().as_u64().unwrap() > 0, "{}", m.name());
            for b in p["branches"].as_array_mut().unwrap() {
                let b = b.as_object_mut().unwrap();
                for k in ["wal_own_bytes", "wal_inherited_bytes"] {
                    assert!(b.remove(k).unwrap().is_u64(), "{}: {k}", m.name());
                }
            }
        }
        out.push(st["projects"].clone());
        seen.lock().unwrap().push(out);
    });
    let seen = seen.into_inner().unwrap();
    assert_eq!(seen.len(), 2);
    for (a, b) in seen[0].iter().zip(&seen[1]) {
        assert_eq!(a, b, "--data-dir and --uri print different JSON");
    }
}
