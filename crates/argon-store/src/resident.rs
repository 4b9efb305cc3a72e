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

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the resident size is checked.
const CHECK_EVERY: Duration = Duration::from_millis(10);
/// Address range unmapped per step of the sweep.
const CHUNK: usize = 32 << 20;

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
    }
}

/// Unmaps chunks from `hand` on until the file-backed RSS is under
/// `target` or the whole used map was swept once. Returns the new hand.
fn trim(env: &heed::Env<heed::WithoutTls>, base: usize, target: usize, mut hand: usize) -> usize {
    let info = env.info();
    let used = (info.last_page_number + 1).saturating_mul(page_size()).min(info.map_size);
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
