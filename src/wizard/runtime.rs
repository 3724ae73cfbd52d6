//! Running the wizard: the terminal, the event loop and the background work.
//!
//! The loop is generic over the ratatui backend, so tests drive the same code
//! with a `TestBackend`. Input, the engine and previews run on threads that
//! post [`Msg`]s; the screen never waits for them.

use super::app::{App, Cmd, JoinRequest, JoinUpdate, LockAnswer, Msg};
use super::view;
use crate::cluster::manifest::ManifestLock;
use crate::cluster::pairing;
use crate::discovery::survey::NodeReport;
use crate::discovery::Scope;
use crate::engine::events::{Event, EventSink};
use crate::engine::{Engine, Summary};
use crate::plan::Plan;
use crate::problem::{Exit, Problem};
use crate::profile::Profile;
use crate::workflows::discover::{Survey, SurveySettings};
use crate::workflows::join::JoinSettings;
use crate::workflows::start::WIZARD_PLAN;
use ratatui::backend::Backend;
use ratatui::Terminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Carries out [`Cmd`]s.
pub trait Executor {
    fn run(&self, cmd: Cmd, tx: Sender<Msg>);
}

/// Each command on its own thread; discovery runs until a newer one starts
/// or the executor is dropped; the manifest lock lives as long as it.
pub(crate) struct Threads {
    pub profile: Profile,
    lock: LockHolder,
    discovery: Arc<AtomicU64>,
    joining: Arc<AtomicU64>,
    logging: Arc<AtomicU64>,
    health: Arc<AtomicU64>,
}

impl Threads {
    pub fn new(profile: Profile) -> Threads {
        Threads {
            profile,
            lock: LockHolder::default(),
            discovery: Arc::new(AtomicU64::new(0)),
            joining: Arc::new(AtomicU64::new(0)),
            logging: Arc::new(AtomicU64::new(0)),
            health: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl Executor for Threads {
    fn run(&self, cmd: Cmd, tx: Sender<Msg>) {
        match cmd {
            // On its own thread: a share that does not answer must not
            // stop the screen.
            Cmd::HoldLock { seq, mounts, share } => {
                let (lock, ticket) = (self.lock.clone(), self.lock.request());
                std::thread::spawn(move || {
                    let answer = lock.hold_plan_share(mounts, &share, ticket);
                    let _ = tx.send(Msg::ClusterLock { seq, answer });
                });
            }
            Cmd::ReleaseLock => self.lock.release(),
            Cmd::Join {
                generation,
                request,
            } => {
                self.joining.store(generation, Ordering::SeqCst);
                let (current, profile) = (self.joining.clone(), self.profile.clone());
                std::thread::spawn(move || join(generation, &current, request, &profile, &tx));
            }
            Cmd::StopJoin => self.joining.store(0, Ordering::SeqCst),
            Cmd::WatchHealth { generation, plan } => {
                self.health.store(generation, Ordering::SeqCst);
                let (current, profile) = (self.health.clone(), self.profile.clone());
                std::thread::spawn(move || {
                    watch_health(generation, &current, &plan, &profile, &tx)
                });
            }
            Cmd::StopHealth => self.health.store(0, Ordering::SeqCst),
            Cmd::Discover {
                generation,
                plan,
                scope,
                manual,
            } => {
                self.discovery.store(generation, Ordering::SeqCst);
                let (current, profile) = (self.discovery.clone(), self.profile.clone());
                std::thread::spawn(move || {
                    discover(generation, &current, &plan, &scope, &manual, &profile, &tx)
                });
            }
            Cmd::FollowLog {
                generation,
                root,
                nodes,
            } => {
                self.logging.store(generation, Ordering::SeqCst);
                let (current, profile) = (self.logging.clone(), self.profile.clone());
                std::thread::spawn(move || {
                    follow_log(generation, &current, &root, &nodes, &profile, &tx)
                });
            }
            cmd => {
                let profile = self.profile.clone();
                std::thread::spawn(move || execute(cmd, &profile, &tx));
            }
        }
    }
}

impl Drop for Threads {
    fn drop(&mut self) {
        // Discovery and announcing threads see this and stop.
        self.discovery.store(u64::MAX, Ordering::SeqCst);
        self.joining.store(0, Ordering::SeqCst);
        self.logging.store(u64::MAX, Ordering::SeqCst);
        self.health.store(0, Ordering::SeqCst);
    }
}

/// Commands run on the caller's thread, as they come (screen tests). The
/// lock is held like in the real wizard; discovery does not run (tests send
/// what it would find).
pub struct Inline {
    pub profile: Profile,
    pub lock: LockHolder,
}

impl Executor for Inline {
    fn run(&self, cmd: Cmd, tx: Sender<Msg>) {
        match cmd {
            Cmd::HoldLock { seq, mounts, share } => {
                let answer = self
                    .lock
                    .hold_plan_share(mounts, &share, self.lock.request());
                let _ = tx.send(Msg::ClusterLock { seq, answer });
            }
            Cmd::ReleaseLock => self.lock.release(),
            Cmd::Discover { .. } | Cmd::Join { .. } | Cmd::StopJoin | Cmd::StopHealth => {}
            // One round, as it is.
            Cmd::WatchHealth { generation, plan } => {
                let round = health_round(&plan, &self.profile);
                let _ = tx.send(Msg::Health { generation, round });
            }
            // The log read once, as it is (tests write what MDaemon would).
            Cmd::FollowLog {
                generation,
                root,
                nodes,
            } => {
                if let Ok((found, confirmations)) =
                    crate::clusterlog::scan_once(&root, &self.profile, &nodes)
                {
                    let _ = tx.send(Msg::ClusterLog {
                        generation,
                        found: found.describe(),
                        confirmations,
                        lines: Vec::new(),
                    });
                }
            }
            cmd => execute(cmd, &self.profile, &tx),
        }
    }
}

/// The wizard's hold on the cluster manifest lock of one share, shared with
/// the threads that take it. Every request gets a ticket; a newer request or
/// a release makes older tickets void, so whichever thread finishes last,
/// only the latest request's lock is kept. The mutex is held only to swap
/// the lock in or out, never while the share is asked (which may hang).
#[derive(Clone, Default)]
pub struct LockHolder {
    held: Arc<Mutex<Option<(PathBuf, ManifestLock)>>>,
    latest: Arc<AtomicU64>,
    /// One acquire at a time (on the worker threads, never the screen's):
    /// two at once on one share would leave the second with the process's
    /// inner lock while the first, overtaken, removes the real one.
    acquiring: Arc<Mutex<()>>,
}

impl LockHolder {
    /// A ticket for a new request (older ones become void).
    pub fn request(&self) -> u64 {
        self.latest.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn current(&self, ticket: u64) -> bool {
        self.latest.load(Ordering::SeqCst) == ticket
    }

    /// Hold the lock of the plan's shared path as this machine reaches it,
    /// when that is a folder (letting go of another share's).
    pub(crate) fn hold_plan_share(
        &self,
        mounts: Vec<crate::location::Mount>,
        share: &crate::winpath::WinPath,
        ticket: u64,
    ) -> LockAnswer {
        let local = crate::location::Resolver::new(mounts)
            .locate(share)
            .ok()
            .map(|l| l.local)
            .filter(|s| s.is_dir());
        match local {
            Some(local) => self.hold_path(&local, ticket),
            None if self.current(ticket) => {
                // The plan's share is elsewhere now: the old one is let go.
                self.let_go();
                LockAnswer::NoShare
            }
            None => LockAnswer::Void,
        }
    }

    /// Hold the lock of the share at `share` for request `ticket`.
    pub(crate) fn hold_path(&self, share: &Path, ticket: u64) -> LockAnswer {
        let holding =
            |held: &Option<(PathBuf, ManifestLock)>| matches!(held, Some((s, _)) if s == share);
        if self.held.lock().is_ok_and(|held| holding(&held)) {
            return if self.current(ticket) {
                LockAnswer::Held
            } else {
                LockAnswer::Void
            };
        }
        // Asked without the `held` mutex: a share that hangs blocks only
        // the worker threads, never the screen (release does not wait).
        let _one_at_a_time = self.acquiring.lock();
        if !self.current(ticket) {
            return LockAnswer::Void;
        }
        let acquired = ManifestLock::acquire(share, "wizard");
        let Ok(mut held) = self.held.lock() else {
            return LockAnswer::Elsewhere("the lock holder failed".into());
        };
        if !self.current(ticket) {
            drop(held);
            drop(acquired); // released here, still one at a time
            return LockAnswer::Void;
        }
        match acquired {
            Ok(lock) => {
                let old = held.replace((share.to_path_buf(), lock));
                drop(held);
                drop(old);
                LockAnswer::Held
            }
            Err(p) => {
                // Another mdcluster has this share: the old share is let go.
                let old = held.take();
                drop(held);
                drop(old);
                LockAnswer::Elsewhere(ManifestLock::held_elsewhere(share).unwrap_or(p.what))
            }
        }
    }

    /// Hold the lock of `share` now (the plain wizard): None when held, else
    /// who holds it.
    pub fn hold(&self, share: &Path) -> Option<String> {
        match self.hold_path(share, self.request()) {
            LockAnswer::Elsewhere(who) => Some(who),
            _ => None,
        }
    }

    /// Let go of the lock (the join screen: this machine is a secondary).
    /// Requests still under way become void; the lock's files are removed
    /// on a thread of their own.
    pub(crate) fn release(&self) {
        self.latest.fetch_add(1, Ordering::SeqCst);
        let old = self.held.lock().ok().and_then(|mut held| held.take());
        if let Some(old) = old {
            std::thread::spawn(move || drop(old));
        }
    }

    /// Drop the lock held now, if any (on the calling worker thread).
    fn let_go(&self) {
        let old = self.held.lock().ok().and_then(|mut held| held.take());
        drop(old);
    }
}

/// The join screen's worker: the join workflow, its events posted as
/// messages, until a newer join starts or the wizard ends.
fn join(
    generation: u64,
    current: &AtomicU64,
    req: JoinRequest,
    profile: &Profile,
    tx: &Sender<Msg>,
) {
    let post = |update: JoinUpdate| tx.send(Msg::Joining { generation, update }).is_ok();
    let code = match pairing::JoinCode::parse(&req.code) {
        Ok(c) => c,
        Err(p) => {
            post(JoinUpdate::Failed(p.what));
            return;
        }
    };
    let share = req.share.and_then(|(mounts, share)| {
        crate::location::Resolver::new(mounts)
            .locate(&share)
            .ok()
            .map(|l| l.local)
    });
    let settings = JoinSettings {
        certificates: crate::cluster::facts::CertificateStore::of(&req.root),
        root: req.root,
        share,
        name: req.name,
        scope: req.scope,
        code,
        register_timeout: None,
        verify_timeout: Duration::from_secs(JOIN_VERIFY_SECS),
    };
    let stop = || current.load(Ordering::SeqCst) != generation;
    let mut on = |event| post(JoinUpdate::Event(event));
    if let Err(p) = crate::workflows::join::join(&settings, profile, &stop, &mut on) {
        post(JoinUpdate::Failed(p.to_string()));
    }
}

/// How long the join screen waits for this node's cluster log to confirm
/// the primary (as `join`'s default `--verify-timeout`).
const JOIN_VERIFY_SECS: u64 = 120;

/// Listen for secondaries and post what is found, judged, whenever it
/// changes; also the join code to show. Stops when a newer discovery starts
/// (or the wizard ends).
/// Step 10's follower: the cluster log from its beginning, then polled,
/// posting what it confirms whenever something about the nodes happened.
/// What the health screen checks for the plan (read once per screen).
fn health_settings(plan: &Plan) -> Result<crate::health::Settings, String> {
    crate::health::Settings::for_plan(
        plan,
        Duration::from_secs(5),
        crate::health::Thresholds::default(),
    )
    .map_err(|p| p.what)
}

/// One health round for the plan, with what was not checked.
fn health_round(
    plan: &Plan,
    profile: &Profile,
) -> Result<(crate::health::Round, Vec<String>), String> {
    let settings = health_settings(plan)?;
    Ok((crate::health::round(&settings, profile), settings.notes))
}

/// Health rounds until `current` moves on from `generation`, one every
/// [`super::app::HEALTH_INTERVAL`] (checked often, so leaving the screen
/// ends the thread quickly).
fn watch_health(
    generation: u64,
    current: &AtomicU64,
    plan: &Plan,
    profile: &Profile,
    tx: &Sender<Msg>,
) {
    let settings = match health_settings(plan) {
        Ok(s) => s,
        Err(why) => {
            let _ = tx.send(Msg::Health {
                generation,
                round: Err(why),
            });
            return;
        }
    };
    while current.load(Ordering::SeqCst) == generation {
        let started = Instant::now();
        let round = Ok((
            crate::health::round(&settings, profile),
            settings.notes.clone(),
        ));
        if tx.send(Msg::Health { generation, round }).is_err() {
            return;
        }
        while started.elapsed() < super::app::HEALTH_INTERVAL {
            if current.load(Ordering::SeqCst) != generation {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn follow_log(
    generation: u64,
    current: &AtomicU64,
    root: &Path,
    nodes: &[crate::clusterlog::NodeSpec],
    profile: &Profile,
    tx: &Sender<Msg>,
) {
    use crate::clusterlog::watch::News;
    use crate::clusterlog::{Confirmations, Watch};
    let mut watch = match Watch::new(root, profile, nodes) {
        Ok(w) => w,
        Err(p) => {
            let _ = tx.send(Msg::ClusterLog {
                generation,
                found: format!("cannot read the cluster log: {}", p.what),
                confirmations: Confirmations::new(nodes),
                lines: Vec::new(),
            });
            return;
        }
    };
    let mut shown: Option<String> = None;
    while current.load(Ordering::SeqCst) == generation {
        let mut lines = Vec::new();
        watch.poll(&mut |news| match news {
            News::Matched {
                event,
                node: Some(_),
                ..
            } => lines.push(event.text),
            News::File(h) => lines.push(h.describe()),
            News::Matched { .. } | News::Line(_) => {}
        });
        let found = watch.found().describe();
        if !lines.is_empty() || shown.as_deref() != Some(found.as_str()) {
            shown = Some(found.clone());
            let sent = tx.send(Msg::ClusterLog {
                generation,
                found,
                confirmations: watch.confirmations().clone(),
                lines,
            });
            if sent.is_err() {
                return;
            }
        }
        std::thread::sleep(crate::clusterlog::POLL);
    }
}

fn discover(
    generation: u64,
    current: &AtomicU64,
    plan: &Plan,
    scope: &Scope,
    manual: &[String],
    profile: &Profile,
    tx: &Sender<Msg>,
) {
    let still = || current.load(Ordering::SeqCst) == generation;
    let post = |reports: Vec<NodeReport>, why: String| {
        tx.send(Msg::Discovered {
            generation,
            reports,
            why,
        })
        .is_ok()
    };
    let resolver = crate::location::Resolver::new(plan.mounts.clone());
    let (Ok(root), Ok(share)) = (
        resolver.locate(&plan.install_root),
        resolver.locate(&plan.shared.path),
    ) else {
        return;
    };
    let code = pairing::code_to_show(&root.local.join(crate::fsops::state_dir::STATE_DIR));
    let _ = tx.send(Msg::JoinCode(
        code.as_ref()
            .map(|(c, until)| (c.display(), *until))
            .map_err(|p| p.what.clone()),
    ));
    let settings = SurveySettings {
        certificates: crate::cluster::facts::CertificateStore::of(&root.local),
        root: root.local,
        share: Some(share.local),
        primary: plan.primary().map(|n| n.name.clone()).unwrap_or_default(),
        scope: scope.clone(),
        code: code.ok().map(|(c, _)| c),
        ignore: Vec::new(),
    };
    let mut survey = match Survey::start(settings, profile) {
        Ok(s) => s,
        Err(p) => {
            post(Vec::new(), p.to_string());
            return;
        }
    };
    for host in manual {
        survey.add_manual(host);
    }
    survey.watch(&|| !still(), &mut |judged| post(judged.reports, judged.why));
}

/// Engine events become messages.
struct ChannelSink(Sender<Msg>);

impl EventSink for ChannelSink {
    fn emit(&self, event: Event) {
        let _ = self.0.send(Msg::Engine(event));
    }
}

/// Carry out one command and post the result (and engine events).
pub(crate) fn execute(cmd: Cmd, profile: &Profile, tx: &Sender<Msg>) {
    let msg = match cmd {
        Cmd::Preview {
            generation,
            plan,
            discovered,
        } => {
            let result = Engine::open(*plan, profile.clone()).and_then(|mut e| {
                e.discovered = discovered;
                e.prepare()
            });
            Msg::Preview { generation, result }
        }
        Cmd::Register { plan, names } => {
            let share = crate::location::Resolver::new(plan.mounts.clone())
                .locate(&plan.shared.path)
                .map(|l| l.local);
            Msg::Registered(
                share
                    .and_then(|s| {
                        crate::cluster::manifest::confirm_registered(&s, &names, "wizard")
                    })
                    .map_err(|p| p.what),
            )
        }
        // Stateful: carried out by the executor.
        Cmd::HoldLock { .. }
        | Cmd::ReleaseLock
        | Cmd::Discover { .. }
        | Cmd::FollowLog { .. }
        | Cmd::Join { .. }
        | Cmd::StopJoin
        | Cmd::WatchHealth { .. }
        | Cmd::StopHealth => return,
        Cmd::Apply { plan_text, preview } => {
            let result = apply(&plan_text, &preview, profile, tx);
            Msg::Finished {
                undo: false,
                result,
            }
        }
        Cmd::Undo { plan, latest } => {
            let sink = ChannelSink(tx.clone());
            let result = Engine::open(*plan, profile.clone()).and_then(|mut e| match &latest {
                Some(run) => e.undo_latest(Some(run), &sink),
                None => e.undo(&sink),
            });
            Msg::Finished { undo: true, result }
        }
        Cmd::UndoList { plan } => {
            let lines =
                |list: &[(crate::steps::StepId, usize, crate::steps::Action)]| -> Vec<String> {
                    list.iter()
                        .map(|(step, _, a)| format!("[{step}] {}", a.describe_undo()))
                        .collect()
                };
            match Engine::open(*plan, profile.clone()) {
                Ok(e) => Msg::UndoList {
                    list: Ok(lines(&e.undo_list())),
                    // An unfinished undo of the latest run is finished as such.
                    latest: e
                        .latest_run()
                        .ok()
                        .filter(|_| e.replay.undoing_run.is_none())
                        .map(|l| (l.run.clone(), lines(&l.actions))),
                    finishing_latest: e.replay.undoing_run.is_some(),
                },
                Err(p) => Msg::UndoList {
                    list: Err(p.to_string()),
                    latest: None,
                    finishing_latest: false,
                },
            }
        }
        Cmd::SavePlan { path, text } => Msg::Saved(save_plan(&path, &text)),
        Cmd::ProbeFolder { path } => Msg::FolderProbed {
            is_dir: Path::new(&path).is_dir(),
            path,
        },
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
pub(crate) fn keep_plan(plan_text: &str, profile: &Profile) -> Result<Plan, Problem> {
    let probe = Plan::parse(plan_text, Path::new(WIZARD_PLAN), profile)
        .map_err(|e| crate::plan::plan_problem(Path::new(WIZARD_PLAN), &e))?;
    let root = crate::location::Resolver::new(probe.mounts.clone()).locate(&probe.install_root)?;
    let state = root.local.join(crate::fsops::state_dir::STATE_DIR);
    crate::fsops::state_dir::create_state_dir(&state)?;
    let file = state.join(WIZARD_PLAN);
    crate::fsops::atomic::write_atomic(&file, plan_text.as_bytes(), None).map_err(|e| {
        Problem::new(Exit::Failed, e.to_string())
            .fix("make sure this account may write the installation folder")
    })?;
    Ok(Plan { file, ..probe })
}

/// Write a plan file; never over an existing file.
pub(crate) fn save_plan(path: &Path, text: &str) -> Result<std::path::PathBuf, String> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => {
                "that file exists; choose another name".to_string()
            }
            _ => format!(
                "cannot create {}: {}",
                path.display(),
                crate::problem::describe_io(&e)
            ),
        })?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path.to_path_buf())
}

/// The event loop: draw, wait for a message (or a tick), update, repeat.
/// `first_frame_only` stops after the first frame (the start-up benchmark).
pub(crate) fn run_loop<B: Backend>(
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
    let panic_after_first_frame =
        crate::test_hooks::is_set(crate::test_hooks::PANIC_AFTER_FIRST_FRAME);
    loop {
        let mut drawn = view::Drawn::default();
        terminal
            .draw(|f| drawn = view::render(f, app))
            .map_err(|e| e.to_string())?;
        app.drawn(drawn);
        if first_frame_only {
            if let Some(t) = crate::output::STARTED.get() {
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
pub(crate) fn run_terminal(mut app: App, profile: Profile) -> Result<App, Problem> {
    let first_frame_only = crate::test_hooks::is_set(crate::test_hooks::EXIT_AFTER_FIRST_FRAME);
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
    let exec = Threads::new(profile);
    run_loop(&mut terminal, &mut app, &rx, &tx, &exec, first_frame_only)
        .map_err(|e| Problem::other(format!("the terminal failed: {e}")))?;
    Ok(app)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holding(holder: &LockHolder) -> Option<PathBuf> {
        holder.held.lock().unwrap().as_ref().map(|(p, _)| p.clone())
    }

    #[test]
    fn only_the_latest_lock_request_keeps_a_lock() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let holder = LockHolder::default();
        // Share A asked for, then share B; A's answer comes last.
        let for_a = holder.request();
        let for_b = holder.request();
        assert_eq!(holder.hold_path(b.path(), for_b), LockAnswer::Held);
        assert_eq!(holder.hold_path(a.path(), for_a), LockAnswer::Void);
        assert_eq!(holding(&holder).as_deref(), Some(b.path()));
        // A newer request for A replaces B.
        let again = holder.request();
        assert_eq!(holder.hold_path(a.path(), again), LockAnswer::Held);
        assert_eq!(holding(&holder).as_deref(), Some(a.path()));
        // The share gone from the plan (no folder): the old lock is let go.
        let gone = holder.request();
        // (A drive path no mount maps here, and no folder on Windows.)
        let nowhere = crate::winpath::WinPath::parse(r"C:\mdcluster-no-such-share-7f3a").unwrap();
        assert_eq!(
            holder.hold_plan_share(Vec::new(), &nowhere, gone),
            LockAnswer::NoShare
        );
        assert_eq!(holding(&holder), None);
        let again = holder.request();
        assert_eq!(holder.hold_path(a.path(), again), LockAnswer::Held);
        // A release voids what is under way and lets go of the lock.
        let late = holder.request();
        holder.release();
        assert_eq!(holder.hold_path(b.path(), late), LockAnswer::Void);
        assert_eq!(holding(&holder), None);
    }
}
