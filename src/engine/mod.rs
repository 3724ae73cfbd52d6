//! The engine: one path from a plan to changes, shared by every front end
//! (headless `apply`, the demo, the wizard).
//!
//! - [`Engine::preview`] reads the installation, prepares every step and runs
//!   every preflight check. It changes nothing; a failed check refuses the
//!   whole run (exit 3) before the first byte moves, unless the caller
//!   consents to the steps it does not block (`skip_blocked`).
//! - [`Engine::apply`] carries out a preview's actions under a lock, writing the
//!   journal before and after each one. A rerun resumes from the journal.
//! - [`Engine::undo`] replays the inverse of every started action, newest
//!   first; [`Engine::undo_latest`] only those of the latest run, when that
//!   run added a node and nothing else.
//!
//! State lives in `<installation>\mdcluster\`: the journal, the lock, backups.

pub mod actions;
pub mod events;
pub mod evidence;
pub mod journal;
mod together;

use crate::fsops::lock;
use crate::fsops::state_dir::{create_state_dir, STATE_DIR};
use crate::install::Installation;
use crate::location::{Loc, Resolver};
use crate::plan::Plan;
use crate::problem::{Exit, Problem};
use crate::profile::Profile;
use crate::steps::{self, Action, ClusterView, Context, RunOptions, StepId, StepPlan, StepStatus};
use events::{Event, EventSink, FolderProgress, Outcome};
use evidence::{Evidence, StepEvidence};
use journal::{Journal, Record, Replay};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How long to wait for MDaemon to stop or start.
pub(crate) const STOP_TIMEOUT_SECS: u64 = 120;

pub struct Engine {
    pub plan: Plan,
    pub profile: Profile,
    pub resolver: Resolver,
    pub state_dir: PathBuf,
    pub replay: Replay,
    /// False when `MDCLUSTER_NO_RENAME` forces the copy path.
    pub allow_rename: bool,
    /// The plan's options, with command-line flags added by the caller.
    pub options: RunOptions,
    /// What discovery found (set by the caller before the preview); None:
    /// discovery did not run, and the cluster steps wait for it.
    pub discovered: Option<Vec<crate::discovery::survey::NodeReport>>,
    /// Actions (and undos of actions) this process started, for the test
    /// hook [`crate::test_hooks::FAIL_AT_ACTION`].
    started: std::sync::atomic::AtomicU64,
    /// How MDaemon's service is reached (the real one; tests give a fake).
    pub services: crate::service::ServiceOpener,
    /// The time written to the journal and the cluster manifest (the
    /// system's; tests fix it).
    pub clock: crate::platform::Clock,
    /// This machine's name, as the lock names its holder (tests fix it).
    pub host: String,
}

/// Everything a run would do, prepared and checked.
#[derive(Clone)]
pub struct Preview {
    pub steps: Vec<StepPlan>,
    /// Files as read (MDaemon.ini, Userlist.dat), for showing diffs of edits.
    pub files: Vec<(Loc, Vec<u8>)>,
    /// Files on this machine that actions replace (the load balancer's), as
    /// read when the preview was made, for showing diffs.
    pub local_files: Vec<(PathBuf, Vec<u8>)>,
    /// Whether MDaemon ran when the preview was made.
    pub service: crate::service::State,
    /// The cluster manifest on the share as it was read (nodes, server IDs).
    pub manifest: Option<crate::cluster::manifest::Manifest>,
    /// For each folder move (step, action index): whether it is a rename on
    /// one file system, as the disk said when the preview was made.
    pub same_filesystem: std::collections::BTreeMap<(StepId, usize), Option<bool>>,
    /// Steps this run leaves out: each failed step (with itself) and each
    /// step that needs a failed one (with that one). A run applies the rest
    /// only with consent (`--skip-blocked`, the wizard's confirmation).
    pub left_out: std::collections::BTreeMap<StepId, StepId>,
    /// Left-out steps that forbid applying the rest: a move or the rewrite
    /// of MDaemon.ini (they go together), or a step an earlier run began.
    pub unskippable: Vec<StepId>,
}

impl Preview {
    /// An action of this preview in one line, as the disk was when the
    /// preview was made (reads nothing).
    pub fn describe(&self, step: StepId, index: usize, action: &Action) -> String {
        let same_fs = self.same_filesystem.get(&(step, index)).copied().flatten();
        action.describe_with(same_fs)
    }

    /// The refusal when any preflight check failed: every failed check with
    /// its step and what to do.
    pub fn refusal(&self) -> Option<Problem> {
        let failed: Vec<String> = self
            .steps
            .iter()
            .flat_map(|p| p.failed_checks().map(move |c| (p.step, c)))
            .map(|(step, c)| {
                let fix = c
                    .fix
                    .as_deref()
                    .map(|f| format!(" What to do: {f}."))
                    .unwrap_or_default();
                format!("[{step}] {}: {}.{fix}", c.name, c.detail)
            })
            .collect();
        if failed.is_empty() {
            return None;
        }
        Some(
            Problem::refused(format!(
                "preflight refused, nothing was changed ({} check{} failed):\n  {}",
                failed.len(),
                if failed.len() == 1 { "" } else { "s" },
                failed.join("\n  ")
            ))
            .fix("correct what the checks name, then rerun; `--dry-run` shows the whole preview"),
        )
    }

    /// The steps a failed check does not block may be applied without the
    /// rest: there are some, and nothing left out must go with them.
    pub fn can_skip_blocked(&self) -> bool {
        self.has_changes() && self.unskippable.is_empty()
    }

    /// A refusal, plus which steps a failed check does not block and how to
    /// apply only those (or why they cannot be).
    fn with_what_could_run(&self, problem: Problem) -> Problem {
        let could: Vec<String> = self.pending().map(|s| s.step.to_string()).collect();
        if could.is_empty() {
            return problem;
        }
        if let Some(step) = self.unskippable.first() {
            let fix = problem.fix.clone().unwrap_or_default();
            return problem.fix(format!(
                "{fix}. The other steps cannot go on without step {} ({step}): {}",
                step.number(),
                if step.applied_with().is_empty() {
                    "an earlier run began it, and it is finished first"
                } else {
                    "the moves and the rewrite of MDaemon.ini are applied together or not at all"
                }
            ));
        }
        problem.fix(format!(
            "correct what the checks name, then rerun (`--dry-run` shows the whole preview); or add --skip-blocked to apply now what they do not block ({}), leaving out {}",
            could.join(", "),
            self.left_out_text().join(", ")
        ))
    }

    /// The steps left out, each with what it waits for.
    pub(crate) fn left_out_list(&self) -> Vec<LeftOut> {
        self.left_out
            .iter()
            .map(|(step, by)| LeftOut {
                step: *step,
                waits_for: *by,
            })
            .collect()
    }

    /// Each left-out step and why, for people: `load-balancer (its check
    /// failed)`, `server-ids (waits for mail-store)`.
    pub fn left_out_text(&self) -> Vec<String> {
        self.left_out
            .iter()
            .map(|(step, by)| {
                if step == by {
                    format!("{step} (its check failed)")
                } else {
                    format!("{step} (waits for {by})")
                }
            })
            .collect()
    }

    /// Steps that will change something, and steps an earlier run began and
    /// did not finish (even with every action done: their done record is
    /// still to be written).
    pub fn pending(&self) -> impl Iterator<Item = &StepPlan> {
        self.steps.iter().filter(|s| {
            s.state == StepStatus::Interrupted
                || (s.state == StepStatus::Ready && !s.actions.is_empty())
        })
    }
    pub(crate) fn has_changes(&self) -> bool {
        self.pending().next().is_some()
    }
    pub(crate) fn resuming(&self) -> bool {
        self.steps
            .iter()
            .any(|s| s.state == StepStatus::Interrupted)
    }
}

/// What an apply or undo did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Summary {
    pub changed: Vec<StepId>,
    pub journal: Option<PathBuf>,
    /// The run's backup folder, when anything was backed up.
    pub backups: Option<PathBuf>,
    pub kept: Vec<PathBuf>,
    pub notes: Vec<String>,
    /// Steps the run left out, each with the failed step it waits for
    /// (itself when its own check failed).
    pub left_out: Vec<LeftOut>,
}

/// The folders a step moves or copies in this run, for progress over the
/// whole step: how many, their bytes, and how far the run got.
#[derive(Default)]
struct StepWork {
    folders: usize,
    bytes_total: u64,
    started: usize,
    bytes_before: u64,
    current: u64,
}

impl StepWork {
    fn of(sp: &StepPlan) -> StepWork {
        let sizes: Vec<u64> = sp
            .actions
            .iter()
            .filter_map(|(_, a)| folder_bytes(a))
            .collect();
        StepWork {
            folders: sizes.len(),
            bytes_total: sizes.iter().sum(),
            started: 0,
            bytes_before: 0,
            current: 0,
        }
    }

    /// An action begins: where it stands in the step (for a folder, its
    /// number; for any other, the last folder's).
    fn start(&mut self, action: &Action) -> FolderAt {
        if let Some(bytes) = folder_bytes(action) {
            self.bytes_before += self.current;
            self.current = bytes;
            self.started += 1;
        }
        FolderAt {
            folder: self.started.max(1),
            folders: self.folders.max(1),
            bytes_before: self.bytes_before,
            step_bytes: self.bytes_total,
        }
    }
}

/// A folder's place in its step: its number of how many, the bytes of the
/// folders before it and of all of them.
struct FolderAt {
    folder: usize,
    folders: usize,
    bytes_before: u64,
    step_bytes: u64,
}

/// The bytes of a folder an action moves or copies.
fn folder_bytes(action: &Action) -> Option<u64> {
    match action {
        Action::MoveFolder { bytes, .. } | Action::CopyFolder { bytes, .. } => Some(*bytes),
        _ => None,
    }
}

/// The latest run, undone on its own, and what that reverses (newest first).
#[derive(Clone, Debug)]
pub struct LatestRun {
    pub run: String,
    pub actions: Vec<(StepId, usize, Action)>,
}

/// A step a run left out, and the failed step it waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LeftOut {
    pub step: StepId,
    pub waits_for: StepId,
}

/// One step's standing for `status`.
#[derive(Debug, serde::Serialize)]
pub struct StepReport {
    pub step: StepId,
    pub title: &'static str,
    pub state: StepStatus,
    pub detail: String,
}

impl Engine {
    pub fn open(plan: Plan, profile: Profile) -> Result<Engine, Problem> {
        let resolver = Resolver::new(plan.mounts.clone());
        let root = resolver.locate(&plan.install_root)?;
        let state_dir = root.local.join(STATE_DIR);
        let replay = journal::read(&state_dir.join(journal::FILE_NAME))?;
        let options = RunOptions::from_plan(&plan.options);
        let mut engine = Engine {
            plan,
            profile,
            resolver,
            state_dir,
            replay,
            allow_rename: crate::fsops::mover::rename_allowed(),
            options: RunOptions::default(),
            discovered: None,
            started: Default::default(),
            services: crate::service::real_services(),
            clock: crate::platform::Clock::system(),
            host: crate::platform::hostname(),
        };
        engine.options = options;
        engine.check_journal_owner()?;
        Ok(engine)
    }

    /// One run at a time on this installation: the state folder's lock,
    /// naming this machine and the engine's time.
    fn lock(&self, command: &str) -> Result<lock::Lock, Problem> {
        lock::Lock::acquire_as(&self.state_dir, command, &self.host, &self.clock.now())
    }

    /// The installation root on this machine (the state folder's parent).
    pub(crate) fn root_local(&self) -> PathBuf {
        self.state_dir
            .parent()
            .map(PathBuf::from)
            .unwrap_or_default()
    }

    pub(crate) fn journal_path(&self) -> PathBuf {
        self.state_dir.join(journal::FILE_NAME)
    }

    /// A journal belongs to the plan that started it.
    fn check_journal_owner(&self) -> Result<(), Problem> {
        if let Some((fp, file)) = &self.replay.plan {
            if *fp != self.plan.fingerprint() && !self.replay.undone {
                return Err(Problem::refused(format!(
                    "this installation has a journal of an earlier run with a different plan ({file})"
                ))
                .at(self.journal_path().display().to_string())
                .fix(format!(
                    "finish that run (`mdcluster apply --plan {file}`) or undo it (`mdcluster undo --plan {file}`) \
                     before using another plan; nothing was changed"
                )));
            }
        }
        Ok(())
    }

    /// Prepare and check every step; refuse (exit 3) when a check failed,
    /// unless `skip_blocked` consents to the steps it does not block (and
    /// there are some). Changes nothing.
    pub fn preview(&self) -> Result<Preview, Problem> {
        let preview = self.prepare()?;
        match preview.refusal() {
            None => Ok(preview),
            Some(_) if self.options.skip_blocked && preview.can_skip_blocked() => Ok(preview),
            Some(problem) => Err(preview.with_what_could_run(problem)),
        }
    }

    /// Prepare every step, keeping failed checks in the step plans (the wizard
    /// shows them where they belong). Changes nothing.
    pub(crate) fn prepare(&self) -> Result<Preview, Problem> {
        if self.replay.undo_begun && !self.replay.undone {
            return Err(
                Problem::refused("an undo of this installation was interrupted")
                    .at(self.journal_path().display().to_string())
                    .fix(format!(
                        "finish it first: mdcluster undo --plan {}",
                        self.plan.file.display()
                    )),
            );
        }
        self.with_context(None, |ctx| self.prepare_in(ctx))
    }

    /// [`Engine::prepare`] with the installation and the cluster read.
    fn prepare_in(&self, ctx: &Context) -> Result<Preview, Problem> {
        let mut prepared = Vec::new();
        for step in StepId::ALL.into_iter().filter(|s| *s != StepId::SharedPath) {
            prepared.push(self.step_plan(step, ctx, &[])?);
        }
        self.keep_moves_and_rewrites_together(ctx, &mut prepared)?;
        let (plans, left_out) = self.settle_all(ctx, &prepared)?;
        // Never left out while the rest runs: the moves and the rewrite (the
        // store would be converted in part) and what an earlier run began.
        let unskippable = left_out
            .keys()
            .filter(|step| {
                !step.applied_with().is_empty()
                    || prepared
                        .iter()
                        .any(|p| p.step == **step && p.state == StepStatus::Interrupted)
            })
            .copied()
            .collect();
        let install = ctx.install;
        let mut files = vec![(install.ini.clone(), install.ini_bytes.clone())];
        if let Some(userlist) = install.userlist.as_ref() {
            files.push(userlist.clone());
        }
        let local_files = replaced_local_files(&plans);
        let same_filesystem = plans
            .iter()
            .flat_map(|sp| sp.actions.iter().map(move |(i, a)| ((sp.step, *i), a)))
            .filter(|(_, a)| matches!(a, Action::MoveFolder { .. }))
            .map(|(key, a)| (key, a.same_filesystem()))
            .collect();
        Ok(Preview {
            steps: plans,
            files,
            local_files,
            service: ctx.service.clone(),
            manifest: ctx.cluster.manifest.clone(),
            same_filesystem,
            left_out,
            unskippable,
        })
    }

    /// The prepared steps, settled: a failed step leaves itself and what
    /// needs it (or goes with it) out of the run; the passes over all steps
    /// then see only what runs, which may fail another step in turn (at most
    /// once per step, so this ends). Also which steps were left out, each
    /// with the failed step it waits for.
    fn settle_all(
        &self,
        ctx: &Context,
        prepared: &[StepPlan],
    ) -> Result<(Vec<StepPlan>, std::collections::BTreeMap<StepId, StepId>), Problem> {
        let mut blocked = std::collections::BTreeMap::new();
        // Failed checks the passes found: kept once their step is left out
        // (without its changes, the passes find nothing to fail there).
        let mut found: Vec<(StepId, steps::Check)> = Vec::new();
        loop {
            let (mut plans, taken_out) = self.settle(ctx, prepared, &blocked)?;
            for sp in plans.iter_mut() {
                let lost: Vec<steps::Check> = found
                    .iter()
                    .filter(|(step, c)| *step == sp.step && !sp.checks.contains(c))
                    .map(|(_, c)| c.clone())
                    .collect();
                // A pass made without the left-out changes does not stand
                // beside the failure they caused.
                sp.checks
                    .retain(|c| !(c.ok && lost.iter().any(|l| l.name == c.name)));
                sp.checks.extend(lost);
                for c in sp.failed_checks() {
                    if !found.iter().any(|(step, f)| *step == sp.step && f == c) {
                        found.push((sp.step, c.clone()));
                    }
                }
            }
            let failed: std::collections::BTreeSet<StepId> = plans
                .iter()
                .filter(|p| p.failed_checks().next().is_some())
                .map(|p| p.step)
                .collect();
            let next = steps::left_out(&failed);
            if next == blocked {
                return Ok((plans, taken_out));
            }
            blocked = next;
        }
    }

    /// The prepared steps with `left_out` taken out of the run (their
    /// changes dropped, a note saying why), then the shared path checked for
    /// what the others bring and the passes over all steps made. Also which
    /// steps were taken out (those with something to run or a failed check).
    fn settle(
        &self,
        ctx: &Context,
        prepared: &[StepPlan],
        left_out: &std::collections::BTreeMap<StepId, StepId>,
    ) -> Result<(Vec<StepPlan>, std::collections::BTreeMap<StepId, StepId>), Problem> {
        let mut plans = prepared.to_vec();
        let mut taken_out = std::collections::BTreeMap::new();
        for sp in plans.iter_mut() {
            if leave_out(sp, left_out) {
                taken_out.insert(sp.step, left_out[&sp.step]);
            }
        }
        let destinations: Vec<(Loc, u64)> = plans
            .iter()
            .filter(|p| p.state != StepStatus::Done)
            .flat_map(|p| p.destinations().map(|(to, bytes)| (to.clone(), bytes)))
            .collect();
        let mut shared = self.step_plan(StepId::SharedPath, ctx, &destinations)?;
        if leave_out(&mut shared, left_out) {
            taken_out.insert(StepId::SharedPath, StepId::SharedPath);
        }
        plans.insert(0, shared);
        drop_repeated_folders(&mut plans);
        steps::layout::check(ctx, &self.state_dir, &mut plans);
        chain_ini_edits(&mut plans, ctx.install);
        self.add_service_actions(&mut plans, ctx.service);
        Ok((plans, taken_out))
    }

    /// The cluster manifest on the share (if any) and what discovery found.
    fn cluster_view(&self) -> Result<ClusterView, Problem> {
        let share = self.resolver.locate(&self.plan.shared.path)?.local;
        if !share.is_dir() {
            // The shared-path step refuses this with its own words.
            return Ok(ClusterView {
                reports: self.discovered.clone(),
                ..ClusterView::default()
            });
        }
        let path = crate::cluster::manifest::dir_of(&share).join(crate::cluster::manifest::FILE);
        Ok(ClusterView {
            manifest: crate::cluster::manifest::Manifest::load(&share)?,
            manifest_text: std::fs::read_to_string(path).ok(),
            reports: self.discovered.clone(),
        })
    }

    fn service_state(&self, install: &Installation) -> crate::service::State {
        (self.services)(&install.root.local, &self.profile).state()
    }

    /// MDaemon must not run while data it uses moves. With `stop_mdaemon`, the
    /// first step that moves data stops it, and the last step with changes
    /// starts it again (also after an interrupted run that had stopped it).
    fn add_service_actions(&self, plans: &mut [StepPlan], service: &crate::service::State) {
        let fresh = |sp: &StepPlan| sp.state == StepStatus::Ready && !sp.actions.is_empty();
        let running = *service == crate::service::State::Running;
        let stop_here = if running && self.options.stop_mdaemon {
            plans
                .iter()
                .position(|sp| fresh(sp) && sp.actions.iter().any(|(_, a)| a.moves_data()))
        } else {
            None
        };
        if let Some(i) = stop_here {
            let sp = &mut plans[i];
            let mut actions = vec![Action::StopService {
                timeout_secs: STOP_TIMEOUT_SECS,
            }];
            actions.extend(sp.actions.drain(..).map(|(_, a)| a));
            sp.actions = actions.into_iter().enumerate().collect();
            sp.notes.push(
                "MDaemon is stopped before the move and started again after the last change".into(),
            );
        }
        let start_pending_in_journal = self.replay.stopped_by_us();
        let start_recorded = plans.iter().any(|sp| {
            sp.state == StepStatus::Interrupted
                && sp
                    .actions
                    .iter()
                    .any(|(_, a)| matches!(a, Action::StartService { .. }))
        });
        if (stop_here.is_some() || start_pending_in_journal) && !start_recorded {
            if let Some(last) = plans.iter_mut().rev().find(|sp| fresh(sp)) {
                let n = last.actions.len();
                last.actions.push((
                    n,
                    Action::StartService {
                        timeout_secs: STOP_TIMEOUT_SECS,
                    },
                ));
            }
        }
    }

    fn step_plan(
        &self,
        step: StepId,
        ctx: &Context,
        destinations: &[(Loc, u64)],
    ) -> Result<StepPlan, Problem> {
        if let Some(rec) = self.replay.step(step) {
            // The cluster steps judge each run anew (a plan may gain a node);
            // only an interrupted manifest write resumes from the journal.
            if rec.finished.is_some() {
                if !step.per_node() {
                    let mut sp = StepPlan::new(step, StepStatus::Done);
                    sp.notes.push("done in an earlier run (journal)".into());
                    return Ok(sp);
                }
            } else if !rec.actions.is_empty() {
                let mut sp = StepPlan::new(step, StepStatus::Interrupted);
                sp.actions = rec
                    .actions
                    .iter()
                    .cloned()
                    .enumerate()
                    .filter(|(i, _)| !rec.done.contains_key(i))
                    .collect();
                sp.notes.push(if sp.actions.is_empty() {
                    "an earlier run stopped here after its last action; the step's done record is written now".into()
                } else {
                    format!(
                        "an earlier run stopped here; {} of {} actions remain and resume where they stopped",
                        sp.actions.len(),
                        rec.actions.len()
                    )
                });
                return Ok(sp);
            }
        }
        steps::prepare(step, ctx, destinations)
    }

    /// Carry out a preview. Returns what changed; on failure the journal is
    /// kept and the error names the step (rerun resumes, or undo).
    pub fn apply(
        &mut self,
        preview: &Preview,
        command: &str,
        events: &dyn EventSink,
    ) -> Result<Summary, Problem> {
        let mut summary = Summary {
            left_out: preview.left_out_list(),
            ..Summary::default()
        };
        if !preview.has_changes() {
            for sp in &preview.steps {
                emit_unchanged(sp, events);
            }
            return Ok(summary);
        }
        files_as_previewed(preview)?;
        create_state_dir(&self.state_dir)?;
        let _lock = self.lock(command)?;
        self.remove_leftovers();
        // Under the lock: make sure no other run moved on since the preview.
        let replay = journal::read(&self.journal_path())?;
        if replay.records != self.replay.records {
            return Err(Problem::new(
                Exit::Stale,
                "another mdcluster run changed the journal since the preview",
            )
            .at(self.journal_path().display().to_string())
            .fix("rerun to get a fresh preview"));
        }
        // MDaemon as it is now, not as the preview found it: started since,
        // it is refused (or, with consent, stopped) before anything moves.
        let run_actions: Vec<Action> = preview
            .steps
            .iter()
            .filter(|sp| matches!(sp.state, StepStatus::Ready | StepStatus::Interrupted))
            .flat_map(|sp| sp.actions.iter().map(|(_, a)| a.clone()))
            .collect();
        let stopped_here = self.guard_service(&run_actions, false, events)?;
        let mut j = Journal::open(&self.journal_path(), &replay, &self.clock)?;
        let run = journal::new_run_id(&self.clock);
        let first_run = replay.first_run.clone().unwrap_or_else(|| run.clone());
        let backups = self.state_dir.join("backups").join(&first_run);
        j.append(Record::RunBegin {
            run,
            command: command.into(),
            plan: self.plan.fingerprint(),
            plan_file: self.plan.file.display().to_string(),
            version: env!("CARGO_PKG_VERSION").into(),
            format: self.run_format(preview),
        })?;
        summary.journal = Some(self.journal_path());
        summary.backups = Some(backups.clone());

        for sp in &preview.steps {
            let step = sp.step;
            match sp.state {
                // A prepared step is never pending, running, failed or undone;
                // those come from the run and from `status`.
                StepStatus::Done
                | StepStatus::Waiting
                | StepStatus::Pending
                | StepStatus::NeedsInput
                | StepStatus::Running
                | StepStatus::Failed
                | StepStatus::Undone
                | StepStatus::UndoInterrupted => emit_unchanged(sp, events),
                StepStatus::NothingToDo => {
                    j.append(Record::StepDone {
                        step,
                        evidence: StepEvidence::NothingToDo {
                            nothing_to_do: true,
                        },
                    })?;
                    emit_unchanged(sp, events);
                }
                StepStatus::Ready | StepStatus::Interrupted => {
                    self.run_step(&mut j, &backups, sp, events)?;
                    if changes(sp) {
                        summary.changed.push(step);
                    }
                    // What is left to do afterwards; what the preview said
                    // of the run itself is past now.
                    summary.notes.extend(sp.next.iter().cloned());
                }
            }
        }
        j.append(Record::RunEnd {
            outcome: "complete".into(),
        })?;
        self.replay = journal::read(&self.journal_path())?;
        summary.backups = summary.backups.filter(|b| b.exists());
        if stopped_here {
            self.start_service(events)?;
        }
        Ok(summary)
    }

    /// Step 11 alone, as a run of its own: the balancer's files with the
    /// sessions of `failover.from` moved to `failover.to`, or (None) the
    /// normal configuration again. Journaled, backed up and undoable like
    /// every run; the balancer's own check runs first and a refusal writes
    /// nothing. Refused while another run or an undo is unfinished, and
    /// before step 11 ever wrote the files (the failover watch's writes).
    /// Also returns the files written.
    pub fn balancer_run(
        &mut self,
        failover: Option<&crate::lb::Move>,
        command: &str,
        events: &dyn EventSink,
    ) -> Result<(Summary, Vec<PathBuf>), Problem> {
        let plan_file = self.plan.file.display().to_string();
        if self.replay.undo_begun && !self.replay.undone {
            return Err(
                Problem::refused("an undo of this installation was interrupted").fix(format!(
                    "finish it first: mdcluster undo --plan {plan_file}"
                )),
            );
        }
        if self.replay.interrupted() {
            return Err(Problem::refused(
                "an earlier run stopped part-way; the balancer's files are not changed until it is finished",
            )
            .fix(format!(
                "finish it (mdcluster apply --plan {plan_file}) or reverse it (mdcluster undo --plan {plan_file})"
            )));
        }
        if self.replay.undone || !self.replay.finished(StepId::LoadBalancer) {
            return Err(Problem::refused(
                "step 11 has not written the balancer's configuration yet, so there is none to fail over",
            )
            .fix(format!("set up the balancer first: mdcluster apply --plan {plan_file}")));
        }
        let preview = self.with_context(failover, |ctx| {
            let sp = self.step_plan(StepId::LoadBalancer, ctx, &[])?;
            Ok(Preview {
                local_files: replaced_local_files(std::slice::from_ref(&sp)),
                steps: vec![sp],
                files: Vec::new(),
                service: ctx.service.clone(),
                manifest: ctx.cluster.manifest.clone(),
                same_filesystem: Default::default(),
                left_out: Default::default(),
                unskippable: Vec::new(),
            })
        })?;
        if let Some(p) = preview.refusal() {
            return Err(p);
        }
        let files = preview
            .steps
            .iter()
            .flat_map(|sp| sp.actions.iter())
            .filter_map(|(_, a)| match a {
                Action::WriteFiles { dir, files, .. } => {
                    Some(files.iter().map(|f| dir.join(&f.path)).collect::<Vec<_>>())
                }
                _ => None,
            })
            .flatten()
            .collect();
        Ok((self.apply(&preview, command, events)?, files))
    }

    /// What the balancer's files carry now: the normal configuration, a
    /// failover, or neither.
    pub fn failover_in_force(&self) -> Result<steps::load_balancer::InForce, Problem> {
        self.with_context(None, |ctx| Ok(steps::load_balancer::failover_in_force(ctx)))
    }

    /// `f` with the steps' view of the installation and the cluster as they
    /// are now.
    fn with_context<T>(
        &self,
        failover: Option<&crate::lb::Move>,
        f: impl FnOnce(&Context) -> Result<T, Problem>,
    ) -> Result<T, Problem> {
        let install = Installation::open(&self.plan, &self.profile, &self.resolver)?;
        let service = self.service_state(&install);
        let cluster = self.cluster_view()?;
        let now = self.clock.now();
        f(&Context {
            plan: &self.plan,
            profile: &self.profile,
            resolver: &self.resolver,
            install: &install,
            options: self.options,
            service: &service,
            cluster: &cluster,
            now: &now,
            failover,
        })
    }

    /// What action `index` of `step` works with: the backup folder, this
    /// installation, the service, the clock, and notes as events.
    fn with_env<T>(
        &self,
        backups: &std::path::Path,
        step: StepId,
        index: usize,
        events: &dyn EventSink,
        f: impl FnOnce(&actions::ActionEnv) -> T,
    ) -> T {
        let root = self.root_local();
        let note = |text: String| {
            events.emit(Event::Note {
                step: Some(step),
                text,
            })
        };
        f(&actions::ActionEnv {
            backups,
            slot: format!("{step}-{index}"),
            allow_rename: self.allow_rename,
            root: &root,
            profile: &self.profile,
            services: &self.services,
            note: &note,
            clock: &self.clock,
        })
    }

    /// Carry out one prepared step, journaled: its actions (resumed where an
    /// earlier run stopped), then its done record.
    fn run_step(
        &self,
        j: &mut Journal,
        backups: &std::path::Path,
        sp: &StepPlan,
        events: &dyn EventSink,
    ) -> Result<(), Problem> {
        let step = sp.step;
        events.emit(Event::StepStarted {
            step,
            number: step.number(),
            title: step.title(),
        });
        // A step done in an earlier run (a cluster step, or a move that
        // found more to do) gets its new actions after the earlier ones, so
        // undo still finds those.
        let mut offset = 0;
        if sp.state == StepStatus::Ready {
            let all: Vec<Action> = sp.actions.iter().map(|(_, a)| a.clone()).collect();
            match self.replay.step(step) {
                Some(rec) if step.per_node() || rec.finished.is_some() => {
                    offset = rec.actions.len();
                    j.append(Record::StepAgain { step, actions: all })?;
                }
                _ => j.append(Record::StepBegin { step, actions: all })?,
            }
        }
        let mut work = StepWork::of(sp);
        for (i, action) in &sp.actions {
            let i = offset + i;
            if let Err(p) = self.run_action(j, backups, (step, i), action, &mut work, events) {
                let p = p.in_step(step.id());
                j.append(Record::StepFailed {
                    step,
                    error: p.to_string(),
                })?;
                events.emit(Event::StepFailed {
                    step,
                    error: p.clone(),
                });
                return Err(p);
            }
        }
        let (evidence, outcome) = if changes(sp) {
            // A resumed step counts every action it had, done now or before.
            let actions = match (sp.state, self.replay.step(step)) {
                (StepStatus::Interrupted, Some(rec)) => rec.actions.len(),
                _ => sp.actions.len(),
            };
            (StepEvidence::Changed { actions }, Outcome::Changed)
        } else {
            let checks = sp.checks.clone();
            (StepEvidence::Checked { checks }, Outcome::Checked)
        };
        j.append(Record::StepDone { step, evidence })?;
        events.emit(Event::StepDone { step, outcome });
        Ok(())
    }

    fn run_action(
        &self,
        j: &mut Journal,
        backups: &std::path::Path,
        (step, index): (StepId, usize),
        action: &Action,
        work: &mut StepWork,
        events: &dyn EventSink,
    ) -> Result<(), Problem> {
        events.emit(Event::ActionStarted {
            step,
            action: index,
            kind: action.kind(),
            description: action.describe_now(),
        });
        j.append(Record::Intent {
            step,
            action: index,
        })?;
        let mut last: Option<(Instant, crate::fsops::mover::Phase)> = None;
        let folder = work.start(action);
        let mut progress = |p: &crate::fsops::mover::Progress| {
            // Each phase's first and last report, and every 100 ms between.
            let due = last.is_none_or(|(t, phase)| {
                phase != p.phase || t.elapsed() >= Duration::from_millis(100)
            });
            let finished = p.files_done >= p.files_total && p.files_removed >= p.files_total;
            if due || finished {
                last = Some((Instant::now(), p.phase));
                events.emit(Event::StepProgress {
                    step,
                    progress: FolderProgress {
                        phase: p.phase,
                        files_done: p.files_done,
                        files_total: p.files_total,
                        bytes_done: p.bytes_done,
                        bytes_total: p.bytes_total,
                        files_removed: p.files_removed,
                        folder: folder.folder,
                        folders: folder.folders,
                        step_bytes_done: folder.bytes_before + p.bytes_done.min(p.bytes_total),
                        step_bytes_total: folder.step_bytes,
                    },
                });
            }
        };
        if let Some(ms) = crate::test_hooks::number::<u64>(crate::test_hooks::ACTION_DELAY_MS) {
            std::thread::sleep(Duration::from_millis(ms));
        }
        let injected = self.injected_failure();
        if injected == Some(false) {
            return Err(injected_problem());
        }
        let evidence = self.with_env(backups, step, index, events, |env| {
            actions::execute(action, env, &mut progress)
        })?;
        if injected == Some(true) {
            return Err(injected_problem());
        }
        let names = evidence.skipped();
        if !names.is_empty() {
            events.emit(Event::Note {
                step: Some(step),
                text: format!(
                    "{} link(s) or special file(s) were not copied (mdcluster never follows them) and stay where they were: {}{}",
                    names.len(),
                    names.iter().take(5).map(String::as_str).collect::<Vec<_>>().join(", "),
                    if names.len() > 5 { ", …" } else { "" }
                ),
            });
        }
        j.append(Record::Done {
            step,
            action: index,
            evidence: evidence.to_journal(),
        })?;
        events.emit(Event::ActionDone {
            step,
            action: index,
            kind: action.kind(),
        });
        Ok(())
    }

    /// Whether the action starting now fails by the test hook
    /// [`crate::test_hooks::FAIL_AT_ACTION`] (`N`: right after its intent is
    /// journaled; `N:after`: once done, before that is journaled): Some(after).
    fn injected_failure(&self) -> Option<bool> {
        use std::sync::atomic::Ordering;
        let n = self.started.fetch_add(1, Ordering::SeqCst) + 1;
        let value = crate::test_hooks::value(crate::test_hooks::FAIL_AT_ACTION)?
            .to_string_lossy()
            .into_owned();
        let (at, after) = match value.split_once(':') {
            Some((at, "after")) => (at, true),
            _ => (value.as_str(), false),
        };
        (at.trim().parse::<u64>().ok()? == n).then_some(after)
    }

    /// Where each step stands, from the journal and (for steps not started) a
    /// fresh look at the installation. Changes nothing.
    pub fn status(&self) -> Vec<StepReport> {
        let install = Installation::open(&self.plan, &self.profile, &self.resolver);
        let mut reports: Vec<StepReport> = StepId::ALL
            .into_iter()
            .map(|step| {
                let (state, detail) = self.step_status(step, install.as_ref().ok());
                StepReport {
                    step,
                    title: step.title(),
                    state,
                    detail,
                }
            })
            .collect();
        // A step with changes to make that a blocked step holds back says so,
        // as `apply --skip-blocked` would leave it out.
        let failed: std::collections::BTreeSet<StepId> = reports
            .iter()
            .filter(|r| r.state == StepStatus::Pending && r.detail.starts_with(BLOCKED))
            .map(|r| r.step)
            .collect();
        let left_out = steps::left_out(&failed);
        for r in reports
            .iter_mut()
            .filter(|r| r.state == StepStatus::Pending)
        {
            match left_out.get(&r.step) {
                Some(by) if *by != r.step && !r.detail.starts_with(BLOCKED) => {
                    r.detail = format!(
                        "{}; waits for step {} ({by}), which is blocked",
                        r.detail,
                        by.number()
                    );
                }
                _ => {}
            }
        }
        reports
    }

    /// A step the journal has done, in words: for the store and the
    /// rewrite, what an earlier run left that the next apply moves.
    fn done_detail(&self, step: StepId, install: Option<&Installation>) -> String {
        let left = match (step, install) {
            (StepId::MailStore | StepId::Directories, Some(i)) => {
                steps::mail_store::trees_left(&self.plan, &self.profile, i)
            }
            _ => Vec::new(),
        };
        if left.is_empty() {
            "done (journal)".into()
        } else {
            format!(
                "done (journal); MDaemon.ini still names {}: the next apply moves it",
                left.join(", ")
            )
        }
    }

    fn step_status(&self, step: StepId, install: Option<&Installation>) -> (StepStatus, String) {
        if self.replay.undone {
            return (StepStatus::Pending, "undone".into());
        }
        if self.replay.undo_begun {
            // An undo stopped part-way: say how far it got, not what the run
            // did (of the latest run's steps alone when it undoes only that).
            let in_scope = match &self.replay.undoing_run {
                Some(run) => self.replay.actions_of(run).iter().any(|(s, _)| *s == step),
                None => true,
            };
            if in_scope {
                return self.undo_status(step);
            }
        }
        // The cluster steps are judged anew: a node may await registration.
        let journaled = self
            .replay
            .step(step)
            .filter(|rec| !(step.per_node() && rec.finished.is_some()));
        if let Some(rec) = journaled {
            if rec.finished.is_some() {
                return (StepStatus::Done, self.done_detail(step, install));
            }
            if let Some(err) = &rec.failed {
                let first = err.lines().next().unwrap_or_default();
                return (
                    StepStatus::Failed,
                    format!("failed: {first} — rerun apply to resume, or undo"),
                );
            }
            return (
                StepStatus::Interrupted,
                format!(
                    "{} of {} actions done; rerun apply to resume",
                    rec.done.len(),
                    rec.actions.len()
                ),
            );
        }
        if step == StepId::SharedPath {
            // Its checks include a write probe; status touches nothing.
            return (
                StepStatus::Pending,
                "checked when apply runs (`apply --dry-run` checks it now)".into(),
            );
        }
        let Some(install) = install else {
            return (
                StepStatus::Pending,
                "the installation could not be read".into(),
            );
        };
        let service = self.service_state(install);
        let cluster = self.cluster_view().unwrap_or_default();
        let now = self.clock.now();
        let ctx = Context {
            plan: &self.plan,
            profile: &self.profile,
            resolver: &self.resolver,
            install,
            options: self.options,
            service: &service,
            cluster: &cluster,
            now: &now,
            failover: None,
        };
        match steps::prepare(step, &ctx, &[]) {
            Ok(sp)
                if sp.state == StepStatus::NothingToDo && sp.failed_checks().next().is_none() =>
            {
                (
                    StepStatus::Done,
                    sp.notes
                        .first()
                        .cloned()
                        .unwrap_or_else(|| "already as planned".into()),
                )
            }
            Ok(sp) if sp.state == StepStatus::Waiting => (
                StepStatus::Waiting,
                sp.notes
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "waiting".into()),
            ),
            Ok(sp) => match sp.failed_checks().next() {
                Some(c) => (
                    StepStatus::Pending,
                    format!("{BLOCKED}{}: {}", c.name, c.detail),
                ),
                None => (
                    StepStatus::Pending,
                    format!("{} change(s) to make", sp.actions.len()),
                ),
            },
            Err(p) => (StepStatus::Pending, format!("{BLOCKED}{}", p.what)),
        }
    }

    /// Where a step stands while an undo is unfinished.
    fn undo_status(&self, step: StepId) -> (StepStatus, String) {
        let finish = format!(
            "rerun `mdcluster undo --plan {}` to finish the undo",
            self.plan.file.display()
        );
        let Some(rec) = self.replay.step(step).filter(|r| !r.intents.is_empty()) else {
            return (
                StepStatus::Pending,
                format!("nothing of it to undo; {finish}"),
            );
        };
        // The actions the undo reverses: all, or the latest run's.
        let of_run = self
            .replay
            .undoing_run
            .as_deref()
            .map(|run| self.replay.actions_of(run));
        let to_undo: Vec<&usize> = rec
            .intents
            .iter()
            .filter(|i| of_run.is_none_or(|actions| actions.contains(&(step, **i))))
            .collect();
        let undone = to_undo.iter().filter(|i| rec.undo_done.contains(i)).count();
        if undone == to_undo.len() {
            (StepStatus::Undone, format!("undone; {finish}"))
        } else {
            (
                StepStatus::UndoInterrupted,
                format!(
                    "undo interrupted: {undone} of {} actions undone; {finish}",
                    to_undo.len()
                ),
            )
        }
    }

    /// Before actions that move data MDaemon uses: make sure it does not run
    /// then. `reversed` means the actions are undone (so undoing a start stops
    /// MDaemon, and undoing a stop starts it). With `stop_mdaemon` a running
    /// MDaemon is stopped here (true is returned: start it again afterwards);
    /// without, that is a refusal.
    fn guard_service(
        &self,
        actions: &[Action],
        reversed: bool,
        events: &dyn EventSink,
    ) -> Result<bool, Problem> {
        use crate::service::State;
        let service = (self.services)(&self.root_local(), &self.profile);
        let state = service.state();
        // Unknown counts as stopped here; it is refused below unless the
        // administrator said MDaemon is stopped.
        let mut running = state == State::Running;
        let mut endangered = false;
        for a in actions {
            match (a, reversed) {
                (Action::StartService { .. }, true) | (Action::StopService { .. }, false) => {
                    running = false
                }
                (Action::StopService { .. }, true) | (Action::StartService { .. }, false) => {
                    running = true
                }
                _ if a.moves_data() && running => endangered = true,
                _ => {}
            }
        }
        let unknown = matches!(state, State::Unknown(_))
            && !self.options.mdaemon_stopped
            && actions.iter().any(Action::moves_data);
        if unknown {
            return Err(crate::service::running_problem(service.as_ref(), &state));
        }
        if !endangered {
            return Ok(false);
        }
        if !self.options.stop_mdaemon {
            return Err(crate::service::running_problem(service.as_ref(), &state));
        }
        let note = |text: String| events.emit(Event::Note { step: None, text });
        note(format!("stopping {}", service.describe()));
        service.request_stop()?;
        service.wait(false, Duration::from_secs(STOP_TIMEOUT_SECS), &mut |w| {
            note(format!("waiting for MDaemon to stop: {} s", w.as_secs()))
        })?;
        Ok(true)
    }

    fn start_service(&self, events: &dyn EventSink) -> Result<(), Problem> {
        let service = (self.services)(&self.root_local(), &self.profile);
        events.emit(Event::Note {
            step: None,
            text: format!("starting {} again", service.describe()),
        });
        service.request_start()?;
        service.wait(true, Duration::from_secs(STOP_TIMEOUT_SECS), &mut |_| {})
    }

    /// Under the installation lock: the temporary files a killed run left in
    /// the folders only runs holding it write to (App, where MDaemon.ini,
    /// Userlist.dat and the semaphores are; the state folder and its
    /// backups). A copy of MDaemon.ini among them holds the licence key.
    fn remove_leftovers(&self) {
        let mut dirs = vec![self.state_dir.clone()];
        let root = &self.plan.install_root;
        for file in [
            root.join(&self.profile.ini.file),
            root.join(&self.profile.userlist.file),
            root.join(&self.profile.semaphores.dir)
                .and_then(|d| d.join(&self.profile.semaphores.restart)),
        ]
        .into_iter()
        .flatten()
        {
            if let Some(dir) = self
                .resolver
                .locate(&file)
                .ok()
                .and_then(|l| l.local.parent().map(PathBuf::from))
            {
                dirs.push(dir);
            }
        }
        if let Ok(entries) = std::fs::read_dir(self.state_dir.join("backups")) {
            dirs.extend(entries.flatten().map(|e| e.path()));
        }
        for dir in dirs {
            crate::fsops::atomic::remove_temporaries_under_lock(&dir);
        }
    }

    /// Before `cleanup` deletes an old store: no run is unfinished,
    /// MDaemon.ini points at the copy, and MDaemon was restarted since.
    fn check_old_store_unused(&self) -> Result<(), Problem> {
        // A run that stopped part-way may have copied more (a tree taken up
        // again) without pointing MDaemon.ini at it yet.
        if self.replay.interrupted() {
            return Err(Problem::refused(
                "a run stopped part-way: what it copied may not be in use yet",
            )
            .fix(format!(
                "finish the run first: mdcluster apply --plan {}",
                self.plan.file.display()
            )));
        }
        if !self.replay.done_kind(StepId::Directories, "edit-ini")
            && !self.replay.finished(StepId::Directories)
        {
            return Err(Problem::refused("MDaemon.ini does not point at the shared store yet, so the old store is still in use")
                .fix(format!("finish the run first: mdcluster apply --plan {}", self.plan.file.display())));
        }
        let restarted = self.replay.done_kind(StepId::Directories, "start-service")
            || self.replay.done_kind(StepId::Directories, "drop-semaphore")
            || self.options.mdaemon_restarted;
        let service = (self.services)(&self.root_local(), &self.profile);
        if service.state() == crate::service::State::Running && !restarted {
            return Err(Problem::refused("MDaemon may still use the old store: it was not restarted since MDaemon.ini was rewritten")
                .fix("restart MDaemon so it uses the share, then rerun cleanup with --mdaemon-restarted"));
        }
        Ok(())
    }

    /// After `--keep-source`: delete the old store where its copy on the share
    /// is identical. Journaled as more actions of the mail-store step, so undo
    /// brings the deleted files back from the copy.
    pub fn cleanup(&mut self, events: &dyn EventSink) -> Result<Summary, Problem> {
        let mut summary = Summary::default();
        let kept = self.replay.kept_sources();
        if kept.is_empty() {
            return Ok(summary);
        }
        self.check_old_store_unused()?;
        for (source, copy) in &kept {
            steps::layout::check_apart(&self.resolver, source, copy)?;
        }
        let actions: Vec<Action> = kept
            .into_iter()
            .map(|(source, copy)| Action::DeleteSource { source, copy })
            .collect();
        let _lock = self.lock("cleanup")?;
        self.remove_leftovers();
        let replay = journal::read(&self.journal_path())?;
        let first = replay
            .step(StepId::MailStore)
            .map(|r| r.actions.len())
            .unwrap_or(0);
        let mut j = Journal::open(&self.journal_path(), &replay, &self.clock)?;
        let first_run = replay.first_run.clone().unwrap_or_default();
        let backups = self.state_dir.join("backups").join(&first_run);
        j.append(Record::RunBegin {
            run: journal::new_run_id(&self.clock),
            command: "cleanup".into(),
            plan: self.plan.fingerprint(),
            plan_file: self.plan.file.display().to_string(),
            version: env!("CARGO_PKG_VERSION").into(),
            format: journal::FORMAT_RUN,
        })?;
        j.append(Record::StepExtend {
            step: StepId::MailStore,
            actions: actions.clone(),
        })?;
        let step = StepId::MailStore;
        events.emit(Event::StepStarted {
            step,
            number: step.number(),
            title: "Remove the old mail store",
        });
        let mut work = StepWork::default();
        for (n, action) in actions.iter().enumerate() {
            self.run_action(
                &mut j,
                &backups,
                (step, first + n),
                action,
                &mut work,
                events,
            )
            .inspect_err(|p| {
                events.emit(Event::StepFailed {
                    step,
                    error: p.clone(),
                })
            })?;
        }
        j.append(Record::RunEnd {
            outcome: "complete".into(),
        })?;
        events.emit(Event::StepDone {
            step,
            outcome: Outcome::Changed,
        });
        summary.changed.push(step);
        summary.journal = Some(self.journal_path());
        self.replay = journal::read(&self.journal_path())?;
        let evidence = self.replay.step(step).map(|r| {
            r.done
                .range(first..)
                .map(|(_, e)| e.clone())
                .collect::<Vec<_>>()
        });
        for e in evidence.unwrap_or_default() {
            summary.kept.extend_from_slice(e.kept());
        }
        Ok(summary)
    }

    /// What an undo reverses, newest first: every action not undone yet,
    /// or (`only`) those of one run.
    pub(crate) fn undo_list_of(&self, only: Option<&str>) -> Vec<(StepId, usize, Action)> {
        if self.replay.undone {
            return Vec::new();
        }
        let of_run = only.map(|run| self.replay.actions_of(run));
        self.replay
            .executed
            .iter()
            .rev()
            .filter(|key| of_run.is_none_or(|actions| actions.contains(key)))
            .filter_map(|(step, i)| {
                let rec = self.replay.step(*step)?;
                if rec.undo_done.contains(i) {
                    return None;
                }
                rec.actions.get(*i).map(|a| (*step, *i, a.clone()))
            })
            .collect()
    }

    /// What `undo` reverses: everything, or the rest of an undo of the
    /// latest run that stopped part-way.
    pub(crate) fn undo_list(&self) -> Vec<(StepId, usize, Action)> {
        self.undo_list_of(self.replay.undoing_run.as_deref())
    }

    /// The latest run, when it can be undone on its own: a later run that
    /// ended, with earlier runs before it, whose changes are all of the
    /// steps judged per node (a node added: the cluster manifest, the
    /// balancer's files). A run that moved data or rewrote MDaemon.ini is
    /// undone only with everything, so the installation is never half
    /// moved. Else why not, in words.
    pub fn latest_run(&self) -> Result<LatestRun, String> {
        if let Some(run) = &self.replay.undoing_run {
            return Ok(LatestRun {
                run: run.clone(),
                actions: self.undo_list_of(Some(run)),
            });
        }
        if self.replay.is_empty() || self.replay.undone {
            return Err("there is no applied run to undo".into());
        }
        if self.replay.undo_begun {
            return Err("an undo of everything stopped part-way: finish it with `undo`".into());
        }
        if self.replay.interrupted() || self.replay.runs.last().is_some_and(|r| !r.ended) {
            return Err("the latest run stopped part-way: finish it first (run the same apply again), or undo everything".into());
        }
        let undoable: Vec<&journal::RunActions> = self
            .replay
            .runs
            .iter()
            .filter(|r| !self.undo_list_of(Some(&r.run)).is_empty())
            .collect();
        let Some(latest) = undoable.last() else {
            return Err("there is no applied run to undo".into());
        };
        if undoable.len() < 2 {
            return Err("the latest run is the only one: undo everything reverses it".into());
        }
        if latest.resumed || !latest.ended {
            return Err("the latest run finished what an earlier run began (or stopped part-way itself): the two are undone only together, with everything".into());
        }
        let actions = self.undo_list_of(Some(&latest.run));
        if let Some((step, _, action)) = actions
            .iter()
            .find(|(step, _, a)| !step.per_node() || !a.per_node_change())
        {
            return Err(format!(
                "the latest run changed the installation itself (step {}, {step}: {}): it is undone only with everything before it",
                step.number(),
                action.kind()
            ));
        }
        Ok(LatestRun {
            run: latest.run.clone(),
            actions,
        })
    }

    /// Reverse what the journal says this tool did, newest first, then archive
    /// the journal. Touches nothing the tool did not create. An undo of the
    /// latest run that stopped part-way is finished as such (that run only).
    pub fn undo(&mut self, events: &dyn EventSink) -> Result<Summary, Problem> {
        if self.replay.is_empty() || self.replay.undone {
            return Ok(Summary::default());
        }
        let only = self.replay.undoing_run.clone();
        self.undo_run(only, events)
    }

    /// Reverse the latest run only ([`Self::latest_run`]); the journal goes
    /// on with the runs before it, which a later `undo` reverses.
    /// `shown`: the run the administrator was shown (refused as stale when
    /// another is the latest by now).
    pub fn undo_latest(
        &mut self,
        shown: Option<&str>,
        events: &dyn EventSink,
    ) -> Result<Summary, Problem> {
        let latest = self.latest_run_or_refusal()?;
        if shown.is_some_and(|run| run != latest.run) {
            return Err(stale_latest());
        }
        self.undo_run(Some(latest.run), events)
    }

    /// [`Self::latest_run`], or the refusal (exit 3) that says why not and
    /// what to run instead.
    pub fn latest_run_or_refusal(&self) -> Result<LatestRun, Problem> {
        self.latest_run().map_err(|why| {
            Problem::refused(format!("the latest run cannot be undone on its own: {why}")).fix(
                format!(
                    "undo everything with `mdcluster undo --plan {}`",
                    self.plan.file.display()
                ),
            )
        })
    }

    /// Undo every action not undone yet, or (`only`) those of one run.
    fn undo_run(
        &mut self,
        only: Option<String>,
        events: &dyn EventSink,
    ) -> Result<Summary, Problem> {
        let mut summary = Summary::default();
        let _lock = self.lock("undo")?;
        self.remove_leftovers();
        self.replay = journal::read(&self.journal_path())?;
        // Under the lock: the run is still the one to undo alone.
        if let Some(run) = &only {
            if self.latest_run().map(|l| l.run).as_ref() != Ok(run) {
                return Err(stale_latest());
            }
        }
        let list = self.undo_list_of(only.as_deref());
        let actions: Vec<Action> = list.iter().map(|(_, _, a)| a.clone()).collect();
        let stopped_here = self.guard_service(&actions, true, events)?;
        let mut j = Journal::open(&self.journal_path(), &self.replay, &self.clock)?;
        let first_run = self.replay.first_run.clone().unwrap_or_default();
        let backups = self.state_dir.join("backups").join(&first_run);
        j.append(Record::UndoBegin {
            run: journal::new_run_id(&self.clock),
            format: if only.is_some() {
                journal::FORMAT_LATEST_UNDO
            } else {
                journal::FORMAT_RUN
            },
            version: env!("CARGO_PKG_VERSION").into(),
            latest_run: only.clone(),
        })?;
        self.reverse(&mut j, &backups, &list, events, &mut summary)?;
        if let Some(run) = only {
            j.append(Record::LatestRunUndone { run })?;
            drop(j);
            if stopped_here {
                self.start_service(events)?;
            }
            self.replay = journal::read(&self.journal_path())?;
            summary.journal = Some(self.journal_path());
            summary.backups = Some(backups).filter(|b| b.exists());
            return Ok(summary);
        }
        j.append(Record::Undone {})?;
        drop(j);
        if stopped_here {
            self.start_service(events)?;
        }
        let archived = self
            .state_dir
            .join(format!("journal-{first_run}-undone.jsonl"));
        std::fs::rename(self.journal_path(), &archived)
            .map_err(|e| Problem::io(Exit::Other, "archive the journal", &archived, &e))?;
        crate::fsops::fsync_dir(&self.state_dir).map_err(|e| Problem::other(e.to_string()))?;
        summary.journal = Some(archived);
        // Named only when something was backed up.
        summary.backups = Some(backups).filter(|b| b.exists());
        self.replay = Replay::default();
        Ok(summary)
    }

    /// Undo `list` in its order, journaled action by action, events per step.
    fn reverse(
        &self,
        j: &mut Journal,
        backups: &std::path::Path,
        list: &[(StepId, usize, Action)],
        events: &dyn EventSink,
        summary: &mut Summary,
    ) -> Result<(), Problem> {
        let mut current: Option<StepId> = None;
        for (step, i, action) in list {
            if current != Some(*step) {
                if let Some(prev) = current {
                    events.emit(Event::StepDone {
                        step: prev,
                        outcome: Outcome::Undone,
                    });
                }
                events.emit(Event::StepStarted {
                    step: *step,
                    number: step.number(),
                    title: step.title(),
                });
                current = Some(*step);
            }
            events.emit(Event::ActionStarted {
                step: *step,
                action: *i,
                kind: action.kind(),
                description: format!("undo: {}", action.describe_undo()),
            });
            j.append(Record::UndoIntent {
                step: *step,
                action: *i,
            })?;
            let evidence = self.undo_action(backups, *step, *i, action, events)?;
            summary.kept.extend_from_slice(evidence.kept());
            summary.notes.extend(self.still_registered(&evidence, list));
            j.append(Record::UndoDone {
                step: *step,
                action: *i,
                evidence: evidence.to_journal(),
            })?;
            if !summary.changed.contains(step) {
                summary.changed.push(*step);
            }
        }
        if let Some(prev) = current {
            events.emit(Event::StepDone {
                step: prev,
                outcome: Outcome::Undone,
            });
        }
        Ok(())
    }

    /// What is left to do in MDaemon after an undo took nodes out of the
    /// cluster manifest: those still registered there. A registration the
    /// same undo takes out of MDaemon.ini (a profile that registers there)
    /// is gone already.
    fn still_registered(
        &self,
        evidence: &Evidence,
        list: &[(StepId, usize, Action)],
    ) -> Vec<String> {
        let Evidence::ManifestTakenBack {
            registered_in_mdaemon,
            ..
        } = evidence
        else {
            return Vec::new();
        };
        let removed_here = |name: &String| {
            list.iter().any(|(st, _, a)| {
                *st == StepId::ServerIds
                    && matches!(a, Action::EditIni { edits, .. }
                        if edits.iter().any(|e| e.new.eq_ignore_ascii_case(name)))
            })
        };
        registered_in_mdaemon
            .iter()
            .filter(|n| !removed_here(n))
            .map(|name| {
                format!(
                    "{name} is out of the cluster manifest but still registered in MDaemon's \
                     Cluster Service: take it out there ({}); its server ID stays retired",
                    *self.profile.cluster.remove_dialog
                )
            })
            .collect()
    }

    /// Undo one action; Err is a failed undo, reported as the step's.
    fn undo_action(
        &self,
        backups: &std::path::Path,
        step: StepId,
        i: usize,
        action: &Action,
        events: &dyn EventSink,
    ) -> Result<Evidence, Problem> {
        let finished = self
            .replay
            .step(step)
            .is_some_and(|r| r.done.contains_key(&i));
        let injected = self.injected_failure();
        match injected {
            Some(false) => Err(injected_problem()),
            _ => self.with_env(backups, step, i, events, |env| {
                actions::undo(action, env, finished)
            }),
        }
        .and_then(|e| match injected {
            Some(true) => Err(injected_problem()),
            _ => Ok(e),
        })
        .map_err(|p| {
            let p = p.in_step(step.id());
            events.emit(Event::StepFailed {
                step,
                error: p.clone(),
            });
            p
        })
    }
}

/// How `status` begins the detail of a step a failed check blocks.
const BLOCKED: &str = "blocked: ";

/// Another run became the latest since the undo was asked for.
fn stale_latest() -> Problem {
    Problem::new(
        Exit::Stale,
        "the latest run is not the one shown any more: another mdcluster run changed the journal",
    )
    .fix("run `undo --latest` again to see what it reverses now")
}

fn injected_problem() -> Problem {
    Problem::failed(format!(
        "a failure injected by {} (a test)",
        crate::test_hooks::FAIL_AT_ACTION
    ))
    .fix("rerun to resume, or run `mdcluster undo`")
}

/// The files on this machine that the planned actions replace, as they are now.
fn replaced_local_files(plans: &[StepPlan]) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for (_, a) in plans.iter().flat_map(|sp| sp.actions.iter()) {
        if let Action::WriteFiles { dir, files, .. } = a {
            for f in files.iter().filter(|f| f.before_hash.is_some()) {
                let path = dir.join(&f.path);
                if let Ok(bytes) = std::fs::read(&path) {
                    out.push((path, bytes));
                }
            }
        }
    }
    out
}

/// Steps are prepared each against MDaemon.ini as it is now, but run one
/// after the other: a freshly prepared edit of the same file that follows an
/// earlier one in this run (step 9's registration, where the profile locates
/// it, after step 5) starts from the bytes the earlier one leaves, so its
/// `before` and `after` are what it will see. Journaled actions of a resumed
/// step are never touched: their hashes are what detects a file changed
/// meanwhile.
fn chain_ini_edits(plans: &mut [StepPlan], install: &Installation) {
    use crate::install::content_hash;
    let mut current = install.ini_bytes.clone();
    let mut moved = false;
    for sp in plans.iter_mut() {
        let fresh = sp.state == StepStatus::Ready;
        let mut failed = None;
        for (_, action) in sp.actions.iter_mut() {
            let Action::EditIni {
                file,
                before,
                after,
                edits,
            } = action
            else {
                continue;
            };
            if *file != install.ini {
                continue;
            }
            let as_prepared = content_hash(&current) == *before;
            if !(as_prepared || fresh && moved) {
                continue; // done already, or stale: the execution decides
            }
            match crate::ini::apply_edits(&current, edits) {
                Ok(next) => {
                    *before = content_hash(&current);
                    *after = content_hash(&next);
                    current = next;
                    moved = true;
                }
                Err(e) => failed = Some(e.to_string()),
            }
        }
        if let Some(why) = failed {
            sp.checks.push(crate::steps::Check::fail(
                "MDaemon.ini edits",
                format!("the edits of this step cannot follow the earlier ones: {why}"),
                "report this as a bug; nothing was changed",
            ));
        }
    }
}

/// Take a step out of the run: its changes are dropped (its checks stay, to
/// say why), and a note says what it waits for. A step with nothing to run
/// (done, nothing to do, waiting) stays as it is. True when it was taken out.
fn leave_out(sp: &mut StepPlan, left_out: &std::collections::BTreeMap<StepId, StepId>) -> bool {
    let Some(by) = left_out.get(&sp.step) else {
        return false;
    };
    let runs = matches!(sp.state, StepStatus::Ready | StepStatus::Interrupted);
    if !runs && sp.failed_checks().next().is_none() {
        return false;
    }
    sp.actions.clear();
    sp.next.clear();
    if *by == sp.step {
        sp.state = StepStatus::Failed;
        sp.notes
            .push("left out of the run: a check failed; correct it and rerun".into());
    } else {
        sp.state = StepStatus::Pending;
        sp.notes.push(format!(
            "left out of the run: it waits for step {} ({by}), whose check failed; it follows once that is corrected",
            by.number()
        ));
    }
    true
}

/// Steps are prepared before any of them runs, so two may plan to create the
/// same folder on the share; the later one leaves it to the earlier.
fn drop_repeated_folders(plans: &mut [StepPlan]) {
    let mut created: Vec<crate::winpath::WinPath> = Vec::new();
    for sp in plans.iter_mut().filter(|sp| sp.state == StepStatus::Ready) {
        let before = sp.actions.len();
        sp.actions.retain(|(_, a)| match a {
            Action::CreateFolder { folder } => !created.contains(&folder.win),
            _ => true,
        });
        if sp.actions.len() != before {
            sp.actions = sp.actions.drain(..).map(|(_, a)| a).enumerate().collect();
        }
        for (_, a) in &sp.actions {
            match a {
                Action::CreateFolder { folder } => created.push(folder.win.clone()),
                Action::MoveFolder { to, .. } | Action::CopyFolder { to, .. } => {
                    created.push(to.win.clone())
                }
                _ => {}
            }
        }
    }
}

/// Whether a step run changes something: it has actions, or an earlier run
/// began it (its actions changed things then, whatever is left now).
fn changes(sp: &StepPlan) -> bool {
    !sp.actions.is_empty() || sp.state == StepStatus::Interrupted
}

/// MDaemon.ini and Userlist.dat as the preview read them: changed by
/// someone since, the preview (what was approved) is stale. Refused before
/// the first change, not only at the edit of that file.
fn files_as_previewed(preview: &Preview) -> Result<(), Problem> {
    for (loc, bytes) in &preview.files {
        if std::fs::read(&loc.local).ok().as_deref() != Some(bytes.as_slice()) {
            return Err(Problem::new(
                Exit::Stale,
                format!("{} changed after the preview was made", loc.win),
            )
            .at(loc.local.display().to_string())
            .fix("someone (or MDaemon) wrote the file meanwhile; nothing was changed: rerun to get a fresh preview"));
        }
    }
    Ok(())
}

fn emit_unchanged(sp: &StepPlan, events: &dyn EventSink) {
    let step = sp.step;
    match sp.state {
        StepStatus::Done => events.emit(Event::StepDone {
            step,
            outcome: Outcome::AlreadyDone,
        }),
        StepStatus::Waiting => events.emit(Event::StepWaiting {
            step,
            reason: sp
                .notes
                .first()
                .cloned()
                .unwrap_or_else(|| "waiting".into()),
        }),
        // Left out of the run (`--skip-blocked`): it waits for a correction.
        StepStatus::Failed | StepStatus::Pending => events.emit(Event::StepWaiting {
            step,
            reason: sp
                .notes
                .iter()
                .rev()
                .find(|n| n.starts_with("left out"))
                .cloned()
                .unwrap_or_else(|| "left out of the run".into()),
        }),
        _ => events.emit(Event::StepDone {
            step,
            outcome: Outcome::NothingToDo,
        }),
    }
}

#[cfg(test)]
mod tests;
