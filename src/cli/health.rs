//! `mdcluster health`: the cluster's health in the monitoring plugins'
//! terms (exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN; a summary line with
//! performance data first), a grid for people, one JSON object per check;
//! `--watch` repeats the round and redraws, `--failover` lets the failover
//! watch change the balancer's files.
//!
//! Its exit codes are the monitoring convention, not mdcluster's usual
//! ones: a plan or an option it cannot use is UNKNOWN (3), never 2, which a
//! monitoring system would read as CRITICAL.

use crate::health::{self, nagios, Round, Settings, State, Thresholds};
use crate::output::json::{FailoverReport, JsonEvent};
use crate::output::{json_line, say, say_err};
use crate::plan::Plan;
use crate::problem::Problem;
use crate::profile::Profile;
use crate::text::sanitize;
use crate::workflows::failover::{self, Decision, FailoverEvent, Reload, Watcher};
use clap::Args;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub(crate) struct HealthArgs {
    /// The plan file
    #[arg(long, value_name = "FILE")]
    pub plan: PathBuf,
    /// One JSON object per check, and one per round
    #[arg(long)]
    pub json: bool,
    /// Seconds each check may take (probes run at once)
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = seconds)]
    pub timeout: Duration,
    /// A service slower than this (ms) is WARNING
    #[arg(long, value_name = "MS", default_value_t = 1000.0)]
    pub warning_ms: f64,
    /// A service slower than this (ms) is CRITICAL
    #[arg(long, value_name = "MS", default_value_t = 3000.0)]
    pub critical_ms: f64,
    /// A node's clock this many seconds off is WARNING
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    pub clock_warning: f64,
    /// A node's clock this many seconds off is CRITICAL
    #[arg(long, value_name = "SECONDS", default_value_t = 120.0)]
    pub clock_critical: f64,
    /// A cluster-log confirmation older than this is WARNING (e.g. 6h; default: never)
    #[arg(long, value_name = "AGE", value_parser = health::parse_duration)]
    pub log_age_warning: Option<Duration>,
    /// A cluster-log confirmation older than this is CRITICAL (default: never)
    #[arg(long, value_name = "AGE", value_parser = health::parse_duration)]
    pub log_age_critical: Option<Duration>,
    /// Check again and again, redrawing the grid (stop with Ctrl-C)
    #[arg(long)]
    pub watch: bool,
    /// Seconds between the starts of two rounds with --watch
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = seconds, requires = "watch")]
    pub interval: Duration,
    /// Stop after this many rounds (--watch)
    #[arg(long, value_name = "N", requires = "watch", value_parser = clap::value_parser!(u64).range(1..))]
    pub rounds: Option<u64>,
    /// Move a failed node's sessions on the balancer and back when it returns (--watch; see [load_balancer.failover])
    #[arg(long, requires = "watch")]
    pub failover: bool,
}

/// Seconds, fractions allowed, from 0.1 to 3600.
fn seconds(text: &str) -> Result<Duration, String> {
    let s: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{}' is not a number of seconds", sanitize(text)))?;
    if !(0.1..=3600.0).contains(&s) {
        return Err("give from 0.1 to 3600 seconds".into());
    }
    Ok(Duration::from_secs_f64(s))
}

/// Run `health`; every problem is UNKNOWN (exit 3).
pub(crate) fn main(profile: Result<Profile, Problem>, a: &HealthArgs) -> u8 {
    match profile.and_then(|p| run(&p, a)) {
        Ok(state) => state.code(),
        Err(p) => {
            unknown(&p, a.json);
            State::Unknown.code()
        }
    }
}

/// Options clap refused: UNKNOWN (exit 3) with the status line on stdout
/// (JSON: the `error` event), clap's own words on stderr.
pub(crate) fn bad_options(e: &clap::Error) -> u8 {
    let json = std::env::args_os().any(|a| a == "--json");
    let text = e.to_string();
    // The message up to its first blank line (clap lists missing arguments
    // on the lines after the first), on one line.
    let what = text
        .lines()
        .map(str::trim)
        .take_while(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let what = what.trim_start_matches("error: ").to_string();
    let p = Problem::usage(what).fix("see `mdcluster health --help`");
    if json {
        unknown(&p, true);
    } else {
        say!("MDCLUSTER UNKNOWN - {}", p.what.replace('|', "/"));
        let _ = e.print();
    }
    State::Unknown.code()
}

/// A problem as the monitoring convention wants it: the status line on
/// stdout, the whole error on stderr (JSON: the `error` event, exit 3).
pub(crate) fn unknown(p: &Problem, json: bool) {
    if json {
        json_line(&JsonEvent::Error {
            exit: State::Unknown.code(),
            error: p,
        });
    } else {
        // One line, and no `|`: it would start performance data.
        let what = p.what.lines().collect::<Vec<_>>().join(" ");
        say!("MDCLUSTER UNKNOWN - {}", what.replace('|', "/"));
        say_err!("error: {p}");
    }
}

fn run(profile: &Profile, a: &HealthArgs) -> Result<State, Problem> {
    let thresholds = Thresholds {
        latency_warning_ms: a.warning_ms,
        latency_critical_ms: a.critical_ms,
        clock_warning_s: a.clock_warning,
        clock_critical_s: a.clock_critical,
        log_age_warning: a.log_age_warning,
        log_age_critical: a.log_age_critical,
    };
    thresholds.check().map_err(|why| {
        Problem::usage(why).fix("give each warning threshold at most its critical one")
    })?;
    let plan = Plan::load(&a.plan, profile)?;
    let settings = Settings::for_plan(&plan, a.timeout, thresholds)?;
    if settings.nodes.is_empty() {
        return Err(Problem::usage("the plan names no node to check")
            .fix("add the cluster's nodes to the plan as [[nodes]] (name, address, role)"));
    }
    if !a.watch {
        let round = health::round(&settings, profile);
        show(&round, 1, &settings, a.json, &mut Screen::plain());
        return Ok(round.state);
    }
    watch(&plan, profile, &settings, a)
}

/// Rounds until Ctrl-C or `--rounds`; the state of the last round.
fn watch(
    plan: &Plan,
    profile: &Profile,
    settings: &Settings,
    a: &HealthArgs,
) -> Result<State, Problem> {
    let mut watcher = if a.failover {
        let engine = crate::engine::Engine::open(plan.clone(), profile.clone())?;
        let mut w = Watcher::new(plan.load_balancer.failover.clone(), None);
        w.files_are(&engine.failover_in_force()?);
        if let Some(m) = w.active() {
            say_err!(
                "The balancer's files carry a failover: the sessions of {} go to {}.",
                m.from,
                m.to
            );
        }
        Some(w)
    } else {
        None
    };
    let mut screen = if !a.json && std::io::stdout().is_terminal() {
        Screen::live()
    } else {
        Screen::plain()
    };
    let mut n = 0u64;
    loop {
        n += 1;
        let started = Instant::now();
        let round = health::round(settings, profile);
        screen.failover = watcher.as_ref().and_then(|w| w.active().cloned());
        show(&round, n, settings, a.json, &mut screen);
        if let Some(w) = watcher.as_mut() {
            react(w, &round, settings, plan, profile, a.json);
        }
        if a.rounds.is_some_and(|max| n >= max) {
            return Ok(round.state);
        }
        std::thread::sleep(a.interval.saturating_sub(started.elapsed()));
    }
}

/// The failover watch's turn after a round.
fn react(w: &mut Watcher, round: &Round, s: &Settings, plan: &Plan, profile: &Profile, json: bool) {
    // What the files carry now: an `apply` or an undo may have changed them.
    for e in w.look(plan, profile, s.timeout) {
        report(&e, json);
    }
    let (decision, events) = w.decide(round, &s.nodes);
    for e in &events {
        report(e, json);
    }
    let Some(decision) = decision else { return };
    let sink: Box<dyn crate::engine::events::EventSink> = if json {
        Box::new(crate::output::JsonSink)
    } else {
        Box::new(crate::output::HumanSink::new())
    };
    let event = match failover::carry_out(plan, profile, &decision, sink.as_ref()) {
        Ok((files, reload)) => {
            w.carried_out(&decision);
            FailoverEvent::Changed {
                decision,
                files,
                reload,
            }
        }
        Err(p) => FailoverEvent::Refused {
            decision,
            why: p.to_string(),
            written: p.exit == crate::problem::Exit::Failed,
        },
    };
    report(&event, json);
}

fn report(e: &FailoverEvent, json: bool) {
    fn moved(d: &Decision) -> (&'static str, &crate::lb::Move) {
        match d {
            Decision::Fail(m) => ("moved", m),
            Decision::Restore(m) => ("restored", m),
        }
    }
    let mut r = FailoverReport {
        action: "counting",
        node: None,
        from: None,
        to: None,
        rounds: None,
        files: &[],
        reload: None,
        reload_ran: None,
        reload_ok: None,
        reload_output: None,
        why: None,
    };
    let text = match e {
        FailoverEvent::Counting {
            node,
            rounds,
            after,
        } => {
            r.node = Some(node);
            r.rounds = Some(*rounds);
            format!("failover: {node} answered nothing in {rounds} of {after} rounds in a row")
        }
        FailoverEvent::Also { node, active } => {
            r.action = "also-failed";
            r.node = Some(node);
            r.from = Some(&active.from);
            r.to = Some(&active.to);
            format!(
                "failover: {node} failed too, while the sessions of {} are on {}: left to the balancer's own checks",
                active.from, active.to
            )
        }
        FailoverEvent::Files { why } => {
            r.action = "files";
            r.why = Some(why);
            format!("failover: {why}")
        }
        FailoverEvent::Nowhere { node } => {
            r.action = "nowhere";
            r.node = Some(node);
            format!("failover: {node} failed, and no other node answers: there is nowhere to move its sessions")
        }
        FailoverEvent::Refused {
            decision,
            why,
            written,
        } => {
            let (_, m) = moved(decision);
            r.action = if *written { "failed" } else { "refused" };
            r.why = Some(why);
            return emit_refused(r, m, why, *written, json);
        }
        FailoverEvent::Changed {
            decision,
            files,
            reload,
        } => {
            let (action, m) = moved(decision);
            return emit_changed(r, action, m, files, reload, json);
        }
    };
    if json {
        json_line(&JsonEvent::Failover(r));
    } else {
        say_err!("{text}");
    }
}

fn emit_refused<'a>(
    mut r: FailoverReport<'a>,
    m: &'a crate::lb::Move,
    why: &str,
    written: bool,
    json: bool,
) {
    r.from = Some(&m.from);
    r.to = Some(&m.to);
    if json {
        json_line(&JsonEvent::Failover(r));
    } else if written {
        say_err!(
            "failover: writing the balancer's files for {} -> {} failed part-way (the journal keeps it: `mdcluster apply` finishes it, `mdcluster undo` reverses it): {why}",
            m.from,
            m.to
        );
    } else {
        say_err!(
            "failover: moving the sessions of {} to {} was refused; nothing was written: {why}",
            m.from,
            m.to
        );
    }
}

fn emit_changed<'a>(
    mut r: FailoverReport<'a>,
    action: &'static str,
    m: &'a crate::lb::Move,
    files: &'a [PathBuf],
    reload: &'a Reload,
    json: bool,
) {
    r.action = action;
    r.from = Some(&m.from);
    r.to = Some(&m.to);
    r.files = files;
    if let Some((command, ok, output)) = reload.parts() {
        r.reload = Some(command.to_string());
        r.reload_ran = Some(ok.is_some());
        r.reload_ok = ok;
        r.reload_output = ok.is_some().then_some(output);
    }
    if json {
        json_line(&JsonEvent::Failover(r));
        return;
    }
    let what = if action == "moved" {
        format!("the sessions of {} now go to {}", m.from, m.to)
    } else {
        format!(
            "{} is back: the normal configuration is written again",
            m.from
        )
    };
    if files.is_empty() {
        say_err!("failover: {what} (the files already said so)");
        return;
    }
    say_err!(
        "failover: {what}; wrote {} (journaled: `mdcluster undo --latest` reverses it)",
        files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    match reload.parts() {
        Some((cmd, None, _)) => {
            say_err!("failover: reload the balancer now (no reload command is configured): {cmd}")
        }
        Some((command, Some(ok), output)) => {
            let verdict = if ok { "reloaded" } else { "the reload FAILED" };
            say_err!("failover: `{command}`: {verdict}");
            for l in output.lines().take(20) {
                say_err!("  | {l}");
            }
        }
        None => {}
    }
}

/// Where the grid goes: redrawn in place on a terminal, else one after another.
struct Screen {
    live: bool,
    /// The failover the watch knows in force, shown under the grid.
    failover: Option<crate::lb::Move>,
}

impl Screen {
    fn plain() -> Screen {
        Screen {
            live: false,
            failover: None,
        }
    }
    fn live() -> Screen {
        Screen {
            live: true,
            failover: None,
        }
    }
}

fn show(round: &Round, n: u64, s: &Settings, json: bool, screen: &mut Screen) {
    if json {
        for c in &round.checks {
            json_line(&JsonEvent::HealthCheck { round: n, check: c });
        }
        let count = |st: State| round.checks.iter().filter(|c| c.state == st).count();
        json_line(&JsonEvent::HealthRound {
            round: n,
            state: round.state,
            exit: round.state.code(),
            checks: round.checks.len(),
            ok: count(State::Ok),
            warning: count(State::Warning),
            critical: count(State::Critical),
            unknown: count(State::Unknown),
            elapsed_ms: round.elapsed_ms,
            summary: nagios::summary_line(round, &s.thresholds),
            notes: &s.notes,
        });
        return;
    }
    let mut lines = vec![nagios::summary_line(round, &s.thresholds)];
    // After the first line, a `|` would start more performance data.
    lines.extend(
        grid(round)
            .into_iter()
            .chain(s.notes.iter().map(|n| format!("note: {n}")))
            .map(|l| l.replace('|', "/")),
    );
    if let Some(m) = &screen.failover {
        lines.push(format!(
            "failover in force: the sessions of {} go to {} (the watch's messages follow the grid)",
            m.from, m.to
        ));
    }
    if screen.live {
        use crossterm::{cursor, terminal, QueueableCommand};
        let mut out = std::io::stdout();
        // From the top down, in place: lines that wrapped and the watch's
        // messages of the last round go too, and nothing is pushed into
        // the terminal's scrollback.
        let _ = out.queue(cursor::MoveTo(0, 0));
        let _ = out.queue(terminal::Clear(terminal::ClearType::FromCursorDown));
        let _ = std::io::Write::flush(&mut out);
    }
    for l in lines {
        say!("{l}");
    }
}

/// The round for people: one row per check.
fn grid(round: &Round) -> Vec<String> {
    let rows: Vec<[String; 5]> = round
        .checks
        .iter()
        .map(|c| {
            let measure = c.measure();
            let what = match &c.read {
                Some(read) if c.state == State::Ok => format!("{}: {read}", c.detail),
                Some(read) => format!("{}; read: {read}", c.detail),
                None => c.detail.clone(),
            };
            [
                c.node.clone().unwrap_or_else(|| "-".into()),
                c.check.clone(),
                c.state.word().to_string(),
                measure,
                format!("{}  {what}", c.target),
            ]
        })
        .collect();
    let head = ["NODE", "CHECK", "STATE", "TIME", "TARGET / WHAT"].map(String::from);
    let width = |i: usize| {
        rows.iter()
            .chain(std::iter::once(&head))
            .map(|r| r[i].chars().count())
            .max()
            .unwrap_or(0)
    };
    let w: Vec<usize> = (0..4).map(width).collect();
    std::iter::once(&head)
        .chain(rows.iter())
        .map(|r| {
            format!(
                "{:<w0$}  {:<w1$}  {:<w2$}  {:>w3$}  {}",
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                w0 = w[0],
                w1 = w[1],
                w2 = w[2],
                w3 = w[3]
            )
        })
        .collect()
}
