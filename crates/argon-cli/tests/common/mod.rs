//! Shared by the CLI's integration tests: run the built `argon` binary as a
//! user would, against a data dir (`--data-dir`) or a server the test starts
//! on a free port (`--uri`).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Output, Stdio};

use assert_cmd::Command;

/// The `argon` binary, with the environment cleared of settings that would
/// change which data dir it opens.
pub fn argon() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_argon"));
    c.env_remove("ARGON_URI").env_remove("ARGON_DATA_DIR").env("ARGON_LOG", "warn");
    c
}

/// A running `argon serve`, killed when dropped.
pub struct Server {
    child: Child,
    pub uri: String,
    pub dir: PathBuf,
}

impl Server {
    /// Starts `argon serve --port 0 --data-dir DIR` and reads the port from
    /// its first line: `argon serve: listening on 127.0.0.1:PORT, data dir ...`.
    pub fn start(dir: &Path) -> Server {
        Server::spawn(dir, None)
    }

    /// Starts the server in working directory `cwd`, so a relative `dir`
    /// is a path only the server can resolve.
    pub fn start_in(cwd: &Path, dir: &Path) -> Server {
        Server::spawn(dir, Some(cwd))
    }

    fn spawn(dir: &Path, cwd: Option<&Path>) -> Server {
        let mut cmd = StdCommand::new(env!("CARGO_BIN_EXE_argon"));
        cmd.args(["serve", "--port", "0", "--fsync", "never", "--worker-threads", "1", "--data-dir"])
            .arg(dir)
            .env_remove("ARGON_URI")
            .env("ARGON_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(cwd) = cwd {
            cmd.current_dir(cwd);
        }
        let mut child = cmd.spawn().expect("start argon serve");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut first)
            .expect("read the first line");
        let addr = first
            .strip_prefix("argon serve: listening on ")
            .and_then(|rest| rest.split(',').next())
            .unwrap_or_else(|| panic!("unexpected first line from argon serve: {first:?}"))
            .to_string();
        Server { child, uri: format!("mongodb://{addr}"), dir: dir.to_path_buf() }
    }

    /// Stops the server (SIGKILL; the store recovers from its WAL on the next open).
    pub fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// How a test reaches its data: both ways every command supports.
#[derive(Clone, Debug)]
pub enum Mode {
    DataDir(PathBuf),
    Uri(String),
}

impl Mode {
    pub fn name(&self) -> &'static str {
        match self {
            Mode::DataDir(_) => "--data-dir",
            Mode::Uri(_) => "--uri",
        }
    }

    /// `argon ARGS... <mode flag>`.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = argon();
        c.args(args);
        match self {
            Mode::DataDir(d) => c.arg("--data-dir").arg(d),
            Mode::Uri(u) => c.args(["--uri", u]),
        };
        c
    }

    /// Runs a command that must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args).output().expect("run argon");
        assert!(
            out.status.success(),
            "{} argon {}: failed with {:?}\nstdout: {}\nstderr: {}",
            self.name(),
            args.join(" "),
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    /// Runs a command with `-o json` that must succeed; returns the parsed JSON.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        let text = self.ok(&all);
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("argon {}: not JSON ({e}): {text}", args.join(" ")))
    }

    /// Runs a command that must fail with exit code 1 and one `error:` line
    /// on stderr; returns that line.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.cmd(args).output().expect("run argon");
        one_line_error(self.name(), args, &out)
    }
}

pub fn one_line_error(mode: &str, args: &[&str], out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{mode} argon {}: expected exit 1\nstdout: {}\nstderr: {stderr}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout)
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{mode} argon {}: expected one stderr line, got {stderr:?}", args.join(" "));
    assert!(lines[0].starts_with("error: "), "{mode}: {stderr:?}");
    lines[0].to_string()
}

/// Runs `scenario` on a data dir and, at the same time, against a server
/// on another data dir, so every command is exercised in both modes.
pub fn in_both_modes(scenario: impl Fn(&Mode) + Sync) {
    let local = tempfile::tempdir().expect("tempdir");
    let remote = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&remote.path().join("data"));
    let uri = server.uri.clone();
    std::thread::scope(|s| {
        s.spawn(|| scenario(&Mode::DataDir(local.path().join("data"))));
        s.spawn(|| scenario(&Mode::Uri(uri)));
    });
    server.stop();
}

/// The JSON lines of a command's output.
pub fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line ({e}): {l}")))
        .collect()
}
