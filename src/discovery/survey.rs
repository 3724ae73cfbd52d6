//! A survey of candidate nodes: what answered on the LAN (or was entered by
//! hand), whether it can be trusted, and how it fares against every rule.
//! Shared by `mdcluster discover`, `apply` and the wizard.

use super::Sighting;
use crate::cluster::facts::Facts;
use crate::cluster::pairing::{JoinCode, Untrusted};
use crate::cluster::rules::{self, Subnet, Verdict};
use serde::Serialize;
use std::net::{IpAddr, ToSocketAddrs};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    Mdns,
    Manual,
}

/// Why an address in [`NodeReport::unsigned_addresses`] is not the node's.
pub(crate) const UNSIGNED_ADDRESS: &str = "not in its signed announcement: only an unsigned mDNS address record gives it (anyone on the LAN can send one)";

/// One candidate node.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeReport {
    pub name: String,
    /// Its addresses: for a trusted node only those its signed announcement
    /// gives (and the mDNS records confirm).
    pub addresses: Vec<IpAddr>,
    /// Addresses the mDNS records give for a trusted node's host name that its
    /// signed announcement does not: ignored, only listed ([`UNSIGNED_ADDRESS`]).
    pub unsigned_addresses: Vec<IpAddr>,
    pub source: Source,
    pub trusted: bool,
    /// Why it is not trusted, when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub untrusted: Option<String>,
    /// The facts it announced (only from a trusted announcement).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facts: Option<Facts>,
    pub rules: Vec<Verdict>,
}

impl NodeReport {
    /// It may join: trusted (or entered by hand) and no rule blocks.
    pub fn addable(&self) -> bool {
        (self.trusted || self.source == Source::Manual) && !self.rules.iter().any(Verdict::blocks)
    }

    pub(crate) fn blocking(&self) -> Vec<&Verdict> {
        self.rules.iter().filter(|v| v.blocks()).collect()
    }

    /// The address to put in the plan for it: one of [`NodeReport::addresses`],
    /// so for a node found by mDNS one it signed, never one only an unsigned
    /// record gives. Empty when there is none.
    pub(crate) fn plan_address(&self) -> String {
        self.addresses
            .first()
            .map(ToString::to_string)
            .unwrap_or_default()
    }
}

/// What the primary needs to judge candidates: its own facts, networks, the
/// licences of the cluster's members and the join code.
pub(crate) struct PrimaryView {
    pub facts: Facts,
    pub networks: Vec<Subnet>,
    pub members: Vec<(String, String)>,
    pub code: Option<JoinCode>,
}

impl PrimaryView {
    /// Read the primary's side: facts of the installation at `root`, the
    /// networks in `scope`, the manifest on `share`, and the join code (the
    /// one given, else the one issued here).
    pub(crate) fn gather(
        profile: &crate::profile::Profile,
        root: &std::path::Path,
        share: Option<&std::path::Path>,
        name: &str,
        scope: &crate::discovery::Scope,
        code: Option<JoinCode>,
        certificates: &crate::cluster::facts::CertificateStore,
    ) -> Result<PrimaryView, crate::problem::Problem> {
        let facts = crate::cluster::facts::collect(
            root,
            profile,
            name,
            scope.addresses(),
            share,
            certificates,
        );
        let members = match share.filter(|s| s.is_dir()) {
            Some(s) => crate::cluster::manifest::Manifest::load(s)?
                .map(|m| {
                    m.nodes
                        .into_iter()
                        .filter_map(|n| n.licence.map(|l| (n.name, l)))
                        .collect()
                })
                .unwrap_or_default(),
            None => Vec::new(),
        };
        let code = code.or_else(|| {
            crate::cluster::pairing::current_code(&root.join(crate::fsops::state_dir::STATE_DIR))
        });
        Ok(PrimaryView {
            facts,
            networks: scope.networks(),
            members,
            code,
        })
    }

    pub fn judge<'a>(&'a self, ignore: &'a [rules::RuleId]) -> Judge<'a> {
        Judge {
            primary: &self.facts,
            code: self.code.as_ref(),
            now_ms: crate::cluster::facts::now_ms(),
            networks: &self.networks,
            members: &self.members,
            ignore,
        }
    }
}

/// Everything needed to judge candidates.
pub struct Judge<'a> {
    pub primary: &'a Facts,
    pub code: Option<&'a JoinCode>,
    pub now_ms: i64,
    pub networks: &'a [Subnet],
    /// Licence fingerprints of nodes already in the cluster (name, fingerprint).
    pub members: &'a [(String, String)],
    pub ignore: &'a [rules::RuleId],
}

impl Judge<'_> {
    pub fn sighting(&self, s: &Sighting, others: &[NodeReport]) -> NodeReport {
        let name = s.name();
        match s.trust(self.code, self.now_ms) {
            Ok(a) => {
                let (addresses, unsigned_addresses) = s.signed_and_unsigned(a);
                let licences = self.licences_except(&a.facts.name, others);
                let rules = rules::check(
                    self.primary,
                    &a.facts,
                    &licences,
                    self.networks,
                    self.ignore,
                );
                NodeReport {
                    name,
                    addresses,
                    unsigned_addresses,
                    source: Source::Mdns,
                    trusted: true,
                    untrusted: None,
                    facts: Some(a.facts.clone()),
                    rules,
                }
            }
            Err(why) => NodeReport {
                name,
                addresses: s.addresses.iter().copied().collect(),
                unsigned_addresses: Vec::new(),
                source: Source::Mdns,
                trusted: false,
                untrusted: Some(why.to_string()),
                facts: None,
                rules: Vec::new(),
            },
        }
    }

    /// A node entered by hand (NetBIOS name, IP or DNS name): resolved, and
    /// judged with what can be known without its announcement.
    pub fn manual(&self, host: &str) -> NodeReport {
        let addresses = resolve(host);
        let facts = Facts {
            name: host.split('.').next().unwrap_or(host).to_uppercase(),
            addresses: addresses.clone(),
            ..Facts::default()
        };
        let mut rules = rules::check(self.primary, &facts, &[], self.networks, self.ignore);
        if addresses.is_empty() {
            rules.insert(
                0,
                Verdict {
                    rule: rules::RuleId::Address,
                    level: rules::Level::Fail,
                    detail: format!("{host} does not resolve to an address"),
                },
            );
        }
        NodeReport {
            name: facts.name.clone(),
            addresses,
            unsigned_addresses: Vec::new(),
            source: Source::Manual,
            trusted: false,
            untrusted: Some(Untrusted::Unsigned.to_string()),
            facts: None,
            rules,
        }
    }

    fn licences_except(&self, name: &str, others: &[NodeReport]) -> Vec<String> {
        self.members
            .iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case(name))
            .map(|(_, l)| l.clone())
            .chain(
                others
                    .iter()
                    .filter(|o| !o.name.eq_ignore_ascii_case(name))
                    .filter_map(|o| o.facts.as_ref().and_then(|f| f.licence.clone())),
            )
            .collect()
    }

    /// Judge every sighting (in a stable order) and the hand-entered hosts.
    pub fn all(&self, sightings: &[&Sighting], manual: &[String]) -> Vec<NodeReport> {
        let manual = manual.iter().map(|h| self.manual(h)).collect();
        self.all_with(sightings, manual)
    }

    /// Like [`Judge::all`], with the hand-entered hosts judged already (they
    /// are resolved once, not on every look). A host that turns out to be a
    /// node announcing itself with a valid signature is that node.
    pub(crate) fn all_with(
        &self,
        sightings: &[&Sighting],
        manual: Vec<NodeReport>,
    ) -> Vec<NodeReport> {
        let mut out: Vec<NodeReport> = Vec::new();
        for s in sightings {
            let report = self.sighting(s, &out);
            out.push(report);
        }
        // Judge again with every other candidate known (licences used twice).
        let first = out.clone();
        let mut out: Vec<NodeReport> = sightings.iter().map(|s| self.sighting(s, &first)).collect();
        let announced = |m: &NodeReport| {
            out.iter().any(|r| {
                r.trusted
                    && (r.name.eq_ignore_ascii_case(&m.name)
                        || r.addresses.iter().any(|a| m.addresses.contains(a)))
            })
        };
        let manual: Vec<NodeReport> = manual.into_iter().filter(|m| !announced(m)).collect();
        out.extend(manual);
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }
}

fn resolve(host: &str) -> Vec<IpAddr> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return vec![ip];
    }
    if crate::plan::check_address(host).is_err() {
        return Vec::new();
    }
    let mut out: Vec<IpAddr> = (host, 0u16)
        .to_socket_addrs()
        .map(|it| it.map(|a| a.ip()).collect())
        .unwrap_or_default();
    out.sort();
    out.dedup();
    out.truncate(8);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::pairing::Announcement;
    use std::time::Instant;

    const NOW: i64 = 1_000_000;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// MAIL2, signing 10.0.0.12 with `code`; its host name resolved to `resolved`.
    fn mail2(code: &JoinCode, resolved: &[&str]) -> Sighting {
        let facts = Facts {
            name: "MAIL2".into(),
            addresses: vec![ip("10.0.0.12")],
            ..Facts::default()
        };
        Sighting {
            fullname: "MAIL2._mdcluster._tcp.local.".into(),
            addresses: resolved.iter().map(|a| ip(a)).collect(),
            announcement: Ok(Announcement::sign(facts, NOW, code)),
            first_seen: Instant::now(),
            updated: Instant::now(),
        }
    }

    #[test]
    fn only_signed_addresses_are_a_trusted_nodes_and_the_rest_is_listed_apart() {
        let code = JoinCode::generate();
        let primary = Facts::default();
        // Every rule ignored: the node is addable, so what the wizard would
        // put in the plan is known.
        let ignore = rules::RULES;
        let judge = Judge {
            primary: &primary,
            code: Some(&code),
            now_ms: NOW,
            networks: &[],
            members: &[],
            ignore: &ignore,
        };
        // 10.0.0.9 (an unsigned A record) sorts first: the first address
        // seen would be the forged one.
        let s = mail2(&code, &["10.0.0.9", "10.0.0.12", "2001:db8::9"]);
        let r = judge.sighting(&s, &[]);
        assert!(r.trusted && r.addable(), "{r:?}");
        assert_eq!(r.addresses, vec![ip("10.0.0.12")]);
        assert_eq!(
            r.unsigned_addresses,
            vec![ip("10.0.0.9"), ip("2001:db8::9")]
        );
        assert_eq!(
            r.plan_address(),
            "10.0.0.12",
            "the wizard adds the signed one"
        );
        assert!(r.facts.is_some());

        // A host entered by hand at the unsigned address is not taken for
        // MAIL2 (the trusted node does not own that address).
        let all = judge.all_with(&[&s], vec![judge.manual("10.0.0.9")]);
        assert_eq!(all.len(), 2, "{all:?}");
        assert!(all
            .iter()
            .any(|m| m.source == Source::Manual && m.addresses == vec![ip("10.0.0.9")]));

        // Only the unsigned address resolved: not trusted at all.
        let r = judge.sighting(&mail2(&code, &["10.0.0.9"]), &[]);
        assert!(!r.trusted && !r.addable(), "{r:?}");
        assert!(r.untrusted.unwrap().contains("signed addresses"));

        // Untrusted (another code): every address is listed, as untrusted as the node.
        let r = judge.sighting(
            &mail2(&JoinCode::generate(), &["10.0.0.9", "10.0.0.12"]),
            &[],
        );
        assert!(!r.trusted && !r.addable(), "{r:?}");
        assert_eq!(r.addresses, vec![ip("10.0.0.9"), ip("10.0.0.12")]);
        assert!(r.unsigned_addresses.is_empty());
        assert!(r.facts.is_none());
    }
}
