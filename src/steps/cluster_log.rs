//! Step 10: the cluster confirmed in its log. It changes nothing: it reads
//! the newest cluster log once (no following, so apply is never held up) and
//! waits while a registered secondary lacks a confirmation; `mdcluster
//! verify` follows the log until they arrive.

use super::{Check, Context, StepId, StepPlan, StepStatus};
use crate::cluster::manifest::registered_nodes;
use crate::problem::Problem;
use crate::text::sanitize;

pub(super) fn prepare(ctx: &Context) -> Result<StepPlan, Problem> {
    let mut sp = StepPlan::new(StepId::ClusterLog, StepStatus::NothingToDo);
    let (nodes, unregistered) = registered_nodes(ctx.plan, ctx.cluster.manifest.as_ref());
    let (found, conf) = crate::clusterlog::scan_once(&ctx.install.root.local, ctx.profile, &nodes)?;
    sp.fact(
        "cluster log pattern",
        format!(
            "{} ({}; daily file {})",
            found.search_pattern(),
            ctx.profile.logs.cluster_log_glob.source.label(),
            found.daily
        ),
    );
    sp.fact(
        "cluster log",
        match &found.file {
            Some(f) if found.candidates > 1 => {
                format!("{} (newest of {} matches)", f.display(), found.candidates)
            }
            Some(f) => f.display().to_string(),
            None => "none found".into(),
        },
    );
    for (n, log) in conf.nodes.iter().filter(|(n, _)| !n.primary) {
        let word =
            |ok: bool, yes: &str, no: &str| if ok { yes.to_string() } else { no.to_string() };
        let mut parts = vec![
            word(log.connected(), "connected", "not connected"),
            word(log.replicating(), "replicating", "not replicating"),
        ];
        if log.clock.is_some() {
            parts.push("clock warning".into());
        }
        if log.time_zone.is_some() {
            parts.push("time-zone warning".into());
        }
        sp.fact(&n.name, parts.join(", "));
    }
    for w in conf.warnings() {
        sp.checks.push(Check::pass(
            "clock and time zone",
            format!("warning: {}", sanitize(&w)),
        ));
    }
    let verify = format!(
        "run `mdcluster verify --plan {} --timeout 120` to follow the log until MDaemon confirms it",
        ctx.plan.file.display()
    );
    if !nodes.iter().any(|n| !n.primary) {
        sp.state = StepStatus::Waiting;
        sp.notes.push(
            "no secondary is registered yet: the log is checked once the secondaries are registered (step 9)"
                .into(),
        );
        return Ok(sp);
    }
    let mut missing = Vec::new();
    if found.file.is_none() {
        missing.push(format!("no cluster log found: {}", found.describe()));
    }
    missing.extend(conf.missing());
    if missing.is_empty() {
        sp.notes.push(
            "the cluster log confirms every registered secondary: connected and replicating".into(),
        );
    } else {
        sp.state = StepStatus::Waiting;
        sp.notes.push(format!(
            "waiting for the cluster log to confirm: {}",
            sanitize(&missing.join("; "))
        ));
        sp.notes.push(verify);
    }
    for n in unregistered {
        sp.notes.push(format!(
            "{n} is not registered yet: its confirmation is awaited after step 9"
        ));
    }
    Ok(sp)
}
