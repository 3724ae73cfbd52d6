//! Human-readable output: sizes, safe text, INI diffs and previews.

pub mod preview;

use std::borrow::Cow;

/// Bytes as Windows shows them (1 KB = 1024 bytes).
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Text that came from files, logs or the network, made safe for a terminal:
/// control characters (C0, DEL, C1 — which start escape sequences) are shown
/// as visible escapes such as `\x1b` instead of being sent to the terminal.
/// Tabs become a space.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for ch in text.chars() {
        if ch == '\t' {
            out.push(' ');
        } else if needs_escape(ch) {
            out.push_str(&format!("\\x{:02x}", ch as u32));
        } else {
            out.push(ch);
        }
    }
    Cow::Owned(out)
}

fn needs_escape(ch: char) -> bool {
    ch.is_control()
        || matches!(ch, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// One line of a diff.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub enum DiffLine {
    Header(String),
    Hunk(String),
    Context(String),
    Removed(String),
    Added(String),
}

impl DiffLine {
    pub fn text(&self) -> String {
        match self {
            DiffLine::Header(s) | DiffLine::Hunk(s) => s.clone(),
            DiffLine::Context(s) => format!(" {s}"),
            DiffLine::Removed(s) => format!("-{s}"),
            DiffLine::Added(s) => format!("+{s}"),
        }
    }
}

/// A unified diff of two decoded texts, with two lines of context. Line
/// endings are not shown; text is sanitized.
pub fn unified_diff(name: &str, before: &str, after: &str) -> Vec<DiffLine> {
    let diff = similar::TextDiff::from_lines(before, after);
    let mut out = vec![
        DiffLine::Header(format!("--- {name}")),
        DiffLine::Header(format!("+++ {name} (after mdcluster)")),
    ];
    let clean = |s: &str| sanitize(s.trim_end_matches(['\r', '\n'])).into_owned();
    for group in diff.grouped_ops(2) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        let old = first.old_range().start..last.old_range().end;
        let new = first.new_range().start..last.new_range().end;
        out.push(DiffLine::Hunk(format!(
            "@@ -{},{} +{},{} @@",
            old.start + 1,
            old.len(),
            new.start + 1,
            new.len()
        )));
        for op in &group {
            for change in diff.iter_changes(op) {
                let text = clean(change.value());
                out.push(match change.tag() {
                    similar::ChangeTag::Equal => DiffLine::Context(text),
                    similar::ChangeTag::Delete => DiffLine::Removed(text),
                    similar::ChangeTag::Insert => DiffLine::Added(text),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(size(0), "0 bytes");
        assert_eq!(size(1536), "1.5 KB");
        assert_eq!(size(3 * 1024 * 1024 * 1024), "3.0 GB");
    }

    #[test]
    fn escape_sequences_are_neutralised() {
        let hostile = "x\u{1b}[2Jy\u{1b}]52;c;SGVsbG8=\u{7}z\u{9b}31m";
        let safe = sanitize(hostile);
        assert!(!safe.chars().any(|c| c.is_control()), "{safe:?}");
        assert_eq!(safe, "x\\x1b[2Jy\\x1b]52;c;SGVsbG8=\\x07z\\x9b31m");
        assert!(matches!(sanitize("plain ü"), Cow::Borrowed(_)));
    }

    #[test]
    fn diff_shows_only_changed_lines_with_context() {
        let before = "a\r\nb\r\nLockFiles=C:\\x\\\r\nc\r\nd\r\ne\r\n";
        let after = "a\r\nb\r\nLockFiles=\\\\s\\x\\\r\nc\r\nd\r\ne\r\n";
        let d = unified_diff("MDaemon.ini", before, after);
        assert!(d.contains(&DiffLine::Removed("LockFiles=C:\\x\\".into())));
        assert!(d.contains(&DiffLine::Added("LockFiles=\\\\s\\x\\".into())));
        assert!(d.contains(&DiffLine::Hunk("@@ -1,5 +1,5 @@".into())));
        assert!(!d.contains(&DiffLine::Context("e".into())));
    }
}
