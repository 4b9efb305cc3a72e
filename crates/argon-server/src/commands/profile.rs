//! `profile`: the database profiler's settings (`profiler.rs`), as
//! `db.setProfilingLevel()` and `db.getProfilingStatus()` send them.
//!
//! `{profile: -1}` only reads; 0 turns profiling off for the database; 1
//! (slower than `slowms`) and 2 (everything) turn it on, creating the
//! branch's capped `system.profile` if needed. The reply holds the
//! settings as they were, as mongod's does.

use argon_store::{WriteMode, WriteOp};
use bson::{doc, Bson, Document};

use super::{Call, Ctx};
use crate::error::{CmdResult, CommandError};
use crate::profiler::{DbProfile, COLLECTION, SIZE_BYTES};

/// What the command does to the database's `filter`.
enum FilterChange {
    Keep,
    Unset,
    Set(Document, std::sync::Arc<argon_query::Filter>),
}

pub async fn run(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let level = match call.cmd.get("profile") {
        Some(v) => argon_query::numeric::to_f64(v)
            .filter(|n| n.fract() == 0.0)
            .ok_or_else(|| CommandError::type_mismatch("profile must be an integer"))?
            as i64,
        None => return Err(crate::args::missing("profile", "profile")),
    };
    if !(-1..=2).contains(&level) {
        return Err(CommandError::bad_value(format!(
            "invalid profiling level {level}: must be -1, 0, 1 or 2"
        )));
    }
    let slow_ms = match call.cmd.get("slowms") {
        None => None,
        Some(v) => Some(
            argon_query::numeric::to_f64(v)
                .ok_or_else(|| CommandError::type_mismatch("slowms must be a number"))? as i64,
        ),
    };
    let sample_rate = match call.cmd.get("sampleRate") {
        None => None,
        Some(v) => match argon_query::numeric::to_f64(v) {
            Some(r) if (0.0..=1.0).contains(&r) => Some(r),
            Some(_) => {
                return Err(CommandError::bad_value("'sampleRate' must be between 0.0 and 1.0 inclusive"))
            }
            None => return Err(CommandError::type_mismatch("sampleRate must be a number")),
        },
    };
    let filter = match call.cmd.get("filter") {
        None => FilterChange::Keep,
        Some(Bson::String(s)) if s == "unset" => FilterChange::Unset,
        Some(Bson::Document(d)) => {
            FilterChange::Set(d.clone(), std::sync::Arc::new(argon_query::Filter::parse(d)?))
        }
        Some(_) => return Err(CommandError::type_mismatch("filter must be an object or \"unset\"")),
    };

    let profiler = &ctx.state.profiler;
    let before = profiler.get(&call.db);
    let mut reply = doc! {
        "was": before.as_ref().map_or(0, |p| p.level),
        "slowms": profiler.slow_ms() as i32,
        "sampleRate": profiler.sample_rate(),
    };
    if let Some((f, _)) = before.as_ref().and_then(|p| p.filter.as_ref()) {
        reply.insert("filter", f.clone());
        reply.insert(
            "note",
            "When a filter expression is set, slowms and sampleRate are not used for profiling and slow-query log lines.",
        );
    }
    let changes_nothing =
        level == -1 && slow_ms.is_none() && sample_rate.is_none() && matches!(filter, FilterChange::Keep);
    if changes_nothing {
        return Ok(reply);
    }
    let level = if level == -1 { before.as_ref().map_or(0, |p| p.level) } else { level as i32 };
    if level > 0 {
        // The branch gets its capped profile collection (a view of a past
        // LSN cannot be written: refused here).
        let target = call.target(ctx)?;
        target.writable()?;
        let exists = ctx
            .state
            .store
            .head_catalog(&target.project, &target.branch)
            .is_ok_and(|c| c.get(COLLECTION).is_some());
        if !exists {
            let options = doc! { "capped": true, "size": SIZE_BYTES };
            let ops = vec![WriteOp::CreateCollection { name: COLLECTION.to_string(), options }];
            crate::writes::submit(ctx, call, &target, ops, WriteMode::Atomic, None).await?;
        }
    }
    let filter = match filter {
        FilterChange::Keep => before.and_then(|p| p.filter),
        FilterChange::Unset => None,
        FilterChange::Set(d, f) => Some((d, f)),
    };
    ctx.state.profiler.set(&call.db, Some(DbProfile { level, filter }), slow_ms, sample_rate);
    Ok(reply)
}
