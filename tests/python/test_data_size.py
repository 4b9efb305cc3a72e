"""dataSize: the bytes and number of a collection's documents, or of those
whose key in an index lies in [min, max)."""

import bson
import pymongo
import pytest


def test_data_size_of_a_collection_and_a_key_range(client, db):
    docs = [{"_id": i, "n": i, "pad": "x" * (i % 7)} for i in range(100)]
    db.c.insert_many(docs)
    db.c.create_index("n")
    ns = f"{db.name}.c"
    whole = client.admin.command("dataSize", ns)
    assert (whole["size"], whole["numObjects"]) == (sum(len(bson.encode(d)) for d in docs), 100)
    assert whole["millis"] >= 0
    part = db.command("dataSize", ns, keyPattern={"n": 1}, min={"n": 10}, max={"n": 20})
    assert (part["size"], part["numObjects"]) == (sum(len(bson.encode(d)) for d in docs[10:20]), 10)
    # No such collection: nothing; no index with that pattern: an error.
    assert db.command("dataSize", f"{db.name}.nothing")["numObjects"] == 0
    with pytest.raises(pymongo.errors.OperationFailure) as e:
        db.command("dataSize", ns, keyPattern={"pad": 1}, min={"pad": ""}, max={"pad": "z"})
    assert e.value.code == 2
    with pytest.raises(pymongo.errors.OperationFailure) as e:
        db.command("dataSize", "no-dot")
    assert e.value.code == 2
