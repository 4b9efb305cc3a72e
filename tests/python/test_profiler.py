"""The database profiler from pymongo: level 2 records every operation in
the database's capped system.profile (with what each returned or wrote),
level 1 only those slower than slowms, a filter replaces slowms; the fast
lanes step aside while profiling is on; change streams do not report the
profile's writes; settings come back as they were."""

import time

import pytest
from pymongo.errors import OperationFailure


def profile_entries(db, at_least=1, **query):
    """The profile documents matching `query`, once at least `at_least` of
    the asynchronous profile writes have landed (or after 2 s)."""
    found = []
    for _ in range(100):
        found = list(db.system.profile.find(query))
        if len(found) >= at_least:
            break
        time.sleep(0.02)
    return found


def test_profiler_levels_filter_and_reply(db):
    db.c.insert_many([{"_id": i, "v": i} for i in range(5)])
    status = db.command("profile", -1)
    assert (status["was"], status["slowms"], status["sampleRate"]) == (0, 100, 1.0)

    with db.watch() as stream:
        assert db.command("profile", 2)["was"] == 0
        assert "system.profile" in db.list_collection_names()
        opts = db.system.profile.options()
        assert opts["capped"] is True and opts["size"] == 1024 * 1024

        assert db.c.find_one({"_id": 3}) == {"_id": 3, "v": 3}   # would take the fast lane
        db.c.insert_one({"_id": 10, "v": 10})
        db.c.update_one({"_id": 1}, {"$set": {"v": 100}})
        db.c.delete_one({"_id": 4})
        with pytest.raises(OperationFailure):
            db.c.insert_one({"_id": 10})

        (q,) = profile_entries(db, op="query", **{"command.filter": {"_id": 3}})
        assert q["ns"] == f"{db.name}.c" and q["nreturned"] == 1 and q["ok"] == 1.0
        assert q["millis"] >= 0 and "ts" in q and q["client"]
        ins = profile_entries(db, 2, op="insert")
        assert len(ins) == 2
        ok, dup = sorted(ins, key=lambda e: e["ninserted"], reverse=True)
        assert (ok["ninserted"], "errCode" in ok) == (1, False)
        assert (dup["ninserted"], dup["errCode"]) == (0, 11000) and "duplicate key" in dup["errMsg"]
        (up,) = profile_entries(db, op="update")
        assert (up["nMatched"], up["nModified"]) == (1, 1)
        (rm,) = profile_entries(db, op="remove")
        assert rm["ndeleted"] == 1
        # The change stream saw the collection's changes, not the profile's.
        db.c.insert_one({"_id": 11})
        seen = []
        while len(seen) < 4:
            ev = stream.try_next()
            if ev is None:
                continue
            seen.append((ev["operationType"], ev["ns"]["coll"]))
        assert all(coll == "c" for _, coll in seen), seen

    # Level 1: only operations slower than slowms.
    assert db.command("profile", 1, slowms=1000)["was"] == 2
    before = db.system.profile.count_documents({})
    db.c.find_one({"_id": 2})
    busy = "if (this._id == 2) { const t = Date.now(); while (Date.now() - t < 1100) {} } return true"
    db.c.find({"$where": busy}).to_list()
    slow = profile_entries(db, op="query", **{"command.filter.$where": {"$exists": True}})
    assert len(slow) == 1 and slow[0]["millis"] >= 1000
    assert db.system.profile.count_documents({"command.filter": {"_id": 2}}) == 0

    # A filter replaces slowms.
    reply = db.command("profile", 1, filter={"op": "remove"})
    assert reply["was"] == 1 and reply["slowms"] == 1000
    db.c.delete_one({"_id": 0})
    assert len(profile_entries(db, 2, op="remove")) == 2
    status = db.command("profile", -1)
    assert status["filter"] == {"op": "remove"} and "note" in status

    db.command("profile", 0, filter="unset", slowms=100)
    count = db.system.profile.count_documents({})
    db.c.find_one({"_id": 1})
    time.sleep(0.1)
    assert db.system.profile.count_documents({}) == count
    assert db.command("profile", -1)["was"] == 0

    for bad, code in [({"profile": 3}, 2), ({"profile": "all"}, 14), ({"profile": 1, "sampleRate": 2}, 2),
                      ({"profile": 1, "filter": 5}, 14)]:
        with pytest.raises(OperationFailure) as refused:
            db.command(bad)
        assert refused.value.code == code, bad
