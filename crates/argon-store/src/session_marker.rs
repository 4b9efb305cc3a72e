//! Did the index survive the last shutdown? The index is written without
//! fsync (the WAL is the durable copy), which is safe across a process
//! crash — the kernel still has every page — but not across a machine
//! crash or power loss, which can leave LMDB pages half on disk.
//!
//! So the store records, in `index/SESSION`, the boot id of the machine
//! that has the index open, and replaces it with `clean` after the final
//! sync at shutdown. At open, an unclean previous session on a *different*
//! boot means the machine went down with the index open: the index is
//! rebuilt from the WAL rather than trusted.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

const FILE: &str = "SESSION";
const CLEAN: &str = "clean";

/// This boot's id (Linux); a constant elsewhere, so the check never fires.
pub fn boot_id() -> String {
    fs::read_to_string("/proc/sys/kernel/random/boot_id").map(|s| s.trim().to_string()).unwrap_or_default()
}

fn path(index_dir: &Path) -> PathBuf {
    index_dir.join(FILE)
}

fn write_durably(p: &Path, content: &str) -> std::io::Result<()> {
    let mut f = fs::File::create(p)?;
    f.write_all(content.as_bytes())?;
    f.sync_all()
}

/// True when the previous session ended without a clean shutdown on
/// another boot (so the index may be torn). Then marks this session open.
pub fn open(index_dir: &Path, current_boot: &str) -> std::io::Result<bool> {
    let p = path(index_dir);
    let previous = fs::read_to_string(&p).ok();
    let torn = match previous.as_deref().map(str::trim) {
        None | Some(CLEAN) => false,
        Some(boot) => boot != current_boot,
    };
    write_durably(&p, current_boot)?;
    Ok(torn)
}

/// Marks the index cleanly closed (after its final sync).
pub fn close(index_dir: &Path) -> std::io::Result<()> {
    write_durably(&path(index_dir), CLEAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_unclean_session_of_another_boot_is_torn() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!open(dir.path(), "boot-a").unwrap(), "first open");
        assert!(!open(dir.path(), "boot-a").unwrap(), "process crash, same boot");
        assert!(open(dir.path(), "boot-b").unwrap(), "machine went down with the index open");
        close(dir.path()).unwrap();
        assert!(!open(dir.path(), "boot-c").unwrap(), "clean shutdown before the reboot");
    }
}
