//! `mdcluster verify`: the cluster confirmed by MDaemon's own cluster log.
//!
//! The newest cluster log is read from its beginning (so confirmations
//! written before verify started count) and then followed until every
//! registered secondary is confirmed connected and replicating, or the time
//! limit passes (exit 5, each missing confirmation named).

use crate::clusterlog::grid::{Cell, CheckState, CHECKS};
use crate::clusterlog::NodeSpec;
use crate::output::json::JsonEvent;
use crate::output::{json_line, say};
use crate::plan::Plan;
use crate::problem::{Exit, Problem};
use crate::profile::Profile;
use crate::text::sanitize;
use crate::workflows::{
    self,
    verify::{VerifyEvent, VerifySettings},
    LogFile,
};
use clap::Args;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args, Debug)]
pub(crate) struct VerifyArgs {
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
    let show = Show {
        json: a.json,
        lines: a.lines,
    };
    verify_plan(profile, &plan, Duration::from_secs(a.timeout), show)
}

/// How `verify` shows its work: JSON lines, and every line read.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Show {
    pub json: bool,
    pub lines: bool,
}

/// The verify workflow for a plan, rendered as text (a live grid on a
/// terminal) or JSON lines; exit 5 when a confirmation is missing.
pub(crate) fn verify_plan(
    profile: &Profile,
    plan: &Plan,
    timeout: Duration,
    show: Show,
) -> Result<Exit, Problem> {
    let settings = VerifySettings::for_plan(plan, timeout, show.lines)?;
    let nodes = &settings.nodes;
    let mut out = Out {
        json: show.json,
        live: !show.json && std::io::stdout().is_terminal(),
        drawn: 0,
        grid: Vec::new(),
    };
    if !show.json {
        say!(
            "Verifying the cluster of {} from its cluster log (plan {}); waiting up to {} s",
            plan.install_root,
            plan.file.display(),
            timeout.as_secs()
        );
    }
    let mut shown_rows: Vec<Option<[Cell; 6]>> = vec![None; nodes.len()];
    let mut text = Vec::new();
    let verdict = workflows::verify::verify(&settings, profile, &|| false, &mut |event| {
        match event {
            VerifyEvent::Line(e) if show.json => json_line(&JsonEvent::LogLine { line: &e }),
            VerifyEvent::Line(e) => text.push(format!("  log | {}", shown(&e.raw, 500))),
            VerifyEvent::Matched {
                event: e,
                matched,
                node,
            } if show.json => json_line(&JsonEvent::LogEvent {
                kind: matched.kind,
                node: node.as_deref(),
                named: &matched.node,
                time: e.time.as_deref(),
                severity: e.severity.as_deref(),
                format: e.format,
                text: &e.text,
            }),
            VerifyEvent::Matched { .. } => {}
            VerifyEvent::Log(log) => text.extend(show_log_file(&log, show.json)),
            VerifyEvent::Rows(rows) => {
                show_changes(&rows, nodes, &mut shown_rows, &out, &mut text);
                out.lines(&text, &grid(nodes, &rows));
                text.clear();
            }
        }
        true
    })?;
    let ok = verdict.ok;
    if show.json {
        json_line(&JsonEvent::VerifyResult {
            ok,
            missing: &verdict.missing,
            warnings: &verdict.warnings,
            notes: &verdict.notes,
            log: verdict.log.as_deref(),
            pattern: &verdict.found.pattern,
            lines: verdict.lines,
            unknown_lines: verdict.unknown_lines,
            exit: if ok { 0 } else { Exit::Verification.code() },
        });
    } else {
        if !out.live {
            let rows: Vec<[Cell; 6]> = shown_rows.into_iter().flatten().collect();
            say!();
            for g in grid(nodes, &rows) {
                say!("{g}");
            }
        }
        show_verdict(&verdict, plan, timeout);
    }
    Ok(if ok {
        Exit::Success
    } else {
        Exit::Verification
    })
}

/// The verdict in words: the log read, notes, warnings, and what to do
/// when a confirmation is missing.
fn show_verdict(verdict: &workflows::verify::Verdict, plan: &Plan, timeout: Duration) {
    say!();
    match &verdict.log {
        // The file's name was found on disk: sanitized as a whole, so
        // that not even a line break in it starts a line of its own.
        Some(f) => say!(
            "Log: {} ({} lines read, {} in no known format)",
            crate::text::safe_path(f),
            verdict.lines,
            verdict.unknown_lines
        ),
        None => say!("Log: {}", sanitize(&verdict.found.describe())),
    }
    for n in &verdict.notes {
        say!("Note: {}", shown(n, 400));
    }
    for w in &verdict.warnings {
        say!("Warning: {}", shown(w, 400));
    }
    if verdict.ok {
        say!("Verified: every registered secondary is connected and replicating.");
    } else {
        say!(
            "NOT verified within {} s; missing confirmations:",
            timeout.as_secs()
        );
        for m in &verdict.missing {
            say!("  {}", shown(m, 400));
        }
        say!(
            "Next: check Setup > Cluster Service on the primary and each secondary, then run `mdcluster verify --plan {} --timeout 120` again",
            plan.file.display()
        );
    }
}

/// What happened to the cluster log file: a JSON `log-file` (printed
/// here), or the text line to show.
pub(super) fn show_log_file(log: &LogFile, json: bool) -> Option<String> {
    let (what, file, pattern, looking) = match log {
        LogFile::Changed {
            what,
            file,
            pattern,
        } => (what, file.as_deref(), pattern, false),
        LogFile::Searching { what, pattern } => (what, None, pattern, true),
    };
    if json {
        json_line(&JsonEvent::LogFile {
            what: what.clone(),
            file,
            pattern,
        });
        return None;
    }
    let still = if looking { " (still looking)" } else { "" };
    Some(format!("log: {}{still}", sanitize(what)))
}

/// The cells that changed since they were last shown: a JSON `check` each,
/// or (as text) a line each once shown before, or when there is no live
/// grid and the cell is not waiting.
fn show_changes(
    rows: &[[Cell; 6]],
    nodes: &[NodeSpec],
    shown_rows: &mut [Option<[Cell; 6]>],
    out: &Out,
    text: &mut Vec<String>,
) {
    for (i, r) in rows.iter().enumerate() {
        for (c, cell) in r.iter().enumerate() {
            let before = shown_rows[i].as_ref().map(|old| &old[c]);
            if before == Some(cell) {
                continue;
            }
            if out.json {
                json_line(&JsonEvent::Check {
                    node: &nodes[i].name,
                    check: CHECKS[c],
                    ok: matches!(cell.state, CheckState::Pass | CheckState::Warning),
                    state: cell.state,
                    detail: &cell.detail,
                });
            } else if before.is_some() || (!out.live && cell.state != CheckState::Waiting) {
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
}
