//! The Unix domain socket listener (`--unix-socket PATH`), as mongod's
//! `net.unixDomainSocket`: drivers reach it as
//! `mongodb://%2Ftmp%2Fargon.sock`. Clients on this machine skip loopback
//! TCP; the socket file is the owner's only (mode 0700, mongod's default),
//! and its connections are never TLS (the file's permissions guard them).

use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tokio::net::UnixListener;

/// A bound socket whose file is removed when it is dropped.
pub struct UnixSocket {
    pub listener: UnixListener,
    path: PathBuf,
}

impl Drop for UnixSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Binds `path`. A socket file left by a server that is gone (nothing
/// accepts on it) is replaced; a live one, or a file that is not a socket,
/// is an error rather than something to delete.
pub fn bind(path: &Path) -> io::Result<UnixSocket> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(io::ErrorKind::AddrInUse, "another server is listening on it"));
            }
            std::fs::remove_file(path)?;
        }
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "a file that is not a socket is in the way",
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(path)?;
    let socket = UnixSocket { listener, path: path.to_path_buf() };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn replaces_a_stale_socket_and_refuses_a_live_one_or_a_plain_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        // A stale socket file: bound, then its listener gone (file kept).
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        let live = bind(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        // A second server on the same path is refused; the first keeps it.
        let err = bind(&path).err().expect("in use");
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        assert!(path.exists());
        drop(live);
        assert!(!path.exists(), "removed when the server stops");
        // A regular file is never deleted.
        std::fs::write(&path, b"data").unwrap();
        assert_eq!(bind(&path).err().expect("not a socket").kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).unwrap(), b"data");
    }
}
