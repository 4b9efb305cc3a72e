"""A sweep of everyday pymongo use: GridFS (files in chunks), cursor
options, BSON types round-tripping, mixed bulk writes and update forms,
database administration helpers, and reads of databases nobody wrote to."""

import datetime, io
import gridfs, pymongo, pytest
from bson import ObjectId, Int64, Decimal128

def test_gridfs_roundtrip(db):
    fs = gridfs.GridFS(db)
    data = bytes(range(256)) * 4000  # ~1 MB, several chunks
    fid = fs.put(data, filename="blob.bin", metadata={"k": 1})
    assert fs.get(fid).read() == data
    assert fs.find_one({"filename": "blob.bin"}).length == len(data)
    b = gridfs.GridFSBucket(db)
    up = b.open_upload_stream("x.txt")
    up.write(b"hello " * 100000); up.close()
    out = io.BytesIO(); b.download_to_stream_by_name("x.txt", out)
    assert out.getvalue() == b"hello " * 100000
    b.delete(up._id)
    assert db.fs.chunks.count_documents({"files_id": up._id}) == 0

def test_cursor_features(db):
    c = db.c
    c.insert_many([{"_id": i, "a": i % 5, "s": f"x{i}"} for i in range(300)])
    assert [d["_id"] for d in c.find().sort("_id", -1).limit(3)] == [299, 298, 297]
    assert len(list(c.find().batch_size(7))) == 300
    assert c.estimated_document_count() == 300
    assert sorted(c.distinct("a")) == [0, 1, 2, 3, 4]
    assert len(list(c.find({}, {"s": 1}).skip(290))) == 10
    assert c.find_one({"$expr": {"$gt": ["$_id", 298]}})["_id"] == 299
    r = list(c.aggregate([{"$group": {"_id": "$a", "n": {"$sum": 1}}}, {"$sort": {"_id": 1}}], allowDiskUse=True))
    assert r[0] == {"_id": 0, "n": 60}
    assert c.find().sort([("a", 1), ("_id", -1)]).limit(1)[0]["_id"] == 295
    assert len(list(c.find().max_time_ms(10000).comment("hi"))) == 300
    assert c.find({"s": {"$regex": "^x29"}}).explain()["queryPlanner"]
    c.create_index([("a", 1), ("s", -1)], name="as")
    assert "as" in c.index_information()
    c.drop_index("as")
    c.rename("c2")
    assert db.c2.count_documents({}) == 300

def test_types(db):
    now = datetime.datetime(2024, 1, 2, 3, 4, 5, 678000)
    doc = {"i": Int64(5), "d": Decimal128("1.10"), "t": now, "o": ObjectId(), "b": b"\x00\x01", "n": None, "arr": [1, [2, 3]], "nested": {"x": {"y": 1}}}
    db.t.insert_one(doc)
    got = db.t.find_one({"_id": doc["_id"]})
    for k in doc:
        assert got[k] == doc[k], k
    assert db.t.find_one({"d": Decimal128("1.1")}) is not None
    assert db.t.find_one({"i": 5.0}) is not None

def test_bulk_and_updates(db):
    c = db.u
    res = c.bulk_write([pymongo.InsertOne({"_id": 1, "v": [1, 2, 3]}), pymongo.UpdateOne({"_id": 1}, {"$push": {"v": {"$each": [4], "$position": 0}}}), pymongo.UpdateOne({"_id": 2}, {"$set": {"x": 1}}, upsert=True), pymongo.ReplaceOne({"_id": 1}, {"v": [9]}), pymongo.DeleteMany({"x": 1})])
    assert res.inserted_count == 1 and res.upserted_count == 1 and res.deleted_count == 1
    c.update_one({"_id": 1}, [{"$set": {"w": {"$size": "$v"}}}])
    assert c.find_one({"_id": 1})["w"] == 1
    c.update_one({"_id": 1}, {"$set": {"v.$[e]": 0}}, array_filters=[{"e": 9}])
    assert c.find_one({"_id": 1})["v"] == [0]
    doc = c.find_one_and_update({"_id": 1}, {"$inc": {"n": 1}}, return_document=pymongo.ReturnDocument.AFTER, projection={"n": 1})
    assert doc == {"_id": 1, "n": 1}

def test_db_admin(client, db):
    db.x.insert_one({})
    assert db.name in client.list_database_names()
    info = db.command("dbStats")
    assert info["collections"] >= 1
    assert db.command("collStats", "x")["count"] == 1
    assert client.server_info()["version"]
    assert db.command("listCollections", nameOnly=True, authorizedCollections=True)["ok"] == 1


def test_reads_of_a_database_nobody_wrote_to_are_empty(client, db):
    assert list(db.never.find({"a": 1}, {"_id": 1}).limit(1)) == []
    assert db.never.count_documents({}) == 0
    assert db.never.distinct("a") == []
    assert list(db.never.aggregate([{"$match": {}}])) == []
    # An unknown branch of a project that exists stays an error.
    db.x.insert_one({})
    with pytest.raises(pymongo.errors.OperationFailure) as e:
        list(client[db.name + "~nosuchbranch"].x.find())
    assert e.value.code == 26 and "createBranch" in str(e.value)


def test_tailable_cursors_need_a_capped_collection(db):
    db.plain.insert_one({"a": 1})
    with pytest.raises(pymongo.errors.OperationFailure) as e:
        list(db.plain.find(cursor_type=pymongo.CursorType.TAILABLE_AWAIT))
    assert e.value.code == 2 and "non capped" in str(e.value)
    db.create_collection("log", capped=True, size=1 << 20)
    db.log.insert_one({"line": 1})
    with pytest.raises(pymongo.errors.OperationFailure) as e:
        list(db.log.find(cursor_type=pymongo.CursorType.TAILABLE).sort("line", 1))
    assert e.value.code == 2 and "$natural" in str(e.value)
    tail = db.log.find(cursor_type=pymongo.CursorType.TAILABLE)
    assert [d["line"] for d in tail] == [1] and tail.alive
    tail.close()
