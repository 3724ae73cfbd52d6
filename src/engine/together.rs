//! The move of a tree of the mail store (step 4) and the rewrite of its
//! MDaemon.ini value (step 5) go together: never a value pointed at the
//! share while the data stays behind, nor data moved while MDaemon.ini
//! names the old folder.
//!
//! All four steps of the moves are prepared afresh unless the journal has
//! them. Where a move before step 5 is being finished, or step 4 is done
//! and step 5 not begun, step 5 is prepared afresh for what this run and
//! the journal move, leaving out the trees the journal's step 4 did not
//! touch (the gateways, digests and archive of a run an earlier mdcluster
//! began): they wait for the next `apply`, a note says so. A step 5 the
//! journal has begun stands: its rewrite covers what was moved. Once steps
//! 2-5 are done, a tree MDaemon.ini still names elsewhere than its target
//! is looked at again: the four steps afresh, with their checks; where a
//! check fails they stay done and the preview warns why the tree is not
//! moved, so that the rest of the run (adding a node) is not held back.

use super::Engine;
use crate::location::Loc;
use crate::plan::Plan;
use crate::problem::Problem;
use crate::steps::mail_store::{store_roots, tree_source, StoreRoot};
use crate::steps::{self, Action, Context, StepId, StepPlan, StepStatus};
use crate::winpath::WinPath;

/// The steps whose changes are applied together (the moves and the
/// rewrite).
const MOVES: [StepId; 4] = [
    StepId::Lockfiles,
    StepId::Pem,
    StepId::MailStore,
    StepId::Directories,
];

impl Engine {
    /// See the module: adjust the prepared steps 2-5 so that each tree
    /// moves and is pointed at in the same run.
    pub(super) fn keep_moves_and_rewrites_together(
        &self,
        ctx: &Context,
        prepared: &mut [StepPlan],
    ) -> Result<(), Problem> {
        // (A tree MDaemon.ini does not name and that holds nothing is no
        // one's concern: no value, no data.)
        let roots: Vec<StoreRoot> = store_roots(ctx)
            .into_iter()
            .filter(|r| r.stated || holds_data(ctx, r))
            .collect();
        if roots.is_empty() {
            return Ok(());
        }
        let state = |step| prepared.iter().find(|p| p.step == step).map(|p| p.state);
        let journaled = |step| matches!(state(step), Some(Done | Interrupted));
        use StepStatus::{Done, Interrupted};
        let dirs = state(StepId::Directories);
        if dirs == Some(Interrupted) {
            // Its journaled rewrite covers what the journal moved.
            return Ok(());
        }
        if MOVES.iter().all(|s| state(*s) == Some(Done)) {
            return self.look_again(ctx, prepared, &roots);
        }
        let store_journaled = journaled(StepId::MailStore);
        // Step 5 done while a move before it is not (being finished, or
        // found anew); or step 4 from the journal and step 5 not begun.
        let moves_after_rewrite =
            dirs == Some(Done) && MOVES[..3].iter().any(|s| state(*s) != Some(Done));
        let rewrite_after_journal = store_journaled && !journaled(StepId::Directories);
        if !moves_after_rewrite && !rewrite_after_journal {
            return Ok(());
        }
        // Step 5 afresh, for what this run and the journal move.
        let left: Vec<&StoreRoot> = if store_journaled {
            self.check_journal_targets(ctx, &roots)?;
            roots.iter().filter(|r| !self.moved(r)).collect()
        } else {
            Vec::new()
        };
        self.prepare_without(ctx, prepared, StepId::Directories, &left)
    }

    /// Whether the journaled step 4 moves an entry of the tree to its
    /// target, or makes the target.
    fn moved(&self, root: &StoreRoot) -> bool {
        self.journaled_actions(StepId::MailStore)
            .iter()
            .any(|a| match a {
                Action::MoveFolder { from, to, .. } | Action::CopyFolder { from, to, .. } => {
                    from.win.parent().as_ref() == Some(&root.from) && to.win.starts_with(&root.to)
                }
                Action::CreateFolder { folder } => folder.win == root.to,
                _ => false,
            })
    }

    fn journaled_actions(&self, step: StepId) -> &[Action] {
        self.replay
            .step(step)
            .map_or(&[], |rec| rec.actions.as_slice())
    }

    /// Step 4 from the journal, step 5 afresh: what the journal moves of a
    /// tree must go where the plan's target is now (a plan changed since
    /// would have step 5 point MDaemon at another folder), and no tree the
    /// plan now keeps on each node may be in it.
    fn check_journal_targets(&self, ctx: &Context, roots: &[StoreRoot]) -> Result<(), Problem> {
        let kept: Vec<WinPath> = ctx
            .plan
            .shared
            .kept_local()
            .into_iter()
            .filter_map(|t| tree_source(ctx, t).map(|(source, _)| source))
            .collect();
        for a in self.journaled_actions(StepId::MailStore) {
            let (Action::MoveFolder { from, to, .. } | Action::CopyFolder { from, to, .. }) = a
            else {
                continue;
            };
            let wrong = roots
                .iter()
                .any(|r| from.win.starts_with(&r.from) && !to.win.starts_with(&r.to));
            let keeps = kept
                .iter()
                .any(|k| from.win.starts_with(k) || k.starts_with(&from.win));
            if wrong || keeps {
                return Err(changed_plan(self, &from.win, &to.win));
            }
        }
        Ok(())
    }

    /// Prepare `step` afresh as if the plan kept `left` on each node, saying
    /// that they wait for the next `apply`. A tree of the mail store itself
    /// cannot wait: holding data, the run is refused.
    fn prepare_without(
        &self,
        ctx: &Context,
        prepared: &mut [StepPlan],
        step: StepId,
        left: &[&StoreRoot],
    ) -> Result<(), Problem> {
        let mut plan: Plan = ctx.plan.clone();
        let mut waiting = Vec::new();
        for r in left {
            if plan.shared.keep_local(r.tree) {
                waiting.push(wait_note(r));
            } else if holds_data(ctx, r) {
                return Err(Problem::refused(format!(
                    "{} in {} holds data the run being finished does not move",
                    r.tree.what(),
                    r.from.to_dir_string()
                ))
                .at(self.journal_path().display().to_string())
                .fix("undo that run (`mdcluster undo`), then apply again; nothing was changed"));
            }
        }
        let sub = Context {
            plan: &plan,
            ..*ctx
        };
        let fresh = steps::prepare(step, &sub, &[])?;
        for sp in prepared.iter_mut() {
            if sp.step == step {
                *sp = fresh.clone();
            }
            if matches!(sp.step, StepId::MailStore | StepId::Directories) {
                sp.notes.extend(waiting.iter().cloned());
            }
        }
        Ok(())
    }

    /// Steps 2-5 done, and MDaemon.ini still names a tree elsewhere than
    /// its target (what an earlier mdcluster did not move, or a folder the
    /// plan kept on each node before): the four afresh. Where one of them
    /// fails a check they stay done, and the preview warns why.
    fn look_again(
        &self,
        ctx: &Context,
        prepared: &mut [StepPlan],
        roots: &[StoreRoot],
    ) -> Result<(), Problem> {
        // A cleanup that stopped part-way is finished first (its deletions
        // are actions of step 4, which a look again would take up).
        if self.cleanup_unfinished() {
            return Ok(());
        }
        let destinations: [(Loc, u64); 0] = [];
        let mut fresh = Vec::new();
        for step in MOVES {
            fresh.push(steps::prepare(step, ctx, &destinations)?);
        }
        let names: Vec<String> = roots
            .iter()
            .map(|r| format!("{} in {}", r.tree.what(), r.from.to_dir_string()))
            .collect();
        let failed: Vec<String> = fresh
            .iter()
            .flat_map(|sp| sp.failed_checks())
            .map(|c| match &c.fix {
                Some(fix) => format!("{} ({fix})", c.detail),
                None => c.detail.clone(),
            })
            .collect();
        for sp in prepared.iter_mut().filter(|p| MOVES.contains(&p.step)) {
            if !failed.is_empty() {
                if sp.step == StepId::MailStore {
                    sp.warnings.push(format!(
                        "MDaemon.ini still names {}, which this run does not move: {}",
                        names.join(", "),
                        failed.join("; ")
                    ));
                }
                continue;
            }
            if let Some(f) = fresh.iter().find(|f| f.step == sp.step) {
                *sp = f.clone();
                sp.notes.push(format!(
                    "done in an earlier run (journal), which left {} where it was: looked at again",
                    names.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// Whether `cleanup` stopped part-way: one of its deletions (actions of
    /// step 4) has no done record.
    fn cleanup_unfinished(&self) -> bool {
        self.replay.step(StepId::MailStore).is_some_and(|rec| {
            rec.actions.iter().enumerate().any(|(i, a)| {
                matches!(a, Action::DeleteSource { .. }) && !rec.done.contains_key(&i)
            })
        })
    }

    /// The journal format of a run of `preview`: raised where it takes up a
    /// data move a finished run did.
    pub(super) fn run_format(&self, preview: &crate::engine::Preview) -> u32 {
        let again = preview.steps.iter().any(|sp| {
            !sp.step.applied_with().is_empty()
                && sp.state == StepStatus::Ready
                && self.replay.finished(sp.step)
        });
        if again {
            super::journal::FORMAT_MOVES_AGAIN
        } else {
            super::journal::FORMAT_RUN
        }
    }
}

/// Refused: the run being finished puts `from` at `to`, where the plan
/// no longer puts it.
fn changed_plan(engine: &Engine, from: &WinPath, to: &WinPath) -> Problem {
    Problem::refused(format!(
        "the run being finished puts {} at {}, which the plan no longer says",
        from.to_dir_string(),
        to.to_dir_string()
    ))
    .at(engine.journal_path().display().to_string())
    .fix(
        "finish that run with the plan it began with (its [shared] targets and keep_local), \
         or undo it; nothing was changed",
    )
}

/// Whether a tree holds anything (a folder that cannot be listed counts as
/// holding data: nothing is assumed away).
fn holds_data(ctx: &Context, root: &StoreRoot) -> bool {
    ctx.resolver
        .locate(&root.from)
        .is_ok_and(|l| !crate::fsops::tree::is_empty_dir(&l.local).unwrap_or(false))
}

fn wait_note(r: &StoreRoot) -> String {
    format!(
        "{} in {} is not part of the run being finished: it stays there for now, and so does \
         its MDaemon.ini value; run apply again afterwards to move it",
        r.tree.what(),
        r.from.to_dir_string()
    )
}
