"""Plans on _id and $lookup, over the wire with pymongo, on 200,000
customers of ~150 bytes: $lookup of 100 orders by _id, by an indexed
field and by an unindexed one (the foreign collection read once); find by
an _id $in list, an _id range (a keyset page) and the newest 20 by _id;
each also as a collection scan (hint $natural: the plan before session 8).

    python bench/wire/id_plans_and_lookup.py mongodb://127.0.0.1:PORT/?directConnection=true
"""
import sys, time, statistics, pymongo
c = pymongo.MongoClient(sys.argv[1])
db = c.lk
db.customers.drop(); db.orders.drop()
for start in range(0, 200_000, 10_000):
    db.customers.insert_many([{"_id": i, "code": i, "code2": i, "name": f"customer {i}", "pad": "x" * 100} for i in range(start, start + 10_000)])
db.customers.create_index("code")
db.orders.insert_many([{"_id": i, "cust": (i * 1999) % 200_000} for i in range(100)])
def run(field):
    times = []
    for _ in range(5):
        t = time.perf_counter()
        out = list(db.orders.aggregate([{"$lookup": {"from": "customers", "localField": "cust", "foreignField": field, "as": "c"}}]))
        times.append(time.perf_counter() - t)
        assert len(out) == 100 and all(len(o["c"]) == 1 for o in out)
    return statistics.median(times) * 1000
for field, label in [("_id", "by _id"), ("code", "indexed field"), ("code2", "unindexed field (foreign collection read once)")]:
    print(f"{label}: median {run(field):.1f} ms per aggregate (5 runs)")
# find by _id lists and ranges, and the newest by _id
def timed(f, n=20):
    ts = []
    for _ in range(n):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1000
ids = [(i * 7919) % 200_000 for i in range(100)]
print(f"find _id $in of 100 ids: median {timed(lambda: list(db.customers.find({'_id': {'$in': ids}}))):.2f} ms")
print(f"find _id range of 100 (keyset page): median {timed(lambda: list(db.customers.find({'_id': {'$gt': 150_000}}).limit(100))):.2f} ms")
print(f"find sort _id -1 limit 20 (newest): median {timed(lambda: list(db.customers.find().sort('_id', -1).limit(20))):.2f} ms")
nat = [("$natural", 1)]
print(f"  as collection scans: $in {timed(lambda: list(db.customers.find({'_id': {'$in': ids}}).hint(nat)), 5):.1f} ms, "
      f"range {timed(lambda: list(db.customers.find({'_id': {'$gt': 150_000}}).hint(nat).limit(100)), 5):.1f} ms, "
      f"newest {timed(lambda: list(db.customers.find().sort('_id', -1).hint(nat).limit(20)), 5):.1f} ms")
