//! Lossless editor for MDaemon's account list, `App\Userlist.dat`.
//!
//! Userlist.dat is a fixed-width text file with one line per account,
//! Windows-1252 encoded. The columns of Domain, Mailbox, FullName and MailDir
//! come from the profile ([`Layout::from_profile`]); what follows MailDir
//! (password hash, flags) has an unknown layout and is never interpreted.
//! mdcluster only ever rewrites MailDir, when the mail store moves to the
//! share. [`Userlist`] keeps the file's original bytes and an index of its
//! lines, and edits by overwriting the bytes of one field in place, so the
//! file is never re-serialised.
//!
//! # Invariants
//!
//! * **Lossless.** [`Userlist::parse`] accepts any bytes (binary, NUL, stray
//!   CR, bytes >= 0x80, a UTF-8 BOM) and [`Userlist::as_bytes`] returns them
//!   unchanged until an edit is made. [`Userlist::set_mail_dir`] changes only
//!   the bytes of the MailDir field of the line it names; every other byte —
//!   the other fields (full names like `Jörg Müller` as Windows-1252 bytes),
//!   the password/flags tail, blank, short and odd lines, each line's own
//!   ending (CRLF and LF may be mixed), a missing final newline — stays
//!   identical. An edit never changes the file's length or its line count.
//! * **Lines.** `\n` ends a line; a `\r` right before it is part of that
//!   ending (CRLF). Any other `\r` is an ordinary content byte. The last line
//!   may lack an ending. Line numbers are 1-based and count every line,
//!   blank and short ones included, so they match what an editor shows.
//! * **Columns** are 0-based byte offsets into a line's content (its bytes
//!   without the ending), `[start, end)`. Windows-1252 has one byte per
//!   character, so bytes and characters are the same count. A BOM is not
//!   special: MDaemon does not write one, and if present it is three bytes of
//!   line 1. A range with `end < start` is read as empty.
//! * **Line kinds.**
//!   - *Blank*: the content is empty or only spaces/tabs, whatever its
//!     length. Never an account, never an issue.
//!   - *Account*: any other line whose content reaches the end of the MailDir
//!     field (`content length >= mail_dir[1]`). Only these are listed by
//!     [`Userlist::accounts`] and only these can be edited.
//!   - *Too short*: any other line. Reported by [`Userlist::issues`] as
//!     [`LineIssue::TooShort`], never edited (it has no complete MailDir
//!     field to overwrite, and padding it out would invent bytes).
//!
//!   The other fields are not required to be complete: with the profile's
//!   layout they end before MailDir starts, and with an unusual layout they
//!   are read as far as the line reaches.
//! * **Reading a field.** The field's bytes with trailing spaces (0x20 only)
//!   trimmed, decoded as Windows-1252 (WHATWG mapping: every byte is a
//!   character, 0x81, 0x8D, 0x8F, 0x90 and 0x9D decode to U+0081 etc., so
//!   decoding loses nothing). **Leading spaces are kept**: they are part of
//!   the value as far as this module knows, so a MailDir that starts with a
//!   space is shown as it is (and will not match the old store's prefix)
//!   instead of being silently normalised. Tabs and NUL are not padding and
//!   are kept as well.
//!
//! # Writing MailDir
//!
//! [`Userlist::check_mail_dir`] and [`Userlist::set_mail_dir`] apply the
//! same rules in the same order; `set_mail_dir` changes nothing unless
//! `check_mail_dir` would return `Ok`. A refused value is reported with the
//! first rule it breaks:
//!
//! 1. the line must be an account line, else
//!    [`UserlistError::NoSuchAccountLine`];
//! 2. no control characters (`char::is_control`: C0 incl. CR, LF, NUL and
//!    tab, DEL, and C1), else [`UserlistError::ControlChar`]: they would
//!    break the line or are not path characters;
//! 3. every character must exist in Windows-1252, else
//!    [`UserlistError::NotWindows1252`];
//! 4. not empty, else [`UserlistError::Empty`]: mdcluster never means to
//!    clear an account's mail folder;
//! 5. no space at the start or end, else [`UserlistError::EdgeSpace`]: a
//!    trailing space cannot be told apart from the padding, so it would not
//!    read back, and whether MDaemon trims a leading one is unknown;
//! 6. at most [`Layout::mail_dir_width`] bytes after encoding (one byte per
//!    character, so `ö` counts once), else [`UserlistError::TooLong`].
//!
//! An accepted value is written as its Windows-1252 bytes followed by spaces
//! up to the field width. Hence a value written reads back exactly through
//! [`Userlist::accounts`], and writing back an account's current value
//! restores the original bytes whenever the field was padded with spaces (as
//! MDaemon writes it).
//!
//! Lookups and edits are O(1) per line after an O(n) index built once;
//! nothing here is quadratic in the file size.

#[cfg(test)]
mod tests;

use crate::codepage::encode_windows_1252;
use std::fmt;
use std::ops::Range;

/// One changed MailDir in Userlist.dat.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UserlistEdit {
    /// 1-based line.
    pub line: usize,
    /// `mailbox@domain`, for people.
    pub account: String,
    pub old: String,
    pub new: String,
}

/// Userlist.dat after the edits: only the bytes of the changed MailDirs
/// change. An error names the account.
pub(crate) fn apply_edits(
    bytes: &[u8],
    edits: &[UserlistEdit],
    layout: Layout,
) -> Result<Vec<u8>, String> {
    let mut list = Userlist::parse(bytes.to_vec(), layout);
    for e in edits {
        list.set_mail_dir(e.line, &e.new)
            .map_err(|err| format!("{}: {err}", e.account))?;
    }
    Ok(list.into_bytes())
}

/// Column ranges `[start, end)`, 0-based, of the fields mdcluster reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub domain: [usize; 2],
    pub mailbox: [usize; 2],
    pub full_name: [usize; 2],
    pub mail_dir: [usize; 2],
}

impl Layout {
    /// The columns named in the profile's `[userlist]` table.
    pub fn from_profile(p: &crate::profile::Profile) -> Layout {
        let u = &p.userlist;
        Layout {
            domain: *u.domain,
            mailbox: *u.mailbox,
            full_name: *u.full_name,
            mail_dir: *u.mail_dir,
        }
    }

    /// How many bytes (= Windows-1252 characters) a MailDir value may have.
    /// Zero for a range with `end <= start`.
    pub(crate) fn mail_dir_width(&self) -> usize {
        let [start, end] = self.mail_dir;
        end.saturating_sub(start)
    }

    /// The MailDir range with an inverted range read as empty.
    fn mail_dir_range(&self) -> Range<usize> {
        columns(self.mail_dir)
    }
}

/// One account line, decoded. See the module docs for how fields are read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// 1-based line number in the file.
    pub line: usize,
    pub domain: String,
    pub mailbox: String,
    pub full_name: String,
    /// Decoded, trailing spaces trimmed, leading spaces kept.
    pub mail_dir: String,
}

/// A line that is not blank but is not an account either; it is kept as it
/// is and never edited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineIssue {
    /// The line's content (without its ending) is `len` bytes long but the
    /// MailDir field ends at column `needed`. This is the only reason a
    /// non-blank line is skipped.
    TooShort {
        line: usize,
        len: usize,
        needed: usize,
    },
}

impl LineIssue {
    /// 1-based line number of the skipped line.
    pub fn line(&self) -> usize {
        match self {
            LineIssue::TooShort { line, .. } => *line,
        }
    }
}

impl fmt::Display for LineIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineIssue::TooShort { line, len, needed } => write!(
                f,
                "line {line}: {len} bytes long, too short to hold a MailDir field \
                 (it ends at column {needed}); the line is kept as it is"
            ),
        }
    }
}

/// Why a MailDir value was refused. A refused edit changes nothing.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum UserlistError {
    /// The line does not exist, is blank, or is too short for a MailDir field.
    #[error("line {0} of Userlist.dat is not an account line (missing, blank, or too short for a MailDir field)")]
    NoSuchAccountLine(usize),
    /// The encoded value has `len` bytes; the field holds `max`.
    #[error(
        "line {line}: the new MailDir is {len} characters long, but the field holds at most {max}"
    )]
    TooLong { line: usize, len: usize, max: usize },
    /// The value has a character that Windows-1252 cannot represent.
    #[error("line {line}: the new MailDir contains {ch:?}, which Windows-1252 cannot represent")]
    NotWindows1252 { line: usize, ch: char },
    /// The value has a control character (CR, LF, NUL, tab, ...).
    #[error(
        "line {line}: the new MailDir contains a control character (such as CR, LF, NUL or tab)"
    )]
    ControlChar { line: usize },
    /// The value is empty.
    #[error("line {line}: the new MailDir is empty")]
    Empty { line: usize },
    /// The value starts or ends with a space.
    #[error("line {line}: the new MailDir starts or ends with a space, which the fixed-width field cannot keep apart from its padding")]
    EdgeSpace { line: usize },
}

/// One line of the file. Offsets are absolute indices into the buffer and
/// satisfy `start <= content_end <= bytes.len()`.
#[derive(Clone, Copy, Debug)]
struct Line {
    start: usize,
    /// Start of the line ending (`\r\n` or `\n`); the end of the buffer
    /// for an unterminated last line. The ending itself is never indexed:
    /// edits stay inside the content, so they cannot reach it.
    content_end: usize,
}

impl Line {
    fn content_len(&self) -> usize {
        self.content_end.saturating_sub(self.start)
    }
}

/// What a line is; see the module docs.
enum LineKind {
    Blank,
    Account,
    TooShort,
}

/// A parsed Userlist.dat: the exact bytes plus an index of their lines.
#[derive(Clone)]
pub struct Userlist {
    bytes: Vec<u8>,
    lines: Vec<Line>,
    layout: Layout,
}

impl fmt::Debug for Userlist {
    // Tens of thousands of accounts: print the shape, not the bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Userlist")
            .field("len", &self.bytes.len())
            .field("lines", &self.lines.len())
            .field("layout", &self.layout)
            .finish()
    }
}

impl Userlist {
    /// Indexes `bytes`. Never fails; any byte sequence is a valid file.
    pub fn parse(bytes: Vec<u8>, layout: Layout) -> Userlist {
        let lines = scan(&bytes);
        Userlist {
            bytes,
            lines,
            layout,
        }
    }

    /// The current bytes; identical to the input if nothing was changed.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Consumes the list and returns its current bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The layout the file was parsed with.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Every account line, in file order.
    pub fn accounts(&self) -> Vec<Account> {
        self.lines
            .iter()
            .enumerate()
            .filter(|(_, line)| matches!(self.kind(line), LineKind::Account))
            .map(|(index, line)| self.account(index, line))
            .collect()
    }

    /// Every non-blank line too short to be an account, read as far as it
    /// reaches (fields cut off where the line ends), in file order.
    pub fn damaged(&self) -> Vec<Account> {
        self.lines
            .iter()
            .enumerate()
            .filter(|(_, line)| matches!(self.kind(line), LineKind::TooShort))
            .map(|(index, line)| self.account(index, line))
            .collect()
    }

    fn account(&self, index: usize, line: &Line) -> Account {
        let field = |cols| decode_field(self.field_bytes(line, columns(cols)));
        Account {
            line: index + 1,
            domain: field(self.layout.domain),
            mailbox: field(self.layout.mailbox),
            full_name: field(self.layout.full_name),
            mail_dir: field(self.layout.mail_dir),
        }
    }

    /// Every non-blank line that is not an account, and why, in file order.
    pub fn issues(&self) -> Vec<LineIssue> {
        let needed = self.layout.mail_dir_range().end;
        self.lines
            .iter()
            .enumerate()
            .filter(|(_, line)| matches!(self.kind(line), LineKind::TooShort))
            .map(|(index, line)| LineIssue::TooShort {
                line: index + 1,
                len: line.content_len(),
                needed,
            })
            .collect()
    }

    /// Checks a new MailDir value for the account on `line` (1-based)
    /// without changing anything; see the module docs for the rules.
    pub fn check_mail_dir(&self, line: usize, new: &str) -> Result<(), UserlistError> {
        self.plan_mail_dir(line, new).map(|_| ())
    }

    /// Replaces the MailDir field of the account on `line` (1-based): `new`
    /// encoded as Windows-1252, padded with spaces to the field width. Only
    /// the bytes of that field change; a refused value changes nothing.
    pub fn set_mail_dir(&mut self, line: usize, new: &str) -> Result<(), UserlistError> {
        let (at, field) = self.plan_mail_dir(line, new)?;
        // `plan_mail_dir` returns a range inside an account line's content
        // and a replacement of exactly its length; the `get_mut` guard only
        // keeps a logic error from turning into a panic.
        debug_assert_eq!(at.len(), field.len());
        match self.bytes.get_mut(at) {
            Some(target) if target.len() == field.len() => {
                target.copy_from_slice(&field);
                Ok(())
            }
            _ => Err(UserlistError::NoSuchAccountLine(line)),
        }
    }

    // ---- helpers ------------------------------------------------------------

    /// Where the new field goes (absolute byte range) and its padded bytes.
    fn plan_mail_dir(
        &self,
        line: usize,
        new: &str,
    ) -> Result<(Range<usize>, Vec<u8>), UserlistError> {
        let found = line
            .checked_sub(1)
            .and_then(|index| self.lines.get(index))
            .filter(|found| matches!(self.kind(found), LineKind::Account))
            .ok_or(UserlistError::NoSuchAccountLine(line))?;
        if new.chars().any(char::is_control) {
            return Err(UserlistError::ControlChar { line });
        }
        let encoded =
            encode_windows_1252(new).map_err(|ch| UserlistError::NotWindows1252 { line, ch })?;
        if encoded.is_empty() {
            return Err(UserlistError::Empty { line });
        }
        if encoded.first() == Some(&b' ') || encoded.last() == Some(&b' ') {
            return Err(UserlistError::EdgeSpace { line });
        }
        let max = self.layout.mail_dir_width();
        if encoded.len() > max {
            return Err(UserlistError::TooLong {
                line,
                len: encoded.len(),
                max,
            });
        }
        let mut field = encoded.into_owned();
        field.resize(max, b' ');
        let columns = self.layout.mail_dir_range();
        // An account line's content reaches `columns.end`, so this stays
        // inside the content and never touches the line ending.
        let at = found.start + columns.start..found.start + columns.end;
        Ok((at, field))
    }

    fn kind(&self, line: &Line) -> LineKind {
        let content = self.bytes.get(line.start..line.content_end).unwrap_or(&[]);
        if content.iter().all(|&b| b == b' ' || b == b'\t') {
            LineKind::Blank
        } else if content.len() >= self.layout.mail_dir_range().end {
            LineKind::Account
        } else {
            LineKind::TooShort
        }
    }

    /// The bytes of `columns` in the content of `line`, clipped to the content.
    fn field_bytes(&self, line: &Line, columns: Range<usize>) -> &[u8] {
        let len = line.content_len();
        let start = line.start + columns.start.min(len);
        let end = line.start + columns.end.min(len);
        self.bytes.get(start..end).unwrap_or(&[])
    }
}

/// `[start, end)` as a range; an inverted range (`end < start`) is empty.
fn columns([start, end]: [usize; 2]) -> Range<usize> {
    start..end.max(start)
}

/// Splits on `\n`; a `\r` directly before it belongs to the ending (CRLF).
/// Any other `\r` is ordinary content, as is every other byte. O(n).
fn scan(bytes: &[u8]) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut start = 0;
    while start < bytes.len() {
        let rest = bytes.get(start..).unwrap_or(&[]);
        let (content_end, end) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) if i > 0 && rest.get(i - 1) == Some(&b'\r') => (start + i - 1, start + i + 1),
            Some(i) => (start + i, start + i + 1),
            None => (bytes.len(), bytes.len()),
        };
        lines.push(Line { start, content_end });
        start = end;
    }
    lines
}

/// Trailing spaces trimmed, then decoded; every byte decodes to one char.
fn decode_field(bytes: &[u8]) -> String {
    let kept = bytes
        .iter()
        .rposition(|&b| b != b' ')
        .map_or(0, |last| last + 1);
    crate::codepage::decode_windows_1252(bytes.get(..kept).unwrap_or(&[]))
}
