//! Step 5: rewrite `[Directories]` in MDaemon.ini, after the data has moved.
//! LockFiles and PEM get their shared folders; every other value that points
//! into a relocated folder (LockFiles, PEM, the trees of the mail store:
//! mailboxes, public folders, gateways, digests, archive) is rebased the same
//! way, and so is the "New Accounts" mail folder template where the profile
//! locates it. Only those values' bytes change; settings elsewhere that still
//! name a moved folder are warned of ([`super::stale_references`]).

use super::{Action, Check, Context, IniEdit, StepId, StepPlan, StepStatus};
use crate::install::content_hash;
use crate::problem::Problem;
use crate::winpath::WinPath;

pub(super) fn prepare(ctx: &Context) -> Result<StepPlan, Problem> {
    let section = &*ctx.profile.ini.directories_section;
    let install = ctx.install;
    let mut sp = StepPlan::new(StepId::Directories, StepStatus::NothingToDo);
    sp.fact(
        "MDaemon.ini",
        format!("{} ({})", install.ini.win, install.ini.local.display()),
    );
    sp.fact(
        &format!("[{section}]"),
        format!("{} values", install.folders.len()),
    );

    let moves = folder_moves(ctx)?;
    let mut edits = value_edits(ctx, &moves, &mut sp);
    edits.extend(template_edit(ctx, &moves, &mut sp));
    if edits.is_empty() {
        sp.notes
            .push("MDaemon.ini already points at the shared folders".into());
        return Ok(sp);
    }
    let after = match crate::ini::apply_edits(&install.ini_bytes, &edits) {
        Ok(bytes) => bytes,
        Err(e) => {
            sp.checks.push(Check::fail(
                "encodable",
                format!("a new value cannot be written in MDaemon.ini's encoding: {e}"),
                "choose a shared path whose name uses only characters of the Windows-1252 code page",
            ));
            return Ok(sp);
        }
    };
    super::stale_references::warn(ctx, &moves, &after, &mut sp);
    if let Err(why) = crate::fsops::atomic::check_replaceable(&install.ini.local) {
        sp.checks.push(Check::fail(
            "MDaemon.ini can be replaced",
            why,
            "make MDaemon.ini a plain file this account may write (clear its read-only or immutable flag), \
             in a folder where it may create files, then rerun",
        ));
        return Ok(sp);
    }
    let mut actions = vec![Action::EditIni {
        file: install.ini.clone(),
        before: install.ini_hash(),
        after: content_hash(&after),
        edits,
    }];
    let sem_dir = ctx.plan.install_root.join(&ctx.profile.semaphores.dir);
    let sem = sem_dir.and_then(|d| d.join(&ctx.profile.semaphores.restart));
    if ctx.options.restart {
        if let Ok(sem) = sem {
            actions.push(Action::DropSemaphore {
                file: ctx.resolver.locate(&sem)?,
            });
        }
    } else {
        sp.next.push(format!(
            "MDaemon reads these folders when it starts: restart MDaemon afterwards (or let mdcluster drop {}: --restart, or y in the wizard)",
            *ctx.profile.semaphores.restart
        ));
    }
    Ok(sp.with_actions(actions))
}

/// Folder moves this run makes: (from, to), the most specific first, so a
/// value inside LockFiles inside Users follows LockFiles.
fn folder_moves(ctx: &Context) -> Result<Vec<(WinPath, WinPath)>, Problem> {
    let section = &*ctx.profile.ini.directories_section;
    let install = ctx.install;
    let mut moves: Vec<(WinPath, WinPath)> = Vec::new();
    for (key, target) in [
        (&*ctx.profile.ini.lockfiles_key, &ctx.plan.shared.lockfiles),
        (&*ctx.profile.ini.pem_key, &ctx.plan.shared.pem),
    ] {
        let value = install.required_folder(key, section)?;
        if value.path != *target {
            moves.push((value.path.clone(), target.clone()));
        }
    }
    moves.extend(super::mail_store::store_relocations(ctx));
    moves.sort_by_key(|(from, _)| std::cmp::Reverse(from.components().len()));
    Ok(moves)
}

/// Every `[Directories]` value inside a folder that moves, rebased.
fn value_edits(ctx: &Context, moves: &[(WinPath, WinPath)], sp: &mut StepPlan) -> Vec<IniEdit> {
    let section = &*ctx.profile.ini.directories_section;
    let install = ctx.install;
    let mut edits = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for value in &install.folders {
        // Windows reads the first of duplicate keys; later ones are dead text.
        if !seen.insert(value.key.to_ascii_lowercase()) {
            continue;
        }
        let new = moves
            .iter()
            .find_map(|(from, to)| value.path.rebase(from, to));
        let Some(new) = new else { continue };
        if new == value.path {
            continue;
        }
        if let Err(e) = new.check_length(0) {
            sp.checks.push(Check::fail(
                "path length",
                format!("{} would become too long: {e}", value.key),
                "choose a shorter shared path",
            ));
            continue;
        }
        edits.push(IniEdit {
            section: section.to_string(),
            key: value.key.clone(),
            old: Some(value.raw.clone()),
            new: value.styled(&new),
        });
    }
    edits
}

/// The "New Accounts" template: a path with placeholders ($DOMAIN$ ...),
/// rebased like the values.
fn template_edit(
    ctx: &Context,
    moves: &[(WinPath, WinPath)],
    sp: &mut StepPlan,
) -> Option<IniEdit> {
    let (tsection, tkey) = (
        &*ctx.profile.ini.new_accounts_section,
        &*ctx.profile.ini.new_accounts_maildir_key,
    );
    let Some(raw) = ctx.install.ini_doc.get_str(tsection, tkey) else {
        sp.next.push(format!(
            "MDaemon.ini has no [{tsection}] {tkey} (where the profile looks for the New Accounts \
             template's mail folder): check in MDaemon (Accounts > New Accounts) that new accounts \
             get their mail folder below {}",
            ctx.plan.shared.mailboxes.to_dir_string()
        ));
        return None;
    };
    let Ok(old) = WinPath::parse(raw.trim()) else {
        sp.next.push(format!(
            "[{tsection}] {tkey} is not a plain folder path; check the New Accounts template by hand"
        ));
        return None;
    };
    let new = moves.iter().find_map(|(from, to)| old.rebase(from, to))?;
    let text = if raw.trim_end().ends_with('\\') {
        new.to_dir_string()
    } else {
        new.to_string()
    };
    Some(IniEdit {
        section: tsection.to_string(),
        key: tkey.to_string(),
        old: Some(raw),
        new: text,
    })
}
