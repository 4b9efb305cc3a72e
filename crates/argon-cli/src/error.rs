//! The CLI's error: one line for the user, printed as `error: ...` with
//! exit code 1 (clap's usage errors keep their exit code 2).
//!
//! Nothing branches on the kind of a CLI error, so it is just a message;
//! the conversions below make errors from the store, the WAL and the
//! driver read the same in both modes (a server's command error becomes
//! its message, which is the store's message for the same failure).

use std::fmt;

/// A failed command.
#[derive(Debug)]
pub struct CliError {
    message: String,
    /// stdout was closed by the reader (`argon wal dump | head`): not a
    /// failure worth a message.
    broken_pipe: bool,
}

pub type Result<T, E = CliError> = std::result::Result<T, E>;

impl CliError {
    pub fn new(message: impl Into<String>) -> CliError {
        CliError { message: one_line(&message.into()), broken_pipe: false }
    }

    pub fn is_broken_pipe(&self) -> bool {
        self.broken_pipe
    }
}

/// Joins the lines of a message, so an error is always one line on stderr.
fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, line) in s.lines().map(str::trim).filter(|l| !l.is_empty()).enumerate() {
        if i > 0 {
            out.push_str("; ");
        }
        out.push_str(line);
    }
    out
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<String> for CliError {
    fn from(s: String) -> CliError {
        CliError::new(s)
    }
}

impl From<&str> for CliError {
    fn from(s: &str) -> CliError {
        CliError::new(s)
    }
}

impl From<argon_store::StoreError> for CliError {
    fn from(e: argon_store::StoreError) -> CliError {
        CliError::new(e.to_string())
    }
}

impl From<argon_wal::WalError> for CliError {
    fn from(e: argon_wal::WalError) -> CliError {
        CliError::new(e.to_string())
    }
}

impl From<argon_query::QueryError> for CliError {
    fn from(e: argon_query::QueryError) -> CliError {
        CliError::new(e.message)
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> CliError {
        CliError { broken_pipe: e.kind() == std::io::ErrorKind::BrokenPipe, ..CliError::new(e.to_string()) }
    }
}

impl From<serde_json::Error> for CliError {
    fn from(e: serde_json::Error) -> CliError {
        let broken_pipe = e.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe);
        CliError { broken_pipe, ..CliError::new(e.to_string()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_line() {
        assert_eq!(CliError::new("a\n  b\n\nc").to_string(), "a; b; c");
    }
}
