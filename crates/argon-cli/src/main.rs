//! The `argon` command line.
//!
//! Every command except `serve` and `completions` works in two modes,
//! through one [`backend::Backend`]:
//!
//! ```text
//!  argon <command> --uri mongodb://HOST:PORT   → remote::Remote (admin commands of a running server)
//!  argon <command> --data-dir DIR              → local::Local   (opens a stopped data dir)
//! ```
//!
//! Modules, one command family each: `serve`, `project`, `branch`,
//! `time_travel`, `restore`, `log`, `wal`, `transfer` (import/export),
//! `status` (status/metrics/health/storage); and their shared parts:
//! `backend`, `local`, `remote`, `model` (what `-o json` prints), `output`,
//! `extjson`, `time_arg`, `error`.
//!
//! Exit codes: 0 on success, 1 with one `error: ...` line on stderr when a
//! command fails, 2 for usage errors (clap's).

mod backend;
mod branch;
mod error;
mod extjson;
mod local;
mod log;
mod model;
mod output;
mod project;
mod remote;
mod restore;
mod serve;
mod status;
mod time_arg;
mod time_travel;
mod transfer;
mod wal;

use std::path::PathBuf;

// mimalloc rather than glibc's malloc: documents are allocated on tokio
// workers and freed on the commit and ack threads, and glibc's arena locks
// made that a measurable share of the commit thread (docs/BENCHMARKS.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::backend::Target;
use crate::error::{CliError, Result};
use crate::output::Format;

/// The data dir used when neither --uri nor --data-dir is given.
const DEFAULT_DATA_DIR: &str = "./argon-data";

#[derive(Parser, Debug)]
#[command(
    name = "argon",
    version,
    about = "A MongoDB-compatible document database with Git-like branches and time travel",
    after_help = "Every command except serve and completions talks to a running server with --uri \
                  (or ARGON_URI), or opens a stopped data dir with --data-dir (default ./argon-data)."
)]
struct Cli {
    /// Talk to a running `argon serve` at this MongoDB URI (mongodb://HOST:PORT).
    #[arg(long, global = true, env = "ARGON_URI", value_name = "URI")]
    uri: Option<String>,
    /// Open this stopped data dir directly [default: ./argon-data].
    #[arg(long, global = true, env = "ARGON_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Output format: tables for people, or JSON for scripts.
    #[arg(short = 'o', long = "output", global = true, value_enum, default_value_t = Format::Table)]
    output: Format,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the MongoDB wire protocol on a data dir.
    Serve(serve::ServeArgs),
    /// Create, list and delete projects.
    #[command(subcommand)]
    Project(project::ProjectCmd),
    /// Create, list, inspect, delete and protect branches.
    #[command(subcommand)]
    Branch(branch::BranchCmd),
    /// How far back a branch reaches, and reads of its past.
    #[command(subcommand)]
    TimeTravel(time_travel::TimeTravelCmd),
    /// Reset a branch to a past state, preview that, or fork the past.
    #[command(subcommand)]
    Restore(restore::RestoreCmd),
    /// A branch's history of entries, newest first.
    Log(log::LogArgs),
    /// Dump, verify the WAL, or rebuild the index from it.
    #[command(subcommand)]
    Wal(wal::WalCmd),
    /// Import JSON lines, an Extended JSON array or a mongodump .bson file into a collection.
    Import(transfer::ImportArgs),
    /// Export a collection, at its head or at a past point.
    Export(transfer::ExportArgs),
    /// Version, uptime, data dir, projects, branches, WAL size and head LSN.
    Status,
    /// Counters and latency percentiles.
    Metrics,
    /// Disk space, WAL fsync latency, index lag, open cursors; exits 1 when unhealthy.
    Health,
    /// Bytes per project and branch, own versus shared, and what copies would have cost.
    Storage,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Logs to stderr and to the server's recent log (`getLog`), through a
/// filter (`ARGON_LOG`, or `default_log`) that `setParameter`'s `logLevel`
/// and `logComponentVerbosity` replace at run time.
fn init_logging(default_log: &str) {
    use tracing_subscriber::prelude::*;
    use tracing_subscriber::{reload, EnvFilter};
    let initial = EnvFilter::try_from_env("ARGON_LOG").unwrap_or_else(|_| default_log.into());
    let (filter, handle) = reload::Layer::new(initial);
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                // Colour only for a terminal, not for log files and pipes.
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        .with(argon_server::log::layer())
        .init();
    argon_server::log::set_filter_hook(Box::new(move |directives| {
        let filter = EnvFilter::try_new(directives).map_err(|e| e.to_string())?;
        handle.reload(filter).map_err(|e| e.to_string())
    }));
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let default_log = if matches!(cli.command, Command::Serve(_)) { "info" } else { "warn" };
    init_logging(default_log);
    match run(cli, &matches) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Where the command's data dir is: an explicit flag wins over the
/// environment, and --uri wins over --data-dir when both come from the
/// same place.
fn target(cli: &Cli, matches: &clap::ArgMatches) -> Result<Target> {
    let from_cli = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
    let dir = || cli.data_dir.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
    match (&cli.uri, from_cli("uri"), from_cli("data_dir")) {
        (Some(_), true, true) => {
            Err(CliError::new("--uri and --data-dir are alternatives; pass one of them"))
        }
        (_, false, true) => Ok(Target::DataDir(dir())),
        (Some(uri), _, _) => Ok(Target::Uri(uri.clone())),
        (None, _, _) => Ok(Target::DataDir(dir())),
    }
}

fn run(cli: Cli, matches: &clap::ArgMatches) -> Result<()> {
    let format = cli.output;
    if let Command::Serve(_) = &cli.command {
        if matches.value_source("uri") == Some(ValueSource::CommandLine) {
            return Err(CliError::new(
                "`argon serve` opens a data dir; --uri does not apply (use --data-dir)",
            ));
        }
    }
    let target = target(&cli, matches)?;
    match cli.command {
        Command::Serve(args) => {
            let dir = cli.data_dir.unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
            serve::run(dir, args).map_err(CliError::new)
        }
        Command::Project(cmd) => project::run(&target, format, cmd),
        Command::Branch(cmd) => branch::run(&target, format, cmd),
        Command::TimeTravel(cmd) => time_travel::run(&target, format, cmd),
        Command::Restore(cmd) => restore::run(&target, format, cmd),
        Command::Log(args) => log::run(&target, format, args),
        Command::Wal(cmd) => wal::run(&target, format, cmd),
        Command::Import(args) => transfer::import(&target, format, args),
        Command::Export(args) => transfer::export(&target, format, args),
        Command::Status => status::status(&target, format),
        Command::Metrics => status::metrics(&target, format),
        Command::Health => status::health(&target, format),
        Command::Storage => status::storage(&target, format),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "argon", &mut std::io::stdout());
            Ok(())
        }
    }
}
