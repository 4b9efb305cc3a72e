"""`top` and `$collStats: {latencyStats}` count what ran on each
collection, by kind, whichever path served it (the fast lanes for
find_one/insert_one/update_one by _id, or the full command path)."""

import pytest
from pymongo.errors import OperationFailure


def test_top_and_latency_stats_count_each_kind(client, db):
    c = db.c
    for i in range(3):
        c.insert_one({"_id": i, "v": i})            # fast lane
    c.insert_many([{"_id": 10}, {"_id": 11}])       # one command
    c.find_one({"_id": 1})                          # fast lane
    list(c.find({"v": {"$gte": 1}}))                # full path
    c.update_one({"_id": 2}, {"$inc": {"v": 1}})    # fast lane
    c.delete_one({"_id": 11})
    assert c.count_documents({}) == 4               # an aggregate
    c.create_index("v")
    with client.start_session() as s:
        with s.start_transaction():
            c.insert_one({"_id": 20}, session=s)

    row = client.admin.command("top")["totals"][f"{db.name}.c"]
    assert row["insert"]["count"] == 5
    assert row["queries"]["count"] == 2
    assert row["update"]["count"] == 1
    assert row["remove"]["count"] == 1
    assert row["commands"]["count"] == 2            # count's aggregate, createIndexes
    assert row["total"]["count"] == 11
    assert row["readLock"]["count"] + row["writeLock"]["count"] == row["total"]["count"]
    assert row["readLock"]["count"] == 3
    assert row["total"]["time"] >= row["insert"]["time"] > 0

    stats = next(c.aggregate([{"$collStats": {"latencyStats": {"histograms": True}}}]))["latencyStats"]
    assert stats["reads"]["ops"] == 3               # two finds, one aggregate
    assert stats["writes"]["ops"] == 6              # four inserts, an update, a delete
    assert stats["commands"]["ops"] == 1            # createIndexes
    assert stats["transactions"]["ops"] == 1        # the insert in the transaction
    for cls in stats.values():
        assert sum(b["count"] for b in cls["histogram"]) == cls["ops"]
        assert cls["latency"] >= 0
    # Without histograms, none; another collection has its own (zero) counts.
    other = next(db.other.aggregate([{"$collStats": {"latencyStats": {}}}]))["latencyStats"]
    assert other["reads"] == {"latency": 0, "ops": 0}

    with pytest.raises(OperationFailure) as refused:
        db.command("top")
    assert refused.value.code == 13
    with pytest.raises(OperationFailure) as refused:
        list(c.aggregate([{"$collStats": {"latencyStats": {"histograms": "yes"}}}]))
    assert refused.value.code == 14
