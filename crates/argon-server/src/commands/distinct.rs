//! `distinct`: the distinct values of a field (array elements count
//! individually), in BSON order.

use argon_query::{compare, Filter};
use bson::{doc, Bson, Document};

use super::{Call, Ctx};
use crate::args::{collection_name, Args};
use crate::error::CmdResult;

pub fn run(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let coll = collection_name(&call.cmd, "distinct")?;
    let a = Args::new(&call.cmd, "distinct");
    let key = a.req_str("key")?.to_string();
    let filter = Filter::parse(a.doc("query")?.unwrap_or(&Document::new()))?;
    let target = call.target(ctx)?;
    let snap = match call.snapshot(ctx, &target) {
        Ok(s) => s,
        Err(e) if e.code == crate::error::code::NAMESPACE_NOT_FOUND.0 => return Ok(doc! { "values": [] }),
        Err(e) => return Err(e),
    };
    let src = call.source(&snap);
    let mut seen = std::collections::BTreeMap::<Vec<u8>, Bson>::new();
    src.for_each(&coll, &mut |d| {
        if filter.matches(&d) {
            for v in argon_query::path_values(&d, &key) {
                match v {
                    Bson::Array(items) => {
                        for i in items {
                            seen.entry(argon_types::keycodec::encode(i)).or_insert_with(|| i.clone());
                        }
                    }
                    v => {
                        seen.entry(argon_types::keycodec::encode(v)).or_insert_with(|| v.clone());
                    }
                }
            }
        }
        Ok(true)
    })?;
    let mut values: Vec<Bson> = seen.into_values().collect();
    values.sort_by(compare);
    Ok(doc! { "values": values })
}
