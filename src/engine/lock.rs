//! One mdcluster at a time per installation.
//!
//! The lock is an OS file lock on `<state>/lock`, held for the whole run. The
//! operating system releases it when the process ends in any way (also a kill
//! or a crash), so a leftover lock file is never mistaken for a running
//! mdcluster. `<state>/lock-holder.json` names host, process, start time and
//! command, for the message another run shows.

use crate::problem::{Exit, Problem};
use serde::{Deserialize, Serialize};
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = "lock";
pub const HOLDER_FILE: &str = "lock-holder.json";

#[derive(Debug, Serialize, Deserialize)]
pub struct Holder {
    pub host: String,
    pub pid: u32,
    pub since: String,
    pub command: String,
}

pub struct Lock {
    // Held open: closing it releases the lock.
    _file: File,
    path: PathBuf,
    holder: PathBuf,
}

impl Lock {
    pub fn acquire(dir: &Path, command: &str) -> Result<Lock, Problem> {
        let path = dir.join(FILE_NAME);
        let holder = dir.join(HOLDER_FILE);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| {
                Problem::io(Exit::Other, "open the lock file", &path, &e)
                    .fix("make sure this account may write the installation folder")
            })?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let who = std::fs::read_to_string(&holder)
                    .ok()
                    .and_then(|t| serde_json::from_str::<Holder>(&t).ok())
                    .map(|h| {
                        format!(
                            "process {} on {} since {} ({})",
                            h.pid, h.host, h.since, h.command
                        )
                    })
                    .unwrap_or_else(|| "a process that has not named itself yet".into());
                return Err(Problem::refused(format!(
                    "another mdcluster is working on this installation: {who}"
                ))
                .at(path.display().to_string())
                .fix("wait until it has finished, then rerun; nothing was changed"));
            }
            Err(TryLockError::Error(e)) => {
                return Err(Problem::io(Exit::Other, "lock", &path, &e).fix(
                    "the installation folder must be on a file system that supports file locks",
                ));
            }
        }
        let me = Holder {
            host: hostname(),
            pid: std::process::id(),
            since: super::journal::now_rfc3339(),
            command: command.to_string(),
        };
        let text = serde_json::to_vec(&me).unwrap_or_default();
        crate::fsops::atomic::write_atomic(&holder, &text, None)
            .map_err(|e| Problem::other(format!("could not write {}: {e}", holder.display())))?;
        Ok(Lock {
            _file: file,
            path,
            holder,
        })
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Remove the files while still holding the lock; closing releases it.
        let _ = std::fs::remove_file(&self.holder);
        let _ = std::fs::remove_file(&self.path);
    }
}

pub fn hostname() -> String {
    #[cfg(windows)]
    if let Ok(name) = std::env::var("COMPUTERNAME") {
        return name;
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown-host".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_run_is_refused_with_who_holds_the_lock() {
        let d = tempfile::tempdir().unwrap();
        let first = Lock::acquire(d.path(), "apply").unwrap();
        let err = Lock::acquire(d.path(), "undo").err().unwrap();
        assert_eq!(err.exit, Exit::Refused);
        assert!(err.what.contains(&std::process::id().to_string()), "{err}");
        assert!(err.what.contains("apply"), "{err}");
        drop(first);
        assert!(!d.path().join(FILE_NAME).exists());
        assert!(Lock::acquire(d.path(), "apply").is_ok());
    }

    #[test]
    fn a_leftover_lock_file_of_a_dead_process_is_no_obstacle() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(FILE_NAME), b"").unwrap();
        std::fs::write(
            d.path().join(HOLDER_FILE),
            br#"{"host":"x","pid":1,"since":"y","command":"apply"}"#,
        )
        .unwrap();
        assert!(Lock::acquire(d.path(), "apply").is_ok());
    }
}
