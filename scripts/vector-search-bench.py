#!/usr/bin/env python3
"""$vectorSearch latency against a running `argon serve` (exact scan).

    .venv/bin/python scripts/vector-search-bench.py [--port 27017] [--docs 10000] [--dims 384]

Loads `docs` documents with random `dims`-dimensional embeddings into a
fresh database, creates a cosine vectorSearch index, then times queries
(limit 10, numCandidates 100) with and without a pre-filter. Prints the
median and p95 in milliseconds and documents scanned per second.
"""
import argparse
import random
import statistics
import time

from pymongo import MongoClient
from pymongo.operations import SearchIndexModel

p = argparse.ArgumentParser()
p.add_argument("--port", type=int, default=27017)
p.add_argument("--docs", type=int, default=10000)
p.add_argument("--dims", type=int, default=384)
p.add_argument("--queries", type=int, default=30)
a = p.parse_args()

client = MongoClient(port=a.port, directConnection=True)
db = client[f"vbench{int(time.time())}"]
rng = random.Random(1)
batch = []
for i in range(a.docs):
    batch.append({"_id": i, "tag": i % 10, "embedding": [rng.uniform(-1, 1) for _ in range(a.dims)]})
    if len(batch) == 1000:
        db.c.insert_many(batch)
        batch = []
if batch:
    db.c.insert_many(batch)
fields = [{"type": "vector", "path": "embedding", "numDimensions": a.dims, "similarity": "cosine"}, {"type": "filter", "path": "tag"}]
db.c.create_search_index(SearchIndexModel(definition={"fields": fields}, name="v", type="vectorSearch"))


def run(filter_):
    times = []
    for _ in range(a.queries):
        stage = {"index": "v", "path": "embedding", "queryVector": [rng.uniform(-1, 1) for _ in range(a.dims)], "numCandidates": 100, "limit": 10}
        if filter_:
            stage["filter"] = filter_
        t = time.perf_counter()
        out = list(db.c.aggregate([{"$vectorSearch": stage}, {"$project": {"embedding": 0}}]))
        times.append(time.perf_counter() - t)
        assert len(out) == 10
    times.sort()
    med = statistics.median(times)
    return med * 1e3, times[int(len(times) * 0.95) - 1] * 1e3, a.docs / med


for name, f in [("no filter", None), ("filter tag=3 (10%)", {"tag": 3})]:
    med, p95, rate = run(f)
    print(f"$vectorSearch {a.docs} docs x {a.dims} dims, {name}: median {med:.1f} ms, p95 {p95:.1f} ms, {rate:,.0f} docs scanned/s")
client.drop_database(db.name)
