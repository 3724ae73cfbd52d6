//! Unit tests: one group per rule in the module docs.

use super::*;
use crate::profile::Profile;
use std::time::Instant;

/// The profile's layout: Domain [0,45), Mailbox [45,75), FullName [75,105),
/// MailDir [105,195).
fn layout() -> Layout {
    Layout::from_profile(&Profile::builtin())
}

fn list(bytes: &[u8]) -> Userlist {
    Userlist::parse(bytes.to_vec(), layout())
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

/// One line laid out the way the sandbox writes Userlist.dat
/// (`sandbox::content::userlist_dat`): a line of spaces as wide as the
/// widest field end, each field's Windows-1252 bytes at its columns (cut to
/// the field width), then the password hash (16 hex digits) and the flags.
/// No line ending.
fn sandbox_line(
    domain: &str,
    mailbox: &str,
    full_name: &str,
    mail_dir: &str,
    hash: &str,
) -> Vec<u8> {
    let l = layout();
    let width = [l.domain, l.mailbox, l.full_name, l.mail_dir]
        .iter()
        .map(|c| c[1])
        .max()
        .unwrap();
    let mut line = vec![b' '; width];
    for (cols, value) in [
        (l.domain, domain),
        (l.mailbox, mailbox),
        (l.full_name, full_name),
        (l.mail_dir, mail_dir),
    ] {
        let bytes = encoding_rs::WINDOWS_1252.encode(value).0;
        let n = bytes.len().min(cols[1] - cols[0]);
        line[cols[0]..cols[0] + n].copy_from_slice(&bytes[..n]);
    }
    line.extend_from_slice(format!("{hash}YNYN0000100").as_bytes());
    line
}

/// The accounts of the fixture: (domain, mailbox, full name).
const PEOPLE: [(&str, &str, &str); 4] = [
    ("example.com", "anna.meyer", "Jörg Müller"),
    ("example.net", "ben.novak", "Zoë Françoise"),
    ("example.org", "carla.rossi", "Åsa Næss"),
    ("example.com", "dmitri.smith", "Dmitri Smith"),
];

fn old_dir(domain: &str, mailbox: &str) -> String {
    format!(r"C:\MDaemon\Users\{domain}\{mailbox}\")
}

fn new_dir(domain: &str, mailbox: &str) -> String {
    format!(r"\\fileserver\mdaemon\Users\{domain}\{mailbox}\")
}

/// A Userlist.dat as the sandbox writes it: one CRLF line per account.
fn sandbox_file() -> Vec<u8> {
    let mut out = Vec::new();
    for (i, (domain, mailbox, full_name)) in PEOPLE.iter().enumerate() {
        let hash = format!(
            "{:016X}",
            0x0123_4567_89AB_CDEFu64.rotate_left(i as u32 * 8)
        );
        out.extend(sandbox_line(
            domain,
            mailbox,
            full_name,
            &old_dir(domain, mailbox),
            &hash,
        ));
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A fixture line whose MailDir field holds `raw` bytes, padded with spaces.
fn line_with_raw_mail_dir(raw: &[u8]) -> Vec<u8> {
    let mut line = sandbox_line("example.com", "anna", "Anna", "", "0123456789ABCDEF");
    line[105..105 + raw.len()].copy_from_slice(raw);
    line
}

/// Indices where `a` and `b` differ (same length required).
fn changed_positions(a: &[u8], b: &[u8]) -> Vec<usize> {
    assert_eq!(a.len(), b.len(), "an edit never changes the length");
    (0..a.len()).filter(|&i| a[i] != b[i]).collect()
}

// ---- layout ------------------------------------------------------------------

#[test]
fn layout_comes_from_the_profile() {
    let l = layout();
    assert_eq!(l.domain, [0, 45]);
    assert_eq!(l.mailbox, [45, 75]);
    assert_eq!(l.full_name, [75, 105]);
    assert_eq!(l.mail_dir, [105, 195]);
    assert_eq!(l.mail_dir_width(), 90);
    assert_eq!(list(b"").layout(), l);
}

#[test]
fn inverted_mail_dir_range_has_width_zero() {
    let l = Layout {
        mail_dir: [10, 5],
        ..layout()
    };
    assert_eq!(l.mail_dir_width(), 0);
}

// ---- parse: never fails, identity --------------------------------------------

#[test]
fn parse_is_identity_for_odd_inputs() {
    let inputs: &[&[u8]] = &[
        b"",
        b"\n",
        b"\r\n",
        b"\r",
        b"\0\0\0",
        b"\xEF\xBB\xBF",
        b"\x80\x81\xFF\r\r\n\n\n   \t\r\n",
        b"no newline at all",
    ];
    for input in inputs {
        let u = list(input);
        assert_bytes(u.as_bytes(), input);
        // None of these reach column 195, so nothing is an account.
        assert!(u.accounts().is_empty(), "{}", show(input));
    }
    let all_bytes: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    let u = list(&all_bytes);
    assert_bytes(u.as_bytes(), &all_bytes);
    assert_bytes(&u.clone().into_bytes(), &all_bytes);
    // Every line has one LF: 15 lines of 255 bytes ("\x0B".."\x09"), plus
    // the 10 leading bytes and the unterminated tail.
    assert_eq!(u.accounts().len() + u.issues().len(), 17);
}

#[test]
fn debug_shows_the_shape_not_the_bytes() {
    let u = list(&sandbox_file());
    let shown = format!("{u:?}");
    assert!(shown.contains("lines: 4"), "{shown}");
    assert!(!shown.contains("anna"), "{shown}");
}

// ---- the sandbox's file --------------------------------------------------------

#[test]
fn sandbox_file_reads_as_its_accounts() {
    let u = list(&sandbox_file());
    assert!(u.issues().is_empty());
    let accounts = u.accounts();
    assert_eq!(accounts.len(), PEOPLE.len());
    for (i, (account, (domain, mailbox, full_name))) in accounts.iter().zip(PEOPLE).enumerate() {
        assert_eq!(
            account,
            &Account {
                line: i + 1,
                domain: domain.to_string(),
                mailbox: mailbox.to_string(),
                full_name: full_name.to_string(),
                mail_dir: old_dir(domain, mailbox),
            }
        );
    }
    // The full names really are Windows-1252 bytes in the file ("ö" = 0xF6).
    assert!(u.as_bytes().windows(3).any(|w| w == b"J\xF6r"));
}

#[test]
fn moving_the_store_rewrites_only_the_mail_dir_fields() {
    let original = sandbox_file();
    let mut u = list(&original);
    for account in u.accounts() {
        let new = new_dir(&account.domain, &account.mailbox);
        u.check_mail_dir(account.line, &new).unwrap();
        u.set_mail_dir(account.line, &new).unwrap();
    }
    let after = u.as_bytes().to_vec();
    // Every changed byte lies in columns 105..195 of some line.
    let line_len = original.iter().position(|&b| b == b'\n').unwrap() + 1;
    for i in changed_positions(&original, &after) {
        assert!((105..195).contains(&(i % line_len)), "byte {i} changed");
    }
    // Everything outside the fields, full names and hashes included, is kept.
    for (old_line, new_line) in original.chunks(line_len).zip(after.chunks(line_len)) {
        assert_bytes(&new_line[..105], &old_line[..105]);
        assert_bytes(&new_line[195..], &old_line[195..]);
    }
    let (domain, mailbox, _) = PEOPLE[0];
    let expected = format!("{:<90}", new_dir(domain, mailbox));
    assert_bytes(&after[105..195], expected.as_bytes());
    // accounts() sees the new values, and only MailDir differs.
    let before = list(&original).accounts();
    for (old, new) in before.iter().zip(u.accounts()) {
        assert_eq!(new.mail_dir, new_dir(&old.domain, &old.mailbox));
        assert_eq!(
            Account {
                mail_dir: old.mail_dir.clone(),
                ..new
            },
            *old
        );
    }
    // Writing the old values back restores the original file exactly.
    for old in &before {
        u.set_mail_dir(old.line, &old.mail_dir).unwrap();
    }
    assert_bytes(u.as_bytes(), &original);
}

// ---- lines -------------------------------------------------------------------

#[test]
fn lf_crlf_mixed_and_missing_final_newline_are_all_lines_and_kept() {
    let a = sandbox_line("a.com", "a", "A", r"C:\a\", "0000000000000000");
    let b = sandbox_line("b.com", "b", "B", r"C:\b\", "1111111111111111");
    let c = sandbox_line("c.com", "c", "C", r"C:\c\", "2222222222222222");
    let input = [&a[..], b"\n", &b, b"\r\n", &c].concat();
    let mut u = list(&input);
    let lines: Vec<(usize, String)> = u
        .accounts()
        .into_iter()
        .map(|a| (a.line, a.mail_dir))
        .collect();
    assert_eq!(
        lines,
        vec![
            (1, r"C:\a\".into()),
            (2, r"C:\b\".into()),
            (3, r"C:\c\".into())
        ]
    );
    for line in 1..=3 {
        u.set_mail_dir(line, r"\\s\x\").unwrap();
    }
    let field = format!("{:<90}", r"\\s\x\");
    let expected = |l: &[u8]| [&l[..105], field.as_bytes(), &l[195..]].concat();
    let expected = [
        &expected(&a)[..],
        b"\n",
        &expected(&b),
        b"\r\n",
        &expected(&c),
    ]
    .concat();
    assert_bytes(u.as_bytes(), &expected);
}

#[test]
fn lone_cr_is_content_and_cr_before_lf_is_the_ending() {
    // 194 bytes + CRLF: the CR is the ending, so the line is one byte short.
    let mut short = vec![b'x'; 194];
    short.extend_from_slice(b"\r\n");
    assert_eq!(
        list(&short).issues(),
        vec![LineIssue::TooShort {
            line: 1,
            len: 194,
            needed: 195
        }]
    );
    // 194 bytes + CR at the end of the file: no LF follows, so the CR is
    // content and the line just reaches column 195.
    let mut at_eof = vec![b'x'; 194];
    at_eof.push(b'\r');
    let u = list(&at_eof);
    assert!(u.issues().is_empty());
    assert!(u.accounts()[0].mail_dir.ends_with('\r'));
    // CR CR LF: the first CR is content.
    let mut cr_cr_lf = vec![b'x'; 194];
    cr_cr_lf.extend_from_slice(b"\r\r\n");
    assert_eq!(list(&cr_cr_lf).accounts().len(), 1);
    // A CR in the middle does not split the line.
    let mut middle = line_with_raw_mail_dir(br"C:\a");
    middle[49] = b'\r';
    middle.extend_from_slice(b"\r\n");
    let u = list(&middle);
    assert_eq!(u.accounts().len(), 1);
    assert_eq!(u.accounts()[0].mailbox, "anna\r");
}

#[test]
fn blank_lines_are_neither_accounts_nor_issues_but_count_as_lines() {
    let account = line_with_raw_mail_dir(br"C:\MDaemon\Users\a\");
    let long_blank = vec![b' '; 300];
    let input = [
        b"\r\n" as &[u8],
        b"   \t \n",
        &long_blank,
        b"\r\n",
        &account,
        b"\r\n\r\n",
    ]
    .concat();
    let u = list(&input);
    assert!(u.issues().is_empty());
    let accounts = u.accounts();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].line, 4);
    let mut u = u;
    for line in [1, 2, 3, 5] {
        assert_eq!(
            u.set_mail_dir(line, r"C:\x"),
            Err(UserlistError::NoSuchAccountLine(line))
        );
    }
    assert_bytes(u.as_bytes(), &input);
}

#[test]
fn short_lines_are_issues_and_never_edited() {
    let account = line_with_raw_mail_dir(br"C:\MDaemon\Users\a\");
    let input = [
        b"garbage\r\n" as &[u8],
        &account[..194],
        b"\n",
        &account,
        b"\r\n",
        &account[..120],
    ]
    .concat();
    let mut u = list(&input);
    assert_eq!(
        u.issues(),
        vec![
            LineIssue::TooShort {
                line: 1,
                len: 7,
                needed: 195
            },
            LineIssue::TooShort {
                line: 2,
                len: 194,
                needed: 195
            },
            LineIssue::TooShort {
                line: 4,
                len: 120,
                needed: 195
            },
        ]
    );
    assert_eq!(u.issues()[2].line(), 4);
    assert_eq!(
        u.accounts().iter().map(|a| a.line).collect::<Vec<_>>(),
        vec![3]
    );
    for line in [1, 2, 4] {
        assert_eq!(
            u.check_mail_dir(line, "x"),
            Err(UserlistError::NoSuchAccountLine(line))
        );
        assert_eq!(
            u.set_mail_dir(line, "x"),
            Err(UserlistError::NoSuchAccountLine(line))
        );
    }
    assert_bytes(u.as_bytes(), &input);
    // Exactly 195 bytes (no tail at all) is an account.
    u.set_mail_dir(3, "x").unwrap();
}

#[test]
fn line_numbers_outside_the_file_are_refused() {
    let mut u = list(&sandbox_file());
    for line in [0, 5, usize::MAX] {
        assert_eq!(
            u.check_mail_dir(line, r"C:\x"),
            Err(UserlistError::NoSuchAccountLine(line))
        );
        assert_eq!(
            u.set_mail_dir(line, r"C:\x"),
            Err(UserlistError::NoSuchAccountLine(line))
        );
    }
    assert_bytes(u.as_bytes(), &sandbox_file());
    assert_eq!(
        list(b"").set_mail_dir(1, "x"),
        Err(UserlistError::NoSuchAccountLine(1))
    );
}

// ---- reading fields ------------------------------------------------------------

#[test]
fn trailing_spaces_are_trimmed_and_leading_spaces_kept() {
    let u = list(&line_with_raw_mail_dir(br"  C:\x\  y"));
    assert_eq!(u.accounts()[0].mail_dir, r"  C:\x\  y");
    // Only spaces are padding: tabs and NUL stay in the value.
    let u = list(&line_with_raw_mail_dir(b"C:\\x\t\0"));
    assert_eq!(u.accounts()[0].mail_dir, "C:\\x\t\0");
    // An all-space field is the empty value.
    let u = list(&line_with_raw_mail_dir(b""));
    assert_eq!(u.accounts()[0].mail_dir, "");
    // A field filled to the last column has no padding at all.
    let full = vec![b'd'; 90];
    let u = list(&line_with_raw_mail_dir(&full));
    assert_eq!(u.accounts()[0].mail_dir, "d".repeat(90));
    // The other fields follow the same rule.
    let line = sandbox_line(" a ", "  ", "Anna  Meyer ", "x", "0123456789ABCDEF");
    let account = &list(&line).accounts()[0];
    assert_eq!(
        (&*account.domain, &*account.mailbox, &*account.full_name),
        (" a", "", "Anna  Meyer")
    );
}

#[test]
fn fields_decode_every_byte_as_windows_1252() {
    let u = list(&line_with_raw_mail_dir(b"\xE4\xF6\xFC\x80\x81\x9F"));
    assert_eq!(u.accounts()[0].mail_dir, "äöü€\u{81}Ÿ");
    let mut line = line_with_raw_mail_dir(b"x");
    line[75..79].copy_from_slice(b"J\xF6rg");
    assert_eq!(list(&line).accounts()[0].full_name, "Jörg");
}

#[test]
fn bytes_of_other_fields_and_the_tail_are_kept_exactly() {
    // Every byte value except LF in every field and the tail.
    let noise: Vec<u8> = (0..=255u8)
        .filter(|&b| b != b'\n')
        .cycle()
        .take(400)
        .collect();
    let mut line = noise.clone();
    line.truncate(260);
    let input = [&line[..], b"\r\n", &noise[..210]].concat();
    let mut u = list(&input);
    assert_eq!(u.accounts().len(), 2);
    let before = u.as_bytes().to_vec();
    u.set_mail_dir(1, r"\\srv\share\a\").unwrap();
    u.set_mail_dir(2, r"\\srv\share\b\").unwrap();
    let changed = changed_positions(&before, u.as_bytes());
    let first = 105..195;
    let second = 262 + 105..262 + 195;
    assert!(
        changed
            .iter()
            .all(|i| first.contains(i) || second.contains(i)),
        "{changed:?}"
    );
}

// ---- writing: width ----------------------------------------------------------

#[test]
fn ninety_characters_fit_and_ninety_one_do_not() {
    let original = sandbox_file();
    let mut u = list(&original);
    let fits = format!(r"\\s\{}", "a".repeat(86));
    assert_eq!(fits.len(), 90);
    let too_long = format!("{fits}b");
    assert_eq!(
        u.check_mail_dir(2, &too_long),
        Err(UserlistError::TooLong {
            line: 2,
            len: 91,
            max: 90
        })
    );
    assert_eq!(
        u.set_mail_dir(2, &too_long),
        Err(UserlistError::TooLong {
            line: 2,
            len: 91,
            max: 90
        })
    );
    assert_bytes(u.as_bytes(), &original);
    assert_eq!(u.check_mail_dir(2, &fits), Ok(()));
    u.set_mail_dir(2, &fits).unwrap();
    assert_eq!(u.accounts()[1].mail_dir, fits);
    let line_len = original.len() / 4;
    assert_bytes(
        &u.as_bytes()[line_len + 105..line_len + 195],
        fits.as_bytes(),
    );
}

#[test]
fn length_counts_windows_1252_bytes_not_utf8_bytes() {
    let original = sandbox_file();
    let mut u = list(&original);
    // 90 × "ö" is 180 bytes of UTF-8 but 90 bytes of Windows-1252.
    let umlauts = "ö".repeat(90);
    u.set_mail_dir(1, &umlauts).unwrap();
    assert_bytes(&u.as_bytes()[105..195], &[0xF6; 90]);
    assert_eq!(u.accounts()[0].mail_dir, umlauts);
    // "€" is 3 bytes of UTF-8 and one byte (0x80) here.
    let euros = format!("{}ö", "€".repeat(90));
    assert_eq!(
        u.set_mail_dir(1, &euros),
        Err(UserlistError::TooLong {
            line: 1,
            len: 91,
            max: 90
        })
    );
    assert_eq!(u.accounts()[0].mail_dir, umlauts);
}

#[test]
fn check_agrees_with_set() {
    let values = [
        r"\\fileserver\mdaemon\Users\example.com\anna\".to_string(),
        "a".repeat(90),
        "a".repeat(91),
        "€".repeat(91),
        String::new(),
        " x".into(),
        "x ".into(),
        "a\r\nb".into(),
        "\0".into(),
        "tab\there".into(),
        "\u{7F}".into(),
        "\u{81}".into(),
        "\u{85}".into(),
        "Ω".into(),
        "😀".into(),
        "Jörg Müller".into(),
    ];
    let original = sandbox_file();
    for value in &values {
        for line in [0, 1, 4, 5] {
            let mut u = list(&original);
            let checked = u.check_mail_dir(line, value);
            let set = u.set_mail_dir(line, value);
            assert_eq!(checked, set, "line {line}, {value:?}");
            match set {
                Ok(()) => assert_eq!(&u.accounts()[line - 1].mail_dir, value),
                Err(_) => assert_bytes(u.as_bytes(), &original),
            }
        }
    }
}

// ---- writing: refused values ---------------------------------------------------

#[test]
fn control_characters_are_refused() {
    let mut u = list(&sandbox_file());
    for value in [
        "a\rb",
        "a\nb",
        "\r\n",
        "a\0",
        "a\tb",
        "a\u{7}",
        "a\u{1B}[31m",
        "a\u{7F}",
        "a\u{81}",
    ] {
        assert_eq!(
            u.set_mail_dir(1, value),
            Err(UserlistError::ControlChar { line: 1 }),
            "{value:?}"
        );
    }
    assert_bytes(u.as_bytes(), &sandbox_file());
}

#[test]
fn characters_outside_windows_1252_are_refused() {
    let mut u = list(&sandbox_file());
    for (value, ch) in [(r"C:\Ωmega", 'Ω'), ("a😀", '😀'), ("āb", 'ā')] {
        assert_eq!(
            u.set_mail_dir(3, value),
            Err(UserlistError::NotWindows1252 { line: 3, ch }),
        );
    }
    assert_bytes(u.as_bytes(), &sandbox_file());
    // The C1 gaps of Windows-1252 are characters too, but control characters.
    assert_eq!(
        u.set_mail_dir(3, "\u{90}"),
        Err(UserlistError::ControlChar { line: 3 })
    );
}

#[test]
fn empty_and_space_edged_values_are_refused() {
    let mut u = list(&sandbox_file());
    assert_eq!(u.set_mail_dir(1, ""), Err(UserlistError::Empty { line: 1 }));
    for value in [" ", r" C:\a", r"C:\a ", "   "] {
        assert_eq!(
            u.set_mail_dir(1, value),
            Err(UserlistError::EdgeSpace { line: 1 }),
            "{value:?}"
        );
    }
    assert_bytes(u.as_bytes(), &sandbox_file());
    // Spaces inside a value are fine.
    u.set_mail_dir(1, r"C:\Program Files\Mail Store\a\")
        .unwrap();
    assert_eq!(u.accounts()[0].mail_dir, r"C:\Program Files\Mail Store\a\");
}

#[test]
fn rules_apply_in_the_documented_order() {
    let u = list(&sandbox_file());
    let long = "Ω".repeat(100);
    // Line first, then control, Windows-1252, empty, edge space, length.
    assert_eq!(
        u.check_mail_dir(9, "\0"),
        Err(UserlistError::NoSuchAccountLine(9))
    );
    assert_eq!(
        u.check_mail_dir(1, &format!("\0{long}")),
        Err(UserlistError::ControlChar { line: 1 })
    );
    assert_eq!(
        u.check_mail_dir(1, &format!(" {long}")),
        Err(UserlistError::NotWindows1252 { line: 1, ch: 'Ω' })
    );
    assert_eq!(
        u.check_mail_dir(1, &format!(" {}", "a".repeat(100))),
        Err(UserlistError::EdgeSpace { line: 1 })
    );
}

#[test]
fn error_and_issue_messages_name_the_line_and_the_limit() {
    let too_long = UserlistError::TooLong {
        line: 7,
        len: 95,
        max: 90,
    };
    assert_eq!(
        too_long.to_string(),
        "line 7: the new MailDir is 95 characters long, but the field holds at most 90"
    );
    assert_eq!(
        UserlistError::NotWindows1252 { line: 2, ch: 'Ω' }.to_string(),
        "line 2: the new MailDir contains 'Ω', which Windows-1252 cannot represent"
    );
    assert!(UserlistError::NoSuchAccountLine(3)
        .to_string()
        .starts_with("line 3 of Userlist.dat is not an account line"));
    let issue = LineIssue::TooShort {
        line: 4,
        len: 120,
        needed: 195,
    };
    assert_eq!(
        issue.to_string(),
        "line 4: 120 bytes long, too short to hold a MailDir field (it ends at column 195); \
         the line is kept as it is"
    );
}

// ---- writing: bytes --------------------------------------------------------------

#[test]
fn writing_pads_with_spaces_and_replaces_any_old_padding() {
    // A field padded with NULs instead of spaces, and with text after a gap.
    let mut raw = b"C:\\old\\".to_vec();
    raw.resize(80, 0);
    raw.extend_from_slice(b"   junk");
    let line = line_with_raw_mail_dir(&raw);
    let mut u = list(&line);
    u.set_mail_dir(1, r"\\s\new\").unwrap();
    let expected = [
        &line[..105],
        format!("{:<90}", r"\\s\new\").as_bytes(),
        &line[195..],
    ]
    .concat();
    assert_bytes(u.as_bytes(), &expected);
}

#[test]
fn encodable_c1_gap_bytes_round_trip_when_read() {
    // 0x81 decodes to U+0081 and is kept on read; writing it is refused
    // (control), but the bytes around an edited field never change.
    let line = line_with_raw_mail_dir(b"C:\\\x81\\");
    let mut u = list(&line);
    let value = u.accounts()[0].mail_dir.clone();
    assert_eq!(value, "C:\\\u{81}\\");
    assert_eq!(
        u.set_mail_dir(1, &value),
        Err(UserlistError::ControlChar { line: 1 })
    );
    assert_eq!(
        encode_windows_1252("\u{81}\u{8D}\u{8F}\u{90}\u{9D}")
            .unwrap()
            .as_ref(),
        b"\x81\x8D\x8F\x90\x9D"
    );
}

// ---- unusual layouts ---------------------------------------------------------------

#[test]
fn unusual_layouts_never_panic() {
    let input = [&sandbox_file()[..], b"short\r\n\r\n", &[0xFF; 300]].concat();
    let layouts = [
        Layout {
            mail_dir: [10, 5],
            ..layout()
        },
        Layout {
            mail_dir: [usize::MAX - 1, usize::MAX],
            ..layout()
        },
        Layout {
            domain: [usize::MAX, 0],
            mailbox: [40, usize::MAX],
            full_name: [300, 400],
            mail_dir: [0, 0],
        },
        Layout {
            // Overlapping fields: only the MailDir bytes are written.
            domain: [0, 200],
            ..layout()
        },
    ];
    for l in layouts {
        let mut u = Userlist::parse(input.clone(), l);
        let accounts = u.accounts();
        let _ = u.issues();
        for line in 0..=8 {
            let _ = u.check_mail_dir(line, "x");
            let _ = u.set_mail_dir(line, "x");
        }
        assert_eq!(u.as_bytes().len(), input.len());
        for a in &accounts {
            assert!(a.line >= 1 && a.line <= 7);
        }
    }
    // Width zero: every non-empty value is too long, nothing changes.
    let mut u = Userlist::parse(
        input.clone(),
        Layout {
            mail_dir: [10, 5],
            ..layout()
        },
    );
    assert_eq!(
        u.set_mail_dir(1, "x"),
        Err(UserlistError::TooLong {
            line: 1,
            len: 1,
            max: 0
        })
    );
    assert_bytes(u.as_bytes(), &input);
    // Fields beyond the end of a line read as far as the line reaches.
    let l = Layout {
        full_name: [190, 400],
        ..layout()
    };
    let u = Userlist::parse(line_with_raw_mail_dir(b"x"), l);
    assert_eq!(
        u.accounts()[0].full_name,
        "     0123456789ABCDEFYNYN0000100"
    );
}

// ---- scale ---------------------------------------------------------------------

// Correctness at scale here; the time it takes is measured by benches/parsers.sh
// (docs/performance.md), never asserted: these machines are shared and noisy.

/// `count` accounts parsed and every mail folder rewritten.
fn many_accounts(count: usize) {
    let line = sandbox_line(
        "example.com",
        "user",
        "Jörg Müller",
        r"C:\MDaemon\Users\x\",
        "0123456789ABCDEF",
    );
    let mut input = Vec::with_capacity((line.len() + 2) * count);
    for _ in 0..count {
        input.extend_from_slice(&line);
        input.extend_from_slice(b"\r\n");
    }
    let mut u = Userlist::parse(input, layout());
    let accounts = u.accounts();
    assert_eq!(accounts.len(), count);
    for a in &accounts {
        u.set_mail_dir(a.line, r"\\fileserver\mdaemon\Users\x\")
            .unwrap();
    }
    assert_eq!(
        u.accounts()[count - 1].mail_dir,
        r"\\fileserver\mdaemon\Users\x\"
    );
}

#[test]
fn twenty_thousand_accounts_parse_and_every_mail_folder_is_rewritten() {
    many_accounts(20_000);
}

/// benches/parsers.sh: linear means 4x the accounts take about 4x the time.
#[test]
#[ignore = "benchmark: run by benches/parsers.sh in a release build"]
fn bench_userlist_scale() {
    for count in [50_000, 200_000] {
        let started = Instant::now();
        many_accounts(count);
        println!(
            "bench userlist accounts={count} ms={}",
            started.elapsed().as_millis()
        );
    }
}
