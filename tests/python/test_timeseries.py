"""Time series collections: created with MongoDB's options, listed as
`timeseries`, the time field required on every write, the meta/time index,
and expiry by `expireAfterSeconds`. (Documents are stored as in any
collection: there are no buckets to see.)"""

import datetime
import time

import pytest
from pymongo.errors import BulkWriteError, OperationFailure, WriteError

NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def readings(n, start=NOW):
    return [
        {"ts": start - datetime.timedelta(minutes=i), "sensor": {"id": i % 3}, "temp": 20 + i % 5}
        for i in range(n)
    ]


def test_create_list_and_query(db):
    db.create_collection("weather", timeseries={"timeField": "ts", "metaField": "sensor", "granularity": "minutes"})
    info = db.command("listCollections", filter={"name": "weather"})["cursor"]["firstBatch"][0]
    assert info["type"] == "timeseries"
    assert info["options"]["timeseries"] == {
        "timeField": "ts",
        "metaField": "sensor",
        "granularity": "minutes",
        "bucketMaxSpanSeconds": 86400,
    }
    # MongoDB creates the {metaField, timeField} index with the collection.
    assert [ix["key"] for ix in db.weather.list_indexes()][1] == {"sensor": 1, "ts": 1}
    db.weather.insert_many(readings(30))
    assert db.weather.count_documents({"sensor.id": 1}) == 10
    last_hour = db.weather.count_documents({"ts": {"$gte": NOW - datetime.timedelta(minutes=9)}})
    assert last_hour == 10
    avg = list(
        db.weather.aggregate(
            [{"$group": {"_id": "$sensor.id", "avg": {"$avg": "$temp"}}}, {"$sort": {"_id": 1}}]
        )
    )
    assert [a["_id"] for a in avg] == [0, 1, 2]
    assert db.list_collection_names(filter={"type": "timeseries"}) == ["weather"]


def test_the_time_field_is_required_on_every_write(db):
    db.create_collection("m", timeseries={"timeField": "t"})
    db.m.insert_one({"t": NOW, "v": 1})
    for bad in [{"v": 2}, {"t": "yesterday", "v": 3}, {"t": 12345}]:
        with pytest.raises(WriteError) as e:
            db.m.insert_one(bad)
        assert e.value.code == 2 and "'t' must be present and contain a valid BSON UTC datetime value" in str(e.value)
    with pytest.raises(BulkWriteError) as e:
        db.m.insert_many([{"t": NOW, "v": 4}, {"v": 5}, {"t": NOW, "v": 6}], ordered=False)
    assert e.value.details["nInserted"] == 2
    assert [w["index"] for w in e.value.details["writeErrors"]] == [1]
    # Even when bypassing document validation.
    with pytest.raises(WriteError):
        db.m.insert_one({"v": 7}, bypass_document_validation=True)
    # An update may not remove or retype it either.
    with pytest.raises(WriteError):
        db.m.update_one({"v": 1}, {"$unset": {"t": ""}})
    db.m.update_one({"v": 1}, {"$set": {"v": 10}})
    assert db.m.count_documents({}) == 3
    assert db.m.find_one({"v": 10})["t"] is not None


def test_expire_after_seconds_removes_old_measurements(server, db):
    db.create_collection("events", timeseries={"timeField": "at"}, expireAfterSeconds=3600)
    old = NOW - datetime.timedelta(hours=5)
    db.events.insert_many([{"at": old, "n": 1}, {"at": old, "n": 2}, {"at": NOW, "n": 3}])
    # The TTL monitor runs every 5 s.
    deadline = time.time() + 90
    while db.events.count_documents({}) > 1 and time.time() < deadline:
        time.sleep(0.5)
    assert [d["n"] for d in db.events.find()] == [3]


def test_coll_mod_changes_the_retention(db):
    db.create_collection("logs", timeseries={"timeField": "at"})
    db.logs.insert_many([{"at": NOW - datetime.timedelta(hours=3), "n": 1}, {"at": NOW, "n": 2}])
    db.command({"collMod": "logs", "expireAfterSeconds": 3600})
    options = db.command("listCollections", filter={"name": "logs"})["cursor"]["firstBatch"][0]["options"]
    assert options["expireAfterSeconds"] == 3600
    deadline = time.time() + 90
    while db.logs.count_documents({}) > 1 and time.time() < deadline:
        time.sleep(0.5)
    assert [d["n"] for d in db.logs.find()] == [2]
    db.command({"collMod": "logs", "expireAfterSeconds": "off"})
    options = db.command("listCollections", filter={"name": "logs"})["cursor"]["firstBatch"][0]["options"]
    assert "expireAfterSeconds" not in options
    for bad in [-5, "soon"]:
        with pytest.raises(OperationFailure) as e:
            db.command({"collMod": "logs", "expireAfterSeconds": bad})
        assert e.value.code == 72
    db.create_collection("plain")
    with pytest.raises(OperationFailure) as e:
        db.command({"collMod": "plain", "expireAfterSeconds": 10})
    assert e.value.code == 72


def test_bad_options_get_mongodbs_errors(db):
    cases = [
        ({"timeseries": {"metaField": "m"}}, 40414),
        ({"timeseries": {"timeField": "t", "bogus": 1}}, 40415),
        ({"timeseries": {"timeField": "t", "granularity": "days"}}, 2),
        ({"timeseries": {"timeField": "t", "metaField": "t"}}, 2),
        ({"timeseries": {"timeField": "a.b"}}, 2),
        ({"timeseries": {"timeField": "t"}, "capped": True, "size": 4096}, 72),
        ({"expireAfterSeconds": 10}, 72),
        ({"timeseries": {"timeField": "t"}, "expireAfterSeconds": -1}, 72),
    ]
    for i, (opts, code) in enumerate(cases):
        with pytest.raises(OperationFailure) as e:
            db.command({"create": f"bad{i}", **opts})
        assert e.value.code == code, (opts, e.value)
    assert db.list_collection_names() == []
