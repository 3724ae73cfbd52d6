//! A SIMULATED cluster on this machine, for the demo and the tests: N sample
//! secondaries that announce themselves exactly like `mdcluster join` does,
//! and a simulated primary cluster service that writes realistic cluster-log
//! lines once a node is registered in the cluster manifest.
//!
//! It is not MDaemon. Every secondary is a sandbox (`mdcluster sandbox
//! --secondary-of`), labelled as a simulation in a README next to it; the
//! command's output and JSON say so on every line. Only the log lines carry
//! no marker: they must look like MDaemon's own, because they are what the
//! log follower and `verify` read.
//!
//! The primary service polls the manifest on the share. When one of its
//! nodes is registered there, it appends to the primary's daily cluster log
//! (`<root>/Logs/MDaemon-YYYY-MM-DD-Cluster.log` by the profile, local date,
//! CRLF): a connection line, then a replication line every interval, in the
//! classic or the service format (or alternating). Faults on request:
//! - `never-connects`: no connection line; a "lost connection" line on the
//!   first replication tick and every fifth one after it;
//! - `clock`, `timezone`: a warning right after the connection line;
//! - `replication-error`: replication failed lines instead of complete ones;
//! - `rollover`: after the node's first replication line, the log clock jumps
//!   to the next local midnight (simulated time = real time + the distance to
//!   midnight), so every later line goes to the next day's file, stamped from
//!   00:00:00 on, as when the date changes while MDaemon runs.
//!
//! Each simulated secondary also has a cluster service of its own: once it
//! is registered, it writes the same lines about the primary (the
//! manifest's `primary`) to its own daily cluster log
//! (`<secondary>/Logs/MDaemon-YYYY-MM-DD-Cluster.log`), which `mdcluster
//! join` on it follows. Faults that apply to the secondary apply there too
//! (`never-connects`: no connection line in its log either).

pub mod logline;
pub mod services;

use crate::cluster::manifest::Manifest;
use crate::cluster::pairing::JoinCode;
use crate::discovery::{Announcer, Scope};
use crate::plan::ServerId;
use crate::problem::{Exit, Problem};
use crate::profile::Profile;
use logline::{Event, Format, Origin};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The README written into the simulation's folders.
pub const README: &str = "SIMULATION-README.txt";

/// Which format the simulated primary writes its cluster log in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Classic,
    Service,
    /// Classic and service lines alternately (both formats in one file).
    Mixed,
}

/// A fault the simulation plays on request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    NeverConnects,
    Clock,
    ReplicationError,
    Rollover,
    Timezone,
}

impl FaultKind {
    pub const ALL: [(&'static str, FaultKind); 5] = [
        ("never-connects", FaultKind::NeverConnects),
        ("clock", FaultKind::Clock),
        ("replication-error", FaultKind::ReplicationError),
        ("rollover", FaultKind::Rollover),
        ("timezone", FaultKind::Timezone),
    ];
}

/// `KIND` (every node) or `NODE:KIND`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Fault {
    pub node: Option<String>,
    pub kind: FaultKind,
}

impl std::str::FromStr for Fault {
    type Err = String;
    fn from_str(s: &str) -> Result<Fault, String> {
        let (node, kind) = match s.rsplit_once(':') {
            Some((n, k)) => (Some(n.trim().to_uppercase()), k.trim()),
            None => (None, s.trim()),
        };
        if node.as_deref() == Some("") {
            return Err(format!("'{s}': the node name before ':' is empty"));
        }
        let kind = FaultKind::ALL
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(kind))
            .map(|(_, k)| *k)
            .ok_or_else(|| {
                let names: Vec<&str> = FaultKind::ALL.iter().map(|(n, _)| *n).collect();
                format!(
                    "'{s}': no such fault; say KIND or NODE:KIND with KIND one of {}",
                    names.join(", ")
                )
            })?;
        Ok(Fault { node, kind })
    }
}

/// What to simulate.
#[derive(Clone, Debug)]
pub struct Config {
    /// The primary's installation (a sandbox).
    pub primary: PathBuf,
    /// The share, as this machine reaches it (the manifest is below it).
    pub share: PathBuf,
    /// Where the secondaries' sample installations go.
    pub dir: PathBuf,
    /// The secondaries' names (NetBIOS names, upper case).
    pub names: Vec<String>,
    pub code: JoinCode,
    pub scope: Scope,
    /// Time between replication lines of a node.
    pub interval: Duration,
    pub format: LogFormat,
    pub faults: Vec<Fault>,
    /// Stop by itself after this long (None: until stopped).
    pub stop_after: Option<Duration>,
}

/// What happens, for the command to print.
#[derive(Clone, Debug, PartialEq)]
pub enum Report {
    /// A secondary's sample installation, made now or found from an earlier run.
    Secondary {
        name: String,
        dir: PathBuf,
        created: bool,
    },
    Announcing {
        name: String,
    },
    Registered {
        name: String,
        server_id: ServerId,
    },
    /// A node no longer registered in the manifest.
    Unregistered {
        name: String,
    },
    Line {
        /// The secondary whose own cluster log it is (None: the primary's).
        on: Option<String>,
        node: String,
        kind: &'static str,
        format: Format,
        file: PathBuf,
        line: String,
    },
    /// The log clock jumped to the next midnight.
    Rollover {
        from: PathBuf,
        to: PathBuf,
    },
    Note {
        text: String,
    },
}

/// The names `SIM2`, `SIM3`, … for `n` secondaries.
pub(crate) fn default_names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("SIM{}", i + 2)).collect()
}

/// The address the `i`-th simulated secondary (from 0) announces when the
/// simulation stays on loopback: one of its own in 127.0.0.0/8 (127.0.0.11,
/// .12, …), so a balancer can tell the nodes apart, as on a LAN.
pub fn loopback_address(i: usize) -> std::net::IpAddr {
    let last = u8::try_from(11 + i.min(200)).unwrap_or(211);
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, last))
}

/// Whether this machine answers on loopback addresses beyond 127.0.0.1
/// (Linux and Windows do for all of 127.0.0.0/8; macOS and the BSDs only
/// for the addresses configured on lo0).
pub fn own_loopback_addresses() -> bool {
    static WORKS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *WORKS.get_or_init(|| {
        std::net::TcpListener::bind(std::net::SocketAddr::new(loopback_address(0), 0)).is_ok()
    })
}

/// What the `i`-th simulated secondary announces: its own loopback
/// address where the simulation stays on loopback (and the machine has
/// them), else the scope's.
fn announced_addresses(scope: &crate::discovery::Scope, i: usize) -> Vec<std::net::IpAddr> {
    if scope.loopback && scope.interfaces.is_empty() && own_loopback_addresses() {
        vec![loopback_address(i)]
    } else {
        scope.addresses()
    }
}

#[derive(Clone, Debug)]
enum NodeState {
    Waiting,
    Active {
        server_id: ServerId,
        ticks: u64,
        next_due: jiff::Timestamp,
    },
    Gone,
}

/// The simulated primary's cluster service: what it writes, tick by tick.
/// Time comes in as an argument, so tests can drive it.
pub(crate) struct PrimaryService {
    root: PathBuf,
    profile: Profile,
    format: LogFormat,
    faults: Vec<Fault>,
    interval: jiff::SignedDuration,
    nodes: BTreeMap<String, (usize, NodeState)>,
    /// How far the log clock is ahead of the real one (rollover).
    shift: jiff::SignedDuration,
    rolled: bool,
    written: u64,
    /// The secondary whose own log this service writes (None: the primary).
    on: Option<String>,
}

impl PrimaryService {
    pub fn new(
        root: &Path,
        profile: &Profile,
        names: &[String],
        format: LogFormat,
        faults: &[Fault],
        interval: Duration,
    ) -> PrimaryService {
        let interval = jiff::SignedDuration::try_from(interval)
            .unwrap_or(jiff::SignedDuration::from_secs(2))
            .max(jiff::SignedDuration::from_millis(50));
        PrimaryService {
            root: root.to_path_buf(),
            profile: profile.clone(),
            format,
            faults: faults.to_vec(),
            interval,
            nodes: names
                .iter()
                .enumerate()
                .map(|(i, n)| (n.clone(), (i, NodeState::Waiting)))
                .collect(),
            shift: jiff::SignedDuration::ZERO,
            rolled: false,
            written: 0,
            on: None,
        }
    }

    fn has(&self, node: &str, kind: FaultKind) -> bool {
        self.faults.iter().any(|f| {
            f.kind == kind
                && f.node
                    .as_deref()
                    .is_none_or(|n| n.eq_ignore_ascii_case(node))
        })
    }

    /// Whether a node has been registered (and so no longer announces).
    pub(crate) fn is_registered(&self, node: &str) -> bool {
        self.nodes
            .get(node)
            .is_some_and(|(_, s)| !matches!(s, NodeState::Waiting))
    }

    /// The log clock: local time, plus the rollover's jump.
    fn log_time(&self, now: &jiff::Zoned) -> jiff::Zoned {
        now.checked_add(self.shift).unwrap_or_else(|_| now.clone())
    }

    /// Append one event; the report of the line written.
    fn write(
        &mut self,
        now: &jiff::Zoned,
        index: usize,
        node: &str,
        event: Event,
        out: &mut Vec<Report>,
    ) -> Result<(), Problem> {
        let at = self.log_time(now);
        let format = match self.format {
            LogFormat::Classic => Format::Classic,
            LogFormat::Service => Format::Service,
            LogFormat::Mixed if self.written.is_multiple_of(2) => Format::Classic,
            LogFormat::Mixed => Format::Service,
        };
        let origin = Origin {
            thread: 17 + index as u32,
            id: 0x1002_FA89 + index as u32,
        };
        let line = logline::format_line(format, at.datetime(), origin, &event);
        let file = logline::file_for(&self.root, &self.profile, at.date());
        logline::append(&file, &line)
            .map_err(|e| Problem::io(Exit::Failed, "append to the cluster log", &file, &e))?;
        self.written += 1;
        out.push(Report::Line {
            on: self.on.clone(),
            node: node.to_string(),
            kind: event.kind(),
            format,
            file,
            line: line.trim_end().to_string(),
        });
        Ok(())
    }

    /// Look at the manifest (None: none yet) at local time `now`; write what
    /// is due. Returns what happened.
    pub(crate) fn tick(
        &mut self,
        manifest: Option<&Manifest>,
        now: &jiff::Zoned,
    ) -> Result<Vec<Report>, Problem> {
        let registered = |name: &str| {
            manifest
                .and_then(|m| m.member(name))
                .filter(|m| m.registered.is_some())
                .map(|m| m.server_id)
        };
        self.tick_by(&registered, now)
    }

    /// [`PrimaryService::tick`] with the registration of each node (its
    /// server ID, None: not registered) told by `registered`.
    fn tick_by(
        &mut self,
        registered: &dyn Fn(&str) -> Option<ServerId>,
        now: &jiff::Zoned,
    ) -> Result<Vec<Report>, Problem> {
        let mut out = Vec::new();
        let ts = now.timestamp();
        let names: Vec<String> = self.nodes.keys().cloned().collect();
        for name in names {
            let Some((index, state)) = self.nodes.get(&name).cloned() else {
                continue;
            };
            let next = match (state, registered(&name)) {
                (NodeState::Waiting, Some(server_id)) => {
                    out.push(Report::Registered {
                        name: name.clone(),
                        server_id,
                    });
                    if !self.has(&name, FaultKind::NeverConnects) {
                        let connected = Event::Connected {
                            node: name.clone(),
                            server_id,
                        };
                        self.write(now, index, &name, connected, &mut out)?;
                        if self.has(&name, FaultKind::Clock) {
                            let seconds = 2.4 + index as f64 * 0.3;
                            let e = Event::ClockWarning {
                                node: name.clone(),
                                seconds,
                            };
                            self.write(now, index, &name, e, &mut out)?;
                        }
                        if self.has(&name, FaultKind::Timezone) {
                            let e = Event::TimeZoneWarning { node: name.clone() };
                            self.write(now, index, &name, e, &mut out)?;
                        }
                    }
                    NodeState::Active {
                        server_id,
                        ticks: 0,
                        next_due: ts.checked_add(self.interval).unwrap_or(ts),
                    }
                }
                (NodeState::Waiting, None) => NodeState::Waiting,
                (NodeState::Active { .. }, None) => {
                    out.push(Report::Unregistered { name: name.clone() });
                    let e = Event::Disconnected { node: name.clone() };
                    self.write(now, index, &name, e, &mut out)?;
                    NodeState::Gone
                }
                (
                    NodeState::Active {
                        server_id,
                        ticks,
                        next_due,
                    },
                    Some(_),
                ) if ts >= next_due => {
                    let ticks = ticks + 1;
                    let event = if self.has(&name, FaultKind::NeverConnects) {
                        (ticks - 1)
                            .is_multiple_of(5)
                            .then(|| Event::Disconnected { node: name.clone() })
                    } else if self.has(&name, FaultKind::ReplicationError) {
                        Some(Event::ReplicationError {
                            node: name.clone(),
                            reason: "the connection to the node was reset (10054)".into(),
                        })
                    } else {
                        Some(Event::ReplicationDone {
                            node: name.clone(),
                            items: (ticks * 7 + index as u64 * 13) % 50 + 1,
                        })
                    };
                    if let Some(e) = event {
                        self.write(now, index, &name, e, &mut out)?;
                    }
                    if ticks == 1 && !self.rolled && self.has(&name, FaultKind::Rollover) {
                        self.roll_over(now, &mut out);
                    }
                    // Never a burst after a pause (a suspended machine).
                    let mut due = next_due.checked_add(self.interval).unwrap_or(ts);
                    if due <= ts {
                        due = ts.checked_add(self.interval).unwrap_or(ts);
                    }
                    NodeState::Active {
                        server_id,
                        ticks,
                        next_due: due,
                    }
                }
                (s @ NodeState::Active { .. }, Some(_)) => s,
                (NodeState::Gone, _) => NodeState::Gone,
            };
            self.nodes.insert(name, (index, next));
        }
        Ok(out)
    }

    /// Jump the log clock to the next local midnight.
    fn roll_over(&mut self, now: &jiff::Zoned, out: &mut Vec<Report>) {
        let at = self.log_time(now);
        let Ok(midnight) = at
            .date()
            .tomorrow()
            .and_then(|d| d.to_zoned(at.time_zone().clone()))
        else {
            return;
        };
        self.shift += at.duration_until(&midnight);
        self.rolled = true;
        out.push(Report::Rollover {
            from: logline::file_for(&self.root, &self.profile, at.date()),
            to: logline::file_for(&self.root, &self.profile, midnight.date()),
        });
    }
}

/// A simulated secondary's own cluster service: once the secondary is
/// registered in the manifest, it writes to the secondary's own cluster log
/// (`<secondary>/Logs/MDaemon-DATE-Cluster.log`) about the primary, with the
/// same lines as the primary's service (connected, then replication every
/// interval), honouring the faults that apply to this secondary.
struct SecondaryService {
    name: String,
    root: PathBuf,
    /// Made once the secondary is registered and the manifest names the primary.
    service: Option<(String, PrimaryService)>,
}

impl SecondaryService {
    fn tick(
        &mut self,
        manifest: Option<&Manifest>,
        now: &jiff::Zoned,
        profile: &Profile,
        cfg: &Config,
    ) -> Result<Vec<Report>, Problem> {
        let me = manifest
            .and_then(|m| m.member(&self.name))
            .is_some_and(|m| m.registered.is_some());
        if self.service.is_none() {
            let primary = manifest
                .map(|m| m.primary.clone())
                .filter(|p| !p.is_empty());
            let Some(primary) = primary.filter(|_| me) else {
                return Ok(Vec::new());
            };
            // Faults for this secondary, now about its peer: the primary.
            let faults: Vec<Fault> = cfg
                .faults
                .iter()
                .filter(|f| {
                    f.node
                        .as_deref()
                        .is_none_or(|n| n.eq_ignore_ascii_case(&self.name))
                })
                .map(|f| Fault {
                    node: None,
                    kind: f.kind,
                })
                .collect();
            let mut service = PrimaryService::new(
                &self.root,
                profile,
                std::slice::from_ref(&primary),
                cfg.format,
                &faults,
                cfg.interval,
            );
            service.on = Some(self.name.clone());
            self.service = Some((primary, service));
        }
        let Some((primary, service)) = self.service.as_mut() else {
            return Ok(Vec::new());
        };
        let id = manifest
            .and_then(|m| m.member(primary))
            .map(|m| m.server_id)
            .unwrap_or(ServerId::FIRST);
        let primary = primary.clone();
        let registered = |n: &str| (me && n.eq_ignore_ascii_case(&primary)).then_some(id);
        let reports = service.tick_by(&registered, now)?;
        // Registration is the primary service's to report.
        Ok(reports
            .into_iter()
            .filter(|r| !matches!(r, Report::Registered { .. } | Report::Unregistered { .. }))
            .collect())
    }
}

/// The README text of the simulation's folder.
fn readme(primary: &Path, names: &[String]) -> String {
    format!(
        "SIMULATION - this is not MDaemon.\r\n\r\n\
         `mdcluster simulate` made the folders here: SAMPLE secondary installations\r\n\
         ({}) of the SAMPLE primary at {}, for the demo and the tests.\r\n\
         They announce themselves like `mdcluster join`, and a SIMULATED primary\r\n\
         cluster service writes cluster-log lines into the primary's Logs folder once\r\n\
         a node is registered; each registered secondary's SIMULATED service writes\r\n\
         lines about the primary into its own Logs folder. Delete this folder when\r\n\
         you are done with it.\r\n",
        names.join(", "),
        primary.display()
    )
}

/// Make (or find from an earlier run) the sample secondary `name` in `dir`.
fn secondary(
    dir: &Path,
    primary: &Path,
    name: &str,
    index: usize,
    profile: &Profile,
) -> Result<bool, Problem> {
    let fresh =
        !crate::fsops::exists(dir) || crate::fsops::tree::is_empty_dir(dir).unwrap_or(false);
    if !fresh && !dir.join(crate::service::SANDBOX_MARKER).exists() {
        return Err(Problem::usage(format!(
            "{} exists and is not a sample installation",
            dir.display()
        ))
        .fix("give another folder for the simulated secondaries with --dir"));
    }
    if fresh {
        let opts = crate::sandbox::Options {
            accounts: 2,
            messages: 8,
            seed: 100 + index as u64,
            message_size: None,
        };
        crate::sandbox::create(dir, profile, &opts)?;
    }
    crate::sandbox::make_secondary(dir, primary, name, profile)?;
    let note = dir.join(README);
    std::fs::write(&note, readme(primary, &[name.to_string()]))
        .map_err(|e| Problem::io(Exit::Other, "write", &note, &e))?;
    Ok(fresh)
}

/// A simulation set up: secondaries made, announcing; the primary service
/// ready to run.
pub(crate) struct Prepared {
    cfg: Config,
    profile: Profile,
    service: PrimaryService,
    secondaries: Vec<SecondaryService>,
    announcers: BTreeMap<String, Announcer>,
}

/// A simulation runs for a sandbox, with a share that is a folder, at least
/// one secondary, and faults only for nodes it simulates.
fn check_config(cfg: &Config) -> Result<(), Problem> {
    if !cfg.primary.join(crate::service::SANDBOX_MARKER).exists() {
        return Err(Problem::usage(format!(
            "{} is not a sample installation made by `mdcluster sandbox`",
            cfg.primary.display()
        ))
        .fix("the simulation runs only for sandboxes: `mdcluster sandbox DIR` makes one"));
    }
    if !cfg.share.is_dir() {
        return Err(
            Problem::usage(format!("the share {} is not a folder", cfg.share.display()))
                .fix("create it, or give the folder the plan's [[mounts]] maps the share to"),
        );
    }
    if cfg.names.is_empty() {
        return Err(Problem::usage("simulate at least one secondary"));
    }
    for f in &cfg.faults {
        if let Some(n) = &f.node {
            if !cfg.names.iter().any(|x| x.eq_ignore_ascii_case(n)) {
                return Err(Problem::usage(format!(
                    "--fault {n}:…: {n} is not one of the simulated secondaries ({})",
                    cfg.names.join(", ")
                )));
            }
        }
    }
    Ok(())
}

/// Check the configuration, make the secondaries and start announcing.
pub(crate) fn prepare(
    profile: &Profile,
    cfg: &Config,
    report: &mut dyn FnMut(Report),
) -> Result<Prepared, Problem> {
    check_config(cfg)?;
    std::fs::create_dir_all(&cfg.dir)
        .map_err(|e| Problem::io(Exit::Usage, "create", &cfg.dir, &e))?;
    let note = cfg.dir.join(README);
    std::fs::write(&note, readme(&cfg.primary, &cfg.names))
        .map_err(|e| Problem::io(Exit::Other, "write", &note, &e))?;

    let service = PrimaryService::new(
        &cfg.primary,
        profile,
        &cfg.names,
        cfg.format,
        &cfg.faults,
        cfg.interval,
    );
    let manifest = Manifest::load(&cfg.share).ok().flatten();
    let mut announcers: BTreeMap<String, Announcer> = BTreeMap::new();
    for (i, name) in cfg.names.iter().enumerate() {
        let dir = cfg.dir.join(name);
        let created = secondary(&dir, &cfg.primary, name, i, profile)?;
        report(Report::Secondary {
            name: name.clone(),
            dir: dir.clone(),
            created,
        });
        let registered = manifest
            .as_ref()
            .and_then(|m| m.member(name))
            .is_some_and(|m| m.registered.is_some());
        if registered {
            continue;
        }
        let collect = {
            let (root, share, profile, scope, name) = (
                dir.clone(),
                cfg.share.clone(),
                profile.clone(),
                cfg.scope.clone(),
                name.clone(),
            );
            move || {
                crate::cluster::facts::collect(
                    &root,
                    &profile,
                    &name,
                    announced_addresses(&scope, i),
                    Some(&share),
                    &crate::cluster::facts::CertificateStore::of(&root),
                )
            }
        };
        announcers.insert(
            name.clone(),
            Announcer::start(&cfg.scope, cfg.code.clone(), collect)?,
        );
        report(Report::Announcing { name: name.clone() });
    }

    let secondaries = cfg
        .names
        .iter()
        .map(|name| SecondaryService {
            name: name.clone(),
            root: cfg.dir.join(name),
            service: None,
        })
        .collect();
    Ok(Prepared {
        cfg: cfg.clone(),
        profile: profile.clone(),
        service,
        secondaries,
        announcers,
    })
}

impl Prepared {
    /// Run until `stop` is set (or `stop_after` has passed); registered
    /// nodes stop announcing, and every node does when it returns.
    pub fn run(mut self, stop: &AtomicBool, report: &mut dyn FnMut(Report)) -> Result<(), Problem> {
        let cfg = &self.cfg;
        let load = || Manifest::load(&cfg.share);
        let mut manifest = None;
        let started = Instant::now();
        let mut damaged_told = false;
        while !stop.load(Ordering::Relaxed) && cfg.stop_after.is_none_or(|d| started.elapsed() < d)
        {
            match load() {
                Ok(m) => {
                    manifest = m;
                    damaged_told = false;
                }
                Err(p) if !damaged_told => {
                    damaged_told = true;
                    report(Report::Note {
                        text: format!("cannot read the cluster manifest: {}", p.what),
                    });
                }
                Err(_) => {}
            }
            let now = jiff::Zoned::now();
            for r in self.service.tick(manifest.as_ref(), &now)? {
                report(r);
            }
            for s in &mut self.secondaries {
                for r in s.tick(manifest.as_ref(), &now, &self.profile, cfg)? {
                    report(r);
                }
            }
            // A registered node stops announcing, as `join` ends.
            self.announcers
                .retain(|name, _| !self.service.is_registered(name));
            std::thread::sleep(Duration::from_millis(100));
        }
        self.announcers.clear();
        Ok(())
    }
}

/// Run the simulation in this thread until `stop` is set (or `stop_after`
/// has passed).
pub fn run(
    profile: &Profile,
    cfg: &Config,
    stop: &AtomicBool,
    report: &mut dyn FnMut(Report),
) -> Result<(), Problem> {
    prepare(profile, cfg, report)?.run(stop, report)
}

/// A simulation running on a thread of its own (the demo); stopped when
/// dropped.
pub struct Running {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Result<(), Problem>>>,
}

/// Set the simulation up here (errors come back at once), then run it on a
/// thread; every report goes to `sink`.
pub fn spawn(
    profile: &Profile,
    cfg: &Config,
    mut sink: impl FnMut(Report) + Send + 'static,
) -> Result<Running, Problem> {
    let prepared = prepare(profile, cfg, &mut sink)?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::Builder::new()
        .name("simulation".into())
        .spawn(move || prepared.run(&flag, &mut sink))
        .map_err(|e| Problem::other(format!("could not start the simulation: {e}")))?;
    Ok(Running {
        stop,
        thread: Some(thread),
    })
}

impl Running {
    /// Stop it and wait; what ended it, if it ended in an error.
    pub fn stop(mut self) -> Result<(), Problem> {
        self.finish()
    }

    fn finish(&mut self) -> Result<(), Problem> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(Problem::other("the simulation thread panicked")),
            None => Ok(()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

#[cfg(test)]
mod tests;
