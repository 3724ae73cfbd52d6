//! mdcluster's mDNS against a real, independent implementation: avahi-daemon
//! (with avahi-browse and avahi-publish) in one network namespace, mdcluster
//! in another, on one bridge (tests/common/netns.rs).
//!
//! - avahi sees what `mdcluster join` announces, and resolves it with every
//!   TXT key and value: the record it reads is the signed one, byte for byte.
//! - what avahi publishes reaches `mdcluster discover`: unsigned, it is listed
//!   but not trusted and `apply` refuses a plan that names it; signed with the
//!   join code, it is trusted (the signature decides, not the publisher).
//! - both bind UDP 5353 in one namespace and work side by side (mdns-sd sets
//!   SO_REUSEADDR and SO_REUSEPORT, avahi SO_REUSEADDR).
//!
//! The daemon gets a D-Bus system bus of its own (a socket in the test's temp
//! folder, no pid file) and a tmpfs over /run in the private mount namespace
//! `ip netns exec` gives it (its pid file and socket), so neither the
//! machine's bus nor an avahi running on the machine is touched. Root only:
//! skipped with a message without root or the programs, or a failure when
//! MDCLUSTER_REQUIRE_ROOT_TESTS is set (CI; scripts/test.sh installs them).

// Linux only: avahi-daemon and network namespaces have no Windows counterpart here.
#![cfg(target_os = "linux")]

mod common;

use common::cluster::{
    add_secondary_to_plan, binary, code, discover_args, discovered, join_args, node, secondary,
    small_lab, Joined,
};
use common::netns::{lan, Net, LINK};
use common::Lab;
use mdcluster::cluster::facts;
use mdcluster::cluster::pairing::{Announcement, JoinCode};
use mdcluster::profile::Profile;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const NEEDS: &[&str] = &[
    "ip",
    "dbus-daemon",
    "avahi-daemon",
    "avahi-browse",
    "avahi-publish",
];

/// avahi-daemon in a namespace, with a D-Bus system bus of its own; both
/// stopped (by their process ids) when dropped.
struct Avahi {
    daemon: Child,
    dbus: Child,
    /// The bus address its clients need (DBUS_SYSTEM_BUS_ADDRESS).
    bus: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

/// Wait until `ready` or `limit`; false when the time is up.
fn wait_until(limit: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if ready() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    ready()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

impl Avahi {
    fn start(ns: &str, host_name: &str) -> Avahi {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("system_bus_socket");
        let bus = format!("unix:path={}", socket.display());
        let file = |name: &str| std::fs::File::create(dir.path().join(name)).unwrap();
        // The system bus's own configuration (its policy lets root own
        // org.freedesktop.Avahi), listening on a socket of its own.
        let mut dbus = Net::exec(ns, "dbus-daemon")
            .args(["--system", "--nofork", "--nopidfile"])
            .arg(format!("--address={bus}"))
            .stdout(Stdio::null())
            .stderr(file("dbus.log"))
            .spawn()
            .unwrap();
        if !wait_until(Duration::from_secs(10), || socket.exists()) {
            let _ = dbus.kill();
            panic!(
                "dbus-daemon did not start: {}",
                read(&dir.path().join("dbus.log"))
            );
        }
        let conf = dir.path().join("avahi-daemon.conf");
        std::fs::write(
            &conf,
            format!(
                "[server]\nhost-name={host_name}\nuse-ipv4=yes\nuse-ipv6=no\n\
                 allow-interfaces={LINK}\nenable-dbus=yes\n\
                 [wide-area]\nenable-wide-area=no\n\
                 [publish]\npublish-hinfo=no\npublish-workstation=no\n\
                 [reflector]\nenable-reflector=no\n"
            ),
        )
        .unwrap();
        let log = dir.path().join("avahi.log");
        // `ip netns exec` runs it in a private mount namespace: a tmpfs on
        // /run there holds its pid file and socket, apart from any other avahi.
        let daemon = Net::exec(ns, "sh")
            .args([
                "-c",
                "mount -t tmpfs tmpfs /run && mkdir /run/avahi-daemon && \
                 exec avahi-daemon --no-drop-root --no-chroot --no-rlimits -f \"$0\"",
            ])
            .arg(&conf)
            .env("DBUS_SYSTEM_BUS_ADDRESS", &bus)
            .stdout(Stdio::null())
            .stderr(file("avahi.log"))
            .spawn()
            .unwrap();
        let mut a = Avahi {
            daemon,
            dbus,
            bus,
            log,
            _dir: dir,
        };
        let started = wait_until(Duration::from_secs(15), || {
            read(&a.log).contains("Server startup complete")
                || a.daemon.try_wait().ok().flatten().is_some()
        });
        assert!(
            started && a.running(),
            "avahi-daemon did not start:\n{}",
            read(&a.log)
        );
        a
    }

    fn running(&mut self) -> bool {
        self.daemon.try_wait().ok().flatten().is_none()
    }

    /// A client program (avahi-browse, avahi-publish) in `ns`, on this daemon's bus.
    fn client(&self, ns: &str, program: &str) -> std::process::Command {
        let mut c = Net::exec(ns, program);
        c.env("DBUS_SYSTEM_BUS_ADDRESS", &self.bus);
        c
    }
}

impl Drop for Avahi {
    fn drop(&mut self) {
        for c in [&mut self.daemon, &mut self.dbus] {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A running avahi-publish; stopped when dropped.
struct Publisher(Child);

impl Drop for Publisher {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn publish(avahi: &Avahi, ns: &str, instance: &str, txt: &[String]) -> Publisher {
    let out = avahi._dir.path().join(format!("publish-{instance}.log"));
    let child = avahi
        .client(ns, "avahi-publish")
        .args(["-s", instance, "_mdcluster._tcp", "1000"])
        .args(txt)
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(out.with_extension("err")).unwrap())
        .spawn()
        .unwrap();
    let mut p = Publisher(child);
    let established = wait_until(Duration::from_secs(10), || {
        read(&out).contains("Established")
            || read(&out.with_extension("err")).contains("Established")
    });
    assert!(
        established && p.0.try_wait().unwrap().is_none(),
        "avahi-publish {instance}: {}{}",
        read(&out),
        read(&out.with_extension("err"))
    );
    p
}

/// The strings of a TXT record as `avahi-browse -p` prints them: each in
/// double quotes, `"` and `\` escaped with `\`, other bytes as `\DDD`.
fn txt_strings(field: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = field.chars().peekable();
    loop {
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        match chars.next() {
            None => return out,
            Some('"') => {}
            Some(c) => panic!("unexpected {c:?} in the TXT field {field:?}"),
        }
        let mut bytes = Vec::new();
        loop {
            match chars.next() {
                Some('"') => break,
                Some('\\') => {
                    let c = chars.next().unwrap();
                    if c.is_ascii_digit() {
                        let d: String = [c, chars.next().unwrap(), chars.next().unwrap()]
                            .iter()
                            .collect();
                        bytes.push(d.parse::<u8>().unwrap());
                    } else {
                        bytes.push(c as u8);
                    }
                }
                Some(c) => bytes.extend(c.to_string().as_bytes()),
                None => panic!("unterminated TXT string in {field:?}"),
            }
        }
        out.push(String::from_utf8(bytes).unwrap());
    }
}

/// One resolved service from `avahi-browse -rpt`.
#[derive(Debug)]
struct Resolved {
    interface: String,
    host: String,
    address: String,
    port: String,
    txt: BTreeMap<String, String>,
}

/// `avahi-browse -rpt _mdcluster._tcp` in `ns`, run again until it resolves
/// `instance` over IPv4 (it prints what its cache holds, then ends).
fn avahi_resolve(avahi: &Avahi, ns: &str, instance: &str) -> Resolved {
    let end = Instant::now() + Duration::from_secs(20);
    let mut last = String::new();
    while Instant::now() < end {
        let out = avahi
            .client(ns, "avahi-browse")
            .args(["-rpt", "_mdcluster._tcp"])
            .output()
            .unwrap();
        last = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let f: Vec<&str> = line.splitn(10, ';').collect();
            if f.len() == 10 && f[0] == "=" && f[2] == "IPv4" && f[3] == instance {
                let txt = txt_strings(f[9])
                    .into_iter()
                    .map(|s| match s.split_once('=') {
                        Some((k, v)) => (k.to_string(), v.to_string()),
                        None => (s, String::new()),
                    })
                    .collect();
                return Resolved {
                    interface: f[1].into(),
                    host: f[6].into(),
                    address: f[7].into(),
                    port: f[8].into(),
                    txt,
                };
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("avahi-browse did not resolve {instance}:\n{last}");
}

fn discover_in(ns: &str, lab: &Lab, timeout: u32) -> Child {
    Net::exec(ns, binary())
        .args(discover_args(lab))
        .args([
            "--interface",
            LINK,
            "--json",
            "--timeout",
            &timeout.to_string(),
        ])
        .env("TZ", "Etc/UTC")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: Child) -> (Vec<Value>, Value) {
    discovered(&child.wait_with_output().unwrap())
}

/// UDP sockets bound to port 5353 in the namespace `ns`.
fn mdns_sockets(ns: &str) -> usize {
    let out = Net::exec(ns, "cat").arg("/proc/net/udp").output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(1)
        .filter(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|local| local.ends_with(":14E9"))
        })
        .count()
}

#[test]
fn avahi_resolves_what_join_announces_with_every_signed_txt_value() {
    let Some(mut net) = lan("avahi sees mdcluster join", NEEDS) else {
        return;
    };
    let node_ns = net.host("a", &["10.67.1.2/24"]);
    // avahi and the primary's `mdcluster discover` share this namespace.
    let avahi_ns = net.host("b", &["10.67.1.1/24"]);
    let mut avahi = Avahi::start(&avahi_ns, "mdc-avahi-b");
    assert_eq!(mdns_sockets(&avahi_ns), 1, "avahi holds port 5353");

    let lab = small_lab();
    let code = code(&lab);
    let sec = secondary(&lab, "AV-MAIL2");
    let mut c = Net::exec(&node_ns, binary());
    c.args(join_args(&sec, "AV-MAIL2", &code, &lab.share))
        .args(["--interface", LINK])
        .env("TZ", "Etc/UTC");
    let _j = Joined::start(c);

    // mdcluster listens beside avahi: both on 5353 in one namespace.
    let discovering = discover_in(&avahi_ns, &lab, 5);
    assert!(
        wait_until(Duration::from_secs(4), || mdns_sockets(&avahi_ns) >= 2),
        "mdcluster did not bind 5353 beside avahi"
    );

    let r = avahi_resolve(&avahi, &avahi_ns, "AV-MAIL2");
    assert_eq!(r.interface, LINK, "{r:?}");
    assert_eq!(r.host, "av-mail2.local", "{r:?}");
    assert_eq!(r.address, "10.67.1.2", "{r:?}");
    assert_eq!(r.port, "1000", "{r:?}");
    // The record avahi read is the signed one: it parses, its signature
    // checks with the join code, and it has exactly the keys and values
    // mdcluster puts in an announcement.
    let a = Announcement::from_txt(&r.txt).unwrap_or_else(|e| panic!("{e}: {:?}", r.txt));
    a.verify(Some(&JoinCode::parse(&code).unwrap()), facts::now_ms())
        .unwrap_or_else(|e| panic!("{e}: {:?}", r.txt));
    let again: BTreeMap<String, String> = a.to_txt().into_iter().collect();
    assert_eq!(r.txt, again);
    assert_eq!(r.txt["name"], "AV-MAIL2");
    assert_eq!(
        a.facts.addresses,
        vec!["10.67.1.2".parse::<std::net::IpAddr>().unwrap()]
    );

    let (nodes, _) = finish(discovering);
    let n = node(&nodes, "AV-MAIL2");
    assert_eq!(n["trusted"], true, "{n}");
    assert_eq!(n["addable"], true, "{n}");
    assert_eq!(n["addresses"], json!(["10.67.1.2"]), "{n}");
    assert!(
        avahi.running(),
        "avahi-daemon stopped:\n{}",
        read(&avahi.log)
    );
}

#[test]
fn what_avahi_publishes_is_trusted_only_when_signed_and_apply_refuses_the_rest() {
    let Some(mut net) = lan("avahi publishes to mdcluster discover", NEEDS) else {
        return;
    };
    let primary_ns = net.host("a", &["10.67.1.2/24"]);
    let avahi_ns = net.host("b", &["10.67.1.1/24"]);
    let mut avahi = Avahi::start(&avahi_ns, "mdc-avahi-b");
    let lab = small_lab();
    let code = code(&lab);

    // Unsigned, as anyone on the LAN could publish it.
    let _rogue = publish(
        &avahi,
        &avahi_ns,
        "AV-ROGUE",
        &[
            "name=AV-ROGUE".into(),
            "ver=23.5.2".into(),
            "ip=10.67.1.1".into(),
        ],
    );
    // Signed with the join code, for the avahi host's address.
    let sec = secondary(&lab, "AV-SIGNED");
    let f = facts::collect(
        &sec,
        &Profile::builtin(),
        "AV-SIGNED",
        vec!["10.67.1.1".parse().unwrap()],
        Some(&lab.share),
        &facts::CertificateStore::of(&sec),
    );
    let signed = Announcement::sign(f, facts::now_ms(), &JoinCode::parse(&code).unwrap());
    let txt: Vec<String> = signed
        .to_txt()
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let _signed = publish(&avahi, &avahi_ns, "AV-SIGNED", &txt);

    // Listened for from the other host, and beside avahi on its own host.
    let across = discover_in(&primary_ns, &lab, 3);
    let beside = discover_in(&avahi_ns, &lab, 3);
    for (where_, (nodes, _)) in [("across", finish(across)), ("beside", finish(beside))] {
        let n = node(&nodes, "AV-ROGUE");
        assert_eq!(n["trusted"], false, "{where_}: {n}");
        assert_eq!(n["addable"], false, "{where_}: {n}");
        assert!(
            n["untrusted"].as_str().unwrap().contains("not signed"),
            "{where_}: {n}"
        );
        assert!(n["facts"].is_null(), "{where_}: {n}");
        assert!(
            n["addresses"]
                .as_array()
                .unwrap()
                .contains(&json!("10.67.1.1")),
            "{where_}: {n}"
        );
        let n = node(&nodes, "AV-SIGNED");
        assert_eq!(n["trusted"], true, "{where_}: {n}");
        assert_eq!(n["facts"]["name"], "AV-SIGNED", "{where_}: {n}");
    }

    // A plan naming the unsigned node: apply refuses before any change.
    add_secondary_to_plan(&lab, "AV-ROGUE", "10.67.1.1", "");
    let before = lab.hash();
    let out = Net::exec(&primary_ns, binary())
        .args(["apply", "--plan"])
        .arg(&lab.plan)
        .args(["--interface", LINK, "--discovery-timeout", "3", "--yes"])
        .env("NO_COLOR", "1")
        .env("TZ", "Etc/UTC")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("AV-ROGUE: trusted") && err.contains("not signed"),
        "{err}"
    );
    assert_eq!(lab.hash(), before, "a refused run changed something");
    assert!(!lab.share.join("mdcluster/cluster.toml").exists());
    assert!(
        avahi.running(),
        "avahi-daemon stopped:\n{}",
        read(&avahi.log)
    );
}
