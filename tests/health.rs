//! `mdcluster health`: every service of every node probed at once, the
//! share, the cluster log and clocks judged; the monitoring convention
//! (exit 0/1/2/3, a summary line with performance data); `--json`;
//! `--watch`; and the failover watch, whose balancer changes are journaled
//! runs that `undo --latest` reverses byte for byte.
//!
//! The nodes are SIMULATED services on their own loopback addresses
//! (`mdcluster::simulation::services`), and hand-made hostile servers.

mod common;
use common::cluster::append_cluster_log;
use common::*;
use mdcluster::plan::Service;
use mdcluster::simulation::services::{serve, Standin};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// SIMULATED services running until dropped.
struct Running {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn standin(name: &str, address: &str, services: &[(Service, u16)]) -> Running {
    let stop = Arc::new(AtomicBool::new(false));
    let threads = serve(
        &Standin {
            name: name.into(),
            address: address.parse().unwrap(),
            services: services.to_vec(),
            silent: false,
        },
        stop.clone(),
    )
    .unwrap();
    Running { stop, threads }
}

/// A port free on every address the test uses (checked on each).
fn free_port(addresses: &[&str]) -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if addresses
            .iter()
            .all(|a| TcpListener::bind((a.parse::<std::net::IpAddr>().unwrap(), port)).is_ok())
        {
            return port;
        }
    }
}

/// `[load_balancer]` carrying only `services` (the others at port 0), the
/// nodes answering on the given ports; `extra` goes below it.
fn lb_services(services: &[(Service, u16)], extra: &str) -> String {
    let mut ports = String::from("[load_balancer.ports]\n");
    let mut backend = String::from("[load_balancer.backend_ports]\n");
    for (i, s) in Service::ALL.iter().enumerate() {
        match services.iter().find(|(x, _)| x == s) {
            Some((_, p)) => {
                ports.push_str(&format!("{} = {}\n", s.key(), 40000 + i));
                backend.push_str(&format!("{} = {p}\n", s.key()));
            }
            None => ports.push_str(&format!("{} = 0\n", s.key())),
        }
    }
    format!("\n[load_balancer]\n{extra}\n{ports}{backend}")
}

fn small_lab() -> Lab {
    Lab::with(
        mdcluster::sandbox::Options {
            accounts: 2,
            messages: 4,
            seed: 5,
            message_size: None,
        },
        None,
    )
}

/// The lab's plan with secondaries at their addresses and `tail` appended.
fn plan_with(lab: &Lab, secondaries: &[(&str, &str)], tail: &str) {
    let mut text = std::fs::read_to_string(&lab.plan).unwrap();
    for (name, address) in secondaries {
        text.push_str(&format!(
            "\n[[nodes]]\nname = \"{name}\"\naddress = \"{address}\"\nrole = \"secondary\"\n"
        ));
    }
    text.push_str(tail);
    std::fs::write(&lab.plan, text).unwrap();
}

fn health(plan: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = mdcluster()
        .arg("health")
        .arg("--plan")
        .arg(plan)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn checks(stdout: &str) -> Vec<Value> {
    json_lines(stdout.as_bytes())
        .into_iter()
        .filter(|e| e["event"] == "health-check")
        .collect()
}

fn find<'a>(checks: &'a [Value], node: Option<&str>, check: &str) -> &'a Value {
    checks
        .iter()
        .find(|c| c["check"] == check && c["node"].as_str() == node)
        .unwrap_or_else(|| panic!("no check {node:?} {check} in {checks:#?}"))
}

const MAIL_AND_WEB: [Service; 7] = [
    Service::Smtp,
    Service::Imap,
    Service::Pop3,
    Service::Http,
    Service::Xmpp,
    Service::Imaps,
    Service::RemoteAdmin,
];

#[test]
fn every_service_of_every_node_answers_and_the_round_is_ok() {
    let lab = small_lab();
    let addrs = ["127.0.0.1", "127.0.0.31"];
    let services: Vec<(Service, u16)> = MAIL_AND_WEB
        .iter()
        .map(|s| (*s, free_port(&addrs)))
        .collect();
    plan_with(&lab, &[("MAIL2", addrs[1])], &lb_services(&services, ""));
    let _a = standin("MAIL1", addrs[0], &services);
    let _b = standin("MAIL2", addrs[1], &services);
    append_cluster_log(
        &lab.install,
        &["connected to MAIL2", "replication to MAIL2 complete"],
    );

    let (rc, out, err) = health(&lab.plan, &["--json"]);
    assert_eq!(rc, Some(0), "{out}{err}");
    let all = checks(&out);
    // MAIL1: seven services; MAIL2: six (Remote Administration is the
    // primary's); the share; a clock per node; the log for MAIL2.
    assert_eq!(all.len(), 7 + 6 + 1 + 2 + 1, "{all:#?}");
    assert!(all.iter().all(|c| c["state"] == "ok"), "{all:#?}");
    let smtp = find(&all, Some("MAIL2"), "smtp");
    assert!(smtp["read"]
        .as_str()
        .unwrap()
        .starts_with("220 MAIL2 ESMTP SIMULATED"));
    assert!(smtp["latency_ms"].as_f64().is_some());
    assert!(all
        .iter()
        .all(|c| !(c["node"] == "MAIL2" && c["check"] == "remote_admin")));
    let log = find(&all, Some("MAIL2"), "cluster-log");
    assert!(log["age_s"].as_u64().unwrap() < 3600, "{log}");
    assert!(
        find(&all, Some("MAIL1"), "clock")["clock_offset_s"]
            .as_f64()
            .unwrap()
            .abs()
            < 5.0
    );
    let round = json_lines(out.as_bytes()).pop().unwrap();
    assert_eq!(round["event"], "health-round");
    assert_eq!(
        (round["state"].as_str(), round["exit"].as_u64()),
        (Some("ok"), Some(0))
    );

    // The text: the summary line first (what monitoring reads), one
    // measure per check with a number, then the grid.
    let (rc, out, _) = health(&lab.plan, &[]);
    assert_eq!(rc, Some(0));
    let first = out.lines().next().unwrap();
    assert!(
        first.starts_with("MDCLUSTER OK - all 17 checks OK | "),
        "{first}"
    );
    let perf = first.split_once(" | ").unwrap().1;
    assert_eq!(perf.matches('=').count(), 7 + 6 + 1 + 2 + 1, "{perf}");
    assert!(perf.contains("'MAIL2 imap'="), "{perf}");
    assert!(out.lines().nth(1).unwrap().starts_with("NODE"), "{out}");
    // After the first line a `|` would start more performance data.
    assert!(out.lines().skip(1).all(|l| !l.contains('|')), "{out}");
}

#[test]
fn a_node_that_answers_nothing_is_critical_and_named() {
    let lab = small_lab();
    let addrs = ["127.0.0.1", "127.0.0.32"];
    let services: Vec<(Service, u16)> = [Service::Smtp, Service::Http]
        .iter()
        .map(|s| (*s, free_port(&addrs)))
        .collect();
    plan_with(&lab, &[("MAIL2", addrs[1])], &lb_services(&services, ""));
    let _a = standin("MAIL1", addrs[0], &services);
    append_cluster_log(&lab.install, &["lost connection to MAIL2"]);

    let (rc, out, err) = health(&lab.plan, &["--json"]);
    assert_eq!(rc, Some(2), "{out}{err}");
    let all = checks(&out);
    for s in ["smtp", "http"] {
        let c = find(&all, Some("MAIL2"), s);
        assert_eq!(c["state"], "critical", "{c}");
        assert_eq!(c["detail"], "connection refused", "{c}");
        assert_eq!(find(&all, Some("MAIL1"), s)["state"], "ok");
    }
    assert_eq!(
        find(&all, Some("MAIL2"), "cluster-log")["state"],
        "critical"
    );
    let (rc, out, _) = health(&lab.plan, &[]);
    assert_eq!(rc, Some(2));
    let first = out.lines().next().unwrap();
    assert!(first.starts_with("MDCLUSTER CRITICAL - 3 of "), "{first}");
    assert!(first.contains("MAIL2 smtp: connection refused"), "{first}");
    assert!(first.contains("'MAIL2 smtp'=U;"), "{first}");
}

/// A server on `address:port` that does `behave` with each connection.
fn hostile(address: &str, port: u16, behave: fn(std::net::TcpStream)) -> Arc<AtomicBool> {
    let listener = TcpListener::bind((address.parse::<std::net::IpAddr>().unwrap(), port)).unwrap();
    listener.set_nonblocking(true).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    std::thread::spawn(move || {
        while !s.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((c, _)) => {
                    c.set_nonblocking(false).unwrap();
                    std::thread::spawn(move || behave(c));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    });
    stop
}

#[test]
fn slow_hostile_and_silent_services_are_judged_and_what_they_say_is_tamed() {
    let lab = small_lab();
    let addrs = [
        "127.0.0.1",
        "127.0.0.41",
        "127.0.0.42",
        "127.0.0.43",
        "127.0.0.44",
        "127.0.0.45",
    ];
    let port = free_port(&addrs);
    let services = [(Service::Smtp, port)];
    let nodes: Vec<(String, &str)> = addrs[1..]
        .iter()
        .enumerate()
        .map(|(i, a)| (format!("MAIL{}", i + 2), *a))
        .collect();
    let named: Vec<(&str, &str)> = nodes.iter().map(|(n, a)| (n.as_str(), *a)).collect();
    plan_with(&lab, &named, &lb_services(&services, ""));
    let _ok = standin("MAIL1", addrs[0], &services);
    let mut stops = vec![
        // Slow: the greeting after 600 ms.
        hostile(addrs[1], port, |mut c| {
            std::thread::sleep(Duration::from_millis(600));
            let _ = c.write_all(b"220 slow ESMTP\r\n");
            std::thread::sleep(Duration::from_secs(1));
        }),
        // Escape sequences, a bidi override and a line of 10 000 bytes.
        hostile(addrs[2], port, |mut c| {
            let mut line = b"220 \x1b[2J\x1b]0;pwned\x07 \xe2\x80\xae evil ".to_vec();
            line.extend(std::iter::repeat_n(b'A', 10_000));
            line.extend_from_slice(b"\r\n");
            let _ = c.write_all(&line);
            std::thread::sleep(Duration::from_secs(1));
        }),
        // Refuses with another code.
        hostile(addrs[3], port, |mut c| {
            let _ = c.write_all(b"554 go away\r\n");
        }),
        // Accepts and says nothing.
        hostile(addrs[4], port, |mut c| {
            let mut b = [0u8; 64];
            let _ = c.read(&mut b);
            std::thread::sleep(Duration::from_secs(20));
        }),
    ];
    // MAIL6: nothing listens at all (addrs[5]).
    let started = Instant::now();
    let (rc, out, err) = health(
        &lab.plan,
        &[
            "--json",
            "--timeout",
            "2",
            "--warning-ms",
            "300",
            "--critical-ms",
            "1500",
        ],
    );
    // A hang guard, not a benchmark: the silent server must not hold the round.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(rc, Some(2), "{out}{err}");
    let all = checks(&out);
    let smtp = |n: &str| find(&all, Some(n), "smtp");
    assert_eq!(smtp("MAIL1")["state"], "ok");
    assert_eq!(smtp("MAIL2")["state"], "warning", "{}", smtp("MAIL2"));
    assert!(smtp("MAIL2")["detail"].as_str().unwrap().contains("slow"));
    let evil = smtp("MAIL3");
    assert_eq!(evil["state"], "ok", "{evil}");
    let read = evil["read"].as_str().unwrap();
    assert!(read.len() < 400, "{}", read.len());
    assert!(
        !read.chars().any(|c| c.is_control() || c == '\u{202e}'),
        "{read:?}"
    );
    assert_eq!(smtp("MAIL4")["state"], "critical");
    assert!(smtp("MAIL4")["read"].as_str().unwrap().starts_with("554"));
    assert_eq!(smtp("MAIL5")["state"], "critical");
    assert!(
        smtp("MAIL5")["detail"]
            .as_str()
            .unwrap()
            .contains("timed out"),
        "{}",
        smtp("MAIL5")
    );
    assert_eq!(smtp("MAIL6")["state"], "critical");
    // The terminal gets no escape either.
    let (_, text, _) = health(&lab.plan, &["--timeout", "1"]);
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{202e}'),
        "{text:?}"
    );
    for s in stops.drain(..) {
        s.store(true, Ordering::SeqCst);
    }
}

#[test]
fn what_health_cannot_use_is_unknown_and_nothing_changes() {
    let lab = small_lab();
    let before = tree_hash(lab.tmp.path(), false);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--warning-ms", "5000"],
            "--warning-ms 5000 is above --critical-ms",
        ),
        (vec!["--clock-warning", "500"], "--clock-warning"),
        (
            vec!["--log-age-warning", "2h", "--log-age-critical", "1h"],
            "--log-age-warning",
        ),
        (vec!["--log-age-warning", "5 weeks"], "unknown unit"),
        (vec!["--timeout", "0"], "0.1 to 3600"),
        (vec!["--timeout", "abc"], "not a number"),
        (vec!["--rounds", "2"], "--watch"),
        (vec!["--watch", "--rounds", "0"], "--rounds"),
        (vec!["--bogus"], "unexpected argument"),
    ];
    for (args, says) in cases {
        let (rc, out, err) = health(&lab.plan, &args);
        assert_eq!(rc, Some(3), "{args:?}: {out}{err}");
        assert!((out.clone() + &err).contains(says), "{args:?}: {out}{err}");
    }
    // Options clap refuses: UNKNOWN too, also after a global option, with
    // the status line on stdout (or the JSON error event).
    let out = mdcluster()
        .args([
            "--profile",
            "nowhere.toml",
            "health",
            "--timeout",
            "abc",
            "--plan",
        ])
        .arg(&lab.plan)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("MDCLUSTER UNKNOWN - invalid value 'abc'")
    );
    let (rc, out, _) = health(&lab.plan, &["--timeout", "abc", "--json"]);
    assert_eq!(rc, Some(3));
    assert_eq!(json_lines(out.as_bytes())[0]["exit"], 3, "{out}");
    let (rc, out, _) = health(&lab.tmp.path().join("missing.toml"), &[]);
    assert_eq!(rc, Some(3));
    assert!(
        out.starts_with("MDCLUSTER UNKNOWN - could not read the plan"),
        "{out}"
    );
    let (rc, out, _) = health(&lab.tmp.path().join("missing.toml"), &["--json"]);
    assert_eq!(rc, Some(3));
    assert_eq!(json_lines(out.as_bytes())[0]["exit"], 3);
    // A plan with a bad failover table: UNKNOWN, with the key named.
    plan_with(
        &lab,
        &[],
        "\n[load_balancer.failover]\nafter = 0\nreload = []\n",
    );
    let (rc, out, err) = health(&lab.plan, &[]);
    assert_eq!(rc, Some(3), "{out}{err}");
    assert!(
        err.contains("load_balancer.failover.after 0 is out of range"),
        "{err}"
    );
    assert!(
        err.contains("load_balancer.failover.reload needs a program"),
        "{err}"
    );
    std::fs::write(
        &lab.plan,
        std::fs::read_to_string(&lab.plan)
            .unwrap()
            .replace("after = 0\nreload = []\n", ""),
    )
    .unwrap();
    // A round writes nothing that stays (the share probe is removed), and
    // removes a probe file a killed check left 10 minutes ago or more.
    let host: String = mdcluster::platform::hostname()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(15)
        .collect();
    let old = lab.share.join(format!(".mdcluster-health-{host}-1-0.tmp"));
    let fresh = lab.share.join(format!(".mdcluster-health-{host}-2-0.tmp"));
    // Another machine's: never touched here, however old.
    let theirs = lab.share.join(".mdcluster-health-OTHERHOST-1-0.tmp");
    std::fs::write(&theirs, "x").unwrap();
    std::fs::write(&old, "x").unwrap();
    std::fs::write(&fresh, "x").unwrap();
    let hour_ago = filetime::FileTime::from_system_time(
        std::time::SystemTime::now() - Duration::from_secs(3600),
    );
    filetime::set_file_mtime(&old, hour_ago).unwrap();
    filetime::set_file_mtime(&theirs, hour_ago).unwrap();
    let _ = health(&lab.plan, &["--timeout", "0.5"]);
    assert!(!old.exists() && fresh.exists() && theirs.exists());
    std::fs::remove_file(&fresh).unwrap();
    std::fs::remove_file(&theirs).unwrap();
    let before_map = tree_map(lab.tmp.path(), false);
    let _ = health(&lab.plan, &["--timeout", "0.5"]);
    assert_eq!(tree_map(lab.tmp.path(), false), before_map);
    assert_ne!(before, String::new());
}

#[test]
fn the_watch_repeats_rounds() {
    let lab = small_lab();
    let addrs = ["127.0.0.1"];
    let services = [(Service::Smtp, free_port(&addrs))];
    plan_with(&lab, &[], &lb_services(&services, ""));
    let _a = standin("MAIL1", addrs[0], &services);
    let (rc, out, err) = health(
        &lab.plan,
        &["--watch", "--rounds", "3", "--interval", "0.2", "--json"],
    );
    let rounds: Vec<Value> = json_lines(out.as_bytes())
        .into_iter()
        .filter(|e| e["event"] == "health-round")
        .collect();
    assert_eq!(rounds.len(), 3, "{out}{err}");
    assert_eq!(rounds[2]["round"], 3);
    // The state of the last round (the sandbox has no cluster log: WARNING).
    assert_eq!(rc, Some(rounds[2]["exit"].as_i64().unwrap() as i32));
}

/// The lab as a cluster of MAIL1 and MAIL2 (registered), HAProxy's files in
/// `out`, Webmail balanced and SMTP, and the failover policy.
fn failover_lab(out: &Path, services: &[(Service, u16)], policy: &str) -> Lab {
    let lab = small_lab();
    let extra = format!(
        "kind = \"haproxy\"\nhttp_mode = \"balanced\"\noutput = {}\n{policy}",
        toml::Value::String(out.display().to_string())
    );
    plan_with(&lab, &[("MAIL2", "127.0.0.33")], &lb_services(services, ""));
    // The policy sub-table and the keys must sit in [load_balancer].
    let text = std::fs::read_to_string(&lab.plan).unwrap();
    std::fs::write(
        &lab.plan,
        text.replacen(
            "[load_balancer]\n",
            &format!("[load_balancer]\n{extra}\n"),
            1,
        ),
    )
    .unwrap();
    let plan =
        mdcluster::plan::Plan::load(&lab.plan, &mdcluster::profile::Profile::builtin()).unwrap();
    let mut m = mdcluster::cluster::manifest::Manifest::default()
        .with_plan(&plan, "2026-01-01T00:00:00Z")
        .unwrap();
    for n in m.nodes.iter_mut() {
        n.registered
            .get_or_insert_with(|| "2026-01-01T00:00:00Z".into());
    }
    m.save(&lab.share).unwrap();
    lab
}

fn failover_events(out: &str) -> Vec<Value> {
    json_lines(out.as_bytes())
        .into_iter()
        .filter(|e| e["event"] == "failover")
        .collect()
}

#[test]
fn the_failover_watch_moves_a_failed_nodes_sessions_and_back_journaled_and_undoable() {
    let holder = tempfile::tempdir().unwrap();
    let out_dir = holder.path().join("lb");
    let addrs = ["127.0.0.1", "127.0.0.33"];
    let services: Vec<(Service, u16)> = [Service::Http, Service::Smtp]
        .iter()
        .map(|s| (*s, free_port(&addrs)))
        .collect();
    // The reload command: this mdcluster itself (runs everywhere), asked
    // for something harmless.
    let me = assert_cmd::cargo::cargo_bin("mdcluster");
    let policy = format!(
        "[load_balancer.failover]\nafter = 2\nrestore_after = 1\nreload = [{}, \"steps\"]\n",
        toml::Value::String(me.display().to_string())
    );
    let lab = failover_lab(&out_dir, &services, &policy);
    let out = lab.apply().args(["--yes", "--json"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cfg: PathBuf = out_dir.join("haproxy.cfg");
    let normal = std::fs::read(&cfg).unwrap();
    let _a = standin("MAIL1", addrs[0], &services);

    // MAIL2 answers nothing: counted in round 1, moved in round 2.
    let watch = [
        "--watch",
        "--failover",
        "--interval",
        "0.2",
        "--json",
        "--timeout",
        "1",
    ];
    let (_, out, err) = health(&lab.plan, &[&watch[..], &["--rounds", "3"]].concat());
    let f = failover_events(&out);
    assert_eq!(f[0]["action"], "counting", "{out}{err}");
    assert_eq!(
        (f[0]["node"].as_str(), f[0]["rounds"].as_u64()),
        (Some("MAIL2"), Some(1))
    );
    let moved = f
        .iter()
        .find(|e| e["action"] == "moved")
        .unwrap_or_else(|| panic!("{out}{err}"));
    assert_eq!(
        (moved["from"].as_str(), moved["to"].as_str()),
        (Some("MAIL2"), Some("MAIL1"))
    );
    assert_eq!(moved["reload_ran"], true);
    assert_eq!(moved["reload_ok"], true, "{moved}");
    assert_eq!(
        f.iter().filter(|e| e["action"] == "moved").count(),
        1,
        "{out}"
    );
    let failed_over = std::fs::read_to_string(&cfg).unwrap();
    assert!(failed_over.contains("use-server MAIL1 if"), "{failed_over}");
    assert!(
        failed_over.contains("failover: MAIL2 -> MAIL1"),
        "{failed_over}"
    );

    // A new watch finds the failover in force and changes nothing while
    // MAIL2 is still down.
    let (_, out, err) = health(&lab.plan, &[&watch[..], &["--rounds", "2"]].concat());
    assert!(
        err.contains("carry a failover: the sessions of MAIL2 go to MAIL1"),
        "{err}"
    );
    assert!(
        failover_events(&out)
            .iter()
            .all(|e| e["action"] == "counting"),
        "{out}"
    );
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), failed_over);

    // An `apply` meanwhile writes the normal configuration: the watch sees
    // it and moves the sessions again (MAIL2 is still down).
    let out = lab.apply().args(["--yes"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(&cfg).unwrap(), normal);
    let (_, out, err) = health(&lab.plan, &[&watch[..], &["--rounds", "2"]].concat());
    assert!(
        failover_events(&out).iter().any(|e| e["action"] == "moved"),
        "{out}{err}"
    );
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), failed_over);

    // MAIL2 is back: the normal configuration, byte for byte.
    let _b = standin("MAIL2", addrs[1], &services);
    let (_, out, err) = health(&lab.plan, &[&watch[..], &["--rounds", "1"]].concat());
    let f = failover_events(&out);
    assert_eq!(f.len(), 1, "{out}{err}");
    assert_eq!(f[0]["action"], "restored");
    assert_eq!(std::fs::read(&cfg).unwrap(), normal);

    // Each change was a run of its own: undo --latest reverses the restore,
    // then the second failover.
    for expected in [failed_over.as_bytes(), normal.as_slice()] {
        let out = mdcluster()
            .args(["undo", "--latest", "--yes", "--plan"])
            .arg(&lab.plan)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(std::fs::read(&cfg).unwrap(), expected);
    }
}

#[test]
fn without_a_reload_command_it_is_printed_and_before_setup_the_watch_refuses() {
    let holder = tempfile::tempdir().unwrap();
    let out_dir = holder.path().join("lb");
    let addrs = ["127.0.0.1", "127.0.0.33"];
    let services = [(Service::Http, free_port(&addrs))];
    let lab = failover_lab(&out_dir, &services, "[load_balancer.failover]\nafter = 1\n");
    let _a = standin("MAIL1", addrs[0], &services);
    let watch = [
        "--watch",
        "--failover",
        "--interval",
        "0.2",
        "--rounds",
        "1",
        "--timeout",
        "1",
    ];
    // Before step 11 wrote anything: refused, nothing written.
    let (_, out, err) = health(&lab.plan, &[&watch[..], &["--json"]].concat());
    let f = failover_events(&out);
    assert_eq!(f[0]["action"], "refused", "{out}{err}");
    assert!(
        f[0]["why"]
            .as_str()
            .unwrap()
            .contains("step 11 has not written"),
        "{}",
        f[0]
    );
    assert!(!out_dir.exists());
    let out = lab.apply().args(["--yes"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, _, err) = health(&lab.plan, &watch);
    assert!(
        err.contains("the sessions of MAIL2 now go to MAIL1"),
        "{err}"
    );
    assert!(
        err.contains("reload the balancer now (no reload command is configured): haproxy -c"),
        "{err}"
    );
}
