//! `findAndModify`: update, replace or remove one document (chosen by
//! `query` and `sort`) and return it as it was or as it became.

use argon_query::Projection;
use bson::{doc, Bson, Document};

use super::crud_update::{apply, UpdateSpec};
use super::{Call, Ctx};
use crate::args::{collection_name, Args};
use crate::error::{code, CmdResult, CommandError};

pub async fn run(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let cmd = call.cmd.clone();
    let name = "findAndModify";
    let coll = collection_name(&cmd, name)?;
    super::crud_insert::check_writable_collection(&coll)?;
    let a = Args::new(&cmd, name);
    let empty = Document::new();
    let query = a.doc("query")?.unwrap_or(&empty);
    let sort = a.doc("sort")?;
    let remove = a.bool("remove")?.unwrap_or(false);
    let return_new = a.bool("new")?.unwrap_or(false);
    let upsert = a.bool("upsert")?.unwrap_or(false);
    let lets = a.let_vars()?;
    let collation = super::collation_for(ctx, call, &cmd, Some(&coll))?;
    let fields = match a.doc("fields")? {
        Some(f) if !f.is_empty() => Some(Projection::parse_with_let(f, &lets)?),
        _ => None,
    };
    let update = cmd.get("update");
    if remove && update.is_some() {
        return Err(CommandError::new(
            code::FAILED_TO_PARSE,
            "Cannot specify both an update and remove=true",
        ));
    }
    if !remove && update.is_none() {
        return Err(CommandError::new(
            code::FAILED_TO_PARSE,
            "Either an update or remove=true must be specified",
        ));
    }
    if remove && (upsert || return_new) {
        return Err(CommandError::new(
            code::FAILED_TO_PARSE,
            "Cannot specify both upsert=true and remove=true, or new=true with remove=true",
        ));
    }
    // The query's filter lets a positional `$` projection find its element.
    let filter =
        argon_query::Filter::parse_with_vars(query, &argon_query::expr::let_names(&lets))?.with_let(&lets);
    let project = |d: Option<Document>| -> CmdResult<Bson> {
        match (d, &fields) {
            (None, _) => Ok(Bson::Null),
            (Some(d), None) => Ok(Bson::Document(d)),
            (Some(d), Some(p)) => Ok(Bson::Document(p.apply(&d, Some(&filter))?)),
        }
    };
    if remove {
        ctx.state.metrics.ops_delete.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let deleted = super::crud_delete::delete_matching(
            ctx,
            call,
            &coll,
            query,
            sort,
            true,
            &lets,
            collation.as_ref(),
        )
        .await?;
        let n = deleted.len() as i32;
        let value = project(deleted.into_iter().next())?;
        return Ok(doc! { "lastErrorObject": { "n": n }, "value": value });
    }
    ctx.state.metrics.ops_update.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let update = update.expect("checked");
    if !matches!(update, Bson::Document(_) | Bson::Array(_)) {
        return Err(CommandError::type_mismatch("findAndModify.update must be an object or an array"));
    }
    let array_filters = a.docs("arrayFilters")?.map(|v| v.into_iter().cloned().collect());
    let spec = UpdateSpec {
        coll: &coll,
        filter_doc: query,
        update,
        array_filters,
        multi: false,
        upsert,
        sort,
        lets: &lets,
        collation,
    };
    let r = apply(ctx, call, &spec).await?;
    let mut leo =
        doc! { "n": (r.matched + r.upserted.is_some() as i64) as i32, "updatedExisting": r.matched > 0 };
    if let Some(id) = &r.upserted {
        leo.insert("upserted", id.clone());
    }
    let value = if return_new {
        r.after
    } else if r.upserted.is_some() {
        None
    } else {
        r.before
    };
    Ok(doc! { "lastErrorObject": leo, "value": project(value)? })
}
