//! The cluster's health after setup, in rounds of checks (`mdcluster
//! health`, the wizard's Health screen, the failover watch):
//! - every service the plan's balancer routes, on every node of the cluster
//!   ([`probe`]; Remote Administration on the primary only), all probes of a
//!   round at once, each bounded by the timeout;
//! - the shared folder reachable and writable from this machine;
//! - per secondary, the cluster log's last confirmation and its age, where
//!   the primary's installation is on this machine;
//! - per node, the clock offset where a service stated its time.
//!
//! Each check has a state in the monitoring plugins' terms (OK, WARNING,
//! CRITICAL, UNKNOWN); [`nagios`] writes the summary line with performance
//! data. Everything read from the network, the log and the disk is
//! sanitized here, before it leaves the module.

mod inflight;
pub mod nagios;
pub mod probe;
mod round;

pub(crate) use round::within;
pub use round::{round, NodeTarget, Round, Settings};

use serde::Serialize;
use std::time::Duration;

/// A check's state; the order is severity for the worst of a round (an
/// UNKNOWN outranks OK, as in the monitoring plugins' `max_state_alt`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Ok,
    Unknown,
    Warning,
    Critical,
}

impl State {
    /// The exit code monitoring systems read: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    pub fn code(self) -> u8 {
        match self {
            State::Ok => 0,
            State::Warning => 1,
            State::Critical => 2,
            State::Unknown => 3,
        }
    }
    pub fn word(self) -> &'static str {
        match self {
            State::Ok => "OK",
            State::Warning => "WARNING",
            State::Critical => "CRITICAL",
            State::Unknown => "UNKNOWN",
        }
    }
}

/// One check's result. Every text field is sanitized.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Check {
    /// The node checked; none for the shared folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// `smtp`, `imap`, … (a service's key), `share`, `cluster-log` or `clock`.
    pub check: String,
    /// What was asked: `address:port`, a folder or a file.
    pub target: String,
    pub state: State,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// The first line the service sent, bounded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read: Option<String>,
    pub detail: String,
    /// The cluster log's last confirmation, as the log writes the time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_confirmed: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_s: Option<u64>,
    /// The node's clock minus this machine's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_offset_s: Option<f64>,
    /// Whether the service or the share answered at all (slow answers
    /// count), for the checks that ask: what a node being down and a
    /// latency of `U` are judged by. None for the others.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answered: Option<bool>,
}

impl Check {
    pub fn new(node: Option<&str>, check: &str, target: &str, state: State) -> Check {
        Check {
            node: node.map(|n| crate::text::sanitize(n).into_owned()),
            check: check.to_string(),
            target: crate::text::sanitize(target).into_owned(),
            state,
            latency_ms: None,
            read: None,
            detail: String::new(),
            last_confirmed: None,
            age_s: None,
            clock_offset_s: None,
            answered: None,
        }
    }
    pub fn detail(mut self, text: impl AsRef<str>) -> Check {
        self.detail = clean(text.as_ref());
        self
    }
    /// The check's number for people: a latency, an age or a clock offset.
    pub fn measure(&self) -> String {
        match (
            self.check.as_str(),
            self.latency_ms,
            self.age_s,
            self.clock_offset_s,
        ) {
            ("clock", _, _, Some(o)) => format!("{o:+.1} s"),
            ("cluster-log", _, Some(age), _) => human_age(Duration::from_secs(age)),
            (_, Some(ms), _, _) => format!("{ms} ms"),
            _ => String::new(),
        }
    }

    /// Whether this is a service probe (not the share, log or clock).
    pub fn is_service(&self) -> bool {
        !matches!(self.check.as_str(), "share" | "cluster-log" | "clock")
    }
}

/// Untrusted text for a report: control characters escaped, one line, bounded.
pub(crate) fn clean(text: &str) -> String {
    let one_line: String = text.chars().take(probe::MAX_SHOWN * 2).collect();
    crate::text::sanitize(&one_line).into_owned()
}

/// Where a check turns WARNING and CRITICAL. `None`: never on this measure.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    pub latency_warning_ms: f64,
    pub latency_critical_ms: f64,
    pub clock_warning_s: f64,
    pub clock_critical_s: f64,
    pub log_age_warning: Option<Duration>,
    pub log_age_critical: Option<Duration>,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds {
            latency_warning_ms: 1000.0,
            latency_critical_ms: 3000.0,
            clock_warning_s: 30.0,
            clock_critical_s: 120.0,
            log_age_warning: None,
            log_age_critical: None,
        }
    }
}

impl Thresholds {
    /// Each warning at most its critical; a reason when not.
    pub fn check(&self) -> Result<(), String> {
        let pairs = [
            (
                "--warning-ms",
                self.latency_warning_ms,
                "--critical-ms",
                self.latency_critical_ms,
            ),
            (
                "--clock-warning",
                self.clock_warning_s,
                "--clock-critical",
                self.clock_critical_s,
            ),
        ];
        for (w, wv, c, cv) in pairs {
            if !(wv.is_finite() && cv.is_finite()) || wv < 0.0 || cv < 0.0 {
                return Err(format!("{w} and {c} must be numbers of 0 or more"));
            }
            if wv > cv {
                return Err(format!("{w} {wv} is above {c} {cv}"));
            }
        }
        if let (Some(w), Some(c)) = (self.log_age_warning, self.log_age_critical) {
            if w > c {
                return Err(format!(
                    "--log-age-warning {}s is above --log-age-critical {}s",
                    w.as_secs(),
                    c.as_secs()
                ));
            }
        }
        Ok(())
    }

    /// A latency's state.
    pub(crate) fn latency(&self, ms: f64) -> State {
        if ms >= self.latency_critical_ms {
            State::Critical
        } else if ms >= self.latency_warning_ms {
            State::Warning
        } else {
            State::Ok
        }
    }

    pub(crate) fn clock(&self, offset_s: f64) -> State {
        let off = offset_s.abs();
        if off >= self.clock_critical_s {
            State::Critical
        } else if off >= self.clock_warning_s {
            State::Warning
        } else {
            State::Ok
        }
    }

    pub(crate) fn log_age(&self, age: Duration) -> State {
        if self.log_age_critical.is_some_and(|c| age >= c) {
            State::Critical
        } else if self.log_age_warning.is_some_and(|w| age >= w) {
            State::Warning
        } else {
            State::Ok
        }
    }
}

/// An age for people: `45 s`, `12 min`, `3 h 5 min`, `2 d 4 h`.
pub fn human_age(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=119 => format!("{s} s"),
        120..=3599 => format!("{} min", s / 60),
        3600..=86399 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86400, s % 86400 / 3600),
    }
}

/// A duration as `90`, `90s`, `15m`, `2h` or `1d` (for thresholds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, unit) = match t.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let n: f64 = number.parse().map_err(|_| {
        format!(
            "\"{}\" is not a duration (e.g. 90s, 15m, 2h, 1d)",
            clean(text)
        )
    })?;
    let secs = match unit.trim() {
        "s" | "" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86400.0,
        _ => {
            return Err(format!(
                "\"{}\" has an unknown unit (use s, m, h or d)",
                clean(text)
            ))
        }
    };
    if !secs.is_finite() || !(0.0..=365.0 * 86400.0).contains(&secs) {
        return Err(format!("\"{}\" is out of range", clean(text)));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_state_wins_and_unknown_beats_ok() {
        let states = [State::Ok, State::Unknown];
        assert_eq!(states.iter().max(), Some(&State::Unknown));
        assert!(State::Critical > State::Warning && State::Warning > State::Unknown);
        assert_eq!(
            [State::Ok, State::Warning, State::Critical, State::Unknown].map(State::code),
            [0, 1, 2, 3]
        );
    }

    #[test]
    fn durations_and_thresholds() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("2d").unwrap(), Duration::from_secs(172800));
        for bad in ["", "x", "5w", "-3", "1e400", "400d", "\u{1b}[2J"] {
            let e = parse_duration(bad).unwrap_err();
            assert!(!e.contains('\u{1b}'), "{e}");
        }
        let t = Thresholds::default();
        assert_eq!(t.latency(10.0), State::Ok);
        assert_eq!(t.latency(1500.0), State::Warning);
        assert_eq!(t.latency(3000.0), State::Critical);
        assert_eq!(t.clock(-45.0), State::Warning);
        assert_eq!(t.log_age(Duration::from_secs(1 << 30)), State::Ok);
        let bad = Thresholds {
            latency_warning_ms: 5000.0,
            ..t
        };
        assert!(bad.check().unwrap_err().contains("--warning-ms"));
        let nan = Thresholds {
            clock_warning_s: f64::NAN,
            ..t
        };
        assert!(nan.check().is_err());
    }
}
