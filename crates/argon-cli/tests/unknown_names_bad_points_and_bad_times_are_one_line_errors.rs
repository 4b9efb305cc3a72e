//! Mistakes get one `error:` line that names the problem, exit code 1,
//! in both modes: unknown projects and branches, LSNs beyond the head or
//! below the history kept, and times that are not times. A branch's history
//! below its fork point is its ancestors' history, and reads fine.

mod common;

use common::{in_both_modes, Mode};

#[test]
fn unknown_names_bad_points_and_bad_times_are_one_line_errors() {
    in_both_modes(|m: &Mode| {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.jsonl");
        std::fs::write(&file, "{\"_id\":1}\n{\"_id\":2}\n").unwrap();
        let more = dir.path().join("b.jsonl");
        std::fs::write(&more, "{\"_id\":3}\n").unwrap();

        m.ok(&["project", "create", "first"]); // LSN 1
        m.ok(&["project", "create", "app"]); // LSN 2
        m.ok(&["import", "-p", "app", "-c", "items", file.to_str().unwrap()]); // LSN 3
        let feat = m.json(&["branch", "create", "feat", "-p", "app"]); // LSN 4
        assert_eq!(feat["base_lsn"], 3);
        m.ok(&["import", "-p", "app", "-b", "feat", "-c", "items", more.to_str().unwrap()]); // LSN 5

        // Unknown project and branch.
        let e = m.fails(&["branch", "list", "-p", "nope"]);
        assert!(e.contains("project \"nope\" does not exist"), "{}: {e}", m.name());
        let e = m.fails(&["branch", "info", "ghost", "-p", "app"]);
        assert!(e.contains("branch \"ghost\" does not exist"), "{}: {e}", m.name());
        let e = m.fails(&["time-travel", "query", "-p", "app", "-b", "ghost", "--lsn", "3", "-c", "items"]);
        assert!(e.contains("branch \"ghost\" does not exist"), "{}: {e}", m.name());
        let e = m.fails(&["export", "-p", "nope", "-c", "items"]);
        assert!(e.contains("project \"nope\" does not exist"), "{}: {e}", m.name());
        let e = m.fails(&["import", "-p", "app", "-b", "ghost", "-c", "items", file.to_str().unwrap()]);
        assert!(e.contains("branch \"ghost\" does not exist"), "{}: {e}", m.name());
        let e = m.fails(&["time-travel", "query", "-p", "app", "--lsn", "3", "-c", "nothing"]);
        assert!(e.contains("collection \"nothing\" does not exist"), "{}: {e}", m.name());

        // A document that is already there.
        let e = m.fails(&["import", "-p", "app", "-c", "items", file.to_str().unwrap()]);
        assert!(e.contains("document 1 of") && e.contains("duplicate key"), "{}: {e}", m.name());

        // LSN beyond the head, or below the history kept.
        let e = m.fails(&["time-travel", "query", "-p", "app", "-b", "feat", "--lsn", "999", "-c", "items"]);
        assert!(e.contains("LSN 999 is beyond the head"), "{}: {e}", m.name());
        let e = m.fails(&["branch", "create", "late", "-p", "app", "--lsn", "999"]);
        assert!(e.contains("beyond the head"), "{}: {e}", m.name());
        let e = m.fails(&["restore", "preview", "-p", "app", "-b", "main", "--lsn", "1"]);
        assert!(
            e.contains("LSN 1 is below the history kept") && e.contains("oldest readable LSN is 2"),
            "{}: {e}",
            m.name()
        );
        let e = m.fails(&["time-travel", "query", "-p", "app", "-b", "feat", "--lsn", "1", "-c", "items"]);
        assert!(e.contains("below the history kept"), "{}: {e}", m.name());

        // Below the fork point: the ancestors' history, readable.
        let at3 = m.ok(&["time-travel", "query", "-p", "app", "-b", "feat", "--lsn", "3", "-c", "items"]);
        assert_eq!(at3, "{\"_id\":1}\n{\"_id\":2}\n", "{}", m.name());
        let at5 = m.ok(&["time-travel", "query", "-p", "app", "-b", "feat", "--lsn", "5", "-c", "items"]);
        assert_eq!(at5.lines().count(), 3);
        let old = m.json(&["branch", "create", "from-the-past", "-p", "app", "--from", "feat", "--lsn", "3"]);
        assert_eq!(old["base_lsn"], 3);

        // Times that are not times, and times before the history.
        for bad in ["yesterday", "2024-13-01T00:00:00Z", "-15 fortnights"] {
            let e = m.fails(&["time-travel", "query", "-p", "app", "--time", bad, "-c", "items"]);
            assert!(e.contains("invalid time") && e.contains("RFC 3339"), "{}: {e}", m.name());
        }
        let e = m.fails(&["restore", "reset", "-p", "app", "-b", "feat", "--time", "2001-01-01T00:00:00Z"]);
        assert!(e.contains("before the history"), "{}: {e}", m.name());
        let e = m.fails(&["time-travel", "query", "-p", "app", "--time", "-1d", "-c", "items"]);
        assert!(e.contains("before the history"), "{}: {e}", m.name());
        let now = m.ok(&[
            "time-travel",
            "query",
            "-p",
            "app",
            "-b",
            "feat",
            "--time",
            "now",
            "-c",
            "items",
            "--limit",
            "2",
        ]);
        assert_eq!(now.lines().count(), 2);
    });
}
