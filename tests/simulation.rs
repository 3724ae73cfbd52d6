//! `mdcluster simulate` as a process on a sandbox primary and a share, on
//! loopback: its secondaries found trusted by `mdcluster discover`, one
//! registered (`mdcluster register`) and the simulated primary's cluster log
//! checked line by line in both formats; every fault; a node that is not
//! registered gets no line; SIGTERM, Ctrl-C (SIGINT) and a closed standard
//! input stop it cleanly (on Windows, which cannot send a console's Ctrl-C
//! to a child here, the closed input). Each simulated
//! secondary also writes its own cluster log once registered, which
//! `mdcluster join` on it follows to the end of its verification.
//!
//! Tests here run at the same time on the same loopback: each uses node
//! names of its own. Waits poll with generous deadlines; nothing is timed.

mod common;

use common::cluster::{binary, code, discover_args, discovered, join_args, node, small_lab};
use common::{lb_program, mdcluster, Lab};
use mdcluster::cluster::manifest::{Manifest, Member};
use mdcluster::plan::Role;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(60);

/// A running `mdcluster simulate --json`; its events collected as they come.
struct Sim {
    child: Child,
    events: Arc<Mutex<Vec<Value>>>,
    /// The thread collecting the events; it ends when the process does.
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Sim {
    fn start(lab: &Lab, names: &str, extra: &[&str]) -> Sim {
        let mut c = Command::new(binary());
        c.args(["simulate", "--primary"])
            .arg(&lab.install)
            .arg("--share")
            .arg(&lab.share)
            .arg("--dir")
            .arg(lab.tmp.path().join("simulation"))
            .args([
                "--names",
                names,
                "--loopback",
                "--interval-ms",
                "300",
                "--json",
                "--until-stdin-closes",
            ])
            .args(extra)
            .env("TZ", "Etc/UTC")
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = c.spawn().unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        let reader = std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    sink.lock().unwrap().push(v);
                }
            }
        });
        let mut sim = Sim {
            child,
            events,
            reader: Some(reader),
        };
        let wanted = names.split(',').count();
        sim.wait("every node announcing", |ev| {
            ev.iter().filter(|e| e["event"] == "announcing").count() == wanted
        });
        sim
    }

    fn events(&self) -> Vec<Value> {
        self.events.lock().unwrap().clone()
    }

    /// Poll until `cond` holds for the events so far.
    fn wait(&mut self, what: &str, cond: impl Fn(&[Value]) -> bool) {
        let end = Instant::now() + DEADLINE;
        loop {
            if cond(&self.events()) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                // Ended: its last events may still be on their way to us.
                if let Some(reader) = self.reader.take() {
                    let _ = reader.join();
                    continue;
                }
                panic!(
                    "simulate ended ({status}) before {what}: {:#?}",
                    self.events()
                );
            }
            assert!(
                Instant::now() < end,
                "no {what} in time: {:#?}",
                self.events()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM (with the `kill` program) on Unix, a closed standard input on
    /// Windows; then wait for the exit.
    fn terminate(&mut self) -> std::process::ExitStatus {
        #[cfg(unix)]
        self.signal("-TERM");
        #[cfg(windows)]
        self.close_stdin();
        self.wait_exit()
    }

    /// SIGINT (Ctrl-C) on Unix; on Windows, where a test cannot send a
    /// console's Ctrl-C to a child, a closed standard input. Then wait for
    /// the exit.
    fn interrupt(&mut self) -> std::process::ExitStatus {
        #[cfg(unix)]
        self.signal("-INT");
        #[cfg(windows)]
        self.close_stdin();
        self.wait_exit()
    }

    #[cfg(unix)]
    fn signal(&mut self, signal: &str) {
        let ok = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    fn close_stdin(&mut self) {
        drop(self.child.stdin.take());
    }

    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let end = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < end, "simulate did not stop");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Put the nodes into the cluster manifest as apply leaves it (server IDs,
/// not registered yet).
fn add_to_manifest(lab: &Lab, nodes: &[(&str, u32)]) {
    let member = |name: &str, role, server_id: u32| Member {
        name: name.into(),
        role,
        server_id: mdcluster::plan::ServerId::new(server_id).unwrap(),
        address: "127.0.0.1".into(),
        licence: None,
        added: "2026-11-22T10:00:00Z".into(),
        registered: None,
    };
    let mut m = Manifest::load(&lab.share).unwrap().unwrap_or(Manifest {
        version: 1,
        primary: "MAIL1".into(),
        nodes: vec![member("MAIL1", Role::Primary, 1)],
        retired: Vec::new(),
    });
    for (n, id) in nodes {
        m.nodes.push(member(n, Role::Secondary, *id));
    }
    m.save(&lab.share).unwrap();
}

/// Add the nodes to the manifest, then record their registration the way
/// the administrator does: `mdcluster register`.
fn register(lab: &Lab, nodes: &[(&str, u32)]) {
    add_to_manifest(lab, nodes);
    let mut c = mdcluster();
    c.args(["register", "--plan"]).arg(&lab.plan);
    for (n, _) in nodes {
        c.args(["--node", n]);
    }
    c.assert().success();
}

/// The cluster log files of the lab's primary: file name → content.
fn cluster_logs(lab: &Lab) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Ok(rd) = std::fs::read_dir(lab.install.join("Logs")) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with("-Cluster.log") {
                out.insert(name, std::fs::read_to_string(e.path()).unwrap());
            }
        }
    }
    out
}

fn all_lines(lab: &Lab) -> String {
    cluster_logs(lab).into_values().collect()
}

/// Poll the log until `cond` holds for its whole text.
fn wait_log(lab: &Lab, sim: &mut Sim, what: &str, cond: impl Fn(&str) -> bool) -> String {
    let end = Instant::now() + DEADLINE;
    loop {
        let text = all_lines(lab);
        if cond(&text) {
            return text;
        }
        if let Ok(Some(status)) = sim.child.try_wait() {
            panic!("simulate ended ({status}) before {what}: {text}");
        }
        assert!(
            Instant::now() < end,
            "no {what} in the log in time:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `text` starts with the shape of `template`: `A` an upper-case letter, `a`
/// a lower-case one, `0` a digit, `H` an upper-case hex digit, anything else
/// itself.
fn shaped(text: &str, template: &str) -> bool {
    text.len() >= template.len()
        && text.bytes().zip(template.bytes()).all(|(c, t)| match t {
            b'A' => c.is_ascii_uppercase(),
            b'a' => c.is_ascii_lowercase(),
            b'0' => c.is_ascii_digit(),
            b'H' => c.is_ascii_digit() || (b'A'..=b'F').contains(&c),
            _ => c == t,
        })
}

const CLASSIC: &str = "Aaa 0000-00-00 00:00:00.000: ";
const SERVICE: &str = "000000 000000000 A [HHHHHHHH] 0xHHHHHHHH Cluster service: ";

/// Every line ends in CRLF, and each is in one of the two formats.
fn lines_of(text: &str) -> Vec<&str> {
    assert!(text.is_empty() || text.ends_with("\r\n"), "{text:?}");
    text.split_terminator("\r\n")
        .inspect(|l| assert!(!l.contains('\n') && !l.contains('\r'), "{l:?}"))
        .collect()
}

fn is_classic(line: &str) -> bool {
    shaped(line, CLASSIC)
        && line[CLASSIC.len()..]
            .split_once(": Cluster service: ")
            .is_some_and(|(thread, _)| {
                !thread.is_empty() && thread.bytes().all(|b| b.is_ascii_digit())
            })
}

#[test]
fn simulated_secondaries_are_found_trusted_and_a_registered_one_connects_and_replicates() {
    let lab = small_lab();
    let _ = code(&lab);
    let mut sim = Sim::start(&lab, "SIMA2,SIMA3", &["--log-format", "classic"]);
    let readme =
        std::fs::read_to_string(lab.tmp.path().join("simulation/SIMULATION-README.txt")).unwrap();
    assert!(readme.starts_with("SIMULATION"), "{readme}");
    assert!(sim.events().iter().all(|e| e["simulation"] == true));
    let started = sim.events()[0].clone();
    assert_eq!(started["event"], "simulation-started");
    assert!(started["cluster_log"]
        .as_str()
        .unwrap()
        .ends_with("-Cluster.log"));

    // Found like any joining node: signed with the primary's join code.
    let out = mdcluster()
        .args(discover_args(&lab))
        .args(["--loopback", "--timeout", "3", "--json"])
        .env("TZ", "Etc/UTC")
        .output()
        .unwrap();
    let (nodes, _) = discovered(&out);
    for name in ["SIMA2", "SIMA3"] {
        let n = node(&nodes, name);
        assert_eq!(n["trusted"], true, "{n}");
        assert_eq!(n["addable"], true, "{n}");
    }
    assert!(all_lines(&lab).is_empty(), "a line before any registration");

    // Added to the cluster but not registered in MDaemon: still no line.
    add_to_manifest(&lab, &[("SIMA3", 3)]);
    register(&lab, &[("SIMA2", 2)]);
    let text = wait_log(&lab, &mut sim, "two replications of SIMA2", |t| {
        t.matches("Cluster service: replication to SIMA2 complete (")
            .count()
            >= 2
    });
    let lines = lines_of(&text);
    assert!(
        lines[0].ends_with(": Cluster service: connected to SIMA2 (server ID 2)"),
        "{text}"
    );
    assert!(lines.iter().all(|l| is_classic(l)), "{text}");
    assert!(lines[1..].iter().all(|l| l
        .contains("Cluster service: replication to SIMA2 complete (")
        && l.ends_with(" items)")));
    assert!(
        !text.contains("SIMA3"),
        "a line for a node not registered: {text}"
    );
    sim.wait("the registration event", |ev| {
        ev.iter()
            .any(|e| e["event"] == "registered" && e["name"] == "SIMA2" && e["server_id"] == 2)
    });

    // A registered node no longer announces; the other one still does.
    let out = mdcluster()
        .args(discover_args(&lab))
        .args(["--loopback", "--timeout", "3", "--json"])
        .env("TZ", "Etc/UTC")
        .output()
        .unwrap();
    let (nodes, _) = discovered(&out);
    assert!(nodes.iter().all(|n| n["name"] != "SIMA2"), "{nodes:#?}");
    node(&nodes, "SIMA3");

    let status = sim.terminate();
    assert!(status.success(), "{status}");
    sim.wait("the stop event", |ev| {
        ev.last()
            .is_some_and(|e| e["event"] == "simulation-stopped")
    });
    // Stopped: nothing more is written.
    let after = all_lines(&lab);
    std::thread::sleep(Duration::from_millis(900));
    assert_eq!(all_lines(&lab), after);
}

#[test]
fn the_service_format_carries_severity_id_and_code() {
    let lab = small_lab();
    let _ = code(&lab);
    let mut sim = Sim::start(&lab, "SIMB2", &["--log-format", "service"]);
    register(&lab, &[("SIMB2", 5)]);
    let text = wait_log(&lab, &mut sim, "two replications of SIMB2", |t| {
        t.matches("replication to SIMB2 complete").count() >= 2
    });
    let lines = lines_of(&text);
    assert!(lines.iter().all(|l| shaped(l, SERVICE)), "{text}");
    assert!(
        shaped(lines[0], "000000 000000000 I [HHHHHHHH] 0xHHHHHHHH ")
            && lines[0].ends_with(" Cluster service: connected to SIMB2 (server ID 5)"),
        "{text}"
    );
    assert!(lines[1].contains(" I [") && lines[1].contains("replication to SIMB2 complete ("));
    // Ctrl-C stops it as cleanly as SIGTERM.
    assert!(sim.interrupt().success());
    sim.wait("the stop event", |ev| {
        ev.last()
            .is_some_and(|e| e["event"] == "simulation-stopped")
    });
}

#[test]
fn every_fault_gives_its_lines_in_both_formats() {
    let lab = small_lab();
    let _ = code(&lab);
    let mut sim = Sim::start(
        &lab,
        "SIMN2,SIMC3,SIME4,SIMT5",
        &[
            "--log-format",
            "mixed",
            "--fault",
            "SIMN2:never-connects",
            "--fault",
            "SIMC3:clock",
            "--fault",
            "SIME4:replication-error",
            "--fault",
            "SIMT5:timezone",
        ],
    );
    register(
        &lab,
        &[("SIMN2", 2), ("SIMC3", 3), ("SIME4", 4), ("SIMT5", 5)],
    );
    let text = wait_log(&lab, &mut sim, "every fault", |t| {
        t.contains("Cluster service: lost connection to SIMN2")
            && t.matches("Cluster service: replication to SIME4 failed: ")
                .count()
                >= 2
            && t.contains("replication to SIMC3 complete")
    });
    let lines = lines_of(&text);
    assert!(!text.contains("connected to SIMN2"), "{text}");
    assert!(
        !text.contains("replication to SIMN2"),
        "a node that never connects does not replicate: {text}"
    );
    assert!(!text.contains("replication to SIME4 complete"), "{text}");
    let find = |needle: &str| {
        *lines
            .iter()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in\n{text}"))
    };
    let clock = find("Cluster service: clock of SIMC3 differs from this server by ");
    assert!(clock.ends_with(" seconds"), "{clock}");
    find("Cluster service: time zone of SIMT5 differs from this server");
    find("Cluster service: connected to SIMT5 (server ID 5)");
    // Both formats in one file, with the severity the event has.
    assert!(lines.iter().any(|l| is_classic(l)), "{text}");
    assert!(lines.iter().any(|l| shaped(l, SERVICE)), "{text}");
    for l in lines.iter().filter(|l| shaped(l, SERVICE)) {
        let severity = &l[17..18];
        let want = if l.contains(" failed: ") {
            "E"
        } else if l.contains("lost connection") || l.contains("differs from this server") {
            "W"
        } else {
            "I"
        };
        assert_eq!(severity, want, "{l}");
    }
    assert!(sim.terminate().success());
}

#[test]
fn rollover_continues_in_the_next_days_file_from_midnight() {
    let lab = small_lab();
    let _ = code(&lab);
    let mut sim = Sim::start(&lab, "SIMR2", &["--fault", "rollover"]);
    register(&lab, &[("SIMR2", 2)]);
    sim.wait("the rollover", |ev| {
        ev.iter().any(|e| e["event"] == "rollover")
    });
    let end = Instant::now() + DEADLINE;
    let logs = loop {
        let logs = cluster_logs(&lab);
        if logs.len() == 2 && logs.values().nth(1).is_some_and(|t| t.lines().count() >= 2) {
            break logs;
        }
        assert!(Instant::now() < end, "no second day's file: {logs:#?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let files: Vec<&String> = logs.keys().collect();
    let day = |f: &str| {
        f.trim_start_matches("MDaemon-")
            .trim_end_matches("-Cluster.log")
            .parse::<jiff::civil::Date>()
            .unwrap()
    };
    assert_eq!(
        day(files[0]).tomorrow().unwrap(),
        day(files[1]),
        "{files:?}"
    );
    let first = lines_of(&logs[files[0]]);
    assert!(
        first[0].ends_with("connected to SIMR2 (server ID 2)"),
        "{first:?}"
    );
    let next = lines_of(&logs[files[1]]);
    let date = files[1]
        .trim_start_matches("MDaemon-")
        .trim_end_matches("-Cluster.log");
    assert!(
        next[0].contains(&format!(" {date} 00:00:0")),
        "the next day's first line is stamped just after midnight: {next:?}"
    );
    assert!(next
        .iter()
        .all(|l| l.contains("replication to SIMR2 complete")));
    // A supervisor stops it by closing its standard input, on every OS.
    sim.close_stdin();
    assert!(sim.wait_exit().success());
    sim.wait("the stop event", |ev| {
        ev.last()
            .is_some_and(|e| e["event"] == "simulation-stopped")
    });
}

#[test]
fn without_a_join_code_or_with_a_bad_fault_it_says_what_to_do() {
    let lab = small_lab();
    let code_text = mdcluster::cluster::pairing::JoinCode::generate().display();
    let out = mdcluster()
        .args(["simulate", "--primary"])
        .arg(&lab.install)
        .arg("--share")
        .arg(&lab.share)
        .arg("--loopback")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("mdcluster code"));
    let out = mdcluster()
        .args(["simulate", "--primary"])
        .arg(&lab.install)
        .arg("--share")
        .arg(&lab.share)
        .args(["--loopback", "--fault", "SIM9:clock", "--code", &code_text])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("SIM9 is not one of"));
    let out = mdcluster()
        .args(["simulate", "--primary"])
        .arg(&lab.install)
        .arg("--share")
        .arg(&lab.share)
        .args(["--fault", "melt"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(!lab.tmp.path().join("simulation").exists());
}

#[test]
fn the_library_runs_it_on_a_thread_as_the_demo_does() {
    let lab = small_lab();
    let code = mdcluster::cluster::pairing::JoinCode::generate();
    let reports = Arc::new(Mutex::new(Vec::new()));
    let sink = reports.clone();
    let cfg = mdcluster::simulation::Config {
        primary: lab.install.clone(),
        share: lab.share.clone(),
        dir: lab.tmp.path().join("simulation"),
        names: vec!["SIML2".into()],
        code,
        scope: mdcluster::discovery::Scope {
            loopback: true,
            interfaces: Vec::new(),
        },
        interval: Duration::from_millis(300),
        format: mdcluster::simulation::LogFormat::Service,
        faults: Vec::new(),
        stop_after: None,
    };
    let running =
        mdcluster::simulation::spawn(&mdcluster::profile::Profile::builtin(), &cfg, move |r| {
            sink.lock().unwrap().push(r)
        })
        .unwrap();
    register(&lab, &[("SIML2", 2)]);
    let end = Instant::now() + DEADLINE;
    while !all_lines(&lab).contains("replication to SIML2 complete") {
        assert!(Instant::now() < end, "{:#?}", reports.lock().unwrap());
        std::thread::sleep(Duration::from_millis(100));
    }
    running.stop().unwrap();
    let text = all_lines(&lab);
    assert!(
        lines_of(&text)[0].ends_with("connected to SIML2 (server ID 2)"),
        "{text}"
    );
    assert!(reports.lock().unwrap().iter().any(
        |r| matches!(r, mdcluster::simulation::Report::Registered { name, .. } if name == "SIML2")
    ));
}

/// `verify` against the simulated cluster: a node that never connects is
/// named (exit 5), a clock warning is reported, the healthy node passes.
#[test]
fn verify_names_a_simulated_node_that_never_connects_and_reports_a_clock_warning() {
    let lab = small_lab();
    let _ = code(&lab);
    let mut sim = Sim::start(
        &lab,
        "SIMV2,SIMV3",
        &["--fault", "SIMV3:never-connects", "--fault", "SIMV2:clock"],
    );
    register(&lab, &[("SIMV2", 2), ("SIMV3", 3)]);
    wait_log(&lab, &mut sim, "a replication of SIMV2", |t| {
        t.contains("replication to SIMV2 complete")
    });
    let out = mdcluster()
        .args(["verify", "--json", "--timeout", "5", "--plan"])
        .arg(&lab.plan)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let result = events
        .iter()
        .find(|e| e["event"] == "verify-result")
        .unwrap_or_else(|| panic!("{events:#?}"));
    let missing = result["missing"].to_string();
    assert!(missing.contains("SIMV3: not connected"), "{result}");
    assert!(!missing.contains("SIMV2"), "{result}");
    assert!(
        result["warnings"]
            .to_string()
            .contains("SIMV2: clock warning"),
        "{result}"
    );
}

/// `mdcluster demo --yes`: a fresh sandbox, two SIMULATED secondaries found,
/// added, registered, and the run ends only when the cluster is verified.
#[test]
fn the_headless_demo_ends_with_a_verified_cluster() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let out = mdcluster()
        .args(["demo", "--yes", "--dir"])
        .arg(&dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "SIMULATED secondaries SIM2, SIM3",
        // Each at its own loopback address, so the balancer tells them apart.
        "SIM2 127.0.0.11, SIM3 127.0.0.12",
        "DEMO: SIM2 registered",
        "Verified: every registered secondary is connected and replicating.",
        "10. cluster-log    done",
        "11. load-balancer  done",
    ] {
        assert!(text.contains(want), "{want} in {text}");
    }
    let manifest = Manifest::load(&dir.join("share")).unwrap().unwrap();
    assert_eq!(manifest.nodes.len(), 3);
    // With HAProxy installed (CI installs it): the session stays on its node.
    if lb_program(mdcluster::lb::Kind::Haproxy).is_some() {
        assert!(
            text.contains("sticky sessions work. HAProxy was stopped."),
            "{text}"
        );
        let five = text
            .lines()
            .find(|l| l.contains("more with that cookie went to:"))
            .unwrap_or_else(|| panic!("{text}"));
        let first = text
            .lines()
            .find_map(|l| l.split("the first request went to ").nth(1))
            .and_then(|l| l.split(' ').next())
            .unwrap_or_else(|| panic!("{text}"));
        assert_eq!(five.matches(first).count(), 5, "{five}");
    } else {
        assert!(text.contains("skipped: HAProxy is not installed"), "{text}");
    }
}

/// The cluster log text of a simulated secondary (its own installation).
fn secondary_log(lab: &Lab, name: &str) -> String {
    let mut text = String::new();
    if let Ok(rd) = std::fs::read_dir(lab.tmp.path().join("simulation").join(name).join("Logs")) {
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().ends_with("-Cluster.log") {
                text.push_str(&std::fs::read_to_string(e.path()).unwrap());
            }
        }
    }
    text
}

#[test]
fn a_simulated_secondary_writes_its_own_log_and_join_on_it_ends_verified() {
    let lab = small_lab();
    let code = code(&lab);
    let mut sim = Sim::start(&lab, "SIMJ2,SIMJ3", &["--fault", "SIMJ3:never-connects"]);
    assert!(
        secondary_log(&lab, "SIMJ2").is_empty(),
        "a line before any registration"
    );
    register(&lab, &[("SIMJ2", 2), ("SIMJ3", 3)]);

    // SIMJ2's own log: connected to the primary, then replications.
    let end = Instant::now() + DEADLINE;
    let text = loop {
        let text = secondary_log(&lab, "SIMJ2");
        if text
            .matches("Cluster service: replication to MAIL1 complete (")
            .count()
            >= 2
        {
            break text;
        }
        assert!(
            Instant::now() < end,
            "no replications in SIMJ2's log:\n{text}"
        );
        if let Ok(Some(status)) = sim.child.try_wait() {
            panic!("simulate ended ({status}): {text}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let lines = lines_of(&text);
    assert!(
        lines[0].ends_with(": Cluster service: connected to MAIL1 (server ID 1)"),
        "{text}"
    );
    assert!(lines.iter().all(|l| is_classic(l)), "{text}");
    assert!(
        !text.contains("SIMJ2") && !text.contains("SIMJ3"),
        "a secondary's log names only its primary: {text}"
    );
    sim.wait("a line of SIMJ2's own log", |ev| {
        ev.iter()
            .any(|e| e["event"] == "log-line" && e["log_of"] == "SIMJ2" && e["node"] == "MAIL1")
    });

    // `join` on SIMJ2 (registered already) verifies from that log.
    let sec = lab.tmp.path().join("simulation/SIMJ2");
    let out = Command::new(binary())
        .args(join_args(&sec, "SIMJ2", &code, &lab.share))
        .args(["--loopback", "--verify-timeout", "60"])
        .env("TZ", "Etc/UTC")
        .output()
        .unwrap();
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(out.status.code(), Some(0), "{events:#?}");
    let last = events.last().unwrap();
    assert_eq!(
        (last["event"].as_str(), last["ok"].as_bool()),
        (Some("verified"), Some(true)),
        "{last}"
    );

    // SIMJ3 never connects: replications go on in the primary's log for
    // SIMJ2 while SIMJ3's own log has no connection line; join on it exits 5
    // naming the primary.
    wait_log(&lab, &mut sim, "lost connection to SIMJ3", |t| {
        t.contains("lost connection to SIMJ3")
    });
    let end = Instant::now() + DEADLINE;
    while !secondary_log(&lab, "SIMJ3").contains("lost connection to MAIL1") {
        assert!(Instant::now() < end, "no line in SIMJ3's log");
        std::thread::sleep(Duration::from_millis(100));
    }
    let text = secondary_log(&lab, "SIMJ3");
    assert!(!text.contains("connected to MAIL1"), "{text}");
    let sec3 = lab.tmp.path().join("simulation/SIMJ3");
    let out = Command::new(binary())
        .args(join_args(&sec3, "SIMJ3", &code, &lab.share))
        .args(["--loopback", "--verify-timeout", "2"])
        .env("TZ", "Etc/UTC")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(5), "{stdout}");
    assert!(stdout.contains("not connected to MAIL1"), "{stdout}");
    assert!(sim.terminate().success());
}
