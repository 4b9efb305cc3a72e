use bson::{bson, doc, Bson};

use super::*;

fn point(lng: f64, lat: f64) -> Bson {
    bson!({"type": "Point", "coordinates": [lng, lat]})
}

fn within(region: Bson, v: Bson) -> bool {
    GeoQuery::parse("$geoWithin", &region).unwrap().matches(&v)
}

fn intersects(g: Bson, v: Bson) -> bool {
    GeoQuery::parse("$geoIntersects", &bson!({"$geometry": g})).unwrap().matches(&v)
}

fn polygon(rings: Bson) -> Bson {
    bson!({"$geometry": {"type": "Polygon", "coordinates": rings}})
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    ((a - b) / b).abs() <= rel
}

#[test]
fn city_distances_within_half_a_percent() {
    // Published great-circle distances (mean Earth radius): Paris-London
    // 343.5 km, New York-Los Angeles 3936 km, Sydney-Tokyo 7823 km.
    let paris = (2.3522, 48.8566);
    let london = (-0.1276, 51.5072);
    let nyc = (-74.0060, 40.7128);
    let la = (-118.2437, 34.0522);
    let sydney = (151.2093, -33.8688);
    let tokyo = (139.6917, 35.6895);
    assert!(close(distance_meters(paris, london), 343_500.0, 0.005), "{}", distance_meters(paris, london));
    assert!(close(distance_meters(nyc, la), 3_936_000.0, 0.005), "{}", distance_meters(nyc, la));
    assert!(close(distance_meters(sydney, tokyo), 7_823_000.0, 0.005), "{}", distance_meters(sydney, tokyo));
    // Symmetric, zero to itself, half the circumference to the antipode.
    assert_eq!(distance_meters(paris, paris), 0.0);
    let half = std::f64::consts::PI * EARTH_RADIUS_METERS;
    assert!(close(distance_meters((0.0, 0.0), (180.0, 0.0)), half, 1e-9));
}

#[test]
fn point_in_spherical_polygon() {
    let square = polygon(bson!([[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]]));
    assert!(within(square.clone(), point(5.0, 5.0)));
    assert!(within(square.clone(), point(0.0, 5.0)), "on the boundary");
    assert!(!within(square.clone(), point(11.0, 5.0)));
    assert!(!within(square.clone(), point(-5.0, -5.0)));
    // Legacy pairs take part when they are valid longitude/latitude.
    assert!(within(square.clone(), bson!([5, 5])));
    assert!(within(square.clone(), bson!({"lng": 5, "lat": 5})));
    assert!(within(square.clone(), bson!({"lng": 5, "lat": 5, "name": "extra fields"})));
    // Arrays: any element.
    assert!(within(square.clone(), bson!([[50, 50], [5, 5]])));
    assert!(!within(square.clone(), bson!([[50, 50], [60, 60]])));
    // Not a geometry.
    assert!(!within(square.clone(), bson!("5,5")));
    assert!(!within(square, bson!({"type": "Point"})));
}

#[test]
fn edges_are_great_circle_arcs() {
    // The edges of this wide polygon bulge toward the pole: at longitude 0
    // it spans latitudes ~73.9 to ~79.7, not 60 to 70.
    let wide = polygon(bson!([[[-60, 60], [60, 60], [60, 70], [-60, 70], [-60, 60]]]));
    assert!(!within(wide.clone(), point(0.0, 65.0)));
    assert!(within(wide, point(0.0, 76.0)));
}

#[test]
fn polygons_across_the_antimeridian_and_around_a_pole() {
    let dateline = polygon(bson!([[[170, -10], [-170, -10], [-170, 10], [170, 10], [170, -10]]]));
    assert!(within(dateline.clone(), point(180.0, 0.0)));
    assert!(within(dateline.clone(), point(175.0, 5.0)));
    assert!(within(dateline.clone(), point(-175.0, -5.0)));
    assert!(!within(dateline.clone(), point(0.0, 0.0)));
    assert!(!within(dateline, point(160.0, 0.0)));
    let polar = polygon(bson!([[[0, 80], [90, 80], [180, 80], [-90, 80], [0, 80]]]));
    assert!(within(polar.clone(), point(0.0, 90.0)));
    assert!(within(polar.clone(), point(45.0, 85.0)));
    assert!(!within(polar, point(45.0, 70.0)));
}

#[test]
fn holes_are_outside() {
    let holed = polygon(bson!([
        [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]],
        [[4, 4], [6, 4], [6, 6], [4, 6], [4, 4]]
    ]));
    assert!(!within(holed.clone(), point(5.0, 5.0)));
    assert!(within(holed.clone(), point(2.0, 2.0)));
    assert!(within(holed.clone(), point(4.0, 5.0)), "on the hole's edge");
    // A line across the hole is not within.
    let line = bson!({"type": "LineString", "coordinates": [[3, 5], [7, 5]]});
    assert!(!within(holed.clone(), line));
    let line = bson!({"type": "LineString", "coordinates": [[1, 1], [3, 2]]});
    assert!(within(holed, line));
}

#[test]
fn multipolygons_and_shapes_within() {
    let two = bson!({"$geometry": {"type": "MultiPolygon", "coordinates": [
        [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]],
        [[[10, 10], [11, 10], [11, 11], [10, 11], [10, 10]]]
    ]}});
    assert!(within(two.clone(), point(0.5, 0.5)));
    assert!(within(two.clone(), point(10.5, 10.5)));
    assert!(!within(two.clone(), point(5.0, 5.0)));
    let small = bson!({"type": "Polygon", "coordinates": [[[0.2, 0.2], [0.8, 0.2], [0.5, 0.8], [0.2, 0.2]]]});
    assert!(within(two.clone(), small));
    let across = bson!({"type": "LineString", "coordinates": [[0.5, 0.5], [10.5, 10.5]]});
    assert!(!within(two, across));
}

#[test]
fn legacy_planar_shapes() {
    let boxed = bson!({"$box": [[0, 0], [10, 5]]});
    assert!(within(boxed.clone(), bson!([10, 5])), "corners are inside");
    assert!(within(boxed.clone(), bson!({"x": 3, "y": 4})));
    assert!(within(boxed.clone(), point(3.0, 4.0)), "GeoJSON points too");
    assert!(!within(boxed.clone(), bson!([3, 6])));
    assert!(!within(boxed, bson!({"type": "LineString", "coordinates": [[1, 1], [2, 2]]})));
    let tri = bson!({"$polygon": [[0, 0], [10, 0], [0, 10]]});
    assert!(within(tri.clone(), bson!([2, 2])));
    assert!(within(tri.clone(), bson!([5, 5])), "on the hypotenuse");
    assert!(!within(tri, bson!([6, 6])));
    let center = bson!({"$center": [[0, 0], 5]});
    assert!(within(center.clone(), bson!([3, 4])));
    assert!(!within(center, bson!([3.1, 4])));
    // Planar, not spherical: 200 is fine as a coordinate.
    assert!(within(bson!({"$box": [[190, 0], [210, 10]]}), bson!([200, 5])));
}

#[test]
fn center_sphere_uses_radians() {
    // 100 km around Paris.
    let r = 100_000.0 / EARTH_RADIUS_METERS;
    let cap = bson!({"$centerSphere": [[2.3522, 48.8566], r]});
    assert!(within(cap.clone(), point(2.2945, 48.8584)), "Eiffel tower");
    assert!(within(cap.clone(), bson!([2.35, 48.0])), "~95 km south");
    assert!(!within(cap.clone(), point(-0.1276, 51.5072)), "London");
    let line = bson!({"type": "LineString", "coordinates": [[2.3, 48.8], [2.4, 48.9]]});
    assert!(within(cap.clone(), line));
    let long = bson!({"type": "LineString", "coordinates": [[2.3, 48.8], [-0.1, 51.5]]});
    assert!(!within(cap, long));
}

#[test]
fn intersections() {
    let square = bson!({"type": "Polygon", "coordinates": [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]]});
    let through = bson!({"type": "LineString", "coordinates": [[-5, 5], [15, 5]]});
    let outside = bson!({"type": "LineString", "coordinates": [[20, 5], [30, 5]]});
    let inside = bson!({"type": "LineString", "coordinates": [[2, 2], [3, 3]]});
    assert!(intersects(square.clone(), through.clone()));
    assert!(!intersects(square.clone(), outside.clone()));
    assert!(intersects(square.clone(), inside.clone()), "a line inside the polygon");
    assert!(intersects(square.clone(), point(5.0, 5.0)));
    assert!(!intersects(square.clone(), point(15.0, 5.0)));
    // A polygon containing the query polygon.
    let big =
        bson!({"type": "Polygon", "coordinates": [[[-20, -20], [20, -20], [20, 20], [-20, 20], [-20, -20]]]});
    assert!(intersects(square.clone(), big));
    // Line against line.
    let cross = bson!({"type": "LineString", "coordinates": [[0, -5], [0, 5]]});
    assert!(intersects(cross.clone(), bson!({"type": "LineString", "coordinates": [[-5, 0], [5, 0]]})));
    assert!(!intersects(cross.clone(), bson!({"type": "LineString", "coordinates": [[1, -5], [1, 5]]})));
    // A point on a line.
    assert!(intersects(cross, point(0.0, 2.0)));
    // Collections and multi-geometries.
    let coll = bson!({"type": "GeometryCollection", "geometries": [
        {"type": "Point", "coordinates": [50, 50]}, outside
    ]});
    assert!(!intersects(square.clone(), coll));
    let multi = bson!({"type": "MultiPoint", "coordinates": [[50, 50], [5, 5]]});
    assert!(intersects(square, multi));
    // The query geometry may be a point or a line too.
    assert!(intersects(bson!({"type": "Point", "coordinates": [5, 5]}), bson!([5, 5])));
    assert!(!intersects(through, bson!([5, 6])));
}

#[test]
fn geojson_errors() {
    let bad = |g: Bson| {
        let e = GeoQuery::parse("$geoWithin", &bson!({"$geometry": g})).unwrap_err();
        assert_eq!(e.code, 2, "{e}");
        e.message
    };
    assert!(bad(bson!({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}))
        .contains("not closed"));
    assert!(
        bad(bson!({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]})).contains("3 different")
    );
    assert!(bad(bson!({"type": "Polygon", "coordinates": [[[0, 0], [200, 0], [1, 1], [0, 0]]]}))
        .contains("out of bounds"));
    assert!(bad(bson!({"type": "Polygon", "coordinates": [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]]}))
        .contains("cross"));
    assert!(bad(bson!({"type": "Pointy", "coordinates": [0, 0]})).contains("unknown GeoJSON type"));
    assert!(
        bad(bson!({"type": "Point", "coordinates": [0, 0]})).contains("not supported with provided geometry")
    );
    let hole_outside = bson!({"type": "Polygon", "coordinates": [
        [[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]],
        [[5, 5], [6, 5], [6, 6], [5, 5]]
    ]});
    assert!(bad(hole_outside).contains("must be holes"));
    let e = GeoQuery::parse("$geoWithin", &bson!({"$circle": [[0, 0], 1]})).unwrap_err();
    assert!(e.message.contains("unknown geo specifier"));
    assert!(GeoQuery::parse("$geoWithin", &bson!({"$center": [[0, 0], -1]})).is_err());
    assert!(GeoQuery::parse("$geoWithin", &bson!({"$polygon": [[0, 0], [1, 1]]})).is_err());
    assert!(GeoQuery::parse("$geoIntersects", &bson!({"$box": [[0, 0], [1, 1]]})).is_err());
}

#[test]
fn near_parsing_and_distances() {
    let q = NearQuery::parse(
        "$near",
        &doc! {"$near": {"$geometry": {"type": "Point", "coordinates": [0, 0]}, "$maxDistance": 200_000}},
    )
    .unwrap();
    assert_eq!(q.metric, Metric::Meters);
    // One degree of longitude at the equator is ~111.3 km.
    let (d, _) = q.nearest(&point(1.0, 0.0)).unwrap();
    assert!(close(d, 111_319.0, 0.005), "{d}");
    assert!(q.nearest(&point(2.0, 0.0)).is_none(), "beyond $maxDistance");
    // Distance to a line is to its nearest point.
    let line = bson!({"type": "LineString", "coordinates": [[-1, 1], [1, 1]]});
    let (d, _) = q.nearest(&line).unwrap();
    assert!(close(d, 111_319.0, 0.01), "{d}");
    // Arrays: the nearest element.
    let arr = bson!([[5, 5], [0.5, 0]]);
    let (_, which) = q.nearest(&arr).unwrap();
    assert_eq!(which, &bson!([0.5, 0]));

    let flat = NearQuery::parse("$near", &doc! {"$near": [0, 0], "$maxDistance": 5}).unwrap();
    assert_eq!(flat.metric, Metric::Flat);
    assert_eq!(flat.nearest(&bson!([3, 4])).unwrap().0, 5.0);
    assert!(flat.nearest(&bson!([3, 4.1])).is_none());
    let min = NearQuery::parse("$near", &doc! {"$near": [0, 0], "$minDistance": 2}).unwrap();
    assert!(!min.matches(&bson!([1, 1])));
    assert!(min.matches(&bson!([3, 3])));

    let sphere = NearQuery::parse("$nearSphere", &doc! {"$nearSphere": [0, 0], "$maxDistance": 0.1}).unwrap();
    assert_eq!(sphere.metric, Metric::Radians);
    let (d, _) = sphere.nearest(&bson!([1, 0])).unwrap();
    assert!((d - 1f64.to_radians()).abs() < 1e-12);

    let e = NearQuery::parse("$near", &doc! {"$near": [0, 0], "$maxDistance": -1}).unwrap_err();
    assert_eq!(e.code, 16896);
    let e = NearQuery::parse("$near", &doc! {"$near": [0, 0], "$exists": true}).unwrap_err();
    assert_eq!(e.code, 2);
    let e = NearQuery::parse(
        "$near",
        &doc! {"$near": {"$geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}}},
    )
    .unwrap_err();
    assert_eq!(e.code, 16681);
}

#[test]
fn index_key_checks() {
    assert!(sphere_key_error("loc", &point(1.0, 2.0)).is_none());
    assert!(sphere_key_error("loc", &bson!([1, 2])).is_none());
    assert!(sphere_key_error("loc", &Bson::Null).is_none());
    assert!(sphere_key_error("loc", &bson!([[1, 2], [3, 4]])).is_none());
    assert!(sphere_key_error("loc", &bson!([200, 2])).unwrap().contains("out of bounds"));
    assert!(sphere_key_error("loc", &bson!("here"))
        .unwrap()
        .contains("geo element must be an array or object"));
    assert!(sphere_key_error("loc", &bson!({"type": "Point", "coordinates": [0, 100]})).is_some());
    assert!(flat_key_error(&bson!([1, 2])).is_none());
    assert!(flat_key_error(&bson!(5)).is_none());
    assert_eq!(flat_key_error(&bson!([200, 2])).unwrap().0, POINT_OUT_OF_BOUNDS);
    assert_eq!(flat_key_error(&bson!({"type": "Point", "coordinates": [1, 2]})).unwrap().0, NOT_LEGACY_POINT);
}

#[test]
fn document_index_keys() {
    let ok = doc! {"_id": 1, "loc": {"type": "Point", "coordinates": [1, 2]}, "places": [{"at": [1, 2]}]};
    assert!(index_key_error(&ok, "loc", "2dsphere").is_none());
    assert!(index_key_error(&ok, "places.at", "2dsphere").is_none());
    assert!(index_key_error(&ok, "missing", "2dsphere").is_none());
    let bad = doc! {"_id": 2, "loc": {"type": "Point", "coordinates": [1, 200]}};
    let e = index_key_error(&bad, "loc", "2dsphere").unwrap();
    assert_eq!(e.code, 16755);
    assert!(e.message.starts_with("Can't extract geo keys: { _id: 2"), "{}", e.message);
    let e = index_key_error(&doc! {"_id": 3, "loc": [181, 0]}, "loc", "2d").unwrap();
    assert_eq!(e.code, 13027);
    assert!(index_key_error(&bad, "loc", "1").is_none());
}
