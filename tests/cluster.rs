//! Secondaries with real mDNS traffic on loopback: `mdcluster join` and
//! `mdcluster discover` as separate processes, forged and unsigned
//! announcements published from this test, each cluster rule broken by a
//! node, and the whole apply flow (server IDs, registration, a node added
//! later, conflicts, the manifest lock, undo).
//!
//! Tests in this file run at the same time and all use loopback mDNS, so
//! every node has a name of its own and each test looks only at its nodes.

mod common;

use common::cluster::{
    append_cluster_log, binary, code, discover_args, discovered, join_args, node, rule, secondary,
    small_lab, Joined, UNC,
};
use common::{crash_points, crashed_through, json_lines, mdcluster, Lab};
use mdcluster::cluster::facts;
use mdcluster::cluster::pairing::{Announcement, JoinCode, SERVICE_TYPE};
use mdcluster::profile::Profile;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Replace the first `from` in a file (bytes: MDaemon's files are not UTF-8).
fn replace_in(file: &Path, from: &str, to: &str) {
    let bytes = std::fs::read(file).unwrap();
    let pos = bytes
        .windows(from.len())
        .position(|w| w == from.as_bytes())
        .unwrap_or_else(|| panic!("{} has no {from:?}", file.display()));
    let mut out = bytes[..pos].to_vec();
    out.extend_from_slice(to.as_bytes());
    out.extend_from_slice(&bytes[pos + from.len()..]);
    std::fs::write(file, out).unwrap();
}

fn ini_of(root: &Path) -> PathBuf {
    root.join("App/MDaemon.ini")
}

fn ini_value(root: &Path, key: &str) -> String {
    String::from_utf8_lossy(&std::fs::read(ini_of(root)).unwrap())
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_string))
        .unwrap_or_else(|| panic!("no {key}= in MDaemon.ini"))
}

/// Start `mdcluster join` for a secondary on loopback; returns once it announces.
fn join(
    lab: &Lab,
    root: &Path,
    name: &str,
    code: &str,
    share_local: &Path,
    env: &[(&str, &str)],
) -> Joined {
    let mut c = std::process::Command::new(binary());
    c.args(join_args(root, name, code, share_local))
        .arg("--loopback")
        .env("TZ", "Etc/UTC")
        .envs(env.iter().copied());
    let _ = lab;
    Joined::start(c)
}

/// `mdcluster discover` on the lab's primary: the JSON node objects by name.
fn discover(lab: &Lab, extra: &[&str]) -> (Vec<Value>, Value) {
    let out = mdcluster()
        .args(discover_args(lab))
        .args(["--loopback", "--timeout", "3", "--json"])
        .args(extra)
        .env("TZ", "Etc/UTC")
        .output()
        .unwrap();
    discovered(&out)
}

#[test]
fn a_joining_node_is_discovered_trusted_with_every_rule_verdict() {
    let lab = small_lab();
    let sec = secondary(&lab, "JD-MAIL2");
    let code = code(&lab);
    let _j = join(&lab, &sec, "JD-MAIL2", &code, &lab.share, &[]);
    let (nodes, finished) = discover(&lab, &[]);
    let n = node(&nodes, "JD-MAIL2");
    assert_eq!(n["trusted"], true, "{n}");
    assert_eq!(n["addable"], true, "{n}");
    assert_eq!(n["addresses"][0], "127.0.0.1", "{n}");
    let ids: Vec<&str> = n["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].as_str().unwrap())
        .collect();
    let rules: Vec<&str> = mdcluster::cluster::rules::RULES
        .iter()
        .map(|r| r.as_str())
        .collect();
    assert_eq!(ids, rules);
    assert!(n["rules"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["level"] == "pass"));
    // The facts arrived, with fingerprints instead of secrets.
    let key = ini_value(&sec, "Key");
    assert_eq!(n["facts"]["licence"], facts::licence_fingerprint(&key));
    assert!(
        !n.to_string().contains(&key),
        "the licence key crossed the network"
    );
    assert!(
        !n.to_string().contains(&code),
        "the join code crossed the network"
    );
    assert_eq!(n["facts"]["version"], "23.5.2");
    assert!(finished["trusted"].as_u64().unwrap() >= 1);

    // The human form says the same, and how the clock was measured.
    let out = mdcluster()
        .args(["discover", "--root"])
        .arg(&lab.install)
        .args(["--share", UNC, "--share-local"])
        .arg(&lab.share)
        .args(["--loopback", "--timeout", "2"])
        .env("TZ", "Etc/UTC")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("JD-MAIL2")).unwrap();
    assert!(
        line.contains("trusted") && line.contains("can join"),
        "{text}"
    );
    assert!(text.contains("file server's timestamp"), "{text}");
}

#[test]
fn without_the_right_code_a_node_is_untrusted_and_cannot_be_added() {
    let lab = small_lab();
    let sec = secondary(&lab, "WC-MAIL2");
    let real = code(&lab);
    let wrong = JoinCode::generate().display();
    assert_ne!(real, wrong);
    let _j = join(&lab, &sec, "WC-MAIL2", &wrong, &lab.share, &[]);
    let (nodes, _) = discover(&lab, &[]);
    let n = node(&nodes, "WC-MAIL2");
    assert_eq!(n["trusted"], false, "{n}");
    assert_eq!(n["addable"], false, "{n}");
    assert!(
        n["untrusted"].as_str().unwrap().contains("signature"),
        "{n}"
    );
    assert!(
        n["facts"].is_null(),
        "untrusted facts are not passed on: {n}"
    );

    // Apply with it in the plan: refused, nothing changed.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&lab.plan)
        .and_then(|mut f| {
            std::io::Write::write_all(
                &mut f,
                b"\n[[nodes]]\nname = \"WC-MAIL2\"\naddress = \"127.0.0.1\"\nrole = \"secondary\"\n",
            )
        })
        .unwrap();
    let before = lab.hash();
    let out = lab
        .apply()
        .args(["--loopback", "--discovery-timeout", "3", "--yes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("WC-MAIL2: trusted") && err.contains("join code"),
        "{err}"
    );
    assert_eq!(lab.hash(), before, "a refused run changed something");
    assert!(!lab.share.join("mdcluster/cluster.toml").exists());
}

/// A secondary of the plan that never announces: the preview says what to
/// run there as it is typed (the share named, the code asked for, never a
/// placeholder and never a code in the note).
#[test]
fn a_node_that_never_announced_is_told_the_real_join_command() {
    let lab = Lab::new();
    let code = mdcluster()
        .args(["code", "--root"])
        .arg(&lab.install)
        .args(["--share", UNC, "--share-local"])
        .arg(&lab.share)
        .output()
        .unwrap();
    assert!(code.status.success(), "{code:?}");
    let code = String::from_utf8_lossy(&code.stdout).trim().to_string();
    add_secondary_to_plan(&lab, "WC-GHOST", "");
    let out = lab
        .apply()
        .args(["--loopback", "--discovery-timeout", "1", "--dry-run"])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let want = format!("run `mdcluster join --share {UNC}` on it");
    assert!(text.contains(&want), "{want}\n{text}");
    assert!(text.contains("mdcluster code --show"), "{text}");
    assert!(!text.contains("--code"), "{text}");
    assert!(!text.contains(&code), "the code is in a note:\n{text}");
}

/// Publish an announcement from this test process, as anyone on the LAN could.
struct Published {
    daemon: mdns_sd::ServiceDaemon,
    fullname: String,
}

impl Published {
    fn new(instance: &str, props: &[(String, String)]) -> Published {
        let daemon = mdns_sd::ServiceDaemon::new().unwrap();
        daemon.disable_interface(mdns_sd::IfKind::All).unwrap();
        daemon
            .enable_interface(mdns_sd::IfKind::LoopbackV4)
            .unwrap();
        let props: Vec<(&str, &str)> = props
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let host = format!("{}.local.", instance.to_ascii_lowercase());
        let info =
            mdns_sd::ServiceInfo::new(SERVICE_TYPE, instance, &host, "127.0.0.1", 1000, &props[..])
                .unwrap();
        let fullname = info.get_fullname().to_string();
        daemon.register(info).unwrap();
        Published { daemon, fullname }
    }
}

impl Drop for Published {
    fn drop(&mut self) {
        if let Ok(rx) = self.daemon.unregister(&self.fullname) {
            let _ = rx.recv_timeout(std::time::Duration::from_secs(1));
        }
        let _ = self.daemon.shutdown();
    }
}

fn signed_txt(lab: &Lab, root: &Path, name: &str, code: &str, time_ms: i64) -> Announcement {
    let f = facts::collect(
        root,
        &Profile::builtin(),
        name,
        vec!["127.0.0.1".parse().unwrap()],
        Some(&lab.share),
        &facts::CertificateStore::of(root),
    );
    Announcement::sign(f, time_ms, &JoinCode::parse(code).unwrap())
}

#[test]
fn forged_replayed_copied_and_unsigned_announcements_are_refused() {
    let lab = small_lab();
    let code = code(&lab);
    let sec = secondary(&lab, "FG-GOOD");

    // A replay: a real signature, ten minutes old.
    let old = signed_txt(&lab, &sec, "FG-REPLAY", &code, facts::now_ms() - 600_000);
    let _replay = Published::new("FG-REPLAY", &old.to_txt());
    // Tampered: signed, then a fact changed.
    let mut txt = signed_txt(&lab, &sec, "FG-TAMPER", &code, facts::now_ms()).to_txt();
    for (k, v) in txt.iter_mut() {
        if v == "23.5.2" {
            *v = "23.5.3".into();
            let _ = k;
        }
    }
    let _tamper = Published::new("FG-TAMPER", &txt);
    // Copied: valid and fresh, but the signed address is not where it answers from.
    let mut copied = signed_txt(&lab, &sec, "FG-COPY", &code, facts::now_ms());
    copied.facts.addresses = vec!["192.0.2.99".parse().unwrap()];
    let copied = Announcement::sign(
        copied.facts,
        facts::now_ms(),
        &JoinCode::parse(&code).unwrap(),
    );
    let _copy = Published::new("FG-COPY", &copied.to_txt());
    // Unsigned, with terminal escapes in a value.
    let _unsigned = Published::new(
        "FG-UNSIGNED",
        &[
            ("name".into(), "FG-UNSIGNED".into()),
            ("version".into(), "\u{1b}[2J23.5.2".into()),
        ],
    );
    // And the real thing, for contrast.
    let _j = join(&lab, &sec, "FG-GOOD", &code, &lab.share, &[]);

    let (nodes, _) = discover(&lab, &[]);
    assert_eq!(node(&nodes, "FG-GOOD")["trusted"], true);
    for (name, why) in [
        ("FG-REPLAY", "a replay"),
        ("FG-TAMPER", "signature"),
        ("FG-COPY", "addresses"),
        ("FG-UNSIGNED", "not signed"),
    ] {
        let n = node(&nodes, name);
        assert_eq!(n["trusted"], false, "{n}");
        assert_eq!(n["addable"], false, "{n}");
        assert!(
            n["untrusted"].as_str().unwrap().contains(why),
            "{name}: {n}"
        );
    }

    // Nothing from the network reaches the terminal raw.
    let out = mdcluster()
        .args(["discover", "--root"])
        .arg(&lab.install)
        .args(["--share", UNC, "--share-local"])
        .arg(&lab.share)
        .args(["--loopback", "--timeout", "2"])
        .output()
        .unwrap();
    assert!(
        !out.stdout.contains(&0x1b),
        "an escape reached the terminal"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("FG-UNSIGNED") && text.contains("NOT trusted"),
        "{text}"
    );
}

#[test]
fn every_rule_is_checked_against_a_node_that_breaks_it() {
    let lab = small_lab();
    let code = code(&lab);
    let mut joined = Vec::new();
    let mut start = |name: &str, edit: &dyn Fn(&Path), env: &[(&str, &str)], share: &Path| {
        let sec = secondary(&lab, name);
        edit(&sec);
        joined.push(join(&lab, &sec, name, &code, share, env));
    };
    let none = |_: &Path| {};
    start("RV-GOOD", &none, &[], &lab.share);
    start(
        "RV-VERSION",
        &|s| replace_in(&ini_of(s), "Version=23.5.2", "Version=23.0.1"),
        &[],
        &lab.share,
    );
    start("RV-TZ", &none, &[("TZ", "Europe/Berlin")], &lab.share);
    start(
        "RV-CLOCK",
        &none,
        &[(mdcluster::test_hooks::CLOCK_SKEW_MS, "2500")],
        &lab.share,
    );
    let primary_key = ini_value(&lab.install, "Key");
    start(
        "RV-LICENCE",
        &|s| {
            let own = ini_value(s, "Key");
            replace_in(&ini_of(s), &own, &primary_key)
        },
        &[],
        &lab.share,
    );
    start(
        "RV-CERTS",
        &|s| {
            let store = s.join(mdcluster::sandbox::CERT_STORE);
            let first = std::fs::read_to_string(&store)
                .unwrap()
                .lines()
                .next()
                .unwrap()
                .to_string();
            std::fs::write(&store, first).unwrap();
        },
        &[],
        &lab.share,
    );
    start(
        "RV-ATTACH",
        &|s| {
            replace_in(
                &ini_of(s),
                "attachmentLinking = No",
                "attachmentLinking = Yes",
            )
        },
        &[],
        &lab.share,
    );
    start(
        "RV-UPDATE",
        &|s| replace_in(&ini_of(s), "AutoUpdateInstall=No", "AutoUpdateInstall=Yes"),
        &[],
        &lab.share,
    );
    start(
        "RV-BIND",
        &|s| replace_in(&s.join("App/Domains.dat"), "Bind=No", "Bind=Yes"),
        &[],
        &lab.share,
    );
    let unreachable = lab.tmp.path().join("not-the-share");
    start("RV-SHARE", &none, &[], &unreachable);

    let (nodes, _) = discover(&lab, &[]);
    let good = node(&nodes, "RV-GOOD");
    assert_eq!(good["addable"], true, "{good}");
    for (name, id, detail) in [
        ("RV-VERSION", "version", "23.0.1"),
        ("RV-TZ", "time-zone", "Europe/Berlin"),
        ("RV-CLOCK", "clock", "apart"),
        ("RV-LICENCE", "licence", ""),
        ("RV-CERTS", "certificates", ""),
        ("RV-ATTACH", "attachment-linking", "on the node"),
        ("RV-UPDATE", "auto-update", "on the node"),
        ("RV-BIND", "domain-ip-binding", "on the node"),
        ("RV-SHARE", "shared-path", ""),
    ] {
        let n = node(&nodes, name);
        assert_eq!(n["trusted"], true, "{n}");
        assert_eq!(n["addable"], false, "{name} may join: {n}");
        let r = rule(n, id);
        assert_eq!(r["level"], "fail", "{name}: {r}");
        assert!(
            r["detail"].as_str().unwrap().contains(detail),
            "{name}: {r}"
        );
        // Only its own rule (and what follows from it) fails.
        let failing: Vec<&str> = n["rules"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["level"] != "pass")
            .map(|r| r["rule"].as_str().unwrap())
            .collect();
        let allowed: &[&str] = if id == "shared-path" {
            &["shared-path", "clock"]
        } else {
            &[id]
        };
        assert!(
            failing.iter().all(|f| allowed.contains(f)),
            "{name}: {failing:?}"
        );
    }
    // A rule named in --ignore no longer blocks, and says so.
    let (nodes, _) = discover(&lab, &["--ignore", "version"]);
    let n = node(&nodes, "RV-VERSION");
    assert_eq!(rule(n, "version")["level"], "ignored");
    assert_eq!(n["addable"], true);
    // An unknown rule name is a usage error that lists the rules and
    // suggests the nearest.
    let out = mdcluster()
        .args(["discover", "--root"])
        .arg(&lab.install)
        .args(["--loopback", "--ignore", "versoin"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("possible values: version, time-zone,")
            && err.contains("'version'")
            && !err.contains("address"),
        "{err}"
    );

    // Let's Encrypt on the primary: a warning for every node, not a block.
    replace_in(&ini_of(&lab.install), "LetsEncrypt=No", "LetsEncrypt=Yes");
    let (nodes, _) = discover(&lab, &[]);
    let good = node(&nodes, "RV-GOOD");
    assert_eq!(rule(good, "letsencrypt")["level"], "warn", "{good}");
    assert_eq!(good["addable"], true);
}

fn add_secondary_to_plan(lab: &Lab, name: &str, extra: &str) {
    common::cluster::add_secondary_to_plan(lab, name, "127.0.0.1", extra);
}

fn manifest(lab: &Lab) -> mdcluster::cluster::manifest::Manifest {
    mdcluster::cluster::manifest::Manifest::load(&lab.share)
        .unwrap()
        .expect("a cluster manifest on the share")
}

fn apply_json(lab: &Lab, env: &[(&str, &str)]) -> (Option<i32>, Vec<Value>, String) {
    let out = lab
        .apply()
        // Listening ends as soon as every planned secondary is found; the
        // limit only matters on a loaded machine (Wine in CI once needed
        // more than 6 s, and a Linux run beside two compilers more than 15).
        .args(["--loopback", "--discovery-timeout", "30", "--yes", "--json"])
        .envs(env.iter().copied())
        .env("TZ", "Etc/UTC")
        .output()
        .unwrap();
    // With --json an error is an event on stdout: the text is both streams.
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), json_lines(&out.stdout), text)
}

fn step_status(lab: &Lab, step: &str) -> String {
    let out = mdcluster()
        .args(["status", "--json", "--plan"])
        .arg(&lab.plan)
        .output()
        .unwrap();
    json_lines(&out.stdout)
        .into_iter()
        .find(|v| v["step"] == step)
        .map(|v| v["state"].as_str().unwrap().to_string())
        .unwrap()
}

#[test]
fn apply_assigns_ids_waits_for_registration_and_a_rerun_adds_only_the_new_node() {
    let lab = small_lab();
    let original_ini = lab.ini_bytes();
    let code = code(&lab);
    add_secondary_to_plan(&lab, "AF-MAIL2", "");
    let sec2 = secondary(&lab, "AF-MAIL2");
    let mut j2 = join(&lab, &sec2, "AF-MAIL2", &code, &lab.share, &[]);

    // First run: the whole conversion, and AF-MAIL2 gets server ID 2.
    let (rc, events, err) = apply_json(&lab, &[]);
    assert_eq!(rc, Some(0), "{err}\n{events:#?}");
    let m = manifest(&lab);
    assert_eq!(m.member("MAIL1").unwrap().server_id, 1);
    let m2 = m.member("AF-MAIL2").unwrap();
    assert_eq!(m2.server_id, 2);
    assert!(m2.registered.is_none());
    assert_eq!(
        m2.licence.as_deref(),
        Some(&*facts::licence_fingerprint(&ini_value(&sec2, "Key")))
    );
    let finished = events.last().unwrap();
    let next = finished.to_string();
    assert!(
        next.contains("server ID 2") && next.contains("register --plan"),
        "the registration instructions: {finished}"
    );
    assert_eq!(j2.wait_for("added")["server_id"], 2);
    assert_eq!(step_status(&lab, "server-ids"), "waiting");

    // The administrator registers it in MDaemon and says so; join ends.
    mdcluster()
        .args(["register", "--plan"])
        .arg(&lab.plan)
        .args(["--node", "AF-MAIL2"])
        .assert()
        .success();
    assert_eq!(j2.wait_for("registered")["server_id"], 2);
    // Then it verifies from its own cluster log: MDaemon on the secondary
    // (here the test) writes the connection to the primary and a replication.
    assert_eq!(j2.wait_for("verifying")["primary"], "MAIL1");
    append_cluster_log(
        &sec2,
        &[
            "Cluster service: connected to MAIL1 (server ID 1)",
            "Cluster service: replication to MAIL1 complete (3 items)",
        ],
    );
    let verified = j2.wait_for("verified");
    assert_eq!(verified["ok"], true, "{verified}");
    assert!(j2.child.wait().unwrap().success());
    assert_eq!(step_status(&lab, "server-ids"), "done");

    // A rerun changes nothing.
    let manifest_bytes = std::fs::read(lab.share.join("mdcluster/cluster.toml")).unwrap();
    let before = lab.hash();
    let (rc, events, err) = apply_json(&lab, &[]);
    assert_eq!(rc, Some(0), "{err}");
    assert!(
        events.iter().all(|e| e["event"] != "action-done"),
        "{events:#?}"
    );
    assert_eq!(lab.hash(), before);

    // Add a node: a plan with one more [[nodes]] entry.
    add_secondary_to_plan(&lab, "AF-MAIL3", "");
    let sec3 = secondary(&lab, "AF-MAIL3");
    let mut j3 = join(&lab, &sec3, "AF-MAIL3", &code, &lab.share, &[]);
    let install_before = common::tree_hash(&lab.install, true);

    // While another wizard holds the manifest: refused before any change, naming it.
    let lock = lab.share.join("mdcluster/cluster.lock");
    let alive = facts::now_ms() / 1000;
    std::fs::write(
        &lock,
        format!(r#"{{"host":"OTHERHOST","pid":4242,"command":"wizard","since":"2026-11-21T09:00:00Z","alive":{alive}}}"#),
    )
    .unwrap();
    let (rc, _, err) = apply_json(&lab, &[]);
    assert_eq!(rc, Some(3), "{err}");
    assert!(err.contains("wizard (process 4242 on OTHERHOST"), "{err}");
    assert_eq!(
        std::fs::read(lab.share.join("mdcluster/cluster.toml")).unwrap(),
        manifest_bytes
    );
    std::fs::remove_file(&lock).unwrap();

    // An ID the plan asks for that another node holds: an error naming both.
    lab.edit_plan(
        "name = \"AF-MAIL3\"\naddress = \"127.0.0.1\"\nrole = \"secondary\"\n",
        "name = \"AF-MAIL3\"\naddress = \"127.0.0.1\"\nrole = \"secondary\"\nserver_id = 2\n",
    );
    let (rc, _, err) = apply_json(&lab, &[]);
    assert_eq!(rc, Some(3), "{err}");
    assert!(
        err.contains("AF-MAIL3") && err.contains("AF-MAIL2"),
        "{err}"
    );
    lab.edit_plan("server_id = 2\n", "");

    let (rc, events, err) = apply_json(&lab, &[]);
    assert_eq!(rc, Some(0), "{err}\n{events:#?}");
    let m = manifest(&lab);
    assert_eq!(m.member("AF-MAIL3").unwrap().server_id, 3);
    let m2 = m.member("AF-MAIL2").unwrap();
    assert_eq!(m2.server_id, 2);
    assert!(m2.registered.is_some(), "the earlier registration stays");
    assert_eq!(
        common::tree_hash(&lab.install, true),
        install_before,
        "adding a node touched the installation"
    );
    let changed: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "step-done" && e["outcome"] == "changed")
        .collect();
    assert_eq!(changed.len(), 1, "{changed:#?}");
    assert_eq!(changed[0]["step"], "server-ids");
    assert_eq!(j3.wait_for("added")["server_id"], 3);

    // Undo takes the nodes back out: AF-MAIL3 (never registered) is simply
    // gone; AF-MAIL2 was registered in MDaemon, so its ID stays retired.
    lab.undo();
    let m = manifest(&lab);
    assert!(
        m.member("AF-MAIL3").is_none() && m.member("AF-MAIL2").is_none(),
        "{m:?}"
    );
    assert_eq!(m.retired.len(), 1);
    assert_eq!(m.retired[0].server_id, 2);
    assert_eq!(
        lab.ini_bytes(),
        original_ini,
        "undo reverses the whole conversion"
    );
}

/// Give a lab the join code another lab issued (one join serves both).
fn share_code(from: &Lab, to: &Lab) {
    let state = to.install.join("mdcluster");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::copy(
        from.install.join("mdcluster/join-code.json"),
        state.join("join-code.json"),
    )
    .unwrap();
}

#[test]
fn adding_a_node_survives_a_kill_at_every_journal_record() {
    let first = small_lab();
    let code = code(&first);
    let sec2 = secondary(&first, "KC-MAIL2");
    let _j2 = join(&first, &sec2, "KC-MAIL2", &code, &first.share, &[]);
    let sec3 = secondary(&first, "KC-MAIL3");
    let _j3 = join(&first, &sec3, "KC-MAIL3", &code, &first.share, &[]);
    let mut last_crash = 0;
    for n in crash_points() {
        // A cluster of two, KC-MAIL2 registered; then KC-MAIL3 is added.
        let lab = small_lab();
        let original_ini = lab.ini_bytes();
        share_code(&first, &lab);
        add_secondary_to_plan(&lab, "KC-MAIL2", "");
        let (rc, _, text) = apply_json(&lab, &[]);
        assert_eq!(rc, Some(0), "{text}");
        mdcluster()
            .args(["register", "--plan"])
            .arg(&lab.plan)
            .args(["--node", "KC-MAIL2"])
            .assert()
            .success();
        add_secondary_to_plan(&lab, "KC-MAIL3", "");
        let (rc, _, _) = apply_json(&lab, &[("MDCLUSTER_CRASH_AFTER_RECORD", &n.to_string())]);
        if rc == Some(0) {
            break; // past the last record: the run completed
        }
        last_crash = n;
        if n % 2 == 0 {
            // A rerun finishes the job.
            let (rc, _, text) = apply_json(&lab, &[]);
            assert_eq!(rc, Some(0), "crash after record {n}: {text}");
            let m = manifest(&lab);
            assert_eq!(
                m.member("KC-MAIL3").map(|x| x.server_id.get()),
                Some(3),
                "crash after record {n}"
            );
            assert!(m.member("KC-MAIL2").unwrap().registered.is_some());
        } else {
            // Or undo reverses everything, this run's part included.
            lab.undo();
            let m = manifest(&lab);
            assert!(
                m.member("KC-MAIL3").is_none(),
                "crash after record {n}: {m:?}"
            );
            assert_eq!(
                m.retired.iter().map(|r| r.server_id).collect::<Vec<_>>(),
                vec![2]
            );
            assert_eq!(lab.ini_bytes(), original_ini, "crash after record {n}");
        }
    }
    assert!(
        crashed_through(last_crash, 5),
        "too few records in the run that adds a node: the last crash at {last_crash}"
    );
}

/// A manifest a newer mdcluster wrote (a field this one does not know):
/// adding a node is refused in the preview, naming the field, and the file
/// keeps every byte (docs/state-formats.md).
#[test]
fn a_manifest_from_a_newer_mdcluster_is_not_written_over() {
    let lab = small_lab();
    let code = code(&lab);
    let sec2 = secondary(&lab, "NW-MAIL2");
    let _j2 = join(&lab, &sec2, "NW-MAIL2", &code, &lab.share, &[]);
    let sec3 = secondary(&lab, "NW-MAIL3");
    let _j3 = join(&lab, &sec3, "NW-MAIL3", &code, &lab.share, &[]);
    add_secondary_to_plan(&lab, "NW-MAIL2", "");
    let (rc, _, text) = apply_json(&lab, &[]);
    assert_eq!(rc, Some(0), "{text}");
    let file = lab.share.join("mdcluster/cluster.toml");
    let newer = std::fs::read_to_string(&file).unwrap().replacen(
        "primary = ",
        "zone = \"eu\"\nprimary = ",
        1,
    );
    std::fs::write(&file, &newer).unwrap();
    add_secondary_to_plan(&lab, "NW-MAIL3", "");
    let (rc, _, text) = apply_json(&lab, &[]);
    assert_eq!(rc, Some(3), "{text}");
    assert!(
        text.contains("does not know (zone)") && text.contains("same mdcluster version"),
        "{text}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), newer);
}

/// A secondary whose registration the manifest records already (a rerun of
/// `join` on it): `join` goes straight to verifying.
fn registered_secondary(lab: &Lab, name: &str) -> PathBuf {
    use mdcluster::cluster::manifest::{Manifest, Member};
    let sec = secondary(lab, name);
    let m = Manifest {
        version: 1,
        primary: "MAIL1".into(),
        nodes: vec![Member {
            name: name.into(),
            role: mdcluster::plan::Role::Secondary,
            server_id: mdcluster::plan::ServerId::new(2).unwrap(),
            address: "127.0.0.1".into(),
            licence: None,
            added: "2026-11-22T09:00:00Z".into(),
            registered: Some("2026-11-22T09:01:00Z".into()),
        }],
        retired: Vec::new(),
    };
    std::fs::create_dir_all(lab.share.join("mdcluster")).unwrap();
    m.save(&lab.share).unwrap();
    sec
}

fn join_output(
    lab: &Lab,
    sec: &Path,
    name: &str,
    code: &str,
    extra: &[&str],
) -> std::process::Output {
    std::process::Command::new(binary())
        .args(join_args(sec, name, code, &lab.share))
        .args(["--loopback"])
        .args(extra)
        .env("TZ", "Etc/UTC")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

#[test]
fn join_ends_verified_once_its_own_cluster_log_shows_the_primary() {
    let lab = small_lab();
    let code = code(&lab);
    let sec = registered_secondary(&lab, "JV-MAIL2");
    // An earlier line about another node, and one in no known format.
    append_cluster_log(
        &sec,
        &[
            "Cluster service: connected to OTHER (server ID 9)",
            "Cluster service starting",
        ],
    );
    let mut c = std::process::Command::new(binary());
    c.args(join_args(&sec, "JV-MAIL2", &code, &lab.share))
        .args(["--loopback", "--verify-timeout", "120"])
        .env("TZ", "Etc/UTC");
    let mut j = Joined::start(c);
    let registered = j.wait_for("registered");
    assert_eq!(registered["verify"], true, "{registered}");
    assert!(registered.get("exit").is_none(), "{registered}");
    let verifying = j.wait_for("verifying");
    assert_eq!(verifying["primary"], "MAIL1", "{verifying}");
    assert_eq!(verifying["timeout"], 120, "{verifying}");
    let opened = j.wait_for("log-file");
    assert!(
        opened["file"]
            .as_str()
            .is_some_and(|f| f.ends_with("-Cluster.log")),
        "{opened}"
    );

    // Connected, with a clock warning; replication comes later.
    append_cluster_log(
        &sec,
        &[
            "Cluster service: connected to MAIL1 (server ID 1)",
            "Cluster service: clock of MAIL1 differs from this server by 2.4 seconds",
        ],
    );
    let e = j.wait_for("log-event");
    assert_eq!(
        (e["kind"].as_str(), e["node"].as_str()),
        (Some("connected"), Some("MAIL1")),
        "{e}"
    );
    append_cluster_log(
        &sec,
        &["Cluster service: replication to MAIL1 complete (5 items)"],
    );
    let verified = j.wait_for("verified");
    assert_eq!(verified["ok"], true, "{verified}");
    assert_eq!(verified["exit"], 0, "{verified}");
    assert_eq!(verified["primary"], "MAIL1", "{verified}");
    let warnings = verified["warnings"].to_string();
    assert!(warnings.contains("clock warning"), "{verified}");
    assert!(j.child.wait().unwrap().success());

    // The same in text: the confirmation, the warning, exit 0 (the log is
    // complete now, so it confirms at once).
    let out = std::process::Command::new(binary())
        .args(["join", "--root"])
        .arg(&sec)
        .args(["--share", UNC, "--share-local"])
        .arg(&lab.share)
        .args(["--name", "JV-MAIL2", "--code", &code, "--loopback"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("Verified: JV-MAIL2 is connected to MAIL1 and replicating")
            && text.contains("Warning: MAIL1: clock warning"),
        "{text}"
    );
}

#[test]
fn join_without_the_primary_in_its_log_exits_5_naming_it_and_verify_timeout_0_skips() {
    let lab = small_lab();
    let code = code(&lab);
    let sec = registered_secondary(&lab, "JN-MAIL2");
    append_cluster_log(&sec, &["Cluster service: lost connection to MAIL1"]);
    let log = append_cluster_log(&sec, &["Cluster service starting"]);

    let out = join_output(&lab, &sec, "JN-MAIL2", &code, &["--verify-timeout", "2"]);
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    let events = json_lines(&out.stdout);
    let last = events.last().unwrap();
    assert_eq!(last["event"], "verified", "{last}");
    assert_eq!(
        (last["ok"].as_bool(), last["exit"].as_i64()),
        (Some(false), Some(5)),
        "{last}"
    );
    // The texts themselves, not their JSON form (which doubles a Windows
    // path's backslashes).
    let missing: Vec<String> = serde_json::from_value(last["missing"].clone()).unwrap();
    let missing = missing.join("\n");
    assert!(
        missing.contains("not connected to MAIL1")
            && missing.contains("lost connection to MAIL1")
            && missing.contains("no completed replication with MAIL1")
            && missing.contains(&*log.display().to_string()),
        "{last}"
    );

    // No line about the primary at all: named as missing, in text.
    std::fs::write(&log, "").unwrap();
    let mut text_args = join_args(&sec, "JN-MAIL2", &code, &lab.share);
    text_args.retain(|a| a != "--json");
    let out = std::process::Command::new(binary())
        .args(text_args)
        .args(["--loopback", "--verify-timeout", "1"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(5), "{text}");
    assert!(
        text.contains(&format!(
            "no connection to MAIL1 in this node's cluster log {} within 1 s",
            log.display()
        )) && text.contains("NOT verified within 1 s"),
        "{text}"
    );

    // --verify-timeout 0: as before, exit 0 once registered.
    let out = join_output(&lab, &sec, "JN-MAIL2", &code, &["--verify-timeout", "0"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let events = json_lines(&out.stdout);
    let last = events.last().unwrap();
    assert_eq!(last["event"], "registered", "{last}");
    assert_eq!(
        (last["exit"].as_i64(), last["verify"].as_bool()),
        (Some(0), Some(false)),
        "{last}"
    );
    assert!(
        events.iter().all(|e| e["event"] != "verifying"),
        "{events:?}"
    );
}

/// `join` takes the join code from a file or from standard input (a trailing
/// line break ignored), warns when it is on the command line (every user of
/// the machine reads it in the process list), and refuses a missing,
/// unreadable, empty or wrong file with exit 2 before anything happens.
#[test]
fn join_reads_the_code_from_a_file_or_standard_input() {
    let lab = small_lab();
    let code = code(&lab);
    let sec = registered_secondary(&lab, "JC-MAIL2");
    let run = |how: &[&std::ffi::OsStr], stdin: &str| {
        mdcluster()
            .args(["join", "--root"])
            .arg(&sec)
            .args(["--share", UNC, "--share-local"])
            .arg(&lab.share)
            .args(["--name", "JC-MAIL2", "--loopback", "--verify-timeout", "0"])
            .args(["--json"])
            .args(how)
            .env("TZ", "Etc/UTC")
            .write_stdin(stdin)
            .output()
            .unwrap()
    };
    let os = |s: &str| std::ffi::OsString::from(s);
    let file = lab.tmp.path().join("code.txt");
    std::fs::write(&file, format!("{code}\r\n")).unwrap();
    let joined = |out: &std::process::Output, warned: bool| {
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{err}");
        let events = json_lines(&out.stdout);
        assert_eq!(events.last().unwrap()["event"], "registered", "{events:?}");
        assert_eq!(err.contains("process list"), warned, "{err}");
    };
    joined(&run(&[&os("--code-file"), file.as_os_str()], ""), false);
    joined(&run(&[&os("--code-stdin")], &format!("{code}\n")), false);
    joined(&run(&[&os("--code-file"), &os("-")], &code), false);
    // The old way still works, with a warning.
    joined(&run(&[&os("--code"), &os(&code)], ""), true);

    // Bad files: exit 2, nothing announced, nothing changed.
    let before = (
        common::tree_hash(&sec, true),
        common::tree_hash(&lab.share, true),
    );
    let wrong = lab.tmp.path().join("wrong.txt");
    std::fs::write(&wrong, "not-a-code\n").unwrap();
    let empty = lab.tmp.path().join("empty.txt");
    std::fs::write(&empty, "\n").unwrap();
    let missing = lab.tmp.path().join("missing.txt");
    for (how, stdin, says) in [
        (
            vec![os("--code-file"), missing.clone().into()],
            "",
            "does not exist",
        ),
        (
            vec![os("--code-file"), lab.tmp.path().into()],
            "",
            "could not read",
        ),
        (
            vec![os("--code-file"), wrong.clone().into()],
            "",
            "not a join code",
        ),
        (
            vec![os("--code-file"), empty.clone().into()],
            "",
            "holds no join code",
        ),
        (vec![os("--code-stdin")], "", "holds no join code"),
        (vec![os("--code-stdin")], "K7QM-3XPA\n", "not a join code"),
    ] {
        let how: Vec<&std::ffi::OsStr> = how.iter().map(|s| s.as_os_str()).collect();
        let out = run(&how, stdin);
        assert_eq!(out.status.code(), Some(2), "{how:?}: {out:?}");
        // With --json the error is the one event: nothing was announced.
        let events = json_lines(&out.stdout);
        assert_eq!(events.len(), 1, "{how:?}: {events:?}");
        assert_eq!(events[0]["event"], "error", "{how:?}: {events:?}");
        assert!(
            events[0]["error"].to_string().contains(says),
            "{how:?}: {events:?}"
        );
    }
    assert_eq!(
        (
            common::tree_hash(&sec, true),
            common::tree_hash(&lab.share, true)
        ),
        before
    );
}

/// `node remove` retires the node's ID and says where to take it out of
/// MDaemon too: the list of registered servers, not the dialog that adds one.
#[test]
fn node_remove_says_where_to_take_the_node_out_of_mdaemon() {
    let lab = Lab::new();
    add_secondary_to_plan(&lab, "GONE2", "");
    let profile = mdcluster::profile::Profile::builtin();
    let plan = mdcluster::plan::Plan::load(&lab.plan, &profile).unwrap();
    mdcluster::cluster::manifest::Manifest::default()
        .with_plan(&plan, "2026-12-05T10:00:00Z")
        .unwrap()
        .save(&lab.share)
        .unwrap();
    let out = mdcluster()
        .args(["node", "remove", "--plan"])
        .arg(&lab.plan)
        .arg("GONE2")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("GONE2 removed; server ID 2 is retired"),
        "{said}"
    );
    assert!(said.contains(&*profile.cluster.remove_dialog), "{said}");
    assert!(!said.contains("Add a new MDaemon server"), "{said}");
    assert_eq!(manifest(&lab).retired[0].server_id, 2);
}
