"""setParameter and getParameter with pymongo: transactionLifetimeLimitSeconds
aborts a transaction that runs longer (its writes never land), and
cursorTimeoutMillis closes an idle cursor; unknown parameters, bad values
and other databases get mongod's errors. A server of its own, since the
parameters are server-wide."""

import time

import pymongo
import pytest
from pymongo.errors import OperationFailure

from conftest import ArgonServer


@pytest.fixture()
def own_server():
    s = ArgonServer()
    yield s
    s.stop()


def test_transaction_lifetime_limit(own_server):
    client = own_server.client()
    admin = client.admin
    assert admin.command("getParameter", 1, transactionLifetimeLimitSeconds=1)["transactionLifetimeLimitSeconds"] == 60
    assert admin.command("setParameter", 1, transactionLifetimeLimitSeconds=1)["was"] == 60
    assert admin.command("getParameter", 1, transactionLifetimeLimitSeconds=1)["transactionLifetimeLimitSeconds"] == 1

    coll = client.app.c
    coll.insert_one({"_id": 0})
    with client.start_session() as s:
        s.start_transaction()
        coll.insert_one({"_id": 1}, session=s)
        time.sleep(1.5)
        with pytest.raises(OperationFailure) as e:
            coll.insert_one({"_id": 2}, session=s)
        assert e.value.code == 251  # NoSuchTransaction
        assert e.value.has_error_label("TransientTransactionError")
        with pytest.raises(OperationFailure):
            s.commit_transaction()
    assert sorted(d["_id"] for d in coll.find()) == [0], "the expired transaction's writes never land"

    # A quick transaction still commits.
    with client.start_session() as s:
        s.with_transaction(lambda s: coll.insert_one({"_id": 3}, session=s))
    assert coll.count_documents({}) == 2
    client.close()


def test_cursor_timeout_and_bad_parameters(own_server):
    client = own_server.client()
    admin = client.admin
    coll = client.app.cur
    coll.insert_many([{"_id": i} for i in range(10)])
    assert admin.command("setParameter", 1, cursorTimeoutMillis=300)["was"] == 600000
    cursor = coll.find(batch_size=2)
    assert [next(cursor)["_id"] for _ in range(2)] == [0, 1]
    time.sleep(0.6)
    with pytest.raises(OperationFailure) as e:
        list(cursor)
    assert e.value.code == 43  # CursorNotFound
    # A cursor in use keeps going.
    admin.command("setParameter", 1, cursorTimeoutMillis=600000)
    assert len(list(coll.find(batch_size=2))) == 10

    with pytest.raises(OperationFailure) as e:
        admin.command("setParameter", 1, noSuchParameter=5)
    assert e.value.code == 72 and "noSuchParameter" in str(e.value)
    with pytest.raises(OperationFailure) as e:
        admin.command("setParameter", 1, transactionLifetimeLimitSeconds=0)
    assert e.value.code == 2
    with pytest.raises(OperationFailure) as e:
        admin.command("setParameter", 1, cursorTimeoutMillis="soon")
    assert e.value.code == 14
    with pytest.raises(OperationFailure) as e:
        client.app.command("setParameter", 1, cursorTimeoutMillis=1000)
    assert e.value.code == 13
    with pytest.raises(OperationFailure) as e:
        admin.command("setParameter", 1)
    assert e.value.code == 72
    client.close()


def test_default_read_and_write_concern():
    # A server of its own: the defaults are the deployment's.
    server = ArgonServer()
    try:
        admin = server.client().admin
        got = admin.command("getDefaultRWConcern")
        assert got["defaultReadConcern"] == {"level": "local"}
        assert got["defaultWriteConcern"] == {"w": "majority", "wtimeout": 0}
        assert (got["defaultReadConcernSource"], got["defaultWriteConcernSource"]) == ("implicit", "implicit")

        set_ = admin.command("setDefaultRWConcern", defaultWriteConcern={"w": 1, "j": True})
        assert set_["defaultWriteConcern"] == {"w": 1, "j": True}
        assert set_["defaultWriteConcernSource"] == "global" and "updateWallClockTime" in set_
        admin.command("setDefaultRWConcern", defaultReadConcern={"level": "majority"})
        got = admin.command("getDefaultRWConcern")
        assert got["defaultReadConcern"] == {"level": "majority"}
        assert got["defaultWriteConcern"] == {"w": 1, "j": True}
        # An empty object goes back to the implicit default.
        got = admin.command("setDefaultRWConcern", defaultReadConcern={})
        assert got["defaultReadConcern"] == {"level": "local"} and got["defaultReadConcernSource"] == "implicit"

        for bad, code in [({}, 2), ({"defaultReadConcern": {"level": "snapshot"}}, 2),
                          ({"defaultWriteConcern": {"w": 0}}, 2), ({"defaultWriteConcern": {"w": "dc1"}}, 79),
                          ({"defaultReadConcern": "local"}, 14)]:
            with pytest.raises(OperationFailure) as refused:
                admin.command("setDefaultRWConcern", **bad)
            assert refused.value.code == code, bad
        with pytest.raises(OperationFailure) as refused:
            server.client().app.command("getDefaultRWConcern")
        assert refused.value.code == 13
        assert admin.command("getDefaultRWConcern")["defaultWriteConcern"] == {"w": 1, "j": True}

        # Kept in the data dir, as mongod keeps them: a restart keeps them.
        admin.command("setDefaultRWConcern", defaultReadConcern={"level": "available"})
        server.proc.terminate()
        assert server.proc.wait(timeout=15) == 0
        server = ArgonServer(dir=server.dir)
        got = server.client().admin.command("getDefaultRWConcern")
        assert got["defaultReadConcern"] == {"level": "available"}
        assert got["defaultWriteConcern"] == {"w": 1, "j": True}
        assert (got["defaultReadConcernSource"], got["defaultWriteConcernSource"]) == ("global", "global")
    finally:
        server.stop()


def test_conn_pool_stats_and_lock_info(client):
    # A single node opens no connections to other servers, and keeps no
    # lock manager of MongoDB's kind: empty, but answered (monitoring asks).
    pools = client.admin.command("connPoolStats")
    assert (pools["totalInUse"], pools["totalCreated"], pools["pools"], pools["hosts"]) == (0, 0, {}, {})
    assert client.admin.command("lockInfo")["lockInfo"] == []
    with pytest.raises(OperationFailure) as e:
        client.app.command("lockInfo")
    assert e.value.code == 13


def test_get_diagnostic_data_samples_server_status(client):
    client.diag.c.insert_one({"a": 1})
    data = client.admin.command("getDiagnosticData")["data"]
    assert data["start"] <= data["end"]
    assert data["serverStatus"]["opcounters"]["insert"] >= 1
    assert data["replSetGetStatus"]["myState"] == 1
    assert data["local.oplog.rs.stats"]["count"] >= 1
    with pytest.raises(OperationFailure) as e:
        client.diag.command("getDiagnosticData")
    assert e.value.code == 13
