//! Steps that put a `[Directories]` folder on the share: LockFiles (moved) and
//! PEM (copied; the manual keeps the original).

use super::{Action, Check, Context, StepId, StepPlan};
use crate::fsops;
use crate::fsops::tree::{self, TreeSummary};
use crate::location::Loc;
use crate::problem::{Exit, Problem};
use crate::text::size;
use crate::winpath::WinPath;
use std::ops::ControlFlow;

/// Which INI key and which plan target a step relocates, and how.
struct Relocation<'a> {
    key: &'a str,
    target: &'a WinPath,
    copy: bool,
}

fn relocation<'a>(ctx: &'a Context, step: StepId) -> Relocation<'a> {
    match step {
        StepId::Pem => Relocation {
            key: &ctx.profile.ini.pem_key,
            target: &ctx.plan.shared.pem,
            copy: true,
        },
        _ => Relocation {
            key: &ctx.profile.ini.lockfiles_key,
            target: &ctx.plan.shared.lockfiles,
            copy: false,
        },
    }
}

pub(super) fn prepare(ctx: &Context, step: StepId) -> Result<StepPlan, Problem> {
    let r = relocation(ctx, step);
    let section = &*ctx.profile.ini.directories_section;
    let value = ctx.install.required_folder(r.key, section)?;
    let mut sp = StepPlan::new(step, super::StepStatus::NothingToDo);
    sp.fact(
        "MDaemon.ini",
        format!(
            "[{section}] {}={} (line {})",
            value.key, value.raw, value.line
        ),
    );

    let source = ctx.resolver.locate(&value.path)?;
    let target = ctx.resolver.locate(r.target)?;
    sp.fact(
        "now",
        format!(
            "{} ({})",
            source.win.to_dir_string(),
            source.local.display()
        ),
    );
    sp.fact(
        "target",
        format!(
            "{} ({})",
            target.win.to_dir_string(),
            target.local.display()
        ),
    );

    if value.path == *r.target {
        sp.notes
            .push(format!("{} already points at {}", r.key, r.target));
        return Ok(sp);
    }
    if r.target.starts_with(&value.path) {
        sp.checks.push(Check::fail(
            "target outside the folder",
            format!(
                "the target {} is inside the folder it would receive ({})",
                r.target, value.path
            ),
            "choose a target on the share that is not inside the current folder",
        ));
        return Ok(sp);
    }

    let ControlFlow::Continue(summary) = scan_source(&mut sp, &r, &source, section)? else {
        return Ok(sp);
    };
    let ControlFlow::Continue(target_exists) =
        target_state(&mut sp, &r, &source, &target, summary.as_ref())?
    else {
        return Ok(sp);
    };

    // Lock files are live while MDaemon runs: they move only when it is stopped.
    if let Some(check) = super::service_check(ctx, !r.copy && summary.is_some()) {
        let failed = !check.ok;
        sp.checks.push(check);
        if failed {
            return Ok(sp);
        }
    }
    let mut actions = missing_parents(ctx, &target)?;
    actions.push(match (summary, r.copy) {
        (None, _) if !target_exists => Action::CreateFolder {
            folder: target.clone(),
        },
        (None, _) => return Ok(sp.with_actions(actions)),
        (Some(s), false) => Action::MoveFolder {
            from: source,
            to: target,
            files: s.files,
            bytes: s.bytes,
            target_existed: target_exists,
        },
        (Some(s), true) => Action::CopyFolder {
            from: source,
            to: target,
            files: s.files,
            bytes: s.bytes,
            target_existed: target_exists,
        },
    });
    Ok(sp.with_actions(actions))
}

/// What the folder to relocate holds: None when it does not exist (the
/// target is created); Break when a check failed.
fn scan_source(
    sp: &mut StepPlan,
    r: &Relocation,
    source: &Loc,
    section: &str,
) -> Result<ControlFlow<(), Option<TreeSummary>>, Problem> {
    let meta = std::fs::symlink_metadata(&source.local);
    let s = match &meta {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            sp.notes.push(format!(
                "the {} folder {} does not exist, so there is nothing to {}; the target folder will be created",
                r.key,
                source.win.to_dir_string(),
                if r.copy { "copy" } else { "move" }
            ));
            return Ok(ControlFlow::Continue(None));
        }
        Err(e) => {
            return Err(
                Problem::io(Exit::Refused, "read the folder", &source.local, e)
                    .fix("make sure this account may read the MDaemon folders, then rerun"),
            );
        }
        Ok(m) if !m.is_dir() => {
            sp.checks.push(Check::fail(
                "source is a folder",
                format!("{} is not a folder", source.local.display()),
                format!(
                    "[{section}] {} must name a folder; correct it in MDaemon's settings",
                    r.key
                ),
            ));
            return Ok(ControlFlow::Break(()));
        }
        Ok(_) => tree::scan(&source.local).map_err(|e| fs_refusal(e, "scan the folder"))?,
    };
    if !s.unusual.is_empty() {
        sp.checks.push(Check::fail(
            "no links or special files",
            format!(
                "{} holds {} link(s) or special file(s): {}",
                source.local.display(),
                s.unusual.len(),
                s.unusual.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
            ),
            "mdcluster never follows or copies links; replace them with the real files or remove them, then rerun",
        ));
        return Ok(ControlFlow::Break(()));
    }
    sp.fact(
        "content",
        format!(
            "{} files, {} folders, {}",
            s.files,
            s.folders,
            size(s.bytes)
        ),
    );
    Ok(ControlFlow::Continue(Some(s)))
}

/// Whether the target exists, and if so that it is free: a folder holding
/// nothing but an identical copy of the source. Break when a check failed,
/// or when a copy is already there (nothing to do).
fn target_state(
    sp: &mut StepPlan,
    r: &Relocation,
    source: &Loc,
    target: &Loc,
    summary: Option<&TreeSummary>,
) -> Result<ControlFlow<(), bool>, Problem> {
    if !fsops::exists(&target.local) {
        return Ok(ControlFlow::Continue(false));
    }
    if !target.local.is_dir() {
        sp.checks.push(Check::fail(
            "target is free",
            format!("{} exists and is not a folder", target.local.display()),
            "remove or rename it, or choose another target in the plan",
        ));
        return Ok(ControlFlow::Break(()));
    }
    let foreign = foreign_content(&source.local, &target.local)
        .map_err(|e| fs_refusal(e, "compare the target with the source"))?;
    if let Some(rel) = foreign {
        sp.checks.push(Check::fail(
            "target is free",
            format!(
                "the target {} already holds different data ({} is not an identical copy of the source)",
                target.win.to_dir_string(),
                rel.display()
            ),
            "move that data away or choose another target folder in the plan; mdcluster never overwrites data it did not put there",
        ));
        return Ok(ControlFlow::Break(()));
    }
    if let (true, Some(s)) = (r.copy, summary) {
        let t = tree::scan(&target.local).map_err(|e| fs_refusal(e, "scan the target"))?;
        if (s.files, s.folders) == (t.files, t.folders) {
            sp.notes.push(format!(
                "an identical copy is already at {}",
                target.win.to_dir_string()
            ));
            return Ok(ControlFlow::Break(()));
        }
    }
    Ok(ControlFlow::Continue(true))
}

/// CreateFolder actions for the folders above `target` that do not exist
/// yet, outermost first: up to the shared path, or (a target on a share of
/// its own) up to that share's root. A share itself is never created.
pub(super) fn missing_parents(ctx: &Context, target: &Loc) -> Result<Vec<Action>, Problem> {
    let share = &ctx.plan.shared.path;
    let mut missing = Vec::new();
    let mut cur = target.win.parent();
    while let Some(p) = cur {
        if p == *share || p.components().is_empty() {
            break;
        }
        let loc = ctx.resolver.locate(&p)?;
        if fsops::exists(&loc.local) {
            break;
        }
        cur = p.parent();
        missing.push(Action::CreateFolder { folder: loc });
    }
    missing.reverse();
    Ok(missing)
}

/// What in `target` is not an identical copy of `source` ([`tree::foreign_content`]).
/// Two names of one folder are no finding here: the layout check refuses
/// them, naming both ([`super::layout`]).
pub(super) fn foreign_content(
    source: &std::path::Path,
    target: &std::path::Path,
) -> Result<Option<std::path::PathBuf>, fsops::FsError> {
    match tree::foreign_content(source, target) {
        Err(fsops::FsError::Alias { .. }) => Ok(None),
        other => other,
    }
}

fn fs_refusal(e: fsops::FsError, doing: &str) -> Problem {
    Problem::refused(format!("could not {doing}: {e}"))
        .at(e.path().display().to_string())
        .fix("make sure this account may read the folder, then rerun")
}
