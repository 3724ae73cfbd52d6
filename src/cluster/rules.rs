//! The rules a node must meet before it joins, from MDaemon's Cluster Service
//! page: same version, same time zone, clocks within a second, its own
//! licence, every certificate the primary uses, no attachment linking, no
//! automatic update installation, no domain IP binding, the shared path
//! writable, the same LAN (a warning), Let's Encrypt on the primary (a warning).
//!
//! A failed rule blocks adding the node unless the administrator names it in
//! `--ignore RULE`; warnings never block; "unknown" (a fact that cannot be
//! read) blocks like a failure, since nothing was checked.

use super::facts::Facts;
use serde::Serialize;
use std::net::IpAddr;

/// A rule's id: what `--ignore` names, what the JSON and the screens show
/// (kebab-case: `time-zone`, `attachment-linking`, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum RuleId {
    Version,
    TimeZone,
    Clock,
    Licence,
    Certificates,
    AttachmentLinking,
    AutoUpdate,
    DomainIpBinding,
    SharedPath,
    Lan,
    Letsencrypt,
    /// A node typed by hand resolves to an address. Not a rule of the
    /// Cluster Service and not one to ignore: nothing else can be checked.
    #[value(skip)]
    Address,
}

impl RuleId {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleId::Version => "version",
            RuleId::TimeZone => "time-zone",
            RuleId::Clock => "clock",
            RuleId::Licence => "licence",
            RuleId::Certificates => "certificates",
            RuleId::AttachmentLinking => "attachment-linking",
            RuleId::AutoUpdate => "auto-update",
            RuleId::DomainIpBinding => "domain-ip-binding",
            RuleId::SharedPath => "shared-path",
            RuleId::Lan => "lan",
            RuleId::Letsencrypt => "letsencrypt",
            RuleId::Address => "address",
        }
    }
}

impl std::fmt::Display for RuleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`, so that widths in tables (`{:<18}`) apply.
        f.pad(self.as_str())
    }
}

/// Every rule of the Cluster Service, in the order they are shown.
pub const RULES: [RuleId; 11] = [
    RuleId::Version,
    RuleId::TimeZone,
    RuleId::Clock,
    RuleId::Licence,
    RuleId::Certificates,
    RuleId::AttachmentLinking,
    RuleId::AutoUpdate,
    RuleId::DomainIpBinding,
    RuleId::SharedPath,
    RuleId::Lan,
    RuleId::Letsencrypt,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    Pass,
    Warn,
    Fail,
    Unknown,
    /// Failed or unknown, but the administrator said to go on (`--ignore`).
    Ignored,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub rule: RuleId,
    pub level: Level,
    pub detail: String,
}

impl Verdict {
    pub fn blocks(&self) -> bool {
        matches!(self.level, Level::Fail | Level::Unknown)
    }
}

/// How the clock rule was measured, for people.
pub(crate) const CLOCK_METHOD: &str = "each node writes a file on the share and compares the file server's timestamp \
with its own clock; the difference of the two offsets is the difference of the two clocks, whatever the network delay";

/// One of the primary's networks: an address and its prefix length.
pub(crate) type Subnet = (IpAddr, u8);

fn v(rule: RuleId, level: Level, detail: impl Into<String>) -> Verdict {
    Verdict {
        rule,
        level,
        detail: detail.into(),
    }
}

fn same_subnet(a: IpAddr, (net, prefix): Subnet) -> bool {
    match (a, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(prefix.min(32)))
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(prefix.min(128)))
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

fn switch(rule: RuleId, what: &str, primary: Option<bool>, node: Option<bool>) -> Verdict {
    match (primary, node) {
        (Some(false), Some(false)) => v(rule, Level::Pass, format!("{what} is off on both")),
        (Some(true), _) => v(
            rule,
            Level::Fail,
            format!("{what} is on on the primary; turn it off there"),
        ),
        (_, Some(true)) => v(
            rule,
            Level::Fail,
            format!("{what} is on on the node; turn it off there"),
        ),
        _ => v(
            rule,
            Level::Unknown,
            format!("whether {what} is on could not be read"),
        ),
    }
}

/// Check `node` against the primary. `licences_in_use` are the licence
/// fingerprints of the other nodes; `subnets` are the primary's networks.
pub fn check(
    primary: &Facts,
    node: &Facts,
    licences_in_use: &[String],
    subnets: &[Subnet],
    ignore: &[RuleId],
) -> Vec<Verdict> {
    let mut out = vec![
        version(primary, node),
        time_zone(primary, node),
        clock(primary, node),
        licence(primary, node, licences_in_use),
        certificates(primary, node),
        switch(
            RuleId::AttachmentLinking,
            "attachment linking",
            primary.attachment_linking,
            node.attachment_linking,
        ),
        switch(
            RuleId::AutoUpdate,
            "automatic installation of updates",
            primary.auto_update,
            node.auto_update,
        ),
        switch(
            RuleId::DomainIpBinding,
            "binding domains to IP addresses",
            primary.domain_ip_binding,
            node.domain_ip_binding,
        ),
        shared_path(node),
        lan(node, subnets),
        letsencrypt(primary),
    ];
    for verdict in &mut out {
        if verdict.blocks() && ignore.contains(&verdict.rule) {
            verdict.level = Level::Ignored;
        }
    }
    out
}

fn version(primary: &Facts, node: &Facts) -> Verdict {
    match (&primary.version, &node.version) {
        (Some(p), Some(n)) if p == n => {
            v(RuleId::Version, Level::Pass, format!("MDaemon {n} on both"))
        }
        (Some(p), Some(n)) => v(
            RuleId::Version,
            Level::Fail,
            format!("the node runs MDaemon {n}, the primary {p}: all nodes need the same version"),
        ),
        _ => v(
            RuleId::Version,
            Level::Unknown,
            "the MDaemon version could not be read",
        ),
    }
}

fn time_zone(primary: &Facts, node: &Facts) -> Verdict {
    if primary.time_zone == node.time_zone {
        v(
            RuleId::TimeZone,
            Level::Pass,
            format!("both in {}", node.time_zone),
        )
    } else {
        v(
            RuleId::TimeZone,
            Level::Fail,
            format!(
                "the node is in {}, the primary in {}",
                node.time_zone, primary.time_zone
            ),
        )
    }
}

fn clock(primary: &Facts, node: &Facts) -> Verdict {
    match (primary.share.clock_offset_ms, node.share.clock_offset_ms) {
        (Some(p), Some(n)) => {
            let diff = (p - n).abs();
            let level = if diff <= 1000 {
                Level::Pass
            } else {
                Level::Fail
            };
            v(RuleId::Clock, level, format!("clocks {diff} ms apart (limit 1000 ms; measured against the share's file server)"))
        }
        _ => v(
            RuleId::Clock,
            Level::Unknown,
            "the clock could not be compared (no share probe on one side)",
        ),
    }
}

fn licence(primary: &Facts, node: &Facts, licences_in_use: &[String]) -> Verdict {
    match &node.licence {
        None => v(
            RuleId::Licence,
            Level::Unknown,
            "the licence key could not be read",
        ),
        Some(l) if primary.licence.as_ref() == Some(l) => v(
            RuleId::Licence,
            Level::Fail,
            "the node uses the primary's licence key: each node needs its own",
        ),
        Some(l) if licences_in_use.contains(l) => v(
            RuleId::Licence,
            Level::Fail,
            "another node already uses this licence key",
        ),
        Some(_) => v(RuleId::Licence, Level::Pass, "a licence key of its own"),
    }
}

fn certificates(primary: &Facts, node: &Facts) -> Verdict {
    let Some(installed) = &node.certificates else {
        return v(
            RuleId::Certificates,
            Level::Unknown,
            "the node's certificate store could not be read",
        );
    };
    let missing: Vec<&str> = primary
        .certificates_in_use
        .iter()
        .filter(|c| !installed.contains(c))
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        v(
            RuleId::Certificates,
            Level::Pass,
            format!(
                "all {} certificate(s) the primary uses are installed",
                primary.certificates_in_use.len()
            ),
        )
    } else {
        v(
            RuleId::Certificates,
            Level::Fail,
            format!(
                "missing on the node: {} (it would serve no SSL/TLS/HTTPS)",
                missing.join(", ")
            ),
        )
    }
}

fn shared_path(node: &Facts) -> Verdict {
    let service = node.share.service_account.as_deref();
    match node.share.writable {
        // Probed as another account than MDaemon's: it may still be refused.
        Some(true)
            if service.is_some_and(|a| !crate::service::same_account(&node.share.identity, a)) =>
        {
            v(
                RuleId::SharedPath,
                Level::Warn,
                format!(
                    "writable as {}, but MDaemon runs as {}: run `mdcluster join` as that account for a probe that counts",
                    node.share.identity,
                    service.unwrap_or_default()
                ),
            )
        }
        Some(true) => v(
            RuleId::SharedPath,
            Level::Pass,
            format!("reachable and writable as {}", node.share.identity),
        ),
        Some(false) => v(
            RuleId::SharedPath,
            Level::Fail,
            format!(
                "not writable as {}; MDaemon on the node must write there",
                node.share.identity
            ),
        ),
        None => v(
            RuleId::SharedPath,
            Level::Unknown,
            "the node did not probe the shared path",
        ),
    }
}

fn lan(node: &Facts, subnets: &[Subnet]) -> Verdict {
    let on_lan = subnets.is_empty()
        || node
            .addresses
            .iter()
            .any(|a| subnets.iter().any(|s| same_subnet(*a, *s)));
    if on_lan {
        v(RuleId::Lan, Level::Pass, "on the primary's network")
    } else {
        v(
            RuleId::Lan,
            Level::Warn,
            "no address in the primary's networks: the manual advises against separated nodes",
        )
    }
}

fn letsencrypt(primary: &Facts) -> Verdict {
    if primary.letsencrypt == Some(true) {
        v(RuleId::Letsencrypt, Level::Warn, "the primary uses Let's Encrypt, which does not support secondaries: bring the certificate to each node another way")
    } else {
        v(
            RuleId::Letsencrypt,
            Level::Pass,
            "Let's Encrypt is not in use",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::facts::ShareCheck;
    use super::*;

    fn node(name: &str, licence: &str) -> Facts {
        Facts {
            name: name.into(),
            addresses: vec!["10.0.0.12".parse().unwrap()],
            version: Some("23.5.2".into()),
            time_zone: "Europe/Berlin".into(),
            licence: Some(licence.into()),
            certificates: Some(vec!["AAAAAAAAAAAAAAAA".into()]),
            certificates_in_use: vec!["AAAAAAAAAAAAAAAA".into()],
            attachment_linking: Some(false),
            auto_update: Some(false),
            domain_ip_binding: Some(false),
            letsencrypt: Some(false),
            share: ShareCheck {
                writable: Some(true),
                identity: "svc".into(),
                clock_offset_ms: Some(5),
                service_account: None,
            },
        }
    }

    fn failing(p: &Facts, n: &Facts) -> Vec<&'static str> {
        let net = [("10.0.0.0".parse().unwrap(), 24)];
        check(p, n, &["used0000used0000".into()], &net, &[])
            .into_iter()
            .filter(|v| v.level != Level::Pass)
            .map(|v| v.rule.as_str())
            .collect()
    }

    #[test]
    fn a_good_node_passes_every_rule() {
        assert_eq!(
            failing(&node("MAIL1", "p"), &node("MAIL2", "n")),
            Vec::<&str>::new()
        );
    }

    /// One name per rule, whichever way it is spelt out: JSON, `--ignore`,
    /// the screens (and `address` never for `--ignore`).
    #[test]
    fn a_rule_has_one_name_everywhere() {
        use clap::ValueEnum;
        for r in RULES.iter().chain([&RuleId::Address]) {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
            assert_eq!(format!("{r:<20}|"), format!("{:<20}|", r.as_str()));
            let arg = r.to_possible_value().map(|v| v.get_name().to_string());
            if *r == RuleId::Address {
                assert_eq!(arg, None);
            } else {
                assert_eq!(arg.as_deref(), Some(r.as_str()));
            }
        }
        assert_eq!(
            RuleId::value_variants(),
            RULES.as_slice(),
            "--ignore takes every rule"
        );
    }

    #[test]
    fn each_rule_catches_its_violation() {
        let p = node("MAIL1", "p");
        let mut cases: Vec<(&str, Facts)> = Vec::new();
        let mut n = node("MAIL2", "n");
        n.version = Some("24.0.0".into());
        cases.push(("version", n));
        let mut n = node("MAIL2", "n");
        n.time_zone = "Asia/Tokyo".into();
        cases.push(("time-zone", n));
        let mut n = node("MAIL2", "n");
        n.share.clock_offset_ms = Some(-2000);
        cases.push(("clock", n));
        cases.push(("licence", node("MAIL2", "p")));
        cases.push(("licence", node("MAIL2", "used0000used0000")));
        let mut n = node("MAIL2", "n");
        n.certificates = Some(vec![]);
        cases.push(("certificates", n));
        let mut n = node("MAIL2", "n");
        n.attachment_linking = Some(true);
        cases.push(("attachment-linking", n));
        let mut n = node("MAIL2", "n");
        n.auto_update = Some(true);
        cases.push(("auto-update", n));
        let mut n = node("MAIL2", "n");
        n.domain_ip_binding = Some(true);
        cases.push(("domain-ip-binding", n));
        let mut n = node("MAIL2", "n");
        n.share.writable = Some(false);
        cases.push(("shared-path", n));
        let mut n = node("MAIL2", "n");
        n.addresses = vec!["192.0.2.9".parse().unwrap()];
        cases.push(("lan", n));
        for (rule, n) in cases {
            assert_eq!(failing(&p, &n), vec![rule], "{rule}");
        }
        let mut p2 = node("MAIL1", "p");
        p2.letsencrypt = Some(true);
        assert_eq!(failing(&p2, &node("MAIL2", "n")), vec!["letsencrypt"]);
    }

    #[test]
    fn ignore_and_warnings() {
        let p = node("MAIL1", "p");
        let mut n = node("MAIL2", "n");
        n.version = Some("24.0.0".into());
        n.addresses = vec!["192.0.2.9".parse().unwrap()];
        let verdicts = check(
            &p,
            &n,
            &[],
            &[("10.0.0.0".parse().unwrap(), 24)],
            &[RuleId::Version],
        );
        assert!(!verdicts.iter().any(Verdict::blocks), "{verdicts:?}");
        assert!(verdicts
            .iter()
            .any(|v| v.rule == RuleId::Lan && v.level == Level::Warn));
        assert!(same_subnet(
            "10.0.0.200".parse().unwrap(),
            ("10.0.0.1".parse().unwrap(), 24)
        ));
        assert!(!same_subnet(
            "10.0.1.2".parse().unwrap(),
            ("10.0.0.1".parse().unwrap(), 24)
        ));
    }

    #[test]
    fn a_share_probed_as_another_account_than_mdaemons_is_a_warning() {
        let p = node("MAIL1", "p");
        let level = |identity: &str, service: Option<&str>| {
            let mut n = node("MAIL2", "n");
            n.share.identity = identity.into();
            n.share.service_account = service.map(str::to_string);
            check(&p, &n, &[], &[("10.0.0.0".parse().unwrap(), 24)], &[])
                .into_iter()
                .find(|v| v.rule == RuleId::SharedPath)
                .unwrap()
                .level
        };
        assert_eq!(level("EXAMPLE\\admin", Some("LocalSystem")), Level::Warn);
        assert_eq!(level("EXAMPLE\\MAIL2$", Some("LocalSystem")), Level::Pass);
        assert_eq!(level("EXAMPLE\\admin", None), Level::Pass);
    }
}
