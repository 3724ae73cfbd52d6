//! mdcluster's state folder inside the installation root: journal, lock,
//! backups, join code. It holds backups of MDaemon.ini (with the licence
//! key), so it is never a link and (Linux) never another user's folder.

use crate::problem::{Exit, Problem};

/// Name of mdcluster's state folder inside the installation root.
pub(crate) const STATE_DIR: &str = "mdcluster";

/// Why `dir` cannot serve as mdcluster's state folder, if it exists and is
/// not a plain folder of this account's: a link or junction (backups of
/// MDaemon.ini, with its licence key, would land wherever it points), or
/// (Linux) a folder of another user's. None when it is fine or missing.
pub(crate) fn state_folder_problem(dir: &std::path::Path) -> Option<String> {
    let meta = match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            return Some(format!(
                "cannot be read: {}",
                crate::problem::describe_io(&e)
            ))
        }
        Ok(m) => m,
    };
    if meta.file_type().is_symlink() {
        return Some("is a link (or junction); mdcluster does not follow it".into());
    }
    if !meta.is_dir() {
        return Some("is not a folder".into());
    }
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        let me = rustix::process::geteuid().as_raw();
        if meta.uid() != me {
            return Some(format!(
                "belongs to another user (uid {}, not {me}); mdcluster keeps backups there",
                meta.uid()
            ));
        }
    }
    None
}

/// The state folder holds backups of the administrator's files: owner-only.
/// A link, or a folder of another user's, is refused, never followed.
pub(crate) fn create_state_dir(dir: &std::path::Path) -> Result<(), Problem> {
    if let Some(why) = state_folder_problem(dir) {
        return Err(
            Problem::refused(format!("mdcluster's state folder {}: {why}", dir.display()))
                .at(dir.display().to_string())
                .fix("remove or rename it (mdcluster creates its own), then rerun; nothing was changed"),
        );
    }
    std::fs::create_dir_all(dir).map_err(|e| {
        Problem::io(Exit::Refused, "create mdcluster's state folder", dir, &e)
            .fix("make sure this account may write the installation folder")
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
            Problem::io(
                Exit::Refused,
                "make mdcluster's state folder owner-only",
                dir,
                &e,
            )
            .fix("it keeps backups of MDaemon.ini (with the licence key): make sure this account owns it and the file system keeps permissions, then rerun")
        })?;
    }
    Ok(())
}
