//! Finding the cluster log: the profile's glob (`logs.cluster_log_glob`)
//! matched against file names below the Logs folder, a few levels deep; among
//! the matches the newest daily file wins (the date in its name, then its
//! modification time).

use crate::profile::Profile;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// How deep below the Logs folder the cluster log is looked for.
pub(crate) const MAX_DEPTH: usize = 4;

/// What was looked for and what was found.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Found {
    /// The Logs folder on this machine.
    pub dir: PathBuf,
    /// The glob matched against file names (case-insensitive).
    pub pattern: String,
    /// The daily file name expected, e.g. `MDaemon-{date}-Cluster.log`.
    pub daily: String,
    /// Whether the pattern is only a guess (profile source).
    pub unverified: bool,
    /// The file chosen, if any.
    pub file: Option<PathBuf>,
    /// How many files matched.
    pub candidates: usize,
}

impl Found {
    /// Where the log is looked for, written with this system's separator:
    /// `C:\MDaemon\Logs\**\*Cluster*.log` on Windows.
    pub(crate) fn search_pattern(&self) -> String {
        let sep = std::path::MAIN_SEPARATOR;
        format!("{}{sep}**{sep}{}", self.dir.display(), self.pattern)
    }

    /// One line for the screen: the pattern and the match.
    pub fn describe(&self) -> String {
        let pattern = format!(
            "{}{}",
            self.search_pattern(),
            if self.unverified {
                " (unverified guess)"
            } else {
                ""
            }
        );
        match &self.file {
            Some(f) if self.candidates > 1 => format!(
                "{} (newest of {} files matching {pattern})",
                f.display(),
                self.candidates
            ),
            Some(f) => format!("{} (matches {pattern})", f.display()),
            None => format!("no file matches {pattern}"),
        }
    }
}

/// The Logs folder of the installation at `root`.
pub(crate) fn logs_dir(root: &Path, profile: &Profile) -> PathBuf {
    let mut dir = root.to_path_buf();
    for part in profile
        .logs
        .dir
        .split(['\\', '/'])
        .filter(|p| !p.is_empty())
    {
        dir.push(part);
    }
    dir
}

/// Look for the cluster log below `logs`.
pub fn find(logs: &Path, profile: &Profile) -> Found {
    let pattern = profile.logs.cluster_log_glob.value.clone();
    let name = profile.cluster_log_name();
    let daily = profile.logs.daily_file.replace("{name}", &name.value);
    let mut best: Option<(Key, PathBuf)> = None;
    let mut candidates = 0;
    let walk = walkdir::WalkDir::new(logs)
        .min_depth(1)
        .max_depth(MAX_DEPTH)
        .follow_links(false)
        .sort_by_file_name();
    for entry in walk.into_iter().filter_map(Result::ok) {
        if !entry.file_type().is_file() {
            continue;
        }
        let file_name = entry.file_name().to_string_lossy();
        if !glob_match(&pattern, &file_name) {
            continue;
        }
        candidates += 1;
        let key = key_of(entry.path());
        if best.as_ref().is_none_or(|(k, _)| key > *k) {
            best = Some((key, entry.path().to_path_buf()));
        }
    }
    Found {
        dir: logs.to_path_buf(),
        pattern,
        daily,
        unverified: !profile.logs.cluster_log_glob.source.verified(),
        file: best.map(|(_, p)| p),
        candidates,
    }
}

/// How new a log file is: the date in its name, then its modification time.
type Key = (Option<String>, Option<SystemTime>);

fn key_of(path: &Path) -> Key {
    let date = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(date_in_name);
    let mtime = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    (date, mtime)
}

/// The first `YYYY-MM-DD` in a file name.
pub(crate) fn date_in_name(name: &str) -> Option<String> {
    let b = name.as_bytes();
    (0..b.len().saturating_sub(9)).find_map(|i| {
        let w = b.get(i..i + 10)?;
        let digits = |r: std::ops::Range<usize>| w[r].iter().all(u8::is_ascii_digit);
        (digits(0..4) && w[4] == b'-' && digits(5..7) && w[7] == b'-' && digits(8..10))
            .then(|| String::from_utf8_lossy(w).into_owned())
    })
}

/// `*` and `?` globbing, without case (Windows file names).
pub(crate) fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let n: Vec<char> = name.to_lowercase().chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(c) if *c == '?' || *c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi.min(p.len())..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_without_case() {
        assert!(glob_match(
            "*Cluster*.log",
            "MDaemon-2026-11-22-Cluster.log"
        ));
        assert!(glob_match(
            "*Cluster*.log",
            "mdaemon-2026-11-22-cluster.LOG"
        ));
        assert!(glob_match("*cluster*.log", "Cluster.log"));
        assert!(!glob_match(
            "*Cluster*.log",
            "MDaemon-2026-11-22-System.log"
        ));
        assert!(!glob_match("*Cluster*.log", "Cluster.log.bak"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "ac"));
    }

    #[test]
    fn dates_in_names() {
        assert_eq!(
            date_in_name("MDaemon-2026-11-22-Cluster.log").as_deref(),
            Some("2026-11-22")
        );
        assert_eq!(date_in_name("Cluster.log"), None);
        assert_eq!(date_in_name("2026-1-22"), None);
    }

    #[test]
    fn the_newest_daily_file_wins_and_the_pattern_is_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let profile = Profile::builtin();
        let logs = logs_dir(tmp.path(), &profile);
        std::fs::create_dir_all(logs.join("Plugins")).unwrap();
        let none = find(&logs, &profile);
        assert_eq!(none.file, None);
        assert!(none.describe().contains("*Cluster*.log (unverified guess)"));
        std::fs::write(logs.join("MDaemon-2026-11-22-System.log"), "x").unwrap();
        std::fs::write(logs.join("Plugins/MDaemon-2026-11-23-Cluster.log"), "x").unwrap();
        std::fs::write(logs.join("MDaemon-2026-11-21-Cluster.log"), "x").unwrap();
        let found = find(&logs, &profile);
        assert_eq!(found.candidates, 2);
        assert_eq!(
            found.file.unwrap(),
            logs.join("Plugins/MDaemon-2026-11-23-Cluster.log")
        );
        assert_eq!(found.daily, "MDaemon-{date}-Cluster.log");
    }
}
