"""Server-side JavaScript with pymongo: $where, $function and $accumulator
(on QuickJS): values keep their types across, errors are
JSInterpreterFailure (139), and maxTimeMS stops an endless script while
the server serves on."""

import datetime
import time

import pytest
from bson import Code, ObjectId
from pymongo.errors import ExecutionTimeout, OperationFailure


@pytest.fixture()
def people(db):
    c = db.people
    c.insert_many(
        [
            {"_id": 1, "name": "ann", "age": 31, "born": datetime.datetime(1993, 5, 1), "team": "a"},
            {"_id": 2, "name": "bob", "age": 17, "born": datetime.datetime(2007, 1, 2), "team": "b"},
            {"_id": 3, "name": "cy", "age": 45, "born": datetime.datetime(1979, 9, 9), "team": "a"},
        ]
    )
    return c


def test_where(people):
    assert [d["_id"] for d in people.find({"$where": "this.age > 30"}).sort("_id")] == [1, 3]
    assert [d["_id"] for d in people.find({"$where": Code("function() { return this.name.length == 2; }")})] == [3]
    # Dates are JavaScript Dates; combined with ordinary conditions.
    got = people.find({"team": "a", "$where": "this.born.getUTCFullYear() < 1990"})
    assert [d["_id"] for d in got] == [3]
    assert people.count_documents({"$where": "obj.age % 2 == 1"}) == 3
    with pytest.raises(OperationFailure) as e:
        list(people.find({"$where": "this.age.nope.deeper > 1"}))
    assert e.value.code == 139
    with pytest.raises(OperationFailure) as e:
        list(people.find({"age": {"$where": "true"}}))
    assert e.value.code == 2


def test_function(people):
    out = list(
        people.aggregate(
            [
                {"$sort": {"_id": 1}},
                {
                    "$project": {
                        "greeting": {
                            "$function": {
                                "body": "function(name, age) { return 'hi ' + name + (age >= 18 ? '' : ' (minor)'); }",
                                "args": ["$name", "$age"],
                                "lang": "js",
                            }
                        },
                        "same_id": {"$function": {"body": "function(x) { return x; }", "args": ["$_id"], "lang": "js"}},
                    }
                },
            ]
        )
    )
    assert [d["greeting"] for d in out] == ["hi ann", "hi bob (minor)", "hi cy"]
    assert [d["same_id"] for d in out] == [1, 2, 3]
    oid = ObjectId()
    people.insert_one({"_id": oid, "name": "dee", "age": 1, "team": "c"})
    echoed = people.find_one({"$expr": {"$eq": [{"$function": {"body": "function(x) { return x; }", "args": ["$_id"], "lang": "js"}}, oid]}})
    assert echoed["_id"] == oid, "an ObjectId comes back as an ObjectId"
    with pytest.raises(OperationFailure) as e:
        list(people.aggregate([{"$project": {"x": {"$function": {"body": "function() {}", "args": [], "lang": "python"}}}}]))
    assert e.value.code == 31418
    with pytest.raises(OperationFailure) as e:
        list(people.aggregate([{"$project": {"x": {"$function": {"body": "function() { throw 'no'; }", "args": [], "lang": "js"}}}}]))
    assert e.value.code == 139


def test_accumulator(people):
    out = list(
        people.aggregate(
            [
                {
                    "$group": {
                        # (initArgs read the group key's fields, as in MongoDB.)
                        "_id": {"team": "$team"},
                        "avgAge": {
                            "$accumulator": {
                                "init": "function() { return {count: 0, sum: 0}; }",
                                "accumulate": "function(state, age) { return {count: state.count + 1, sum: state.sum + age}; }",
                                "accumulateArgs": ["$age"],
                                "merge": "function(a, b) { return {count: a.count + b.count, sum: a.sum + b.sum}; }",
                                "finalize": "function(state) { return state.sum / state.count; }",
                                "lang": "js",
                            }
                        },
                        "names": {
                            "$accumulator": {
                                "init": "function(prefix) { return [prefix]; }",
                                "initArgs": ["$team"],
                                "accumulate": "function(s, n) { s.push(n); return s; }",
                                "accumulateArgs": ["$name"],
                                "merge": "function(a, b) { return a.concat(b); }",
                                "lang": "js",
                            }
                        },
                    }
                },
                {"$sort": {"_id": 1}},
            ]
        )
    )
    assert [(d["_id"]["team"], d["avgAge"]) for d in out] == [("a", 38), ("b", 17)]
    assert out[0]["names"] == ["a", "ann", "cy"]
    with pytest.raises(OperationFailure) as e:
        list(people.aggregate([{"$group": {"_id": None, "x": {"$accumulator": {"init": "function(){}", "accumulate": "function(){}", "accumulateArgs": [], "lang": "js"}}}}]))
    assert e.value.code == 4544709  # merge is required


def test_max_time_ms_stops_an_endless_script(people):
    with pytest.raises(ExecutionTimeout):
        list(people.find({"$where": "while (true) {} return true;"}).max_time_ms(300))
    assert people.count_documents({"$where": "this.age > 40"}) == 1


def test_sleep_waits_and_max_time_ms_cuts_it_short(people):
    # mongod's sleep(ms) in server-side JavaScript.
    started = time.monotonic()
    assert len(list(people.find({"$where": "sleep(30); return true;"}))) == 3
    assert time.monotonic() - started >= 0.09
    started = time.monotonic()
    with pytest.raises(ExecutionTimeout):
        list(people.find({"$where": "sleep(20000); return true;"}).max_time_ms(200))
    assert time.monotonic() - started < 5
