//! Geospatial queries: `$geoWithin`, `$geoIntersects`, `$near`,
//! `$nearSphere` and the distances of `$geoNear`.
//!
//! Stored values a query looks at (anything else never matches):
//!
//! - GeoJSON objects `{type, coordinates}` (or `{type:
//!   "GeometryCollection", geometries}`), on the sphere, longitude first;
//! - legacy coordinate pairs: `[x, y]`, or the first two fields of an
//!   embedded document (`{lng: 1, lat: 2}`);
//! - arrays of these (a value matches when one of them does).
//!
//! GeoJSON shapes are spherical: edges are great-circle arcs (see
//! [`sphere`]), a polygon bounds the smaller of the two regions its outer
//! ring splits the sphere into, and distances are great-circle distances
//! (in meters on a sphere of radius [`EARTH_RADIUS_METERS`], as MongoDB).
//! Legacy shapes (`$box`, `$polygon`, `$center`) and `$near` with a legacy
//! point are planar (see [`planar`]); `$centerSphere` and `$nearSphere`
//! with a legacy point are spherical, in radians. A legacy point takes
//! part in spherical queries when it is a valid longitude/latitude.
//!
//! Evaluation is exact geometry per document: there is no geo index
//! structure, so queries scan (a `2d`/`2dsphere` index is only required
//! where MongoDB requires one, for `$near`).

mod planar;
mod sphere;

use bson::{Bson, Document};

use crate::display;
use crate::error::{codes, ErrorCode, QueryError, Result};
use planar::P2;
use sphere::{Ring, SpherePolygon, V3};

/// MongoDB's Earth radius for spherical distances in meters.
pub const EARTH_RADIUS_METERS: f64 = 6_378_100.0;

/// "Can't extract geo keys": a document a `2dsphere` index cannot hold.
pub const CANT_EXTRACT_GEO_KEYS: ErrorCode = ErrorCode { code: 16755, name: "Location16755" };
/// A `2d` index value that is not a coordinate pair.
pub const NOT_LEGACY_POINT: ErrorCode = ErrorCode { code: 16804, name: "Location16804" };
/// A `2d` index point outside the index's bounds.
pub const POINT_OUT_OF_BOUNDS: ErrorCode = ErrorCode { code: 13027, name: "Location13027" };
/// `$near` in an aggregation `$match`.
pub const NEAR_IN_MATCH: ErrorCode = ErrorCode { code: 5626500, name: "Location5626500" };

fn bad(msg: impl Into<String>) -> QueryError {
    QueryError::new(codes::BAD_VALUE, msg)
}

/// A GeoJSON geometry on the sphere.
#[derive(Clone, Debug)]
pub enum Geometry {
    Point(V3),
    LineString(Vec<V3>),
    Polygon(SpherePolygon),
    MultiPoint(Vec<V3>),
    MultiLineString(Vec<Vec<V3>>),
    MultiPolygon(Vec<SpherePolygon>),
    Collection(Vec<Geometry>),
}

/// The two numbers of a coordinate pair: the first two elements of an
/// array or fields of a document (more are ignored); `None` unless both
/// are numbers.
fn pair(v: &Bson) -> Option<P2> {
    let (x, y) = match v {
        Bson::Array(a) => (a.first()?, a.get(1)?),
        Bson::Document(d) => {
            let mut it = d.values();
            (it.next()?, it.next()?)
        }
        _ => return None,
    };
    if !is_num(x) || !is_num(y) {
        return None;
    }
    Some((crate::numeric::to_f64(x)?, crate::numeric::to_f64(y)?))
}

fn is_num(v: &Bson) -> bool {
    crate::numeric::is_number(v)
}

fn valid_lng_lat(p: P2) -> bool {
    (-180.0..=180.0).contains(&p.0) && (-90.0..=90.0).contains(&p.1)
}

/// A GeoJSON position: an array of at least two numbers, a valid
/// longitude and latitude.
fn position(v: &Bson) -> std::result::Result<V3, String> {
    let Bson::Array(a) = v else {
        return Err("GeoJSON coordinates must be an array".into());
    };
    if a.len() < 2 || !a.iter().all(is_num) {
        return Err(format!("GeoJSON coordinates must be an array of numbers: {}", display::value(v)));
    }
    let p = pair(v).expect("numbers");
    if !valid_lng_lat(p) {
        return Err(format!("longitude/latitude is out of bounds, lng: {} lat: {}", p.0, p.1));
    }
    Ok(sphere::from_lng_lat(p.0, p.1))
}

fn positions(v: &[Bson]) -> std::result::Result<Vec<V3>, String> {
    v.iter().map(position).collect()
}

/// Drops consecutive repeats of a vertex.
fn dedup(mut pts: Vec<V3>) -> Vec<V3> {
    pts.dedup_by(|a, b| sphere::angle(*a, *b) < 1e-15);
    pts
}

fn line_string(coords: &[Bson]) -> std::result::Result<Vec<V3>, String> {
    if coords.len() < 2 {
        return Err(format!(
            "GeoJSON LineString must have at least 2 vertices: {}",
            display::value(&Bson::Array(coords.to_vec()))
        ));
    }
    Ok(dedup(positions(coords)?))
}

/// A polygon ring; `strict` also checks that its edges do not cross
/// (quadratic: done for queries and index keys, not for stored values a
/// query reads).
fn ring(v: &Bson, strict: bool) -> std::result::Result<Ring, String> {
    let Bson::Array(coords) = v else {
        return Err("Polygon loop must be an array".into());
    };
    let shown = || display::value(v);
    let pts = positions(coords)?;
    if pts.len() < 4 {
        return Err(format!("Loop must have at least 3 different vertices: {}", shown()));
    }
    if sphere::angle(pts[0], pts[pts.len() - 1]) > 1e-15 {
        return Err(format!("Loop is not closed, first vertex does not equal last vertex: {}", shown()));
    }
    let mut pts = dedup(pts);
    pts.pop(); // the closing repeat
    if pts.len() < 3 {
        return Err(format!("Loop must have at least 3 different vertices: {}", shown()));
    }
    let r = Ring::new(pts).ok_or_else(|| {
        format!(
            "Loop is not valid: {} :: caused by :: Argon supports loops that fit in a hemisphere",
            shown()
        )
    })?;
    if let Some((i, j)) = r.self_crossing().filter(|_| strict) {
        return Err(format!("Loop is not valid: {} Edges {i} and {j} cross", shown()));
    }
    Ok(r)
}

fn polygon(coords: &[Bson], strict: bool) -> std::result::Result<SpherePolygon, String> {
    if coords.is_empty() {
        return Err("Polygon has no loops.".into());
    }
    let rings = coords.iter().map(|r| ring(r, strict)).collect::<std::result::Result<Vec<_>, _>>()?;
    let outer = &rings[0];
    for hole in &rings[1..] {
        if !hole.verts.iter().all(|v| outer.contains(*v, true)) {
            return Err(format!(
                "Secondary loops not contained by first exterior loop - secondary loops must be holes: {}",
                display::value(&Bson::Array(coords.to_vec()))
            ));
        }
    }
    Ok(SpherePolygon { rings })
}

fn arrays<'a>(v: &'a Bson, what: &str) -> std::result::Result<&'a [Bson], String> {
    match v {
        Bson::Array(a) => Ok(a),
        _ => Err(format!("{what} must be an array")),
    }
}

/// Parses a GeoJSON object; the error is MongoDB's reason.
pub fn parse_geojson(d: &Document) -> std::result::Result<Geometry, String> {
    parse_geojson_with(d, true)
}

fn parse_geojson_with(d: &Document, strict: bool) -> std::result::Result<Geometry, String> {
    let unknown = || format!("unknown GeoJSON type: {}", display::document(d));
    let Some(Bson::String(kind)) = d.get("type") else { return Err(unknown()) };
    if let Some(crs) = d.get("crs") {
        let name = match crs {
            Bson::Document(c) => c.get_document("properties").ok().and_then(|p| p.get_str("name").ok()),
            _ => None,
        };
        match name {
            Some("EPSG:4326" | "urn:ogc:def:crs:OGC:1.3:CRS84" | "urn:ogc:def:crs:EPSG::4326") => {}
            Some("urn:x-mongodb:crs:strictwinding:EPSG:4326") => {
                return Err("strict winding order (big polygon) CRS is not supported by Argon".into())
            }
            _ => return Err(format!("GeoJSON CRS not supported: {}", display::value(crs))),
        }
    }
    if kind == "GeometryCollection" {
        let Some(Bson::Array(items)) = d.get("geometries") else {
            return Err("GeometryCollection geometries must be an array".into());
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, g) in items.iter().enumerate() {
            let Bson::Document(g) = g else {
                return Err(format!("Element {i} of \"geometries\" is not an object"));
            };
            out.push(parse_geojson_with(g, strict)?);
        }
        return Ok(Geometry::Collection(out));
    }
    let coords = match d.get("coordinates") {
        Some(Bson::Array(c)) => c.as_slice(),
        _ if matches!(
            kind.as_str(),
            "Point" | "LineString" | "Polygon" | "MultiPoint" | "MultiLineString" | "MultiPolygon"
        ) =>
        {
            return Err("coordinates must be an array".into())
        }
        _ => return Err(unknown()),
    };
    Ok(match kind.as_str() {
        "Point" => Geometry::Point(position(&Bson::Array(coords.to_vec()))?),
        "LineString" => Geometry::LineString(line_string(coords)?),
        "Polygon" => Geometry::Polygon(polygon(coords, strict)?),
        "MultiPoint" => {
            if coords.is_empty() {
                return Err("MultiPoint coordinates must have at least 1 element".into());
            }
            Geometry::MultiPoint(positions(coords)?)
        }
        "MultiLineString" => {
            if coords.is_empty() {
                return Err("MultiLineString coordinates must have at least 1 element".into());
            }
            let lines = coords
                .iter()
                .map(|l| line_string(arrays(l, "MultiLineString coordinates")?))
                .collect::<std::result::Result<_, String>>()?;
            Geometry::MultiLineString(lines)
        }
        "MultiPolygon" => {
            if coords.is_empty() {
                return Err("MultiPolygon coordinates must have at least 1 element".into());
            }
            let polys = coords
                .iter()
                .map(|p| polygon(arrays(p, "Polygon coordinates")?, strict))
                .collect::<std::result::Result<_, String>>()?;
            Geometry::MultiPolygon(polys)
        }
        _ => return Err(unknown()),
    })
}

/// One geometry found in a stored value.
#[derive(Clone, Debug)]
pub enum Stored {
    /// A legacy coordinate pair.
    Flat(P2),
    /// A GeoJSON object (with its coordinates when it is a point).
    GeoJson(Geometry, Option<P2>),
}

impl Stored {
    /// The point in the plane, for legacy (flat) queries.
    fn flat_point(&self) -> Option<P2> {
        match self {
            Stored::Flat(p) => Some(*p),
            Stored::GeoJson(_, p) => *p,
        }
    }

    /// The geometry on the sphere, for GeoJSON and spherical queries.
    fn sphere(&self) -> Option<Geometry> {
        match self {
            Stored::Flat(p) if valid_lng_lat(*p) => Some(Geometry::Point(sphere::from_lng_lat(p.0, p.1))),
            Stored::Flat(_) => None,
            Stored::GeoJson(g, _) => Some(g.clone()),
        }
    }
}

fn stored_one(v: &Bson) -> Option<Stored> {
    if let Some(p) = pair(v) {
        return Some(Stored::Flat(p));
    }
    let Bson::Document(d) = v else { return None };
    let g = parse_geojson_with(d, false).ok()?;
    let flat = match (&g, d.get("coordinates")) {
        (Geometry::Point(_), Some(c)) => pair(c),
        _ => None,
    };
    Some(Stored::GeoJson(g, flat))
}

/// The geometries of a stored value: the value itself, or the elements of
/// an array that is not a coordinate pair.
pub fn stored_geometries(v: &Bson) -> Vec<(Stored, &Bson)> {
    if let Some(s) = stored_one(v) {
        return vec![(s, v)];
    }
    match v {
        Bson::Array(items) => items.iter().filter_map(|i| stored_one(i).map(|s| (s, i))).collect(),
        _ => Vec::new(),
    }
}

/// Why a value cannot be a key of a `2dsphere` index (`None`: it can;
/// missing values and null are not indexed).
pub fn sphere_key_error(field: &str, v: &Bson) -> Option<String> {
    let one = |v: &Bson| -> Option<String> {
        if let Some(p) = pair(v) {
            return (!valid_lng_lat(p))
                .then(|| format!("longitude/latitude is out of bounds, lng: {} lat: {}", p.0, p.1));
        }
        match v {
            Bson::Document(d) => parse_geojson(d).err(),
            other => Some(format!(
                "Point must be an array or object, instead got type {}",
                crate::types::type_name(other)
            )),
        }
    };
    match v {
        Bson::Null | Bson::Undefined => None,
        Bson::Array(items) if pair(v).is_none() => items.iter().find_map(one),
        Bson::Array(_) | Bson::Document(_) => one(v),
        other => Some(format!("geo element must be an array or object: {}", display::element(field, other))),
    }
}

/// Why a value cannot be a key of a `2d` index with bounds [-180, 180)
/// (`None`: it can), with the error code.
pub fn flat_key_error(v: &Bson) -> Option<(ErrorCode, String)> {
    let one = |v: &Bson| -> Option<(ErrorCode, String)> {
        let Some(p) = pair(v) else {
            return Some((
                NOT_LEGACY_POINT,
                "location object expected, location array not in correct format".into(),
            ));
        };
        let inside = |c: f64| (-180.0..180.0).contains(&c);
        (!inside(p.0) || !inside(p.1))
            .then(|| (POINT_OUT_OF_BOUNDS, "point not in interval of [ -180, 180 )".into()))
    };
    match v {
        Bson::Array(items)
            if pair(v).is_none() && items.iter().all(|i| matches!(i, Bson::Array(_) | Bson::Document(_))) =>
        {
            items.iter().find_map(one)
        }
        Bson::Array(_) | Bson::Document(_) => one(v),
        _ => None, // not indexed
    }
}

/// Why a document cannot be indexed by a geospatial index on `field` of
/// type `kind` (`"2d"` or `"2dsphere"`), with MongoDB's code and message;
/// `None` when it can (or the index type is not geospatial).
pub fn index_key_error(doc: &Document, field: &str, kind: &str) -> Option<QueryError> {
    let parts = crate::path::Path::parse(field).parts;
    let mut found = None;
    crate::path::visit(doc, &parts, crate::path::LeafArrays::NoTraversal, &mut |v, _| {
        let Some(v) = v else { return false };
        found = match kind {
            "2dsphere" => sphere_key_error(field, v).map(|reason| {
                QueryError::new(
                    CANT_EXTRACT_GEO_KEYS,
                    format!("Can't extract geo keys: {}  {reason}", display::document(doc)),
                )
            }),
            "2d" => flat_key_error(v).map(|(code, reason)| {
                let reason = if code == POINT_OUT_OF_BOUNDS {
                    format!("{reason} :: caused by :: {}", display::document(doc))
                } else {
                    reason
                };
                QueryError::new(code, reason)
            }),
            _ => None,
        };
        found.is_some()
    });
    found
}

/// A legacy point in a query: `[x, y]` or `{x: .., y: ..}`.
fn query_point(v: &Bson) -> Result<P2> {
    match v {
        Bson::Array(_) | Bson::Document(_) => {
            pair(v).ok_or_else(|| bad("Point must only contain numeric elements"))
        }
        other => Err(bad(format!(
            "Point must be an array or object, instead got type {}",
            crate::types::type_name(other)
        ))),
    }
}

fn non_negative(v: &Bson, what: &str) -> Result<f64> {
    let r = is_num(v).then(|| crate::numeric::to_f64(v)).flatten();
    match r {
        Some(r) if r >= 0.0 && !r.is_nan() => Ok(r),
        _ => Err(bad(format!("{what} must be a non-negative number"))),
    }
}

/// The region of a `$geoWithin`.
#[derive(Clone, Debug)]
pub enum Region {
    /// `$geometry` Polygon or MultiPolygon.
    Polygons(Vec<SpherePolygon>),
    /// `$centerSphere`: a centre and a radius in radians.
    CenterSphere(V3, f64),
    /// `$box`: lower-left and upper-right corners.
    Box(P2, P2),
    /// `$polygon`.
    Polygon(Vec<P2>),
    /// `$center`: a centre and a radius.
    Center(P2, f64),
}

/// A `$geoWithin` or `$geoIntersects` condition.
#[derive(Clone, Debug)]
pub enum GeoQuery {
    Within(Region),
    Intersects(Geometry),
}

fn query_geometry(v: &Bson) -> Result<Geometry> {
    let Bson::Document(d) = v else {
        return Err(bad(format!("geometry must be an object: {}", display::element("$geometry", v))));
    };
    parse_geojson(d)
        .map_err(|reason| bad(format!("Invalid GeoJSON: {} :: caused by :: {reason}", display::document(d))))
}

impl GeoQuery {
    /// Parses the argument of `$geoWithin` (or `$within`) or
    /// `$geoIntersects`.
    pub fn parse(op: &str, value: &Bson) -> Result<GeoQuery> {
        let Bson::Document(spec) = value else {
            return Err(bad(format!("{op} must be an object: {}", display::element(op, value))));
        };
        let Some((shape, arg)) = spec.iter().next() else {
            return Err(bad(format!("{op} requires a geometry: {}", display::element(op, value))));
        };
        if op == "$geoIntersects" {
            if shape != "$geometry" {
                return Err(bad(format!("unknown geo specifier: {}", display::element(shape, arg))));
            }
            return Ok(GeoQuery::Intersects(query_geometry(arg)?));
        }
        let region = match shape.as_str() {
            "$geometry" => match query_geometry(arg)? {
                Geometry::Polygon(p) => Region::Polygons(vec![p]),
                Geometry::MultiPolygon(ps) => Region::Polygons(ps),
                _ => {
                    return Err(bad(format!(
                        "$geoWithin not supported with provided geometry: {}",
                        display::value(value)
                    )))
                }
            },
            "$box" => {
                let Bson::Array(corners) = arg else {
                    return Err(bad("$box must be an array of two points"));
                };
                if corners.len() != 2 {
                    return Err(bad("Box must only contain two points"));
                }
                let (a, b) = (query_point(&corners[0])?, query_point(&corners[1])?);
                Region::Box((a.0.min(b.0), a.1.min(b.1)), (a.0.max(b.0), a.1.max(b.1)))
            }
            "$polygon" => {
                let Bson::Array(pts) = arg else { return Err(bad("$polygon must be an array of points")) };
                if pts.len() < 3 {
                    return Err(bad("Polygon must have at least 3 points"));
                }
                Region::Polygon(pts.iter().map(query_point).collect::<Result<_>>()?)
            }
            "$center" | "$centerSphere" => {
                let parts = match arg {
                    Bson::Array(a) if a.len() == 2 => a,
                    _ => return Err(bad(format!("{shape} must be an array of a point and a radius"))),
                };
                let c = query_point(&parts[0])?;
                let r = non_negative(&parts[1], "radius")?;
                if shape == "$center" {
                    Region::Center(c, r)
                } else {
                    if !valid_lng_lat(c) {
                        return Err(bad(
                            "Spherical MaxDistance query point is not a valid longitude/latitude",
                        ));
                    }
                    Region::CenterSphere(sphere::from_lng_lat(c.0, c.1), r)
                }
            }
            "$uniqueDocs" => return Err(bad("$uniqueDocs must come after the geometry")),
            _ => return Err(bad(format!("unknown geo specifier: {}", display::element(shape, arg)))),
        };
        Ok(GeoQuery::Within(region))
    }

    /// Whether a stored value (or one geometry of an array) satisfies the
    /// condition.
    pub fn matches(&self, v: &Bson) -> bool {
        stored_geometries(v).iter().any(|(s, _)| self.matches_stored(s))
    }

    fn matches_stored(&self, s: &Stored) -> bool {
        match self {
            GeoQuery::Within(Region::Box(lo, hi)) => {
                s.flat_point().is_some_and(|p| p.0 >= lo.0 && p.0 <= hi.0 && p.1 >= lo.1 && p.1 <= hi.1)
            }
            GeoQuery::Within(Region::Polygon(ring)) => {
                s.flat_point().is_some_and(|p| planar::in_ring(p, ring, true))
            }
            GeoQuery::Within(Region::Center(c, r)) => {
                s.flat_point().is_some_and(|p| planar::distance(p, *c) <= *r)
            }
            GeoQuery::Within(Region::CenterSphere(c, r)) => s.sphere().is_some_and(|g| {
                let mut ok = true;
                for_each_vertex(&g, &mut |v| ok &= sphere::angle(*c, v) <= *r + 1e-12);
                ok
            }),
            GeoQuery::Within(Region::Polygons(ps)) => s.sphere().is_some_and(|g| within(&g, ps)),
            GeoQuery::Intersects(q) => s.sphere().is_some_and(|g| intersects(&g, q)),
        }
    }
}

fn for_each_vertex(g: &Geometry, f: &mut dyn FnMut(V3)) {
    match g {
        Geometry::Point(p) => f(*p),
        Geometry::LineString(l) | Geometry::MultiPoint(l) => l.iter().for_each(|p| f(*p)),
        Geometry::MultiLineString(ls) => ls.iter().flatten().for_each(|p| f(*p)),
        Geometry::Polygon(p) => p.rings[0].verts.iter().for_each(|v| f(*v)),
        Geometry::MultiPolygon(ps) => ps.iter().for_each(|p| p.rings[0].verts.iter().for_each(|v| f(*v))),
        Geometry::Collection(gs) => gs.iter().for_each(|g| for_each_vertex(g, f)),
    }
}

/// Whether a polyline (closed when `closed`) lies in one polygon: all its
/// vertices inside, no edge crossing the polygon's boundary.
fn path_within(pts: &[V3], closed: bool, poly: &SpherePolygon) -> bool {
    if !pts.iter().all(|p| poly.contains(*p)) {
        return false;
    }
    let n = pts.len();
    let edges = if closed { n } else { n.saturating_sub(1) };
    (0..edges).all(|i| {
        let (a, b) = (pts[i], pts[(i + 1) % n]);
        !poly.edges().any(|(c, d)| sphere::arcs_cross_properly(a, b, c, d))
    })
}

fn within(g: &Geometry, ps: &[SpherePolygon]) -> bool {
    match g {
        Geometry::Point(p) => ps.iter().any(|q| q.contains(*p)),
        Geometry::MultiPoint(pts) => pts.iter().all(|p| ps.iter().any(|q| q.contains(*p))),
        Geometry::LineString(l) => ps.iter().any(|q| path_within(l, false, q)),
        Geometry::MultiLineString(ls) => ls.iter().all(|l| ps.iter().any(|q| path_within(l, false, q))),
        Geometry::Polygon(p) => ps.iter().any(|q| path_within(&p.rings[0].verts, true, q)),
        Geometry::MultiPolygon(mp) => {
            mp.iter().all(|p| ps.iter().any(|q| path_within(&p.rings[0].verts, true, q)))
        }
        Geometry::Collection(gs) => gs.iter().all(|g| within(g, ps)),
    }
}

/// A geometry taken apart for intersection tests.
#[derive(Default)]
struct Parts<'a> {
    points: Vec<V3>,
    /// Polylines; polygon rings are closed by repeating the first vertex.
    lines: Vec<Vec<V3>>,
    polygons: Vec<&'a SpherePolygon>,
}

fn take_apart<'a>(g: &'a Geometry, out: &mut Parts<'a>) {
    let add_polygon = |p: &'a SpherePolygon, out: &mut Parts<'a>| {
        out.polygons.push(p);
        for r in &p.rings {
            let mut l = r.verts.clone();
            l.push(r.verts[0]);
            out.lines.push(l);
        }
    };
    match g {
        Geometry::Point(p) => out.points.push(*p),
        Geometry::MultiPoint(ps) => out.points.extend(ps),
        Geometry::LineString(l) => out.lines.push(l.clone()),
        Geometry::MultiLineString(ls) => out.lines.extend(ls.iter().cloned()),
        Geometry::Polygon(p) => add_polygon(p, out),
        Geometry::MultiPolygon(ps) => ps.iter().for_each(|p| add_polygon(p, out)),
        Geometry::Collection(gs) => gs.iter().for_each(|g| take_apart(g, out)),
    }
}

fn edges(l: &[V3]) -> impl Iterator<Item = (V3, V3)> + '_ {
    l.windows(2).map(|w| (w[0], w[1]))
}

/// Whether a point is on or in one of the parts.
fn point_hits(p: V3, parts: &Parts<'_>) -> bool {
    parts.points.iter().any(|q| sphere::angle(p, *q) < 1e-12)
        || parts.lines.iter().any(|l| {
            if l.len() == 1 {
                return sphere::angle(p, l[0]) < 1e-12;
            }
            edges(l).any(|(a, b)| sphere::on_arc(p, a, b))
        })
        || parts.polygons.iter().any(|q| q.contains(p))
}

/// Whether something of `a` lies in `b` (a point of `a` on or in `b`, or a
/// line of `a` starting inside a polygon of `b`).
fn reaches(a: &Parts<'_>, b: &Parts<'_>) -> bool {
    a.points.iter().any(|p| point_hits(*p, b))
        || a.lines.iter().any(|l| l.first().is_some_and(|p| b.polygons.iter().any(|q| q.contains(*p))))
}

/// Whether two spherical geometries share a point.
fn intersects(a: &Geometry, b: &Geometry) -> bool {
    let (mut pa, mut pb) = (Parts::default(), Parts::default());
    take_apart(a, &mut pa);
    take_apart(b, &mut pb);
    if reaches(&pa, &pb) || reaches(&pb, &pa) {
        return true;
    }
    pa.lines.iter().any(|la| {
        pb.lines
            .iter()
            .any(|lb| edges(la).any(|(a, b)| edges(lb).any(|(c, d)| sphere::arcs_intersect(a, b, c, d))))
    })
}

/// The angle from a point to the nearest point of a geometry.
fn angle_to(g: &Geometry, p: V3) -> f64 {
    let min_arc = |l: &[V3]| -> f64 {
        if l.len() == 1 {
            return sphere::angle(p, l[0]);
        }
        edges(l).map(|(a, b)| sphere::distance_to_arc(p, a, b)).fold(f64::INFINITY, f64::min)
    };
    match g {
        Geometry::Point(q) => sphere::angle(p, *q),
        Geometry::MultiPoint(qs) => qs.iter().map(|q| sphere::angle(p, *q)).fold(f64::INFINITY, f64::min),
        Geometry::LineString(l) => min_arc(l),
        Geometry::MultiLineString(ls) => ls.iter().map(|l| min_arc(l)).fold(f64::INFINITY, f64::min),
        Geometry::Polygon(q) => q.distance(p),
        Geometry::MultiPolygon(qs) => qs.iter().map(|q| q.distance(p)).fold(f64::INFINITY, f64::min),
        Geometry::Collection(gs) => gs.iter().map(|g| angle_to(g, p)).fold(f64::INFINITY, f64::min),
    }
}

/// The great-circle distance in meters between two longitude/latitude
/// points in degrees.
pub fn distance_meters(a: (f64, f64), b: (f64, f64)) -> f64 {
    sphere::angle(sphere::from_lng_lat(a.0, a.1), sphere::from_lng_lat(b.0, b.1)) * EARTH_RADIUS_METERS
}

/// How a `$near` measures distance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Planar, in coordinate units (`$near` with a legacy point; needs a
    /// `2d` index).
    Flat,
    /// Spherical, in radians (`$nearSphere` with a legacy point).
    Radians,
    /// Spherical, in meters (a GeoJSON point; needs a `2dsphere` index).
    Meters,
}

impl Metric {
    /// The index types that can answer a near query with this metric.
    pub fn index_types(self) -> &'static [&'static str] {
        match self {
            Metric::Flat => &["2d"],
            Metric::Radians => &["2d", "2dsphere"],
            Metric::Meters => &["2dsphere"],
        }
    }
}

/// A `$near`/`$nearSphere` condition (also the `near` of `$geoNear`).
#[derive(Clone, Debug)]
pub struct NearQuery {
    /// x/longitude, y/latitude.
    pub point: (f64, f64),
    pub metric: Metric,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

fn distance_arg(v: &Bson, name: &str, codes_: (i32, i32)) -> Result<f64> {
    if !is_num(v) {
        return Err(QueryError::new(
            ErrorCode { code: codes_.0, name: location_name(codes_.0) },
            format!("{name} must be a number"),
        ));
    }
    let d = crate::numeric::to_f64(v).unwrap_or(f64::NAN);
    if d.is_nan() || d < 0.0 {
        return Err(QueryError::new(
            ErrorCode { code: codes_.1, name: location_name(codes_.1) },
            format!("{name} must be non-negative"),
        ));
    }
    Ok(d)
}

fn location_name(code: i32) -> &'static str {
    match code {
        16893 => "Location16893",
        16894 => "Location16894",
        16895 => "Location16895",
        16896 => "Location16896",
        16897 => "Location16897",
        16898 => "Location16898",
        16899 => "Location16899",
        _ => "Location16900",
    }
}

impl NearQuery {
    /// Parses `$near`/`$nearSphere`/`$geoNear` from the operator document
    /// of a field (`{$near: [x, y], $maxDistance: 5}` or `{$near:
    /// {$geometry: {type: "Point", ...}, $maxDistance: 1000}}`).
    pub fn parse(op: &str, ops: &Document) -> Result<NearQuery> {
        let value = ops.get(op).expect("the operator is in its document");
        let sphere = op == "$nearSphere";
        let mut q = match value {
            Bson::Document(d) if d.contains_key("$geometry") => {
                let mut q = NearQuery { point: (0.0, 0.0), metric: Metric::Meters, min: None, max: None };
                for (k, v) in d {
                    match k.as_str() {
                        "$geometry" => q.point = geojson_point(v)?,
                        "$minDistance" => q.min = Some(distance_arg(v, "$minDistance", (16897, 16898))?),
                        "$maxDistance" => q.max = Some(distance_arg(v, "$maxDistance", (16899, 16900))?),
                        _ => {}
                    }
                }
                q
            }
            Bson::Document(d) if d.contains_key("type") => {
                NearQuery { point: geojson_point(value)?, metric: Metric::Meters, min: None, max: None }
            }
            Bson::Array(_) | Bson::Document(_) => {
                let point =
                    query_point(value).map_err(|_| bad(format!("invalid point in geo near query {op}")))?;
                let metric = if sphere { Metric::Radians } else { Metric::Flat };
                if sphere && !valid_lng_lat(point) {
                    return Err(bad("legacy point is not geo"));
                }
                NearQuery { point, metric, min: None, max: None }
            }
            other => {
                return Err(bad(format!("{op} must be an array or object: {}", display::element(op, other))))
            }
        };
        for (k, v) in ops {
            match k.as_str() {
                k if k == op => {}
                "$minDistance" => q.min = Some(distance_arg(v, "$minDistance", (16893, 16894))?),
                "$maxDistance" => q.max = Some(distance_arg(v, "$maxDistance", (16895, 16896))?),
                "$uniqueDocs" => {}
                _ => return Err(bad(format!("invalid argument in geo near query: {k}"))),
            }
        }
        Ok(q)
    }

    /// The distance from the query point to one stored geometry, in the
    /// query's units (`None` when the geometry does not take part).
    fn distance_to(&self, s: &Stored) -> Option<f64> {
        match self.metric {
            Metric::Flat => s.flat_point().map(|p| planar::distance(p, self.point)),
            Metric::Radians | Metric::Meters => {
                let g = s.sphere()?;
                if !valid_lng_lat(self.point) {
                    return None;
                }
                let a = angle_to(&g, sphere::from_lng_lat(self.point.0, self.point.1));
                Some(if self.metric == Metric::Meters { a * EARTH_RADIUS_METERS } else { a })
            }
        }
    }

    /// Whether a distance is within `[min, max]`.
    pub fn in_range(&self, d: f64) -> bool {
        self.min.is_none_or(|m| d >= m) && self.max.is_none_or(|m| d <= m)
    }

    /// The nearest geometry of a stored value within the distance bounds,
    /// with its distance.
    pub fn nearest<'v>(&self, v: &'v Bson) -> Option<(f64, &'v Bson)> {
        stored_geometries(v)
            .into_iter()
            .filter_map(|(s, raw)| self.distance_to(&s).filter(|d| self.in_range(*d)).map(|d| (d, raw)))
            .min_by(|a, b| a.0.total_cmp(&b.0))
    }

    /// Whether a stored value has a geometry within the distance bounds.
    pub fn matches(&self, v: &Bson) -> bool {
        self.nearest(v).is_some()
    }
}

/// The coordinates of a GeoJSON point given as `$geometry` or `near`.
fn geojson_point(v: &Bson) -> Result<(f64, f64)> {
    let Bson::Document(d) = v else {
        return Err(bad(format!(
            "invalid point in geo near query $geometry argument: {}",
            display::value(v)
        )));
    };
    match parse_geojson(d) {
        Ok(Geometry::Point(_)) => Ok(pair(d.get("coordinates").expect("parsed")).expect("parsed")),
        Ok(_) => Err(QueryError::new(
            ErrorCode { code: 16681, name: "Location16681" },
            format!("$near requires geojson point, given {}", display::document(d)),
        )),
        Err(reason) => Err(bad(format!(
            "invalid point in geo near query $geometry argument: {}  {reason}",
            display::document(d)
        ))),
    }
}

/// The `near` of a `$geoNear` stage: a GeoJSON point (true) or a legacy
/// pair (false).
pub fn parse_near_point(v: &Bson) -> Result<((f64, f64), bool)> {
    match v {
        Bson::Document(d) if d.contains_key("type") => Ok((geojson_point(v)?, true)),
        Bson::Array(_) | Bson::Document(_) => Ok((query_point(v)?, false)),
        other => Err(bad(format!(
            "$geoNear requires near argument to be a GeoJSON object or a legacy point(array), got type {}",
            crate::types::type_name(other)
        ))),
    }
}

#[cfg(test)]
mod tests;
