//! `create`: an explicit collection creation (options are recorded; the
//! validation options are checked and enforced, see `validation.rs`), and
//! `collMod`, which changes a collection's validation options, a view's
//! definition, or an index's `hidden` and `expireAfterSeconds`.

use argon_store::{WriteMode, WriteOp};
use bson::{doc, Bson, Document};

use super::{Call, Ctx};
use crate::args::collection_name;
use crate::error::{code, CmdResult, CommandError};
use crate::writes;

pub async fn run(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let name = collection_name(&call.cmd, "create")?;
    super::crud_insert::check_writable_collection(&name)?;
    let mut options = Document::new();
    for (k, v) in call.cmd.iter() {
        if !matches!(
            k.as_str(),
            "create"
                | "$db"
                | "lsid"
                | "txnNumber"
                | "$clusterTime"
                | "writeConcern"
                | "autocommit"
                | "startTransaction"
                | "$readPreference"
                | "apiVersion"
                | "apiStrict"
                | "apiDeprecationErrors"
                | "comment"
        ) {
            options.insert(k.clone(), v.clone());
        }
    }
    // (Argon's own key for search indexes: `createSearchIndexes` writes it.)
    if let Some(k) = options.keys().find(|k| *k == super::search_indexes::OPTIONS_KEY) {
        return Err(CommandError::new(
            (40415, "IDLUnknownField"),
            format!("BSON field 'create.{k}' is an unknown field."),
        ));
    }
    // A default collation, stored resolved (none for the simple one).
    if let Some(v) = options.get("collation").cloned() {
        match super::parse_collation(&v)? {
            Some(_) if options.contains_key("viewOn") => return Err(CommandError::new(
                code::NOT_IMPLEMENTED,
                "a view with a default collation is not supported by Argon; give the collation to each query",
            )),
            Some(c) => {
                options.insert("collation", c.to_document());
            }
            None => {
                options.remove("collation");
            }
        }
    }
    crate::validation::check_options(&options, "create")?;
    crate::views::check_definition(&options)?;
    capped_options(&options)?;
    let index = time_series_options(&mut options)?;
    let target = call.target(ctx)?;
    let mut ops = vec![WriteOp::CreateCollection { name: name.clone(), options }];
    if let Some(spec) = index {
        ops.push(WriteOp::CreateIndex { coll: name, spec });
    }
    let outcome = writes::submit(ctx, call, &target, ops, WriteMode::Atomic, None).await?;
    drop(outcome);
    Ok(Document::new())
}

/// `capped: true` needs a positive `size` in bytes; `max` (documents) is
/// optional. The store enforces both (`argon_store::cap_of`: sizes under
/// 4096 bytes become 4096, others a multiple of 256, as in MongoDB).
fn capped_options(options: &Document) -> CmdResult<()> {
    match options.get("capped") {
        None | Some(Bson::Boolean(false)) => return Ok(()),
        Some(Bson::Boolean(true)) => {}
        Some(other) => {
            return Err(CommandError::type_mismatch(format!(
                "BSON field 'create.capped' is the wrong type '{}', expected type 'bool'",
                argon_query::types::type_name(other)
            )))
        }
    }
    if options.contains_key("viewOn") {
        return Err(CommandError::new(code::INVALID_OPTIONS, "a view cannot be capped"));
    }
    let positive = |k: &str| match options.get(k) {
        None => Ok(None),
        Some(v) => match argon_query::numeric::to_f64(v) {
            Some(n) if n > 0.0 => Ok(Some(n)),
            Some(_) if k == "max" => Ok(None), // no limit, as in MongoDB
            _ => Err(CommandError::bad_value(format!(
                "'{k}' of a capped collection must be a positive number, got {v}"
            ))),
        },
    };
    if positive("size")?.is_none() {
        return Err(CommandError::new(
            code::INVALID_OPTIONS,
            "the 'size' field is required when 'capped' is true",
        ));
    }
    positive("max")?;
    Ok(())
}

/// Checks and completes `timeseries` (and `expireAfterSeconds`, which only
/// a time series collection takes) as MongoDB does: `timeField` required,
/// `metaField` another top-level field, `granularity` seconds, minutes or
/// hours (default seconds, with its `bucketMaxSpanSeconds`). Returns the
/// `{metaField: 1, timeField: 1}` index MongoDB creates with it. The
/// documents are stored as in any collection (no buckets); the time field
/// is checked on every write (`validation.rs`) and expiry runs in `ttl.rs`.
fn time_series_options(options: &mut Document) -> CmdResult<Option<Document>> {
    let Some(ts) = options.get("timeseries").cloned() else {
        if options.contains_key("expireAfterSeconds") {
            return Err(CommandError::new(
                code::INVALID_OPTIONS,
                "'expireAfterSeconds' is only supported on time-series collections",
            ));
        }
        return Ok(None);
    };
    let Bson::Document(ts) = ts else {
        return Err(CommandError::type_mismatch(
            "BSON field 'create.timeseries' is the wrong type, expected type 'object'",
        ));
    };
    for k in ["capped", "viewOn", "validator", "clusteredIndex"] {
        if options.contains_key(k) {
            return Err(CommandError::new(
                code::INVALID_OPTIONS,
                format!("Time-series collections cannot be created with the '{k}' option"),
            ));
        }
    }
    let string = |k: &str| -> CmdResult<Option<String>> {
        match ts.get(k) {
            None => Ok(None),
            Some(Bson::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(CommandError::type_mismatch(format!(
                "BSON field 'timeseries.{k}' is the wrong type, expected type 'string'"
            ))),
        }
    };
    let Some(time) = string("timeField")? else {
        return Err(CommandError::new(
            (40414, "Location40414"),
            "BSON field 'timeseries.timeField' is missing but a required field",
        ));
    };
    let meta = string("metaField")?;
    for (what, field) in [("timeField", Some(&time)), ("metaField", meta.as_ref())] {
        if let Some(f) = field {
            if f.is_empty() || f.contains('.') || f.starts_with('$') || f == "_id" {
                return Err(CommandError::bad_value(format!(
                    "The '{what}' ('{f}') must be a non-empty top-level field name other than _id"
                )));
            }
        }
    }
    if meta.as_ref() == Some(&time) {
        return Err(CommandError::bad_value("The 'metaField' and 'timeField' must be different"));
    }
    let granularity = string("granularity")?.unwrap_or_else(|| "seconds".into());
    let span: i32 = match granularity.as_str() {
        "seconds" => 3600,
        "minutes" => 86400,
        "hours" => 2_592_000,
        other => {
            return Err(CommandError::bad_value(format!(
                "Enumeration value '{other}' for field 'timeseries.granularity' is not a valid value."
            )))
        }
    };
    for k in ts.keys() {
        if !matches!(k.as_str(), "timeField" | "metaField" | "granularity" | "bucketMaxSpanSeconds") {
            return Err(CommandError::new(
                (40415, "Location40415"),
                format!("BSON field 'timeseries.{k}' is an unknown field."),
            ));
        }
    }
    if let Some(v) = options.get("expireAfterSeconds") {
        if retention_seconds(v).is_none() {
            return Err(CommandError::new(
                code::INVALID_OPTIONS,
                format!("'expireAfterSeconds' must be a non-negative whole number, got: {v}"),
            ));
        }
    }
    let mut resolved = doc! { "timeField": &time };
    if let Some(m) = &meta {
        resolved.insert("metaField", m);
    }
    resolved.insert("granularity", &granularity);
    // (No buckets are kept; the span is recorded as given or defaulted.)
    let span = match ts.get("bucketMaxSpanSeconds") {
        None => span,
        Some(Bson::Int32(n)) if *n > 0 => *n,
        Some(Bson::Int64(n)) if *n > 0 && *n <= i32::MAX as i64 => *n as i32,
        Some(v) => {
            return Err(CommandError::bad_value(format!(
                "'timeseries.bucketMaxSpanSeconds' must be a positive integer, got: {v}"
            )))
        }
    };
    resolved.insert("bucketMaxSpanSeconds", span);
    options.insert("timeseries", resolved);
    Ok(meta.map(|m| {
        doc! { "v": 2, "key": { &m: 1, &time: 1 }, "name": format!("{m}_1_{time}_1") }
    }))
}

/// A time series collection's `expireAfterSeconds`: a non-negative whole
/// number of any numeric type.
fn retention_seconds(v: &Bson) -> Option<i64> {
    match v {
        Bson::Int32(n) if *n >= 0 => Some(*n as i64),
        Bson::Int64(n) if *n >= 0 => Some(*n),
        Bson::Double(d) if *d >= 0.0 && d.fract() == 0.0 => Some(*d as i64),
        _ => None,
    }
}

/// `collMod`: sets `validator`, `validationLevel` and `validationAction`;
/// a view's `viewOn` and `pipeline`; an index's `hidden` and
/// `expireAfterSeconds` (`index: {name | keyPattern, ...}`). The other
/// options MongoDB's `collMod` has are refused by name.
pub async fn coll_mod(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let name = collection_name(&call.cmd, "collMod")?;
    super::crud_insert::check_writable_collection(&name)?;
    let mut changes = Document::new();
    let mut index_change = None;
    let mut view_change = Document::new();
    let mut expire_change = None;
    let mut cap_change = Document::new();
    for (k, v) in call.cmd.iter() {
        match k.as_str() {
            "collMod"
            | "$db"
            | "lsid"
            | "txnNumber"
            | "$clusterTime"
            | "writeConcern"
            | "$readPreference"
            | "apiVersion"
            | "apiStrict"
            | "apiDeprecationErrors"
            | "comment" => {}
            k if crate::validation::OPTIONS.contains(&k) => {
                changes.insert(k, v.clone());
            }
            "index" => match v {
                Bson::Document(d) => index_change = Some(d.clone()),
                _ => return Err(CommandError::type_mismatch("collMod 'index' must be an object")),
            },
            "viewOn" | "pipeline" => {
                view_change.insert(k, v.clone());
            }
            "expireAfterSeconds" => expire_change = Some(v.clone()),
            "cappedSize" | "cappedMax" => {
                cap_change.insert(k, v.clone());
            }
            "changeStreamPreAndPostImages" | "timeseries" | "recordIdsReplicated" => {
                return Err(CommandError::new(
                    crate::error::code::COMMAND_NOT_SUPPORTED,
                    format!("collMod option '{k}' is not supported by Argon"),
                ))
            }
            k => {
                return Err(CommandError::new(
                    (40415, "IDLUnknownField"),
                    format!("BSON field 'collMod.{k}' is an unknown field."),
                ))
            }
        }
    }
    crate::validation::check_options(&changes, "collMod")?;
    let target = call.target(ctx)?;
    target.writable()?;
    let snap = call.snapshot(ctx, &target)?;
    let Some(current) = snap.collection(&name) else {
        return Err(CommandError::new(
            crate::error::code::NAMESPACE_NOT_FOUND,
            format!("ns does not exist: {}.{name}", call.db),
        ));
    };
    let mut options = current.options.clone();
    let mut reply = Document::new();
    let mut ops = Vec::new();
    // A capped collection's new caps (MongoDB 6.0): the next write trims to them.
    if !cap_change.is_empty() {
        if argon_store::cap_of(&options).is_none() {
            return Err(CommandError::new(
                code::INVALID_OPTIONS,
                format!("collMod cappedSize/cappedMax: {}.{name} is not a capped collection", call.db),
            ));
        }
        for (k, v) in &cap_change {
            let n = argon_query::numeric::to_exact_i64(v).ok_or_else(|| {
                CommandError::type_mismatch(format!("collMod '{k}' must be a whole number, got {v}"))
            })?;
            match (k.as_str(), n) {
                ("cappedSize", n) if n > 0 && n <= 1 << 50 => {
                    options.insert("size", n);
                }
                ("cappedSize", _) => {
                    return Err(CommandError::bad_value("cappedSize must be greater than 0 and at most 1 PB"))
                }
                // Zero or less: no document cap.
                (_, n) if n > 0 => {
                    options.insert("max", n);
                }
                _ => {
                    options.remove("max");
                }
            }
        }
    }
    if !view_change.is_empty() {
        if !crate::views::is_view(&options) {
            return Err(CommandError::new(
                (72, "InvalidOptions"),
                "option viewOn and pipeline can only be set on a view",
            ));
        }
        if !changes.is_empty() || index_change.is_some() {
            return Err(CommandError::new(
                (72, "InvalidOptions"),
                "a view's collMod changes viewOn and pipeline only",
            ));
        }
        // Both, checked as `create` checks them.
        let (Some(Bson::String(on)), Some(Bson::Array(stages))) =
            (view_change.get("viewOn"), view_change.get("pipeline"))
        else {
            return Err(CommandError::new(
                code::BAD_VALUE,
                "a view's collMod must specify both 'viewOn' (a string) and 'pipeline' (an array)",
            ));
        };
        let stages: Vec<Document> = stages.iter().filter_map(|s| s.as_document().cloned()).collect();
        argon_query::Pipeline::parse(&stages)?;
        options.insert("viewOn", on.clone());
        options.insert("pipeline", stages);
    } else if !changes.is_empty() && crate::views::is_view(&options) {
        return Err(CommandError::new(
            (72, "InvalidOptions"),
            format!("collMod of the view {}.{name} changes viewOn and pipeline only", call.db),
        ));
    }
    if let Some(change) = &index_change {
        let (index_name, spec, answer) = index_options(current, change)?;
        reply.extend(answer);
        ops.push(WriteOp::SetIndexOptions { coll: name.clone(), name: index_name, spec });
    }
    drop(snap);
    for (k, v) in changes {
        options.insert(k, v);
    }
    // A time series collection's retention: seconds, or "off".
    if let Some(v) = expire_change {
        if crate::validation::time_field(&options).is_none() {
            return Err(CommandError::new(
                code::INVALID_OPTIONS,
                "collMod 'expireAfterSeconds' is only supported on time-series collections",
            ));
        }
        match (&v, retention_seconds(&v)) {
            (Bson::String(off), _) if off == "off" => {
                options.remove("expireAfterSeconds");
            }
            (_, Some(n)) => {
                options.insert("expireAfterSeconds", n);
            }
            (other, None) => {
                return Err(CommandError::new(
                    code::INVALID_OPTIONS,
                    format!(
                        "'expireAfterSeconds' must be a non-negative whole number or \"off\", got: {other}"
                    ),
                ))
            }
        }
    }
    ops.push(WriteOp::SetCollectionOptions { coll: name, options });
    drop(writes::submit(ctx, call, &target, ops, WriteMode::Atomic, None).await?);
    Ok(reply)
}

/// The index `collMod`'s `index: {name | keyPattern, hidden?,
/// expireAfterSeconds?}` changes, its new spec, and MongoDB's reply fields
/// (`hidden_old`/`hidden_new`, `expireAfterSeconds_old`/`_new`).
fn index_options(
    coll: &argon_store::CollectionMeta,
    change: &Document,
) -> CmdResult<(String, Document, Document)> {
    let not_found =
        |what: String| CommandError::new((27, "IndexNotFound"), format!("cannot find index {what}"));
    let index = match (change.get("name"), change.get("keyPattern")) {
        (Some(Bson::String(n)), None) if n == "_id_" => {
            return Err(CommandError::bad_value("cannot modify the _id index"))
        }
        (None, Some(Bson::Document(k))) if k == &doc! {"_id": 1} => {
            return Err(CommandError::bad_value("cannot modify the _id index"))
        }
        (Some(Bson::String(n)), None) => {
            coll.indexes.iter().find(|i| i.name() == n).ok_or_else(|| not_found(n.clone()))?
        }
        (None, Some(Bson::Document(k))) => coll
            .indexes
            .iter()
            .find(|i| i.spec.get_document("key").ok() == Some(k))
            .ok_or_else(|| not_found(k.to_string()))?,
        _ => {
            return Err(CommandError::new(
                (72, "InvalidOptions"),
                "collMod 'index' must name the index by exactly one of 'name' or 'keyPattern'",
            ))
        }
    };
    let mut spec = index.spec.clone();
    let mut reply = Document::new();
    let mut changed = false;
    for (k, v) in change {
        match (k.as_str(), v) {
            ("name" | "keyPattern", _) => {}
            ("hidden", Bson::Boolean(hidden)) => {
                let old = crate::planner::is_hidden(&spec);
                if old != *hidden {
                    reply.insert("hidden_old", old);
                    reply.insert("hidden_new", *hidden);
                }
                if *hidden {
                    spec.insert("hidden", true);
                } else {
                    spec.remove("hidden");
                }
                changed = true;
            }
            ("expireAfterSeconds", v) => {
                let Some(old) = spec.get("expireAfterSeconds").cloned() else {
                    return Err(CommandError::new(
                        (72, "InvalidOptions"),
                        "no expireAfterSeconds field to update: the index is not a TTL index",
                    ));
                };
                let secs = match v {
                    Bson::Int32(n) => i64::from(*n),
                    Bson::Int64(n) => *n,
                    Bson::Double(d) if d.fract() == 0.0 => *d as i64,
                    _ => return Err(CommandError::type_mismatch("expireAfterSeconds must be a number")),
                };
                if !(0..=i64::from(i32::MAX)).contains(&secs) {
                    return Err(CommandError::new(
                        (72, "InvalidOptions"),
                        format!("invalid expireAfterSeconds {secs}: must be between 0 and 2147483647"),
                    ));
                }
                if old.as_i64().or(old.as_i32().map(i64::from)) != Some(secs) {
                    reply.insert("expireAfterSeconds_old", old);
                    reply.insert("expireAfterSeconds_new", secs);
                }
                spec.insert("expireAfterSeconds", secs);
                changed = true;
            }
            ("hidden", _) => {
                return Err(CommandError::type_mismatch("collMod 'index.hidden' must be a boolean"))
            }
            ("unique" | "prepareUnique" | "forceNonUnique", _) => {
                return Err(CommandError::new(
                    code::COMMAND_NOT_SUPPORTED,
                    format!("collMod index option '{k}' is not supported by Argon"),
                ))
            }
            _ => {
                return Err(CommandError::new(
                    (40415, "IDLUnknownField"),
                    format!("BSON field 'collMod.index.{k}' is an unknown field."),
                ))
            }
        }
    }
    if !changed {
        return Err(CommandError::new(
            (72, "InvalidOptions"),
            "no expireAfterSeconds or hidden field to update",
        ));
    }
    Ok((index.name().to_string(), spec, reply))
}

/// `convertToCapped: <coll>, size, max?` and `cloneCollectionAsCapped:
/// <from>, toCollection, size, max?`: the documents (in `_id` order, the
/// collection's order before it was capped) copied into a new capped
/// collection in one atomic commit, which keeps only the newest that fit;
/// `convertToCapped` then renames it over the original (whose secondary
/// indexes go, as in MongoDB).
pub async fn to_capped(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let convert = call.name == "convertToCapped";
    let from = collection_name(&call.cmd, &call.name)?;
    let to = if convert {
        from.clone()
    } else {
        match call.cmd.get("toCollection") {
            Some(Bson::String(t)) if !t.is_empty() => t.clone(),
            Some(_) => return Err(CommandError::type_mismatch("'toCollection' must be a non-empty string")),
            None => return Err(crate::args::missing("cloneCollectionAsCapped", "toCollection")),
        }
    };
    super::crud_insert::check_writable_collection(&to)?;
    let Some(size) = call.cmd.get("size") else { return Err(crate::args::missing(&call.name, "size")) };
    let mut options = doc! { "capped": true, "size": size.clone() };
    if let Some(max) = call.cmd.get("max") {
        options.insert("max", max.clone());
    }
    capped_options(&options)?;
    let target = call.target(ctx)?;
    target.writable()?;
    let snap = call.snapshot(ctx, &target)?;
    let Some(source) = snap.collection(&from) else {
        return Err(CommandError::new(
            code::NAMESPACE_NOT_FOUND,
            format!("source collection {}.{from} does not exist", call.db),
        ));
    };
    if crate::views::is_view(&source.options) {
        return Err(CommandError::new(
            code::COMMAND_NOT_SUPPORTED_ON_VIEW,
            format!("{}.{from} is a view, not a collection", call.db),
        ));
    }
    if !convert && snap.collection(&to).is_some() {
        return Err(CommandError::new(
            code::NAMESPACE_EXISTS,
            format!("collection {}.{to} already exists", call.db),
        ));
    }
    let docs = crate::ops::long_running(|| Ok(snap.scan(&from)?.collect::<Result<Vec<_>, _>>()?))?;
    drop(snap);
    // Built under a temporary name, then renamed over the original.
    let building = if convert {
        format!("tmp{}.convertToCapped.{from}", bson::oid::ObjectId::new())
    } else {
        to.clone()
    };
    let mut ops = vec![WriteOp::CreateCollection { name: building.clone(), options }];
    ops.extend(docs.into_iter().map(|doc| WriteOp::Insert { coll: building.clone(), doc }));
    if convert {
        ops.push(WriteOp::RenameCollection { from: building, to, drop_target: true });
    }
    std::mem::drop(writes::submit(ctx, call, &target, ops, WriteMode::Atomic, None).await?);
    Ok(Document::new())
}
