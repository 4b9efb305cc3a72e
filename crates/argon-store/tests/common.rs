//! Helpers shared by the store's integration tests.
#![allow(dead_code)]

use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use argon_store::{At, Check, Lsn, Store, WriteOp, WriteRequest};
use bson::{doc, Bson, Document};

pub fn insert(store: &Store, project: &str, branch: &str, coll: &str, doc: Document) -> Lsn {
    let out = store
        .write(WriteRequest::new(project, branch).op(WriteOp::Insert { coll: coll.into(), doc }))
        .expect("insert");
    out.lsn.expect("wrote")
}

pub fn put(store: &Store, project: &str, branch: &str, coll: &str, doc: Document) -> Lsn {
    let id = doc.get("_id").cloned().unwrap();
    let out = store
        .write(WriteRequest::new(project, branch).op(WriteOp::Update {
            coll: coll.into(),
            id,
            doc,
            replace: true,
            check: Check::Blind,
        }))
        .expect("put");
    out.lsn.expect("wrote")
}

pub fn delete(store: &Store, project: &str, branch: &str, coll: &str, id: i32) -> Lsn {
    let out = store
        .write(WriteRequest::new(project, branch).op(WriteOp::Delete {
            coll: coll.into(),
            id: Bson::Int32(id),
            check: Check::Blind,
        }))
        .expect("delete");
    out.lsn.expect("wrote")
}

/// All documents of a collection at a point, as (_id, v) pairs.
pub fn read_all(store: &Store, project: &str, branch: &str, coll: &str, at: At) -> Vec<(i32, i32)> {
    let snap = store.snapshot(project, branch, at).expect("snapshot");
    snap.scan(coll)
        .expect("scan")
        .map(|d| {
            let d = d.expect("doc");
            (d.get_i32("_id").unwrap(), d.get_i32("v").unwrap_or(-1))
        })
        .collect()
}

pub fn doc_v(id: i32, v: i32) -> Document {
    doc! {"_id": id, "v": v}
}

// ---------------------------------------------------------------------------
// Poking at a data dir's files (fault tests).

/// Copies a data dir (files and subdirectories) to `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// The WAL segment files of a data dir (`wal/<20-digit first LSN>.wal`), in
/// LSN order.
pub fn wal_segments(data_dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(data_dir.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name.len() == 24 && name.ends_with(".wal") && name[..20].bytes().all(|b| b.is_ascii_digit())
        })
        .collect();
    v.sort();
    v
}

/// One record of a segment as laid out on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Offset of its first byte (the length field).
    pub offset: u64,
    /// Bytes it takes: the 4-byte length field plus the length.
    pub len: u64,
    pub lsn: u64,
}

/// Bytes of a segment header (magic, version, first LSN, CRC).
pub const SEGMENT_HEADER: u64 = 24;

/// The records of a segment, read straight from the documented layout
/// (`len u32 LE | crc u32 | lsn u64 LE | time i64 | flags u8 | payload`,
/// `len` counting everything after itself), up to the first zero length
/// or the end of the file. Checksums are not verified: this is the test's
/// own map of where records are, independent of the WAL code.
pub fn frames(segment: &Path) -> Vec<Frame> {
    let bytes = fs::read(segment).unwrap();
    let mut out = Vec::new();
    let mut at = SEGMENT_HEADER as usize;
    while at + 16 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        if len == 0 || at + 4 + len > bytes.len() {
            break;
        }
        let lsn = u64::from_le_bytes(bytes[at + 8..at + 16].try_into().unwrap());
        out.push(Frame { offset: at as u64, len: 4 + len as u64, lsn });
        at += 4 + len;
    }
    out
}

pub fn flip_byte(path: &Path, offset: u64) {
    let f = OpenOptions::new().read(true).write(true).open(path).unwrap();
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, offset).unwrap();
    b[0] ^= 0x5A;
    f.write_all_at(&b, offset).unwrap();
}

/// Cuts the file at `len` (a write that never finished growing it).
pub fn set_len(path: &Path, len: u64) {
    OpenOptions::new().write(true).open(path).unwrap().set_len(len).unwrap();
}

/// Zeroes everything from `offset` to the end of the file (a write into
/// preallocated space that never reached the disk).
pub fn zero_from(path: &Path, offset: u64) {
    let f = OpenOptions::new().write(true).open(path).unwrap();
    let len = f.metadata().unwrap().len();
    f.write_all_at(&vec![0u8; (len - offset) as usize], offset).unwrap();
}

/// A temporary directory for data dirs, on tmpfs (`/dev/shm`) when there is
/// one. The tests using it open stores hundreds of times, and every open
/// and commit fsyncs several files; they test the store's logic (crashes
/// are simulated by editing files), not the disk, so they need not wait
/// for it.
pub fn scratch_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(dir) = tempfile::Builder::new().prefix("argon-store-test").tempdir_in(shm) {
            return dir;
        }
    }
    tempfile::tempdir().unwrap()
}

// ---------------------------------------------------------------------------
// Real crashes: a child process (the test binary again, running one of its
// ignored tests) writes and prints `ACK <id>` after each acknowledged write;
// the parent kills it with SIGKILL.

/// The child side: `writers` threads each write `write(writer, i)` for i =
/// 0, 1, … and print `ACK <id>` once it returned, until `deadline` or
/// until the parent is gone.
pub fn write_and_ack(
    writers: i32,
    deadline: std::time::Instant,
    write: impl Fn(i32, i32) -> i32 + Send + Sync + 'static,
) {
    use std::io::Write;
    let write = std::sync::Arc::new(write);
    let threads: Vec<_> = (0..writers)
        .map(|w| {
            let write = std::sync::Arc::clone(&write);
            std::thread::spawn(move || {
                for i in 0.. {
                    if std::time::Instant::now() > deadline {
                        return;
                    }
                    let id = write(w, i);
                    let mut out = std::io::stdout().lock();
                    if writeln!(out, "ACK {id}").and_then(|()| out.flush()).is_err() {
                        return; // the parent is gone
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

/// The parent side: runs the ignored test `child` of this binary with
/// `env`, kills it with SIGKILL after `acks` acknowledgements, and returns
/// every id it acknowledged (those still in the pipe when it died too).
/// Fails if the child hangs past `watchdog` or ends some other way.
pub fn run_and_kill(
    child: &str,
    env: &[(&str, String)],
    acks: usize,
    watchdog: std::time::Duration,
) -> std::collections::BTreeSet<i32> {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", child, "--ignored", "--nocapture", "--test-threads=1", "--quiet"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut process =
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
    let pid = process.id() as libc::pid_t;
    // A child that hangs (a deadlocked commit thread) must not hang the test.
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let guard = std::thread::spawn(move || {
        let hung = finished.recv_timeout(watchdog) == Err(std::sync::mpsc::RecvTimeoutError::Timeout);
        if hung {
            // SAFETY: kill(2) on our own child; it is reaped only after this
            // thread is joined, so the pid cannot have been reused.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        hung
    });
    let mut out = BufReader::new(process.stdout.take().unwrap());
    let mut acked = std::collections::BTreeSet::new();
    let mut line = String::new();
    let mut killed = false;
    loop {
        line.clear();
        if out.read_line(&mut line).unwrap() == 0 {
            break;
        }
        // A line cut short by the kill is not an acknowledgement. (The test
        // harness's own output may share a line with the first one.)
        if let Some((_, id)) = line.strip_suffix('\n').and_then(|l| l.rsplit_once("ACK ")) {
            acked.insert(id.parse::<i32>().unwrap());
        }
        if !killed && acked.len() >= acks {
            // SAFETY: kill(2) on the pid of our own child, not yet reaped.
            let rc = unsafe { libc::kill(pid, libc::SIGKILL) };
            assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
            killed = true;
        }
    }
    let _ = done.send(());
    let hung = guard.join().unwrap();
    let status = process.wait().unwrap();
    assert!(!hung, "the child made only {} of {acks} acknowledgements in {watchdog:?}: hung?", acked.len());
    assert!(killed, "the child ended by itself ({status}) after {} acknowledgements", acked.len());
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGKILL), "the child died of SIGKILL");
    acked
}
