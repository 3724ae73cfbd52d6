//! Finding the nodes on the LAN: mDNS service discovery of
//! `_mdcluster._tcp.local.` (mdns-sd).
//!
//! - A [`Scope`] says which interfaces take part. In production: every
//!   non-loopback interface that is up; loopback is never advertised. Tests and
//!   local trials use `loopback` (nothing leaves the machine) or name the
//!   interfaces of network namespaces they made.
//! - The [`Announcer`] (on a secondary, `mdcluster join`) registers the node's
//!   signed announcement and signs it again every [`RESIGN`], so its timestamp
//!   stays fresh.
//! - The [`Browser`] (on the primary) collects what answers, merging repeated
//!   and partial resolutions of one instance (addresses arrive in pieces).
//!   Everything from the network is bounded before it is kept.
//! - [`survey`] judges what was heard: each node against the cluster rules.

pub mod survey;

use crate::cluster::facts::{now_ms, Facts};
use crate::cluster::pairing::{Announcement, JoinCode, Untrusted, SERVICE_TYPE};
use crate::problem::{Exit, Problem};
use mdns_sd::{IfKind, ServiceDaemon, ServiceEvent, ServiceInfo};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a secondary signs its announcement again.
pub(crate) const RESIGN: Duration = Duration::from_secs(20);
/// The port in the service record: MDaemon's Remote Administration (nothing
/// connects to it through discovery; the TXT record carries the facts).
const PORT: u16 = 1000;
/// Most instances kept, so a flood of answers cannot exhaust memory.
const MAX_SIGHTINGS: usize = 256;

/// Which interfaces discovery uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    /// Loopback only: nothing leaves this machine (tests, trials).
    pub loopback: bool,
    /// Only these interfaces (by name); empty: every non-loopback one that is up.
    pub interfaces: Vec<String>,
}

/// One local network: an address and its prefix length.
pub(crate) type Network = (IpAddr, u8);

impl Scope {
    /// The local networks in scope.
    pub fn networks(&self) -> Vec<Network> {
        let Ok(list) = if_addrs::get_if_addrs() else {
            return Vec::new();
        };
        list.into_iter()
            .filter(|i| {
                if self.loopback {
                    i.is_loopback()
                } else if !self.interfaces.is_empty() {
                    // A named interface counts only when it is up, like the
                    // default's: announcing on a link that is down reaches no one.
                    self.interfaces.contains(&i.name) && i.is_oper_up()
                } else {
                    !i.is_loopback() && i.is_oper_up()
                }
            })
            .filter(|i| match i.ip() {
                // Scoped addresses need an interface id; loopback trials stay on IPv4.
                IpAddr::V6(v6) => !self.loopback && !v6.is_unicast_link_local(),
                IpAddr::V4(_) => true,
            })
            .map(|i| match i.addr {
                if_addrs::IfAddr::V4(a) => (IpAddr::V4(a.ip), a.prefixlen),
                if_addrs::IfAddr::V6(a) => (IpAddr::V6(a.ip), a.prefixlen),
            })
            .collect()
    }

    pub fn addresses(&self) -> Vec<IpAddr> {
        let mut a: Vec<IpAddr> = self.networks().into_iter().map(|(ip, _)| ip).collect();
        a.sort();
        a.dedup();
        a.truncate(8);
        a
    }

    fn interface(name: &str) -> Scope {
        Scope {
            loopback: false,
            interfaces: vec![name.to_string()],
        }
    }

    /// Why named interfaces cannot be used: one phrase per unusable name (not
    /// found with an address, down, or only link-local IPv6 addresses). Empty
    /// for the other scopes.
    pub(crate) fn unusable(&self) -> Vec<String> {
        if self.loopback || self.interfaces.is_empty() {
            return Vec::new();
        }
        let list = if_addrs::get_if_addrs().unwrap_or_default();
        self.interfaces
            .iter()
            .filter_map(|name| {
                let mine: Vec<&if_addrs::Interface> =
                    list.iter().filter(|i| &i.name == name).collect();
                if mine.is_empty() {
                    Some(format!("{name}: no such interface, or it has no address"))
                } else if !mine.iter().any(|i| i.is_oper_up()) {
                    Some(format!("{name} is down (no link)"))
                } else if Scope::interface(name).networks().is_empty() {
                    Some(format!("{name} has only IPv6 link-local addresses"))
                } else {
                    None
                }
            })
            .collect()
    }

    /// The scope, and what is wrong with the interfaces it names.
    fn describe_problems(&self) -> String {
        let unusable = self.unusable();
        if unusable.is_empty() {
            self.describe()
        } else {
            format!("{}: {}", self.describe(), unusable.join("; "))
        }
    }

    pub fn describe(&self) -> String {
        if self.loopback {
            "loopback only".into()
        } else if !self.interfaces.is_empty() {
            format!("interfaces {}", self.interfaces.join(", "))
        } else {
            "every network interface except loopback".into()
        }
    }

    fn daemon(&self) -> Result<ServiceDaemon, Problem> {
        let fail = |e: mdns_sd::Error| {
            Problem::new(Exit::Other, format!("mDNS could not start: {e}"))
                .fix("check that UDP port 5353 may be used (another mDNS responder may hold it exclusively)")
        };
        let d = ServiceDaemon::new().map_err(fail)?;
        d.disable_interface(IfKind::All).map_err(fail)?;
        if self.loopback {
            d.enable_interface(IfKind::LoopbackV4).map_err(fail)?;
        } else if !self.interfaces.is_empty() {
            d.enable_interface(
                self.interfaces
                    .iter()
                    .map(|n| IfKind::Name(n.clone()))
                    .collect::<Vec<_>>(),
            )
            .map_err(fail)?;
        } else {
            d.enable_interface(IfKind::IPv4).map_err(fail)?;
            d.disable_interface(IfKind::LoopbackV4).map_err(fail)?;
        }
        Ok(d)
    }
}

/// Announces a node until stopped (or dropped).
pub struct Announcer {
    daemon: ServiceDaemon,
    fullname: String,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Announcer {
    /// Start announcing; `facts` is read again before each signature.
    pub fn start(
        scope: &Scope,
        code: JoinCode,
        facts: impl Fn() -> Facts + Send + 'static,
    ) -> Result<Announcer, Problem> {
        let daemon = scope.daemon()?;
        let first = facts();
        if first.addresses.is_empty() {
            return Err(Problem::refused(format!(
                "no network address to announce on ({})",
                scope.describe_problems()
            ))
            .fix(
                "connect this machine to the primary's LAN, or name an interface with --interface",
            ));
        }
        let info = service_info(&Announcement::sign(first.clone(), now_ms(), &code))?;
        let fullname = info.get_fullname().to_string();
        daemon
            .register(info)
            .map_err(|e| Problem::other(format!("could not announce: {e}")))?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (daemon, stop) = (daemon.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::park_timeout(RESIGN);
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    if let Ok(info) = service_info(&Announcement::sign(facts(), now_ms(), &code)) {
                        let _ = daemon.register(info);
                    }
                }
            })
        };
        Ok(Announcer {
            daemon,
            fullname,
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Announcer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
        if let Ok(rx) = self.daemon.unregister(&self.fullname) {
            let _ = rx.recv_timeout(Duration::from_secs(1));
        }
        let _ = self.daemon.shutdown();
    }
}

fn service_info(a: &Announcement) -> Result<ServiceInfo, Problem> {
    let name = &a.facts.name;
    let host = format!("{}.local.", name.to_ascii_lowercase());
    let props: Vec<(String, String)> = a.to_txt();
    let props: Vec<(&str, &str)> = props
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    ServiceInfo::new(
        SERVICE_TYPE,
        name,
        &host,
        &a.facts.addresses[..],
        PORT,
        &props[..],
    )
    .map_err(|e| Problem::other(format!("could not build the announcement: {e}")))
}

/// One announcing instance as seen from here.
#[derive(Clone, Debug)]
pub struct Sighting {
    /// The instance's full mDNS name (bounded; shown escaped).
    pub fullname: String,
    /// Addresses from the mDNS records, merged across answers. Not signed:
    /// only those in the signed announcement are the node's
    /// ([`Sighting::signed_and_unsigned`]).
    pub addresses: BTreeSet<IpAddr>,
    pub announcement: Result<Announcement, Untrusted>,
    pub first_seen: Instant,
    pub updated: Instant,
}

impl Sighting {
    /// The node name: from the announcement, else the instance label.
    pub fn name(&self) -> String {
        match &self.announcement {
            Ok(a) => a.facts.name.clone(),
            Err(_) => self
                .fullname
                .split('.')
                .next()
                .unwrap_or_default()
                .chars()
                .take(63)
                .collect(),
        }
    }

    /// The addresses from the mDNS records, split by the node's (trusted)
    /// announcement: those it signs, which are the node's, and the others,
    /// which only an unsigned A/AAAA record for its host name gives (anyone on
    /// the LAN can send one), so they are never attributed to it.
    pub(crate) fn signed_and_unsigned(&self, a: &Announcement) -> (Vec<IpAddr>, Vec<IpAddr>) {
        self.addresses
            .iter()
            .partition(|ip| a.facts.addresses.contains(ip))
    }

    /// Trusted: well-formed, signed with `code`, and fresh.
    pub(crate) fn trust(
        &self,
        code: Option<&JoinCode>,
        now: i64,
    ) -> Result<&Announcement, Untrusted> {
        let a = self.announcement.as_ref().map_err(Clone::clone)?;
        a.verify(code, now)?;
        // The signed addresses must include one the records came from, so a
        // copied announcement cannot send the primary elsewhere.
        if !a
            .facts
            .addresses
            .iter()
            .any(|ip| self.addresses.contains(ip))
            && !self.addresses.is_empty()
        {
            return Err(Untrusted::Malformed(
                "the signed addresses do not match where it answers from".into(),
            ));
        }
        Ok(a)
    }
}

/// Browses for announcements until dropped.
pub struct Browser {
    daemon: ServiceDaemon,
    rx: mdns_sd::Receiver<ServiceEvent>,
    seen: BTreeMap<String, Sighting>,
}

impl Browser {
    pub fn start(scope: &Scope) -> Result<Browser, Problem> {
        let daemon = scope.daemon()?;
        let rx = daemon
            .browse(SERVICE_TYPE)
            .map_err(|e| Problem::other(format!("could not browse: {e}")))?;
        Ok(Browser {
            daemon,
            rx,
            seen: BTreeMap::new(),
        })
    }

    /// Take what arrived, waiting at most `wait` for the first event. True when
    /// something changed.
    pub fn poll(&mut self, wait: Duration) -> bool {
        let mut changed = false;
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let event = if changed {
                self.rx.try_recv().ok()
            } else {
                self.rx.recv_timeout(left).ok()
            };
            let Some(event) = event else { break };
            changed |= self.take(event);
        }
        changed
    }

    fn take(&mut self, event: ServiceEvent) -> bool {
        match event {
            ServiceEvent::ServiceResolved(r) => {
                let fullname: String = r.get_fullname().chars().take(255).collect();
                let props: BTreeMap<String, String> = r
                    .get_properties()
                    .iter()
                    .take(64)
                    .map(|p| {
                        (
                            p.key().chars().take(32).collect(),
                            p.val_str().chars().take(255).collect(),
                        )
                    })
                    .collect();
                let addresses: BTreeSet<IpAddr> = r
                    .get_addresses()
                    .iter()
                    .map(|a| a.to_ip_addr())
                    .take(16)
                    .collect();
                let now = Instant::now();
                if !self.seen.contains_key(&fullname) && self.seen.len() >= MAX_SIGHTINGS {
                    return false;
                }
                let entry = self
                    .seen
                    .entry(fullname.clone())
                    .or_insert_with(|| Sighting {
                        fullname,
                        addresses: BTreeSet::new(),
                        announcement: Err(Untrusted::Unsigned),
                        first_seen: now,
                        updated: now,
                    });
                entry.addresses.extend(addresses);
                while entry.addresses.len() > 16 {
                    entry.addresses.pop_last();
                }
                entry.announcement = Announcement::from_txt(&props);
                entry.updated = now;
                true
            }
            ServiceEvent::ServiceRemoved(_, fullname) => self.seen.remove(&fullname).is_some(),
            _ => false,
        }
    }

    pub(crate) fn sightings(&self) -> impl Iterator<Item = &Sighting> {
        self.seen.values()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.daemon.stop_browse(SERVICE_TYPE);
        let _ = self.daemon.shutdown();
    }
}

/// Why nothing (trusted) was found, as far as can be seen from here.
pub(crate) fn explain_nothing(
    scope: &Scope,
    seen: usize,
    trusted: usize,
    waited: Duration,
) -> String {
    if scope.networks().is_empty() {
        return format!("no network interface to search on ({}): connect this machine to the LAN, or name one with --interface", scope.describe_problems());
    }
    if seen == 0 {
        return format!(
            "nothing answered within {} s on {}: is `mdcluster join` running on the secondary, on the same LAN (mDNS does not cross routers)?",
            waited.as_secs(),
            scope.describe()
        );
    }
    if trusted == 0 {
        return format!("{seen} node(s) answered, but none with a valid signature: start `mdcluster join` there with this primary's join code (`mdcluster code --show` prints it)");
    }
    String::new()
}
