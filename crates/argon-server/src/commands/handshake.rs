//! `hello` / `isMaster`, `buildInfo`, `whatsmyuri`: the handshake.
//!
//! Argon presents itself as the primary of a single-node replica set, so
//! drivers enable sessions, retryable writes, transactions and change
//! streams, and both `directConnection=true` and `replicaSet=NAME` work.

use argon_wire::Compressor;
use bson::{doc, oid::ObjectId, Bson, Document};

use super::{Call, Ctx};
use crate::error::CmdResult;

/// Wire version of MongoDB 8.0: drivers then offer its `bulkWrite` and
/// `updateOne` with `sort`, which Argon answers.
pub const MAX_WIRE_VERSION: i32 = 25;
/// The MongoDB server version Argon's behaviour follows.
pub const MONGODB_VERSION: &str = "8.0.0";

pub fn hello(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let cfg = &ctx.state.config;
    // Negotiate compression the first time the client offers it.
    if let Ok(list) = call.cmd.get_array("compression") {
        let offered: Vec<String> = list.iter().filter_map(|b| b.as_str().map(str::to_string)).collect();
        let supported: Vec<Compressor> =
            cfg.compressors.iter().filter_map(|c| Compressor::from_name(c)).collect();
        let agreed = Compressor::negotiate(&offered, &supported);
        ctx.conn.compressors = agreed.iter().filter_map(|n| Compressor::from_name(n)).collect();
    }
    if let Ok(client) = call.cmd.get_document("client") {
        ctx.conn.client_metadata = Some(client.clone());
    }
    let legacy = call.name != "hello";
    let now = bson::DateTime::now();
    let op_time = ctx.state.current_cluster_time();
    let mut reply = doc! {
        "topologyVersion": { "processId": process_id(), "counter": 0i64 },
        "hosts": [cfg.advertised_host.clone()],
        "setName": cfg.replica_set.clone(),
        "setVersion": 1,
        "primary": cfg.advertised_host.clone(),
        "me": cfg.advertised_host.clone(),
        "electionId": ObjectId::from_bytes([0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1]),
        "lastWrite": {
            "opTime": { "ts": Bson::Timestamp(op_time), "t": 1i64 },
            "lastWriteDate": now,
            "majorityOpTime": { "ts": Bson::Timestamp(op_time), "t": 1i64 },
            "majorityWriteDate": now,
        },
        "maxBsonObjectSize": 16 * 1024 * 1024,
        "maxMessageSizeBytes": argon_wire::MAX_MESSAGE_BYTES as i32,
        "maxWriteBatchSize": 100_000,
        "localTime": now,
        "logicalSessionTimeoutMinutes": 30,
        "connectionId": ctx.conn.id as i32,
        "minWireVersion": 0,
        "maxWireVersion": MAX_WIRE_VERSION,
        "readOnly": false,
        "argon": { "version": env!("CARGO_PKG_VERSION") },
    };
    if legacy {
        reply.insert("ismaster", true);
    } else {
        reply.insert("isWritablePrimary", true);
    }
    reply.insert("secondary", false);
    if call.cmd.contains_key("helloOk") {
        reply.insert("helloOk", true);
    }
    if !ctx.conn.compressors.is_empty() {
        let names: Vec<Bson> =
            ctx.conn.compressors.iter().map(|c| Bson::String(c.name().to_string())).collect();
        reply.insert("compression", names);
    }
    if let Ok(user) = call.cmd.get_str("saslSupportedMechs") {
        let mechs = crate::auth::supported_mechanisms(&ctx.state, user);
        reply.insert("saslSupportedMechs", mechs);
    }
    Ok(reply)
}

/// `replSetGetStatus` (mongosh's `rs.status()`): the single-node replica
/// set `hello` presents, this server its primary, its optime the newest
/// commit.
pub fn repl_set_get_status(ctx: &mut Ctx<'_>, _call: &mut Call) -> CmdResult<Document> {
    let cfg = &ctx.state.config;
    let now = bson::DateTime::now();
    let op_time = doc! { "ts": Bson::Timestamp(ctx.state.current_cluster_time()), "t": 1i64 };
    let uptime = ctx.state.started.elapsed().as_secs() as i64;
    Ok(doc! {
        "set": cfg.replica_set.clone(),
        "date": now,
        "myState": 1,
        "term": 1i64,
        "heartbeatIntervalMillis": 2000i64,
        "majorityVoteCount": 1,
        "writeMajorityCount": 1,
        "votingMembersCount": 1,
        "writableVotingMembersCount": 1,
        "optimes": {
            "lastCommittedOpTime": op_time.clone(),
            "appliedOpTime": op_time.clone(),
            "durableOpTime": op_time.clone(),
        },
        "members": [{
            "_id": 0,
            "name": cfg.advertised_host.clone(),
            "health": 1.0,
            "state": 1,
            "stateStr": "PRIMARY",
            "uptime": uptime,
            "optime": op_time,
            "optimeDate": now,
            "syncSourceHost": "",
            "syncSourceId": -1,
            "configVersion": 1,
            "configTerm": 1,
            "self": true,
        }],
    })
}

/// `replSetGetConfig` (mongosh's `rs.conf()`): one voting member, this
/// server.
pub fn repl_set_get_config(ctx: &mut Ctx<'_>, _call: &mut Call) -> CmdResult<Document> {
    let cfg = &ctx.state.config;
    Ok(doc! {
        "config": {
            "_id": cfg.replica_set.clone(),
            "version": 1,
            "term": 1,
            "protocolVersion": 1i64,
            "writeConcernMajorityJournalDefault": true,
            "members": [{
                "_id": 0,
                "host": cfg.advertised_host.clone(),
                "arbiterOnly": false,
                "buildIndexes": true,
                "hidden": false,
                "priority": 1.0,
                "tags": {},
                "secondaryDelaySecs": 0i64,
                "votes": 1,
            }],
            "settings": { "chainingAllowed": true, "electionTimeoutMillis": 10000i64 },
        },
    })
}

/// `profile` (mongosh's `db.getProfilingStatus()`, `setProfilingLevel`):
/// Argon has no profiler, so level 0 (off) is the only one it accepts;
/// `-1` reads the settings.
/// A process id for `topologyVersion`, stable for the life of the process.
fn process_id() -> ObjectId {
    static ID: std::sync::OnceLock<ObjectId> = std::sync::OnceLock::new();
    *ID.get_or_init(ObjectId::new)
}

pub fn build_info(_ctx: &mut Ctx<'_>, _call: &mut Call) -> CmdResult<Document> {
    Ok(doc! {
        "version": MONGODB_VERSION,
        "gitVersion": "argon",
        "versionArray": [8, 0, 0, 0],
        "bits": 64,
        "debug": cfg!(debug_assertions),
        "maxBsonObjectSize": 16 * 1024 * 1024,
        "storageEngines": ["argon"],
        "modules": [],
        "openssl": { "running": "rustls" },
        "javascriptEngine": "quickjs",
        "argonVersion": env!("CARGO_PKG_VERSION"),
    })
}

pub fn whatsmyuri(ctx: &mut Ctx<'_>, _call: &mut Call) -> CmdResult<Document> {
    Ok(doc! { "you": ctx.conn.peer.clone() })
}
