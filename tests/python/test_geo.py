"""Geospatial queries: 2dsphere and 2d indexes, $near/$nearSphere,
$geoWithin, $geoIntersects and the $geoNear aggregation stage."""

import math

import pymongo
import pytest
from pymongo.errors import OperationFailure, WriteError

EARTH_RADIUS_M = 6378100.0
LOUVRE = [2.3376, 48.8606]

PLACES = [
    {"_id": "louvre", "kind": "museum", "loc": {"type": "Point", "coordinates": LOUVRE}},
    {"_id": "notre-dame", "kind": "church", "loc": {"type": "Point", "coordinates": [2.3499, 48.8530]}},
    {"_id": "eiffel", "kind": "monument", "loc": {"type": "Point", "coordinates": [2.2945, 48.8584]}},
    {"_id": "versailles", "kind": "museum", "loc": {"type": "Point", "coordinates": [2.1204, 48.8049]}},
    {"_id": "london-eye", "kind": "monument", "loc": {"type": "Point", "coordinates": [-0.1196, 51.5033]}},
    {"_id": "brandenburg", "kind": "monument", "loc": [13.3777, 52.5163]},
    {"_id": "unknown", "kind": "museum"},
]


def haversine_m(a, b):
    lng1, lat1, lng2, lat2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


def coords(doc):
    loc = doc["loc"]
    return loc["coordinates"] if isinstance(loc, dict) else loc


@pytest.fixture()
def places(db):
    db.places.create_index([("loc", pymongo.GEOSPHERE)])
    db.places.insert_many(PLACES)
    return db.places


def near(point, **bounds):
    spec = {"$geometry": {"type": "Point", "coordinates": point}}
    spec.update({f"${k}": v for k, v in bounds.items()})
    return {"loc": {"$near": spec}}


def ids(cursor):
    return [d["_id"] for d in cursor]


def test_near_orders_by_distance_with_bounds(places):
    got = list(places.find(near(LOUVRE, maxDistance=5000)))
    assert ids(got) == ["louvre", "notre-dame", "eiffel"]
    dists = [haversine_m(LOUVRE, coords(d)) for d in got]
    assert dists == sorted(dists)
    assert ids(places.find(near(LOUVRE, minDistance=2000, maxDistance=20000))) == ["eiffel", "versailles"]
    assert ids(places.find(near(LOUVRE)).limit(3)) == ["louvre", "notre-dame", "eiffel"]
    # Everything with a location, nearest first (the legacy pair too).
    assert ids(places.find(near(LOUVRE))) == [
        "louvre", "notre-dame", "eiffel", "versailles", "london-eye", "brandenburg",
    ]
    # An explicit sort overrides the distance order; other conditions apply.
    assert ids(places.find({**near(LOUVRE, maxDistance=5000), "kind": {"$ne": "church"}})) == ["louvre", "eiffel"]
    assert ids(places.find(near(LOUVRE, maxDistance=5000)).sort("_id", -1)) == ["notre-dame", "louvre", "eiffel"]
    # $nearSphere with GeoJSON (meters) and with a legacy pair (radians).
    sphere = {"loc": {"$nearSphere": {"$geometry": {"type": "Point", "coordinates": LOUVRE}, "$maxDistance": 5000}}}
    assert ids(places.find(sphere)) == ["louvre", "notre-dame", "eiffel"]
    legacy = {"loc": {"$nearSphere": LOUVRE, "$maxDistance": 5000 / EARTH_RADIUS_M}}
    assert ids(places.find(legacy)) == ["louvre", "notre-dame", "eiffel"]
    # count (the command) accepts $near; count_documents runs $match, which does not.
    assert places.database.command("count", "places", query=near(LOUVRE, maxDistance=5000))["n"] == 3
    with pytest.raises(OperationFailure) as e:
        places.count_documents(near(LOUVRE))
    assert e.value.code == 5626500
    with pytest.raises(OperationFailure) as e:
        list(places.find({"$or": [near(LOUVRE), {"kind": "museum"}]}))
    assert e.value.code == 2


def test_near_needs_a_geo_index(db):
    db.plain.insert_many(PLACES)
    with pytest.raises(OperationFailure) as e:
        list(db.plain.find(near(LOUVRE)))
    assert e.value.code == 291
    assert "unable to find index for $geoNear query" in str(e.value)
    with pytest.raises(OperationFailure) as e:
        list(db.plain.aggregate([{"$geoNear": {"near": {"type": "Point", "coordinates": LOUVRE}, "distanceField": "d"}}]))
    assert e.value.code == 27
    # $geoWithin needs no index.
    box = {"type": "Polygon", "coordinates": [[[2.2, 48.8], [2.4, 48.8], [2.4, 48.9], [2.2, 48.9], [2.2, 48.8]]]}
    assert sorted(ids(db.plain.find({"loc": {"$geoWithin": {"$geometry": box}}}))) == ["eiffel", "louvre", "notre-dame"]


def test_geo_within(places):
    paris = {"type": "Polygon", "coordinates": [[[2.2, 48.8], [2.4, 48.8], [2.4, 48.9], [2.2, 48.9], [2.2, 48.8]]]}
    assert sorted(ids(places.find({"loc": {"$geoWithin": {"$geometry": paris}}}))) == ["eiffel", "louvre", "notre-dame"]
    europe = {"type": "MultiPolygon", "coordinates": [
        [[[-1, 51], [1, 51], [1, 52], [-1, 52], [-1, 51]]],
        [[[13, 52], [14, 52], [14, 53], [13, 53], [13, 52]]],
    ]}
    assert sorted(ids(places.find({"loc": {"$geoWithin": {"$geometry": europe}}}))) == ["brandenburg", "london-eye"]
    # 20 km around the Louvre, radius in radians.
    cap = {"$centerSphere": [LOUVRE, 20000 / EARTH_RADIUS_M]}
    assert sorted(ids(places.find({"loc": {"$geoWithin": cap}}))) == ["eiffel", "louvre", "notre-dame", "versailles"]
    # The legacy alias, combined with another condition.
    got = ids(places.find({"loc": {"$within": cap}, "kind": "museum"}).sort("_id", 1))
    assert got == ["louvre", "versailles"]
    # $box (planar) on legacy pairs and GeoJSON points alike.
    assert sorted(ids(places.find({"loc": {"$geoWithin": {"$box": [[2.3, 48.85], [14, 53]]}}}))) == [
        "brandenburg", "louvre", "notre-dame",
    ]
    with pytest.raises(OperationFailure) as e:
        list(places.find({"loc": {"$geoWithin": {"$geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}}}}))
    assert e.value.code == 2


def test_geo_intersects_linestring(db):
    db.shapes.create_index([("geo", pymongo.GEOSPHERE)])
    db.shapes.insert_many([
        {"_id": "zone", "geo": {"type": "Polygon", "coordinates": [
            [[2.33, 48.855], [2.345, 48.855], [2.345, 48.865], [2.33, 48.865], [2.33, 48.855]]]}},
        {"_id": "route", "geo": {"type": "LineString", "coordinates": [[2.30, 48.85], [2.36, 48.87]]}},
        {"_id": "point", "geo": {"type": "Point", "coordinates": [2.3376, 48.8606]}},
        {"_id": "far", "geo": {"type": "Point", "coordinates": [2.5, 48.8]}},
    ])
    line = {"type": "LineString", "coordinates": [[2.335, 48.80], [2.335, 48.90]]}
    assert sorted(ids(db.shapes.find({"geo": {"$geoIntersects": {"$geometry": line}}}))) == ["route", "zone"]
    # A line through the point itself.
    through = {"type": "LineString", "coordinates": [[2.3376, 48.80], [2.3376, 48.90]]}
    assert sorted(ids(db.shapes.find({"geo": {"$geoIntersects": {"$geometry": through}}}))) == ["point", "route", "zone"]
    away = {"type": "LineString", "coordinates": [[2.6, 48.80], [2.6, 48.90]]}
    assert ids(db.shapes.find({"geo": {"$geoIntersects": {"$geometry": away}}})) == []
    # $geoWithin finds the point inside the zone (and not the route, which leaves it).
    zone = db.shapes.find_one({"_id": "zone"})["geo"]
    assert sorted(ids(db.shapes.find({"geo": {"$geoWithin": {"$geometry": zone}}}))) == ["point", "zone"]


def test_geo_near_aggregation(places):
    out = list(places.aggregate([
        {"$geoNear": {
            "near": {"type": "Point", "coordinates": LOUVRE},
            "distanceField": "dist.calculated",
            "includeLocs": "dist.location",
            "spherical": True,
            "query": {"kind": "museum"},
        }},
        {"$limit": 5},
    ]))
    assert ids(out) == ["louvre", "versailles"]
    assert out[0]["dist"]["calculated"] < 1
    expected = haversine_m(LOUVRE, [2.1204, 48.8049])
    assert abs(out[1]["dist"]["calculated"] - expected) < expected * 0.005
    assert out[1]["dist"]["location"] == {"type": "Point", "coordinates": [2.1204, 48.8049]}
    # maxDistance in meters, distanceMultiplier to kilometers, later stages.
    out = list(places.aggregate([
        {"$geoNear": {"near": {"type": "Point", "coordinates": LOUVRE}, "distanceField": "km",
                      "maxDistance": 20000, "distanceMultiplier": 0.001}},
        {"$project": {"km": 1}},
    ]))
    assert ids(out) == ["louvre", "notre-dame", "eiffel", "versailles"]
    assert [round(d["km"]) for d in out] == [0, 1, 3, 17]
    with pytest.raises(OperationFailure) as e:
        list(places.aggregate([{"$match": {}}, {"$geoNear": {"near": LOUVRE, "distanceField": "d"}}]))
    assert e.value.code == 40603


def test_2d_index_with_legacy_pairs(db):
    db.grid.create_index([("pos", pymongo.GEO2D)])
    db.grid.insert_many([
        {"_id": "a", "pos": [0, 0]},
        {"_id": "b", "pos": [3, 4]},
        {"_id": "c", "pos": {"x": 1, "y": 1}},
        {"_id": "d", "pos": [-6, 0]},
        {"_id": "e", "pos": [10, 10]},
    ])
    assert ids(db.grid.find({"pos": {"$near": [0, 0]}})) == ["a", "c", "b", "d", "e"]
    assert ids(db.grid.find({"pos": {"$near": [0, 0], "$maxDistance": 5}})) == ["a", "c", "b"]
    assert ids(db.grid.find({"pos": {"$near": [2, 2], "$maxDistance": 3}})) == ["c", "b", "a"]
    assert sorted(ids(db.grid.find({"pos": {"$geoWithin": {"$box": [[0, 0], [3, 4]]}}}))) == ["a", "b", "c"]
    assert sorted(ids(db.grid.find({"pos": {"$geoWithin": {"$center": [[0, 0], 5]}}}))) == ["a", "b", "c"]
    assert sorted(ids(db.grid.find({"pos": {"$geoWithin": {"$polygon": [[-7, -1], [0.5, -1], [0.5, 1], [-7, 1]]}}}))) == ["a", "d"]
    # Planar distances in $geoNear with a 2d index.
    out = list(db.grid.aggregate([{"$geoNear": {"near": [0, 0], "distanceField": "d"}}]))
    assert ids(out) == ["a", "c", "b", "d", "e"]
    assert [d["d"] for d in out][:3] == pytest.approx([0.0, math.sqrt(2), 5.0])
    # A GeoJSON $near needs a 2dsphere index.
    with pytest.raises(OperationFailure) as e:
        list(db.grid.find({"pos": {"$near": {"$geometry": {"type": "Point", "coordinates": [0, 0]}}}}))
    assert e.value.code == 291
    with pytest.raises(WriteError) as e:
        db.grid.insert_one({"_id": "x", "pos": [200, 0]})
    assert e.value.code == 13027


def test_malformed_geojson_is_refused_by_2dsphere_indexes(db):
    db.bad.insert_many([
        {"_id": 1, "loc": {"type": "Point", "coordinates": [1, 2]}},
        {"_id": 2, "loc": {"type": "Point", "coordinates": [1, 200]}},
    ])
    with pytest.raises(OperationFailure) as e:
        db.bad.create_index([("loc", pymongo.GEOSPHERE)])
    assert e.value.code == 16755
    assert "Can't extract geo keys" in str(e.value)
    assert [ix["name"] for ix in db.bad.list_indexes()] == ["_id_"]
    db.bad.delete_one({"_id": 2})
    db.bad.create_index([("loc", pymongo.GEOSPHERE)])
    with pytest.raises(WriteError) as e:
        db.bad.insert_one({"_id": 3, "loc": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0]]]}})
    assert e.value.code == 16755
    with pytest.raises(WriteError) as e:
        db.bad.update_one({"_id": 1}, {"$set": {"loc": "somewhere"}})
    assert e.value.code == 16755
    # Documents without the field are fine; the index serves no other query wrongly.
    db.bad.insert_one({"_id": 4, "name": "no location"})
    assert ids(db.bad.find({"loc.type": "Point"})) == [1]
    assert db.bad.count_documents({}) == 2
