//! Tests for the Windows path rules. All run on any OS.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};

use proptest::prelude::*;

use super::*;

fn p(s: &str) -> WinPath {
    match WinPath::parse(s) {
        Ok(path) => path,
        Err(e) => panic!("test input {s:?} should parse: {e}"),
    }
}

fn err(s: &str) -> WinPathError {
    match WinPath::parse(s) {
        Ok(path) => panic!("test input {s:?} should fail, parsed as {path}"),
        Err(e) => e,
    }
}

fn hash_of<T: Hash>(t: &T) -> u64 {
    let mut h = DefaultHasher::new();
    t.hash(&mut h);
    h.finish()
}

fn comps(path: &WinPath) -> Vec<&str> {
    path.components().iter().map(String::as_str).collect()
}

/// The message must quote the path exactly as given.
fn assert_names_path(e: &WinPathError, path: &str) {
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("'{path}'")),
        "message {msg:?} should name {path:?}"
    );
}

// ---------- parsing: accepted forms ----------

#[test]
fn drive_paths_parse_with_either_separator_and_uppercase_letter() {
    let cases: &[(&str, char, &[&str])] = &[
        (r"C:\MDaemon\App", 'C', &["MDaemon", "App"]),
        ("c:/MDaemon/App", 'C', &["MDaemon", "App"]),
        (r"d:\MDaemon/App\", 'D', &["MDaemon", "App"]),
        (r"C:\\MDaemon\\\App//", 'C', &["MDaemon", "App"]),
        (r"C:\", 'C', &[]),
        ("z:/", 'Z', &[]),
        (r"C:\.\MDaemon\.\App\.", 'C', &["MDaemon", "App"]),
    ];
    for &(input, letter, want) in cases {
        let path = p(input);
        assert!(path.is_drive() && !path.is_unc(), "{input}");
        match path.prefix() {
            Prefix::Drive(c) => assert_eq!(*c, letter, "{input}"),
            other => panic!("{input}: unexpected prefix {other:?}"),
        }
        assert_eq!(comps(&path), want, "{input}");
    }
}

#[test]
fn unc_paths_parse_server_share_and_components() {
    let cases: &[(&str, &str, &str, &[&str])] = &[
        (r"\\FileServer\MDaemon", "FileServer", "MDaemon", &[]),
        (r"\\FileServer\MDaemon\", "FileServer", "MDaemon", &[]),
        (
            r"\\fs.example.com\mail$\Users",
            "fs.example.com",
            "mail$",
            &["Users"],
        ),
        (
            "//10.0.0.5/MDaemon/Users//x/",
            "10.0.0.5",
            "MDaemon",
            &["Users", "x"],
        ),
        (r"\\srv\share\.\a\.\b", "srv", "share", &["a", "b"]),
    ];
    for &(input, server, share, want) in cases {
        let path = p(input);
        assert!(path.is_unc() && !path.is_drive(), "{input}");
        match path.prefix() {
            Prefix::Unc {
                server: s,
                share: sh,
            } => {
                assert_eq!((s.as_str(), sh.as_str()), (server, share), "{input}");
            }
            other => panic!("{input}: unexpected prefix {other:?}"),
        }
        assert_eq!(comps(&path), want, "{input}");
    }
}

#[test]
fn verbatim_prefixes_become_plain_paths() {
    assert_eq!(p(r"\\?\C:\x").to_string(), r"C:\x");
    assert_eq!(p(r"\\?\c:\x\y\").to_string(), r"C:\x\y");
    assert!(p(r"\\?\C:\x").is_drive());
    assert_eq!(
        p(r"\\?\UNC\server\share\x").to_string(),
        r"\\server\share\x"
    );
    assert_eq!(p(r"\\?\unc\server\share").to_string(), r"\\server\share");
    assert!(p(r"\\?\UNC\server\share\x").is_unc());
    assert_eq!(p(r"\\?\UNC\server\share\x"), p(r"\\server\share\x"));
}

#[test]
fn non_ascii_names_are_fine_and_keep_their_case() {
    let path = p(r"C:\MDaemon\Users\Müller\Почта\邮件\😀 mail");
    assert_eq!(comps(&path)[2..], ["Müller", "Почта", "邮件", "😀 mail"]);
    assert_eq!(path, p(r"c:\mdaemon\USERS\MÜLLER\ПОЧТА\邮件\😀 MAIL"));
}

#[test]
fn components_keep_original_case() {
    let path = p(r"c:\MDaemon\LockFiles");
    assert_eq!(path.to_string(), r"C:\MDaemon\LockFiles");
}

// ---------- parsing: every error ----------

#[test]
fn empty_input_is_an_error() {
    let e = err("");
    assert_eq!(e, WinPathError::Empty);
    assert!(e.to_string().contains("empty"));
}

#[test]
fn relative_paths_are_errors() {
    for input in [
        r"MDaemon\App",
        "MDaemon",
        ".",
        "..",
        "a/b",
        " C:\\x",
        "ab:\\x",
    ] {
        let e = err(input);
        assert_eq!(e, WinPathError::Relative(input.to_string()), "{input}");
        assert_names_path(&e, input);
    }
    assert_eq!(
        err(r"MDaemon\App").to_string(),
        r"'MDaemon\App' is a relative path; give an absolute path such as C:\MDaemon\App or \\server\share\folder"
    );
}

#[test]
fn drive_relative_paths_are_errors() {
    for input in ["C:", "c:", "C:foo", r"C:foo\bar", r"\\?\C:", r"\\?\C:x"] {
        let e = err(input);
        assert_eq!(e, WinPathError::DriveRelative(input.to_string()), "{input}");
        assert_names_path(&e, input);
        assert!(e.to_string().contains(r"C:\MDaemon\App"));
    }
}

#[test]
fn root_relative_paths_are_errors() {
    for input in [r"\MDaemon", "/MDaemon", r"\", r"\MDaemon\App\"] {
        let e = err(input);
        assert_eq!(e, WinPathError::RootRelative(input.to_string()), "{input}");
        assert_names_path(&e, input);
    }
}

#[test]
fn bad_drive_letters_are_errors() {
    for input in [r"1:\x", r"ü:\x", r":\x", r"\\?\1:\x"] {
        let e = err(input);
        assert_eq!(e, WinPathError::BadDrive(input.to_string()), "{input}");
        assert_names_path(&e, input);
    }
}

#[test]
fn incomplete_unc_paths_are_errors() {
    for input in [
        r"\\",
        r"\\server",
        r"\\server\",
        r"\\server\\share",
        r"\\\server\share",
        r"\\.",
        r"\\..\share",
        r"\\server\.\x",
        r"\\?\UNC",
        r"\\?\UNC\",
        r"\\?\UNC\server",
    ] {
        let e = err(input);
        assert_eq!(e, WinPathError::BadUnc(input.to_string()), "{input}");
        assert_names_path(&e, input);
    }
}

#[test]
fn bad_unc_server_or_share_names_are_errors() {
    let e = err(r"\\ser:ver\share");
    assert_eq!(
        e,
        WinPathError::BadName {
            path: r"\\ser:ver\share".into(),
            name: "ser:ver".into(),
            problem: NameProblem::InvalidChar(':'),
        }
    );
    assert_names_path(&e, r"\\ser:ver\share");
    let e = err(r"\\server\sha*re\x");
    assert!(matches!(
        &e,
        WinPathError::BadName { name, problem: NameProblem::InvalidChar('*'), .. } if name == "sha*re"
    ));
    let e = err(r"\\server\CON");
    assert!(matches!(
        &e,
        WinPathError::BadName { problem: NameProblem::ReservedDeviceName(d), .. } if d == "CON"
    ));
    assert_eq!(
        err(r"\\server\..\x"),
        WinPathError::ParentComponent(r"\\server\..\x".into())
    );
}

#[test]
fn device_paths_are_errors() {
    for input in [r"\\.\COM1", r"\\.\C:\x", "//./pipe/x"] {
        let e = err(input);
        assert_eq!(e, WinPathError::DevicePath(input.to_string()), "{input}");
        assert_names_path(&e, input);
    }
}

#[test]
fn other_verbatim_forms_are_errors() {
    for input in [
        r"\\?\Volume{1234}\x",
        r"\\?\",
        r"\\?\GLOBALROOT\Device\x",
        r"\\?\UNCx\s\s",
    ] {
        let e = err(input);
        assert_eq!(
            e,
            WinPathError::UnsupportedVerbatim(input.to_string()),
            "{input}"
        );
        assert_names_path(&e, input);
    }
}

#[test]
fn parent_components_are_errors_never_resolved() {
    for input in [
        r"C:\MDaemon\..\Windows",
        r"C:\..",
        "C:/a/b/../../..",
        r"\\server\share\..",
        r"\\?\C:\x\..\y",
    ] {
        let e = err(input);
        assert_eq!(
            e,
            WinPathError::ParentComponent(input.to_string()),
            "{input}"
        );
        assert_names_path(&e, input);
        assert!(e.to_string().contains("'..'"));
    }
}

#[test]
fn bad_component_names_are_errors_with_path_and_name() {
    let cases: &[(&str, &str, NameProblem)] = &[
        (r"C:\a\b:c", "b:c", NameProblem::InvalidChar(':')),
        (r"C:\a\b?", "b?", NameProblem::InvalidChar('?')),
        ("C:\\a\\b\u{7}", "b\u{7}", NameProblem::InvalidChar('\u{7}')),
        (
            r"C:\MDaemon\nul.txt",
            "nul.txt",
            NameProblem::ReservedDeviceName("NUL".into()),
        ),
        (
            r"C:\COM1.log\x",
            "COM1.log",
            NameProblem::ReservedDeviceName("COM1".into()),
        ),
        (r"C:\a\Folder.", "Folder.", NameProblem::TrailingDotOrSpace),
        (
            r"C:\a\Folder \b",
            "Folder ",
            NameProblem::TrailingDotOrSpace,
        ),
        (r"C:\...", "...", NameProblem::TrailingDotOrSpace),
    ];
    for (input, name, problem) in cases {
        let e = err(input);
        assert_eq!(
            e,
            WinPathError::BadName {
                path: input.to_string(),
                name: name.to_string(),
                problem: problem.clone(),
            },
            "{input}"
        );
        // Control characters are made visible, other paths appear verbatim.
        if !input.contains('\u{7}') {
            assert_names_path(&e, input);
            assert!(e.to_string().contains(&format!("'{name}'")));
        }
        assert!(e.to_string().contains(&problem.to_string()));
    }
    let long = "a".repeat(256);
    let input = format!(r"C:\{long}");
    assert_eq!(
        err(&input),
        WinPathError::BadName {
            path: input.clone(),
            name: long,
            problem: NameProblem::TooLong,
        }
    );
}

#[test]
fn control_characters_are_shown_escaped_in_messages() {
    let e = err("C:\\a\nb\\x\u{1b}[31m");
    let msg = e.to_string();
    assert!(!msg.chars().any(char::is_control), "{msg:?}");
    assert!(msg.contains("a<U+000A>b"), "{msg}");
    assert!(msg.contains("U+000A which Windows does not allow"), "{msg}");
}

#[test]
fn every_error_message_is_a_sentence_naming_what_to_do() {
    let errors = [
        err(""),
        err("x"),
        err("C:x"),
        err(r"\x"),
        err(r"1:\x"),
        err(r"\\s"),
        err(r"\\.\x"),
        err(r"\\?\x"),
        err(r"C:\.."),
        err(r"C:\a|b"),
        WinPathError::TooLong {
            path: "C:\\x".into(),
            len: 300,
            limit: 259,
        },
        p(r"C:\x").join(r"D:\y").unwrap_err(),
        p(r"C:\x").join("").unwrap_err(),
    ];
    for e in errors {
        let msg = e.to_string();
        assert!(msg.contains("; "), "no advice in {msg:?}");
        assert!(
            ["give", "write", "use", "choose"]
                .iter()
                .any(|w| msg.contains(w)),
            "no expectation in {msg:?}"
        );
    }
}

// ---------- check_name ----------

#[test]
fn check_name_accepts_ordinary_names() {
    for name in [
        "MDaemon",
        "LockFiles",
        "a",
        ".hidden",
        "file.txt",
        " leading space",
        "COM0",
        "LPT0",
        "COM10",
        "CONSOLE",
        "NULL",
        "auxiliary.txt",
        "xCON",
        "Müller",
        "Почта",
        "邮件",
        "😀",
        "mail$",
    ] {
        assert_eq!(check_name(name), Ok(()), "{name}");
    }
    assert_eq!(check_name(&"a".repeat(255)), Ok(()));
    // 127 surrogate pairs + 1 = 255 UTF-16 units.
    assert_eq!(check_name(&format!("{}a", "😀".repeat(127))), Ok(()));
}

#[test]
fn check_name_rejects_each_invalid_char() {
    for c in [
        '<', '>', ':', '"', '/', '\\', '|', '?', '*', '\0', '\u{1f}', '\t',
    ] {
        let name = format!("a{c}b");
        assert_eq!(check_name(&name), Err(NameProblem::InvalidChar(c)), "{c:?}");
    }
    assert_eq!(check_name("a\u{7f}b"), Ok(()), "DEL is allowed by Windows");
}

#[test]
fn check_name_rejects_reserved_device_names() {
    let cases = [
        ("CON", "CON"),
        ("con", "CON"),
        ("Prn", "PRN"),
        ("aux.h", "AUX"),
        ("nul.txt", "NUL"),
        ("NUL.tar.gz", "NUL"),
        ("nul .txt", "NUL"),
        ("COM1", "COM1"),
        ("com9.log", "COM9"),
        ("COM1.log", "COM1"),
        ("lpt1", "LPT1"),
        ("LPT9.x", "LPT9"),
        ("COM¹", "COM¹"),
        ("lpt³.txt", "LPT³"),
        ("CONIN$", "CONIN$"),
        ("conout$.x", "CONOUT$"),
        ("CON.", "CON"),
    ];
    for (name, dev) in cases {
        assert_eq!(
            check_name(name),
            Err(NameProblem::ReservedDeviceName(dev.to_string())),
            "{name}"
        );
    }
}

#[test]
fn check_name_rejects_empty_trailing_and_too_long() {
    assert_eq!(check_name(""), Err(NameProblem::Empty));
    for name in ["a.", "a ", "a. ", ".", "..", " "] {
        assert_eq!(
            check_name(name),
            Err(NameProblem::TrailingDotOrSpace),
            "{name:?}"
        );
    }
    assert_eq!(check_name(&"a".repeat(256)), Err(NameProblem::TooLong));
    // 128 surrogate pairs = 256 UTF-16 units although only 128 chars.
    assert_eq!(check_name(&"😀".repeat(128)), Err(NameProblem::TooLong));
    // 255 two-byte chars are still 255 UTF-16 units.
    assert_eq!(check_name(&"ü".repeat(255)), Ok(()));
}

#[test]
fn name_problem_messages_are_readable() {
    assert_eq!(
        NameProblem::InvalidChar(':').to_string(),
        "contains ':' which Windows does not allow in names"
    );
    assert!(NameProblem::InvalidChar('\0')
        .to_string()
        .contains("U+0000"));
    assert!(NameProblem::ReservedDeviceName("NUL".into())
        .to_string()
        .contains("NUL.txt"));
    assert!(NameProblem::TooLong.to_string().contains("255"));
    assert!(NameProblem::Empty.to_string().contains("empty"));
    assert!(NameProblem::TrailingDotOrSpace.to_string().contains("dot"));
}

// ---------- folding ----------

#[test]
fn fold_uses_simple_uppercase_and_keeps_multi_char_expansions() {
    assert_eq!(fold("MDaemon"), "MDAEMON");
    assert_eq!(fold("müller"), "MÜLLER");
    assert_eq!(fold("почта"), "ПОЧТА");
    assert_eq!(fold("straße"), "STRAßE", "ß -> SS is not one-to-one");
    assert_eq!(fold("ﬁle"), "ﬁLE", "ligature kept");
    assert!(names_collide("LockFiles", "LOCKFILES"));
    assert!(names_collide("Ärger", "äRGER"));
    assert!(!names_collide("strasse", "straße"));
    assert!(!names_collide("a", "a "));
}

#[test]
fn fold_is_idempotent_for_every_char() {
    for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
        let once = name::fold_char(c);
        assert_eq!(name::fold_char(once), once, "U+{:04X}", u32::from(c));
    }
}

// ---------- Display / to_dir_string ----------

#[test]
fn display_and_dir_string_table() {
    let cases = [
        (
            r"C:\MDaemon\LockFiles",
            r"C:\MDaemon\LockFiles",
            r"C:\MDaemon\LockFiles\",
        ),
        (
            r"c:/MDaemon/LockFiles/",
            r"C:\MDaemon\LockFiles",
            r"C:\MDaemon\LockFiles\",
        ),
        (r"C:\", r"C:\", r"C:\"),
        ("c:/", r"C:\", r"C:\"),
        (r"\\server\share", r"\\server\share", r"\\server\share\"),
        (r"\\server\share\", r"\\server\share", r"\\server\share\"),
        (
            "//Server/Share/a/b//",
            r"\\Server\Share\a\b",
            r"\\Server\Share\a\b\",
        ),
        (r"\\?\UNC\s\sh\x", r"\\s\sh\x", r"\\s\sh\x\"),
    ];
    for (input, display, dir) in cases {
        let path = p(input);
        assert_eq!(path.to_string(), display, "{input}");
        assert_eq!(path.to_dir_string(), dir, "{input}");
        // Both forms parse back to the same path with the same spelling.
        for again in [display, dir] {
            let back = p(again);
            assert_eq!(back, path, "{again}");
            assert_eq!(back.to_string(), display, "{again}");
        }
        let via_from_str: WinPath = input.parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(via_from_str.to_string(), display);
    }
}

// ---------- equality and hashing ----------

#[test]
fn equality_and_hash_are_case_insensitive() {
    let a = p(r"C:\MDaemon\LOCKFILES");
    let b = p(r"c:\mdaemon\lockfiles\");
    assert_eq!(a, b);
    assert_eq!(hash_of(&a), hash_of(&b));
    let set: HashSet<WinPath> = [a, b].into_iter().collect();
    assert_eq!(set.len(), 1);

    let u1 = p(r"\\FileServer\MDaemon\Users");
    let u2 = p(r"\\fileserver\mdaemon\users");
    assert_eq!(u1, u2);
    assert_eq!(hash_of(&u1), hash_of(&u2));
    assert_eq!(u1.prefix(), u2.prefix());
    assert_eq!(hash_of(u1.prefix()), hash_of(u2.prefix()));
}

#[test]
fn unc_and_drive_paths_are_never_equal() {
    let pairs = [
        (r"C:\MDaemon", r"\\C\MDaemon"),
        (r"C:\share\x", r"\\C\share\x"),
        (r"C:\x", r"\\localhost\C$\x"),
    ];
    for (d, u) in pairs {
        let (d, u) = (p(d), p(u));
        assert_ne!(d, u);
        assert!(!d.starts_with(&u) && !u.starts_with(&d));
        assert_eq!(d.strip_prefix(&u), None);
    }
    assert_ne!(p(r"C:\x"), p(r"D:\x"));
    assert_ne!(p(r"\\a\b\x"), p(r"\\a\c\x"));
    assert_ne!(p(r"\\a\b\x"), p(r"\\b\b\x"));
}

#[test]
fn component_boundaries_matter_for_eq_and_hash() {
    assert_ne!(p(r"C:\ab\c"), p(r"C:\a\bc"));
    assert_ne!(hash_of(&p(r"C:\ab\c")), hash_of(&p(r"C:\a\bc")));
    assert_ne!(p(r"\\ab\c\d"), p(r"\\a\bc\d"));
    assert_ne!(hash_of(&p(r"\\ab\c\d")), hash_of(&p(r"\\a\bc\d")));
}

// ---------- starts_with / strip_prefix / rebase ----------

#[test]
fn starts_with_and_strip_prefix_table() {
    let cases: &[(&str, &str, Option<&[&str]>)] = &[
        (
            r"C:\MDaemon\LOCKFILES\x",
            r"c:\mdaemon\lockfiles",
            Some(&["x"]),
        ),
        (r"C:\MDaemon\LockFiles", r"C:\MDaemon\LockFiles", Some(&[])),
        (
            r"C:\MDaemon\LockFiles",
            r"c:\",
            Some(&["MDaemon", "LockFiles"]),
        ),
        (r"C:\MDaemon2", r"C:\MDaemon", None),
        (r"C:\MDaemon2\x", r"C:\MDaemon", None),
        (r"C:\MDaemon", r"C:\MDaemon\App", None),
        (r"C:\MDaemon", r"D:\MDaemon", None),
        (
            r"\\fileserver\mdaemon\Users",
            r"\\FileServer\MDaemon",
            Some(&["Users"]),
        ),
        (r"\\FileServer\MDaemon", r"\\fileserver\mdaemon\Users", None),
        (
            r"\\FileServer\MDaemon2\Users",
            r"\\FileServer\MDaemon",
            None,
        ),
        (
            r"\\FileServer2\MDaemon\Users",
            r"\\FileServer\MDaemon",
            None,
        ),
        (
            r"\\srv\share\Müller\Post",
            r"\\SRV\SHARE\MÜLLER",
            Some(&["Post"]),
        ),
    ];
    for &(path, base, want) in cases {
        let (path_p, base_p) = (p(path), p(base));
        assert_eq!(
            path_p.starts_with(&base_p),
            want.is_some(),
            "{path} vs {base}"
        );
        let got = path_p.strip_prefix(&base_p);
        let want: Option<Vec<String>> = want.map(|w| w.iter().map(|s| s.to_string()).collect());
        assert_eq!(got, want, "{path} vs {base}");
    }
}

#[test]
fn a_path_starts_with_itself_and_its_ancestors() {
    let path = p(r"C:\MDaemon\Users\example.com\bob");
    let mut cur = Some(path.clone());
    let mut n = 0;
    while let Some(anc) = cur {
        assert!(path.starts_with(&anc), "{anc}");
        cur = anc.parent();
        n += 1;
    }
    assert_eq!(n, 5, "four components plus the root");
}

#[test]
fn rebase_table() {
    let cases: &[(&str, &str, &str, Option<&str>)] = &[
        (
            r"C:\MDaemon\USERS\example.com\Bob",
            r"c:\mdaemon\users",
            r"\\FileServer\MDaemon\Users",
            Some(r"\\FileServer\MDaemon\Users\example.com\Bob"),
        ),
        (
            r"\\fs\share\MDaemon\App",
            r"\\FS\SHARE",
            r"D:\",
            Some(r"D:\MDaemon\App"),
        ),
        (r"C:\MDaemon", r"C:\MDaemon", r"D:\Other", Some(r"D:\Other")),
        (r"C:\MDaemon2\x", r"C:\MDaemon", r"D:\Other", None),
        (r"C:\MDaemon\x", r"\\srv\C$\MDaemon", r"D:\Other", None),
    ];
    for &(path, from, to, want) in cases {
        let got = p(path).rebase(&p(from), &p(to));
        assert_eq!(
            got.as_ref().map(ToString::to_string).as_deref(),
            want,
            "{path}"
        );
    }
}

// ---------- parent / file_name ----------

#[test]
fn parent_and_file_name() {
    let path = p(r"C:\MDaemon\LockFiles");
    assert_eq!(path.file_name(), Some("LockFiles"));
    let parent = path.parent().unwrap_or_else(|| panic!("has a parent"));
    assert_eq!(parent.to_string(), r"C:\MDaemon");
    assert_eq!(p(r"C:\").parent(), None);
    assert_eq!(p(r"C:\").file_name(), None);
    assert_eq!(p(r"\\srv\share").parent(), None);
    assert_eq!(p(r"\\srv\share").file_name(), None);
    assert_eq!(
        p(r"\\srv\share\x").parent().map(|x| x.to_string()),
        Some(r"\\srv\share".to_string())
    );
}

// ---------- join / join_components ----------

#[test]
fn join_accepts_relative_paths_with_either_separator() {
    let base = p(r"C:\MDaemon");
    let cases = [
        ("App", r"C:\MDaemon\App"),
        (
            r"Users\example.com\bob",
            r"C:\MDaemon\Users\example.com\bob",
        ),
        (
            "Users/example.com//bob/",
            r"C:\MDaemon\Users\example.com\bob",
        ),
        (r".\App\.", r"C:\MDaemon\App"),
        (".", r"C:\MDaemon"),
        ("Müller", r"C:\MDaemon\Müller"),
    ];
    for (rel, want) in cases {
        let joined = base.join(rel).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert_eq!(joined.to_string(), want, "{rel}");
    }
    let unc = p(r"\\srv\share");
    assert_eq!(
        unc.join(r"a\b").map(|x| x.to_string()),
        Ok(r"\\srv\share\a\b".to_string())
    );
}

#[test]
fn join_rejects_absolute_and_other_non_relative_paths() {
    let base = p(r"C:\MDaemon");
    for rel in [
        r"D:\x",
        "C:x",
        "C:",
        r"\x",
        "/x",
        r"\\srv\share",
        r"\\?\C:\x",
        "a:b",
    ] {
        let e = base.join(rel).unwrap_err();
        assert_eq!(
            e,
            WinPathError::NotRelative {
                base: r"C:\MDaemon".into(),
                relative: rel.into()
            },
            "{rel}"
        );
        assert!(e.to_string().contains(&format!("'{rel}'")));
        assert!(e.to_string().contains(r"'C:\MDaemon'"));
    }
    let e = base.join("").unwrap_err();
    assert_eq!(
        e,
        WinPathError::EmptyRelative {
            base: r"C:\MDaemon".into()
        }
    );
    assert!(e.to_string().contains(r"'C:\MDaemon'"));
}

#[test]
fn join_rejects_parent_components_and_bad_names() {
    let base = p(r"C:\MDaemon");
    for rel in ["..", r"a\..\..\Windows", "a/.."] {
        let e = base.join(rel).unwrap_err();
        let shown = format!(r"C:\MDaemon\{rel}");
        assert_eq!(e, WinPathError::ParentComponent(shown.clone()), "{rel}");
        assert_names_path(&e, &shown);
    }
    let e = base.join(r"Users\nul").unwrap_err();
    assert_eq!(
        e,
        WinPathError::BadName {
            path: r"C:\MDaemon\Users\nul".into(),
            name: "nul".into(),
            problem: NameProblem::ReservedDeviceName("NUL".into()),
        }
    );
    assert!(matches!(
        base.join("a*b"),
        Err(WinPathError::BadName {
            problem: NameProblem::InvalidChar('*'),
            ..
        })
    ));
}

#[test]
fn join_components_takes_single_names() {
    let base = p(r"\\srv\share");
    let joined = base.join_components(["Users", "example.com", ".", "Bob"]);
    assert_eq!(
        joined.map(|x| x.to_string()),
        Ok(r"\\srv\share\Users\example.com\Bob".to_string())
    );
    let owned: Vec<String> = vec!["a".into(), "b".into()];
    assert_eq!(
        base.join_components(&owned).map(|x| x.to_string()),
        Ok(r"\\srv\share\a\b".to_string())
    );
    assert_eq!(base.join_components(Vec::<String>::new()), Ok(base.clone()));

    let e = base.join_components(["a", r"b\c"]).unwrap_err();
    assert!(matches!(
        &e,
        WinPathError::BadName { name, problem: NameProblem::InvalidChar('\\'), .. } if name == r"b\c"
    ));
    assert_names_path(&e, r"\\srv\share\a\b\c");
    let e = base.join_components(["a", ""]).unwrap_err();
    assert!(matches!(
        &e,
        WinPathError::BadName {
            problem: NameProblem::Empty,
            ..
        }
    ));
    let e = base.join_components(["a", ".."]).unwrap_err();
    assert_eq!(e, WinPathError::ParentComponent(r"\\srv\share\a\..".into()));
    assert!(matches!(
        base.join_components(["x/y"]),
        Err(WinPathError::BadName {
            problem: NameProblem::InvalidChar('/'),
            ..
        })
    ));
}

// ---------- length ----------

/// `C:\` plus one component built from `unit` chars until the path has
/// exactly `len` UTF-16 units (components split to stay under 255 each).
fn path_of_utf16_len(len: usize, unit: &str) -> WinPath {
    let unit_len = unit.encode_utf16().count();
    let mut base = p(r"C:\");
    let mut remaining = len - 3;
    while remaining > 0 {
        // Leave room for the separator when another component follows.
        let take = if remaining > 200 { 199 } else { remaining };
        let n = take / unit_len;
        let pad = take % unit_len;
        let name = format!("{}{}", unit.repeat(n), "a".repeat(pad));
        base = base
            .join_components([name])
            .unwrap_or_else(|e| panic!("{e}"));
        remaining -= take;
        // The backslash before the next component, if any.
        remaining = remaining.saturating_sub(1);
    }
    assert_eq!(base.utf16_len(), len);
    base
}

#[test]
fn check_length_boundary_ascii() {
    let ok = path_of_utf16_len(259, "a");
    assert_eq!(ok.to_string().len(), 259);
    assert_eq!(ok.check_length(0), Ok(()));
    assert!(ok.check_length(1).is_err());

    let too_long = path_of_utf16_len(260, "a");
    let e = too_long.check_length(0).unwrap_err();
    assert_eq!(
        e,
        WinPathError::TooLong {
            path: too_long.to_string(),
            len: 260,
            limit: 259
        }
    );
    let msg = e.to_string();
    assert!(msg.contains("260") && msg.contains("259"), "{msg}");
    assert_names_path(&e, &too_long.to_string());

    let short = p(r"C:\MDaemon");
    assert_eq!(short.check_length(249), Ok(()));
    assert!(matches!(
        short.check_length(250),
        Err(WinPathError::TooLong {
            len: 260,
            limit: 259,
            ..
        })
    ));
    assert!(matches!(
        short.check_length(usize::MAX),
        Err(WinPathError::TooLong {
            len: usize::MAX,
            ..
        })
    ));
}

#[test]
fn check_length_counts_surrogate_pairs_as_two() {
    let ok = path_of_utf16_len(259, "😀");
    assert!(
        ok.to_string().chars().count() < 259,
        "fewer chars than units"
    );
    assert_eq!(ok.check_length(0), Ok(()));
    let too_long = path_of_utf16_len(260, "😀");
    assert!(matches!(
        too_long.check_length(0),
        Err(WinPathError::TooLong {
            len: 260,
            limit: 259,
            ..
        })
    ));
    // BMP non-ASCII chars count one unit each although UTF-8 uses more bytes.
    let bmp = path_of_utf16_len(259, "邮");
    assert!(bmp.to_string().len() > 259);
    assert_eq!(bmp.check_length(0), Ok(()));
}

#[test]
fn utf16_len_of_unc_and_root() {
    assert_eq!(p(r"C:\").utf16_len(), 3);
    assert_eq!(p(r"\\srv\share\").utf16_len(), r"\\srv\share".len());
    assert_eq!(p(r"C:\😀").utf16_len(), 5);
}

// ---------- serde ----------

#[test]
fn serde_round_trips_as_display_string() {
    let path = p(r"c:/MDaemon/LockFiles/");
    let json = serde_json::to_string(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(json, r#""C:\\MDaemon\\LockFiles""#);
    let back: WinPath = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back.to_string(), path.to_string());

    let bad = serde_json::from_str::<WinPath>(r#""MDaemon\\App""#).unwrap_err();
    assert!(
        bad.to_string()
            .contains(&WinPathError::Relative(r"MDaemon\App".into()).to_string()),
        "{bad}"
    );
    assert!(serde_json::from_str::<WinPath>("42").is_err());
}

// ---------- property tests ----------

/// Valid component names, including non-ASCII and non-BMP characters.
fn component() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 ._$~üÄßДжя中文😀𐐨-]{1,24}"
        .prop_filter("valid Windows name", |s| check_name(s).is_ok())
}

fn prefix() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z]".prop_map(|c| format!("{c}:")),
        ("[a-zA-Z0-9][a-zA-Z0-9.-]{0,14}", component())
            .prop_map(|(server, share)| format!(r"\\{server}\{share}")),
    ]
}

/// Flips the case of ASCII letters only, which every folding agrees on.
fn flip_ascii_case(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_lowercase() {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

proptest! {
    #[test]
    fn display_parse_round_trip_is_exact_and_stable(
        pre in prefix(),
        names in prop::collection::vec(component(), 0..8),
        use_slash in any::<bool>(),
        trailing in any::<bool>(),
    ) {
        let sep = if use_slash { "/" } else { "\\" };
        let mut input = format!("{pre}{sep}{}", names.join(sep));
        if trailing {
            input.push_str(sep);
        }
        let path = WinPath::parse(&input).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(path.components(), &names[..]);
        let shown = path.to_string();
        let again = WinPath::parse(&shown).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&again, &path);
        prop_assert_eq!(again.components(), path.components());
        prop_assert_eq!(again.to_string(), shown.clone());
        let from_dir = WinPath::parse(&path.to_dir_string())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(from_dir.to_string(), shown.clone());
        prop_assert_eq!(path.utf16_len(), shown.encode_utf16().count());
    }

    #[test]
    fn case_flipped_paths_are_equal_with_equal_hash(
        pre in prefix(),
        names in prop::collection::vec(component(), 0..6),
    ) {
        let input = format!("{pre}\\{}", names.join("\\"));
        let a = WinPath::parse(&input).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let b = WinPath::parse(&flip_ascii_case(&input))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(hash_of(&a), hash_of(&b));
        prop_assert!(a.starts_with(&b) && b.starts_with(&a));
    }

    #[test]
    fn join_then_strip_prefix_gives_back_components(
        pre in prefix(),
        base_names in prop::collection::vec(component(), 0..4),
        names in prop::collection::vec(component(), 1..6),
    ) {
        let base = WinPath::parse(&format!("{pre}\\{}", base_names.join("\\")))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let joined = base.join(&names.join("\\"))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(joined.starts_with(&base));
        prop_assert_eq!(joined.strip_prefix(&base), Some(names.clone()));
        let joined2 = base.join_components(&names)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(joined2.components(), joined.components());
        // The base does not start with anything deeper than itself.
        prop_assert!(!base.starts_with(&joined));
        let parent = joined.parent().ok_or_else(|| TestCaseError::fail("no parent"))?;
        prop_assert!(joined.starts_with(&parent));
        prop_assert_eq!(joined.file_name(), names.last().map(String::as_str));
    }

    #[test]
    fn fold_is_idempotent(s in any::<String>()) {
        let once = fold(&s);
        prop_assert_eq!(fold(&once), once.clone());
        prop_assert!(names_collide(&s, &once));
    }

    #[test]
    fn parse_never_panics_and_accepted_paths_are_valid(s in "[a-zA-Z:\\\\/.?* ]{0,16}|\\PC{0,24}") {
        if let Ok(path) = WinPath::parse(&s) {
            for c in path.components() {
                prop_assert!(check_name(c).is_ok(), "{:?} from {:?}", c, s);
            }
            let again = WinPath::parse(&path.to_string())
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(again, path);
        }
    }
}
