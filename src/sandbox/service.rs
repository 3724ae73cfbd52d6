//! The SIMULATED MDaemon of a sandbox, for tests and the demo.
//!
//! It is not MDaemon and does no mail work. It stands for the MDaemon service
//! so that mdcluster's service handling can be exercised: it records its state
//! in the sandbox (`.mdcluster-simulated-mdaemon.json`: process id, running or
//! stopped), and polls the semaphore folder as MDaemon does: EXITNOW.SEM stops
//! it, RESTART.SEM starts it (standing in for the service manager's start), and
//! while it runs it acts on the reload semaphores. Every semaphore it acts on is
//! deleted, as MDaemon deletes them. It logs what it does to
//! `Logs/SIMULATED-MDaemon.log`.

use crate::problem::{Exit, Problem};
use crate::profile::Profile;
use crate::service::{Simulated, SANDBOX_MARKER, SIMULATION_STATE};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// Run until `seconds` have passed (or forever). `tell` shows the one line
/// the administrator must see: that it runs, and how to stop it.
pub fn run(
    root: &Path,
    profile: &Profile,
    seconds: Option<u64>,
    tell: &dyn Fn(&str),
) -> Result<(), Problem> {
    if !root.join(SANDBOX_MARKER).exists() {
        return Err(Problem::usage(format!(
            "{} is not a sandbox made by `mdcluster sandbox`",
            root.display()
        ))
        .fix("the simulated MDaemon only runs on sandboxes; give the folder of one"));
    }
    let sem_dir = root.join(profile.semaphores.dir.replace('\\', "/"));
    let log_path = root.join(&*profile.logs.dir).join("SIMULATED-MDaemon.log");
    let mut state = Simulated {
        pid: std::process::id(),
        running: true,
        since: crate::platform::now_rfc3339(),
        restarts: 0,
    };
    let save = |s: &Simulated| -> Result<(), Problem> {
        let text = serde_json::to_vec_pretty(s).unwrap_or_default();
        crate::fsops::atomic::write_atomic(&root.join(SIMULATION_STATE), &text, None)
            .map_err(|e| Problem::new(Exit::Other, e.to_string()))
    };
    let log = |text: &str| {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
        {
            let _ = writeln!(f, "{} SIMULATION: {text}\r", crate::platform::now_rfc3339());
        }
    };
    save(&state)?;
    log("simulated MDaemon started (this is not MDaemon)");
    tell(&format!(
        "SIMULATED MDaemon running for the sandbox {} (process {}); drop {} to stop it, {} to start it.",
        root.display(),
        state.pid,
        *profile.semaphores.stop,
        *profile.semaphores.restart
    ));
    let deadline = seconds.map(|s| Instant::now() + Duration::from_secs(s));
    let take = |name: &str| std::fs::remove_file(sem_dir.join(name)).is_ok();
    while deadline.is_none_or(|d| Instant::now() < d) {
        if state.running && take(&profile.semaphores.stop) {
            state.running = false;
            state.since = crate::platform::now_rfc3339();
            // Logged first: who sees the new state finds its line.
            log("EXITNOW.SEM: stopped");
            save(&state)?;
        }
        if take(&profile.semaphores.restart) {
            state.running = true;
            state.restarts += 1;
            state.since = crate::platform::now_rfc3339();
            log("RESTART.SEM: started");
            save(&state)?;
        }
        if state.running {
            for sem in [
                &profile.semaphores.reload_userlist,
                &profile.semaphores.reload_domains,
                &profile.semaphores.reload_cache,
            ] {
                if take(sem) {
                    log(&format!("{}: reloaded", **sem));
                }
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = std::fs::remove_file(root.join(SIMULATION_STATE));
    log("simulation ended");
    Ok(())
}
