//! Snapshots of every wizard screen at 80x24 and 120x40, driven by message
//! sequences through the real update function, commands carried out inline.

//!
//! Windows has a set of its own (`@windows`): paths there are written with
//! `\` and the lab folder has another length, so lines wrap elsewhere. The
//! labs sit at a fixed folder ([`SNAP_ROOT`]).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use mdcluster::engine::events::Event;
use mdcluster::plan::ServerId;
use mdcluster::profile::Profile;
use mdcluster::steps::StepId;
use mdcluster::wizard::answers::Answers;
use mdcluster::wizard::app::{App, Msg};
use mdcluster::wizard::runtime::{self, Executor};
use mdcluster::wizard::view;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::time::{Duration, Instant};

const SIZES: [(u16, u16); 2] = [(80, 24), (120, 40)];

/// Where the labs go: a fixed folder, so that layouts do not depend on the
/// temp folder's name.
#[cfg(not(windows))]
const SNAP_ROOT: &str = "/tmp/mdc-snap";
#[cfg(windows)]
const SNAP_ROOT: &str = r"C:\mdc-snap";

fn saved_plan() -> PathBuf {
    Path::new(SNAP_ROOT).join("saved-plan.toml")
}

/// A sandbox at a fixed path (so layouts do not depend on temp-name lengths).
struct Lab {
    dir: PathBuf,
    install: PathBuf,
    share: PathBuf,
}

impl Lab {
    fn new(name: &str) -> Lab {
        let dir = Path::new(SNAP_ROOT).join(name);
        let _ = std::fs::remove_dir_all(&dir);
        let install = dir.join("MDaemon");
        let share = dir.join("share");
        let opts = mdcluster::sandbox::Options {
            accounts: 6,
            messages: 60,
            seed: 3,
            message_size: None,
        };
        mdcluster::sandbox::create(&install, &Profile::builtin(), &opts).unwrap();
        std::fs::create_dir_all(&share).unwrap();
        Lab {
            dir,
            install,
            share,
        }
    }

    fn answers(&self) -> Answers {
        let profile = Profile::builtin();
        let earlier = mdcluster::workflows::start::EarlierRun::read(&self.install, &profile);
        let mut a = Answers::from_disk(&self.install, &profile, &earlier);
        a.node_name = "MAIL1".into();
        a.node_address = "192.0.2.11".into();
        a
    }

    fn filled(&self) -> Answers {
        let mut a = self.answers();
        a.shared_path = r"\\fileserver\mdaemon".into();
        a.shared_local = self.share.display().to_string();
        a
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Driver {
    app: App,
    exec: runtime::Inline,
    tx: Sender<Msg>,
    rx: Receiver<Msg>,
    t0: Instant,
}

impl Driver {
    fn new(answers: Answers, color: bool) -> Driver {
        let profile = Profile::builtin();
        let earlier =
            mdcluster::workflows::start::EarlierRun::read(&answers.install_local, &profile);
        let mut app = App::new(profile.clone(), answers, color, earlier);
        app.save_path = saved_plan().display().to_string();
        let (tx, rx) = channel();
        let t0 = Instant::now();
        let mut d = Driver {
            exec: runtime::Inline {
                profile: profile.clone(),
                lock: Default::default(),
            },
            app,
            tx,
            rx,
            t0,
        };
        let first = d.app.update(Msg::Tick(t0));
        for cmd in first.into_iter().chain(d.app.start()) {
            d.exec.run(cmd, d.tx.clone());
        }
        d.pump();
        d
    }

    /// Feed every waiting message; commands run inline and answer at once.
    fn pump(&mut self) {
        while let Ok(msg) = self.rx.try_recv() {
            for cmd in self.app.update(msg) {
                self.exec.run(cmd, self.tx.clone());
            }
        }
    }

    fn send(&mut self, msg: Msg) {
        for cmd in self.app.update(msg) {
            self.exec.run(cmd, self.tx.clone());
        }
        self.pump();
    }

    fn key(&mut self, code: KeyCode) {
        self.send(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
    }

    fn keys(&mut self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c));
        }
    }

    fn select(&mut self, step: StepId) {
        while self.app.selected.number() > step.number() {
            self.key(KeyCode::Up);
        }
        while self.app.selected.number() < step.number() {
            self.key(KeyCode::Down);
        }
    }

    fn render(&self, w: u16, h: u16) -> String {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        terminal
            .draw(|f| {
                view::render(f, &self.app);
            })
            .unwrap();
        terminal.backend().to_string()
    }

    /// Draw as the event loop does: what the frame showed goes back to the
    /// model (the page's end, the nodes table's first row).
    fn draw(&mut self, w: u16, h: u16) -> String {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        let mut drawn = view::Drawn::default();
        terminal
            .draw(|f| drawn = view::render(f, &self.app))
            .unwrap();
        self.app.drawn(drawn);
        terminal.backend().to_string()
    }

    /// Snapshot at both sizes.
    fn snap(&self, name: &str) {
        for (w, h) in SIZES {
            let screen = self.render(w, h);
            assert!(!screen.contains('\u{1b}'), "raw escape on screen");
            let mut settings = insta::Settings::clone_current();
            settings.add_filter(r"(/tmp/mdc-snap|C:\\mdc-snap)[/\\][a-z0-9-]+", "[LAB]");
            settings.add_filter(r"\d+(\.\d)? (bytes|KB|MB|GB|TB) free", "[N] free");
            settings.add_filter(r"\d{8}T\d{6}Z-\d+", "[RUN]");
            if cfg!(windows) {
                settings.set_snapshot_suffix("windows");
            }
            settings.bind(|| insta::assert_snapshot!(format!("{name}-{w}x{h}"), screen));
        }
    }
}

#[test]
fn first_start_asks_for_the_shared_path() {
    let lab = Lab::new("first-start");
    let d = Driver::new(lab.answers(), true);
    assert_eq!(
        d.app.step_state(StepId::SharedPath),
        mdcluster::steps::StepStatus::NeedsInput
    );
    d.snap("first-start");
}

#[test]
fn validation_as_you_type() {
    let lab = Lab::new("typing");
    let mut d = Driver::new(lab.answers(), true);
    d.keys(r"S:\mdaemon");
    assert!(d.render(80, 24).contains("UNC"));
    d.snap("typing-invalid");
    for _ in 0..10 {
        d.key(KeyCode::Backspace);
    }
    d.keys(r"\\fileserver\mdaemon");
    d.snap("typing-valid");
}

#[test]
fn every_step_pane_after_the_preview() {
    let lab = Lab::new("steps");
    let mut d = Driver::new(lab.filled(), true);
    assert!(d.app.can_apply().is_ok(), "{:?}", d.app.can_apply());
    for step in [
        StepId::SharedPath,
        StepId::Lockfiles,
        StepId::Pem,
        StepId::Directories,
        StepId::MailStore,
        StepId::LoadBalancer,
    ] {
        d.select(step);
        d.snap(&format!("step-{}", step.id()));
    }
    // the directories diff scrolls
    d.select(StepId::Directories);
    d.key(KeyCode::PageDown);
    d.snap("step-directories-scrolled");
}

/// At 80 columns an event longer than the pane wraps (its end is shown,
/// not cut), and a terminal below 80x24 says so.
#[test]
fn long_events_wrap_and_a_small_terminal_gets_a_notice() {
    let lab = Lab::new("events");
    let mut d = Driver::new(lab.filled(), true);
    d.app.event(format!(
        "MAIL7 cannot be added: {} END-OF-MESSAGE",
        "the shared path is not reachable from it ".repeat(2)
    ));
    let screen = d.render(80, 24);
    assert!(screen.contains("END-OF-MESSAGE"), "{screen}");
    assert!(!screen.contains("needs 80x24"), "{screen}");
    for (w, h) in [(79, 24), (80, 23), (60, 16), (50, 12)] {
        let screen = d.render(w, h);
        // Whole on the title line, down to 50 columns.
        assert!(
            screen.contains(&format!(" mdcluster needs 80x24; this terminal is {w}x{h}")),
            "{w}x{h}:\n{screen}"
        );
    }
}

/// The step pane's rows (between its borders), from a rendered screen.
fn pane_rows(screen: &str) -> Vec<String> {
    screen
        .lines()
        .filter_map(|l| l.split_once("││").map(|(_, rest)| rest))
        .map(|rest| {
            rest.trim_end_matches(['"', ' '])
                .trim_end_matches('│')
                .trim_end()
                .to_string()
        })
        .collect()
}

/// A step page scrolls to its last line and stops there: End puts the
/// page's last line on the pane's last row, PgDn past it changes nothing,
/// and one PgUp moves back at once.
#[test]
fn step_pages_scroll_to_their_end_and_stop_there() {
    let lab = Lab::new("scroll-end");
    let mut d = Driver::new(lab.filled(), true);
    d.select(StepId::Directories);
    // The whole page on a tall terminal: its last line.
    let last_line = |d: &mut Driver, w: u16| {
        let rows = pane_rows(&d.draw(w, 200));
        rows.iter().rev().find(|r| !r.is_empty()).cloned().unwrap()
    };
    for (w, h) in [(80, 24), (140, 45)] {
        let last = last_line(&mut d, w);
        d.key(KeyCode::Home);
        let top = d.draw(w, h);
        assert_ne!(
            pane_rows(&top).last(),
            Some(&last),
            "the page is taller than the pane"
        );
        d.key(KeyCode::End);
        let end = d.draw(w, h);
        assert_eq!(
            pane_rows(&end).last(),
            Some(&last),
            "{w}x{h}: End shows the end:\n{end}"
        );
        for _ in 0..3 {
            d.key(KeyCode::PageDown);
            assert_eq!(d.draw(w, h), end, "{w}x{h}: nothing below the end");
        }
        d.key(KeyCode::PageUp);
        let up = d.draw(w, h);
        assert_ne!(up, end, "one PgUp moves back at once");
        // By the pane's rows less two: the top two rows of the end were
        // the bottom two rows before (or, on a page less than a pane
        // longer, back to its top).
        if d.app.page.max_scroll >= d.app.page.rows - 2 {
            let (up_rows, end_rows) = (pane_rows(&up), pane_rows(&end));
            let n = up_rows.len();
            assert_eq!(up_rows[n - 2..], end_rows[..2], "{w}x{h}:\n{up}\n{end}");
        } else {
            assert_eq!(up, top, "{w}x{h}");
        }
        d.key(KeyCode::Home);
        assert_eq!(d.draw(w, h), top);
    }
    // At the end on a small terminal, then a larger one: the page stops at
    // its end there too (no empty rows below it).
    d.key(KeyCode::End);
    d.draw(80, 24);
    let last = last_line(&mut d, 140);
    let screen = d.draw(140, 45);
    assert_eq!(pane_rows(&screen).last(), Some(&last), "{screen}");
}

#[test]
fn confirm_run_summary_and_save() {
    let lab = Lab::new("run");
    let mut d = Driver::new(lab.filled(), true);
    d.key(KeyCode::Char('a'));
    d.snap("confirm-apply");

    // A run in progress, from engine events with a known clock.
    let t0 = d.t0;
    d.app.screen = mdcluster::wizard::app::Screen::Running;
    d.send(Msg::Engine(Event::StepStarted {
        step: StepId::Lockfiles,
        number: 2,
        title: StepId::Lockfiles.title(),
    }));
    d.send(Msg::Engine(Event::ActionStarted {
        step: StepId::Lockfiles,
        action: 1,
        kind: "move-folder",
        description: r"move C:\MDaemon\LockFiles\ -> \\fileserver\mdaemon\Users\LockFiles\".into(),
    }));
    // The second of two folders (the first 10 MB), as the engine says it.
    let progress = |phase, files_done: u64, files_removed: u64| {
        Msg::Engine(Event::StepProgress {
            step: StepId::Lockfiles,
            progress: FolderProgress {
                phase,
                files_done,
                files_total: 1000,
                bytes_done: files_done << 14,
                bytes_total: 1000 << 14,
                files_removed,
                folder: 2,
                folders: 2,
                step_bytes_done: (10 << 20) + (files_done << 14),
                step_bytes_total: (10 << 20) + (1000 << 14),
            },
        })
    };
    use mdcluster::engine::events::{FolderProgress, Phase};
    d.send(progress(Phase::Copy, 400, 0));
    d.send(Msg::Tick(t0 + Duration::from_secs(2)));
    d.send(progress(Phase::Copy, 600, 0));
    let screen = d.render(120, 40);
    // The whole step's share on the bar, this folder's counts in words.
    assert!(
        screen.contains("600/1000 files") && screen.contains("folder 2/2, step 76%"),
        "{screen}"
    );
    d.snap("running");
    // Copied is not done: the flush and the deletion are said as such, and
    // the time left is gone from them.
    d.send(progress(Phase::Flush, 1000, 0));
    let screen = d.render(120, 40);
    assert!(
        screen.contains("flushing 1000 copied files to disk"),
        "{screen}"
    );
    d.send(progress(Phase::Delete, 1000, 250));
    let screen = d.render(120, 40);
    assert!(
        screen.contains("deleting the source: 250/1000 files, each copy verified")
            && !screen.contains("left"),
        "{screen}"
    );
    d.send(progress(Phase::Copy, 600, 0));
    d.key(KeyCode::Char('q'));
    d.snap("confirm-quit-while-running");
    d.key(KeyCode::Char('n'));

    // The real run: confirm and let the engine work (inline).
    d.app.screen = mdcluster::wizard::app::Screen::Steps;
    d.app.run_states.clear();
    d.app.progress = None;
    d.key(KeyCode::Char('a'));
    d.key(KeyCode::Char('y'));
    assert_eq!(d.app.screen, mdcluster::wizard::app::Screen::Summary);
    assert!(lab.share.join("Users/LockFiles").is_dir());
    // The run id (time and process) wraps across lines on screen: pin it.
    if let Some(Ok(summary)) = d.app.finished.as_mut().map(|f| f.result.as_mut()) {
        let fixed = lab.install.join("mdcluster").join("backups").join("RUN-ID");
        std::fs::rename(summary.backups.as_ref().unwrap(), &fixed).unwrap();
        summary.backups = Some(fixed);
    }
    d.snap("summary");
    d.key(KeyCode::Char('s'));
    d.snap("save-plan");
    let _ = std::fs::remove_file(saved_plan());
    d.key(KeyCode::Enter);
    assert!(saved_plan().exists());
    let _ = std::fs::remove_file(saved_plan());
}

#[test]
fn an_interrupted_run_offers_resume_undo_quit() {
    let lab = Lab::new("resume");
    // Interrupt a headless run of the wizard's own plan after its first records.
    let plan = lab.dir.join("plan.toml");
    std::fs::write(&plan, lab.filled().plan_text()).unwrap();
    let out = assert_cmd::Command::cargo_bin("mdcluster")
        .unwrap()
        .args(["apply", "--yes", "--plan"])
        .arg(&plan)
        .env("MDCLUSTER_CRASH_AFTER_RECORD", "5")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let mut d = Driver::new(lab.answers(), true);
    assert_eq!(d.app.screen, mdcluster::wizard::app::Screen::Resume);
    assert_eq!(
        d.app.answers.shared_path, r"\\fileserver\mdaemon",
        "answers come back from the journal's plan"
    );
    d.snap("resume");
    // Undo lists what it would reverse before it asks, then no goes back.
    d.key(KeyCode::Char('u'));
    let screen = d.render(120, 40);
    assert!(
        screen.contains("reverses:") && screen.contains("[lockfiles]"),
        "{screen}"
    );
    assert!(screen.contains("stay registered in"), "{screen}");
    d.snap("confirm-undo");
    d.key(KeyCode::Char('n'));
    assert_eq!(d.app.screen, mdcluster::wizard::app::Screen::Resume);
    d.key(KeyCode::Char('r'));
    d.key(KeyCode::Char('a'));
    d.key(KeyCode::Char('y'));
    assert!(matches!(
        d.app.finished.as_ref().map(|f| f.result.is_ok()),
        Some(true)
    ));
    assert!(
        String::from_utf8_lossy(&std::fs::read(lab.install.join("App/MDaemon.ini")).unwrap())
            .contains(r"\\fileserver\mdaemon\PEM\")
    );
}

#[test]
fn a_failed_check_and_an_unreadable_installation() {
    let lab = Lab::new("failed");
    std::fs::create_dir_all(lab.share.join("Users/LockFiles")).unwrap();
    std::fs::write(lab.share.join("Users/LockFiles/foreign.lck"), b"x").unwrap();
    let mut d = Driver::new(lab.filled(), true);
    assert!(d.app.can_apply().is_err());
    d.select(StepId::Lockfiles);
    d.snap("check-failed");

    std::fs::remove_file(lab.install.join("App/MDaemon.ini")).unwrap();
    let d = Driver::new(lab.filled(), true);
    d.snap("installation-unreadable");
}

#[test]
fn no_color_means_no_colour() {
    let lab = Lab::new("no-color");
    let d = Driver::new(lab.filled(), false);
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
    terminal
        .draw(|f| {
            view::render(f, &d.app);
        })
        .unwrap();
    let buffer = terminal.backend().buffer();
    assert!(buffer
        .content()
        .iter()
        .all(|c| c.fg == ratatui::style::Color::Reset && c.bg == ratatui::style::Color::Reset));
    let d = Driver::new(lab.filled(), true);
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
    terminal
        .draw(|f| {
            view::render(f, &d.app);
        })
        .unwrap();
    assert!(terminal
        .backend()
        .buffer()
        .content()
        .iter()
        .any(|c| c.fg != ratatui::style::Color::Reset));
}

#[test]
fn hostile_text_from_files_is_never_drawn_raw() {
    let lab = Lab::new("hostile");
    // Terminal escapes in a value of MDaemon.ini that points into a moved folder.
    let ini = lab.install.join("App/MDaemon.ini");
    let bytes = std::fs::read(&ini).unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    assert!(text.contains("Gateways=C:\\MDaemon\\Gateways\\"));
    let hostile = bytes
        .windows(b"Gateways=C:\\MDaemon\\Gateways\\".len())
        .position(|w| w == b"Gateways=C:\\MDaemon\\Gateways\\")
        .unwrap();
    let mut out = bytes[..hostile].to_vec();
    out.extend_from_slice(b"Gateways=C:\\MDaemon\\LockFiles\\x\x1b[2J\x1b]52;c;SGVsbG8=\x07\\");
    out.extend_from_slice(&bytes[hostile + b"Gateways=C:\\MDaemon\\Gateways\\".len()..]);
    std::fs::write(&ini, out).unwrap();
    let mut d = Driver::new(lab.filled(), true);
    for step in StepId::ALL {
        d.select(step);
        for (w, h) in SIZES {
            let screen = d.render(w, h);
            assert!(
                !screen.contains('\u{1b}') && !screen.contains('\u{7}'),
                "{screen}"
            );
        }
    }
    d.select(StepId::SharedPath);
    let screen = d.render(120, 40);
    assert!(
        screen.contains("U+001B") || screen.contains("\\x1b"),
        "shown as a visible escape: {screen}"
    );
}

mod cluster {
    use super::*;
    use mdcluster::cluster::manifest::Manifest;
    use mdcluster::cluster::rules::{Level, RuleId, Verdict, RULES};
    use mdcluster::discovery::survey::{NodeReport, Source};
    use mdcluster::discovery::Scope;

    /// 2026-11-21 14:05 UTC, when the test join code expires.
    const EXPIRES: i64 = 1_795_269_900_000;

    fn report(name: &str, trusted: bool, failing: &[RuleId]) -> NodeReport {
        NodeReport {
            name: name.into(),
            addresses: vec!["192.0.2.12".parse().unwrap()],
            unsigned_addresses: Vec::new(),
            source: Source::Mdns,
            trusted,
            untrusted: (!trusted).then(|| "the signature does not match the join code".into()),
            facts: None,
            rules: if trusted {
                RULES
                    .iter()
                    .map(|r| Verdict {
                        rule: *r,
                        level: if failing.contains(r) {
                            Level::Fail
                        } else {
                            Level::Pass
                        },
                        detail: if failing.contains(r) {
                            "23.0.1 here, 23.5.2 on the primary".into()
                        } else {
                            "same as the primary".into()
                        },
                    })
                    .collect()
            } else {
                Vec::new()
            },
        }
    }

    fn with_discovery(answers: Answers) -> Driver {
        let mut d = Driver::new(answers, true);
        d.app.discovery_scope = Some(Scope {
            loopback: true,
            interfaces: Vec::new(),
        });
        d.send(Msg::JoinCode(Ok(("K7QM-3XPA-9RTW".into(), EXPIRES))));
        d
    }

    fn found(d: &mut Driver, reports: Vec<NodeReport>) {
        let generation = d.app.cluster.generation;
        assert!(generation > 0, "discovery was not started");
        d.send(Msg::Discovered {
            generation,
            reports,
            why: String::new(),
        });
    }

    /// A node name with a bidi override and a C1 CSI (what a hostile
    /// announcement could carry) is drawn as visible escapes, never raw.
    #[test]
    fn bidi_and_c1_controls_from_the_network_are_never_drawn_raw() {
        let lab = Lab::new("cluster-bidi");
        let mut d = with_discovery(lab.filled());
        d.select(StepId::Discover);
        found(
            &mut d,
            vec![report("RTL\u{202e}2LIAM\u{9b}2J\u{2066}", false, &[])],
        );
        for (w, h) in SIZES {
            let screen = d.render(w, h);
            for c in ['\u{202e}', '\u{2066}', '\u{9b}', '\u{1b}'] {
                assert!(!screen.contains(c), "{c:?} drawn raw:\n{screen}");
            }
            assert!(screen.contains("RTL\\u{202e}2LIAM"), "{screen}");
        }
    }

    /// However many nodes answer, the selected row is on screen at 80x24,
    /// and so are its verdicts: what Enter adds is always what is shown.
    #[test]
    fn the_selected_node_and_its_verdicts_stay_in_view_at_80x24() {
        let lab = Lab::new("cluster-many");
        let mut d = with_discovery(lab.filled());
        d.select(StepId::Discover);
        let names: Vec<String> = (2..=13).map(|i| format!("MAIL{i}")).collect();
        let mut reports: Vec<NodeReport> = names.iter().map(|n| report(n, true, &[])).collect();
        reports.push(report("MAIL14", true, &[RuleId::Version]));
        found(&mut d, reports);
        d.key(KeyCode::Enter);
        // Down to the last row (after the primary and twelve others).
        for _ in 0..13 {
            d.key(KeyCode::Down);
        }
        let screen = d.draw(80, 24);
        assert!(screen.contains("> MAIL14"), "{screen}");
        assert!(screen.contains("version: 23.0.1 here"), "{screen}");
        assert!(!screen.contains("> MAIL2 "), "{screen}");
        // The table keeps the rows it shows: one up selects a row already in
        // view, and nothing scrolls.
        let offset = d.app.cluster.offset;
        assert!(offset > 0, "the table scrolled to show MAIL14");
        d.key(KeyCode::Up);
        let screen = d.draw(80, 24);
        assert!(screen.contains("> MAIL13"), "{screen}");
        assert_eq!(d.app.cluster.offset, offset, "{screen}");
        // End selects the last row again.
        d.key(KeyCode::End);
        assert!(d.draw(80, 24).contains("> MAIL14"));
        // Discovery now finds fewer: the table fills from the top again,
        // the last row is the selected one, and Up moves from there.
        let fewer: Vec<NodeReport> = names[..2].iter().map(|n| report(n, true, &[])).collect();
        found(&mut d, fewer);
        let screen = d.draw(80, 24);
        assert!(
            screen.contains("  MAIL1 ") && screen.contains("> MAIL3 "),
            "{screen}"
        );
        d.key(KeyCode::Up);
        assert!(d.draw(80, 24).contains("> MAIL2 "));
        found(&mut d, names.iter().map(|n| report(n, true, &[])).collect());
        d.key(KeyCode::End);
        d.draw(80, 24);
        // Home goes back to the first row, which is shown again.
        d.key(KeyCode::Home);
        let screen = d.draw(80, 24);
        assert!(screen.contains("> MAIL1 "), "{screen}");
        // Enter adds the row shown as selected: MAIL1 is the primary, so
        // nothing is added; one down is MAIL2.
        d.key(KeyCode::Down);
        d.key(KeyCode::Enter);
        assert_eq!(d.app.answers.secondaries[0].name, "MAIL2");
    }

    #[test]
    fn discovery_table_join_code_and_adding_a_node() {
        let lab = Lab::new("cluster-add");
        let mut d = with_discovery(lab.filled());
        d.select(StepId::Discover);
        found(
            &mut d,
            vec![
                report("MAIL2", true, &[]),
                report("MAIL3", true, &[RuleId::Version]),
                report("EVIL\u{1b}[2J", false, &[]),
            ],
        );
        let screen = d.render(120, 40);
        // The command asks for the code: it is on screen, not in the command.
        assert!(
            screen.contains("Join code K7QM-3XPA-9RTW")
                && screen.contains("mdcluster join --share \\\\fileserver\\mdaemon --loopback"),
            "{screen}"
        );
        assert!(!screen.contains("--code"), "{screen}");
        assert!(!screen.contains('\u{1b}'));
        d.snap("cluster-found");

        // Choose MAIL2 (the second row, after the primary) and add it.
        d.key(KeyCode::Enter);
        d.key(KeyCode::Down);
        d.snap("cluster-choosing");
        d.key(KeyCode::Enter);
        assert_eq!(d.app.answers.secondaries.len(), 1);
        assert_eq!(d.app.answers.secondaries[0].name, "MAIL2");
        assert!(d.app.answers.plan_text().contains("name = \"MAIL2\""));
        // The untrusted one cannot be added.
        d.key(KeyCode::Down);
        d.key(KeyCode::Down);
        d.key(KeyCode::Enter);
        assert_eq!(d.app.answers.secondaries.len(), 1);
        assert!(d.app.events.back().unwrap().contains("cannot be added"));
        d.key(KeyCode::Esc);
        assert!(d.app.can_apply().is_ok(), "{:?}", d.app.can_apply());
        d.snap("cluster-added");
        d.select(StepId::ServerIds);
        let screen = d.render(120, 40);
        assert!(screen.contains("adds MAIL1, MAIL2"), "{screen}");
        d.snap("cluster-server-ids");
    }

    /// The wizard adds a node at an address it signed: not at one only an
    /// unsigned A record gives for its host name (which sorts first here),
    /// and shows that one as ignored, with why.
    #[test]
    fn a_found_node_is_added_at_its_signed_address_never_an_unsigned_one() {
        use mdcluster::cluster::facts::Facts;
        use mdcluster::cluster::pairing::{Announcement, JoinCode};
        use mdcluster::discovery::survey::Judge;
        use mdcluster::discovery::Sighting;
        let lab = Lab::new("cluster-unsigned-address");
        let mut d = with_discovery(lab.filled());
        d.select(StepId::Discover);
        let code = JoinCode::generate();
        let now = 1_000_000;
        let facts = Facts {
            name: "MAIL2".into(),
            addresses: vec!["192.0.2.12".parse().unwrap()],
            ..Facts::default()
        };
        let sighting = Sighting {
            fullname: "MAIL2._mdcluster._tcp.local.".into(),
            addresses: ["192.0.2.9", "192.0.2.12"]
                .iter()
                .map(|a| a.parse().unwrap())
                .collect(),
            announcement: Ok(Announcement::sign(facts, now, &code)),
            first_seen: std::time::Instant::now(),
            updated: std::time::Instant::now(),
        };
        let ignore = RULES;
        let primary = Facts::default();
        let judge = Judge {
            primary: &primary,
            code: Some(&code),
            now_ms: now,
            networks: &[],
            members: &[],
            ignore: &ignore,
        };
        found(&mut d, judge.all(&[&sighting], &[]));
        d.key(KeyCode::Enter);
        d.key(KeyCode::Down);
        let screen = d.render(120, 40);
        assert!(
            screen.contains("ignored 192.0.2.9: not in its signed announcement"),
            "{screen}"
        );
        d.key(KeyCode::Enter);
        assert_eq!(d.app.answers.secondaries.len(), 1);
        assert_eq!(d.app.answers.secondaries[0].name, "MAIL2");
        assert_eq!(d.app.answers.secondaries[0].address, "192.0.2.12");
    }

    #[test]
    fn a_node_found_later_or_blocked_by_a_rule_updates_the_preview() {
        let lab = Lab::new("cluster-later");
        let mut a = lab.filled();
        a.add_secondary("MAIL2", "192.0.2.12").unwrap();
        let mut d = with_discovery(a);
        d.select(StepId::Secondaries);
        found(&mut d, vec![]);
        assert!(
            d.app.can_apply().is_ok(),
            "steps 1-5 can go ahead while MAIL2 is awaited"
        );
        d.select(StepId::Discover);
        assert!(d.render(120, 40).contains("not found yet"));
        found(&mut d, vec![report("MAIL2", true, &[RuleId::Version])]);
        d.select(StepId::Secondaries);
        let screen = d.render(120, 40);
        assert!(
            screen.contains("FAIL") && screen.contains("MAIL2: version"),
            "{screen}"
        );
        // Said at once, and only once however often the preview is made.
        let said = |d: &Driver| {
            d.app
                .events
                .iter()
                .filter(|e| e.starts_with("step 7 (secondaries) cannot work: MAIL2: version"))
                .count()
        };
        assert_eq!(said(&d), 1, "{:?}", d.app.events);
        // The failed rule leaves out the secondaries' steps (for every new
        // node: they are judged per step), not the moves: those can still
        // be applied, and the confirmation says what is left out.
        assert!(d.app.can_apply().is_ok(), "{:?}", d.app.can_apply());
        let left: Vec<StepId> = d.app.preview().unwrap().left_out.keys().copied().collect();
        assert_eq!(
            left,
            [StepId::Secondaries, StepId::Discover],
            "steps 9-11 have nothing to run for MAIL2 yet: not left out"
        );
        d.snap("cluster-blocked");
        d.key(KeyCode::Char('a'));
        let screen = d.render(120, 40);
        assert!(
            screen.contains("Left out until corrected: secondaries (its check failed)"),
            "{screen}"
        );
        // MAIL2 now passes: the preview changes under the question, so the
        // first `y` asks again instead of applying what was not read.
        found(&mut d, vec![report("MAIL2", true, &[])]);
        d.key(KeyCode::Char('y'));
        assert!(
            matches!(d.app.screen, mdcluster::wizard::app::Screen::Confirm(_)),
            "{:?}",
            d.app.events
        );
        assert!(d.app.events.back().unwrap().contains("the preview changed"));
        d.key(KeyCode::Char('n'));
        d.keys("x");
        assert_eq!(said(&d), 1, "{:?}", d.app.events);
    }

    fn manifest_with(lab: &Lab, registered: bool) {
        let profile = Profile::builtin();
        let mut a = lab.filled();
        a.add_secondary("MAIL2", "192.0.2.12").unwrap();
        let plan = a.plan(&profile, Path::new("p.toml")).unwrap();
        let mut m = Manifest::default()
            .with_plan(&plan, "2026-11-20T10:00:00Z")
            .unwrap();
        if registered {
            m.nodes[1].registered = Some("2026-11-20T10:05:00Z".into());
        }
        m.save(&lab.share).unwrap();
    }

    /// Step 11 asks which balancer, checks the answer as it is typed, and
    /// once the cluster has a registered secondary previews the files with
    /// the balancer's own verdict; the run writes them and says what next.
    #[test]
    fn the_balancer_step_asks_previews_and_writes_the_files() {
        let lab = Lab::new("balancer");
        manifest_with(&lab, true);
        let mut a = lab.filled();
        a.add_secondary("MAIL2", "192.0.2.12").unwrap();
        let mut d = Driver::new(a, true);
        d.select(StepId::LoadBalancer);
        assert!(d.render(120, 40).contains("no balancer chosen"));
        d.key(KeyCode::Tab);
        d.send(Msg::Key(KeyEvent::new(
            KeyCode::Char('u'),
            KeyModifiers::CONTROL,
        )));
        d.keys("f5");
        assert!(d.render(120, 40).contains("answer haproxy, nginx, apache"));
        d.snap("balancer-typing-invalid");
        d.key(KeyCode::Backspace);
        d.key(KeyCode::Backspace);
        d.keys("haproxy");
        d.key(KeyCode::Enter);
        let screen = d.render(120, 40);
        for want in [
            "routes to: MAIL1 (192.0.2.11, primary), MAIL2 (192.0.2.12)",
            "haproxy.cfg (new)",
            "HAProxy check",
        ] {
            assert!(screen.contains(want), "{want} in {screen}");
        }
        // The file's lines follow, as a diff against nothing.
        d.key(KeyCode::PageDown);
        let screen = d.render(120, 40);
        assert!(screen.contains("+# Generated by mdcluster"), "{screen}");
        d.key(KeyCode::PageUp);
        assert!(d.app.answers.plan_text().contains("kind = \"haproxy\""));

        d.key(KeyCode::Char('a'));
        d.key(KeyCode::Char('y'));
        assert_eq!(d.app.screen, mdcluster::wizard::app::Screen::Summary);
        let cfg = lab
            .install
            .join("mdcluster/load-balancer/haproxy/haproxy.cfg");
        let text = std::fs::read_to_string(&cfg).unwrap();
        assert!(text.contains("server MAIL2 192.0.2.12"), "{text}");
        let summary = d.render(120, 40);
        assert!(summary.contains("reload"), "{summary}");
    }

    /// Step 10: the cluster log of a cluster with a registered secondary,
    /// waiting while a confirmation is missing, done once the log has both;
    /// a clock warning shown; escape sequences from the log never drawn.
    #[test]
    fn step_10_follows_the_cluster_log_until_it_confirms_the_cluster() {
        let lab = Lab::new("cluster-log");
        manifest_with(&lab, true);
        let log = lab.install.join("Logs/MDaemon-2026-11-22-Cluster.log");
        std::fs::write(
            &log,
            "Sun 2026-11-22 10:15:02.117: 17: Cluster service: connected to MAIL2 (server ID 2)\r\n\
             261122 101503204 W [1002FA89] 0x415041A1 Cluster service: clock of MAIL2 differs from this server by 1.4 seconds\r\n\
             Sun 2026-11-22 10:15:04.000: 17: \x1b[2J\x1b]52;c;aGk=\x07 something else\r\n",
        )
        .unwrap();
        let mut a = lab.filled();
        a.add_secondary("MAIL2", "192.0.2.12").unwrap();
        let mut d = Driver::new(a, true);
        d.select(StepId::ClusterLog);
        let screen = d.render(120, 40);
        assert!(
            screen.contains("MDaemon-2026-11-22-Cluster.log"),
            "{screen}"
        );
        assert!(
            screen.contains("waiting: MAIL2: not replicating"),
            "{screen}"
        );
        assert!(screen.contains("clock warning"), "{screen}");
        assert_eq!(
            d.app.step_state(StepId::ClusterLog),
            mdcluster::steps::StepStatus::Waiting
        );
        d.snap("cluster-log-waiting");

        // MDaemon writes the replication: the follower (here: a fresh read)
        // confirms the cluster.
        let mut text = std::fs::read(&log).unwrap();
        text.extend_from_slice(b"261122 101510000 I [1002FA89] 0x415041A1 Cluster service: replication to MAIL2 complete (14 items)\r\n");
        std::fs::write(&log, text).unwrap();
        let generation = d.app.log.generation;
        let (found, confirmations) = mdcluster::clusterlog::scan_once(
            &lab.install,
            &Profile::builtin(),
            &d.app
                .log
                .confirmations
                .as_ref()
                .unwrap()
                .nodes
                .iter()
                .map(|(n, _)| n.clone())
                .collect::<Vec<_>>(),
        )
        .unwrap();
        d.send(Msg::ClusterLog {
            generation,
            found: found.describe(),
            confirmations,
            lines: vec!["Cluster service: replication to MAIL2 complete (14 items)".into()],
        });
        assert_eq!(
            d.app.step_state(StepId::ClusterLog),
            mdcluster::steps::StepStatus::Done
        );
        let screen = d.render(120, 40);
        assert!(screen.contains("confirms every node"), "{screen}");
        d.snap("cluster-log-confirmed");
    }

    #[test]
    fn a_rerun_on_a_cluster_opens_at_add_a_node() {
        let lab = Lab::new("cluster-rerun");
        manifest_with(&lab, true);
        let mut a = lab.filled();
        a.add_secondary("MAIL2", "192.0.2.12").unwrap();
        let mut d = with_discovery(a);
        assert_eq!(d.app.selected, StepId::Discover);
        assert!(d.app.cluster.adding);
        found(
            &mut d,
            vec![report("MAIL2", true, &[]), report("MAIL3", true, &[])],
        );
        let screen = d.render(120, 40);
        assert!(
            screen.contains("in the cluster") && screen.contains("can join"),
            "{screen}"
        );
        d.snap("cluster-rerun");
    }

    #[test]
    fn registration_is_confirmed_from_step_9() {
        let lab = Lab::new("cluster-register");
        manifest_with(&lab, false);
        let mut a = lab.filled();
        a.add_secondary("MAIL2", "192.0.2.12").unwrap();
        let mut d = with_discovery(a);
        d.select(StepId::ServerIds);
        assert_eq!(
            d.app.awaiting_registration(),
            vec![("MAIL2".to_string(), ServerId::new(2).unwrap())]
        );
        d.snap("cluster-awaiting-registration");
        d.key(KeyCode::Char('r'));
        d.snap("cluster-confirm-registered");
        d.key(KeyCode::Char('y'));
        let m = Manifest::load(&lab.share).unwrap().unwrap();
        assert!(m.member("MAIL2").unwrap().registered.is_some());
        assert!(d.app.awaiting_registration().is_empty());
    }

    #[test]
    fn a_second_wizard_is_refused_naming_who_holds_the_cluster() {
        let lab = Lab::new("cluster-locked");
        std::fs::create_dir_all(lab.share.join("mdcluster")).unwrap();
        let alive = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        std::fs::write(
            lab.share.join("mdcluster/cluster.lock"),
            format!(r#"{{"host":"MAIL9","pid":4242,"command":"wizard","since":"2026-11-21T09:00:00Z","alive":{alive}}}"#),
        )
        .unwrap();
        let mut d = with_discovery(lab.filled());
        let why = d.app.can_apply().unwrap_err();
        assert!(why.contains("wizard (process 4242 on MAIL9"), "{why}");
        d.select(StepId::Discover);
        d.snap("cluster-locked");

        // This wizard, unlike the other, holds the lock for its whole run.
        std::fs::remove_file(lab.share.join("mdcluster/cluster.lock")).unwrap();
        let lab2 = Lab::new("cluster-lock-holder");
        let d2 = with_discovery(lab2.filled());
        let lock = lab2.share.join("mdcluster/cluster.lock");
        let holder = std::fs::read_to_string(&lock).unwrap();
        assert!(holder.contains("\"command\":\"wizard\""), "{holder}");
        assert!(holder.contains(&format!("\"pid\":{}", std::process::id())));
        drop(d2);
        assert!(!lock.exists(), "the lock goes with the wizard");
        assert!(
            !lab2.share.join("mdcluster").exists(),
            "and the folder it made"
        );
    }

    #[test]
    fn the_join_screen_on_a_secondary() {
        use mdcluster::wizard::app::{JoinUpdate, Screen};
        use mdcluster::workflows::join::{JoinEvent, Verification};
        let lab = Lab::new("cluster-join");
        let mut d = with_discovery(lab.filled());
        d.key(KeyCode::Char('J'));
        assert_eq!(d.app.screen, Screen::Join);
        d.keys("k7qm3xpa9rtw");
        d.key(KeyCode::Tab);
        for _ in 0..10 {
            d.key(KeyCode::Backspace);
        }
        d.keys("MAIL2");
        d.snap("join-typed");
        d.key(KeyCode::Enter);
        assert!(d.app.join.running);
        let generation = d.app.join.generation;
        let facts = mdcluster::cluster::facts::Facts {
            name: "MAIL2".into(),
            version: Some("23.5.2".into()),
            time_zone: "Europe/Berlin".into(),
            licence: Some("60716a9c53282fd3".into()),
            certificates: Some(vec!["9256BA42082DAF3A".into()]),
            attachment_linking: Some(false),
            auto_update: Some(false),
            domain_ip_binding: Some(false),
            share: mdcluster::cluster::facts::ShareCheck {
                writable: Some(true),
                identity: "MAIL2\\MDaemon".into(),
                clock_offset_ms: Some(3),
                service_account: None,
            },
            ..Default::default()
        };
        for update in [
            JoinEvent::Facts(Box::new(facts)),
            JoinEvent::Announcing {
                scope: "loopback only".into(),
            },
            JoinEvent::Added {
                server_id: ServerId::new(2).unwrap(),
            },
        ] {
            d.send(Msg::Joining {
                generation,
                update: JoinUpdate::Event(update),
            });
        }
        d.snap("join-added");
        d.send(Msg::Joining {
            generation,
            update: JoinUpdate::Event(JoinEvent::Registered {
                server_id: ServerId::new(2).unwrap(),
                verify: false,
            }),
        });
        assert!(d.app.join.registered && !d.app.join.running);
        assert!(d.render(120, 40).contains("registered as server ID 2"));
        d.send(Msg::Joining {
            generation,
            update: JoinUpdate::Event(JoinEvent::Verifying {
                primary: "MAIL1".into(),
                pattern: "MDaemon-Cluster*.log".into(),
            }),
        });
        assert!(d.app.join.running);
        assert!(d
            .render(120, 40)
            .contains("verifying: waiting for MAIL1 in this node's cluster log"));
        d.send(Msg::Joining {
            generation,
            update: JoinUpdate::Event(JoinEvent::Verified(Verification {
                ok: false,
                primary: Some("MAIL1".into()),
                missing: vec![
                    "no connection to MAIL1 in this node's cluster log L within 120 s".into(),
                ],
                warnings: vec!["MAIL1: clock warning: \u{1b}[31mskewed".into()],
                log: None,
                pattern: Some("MDaemon-Cluster*.log".into()),
                lines: Some(0),
            })),
        });
        assert!(!d.app.join.running && d.app.join.verified == Some(false));
        let screen = d.render(120, 40);
        assert!(
            screen.contains("NOT verified: no connection to MAIL1")
                && screen.contains("warning: MAIL1: clock warning"),
            "{screen}"
        );
        assert!(!screen.contains('\u{1b}'), "{screen}");
        d.key(KeyCode::Esc);
        assert_eq!(d.app.screen, Screen::Steps);
    }
}

#[test]
fn the_health_screen_shows_each_round_and_stops_when_left() {
    use mdcluster::health::{Check, Round, State};
    use mdcluster::wizard::app::{Cmd, Screen};
    let lab = Lab::new("health");
    let mut answers = lab.filled();
    // Loopback only: the round the inline executor makes touches nothing else.
    answers.node_address = "127.0.0.1".into();
    let mut d = Driver::new(answers, true);
    d.key(KeyCode::Char('h'));
    assert_eq!(d.app.screen, Screen::Health);
    // The inline executor ran one real round for the wizard's plan.
    assert_eq!(d.app.health.rounds, 1, "{:?}", d.app.health.error);
    let generation = d.app.health.generation;

    // A round as a cluster of two would give it (fixed, for the snapshot).
    let check = |node: Option<&str>, check: &str, state: State, ms: f64, detail: &str| {
        let mut c = Check::new(node, check, "10.0.0.1:25", state).detail(detail);
        c.latency_ms = Some(ms);
        c
    };
    let round = Round {
        checks: vec![
            check(Some("MAIL1"), "smtp", State::Ok, 1.5, "an SMTP greeting"),
            check(Some("MAIL1"), "http", State::Ok, 2.0, "HTTP 200"),
            check(
                Some("MAIL2"),
                "smtp",
                State::Critical,
                0.2,
                "connection refused",
            ),
            check(
                Some("MAIL2"),
                "http",
                State::Critical,
                0.2,
                "connection refused",
            ),
            check(
                None,
                "share",
                State::Warning,
                1200.0,
                "reachable and writable (slow: 1200 ms)",
            ),
            check(
                Some("MAIL2"),
                "cluster-log",
                State::Critical,
                0.0,
                "connection lost: \u{1b}[2J lost connection to MAIL2",
            ),
        ],
        state: State::Critical,
        elapsed_ms: 5.2,
    };
    d.send(Msg::Health {
        generation,
        round: Ok((
            round.clone(),
            vec!["not in the cluster yet, not checked: MAIL3".into()],
        )),
    });
    // The first round's state, and each change after it, is an event.
    assert!(d.app.events.iter().any(|e| e.contains("cluster health: ")));
    let screen = d.render(100, 30);
    assert!(
        screen.contains("CRITICAL: 6 checks, 3 critical, 1 warning"),
        "{screen}"
    );
    assert!(screen.contains("connection refused"), "{screen}");
    assert!(!screen.contains('\u{1b}'));
    d.snap("health");
    // An answer to an older screen is dropped.
    d.send(Msg::Health {
        generation: generation - 1,
        round: Err("old".into()),
    });
    assert_eq!(d.app.health.error, None);
    // Esc: back to the steps, and the rounds stop.
    let cmds = d
        .app
        .update(Msg::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)));
    assert!(cmds.iter().any(|c| matches!(c, Cmd::StopHealth)));
    assert_eq!(d.app.screen, Screen::Steps);
    d.send(Msg::Health {
        generation,
        round: Ok((round, Vec::new())),
    });
    assert_eq!(d.app.screen, Screen::Steps);
}

/// A folder the answers keep on each node: the mail store's pane says what
/// that costs, as a warning, and the plan the answers make keeps it.
#[test]
fn a_folder_kept_on_each_node_is_a_warning_in_the_step_pane() {
    let lab = Lab::new("kept");
    let mut answers = lab.filled();
    answers.keep_local = "archive, Digests".into();
    let mut d = Driver::new(answers, false);
    assert!(d.app.can_apply().is_ok(), "{:?}", d.app.can_apply());
    d.select(StepId::MailStore);
    let screen = d.render(200, 80);
    for needle in [
        "warning: kept on each node (keep_local in the plan): the mail archive",
        "warning: kept on each node (keep_local in the plan): the mailing-list digests",
    ] {
        assert!(screen.contains(needle), "{needle:?} in:\n{screen}");
    }
    assert!(
        d.app
            .answers
            .plan_text()
            .contains(r#"keep_local = ["archive", "digests"]"#),
        "{}",
        d.app.answers.plan_text()
    );
}
