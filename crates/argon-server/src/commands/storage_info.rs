//! `storageInfo`: bytes of WAL and index, and per project and branch the
//! visible documents split into own and shared bytes — what branching saved
//! over copying (`argon storage` over `--uri`).
//!
//! `{storageInfo: 1, project?: NAME}` →
//! `{wal_bytes, index_bytes, projects: [{name, wal_bytes, branches: [{name, parent, documents, own_bytes,
//! shared_bytes, copy_bytes, wal_own_bytes, wal_inherited_bytes}]}]}`: document bytes as in
//! `Store::branch_storage`, WAL bytes as in `Store::wal_storage`.

use bson::{doc, Bson, Document};

use super::{Call, Ctx};
use crate::args::Args;
use crate::error::CmdResult;

pub async fn run(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let only = Args::new(&call.cmd, "storageInfo").str("project")?.map(str::to_string);
    let mut wanted = Vec::new();
    for p in ctx.state.store.projects() {
        if only.as_deref().is_some_and(|o| o != p.name) || !crate::auth::can_see_project(ctx, &p.name) {
            continue;
        }
        let branches = ctx.state.store.branches(&p.name)?;
        wanted.push((p.name, branches));
    }
    // Measuring scans every visible document: keep it off the async executor.
    let store = ctx.state.store.clone();
    let projects = tokio::task::spawn_blocking(move || -> argon_store::Result<Vec<Bson>> {
        let mut out = Vec::new();
        for (project, branches) in wanted {
            let wal = store.wal_storage(&project)?;
            let mut docs = Vec::new();
            for b in branches {
                let s = store.branch_storage(&project, &b.name)?;
                let w = wal.branches.get(&b.name).copied().unwrap_or_default();
                docs.push(Bson::Document(doc! {
                    "name": &b.name,
                    "parent": b.parent.clone().map(Bson::String).unwrap_or(Bson::Null),
                    "documents": s.documents as i64,
                    "own_bytes": s.own_bytes as i64,
                    "shared_bytes": s.shared_bytes as i64,
                    "copy_bytes": s.copy_bytes() as i64,
                    "wal_own_bytes": w.own_bytes as i64,
                    "wal_inherited_bytes": w.inherited_bytes as i64,
                }));
            }
            out.push(Bson::Document(
                doc! { "name": project, "wal_bytes": wal.project_bytes as i64, "branches": docs },
            ));
        }
        Ok(out)
    })
    .await
    .map_err(|e| crate::error::CommandError::new(crate::error::code::INTERNAL_ERROR, e.to_string()))??;
    let st = ctx.state.store.stats();
    Ok(doc! { "wal_bytes": st.wal_bytes as i64, "index_bytes": st.index_bytes as i64, "projects": projects })
}
