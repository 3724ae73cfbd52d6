//! The real binary in a real terminal (tmux): the wizard completed with
//! keystrokes, the screen read back, the installation checked afterwards.
//! tmux is installed by scripts/test.sh; these tests do not skip without it.

// Linux only: tmux is the terminal; under Wine the wizard's console is
// tested by scripts/test-windows.sh (docs/testing.md).
#![cfg(target_os = "linux")]

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    socket: String,
}

impl Tmux {
    /// A private tmux server running `command` in a window of the given size.
    fn start(name: &str, width: u16, height: u16, command: &str) -> Tmux {
        let socket = format!("mdc-{name}-{}", std::process::id());
        let t = Tmux { socket };
        let status = t
            .tmux()
            .args([
                "new-session",
                "-d",
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
                "-s",
                "main",
            ])
            .arg(command)
            .status()
            .expect("tmux must be installed (scripts/test.sh installs it)");
        assert!(status.success());
        t
    }

    fn tmux(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]).env_remove("TMUX");
        c
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            assert!(self
                .tmux()
                .args(["send-keys", "-t", "main", k])
                .status()
                .unwrap()
                .success());
        }
    }

    fn type_text(&self, text: &str) {
        assert!(self
            .tmux()
            .args(["send-keys", "-t", "main", "-l", text])
            .status()
            .unwrap()
            .success());
    }

    fn screen(&self) -> String {
        let out = self
            .tmux()
            .args(["capture-pane", "-p", "-t", "main"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The screen and everything scrolled off it, joined lines unwrapped.
    fn history(&self) -> String {
        let out = self
            .tmux()
            .args(["capture-pane", "-p", "-J", "-S", "-", "-t", "main"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Wait until the screen shows `text`; fail with the screen after `secs`.
    fn wait_for(&self, text: &str, secs: u64) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(text) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "waited for {text:?}; the screen shows:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn alternate_on(&self) -> bool {
        let out = self
            .tmux()
            .args(["display", "-p", "-t", "main", "#{alternate_on}"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim() == "1"
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").status();
    }
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_mdcluster")
}

/// After the wizard exits, the shell prints its exit code and whether the
/// terminal is back in canonical (cooked) mode.
fn then_report(cmd: &str) -> String {
    format!("{cmd}; echo EXIT=$?; if stty -a | grep -q -- '-icanon'; then echo STTY=RAW; else echo STTY=COOKED; fi; sleep 60")
}

fn copy_tree(from: &Path, to: &Path) {
    assert!(Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap()
        .success());
}

#[test]
fn the_wizard_completed_with_keystrokes_equals_a_headless_run_of_its_plan() {
    let lab = Lab::new();
    let pristine_install = lab.tmp.path().join("pristine-install");
    let pristine_share = lab.tmp.path().join("pristine-share");
    copy_tree(&lab.install, &pristine_install);
    copy_tree(&lab.share, &pristine_share);
    let saved: PathBuf = lab.tmp.path().join("saved-plan.toml");

    let cmd = then_report(&format!(
        "NO_COLOR=1 {} wizard --root '{}'",
        bin(),
        lab.install.display()
    ));
    let t = Tmux::start("flow", 80, 24, &cmd);
    t.wait_for("Questions", 10);
    assert!(t.alternate_on(), "full screen");
    // The cursor starts in the first question that needs an answer: the shared path.
    t.type_text(r"\\fileserver\mdaemon");
    t.keys(&["Tab"]);
    t.type_text(&lab.share.display().to_string());
    t.keys(&["Enter"]);
    t.wait_for("press a to apply", 15);
    t.keys(&["Down", "Down", "Down", "Down"]);
    t.wait_for("Rewrite [Directories]", 5);
    t.keys(&["NPage"]); // the diff is below the fold at 80x24
    t.wait_for("+LockFiles=", 5);
    t.keys(&["a"]);
    t.wait_for("Apply the changes of 4 step(s)?", 5);
    t.keys(&["y"]);
    let summary = t.wait_for("Applied: 4 step(s)", 30);
    assert!(summary.contains("Summary"), "{summary}");
    t.keys(&["s"]);
    t.wait_for("Save plan", 5);
    t.keys(&["C-u"]);
    t.type_text(&saved.display().to_string());
    t.keys(&["Enter"]);
    t.wait_for("plan saved to", 5);
    t.keys(&["q"]);
    let end = t.wait_for("STTY=", 10);
    assert!(end.contains("EXIT=0"), "{end}");
    assert!(
        end.contains("STTY=COOKED"),
        "terminal left in raw mode:\n{end}"
    );
    assert!(!t.alternate_on(), "alternate screen left on");

    // The installation afterwards.
    let ini = String::from_utf8_lossy(&lab.ini_bytes()).into_owned();
    assert!(
        ini.contains(r"LockFiles=\\fileserver\mdaemon\Users\LockFiles\"),
        "{ini}"
    );
    assert_eq!(
        lab.share
            .join("Users/LockFiles")
            .read_dir()
            .unwrap()
            .count(),
        3
    );
    let wizard_result = (outcome_map(&lab.install, true), tree_map(&lab.share, false));

    // The saved plan, headless, on a fresh copy of the same installation.
    std::fs::remove_dir_all(&lab.install).unwrap();
    std::fs::remove_dir_all(&lab.share).unwrap();
    copy_tree(&pristine_install, &lab.install);
    copy_tree(&pristine_share, &lab.share);
    mdcluster()
        .args(["apply", "--yes", "--plan"])
        .arg(&saved)
        .assert()
        .success();
    let headless_result = (outcome_map(&lab.install, true), tree_map(&lab.share, false));
    assert_eq!(
        wizard_result, headless_result,
        "the TUI path and the headless path give identical trees"
    );
}

#[test]
fn ctrl_c_and_a_panic_restore_the_terminal() {
    let lab = Lab::new();
    let cmd = then_report(&format!(
        "{} wizard --root '{}'",
        bin(),
        lab.install.display()
    ));
    let t = Tmux::start("ctrlc", 80, 24, &cmd);
    t.wait_for("Questions", 10);
    // A resize redraws the whole screen at the new size.
    assert!(t
        .tmux()
        .args(["resize-window", "-t", "main", "-x", "120", "-y", "40"])
        .status()
        .unwrap()
        .success());
    let start = Instant::now();
    while !t
        .screen()
        .lines()
        .any(|l| l.contains("Events") && l.chars().count() == 120)
    {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "no redraw at 120 columns:\n{}",
            t.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    t.keys(&["C-c"]);
    let end = t.wait_for("STTY=", 10);
    assert!(end.contains("STTY=COOKED"), "{end}");
    assert!(!t.alternate_on());
    drop(t);

    let cmd = then_report(&format!(
        "MDCLUSTER_TEST_PANIC=1 {} wizard --root '{}'",
        bin(),
        lab.install.display()
    ));
    let t = Tmux::start("panic", 100, 30, &cmd);
    let end = t.wait_for("STTY=", 10);
    assert!(
        end.contains("deliberate panic"),
        "the panic message is readable:\n{end}"
    );
    assert!(end.contains("EXIT=101"), "{end}");
    assert!(
        end.contains("STTY=COOKED"),
        "terminal restored after a panic:\n{end}"
    );
    assert!(!t.alternate_on());
}

#[test]
fn the_plain_wizard_asks_the_same_questions() {
    let lab = Lab::new();
    let cmd = then_report(&format!(
        "NO_COLOR=1 {} wizard --plain --loopback --root '{}'",
        bin(),
        lab.install.display()
    ));
    let t = Tmux::start("plain", 100, 40, &cmd);
    t.wait_for("Installation (Windows path)", 10);
    t.keys(&["Enter"]); // keep C:\MDaemon
    t.wait_for("Shared path (UNC)", 5);
    t.type_text(r"S:\mdaemon");
    t.keys(&["Enter"]);
    t.wait_for("UNC path", 5); // validated as typed: refused, asked again
    t.keys(&["C-u"]);
    for _ in 0..12 {
        t.keys(&["BSpace"]);
    }
    t.type_text(r"\\fileserver\mdaemon");
    t.keys(&["Enter"]);
    t.wait_for("Share on this machine", 5);
    t.type_text(&lab.share.display().to_string());
    t.keys(&["Enter"]);
    t.wait_for("This node's name", 5);
    t.keys(&["C-u"]);
    for _ in 0..20 {
        t.keys(&["BSpace"]);
    }
    t.type_text("MAIL1");
    t.keys(&["Enter"]);
    t.wait_for("This node's address", 5);
    t.keys(&["Enter"]);
    t.wait_for("server ID", 5);
    t.keys(&["Enter"]);
    t.wait_for("Stop MDaemon while data moves", 5);
    t.keys(&["Enter"]);
    t.wait_for("Keep the old store", 5);
    t.keys(&["Enter"]);
    t.wait_for("Folders kept on each node", 5);
    t.type_text("queues");
    t.keys(&["Enter"]);
    t.wait_for("none of gateways, digests, archive", 5); // refused, asked again
    for _ in 0..6 {
        t.keys(&["BSpace"]);
    }
    t.type_text("archive");
    t.keys(&["Enter"]);
    t.wait_for("Restart MDaemon", 5);
    t.keys(&["Enter"]);
    t.wait_for("Load balancer (haproxy, nginx, apache or none)", 5);
    t.type_text("f5");
    t.keys(&["Enter"]);
    t.wait_for("answer haproxy, nginx, apache", 5); // refused, asked again
    t.keys(&["BSpace", "BSpace"]);
    t.keys(&["Enter"]); // keep "none": step 11 waits
    t.wait_for("Webmail routing", 5);
    t.keys(&["Enter"]);
    t.wait_for("Folder for the balancer's files", 5);
    t.keys(&["Enter"]);
    // Secondaries: the join code, what answered, then on to the preview.
    let screen = t.wait_for("Secondaries:", 20);
    assert!(screen.contains("mdcluster join --share"), "{screen}");
    t.keys(&["Enter"]);
    t.wait_for("Apply these changes?", 15);
    let preview = t.history();
    assert!(
        preview.contains("warning: kept on each node (keep_local in the plan): the mail archive"),
        "{preview}"
    );
    t.type_text("y");
    t.keys(&["Enter"]);
    t.wait_for("Save these answers", 30);
    t.type_text("n");
    t.keys(&["Enter"]);
    let end = t.wait_for("STTY=", 10);
    assert!(end.contains("EXIT=0"), "{end}");
    let ini = String::from_utf8_lossy(&lab.ini_bytes()).into_owned();
    assert!(ini.contains(r"PEM=\\fileserver\mdaemon\PEM\"), "{ini}");
    assert!(
        ini.contains(r"Gateways=\\fileserver\mdaemon\Gateways\"),
        "{ini}"
    );
    assert!(ini.contains(r"Archive=C:\MDaemon\Archive\"), "{ini}");
    assert!(lab.install.join("Archive").read_dir().unwrap().count() > 0);
}

#[test]
fn without_a_terminal_the_wizard_points_to_plan() {
    let lab = Lab::new();
    for plain in [false, true] {
        let mut c = mdcluster();
        c.arg("wizard").arg("--root").arg(&lab.install);
        if plain {
            c.arg("--plain");
        }
        let out = c.output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("--plan"));
    }
}

/// A secondary sandbox next to the lab, announcing itself with the lab's
/// current join code; its output goes to a file.
fn start_secondary(lab: &Lab, name: &str) -> (std::process::Child, PathBuf) {
    let profile = mdcluster::profile::Profile::builtin();
    let dir = lab.tmp.path().join(name);
    let opts = mdcluster::sandbox::Options {
        accounts: 1,
        messages: 1,
        seed: 9,
        message_size: None,
    };
    mdcluster::sandbox::create(&dir, &profile, &opts).unwrap();
    mdcluster::sandbox::make_secondary(&dir, &lab.install, name, &profile).unwrap();
    let code = mdcluster()
        .args(["code", "--root"])
        .arg(&lab.install)
        .output()
        .unwrap();
    let code = String::from_utf8(code.stdout).unwrap().trim().to_string();
    let log = lab.tmp.path().join(format!("{name}.out"));
    let child = Command::new(bin())
        .args(["join", "--root"])
        .arg(&dir)
        .args(["--share", r"\\fileserver\mdaemon", "--share-local"])
        .arg(&lab.share)
        .args(["--name", name, "--code", &code, "--loopback", "--json"])
        // Exits once registered (verification is tested in tests/cluster.rs).
        .args(["--verify-timeout", "0"])
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    (child, log)
}

/// The number of the step whose page is shown ("┐┌ 9. Server IDs …").
fn shown_step(screen: &str) -> Option<u32> {
    let line = screen.lines().find(|l| l.contains("┐┌ "))?;
    let after = &line[line.find("┐┌ ")? + "┐┌ ".len()..];
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Move the selection to step `n` (whose page shows `title`): one key at a
/// time, each confirmed on screen before the next, so a slow redraw on a
/// busy machine cannot make the presses overshoot.
fn go_to_step(t: &Tmux, n: u32, title: &str) {
    for _ in 0..30 {
        let screen = t.screen();
        let Some(now) = shown_step(&screen) else {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        };
        if now == n {
            break;
        }
        t.keys(&[if now < n { "Down" } else { "Up" }]);
        let start = Instant::now();
        while shown_step(&t.screen()) == Some(now) && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    t.wait_for(title, 5);
}

/// Press a key until the screen shows `text` (at most `times` presses). After
/// each press, wait for the screen to change (up to 2 s): on a busy machine a
/// redraw can lag, and presses sent meanwhile would overshoot.
fn press_until(t: &Tmux, key: &str, text: &str, times: usize) {
    for _ in 0..times {
        let before = t.screen();
        if before.contains(text) {
            return;
        }
        t.keys(&[key]);
        let start = Instant::now();
        while t.screen() == before && start.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    t.wait_for(text, 2);
}

#[test]
fn the_wizard_finds_a_secondary_adds_it_and_records_its_registration() {
    let lab = Lab::new();
    let (mut join, join_log) = start_secondary(&lab, "TW-MAIL2");
    let cmd = then_report(&format!(
        "NO_COLOR=1 {} wizard --loopback --root '{}'",
        bin(),
        lab.install.display()
    ));
    let t = Tmux::start("cluster", 120, 40, &cmd);
    t.wait_for("Questions", 10);
    t.type_text(r"\\fileserver\mdaemon");
    t.keys(&["Tab"]);
    t.type_text(&lab.share.display().to_string());
    t.keys(&["Enter"]);
    t.wait_for("press a to apply", 15);
    go_to_step(&t, 8, "8. Find the secondaries");
    let screen = t.wait_for("TW-MAIL2", 15);
    assert!(screen.contains("mdcluster join --share"), "{screen}");
    t.wait_for("can join: Enter adds it", 30);
    t.keys(&["Enter"]);
    press_until(&t, "Down", "> TW-MAIL2", 10);
    t.keys(&["Enter"]);
    t.wait_for("ready: apply adds it", 30);
    t.keys(&["Escape"]);
    t.wait_for("preview ready: 5 step(s)", 30);
    // A discovery update may start a new preview just then: `a` waits for
    // it, so press again until the question shows.
    let start = Instant::now();
    while !t.screen().contains("Apply the changes of 5 step(s)?") {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no apply question:\n{}",
            t.screen()
        );
        t.keys(&["a"]);
        std::thread::sleep(Duration::from_millis(1000));
    }
    t.keys(&["y"]);
    t.wait_for("Applied: 5 step(s)", 60);
    let m = mdcluster::cluster::manifest::Manifest::load(&lab.share)
        .unwrap()
        .unwrap();
    assert_eq!(m.member("TW-MAIL2").unwrap().server_id, 2);
    assert!(m.member("TW-MAIL2").unwrap().registered.is_none());

    // Back to the steps; register it in MDaemon, then say so in step 9.
    t.keys(&["Enter"]);
    go_to_step(&t, 9, "9. Server IDs and registration");
    t.wait_for("Press r once they are registered", 10);
    t.keys(&["r"]);
    t.wait_for("Are these registered", 5);
    t.keys(&["y"]);
    t.wait_for("recorded as registered in MDaemon", 10);
    // The secondary hears it and stops announcing.
    let start = Instant::now();
    let status = loop {
        if let Some(s) = join.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "join did not end"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success());
    let out = std::fs::read_to_string(&join_log).unwrap();
    assert!(out.contains(r#""event":"registered""#), "{out}");
    t.keys(&["q"]);
    let end = t.wait_for("STTY=", 10);
    assert!(
        end.contains("EXIT=0") && end.contains("STTY=COOKED"),
        "{end}"
    );
    assert!(!lab.share.join("mdcluster/cluster.lock").exists());
}

#[test]
fn a_second_wizard_on_the_same_cluster_is_refused_naming_the_first() {
    let lab = Lab::new();
    // An applied run: the wizard starts from its plan, answers complete.
    lab.apply().arg("--yes").assert().success();
    let cmd = |name: &str| {
        then_report(&format!(
            "NO_COLOR=1 {} wizard --no-discovery --root '{}'",
            bin(),
            lab.install.display()
        )) + &format!(" # {name}")
    };
    let first = Tmux::start("first", 120, 40, &cmd("first"));
    first.wait_for("Steps", 10);
    let lock = lab.share.join("mdcluster/cluster.lock");
    let start = Instant::now();
    while !lock.exists() {
        assert!(start.elapsed() < Duration::from_secs(10), "no lock taken");
        std::thread::sleep(Duration::from_millis(100));
    }
    let second = Tmux::start("second", 120, 40, &cmd("second"));
    let screen = second.wait_for(
        "another mdcluster is working on this cluster: wizard (process",
        10,
    );
    assert!(screen.contains("Events"), "{screen}");
    second.keys(&["a"]);
    second.wait_for("cannot apply yet: another mdcluster is working", 5);
    second.keys(&["q"]);
    second.wait_for("STTY=", 10);
    // Headless commands are refused the same way.
    let out = mdcluster()
        .args(["register", "--plan"])
        .arg(&lab.plan)
        .args(["--node", "MAIL1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("wizard (process"));
    first.keys(&["q"]);
    first.wait_for("STTY=", 10);
    assert!(!lock.exists(), "the lock goes with the first wizard");
}

#[test]
fn a_secondary_joins_from_the_wizard_and_hears_its_registration() {
    let lab = Lab::new();
    let profile = mdcluster::profile::Profile::builtin();
    let sec = lab.tmp.path().join("TJ-MAIL2");
    let opts = mdcluster::sandbox::Options {
        accounts: 1,
        messages: 1,
        seed: 9,
        message_size: None,
    };
    mdcluster::sandbox::create(&sec, &profile, &opts).unwrap();
    mdcluster::sandbox::make_secondary(&sec, &lab.install, "TJ-MAIL2", &profile).unwrap();
    let code = mdcluster()
        .args(["code", "--root"])
        .arg(&lab.install)
        .output()
        .unwrap();
    let code = String::from_utf8(code.stdout).unwrap().trim().to_string();

    // The wizard on the secondary: the share (step 1), then J, the code, the name.
    let cmd = then_report(&format!(
        "NO_COLOR=1 {} wizard --loopback --root '{}'",
        bin(),
        sec.display()
    ));
    let t = Tmux::start("join", 120, 40, &cmd);
    t.wait_for("Questions", 10);
    t.type_text(r"\\fileserver\mdaemon");
    t.keys(&["Tab"]);
    t.type_text(&lab.share.display().to_string());
    t.keys(&["Enter"]);
    t.wait_for("press a to apply", 15);
    t.keys(&["J"]);
    t.wait_for("Join a cluster", 5);
    t.type_text(&code);
    t.keys(&["Tab", "C-u"]);
    for _ in 0..20 {
        t.keys(&["BSpace"]);
    }
    t.type_text("TJ-MAIL2");
    t.keys(&["Enter"]);
    t.wait_for("waiting for the primary", 10);
    t.wait_for("What the primary will check", 5);

    // The primary adds it headless (the plan with one more node) and registers it.
    let mut plan = std::fs::read_to_string(&lab.plan).unwrap();
    plan.push_str(
        "\n[[nodes]]\nname = \"TJ-MAIL2\"\naddress = \"127.0.0.1\"\nrole = \"secondary\"\n",
    );
    std::fs::write(&lab.plan, plan).unwrap();
    lab.apply()
        .args(["--yes", "--loopback", "--discovery-timeout", "10"])
        .assert()
        .success();
    t.wait_for("added to the cluster as server ID 2", 10);
    mdcluster()
        .args(["register", "--plan"])
        .arg(&lab.plan)
        .args(["--node", "TJ-MAIL2"])
        .assert()
        .success();
    t.wait_for("registered as server ID 2", 10);
    // Then it verifies from this node's own cluster log, which MDaemon on
    // the secondary (here the test) writes.
    t.wait_for(
        "verifying: waiting for MAIL1 in this node's cluster log",
        10,
    );
    common::cluster::append_cluster_log(
        &sec,
        &[
            "Cluster service: connected to MAIL1 (server ID 1)",
            "Cluster service: replication to MAIL1 complete (2 items)",
        ],
    );
    t.wait_for("verified: connected and replicating", 10);
    // Esc and a key sent at once reach the program as Alt+key: wait between.
    t.keys(&["Escape"]);
    t.wait_for("Up/Dn step", 10);
    t.keys(&["q"]);
    let end = t.wait_for("STTY=", 10);
    assert!(
        end.contains("EXIT=0") && end.contains("STTY=COOKED"),
        "{end}"
    );
}

#[test]
fn the_demo_wizard_adds_its_simulated_secondaries_and_the_simulated_log_confirms_them() {
    let tmp = tempfile::tempdir().unwrap();
    let demo = tmp.path().join("demo");
    let cmd = then_report(&format!(
        "NO_COLOR=1 TZ=Etc/UTC {} demo --dir '{}'",
        bin(),
        demo.display()
    ));
    // Tall: other tests on this machine may announce on loopback too.
    let t = Tmux::start("demo-sim", 160, 100, &cmd);
    t.wait_for("press a to apply", 60);
    go_to_step(&t, 8, "8. Find the secondaries");
    t.wait_for("SIM2", 30);
    t.wait_for("SIM3", 30);
    t.wait_for("can join: Enter adds it", 30);
    t.keys(&["Enter"]);
    for name in ["SIM2", "SIM3"] {
        press_until(&t, "Down", &format!("> {name}"), 10);
        t.keys(&["Enter"]);
    }
    let start = Instant::now();
    while t.screen().matches("ready: apply adds it").count() < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "both simulated secondaries not added:\n{}",
            t.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    t.keys(&["Escape"]);
    // Each node added starts a new preview (an older one still running is
    // discarded, never announced): apply once one is ready after SIM3's.
    t.wait_for("SIM3 added to the plan", 30);
    let ready_after_sim3 = |screen: &str| {
        screen
            .split_once("SIM3 added to the plan")
            .is_some_and(|(_, after)| after.contains("preview ready: 5 step(s)"))
    };
    let start = Instant::now();
    while !ready_after_sim3(&t.screen()) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no preview:\n{}",
            t.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    press_until(&t, "a", "Apply the changes of 5 step(s)?", 10);
    t.keys(&["y"]);
    t.wait_for("Applied: 5 step(s)", 120);
    t.keys(&["Enter"]);
    // Back to the steps, wherever the selection is: move to step 9.
    for _ in 0..20 {
        let screen = t.screen();
        if screen.contains("9. Server IDs and registration") {
            break;
        }
        let selected = screen
            .split_once("\u{2510}\u{250c} ")
            .and_then(|(_, rest)| rest.split_once(". "))
            .and_then(|(n, _)| n.trim().parse::<u32>().ok());
        match selected {
            Some(n) if n > 9 => t.keys(&["Up"]),
            Some(_) => t.keys(&["Down"]),
            None => {} // still the summary
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    t.wait_for("Press r once they are registered", 10);
    press_until(&t, "r", "Are these registered", 5);
    t.keys(&["y"]);
    t.wait_for("recorded as registered in MDaemon", 30);

    // The simulated primary confirms both in its cluster log.
    let logs = demo.join("MDaemon/Logs");
    let read = || -> String {
        std::fs::read_dir(&logs)
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.file_name().to_string_lossy().ends_with("-Cluster.log"))
                    .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default()
    };
    let start = Instant::now();
    loop {
        let text = read();
        if ["SIM2", "SIM3"].iter().all(|n| {
            text.contains(&format!("connected to {n} (server ID "))
                && text.contains(&format!("replication to {n} complete ("))
        }) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the simulated cluster log does not confirm both:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Step 10 in the wizard follows that log and says so.
    t.wait_for("the cluster log confirms every node", 60);
    let readme = std::fs::read_to_string(demo.join("simulation/SIMULATION-README.txt")).unwrap();
    assert!(readme.starts_with("SIMULATION"));
    // Step 11 with the secondaries in the cluster: apply again, then the
    // demo offers HAProxy's proof on the way out.
    press_until(&t, "a", "Apply the changes of 1 step(s)?", 30);
    t.keys(&["y"]);
    t.wait_for("Applied: 1 step(s)", 60);
    t.keys(&["q"]);
    t.wait_for(
        "Show with HAProxy that a Webmail session stays on its node?",
        30,
    );
    t.keys(&["y", "Enter"]);
    if common::lb_program(mdcluster::lb::Kind::Haproxy).is_some() {
        t.wait_for("sticky sessions work. HAProxy was stopped.", 60);
    } else {
        t.wait_for("skipped: HAProxy is not installed", 30);
    }
    let end = t.wait_for("STTY=", 30);
    assert!(
        end.contains("EXIT=0") && end.contains("STTY=COOKED"),
        "{end}"
    );
}
