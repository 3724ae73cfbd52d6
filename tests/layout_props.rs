//! Any layout, nothing lost (issue 12): random installations where
//! LockFiles, PEM, the mail store, the public folders, account folders and
//! the plan's targets lie anywhere (nested in each other, in the
//! installation, in App, shared between accounts, aliased through links
//! and mounts) end in exactly one of two ways:
//!
//! - refused before any change: the preview fails, and installation and
//!   share are byte-identical afterwards; or
//! - a correct result: every account's mail is where Userlist.dat now says,
//!   LockFiles and PEM where MDaemon.ini says, nothing is lost; and undo
//!   gives the original tree byte for byte.
//!
//! The engine runs in-process (the same code as `apply --yes`). 24 cases by
//! default (each builds an installation); `PROPTEST_CASES` sets more.

mod common;
use common::*;
use mdcluster::engine::{events::Collect, Engine};
use mdcluster::location::Resolver;
use mdcluster::plan::Plan;
use mdcluster::profile::Profile;
use mdcluster::winpath::WinPath;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const ACCOUNTS: usize = 5;

/// Where a folder of the installation is put (relative to the root), or
/// which other folder it is.
#[derive(Clone, Debug)]
enum Spot {
    Default,
    Root,
    App,
    /// The Users tree itself.
    UsersTree,
    /// A new folder inside the Users tree.
    InUsers,
    /// A new folder of its own, elsewhere in the installation.
    Fresh,
    /// The mail folder of account N (or a folder inside it).
    Account(usize, bool),
    /// The state folder (a folder inside it).
    State,
}

#[derive(Clone, Debug)]
enum Target {
    Default,
    /// Inside another target: "lockfiles", "pem", "mailboxes", "share".
    Inside(&'static str),
    /// The target of a domain folder of the store.
    Domain,
}

#[derive(Clone, Debug)]
enum Alias {
    None,
    /// `<share>/Users` is a link to the installation's Users tree.
    UsersLink,
    /// `<share>/PEM` is a link to the installation's PEM folder.
    PemLink,
    /// A `[[mounts]]` entry maps the mailboxes target onto the Users tree.
    UsersMount,
    /// `<share>/Users` is a link to the installation root.
    RootLink,
}

#[derive(Clone, Debug)]
struct Layout {
    lockfiles: Spot,
    pem: Spot,
    users_elsewhere: bool,
    public_in_users: bool,
    accounts: Vec<Spot>,
    lockfiles_target: Target,
    pem_target: Target,
    mailboxes_target: Target,
    alias: Alias,
    seed: u64,
}

fn spot() -> impl Strategy<Value = Spot> {
    prop_oneof![
        6 => Just(Spot::Default),
        1 => Just(Spot::Root),
        1 => Just(Spot::App),
        1 => Just(Spot::UsersTree),
        1 => Just(Spot::InUsers),
        2 => Just(Spot::Fresh),
        2 => (0..ACCOUNTS, any::<bool>()).prop_map(|(n, inside)| Spot::Account(n, inside)),
        1 => Just(Spot::State),
    ]
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        6 => Just(Target::Default),
        1 => prop_oneof![
            Just("lockfiles"),
            Just("pem"),
            Just("mailboxes"),
            Just("share")
        ]
        .prop_map(Target::Inside),
        1 => Just(Target::Domain),
    ]
}

fn layout() -> impl Strategy<Value = Layout> {
    (
        spot(),
        spot(),
        any::<bool>(),
        prop::bool::weighted(0.15),
        prop::collection::vec(prop_oneof![4 => Just(Spot::Default), 3 => spot()], ACCOUNTS),
        (target(), target(), target()),
        prop_oneof![
            6 => Just(Alias::None),
            1 => Just(Alias::UsersLink),
            1 => Just(Alias::PemLink),
            1 => Just(Alias::UsersMount),
            1 => Just(Alias::RootLink),
        ],
        0u64..1000,
    )
        .prop_map(
            |(lockfiles, pem, users_elsewhere, public_in_users, accounts, t, alias, seed)| Layout {
                lockfiles,
                pem,
                users_elsewhere,
                public_in_users,
                accounts,
                lockfiles_target: t.0,
                pem_target: t.1,
                mailboxes_target: t.2,
                alias,
                seed,
            },
        )
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24)
}

/// The bytes of Userlist.dat's lines, and the MailDir field of line `n` (0-based account).
struct Userlist {
    path: PathBuf,
    lines: Vec<Vec<u8>>,
}

impl Userlist {
    fn read(install: &Path) -> Userlist {
        let path = install.join("App/Userlist.dat");
        let bytes = std::fs::read(&path).unwrap();
        Userlist {
            path,
            lines: bytes.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect(),
        }
    }
    fn accounts(&self) -> Vec<usize> {
        (0..self.lines.len())
            .filter(|&i| self.lines[i].len() >= 195)
            .collect()
    }
    fn field(&self, line: usize, cols: std::ops::Range<usize>) -> String {
        String::from_utf8_lossy(&self.lines[line][cols])
            .trim_end()
            .to_string()
    }
    fn mail_dir(&self, line: usize) -> String {
        self.field(line, 105..195)
    }
    fn set_mail_dir(&mut self, line: usize, value: &str) {
        let mut field = value.as_bytes().to_vec();
        field.resize(90, b' ');
        self.lines[line].splice(105..195, field);
    }
    fn write(&self) {
        std::fs::write(&self.path, self.lines.join(&b'\n')).unwrap();
    }
}

/// The Windows path of a folder relative to the root.
fn win(rel: &str) -> String {
    if rel.is_empty() {
        r"C:\MDaemon\".to_string()
    } else {
        format!(r"C:\MDaemon\{}\", rel.replace('/', "\\"))
    }
}

fn set_ini(lab: &Lab, key: &str, value: &str) {
    let bytes = lab.ini_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let prefix = format!("{key}=C:\\MDaemon\\");
    let start = text
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("{key} in MDaemon.ini"));
    let new = format!("{key}={value}");
    std::fs::write(lab.ini(), text.replacen(start, &new, 1)).unwrap();
}

/// A folder (relative to the root) for `spot`; created (with a file in it)
/// when it is new. `own` is the folder the value names by default, `users`
/// the Users tree.
fn place(
    lab: &Lab,
    spot: &Spot,
    own: &str,
    users: &str,
    accounts: &[String],
    name: &str,
) -> String {
    let rel = match spot {
        Spot::Default => return own.to_string(),
        Spot::Root => String::new(),
        Spot::App => "App".into(),
        Spot::UsersTree => users.into(),
        Spot::InUsers => format!("{users}/{name}"),
        Spot::Fresh => format!("Data/{name}"),
        Spot::Account(n, inside) => {
            let base = accounts[*n % accounts.len()].clone();
            if *inside && base.is_empty() {
                name.to_string()
            } else if *inside {
                format!("{base}/{name}")
            } else {
                base
            }
        }
        Spot::State => format!("mdcluster/{name}"),
    };
    let dir = lab.install.join(&rel);
    if !dir.exists() {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.dat")), name.as_bytes()).unwrap();
    }
    rel
}

/// The installation's folder (relative) of an account's MailDir.
fn rel_of(mail_dir: &str) -> String {
    mail_dir
        .trim_start_matches(r"C:\MDaemon\")
        .trim_end_matches('\\')
        .replace('\\', "/")
}

/// Build the layout on a fresh lab.
fn build(l: &Layout) -> Lab {
    let lab = Lab::in_shm(mdcluster::sandbox::Options {
        accounts: ACCOUNTS,
        messages: 30,
        seed: l.seed,
        message_size: None,
    });
    if l.users_elsewhere {
        std::fs::create_dir_all(lab.install.join("Mail")).unwrap();
        std::fs::rename(lab.install.join("Users"), lab.install.join("Mail/Users")).unwrap();
        lab.edit_ini(
            b"Users=C:\\MDaemon\\Users\\",
            b"Users=C:\\MDaemon\\Mail\\Users\\",
        );
        lab.edit_ini(
            b"MailDir=C:\\MDaemon\\Users\\",
            b"MailDir=C:\\MDaemon\\Mail\\Users\\",
        );
        let mut u = Userlist::read(&lab.install);
        for line in u.accounts() {
            let old = u.mail_dir(line);
            if let Some(rest) = old.strip_prefix(r"C:\MDaemon\Users\") {
                u.set_mail_dir(line, &format!(r"C:\MDaemon\Mail\Users\{rest}"));
            }
        }
        u.write();
    }
    let users = if l.users_elsewhere {
        "Mail/Users"
    } else {
        "Users"
    };
    let mut u = Userlist::read(&lab.install);
    let lines = u.accounts();
    let folders: Vec<String> = lines.iter().map(|&i| rel_of(&u.mail_dir(i))).collect();
    let spot_rel = |s: &Spot, own: &str, name: &str| place(&lab, s, own, users, &folders, name);
    let lockfiles = spot_rel(&l.lockfiles, "LockFiles", "locks");
    if lockfiles != "LockFiles" {
        set_ini(&lab, "LockFiles", &win(&lockfiles));
    }
    let pem = spot_rel(&l.pem, "Pem", "keys");
    if pem != "Pem" {
        set_ini(&lab, "PEM", &win(&pem));
    }
    if l.public_in_users {
        let rel = format!("{users}/Public");
        std::fs::rename(lab.install.join("Public Folders"), lab.install.join(&rel)).unwrap();
        set_ini(&lab, "PublicFolders", &win(&rel));
    }
    // An account's folder moves to its new place (merged into a folder that
    // exists), so that no folder of its old name is left behind.
    for (n, s) in l.accounts.iter().enumerate() {
        let current = rel_of(&u.mail_dir(lines[n]));
        let rel = match s {
            Spot::Default => continue,
            Spot::Root => String::new(),
            Spot::App => "App".into(),
            Spot::UsersTree => users.into(),
            Spot::InUsers => format!("{users}/acct{n}"),
            Spot::Fresh => format!("Data/acct{n}"),
            Spot::State => format!("mdcluster/acct{n}"),
            Spot::Account(j, inside) => {
                let other = rel_of(&u.mail_dir(lines[*j % lines.len()]));
                match (*inside, other == current) {
                    (true, false) if other.is_empty() => format!("acct{n}"),
                    (true, false) => format!("{other}/acct{n}"),
                    (true, true) => format!("Data/acct{n}"),
                    (false, _) => other,
                }
            }
        };
        let (from, to) = (lab.install.join(&current), lab.install.join(&rel));
        if rel == current || to.starts_with(&from) || !from.is_dir() {
            continue;
        }
        merge(&from, &to);
        u.set_mail_dir(lines[n], &win(&rel));
    }
    u.write();

    let share_sub = |t: &Target, own: &str| -> Option<String> {
        match t {
            Target::Default => None,
            Target::Inside(outer) => {
                let base = match *outer {
                    "lockfiles" => r"\\fileserver\mdaemon\Users\LockFiles",
                    "pem" => r"\\fileserver\mdaemon\PEM",
                    "mailboxes" => r"\\fileserver\mdaemon\Users",
                    _ => r"\\fileserver\mdaemon",
                };
                Some(format!(r"{base}\{own}"))
            }
            Target::Domain => Some(r"\\fileserver\mdaemon\Users\example.com".into()),
        }
    };
    let mut shared = String::new();
    for (key, t, own) in [
        ("lockfiles", &l.lockfiles_target, "Locks"),
        ("pem", &l.pem_target, "Keys"),
        ("mailboxes", &l.mailboxes_target, "Boxes"),
    ] {
        if let Some(p) = share_sub(t, own) {
            shared.push_str(&format!("{key} = '{p}'\n"));
        }
    }
    if !shared.is_empty() {
        lab.edit_plan(
            "path = '\\\\fileserver\\mdaemon'\n",
            &format!("path = '\\\\fileserver\\mdaemon'\n{shared}"),
        );
    }
    match l.alias {
        Alias::None => {}
        Alias::UsersLink => symlink(&lab.install.join(users), &lab.share.join("Users")),
        Alias::PemLink => symlink(&lab.install.join(&pem), &lab.share.join("PEM")),
        Alias::RootLink => symlink(&lab.install, &lab.share.join("Users")),
        Alias::UsersMount => {
            let text = std::fs::read_to_string(&lab.plan).unwrap();
            let local = toml::Value::String(lab.install.join(users).display().to_string());
            std::fs::write(
                &lab.plan,
                format!("{text}\n[[mounts]]\nwindows = '\\\\fileserver\\mdaemon\\Users'\nlocal = {local}\n"),
            )
            .unwrap();
        }
    }
    lab
}

/// Move the content of `from` into `to` (created when missing); where a
/// name is taken, `from`'s entry is dropped. `from` goes.
fn merge(from: &Path, to: &Path) {
    if !to.exists() {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::rename(from, to).unwrap();
        return;
    }
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let dest = to.join(e.file_name());
        if !dest.exists() {
            std::fs::rename(e.path(), dest).unwrap();
        }
    }
    std::fs::remove_dir_all(from).unwrap();
}

fn symlink(to: &Path, at: &Path) {
    #[cfg(unix)]
    std::os::unix::fs::symlink(to, at).unwrap();
    #[cfg(not(unix))]
    let _ = (to, at);
}

/// Every file below `dir` (relative path -> content hash).
fn files(dir: &Path) -> BTreeMap<String, String> {
    tree_map(dir, true)
        .into_iter()
        .filter(|(_, v)| v.starts_with("file"))
        .map(|(k, v)| (k, v.rsplit(' ').next().unwrap_or_default().to_string()))
        .collect()
}

/// What must still be reachable afterwards: each account's files, and
/// LockFiles' and PEM's, keyed by what names their folder.
fn contents(lab: &Lab, resolver: &Resolver) -> Vec<(String, BTreeMap<String, String>)> {
    let locate = |w: &str| {
        WinPath::parse(w)
            .ok()
            .and_then(|p| resolver.locate(&p).ok())
            .map(|l| l.local)
    };
    let mut out = Vec::new();
    let u = Userlist::read(&lab.install);
    for line in u.accounts() {
        if let Some(dir) = locate(&u.mail_dir(line)) {
            out.push((format!("account line {}", line + 1), files(&dir)));
        }
    }
    let ini = String::from_utf8_lossy(&lab.ini_bytes()).into_owned();
    for key in ["LockFiles", "PEM"] {
        let prefix = format!("{key}=");
        if let Some(v) = ini.lines().find_map(|l| l.strip_prefix(&prefix)) {
            if let Some(dir) = locate(v.trim()) {
                out.push((key.to_string(), files(&dir)));
            }
        }
    }
    out
}

fn check(l: &Layout) -> Result<&'static str, TestCaseError> {
    let lab = build(l);
    let before = lab.hash();
    let profile = Profile::builtin();
    let plan = match Plan::load(&lab.plan, &profile) {
        Ok(p) => p,
        Err(_) => return Ok("plan refused"),
    };
    let resolver = Resolver::new(plan.mounts.clone());
    let wanted = contents(&lab, &resolver);
    let mut engine = match Engine::open(plan, profile) {
        Ok(e) => e,
        Err(_) => {
            prop_assert_eq!(lab.hash(), before, "opening changed something");
            return Ok("refused");
        }
    };
    let preview = match engine.preview() {
        Ok(p) => p,
        Err(e) => {
            if std::env::var_os("MDCLUSTER_SHOW_LAYOUTS").is_some() {
                eprintln!("refusal: {e}");
            }
            prop_assert_eq!(lab.hash(), before, "a refused preview changed something");
            return Ok("refused");
        }
    };
    let sink = Collect::default();
    if let Err(p) = engine.apply(&preview, "apply", &sink) {
        return Err(TestCaseError::fail(format!(
            "passed the preview but failed: {p}"
        )));
    }
    // Each account's mail, LockFiles and PEM where the files now say.
    let now: BTreeMap<String, BTreeMap<String, String>> =
        contents(&lab, &resolver).into_iter().collect();
    for (what, files) in &wanted {
        let got = now.get(what).cloned().unwrap_or_default();
        for (rel, hash) in files {
            prop_assert_eq!(
                got.get(rel),
                Some(hash),
                "{}: {} is not where the files now say",
                what,
                rel
            );
        }
    }
    prop_assert_eq!(lab_leftovers(&lab), Vec::<String>::new());
    engine
        .undo(&sink)
        .map_err(|p| TestCaseError::fail(format!("undo failed: {p}")))?;
    prop_assert_eq!(lab.hash(), before, "undo gives the original");
    prop_assert_eq!(lab_leftovers(&lab), Vec::<String>::new());
    Ok("moved and undone")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn any_layout_is_refused_untouched_or_moved_and_undone_exactly(l in layout()) {
        let outcome = check(&l)?;
        if std::env::var_os("MDCLUSTER_SHOW_LAYOUTS").is_some() {
            eprintln!("{outcome}: {l:?}");
        }
    }
}

/// Both outcomes occur (the generator is not all refusals).
#[test]
fn the_generator_reaches_both_outcomes() {
    let plain = Layout {
        lockfiles: Spot::Default,
        pem: Spot::Default,
        users_elsewhere: true,
        public_in_users: false,
        accounts: vec![Spot::Default; ACCOUNTS],
        lockfiles_target: Target::Default,
        pem_target: Target::Default,
        mailboxes_target: Target::Default,
        alias: Alias::None,
        seed: 3,
    };
    assert_eq!(check(&plain).unwrap(), "moved and undone");
    let aliased = Layout {
        alias: Alias::UsersMount,
        ..plain
    };
    assert_eq!(check(&aliased).unwrap(), "refused");
}
