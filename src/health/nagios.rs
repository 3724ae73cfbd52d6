//! A round as the monitoring plugins' convention has it (Nagios, Icinga,
//! Zabbix's and PRTG's script sensors read the same): the exit code is the
//! state, the first line is `MDCLUSTER STATE - summary | performance data`,
//! and the lines after it are the long output.
//!
//! Performance data: `'label'=value[unit];warn;crit;min;max`, one per
//! measure; a label's `'` is doubled and `=` replaced, as the format needs.

use super::{Check, Round, State, Thresholds};

/// At most this many problems are named in the summary line.
const NAMED: usize = 3;

/// `MDCLUSTER CRITICAL - 2 of 23 checks critical, 1 warning: SIM2 smtp: connection refused; … | perfdata`
pub fn summary_line(round: &Round, t: &Thresholds) -> String {
    let count = |s: State| round.checks.iter().filter(|c| c.state == s).count();
    let (c, w, u) = (
        count(State::Critical),
        count(State::Warning),
        count(State::Unknown),
    );
    let mut parts = Vec::new();
    for (n, word) in [(c, "critical"), (w, "warning"), (u, "unknown")] {
        if n > 0 {
            parts.push(format!("{n} {word}"));
        }
    }
    let counts = if parts.is_empty() {
        format!("all {} checks OK", round.checks.len())
    } else {
        format!(
            "{} of {} checks: {}",
            c + w + u,
            round.checks.len(),
            parts.join(", ")
        )
    };
    let problems = round.problems();
    let mut named: Vec<String> = problems.iter().take(NAMED).map(|c| one(c)).collect();
    if problems.len() > NAMED {
        named.push(format!("{} more", problems.len() - NAMED));
    }
    let text = if named.is_empty() {
        counts
    } else {
        format!("{counts} ({})", named.join("; "))
    };
    // `|` starts the performance data: none may be in the text.
    let text = text.replace('|', "/");
    format!(
        "MDCLUSTER {} - {text} | {}",
        round.state.word(),
        perfdata(round, t)
    )
}

/// `NODE check: detail`, for the summary line.
fn one(c: &Check) -> String {
    match &c.node {
        Some(n) => format!("{n} {}: {}", c.check, c.detail),
        None => format!("{}: {}", c.check, c.detail),
    }
}

/// One measure per check with a number: latencies in ms (`U` when the
/// service did not answer), clock offsets in s, cluster-log ages in s.
pub fn perfdata(round: &Round, t: &Thresholds) -> String {
    let mut out = Vec::new();
    let ms = |v: f64| format!("{v}");
    for c in &round.checks {
        let label = label(c);
        match c.check.as_str() {
            "clock" => {
                if let Some(o) = c.clock_offset_s {
                    out.push(format!(
                        "'{label}'={o}s;{};{}",
                        t.clock_warning_s, t.clock_critical_s
                    ));
                }
            }
            "cluster-log" => {
                if let Some(age) = c.age_s {
                    let secs = |d: Option<std::time::Duration>| {
                        d.map(|d| d.as_secs().to_string()).unwrap_or_default()
                    };
                    out.push(format!(
                        "'{label} age'={age}s;{};{};0",
                        secs(t.log_age_warning),
                        secs(t.log_age_critical)
                    ));
                }
            }
            _ => {
                let value = match (c.answered, c.latency_ms) {
                    (Some(true), Some(v)) => format!("{}ms", ms(v)),
                    _ => "U".to_string(),
                };
                out.push(format!(
                    "'{label}'={value};{};{};0",
                    t.latency_warning_ms, t.latency_critical_ms
                ));
            }
        }
    }
    out.join(" ")
}

fn label(c: &Check) -> String {
    let raw = match &c.node {
        Some(n) => format!("{n} {}", c.check),
        None => c.check.clone(),
    };
    raw.replace('\'', "''").replace('=', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(node: Option<&str>, name: &str, state: State, ms: Option<f64>, detail: &str) -> Check {
        let mut c = Check::new(node, name, "10.0.0.1:25", state).detail(detail);
        c.latency_ms = ms;
        c.answered = Some(state != State::Critical);
        c
    }

    #[test]
    fn the_summary_line_names_the_worst_and_carries_perfdata() {
        let round = Round {
            checks: vec![
                check(
                    Some("MX1"),
                    "smtp",
                    State::Ok,
                    Some(1.5),
                    "an SMTP greeting",
                ),
                check(
                    Some("SIM'2"),
                    "smtp",
                    State::Critical,
                    Some(0.3),
                    "connection refused | x",
                ),
                check(
                    None,
                    "share",
                    State::Warning,
                    Some(1200.0),
                    "reachable (slow: 1200 ms)",
                ),
            ],
            state: State::Critical,
            elapsed_ms: 3.0,
        };
        let line = summary_line(&round, &Thresholds::default());
        assert_eq!(
            line,
            "MDCLUSTER CRITICAL - 2 of 3 checks: 1 critical, 1 warning (SIM'2 smtp: connection refused / x; share: reachable (slow: 1200 ms)) \
             | 'MX1 smtp'=1.5ms;1000;3000;0 'SIM''2 smtp'=U;1000;3000;0 'share'=1200ms;1000;3000;0"
        );
        assert_eq!(line.matches('|').count(), 1);
        let ok = Round {
            checks: vec![check(Some("MX1"), "imap", State::Ok, Some(2.0), "x")],
            state: State::Ok,
            elapsed_ms: 1.0,
        };
        assert!(summary_line(&ok, &Thresholds::default())
            .starts_with("MDCLUSTER OK - all 1 checks OK | "));
    }
}
