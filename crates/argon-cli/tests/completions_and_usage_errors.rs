//! Shell completions, and what happens on a command line that does not
//! parse: clap's usage error with exit code 2.

mod common;

use common::{argon, one_line_error};

#[test]
fn completions_and_usage_errors() {
    for shell in ["bash", "zsh", "fish"] {
        let out = argon().args(["completions", shell]).output().unwrap();
        assert!(out.status.success());
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(script.contains("argon") && script.contains("time-travel"), "{shell}");
    }

    // Missing --lsn/--time, unknown flags and subcommands are usage errors.
    for args in [
        &["restore", "reset", "-p", "app", "-b", "main"][..],
        &["branch", "list"],
        &["time-travel", "query", "-p", "app", "--lsn", "1", "--time", "now", "-c", "x"],
        &["frobnicate"],
        &["branch", "create", "x", "-p", "app", "--lsn", "minus-one"],
    ] {
        let out = argon().args(args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "argon {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // --uri and --data-dir together are ambiguous.
    let tmp = tempfile::tempdir().unwrap();
    let out = argon()
        .args(["project", "list", "--uri", "mongodb://127.0.0.1:1", "--data-dir"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(one_line_error("both", &["project", "list"], &out).contains("alternatives"));

    // A data dir that does not exist is not created by a read.
    let missing = tmp.path().join("nothing-here");
    let out = argon().args(["project", "list", "--data-dir"]).arg(&missing).output().unwrap();
    let e = one_line_error("--data-dir", &["project", "list"], &out);
    assert!(e.contains("does not exist") && e.contains("--uri"), "{e}");
    assert!(!missing.exists());
}
