//! Text for people: untrusted text made safe for a terminal and for JSON,
//! sizes as Windows shows them, positions in a text. The lowest layer: every
//! front end and every reader of logs, files and the network uses it.

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

/// Text that came from files, logs or the network, made safe for a terminal
/// (and for `--json`, which carries it the same way): control characters
/// (C0, DEL, C1 — which start escape sequences) are shown as visible escapes
/// such as `\x1b`, and invisible format characters that reorder or hide text
/// (bidi overrides and isolates, direction marks, line and paragraph
/// separators) as `\u{202e}`. Tabs become a space. Text without any of them
/// is returned as it is.
///
/// This is the one sanitizer: `say!`, `json_line` and the wizard's screen in
/// [`crate::output`] and [`crate::wizard::view`] pass everything they
/// print through it.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for ch in text.chars() {
        if ch == '\t' {
            out.push(' ');
        } else if needs_escape(ch) {
            escape_into(&mut out, ch);
        } else {
            out.push(ch);
        }
    }
    Cow::Owned(out)
}

/// [`sanitize`] line by line: the line breaks stay (text printed as several
/// lines), everything else is escaped, `\r` included.
pub(crate) fn sanitize_lines(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c != '\n' && needs_escape(c)) {
        return Cow::Borrowed(text);
    }
    let lines: Vec<Cow<'_, str>> = text.split('\n').map(sanitize).collect();
    Cow::Owned(lines.join("\n"))
}

/// A path for the screen: [`sanitize`]d, so a line break in a file name is
/// shown as `\x0a` instead of starting a new line.
pub(crate) fn safe_path(path: &std::path::Path) -> String {
    sanitize(&path.display().to_string()).into_owned()
}

/// JSON text (as serde_json writes it) with every string in it — object keys
/// too — passed through [`sanitize_lines`], as if each had been sanitized
/// before it was encoded: what `--json` prints carries untrusted text escaped
/// the way the terminal shows it (serde_json itself escapes only C0, and as
/// `\u001b`, which a consumer decodes back into a raw ESC). Line breaks stay
/// line breaks (`\n`), as in a message of several lines on the terminal.
/// Field order is kept.
///
/// Outside strings JSON has neither backslashes nor control characters, so a
/// plain scan of escapes and characters finds exactly the strings' content.
pub(crate) fn sanitize_json_text(json: &str) -> Cow<'_, str> {
    if !json.contains('\\') && !json.chars().any(needs_escape) {
        return Cow::Borrowed(json);
    }
    // The escape `sanitize` writes for `ch`, encoded for a JSON string.
    fn push_escaped(out: &mut String, ch: char) {
        if ch == '\t' {
            out.push(' ');
        } else {
            let mut plain = String::new();
            escape_into(&mut plain, ch);
            out.push_str(&plain.replace('\\', "\\\\"));
        }
    }
    let mut out = String::with_capacity(json.len() + 16);
    let mut chars = json.chars();
    while let Some(ch) = chars.next() {
        if ch != '\\' {
            if needs_escape(ch) {
                push_escaped(&mut out, ch);
            } else {
                out.push(ch);
            }
            continue;
        }
        match chars.next() {
            Some('n') => out.push_str("\\n"),
            Some('r') => push_escaped(&mut out, '\r'),
            Some('t') => push_escaped(&mut out, '\t'),
            Some('b') => push_escaped(&mut out, '\u{8}'),
            Some('f') => push_escaped(&mut out, '\u{c}'),
            Some('u') => {
                let hex: String = (0..4).filter_map(|_| chars.next()).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(c) if needs_escape(c) => push_escaped(&mut out, c),
                    _ => {
                        out.push_str("\\u");
                        out.push_str(&hex);
                    }
                }
            }
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

fn escape_into(out: &mut String, ch: char) {
    use std::fmt::Write;
    let code = ch as u32;
    let _ = if code <= 0xff {
        write!(out, "\\x{code:02x}")
    } else {
        write!(out, "\\u{{{code:04x}}}")
    };
}

/// Whether a character must not reach a terminal as it is: C0, DEL and C1
/// controls, and the invisible format characters that change how the text
/// around them is shown (bidi embeddings, overrides, isolates and marks, the
/// Arabic letter mark, line and paragraph separators, and the deprecated
/// format characters U+206A–U+206F).
pub fn needs_escape(ch: char) -> bool {
    ch.is_control()
        || matches!(
            ch,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{206f}'
        )
}

/// A command-line argument as the administrator pastes it into a Windows
/// shell: bare when it has nothing a shell reads, in double quotes where
/// cmd and PowerShell both take them literally (no `$`, backtick, `%` or
/// `"`), else in PowerShell's single quotes with `'` doubled.
pub(crate) fn shell_arg(arg: &str) -> String {
    let bare =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '\\' | '.' | '_' | ':' | '-' | '/');
    if !arg.is_empty() && arg.chars().all(bare) {
        arg.to_string()
    } else if !arg.contains(['$', '`', '%', '"']) {
        format!("\"{arg}\"")
    } else {
        format!("'{}'", arg.replace('\'', "''"))
    }
}

/// A time in Unix milliseconds as a clock time in UTC (`14:05 UTC`), for
/// "valid until"; `?` when it is out of range.
pub(crate) fn clock_utc(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%H:%M UTC").to_string())
        .unwrap_or_else(|_| "?".into())
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shell_argument_pastes_into_cmd_and_powershell() {
        assert_eq!(shell_arg(r"\\fs\mdaemon"), r"\\fs\mdaemon");
        assert_eq!(shell_arg(r"\\fs\mail share"), r#""\\fs\mail share""#);
        assert_eq!(shell_arg("O'Brien here"), r#""O'Brien here""#);
        // What cmd or PowerShell would expand inside double quotes.
        assert_eq!(shell_arg(r"\\fs\mail$"), r"'\\fs\mail$'");
        assert_eq!(shell_arg("it's 100%"), "'it''s 100%'");
        assert_eq!(shell_arg(""), r#""""#);
    }

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
    fn bidi_and_invisible_format_characters_are_escaped() {
        let hostile = "a\u{202e}b\u{2066}c\u{2069}d\u{200e}e\u{200f}f\u{061c}g\u{2028}h\u{7f}i";
        let safe = sanitize(hostile);
        assert_eq!(
            safe,
            "a\\u{202e}b\\u{2066}c\\u{2069}d\\u{200e}e\\u{200f}f\\u{061c}g\\u{2028}h\\x7fi"
        );
        assert!(!safe.chars().any(needs_escape), "{safe:?}");
        // Escaping twice changes nothing: the output has no character to escape.
        assert_eq!(sanitize(&safe), safe);
        // Letters of right-to-left scripts are text, not controls.
        assert!(matches!(sanitize("שלום مرحبا"), Cow::Borrowed(_)));
    }

    #[test]
    fn lines_keep_their_breaks_and_lose_their_controls() {
        assert_eq!(
            sanitize_lines("one\x1b[2J\ntwo\r\u{9b}1m"),
            "one\\x1b[2J\ntwo\\x0d\\x9b1m"
        );
        assert!(matches!(sanitize_lines("a\nb"), Cow::Borrowed(_)));
        assert_eq!(
            safe_path(std::path::Path::new("a\nb\u{1b}]0;T\u{7}.log")),
            "a\\x0ab\\x1b]0;T\\x07.log"
        );
    }

    #[test]
    fn json_strings_and_keys_are_sanitized_as_on_the_terminal() {
        let v = serde_json::json!({
            "file": "MDaemon-Cluster\u{1b}]0;T\u{7}\u{1b}[2J.log",
            "list": ["\u{9b}31m", "\u{202e}gpj.exe", "a\tb\r\nc", 7, null, true],
            "k\u{1b}": { "deep": "\u{7f} C:\\MDaemon\\ \"q\" \u{8}\u{c}" },
        });
        let text = v.to_string();
        let safe = sanitize_json_text(&text);
        assert!(!safe.chars().any(needs_escape), "{safe}");
        assert!(
            !safe.contains("\\u00"),
            "no JSON escape decodes to a control: {safe}"
        );
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(
            back,
            serde_json::json!({
                "file": "MDaemon-Cluster\\x1b]0;T\\x07\\x1b[2J.log",
                "list": ["\\x9b31m", "\\u{202e}gpj.exe", "a b\\x0d\nc", 7, null, true],
                "k\\x1b": { "deep": "\\x7f C:\\MDaemon\\ \"q\" \\x08\\x0c" },
            })
        );
        // Clean JSON is left as it is, backslashes of Windows paths included.
        let clean = serde_json::json!({ "path": "C:\\MDaemon\\App", "n": 1 }).to_string();
        assert_eq!(sanitize_json_text(&clean), clean);
    }

    proptest::proptest! {
        /// Sanitizing the JSON text is the same as sanitizing each string
        /// (line by line) before encoding it.
        #[test]
        fn json_text_sanitizing_equals_sanitizing_each_string(s in "\\PC*|[\\x00-\\x20\\x7f-\\u{a0}\\u{2028}-\\u{206f}\\\\\"a]*") {
            let encoded = serde_json::to_string(&s).unwrap();
            let expected = serde_json::to_string(&sanitize_lines(&s)).unwrap();
            proptest::prop_assert_eq!(sanitize_json_text(&encoded), expected);
        }
    }

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col("ab\ncäd", 6), (2, 3));
        assert_eq!(line_col("x", 99), (1, 2));
    }
}
