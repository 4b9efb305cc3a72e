"""local.oplog.rs: Argon's WAL read as MongoDB's oplog, through pymongo."""

import threading
import time

import pymongo
import pytest
from bson import Timestamp


def oplog(client):
    return client["local"]["oplog.rs"]


def test_changes_read_as_oplog_entries_in_order(client, db):
    log = oplog(client)
    assert client["local"].list_collection_names() == ["oplog.rs"]
    # (An insert that creates its collection commits both at once: one
    # applyOps entry. Made first, the collection's own changes stand alone.)
    db.create_collection("c")
    db.create_collection("d")
    before = log.find().sort("$natural", -1).limit(1).next()["ts"]

    db.c.insert_one({"_id": 1, "a": 1})
    db.c.update_one({"_id": 1}, {"$set": {"a": 2}})
    db.c.delete_one({"_id": 1})
    db.c.create_index("a")
    with client.start_session() as s, s.start_transaction():
        db.c.insert_one({"_id": 2}, session=s)
        db.d.insert_one({"_id": 3}, session=s)
    client.admin.command("createBranch", "feature", project=db.name)

    ns = f"{db.name}.c"
    mine = list(log.find({"ts": {"$gt": before}}))
    assert [e["lsn"] for e in mine] == sorted(e["lsn"] for e in mine)
    assert all(isinstance(e["ts"], Timestamp) and e["ts"] > before for e in mine)
    by_ns = [(e["op"], e["o"], e.get("o2")) for e in mine if e["ns"] == ns]
    assert by_ns == [
        ("i", {"_id": 1, "a": 1}, {"_id": 1}),
        ("u", {"_id": 1, "a": 2}, {"_id": 1}),
        ("d", {"_id": 1}, None),
    ]
    index = [e for e in mine if e["ns"] == f"{db.name}.$cmd" and "createIndexes" in e["o"]]
    assert index and index[0]["o"]["createIndexes"] == "c" and index[0]["o"]["key"] == {"a": 1}
    # The transaction: one entry, its changes in applyOps.
    txn = [e for e in mine if e["op"] == "c" and "applyOps" in e["o"]]
    assert [(o["op"], o["ns"], o["o"]) for o in txn[0]["o"]["applyOps"]] == [
        ("i", ns, {"_id": 2}),
        ("i", f"{db.name}.d", {"_id": 3}),
    ]
    assert txn[0]["ns"] == "admin.$cmd"
    # Branch operations are no-ops that say what they did.
    assert mine[-1]["op"] == "n" and mine[-1]["o"]["msg"].startswith(f"create branch {db.name}~feature from {db.name}")
    assert all(e["actor"] for e in mine)

    # What rs.printReplicationInfo reads: the first and last entries, stats.
    first = log.find().sort("$natural", 1).limit(1).next()
    last = log.find().sort("$natural", -1).limit(1).next()
    assert first["lsn"] == 1 and last["lsn"] >= mine[-1]["lsn"]
    assert log.find().sort("lsn", -1).limit(1).next()["lsn"] >= last["lsn"]  # a sort in memory
    stats = client["local"].command("collStats", "oplog.rs")
    # (Other work of the shared server may add entries meanwhile: at least.)
    assert stats["capped"] and stats["count"] >= last["lsn"] and stats["maxSize"] > 0
    # The WAL's records, not its preallocated space: a few hundred bytes
    # per entry here (a few KiB where other tests of the shared server
    # wrote large, well-compressed documents), not megabytes.
    assert 50 < stats["avgObjSize"] < 64 * 1024, stats
    kib = client["local"].command("collStats", "oplog.rs", scale=1024)
    assert kib["size"] < stats["size"] and kib["scaleFactor"] == 1024
    assert log.count_documents({"ns": ns}) == 3
    assert log.distinct("op", {"ns": ns}) == ["d", "i", "u"]
    assert log.estimated_document_count() >= last["lsn"]
    ops = {d["_id"]: d["n"] for d in log.aggregate([{"$match": {"ns": ns}}, {"$group": {"_id": "$op", "n": {"$sum": 1}}}])}
    assert ops == {"i": 1, "u": 1, "d": 1}
    # Skip, limit, projection, and batches over getMore, both ways.
    # (One entry per LSN, except a commit too large for one entry, which
    # another test of the shared server may have made: compare with one read.)
    everything = [e["lsn"] for e in log.find({}, {"lsn": 1})]
    assert everything == sorted(everything) and everything[0] == 1
    forward = [e["lsn"] for e in log.find({}, {"lsn": 1, "_id": 0}, batch_size=2).skip(1).limit(5)]
    assert forward == everything[1:6]
    newest = [e["lsn"] for e in log.find({}, {"lsn": 1}).sort("$natural", -1).limit(5)]
    backward = [e["lsn"] for e in log.find({}, {"lsn": 1}, batch_size=2).sort("$natural", -1).limit(5)]
    assert backward[0] >= last["lsn"] and backward == newest and backward == sorted(backward, reverse=True)


def test_a_tailable_cursor_follows_new_writes(client, db):
    log = oplog(client)
    db.other.insert_one({})  # (so that the oplog has a last entry)
    last = log.find().sort("$natural", -1).limit(1).next()["ts"]
    cursor = log.find({"ts": {"$gt": last}}, cursor_type=pymongo.CursorType.TAILABLE_AWAIT)
    writer = threading.Timer(0.2, lambda: db.t.insert_many([{"_id": 1}, {"_id": 2}]))
    writer.start()
    ns = f"{db.name}.t"
    changes = []
    deadline = time.time() + 10
    while len(changes) < 2 and time.time() < deadline and cursor.alive:
        for e in cursor:  # each getMore waits up to a second for an entry
            # (Several changes committed at once come as one applyOps entry.)
            changes += [(o["op"], o["o"]) for o in e["o"].get("applyOps", [e]) if o["ns"] == ns]
    writer.join()
    assert changes == [("i", {"_id": 1}), ("i", {"_id": 2})]
    assert cursor.alive
    cursor.close()


def test_the_oplog_is_read_only(client, db):
    log = oplog(client)
    db.c.insert_one({})
    for write in (lambda: log.insert_one({"op": "n"}), lambda: log.delete_many({}), lambda: log.drop_indexes()):
        with pytest.raises(pymongo.errors.OperationFailure) as e:
            write()
        assert e.value.code in (26, 73), e.value
    assert log.estimated_document_count() > 0


def test_with_auth_only_server_administrators_read_the_oplog():
    from conftest import ArgonServer

    server = ArgonServer(["--auth"])
    try:
        server.client().admin.command("createUser", "root", pwd="pw", roles=["root"])
        root = server.client(username="root", password="pw")
        root.admin.command("createUser", "dev", pwd="pw", roles=[{"role": "readWrite", "db": "app"}])
        dev = server.client(username="dev", password="pw", authSource="admin")
        dev.app.c.insert_one({"secret": 1})
        with pytest.raises(pymongo.errors.OperationFailure) as e:
            list(oplog(dev).find())
        assert e.value.code == 13  # Unauthorized: the oplog holds every project's changes
        # (The insert created the collection: one applyOps entry with both.)
        ops = [o for e in oplog(root).find() for o in e["o"].get("applyOps", [e]) if o.get("ns") == "app.c"]
        assert [o["o"]["secret"] for o in ops] == [1]
    finally:
        server.stop()
