//! Geospatial query operators in filters: $geoWithin, $geoIntersects,
//! $near/$nearSphere (matching within distance bounds and distances), and
//! where $near may appear.

use argon_query::Filter;
use bson::{doc, Bson, Document};

fn places() -> Vec<Document> {
    vec![
        doc! {"_id": "paris", "loc": {"type": "Point", "coordinates": [2.3522, 48.8566]}},
        doc! {"_id": "london", "loc": {"type": "Point", "coordinates": [-0.1276, 51.5072]}},
        doc! {"_id": "berlin", "loc": [13.405, 52.52]},
        doc! {"_id": "rome", "loc": {"lng": 12.4964, "lat": 41.9028}},
        doc! {"_id": "multi", "loc": [[-74.006, 40.7128], [139.6917, 35.6895]]},
        doc! {"_id": "seine", "loc": {"type": "LineString", "coordinates": [[2.35, 48.95], [2.45, 48.8]]}},
        doc! {"_id": "nested", "trip": [{"loc": [2.35, 48.85]}, {"loc": [100, 10]}]},
        doc! {"_id": "text", "loc": "Paris"},
        doc! {"_id": "bad", "loc": {"type": "Point", "coordinates": [500, 0]}},
        doc! {"_id": "none"},
    ]
}

fn ids(filter: Document) -> Vec<String> {
    let f = Filter::parse(&filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
    places().iter().filter(|d| f.matches(d)).map(|d| d.get_str("_id").unwrap().to_string()).collect()
}

fn error(filter: Document) -> (i32, String) {
    let e = Filter::parse(&filter).expect_err(&filter.to_string());
    (e.code, e.message)
}

fn europe() -> Bson {
    Bson::Document(
        doc! {"type": "Polygon", "coordinates": [[[-10, 35], [30, 35], [30, 60], [-10, 60], [-10, 35]]]},
    )
}

#[test]
fn geo_within_polygon() {
    assert_eq!(
        ids(doc! {"loc": {"$geoWithin": {"$geometry": europe()}}}),
        ["paris", "london", "berlin", "rome", "seine"]
    );
    assert_eq!(ids(doc! {"loc": {"$within": {"$geometry": europe()}}}).len(), 5, "$within is an alias");
    // Through an array of documents.
    assert_eq!(ids(doc! {"trip.loc": {"$geoWithin": {"$geometry": europe()}}}), ["nested"]);
    // Negation: documents without a matching geometry.
    assert_eq!(
        ids(doc! {"loc": {"$not": {"$geoWithin": {"$geometry": europe()}}}}),
        ["multi", "nested", "text", "bad", "none"]
    );
    // Combined with other conditions.
    assert_eq!(
        ids(doc! {"loc": {"$geoWithin": {"$geometry": europe()}}, "_id": {"$gt": "p"}}),
        ["paris", "rome", "seine"]
    );
}

#[test]
fn geo_within_legacy_shapes() {
    // Paris and the Seine line are planar only for points.
    assert_eq!(ids(doc! {"loc": {"$geoWithin": {"$box": [[0, 45], [15, 53]]}}}), ["paris", "berlin"]);
    assert_eq!(ids(doc! {"loc": {"$geoWithin": {"$center": [[12, 42], 1]}}}), ["rome"]);
    assert_eq!(ids(doc! {"loc": {"$geoWithin": {"$polygon": [[-80, 30], [-70, 30], [-75, 45]]}}}), ["multi"]);
    // 500 km around Paris, in radians.
    let r = 500_000.0 / argon_query::geo::EARTH_RADIUS_METERS;
    assert_eq!(
        ids(doc! {"loc": {"$geoWithin": {"$centerSphere": [[2.3522, 48.8566], r]}}}),
        ["paris", "london", "seine"]
    );
}

#[test]
fn geo_intersects() {
    // A line from Paris to Berlin passes through Paris and the Seine line.
    let line = doc! {"type": "LineString", "coordinates": [[2.3522, 48.8566], [13.405, 52.52]]};
    assert_eq!(ids(doc! {"loc": {"$geoIntersects": {"$geometry": line}}}), ["paris", "berlin", "seine"]);
    assert_eq!(ids(doc! {"loc": {"$geoIntersects": {"$geometry": europe()}}}).len(), 5);
    let tokyo = doc! {"type": "Point", "coordinates": [139.6917, 35.6895]};
    assert_eq!(ids(doc! {"loc": {"$geoIntersects": {"$geometry": tokyo}}}), ["multi"]);
}

#[test]
fn near_matches_within_bounds_and_measures_distance() {
    let near = |min: f64, max: f64| {
        doc! {"loc": {"$near": {"$geometry": {"type": "Point", "coordinates": [2.3522, 48.8566]},
        "$minDistance": min, "$maxDistance": max}}}
    };
    assert_eq!(ids(near(0.0, 400_000.0)), ["paris", "london", "seine"]);
    assert_eq!(ids(near(100_000.0, 1_000_000.0)), ["london", "berlin"]);
    let f = Filter::parse(&near(0.0, 1e9)).unwrap();
    let london = &places()[1];
    let d = f.near_distance(london).unwrap();
    assert!((d - 344_000.0).abs() < 2_000.0, "{d}");
    assert_eq!(f.near_distance(&places()[0]), Some(0.0));
    assert_eq!(f.near_distance(&places()[7]), None, "not a geometry");
    assert_eq!(f.near().unwrap().0, "loc");

    // Legacy $near is planar, $nearSphere in radians.
    let flat = Filter::parse(&doc! {"loc": {"$near": [13, 52], "$maxDistance": 1}}).unwrap();
    assert!((flat.near_distance(&places()[2]).unwrap() - (0.405f64.hypot(0.52))).abs() < 1e-12);
    let sphere =
        Filter::parse(&doc! {"loc": {"$nearSphere": [13.405, 52.52], "$maxDistance": 0.01}}).unwrap();
    assert_eq!(sphere.near_distance(&places()[2]), Some(0.0));
    assert!(!sphere.matches(&places()[0]));
    assert!(Filter::parse(&doc! {"loc": {"$near": [0, 0]}, "name": "x"}).unwrap().has_near());
    assert!(!Filter::parse(&doc! {"loc": {"$geoWithin": {"$box": [[0, 0], [1, 1]]}}}).unwrap().has_near());
}

#[test]
fn near_placement_rules() {
    let near = doc! {"$near": [0, 0]};
    let (code, msg) = error(doc! {"$or": [{"loc": near.clone()}, {"a": 1}]});
    assert_eq!((code, msg.as_str()), (2, "geoNear must be top-level expr"));
    let (code, msg) = error(doc! {"loc": {"$not": near.clone()}});
    assert_eq!(code, 2);
    assert!(msg.contains("not allowed in this context"), "{msg}");
    let (_, msg) = error(doc! {"locs": {"$elemMatch": {"loc": near.clone()}}});
    assert!(msg.contains("not allowed in this context"), "{msg}");
    let (_, msg) = error(doc! {"a": near.clone(), "b": near.clone()});
    assert_eq!(msg, "Too many geoNear expressions");
    let (_, msg) = error(doc! {"a": near.clone(), "$text": {"$search": "x"}});
    assert_eq!(msg, "text and geoNear not allowed in same query");
    assert!(Filter::parse(&doc! {"$and": [{"loc": near}, {"a": 1}]}).unwrap().has_near());
    // $maxDistance only goes with a near operator.
    let (code, _) = error(doc! {"loc": {"$maxDistance": 3}});
    assert_eq!(code, 2);
}

#[test]
fn bad_geo_queries_are_bad_values() {
    for f in [
        doc! {"loc": {"$geoWithin": {"$geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}}}},
        doc! {"loc": {"$geoWithin": {"$geometry": {"type": "Point", "coordinates": [0, 0]}}}},
        doc! {"loc": {"$geoWithin": 5}},
        doc! {"loc": {"$geoIntersects": {"$geometry": {"type": "Point", "coordinates": [0, 91]}}}},
        doc! {"loc": {"$geoWithin": {"$box": [[0, 0]]}}},
        doc! {"loc": {"$near": "here"}},
    ] {
        assert_eq!(error(f.clone()).0, 2, "{f}");
    }
}
