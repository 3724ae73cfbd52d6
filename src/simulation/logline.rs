//! The cluster log lines of the SIMULATED primary, in both line formats
//! known from MDaemon's logs, and the daily file they are appended to.
//!
//! The texts are the contract the log follower matches (see the module doc of
//! [`super`]); the lines carry no simulation marker because they must look
//! like MDaemon's own. Every line ends in CRLF.

use crate::plan::ServerId;
use crate::profile::Profile;
use jiff::civil::{DateTime, Weekday};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The two line formats seen in MDaemon's logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// `Sun 2026-11-22 10:15:02.117: 17: TEXT`
    Classic,
    /// `261122 101503204 I [1002FA89] 0x415041A1 TEXT`
    Service,
}

/// What the cluster service reports about a node.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    Connected { node: String, server_id: ServerId },
    Disconnected { node: String },
    ReplicationDone { node: String, items: u64 },
    ReplicationError { node: String, reason: String },
    ClockWarning { node: String, seconds: f64 },
    TimeZoneWarning { node: String },
}

impl Event {
    /// The line's text, exactly as the log follower expects it.
    pub fn text(&self) -> String {
        match self {
            Event::Connected { node, server_id } => {
                format!("Cluster service: connected to {node} (server ID {server_id})")
            }
            Event::Disconnected { node } => format!("Cluster service: lost connection to {node}"),
            Event::ReplicationDone { node, items } => {
                format!("Cluster service: replication to {node} complete ({items} items)")
            }
            Event::ReplicationError { node, reason } => {
                format!("Cluster service: replication to {node} failed: {reason}")
            }
            Event::ClockWarning { node, seconds } => format!(
                "Cluster service: clock of {node} differs from this server by {seconds:.1} seconds"
            ),
            Event::TimeZoneWarning { node } => {
                format!("Cluster service: time zone of {node} differs from this server")
            }
        }
    }

    /// The service format's severity letter: I info, W warning, E error.
    pub fn severity(&self) -> char {
        match self {
            Event::Connected { .. } | Event::ReplicationDone { .. } => 'I',
            Event::Disconnected { .. }
            | Event::ClockWarning { .. }
            | Event::TimeZoneWarning { .. } => 'W',
            Event::ReplicationError { .. } => 'E',
        }
    }

    /// A message code per kind of event (the service format's `0x…` field).
    pub fn code(&self) -> u32 {
        match self {
            Event::Connected { .. } => 0x4150_41A1,
            Event::Disconnected { .. } => 0x8150_41A2,
            Event::ReplicationDone { .. } => 0x4150_41B0,
            Event::ReplicationError { .. } => 0xC150_41B1,
            Event::ClockWarning { .. } => 0x8150_41C0,
            Event::TimeZoneWarning { .. } => 0x8150_41C1,
        }
    }

    /// A short name for JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Connected { .. } => "connected",
            Event::Disconnected { .. } => "disconnected",
            Event::ReplicationDone { .. } => "replication-done",
            Event::ReplicationError { .. } => "replication-error",
            Event::ClockWarning { .. } => "clock-warning",
            Event::TimeZoneWarning { .. } => "time-zone-warning",
        }
    }
}

fn weekday(w: Weekday) -> &'static str {
    match w {
        Weekday::Monday => "Mon",
        Weekday::Tuesday => "Tue",
        Weekday::Wednesday => "Wed",
        Weekday::Thursday => "Thu",
        Weekday::Friday => "Fri",
        Weekday::Saturday => "Sat",
        Weekday::Sunday => "Sun",
    }
}

/// Where a line comes from: the writer's thread number (classic format) and
/// its 8-digit hex id (service format).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Origin {
    pub thread: u32,
    pub id: u32,
}

/// One line with its CRLF, at local time `at`.
pub(crate) fn format_line(format: Format, at: DateTime, origin: Origin, event: &Event) -> String {
    let ms = at.subsec_nanosecond() / 1_000_000;
    match format {
        Format::Classic => format!(
            "{} {:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}: {}: {}\r\n",
            weekday(at.weekday()),
            at.year(),
            at.month(),
            at.day(),
            at.hour(),
            at.minute(),
            at.second(),
            ms,
            origin.thread,
            event.text()
        ),
        Format::Service => format!(
            "{:02}{:02}{:02} {:02}{:02}{:02}{:03} {} [{:08X}] 0x{:08X} {}\r\n",
            at.year().rem_euclid(100),
            at.month(),
            at.day(),
            at.hour(),
            at.minute(),
            at.second(),
            ms,
            event.severity(),
            origin.id,
            event.code(),
            event.text()
        ),
    }
}

/// The cluster log's file for a local date: `<root>/<logs.dir>/<daily_file>`
/// with `{date}` as YYYY-MM-DD and `{name}` the profile's cluster log name.
pub fn file_for(root: &Path, profile: &Profile, date: jiff::civil::Date) -> PathBuf {
    let name = profile
        .logs
        .daily_file
        .replace(
            "{date}",
            &format!("{:04}-{:02}-{:02}", date.year(), date.month(), date.day()),
        )
        .replace("{name}", &profile.cluster_log_name());
    root.join(profile.logs.dir.replace('\\', "/")).join(name)
}

/// Append one line (open, append, close: a reader polls the file).
pub fn append(file: &Path, line: &str) -> std::io::Result<()> {
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)?;
    f.write_all(line.as_bytes())?;
    f.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn at() -> DateTime {
        date(2026, 11, 22).at(10, 15, 2, 117_000_000)
    }

    const ORIGIN: Origin = Origin {
        thread: 17,
        id: 0x1002_FA89,
    };

    fn node() -> String {
        "SIM2".into()
    }

    #[test]
    fn classic_lines_are_byte_exact_with_crlf() {
        let cases = [
            (
                Event::Connected { node: node(), server_id: ServerId::new(2).unwrap() },
                "Sun 2026-11-22 10:15:02.117: 17: Cluster service: connected to SIM2 (server ID 2)\r\n",
            ),
            (
                Event::Disconnected { node: node() },
                "Sun 2026-11-22 10:15:02.117: 17: Cluster service: lost connection to SIM2\r\n",
            ),
            (
                Event::ReplicationDone { node: node(), items: 42 },
                "Sun 2026-11-22 10:15:02.117: 17: Cluster service: replication to SIM2 complete (42 items)\r\n",
            ),
            (
                Event::ReplicationError { node: node(), reason: "the node did not answer".into() },
                "Sun 2026-11-22 10:15:02.117: 17: Cluster service: replication to SIM2 failed: the node did not answer\r\n",
            ),
            (
                Event::ClockWarning { node: node(), seconds: 3.25 },
                "Sun 2026-11-22 10:15:02.117: 17: Cluster service: clock of SIM2 differs from this server by 3.2 seconds\r\n",
            ),
            (
                Event::TimeZoneWarning { node: node() },
                "Sun 2026-11-22 10:15:02.117: 17: Cluster service: time zone of SIM2 differs from this server\r\n",
            ),
        ];
        for (event, want) in cases {
            assert_eq!(format_line(Format::Classic, at(), ORIGIN, &event), want);
        }
    }

    #[test]
    fn service_lines_are_byte_exact_with_severity_and_crlf() {
        let at = date(2026, 11, 22).at(10, 15, 3, 204_999_999);
        let cases = [
            (
                Event::Connected { node: node(), server_id: ServerId::new(12).unwrap() },
                "261122 101503204 I [1002FA89] 0x415041A1 Cluster service: connected to SIM2 (server ID 12)\r\n",
            ),
            (
                Event::Disconnected { node: node() },
                "261122 101503204 W [1002FA89] 0x815041A2 Cluster service: lost connection to SIM2\r\n",
            ),
            (
                Event::ReplicationDone { node: node(), items: 7 },
                "261122 101503204 I [1002FA89] 0x415041B0 Cluster service: replication to SIM2 complete (7 items)\r\n",
            ),
            (
                Event::ReplicationError { node: node(), reason: "x".into() },
                "261122 101503204 E [1002FA89] 0xC15041B1 Cluster service: replication to SIM2 failed: x\r\n",
            ),
            (
                Event::ClockWarning { node: node(), seconds: 1.5 },
                "261122 101503204 W [1002FA89] 0x815041C0 Cluster service: clock of SIM2 differs from this server by 1.5 seconds\r\n",
            ),
            (
                Event::TimeZoneWarning { node: node() },
                "261122 101503204 W [1002FA89] 0x815041C1 Cluster service: time zone of SIM2 differs from this server\r\n",
            ),
        ];
        for (event, want) in cases {
            assert_eq!(format_line(Format::Service, at, ORIGIN, &event), want);
        }
    }

    #[test]
    fn both_formats_match_the_profiles_line_patterns() {
        // The profile's regular expressions are what a reader parses with;
        // checked here by hand-written shape tests (no regex dependency).
        let p = Profile::builtin();
        assert!(p.logs.classic_line.contains("(?P<thread>"));
        let e = Event::Connected {
            node: node(),
            server_id: ServerId::new(2).unwrap(),
        };
        let classic = format_line(Format::Classic, at(), ORIGIN, &e);
        let body = classic.trim_end_matches("\r\n");
        assert!(!body.contains('\r') && !body.contains('\n'));
        let (stamp, text) = body.split_once(": 17: ").unwrap();
        assert_eq!(stamp.len(), "Sun 2026-11-22 10:15:02.117".len());
        assert_eq!(text, e.text());
        let service = format_line(Format::Service, at(), ORIGIN, &e);
        let fields: Vec<&str> = service.trim_end_matches("\r\n").splitn(6, ' ').collect();
        assert_eq!(fields[0].len(), 6);
        assert_eq!(fields[1].len(), 9);
        assert_eq!(fields[5], e.text());
    }

    #[test]
    fn the_file_follows_the_profile_and_the_local_date() {
        let p = Profile::builtin();
        let f = file_for(Path::new("/x/MDaemon"), &p, date(2026, 11, 22));
        assert_eq!(
            f,
            Path::new("/x/MDaemon/Logs/MDaemon-2026-11-22-Cluster.log")
        );
        // The profile's glob for finding the cluster log matches it.
        assert_eq!(*p.logs.cluster_log_glob, "*Cluster*.log");
        let name = f.file_name().unwrap().to_string_lossy();
        assert!(name.contains("Cluster") && name.ends_with(".log"));
    }

    #[test]
    fn append_adds_whole_lines_to_the_end() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("Logs/a.log");
        append(&f, "one\r\n").unwrap();
        append(&f, "two\r\n").unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"one\r\ntwo\r\n");
    }
}
