//! Atomic file replacement: temp file in the same folder, fsync, rename, fsync folder.
//!
//! A reader (or a crash) sees either the old bytes or the new bytes, never a
//! mixture. The replacement keeps the original's permissions.

use super::{fsync_dir, FsError};
use std::io::Write;
use std::path::Path;

/// Replace `path` with `bytes` atomically. When `mtime` is given the new file
/// gets that modification time (used when restoring a backup exactly).
pub fn write_atomic(
    path: &Path,
    bytes: &[u8],
    mtime: Option<filetime::FileTime>,
) -> Result<(), FsError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".mdcluster-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| FsError::io("create a temporary file in", dir, e))?;
    tmp.write_all(bytes)
        .map_err(|e| FsError::io("write", tmp.path(), e))?;
    if let Ok(meta) = std::fs::metadata(path) {
        std::fs::set_permissions(tmp.path(), meta.permissions())
            .map_err(|e| FsError::io("set permissions on", tmp.path(), e))?;
    }
    tmp.as_file()
        .sync_all()
        .map_err(|e| FsError::io("flush", tmp.path(), e))?;
    if let Some(t) = mtime {
        filetime::set_file_mtime(tmp.path(), t)
            .map_err(|e| FsError::io("set the modification time of", tmp.path(), e))?;
    }
    tmp.persist(path)
        .map_err(|e| FsError::io("replace", path, e.error))?;
    fsync_dir(dir)
}

/// Copy `from` to `to` durably (used for backups), keeping the modification time.
pub fn copy_durable(from: &Path, to: &Path) -> Result<(), FsError> {
    let bytes = std::fs::read(from).map_err(|e| FsError::io("read", from, e))?;
    let meta = std::fs::metadata(from).map_err(|e| FsError::io("read metadata of", from, e))?;
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir).map_err(|e| FsError::io("create folder", dir, e))?;
    }
    write_atomic(
        to,
        &bytes,
        Some(filetime::FileTime::from_last_modification_time(&meta)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_and_keeps_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("MDaemon.ini");
        std::fs::write(&p, b"old").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        }
        write_atomic(&p, b"new", None).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o640);
        }
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temp file left behind");
    }

    #[test]
    fn copy_durable_keeps_mtime() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, b"x").unwrap();
        let t = filetime::FileTime::from_unix_time(1_600_000_000, 0);
        filetime::set_file_mtime(&a, t).unwrap();
        let b = dir.path().join("sub/b");
        copy_durable(&a, &b).unwrap();
        let mb = std::fs::metadata(&b).unwrap();
        assert_eq!(filetime::FileTime::from_last_modification_time(&mb), t);
    }
}
