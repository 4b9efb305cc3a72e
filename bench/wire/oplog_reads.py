"""Reads of local.oplog.rs (the WAL read as an oplog), over the wire with
pymongo, on a WAL of 200,000 single-document inserts (~150-byte documents,
each its own commit, so its own oplog entry) in one 64 MiB segment and
more: the last entry ($natural: -1, what rs.printReplicationInfo reads),
the first, the entries after a recent ts (what a tailer asks after a
restart), a full scan (count_documents with a filter), and a tailable
cursor's delay from a commit to its getMore's answer.

    python bench/wire/oplog_reads.py mongodb://127.0.0.1:PORT/?directConnection=true
"""
import statistics, sys, threading, time
import pymongo

c = pymongo.MongoClient(sys.argv[1])
db = c.oplogbench
db.drop_collection("c")
db.create_collection("c")
N = 200_000
# Single inserts from 16 threads: one commit (one oplog entry) each.
def load(t):
    coll = pymongo.MongoClient(sys.argv[1]).oplogbench.c
    for i in range(t, N, 16):
        coll.insert_one({"_id": i, "name": f"customer {i}", "pad": "x" * 100})
threads = [threading.Thread(target=load, args=(t,)) for t in range(16)]
[t.start() for t in threads]; [t.join() for t in threads]
log = c.local["oplog.rs"]
def timed(f, n=20):
    ts = []
    for _ in range(n):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1000
last = log.find().sort("$natural", -1).limit(1).next()
print(f"entries: {last['lsn']}, WAL {c.local.command('collStats', 'oplog.rs')['size'] / 2**20:.0f} MiB")
print(f"last entry ($natural: -1, limit 1): median {timed(lambda: log.find().sort('$natural', -1).limit(1).next()):.2f} ms")
print(f"first entry ($natural: 1, limit 1): median {timed(lambda: log.find().limit(1).next()):.2f} ms")
recent = log.find().sort("$natural", -1).skip(100).limit(1).next()["ts"]
print(f"the 100 entries after a recent ts: median {timed(lambda: list(log.find({'ts': {'$gt': recent}}))):.2f} ms")
t = time.perf_counter(); n = log.count_documents({"op": "i", "ns": "oplogbench.c"}); s = time.perf_counter() - t
print(f"full scan with a filter (count_documents): {n} matches of {last['lsn']} entries in {s:.2f} s = {last['lsn'] / s:,.0f} entries/s")
# A tailer: how long from an acknowledged insert to the tailable cursor's answer.
delays = []
cursor = log.find({"ts": {"$gt": log.find().sort("$natural", -1).limit(1).next()["ts"]}}, cursor_type=pymongo.CursorType.TAILABLE_AWAIT)
for i in range(20):
    t = time.perf_counter()
    db.c.insert_one({"_id": N + i})
    while cursor.next().get("o", {}).get("_id") != N + i:  # (next() waits in getMores)
        pass
    delays.append(time.perf_counter() - t)
print(f"tailable awaitData: insert acknowledged to entry received, median {statistics.median(delays) * 1000:.2f} ms (20 inserts)")
