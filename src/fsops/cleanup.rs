//! Deleting an old copy of data that lives on elsewhere, so that exactly what
//! was deleted can be brought back.
//!
//! Invariants:
//! - A file is deleted only when its twin in the kept copy is identical (size
//!   and BLAKE3); anything else is kept and reported.
//! - Before a batch of entries is deleted, their names are appended to a log
//!   file and flushed, so after a crash the log lists at least everything that
//!   is gone. Restoring reads the log and copies back, verified, each file that
//!   is missing, and recreates each folder with its permission bits: exactly
//!   what was deleted, not whatever else the kept copy holds by now.

use super::tree::{same_file_content, walk_error};
use super::{fsync_dir, mover, FsError};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use walkdir::WalkDir;

/// Entries logged and flushed before they are deleted together.
const BATCH: usize = 256;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Entry {
    /// A file, by its path relative to the deleted tree.
    File(String),
    /// A folder and its Unix permission bits (0 elsewhere).
    Folder(String, u32),
}

/// Delete from `old` every file identical to its twin in `kept`, and the
/// folders left empty; log each deletion in `log` first. Returns what was kept.
pub(crate) fn delete_identical(
    old: &Path,
    kept: &Path,
    log: &Path,
) -> Result<Vec<PathBuf>, FsError> {
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| FsError::io("open the deletion log", log, e))?;
    let mut kept_files = Vec::new();
    let mut batch: Vec<(PathBuf, Entry)> = Vec::new();
    if !super::exists(old) {
        return Ok(kept_files);
    }
    for entry in WalkDir::new(old)
        .follow_links(false)
        .contents_first(true)
        .sort_by_file_name()
    {
        let entry = entry.map_err(|e| walk_error(old, e))?;
        let rel = entry
            .path()
            .strip_prefix(old)
            .unwrap_or(entry.path())
            .to_string_lossy()
            .into_owned();
        let ft = entry.file_type();
        if ft.is_dir() {
            // Decided after the files of this folder are gone: flush first.
            flush(&mut out, log, &mut batch)?;
            if super::tree::is_empty_dir(entry.path())? {
                let mode = mode_of(entry.path());
                batch.push((entry.path().to_path_buf(), Entry::Folder(rel, mode)));
                flush(&mut out, log, &mut batch)?;
            }
        } else if ft.is_file() && same_file_content(entry.path(), &kept.join(&rel))? {
            batch.push((entry.path().to_path_buf(), Entry::File(rel)));
            if batch.len() >= BATCH {
                flush(&mut out, log, &mut batch)?;
            }
        } else {
            kept_files.push(entry.path().to_path_buf());
        }
    }
    flush(&mut out, log, &mut batch)?;
    if let Some(parent) = old.parent() {
        fsync_dir(parent)?;
    }
    Ok(kept_files)
}

/// Log a batch durably, then delete it.
fn flush(
    out: &mut std::fs::File,
    log: &Path,
    batch: &mut Vec<(PathBuf, Entry)>,
) -> Result<(), FsError> {
    if batch.is_empty() {
        return Ok(());
    }
    let mut text = String::new();
    for (_, e) in batch.iter() {
        text.push_str(&serde_json::to_string(e).unwrap_or_default());
        text.push('\n');
    }
    out.write_all(text.as_bytes())
        .and_then(|_| out.sync_data())
        .map_err(|e| FsError::io("write the deletion log", log, e))?;
    for (path, e) in batch.drain(..) {
        let result = match e {
            Entry::File(_) => std::fs::remove_file(&path),
            Entry::Folder(..) => std::fs::remove_dir(&path),
        };
        match result {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(FsError::io("delete", &path, err)),
        }
    }
    Ok(())
}

/// Bring back into `old` what [`delete_identical`] logged, from `kept`.
/// Returns how many files were copied back.
pub(crate) fn restore_deleted(old: &Path, kept: &Path, log: &Path) -> Result<u64, FsError> {
    let file = match std::fs::File::open(log) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(FsError::io("read the deletion log", log, e)),
    };
    let mut entries = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(|e| FsError::io("read the deletion log", log, e))?;
        // A torn last line never had its deletions carried out.
        if let Ok(e) = serde_json::from_str::<Entry>(&line) {
            entries.push(e);
        }
    }
    // Folders were logged deepest first: recreate them outermost first.
    for e in entries.iter().rev() {
        if let Entry::Folder(rel, mode) = e {
            let dir = old.join(rel);
            std::fs::create_dir_all(&dir)
                .map_err(|err| FsError::io("recreate folder", &dir, err))?;
            set_mode(&dir, *mode)?;
        }
    }
    let mut restored = 0;
    for e in &entries {
        if let Entry::File(rel) = e {
            let target = old.join(rel);
            if super::exists(&target) {
                continue;
            }
            mover::copy_tree(
                &kept.join(rel),
                &target,
                &mover::Options::default(),
                (1, 0),
                &mut |_| {},
            )?;
            restored += 1;
        }
    }
    Ok(restored)
}

fn mode_of(path: &Path) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path)
            .map(|m| m.permissions().mode())
            .unwrap_or(0o755)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        0
    }
}

fn set_mode(path: &Path, mode: u32) -> Result<(), FsError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| FsError::io("set permissions on", path, e))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restores_exactly_what_was_deleted() {
        let d = tempfile::tempdir().unwrap();
        let (old, kept, log) = (
            d.path().join("old"),
            d.path().join("kept"),
            d.path().join("log"),
        );
        std::fs::create_dir_all(old.join("a/b")).unwrap();
        std::fs::write(old.join("a/b/1.msg"), b"one").unwrap();
        std::fs::write(old.join("a/2.msg"), b"two").unwrap();
        std::fs::write(old.join("late.msg"), b"only here").unwrap();
        mover::copy_tree(&old, &kept, &mover::Options::default(), (0, 0), &mut |_| {}).unwrap();
        std::fs::remove_file(kept.join("late.msg")).unwrap();
        std::fs::create_dir_all(kept.join("other")).unwrap();
        std::fs::write(kept.join("other/new.msg"), b"arrived on the share later").unwrap();
        let kept_files = delete_identical(&old, &kept, &log).unwrap();
        assert_eq!(kept_files, vec![old.join("late.msg")]);
        assert!(!old.join("a").exists());
        assert_eq!(restore_deleted(&old, &kept, &log).unwrap(), 2);
        assert_eq!(std::fs::read(old.join("a/b/1.msg")).unwrap(), b"one");
        assert!(
            !old.join("other").exists(),
            "only what was deleted comes back"
        );
        assert_eq!(restore_deleted(&old, &kept, &log).unwrap(), 0, "idempotent");
    }
}
