//! Log lines into events: the two line formats MDaemon is known to write
//! (profile `logs.classic_line` and `logs.service_line`), and bytes into text.
//!
//! - classic: `Sat 2025-06-07 00:00:12.401: 17: text`
//! - service: `260818 005841591 I [1002FA89] 0x415041A1 text`
//!   (`YYMMDD HHMMSSmmm severity [hex id] 0xCODE text`)
//!
//! A line in neither format is an event of format `unknown` with the whole
//! line as its text.

use crate::problem::Problem;
use crate::profile::Profile;
use regex::Regex;
use serde::Serialize;

/// Which format a line was in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Classic,
    Service,
    Unknown,
}

/// One log line, parsed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Event {
    /// `YYYY-MM-DD HH:MM:SS.mmm` as written (the server's local time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// `info`, `warning`, `error`, `debug`, or the letter as written; the
    /// classic format has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    pub text: String,
    pub raw: String,
    pub format: Format,
}

/// The two known formats, compiled from the profile.
pub struct Parser {
    classic: Regex,
    service: Regex,
}

impl Parser {
    pub fn new(profile: &Profile) -> Result<Parser, Problem> {
        let compile = |what: &str, pattern: &str| {
            Regex::new(pattern).map_err(|e| {
                Problem::usage(format!(
                    "invalid profile: {what} is not a valid regular expression: {e}"
                ))
            })
        };
        Ok(Parser {
            classic: compile("logs.classic_line", &profile.logs.classic_line)?,
            service: compile("logs.service_line", &profile.logs.service_line)?,
        })
    }

    pub fn parse(&self, line: &str) -> Event {
        if let Some(c) = self.classic.captures(line) {
            let time = match (group(&c, "date"), group(&c, "time")) {
                (Some(d), Some(t)) => Some(format!("{d} {t}")),
                _ => None,
            };
            return Event {
                time,
                severity: group(&c, "severity").map(severity),
                text: group(&c, "text").unwrap_or(line).to_string(),
                raw: line.to_string(),
                format: Format::Classic,
            };
        }
        if let Some(c) = self.service.captures(line) {
            let time = match (group(&c, "date"), group(&c, "time")) {
                (Some(d), Some(t)) => service_time(d, t),
                _ => None,
            };
            return Event {
                time,
                severity: group(&c, "severity").map(severity),
                text: group(&c, "text").unwrap_or(line).to_string(),
                raw: line.to_string(),
                format: Format::Service,
            };
        }
        Event {
            time: None,
            severity: None,
            text: line.to_string(),
            raw: line.to_string(),
            format: Format::Unknown,
        }
    }
}

fn group<'t>(c: &regex::Captures<'t>, name: &str) -> Option<&'t str> {
    c.name(name).map(|m| m.as_str())
}

fn severity(letter: &str) -> String {
    match letter {
        "I" | "i" => "info".into(),
        "W" | "w" => "warning".into(),
        "E" | "e" => "error".into(),
        "D" | "d" => "debug".into(),
        other => other.to_string(),
    }
}

/// `YYMMDD`, `HHMMSSmmm` as `20YY-MM-DD HH:MM:SS.mmm`.
fn service_time(date: &str, time: &str) -> Option<String> {
    let (d, t) = (date.as_bytes(), time.as_bytes());
    if d.len() != 6 || t.len() != 9 || !date.is_ascii() || !time.is_ascii() {
        return None;
    }
    Some(format!(
        "20{}-{}-{} {}:{}:{}.{}",
        &date[0..2],
        &date[2..4],
        &date[4..6],
        &time[0..2],
        &time[2..4],
        &time[4..6],
        &time[6..9]
    ))
}

/// Bytes of one line (without its newline) as text: UTF-8 when valid, else
/// Windows-1252. Never fails. A trailing CR and a UTF-8 byte-order mark are
/// removed. `cut` says the line was cut short, so an incomplete UTF-8
/// sequence at its very end is expected and left out.
pub fn decode(bytes: &[u8], cut: bool) -> String {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(e) if cut && e.error_len().is_none() => {
            String::from_utf8_lossy(&bytes[..e.valid_up_to()]).into_owned()
        }
        Err(_) => crate::codepage::decode_windows_1252(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parser() -> Parser {
        Parser::new(&Profile::builtin()).unwrap()
    }

    #[test]
    fn classic_lines() {
        let e = parser().parse(
            "Sat 2025-06-07 00:00:12.401: 17: Cluster service: connected to MAIL2 (server ID 2)",
        );
        assert_eq!(e.format, Format::Classic);
        assert_eq!(e.time.as_deref(), Some("2025-06-07 00:00:12.401"));
        assert_eq!(e.severity, None);
        assert_eq!(e.text, "Cluster service: connected to MAIL2 (server ID 2)");
        assert!(e.raw.starts_with("Sat 2025-06-07"));
    }

    #[test]
    fn service_lines() {
        let e = parser().parse(
            "261122 101503204 W [1002FA89] 0x415041A1 Cluster service: time zone of MAIL2 differs from this server",
        );
        assert_eq!(e.format, Format::Service);
        assert_eq!(e.time.as_deref(), Some("2026-11-22 10:15:03.204"));
        assert_eq!(e.severity.as_deref(), Some("warning"));
        assert_eq!(
            e.text,
            "Cluster service: time zone of MAIL2 differs from this server"
        );
        let e = parser().parse("260818 005841591 E [1002FA89] 0x415041A1 x");
        assert_eq!(e.severity.as_deref(), Some("error"));
        let e = parser().parse("260818 005841591 I [1002FA89] 0x415041A1 ");
        assert_eq!((e.format, e.text.as_str()), (Format::Service, ""));
    }

    #[test]
    fn garbage_is_kept_as_unknown() {
        for line in [
            "",
            "garbage",
            "Sat 2025-06-07 00:00:12.401 17 no colons",
            "26081 005841591 I [1002FA89] 0x415041A1 short date",
            "260818 005841591 I [XYZ] 0x415041A1 bad id",
            "\u{1b}[31mred\u{1b}[0m",
            "ünïcödé ✓",
        ] {
            let e = parser().parse(line);
            assert_eq!(e.format, Format::Unknown, "{line}");
            assert_eq!(e.text, line);
            assert_eq!(e.raw, line);
            assert_eq!(e.time, None);
        }
    }

    #[test]
    fn bytes_decode_as_utf8_or_windows_1252() {
        assert_eq!(decode(b"caf\xc3\xa9\r", false), "café");
        assert_eq!(decode(b"caf\xe9 \x80 \x9f", false), "café € Ÿ");
        assert_eq!(decode(b"\xEF\xBB\xBFabc", false), "abc");
        // Cut in the middle of a UTF-8 sequence: the partial character goes.
        assert_eq!(decode(b"caf\xc3", true), "caf");
        assert_eq!(decode(b"caf\xc3", false), "cafÃ");
        // Undefined Windows-1252 bytes still decode (to C1 controls).
        assert_eq!(decode(b"\x81\xff", false).chars().count(), 2);
    }

    #[test]
    fn escape_sequences_are_stripped_for_display() {
        let e = parser().parse(
            "Sun 2026-11-22 10:15:02.117: 17: Cluster service: connected to MAIL2\u{1b}]0;pwned\u{7}\u{1b}[2J",
        );
        let shown = crate::text::sanitize(&e.text);
        assert!(!shown.contains('\u{1b}') && !shown.contains('\u{7}'));
        assert!(shown.contains("\\x1b]0;pwned\\x07"));
    }
}
