"""Branch addressing and isolation, snapshot reads at atClusterTime,
transactions with with_transaction, change streams."""

import threading
import time

import pytest
from bson import Timestamp
from pymongo.errors import OperationFailure
from pymongo.read_concern import ReadConcern


def test_branch_isolation_both_ways(client, db):
    db.c.insert_one({"_id": 1, "on": "main"})
    client.admin.command("createBranch", "dev", project=db.name)
    dev = client[f"{db.name}~dev"]
    dev.c.insert_one({"_id": 2, "on": "dev"})
    db.c.insert_one({"_id": 3, "on": "main"})
    dev.c.update_one({"_id": 1}, {"$set": {"on": "dev-changed"}})
    assert sorted(d["_id"] for d in db.c.find()) == [1, 3]
    assert db.c.find_one({"_id": 1})["on"] == "main"
    assert sorted(d["_id"] for d in dev.c.find()) == [1, 2]
    assert dev.c.find_one({"_id": 1})["on"] == "dev-changed"
    names = client.list_database_names()
    assert db.name in names and f"{db.name}~dev" in names


def test_read_only_view_at_lsn(client, db):
    db.c.insert_one({"_id": 1})
    info = client.admin.command("branchInfo", "main", project=db.name)
    lsn = info["branch"]["head_lsn"]
    db.c.insert_one({"_id": 2})
    view = client[f"{db.name}~main@{lsn}"]
    assert [d["_id"] for d in view.c.find()] == [1]
    with pytest.raises(OperationFailure) as e:
        view.c.insert_one({"_id": 3})
    assert "read-only view" in str(e.value)


def test_snapshot_read_at_cluster_time(client, db):
    with client.start_session() as s:
        db.c.insert_one({"_id": 1}, session=s)
        t1 = s.operation_time
    db.c.insert_one({"_id": 2})
    db.c.delete_one({"_id": 1})
    r = db.command({"find": "c", "readConcern": {"level": "snapshot", "atClusterTime": t1}})
    assert [d["_id"] for d in r["cursor"]["firstBatch"]] == [1]
    assert [d["_id"] for d in db.c.find()] == [2]


def test_with_transaction_commits_and_aborts(client, db):
    db.acc.insert_many([{"_id": "a", "bal": 100}, {"_id": "b", "bal": 0}])

    def transfer(session):
        db.acc.update_one({"_id": "a"}, {"$inc": {"bal": -40}}, session=session)
        db.acc.update_one({"_id": "b"}, {"$inc": {"bal": 40}}, session=session)

    with client.start_session() as s:
        s.with_transaction(transfer)
    assert [d["bal"] for d in db.acc.find().sort("_id")] == [60, 40]

    class Boom(Exception):
        pass

    def failing(session):
        db.acc.update_one({"_id": "a"}, {"$inc": {"bal": -1000}}, session=session)
        raise Boom()

    with client.start_session() as s:
        with pytest.raises(Boom):
            s.with_transaction(failing)
    assert [d["bal"] for d in db.acc.find().sort("_id")] == [60, 40]


def test_change_stream_with_pre_and_post_images(db):
    db.c.insert_one({"_id": 0})
    with db.c.watch(full_document="updateLookup", full_document_before_change="whenAvailable") as stream:
        db.c.insert_one({"_id": 1, "v": 1})
        db.c.update_one({"_id": 1}, {"$set": {"v": 2}})
        db.c.delete_one({"_id": 1})
        events = []
        deadline = time.time() + 20
        while len(events) < 3:
            assert time.time() < deadline, f"change events never arrived: {events}"
            ev = stream.try_next()
            if ev is not None:
                events.append(ev)
    assert [e["operationType"] for e in events] == ["insert", "update", "delete"]
    assert events[0]["fullDocument"] == {"_id": 1, "v": 1}
    assert events[1]["updateDescription"]["updatedFields"] == {"v": 2}
    assert events[1]["fullDocumentBeforeChange"] == {"_id": 1, "v": 1}
    assert events[2]["fullDocumentBeforeChange"] == {"_id": 1, "v": 2}
    # Resume after the first event replays the rest.
    with db.c.watch(resume_after=events[0]["_id"]) as again:
        deadline = time.time() + 20
        ev = again.try_next()
        while ev is None:
            assert time.time() < deadline, "no event after the resume token"
            ev = again.try_next()
        assert ev["operationType"] == "update"


def test_a_transaction_may_create_the_database(client):
    name = f"txnnew{int(time.time() * 1000) % 1000000}"
    with client.start_session() as s:
        s.with_transaction(lambda session: client[name].c.insert_one({"_id": 1}, session=session))
    assert client[name].c.find_one() == {"_id": 1}


def test_change_stream_expanded_events(db):
    """showExpandedEvents (MongoDB 6.0): DDL events too; without it, none."""

    def collect(stream, n):
        events, deadline = [], time.time() + 20
        while len(events) < n:
            assert time.time() < deadline, f"events never arrived: {events}"
            ev = stream.try_next()
            if ev is not None:
                events.append(ev)
        return events

    with db.watch(show_expanded_events=True) as expanded, db.watch() as plain:
        db.create_collection("t", validator={"a": {"$exists": True}})
        db.t.create_index("a")
        db.command("collMod", "t", validationLevel="off")
        db.t.drop_index("a_1")
        db.t.insert_one({"_id": 1, "a": 1})
        events = collect(expanded, 5)
        assert [e["operationType"] for e in events] == ["create", "createIndexes", "modify", "dropIndexes", "insert"]
        assert events[0]["ns"] == {"db": db.name, "coll": "t"}
        assert events[0]["operationDescription"]["validator"] == {"a": {"$exists": True}}
        assert events[1]["operationDescription"]["indexes"][0]["key"] == {"a": 1}
        assert events[2]["operationDescription"]["validationLevel"] == "off"
        assert events[3]["operationDescription"]["indexes"] == [{"name": "a_1"}]
        assert [e["operationType"] for e in collect(plain, 1)] == ["insert"]


def test_list_databases_reports_what_each_branch_adds_on_disk(client, db):
    import bson

    docs = [{"_id": i, "pad": "x" * 100} for i in range(50)]
    db.c.insert_many(docs)
    client.admin.command("createBranch", "feature", project=db.name)

    def sizes():
        listed = client.admin.command("listDatabases")
        by_name = {d["name"]: d["sizeOnDisk"] for d in listed["databases"]}
        assert listed["totalSize"] == sum(by_name.values())
        return by_name[db.name], by_name[f"{db.name}~feature"]

    main, feature = sizes()
    assert main == sum(len(bson.encode(d)) for d in docs)  # the versions main wrote
    assert feature == 0  # a new branch shares its parent's data: it adds nothing
    client[f"{db.name}~feature"].c.update_one({"_id": 1}, {"$set": {"pad": "y"}})
    after_main, after_feature = sizes()
    assert after_main == main and after_feature == len(bson.encode({"_id": 1, "pad": "y"}))
