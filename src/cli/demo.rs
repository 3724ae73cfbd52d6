//! The demo's load balancer (step 11): the plan gets a HAProxy section on
//! loopback ports that are free here, every node of the demo (the sample
//! primary and the SIMULATED secondaries, each at its own loopback address)
//! gets SIMULATED services answering on them, and after step 11 wrote the
//! configuration the real HAProxy shows that a Webmail session sticks to
//! its node ([`crate::lb::proof`]).

use crate::lb::proof::{self, Proof};
use crate::lb::Kind;
use crate::output::say;
use crate::plan::{HttpMode, Plan, Service};
use crate::problem::{Exit, Problem};
use crate::profile::Profile;
use crate::simulation::services::{serve, Standin};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The services the demo's balancer carries.
const CARRIED: [Service; 2] = [Service::Http, Service::Smtp];

/// Where the demo's nodes answer.
pub(super) struct Balancer {
    /// The nodes' port per carried service.
    backend: Vec<(Service, u16)>,
}

/// The plan's `[load_balancer]` for the demo (headless).
pub(super) fn balancer_into_plan(profile: &Profile, plan_file: &Path) -> Result<Balancer, Problem> {
    let mut plan = Plan::load(plan_file, profile)?;
    let addresses: Vec<IpAddr> = plan
        .nodes
        .iter()
        .filter_map(|n| n.address.parse().ok())
        .collect();
    let b = configure(&mut plan.load_balancer, &addresses)?;
    std::fs::write(plan_file, plan.render(profile))
        .map_err(|e| Problem::io(Exit::Other, "write", plan_file, &e))?;
    Ok(b)
}

/// The wizard's answers for step 11 in the interactive demo: the same
/// balancer, for the primary and `secondaries` simulated nodes.
pub(super) fn balancer_into_answers(
    profile: &Profile,
    answers: &mut crate::wizard::answers::Answers,
    secondaries: usize,
) -> Result<Balancer, Problem> {
    let mut addresses = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
    addresses.extend((0..secondaries).map(crate::simulation::loopback_address));
    let mut lb = crate::plan::LoadBalancer::defaults(profile);
    let b = configure(&mut lb, &addresses)?;
    answers.lb_kind = Kind::Haproxy.key().into();
    answers.lb_http_mode = HttpMode::Balanced.key().into();
    answers.lb_kept = crate::plan::file::LbTable {
        kind: None,
        output: None,
        http_mode: None,
        ..crate::plan::load_balancer_table(&lb, profile)
    };
    Ok(b)
}

/// HAProxy, Webmail balanced by cookie, on loopback ports free on every
/// node's address; the other services left out.
fn configure(
    lb: &mut crate::plan::LoadBalancer,
    addresses: &[IpAddr],
) -> Result<Balancer, Problem> {
    lb.kind = Some(Kind::Haproxy);
    lb.http_mode = HttpMode::Balanced;
    lb.listen = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut backend = Vec::new();
    let mut taken = Vec::new();
    for s in Service::ALL {
        if CARRIED.contains(&s) {
            let front = free_port(&[lb.listen], &taken)?;
            taken.push(front);
            let back = free_port(addresses, &taken)?;
            taken.push(back);
            lb.ports.set(s, front);
            lb.backend_ports.set(s, back);
            backend.push((s, back));
        } else {
            lb.ports.set(s, 0);
        }
    }
    Ok(Balancer { backend })
}

/// A port free on every address (and not one already chosen), from
/// 20000-32767: below the range Linux and Windows hand out for outgoing
/// connections, so one of those is unlikely to take it before HAProxy or a
/// node binds it (the proof also checks who answered).
fn free_port(addresses: &[IpAddr], taken: &[u16]) -> Result<u16, Problem> {
    for _ in 0..200 {
        let port: u16 = rand::random_range(20000..32768);
        if !taken.contains(&port)
            && addresses
                .iter()
                .all(|a| TcpListener::bind(SocketAddr::new(*a, port)).is_ok())
        {
            return Ok(port);
        }
    }
    Err(Problem::other(
        "no port is free on every loopback address of the demo's nodes",
    ))
}

/// The SIMULATED services of every node of the plan; they stop when dropped.
pub(super) struct Nodes {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Drop for Nodes {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// SIMULATED Webmail and SMTP on each node (name, address).
pub(super) fn start_nodes(nodes: &[(String, IpAddr)], b: &Balancer) -> Result<Nodes, Problem> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut running = Nodes {
        stop: stop.clone(),
        threads: Vec::new(),
    };
    for (name, address) in nodes {
        let standin = Standin {
            name: name.clone(),
            address: *address,
            services: b.backend.clone(),
            silent: false,
        };
        running.threads.extend(serve(&standin, stop.clone())?);
    }
    say!(
        "  SIMULATED Webmail and SMTP answer on every node ({})",
        nodes
            .iter()
            .map(|(n, a)| format!("{n} {a}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(running)
}

/// The plan's nodes with their addresses.
pub(super) fn plan_nodes(plan: &Plan) -> Vec<(String, IpAddr)> {
    plan.nodes
        .iter()
        .filter_map(|n| Some((n.name.clone(), n.address.parse().ok()?)))
        .collect()
}

/// After the interactive demo: the proof, offered when step 11 wrote a
/// HAProxy configuration with Webmail balanced by cookie and HAProxy is
/// installed here (otherwise it says why not). Asked on the terminal; a
/// failure is said, the wizard's exit code stays.
pub(super) fn offer_proof(profile: &Profile, install: &Path, dir: &Path) {
    let state = install.join(crate::fsops::state_dir::STATE_DIR);
    let plan = match Plan::load(&state.join(crate::workflows::start::WIZARD_PLAN), profile) {
        Ok(p) => p,
        Err(_) => return, // nothing applied
    };
    if let Err(why) = provable(&plan, install) {
        say!("\nNo stickiness proof: {why}.");
        return;
    }
    let ask = inquire::Confirm::new("Show with HAProxy that a Webmail session stays on its node?")
        .with_default(true)
        .prompt();
    if matches!(ask, Ok(true)) {
        if let Err(p) = prove(&plan, install, dir) {
            crate::output::print_problem(&p, false);
        }
    }
}

/// Where step 11 wrote the HAProxy configuration of `plan`.
fn written_config(plan: &Plan, install: &Path) -> std::path::PathBuf {
    let dir = match &plan.load_balancer.output {
        Some(dir) => dir.clone(),
        None => install
            .join(crate::fsops::state_dir::STATE_DIR)
            .join(crate::steps::load_balancer::DEFAULT_DIR)
            .join(Kind::Haproxy.key()),
    };
    dir.join("haproxy.cfg")
}

/// Whether the proof can run for `plan`, or why not.
fn provable(plan: &Plan, install: &Path) -> Result<(), String> {
    let lb = &plan.load_balancer;
    if lb.kind != Some(Kind::Haproxy) {
        return Err("the plan's balancer is not HAProxy".into());
    }
    if lb.http_mode != HttpMode::Balanced || lb.ports.get(Service::Http) == 0 {
        return Err(
            "Webmail is not balanced by cookie in the plan (http_mode = \"balanced\")".into(),
        );
    }
    if !crate::fsops::exists(&written_config(plan, install)) {
        return Err("step 11 has not written the balancer's configuration yet (apply again once the secondaries are registered)".into());
    }
    Ok(())
}

/// After step 11: HAProxy on the configuration step 11 wrote, Webmail
/// requests through it, and what they showed, said in words.
pub(super) fn prove(plan: &Plan, install: &Path, dir: &Path) -> Result<(), Problem> {
    if let Err(why) = provable(plan, install) {
        say!("\nNo stickiness proof: {why}.");
        return Ok(());
    }
    let written = written_config(plan, install);
    let contents = std::fs::read_to_string(&written)
        .map_err(|e| Problem::io(Exit::Other, "read", &written, &e))?;
    let files = [crate::lb::GeneratedFile {
        path: "haproxy.cfg".into(),
        contents,
        about: "step 11's HAProxy configuration".into(),
    }];
    let lb = &plan.load_balancer;
    let http = SocketAddr::new(lb.listen, lb.ports.get(Service::Http));
    let work = dir.join("haproxy-proof");
    std::fs::create_dir_all(&work).map_err(|e| Problem::io(Exit::Other, "create", &work, &e))?;
    say!(
        "\nStickiness proof: HAProxy on {} (step 11's file), Webmail on {http} (its log in {}):",
        written.display(),
        work.display()
    );
    match proof::sticky(&files, http, &lb.cookie, &work) {
        Proof::Shown(s) => said(&s),
        Proof::Skipped(why) => {
            say!("  skipped: {why}");
            Ok(())
        }
        Proof::Failed(why) => Err(Problem::new(
            Exit::Verification,
            format!("the stickiness proof did not run to its end: {why}"),
        )
        .fix("HAProxy's own words are above; the demo's folder keeps its configuration and log")),
    }
}

fn said(s: &proof::Sticky) -> Result<(), Problem> {
    say!(
        "  the first request went to {} and got the cookie {}",
        s.node,
        s.cookie
    );
    say!(
        "  {} more with that cookie went to: {}",
        s.with_cookie.len(),
        s.with_cookie.join(", ")
    );
    say!(
        "  without a cookie, requests are spread: {}",
        s.without_cookie.join(", ")
    );
    if s.held() {
        say!(
            "  The session stayed on {}: sticky sessions work. HAProxy was stopped.",
            s.node
        );
        return Ok(());
    }
    Err(Problem::new(
        Exit::Verification,
        format!("requests with the cookie for {} reached other nodes", s.node),
    )
    .fix("this is a bug in mdcluster's HAProxy configuration; please report it with the output above"))
}
