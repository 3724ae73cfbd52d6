//! The wizard's state and its update function.
//!
//! One [`App`] holds everything the screen shows. Every input (a key, a tick,
//! a finished preview, an engine event) is a [`Msg`]; [`App::update`] changes
//! the state and returns [`Cmd`]s for work that must not block the screen
//! (preview, apply, undo, saving a plan), which the runtime carries out on
//! threads and answers with more messages. Rendering (`view`) reads the state
//! and nothing else.

use super::answers::{question, Answers, FieldId};
use super::nodes::{self, NodeRow};
use super::page::Extent;
use super::view::Drawn;
use crate::clusterlog::{Confirmations, NodeSpec};
use crate::discovery::survey::NodeReport;
use crate::discovery::Scope;
use crate::engine::events::{Event, FolderProgress};
use crate::engine::{Preview, Summary};
use crate::plan::Plan;
use crate::plan::ServerId;
use crate::problem::Problem;
use crate::profile::Profile;
use crate::steps::{StepId, StepStatus};
use crate::workflows::join::JoinEvent;
use crate::workflows::start::EarlierRun;
use crossterm::event::{KeyEvent, KeyEventKind};
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Most events kept for the event pane.
const EVENT_LINES: usize = 500;
/// How often to ask again for a manifest lock another run holds.
const LOCK_RETRY: Duration = Duration::from_secs(5);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Screen {
    /// An earlier run was interrupted: resume, undo or quit.
    Resume,
    /// Browsing the steps, answering questions, looking at the preview.
    Steps,
    Confirm(Confirm),
    Running,
    Summary,
    SavePlan,
    /// This machine is a secondary: announce it to the primary (`J`).
    Join,
    /// The cluster's health, round after round (`h`).
    Health,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confirm {
    Apply,
    Undo,
    QuitWhileRunning,
    /// The administrator registered these nodes in MDaemon (step 9).
    Registered,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Focus {
    Steps,
    /// Editing a question of the selected step.
    Field(FieldId),
    /// Choosing in the nodes table (step 8).
    Nodes,
    /// Typing a host to check by hand (step 8).
    ManualHost,
}

pub enum PreviewState {
    /// Waiting for valid answers or for the first result.
    Waiting,
    Computing,
    Ready(Box<Preview>),
    /// The installation could not be read at all.
    Failed(Problem),
}

/// Long work in progress.
#[derive(Clone, Debug)]
pub struct ProgressInfo {
    pub step: StepId,
    pub progress: FolderProgress,
    pub started: Instant,
}

/// What the summary screen shows.
pub struct Finished {
    pub undo: bool,
    pub result: Result<Summary, Problem>,
}

pub enum Msg {
    /// What discovery found (all of it, judged), and why nothing if nothing.
    Discovered {
        generation: u64,
        reports: Vec<NodeReport>,
        why: String,
    },
    /// The join code on screen and when it expires (Unix milliseconds).
    JoinCode(Result<(String, i64), String>),
    /// The answer to [`Cmd::HoldLock`] number `seq`.
    ClusterLock {
        seq: u64,
        answer: LockAnswer,
    },
    /// The answer to [`Cmd::ProbeFolder`].
    FolderProbed {
        path: String,
        is_dir: bool,
    },
    /// Registrations recorded in the manifest: (name, server ID).
    Registered(Result<Vec<(String, ServerId)>, String>),
    /// A health round of [`Cmd::WatchHealth`] number `generation`, with
    /// what was not checked; or why no round could run.
    Health {
        generation: u64,
        round: Result<(crate::health::Round, Vec<String>), String>,
    },
    /// The join screen: this node's facts, and where it stands.
    Joining {
        generation: u64,
        update: JoinUpdate,
    },
    Key(KeyEvent),
    Resize,
    Tick(Instant),
    Preview {
        generation: u64,
        result: Result<Preview, Problem>,
    },
    Engine(Event),
    Finished {
        undo: bool,
        result: Result<Summary, Problem>,
    },
    Saved(Result<PathBuf, String>),
    /// The answer to [`Cmd::UndoList`]: one line per action, newest first,
    /// and the same for the latest run alone when it can be undone alone.
    UndoList {
        list: Result<Vec<String>, String>,
        /// The latest run's id and what undoing it alone reverses.
        latest: Option<(String, Vec<String>)>,
        /// The list finishes an undo of the latest run that stopped.
        finishing_latest: bool,
    },
    /// Step 10: the cluster log as followed so far.
    ClusterLog {
        generation: u64,
        /// Which file is followed, and by which pattern (from the log folder).
        found: String,
        confirmations: Confirmations,
        /// Lines about the awaited nodes and what happened to the file, since the last message.
        lines: Vec<String>,
    },
}

pub enum Cmd {
    Preview {
        generation: u64,
        plan: Box<Plan>,
        /// What discovery found (None: it has not run).
        discovered: Option<Vec<NodeReport>>,
    },
    /// Listen for secondaries (until a newer Discover); issue the join code.
    Discover {
        generation: u64,
        plan: Box<Plan>,
        scope: Scope,
        manual: Vec<String>,
    },
    /// Hold the cluster manifest lock on the plan's shared path (where
    /// `mounts` say this machine reaches it, when that is a folder) for the
    /// wizard's run.
    HoldLock {
        /// Answers to older requests are ignored.
        seq: u64,
        mounts: Vec<crate::location::Mount>,
        share: crate::winpath::WinPath,
    },
    /// Let go of it (this machine is about to join as a secondary).
    ReleaseLock,
    /// Whether this is a folder on this machine (the share's local folder).
    ProbeFolder {
        path: String,
    },
    /// Record that these nodes are registered in MDaemon.
    Register {
        plan: Box<Plan>,
        names: Vec<String>,
    },
    /// Announce this machine as a secondary until a newer Join (or StopJoin).
    Join {
        generation: u64,
        request: JoinRequest,
    },
    StopJoin,
    /// Health rounds for this plan, one every [`HEALTH_INTERVAL`], until
    /// a newer WatchHealth or StopHealth.
    WatchHealth {
        generation: u64,
        plan: Box<Plan>,
    },
    StopHealth,
    /// Follow the cluster log for these nodes (until a newer FollowLog).
    FollowLog {
        generation: u64,
        root: PathBuf,
        nodes: Vec<NodeSpec>,
    },
    Apply {
        plan_text: String,
        preview: Box<Preview>,
    },
    Undo {
        plan: Box<Plan>,
        /// Only this run, the latest (a node added), the runs before it kept.
        latest: Option<String>,
    },
    /// What an undo would reverse, read from the journal (for its confirmation).
    UndoList {
        plan: Box<Plan>,
    },
    SavePlan {
        path: PathBuf,
        text: String,
    },
}

/// What the join screen asks the runtime to announce.
#[derive(Clone, Debug)]
pub struct JoinRequest {
    pub root: PathBuf,
    /// The plan's shared path and the mounts saying where this machine
    /// reaches it (located by the command; None: not answered yet).
    pub share: Option<(Vec<crate::location::Mount>, crate::winpath::WinPath)>,
    pub name: String,
    pub code: String,
    pub scope: Scope,
}

/// What the announcing thread reports.
#[derive(Clone, Debug)]
pub enum JoinUpdate {
    /// What the join workflow reported.
    Event(JoinEvent),
    /// It stopped with an error.
    Failed(String),
}

/// The answer to [`Cmd::HoldLock`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LockAnswer {
    /// This wizard holds the manifest lock.
    Held,
    /// Another mdcluster holds it: who.
    Elsewhere(String),
    /// The shared path is no folder on this machine (yet): nothing to hold.
    NoShare,
    /// The request was overtaken (a newer one, or a release): no answer.
    Void,
}

/// The join screen (this machine as a secondary).
#[derive(Default)]
pub struct JoinState {
    pub code: String,
    pub name: String,
    /// 0: the code field, 1: the name field.
    pub field: usize,
    pub generation: u64,
    pub running: bool,
    pub facts: Option<crate::cluster::facts::Facts>,
    pub status: Vec<String>,
    pub server_id: Option<ServerId>,
    pub registered: bool,
    /// The end of the verification on this node (None: not ended).
    pub verified: Option<bool>,
}

/// Steps 6-9: the secondaries.
#[derive(Default)]
pub struct ClusterState {
    /// The join code on screen and when it expires (Unix milliseconds).
    pub code: Option<(String, i64)>,
    pub code_error: Option<String>,
    /// Everything discovery found, judged.
    pub reports: Vec<NodeReport>,
    /// Why nothing (trusted) was found, as far as can be seen.
    pub why_nothing: String,
    /// What discovery was started for (installation, share, primary, hosts).
    pub started: Option<String>,
    pub generation: u64,
    /// Hosts typed in by hand, checked with the others.
    pub manual: Vec<String>,
    /// The host being typed.
    pub typing: String,
    /// The selected row of the nodes table.
    pub row: usize,
    /// The first row the nodes table showed: it scrolls only when the
    /// selection leaves what is shown.
    pub offset: usize,
    /// The shared path (and mounts) whose manifest lock was asked for.
    pub lock_share: Option<String>,
    /// Who else holds the manifest lock (None: this wizard, or not asked yet).
    pub lock_held_by: Option<String>,
    /// The shared path was no folder when the lock was asked for.
    pub share_missing: bool,
    pub lock_asked: Option<Instant>,
    /// The lock request whose answer is awaited (apply waits for it).
    pub lock_pending: Option<u64>,
    /// The number of the latest lock request.
    pub lock_seq: u64,
    /// The manifest existed at start: this run adds a node.
    pub adding: bool,
    /// The first preview was seen (add-node mode is decided there).
    seen_first_preview: bool,
    /// The discovery fingerprint the current preview was made with.
    previewed: String,
}

/// Step 10: the cluster log, followed while the cluster has registered
/// secondaries, until it confirms every node.
#[derive(Default)]
pub struct LogState {
    pub generation: u64,
    /// What the follower was started for (installation and nodes).
    started: Option<String>,
    /// The preview generation last looked at (the nodes change only with one).
    looked_at: u64,
    pub found: String,
    pub confirmations: Option<Confirmations>,
    /// The latest lines about the awaited nodes (untrusted: sanitized when drawn).
    pub recent: VecDeque<String>,
    /// The confirmation was announced in the event pane.
    announced: bool,
}

/// The health screen: the latest round.
#[derive(Default)]
pub struct HealthState {
    pub generation: u64,
    pub round: Option<crate::health::Round>,
    pub notes: Vec<String>,
    pub error: Option<String>,
    /// Rounds seen since the screen opened.
    pub rounds: u64,
    /// When the latest round arrived.
    pub at: Option<Instant>,
}

/// Seconds between the starts of two health rounds on the health screen.
pub const HEALTH_INTERVAL: Duration = Duration::from_secs(10);

/// How many log lines step 10 keeps on screen.
const LOG_LINES: usize = 8;

pub struct App {
    pub profile: Profile,
    pub answers: Answers,
    pub screen: Screen,
    /// Where a popup returns to.
    pub previous: Screen,
    pub focus: Focus,
    pub selected: StepId,
    pub scroll: u16,
    /// The scrolled page as last drawn (how far it goes, how many rows).
    pub page: Extent,
    /// The failed checks of the latest preview (step and check, detail): a
    /// new one is said as an event.
    failing: BTreeMap<(StepId, String), String>,
    pub preview: PreviewState,
    generation: u64,
    /// The preview generation the apply question was asked with: a new
    /// preview since (other steps left out, another node) is asked anew.
    pub(crate) apply_asked: u64,
    previewed: Option<Answers>,
    /// States set by this session's run (running, done, failed).
    pub run_states: BTreeMap<StepId, StepStatus>,
    pub progress: Option<ProgressInfo>,
    pub events: VecDeque<String>,
    pub finished: Option<Finished>,
    pub save_path: String,
    pub save_error: Option<String>,
    pub saved: Option<PathBuf>,
    /// Set when an earlier run was interrupted: what the resume screen says.
    pub resume_note: Option<String>,
    /// The share's local folder last asked about, and whether it is a folder
    /// (None: the answer has not come yet).
    pub folder_probe: Option<(String, Option<bool>)>,
    /// A probe is under way (one at a time: a share that does not answer
    /// must not collect threads), and when it was asked.
    pub probe_pending: bool,
    pub probe_at: Option<Instant>,
    pub undo_available: bool,
    /// What the undo being confirmed would reverse (None: being read).
    pub undo_list: Option<Result<Vec<String>, String>>,
    /// The latest run and what undoing it alone would reverse, when it can.
    pub undo_latest: Option<(String, Vec<String>)>,
    /// The undo being confirmed finishes an undo of the latest run.
    pub finishing_latest: bool,
    /// The undo under way is of the latest run alone.
    pub undoing_latest: bool,
    pub color: bool,
    pub now: Instant,
    pub quit: bool,
    /// Where the wizard keeps the plan it applies (in the state folder).
    pub plan_file: PathBuf,
    /// Time from start to the first frame (the start-up benchmark).
    pub first_frame: Option<Duration>,
    /// Where discovery listens (None: it is off; tests feed what it finds).
    pub discovery_scope: Option<Scope>,
    pub cluster: ClusterState,
    pub join: JoinState,
    pub log: LogState,
    pub health: HealthState,
}

impl App {
    /// The wizard's state at its start, from the answers and what an earlier
    /// run left (read by the caller: nothing here touches the disk).
    pub fn new(profile: Profile, answers: Answers, color: bool, earlier: EarlierRun) -> App {
        let mut answers = answers;
        let mut resume_note = None;
        if let Some(run) = &earlier.interrupted {
            if let Some(plan) = &run.plan {
                answers = Answers::from_plan(plan, &answers.install_local, &profile);
            }
            resume_note = Some(format!(
                "An earlier run on this installation was interrupted: {} of {} recorded actions finished. \
                 The journal lets mdcluster finish it exactly, or reverse what it did.",
                run.done, run.total
            ));
        }
        let save_path = "mdcluster-plan.toml".to_string();
        let mut app = App {
            profile,
            answers,
            screen: if resume_note.is_some() {
                Screen::Resume
            } else {
                Screen::Steps
            },
            previous: Screen::Steps,
            focus: Focus::Steps,
            selected: StepId::SharedPath,
            scroll: 0,
            // Nothing drawn yet: a page of the smallest pane.
            page: Extent {
                max_scroll: u16::MAX,
                rows: 10,
            },
            failing: BTreeMap::new(),
            apply_asked: 0,
            preview: PreviewState::Waiting,
            generation: 0,
            previewed: None,
            run_states: BTreeMap::new(),
            progress: None,
            events: VecDeque::new(),
            finished: None,
            save_path,
            save_error: None,
            saved: None,
            resume_note,
            folder_probe: None,
            probe_pending: false,
            probe_at: None,
            undo_available: earlier.undo_available,
            undo_list: None,
            undo_latest: None,
            undoing_latest: false,
            finishing_latest: false,
            color,
            now: Instant::now(),
            quit: false,
            plan_file: earlier.wizard_plan.clone(),
            first_frame: None,
            discovery_scope: None,
            cluster: ClusterState::default(),
            join: JoinState::default(),
            log: LogState::default(),
            health: HealthState::default(),
        };
        app.event("mdcluster wizard started");
        // A journal that cannot be used (damaged, or from a newer mdcluster)
        // is said at once; applying then refuses with the same words.
        if let Some(p) = earlier.unusable {
            app.event(format!(
                "{} ({})",
                p.what,
                p.fix.unwrap_or_else(|| "see mdcluster status".into())
            ));
        }
        if app.first_invalid().is_some() {
            app.focus = Focus::Field(
                app.first_invalid()
                    .map(|(f, _)| f)
                    .unwrap_or(FieldId::SharedPath),
            );
        }
        app
    }

    /// Commands to run right after start (the first preview).
    pub fn start(&mut self) -> Vec<Cmd> {
        self.refresh_preview()
    }

    pub fn event(&mut self, text: impl Into<String>) {
        if self.events.len() == EVENT_LINES {
            self.events.pop_front();
        }
        self.events.push_back(text.into());
    }

    pub fn preview(&self) -> Option<&Preview> {
        match &self.preview {
            PreviewState::Ready(p) => Some(p),
            _ => None,
        }
    }

    /// The step a failed preparation belongs to (its own, or the first).
    pub(crate) fn failed_step(&self) -> Option<StepId> {
        match &self.preview {
            PreviewState::Failed(p) => Some(
                p.step
                    .and_then(StepId::from_id)
                    .unwrap_or(StepId::SharedPath),
            ),
            _ => None,
        }
    }

    /// The step list's state for a step.
    pub fn step_state(&self, step: StepId) -> StepStatus {
        if let Some(s) = self.run_states.get(&step) {
            return *s;
        }
        if self.failed_step() == Some(step) {
            return StepStatus::Failed;
        }
        if step == StepId::ClusterLog && self.log_confirmed() {
            return StepStatus::Done;
        }
        let asks = self
            .answers
            .fields()
            .into_iter()
            .any(|f| question(f).step == step && self.field_error(f).is_some());
        if asks {
            return StepStatus::NeedsInput;
        }
        let Some(p) = self.preview() else {
            return StepStatus::Pending;
        };
        match p.steps.iter().find(|s| s.step == step) {
            Some(sp) if sp.failed_checks().next().is_some() => StepStatus::Failed,
            // Waiting for the administrator, not another machine.
            Some(sp) if sp.state == StepStatus::Waiting && self.awaits_answer(step) => {
                StepStatus::NeedsInput
            }
            Some(sp) => sp.state,
            None => StepStatus::Pending,
        }
    }

    /// Whether a waiting step waits for something only the wizard's
    /// answers give: secondaries to add (steps 6-9), a balancer (step 11).
    fn awaits_answer(&self, step: StepId) -> bool {
        match step {
            StepId::Certificates | StepId::Secondaries | StepId::Discover | StepId::ServerIds => {
                self.answers.secondaries.is_empty()
            }
            StepId::LoadBalancer => matches!(self.answers.lb_kind.trim(), "" | "none"),
            _ => false,
        }
    }

    /// What is wrong with an answer: [`Answers::validate`], and for the
    /// share's local folder what the last look at the disk found.
    pub fn field_error(&self, f: FieldId) -> Option<String> {
        if let Err(e) = self.answers.validate(f) {
            return Some(e);
        }
        if f != FieldId::SharedLocal {
            return None;
        }
        // Until the answer comes it counts as valid: the preview's
        // shared-path step checks the folder again anyway.
        let local = self.answers.shared_local.trim();
        match &self.folder_probe {
            Some((p, Some(false))) if p == local => Some(super::answers::not_a_folder(local)),
            _ => None,
        }
    }

    /// Ask whether to undo, listing what it would reverse (read by a
    /// command); `from` is the screen to go back to.
    pub(super) fn open_undo(&mut self, from: Screen) -> Vec<Cmd> {
        self.previous = from;
        self.screen = Screen::Confirm(Confirm::Undo);
        self.undo_list = None;
        self.undo_latest = None;
        match self.answers.plan(&self.profile, &self.plan_file) {
            Ok(plan) => vec![Cmd::UndoList {
                plan: Box::new(plan),
            }],
            Err(errors) => {
                let p = crate::plan::plan_problem(&self.plan_file, &errors);
                self.undo_list = Some(Err(p.what));
                Vec::new()
            }
        }
    }

    /// What is left to do after the run that ended, as things stand now: a
    /// node registered since is not to be registered any more.
    pub fn next_steps(&self, notes: &[String]) -> Vec<String> {
        let registered: Vec<&str> = self
            .preview()
            .and_then(|p| p.manifest.as_ref())
            .map(|m| {
                m.nodes
                    .iter()
                    .filter(|n| n.registered.is_some())
                    .map(|n| n.name.as_str())
                    .collect()
            })
            .unwrap_or_default();
        let mut out: Vec<String> = notes
            .iter()
            .filter(|n| {
                !registered
                    .iter()
                    .any(|r| crate::steps::is_registration_of(n, r))
            })
            .cloned()
            .collect();
        out.dedup();
        out
    }

    /// The first answer that is not valid (in question order), and why.
    pub fn first_invalid(&self) -> Option<(FieldId, String)> {
        self.answers
            .fields()
            .into_iter()
            .find_map(|f| self.field_error(f).map(|e| (f, e)))
    }

    /// Apply is possible: answers valid, and a preview that changes
    /// something (steps a failed check blocks are left out).
    pub fn can_apply(&self) -> Result<(), String> {
        if let Some((f, e)) = self.first_invalid() {
            return Err(format!("{}: {e}", question(f).label));
        }
        if let Some(h) = &self.cluster.lock_held_by {
            return Err(format!(
                "another mdcluster is working on this cluster: {h}; let it finish first"
            ));
        }
        if self.cluster.lock_pending.is_some() {
            return Err("waiting for the cluster manifest lock on the share".into());
        }
        match &self.preview {
            // A failed step leaves out only what needs it: the rest applies
            // (the confirmation names what is left out).
            PreviewState::Ready(p) => {
                if p.refusal().is_none() && p.has_changes() || p.can_skip_blocked() {
                    Ok(())
                } else if p.refusal().is_some() {
                    Err("a check failed and nothing else can be applied; see the steps marked failed".into())
                } else {
                    Err("nothing to do: the installation is already as planned".into())
                }
            }
            PreviewState::Failed(p) => Err(p.what.clone()),
            _ => Err("the preview is not ready yet".into()),
        }
    }

    /// The generation of the preview on screen (a new one replaces it).
    pub(crate) fn preview_generation(&self) -> u64 {
        self.generation
    }

    /// What the last frame showed, straight from the event loop after each
    /// draw (not a message: it starts nothing, and a message would wake the
    /// loop to draw again). The scroll asked for is kept as it is (a page
    /// that is short while its preview is made keeps its place for when it
    /// is long again); paging starts from where the page stopped.
    pub fn drawn(&mut self, drawn: Drawn) {
        if let Some(page) = drawn.page {
            self.page = page;
        }
        if let Some(offset) = drawn.nodes_offset {
            self.cluster.offset = offset;
        }
    }

    /// The row the page shows at its top: the scroll asked for, stopped at
    /// the page's end.
    pub fn shown_scroll(&self) -> u16 {
        self.scroll.min(self.page.max_scroll)
    }

    /// The nodes table of steps 6-9.
    pub(crate) fn node_rows(&self) -> Vec<NodeRow> {
        nodes::rows(
            &self.answers,
            self.preview().and_then(|p| p.manifest.as_ref()),
            &self.cluster.reports,
        )
    }

    /// Secondaries in the manifest whose registration in MDaemon is not confirmed.
    pub fn awaiting_registration(&self) -> Vec<(String, ServerId)> {
        self.preview()
            .and_then(|p| p.manifest.as_ref())
            .map(|m| {
                m.awaiting_registration()
                    .map(|n| (n.name.clone(), n.server_id))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A cluster exists already (its manifest is on the share): this run
    /// adds a node, so the wizard opens at discovery.
    fn enter_add_node_mode(&mut self, p: &Preview) {
        let Some(m) = &p.manifest else { return };
        self.cluster.adding = true;
        if self.focus == Focus::Steps && self.screen == Screen::Steps {
            self.selected = StepId::Discover;
            self.scroll = 0;
        }
        self.event(format!(
            "this is the primary of a cluster of {} node(s): add a node in step 8; nothing else changes",
            m.nodes.len()
        ));
    }

    /// Work that follows from the state: hold the manifest lock on the
    /// share, and listen for secondaries once the cluster steps are in view.
    fn background(&mut self) -> Vec<Cmd> {
        let mut cmds = Vec::new();
        // The share's local folder as typed: asked whether it exists, one
        // question at a time; a "no" is asked again now and then (the share
        // may be mounted meanwhile).
        let local = self.answers.shared_local.trim().to_string();
        let changed = self.folder_probe.as_ref().is_none_or(|(p, _)| *p != local);
        let recheck = matches!(&self.folder_probe, Some((_, Some(false))))
            && self
                .probe_at
                .is_none_or(|t| self.now.saturating_duration_since(t) > LOCK_RETRY);
        if !local.is_empty() && !self.probe_pending && (changed || recheck) {
            self.probe_pending = true;
            self.probe_at = Some(self.now);
            if changed {
                self.folder_probe = Some((local.clone(), None));
            }
            cmds.push(Cmd::ProbeFolder { path: local });
        }
        if self.first_invalid().is_some() || matches!(self.screen, Screen::Running | Screen::Join) {
            return cmds;
        }
        let Ok(plan) = self.answers.plan(&self.profile, &self.plan_file) else {
            return cmds;
        };
        // Where the share is on this machine is found by the command (the
        // disk is never touched here); asked again when the plan's share or
        // mounts change, or while another mdcluster holds the lock.
        let share_key = format!("{}|{:?}", plan.shared.path, plan.mounts);
        // Asked again now and then while another mdcluster holds the lock
        // or the share is not there yet.
        let other_share = self.cluster.lock_share.as_deref() != Some(share_key.as_str());
        let retry = (self.cluster.lock_held_by.is_some() || self.cluster.share_missing)
            && self.cluster.lock_pending.is_none()
            && self
                .cluster
                .lock_asked
                .is_none_or(|t| self.now.saturating_duration_since(t) > LOCK_RETRY);
        if other_share || retry {
            self.cluster.lock_seq += 1;
            self.cluster.lock_pending = Some(self.cluster.lock_seq);
            self.cluster.lock_share = Some(share_key);
            self.cluster.lock_asked = Some(self.now);
            cmds.push(Cmd::HoldLock {
                seq: self.cluster.lock_seq,
                mounts: plan.mounts.clone(),
                share: plan.shared.path.clone(),
            });
        }
        let Some(scope) = self.discovery_scope.clone() else {
            return cmds;
        };
        let in_view = self.cluster.adding || (6..=9).contains(&self.selected.number());
        if !in_view && self.cluster.started.is_none() {
            return cmds;
        }
        let key = format!(
            "{}|{}|{}|{}|{}",
            self.answers.install_local.display(),
            self.answers.shared_path,
            self.answers.shared_local,
            self.answers.node_name,
            self.cluster.manual.join(",")
        );
        if self.cluster.started.as_deref() != Some(key.as_str()) {
            self.cluster.started = Some(key);
            self.cluster.generation += 1;
            cmds.push(Cmd::Discover {
                generation: self.cluster.generation,
                plan: Box::new(plan),
                scope,
                manual: self.cluster.manual.clone(),
            });
        }
        cmds
    }

    /// Step 10: follow the cluster log once the cluster (as the last preview
    /// saw its manifest) has a registered secondary; again when that changes.
    fn follow_log(&mut self) -> Vec<Cmd> {
        let PreviewState::Ready(p) = &self.preview else {
            return Vec::new();
        };
        if self.log.looked_at == self.generation {
            return Vec::new();
        }
        self.log.looked_at = self.generation;
        let Ok(plan) = self.answers.plan(&self.profile, &self.plan_file) else {
            return Vec::new();
        };
        let (nodes, _) = crate::cluster::manifest::registered_nodes(&plan, p.manifest.as_ref());
        if !nodes.iter().any(|n| !n.primary) {
            return Vec::new();
        }
        let root = self.answers.install_local.clone();
        let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
        let key = format!("{}|{}", root.display(), names.join(","));
        if self.log.started.as_deref() == Some(key.as_str()) {
            return Vec::new();
        }
        self.log = LogState {
            generation: self.log.generation + 1,
            started: Some(key),
            looked_at: self.generation,
            ..LogState::default()
        };
        vec![Cmd::FollowLog {
            generation: self.log.generation,
            root,
            nodes,
        }]
    }

    /// The cluster log confirms every registered node.
    pub(crate) fn log_confirmed(&self) -> bool {
        self.log
            .confirmations
            .as_ref()
            .is_some_and(Confirmations::all_confirmed)
    }

    pub(super) fn refresh_preview(&mut self) -> Vec<Cmd> {
        if self.first_invalid().is_some() {
            // A preview still being made is of answers no longer valid.
            self.generation += 1;
            self.preview = PreviewState::Waiting;
            self.previewed = None;
            return Vec::new();
        }
        let found = nodes::fingerprint(&self.answers, &self.cluster.reports);
        if self.previewed.as_ref() == Some(&self.answers)
            && self.cluster.previewed == found
            && !matches!(self.preview, PreviewState::Waiting)
        {
            return Vec::new();
        }
        match self.answers.plan(&self.profile, &self.plan_file) {
            Ok(plan) => {
                self.generation += 1;
                self.previewed = Some(self.answers.clone());
                self.cluster.previewed = found;
                self.preview = PreviewState::Computing;
                vec![Cmd::Preview {
                    generation: self.generation,
                    plan: Box::new(plan),
                    discovered: self
                        .cluster
                        .started
                        .is_some()
                        .then(|| self.cluster.reports.clone()),
                }]
            }
            Err(errors) => {
                let p = crate::plan::plan_problem(&self.plan_file, &errors);
                self.preview = PreviewState::Failed(p);
                Vec::new()
            }
        }
    }

    pub fn update(&mut self, msg: Msg) -> Vec<Cmd> {
        let mut cmds = self.handle(msg);
        cmds.extend(self.background());
        cmds.extend(self.follow_log());
        cmds
    }

    fn handle(&mut self, msg: Msg) -> Vec<Cmd> {
        match msg {
            Msg::ClusterLog {
                generation,
                found,
                confirmations,
                lines,
            } => {
                if generation == self.log.generation {
                    self.log_followed(found, confirmations, lines);
                }
                Vec::new()
            }
            Msg::Discovered {
                generation,
                reports,
                why,
            } if generation == self.cluster.generation => self.discovered(reports, why),
            Msg::Discovered { .. } => Vec::new(), // an older discovery
            Msg::JoinCode(result) => {
                match result {
                    Ok((code, until)) => {
                        self.event(format!("join code {code} for the secondaries (see step 8)"));
                        self.cluster.code = Some((code, until));
                        self.cluster.code_error = None;
                    }
                    Err(e) => self.cluster.code_error = Some(e),
                }
                Vec::new()
            }
            Msg::FolderProbed { path, is_dir } => {
                self.probe_pending = false;
                if self.folder_probe.as_ref().is_none_or(|(p, _)| *p != path) {
                    return Vec::new(); // about an earlier text: asked again
                }
                self.folder_probe = Some((path, Some(is_dir)));
                self.refresh_preview()
            }
            Msg::ClusterLock { seq, answer } => {
                self.lock_answered(seq, answer);
                Vec::new()
            }
            Msg::Health { generation, round } => {
                if generation == self.health.generation {
                    self.health_round(round);
                }
                Vec::new()
            }
            Msg::Joining { generation, update } => {
                if generation == self.join.generation {
                    self.join_update(update);
                }
                Vec::new()
            }
            Msg::Registered(result) => self.registered(result),
            Msg::Key(key)
                if key.kind == KeyEventKind::Press || key.kind == KeyEventKind::Repeat =>
            {
                self.key(key)
            }
            Msg::Key(_) | Msg::Resize => Vec::new(),
            Msg::Tick(now) => {
                self.now = now;
                Vec::new()
            }
            Msg::Preview { generation, result } => {
                // An older preview is dropped: a newer one is coming.
                if generation == self.generation {
                    self.previewed_now(result);
                }
                Vec::new()
            }
            Msg::Engine(e) => {
                self.engine_event(e);
                Vec::new()
            }
            Msg::Finished { undo, result } => self.run_finished(undo, result),
            Msg::UndoList {
                list,
                latest,
                finishing_latest,
            } => {
                self.undo_list = Some(list);
                self.undo_latest = latest;
                self.finishing_latest = finishing_latest;
                Vec::new()
            }
            Msg::Saved(result) => {
                self.plan_saved(result);
                Vec::new()
            }
        }
    }

    /// Registrations recorded: said, and the preview made again.
    fn registered(&mut self, result: Result<Vec<(String, ServerId)>, String>) -> Vec<Cmd> {
        match result {
            Ok(done) => {
                for (name, id) in done {
                    self.event(format!(
                        "{name} (server ID {id}) recorded as registered in MDaemon"
                    ));
                }
            }
            Err(e) => self.event(format!("could not record the registration: {e}")),
        }
        self.previewed = None;
        self.refresh_preview()
    }

    /// The plan saved (back where saving began), or why not.
    fn plan_saved(&mut self, result: Result<PathBuf, String>) {
        match result {
            Ok(path) => {
                self.event(format!("plan saved to {}", path.display()));
                self.saved = Some(path);
                self.save_error = None;
                self.screen = self.previous.clone();
            }
            Err(e) => self.save_error = Some(e),
        }
    }

    /// Step 10: what the cluster log shows now.
    fn log_followed(&mut self, found: String, confirmations: Confirmations, lines: Vec<String>) {
        for l in lines {
            if self.log.recent.len() == LOG_LINES {
                self.log.recent.pop_front();
            }
            self.log.recent.push_back(l);
        }
        let confirmed = confirmations.all_confirmed();
        self.log.found = found;
        self.log.confirmations = Some(confirmations);
        if confirmed && !self.log.announced {
            self.log.announced = true;
            self.event(
                "the cluster log confirms every node: connected and replicating (step 10 done)",
            );
        }
    }

    /// What discovery found, judged: the new nodes said once.
    fn discovered(&mut self, reports: Vec<NodeReport>, why: String) -> Vec<Cmd> {
        for r in &reports {
            let new = !self
                .cluster
                .reports
                .iter()
                .any(|o| o.name == r.name && o.trusted == r.trusted);
            if new {
                let trust = if r.trusted { "trusted" } else { "NOT trusted" };
                self.event(format!("found {} ({trust})", r.name));
            }
        }
        self.cluster.reports = reports;
        self.cluster.why_nothing = why;
        self.refresh_preview()
    }

    /// The answer to the latest lock request (older ones are dropped).
    fn lock_answered(&mut self, seq: u64, answer: LockAnswer) {
        if self.cluster.lock_pending != Some(seq) || answer == LockAnswer::Void {
            return;
        }
        self.cluster.lock_pending = None;
        self.cluster.share_missing = answer == LockAnswer::NoShare;
        self.cluster.lock_held_by = match answer {
            LockAnswer::Elsewhere(h) => {
                if self.cluster.lock_held_by.as_ref() != Some(&h) {
                    self.event(format!("another mdcluster is working on this cluster: {h}"));
                }
                Some(h)
            }
            LockAnswer::Held | LockAnswer::NoShare | LockAnswer::Void => None,
        };
    }

    /// The latest preview, or why there is none.
    fn previewed_now(&mut self, result: Result<Preview, Problem>) {
        match result {
            Ok(p) => {
                if !self.cluster.seen_first_preview {
                    self.cluster.seen_first_preview = true;
                    self.enter_add_node_mode(&p);
                }
                let changing = p.pending().count();
                // Said at once, and once (per step and check, whatever its
                // measured detail): an answer that cannot work fails its step.
                let failing: BTreeMap<(StepId, String), String> = p
                    .steps
                    .iter()
                    .flat_map(|sp| sp.failed_checks().map(move |c| (sp.step, c)))
                    .map(|(step, c)| ((step, c.name.clone()), c.detail.clone()))
                    .collect();
                let before = std::mem::take(&mut self.failing);
                for ((step, name), detail) in &failing {
                    if !before.contains_key(&(*step, name.clone())) {
                        self.event(format!(
                            "step {} ({step}) cannot work: {name}: {detail}",
                            step.number()
                        ));
                    }
                }
                self.failing = failing;
                match p.refusal() {
                    Some(_) if !p.can_skip_blocked() => self.event(
                        "preview ready: a check failed and nothing else can be applied (see the steps marked failed)",
                    ),
                    Some(_) => self.event(format!(
                        "preview ready: {changing} step(s) can be applied without what failed ({}); press a to apply them",
                        p.left_out_text().join(", ")
                    )),
                    None if changing == 0 => self.event("preview ready: nothing to do"),
                    None => self.event(format!(
                        "preview ready: {changing} step(s) will change something; press a to apply"
                    )),
                }
                self.preview = PreviewState::Ready(Box::new(p));
            }
            Err(p) => {
                self.event(format!("cannot prepare: {}", p.what));
                self.preview = PreviewState::Failed(p);
            }
        }
    }

    /// A run (apply or undo) ended: the summary, and where things stand now.
    fn run_finished(&mut self, undo: bool, result: Result<Summary, Problem>) -> Vec<Cmd> {
        match &result {
            Ok(s) => {
                let verb = if undo { "undone" } else { "applied" };
                self.event(format!("{verb}: {} step(s)", s.changed.len()));
                // After an undo of everything the journal is archived:
                // nothing left to undo; after the latest run's, the runs
                // before it are.
                self.undo_available = !undo || self.undoing_latest;
            }
            Err(p) => self.event(format!(
                "failed: {}",
                p.what.lines().next().unwrap_or_default()
            )),
        }
        self.progress = None;
        self.finished = Some(Finished { undo, result });
        self.screen = Screen::Summary;
        self.scroll = 0;
        self.resume_note = None;
        self.previewed = None;
        self.run_states.retain(|_, s| *s == StepStatus::Failed);
        self.refresh_preview()
    }

    fn engine_event(&mut self, e: Event) {
        match e {
            Event::StepStarted { step, title, .. } => {
                self.run_states.insert(step, StepStatus::Running);
                self.selected = step;
                self.scroll = 0;
                self.event(format!("{step}: {title}"));
            }
            Event::StepProgress { step, progress } => {
                // The rate is of this folder's copy: it starts again with
                // each folder.
                let started = match &self.progress {
                    Some(p) if p.step == step && p.progress.folder == progress.folder => p.started,
                    _ => self.now,
                };
                self.progress = Some(ProgressInfo {
                    step,
                    progress,
                    started,
                });
            }
            Event::ActionStarted {
                step, description, ..
            } => self.event(format!("{step}: {description}")),
            Event::ActionDone { .. } => {}
            Event::StepDone { step, outcome } => {
                self.run_states.insert(step, outcome.status());
                self.event(format!("{step}: {}", outcome.label()));
            }
            Event::StepWaiting { step, reason } => {
                self.run_states.insert(step, StepStatus::Waiting);
                self.event(format!("{step}: waiting: {reason}"));
            }
            Event::StepFailed { step, error } => {
                self.run_states.insert(step, StepStatus::Failed);
                self.event(format!(
                    "{step}: FAILED: {}",
                    error.what.lines().next().unwrap_or_default()
                ));
            }
            Event::Note { text, .. } => self.event(text),
        }
    }

    pub(super) fn fields_of(&self, step: StepId) -> Vec<FieldId> {
        self.answers
            .fields()
            .into_iter()
            .filter(|f| question(*f).step == step)
            .collect()
    }

    /// Files per second and time left of the running work, from the last tick.
    pub(crate) fn rate(&self) -> Option<(f64, Option<Duration>)> {
        let p = self
            .progress
            .as_ref()
            .filter(|p| p.progress.phase == crate::engine::events::Phase::Copy)?;
        let secs = self.now.checked_duration_since(p.started)?.as_secs_f64();
        let (done, total) = (p.progress.files_done, p.progress.files_total);
        if secs < 0.2 || done == 0 {
            return None;
        }
        let rate = done as f64 / secs;
        let left = total.saturating_sub(done) as f64 / rate;
        Some((rate, Some(Duration::from_secs_f64(left))))
    }
}
