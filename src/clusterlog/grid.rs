//! The verification grid: per node, six checks (reachable, registered,
//! connected, replicating, clock, time zone), each a cell with a state, a
//! short word and the detail, computed from what the cluster log confirms.

use super::confirm::{NodeLog, NodeSpec, Seen};
use serde::Serialize;

/// The checks per node, in grid order.
pub(crate) const CHECKS: [&str; 6] = [
    "reachable",
    "registered",
    "connected",
    "replicating",
    "clock",
    "time-zone",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckState {
    Pass,
    Warning,
    Waiting,
    Fail,
}

/// One cell of the grid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cell {
    pub state: CheckState,
    pub short: &'static str,
    pub detail: String,
}

impl Cell {
    pub fn new(state: CheckState, short: &'static str, detail: impl Into<String>) -> Cell {
        Cell {
            state,
            short,
            detail: detail.into(),
        }
    }
}

/// How a secondary's address was checked (once, at the start).
pub fn resolve(address: &str) -> Cell {
    use std::net::ToSocketAddrs;
    if address.is_empty() {
        return Cell::new(CheckState::Waiting, "unknown", "no address known");
    }
    match (address, 0u16).to_socket_addrs() {
        Ok(mut addrs) => match addrs.next() {
            Some(a) => Cell::new(
                CheckState::Pass,
                "resolves",
                format!(
                    "{address} resolves to {}; not contacted (mdcluster does not probe nodes: the log shows whether MDaemon reaches it)",
                    a.ip()
                ),
            ),
            None => Cell::new(CheckState::Fail, "no", format!("{address} does not resolve")),
        },
        Err(e) => Cell::new(
            CheckState::Fail,
            "no",
            format!("{address} does not resolve: {e}"),
        ),
    }
}

fn from_log(latest: &Option<(bool, Seen)>, bad: &'static str, none: &str) -> Cell {
    match latest {
        Some((true, s)) => Cell::new(CheckState::Pass, "yes", s.describe()),
        Some((false, s)) => Cell::new(CheckState::Fail, bad, s.describe()),
        None => Cell::new(CheckState::Waiting, "waiting", none),
    }
}

fn warning(seen: &Option<Seen>, what: &str) -> Cell {
    match seen {
        Some(s) => Cell::new(CheckState::Warning, "WARNING", s.describe()),
        None => Cell::new(
            CheckState::Pass,
            "ok",
            format!("no {what} warning in the log"),
        ),
    }
}

/// The cells of one node's row.
pub fn row(node: &NodeSpec, log: &NodeLog, reach: &Cell, log_found: bool) -> [Cell; 6] {
    if node.primary {
        let writes = |what: &str| {
            if log_found {
                Cell::new(
                    CheckState::Pass,
                    "primary",
                    format!("the primary writes the cluster log; it {what}"),
                )
            } else {
                Cell::new(CheckState::Waiting, "no log", "no cluster log found yet")
            }
        };
        return [
            Cell::new(
                CheckState::Pass,
                "here",
                "this machine: the cluster log is read here",
            ),
            Cell::new(CheckState::Pass, "primary", "the primary of the cluster"),
            writes("connects to the secondaries"),
            writes("replicates to the secondaries"),
            warning(&log.clock, "clock"),
            warning(&log.time_zone, "time-zone"),
        ];
    }
    let reachable = if log.seen() {
        Cell::new(
            CheckState::Pass,
            "log",
            "named in the cluster log: MDaemon on the primary talks to it",
        )
    } else {
        reach.clone()
    };
    [
        reachable,
        Cell::new(
            CheckState::Pass,
            "yes",
            "in the cluster manifest, its registration in MDaemon confirmed",
        ),
        from_log(
            &log.connection,
            "lost",
            "no connection to it in the cluster log yet",
        ),
        from_log(
            &log.replication,
            "failed",
            "no completed replication to it in the cluster log yet",
        ),
        warning(&log.clock, "clock"),
        warning(&log.time_zone, "time-zone"),
    ]
}
