#!/usr/bin/env python3
"""The disk's fdatasync rate with N at once: N threads, each writing 4 KiB
into zero-filled space then fdatasyncing, in a loop, into one shared file
(each its own region) or a file each, for 3 s.

    python3 scripts/disk-fsync-concurrency.py N shared|files [DIR]

(DIR defaults to /tmp.) Decides how many WAL fdatasyncs the store lets run at
once (docs/BENCHMARKS.md, storage core, session 14)."""
import os, threading, time, sys
N=int(sys.argv[1]); mode=sys.argv[2]; secs=3
base=sys.argv[3] if len(sys.argv)>3 else "/tmp"
os.makedirs(base, exist_ok=True)
size=256<<20
paths=[]
if mode=="shared":
    p=os.path.join(base,"fsync-shared.dat"); 
    with open(p,"wb") as f:
        f.write(b"\0"*size); f.flush(); os.fsync(f.fileno())
    fds=[os.open(p,os.O_RDWR)]*N
else:
    fds=[]
    for i in range(N):
        p=os.path.join(base,f"fsync-{i}.dat")
        with open(p,"wb") as f:
            f.write(b"\0"*(size//N)); f.flush(); os.fsync(f.fileno())
        fds.append(os.open(p,os.O_RDWR))
counts=[0]*N; lat=[[] for _ in range(N)]
stop=time.time()+secs
buf=b"x"*4096
def run(i):
    off = (i*(size//N)) if mode=="shared" else 0
    fd=fds[i]
    while time.time()<stop:
        os.pwrite(fd,buf,off); t=time.perf_counter(); os.fdatasync(fd); lat[i].append(time.perf_counter()-t)
        off+=4096; counts[i]+=1
ts=[threading.Thread(target=run,args=(i,)) for i in range(N)]
[t.start() for t in ts]; [t.join() for t in ts]
allv=sorted(sum(lat,[]))
print(f"{N} at once ({mode}): {sum(counts)/secs:.0f} fdatasyncs/s, p50 {allv[len(allv)//2]*1e6:.0f} us")
for p in set(f"/proc/self/fd/{fd}" for fd in fds):
    os.remove(os.readlink(p))
