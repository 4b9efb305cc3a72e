"""find's min/max (index key bounds), returnKey and showRecordId, with pymongo."""

import pytest
from bson import MinKey, MaxKey
from pymongo.errors import OperationFailure


def test_min_max_bound_the_hinted_index_key(db):
    c = db.mm
    c.insert_many([{"_id": i, "x": i} for i in range(10)] + [{"_id": "s", "x": "str"}, {"_id": "m"}])
    c.create_index("x")
    got = [d["_id"] for d in c.find().min([("x", 3)]).max([("x", 6)]).hint([("x", 1)])]
    assert sorted(got) == [3, 4, 5]
    # Across types in index order: a missing x is null (below numbers),
    # strings sort above numbers.
    got = [d["_id"] for d in c.find({}).min([("x", MinKey())]).max([("x", 2)]).hint("x_1")]
    assert sorted(got, key=str) == [0, 1, "m"]
    got = [d["_id"] for d in c.find({}).min([("x", 8)]).max([("x", MaxKey())]).hint("x_1")]
    assert sorted(got, key=str) == [8, 9, "s"]
    # With a filter too.
    got = [d["_id"] for d in c.find({"x": {"$mod": [2, 0]}}).min([("x", 2)]).max([("x", 7)]).hint([("x", 1)])]
    assert sorted(got) == [2, 4, 6]


def test_min_max_on_a_compound_index_with_a_descending_field(db):
    c = db.mm2
    pairs = [(a, b) for a in range(3) for b in range(6)]
    c.insert_many([{"_id": f"{a}-{b}", "a": a, "b": b} for a, b in pairs])
    c.create_index([("a", 1), ("b", -1)])
    in_index_order = sorted(pairs, key=lambda p: (p[0], -p[1]))
    lo, hi = in_index_order.index((1, 4)), in_index_order.index((2, 2))
    want = sorted(f"{a}-{b}" for a, b in in_index_order[lo:hi])
    got = sorted(d["_id"] for d in c.find().min([("a", 1), ("b", 4)]).max([("a", 2), ("b", 2)]).hint([("a", 1), ("b", -1)]))
    assert got == want


def test_min_max_errors(db):
    c = db.mm3
    c.insert_one({"_id": 1, "x": 1})
    c.create_index("x")
    with pytest.raises(OperationFailure) as e:  # (pymongo checks this too, so raw)
        db.command("find", "mm3", min={"x": 0})
    assert e.value.code == 51173
    with pytest.raises(OperationFailure) as e:
        list(c.find().min([("y", 0)]).hint("x_1"))
    assert e.value.code == 51174
    with pytest.raises(OperationFailure) as e:
        list(c.find({}, show_record_id=True))
    assert e.value.code == 238


def test_return_key(db):
    c = db.rk
    c.insert_many([{"_id": i, "x": i * 10, "y": "v"} for i in range(5)])
    c.create_index("x")
    assert list(c.find({"x": {"$gte": 30}}, return_key=True).hint("x_1").sort("x", 1)) == [{"x": 30}, {"x": 40}]
    # The planner's index: `_id` for a point lookup.
    assert list(c.find({"_id": 2}, return_key=True)) == [{"_id": 2}]
    # No index read: empty documents, one per result.
    assert list(c.find({"y": "v"}, return_key=True)) == [{}] * 5
