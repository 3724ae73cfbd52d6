//! Atomic file replacement: temp file in the same folder, fsync, rename, fsync folder.
//!
//! A reader (or a crash) sees either the old bytes or the new bytes, never a
//! mixture. The replacement keeps the original's permissions.

use super::{fsync_dir, FsError};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Replace `path` with `bytes` atomically. When `mtime` is given the new file
/// gets that modification time (used when restoring a backup exactly).
pub fn write_atomic(
    path: &Path,
    bytes: &[u8],
    mtime: Option<filetime::FileTime>,
) -> Result<(), FsError> {
    let path = &write_target(path)?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    remove_dead_temporaries(dir);
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!("{}{}-", TEMP_PREFIX, stamp()))
        .suffix(TEMP_SUFFIX)
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
    super::crash_point(path);
    let mut tmp = tmp;
    let mut attempt = 0u64;
    loop {
        match tmp.persist(path) {
            Ok(_) => break,
            // Windows refuses to replace a file another process has open
            // without delete sharing, or whose delete is still pending (a
            // lock's holder file read or released a moment ago): transient.
            Err(e) if replace_refused_for_now(&e.error) && attempt < 40 => {
                tmp = e.file;
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(attempt.min(10) * 5));
            }
            Err(e) => return Err(FsError::io("replace", path, e.error)),
        }
    }
    fsync_dir(dir)
}

/// Whether a refused replacement may succeed in a moment (see [`write_atomic`]).
fn replace_refused_for_now(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::ResourceBusy
        || (cfg!(windows) && e.kind() == std::io::ErrorKind::PermissionDenied)
}

/// Temporary files are `.mdcluster-tmp-<host>-<pid>-<random>.tmp`: a
/// killed run's are told from a live one's, and removed (they may hold a
/// copy of MDaemon.ini, with its licence key).
const TEMP_PREFIX: &str = ".mdcluster-tmp-";
const TEMP_SUFFIX: &str = ".tmp";

fn stamp() -> String {
    format!("{}-{}", super::probe::host(), std::process::id())
}

/// Remove the temporary files in `dir` that runs of this host which are no
/// longer alive left behind (a kill between writing and renaming).
pub(crate) fn remove_dead_temporaries(dir: &Path) {
    remove_temporaries(dir, |pid| !crate::platform::process_alive(pid));
}

/// Remove every temporary file of ours in `dir` but this process's, and
/// those of earlier versions (`.mdcluster-<random>.tmp`). Only for folders
/// that no one writes to without holding the installation lock, which the
/// caller holds (App, the state folder): any other one is a leftover.
pub(crate) fn remove_temporaries_under_lock(dir: &Path) {
    remove_temporaries(dir, |pid| pid != std::process::id());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let legacy = name.len() == ".mdcluster-XXXXXX.tmp".len()
            && name.starts_with(".mdcluster-")
            && name.ends_with(TEMP_SUFFIX);
        if legacy {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

fn remove_temporaries(dir: &Path, dead: impl Fn(u32) -> bool) {
    let mine = format!("{TEMP_PREFIX}{}-", super::probe::host());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let pid = name
            .strip_prefix(&mine)
            .filter(|_| name.ends_with(TEMP_SUFFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok());
        if pid.is_some_and(&dead) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Where a write to `path` lands: the file a symbolic link at `path` leads
/// to (followed to the end), so that the link stays a link and the file it
/// names gets the new bytes; `path` itself otherwise.
pub(crate) fn write_target(path: &Path) -> Result<PathBuf, FsError> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            std::fs::canonicalize(path).map_err(|e| FsError::io("follow the link", path, e))
        }
        _ => Ok(path.to_path_buf()),
    }
}

/// Whether [`write_atomic`] can replace the existing file `path` exactly:
/// a regular file (a link is followed) with no second name (a hard link
/// would keep the old bytes), that this account may open for writing (not
/// read-only, not immutable), in a folder where it may create files. Reads
/// only; the folder gets a probe file that is removed again.
pub(crate) fn check_replaceable(path: &Path) -> Result<(), String> {
    let target = write_target(path).map_err(|e| e.to_string())?;
    let meta = std::fs::symlink_metadata(&target)
        .map_err(|e| format!("{}: {}", target.display(), crate::problem::describe_io(&e)))?;
    if !meta.is_file() {
        return Err(format!("{} is not a regular file", target.display()));
    }
    match super::identity::link_count(&target) {
        Some(names) if names > 1 => {
            return Err(format!(
                "{} has {names} names (hard links); replacing it would leave the others with the old content",
                target.display(),
            ))
        }
        None if cfg!(any(unix, windows)) => {
            return Err(format!(
                "{}: cannot tell whether it has other names (hard links)",
                target.display()
            ))
        }
        _ => {}
    }
    std::fs::OpenOptions::new()
        .write(true)
        .open(&target)
        .map_err(|e| {
            format!(
                "{} cannot be opened for writing (read-only or immutable?): {}",
                target.display(),
                crate::problem::describe_io(&e)
            )
        })?;
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    super::probe::write_probe(dir)
        .map_err(|e| format!("its folder does not let this account create files: {e}"))
}

/// Copy `from` to `to` durably (used for backups), keeping the modification time.
pub(crate) fn copy_durable(from: &Path, to: &Path) -> Result<(), FsError> {
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
    fn a_killed_runs_temporary_files_go_with_the_next_write_there() {
        let dir = tempfile::tempdir().unwrap();
        let dead = dir.path().join(format!(
            "{TEMP_PREFIX}{}-4294967290-abc{TEMP_SUFFIX}",
            super::super::probe::host()
        ));
        let other = dir.path().join(format!(
            "{TEMP_PREFIX}OTHERHOST9-4294967290-abc{TEMP_SUFFIX}"
        ));
        let legacy = dir.path().join(".mdcluster-a1B2c3.tmp");
        for f in [&dead, &other, &legacy] {
            std::fs::write(f, b"licence").unwrap();
        }
        write_atomic(&dir.path().join("MDaemon.ini"), b"x", None).unwrap();
        // A dead run of this host is told apart (crate::platform::process_alive).
        assert!(!dead.exists());
        assert!(other.exists() && legacy.exists());
        remove_temporaries_under_lock(dir.path());
        assert!(!legacy.exists() && !dead.exists() && other.exists());
    }

    #[cfg(unix)]
    #[test]
    fn a_link_stays_a_link_and_its_file_gets_the_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.ini");
        std::fs::write(&real, b"old").unwrap();
        let link = dir.path().join("MDaemon.ini");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        check_replaceable(&link).unwrap();
        write_atomic(&link, b"new", None).unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
    }

    #[cfg(unix)]
    #[test]
    fn a_file_with_two_names_is_not_replaceable() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("MDaemon.ini");
        std::fs::write(&a, b"x").unwrap();
        std::fs::hard_link(&a, dir.path().join("copy.ini")).unwrap();
        let err = check_replaceable(&a).unwrap_err();
        assert!(err.contains("2 names"), "{err}");
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
