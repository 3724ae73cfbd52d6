//! File-system operations that never lose data.
//!
//! - [`atomic`]: replace a file atomically (temp file in the same folder, fsync, rename).
//! - [`tree`]: scan and compare folder trees without following links.
//! - [`mover`]: move or copy a folder tree, verified file by file, resumable.
//! - [`probe`]: prove a folder can be written to, leaving nothing behind.
//! - [`cleanup`]: delete an old copy, logged, so exactly it can come back.
//! - [`identity`]: what a path is, not what it is called (links, mounts, shares).

pub mod atomic;
pub mod cleanup;
pub mod hash;
pub mod identity;
pub mod lock;
pub mod mover;
pub mod probe;
pub mod state_dir;
pub mod tree;

use std::path::{Path, PathBuf};

/// A failed file-system operation: the operation, the path, and the OS error.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error("could not {op} {path}: {reason}")]
    Io {
        op: &'static str,
        path: PathBuf,
        reason: String,
        kind: std::io::ErrorKind,
    },
    #[error("{path} already exists at the destination with different content")]
    Conflict { path: PathBuf },
    #[error("the copy of {path} does not match its source (size or hash differs)")]
    Verify { path: PathBuf },
    #[error("{path} is {what}; mdcluster does not follow or copy links and special files")]
    Special { path: PathBuf, what: &'static str },
    #[error("{path} and {other} are one and the same file (two names for it: a share, mount, link or junction); mdcluster deletes neither")]
    Alias { path: PathBuf, other: PathBuf },
}

impl FsError {
    pub fn io(op: &'static str, path: &Path, err: std::io::Error) -> FsError {
        FsError::Io {
            op,
            path: path.to_path_buf(),
            reason: crate::problem::describe_io(&err),
            kind: err.kind(),
        }
    }
    pub fn path(&self) -> &Path {
        match self {
            FsError::Io { path, .. }
            | FsError::Conflict { path }
            | FsError::Verify { path }
            | FsError::Special { path, .. }
            | FsError::Alias { path, .. } => path,
        }
    }
}

/// Flush a folder's entries (new names, renames) to disk. A no-op where the
/// platform cannot open folders as files.
pub(crate) fn fsync_dir(dir: &Path) -> Result<(), FsError> {
    #[cfg(unix)]
    {
        let f = std::fs::File::open(dir).map_err(|e| FsError::io("open folder", dir, e))?;
        f.sync_all()
            .map_err(|e| FsError::io("flush folder", dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Run `op` again while it fails with "busy" (EBUSY), for up to about two
/// seconds. An SMB server refuses to rename or delete a file that is still
/// open (a sharing violation, EBUSY through a FUSE client such as smbnetfs),
/// and a close reaches the server after the `close` call returned: a rename
/// or delete right after closing can meet its own handle.
pub(crate) fn retry_busy<T>(mut op: impl FnMut() -> std::io::Result<T>) -> std::io::Result<T> {
    let mut attempt = 0u64;
    loop {
        match op() {
            Err(e) if e.kind() == std::io::ErrorKind::ResourceBusy && attempt < 40 => {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(attempt.min(10) * 5));
            }
            other => return other,
        }
    }
}

/// Test hook [`crate::test_hooks::CRASH_AT`]: abort here when it names
/// `dst`'s file name (an atomic write's `.tmp`, a copied file's `.part` is
/// written, the rename is not): how tests kill a run at exactly the moment a
/// copy of a secret lies beside it.
pub(crate) fn crash_point(dst: &Path) {
    static NAME: std::sync::OnceLock<Option<std::ffi::OsString>> = std::sync::OnceLock::new();
    let hit = NAME
        .get_or_init(|| crate::test_hooks::value(crate::test_hooks::CRASH_AT))
        .as_deref()
        .is_some_and(|name| dst.file_name() == Some(name));
    if hit {
        std::process::abort();
    }
}

/// True when `path` exists, without following a final symlink.
pub fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}
