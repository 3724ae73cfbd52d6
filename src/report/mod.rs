//! Human-readable output: INI diffs and previews.

pub mod preview;

use crate::text::sanitize;

/// One line of a diff.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub(crate) enum DiffLine {
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
pub(crate) fn unified_diff(name: &str, before: &str, after: &str) -> Vec<DiffLine> {
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
