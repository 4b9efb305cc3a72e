"""mapReduce with pymongo's command: inline results in key order, a query,
scope and finalize, output to a collection (replace, merge, reduce), and
errors."""

import pytest
from bson import Code
from pymongo.errors import OperationFailure

MAP = Code("function () { emit(this.team, this.points); }")
REDUCE = Code("function (key, values) { return Array.sum(values); }")


@pytest.fixture()
def scores(db):
    db.scores.insert_many(
        [
            {"_id": 1, "team": "b", "points": 3},
            {"_id": 2, "team": "a", "points": 5},
            {"_id": 3, "team": "b", "points": 4},
            {"_id": 4, "team": "c", "points": 1},
            {"_id": 5, "team": "a", "points": 2},
        ]
    )
    return db


def test_inline(scores):
    out = scores.command("mapReduce", "scores", map=MAP, reduce=REDUCE, out={"inline": 1})
    assert out["results"] == [{"_id": "a", "value": 7}, {"_id": "b", "value": 7}, {"_id": "c", "value": 1}]
    # query, scope and finalize; a key with one value is not reduced.
    out = scores.command(
        "mapReduce",
        "scores",
        map=Code("function () { if (this.points >= min) emit(this.team, {n: 1, p: this.points}); }"),
        reduce=Code("function (k, vs) { var r = {n: 0, p: 0}; vs.forEach(function (v) { r.n += v.n; r.p += v.p; }); return r; }"),
        finalize=Code("function (k, v) { return v.p / v.n; }"),
        query={"team": {"$ne": "c"}},
        scope={"min": 3},
        out={"inline": 1},
    )
    assert out["results"] == [{"_id": "a", "value": 5}, {"_id": "b", "value": 3.5}]


def test_output_collections(scores):
    res = scores.command("mapReduce", "scores", map=MAP, reduce=REDUCE, out="totals")
    assert res["result"] == "totals"
    assert list(scores.totals.find().sort("_id")) == [
        {"_id": "a", "value": 7},
        {"_id": "b", "value": 7},
        {"_id": "c", "value": 1},
    ]
    scores.scores.insert_one({"_id": 6, "team": "d", "points": 9})
    scores.command("mapReduce", "scores", map=MAP, reduce=REDUCE, query={"team": {"$in": ["a", "d"]}}, out={"merge": "totals"})
    assert {d["_id"]: d["value"] for d in scores.totals.find()} == {"a": 7, "b": 7, "c": 1, "d": 9}
    # reduce: new values are reduced with the ones already there.
    scores.command("mapReduce", "scores", map=MAP, reduce=REDUCE, query={"team": {"$in": ["a", "c"]}}, out={"reduce": "totals"})
    assert {d["_id"]: d["value"] for d in scores.totals.find()} == {"a": 14, "b": 7, "c": 2, "d": 9}
    scores.command("mapReduce", "scores", map=MAP, reduce=REDUCE, query={"team": "c"}, out={"replace": "totals"})
    assert list(scores.totals.find()) == [{"_id": "c", "value": 1}]


def test_errors(scores):
    with pytest.raises(OperationFailure) as e:
        scores.command("mapReduce", "scores", map=MAP, out={"inline": 1})
    assert e.value.code in (9, 40414)  # reduce is required
    with pytest.raises(OperationFailure) as e:
        scores.command("mapReduce", "scores", map=MAP, reduce=REDUCE, out={"sideways": "totals"})
    assert e.value.code == 2
    with pytest.raises(OperationFailure) as e:
        scores.command("mapReduce", "scores", map=Code("function () { emit(this.nope.x, 1); }"), reduce=REDUCE, out={"inline": 1})
    assert e.value.code == 139
