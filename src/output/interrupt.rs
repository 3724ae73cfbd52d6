//! Ctrl-C (or a termination request) during a command that changes things:
//! mdcluster stops at once, exactly as a crash would (the journal and the
//! mover are built for that), and says where that leaves the installation
//! and what to run next, with exit code 130.

use crate::output;
use crate::problem::{Exit, Problem};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// From now on, an interrupt ends the process with `problem` (exit 130).
/// Where the signal cannot be watched, the system's default stays (the
/// process ends without the message; the journal still resumes).
pub(crate) fn stop_with(problem: Problem, json: bool) {
    let flag = Arc::new(AtomicBool::new(false));
    let code = i32::from(Exit::Interrupted.code());
    let mut watched = false;
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // A second interrupt ends the process at once, message or not.
        let _ = signal_hook::flag::register_conditional_shutdown(sig, code, flag.clone());
        watched |= signal_hook::flag::register(sig, flag.clone()).is_ok();
    }
    if !watched {
        return;
    }
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_millis(50));
        if flag.load(Ordering::SeqCst) {
            // Held to the end: nothing else is printed after the message.
            let _out = std::io::stdout().lock();
            output::print_problem(&problem, json);
            std::process::exit(code);
        }
    });
}

/// What an interrupted `command` (apply, undo, cleanup) of `plan` leaves.
pub(crate) fn notice(command: &str, plan: &std::path::Path) -> Problem {
    let plan = plan.display();
    let next = match command {
        "undo" => format!("rerun `mdcluster undo --plan {plan}` to finish the undo"),
        "cleanup" => format!("rerun `mdcluster cleanup --plan {plan}` to finish it"),
        // "apply", or "apply --skip-blocked" (its rerun needs the consent again).
        _ => format!(
            "rerun `mdcluster {command} --plan {plan}` to finish the run, or `mdcluster undo --plan {plan}` to reverse it"
        ),
    };
    Problem::new(
        Exit::Interrupted,
        format!(
            "interrupted: `{}` stopped at once; the journal records how far it got, and \
             nothing half-done counts as done",
            command.split(' ').next().unwrap_or(command)
        ),
    )
    .fix(format!(
        "{next}; `mdcluster status --plan {plan}` shows every step. If mdcluster stopped \
         MDaemon for the move, MDaemon is still stopped: start it once the run is finished \
         or undone"
    ))
}
