//! State shared by every connection: the store, open cursors, sessions,
//! counters, and the mapping between LSNs and MongoDB cluster times.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Instant;

use argon_store::{At, CommitTime, Lsn, Store};
use argon_types::names::DbAddress;
use bson::{doc, Bson, Document, Timestamp};
use parking_lot::Mutex;

use crate::cursor::Cursors;
use crate::error::{code, CmdResult, CommandError};
use crate::session::Sessions;

/// How the server presents itself and where it listens.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The replica set name drivers see in `hello`.
    pub replica_set: String,
    /// The `host:port` advertised in `hello` (`hosts`, `primary`, `me`).
    pub advertised_host: String,
    /// Idle cursors are closed after this long (unless `noCursorTimeout`).
    pub cursor_timeout: std::time::Duration,
    /// Command-line options, for `getCmdLineOpts`.
    pub argv: Vec<String>,
    /// Compressors offered in the handshake, in preference order.
    pub compressors: Vec<String>,
    /// Require SCRAM authentication (`--auth`), with the users of
    /// `<data dir>/users.json`. Default: off.
    pub auth: bool,
    /// Serve every connection over TLS (`--tls-cert`, `--tls-key`).
    /// Default: none (plain TCP).
    pub tls: Option<TlsFiles>,
    /// Serve `GET /metrics` (Prometheus text) and `GET /healthz` over HTTP
    /// on this address (`--metrics-port`). Default: none.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Also listen on this Unix domain socket (`--unix-socket`), created
    /// with mode 0700 and removed at shutdown. Default: none.
    pub unix_socket: Option<std::path::PathBuf>,
}

/// PEM files for TLS: the certificate chain (leaf first) and its private
/// key (PKCS#8, PKCS#1 or SEC1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            replica_set: "argon".into(),
            advertised_host: "127.0.0.1:27017".into(),
            cursor_timeout: std::time::Duration::from_secs(600),
            argv: vec!["argon".into(), "serve".into()],
            compressors: vec!["zstd".into(), "snappy".into(), "zlib".into()],
            auth: false,
            tls: None,
            metrics_addr: None,
            unix_socket: None,
        }
    }
}

/// Counters exported by `serverStatus` and `/metrics`.
#[derive(Default)]
pub struct Metrics {
    pub connections_current: AtomicI64,
    pub connections_total: AtomicU64,
    pub ops_insert: AtomicU64,
    pub ops_query: AtomicU64,
    pub ops_update: AtomicU64,
    pub ops_delete: AtomicU64,
    pub ops_getmore: AtomicU64,
    pub ops_command: AtomicU64,
    pub latency: Mutex<LatencyHistogram>,
    /// SASL conversations that authenticated a user.
    pub auth_successes: AtomicU64,
    /// SASL exchanges refused (unknown user, wrong password, bad message).
    pub auth_failures: AtomicU64,
    /// TLS handshakes that failed (the connection was closed).
    pub tls_handshake_failures: AtomicU64,
}

/// A coarse latency histogram: bucket `b` counts latencies in
/// `(2^(b-1), 2^b]` microseconds (bucket 0: 0 and 1; the last: everything
/// above 2^30).
#[derive(Default, Clone)]
pub struct LatencyHistogram {
    pub buckets: [u64; 32],
    pub count: u64,
    pub sum_micros: u64,
}

impl LatencyHistogram {
    pub fn record(&mut self, micros: u64) {
        let b = (64 - micros.saturating_sub(1).leading_zeros()).min(31) as usize;
        self.buckets[b] += 1;
        self.count += 1;
        self.sum_micros += micros;
    }

    /// Upper bound (µs) of the bucket holding quantile `q`.
    pub fn quantile(&self, q: f64) -> u64 {
        let target = (self.count as f64 * q).ceil() as u64;
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= target && *n > 0 {
                return 1u64 << i;
            }
        }
        0
    }
}

/// Everything a command handler can reach.
pub struct ServerState {
    pub store: Store,
    pub config: ServerConfig,
    pub cursors: Cursors,
    pub sessions: Sessions,
    pub metrics: Metrics,
    pub started: Instant,
    pub next_connection_id: AtomicI64,
    /// The user database when `--auth` is on.
    pub auth: Option<crate::users::Users>,
    /// `walVerify` checks, running or waiting to be collected.
    pub(crate) wal_verify_jobs: crate::commands::VerifyJobs,
    /// Commands in progress (`currentOp`, `killOp`).
    pub(crate) ops: crate::ops::Ops,
    /// Set when the server stops accepting: idle connections close at
    /// once, busy ones after their command.
    pub(crate) stopping: tokio::sync::watch::Sender<bool>,
    /// Set by the `shutdown` command: the server stops as on SIGTERM.
    pub(crate) shutdown_requested: tokio::sync::watch::Sender<bool>,
    /// `logLevel` and `logComponentVerbosity` as set at run time.
    pub(crate) log_verbosity: crate::log::Verbosity,
    /// Which databases are profiled (`profile`).
    pub(crate) profiler: crate::profiler::Profiler,
    /// `setDefaultRWConcern`'s defaults.
    pub(crate) default_rw_concern: crate::commands::DefaultRwConcern,
    /// Every commit holds a read guard of this for its duration; `fsync`
    /// with `lock: true` takes the write guard (so it waits for commits in
    /// flight) and keeps it in `fsync_lock` until `fsyncUnlock`.
    pub(crate) write_gate: std::sync::Arc<tokio::sync::RwLock<()>>,
    /// The held fsync lock and how many `fsync` locks it counts.
    pub(crate) fsync_lock: tokio::sync::Mutex<Option<(tokio::sync::OwnedRwLockWriteGuard<()>, u32)>>,
}

/// Which branch and point in time a command addresses.
#[derive(Clone, Debug)]
pub struct Target {
    pub db: String,
    pub project: String,
    pub branch: String,
    /// `Some` for a read-only view (`app~main@1500`).
    pub view_lsn: Option<Lsn>,
}

impl Target {
    pub fn at(&self) -> At {
        self.view_lsn.map(At::Lsn).unwrap_or(At::Head)
    }

    /// Refuses writes to a read-only view.
    pub fn writable(&self) -> CmdResult<()> {
        if self.view_lsn.is_some() {
            return Err(CommandError::new(
                code::ILLEGAL_OPERATION,
                format!(
                    "database {} is a read-only view of branch {} of project {} at a past LSN; write to {} instead",
                    self.db,
                    self.branch,
                    self.project,
                    if self.branch == "main" { self.project.clone() } else { format!("{}~{}", self.project, self.branch) }
                ),
            ));
        }
        Ok(())
    }
}

impl ServerState {
    /// Commits `req` through the store, once no fsync lock holds writes.
    /// Every commit the server makes goes through here (or holds
    /// [`Self::write_gate`] itself, for the store's blocking calls).
    pub async fn write(
        &self,
        req: argon_store::WriteRequest,
    ) -> argon_store::Result<argon_store::CommitOutcome> {
        let _open = self.write_gate.read().await;
        self.store.write_async(req).await
    }

    pub fn new(store: Store, config: ServerConfig) -> ServerState {
        argon_query::js::set_interrupt_check(crate::ops::js_interrupt);
        let default_rw_concern = crate::commands::DefaultRwConcern::load(store.dir());
        ServerState {
            store,
            cursors: Cursors::new(config.cursor_timeout),
            sessions: Sessions::default(),
            config,
            metrics: Metrics::default(),
            started: Instant::now(),
            next_connection_id: AtomicI64::new(1),
            auth: None,
            wal_verify_jobs: Default::default(),
            ops: Default::default(),
            stopping: tokio::sync::watch::Sender::new(false),
            shutdown_requested: tokio::sync::watch::Sender::new(false),
            log_verbosity: Default::default(),
            profiler: Default::default(),
            default_rw_concern,
            write_gate: Default::default(),
            fsync_lock: Default::default(),
        }
    }

    /// Resolves a database name to a branch (and view LSN).
    pub fn target(&self, db: &str) -> CmdResult<Target> {
        if matches!(db, "admin" | "local" | "config") {
            return Err(CommandError::new(
                code::INVALID_NAMESPACE,
                format!("database {db} holds no user data in Argon; use a project database such as app or app~branch"),
            ));
        }
        let a =
            DbAddress::parse(db).map_err(|e| CommandError::new(code::INVALID_NAMESPACE, e.to_string()))?;
        Ok(Target { db: db.to_string(), project: a.project, branch: a.branch, view_lsn: a.at_lsn })
    }

    /// The cluster time of an LSN: `Timestamp(commit seconds, LSN)`.
    ///
    /// Both parts grow with the LSN (commit times never go back), so drivers
    /// that compare cluster times see the same order as LSNs, and the LSN is
    /// read back from the increment ([`ServerState::lsn_of_timestamp`]).
    /// The increment has 32 bits; LSNs from 2^32 on (days of writes at
    /// full speed) go on at 1 and wrap every 2^32 - 1 (never 0, which
    /// means "no LSN"), and the second tells which turn it is.
    pub fn cluster_time(&self, lsn: Lsn, time: CommitTime) -> Timestamp {
        Timestamp { time: (time.0.max(0) / 1_000_000) as u32, increment: increment_of(lsn) }
    }

    /// The LSN a Timestamp this server handed out stands for: the newest
    /// LSN committed in the Timestamp's second or before whose increment it
    /// is. (At most 2^32 - 1 LSNs commit in one second, so that is the one.)
    pub fn lsn_of_timestamp(&self, ts: Timestamp) -> Lsn {
        let inc = ts.increment as u64;
        if self.store.visible_lsn().0 <= u32::MAX as u64 {
            return Lsn(inc); // no LSN has wrapped yet
        }
        let end_of_second = CommitTime((ts.time as i64 + 1) * 1_000_000 - 1);
        let base = self.store.lsn_at_time(end_of_second).unwrap_or(self.store.visible_lsn()).0;
        lsn_with_increment(inc, base)
    }

    /// The cluster time of the newest visible state.
    pub fn current_cluster_time(&self) -> Timestamp {
        self.cluster_time(self.store.visible_lsn(), self.store.visible_time())
    }

    /// The point in history a client-supplied cluster time stands for.
    /// `Timestamp(t, 0)` (no LSN) means "the state at wall-clock second t".
    pub fn at_cluster_time(&self, ts: Timestamp) -> At {
        if ts.increment == 0 {
            At::Time(CommitTime((ts.time as i64 + 1) * 1_000_000 - 1))
        } else {
            At::Lsn(self.lsn_of_timestamp(ts))
        }
    }

    /// `$clusterTime` and `operationTime` fields for a reply.
    pub fn time_fields(&self, op: Option<(Lsn, CommitTime)>) -> Document {
        let now = self.current_cluster_time();
        let op_time = op.map(|(l, t)| self.cluster_time(l, t)).unwrap_or(now);
        doc! {
            "$clusterTime": {
                "clusterTime": Bson::Timestamp(now.max(op_time)),
                "signature": { "hash": Bson::Binary(bson::Binary { subtype: bson::spec::BinarySubtype::Generic, bytes: vec![0; 20] }), "keyId": 0i64 },
            },
            "operationTime": Bson::Timestamp(op_time),
        }
    }

    /// [`ServerState::time_fields`] appended to a raw reply (for replies
    /// built without a `Document`, see `fast_path`).
    pub fn append_time_fields_raw(&self, reply: &mut bson::RawDocumentBuf, op: Option<(Lsn, CommitTime)>) {
        let now = self.current_cluster_time();
        let op_time = op.map(|(l, t)| self.cluster_time(l, t)).unwrap_or(now);
        // The `$clusterTime` document is the same bytes every time but for
        // its timestamp: patched into a copy of them (building it with
        // `rawdoc!` was ~0.6 µs, a twentieth of a point read).
        let bytes = cluster_time_doc(now.max(op_time));
        match bson::RawDocument::from_bytes(&bytes) {
            Ok(doc) => reply.append(bson::raw::cstr!("$clusterTime"), doc),
            Err(e) => tracing::error!("$clusterTime template: {e}"),
        }
        reply.append(bson::raw::cstr!("operationTime"), op_time);
    }

    pub fn next_connection(&self) -> i64 {
        self.metrics.connections_total.fetch_add(1, Ordering::Relaxed);
        self.next_connection_id.fetch_add(1, Ordering::Relaxed)
    }
}

/// `{clusterTime: Timestamp(0, 0), signature: {hash: <20 zero bytes>,
/// keyId: 0}}` as BSON; the timestamp's 8 bytes start at
/// [`CLUSTER_TIME_AT`] (after the length, the type byte and the key).
const CLUSTER_TIME_LEN: usize = 88;
const CLUSTER_TIME_AT: usize = 4 + 1 + b"clusterTime\0".len();
static CLUSTER_TIME_DOC: std::sync::LazyLock<[u8; CLUSTER_TIME_LEN]> = std::sync::LazyLock::new(|| {
    let doc = bson::rawdoc! {
        "clusterTime": Timestamp { time: 0, increment: 0 },
        "signature": {
            "hash": bson::Binary { subtype: bson::spec::BinarySubtype::Generic, bytes: vec![0; 20] },
            "keyId": 0i64,
        },
    };
    doc.as_bytes().try_into().expect("the $clusterTime document is CLUSTER_TIME_LEN bytes")
});

/// The `$clusterTime` document of `ts`: the template with `ts` patched in.
fn cluster_time_doc(ts: Timestamp) -> [u8; CLUSTER_TIME_LEN] {
    let mut bytes = *CLUSTER_TIME_DOC;
    let packed = (u64::from(ts.time) << 32) | u64::from(ts.increment);
    bytes[CLUSTER_TIME_AT..CLUSTER_TIME_AT + 8].copy_from_slice(&packed.to_le_bytes());
    bytes
}

/// LSNs from 2^32 on: increments 1..=2^32-1, round and round.
const WRAP_FROM: u64 = 1 << 32;
const WRAP: u64 = (1 << 32) - 1;

/// The increment of a Timestamp for `lsn` (see [`ServerState::cluster_time`]).
pub fn increment_of(lsn: Lsn) -> u32 {
    if lsn.0 < WRAP_FROM {
        lsn.0 as u32
    } else {
        ((lsn.0 - WRAP_FROM) % WRAP + 1) as u32
    }
}

/// The newest LSN at or below `base` whose increment is `inc`, or 0 when
/// none is.
pub fn lsn_with_increment(inc: u64, base: u64) -> Lsn {
    let mut best = 0;
    // Below 2^32 the increment is the LSN.
    if inc <= base && inc < WRAP_FROM && inc > 0 {
        best = inc;
    }
    // From 2^32 on: 2^32 + (inc - 1) + k * WRAP, the largest at most `base`.
    if inc > 0 && inc <= WRAP && base >= WRAP_FROM + inc - 1 {
        let first = WRAP_FROM + inc - 1;
        best = best.max(first + (base - first) / WRAP * WRAP);
    }
    Lsn(best)
}

#[cfg(test)]
mod timestamp_tests {
    use super::*;

    #[test]
    fn the_patched_cluster_time_document_is_the_one_rawdoc_builds() {
        let ts = Timestamp { time: 1_796_000_000, increment: 4_000_000_123 };
        let bytes = cluster_time_doc(ts);
        let built = bson::rawdoc! {
            "clusterTime": ts,
            "signature": {
                "hash": bson::Binary { subtype: bson::spec::BinarySubtype::Generic, bytes: vec![0; 20] },
                "keyId": 0i64,
            },
        };
        assert_eq!(&bytes[..], built.as_bytes());
    }

    #[test]
    fn increments_never_zero_and_map_back_near_their_second() {
        let lsns = [
            1u64,
            5,
            u32::MAX as u64 - 1,
            u32::MAX as u64,
            WRAP_FROM,
            WRAP_FROM + 1,
            WRAP_FROM + WRAP - 1,
            WRAP_FROM + WRAP,
            WRAP_FROM + 3 * WRAP + 17,
            u64::MAX / 2,
        ];
        for &lsn in &lsns {
            let inc = increment_of(Lsn(lsn));
            assert_ne!(inc, 0, "LSN {lsn}");
            // The newest LSN of the second is the LSN itself or up to a
            // million after it.
            for ahead in [0u64, 1, 999, 1_000_000] {
                assert_eq!(lsn_with_increment(inc as u64, lsn + ahead), Lsn(lsn), "LSN {lsn}, base +{ahead}");
            }
        }
        // A second that straddles 2^32: both sides read back.
        let base = WRAP_FROM + 10;
        for lsn in [WRAP_FROM - 5, WRAP_FROM - 1, WRAP_FROM, WRAP_FROM + 10] {
            assert_eq!(lsn_with_increment(increment_of(Lsn(lsn)) as u64, base), Lsn(lsn));
        }
        // Increments grow with LSNs within a turn.
        assert!(increment_of(Lsn(WRAP_FROM + 7)) < increment_of(Lsn(WRAP_FROM + 8)));
    }
}
