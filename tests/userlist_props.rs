//! Property tests for the lossless Userlist.dat editor.
//!
//! Files are random mixes of account lines (fields of random bytes incl.
//! 0x80-0xFF, NUL, tab and stray CR, padded with spaces, then a random
//! password/flags tail), short lines (garbage, or an account line cut off
//! before the end of MailDir), and blank lines (short or long runs of
//! spaces/tabs), each with CRLF or LF, and an optional missing final newline.
//! The model keeps every line's content and ending separately, so the
//! expectations (which lines are accounts, what each field reads as, what the
//! bytes must be after the edits) come from the model, not from the editor's
//! own line index. Runs proptest's default 256 cases; set `PROPTEST_CASES`
//! for a longer soak.

use mdcluster::profile::Profile;
use mdcluster::userlist::{Account, Layout, LineIssue, Userlist, UserlistError};
use proptest::prelude::*;

/// The profile's columns; the generators below are built for exactly these.
const DOMAIN: [usize; 2] = [0, 45];
const MAILBOX: [usize; 2] = [45, 75];
const FULL_NAME: [usize; 2] = [75, 105];
const MAIL_DIR: [usize; 2] = [105, 195];
const WIDTH: usize = MAIL_DIR[1] - MAIL_DIR[0];

fn layout() -> Layout {
    let layout = Layout::from_profile(&Profile::builtin());
    assert_eq!(
        [
            layout.domain,
            layout.mailbox,
            layout.full_name,
            layout.mail_dir
        ],
        [DOMAIN, MAILBOX, FULL_NAME, MAIL_DIR],
        "the built-in profile's columns changed; update this test"
    );
    layout
}

// ---- the model ---------------------------------------------------------------------

/// A file as lines: content (no ending) and ending ("\r\n", "\n" or "" for
/// an unterminated last line).
#[derive(Clone, Debug)]
struct Model {
    lines: Vec<(Vec<u8>, &'static [u8])>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Blank,
    Account,
    Short,
}

impl Model {
    fn bytes(&self) -> Vec<u8> {
        self.lines
            .iter()
            .flat_map(|(content, ending)| content.iter().chain(ending.iter()).copied())
            .collect()
    }

    /// Line kinds straight from the rule in the module docs.
    fn kind(&self, line: usize) -> Option<Kind> {
        let (content, _) = self.lines.get(line.checked_sub(1)?)?;
        Some(if content.iter().all(|&b| b == b' ' || b == b'\t') {
            Kind::Blank
        } else if content.len() >= MAIL_DIR[1] {
            Kind::Account
        } else {
            Kind::Short
        })
    }

    fn accounts(&self) -> Vec<Account> {
        (1..=self.lines.len())
            .filter(|&line| self.kind(line) == Some(Kind::Account))
            .map(|line| {
                let content = &self.lines[line - 1].0;
                let field = |[start, end]: [usize; 2]| decode_trimmed(&content[start..end]);
                Account {
                    line,
                    domain: field(DOMAIN),
                    mailbox: field(MAILBOX),
                    full_name: field(FULL_NAME),
                    mail_dir: field(MAIL_DIR),
                }
            })
            .collect()
    }

    fn issues(&self) -> Vec<LineIssue> {
        (1..=self.lines.len())
            .filter(|&line| self.kind(line) == Some(Kind::Short))
            .map(|line| LineIssue::TooShort {
                line,
                len: self.lines[line - 1].0.len(),
                needed: MAIL_DIR[1],
            })
            .collect()
    }

    /// Absolute byte range of the MailDir field of `line`.
    fn mail_dir_span(&self, line: usize) -> std::ops::Range<usize> {
        let start: usize = self.lines[..line - 1]
            .iter()
            .map(|(content, ending)| content.len() + ending.len())
            .sum();
        start + MAIL_DIR[0]..start + MAIL_DIR[1]
    }
}

/// Trailing spaces (only) trimmed, then Windows-1252 decoded.
fn decode_trimmed(bytes: &[u8]) -> String {
    let mut end = bytes.len();
    while end > 0 && bytes[end - 1] == b' ' {
        end -= 1;
    }
    encoding_rs::WINDOWS_1252
        .decode_without_bom_handling(&bytes[..end])
        .0
        .into_owned()
}

// ---- generators ----------------------------------------------------------------------

/// Any byte but LF, weighted towards the interesting ones.
fn content_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        8 => 0x21u8..0x7F,
        4 => 0x80u8..=0xFF,
        2 => Just(b' '),
        1 => Just(b'\t'),
        1 => Just(b'\r'),
        1 => Just(0u8),
    ]
}

/// A field: 0..=width random bytes, padded with spaces to the width.
fn field(width: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(content_byte(), 0..=width).prop_map(move |mut bytes| {
        bytes.resize(width, b' ');
        bytes
    })
}

fn account_line() -> BoxedStrategy<Vec<u8>> {
    (
        field(DOMAIN[1] - DOMAIN[0]),
        field(MAILBOX[1] - MAILBOX[0]),
        field(FULL_NAME[1] - FULL_NAME[0]),
        field(WIDTH),
        prop::collection::vec(content_byte(), 0..40),
    )
        .prop_map(|(d, m, f, dir, tail)| [d, m, f, dir, tail].concat())
        .boxed()
}

fn short_line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // An account line cut off before the end of MailDir.
        (account_line(), 1..MAIL_DIR[1]).prop_map(|(line, cut)| line[..cut].to_vec()),
        prop::collection::vec(content_byte(), 1..60),
    ]
}

fn blank_line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(prop_oneof![Just(b' '), Just(b'\t')], 0..4),
        (MAIL_DIR[1]..MAIL_DIR[1] + 60).prop_map(|n| vec![b' '; n]),
    ]
}

fn any_line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => account_line(),
        2 => short_line(),
        1 => blank_line(),
    ]
}

fn model() -> impl Strategy<Value = Model> {
    (
        prop::collection::vec((any_line(), any::<bool>()), 0..14),
        any::<bool>(),
    )
        .prop_map(|(lines, final_newline)| {
            let count = lines.len();
            let mut out = Vec::with_capacity(count);
            for (i, (content, crlf)) in lines.into_iter().enumerate() {
                let mut ending: &'static [u8] = if crlf { b"\r\n" } else { b"\n" };
                if i + 1 == count && !final_newline {
                    if content.is_empty() {
                        break; // an empty unterminated last line does not exist
                    }
                    ending = b"";
                } else if content.ends_with(b"\r") {
                    // "x\r" + "\n" would read as "x" + CRLF; with CRLF the
                    // stray CR stays content, which is what the model says.
                    ending = b"\r\n";
                }
                out.push((content, ending));
            }
            Model { lines: out }
        })
}

/// Characters a MailDir may hold: all in Windows-1252, none a control.
fn ok_char() -> impl Strategy<Value = char> {
    prop_oneof![
        6 => prop::char::range('a', 'z'),
        3 => prop::sample::select(vec!['\\', '.', '-', '_', ' ', 'C', ':', '0']),
        2 => prop::sample::select(vec!['ö', 'ü', 'é', 'ß', '€', 'Ÿ', 'Æ', '…']),
    ]
}

/// Characters that are refused: controls (some of them Windows-1252
/// bytes) and characters Windows-1252 lacks.
fn bad_char() -> impl Strategy<Value = char> {
    prop::sample::select(vec![
        '\r', '\n', '\0', '\t', '\u{7F}', '\u{81}', '\u{90}', 'Ω', 'ā', '😀', '\u{2028}',
    ])
}

fn ok_string(len: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = String> {
    prop::collection::vec(ok_char(), len).prop_map(String::from_iter)
}

/// New MailDir values: mostly valid-looking, many near the 90-character
/// limit, some with refused characters or edge spaces.
fn new_value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => ok_string(0..=100),
        3 => ok_string(86..=94),
        1 => (ok_string(0..=20), bad_char(), ok_string(0..=20))
            .prop_map(|(a, bad, b)| format!("{a}{bad}{b}")),
        1 => (ok_string(1..=20), any::<bool>())
            .prop_map(|(s, lead)| if lead { format!(" {s}") } else { format!("{s} ") }),
    ]
}

#[derive(Clone, Debug)]
struct Edit {
    /// Usually an account line of the file; otherwise a raw line number.
    target: Option<prop::sample::Index>,
    raw_line: usize,
    value: String,
}

impl Edit {
    fn line(&self, model: &Model) -> usize {
        let accounts: Vec<usize> = model.accounts().iter().map(|a| a.line).collect();
        match &self.target {
            Some(index) if !accounts.is_empty() => accounts[index.index(accounts.len())],
            _ => self.raw_line,
        }
    }
}

fn edit() -> impl Strategy<Value = Edit> {
    (
        prop::option::weighted(0.8, any::<prop::sample::Index>()),
        0..16usize,
        new_value(),
    )
        .prop_map(|(target, raw_line, value)| Edit {
            target,
            raw_line,
            value,
        })
}

// ---- the rules, restated independently ----------------------------------------------

/// The documented result of writing `value` to `line` of `model`, and on
/// success the field's new bytes.
fn expected(model: &Model, line: usize, value: &str) -> Result<Vec<u8>, UserlistError> {
    if model.kind(line) != Some(Kind::Account) {
        return Err(UserlistError::NoSuchAccountLine(line));
    }
    if value.chars().any(char::is_control) {
        return Err(UserlistError::ControlChar { line });
    }
    let mut encoded = Vec::new();
    for ch in value.chars() {
        let mut buf = [0u8; 4];
        let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(ch.encode_utf8(&mut buf));
        if unmappable || bytes.len() != 1 {
            return Err(UserlistError::NotWindows1252 { line, ch });
        }
        encoded.extend_from_slice(&bytes);
    }
    if value.is_empty() {
        return Err(UserlistError::Empty { line });
    }
    if value.starts_with(' ') || value.ends_with(' ') {
        return Err(UserlistError::EdgeSpace { line });
    }
    let len = value.chars().count();
    if len > WIDTH {
        return Err(UserlistError::TooLong {
            line,
            len,
            max: WIDTH,
        });
    }
    encoded.resize(WIDTH, b' ');
    Ok(encoded)
}

// ---- the properties --------------------------------------------------------------------

fn check_edits(model: &Model, edits: &[Edit]) -> Result<(), TestCaseError> {
    let original = model.bytes();
    let mut u = Userlist::parse(original.clone(), layout());
    prop_assert_eq!(u.as_bytes(), &original[..], "parse is the identity");
    prop_assert_eq!(u.accounts(), model.accounts());
    prop_assert_eq!(u.issues(), model.issues());

    let mut model = model.clone();
    let mut edited = Vec::new();
    for edit in edits {
        let line = edit.line(&model);
        let before = u.as_bytes().to_vec();
        let want = expected(&model, line, &edit.value);
        let checked = u.check_mail_dir(line, &edit.value);
        prop_assert_eq!(u.as_bytes(), &before[..], "check changed the bytes");
        let set = u.set_mail_dir(line, &edit.value);
        prop_assert_eq!(&checked, &set, "check and set disagree on line {}", line);
        prop_assert_eq!(&set, &want.as_ref().map(|_| ()).map_err(Clone::clone));
        match want {
            Ok(field) => {
                model.lines[line - 1].0[MAIL_DIR[0]..MAIL_DIR[1]].copy_from_slice(&field);
                edited.push(model.mail_dir_span(line));
            }
            Err(_) => prop_assert_eq!(u.as_bytes(), &before[..], "a refused edit changed bytes"),
        }
        prop_assert_eq!(u.as_bytes(), &model.bytes()[..]);
    }

    // Every byte outside the edited MailDir fields is the original byte.
    let after = u.as_bytes();
    prop_assert_eq!(after.len(), original.len());
    for (i, (old, new)) in original.iter().zip(after).enumerate() {
        if !edited.iter().any(|span| span.contains(&i)) {
            prop_assert_eq!(old, new, "byte {} outside the edited fields changed", i);
        }
    }
    // accounts() reflects the new values; the same lines are accounts.
    prop_assert_eq!(u.accounts(), model.accounts());
    prop_assert_eq!(u.issues(), model.issues());
    Ok(())
}

proptest! {
    // About one file in ten has no account line to edit (rejected): allow
    // that share of rejects at any PROPTEST_CASES, not proptest's fixed 1024.
    #![proptest_config(ProptestConfig {
        max_global_rejects: ProptestConfig::default().cases.max(1024),
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_edits_change_only_the_edited_fields(
        model in model(),
        edits in prop::collection::vec(edit(), 0..12),
    ) {
        check_edits(&model, &edits)?;
    }

    #[test]
    fn a_set_value_reads_back_exactly(model in model(), pick in any::<prop::sample::Index>(), value in ok_string(1..=90)) {
        let value = value.trim_matches(' ');
        prop_assume!(!value.is_empty());
        let accounts = model.accounts();
        prop_assume!(!accounts.is_empty());
        let line = accounts[pick.index(accounts.len())].line;
        let mut u = Userlist::parse(model.bytes(), layout());
        u.set_mail_dir(line, value).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let account = u.accounts().into_iter().find(|a| a.line == line);
        prop_assert_eq!(account.map(|a| a.mail_dir), Some(value.to_string()));
    }

    #[test]
    fn a_too_long_value_is_refused_and_changes_nothing(
        model in model(),
        pick in any::<prop::sample::Index>(),
        value in ok_string(WIDTH + 1..=WIDTH + 60),
    ) {
        // Make it otherwise valid, so length is the only reason to refuse it.
        let value = format!("x{}x", &value[..]);
        let accounts = model.accounts();
        prop_assume!(!accounts.is_empty());
        let line = accounts[pick.index(accounts.len())].line;
        let original = model.bytes();
        let mut u = Userlist::parse(original.clone(), layout());
        let refused = Err(UserlistError::TooLong { line, len: value.chars().count(), max: WIDTH });
        prop_assert_eq!(u.check_mail_dir(line, &value), refused.clone());
        prop_assert_eq!(u.set_mail_dir(line, &value), refused);
        prop_assert_eq!(u.as_bytes(), &original[..]);
        prop_assert_eq!(u.accounts(), accounts);
    }

    #[test]
    fn any_bytes_parse_and_come_back_unchanged(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let u = Userlist::parse(bytes.clone(), layout());
        prop_assert_eq!(u.as_bytes(), &bytes[..]);
        let lines = bytes.split(|&b| b == b'\n').count() - usize::from(bytes.last().is_none_or(|&b| b == b'\n'));
        prop_assert!(u.accounts().len() + u.issues().len() <= lines);
    }
}
