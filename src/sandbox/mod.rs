//! `mdcluster sandbox DIR`: a realistic, clearly labelled SAMPLE MDaemon
//! installation for tests, benchmarks and the demo.
//!
//! Deterministic for a seed: file names, contents and modification times are
//! the same on every run (folder times are not). Accounts are generated in
//! parallel, each from its own random stream, so the result does not depend on
//! the number of threads. Every MDaemon name comes from the profile.

mod content;
pub mod service;

use crate::problem::{Exit, Problem};
use crate::profile::Profile;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// The Windows path the sandbox stands for.
pub const WINDOWS_ROOT: &str = r"C:\MDaemon";
/// The share the demo and the printed plan use.
pub const DEMO_SHARE: &str = r"\\fileserver\mdaemon";

#[derive(Clone, Debug)]
pub struct Options {
    pub accounts: usize,
    /// Messages in all mailboxes together.
    pub messages: usize,
    pub seed: u64,
    /// Every message this many bytes (benchmark stores of many small files);
    /// None: realistic sizes (mostly 2-20 KB, a few up to 5 MB).
    pub message_size: Option<usize>,
}

/// Make the sandbox at `dir` a secondary of the sandbox at `primary`: the
/// certificates the primary uses installed (in the simulated store), and the
/// server name changed. Its licence key stays its own (from its seed).
pub fn make_secondary(
    dir: &Path,
    primary: &Path,
    name: &str,
    profile: &Profile,
) -> Result<(), Problem> {
    let io = |doing: &'static str, p: &Path| {
        let p = p.to_path_buf();
        move |e: std::io::Error| Problem::io(Exit::Usage, doing, &p, &e)
    };
    let store = primary.join(CERT_STORE);
    let certs = std::fs::read(&store).map_err(io("read the certificates of", &store))?;
    std::fs::write(dir.join(CERT_STORE), certs).map_err(io("write", dir))?;
    let ini_path = dir.join(profile.ini.file.replace('\\', "/"));
    let primary_ini = std::fs::read(primary.join(profile.ini.file.replace('\\', "/")))
        .map_err(io("read", primary))?;
    let p = crate::ini::IniDoc::parse(primary_ini);
    let mut doc =
        crate::ini::IniDoc::parse(std::fs::read(&ini_path).map_err(io("read", &ini_path))?);
    let key = &profile.facts.certificates_in_use.value;
    if let Some(v) = p.get_str(&key[0], &key[1]) {
        let _ = doc.set_str(&key[0], &key[1], &v);
    }
    let _ = doc.set_str("Special", "ServerName", name);
    // Its own licence key (one per node is a cluster rule), derived from the name.
    let lk = &profile.facts.licence_key.value;
    let h = blake3::hash(format!("sandbox licence {name}").as_bytes()).to_hex();
    let h = h.to_ascii_uppercase();
    let _ = doc.set_str(
        &lk[0],
        &lk[1],
        &format!("SAMPLE-{}-{}-{}", &h[..5], &h[5..10], &h[10..15]),
    );
    std::fs::write(&ini_path, doc.as_bytes()).map_err(io("write", &ini_path))?;
    Ok(())
}

impl Default for Options {
    fn default() -> Options {
        Options {
            accounts: 12,
            messages: 600,
            seed: 1,
            message_size: None,
        }
    }
}

/// What was written.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Report {
    pub accounts: usize,
    pub domains: usize,
    pub messages: u64,
    pub files: u64,
    pub bytes: u64,
}

pub(crate) struct Account {
    pub domain: String,
    pub mailbox: String,
    pub full_name: String,
    pub messages: usize,
    pub seed: u64,
    /// The folder below the root that holds this account's mail folder
    /// (`Users`, or another one: some installations keep accounts elsewhere).
    pub base: String,
    /// A fixed message size (benchmarks), or None for realistic sizes.
    pub message_size: Option<usize>,
}

pub use crate::cluster::facts::SANDBOX_CERT_STORE as CERT_STORE;

/// Where the sandbox keeps the one account that lives outside the Users tree.
pub(crate) const OUTSIDE_USERS: &str = "MailExtra";

const DOMAINS: [&str; 3] = ["example.com", "example.net", "example.org"];
const FIRST: [&str; 26] = [
    "anna", "ben", "carla", "dmitri", "eva", "farid", "gina", "hugo", "ines", "jonas", "kim",
    "lena", "marco", "nina", "oskar", "paula", "quentin", "rosa", "sven", "tara", "uwe", "vera",
    "willem", "xenia", "yusuf", "zoe",
];
const LAST: [&str; 14] = [
    "meyer", "schmidt", "novak", "rossi", "dubois", "garcia", "kowalski", "jensen", "smith",
    "tanaka", "ivanova", "bauer", "keller", "weber",
];
/// Full names with Windows-1252 letters, so Userlist.dat carries non-ASCII bytes.
const SPECIAL_NAMES: [&str; 3] = ["Jörg Müller", "Zoë Françoise", "Åsa Næss"];

/// Write a sandbox into `dir`, which must be missing or empty.
pub fn create(dir: &Path, profile: &Profile, opts: &Options) -> Result<Report, Problem> {
    if crate::fsops::exists(dir) && !crate::fsops::tree::is_empty_dir(dir).unwrap_or(false) {
        return Err(
            Problem::usage(format!("{} exists and is not empty", dir.display()))
                .fix("give a new or empty folder; the sandbox never writes over existing files"),
        );
    }
    if opts.accounts == 0 {
        return Err(Problem::usage("--accounts must be at least 1"));
    }
    let io = |doing: &'static str, p: &Path| {
        let p = p.to_path_buf();
        move |e: std::io::Error| Problem::io(Exit::Other, doing, &p, &e)
    };
    std::fs::create_dir_all(dir).map_err(io("create", dir))?;

    let accounts = make_accounts(opts, profile);
    let written: Vec<Result<(u64, u64, u64), Problem>> = accounts
        .par_iter()
        .map(|a| {
            content::write_mailbox(
                &dir.join(&a.base).join(&a.domain).join(&a.mailbox),
                a,
                profile,
            )
        })
        .collect();
    let mut report = Report {
        accounts: accounts.len(),
        domains: domains_used(&accounts).len(),
        ..Report::default()
    };
    for r in written {
        let (messages, files, bytes) = r?;
        report.messages += messages;
        report.files += files;
        report.bytes += bytes;
    }
    let mut extra = content::write_installation(dir, profile, opts, &accounts)?;
    extra.extend(content::write_public_folders(dir, profile, opts)?);
    extra.extend(content::write_other_trees(dir, profile, opts, &accounts)?);
    for (files, bytes) in extra {
        report.files += files;
        report.bytes += bytes;
    }
    Ok(report)
}

fn domains_used(accounts: &[Account]) -> Vec<&str> {
    let mut d: Vec<&str> = accounts.iter().map(|a| a.domain.as_str()).collect();
    d.sort();
    d.dedup();
    d
}

fn make_accounts(opts: &Options, profile: &Profile) -> Vec<Account> {
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut taken = std::collections::BTreeSet::new();
    // A skewed share of the mail per account: a few heavy mailboxes, many light.
    let weights: Vec<f64> = (0..opts.accounts)
        .map(|_| rng.random_range(0.2f64..1.0).powi(3))
        .collect();
    let total: f64 = weights.iter().sum();
    let mut remaining = opts.messages;
    let mut accounts = Vec::with_capacity(opts.accounts);
    for (i, w) in weights.iter().enumerate() {
        let domain =
            DOMAINS[(i * 7 + rng.random_range(0..DOMAINS.len())) % DOMAINS.len()].to_string();
        let first = FIRST[rng.random_range(0..FIRST.len())];
        let last = LAST[rng.random_range(0..LAST.len())];
        let mut mailbox = format!("{first}.{last}");
        let mut n = 2;
        while !taken.insert((domain.clone(), mailbox.clone())) {
            mailbox = format!("{first}.{last}{n}");
            n += 1;
        }
        let full_name = if i < SPECIAL_NAMES.len() && opts.accounts > 3 {
            SPECIAL_NAMES[i].to_string()
        } else {
            format!("{} {}", capitalise(first), capitalise(last))
        };
        let messages = if i + 1 == opts.accounts {
            remaining
        } else {
            let m = ((opts.messages as f64) * w / total).round() as usize;
            m.min(remaining)
        };
        remaining -= messages;
        // With a few accounts or more, the last one lives outside the Users tree.
        let base = if opts.accounts >= 4 && i + 1 == opts.accounts {
            OUTSIDE_USERS.to_string()
        } else {
            profile.mailstore.users_dir.value.clone()
        };
        accounts.push(Account {
            domain,
            mailbox,
            full_name,
            messages,
            seed: rng.random(),
            base,
            message_size: opts.message_size,
        });
    }
    accounts
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// A plan for a sandbox at `dir` and a share folder at `share`.
pub fn plan_text(dir: &Path, share: &Path) -> String {
    use crate::plan::file::{InstallTable, MountTable, NodeTable, PlanFile, SharedTable};
    let mount = |windows: &str, local: &Path| MountTable {
        windows: windows.to_string(),
        local: local.to_string_lossy().into_owned(),
    };
    let file = PlanFile {
        version: crate::plan::VERSION,
        install: InstallTable {
            root: WINDOWS_ROOT.to_string(),
        },
        shared: SharedTable {
            path: DEMO_SHARE.to_string(),
            ..SharedTable::default()
        },
        nodes: vec![NodeTable {
            name: "MAIL1".into(),
            address: "127.0.0.1".into(),
            role: crate::plan::Role::Primary,
            server_id: Some(1),
            replaces: None,
        }],
        options: Default::default(),
        load_balancer: Default::default(),
        mounts: vec![mount(WINDOWS_ROOT, dir), mount(DEMO_SHARE, share)],
    };
    let about = format!(
        "Plan for the mdcluster SAMPLE installation at {}.",
        dir.display()
    );
    file.to_text(&[
        &about,
        "The [[mounts]] map the Windows paths MDaemon uses to the sandbox folders.",
    ])
}

/// The default share folder beside a sandbox: `<dir>-share`.
pub(crate) fn default_share(dir: &Path) -> PathBuf {
    let mut name = dir
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "sandbox".into());
    name.push("-share");
    dir.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_unique_and_share_all_messages() {
        let opts = Options {
            accounts: 40,
            messages: 1000,
            seed: 7,
            message_size: None,
        };
        let profile = Profile::builtin();
        let a = make_accounts(&opts, &profile);
        assert_eq!(a.iter().map(|a| a.messages).sum::<usize>(), 1000);
        let names: std::collections::BTreeSet<_> =
            a.iter().map(|a| (&a.domain, &a.mailbox)).collect();
        assert_eq!(names.len(), 40);
        let b = make_accounts(&opts, &profile);
        assert_eq!(a.iter().filter(|x| x.base == OUTSIDE_USERS).count(), 1);
        assert_eq!(
            a.iter().map(|x| &x.mailbox).collect::<Vec<_>>(),
            b.iter().map(|x| &x.mailbox).collect::<Vec<_>>()
        );
    }
}
