//! One mdcluster at a time per installation.
//!
//! The lock is an OS file lock on `<state>/lock`, held for the whole run. The
//! operating system releases it when the process ends in any way (also a kill
//! or a crash), so a leftover lock file is never mistaken for a running
//! mdcluster. `<state>/lock-holder.json` names host, process, start time and
//! command, for the message another run shows.
//!
//! A released lock's files are removed, while it is still held. So that this
//! cannot let two runs in at once (one that opened the old file just before it
//! was removed, and one that created a new file), a lock counts only once the
//! file locked is still the one at the path: [`try_lock_path`] opens, locks,
//! then compares the identity of the open file with the file at the path, and
//! starts over when they differ.

use crate::problem::{Exit, Problem};
use serde::{Deserialize, Serialize};
use std::fs::TryLockError;
use std::path::{Path, PathBuf};

pub(crate) const FILE_NAME: &str = "lock";
pub(crate) const HOLDER_FILE: &str = "lock-holder.json";

/// How often [`try_lock_path`] starts over before it gives up.
const ATTEMPTS: usize = 100;

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Holder {
    pub host: String,
    pub pid: u32,
    pub since: String,
    pub command: String,
}

/// An exclusive OS lock on the file at a path, held until this is dropped.
#[derive(Debug)]
pub struct Held {
    // The open, locked file; closing it releases the lock.
    _file: same_file::Handle,
}

/// Why [`try_lock_path`] could not lock.
#[derive(Debug)]
pub(crate) enum LockError {
    /// The file could not be opened or created.
    Open(std::io::Error),
    /// The file system refused the lock or the identity check.
    Lock(std::io::Error),
    /// The file kept being removed or replaced under us.
    Unstable,
}

/// Take an exclusive OS lock on the file at `path` (created if missing)
/// without waiting. `Ok(None)`: another process holds it.
///
/// After the lock is taken, the open file must still be the file at `path`:
/// a holder that released the lock may have removed it in between (then the
/// lock just taken is on a file nobody else will ever look at, while a third
/// process may lock a new file at the path). Then it starts over.
pub(crate) fn try_lock_path(path: &Path) -> Result<Option<Held>, LockError> {
    for attempt in 0..ATTEMPTS {
        let file = match std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
        {
            Ok(f) => f,
            // On Windows a file being removed cannot be opened until its last
            // handle is closed: a released lock, a moment from gone.
            Err(e)
                if e.kind() == std::io::ErrorKind::PermissionDenied && attempt + 1 < ATTEMPTS =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
                continue;
            }
            Err(e) => return Err(LockError::Open(e)),
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Ok(None),
            Err(TryLockError::Error(e)) => return Err(LockError::Lock(e)),
        }
        let locked = same_file::Handle::from_file(file).map_err(LockError::Lock)?;
        match same_file::Handle::from_path(path) {
            Ok(at_path) if at_path == locked => return Ok(Some(Held { _file: locked })),
            // Removed or replaced since we opened it: let go and start over.
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(LockError::Lock(e)),
        }
    }
    Err(LockError::Unstable)
}

pub(crate) struct Lock {
    // Held while the lock lives; released (closed) after the files are removed.
    held: Option<Held>,
    path: PathBuf,
    holder: PathBuf,
}

impl Lock {
    /// The lock, named with this machine's name and the system time.
    #[cfg(test)]
    pub(crate) fn acquire(dir: &Path, command: &str) -> Result<Lock, Problem> {
        Lock::acquire_as(
            dir,
            command,
            &crate::platform::hostname(),
            &crate::platform::now_rfc3339(),
        )
    }

    /// Take the lock of the state folder `dir` for `command`, naming the
    /// holder as `host` since `since` (for the message another run shows).
    pub(crate) fn acquire_as(
        dir: &Path,
        command: &str,
        host: &str,
        since: &str,
    ) -> Result<Lock, Problem> {
        let path = dir.join(FILE_NAME);
        let holder = dir.join(HOLDER_FILE);
        let held = match try_lock_path(&path) {
            Ok(Some(held)) => held,
            Ok(None) => {
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
            Err(LockError::Open(e)) => {
                return Err(Problem::io(Exit::Other, "open the lock file", &path, &e)
                    .fix("make sure this account may write the installation folder"))
            }
            Err(LockError::Lock(e)) => {
                return Err(Problem::io(Exit::Other, "lock", &path, &e).fix(
                    "the installation folder must be on a file system that supports file locks",
                ));
            }
            Err(LockError::Unstable) => {
                return Err(Problem::refused(
                    "the lock file kept changing while mdcluster tried to lock it",
                )
                .at(path.display().to_string())
                .fix("another mdcluster is starting and stopping here: wait until it has finished, then rerun; nothing was changed"))
            }
        };
        let me = Holder {
            host: host.to_string(),
            pid: std::process::id(),
            since: since.to_string(),
            command: command.to_string(),
        };
        let text = serde_json::to_vec(&me).unwrap_or_default();
        name_holder(&holder, &text);
        Ok(Lock {
            held: Some(held),
            path,
            holder,
        })
    }
}

/// Write who holds the lock. It only informs the message another run shows,
/// so a failure does not fail the lock. On Windows the name stays taken
/// while a refused run still reads the previous holder's file (deleted, but
/// open): the write is retried briefly.
fn name_holder(holder: &Path, text: &[u8]) {
    for _ in 0..50 {
        if crate::fsops::atomic::write_atomic(holder, text, None).is_ok() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // Never name an earlier holder: unnamed, a refused run says so.
    let _ = std::fs::remove_file(holder);
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Remove the files while still holding the lock, then release it. A
        // run that opened the old file meanwhile finds it is no longer the
        // one at the path once it gets the lock, and starts over.
        let _ = std::fs::remove_file(&self.holder);
        let _ = std::fs::remove_file(&self.path);
        drop(self.held.take());
    }
}

/// Test support: run the test `name` of this test binary in `n` processes
/// at once, with `env` set (how a test races processes against each other),
/// and wait until each has run it and passed.
#[cfg(test)]
pub(crate) fn run_in_processes(name: &str, env: (&str, &Path), n: usize) {
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..n)
        .map(|_| {
            std::process::Command::new(&exe)
                .args(["--exact", name, "--test-threads=1"])
                .env(env.0, env.1)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // The child ran the race, not nothing.
        assert!(out.status.success() && text.contains("1 passed"), "{text}");
    }
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

    /// Set in the child processes of the race below: the folder to race in.
    const RACE_DIR: &str = "MDCLUSTER_TEST_LOCK_RACE_DIR";

    /// Take and release the lock in `dir` until it was held `rounds` times,
    /// asserting each time that nobody else holds it at the same moment: the
    /// holder creates a marker file with `create_new` (which fails if another
    /// holder's marker is there), and removes it before it lets go.
    fn race(dir: &Path, rounds: usize) {
        let marker = dir.join("inside");
        let mut held = 0;
        while held < rounds {
            match Lock::acquire(dir, "race") {
                Ok(lock) => {
                    if let Err(e) = std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(&marker)
                    {
                        panic!("two holders of the lock at once ({e})");
                    }
                    std::thread::yield_now();
                    std::fs::remove_file(&marker).unwrap();
                    drop(lock);
                    held += 1;
                }
                Err(p) => assert_eq!(p.exit, Exit::Refused, "{p}"),
            }
        }
    }

    #[test]
    fn racing_threads_never_hold_the_lock_together() {
        let d = tempfile::tempdir().unwrap();
        let racers: Vec<_> = (0..4)
            .map(|_| {
                let dir = d.path().to_path_buf();
                std::thread::spawn(move || race(&dir, 100))
            })
            .collect();
        for r in racers {
            r.join().unwrap();
        }
        assert!(!d.path().join(FILE_NAME).exists());
        assert!(!d.path().join(HOLDER_FILE).exists());
    }

    #[test]
    fn racing_processes_never_hold_the_lock_together() {
        if let Some(dir) = std::env::var_os(RACE_DIR) {
            // A child: race, two threads of its own.
            let dir = PathBuf::from(dir);
            let other = {
                let dir = dir.clone();
                std::thread::spawn(move || race(&dir, 40))
            };
            race(&dir, 40);
            other.join().unwrap();
            return;
        }
        let d = tempfile::tempdir().unwrap();
        run_in_processes(
            "fsops::lock::tests::racing_processes_never_hold_the_lock_together",
            (RACE_DIR, d.path()),
            3,
        );
        assert!(!d.path().join(FILE_NAME).exists());
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
