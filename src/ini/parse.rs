//! Line scanner: splits the raw bytes into lines and classifies each line.
//!
//! One pass over the input, O(n) in its length, and it cannot fail: every
//! byte sequence is some mix of blank, comment, header, key and "other" lines.
//! All offsets are absolute indices into the scanned buffer and always satisfy
//! `body_start <= content_end <= end <= bytes.len()`; spans of a line
//! lie inside `body_start..content_end`.

/// The UTF-8 byte order mark. When present it is the prefix of line 1.
pub(super) const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// A half-open byte range `start..end` into the document buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    /// The bytes this span covers. Spans come from scanning the same buffer,
    /// so the fallback to an empty slice is never taken; it only keeps this
    /// panic-free if a stale span were ever used by mistake.
    pub fn of(self, bytes: &[u8]) -> &[u8] {
        bytes.get(self.start..self.end).unwrap_or(&[])
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// Only spaces/tabs (or nothing).
    Blank,
    /// First non-blank byte is `;` or `#`.
    Comment,
    /// `[name]` after optional spaces/tabs; `name` is trimmed.
    Header { name: Span },
    /// `key = value`; both trimmed of spaces/tabs. An all-blank value is the
    /// empty span at `content_end` (i.e. after the blanks that follow `=`).
    Key { key: Span, value: Span },
    /// Anything else (no `=`, not a header). Kept, never interpreted.
    Other,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Line {
    /// First byte of the line, after the BOM on line 1 (the BOM is never
    /// edited, so the index does not need the line's true start).
    pub body_start: usize,
    /// End of the content, i.e. start of the line ending (`\r\n` or `\n`).
    pub content_end: usize,
    /// One past the line ending; equals `content_end` for an unterminated
    /// last line.
    pub end: usize,
    pub kind: Kind,
}

impl Line {
    pub(crate) fn has_ending(&self) -> bool {
        self.end > self.content_end
    }

    /// True if the line shows something besides an optional BOM.
    pub(crate) fn has_body(&self) -> bool {
        self.content_end > self.body_start
    }
}

pub(super) struct Scan {
    pub lines: Vec<Line>,
    pub crlf_endings: usize,
    pub lf_endings: usize,
}

pub(super) fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Splits on `\n`; a `\r` directly before it belongs to the ending (CRLF).
/// Any other `\r` is ordinary content, as is every other byte.
pub(super) fn scan(bytes: &[u8]) -> Scan {
    let bom_len = if bytes.starts_with(UTF8_BOM) {
        UTF8_BOM.len()
    } else {
        0
    };
    let mut lines = Vec::new();
    let mut crlf_endings = 0;
    let mut lf_endings = 0;
    let mut start = 0;
    while start < bytes.len() {
        let rest = bytes.get(start..).unwrap_or(&[]);
        let (content_end, end) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let newline = start + i;
                if i > 0 && rest.get(i - 1) == Some(&b'\r') {
                    crlf_endings += 1;
                    (newline - 1, newline + 1)
                } else {
                    lf_endings += 1;
                    (newline, newline + 1)
                }
            }
            None => (bytes.len(), bytes.len()),
        };
        // The BOM bytes contain no '\r' or '\n', so content_end >= bom_len on
        // line 1; `min` merely makes the ordering invariant obvious.
        let body_start = if start == 0 {
            bom_len.min(content_end)
        } else {
            start
        };
        lines.push(Line {
            body_start,
            content_end,
            end,
            kind: classify(bytes, body_start, content_end),
        });
        start = end;
    }
    Scan {
        lines,
        crlf_endings,
        lf_endings,
    }
}

/// Classifies the content `bytes[start..end]` (no BOM, no line ending).
fn classify(bytes: &[u8], start: usize, end: usize) -> Kind {
    let content = bytes.get(start..end).unwrap_or(&[]);
    let Some(first) = content.iter().position(|&b| !is_blank(b)) else {
        return Kind::Blank;
    };
    let visible = content.get(first..).unwrap_or(&[]);
    match visible.first() {
        Some(b';' | b'#') => return Kind::Comment,
        Some(b'[') => {
            // The first ']' closes the name; the rest of the line is ignored.
            // Without any ']' the line is not a header and falls through.
            if let Some(close) = visible.iter().position(|&b| b == b']') {
                let name_start = start + first + 1;
                let name_end = start + first + close;
                return Kind::Header {
                    name: trim(bytes, name_start, name_end),
                };
            }
        }
        _ => {}
    }
    match content.iter().position(|&b| b == b'=') {
        Some(eq) => Kind::Key {
            key: trim(bytes, start, start + eq),
            value: trim(bytes, start + eq + 1, end),
        },
        None => Kind::Other,
    }
}

/// Trims spaces/tabs from both ends of `bytes[start..end]`. An all-blank
/// range yields the empty span at `end`.
fn trim(bytes: &[u8], start: usize, end: usize) -> Span {
    let segment = bytes.get(start..end).unwrap_or(&[]);
    let lead = segment
        .iter()
        .position(|&b| !is_blank(b))
        .unwrap_or(segment.len());
    let trail = segment
        .iter()
        .rposition(|&b| !is_blank(b))
        .map_or(lead, |last| last + 1);
    Span {
        start: start + lead,
        end: start + trail.max(lead),
    }
}
