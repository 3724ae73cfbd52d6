//! Verifying the cluster from MDaemon's own cluster log (step 10, `verify`):
//! the newest log read from its beginning (so confirmations written before
//! it started count), then followed until every registered secondary is
//! confirmed connected and replicating, or the time is up.

use super::LogFile;
use crate::cluster::manifest::{registered_nodes, Manifest};
use crate::clusterlog::grid::{resolve, row, Cell, CheckState};
use crate::clusterlog::watch::News;
use crate::clusterlog::{Event, Found, Matched, NodeSpec, Watch, POLL};
use crate::location::Resolver;
use crate::plan::Plan;
use crate::problem::Problem;
use crate::profile::Profile;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What a verification needs.
#[derive(Clone, Debug)]
pub struct VerifySettings {
    /// The primary's installation (whose Logs folder holds the cluster log).
    pub root: PathBuf,
    /// The nodes whose confirmation is awaited: the primary and every
    /// registered secondary.
    pub nodes: Vec<NodeSpec>,
    /// The plan's secondaries not registered yet (not checked; named).
    pub unregistered: Vec<String>,
    /// The plan file, for the commands the notes suggest.
    pub plan_file: PathBuf,
    /// How long to wait for the confirmations (zero: read the log once).
    pub timeout: Duration,
    /// Also report every line read.
    pub lines: bool,
}

impl VerifySettings {
    /// The nodes of the plan as its cluster manifest registers them.
    pub(crate) fn for_plan(
        plan: &Plan,
        timeout: Duration,
        lines: bool,
    ) -> Result<VerifySettings, Problem> {
        let resolver = Resolver::new(plan.mounts.clone());
        let root = resolver.locate(&plan.install_root)?.local;
        let share = resolver.locate(&plan.shared.path)?.local;
        let manifest = if share.is_dir() {
            Manifest::load(&share)?
        } else {
            None
        };
        let (nodes, unregistered) = registered_nodes(plan, manifest.as_ref());
        Ok(VerifySettings {
            root,
            nodes,
            unregistered,
            plan_file: plan.file.clone(),
            timeout,
            lines,
        })
    }
}

/// What happened, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerifyEvent {
    /// A line read (only with `lines`).
    Line(Event),
    /// A line about a node's state; `node`: the watched node it is about.
    Matched {
        event: Event,
        matched: Matched,
        node: Option<String>,
    },
    /// The log file: found, changed, or still looked for.
    Log(LogFile),
    /// The grid after a poll: a row of six cells per node, in `nodes` order
    /// ([`crate::clusterlog::grid::CHECKS`]).
    Rows(Vec<[Cell; 6]>),
}

/// The verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub ok: bool,
    /// What was not confirmed, one sentence each.
    pub missing: Vec<String>,
    pub warnings: Vec<String>,
    /// Nodes not checked, nodes the log names that are not registered.
    pub notes: Vec<String>,
    /// The log file read, or where it was looked for.
    pub log: Option<PathBuf>,
    pub found: Found,
    pub lines: u64,
    pub unknown_lines: u64,
}

/// Run a verification. `on` receives every event (false: stop waiting and
/// judge what was read); `stop` is asked between polls.
pub fn verify(
    settings: &VerifySettings,
    profile: &Profile,
    stop: &dyn Fn() -> bool,
    on: &mut dyn FnMut(VerifyEvent) -> bool,
) -> Result<Verdict, Problem> {
    let nodes = &settings.nodes;
    let mut watch = Watch::new(&settings.root, profile, nodes)?;
    if settings.lines {
        watch = watch.with_lines();
    }
    // Whether a secondary's address resolves is asked once; the log then
    // shows whether MDaemon reaches it.
    let reach: Vec<Cell> = nodes
        .iter()
        .map(|n| {
            if n.primary {
                Cell::new(CheckState::Pass, "here", "")
            } else {
                resolve(&n.address)
            }
        })
        .collect();
    let deadline = Instant::now() + settings.timeout;
    let mut searched_reported = false;
    let mut going = true;
    while going {
        let mut events = Vec::new();
        let more = watch.poll(&mut |news| {
            events.push(match news {
                News::Line(event) => VerifyEvent::Line(event),
                News::Matched {
                    event,
                    matched,
                    node,
                } => VerifyEvent::Matched {
                    event,
                    matched,
                    node: node.map(|i| nodes[i].name.clone()),
                },
                // The file and pattern are filled in after the poll.
                News::File(h) => VerifyEvent::Log(LogFile::Changed {
                    what: h.describe(),
                    file: None,
                    pattern: String::new(),
                }),
            })
        });
        for e in &mut events {
            if let VerifyEvent::Log(LogFile::Changed { file, pattern, .. }) = e {
                *file = watch.file().map(PathBuf::from);
                *pattern = watch.found().pattern.clone();
            }
        }
        if !searched_reported && watch.file().is_none() {
            searched_reported = true;
            events.push(VerifyEvent::Log(LogFile::Searching {
                what: watch.found().describe(),
                pattern: watch.found().pattern.clone(),
            }));
        }
        let log_found = watch.file().is_some();
        let rows: Vec<[Cell; 6]> = nodes
            .iter()
            .zip(&watch.confirmations().nodes)
            .zip(&reach)
            .map(|((n, (_, log)), r)| row(n, log, r, log_found))
            .collect();
        events.push(VerifyEvent::Rows(rows));
        for e in events {
            going &= on(e);
        }
        if watch.confirmations().all_confirmed() || stop() {
            break;
        }
        if !more {
            if Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(POLL);
        }
    }
    Ok(verdict(settings, &watch))
}

/// What the log confirmed, what is missing, and notes.
fn verdict(settings: &VerifySettings, watch: &Watch) -> Verdict {
    let conf = watch.confirmations();
    let found = watch.found().clone();
    let mut missing = Vec::new();
    if !settings.nodes.iter().any(|n| !n.primary) {
        missing.push(
            "no secondary is registered in the cluster manifest: there is nothing to confirm yet"
                .to_string(),
        );
    }
    if watch.file().is_none() {
        missing.push(format!("no cluster log found: {}", found.describe()));
    }
    missing.extend(conf.missing());
    let mut notes: Vec<String> = settings
        .unregistered
        .iter()
        .map(|n| {
            format!(
                "{n} is in the plan but not registered in the cluster manifest: not checked (apply the plan, then `mdcluster register --plan {} --node {n}`)",
                settings.plan_file.display()
            )
        })
        .collect();
    for (name, count) in &conf.others {
        notes.push(format!(
            "the log names {name} ({count} events), which is not a registered node"
        ));
    }
    Verdict {
        ok: missing.is_empty(),
        missing,
        warnings: conf.warnings(),
        notes,
        log: watch.file().map(PathBuf::from),
        found,
        lines: watch.lines(),
        unknown_lines: watch.unknown_lines(),
    }
}
