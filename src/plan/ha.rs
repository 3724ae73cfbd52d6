//! `[load_balancer.ha]`: two or more balancer hosts sharing a virtual IP by
//! VRRP (keepalived), so that one balancer failing does not stop the cluster.
//!
//! ```toml
//! [load_balancer.ha]
//! virtual_ip = "10.0.0.100/24"   # the address clients use; the prefix is optional
//! interface = "eth0"             # on every host, unless the host names its own
//! router_id = 51                 # virtual_router_id, 1-255, unique on the LAN
//! health_check = false           # also follow `mdcluster health` (a vrrp_script)
//! process = "haproxy"            # the process followed (default: the balancer's)
//! check_script = "/usr/local/sbin/balancer-ok"   # instead: a command of yours, exit 0 while the balancer serves
//! [[load_balancer.ha.hosts]]
//! name = "lb1"
//! address = "10.0.0.11"          # the host's own address (unicast VRRP)
//! priority = 150                 # default: 150, 140, ... in the order given
//! interface = "ens192"           # optional
//! ```
//!
//! Every value ends up as a word in a generated keepalived.conf, so each is
//! held to a small alphabet: plan text can never open or close a block, start
//! a comment or a quoted string there.

use super::file::{HaHostTable, HaTable};
use super::{Collector, Node};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use toml::Spanned;

/// The first default priority; each later host gets [`PRIORITY_STEP`] less.
pub const FIRST_PRIORITY: u8 = 150;
const PRIORITY_STEP: u8 = 10;
/// Linux keeps interface names to 15 bytes (IFNAMSIZ - 1).
const MAX_INTERFACE: usize = 15;
/// Linux keeps a process name (`/proc/PID/comm`, what keepalived matches) to 15 bytes.
const MAX_PROCESS: usize = 15;
const MAX_HOST_NAME: usize = 63;

/// The validated `[load_balancer.ha]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Ha {
    pub virtual_ip: IpAddr,
    /// The prefix length written after the virtual IP, when the plan gives one.
    pub prefix: Option<u8>,
    /// The interface of every host that does not name its own.
    pub interface: Option<String>,
    pub router_id: u8,
    pub health_check: bool,
    /// The process keepalived follows; None: the balancer's usual one.
    pub process: Option<String>,
    /// A command (an absolute path) that exits 0 while this host's balancer
    /// serves, run every second instead of following the process (where
    /// keepalived cannot watch processes: containers, network namespaces).
    pub check_script: Option<String>,
    pub hosts: Vec<HaHost>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HaHost {
    pub name: String,
    pub address: IpAddr,
    pub priority: u8,
    pub interface: Option<String>,
}

impl Ha {
    /// The interface VRRP runs on at `host`.
    pub fn interface_of<'a>(&'a self, host: &'a HaHost) -> &'a str {
        host.interface
            .as_deref()
            .or(self.interface.as_deref())
            .unwrap_or_default()
    }
    /// The virtual IP as keepalived writes it (`10.0.0.100/24`).
    pub fn virtual_ip_text(&self) -> String {
        match self.prefix {
            Some(p) => format!("{}/{p}", self.virtual_ip),
            None => self.virtual_ip.to_string(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHa {
    virtual_ip: Spanned<String>,
    interface: Option<Spanned<String>>,
    router_id: Spanned<i64>,
    health_check: Option<bool>,
    process: Option<Spanned<String>>,
    check_script: Option<Spanned<String>>,
    #[serde(default)]
    hosts: Vec<RawHaHost>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHaHost {
    name: Spanned<String>,
    address: Spanned<String>,
    priority: Option<Spanned<i64>>,
    interface: Option<Spanned<String>>,
}

/// Whether `c` may stand in a keepalived word mdcluster writes.
fn word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// A network interface name Linux accepts and keepalived reads as one word.
pub fn check_interface(name: &str) -> Result<(), &'static str> {
    match name {
        "" => Err("is empty"),
        "." | ".." => Err("is not an interface name"),
        _ if name.len() > MAX_INTERFACE => Err("is longer than 15 characters (Linux's limit)"),
        _ if !name.chars().all(word_char) => {
            Err("contains characters other than letters, digits, '-', '_' and '.'")
        }
        _ => Ok(()),
    }
}

/// A balancer host's name: keepalived's router_id and a folder of the output.
pub fn check_host_name(name: &str) -> Result<(), &'static str> {
    match name.chars().next() {
        None => Err("is empty"),
        Some(c) if !c.is_ascii_alphanumeric() => Err("does not start with a letter or digit"),
        _ if name.len() > MAX_HOST_NAME => Err("is longer than 63 characters"),
        _ if !name.chars().all(word_char) => {
            Err("contains characters other than letters, digits, '-', '_' and '.'")
        }
        // The host's files go in a folder of its name, on Windows too.
        _ if crate::winpath::check_name(name).is_err() => {
            Err("is not a folder name Windows accepts (a device name such as NUL, or a final '.')")
        }
        _ => Ok(()),
    }
}

/// The most characters of `check_script`.
const MAX_SCRIPT: usize = 255;

/// A check command: an absolute path of letters, digits, '/', '-', '_' and
/// '.', so it stands as one quoted word in keepalived.conf.
pub fn check_script_path(path: &str) -> Result<(), &'static str> {
    match path {
        "" => Err("is empty"),
        _ if !path.starts_with('/') => Err("is not an absolute path on the balancer host"),
        _ if path.len() > MAX_SCRIPT => Err("is longer than 255 characters"),
        _ if path.split('/').any(|part| part == "..") => Err("contains a '..' component"),
        _ if path.ends_with('/') => Err("names a folder, not a program"),
        _ if !path.chars().all(|c| word_char(c) || c == '/') => {
            Err("contains characters other than letters, digits, '/', '-', '_' and '.' (no arguments, no spaces)")
        }
        _ => Ok(()),
    }
}

/// A process name as Linux keeps it (`/proc/PID/comm`).
pub fn check_process(name: &str) -> Result<(), &'static str> {
    match name.chars().next() {
        None => Err("is empty"),
        Some(c) if !c.is_ascii_alphanumeric() => Err("does not start with a letter or digit"),
        _ if name.len() > MAX_PROCESS => {
            Err("is longer than 15 characters (Linux keeps a process name to 15)")
        }
        _ if !name.chars().all(word_char) => {
            Err("contains characters other than letters, digits, '-', '_' and '.'")
        }
        _ => Ok(()),
    }
}

/// An address keepalived can send VRRP from or float: one host's, usable.
fn check_address(ip: IpAddr) -> Result<(), &'static str> {
    if ip.is_unspecified() {
        Err("is the unspecified address")
    } else if ip.is_loopback() {
        Err("is a loopback address")
    } else if ip.is_multicast() {
        Err("is a multicast address")
    } else if matches!(ip, IpAddr::V4(v4) if v4.is_broadcast()) {
        Err("is the broadcast address")
    } else {
        Ok(())
    }
}

/// `10.0.0.100` or `10.0.0.100/24`.
fn parse_virtual_ip(text: &str) -> Result<(IpAddr, Option<u8>), &'static str> {
    let (ip, prefix) = match text.trim().split_once('/') {
        Some((ip, prefix)) => (ip, Some(prefix)),
        None => (text.trim(), None),
    };
    let ip: IpAddr = ip.parse().map_err(|_| "is not an IP address")?;
    check_address(ip)?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => None,
        Some(p) => match p.parse::<u8>() {
            Ok(n) if n >= 1 && n <= max => Some(n),
            _ => return Err("has a prefix length out of range"),
        },
    };
    Ok((ip, prefix))
}

fn family(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() {
        "IPv4"
    } else {
        "IPv6"
    }
}

pub(super) fn validate(c: &mut Collector, raw: &RawHa, nodes: &[Node]) -> Option<Ha> {
    let at = raw.virtual_ip.span().start;
    let vip = match parse_virtual_ip(raw.virtual_ip.get_ref()) {
        Ok(v) => Some(v),
        Err(why) => {
            c.at(
                at,
                format!(
                    "load_balancer.ha.virtual_ip \"{}\" {why}",
                    raw.virtual_ip.get_ref()
                ),
                Some("give the address clients use, free on the balancers' network, e.g. \"10.0.0.100\" or \"10.0.0.100/24\""),
            );
            None
        }
    };
    let interface = raw
        .interface
        .as_ref()
        .and_then(|i| interface(c, "load_balancer.ha.interface", i));
    let router_id = match u8::try_from(*raw.router_id.get_ref()) {
        Ok(id) if id >= 1 => Some(id),
        _ => {
            c.at(
                raw.router_id.span().start,
                format!("load_balancer.ha.router_id {} is out of range", raw.router_id.get_ref()),
                Some("use a number from 1 to 255 that no other VRRP router on the network uses, e.g. 51"),
            );
            None
        }
    };
    let process = raw.process.as_ref().and_then(|p| match check_process(p.get_ref()) {
        Ok(()) => Some(p.get_ref().clone()),
        Err(why) => {
            c.at(
                p.span().start,
                format!("load_balancer.ha.process \"{}\" {why}", crate::text::sanitize(p.get_ref())),
                Some("give the balancer's process name as `ps -e` shows it, e.g. \"haproxy\", \"nginx\", \"apache2\" or \"httpd\", or leave it out"),
            );
            None
        }
    });
    let check_script = raw.check_script.as_ref().and_then(|p| match check_script_path(p.get_ref()) {
        Ok(()) => Some(p.get_ref().clone()),
        Err(why) => {
            c.at(
                p.span().start,
                format!("load_balancer.ha.check_script \"{}\" {why}", crate::text::sanitize(p.get_ref())),
                Some("give the path of a program on the balancer hosts that exits 0 while the balancer serves (write a small script for arguments), or leave it out to follow the balancer's process"),
            );
            None
        }
    });
    if let (Some(p), Some(s)) = (&raw.process, &raw.check_script) {
        c.at(
            s.span().start.max(p.span().start),
            "load_balancer.ha.process and check_script are both given; keepalived follows one".to_string(),
            Some("keep process (keepalived follows that process) or check_script (it runs your program instead), not both"),
        );
    }
    let hosts = validate_hosts(c, raw, vip.map(|v| v.0), raw.interface.is_some(), nodes);
    let ha = Ha {
        virtual_ip: vip?.0,
        prefix: vip?.1,
        interface,
        router_id: router_id?,
        health_check: raw.health_check.unwrap_or(false),
        process,
        check_script,
        hosts: hosts?,
    };
    Some(ha)
}

fn interface(c: &mut Collector, key: &str, v: &Spanned<String>) -> Option<String> {
    match check_interface(v.get_ref()) {
        Ok(()) => Some(v.get_ref().clone()),
        Err(why) => {
            c.at(
                v.span().start,
                format!("{key} \"{}\" {why}", crate::text::sanitize(v.get_ref())),
                Some("give the network interface as `ip -br link` shows it on the balancer host, e.g. \"eth0\" or \"ens192\""),
            );
            None
        }
    }
}

/// The hosts: at least two, each with its own name, address and priority,
/// addresses of the virtual IP's family, none the virtual IP or a node's.
fn validate_hosts(
    c: &mut Collector,
    raw: &RawHa,
    vip: Option<IpAddr>,
    shared_interface: bool,
    nodes: &[Node],
) -> Option<Vec<HaHost>> {
    let mut ok = true;
    if raw.hosts.len() < 2 {
        c.at(
            raw.virtual_ip.span().start,
            format!(
                "[load_balancer.ha] lists {} balancer host(s); a virtual IP needs at least two",
                raw.hosts.len()
            ),
            Some("add each balancer host as [[load_balancer.ha.hosts]] with name and address, or remove [load_balancer.ha]"),
        );
        ok = false;
    }
    let mut hosts: Vec<HaHost> = Vec::new();
    for (i, h) in raw.hosts.iter().enumerate() {
        match validate_host(c, h, i, vip, shared_interface, nodes, &hosts) {
            Some(host) => hosts.push(host),
            None => ok = false,
        }
    }
    ok.then_some(hosts)
}

fn validate_host(
    c: &mut Collector,
    h: &RawHaHost,
    index: usize,
    vip: Option<IpAddr>,
    shared_interface: bool,
    nodes: &[Node],
    earlier: &[HaHost],
) -> Option<HaHost> {
    let mut ok = true;
    let name = h.name.get_ref();
    let shown = crate::text::sanitize(name);
    if let Err(why) = check_host_name(name) {
        c.at(
            h.name.span().start,
            format!("load_balancer.ha.hosts.name \"{shown}\" {why}"),
            Some("give the balancer host's short name in letters, digits, '-', '_' and '.', e.g. \"lb1\""),
        );
        ok = false;
    } else if earlier.iter().any(|e| e.name.eq_ignore_ascii_case(name)) {
        c.at(
            h.name.span().start,
            format!("load_balancer.ha.hosts.name \"{shown}\" is given twice"),
            Some("give every balancer host its own name"),
        );
        ok = false;
    }
    let address = host_address(c, h, vip, nodes, earlier);
    let interface = match &h.interface {
        Some(i) => interface(c, "load_balancer.ha.hosts.interface", i).map(Some),
        None if shared_interface => Some(None),
        None => {
            c.at(
                h.name.span().start,
                format!("balancer host \"{shown}\" has no interface"),
                Some("name the interface the virtual IP lives on: interface = \"eth0\" under [load_balancer.ha] for every host, or in this host's table"),
            );
            None
        }
    };
    let priority = host_priority(c, h, index, earlier);
    Some(HaHost {
        name: name.clone(),
        address: address?,
        priority: priority?,
        interface: interface?,
    })
    .filter(|_| ok)
}

fn host_address(
    c: &mut Collector,
    h: &RawHaHost,
    vip: Option<IpAddr>,
    nodes: &[Node],
    earlier: &[HaHost],
) -> Option<IpAddr> {
    let text = h.address.get_ref();
    let at = h.address.span().start;
    let key = "load_balancer.ha.hosts.address";
    let shown = crate::text::sanitize(text);
    let ip = match text
        .trim()
        .parse::<IpAddr>()
        .map_err(|_| "is not an IP address")
        .and_then(|ip| check_address(ip).map(|()| ip))
    {
        Ok(ip) => ip,
        Err(why) => {
            c.at(
                at,
                format!("{key} \"{shown}\" {why}"),
                Some("give the balancer host's own IP address, e.g. \"10.0.0.11\": keepalived sends VRRP from it to the other hosts"),
            );
            return None;
        }
    };
    let problem = match vip {
        Some(v) if v == ip => Some((
            "is the virtual IP".to_string(),
            "the virtual IP floats between the hosts: give each host its own address, and the virtual IP one no host has",
        )),
        Some(v) if v.is_ipv4() != ip.is_ipv4() => Some((
            format!("is {}, the virtual IP {}", family(ip), family(v)),
            "VRRP carries one family per instance: give IPv4 host addresses for an IPv4 virtual IP, IPv6 for IPv6",
        )),
        _ if earlier.iter().any(|e| e.address == ip) => Some((
            "is given twice".to_string(),
            "give every balancer host its own address",
        )),
        _ => None,
    };
    if let Some((why, fix)) = problem {
        c.at(at, format!("{key} \"{shown}\" {why}"), Some(fix));
        return None;
    }
    if let Some(node) = nodes
        .iter()
        .find(|n| n.address.trim().parse::<IpAddr>() == Ok(ip))
    {
        c.at(
            at,
            format!("{key} \"{shown}\" is the address of node {}", node.name),
            Some("a balancer host needs an address of its own: an MDaemon node cannot be its own balancer here"),
        );
        return None;
    }
    Some(ip)
}

fn host_priority(c: &mut Collector, h: &RawHaHost, index: usize, earlier: &[HaHost]) -> Option<u8> {
    let (priority, at) = match &h.priority {
        Some(p) => match u8::try_from(*p.get_ref()) {
            Ok(n) if (1..=254).contains(&n) => (n, p.span().start),
            _ => {
                c.at(
                    p.span().start,
                    format!("load_balancer.ha.hosts.priority {} is out of range", p.get_ref()),
                    Some("use a number from 1 to 254 (255 belongs to a router that owns the address); the host with the highest holds the virtual IP"),
                );
                return None;
            }
        },
        None => {
            let step = u32::from(PRIORITY_STEP) * index as u32;
            match u32::from(FIRST_PRIORITY)
                .checked_sub(step)
                .and_then(|p| u8::try_from(p).ok())
            {
                Some(p) if p >= 1 => (p, h.name.span().start),
                _ => {
                    c.at(
                        h.name.span().start,
                        format!(
                            "balancer host \"{}\" has no priority, and the default ran out",
                            crate::text::sanitize(h.name.get_ref())
                        ),
                        Some("give every host priority = 1 to 254"),
                    );
                    return None;
                }
            }
        }
    };
    if let Some(other) = earlier.iter().find(|e| e.priority == priority) {
        c.at(
            at,
            format!(
                "balancer host \"{}\" has priority {priority}, as {} has",
                crate::text::sanitize(h.name.get_ref()),
                other.name
            ),
            Some("give every host its own priority (the highest holds the virtual IP); without priority keys they get 150, 140, 130 in the order given"),
        );
        return None;
    }
    Some(priority)
}

/// The balancer must answer on the virtual IP: listening on all addresses
/// or on the virtual IP itself.
pub(super) fn check_listen(c: &mut Collector, listen_at: usize, listen: IpAddr, ha: &Ha) {
    if !listen.is_unspecified() && listen != ha.virtual_ip {
        c.at(
            listen_at,
            format!(
                "load_balancer.listen {listen} is neither the virtual IP {} nor all addresses",
                ha.virtual_ip
            ),
            Some("with [load_balancer.ha] the balancer must answer on the virtual IP: set listen to it (and net.ipv4.ip_nonlocal_bind = 1 on the hosts) or to \"0.0.0.0\""),
        );
    }
}

/// The table as a saved plan writes it (priorities always, so they read back the same).
pub(super) fn table(ha: &Ha) -> HaTable {
    HaTable {
        virtual_ip: ha.virtual_ip_text(),
        interface: ha.interface.clone(),
        router_id: i64::from(ha.router_id),
        health_check: ha.health_check,
        process: ha.process.clone(),
        check_script: ha.check_script.clone(),
        hosts: ha
            .hosts
            .iter()
            .map(|h| HaHostTable {
                name: h.name.clone(),
                address: h.address.to_string(),
                priority: i64::from(h.priority),
                interface: h.interface.clone(),
            })
            .collect(),
    }
}
