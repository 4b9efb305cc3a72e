"""Update operators, upserts, bulk_write, sort/skip/limit, distinct, aggregation."""

import pytest
from pymongo import DeleteOne, InsertOne, ReplaceOne, UpdateMany, UpdateOne
from pymongo.errors import BulkWriteError, OperationFailure


def test_update_operators(db):
    db.c.insert_one({"_id": 1, "n": 1, "arr": [1, 2, 3], "obj": {"a": 1}, "gone": True})
    db.c.update_one(
        {"_id": 1},
        {
            "$inc": {"n": 4},
            "$mul": {"obj.a": 10},
            "$push": {"arr": {"$each": [9, 0], "$sort": 1}},
            "$unset": {"gone": ""},
            "$set": {"new": "x"},
            "$currentDate": {"when": True},
        },
    )
    d = db.c.find_one({"_id": 1})
    assert d["n"] == 5 and d["obj"]["a"] == 10 and d["arr"] == [0, 1, 2, 3, 9]
    assert "gone" not in d and d["new"] == "x" and "when" in d
    db.c.update_one({"_id": 1}, {"$addToSet": {"arr": {"$each": [1, 42]}}, "$pop": {"never": 1}})
    assert db.c.find_one({"_id": 1})["arr"] == [0, 1, 2, 3, 9, 42]
    db.c.update_one({"_id": 1}, {"$pull": {"arr": {"$gte": 9}}, "$rename": {"new": "renamed"}})
    d = db.c.find_one({"_id": 1})
    assert d["arr"] == [0, 1, 2, 3] and d["renamed"] == "x"
    db.c.update_one({"_id": 1}, {"$min": {"n": 2}, "$max": {"hi": 7}})
    d = db.c.find_one({"_id": 1})
    assert d["n"] == 2 and d["hi"] == 7


def test_conflicting_update_paths_and_immutable_id(db):
    db.c.insert_one({"_id": 1, "a": 1})
    with pytest.raises(OperationFailure) as e:
        db.c.update_one({"_id": 1}, {"$set": {"a": 1}, "$inc": {"a": 1}})
    assert e.value.code == 40
    with pytest.raises(OperationFailure) as e:
        db.c.update_one({"_id": 1}, {"$set": {"_id": 2}})
    assert e.value.code == 66


def test_upsert_seeds_from_filter(db):
    r = db.c.update_one({"name": "x", "n": {"$gt": 3}}, {"$set": {"v": 1}, "$setOnInsert": {"created": True}}, upsert=True)
    d = db.c.find_one({"_id": r.upserted_id})
    assert d["name"] == "x" and d["v"] == 1 and d["created"] is True and "n" not in d


def test_bulk_write_ordered_and_unordered(db):
    db.c.insert_one({"_id": 1})
    r = db.c.bulk_write(
        [InsertOne({"_id": 2}), UpdateOne({"_id": 1}, {"$set": {"x": 1}}), ReplaceOne({"_id": 2}, {"y": 2}), DeleteOne({"_id": 1}), UpdateMany({}, {"$set": {"z": 3}})]
    )
    assert (r.inserted_count, r.matched_count, r.deleted_count) == (1, 3, 1)
    assert list(db.c.find()) == [{"_id": 2, "y": 2, "z": 3}]
    with pytest.raises(BulkWriteError) as e:
        db.c.bulk_write([InsertOne({"_id": 3}), InsertOne({"_id": 2}), InsertOne({"_id": 4})], ordered=True)
    assert e.value.details["nInserted"] == 1 and e.value.details["writeErrors"][0]["code"] == 11000
    with pytest.raises(BulkWriteError) as e:
        db.c.bulk_write([InsertOne({"_id": 5}), InsertOne({"_id": 2}), InsertOne({"_id": 6})], ordered=False)
    assert e.value.details["nInserted"] == 2
    assert sorted(d["_id"] for d in db.c.find()) == [2, 3, 5, 6]


def test_sort_skip_limit_count_distinct(db):
    db.c.insert_many([{"_id": i, "g": i % 3, "tags": [i % 2, "t"]} for i in range(20)])
    got = [d["_id"] for d in db.c.find({}, sort=[("g", 1), ("_id", -1)], skip=3, limit=4)]
    assert got == [9, 6, 3, 0]
    assert db.c.count_documents({"g": 1}) == 7
    assert db.c.count_documents({}, skip=5, limit=3) == 3
    assert db.c.distinct("g") == [0, 1, 2]
    assert db.c.distinct("tags") == [0, 1, "t"]
    assert db.c.estimated_document_count() == 20


def test_aggregation_pipeline(db):
    db.orders.insert_many([
        {"_id": 1, "cust": "a", "amt": 5, "items": ["x", "y"]},
        {"_id": 2, "cust": "b", "amt": 7, "items": ["x"]},
        {"_id": 3, "cust": "a", "amt": 1, "items": []},
    ])
    db.cust.insert_many([{"_id": "a", "name": "Ann"}, {"_id": "b", "name": "Bob"}])
    out = list(db.orders.aggregate([
        {"$group": {"_id": "$cust", "total": {"$sum": "$amt"}, "n": {"$sum": 1}}},
        {"$lookup": {"from": "cust", "localField": "_id", "foreignField": "_id", "as": "c"}},
        {"$project": {"total": 1, "n": 1, "name": {"$arrayElemAt": ["$c.name", 0]}}},
        {"$sort": {"total": -1}},
    ]))
    assert out == [{"_id": "a", "total": 6, "n": 2, "name": "Ann"}, {"_id": "b", "total": 7, "n": 1, "name": "Bob"}][::-1]
    unwound = list(db.orders.aggregate([{"$unwind": "$items"}, {"$count": "n"}]))
    assert unwound == [{"n": 3}]
    db.orders.aggregate([{"$match": {"cust": "a"}}, {"$out": "a_orders"}])
    assert db.a_orders.count_documents({}) == 2


def test_merge_stage_merges_by_id(db):
    db.src.insert_many([{"_id": 1, "a": 10}, {"_id": 2, "a": 20}])
    db.dst.insert_many([{"_id": 1, "keep": True, "a": 0}])
    db.src.aggregate([{"$merge": {"into": "dst"}}])
    assert list(db.dst.find().sort("_id")) == [{"_id": 1, "keep": True, "a": 10}, {"_id": 2, "a": 20}]
    db.src.aggregate([{"$merge": {"into": "dst", "whenMatched": "keepExisting", "whenNotMatched": "discard"}}])
    assert db.dst.count_documents({}) == 2


def test_distinct_keeps_nested_arrays_and_positional_projection_in_find_and_modify(db):
    db.c.insert_many([{"_id": 1, "tags": [1, [2, 3]]}, {"_id": 2, "tags": []}, {"_id": 3, "tags": 1}])
    assert db.c.distinct("tags") == [1, [2, 3]]
    db.g.insert_one({"_id": 1, "grades": [80, 95, 70]})
    doc = db.g.find_one_and_update(
        {"_id": 1, "grades": {"$gte": 90}}, {"$set": {"seen": True}}, projection={"grades.$": 1}
    )
    assert doc == {"_id": 1, "grades": [95]}
