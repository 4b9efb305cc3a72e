"""SIGKILL the server while pymongo clients insert, update, run transactions
and write to a branch; restart on the same data dir (twice). Every write
the server acknowledged is there, no transaction is half applied, and the
branch still holds its own writes only."""

import random
import signal
import threading
import time

import pymongo
from pymongo.errors import PyMongoError

from conftest import ArgonServer

WRITERS = 6


def run_writers(server, seconds, acked, state):
    """Writers that record what the server acknowledged; they stop at the
    first error (the kill)."""
    stop = time.monotonic() + seconds

    def writer(w):
        client = pymongo.MongoClient(server.uri, serverSelectionTimeoutMS=2000, retryWrites=False)
        db, branch = client.app, client["app~side"]
        try:
            i = state["next"][w]
            while time.monotonic() < stop:
                kind = random.choice(["insert", "inc", "txn", "branch"])
                if kind == "insert":
                    db.docs.insert_one({"_id": f"{w}-{i}", "w": w, "pad": "x" * random.randint(10, 400)})
                    acked["docs"].add(f"{w}-{i}")
                elif kind == "inc":
                    state["attempted_inc"][w] += 1
                    db.counters.update_one({"_id": w}, {"$inc": {"n": 1}}, upsert=True)
                    acked["inc"][w] += 1
                elif kind == "txn":
                    state["attempted_txn"].add(f"{w}-{i}")
                    # (Not with_transaction: it would retry a commit whose
                    # server is gone for two minutes.)
                    with client.start_session() as s:
                        s.start_transaction()
                        db.pairs.insert_one({"_id": f"{w}-{i}-a"}, session=s)
                        db.pairs.insert_one({"_id": f"{w}-{i}-b"}, session=s)
                        s.commit_transaction()
                    acked["txn"].add(f"{w}-{i}")
                else:
                    branch.side.insert_one({"_id": f"{w}-{i}"})
                    acked["side"].add(f"{w}-{i}")
                i += 1
            state["next"][w] = i
        except PyMongoError:
            state["next"][w] = i + 1
        finally:
            client.close()

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    return threads


def check(server, acked, state):
    client = server.client()
    db = client.app
    docs = {d["_id"] for d in db.docs.find({}, {"_id": 1})}
    missing = acked["docs"] - docs
    assert not missing, f"acknowledged inserts lost: {sorted(missing)[:5]}"
    for w in range(WRITERS):
        doc = db.counters.find_one({"_id": w})
        n = doc["n"] if doc else 0
        # Every acknowledged $inc is there; at most the one in flight more.
        assert acked["inc"][w] <= n <= state["attempted_inc"][w], (w, acked["inc"][w], n)
    pairs = {d["_id"] for d in db.pairs.find({}, {"_id": 1})}
    for t in state["attempted_txn"]:
        a, b = f"{t}-a" in pairs, f"{t}-b" in pairs
        assert a == b, f"transaction {t} half applied"
        if t in acked["txn"]:
            assert a, f"acknowledged transaction {t} lost"
    side = {d["_id"] for d in client["app~side"].side.find({}, {"_id": 1})}
    assert acked["side"] <= side, "acknowledged branch writes lost"
    assert db.side.count_documents({}) == 0, "a branch write showed up on main"
    client.close()
    return len(docs) + len(pairs) + len(side)


def test_sigkill_mid_writes_loses_nothing_acknowledged():
    server = ArgonServer()
    setup = server.client()
    setup.app.docs.insert_one({"_id": "seed"})
    setup.admin.command("createBranch", "side", project="app")
    setup.close()
    acked = {"docs": {"seed"}, "inc": [0] * WRITERS, "txn": set(), "side": set()}
    state = {"next": [0] * WRITERS, "attempted_inc": [0] * WRITERS, "attempted_txn": set()}
    try:
        for _round in range(2):
            threads = run_writers(server, 30, acked, state)
            time.sleep(1.5 + random.random())
            server.proc.send_signal(signal.SIGKILL)
            server.proc.wait(timeout=10)
            for t in threads:
                t.join(timeout=30)
            server = ArgonServer(dir=server.dir)
            total = check(server, acked, state)
            assert total > 0
        assert len(acked["docs"]) > 10 and len(acked["txn"]) > 3, "the writers wrote too little to test"
    finally:
        server.stop()
