//! Lossless editor for classic Windows INI files such as `MDaemon.ini`.
//!
//! [`IniDoc`] keeps the file's original bytes and an index of its lines. It
//! reads keys the way the Windows profile API (`GetPrivateProfileString`)
//! does, and edits by splicing bytes, so a file is never re-serialised.
//!
//! # Invariants
//!
//! * **Lossless.** [`IniDoc::parse`] accepts any bytes (binary, NUL, invalid
//!   UTF-8) and [`IniDoc::as_bytes`] returns them unchanged until an edit is
//!   made. An edit changes only the bytes described below; everything else —
//!   comments, blank lines, line order, duplicate keys and sections, spacing,
//!   each line's own ending (CRLF and LF may be mixed), a missing final
//!   newline, the UTF-8 BOM, Windows-1252 bytes, NUL bytes, garbage lines —
//!   stays identical byte for byte.
//! * **Lines.** `\n` ends a line; a `\r` right before it is part of that
//!   ending (CRLF). Any other `\r` is an ordinary content byte. The last line
//!   may lack an ending. A UTF-8 BOM at offset 0 is a prefix of line 1 and
//!   decides the [`TextEncoding`]; without it the file is Windows-1252 (ANSI).
//! * **Line kinds** (leading spaces/tabs are skipped before deciding):
//!   `;` or `#` starts a comment; `[name]` is a section header (the first `]`
//!   closes the name, anything after it is ignored but kept); a line with
//!   `=` is `key = value`, split at the first `=`, both sides trimmed of
//!   spaces/tabs only, with no inline-comment stripping (`;` in a value is
//!   part of the value) and no quote stripping; anything else is kept and
//!   ignored. Keys before the first header belong to no section and cannot
//!   be reached by name.
//! * **Name matching.** Section and key names compare ASCII
//!   case-insensitively; bytes >= 0x80 must match exactly. Names passed as
//!   `&str` are first encoded in the document's encoding (so `"Müller"`
//!   matches the byte `0xFC` in an ANSI file). Lookup names are not trimmed.
//! * **First wins.** Only the first section with a given name is used by
//!   [`IniDoc::get`], [`IniDoc::entries`], [`IniDoc::set`] and
//!   [`IniDoc::remove`]; a later duplicate section is kept but never read or
//!   written. Within a section the first occurrence of a key wins.
//!
//! # Where edits go
//!
//! * **Existing key:** only the trimmed value bytes are replaced; key,
//!   spacing around `=`, trailing blanks and the line ending are untouched.
//!   An empty value (`Key=` or `Key =   `) is filled in *after* all the
//!   spaces/tabs that follow `=`, so `Key = ` becomes `Key = v` (this keeps
//!   an aligned `Key = value` style, and after setting any non-empty value,
//!   setting the old value back restores the original bytes).
//! * **Missing key, existing section:** a new line `Key=value` goes right
//!   after the last key line of the section, or right after the header if
//!   the section has no key lines. Blank, comment and other lines that
//!   follow the last key (often a comment that belongs to the next section)
//!   stay after the new line. The new line copies the line ending of the line
//!   it follows.
//! * **Missing section:** `[Section]` and `Key=value` are appended at the end
//!   of the file with the dominant line ending: CRLF when CRLF endings are at
//!   least as common as LF ones (so also for a file without any ending), LF
//!   otherwise.
//! * **Unterminated last line:** if text must be added after a last line that
//!   has no ending, that line first gets the dominant ending (CRLF if its
//!   content ends in a stray `\r`, so the `\r` stays content) and the added
//!   text is left without a final ending. A file that lacked a final newline
//!   therefore still lacks one, and [`IniDoc::remove`] of a just-added key
//!   restores the original bytes exactly.
//!
//! Every edit re-indexes the document (O(n)); lookups are a linear scan over
//! the line index. Nothing here is quadratic in the file size.

mod parse;
#[cfg(test)]
mod tests;

use crate::codepage::encode_windows_1252;
use std::borrow::Cow;
use std::fmt;

use parse::{is_blank, Kind, Line, Span, UTF8_BOM};

/// One changed value in an INI file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IniEdit {
    pub section: String,
    pub key: String,
    /// The value before (None when the key is added).
    pub old: Option<String>,
    pub new: String,
}

/// The INI bytes after the edits: only the bytes of the changed values
/// change.
pub(crate) fn apply_edits(bytes: &[u8], edits: &[IniEdit]) -> Result<Vec<u8>, IniError> {
    let mut doc = IniDoc::parse(bytes.to_vec());
    for e in edits {
        doc.set_str(&e.section, &e.key, &e.new)?;
    }
    Ok(doc.as_bytes().to_vec())
}

const CRLF: &[u8] = b"\r\n";
const LF: &[u8] = b"\n";

/// How names and values are encoded in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextEncoding {
    /// The file starts with a UTF-8 BOM (`EF BB BF`).
    Utf8Bom,
    /// No BOM: ANSI, as MDaemon writes it. Every byte decodes to a char.
    Windows1252,
}

/// One `key=value` line of a section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Key as written, trimmed of spaces/tabs.
    pub key: Vec<u8>,
    /// Value as written, trimmed of spaces/tabs.
    pub value: Vec<u8>,
    /// 1-based line number in the current document.
    pub line: usize,
}

/// Which part of an edit was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Section,
    Key,
    Value,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Section => "section name",
            Field::Key => "key name",
            Field::Value => "value",
        })
    }
}

/// Why an edit was refused. A refused edit leaves the document unchanged.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum IniError {
    /// The text has a character that the file's ANSI code page lacks.
    #[error("{field} contains {ch:?}, which Windows-1252 cannot represent")]
    NotWindows1252 { field: Field, ch: char },
    /// The name or value would not read back as written (it would break the
    /// line, be trimmed, or turn the line into a comment or header).
    #[error("invalid {field}: {reason}")]
    Invalid { field: Field, reason: &'static str },
}

/// A key line found by a lookup: its index in `lines` and its spans.
#[derive(Clone, Copy)]
struct KeyLine {
    index: usize,
    line: Line,
    key: Span,
    value: Span,
}

/// A parsed INI file: the exact bytes plus an index of their lines.
#[derive(Clone)]
pub struct IniDoc {
    bytes: Vec<u8>,
    lines: Vec<Line>,
    crlf_endings: usize,
    lf_endings: usize,
}

impl fmt::Debug for IniDoc {
    // The buffer can be tens of megabytes; print its shape, not its bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IniDoc")
            .field("len", &self.bytes.len())
            .field("lines", &self.lines.len())
            .field("encoding", &self.encoding())
            .finish()
    }
}

impl IniDoc {
    /// Indexes `bytes`. Never fails; any byte sequence is a valid document.
    pub fn parse(bytes: Vec<u8>) -> IniDoc {
        let scan = parse::scan(&bytes);
        IniDoc {
            bytes,
            lines: scan.lines,
            crlf_endings: scan.crlf_endings,
            lf_endings: scan.lf_endings,
        }
    }

    /// The current bytes; identical to the input if nothing was changed.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Consumes the document and returns its current bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// [`TextEncoding::Utf8Bom`] iff the bytes start with a UTF-8 BOM.
    pub fn encoding(&self) -> TextEncoding {
        if self.bytes.starts_with(UTF8_BOM) {
            TextEncoding::Utf8Bom
        } else {
            TextEncoding::Windows1252
        }
    }

    /// Whether a header named `section` exists (case-insensitive).
    pub(crate) fn has_section(&self, section: &str) -> bool {
        self.find_section(section).is_some()
    }

    /// 1-based line number of the first header named `section`.
    pub fn section_line(&self, section: &str) -> Option<usize> {
        self.find_section(section).map(|(index, _)| index + 1)
    }

    /// Every section header's trimmed name, in file order and as written
    /// (duplicates included).
    pub fn section_names(&self) -> Vec<Vec<u8>> {
        self.lines
            .iter()
            .filter_map(|line| match line.kind {
                Kind::Header { name } => Some(name.of(&self.bytes).to_vec()),
                _ => None,
            })
            .collect()
    }

    /// All key lines of the first section named `section`, in file order,
    /// duplicates included. Empty if there is no such section.
    pub fn entries(&self, section: &str) -> Vec<Entry> {
        let Some((header, _)) = self.find_section(section) else {
            return Vec::new();
        };
        self.section_keys(header)
            .map(|found| self.entry(&found))
            .collect()
    }

    /// First occurrence of `key` in the first section named `section`.
    pub fn get(&self, section: &str, key: &str) -> Option<Entry> {
        let (header, _) = self.find_section(section)?;
        let found = self.find_key(header, &self.encode_lookup(key)?)?;
        Some(self.entry(&found))
    }

    /// Like [`IniDoc::get`], but decodes the value per [`IniDoc::encoding`]
    /// (Windows-1252 decodes every byte; UTF-8 is decoded lossily).
    pub fn get_str(&self, section: &str, key: &str) -> Option<String> {
        let entry = self.get(section, key)?;
        Some(match self.encoding() {
            TextEncoding::Windows1252 => crate::codepage::decode_windows_1252(&entry.value),
            TextEncoding::Utf8Bom => String::from_utf8_lossy(&entry.value).into_owned(),
        })
    }

    /// Sets `key` in `section` to the raw bytes `value`; see the module docs
    /// for where the bytes go. Names are encoded per [`IniDoc::encoding`].
    ///
    /// Refused (document unchanged) if the result would not read back as
    /// written: names that are empty, contain CR/LF/NUL, start or end with a
    /// space/tab, a section name with `]`, a key with `=` or starting with
    /// `;`, `#` or `[`; values with CR/LF/NUL or leading/trailing spaces/tabs.
    pub fn set(&mut self, section: &str, key: &str, value: &[u8]) -> Result<(), IniError> {
        let section_name = self.encode_for_write(section, Field::Section)?;
        check_section_name(&section_name)?;
        let key_name = self.encode_for_write(key, Field::Key)?;
        check_key_name(&key_name)?;
        check_value(value)?;

        let (span, replacement) = match self.find_section_bytes(&section_name) {
            Some((header, header_line)) => match self.find_key(header, &key_name) {
                Some(found) => (found.value, value.to_vec()),
                None => self.plan_key_insert(header, header_line, &key_name, value),
            },
            None => self.plan_section_append(&section_name, &key_name, value),
        };
        self.splice(span, replacement);
        Ok(())
    }

    /// Like [`IniDoc::set`], taking text: it is encoded per
    /// [`IniDoc::encoding`]. Fails for CR/LF in the value and for characters
    /// Windows-1252 cannot represent in an ANSI file.
    pub fn set_str(&mut self, section: &str, key: &str, value: &str) -> Result<(), IniError> {
        if value.contains(['\r', '\n']) {
            return Err(IniError::Invalid {
                field: Field::Value,
                reason: LINE_BREAK,
            });
        }
        let value = self.encode_for_write(value, Field::Value)?;
        self.set(section, key, &value)
    }

    /// Deletes the whole line (with its ending) of the first occurrence of
    /// `key` in the first section named `section`. Returns whether a line was
    /// removed. If that line was an unterminated last line, the ending of the
    /// line before it goes too, so the file keeps lacking a final newline and
    /// removing a key that [`IniDoc::set`] just added restores the old bytes.
    pub fn remove(&mut self, section: &str, key: &str) -> bool {
        let Some((header, _)) = self.find_section(section) else {
            return false;
        };
        let Some(key) = self.encode_lookup(key) else {
            return false;
        };
        let Some(KeyLine { index, line, .. }) = self.find_key(header, &key) else {
            return false;
        };
        let mut start = line.body_start;
        if !line.has_ending() {
            let previous = index.checked_sub(1).and_then(|i| self.lines.get(i));
            // An empty previous line cannot be left unterminated (it would
            // vanish), so only a line with content gives up its ending.
            if let Some(previous) = previous.filter(|p| p.has_body()) {
                start = previous.content_end;
            }
        }
        self.splice(
            Span {
                start,
                end: line.end,
            },
            Vec::new(),
        );
        true
    }

    // ---- lookup helpers -------------------------------------------------

    /// Index into `lines` and the line of the first header named `section`.
    fn find_section(&self, section: &str) -> Option<(usize, Line)> {
        let name = self.encode_lookup(section)?;
        self.find_section_bytes(&name)
    }

    fn find_section_bytes(&self, name: &[u8]) -> Option<(usize, Line)> {
        self.lines
            .iter()
            .copied()
            .enumerate()
            .find(|(_, line)| match line.kind {
                Kind::Header { name: span } => names_match(span.of(&self.bytes), name),
                _ => false,
            })
    }

    /// Key lines after the header at index `header`, up to the next header.
    fn section_keys(&self, header: usize) -> impl Iterator<Item = KeyLine> + '_ {
        self.lines
            .iter()
            .copied()
            .enumerate()
            .skip(header + 1)
            .take_while(|(_, line)| !matches!(line.kind, Kind::Header { .. }))
            .filter_map(|(index, line)| match line.kind {
                Kind::Key { key, value } => Some(KeyLine {
                    index,
                    line,
                    key,
                    value,
                }),
                _ => None,
            })
    }

    /// First line with `key` in the section whose header is at `header`.
    fn find_key(&self, header: usize, key: &[u8]) -> Option<KeyLine> {
        self.section_keys(header)
            .find(|found| names_match(found.key.of(&self.bytes), key))
    }

    fn entry(&self, found: &KeyLine) -> Entry {
        Entry {
            key: found.key.of(&self.bytes).to_vec(),
            value: found.value.of(&self.bytes).to_vec(),
            line: found.index + 1,
        }
    }

    // ---- edit planning ----------------------------------------------------

    /// Insertion of `key=value` after the last key line of the section whose
    /// header is at `header` (or after the header itself).
    fn plan_key_insert(
        &self,
        header: usize,
        header_line: Line,
        key: &[u8],
        value: &[u8],
    ) -> (Span, Vec<u8>) {
        let anchor = self
            .section_keys(header)
            .last()
            .map_or(header_line, |last_key| last_key.line);
        let new_line = [key, b"=", value].concat();
        let at = Span {
            start: anchor.end,
            end: anchor.end,
        };
        if anchor.has_ending() {
            let ending = self
                .bytes
                .get(anchor.content_end..anchor.end)
                .unwrap_or(CRLF);
            (at, [new_line.as_slice(), ending].concat())
        } else {
            // The anchor is the unterminated last line: give it an ending and
            // leave the new (now last) line unterminated instead.
            (at, [self.ending_for(&anchor), new_line.as_slice()].concat())
        }
    }

    fn plan_section_append(&self, section: &[u8], key: &[u8], value: &[u8]) -> (Span, Vec<u8>) {
        let header = [b"[", section, b"]"].concat();
        let new_line = [key, b"=", value].concat();
        self.plan_append_lines(&[header, new_line])
    }

    /// Appends whole lines at the end of the file (see module docs on the
    /// unterminated last line).
    fn plan_append_lines(&self, new_lines: &[Vec<u8>]) -> (Span, Vec<u8>) {
        let ending = self.dominant_ending();
        let end = self.bytes.len();
        let unterminated_last = self
            .lines
            .last()
            .filter(|line| !line.has_ending() && line.has_body());
        let mut out = Vec::new();
        if let Some(last) = unterminated_last {
            out.extend_from_slice(self.ending_for(last));
        }
        for (i, line) in new_lines.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(ending);
            }
            out.extend_from_slice(line);
        }
        if unterminated_last.is_none() {
            out.extend_from_slice(ending);
        }
        (Span { start: end, end }, out)
    }

    /// CRLF when CRLF endings are at least as common as LF (Windows default,
    /// also for a file without endings), else LF.
    fn dominant_ending(&self) -> &'static [u8] {
        if self.crlf_endings >= self.lf_endings {
            CRLF
        } else {
            LF
        }
    }

    /// The ending to give an unterminated line. A stray `\r` at its end would
    /// merge with a bare LF into CRLF and silently leave the content, so such
    /// a line always gets CRLF.
    fn ending_for(&self, line: &Line) -> &'static [u8] {
        let content = self
            .bytes
            .get(line.body_start..line.content_end)
            .unwrap_or(&[]);
        if content.ends_with(b"\r") {
            CRLF
        } else {
            self.dominant_ending()
        }
    }

    /// Replaces `span` with `replacement` and re-indexes the lines.
    fn splice(&mut self, span: Span, replacement: Vec<u8>) {
        // Spans are planned from the current index, so they are in bounds;
        // clamping only guards against a logic error turning into a panic.
        debug_assert!(span.start <= span.end && span.end <= self.bytes.len());
        let end = span.end.min(self.bytes.len());
        let start = span.start.min(end);
        self.bytes.splice(start..end, replacement);
        let scan = parse::scan(&self.bytes);
        self.lines = scan.lines;
        self.crlf_endings = scan.crlf_endings;
        self.lf_endings = scan.lf_endings;
    }

    // ---- encoding -----------------------------------------------------------

    /// `text` in the document's encoding, or `None` if it cannot be written in
    /// it (then it cannot match anything in the file either).
    fn encode_lookup<'a>(&self, text: &'a str) -> Option<Cow<'a, [u8]>> {
        match self.encoding() {
            TextEncoding::Utf8Bom => Some(Cow::Borrowed(text.as_bytes())),
            TextEncoding::Windows1252 => encode_windows_1252(text).ok(),
        }
    }

    fn encode_for_write<'a>(&self, text: &'a str, field: Field) -> Result<Cow<'a, [u8]>, IniError> {
        match self.encoding() {
            TextEncoding::Utf8Bom => Ok(Cow::Borrowed(text.as_bytes())),
            TextEncoding::Windows1252 => {
                encode_windows_1252(text).map_err(|ch| IniError::NotWindows1252 { field, ch })
            }
        }
    }
}

/// ASCII case-insensitive; bytes >= 0x80 must be equal.
fn names_match(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

const LINE_BREAK: &str = "contains a line break (CR or LF)";

fn invalid(field: Field, reason: &'static str) -> IniError {
    IniError::Invalid { field, reason }
}

/// Rules shared by every written name or value: it must stay on its line
/// and survive the reader's trimming. NUL is refused because the Windows
/// profile API sees it as the end of the string.
fn check_common(bytes: &[u8], field: Field) -> Result<(), IniError> {
    if bytes.iter().any(|&b| b == b'\r' || b == b'\n') {
        return Err(invalid(field, LINE_BREAK));
    }
    if bytes.contains(&0) {
        return Err(invalid(field, "contains a NUL byte"));
    }
    let edge_blank =
        bytes.first().is_some_and(|&b| is_blank(b)) || bytes.last().is_some_and(|&b| is_blank(b));
    if edge_blank {
        return Err(invalid(
            field,
            "starts or ends with a space or tab, which readers trim away",
        ));
    }
    Ok(())
}

fn check_section_name(name: &[u8]) -> Result<(), IniError> {
    if name.is_empty() {
        return Err(invalid(Field::Section, "is empty"));
    }
    check_common(name, Field::Section)?;
    if name.contains(&b']') {
        return Err(invalid(Field::Section, "contains ']', which ends a header"));
    }
    Ok(())
}

fn check_key_name(name: &[u8]) -> Result<(), IniError> {
    if name.is_empty() {
        return Err(invalid(Field::Key, "is empty"));
    }
    check_common(name, Field::Key)?;
    if name.contains(&b'=') {
        return Err(invalid(Field::Key, "contains '=', which ends a key"));
    }
    if matches!(name.first(), Some(b';' | b'#' | b'[')) {
        return Err(invalid(
            Field::Key,
            "starts with ';', '#' or '[', so the line would read as a comment or header",
        ));
    }
    Ok(())
}

fn check_value(value: &[u8]) -> Result<(), IniError> {
    check_common(value, Field::Value)
}
