//! Helpers for tests of the cluster commands (`code`, `join`, `discover`):
//! a primary with a secondary installation next to it, a join code, a running
//! `mdcluster join` read event by event, and lookups in `discover --json`.

use super::{json_lines, mdcluster, Lab};
use mdcluster::profile::Profile;
use serde_json::Value;
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};

/// The shared path every lab's plan names.
pub const UNC: &str = r"\\fileserver\mdaemon";

/// The mdcluster binary under test.
pub fn binary() -> PathBuf {
    PathBuf::from(assert_cmd::cargo::cargo_bin!("mdcluster"))
}

/// A primary with a small mail store (fast to create).
pub fn small_lab() -> Lab {
    Lab::with(
        mdcluster::sandbox::Options {
            accounts: 2,
            messages: 4,
            ..Default::default()
        },
        None,
    )
}

/// A secondary installation next to the lab's primary.
pub fn secondary(lab: &Lab, name: &str) -> PathBuf {
    let dir = lab.tmp.path().join(name);
    let profile = Profile::builtin();
    let opts = mdcluster::sandbox::Options {
        accounts: 1,
        messages: 1,
        seed: 7,
        message_size: None,
    };
    mdcluster::sandbox::create(&dir, &profile, &opts).unwrap();
    mdcluster::sandbox::make_secondary(&dir, &lab.install, name, &profile).unwrap();
    dir
}

/// A fresh join code for the lab's primary.
pub fn code(lab: &Lab) -> String {
    let out = mdcluster()
        .args(["code", "--root"])
        .arg(&lab.install)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The arguments of `mdcluster join --json` for a secondary, without the
/// scope (`--loopback`, `--interface NAME`) and without the program.
pub fn join_args(root: &Path, name: &str, code: &str, share_local: &Path) -> Vec<OsString> {
    let mut a: Vec<OsString> = ["join", "--root"].map(OsString::from).to_vec();
    a.push(root.into());
    a.extend(["--share", UNC, "--share-local"].map(OsString::from));
    a.push(share_local.into());
    a.extend(["--name", name, "--code", code, "--json"].map(OsString::from));
    a
}

/// The arguments of `mdcluster discover` on the lab's primary, without the
/// scope, the timeout and `--json`.
pub fn discover_args(lab: &Lab) -> Vec<OsString> {
    let mut a: Vec<OsString> = ["discover", "--root"].map(OsString::from).to_vec();
    a.push(lab.install.clone().into());
    a.extend(["--share", UNC, "--share-local"].map(OsString::from));
    a.push(lab.share.clone().into());
    a
}

/// A running `mdcluster join`; stopped when dropped.
pub struct Joined {
    pub child: Child,
    out: BufReader<ChildStdout>,
}

impl Joined {
    /// Start `c` (a `join --json`, possibly behind `ip netns exec`); returns
    /// once it announces. The caller sets the environment (`TZ`: the primary's
    /// time zone is compared with the node's).
    pub fn start(mut c: Command) -> Joined {
        c.env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap_or_else(|e| panic!("{c:?}: {e}"));
        let out = BufReader::new(child.stdout.take().unwrap());
        let mut j = Joined { child, out };
        j.wait_for("announcing");
        j
    }

    /// The next JSON event it prints (None at its end).
    pub fn next_event(&mut self) -> Option<Value> {
        let mut line = String::new();
        loop {
            line.clear();
            if self.out.read_line(&mut line).ok()? == 0 {
                return None;
            }
            if let Ok(v) = serde_json::from_str::<Value>(line.trim()) {
                return Some(v);
            }
        }
    }

    pub fn wait_for(&mut self, event: &str) -> Value {
        while let Some(v) = self.next_event() {
            if v["event"] == event {
                return v;
            }
        }
        let status = self.child.wait().unwrap();
        let mut err = String::new();
        if let Some(e) = self.child.stderr.as_mut() {
            let _ = std::io::Read::read_to_string(e, &mut err);
        }
        panic!("join ended ({status}) before {event:?}: {err}");
    }
}

impl Drop for Joined {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The node objects and the `finished` object of `discover --json`.
pub fn discovered(out: &Output) -> (Vec<Value>, Value) {
    assert!(out.status.success(), "{out:?}");
    let mut lines = json_lines(&out.stdout);
    let last = lines.pop().unwrap_or_else(|| panic!("no output: {out:?}"));
    assert_eq!(last["event"], "finished", "{last}");
    (lines, last)
}

pub fn node<'a>(nodes: &'a [Value], name: &str) -> &'a Value {
    nodes
        .iter()
        .find(|n| n["name"] == name)
        .unwrap_or_else(|| panic!("{name} not discovered; found {nodes:#?}"))
}

pub fn rule<'a>(n: &'a Value, id: &str) -> &'a Value {
    n["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == id)
        .unwrap_or_else(|| panic!("no rule {id} in {n}"))
}

/// Add a secondary to the lab's plan.
pub fn add_secondary_to_plan(lab: &Lab, name: &str, address: &str, extra: &str) {
    let mut text = std::fs::read_to_string(&lab.plan).unwrap();
    text.push_str(&format!(
        "\n[[nodes]]\nname = \"{name}\"\naddress = \"{address}\"\nrole = \"secondary\"\n{extra}\n"
    ));
    std::fs::write(&lab.plan, text).unwrap();
}

/// Append lines to the cluster log of the installation at `root` (today's
/// daily file, classic format, CRLF), as MDaemon's cluster service on that
/// node would write them.
pub fn append_cluster_log(root: &Path, texts: &[&str]) -> PathBuf {
    use mdcluster::simulation::logline;
    let profile = Profile::builtin();
    let now = jiff::Zoned::now();
    let file = logline::file_for(root, &profile, now.date());
    for text in texts {
        let line = format!(
            "{}: 17: {text}\r\n",
            now.strftime("%a %Y-%m-%d %H:%M:%S%.3f")
        );
        logline::append(&file, &line).unwrap();
    }
    file
}
