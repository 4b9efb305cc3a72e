"""Collations: language-aware string comparison on queries, sorts, groups,
updates, deletes and indexes (case-insensitive unique indexes)."""

import pymongo
import pytest
from pymongo.collation import Collation, CollationStrength
from pymongo.errors import DuplicateKeyError, OperationFailure

CI = Collation(locale="en", strength=CollationStrength.SECONDARY)  # case-insensitive
PRIMARY = Collation(locale="en", strength=CollationStrength.PRIMARY)  # also accent-insensitive

NAMES = ["apple", "Apple", "APPLE", "Äpfel", "banana", "Banana", "cherry", "Zebra", "zebra", "éclair", "eclair"]


@pytest.fixture()
def fruit(db):
    db.fruit.insert_many([{"_id": i, "name": n} for i, n in enumerate(NAMES)])
    return db.fruit


def names(cursor):
    return [d["name"] for d in cursor]


def test_equality_and_in_follow_the_strength(fruit):
    assert sorted(names(fruit.find({"name": "apple"}, collation=CI))) == ["APPLE", "Apple", "apple"]
    assert names(fruit.find({"name": "apple"})) == ["apple"]  # simple: binary
    assert sorted(names(fruit.find({"name": "eclair"}, collation=PRIMARY))) == ["eclair", "éclair"]
    assert names(fruit.find({"name": "eclair"}, collation=CI)) == ["eclair"]  # accents still count
    found = names(fruit.find({"name": {"$in": ["BANANA", "zebra"]}}, collation=CI))
    assert sorted(found) == ["Banana", "Zebra", "banana", "zebra"]
    assert fruit.count_documents({"name": "ZEBRA"}, collation=CI) == 2
    assert fruit.count_documents({"name": {"$ne": "apple"}}, collation=CI) == len(NAMES) - 3
    # $regex ignores the collation, as in MongoDB.
    assert names(fruit.find({"name": {"$regex": "^a"}}, collation=CI)) == ["apple"]


def test_ranges_and_sort_use_language_order(fruit):
    # Binary order puts every capital before every small letter; English does not.
    binary = names(fruit.find({}, {"_id": 0}).sort("name", 1))
    assert binary[0] == "APPLE" and binary.index("Zebra") < binary.index("apple")
    english = names(fruit.find().sort([("name", 1), ("_id", 1)]).collation(Collation(locale="en")))
    # Base letters first (Äpfel < apple), then accents, then case (small first).
    assert english == ["Äpfel", "apple", "Apple", "APPLE", "banana", "Banana", "cherry", "eclair", "éclair", "zebra", "Zebra"]
    after_b = names(fruit.find({"name": {"$gte": "b", "$lt": "d"}}, collation=CI).sort("_id", 1))
    assert after_b == ["banana", "Banana", "cherry"]
    # Swedish sorts "ä" after "z".
    sv = names(fruit.find({"name": {"$in": ["Äpfel", "zebra"]}}).sort("name", 1).collation(Collation(locale="sv")))
    assert sv == ["zebra", "Äpfel"]


def test_numeric_ordering(db):
    # The manual's example: only non-negative integer substrings count.
    values = ["1", "2", "2.1", "-2.1", "2.2", "2.10", "2.20", "-10", "10", "20", "20.1"]
    db.nums.insert_many([{"n": v} for v in values])
    got = [d["n"] for d in db.nums.find({}, {"_id": 0}).sort("n", 1).collation(Collation(locale="en_US", numericOrdering=True))]
    assert got == ["-2.1", "-10", "1", "2", "2.1", "2.2", "2.10", "2.20", "10", "20", "20.1"]


def test_distinct_and_group_merge_equal_strings(fruit):
    assert len(fruit.distinct("name")) == len(NAMES)
    ci = fruit.distinct("name", collation=CI)
    assert len(ci) == len(NAMES) - 4, ci  # apple x3 -> 1, banana x2 -> 1, zebra x2 -> 1
    groups = list(
        fruit.aggregate(
            [{"$group": {"_id": "$name", "n": {"$sum": 1}}}, {"$match": {"n": {"$gt": 1}}}, {"$sort": {"n": -1}}],
            collation=CI,
        )
    )
    assert [g["n"] for g in groups] == [3, 2, 2]
    # Expressions compare under it too.
    same = list(fruit.aggregate([{"$match": {"$expr": {"$eq": ["$name", "CHERRY"]}}}], collation=CI))
    assert [d["name"] for d in same] == ["cherry"]


def test_update_delete_and_find_and_modify(fruit):
    r = fruit.update_many({"name": "apple"}, {"$set": {"fruit": True}}, collation=CI)
    assert (r.matched_count, r.modified_count) == (3, 3)
    assert fruit.count_documents({"fruit": True}) == 3
    doc = fruit.find_one_and_update({"name": "ZEBRA"}, {"$set": {"seen": 1}}, sort=[("_id", 1)], collation=CI)
    assert doc["name"] == "Zebra"
    assert fruit.delete_many({"name": "BANANA"}, collation=CI).deleted_count == 2
    assert fruit.delete_one({"name": "CHERRY"}).deleted_count == 0  # simple: no match
    assert fruit.find_one_and_delete({"name": "CHERRY"}, collation=CI)["name"] == "cherry"
    # bulk statements carry their own collations
    res = fruit.bulk_write(
        [
            pymongo.UpdateOne({"name": "EClair"}, {"$set": {"x": 1}}, collation=CI),
            pymongo.DeleteMany({"name": "ZEBRA"}, collation=CI),
        ]
    )
    assert (res.modified_count, res.deleted_count) == (1, 2)


def test_case_insensitive_unique_index(db):
    db.users.create_index("email", unique=True, collation=CI, name="email_ci")
    spec = db.users.index_information()["email_ci"]
    assert spec["collation"]["locale"] == "en" and spec["collation"]["strength"] == 2
    assert spec["collation"]["caseFirst"] == "off"
    db.users.insert_one({"email": "Ada@Example.com"})
    with pytest.raises(DuplicateKeyError):
        db.users.insert_one({"email": "ada@example.COM"})
    db.users.insert_one({"email": "grace@example.com"})
    # The index answers queries with the same collation, in its order.
    plan = db.users.find({"email": "ADA@example.com"}).collation(CI).explain()
    assert "IXSCAN" in str(plan["queryPlanner"]["winningPlan"]), plan
    assert db.users.find_one({"email": "ADA@example.com"}, collation=CI)["email"] == "Ada@Example.com"
    # ... but not queries with another collation (or none): they scan.
    plan = db.users.find({"email": "ADA@example.com"}).explain()
    assert "IXSCAN" not in str(plan["queryPlanner"]["winningPlan"]), plan
    assert db.users.find_one({"email": "ADA@example.com"}) is None
    # Sort through the collated index.
    db.users.insert_one({"email": "BOB@example.com"})
    got = [d["email"] for d in db.users.find({"email": {"$gte": "a"}}).sort("email", 1).collation(CI)]
    assert got == ["Ada@Example.com", "BOB@example.com", "grace@example.com"]


def test_an_index_with_another_collation_is_not_used_wrongly(db):
    db.t.create_index("s")  # simple
    db.t.insert_many([{"s": "a"}, {"s": "A"}, {"s": "b"}])
    assert db.t.count_documents({"s": "a"}, collation=CI) == 2
    assert len(list(db.t.find({"s": "a"}, collation=CI).hint("s_1"))) == 2
    # A string _id under a case-insensitive collation is not a point read.
    db.ids.insert_many([{"_id": "x"}, {"_id": "X"}])
    assert len(list(db.ids.find({"_id": "x"}, collation=CI))) == 2
    assert [d["_id"] for d in db.ids.find().sort("_id", 1).collation(CI)] in (["x", "X"], ["X", "x"])


def test_streaming_cursor_keeps_its_collation(db):
    db.many.insert_many([{"_id": i, "s": "Word" if i % 2 else "word"} for i in range(500)])
    cursor = db.many.find({"s": "WORD"}, batch_size=10, collation=CI)
    assert sum(1 for _ in cursor) == 500


def test_bad_collations_get_mongodbs_errors(fruit, db):
    with pytest.raises(OperationFailure) as e:
        list(fruit.find({}, collation=Collation(locale="xx")))
    assert e.value.code == 2 and "Field 'locale' is invalid" in str(e.value)
    with pytest.raises(OperationFailure) as e:
        db.command({"find": "fruit", "collation": {"locale": "en", "strength": 9}})
    assert e.value.code == 51024
    with pytest.raises(OperationFailure) as e:
        db.command({"count": "fruit", "collation": {"locale": "en", "colour": "blue"}})
    assert e.value.code == 40415
    with pytest.raises(OperationFailure) as e:
        db.command({"aggregate": "fruit", "pipeline": [], "cursor": {}, "collation": {"strength": 1}})
    assert e.value.code == 40414
    with pytest.raises(OperationFailure) as e:
        db.command({"find": "fruit", "collation": "en"})
    assert e.value.code == 14
    with pytest.raises(OperationFailure) as e:
        db.create_collection("v", viewOn="fruit", pipeline=[], collation=CI)
    assert e.value.code == 238
    with pytest.raises(OperationFailure) as e:
        db.docs.create_index([("body", pymongo.TEXT)], collation=CI)
    assert e.value.code == 67
    # The server is fine afterwards; simple collations are accepted anywhere.
    assert fruit.count_documents({}, collation=Collation(locale="simple")) == len(NAMES)


def test_a_collections_default_collation(db):
    coll = db.create_collection("people", collation=CI)
    info = db.command("listCollections", filter={"name": "people"})["cursor"]["firstBatch"][0]
    assert info["options"]["collation"]["strength"] == 2
    coll.insert_many([{"_id": 1, "name": "Ada"}, {"_id": 2, "name": "ADA"}, {"_id": 3, "name": "Bob"}])
    # Queries without a collation use the collection's ...
    assert coll.count_documents({"name": "ada"}) == 2
    assert sorted(d["_id"] for d in coll.find({"name": "ada"})) == [1, 2]
    assert len(coll.distinct("name")) == 2
    assert [g["n"] for g in coll.aggregate([{"$group": {"_id": "$name", "n": {"$sum": 1}}}, {"$sort": {"n": -1}}])] == [2, 1]
    assert coll.update_many({"name": "ada"}, {"$set": {"seen": True}}).modified_count == 2
    # ... an explicit one replaces it (simple: binary).
    assert coll.count_documents({"name": "ada"}, collation=Collation(locale="simple")) == 0
    # Indexes inherit it unless they name their own.
    coll.create_index("name", name="by_name")
    coll.create_index("name", name="by_name_binary", collation=Collation(locale="simple"))
    info = coll.index_information()
    assert info["by_name"]["collation"]["strength"] == 2
    assert "collation" not in info["by_name_binary"]
    plan = coll.find({"name": "ada"}).explain()["queryPlanner"]["winningPlan"]
    assert "by_name" in str(plan) and "by_name_binary" not in str(plan), plan
    assert coll.delete_many({"name": "BOB"}).deleted_count == 1


def test_by_id_requests_follow_the_default_collation(db):
    # find/update by a string _id take the full path on a collated collection.
    coll = db.create_collection("codes", collation=CI)
    coll.insert_one({"_id": "ABC", "n": 1})
    assert coll.find_one({"_id": "abc"}) == {"_id": "ABC", "n": 1}
    assert coll.update_one({"_id": "abc"}, {"$inc": {"n": 1}}).modified_count == 1
    assert coll.find_one({"_id": "ABC"})["n"] == 2
    # A simple collection stays exact.
    db.plain.insert_one({"_id": "ABC"})
    assert db.plain.find_one({"_id": "abc"}) is None
