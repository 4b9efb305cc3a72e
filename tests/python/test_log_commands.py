"""getLog returns the server's real recent log in mongod's JSON line
format; setParameter logLevel / logComponentVerbosity change what is
logged at once (db.setLogLevel, db.getLogComponents in mongosh)."""

import json

import pytest
from pymongo.errors import OperationFailure

from conftest import ArgonServer


def lines(client):
    return [json.loads(line) for line in client.admin.command("getLog", "global")["log"]]


def debug_lines_about(client, msg):
    return [l for l in lines(client) if l["msg"] == msg and l["s"].startswith("D")]


def test_get_log_and_verbosity():
    server = ArgonServer(["--auth"])
    try:
        anon = server.client()
        anon.admin.command("createUser", "root", pwd="pw", roles=["root"])
        c = server.client(username="root", password="pw")
        log = lines(c)
        assert any(l["msg"] == "user created" and l["s"] == "I" and l["attr"]["user"] == "root" for l in log)
        for l in log:
            assert set(l) >= {"t", "s", "c", "id", "ctx", "msg", "attr"} and "$date" in l["t"]
        warnings = c.admin.command("getLog", "startupWarnings")["log"]
        assert any("no users yet" in w for w in warnings)
        assert c.admin.command("getLog", "*")["names"] == ["global", "startupWarnings"]

        # Level 0: connections are not logged; level 1: they are, as D1.
        assert c.admin.command("getParameter", 1, logLevel=1)["logLevel"] == 0
        server.client().admin.command("ping")
        assert debug_lines_about(c, "connection accepted") == []
        assert c.admin.command("setParameter", 1, logLevel=1)["was"] == 0
        assert c.admin.command("getParameter", 1, logLevel=1)["logLevel"] == 1
        server.client().admin.command("ping")
        assert len(debug_lines_about(c, "connection accepted")) >= 1
        c.admin.command("setParameter", 1, logLevel=0)
        before = len(debug_lines_about(c, "connection accepted"))
        server.client().admin.command("ping")
        assert len(debug_lines_about(c, "connection accepted")) == before

        # One component: network at 1, the rest at 0.
        c.admin.command("setParameter", 1, logComponentVerbosity={"network": {"verbosity": 1}})
        got = c.admin.command("getParameter", 1, logComponentVerbosity=1)["logComponentVerbosity"]
        assert got["verbosity"] == 0 and got["network"] == {"verbosity": 1} and got["storage"] == {"verbosity": -1}
        server.client().admin.command("ping")
        during = len(debug_lines_about(c, "connection accepted"))
        assert during > before
        # A negative level makes it follow the global one again.
        was = c.admin.command("setParameter", 1, logComponentVerbosity={"network": -1})["was"]
        assert was["network"] == {"verbosity": 1}
        settled = len(debug_lines_about(c, "connection accepted"))
        server.client().admin.command("ping")
        assert len(debug_lines_about(c, "connection accepted")) == settled

        for bad, code in [({"logLevel": 9}, 2), ({"logLevel": "loud"}, 14),
                          ({"logComponentVerbosity": {"sharding": 1}}, 2),
                          ({"logComponentVerbosity": 3}, 14)]:
            with pytest.raises(OperationFailure) as refused:
                c.admin.command("setParameter", 1, **bad)
            assert refused.value.code == code, bad
        with pytest.raises(OperationFailure) as refused:
            c.admin.command("getLog", "nosuchlog")
        assert refused.value.code == 72
    finally:
        server.stop()
