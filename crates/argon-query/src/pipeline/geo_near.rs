//! `$geoNear`: the documents nearest to a point first, each with its
//! distance (and optionally the location it was measured to).
//!
//! The stage needs the collection's geospatial index to know which field
//! to read and how to measure, so the server runs it
//! ([`Pipeline::geo_near`](super::Pipeline::geo_near)): it picks the index
//! (`key`, or the only `2d`/`2dsphere` index), then hands the documents to
//! [`GeoNear::run`] and the rest of the pipeline to
//! [`Pipeline::run_after_geo_near`](super::Pipeline::run_after_geo_near).
//!
//! Distances: meters for a GeoJSON `near`; for a legacy pair, radians when
//! `spherical` or when the index is `2dsphere`, else planar units (a `2d`
//! index). `maxDistance`/`minDistance` use the same units, and
//! `distanceMultiplier` scales only the output.

use bson::{Bson, Document};

use super::stages::set_in_documents;
use crate::error::{codes, err, ErrorCode, QueryError, Result};
use crate::filter::Filter;
use crate::geo::{Metric, NearQuery};
use crate::path::{visit, LeafArrays, Path};

/// A parsed `$geoNear` stage.
#[derive(Clone, Debug)]
pub struct GeoNear {
    point: (f64, f64),
    geojson: bool,
    spherical: bool,
    min: Option<f64>,
    max: Option<f64>,
    distance_field: Vec<String>,
    include_locs: Option<Vec<String>>,
    multiplier: Option<f64>,
    query: Filter,
    key: Option<String>,
}

fn code(code: i32, name: &'static str) -> ErrorCode {
    ErrorCode { code, name }
}

fn number(name: &str, v: &Bson) -> Result<f64> {
    match crate::numeric::to_f64(v).filter(|_| crate::numeric::is_number(v)) {
        Some(n) if n >= 0.0 => Ok(n),
        Some(_) => err(codes::BAD_VALUE, format!("{name} must be nonnegative")),
        None => err(codes::TYPE_MISMATCH, format!("{name} must be a number")),
    }
}

fn field_path(name: &str, v: &Bson) -> Result<Vec<String>> {
    match v {
        Bson::String(s) if !s.is_empty() && !s.starts_with('$') => {
            Ok(s.split('.').map(str::to_string).collect())
        }
        Bson::String(_) => err(codes::BAD_VALUE, format!("$geoNear '{name}' must be a valid field path")),
        _ => err(code(16606, "Location16606"), format!("$geoNear requires a '{name}' option as a String")),
    }
}

impl GeoNear {
    /// Parses the stage's argument.
    pub(crate) fn parse(arg: &Bson) -> Result<GeoNear> {
        let Bson::Document(spec) = arg else {
            return err(code(10065, "Location10065"), "invalid parameter: expected an object ($geoNear)");
        };
        let mut near = None;
        let mut g = GeoNear {
            point: (0.0, 0.0),
            geojson: false,
            spherical: false,
            min: None,
            max: None,
            distance_field: Vec::new(),
            include_locs: None,
            multiplier: None,
            query: Filter::match_all(),
            key: None,
        };
        for (k, v) in spec {
            match k.as_str() {
                "near" => near = Some(crate::geo::parse_near_point(v)?),
                "distanceField" => g.distance_field = field_path("distanceField", v)?,
                "includeLocs" => g.include_locs = Some(field_path("includeLocs", v)?),
                "spherical" => g.spherical = crate::expr::truthy(&Some(v.clone())),
                "maxDistance" => g.max = Some(number("maxDistance", v)?),
                "minDistance" => g.min = Some(number("minDistance", v)?),
                "distanceMultiplier" => g.multiplier = Some(number("distanceMultiplier", v)?),
                "query" => {
                    let Bson::Document(q) = v else {
                        return err(codes::TYPE_MISMATCH, "query must be an object");
                    };
                    let f = Filter::parse(q)?;
                    if f.has_near() {
                        return err(
                            codes::BAD_VALUE,
                            "$geoNear, $near, and $nearSphere are not allowed in this context",
                        );
                    }
                    if f.has_text() {
                        return err(codes::BAD_VALUE, "text and geoNear not allowed in same query");
                    }
                    g.query = f;
                }
                "key" => match v {
                    Bson::String(s) if s.is_empty() => {
                        return err(codes::BAD_VALUE, "$geoNear parameter 'key' cannot be the empty string")
                    }
                    Bson::String(s) => g.key = Some(s.clone()),
                    other => {
                        return err(
                            codes::TYPE_MISMATCH,
                            format!(
                                "$geoNear parameter 'key' must be of type string but found type: {}",
                                crate::types::type_name(other)
                            ),
                        )
                    }
                },
                "uniqueDocs" => {}
                _ => return err(codes::BAD_VALUE, format!("Unknown argument to $geoNear: {k}")),
            }
        }
        let Some((point, geojson)) = near else {
            return err(codes::BAD_VALUE, "$geoNear requires a 'near' option as an Array");
        };
        if g.distance_field.is_empty() {
            return err(
                code(16606, "Location16606"),
                "$geoNear requires a 'distanceField' option as a String",
            );
        }
        g.point = point;
        g.geojson = geojson;
        Ok(g)
    }

    /// The indexed field named by `key`, if given.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// Whether `near` is a GeoJSON point (which needs a `2dsphere` index).
    pub fn is_geojson(&self) -> bool {
        self.geojson
    }

    /// The `query` documents must also match.
    pub fn query(&self) -> &Filter {
        &self.query
    }

    /// The near condition when the field's index has type `index_type`
    /// (`"2d"` or `"2dsphere"`); an error when that index cannot answer it.
    pub fn near_query(&self, index_type: &str) -> Result<NearQuery> {
        let metric = if self.geojson {
            Metric::Meters
        } else if self.spherical || index_type == "2dsphere" {
            Metric::Radians
        } else {
            Metric::Flat
        };
        if !metric.index_types().contains(&index_type) {
            return Err(QueryError::new(
                codes::NO_QUERY_EXECUTION_PLANS,
                "error processing query: planner returned error :: caused by :: unable to find index for $geoNear query",
            ));
        }
        if metric == Metric::Radians
            && !((-180.0..=180.0).contains(&self.point.0) && (-90.0..=90.0).contains(&self.point.1))
        {
            return err(codes::BAD_VALUE, "legacy point is not geo");
        }
        Ok(NearQuery { point: self.point, metric, min: self.min, max: self.max })
    }

    /// The documents matching `query` with a geometry at `key` within the
    /// distance bounds, nearest first (ties in input order), each with
    /// its distance (and location) set.
    pub fn run(
        &self,
        docs: &mut dyn Iterator<Item = Result<Document>>,
        key: &str,
        index_type: &str,
    ) -> Result<Vec<Document>> {
        let near = self.near_query(index_type)?;
        let parts = Path::parse(key).parts;
        let mut hits: Vec<(f64, Document)> = Vec::new();
        for d in docs {
            let mut d = d?;
            if !self.query.try_matches(&d)? {
                continue;
            }
            let mut best: Option<(f64, Bson)> = None;
            visit(&d, &parts, LeafArrays::NoTraversal, &mut |v, _| {
                if let Some((dist, loc)) = v.and_then(|v| near.nearest(v)) {
                    if best.as_ref().is_none_or(|(b, _)| dist < *b) {
                        best = Some((dist, loc.clone()));
                    }
                }
                false
            });
            let Some((dist, loc)) = best else { continue };
            let shown = dist * self.multiplier.unwrap_or(1.0);
            set_in_documents(&mut d, &self.distance_field, Some(Bson::Double(shown)));
            if let Some(p) = &self.include_locs {
                set_in_documents(&mut d, p, Some(loc));
            }
            hits.push((dist, d));
        }
        hits.sort_by(|a, b| a.0.total_cmp(&b.0));
        Ok(hits.into_iter().map(|(_, d)| d).collect())
    }
}
