//! `[load_balancer]`: how `mdcluster lb` routes the cluster's services.
//!
//! ```toml
//! [load_balancer]
//! kind = "haproxy"             # or "nginx", "apache": what step 11 writes
//! output = '/srv/mdcluster-lb' # the folder on this machine (default: in the state folder)
//! http_mode = "primary"        # or "balanced": every node, sticky by cookie
//! cookie = "MDCLUSTER_NODE"    # the route cookie in "balanced" mode
//! listen = "0.0.0.0"           # the balancer's own address
//! [load_balancer.ports]        # where the balancer listens; 0 leaves a service out
//! http = 80
//! [load_balancer.backend_ports]   # where the nodes answer (default: the same numbers)
//! http = 3000
//! ```
//!
//! Port defaults come from the profile (`[ports]`), because they are MDaemon's.

use super::file::{FailoverTable, LbTable, PortsTable};
use super::Collector;
use crate::profile::Profile;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::path::{Component, Path, PathBuf};
use toml::Spanned;

/// The route cookie's name unless the plan names another.
pub const DEFAULT_COOKIE: &str = "MDCLUSTER_NODE";
/// All IPv4 addresses of the balancer unless the plan names one.
pub const DEFAULT_LISTEN: IpAddr = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);

/// A service of MDaemon the balancer carries.
/// A balancer mdcluster writes configuration for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Haproxy,
    Nginx,
    Apache,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Haproxy, Kind::Nginx, Kind::Apache];

    /// The kind named by its key (`haproxy`, `nginx`, `apache`).
    pub(crate) fn from_key(key: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.key() == key)
    }

    pub fn key(self) -> &'static str {
        match self {
            Kind::Haproxy => "haproxy",
            Kind::Nginx => "nginx",
            Kind::Apache => "apache",
        }
    }
    pub fn title(self) -> &'static str {
        match self {
            Kind::Haproxy => "HAProxy",
            Kind::Nginx => "nginx",
            Kind::Apache => "Apache httpd",
        }
    }
    /// The program names its check runs, in the order they are looked for.
    pub fn programs(self) -> &'static [&'static str] {
        match self {
            Kind::Haproxy => &["haproxy"],
            Kind::Nginx => &["nginx"],
            Kind::Apache => &["apache2", "httpd"],
        }
    }
    /// How an administrator applies new files (mdcluster never does).
    pub fn reload_hint(self) -> &'static str {
        match self {
            Kind::Haproxy => "haproxy -c -f /etc/haproxy/haproxy.cfg && systemctl reload haproxy",
            Kind::Nginx => "nginx -t && systemctl reload nginx",
            Kind::Apache => "apachectl -t && apachectl graceful",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    RemoteAdmin,
    Http,
    Https,
    Xmpp,
    Smtp,
    Submission,
    Imap,
    Imaps,
    Pop3,
    Pop3s,
}

impl Service {
    pub const ALL: [Service; 10] = [
        Service::RemoteAdmin,
        Service::Http,
        Service::Https,
        Service::Xmpp,
        Service::Smtp,
        Service::Submission,
        Service::Imap,
        Service::Imaps,
        Service::Pop3,
        Service::Pop3s,
    ];

    /// The key in `[load_balancer.ports]`; also used in generated names.
    pub fn key(self) -> &'static str {
        match self {
            Service::RemoteAdmin => "remote_admin",
            Service::Http => "http",
            Service::Https => "https",
            Service::Xmpp => "xmpp",
            Service::Smtp => "smtp",
            Service::Submission => "submission",
            Service::Imap => "imap",
            Service::Imaps => "imaps",
            Service::Pop3 => "pop3",
            Service::Pop3s => "pop3s",
        }
    }

    /// For people: comments in generated files and messages.
    pub fn title(self) -> &'static str {
        match self {
            Service::RemoteAdmin => "Remote Administration",
            Service::Http => "Webmail (HTTP)",
            Service::Https => "Webmail (HTTPS)",
            Service::Xmpp => "XMPP (instant messaging)",
            Service::Smtp => "SMTP",
            Service::Submission => "SMTP submission",
            Service::Imap => "IMAP",
            Service::Imaps => "IMAP over TLS",
            Service::Pop3 => "POP3",
            Service::Pop3s => "POP3 over TLS",
        }
    }

    fn profile_default(self, profile: &Profile) -> u16 {
        let p = profile.ports();
        *match self {
            Service::RemoteAdmin => p.remote_admin,
            Service::Http => p.http,
            Service::Https => p.https,
            Service::Xmpp => p.xmpp,
            Service::Smtp => p.smtp,
            Service::Submission => p.submission,
            Service::Imap => p.imap,
            Service::Imaps => p.imaps,
            Service::Pop3 => p.pop3,
            Service::Pop3s => p.pop3s,
        }
    }
}

/// Where Webmail's HTTP goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HttpMode {
    /// All of it to the primary: the manual's simple, recommended mode.
    Primary,
    /// Every node, sticky by a route cookie.
    Balanced,
}

impl HttpMode {
    pub fn key(self) -> &'static str {
        match self {
            HttpMode::Primary => "primary",
            HttpMode::Balanced => "balanced",
        }
    }
}

/// One port per service, in [`Service::ALL`] order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ports([u16; 10]);

impl Ports {
    pub fn get(&self, s: Service) -> u16 {
        self.0[s as usize]
    }
    pub fn set(&mut self, s: Service, port: u16) {
        self.0[s as usize] = port;
    }
    fn defaults(profile: &Profile) -> Ports {
        let mut p = Ports([0; 10]);
        for s in Service::ALL {
            p.set(s, s.profile_default(profile));
        }
        p
    }
}

impl Serialize for Ports {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = ser.serialize_map(Some(Service::ALL.len()))?;
        for s in Service::ALL {
            m.serialize_entry(s.key(), &self.get(s))?;
        }
        m.end()
    }
}

/// The validated `[load_balancer]` table (defaults filled in).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LoadBalancer {
    /// The balancer step 11 writes configuration for; None: the step waits.
    pub kind: Option<Kind>,
    /// The folder on this machine where step 11 writes the files; None: a
    /// folder in mdcluster's state folder of the installation.
    pub output: Option<PathBuf>,
    pub http_mode: HttpMode,
    pub cookie: String,
    pub listen: IpAddr,
    /// Where the balancer listens; 0: the service is left out.
    pub ports: Ports,
    /// Where the nodes answer.
    pub backend_ports: Ports,
    /// What the failover watch does (`mdcluster health --watch --failover`).
    pub failover: FailoverPolicy,
    /// `[load_balancer.ha]`: balancer hosts sharing a virtual IP (keepalived).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ha: Option<super::ha::Ha>,
}

/// `[load_balancer.failover]`: when the failover watch moves a failed node's
/// sessions, when it moves them back, and how the balancer reloads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FailoverPolicy {
    /// Consecutive rounds with no service of a node answering before its
    /// sessions move.
    pub after: u32,
    /// Consecutive rounds with the node answering again before the normal
    /// configuration is written back.
    pub restore_after: u32,
    /// The command (program and arguments, no shell) that reloads the
    /// balancer after a change; empty: the command is printed, never run.
    pub reload: Vec<String>,
}

impl Default for FailoverPolicy {
    fn default() -> FailoverPolicy {
        FailoverPolicy {
            after: 3,
            restore_after: 3,
            reload: Vec::new(),
        }
    }
}

impl LoadBalancer {
    pub fn defaults(profile: &Profile) -> LoadBalancer {
        let ports = Ports::defaults(profile);
        LoadBalancer {
            kind: None,
            output: None,
            http_mode: HttpMode::Primary,
            cookie: DEFAULT_COOKIE.to_string(),
            listen: DEFAULT_LISTEN,
            ports,
            backend_ports: ports,
            failover: FailoverPolicy::default(),
            ha: None,
        }
    }

    /// The services the balancer carries (port not 0), in a fixed order.
    pub(crate) fn enabled(&self) -> impl Iterator<Item = Service> + '_ {
        Service::ALL.into_iter().filter(|s| self.ports.get(*s) != 0)
    }
}

/// A node's port for `s` when the plan does not name one: the balancer's port
/// for it, or the profile's when the service is left out.
fn backend_default(s: Service, ports: &Ports, profile: &Profile) -> u16 {
    match ports.get(s) {
        0 => s.profile_default(profile),
        p => p,
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLoadBalancer {
    kind: Option<Spanned<String>>,
    output: Option<Spanned<String>>,
    http_mode: Option<Spanned<String>>,
    cookie: Option<Spanned<String>>,
    listen: Option<Spanned<String>>,
    #[serde(default)]
    ports: RawPorts,
    #[serde(default)]
    backend_ports: RawPorts,
    #[serde(default)]
    failover: RawFailover,
    ha: Option<super::ha::RawHa>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFailover {
    after: Option<Spanned<i64>>,
    restore_after: Option<Spanned<i64>>,
    reload: Option<Spanned<Vec<String>>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPorts {
    remote_admin: Option<Spanned<i64>>,
    http: Option<Spanned<i64>>,
    https: Option<Spanned<i64>>,
    xmpp: Option<Spanned<i64>>,
    smtp: Option<Spanned<i64>>,
    submission: Option<Spanned<i64>>,
    imap: Option<Spanned<i64>>,
    imaps: Option<Spanned<i64>>,
    pop3: Option<Spanned<i64>>,
    pop3s: Option<Spanned<i64>>,
}

impl RawPorts {
    fn get(&self, s: Service) -> Option<&Spanned<i64>> {
        match s {
            Service::RemoteAdmin => self.remote_admin.as_ref(),
            Service::Http => self.http.as_ref(),
            Service::Https => self.https.as_ref(),
            Service::Xmpp => self.xmpp.as_ref(),
            Service::Smtp => self.smtp.as_ref(),
            Service::Submission => self.submission.as_ref(),
            Service::Imap => self.imap.as_ref(),
            Service::Imaps => self.imaps.as_ref(),
            Service::Pop3 => self.pop3.as_ref(),
            Service::Pop3s => self.pop3s.as_ref(),
        }
    }
}

/// A name every balancer accepts in a cookie and nginx in `$cookie_NAME`.
pub fn check_cookie_name(name: &str) -> Result<(), &'static str> {
    let mut chars = name.chars();
    match chars.next() {
        None => Err("is empty"),
        Some(c) if !c.is_ascii_alphabetic() => Err("does not start with a letter"),
        _ if name.len() > 64 => Err("is longer than 64 characters"),
        _ if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') => {
            Err("contains characters other than letters, digits and '_'")
        }
        _ => Ok(()),
    }
}

/// A folder on this machine for the balancer's files: absolute and without
/// `..` (the text alone; [`check_output_dir_on_disk`] looks at the disk).
pub fn check_output_dir(text: &str) -> Result<PathBuf, &'static str> {
    if text.trim().is_empty() {
        return Err("is empty");
    }
    let path = PathBuf::from(text);
    if !path.is_absolute() {
        return Err("is not an absolute path on this machine");
    }
    if path.components().any(|c| c == Component::ParentDir) {
        return Err("contains a '..' component");
    }
    Ok(path)
}

/// The output folder is not an existing file.
pub fn check_output_dir_on_disk(path: &Path) -> Result<(), &'static str> {
    if path.exists() && !path.is_dir() {
        return Err("exists and is not a folder");
    }
    Ok(())
}

pub(super) fn validate(
    c: &mut Collector,
    raw: &RawLoadBalancer,
    profile: &Profile,
    nodes: &[super::Node],
) -> LoadBalancer {
    let mut lb = LoadBalancer::defaults(profile);
    if let Some(kind) = &raw.kind {
        match Kind::from_key(kind.get_ref()) {
            Some(k) => lb.kind = Some(k),
            None => c.at(
                kind.span().start,
                format!("load_balancer.kind \"{}\" is not a balancer mdcluster writes for", kind.get_ref()),
                Some("use \"haproxy\", \"nginx\" or \"apache\"; `mdcluster lb --plan FILE --kind all` previews all three"),
            ),
        }
    }
    if let Some(output) = &raw.output {
        let checked = check_output_dir(output.get_ref()).and_then(|dir| {
            if c.disk {
                check_output_dir_on_disk(&dir)?;
            }
            Ok(dir)
        });
        match checked {
            Ok(dir) => lb.output = Some(dir),
            Err(why) => c.at(
                output.span().start,
                format!("load_balancer.output '{}' {why}", output.get_ref()),
                Some(if cfg!(windows) {
                    r"give the folder on this machine where the balancer's files go, e.g. 'C:\mdcluster-lb', or leave it out for a folder in the installation's mdcluster folder"
                } else {
                    "give the folder on this machine where the balancer's files go, e.g. '/srv/mdcluster-lb', or leave it out for a folder in the installation's mdcluster folder"
                }),
            ),
        }
    }
    if let Some(mode) = &raw.http_mode {
        match mode.get_ref().as_str() {
            "primary" => lb.http_mode = HttpMode::Primary,
            "balanced" => lb.http_mode = HttpMode::Balanced,
            other => c.at(
                mode.span().start,
                format!("load_balancer.http_mode \"{other}\" is not a mode"),
                Some("use \"primary\" (all HTTP to the primary, the manual's simple mode) or \"balanced\" (every node, sticky by a cookie)"),
            ),
        }
    }
    if let Some(cookie) = &raw.cookie {
        let name = cookie.get_ref();
        match check_cookie_name(name) {
            Ok(()) => lb.cookie = name.clone(),
            Err(why) => c.at(
                cookie.span().start,
                format!("load_balancer.cookie \"{name}\" {why}"),
                Some("use letters, digits and '_', starting with a letter, e.g. MDCLUSTER_NODE"),
            ),
        }
    }
    if let Some(listen) = &raw.listen {
        match listen.get_ref().trim().parse::<IpAddr>() {
            Ok(ip) => lb.listen = ip,
            Err(_) => c.at(
                listen.span().start,
                format!(
                    "load_balancer.listen \"{}\" is not an IP address",
                    listen.get_ref()
                ),
                Some("give the balancer's address to listen on, e.g. \"0.0.0.0\" for all its IPv4 addresses"),
            ),
        }
    }
    validate_ports(c, raw, &mut lb);
    validate_backend_ports(c, raw, &mut lb, profile);
    lb.failover = validate_failover(c, &raw.failover);
    if let Some(raw_ha) = &raw.ha {
        lb.ha = super::ha::validate(c, raw_ha, nodes);
        if let Some(ha) = &lb.ha {
            let at = raw.listen.as_ref().map(|l| l.span().start).unwrap_or(0);
            super::ha::check_listen(c, at, lb.listen, ha);
        }
    }
    lb
}

/// The most rounds `after` and `restore_after` may be.
const MAX_ROUNDS: i64 = 1000;

fn validate_failover(c: &mut Collector, raw: &RawFailover) -> FailoverPolicy {
    let mut f = FailoverPolicy::default();
    for (key, value, slot) in [
        ("after", &raw.after, &mut f.after),
        ("restore_after", &raw.restore_after, &mut f.restore_after),
    ] {
        let Some(v) = value else { continue };
        match u32::try_from(*v.get_ref()) {
            Ok(n) if (1..=MAX_ROUNDS).contains(&i64::from(n)) => *slot = n,
            _ => c.at(
                v.span().start,
                format!(
                    "load_balancer.failover.{key} {} is out of range",
                    v.get_ref()
                ),
                Some("give a number of health rounds from 1 to 1000, e.g. 3"),
            ),
        }
    }
    if let Some(reload) = &raw.reload {
        let args = reload.get_ref();
        let bad = args.iter().find(|a| a.chars().any(char::is_control));
        if args.is_empty() || args[0].trim().is_empty() || args.len() > 64 {
            c.at(
                reload.span().start,
                "load_balancer.failover.reload needs a program and at most 63 arguments".to_string(),
                Some("e.g. reload = [\"systemctl\", \"reload\", \"haproxy\"] (the program and its arguments; no shell runs it), or leave it out to have the command printed"),
            );
        } else if let Some(a) = bad {
            c.at(
                reload.span().start,
                format!(
                    "load_balancer.failover.reload has an argument with a control character: {}",
                    crate::text::sanitize(a)
                ),
                Some("write each argument as plain text"),
            );
        } else {
            f.reload = args.clone();
        }
    }
    f
}

/// Balancer ports: 0 leaves a service out; two services cannot share one.
fn validate_ports(c: &mut Collector, raw: &RawLoadBalancer, lb: &mut LoadBalancer) {
    let mut taken: Vec<(u16, Service)> = Vec::new();
    for s in Service::ALL {
        let Some(v) = raw.ports.get(s) else {
            if let Some((_, other)) = taken.iter().find(|(p, _)| *p == lb.ports.get(s)) {
                // A default that collides with a port set explicitly for another service.
                let at = raw.ports.get(*other).map(|v| v.span().start).unwrap_or(0);
                c.at(
                    at,
                    format!(
                        "load_balancer.ports.{} {} is also the default port of {}",
                        other.key(),
                        lb.ports.get(s),
                        s.key()
                    ),
                    Some("give every service its own port on the balancer, or set the other one to 0 to leave it out"),
                );
            }
            taken.push((lb.ports.get(s), s));
            continue;
        };
        let port = match u16::try_from(*v.get_ref()) {
            Ok(p) => p,
            Err(_) => {
                c.at(
                    v.span().start,
                    format!(
                        "load_balancer.ports.{} {} is out of range",
                        s.key(),
                        v.get_ref()
                    ),
                    Some("use a port from 1 to 65535, or 0 to leave the service out"),
                );
                continue;
            }
        };
        lb.ports.set(s, port);
        if port == 0 {
            continue;
        }
        if let Some((_, other)) = taken.iter().find(|(p, _)| *p == port) {
            c.at(
                v.span().start,
                format!(
                    "load_balancer.ports.{} {port} is also the port of {}",
                    s.key(),
                    other.key()
                ),
                Some("give every service its own port on the balancer, or set one to 0 to leave it out"),
            );
        }
        taken.push((port, s));
    }
}

/// Where the nodes answer: the balancer's port unless the plan says.
fn validate_backend_ports(
    c: &mut Collector,
    raw: &RawLoadBalancer,
    lb: &mut LoadBalancer,
    profile: &Profile,
) {
    for s in Service::ALL {
        let default = backend_default(s, &lb.ports, profile);
        let port = match raw.backend_ports.get(s) {
            None => default,
            Some(v) => match u16::try_from(*v.get_ref()) {
                Ok(p) if p != 0 => p,
                _ => {
                    c.at(
                        v.span().start,
                        format!(
                            "load_balancer.backend_ports.{} {} is out of range",
                            s.key(),
                            v.get_ref()
                        ),
                        Some("use the port the service answers on at the nodes, from 1 to 65535; to leave a service out, set it to 0 in [load_balancer.ports]"),
                    );
                    default
                }
            },
        };
        lb.backend_ports.set(s, port);
    }
}

/// The `[load_balancer]` table with what differs from the defaults (empty
/// when nothing does), so a saved plan stays short and reads back the same.
pub(super) fn table(lb: &LoadBalancer, profile: &Profile) -> LbTable {
    let d = LoadBalancer::defaults(profile);
    let mut ports = Vec::new();
    let mut backend_ports = Vec::new();
    for s in Service::ALL {
        if lb.ports.get(s) != d.ports.get(s) {
            ports.push((s.key(), lb.ports.get(s)));
        }
        if lb.backend_ports.get(s) != backend_default(s, &lb.ports, profile) {
            backend_ports.push((s.key(), lb.backend_ports.get(s)));
        }
    }
    LbTable {
        kind: lb.kind.map(|k| k.key().to_string()),
        output: lb.output.as_ref().map(|o| o.to_string_lossy().into_owned()),
        http_mode: (lb.http_mode != d.http_mode).then(|| lb.http_mode.key().to_string()),
        cookie: (lb.cookie != d.cookie).then(|| lb.cookie.clone()),
        listen: (lb.listen != d.listen).then(|| lb.listen.to_string()),
        ports: PortsTable(ports),
        backend_ports: PortsTable(backend_ports),
        failover: FailoverTable {
            after: (lb.failover.after != d.failover.after).then_some(lb.failover.after),
            restore_after: (lb.failover.restore_after != d.failover.restore_after)
                .then_some(lb.failover.restore_after),
            reload: (!lb.failover.reload.is_empty()).then(|| lb.failover.reload.clone()),
        },
        ha: lb.ha.as_ref().map(super::ha::table),
    }
}
