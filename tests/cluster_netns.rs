//! Discovery between separate hosts: network namespaces on a Linux bridge
//! (tests/common/netns.rs), `mdcluster join` in one namespace and `mdcluster
//! discover` in another, with real multicast over veth links, as on a LAN.
//!
//! Root only. Without root (or without `ip`, or `python3`, which sends a
//! forged address record) each test is skipped with a message, or fails when
//! MDCLUSTER_REQUIRE_ROOT_TESTS is set (CI). Every test makes its own
//! namespaces, so they run at the same time without meeting.

// Linux only: network namespaces on a Linux bridge.
#![cfg(target_os = "linux")]

mod common;

use common::cluster::{
    add_secondary_to_plan, binary, code, discover_args, discovered, join_args, node, rule,
    secondary, small_lab, Joined,
};
use common::netns::{ip, lan, Net, LINK};
use common::Lab;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Child, Command, Stdio};

const NEEDS: &[&str] = &["ip"];

/// `mdcluster join` for a secondary inside the namespace `ns`.
fn join_in(ns: &str, lab: &Lab, root: &Path, name: &str, code: &str, scope: &[&str]) -> Joined {
    let mut c = Net::exec(ns, binary());
    c.args(join_args(root, name, code, &lab.share))
        .args(scope)
        .env("TZ", "Etc/UTC");
    Joined::start(c)
}

/// `mdcluster discover --json` on the lab's primary inside the namespace
/// `ns`, started (several can listen at once); see [`finish`].
fn discover_in(ns: &str, lab: &Lab, scope: &[&str], timeout: u32) -> Child {
    discover_command(ns, lab, scope, timeout)
        .arg("--json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn discover_command(ns: &str, lab: &Lab, scope: &[&str], timeout: u32) -> Command {
    let mut c = Net::exec(ns, binary());
    c.args(discover_args(lab))
        .args(scope)
        .args(["--timeout", &timeout.to_string()])
        .env("NO_COLOR", "1")
        .env("TZ", "Etc/UTC");
    c
}

fn finish(child: Child) -> (Vec<Value>, Value) {
    discovered(&child.wait_with_output().unwrap())
}

fn all_pass_but(n: &Value, except: &[&str]) {
    for r in n["rules"].as_array().unwrap() {
        if !except.contains(&r["rule"].as_str().unwrap()) {
            assert_eq!(r["level"], "pass", "{}: {r}", n["name"]);
        }
    }
}

#[test]
fn a_node_in_another_namespace_is_discovered_trusted_at_its_address() {
    let Some(mut net) = lan("cross-namespace discovery", NEEDS) else {
        return;
    };
    let primary = net.host("p", &["10.66.1.1/24"]);
    let secondary_ns = net.host("a", &["10.66.1.2/24"]);
    let lab = small_lab();
    let code = code(&lab);
    let sec = secondary(&lab, "NX-MAIL2");
    let mut j = join_in(
        &secondary_ns,
        &lab,
        &sec,
        "NX-MAIL2",
        &code,
        &["--interface", LINK],
    );
    // Three listeners on the primary at once: the named interface, the
    // default scope (every interface that is up but loopback: veth0 here),
    // and loopback only, which must see nothing of the other host.
    let named = discover_in(&primary, &lab, &["--interface", LINK], 3);
    let default = discover_in(&primary, &lab, &[], 3);
    let looped = discover_in(&primary, &lab, &["--loopback"], 3);
    for (scope, (nodes, finished)) in [("--interface", finish(named)), ("default", finish(default))]
    {
        assert_eq!(nodes.len(), 1, "{scope}: one node on this LAN: {nodes:#?}");
        let n = node(&nodes, "NX-MAIL2");
        assert_eq!(n["trusted"], true, "{scope}: {n}");
        assert_eq!(n["addable"], true, "{scope}: {n}");
        assert_eq!(n["source"], "mdns", "{scope}: {n}");
        assert_eq!(n["addresses"], json!(["10.66.1.2"]), "{scope}: {n}");
        assert_eq!(n["facts"]["addresses"], json!(["10.66.1.2"]), "{scope}");
        all_pass_but(n, &[]);
        assert_eq!(rule(n, "lan")["detail"], "on the primary's network");
        assert_eq!(finished["trusted"], 1, "{scope}: {finished}");
    }
    let (nodes, finished) = finish(looped);
    assert!(
        nodes.is_empty(),
        "loopback reached the other host: {nodes:#?}"
    );
    assert!(
        finished["why"]
            .as_str()
            .unwrap()
            .starts_with("nothing answered"),
        "{finished}"
    );
    // The node is still announcing (nothing ended it).
    assert!(j.child.try_wait().unwrap().is_none());
}

#[test]
fn a_node_in_another_subnet_on_the_same_lan_is_warned_about_not_blocked() {
    let Some(mut net) = lan("lan rule across namespaces", NEEDS) else {
        return;
    };
    // One bridge; the primary has only 10.66.1.0/24, the far node only 10.66.2.0/24.
    let primary = net.host("p", &["10.66.1.1/24"]);
    let near = net.host("a", &["10.66.1.2/24"]);
    let far = net.host("c", &["10.66.2.2/24"]);
    let lab = small_lab();
    let code = code(&lab);
    let scope = ["--interface", LINK];
    let sec = secondary(&lab, "NX-NEAR");
    let _near = join_in(&near, &lab, &sec, "NX-NEAR", &code, &scope);
    let sec = secondary(&lab, "NX-FAR");
    let _far = join_in(&far, &lab, &sec, "NX-FAR", &code, &scope);
    let (nodes, finished) = finish(discover_in(&primary, &lab, &scope, 3));
    assert_eq!(finished["trusted"], 2, "{finished}");

    let n = node(&nodes, "NX-NEAR");
    assert_eq!(n["addresses"], json!(["10.66.1.2"]), "{n}");
    assert_eq!(n["addable"], true, "{n}");
    all_pass_but(n, &[]);

    // mDNS crosses the bridge whatever the subnet; the rule says what the
    // manual says (separated nodes are advised against) and does not block.
    let n = node(&nodes, "NX-FAR");
    assert_eq!(n["trusted"], true, "{n}");
    assert_eq!(n["addresses"], json!(["10.66.2.2"]), "{n}");
    let lan = rule(n, "lan");
    assert_eq!(lan["level"], "warn", "{n}");
    assert!(
        lan["detail"]
            .as_str()
            .unwrap()
            .contains("no address in the primary's networks"),
        "{lan}"
    );
    all_pass_but(n, &["lan"]);
    assert_eq!(n["addable"], true, "a warning blocked the node: {n}");
}

#[test]
fn without_an_interface_that_is_up_discover_and_join_say_why() {
    let Some(mut net) = lan("discovery without a usable interface", NEEDS) else {
        return;
    };
    let lab = small_lab();
    let code = code(&lab);
    let sec = secondary(&lab, "NX-ALONE");
    // A host with only loopback up.
    let alone = net.bare("d");
    let why = |scope: &[&str]| -> String {
        let (nodes, finished) = finish(discover_in(&alone, &lab, scope, 1));
        assert!(nodes.is_empty(), "{nodes:#?}");
        finished["why"].as_str().unwrap().to_string()
    };
    let join_error = |scope: &[&str]| -> String {
        let out = Net::exec(&alone, binary())
            .args(join_args(&sec, "NX-ALONE", &code, &lab.share))
            .args(scope)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    };
    let nothing = "no network interface to search on (every network interface except loopback)";
    assert!(why(&[]).starts_with(nothing), "{}", why(&[]));
    assert!(join_error(&[])
        .contains("no network address to announce on (every network interface except loopback)"));
    // The same in words, for people.
    let out = discover_command(&alone, &lab, &[], 1).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("No node found.") && text.contains(nothing),
        "{text}"
    );

    // An interface with an address that is down: not used by default, and
    // when named, refused with the reason instead of listened on in vain.
    ip(&[
        "-n", &alone, "link", "add", LINK, "type", "veth", "peer", "name", "veth1",
    ])
    .unwrap();
    ip(&["-n", &alone, "addr", "add", "10.66.9.1/24", "dev", LINK]).unwrap();
    assert!(why(&[]).starts_with(nothing));
    let named = why(&["--interface", LINK]);
    assert!(
        named.starts_with("no network interface to search on (interfaces veth0: veth0 is down"),
        "{named}"
    );
    let err = join_error(&["--interface", LINK]);
    assert!(err.contains("veth0 is down"), "{err}");
    let missing = why(&["--interface", "nosuch0"]);
    assert!(
        missing.contains("nosuch0: no such interface, or it has no address"),
        "{missing}"
    );
}

/// Sends, four times a second until dropped, an unsolicited mDNS answer
/// `HOST A ADDRESS` from the namespace `ns`: no signature, as anyone on the
/// LAN could (python3: a raw DNS message on a UDP socket).
struct Forger(Child);

const FORGE: &str = r#"
import socket, struct, sys, time
host, address, source = sys.argv[1:4]
name = b"".join(bytes([len(l)]) + l.encode() for l in host.rstrip(".").split(".")) + b"\0"
# A response (QR, AA), one answer: class IN without cache-flush, TTL 120 s.
message = struct.pack("!6H", 0, 0x8400, 0, 1, 0, 0) + name \
    + struct.pack("!HHIH", 1, 1, 120, 4) + socket.inet_aton(address)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 5353))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(source))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
print("forging", flush=True)
while True:
    s.sendto(message, ("224.0.0.251", 5353))
    time.sleep(0.25)
"#;

impl Forger {
    fn start(ns: &str, host: &str, address: &str, source: &str) -> Forger {
        let mut child = Net::exec(ns, "python3")
            .args(["-c", FORGE, host, address, source])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line);
        }
        if line.trim() != "forging" {
            let out = child.wait_with_output().unwrap();
            panic!(
                "the forger did not start: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Forger(child)
    }
}

impl Drop for Forger {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn an_unsigned_address_record_for_a_trusted_node_is_not_attributed_to_it() {
    let Some(mut net) = lan("a forged address record", &["ip", "python3"]) else {
        return;
    };
    let primary = net.host("p", &["10.66.1.1/24"]);
    let secondary_ns = net.host("a", &["10.66.1.2/24"]);
    let rogue = net.host("e", &["10.66.1.3/24"]);
    let lab = small_lab();
    let code = code(&lab);
    let scope = ["--interface", LINK];
    let sec = secondary(&lab, "NX-MAIL2");
    let _j = join_in(&secondary_ns, &lab, &sec, "NX-MAIL2", &code, &scope);
    // After the node's own probing, so the record is an answer it does not
    // contest: next to the genuine node, `nx-mail2.local. A 10.9.9.9`.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let _forged = Forger::start(&rogue, "nx-mail2.local.", "10.9.9.9", "10.66.1.3");

    let (nodes, finished) = finish(discover_in(&primary, &lab, &scope, 4));
    assert_eq!(finished["trusted"], 1, "{finished}");
    let n = node(&nodes, "NX-MAIL2");
    assert_eq!(n["trusted"], true, "{n}");
    assert_eq!(
        n["addresses"],
        json!(["10.66.1.2"]),
        "only the signed one: {n}"
    );
    assert_eq!(
        n["unsigned_addresses"],
        json!(["10.9.9.9"]),
        "the forged one, listed apart: {n}"
    );
    // In words: trusted at its signed address; the other one ignored, with why.
    let out = discover_command(&primary, &lab, &scope, 4)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let row = text
        .lines()
        .find(|l| l.starts_with("NX-MAIL2"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(row.ends_with("10.66.1.2  trusted  can join"), "{text}");
    assert!(
        text.contains("ignored 10.9.9.9: not in its signed announcement"),
        "{text}"
    );

    // A plan with the forged address: apply refuses before any change.
    add_secondary_to_plan(&lab, "NX-MAIL2", "10.9.9.9", "");
    let before = lab.hash();
    let apply = |extra: &[&str]| {
        Net::exec(&primary, binary())
            .args(["apply", "--plan"])
            .arg(&lab.plan)
            .args(scope)
            .args(["--discovery-timeout", "4", "--yes"])
            .args(extra)
            .env("NO_COLOR", "1")
            .env("TZ", "Etc/UTC")
            .output()
            .unwrap()
    };
    let out = apply(&[]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("NX-MAIL2: address")
            && err.contains("10.9.9.9")
            && err.contains("unsigned")
            && err.contains("10.66.1.2"),
        "{err}"
    );
    assert_eq!(lab.hash(), before, "a refused run changed something");
    assert!(!lab.share.join("mdcluster/cluster.toml").exists());

    // With the signed address, the same check passes.
    let text = std::fs::read_to_string(&lab.plan).unwrap();
    std::fs::write(&lab.plan, text.replace("10.9.9.9", "10.66.1.2")).unwrap();
    let out = apply(&["--dry-run"]);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("announces 10.66.1.2"), "{all}");
}
