//! `mdcluster simulate`: a SIMULATED cluster for a sandbox primary (demo, tests).

use super::cluster::ScopeArgs;
use crate::cluster::pairing::{self, JoinCode};
use crate::output::json::JsonEvent;
use crate::output::{json_line, say};
use crate::problem::{Exit, Problem};
use crate::profile::Profile;
use crate::simulation::{self, Fault, LogFormat, Report};
use crate::text::sanitize;
use clap::Args;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FormatArg {
    /// `Sun 2026-11-22 10:15:02.117: 17: text`
    Classic,
    /// `261122 101503204 I [1002FA89] 0x415041A1 text`
    Service,
    /// Both, alternately
    Mixed,
}

#[derive(Args, Debug)]
pub(crate) struct SimulateArgs {
    /// The primary: a sample installation made by `mdcluster sandbox`
    #[arg(long, value_name = "DIR")]
    pub primary: PathBuf,
    /// The share's folder on this machine (the cluster manifest is below it)
    #[arg(long, value_name = "DIR")]
    pub share: PathBuf,
    /// How many secondaries (named SIM2, SIM3, …)
    #[arg(long, value_name = "N", default_value_t = 2, conflicts_with = "names")]
    pub secondaries: usize,
    /// The secondaries' names instead (comma-separated; sets their number)
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub names: Vec<String>,
    /// Where the secondaries' sample installations go (default: `simulation` next to the primary)
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The join code (default: the one `mdcluster code` issued for the primary)
    #[arg(long, value_name = "CODE")]
    pub code: Option<String>,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// A fault to play: KIND for every node or NODE:KIND (repeat). KIND: never-connects, clock, replication-error, rollover, timezone
    #[arg(long = "fault", value_name = "F")]
    pub faults: Vec<Fault>,
    /// The format of the cluster log lines
    #[arg(long, value_enum, default_value_t = FormatArg::Classic)]
    pub log_format: FormatArg,
    /// Milliseconds between a node's replication lines
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub interval_ms: u64,
    /// Stop by itself after this many seconds (default: at Ctrl-C or SIGTERM)
    #[arg(long, value_name = "SECONDS")]
    pub seconds: Option<u64>,
    /// Also stop when standard input closes, so that a supervising script
    /// can stop it cleanly by closing the pipe (on Windows a script cannot
    /// send a console's Ctrl-C)
    #[arg(long)]
    pub until_stdin_closes: bool,
    /// One JSON object per event (each with "simulation": true)
    #[arg(long)]
    pub json: bool,
}

fn absolute(p: &std::path::Path) -> Result<PathBuf, Problem> {
    std::path::absolute(p).map_err(|e| Problem::io(Exit::Usage, "resolve", p, &e))
}

/// The simulated secondaries' names: `--names`, checked, or N default ones.
fn simulated_names(a: &SimulateArgs) -> Result<Vec<String>, Problem> {
    Ok(if a.names.is_empty() {
        if a.secondaries == 0 || a.secondaries > 50 {
            return Err(Problem::usage("--secondaries must be from 1 to 50"));
        }
        simulation::default_names(a.secondaries)
    } else {
        let mut names = Vec::new();
        for n in &a.names {
            crate::plan::check_computer_name(n)
                .map_err(|why| Problem::usage(format!("--names: '{}' {why}", sanitize(n))))?;
            let n = n.to_uppercase();
            if names.contains(&n) {
                return Err(Problem::usage(format!("--names: {n} is named twice")));
            }
            names.push(n);
        }
        names
    })
}

/// Set by Ctrl-C, a termination request, or (asked for) the end of
/// standard input.
fn stop_flag(until_stdin_closes: bool) -> Result<Arc<AtomicBool>, Problem> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone())
            .map_err(|e| Problem::other(format!("could not watch for Ctrl-C: {e}")))?;
    }
    if until_stdin_closes {
        let stop = stop.clone();
        std::thread::spawn(move || {
            // Read to the end (or an error), discarding: only the close matters.
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
        });
    }
    Ok(stop)
}

pub fn simulate(profile: &Profile, a: &SimulateArgs) -> Result<Exit, Problem> {
    let primary = absolute(&a.primary)?;
    let share = absolute(&a.share)?;
    let names = simulated_names(a)?;
    let code = match &a.code {
        Some(c) => JoinCode::parse(c)?,
        None => pairing::current_code(&primary.join(crate::fsops::state_dir::STATE_DIR))
            .ok_or_else(|| {
                Problem::usage("no join code for this primary").fix(format!(
                    "issue one with `mdcluster code --root {}`, or give --code",
                    primary.display()
                ))
            })?,
    };
    let dir = match &a.dir {
        Some(d) => absolute(d)?,
        None => primary
            .parent()
            .map(|p| p.join("simulation"))
            .unwrap_or_else(|| PathBuf::from("simulation")),
    };
    let cfg = simulation::Config {
        primary,
        share,
        dir,
        names,
        code,
        scope: a.scope.scope(),
        interval: Duration::from_millis(a.interval_ms.max(50)),
        format: match a.log_format {
            FormatArg::Classic => LogFormat::Classic,
            FormatArg::Service => LogFormat::Service,
            FormatArg::Mixed => LogFormat::Mixed,
        },
        faults: a.faults.clone(),
        stop_after: a.seconds.map(Duration::from_secs),
    };
    let stop = stop_flag(a.until_stdin_closes)?;
    let json = a.json;
    let log =
        crate::simulation::logline::file_for(&cfg.primary, profile, jiff::Zoned::now().date());
    if json {
        json_line(&JsonEvent::SimulationStarted {
            simulation: true,
            note: "SIMULATION: not MDaemon; sample secondaries and a simulated primary cluster service",
            primary: &cfg.primary,
            share: &cfg.share,
            dir: &cfg.dir,
            names: &cfg.names,
            log_format: cfg.format,
            interval_ms: cfg.interval.as_millis() as u64,
            faults: &cfg.faults,
            scope: cfg.scope.describe(),
            cluster_log: &log,
            pid: std::process::id(),
        });
    } else {
        say!(
            "SIMULATION (not MDaemon): {} simulated secondar{} for the SAMPLE primary {}, announcing on {}; \
             the simulated primary writes cluster-log lines to {} once a node is registered. Stop with Ctrl-C.",
            cfg.names.len(),
            if cfg.names.len() == 1 { "y" } else { "ies" },
            cfg.primary.display(),
            cfg.scope.describe(),
            log.display()
        );
    }
    simulation::run(profile, &cfg, &stop, &mut |r| show(&r, json))?;
    if json {
        json_line(&JsonEvent::SimulationStopped {
            simulation: true,
            exit: 0,
        });
    } else {
        say!("SIMULATION stopped; registered nodes no longer announce.");
    }
    Ok(Exit::Success)
}

fn show(r: &Report, json: bool) {
    if json {
        let simulation = true;
        json_line(&match r {
            Report::Secondary { name, dir, created } => JsonEvent::Secondary {
                name,
                dir,
                created: *created,
                simulation,
            },
            Report::Announcing { name } => JsonEvent::SimulatedAnnouncing { name, simulation },
            Report::Registered { name, server_id } => JsonEvent::SimulatedRegistered {
                name,
                server_id: *server_id,
                simulation,
            },
            Report::Unregistered { name } => JsonEvent::Unregistered { name, simulation },
            Report::Line {
                on,
                node,
                kind,
                format,
                file,
                line,
            } => JsonEvent::SimulatedLogLine {
                log_of: on.as_deref().unwrap_or("primary"),
                node,
                kind,
                format: *format,
                file,
                line,
                simulation,
            },
            Report::Rollover { from, to } => JsonEvent::Rollover {
                from,
                to,
                simulation,
            },
            Report::Note { text } => JsonEvent::SimulationNote { text, simulation },
        });
        return;
    }
    let text = match r {
        Report::Secondary { name, dir, created } => format!(
            "{name}: SAMPLE secondary {} {}",
            if *created { "made at" } else { "reused from" },
            dir.display()
        ),
        Report::Announcing { name } => format!("{name}: announcing, signed with the join code"),
        Report::Registered { name, server_id } => {
            format!("{name}: registered as server ID {server_id}; no longer announcing")
        }
        Report::Unregistered { name } => format!("{name}: no longer in the cluster manifest"),
        Report::Line { on, file, line, .. } => format!(
            "{}log {}: {}",
            on.as_ref().map(|n| format!("{n}'s ")).unwrap_or_default(),
            file.file_name()
                .map(|f| f.to_string_lossy())
                .unwrap_or_default(),
            line
        ),
        Report::Rollover { from, to } => format!(
            "midnight simulated: the log moves from {} to {}",
            from.display(),
            to.display()
        ),
        Report::Note { text } => text.clone(),
    };
    say!("SIMULATION {}", sanitize(&text));
}

/// `mdcluster simulate-services`: SIMULATED services of one node.
#[derive(Args, Debug)]
pub(crate) struct ServicesArgs {
    /// The node's name (in greetings and Webmail answers)
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// The address to listen on (e.g. 127.0.0.2)
    #[arg(long, value_name = "IP")]
    pub listen: std::net::IpAddr,
    /// A service and its port, e.g. smtp=2525 (repeat; keys as in [load_balancer.ports])
    #[arg(long = "service", value_name = "NAME=PORT", value_parser = simulation::services::parse_service, required = true)]
    pub services: Vec<(crate::plan::Service, u16)>,
    /// A hung node: accept connections and never answer
    #[arg(long)]
    pub silent: bool,
    /// Stop by itself after this many seconds (default: at Ctrl-C or SIGTERM)
    #[arg(long, value_name = "SECONDS")]
    pub seconds: Option<u64>,
    /// Also stop when standard input closes
    #[arg(long)]
    pub until_stdin_closes: bool,
}

pub fn services(a: &ServicesArgs) -> Result<Exit, Problem> {
    crate::plan::check_computer_name(&a.name)
        .map_err(|why| Problem::usage(format!("--name '{}' {why}", sanitize(&a.name))))?;
    let stop = stop_flag(a.until_stdin_closes)?;
    let standin = simulation::services::Standin {
        name: a.name.to_uppercase(),
        address: a.listen,
        services: a.services.clone(),
        silent: a.silent,
    };
    let threads = simulation::services::serve(&standin, stop.clone())?;
    say!(
        "SIMULATION (not MDaemon): {}services of {} on {}: {}. Stop with Ctrl-C.",
        if a.silent { "silent (hung) " } else { "" },
        standin.name,
        a.listen,
        a.services
            .iter()
            .map(|(s, p)| format!("{}={p}", s.key()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let started = std::time::Instant::now();
    while !stop.load(std::sync::atomic::Ordering::SeqCst)
        && a.seconds
            .is_none_or(|s| started.elapsed() < Duration::from_secs(s))
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for t in threads {
        let _ = t.join();
    }
    Ok(Exit::Success)
}
