//! Following the cluster log by polling.
//!
//! Each [`Follower::poll`] reads what was appended since the last one, in
//! chunks, and hands on every complete line at once (nothing accumulates but
//! one partial line). It notices, in this order:
//! - truncation (the file is shorter than what was read): start over at 0;
//! - replacement (the path names another file: dev+inode on Unix, volume
//!   serial and file index on Windows) or deletion: the old file is read to its end, its
//!   partial last line handed on, then the new file is read from 0;
//! - rollover (a newer daily file matches the pattern): the old file is read
//!   to its end, its partial last line handed on, then the new file is read
//!   from 0. Rollover is looked for at most every [`FIND_EVERY`].
//!
//! Errors never stop following: they are reported as a [`Happening`] and the
//! next poll tries again.

use super::find::{self, Found};
use super::MAX_LINE;
use crate::profile::Profile;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How often the Logs folder is searched again for a newer file.
pub(crate) const FIND_EVERY: Duration = Duration::from_millis(1000);

const CHUNK: usize = 64 * 1024;

/// One line of the log, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub text: String,
    /// Bytes cut off the end (the line was longer than [`MAX_LINE`]).
    pub cut: usize,
}

/// What happened to the file being followed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Happening {
    Opened(PathBuf),
    RolledOver { from: PathBuf, to: PathBuf },
    Truncated(PathBuf),
    Replaced(PathBuf),
    Gone(PathBuf),
    Error(String),
}

impl Happening {
    pub fn describe(&self) -> String {
        match self {
            Happening::Opened(p) => format!("reading {}", p.display()),
            Happening::RolledOver { from, to } => format!(
                "{} is finished; reading the new daily file {}",
                from.display(),
                to.display()
            ),
            Happening::Truncated(p) => {
                format!("{} was truncated; reading it from the start", p.display())
            }
            Happening::Replaced(p) => format!(
                "{} was replaced by a new file; reading that from the start",
                p.display()
            ),
            Happening::Gone(p) => format!("{} was removed", p.display()),
            Happening::Error(e) => e.clone(),
        }
    }
}

/// Which file a handle or a path is: dev+inode on Unix; on Windows the
/// volume serial number and file index, which a new file under an old name
/// never shares (creation times do: file-system tunnelling hands a deleted
/// file's creation time to its successor for 15 s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Identity(u64, u64);

#[cfg(unix)]
fn identity(file: &File) -> std::io::Result<Identity> {
    use std::os::unix::fs::MetadataExt;
    let meta = file.metadata()?;
    Ok(Identity(meta.dev(), meta.ino()))
}

#[cfg(windows)]
fn identity(file: &File) -> std::io::Result<Identity> {
    let info = winapi_util::file::information(file)?;
    Ok(Identity(info.volume_serial_number(), info.file_index()))
}

/// The identity of what `path` names now.
fn identity_at(path: &Path) -> std::io::Result<Identity> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path)?;
        Ok(Identity(meta.dev(), meta.ino()))
    }
    #[cfg(windows)]
    {
        let info = winapi_util::file::information(&open_shared(path)?)?;
        // A file deleted while open keeps its name until the last handle
        // closes, with no links left: it is gone.
        if info.number_of_links() == 0 {
            return Err(std::io::ErrorKind::NotFound.into());
        }
        Ok(Identity(info.volume_serial_number(), info.file_index()))
    }
}

/// Whether opening the file failed because it was deleted while open: on
/// Windows without POSIX delete semantics (before Windows 10 1709, SMB
/// shares, Wine) the name stays until the last handle closes, and opening it
/// is "access denied". Following on would keep it forever; letting go is
/// what lets the delete finish. If it was a passing refusal instead, the
/// file is found again and read from the start: its events replay in order,
/// so what they confirm per node (the latest of each kind) is unchanged.
fn delete_pending(e: &std::io::Error) -> bool {
    cfg!(windows) && e.kind() == std::io::ErrorKind::PermissionDenied
}

/// Open for reading without getting in the writer's way: on Windows with
/// read, write and delete sharing, so MDaemon can go on appending, rename
/// and delete the file.
fn open_shared(path: &Path) -> std::io::Result<File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt;
        // FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE
        opts.share_mode(0x1 | 0x2 | 0x4);
    }
    opts.open(path)
}

struct Current {
    path: PathBuf,
    file: File,
    pos: u64,
    id: Identity,
    date: Option<String>,
}

/// Follows the newest cluster log below an installation's Logs folder.
pub struct Follower {
    logs: PathBuf,
    profile: Profile,
    found: Found,
    current: Option<Current>,
    partial: Vec<u8>,
    partial_cut: usize,
    dropped_cr: bool,
    buf: Vec<u8>,
    last_find: Option<Instant>,
    gone_date: Option<String>,
    happenings: Vec<Happening>,
    /// Bytes read in all.
    pub bytes: u64,
    /// Lines handed on in all.
    pub lines: u64,
}

impl Follower {
    /// Follow the cluster log of the installation at `root`, from the
    /// beginning of the newest file.
    pub fn new(root: &Path, profile: &Profile) -> Follower {
        let logs = find::logs_dir(root, profile);
        Follower::in_dir(&logs, profile)
    }

    /// Follow the cluster log below the Logs folder `logs`.
    pub fn in_dir(logs: &Path, profile: &Profile) -> Follower {
        Follower {
            logs: logs.to_path_buf(),
            profile: profile.clone(),
            found: find::find(Path::new(""), profile),
            current: None,
            partial: Vec::new(),
            partial_cut: 0,
            dropped_cr: false,
            buf: vec![0; CHUNK],
            last_find: None,
            gone_date: None,
            happenings: Vec::new(),
            bytes: 0,
            lines: 0,
        }
    }

    /// What the last search found.
    pub fn found(&self) -> &Found {
        &self.found
    }

    /// The file being read.
    pub fn file(&self) -> Option<&Path> {
        self.current.as_ref().map(|c| c.path.as_path())
    }

    /// What happened since the last call.
    pub fn take_happenings(&mut self) -> Vec<Happening> {
        std::mem::take(&mut self.happenings)
    }

    /// Read what is new, handing on each complete line. Reads at most about
    /// `budget` bytes; returns true when it stopped because of the budget
    /// (call again at once).
    pub fn poll(&mut self, budget: usize, on_line: &mut dyn FnMut(Line)) -> bool {
        if self.current.is_none() {
            self.search();
            let Some(path) = self.found.file.clone() else {
                return false;
            };
            // After the file being read was removed, an older day's file
            // never takes over (its lines are history).
            if find::date_in_name(&file_name(&path)) < self.gone_date {
                return false;
            }
            if !self.open(&path, Happening::Opened(path.clone())) {
                return false;
            }
        }
        if self.check_truncated() {
            self.partial.clear();
            self.partial_cut = 0;
            self.dropped_cr = false;
        }
        if self.read_to_end(budget, on_line) {
            return true;
        }
        // At the end of the file: was it replaced or removed?
        let Some(cur) = self.current.as_ref() else {
            return false;
        };
        let path = cur.path.clone();
        match identity_at(&path) {
            Ok(id) if id != cur.id => {
                self.flush_partial(on_line);
                self.open(&path, Happening::Replaced(path.clone()));
                return true;
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound || delete_pending(&e) => {
                self.flush_partial(on_line);
                self.happenings.push(Happening::Gone(path.clone()));
                self.gone_date = self.current.as_ref().and_then(|c| c.date.clone());
                self.current = None;
                self.last_find = None;
                return true;
            }
            Err(_) => {}
        }
        // A newer daily file?
        if self.last_find.is_none_or(|t| t.elapsed() >= FIND_EVERY) {
            self.search();
            if let Some(next) = self.found.file.clone() {
                let cur_date = self.current.as_ref().and_then(|c| c.date.clone());
                if next != path && find::date_in_name(&file_name(&next)) > cur_date {
                    self.flush_partial(on_line);
                    self.open(
                        &next,
                        Happening::RolledOver {
                            from: path,
                            to: next.clone(),
                        },
                    );
                    return true;
                }
            }
        }
        false
    }

    fn search(&mut self) {
        self.found = find::find(&self.logs, &self.profile);
        self.last_find = Some(Instant::now());
    }

    fn open(&mut self, path: &Path, why: Happening) -> bool {
        let opened = open_shared(path).and_then(|f| {
            let id = identity(&f)?;
            Ok((f, id))
        });
        match opened {
            Ok((file, id)) => {
                self.current = Some(Current {
                    path: path.to_path_buf(),
                    file,
                    pos: 0,
                    id,
                    date: find::date_in_name(&file_name(path)),
                });
                self.partial.clear();
                self.partial_cut = 0;
                self.dropped_cr = false;
                self.happenings.push(why);
                true
            }
            Err(e) => {
                self.happenings.push(Happening::Error(format!(
                    "could not open {}: {}",
                    path.display(),
                    crate::problem::describe_io(&e)
                )));
                self.current = None;
                false
            }
        }
    }

    fn check_truncated(&mut self) -> bool {
        let Some(cur) = self.current.as_mut() else {
            return false;
        };
        let len = match cur.file.metadata() {
            Ok(m) => m.len(),
            Err(_) => return false,
        };
        if len >= cur.pos {
            return false;
        }
        cur.pos = 0;
        let _ = cur.file.seek(SeekFrom::Start(0));
        self.happenings.push(Happening::Truncated(cur.path.clone()));
        true
    }

    /// Read until the end of the file or the budget; true when the budget ran out.
    fn read_to_end(&mut self, budget: usize, on_line: &mut dyn FnMut(Line)) -> bool {
        let mut read = 0usize;
        loop {
            let Some(cur) = self.current.as_mut() else {
                return false;
            };
            if read >= budget {
                return true;
            }
            if let Err(e) = cur.file.seek(SeekFrom::Start(cur.pos)) {
                self.happenings.push(Happening::Error(format!(
                    "could not read {}: {}",
                    cur.path.display(),
                    crate::problem::describe_io(&e)
                )));
                return false;
            }
            let n = match cur.file.read(&mut self.buf) {
                Ok(0) => return false,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.happenings.push(Happening::Error(format!(
                        "could not read {}: {}",
                        cur.path.display(),
                        crate::problem::describe_io(&e)
                    )));
                    return false;
                }
            };
            cur.pos += n as u64;
            read += n;
            self.bytes += n as u64;
            let chunk = std::mem::take(&mut self.buf);
            self.feed(&chunk[..n], on_line);
            self.buf = chunk;
        }
    }

    /// Split bytes into lines; the last piece without a newline stays partial.
    fn feed(&mut self, mut bytes: &[u8], on_line: &mut dyn FnMut(Line)) {
        while !bytes.is_empty() {
            let (piece, rest, complete) = match bytes.iter().position(|b| *b == b'\n') {
                Some(i) => (&bytes[..i], &bytes[i + 1..], true),
                None => (bytes, &[][..], false),
            };
            let room = MAX_LINE.saturating_sub(self.partial.len());
            let keep = piece.len().min(room);
            self.partial.extend_from_slice(&piece[..keep]);
            if piece.len() > keep {
                self.partial_cut += piece.len() - keep;
                self.dropped_cr = piece.last() == Some(&b'\r');
            }
            if complete {
                self.flush_partial(on_line);
            }
            bytes = rest;
        }
    }

    /// Hand on the partial line (at a newline, or when its file is finished).
    fn flush_partial(&mut self, on_line: &mut dyn FnMut(Line)) {
        // A line end's CR dropped beyond MAX_LINE is not part of the line.
        let cut = self.partial_cut - usize::from(self.dropped_cr && self.partial_cut > 0);
        self.dropped_cr = false;
        let mut text = super::parse::decode(&self.partial, cut > 0);
        self.partial.clear();
        self.partial_cut = 0;
        if text.trim().is_empty() {
            return;
        }
        if cut > 0 {
            text.push_str(&format!(" … [line cut: {cut} more bytes]"));
        }
        self.lines += 1;
        on_line(Line { text, cut });
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn collect(f: &mut Follower) -> Vec<String> {
        let mut out = Vec::new();
        while f.poll(1 << 20, &mut |l| out.push(l.text)) {}
        out
    }

    fn setup() -> (tempfile::TempDir, PathBuf, Follower) {
        let tmp = tempfile::tempdir().unwrap();
        let logs = tmp.path().join("Logs");
        std::fs::create_dir_all(&logs).unwrap();
        let f = Follower::in_dir(&logs, &Profile::builtin());
        (tmp, logs, f)
    }

    fn append(path: &Path, bytes: &[u8]) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(bytes).unwrap();
    }

    #[test]
    fn appends_and_partial_lines() {
        let (_t, logs, mut f) = setup();
        assert!(collect(&mut f).is_empty());
        let log = logs.join("MDaemon-2026-11-22-Cluster.log");
        append(&log, b"one\r\ntw");
        assert_eq!(collect(&mut f), ["one"]);
        assert!(f
            .take_happenings()
            .contains(&Happening::Opened(log.clone())));
        append(&log, b"o\r\n\r\nthr");
        assert_eq!(collect(&mut f), ["two"]);
        append(&log, b"ee\n");
        assert_eq!(collect(&mut f), ["three"]);
        assert_eq!(f.lines, 3);
    }

    #[test]
    fn long_lines_are_cut_and_marked_and_memory_stays_bounded() {
        let (_t, logs, mut f) = setup();
        let log = logs.join("MDaemon-2026-11-22-Cluster.log");
        let mut long = vec![b'x'; MAX_LINE + 5000];
        long.extend_from_slice(b"\r\nnext\r\n");
        long.extend_from_slice(&[b'y'; MAX_LINE]);
        long.extend_from_slice(b"\r\n");
        append(&log, &long);
        let lines = collect(&mut f);
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[2],
            "y".repeat(MAX_LINE),
            "exactly MAX_LINE bytes is not cut"
        );
        assert!(lines[0].starts_with(&"x".repeat(MAX_LINE)));
        assert!(
            lines[0].ends_with("[line cut: 5000 more bytes]"),
            "{}",
            &lines[0][MAX_LINE..]
        );
        assert_eq!(lines[1], "next");
        assert!(f.partial.capacity() <= 2 * MAX_LINE + CHUNK);
    }

    #[test]
    fn truncation_starts_over() {
        let (_t, logs, mut f) = setup();
        let log = logs.join("MDaemon-2026-11-22-Cluster.log");
        append(&log, b"first line\r\nsecond line\r\n");
        assert_eq!(collect(&mut f).len(), 2);
        std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&log)
            .unwrap();
        append(&log, b"new\r\n");
        assert_eq!(collect(&mut f), ["new"]);
        assert!(f.take_happenings().contains(&Happening::Truncated(log)));
    }

    // Renaming over a file that is open is refused under Wine (and on
    // Windows without POSIX semantics); there a log is replaced by deleting
    // it (a_removed_file_is_not_followed_by_an_older_one).
    #[cfg(unix)]
    #[test]
    fn replacement_finishes_the_old_file_then_reads_the_new() {
        let (_t, logs, mut f) = setup();
        let log = logs.join("MDaemon-2026-11-22-Cluster.log");
        append(&log, b"old 1\r\n");
        assert_eq!(collect(&mut f), ["old 1"]);
        append(&log, b"old 2\r\nold partial");
        let tmp = logs.join("new.tmp");
        std::fs::write(&tmp, b"a much longer replacement line\r\n").unwrap();
        std::fs::rename(&tmp, &log).unwrap();
        assert_eq!(
            collect(&mut f),
            ["old 2", "old partial", "a much longer replacement line"]
        );
        assert!(f.take_happenings().contains(&Happening::Replaced(log)));
    }

    #[test]
    fn rollover_to_the_next_daily_file() {
        let (_t, logs, mut f) = setup();
        let day1 = logs.join("MDaemon-2026-11-22-Cluster.log");
        let day2 = logs.join("MDaemon-2026-11-23-Cluster.log");
        append(&day1, b"late\r\n");
        assert_eq!(collect(&mut f), ["late"]);
        append(&day1, b"last of day 1");
        append(&day2, b"first of day 2\r\n");
        f.last_find = None; // do not wait for FIND_EVERY
        assert_eq!(collect(&mut f), ["last of day 1", "first of day 2"]);
        assert!(f.take_happenings().contains(&Happening::RolledOver {
            from: day1.clone(),
            to: day2.clone()
        }));
        // Older files never take over again.
        append(&day1, b"written late\r\n");
        f.last_find = None;
        assert!(collect(&mut f).is_empty());
        assert_eq!(f.file(), Some(day2.as_path()));
    }

    #[test]
    #[cfg_attr(
        windows,
        ignore = "Wine 8 keeps a file deleted while open visible, openable and linked until it is closed"
    )]
    fn a_removed_file_is_not_followed_by_an_older_one() {
        let (_t, logs, mut f) = setup();
        let day1 = logs.join("MDaemon-2026-11-22-Cluster.log");
        let day2 = logs.join("MDaemon-2026-11-23-Cluster.log");
        append(&day1, b"old\r\n");
        append(&day2, b"new\r\n");
        assert_eq!(collect(&mut f), ["new"]);
        std::fs::remove_file(&day2).unwrap();
        assert!(collect(&mut f).is_empty());
        assert!(f.take_happenings().contains(&Happening::Gone(day2.clone())));
        append(&day2, b"again\r\n");
        assert_eq!(collect(&mut f), ["again"]);
    }

    #[test]
    fn windows_1252_and_utf8_lines() {
        let (_t, logs, mut f) = setup();
        let log = logs.join("MDaemon-2026-11-22-Cluster.log");
        append(&log, b"Gr\xfc\xdfe \x80\r\nGr\xc3\xbc\xc3\x9fe\r\n");
        assert_eq!(collect(&mut f), ["Grüße €", "Grüße"]);
    }
}
