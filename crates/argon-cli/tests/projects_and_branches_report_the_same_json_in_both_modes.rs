//! Projects and branches: create, list, info, protect, delete; the JSON
//! has the documented field names, and the same values whichever mode
//! produced it.

mod common;

use std::sync::Mutex;

use common::{in_both_modes, Mode};
use serde_json::Value;

/// Drops the fields that depend on when the test ran.
fn timeless(mut v: Value) -> Value {
    match &mut v {
        Value::Array(items) => {
            for i in items.iter_mut() {
                *i = timeless(i.take());
            }
        }
        Value::Object(o) => {
            for k in ["created_at", "head_time", "first_time", "last_time"] {
                if let Some(t) = o.get_mut(k) {
                    let s = t.as_str().expect("times are RFC 3339 strings");
                    chrono::DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("{k}: {s}: {e}"));
                    *t = Value::Null;
                }
            }
        }
        _ => {}
    }
    v
}

#[test]
fn projects_and_branches_report_the_same_json_in_both_modes() {
    let seen: Mutex<Vec<Vec<Value>>> = Mutex::new(vec![]);
    in_both_modes(|m: &Mode| {
        let mut out = vec![];
        let created = m.json(&["project", "create", "app"]);
        assert_eq!(created["name"], "app");
        m.ok(&["project", "create", "other"]);
        let projects = m.json(&["project", "list"]);
        assert_eq!(projects.as_array().unwrap().len(), 2);
        assert_eq!(projects[0]["name"], "app");
        assert_eq!(projects[0]["branches"], 1);
        out.push(timeless(projects));

        let b = m.json(&["branch", "create", "feature", "-p", "app"]);
        for field in [
            "name",
            "project",
            "parent",
            "base_lsn",
            "head_lsn",
            "created_lsn",
            "created_at",
            "head_time",
            "expires_at",
            "protected",
            "commits",
            "database",
        ] {
            assert!(b.get(field).is_some(), "{}: branch JSON lacks {field}: {b}", m.name());
        }
        assert_eq!(b["name"], "feature");
        assert_eq!(b["parent"], "main");
        assert_eq!(b["database"], "app~feature");
        assert_eq!(b["protected"], false);
        out.push(timeless(b));

        let list = m.json(&["branch", "list", "-p", "app"]);
        assert_eq!(list.as_array().unwrap().len(), 2);
        assert_eq!(list[1]["name"], "main");
        assert_eq!(list[1]["parent"], Value::Null);
        assert_eq!(list[1]["base_lsn"], 0);
        out.push(timeless(list));

        let info = m.json(&["branch", "info", "feature", "-p", "app"]);
        out.push(timeless(info));
        let p = m.json(&["branch", "protect", "feature", "-p", "app"]);
        assert_eq!(p["protected"], true);
        let p = m.json(&["branch", "unprotect", "feature", "-p", "app"]);
        assert_eq!(p["protected"], false);

        let tt = m.json(&["time-travel", "info", "-p", "app", "-b", "feature"]);
        assert_eq!(tt["first_lsn"], 1);
        assert_eq!(tt["head_lsn"], tt["last_lsn"]);
        out.push(timeless(tt));

        // Tables for people.
        let table = m.ok(&["branch", "list", "-p", "app"]);
        assert!(table.starts_with("NAME"), "{table}");
        assert!(table.contains("feature") && table.contains("main"));
        let info = m.ok(&["branch", "info", "feature", "-p", "app"]);
        assert!(info.contains("database:") && info.contains("app~feature"), "{info}");

        m.ok(&["branch", "delete", "feature", "-p", "app"]);
        m.ok(&["project", "delete", "other"]);
        let projects = m.json(&["project", "list"]);
        assert_eq!(projects.as_array().unwrap().len(), 1);
        let e = m.fails(&["project", "create", "app"]);
        assert!(e.contains("already exists"), "{e}");
        seen.lock().unwrap().push(out);
    });
    let seen = seen.into_inner().unwrap();
    assert_eq!(seen[0], seen[1], "--data-dir and --uri report the same JSON");
}
