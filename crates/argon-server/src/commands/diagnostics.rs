//! Diagnostic commands: `serverStatus`, `collStats`, `dbStats`, `hostInfo`,
//! `getParameter`, `getCmdLineOpts`, `getLog`, `currentOp`, `killOp`,
//! `listCommands`, `getDiagnosticData`, `connPoolStats`, `lockInfo`.

use std::sync::atomic::Ordering;

use bson::{doc, Bson, Document};

use super::{Call, Ctx, COMMAND_NAMES};
use crate::args::collection_name;
use crate::error::{code, CmdResult, CommandError};

pub fn server_status(ctx: &mut Ctx<'_>, _call: &mut Call) -> CmdResult<Document> {
    let s = &ctx.state;
    let m = &s.metrics;
    let st = s.store.stats();
    let lat = m.latency.lock().clone();
    Ok(doc! {
        "host": s.config.advertised_host.clone(),
        "version": super::handshake::MONGODB_VERSION,
        "process": "argon",
        "pid": std::process::id() as i64,
        "uptime": s.started.elapsed().as_secs_f64(),
        "uptimeMillis": s.started.elapsed().as_millis() as i64,
        "localTime": bson::DateTime::now(),
        "connections": {
            "current": m.connections_current.load(Ordering::Relaxed) as i32,
            "available": 1_000_000,
            "totalCreated": m.connections_total.load(Ordering::Relaxed) as i64,
        },
        "opcounters": {
            "insert": m.ops_insert.load(Ordering::Relaxed) as i64,
            "query": m.ops_query.load(Ordering::Relaxed) as i64,
            "update": m.ops_update.load(Ordering::Relaxed) as i64,
            "delete": m.ops_delete.load(Ordering::Relaxed) as i64,
            "getmore": m.ops_getmore.load(Ordering::Relaxed) as i64,
            "command": m.ops_command.load(Ordering::Relaxed) as i64,
        },
        "metrics": { "cursor": { "open": { "total": s.cursors.len() as i64 } } },
        // Sessions the server holds state for (retryable writes,
        // transactions, `startSession`, `refreshSessions`).
        "logicalSessionRecordCache": { "activeSessionsCount": s.sessions.len() as i32 },
        "latency": {
            "count": lat.count as i64,
            "p50_micros": lat.quantile(0.5) as i64,
            "p99_micros": lat.quantile(0.99) as i64,
        },
        "argon": {
            "visibleLsn": st.visible_lsn.0 as i64,
            "indexLag": s.store.index_lag().map(|n| n as i64).unwrap_or(-1),
            "projects": st.projects as i64,
            "branches": st.branches as i64,
            "timelines": st.timelines as i64,
            "commits": st.commits as i64,
            "groupCommits": st.group_commits as i64,
            "walFsyncs": st.wal_fsyncs as i64,
            "walFsyncMicros": st.wal_fsync_time.as_micros() as i64,
            "queriesHandedOver": crate::ops::queries_handed_over() as i64,
            "durableLsn": s.store.durable_lsn().0 as i64,
            "walBytes": st.wal_bytes as i64,
            "indexBytes": st.index_bytes as i64,
            "dataDir": s.store.dir().display().to_string(),
        },
        "repl": { "setName": s.config.replica_set.clone(), "isWritablePrimary": true },
    })
}

pub fn coll_stats(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let coll = collection_name(&call.cmd, "collStats")?;
    let scale = scale_of(call.cmd.get("scale"))?;
    let target = call.target(ctx)?;
    let snap = call.snapshot(ctx, &target)?;
    let mut stats = storage_stats(&snap, &call.db, &coll, scale)?;
    stats.insert("ns", format!("{}.{coll}", call.db));
    stats.insert("lsn", snap.lsn().0 as i64);
    Ok(stats)
}

/// A `scale` argument (bytes per unit of the sizes reported), default 1.
pub(crate) fn scale_of(v: Option<&Bson>) -> CmdResult<i64> {
    match v {
        None | Some(Bson::Null) => Ok(1),
        Some(v) => match v.as_i64().or(v.as_i32().map(i64::from)).or(v.as_f64().map(|f| f as i64)) {
            Some(n) if n >= 1 => Ok(n),
            Some(_) => Err(CommandError::bad_value("scale has to be >= 1")),
            None => Err(CommandError::type_mismatch("scale has to be a number")),
        },
    }
}

/// `collStats`'s figures, also `$collStats.storageStats`: documents and
/// their BSON bytes at the snapshot, and per index the bytes of its visible
/// entries (keys and values as stored). Sizes are divided by `scale`.
/// Argon keeps no per-collection allocation figures, so `storageSize` is
/// the data size, and both are computed by reading the collection.
pub(crate) fn storage_stats(
    snap: &argon_store::Snapshot,
    db: &str,
    coll: &str,
    scale: i64,
) -> CmdResult<Document> {
    let c = snap.collection(coll).cloned().ok_or_else(|| {
        CommandError::new(code::NAMESPACE_NOT_FOUND, format!("Collection [{db}.{coll}] not found."))
    })?;
    // The `_id` index is the documents' own key order: its size is the keys.
    let (mut count, mut size, mut id_bytes) = (0i64, 0i64, 0i64);
    crate::ops::long_running(|| {
        (count, size, id_bytes) = (0, 0, 0);
        let mut scan = snap.scan(coll)?;
        while let Some((key, bytes)) = scan.next_raw()? {
            count += 1;
            size += bytes.len() as i64;
            id_bytes += key.len() as i64;
        }
        Ok(())
    })?;
    let mut index_sizes = doc! { "_id_": id_bytes / scale };
    let mut total_index = id_bytes;
    for ix in &c.indexes {
        let bytes = crate::ops::long_running(|| {
            let mut n = 0i64;
            let all = std::ops::Bound::Unbounded;
            let mut scan = snap.index_scan(coll, ix.name(), all, all)?;
            while let Some((key, value)) = scan.next_raw()? {
                n += (key.len() + value.len()) as i64;
            }
            Ok(n)
        })?;
        index_sizes.insert(ix.name(), bytes / scale);
        total_index += bytes;
    }
    let mut capped = doc! {};
    if let Some(cap) = argon_store::cap_of(&c.options) {
        capped.insert("maxSize", cap.size as i64 / scale);
        if let Some(m) = cap.max {
            capped.insert("max", m as i64);
        }
    }
    let mut out = doc! {
        "size": size / scale,
        "count": count,
        "avgObjSize": if count > 0 { size / count } else { 0 },
        "storageSize": size / scale,
        "freeStorageSize": 0i64,
        "capped": c.options.get_bool("capped").unwrap_or(false),
        "nindexes": c.indexes.len() as i32 + 1,
        "indexDetails": {},
        "indexBuilds": [],
        "totalIndexSize": total_index / scale,
        "totalSize": (size + total_index) / scale,
        "indexSizes": index_sizes,
        "scaleFactor": scale,
    };
    out.extend(capped);
    Ok(out)
}

pub fn db_stats(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let target = call.target(ctx)?;
    let snap = match call.snapshot(ctx, &target) {
        Ok(s) => s,
        Err(e) if e.code == code::NAMESPACE_NOT_FOUND.0 => {
            return Ok(
                doc! { "db": &call.db, "collections": 0, "objects": 0, "dataSize": 0, "storageSize": 0, "indexes": 0 },
            );
        }
        Err(e) => return Err(e),
    };
    let (mut colls, mut objects, mut size, mut indexes) = (0i64, 0i64, 0i64, 0i64);
    let names: Vec<(String, usize)> =
        snap.collections().map(|(n, c)| (n.clone(), c.indexes.len() + 1)).collect();
    for (name, nidx) in names {
        colls += 1;
        indexes += nidx as i64;
        let mut scan = snap.scan(&name)?;
        while let Some((_, bytes)) = scan.next_raw()? {
            objects += 1;
            size += bytes.len() as i64;
        }
    }
    Ok(doc! {
        "db": &call.db, "collections": colls, "views": 0, "objects": objects,
        "avgObjSize": if objects > 0 { size as f64 / objects as f64 } else { 0.0 },
        "dataSize": size, "storageSize": size, "indexes": indexes, "indexSize": 0,
        "lsn": snap.lsn().0 as i64,
    })
}

pub fn host_info(_ctx: &mut Ctx<'_>, _call: &mut Call) -> CmdResult<Document> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) as i32;
    let mem_mb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|k| k.parse::<i64>().ok())
        })
        .map(|kb| kb / 1024)
        .unwrap_or(0);
    Ok(doc! {
        "system": {
            "currentTime": bson::DateTime::now(),
            "hostname": std::fs::read_to_string("/etc/hostname").unwrap_or_default().trim(),
            "cpuAddrSize": 64,
            "memSizeMB": mem_mb,
            "numCores": cores,
            "cpuArch": std::env::consts::ARCH,
        },
        "os": { "type": std::env::consts::OS, "name": std::env::consts::OS },
        "extra": {},
    })
}

pub fn get_parameter(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let all = doc! {
        "featureCompatibilityVersion": { "version": "8.0" },
        "transactionLifetimeLimitSeconds": ctx.state.sessions.txn_lifetime().as_secs() as i32,
        "cursorTimeoutMillis": ctx.state.cursors.timeout().as_millis() as i64,
        "maxBSONDepth": 100,
        "authenticationMechanisms": ["SCRAM-SHA-1", "SCRAM-SHA-256"],
        "logLevel": ctx.state.log_verbosity.level(),
        "logComponentVerbosity": ctx.state.log_verbosity.components(),
    };
    let show_all = matches!(call.cmd.get("getParameter"), Some(Bson::String(s)) if s == "*")
        || matches!(call.cmd.get("getParameter"), Some(Bson::Document(d)) if d.get_bool("allParameters").unwrap_or(false));
    if show_all {
        return Ok(all);
    }
    let mut out = Document::new();
    for (k, _) in call.cmd.iter() {
        if let Some(v) = all.get(k) {
            out.insert(k.clone(), v.clone());
        }
    }
    if out.is_empty() {
        return Err(CommandError::new(code::INVALID_OPTIONS, "no option found to get"));
    }
    Ok(out)
}

/// `setParameter` (on `admin`): the parameters Argon has and can change
/// at run time. Replies with the old value as `was`, like mongod.
pub fn set_parameter(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    super::admin_only(call, "setParameter")?;
    const NOT_PARAMETERS: &[&str] =
        &["setParameter", "$db", "lsid", "$clusterTime", "$readPreference", "comment", "writeConcern"];
    let args = crate::args::Args::new(&call.cmd, "setParameter");
    let mut was = None;
    for (name, value) in call.cmd.iter().filter(|(k, _)| !NOT_PARAMETERS.contains(&k.as_str())) {
        let number = || {
            args.i64(name)?.filter(|n| *n > 0).ok_or_else(|| {
                CommandError::bad_value(format!("{name} must be a positive integer, not {value}"))
            })
        };
        was = Some(match name.as_str() {
            "transactionLifetimeLimitSeconds" => {
                let old = ctx.state.sessions.set_txn_lifetime(std::time::Duration::from_secs(number()? as u64));
                Bson::Int32(old.as_secs() as i32)
            }
            "cursorTimeoutMillis" => {
                let old = ctx.state.cursors.set_timeout(std::time::Duration::from_millis(number()? as u64));
                Bson::Int64(old.as_millis() as i64)
            }
            "logLevel" => {
                let level = args.i64(name)?.filter(|n| (0..=5).contains(n)).ok_or_else(|| {
                    CommandError::bad_value(format!("logLevel must be an integer from 0 to 5, not {value}"))
                })?;
                Bson::Int32(ctx.state.log_verbosity.set_level(level as i32).map_err(CommandError::bad_value)?)
            }
            "logComponentVerbosity" => {
                let Bson::Document(spec) = value else {
                    return Err(CommandError::type_mismatch("logComponentVerbosity must be an object"));
                };
                Bson::Document(ctx.state.log_verbosity.set_components(spec).map_err(CommandError::bad_value)?)
            }
            _ => {
                return Err(CommandError::new(
                    code::INVALID_OPTIONS,
                    format!(
                        "Attempted to set unrecognized parameter [{name}]; Argon can set transactionLifetimeLimitSeconds, cursorTimeoutMillis, logLevel and logComponentVerbosity"
                    ),
                ))
            }
        });
    }
    let Some(was) = was else {
        return Err(CommandError::new(
            code::INVALID_OPTIONS,
            "no option found to set, use help:true to see options",
        ));
    };
    Ok(doc! { "was": was })
}

pub fn get_cmd_line_opts(ctx: &mut Ctx<'_>, _call: &mut Call) -> CmdResult<Document> {
    Ok(doc! {
        "argv": ctx.state.config.argv.clone(),
        "parsed": { "net": { "bindIp": ctx.state.config.advertised_host.clone() }, "storage": { "dbPath": ctx.state.store.dir().display().to_string() }, "replication": { "replSet": ctx.state.config.replica_set.clone() } },
    })
}

pub fn get_log(_ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    match call.cmd.get("getLog") {
        Some(Bson::String(s)) if s == "*" => Ok(doc! { "names": ["global", "startupWarnings"] }),
        Some(Bson::String(s)) if s == "global" => {
            let (total, lines) = crate::log::global();
            Ok(doc! { "totalLinesWritten": total as i64, "log": lines })
        }
        Some(Bson::String(s)) if s == "startupWarnings" => {
            let lines = crate::log::startup_warnings();
            Ok(doc! { "totalLinesWritten": lines.len() as i64, "log": lines })
        }
        Some(Bson::String(s)) => Err(CommandError::new(code::INVALID_OPTIONS, format!("No log named '{s}'"))),
        _ => Err(CommandError::type_mismatch("Argument to getLog must be of type String")),
    }
}

pub fn current_op(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    // Every other field of the command filters the operations listed.
    const NOT_FILTERS: &[&str] = &[
        "currentOp",
        "$all",
        "$ownOps",
        "$db",
        "lsid",
        "$clusterTime",
        "$readPreference",
        "comment",
        "apiVersion",
        "apiStrict",
        "apiDeprecationErrors",
    ];
    let mut filter = Document::new();
    for (k, v) in call.cmd.iter() {
        if !NOT_FILTERS.contains(&k.as_str()) {
            filter.insert(k.clone(), v.clone());
        }
    }
    let filter = argon_query::Filter::parse(&filter)?;
    let inprog: Vec<Bson> =
        ctx.state.ops.list().into_iter().filter(|op| filter.matches(op)).map(Bson::Document).collect();
    let mut reply = doc! { "inprog": inprog };
    if super::fsync::is_locked(ctx) {
        reply.insert("fsyncLock", true);
    }
    Ok(reply)
}

pub fn kill_op(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let opid = match call.cmd.get("op") {
        Some(Bson::Int32(n)) => *n as i64,
        Some(Bson::Int64(n)) => *n,
        Some(Bson::Double(d)) if d.fract() == 0.0 => *d as i64,
        Some(Bson::Double(_)) => return Err(CommandError::bad_value("killOp.op must be an integer")),
        Some(_) => return Err(CommandError::type_mismatch("killOp.op must be a number")),
        None => return Err(crate::args::missing("killOp", "op")),
    };
    // Like MongoDB: the reply is the same whether or not the op still runs.
    if ctx.state.ops.kill(opid) {
        tracing::info!(opid, "killOp: interrupting operation");
    }
    Ok(doc! { "info": "attempting to kill op" })
}

pub fn list_commands(_ctx: &mut Ctx<'_>, _call: &mut Call) -> CmdResult<Document> {
    let mut cmds = Document::new();
    for name in COMMAND_NAMES {
        cmds.insert(*name, doc! { "help": "", "adminOnly": false, "requiresAuth": true });
    }
    Ok(doc! { "commands": cmds })
}

/// `getDiagnosticData` (admin): one sample of what mongod's diagnostic
/// data capture (FTDC) records and monitoring exporters read:
/// `serverStatus`, `replSetGetStatus` and the oplog's statistics, taken now.
pub fn get_diagnostic_data(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    super::admin_only(call, "getDiagnosticData")?;
    let start = bson::DateTime::now();
    let status = server_status(ctx, call)?;
    let repl = super::handshake::repl_set_get_status(ctx, call)?;
    let oplog = crate::oplog::stats(&ctx.state, 1);
    Ok(doc! { "data": {
        "start": start,
        "serverStatus": status,
        "replSetGetStatus": repl,
        "local.oplog.rs.stats": oplog,
        "end": bson::DateTime::now(),
    } })
}

/// `connPoolStats`: the connections this server opened to other servers.
/// A single node opens none, so every pool is empty (monitoring agents ask).
pub fn conn_pool_stats(_ctx: &mut Ctx<'_>, _call: &mut Call) -> CmdResult<Document> {
    Ok(doc! {
        "numClientConnections": 0, "numAScopedConnections": 0, "totalInUse": 0, "totalAvailable": 0,
        "totalLeased": 0, "totalCreated": 0, "totalRefreshing": 0, "totalRefreshed": 0,
        "pools": {}, "hosts": {}, "replicaSets": {},
    })
}

/// `lockInfo` (admin): the locks operations hold and wait for. Argon has no
/// lock manager of MongoDB's kind (a snapshot per read, commits serialised
/// by one thread), so there are none to list.
pub fn lock_info(_ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    super::admin_only(call, "lockInfo")?;
    Ok(doc! { "lockInfo": [] })
}

/// `top`: per-collection counts and times of the operations run since the
/// server started (`usage.rs`), by kind, as mongod reports them.
pub fn top(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    super::admin_only(call, "top")?;
    Ok(doc! { "totals": ctx.state.ops.usage.top() })
}
