//! Where MDaemon's paths are on this machine.
//!
//! Everything MDaemon stores (MDaemon.ini values, Userlist.dat, the plan) is a
//! Windows path as MDaemon sees it: `C:\MDaemon\LockFiles\` or
//! `\\fileserver\mdaemon\Users`. mdcluster reaches those paths either directly
//! (on the Windows server itself) or through the plan's `[[mounts]]`, which map
//! a Windows prefix to a local folder: running from another machine, or on a
//! sandbox under Linux, which is how every test runs.
//!
//! Windows resolves names case-insensitively; on a case-sensitive file system
//! the resolver does the same for each component that exists.

use crate::problem::Problem;
use crate::winpath::{self, WinPath};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A Windows path and where this machine reaches it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Loc {
    pub win: WinPath,
    pub local: PathBuf,
}

impl std::fmt::Display for Loc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.win)
    }
}

/// One `[[mounts]]` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    pub windows: WinPath,
    pub local: PathBuf,
}

#[derive(Clone, Debug, Default)]
pub struct Resolver {
    mounts: Vec<Mount>,
}

impl Resolver {
    pub fn new(mut mounts: Vec<Mount>) -> Resolver {
        // Longest prefix first, so a more specific mount wins.
        mounts.sort_by_key(|m| std::cmp::Reverse(m.windows.components().len()));
        Resolver { mounts }
    }

    pub fn mounts(&self) -> &[Mount] {
        &self.mounts
    }

    /// The local path for a Windows path.
    pub fn locate(&self, win: &WinPath) -> Result<Loc, Problem> {
        for m in &self.mounts {
            if let Some(rest) = win.strip_prefix(&m.windows) {
                return Ok(Loc {
                    win: win.clone(),
                    local: descend(&m.local, &rest),
                });
            }
        }
        native(win).map(|local| Loc {
            win: win.clone(),
            local,
        })
    }
}

#[cfg(windows)]
fn native(win: &WinPath) -> Result<PathBuf, Problem> {
    Ok(PathBuf::from(win.to_string()))
}

#[cfg(not(windows))]
fn native(win: &WinPath) -> Result<PathBuf, Problem> {
    Err(Problem::usage(format!(
        "{win} is a Windows path and this machine is not Windows, so mdcluster cannot reach it"
    ))
    .fix(format!(
        "add a [[mounts]] entry to the plan that maps it (or a folder above it) to a local folder, \
         for example:\n    [[mounts]]\n    windows = '{}'\n    local = '/mnt/mdaemon'",
        win.to_dir_string().trim_end_matches('\\')
    )))
}

/// Join `rest` below `base`, matching each existing component case-insensitively
/// as Windows would. Components that do not exist yet are used as written.
fn descend(base: &Path, rest: &[String]) -> PathBuf {
    let mut path = base.to_path_buf();
    let mut exists = path.exists();
    for comp in rest {
        let exact = path.join(comp);
        if exists && !crate::fsops::exists(&exact) {
            if let Some(found) = find_case_insensitive(&path, comp) {
                path = found;
                continue;
            }
            exists = false;
        }
        path = exact;
    }
    path
}

fn find_case_insensitive(dir: &Path, name: &str) -> Option<PathBuf> {
    let wanted = winpath::fold(name);
    let mut found = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let n = entry.file_name();
        if winpath::fold(&n.to_string_lossy()) == wanted {
            if found.is_some() {
                return None; // two names that differ only in case: take neither
            }
            found = Some(entry.path());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wp(s: &str) -> WinPath {
        WinPath::parse(s).unwrap()
    }

    /// `rel`, written with `/`, below `base` in this system's separators.
    fn below(base: &Path, rel: &str) -> PathBuf {
        rel.split('/').fold(base.to_path_buf(), |p, c| p.join(c))
    }

    /// Equal as this system compares names: Windows ignores case, and there
    /// a component that exists is used as written.
    fn assert_same_name(a: &Path, b: &Path) {
        if cfg!(windows) {
            let fold = |p: &Path| p.display().to_string().to_lowercase();
            assert_eq!(fold(a), fold(b));
        } else {
            assert_eq!(a, b);
        }
    }

    #[test]
    fn mounts_map_prefixes_case_insensitively() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("inst/App")).unwrap();
        let r = Resolver::new(vec![
            Mount {
                windows: wp(r"C:\MDaemon"),
                local: d.path().join("inst"),
            },
            Mount {
                windows: wp(r"\\fs\mdaemon"),
                local: d.path().join("share"),
            },
        ]);
        let loc = r.locate(&wp(r"c:\mdaemon\APP\MDaemon.ini")).unwrap();
        assert_same_name(&loc.local, &below(d.path(), "inst/App/MDaemon.ini"));
        let loc = r.locate(&wp(r"\\FS\MDaemon\Users\LockFiles")).unwrap();
        assert_same_name(&loc.local, &below(d.path(), "share/Users/LockFiles"));
    }

    #[cfg(not(windows))]
    #[test]
    fn an_unmapped_windows_path_says_how_to_map_it() {
        let err = Resolver::new(vec![])
            .locate(&wp(r"C:\MDaemon"))
            .unwrap_err();
        assert!(err.to_string().contains("[[mounts]]"), "{err}");
    }
}
