//! Step 1: the shared path every node will use. Checks only; changes nothing
//! (the write probe removes what it creates).

use super::{Check, Context, StepId, StepPlan, StepStatus};
use crate::fsops::probe::write_probe;
use crate::location::Loc;
use crate::problem::Problem;
use crate::text::size;
use crate::winpath::WinPath;
use std::path::{Path, PathBuf};

/// Extra room asked for beyond the data itself: 5 % plus 16 MiB.
pub(super) fn margin(bytes: u64) -> u64 {
    bytes / 20 + 16 * 1024 * 1024
}

pub(super) fn prepare(ctx: &Context, destinations: &[(Loc, u64)]) -> Result<StepPlan, Problem> {
    let shared = &ctx.plan.shared;
    let mut sp = StepPlan::new(StepId::SharedPath, StepStatus::Ready);
    let loc = ctx.resolver.locate(&shared.path)?;
    sp.fact(
        "shared path",
        format!("{} ({})", shared.path, loc.local.display()),
    );
    let named = shared.named();
    for (what, target) in named.iter().skip(1) {
        sp.fact(what, target.to_string());
    }
    for tree in shared.kept_local() {
        sp.fact(tree.label(), "kept on each node (keep_local)");
    }
    path_checks(&mut sp, &named);

    match std::fs::metadata(&loc.local) {
        Err(e) => {
            sp.checks.push(Check::fail(
                "exists",
                format!("{} ({}): {}", shared.path, loc.local.display(), crate::problem::describe_io(&e)),
                "create the shared folder on the file server and share it, or correct [shared] path in the plan",
            ));
            return Ok(sp);
        }
        Ok(m) if !m.is_dir() => {
            sp.checks.push(Check::fail(
                "is a folder",
                format!("{} is not a folder", loc.local.display()),
                "[shared] path must name a folder",
            ));
            return Ok(sp);
        }
        Ok(_) => sp
            .checks
            .push(Check::pass("exists", "exists and is a folder")),
    }
    if let Some(check) = state_folder_check(ctx) {
        sp.checks.push(check);
    }

    reach_checks(ctx, &mut sp, &named);

    metadata_notes(&mut sp, &loc.local);
    space_checks(ctx, &mut sp, &named, destinations);
    Ok(sp)
}

/// The shared folders by name.
type Named<'a> = [(&'static str, &'a WinPath)];

/// Each target is a UNC path that fits MAX_PATH.
fn path_checks(sp: &mut StepPlan, named: &Named) {
    let drives: Vec<String> = named
        .iter()
        .filter(|(_, p)| !p.is_unc())
        .map(|(n, p)| format!("{n} {p}"))
        .collect();
    sp.checks.push(if drives.is_empty() {
        Check::pass("UNC path", format!("{} is a UNC path", named[0].1))
    } else {
        Check::fail(
            "UNC path",
            format!("{} {} a drive path", drives.join(", "), if drives.len() == 1 { "is" } else { "are" }),
            "use the UNC path of the share (\\\\server\\share\\folder): the MDaemon service cannot see drive letters \
             mapped by a user, and the other nodes cannot reach a local drive",
        )
    });
    let too_long: Vec<String> = named
        .iter()
        .filter_map(|(n, p)| p.check_length(0).err().map(|e| format!("{n}: {e}")))
        .collect();
    if !too_long.is_empty() {
        sp.checks.push(Check::fail(
            "path length",
            too_long.join("; "),
            "choose a shorter shared path",
        ));
    }
}

/// Every target, not only the shared path, can be reached and written (each
/// may lie on a share of its own): a probe file where each goes.
fn reach_checks(ctx: &Context, sp: &mut StepPlan, named: &Named) {
    let mut reached: Vec<(Vec<&str>, PathBuf)> = Vec::new();
    let mut unreachable = Vec::new();
    for (name, win) in named {
        match nearest_existing(ctx, win) {
            Some(dir) => match reached.iter_mut().find(|(_, d)| *d == dir) {
                Some((names, _)) => names.push(name),
                None => reached.push((vec![name], dir)),
            },
            None => unreachable.push(format!("{name} {win}")),
        }
    }
    if !unreachable.is_empty() {
        sp.checks.push(Check::fail(
            "targets reachable",
            format!(
                "neither these folders nor a folder above them can be reached: {}",
                unreachable.join(", ")
            ),
            "create the share on the file server (or mount it), or correct [shared] in the plan",
        ));
    }
    let mut unwritable = Vec::new();
    for (names, dir) in &reached {
        if let Err(e) = write_probe(dir) {
            unwritable.push(format!("{} ({}): {e}", names.join(", "), dir.display()));
        }
    }
    sp.checks.push(if unwritable.is_empty() {
        Check::pass(
            "writable",
            "created, wrote, renamed and deleted a probe file where each target goes",
        )
    } else {
        Check::fail(
            "writable",
            format!("the write probe failed for {}", unwritable.join("; ")),
            "give the account mdcluster (and the MDaemon service) runs as write access to the share",
        )
    });
}

/// Not a refusal: what the copies will lack, said before the move.
fn metadata_notes(sp: &mut StepPlan, share: &Path) {
    if let Ok(kept) = crate::fsops::probe::metadata_probe(share) {
        if !kept.times {
            sp.notes.push(
                "the share does not keep modification times: copies get the time they were \
                 written, so each is compared with its source by content before the source is \
                 deleted (slower); nothing is lost"
                    .into(),
            );
        } else if !kept.subsecond_times {
            sp.notes.push(
                "the share keeps modification times only to the second: a copy whose source has \
                 a finer time is compared with it by content before the source is deleted \
                 (slower); nothing is lost"
                    .into(),
            );
        }
        if !kept.permissions {
            sp.notes.push(
                "the share does not keep permission bits (the server decides them): copies get \
                 the share's own"
                    .into(),
            );
        }
    }
}

/// Room on each file system the data goes to, for all the data going there.
fn space_checks(ctx: &Context, sp: &mut StepPlan, named: &Named, destinations: &[(Loc, u64)]) {
    let mut volumes: Vec<(String, PathBuf, u64, Vec<&str>)> = Vec::new();
    let mut add = |dir: PathBuf, bytes: u64, name: Option<&'static str>, win: &WinPath| {
        let key = volume_key(&dir, win);
        match volumes.iter_mut().find(|v| v.0 == key) {
            Some(v) => {
                v.2 += bytes;
                v.3.extend(name);
            }
            None => volumes.push((key, dir, bytes, name.into_iter().collect())),
        }
    };
    for (name, win) in named {
        if let Some(dir) = nearest_existing(ctx, win) {
            add(dir, 0, Some(name), win);
        }
    }
    for (to, bytes) in destinations {
        if let Some(dir) = nearest_existing(ctx, &to.win) {
            add(dir, *bytes, None, &to.win);
        }
    }
    let several = volumes.len() > 1;
    for (_, dir, bytes, names) in volumes {
        // Where the targets lie on several file systems, each check says which.
        let on = several.then(|| format!("{} ({}): ", names.join(", "), dir.display()));
        sp.checks
            .push(space_check(&dir, bytes, on.as_deref().unwrap_or_default()));
    }
}

/// Whether the file system of `dir` has room for `bytes` plus margin.
fn space_check(dir: &Path, bytes: u64, on: &str) -> Check {
    let needed = bytes + margin(bytes);
    match fs4::available_space(dir) {
        // Some mounts (a FUSE SMB client such as smbnetfs) report no sizes at
        // all: zero blocks in total. The space cannot be checked there; a copy
        // that runs out of it stops with exit 4 and deletes nothing.
        Ok(0) if fs4::total_space(dir).is_ok_and(|t| t == 0) => Check::pass(
            "free space",
            format!(
                "{on}not checked: the share reports no sizes (0 bytes in total); needs {} plus margin",
                size(bytes)
            ),
        ),
        Ok(free) if free >= needed => Check::pass(
            "free space",
            format!("{on}{} free; needs {} plus margin", size(free), size(bytes)),
        ),
        Ok(free) => Check::fail(
            "free space",
            format!(
                "{on}{} free, but {} are needed ({} of data plus margin)",
                size(free),
                size(needed),
                size(bytes)
            ),
            "free space on the share or choose a larger one",
        ),
        Err(e) => Check::fail(
            "free space",
            format!("{on}could not read the free space: {e}"),
            "check that the share is mounted and reachable",
        ),
    }
}

/// The nearest folder at or above `win` that exists on this machine.
fn nearest_existing(ctx: &Context, win: &WinPath) -> Option<PathBuf> {
    let mut cur = Some(win.clone());
    while let Some(w) = cur {
        let loc = ctx.resolver.locate(&w).ok()?;
        if loc.local.is_dir() {
            return Some(loc.local);
        }
        cur = w.parent();
    }
    None
}

/// Which file system a folder is on: its device where the platform says,
/// else the share or drive of its Windows path.
fn volume_key(dir: &Path, win: &WinPath) -> String {
    match crate::fsops::identity::device(dir) {
        Some(dev) => format!("device {dev}"),
        None => crate::winpath::fold(&win.prefix().to_string()),
    }
}

/// mdcluster's state folder (journal, backups of MDaemon.ini with its
/// licence key) must be a folder of this account's, not a link to elsewhere.
fn state_folder_check(ctx: &Context) -> Option<Check> {
    let dir = ctx
        .install
        .root
        .local
        .join(crate::fsops::state_dir::STATE_DIR);
    crate::fsops::state_dir::state_folder_problem(&dir).map(|why| {
        Check::fail(
            "state folder",
            format!("mdcluster's state folder {}: {why}", dir.display()),
            "remove or rename it (mdcluster creates its own), then rerun",
        )
    })
}
