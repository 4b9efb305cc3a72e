//! Shell completions (the same with --uri or --data-dir, which they
//! ignore), `serve` refusing --uri, and what happens on a command line that
//! does not parse: clap's usage error with exit code 2.

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

    // Completions are the same whichever mode is given, and need no server
    // and no data dir (nobody listens on port 1).
    let plain = argon().args(["completions", "bash"]).output().unwrap();
    for mode in [&["--uri", "mongodb://127.0.0.1:1"][..], &["--data-dir", "/nonexistent/argon-data"]] {
        let out = argon().args(["completions", "bash"]).args(mode).output().unwrap();
        assert!(out.status.success(), "{mode:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.stdout, plain.stdout, "{mode:?}");
    }

    // serve opens a data dir; --uri is a one-line error, not a server.
    let out = argon().args(["serve", "--port", "0", "--uri", "mongodb://127.0.0.1:1"]).output().unwrap();
    let e = one_line_error("--uri", &["serve"], &out);
    assert!(e.contains("--uri does not apply") && e.contains("--data-dir"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path().to_str().unwrap();
    let out =
        argon().args(["serve", "--port", "0", "--worker-threads", "0", "--data-dir", dir]).output().unwrap();
    let e = one_line_error("--worker-threads", &["serve"], &out);
    assert!(e.contains("at least 1"), "{e}");

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
