"""Vector search with pymongo: search index helpers, $vectorSearch with each
similarity, pre-filters, branches and time travel, and bad input."""

import math
import random

import pytest
from bson.binary import Binary, BinaryVectorDtype
from pymongo.errors import OperationFailure
from pymongo.operations import SearchIndexModel


def vector_index(similarity="cosine", dims=3, filters=("genre",)):
    fields = [{"type": "vector", "path": "embedding", "numDimensions": dims, "similarity": similarity}]
    fields += [{"type": "filter", "path": p} for p in filters]
    return {"fields": fields}


def create(coll, name="vi", **kw):
    return coll.create_search_index(SearchIndexModel(definition=vector_index(**kw), name=name, type="vectorSearch"))


def search(coll, query, limit=3, index="vi", **extra):
    stage = {"index": index, "path": "embedding", "queryVector": query, "limit": limit}
    if not extra.get("exact"):
        stage["numCandidates"] = 100
    stage.update(extra)
    return list(coll.aggregate([{"$vectorSearch": stage}, {"$project": {"score": {"$meta": "vectorSearchScore"}, "genre": 1}}]))


def expected(docs, query, similarity, limit, keep=lambda d: True):
    def score(v):
        dot = sum(a * b for a, b in zip(v, query))
        if similarity == "euclidean":
            return 1 / (1 + sum((a - b) ** 2 for a, b in zip(v, query)))
        if similarity == "dotProduct":
            return (1 + dot) / 2
        return (1 + dot / (math.sqrt(sum(a * a for a in v)) * math.sqrt(sum(b * b for b in query)))) / 2

    ranked = sorted(((score(d["embedding"]), d["_id"]) for d in docs if keep(d)), key=lambda p: -p[0])
    return ranked[:limit]


@pytest.fixture()
def movies(db):
    rng = random.Random(7)
    docs = [
        {"_id": i, "genre": ["drama", "comedy", "horror"][i % 3], "embedding": [rng.uniform(-1, 1) for _ in range(3)]}
        for i in range(60)
    ]
    db.movies.insert_many(docs)
    return db.movies, docs


@pytest.mark.parametrize("similarity", ["cosine", "euclidean", "dotProduct"])
def test_nearest_documents_by_each_similarity(movies, similarity):
    coll, docs = movies
    assert create(coll, similarity=similarity) == "vi"
    query = [0.3, -0.2, 0.9]
    got = search(coll, query, limit=5)
    want = expected(docs, query, similarity, 5)
    assert [d["_id"] for d in got] == [i for _, i in want]
    for d, (score, _) in zip(got, want):
        assert abs(d["score"] - score) < 1e-9
    # exact: true gives the same answer.
    assert [d["_id"] for d in search(coll, query, limit=5, exact=True)] == [i for _, i in want]


def test_pre_filter_and_later_stages(movies):
    coll, docs = movies
    create(coll)
    query = [1, 0, 0]
    got = search(coll, query, limit=4, filter={"genre": {"$in": ["drama", "horror"]}})
    want = expected(docs, query, "cosine", 4, keep=lambda d: d["genre"] in ("drama", "horror"))
    assert [d["_id"] for d in got] == [i for _, i in want]
    assert all(d["genre"] != "comedy" for d in got)
    # The score rides through $match/$group stages after $vectorSearch.
    out = list(
        coll.aggregate(
            [
                {"$vectorSearch": {"index": "vi", "path": "embedding", "queryVector": query, "numCandidates": 50, "limit": 10}},
                {"$addFields": {"s": {"$meta": "vectorSearchScore"}}},
                {"$group": {"_id": None, "best": {"$max": "$s"}, "n": {"$sum": 1}}},
            ]
        )
    )
    assert out[0]["n"] == 10 and abs(out[0]["best"] - expected(docs, query, "cosine", 1)[0][0]) < 1e-9
    # A filter on a field the index does not declare is refused.
    with pytest.raises(OperationFailure) as e:
        search(coll, query, filter={"year": 1999})
    assert "needs to be indexed as filter" in str(e.value)


def test_binary_vectors_and_missing_or_wrong_sized_embeddings(db):
    create(db.c, dims=2, filters=())
    db.c.insert_many(
        [
            {"_id": 1, "embedding": Binary.from_vector([1.0, 0.0], BinaryVectorDtype.FLOAT32)},
            {"_id": 2, "embedding": [0, 1]},
            {"_id": 3, "embedding": [1, 1, 1]},
            {"_id": 4},
            {"_id": 5, "embedding": "not a vector"},
        ]
    )
    got = search(db.c, [1, 0.1], limit=10)
    assert [d["_id"] for d in got] == [1, 2]
    # A query given as a BSON vector too.
    got = search(db.c, Binary.from_vector([0.0, 1.0], BinaryVectorDtype.FLOAT32), limit=1)
    assert [d["_id"] for d in got] == [2]


def test_index_helpers_list_update_and_drop(db):
    create(db.c, name="first")
    create(db.c, name="second", similarity="euclidean")
    listed = {i["name"]: i for i in db.c.list_search_indexes()}
    assert set(listed) == {"first", "second"}
    assert listed["second"]["latestDefinition"]["fields"][0]["similarity"] == "euclidean"
    assert listed["first"]["status"] == "READY" and listed["first"]["queryable"] is True
    assert [i["name"] for i in db.c.list_search_indexes("second")] == ["second"]
    # Hidden from the collection's options.
    info = db.command("listCollections", filter={"name": "c"})["cursor"]["firstBatch"][0]
    assert "$searchIndexes" not in info["options"]
    db.c.update_search_index("first", vector_index(similarity="dotProduct"))
    listed = {i["name"]: i for i in db.c.list_search_indexes()}
    assert listed["first"]["latestDefinition"]["fields"][0]["similarity"] == "dotProduct"
    db.c.drop_search_index("first")
    assert [i["name"] for i in db.c.list_search_indexes()] == ["second"]
    with pytest.raises(OperationFailure) as e:
        db.c.drop_search_index("first")
    assert e.value.code == 27
    with pytest.raises(OperationFailure) as e:
        create(db.c, name="second")
    assert e.value.code == 68
    # An unknown index name finds nothing (as Atlas does).
    db.c.insert_one({"embedding": [1, 2, 3]})
    assert search(db.c, [1, 2, 3], index="nope") == []


def test_search_indexes_branch_and_travel_in_time(client, db):
    db.c.insert_one({"_id": 1, "embedding": [1, 0, 0], "genre": "drama"})
    with client.start_session() as s:
        create(db.c)
        db.c.insert_one({"_id": 2, "embedding": [0, 1, 0], "genre": "drama"}, session=s)
        t = s.operation_time
    db.c.insert_one({"_id": 3, "embedding": [0, 0.9, 0.1], "genre": "drama"})
    client.admin.command("createBranch", "dev", project=db.name)
    dev = client[f"{db.name}~dev"]
    dev.c.delete_one({"_id": 2})
    assert [d["_id"] for d in search(db.c, [0, 1, 0], limit=1)] == [2]
    assert [d["_id"] for d in search(dev.c, [0, 1, 0], limit=1)] == [3]
    # At the earlier cluster time document 3 did not exist.
    r = db.command(
        {
            "aggregate": "c",
            "pipeline": [{"$vectorSearch": {"index": "vi", "path": "embedding", "queryVector": [0, 1, 0], "numCandidates": 10, "limit": 5}}],
            "cursor": {},
            "readConcern": {"level": "snapshot", "atClusterTime": t},
        }
    )
    assert [d["_id"] for d in r["cursor"]["firstBatch"]] == [2, 1]
    # A branch's index change stays on the branch.
    dev.c.drop_search_index("vi")
    assert list(dev.c.list_search_indexes()) == []
    assert [i["name"] for i in db.c.list_search_indexes()] == ["vi"]


def test_bad_input(db):
    coll = db.c
    db.c.insert_one({"embedding": [1, 2, 3]})
    with pytest.raises(OperationFailure) as e:
        coll.create_search_index(SearchIndexModel(definition={"mappings": {"dynamic": True}}, name="text"))
    assert e.value.code == 115  # full-text search indexes are not implemented
    bad_defs = [
        {"fields": []},
        {"fields": [{"type": "vector", "path": "e", "numDimensions": 0, "similarity": "cosine"}]},
        {"fields": [{"type": "vector", "path": "e", "numDimensions": 3, "similarity": "manhattan"}]},
        {"fields": [{"type": "filter", "path": "g"}]},
    ]
    for d in bad_defs:
        with pytest.raises(OperationFailure) as e:
            coll.create_search_index(SearchIndexModel(definition=d, name="x", type="vectorSearch"))
        assert e.value.code == 2, d
    create(coll)
    bad_stages = [
        ({"path": "embedding", "queryVector": [1, 2, 3], "numCandidates": 10, "limit": 1}, 2),
        ({"index": "vi", "path": "embedding", "queryVector": [1, 2], "numCandidates": 10, "limit": 1}, 2),
        ({"index": "vi", "path": "embedding", "queryVector": [1, 2, 3], "limit": 1}, 2),
        ({"index": "vi", "path": "embedding", "queryVector": [1, 2, 3], "numCandidates": 1, "limit": 5}, 2),
        ({"index": "vi", "path": "embedding", "queryVector": [1, 2, 3], "numCandidates": 10, "limit": 1, "exact": True}, 2),
        ({"index": "vi", "path": "other", "queryVector": [1, 2, 3], "numCandidates": 10, "limit": 1}, 2),
        ({"index": "vi", "path": "embedding", "queryVector": "x", "numCandidates": 10, "limit": 1}, 2),
        ({"index": "vi", "path": "embedding", "queryVector": [1, 2, 3], "numCandidates": 10, "limit": 1, "k": 1}, 40415),
    ]
    for stage, code in bad_stages:
        with pytest.raises(OperationFailure) as e:
            list(coll.aggregate([{"$vectorSearch": stage}]))
        assert e.value.code == code, stage
    with pytest.raises(OperationFailure) as e:
        list(coll.aggregate([{"$match": {}}, {"$vectorSearch": {"index": "vi"}}]))
    assert e.value.code == 40602
    with pytest.raises(OperationFailure) as e:
        list(coll.aggregate([{"$project": {"s": {"$meta": "vectorSearchScore"}}}]))
    assert e.value.code == 40218
    # The server is still there.
    assert db.command("ping")["ok"] == 1


def test_a_transaction_sees_its_own_vectors(client, db):
    create(db.c, filters=("genre",))
    db.c.insert_one({"_id": 1, "embedding": [1, 0, 0], "genre": "a"})
    with client.start_session() as s:
        with s.start_transaction():
            db.c.insert_one({"_id": 2, "embedding": [0, 0, 1], "genre": "b"}, session=s)
            db.c.update_one({"_id": 1}, {"$set": {"genre": "c"}}, session=s)
            stage = {"index": "vi", "path": "embedding", "queryVector": [0, 0, 1], "numCandidates": 10, "limit": 5}
            inside = list(db.c.aggregate([{"$vectorSearch": stage}], session=s))
            assert [d["_id"] for d in inside] == [2, 1]
            assert inside[1]["genre"] == "c"
            filtered = list(db.c.aggregate([{"$vectorSearch": {**stage, "filter": {"genre": "c"}}}], session=s))
            assert [d["_id"] for d in filtered] == [1]
            s.abort_transaction()
    assert [d["_id"] for d in search(db.c, [0, 0, 1])] == [1]
