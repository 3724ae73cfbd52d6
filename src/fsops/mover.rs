//! Moving and copying folder trees without losing a file.
//!
//! Invariants, for [`move_tree`] and [`copy_tree`] alike:
//! - A file reaches the destination under a temporary name, is flushed, gets its
//!   source's modification time and permission bits, is renamed into place, and is
//!   read back and compared (size and BLAKE3) with the bytes read from the source.
//! - A move deletes no source file before every file of the tree has been copied
//!   and verified (two phases), so an interrupted move leaves the source complete.
//!   In the delete phase each source file is checked once more against its copy
//!   (size and modification time) and copied again if it changed.
//! - Every operation is idempotent: a destination file identical to its source
//!   counts as copied, so a rerun after a crash — or an undo running the same move
//!   the other way — continues instead of starting over. A destination file with
//!   different content is never overwritten: that is a [`FsError::Conflict`].
//! - Links and special files are never followed or copied ([`FsError::Special`]).
//! - On one file system a move is a single rename of the folder.

use super::tree::{hash_file, kind_of, walk_error};
use super::{fsync_dir, FsError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use walkdir::WalkDir;

/// Environment switch that forbids the rename shortcut, so tests can exercise the
/// copy path on one file system. Documented in docs/testing.md.
pub const NO_RENAME_ENV: &str = "MDCLUSTER_NO_RENAME";

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// One rename of the whole folder (same file system).
    Rename,
    /// Copy, verify, then (for a move) delete the source.
    Copy,
}

/// Running totals for progress reports.
#[derive(Clone, Copy, Debug, Default)]
pub struct Progress {
    pub files_done: u64,
    pub bytes_done: u64,
    pub files_total: u64,
    pub bytes_total: u64,
}

/// What a move or copy did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Outcome {
    pub method: Method,
    pub files: u64,
    pub bytes: u64,
}

/// False when [`NO_RENAME_ENV`] is set.
pub fn rename_allowed() -> bool {
    std::env::var_os(NO_RENAME_ENV).is_none()
}

/// Move the folder `from` to `to` (which must not exist, be empty, or hold an
/// identical partial copy). Afterwards `to` holds everything and `from` is gone.
/// `allow_rename` permits the one-rename shortcut; `totals` are the expected
/// (files, bytes) for progress.
pub fn move_tree(
    from: &Path,
    to: &Path,
    allow_rename: bool,
    totals: (u64, u64),
    progress: &mut dyn FnMut(&Progress),
) -> Result<Outcome, FsError> {
    if !super::exists(from) {
        // Resumed after the rename (or the final delete) already happened.
        if super::exists(to) {
            let s = super::tree::scan(to)?;
            return Ok(Outcome {
                method: Method::Rename,
                files: s.files,
                bytes: s.bytes,
            });
        }
        return Err(FsError::io(
            "move",
            from,
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
    }
    if let Some(what) = std::fs::symlink_metadata(from)
        .ok()
        .as_ref()
        .and_then(kind_of)
    {
        return Err(FsError::Special {
            path: from.to_path_buf(),
            what,
        });
    }
    if allow_rename && super::tree::is_empty_dir(to)? {
        if super::exists(to) {
            std::fs::remove_dir(to).map_err(|e| FsError::io("remove the empty folder", to, e))?;
        }
        // On another file system (or when the OS refuses the rename) fall through to copying.
        if std::fs::rename(from, to).is_ok() {
            sync_parents(from, to)?;
            let s = super::tree::scan(to)?;
            progress(&Progress {
                files_done: s.files,
                bytes_done: s.bytes,
                files_total: s.files,
                bytes_total: s.bytes,
            });
            return Ok(Outcome {
                method: Method::Rename,
                files: s.files,
                bytes: s.bytes,
            });
        }
    }
    let mut p = Progress {
        files_total: totals.0,
        bytes_total: totals.1,
        ..Progress::default()
    };
    copy_phase(from, to, &mut p, progress)?;
    delete_phase(from, to)?;
    Ok(Outcome {
        method: Method::Copy,
        files: p.files_done,
        bytes: p.bytes_done,
    })
}

/// Copy the folder `from` to `to`, verified; the source stays as it is.
pub fn copy_tree(
    from: &Path,
    to: &Path,
    totals: (u64, u64),
    progress: &mut dyn FnMut(&Progress),
) -> Result<Outcome, FsError> {
    let mut p = Progress {
        files_total: totals.0,
        bytes_total: totals.1,
        ..Progress::default()
    };
    copy_phase(from, to, &mut p, progress)?;
    Ok(Outcome {
        method: Method::Copy,
        files: p.files_done,
        bytes: p.bytes_done,
    })
}

/// Undo of [`copy_tree`]: delete from `copy` every file that is still identical
/// to its twin in `source`, then the folders left empty (`copy` itself too unless
/// `keep_root`). Files that differ are kept and returned: they are not ours to delete.
pub fn remove_copy(source: &Path, copy: &Path, keep_root: bool) -> Result<Vec<PathBuf>, FsError> {
    let mut kept = Vec::new();
    if !super::exists(copy) {
        return Ok(kept);
    }
    for entry in WalkDir::new(copy)
        .follow_links(false)
        .contents_first(true)
        .sort_by_file_name()
    {
        let entry = entry.map_err(|e| walk_error(copy, e))?;
        let rel = entry.path().strip_prefix(copy).unwrap_or(entry.path());
        if entry.file_type().is_dir() {
            if entry.depth() == 0 && keep_root {
                continue;
            }
            match std::fs::remove_dir(entry.path()) {
                Ok(()) => {}
                // Kept files keep their folder.
                Err(_) if !super::tree::is_empty_dir(entry.path())? => {}
                Err(e) => return Err(FsError::io("remove folder", entry.path(), e)),
            }
        } else if super::tree::same_file_content(entry.path(), &source.join(rel))? {
            remove_file(entry.path())?;
        } else {
            kept.push(entry.path().to_path_buf());
        }
    }
    if let Some(parent) = copy.parent() {
        fsync_dir(parent)?;
    }
    Ok(kept)
}

/// Whether `from` and the nearest existing folder of `to` are on one file system
/// (a move will be a rename). None where the platform cannot tell.
pub fn same_filesystem(from: &Path, to: &Path) -> Option<bool> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let a = std::fs::symlink_metadata(from).ok()?.dev();
        let mut probe = to;
        loop {
            if let Ok(m) = std::fs::metadata(probe) {
                return Some(m.dev() == a);
            }
            probe = probe.parent()?;
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (from, to);
        None
    }
}

/// Every entry of the tree at `from` (itself included), sorted by name, with
/// the matching path under `to` and its metadata. Links and special files are
/// errors: never followed, never copied.
fn walk_pairs<'a>(
    from: &'a Path,
    to: &'a Path,
    contents_first: bool,
) -> impl Iterator<Item = Result<(PathBuf, PathBuf, std::fs::Metadata), FsError>> + 'a {
    WalkDir::new(from)
        .follow_links(false)
        .contents_first(contents_first)
        .sort_by_file_name()
        .into_iter()
        .map(move |entry| {
            let entry = entry.map_err(|e| walk_error(from, e))?;
            let meta = entry.metadata().map_err(|e| walk_error(entry.path(), e))?;
            if let Some(what) = kind_of(&meta) {
                return Err(FsError::Special {
                    path: entry.path().to_path_buf(),
                    what,
                });
            }
            let rel = entry.path().strip_prefix(from).unwrap_or(entry.path());
            // The root itself maps to `to` (joining "" would add a separator).
            let dst = if rel.as_os_str().is_empty() {
                to.to_path_buf()
            } else {
                to.join(rel)
            };
            Ok((entry.path().to_path_buf(), dst, meta))
        })
}

fn copy_phase(
    from: &Path,
    to: &Path,
    p: &mut Progress,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(), FsError> {
    // Folder times are set after their content is written (writing changes them).
    let mut folders: Vec<(PathBuf, std::fs::Metadata)> = Vec::new();
    for pair in walk_pairs(from, to, false) {
        let (src, dst, meta) = pair?;
        if meta.is_dir() {
            match std::fs::create_dir(&dst) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dst.is_dir() => {}
                Err(e) => return Err(FsError::io("create folder", &dst, e)),
            }
            copy_permissions(&meta, &dst)?;
            folders.push((dst, meta));
        } else {
            copy_file_verified(&src, &dst, &meta, false)?;
            p.files_done += 1;
            p.bytes_done += meta.len();
            progress(p);
        }
    }
    // Deepest first, so setting a child's time does not disturb its parent's.
    for (dir, meta) in folders.iter().rev() {
        fsync_dir(dir)?;
        set_times(dir, meta)?;
    }
    if let Some(parent) = to.parent() {
        fsync_dir(parent)?;
    }
    Ok(())
}

fn delete_phase(from: &Path, to: &Path) -> Result<(), FsError> {
    for pair in walk_pairs(from, to, true) {
        let (src, dst, meta) = pair?;
        if meta.is_dir() {
            std::fs::remove_dir(&src)
                .map_err(|e| FsError::io("remove the moved folder", &src, e))?;
        } else {
            if !unchanged_since_copy(&meta, &dst) {
                // The source changed after it was copied: copy it again first.
                copy_file_verified(&src, &dst, &meta, true)?;
            }
            remove_file(&src)?;
        }
    }
    if let Some(parent) = from.parent() {
        fsync_dir(parent)?;
    }
    Ok(())
}

fn unchanged_since_copy(src: &std::fs::Metadata, dst: &Path) -> bool {
    match std::fs::symlink_metadata(dst) {
        Ok(d) => {
            d.is_file()
                && d.len() == src.len()
                && filetime::FileTime::from_last_modification_time(&d)
                    == filetime::FileTime::from_last_modification_time(src)
        }
        Err(_) => false,
    }
}

/// Copy one file through a temporary name and verify it. With `replace` a
/// different destination file (our own earlier copy) is replaced; without it
/// that is a conflict.
fn copy_file_verified(
    src: &Path,
    dst: &Path,
    meta: &std::fs::Metadata,
    replace: bool,
) -> Result<(), FsError> {
    if let Ok(existing) = std::fs::symlink_metadata(dst) {
        let identical = existing.is_file()
            && existing.len() == meta.len()
            && hash_file(src)? == hash_file(dst)?;
        if identical {
            set_times(dst, meta)?;
            return Ok(());
        }
        if !replace || !existing.is_file() {
            return Err(FsError::Conflict {
                path: dst.to_path_buf(),
            });
        }
    }
    let dir = dst.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(part_name(dst));
    let source_hash = write_copy(src, &tmp)?;
    copy_permissions(meta, &tmp)?;
    set_times(&tmp, meta)?;
    std::fs::rename(&tmp, dst).map_err(|e| FsError::io("rename into place", dst, e))?;
    if hash_file(dst)? != source_hash {
        let _ = std::fs::remove_file(dst);
        return Err(FsError::Verify {
            path: src.to_path_buf(),
        });
    }
    Ok(())
}

/// Write `src` to `tmp`, flushed; returns the hash of the bytes read from `src`.
fn write_copy(src: &Path, tmp: &Path) -> Result<blake3::Hash, FsError> {
    let mut input = std::fs::File::open(src).map_err(|e| FsError::io("open", src, e))?;
    let mut output = std::fs::File::create(tmp).map_err(|e| FsError::io("create", tmp, e))?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 256 * 1024];
    let result = (|| {
        loop {
            let n = input
                .read(&mut buf)
                .map_err(|e| FsError::io("read", src, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            output
                .write_all(&buf[..n])
                .map_err(|e| FsError::io("write", tmp, e))?;
        }
        output.sync_all().map_err(|e| FsError::io("flush", tmp, e))
    })();
    if let Err(e) = result {
        drop(output);
        let _ = std::fs::remove_file(tmp);
        return Err(e);
    }
    Ok(hasher.finalize())
}

/// A stable temporary name per destination file, so a rerun reuses (and
/// overwrites) a leftover from an interrupted copy instead of piling them up.
fn part_name(dst: &Path) -> String {
    let name = dst
        .file_name()
        .map(|n| n.as_encoded_bytes().to_vec())
        .unwrap_or_default();
    let h = blake3::hash(&name);
    let hex: String = h.as_bytes()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(".mdcluster-{hex}.part")
}

fn set_times(path: &Path, meta: &std::fs::Metadata) -> Result<(), FsError> {
    let mtime = filetime::FileTime::from_last_modification_time(meta);
    let atime = filetime::FileTime::from_last_access_time(meta);
    filetime::set_file_times(path, atime, mtime)
        .map_err(|e| FsError::io("set the modification time of", path, e))
}

fn copy_permissions(meta: &std::fs::Metadata, path: &Path) -> Result<(), FsError> {
    #[cfg(unix)]
    {
        std::fs::set_permissions(path, meta.permissions())
            .map_err(|e| FsError::io("set permissions on", path, e))?;
    }
    // On Windows only the read-only flag exists; a read-only copy could not be
    // replaced on resume, so it is left writable there.
    #[cfg(not(unix))]
    let _ = (meta, path);
    Ok(())
}

fn remove_file(path: &Path) -> Result<(), FsError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        #[cfg(windows)]
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            // Windows refuses to delete read-only files; clear the flag and retry.
            let mut perm = std::fs::metadata(path)
                .map_err(|e| FsError::io("read", path, e))?
                .permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perm.set_readonly(false);
            std::fs::set_permissions(path, perm)
                .map_err(|e| FsError::io("make writable", path, e))?;
            std::fs::remove_file(path).map_err(|e| FsError::io("delete", path, e))
        }
        Err(e) => Err(FsError::io("delete", path, e)),
    }
}

fn sync_parents(a: &Path, b: &Path) -> Result<(), FsError> {
    for p in [a.parent(), b.parent()].into_iter().flatten() {
        fsync_dir(p)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn snapshot(root: &Path) -> BTreeMap<String, (Vec<u8>, i64)> {
        let mut m = BTreeMap::new();
        for e in WalkDir::new(root).min_depth(1).sort_by_file_name() {
            let e = e.unwrap();
            let rel = e.path().strip_prefix(root).unwrap().display().to_string();
            let meta = e.metadata().unwrap();
            if meta.is_file() {
                let t = filetime::FileTime::from_last_modification_time(&meta).unix_seconds();
                m.insert(rel, (std::fs::read(e.path()).unwrap(), t));
            } else {
                m.insert(rel + "/", (Vec::new(), 0));
            }
        }
        m
    }

    fn sample(root: &Path) {
        std::fs::create_dir_all(root.join("a.IMAP/b.IMAP")).unwrap();
        std::fs::create_dir_all(root.join("empty")).unwrap();
        for (i, name) in [
            "x.msg",
            "a.IMAP/y.msg",
            "a.IMAP/b.IMAP/z.msg",
            "Hiwater.mrk",
        ]
        .iter()
        .enumerate()
        {
            let p = root.join(name);
            std::fs::write(&p, vec![b'0' + i as u8; 1000 * (i + 1)]).unwrap();
            filetime::set_file_mtime(
                &p,
                filetime::FileTime::from_unix_time(1_500_000_000 + i as i64, 0),
            )
            .unwrap();
        }
    }

    #[test]
    fn copy_path_moves_everything_and_keeps_times() {
        let d = tempfile::tempdir().unwrap();
        let (src, dst) = (d.path().join("src"), d.path().join("dst"));
        sample(&src);
        let before = snapshot(&src);
        let mut p = Progress::default();
        copy_phase(&src, &dst, &mut p, &mut |_| {}).unwrap();
        delete_phase(&src, &dst).unwrap();
        assert!(!src.exists());
        assert_eq!(snapshot(&dst), before);
        assert_eq!(p.files_done, 4);
    }

    #[test]
    fn rename_path_and_resume_after_rename() {
        let d = tempfile::tempdir().unwrap();
        let (src, dst) = (d.path().join("src"), d.path().join("dst"));
        sample(&src);
        let before = snapshot(&src);
        std::fs::create_dir(&dst).unwrap(); // an empty target is fine
        let out = move_tree(&src, &dst, true, (4, 10_000), &mut |_| {}).unwrap();
        assert_eq!(out.method, Method::Rename);
        assert_eq!(snapshot(&dst), before);
        // A rerun after the rename finds the work done.
        let again = move_tree(&src, &dst, true, (4, 10_000), &mut |_| {}).unwrap();
        assert_eq!(again.files, 4);
    }

    #[test]
    fn interrupted_copy_resumes_and_conflicts_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let (src, dst) = (d.path().join("src"), d.path().join("dst"));
        sample(&src);
        let before = snapshot(&src);
        // An earlier run copied one file and left a half-written temp file.
        std::fs::create_dir_all(dst.join("a.IMAP")).unwrap();
        std::fs::copy(src.join("a.IMAP/y.msg"), dst.join("a.IMAP/y.msg")).unwrap();
        std::fs::write(dst.join(part_name(&dst.join("x.msg"))), b"half").unwrap();
        let mut p = Progress::default();
        copy_phase(&src, &dst, &mut p, &mut |_| {}).unwrap();
        delete_phase(&src, &dst).unwrap();
        assert_eq!(snapshot(&dst), before);

        // Different data at the destination is never overwritten.
        sample(&src);
        std::fs::write(dst.join("x.msg"), b"someone else's").unwrap();
        std::fs::remove_dir_all(dst.join("a.IMAP")).unwrap();
        let err = copy_phase(&src, &dst, &mut Progress::default(), &mut |_| {}).unwrap_err();
        assert!(matches!(err, FsError::Conflict { .. }), "{err}");
        assert!(src.join("x.msg").exists());
    }

    #[test]
    fn undo_of_a_partial_move_merges_back() {
        let d = tempfile::tempdir().unwrap();
        let (src, dst) = (d.path().join("src"), d.path().join("dst"));
        sample(&src);
        let before = snapshot(&src);
        copy_phase(&src, &dst, &mut Progress::default(), &mut |_| {}).unwrap();
        // Crash in the delete phase: one source file already gone.
        std::fs::remove_file(src.join("x.msg")).unwrap();
        move_tree(&dst, &src, false, (4, 10_000), &mut |_| {}).unwrap();
        assert!(!dst.exists());
        assert_eq!(snapshot(&src), before);
    }

    #[test]
    fn remove_copy_keeps_changed_files() {
        let d = tempfile::tempdir().unwrap();
        let (src, dst) = (d.path().join("src"), d.path().join("dst"));
        sample(&src);
        copy_tree(&src, &dst, (0, 0), &mut |_| {}).unwrap();
        std::fs::write(dst.join("a.IMAP/y.msg"), b"edited after the copy").unwrap();
        let kept = remove_copy(&src, &dst, false).unwrap();
        assert_eq!(kept, vec![dst.join("a.IMAP/y.msg")]);
        assert!(!dst.join("x.msg").exists());
        assert!(!dst.join("empty").exists());
        assert!(dst.join("a.IMAP/y.msg").exists());
    }

    #[cfg(unix)]
    #[test]
    fn links_are_refused_not_followed() {
        let d = tempfile::tempdir().unwrap();
        let (src, dst) = (d.path().join("src"), d.path().join("dst"));
        sample(&src);
        std::os::unix::fs::symlink("/etc", src.join("etc")).unwrap();
        let err = copy_tree(&src, &dst, (0, 0), &mut |_| {}).unwrap_err();
        assert!(matches!(err, FsError::Special { .. }));
        assert!(!dst.join("etc").exists());
    }
}
