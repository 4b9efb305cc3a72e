//! `count`: documents matching a query (with skip and limit).

use argon_query::Filter;
use bson::{doc, Document};

use super::{Call, Ctx};
use crate::args::{collection_name, Args};
use crate::error::CmdResult;
use crate::source::Want;

pub fn run(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let coll = collection_name(&call.cmd, "count")?;
    let a = Args::new(&call.cmd, "count");
    let query = a.doc("query")?.cloned().unwrap_or_default();
    // `let` variables, for `$expr` in the query.
    let lets = a.let_vars()?;
    let filter = Filter::parse_with_vars(&query, &argon_query::expr::let_names(&lets))?.with_let(&lets);
    let skip = a.non_negative("skip")?.unwrap_or(0) as u64;
    let limit = a.i64("limit")?.map(|l| l.unsigned_abs()).filter(|l| *l > 0);
    let target = call.target(ctx)?;
    let snap = match call.snapshot(ctx, &target) {
        Ok(s) => s,
        Err(e) if e.code == crate::error::code::NAMESPACE_NOT_FOUND.0 => return Ok(doc! { "n": 0 }),
        Err(e) => return Err(e),
    };
    let mut n = 0u64;
    if let Some((base, mut stages)) = crate::views::resolve(&snap, &coll)? {
        stages.push(doc! { "$match": query });
        n = super::aggregate::run_read_only_with_let(call, &snap, &base, &stages, &lets)?.len() as u64;
    } else {
        // Only the fields the filter reads are decoded.
        call.source(&snap).scan_matching(&coll, &filter, Want::Nothing, &mut |_| {
            n += 1;
            Ok(true)
        })?;
    }
    let n = n.saturating_sub(skip);
    let n = limit.map_or(n, |l| n.min(l));
    Ok(doc! { "n": n as i64 })
}
