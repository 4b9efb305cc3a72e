//! One process per data dir: an exclusive `flock` on `<data dir>/LOCK`,
//! which holds the owner's pid so a second opener can say who has it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::path::Path;

use crate::error::{Result, StoreError};

/// Held for as long as the store is open; the kernel releases the lock when
/// the process exits, even on SIGKILL.
pub struct DirLock {
    _file: File,
}

impl DirLock {
    pub fn acquire(dir: &Path) -> Result<DirLock> {
        let path = dir.join("LOCK");
        let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path)?;
        // SAFETY: flock on a file descriptor we own.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            let pid = pid.trim().to_string();
            return Err(StoreError::Locked {
                dir: dir.to_path_buf(),
                pid: if pid.is_empty() { "unknown".into() } else { pid },
            });
        }
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        writeln!(file, "{}", std::process::id())?;
        file.sync_data()?;
        Ok(DirLock { _file: file })
    }

    /// The pid written in a data dir's lock file, if any (for messages).
    pub fn holder(dir: &Path) -> Option<String> {
        std::fs::read_to_string(dir.join("LOCK")).ok().map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
    }
}
