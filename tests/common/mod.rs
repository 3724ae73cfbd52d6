//! Helpers for tests that drive the real binary against sandboxes.
#![allow(dead_code)]

pub mod cluster;
pub mod netns;

use assert_cmd::Command;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How far apart the crash points of the crash-after-a-journal-record tests
/// are: 1 (every record), or `MDCLUSTER_TEST_CRASH_STRIDE`. scripts/test-windows.sh
/// sets 3, 5 or 7: each point costs several process starts, about a second each under
/// Wine, and the journal and its resume are the same code on every platform,
/// crashed at every record on Linux.
pub fn crash_stride() -> usize {
    std::env::var("MDCLUSTER_TEST_CRASH_STRIDE")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|s: &usize| *s > 0)
        // Odd, so that odd and even points still alternate (the tests pick
        // rerun or undo by the point's parity).
        .map_or(1, |s| s | 1)
}

/// Whether a run whose last crash point that still crashed was `last_crash`
/// has at least `records` records, as far as the stride lets one tell (the
/// tests' check that crash points were there at all).
pub fn crashed_through(last_crash: usize, records: usize) -> bool {
    last_crash + crash_stride() > records
}

/// The journal records to crash after: 1, 2, 3, … or 1, 1+k, 1+2k, … (see
/// [`crash_stride`]); odd and even points alternate either way.
pub fn crash_points() -> impl Iterator<Item = usize> {
    (1..).step_by(crash_stride())
}

/// Where the labs that should be fast go: /dev/shm (a tmpfs) on Linux, the
/// temp folder elsewhere.
pub fn fast_tmp_dir() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if cfg!(unix) && shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

pub fn mdcluster() -> Command {
    let mut c = Command::cargo_bin("mdcluster").unwrap();
    c.env_remove("MDCLUSTER_NO_RENAME")
        .env_remove("MDCLUSTER_CRASH_AFTER_RECORD")
        .env("NO_COLOR", "1");
    c
}

/// A sandbox installation, a share and a plan in a temp folder.
pub struct Lab {
    pub tmp: tempfile::TempDir,
    pub install: PathBuf,
    pub share: PathBuf,
    pub plan: PathBuf,
    /// Kept alive when the share lives elsewhere (another file system).
    _share_tmp: Option<tempfile::TempDir>,
}

impl Lab {
    pub fn new() -> Lab {
        Lab::with(mdcluster::sandbox::Options::default(), None)
    }

    /// A lab whose share is on another file system (/dev/shm, a tmpfs) when there is one.
    pub fn cross_fs() -> Lab {
        let shm = Path::new("/dev/shm");
        assert!(
            shm.is_dir(),
            "these tests need /dev/shm (a tmpfs) for a second file system"
        );
        let t = tempfile::Builder::new()
            .prefix("mdcluster-share-")
            .tempdir_in(shm)
            .unwrap();
        Lab::with(mdcluster::sandbox::Options::default(), Some(t))
    }

    pub fn with(opts: mdcluster::sandbox::Options, share_tmp: Option<tempfile::TempDir>) -> Lab {
        Lab::build(tempfile::tempdir().unwrap(), opts, share_tmp)
    }

    /// Installation and share both in [`fast_tmp_dir`] (on Linux a tmpfs):
    /// fast, and with MDCLUSTER_NO_RENAME still a real copy.
    pub fn in_shm(opts: mdcluster::sandbox::Options) -> Lab {
        let tmp = tempfile::Builder::new()
            .prefix("mdcluster-lab-")
            .tempdir_in(fast_tmp_dir())
            .unwrap();
        Lab::build(tmp, opts, None)
    }

    /// The installation in [`fast_tmp_dir`] and the share in `share_tmp` (a
    /// folder on another file system, e.g. a tmpfs the test mounted).
    pub fn in_shm_with_share(
        opts: mdcluster::sandbox::Options,
        share_tmp: tempfile::TempDir,
    ) -> Lab {
        let tmp = tempfile::Builder::new()
            .prefix("mdcluster-lab-")
            .tempdir_in(fast_tmp_dir())
            .unwrap();
        Lab::build(tmp, opts, Some(share_tmp))
    }

    fn build(
        tmp: tempfile::TempDir,
        opts: mdcluster::sandbox::Options,
        share_tmp: Option<tempfile::TempDir>,
    ) -> Lab {
        let install = tmp.path().join("MDaemon");
        let share = match &share_tmp {
            Some(t) => t.path().join("share"),
            None => tmp.path().join("share"),
        };
        let profile = mdcluster::profile::Profile::builtin();
        mdcluster::sandbox::create(&install, &profile, &opts).unwrap();
        std::fs::create_dir_all(&share).unwrap();
        let plan = tmp.path().join("plan.toml");
        std::fs::write(&plan, mdcluster::sandbox::plan_text(&install, &share)).unwrap();
        Lab {
            tmp,
            install,
            share,
            plan,
            _share_tmp: share_tmp,
        }
    }

    /// A fresh lab with a byte-for-byte copy (times and modes kept, as `cp -a`)
    /// of this one's installation and share, in new temp folders on the same
    /// file systems. Building a sandbox once and copying it per round is
    /// much faster than generating it each time.
    pub fn copy(&self) -> Lab {
        let beside = |t: &tempfile::TempDir| {
            tempfile::Builder::new()
                .prefix("mdcluster-copy-")
                .tempdir_in(t.path().parent().unwrap())
                .unwrap()
        };
        let tmp = beside(&self.tmp);
        let share_tmp = self._share_tmp.as_ref().map(beside);
        let install = tmp.path().join("MDaemon");
        let share = match &share_tmp {
            Some(t) => t.path().join("share"),
            None => tmp.path().join("share"),
        };
        for (from, to) in [(&self.install, &install), (&self.share, &share)] {
            copy_tree(from, to);
        }
        let plan = tmp.path().join("plan.toml");
        std::fs::write(&plan, mdcluster::sandbox::plan_text(&install, &share)).unwrap();
        Lab {
            tmp,
            install,
            share,
            plan,
            _share_tmp: share_tmp,
        }
    }

    pub fn ini(&self) -> PathBuf {
        self.install.join("App/MDaemon.ini")
    }

    pub fn ini_bytes(&self) -> Vec<u8> {
        std::fs::read(self.ini()).unwrap()
    }

    /// Replace text in the plan.
    pub fn edit_plan(&self, from: &str, to: &str) {
        let text = std::fs::read_to_string(&self.plan).unwrap();
        assert!(text.contains(from), "plan has no {from:?}");
        std::fs::write(&self.plan, text.replace(from, to)).unwrap();
    }

    /// Set the plan's `[shared] keep_local` (empty: the key taken out).
    pub fn keep_local(&self, trees: &[&str]) {
        let text = std::fs::read_to_string(&self.plan).unwrap();
        let rest: String = text
            .lines()
            .filter(|l| !l.starts_with("keep_local = "))
            .map(|l| format!("{l}\n"))
            .collect();
        let list: Vec<String> = trees.iter().map(|t| format!("\"{t}\"")).collect();
        let text = match list.is_empty() {
            true => rest,
            false => rest.replacen(
                "[shared]\n",
                &format!("[shared]\nkeep_local = [{}]\n", list.join(", ")),
                1,
            ),
        };
        std::fs::write(&self.plan, text).unwrap();
    }

    pub fn edit_ini(&self, from: &[u8], to: &[u8]) {
        let bytes = self.ini_bytes();
        let pos = bytes
            .windows(from.len())
            .position(|w| w == from)
            .expect("text in MDaemon.ini");
        let mut out = bytes[..pos].to_vec();
        out.extend_from_slice(to);
        out.extend_from_slice(&bytes[pos + from.len()..]);
        std::fs::write(self.ini(), out).unwrap();
    }

    /// Hash of the installation and the share: every path, kind, content,
    /// modification time and permission bits; mdcluster's own state folder
    /// is left out (it is the record of what happened).
    pub fn hash(&self) -> String {
        format!(
            "{}|{}",
            tree_hash(&self.install, true),
            tree_hash(&self.share, false)
        )
    }

    pub fn apply(&self) -> Command {
        let mut c = mdcluster();
        c.args(["apply", "--plan"]).arg(&self.plan);
        c
    }

    /// The cluster manifest as `mdcluster register` leaves it: every node of
    /// the plan, each secondary's registration in MDaemon confirmed.
    pub fn register_all(&self) {
        const STAMP: &str = "2026-01-01T00:00:00Z";
        let profile = mdcluster::profile::Profile::builtin();
        let plan = mdcluster::plan::Plan::load(&self.plan, &profile).unwrap();
        let current = mdcluster::cluster::manifest::Manifest::load(&self.share)
            .unwrap()
            .unwrap_or_default();
        let mut m = current.with_plan(&plan, STAMP).unwrap();
        for n in m.nodes.iter_mut() {
            n.registered.get_or_insert_with(|| STAMP.to_string());
        }
        m.save(&self.share).unwrap();
    }

    /// `undo --yes` of this lab's plan, which must succeed.
    pub fn undo(&self) {
        mdcluster()
            .args(["undo", "--yes", "--plan"])
            .arg(&self.plan)
            .assert()
            .success();
    }
}

/// The sandbox's trees of shared data below the installation that move to
/// folders of the same name on the share (the accounts outside the Users
/// tree, in MailExtra, go to Users).
pub const SHARED_TREES: [&str; 5] = ["Users", "Public Folders", "Gateways", "Digests", "Archive"];

/// Every file of the mail store before the move, keyed by where it must end
/// up on the share: (relative path on the share, description of the file).
pub fn expected_on_share(lab: &Lab) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let trees = SHARED_TREES.map(|t| (t, t));
    for (dir, target) in trees.into_iter().chain([("MailExtra", "Users")]) {
        for (k, v) in tree_map(&lab.install.join(dir), false) {
            if v.starts_with("file") {
                out.insert(format!("{target}/{k}"), v);
            }
        }
    }
    out
}

/// The mail files on the share (LockFiles and PEM left out).
pub fn files_on_share(lab: &Lab) -> BTreeMap<String, String> {
    tree_map(&lab.share, false)
        .into_iter()
        .filter(|(k, v)| {
            v.starts_with("file") && !k.starts_with("Users/LockFiles") && !k.starts_with("PEM")
        })
        .collect()
}

/// Whether the message `key` (a key of [`expected_on_share`]) is still at
/// its place in the installation.
pub fn at_source(lab: &Lab, key: &str) -> bool {
    SHARED_TREES.iter().any(|d| {
        key.strip_prefix(&format!("{d}/"))
            .is_some_and(|rel| lab.install.join(d).join(rel).exists())
    }) || key
        .strip_prefix("Users/")
        .is_some_and(|rel| lab.install.join("MailExtra").join(rel).exists())
}

/// Messages of `expected` that are neither at the source nor, identical, on
/// the share: lost.
pub fn lost_messages(lab: &Lab, expected: &BTreeMap<String, String>) -> Vec<String> {
    let now_share = files_on_share(lab);
    expected
        .iter()
        .filter(|(k, v)| !at_source(lab, k) && now_share.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .collect()
}

/// Deterministic description of a tree; folders' own times are left out (any
/// create or delete inside changes them).
pub fn tree_map(root: &Path, skip_state: bool) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if !root.exists() {
        return out;
    }
    for e in walkdir::WalkDir::new(root).min_depth(1).sort_by_file_name() {
        let e = e.unwrap();
        let rel = e
            .path()
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            // The same keys on every platform.
            .replace('\\', "/");
        if skip_state && (rel == "mdcluster" || rel.starts_with("mdcluster/")) {
            continue;
        }
        let meta = e.path().symlink_metadata().unwrap();
        #[cfg(unix)]
        let mode = std::os::unix::fs::PermissionsExt::mode(&meta.permissions());
        #[cfg(not(unix))]
        let mode = 0;
        let desc = if meta.is_dir() {
            format!("dir {mode:o}")
        } else if meta.is_file() {
            let mtime = filetime::FileTime::from_last_modification_time(&meta);
            let content = blake3::hash(&std::fs::read(e.path()).unwrap());
            format!(
                "file {mode:o} {} {}.{} {}",
                meta.len(),
                mtime.unix_seconds(),
                mtime.nanoseconds(),
                content.to_hex()
            )
        } else {
            format!("other {mode:o}")
        };
        out.insert(rel, desc);
    }
    out
}

pub fn tree_hash(root: &Path, skip_state: bool) -> String {
    let map = tree_map(root, skip_state);
    let mut h = blake3::Hasher::new();
    for (k, v) in &map {
        h.update(k.as_bytes());
        h.update(b"\0");
        h.update(v.as_bytes());
        h.update(b"\n");
    }
    h.finalize().to_hex().to_string()
}

/// Lines of JSON output, parsed.
pub fn json_lines(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// A tmpfs mounted (as root) on a temp folder, unmounted when dropped.
pub struct TmpfsMount {
    pub dir: tempfile::TempDir,
}

impl TmpfsMount {
    /// Mount a tmpfs with `options` (e.g. "size=2m"); None when that fails
    /// (not root).
    pub fn new(options: &str) -> Option<TmpfsMount> {
        let dir = tempfile::Builder::new()
            .prefix("mdcluster-tmpfs-")
            .tempdir()
            .unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(TmpfsMount { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for TmpfsMount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// A tree map with the modification time of the files mdcluster writes
/// (MDaemon.ini, Userlist.dat, semaphores) blanked: two separate runs write
/// them at different times.
pub fn outcome_map(root: &Path, skip_state: bool) -> BTreeMap<String, String> {
    let mut map = tree_map(root, skip_state);
    for (k, v) in map.iter_mut() {
        let written = k == "App/MDaemon.ini" || k == "App/Userlist.dat" || k.ends_with(".SEM");
        if !written {
            continue;
        }
        let mut parts: Vec<&str> = v.split(' ').collect();
        if parts.len() == 5 {
            parts[3] = "-";
        }
        *v = parts.join(" ");
    }
    map
}

/// A plan with `nodes` nodes named MAIL1.. (MAIL1 the primary) at the
/// addresses `address(i)` (1-based), and `extra` appended (e.g. a
/// `[load_balancer]` table).
pub fn lb_plan_text(nodes: usize, address: impl Fn(usize) -> String, extra: &str) -> String {
    let mut t = String::from(
        "version = 1\n[install]\nroot = 'C:\\MDaemon'\n[shared]\npath = '\\\\fs\\mdaemon'\n",
    );
    for i in 1..=nodes {
        let role = if i == 1 { "primary" } else { "secondary" };
        t.push_str(&format!(
            "\n[[nodes]]\nname = \"MAIL{i}\"\naddress = \"{}\"\nrole = \"{role}\"\nserver_id = {i}\n",
            address(i)
        ));
    }
    t.push_str(extra);
    t
}

/// Whether a test of a real balancer can run: the program is installed. When
/// it is not, the test fails if MDCLUSTER_REQUIRE_LB_TESTS is set (CI, where
/// scripts/test.sh installs them) and is skipped with a message otherwise.
pub fn lb_program(kind: mdcluster::lb::Kind) -> Option<PathBuf> {
    let found = mdcluster::lb::check::find_program(kind, &mdcluster::lb::check::search_path());
    if found.is_none() {
        let msg = format!(
            "{} is not installed (bash scripts/test.sh installs it)",
            kind.programs().join(" or ")
        );
        assert!(
            std::env::var_os("MDCLUSTER_REQUIRE_LB_TESTS").is_none(),
            "{msg}, and MDCLUSTER_REQUIRE_LB_TESTS is set"
        );
        eprintln!("skipped: {msg}");
    }
    found
}

/// Whether keepalived is installed here, as [`lb_program`] for a balancer.
pub fn keepalived_program() -> Option<PathBuf> {
    let found = mdcluster::lb::check::find_named(
        &[mdcluster::lb::check::KEEPALIVED],
        &mdcluster::lb::check::search_path(),
    );
    if found.is_none() {
        let msg = "keepalived is not installed (bash scripts/test.sh installs it)";
        assert!(
            std::env::var_os("MDCLUSTER_REQUIRE_LB_TESTS").is_none(),
            "{msg}, and MDCLUSTER_REQUIRE_LB_TESTS is set"
        );
        eprintln!("skipped: {msg}");
    }
    found
}

/// A PATH on which `haproxy` is a stand-in that refuses every
/// configuration (`examples/refusing_balancer.rs`, which `cargo test`
/// builds), put in `dir`; the rest of PATH follows.
pub fn path_with_refusing_haproxy(dir: &Path) -> std::ffi::OsString {
    path_with_refusing(dir, "haproxy")
}

/// A PATH on which `program` (a balancer, or keepalived) is the refusing
/// stand-in of [`path_with_refusing_haproxy`].
pub fn path_with_refusing(dir: &Path, program: &str) -> std::ffi::OsString {
    let exe = |name: &str| format!("{name}{}", std::env::consts::EXE_SUFFIX);
    // The test runs from target/<profile>/deps; examples are beside it.
    let built = std::env::current_exe()
        .unwrap()
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("examples")
        .join(exe("refusing_balancer"));
    assert!(
        built.is_file(),
        "{} is not built (cargo build --examples)",
        built.display()
    );
    std::fs::copy(&built, dir.join(exe(program))).unwrap();
    let rest = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(std::iter::once(dir.to_path_buf()).chain(std::env::split_paths(&rest)))
        .unwrap()
}

/// mdcluster's temporary files under `root` (its state folder included):
/// copies in progress (`.mdcluster-<hash>.part`), atomic writes
/// (`.mdcluster-tmp-….tmp`, and `.mdcluster-<random>.tmp` of earlier
/// versions) and probe files. After a finished rerun or undo there must be
/// none: they may hold a private key or MDaemon.ini's licence key.
pub fn leftovers(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if !root.exists() {
        return out;
    }
    for e in walkdir::WalkDir::new(root).min_depth(1) {
        let Ok(e) = e else { continue };
        let name = e.file_name().to_string_lossy();
        let ours = name.starts_with(".mdcluster-")
            && (name.ends_with(".part")
                || name.ends_with(".tmp")
                || name.starts_with(".mdcluster-probe-"));
        if ours {
            out.push(e.path().display().to_string());
        }
    }
    out
}

/// [`leftovers`] of a lab's installation and share.
pub fn lab_leftovers(lab: &Lab) -> Vec<String> {
    let mut out = leftovers(&lab.install);
    out.extend(leftovers(&lab.share));
    out
}

/// Run `mdcluster ARGS --plan PLAN` on a lab with `env` set.
pub fn run(lab: &Lab, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut c = mdcluster();
    c.args(args).arg("--plan").arg(&lab.plan);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// The MailDir field of Userlist.dat (profile columns 105..195).
pub const MAIL_DIR: std::ops::Range<usize> = 105..195;

/// Rewrite the MailDir field of Userlist.dat line `line` (0-based), padded.
pub fn set_mail_dir(lab: &Lab, line: usize, win: &str) {
    let path = lab.install.join("App/Userlist.dat");
    let mut lines: Vec<Vec<u8>> = std::fs::read(&path)
        .unwrap()
        .split_inclusive(|b| *b == b'\n')
        .map(<[u8]>::to_vec)
        .collect();
    assert!(win.len() <= MAIL_DIR.len(), "{win} fits the field");
    let mut field = win.as_bytes().to_vec();
    field.resize(MAIL_DIR.len(), b' ');
    lines[line][MAIL_DIR].copy_from_slice(&field);
    std::fs::write(&path, lines.concat()).unwrap();
}

/// The MailDir of Userlist.dat line `line` (0-based), padding trimmed.
pub fn mail_dir(lab: &Lab, line: usize) -> String {
    let bytes = std::fs::read(lab.install.join("App/Userlist.dat")).unwrap();
    let l = bytes.split(|&b| b == b'\n').nth(line).unwrap().to_vec();
    String::from_utf8_lossy(&l[MAIL_DIR]).trim_end().to_string()
}

/// What makes a file itself, whatever its name: the inode on Unix, the
/// volume serial number and file index on Windows.
pub fn file_number(path: &Path) -> (u64, u64) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path).unwrap();
        (m.dev(), m.ino())
    }
    #[cfg(windows)]
    {
        let f = std::fs::File::open(path).unwrap();
        let info = winapi_util::file::information(&f).unwrap();
        (info.volume_serial_number(), info.file_index())
    }
}

/// A copy of the tree `from` at `to` with what `cp -a` keeps: contents,
/// modification times and permissions; links are copied as links.
pub fn copy_tree(from: &Path, to: &Path) {
    let mut dirs = Vec::new();
    for e in walkdir::WalkDir::new(from).sort_by_file_name() {
        let e = e.unwrap();
        let dst = to.join(e.path().strip_prefix(from).unwrap());
        let meta = e.path().symlink_metadata().unwrap();
        if meta.file_type().is_symlink() {
            #[cfg(unix)]
            std::os::unix::fs::symlink(std::fs::read_link(e.path()).unwrap(), &dst).unwrap();
            #[cfg(not(unix))]
            panic!("copy_tree: {} is a link", e.path().display());
        } else if meta.is_dir() {
            std::fs::create_dir_all(&dst).unwrap();
            dirs.push((dst, meta));
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
            let mtime = filetime::FileTime::from_last_modification_time(&meta);
            filetime::set_file_mtime(&dst, mtime).unwrap();
        }
    }
    // Folders last, innermost first: filling them changed their times.
    for (dir, meta) in dirs.iter().rev() {
        std::fs::set_permissions(dir, meta.permissions()).unwrap();
        let mtime = filetime::FileTime::from_last_modification_time(meta);
        filetime::set_file_mtime(dir, mtime).unwrap();
    }
}
