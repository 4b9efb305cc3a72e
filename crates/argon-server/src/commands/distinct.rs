//! `distinct`: the distinct values of a field (array elements count
//! individually), in BSON order.

use argon_query::{compare, Deps, Filter};
use bson::{doc, Bson, Document};

use super::{Call, Ctx};
use crate::args::{collection_name, Args};
use crate::error::CmdResult;
use crate::source::Want;

pub fn run(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let coll = collection_name(&call.cmd, "distinct")?;
    let a = Args::new(&call.cmd, "distinct");
    let key = a.req_str("key")?.to_string();
    let query = a.doc("query")?.cloned().unwrap_or_default();
    // `let` variables, for `$expr` in the query.
    let lets = a.let_vars()?;
    let filter = Filter::parse_with_vars(&query, &argon_query::expr::let_names(&lets))?.with_let(&lets);
    let mut seen = std::collections::BTreeMap::<Vec<u8>, Bson>::new();
    // A terminal array contributes its elements (nested arrays stay
    // whole), as the index key extraction does; an empty one nothing.
    let mut add = |d: &Document| {
        for v in argon_store::values_at(d, &key) {
            if !matches!(v, Bson::Undefined) {
                seen.entry(argon_query::compare::value_key(&v)).or_insert(v);
            }
        }
    };
    if crate::oplog::is_oplog(&call.db, &coll) {
        // The WAL read as an oplog: every entry.
        for d in crate::oplog::all(&ctx.state)? {
            crate::ops::check_interrupted()?;
            let d = d?;
            if filter.try_matches(&d)? {
                add(&d);
            }
        }
    } else {
        let target = call.target(ctx)?;
        let snap = match call.snapshot(ctx, &target) {
            Ok(s) => s,
            Err(e) if e.code == crate::error::code::NAMESPACE_NOT_FOUND.0 => {
                return Ok(doc! { "values": [] })
            }
            Err(e) => return Err(e),
        };
        if let Some((base, mut stages)) = crate::views::resolve(&snap, &coll)? {
            stages.push(doc! { "$match": query });
            super::aggregate::run_read_only_with_let(call, &snap, &base, &stages, &lets)?
                .iter()
                .for_each(&mut add);
        } else {
            // Only the fields the filter and the key read are decoded.
            let key_field = Deps::fields_of([key.split('.').next().unwrap_or(&key)]);
            call.source(&snap).scan_matching(&coll, &filter, Want::Fields(&key_field), &mut |d| {
                add(&d);
                Ok(true)
            })?;
        }
    }
    let mut values: Vec<Bson> = seen.into_values().collect();
    values.sort_by(compare);
    Ok(doc! { "values": values })
}
