//! The engine's cross-step passes with a fake MDaemon service: where the
//! stop and the start go, when a running or unknown service refuses the
//! move, and that a run stops and starts it in that order.

use super::*;
use crate::engine::events::Event;
use crate::service::{ServiceControl, ServiceOpener, State};
use std::sync::{Arc, Mutex};

/// A service that is what the test says, and records what it was asked
/// and for which installation folder it was opened.
#[derive(Clone)]
struct Fake {
    state: Arc<Mutex<State>>,
    asked: Arc<Mutex<Vec<&'static str>>>,
    roots: Arc<Mutex<Vec<std::path::PathBuf>>>,
    /// Who held the installation's lock when the service was asked to stop.
    holders: Arc<Mutex<Vec<String>>>,
}

impl Fake {
    fn new(state: State) -> Fake {
        Fake {
            state: Arc::new(Mutex::new(state)),
            asked: Arc::default(),
            roots: Arc::default(),
            holders: Arc::default(),
        }
    }
    fn opener(&self) -> ServiceOpener {
        let me = self.clone();
        Arc::new(move |root, _| {
            me.roots.lock().unwrap().push(root.to_path_buf());
            Box::new(me.clone())
        })
    }
    fn set(&self, state: State) {
        *self.state.lock().unwrap() = state;
    }
    fn asked(&self) -> Vec<&'static str> {
        self.asked.lock().unwrap().clone()
    }
}

impl ServiceControl for Fake {
    fn describe(&self) -> String {
        "the FAKE service".into()
    }
    fn state(&self) -> State {
        self.state.lock().unwrap().clone()
    }
    fn request_stop(&self) -> Result<(), Problem> {
        self.asked.lock().unwrap().push("stop");
        if let Some(root) = self.roots.lock().unwrap().last() {
            let holder = root
                .join(crate::fsops::state_dir::STATE_DIR)
                .join(crate::fsops::lock::HOLDER_FILE);
            let text = std::fs::read_to_string(holder).unwrap_or_default();
            self.holders.lock().unwrap().push(text);
        }
        *self.state.lock().unwrap() = State::Stopped;
        Ok(())
    }
    fn request_start(&self) -> Result<(), Problem> {
        self.asked.lock().unwrap().push("start");
        *self.state.lock().unwrap() = State::Running;
        Ok(())
    }
    fn wait(&self, running: bool, _: Duration, _: &mut dyn FnMut(Duration)) -> Result<(), Problem> {
        match (self.state(), running) {
            (State::Running, true) | (State::Stopped, false) => Ok(()),
            _ => Err(Problem::failed("the fake did not change")),
        }
    }
}

struct NoEvents;
impl EventSink for NoEvents {
    fn emit(&self, _: Event) {}
}

/// A small sandbox and its plan, opened with the fake service.
fn open(dir: &std::path::Path, fake: &Fake, options: RunOptions) -> Engine {
    let profile = Profile::builtin();
    let install = dir.join("MDaemon");
    let share = dir.join("share");
    let small = crate::sandbox::Options {
        accounts: 2,
        messages: 6,
        ..Default::default()
    };
    crate::sandbox::create(&install, &profile, &small).unwrap();
    std::fs::create_dir_all(&share).unwrap();
    let text = crate::sandbox::plan_text(&install, &share);
    let plan = Plan::parse(&text, &dir.join("plan.toml"), &profile).unwrap();
    let mut engine = Engine::open(plan, profile).unwrap();
    engine.services = fake.opener();
    engine.options = options;
    engine
}

/// `--stop-mdaemon`: mdcluster may stop MDaemon and start it again.
fn consent() -> RunOptions {
    RunOptions {
        stop_mdaemon: true,
        ..Default::default()
    }
}

fn service_actions(preview: &Preview) -> Vec<(StepId, &'static str)> {
    preview
        .steps
        .iter()
        .flat_map(|sp| {
            sp.actions.iter().filter_map(move |(_, a)| match a {
                Action::StopService { .. } => Some((sp.step, "stop")),
                Action::StartService { .. } => Some((sp.step, "start")),
                _ => None,
            })
        })
        .collect()
}

#[test]
fn a_running_service_is_stopped_before_the_first_move_and_started_after_the_last_change() {
    let d = tempfile::tempdir().unwrap();
    let fake = Fake::new(State::Running);
    let options = consent();
    let mut engine = open(d.path(), &fake, options);
    let preview = engine.preview().unwrap();
    let service = service_actions(&preview);
    assert_eq!(service.len(), 2, "{service:?}");
    assert_eq!(service[0].1, "stop");
    assert_eq!(service[1].1, "start");
    // The stop opens the first step that moves data; nothing moves before.
    let first_mover = preview
        .steps
        .iter()
        .find(|sp| sp.actions.iter().any(|(_, a)| a.moves_data()))
        .unwrap();
    assert_eq!(service[0].0, first_mover.step);
    assert!(matches!(
        first_mover.actions[0].1,
        Action::StopService { .. }
    ));
    // The run asks the service to stop, then to start, once each, and
    // only ever the service of this installation.
    engine.apply(&preview, "test", &NoEvents).unwrap();
    assert_eq!(fake.asked(), ["stop", "start"]);
    let roots = fake.roots.lock().unwrap().clone();
    assert!(!roots.is_empty());
    assert!(
        roots.iter().all(|r| r == &d.path().join("MDaemon")),
        "{roots:?}"
    );
}

#[test]
fn a_service_started_after_the_preview_stops_the_run_before_anything_moves() {
    let d = tempfile::tempdir().unwrap();
    let fake = Fake::new(State::Stopped);
    let mut engine = open(d.path(), &fake, RunOptions::default());
    let preview = engine.preview().unwrap();
    // Someone starts MDaemon between the preview and the run.
    fake.set(State::Running);
    let err = engine.apply(&preview, "test", &NoEvents).unwrap_err();
    assert!(err.what.contains("the FAKE service is running"), "{err}");
    assert!(fake.asked().is_empty());
    // Nothing moved: the mail store is still in the installation.
    assert!(d.path().join("MDaemon/Users").is_dir());
}

#[test]
fn a_running_service_without_consent_refuses_the_move_naming_it() {
    let d = tempfile::tempdir().unwrap();
    let fake = Fake::new(State::Running);
    let engine = open(d.path(), &fake, RunOptions::default());
    // Refused by the preview's checks, on each step that moves data.
    let Err(err) = engine.preview() else {
        panic!("the preview went through")
    };
    assert_eq!(err.exit, crate::problem::Exit::Refused);
    for step in ["[lockfiles]", "[mail-store]"] {
        assert!(
            err.what
                .contains(&format!("{step} MDaemon stopped: MDaemon is running")),
            "{err}"
        );
    }
    assert!(err.what.contains("--stop-mdaemon"), "{err}");
    assert!(fake.asked().is_empty());
}

#[test]
fn a_service_that_cannot_be_asked_refuses_unless_said_to_be_stopped() {
    let d = tempfile::tempdir().unwrap();
    let fake = Fake::new(State::Unknown("no service manager here".into()));
    let engine = open(d.path(), &fake, RunOptions::default());
    let Err(err) = engine.preview() else {
        panic!("the preview went through")
    };
    assert!(
        err.what
            .contains("cannot tell whether MDaemon runs: no service manager here"),
        "{err}"
    );
    assert!(err.what.contains("--mdaemon-stopped"), "{err}");

    let d = tempfile::tempdir().unwrap();
    let said = RunOptions {
        mdaemon_stopped: true,
        ..Default::default()
    };
    let mut engine = open(d.path(), &fake, said);
    let preview = engine.preview().unwrap();
    engine.apply(&preview, "test", &NoEvents).unwrap();
    assert!(fake.asked().is_empty(), "never asked to stop or start");
}

#[test]
fn a_stopped_service_is_left_alone() {
    let d = tempfile::tempdir().unwrap();
    let fake = Fake::new(State::Stopped);
    let options = consent();
    let mut engine = open(d.path(), &fake, options);
    let preview = engine.preview().unwrap();
    assert!(service_actions(&preview).is_empty());
    engine.apply(&preview, "test", &NoEvents).unwrap();
    assert!(fake.asked().is_empty());
}

#[test]
fn with_consent_a_service_started_after_the_preview_is_stopped_and_started_again() {
    let d = tempfile::tempdir().unwrap();
    let fake = Fake::new(State::Stopped);
    let options = consent();
    let mut engine = open(d.path(), &fake, options);
    let preview = engine.preview().unwrap();
    assert!(service_actions(&preview).is_empty());
    fake.set(State::Running);
    engine.apply(&preview, "test", &NoEvents).unwrap();
    assert_eq!(fake.asked(), ["stop", "start"]);
    assert_eq!(fake.state(), State::Running);
}

#[test]
fn the_lock_names_the_engine_host_and_time() {
    let d = tempfile::tempdir().unwrap();
    let fake = Fake::new(State::Running);
    let mut engine = open(d.path(), &fake, consent());
    engine.host = "TESTHOST".into();
    engine.clock = crate::platform::Clock::fixed("2031-02-03T04:05:06Z");
    let preview = engine.preview().unwrap();
    engine.apply(&preview, "test", &NoEvents).unwrap();
    let holders = fake.holders.lock().unwrap().clone();
    assert_eq!(holders.len(), 1, "{holders:?}");
    let h: serde_json::Value = serde_json::from_str(&holders[0]).unwrap();
    assert_eq!(h["host"], "TESTHOST");
    assert_eq!(h["since"], "2031-02-03T04:05:06Z");
    assert_eq!(h["command"], "test");
}

#[test]
fn what_a_run_writes_down_carries_the_engine_clock() {
    let d = tempfile::tempdir().unwrap();
    let fake = Fake::new(State::Stopped);
    let mut engine = open(d.path(), &fake, RunOptions::default());
    // A secondary found (trusted, every rule met), so the manifest is written.
    add_found_secondary(&mut engine);
    let time = "2031-02-03T04:05:06Z";
    engine.clock = crate::platform::Clock::fixed(time);
    let preview = engine.preview().unwrap();
    engine.apply(&preview, "test", &NoEvents).unwrap();
    let journal = std::fs::read_to_string(engine.journal_path()).unwrap();
    assert!(journal.lines().count() > 5, "{journal}");
    for line in journal.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["time"], time, "{line}");
        if let Some(run) = v["run"].as_str() {
            assert!(run.starts_with("20310203T040506Z-"), "{line}");
        }
    }
    let manifest = crate::cluster::manifest::Manifest::load(&d.path().join("share"))
        .unwrap()
        .expect("the run writes the cluster manifest");
    assert!(!manifest.nodes.is_empty());
    for n in &manifest.nodes {
        assert_eq!(n.added, time, "{}", n.name);
    }
}

/// A run killed after a step's last action and before its done record: the
/// step has nothing left to do, yet it is unfinished. A rerun writes its
/// done record, also when no other step has anything to change.
#[test]
fn a_step_stopped_after_its_last_action_is_finished_by_a_rerun() {
    let d = tempfile::tempdir().unwrap();
    let fake = Fake::new(State::Stopped);
    let mut engine = open(d.path(), &fake, RunOptions::default());
    let preview = engine.preview().unwrap();
    engine.apply(&preview, "test", &NoEvents).unwrap();
    // Cut the journal after the last `done` record: the kill.
    let path = engine.journal_path();
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let last_done = lines
        .iter()
        .rposition(|l| l.contains("\"record\":\"done\""))
        .expect("a done record");
    let cut: String = lines[..=last_done]
        .iter()
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&path, cut).unwrap();
    let stopped: serde_json::Value = serde_json::from_str(lines[last_done]).unwrap();
    let step: StepId = serde_json::from_value(stopped["step"].clone()).unwrap();

    let mut engine = open_again(d.path(), &fake);
    let row = |e: &Engine| e.status().into_iter().find(|r| r.step == step).unwrap();
    assert_eq!(row(&engine).state, StepStatus::Interrupted);
    let preview = engine.preview().unwrap();
    assert!(preview.has_changes(), "the unfinished step is to finish");
    let before = std::fs::read_to_string(&path).unwrap().lines().count();
    let summary = engine.apply(&preview, "test", &NoEvents).unwrap();
    assert!(summary.changed.contains(&step), "{:?}", summary.changed);
    assert_eq!(row(&engine).state, StepStatus::Done);
    // Nothing ran again: the rerun wrote its begin, the step's done record
    // and its end, and says nothing of the stop any more.
    let after = std::fs::read_to_string(&path).unwrap();
    let new: Vec<&str> = after.lines().skip(before).collect();
    assert_eq!(new.len(), 3, "{new:?}");
    assert!(new[1].contains("\"record\":\"step-done\""), "{new:?}");
    assert!(
        summary.notes.iter().all(|n| !n.contains("stopped here")),
        "{:?}",
        summary.notes
    );
    assert!(!engine.preview().unwrap().has_changes());
}

/// The engine of a sandbox `open` made before, as a rerun opens it.
fn open_again(dir: &std::path::Path, fake: &Fake) -> Engine {
    let profile = Profile::builtin();
    let text = crate::sandbox::plan_text(&dir.join("MDaemon"), &dir.join("share"));
    let plan = Plan::parse(&text, &dir.join("plan.toml"), &profile).unwrap();
    let mut engine = Engine::open(plan, profile).unwrap();
    engine.services = fake.opener();
    engine
}

/// Undo takes a registered secondary out of the manifest and says what is
/// left to do in MDaemon.
#[test]
fn undo_says_which_nodes_mdaemon_still_has_registered() {
    let d = tempfile::tempdir().unwrap();
    let fake = Fake::new(State::Stopped);
    let mut engine = open(d.path(), &fake, RunOptions::default());
    add_found_secondary(&mut engine);
    let preview = engine.preview().unwrap();
    engine.apply(&preview, "test", &NoEvents).unwrap();
    let share = d.path().join("share");
    crate::cluster::manifest::confirm_registered(&share, &["MAIL2".into()], "test").unwrap();
    let summary = engine.undo(&NoEvents).unwrap();
    assert!(
        summary
            .notes
            .iter()
            .any(|n| n.contains("MAIL2") && n.contains("still registered in MDaemon")),
        "{:?}",
        summary.notes
    );
}

/// MAIL2 in the plan and found by discovery: trusted, every rule met.
fn add_found_secondary(engine: &mut Engine) {
    engine.plan.nodes.push(crate::plan::Node {
        name: "MAIL2".into(),
        address: "127.0.0.1".into(),
        role: crate::plan::Role::Secondary,
        server_id: None,
        replaces: None,
    });
    engine.discovered = Some(vec![crate::discovery::survey::NodeReport {
        name: "MAIL2".into(),
        addresses: vec!["127.0.0.1".parse().unwrap()],
        unsigned_addresses: Vec::new(),
        source: crate::discovery::survey::Source::Mdns,
        trusted: true,
        untrusted: None,
        facts: None,
        rules: Vec::new(),
    }]);
}
