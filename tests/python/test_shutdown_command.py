"""`adminCommand({shutdown: 1})` from pymongo: mongod answers it by
closing the connection (pymongo raises AutoReconnect), and so does Argon;
the process then exits cleanly and a restart on its data dir has every
acknowledged write. Refused shapes leave the server running."""

import pymongo
import pytest
from pymongo.errors import AutoReconnect, OperationFailure

from conftest import ArgonServer


def test_shutdown_command_stops_the_process_and_keeps_the_data():
    server = ArgonServer()
    try:
        client = server.client()
        client.app.c.insert_many([{"_id": i, "v": i} for i in range(100)])
        client.app.c.update_one({"_id": 7}, {"$set": {"v": "seven"}})

        with pytest.raises(OperationFailure) as refused:
            client.app.command("shutdown")  # only on admin
        assert refused.value.code == 13
        with pytest.raises(OperationFailure) as refused:
            client.admin.command("shutdown", force="now")
        assert refused.value.code == 14
        assert client.app.c.count_documents({}) == 100

        with pytest.raises(AutoReconnect):
            client.admin.command("shutdown")
        assert server.proc.wait(timeout=15) == 0
        client.close()

        server = ArgonServer(dir=server.dir)
        client = server.client()
        assert client.app.c.count_documents({}) == 100
        assert client.app.c.find_one({"_id": 7}) == {"_id": 7, "v": "seven"}
        client.close()
    finally:
        server.stop()
