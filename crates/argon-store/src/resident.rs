//! Keeps the index's resident memory under a budget.
//!
//! LMDB reads (and, with `WRITE_MAP`, writes) through a shared memory map of
//! the index file. Every page touched stays mapped into the process until
//! the kernel reclaims it, so a full scan of a 3 GiB index shows as 3 GiB
//! of RSS (file-backed, reclaimable, but counted by `top` and by container
//! limits that look at RSS). This thread is the "cache size" of an
//! mmap-based index: when the process's file-backed resident pages pass
//! the budget, it unmaps chunks of the map with `MADV_DONTNEED`, sweeping
//! round the map like a clock hand, until they are under ¾ of the budget.
//!
//! Safe for a shared file mapping: the pages stay in the page cache (dirty
//! ones are still written back, and `msync`/`fsync` still cover them); the
//! next access to an unmapped page is a minor fault that maps it again.
//!
//! The same thread keeps the map populated for writing a little past LMDB's
//! last used page ([`AHEAD`], `MADV_POPULATE_WRITE`). The index grows into
//! fresh pages of its sparse file (~10,000 a second under 64 inserting
//! writers), and the first write to a fresh page cost the commit thread ~9
//! µs (a read of the hole into a zeroed page-cache page, then the write
//! fault with ext4's block reservation); populated for reading only it
//! still took the write fault (6-8% of the commit thread's samples), populated
//! for writing it takes none. The price: the pages ahead are dirty zeros,
//! so up to [`AHEAD`] of the file past LMDB's last page is allocated and
//! written by the kernel's writeback (and counted in `index_bytes`). LMDB
//! overwrites those pages when it grows into them; their zeros mean nothing.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the resident size is checked.
const CHECK_EVERY: Duration = Duration::from_millis(10);
/// Address range unmapped per step of the sweep.
const CHUNK: usize = 32 << 20;
/// How far past the last used page the map is kept populated (at ~40 MB/s
/// of index growth, 20 checks' worth).
const AHEAD: usize = 8 << 20;

/// The running trimmer; dropping it stops the thread.
pub(crate) struct Trimmer {
    stop: Arc<(Mutex<bool>, Condvar)>,
    handle: Option<JoinHandle<()>>,
}

/// Starts trimming `env`'s map (of the file `data_file`) to `budget` bytes
/// of file-backed RSS. `None` when there is nothing to do (no budget) or
/// no way to measure it or to find the map.
pub(crate) fn spawn(env: heed::Env<heed::WithoutTls>, data_file: &Path, budget: usize) -> Option<Trimmer> {
    if budget == 0 || budget == usize::MAX || file_backed_rss().is_none() {
        return None;
    }
    let Some(base) = map_base(data_file) else {
        tracing::warn!(
            "index memory map of {} not found; its resident size is not bounded",
            data_file.display()
        );
        return None;
    };
    let stop = Arc::new((Mutex::new(false), Condvar::new()));
    let flag = Arc::clone(&stop);
    let handle = std::thread::Builder::new()
        .name("argon-trim".into())
        .spawn(move || run(&env, base, budget, &flag))
        .ok()?;
    Some(Trimmer { stop, handle: Some(handle) })
}

fn run(env: &heed::Env<heed::WithoutTls>, base: usize, budget: usize, stop: &(Mutex<bool>, Condvar)) {
    let mut hand = 0usize;
    let mut populated = Some(0usize);
    loop {
        {
            let (lock, wake) = stop;
            let Ok(stopped) = lock.lock() else { return };
            let Ok((stopped, _)) = wake.wait_timeout_while(stopped, CHECK_EVERY, |s| !*s) else { return };
            if *stopped {
                return;
            }
        }
        if file_backed_rss().is_some_and(|rss| rss > budget) {
            hand = trim(env, base, budget * 3 / 4, hand);
        }
        if let Some(to) = populated {
            populated = populate_ahead(env, base, to);
        }
    }
}

/// Populates the map from `to` (where an earlier call stopped) or the end
/// of the used pages, whichever is further, to [`AHEAD`] past the used
/// pages, when less than half of that is left. Returns where it stopped,
/// `None` when populating fails (before Linux 5.14, or with the disk full,
/// where the write fault would be a SIGBUS and `madvise` says `EFAULT`):
/// then never again, and LMDB's first writes fault the pages in as before.
fn populate_ahead(env: &heed::Env<heed::WithoutTls>, base: usize, to: usize) -> Option<usize> {
    let info = env.info();
    let used = used_bytes(&info);
    let end = used.saturating_add(AHEAD).min(info.map_size);
    let from = to.max(used);
    if from >= end || end - from < AHEAD / 2 {
        return Some(to);
    }
    // SAFETY: [base + from, base + end) lies inside LMDB's shared file
    // mapping (below its map size), page-aligned (the base and LMDB's
    // pages are), past every page LMDB uses. Populating for writing faults
    // the pages in writable without changing a byte: holes read as zeros
    // and stay zeros, and LMDB writes a page fully before it links it in.
    let rc = unsafe { libc::madvise((base + from) as *mut libc::c_void, end - from, MADV_POPULATE_WRITE) };
    if rc != 0 {
        tracing::debug!(
            "populating the index map ahead failed ({}); its new pages fault in as written",
            std::io::Error::last_os_error()
        );
        return None;
    }
    Some(end)
}

/// `MADV_POPULATE_WRITE` (Linux 5.14), not in every libc crate version.
const MADV_POPULATE_WRITE: libc::c_int = 23;

/// Unmaps chunks from `hand` on until the file-backed RSS is under
/// `target` or the whole used map was swept once. Returns the new hand.
fn trim(env: &heed::Env<heed::WithoutTls>, base: usize, target: usize, mut hand: usize) -> usize {
    let used = used_bytes(&env.info());
    if used == 0 {
        return hand;
    }
    let mut swept = 0;
    while swept < used {
        if hand >= used {
            hand = 0;
        }
        let len = CHUNK.min(used - hand);
        // SAFETY: [base + hand, base + hand + len) lies inside LMDB's
        // shared file mapping (used pages only), page-aligned (map base and
        // CHUNK are). MADV_DONTNEED on a shared file mapping only drops this
        // process's page-table entries; the data stays in the page cache.
        unsafe {
            libc::madvise((base + hand) as *mut libc::c_void, len, libc::MADV_DONTNEED);
        }
        hand += len;
        swept += len;
        if file_backed_rss().is_none_or(|rss| rss <= target) {
            break;
        }
    }
    hand
}

/// Bytes of the map LMDB uses: up to its last page.
fn used_bytes(info: &heed::EnvInfo) -> usize {
    (info.last_page_number + 1).saturating_mul(page_size()).min(info.map_size)
}

impl Drop for Trimmer {
    fn drop(&mut self) {
        let (lock, wake) = &*self.stop;
        if let Ok(mut s) = lock.lock() {
            *s = true;
        }
        wake.notify_all();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as usize
    } else {
        4096
    }
}

/// The process's file-backed (and shared) resident bytes, from
/// `/proc/self/statm` (its third field, in pages).
pub(crate) fn file_backed_rss() -> Option<usize> {
    let s = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = s.split_whitespace().nth(2)?.parse().ok()?;
    Some(pages * page_size())
}

/// Start address of this process's mapping of `file` (LMDB maps the data
/// file once, at offset 0; heed does not expose the address), from
/// `/proc/self/maps`.
fn map_base(file: &Path) -> Option<usize> {
    let file = std::fs::canonicalize(file).ok()?;
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines().find_map(|line| {
        // "start-end perms offset dev inode   path"
        let mut fields = line.split_whitespace();
        let range = fields.next()?;
        let offset = fields.nth(1)?;
        let path = fields.nth(2)?;
        if Path::new(path) != file || usize::from_str_radix(offset, 16).ok()? != 0 {
            return None;
        }
        usize::from_str_radix(range.split('-').next()?, 16).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pages of the map in `[base + from, base + to)` that are in the page
    /// cache (`mincore`).
    fn resident_pages(base: usize, from: usize, to: usize) -> usize {
        let pages = (to - from) / page_size();
        let mut vec = vec![0u8; pages];
        // SAFETY: the range lies inside the live mapping; `vec` has a byte per page.
        let rc = unsafe { libc::mincore((base + from) as *mut libc::c_void, to - from, vec.as_mut_ptr()) };
        assert_eq!(rc, 0, "mincore: {}", std::io::Error::last_os_error());
        vec.iter().filter(|b| *b & 1 == 1).count()
    }

    /// Page faults this thread has taken (minor and major).
    fn thread_faults() -> u64 {
        // SAFETY: getrusage fills the zeroed struct it is given.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) }, 0);
        (usage.ru_minflt + usage.ru_majflt) as u64
    }

    #[test]
    fn the_map_is_populated_for_writing_past_the_used_pages() {
        let dir = tempfile::tempdir().unwrap();
        let env = unsafe {
            let mut opts = heed::EnvOpenOptions::new().read_txn_without_tls();
            opts.map_size(256 << 20).max_dbs(1);
            opts.flags(heed::EnvFlags::NO_SYNC | heed::EnvFlags::NO_READ_AHEAD | heed::EnvFlags::WRITE_MAP);
            opts.open(dir.path()).unwrap()
        };
        let mut w = env.write_txn().unwrap();
        let db: heed::Database<heed::types::Bytes, heed::types::Bytes> =
            env.create_database(&mut w, None).unwrap();
        for i in 0u32..2_000 {
            db.put(&mut w, &i.to_be_bytes(), &[7u8; 300]).unwrap();
        }
        w.commit().unwrap();
        let file = dir.path().join("data.mdb");
        let base = map_base(&file).expect("the map of data.mdb");
        let used = used_bytes(&env.info());
        let len = std::fs::metadata(&file).unwrap().len();
        assert_eq!(resident_pages(base, used, used + AHEAD), 0, "past the used pages the file is a hole");

        let Some(to) = populate_ahead(&env, base, 0) else {
            eprintln!("MADV_POPULATE_WRITE is not supported here (Linux 5.14+): nothing to observe");
            return;
        };
        assert_eq!(to, used + AHEAD);
        assert_eq!(resident_pages(base, used, to), AHEAD / page_size(), "every page ahead is populated");
        assert_eq!(std::fs::metadata(&file).unwrap().len(), len, "the file keeps its size");
        let mut ahead = vec![1u8; AHEAD];
        std::os::unix::fs::FileExt::read_exact_at(
            &std::fs::File::open(&file).unwrap(),
            &mut ahead,
            used as u64,
        )
        .unwrap();
        assert!(ahead.iter().all(|b| *b == 0), "the pages ahead still read as zeros");
        // Nothing more to do until the index grows into half of it.
        assert_eq!(populate_ahead(&env, base, to), Some(to));

        // Growing into the populated pages takes no page fault: each page
        // populated only for reading would take one on its first write.
        let faults = thread_faults();
        let mut w = env.write_txn().unwrap();
        for i in 2_000u32..4_000 {
            db.put(&mut w, &i.to_be_bytes(), &[8u8; 300]).unwrap();
        }
        w.commit().unwrap();
        let faults = thread_faults() - faults;
        let grown = (used_bytes(&env.info()) - used) / page_size();
        assert!(grown >= 100, "the index grew by {grown} pages only");
        assert!(faults < grown as u64 / 4, "{faults} page faults writing {grown} fresh pages");
        // The index reads as written.
        let r = env.read_txn().unwrap();
        assert_eq!(db.get(&r, &1u32.to_be_bytes()).unwrap(), Some(&[7u8; 300][..]));
        assert_eq!(db.get(&r, &3_999u32.to_be_bytes()).unwrap(), Some(&[8u8; 300][..]));
    }
}
