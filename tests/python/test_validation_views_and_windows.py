"""Schema validation, views, and the newer aggregation stages with pymongo."""

import pymongo
import pytest
from pymongo.errors import OperationFailure, WriteError


def test_json_schema_validator_blocks_bad_documents(db):
    db.create_collection(
        "people",
        validator={"$jsonSchema": {"required": ["name"], "properties": {"age": {"bsonType": "int", "minimum": 0}}}},
    )
    db.people.insert_one({"name": "ada", "age": 36})
    with pytest.raises(WriteError) as e:
        db.people.insert_one({"age": 3})
    assert e.value.code == 121
    assert e.value.details["errInfo"]["details"]["operatorName"] == "$jsonSchema"
    with pytest.raises(WriteError) as e:
        db.people.update_one({"name": "ada"}, {"$set": {"age": -1}})
    assert e.value.code == 121
    # bypassDocumentValidation and collMod.
    db.people.insert_one({"age": 3}, bypass_document_validation=True)
    db.command("collMod", "people", validationAction="warn")
    db.people.insert_one({"age": 4})
    assert db.people.count_documents({}) == 3
    result = db.command("validate", "people")
    assert result["valid"] and result["nNonCompliantDocuments"] == 2


def test_views_read_through_their_pipeline(db):
    db.orders.insert_many([{"_id": i, "qty": i, "open": i % 2 == 0} for i in range(10)])
    db.create_collection("open_orders", viewOn="orders", pipeline=[{"$match": {"open": True}}])
    view = db.open_orders
    assert [d["_id"] for d in view.find({"qty": {"$gte": 4}}).sort("qty", -1)] == [8, 6, 4]
    assert view.count_documents({}) == 5
    assert sorted(view.distinct("qty")) == [0, 2, 4, 6, 8]
    assert view.find_one({"_id": 3}) is None
    with pytest.raises(OperationFailure) as e:
        view.insert_one({"_id": 100})
    assert e.value.code == 166
    names = db.list_collection_names(filter={"type": "view"})
    assert names == ["open_orders"]


def test_window_bucket_auto_and_graph_lookup(db):
    db.sales.insert_many([{"_id": i, "store": "a" if i < 3 else "b", "amount": i * 10} for i in range(6)])
    out = list(
        db.sales.aggregate(
            [
                {
                    "$setWindowFields": {
                        "partitionBy": "$store",
                        "sortBy": {"amount": 1},
                        "output": {
                            "running": {"$sum": "$amount", "window": {"documents": ["unbounded", "current"]}},
                            "rank": {"$rank": {}},
                        },
                    }
                },
                {"$sort": {"_id": 1}},
            ]
        )
    )
    assert [d["running"] for d in out] == [0, 10, 30, 30, 70, 120]
    assert [d["rank"] for d in out] == [1, 2, 3, 1, 2, 3]
    buckets = list(db.sales.aggregate([{"$bucketAuto": {"groupBy": "$amount", "buckets": 2}}]))
    assert [b["count"] for b in buckets] == [3, 3]
    db.staff.insert_many([{"_id": 1, "boss": None}, {"_id": 2, "boss": 1}, {"_id": 3, "boss": 2}])
    chain = list(
        db.staff.aggregate(
            [
                {"$match": {"_id": 3}},
                {
                    "$graphLookup": {
                        "from": "staff",
                        "startWith": "$boss",
                        "connectFromField": "boss",
                        "connectToField": "_id",
                        "as": "bosses",
                        "depthField": "depth",
                    }
                },
            ]
        )
    )
    assert sorted((b["_id"], b["depth"]) for b in chain[0]["bosses"]) == [(1, 1), (2, 0)]


def test_moving_average_covariance_and_linear_fill(db):
    """The manual's $expMovingAvg example, with $covariancePop and $linearFill."""
    import datetime

    day = lambda d: datetime.datetime(2020, 5, 18 + d, 20)
    prices = [13, 15.4, None, 11.7]
    db.stock.insert_many([{"stock": "MDB", "date": day(i), "price": p} for i, p in enumerate(prices)])
    out = list(
        db.stock.aggregate(
            [
                {
                    "$setWindowFields": {
                        "partitionBy": "$stock",
                        "sortBy": {"date": 1},
                        "output": {
                            "ema": {"$expMovingAvg": {"input": "$price", "N": 2}},
                            "filled": {"$linearFill": "$price"},
                            "cov": {"$covariancePop": [{"$dayOfMonth": "$date"}, "$price"]},
                        },
                    }
                },
                {"$project": {"_id": 0, "ema": 1, "filled": 1, "cov": 1}},
            ]
        )
    )
    assert [round(d["ema"], 6) for d in out] == [13, 14.6, 14.6, round(11.7 * 2 / 3 + 14.6 / 3, 6)]
    # The null price is interpolated between day 1 (15.4) and day 3 (11.7).
    assert [round(d["filled"], 6) for d in out] == [13, 15.4, round((15.4 + 11.7) / 2, 6), 11.7]
    # Days 18, 19, 21 against 13, 15.4, 11.7 (the null pair is skipped).
    xs, ys = [18, 19, 21], [13, 15.4, 11.7]
    mx, my = sum(xs) / 3, sum(ys) / 3
    want = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / 3
    assert all(abs(d["cov"] - want) < 1e-9 for d in out)
    with pytest.raises(OperationFailure) as e:
        db.stock.aggregate([{"$setWindowFields": {"output": {"e": {"$expMovingAvg": {"input": "$price", "N": 2}}}}}])
    assert e.value.code == 9
