//! Which events say something about a node: the profile's `[cluster_log]`
//! patterns (regular expressions matched without case, each naming the node
//! in a group `node`), tried in a fixed order so that a line naming a failed
//! replication is never read as a connection.

use crate::problem::Problem;
use crate::profile::ClusterLog;
use regex::{Regex, RegexBuilder};
use serde::Serialize;

/// What an event says about a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Connected,
    Disconnected,
    ReplicationDone,
    ReplicationError,
    ClockWarning,
    TimeZoneWarning,
}

impl Kind {
    fn from_key(key: &str) -> Option<Kind> {
        Some(match key {
            "connected" => Kind::Connected,
            "disconnected" => Kind::Disconnected,
            "replication_done" => Kind::ReplicationDone,
            "replication_error" => Kind::ReplicationError,
            "clock_warning" => Kind::ClockWarning,
            "time_zone_warning" => Kind::TimeZoneWarning,
            _ => return None,
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::Connected => "connected",
            Kind::Disconnected => "disconnected",
            Kind::ReplicationDone => "replication-done",
            Kind::ReplicationError => "replication-error",
            Kind::ClockWarning => "clock-warning",
            Kind::TimeZoneWarning => "time-zone-warning",
        }
    }
}

/// A matched event: what it says, and about which node (as written).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Matched {
    pub kind: Kind,
    pub node: String,
}

pub struct Matcher {
    rules: Vec<(Kind, Regex)>,
}

impl Matcher {
    pub fn new(patterns: &ClusterLog) -> Result<Matcher, Problem> {
        let mut rules = Vec::new();
        for (key, pattern) in patterns.patterns() {
            let re = RegexBuilder::new(&pattern.value)
                .case_insensitive(true)
                .build()
                .map_err(|e| {
                    Problem::usage(format!(
                        "invalid profile: cluster_log.{key} is not a valid regular expression: {e}"
                    ))
                })?;
            if let Some(kind) = Kind::from_key(key) {
                rules.push((kind, re));
            }
        }
        Ok(Matcher { rules })
    }

    /// The first pattern that matches `text` and names a node.
    pub fn find(&self, text: &str) -> Option<Matched> {
        self.rules.iter().find_map(|(kind, re)| {
            let node = re.captures(text)?.name("node")?.as_str();
            (!node.is_empty()).then(|| Matched {
                kind: *kind,
                node: node.to_string(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profile;

    fn matcher() -> Matcher {
        Matcher::new(&Profile::builtin().cluster_log()).unwrap()
    }

    fn m(text: &str) -> Option<(Kind, String)> {
        matcher().find(text).map(|m| (m.kind, m.node))
    }

    #[test]
    fn the_contract_texts_match() {
        let cases = [
            (
                "Cluster service: connected to MAIL2 (server ID 2)",
                Kind::Connected,
            ),
            (
                "Cluster service: lost connection to MAIL2",
                Kind::Disconnected,
            ),
            (
                "Cluster service: replication to MAIL2 complete (14 items)",
                Kind::ReplicationDone,
            ),
            (
                "Cluster service: replication to MAIL2 failed: access denied (connected to share)",
                Kind::ReplicationError,
            ),
            (
                "Cluster service: clock of MAIL2 differs from this server by 3.5 seconds",
                Kind::ClockWarning,
            ),
            (
                "Cluster service: time zone of MAIL2 differs from this server",
                Kind::TimeZoneWarning,
            ),
        ];
        for (text, kind) in cases {
            assert_eq!(m(text), Some((kind, "MAIL2".to_string())), "{text}");
        }
    }

    #[test]
    fn variants_match_too() {
        assert_eq!(
            m("CLUSTER SERVICE: CONNECTED TO mail3.example.com (server id 3)"),
            Some((Kind::Connected, "mail3.example.com".into()))
        );
        assert_eq!(
            m("Cluster: connection established with server MAIL-4."),
            Some((Kind::Connected, "MAIL-4".into()))
        );
        assert_eq!(
            m("Cluster service: disconnected from MAIL2"),
            Some((Kind::Disconnected, "MAIL2".into()))
        );
        assert_eq!(
            m("Cluster service: replication with \"MAIL2\" completed"),
            Some((Kind::ReplicationDone, "MAIL2".into()))
        );
        assert_eq!(
            m("Cluster service: replication to MAIL2 has failed"),
            Some((Kind::ReplicationError, "MAIL2".into()))
        );
        assert_eq!(
            m("Cluster service: timezone of MAIL2 is different"),
            Some((Kind::TimeZoneWarning, "MAIL2".into()))
        );
    }

    #[test]
    fn other_text_does_not_match() {
        for text in [
            "Cluster service: starting",
            "Cluster service: replication to MAIL2 started",
            "SMTP: connected",
            "Cluster service: clock of MAIL2 is fine",
            "",
        ] {
            assert_eq!(m(text), None, "{text}");
        }
    }
}
