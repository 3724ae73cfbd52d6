//! Proving a folder is usable: create, write, flush, rename, read back, delete.

use super::FsError;
use std::io::Write;
use std::path::Path;

/// Probe files are named `.mdcluster-probe-<host>-<pid>-<random>…`.
const PREFIX: &str = ".mdcluster-probe-";

/// This host's name, letters and digits only (for names of files that say
/// which run made them).
pub(crate) fn host() -> String {
    crate::platform::hostname()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect()
}

/// A fresh probe name stem; first the probe files a killed run of this host
/// left in `dir` are removed (those of live processes, and of other hosts
/// probing the same share, are left alone).
fn stamp(dir: &Path) -> String {
    let mine = format!("{PREFIX}{}-", host());
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let pid = name
                .strip_prefix(&mine)
                .and_then(|rest| rest.split('-').next())
                .and_then(|pid| pid.parse::<u32>().ok());
            if pid.is_some_and(|pid| !crate::platform::process_alive(pid)) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    format!("{mine}{}-{}", std::process::id(), rand::random::<u32>())
}

/// Run the write probe in `dir`. Leaves nothing behind, also when it fails
/// part-way; a killed run's leftovers go with the next probe.
pub(crate) fn write_probe(dir: &Path) -> Result<(), FsError> {
    let stamp = stamp(dir);
    let first = dir.join(&stamp);
    let second = dir.join(format!("{stamp}-renamed"));
    let payload = b"mdcluster write probe\r\n";
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&first)
            .map_err(|e| FsError::io("create a file in", dir, e))?;
        f.write_all(payload)
            .and_then(|_| f.sync_all())
            .map_err(|e| FsError::io("write a file in", dir, e))?;
        drop(f);
        super::retry_busy(|| std::fs::rename(&first, &second))
            .map_err(|e| FsError::io("rename a file in", dir, e))?;
        let back =
            std::fs::read(&second).map_err(|e| FsError::io("read back a file in", dir, e))?;
        if back != payload {
            return Err(FsError::Verify {
                path: second.clone(),
            });
        }
        super::retry_busy(|| std::fs::remove_file(&second))
            .map_err(|e| FsError::io("delete a file in", dir, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&first);
        let _ = std::fs::remove_file(&second);
    }
    result
}

/// Create an empty, uniquely named mark file in `dir` (for
/// [`super::identity::survey`], which looks for it through other paths and
/// removes it). A killed run's marks go with the next probe or mark here.
pub fn mark(dir: &Path) -> Result<std::path::PathBuf, FsError> {
    let path = dir.join(format!("{}-id", stamp(dir)));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| FsError::io("create a probe file in", dir, e))?;
    Ok(path)
}

/// What a folder's file system keeps of the metadata mdcluster copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kept {
    /// Modification times, at least to the second.
    pub times: bool,
    /// Modification times below the second.
    pub subsecond_times: bool,
    /// Permission bits (always true where there are none to copy).
    pub permissions: bool,
}

/// Find out what `dir`'s file system keeps: a probe file is given a
/// modification time with nanoseconds and (Unix) mode 0600, and read back.
/// A refusal counts as "not kept" (an SMB share through FUSE may ignore or
/// refuse both). Leaves nothing behind.
pub(crate) fn metadata_probe(dir: &Path) -> Result<Kept, FsError> {
    let path = dir.join(format!("{}-meta", stamp(dir)));
    let wanted = std::time::UNIX_EPOCH + std::time::Duration::new(1_000_000_000, 123_456_700);
    let result = (|| {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| FsError::io("create a file in", dir, e))?;
        let _ = f.set_times(
            std::fs::FileTimes::new()
                .set_accessed(wanted)
                .set_modified(wanted),
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = f.set_permissions(std::fs::Permissions::from_mode(0o600));
        }
        drop(f);
        let meta = std::fs::metadata(&path).map_err(|e| FsError::io("read", &path, e))?;
        let got = meta
            .modified()
            .ok()
            .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok());
        let want = std::time::Duration::new(1_000_000_000, 123_456_700);
        #[cfg(unix)]
        let permissions =
            std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777 == 0o600;
        #[cfg(not(unix))]
        let permissions = true;
        Ok(Kept {
            times: got.is_some_and(|g| g.as_secs() == want.as_secs()),
            subsecond_times: got == Some(want),
            permissions,
        })
    })();
    let _ = super::retry_busy(|| std::fs::remove_file(&path));
    result
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_killed_runs_probe_files_go_with_the_next_probe_and_others_stay() {
        let d = tempfile::tempdir().unwrap();
        let dead = d
            .path()
            .join(format!("{PREFIX}{}-4294967290-7-renamed", host()));
        let other_host = d.path().join(format!("{PREFIX}OTHERHOST9-4294967290-7"));
        let live = d
            .path()
            .join(format!("{PREFIX}{}-{}-7", host(), std::process::id()));
        for f in [&dead, &other_host, &live] {
            std::fs::write(f, b"x").unwrap();
        }
        super::write_probe(d.path()).unwrap();
        assert!(!dead.exists(), "a dead process's probe file is removed");
        assert!(other_host.exists() && live.exists());
    }

    use super::*;

    #[test]
    fn probe_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        write_probe(dir.path()).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_local_file_system_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        let kept = metadata_probe(dir.path()).unwrap();
        assert_eq!(
            kept,
            Kept {
                times: true,
                subsecond_times: true,
                permissions: true
            }
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[cfg(unix)]
    #[test]
    fn probe_reports_a_read_only_folder() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
        let result = write_probe(dir.path());
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        // root ignores folder permissions; the probe then rightly succeeds
        if !is_root() {
            assert!(result.is_err());
        }
    }

    #[cfg(unix)]
    fn is_root() -> bool {
        std::fs::read_to_string("/proc/self/status")
            .map(|s| {
                s.lines()
                    .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
            })
            .unwrap_or(false)
    }
}
