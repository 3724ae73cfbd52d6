//! High availability end to end, in network namespaces on one bridge
//! (tests/common/netns.rs): two balancer hosts running the real HAProxy on
//! step 11's generated haproxy.cfg and keepalived sharing a virtual IP, a
//! client host, and two node hosts running `mdcluster simulate-services`
//! (SIMULATED greetings and Webmail answering with the node's name).
//!
//! What it shows, with the times measured printed as `measured: ...`
//! (docs/high-availability.md, "Measured in network namespaces" keeps the numbers of a few runs):
//! 1. the client reaches Webmail through the virtual IP; the first answer
//!    sets the route cookie and the requests that carry it stay on its node;
//! 2. the MASTER balancer dies (off the network, its processes killed): the
//!    virtual IP moves to the BACKUP, the client reaches the cluster again,
//!    and the cookie still lands on the same node;
//! 3. a mail node fails: `mdcluster health` says CRITICAL, HAProxy's own
//!    checks take the node out, and the failover watch rewrites the
//!    balancer's files and reloads HAProxy on both balancers, after which the
//!    node's cookie is answered by the other node with a cookie naming it.
//!
//! Root only (skipped otherwise, a failure under MDCLUSTER_REQUIRE_ROOT_TESTS).
//! Every wait has a deadline; every process is started by the test in its own
//! namespaces and killed when the test ends, also when it fails.

// Linux only: network namespaces, keepalived.
#![cfg(target_os = "linux")]

mod common;

use common::cluster::{append_cluster_log, binary, small_lab};
use common::json_lines;
use common::netns::{ip, lan, Net, LINK};
use common::Lab;
use serde_json::Value;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const NEEDS: &[&str] = &["ip", "haproxy", "keepalived", "curl"];

const LB1: &str = "10.79.0.11";
const LB2: &str = "10.79.0.12";
const VIP: &str = "10.79.0.100";
const CLIENT: &str = "10.79.0.50";
const MAIL1: &str = "10.79.0.21";
const MAIL2: &str = "10.79.0.22";
const COOKIE: &str = "MDCLUSTER_NODE";

/// The balancer's ports (the services' usual ones) and the nodes' (Webmail
/// on its built-in 3000).
const PORTS: [(&str, u16, u16); 4] = [
    ("smtp", 25, 25),
    ("imap", 143, 143),
    ("pop3", 110, 110),
    ("http", 80, 3000),
];

/// The longest any single wait may take: generous for a loaded 2-core CI
/// machine; a hang guard, never a benchmark.
const WAIT: Duration = Duration::from_secs(60);

/// The full path of a program (on the PATH or in sbin).
fn program(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} is not installed"))
}

/// The check keepalived runs on each balancer host (the plan's
/// `check_script`): this host's HAProxy runs, its process exists and is not
/// a zombie. keepalived's `track_process` needs the kernel's process
/// events, which only the initial network namespace receives (in another,
/// keepalived 2.2.7 logs "Failed to set/clear process event listen" and the
/// instance stays FAULT), and `pidof` would see the other balancer's
/// HAProxy (namespaces share the processes): one script for both hosts,
/// which finds its own by the namespace it runs in.
fn write_check_script(files: &Files, both: &[&Balancer]) {
    let mut script = String::from("#!/bin/sh\ncase \"$(ip netns identify)\" in\n");
    for b in both {
        script.push_str(&format!(
            "    {}) pid=$(cat {}) || exit 1 ;;\n",
            b.ns,
            files.pid(b).display()
        ));
    }
    script.push_str("    *) exit 1 ;;\nesac\ngrep -q '^State:[[:space:]]*[^Z]' \"/proc/$pid/status\" 2>/dev/null\n");
    std::fs::write(files.check_script(), script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(files.check_script(), std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Every process the test starts; all killed when dropped (also while a
/// failed test unwinds), before the namespaces go.
#[derive(Default)]
struct Procs {
    /// Processes with a handle: keepalived, the stand-ins.
    children: Vec<(String, Child)>,
    /// The pid files of the daemons (HAProxy forks away).
    pid_files: Vec<PathBuf>,
}

impl Procs {
    fn take(&mut self, what: &str) -> Option<Child> {
        let i = self.children.iter().position(|(w, _)| w == what)?;
        Some(self.children.remove(i).1)
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        for (_, c) in self.children.iter_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
        for f in &self.pid_files {
            // Still HAProxy: a pid file of a process that died is left alone.
            let haproxy = |pid: u32| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains("haproxy"))
            };
            if let Some(pid) = read_pid(f).filter(|p| haproxy(*p)) {
                kill(&[pid]);
            }
        }
    }
}

fn read_pid(f: &Path) -> Option<u32> {
    std::fs::read_to_string(f).ok()?.trim().parse().ok()
}

/// SIGKILL to these processes (the shell's own `kill`).
fn kill(pids: &[u32]) {
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("sh")
        .args(["-c", "kill -KILL \"$@\" 2>/dev/null", "sh"])
        .args(pids.iter().map(|p| p.to_string()))
        .status();
}

/// The processes in a namespace (all of them started by this test).
fn pids_in(ns: &str) -> Vec<u32> {
    let out = Command::new("ip")
        .args(["netns", "pids", ns])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// One balancer host.
struct Balancer {
    label: &'static str,
    ns: String,
    address: &'static str,
}

/// The test's files: HAProxy's pid files and stats sockets, keepalived's.
struct Files {
    dir: PathBuf,
    /// step 11's output folder
    out: PathBuf,
    /// step 11's haproxy.cfg
    haproxy_cfg: PathBuf,
}

impl Files {
    fn pid(&self, b: &Balancer) -> PathBuf {
        self.dir.join(format!("{}-haproxy.pid", b.label))
    }
    /// A second file for HAProxy beside the generated one: a stats socket,
    /// where the test reads what HAProxy's checks decided.
    fn extra(&self, b: &Balancer) -> PathBuf {
        self.dir.join(format!("{}-stats.cfg", b.label))
    }
    fn socket(&self, b: &Balancer) -> PathBuf {
        self.dir.join(format!("{}-stats.sock", b.label))
    }
    fn log(&self, what: &str) -> PathBuf {
        self.dir.join(format!("{what}.log"))
    }
    fn check_script(&self) -> PathBuf {
        self.dir.join("balancer-ok.sh")
    }
    /// step 11's keepalived.conf for the balancer host.
    fn keepalived_conf(&self, b: &Balancer) -> PathBuf {
        self.out
            .join("keepalived")
            .join(b.label)
            .join("keepalived.conf")
    }
}

/// HAProxy on the generated file in the balancer's namespace, as a daemon
/// (`-sf`: a soft reload of the one running).
fn start_haproxy(files: &Files, b: &Balancer, procs: &mut Procs) {
    std::fs::write(
        files.extra(b),
        format!(
            "global\n    stats socket {} mode 600 level admin\n",
            files.socket(b).display()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(files.log(&format!("{}-haproxy-start", b.label))).unwrap();
    let status = Net::exec(&b.ns, program("haproxy"))
        .arg("-D")
        .arg("-f")
        .arg(&files.haproxy_cfg)
        .arg("-f")
        .arg(files.extra(b))
        .arg("-p")
        .arg(files.pid(b))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .status()
        .unwrap();
    if !procs.pid_files.contains(&files.pid(b)) {
        procs.pid_files.push(files.pid(b));
    }
    assert!(
        status.success(),
        "haproxy on {}: {status}\n{}",
        b.label,
        std::fs::read_to_string(files.log(&format!("{}-haproxy-start", b.label))).unwrap()
    );
}

/// keepalived in the balancer's namespace on step 11's keepalived.conf for
/// it, in the foreground (`-n`) with pid files of its own.
fn start_keepalived(files: &Files, b: &Balancer, procs: &mut Procs) {
    let conf = files.keepalived_conf(b);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(files.log(&format!("{}-keepalived", b.label)))
        .unwrap();
    let pid = |what: &str| files.dir.join(format!("{}-{what}.pid", b.label));
    let child = Net::exec(&b.ns, program("keepalived"))
        .args(["-n", "-l", "-D", "-P", "-G", "-f"])
        .arg(&conf)
        .arg("-p")
        .arg(pid("keepalived"))
        .arg("-r")
        .arg(pid("vrrp"))
        .arg("-c")
        .arg(pid("checkers"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    procs
        .children
        .push((format!("{}-keepalived", b.label), child));
}

/// `mdcluster simulate-services` for a node in its namespace.
fn start_standin(ns: &str, name: &str, address: &str, files: &Files, procs: &mut Procs) {
    let log = std::fs::File::create(files.log(name)).unwrap();
    let mut c = Net::exec(ns, binary());
    c.args(["simulate-services", "--name", name, "--listen", address]);
    for (service, _, port) in PORTS {
        c.args(["--service", &format!("{service}={port}")]);
    }
    let child = c
        .arg("--until-stdin-closes")
        .stdin(Stdio::piped())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    procs.children.push((name.to_string(), child));
}

/// What the client got over HTTP.
#[derive(Debug)]
struct Answer {
    status: u16,
    set_cookies: Vec<String>,
    body: String,
}

/// One HTTP request from the client's namespace (curl), with the route
/// cookie naming `cookie` when given.
fn get(client: &str, host: &str, cookie: Option<&str>, connect: f32) -> Result<Answer, String> {
    let mut c = Net::exec(client, program("curl"));
    c.args(["-sS", "-i", "--noproxy", "*", "--connect-timeout"])
        .arg(connect.to_string())
        .args(["-m", "5"]);
    if let Some(node) = cookie {
        c.args(["-b", &format!("{COOKIE}={node}")]);
    }
    let out = c.arg(format!("http://{host}/")).output().unwrap();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no end of headers in {text:?}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status in {head:?}"))?;
    let set_cookies = head
        .lines()
        .filter_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("set-cookie")
                .then(|| value.trim().to_string())
        })
        .collect();
    Ok(Answer {
        status,
        set_cookies,
        body: body.trim().to_string(),
    })
}

/// The first answer (200) within `WAIT`, and the seconds it took.
fn reach(client: &str, host: &str, cookie: Option<&str>, what: &str) -> (Answer, f64) {
    let started = Instant::now();
    let mut last = String::new();
    while started.elapsed() < WAIT {
        match get(client, host, cookie, 0.5) {
            Ok(a) if a.status == 200 => return (a, started.elapsed().as_secs_f64()),
            Ok(a) => last = format!("{a:?}"),
            Err(e) => last = e,
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what}: {host} did not answer within {WAIT:?}: {last}");
}

/// Which balancers hold the virtual IP now.
fn holders<'a>(balancers: &'a [&'a Balancer]) -> Vec<&'a Balancer> {
    balancers
        .iter()
        .copied()
        .filter(|b| {
            let out = Command::new("ip")
                .args(["-n", &b.ns, "-4", "-o", "addr", "show", "dev", LINK])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).contains(&format!(" {VIP}/"))
        })
        .collect()
}

/// Wait until exactly one balancer holds the virtual IP and the client
/// reaches Webmail through it; that balancer.
fn settled<'a>(client: &str, balancers: &'a [&'a Balancer], files: &Files) -> &'a Balancer {
    let started = Instant::now();
    loop {
        let h = holders(balancers);
        if h.len() == 1 && get(client, VIP, None, 0.5).is_ok_and(|a| a.status == 200) {
            return h[0];
        }
        assert!(
            started.elapsed() < WAIT,
            "the virtual IP did not settle on one balancer within {WAIT:?} (on {:?})\n{}",
            h.iter().map(|b| b.label).collect::<Vec<_>>(),
            logs(files, &["lb1-keepalived", "lb2-keepalived"])
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn logs(files: &Files, names: &[&str]) -> String {
    names
        .iter()
        .map(|n| {
            format!(
                "--- {n}:\n{}",
                std::fs::read_to_string(files.log(n)).unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// HAProxy's view of the servers (`show stat`): (proxy, server) -> status.
fn server_states(socket: &Path) -> Vec<(String, String, String)> {
    let Ok(mut s) = std::os::unix::net::UnixStream::connect(socket) else {
        return Vec::new();
    };
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    if s.write_all(b"show stat\n").is_err() {
        return Vec::new();
    }
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let column = |name: &str| {
        header
            .trim_start_matches("# ")
            .split(',')
            .position(|c| c == name)
            .unwrap()
    };
    let (px, sv, st) = (column("pxname"), column("svname"), column("status"));
    lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| f.len() > st)
        .map(|f| (f[px].to_string(), f[sv].to_string(), f[st].to_string()))
        .collect()
}

/// The statuses HAProxy gives `server` (one per service), waiting until
/// every one starts with `status`; the seconds it took.
fn wait_status(socket: &Path, server: &str, status: &str, since: Instant) -> f64 {
    loop {
        let states: Vec<_> = server_states(socket)
            .into_iter()
            .filter(|(_, s, _)| s == server)
            .collect();
        if states.len() == PORTS.len() && states.iter().all(|(_, _, s)| s.starts_with(status)) {
            return since.elapsed().as_secs_f64();
        }
        assert!(
            since.elapsed() < WAIT + WAIT,
            "{server} not {status} within {:?} at {}: {states:?}",
            WAIT + WAIT,
            socket.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `mdcluster health --plan P ARGS` in the namespace `ns`.
fn health(ns: &str, plan: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Net::exec(ns, binary())
        .arg("health")
        .arg("--plan")
        .arg(plan)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn events(stdout: &str, kind: &str) -> Vec<Value> {
    json_lines(stdout.as_bytes())
        .into_iter()
        .filter(|e| e["event"] == kind)
        .collect()
}

/// The lab's plan: MAIL1 (primary) and MAIL2 at their hosts' addresses, a
/// HAProxy balancer with sticky Webmail writing to `out`, and a failover
/// watch that reloads with `reload`; the cluster registered, as
/// `mdcluster register` leaves it, so step 11 writes the balancer's files.
fn cluster_plan(lab: &Lab, out: &Path, reload: &Path, check: &Path) {
    lab.edit_plan("address = \"127.0.0.1\"", &format!("address = \"{MAIL1}\""));
    let mut ports = String::from("[load_balancer.ports]\n");
    let mut backend = String::from("[load_balancer.backend_ports]\n");
    for s in mdcluster::plan::Service::ALL {
        match PORTS.iter().find(|(k, _, _)| *k == s.key()) {
            Some((k, front, back)) => {
                ports.push_str(&format!("{k} = {front}\n"));
                backend.push_str(&format!("{k} = {back}\n"));
            }
            None => ports.push_str(&format!("{} = 0\n", s.key())),
        }
    }
    let text = std::fs::read_to_string(&lab.plan).unwrap()
        + &format!(
            "
[[nodes]]
name = \"MAIL2\"
address = \"{MAIL2}\"
role = \"secondary\"

[load_balancer]
kind = \"haproxy\"
http_mode = \"balanced\"
cookie = \"{COOKIE}\"
listen = \"0.0.0.0\"
output = {out}
{ports}{backend}
[load_balancer.failover]
after = 2
restore_after = 2
reload = [\"/bin/sh\", {reload}]

[load_balancer.ha]
virtual_ip = \"{VIP}/24\"
interface = \"{LINK}\"
router_id = 79
check_script = {check}
[[load_balancer.ha.hosts]]
name = \"lb1\"
address = \"{LB1}\"
priority = 150
[[load_balancer.ha.hosts]]
name = \"lb2\"
address = \"{LB2}\"
priority = 100
",
            out = toml::Value::String(out.display().to_string()),
            reload = toml::Value::String(reload.display().to_string()),
            check = toml::Value::String(check.display().to_string()),
        );
    std::fs::write(&lab.plan, text).unwrap();
    lab.register_all();
}

fn cookie_names(a: &Answer, node: &str) -> bool {
    a.set_cookies
        .iter()
        .any(|c| c.starts_with(&format!("{COOKIE}={node}")))
}

#[test]
fn the_virtual_ip_moves_sessions_stay_and_a_failed_node_is_taken_out() {
    let Some(mut net) = lan("high availability in namespaces", NEEDS) else {
        return;
    };
    let lb1 = Balancer {
        label: "lb1",
        ns: net.host("lb1", &[&format!("{LB1}/24")]),
        address: LB1,
    };
    let lb2 = Balancer {
        label: "lb2",
        ns: net.host("lb2", &[&format!("{LB2}/24")]),
        address: LB2,
    };
    let client = net.host("cl", &[&format!("{CLIENT}/24")]);
    let node1 = net.host("m1", &[&format!("{MAIL1}/24")]);
    let node2 = net.host("m2", &[&format!("{MAIL2}/24")]);
    let both = [&lb1, &lb2];

    let holder = tempfile::tempdir().unwrap();
    let out = holder.path().join("lb");
    let files = Files {
        dir: holder.path().join("run"),
        haproxy_cfg: out.join("haproxy.cfg"),
        out: out.clone(),
    };
    std::fs::create_dir_all(&files.dir).unwrap();
    write_check_script(&files, &both);
    // Dropped before `net` (declared after it): the processes go first.
    let mut procs = Procs::default();

    // The failover watch's reload: a soft reload (-sf) of HAProxy on every
    // balancer whose HAProxy runs, each in its namespace.
    let reload = files.dir.join("reload.sh");
    let mut script = String::from("#!/bin/sh\nset -e\n");
    for b in both {
        script.push_str(&format!(
            "if kill -0 \"$(cat {pid})\" 2>/dev/null; then\n    {ip} netns exec {ns} {haproxy} -D -f {cfg} -f {extra} -p {pid} -sf \"$(cat {pid})\"\n    echo reloaded {label}\nfi\n",
            pid = files.pid(b).display(),
            ip = program("ip").display(),
            ns = b.ns,
            haproxy = program("haproxy").display(),
            cfg = files.haproxy_cfg.display(),
            extra = files.extra(b).display(),
            label = b.label,
        ));
    }
    std::fs::write(&reload, script).unwrap();

    let lab = small_lab();
    cluster_plan(&lab, &out, &reload, &files.check_script());
    let applied = lab.apply().args(["--yes", "--json"]).output().unwrap();
    assert_eq!(
        applied.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );
    let normal = std::fs::read_to_string(&files.haproxy_cfg).unwrap();
    assert!(normal.contains("cookie MDCLUSTER_NODE insert"), "{normal}");
    append_cluster_log(
        &lab.install,
        &["connected to MAIL2", "replication to MAIL2 complete"],
    );

    start_standin(&node1, "MAIL1", MAIL1, &files, &mut procs);
    start_standin(&node2, "MAIL2", MAIL2, &files, &mut procs);
    for (name, address) in [("MAIL1", MAIL1), ("MAIL2", MAIL2)] {
        let (a, _) = reach(&client, &format!("{address}:3000"), None, name);
        assert_eq!(a.body, name);
    }
    let (rc, stdout, stderr) = health(&client, &lab.plan, &["--json"]);
    assert_eq!(rc, Some(0), "every node up: {stdout}{stderr}");

    for b in both {
        start_haproxy(&files, b, &mut procs);
    }
    for b in both {
        start_keepalived(&files, b, &mut procs);
    }
    // Both balancers answer on their own addresses before any holds the IP.
    for b in both {
        reach(&client, b.address, None, b.label);
    }
    let master = settled(&client, &both, &files);
    // HAProxy's checks pass on every node and service: the stand-ins' greetings
    // and Webmail are what the generated checks expect.
    for b in both {
        for node in ["MAIL1", "MAIL2"] {
            wait_status(&files.socket(b), node, "UP", Instant::now());
        }
    }
    eprintln!("the virtual IP is on {} (MASTER)", master.label);

    // 1. Through the virtual IP: the first answer sets the route cookie; the
    // requests that carry it stay on its node.
    let first = get(&client, VIP, None, 2.0).unwrap();
    assert_eq!(first.status, 200, "{first:?}");
    let node = first.body.clone();
    assert!(node == "MAIL1" || node == "MAIL2", "{first:?}");
    assert!(cookie_names(&first, &node), "{first:?}");
    for _ in 0..5 {
        let a = get(&client, VIP, Some(&node), 2.0).unwrap();
        assert_eq!((a.status, a.body.as_str()), (200, node.as_str()), "{a:?}");
    }

    // 2. The MASTER dies: off the network, then its processes killed (no
    // goodbye to the BACKUP).
    let backup = if master.label == lb1.label {
        &lb2
    } else {
        &lb1
    };
    let died = Instant::now();
    ip(&["-n", &master.ns, "link", "set", LINK, "down"]).unwrap();
    if let Some(mut k) = procs.take(&format!("{}-keepalived", master.label)) {
        let _ = k.kill();
        let _ = k.wait();
    }
    kill(&pids_in(&master.ns));
    let _ = std::fs::remove_file(files.pid(master));
    let mut vip_moved = None;
    let mut last: String;
    let back = loop {
        if vip_moved.is_none() && holders(&[backup]).len() == 1 {
            vip_moved = Some(died.elapsed().as_secs_f64());
        }
        match get(&client, VIP, Some(&node), 0.5) {
            Ok(a) if a.status == 200 => break (a, died.elapsed().as_secs_f64()),
            Ok(a) => last = format!("{a:?}"),
            Err(e) => last = e,
        }
        assert!(
            died.elapsed() < WAIT,
            "the client did not reach the cluster through {VIP} within {WAIT:?} after the MASTER died: {last}\n{}",
            logs(&files, &[&format!("{}-keepalived", backup.label)])
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    // (The dead one is off the network: whatever its interface still
    // carries, nobody reaches it.)
    assert_eq!(holders(&[backup]).len(), 1, "the BACKUP has the virtual IP");
    eprintln!(
        "measured: the virtual IP on the BACKUP after {:.1} s",
        vip_moved.unwrap_or(back.1)
    );
    eprintln!("measured: vip failover took {:.1} s", back.1);
    // The session keeps its node through the BACKUP.
    assert_eq!(back.0.body, node, "{:?}", back.0);
    for _ in 0..5 {
        let a = get(&client, VIP, Some(&node), 2.0).unwrap();
        assert_eq!((a.status, a.body.as_str()), (200, node.as_str()), "{a:?}");
    }

    // The dead balancer comes back (the virtual IP it held dropped, as after
    // a restart): both balancers run again for the rest.
    let _ = ip(&[
        "-n",
        &master.ns,
        "addr",
        "del",
        &format!("{VIP}/24"),
        "dev",
        LINK,
    ]);
    ip(&["-n", &master.ns, "link", "set", LINK, "up"]).unwrap();
    start_haproxy(&files, master, &mut procs);
    start_keepalived(&files, master, &mut procs);
    reach(&client, master.address, None, master.label);
    // More than keepalived needs to decide (3 advertisements and the skew).
    std::thread::sleep(Duration::from_secs(5));
    let now = settled(&client, &both, &files);
    eprintln!("after the restart the virtual IP is on {}", now.label);

    // HAProxy alone dies on the balancer holding the virtual IP: keepalived's
    // check gives the address up, and the session keeps its node.
    let other = if now.label == lb1.label { &lb2 } else { &lb1 };
    kill(&[read_pid(&files.pid(now)).unwrap()]);
    let (a, took) = reach(&client, VIP, Some(&node), "the VIP after HAProxy died");
    assert_eq!(a.body, node, "{a:?}");
    assert_eq!(holders(&both).len(), 1);
    assert_eq!(holders(&both)[0].label, other.label);
    eprintln!(
        "measured: HAProxy killed on the MASTER, the client through the BACKUP after {took:.1} s"
    );
    start_haproxy(&files, now, &mut procs);
    std::thread::sleep(Duration::from_secs(5));
    settled(&client, &both, &files);

    // 3. MAIL2 fails.
    let mut stopped = procs.take("MAIL2").unwrap();
    let failed = Instant::now();
    stopped.kill().unwrap();
    stopped.wait().unwrap();

    // a. health: CRITICAL, MAIL2's services named; MAIL1 fine.
    let (rc, stdout, stderr) = health(&client, &lab.plan, &["--json"]);
    assert_eq!(rc, Some(2), "{stdout}{stderr}");
    let checks = events(&stdout, "health-check");
    for (service, _, _) in PORTS {
        let state = |n: &str| {
            checks
                .iter()
                .find(|c| c["node"] == n && c["check"] == service)
                .unwrap_or_else(|| panic!("no {n} {service} in {stdout}"))["state"]
                .clone()
        };
        assert_eq!(state("MAIL2"), "critical", "{service}: {stdout}");
        assert_eq!(state("MAIL1"), "ok", "{service}: {stdout}");
    }

    // b. The balancers: a request with MAIL2's cookie is answered by MAIL1
    // (redispatch), with a cookie naming MAIL1; HAProxy's checks take MAIL2
    // out of every service.
    let (a, took) = reach(&client, VIP, Some("MAIL2"), "MAIL2's session");
    assert_eq!(a.body, "MAIL1", "{a:?}");
    assert!(cookie_names(&a, "MAIL1"), "{a:?}");
    eprintln!("measured: a MAIL2 session answered by MAIL1 after {took:.1} s");
    for b in both {
        let took = wait_status(&files.socket(b), "MAIL2", "DOWN", failed);
        eprintln!(
            "measured: HAProxy on {} took MAIL2 out after {took:.1} s",
            b.label
        );
    }

    // c. The failover watch: MAIL2 answered nothing for 2 rounds, its
    // sessions move to MAIL1, both HAProxies reload the rewritten file.
    let pids_before: Vec<_> = both.iter().map(|b| read_pid(&files.pid(b))).collect();
    let watch = Instant::now();
    let (_, stdout, stderr) = health(
        &client,
        &lab.plan,
        &[
            "--watch",
            "--failover",
            "--rounds",
            "3",
            "--interval",
            "1",
            "--timeout",
            "3",
            "--json",
        ],
    );
    let moved = events(&stdout, "failover")
        .into_iter()
        .find(|e| e["action"] == "moved")
        .unwrap_or_else(|| panic!("no move: {stdout}{stderr}"));
    assert_eq!(
        (moved["from"].as_str(), moved["to"].as_str()),
        (Some("MAIL2"), Some("MAIL1")),
        "{moved}"
    );
    assert_eq!(moved["reload_ran"], true, "{moved}");
    assert_eq!(moved["reload_ok"], true, "{moved}");
    let output = moved["reload_output"].as_str().unwrap_or_default();
    assert!(
        output.contains("reloaded lb1") && output.contains("reloaded lb2"),
        "{moved}"
    );
    eprintln!(
        "measured: the failover watch (2 rounds, 1 s apart) moved and reloaded in {:.1} s",
        watch.elapsed().as_secs_f64()
    );
    let failed_over = std::fs::read_to_string(&files.haproxy_cfg).unwrap();
    assert!(failed_over.contains("use-server MAIL1 if"), "{failed_over}");
    for (b, before) in both.iter().zip(pids_before) {
        // A new HAProxy, with MAIL2 disabled in every service.
        assert_ne!(read_pid(&files.pid(b)), before, "{} not reloaded", b.label);
        wait_status(&files.socket(b), "MAIL2", "MAINT", Instant::now());
    }
    // MAIL2's cookie: answered by MAIL1 with the failover's cookie, through
    // the virtual IP and on each balancer.
    for host in [VIP, LB1, LB2] {
        let a = get(&client, host, Some("MAIL2"), 2.0).unwrap();
        assert_eq!((a.status, a.body.as_str()), (200, "MAIL1"), "{host}: {a:?}");
        assert!(
            a.set_cookies
                .iter()
                .any(|c| c.starts_with(&format!("{COOKIE}=MAIL1; path=/"))),
            "{host}: {a:?}"
        );
    }

    // d. MAIL2 is back: after 2 rounds answering, the normal file again,
    // byte for byte, reloaded on both balancers; its cookie reaches it.
    start_standin(&node2, "MAIL2", MAIL2, &files, &mut procs);
    reach(&client, &format!("{MAIL2}:3000"), None, "MAIL2 again");
    let (_, stdout, stderr) = health(
        &client,
        &lab.plan,
        &[
            "--watch",
            "--failover",
            "--rounds",
            "2",
            "--interval",
            "1",
            "--timeout",
            "3",
            "--json",
        ],
    );
    let restored = events(&stdout, "failover")
        .into_iter()
        .find(|e| e["action"] == "restored")
        .unwrap_or_else(|| panic!("not restored: {stdout}{stderr}"));
    assert_eq!(restored["reload_ok"], true, "{restored}");
    assert_eq!(std::fs::read_to_string(&files.haproxy_cfg).unwrap(), normal);
    for b in both {
        wait_status(&files.socket(b), "MAIL2", "UP", Instant::now());
    }
    let (a, _) = reach(&client, VIP, Some("MAIL2"), "MAIL2's session, back");
    assert_eq!(a.body, "MAIL2", "{a:?}");
}
