//! What a path *is*, not what it is called.
//!
//! Two names can be one folder: a `[[mounts]]` entry, a symbolic link or
//! junction, a bind mount, or a Windows share that exports a folder of the
//! installation (`\\MAIL1\mdaemon` = `C:\MDaemon\Users`). Comparing names
//! proves nothing; this module asks the file system, in two ways:
//!
//! - [`FileId`]: the identity of what a path reaches (device and inode on
//!   Unix; volume serial number and file index on Windows). Links, junctions
//!   and bind mounts lead to the same id.
//! - Marks: an empty, uniquely named probe file created in a folder and looked
//!   for through another path. A network share or a FUSE mount that exports a
//!   local folder gives it ids of its own, but the mark shows through it.
//!
//! [`survey`] combines both over a set of places and says, for each pair,
//! whether one is the other, lies inside it, contains it, or neither. Marks
//! are created only where the caller allows (the share side) and removed
//! before it returns; a killed run's marks go with the next probe there
//! ([`super::probe`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The identity of a file or folder, whatever name reaches it.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct FileId(Inner);

#[cfg(unix)]
type Inner = (u64, u64);
#[cfg(not(unix))]
type Inner = same_file::Handle;

/// The identity of what `path` reaches (links followed); None when it cannot be reached.
pub(crate) fn file_id(path: &Path) -> Option<FileId> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path).ok()?;
        Some(FileId((m.dev(), m.ino())))
    }
    #[cfg(not(unix))]
    {
        same_file::Handle::from_path(path).ok().map(FileId)
    }
}

/// The file system `path` lies on (links followed): the device on Unix, the
/// volume serial number on Windows; None where it cannot be reached.
pub fn device(path: &Path) -> Option<u64> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).ok().map(|m| m.dev())
    }
    #[cfg(windows)]
    {
        windows_information(path).map(|i| i.volume_serial_number())
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = path;
        None
    }
}

/// How many names (hard links) the file `path` reaches has; None where the
/// platform cannot tell.
pub(crate) fn link_count(path: &Path) -> Option<u64> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).ok().map(|m| m.nlink())
    }
    #[cfg(windows)]
    {
        windows_information(path).map(|i| i.number_of_links())
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = path;
        None
    }
}

/// What Windows says of the file or folder `path` reaches (opened with backup
/// semantics, so folders answer too); None when it cannot be reached.
#[cfg(windows)]
fn windows_information(path: &Path) -> Option<winapi_util::file::Information> {
    let handle = winapi_util::Handle::from_path_any(path).ok()?;
    winapi_util::file::information(&handle).ok()
}

/// Whether two paths reach the same file or folder. False when either cannot be reached.
pub fn same_file(a: &Path, b: &Path) -> bool {
    matches!((file_id(a), file_id(b)), (Some(x), Some(y)) if x == y)
}

/// Whether two paths, whose metadata (links not followed) are given, are
/// one file. On Unix the metadata answer it; elsewhere both are opened.
pub(crate) fn one_file(a: &Path, ma: &std::fs::Metadata, b: &Path, mb: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let _ = (a, b);
        ma.dev() == mb.dev() && ma.ino() == mb.ino()
    }
    #[cfg(not(unix))]
    {
        let _ = (ma, mb);
        same_file(a, b)
    }
}

/// How one place lies relative to another on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OnDisk {
    /// The same folder (two names of one).
    Same,
    /// Inside the other (or will be, once created).
    Inside,
    /// Contains the other.
    Contains,
    /// Neither.
    Apart,
}

/// A place to compare: the folders that lead to it, innermost first.
#[derive(Clone, Debug)]
pub struct Place {
    /// `chain[0]` is the place itself (it may not exist yet); the rest are
    /// the folders it lies in, as the caller sees them (its Windows parents
    /// located on this machine, then that folder's own parents).
    pub chain: Vec<PathBuf>,
    /// How many leading folders of `chain` may receive a mark (the share
    /// side); 0 for places mdcluster must not write into.
    pub markable: usize,
}

impl Place {
    /// A place and its parents on this machine; no marks.
    pub fn local(path: &Path) -> Place {
        Place {
            chain: path.ancestors().map(Path::to_path_buf).collect(),
            markable: 0,
        }
    }
}

/// What [`survey`] found.
#[derive(Debug)]
pub struct Survey {
    relations: Vec<Vec<OnDisk>>,
    /// Folders where no mark could be created, with the reason: places
    /// reached through them were compared by file identity only.
    pub unmarked: Vec<(PathBuf, String)>,
}

impl Survey {
    /// How place `a` lies relative to place `b`.
    pub(crate) fn relation(&self, a: usize, b: usize) -> OnDisk {
        self.relations
            .get(a)
            .and_then(|r| r.get(b))
            .copied()
            .unwrap_or(OnDisk::Apart)
    }
}

/// Compare every pair of places on disk. Creates marks only in the
/// markable folders that exist, and removes them before it returns.
pub fn survey(places: &[Place]) -> Survey {
    // Every folder that exists along any chain, numbered; a place's base is
    // the first existing folder of its chain.
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut index: HashMap<PathBuf, usize> = HashMap::new();
    let mut chains: Vec<Vec<(usize, usize)>> = Vec::new(); // (position in chain, dir)
    for p in places {
        let mut chain = Vec::new();
        for (k, d) in p.chain.iter().enumerate() {
            if std::fs::metadata(d).is_err() {
                continue;
            }
            let n = *index.entry(d.clone()).or_insert_with(|| {
                dirs.push(d.clone());
                dirs.len() - 1
            });
            chain.push((k, n));
        }
        chains.push(chain);
    }

    let mut classes = UnionFind::new(dirs.len());
    let mut by_id: HashMap<FileId, usize> = HashMap::new();
    for (n, d) in dirs.iter().enumerate() {
        if let Some(id) = file_id(d) {
            match by_id.get(&id) {
                Some(&m) => classes.union(n, m),
                None => {
                    by_id.insert(id, n);
                }
            }
        }
    }

    // Marks in the markable folders; each is looked for in every folder.
    let mut marked: Vec<usize> = Vec::new();
    for (p, chain) in places.iter().zip(&chains) {
        for &(k, n) in chain {
            if k < p.markable && !marked.contains(&n) {
                marked.push(n);
            }
        }
    }
    let mut marks = Marks::default();
    let mut unmarked = Vec::new();
    for &n in &marked {
        match super::probe::mark(&dirs[n]) {
            Ok(file) => marks.files.push((n, file)),
            Err(e) => unmarked.push((dirs[n].clone(), e.to_string())),
        }
    }
    // A folder that claims to hold any name at all (the virtual top levels
    // of some network file systems answer every lookup) proves nothing.
    let decoy = format!(".mdcluster-absent-{}", rand::random::<u64>());
    let honest: Vec<bool> = dirs
        .iter()
        .map(|d| std::fs::symlink_metadata(d.join(&decoy)).is_err())
        .collect();
    for (n, file) in &marks.files {
        let Some(name) = file.file_name() else {
            continue;
        };
        for (m, d) in dirs.iter().enumerate() {
            let seen = || {
                std::fs::symlink_metadata(d.join(name))
                    .is_ok_and(|meta| meta.is_file() && meta.len() == 0)
            };
            if m != *n && honest[m] && seen() {
                classes.union(*n, m);
            }
        }
    }
    drop(marks);

    let relations = relations(&chains, &mut classes);
    Survey {
        relations,
        unmarked,
    }
}

/// How each place lies relative to each other one, from the folders along
/// their chains and which of those are one folder (`classes`).
fn relations(chains: &[Vec<(usize, usize)>], classes: &mut UnionFind) -> Vec<Vec<OnDisk>> {
    let n = chains.len();
    let mut relations = vec![vec![OnDisk::Apart; n]; n];
    for a in 0..n {
        for b in 0..n {
            if a == b {
                continue;
            }
            // b must exist for anything to be inside it.
            let Some(&(0, b_dir)) = chains[b].first() else {
                continue;
            };
            let hit = chains[a]
                .iter()
                .find(|&&(_, d)| classes.find(d) == classes.find(b_dir));
            let Some(&(k, _)) = hit else { continue };
            let rel = if k == 0 { OnDisk::Same } else { OnDisk::Inside };
            // The closer relation wins (Same over Inside over Contains).
            if relations[a][b] == OnDisk::Apart || relations[a][b] == OnDisk::Contains {
                relations[a][b] = rel;
            }
            if rel == OnDisk::Inside && relations[b][a] == OnDisk::Apart {
                relations[b][a] = OnDisk::Contains;
            }
        }
    }
    relations
}

/// Marks created by a survey; removed when dropped (also on a panic).
#[derive(Default)]
struct Marks {
    files: Vec<(usize, PathBuf)>,
}

impl Drop for Marks {
    fn drop(&mut self) {
        for (_, f) in &self.files {
            let _ = super::retry_busy(|| std::fs::remove_file(f));
        }
    }
}

struct UnionFind(Vec<usize>);

impl UnionFind {
    fn new(n: usize) -> UnionFind {
        UnionFind((0..n).collect())
    }
    fn find(&mut self, mut x: usize) -> usize {
        while self.0[x] != x {
            self.0[x] = self.0[self.0[x]];
            x = self.0[x];
        }
        x
    }
    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.0[ra] = rb;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(path: &Path, markable: usize) -> Place {
        Place {
            markable,
            ..Place::local(path)
        }
    }

    #[test]
    fn names_that_differ_are_apart_unless_the_disk_says_otherwise() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a"), d.path().join("b"));
        std::fs::create_dir_all(a.join("x")).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let s = survey(&[
            Place::local(&a),
            Place::local(&b),
            Place::local(&a.join("x")),
        ]);
        assert_eq!(s.relation(0, 1), OnDisk::Apart);
        assert_eq!(s.relation(2, 0), OnDisk::Inside);
        assert_eq!(s.relation(0, 2), OnDisk::Contains);
    }

    #[cfg(unix)]
    #[test]
    fn a_link_makes_two_names_one_folder() {
        let d = tempfile::tempdir().unwrap();
        let real = d.path().join("inst/Users");
        std::fs::create_dir_all(&real).unwrap();
        std::fs::create_dir_all(d.path().join("share")).unwrap();
        let link = d.path().join("share/Users");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let s = survey(&[
            Place::local(&real),
            Place::local(&link),
            Place::local(&link.join("LockFiles")),
        ]);
        assert_eq!(s.relation(1, 0), OnDisk::Same);
        assert_eq!(s.relation(0, 1), OnDisk::Same);
        // Not there yet, but it would be created inside the source.
        assert_eq!(s.relation(2, 0), OnDisk::Inside);
        assert_eq!(s.relation(0, 2), OnDisk::Contains);
    }

    #[test]
    fn a_mark_shows_through_a_route_with_its_own_ids() {
        // Stands for a share exporting a local folder: the mark made in the
        // share-side folder is seen from the local one. Ids alone would
        // find nothing here when the route gives its own.
        let d = tempfile::tempdir().unwrap();
        let local = d.path().join("inst/Users");
        std::fs::create_dir_all(&local).unwrap();
        let s = survey(&[
            Place::local(&local),
            Place {
                chain: vec![local.join("Users"), local.clone()],
                markable: 2,
            },
        ]);
        assert_eq!(s.relation(1, 0), OnDisk::Inside);
        assert!(s.unmarked.is_empty());
        // Marks are gone afterwards.
        assert_eq!(std::fs::read_dir(&local).unwrap().count(), 0);
    }

    #[test]
    fn a_folder_that_does_not_exist_is_inside_nothing_it_is_not_under() {
        let d = tempfile::tempdir().unwrap();
        let s = survey(&[
            marked(&d.path().join("share/Users"), 2),
            Place::local(&d.path().join("inst")),
        ]);
        assert_eq!(s.relation(0, 1), OnDisk::Apart);
        assert_eq!(s.relation(1, 0), OnDisk::Apart);
    }
}
