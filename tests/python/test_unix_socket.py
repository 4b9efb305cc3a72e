"""`argon serve --unix-socket PATH` with pymongo: the socket serves the same
data as TCP, a second server cannot take a live socket, and SIGTERM with
idle clients connected stops at once and removes the socket file."""

import os
import signal
import stat
import subprocess
import tempfile
import time
import urllib.parse

import pymongo
import pytest

from conftest import ARGON_BIN, ArgonServer


def socket_client(path, **kw):
    uri = "mongodb://" + urllib.parse.quote_plus(path) + "/?directConnection=true"
    return pymongo.MongoClient(uri, **kw)


@pytest.fixture()
def socket_dir():
    d = tempfile.TemporaryDirectory(prefix="argon-sock-")
    yield d.name
    d.cleanup()


def test_socket_and_tcp_serve_the_same_data(socket_dir):
    path = os.path.join(socket_dir, "argon.sock")
    server = ArgonServer(["--unix-socket", path])
    try:
        for _ in range(100):
            if os.path.exists(path):
                break
            time.sleep(0.05)
        assert stat.S_ISSOCK(os.stat(path).st_mode)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
        # (Closing a client looks for the stopped server: not for long.)
        local = socket_client(path, serverSelectionTimeoutMS=300)
        tcp = pymongo.MongoClient(server.uri, serverSelectionTimeoutMS=300)
        local.app.c.insert_many([{"_id": i, "v": i} for i in range(20)])
        tcp.app.c.update_one({"_id": 3}, {"$set": {"v": 300}})
        assert local.app.c.find_one({"_id": 3})["v"] == 300
        assert local.app.c.count_documents({"v": {"$lt": 10}}) == 9
        assert local.admin.command("whatsmyuri")["you"] == "anonymous unix socket"

        # A second server cannot take the live socket: it says why and exits.
        second = subprocess.run(
            [ARGON_BIN, "--data-dir", os.path.join(socket_dir, "other"), "serve", "--port", "0",
             "--unix-socket", path],
            capture_output=True, text=True, timeout=20,
        )
        assert second.returncode != 0
        assert "Unix socket" in second.stderr and "another server is listening" in second.stderr, second.stderr
        assert local.app.c.count_documents({}) == 20, "the first server still serves"

        # SIGTERM with idle clients connected: stops without waiting for them.
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        server.proc.wait(timeout=20)
        assert time.monotonic() - started < 4, "idle connections held the shutdown"
        assert not os.path.exists(path), "the socket file is removed at shutdown"
        local.close()
        tcp.close()
    finally:
        server.stop()
