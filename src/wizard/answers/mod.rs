//! The wizard's questions and answers, shared by the full-screen and the plain
//! wizard. Answers become plan text that goes through the same parser as a
//! plan file (`Plan::parse`), so a saved plan replays exactly what was done.

mod from_disk;

use crate::ini::IniDoc;
use crate::plan::file::{InstallTable, LbTable, MountTable, NodeTable, PlanFile, SharedTable};
use crate::plan::{check_address, check_computer_name, Plan, PlanError, Role, ServerId};
use crate::profile::{Profile, Tree};
use crate::steps::StepId;
use crate::winpath::WinPath;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldId {
    InstallRoot,
    SharedPath,
    SharedLocal,
    NodeName,
    NodeAddress,
    ServerId,
    StopMdaemon,
    KeepSource,
    KeepLocal,
    Restart,
    LbKind,
    LbHttpMode,
    LbOutput,
}

/// One question: where it is asked, what it means, how it is checked.
pub struct Question {
    pub id: FieldId,
    pub step: StepId,
    pub label: &'static str,
    pub help: &'static str,
}

pub(crate) const QUESTIONS: [Question; 13] = [
    Question {
        id: FieldId::InstallRoot,
        step: StepId::SharedPath,
        label: "Installation (Windows path)",
        help: "The MDaemon folder as Windows names it; App\\MDaemon.ini is below it.",
    },
    Question {
        id: FieldId::SharedPath,
        step: StepId::SharedPath,
        label: "Shared path (UNC)",
        help: "The network share every node reaches, e.g. \\\\fileserver\\mdaemon.",
    },
    Question {
        id: FieldId::SharedLocal,
        step: StepId::SharedPath,
        label: "Share on this machine",
        help: "The local folder where this machine reaches the share (not Windows, or a sandbox).",
    },
    Question {
        id: FieldId::NodeName,
        step: StepId::SharedPath,
        label: "This node's name",
        help: "The primary's Windows computer name (NetBIOS, up to 15 characters).",
    },
    Question {
        id: FieldId::NodeAddress,
        step: StepId::SharedPath,
        label: "This node's address",
        help: "An IP address or DNS name the other nodes use to reach the primary.",
    },
    Question {
        id: FieldId::ServerId,
        step: StepId::SharedPath,
        label: "This node's server ID",
        help: "A whole number from 1 to 65535, unique in the cluster.",
    },
    Question {
        id: FieldId::StopMdaemon,
        step: StepId::MailStore,
        label: "Stop MDaemon while data moves (y/n)",
        help: "y: mdcluster stops MDaemon before moving lock files and mail, and starts it after the last change.",
    },
    Question {
        id: FieldId::KeepSource,
        step: StepId::MailStore,
        label: "Keep the old store until cleanup (y/n)",
        help: "y copies the store and keeps the original until `mdcluster cleanup`; n moves it.",
    },
    Question {
        id: FieldId::KeepLocal,
        step: StepId::MailStore,
        label: "Folders kept on each node (empty: none)",
        help: "Gateways, digests and the archive move to the share with the mailboxes; name any to keep on each node instead (gateways, digests, archive), at the cost the preview warns of.",
    },
    Question {
        id: FieldId::Restart,
        step: StepId::Directories,
        label: "Restart MDaemon afterwards (y/n)",
        help: "y drops RESTART.SEM after MDaemon.ini is rewritten; n leaves the restart to you.",
    },
    Question {
        id: FieldId::LbKind,
        step: StepId::LoadBalancer,
        label: "Load balancer (haproxy, nginx, apache or none)",
        help: "The balancer in front of the cluster; step 11 writes its configuration for the nodes in the cluster. none: step 11 waits.",
    },
    Question {
        id: FieldId::LbHttpMode,
        step: StepId::LoadBalancer,
        label: "Webmail routing (primary or balanced)",
        help: "primary: all Webmail to the primary, as MDaemon's manual recommends; balanced: every node, sticky by a route cookie.",
    },
    Question {
        id: FieldId::LbOutput,
        step: StepId::LoadBalancer,
        label: "Folder for the balancer's files (empty: default)",
        help: "A folder on this machine, copied to the balancer afterwards; empty: the installation's mdcluster\\load-balancer\\<kind> folder.",
    },
];

pub fn question(id: FieldId) -> &'static Question {
    QUESTIONS
        .iter()
        .find(|q| q.id == id)
        .unwrap_or(&QUESTIONS[0])
}

/// Whether the share needs a local mapping: always off Windows.
pub(crate) fn needs_local_share() -> bool {
    !cfg!(windows)
}

/// A secondary the administrator added (found by discovery, or typed in).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Secondary {
    pub name: String,
    pub address: String,
    /// None: mdcluster assigns one (the cluster manifest keeps it).
    pub server_id: Option<ServerId>,
    /// A removed node whose server ID it takes over (explicit replace).
    pub replaces: Option<String>,
}

/// The answers, as typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answers {
    /// Where this machine reaches the installation (`--root`).
    pub install_local: PathBuf,
    pub install_root: String,
    pub shared_path: String,
    pub shared_local: String,
    pub node_name: String,
    pub node_address: String,
    pub server_id: String,
    pub stop_mdaemon: String,
    pub keep_source: String,
    /// The trees kept on each node, as typed (`archive, digests`).
    pub keep_local: String,
    pub restart: String,
    /// The secondaries, in the order they were added.
    pub secondaries: Vec<Secondary>,
    /// Step 11: `haproxy`, `nginx`, `apache`, or `none` (the step waits).
    pub lb_kind: String,
    /// Step 11: `primary` or `balanced`.
    pub lb_http_mode: String,
    /// Step 11: a folder on this machine; empty for the default.
    pub lb_output: String,
    /// The rest of an earlier plan's `[load_balancer]` (cookie, listen,
    /// ports), kept as it was: the wizard does not ask for it.
    pub lb_kept: LbTable,
    /// An earlier plan's own `[shared]` sub-folders (those not at their
    /// defaults), kept as they were: the wizard does not ask for them.
    pub shared_kept: SharedTable,
}

impl Answers {
    /// Answers that reproduce a plan (an earlier wizard run, or a resumed one).
    pub fn from_plan(plan: &Plan, install_local: &Path, profile: &Profile) -> Answers {
        let local_of = |w: &WinPath| {
            plan.mounts
                .iter()
                .find(|m| m.windows == *w)
                .map(|m| m.local.display().to_string())
                .unwrap_or_default()
        };
        let primary = plan.primary();
        let lb = &plan.load_balancer;
        Answers {
            install_local: install_local.to_path_buf(),
            install_root: plan.install_root.to_string(),
            shared_path: plan.shared.path.to_string(),
            shared_local: local_of(&plan.shared.path),
            node_name: primary.map(|n| n.name.clone()).unwrap_or_default(),
            node_address: primary.map(|n| n.address.clone()).unwrap_or_default(),
            // A plan without the primary's server ID (0): the default, 1.
            server_id: primary
                .and_then(|n| n.server_id)
                .unwrap_or(ServerId::FIRST)
                .to_string(),
            stop_mdaemon: yes_no(plan.options.stop_mdaemon),
            keep_source: yes_no(plan.options.keep_source),
            keep_local: plan
                .shared
                .kept_local()
                .iter()
                .map(|t| t.id())
                .collect::<Vec<_>>()
                .join(", "),
            restart: yes_no(plan.options.restart),
            secondaries: plan
                .nodes
                .iter()
                .filter(|n| n.role == crate::plan::Role::Secondary)
                .map(|n| Secondary {
                    name: n.name.clone(),
                    address: n.address.clone(),
                    server_id: n.server_id,
                    replaces: n.replaces.clone(),
                })
                .collect(),
            lb_kind: lb
                .kind
                .map(|k| k.key().to_string())
                .unwrap_or_else(|| "none".into()),
            lb_http_mode: lb.http_mode.key().into(),
            lb_output: lb
                .output
                .as_ref()
                .map(|o| o.display().to_string())
                .unwrap_or_default(),
            lb_kept: kept_lb_table(lb, profile),
            shared_kept: SharedTable {
                path: String::new(),
                keep_local: Vec::new(),
                ..plan.to_file(profile).shared
            },
        }
    }

    /// Add a secondary (or update the address of one with the same name).
    pub fn add_secondary(&mut self, name: &str, address: &str) -> Result<(), String> {
        check_computer_name(name).map_err(|why| format!("the name {why}"))?;
        check_address(address).map_err(|why| format!("the address {why}"))?;
        if name.eq_ignore_ascii_case(self.node_name.trim()) {
            return Err(format!("{name} is the primary"));
        }
        match self
            .secondaries
            .iter_mut()
            .find(|s| s.name.eq_ignore_ascii_case(name))
        {
            Some(s) => s.address = address.to_string(),
            None => self.secondaries.push(Secondary {
                name: name.to_uppercase(),
                address: address.to_string(),
                server_id: None,
                replaces: None,
            }),
        }
        Ok(())
    }

    /// Take a secondary out of the plan again (before it was applied).
    pub(crate) fn remove_secondary(&mut self, name: &str) -> bool {
        let before = self.secondaries.len();
        self.secondaries
            .retain(|s| !s.name.eq_ignore_ascii_case(name));
        before != self.secondaries.len()
    }

    pub fn get(&self, id: FieldId) -> &str {
        match id {
            FieldId::InstallRoot => &self.install_root,
            FieldId::SharedPath => &self.shared_path,
            FieldId::SharedLocal => &self.shared_local,
            FieldId::NodeName => &self.node_name,
            FieldId::NodeAddress => &self.node_address,
            FieldId::ServerId => &self.server_id,
            FieldId::StopMdaemon => &self.stop_mdaemon,
            FieldId::KeepSource => &self.keep_source,
            FieldId::KeepLocal => &self.keep_local,
            FieldId::Restart => &self.restart,
            FieldId::LbKind => &self.lb_kind,
            FieldId::LbHttpMode => &self.lb_http_mode,
            FieldId::LbOutput => &self.lb_output,
        }
    }

    pub fn get_mut(&mut self, id: FieldId) -> &mut String {
        match id {
            FieldId::InstallRoot => &mut self.install_root,
            FieldId::SharedPath => &mut self.shared_path,
            FieldId::SharedLocal => &mut self.shared_local,
            FieldId::NodeName => &mut self.node_name,
            FieldId::NodeAddress => &mut self.node_address,
            FieldId::ServerId => &mut self.server_id,
            FieldId::StopMdaemon => &mut self.stop_mdaemon,
            FieldId::KeepSource => &mut self.keep_source,
            FieldId::KeepLocal => &mut self.keep_local,
            FieldId::Restart => &mut self.restart,
            FieldId::LbKind => &mut self.lb_kind,
            FieldId::LbHttpMode => &mut self.lb_http_mode,
            FieldId::LbOutput => &mut self.lb_output,
        }
    }

    /// The questions that apply on this machine, in order. The share's local
    /// folder is asked for off Windows, and shown on Windows while a mapping
    /// came with the answers (so that it is seen, checked and can be cleared).
    pub fn fields(&self) -> Vec<FieldId> {
        QUESTIONS
            .iter()
            .map(|q| q.id)
            .filter(|id| *id != FieldId::SharedLocal || self.maps_share())
            .collect()
    }

    /// Check one answer as it is typed. Err says what is wrong and what to give.
    pub fn validate(&self, id: FieldId) -> Result<(), String> {
        let v = self.get(id).trim();
        match id {
            FieldId::InstallRoot => WinPath::parse(v).map(|_| ()).map_err(|e| e.to_string()),
            FieldId::SharedPath => {
                if v.is_empty() {
                    return Err(
                        "give the UNC path of the share, e.g. \\\\fileserver\\mdaemon".into(),
                    );
                }
                let p = WinPath::parse(v).map_err(|e| e.to_string())?;
                if !p.is_unc() {
                    return Err("use a UNC path (\\\\server\\share): the MDaemon service cannot see mapped drive letters".into());
                }
                if let Ok(root) = WinPath::parse(self.install_root.trim()) {
                    if p.starts_with(&root) || root.starts_with(&p) {
                        return Err(format!(
                            "the share and the installation {root} must not contain each other"
                        ));
                    }
                }
                Ok(())
            }
            FieldId::SharedLocal => {
                if v.is_empty() {
                    return Err("give the local folder that is this share on this machine".into());
                }
                let p = Path::new(v);
                if !p.is_absolute() {
                    return Err("give an absolute path".into());
                }
                Ok(())
            }
            FieldId::NodeName => check_computer_name(v).map_err(|why| format!("the name {why}")),
            FieldId::NodeAddress => check_address(v).map_err(|why| format!("the address {why}")),
            FieldId::ServerId => match v.parse::<u32>() {
                Ok(n) if (1..=65535).contains(&n) => Ok(()),
                _ => Err("give a whole number from 1 to 65535".into()),
            },
            FieldId::StopMdaemon | FieldId::KeepSource | FieldId::Restart => match v {
                "y" | "Y" | "yes" | "n" | "N" | "no" => Ok(()),
                _ => Err("answer y or n".into()),
            },
            FieldId::LbKind => match v {
                "none" | "haproxy" | "nginx" | "apache" => Ok(()),
                _ => {
                    Err("answer haproxy, nginx, apache, or none to leave step 11 for later".into())
                }
            },
            FieldId::LbHttpMode => match v {
                "primary" | "balanced" => Ok(()),
                _ => Err("answer primary (all Webmail to the primary) or balanced".into()),
            },
            FieldId::KeepLocal => self.kept_local().map(|_| ()),
            FieldId::LbOutput if v.is_empty() => Ok(()),
            FieldId::LbOutput => crate::plan::check_output_dir(v).map(|_| ()).map_err(|why| {
                format!("{v} {why}; give an absolute folder on this machine, or leave it empty")
            }),
        }
    }

    /// The first field with an invalid answer.
    pub fn first_invalid(&self) -> Option<(FieldId, String)> {
        self.fields()
            .into_iter()
            .find_map(|f| self.validate(f).err().map(|e| (f, e)))
    }

    /// The names typed for the folders kept on each node (separated by
    /// commas or spaces), each once.
    fn kept_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for n in self
            .keep_local
            .split([',', ' ', ';'])
            .filter(|n| !n.is_empty())
        {
            if !names.iter().any(|k| k.eq_ignore_ascii_case(n)) {
                names.push(n.to_string());
            }
        }
        names
    }

    /// The folders kept on each node, as the plan names them.
    fn kept_local(&self) -> Result<Vec<Tree>, String> {
        self.kept_names()
            .iter()
            .map(|n| match Tree::from_id(n) {
                Some(t) if t.may_stay_local() => Ok(t),
                _ => Err(format!(
                    "'{}' is none of {}; leave it empty to share them all",
                    crate::text::sanitize(n),
                    Tree::local_choices()
                )),
            })
            .collect()
    }

    /// The `[options]` the yes/no answers make.
    pub fn options(&self) -> crate::plan::Options {
        let yes = |v: &str| matches!(v.trim(), "y" | "Y" | "yes");
        crate::plan::Options {
            restart: yes(&self.restart),
            keep_source: yes(&self.keep_source),
            stop_mdaemon: yes(&self.stop_mdaemon),
        }
    }

    /// The answers as a plan file, each as typed (the plan parser says what
    /// is wrong with one).
    pub fn plan_file(&self) -> PlanFile {
        let text = |s: &str| s.trim().to_string();
        let mut nodes = vec![NodeTable {
            name: text(&self.node_name),
            address: text(&self.node_address),
            role: Role::Primary,
            server_id: self.server_id.trim().parse().ok(),
            replaces: None,
        }];
        nodes.extend(self.secondaries.iter().map(|n| NodeTable {
            name: text(&n.name),
            address: text(&n.address),
            role: Role::Secondary,
            server_id: n.server_id.map(|id| i64::from(id.get())),
            replaces: n.replaces.clone(),
        }));
        let mut mounts = Vec::new();
        // Off Windows, or run from another machine: say where the installation is here.
        let local = self.install_local.to_string_lossy();
        if needs_local_share() || !local.eq_ignore_ascii_case(self.install_root.trim()) {
            mounts.push(MountTable {
                windows: text(&self.install_root),
                local: local.into_owned(),
            });
        }
        if self.maps_share() {
            mounts.push(MountTable {
                windows: text(&self.shared_path),
                local: text(&self.shared_local),
            });
        }
        PlanFile {
            version: crate::plan::VERSION,
            install: InstallTable {
                root: text(&self.install_root),
            },
            shared: self.shared_table(),
            nodes,
            options: (&self.options()).into(),
            load_balancer: self.load_balancer_table(),
            mounts,
        }
    }

    /// `[shared]`: the path and the folders kept on each node as answered,
    /// an earlier plan's own targets for the rest.
    fn shared_table(&self) -> SharedTable {
        let mut table = SharedTable {
            path: self.shared_path.trim().to_string(),
            ..self.shared_kept.clone()
        };
        match self.kept_local() {
            Ok(kept) => {
                // A folder now kept on each node has no target.
                for tree in kept {
                    table.clear_target(tree);
                    table.keep_local.push(tree.id().to_string());
                }
            }
            // As typed: the plan parser says what is wrong.
            Err(_) => table.keep_local = self.kept_names(),
        }
        table
    }

    /// The answers as plan text.
    pub fn plan_text(&self) -> String {
        self.plan_file().to_text(&[
            "mdcluster plan, saved by the wizard (see `mdcluster plan example` for every key)",
        ])
    }

    /// Whether the plan maps the share to a folder here: always off Windows;
    /// on Windows when a mapping came with the answers (an earlier plan's
    /// `[[mounts]]`: the share reached through another path), which saving
    /// must keep.
    fn maps_share(&self) -> bool {
        let local = self.shared_local.trim();
        needs_local_share()
            || (!local.is_empty() && !local.eq_ignore_ascii_case(self.shared_path.trim()))
    }

    /// The `[load_balancer]` table: the step-11 answers and what an earlier
    /// plan had beyond them.
    fn load_balancer_table(&self) -> LbTable {
        let answer = |v: &str, unset: &str| {
            let v = v.trim();
            (!v.is_empty() && v != unset).then(|| v.to_string())
        };
        LbTable {
            kind: answer(&self.lb_kind, "none"),
            output: answer(&self.lb_output, ""),
            http_mode: answer(&self.lb_http_mode, crate::plan::HttpMode::Primary.key()),
            ..self.lb_kept.clone()
        }
    }

    /// The plan these answers make, through the plan file parser. (A
    /// server ID that is no number cannot be written as one: said here.)
    pub fn plan(&self, profile: &Profile, file: &Path) -> Result<Plan, Vec<PlanError>> {
        if self.server_id.trim().parse::<i64>().is_err() {
            return Err(vec![PlanError {
                line: 0,
                column: 0,
                message: format!(
                    "the server ID '{}' is not a number",
                    crate::text::sanitize(self.server_id.trim())
                ),
                fix: Some("give a whole number from 1 to 65535".into()),
            }]);
        }
        Plan::parse(&self.plan_text(), file, profile)
    }
}

/// Why the share's local folder is refused when it is no folder.
pub(crate) fn not_a_folder(v: &str) -> String {
    format!("{v} is not an existing folder")
}

/// An earlier plan's `[load_balancer]` without the keys the wizard asks for.
fn kept_lb_table(lb: &crate::plan::LoadBalancer, profile: &Profile) -> LbTable {
    LbTable {
        kind: None,
        output: None,
        http_mode: None,
        ..crate::plan::load_balancer_table(lb, profile)
    }
}

fn yes_no(v: bool) -> String {
    if v { "y" } else { "n" }.into()
}

/// The longest common folder of the `[Directories]` values: the installation
/// root as Windows names it (`C:\MDaemon`).
pub(super) fn windows_root_from_ini(doc: &IniDoc, section: &str) -> Option<String> {
    let paths: Vec<WinPath> = doc
        .entries(section)
        .iter()
        .filter_map(|e| WinPath::parse(crate::install::decode(doc, &e.value).trim()).ok())
        .filter(|p| !p.is_unc())
        .collect();
    let first = paths.first()?;
    let mut common = first.clone();
    while !paths.iter().all(|p| p.starts_with(&common)) {
        common = common.parent()?;
    }
    if common.components().is_empty() {
        return None;
    }
    Some(common.to_string())
}

#[cfg(test)]
mod tests {
    use super::from_disk::root_on_windows;
    use super::*;
    use crate::plan::file::PortsTable;
    use crate::workflows::start::EarlierRun;

    /// Where this machine reaches the installation: itself on Windows, a
    /// mounted folder elsewhere.
    fn install_local() -> &'static Path {
        Path::new(if cfg!(windows) {
            r"C:\MDaemon"
        } else {
            "/srv/MDaemon"
        })
    }

    fn answers() -> Answers {
        Answers {
            install_local: install_local().into(),
            install_root: r"C:\MDaemon".into(),
            shared_path: r"\\fileserver\mdaemon".into(),
            // On Windows the share needs no local folder (needs_local_share).
            shared_local: if cfg!(windows) { "" } else { "/tmp" }.into(),
            node_name: "MAIL1".into(),
            node_address: "192.0.2.11".into(),
            server_id: "1".into(),
            stop_mdaemon: "n".into(),
            keep_source: "n".into(),
            keep_local: "archive".into(),
            restart: "n".into(),
            lb_kind: "nginx".into(),
            lb_http_mode: "balanced".into(),
            lb_output: if cfg!(windows) { r"C:\lb" } else { "/srv/lb" }.into(),
            lb_kept: LbTable {
                cookie: Some("ROUTE".into()),
                ports: PortsTable(vec![("http", 8080)]),
                ..LbTable::default()
            },
            shared_kept: SharedTable {
                gateways: Some(r"\\fileserver\gw".into()),
                ..SharedTable::default()
            },
            secondaries: vec![
                Secondary {
                    name: "MAIL2".into(),
                    address: "192.0.2.12".into(),
                    server_id: None,
                    replaces: None,
                },
                Secondary {
                    name: "MAIL4".into(),
                    address: "mail4.example.com".into(),
                    server_id: ServerId::new(2),
                    replaces: Some("MAIL3".into()),
                },
            ],
        }
    }

    #[test]
    fn answers_make_a_plan_that_gives_the_answers_back() {
        let a = answers();
        let profile = Profile::builtin();
        let plan = a.plan(&profile, Path::new("wizard.toml")).unwrap();
        assert_eq!(
            plan.shared.lockfiles.to_string(),
            r"\\fileserver\mdaemon\Users\LockFiles"
        );
        assert_eq!(Answers::from_plan(&plan, install_local(), &profile), a);
        assert_eq!(plan.load_balancer.kind, Some(crate::lb::Kind::Nginx));
        assert_eq!(plan.load_balancer.cookie, "ROUTE");
        assert_eq!(
            plan.load_balancer.ports.get(crate::plan::Service::Http),
            8080
        );
        assert_eq!(plan.nodes.len(), 3);
    }

    /// On Windows too (where the wizard asks for no local folder), a plan
    /// that maps the share keeps its mapping through the wizard.
    #[test]
    fn a_share_mapping_is_kept() {
        let mut a = answers();
        a.shared_local = if cfg!(windows) {
            r"D:\mdaemon-share"
        } else {
            "/srv/mdaemon-share"
        }
        .into();
        let profile = Profile::builtin();
        let plan = a.plan(&profile, Path::new("wizard.toml")).unwrap();
        assert!(
            plan.mounts
                .iter()
                .any(|m| m.windows == plan.shared.path && m.local == Path::new(&a.shared_local)),
            "{:?}",
            plan.mounts
        );
        assert_eq!(Answers::from_plan(&plan, install_local(), &profile), a);
        // Asked for, so that it is seen and checked.
        assert!(a.fields().contains(&FieldId::SharedLocal));
        if cfg!(windows) {
            // Cleared, the share is reached as it is.
            a.shared_local.clear();
            assert!(!a.fields().contains(&FieldId::SharedLocal));
            let plan = a.plan(&profile, Path::new("wizard.toml")).unwrap();
            assert!(plan.mounts.iter().all(|m| m.windows != plan.shared.path));
        }
    }

    #[test]
    fn secondaries_are_added_checked_and_removed() {
        let mut a = answers();
        a.secondaries.clear();
        a.add_secondary("mail3", "192.0.2.13").unwrap();
        assert_eq!(a.secondaries[0].name, "MAIL3");
        a.add_secondary("MAIL3", "192.0.2.14").unwrap();
        assert_eq!(a.secondaries.len(), 1, "the same node twice is one node");
        assert_eq!(a.secondaries[0].address, "192.0.2.14");
        assert!(
            a.add_secondary("MAIL1", "192.0.2.1").is_err(),
            "the primary"
        );
        assert!(a.add_secondary("BAD NAME", "192.0.2.1").is_err());
        assert!(a.add_secondary("MAIL5", "not an address!").is_err());
        assert!(a.remove_secondary("mail3"));
        assert!(a.secondaries.is_empty());
    }

    #[test]
    fn a_wrong_server_id_never_makes_a_plan() {
        let profile = Profile::builtin();
        let file = Path::new("wizard.toml");
        for (typed, says) in [
            ("abc", "not a number"),
            ("", "not a number"),
            ("70000", "70000"),
            ("0", "0"),
        ] {
            let mut a = answers();
            a.server_id = typed.into();
            let errors = a.plan(&profile, file).unwrap_err();
            let text = crate::plan::plan_problem(file, &errors).what;
            assert!(text.contains(says), "{typed}: {text}");
        }
        // Text that TOML would read as syntax stays a value.
        let mut a = answers();
        a.lb_output = "/srv/lb\"\nkind = \"apache".into();
        a.node_address = "x\" = 1".into();
        let errors = a.plan(&profile, file).unwrap_err();
        assert!(
            errors.iter().all(|e| !e.message.contains("duplicate key")),
            "{errors:?}"
        );
    }

    #[test]
    fn validation_as_you_type() {
        let mut a = answers();
        a.shared_path = r"S:\mdaemon".into();
        assert!(a.validate(FieldId::SharedPath).unwrap_err().contains("UNC"));
        a.shared_path = r"\\fs".into();
        assert!(a.validate(FieldId::SharedPath).is_err());
        a.shared_path = r"C:\MDaemon\share".into();
        assert!(a.validate(FieldId::SharedPath).is_err());
        a.server_id = "0".into();
        assert!(a.validate(FieldId::ServerId).is_err());
        a.node_name = "TOO-LONG-FOR-NETBIOS".into();
        assert!(a.validate(FieldId::NodeName).is_err());
        a.shared_local = if cfg!(windows) {
            r"C:\definitely\not\here"
        } else {
            "/definitely/not/here"
        }
        .into();
        // Whether it exists is the disk's to say, not the text's.
        assert!(a.validate(FieldId::SharedLocal).is_ok());
        assert!(a
            .check_on_disk(FieldId::SharedLocal)
            .unwrap_err()
            .contains("not an existing folder"));
        a.shared_local = "relative/dir".into();
        assert!(a.validate(FieldId::SharedLocal).is_err());
        assert_eq!(a.first_invalid().unwrap().0, FieldId::SharedPath);
        a.lb_kind = "f5".into();
        assert!(a.validate(FieldId::LbKind).unwrap_err().contains("haproxy"));
        a.lb_http_mode = "sticky".into();
        assert!(a.validate(FieldId::LbHttpMode).is_err());
        a.lb_output = "relative/dir".into();
        assert!(a
            .validate(FieldId::LbOutput)
            .unwrap_err()
            .contains("absolute"));
        a.lb_output = String::new();
        assert!(
            a.validate(FieldId::LbOutput).is_ok(),
            "empty: the default folder"
        );
    }

    /// Plain code, tested everywhere (with this machine's paths for the
    /// root MDaemon.ini names).
    #[test]
    fn on_windows_the_installation_is_where_it_is_unless_the_ini_was_written_elsewhere() {
        let d = tempfile::tempdir().unwrap();
        let here = d.path().join("lab").join("MDaemon");
        let other = d.path().join("MDaemon");
        std::fs::create_dir_all(&here).unwrap();
        let root = |ini: &Path| root_on_windows(Some(ini.display().to_string()), &here);
        let shown = |p: &Path| p.display().to_string();
        // Written for this folder (a real server): itself.
        assert_eq!(root(&here), shown(&here));
        assert_eq!(root_on_windows(None, &here), shown(&here));
        // Written on another machine (no such folder here): that root, mapped.
        assert_eq!(root(&other), shown(&other));
        // Another folder that exists here: this folder, never the other one ...
        std::fs::create_dir_all(&other).unwrap();
        assert_eq!(root(&other), shown(&here));
        // ... unless this is mdcluster's sandbox: mapped, so that a demo never
        // reaches the real installation.
        std::fs::write(here.join(crate::service::SANDBOX_MARKER), b"").unwrap();
        assert_eq!(root(&other), shown(&other));
        assert_eq!(root(&here), shown(&here));
    }

    #[test]
    fn defaults_come_from_mdaemon_ini() {
        let d = tempfile::tempdir().unwrap();
        let profile = Profile::builtin();
        crate::sandbox::create(
            d.path(),
            &profile,
            &crate::sandbox::Options {
                accounts: 2,
                messages: 4,
                seed: 1,
                message_size: None,
            },
        )
        .unwrap();
        let a = Answers::from_disk(d.path(), &profile, &EarlierRun::read(d.path(), &profile));
        // MDaemon.ini says (on Windows too: a sandbox is always mapped).
        assert_eq!(a.install_root, r"C:\MDaemon");
        assert_eq!(a.shared_path, "");
        assert!(a.validate(FieldId::NodeName).is_ok(), "{}", a.node_name);
        assert_eq!(
            crate::cluster::facts::netbios_name("mail-01.example.com"),
            "MAIL-01"
        );
    }
}
