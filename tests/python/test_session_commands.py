"""killAllSessions, killAllSessionsByPattern and refreshSessions with pymongo:
an empty pattern list ends every session (an open transaction is gone, a
session's cursor too), an lsid pattern ends that session only."""

import bson
import pytest
from pymongo.errors import OperationFailure

from conftest import ArgonServer


@pytest.fixture()
def own_server():
    """A server of its own: these commands end every session on it."""
    s = ArgonServer()
    yield s
    s.stop()


def open_txn(client, coll, _id):
    s = client.start_session()
    s.start_transaction()
    coll.insert_one({"_id": _id}, session=s)
    return s


def test_kill_all_sessions_ends_transactions_and_cursors(own_server):
    client = own_server.client()
    coll = client.app.ks
    coll.insert_many([{"_id": i} for i in range(10)])
    s = open_txn(client, coll, "t1")
    other = client.start_session()
    cursor = coll.find({}, batch_size=2, session=other)
    next(cursor)
    client.admin.command("refreshSessions", [s.session_id])
    client.admin.command("killAllSessions", [])
    with pytest.raises(OperationFailure) as e:
        coll.insert_one({"_id": "t2"}, session=s)
    assert e.value.code == 251  # NoSuchTransaction: the transaction is gone
    with pytest.raises(OperationFailure) as e:
        list(cursor)
    assert e.value.code == 43  # CursorNotFound
    assert coll.count_documents({"_id": {"$in": ["t1", "t2"]}}) == 0
    s.end_session()
    other.end_session()
    client.close()


def test_kill_by_lsid_pattern_ends_only_that_session(own_server):
    client = own_server.client()
    coll = client.app.kp
    a, b = open_txn(client, coll, "a"), open_txn(client, coll, "b")
    client.admin.command("killAllSessionsByPattern", [{"lsid": a.session_id}])
    with pytest.raises(OperationFailure) as e:
        coll.insert_one({"_id": "a2"}, session=a)
    assert e.value.code == 251
    coll.insert_one({"_id": "b2"}, session=b)
    b.commit_transaction()
    assert sorted(d["_id"] for d in coll.find()) == ["b", "b2"]
    with pytest.raises(OperationFailure) as e:
        client.admin.command("killAllSessionsByPattern", [{"users": [{"user": "u", "db": "admin"}]}])
    assert e.value.code == 238
    a.end_session()
    b.end_session()
    client.close()


def active_sessions(client):
    status = client.admin.command("serverStatus")
    return status["logicalSessionRecordCache"]["activeSessionsCount"]


def test_start_session_returns_a_new_registered_session(client):
    before = active_sessions(client)
    first = client.admin.command("startSession")
    second = client.admin.command("startSession")
    sid = first["id"]["id"]
    assert isinstance(sid, bson.Binary) and sid.subtype == 4 and len(sid) == 16
    assert sid != second["id"]["id"]
    assert first["timeoutMinutes"] == 30
    assert active_sessions(client) == before + 2
    # The session it names is a real one: refreshSessions and endSessions take it.
    client.admin.command("refreshSessions", [{"id": sid}])
    client.admin.command("endSessions", [{"id": sid}, {"id": second["id"]["id"]}])
    assert active_sessions(client) == before
