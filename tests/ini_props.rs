//! Property tests for the lossless INI editor.
//!
//! Files are random mixes of headers, keys with random spacing, comments,
//! blank lines and garbage (NUL, 0x80-0xFF, stray CR), with CRLF/LF endings,
//! an optional missing final newline and an optional BOM. The expectations
//! below are computed from the raw lines of the old file, independently of
//! the editor's own line index. Runs proptest's default 256 cases; set
//! `PROPTEST_CASES` for a longer soak.

use mdcluster::ini::IniDoc;
use proptest::prelude::*;

const BOM: &[u8] = b"\xEF\xBB\xBF";
const SECTIONS: [&str; 3] = ["General", "Setup", "Domain"];
const KEYS: [&str; 4] = ["Key", "Port", "LogLevel", "Name"];
const FRESH_SECTION: &str = "FreshSection";
const FRESH_KEY: &str = "FreshKey";

// ---- generators -----------------------------------------------------------------

fn blanks() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop_oneof![Just(b' '), Just(b'\t')], 0..3)
}

/// Any byte except LF, weighted towards the interesting ones.
fn line_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        4 => 0x20u8..0x7F,
        2 => 0x80u8..=0xFF,
        1 => Just(0u8),
        1 => Just(b'\r'),
        1 => Just(b'='),
        1 => Just(b'['),
        1 => Just(b']'),
        1 => Just(b'\t'),
    ];
    prop::collection::vec(byte, 0..max)
}

/// Picks a name from `pool` with each ASCII letter's case flipped at random.
fn mixed_case(pool: &'static [&'static str]) -> impl Strategy<Value = String> {
    (prop::sample::select(pool), any::<u64>()).prop_map(|(name, bits)| {
        name.chars()
            .enumerate()
            .map(|(i, c)| {
                if bits >> (i % 64) & 1 == 1 {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect()
    })
}

fn header_line() -> impl Strategy<Value = Vec<u8>> {
    (
        blanks(),
        blanks(),
        mixed_case(&SECTIONS),
        blanks(),
        line_bytes(6),
    )
        .prop_map(|(lead, inner, name, trail, rest)| {
            let rest: Vec<u8> = rest.into_iter().filter(|&b| b != b'\r').collect();
            [
                &lead[..],
                b"[",
                &inner,
                name.as_bytes(),
                &trail,
                b"]",
                &rest,
            ]
            .concat()
        })
}

fn key_line() -> impl Strategy<Value = Vec<u8>> {
    (
        blanks(),
        mixed_case(&KEYS),
        blanks(),
        blanks(),
        line_bytes(10),
        blanks(),
    )
        .prop_map(|(lead, key, before_eq, after_eq, value, trail)| {
            [
                &lead[..],
                key.as_bytes(),
                &before_eq,
                b"=",
                &after_eq,
                &value,
                &trail,
            ]
            .concat()
        })
}

fn comment_line() -> impl Strategy<Value = Vec<u8>> {
    (
        blanks(),
        prop_oneof![Just(b';'), Just(b'#')],
        line_bytes(10),
    )
        .prop_map(|(lead, mark, text)| [&lead[..], &[mark], &text].concat())
}

fn any_line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => header_line(),
        4 => key_line(),
        1 => comment_line(),
        1 => blanks(),
        1 => line_bytes(12),
    ]
}

/// A whole INI-ish file.
fn ini_file() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<bool>(),
        prop::collection::vec((any_line(), any::<bool>()), 0..20),
        0..3u8,
    )
        .prop_map(|(bom, lines, last_ending)| {
            let mut out = if bom { BOM.to_vec() } else { Vec::new() };
            let count = lines.len();
            for (i, (line, crlf)) in lines.into_iter().enumerate() {
                out.extend_from_slice(&line);
                let last = i + 1 == count;
                match (last, last_ending, crlf) {
                    (true, 0, _) => {} // no final newline
                    (_, _, true) => out.extend_from_slice(b"\r\n"),
                    (_, _, false) => out.push(b'\n'),
                }
            }
            out
        })
}

/// A value `set` accepts: no CR/LF/NUL, no leading/trailing blanks.
fn valid_value() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![4 => 0x21u8..0x7F, 2 => 0x80u8..=0xFF, 1 => Just(b' ')];
    prop::collection::vec(byte, 0..10).prop_map(|v| trim_blanks(&v).to_vec())
}

#[derive(Clone, Debug)]
struct Edit {
    section: String,
    key: String,
    value: Vec<u8>,
    /// Retarget the edit at a key that exists in the file (if any), so that
    /// "replace an existing value" is as common as the insert cases.
    existing: Option<prop::sample::Index>,
}

impl Edit {
    /// The (section, key) this edit writes to in `doc`.
    fn target(&self, doc: &IniDoc) -> (String, String) {
        let existing: Vec<(String, String)> = SECTIONS
            .iter()
            .flat_map(|s| KEYS.iter().map(move |k| (s.to_string(), k.to_string())))
            .filter(|(s, k)| doc.get(s, k).is_some())
            .collect();
        match &self.existing {
            Some(index) if !existing.is_empty() => existing[index.index(existing.len())].clone(),
            _ => (self.section.clone(), self.key.clone()),
        }
    }
}

fn edit() -> impl Strategy<Value = Edit> {
    const SECTIONS_AND_FRESH: [&str; 4] = [SECTIONS[0], SECTIONS[1], SECTIONS[2], FRESH_SECTION];
    const KEYS_AND_FRESH: [&str; 5] = [KEYS[0], KEYS[1], KEYS[2], KEYS[3], FRESH_KEY];
    (
        mixed_case(&SECTIONS_AND_FRESH),
        mixed_case(&KEYS_AND_FRESH),
        valid_value(),
        prop::option::weighted(0.4, any::<prop::sample::Index>()),
    )
        .prop_map(|(section, key, value, existing)| Edit {
            section,
            key,
            value,
            existing,
        })
}

// ---- independent oracle helpers ---------------------------------------------------

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn trim_blanks(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| !is_blank(b))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| !is_blank(b))
        .map_or(start, |p| p + 1);
    &bytes[start..end]
}

/// Splits after every LF; each piece keeps its ending.
fn split_lines(bytes: &[u8]) -> Vec<&[u8]> {
    bytes.split_inclusive(|&b| b == b'\n').collect()
}

/// (content, ending) where ending is "\r\n", "\n" or "".
fn split_ending(line: &[u8]) -> (&[u8], &[u8]) {
    let cut = if line.ends_with(b"\r\n") {
        2
    } else if line.ends_with(b"\n") {
        1
    } else {
        0
    };
    line.split_at(line.len() - cut)
}

fn dominant_ending(bytes: &[u8]) -> &'static [u8] {
    let lines = split_lines(bytes);
    let crlf = lines.iter().filter(|l| l.ends_with(b"\r\n")).count();
    let lf = lines.iter().filter(|l| l.ends_with(b"\n")).count() - crlf;
    if crlf >= lf {
        b"\r\n"
    } else {
        b"\n"
    }
}

/// What an unterminated last line `old` must look like once something is
/// appended after it.
fn terminated(old_bytes: &[u8], old: &[u8]) -> Vec<u8> {
    let ending: &[u8] = if old.ends_with(b"\r") {
        b"\r\n"
    } else {
        dominant_ending(old_bytes)
    };
    [old, ending].concat()
}

fn value_is_settable(v: &[u8]) -> bool {
    !v.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0) && trim_blanks(v) == v
}

fn values_of(doc: &IniDoc) -> Vec<(String, String, Option<Vec<u8>>)> {
    let mut out = Vec::new();
    for section in SECTIONS.iter().chain([&FRESH_SECTION]) {
        for key in KEYS.iter().chain([&FRESH_KEY]) {
            let value = doc.get(section, key).map(|e| e.value);
            out.push((section.to_string(), key.to_string(), value));
        }
    }
    out
}

/// Checks that `new` equals `old` once the 1-based `inserted` lines are
/// dropped; the old last line may only have gained an ending, and only if
/// the insertion happened right after it.
fn check_unchanged_except_inserted(
    old_bytes: &[u8],
    new_bytes: &[u8],
    inserted: &[usize],
) -> Result<(), TestCaseError> {
    let old = split_lines(old_bytes);
    let new = split_lines(new_bytes);
    prop_assert_eq!(new.len(), old.len() + inserted.len());
    let kept: Vec<&[u8]> = new
        .iter()
        .enumerate()
        .filter(|(i, _)| !inserted.contains(&(i + 1)))
        .map(|(_, l)| *l)
        .collect();
    for (i, (o, n)) in old.iter().zip(&kept).enumerate() {
        let last_and_unterminated = i + 1 == old.len() && !o.ends_with(b"\n");
        let inserted_after = inserted.iter().any(|&l| l > old.len());
        if last_and_unterminated && inserted_after {
            prop_assert_eq!(
                n.to_vec(),
                terminated(old_bytes, o),
                "old last line {}",
                i + 1
            );
        } else {
            prop_assert_eq!(o, n, "line {} changed", i + 1);
        }
    }
    // A missing final newline stays missing; a present one stays present.
    let old_has_body = !old_bytes.is_empty() && old_bytes != BOM;
    if old_has_body {
        prop_assert_eq!(old_bytes.ends_with(b"\n"), new_bytes.ends_with(b"\n"));
    }
    Ok(())
}

// ---- the properties -----------------------------------------------------------------

fn check_edit(input: &[u8], edit: &Edit) -> Result<(), TestCaseError> {
    let before = IniDoc::parse(input.to_vec());
    let mut doc = before.clone();
    let (section, key) = edit.target(&before);
    let (section, key, value) = (section.as_str(), key.as_str(), &edit.value);
    doc.set(section, key, value)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let after = doc.as_bytes().to_vec();

    // (b) the new value reads back.
    let entry = doc
        .get(section, key)
        .ok_or_else(|| TestCaseError::fail("key vanished"))?;
    prop_assert_eq!(&entry.value, value);

    // (c) lines: only the edited or inserted lines differ.
    let old_lines = split_lines(input);
    let new_lines = split_lines(&after);
    match (before.get(section, key), before.section_line(section)) {
        (Some(old_entry), _) => {
            prop_assert_eq!(entry.line, old_entry.line);
            check_unchanged_except_edited(&old_lines, &new_lines, entry.line)?;
            let (content, ending) = split_ending(old_lines[entry.line - 1]);
            let eq = content.iter().position(|&b| b == b'=').unwrap();
            let rhs = &content[eq + 1..];
            let lead = rhs.iter().position(|&b| !is_blank(b)).unwrap_or(rhs.len());
            let trail = rhs
                .iter()
                .rposition(|&b| !is_blank(b))
                .map_or(lead, |p| p + 1);
            let expected = [&content[..eq + 1 + lead], value, &rhs[trail..], ending].concat();
            prop_assert_eq!(new_lines[entry.line - 1], &expected[..]);

            // Setting the old value back restores the file exactly. (Not via
            // an empty value: once cleared, the blanks that surrounded the
            // old value all count as leading blanks.)
            if !value.is_empty() && value_is_settable(&old_entry.value) {
                doc.set(section, key, &old_entry.value).unwrap();
                prop_assert_eq!(doc.as_bytes(), input);
            }
        }
        (None, Some(_)) => {
            let anchor = before
                .entries(section)
                .last()
                .map_or(before.section_line(section).unwrap(), |e| e.line);
            prop_assert_eq!(entry.line, anchor + 1, "new key not right after the anchor");
            check_unchanged_except_inserted(input, &after, &[entry.line])?;
            let (content, ending) = split_ending(new_lines[entry.line - 1]);
            prop_assert_eq!(content, &[key.as_bytes(), b"=", value].concat()[..]);
            let (_, anchor_ending) = split_ending(old_lines[anchor - 1]);
            prop_assert_eq!(
                ending,
                anchor_ending,
                "new line must copy the anchor's ending"
            );

            // remove() is an exact undo of the insertion.
            prop_assert!(doc.remove(section, key));
            prop_assert_eq!(doc.as_bytes(), input);
        }
        (None, None) => {
            let header = doc.section_line(section).unwrap();
            prop_assert_eq!(entry.line, header + 1);
            if input == BOM {
                let expected = [
                    BOM,
                    b"[",
                    section.as_bytes(),
                    b"]\r\n",
                    key.as_bytes(),
                    b"=",
                    value,
                    b"\r\n",
                ]
                .concat();
                prop_assert_eq!(after, expected);
                return Ok(());
            }
            prop_assert_eq!(
                header,
                old_lines.len() + 1,
                "section not appended at the end"
            );
            check_unchanged_except_inserted(input, &after, &[header, entry.line])?;
            let (content, _) = split_ending(new_lines[header - 1]);
            prop_assert_eq!(content, &[b"[", section.as_bytes(), b"]"].concat()[..]);
            let mut names = before.section_names();
            names.push(section.as_bytes().to_vec());
            prop_assert_eq!(doc.section_names(), names);
        }
    }

    // (d) every other key keeps its value.
    let edited = |s: &str, k: &str| s.eq_ignore_ascii_case(section) && k.eq_ignore_ascii_case(key);
    let old_values = values_of(&before);
    let new_values = values_of(&IniDoc::parse(after));
    for (old, new) in old_values.iter().zip(&new_values) {
        if !edited(&old.0, &old.1) {
            prop_assert_eq!(old, new);
        }
    }
    Ok(())
}

fn check_unchanged_except_edited(
    old: &[&[u8]],
    new: &[&[u8]],
    edited_line: usize,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(old.len(), new.len());
    for (i, (o, n)) in old.iter().zip(new).enumerate() {
        if i + 1 != edited_line {
            prop_assert_eq!(o, n, "line {} changed", i + 1);
        }
    }
    Ok(())
}

proptest! {
    /// (a) parse -> as_bytes is the identity on INI-ish files.
    #[test]
    fn roundtrip_ini_like(input in ini_file()) {
        let doc = IniDoc::parse(input.clone());
        prop_assert_eq!(doc.as_bytes(), &input[..]);
    }

    /// (a) ... and on arbitrary bytes; lookups on them never panic.
    #[test]
    fn roundtrip_arbitrary_bytes(input in prop::collection::vec(any::<u8>(), 0..256)) {
        let doc = IniDoc::parse(input.clone());
        prop_assert_eq!(doc.as_bytes(), &input[..]);
        for section in SECTIONS {
            let _ = doc.entries(section);
            let _ = doc.get_str(section, KEYS[0]);
        }
        prop_assert!(doc.section_names().len() <= split_lines(&input).len());
    }

    /// (b), (c), (d) for one random edit, plus exact undo.
    #[test]
    fn single_edit_changes_only_its_own_bytes(input in ini_file(), edit in edit()) {
        check_edit(&input, &edit)?;
    }

    /// Sequences of edits: each step keeps the properties, and at the end
    /// every edited key holds the value of its last edit.
    #[test]
    fn edit_sequences(input in ini_file(), edits in prop::collection::vec(edit(), 1..6)) {
        let mut doc = IniDoc::parse(input);
        let mut written: Vec<(String, String, Vec<u8>)> = Vec::new();
        for edit in &edits {
            let current = doc.as_bytes().to_vec();
            check_edit(&current, edit)?;
            let (section, key) = edit.target(&doc);
            doc.set(&section, &key, &edit.value).unwrap();
            written.push((section, key, edit.value.clone()));
        }
        for (section, key, _) in &written {
            let last = written.iter().rev().find(|(s, k, _)| {
                s.eq_ignore_ascii_case(section) && k.eq_ignore_ascii_case(key)
            }).map(|(_, _, v)| v.clone());
            prop_assert_eq!(doc.get(section, key).map(|e| e.value), last);
        }
    }
}
