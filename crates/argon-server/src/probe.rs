//! Measurements of the disk a data dir lives on: free space and how long an
//! fdatasync takes there (the cost every commit pays with `--fsync always`).
//!
//! One implementation for both ways `argon health` reaches a data dir: the
//! server runs it on its own data dir for the `dataDirHealth` admin command
//! (`--uri`), and the CLI runs it on a stopped data dir (`--data-dir`).
//! Both block on the disk: call them off the async executor.

use std::ffi::CString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// fdatasyncs per [`fsync_latency`] probe; the worst one is reported.
pub const FSYNC_SAMPLES: u32 = 3;

/// Free and total bytes of a file system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskSpace {
    /// Bytes available to an unprivileged process.
    pub free: u64,
    pub total: u64,
}

/// Free space of the file system holding `dir` (`statvfs`).
pub fn disk_space(dir: &Path) -> std::io::Result<DiskSpace> {
    let path = CString::new(dir.as_os_str().as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    // SAFETY: statvfs writes into the struct we pass; the path is NUL-terminated.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(path.as_ptr(), &mut s) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let frsize = s.f_frsize as u64;
    Ok(DiskSpace { free: s.f_bavail as u64 * frsize, total: s.f_blocks as u64 * frsize })
}

/// The worst of [`FSYNC_SAMPLES`] fdatasyncs of a 4 KiB write to a probe
/// file in `dir` (created and removed again; its name is unique, so probes
/// may run at the same time).
pub fn fsync_latency(dir: &Path) -> std::io::Result<Duration> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let probe = dir.join(format!(
        ".argon-health-probe-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let measure = || -> std::io::Result<Duration> {
        let mut f = std::fs::File::create(&probe)?;
        let mut worst = Duration::ZERO;
        for _ in 0..FSYNC_SAMPLES {
            f.write_all(&[0u8; 4096])?;
            let t = Instant::now();
            f.sync_data()?;
            worst = worst.max(t.elapsed());
        }
        Ok(worst)
    };
    let result = measure();
    let _ = std::fs::remove_file(&probe);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_a_directory_and_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let space = disk_space(dir.path()).unwrap();
        assert!(space.total > 0 && space.free <= space.total, "{space:?}");
        fsync_latency(dir.path()).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "the probe file is removed");
        assert!(disk_space(&dir.path().join("missing")).is_err());
        assert!(fsync_latency(&dir.path().join("missing")).is_err());
    }
}
