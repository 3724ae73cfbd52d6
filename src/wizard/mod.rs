//! The interactive wizard: the full-screen TUI (ratatui) and plain prompts
//! (inquire). Both ask the [`answers`] questions, turn the answers into a plan
//! and run it through the same engine as `apply --plan`.

pub mod answers;
pub mod app;
pub mod keys;
pub mod nodes;
pub mod page;
pub mod plain;
pub mod runtime;
mod screens;
pub mod view;

use crate::output::{say, say_err};
use crate::problem::{Exit, Problem};
use crate::profile::Profile;
use answers::Answers;

/// Start the full-screen wizard; print where things stand when it ends.
pub(crate) fn run_tui(
    answers: Answers,
    earlier: crate::workflows::start::EarlierRun,
    profile: Profile,
    color: bool,
    scope: Option<crate::discovery::Scope>,
) -> Result<Exit, Problem> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Err(plain::no_terminal());
    }
    let mut app = app::App::new(profile.clone(), answers, color, earlier);
    app.discovery_scope = scope;
    app.save_path = std::env::current_dir()
        .unwrap_or_default()
        .join(&app.save_path)
        .display()
        .to_string();
    let app = runtime::run_terminal(app, profile)?;
    // Quit while a run was under way: it stops with the process, as a
    // crash would; say where that leaves the installation.
    if app.screen == app::Screen::Confirm(app::Confirm::QuitWhileRunning) && app.quit {
        let plan = app.plan_file.display();
        let p = Problem::new(
            Exit::Interrupted,
            "interrupted: the wizard quit while a run was under way; the journal records how \
             far it got, and nothing half-done counts as done",
        )
        .fix(format!(
            "run the wizard again to resume or undo it (or `mdcluster apply --plan {plan}`, \
             `mdcluster undo --plan {plan}`). If mdcluster stopped MDaemon for the move, \
             MDaemon is still stopped: start it once the run is finished or undone"
        ));
        crate::output::print_problem(&p, false);
        return Ok(p.exit);
    }
    if let Some(t) = app.first_frame {
        say_err!("first frame after {:.3} ms", t.as_secs_f64() * 1000.0);
        return Ok(Exit::Success);
    }
    // After the alternate screen is gone, leave a short record on the terminal.
    if let Some(fin) = &app.finished {
        match &fin.result {
            Ok(s) => {
                let verb = if fin.undo { "Undone" } else { "Applied" };
                say!("{verb}: {} step(s) changed.", s.changed.len());
                // What is left to do as things stand now, not when it ended.
                let now = crate::engine::Summary {
                    notes: app.next_steps(&s.notes),
                    ..s.clone()
                };
                crate::output::print_summary(&now, "");
            }
            Err(p) => {
                say_err!("error: {p}");
                return Ok(p.exit);
            }
        }
    }
    if let Some(p) = &app.saved {
        say!("Plan saved: {}", p.display());
    }
    // Quit without a run: say why nothing could be done, with its exit code.
    if app.finished.is_none() {
        let refused = match &app.preview {
            app::PreviewState::Failed(p) => Some(p.clone()),
            app::PreviewState::Ready(p) => p.refusal(),
            _ => None,
        };
        if let Some(p) = refused {
            say_err!("error: {p}");
            return Ok(p.exit);
        }
    }
    Ok(Exit::Success)
}
