"""Basic CRUD through pymongo."""

import pymongo
import pytest
from bson import ObjectId
from pymongo.errors import DuplicateKeyError, OperationFailure


def test_handshake_presents_a_replica_set_primary(client):
    hello = client.admin.command("hello")
    assert hello["isWritablePrimary"] is True
    assert hello["setName"] == "argon"
    assert hello["maxWireVersion"] >= 8
    assert client.admin.command("ping")["ok"] == 1.0


def test_insert_and_find(db):
    res = db.users.insert_one({"name": "ada", "age": 36})
    assert isinstance(res.inserted_id, ObjectId)
    db.users.insert_many([{"_id": i, "name": f"u{i}", "age": 20 + i} for i in range(10)])
    assert db.users.find_one({"_id": 3})["name"] == "u3"
    names = [d["name"] for d in db.users.find({"age": {"$gte": 27}}).sort("age", -1)]
    assert names == ["ada", "u9", "u8", "u7"]
    assert db.users.count_documents({}) == 11


def test_duplicate_key_error_has_mongodb_code(db):
    db.c.insert_one({"_id": 1})
    with pytest.raises(DuplicateKeyError) as e:
        db.c.insert_one({"_id": 1})
    assert e.value.code == 11000
    assert e.value.details["keyValue"] == {"_id": 1}


def test_update_and_delete(db):
    db.c.insert_many([{"_id": i, "n": i} for i in range(5)])
    r = db.c.update_many({"n": {"$lt": 3}}, {"$inc": {"n": 10}})
    assert (r.matched_count, r.modified_count) == (3, 3)
    assert sorted(d["n"] for d in db.c.find()) == [3, 4, 10, 11, 12]
    r = db.c.update_one({"_id": 99}, {"$set": {"x": 1}}, upsert=True)
    assert r.upserted_id == 99
    assert db.c.delete_many({"n": {"$gte": 10}}).deleted_count == 3
    assert db.c.count_documents({}) == 3


def test_cursor_batches_over_many_getmores(db):
    db.big.insert_many([{"_id": i} for i in range(1000)])
    ids = [d["_id"] for d in db.big.find().batch_size(7)]
    assert ids == list(range(1000))


def test_exhaust_cursor_streams_every_batch(db):
    db.ex.insert_many([{"_id": i, "v": i % 7} for i in range(500)])
    cursor = db.ex.find({"v": {"$ne": 3}}, batch_size=9, cursor_type=pymongo.CursorType.EXHAUST)
    ids = [d["_id"] for d in cursor]
    assert ids == [i for i in range(500) if i % 7 != 3]
    # The connection is usable for ordinary commands afterwards.
    assert db.ex.count_documents({}) == 500


def test_unknown_command_is_command_not_found(db):
    with pytest.raises(OperationFailure) as e:
        db.command("definitelyNotACommand")
    assert e.value.code == 59
