//! Unit tests: one group per parsing/editing rule in the module docs.

use super::*;
use std::time::Instant;

fn doc(bytes: &[u8]) -> IniDoc {
    IniDoc::parse(bytes.to_vec())
}

fn value(d: &IniDoc, section: &str, key: &str) -> Option<Vec<u8>> {
    d.get(section, key).map(|e| e.value)
}

/// Applies `set` and returns the resulting bytes.
fn after_set(input: &[u8], section: &str, key: &str, v: &[u8]) -> Vec<u8> {
    let mut d = doc(input);
    d.set(section, key, v).unwrap();
    assert_eq!(value(&d, section, key).as_deref(), Some(v), "get after set");
    d.into_bytes()
}

/// Shows bytes readably in assertion failures.
fn show(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

#[track_caller]
fn assert_bytes(actual: &[u8], expected: &[u8]) {
    assert!(
        actual == expected,
        "\n  actual: {}\nexpected: {}",
        show(actual),
        show(expected)
    );
}

// ---- parse: never fails, identity ------------------------------------------

#[test]
fn parse_is_identity_for_odd_inputs() {
    let inputs: &[&[u8]] = &[
        b"",
        b"\n",
        b"\r\n",
        b"\r",
        b"\xEF\xBB\xBF",
        b"\xEF\xBB\xBF\r\n",
        b"\0\0\0",
        b"[a]\0=\xFF\r\r\n\x80\x81\n=\n[\n]\n[]",
        b"no newline at all",
        b"\xEF\xBB",
    ];
    for input in inputs {
        assert_bytes(doc(input).as_bytes(), input);
    }
    let all_bytes: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    assert_bytes(doc(&all_bytes).as_bytes(), &all_bytes[..]);
}

#[test]
fn encoding_is_decided_by_bom() {
    assert_eq!(doc(b"\xEF\xBB\xBF[a]").encoding(), TextEncoding::Utf8Bom);
    assert_eq!(doc(b"[a]").encoding(), TextEncoding::Windows1252);
    assert_eq!(doc(b"").encoding(), TextEncoding::Windows1252);
    // Valid UTF-8 without a BOM is still treated as ANSI, as MDaemon writes it.
    assert_eq!(doc("[ä]".as_bytes()).encoding(), TextEncoding::Windows1252);
    // BOM not at offset 0 is just content.
    assert_eq!(doc(b" \xEF\xBB\xBF").encoding(), TextEncoding::Windows1252);
}

// ---- lines -------------------------------------------------------------------

#[test]
fn lf_crlf_and_missing_final_newline_all_split_lines() {
    let d = doc(b"[s]\r\na=1\nb=2\r\nc=3");
    assert_eq!(d.get("s", "a").map(|e| e.line), Some(2));
    assert_eq!(value(&d, "s", "a").as_deref(), Some(&b"1"[..]));
    assert_eq!(value(&d, "s", "b").as_deref(), Some(&b"2"[..]));
    assert_eq!(
        d.get("s", "c").map(|e| (e.value, e.line)),
        Some((b"3".to_vec(), 4))
    );
}

#[test]
fn lone_cr_is_content_not_a_line_break() {
    let d = doc(b"[s]\na=1\rb=2\nc=3\r");
    assert_eq!(value(&d, "s", "a").as_deref(), Some(&b"1\rb=2"[..]));
    assert_eq!(d.get("s", "b"), None);
    // A trailing lone CR at EOF has no LF after it, so it is content too.
    assert_eq!(value(&d, "s", "c").as_deref(), Some(&b"3\r"[..]));
    // CR CR LF: the last CR belongs to the ending, the first is content.
    let d = doc(b"[s]\na=1\r\r\n");
    assert_eq!(value(&d, "s", "a").as_deref(), Some(&b"1\r"[..]));
}

#[test]
fn bom_is_a_prefix_of_line_one_not_part_of_the_name() {
    let d = doc(b"\xEF\xBB\xBF[General]\r\nKey=v\r\n");
    assert_eq!(d.section_names(), vec![b"General".to_vec()]);
    assert_eq!(d.section_line("general"), Some(1));
    assert_eq!(value(&d, "General", "key").as_deref(), Some(&b"v"[..]));
}

// ---- headers -----------------------------------------------------------------

#[test]
fn header_rules() {
    let d = doc(b"  \t[ Spaced Name\t]trailing ; junk\n[a=b\n[NoClose\n[x]y=z\nk=v\n[]\n");
    assert_eq!(
        d.section_names(),
        vec![b"Spaced Name".to_vec(), b"x".to_vec(), b"".to_vec()]
    );
    // "[a=b" has no ']' so it is a key line of the section above.
    assert_eq!(value(&d, "Spaced Name", "[a").as_deref(), Some(&b"b"[..]));
    // Text after ']' is ignored: "[x]y=z" defines no key y.
    assert_eq!(d.get("x", "y"), None);
    assert_eq!(value(&d, "x", "k").as_deref(), Some(&b"v"[..]));
    assert!(d.has_section(""));
    assert!(!d.has_section("NoClose"));
    // First ']' closes the name.
    assert_eq!(doc(b"[a]b]\n").section_names(), vec![b"a".to_vec()]);
}

// ---- comments, blanks, other lines -------------------------------------------

#[test]
fn comments_blank_and_other_lines_are_not_keys() {
    let d = doc(b"[s]\n;a=1\n  # b=2\n\t\n   \njust text\nc = 3 ; not a comment\n");
    let keys: Vec<Vec<u8>> = d.entries("s").into_iter().map(|e| e.key).collect();
    assert_eq!(keys, vec![b"c".to_vec()]);
    assert_eq!(
        value(&d, "s", "c").as_deref(),
        Some(&b"3 ; not a comment"[..])
    );
}

// ---- keys --------------------------------------------------------------------

#[test]
fn key_value_split_and_trim() {
    let d = doc(b"[s]\n  Key  =  value with  spaces \t \nurl=a=b\nempty=\nblank = \t \n=novalue\n");
    let entries = d.entries("s");
    let pairs: Vec<(&[u8], &[u8])> = entries
        .iter()
        .map(|e| (e.key.as_slice(), e.value.as_slice()))
        .collect();
    assert_eq!(
        pairs,
        vec![
            (&b"Key"[..], &b"value with  spaces"[..]),
            (b"url", b"a=b"),
            (b"empty", b""),
            (b"blank", b""),
            (b"", b"novalue"),
        ]
    );
    let lines: Vec<usize> = entries.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![2, 3, 4, 5, 6]);
}

#[test]
fn keys_before_any_section_are_unreachable() {
    let d = doc(b"orphan=1\n[s]\nk=2\n");
    assert_eq!(d.section_names(), vec![b"s".to_vec()]);
    assert_eq!(d.get("s", "orphan"), None);
    assert_eq!(d.get("", "orphan"), None);
}

#[test]
fn names_match_ascii_case_insensitively_and_high_bytes_exactly() {
    let d = doc(b"[GeNeRaL]\nMyKey=1\n[M\xFCller]\nx=2\n");
    assert!(d.has_section("general"));
    assert_eq!(value(&d, "GENERAL", "mykey").as_deref(), Some(&b"1"[..]));
    // "ü" encodes to 0xFC in an ANSI file; "Ü" (0xDC) is a different byte.
    assert!(d.has_section("Müller"));
    assert!(!d.has_section("MÜLLER"));
    assert_eq!(value(&d, "mÜller", "x"), None);
    // A name that Windows-1252 cannot encode simply matches nothing.
    assert!(!d.has_section("Ω"));
}

#[test]
fn first_occurrence_wins_and_entries_keep_duplicates() {
    let d = doc(b"[s]\nk=1\nK=2\n[S]\nk=3\nonly=4\n");
    assert_eq!(value(&d, "s", "k").as_deref(), Some(&b"1"[..]));
    // The duplicate [S] section is never read.
    assert_eq!(d.get("s", "only"), None);
    let values: Vec<Vec<u8>> = d.entries("s").into_iter().map(|e| e.value).collect();
    assert_eq!(values, vec![b"1".to_vec(), b"2".to_vec()]);
    assert_eq!(d.section_names(), vec![b"s".to_vec(), b"S".to_vec()]);
    assert_eq!(d.section_line("S"), Some(1));
    assert!(d.entries("missing").is_empty());
}

// ---- get_str -----------------------------------------------------------------

#[test]
fn get_str_decodes_windows_1252_and_utf8() {
    let d = doc(b"[s]\nk=\xE4\xF6 \x96 \x80 \x81\n");
    assert_eq!(d.get_str("s", "k").as_deref(), Some("äö – € \u{81}"));
    let d = doc(b"\xEF\xBB\xBF[s]\nk=\xC3\xA4 \xFF\n");
    assert_eq!(d.get_str("s", "k").as_deref(), Some("ä \u{FFFD}"));
    assert_eq!(d.get_str("s", "missing"), None);
}

// ---- set: existing key ----------------------------------------------------------

#[test]
fn set_existing_replaces_only_the_value_bytes() {
    assert_bytes(
        &after_set(
            b"[s]\r\n  Key  =  old  \r\nn=1\r\n",
            "s",
            "KEY",
            b"new value",
        ),
        b"[s]\r\n  Key  =  new value  \r\nn=1\r\n",
    );
    // Longer and shorter values, unterminated last line kept unterminated.
    assert_bytes(&after_set(b"[s]\nk=abc", "s", "k", b"x"), b"[s]\nk=x");
    assert_bytes(
        &after_set(b"[s]\nk=a\t;c\t\n", "s", "k", b"long;er"),
        b"[s]\nk=long;er\t\n",
    );
    // Only the first duplicate changes.
    assert_bytes(
        &after_set(b"[s]\nk=1\nk=2\n", "s", "k", b"9"),
        b"[s]\nk=9\nk=2\n",
    );
}

#[test]
fn set_empty_existing_value_goes_after_the_blanks_following_eq() {
    assert_bytes(
        &after_set(b"[s]\r\nk=\r\n", "s", "k", b"v"),
        b"[s]\r\nk=v\r\n",
    );
    assert_bytes(
        &after_set(b"[s]\r\nk = \r\n", "s", "k", b"v"),
        b"[s]\r\nk = v\r\n",
    );
    assert_bytes(
        &after_set(b"[s]\nk =\t  \n", "s", "k", b"v"),
        b"[s]\nk =\t  v\n",
    );
    assert_bytes(&after_set(b"[s]\nk=", "s", "k", b"v"), b"[s]\nk=v");
    // And clearing a value leaves the blanks around it.
    assert_bytes(
        &after_set(b"[s]\nk = v  \n", "s", "k", b""),
        b"[s]\nk =   \n",
    );
}

#[test]
fn setting_the_old_value_back_restores_the_bytes() {
    for input in [&b"[s]\nk = \t\n"[..], b"[s]\r\n k=old \r\n", b"[s]\nk="] {
        let mut d = doc(input);
        let old = value(&d, "s", "k").unwrap();
        d.set("s", "k", b"other").unwrap();
        d.set("s", "k", &old).unwrap();
        assert_bytes(d.as_bytes(), input);
    }
}

// ---- set: missing key -------------------------------------------------------------

#[test]
fn missing_key_goes_after_the_last_key_line_before_trailing_comments() {
    let input = b"[a]\r\nx=1\r\n; comment about x\r\ny=2\r\n\r\n; about [b]\r\n[b]\r\nz=3\r\n";
    assert_bytes(
        &after_set(input, "A", "New", b"v"),
        b"[a]\r\nx=1\r\n; comment about x\r\ny=2\r\nNew=v\r\n\r\n; about [b]\r\n[b]\r\nz=3\r\n",
    );
}

#[test]
fn missing_key_in_keyless_section_goes_right_after_the_header() {
    assert_bytes(
        &after_set(b"[a]\r\n; c\r\n\r\n[b]\r\n", "a", "k", b"v"),
        b"[a]\r\nk=v\r\n; c\r\n\r\n[b]\r\n",
    );
    // Other (garbage) lines are skipped like comments.
    assert_bytes(
        &after_set(b"[a]\njunk\n", "a", "k", b"v"),
        b"[a]\nk=v\njunk\n",
    );
}

#[test]
fn missing_key_copies_the_neighbouring_line_ending() {
    // CRLF-dominant file, but the previous key line ends in LF.
    assert_bytes(
        &after_set(b"[a]\r\nx=1\n\r\n[b]\r\n", "a", "y", b"2"),
        b"[a]\r\nx=1\ny=2\n\r\n[b]\r\n",
    );
    assert_bytes(
        &after_set(b"[a]\nx=1\r\n\n", "a", "y", b"2"),
        b"[a]\nx=1\r\ny=2\r\n\n",
    );
}

#[test]
fn missing_key_after_unterminated_last_line_keeps_file_unterminated() {
    assert_bytes(
        &after_set(b"[a]\r\nx=1", "a", "y", b"2"),
        b"[a]\r\nx=1\r\ny=2",
    );
    assert_bytes(
        &after_set(b"[a]\nx=1\nz=3", "a", "y", b"2"),
        b"[a]\nx=1\nz=3\ny=2",
    );
    assert_bytes(&after_set(b"[a]", "a", "y", b"2"), b"[a]\r\ny=2");
    // A stray CR ending the last line stays content: CRLF, never LF.
    let out = after_set(b"[a]\nq=1\nx=1\r", "a", "y", b"2");
    assert_bytes(&out, b"[a]\nq=1\nx=1\r\r\ny=2");
    assert_eq!(value(&doc(&out), "a", "x").as_deref(), Some(&b"1\r"[..]));
}

#[test]
fn missing_key_goes_into_the_first_of_duplicate_sections() {
    assert_bytes(
        &after_set(b"[s]\nk=1\n[s]\nnew=old\n", "s", "new", b"v"),
        b"[s]\nk=1\nnew=v\n[s]\nnew=old\n",
    );
}

// ---- set: missing section ----------------------------------------------------------

#[test]
fn missing_section_is_appended_with_the_dominant_ending() {
    assert_bytes(
        &after_set(b"[a]\r\nx=1\r\n", "b", "k", b"v"),
        b"[a]\r\nx=1\r\n[b]\r\nk=v\r\n",
    );
    assert_bytes(
        &after_set(b"[a]\nx=1\n", "b", "k", b"v"),
        b"[a]\nx=1\n[b]\nk=v\n",
    );
    // Majority decides: two LF vs one CRLF.
    assert_bytes(
        &after_set(b"[a]\r\nx=1\ny=2\n", "b", "k", b"v"),
        b"[a]\r\nx=1\ny=2\n[b]\nk=v\n",
    );
    // A tie goes to CRLF.
    assert_bytes(
        &after_set(b"[a]\r\nx=1\n", "b", "k", b"v"),
        b"[a]\r\nx=1\n[b]\r\nk=v\r\n",
    );
}

#[test]
fn missing_section_in_empty_or_bom_only_file() {
    assert_bytes(
        &after_set(b"", "General", "k", b"v"),
        b"[General]\r\nk=v\r\n",
    );
    assert_bytes(
        &after_set(b"\xEF\xBB\xBF", "General", "k", b"v"),
        b"\xEF\xBB\xBF[General]\r\nk=v\r\n",
    );
}

#[test]
fn missing_section_after_unterminated_last_line() {
    assert_bytes(
        &after_set(b"[a]\nx=1", "b", "k", b"v"),
        b"[a]\nx=1\n[b]\nk=v",
    );
    assert_bytes(
        &after_set(b"; only", "b", "k", b"v"),
        b"; only\r\n[b]\r\nk=v",
    );
    assert_bytes(
        &after_set(b"[a]\nx=1\r", "b", "k", b"v"),
        b"[a]\nx=1\r\r\n[b]\nk=v",
    );
}

#[test]
fn a_section_named_only_in_a_duplicate_is_not_appended_twice() {
    let mut d = doc(b"[a]\n");
    d.set("b", "k", b"1").unwrap();
    d.set("B", "k2", b"2").unwrap();
    assert_bytes(d.as_bytes(), b"[a]\n[b]\nk=1\nk2=2\n");
}

// ---- set / set_str: encoding and validation ------------------------------------------

#[test]
fn set_str_encodes_per_document_encoding() {
    let mut d = doc(b"[s]\r\nk=\r\n");
    d.set_str("s", "k", "äö – € \u{81}").unwrap();
    assert_bytes(d.as_bytes(), b"[s]\r\nk=\xE4\xF6 \x96 \x80 \x81\r\n");
    assert_eq!(d.get_str("s", "k").as_deref(), Some("äö – € \u{81}"));
    // Non-ASCII names are encoded too.
    d.set_str("Straße", "Größe", "1").unwrap();
    assert_bytes(
        d.as_bytes(),
        b"[s]\r\nk=\xE4\xF6 \x96 \x80 \x81\r\n[Stra\xDFe]\r\nGr\xF6\xDFe=1\r\n",
    );

    let mut d = doc(b"\xEF\xBB\xBF[s]\nk=\n");
    d.set_str("s", "k", "ä Ω").unwrap();
    assert_bytes(d.as_bytes(), "\u{FEFF}[s]\nk=ä Ω\n".as_bytes());
}

#[test]
fn set_str_rejects_unrepresentable_and_line_breaks() {
    let original = b"[s]\nk=1\n";
    let mut d = doc(original);
    assert_eq!(
        d.set_str("s", "k", "a Ω"),
        Err(IniError::NotWindows1252 {
            field: Field::Value,
            ch: 'Ω'
        })
    );
    assert!(matches!(
        d.set_str("s", "k😀", "1"),
        Err(IniError::NotWindows1252 {
            field: Field::Key,
            ch: '😀'
        })
    ));
    assert!(matches!(
        d.set_str("Ω", "k", "1"),
        Err(IniError::NotWindows1252 {
            field: Field::Section,
            ..
        })
    ));
    for bad in ["a\nb", "a\r", "\rb"] {
        assert!(matches!(
            d.set_str("s", "k", bad),
            Err(IniError::Invalid {
                field: Field::Value,
                ..
            })
        ));
    }
    assert_bytes(d.as_bytes(), original);
}

#[test]
fn set_rejects_names_and_values_that_would_not_read_back() {
    let original = b"[s]\nk=1\n";
    let mut d = doc(original);
    let bad_sections = ["", " s", "s\t", "a]b", "a\nb", "a\0"];
    for section in bad_sections {
        let err = d.set(section, "k", b"v").unwrap_err();
        assert!(
            matches!(
                err,
                IniError::Invalid {
                    field: Field::Section,
                    ..
                }
            ),
            "{section:?}"
        );
    }
    let bad_keys = ["", " k", "k ", "a=b", ";k", "#k", "[k", "k\r", "k\0"];
    for key in bad_keys {
        let err = d.set("s", key, b"v").unwrap_err();
        assert!(
            matches!(
                err,
                IniError::Invalid {
                    field: Field::Key,
                    ..
                }
            ),
            "{key:?}"
        );
    }
    let bad_values: [&[u8]; 6] = [b" v", b"v\t", b"a\nb", b"a\rb", b"a\0b", b" "];
    for v in bad_values {
        let err = d.set("s", "k", v).unwrap_err();
        assert!(
            matches!(
                err,
                IniError::Invalid {
                    field: Field::Value,
                    ..
                }
            ),
            "{v:?}"
        );
    }
    assert_bytes(d.as_bytes(), original);
    // Inner spaces, '=', ';', '[' and high bytes are fine in values.
    d.set("s", "k", b"a = [b] ; \xFF").unwrap();
    assert_eq!(value(&d, "s", "k").as_deref(), Some(&b"a = [b] ; \xFF"[..]));
    d.set("s", "k", b"").unwrap();
}

#[test]
fn errors_have_readable_messages() {
    let mut d = doc(b"");
    let err = d.set("s", "k", b" v").unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid value: starts or ends with a space or tab, which readers trim away"
    );
    let err = d.set_str("s", "k", "Ω").unwrap_err();
    assert_eq!(
        err.to_string(),
        "value contains 'Ω', which Windows-1252 cannot represent"
    );
}

// ---- remove -------------------------------------------------------------------------

#[test]
fn remove_deletes_the_first_occurrence_line_with_its_ending() {
    let mut d = doc(b"[s]\r\nk=1\r\nK=2\n[t]\r\nk=3\r\n");
    assert!(d.remove("S", "k"));
    assert_bytes(d.as_bytes(), b"[s]\r\nK=2\n[t]\r\nk=3\r\n");
    assert!(d.remove("s", "k"));
    assert_bytes(d.as_bytes(), b"[s]\r\n[t]\r\nk=3\r\n");
    assert!(!d.remove("s", "k"));
    assert!(!d.remove("missing", "k"));
    assert_bytes(d.as_bytes(), b"[s]\r\n[t]\r\nk=3\r\n");
}

#[test]
fn remove_unterminated_last_line_keeps_file_unterminated() {
    let mut d = doc(b"[s]\r\nk=1\r\nz=2");
    assert!(d.remove("s", "z"));
    assert_bytes(d.as_bytes(), b"[s]\r\nk=1");
    // After a blank line there is no content to leave unterminated.
    let mut d = doc(b"[s]\r\nk=1\r\n\r\nz=2");
    assert!(d.remove("s", "z"));
    assert_bytes(d.as_bytes(), b"[s]\r\nk=1\r\n\r\n");
}

#[test]
fn remove_undoes_an_added_key_exactly() {
    let inputs: [&[u8]; 6] = [
        b"[s]\r\nk=1\r\n; tail\r\n",
        b"[s]\nk=1",
        b"[s]",
        b"[s]\nk=1\r",
        b"\xEF\xBB\xBF[s]",
        b"[s]\nk=1\n[t]\nx=1",
    ];
    for input in inputs {
        let mut d = doc(input);
        d.set("s", "new", b"v").unwrap();
        assert_ne!(d.as_bytes(), input);
        assert!(d.remove("s", "new"));
        assert_bytes(d.as_bytes(), input);
    }
}

// ---- scale ------------------------------------------------------------------------
// Correctness at scale here; the time these take is measured by benches/parsers.sh
// (docs/performance.md), never asserted: these machines are shared and noisy.

/// `sections` sections parsed, looked up and edited (first, middle, new).
fn many_sections(sections: usize) {
    let mut input = Vec::new();
    for i in 0..sections {
        input.extend_from_slice(format!("[Section{i}]\r\nKey=value{i}\r\n; c\r\n").as_bytes());
    }
    let last = sections - 1;
    let mut d = IniDoc::parse(input.clone());
    assert_eq!(d.section_names().len(), sections);
    assert_eq!(
        d.get_str(&format!("section{last}"), "key").as_deref(),
        Some(format!("value{last}").as_str())
    );
    let digits = last.to_string().len();
    d.set(&format!("Section{last}"), "Key", b"x").unwrap();
    d.set(&format!("Section{}", sections / 2), "Other", b"y")
        .unwrap();
    d.set("Brand New", "k", b"z").unwrap();
    assert_eq!(d.section_line("Brand New"), Some(3 * sections + 2));
    // "value{last}" became "x"; "Other=y\r\n" (9) and "[Brand New]\r\nk=z\r\n" (18) added.
    assert_eq!(d.as_bytes().len(), input.len() - (5 + digits) + 1 + 9 + 18);
}

/// One value of `len` bytes on one line, parsed and replaced.
fn one_long_line(len: usize) {
    let mut input = b"[s]\nk=".to_vec();
    input.resize(len, b'x');
    let mut d = IniDoc::parse(input);
    assert_eq!(d.get("s", "k").map(|e| e.value.len()), Some(len - 6));
    d.set("s", "k", b"short").unwrap();
    assert_bytes(d.as_bytes(), b"[s]\nk=short");
}

#[test]
fn twenty_thousand_sections_parse_and_edit() {
    many_sections(20_000);
}

#[test]
fn a_ten_megabyte_single_line_parses_and_is_replaced() {
    one_long_line(10 * 1024 * 1024);
}

/// benches/parsers.sh: linear means 4x the input takes about 4x the time.
#[test]
#[ignore = "benchmark: run by benches/parsers.sh in a release build"]
fn bench_ini_scale() {
    for sections in [25_000, 100_000] {
        let started = Instant::now();
        many_sections(sections);
        println!(
            "bench ini sections={sections} ms={}",
            started.elapsed().as_millis()
        );
    }
    for mb in [12, 50] {
        let started = Instant::now();
        one_long_line(mb * 1024 * 1024);
        println!(
            "bench ini line_mb={mb} ms={}",
            started.elapsed().as_millis()
        );
    }
}
