//! Small LANs made of network namespaces, for tests that need real multicast
//! between separate hosts (root only).
//!
//! A [`Net`] is a Linux bridge in a namespace of its own; each host is a
//! namespace joined to it by a veth pair (`veth0` in the host, `pN` on the
//! bridge), with loopback up and the addresses it is given. Names carry the
//! test process id and a counter, so tests running at the same time (and
//! leftovers of a killed run) never meet. Dropping the `Net`, also while a
//! failed test unwinds, kills every process still running in its namespaces
//! (by process id: only what the test started there) and deletes the
//! namespaces, which takes their interfaces with them. The machine's own
//! interfaces and addresses are never touched.

use super::is_root;
use std::ffi::OsStr;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The name of every host's interface on the bridge.
pub const LINK: &str = "veth0";

static NEXT: AtomicUsize = AtomicUsize::new(0);

pub struct Net {
    prefix: String,
    bridge: String,
    /// Every namespace made, the bridge's first.
    namespaces: Vec<String>,
}

/// Run `ip ARGS`; the error says what failed.
pub fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Whether a program is on the PATH.
pub fn installed(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(program).is_file()))
        || ["/usr/sbin", "/sbin"]
            .iter()
            .any(|d| std::path::Path::new(d).join(program).is_file())
}

/// Whether a test that needs root, network namespaces and `programs` can run
/// here. When it cannot: a failure if MDCLUSTER_REQUIRE_ROOT_TESTS is set (CI,
/// where scripts/test.sh installs the programs and runs as root), else a
/// message and a skip.
pub fn lan(test: &str, programs: &[&str]) -> Option<Net> {
    let why = if !is_root() {
        Some("it needs root (network namespaces)".to_string())
    } else if let Some(p) = programs.iter().find(|p| !installed(p)) {
        Some(format!(
            "{p} is not installed (bash scripts/test.sh installs it)"
        ))
    } else {
        match Net::new() {
            Ok(net) => return Some(net),
            Err(e) => Some(format!("network namespaces do not work here: {e}")),
        }
    };
    let why = why.unwrap_or_default();
    assert!(
        std::env::var_os("MDCLUSTER_REQUIRE_ROOT_TESTS").is_none(),
        "{test}: {why}, and MDCLUSTER_REQUIRE_ROOT_TESTS is set"
    );
    eprintln!("skipped {test}: {why}");
    None
}

impl Net {
    /// A bridge with no hosts yet.
    pub fn new() -> Result<Net, String> {
        let prefix = format!(
            "mdct{}n{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let bridge = format!("{prefix}br");
        ip(&["netns", "add", &bridge])?;
        let net = Net {
            prefix,
            bridge: bridge.clone(),
            namespaces: vec![bridge.clone()],
        };
        ip(&["-n", &bridge, "link", "set", "lo", "up"])?;
        ip(&["-n", &bridge, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &bridge, "link", "set", "br0", "up"])?;
        Ok(net)
    }

    /// A host with loopback only (no way onto the LAN).
    pub fn bare(&mut self, label: &str) -> String {
        let ns = format!("{}{label}", self.prefix);
        ip(&["netns", "add", &ns]).unwrap();
        self.namespaces.push(ns.clone());
        ip(&["-n", &ns, "link", "set", "lo", "up"]).unwrap();
        ns
    }

    /// A host on the bridge: `veth0` up with these addresses (`10.1.2.3/24`).
    pub fn host(&mut self, label: &str, addresses: &[&str]) -> String {
        let ns = self.bare(label);
        let port = format!("p{}", self.namespaces.len());
        ip(&[
            "link",
            "add",
            LINK,
            "netns",
            &ns,
            "type",
            "veth",
            "peer",
            "name",
            &port,
            "netns",
            &self.bridge,
        ])
        .unwrap();
        ip(&["-n", &self.bridge, "link", "set", &port, "master", "br0"]).unwrap();
        ip(&["-n", &self.bridge, "link", "set", &port, "up"]).unwrap();
        for a in addresses {
            ip(&["-n", &ns, "addr", "add", a, "dev", LINK]).unwrap();
        }
        ip(&["-n", &ns, "link", "set", LINK, "up"]).unwrap();
        ns
    }

    /// `program` run inside the namespace `ns` (`ip netns exec`, which keeps
    /// the environment and execs the program: the child's id is its own).
    pub fn exec(ns: &str, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns]).arg(program);
        c
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for ns in self.namespaces.iter().rev() {
            if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
                let pids = String::from_utf8_lossy(&out.stdout).into_owned();
                let pids: Vec<&str> = pids.split_whitespace().collect();
                if !pids.is_empty() {
                    // The shell's own `kill`: no procps needed.
                    let _ = Command::new("sh")
                        .args(["-c", "kill -KILL \"$@\"", "sh"])
                        .args(&pids)
                        .status();
                }
            }
            if let Err(e) = ip(&["netns", "del", ns]) {
                eprintln!("cleanup: {e}");
            }
        }
    }
}
