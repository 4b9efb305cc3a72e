"""Starts a real `argon serve` on a free port with a fresh data dir."""

import os
import re
import subprocess
import tempfile
import time

import pymongo
import pytest

ARGON_BIN = os.environ.get("ARGON_BIN") or os.path.expanduser("~/.cache/argon-target/debug/argon")


class ArgonServer:
    def __init__(self, extra_args=(), dir=None):
        """`dir`: the TemporaryDirectory of a stopped server, to restart on
        its data (it is then cleaned up by this one)."""
        self.dir = dir or tempfile.TemporaryDirectory(prefix="argon-py-")
        self.data_dir = os.path.join(self.dir.name, "data")
        self.proc = subprocess.Popen(
            [ARGON_BIN, "--data-dir", self.data_dir, "serve", "--port", "0", *extra_args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        line = self.proc.stdout.readline()
        m = re.search(r"listening on ([\d.]+):(\d+)", line)
        if not m:
            self.proc.kill()
            raise RuntimeError(f"argon serve did not start: {line!r}")
        self.host, self.port = m.group(1), int(m.group(2))
        self.uri = f"mongodb://{self.host}:{self.port}/?directConnection=true"

    def client(self, **kw):
        return pymongo.MongoClient(self.uri, serverSelectionTimeoutMS=5000, **kw)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.dir.cleanup()


@pytest.fixture(scope="session")
def server():
    s = ArgonServer()
    yield s
    s.stop()


@pytest.fixture()
def client(server):
    c = server.client()
    yield c
    c.close()


_counter = [0]


@pytest.fixture()
def db(client):
    """A fresh project (database) per test."""
    _counter[0] += 1
    name = f"t{os.getpid()}_{_counter[0]}_{int(time.time() * 1000) % 100000}"
    return client[name]
