//! `mdcluster verify`: the cluster confirmed by MDaemon's own cluster log.
//!
//! The newest cluster log is read from its beginning (so confirmations
//! written before verify started count) and then followed until every
//! registered secondary is confirmed connected and replicating, or the time
//! limit passes (exit 5, each missing confirmation named).

use crate::cluster::manifest::registered_nodes;
use crate::cluster::manifest::Manifest;
use crate::clusterlog::confirm::{NodeLog, Seen};
use crate::clusterlog::{Confirmations, Follower, Format, NodeSpec, Reader, POLL};
use crate::location::Resolver;
use crate::output::{json_line, say};
use crate::plan::Plan;
use crate::problem::{Exit, Problem};
use crate::profile::Profile;
use crate::text::sanitize;
use clap::Args;
use serde::Serialize;
use serde_json::json;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The plan file
    #[arg(long, value_name = "FILE")]
    pub plan: PathBuf,
    /// Seconds to wait for the confirmations (0: read the log once)
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub timeout: u64,
    /// One JSON object per line: log events, checks, and the result
    #[arg(long)]
    pub json: bool,
    /// Also show every line read from the log, lines in no known format included
    #[arg(long)]
    pub lines: bool,
}

/// The checks per node, in grid order.
pub const CHECKS: [&str; 6] = [
    "reachable",
    "registered",
    "connected",
    "replicating",
    "clock",
    "time-zone",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Pass,
    Warning,
    Waiting,
    Fail,
}

/// One cell of the grid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cell {
    pub state: State,
    pub short: &'static str,
    pub detail: String,
}

impl Cell {
    fn new(state: State, short: &'static str, detail: impl Into<String>) -> Cell {
        Cell {
            state,
            short,
            detail: detail.into(),
        }
    }
}

/// How a secondary's address was checked (once, at the start).
fn resolve(address: &str) -> Cell {
    use std::net::ToSocketAddrs;
    if address.is_empty() {
        return Cell::new(State::Waiting, "unknown", "no address known");
    }
    match (address, 0u16).to_socket_addrs() {
        Ok(mut addrs) => match addrs.next() {
            Some(a) => Cell::new(
                State::Pass,
                "resolves",
                format!(
                    "{address} resolves to {}; not contacted (mdcluster does not probe nodes: the log shows whether MDaemon reaches it)",
                    a.ip()
                ),
            ),
            None => Cell::new(State::Fail, "no", format!("{address} does not resolve")),
        },
        Err(e) => Cell::new(
            State::Fail,
            "no",
            format!("{address} does not resolve: {e}"),
        ),
    }
}

fn from_log(latest: &Option<(bool, Seen)>, bad: &'static str, none: &str) -> Cell {
    match latest {
        Some((true, s)) => Cell::new(State::Pass, "yes", s.describe()),
        Some((false, s)) => Cell::new(State::Fail, bad, s.describe()),
        None => Cell::new(State::Waiting, "waiting", none),
    }
}

fn warning(seen: &Option<Seen>, what: &str) -> Cell {
    match seen {
        Some(s) => Cell::new(State::Warning, "WARNING", s.describe()),
        None => Cell::new(State::Pass, "ok", format!("no {what} warning in the log")),
    }
}

/// The cells of one node's row.
pub fn row(node: &NodeSpec, log: &NodeLog, reach: &Cell, log_found: bool) -> [Cell; 6] {
    if node.primary {
        let writes = |what: &str| {
            if log_found {
                Cell::new(
                    State::Pass,
                    "primary",
                    format!("the primary writes the cluster log; it {what}"),
                )
            } else {
                Cell::new(State::Waiting, "no log", "no cluster log found yet")
            }
        };
        return [
            Cell::new(
                State::Pass,
                "here",
                "this machine: the cluster log is read here",
            ),
            Cell::new(State::Pass, "primary", "the primary of the cluster"),
            writes("connects to the secondaries"),
            writes("replicates to the secondaries"),
            warning(&log.clock, "clock"),
            warning(&log.time_zone, "time-zone"),
        ];
    }
    let reachable = if log.seen() {
        Cell::new(
            State::Pass,
            "log",
            "named in the cluster log: MDaemon on the primary talks to it",
        )
    } else {
        reach.clone()
    };
    [
        reachable,
        Cell::new(
            State::Pass,
            "yes",
            "in the cluster manifest, its registration in MDaemon confirmed",
        ),
        from_log(
            &log.connection,
            "lost",
            "no connection to it in the cluster log yet",
        ),
        from_log(
            &log.replication,
            "failed",
            "no completed replication to it in the cluster log yet",
        ),
        warning(&log.clock, "clock"),
        warning(&log.time_zone, "time-zone"),
    ]
}

/// Output: JSON lines, or text with a grid redrawn in place on a terminal.
struct Out {
    json: bool,
    live: bool,
    drawn: u16,
    grid: Vec<String>,
}

impl Out {
    /// Text lines above the grid (redrawn when it changed).
    fn lines(&mut self, lines: &[String], grid: &[String]) {
        if self.json || (lines.is_empty() && (!self.live || self.grid == grid)) {
            return;
        }
        self.grid = grid.to_vec();
        // The cursor movements are mdcluster's own; every line is sanitized.
        let mut out: Vec<u8> = Vec::new();
        if self.live && self.drawn > 0 {
            let _ = crossterm::queue!(
                out,
                crossterm::cursor::MoveToPreviousLine(self.drawn),
                crossterm::terminal::Clear(crossterm::terminal::ClearType::FromCursorDown)
            );
        }
        let mut text = String::from_utf8_lossy(&out).into_owned();
        let grid_lines = if self.live { grid } else { &[] };
        for l in lines.iter().chain(grid_lines) {
            text.push_str(&crate::text::sanitize_lines(l));
            text.push('\n');
        }
        if self.live {
            self.drawn = grid.len() as u16;
        }
        crate::output::print_raw(&text);
    }
}

fn grid(nodes: &[NodeSpec], rows: &[[Cell; 6]]) -> Vec<String> {
    let mut out = vec![format!(
        "{:<12} {:<10} {:<10} {:<10} {:<11} {:<9} {:<9}",
        "node", "reachable", "registered", "connected", "replicating", "clock", "time zone"
    )];
    for (n, r) in nodes.iter().zip(rows) {
        let name: String = sanitize(&n.name).chars().take(12).collect();
        out.push(format!(
            "{:<12} {:<10} {:<10} {:<10} {:<11} {:<9} {:<9}",
            name, r[0].short, r[1].short, r[2].short, r[3].short, r[4].short, r[5].short
        ));
    }
    out.into_iter().map(|l| l.trim_end().to_string()).collect()
}

/// Log text for a terminal: control characters escaped, at most `max` characters.
fn shown(text: &str, max: usize) -> String {
    let s = sanitize(text);
    if s.chars().count() <= max {
        return s.into_owned();
    }
    let mut t: String = s.chars().take(max).collect();
    t.push('…');
    t
}

pub fn verify(profile: &Profile, a: &VerifyArgs) -> Result<Exit, Problem> {
    let plan = Plan::load(&a.plan, profile)?;
    let resolver = Resolver::new(plan.mounts.clone());
    let root = resolver.locate(&plan.install_root)?.local;
    let share = resolver.locate(&plan.shared.path)?.local;
    let manifest = if share.is_dir() {
        Manifest::load(&share)?
    } else {
        None
    };
    let (nodes, unregistered) = registered_nodes(&plan, manifest.as_ref());
    let reader = Reader::new(profile)?;
    let mut follower = Follower::new(&root, profile);
    let mut conf = Confirmations::new(&nodes);
    let reach: Vec<Cell> = nodes
        .iter()
        .map(|n| {
            if n.primary {
                Cell::new(State::Pass, "here", "")
            } else {
                resolve(&n.address)
            }
        })
        .collect();
    let mut out = Out {
        json: a.json,
        live: !a.json && std::io::stdout().is_terminal(),
        drawn: 0,
        grid: Vec::new(),
    };
    if !a.json {
        say!(
            "Verifying the cluster of {} from its cluster log (plan {}); waiting up to {} s",
            plan.install_root,
            plan.file.display(),
            a.timeout
        );
    }
    let deadline = Instant::now() + Duration::from_secs(a.timeout);
    let mut shown_rows: Vec<Option<[Cell; 6]>> = vec![None; nodes.len()];
    let mut unknown = 0u64;
    let mut searched_reported = false;
    let mut last_happening = None;
    loop {
        let mut text = Vec::new();
        let more = follower.poll(4 << 20, &mut |line| {
            let (event, matched) = reader.read(&line);
            if event.format == Format::Unknown {
                unknown += 1;
            }
            if a.lines {
                if a.json {
                    json_line(&json!({ "event": "log-line", "line": event }));
                } else {
                    text.push(format!("  log | {}", shown(&line.text, 500)));
                }
            }
            if let Some(m) = matched {
                let node = conf.apply(&event, &m).map(|i| nodes[i].name.clone());
                if a.json {
                    json_line(&json!({
                        "event": "log-event",
                        "kind": m.kind,
                        "node": node,
                        "named": m.node,
                        "time": event.time,
                        "severity": event.severity,
                        "format": event.format,
                        "text": event.text,
                    }));
                }
            }
        });
        for h in follower.take_happenings() {
            // The same error on every poll is said once.
            if last_happening.as_ref() == Some(&h) {
                continue;
            }
            last_happening = Some(h.clone());
            if a.json {
                json_line(&json!({
                    "event": "log-file",
                    "what": h.describe(),
                    "file": follower.file(),
                    "pattern": follower.found().pattern,
                }));
            } else {
                text.push(format!("log: {}", sanitize(&h.describe())));
            }
        }
        if !searched_reported && follower.file().is_none() {
            searched_reported = true;
            let found = follower.found();
            if a.json {
                json_line(
                    &json!({ "event": "log-file", "what": found.describe(), "file": null, "pattern": found.pattern }),
                );
            } else {
                text.push(format!(
                    "log: {} (still looking)",
                    sanitize(&found.describe())
                ));
            }
        }
        let log_found = follower.file().is_some();
        let rows: Vec<[Cell; 6]> = nodes
            .iter()
            .zip(&conf.nodes)
            .zip(&reach)
            .map(|((n, (_, log)), r)| row(n, log, r, log_found))
            .collect();
        for (i, r) in rows.iter().enumerate() {
            for (c, cell) in r.iter().enumerate() {
                let before = shown_rows[i].as_ref().map(|old| &old[c]);
                if before == Some(cell) {
                    continue;
                }
                if a.json {
                    json_line(&json!({
                        "event": "check",
                        "node": nodes[i].name,
                        "check": CHECKS[c],
                        "ok": matches!(cell.state, State::Pass | State::Warning),
                        "state": cell.state,
                        "detail": cell.detail,
                    }));
                } else if before.is_some() || (!out.live && cell.state != State::Waiting) {
                    text.push(format!(
                        "{:<12} {:<12} {:<8} {}",
                        shown(&nodes[i].name, 12),
                        CHECKS[c],
                        cell.short,
                        shown(&cell.detail, 300)
                    ));
                }
            }
            shown_rows[i] = Some(r.clone());
        }
        out.lines(&text, &grid(&nodes, &rows));
        if conf.all_confirmed() {
            break;
        }
        if !more {
            if Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(POLL);
        }
    }

    // The result.
    let found = follower.found().clone();
    let mut missing = Vec::new();
    if !nodes.iter().any(|n| !n.primary) {
        missing.push(
            "no secondary is registered in the cluster manifest: there is nothing to confirm yet"
                .to_string(),
        );
    }
    if follower.file().is_none() {
        missing.push(format!("no cluster log found: {}", found.describe()));
    }
    missing.extend(conf.missing());
    let warnings = conf.warnings();
    let mut notes: Vec<String> = unregistered
        .iter()
        .map(|n| {
            format!(
                "{n} is in the plan but not registered in the cluster manifest: not checked (apply the plan, then `mdcluster register --plan {} --node {n}`)",
                plan.file.display()
            )
        })
        .collect();
    for (name, count) in &conf.others {
        notes.push(format!(
            "the log names {name} ({count} events), which is not a registered node"
        ));
    }
    let ok = missing.is_empty();
    if a.json {
        json_line(&json!({
            "event": "verify-result",
            "ok": ok,
            "missing": missing,
            "warnings": warnings,
            "notes": notes,
            "log": follower.file(),
            "pattern": found.pattern,
            "lines": follower.lines,
            "unknown_lines": unknown,
            "exit": if ok { 0 } else { Exit::Verification.code() },
        }));
    } else {
        if !out.live {
            let rows: Vec<[Cell; 6]> = shown_rows.into_iter().flatten().collect();
            say!();
            for g in grid(&nodes, &rows) {
                say!("{g}");
            }
        }
        say!();
        match follower.file() {
            // The file's name was found on disk: sanitized as a whole, so
            // that not even a line break in it starts a line of its own.
            Some(f) => say!(
                "Log: {} ({} lines read, {} in no known format)",
                crate::text::safe_path(f),
                follower.lines,
                unknown
            ),
            None => say!("Log: {}", sanitize(&found.describe())),
        }
        for n in &notes {
            say!("Note: {}", shown(n, 400));
        }
        for w in &warnings {
            say!("Warning: {}", shown(w, 400));
        }
        if ok {
            say!("Verified: every registered secondary is connected and replicating.");
        } else {
            say!(
                "NOT verified within {} s; missing confirmations:",
                a.timeout
            );
            for m in &missing {
                say!("  {}", shown(m, 400));
            }
            say!(
                "Next: check Setup > Cluster Service on the primary and each secondary, then run `mdcluster verify --plan {} --timeout 120` again",
                plan.file.display()
            );
        }
    }
    Ok(if ok {
        Exit::Success
    } else {
        Exit::Verification
    })
}
