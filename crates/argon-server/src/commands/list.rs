//! `listDatabases` and `listCollections`.
//!
//! Every branch is a database: project `app`'s main branch is `app`, its
//! other branches are `app~name`.

use argon_query::Filter;
use bson::{doc, Bson, Document};

use super::find::cursor_reply;
use super::{Call, Ctx};
use crate::args::Args;
use crate::error::CmdResult;

/// The database name of a branch.
pub fn db_name(project: &str, branch: &str) -> String {
    if branch == argon_types::names::MAIN_BRANCH {
        project.to_string()
    } else {
        format!("{project}~{branch}")
    }
}

pub fn databases(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let a = Args::new(&call.cmd, "listDatabases");
    let name_only = a.bool("nameOnly")?.unwrap_or(false);
    let filter = match a.doc("filter")? {
        Some(f) => Some(Filter::parse(f)?),
        None => None,
    };
    let store = &ctx.state.store;
    let mut dbs = Vec::new();
    let mut total = 0i64;
    for p in store.projects() {
        if !crate::auth::can_see_project(ctx, &p.name) {
            continue;
        }
        for b in store.branches(&p.name).unwrap_or_default() {
            let name = db_name(&p.name, &b.name);
            // What the branch adds on disk: the versions it wrote itself
            // (a branch shares its parent's data, so a new one is 0).
            let size = b.written_bytes as i64;
            let entry = if name_only {
                doc! { "name": name }
            } else {
                doc! { "name": name, "sizeOnDisk": size, "empty": false, "project": &p.name, "branch": &b.name, "headLsn": b.head_lsn.0 as i64 }
            };
            if filter.as_ref().is_none_or(|f| f.matches(&entry)) {
                total += size;
                dbs.push(Bson::Document(entry));
            }
        }
    }
    let mut reply = doc! { "databases": dbs };
    if !name_only {
        reply.insert("totalSize", total);
        reply.insert("totalSizeMb", total / (1024 * 1024));
    }
    Ok(reply)
}

pub fn collections(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let a = Args::new(&call.cmd, "listCollections");
    let name_only = a.bool("nameOnly")?.unwrap_or(false);
    let filter = match a.doc("filter")? {
        Some(f) => Some(Filter::parse(f)?),
        None => None,
    };
    let batch_size = a
        .doc("cursor")?
        .and_then(|c| c.get("batchSize"))
        .and_then(|b| b.as_i64().or(b.as_i32().map(i64::from)))
        .map(|b| b as usize);
    let target = call.target(ctx)?;
    let out: Vec<Document> = match call.snapshot(ctx, &target) {
        Ok(snap) => snap
            .collections()
            .map(|(name, c)| {
                let view = crate::views::is_view(&c.options);
                let kind = match (view, crate::validation::time_field(&c.options).is_some()) {
                    (true, _) => "view",
                    (false, true) => "timeseries",
                    (false, false) => "collection",
                };
                if name_only {
                    doc! { "name": name, "type": kind }
                } else if view {
                    doc! { "name": name, "type": kind, "options": super::search_indexes::public_options(&c.options), "info": { "readOnly": true } }
                } else {
                    doc! {
                        "name": name,
                        "type": kind,
                        "options": super::search_indexes::public_options(&c.options),
                        "info": { "readOnly": target.view_lsn.is_some(), "createdLsn": c.created_lsn.0 as i64 },
                        "idIndex": { "v": 2, "key": { "_id": 1 }, "name": "_id_" },
                    }
                }
            })
            .filter(|d| filter.as_ref().is_none_or(|f| f.matches(d)))
            .collect(),
        // A database that does not exist yet lists no collections.
        Err(e) if e.code == crate::error::code::NAMESPACE_NOT_FOUND.0 => vec![],
        Err(e) => return Err(e),
    };
    let ns = format!("{}.$cmd.listCollections", call.db);
    Ok(cursor_reply(ctx, call, ns, out.into(), batch_size, false, false))
}
