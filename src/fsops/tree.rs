//! Scanning and comparing folder trees. Links are never followed: a symlink or
//! a special file (FIFO, socket, device) is reported, never read through.

use super::FsError;
use std::io::Read;
use std::path::{Path, PathBuf};
use walkdir::WalkDir;

/// What a folder holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct TreeSummary {
    pub files: u64,
    pub bytes: u64,
    pub folders: u64,
    /// Symlinks and special files found (relative paths); never followed or copied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unusual: Vec<String>,
}

/// The kind of a directory entry, from metadata that does not follow links.
pub(crate) fn kind_of(meta: &std::fs::Metadata) -> Option<&'static str> {
    let ft = meta.file_type();
    if ft.is_file() || ft.is_dir() {
        None
    } else if ft.is_symlink() {
        Some("a symbolic link")
    } else {
        Some("a special file (FIFO, socket or device)")
    }
}

/// Count files, bytes and folders below `root` (root itself not counted as a folder).
/// A missing root is an empty tree.
pub(crate) fn scan(root: &Path) -> Result<TreeSummary, FsError> {
    let mut s = TreeSummary::default();
    if !super::exists(root) {
        return Ok(s);
    }
    for entry in WalkDir::new(root).follow_links(false).min_depth(1) {
        let entry = entry.map_err(|e| walk_error(root, e))?;
        let meta = entry.metadata().map_err(|e| walk_error(entry.path(), e))?;
        if let Some(_what) = kind_of(&meta) {
            let rel = entry.path().strip_prefix(root).unwrap_or(entry.path());
            s.unusual.push(rel.display().to_string());
        } else if meta.is_dir() {
            s.folders += 1;
        } else {
            s.files += 1;
            s.bytes += meta.len();
        }
    }
    Ok(s)
}

/// True when `dir` is missing or holds nothing.
pub(crate) fn is_empty_dir(dir: &Path) -> Result<bool, FsError> {
    match std::fs::read_dir(dir) {
        Ok(mut it) => Ok(it.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(FsError::io("list", dir, e)),
    }
}

pub(crate) fn walk_error(path: &Path, e: walkdir::Error) -> FsError {
    let p = e
        .path()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| path.to_path_buf());
    match e.into_io_error() {
        Some(io) => FsError::io("read", &p, io),
        None => FsError::Special {
            path: p,
            what: "part of a link loop",
        },
    }
}

/// BLAKE3 hash of a file's content.
pub(crate) fn hash_file(path: &Path) -> Result<blake3::Hash, FsError> {
    let mut f = std::fs::File::open(path).map_err(|e| FsError::io("open", path, e))?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf).map_err(|e| FsError::io("read", path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize())
}

/// True when both are regular files with the same size and content. Two
/// names of one file are an error ([`FsError::Alias`]), never "identical":
/// every caller deletes one of the two when they are.
pub(crate) fn same_file_content(a: &Path, b: &Path) -> Result<bool, FsError> {
    let (Ok(ma), Ok(mb)) = (std::fs::symlink_metadata(a), std::fs::symlink_metadata(b)) else {
        return Ok(false);
    };
    if !ma.is_file() || !mb.is_file() || ma.len() != mb.len() {
        return Ok(false);
    }
    if super::identity::one_file(a, &ma, b, &mb) {
        return Err(FsError::Alias {
            path: a.to_path_buf(),
            other: b.to_path_buf(),
        });
    }
    Ok(hash_file(a)? == hash_file(b)?)
}

/// Where `target` holds something that is not an identical copy of the same
/// path in `source`: the first such relative path, or None when every file in
/// `target` has an identical twin in `source` (an earlier, interrupted copy of
/// ours, which a rerun can finish).
pub(crate) fn foreign_content(source: &Path, target: &Path) -> Result<Option<PathBuf>, FsError> {
    if !super::exists(target) {
        return Ok(None);
    }
    for entry in WalkDir::new(target)
        .follow_links(false)
        .min_depth(1)
        .sort_by_file_name()
    {
        let entry = entry.map_err(|e| walk_error(target, e))?;
        let rel = entry.path().strip_prefix(target).unwrap_or(entry.path());
        let twin = source.join(rel);
        let ft = entry.file_type();
        if ft.is_dir() {
            if !std::fs::symlink_metadata(&twin)
                .map(|m| m.is_dir())
                .unwrap_or(false)
            {
                return Ok(Some(rel.to_path_buf()));
            }
        } else if !ft.is_file() || !same_file_content(entry.path(), &twin)? {
            return Ok(Some(rel.to_path_buf()));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_counts_and_reports_links() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("a/b")).unwrap();
        std::fs::write(d.path().join("a/x"), b"12345").unwrap();
        std::fs::write(d.path().join("a/b/y"), b"1").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink("/etc", d.path().join("a/link")).unwrap();
        let s = scan(d.path()).unwrap();
        assert_eq!((s.files, s.bytes, s.folders), (2, 6, 2));
        #[cfg(unix)]
        assert_eq!(s.unusual, vec!["a/link".to_string()]);
        assert_eq!(
            scan(&d.path().join("missing")).unwrap(),
            TreeSummary::default()
        );
    }

    #[test]
    fn foreign_content_accepts_a_partial_identical_copy_only() {
        let d = tempfile::tempdir().unwrap();
        let (src, dst) = (d.path().join("s"), d.path().join("t"));
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("sub/a"), b"aa").unwrap();
        std::fs::write(src.join("b"), b"bb").unwrap();
        assert_eq!(foreign_content(&src, &dst).unwrap(), None);
        std::fs::create_dir_all(dst.join("sub")).unwrap();
        std::fs::write(dst.join("sub/a"), b"aa").unwrap();
        assert_eq!(foreign_content(&src, &dst).unwrap(), None);
        std::fs::write(dst.join("b"), b"XX").unwrap();
        assert_eq!(
            foreign_content(&src, &dst).unwrap(),
            Some(PathBuf::from("b"))
        );
        std::fs::remove_file(dst.join("b")).unwrap();
        std::fs::write(dst.join("extra"), b"").unwrap();
        assert_eq!(
            foreign_content(&src, &dst).unwrap(),
            Some(PathBuf::from("extra"))
        );
    }
}
