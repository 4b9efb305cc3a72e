//! The `$geoNear` stage (run the way the server runs it) and where geo
//! near operators may appear in a pipeline.

use argon_query::pipeline::NoCollections;
use argon_query::Pipeline;
use bson::{bson, doc, Document};

fn docs() -> Vec<Document> {
    vec![
        doc! {"_id": 1, "name": "far", "kind": "cafe", "loc": {"type": "Point", "coordinates": [0, 3]}},
        doc! {"_id": 2, "name": "near", "kind": "bar", "loc": {"type": "Point", "coordinates": [0, 1]}},
        doc! {"_id": 3, "name": "mid", "kind": "cafe", "loc": [[0, 2], [0, 2.5]]},
        doc! {"_id": 4, "name": "nowhere", "kind": "cafe"},
    ]
}

fn run(stages: Vec<Document>, index_type: &str) -> Vec<Document> {
    let p = Pipeline::parse(&stages).unwrap();
    let g = p.geo_near().expect("a $geoNear");
    let mut input = docs().into_iter().map(Ok);
    let key = g.key().unwrap_or("loc").to_string();
    let out = g.run(&mut input, &key, index_type).unwrap();
    let ctx = NoCollections { now: bson::DateTime::now() };
    p.run_after_geo_near(out, &ctx, &argon_query::expr::Vars::default()).unwrap()
}

fn ids(docs: &[Document]) -> Vec<i32> {
    docs.iter().map(|d| d.get_i32("_id").unwrap()).collect()
}

#[test]
fn geo_near_sorts_and_annotates() {
    let out = run(
        vec![doc! {"$geoNear": {"near": {"type": "Point", "coordinates": [0, 0]}, "distanceField": "dist.m",
        "includeLocs": "where", "spherical": true}}],
        "2dsphere",
    );
    assert_eq!(ids(&out), [2, 3, 1]);
    let one_degree = std::f64::consts::PI / 180.0 * argon_query::geo::EARTH_RADIUS_METERS;
    let d = out[0].get_document("dist").unwrap().get_f64("m").unwrap();
    assert!((d - one_degree).abs() < 1.0, "{d}");
    assert_eq!(out[1].get("where"), Some(&bson!([0, 2])), "the nearest of the array");
}

#[test]
fn geo_near_query_bounds_multiplier_and_later_stages() {
    let out = run(
        vec![
            doc! {"$geoNear": {"near": {"type": "Point", "coordinates": [0, 0]}, "distanceField": "d",
            "query": {"kind": "cafe"}, "maxDistance": 400_000, "distanceMultiplier": 0.001}},
            doc! {"$project": {"_id": 1, "d": 1}},
        ],
        "2dsphere",
    );
    assert_eq!(ids(&out), [3, 1]);
    let km = out[0].get_f64("d").unwrap();
    assert!((km - 222.6).abs() < 0.5, "{km}");
    let out = run(
        vec![doc! {"$geoNear": {"near": {"type": "Point", "coordinates": [0, 0]}, "distanceField": "d",
        "minDistance": 150_000, "maxDistance": 300_000}}],
        "2dsphere",
    );
    assert_eq!(ids(&out), [3]);
}

#[test]
fn geo_near_legacy_units() {
    // Planar with a 2d index, radians when spherical or on 2dsphere.
    let legacy = doc! {"near": [0, 0], "distanceField": "d"};
    let flat = run(vec![doc! {"$geoNear": legacy.clone()}], "2d");
    assert_eq!(flat[0].get_f64("d").unwrap(), 1.0);
    let on_sphere = run(vec![doc! {"$geoNear": legacy}], "2dsphere");
    assert!((on_sphere[0].get_f64("d").unwrap() - 1f64.to_radians()).abs() < 1e-12);
    // GeoJSON needs a 2dsphere index.
    let p = Pipeline::parse(&[
        doc! {"$geoNear": {"near": {"type": "Point", "coordinates": [0, 0]}, "distanceField": "d"}},
    ])
    .unwrap();
    let e = p.geo_near().unwrap().near_query("2d").unwrap_err();
    assert_eq!(e.code, 291);
}

#[test]
fn geo_near_errors() {
    let code = |stages: Vec<Document>| Pipeline::parse(&stages).unwrap_err().code;
    let near = doc! {"$geoNear": {"near": [0, 0], "distanceField": "d"}};
    assert_eq!(code(vec![doc! {"$match": {}}, near.clone()]), 40603);
    assert_eq!(code(vec![doc! {"$geoNear": {"near": [0, 0]}}]), 16606);
    assert_eq!(code(vec![doc! {"$geoNear": {"distanceField": "d"}}]), 2);
    assert_eq!(
        code(vec![
            doc! {"$geoNear": {"near": [0, 0], "distanceField": "d", "query": {"a": {"$near": [0, 0]}}}}
        ]),
        2
    );
    assert_eq!(code(vec![doc! {"$facet": {"f": [near.clone()]}}]), 40600);
    // $near in $match: the sort it implies is not available in a pipeline.
    assert_eq!(code(vec![doc! {"$match": {"loc": {"$near": [0, 0]}}}]), 5626500);
    // A $geoNear pipeline cannot run without the server picking the index.
    let p = Pipeline::parse(&[near]).unwrap();
    let ctx = NoCollections { now: bson::DateTime::now() };
    assert!(p.run(Box::new(docs().into_iter()), &ctx).is_err());
    // $geoWithin is fine in $match.
    let p = Pipeline::parse(&[doc! {"$match": {"loc": {"$geoWithin": {"$center": [[0, 0], 1.5]}}}}]).unwrap();
    let out = p.run(Box::new(docs().into_iter()), &ctx).unwrap();
    assert_eq!(ids(&out), [2]);
}
