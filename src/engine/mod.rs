//! The engine: one path from a plan to changes, shared by every front end
//! (headless `apply`, the demo, the wizard).
//!
//! - [`Engine::preview`] reads the installation, prepares every step and runs
//!   every preflight check. It changes nothing; any failed check refuses the
//!   whole run (exit 3) before the first byte moves.
//! - [`Engine::apply`] carries out a preview's actions under a lock, writing the
//!   journal before and after each one. A rerun resumes from the journal.
//! - [`Engine::undo`] replays the inverse of every started action, newest first.
//!
//! State lives in `<installation>\mdcluster\`: the journal, the lock, backups.

pub mod actions;
pub mod events;
pub mod journal;
pub mod lock;

use crate::install::Installation;
use crate::location::{Loc, Resolver};
use crate::plan::Plan;
use crate::problem::{Exit, Problem};
use crate::profile::Profile;
use crate::steps::{self, Action, Context, StepId, StepPlan, StepState};
use events::{Event, EventSink, Outcome};
use journal::{Journal, Record, Replay};
use serde_json::json;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Name of mdcluster's state folder inside the installation root.
pub const STATE_DIR: &str = "mdcluster";

pub struct Engine {
    pub plan: Plan,
    pub profile: Profile,
    pub resolver: Resolver,
    pub state_dir: PathBuf,
    pub replay: Replay,
    /// False when `MDCLUSTER_NO_RENAME` forces the copy path.
    pub allow_rename: bool,
}

/// Everything a run would do, prepared and checked.
#[derive(Clone)]
pub struct Preview {
    pub steps: Vec<StepPlan>,
    /// MDaemon.ini as read, for showing diffs.
    pub ini: Option<(Loc, Vec<u8>)>,
}

impl Preview {
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

    /// Steps that will change something.
    pub fn pending(&self) -> impl Iterator<Item = &StepPlan> {
        self.steps.iter().filter(|s| {
            matches!(s.state, StepState::Ready | StepState::Resume) && !s.actions.is_empty()
        })
    }
    pub fn has_changes(&self) -> bool {
        self.pending().next().is_some()
    }
    pub fn resuming(&self) -> bool {
        self.steps.iter().any(|s| s.state == StepState::Resume)
    }
}

/// What an apply or undo did.
#[derive(Debug, Default, serde::Serialize)]
pub struct Summary {
    pub changed: Vec<StepId>,
    pub journal: Option<PathBuf>,
    pub backups: Option<PathBuf>,
    pub kept: Vec<PathBuf>,
    pub notes: Vec<String>,
}

/// One step's standing for `status`.
#[derive(Debug, serde::Serialize)]
pub struct StepStatus {
    pub step: StepId,
    pub title: &'static str,
    pub state: &'static str,
    pub detail: String,
}

impl Engine {
    pub fn open(plan: Plan, profile: Profile) -> Result<Engine, Problem> {
        let resolver = Resolver::new(plan.mounts.clone());
        let root = resolver.locate(&plan.install_root)?;
        let state_dir = root.local.join(STATE_DIR);
        let replay = journal::read(&state_dir.join(journal::FILE_NAME))?;
        let engine = Engine {
            plan,
            profile,
            resolver,
            state_dir,
            replay,
            allow_rename: crate::fsops::mover::rename_allowed(),
        };
        engine.check_journal_owner()?;
        Ok(engine)
    }

    pub fn journal_path(&self) -> PathBuf {
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

    /// Prepare and check every step; refuse (exit 3) when a check failed.
    /// Changes nothing.
    pub fn preview(&self, restart: bool) -> Result<Preview, Problem> {
        let preview = self.prepare(restart)?;
        match preview.refusal() {
            Some(problem) => Err(problem),
            None => Ok(preview),
        }
    }

    /// Prepare every step, keeping failed checks in the step plans (the wizard
    /// shows them where they belong). Changes nothing.
    pub fn prepare(&self, restart: bool) -> Result<Preview, Problem> {
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
        let install = Installation::open(&self.plan, &self.profile, &self.resolver)?;
        let ctx = Context {
            plan: &self.plan,
            profile: &self.profile,
            resolver: &self.resolver,
            install: &install,
            restart,
        };
        let mut plans = Vec::new();
        for step in StepId::ALL.into_iter().filter(|s| *s != StepId::SharedPath) {
            plans.push(self.step_plan(step, &ctx, 0)?);
        }
        let to_share = plans
            .iter()
            .filter(|p| p.state != StepState::Done)
            .map(StepPlan::bytes_to_share)
            .sum();
        plans.insert(0, self.step_plan(StepId::SharedPath, &ctx, to_share)?);
        Ok(Preview {
            steps: plans,
            ini: Some((install.ini.clone(), install.ini_bytes.clone())),
        })
    }

    fn step_plan(&self, step: StepId, ctx: &Context, to_share: u64) -> Result<StepPlan, Problem> {
        if step.available() {
            if let Some(rec) = self.replay.step(step) {
                if rec.finished.is_some() {
                    let mut sp = StepPlan::new(step, StepState::Done);
                    sp.notes.push("done in an earlier run (journal)".into());
                    return Ok(sp);
                }
                if !rec.actions.is_empty() {
                    let mut sp = StepPlan::new(step, StepState::Resume);
                    sp.actions = rec
                        .actions
                        .iter()
                        .cloned()
                        .enumerate()
                        .filter(|(i, _)| !rec.done.contains_key(i))
                        .collect();
                    sp.notes.push(format!(
                        "an earlier run stopped here; {} of {} actions remain and resume where they stopped",
                        sp.actions.len(),
                        rec.actions.len()
                    ));
                    return Ok(sp);
                }
            }
        }
        steps::prepare(step, ctx, to_share)
    }

    /// Carry out a preview. Returns what changed; on failure the journal is
    /// kept and the error names the step (rerun resumes, or undo).
    pub fn apply(
        &mut self,
        preview: &Preview,
        command: &str,
        events: &dyn EventSink,
    ) -> Result<Summary, Problem> {
        let mut summary = Summary::default();
        if !preview.has_changes() {
            for sp in &preview.steps {
                emit_unchanged(sp, events);
            }
            return Ok(summary);
        }
        create_state_dir(&self.state_dir)?;
        let _lock = lock::Lock::acquire(&self.state_dir, command)?;
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
        let mut j = Journal::open(&self.journal_path(), &replay)?;
        let run = journal::new_run_id();
        let first_run = replay.first_run.clone().unwrap_or_else(|| run.clone());
        let backups = self.state_dir.join("backups").join(&first_run);
        j.append(Record::RunBegin {
            run,
            command: command.into(),
            plan: self.plan.fingerprint(),
            plan_file: self.plan.file.display().to_string(),
            version: env!("CARGO_PKG_VERSION").into(),
        })?;
        summary.journal = Some(self.journal_path());
        summary.backups = Some(backups.clone());

        for sp in &preview.steps {
            let step = sp.step;
            match sp.state {
                StepState::Unavailable | StepState::Done => emit_unchanged(sp, events),
                StepState::NothingToDo => {
                    j.append(Record::StepDone {
                        step,
                        evidence: json!({ "nothing_to_do": true }),
                    })?;
                    emit_unchanged(sp, events);
                }
                StepState::Ready | StepState::Resume => {
                    events.emit(Event::StepStarted {
                        step,
                        number: step.number(),
                        title: step.title(),
                    });
                    if sp.state == StepState::Ready {
                        let all: Vec<Action> = sp.actions.iter().map(|(_, a)| a.clone()).collect();
                        j.append(Record::StepBegin { step, actions: all })?;
                    }
                    for (i, action) in &sp.actions {
                        if let Err(p) = self.run_action(&mut j, &backups, step, *i, action, events)
                        {
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
                    let evidence = if sp.actions.is_empty() {
                        json!({ "checks": sp.checks })
                    } else {
                        json!({ "actions": sp.actions.len() })
                    };
                    j.append(Record::StepDone { step, evidence })?;
                    let outcome = if sp.actions.is_empty() {
                        Outcome::Checked
                    } else {
                        Outcome::Changed
                    };
                    events.emit(Event::StepDone { step, outcome });
                    if !sp.actions.is_empty() {
                        summary.changed.push(step);
                    }
                    summary.notes.extend(sp.notes.iter().cloned());
                }
            }
        }
        j.append(Record::RunEnd {
            outcome: "complete".into(),
        })?;
        self.replay = journal::read(&self.journal_path())?;
        Ok(summary)
    }

    fn run_action(
        &self,
        j: &mut Journal,
        backups: &std::path::Path,
        step: StepId,
        index: usize,
        action: &Action,
        events: &dyn EventSink,
    ) -> Result<(), Problem> {
        events.emit(Event::ActionStarted {
            step,
            action: index,
            kind: action.kind(),
            description: action.describe(),
        });
        j.append(Record::Intent {
            step,
            action: index,
        })?;
        let env = actions::ActionEnv {
            backups,
            slot: format!("{step}-{index}"),
            allow_rename: self.allow_rename,
        };
        let mut last: Option<Instant> = None;
        let mut progress = |p: &crate::fsops::mover::Progress| {
            let finished = p.files_done >= p.files_total;
            if finished || last.is_none_or(|t| t.elapsed() >= Duration::from_millis(100)) {
                last = Some(Instant::now());
                events.emit(Event::StepProgress {
                    step,
                    files_done: p.files_done,
                    files_total: p.files_total,
                    bytes_done: p.bytes_done,
                    bytes_total: p.bytes_total,
                });
            }
        };
        let evidence = actions::execute(action, &env, &mut progress)?;
        j.append(Record::Done {
            step,
            action: index,
            evidence,
        })?;
        events.emit(Event::ActionDone {
            step,
            action: index,
            kind: action.kind(),
        });
        Ok(())
    }

    /// Where each step stands, from the journal and (for steps not started) a
    /// fresh look at the installation. Changes nothing.
    pub fn status(&self) -> Vec<StepStatus> {
        let install = Installation::open(&self.plan, &self.profile, &self.resolver);
        StepId::ALL
            .into_iter()
            .map(|step| {
                let (state, detail) = self.step_status(step, install.as_ref().ok());
                StepStatus {
                    step,
                    title: step.title(),
                    state,
                    detail,
                }
            })
            .collect()
    }

    fn step_status(&self, step: StepId, install: Option<&Installation>) -> (&'static str, String) {
        if !step.available() {
            return (
                "not-available",
                format!("not yet available; by hand: {}", step.manual_hint()),
            );
        }
        if self.replay.undone {
            return ("pending", "undone".into());
        }
        if let Some(rec) = self.replay.step(step) {
            if rec.finished.is_some() {
                return ("done", "done (journal)".into());
            }
            if let Some(err) = &rec.failed {
                let first = err.lines().next().unwrap_or_default();
                return (
                    "failed",
                    format!("failed: {first} — rerun apply to resume, or undo"),
                );
            }
            return (
                "interrupted",
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
                "pending",
                "checked when apply runs (`apply --dry-run` checks it now)".into(),
            );
        }
        let Some(install) = install else {
            return ("pending", "the installation could not be read".into());
        };
        let ctx = Context {
            plan: &self.plan,
            profile: &self.profile,
            resolver: &self.resolver,
            install,
            restart: false,
        };
        match steps::prepare(step, &ctx, 0) {
            Ok(sp) if sp.state == StepState::NothingToDo && sp.failed_checks().next().is_none() => {
                (
                    "done",
                    sp.notes
                        .first()
                        .cloned()
                        .unwrap_or_else(|| "already as planned".into()),
                )
            }
            Ok(sp) => match sp.failed_checks().next() {
                Some(c) => ("pending", format!("blocked: {}: {}", c.name, c.detail)),
                None => ("pending", format!("{} change(s) to make", sp.actions.len())),
            },
            Err(p) => ("pending", format!("blocked: {}", p.what)),
        }
    }

    /// The actions an undo would reverse, newest first.
    pub fn undo_list(&self) -> Vec<(StepId, usize, Action)> {
        if self.replay.undone {
            return Vec::new();
        }
        self.replay
            .executed
            .iter()
            .rev()
            .filter_map(|(step, i)| {
                let rec = self.replay.step(*step)?;
                if rec.undo_done.contains(i) {
                    return None;
                }
                rec.actions.get(*i).map(|a| (*step, *i, a.clone()))
            })
            .collect()
    }

    /// Reverse what the journal says this tool did, newest first, then archive
    /// the journal. Touches nothing the tool did not create.
    pub fn undo(&mut self, events: &dyn EventSink) -> Result<Summary, Problem> {
        let mut summary = Summary::default();
        if self.replay.is_empty() || self.replay.undone {
            return Ok(summary);
        }
        let _lock = lock::Lock::acquire(&self.state_dir, "undo")?;
        self.replay = journal::read(&self.journal_path())?;
        let list = self.undo_list();
        let mut j = Journal::open(&self.journal_path(), &self.replay)?;
        let first_run = self.replay.first_run.clone().unwrap_or_default();
        let backups = self.state_dir.join("backups").join(&first_run);
        j.append(Record::UndoBegin {
            run: journal::new_run_id(),
        })?;
        let mut current: Option<StepId> = None;
        for (step, i, action) in &list {
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
                description: format!("undo: {}", action.describe()),
            });
            j.append(Record::UndoIntent {
                step: *step,
                action: *i,
            })?;
            let env = actions::ActionEnv {
                backups: &backups,
                slot: format!("{step}-{i}"),
                allow_rename: self.allow_rename,
            };
            let evidence = actions::undo(action, &env).map_err(|p| {
                let p = p.in_step(step.id());
                events.emit(Event::StepFailed {
                    step: *step,
                    error: p.clone(),
                });
                p
            })?;
            if let Some(kept) = evidence.get("kept").and_then(|k| k.as_array()) {
                summary
                    .kept
                    .extend(kept.iter().filter_map(|v| v.as_str()).map(PathBuf::from));
            }
            j.append(Record::UndoDone {
                step: *step,
                action: *i,
                evidence,
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
        j.append(Record::Undone {})?;
        drop(j);
        let archived = self
            .state_dir
            .join(format!("journal-{first_run}-undone.jsonl"));
        std::fs::rename(self.journal_path(), &archived)
            .map_err(|e| Problem::io(Exit::Other, "archive the journal", &archived, &e))?;
        crate::fsops::fsync_dir(&self.state_dir).map_err(|e| Problem::other(e.to_string()))?;
        summary.journal = Some(archived);
        summary.backups = Some(backups);
        self.replay = Replay::default();
        Ok(summary)
    }
}

fn emit_unchanged(sp: &StepPlan, events: &dyn EventSink) {
    let step = sp.step;
    match sp.state {
        StepState::Unavailable => events.emit(Event::StepSkipped {
            step,
            reason: format!(
                "not yet available in this version; by hand: {}",
                step.manual_hint()
            ),
        }),
        StepState::Done => events.emit(Event::StepDone {
            step,
            outcome: Outcome::AlreadyDone,
        }),
        _ => events.emit(Event::StepDone {
            step,
            outcome: Outcome::NothingToDo,
        }),
    }
}

/// The state folder holds backups of the administrator's files: owner-only.
pub(crate) fn create_state_dir(dir: &std::path::Path) -> Result<(), Problem> {
    std::fs::create_dir_all(dir).map_err(|e| {
        Problem::io(Exit::Refused, "create mdcluster's state folder", dir, &e)
            .fix("make sure this account may write the installation folder")
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    Ok(())
}
