//! `argon serve`: open the data dir and serve the MongoDB wire protocol.

use std::path::PathBuf;

use argon_server::{ServerConfig, TlsFiles};
use argon_store::{Store, StoreOptions, SyncMode};
use clap::Args;

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: String,
    /// Port to listen on (0 picks a free one; the chosen port is printed).
    #[arg(long, default_value_t = 27017)]
    pub port: u16,
    /// WAL durability: always (fsync before acknowledging), interval[:MS]
    /// (fsync every MS milliseconds, default 100), or never.
    #[arg(long, default_value = "always")]
    pub fsync: String,
    /// Replica set name presented to drivers.
    #[arg(long, default_value = "argon")]
    pub replica_set: String,
    /// host:port advertised in the handshake (default: bind:port).
    #[arg(long)]
    pub advertise: Option<String>,
    /// Require SCRAM authentication.
    #[arg(long)]
    pub auth: bool,
    /// TLS certificate (PEM); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Also listen on this Unix domain socket (owner-only, removed at
    /// shutdown); drivers connect with mongodb://%2Fpath%2Fto.sock.
    #[arg(long)]
    pub unix_socket: Option<PathBuf>,
    /// Serve Prometheus metrics and /healthz over HTTP on this port.
    #[arg(long)]
    pub metrics_port: Option<u16>,
    /// Threads serving connections (default: the CPU count). The store's
    /// commit and ack threads come on top, and a command that may scan for
    /// long hands its thread's connections to another thread while it
    /// runs, so a long query never stalls the rest.
    #[arg(long)]
    pub worker_threads: Option<usize>,
    /// With `--fsync always`: how many WAL fdatasyncs may run at once, each
    /// on its own ack thread (a group written while one runs starts its own
    /// at once instead of waiting for it).
    #[arg(long, default_value_t = StoreOptions::default().wal_sync_threads as u64, value_parser = clap::value_parser!(u64).range(1..=16))]
    pub fsync_threads: u64,
    /// With `--fsync always`: start writing each group's WAL bytes to disk
    /// as soon as they are written, ahead of their fdatasync (off by
    /// default: the fdatasync starts right after the write anyway, and
    /// starting the write costs the commit thread more than it saves here).
    #[arg(long, default_value_t = StoreOptions::default().wal_early_writeback, action = clap::ArgAction::Set)]
    pub early_writeback: bool,
}

/// The CPU count: on 2 cores, two connection threads served the 50/50
/// read/update mix 22% faster than one and finds and inserts no slower
/// (BENCHMARKS.md, wire server, session 14; session 5 had found one
/// thread faster for finds, before the connection path changed).
fn default_worker_threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).max(1)
}

pub fn run(data_dir: PathBuf, args: ServeArgs) -> Result<(), String> {
    let workers = args.worker_threads.unwrap_or_else(default_worker_threads);
    if workers == 0 {
        return Err("--worker-threads must be at least 1".into());
    }
    let sync: SyncMode =
        args.fsync.parse().map_err(|e| format!("bad --fsync value {:?}: {e}", args.fsync))?;
    let opts = StoreOptions {
        sync,
        wal_sync_threads: args.fsync_threads as usize,
        wal_early_writeback: args.early_writeback,
        ..StoreOptions::default()
    };
    let store = Store::open_with(&data_dir, opts).map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind((args.bind.as_str(), args.port))
            .await
            .map_err(|e| format!("cannot listen on {}:{}: {e}", args.bind, args.port))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let config = ServerConfig {
            replica_set: args.replica_set.clone(),
            advertised_host: args.advertise.clone().unwrap_or_else(|| addr.to_string()),
            argv: std::env::args().collect(),
            auth: args.auth,
            tls: match (&args.tls_cert, &args.tls_key) {
                (Some(cert), Some(key)) => Some(TlsFiles { cert: cert.clone(), key: key.clone() }),
                _ => None,
            },
            metrics_addr: args.metrics_port.map(|p| std::net::SocketAddr::new(addr.ip(), p)),
            unix_socket: args.unix_socket.clone(),
            ..ServerConfig::default()
        };
        println!("argon serve: listening on {addr}, data dir {}", data_dir.display());

        if let Some(m) = config.metrics_addr {
            println!("argon serve: metrics on http://{m}/metrics");
        }
        argon_server::try_run(listener, store, config, shutdown_signal()).await.map_err(|e| e.to_string())?;
        Ok::<(), String>(())
    })
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
