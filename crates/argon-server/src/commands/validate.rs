//! `validate`: checks a collection at the snapshot (`Snapshot::check_collection`:
//! documents decode and carry their key's `_id`; every index holds exactly
//! the entries its documents imply) and counts the documents that do not
//! satisfy the collection's validator, in MongoDB's reply shape.

use bson::{doc, Bson, Document};

use super::{Call, Ctx};
use crate::args::collection_name;
use crate::error::{code, CmdResult, CommandError};

pub fn run(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let coll = collection_name(&call.cmd, "validate")?;
    let target = call.target(ctx)?;
    let snap = call.snapshot(ctx, &target)?;
    let ns = format!("{}.{coll}", call.db);
    let Some(meta) = snap.collection(&coll).cloned() else {
        return Err(CommandError::new(
            code::NAMESPACE_NOT_FOUND,
            format!("Collection '{ns}' does not exist to validate."),
        ));
    };
    let check = crate::ops::long_running(|| Ok(snap.check_collection(&coll)?))?;
    // Documents written before the validator (or under `moderate`/`warn`)
    // may not satisfy it: MongoDB reports them as a warning, not an error.
    let mut non_compliant = 0i64;
    if let Some(Bson::Document(spec)) =
        meta.options.get("validator").filter(|_| crate::validation::active(&meta.options))
    {
        let filter = argon_query::Filter::parse(spec)?;
        crate::ops::long_running(|| {
            non_compliant = 0;
            let mut scan = snap.scan(&coll)?;
            while let Some((_, bytes)) = scan.next_raw()? {
                if let Ok(d) = argon_store::decode_doc(bytes) {
                    non_compliant += i64::from(!filter.matches(&d));
                }
            }
            Ok(())
        })?;
    }
    let mut keys_per_index = doc! { "_id_": check.documents as i64 };
    let mut index_details = doc! { "_id_": { "valid": true } };
    for ix in &check.indexes {
        keys_per_index.insert(ix.name.clone(), ix.entries as i64);
        index_details.insert(ix.name.clone(), doc! { "valid": ix.missing == 0 && ix.extra == 0 });
    }
    let mut warnings: Vec<Bson> = Vec::new();
    if non_compliant > 0 {
        warnings.push(Bson::String(format!("Detected {non_compliant} schema-non-compliant documents")));
    }
    Ok(doc! {
        "ns": ns,
        "nInvalidDocuments": check.invalid_documents as i64,
        "nNonCompliantDocuments": non_compliant,
        "nrecords": check.documents as i64,
        "nIndexes": (check.indexes.len() + 1) as i32,
        "keysPerIndex": keys_per_index,
        "indexDetails": index_details,
        "valid": check.valid(),
        "repaired": false,
        "warnings": warnings,
        "errors": check.errors.iter().cloned().map(Bson::String).collect::<Vec<_>>(),
        "extraIndexEntries": check.indexes.iter().map(|i| i.extra as i64).sum::<i64>(),
        "missingIndexEntries": check.indexes.iter().map(|i| i.missing as i64).sum::<i64>(),
        "corruptRecords": [],
        "readLsn": snap.lsn().0 as i64,
    })
}
