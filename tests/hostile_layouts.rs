//! Hostile layouts (issue 12): nothing lost, whatever the layout.
//!
//! Each case builds a small sandbox and makes it hostile: two names for one
//! folder (a `[[mounts]]` entry, a symbolic link, a bind mount), MDaemon.ini
//! values and account folders nested in one another or in what must stay,
//! plan targets nested in one another, damaged Userlist.dat lines, targets
//! that cannot take the data, files that cannot be replaced. Then it runs
//! `mdcluster apply --yes` and ends in exactly one of:
//!
//! - (A) [`refused`]: exit 3 before the first change, stderr naming the
//!   problem, and the installation and the share byte-identical
//!   ([`Lab::hash`]);
//! - (B) [`moves_and_undoes`]: exit 0, every file of every account's mail
//!   folder at the folder Userlist.dat now names (mapped through the plan's
//!   `[[mounts]]`), every public folder where MDaemon.ini now says, no message
//!   lost or doubled; then `mdcluster undo` exits 0 and the installation and
//!   the share are byte-identical to before.
//!
//! Two more run after `apply --keep-source` whose copy on the share was
//! replaced by a link to its source: `cleanup` and `undo` never delete a
//! source file through it.
//!
//! Cases that need root (bind mounts, tmpfs, chattr) are skipped with a
//! message when not root, and fail when MDCLUSTER_REQUIRE_ROOT_TESTS is set.
//! On Windows (under Wine) every case runs but those that need a Unix link,
//! a mount, `chattr` or Unix mode bits: Wine 8 makes no symbolic links or
//! junctions, and the rest are Linux mechanisms.

mod common;
use common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
#[cfg(unix)]
use std::process::{Command, Stdio};

/// The share of the sandbox's plan.
const SHARE: &str = r"\\fileserver\mdaemon";

fn opts(seed: u64) -> mdcluster::sandbox::Options {
    mdcluster::sandbox::Options {
        accounts: 6,
        messages: 60,
        seed,
        message_size: None,
    }
}

/// A small sandbox in [`fast_tmp_dir`] (/dev/shm on Linux).
fn lab(seed: u64) -> Lab {
    Lab::in_shm(opts(seed))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A local path as a TOML string.
fn quoted(p: &Path) -> String {
    toml::Value::String(p.to_string_lossy().into_owned()).to_string()
}

// ---------------------------------------------------------------------------
// The plan

/// Append a `[[mounts]]` entry to the plan.
fn add_mount(lab: &Lab, windows: &str, local: &Path) {
    let mut plan = std::fs::read_to_string(&lab.plan).unwrap();
    plan.push_str(&format!(
        "\n[[mounts]]\nwindows = '{windows}'\nlocal = {}\n",
        quoted(local)
    ));
    std::fs::write(&lab.plan, plan).unwrap();
}

/// Set keys of the plan's `[shared]` (mailboxes, public_folders, lockfiles, pem).
fn set_shared(lab: &Lab, keys: &[(&str, &str)]) {
    let path = format!("path = '{SHARE}'");
    let mut with = path.clone();
    for (k, v) in keys {
        with.push_str(&format!("\n{k} = '{v}'"));
    }
    lab.edit_plan(&path, &with);
}

/// Make the share's `[[mounts]]` entry lead to `local`.
fn point_share_at(lab: &Lab, local: &Path) {
    lab.edit_plan(&quoted(&lab.share), &quoted(local));
}

/// Where this machine reaches the Windows path `win`: through the plan's
/// longest matching `[[mounts]]` entry, each component that exists looked
/// up without case, as Windows does.
fn local_of(lab: &Lab, win: &str) -> PathBuf {
    let parts = |w: &str| -> Vec<String> {
        w.split('\\')
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect()
    };
    let plan: toml::Value = toml::from_str(&std::fs::read_to_string(&lab.plan).unwrap()).unwrap();
    let mut mounts: Vec<(Vec<String>, PathBuf)> = plan["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                parts(m["windows"].as_str().unwrap()),
                PathBuf::from(m["local"].as_str().unwrap()),
            )
        })
        .collect();
    mounts.sort_by_key(|(w, _)| std::cmp::Reverse(w.len()));
    let comps = parts(win);
    for (prefix, mut path) in mounts {
        let matches = comps.len() >= prefix.len()
            && comps
                .iter()
                .zip(&prefix)
                .all(|(a, b)| a.eq_ignore_ascii_case(b));
        if !matches {
            continue;
        }
        for comp in &comps[prefix.len()..] {
            let exact = path.join(comp);
            path = if exact.symlink_metadata().is_ok() {
                exact
            } else {
                std::fs::read_dir(&path)
                    .ok()
                    .and_then(|d| {
                        d.flatten()
                            .find(|e| e.file_name().to_string_lossy().eq_ignore_ascii_case(comp))
                            .map(|e| e.path())
                    })
                    .unwrap_or(exact)
            };
        }
        return path;
    }
    panic!("the plan has no [[mounts]] entry for {win}")
}

// ---------------------------------------------------------------------------
// Userlist.dat and MDaemon.ini

fn userlist_file(lab: &Lab) -> PathBuf {
    lab.install.join("App/Userlist.dat")
}

/// Userlist.dat's lines, each with its line ending.
fn userlist_lines(lab: &Lab) -> Vec<Vec<u8>> {
    std::fs::read(userlist_file(lab))
        .unwrap()
        .split_inclusive(|b| *b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

fn write_userlist_lines(lab: &Lab, lines: &[Vec<u8>]) {
    std::fs::write(userlist_file(lab), lines.concat()).unwrap();
}

/// A line's content and its line ending.
fn split_ending(line: &[u8]) -> (&[u8], &[u8]) {
    let n = line
        .iter()
        .rev()
        .take_while(|b| **b == b'\n' || **b == b'\r')
        .count();
    line.split_at(line.len() - n)
}

#[derive(Clone, Debug)]
struct Account {
    /// 0-based line of Userlist.dat.
    line: usize,
    domain: String,
    mailbox: String,
    mail_dir: String,
}

impl Account {
    fn name(&self) -> String {
        format!("{}@{}", self.mailbox, self.domain)
    }
}

/// The accounts of Userlist.dat (lines long enough to hold a mail folder).
fn accounts(lab: &Lab) -> Vec<Account> {
    let field = |b: &[u8]| text(b).trim().to_string();
    userlist_lines(lab)
        .iter()
        .enumerate()
        .filter_map(|(line, l)| {
            let (c, _) = split_ending(l);
            (c.len() >= MAIL_DIR.end).then(|| Account {
                line,
                domain: field(&c[0..45]),
                mailbox: field(&c[45..75]),
                mail_dir: field(&c[MAIL_DIR]),
            })
        })
        .collect()
}

/// The sandbox's one account outside the Users tree.
fn outside_account(lab: &Lab) -> Account {
    accounts(lab)
        .into_iter()
        .find(|a| a.mail_dir.contains(r"\MailExtra\"))
        .expect("the sandbox keeps one account under MailExtra")
}

/// The first account in the Users tree.
fn users_account(lab: &Lab) -> Account {
    accounts(lab)
        .into_iter()
        .find(|a| a.mail_dir.starts_with(r"C:\MDaemon\Users\"))
        .expect("an account in the Users tree")
}

/// Cut Userlist.dat line `line` (0-based) to `len` bytes, keeping its line
/// ending when `keep_ending`.
fn cut_line(lab: &Lab, line: usize, len: usize, keep_ending: bool) {
    let mut lines = userlist_lines(lab);
    let (content, ending) = split_ending(&lines[line]);
    let mut cut = content[..len].to_vec();
    if keep_ending {
        cut.extend_from_slice(ending);
    }
    lines[line] = cut;
    write_userlist_lines(lab, &lines);
}

/// The value of `key` in `[section]` of MDaemon.ini (the first one).
fn ini_value(lab: &Lab, section: &str, key: &str) -> Option<String> {
    let mut current = String::new();
    for line in text(&std::fs::read(lab.ini()).unwrap()).lines() {
        let l = line.trim();
        if let Some(name) = l.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.to_string();
        } else if current.eq_ignore_ascii_case(section) {
            if let Some((k, v)) = l.split_once('=') {
                if k.trim().eq_ignore_ascii_case(key) {
                    return Some(v.trim().to_string());
                }
            }
        }
    }
    None
}

/// Where MDaemon.ini says the public folders are (MDaemon's default without the key).
fn public_folders(lab: &Lab) -> String {
    ini_value(lab, "Directories", "PublicFolders").unwrap_or(r"C:\MDaemon\Public Folders\".into())
}

// ---------------------------------------------------------------------------
// What is where

/// The files below `dir` (links not followed): relative path -> content hash.
fn files_below(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if dir.symlink_metadata().is_err() {
        return out;
    }
    for e in walkdir::WalkDir::new(dir).min_depth(1) {
        let e = e.unwrap();
        if e.file_type().is_file() {
            let rel = e
                .path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.insert(rel, hash_of(e.path()).unwrap());
        }
    }
    out
}

fn hash_of(file: &Path) -> Option<String> {
    std::fs::read(file)
        .ok()
        .map(|b| blake3::hash(&b).to_hex().to_string())
}

/// Every message file (`*.msg`) in the installation (mdcluster's state
/// folder aside) and on the share, by name and content, sorted.
fn messages(lab: &Lab) -> Vec<(String, String)> {
    let mut out = Vec::new();
    // The lab's whole folder (installation, share, and any other share a
    // case mounts there), and the share where it lies elsewhere.
    let mut roots = vec![lab.tmp.path()];
    if !lab.share.starts_with(lab.tmp.path()) {
        roots.push(&lab.share);
    }
    for root in roots {
        let walk = walkdir::WalkDir::new(root)
            .min_depth(1)
            .into_iter()
            .filter_entry(|e| e.path() != lab.install.join("mdcluster"));
        for e in walk {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            if e.file_type().is_file() && name.to_ascii_lowercase().ends_with(".msg") {
                out.push((name, hash_of(e.path()).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// A mail folder before the run: its Windows path, where it was on this
/// machine, and the files in it.
struct Folder {
    win: String,
    local: PathBuf,
    files: BTreeMap<String, String>,
}

impl Folder {
    fn of(lab: &Lab, win: &str) -> Folder {
        let local = local_of(lab, win);
        Folder {
            win: win.to_string(),
            files: files_below(&local),
            local,
        }
    }

    /// Every file of the folder is at `new` (Windows path), identical, and
    /// no longer at its old place.
    fn check_moved(&self, lab: &Lab, new: &str, whose: &str) {
        let new_local = local_of(lab, new);
        for (rel, hash) in &self.files {
            assert_eq!(
                hash_of(&new_local.join(rel)).as_ref(),
                Some(hash),
                "{whose}: {rel} of {} is at {new} ({}), identical",
                self.win,
                new_local.display()
            );
            assert!(
                !self.local.join(rel).exists(),
                "{whose}: {rel} moved, not copied: it is still in {}",
                self.local.display()
            );
        }
    }
}

/// Everything (B) compares afterwards.
struct Before {
    hash: String,
    accounts: Vec<(Account, Folder)>,
    public: Folder,
    messages: Vec<(String, String)>,
}

fn before(lab: &Lab) -> Before {
    Before {
        hash: lab.hash(),
        accounts: accounts(lab)
            .into_iter()
            .map(|a| {
                let f = Folder::of(lab, &a.mail_dir);
                (a, f)
            })
            .collect(),
        public: Folder::of(lab, &public_folders(lab)),
        messages: messages(lab),
    }
}

fn starts_with_folded(path: &str, prefix: &str) -> bool {
    path.to_ascii_lowercase()
        .starts_with(&prefix.to_ascii_lowercase())
}

// ---------------------------------------------------------------------------
// The two outcomes

/// (A) `apply --yes` refuses with exit 3 before the first change: stderr
/// holds every one of `needles`, and the installation and the share are
/// byte-identical (mdcluster's state folder, if there was none, still is
/// not). Returns stderr.
fn refused(lab: &Lab, needles: &[&str]) -> String {
    refused_with(lab, 3, needles)
}

/// (A) with exit `code` (2: the plan itself is invalid).
fn refused_with(lab: &Lab, code: i32, needles: &[&str]) -> String {
    let state = lab.install.join("mdcluster");
    let had_state = state.symlink_metadata().is_ok();
    let before = lab.hash();
    let out = lab.apply().arg("--yes").output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(code),
        "refused with exit {code}\nstderr:\n{stderr}\nstdout:\n{}",
        text(&out.stdout)
    );
    for n in needles {
        assert!(stderr.contains(n), "expected {n:?} in:\n{stderr}");
    }
    assert_eq!(
        lab.hash(),
        before,
        "refused before the first change: the installation and the share are unchanged\n{stderr}"
    );
    if !had_state {
        assert!(
            state.symlink_metadata().is_err(),
            "no state written on a refusal"
        );
    }
    // Consent to apply what the failure does not block changes nothing
    // either: every hostile layout concerns the moves, which go together
    // with the rewrite of MDaemon.ini, and nothing else is left to run.
    if code == 3 {
        let out = lab
            .apply()
            .args(["--yes", "--skip-blocked"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
        assert_eq!(lab.hash(), before, "--skip-blocked changed something");
    }
    stderr
}

/// (B) `apply --yes <args>` succeeds: every file of every account's mail
/// folder is, identical, at the folder Userlist.dat now names (on the
/// share), no longer at the old one; the public folders are where
/// MDaemon.ini now says; no message is lost or doubled. `check` then looks
/// at the result (it gets apply's stdout and stderr). Finally `undo --yes`
/// succeeds and the installation and the share are byte-identical to before.
fn moves_and_undoes(lab: &Lab, args: &[&str], check: impl FnOnce(&str)) {
    let was = before(lab);
    let out = lab.apply().arg("--yes").args(args).output().unwrap();
    let said = format!("{}\n{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "apply succeeds:\n{said}");
    let now = accounts(lab);
    for (old, folder) in &was.accounts {
        let new = now
            .iter()
            .find(|a| a.line == old.line)
            .unwrap_or_else(|| panic!("line {} of Userlist.dat is still an account", old.line));
        assert_eq!((&new.domain, &new.mailbox), (&old.domain, &old.mailbox));
        assert!(
            new.mail_dir.starts_with(r"\\") && !starts_with_folded(&new.mail_dir, r"C:\MDaemon\"),
            "{} points at a share: {}",
            old.name(),
            new.mail_dir
        );
        folder.check_moved(lab, &new.mail_dir, &old.name());
    }
    let public = public_folders(lab);
    assert!(
        starts_with_folded(&public, &format!("{SHARE}\\")),
        "MDaemon.ini's public folders are on the share: {public}"
    );
    was.public.check_moved(lab, &public, "the public folders");
    assert_eq!(messages(lab), was.messages, "no message lost or doubled");
    check(&said);
    let out = run(lab, &["undo", "--yes"], &[]);
    assert!(
        out.status.success(),
        "undo succeeds:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(
        lab.hash(),
        was.hash,
        "undo restores the installation and the share exactly"
    );
}

// ---------------------------------------------------------------------------
// Root-only helpers

/// Whether a root-only case can run; when not, it is skipped with a
/// message, or fails when MDCLUSTER_REQUIRE_ROOT_TESTS is set.
#[cfg(unix)]
fn root(why: &str) -> bool {
    if is_root() {
        return true;
    }
    assert!(
        std::env::var_os("MDCLUSTER_REQUIRE_ROOT_TESTS").is_none(),
        "needs root ({why}), and MDCLUSTER_REQUIRE_ROOT_TESTS is set"
    );
    eprintln!("skipped: needs root ({why})");
    false
}

/// A bind mount, unmounted when dropped.
#[cfg(unix)]
struct BindMount(PathBuf);

#[cfg(unix)]
impl BindMount {
    fn new(from: &Path, on: &Path) -> BindMount {
        let ok = Command::new("mount")
            .arg("--bind")
            .arg(from)
            .arg(on)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "mount --bind {} {}", from.display(), on.display());
        BindMount(on.to_path_buf())
    }
}

#[cfg(unix)]
impl Drop for BindMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[cfg(unix)]
fn chattr(flag: &str, file: &Path) -> bool {
    Command::new("chattr")
        .arg(flag)
        .arg(file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A file made immutable (`chattr +i`), mutable again when dropped.
#[cfg(unix)]
struct Immutable(PathBuf);

#[cfg(unix)]
impl Immutable {
    fn new(file: &Path) -> Immutable {
        assert!(chattr("+i", file), "chattr +i {}", file.display());
        Immutable(file.to_path_buf())
    }
}

#[cfg(unix)]
impl Drop for Immutable {
    fn drop(&mut self) {
        chattr("-i", &self.0);
    }
}

/// A lab whose file system takes `chattr +i`: on /dev/shm when it does (a
/// tmpfs does on newer kernels), else under the temp folder; None (the case
/// is skipped, or fails when MDCLUSTER_REQUIRE_ROOT_TESTS is set) when
/// neither does.
#[cfg(unix)]
fn lab_for_chattr(seed: u64) -> Option<Lab> {
    let takes_it = |lab: &Lab| {
        let probe = lab.tmp.path().join("chattr-probe");
        std::fs::write(&probe, b"x").unwrap();
        let ok = chattr("+i", &probe);
        if ok {
            chattr("-i", &probe);
        }
        std::fs::remove_file(&probe).unwrap();
        ok
    };
    let on_shm = lab(seed);
    if takes_it(&on_shm) {
        return Some(on_shm);
    }
    let on_disk = Lab::with(opts(seed), None);
    if takes_it(&on_disk) {
        return Some(on_disk);
    }
    let why = "chattr +i works neither on /dev/shm nor under the temp folder";
    assert!(
        std::env::var_os("MDCLUSTER_REQUIRE_ROOT_TESTS").is_none(),
        "{why}, and MDCLUSTER_REQUIRE_ROOT_TESTS is set"
    );
    eprintln!("skipped: {why}");
    None
}

// ===========================================================================
// Identity: two names for one folder

#[test]
fn a_mount_entry_makes_the_mailboxes_target_the_users_tree() {
    let lab = lab(1);
    add_mount(
        &lab,
        r"\\fileserver\mdaemon\Users",
        &lab.install.join("Users"),
    );
    refused(
        &lab,
        &[
            "folders of their own",
            r"C:\MDaemon\Users is the same folder as the mailboxes target \\fileserver\mdaemon\Users on disk",
        ],
    );
}

#[test]
fn a_mount_entry_in_other_case_aliases_the_users_tree() {
    let lab = lab(2);
    add_mount(
        &lab,
        r"\\FILESERVER\MDAEMON\users",
        &lab.install.join("Users"),
    );
    refused(
        &lab,
        &[
            "folders of their own",
            r"C:\MDaemon\Users is the same folder as the mailboxes target \\fileserver\mdaemon\Users on disk",
        ],
    );
}

#[test]
fn a_mount_entry_makes_the_pem_target_the_pem_folder() {
    let lab = lab(3);
    add_mount(&lab, r"\\fileserver\mdaemon\PEM", &lab.install.join("Pem"));
    refused(
        &lab,
        &[
            "folders of their own",
            r"C:\MDaemon\Pem",
            r"\\fileserver\mdaemon\PEM",
        ],
    );
}

#[test]
#[cfg(unix)]
fn a_link_on_the_share_to_the_users_tree() {
    let lab = lab(4);
    std::os::unix::fs::symlink(lab.install.join("Users"), lab.share.join("Users")).unwrap();
    refused(
        &lab,
        &[
            "folders of their own",
            r"C:\MDaemon\Users is the same folder as the mailboxes target \\fileserver\mdaemon\Users on disk",
        ],
    );
}

#[test]
#[cfg(unix)]
fn a_link_on_the_share_to_the_installation() {
    let lab = lab(5);
    std::os::unix::fs::symlink(&lab.install, lab.share.join("Users")).unwrap();
    refused(
        &lab,
        &[
            "folders of their own",
            r"the mailboxes target \\fileserver\mdaemon\Users is the same folder as the installation C:\MDaemon on disk",
        ],
    );
}

#[test]
#[cfg(unix)]
fn a_link_on_the_share_to_the_pem_folder() {
    // The copy would be a copy onto itself, and undo (which deletes the copy
    // where it is identical to the original) would delete the keys.
    let lab = lab(6);
    std::os::unix::fs::symlink(lab.install.join("Pem"), lab.share.join("PEM")).unwrap();
    refused(
        &lab,
        &[
            "folders of their own",
            r"C:\MDaemon\Pem",
            r"\\fileserver\mdaemon\PEM",
        ],
    );
    assert!(lab.install.join("Pem/MDaemon/rsa.private").is_file());
}

#[test]
#[cfg(unix)]
fn a_link_on_the_share_for_one_domain_to_its_source() {
    let lab = lab(7);
    let a = users_account(&lab);
    std::fs::create_dir(lab.share.join("Users")).unwrap();
    std::os::unix::fs::symlink(
        lab.install.join("Users").join(&a.domain),
        lab.share.join("Users").join(&a.domain),
    )
    .unwrap();
    refused(
        &lab,
        &[
            "folders of their own",
            &format!(
                r"C:\MDaemon\Users\{0} is the same folder as the target of C:\MDaemon\Users\{0}: \\fileserver\mdaemon\Users\{0} on disk",
                a.domain
            ),
        ],
    );
}

#[test]
#[cfg(unix)]
fn a_link_for_the_public_folders_target_to_the_users_tree() {
    let lab = lab(8);
    std::os::unix::fs::symlink(lab.install.join("Users"), lab.share.join("Public Folders"))
        .unwrap();
    refused(
        &lab,
        &[
            "folders of their own",
            r"C:\MDaemon\Users is the same folder as the public folders target \\fileserver\mdaemon\Public Folders on disk",
        ],
    );
}

#[test]
#[cfg(unix)]
fn a_bind_mount_of_the_users_tree_on_the_share() {
    if !root("mount --bind") {
        return;
    }
    let lab = lab(9);
    std::fs::create_dir(lab.share.join("Users")).unwrap();
    let _bind = BindMount::new(&lab.install.join("Users"), &lab.share.join("Users"));
    refused(
        &lab,
        &[
            "folders of their own",
            r"C:\MDaemon\Users is the same folder as the mailboxes target \\fileserver\mdaemon\Users on disk",
        ],
    );
}

#[test]
fn the_share_mount_inside_the_installation() {
    let lab = lab(10);
    let inside = lab.install.join("Users/share");
    std::fs::create_dir(&inside).unwrap();
    point_share_at(&lab, &inside);
    refused(
        &lab,
        &[
            "folders of their own",
            r"the shared folder \\fileserver\mdaemon lies inside the installation C:\MDaemon on disk",
        ],
    );
}

#[test]
#[cfg(unix)]
fn the_share_mount_through_a_link_to_the_installation() {
    let lab = lab(11);
    let link = lab.tmp.path().join("share-link");
    std::os::unix::fs::symlink(&lab.install, &link).unwrap();
    point_share_at(&lab, &link);
    refused(
        &lab,
        &[
            "folders of their own",
            r"the shared folder \\fileserver\mdaemon is the same folder as the installation C:\MDaemon on disk",
        ],
    );
}

#[test]
fn the_share_mount_at_the_folder_that_holds_the_installation() {
    let lab = lab(12);
    point_share_at(&lab, lab.tmp.path());
    refused(
        &lab,
        &[
            "folders of their own",
            r"the installation C:\MDaemon lies inside the shared folder \\fileserver\mdaemon on disk",
        ],
    );
}

#[test]
#[cfg(unix)]
fn the_state_folder_is_a_link_to_another_folder() {
    let lab = lab(13);
    let elsewhere = lab.tmp.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, lab.install.join("mdcluster")).unwrap();
    refused(
        &lab,
        &[
            "state folder",
            &lab.install.join("mdcluster").display().to_string(),
            "is a link",
        ],
    );
    assert_eq!(
        std::fs::read_dir(&elsewhere).unwrap().count(),
        0,
        "nothing written through the link"
    );
}

/// Run `apply --keep-source`, then replace the share's copy of one domain
/// folder by a link to its source; returns (source, copy).
#[cfg(unix)]
fn copy_replaced_by_a_link(lab: &Lab) -> (PathBuf, PathBuf) {
    lab.apply()
        .args(["--yes", "--keep-source"])
        .assert()
        .success();
    // The last domain folder that was copied, so that a cleanup that deletes
    // folder by folder would already have deleted others.
    let domain = std::fs::read_dir(lab.install.join("Users"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .max()
        .unwrap();
    let source = lab.install.join("Users").join(&domain);
    let copy = lab.share.join("Users").join(&domain);
    std::fs::remove_dir_all(&copy).unwrap();
    std::os::unix::fs::symlink(&source, &copy).unwrap();
    (source, copy)
}

#[test]
#[cfg(unix)]
fn cleanup_never_deletes_a_source_its_copy_is_a_link_to() {
    let lab = lab(14);
    let sources = expected_on_share(&lab);
    let (source, copy) = copy_replaced_by_a_link(&lab);
    let out = mdcluster()
        .args(["cleanup", "--yes", "--mdaemon-restarted", "--plan"])
        .arg(&lab.plan)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "cleanup refuses:\n{stderr}");
    for p in [&source, &copy] {
        assert!(
            stderr.contains(&p.display().to_string()),
            "the message names {}:\n{stderr}",
            p.display()
        );
    }
    // First what matters most: nothing lost, the linked folder untouched.
    assert_eq!(lost_messages(&lab, &sources), Vec::<String>::new());
    let linked: Vec<&String> = sources
        .keys()
        .filter(|k| {
            let prefix = format!("Users/{}/", source.file_name().unwrap().to_string_lossy());
            k.starts_with(&prefix) && !at_source(&lab, k)
        })
        .collect();
    assert!(linked.is_empty(), "deleted through the link: {linked:?}");
    // Then: refused before the first deletion, not part-way.
    let deleted: Vec<&String> = sources.keys().filter(|k| !at_source(&lab, k)).collect();
    assert!(
        deleted.is_empty(),
        "cleanup deleted {} file(s) of the old store before it refused (exit {:?}), e.g. {:?}:\n{stderr}",
        deleted.len(),
        out.status.code(),
        deleted.first()
    );
}

#[test]
#[cfg(unix)]
fn undo_never_deletes_a_source_its_copy_is_a_link_to() {
    let lab = lab(15);
    let sources = expected_on_share(&lab);
    let (source, _copy) = copy_replaced_by_a_link(&lab);
    let out = run(&lab, &["undo", "--yes"], &[]);
    let stderr = text(&out.stderr);
    assert_eq!(
        expected_on_share(&lab),
        sources,
        "no file of the old store was deleted (undo exit {:?}):\n{stderr}",
        out.status.code()
    );
    assert!(source.is_dir());
}

// ===========================================================================
// Nesting: MDaemon.ini values

#[test]
fn lockfiles_is_the_installation() {
    let lab = lab(20);
    lab.edit_ini(
        br"LockFiles=C:\MDaemon\LockFiles\",
        br"LockFiles=C:\MDaemon\",
    );
    refused(
        &lab,
        &[
            "folders of their own",
            r"the LockFiles folder C:\MDaemon is the same folder as the installation C:\MDaemon",
        ],
    );
}

#[test]
fn lockfiles_is_the_app_folder() {
    let lab = lab(21);
    lab.edit_ini(
        br"LockFiles=C:\MDaemon\LockFiles\",
        br"LockFiles=C:\MDaemon\App\",
    );
    refused(
        &lab,
        &[
            "folders of their own",
            r"the LockFiles folder C:\MDaemon\App is the same folder as the folder of MDaemon.ini C:\MDaemon\App",
        ],
    );
}

#[test]
fn lockfiles_is_the_users_tree() {
    let lab = lab(22);
    lab.edit_ini(
        br"LockFiles=C:\MDaemon\LockFiles\",
        br"LockFiles=C:\MDaemon\Users\",
    );
    refused(
        &lab,
        &[
            "folders of their own",
            r"C:\MDaemon\Users is the same folder as the LockFiles folder C:\MDaemon\Users",
        ],
    );
}

#[test]
fn lockfiles_inside_the_users_tree() {
    let lab = lab(23);
    std::fs::rename(
        lab.install.join("LockFiles"),
        lab.install.join("Users/LockFiles"),
    )
    .unwrap();
    lab.edit_ini(
        br"LockFiles=C:\MDaemon\LockFiles\",
        br"LockFiles=C:\MDaemon\Users\LockFiles\",
    );
    refused(
        &lab,
        &[
            "folders of their own",
            r"the LockFiles folder C:\MDaemon\Users\LockFiles lies inside the mail store tree",
        ],
    );
}

#[test]
fn lockfiles_is_the_pem_folder() {
    let lab = lab(24);
    lab.edit_ini(
        br"LockFiles=C:\MDaemon\LockFiles\",
        br"LockFiles=C:\MDaemon\Pem\",
    );
    refused(
        &lab,
        &[
            "folders of their own",
            r"the LockFiles folder C:\MDaemon\Pem is the same folder as the PEM folder C:\MDaemon\Pem",
        ],
    );
}

#[test]
fn lockfiles_inside_the_pem_folder() {
    let lab = lab(25);
    std::fs::rename(
        lab.install.join("LockFiles"),
        lab.install.join("Pem/LockFiles"),
    )
    .unwrap();
    lab.edit_ini(
        br"LockFiles=C:\MDaemon\LockFiles\",
        br"LockFiles=C:\MDaemon\Pem\LockFiles\",
    );
    refused(
        &lab,
        &[
            "folders of their own",
            r"the LockFiles folder C:\MDaemon\Pem\LockFiles lies inside the PEM folder C:\MDaemon\Pem",
        ],
    );
}

#[test]
fn pem_is_the_installation() {
    let lab = lab(26);
    lab.edit_ini(br"PEM=C:\MDaemon\Pem\", br"PEM=C:\MDaemon\");
    refused(
        &lab,
        &[
            "folders of their own",
            r"the PEM folder C:\MDaemon is the same folder as the installation C:\MDaemon",
        ],
    );
}

#[test]
fn users_is_the_installation() {
    let lab = lab(27);
    lab.edit_ini(br"Users=C:\MDaemon\Users\", br"Users=C:\MDaemon\");
    refused(
        &lab,
        &[
            "folders of their own",
            r"the mail store tree ([Directories] Users) C:\MDaemon is the same folder as the installation C:\MDaemon",
        ],
    );
}

#[test]
fn users_is_the_app_folder() {
    let lab = lab(28);
    lab.edit_ini(br"Users=C:\MDaemon\Users\", br"Users=C:\MDaemon\App\");
    refused(
        &lab,
        &[
            "folders of their own",
            r"C:\MDaemon\App is the same folder as the folder of MDaemon.ini C:\MDaemon\App",
        ],
    );
}

#[test]
fn public_folders_inside_the_users_tree() {
    let lab = lab(29);
    std::fs::rename(
        lab.install.join("Public Folders"),
        lab.install.join("Users/Public Folders"),
    )
    .unwrap();
    lab.edit_ini(
        br"PublicFolders=C:\MDaemon\Public Folders\",
        br"PublicFolders=C:\MDaemon\Users\Public Folders\",
    );
    refused(
        &lab,
        &[
            "folders of their own",
            r"C:\MDaemon\Users\Public Folders lies inside the mail store tree ([Directories] Users) C:\MDaemon\Users",
        ],
    );
}

#[test]
fn public_folders_is_the_users_tree() {
    let lab = lab(30);
    lab.edit_ini(
        br"PublicFolders=C:\MDaemon\Public Folders\",
        br"PublicFolders=C:\MDaemon\Users\",
    );
    refused(
        &lab,
        &[
            "folders of their own",
            r"C:\MDaemon\Users is the same folder as the mail store tree ([Directories] PublicFolders) C:\MDaemon\Users",
        ],
    );
}

// ===========================================================================
// Nesting: account folders

#[test]
fn an_account_in_the_app_folder() {
    let lab = lab(40);
    let a = outside_account(&lab);
    set_mail_dir(&lab, a.line, r"C:\MDaemon\App\");
    refused(
        &lab,
        &[
            "folders of their own",
            &format!(
                r"the mail folder of {} C:\MDaemon\App is the same folder as the folder of MDaemon.ini C:\MDaemon\App",
                a.name()
            ),
        ],
    );
}

#[test]
fn an_account_in_the_app_folder_named_in_other_case() {
    let lab = lab(41);
    let a = outside_account(&lab);
    set_mail_dir(&lab, a.line, r"c:\mdaemon\app\");
    refused(
        &lab,
        &[
            "folders of their own",
            &format!("the mail folder of {}", a.name()),
            r"is the same folder as the folder of MDaemon.ini C:\MDaemon\App",
        ],
    );
}

#[test]
#[cfg(unix)]
fn an_account_in_the_app_folder_through_a_link() {
    let lab = lab(42);
    let a = outside_account(&lab);
    std::os::unix::fs::symlink(lab.install.join("App"), lab.install.join("Mail")).unwrap();
    set_mail_dir(&lab, a.line, r"C:\MDaemon\Mail\");
    refused(
        &lab,
        &[
            "folders of their own",
            r"C:\MDaemon\Mail is the same folder as the folder of MDaemon.ini C:\MDaemon\App on disk",
        ],
    );
}

#[test]
fn an_account_in_the_installation_root() {
    let lab = lab(43);
    let a = outside_account(&lab);
    set_mail_dir(&lab, a.line, r"C:\MDaemon\");
    refused(
        &lab,
        &[
            "folders of their own",
            &format!(r"the mail folder of {} C:\MDaemon ", a.name()),
            r"the installation C:\MDaemon",
        ],
    );
}

#[test]
fn an_account_inside_the_state_folder() {
    let lab = lab(44);
    let a = outside_account(&lab);
    let folder = lab.install.join("mdcluster/x");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("md50000000001.msg"),
        b"mail in the state folder",
    )
    .unwrap();
    set_mail_dir(&lab, a.line, r"C:\MDaemon\mdcluster\x\");
    refused(
        &lab,
        &[
            "folders of their own",
            r"C:\MDaemon\mdcluster\x lies inside mdcluster's state folder C:\MDaemon\mdcluster",
        ],
    );
    // The hash leaves the state folder out: look at the message itself.
    assert_eq!(
        std::fs::read(folder.join("md50000000001.msg")).unwrap(),
        b"mail in the state folder"
    );
}

#[test]
fn an_account_inside_the_lockfiles_folder() {
    let lab = lab(45);
    let a = outside_account(&lab);
    let folder = lab.install.join("LockFiles/mail");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(folder.join("md50000000001.msg"), b"mail among the locks").unwrap();
    set_mail_dir(&lab, a.line, r"C:\MDaemon\LockFiles\mail\");
    refused(
        &lab,
        &[
            "folders of their own",
            r"C:\MDaemon\LockFiles\mail lies inside the LockFiles folder C:\MDaemon\LockFiles",
        ],
    );
}

#[test]
fn an_account_in_the_pem_folder() {
    let lab = lab(46);
    let a = outside_account(&lab);
    set_mail_dir(&lab, a.line, r"C:\MDaemon\Pem\");
    refused(
        &lab,
        &[
            "folders of their own",
            &format!(
                r"the PEM folder C:\MDaemon\Pem is the same folder as the mail folder of {} C:\MDaemon\Pem",
                a.name()
            ),
        ],
    );
}

#[test]
fn two_accounts_share_one_folder_outside_the_users_tree() {
    let lab = lab(47);
    let outside = outside_account(&lab);
    let other = users_account(&lab);
    // The other account's own folder is gone (its mail went into the shared
    // one), so nothing of the Users tree lies where the shared folder goes.
    let shared = local_of(&lab, &outside.mail_dir);
    std::fs::rename(
        local_of(&lab, &other.mail_dir),
        shared.join(format!("from-{}", other.mailbox)),
    )
    .unwrap();
    set_mail_dir(&lab, other.line, &outside.mail_dir);
    moves_and_undoes(&lab, &[], |_| {
        let now = accounts(&lab);
        let (a, b) = (&now[outside.line], &now[other.line]);
        assert_eq!(a.mail_dir, b.mail_dir, "both point at the one moved folder");
        assert!(local_of(&lab, &a.mail_dir).join("Hiwater.mrk").is_file());
    });
}

#[test]
fn two_accounts_share_one_folder_in_the_users_tree() {
    let lab = lab(48);
    let all = accounts(&lab);
    let users: Vec<&Account> = all
        .iter()
        .filter(|a| a.mail_dir.starts_with(r"C:\MDaemon\Users\"))
        .collect();
    set_mail_dir(&lab, users[1].line, &users[0].mail_dir);
    moves_and_undoes(&lab, &[], |_| {
        let now = accounts(&lab);
        assert_eq!(now[users[0].line].mail_dir, now[users[1].line].mail_dir);
    });
}

#[test]
fn an_account_nested_in_another_accounts_folder_outside_the_users_tree() {
    let lab = lab(49);
    let outer = outside_account(&lab);
    let inner = users_account(&lab);
    let sub = local_of(&lab, &outer.mail_dir).join("Archive");
    std::fs::create_dir(&sub).unwrap();
    std::fs::write(sub.join("md50000000001.msg"), b"archived mail").unwrap();
    set_mail_dir(&lab, inner.line, &format!(r"{}Archive\", outer.mail_dir));
    moves_and_undoes(&lab, &[], |_| {
        let now = accounts(&lab);
        let (o, i) = (&now[outer.line], &now[inner.line]);
        assert_eq!(
            i.mail_dir,
            format!(r"{}Archive\", o.mail_dir),
            "follows the move"
        );
        assert_eq!(
            std::fs::read(local_of(&lab, &i.mail_dir).join("md50000000001.msg")).unwrap(),
            b"archived mail"
        );
    });
}

#[test]
fn an_account_holding_another_accounts_folder_outside_the_users_tree() {
    // The outer account comes first in Userlist.dat: outermost first
    // anyway, whatever the order of the lines.
    let lab = lab(50);
    let inner = outside_account(&lab);
    let outer = users_account(&lab);
    // Its own folder leaves the Users tree for MailExtra, which holds the other account.
    let old = local_of(&lab, &outer.mail_dir);
    std::fs::rename(&old, lab.install.join("MailExtra").join(&outer.mailbox)).unwrap();
    set_mail_dir(&lab, outer.line, r"C:\MDaemon\MailExtra\");
    moves_and_undoes(&lab, &[], |_| {
        let now = accounts(&lab);
        let (o, i) = (&now[outer.line], &now[inner.line]);
        assert!(
            starts_with_folded(&i.mail_dir, &o.mail_dir),
            "{} stays inside {}",
            i.mail_dir,
            o.mail_dir
        );
    });
}

// ===========================================================================
// Plan targets

#[test]
fn the_pem_target_inside_the_lockfiles_target() {
    let lab = lab(60);
    set_shared(
        &lab,
        &[
            ("lockfiles", r"\\fileserver\mdaemon\Locks"),
            ("pem", r"\\fileserver\mdaemon\Locks\PEM"),
        ],
    );
    refused(
        &lab,
        &[
            "folders of their own",
            r"the PEM target \\fileserver\mdaemon\Locks\PEM lies inside the lock-files target \\fileserver\mdaemon\Locks",
        ],
    );
}

#[test]
fn the_mailboxes_target_inside_the_pem_target() {
    let lab = lab(61);
    set_shared(&lab, &[("mailboxes", r"\\fileserver\mdaemon\PEM\Users")]);
    refused(
        &lab,
        &[
            "folders of their own",
            r"the mailboxes target \\fileserver\mdaemon\PEM\Users lies inside the PEM target \\fileserver\mdaemon\PEM",
        ],
    );
}

#[test]
fn the_lockfiles_target_is_a_domain_folder_that_moves() {
    let lab = lab(62);
    let a = users_account(&lab);
    let target = format!(r"\\fileserver\mdaemon\Users\{}", a.domain);
    set_shared(&lab, &[("lockfiles", &target)]);
    refused(&lab, &["folders of their own", &target]);
}

#[test]
fn the_pem_target_inside_a_domain_folder_that_moves() {
    let lab = lab(63);
    let a = users_account(&lab);
    let target = format!(r"\\fileserver\mdaemon\Users\{}\PEM", a.domain);
    set_shared(&lab, &[("pem", &target)]);
    refused(
        &lab,
        &[
            "folders of their own",
            &format!(
                r"the PEM target {target} lies inside the target of C:\MDaemon\Users\{0}: \\fileserver\mdaemon\Users\{0}",
                a.domain
            ),
        ],
    );
}

#[test]
fn the_mailboxes_and_public_folders_targets_are_one() {
    let lab = lab(64);
    set_shared(
        &lab,
        &[
            ("mailboxes", r"\\fileserver\mdaemon\Store"),
            ("public_folders", r"\\fileserver\mdaemon\Store"),
        ],
    );
    // The plan itself is invalid: exit 2, before anything is looked at.
    refused_with(
        &lab,
        2,
        &[
            "shared.mailboxes and shared.public_folders are the same folder",
            r"\\fileserver\mdaemon\Store",
        ],
    );
}

#[test]
fn the_lockfiles_target_is_the_shared_folder() {
    let lab = lab(65);
    set_shared(&lab, &[("lockfiles", SHARE)]);
    refused(
        &lab,
        &[
            "folders of their own",
            r"the shared folder \\fileserver\mdaemon is the same folder as the lock-files target \\fileserver\mdaemon",
        ],
    );
}

#[test]
fn public_folders_nested_in_the_mailboxes_target() {
    let lab = lab(66);
    set_shared(
        &lab,
        &[("public_folders", r"\\fileserver\mdaemon\Users\Public")],
    );
    moves_and_undoes(&lab, &[], |_| {
        assert_eq!(public_folders(&lab), r"\\fileserver\mdaemon\Users\Public\");
    });
}

#[test]
fn mailboxes_on_a_second_share() {
    let lab = lab(67);
    let other = lab.tmp.path().join("otherserver");
    std::fs::create_dir(&other).unwrap();
    add_mount(&lab, r"\\otherserver\mail", &other);
    set_shared(&lab, &[("mailboxes", r"\\otherserver\mail\Users")]);
    moves_and_undoes(&lab, &[], |_| {
        assert!(other.join("Users").is_dir());
    });
}

// ===========================================================================
// MDaemon.ini is the truth

#[test]
fn the_store_elsewhere_than_the_default() {
    let lab = lab(70);
    std::fs::create_dir(lab.install.join("Mail")).unwrap();
    std::fs::rename(lab.install.join("Users"), lab.install.join("Mail/Users")).unwrap();
    lab.edit_ini(
        br"Users=C:\MDaemon\Users\",
        br"Users=C:\MDaemon\Mail\Users\",
    );
    lab.edit_ini(
        br"MailDir=C:\MDaemon\Users\",
        br"MailDir=C:\MDaemon\Mail\Users\",
    );
    for a in accounts(&lab) {
        if let Some(rest) = a.mail_dir.strip_prefix(r"C:\MDaemon\Users\") {
            set_mail_dir(&lab, a.line, &format!(r"C:\MDaemon\Mail\Users\{rest}"));
        }
    }
    moves_and_undoes(&lab, &[], |_| {
        assert_eq!(
            ini_value(&lab, "Directories", "Users").as_deref(),
            Some(r"\\fileserver\mdaemon\Users\")
        );
        assert_eq!(
            ini_value(&lab, "NewUserDefaults", "MailDir").as_deref(),
            Some(r"\\fileserver\mdaemon\Users\$DOMAIN$\$MAILBOX$\")
        );
        let left = std::fs::read_dir(lab.install.join("Mail/Users"))
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(left, 0, "nothing left in the old store");
    });
}

#[test]
fn the_store_keys_in_other_case() {
    let lab = lab(71);
    lab.edit_ini(br"Users=C:\MDaemon\Users\", br"USERS=c:\mdaemon\users\");
    moves_and_undoes(&lab, &[], |_| {
        let users = ini_value(&lab, "Directories", "Users").unwrap();
        assert!(starts_with_folded(&users, SHARE), "{users}");
    });
}

/// Without the key, MDaemon would go on looking for the store at its
/// default after the move: refused, saying what to add.
#[test]
fn no_users_key_is_refused_saying_what_to_add() {
    let lab = lab(72);
    lab.edit_ini(b"Users=C:\\MDaemon\\Users\\\r\n", b"");
    refused(
        &lab,
        &["MDaemon.ini names the store", r"Users=C:\MDaemon\Users\"],
    );
}

#[test]
fn no_public_folders_key_is_refused_saying_what_to_add() {
    let lab = lab(73);
    lab.edit_ini(b"PublicFolders=C:\\MDaemon\\Public Folders\\\r\n", b"");
    refused(
        &lab,
        &[
            "MDaemon.ini names the store",
            r"PublicFolders=C:\MDaemon\Public Folders\",
        ],
    );
}

/// The store named under another key than the profile's (the key's real
/// name is a guess): that value is what moves and is rewritten.
#[test]
fn the_store_named_under_another_key_moves_and_that_value_follows() {
    let lab = lab(75);
    lab.edit_ini(
        b"Users=C:\\MDaemon\\Users\\",
        b"MailRoot=C:\\MDaemon\\Users\\",
    );
    moves_and_undoes(&lab, &[], |_| {
        let root = ini_value(&lab, "Directories", "MailRoot").unwrap();
        assert!(starts_with_folded(&root, SHARE), "{root}");
    });
}

#[test]
fn no_new_accounts_template_says_to_check_it() {
    let lab = lab(74);
    lab.edit_ini(
        b"MailDir=C:\\MDaemon\\Users\\$DOMAIN$\\$MAILBOX$\\\r\n",
        b"",
    );
    moves_and_undoes(&lab, &[], |said| {
        assert!(said.contains("New Accounts"), "{said}");
    });
}

// ===========================================================================
// Accounts

#[test]
fn a_line_cut_to_146_bytes() {
    let lab = lab(80);
    cut_line(&lab, 1, 146, true);
    refused(&lab, &["too short", "line 2"]);
}

#[test]
fn a_line_cut_to_20_bytes() {
    let lab = lab(81);
    cut_line(&lab, 2, 20, true);
    refused(&lab, &["too short", "line 3"]);
}

#[test]
fn the_last_line_cut_without_its_line_ending() {
    let lab = lab(82);
    let last = userlist_lines(&lab).len() - 1;
    cut_line(&lab, last, 150, false);
    refused(&lab, &["too short", &format!("line {}", last + 1)]);
}

#[test]
fn an_account_without_a_mail_folder() {
    let lab = lab(83);
    let a = users_account(&lab);
    set_mail_dir(&lab, a.line, "");
    refused(&lab, &["every account's mail folder", &a.name()]);
}

// ===========================================================================
// Preflight: every target reachable, writable, with room; files replaceable

#[test]
fn mailboxes_on_a_share_that_does_not_exist() {
    let lab = lab(90);
    add_mount(&lab, r"\\otherserver\mail", &lab.tmp.path().join("nowhere"));
    set_shared(&lab, &[("mailboxes", r"\\otherserver\mail\Users")]);
    refused(&lab, &["targets reachable", r"\\otherserver\mail\Users"]);
}

#[test]
#[cfg(unix)]
fn mailboxes_on_a_share_too_small() {
    if !root("mount a tmpfs") {
        return;
    }
    let lab = lab(91);
    let tiny = TmpfsMount::new("size=64k").expect("mount a tmpfs");
    add_mount(&lab, r"\\otherserver\mail", tiny.path());
    set_shared(&lab, &[("mailboxes", r"\\otherserver\mail\Users")]);
    refused(
        &lab,
        &[
            "free space",
            "mailboxes",
            &tiny.path().display().to_string(),
        ],
    );
}

#[test]
#[cfg(unix)]
fn mailboxes_on_a_read_only_share() {
    if !root("mount a tmpfs") {
        return;
    }
    let lab = lab(92);
    let ro = TmpfsMount::new("ro,size=64m").expect("mount a tmpfs");
    add_mount(&lab, r"\\otherserver\mail", ro.path());
    set_shared(&lab, &[("mailboxes", r"\\otherserver\mail\Users")]);
    refused(&lab, &["writable", &ro.path().display().to_string()]);
}

#[test]
#[cfg(unix)]
fn mdaemon_ini_immutable() {
    if !root("chattr +i") {
        return;
    }
    let Some(lab) = lab_for_chattr(93) else {
        return;
    };
    let _immutable = Immutable::new(&lab.ini());
    refused(&lab, &["MDaemon.ini can be replaced"]);
}

#[test]
#[cfg(unix)]
fn userlist_immutable() {
    if !root("chattr +i") {
        return;
    }
    let Some(lab) = lab_for_chattr(94) else {
        return;
    };
    let _immutable = Immutable::new(&userlist_file(&lab));
    refused(&lab, &["Userlist.dat can be replaced"]);
}

#[test]
fn userlist_with_a_second_hard_link() {
    let lab = lab(95);
    std::fs::hard_link(
        userlist_file(&lab),
        lab.tmp.path().join("Userlist-copy.dat"),
    )
    .unwrap();
    refused(&lab, &["Userlist.dat can be replaced", "hard links"]);
}

#[test]
fn mdaemon_ini_with_a_second_hard_link() {
    let lab = lab(96);
    std::fs::hard_link(lab.ini(), lab.tmp.path().join("MDaemon-copy.ini")).unwrap();
    refused(&lab, &["MDaemon.ini can be replaced", "hard links"]);
}

/// Move `file` to `<tmp>/elsewhere/` and leave a link to it in its place;
/// returns (where it is now, what the link says).
#[cfg(unix)]
fn link_elsewhere(lab: &Lab, file: &Path) -> (PathBuf, PathBuf) {
    let elsewhere = lab.tmp.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let real = elsewhere.join(file.file_name().unwrap());
    std::fs::rename(file, &real).unwrap();
    std::os::unix::fs::symlink(&real, file).unwrap();
    (real, std::fs::read_link(file).unwrap())
}

#[cfg(unix)]
fn is_link_to(link: &Path, to: &Path) -> bool {
    link.symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink())
        && std::fs::read_link(link).is_ok_and(|t| t == to)
}

#[test]
#[cfg(unix)]
fn mdaemon_ini_a_link_to_a_file_elsewhere() {
    let lab = lab(97);
    let (real, target) = link_elsewhere(&lab, &lab.ini());
    let original = std::fs::read(&real).unwrap();
    let original_time = std::fs::metadata(&real).unwrap().modified().unwrap();
    moves_and_undoes(&lab, &[], |_| {
        assert!(is_link_to(&lab.ini(), &target), "still a link");
        let now = text(&std::fs::read(&real).unwrap());
        assert!(
            now.contains(r"Users=\\fileserver\mdaemon\Users\"),
            "the file it points to has the new values:\n{now}"
        );
    });
    assert!(is_link_to(&lab.ini(), &target), "still a link after undo");
    assert_eq!(
        std::fs::read(&real).unwrap(),
        original,
        "restored byte for byte"
    );
    assert_eq!(
        std::fs::metadata(&real).unwrap().modified().unwrap(),
        original_time
    );
}

#[test]
#[cfg(unix)]
fn userlist_a_link_to_a_file_elsewhere() {
    let lab = lab(98);
    let (real, target) = link_elsewhere(&lab, &userlist_file(&lab));
    let original = std::fs::read(&real).unwrap();
    moves_and_undoes(&lab, &[], |_| {
        assert!(is_link_to(&userlist_file(&lab), &target), "still a link");
    });
    assert!(
        is_link_to(&userlist_file(&lab), &target),
        "still a link after undo"
    );
    assert_eq!(
        std::fs::read(&real).unwrap(),
        original,
        "restored byte for byte"
    );
}

// ===========================================================================
// Gateways, digests and the archive (issue 17): the mail store's rules

#[test]
fn the_archive_inside_the_users_tree() {
    let lab = lab(80);
    std::fs::rename(
        lab.install.join("Archive"),
        lab.install.join("Users/Archive"),
    )
    .unwrap();
    lab.edit_ini(
        br"Archive=C:\MDaemon\Archive\",
        br"Archive=C:\MDaemon\Users\Archive\",
    );
    refused(
        &lab,
        &[
            "folders of their own",
            r"the mail store tree ([Directories] Archive) C:\MDaemon\Users\Archive lies inside the mail store tree ([Directories] Users) C:\MDaemon\Users",
        ],
    );
}

#[test]
fn the_gateways_are_the_digests_folder() {
    let lab = lab(81);
    lab.edit_ini(
        br"Gateways=C:\MDaemon\Gateways\",
        br"Gateways=C:\MDaemon\Digests\",
    );
    refused(&lab, &["folders of their own", r"C:\MDaemon\Digests"]);
}

/// The gateways' target reached through a `[[mounts]]` entry that leads to
/// the digests folder of the installation: one folder under two names.
#[test]
fn a_mount_entry_makes_the_gateways_target_the_digests_folder() {
    let lab = lab(82);
    add_mount(&lab, r"\\otherserver\gw", &lab.install.join("Digests"));
    set_shared(&lab, &[("gateways", r"\\otherserver\gw")]);
    refused(&lab, &["folders of their own", r"\\otherserver\gw"]);
}

#[test]
fn the_archive_target_inside_the_pem_target() {
    let lab = lab(83);
    set_shared(&lab, &[("archive", &format!(r"{SHARE}\PEM\Archive"))]);
    refused(&lab, &["folders of their own", "the archive target"]);
}

/// A gateway's file name Windows refuses: found before anything moves.
#[test]
#[cfg(unix)]
fn a_name_windows_refuses_in_the_gateways() {
    let lab = lab(84);
    let gw = lab.install.join("Gateways/partner-firma.example");
    std::fs::write(gw.join("queued:1.msg"), b"x").unwrap();
    refused(
        &lab,
        &[
            "names valid on Windows",
            r"\fileserver\mdaemon\Gateways\partner-firma.example\queued:1.msg",
        ],
    );
}

/// Two digests' folders whose names differ only in case would be one
/// folder on Windows.
#[test]
#[cfg(unix)]
fn two_digests_folders_whose_names_differ_only_in_case() {
    let lab = lab(88);
    let other = lab.install.join("Digests/NEWSLETTER@example.com");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("md50000000001.msg"), b"x").unwrap();
    refused(
        &lab,
        &[
            "folders of their own",
            r"C:\MDaemon\Digests\NEWSLETTER@example.com is the same folder as the mail store folder C:\MDaemon\Digests\newsletter@example.com",
        ],
    );
}

#[test]
#[cfg(unix)]
fn the_archive_on_a_share_too_small() {
    if !root("mount a tmpfs") {
        return;
    }
    let lab = lab(85);
    let tiny = TmpfsMount::new("size=64k").expect("mount a tmpfs");
    add_mount(&lab, r"\\otherserver\archive", tiny.path());
    set_shared(&lab, &[("archive", r"\\otherserver\archive\Mail")]);
    refused(
        &lab,
        &["free space", "archive", &tiny.path().display().to_string()],
    );
}

/// Without its key MDaemon would go on writing the archive where it was:
/// refused, saying what to add or that the plan may keep it on each node;
/// kept there, the rest moves and the archive stays as it was.
#[test]
fn no_archive_key_is_refused_unless_the_plan_keeps_it_local() {
    let lab = lab(86);
    lab.edit_ini(b"Archive=C:\\MDaemon\\Archive\\\r\n", b"");
    refused(
        &lab,
        &[
            "MDaemon.ini names the store",
            r"Archive=C:\MDaemon\Archive\",
            r#"keep_local = ["archive"]"#,
        ],
    );
    let archive = files_below(&lab.install.join("Archive"));
    lab.keep_local(&["archive"]);
    moves_and_undoes(&lab, &[], |said| {
        assert!(
            said.contains("warning: kept on each node (keep_local in the plan): the mail archive"),
            "{said}"
        );
        assert_eq!(files_below(&lab.install.join("Archive")), archive);
    });
}

/// The gateways named under another key than the profile's guess: that
/// value moves and is rewritten.
#[test]
fn the_gateways_named_under_another_key_move_and_that_value_follows() {
    let lab = lab(87);
    lab.edit_ini(
        b"Gateways=C:\\MDaemon\\Gateways\\",
        b"GatewayRoot=C:\\MDaemon\\Gateways\\",
    );
    moves_and_undoes(&lab, &[], |_| {
        let root = ini_value(&lab, "Directories", "GatewayRoot").unwrap();
        assert_eq!(root, format!(r"{SHARE}\Gateways\"));
        assert!(files_below(&lab.install.join("Gateways")).is_empty());
    });
}

/// A folder kept on each node that lies inside a tree that moves would
/// move with it: refused, saying so.
#[test]
fn a_kept_archive_inside_the_users_tree() {
    let lab = lab(89);
    std::fs::rename(
        lab.install.join("Archive"),
        lab.install.join("Users/Archive"),
    )
    .unwrap();
    lab.edit_ini(
        br"Archive=C:\MDaemon\Archive\",
        br"Archive=C:\MDaemon\Users\Archive\",
    );
    lab.keep_local(&["Archive"]);
    refused(
        &lab,
        &[
            "folders of their own",
            r"the archive folder kept on each node C:\MDaemon\Users\Archive lies inside the mail store tree ([Directories] Users) C:\MDaemon\Users",
            "take it out of keep_local",
        ],
    );
}

/// The same through a link: the kept archive's folder is, on disk, a
/// folder of the Users tree under another name.
#[test]
#[cfg(unix)]
fn a_kept_archive_that_is_a_users_folder_through_a_link() {
    let lab = lab(90);
    std::fs::rename(
        lab.install.join("Archive"),
        lab.install.join("Users/Archive"),
    )
    .unwrap();
    std::os::unix::fs::symlink(
        lab.install.join("Users/Archive"),
        lab.install.join("Archive"),
    )
    .unwrap();
    lab.keep_local(&["archive"]);
    refused(
        &lab,
        &[
            "folders of their own",
            r"the archive folder kept on each node C:\MDaemon\Archive",
            "on disk",
        ],
    );
}
