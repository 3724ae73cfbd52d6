//! One round of checks: what is checked, from the plan and the cluster
//! manifest ([`Settings::for_plan`]), and the round itself ([`round`]):
//! every probe and the share at once in their own threads, the cluster log
//! read meanwhile, each result judged against the thresholds.

use super::inflight::Slot;
use super::{clean, probe, Check, State, Thresholds};
use crate::cluster::manifest::{registered_nodes, Manifest};
use crate::clusterlog::confirm::NodeLog;
use crate::clusterlog::NodeSpec;
use crate::location::Resolver;
use crate::plan::{Plan, Service};
use crate::problem::Problem;
use crate::profile::Profile;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A node whose services are checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeTarget {
    pub name: String,
    pub address: String,
    pub primary: bool,
}

/// What a round checks, and how.
#[derive(Clone, Debug)]
pub struct Settings {
    pub nodes: Vec<NodeTarget>,
    /// The services the balancer routes, with the port the nodes answer on.
    pub services: Vec<(Service, u16)>,
    /// The shared folder on this machine, when it can be located here.
    pub share: Result<PathBuf, String>,
    /// The primary's installation on this machine (its Logs hold the
    /// cluster log), when it is here.
    pub log_root: Option<PathBuf>,
    pub timeout: Duration,
    pub thresholds: Thresholds,
    /// What was found while deciding what to check (shown once).
    pub notes: Vec<String>,
}

/// A round's checks and their worst state.
#[derive(Clone, Debug)]
pub struct Round {
    pub checks: Vec<Check>,
    pub state: State,
    pub elapsed_ms: f64,
}

impl Round {
    /// Whether no service of `node` answered (a node with no service
    /// checked is never down).
    pub fn node_down(&self, node: &str) -> bool {
        let mut services = self
            .checks
            .iter()
            .filter(|c| {
                c.is_service()
                    && c.node
                        .as_deref()
                        .is_some_and(|n| n.eq_ignore_ascii_case(node))
            })
            .peekable();
        services.peek().is_some() && services.all(|c| c.answered != Some(true))
    }
    /// The checks not OK, worst first.
    pub fn problems(&self) -> Vec<&Check> {
        let mut p: Vec<&Check> = self
            .checks
            .iter()
            .filter(|c| c.state != State::Ok)
            .collect();
        p.sort_by_key(|c| std::cmp::Reverse(c.state));
        p
    }
}

impl Settings {
    /// The cluster's nodes (the manifest's primary and registered
    /// secondaries, at the plan's addresses; the plan's nodes when there is
    /// no manifest) and the balancer's services.
    pub fn for_plan(
        plan: &Plan,
        timeout: Duration,
        thresholds: Thresholds,
    ) -> Result<Settings, Problem> {
        let resolver = Resolver::new(plan.mounts.clone());
        let mut notes = Vec::new();
        let share = resolver
            .locate(&plan.shared.path)
            .map(|l| l.local)
            .map_err(|p| p.what);
        let manifest = match &share {
            Ok(dir) => read_manifest(dir, timeout, &mut notes),
            Err(_) => None,
        };
        let nodes = node_targets(plan, manifest.as_ref(), &mut notes);
        let log_root = resolver
            .locate(&plan.install_root)
            .ok()
            .map(|l| l.local)
            .filter(|root| root.is_dir());
        if log_root.is_none() {
            notes.push(
                "the primary's installation is not on this machine: the cluster log is not checked (run health on the primary for it)".into(),
            );
        }
        let lb = &plan.load_balancer;
        let services = lb.enabled().map(|s| (s, lb.backend_ports.get(s))).collect();
        Ok(Settings {
            nodes,
            services,
            share,
            log_root,
            timeout,
            thresholds,
            notes,
        })
    }

    /// Each (node, service) probed in a round.
    fn probes(&self) -> Vec<(&NodeTarget, Service, u16)> {
        self.nodes
            .iter()
            .flat_map(|n| {
                self.services
                    .iter()
                    .filter(move |(s, _)| n.primary || *s != Service::RemoteAdmin)
                    .map(move |(s, port)| (n, *s, *port))
            })
            .collect()
    }
}

fn node_targets(
    plan: &Plan,
    manifest: Option<&Manifest>,
    notes: &mut Vec<String>,
) -> Vec<NodeTarget> {
    let Some(m) = manifest else {
        notes.push("no cluster manifest on the share (or the share is not reachable here): the plan's nodes are checked".into());
        return plan
            .nodes
            .iter()
            .map(|n| NodeTarget {
                name: n.name.clone(),
                address: n.address.clone(),
                primary: n.role == crate::plan::Role::Primary,
            })
            .collect();
    };
    let (specs, unregistered) = registered_nodes(plan, Some(m));
    if !unregistered.is_empty() {
        notes.push(format!(
            "not in the cluster yet, not checked: {}",
            unregistered.join(", ")
        ));
    }
    specs
        .into_iter()
        .map(|s| {
            let planned = plan
                .nodes
                .iter()
                .find(|n| n.name.eq_ignore_ascii_case(&s.name))
                .map(|n| n.address.clone());
            NodeTarget {
                address: planned.unwrap_or(s.address),
                name: s.name,
                primary: s.primary,
            }
        })
        .filter(|n| {
            let known = !n.address.is_empty();
            if !known {
                notes.push(format!("{}: no address known, not checked", clean(&n.name)));
            }
            known
        })
        .collect()
}

/// The cluster manifest on the share, read within half the timeout (at most
/// 2 s) so that a share that hangs (a hard mount, an SMB server gone) costs
/// the check little; the round's share check then says it hangs. None (with
/// a note) when it cannot be read in time.
fn read_manifest(dir: &Path, timeout: Duration, notes: &mut Vec<String>) -> Option<Manifest> {
    let Some(slot) = Slot::take(format!("manifest:{}", dir.display())) else {
        notes.push("the shared folder still hangs (an earlier read of the cluster manifest waits): the plan's nodes are checked".into());
        return None;
    };
    let dir = dir.to_path_buf();
    let read = within(timeout.min(Duration::from_secs(2)) / 2, move || {
        let _slot = slot;
        if dir.is_dir() {
            Manifest::load(&dir)
        } else {
            Ok(None)
        }
    });
    match read {
        Some(Ok(m)) => m,
        Some(Err(p)) => {
            notes.push(format!("the cluster manifest cannot be read: {}", p.what));
            None
        }
        None => {
            notes.push("the shared folder did not answer in time to read the cluster manifest: the plan's nodes are checked".into());
            None
        }
    }
}

/// `f` on a thread of its own, if it ends within `timeout` (else it is left
/// to end by itself).
pub(crate) fn within<T: Send + 'static>(
    timeout: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(timeout).ok()
}

/// One round: every probe, the share check and the cluster log in parallel,
/// each bounded by the timeout; a probe that has not reported by then is
/// CRITICAL.
pub fn round(settings: &Settings, profile: &Profile) -> Round {
    let start = Instant::now();
    let (tx, rx) = crossbeam_channel::unbounded::<(usize, Check)>();
    let probes = settings.probes();
    let timeout = settings.timeout;
    let thresholds = settings.thresholds;
    for (i, (node, service, port)) in probes.iter().enumerate() {
        let (tx, node, service, port) = (tx.clone(), (*node).clone(), *service, *port);
        std::thread::spawn(move || {
            let answer = probe::probe(service, &node.address, port, timeout);
            let _ = tx.send((i, judge_probe(&node, service, port, &answer, &thresholds)));
        });
    }
    let share_slot = probes.len();
    let mut share_busy = false;
    if let Ok(dir) = settings.share.clone() {
        match Slot::take(format!("share:{}", dir.display())) {
            Some(slot) => {
                let tx = tx.clone();
                std::thread::spawn(move || {
                    let _slot = slot;
                    let _ = tx.send((share_slot, share_check(&dir, &thresholds)));
                });
            }
            None => share_busy = true,
        }
    }
    drop(tx);
    let (log_tx, log_rx) = crossbeam_channel::bounded(1);
    let log_slot = settings
        .log_root
        .as_ref()
        .and_then(|root| Slot::take(format!("log:{}", root.display())));
    if let (Some(root), Some(slot)) = (settings.log_root.clone(), log_slot) {
        let (profile, s) = (profile.clone(), settings.clone());
        std::thread::spawn(move || {
            let _slot = slot;
            let _ = log_tx.send(log_checks(&root, &profile, &s));
        });
    }
    let mut slots: Vec<Option<Check>> = vec![None; probes.len() + 1];
    // Every probe stops itself at the timeout; the margin covers a name
    // lookup that does not (the system resolver has its own).
    let deadline = start + timeout + Duration::from_millis(500);
    while let Ok((i, check)) = rx.recv_deadline(deadline) {
        slots[i] = Some(check);
    }
    let log_checks = match (&settings.log_root, log_rx.recv_deadline(deadline)) {
        (None, _) => Vec::new(),
        (Some(_), Ok(checks)) => checks,
        (Some(root), Err(_)) => vec![(
            Check::new(
                None,
                "cluster-log",
                &root.display().to_string(),
                State::Unknown,
            )
            .detail("the cluster log was not read within the timeout"),
            NodeLog::default(),
        )],
    };
    let mut checks: Vec<Check> = Vec::new();
    for (i, (node, service, port)) in probes.iter().enumerate() {
        checks.push(slots[i].take().unwrap_or_else(|| {
            Check::new(
                Some(&node.name),
                service.key(),
                &target(&node.address, *port),
                State::Critical,
            )
            .detail("no answer within the timeout")
        }));
    }
    checks.push(match &settings.share {
        Err(why) => Check::new(None, "share", "", State::Unknown).detail(format!(
            "the shared folder cannot be located on this machine: {why}"
        )),
        Ok(dir) => slots[share_slot].take().unwrap_or_else(|| {
            let why = if share_busy {
                "the share check of an earlier round has not ended: the shared folder hangs"
            } else {
                "no answer from the shared folder within the timeout"
            };
            Check::new(None, "share", &dir.display().to_string(), State::Critical).detail(why)
        }),
    });
    checks.extend(clock_checks(settings, &checks, &log_checks));
    checks.extend(log_checks.into_iter().map(|(c, _)| c));
    let state = checks.iter().map(|c| c.state).max().unwrap_or(State::Ok);
    Round {
        checks,
        state,
        elapsed_ms: probe::ms(start.elapsed()),
    }
}

fn target(address: &str, port: u16) -> String {
    if address.contains(':') {
        format!("[{address}]:{port}")
    } else {
        format!("{address}:{port}")
    }
}

fn judge_probe(
    node: &NodeTarget,
    service: Service,
    port: u16,
    a: &probe::Answer,
    t: &Thresholds,
) -> Check {
    let state = if a.up {
        t.latency(a.latency_ms)
    } else {
        State::Critical
    };
    let detail = if a.up && state != State::Ok {
        format!("{} (slow: {} ms)", a.detail, a.latency_ms)
    } else {
        a.detail.clone()
    };
    let mut c = Check::new(
        Some(&node.name),
        service.key(),
        &target(&node.address, port),
        state,
    )
    .detail(detail);
    c.latency_ms = Some(a.latency_ms);
    c.answered = Some(a.up);
    c.read = (!a.read.is_empty()).then(|| clean(&a.read));
    c.clock_offset_s = a.clock_offset_s;
    c
}

/// The share reachable and writable: a small file of a name of its own
/// (never an existing one) written, flushed, read back and removed, in
/// mdcluster's folder on the share once setup made it, else in the share's
/// top folder (as the shared-path step's write probe does). Probe files
/// this machine's killed checks left behind are removed once they are 10
/// minutes old (looked for at most every 10 minutes).
fn share_check(dir: &Path, t: &Thresholds) -> Check {
    let shown = dir.display().to_string();
    if !dir.is_dir() {
        let mut c = Check::new(None, "share", &shown, State::Critical)
            .detail("not reachable from this machine (not a folder here)");
        c.answered = Some(false);
        return c;
    }
    let ours = crate::cluster::manifest::dir_of(dir);
    let folder = if ours.is_dir() {
        ours
    } else {
        dir.to_path_buf()
    };
    let prefix = format!(
        "{PROBE_PREFIX}{}-",
        crate::platform::hostname()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(15)
            .collect::<String>()
    );
    remove_stale_probes(&folder, &prefix);
    let start = Instant::now();
    let file = folder.join(format!(
        "{prefix}{}-{:016x}.tmp",
        std::process::id(),
        rand::random::<u64>()
    ));
    let payload = format!("mdcluster health probe {}\n", jiff::Timestamp::now());
    let result = write_read_back(&file, payload.as_bytes());
    let answered = result.is_ok();
    let ms = probe::ms(start.elapsed());
    let mut c = match result {
        Ok(()) => {
            let state = t.latency(ms);
            let detail = if state == State::Ok {
                "reachable and writable".to_string()
            } else {
                format!("reachable and writable (slow: {ms} ms)")
            };
            Check::new(None, "share", &shown, state).detail(detail)
        }
        Err(e) => Check::new(None, "share", &shown, State::Critical)
            .detail(format!("not writable from this machine: {e}")),
    };
    c.answered = Some(answered);
    c.latency_ms = Some(ms);
    c
}

/// The share probe's file names start with this.
const PROBE_PREFIX: &str = ".mdcluster-health-";

fn write_read_back(file: &Path, payload: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(file)?;
        f.write_all(payload)?;
        f.sync_all()
    })();
    let back = written.and_then(|()| std::fs::read(file));
    let removed = std::fs::remove_file(file);
    let back = back?;
    removed?;
    if back != payload {
        return Err(std::io::Error::other(
            "what was read back differs from what was written",
        ));
    }
    Ok(())
}

/// When each folder was last looked at for stale probe files.
static LOOKED_AT: Mutex<BTreeMap<PathBuf, Instant>> = Mutex::new(BTreeMap::new());

/// This machine's probe files (`prefix`) older than 10 minutes: left by a
/// check that was killed. At most every 10 minutes per folder.
fn remove_stale_probes(folder: &Path, prefix: &str) {
    const AGE: Duration = Duration::from_secs(600);
    {
        let mut looked = LOOKED_AT.lock().unwrap_or_else(|e| e.into_inner());
        if looked.get(folder).is_some_and(|t| t.elapsed() < AGE) {
            return;
        }
        looked.insert(folder.to_path_buf(), Instant::now());
    }
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let stale = name.to_string_lossy().starts_with(prefix)
            && e.metadata().is_ok_and(|m| {
                m.is_file()
                    && m.modified()
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age > AGE)
            });
        if stale {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Per secondary: the cluster log's last confirmation and its age. The
/// primary writes the log about the others, so it has no row of its own.
fn log_checks(root: &Path, profile: &Profile, s: &Settings) -> Vec<(Check, NodeLog)> {
    let specs: Vec<NodeSpec> = s
        .nodes
        .iter()
        .map(|n| NodeSpec {
            name: n.name.clone(),
            address: n.address.clone(),
            primary: n.primary,
        })
        .collect();
    let (found, confirmations) = match crate::clusterlog::scan_once(root, profile, &specs) {
        Ok(x) => x,
        Err(p) => {
            return vec![(
                Check::new(
                    None,
                    "cluster-log",
                    &root.display().to_string(),
                    State::Unknown,
                )
                .detail(format!("the cluster log cannot be read: {}", p.what)),
                NodeLog::default(),
            )]
        }
    };
    let Some(file) = found.file.clone() else {
        return vec![(
            Check::new(
                None,
                "cluster-log",
                &root.display().to_string(),
                State::Warning,
            )
            .detail(found.describe()),
            NodeLog::default(),
        )];
    };
    let file = file.display().to_string();
    confirmations
        .nodes
        .into_iter()
        .filter(|(spec, _)| !spec.primary)
        .map(|(spec, log)| (log_check(&spec.name, &file, &log, &s.thresholds), log))
        .collect()
}

fn log_check(node: &str, file: &str, log: &NodeLog, t: &Thresholds) -> Check {
    let new = |state| Check::new(Some(node), "cluster-log", file, state);
    if let Some((false, seen)) = &log.connection {
        return new(State::Critical).detail(format!("connection lost: {}", seen.describe()));
    }
    if let Some((false, seen)) = &log.replication {
        return new(State::Critical).detail(format!("replication failed: {}", seen.describe()));
    }
    let confirmed: Option<String> = [&log.connection, &log.replication]
        .into_iter()
        .flatten()
        .filter_map(|(_, seen)| seen.time.clone())
        .max();
    let Some(time) = confirmed else {
        return if log.seen() {
            new(State::Warning).detail("in the cluster log, but with no time of a confirmation")
        } else {
            new(State::Warning).detail("no confirmation in the cluster log")
        };
    };
    let age = age_of(&time);
    let state = age.map(|a| t.log_age(a)).unwrap_or(State::Ok);
    let mut c = new(state).detail(match age {
        Some(a) => format!("last confirmed {} ago", super::human_age(a)),
        None => "confirmed (its time in the log is unreadable, or later than this machine's clock)"
            .into(),
    });
    c.last_confirmed = Some(clean(&time));
    c.age_s = age.map(|a| a.as_secs());
    c
}

/// How long ago a log time (`YYYY-MM-DD HH:MM:SS.mmm`, this machine's local
/// time, as the primary writes it) was; None for a time in the future.
fn age_of(time: &str) -> Option<Duration> {
    let civil: jiff::civil::DateTime = time.trim().replace(' ', "T").parse().ok()?;
    let at = civil.to_zoned(jiff::tz::TimeZone::system()).ok()?;
    let d = jiff::Timestamp::now().duration_since(at.timestamp());
    Duration::try_from(d).ok()
}

/// Per node, the largest clock offset its services stated, or the cluster
/// log's clock warning about it.
fn clock_checks(s: &Settings, checks: &[Check], logs: &[(Check, NodeLog)]) -> Vec<Check> {
    let mut out = Vec::new();
    for n in &s.nodes {
        let stated = checks
            .iter()
            .filter(|c| c.node.as_deref() == Some(clean(&n.name).as_str()))
            .filter_map(|c| c.clock_offset_s.map(|o| (o, c.check.clone())))
            .max_by(|a, b| a.0.abs().total_cmp(&b.0.abs()));
        let warned = logs
            .iter()
            .find(|(c, _)| c.node.as_deref() == Some(clean(&n.name).as_str()))
            .and_then(|(_, log)| log.clock.clone());
        let c = match (stated, warned) {
            (Some((offset, from)), warned) => {
                let mut state = s.thresholds.clock(offset);
                let mut detail = format!("{offset:+.1} s (from the {from} answer's date)");
                if let Some(w) = warned {
                    state = state.max(State::Warning);
                    detail.push_str(&format!("; the cluster log warns: {}", w.describe()));
                }
                let mut c = Check::new(Some(&n.name), "clock", &n.address, state).detail(detail);
                c.clock_offset_s = Some(offset);
                c
            }
            (None, Some(w)) => Check::new(Some(&n.name), "clock", &n.address, State::Warning)
                .detail(format!("the cluster log warns: {}", w.describe())),
            (None, None) => continue,
        };
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_ages_are_read_in_local_time() {
        let now = jiff::Zoned::now()
            .checked_sub(jiff::SignedDuration::from_secs(90))
            .unwrap();
        let text = now.strftime("%Y-%m-%d %H:%M:%S.%3f").to_string();
        let age = age_of(&text).unwrap().as_secs();
        assert!((85..=300).contains(&age), "{age}");
        assert_eq!(age_of("not a time"), None);
        assert_eq!(age_of("2999-01-01 00:00:00.000"), None);
    }
}
