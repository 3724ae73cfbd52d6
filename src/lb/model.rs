//! What the balancer does, whichever balancer it is: one route per service.
//!
//! The rules come from the MDaemon manual (Cluster Service, "Routing"):
//! Remote Administration always to the primary; XMPP to one node (the
//! primary), so everyone can chat with everyone; Webmail either all to the
//! primary (the simple mode the manual recommends) or to every node with a
//! sticky route cookie. Mail protocols carry no session state on a node, so
//! they go to every node, the least busy first.

use super::template::Vars;
use crate::plan::{HttpMode, Plan, Role, Service};
use crate::problem::Problem;
use serde::Serialize;
use std::net::IpAddr;

/// A node as a backend of one service.
#[derive(Clone, Debug)]
pub(crate) struct Member {
    pub name: String,
    pub address: String,
    pub port: u16,
    /// Taken out by a failover.
    pub down: bool,
}

impl Member {
    /// `address:port`, with IPv6 addresses in brackets.
    pub(crate) fn endpoint(&self) -> String {
        endpoint(&self.address, self.port)
    }
    pub(crate) fn is_ip(&self) -> bool {
        self.address.parse::<IpAddr>().is_ok()
    }
}

pub(crate) fn endpoint(address: &str, port: u16) -> String {
    if address.contains(':') {
        format!("[{address}]:{port}")
    } else {
        format!("{address}:{port}")
    }
}

#[derive(Clone, Debug)]
pub(crate) enum Route {
    /// One node: Remote Administration, XMPP, HTTPS passed through, and HTTP
    /// in "primary" mode. `moved_from` names the primary when a failover moved
    /// the service away from it.
    Single {
        member: Member,
        moved_from: Option<String>,
    },
    /// Every node, a route cookie keeps each browser on one (HTTP, "balanced").
    Sticky { members: Vec<Member> },
    /// Every node, the one with the fewest connections first (mail protocols).
    LeastConn { members: Vec<Member> },
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub service: Service,
    /// The balancer's port.
    pub port: u16,
    pub route: Route,
}

/// Sessions of a failed node move to another one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Move {
    pub from: String,
    pub to: String,
}

#[derive(Clone, Debug)]
pub(crate) struct Model {
    /// The plan file's name, for the header of generated files.
    pub plan_name: String,
    pub primary: String,
    pub node_count: usize,
    pub mode: HttpMode,
    pub cookie: String,
    pub listen: IpAddr,
    pub entries: Vec<Entry>,
    pub failover: Option<Move>,
    /// Every node's name and address, primary first.
    pub addresses: Vec<(String, String)>,
    pub backend_ports: crate::plan::Ports,
}

impl Model {
    /// The routes of a plan; with a failover, the sessions and services of
    /// `from` go to `to` (Remote Administration stays on the primary).
    pub fn build(plan: &Plan, failover: Option<&Move>) -> Result<Model, Problem> {
        let nodes = &plan.nodes;
        let primary = balanced_nodes(plan)?;
        let lb = &plan.load_balancer;
        let moved_from_primary = failover.is_some_and(|m| m.from == primary.name);
        let single_target = match failover {
            Some(m) if moved_from_primary => m.to.as_str(),
            _ => primary.name.as_str(),
        };
        let member = |name: &str, s: Service| -> Member {
            let address = nodes
                .iter()
                .find(|n| n.name == name)
                .map(|n| n.address.clone())
                .unwrap_or_default();
            Member {
                name: name.to_string(),
                address,
                port: lb.backend_ports.get(s),
                down: failover.is_some_and(|m| m.from == name),
            }
        };
        // The primary first: the order balancers try nodes in and people read them in.
        let mut ordered: Vec<&str> = vec![primary.name.as_str()];
        ordered.extend(
            nodes
                .iter()
                .filter(|n| n.role == Role::Secondary)
                .map(|n| n.name.as_str()),
        );
        let all = |s: Service| -> Vec<Member> { ordered.iter().map(|n| member(n, s)).collect() };
        let entries: Vec<Entry> = lb
            .enabled()
            .map(|s| {
                let route = match s {
                    // Configuration changes on a secondary are overwritten by
                    // replication: Remote Administration never leaves the primary.
                    Service::RemoteAdmin => Route::Single {
                        member: Member {
                            down: false,
                            ..member(&primary.name, s)
                        },
                        moved_from: None,
                    },
                    Service::Http if lb.http_mode == HttpMode::Balanced => {
                        Route::Sticky { members: all(s) }
                    }
                    Service::Http | Service::Https | Service::Xmpp => Route::Single {
                        member: member(single_target, s),
                        moved_from: moved_from_primary.then(|| primary.name.clone()),
                    },
                    _ => Route::LeastConn { members: all(s) },
                };
                Entry {
                    service: s,
                    port: lb.ports.get(s),
                    route,
                }
            })
            .collect();
        if entries.is_empty() {
            return Err(Problem::usage(
                "every service is left out (0 in [load_balancer.ports]): there is nothing to balance",
            )
            .at(plan.file.display().to_string())
            .fix("give the services the balancer should carry their ports in [load_balancer.ports], or remove that table for the defaults"));
        }
        Ok(Model {
            plan_name: plan
                .file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| plan.file.display().to_string()),
            primary: primary.name.clone(),
            node_count: nodes.len(),
            mode: lb.http_mode,
            cookie: lb.cookie.clone(),
            listen: lb.listen,
            entries,
            failover: failover.cloned(),
            addresses: ordered
                .iter()
                .map(|n| (n.to_string(), member(n, Service::Http).address))
                .collect(),
            backend_ports: lb.backend_ports,
        })
    }

    /// Where node `name` answers for a service.
    pub(crate) fn endpoint_of(&self, name: &str, s: Service) -> Option<String> {
        self.addresses
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| endpoint(a, self.backend_ports.get(s)))
    }

    /// Where the balancer listens for a service: `address:port`.
    pub fn bind(&self, port: u16) -> String {
        endpoint(&self.listen.to_string(), port)
    }

    /// Values every template block may use.
    pub(crate) fn common_vars(&self) -> Vars {
        let mode = match self.mode {
            HttpMode::Primary => "all Webmail to the primary",
            HttpMode::Balanced => "Webmail on every node, sticky by cookie",
        };
        let failover = match &self.failover {
            Some(m) => format!("; failover: {} -> {}", m.from, m.to),
            None => String::new(),
        };
        Vars::new()
            .set("version", env!("CARGO_PKG_VERSION"))
            .set("plan", crate::text::sanitize(&self.plan_name).into_owned())
            .set("node_count", self.node_count.to_string())
            .set("primary", self.primary.clone())
            .set("mode", self.mode.key())
            .set("mode_text", format!("{mode}{failover}"))
            .set("cookie", self.cookie.clone())
    }
}

/// How long an idle connection of a service may stay open, in minutes.
pub(crate) fn idle_minutes(s: Service) -> u32 {
    match s {
        // ActiveSync's ping requests wait up to 59 minutes for news.
        Service::Http | Service::Https => 60,
        // IMAP clients re-issue IDLE at least every 29 minutes (RFC 2177).
        Service::Imap | Service::Imaps => 35,
        // RFC 5321 lets a server wait 10 minutes for DATA; RFC 1939's
        // autologout timer is at least 10 minutes.
        Service::Smtp | Service::Submission | Service::Pop3 | Service::Pop3s => 10,
        // Chat clients and an administrator's browser sit idle for long stretches.
        Service::Xmpp | Service::RemoteAdmin => 30,
    }
}

/// What a mail service sends first when it is ready: the health checks wait for it.
pub(crate) struct Greeting {
    /// The protocol family, naming the template blocks (`smtp`, `imap`, `pop3`).
    pub protocol: &'static str,
    pub tls: bool,
}

pub(crate) fn greeting(s: Service) -> Option<Greeting> {
    let g = |protocol, tls| Some(Greeting { protocol, tls });
    match s {
        Service::Smtp | Service::Submission => g("smtp", false),
        Service::Imap => g("imap", false),
        Service::Imaps => g("imap", true),
        Service::Pop3 => g("pop3", false),
        Service::Pop3s => g("pop3", true),
        _ => None,
    }
}

/// A node name as the plan spells it, found case-insensitively (Windows
/// computer names are); unknown names are a usage error listing the nodes.
pub(crate) fn resolve_move(plan: &Plan, from: &str, to: &str) -> Result<Move, Problem> {
    let names: Vec<&str> = plan.nodes.iter().map(|n| n.name.as_str()).collect();
    let find = |what: &str, name: &str| -> Result<String, Problem> {
        plan.nodes
            .iter()
            .find(|n| n.name.eq_ignore_ascii_case(name.trim()))
            .map(|n| n.name.clone())
            .ok_or_else(|| {
                Problem::usage(format!(
                    "{what} {}: no node of the plan has that name",
                    crate::text::sanitize(name)
                ))
                .at(plan.file.display().to_string())
                .fix(format!("use one of the plan's nodes: {}", names.join(", ")))
            })
    };
    let from = find("--from", from)?;
    let to = find("--to", to)?;
    if from == to {
        return Err(
            Problem::usage(format!("--from and --to are the same node {from}"))
                .fix("move the sessions of the failed node to another node"),
        );
    }
    Ok(Move { from, to })
}

/// The plan's primary, when the plan has at least one secondary too and
/// every node its own address (a balancer could not tell two apart).
fn balanced_nodes(plan: &Plan) -> Result<&crate::plan::Node, Problem> {
    let nodes = &plan.nodes;
    let primary = match (nodes.len(), plan.primary()) {
        (n, Some(p)) if n >= 2 => p,
        (n, _) => {
            return Err(Problem::usage(format!(
                "the plan has {n} node(s); a load balancer needs the primary and at least one secondary"
            ))
            .at(plan.file.display().to_string())
            .fix("add the secondaries to the plan as [[nodes]] (name, address, role = \"secondary\"), then run `mdcluster lb` again"));
        }
    };
    for (i, a) in nodes.iter().enumerate() {
        if let Some(b) = nodes[..i]
            .iter()
            .find(|b| b.address.eq_ignore_ascii_case(&a.address))
        {
            return Err(Problem::usage(format!(
                "nodes {} and {} have the same address {}; a balancer could not tell them apart",
                b.name, a.name, a.address
            ))
            .at(plan.file.display().to_string())
            .fix("give every node its own address in the plan's [[nodes]]"));
        }
    }
    Ok(primary)
}
