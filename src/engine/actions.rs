//! Carrying out and undoing [`Action`]s. Every function here is idempotent:
//! called again after a crash at any point, it finishes the job or finds it done.

use super::evidence::Evidence;
use crate::cluster::manifest::{self, ManifestLock};
use crate::fsops::{self, atomic, mover, FsError};
use crate::install::{content_hash, ContentHash};
use crate::location::Loc;
use crate::problem::{Exit, Problem};
use crate::profile::Profile;
use crate::service::{ServiceControl, ServiceOpener};
use crate::steps::{Action, FileWrite};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What actions need besides themselves.
pub struct ActionEnv<'a> {
    /// Folder for backups of edited files.
    pub backups: &'a Path,
    /// Where the action sits (step id and index), used to name its backup.
    pub slot: String,
    pub allow_rename: bool,
    /// The installation on this machine (for the service).
    pub root: &'a Path,
    pub profile: &'a Profile,
    /// How the service is reached.
    pub services: &'a ServiceOpener,
    /// Tells the administrator what a long wait is waiting for.
    pub note: &'a dyn Fn(String),
    /// The time written down (a node retired by an undo).
    pub clock: &'a crate::platform::Clock,
}

impl ActionEnv<'_> {
    fn mover(&self) -> mover::Options {
        mover::Options {
            allow_rename: self.allow_rename,
            ..mover::Options::default()
        }
    }

    fn backup_path(&self, file: &Path) -> PathBuf {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".into());
        self.backups.join(format!("{}-{name}", self.slot))
    }

    /// Where a cleanup action lists what it deleted.
    fn deletion_log(&self) -> PathBuf {
        self.backups.join(format!("{}-deleted.jsonl", self.slot))
    }

    fn service(&self) -> Box<dyn ServiceControl> {
        (self.services)(self.root, self.profile)
    }

    fn wait(&self, running: bool, timeout_secs: u64) -> Result<(), Problem> {
        let service = self.service();
        let what = if running { "start" } else { "stop" };
        service.wait(running, Duration::from_secs(timeout_secs), &mut |waited| {
            (self.note)(format!(
                "waiting for {} to {what}: {} s",
                service.describe(),
                waited.as_secs()
            ))
        })
    }
}

pub(crate) fn fs_problem(e: FsError) -> Problem {
    let exit = match e {
        FsError::Verify { .. } => Exit::Verification,
        _ => Exit::Failed,
    };
    let fix = match &e {
        FsError::Conflict { .. } => "something else wrote to the target meanwhile; move that file away and rerun to resume",
        FsError::Verify { .. } => "the copy was removed again; check the share's health (disk, network), then rerun to resume",
        FsError::Special { .. } => "remove the link or special file (mdcluster never follows them), then rerun to resume",
        FsError::Alias { .. } => "the source and its copy are one folder under two names (a share, [[mounts]] entry, link or junction), so neither was deleted: make the target a folder of its own, then rerun, or run `mdcluster undo`",
        FsError::Io { kind, .. } if *kind == std::io::ErrorKind::PermissionDenied => {
            "give this account access to that file, then rerun to resume (or run `mdcluster undo`)"
        }
        FsError::Io { .. } => "fix the cause (free space, share reachable, permissions), then rerun to resume, or run `mdcluster undo`",
    };
    Problem::new(exit, e.to_string())
        .at(e.path().display().to_string())
        .fix(fix)
}

/// Carry out an action; returns its evidence for the journal.
pub(crate) fn execute(
    action: &Action,
    env: &ActionEnv,
    progress: &mut dyn FnMut(&mover::Progress),
) -> Result<Evidence, Problem> {
    match action {
        Action::CreateFolder { folder } => match std::fs::create_dir(&folder.local) {
            Ok(()) => Ok(Evidence::FolderCreated { created: true }),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && folder.local.is_dir() => {
                Ok(Evidence::FolderCreated { created: false })
            }
            Err(e) => Err(fs_problem(FsError::io("create folder", &folder.local, e))),
        },
        Action::MoveFolder {
            from,
            to,
            files,
            bytes,
            ..
        } => {
            let out = mover::move_tree(
                &from.local,
                &to.local,
                &env.mover(),
                (*files, *bytes),
                progress,
            )
            .map_err(fs_problem)?;
            Ok(Evidence::TreeCopied(out))
        }
        Action::CopyFolder {
            from,
            to,
            files,
            bytes,
            ..
        } => {
            let out = mover::copy_tree(
                &from.local,
                &to.local,
                &env.mover(),
                (*files, *bytes),
                progress,
            )
            .map_err(fs_problem)?;
            Ok(Evidence::TreeCopied(out))
        }
        Action::EditIni {
            file,
            before,
            after,
            edits,
        } => edit_file(file, before, after, env, |bytes| {
            crate::ini::apply_edits(bytes, edits).map_err(|e| e.to_string())
        }),
        Action::EditUserlist {
            file,
            before,
            after,
            edits,
        } => edit_file(file, before, after, env, |bytes| {
            crate::userlist::apply_edits(
                bytes,
                edits,
                crate::userlist::Layout::from_profile(env.profile),
            )
        }),
        Action::DropSemaphore { file } => {
            atomic::write_atomic(&file.local, b"", None).map_err(fs_problem)?;
            Ok(Evidence::Nothing {})
        }
        Action::StopService { timeout_secs } => stop_service(env, *timeout_secs),
        Action::StartService { timeout_secs } => start_service(env, *timeout_secs),
        Action::DeleteSource { source, copy } => {
            std::fs::create_dir_all(env.backups)
                .map_err(|e| fs_problem(FsError::io("create folder", env.backups, e)))?;
            let kept =
                fsops::cleanup::delete_identical(&source.local, &copy.local, &env.deletion_log())
                    .map_err(fs_problem)?;
            Ok(Evidence::Kept { kept })
        }
        Action::UpdateManifest {
            share,
            before,
            after,
            ..
        } => write_manifest(share, before.as_deref(), after),
        Action::WriteFiles { dir, files, .. } => write_files(dir, files, env),
    }
}

/// Stop MDaemon (unless it is stopped) and wait until it has.
fn stop_service(env: &ActionEnv, timeout_secs: u64) -> Result<Evidence, Problem> {
    let service = env.service();
    if service.state() == crate::service::State::Running {
        service.request_stop()?;
    }
    env.wait(false, timeout_secs)?;
    Ok(Evidence::ServiceStopped { stopped: true })
}

/// Start MDaemon (unless it runs) and wait until it does.
fn start_service(env: &ActionEnv, timeout_secs: u64) -> Result<Evidence, Problem> {
    let service = env.service();
    if service.state() != crate::service::State::Running {
        service.request_start()?;
    }
    env.wait(true, timeout_secs)?;
    Ok(Evidence::ServiceStarted { started: true })
}

/// Write the cluster manifest, under its lock: from `before` (as previewed;
/// None: none yet) to `after`. Found already written after a crash.
fn write_manifest(share: &Loc, before: Option<&str>, after: &str) -> Result<Evidence, Problem> {
    let _lock = ManifestLock::acquire(&share.local, "apply")?;
    let path = manifest::dir_of(&share.local).join(manifest::FILE);
    let current = std::fs::read_to_string(&path).ok();
    if current.as_deref() == Some(after) {
        return Ok(Evidence::ManifestWritten {
            written: None,
            already: true,
        });
    }
    if current.as_deref() != before {
        return Err(Problem::new(
            Exit::Stale,
            "the cluster manifest on the share changed after the preview",
        )
        .at(path.display().to_string())
        .fix("another run changed it; rerun to get a fresh preview"));
    }
    // What a newer mdcluster wrote there is never dropped.
    manifest::check_file_replaceable(&path)?;
    atomic::write_atomic(&path, after.as_bytes(), None).map_err(fs_problem)?;
    Ok(Evidence::ManifestWritten {
        written: Some(path),
        already: false,
    })
}

/// Undo an action that was started, and `finished` (its done record is in
/// the journal) or not. Returns evidence; files that were kept because they
/// are not ours to delete are listed in it.
pub fn undo(action: &Action, env: &ActionEnv, finished: bool) -> Result<Evidence, Problem> {
    match action {
        Action::CreateFolder { folder } => {
            if fsops::exists(&folder.local) {
                if fsops::tree::is_empty_dir(&folder.local).map_err(fs_problem)? {
                    std::fs::remove_dir(&folder.local)
                        .map_err(|e| fs_problem(FsError::io("remove folder", &folder.local, e)))?;
                } else {
                    return Ok(Evidence::Kept {
                        kept: vec![folder.local.clone()],
                    });
                }
            }
            Ok(Evidence::Kept { kept: Vec::new() })
        }
        Action::MoveFolder {
            from,
            to,
            files,
            bytes,
            target_existed,
        } => {
            mover::move_tree(
                &to.local,
                &from.local,
                &env.mover(),
                (*files, *bytes),
                &mut |_| {},
            )
            .map_err(fs_problem)?;
            if *target_existed && !fsops::exists(&to.local) {
                std::fs::create_dir(&to.local)
                    .map_err(|e| fs_problem(FsError::io("recreate folder", &to.local, e)))?;
            }
            Ok(Evidence::Nothing {})
        }
        Action::CopyFolder {
            from,
            to,
            target_existed,
            ..
        } => {
            let kept =
                mover::remove_copy(&from.local, &to.local, *target_existed).map_err(fs_problem)?;
            Ok(Evidence::Kept { kept })
        }
        Action::EditIni {
            file,
            before,
            after,
            ..
        }
        | Action::EditUserlist {
            file,
            before,
            after,
            ..
        } => restore_file(file, before, after, env, finished),
        Action::DropSemaphore { file } => {
            match std::fs::remove_file(&file.local) {
                Ok(()) => Ok(Evidence::SemaphoreRemoved { removed: true }),
                // MDaemon already acted on it and deleted it: nothing to take back.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    Ok(Evidence::SemaphoreRemoved { removed: false })
                }
                Err(e) => Err(fs_problem(FsError::io("remove", &file.local, e))),
            }
        }
        Action::StopService { timeout_secs } => start_service(env, *timeout_secs),
        Action::StartService { timeout_secs } => stop_service(env, *timeout_secs),
        Action::DeleteSource { source, copy } => {
            // Bring back exactly what cleanup deleted: it is identical in the copy.
            let restored =
                fsops::cleanup::restore_deleted(&source.local, &copy.local, &env.deletion_log())
                    .map_err(fs_problem)?;
            Ok(Evidence::SourceRestored { restored })
        }
        Action::UpdateManifest {
            share,
            before,
            added,
            ..
        } => take_back_manifest(share, before.is_none(), added, &env.clock.now()),
        Action::WriteFiles {
            dir,
            created,
            files,
            ..
        } => unwrite_files(dir, created, files, env),
    }
}

/// Undo of a manifest write: take back the nodes it added (the manifest
/// may have changed since: a registration, another node), and the file and
/// its folder when the write made them (`made`).
fn take_back_manifest(
    share: &Loc,
    made: bool,
    added: &[String],
    now: &str,
) -> Result<Evidence, Problem> {
    // The manifest may have changed since (a registration, another
    // node), so undo takes back what this write added, not its bytes.
    let dir = manifest::dir_of(&share.local);
    let path = dir.join(manifest::FILE);
    let registered = {
        let _lock = ManifestLock::acquire(&share.local, "undo")?;
        let Some(mut current) = manifest::Manifest::load(&share.local)? else {
            return Ok(Evidence::ManifestTakenBack {
                taken_back: Vec::new(),
                registered_in_mdaemon: Vec::new(),
                already: true,
            });
        };
        let registered = current.take_back(added, now);
        if current.is_empty() && made {
            manifest::check_file_replaceable(&path)?;
            std::fs::remove_file(&path).map_err(|e| fs_problem(FsError::io("remove", &path, e)))?;
        } else {
            current.save(&share.local)?;
        }
        registered
    };
    // The lock is gone with its scope: the folder mdcluster made goes too, if empty.
    if made {
        let _ = std::fs::remove_dir(&dir);
    }
    Ok(Evidence::ManifestTakenBack {
        taken_back: added.to_vec(),
        registered_in_mdaemon: registered,
        already: false,
    })
}

/// The hash of a regular file, None when there is none. Anything else at
/// the path (a folder, a link, a device) is an error: mdcluster neither
/// follows nor replaces it.
fn regular_file_hash(path: &Path) -> Result<Option<(ContentHash, String)>, Problem> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Problem::io(Exit::Failed, "look at", path, &e).fix("rerun to resume")),
        Ok(m) if !m.is_file() => {
            return Err(Problem::failed(format!(
            "{} is not a regular file (a folder, link or device), so mdcluster does not touch it",
            path.display()
        ))
            .at(path.display().to_string())
            .fix("move it away, then rerun"))
        }
        Ok(_) => {}
    }
    let bytes = std::fs::read(path)
        .map_err(|e| Problem::io(Exit::Failed, "read", path, &e).fix("rerun to resume"))?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Ok(Some((content_hash(&bytes), text)))
}

/// Where the file a [`FileWrite`] replaces is kept: named by the action's
/// slot and the file's path below the folder.
fn file_backup(env: &ActionEnv, f: &FileWrite) -> PathBuf {
    let flat: Vec<String> = f
        .path
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    env.backups.join(format!("{}-{}", env.slot, flat.join("_")))
}

/// Write the files of [`Action::WriteFiles`]. Every file is looked at before
/// the first is written: each must be as previewed (or already written, after
/// a crash); a file that changed since the preview stops the action (stale)
/// with nothing written. A file replaced is backed up durably first, and only
/// a file carrying mdcluster's header is replaced.
fn write_files(dir: &Path, files: &[FileWrite], env: &ActionEnv) -> Result<Evidence, Problem> {
    let mut todo = Vec::new();
    let mut already = Vec::new();
    for f in files {
        let path = dir.join(&f.path);
        let current = regular_file_hash(&path)?;
        match current {
            Some((hash, _)) if hash == f.after_hash() => already.push(path),
            Some((hash, text)) if Some(&hash) == f.before_hash.as_ref() => {
                if !crate::lb::carries_marker(&text) {
                    return Err(Problem::refused(format!(
                        "{} was not written by mdcluster, so it is not replaced",
                        path.display()
                    ))
                    .at(path.display().to_string())
                    .fix("move it away, or choose another folder with output = '…' under [load_balancer]; nothing was written"));
                }
                todo.push((f, path));
            }
            None if f.before_hash.is_none() => todo.push((f, path)),
            _ => return Err(Problem::new(
                Exit::Stale,
                format!("{} changed after the preview was made", path.display()),
            )
            .at(path.display().to_string())
            .fix(
                "something else wrote it meanwhile; rerun to get a fresh preview of the changes",
            )),
        }
    }
    let mut written = Vec::new();
    let mut backups = Vec::new();
    for (f, path) in todo {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| fs_problem(FsError::io("create folder", parent, e)))?;
        }
        if f.before_hash.is_some() {
            let backup = file_backup(env, f);
            atomic::copy_durable(&path, &backup).map_err(fs_problem)?;
            backups.push(backup);
        }
        atomic::write_atomic(&path, f.after.as_bytes(), None).map_err(fs_problem)?;
        written.push(path);
    }
    Ok(Evidence::FilesWritten {
        written,
        already,
        backups,
    })
}

/// Undo of [`write_files`]: a file mdcluster created is removed, a file it
/// replaced comes back from its backup (with its time), each only while it
/// still holds what mdcluster wrote; a file changed since is kept and
/// listed. The folders the action created go when they are empty again.
fn unwrite_files(
    dir: &Path,
    created: &[PathBuf],
    files: &[FileWrite],
    env: &ActionEnv,
) -> Result<Evidence, Problem> {
    let mut removed = Vec::new();
    let mut restored = Vec::new();
    let mut kept = Vec::new();
    for f in files.iter().rev() {
        let path = dir.join(&f.path);
        let current = regular_file_hash(&path)?.map(|(h, _)| h);
        if current == f.before_hash {
            continue; // never written, or already undone
        }
        let ours = current == Some(f.after_hash());
        match (&f.before_hash, ours) {
            (None, true) => {
                std::fs::remove_file(&path)
                    .map_err(|e| fs_problem(FsError::io("remove", &path, e)))?;
                removed.push(path);
            }
            // Ours, or gone since: the file mdcluster replaced comes back.
            (Some(before), _) if ours || current.is_none() => {
                let backup = file_backup(env, f);
                let saved = std::fs::read(&backup).map_err(|e| {
                    Problem::io(Exit::Failed, "read the backup", &backup, &e)
                        .fix("the backup is missing; restore the file by hand from your own backup")
                })?;
                if content_hash(&saved) != *before {
                    return Err(Problem::failed(format!(
                        "the backup of {} does not match the file it replaced",
                        path.display()
                    ))
                    .at(backup.display().to_string())
                    .fix("restore the file by hand from your own backup"));
                }
                let mtime = std::fs::metadata(&backup)
                    .ok()
                    .map(|m| filetime::FileTime::from_last_modification_time(&m));
                atomic::write_atomic(&path, &saved, mtime).map_err(fs_problem)?;
                restored.push(path);
            }
            _ => kept.push(path),
        }
    }
    for d in created.iter().rev() {
        if d.is_dir() && fsops::tree::is_empty_dir(d).map_err(fs_problem)? {
            std::fs::remove_dir(d).map_err(|e| fs_problem(FsError::io("remove folder", d, e)))?;
        }
    }
    Ok(Evidence::FilesUnwritten {
        removed,
        restored,
        kept,
    })
}

/// Change a file from the bytes previewed (`before`) to the bytes planned
/// (`after`), with a backup and an atomic write. Finds the change already made
/// after a crash; refuses (stale) when someone else changed the file.
fn edit_file(
    file: &Loc,
    before: &ContentHash,
    after: &ContentHash,
    env: &ActionEnv,
    transform: impl FnOnce(&[u8]) -> Result<Vec<u8>, String>,
) -> Result<Evidence, Problem> {
    let current = std::fs::read(&file.local)
        .map_err(|e| Problem::io(Exit::Failed, "read", &file.local, &e).fix("rerun to resume"))?;
    let hash = content_hash(&current);
    let backup = env.backup_path(&file.local);
    if hash == *after {
        return Ok(Evidence::FileEdited {
            backup,
            already: true,
        });
    }
    if hash != *before {
        return Err(Problem::new(Exit::Stale, format!("{} changed after the preview was made", file.win))
            .at(file.local.display().to_string())
            .fix("someone (or MDaemon) wrote the file meanwhile; rerun to get a fresh preview of the changes"));
    }
    let new = transform(&current)
        .map_err(|e| Problem::failed(format!("could not edit {}: {e}", file.win)))?;
    if content_hash(&new) != *after {
        return Err(Problem::other(format!(
            "editing {} gave different bytes than the preview",
            file.win
        ))
        .fix("nothing was written; please report this as a bug"));
    }
    atomic::copy_durable(&file.local, &backup).map_err(fs_problem)?;
    atomic::write_atomic(&file.local, &new, None).map_err(fs_problem)?;
    Ok(Evidence::FileEdited {
        backup,
        already: false,
    })
}

/// Undo of [`edit_file`]: the backup back in place, with its time, but only
/// over the bytes mdcluster wrote. An edit that was never written (it stopped
/// before: no backup, which comes first, and no done record) leaves nothing
/// to undo, whatever the file holds now: a run refused late because someone
/// else changed the file is undone without touching it.
fn restore_file(
    file: &Loc,
    before: &ContentHash,
    after: &ContentHash,
    env: &ActionEnv,
    finished: bool,
) -> Result<Evidence, Problem> {
    let current = std::fs::read(&file.local)
        .map_err(|e| Problem::io(Exit::Failed, "read", &file.local, &e).fix("rerun undo"))?;
    let hash = content_hash(&current);
    if hash == *before {
        return Ok(Evidence::FileRestored {
            restored_from: None,
            already: true,
            never_written: false,
        });
    }
    let backup = env.backup_path(&file.local);
    if !finished && hash != *after && !fsops::exists(&backup) {
        return Ok(Evidence::FileRestored {
            restored_from: None,
            already: false,
            never_written: true,
        });
    }
    if hash != *after {
        return Err(Problem::failed(format!("{} was changed after mdcluster edited it, so undo does not overwrite it", file.win))
            .at(file.local.display().to_string())
            .fix(format!(
                "compare it with the backup {} and restore by hand what should be restored; then rerun undo",
                backup.display()
            )));
    }
    let saved = std::fs::read(&backup).map_err(|e| {
        Problem::io(Exit::Failed, "read the backup", &backup, &e)
            .fix("the backup is missing; restore the file by hand from your own backup")
    })?;
    if content_hash(&saved) != *before {
        return Err(Problem::failed(format!(
            "the backup of {} does not match the original",
            file.win
        ))
        .at(backup.display().to_string())
        .fix("restore the file by hand from your own backup"));
    }
    let mtime = std::fs::metadata(&backup)
        .ok()
        .map(|m| filetime::FileTime::from_last_modification_time(&m));
    atomic::write_atomic(&file.local, &saved, mtime).map_err(fs_problem)?;
    Ok(Evidence::FileRestored {
        restored_from: Some(backup),
        already: false,
        never_written: false,
    })
}
