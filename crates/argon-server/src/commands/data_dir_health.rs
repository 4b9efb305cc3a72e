//! `dataDirHealth`: the server measures the disk of its own data dir, so
//! `argon health --uri` reports the server's disk, wherever the CLI runs.
//!
//! `{dataDirHealth: 1}` →
//! `{dataDir, freeBytes, totalBytes, fsyncMillis, fsyncSamples}`: free
//! space of the data dir's file system, and the worst of `fsyncSamples`
//! fdatasyncs of a 4 KiB write to a probe file in the data dir (the same
//! probe `argon health --data-dir` runs, [`crate::probe`]). A measurement
//! that fails is `null`, with `diskError` or `fsyncError` saying why.
//! Deployment administrators only (`admin` on every project).

use bson::{doc, Bson, Document};

use super::{Call, Ctx};
use crate::error::{code, CmdResult, CommandError};
use crate::probe;

pub async fn run(ctx: &mut Ctx<'_>, _call: &mut Call) -> CmdResult<Document> {
    let dir = ctx.state.store.dir().to_path_buf();
    let (space, fsync) = {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || (probe::disk_space(&dir), probe::fsync_latency(&dir)))
            .await
            .map_err(|e| CommandError::new(code::INTERNAL_ERROR, e.to_string()))?
    };
    let mut reply = doc! { "dataDir": dir.display().to_string() };
    match space {
        Ok(s) => {
            reply.insert("freeBytes", s.free as i64);
            reply.insert("totalBytes", s.total as i64);
        }
        Err(e) => {
            reply.insert("freeBytes", Bson::Null);
            reply.insert("totalBytes", Bson::Null);
            reply.insert("diskError", format!("cannot stat {}: {e}", dir.display()));
        }
    }
    match fsync {
        Ok(d) => {
            reply.insert("fsyncMillis", d.as_secs_f64() * 1000.0);
        }
        Err(e) => {
            reply.insert("fsyncMillis", Bson::Null);
            reply.insert("fsyncError", format!("cannot probe {}: {e}", dir.display()));
        }
    }
    reply.insert("fsyncSamples", probe::FSYNC_SAMPLES as i32);
    Ok(reply)
}
