//! The plan file (TOML, version 1): what to do, for headless runs and as the
//! wizard's saved answers.
//!
//! Parsing is strict: an unknown key, a wrong type, a duplicate node name or
//! server ID, no primary or two primaries, a relative path, or a shared path
//! inside the installation is an error naming file, line and column. Every
//! semantic error is reported, not just the first.

pub mod file;
mod ha;
mod load_balancer;
mod server_id;

pub use load_balancer::{
    check_cookie_name, check_output_dir, check_output_dir_on_disk, FailoverPolicy, HttpMode, Kind,
    LoadBalancer, Ports, Service, DEFAULT_COOKIE, DEFAULT_LISTEN,
};

pub use file::PlanFile;
pub use ha::{check_host_name, check_interface, check_process, Ha, HaHost};
pub use server_id::ServerId;

use crate::location::Mount;
use crate::problem::Problem;
use crate::profile::{Profile, Tree};
use crate::winpath::{self, WinPath};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use toml::Spanned;

/// The commented example printed by `mdcluster plan example`.
pub(crate) const EXAMPLE: &str = include_str!("../../assets/plan-example.toml");

pub const VERSION: i64 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Primary,
    Secondary,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Node {
    pub name: String,
    pub address: String,
    pub role: Role,
    /// None when the plan leaves it to mdcluster (assigned from the cluster
    /// manifest).
    pub server_id: Option<ServerId>,
    /// A removed node whose server ID this node takes over (explicit replace).
    pub replaces: Option<String>,
}

/// Where the shared data goes. Defaults follow the profile (and MDaemon:
/// LockFiles below the mailboxes folder).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SharedPaths {
    pub path: WinPath,
    pub mailboxes: WinPath,
    pub public_folders: WinPath,
    pub lockfiles: WinPath,
    pub pem: WinPath,
    /// The gateways', digests' and archive's targets; None: the plan keeps
    /// the folder on each node (`keep_local`).
    pub gateways: Option<WinPath>,
    pub digests: Option<WinPath>,
    pub archive: Option<WinPath>,
}

impl SharedPaths {
    /// Where a tree of shared data goes; None: it stays on each node.
    pub fn tree(&self, tree: Tree) -> Option<&WinPath> {
        match tree {
            Tree::Mailboxes => Some(&self.mailboxes),
            Tree::PublicFolders => Some(&self.public_folders),
            Tree::Gateways => self.gateways.as_ref(),
            Tree::Digests => self.digests.as_ref(),
            Tree::Archive => self.archive.as_ref(),
        }
    }

    /// Keep a tree on each node (for one run); false for the mail store,
    /// which cannot be.
    pub fn keep_local(&mut self, tree: Tree) -> bool {
        match tree {
            Tree::Gateways => self.gateways = None,
            Tree::Digests => self.digests = None,
            Tree::Archive => self.archive = None,
            Tree::Mailboxes | Tree::PublicFolders => return false,
        }
        true
    }

    /// The trees the plan keeps on each node.
    pub fn kept_local(&self) -> Vec<Tree> {
        Tree::ALL
            .into_iter()
            .filter(|t| self.tree(*t).is_none())
            .collect()
    }

    /// Every target by name, the shared path first: (what, where).
    pub fn named(&self) -> Vec<(&'static str, &WinPath)> {
        let trees = |local: bool| {
            Tree::ALL
                .into_iter()
                .filter(move |t| t.may_stay_local() == local)
                .filter_map(|t| self.tree(t).map(|p| (t.label(), p)))
        };
        // In the order of the plan file: the mail store, LockFiles, PEM,
        // then the others.
        std::iter::once(("shared path", &self.path))
            .chain(trees(false))
            .chain([("lock files", &self.lockfiles), ("PEM", &self.pem)])
            .chain(trees(true))
            .collect()
    }
}

/// A validated plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The file it was read from, for messages.
    pub file: PathBuf,
    pub install_root: WinPath,
    pub shared: SharedPaths,
    pub nodes: Vec<Node>,
    pub mounts: Vec<Mount>,
    pub options: Options,
    /// `[load_balancer]`: what `mdcluster lb` generates (defaults when absent).
    pub load_balancer: LoadBalancer,
}

/// `[options]`: how the run goes. Each is also a command-line flag.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// Drop RESTART.SEM after MDaemon.ini is rewritten (`--restart`).
    #[serde(default)]
    pub restart: bool,
    /// Copy the mail store and keep the source until `mdcluster cleanup` (`--keep-source`).
    #[serde(default)]
    pub keep_source: bool,
    /// Stop MDaemon while its data moves and start it afterwards (`--stop-mdaemon`).
    #[serde(default)]
    pub stop_mdaemon: bool,
}

/// One problem in a plan file, with its position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanError {
    /// 1-based; 0 when the problem has no place in the text.
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub fix: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    version: Spanned<i64>,
    install: RawInstall,
    shared: RawShared,
    #[serde(default)]
    nodes: Vec<RawNode>,
    #[serde(default)]
    mounts: Vec<RawMount>,
    #[serde(default)]
    options: Options,
    #[serde(default)]
    load_balancer: load_balancer::RawLoadBalancer,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInstall {
    root: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawShared {
    path: Spanned<String>,
    mailboxes: Option<Spanned<String>>,
    public_folders: Option<Spanned<String>>,
    lockfiles: Option<Spanned<String>>,
    pem: Option<Spanned<String>>,
    gateways: Option<Spanned<String>>,
    digests: Option<Spanned<String>>,
    archive: Option<Spanned<String>>,
    keep_local: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    name: Spanned<String>,
    address: Spanned<String>,
    role: Spanned<Role>,
    server_id: Option<Spanned<i64>>,
    replaces: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMount {
    windows: Spanned<String>,
    local: Spanned<String>,
}

struct Collector<'a> {
    text: &'a str,
    errors: Vec<PlanError>,
    /// Also check what the plan names on this machine's disk (an output
    /// folder that is a file); off for the wizard's plan of every keystroke.
    disk: bool,
}

impl Collector<'_> {
    fn at(&mut self, offset: usize, message: impl Into<String>, fix: Option<&str>) {
        let (line, column) = crate::text::line_col(self.text, offset);
        self.errors.push(PlanError {
            line,
            column,
            message: message.into(),
            fix: fix.map(str::to_string),
        });
    }

    /// A plan that is not TOML of the plan's shape: the error, in words.
    fn toml_error(&mut self, e: &toml::de::Error) {
        let offset = e.span().map(|s| s.start).unwrap_or(0);
        let message = in_words(e.message().trim());
        let fix = if message.contains("escape") {
            Some("write Windows paths in single quotes, e.g. root = 'C:\\MDaemon', so backslashes are kept")
        } else if message.starts_with("unknown key") {
            Some("remove or correct the key; `mdcluster plan example` shows every key a plan may have")
        } else if message.starts_with("the key") && message.contains("is missing") {
            Some("add the missing key; `mdcluster plan example` shows a complete plan")
        } else {
            None
        };
        self.at(offset, message, fix);
    }

    fn path(&mut self, what: &str, value: &Spanned<String>) -> Option<WinPath> {
        match WinPath::parse(value.get_ref()) {
            Ok(p) => Some(p),
            Err(e) => {
                self.at(value.span().start, format!("{what}: {e}"), None);
                None
            }
        }
    }
}

impl Plan {
    /// Read and validate a plan file.
    pub fn load(path: &Path, profile: &Profile) -> Result<Plan, Problem> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Problem::io(crate::problem::Exit::Usage, "read the plan", path, &e)
                .fix("check the path given to --plan; `mdcluster plan example` prints a plan to start from")
        })?;
        Plan::parse_checked(&text, path, profile).map_err(|errors| plan_problem(path, &errors))
    }

    /// Validate plan text, without looking at the disk. `file` is only used
    /// in the result and messages.
    pub fn parse(text: &str, file: &Path, profile: &Profile) -> Result<Plan, Vec<PlanError>> {
        Plan::parse_with(text, file, profile, false)
    }

    /// [`Plan::parse`], and what the plan names on this machine checked too
    /// (as [`Plan::load`] does).
    pub fn parse_checked(
        text: &str,
        file: &Path,
        profile: &Profile,
    ) -> Result<Plan, Vec<PlanError>> {
        Plan::parse_with(text, file, profile, true)
    }

    fn parse_with(
        text: &str,
        file: &Path,
        profile: &Profile,
        disk: bool,
    ) -> Result<Plan, Vec<PlanError>> {
        let mut c = Collector {
            text,
            errors: Vec::new(),
            disk,
        };
        let Some(raw) = read_raw(&mut c) else {
            c.errors.sort_by_key(|e| (e.line, e.column));
            return Err(c.errors);
        };

        if *raw.version.get_ref() != VERSION {
            c.at(
                raw.version.span().start,
                format!(
                    "plan version {} is not supported; this mdcluster reads version {VERSION}",
                    raw.version.get_ref()
                ),
                Some("set version = 1"),
            );
        }

        let root = c.path("install.root", &raw.install.root);
        let shared_paths = shared_paths(&mut c, &raw.shared, profile);
        if let (Some(root), Some(shared)) = (&root, &shared_paths) {
            check_shared_layout(&mut c, root, shared);
        }
        let nodes = validate_nodes(&mut c, &raw.nodes);
        let load_balancer = load_balancer::validate(&mut c, &raw.load_balancer, profile, &nodes);
        let mounts = validate_mounts(&mut c, &raw.mounts);

        match (root, shared_paths.and_then(SharedAt::paths)) {
            (Some(install_root), Some(shared)) if c.errors.is_empty() => Ok(Plan {
                file: file.to_path_buf(),
                install_root,
                shared,
                nodes,
                mounts,
                options: raw.options,
                load_balancer,
            }),
            _ => {
                c.errors.sort_by_key(|e| (e.line, e.column));
                Err(c.errors)
            }
        }
    }

    /// Identity of what the local steps do: the installation and the shared
    /// targets (case-folded). A journal written for another fingerprint belongs
    /// to another plan. Nodes are left out, so adding a node later is the same plan.
    pub fn fingerprint(&self) -> String {
        let mut h = blake3::Hasher::new();
        // The gateways, digests and archive are left out: a journal of an
        // earlier version (which moved none of them) still belongs to its
        // plan, and a plan may share one later or keep it local (the engine
        // checks that a run being finished goes where the plan says).
        for (k, p) in [
            ("install", &self.install_root),
            ("shared", &self.shared.path),
            ("mailboxes", &self.shared.mailboxes),
            ("public_folders", &self.shared.public_folders),
            ("lockfiles", &self.shared.lockfiles),
            ("pem", &self.shared.pem),
        ] {
            h.update(k.as_bytes());
            h.update(b"=");
            h.update(winpath::fold(&p.to_string()).as_bytes());
            h.update(b"\n");
        }
        h.finalize().to_hex()[..16].to_string()
    }

    pub fn primary(&self) -> Option<&Node> {
        self.nodes.iter().find(|n| n.role == Role::Primary)
    }

    /// The plan as TOML text that [`Plan::parse`] reads back to the same plan.
    /// Shared sub-folders are written only where they differ from the defaults.
    pub fn render(&self, profile: &Profile) -> String {
        self.to_file(profile)
            .to_text(&["mdcluster plan (see `mdcluster plan example` for every key)"])
    }

    /// The plan as the file's tables.
    pub(crate) fn to_file(&self, profile: &Profile) -> PlanFile {
        let base = &self.shared.path;
        let differs = |value: &WinPath, default: Result<WinPath, winpath::WinPathError>| {
            (default.ok().as_ref() != Some(value)).then(|| value.to_string())
        };
        // A tree's target where it is not the default below the share.
        let other = |tree: Tree| {
            let default = base.join(&profile.tree(tree).shared);
            self.shared.tree(tree).and_then(|p| differs(p, default))
        };
        PlanFile {
            version: VERSION,
            install: file::InstallTable {
                root: self.install_root.to_string(),
            },
            shared: file::SharedTable {
                path: base.to_string(),
                mailboxes: differs(&self.shared.mailboxes, base.join(&profile.shared.mailboxes)),
                public_folders: differs(
                    &self.shared.public_folders,
                    base.join(&profile.shared.public_folders),
                ),
                lockfiles: differs(
                    &self.shared.lockfiles,
                    self.shared
                        .mailboxes
                        .join(&profile.shared.lockfiles_under_mailboxes),
                ),
                pem: differs(&self.shared.pem, base.join(&profile.shared.pem)),
                gateways: other(Tree::Gateways),
                digests: other(Tree::Digests),
                archive: other(Tree::Archive),
                keep_local: self
                    .shared
                    .kept_local()
                    .into_iter()
                    .map(|t| t.id().to_string())
                    .collect(),
            },
            nodes: self
                .nodes
                .iter()
                .map(|n| file::NodeTable {
                    name: n.name.clone(),
                    address: n.address.clone(),
                    role: n.role,
                    server_id: n.server_id.map(|id| i64::from(id.get())),
                    replaces: n.replaces.clone(),
                })
                .collect(),
            options: (&self.options).into(),
            load_balancer: load_balancer::table(&self.load_balancer, profile),
            mounts: self
                .mounts
                .iter()
                .map(|m| file::MountTable {
                    windows: m.windows.to_string(),
                    local: m.local.to_string_lossy().into_owned(),
                })
                .collect(),
        }
    }
}

/// The shared folders as the plan gives them (or their defaults), each with
/// the position it was given at (a default: `shared.path`'s).
struct SharedAt {
    base: (WinPath, usize),
    /// Each sub-folder by its key (`shared.mailboxes`); a tree the plan
    /// keeps on each node has none.
    subs: Vec<(&'static str, (WinPath, usize))>,
}

impl SharedAt {
    fn sub(&self, name: &str) -> Option<WinPath> {
        self.subs
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, (p, _))| p.clone())
    }

    fn paths(self) -> Option<SharedPaths> {
        Some(SharedPaths {
            mailboxes: self.sub("shared.mailboxes")?,
            public_folders: self.sub("shared.public_folders")?,
            lockfiles: self.sub("shared.lockfiles")?,
            pem: self.sub("shared.pem")?,
            gateways: self.sub("shared.gateways"),
            digests: self.sub("shared.digests"),
            archive: self.sub("shared.archive"),
            path: self.base.0,
        })
    }
}

/// `[shared]`: the path and its sub-folders, defaults from the profile
/// (LockFiles below the mailboxes folder, as MDaemon has it).
fn shared_paths(c: &mut Collector, raw: &RawShared, profile: &Profile) -> Option<SharedAt> {
    let shared = c.path("shared.path", &raw.path);
    let optional = |c: &mut Collector, what: &str, v: &Option<Spanned<String>>| {
        v.as_ref().map(|s| (c.path(what, s), s.span().start))
    };
    let mailboxes = optional(c, "shared.mailboxes", &raw.mailboxes);
    let public_folders = optional(c, "shared.public_folders", &raw.public_folders);
    let lockfiles = optional(c, "shared.lockfiles", &raw.lockfiles);
    let pem = optional(c, "shared.pem", &raw.pem);
    let kept = keep_local(c, raw);
    let others = [
        (Tree::Gateways, "shared.gateways", &raw.gateways),
        (Tree::Digests, "shared.digests", &raw.digests),
        (Tree::Archive, "shared.archive", &raw.archive),
    ]
    .map(|(tree, name, v)| (tree, name, optional(c, name, v)));
    let base = shared?;
    let path_at = raw.path.span().start;
    let pick = |given: Option<(Option<WinPath>, usize)>,
                default: Result<WinPath, winpath::WinPathError>| {
        match given {
            Some((Some(p), at)) => Some((p, at)),
            Some((None, _)) => None,
            None => default.ok().map(|p| (p, path_at)),
        }
    };
    let mailboxes = pick(mailboxes, base.join(&profile.shared.mailboxes));
    let lockfiles = match (&lockfiles, &mailboxes) {
        (Some(_), _) => pick(lockfiles, Err(winpath::WinPathError::Empty)),
        (None, Some((m, at))) => m
            .join(&profile.shared.lockfiles_under_mailboxes)
            .ok()
            .map(|p| (p, *at)),
        (None, None) => None,
    };
    let public_folders = pick(public_folders, base.join(&profile.shared.public_folders));
    let pem = pick(pem, base.join(&profile.shared.pem));
    let mut subs = vec![
        ("shared.mailboxes", mailboxes?),
        ("shared.public_folders", public_folders?),
        ("shared.lockfiles", lockfiles?),
        ("shared.pem", pem?),
    ];
    for (tree, name, given) in others {
        if kept.contains(&tree) {
            if let Some((_, at)) = given {
                c.at(
                    at,
                    format!(
                        "{name} names a target, but keep_local keeps {} on each node",
                        tree.what()
                    ),
                    Some("remove one of the two: the target to keep it on each node, or its name from keep_local to share it"),
                );
            }
            continue;
        }
        subs.push((name, pick(given, base.join(&profile.tree(tree).shared))?));
    }
    Some(SharedAt {
        base: (base, path_at),
        subs,
    })
}

/// `[shared] keep_local`: the trees kept on each node, each of those that
/// may be.
fn keep_local(c: &mut Collector, raw: &RawShared) -> Vec<Tree> {
    let mut kept = Vec::new();
    let Some(list) = &raw.keep_local else {
        return kept;
    };
    for name in list.get_ref() {
        match Tree::from_id(name.get_ref()) {
            Some(tree) if tree.may_stay_local() => {
                if !kept.contains(&tree) {
                    kept.push(tree);
                }
            }
            Some(tree) => c.at(
                name.span().start,
                format!("keep_local: {} cannot stay on each node", tree.what()),
                Some("the cluster works on one shared mail store: remove it from keep_local"),
            ),
            None => c.at(
                name.span().start,
                format!(
                    "keep_local: '{}' is no folder mdcluster moves; it knows {}",
                    crate::text::sanitize(name.get_ref()),
                    Tree::local_choices()
                ),
                Some("correct the name, or remove it from keep_local"),
            ),
        }
    }
    kept
}

/// The shared folders lie outside the installation, and each is its own.
fn check_shared_layout(c: &mut Collector, root: &WinPath, shared: &SharedAt) {
    let (base, base_at) = (&shared.base.0, shared.base.1);
    let subs = &shared.subs;
    // Sub-folders derived from shared.path share its position; report them
    // only when written out, so one mistake gives one error.
    let all = std::iter::once(("shared.path", (base, base_at)))
        .chain(subs.iter().map(|(name, (p, at))| (*name, (p, *at))))
        .enumerate()
        .filter(|(i, (_, (_, at)))| *i == 0 || *at != base_at)
        .map(|(_, x)| x);
    for (name, (p, at)) in all {
        if p.starts_with(root) {
            c.at(
                at,
                format!("{name} {p} is inside the installation {root}"),
                Some("the shared data must live on a network share outside the installation, e.g. '\\\\fileserver\\mdaemon'"),
            );
        } else if root.starts_with(p) {
            c.at(
                at,
                format!("{name} {p} contains the installation {root}"),
                Some("choose a shared folder that does not contain the MDaemon installation"),
            );
        }
    }
    for i in 0..subs.len() {
        for j in (i + 1)..subs.len() {
            let ((a, (pa, _)), (b, (pb, at))) = (&subs[i], &subs[j]);
            if pa == pb {
                c.at(
                    *at,
                    format!("{a} and {b} are the same folder {pb}"),
                    Some("give each kind of shared data its own folder"),
                );
            }
        }
    }
}

/// `[[mounts]]`: each Windows path once, each local path absolute.
fn validate_mounts(c: &mut Collector, raw: &[RawMount]) -> Vec<Mount> {
    let mut mounts: Vec<Mount> = Vec::new();
    for m in raw {
        let windows = c.path("mounts.windows", &m.windows);
        let local = PathBuf::from(m.local.get_ref());
        if m.local.get_ref().is_empty() || !local.is_absolute() {
            c.at(
                m.local.span().start,
                format!(
                    "mounts.local '{}' is not an absolute path on this machine",
                    m.local.get_ref()
                ),
                Some(if cfg!(windows) {
                    r"give the full local path of the folder, e.g. M:\MDaemon or \\nas\mdaemon"
                } else {
                    "give the full local path of the folder, e.g. /mnt/mdaemon"
                }),
            );
            continue;
        }
        if let Some(windows) = windows {
            if mounts.iter().any(|other| other.windows == windows) {
                c.at(
                    m.windows.span().start,
                    format!("{windows} is mounted twice"),
                    Some("keep one [[mounts]] entry per Windows path"),
                );
            }
            mounts.push(Mount { windows, local });
        }
    }
    mounts
}

/// The plan's tables as read, with every problem of their shape (unknown
/// keys, wrong types) reported in one run: after each such problem its line
/// is blanked (same length, so every position stays true) and the text read
/// again. A syntax error, a problem of a table header, or too many problems
/// end it; else the rest is returned, so that the values and their sense
/// are checked in the same run.
fn read_raw(c: &mut Collector) -> Option<RawPlan> {
    let mut text = c.text.to_string();
    let mut blanked: Vec<String> = Vec::new();
    for _ in 0..100 {
        let e = match toml::from_str::<RawPlan>(&text) {
            // With what is left, the values and their sense are checked too.
            Ok(raw) => return Some(raw),
            Err(e) => e,
        };
        // A key blanked before is missing now: that is no news.
        let missing_blanked = blanked
            .iter()
            .any(|k| e.message().contains(&format!("missing field `{k}`")));
        if missing_blanked {
            return None;
        }
        c.toml_error(&e);
        // Only a problem of a value's shape is set aside; anything else (a
        // syntax error) ends the scan here.
        let shape = [
            "unknown field",
            "invalid type",
            "invalid value",
            "unknown variant",
        ]
        .iter()
        .any(|k| e.message().starts_with(k));
        if !shape {
            return None;
        }
        let span = e.span()?;
        let (next, key) = blank_key_line(&text, span.start)?;
        // Blanked, the text must still be TOML (a value over several lines
        // is not blanked by one line): else stop here.
        next.parse::<toml::Table>().ok()?;
        text = next;
        blanked.push(key);
    }
    None
}

/// `text` with the `key = value` line holding `offset` replaced by spaces,
/// and that key; None for a table header or a line that is no `key = value`.
fn blank_key_line(text: &str, offset: usize) -> Option<(String, String)> {
    let offset = offset.min(text.len());
    if !text.is_char_boundary(offset) {
        return None;
    }
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let line = &text[start..end];
    let trimmed = line.trim_start().trim_start_matches('\u{feff}');
    // A line of its own key: not a table header, nor a piece of a value over
    // several lines (an inline table, an array's element).
    let starts_a_key = trimmed
        .chars()
        .next()
        .is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '"' | '\''));
    if !starts_a_key {
        return None;
    }
    let (key, _) = trimmed.split_once('=')?;
    // `a.b = …` sets `b` (of table `a`); a quoted key is its inside.
    let key = key.rsplit('.').next().unwrap_or(key);
    let key = key
        .trim()
        .trim_matches(|c| c == '"' || c == '\'')
        .to_string();
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..start]);
    out.push_str(&" ".repeat(line.len()));
    out.push_str(&text[end..]);
    Some((out, key))
}

/// serde's words for a plan problem, said as an administrator reads them.
fn in_words(message: &str) -> String {
    let quoted = |m: &str| -> Vec<String> {
        m.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    };
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let names = quoted(rest);
        return match names.split_first() {
            Some((key, allowed)) if !allowed.is_empty() => {
                format!(
                    "unknown key `{key}` (the keys here: {})",
                    allowed.join(", ")
                )
            }
            Some((key, _)) => format!("unknown key `{key}`"),
            None => message.to_string(),
        };
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        if let Some(key) = quoted(rest).first() {
            return format!("the key `{key}` is missing");
        }
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let names = quoted(rest);
        if let Some((given, allowed)) = names.split_first() {
            return format!("`{given}` is not one of: {}", allowed.join(", "));
        }
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        if let Some((found, wanted)) = rest.split_once(", expected ") {
            let wanted = match wanted {
                w if w.starts_with('i') || w.starts_with('u') => "a whole number",
                "a boolean" => "true or false",
                w if w.contains("string") => "text in quotes",
                w if w.contains("sequence") => "a list [ … ]",
                w if w.contains("map") || w.contains("struct") => "a table",
                w => w,
            };
            let found = found
                .replace("string ", "the text ")
                .replace("integer ", "the number ")
                .replace("boolean ", "")
                .replace('`', "");
            return format!("must be {wanted}, not {found}");
        }
    }
    message.to_string()
}

fn validate_nodes(c: &mut Collector, raw: &[RawNode]) -> Vec<Node> {
    let mut nodes: Vec<Node> = Vec::new();
    let mut primaries = Vec::new();
    for n in raw {
        let name = n.name.get_ref().trim();
        if let Err(why) = check_computer_name(name) {
            c.at(
                n.name.span().start,
                format!("node name '{name}' {why}"),
                Some("use the node's Windows computer name (NetBIOS name): up to 15 letters, digits and hyphens"),
            );
        } else if let Some(other) = nodes.iter().find(|o| o.name.eq_ignore_ascii_case(name)) {
            c.at(
                n.name.span().start,
                format!("node name '{name}' is used twice (also '{}')", other.name),
                Some("every node needs its own name; computer names are case-insensitive"),
            );
        }
        let address = n.address.get_ref().trim();
        if let Err(why) = check_address(address) {
            c.at(
                n.address.span().start,
                format!("node address '{address}' {why}"),
                Some("give an IP address or a DNS name"),
            );
        }
        let server_id = match &n.server_id {
            None => None,
            Some(id) => match u32::try_from(*id.get_ref()).ok().and_then(ServerId::new) {
                Some(v) => {
                    if let Some(other) = nodes.iter().find(|o| o.server_id == Some(v)) {
                        c.at(
                            id.span().start,
                            format!(
                                "server_id {v} is used twice (also by node '{}')",
                                other.name
                            ),
                            Some("give every node its own server ID"),
                        );
                    }
                    Some(v)
                }
                None => {
                    c.at(id.span().start, format!("server_id {} is out of range", id.get_ref()), Some("use a whole number from 1 to 65535, or leave it out to let mdcluster choose"));
                    None
                }
            },
        };
        let replaces = n.replaces.as_ref().map(|r| r.get_ref().trim().to_string());
        if let (Some(r), Some(span)) = (&replaces, &n.replaces) {
            if check_computer_name(r).is_err() {
                c.at(
                    span.span().start,
                    format!("replaces '{r}' is not a computer name"),
                    Some("name the removed node this one replaces"),
                );
            }
        }
        if *n.role.get_ref() == Role::Primary {
            primaries.push(n.role.span().start);
        }
        nodes.push(Node {
            name: name.to_string(),
            address: address.to_string(),
            role: *n.role.get_ref(),
            server_id,
            replaces,
        });
    }
    if !raw.is_empty() {
        match primaries.len() {
            0 => c.at(
                raw[0].name.span().start,
                "no node has role = \"primary\"",
                Some("mark exactly one node (the server mdcluster runs on) as role = \"primary\""),
            ),
            1 => {}
            _ => {
                for at in &primaries[1..] {
                    c.at(
                        *at,
                        "a second node has role = \"primary\"",
                        Some("a cluster has exactly one primary; make the others \"secondary\""),
                    );
                }
            }
        }
    }
    nodes
}

/// Windows computer (NetBIOS) names: 1–15 characters, letters, digits, hyphens
/// and underscores, not only digits.
pub(crate) fn check_computer_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("is empty");
    }
    if name.chars().count() > 15 {
        return Err("is longer than 15 characters");
    }
    if !name
        .chars()
        .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
    {
        return Err("contains characters other than letters, digits, '-' and '_'");
    }
    if name.chars().all(|ch| ch.is_ascii_digit()) {
        return Err("consists only of digits");
    }
    Ok(())
}

/// An IP address or a DNS name (labels of letters, digits and hyphens).
pub(crate) fn check_address(address: &str) -> Result<(), &'static str> {
    if address.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    if address.is_empty() {
        return Err("is empty");
    }
    if address.len() > 253 {
        return Err("is longer than 253 characters");
    }
    let name = address.strip_suffix('.').unwrap_or(address);
    for label in name.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err("is neither an IP address nor a valid DNS name");
        }
    }
    if name.chars().all(|ch| ch.is_ascii_digit() || ch == '.') {
        return Err("looks like an IP address but is not a valid one");
    }
    Ok(())
}

/// The `[load_balancer]` table of a plan file for `lb`: what differs from
/// the defaults.
pub(crate) fn load_balancer_table(lb: &LoadBalancer, profile: &Profile) -> file::LbTable {
    load_balancer::table(lb, profile)
}

/// All errors of a plan as one problem (exit code 2).
pub fn plan_problem(file: &Path, errors: &[PlanError]) -> Problem {
    let name = file.display();
    let lines: Vec<String> = errors
        .iter()
        .map(|e| {
            // Line 0: a problem of the answers, not of a line of the file.
            let mut s = match e.line {
                0 => format!("{name}: {}", e.message),
                line => format!("{name}:{line}:{}: {}", e.column, e.message),
            };
            if let Some(fix) = &e.fix {
                s.push_str(&format!(" ({fix})"));
            }
            s
        })
        .collect();
    let what = match lines.len() {
        1 => format!("invalid plan: {}", lines[0]),
        n => format!("invalid plan, {n} problems:\n  {}", lines.join("\n  ")),
    };
    Problem::usage(what).fix(format!(
        "correct the plan (every problem is listed), then check it again with `mdcluster plan validate {}`",
        file.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Plan, Vec<PlanError>> {
        Plan::parse(text, Path::new("p.toml"), &Profile::builtin())
    }

    const MINIMAL: &str =
        "version = 1\n[install]\nroot = 'C:\\MDaemon'\n[shared]\npath = '\\\\fs\\mdaemon'\n";

    #[test]
    fn example_is_a_valid_plan() {
        let plan = parse(EXAMPLE).unwrap();
        assert_eq!(plan.nodes.len(), 2);
        assert_eq!(plan.primary().unwrap().name, "MAIL1");
        assert_eq!(
            plan.shared.lockfiles.to_string(),
            r"\\fileserver\mdaemon\Users\LockFiles"
        );
        assert_eq!(plan.shared.pem.to_string(), r"\\fileserver\mdaemon\PEM");
    }

    #[test]
    fn defaults_follow_the_profile() {
        let plan = parse(MINIMAL).unwrap();
        assert_eq!(plan.shared.mailboxes.to_string(), r"\\fs\mdaemon\Users");
        assert_eq!(
            plan.shared.public_folders.to_string(),
            r"\\fs\mdaemon\Public Folders"
        );
        let with_mb = MINIMAL.to_string() + "mailboxes = '\\\\fs\\mdaemon\\Mail'\n";
        assert_eq!(
            parse(&with_mb).unwrap().shared.lockfiles.to_string(),
            r"\\fs\mdaemon\Mail\LockFiles"
        );
    }

    #[test]
    fn the_other_trees_default_below_the_share_and_may_stay_local() {
        let plan = parse(MINIMAL).unwrap();
        assert_eq!(
            plan.shared.tree(Tree::Gateways).unwrap().to_string(),
            r"\\fs\mdaemon\Gateways"
        );
        assert_eq!(plan.shared.kept_local(), Vec::<Tree>::new());
        let kept = MINIMAL.to_string()
            + "keep_local = [\"Archive\", \"digests\", \"archive\"]\ngateways = '\\\\fs2\\gw'\n";
        let plan_kept = parse(&kept).unwrap();
        assert_eq!(
            plan_kept.shared.kept_local(),
            [Tree::Digests, Tree::Archive]
        );
        assert_eq!(
            plan_kept.shared.tree(Tree::Gateways).unwrap().to_string(),
            r"\\fs2\gw"
        );
        // What is kept and where these trees go is no part of the plan's
        // identity (a journal of an earlier version stays its plan's).
        assert_eq!(plan_kept.fingerprint(), plan.fingerprint());
        // Saved and read back, the plan is the same.
        let profile = Profile::builtin();
        let again = parse(&plan_kept.render(&profile)).unwrap();
        assert_eq!(again.shared, plan_kept.shared);
    }

    #[test]
    fn problems_of_shape_are_said_in_words_and_all_reported() {
        assert_eq!(
            in_words("invalid type: boolean `true`, expected a string"),
            "must be text in quotes, not true"
        );
        assert_eq!(
            in_words("unknown variant `master`, expected `primary` or `secondary`"),
            "`master` is not one of: primary, secondary"
        );
        // A wrong type in a value over several lines ends the scan there
        // rather than report what blanking one line would break.
        let text = format!("{MINIMAL}[options]\nrestart = [\n  1,\n]\nbogus = 1\n");
        let errors = parse(&text).unwrap_err();
        let said: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(said.len(), 2, "{said:?}");
        assert!(said[0].starts_with("must be true or false"), "{said:?}");
        assert!(said[1].starts_with("unknown key `bogus`"), "{said:?}");
        // A required key of the wrong type is said once, not again as missing.
        let text = MINIMAL.replace("version = 1", "version = \"1\"");
        let errors = parse(&text).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
    }

    #[test]
    fn render_round_trips() {
        let mut plan = parse(EXAMPLE).unwrap();
        plan.mounts.push(Mount {
            windows: WinPath::parse(r"C:\MDaemon").unwrap(),
            local: std::env::temp_dir().join("x y"),
        });
        plan.shared.pem = WinPath::parse(r"\\fs2\certs\it's").unwrap();
        plan.options.restart = true;
        plan.options.stop_mdaemon = true;
        let text = plan.render(&Profile::builtin());
        let back = parse(&text).unwrap();
        assert_eq!(
            back,
            Plan {
                file: "p.toml".into(),
                ..plan
            }
        );
    }

    #[test]
    fn load_balancer_defaults_and_round_trip() {
        let profile = Profile::builtin();
        let plan = parse(EXAMPLE).unwrap();
        assert_eq!(plan.load_balancer, LoadBalancer::defaults(&profile));
        assert_eq!(plan.load_balancer.ports.get(Service::RemoteAdmin), 1000);
        assert!(
            !plan.render(&profile).contains("load_balancer"),
            "defaults are not written"
        );
        let text = format!(
            "{MINIMAL}[load_balancer]\nhttp_mode = \"balanced\"\n[load_balancer.ports]\nhttp = 8080\nimap = 0\n[load_balancer.backend_ports]\nsmtp = 2525\n"
        );
        let plan = parse(&text).unwrap();
        let lb = &plan.load_balancer;
        assert_eq!(lb.http_mode, HttpMode::Balanced);
        assert_eq!(lb.ports.get(Service::Http), 8080);
        // A node's port follows the balancer's unless the plan names it.
        assert_eq!(lb.backend_ports.get(Service::Http), 8080);
        assert_eq!(lb.backend_ports.get(Service::Smtp), 2525);
        assert_eq!(lb.backend_ports.get(Service::Imap), 143);
        assert!(!lb.enabled().any(|s| s == Service::Imap));
        let back = parse(&plan.render(&profile)).unwrap();
        assert_eq!(back, plan);
        // The balancer step: kind and output folder, read back the same.
        let out = std::env::temp_dir().join("mdcluster lb 'out'");
        let text = format!(
            "{MINIMAL}[load_balancer]\nkind = \"nginx\"\noutput = {}\n",
            toml::Value::String(out.display().to_string())
        );
        let plan = parse(&text).unwrap();
        assert_eq!(plan.load_balancer.kind, Some(crate::lb::Kind::Nginx));
        assert_eq!(plan.load_balancer.output.as_deref(), Some(out.as_path()));
        assert_eq!(parse(&plan.render(&profile)).unwrap(), plan);
        let dotdot = if cfg!(windows) {
            r"output = 'C:\srv\x\..\y'"
        } else {
            "output = '/srv/x/../y'"
        };
        for (bad, why) in [
            ("kind = \"f5\"", "not a balancer"),
            ("output = 'relative/dir'", "not an absolute path"),
            ("output = ''", "is empty"),
            (dotdot, "'..'"),
        ] {
            let errs = parse(&format!("{MINIMAL}[load_balancer]\n{bad}\n")).unwrap_err();
            assert!(errs[0].message.contains(why), "{bad}: {errs:?}");
            assert_eq!(errs[0].line, 7, "{errs:?}");
        }
        // A default port taken by another service is a clash too.
        let errs = parse(&format!("{MINIMAL}[load_balancer.ports]\nhttp = 25\n")).unwrap_err();
        assert!(errs[0].message.contains("default port of smtp"), "{errs:?}");
    }

    #[test]
    fn errors_have_positions() {
        let errs = parse(
            "version = 1\n[install]\nroot = 'C:\\MDaemon'\nfoo = 1\n[shared]\npath='\\\\a\\b'\n",
        )
        .unwrap_err();
        assert_eq!((errs[0].line, errs[0].column), (4, 1), "{errs:?}");
        let errs = parse(&MINIMAL.replace("'C:\\MDaemon'", "'MDaemon'")).unwrap_err();
        assert_eq!(errs[0].line, 3);
        assert!(errs[0].message.contains("relative"), "{errs:?}");
    }

    #[test]
    fn node_rules() {
        let node = |name: &str, role: &str, id: i64| {
            format!("[[nodes]]\nname = \"{name}\"\naddress = \"10.0.0.1\"\nrole = \"{role}\"\nserver_id = {id}\n")
        };
        let t = format!(
            "{MINIMAL}{}{}",
            node("A", "primary", 1),
            node("a", "secondary", 1)
        );
        let errs = parse(&t).unwrap_err();
        assert_eq!(errs.len(), 2, "{errs:?}");
        let t = format!(
            "{MINIMAL}{}{}",
            node("A", "secondary", 1),
            node("B", "secondary", 2)
        );
        assert!(parse(&t).unwrap_err()[0].message.contains("primary"));
        let t = format!(
            "{MINIMAL}{}{}",
            node("A", "primary", 1),
            node("B", "primary", 2)
        );
        assert!(parse(&t).unwrap_err()[0].message.contains("second node"));
        let t = format!("{MINIMAL}{}", node("A", "boss", 1));
        assert!(parse(&t).is_err());
    }

    #[test]
    fn shared_inside_installation_is_refused() {
        let t = MINIMAL.replace("'\\\\fs\\mdaemon'", "'c:\\mdaemon\\share'");
        let errs = parse(&t).unwrap_err();
        assert!(
            errs[0].message.contains("inside the installation"),
            "{errs:?}"
        );
        assert_eq!(errs[0].line, 5);
    }

    #[test]
    fn addresses_and_names() {
        assert!(check_address("192.0.2.1").is_ok());
        assert!(check_address("fe80::1").is_ok());
        assert!(check_address("mail2.example.com").is_ok());
        assert!(check_address("999.1.1.1").is_err());
        assert!(check_address("-bad.example").is_err());
        assert!(check_computer_name("MAIL-01").is_ok());
        assert!(check_computer_name("1234").is_err());
        assert!(check_computer_name("SIXTEENCHARSLONG").is_err());
    }
}
