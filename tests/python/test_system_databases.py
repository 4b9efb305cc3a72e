"""MongoDB's `local` and `config` databases read as empty (tools such as
Compass read them on every connection) and refuse writes; stats stages on
a view answer 166 as mongod does (Compass passes over that error)."""

import pymongo
import pytest


def test_local_and_config_read_as_empty_and_refuse_writes(client):
    config, local = client["config"], client["local"]
    assert list(config.collections.find({"_id": "app.users"})) == []  # Compass's shard-key lookup
    assert local.list_collection_names() == ["oplog.rs"]  # the WAL, read as an oplog (test_oplog.py)
    assert local.list_collection_names(filter={"name": "other"}) == []
    with pytest.raises(pymongo.errors.OperationFailure) as e:
        local.command("listCollections", filter="oplog.rs")
    assert e.value.code == 14
    assert config.system.sessions.count_documents({}) == 0
    assert config.x.estimated_document_count() == 0
    assert local.x.distinct("a") == []
    assert list(config.x.aggregate([{"$match": {"a": 1}}])) == []
    with pytest.raises(pymongo.errors.OperationFailure) as e:
        local.command("listIndexes", "x")
    assert e.value.code == 26  # (which pymongo's list_indexes reads as no indexes)
    assert list(local.x.list_indexes()) == []
    with pytest.raises(pymongo.errors.OperationFailure) as e:
        local.x.insert_one({"a": 1})
    assert e.value.code == 73  # InvalidNamespace: these hold no user data
    with pytest.raises(pymongo.errors.OperationFailure) as e:
        config.x.delete_many({})
    assert e.value.code == 73


def test_stats_stages_on_a_view_are_refused_with_166(db):
    db.people.insert_one({"age": 3})
    db.create_collection("adults", viewOn="people", pipeline=[{"$match": {"age": {"$gte": 2}}}])
    for stage in ({"$collStats": {"storageStats": {}}}, {"$indexStats": {}}):
        with pytest.raises(pymongo.errors.OperationFailure) as e:
            list(db.adults.aggregate([stage]))
        assert e.value.code == 166
        assert f"Namespace {db.name}.adults is a view, not a collection" in str(e.value)
    # The view itself still reads.
    assert db.adults.count_documents({}) == 1
