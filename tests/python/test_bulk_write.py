"""MongoDB 8.0's client-level bulk write (the `bulkWrite` command) and
updateOne/replaceOne with `sort`, with pymongo."""

import pytest
from pymongo import DeleteMany, DeleteOne, InsertOne, ReplaceOne, UpdateMany, UpdateOne
from pymongo.errors import ClientBulkWriteException, OperationFailure


def test_one_bulk_write_across_collections_projects_and_branches(client, db):
    other = client[db.name + "x"]
    client.admin.command("createProject", db.name)
    client.admin.command("createBranch", "dev", project=db.name)
    dev = client[f"{db.name}~dev"]
    result = client.bulk_write(
        [
            InsertOne({"_id": 1, "n": 1}, namespace=f"{db.name}.a"),
            InsertOne({"_id": 2, "n": 2}, namespace=f"{db.name}.a"),
            InsertOne({"_id": 1, "n": 10}, namespace=f"{other.name}.b"),
            UpdateOne({"_id": 1}, {"$inc": {"n": 5}}, namespace=f"{db.name}.a"),
            UpdateMany({}, {"$set": {"seen": True}}, namespace=f"{db.name}.a"),
            UpdateOne({"_id": 9}, {"$set": {"n": 9}}, upsert=True, namespace=f"{db.name}.a"),
            ReplaceOne({"_id": 1}, {"n": 11}, namespace=f"{other.name}.b"),
            InsertOne({"_id": 7}, namespace=f"{db.name}~dev.c"),
            DeleteOne({"_id": 2}, namespace=f"{db.name}.a"),
            DeleteMany({}, namespace=f"{db.name}~dev.c"),
        ],
        verbose_results=True,
    )
    assert (result.inserted_count, result.matched_count, result.modified_count) == (4, 4, 4)
    assert (result.upserted_count, result.deleted_count) == (1, 2)
    assert result.update_results[5].upserted_id == 9
    assert result.insert_results[0].inserted_id == 1
    assert result.delete_results[8].deleted_count == 1
    assert sorted((d["_id"], d["n"], d.get("seen")) for d in db.a.find()) == [(1, 6, True), (9, 9, None)]
    assert list(other.b.find()) == [{"_id": 1, "n": 11}]
    assert list(dev.c.find()) == []
    # Writes to the branch stayed there.
    assert "c" not in db.list_collection_names()


def test_ordered_stops_at_the_first_error_unordered_goes_on(client, db):
    ns = f"{db.name}.c"
    with pytest.raises(ClientBulkWriteException) as e:
        client.bulk_write([InsertOne({"_id": 1}, namespace=ns), InsertOne({"_id": 1}, namespace=ns), InsertOne({"_id": 2}, namespace=ns)])
    assert [(w["idx"], w["code"]) for w in e.value.write_errors] == [(1, 11000)]
    assert e.value.partial_result.inserted_count == 1
    assert [d["_id"] for d in db.c.find()] == [1]
    with pytest.raises(ClientBulkWriteException) as e:
        client.bulk_write(
            [InsertOne({"_id": 1}, namespace=ns), InsertOne({"_id": 3}, namespace=ns), UpdateOne({"_id": 3}, {"$bad": 1}, namespace=ns), DeleteOne({"_id": 1}, namespace=ns)],
            ordered=False,
        )
    assert sorted(w["idx"] for w in e.value.write_errors) == [0, 2]
    assert sorted(d["_id"] for d in db.c.find()) == [3]


def test_retried_bulk_write_is_not_applied_twice(client, db):
    ns = f"{db.name}.c"
    db.c.insert_one({"_id": 1, "n": 0})
    cmd = {
        "bulkWrite": 1,
        "ops": [{"update": 0, "filter": {"_id": 1}, "updateMods": {"$inc": {"n": 1}}}],
        "nsInfo": [{"ns": ns}],
        "txnNumber": 5,
    }
    with client.start_session() as s:
        first = client.admin.command(cmd, session=s)
        again = client.admin.command(cmd, session=s)
    assert first["nModified"] == again["nModified"] == 1
    assert db.c.find_one()["n"] == 1


def test_bulk_write_in_a_transaction(client, db):
    db.c.insert_one({"_id": 0})
    ns = f"{db.name}.c"
    with client.start_session() as s:
        with s.start_transaction():
            client.bulk_write([InsertOne({"_id": 1}, namespace=ns), DeleteOne({"_id": 0}, namespace=ns)], session=s)
            assert db.c.count_documents({}, session=s) == 1
            s.abort_transaction()
    assert [d["_id"] for d in db.c.find()] == [0]


def test_update_one_and_replace_one_with_sort(db):
    db.c.insert_many([{"_id": i, "k": "x", "rank": r} for i, r in [(1, 5), (2, 9), (3, 1)]])
    db.c.update_one({"k": "x"}, {"$set": {"top": True}}, sort={"rank": -1})
    assert db.c.find_one({"top": True})["_id"] == 2
    db.c.replace_one({"k": "x"}, {"k": "x", "rank": 0, "low": True}, sort={"rank": 1})
    assert db.c.find_one({"low": True})["_id"] == 3
    with pytest.raises(OperationFailure) as e:
        db.command({"update": "c", "updates": [{"q": {}, "u": {"$set": {"a": 1}}, "multi": True, "sort": {"rank": 1}}]})
    assert e.value.code == 72


def test_bad_bulk_writes(client, db):
    for cmd, code in [
        ({"bulkWrite": 1, "ops": [], "nsInfo": [{"ns": "a.b"}]}, 2),
        ({"bulkWrite": 1, "ops": [{"insert": 3, "document": {}}], "nsInfo": [{"ns": "a.b"}]}, 2),
        ({"bulkWrite": 1, "ops": [{"frobnicate": 0}], "nsInfo": [{"ns": "a.b"}]}, 9),
        ({"bulkWrite": 1, "ops": [{"insert": 0, "document": {}}], "nsInfo": [{"ns": "nodot"}]}, 73),
        ({"bulkWrite": 1, "ops": [{"update": 0, "filter": {}}], "nsInfo": [{"ns": "a.b"}]}, 9),
    ]:
        with pytest.raises(OperationFailure) as e:
            client.admin.command(cmd)
        assert e.value.code == code, cmd
    with pytest.raises(OperationFailure) as e:
        db.command({"bulkWrite": 1, "ops": [{"insert": 0, "document": {}}], "nsInfo": [{"ns": f"{db.name}.c"}]})
    assert e.value.code == 13
    assert client.admin.command("ping")["ok"] == 1


def test_a_failed_operation_aborts_the_transaction(client, db):
    db.c.insert_one({"_id": 1})
    ns = f"{db.name}.c"
    with client.start_session() as s:
        s.start_transaction()
        with pytest.raises((OperationFailure, ClientBulkWriteException)):
            client.bulk_write([InsertOne({"_id": 2}, namespace=ns), InsertOne({"_id": 1}, namespace=ns)], session=s)
        with pytest.raises(OperationFailure) as e:
            s.commit_transaction()
        assert e.value.code == 251  # NoSuchTransaction: it was aborted
    assert [d["_id"] for d in db.c.find()] == [1]
