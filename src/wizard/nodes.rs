//! The wizard's view of the cluster's nodes: what the manifest holds, what
//! the plan adds, and what discovery found, merged into one table (steps 6-9).
//! Pure: built from the app's state, drawn by `view`.

use super::answers::Answers;
use crate::cluster::manifest::Manifest;
use crate::cluster::rules::Level;
use crate::discovery::survey::{NodeReport, Source};
use crate::plan::Role;
use crate::plan::ServerId;

/// Where a node stands, for the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Standing {
    /// The primary (this machine).
    Primary,
    /// In the manifest and confirmed registered in MDaemon.
    Registered,
    /// In the manifest; its registration in MDaemon is not confirmed yet.
    AwaitingRegistration,
    /// In the plan; found, trusted, meets the rules: apply adds it.
    Ready,
    /// In the plan, but found with a blocking rule, or untrusted.
    Blocked(String),
    /// In the plan, not found on the network yet.
    NotFound,
    /// Found, not in the plan: may be added.
    Addable,
    /// Found, not in the plan, and cannot be added.
    CannotJoin(String),
}

impl Standing {
    pub fn text(&self) -> String {
        match self {
            Standing::Primary => "primary".into(),
            Standing::Registered => "in the cluster".into(),
            Standing::AwaitingRegistration => "register it in MDaemon".into(),
            Standing::Ready => "ready: apply adds it".into(),
            Standing::Blocked(why) => format!("blocked: {why}"),
            Standing::NotFound => "not found yet".into(),
            Standing::Addable => "can join: Enter adds it".into(),
            Standing::CannotJoin(why) => format!("cannot join: {why}"),
        }
    }

    /// Good (green), waiting (yellow) or bad (red), for colour.
    pub(crate) fn tone(&self) -> Tone {
        match self {
            Standing::Primary | Standing::Registered | Standing::Ready | Standing::Addable => {
                Tone::Good
            }
            Standing::AwaitingRegistration | Standing::NotFound => Tone::Waiting,
            Standing::Blocked(_) | Standing::CannotJoin(_) => Tone::Bad,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tone {
    Good,
    Waiting,
    Bad,
}

/// One row of the nodes table.
#[derive(Clone, Debug)]
pub(crate) struct NodeRow {
    pub name: String,
    pub addresses: String,
    pub server_id: Option<ServerId>,
    pub standing: Standing,
    /// What discovery says about it (rules, facts), when it was found.
    pub report: Option<NodeReport>,
}

/// Why a report cannot join, in a few words.
fn why_not(r: &NodeReport) -> String {
    if !r.trusted && r.source == Source::Mdns {
        return format!("not trusted ({})", r.untrusted.clone().unwrap_or_default());
    }
    let blocking: Vec<&str> = r
        .rules
        .iter()
        .filter(|v| matches!(v.level, Level::Fail | Level::Unknown))
        .map(|v| v.rule.as_str())
        .collect();
    if blocking.is_empty() {
        "not signed (entered by hand): start `mdcluster join` on it".into()
    } else {
        blocking.join(", ")
    }
}

fn find<'a>(reports: &'a [NodeReport], name: &str) -> Option<&'a NodeReport> {
    reports.iter().find(|r| r.name.eq_ignore_ascii_case(name))
}

/// The table: the manifest's nodes (primary first), the plan's new
/// secondaries, then what was found and is in neither.
pub(crate) fn rows(
    answers: &Answers,
    manifest: Option<&Manifest>,
    reports: &[NodeReport],
) -> Vec<NodeRow> {
    let mut out: Vec<NodeRow> = Vec::new();
    let seen = |out: &[NodeRow], name: &str| out.iter().any(|r| r.name.eq_ignore_ascii_case(name));
    let addresses_of = |r: Option<&NodeReport>, fallback: &str| match r {
        Some(r) if !r.addresses.is_empty() => r
            .addresses
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        _ => fallback.to_string(),
    };
    out.push(NodeRow {
        name: answers.node_name.trim().to_uppercase(),
        addresses: answers.node_address.trim().to_string(),
        server_id: manifest
            .and_then(|m| m.member(answers.node_name.trim()))
            .map(|m| m.server_id)
            .or_else(|| {
                answers
                    .server_id
                    .trim()
                    .parse()
                    .ok()
                    .and_then(ServerId::new)
            }),
        standing: Standing::Primary,
        report: None,
    });
    if let Some(m) = manifest {
        for n in m.nodes.iter().filter(|n| n.role == Role::Secondary) {
            let r = find(reports, &n.name);
            out.push(NodeRow {
                name: n.name.clone(),
                addresses: addresses_of(r, &n.address),
                server_id: Some(n.server_id),
                standing: if n.registered.is_some() {
                    Standing::Registered
                } else {
                    Standing::AwaitingRegistration
                },
                report: r.cloned(),
            });
        }
    }
    for s in &answers.secondaries {
        if seen(&out, &s.name) {
            continue;
        }
        let r = find(reports, &s.name);
        let standing = match r {
            None => Standing::NotFound,
            Some(r) if r.addable() => Standing::Ready,
            Some(r) => Standing::Blocked(why_not(r)),
        };
        out.push(NodeRow {
            name: s.name.clone(),
            addresses: addresses_of(r, &s.address),
            server_id: s.server_id,
            standing,
            report: r.cloned(),
        });
    }
    for r in reports {
        if seen(&out, &r.name) {
            continue;
        }
        out.push(NodeRow {
            name: r.name.clone(),
            addresses: addresses_of(Some(r), ""),
            server_id: None,
            standing: if r.addable() {
                Standing::Addable
            } else {
                Standing::CannotJoin(why_not(r))
            },
            report: Some(r.clone()),
        });
    }
    out
}

/// What the plan's secondaries look like to the engine: a change here
/// (found, trusted, a rule's verdict) calls for a fresh preview.
pub fn fingerprint(answers: &Answers, reports: &[NodeReport]) -> String {
    let mut parts = Vec::new();
    for s in &answers.secondaries {
        match find(reports, &s.name) {
            None => parts.push(format!("{}:-", s.name)),
            Some(r) => {
                let levels: Vec<String> = r
                    .rules
                    .iter()
                    .map(|v| format!("{}={:?}", v.rule, v.level))
                    .collect();
                let addrs: Vec<String> = r.addresses.iter().map(ToString::to_string).collect();
                parts.push(format!(
                    "{}:{}:{}:{}",
                    s.name,
                    r.trusted,
                    addrs.join(","),
                    levels.join(",")
                ));
            }
        }
    }
    parts.join("|")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::rules::{RuleId, Verdict};
    use crate::wizard::answers::Secondary;

    fn report(name: &str, trusted: bool, fail: Option<RuleId>) -> NodeReport {
        NodeReport {
            name: name.into(),
            addresses: vec!["192.0.2.12".parse().unwrap()],
            unsigned_addresses: Vec::new(),
            source: Source::Mdns,
            trusted,
            untrusted: (!trusted).then(|| "the signature does not match the join code".into()),
            facts: None,
            rules: fail
                .map(|rule| {
                    vec![Verdict {
                        rule,
                        level: Level::Fail,
                        detail: "x".into(),
                    }]
                })
                .unwrap_or_default(),
        }
    }

    fn answers(secondaries: &[&str]) -> Answers {
        let mut a = Answers::fresh(
            std::path::Path::new("/nonexistent"),
            &crate::profile::Profile::builtin(),
        );
        a.node_name = "MAIL1".into();
        a.secondaries = secondaries
            .iter()
            .map(|n| Secondary {
                name: n.to_string(),
                address: "192.0.2.12".into(),
                server_id: None,
                replaces: None,
            })
            .collect();
        a
    }

    #[test]
    fn rows_merge_manifest_plan_and_discovery() {
        let a = answers(&["MAIL2", "MAIL3", "MAIL4"]);
        let reports = vec![
            report("MAIL3", true, None),
            report("MAIL4", true, Some(RuleId::Version)),
            report("MAIL5", true, None),
            report("EVIL", false, None),
        ];
        let rows = rows(&a, None, &reports);
        let by = |n: &str| rows.iter().find(|r| r.name == n).unwrap().standing.clone();
        assert_eq!(rows[0].standing, Standing::Primary);
        assert_eq!(by("MAIL2"), Standing::NotFound);
        assert_eq!(by("MAIL3"), Standing::Ready);
        assert_eq!(by("MAIL4"), Standing::Blocked("version".into()));
        assert_eq!(by("MAIL5"), Standing::Addable);
        assert!(matches!(by("EVIL"), Standing::CannotJoin(w) if w.contains("not trusted")));
    }

    #[test]
    fn the_fingerprint_changes_only_with_what_the_engine_judges() {
        let a = answers(&["MAIL2"]);
        let one = fingerprint(&a, &[report("MAIL2", true, None)]);
        assert_eq!(
            one,
            fingerprint(
                &a,
                &[report("MAIL2", true, None), report("MAIL9", true, None)]
            )
        );
        assert_ne!(
            one,
            fingerprint(&a, &[report("MAIL2", true, Some(RuleId::Clock))])
        );
        assert_ne!(one, fingerprint(&a, &[]));
    }
}
