//! Crash-safety helpers for files and directories.
//!
//! A file's data being synced does not make its *name* durable: the
//! directory entry lives in the directory, which needs its own fsync.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::error::{io_at, WalError};

/// fsyncs a directory so that entries created, renamed or removed in it
/// survive a power loss.
pub fn fsync_dir(dir: &Path) -> Result<(), WalError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_at(dir))
}

/// Creates `dir` if missing; when it had to be created, fsyncs its parent so
/// the directory itself survives a power loss.
pub fn create_dir_durably(dir: &Path) -> Result<(), WalError> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir).map_err(io_at(dir))?;
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fsync_dir(parent)?;
    }
    Ok(())
}

/// Writes a new file atomically: `contents` go to `<path>.tmp`, the file is
/// extended to `prealloc` bytes, synced, then renamed over `path` and the
/// directory synced. A crash leaves either no file at `path` or the whole of
/// it, never a torn header. Returns the file opened read-write.
pub fn create_file_durably(path: &Path, contents: &[u8], prealloc: u64) -> Result<File, WalError> {
    let tmp = tmp_path(path);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(io_at(&tmp))?;
    file.write_all_at(contents, 0).map_err(io_at(&tmp))?;
    preallocate(&file, prealloc);
    file.sync_all().map_err(io_at(&tmp))?;
    fs::rename(&tmp, path).map_err(io_at(path))?;
    if let Some(dir) = path.parent() {
        fsync_dir(dir)?;
    }
    Ok(file)
}

/// The temporary name [`create_file_durably`] writes under.
pub fn tmp_path(path: &Path) -> std::path::PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".tmp");
    s.into()
}

/// Best-effort: allocates disk blocks up to `len` bytes (reading as zeros),
/// so that appends inside them change neither the file size nor the block
/// map much, and fdatasync has less metadata to write. Filesystems without
/// fallocate just grow the file as it is written.
pub fn preallocate(file: &File, len: u64) {
    let Ok(cur) = file.metadata().map(|m| m.len()) else { return };
    if len <= cur {
        return;
    }
    if let Err(e) = fallocate(file, cur, len - cur) {
        tracing::debug!("WAL preallocation to {len} bytes failed ({e}); the segment will grow as written");
    }
}

#[cfg(target_os = "linux")]
fn fallocate(file: &File, offset: u64, len: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (libc::off_t::try_from(offset), libc::off_t::try_from(len)) else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "preallocation size out of range"));
    };
    // SAFETY: a plain syscall on a file descriptor we own for the duration.
    let rc = unsafe { libc::fallocate(file.as_raw_fd(), 0, offset, len) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn fallocate(_file: &File, _offset: u64, _len: u64) -> io::Result<()> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "fallocate is Linux-only"))
}

/// `offset` and `len` as the kernel takes them (`None` past its range).
#[cfg(target_os = "linux")]
fn kernel_range(offset: u64, len: u64) -> Option<(libc::off64_t, libc::off64_t)> {
    Some((libc::off64_t::try_from(offset).ok()?, libc::off64_t::try_from(len).ok()?))
}

/// Best-effort: starts the disk write of `len` bytes at `offset` without
/// waiting for it (`sync_file_range(SYNC_FILE_RANGE_WRITE)`), so that a
/// later fdatasync finds them written or on their way and is left mostly
/// with the cache flush. Makes nothing durable by itself; an error here
/// (the pages stay dirty) is seen by that fdatasync.
#[cfg(target_os = "linux")]
pub fn start_writeback(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let Some((offset, len)) = kernel_range(offset, len) else { return };
    // SAFETY: a plain syscall on a file descriptor we own for the duration.
    let rc = unsafe { libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE) };
    if rc != 0 {
        tracing::debug!(
            "starting the WAL's write-out failed ({}); the fdatasync will do it",
            io::Error::last_os_error()
        );
    }
}

#[cfg(not(target_os = "linux"))]
pub fn start_writeback(_file: &File, _offset: u64, _len: u64) {}

/// Best-effort: asks the kernel to drop the cached pages of `len` bytes at
/// `offset` (`posix_fadvise(POSIX_FADV_DONTNEED)`). Dirty pages are not
/// lost: the kernel starts their write-out and keeps them; only clean
/// pages go.
#[cfg(target_os = "linux")]
pub fn drop_cached(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let Some((offset, len)) = kernel_range(offset, len) else { return };
    // SAFETY: a plain syscall on a file descriptor we own for the duration.
    let rc = unsafe { libc::posix_fadvise64(file.as_raw_fd(), offset, len, libc::POSIX_FADV_DONTNEED) };
    if rc != 0 {
        tracing::debug!(
            "dropping written WAL pages from the page cache failed (error {rc}); they stay cached"
        );
    }
}

#[cfg(not(target_os = "linux"))]
pub fn drop_cached(_file: &File, _offset: u64, _len: u64) {}
