//! `main`, protected branches and branches with children cannot be
//! deleted; the error says which rule applies. In both modes.

mod common;

use common::{in_both_modes, Mode};

#[test]
fn refused_branch_deletions_say_why() {
    in_both_modes(|m: &Mode| {
        m.ok(&["project", "create", "app"]);
        m.ok(&["branch", "create", "parent", "-p", "app"]);
        m.ok(&["branch", "create", "child", "-p", "app", "--from", "parent"]);
        m.ok(&["branch", "create", "keep", "-p", "app"]);

        let e = m.fails(&["branch", "delete", "main", "-p", "app"]);
        assert!(e.contains("main cannot be deleted"), "{}: {e}", m.name());

        let p = m.json(&["branch", "protect", "keep", "-p", "app"]);
        assert_eq!(p["protected"], true);
        let e = m.fails(&["branch", "delete", "keep", "-p", "app"]);
        assert!(e.contains("protected"), "{}: {e}", m.name());
        let e = m.fails(&["restore", "reset", "-p", "app", "-b", "keep", "--lsn", "1"]);
        assert!(e.contains("protected"), "{}: {e}", m.name());
        let e = m.fails(&["project", "delete", "app"]);
        assert!(e.contains("protected"), "{}: {e}", m.name());

        let e = m.fails(&["branch", "delete", "parent", "-p", "app"]);
        assert!(e.contains("child branches: child"), "{}: {e}", m.name());

        // Once the reasons are gone, the deletions go through.
        m.ok(&["branch", "unprotect", "keep", "-p", "app"]);
        m.ok(&["branch", "delete", "keep", "-p", "app"]);
        m.ok(&["branch", "delete", "child", "-p", "app"]);
        m.ok(&["branch", "delete", "parent", "-p", "app"]);
        let names: Vec<String> = m
            .json(&["branch", "list", "-p", "app"])
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["name"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(names, ["main"]);
    });
}
