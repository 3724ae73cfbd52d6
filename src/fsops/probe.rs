//! Proving a folder is usable: create, write, flush, rename, read back, delete.

use super::FsError;
use std::io::Write;
use std::path::Path;

/// Run the write probe in `dir`. Leaves nothing behind, also when it fails part-way.
pub fn write_probe(dir: &Path) -> Result<(), FsError> {
    let stamp = format!("{}-{}", std::process::id(), rand::random::<u32>());
    let first = dir.join(format!(".mdcluster-probe-{stamp}"));
    let second = dir.join(format!(".mdcluster-probe-{stamp}-renamed"));
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
        std::fs::rename(&first, &second).map_err(|e| FsError::io("rename a file in", dir, e))?;
        let back =
            std::fs::read(&second).map_err(|e| FsError::io("read back a file in", dir, e))?;
        if back != payload {
            return Err(FsError::Verify {
                path: second.clone(),
            });
        }
        std::fs::remove_file(&second).map_err(|e| FsError::io("delete a file in", dir, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&first);
        let _ = std::fs::remove_file(&second);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        write_probe(dir.path()).unwrap();
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
