"""A batch never makes a reply over MongoDB's limit (16 MiB of BSON plus
16 KiB), whatever the documents' sizes: not a find over a collection, not
the oplog, not a change stream reading one commit of many documents.

The array of a batch holds, besides its documents, a type byte and a key
("0", "1", ... "8999") per document: 9,000 documents of 2 KB fill 16 MiB
with documents alone and the keys push the reply over the limit, which the
server used to build and then refuse to send (BSONObjectTooLarge), leaving
the cursor or change stream unable to go on."""

import bson
import pymongo
from bson.raw_bson import RawBSONDocument

MAX_REPLY = 16 * 1024 * 1024 + 16 * 1024
N = 9000
FILLER = "x" * 2000


def docs(start=0):
    return [{"_id": start + i, "f": FILLER} for i in range(N)]


def test_find_batches_stay_under_the_reply_limit(client):
    coll = client.batchlim.find_docs
    coll.drop()
    coll.insert_many(docs())
    sizes = []
    total = 0
    # batch_size=0: the server decides, filling each getMore to its limit.
    for raw in coll.find_raw_batches({}, batch_size=0):
        sizes.append(len(raw))
        total += len(bson.decode_all(raw))
    assert total == N
    assert max(sizes) <= MAX_REPLY
    assert len(sizes) >= 2, "16 MB of documents cannot come in one batch"
    # And a decoded iteration sees every document once, in _id order.
    assert [d["_id"] for d in coll.find({}, {"f": 0})] == list(range(N))


def big_docs(n=12):
    """Documents of 1.5 MiB: ten fill 15 MiB, the eleventh would pass the
    limit (a batch used to stop only once it had passed 16 MiB)."""
    return [{"_id": i, "f": "y" * (1536 * 1024)} for i in range(n)]


def test_oplog_batches_stay_under_the_reply_limit(client):
    coll = client.batchlim.oplog_docs
    coll.drop()
    client.batchlim.create_collection("oplog_docs")  # (an implicit create shares the first insert's entry)
    for d in big_docs():
        coll.insert_one(d)  # one oplog entry each
    oplog = client.local["oplog.rs"]
    sizes, seen = [], []
    for raw in oplog.find_raw_batches({"ns": "batchlim.oplog_docs", "op": "i"}, batch_size=0):
        sizes.append(len(raw))
        seen.extend(d["o"]["_id"] for d in bson.decode_all(raw))
    assert seen == list(range(12))
    assert max(sizes) <= MAX_REPLY and len(sizes) >= 2
    # Newest first too, with a limit.
    newest = oplog.find({"ns": "batchlim.oplog_docs", "op": "i"}, {"o.f": 0}).sort("$natural", -1).limit(11)
    assert [d["o"]["_id"] for d in newest] == list(range(11, 0, -1))


def test_tailable_batches_stay_under_the_reply_limit(client):
    db = client.batchlim
    db.capped_docs.drop()
    db.create_collection("capped_docs", capped=True, size=64 * 1024 * 1024)
    for d in big_docs():
        db.capped_docs.insert_one(d)
    sizes, seen = [], []
    cursor = db.capped_docs.find_raw_batches({}, batch_size=0, cursor_type=pymongo.CursorType.TAILABLE)
    for raw in cursor:
        sizes.append(len(raw))
        seen.extend(d["_id"] for d in bson.decode_all(raw))
        if len(seen) >= 12:
            break
    assert seen == list(range(12))
    assert max(sizes) <= MAX_REPLY and len(sizes) >= 2


def test_change_stream_batches_split_one_commit_and_resume_inside_it(client):
    coll = client.batchlim.cs_docs
    coll.drop()
    coll.insert_one({"_id": -1})
    with coll.watch() as stream:
        # One insert command: one WAL commit of 9,000 documents.
        coll.insert_many(docs(), ordered=True)
        ids = []
        token_after_1000 = None
        while len(ids) < N:
            ev = stream.next()
            ids.append(ev["fullDocument"]["_id"])
            if len(ids) == 1000:
                token_after_1000 = stream.resume_token
    assert ids == list(range(N))
    # Resuming after the 1,000th event of that commit goes on with the 1,001st.
    with coll.watch(resume_after=token_after_1000) as again:
        assert [again.next()["fullDocument"]["_id"] for _ in range(3)] == [1000, 1001, 1002]


def test_change_stream_getmore_replies_stay_under_the_limit(server):
    # Raw replies, to see each batch's size.
    c = server.client(document_class=RawBSONDocument)
    try:
        db = c.batchlim
        db.cs_raw.drop()
        db.create_collection("cs_raw")
        opened = db.command({"aggregate": "cs_raw", "pipeline": [{"$changeStream": {}}], "cursor": {}})
        cursor_id = opened["cursor"]["id"]
        db.cs_raw.insert_many(docs())
        got = 0
        for _ in range(20):
            reply = db.command(
                {"getMore": cursor_id, "collection": "cs_raw", "maxTimeMS": 500},
                codec_options=bson.CodecOptions(document_class=RawBSONDocument),
            )
            assert len(reply.raw) <= MAX_REPLY
            got += len(reply["cursor"]["nextBatch"])
            if got >= N:
                break
        assert got == N
        db.command({"killCursors": "cs_raw", "cursors": [cursor_id]})
    finally:
        c.close()


def test_a_commit_too_large_for_one_oplog_entry_is_logged_in_several(client):
    """One insert command of ~20 MB is one WAL commit; its `applyOps` would
    pass 16 MiB, so it is logged as several entries sharing its ts and lsn
    (MongoDB's form for a large transaction), each readable."""
    db = client.batchlim
    db.big_commit.drop()
    db.create_collection("big_commit")
    n = 10000
    db.big_commit.insert_many([{"_id": i, "f": "q" * 2000} for i in range(n)])
    oplog = client.local["oplog.rs"]
    # The newest entry (what rs.printReplicationInfo() reads) can be read.
    newest = oplog.find_one({}, sort=[("$natural", -1)])
    lsn = newest["lsn"]
    sizes, parts = [], []
    for raw in oplog.find_raw_batches({"lsn": lsn}, batch_size=1):
        sizes.append(len(raw))
        parts.extend(bson.decode_all(raw))
    assert len(parts) >= 2
    assert max(sizes) <= MAX_REPLY
    assert len({p["ts"] for p in parts}) == 1
    assert [p["o"].get("partialTxn") for p in parts] == [True] * (len(parts) - 1) + [None]
    assert parts[-1]["o"]["count"] == n
    ids = [op["o"]["_id"] for p in parts for op in p["o"]["applyOps"]]
    assert ids == list(range(n))
    assert all(op["op"] == "i" and op["ns"] == "batchlim.big_commit" for p in parts for op in p["o"]["applyOps"])
    # Newest first, the parts come last one first.
    backward = list(oplog.find({"lsn": lsn}, {"o.applyOps": 0}).sort("$natural", -1))
    assert [b["o"].get("count") for b in backward] == [n] + [None] * (len(parts) - 1)


def test_history_stops_before_the_reply_limit_and_says_so(client):
    db = client.batchlim
    db.hist_docs.drop()
    db.create_collection("hist_docs")
    for d in big_docs():
        db.hist_docs.insert_one(d)
    full = client.admin.command("history", "main", project="batchlim", collection="hist_docs")
    entries = full["entries"]
    # Twelve 1.5 MiB post-images do not fit in one reply: the newest that do.
    assert full.get("truncated") is True
    assert 2 <= len(entries) < 12
    lsns = [e["lsn"] for e in entries]
    assert lsns == sorted(lsns, reverse=True)
    assert [e["entry"]["ops"][0]["id"] for e in entries] == list(range(11, 11 - len(entries), -1))
    # Asked for fewer, it is whole.
    two = client.admin.command("history", "main", project="batchlim", collection="hist_docs", limit=2)
    assert "truncated" not in two and [e["lsn"] for e in two["entries"]] == lsns[:2]
