//! End to end on loopback: small backends on 127.0.N.11.. play the nodes, the
//! real balancer runs the generated configuration (the plan's ports point at
//! free loopback ports), and an HTTP client with a cookie jar checks what the
//! issue promises: 20 requests stay on one node; Remote Administration always
//! reaches the primary; when the client's node is stopped, the next request
//! lands on another node and the cookie is issued again; `lb failover` moves
//! a node's sessions; a mail node without its greeting gets no connections.
//!
//! Every process is started by the test, waited for with a deadline, and
//! stopped by its process id when the test ends (also on failure).

mod common;
use common::*;
use mdcluster::lb::{self, GeneratedFile, Kind};
use mdcluster::plan::Plan;
use mdcluster::profile::Profile;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(15);

/// A process the test started; stopped by its id when dropped.
struct Proc {
    what: String,
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn start(what: &str, cmd: &mut Command, log: PathBuf) -> Proc {
        let out = std::fs::File::create(&log).unwrap();
        let err = out.try_clone().unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {what}: {e}"));
        Proc {
            what: what.to_string(),
            child,
            log,
        }
    }

    /// Wait until `addr` accepts connections; a process that exits first fails the test.
    fn wait_for(&mut self, addr: SocketAddr) {
        let deadline = Instant::now() + WAIT;
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited ({status}) before listening on {addr}:\n{}",
                    self.what,
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} does not listen on {addr} after {WAIT:?}:\n{}",
                self.what,
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

fn loopback(net: u8, host: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, net, host))
}

/// A port that is free on every one of `addrs`.
fn free_port(addrs: &[IpAddr]) -> u16 {
    for _ in 0..100 {
        let first = TcpListener::bind((addrs[0], 0)).unwrap();
        let port = first.local_addr().unwrap().port();
        let others: Vec<_> = addrs[1..]
            .iter()
            .map(|a| TcpListener::bind((*a, port)))
            .collect();
        if others.iter().all(|l| l.is_ok()) {
            return port;
        }
    }
    panic!("no port free on all of {addrs:?}")
}

/// Three nodes MAIL1 (primary) .. MAIL3 on 127.0.`net`.11-13, one port each.
struct Nodes {
    tmp: tempfile::TempDir,
    addrs: Vec<IpAddr>,
    port: u16,
    procs: Vec<Option<Proc>>,
}

impl Nodes {
    /// `mode` "http", or "greet" with one greeting line per node.
    fn start(net: u8, mode: &str, greetings: &[&str]) -> Nodes {
        let tmp = tempfile::tempdir().unwrap();
        let addrs: Vec<IpAddr> = (11..=13).map(|h| loopback(net, h)).collect();
        let port = free_port(&addrs);
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lb/backend.py");
        let mut procs = Vec::new();
        for (i, addr) in addrs.iter().enumerate() {
            let name = format!("MAIL{}", i + 1);
            let mut cmd = Command::new("python3");
            cmd.arg(&script)
                .args([mode, &name, &addr.to_string(), &port.to_string()]);
            if mode == "greet" {
                cmd.arg(greetings[i]);
            }
            let mut p = Proc::start(
                &format!("backend {name}"),
                &mut cmd,
                tmp.path().join(format!("{name}.log")),
            );
            p.wait_for(SocketAddr::new(*addr, port));
            procs.push(Some(p));
        }
        Nodes {
            tmp,
            addrs,
            port,
            procs,
        }
    }

    /// Stop node `name` (MAIL1..) by its process id.
    fn stop(&mut self, name: &str) {
        let i: usize = name.trim_start_matches("MAIL").parse::<usize>().unwrap() - 1;
        if let Some(mut p) = self.procs[i].take() {
            p.stop();
        }
    }

    fn plan(&self, extra: &str) -> Plan {
        let text = lb_plan_text(3, |i| self.addrs[i - 1].to_string(), extra);
        let file = self.tmp.path().join("plan.toml");
        std::fs::write(&file, &text).unwrap();
        Plan::load(&file, &Profile::builtin()).unwrap()
    }
}

/// Every service off except the ones given, on free ports of 127.0.0.1.
fn lb_table(mode: &str, services: &[(&str, u16)], backend: u16) -> String {
    let mut t = format!(
        "[load_balancer]\nhttp_mode = \"{mode}\"\nlisten = \"127.0.0.1\"\n[load_balancer.ports]\n"
    );
    for s in mdcluster::plan::Service::ALL {
        let port = services
            .iter()
            .find(|(k, _)| *k == s.key())
            .map(|(_, p)| *p)
            .unwrap_or(0);
        t.push_str(&format!("{} = {port}\n", s.key()));
    }
    t.push_str("[load_balancer.backend_ports]\n");
    for (k, _) in services {
        t.push_str(&format!("{k} = {backend}\n"));
    }
    t
}

/// The real balancer on the generated files (checked first, as `mdcluster lb` does).
fn start_balancer(kind: Kind, program: &Path, files: &[GeneratedFile], dir: &Path) -> Proc {
    let verdict = lb::validate(kind, files);
    assert!(
        matches!(verdict, lb::Verdict::Passed { .. }),
        "{verdict:#?}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Apache drops root for its work; it must still reach its files.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let staged = lb::check::stage(kind, files, program, dir).unwrap();
    let log = dir.join("balancer.log");
    let mut cmd = Command::new(program);
    match kind {
        Kind::Haproxy => {
            if !is_root() {
                // Only root can switch to the haproxy user the file names.
                let text = std::fs::read_to_string(&staged.config).unwrap();
                let kept: Vec<&str> = text
                    .lines()
                    .filter(|l| !matches!(l.trim(), "user haproxy" | "group haproxy"))
                    .collect();
                std::fs::write(&staged.config, kept.join("\n")).unwrap();
            }
            cmd.arg("-db").arg("-f").arg(&staged.config);
        }
        Kind::Nginx => {
            cmd.arg("-e")
                .arg(dir.join("error.log"))
                .arg("-c")
                .arg(&staged.config)
                .arg("-p")
                .arg(format!("{}/", dir.display()))
                .args(["-g", "daemon off; master_process off;"]);
        }
        Kind::Apache => {
            // One process (-X), so stopping it by its id stops everything.
            let mut run = format!("Include \"{}\"\n", staged.config.display());
            if is_root() {
                let (user, group) = unprivileged();
                run.push_str(&format!("User {user}\nGroup {group}\n"));
            }
            let conf = dir.join("run-httpd.conf");
            std::fs::write(&conf, run).unwrap();
            cmd.arg("-X").arg("-f").arg(&conf);
        }
    }
    cmd.current_dir(dir).env("LC_ALL", "C");
    Proc::start(&format!("{kind:?}"), &mut cmd, log)
}

fn unprivileged() -> (&'static str, &'static str) {
    let has = |file: &str, name: &str| {
        std::fs::read_to_string(file)
            .map(|t| t.lines().any(|l| l.starts_with(&format!("{name}:"))))
            .unwrap_or(false)
    };
    let user = if has("/etc/passwd", "www-data") {
        "www-data"
    } else {
        "nobody"
    };
    let group = ["www-data", "nogroup", "nobody"]
        .into_iter()
        .find(|g| has("/etc/group", g))
        .unwrap_or("nobody");
    (user, group)
}

#[derive(Debug)]
struct Response {
    status: u16,
    set_cookies: Vec<String>,
    body: String,
}

/// One HTTP/1.1 request over a fresh connection.
fn get(addr: SocketAddr, cookie: Option<&str>) -> Response {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = String::from("GET / HTTP/1.1\r\nHost: mail.example.com\r\nConnection: close\r\n");
    if let Some(c) = cookie {
        req.push_str(&format!("Cookie: {c}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Response {
        status,
        set_cookies: headers
            .into_iter()
            .filter(|(k, _)| k == "set-cookie")
            .map(|(_, v)| v)
            .collect(),
        body,
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// The client's cookie jar: one cookie, the route cookie.
struct Jar {
    name: String,
    value: Option<String>,
}

impl Jar {
    fn new(name: &str) -> Jar {
        Jar {
            name: name.to_string(),
            value: None,
        }
    }

    /// A request; returns the node that answered and the route cookie the
    /// answer set, if any.
    fn get(&mut self, addr: SocketAddr) -> (String, Option<String>) {
        let cookie = self.value.as_ref().map(|v| format!("{}={v}", self.name));
        let r = get(addr, cookie.as_deref());
        assert_eq!(r.status, 200, "{r:?}");
        let prefix = format!("{}=", self.name);
        let set = r
            .set_cookies
            .iter()
            .filter_map(|c| c.strip_prefix(&prefix))
            .map(|v| v.split(';').next().unwrap_or_default().to_string())
            .next_back();
        if let Some(v) = &set {
            self.value = Some(v.clone());
        }
        (r.body.trim().to_string(), set)
    }
}

/// The scenario for one balancer.
fn sticky_then_failover(kind: Kind, net: u8) {
    let Some(program) = lb_program(kind) else {
        return;
    };
    let mut nodes = Nodes::start(net, "http", &[]);
    let front = free_port(&[loopback(0, 1)]);
    let admin = free_port(&[loopback(0, 1)]);
    let plan = nodes.plan(&lb_table(
        "balanced",
        &[("http", front), ("remote_admin", admin)],
        nodes.port,
    ));
    let g = lb::generate(&plan, &Profile::builtin(), kind).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut balancer = start_balancer(kind, &program, &g.files, dir.path());
    let web = SocketAddr::new(loopback(0, 1), front);
    let admin = SocketAddr::new(loopback(0, 1), admin);
    balancer.wait_for(web);
    balancer.wait_for(admin);

    // Clients without a cookie are spread over the nodes. (First: Apache's
    // byrequests counts sticky requests too, and evens the counts out.)
    let spread: std::collections::BTreeSet<String> = (0..9)
        .map(|_| get(web, None).body.trim().to_string())
        .collect();
    assert!(
        spread.len() >= 2,
        "{kind:?}: fresh clients all on {spread:?}"
    );

    // 20 requests with a cookie jar: one node, and the cookie names it.
    let mut jar = Jar::new("MDCLUSTER_NODE");
    let mut seen = Vec::new();
    let mut issued = Vec::new();
    for _ in 0..20 {
        let (node, set) = jar.get(web);
        seen.push(node);
        issued.extend(set);
    }
    let first = seen[0].clone();
    assert!(
        seen.iter().all(|n| *n == first),
        "{kind:?}: not sticky: {seen:?}"
    );
    assert!(!issued.is_empty(), "{kind:?}: no route cookie was set");
    let cookie = jar.value.clone().unwrap();
    assert!(
        cookie.ends_with(&first),
        "{kind:?}: cookie {cookie} for node {first}"
    );

    // curl's cookie jar (which honours the cookie's attributes) stays on one node too.
    curl_stays_on_one_node(kind, web);

    // Remote Administration: always the primary.
    for _ in 0..10 {
        assert_eq!(
            get(admin, None).body.trim(),
            "MAIL1",
            "{kind:?}: admin not on the primary"
        );
    }

    // The client's node stops: the next request lands elsewhere, with a new cookie.
    nodes.stop(&first);
    let (next, set) = jar.get(web);
    assert_ne!(next, first, "{kind:?}: still on the stopped node");
    let set = set.unwrap_or_else(|| panic!("{kind:?}: the cookie was not issued again"));
    assert_ne!(set, cookie, "{kind:?}: the same cookie again");
    assert!(
        set.ends_with(&next),
        "{kind:?}: new cookie {set} for node {next}"
    );
    for _ in 0..5 {
        assert_eq!(
            jar.get(web).0,
            next,
            "{kind:?}: not sticky after the failover"
        );
    }
    drop(balancer);
}

/// Ten requests with `curl -c JAR -b JAR` land on one node.
fn curl_stays_on_one_node(kind: Kind, web: SocketAddr) {
    if Command::new("curl").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("MDCLUSTER_REQUIRE_LB_TESTS").is_none(),
            "curl is not installed (bash scripts/test.sh installs it)"
        );
        eprintln!("skipped the curl part: curl is not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let jar = tmp.path().join("jar");
    let nodes: Vec<String> = (0..10)
        .map(|_| {
            let out = Command::new("curl")
                .args(["-s", "--max-time", "10", "-c"])
                .arg(&jar)
                .arg("-b")
                .arg(&jar)
                .arg(format!("http://{web}/"))
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        })
        .collect();
    assert!(
        nodes.iter().all(|n| *n == nodes[0]) && nodes[0].starts_with("MAIL"),
        "{kind:?}: curl's cookie jar is not sticky: {nodes:?}"
    );
}

/// `mdcluster lb failover --from MAIL2 --to MAIL3` with the real balancer: a
/// browser of MAIL2 lands on MAIL3 and gets a cookie naming it, although
/// MAIL2 still answers (a planned move).
fn failover_moves_sessions(kind: Kind, net: u8, cookie_of: fn(&str) -> String) {
    let Some(program) = lb_program(kind) else {
        return;
    };
    let nodes = Nodes::start(net, "http", &[]);
    let front = free_port(&[loopback(0, 1)]);
    let plan = nodes.plan(&lb_table("balanced", &[("http", front)], nodes.port));
    let moved = lb::failover(&plan, &Profile::builtin(), kind, "MAIL2", "MAIL3").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut balancer = start_balancer(kind, &program, &moved.config.files, dir.path());
    let web = SocketAddr::new(loopback(0, 1), front);
    balancer.wait_for(web);
    let mut jar = Jar::new("MDCLUSTER_NODE");
    jar.value = Some(cookie_of("MAIL2"));
    let (node, set) = jar.get(web);
    assert_eq!(node, "MAIL3", "{kind:?}");
    assert_eq!(
        set.as_deref(),
        Some(cookie_of("MAIL3").as_str()),
        "{kind:?}"
    );
    for _ in 0..5 {
        assert_eq!(jar.get(web).0, "MAIL3", "{kind:?}");
    }
    // Browsers of other nodes stay where they are.
    let mut other = Jar::new("MDCLUSTER_NODE");
    other.value = Some(cookie_of("MAIL1"));
    assert_eq!(other.get(web).0, "MAIL1", "{kind:?}");
}

/// In "primary" mode, a failover away from the primary moves Webmail to the
/// other node, while Remote Administration stays on the primary.
fn primary_failover_moves_webmail(kind: Kind, net: u8) {
    let Some(program) = lb_program(kind) else {
        return;
    };
    let nodes = Nodes::start(net, "http", &[]);
    let front = free_port(&[loopback(0, 1)]);
    let admin = free_port(&[loopback(0, 1)]);
    let plan = nodes.plan(&lb_table(
        "primary",
        &[("http", front), ("remote_admin", admin)],
        nodes.port,
    ));
    let web = SocketAddr::new(loopback(0, 1), front);
    let admin = SocketAddr::new(loopback(0, 1), admin);
    let plain = lb::generate(&plan, &Profile::builtin(), kind).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut balancer = start_balancer(kind, &program, &plain.files, dir.path());
    balancer.wait_for(web);
    for _ in 0..6 {
        assert_eq!(
            get(web, None).body.trim(),
            "MAIL1",
            "{kind:?}: Webmail not on the primary"
        );
    }
    drop(balancer);

    let moved = lb::failover(&plan, &Profile::builtin(), kind, "MAIL1", "MAIL2").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut balancer = start_balancer(kind, &program, &moved.config.files, dir.path());
    balancer.wait_for(web);
    balancer.wait_for(admin);
    for _ in 0..6 {
        assert_eq!(
            get(web, None).body.trim(),
            "MAIL2",
            "{kind:?}: Webmail not moved"
        );
        assert_eq!(
            get(admin, None).body.trim(),
            "MAIL1",
            "{kind:?}: admin left the primary"
        );
    }
}

#[test]
fn haproxy_primary_mode_failover() {
    primary_failover_moves_webmail(Kind::Haproxy, 38);
}

#[test]
fn apache_primary_mode_failover() {
    primary_failover_moves_webmail(Kind::Apache, 39);
}

#[test]
fn nginx_primary_mode_failover() {
    primary_failover_moves_webmail(Kind::Nginx, 40);
}

fn plain(node: &str) -> String {
    node.to_string()
}

fn apache_route(node: &str) -> String {
    format!("balancer.{node}")
}

#[test]
fn haproxy_sticky_admin_on_primary_and_failover() {
    sticky_then_failover(Kind::Haproxy, 31);
}

#[test]
fn apache_sticky_admin_on_primary_and_failover() {
    sticky_then_failover(Kind::Apache, 32);
}

#[test]
fn nginx_sticky_admin_on_primary_and_failover() {
    sticky_then_failover(Kind::Nginx, 33);
}

#[test]
fn haproxy_failover_command_moves_sessions() {
    failover_moves_sessions(Kind::Haproxy, 34, plain);
}

#[test]
fn apache_failover_include_moves_sessions() {
    failover_moves_sessions(Kind::Apache, 35, apache_route);
}

#[test]
fn nginx_failover_command_moves_sessions() {
    failover_moves_sessions(Kind::Nginx, 36, plain);
}

/// HAProxy's SMTP health check waits for the greeting: a node that answers
/// with something else is taken out and gets no more connections.
#[test]
fn haproxy_takes_a_mail_node_without_greeting_out() {
    let Some(program) = lb_program(Kind::Haproxy) else {
        return;
    };
    let nodes = Nodes::start(
        37,
        "greet",
        &["220 MAIL1 ESMTP", "554 MAIL2 not ready", "220 MAIL3 ESMTP"],
    );
    let front = free_port(&[loopback(0, 1)]);
    let plan = nodes.plan(&lb_table("primary", &[("smtp", front)], nodes.port));
    let g = lb::generate(&plan, &Profile::builtin(), Kind::Haproxy).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut balancer = start_balancer(Kind::Haproxy, &program, &g.files, dir.path());
    let smtp = SocketAddr::new(loopback(0, 1), front);
    balancer.wait_for(smtp);
    let greet = || -> String {
        let s = TcpStream::connect_timeout(&smtp, Duration::from_secs(5)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut line = String::new();
        let _ = BufReader::new(&s).read_line(&mut line);
        line.trim().to_string()
    };
    // Checks run every 5 s and three failures take a node out.
    let deadline = Instant::now() + Duration::from_secs(45);
    let mut good_in_a_row = 0;
    let mut seen = std::collections::BTreeSet::new();
    while good_in_a_row < 12 {
        assert!(
            Instant::now() < deadline,
            "MAIL2 still gets connections: {seen:?}\n{}",
            std::fs::read_to_string(dir.path().join("balancer.log")).unwrap_or_default()
        );
        let line = greet();
        if line.starts_with("220 ") {
            good_in_a_row += 1;
        } else {
            good_in_a_row = 0;
            std::thread::sleep(Duration::from_millis(500));
        }
        seen.insert(line);
    }
    // Both greeting nodes still share the work.
    let names: std::collections::BTreeSet<String> = (0..8).map(|_| greet()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
}
