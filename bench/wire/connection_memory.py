"""Server memory per idle connection: opens N raw connections, each sends
`hello` and a `find` (OP_MSG) and then stays open; prints the growth of the
server's VmRSS per connection.

    python bench/wire/connection_memory.py PORT SERVER_PID N
(raise `ulimit -n` above N first)
"""
import socket, struct, bson, sys, time
port=int(sys.argv[1]); pid=int(sys.argv[2]); N=int(sys.argv[3])
def rss():
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS"): return int(l.split()[1])
def op_msg(doc, rid):
    body = b"\x00\x00\x00\x00" + b"\x00" + bson.encode(doc)
    return struct.pack("<iiii", 16 + len(body), rid, 0, 2013) + body
def recv_msg(s):
    h = b""
    while len(h) < 4: h += s.recv(4 - len(h))
    n = struct.unpack("<i", h)[0]; rest = b""
    while len(rest) < n - 4: rest += s.recv(n - 4 - len(rest))
    return rest
r0 = rss(); socks = []
for i in range(N):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(op_msg({"hello": 1, "$db": "admin"}, i)); recv_msg(s)
    s.sendall(op_msg({"find": "c", "filter": {}, "$db": "x"}, i)); recv_msg(s)
    socks.append(s)
time.sleep(0.5); r1 = rss()
print(f"{N} connections: RSS {r0} -> {r1} KiB, {(r1 - r0) / N:.1f} KiB each")
