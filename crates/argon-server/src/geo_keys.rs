//! Geospatial index keys: MongoDB refuses documents its `2dsphere` and `2d`
//! indexes cannot hold (16755 "Can't extract geo keys" for malformed
//! GeoJSON or coordinates out of bounds; 16804/13027 for a `2d` index), on
//! insert, on update and when such an index is created over existing
//! documents. Argon checks the same; the index entries themselves are
//! ordinary (never used to plan queries, see `planner`), and geo queries
//! scan.

use argon_query::Filter;
use argon_store::{CollectionMeta, Snapshot};
use bson::{Bson, Document};

use crate::error::CmdResult;
use crate::source::{Source, Want};
use crate::state::{ServerState, Target};

/// The geospatial fields of a collection's indexes: (path, `"2d"` or
/// `"2dsphere"`).
#[derive(Default)]
pub struct GeoKeys {
    fields: Vec<(String, String)>,
}

/// The geospatial fields of one index spec.
fn spec_fields(spec: &Document) -> Vec<(String, String)> {
    let Ok(key) = spec.get_document("key") else { return Vec::new() };
    key.iter()
        .filter_map(|(f, k)| match k {
            Bson::String(k) if k == "2d" || k == "2dsphere" => Some((f.clone(), k.clone())),
            _ => None,
        })
        .collect()
}

impl GeoKeys {
    pub fn of(meta: Option<&CollectionMeta>) -> GeoKeys {
        let fields = meta.map(|m| m.indexes.iter().flat_map(|ix| spec_fields(&ix.spec)).collect());
        GeoKeys { fields: fields.unwrap_or_default() }
    }

    /// The collection's geo index fields at the head of the target branch.
    pub fn for_target(state: &ServerState, target: &Target, coll: &str) -> GeoKeys {
        match state.store.head_catalog(&target.project, &target.branch) {
            Ok(catalog) => GeoKeys::of(catalog.get(coll)),
            Err(_) => GeoKeys::default(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Fails when a geo index cannot hold the document.
    pub fn check(&self, doc: &Document) -> CmdResult<()> {
        for (field, kind) in &self.fields {
            if let Some(e) = argon_query::geo::index_key_error(doc, field, kind) {
                return Err(e.into());
            }
        }
        Ok(())
    }
}

/// Before creating the index `spec`: fails when an existing document of
/// the collection cannot be indexed by its geospatial fields.
pub fn check_existing(snap: &Snapshot, coll: &str, spec: &Document) -> CmdResult<()> {
    let keys = GeoKeys { fields: spec_fields(spec) };
    if keys.is_empty() || snap.collection(coll).is_none() {
        return Ok(());
    }
    let src = Source { snap, overlay: None };
    src.scan_matching(coll, &Filter::match_all(), Want::Whole, &mut |d| {
        keys.check(&d)?;
        Ok(true)
    })?;
    Ok(())
}
