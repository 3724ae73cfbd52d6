//! The eleven steps, with stable ids used everywhere (screen, JSON, journal, errors).
//!
//! mdcluster's eleven steps cover the eleven steps of MDaemon's documented
//! procedure; the first documented step ("mailbox and public-folder paths on a
//! network path") is the bulk of the work and is split into five. Data moves
//! before configuration points at it: LockFiles, PEM and the mail store first,
//! then one rewrite of `[Directories]` for all of them.
//!
//! A step is prepared into a [`StepPlan`]: facts found, checks, and the
//! [`Action`]s that would carry it out. Preparing never changes anything.

pub mod action;
mod cluster;
mod cluster_log;
pub mod directories;
pub mod layout;
pub mod load_balancer;
pub mod mail_store;
mod relocate;
mod shared_path;
mod stale_references;

pub use action::{Action, FileWrite, IniEdit, UserlistEdit};
pub(crate) use cluster::is_registration_of;

use crate::install::Installation;
use crate::location::Resolver;
use crate::plan::Plan;
use crate::problem::Problem;
use crate::profile::Profile;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepId {
    SharedPath,
    Lockfiles,
    Pem,
    MailStore,
    Directories,
    Certificates,
    Secondaries,
    Discover,
    ServerIds,
    ClusterLog,
    LoadBalancer,
}

impl StepId {
    pub const ALL: [StepId; 11] = [
        StepId::SharedPath,
        StepId::Lockfiles,
        StepId::Pem,
        StepId::MailStore,
        StepId::Directories,
        StepId::Certificates,
        StepId::Secondaries,
        StepId::Discover,
        StepId::ServerIds,
        StepId::ClusterLog,
        StepId::LoadBalancer,
    ];

    /// The stable id, e.g. `shared-path`.
    pub fn id(self) -> &'static str {
        match self {
            StepId::SharedPath => "shared-path",
            StepId::Lockfiles => "lockfiles",
            StepId::Pem => "pem",
            StepId::Directories => "directories",
            StepId::MailStore => "mail-store",
            StepId::Certificates => "certificates",
            StepId::Secondaries => "secondaries",
            StepId::Discover => "discover",
            StepId::ServerIds => "server-ids",
            StepId::ClusterLog => "cluster-log",
            StepId::LoadBalancer => "load-balancer",
        }
    }

    pub(crate) fn from_id(id: &str) -> Option<StepId> {
        StepId::ALL.into_iter().find(|s| s.id() == id)
    }

    /// 1-based position in the wizard.
    pub fn number(self) -> usize {
        StepId::ALL
            .iter()
            .position(|s| *s == self)
            .map(|i| i + 1)
            .unwrap_or(0)
    }

    pub fn title(self) -> &'static str {
        match self {
            StepId::SharedPath => "Check the shared path",
            StepId::Lockfiles => "Move LockFiles to the share",
            StepId::Pem => "Copy PEM to the share",
            StepId::Directories => "Rewrite [Directories] in MDaemon.ini",
            StepId::MailStore => "Move mailboxes and other shared data",
            StepId::Certificates => "Certificates on every node",
            StepId::Secondaries => "MDaemon on each secondary",
            StepId::Discover => "Find the secondaries",
            StepId::ServerIds => "Server IDs and registration",
            StepId::ClusterLog => "Confirm the cluster in its log",
            StepId::LoadBalancer => "Configure the load balancer",
        }
    }

    /// The steps of MDaemon's documented procedure this step covers.
    pub(crate) fn manual_steps(self) -> &'static str {
        match self {
            StepId::SharedPath
            | StepId::Lockfiles
            | StepId::Pem
            | StepId::Directories
            | StepId::MailStore => "1",
            StepId::Certificates => "2",
            StepId::Secondaries => "3",
            StepId::Discover => "4-6",
            StepId::ServerIds => "7-8",
            StepId::ClusterLog => "9-10",
            StepId::LoadBalancer => "11",
        }
    }

    /// What the step does and why, in a sentence or two.
    pub(crate) fn purpose(self) -> &'static str {
        match self {
            StepId::SharedPath => "Every node must reach the shared folder under the same UNC path, and the MDaemon service must be able to write there. Checked before anything moves: it exists, is writable, has room, and is not inside the installation.",
            StepId::Lockfiles => "All nodes must see the same lock files, or two nodes could change one mailbox at once. The LockFiles folder moves to the share, below the mailboxes folder as MDaemon itself would put it.",
            StepId::Pem => "The DKIM keys in the PEM folder must be the same on every node. The manual says to copy the folder to the share; the original stays where it is.",
            StepId::Directories => "MDaemon finds its folders through [Directories] in MDaemon.ini. Only the values that point at moved folders change; every other byte stays. MDaemon reads them at start, so it must be restarted.",
            StepId::MailStore => "Mailboxes, public folders, the domain gateways' mail, digests and the mail archive are not replicated: every node works on the same folders on the share. MDaemon cannot move them itself.",
            StepId::Certificates => "Certificate settings replicate, certificates do not: a node without the primary's certificates serves no SSL/TLS/HTTPS.",
            StepId::Secondaries => "Each secondary runs the same MDaemon version with its own licence key, and announces itself so the primary can find it.",
            StepId::Discover => "The primary finds the secondaries on the LAN and checks the cluster rules before one is added.",
            StepId::ServerIds => "Each node needs a unique server ID, entered in Setup > Cluster Service on the primary.",
            StepId::ClusterLog => "The cluster log shows whether the nodes are connected and replication runs; success is only declared when MDaemon confirms it.",
            StepId::LoadBalancer => "MDaemon does not route traffic: a balancer with sticky sessions must, with Remote Administration always on the primary.",
        }
    }

    /// The steps whose changes this one needs first: a failed check there
    /// leaves this step out of the run as well. Data moves before
    /// configuration points at it, and a node joins (and mail is routed to
    /// it) only in a cluster whose store is shared.
    pub(crate) fn depends_on(self) -> &'static [StepId] {
        match self {
            StepId::SharedPath | StepId::Certificates => &[],
            StepId::Lockfiles | StepId::Pem | StepId::MailStore | StepId::Secondaries => {
                &[StepId::SharedPath]
            }
            // Routing mail to a node is for a cluster whose store is shared.
            StepId::LoadBalancer => &[StepId::Directories],
            StepId::Directories => &[StepId::Lockfiles, StepId::Pem, StepId::MailStore],
            StepId::Discover => &[StepId::Secondaries],
            StepId::ServerIds => &[StepId::Directories, StepId::Certificates, StepId::Discover],
            StepId::ClusterLog => &[StepId::ServerIds],
        }
    }

    /// The steps that are applied together with this one or not at all:
    /// the moves of LockFiles, PEM and the mail store and the rewrite of
    /// `[Directories]` that points MDaemon at them (data moved without the
    /// rewrite would leave MDaemon working in folders that are gone).
    pub(crate) fn applied_with(self) -> &'static [StepId] {
        const MOVES: &[StepId] = &[
            StepId::Lockfiles,
            StepId::Pem,
            StepId::MailStore,
            StepId::Directories,
        ];
        if MOVES.contains(&self) {
            MOVES
        } else {
            &[]
        }
    }

    /// Steps judged per node, anew on every run (the cluster steps, and the
    /// load balancer, whose files follow the cluster's nodes).
    pub(crate) fn per_node(self) -> bool {
        matches!(
            self,
            StepId::Certificates
                | StepId::Secondaries
                | StepId::Discover
                | StepId::ServerIds
                | StepId::ClusterLog
                | StepId::LoadBalancer
        )
    }
}

impl std::fmt::Display for StepId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

/// The steps a run leaves out when `failed` failed their checks: each failed
/// step, every step applied together with one left out, and every step that
/// needs one left out (directly or not), each with the failed step it waits
/// for.
pub(crate) fn left_out(
    failed: &std::collections::BTreeSet<StepId>,
) -> std::collections::BTreeMap<StepId, StepId> {
    let mut out: std::collections::BTreeMap<StepId, StepId> =
        failed.iter().map(|s| (*s, *s)).collect();
    // Until nothing changes: a step left out takes its partners with it,
    // whatever left it out, and they take what needs them.
    loop {
        let before = out.len();
        for step in StepId::ALL {
            if out.contains_key(&step) {
                continue;
            }
            let needs = step.depends_on().iter().find_map(|d| out.get(d).copied());
            let partner = step.applied_with().iter().find_map(|p| out.get(p).copied());
            if let Some(by) = needs.or(partner) {
                out.insert(step, by);
            }
        }
        if out.len() == before {
            return out;
        }
    }
}

/// Where a step stands: the one vocabulary of the preview, `status`, the
/// wizard's step list and `--json` (kebab-case there).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(strum::EnumIter))]
#[serde(rename_all = "kebab-case")]
pub enum StepStatus {
    /// Not prepared yet, or blocked by a failed check (the detail says which).
    Pending,
    /// The wizard lacks an answer the step needs.
    NeedsInput,
    /// Has actions to carry out.
    Ready,
    /// Started in an earlier run that stopped; the remaining actions follow.
    Interrupted,
    /// Being carried out now.
    Running,
    /// Finished (in this run or an earlier one, per the journal).
    Done,
    /// Already as the plan wants it.
    NothingToDo,
    /// Waits for the administrator or another machine (a secondary to
    /// announce itself, a registration to be confirmed); nothing fails.
    Waiting,
    /// A check or an action failed.
    Failed,
    /// Reversed by undo.
    Undone,
    /// An undo stopped part-way.
    UndoInterrupted,
}

impl StepStatus {
    /// The words the terminal shows (the JSON name with spaces).
    pub fn label(self) -> &'static str {
        match self {
            StepStatus::Pending => "pending",
            StepStatus::NeedsInput => "needs input",
            StepStatus::Ready => "ready",
            StepStatus::Interrupted => "interrupted",
            StepStatus::Running => "running",
            StepStatus::Done => "done",
            StepStatus::NothingToDo => "nothing to do",
            StepStatus::Waiting => "waiting",
            StepStatus::Failed => "failed",
            StepStatus::Undone => "undone",
            StepStatus::UndoInterrupted => "undo interrupted",
        }
    }
}

impl std::fmt::Display for StepStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.label())
    }
}

/// One preflight check and its verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    pub fn pass(name: &str, detail: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            ok: true,
            detail: detail.into(),
            fix: None,
        }
    }
    pub fn fail(name: &str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            ok: false,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

/// A prepared step: what was found, what was checked, what would change.
#[derive(Clone, Debug, Serialize)]
pub struct StepPlan {
    pub step: StepId,
    pub state: StepStatus,
    pub facts: Vec<(String, String)>,
    pub checks: Vec<Check>,
    /// Remaining actions with their index in the step's action list.
    pub actions: Vec<(usize, Action)>,
    pub notes: Vec<String>,
    /// What the administrator does after the run (restart MDaemon, register
    /// a node, copy the balancer's files): shown with the notes, and what a
    /// run's summary lists as next.
    pub next: Vec<String>,
    /// What the run leaves as the administrator chose, at a cost the
    /// preview must show (a folder the plan keeps on each node).
    pub warnings: Vec<String>,
}

impl StepPlan {
    pub fn new(step: StepId, state: StepStatus) -> StepPlan {
        StepPlan {
            step,
            state,
            facts: Vec::new(),
            checks: Vec::new(),
            actions: Vec::new(),
            notes: Vec::new(),
            next: Vec::new(),
            warnings: Vec::new(),
        }
    }
    pub fn fact(&mut self, label: &str, value: impl Into<String>) {
        self.facts.push((label.to_string(), value.into()));
    }
    pub(crate) fn failed_checks(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.ok)
    }
    /// Set the actions and the state they imply.
    pub(crate) fn with_actions(mut self, actions: Vec<Action>) -> StepPlan {
        self.state = if actions.is_empty() {
            StepStatus::NothingToDo
        } else {
            StepStatus::Ready
        };
        self.actions = actions.into_iter().enumerate().collect();
        self
    }
    /// Where this step puts data, and how many bytes each time (a rename on
    /// one file system puts none).
    pub(crate) fn destinations(&self) -> impl Iterator<Item = (&crate::location::Loc, u64)> {
        self.actions.iter().filter_map(|(_, a)| match a {
            Action::MoveFolder { to, .. } | Action::CopyFolder { to, .. } => Some((to, a.bytes())),
            _ => None,
        })
    }
}

/// What a step needs to prepare itself.
pub struct Context<'a> {
    pub plan: &'a Plan,
    pub profile: &'a Profile,
    pub resolver: &'a Resolver,
    pub install: &'a Installation,
    pub options: RunOptions,
    /// Whether MDaemon runs (for the steps that move data it uses).
    pub service: &'a crate::service::State,
    /// The cluster as known: the manifest on the share and what discovery found.
    pub cluster: &'a ClusterView,
    /// The time the preview is made, for what it writes down (a node's
    /// "added", a registration).
    pub now: &'a str,
    /// Step 11 writes the balancer's configuration with this failover
    /// (the failover watch); None: the normal configuration.
    pub failover: Option<&'a crate::lb::Move>,
}

/// What the cluster steps (6-9) judge from.
#[derive(Clone, Debug, Default)]
pub struct ClusterView {
    /// The cluster manifest on the share, when there is one.
    pub manifest: Option<crate::cluster::manifest::Manifest>,
    /// The manifest file's text as read (for a change that can be undone).
    pub manifest_text: Option<String>,
    /// Discovery's reports; None when discovery did not run.
    pub reports: Option<Vec<crate::discovery::survey::NodeReport>>,
}

/// How a run goes: the plan's options, command-line flags added.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunOptions {
    pub restart: bool,
    pub keep_source: bool,
    pub stop_mdaemon: bool,
    /// The administrator says MDaemon is stopped (where mdcluster cannot tell).
    pub mdaemon_stopped: bool,
    /// The administrator says MDaemon was restarted after the rewrite (cleanup).
    pub mdaemon_restarted: bool,
    /// Consent to apply the steps a failed check does not block, leaving the
    /// failed steps and what needs them for a later run (`--skip-blocked`).
    pub skip_blocked: bool,
}

impl RunOptions {
    pub fn from_plan(o: &crate::plan::Options) -> RunOptions {
        RunOptions {
            restart: o.restart,
            keep_source: o.keep_source,
            stop_mdaemon: o.stop_mdaemon,
            ..RunOptions::default()
        }
    }
}

/// Whether MDaemon may run while a step moves data it uses: a failed check
/// unless it is stopped (or will be: `stop_mdaemon`). None when nothing moves.
pub(crate) fn service_check(ctx: &Context, moves: bool) -> Option<Check> {
    use crate::service::State;
    if !moves {
        return None;
    }
    let fix = "rerun with --stop-mdaemon (mdcluster stops MDaemon, moves, and starts it again), or stop it yourself";
    Some(match ctx.service {
        State::Stopped => Check::pass("MDaemon stopped", "MDaemon is not running"),
        State::Running if ctx.options.stop_mdaemon => Check::pass(
            "MDaemon stopped",
            "MDaemon runs; mdcluster stops it before the move and starts it afterwards",
        ),
        State::Running => Check::fail(
            "MDaemon stopped",
            "MDaemon is running; its data must not move under it",
            fix,
        ),
        State::Unknown(_) if ctx.options.mdaemon_stopped => Check::pass(
            "MDaemon stopped",
            "you said MDaemon is stopped (--mdaemon-stopped)",
        ),
        State::Unknown(why) => Check::fail(
            "MDaemon stopped",
            format!("cannot tell whether MDaemon runs: {why}"),
            "stop the MDaemon service on the server, then rerun with --mdaemon-stopped",
        ),
    })
}

/// Prepare one available step that has not started yet. `destinations` is
/// where the other steps will put data, and how much (for the checks of
/// every target: reachable, writable, room).
pub(crate) fn prepare(
    step: StepId,
    ctx: &Context,
    destinations: &[(crate::location::Loc, u64)],
) -> Result<StepPlan, Problem> {
    let result = match step {
        StepId::SharedPath => shared_path::prepare(ctx, destinations),
        StepId::Lockfiles => relocate::prepare(ctx, StepId::Lockfiles),
        StepId::Pem => relocate::prepare(ctx, StepId::Pem),
        StepId::Directories => directories::prepare(ctx),
        StepId::MailStore => mail_store::prepare(ctx),
        StepId::Certificates | StepId::Secondaries | StepId::Discover | StepId::ServerIds => {
            cluster::prepare(ctx, step)
        }
        StepId::ClusterLog => cluster_log::prepare(ctx),
        StepId::LoadBalancer => load_balancer::prepare(ctx),
    };
    result.map_err(|p| p.in_step(step.id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_status_reads_the_same_in_json_and_on_the_terminal() {
        use strum::IntoEnumIterator;
        for status in StepStatus::iter() {
            let json = serde_json::to_value(status).unwrap();
            assert_eq!(json, status.label().replace(' ', "-"), "{status:?}");
            assert_eq!(format!("{status:<16}|").len(), 17, "Display pads");
        }
    }

    #[test]
    fn a_step_needs_only_earlier_steps() {
        for step in StepId::ALL {
            for d in step.depends_on() {
                assert!(d.number() < step.number(), "{step} needs the later {d}");
            }
        }
    }

    #[test]
    fn a_failed_step_leaves_out_only_what_needs_it() {
        use std::collections::BTreeSet;
        // The balancer: nothing needs it.
        let out = left_out(&BTreeSet::from([StepId::LoadBalancer]));
        assert_eq!(
            out.into_iter().collect::<Vec<_>>(),
            [(StepId::LoadBalancer, StepId::LoadBalancer)]
        );
        // The mail store: the other moves and the rewrite of MDaemon.ini go
        // with it, and through them the server IDs, the log and the
        // balancer; not the certificates or the secondaries' checks.
        for failed in [StepId::MailStore, StepId::Directories, StepId::Lockfiles] {
            let out = left_out(&BTreeSet::from([failed]));
            let steps: Vec<StepId> = out.keys().copied().collect();
            assert_eq!(
                steps,
                [
                    StepId::Lockfiles,
                    StepId::Pem,
                    StepId::MailStore,
                    StepId::Directories,
                    StepId::ServerIds,
                    StepId::ClusterLog,
                    StepId::LoadBalancer
                ],
                "{failed}"
            );
            assert!(out.values().all(|by| *by == failed), "{out:?}");
        }
        // The shared path: everything but the certificates check.
        let out = left_out(&BTreeSet::from([StepId::SharedPath]));
        assert_eq!(out.len(), 10);
        assert!(!out.contains_key(&StepId::Certificates));
        // Two failures: each left-out step names the first it waits for.
        let out = left_out(&BTreeSet::from([StepId::Pem, StepId::Discover]));
        assert_eq!(out[&StepId::Lockfiles], StepId::Pem);
        assert_eq!(out[&StepId::Directories], StepId::Pem);
        assert_eq!(out[&StepId::ServerIds], StepId::Pem);
        assert_eq!(out[&StepId::Discover], StepId::Discover);
        assert_eq!(out[&StepId::LoadBalancer], StepId::Pem);
        assert!(!out.contains_key(&StepId::Secondaries));
        // The secondaries' checks: the server IDs and the log, not the
        // moves or the balancer.
        let out = left_out(&BTreeSet::from([StepId::Secondaries]));
        let steps: Vec<StepId> = out.keys().copied().collect();
        assert_eq!(
            steps,
            [
                StepId::Secondaries,
                StepId::Discover,
                StepId::ServerIds,
                StepId::ClusterLog
            ]
        );
        assert!(left_out(&BTreeSet::new()).is_empty());
    }

    /// Over every set of failed steps: the moves and the rewrite are left
    /// out all or none, and a step that runs has all it needs running.
    #[test]
    fn for_any_failures_the_moves_go_together_and_needs_are_kept() {
        use std::collections::BTreeSet;
        for mask in 0u32..(1 << StepId::ALL.len()) {
            let failed: BTreeSet<StepId> = StepId::ALL
                .into_iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, s)| s)
                .collect();
            let out = left_out(&failed);
            for f in &failed {
                assert_eq!(out.get(f), Some(f), "{failed:?}");
            }
            for step in StepId::ALL {
                let partners = step.applied_with();
                if out.contains_key(&step) {
                    assert!(
                        partners.iter().all(|p| out.contains_key(p)),
                        "{failed:?}: {out:?}"
                    );
                    assert!(failed.contains(&out[&step]), "{failed:?}: {out:?}");
                } else {
                    assert!(
                        step.depends_on().iter().all(|d| !out.contains_key(d)),
                        "{failed:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn eleven_steps_with_unique_stable_ids() {
        let ids: std::collections::BTreeSet<_> = StepId::ALL.iter().map(|s| s.id()).collect();
        assert_eq!(ids.len(), 11);
        for s in StepId::ALL {
            assert_eq!(StepId::from_id(s.id()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.id());
        }
        assert_eq!(StepId::MailStore.number(), 4);
        assert_eq!(StepId::Directories.number(), 5);
    }
}
