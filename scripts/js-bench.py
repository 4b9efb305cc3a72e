#!/usr/bin/env python3
"""Server-side JavaScript cost: $where, $function and $accumulator over N
documents against a running `argon serve`, beside the same query without
JavaScript. Usage: scripts/js-bench.py --port P [--docs N] [--runs R]
(median of R runs, milliseconds)."""

import argparse
import statistics
import time

import pymongo

p = argparse.ArgumentParser()
p.add_argument("--port", type=int, required=True)
p.add_argument("--docs", type=int, default=10000)
p.add_argument("--runs", type=int, default=7)
a = p.parse_args()
db = pymongo.MongoClient(f"mongodb://127.0.0.1:{a.port}/?directConnection=true").jsbench
db.c.drop()
db.c.insert_many([{"_id": i, "a": i % 100, "b": i % 7, "s": f"name{i}"} for i in range(a.docs)])


def ms(f):
    times = []
    for _ in range(a.runs):
        t = time.perf_counter()
        f()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


cases = {
    "find {a: {$gt: 50}} (no JS)": lambda: list(db.c.find({"a": {"$gt": 50}}, {"_id": 1})),
    "find {$where: 'this.a > 50'}": lambda: list(db.c.find({"$where": "this.a > 50"}, {"_id": 1})),
    "$project $add (no JS)": lambda: list(db.c.aggregate([{"$project": {"x": {"$add": ["$a", "$b"]}}}])),
    "$project $function(a + b)": lambda: list(
        db.c.aggregate([{"$project": {"x": {"$function": {"body": "function(a, b) { return a + b; }", "args": ["$a", "$b"], "lang": "js"}}}}])
    ),
    "$group $sum by b (no JS)": lambda: list(db.c.aggregate([{"$group": {"_id": "$b", "t": {"$sum": "$a"}}}])),
    "$group $accumulator sum by b": lambda: list(
        db.c.aggregate(
            [
                {
                    "$group": {
                        "_id": "$b",
                        "t": {
                            "$accumulator": {
                                "init": "function() { return 0; }",
                                "accumulate": "function(s, a) { return s + a; }",
                                "accumulateArgs": ["$a"],
                                "merge": "function(x, y) { return x + y; }",
                                "lang": "js",
                            }
                        },
                    }
                }
            ]
        )
    ),
}
for name, f in cases.items():
    print(f"{name:34s} {ms(f):8.1f} ms")
