"""Server CPU per insert while K change streams watch the collection:
K threads each watch `csb.c` with pymongo while the main thread inserts
1,000 documents one by one; the server's CPU time is read from
/proc/PID/stat around the inserts.

    python bench/wire/change_stream_cost.py mongodb://127.0.0.1:PORT/?directConnection=true SERVER_PID K
"""
import pymongo, sys, threading, time, os
uri = sys.argv[1]; pid = int(sys.argv[2])
c = pymongo.MongoClient(uri)
def cpu():
    f = open(f"/proc/{pid}/stat").read().split(")")[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
stop = False; K = int(sys.argv[3]) if len(sys.argv) > 3 else 5; got = [0] * K
def watch(i):
    with pymongo.MongoClient(uri).csb.c.watch(max_await_time_ms=100) as s:
        while not stop:
            if s.try_next() is not None: got[i] += 1
ts = [threading.Thread(target=watch, args=(i,)) for i in range(K)]
[t.start() for t in ts]; time.sleep(1)
c0 = cpu(); t0 = time.perf_counter()
for i in range(1000): c.csb.c.insert_one({"i": i})
while K and min(got) < 1000 and time.perf_counter() - t0 < 60: time.sleep(0.01)
el = time.perf_counter() - t0; c1 = cpu(); stop = True; [t.join() for t in ts]
print(f"1000 inserts watched by {K} change streams: {el:.2f} s, server CPU {(c1 - c0) * 1000 / 1000:.2f} ms per insert, events {got}")
