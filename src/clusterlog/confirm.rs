//! Per node, what the cluster log confirms: connected (the latest connection
//! event is a connection, not a loss), replicating (the latest replication
//! event is a completed one, not a failure), and the clock and time-zone
//! warnings (kept once seen: they are reported even when all else passes).

use super::{Event, Kind, Matched};
use serde::Serialize;
use std::collections::BTreeMap;

/// A node whose confirmation is awaited.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeSpec {
    pub name: String,
    pub address: String,
    pub primary: bool,
}

/// One event as remembered: when and what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Seen {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    pub text: String,
}

impl Seen {
    fn of(e: &Event) -> Seen {
        let mut text = e.text.clone();
        if text.len() > 300 {
            let mut end = 300;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
            text.push('…');
        }
        Seen {
            time: e.time.clone(),
            text,
        }
    }

    /// `at TIME: text`, for notes.
    pub fn describe(&self) -> String {
        match &self.time {
            Some(t) => format!("{t}: {}", self.text),
            None => self.text.clone(),
        }
    }
}

/// What the log says about one node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NodeLog {
    /// Latest connection event: true connected, false lost.
    pub connection: Option<(bool, Seen)>,
    /// Latest replication event: true complete, false failed.
    pub replication: Option<(bool, Seen)>,
    pub clock: Option<Seen>,
    pub time_zone: Option<Seen>,
}

impl NodeLog {
    pub fn seen(&self) -> bool {
        self.connection.is_some()
            || self.replication.is_some()
            || self.clock.is_some()
            || self.time_zone.is_some()
    }
    pub fn connected(&self) -> bool {
        matches!(self.connection, Some((true, _)))
    }
    pub fn replicating(&self) -> bool {
        matches!(self.replication, Some((true, _)))
    }
}

/// The awaited nodes and what the log said about each.
#[derive(Clone, Debug, Default)]
pub struct Confirmations {
    pub nodes: Vec<(NodeSpec, NodeLog)>,
    /// Events about nodes not awaited, by name as written (counted).
    pub others: BTreeMap<String, usize>,
}

impl Confirmations {
    pub fn new(nodes: &[NodeSpec]) -> Confirmations {
        Confirmations {
            nodes: nodes
                .iter()
                .map(|n| (n.clone(), NodeLog::default()))
                .collect(),
            others: BTreeMap::new(),
        }
    }

    /// Take a matched event in; returns the index of the node it was about.
    pub fn apply(&mut self, event: &Event, m: &Matched) -> Option<usize> {
        let Some(i) = self.nodes.iter().position(|(n, _)| same_node(n, &m.node)) else {
            if self.others.len() < 1000 || self.others.contains_key(&m.node) {
                *self.others.entry(m.node.clone()).or_default() += 1;
            }
            return None;
        };
        let log = &mut self.nodes[i].1;
        let seen = Seen::of(event);
        match m.kind {
            Kind::Connected => log.connection = Some((true, seen)),
            Kind::Disconnected => log.connection = Some((false, seen)),
            Kind::ReplicationDone => log.replication = Some((true, seen)),
            Kind::ReplicationError => log.replication = Some((false, seen)),
            Kind::ClockWarning => log.clock = Some(seen),
            Kind::TimeZoneWarning => log.time_zone = Some(seen),
        }
        Some(i)
    }

    /// What is missing, one sentence per node and confirmation, e.g.
    /// `MAIL2: not connected`. The primary writes the log: it needs none.
    pub fn missing(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (n, log) in self.nodes.iter().filter(|(n, _)| !n.primary) {
            match &log.connection {
                Some((true, _)) => {}
                Some((false, s)) => out.push(format!(
                    "{}: not connected (the log says, at {}: {})",
                    n.name,
                    s.time.as_deref().unwrap_or("?"),
                    s.text
                )),
                None => out.push(format!(
                    "{}: not connected (no connection to it in the cluster log)",
                    n.name
                )),
            }
            match &log.replication {
                Some((true, _)) => {}
                Some((false, s)) => out.push(format!(
                    "{}: not replicating (the log says, at {}: {})",
                    n.name,
                    s.time.as_deref().unwrap_or("?"),
                    s.text
                )),
                None => out.push(format!(
                    "{}: not replicating (no completed replication to it in the cluster log)",
                    n.name
                )),
            }
        }
        out
    }

    /// Clock and time-zone warnings, one sentence each.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (n, log) in &self.nodes {
            if let Some(s) = &log.clock {
                out.push(format!("{}: clock warning: {}", n.name, s.describe()));
            }
            if let Some(s) = &log.time_zone {
                out.push(format!("{}: time-zone warning: {}", n.name, s.describe()));
            }
        }
        out
    }

    pub(crate) fn all_confirmed(&self) -> bool {
        self.nodes.iter().any(|(n, _)| !n.primary) && self.missing().is_empty()
    }
}

/// A name in the log means this node: its name, its address, or a host name
/// whose first label is its name (without case).
fn same_node(n: &NodeSpec, written: &str) -> bool {
    let first = written.split('.').next().unwrap_or(written);
    written.eq_ignore_ascii_case(&n.name)
        || first.eq_ignore_ascii_case(&n.name)
        || (!n.address.is_empty() && written.eq_ignore_ascii_case(&n.address))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(text: &str) -> Event {
        Event {
            time: Some("2026-11-22 10:15:02.117".into()),
            severity: None,
            text: text.into(),
            raw: text.into(),
            format: super::super::Format::Classic,
        }
    }

    fn spec(name: &str, primary: bool) -> NodeSpec {
        NodeSpec {
            name: name.into(),
            address: format!("10.0.0.{}", name.len()),
            primary,
        }
    }

    #[test]
    fn latest_event_decides() {
        let mut c = Confirmations::new(&[spec("MAIL1", true), spec("MAIL2", false)]);
        assert_eq!(
            c.missing(),
            [
                "MAIL2: not connected (no connection to it in the cluster log)",
                "MAIL2: not replicating (no completed replication to it in the cluster log)"
            ]
        );
        let m = |kind, node: &str| Matched {
            kind,
            node: node.into(),
        };
        assert_eq!(
            c.apply(&ev("x"), &m(Kind::Connected, "mail2.example.com")),
            Some(1)
        );
        assert_eq!(
            c.apply(&ev("y"), &m(Kind::ReplicationDone, "MAIL2")),
            Some(1)
        );
        assert!(c.all_confirmed());
        assert_eq!(
            c.apply(&ev("lost"), &m(Kind::Disconnected, "MAIL2")),
            Some(1)
        );
        assert!(c.missing()[0].starts_with("MAIL2: not connected (the log says"));
        c.apply(&ev("back"), &m(Kind::Connected, "MAIL2"));
        c.apply(&ev("clock"), &m(Kind::ClockWarning, "MAIL2"));
        assert!(c.all_confirmed());
        assert_eq!(c.warnings().len(), 1);
        assert_eq!(c.apply(&ev("z"), &m(Kind::Connected, "MAIL9")), None);
        assert_eq!(c.others.get("MAIL9"), Some(&1));
        c.apply(&ev("failed"), &m(Kind::ReplicationError, "MAIL2"));
        assert_eq!(c.missing().len(), 1);
        assert!(c.missing()[0].starts_with("MAIL2: not replicating"));
    }

    #[test]
    fn a_primary_alone_is_not_a_confirmed_cluster() {
        let c = Confirmations::new(&[spec("MAIL1", true)]);
        assert!(c.missing().is_empty());
        assert!(!c.all_confirmed());
    }
}
