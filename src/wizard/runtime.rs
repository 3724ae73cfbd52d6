//! Running the wizard: the terminal, the event loop and the background work.
//!
//! The loop is generic over the ratatui backend, so tests drive the same code
//! with a `TestBackend`. Input, the engine and previews run on threads that
//! post [`Msg`]s; the screen never waits for them.

use super::app::{App, Cmd, Msg};
use super::view;
use crate::engine::events::{Event, EventSink};
use crate::engine::{Engine, Summary};
use crate::plan::Plan;
use crate::problem::{Exit, Problem};
use crate::profile::Profile;
use ratatui::backend::Backend;
use ratatui::Terminal;
use std::path::Path;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// Carries out [`Cmd`]s.
pub trait Executor {
    fn run(&self, cmd: Cmd, tx: Sender<Msg>);
}

/// Each command on its own thread.
pub struct Threads {
    pub profile: Profile,
}

impl Executor for Threads {
    fn run(&self, cmd: Cmd, tx: Sender<Msg>) {
        let profile = self.profile.clone();
        std::thread::spawn(move || execute(cmd, &profile, &tx));
    }
}

/// Engine events become messages.
struct ChannelSink(Sender<Msg>);

impl EventSink for ChannelSink {
    fn emit(&self, event: Event) {
        let _ = self.0.send(Msg::Engine(event));
    }
}

/// Carry out one command and post the result (and engine events).
pub fn execute(cmd: Cmd, profile: &Profile, tx: &Sender<Msg>) {
    let msg = match cmd {
        Cmd::Preview { generation, plan } => {
            let result = Engine::open(*plan, profile.clone()).and_then(|e| e.prepare());
            Msg::Preview { generation, result }
        }
        Cmd::Apply { plan_text, preview } => {
            let result = apply(&plan_text, &preview, profile, tx);
            Msg::Finished {
                undo: false,
                result,
            }
        }
        Cmd::Undo { plan } => {
            let sink = ChannelSink(tx.clone());
            let result = Engine::open(*plan, profile.clone()).and_then(|mut e| e.undo(&sink));
            Msg::Finished { undo: true, result }
        }
        Cmd::SavePlan { path, text } => Msg::Saved(save_plan(&path, &text)),
    };
    let _ = tx.send(msg);
}

fn apply(
    plan_text: &str,
    preview: &crate::engine::Preview,
    profile: &Profile,
    tx: &Sender<Msg>,
) -> Result<Summary, Problem> {
    let plan = keep_plan(plan_text, profile)?;
    let mut engine = Engine::open(plan, profile.clone())?;
    engine.apply(preview, "wizard", &ChannelSink(tx.clone()))
}

/// The wizard keeps the plan it applies in the state folder, where the
/// journal names it: a later run (wizard or `apply --plan`) resumes from it.
pub fn keep_plan(plan_text: &str, profile: &Profile) -> Result<Plan, Problem> {
    let probe = Plan::parse(plan_text, Path::new("wizard-plan.toml"), profile)
        .map_err(|e| crate::plan::plan_problem(Path::new("wizard-plan.toml"), &e))?;
    let root = crate::location::Resolver::new(probe.mounts.clone()).locate(&probe.install_root)?;
    let state = root.local.join(crate::engine::STATE_DIR);
    crate::engine::create_state_dir(&state)?;
    let file = state.join("wizard-plan.toml");
    crate::fsops::atomic::write_atomic(&file, plan_text.as_bytes(), None).map_err(|e| {
        Problem::new(Exit::Failed, e.to_string())
            .fix("make sure this account may write the installation folder")
    })?;
    Ok(Plan { file, ..probe })
}

/// Write a plan file; never over an existing file.
pub fn save_plan(path: &Path, text: &str) -> Result<std::path::PathBuf, String> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| {
            format!(
                "cannot create {}: {}",
                path.display(),
                crate::problem::describe_io(&e)
            )
        })?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path.to_path_buf())
}

/// The event loop: draw, wait for a message (or a tick), update, repeat.
/// `first_frame_only` stops after the first frame (the start-up benchmark).
pub fn run_loop<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    rx: &Receiver<Msg>,
    tx: &Sender<Msg>,
    exec: &dyn Executor,
    first_frame_only: bool,
) -> Result<(), String> {
    for cmd in app.start() {
        exec.run(cmd, tx.clone());
    }
    // Test hook: proves the panic hook restores the terminal (docs/testing.md).
    let panic_after_first_frame = std::env::var_os("MDCLUSTER_TEST_PANIC").is_some();
    loop {
        terminal
            .draw(|f| view::render(f, app))
            .map_err(|e| e.to_string())?;
        if first_frame_only {
            if let Some(t) = crate::cli::STARTED.get() {
                app.first_frame = Some(t.elapsed());
            }
            return Ok(());
        }
        if app.quit {
            return Ok(());
        }
        if panic_after_first_frame {
            panic!("MDCLUSTER_TEST_PANIC is set: a deliberate panic to test terminal restore");
        }
        let first = match rx.recv_timeout(Duration::from_millis(250)) {
            Ok(m) => m,
            Err(RecvTimeoutError::Timeout) => Msg::Tick(Instant::now()),
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        };
        // Take everything that is waiting (progress comes in floods), then draw once.
        let mut batch = vec![first];
        while batch.len() < 1000 {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        batch.push(Msg::Tick(Instant::now()));
        for msg in batch {
            for cmd in app.update(msg) {
                exec.run(cmd, tx.clone());
            }
        }
    }
}

/// Restores the terminal when dropped: on return, on error, and on a panic
/// (ratatui's panic hook does the same before the panic message prints).
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

/// Run the full-screen wizard on this terminal.
pub fn run_terminal(mut app: App, profile: Profile) -> Result<App, Problem> {
    let first_frame_only = std::env::var_os("MDCLUSTER_EXIT_AFTER_FIRST_FRAME").is_some();
    let mut terminal = ratatui::try_init().map_err(|e| {
        Problem::usage(format!("could not start the full-screen wizard: {e}")).fix(
            "run it in a terminal, use --plain for line prompts, or --plan FILE for a headless run",
        )
    })?;
    let _guard = TerminalGuard;
    let (tx, rx) = std::sync::mpsc::channel();
    let input = tx.clone();
    std::thread::spawn(move || loop {
        let msg = match crossterm::event::read() {
            Ok(crossterm::event::Event::Key(k)) => Msg::Key(k),
            Ok(crossterm::event::Event::Resize(..)) => Msg::Resize,
            Ok(_) => continue,
            Err(_) => break,
        };
        if input.send(msg).is_err() {
            break;
        }
    });
    let exec = Threads { profile };
    run_loop(&mut terminal, &mut app, &rx, &tx, &exec, first_frame_only)
        .map_err(|e| Problem::other(format!("the terminal failed: {e}")))?;
    Ok(app)
}
