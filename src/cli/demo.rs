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

/// Where the demo's balancer listens and its nodes answer.
pub(super) struct Balancer {
    /// HAProxy's Webmail port on 127.0.0.1.
    pub http: SocketAddr,
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
    let http = SocketAddr::new(lb.listen, lb.ports.get(Service::Http));
    Ok(Balancer { http, backend })
}

/// A port free on every address (and not one already chosen).
fn free_port(addresses: &[IpAddr], taken: &[u16]) -> Result<u16, Problem> {
    for _ in 0..50 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| Problem::other(format!("no free port on loopback: {e}")))?;
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

/// After the interactive demo: once step 11 wrote the balancer's files,
/// offer the proof (asked on a terminal; the wizard's plan is the one
/// applied).
pub(super) fn offer_proof(
    profile: &Profile,
    install: &Path,
    b: &Balancer,
    dir: &Path,
) -> Result<(), Problem> {
    let state = install.join(crate::fsops::state_dir::STATE_DIR);
    let written = state
        .join(crate::steps::load_balancer::DEFAULT_DIR)
        .join(Kind::Haproxy.key())
        .join("haproxy.cfg");
    if !crate::fsops::exists(&written) {
        say!("\nStep 11 has not written the balancer's configuration yet: apply again once the secondaries are registered to see HAProxy keep a session on its node.");
        return Ok(());
    }
    let ask = inquire::Confirm::new("Show with HAProxy that a Webmail session stays on its node?")
        .with_default(true)
        .prompt();
    if !matches!(ask, Ok(true)) {
        return Ok(());
    }
    let plan = Plan::load(&state.join(crate::workflows::start::WIZARD_PLAN), profile)?;
    prove(profile, &plan, b, dir)
}

/// After step 11: HAProxy on the configuration it wrote, Webmail requests
/// through it, and what they showed, said in words.
pub(super) fn prove(
    profile: &Profile,
    plan: &Plan,
    b: &Balancer,
    dir: &Path,
) -> Result<(), Problem> {
    let generated = crate::lb::generate(plan, profile, Kind::Haproxy)?;
    let work = dir.join("haproxy-proof");
    std::fs::create_dir_all(&work).map_err(|e| Problem::io(Exit::Other, "create", &work, &e))?;
    say!(
        "\nStickiness proof: HAProxy on step 11's configuration, Webmail on {} (in {}):",
        b.http,
        work.display()
    );
    match proof::sticky(&generated.files, b.http, &plan.load_balancer.cookie, &work) {
        Proof::Shown(s) => {
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
                Ok(())
            } else {
                Err(Problem::new(
                    Exit::Verification,
                    format!("requests with the cookie for {} reached other nodes", s.node),
                )
                .fix("this is a bug in mdcluster's HAProxy configuration; please report it with the output above"))
            }
        }
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
