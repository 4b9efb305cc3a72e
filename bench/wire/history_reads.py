"""Newest-first reads of a long WAL: `history` with a limit, with a range,
without a limit (stops before 16 MiB), and `local.oplog.rs` newest first,
median of 3 runs each, plus the server's RSS after them.

Load first, e.g. (fsync never only to load faster; reads do not depend on it):

    argon --data-dir D serve --port 27750 --fsync never &
    argon-loadgen --addr 127.0.0.1:27750 --workload insert --connections 16 --seconds 12 --db h

then restart the server on D (so that only what is on disk helps) and run

    python bench/wire/history_reads.py mongodb://127.0.0.1:27750/?directConnection=true h SERVER_PID
"""
import sys, time
import pymongo

uri, project, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = pymongo.MongoClient(uri)
last = c.admin.command("history", "main", project=project, limit=1)["entries"][0]["lsn"]


def t(name, f, n=3):
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = f()
        ts.append(time.perf_counter() - t0)
    ts.sort()
    print(f"{name}: median {ts[len(ts) // 2] * 1000:.1f} ms ({r})")


def history(**kw):
    r = c.admin.command("history", "main", project=project, **kw)
    return f"{len(r['entries'])} entries" + (", truncated" if r.get("truncated") else "")


t("history, newest 20", lambda: history(limit=20))
t("history, 20 below the middle of the log", lambda: history(toLsn=last // 2, limit=20))
t("history, the first 1,000 LSNs", lambda: history(fromLsn=1, toLsn=1000))
t("history, no limit", lambda: history(), n=1)
oplog = c.local["oplog.rs"]
t("oplog, newest entry", lambda: list(oplog.find({}, {"o": 0}).sort("$natural", -1).limit(1))[0]["lsn"])
t("oplog, newest 10,000", lambda: sum(1 for _ in oplog.find({}, {"o": 0}).sort("$natural", -1).limit(10000)))
rss = next(int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS"))
print(f"server RSS after: {rss // 1024} MiB")
