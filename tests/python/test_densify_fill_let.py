"""$densify, $fill, $redact and the `let` option of commands, with pymongo."""

import datetime

import pytest
from pymongo import ReturnDocument
from pymongo.errors import OperationFailure

UTC = datetime.timezone.utc


def test_densify_numeric_partitions(db):
    db.c.insert_many(
        [
            {"_id": 1, "p": "a", "v": 1},
            {"_id": 2, "p": "a", "v": 4},
            {"_id": 3, "p": "b", "v": 10},
            {"_id": 4, "p": "b", "v": 12},
        ]
    )
    out = list(
        db.c.aggregate(
            [
                {"$densify": {"field": "v", "partitionByFields": ["p"], "range": {"step": 1, "bounds": "partition"}}},
                {"$project": {"_id": 0}},
            ]
        )
    )
    assert [(d["p"], d["v"]) for d in out] == [("a", 1), ("a", 2), ("a", 3), ("a", 4), ("b", 10), ("b", 11), ("b", 12)]
    # Explicit bounds, upper bound excluded, in every partition.
    out = list(
        db.c.aggregate(
            [
                {"$densify": {"field": "v", "partitionByFields": ["p"], "range": {"step": 5, "bounds": [0, 11]}}},
                {"$match": {"_id": {"$exists": False}}},
                {"$sort": {"p": 1, "v": 1}},
            ]
        )
    )
    assert [(d["p"], d["v"]) for d in out] == [("a", 0), ("a", 5), ("a", 10), ("b", 0), ("b", 5)]


def test_densify_dates_full(db):
    t0 = datetime.datetime(2021, 5, 18, tzinfo=UTC)
    db.c.insert_many([{"_id": 1, "t": t0}, {"_id": 2, "t": t0 + datetime.timedelta(hours=3)}, {"_id": 3}])
    out = list(db.c.aggregate([{"$densify": {"field": "t", "range": {"step": 1, "unit": "hour", "bounds": "full"}}}]))
    assert out[0] == {"_id": 3}
    hours = [d["t"].replace(tzinfo=UTC) for d in out[1:]]
    assert hours == [t0 + datetime.timedelta(hours=h) for h in range(4)]


def test_densify_errors(db):
    db.c.insert_one({"t": datetime.datetime(2021, 1, 1)})
    # A date field with a numeric range (no unit).
    with pytest.raises(OperationFailure) as e:
        list(db.c.aggregate([{"$densify": {"field": "t", "range": {"step": 1, "bounds": "full"}}}]))
    assert e.value.code == 6053600
    with pytest.raises(OperationFailure) as e:
        list(db.c.aggregate([{"$densify": {"field": "t", "range": {"step": 0, "bounds": "full"}}}]))
    assert e.value.code == 5733401
    with pytest.raises(OperationFailure) as e:
        list(db.c.aggregate([{"$densify": {"field": "t", "range": {"step": 1, "bounds": "partition"}}}]))
    assert e.value.code == 5733408


def test_fill_value_locf_and_linear(db):
    db.c.insert_many(
        [
            {"_id": 1, "s": "x", "t": 1, "price": 10, "qty": 2},
            {"_id": 2, "s": "x", "t": 2},
            {"_id": 3, "s": "x", "t": 3, "price": None},
            {"_id": 4, "s": "x", "t": 4, "price": 40, "qty": 5},
            {"_id": 5, "s": "y", "t": 1},
            {"_id": 6, "s": "y", "t": 2, "price": 7, "qty": 1},
        ]
    )
    out = list(
        db.c.aggregate(
            [
                {
                    "$fill": {
                        "sortBy": {"t": 1},
                        "partitionByFields": ["s"],
                        "output": {"price": {"method": "linear"}, "qty": {"method": "locf"}, "note": {"value": "n/a"}},
                    }
                }
            ]
        )
    )
    assert [d["_id"] for d in out] == [1, 2, 3, 4, 5, 6]
    assert [d["price"] for d in out] == [10, 20, 30, 40, None, 7]
    assert [d["qty"] for d in out] == [2, 2, 2, 5, None, 1]
    assert all(d["note"] == "n/a" for d in out)
    # A value fill reads the document.
    out = list(db.c.aggregate([{"$fill": {"output": {"qty": {"value": {"$multiply": ["$t", 100]}}}}}, {"$sort": {"_id": 1}}]))
    assert [d["qty"] for d in out] == [2, 200, 300, 5, 100, 1]
    with pytest.raises(OperationFailure) as e:
        list(db.c.aggregate([{"$fill": {"output": {"price": {"method": "linear"}}}}]))
    assert e.value.code == 605001


def test_redact_prunes_and_descends_through_arrays(db):
    db.c.insert_many(
        [
            {
                "_id": 1,
                "acl": ["public"],
                "title": "t",
                "sections": [
                    {"acl": ["public"], "text": "a", "notes": [{"acl": ["secret"], "n": 1}, {"acl": ["public"], "n": 2}]},
                    {"acl": ["secret"], "text": "b"},
                ],
                "meta": {"acl": ["secret"], "owner": "x"},
            },
            {"_id": 2, "acl": ["secret"], "title": "hidden"},
        ]
    )
    level = {
        "$cond": {
            "if": {"$in": ["public", {"$ifNull": ["$acl", []]}]},
            "then": "$$DESCEND",
            "else": "$$PRUNE",
        }
    }
    out = list(db.c.aggregate([{"$redact": level}]))
    assert out == [
        {
            "_id": 1,
            "acl": ["public"],
            "title": "t",
            "sections": [{"acl": ["public"], "text": "a", "notes": [{"acl": ["public"], "n": 2}]}],
        }
    ]
    keep = {"$cond": [{"$eq": ["$_id", 2]}, "$$KEEP", "$$PRUNE"]}
    assert [d["_id"] for d in db.c.aggregate([{"$redact": keep}])] == [2]


def test_let_on_find_and_aggregate(db):
    db.c.insert_many([{"_id": i, "qty": i * 10} for i in range(1, 6)])
    found = db.c.find({"$expr": {"$gte": ["$qty", "$$low"]}}, let={"low": {"$add": [20, 5]}}).sort("_id", 1)
    assert [d["_id"] for d in found] == [3, 4, 5]
    out = list(
        db.c.aggregate(
            [{"$match": {"$expr": {"$lt": ["$qty", "$$cap"]}}}, {"$project": {"over": {"$subtract": ["$$cap", "$qty"]}}}],
            let={"cap": 30},
        )
    )
    assert sorted((d["_id"], d["over"]) for d in out) == [(1, 20), (2, 10)]
    with pytest.raises(OperationFailure) as e:
        list(db.c.find({"$expr": {"$eq": ["$qty", "$$Bad"]}}, let={"Bad": 1}))
    assert e.value.code == 16867
    with pytest.raises(OperationFailure) as e:
        list(db.c.find({"$expr": {"$eq": ["$qty", "$$missing"]}}))
    assert e.value.code == 17276
    # A find projection reads them too (and a projection without them fails).
    projected = db.c.find({"_id": {"$lte": 2}}, {"left": {"$subtract": ["$$cap", "$qty"]}}, let={"cap": 100})
    assert sorted((d["_id"], d["left"]) for d in projected) == [(1, 90), (2, 80)]
    streamed = list(db.c.find({}, {"cap": "$$cap", "_id": 0}, let={"cap": 7}, batch_size=2))
    assert streamed == [{"cap": 7}] * 5
    with pytest.raises(OperationFailure) as e:
        list(db.c.find({}, {"x": "$$cap"}))
    assert e.value.code == 17276
    changed = db.c.find_one_and_update(
        {"_id": 1}, {"$inc": {"qty": 1}}, projection={"double": {"$multiply": ["$qty", "$$k"]}}, let={"k": 2}
    )
    assert changed["double"] == 20


def test_let_on_updates_deletes_and_find_one_and_update(db):
    db.c.insert_many([{"_id": i, "qty": i} for i in range(1, 6)])
    r = db.c.update_one(
        {"$expr": {"$eq": ["$_id", "$$target"]}},
        [{"$set": {"qty": {"$multiply": ["$qty", "$$factor"]}, "tag": "$$label"}}],
        let={"target": 2, "factor": 10, "label": "bumped"},
    )
    assert r.matched_count == 1 and r.modified_count == 1
    assert db.c.find_one({"_id": 2}) == {"_id": 2, "qty": 20, "tag": "bumped"}

    r = db.c.update_many({"$expr": {"$gt": ["$qty", "$$min"]}}, {"$inc": {"qty": 1}}, let={"min": 4})
    assert r.modified_count == 2  # _id 2 (20) and 5

    r = db.c.delete_many({"$expr": {"$lt": ["$qty", "$$limit"]}}, let={"limit": 4})
    assert r.deleted_count == 2  # _id 1 and 3
    assert sorted(d["_id"] for d in db.c.find()) == [2, 4, 5]

    doc = db.c.find_one_and_update(
        {"$expr": {"$eq": ["$qty", "$$q"]}},
        [{"$set": {"seen": "$$now_label"}}],
        let={"q": 4, "now_label": "yes"},
        return_document=ReturnDocument.AFTER,
    )
    assert doc == {"_id": 4, "qty": 4, "seen": "yes"}
    gone = db.c.find_one_and_delete({"$expr": {"$eq": ["$_id", "$$id"]}}, let={"id": 5})
    assert gone["_id"] == 5
    assert sorted(d["_id"] for d in db.c.find()) == [2, 4]


def test_let_on_count_and_distinct(db):
    db.c.insert_many([{"_id": i, "v": i * 10, "k": i % 3} for i in range(6)])
    assert db.c.count_documents({"$expr": {"$gte": ["$v", "$$min"]}}, let={"min": 30}) == 3
    assert db.command("count", "c", query={"$expr": {"$lt": ["$v", "$$max"]}}, let={"max": 20})["n"] == 2
    got = db.command("distinct", "c", key="k", query={"$expr": {"$gt": ["$v", "$$min"]}}, let={"min": 30})
    assert sorted(got["values"]) == [1, 2]
