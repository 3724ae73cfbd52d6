//! Step 1: the shared path every node will use. Checks only; changes nothing
//! (the write probe removes what it creates).

use super::{Check, Context, StepId, StepPlan, StepState};
use crate::fsops::probe::write_probe;
use crate::problem::Problem;
use crate::report::size;

/// Extra room asked for beyond the data itself: 5 % plus 16 MiB.
pub(super) fn margin(bytes: u64) -> u64 {
    bytes / 20 + 16 * 1024 * 1024
}

pub(super) fn prepare(ctx: &Context, bytes_to_share: u64) -> Result<StepPlan, Problem> {
    let shared = &ctx.plan.shared;
    let mut sp = StepPlan::new(StepId::SharedPath, StepState::Ready);
    let loc = ctx.resolver.locate(&shared.path)?;
    sp.fact(
        "shared path",
        format!("{} ({})", shared.path, loc.local.display()),
    );
    sp.fact("mailboxes", shared.mailboxes.to_string());
    sp.fact("public folders", shared.public_folders.to_string());
    sp.fact("lock files", shared.lockfiles.to_string());
    sp.fact("PEM", shared.pem.to_string());

    let named = [
        ("shared path", &shared.path),
        ("mailboxes", &shared.mailboxes),
        ("public folders", &shared.public_folders),
        ("lock files", &shared.lockfiles),
        ("PEM", &shared.pem),
    ];
    let drives: Vec<String> = named
        .iter()
        .filter(|(_, p)| !p.is_unc())
        .map(|(n, p)| format!("{n} {p}"))
        .collect();
    sp.checks.push(if drives.is_empty() {
        Check::pass("UNC path", format!("{} is a UNC path", shared.path))
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

    sp.checks.push(match write_probe(&loc.local) {
        Ok(()) => Check::pass("writable", "created, wrote, renamed and deleted a probe file"),
        Err(e) => Check::fail(
            "writable",
            format!("the write probe failed: {e}"),
            "give the account mdcluster (and the MDaemon service) runs as write access to the share",
        ),
    });

    // Not a refusal: what the copies will lack, said before the move.
    if let Ok(kept) = crate::fsops::probe::metadata_probe(&loc.local) {
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

    let needed = bytes_to_share + margin(bytes_to_share);
    sp.checks.push(match fs4::available_space(&loc.local) {
        // Some mounts (a FUSE SMB client such as smbnetfs) report no sizes at
        // all: zero blocks in total. The space cannot be checked there; a copy
        // that runs out of it stops with exit 4 and deletes nothing.
        Ok(0) if fs4::total_space(&loc.local).is_ok_and(|t| t == 0) => Check::pass(
            "free space",
            format!(
                "not checked: the share reports no sizes (0 bytes in total); needs {} plus margin",
                size(bytes_to_share)
            ),
        ),
        Ok(free) if free >= needed => Check::pass(
            "free space",
            format!(
                "{} free; needs {} plus margin",
                size(free),
                size(bytes_to_share)
            ),
        ),
        Ok(free) => Check::fail(
            "free space",
            format!(
                "{} free, but {} are needed ({} of data plus margin)",
                size(free),
                size(needed),
                size(bytes_to_share)
            ),
            "free space on the share or choose a larger one",
        ),
        Err(e) => Check::fail(
            "free space",
            format!("could not read the free space: {e}"),
            "check that the share is mounted and reachable",
        ),
    });

    // The plan already refuses a shared path inside the installation by name;
    // this catches the same through mounts, links or aliases on disk.
    let share_real = std::fs::canonicalize(&loc.local).unwrap_or(loc.local.clone());
    let mut inside = Vec::new();
    if let Ok(root_real) = std::fs::canonicalize(&ctx.install.root.local) {
        if share_real.starts_with(&root_real) {
            inside.push(format!("the installation {}", ctx.plan.install_root));
        }
    }
    for key in [
        &ctx.profile.ini.lockfiles_key.value,
        &ctx.profile.ini.pem_key.value,
    ] {
        if let Some(f) = ctx.install.folder(key) {
            if let Ok(l) = ctx.resolver.locate(&f.path) {
                if let Ok(real) = std::fs::canonicalize(&l.local) {
                    if share_real.starts_with(&real) {
                        inside.push(format!("the {key} folder {}", f.path));
                    }
                }
            }
        }
    }
    sp.checks.push(if inside.is_empty() {
        Check::pass(
            "outside the installation",
            "not inside the installation or a folder being moved",
        )
    } else {
        Check::fail(
            "outside the installation",
            format!("on disk the shared path is inside {}", inside.join(" and ")),
            "use a share on another machine (or at least outside the MDaemon folder)",
        )
    });
    Ok(sp)
}
