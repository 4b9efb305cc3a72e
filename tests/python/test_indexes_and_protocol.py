"""Indexes (unique violations, explain, TTL), compression, replica-set
discovery, and the history admin command."""

import datetime
import time

import pymongo
import pytest
from pymongo.errors import DuplicateKeyError, OperationFailure


def test_unique_index_violation_reports_key(db):
    db.users.create_index("email", unique=True)
    db.users.insert_one({"_id": 1, "email": "a@x"})
    with pytest.raises(DuplicateKeyError) as e:
        db.users.insert_one({"_id": 2, "email": "a@x"})
    assert e.value.code == 11000
    assert e.value.details["keyPattern"] == {"email": 1}
    assert e.value.details["keyValue"] == {"email": "a@x"}
    names = [ix["name"] for ix in db.users.list_indexes()]
    assert names == ["_id_", "email_1"]
    db.users.drop_index("email_1")
    db.users.insert_one({"_id": 2, "email": "a@x"})


def test_explain_uses_the_index(db):
    db.c.insert_many([{"_id": i, "k": i % 10} for i in range(200)])
    plan = db.c.find({"k": 3}).explain()
    assert plan["queryPlanner"]["winningPlan"]["stage"] == "COLLSCAN"
    db.c.create_index([("k", pymongo.ASCENDING)])
    plan = db.c.find({"k": 3}).explain()
    assert plan["queryPlanner"]["winningPlan"]["inputStage"]["stage"] == "IXSCAN"
    assert plan["executionStats"]["totalDocsExamined"] == 20
    assert plan["executionStats"]["nReturned"] == 20
    assert sorted(d["_id"] for d in db.c.find({"k": {"$in": [3, 4]}})) == sorted(
        [i for i in range(200) if i % 10 in (3, 4)]
    )


def test_ttl_index_expires_documents(db):
    old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    new = datetime.datetime.now(datetime.timezone.utc)
    db.sessions.insert_many([{"_id": 1, "at": old}, {"_id": 2, "at": new}])
    db.sessions.create_index("at", expireAfterSeconds=60)
    deadline = time.time() + 20
    while time.time() < deadline and db.sessions.count_documents({}) != 1:
        time.sleep(0.5)
    assert [d["_id"] for d in db.sessions.find()] == [2]


def test_zlib_compression_is_negotiated(server):
    c = pymongo.MongoClient(server.uri, compressors="zlib", serverSelectionTimeoutMS=5000)
    try:
        c.zz.c.insert_many([{"_id": i, "pad": "x" * 500} for i in range(100)])
        assert c.zz.c.count_documents({}) == 100
        assert len(list(c.zz.c.find())) == 100
    finally:
        c.close()


def test_replica_set_discovery(server):
    c = pymongo.MongoClient(f"mongodb://{server.host}:{server.port}/?replicaSet=argon", serverSelectionTimeoutMS=5000)
    try:
        c.rs.c.insert_one({"_id": 1})
        assert c.rs.c.find_one()["_id"] == 1
        assert c.primary == (server.host, server.port)
    finally:
        c.close()


def test_history_is_the_audit_trail(client, db):
    db.c.insert_one({"_id": 1, "v": 1})
    db.c.update_one({"_id": 1}, {"$set": {"v": 2}})
    db.c.delete_one({"_id": 1})
    h = client.admin.command("history", "main", project=db.name, collection="c")
    ops = [e["entry"]["ops"][-1]["kind"] for e in h["entries"]]
    assert ops == ["delete", "update", "insert"]
    assert all(e["entry"]["actor"].startswith("anonymous") for e in h["entries"])
    assert h["entries"][1]["entry"]["ops"][-1]["pre"] == {"_id": 1, "v": 1}


def test_reindex_is_refused_as_on_a_replica_set_member(db):
    db.c.insert_one({"a": 1})
    db.c.create_index("a")
    with pytest.raises(OperationFailure) as refused:
        db.command("reIndex", "c")
    assert refused.value.code == 20
    assert "standalone" in str(refused.value)
    assert sorted(i["name"] for i in db.c.list_indexes()) == ["_id_", "a_1"]
    assert db.c.find_one({"a": 1}, {"_id": 0}) == {"a": 1}
