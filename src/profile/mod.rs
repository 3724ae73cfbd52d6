//! The MDaemon profile: every MDaemon-specific name, loaded from
//! `assets/profiles/mdaemon.toml` (embedded) or a file given with `--profile`.
//!
//! Each entry is a [`Fact`] carrying its confidence ([`Source`]), so the
//! screen and the reports can say which names are verified and which are not.

use crate::problem::{Exit, Problem};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The embedded default profile.
pub(crate) const DEFAULT_PROFILE: &str = include_str!("../../assets/profiles/mdaemon.toml");

/// How sure we are about a name (see the facts file).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Seed,
    Doc,
    Seen,
    Guess,
}

impl Source {
    pub fn verified(self) -> bool {
        matches!(self, Source::Seed | Source::Doc)
    }
    pub fn label(self) -> &'static str {
        match self {
            Source::Seed => "verified (MDaemon help)",
            Source::Doc => "verified (vendor documentation)",
            Source::Seen => "unverified (seen in third-party code)",
            Source::Guess => "unverified (guess)",
        }
    }
}

/// One named value with its confidence.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fact<T> {
    pub value: T,
    pub source: Source,
}

impl<T> std::ops::Deref for Fact<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub format: u32,
    pub name: String,
    pub install: Install,
    pub ini: Ini,
    pub shared: Shared,
    /// Absent in profiles written before these folders moved: then the
    /// built-in names apply (see [`Profile::tree`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_folders: Option<OtherFolders>,
    pub userlist: Userlist,
    pub domains: Domains,
    pub mailstore: Mailstore,
    pub pem: Pem,
    pub semaphores: Semaphores,
    pub logs: Logs,
    /// Absent in profiles written before the log follower existed: then the
    /// built-in patterns apply (see [`Profile::cluster_log`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_log: Option<ClusterLog>,
    pub facts: Facts,
    pub cluster: Cluster,
    pub service: Service,
    /// Absent in profiles written before the load balancer existed: then the
    /// built-in ports apply (see [`Profile::ports`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<Ports>,
    pub sandbox: Sandbox,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Install {
    pub default_root: Fact<String>,
    pub registry_key: Fact<String>,
    pub registry_value: Fact<String>,
    pub service_name: Fact<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ini {
    pub file: Fact<String>,
    pub directories_section: Fact<String>,
    pub lockfiles_key: Fact<String>,
    pub pem_key: Fact<String>,
    pub folder_trailing_backslash: Fact<bool>,
    pub new_accounts_section: Fact<String>,
    pub new_accounts_maildir_key: Fact<String>,
    /// `[Directories]` keys of the mail store and the public folders. Absent
    /// in profiles written before they were read: then the built-in ones apply
    /// (see [`Profile::store_keys`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users_key: Option<Fact<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_folders_key: Option<Fact<String>>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shared {
    pub lockfiles_under_mailboxes: Fact<String>,
    pub mailboxes: Fact<String>,
    pub public_folders: Fact<String>,
    pub pem: Fact<String>,
}

/// The gateways, digests and archive folders: the `[Directories]` key, the
/// folder below the root where MDaemon.ini lacks it, the folder below the
/// shared path.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtherFolders {
    pub gateways_key: Fact<String>,
    pub gateways_dir: Fact<String>,
    pub gateways_shared: Fact<String>,
    pub digests_key: Fact<String>,
    pub digests_dir: Fact<String>,
    pub digests_shared: Fact<String>,
    pub archive_key: Fact<String>,
    pub archive_dir: Fact<String>,
    pub archive_shared: Fact<String>,
}

/// A tree of the data every node must share and the cluster service does
/// not replicate: it moves to the share with the mail store (step 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tree {
    Mailboxes,
    PublicFolders,
    Gateways,
    Digests,
    Archive,
}

impl Tree {
    pub const ALL: [Tree; 5] = [
        Tree::Mailboxes,
        Tree::PublicFolders,
        Tree::Gateways,
        Tree::Digests,
        Tree::Archive,
    ];

    /// The plan's name: its key in `[shared]` and in `keep_local`.
    pub fn id(self) -> &'static str {
        match self {
            Tree::Mailboxes => "mailboxes",
            Tree::PublicFolders => "public_folders",
            Tree::Gateways => "gateways",
            Tree::Digests => "digests",
            Tree::Archive => "archive",
        }
    }

    /// The tree a plan or an answer names, without case.
    pub fn from_id(id: &str) -> Option<Tree> {
        Tree::ALL
            .into_iter()
            .find(|t| t.id().eq_ignore_ascii_case(id.trim()))
    }

    /// Its name for people: the plan's name with spaces (`public folders`).
    pub fn label(self) -> &'static str {
        match self {
            Tree::PublicFolders => "public folders",
            other => other.id(),
        }
    }

    /// The names a plan may keep on each node, for messages
    /// (`gateways, digests, archive`).
    pub fn local_choices() -> String {
        Tree::ALL
            .into_iter()
            .filter(|t| t.may_stay_local())
            .map(Tree::id)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// What it is, for messages.
    pub fn what(self) -> &'static str {
        match self {
            Tree::Mailboxes => "the mailboxes",
            Tree::PublicFolders => "the public folders",
            Tree::Gateways => "the domain gateways' mail",
            Tree::Digests => "the mailing-list digests",
            Tree::Archive => "the mail archive",
        }
    }

    /// Whether a plan may keep it on each node (`keep_local`); the mail
    /// store itself must be shared.
    pub fn may_stay_local(self) -> bool {
        matches!(self, Tree::Gateways | Tree::Digests | Tree::Archive)
    }

    /// What a tree kept on each node costs: the preview's warning.
    pub fn when_kept_local(self) -> &'static str {
        match self {
            Tree::Gateways => "mail a node stores for a domain gateway is seen by that node alone, and lost to the cluster while it is down",
            Tree::Digests => "each node collects digests of its own: subscribers get partial digests, some twice",
            Tree::Archive => "each node archives only the mail it handled: the archive is split across the nodes",
            Tree::Mailboxes | Tree::PublicFolders => "every node must share it",
        }
    }
}

/// What the profile names for one [`Tree`].
pub struct TreeNames {
    /// The `[Directories]` key naming the folder.
    pub key: Fact<String>,
    /// The profile entry holding the key, for messages (`ini.users_key`).
    pub key_entry: &'static str,
    /// MDaemon's folder below the root where MDaemon.ini lacks the key.
    pub dir: Fact<String>,
    /// The default folder below the shared path.
    pub shared: Fact<String>,
}

/// Column range `[start, end)` of a fixed-width field.
pub(crate) type Columns = [usize; 2];

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Userlist {
    pub file: Fact<String>,
    pub domain: Fact<Columns>,
    pub mailbox: Fact<Columns>,
    pub full_name: Fact<Columns>,
    pub mail_dir: Fact<Columns>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Domains {
    pub file: Fact<String>,
    pub ip_key: Fact<String>,
    pub bind_key: Fact<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mailstore {
    pub users_dir: Fact<String>,
    pub public_folders_dir: Fact<String>,
    pub message_prefix: Fact<String>,
    pub message_extension: Fact<String>,
    pub imap_folder_suffix: Fact<String>,
    pub hiwater_file: Fact<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pem {
    pub dir: Fact<String>,
    pub private_key: Fact<String>,
    pub public_key: Fact<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Semaphores {
    pub dir: Fact<String>,
    pub stop: Fact<String>,
    pub restart: Fact<String>,
    pub reload_userlist: Fact<String>,
    pub reload_domains: Fact<String>,
    pub reload_cache: Fact<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Logs {
    pub dir: Fact<String>,
    pub daily_file: Fact<String>,
    pub system_log_name: Fact<String>,
    pub cluster_log_glob: Fact<String>,
    /// The cluster log's `{name}` in `daily_file`. Absent in profiles written
    /// before it existed: then the built-in one applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_log_name: Option<Fact<String>>,
    pub classic_line: Fact<String>,
    pub service_line: Fact<String>,
}

/// What the cluster service writes in its log: regular expressions (matched
/// without case) with a group `node`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterLog {
    pub connected: Fact<String>,
    pub disconnected: Fact<String>,
    pub replication_done: Fact<String>,
    pub replication_error: Fact<String>,
    pub clock_warning: Fact<String>,
    pub time_zone_warning: Fact<String>,
}

impl ClusterLog {
    /// (key, pattern) pairs, in the order they are tried.
    pub(crate) fn patterns(&self) -> [(&'static str, &Fact<String>); 6] {
        [
            ("replication_error", &self.replication_error),
            ("replication_done", &self.replication_done),
            ("disconnected", &self.disconnected),
            ("connected", &self.connected),
            ("clock_warning", &self.clock_warning),
            ("time_zone_warning", &self.time_zone_warning),
        ]
    }
}

/// `[section, key]` in MDaemon.ini.
pub(crate) type IniKey = [String; 2];

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Facts {
    pub version: Fact<IniKey>,
    pub licence_key: Fact<IniKey>,
    pub certificates_in_use: Fact<IniKey>,
    pub attachment_linking: Fact<IniKey>,
    pub auto_update_install: Fact<IniKey>,
    pub letsencrypt: Fact<IniKey>,
    pub yes_values: Fact<Vec<String>>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    pub registered_servers: Fact<Vec<String>>,
    pub dialog: Fact<String>,
    /// Where a removed node is taken out of MDaemon's list (a profile
    /// written before this key existed gets the built-in guess).
    #[serde(default = "default_remove_dialog")]
    pub remove_dialog: Fact<String>,
}

fn default_remove_dialog() -> Fact<String> {
    Fact {
        value: "Setup > Cluster Service > the list of registered servers: remove the node there"
            .into(),
        source: Source::Guess,
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub query_command: Fact<String>,
    pub running_marker: Fact<String>,
    pub stop_command: Fact<String>,
    pub start_command: Fact<String>,
    /// Prints the service's configuration, with the account it runs as.
    pub config_command: Fact<String>,
    /// The field of that output naming the account.
    pub account_field: Fact<String>,
}

/// Default TCP ports of MDaemon's services on a node.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ports {
    pub remote_admin: Fact<u16>,
    pub http: Fact<u16>,
    pub https: Fact<u16>,
    pub xmpp: Fact<u16>,
    pub smtp: Fact<u16>,
    pub submission: Fact<u16>,
    pub imap: Fact<u16>,
    pub imaps: Fact<u16>,
    pub pop3: Fact<u16>,
    pub pop3s: Fact<u16>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sandbox {
    /// `[key, folder relative to the root]` pairs for `[Directories]`.
    pub extra_directories: Fact<Vec<[String; 2]>>,
}

impl Profile {
    /// The embedded profile. It is checked by a test, so failing here is a build defect.
    pub fn builtin() -> Profile {
        // Parsed once: the fallbacks for older profiles ask for it often.
        static BUILTIN: std::sync::OnceLock<Profile> = std::sync::OnceLock::new();
        BUILTIN
            .get_or_init(
                || match Profile::parse(DEFAULT_PROFILE, "built-in profile") {
                    Ok(p) => p,
                    Err(e) => panic!("the embedded profile is invalid: {e}"),
                },
            )
            .clone()
    }

    /// The profile from `--profile FILE`, or the built-in one.
    pub fn load(path: Option<&Path>) -> Result<Profile, Problem> {
        let Some(path) = path else {
            return Ok(Profile::builtin());
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            Problem::io(Exit::Usage, "read the profile", path, &e)
                .fix("pass an existing profile file with --profile, or leave --profile out to use the built-in one")
        })?;
        Profile::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, origin: &str) -> Result<Profile, Problem> {
        let profile: Profile = toml::from_str(text).map_err(|e| {
            let at = match e.span() {
                Some(span) => {
                    let (line, col) = crate::text::line_col(text, span.start);
                    format!("{origin}:{line}:{col}")
                }
                None => origin.to_string(),
            };
            Problem::usage(format!("invalid profile: {}", e.message().trim()))
                .at(at)
                .fix("start from `mdcluster profile show` and change only the values")
        })?;
        if profile.format != 1 {
            return Err(Problem::usage(format!(
                "profile format {} is not supported; this mdcluster reads format 1",
                profile.format
            ))
            .at(origin.to_string()));
        }
        profile.check(origin)?;
        Ok(profile)
    }

    /// The services' default ports: this profile's, or the built-in ones
    /// when the profile predates them.
    pub fn ports(&self) -> Ports {
        match &self.ports {
            Some(p) => p.clone(),
            None => Profile::builtin().ports.unwrap_or_else(|| {
                panic!("the embedded profile has no [ports] (checked by a test)")
            }),
        }
    }

    /// The cluster log's patterns: this profile's, or the built-in ones.
    pub fn cluster_log(&self) -> ClusterLog {
        match &self.cluster_log {
            Some(c) => c.clone(),
            None => Profile::builtin().cluster_log.unwrap_or_else(|| {
                panic!("the embedded profile has no [cluster_log] (checked by a test)")
            }),
        }
    }

    /// The cluster log's name in the daily file pattern.
    pub(crate) fn cluster_log_name(&self) -> Fact<String> {
        match &self.logs.cluster_log_name {
            Some(n) => n.clone(),
            None => Profile::builtin()
                .logs
                .cluster_log_name
                .unwrap_or_else(|| panic!("the embedded profile has no logs.cluster_log_name")),
        }
    }

    /// The `[Directories]` keys of the mail store and of the public folders.
    pub(crate) fn store_keys(&self) -> [Fact<String>; 2] {
        let builtin = || Profile::builtin().ini;
        let pick = |own: &Option<Fact<String>>, theirs: fn(Ini) -> Option<Fact<String>>| {
            own.clone()
                .or_else(|| theirs(builtin()))
                .unwrap_or_else(|| panic!("the embedded profile lacks a store key"))
        };
        [
            pick(&self.ini.users_key, |i| i.users_key),
            pick(&self.ini.public_folders_key, |i| i.public_folders_key),
        ]
    }

    /// The names of a tree of shared data: this profile's, or the built-in
    /// ones where the profile predates them.
    pub(crate) fn tree(&self, tree: Tree) -> TreeNames {
        let [users_key, public_key] = self.store_keys();
        let other = || {
            self.other_folders
                .clone()
                .or_else(|| Profile::builtin().other_folders)
                .unwrap_or_else(|| panic!("the embedded profile has no [other_folders]"))
        };
        let names = |key, key_entry, dir, shared| TreeNames {
            key,
            key_entry,
            dir,
            shared,
        };
        match tree {
            Tree::Mailboxes => names(
                users_key,
                "ini.users_key",
                self.mailstore.users_dir.clone(),
                self.shared.mailboxes.clone(),
            ),
            Tree::PublicFolders => names(
                public_key,
                "ini.public_folders_key",
                self.mailstore.public_folders_dir.clone(),
                self.shared.public_folders.clone(),
            ),
            Tree::Gateways => {
                let o = other();
                names(
                    o.gateways_key,
                    "other_folders.gateways_key",
                    o.gateways_dir,
                    o.gateways_shared,
                )
            }
            Tree::Digests => {
                let o = other();
                names(
                    o.digests_key,
                    "other_folders.digests_key",
                    o.digests_dir,
                    o.digests_shared,
                )
            }
            Tree::Archive => {
                let o = other();
                names(
                    o.archive_key,
                    "other_folders.archive_key",
                    o.archive_dir,
                    o.archive_shared,
                )
            }
        }
    }

    /// Values that must be usable names; checked once so later code can rely on them.
    fn check(&self, origin: &str) -> Result<(), Problem> {
        let bad = |what: &str, why: &str| {
            Err(Problem::usage(format!("invalid profile: {what} {why}")).at(origin.to_string()))
        };
        if let Some(p) = &self.ports {
            let all = [
                &p.remote_admin,
                &p.http,
                &p.https,
                &p.xmpp,
                &p.smtp,
                &p.submission,
                &p.imap,
                &p.imaps,
                &p.pop3,
                &p.pop3s,
            ];
            if all.iter().any(|f| f.value == 0) {
                return bad("ports", "must all be from 1 to 65535");
            }
        }
        for (what, pattern) in [
            ("logs.classic_line", &self.logs.classic_line.value),
            ("logs.service_line", &self.logs.service_line.value),
        ] {
            if let Err(e) = regex::Regex::new(pattern) {
                return bad(what, &format!("is not a valid regular expression: {e}"));
            }
        }
        if let Some(c) = &self.cluster_log {
            for (key, pattern) in c.patterns() {
                match regex::Regex::new(&pattern.value) {
                    Err(e) => {
                        return bad(
                            &format!("cluster_log.{key}"),
                            &format!("is not a valid regular expression: {e}"),
                        )
                    }
                    Ok(re) if !re.capture_names().any(|n| n == Some("node")) => {
                        return bad(
                            &format!("cluster_log.{key}"),
                            "must name the node in a group (?P<node>...)",
                        )
                    }
                    Ok(_) => {}
                }
            }
        }
        let [start, end] = *self.userlist.mail_dir;
        if start >= end {
            return bad("userlist.mail_dir", "must be [start, end) with start < end");
        }
        for (what, value) in [
            (
                "ini.directories_section",
                &self.ini.directories_section.value,
            ),
            ("ini.lockfiles_key", &self.ini.lockfiles_key.value),
            ("ini.pem_key", &self.ini.pem_key.value),
            ("semaphores.restart", &self.semaphores.restart.value),
        ] {
            if value.trim().is_empty() {
                return bad(what, "must not be empty");
            }
        }
        if let Some(o) = &self.other_folders {
            let all = [
                ("gateways_key", &o.gateways_key),
                ("gateways_dir", &o.gateways_dir),
                ("gateways_shared", &o.gateways_shared),
                ("digests_key", &o.digests_key),
                ("digests_dir", &o.digests_dir),
                ("digests_shared", &o.digests_shared),
                ("archive_key", &o.archive_key),
                ("archive_dir", &o.archive_dir),
                ("archive_shared", &o.archive_shared),
            ];
            for (key, fact) in all {
                if fact.trim().is_empty() {
                    return bad(&format!("other_folders.{key}"), "must not be empty");
                }
            }
        }
        Ok(())
    }

    /// Every entry as (dotted name, value, source), for `profile show` and reports.
    pub fn entries(&self) -> Vec<(String, String, Source)> {
        let value = match toml::Value::try_from(self) {
            Ok(v) => v,
            Err(_) => return Vec::new(),
        };
        let mut out = Vec::new();
        collect_facts("", &value, &mut out);
        out
    }
}

fn collect_facts(prefix: &str, value: &toml::Value, out: &mut Vec<(String, String, Source)>) {
    let Some(table) = value.as_table() else {
        return;
    };
    if let (Some(v), Some(src), 2) = (table.get("value"), table.get("source"), table.len()) {
        let source = match src.as_str() {
            Some("seed") => Source::Seed,
            Some("doc") => Source::Doc,
            Some("seen") => Source::Seen,
            _ => Source::Guess,
        };
        let shown = match v {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out.push((prefix.to_string(), shown, source));
        return;
    }
    for (k, v) in table {
        let name = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        collect_facts(&name, v, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_profile_parses_and_has_the_seed_names() {
        let p = Profile::builtin();
        assert_eq!(p.ini.lockfiles_key.value, "LockFiles");
        assert!(p.ini.lockfiles_key.source.verified());
        assert_eq!(p.ini.pem_key.value, "PEM");
        assert_eq!(*p.userlist.mail_dir, [105, 195]);
        assert!(!p.userlist.mail_dir.source.verified());
    }

    #[test]
    fn a_profile_without_other_folders_takes_the_built_in_names() {
        let start = DEFAULT_PROFILE.find("[other_folders]").unwrap();
        let end = DEFAULT_PROFILE.find("[userlist]").unwrap();
        let older = format!("{}{}", &DEFAULT_PROFILE[..start], &DEFAULT_PROFILE[end..]);
        let p = Profile::parse(&older, "older").unwrap();
        assert!(p.other_folders.is_none());
        let names = p.tree(Tree::Archive);
        assert_eq!(names.key.value, "Archive");
        assert!(!names.key.source.verified());
        assert_eq!(names.key_entry, "other_folders.archive_key");
        let empty = DEFAULT_PROFILE.replace(
            r#"digests_dir = { value = "Digests""#,
            r#"digests_dir = { value = " ""#,
        );
        let e = Profile::parse(&empty, "x").unwrap_err();
        assert!(e.to_string().contains("other_folders.digests_dir"), "{e}");
    }

    #[test]
    fn every_entry_is_listed_with_its_source() {
        let entries = Profile::builtin().entries();
        assert!(entries
            .iter()
            .any(|(n, v, s)| n == "ini.pem_key" && v == "PEM" && *s == Source::Seed));
        assert!(entries
            .iter()
            .any(|(n, _, s)| n == "logs.cluster_log_glob" && *s == Source::Guess));
        assert!(entries.len() > 30);
    }

    #[test]
    fn unknown_keys_and_bad_sources_are_errors_with_a_position() {
        let text = DEFAULT_PROFILE.replace("[install]", "[install]\nbogus = 1");
        let err = Profile::parse(&text, "p.toml").unwrap_err();
        assert_eq!(err.exit, Exit::Usage);
        assert!(err.location.unwrap().starts_with("p.toml:"));
        let text = DEFAULT_PROFILE.replacen("source = \"seed\"", "source = \"rumour\"", 1);
        assert!(Profile::parse(&text, "p.toml").is_err());
    }

    #[test]
    fn ports_come_from_the_profile_or_the_builtin_one() {
        let p = Profile::builtin();
        assert_eq!(*p.ports().remote_admin, 1000);
        assert!(p.ports().remote_admin.source.verified());
        // A profile written before [ports] existed still loads.
        let start = DEFAULT_PROFILE.find("[ports]").unwrap();
        let end = DEFAULT_PROFILE.find("[sandbox]").unwrap();
        let old = format!("{}{}", &DEFAULT_PROFILE[..start], &DEFAULT_PROFILE[end..]);
        let p = Profile::parse(&old, "old").unwrap();
        assert!(p.ports.is_none());
        assert_eq!(*p.ports().imap, 143);
        let text = DEFAULT_PROFILE.replace("value = 1000", "value = 0");
        assert!(Profile::parse(&text, "p.toml").is_err());
    }

    #[test]
    fn cluster_log_patterns_are_guesses_checked_at_load() {
        let p = Profile::builtin();
        assert_eq!(p.cluster_log_name().value, "Cluster");
        for (_, f) in p.cluster_log().patterns() {
            assert_eq!(f.source, Source::Guess);
        }
        let text = DEFAULT_PROFILE.replace(r"\bclock\s+", r"\bclock(\s+");
        let err = Profile::parse(&text, "p.toml").unwrap_err();
        assert!(err.what.contains("cluster_log.clock_warning"), "{err}");
        let text = DEFAULT_PROFILE.replace(
            "(?P<node>[A-Za-z0-9_$-]+(?:\\.[A-Za-z0-9_$-]+)*)\"?\\s+(?:differs|is",
            "(?P<name>x)\"?\\s+(?:differs|is",
        );
        assert_ne!(text, DEFAULT_PROFILE);
        let err = Profile::parse(&text, "p.toml").unwrap_err();
        assert!(err.what.contains("(?P<node>"), "{err}");
        // A profile from before [cluster_log] still loads, with the built-in patterns.
        let start = DEFAULT_PROFILE.find("[cluster_log]").unwrap();
        let end = DEFAULT_PROFILE.find("[facts]").unwrap();
        let old = format!("{}{}", &DEFAULT_PROFILE[..start], &DEFAULT_PROFILE[end..]).replace(
            "cluster_log_name = { value = \"Cluster\", source = \"guess\" }",
            "",
        );
        let p = Profile::parse(&old, "old").unwrap();
        assert!(p.cluster_log.is_none() && p.logs.cluster_log_name.is_none());
        assert_eq!(p.cluster_log_name().value, "Cluster");
        assert!(p.cluster_log().connected.value.contains("connected"));
    }

    #[test]
    fn an_override_changes_one_name() {
        let text = DEFAULT_PROFILE.replace("\"RESTART.SEM\"", "\"REBOOT.SEM\"");
        let p = Profile::parse(&text, "custom").unwrap();
        assert_eq!(p.semaphores.restart.value, "REBOOT.SEM");
    }
}
