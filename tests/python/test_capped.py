"""Capped collections with pymongo: size and count caps, insertion order,
$natural sorts, tailable (awaitData) cursors."""

import threading
import time

import pytest
from pymongo import CursorType
from pymongo.errors import OperationFailure


def ids(cursor):
    return [d["_id"] for d in cursor]


def test_count_cap_keeps_the_newest_in_insertion_order(db):
    log = db.create_collection("log", capped=True, size=100_000, max=5)
    for i in [10, 3, 7, 1, 9, 2, 8]:
        log.insert_one({"_id": i, "msg": f"m{i}"})
    assert ids(log.find()) == [7, 1, 9, 2, 8]
    assert ids(log.find().sort("$natural", -1)) == [8, 2, 9, 1, 7]
    assert ids(log.find({"_id": {"$gt": 5}}).skip(1).limit(2)) == [9, 8]
    assert log.count_documents({}) == 5
    # A sort by a field is a sort, not insertion order.
    assert ids(log.find().sort("_id", 1)) == [1, 2, 7, 8, 9]
    log.insert_many([{"_id": 100 + i} for i in range(7)])
    assert ids(log.find()) == [102, 103, 104, 105, 106]
    stats = db.command("collStats", "log")
    assert stats["capped"] is True and stats["max"] == 5 and stats["maxSize"] == 100_096
    info = db.command("listCollections", filter={"name": "log"})["cursor"]["firstBatch"][0]
    assert info["options"]["capped"] is True and info["options"]["size"] == 100_000
    # Updates keep their place; deletes are allowed (MongoDB 5.0+).
    log.update_one({"_id": 103}, {"$set": {"note": "x" * 100}})
    log.delete_one({"_id": 105})
    log.insert_one({"_id": 200})
    assert ids(log.find()) == [102, 103, 104, 106, 200]


def test_size_cap_in_bytes(db):
    log = db.create_collection("big", capped=True, size=4096)
    for i in range(20):
        log.insert_one({"_id": i, "pad": "p" * 500})
    kept = ids(log.find())
    assert kept == list(range(20 - len(kept), 20)) and 6 <= len(kept) <= 8
    assert db.command("collStats", "big")["size"] <= 4096
    with pytest.raises(OperationFailure):
        log.insert_one({"_id": "huge", "pad": "p" * 5000})


def test_bad_capped_options(db):
    with pytest.raises(OperationFailure) as e:
        db.create_collection("c", capped=True)
    assert e.value.code == 72
    with pytest.raises(OperationFailure) as e:
        db.create_collection("c", capped=True, size=-5)
    assert e.value.code == 2
    db.create_collection("plain")
    with pytest.raises(OperationFailure) as e:
        list(db.plain.find(cursor_type=CursorType.TAILABLE))
    assert e.value.code == 2


def test_tailable_await_cursor_follows_new_documents(client, db):
    log = db.create_collection("events", capped=True, size=100_000)
    # No match at all: the cursor is dead at once.
    empty = log.find(cursor_type=CursorType.TAILABLE_AWAIT)
    assert list(empty) == [] and not empty.alive
    log.insert_many([{"_id": i} for i in range(3)])
    cursor = log.find({"_id": {"$ne": 4}}, cursor_type=CursorType.TAILABLE_AWAIT).max_await_time_ms(2000)
    assert [next(cursor)["_id"] for _ in range(3)] == [0, 1, 2]
    # Documents inserted later (by another connection) arrive on the same
    # cursor; a getMore waits for them (awaitData) instead of returning empty.
    def later():
        time.sleep(0.3)
        other = client[db.name]["events"]
        for i in range(3, 6):
            other.insert_one({"_id": i})

    t = threading.Thread(target=later)
    t.start()
    start = time.monotonic()
    got = [next(cursor)["_id"]]
    waited = time.monotonic() - start
    t.join()
    got += [next(cursor)["_id"]]
    assert got == [3, 5] and cursor.alive
    assert 0.2 < waited < 2.0
    # With nothing new, an awaitData getMore returns empty after maxTimeMS
    # and the cursor stays open.
    short = log.find(cursor_type=CursorType.TAILABLE_AWAIT).max_await_time_ms(100)
    assert len(list(short)) == 6
    assert short.alive
    cursor.close()
    short.close()


def test_coll_mod_changes_the_caps(db):
    log = db.create_collection("log", capped=True, size=100_000, max=10)
    log.insert_many([{"_id": i} for i in range(10)])
    db.command("collMod", "log", cappedMax=4)
    # The next write trims to the new cap.
    log.insert_one({"_id": 10})
    assert ids(log.find()) == [7, 8, 9, 10]
    db.command("collMod", "log", cappedMax=0, cappedSize=8192)
    log.insert_many([{"_id": 11 + i} for i in range(6)])
    assert len(ids(log.find())) == 10
    stats = db.command("collStats", "log")
    assert stats["maxSize"] == 8192 and "max" not in stats
    db.create_collection("plain")
    with pytest.raises(OperationFailure) as e:
        db.command("collMod", "plain", cappedSize=4096)
    assert e.value.code == 72


def test_a_tailable_cursor_whose_position_was_evicted_dies(db):
    log = db.create_collection("log", capped=True, size=100_000, max=3)
    log.insert_many([{"_id": i} for i in range(3)])
    cursor = log.find(cursor_type=CursorType.TAILABLE)
    assert [d["_id"] for d in cursor] == [0, 1, 2]
    # Four more evict everything the cursor has seen, including its position:
    # the server answers CappedPositionLost (136), which pymongo takes as
    # the end of a tailable cursor, as with MongoDB.
    cid = cursor.cursor_id
    log.insert_many([{"_id": i} for i in range(3, 7)])
    with pytest.raises(OperationFailure) as e:
        db.command({"getMore": cid, "collection": "log"})
    assert e.value.code == 136 and e.value.details["codeName"] == "CappedPositionLost"
    # A cursor that keeps up sees every document.
    cursor = log.find(cursor_type=CursorType.TAILABLE)
    assert [d["_id"] for d in cursor] == [4, 5, 6]
    log.insert_one({"_id": 7})
    assert next(cursor)["_id"] == 7


def test_convert_to_capped_and_clone_collection_as_capped(db):
    db.c.insert_many([{"_id": i, "pad": "p" * 300} for i in range(30)])
    db.c.create_index("pad")
    db.command("cloneCollectionAsCapped", "c", toCollection="copy", size=4096)
    copy = ids(db.copy.find())
    assert copy == list(range(30 - len(copy), 30)) and 10 <= len(copy) <= 13
    assert db.c.count_documents({}) == 30  # the source stays
    with pytest.raises(OperationFailure) as e:
        db.command("cloneCollectionAsCapped", "c", toCollection="copy", size=4096)
    assert e.value.code == 48
    db.command("convertToCapped", "c", size=100_000, max=5)
    assert ids(db.c.find()) == [25, 26, 27, 28, 29]
    assert db.command("collStats", "c")["capped"] is True
    assert [i["name"] for i in db.c.list_indexes()] == ["_id_"]  # as MongoDB, indexes go
    db.c.insert_one({"_id": 99})
    assert ids(db.c.find()) == [26, 27, 28, 29, 99]
    with pytest.raises(OperationFailure) as e:
        db.command("convertToCapped", "nope", size=4096)
    assert e.value.code == 26


def test_aggregation_reads_a_capped_collection_in_insertion_order(db):
    log = db.create_collection("log", capped=True, size=100_000, max=4)
    for i in [5, 3, 9, 1, 7]:
        log.insert_one({"_id": i, "k": i % 2})
    out = list(log.aggregate([{"$match": {"k": 1}}, {"$group": {"_id": None, "order": {"$push": "$_id"}, "first": {"$first": "$_id"}}}]))
    assert out[0]["order"] == [3, 9, 1, 7] and out[0]["first"] == 3
    assert [d["_id"] for d in log.aggregate([{"$limit": 2}])] == [3, 9]


def test_single_updates_and_deletes_take_the_oldest_match(db):
    """A capped collection as a queue: the next job is the oldest."""
    jobs = db.create_collection("jobs", capped=True, size=100_000)
    for i in [30, 10, 20, 40]:
        jobs.insert_one({"_id": i, "state": "new"})
    taken = jobs.find_one_and_update({"state": "new"}, {"$set": {"state": "taken"}})
    assert taken["_id"] == 30
    jobs.update_one({"state": "new"}, {"$set": {"state": "taken"}})
    assert [d["_id"] for d in jobs.find({"state": "taken"})] == [30, 10]
    jobs.delete_one({})
    assert ids(jobs.find()) == [10, 20, 40]
    last = jobs.find_one_and_delete({}, sort=[("$natural", -1)])
    assert last["_id"] == 40


def test_sizes_of_any_numeric_type(db):
    from bson.decimal128 import Decimal128
    from bson.int64 import Int64

    db.command("create", "d", capped=True, size=Decimal128("8192"), max=Int64(2))
    db.create_collection("f", capped=True, size=5000.0)
    assert db.command("collStats", "d")["maxSize"] == 8192
    assert db.command("collStats", "f")["maxSize"] == 5120  # rounded up to a multiple of 256
    db.d.insert_many([{"_id": i} for i in range(4)])
    assert ids(db.d.find()) == [2, 3]
