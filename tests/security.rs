//! Security review (docs/security.md): the state folder and the secrets
//! mdcluster writes are owner-only where the platform allows (Unix mode bits
//! here; Windows keeps the folder's inherited ACL, not tested).

mod common;
use common::*;

#[cfg(unix)]
fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
}

/// After an apply: the state folder is 0700 (nothing in it reachable by
/// another account), the journal and the backups of MDaemon.ini and
/// Userlist.dat are 0600.
#[test]
#[cfg(unix)]
fn the_state_folder_and_backups_are_owner_only_after_an_apply() {
    let lab = Lab::new();
    lab.apply().arg("--yes").assert().success();
    let state = lab.install.join("mdcluster");
    assert_eq!(mode(&state), 0o700, "state folder");
    assert_eq!(mode(&state.join("journal.jsonl")), 0o600, "journal");
    let mut backups = 0;
    for e in walkdir::WalkDir::new(state.join("backups")) {
        let e = e.unwrap();
        if e.file_type().is_file() {
            assert_eq!(mode(e.path()), 0o600, "{}", e.path().display());
            backups += 1;
        }
    }
    assert!(backups >= 2, "MDaemon.ini and Userlist.dat backed up");
}

/// `mdcluster code`: the state folder 0700, the join code file 0600, and the
/// code printed is the one stored (so it is the secret the file protects).
#[test]
#[cfg(unix)]
fn the_join_code_file_is_owner_only() {
    let lab = Lab::new();
    let out = mdcluster()
        .args(["code", "--root"])
        .arg(&lab.install)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let shown = String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .replace('-', "");
    let state = lab.install.join("mdcluster");
    assert_eq!(mode(&state), 0o700, "state folder");
    let file = state.join("join-code.json");
    assert_eq!(mode(&file), 0o600, "join code file");
    let stored = std::fs::read_to_string(&file).unwrap();
    assert!(stored.contains(&shown), "{stored} / {shown}");
}

/// A node's licence key crosses the network only as its fingerprint: the
/// facts read from a real installation, signed and turned into TXT records,
/// hold the fingerprint and never the key.
#[test]
fn the_licence_key_is_announced_only_as_a_fingerprint() {
    use mdcluster::cluster::{facts, pairing};
    let lab = Lab::new();
    let profile = mdcluster::profile::Profile::builtin();
    let ini = String::from_utf8_lossy(&lab.ini_bytes()).into_owned();
    let key = ini
        .lines()
        .skip_while(|l| !l.eq_ignore_ascii_case("[Registration]"))
        .find_map(|l| l.strip_prefix("Key="))
        .expect("the sandbox has a licence key")
        .trim()
        .to_string();
    assert!(key.len() >= 8, "{key}");
    let f = facts::collect(
        &lab.install,
        &profile,
        "MAIL2",
        vec![],
        None,
        &facts::CertificateStore::of(&lab.install),
    );
    assert_eq!(
        f.licence.as_deref(),
        Some(&*facts::licence_fingerprint(&key))
    );
    let code = pairing::JoinCode::generate();
    let a = pairing::Announcement::sign(f, facts::now_ms(), &code);
    for (k, v) in a.to_txt() {
        assert!(!v.contains(&key), "{k}={v} carries the licence key");
    }
    // Nor does an apply's journal or output.
    let out = lab.apply().args(["--yes", "--json"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&key));
    assert!(!String::from_utf8_lossy(&out.stderr).contains(&key));
    let journal = std::fs::read_to_string(lab.install.join("mdcluster/journal.jsonl")).unwrap();
    assert!(!journal.contains(&key), "the journal holds the licence key");
}

/// `unsafe` is forbidden in the library and the binary (a compile error,
/// checked here so that removing the attribute fails a test).
#[test]
fn unsafe_code_is_forbidden_in_both_crate_roots() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for file in ["src/lib.rs", "src/main.rs"] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        assert!(
            text.lines().any(|l| l.trim() == "#![forbid(unsafe_code)]"),
            "{file} lacks #![forbid(unsafe_code)]"
        );
    }
}

/// No character the sanitizer escapes (C0, DEL, C1, bidi overrides and
/// marks), raw, in text that was printed.
#[cfg(unix)]
fn assert_no_raw_controls(what: &str, text: &str) {
    let raw: Vec<char> = text
        .chars()
        .filter(|c| *c != '\n' && mdcluster::text::needs_escape(*c))
        .collect();
    assert!(raw.is_empty(), "{what} carries raw {raw:?}:\n{text}");
}

/// The same for JSON lines: every string, decoded, is free of them (a
/// `\u001b` escape decodes to a raw ESC, so the text alone would not show it).
#[cfg(unix)]
fn assert_json_clean(what: &str, stdout: &[u8]) -> Vec<serde_json::Value> {
    fn walk(what: &str, v: &serde_json::Value) {
        match v {
            serde_json::Value::String(s) => assert_no_raw_controls(what, s),
            serde_json::Value::Array(a) => a.iter().for_each(|v| walk(what, v)),
            serde_json::Value::Object(m) => m.iter().for_each(|(k, v)| {
                assert_no_raw_controls(what, k);
                walk(what, v)
            }),
            _ => {}
        }
    }
    assert_no_raw_controls(what, &String::from_utf8_lossy(stdout));
    let events = json_lines(stdout);
    events.iter().for_each(|e| walk(what, e));
    events
}

#[cfg(unix)]
fn few_accounts() -> Lab {
    Lab::with(
        mdcluster::sandbox::Options {
            accounts: 2,
            messages: 6,
            seed: 12,
            message_size: None,
        },
        None,
    )
}

/// Issue 12's reproduction: a cluster log named
/// `MDaemon-<date>-Cluster<ESC>]0;T<BEL><ESC>[2J.log` (a title change and a
/// screen clear in its name), with C1 and bidi controls in its lines. `verify`
/// shows its name escaped in the closing `Log:` line and everywhere else, in
/// text and in `--json`.
#[test]
#[cfg(unix)]
fn a_cluster_log_named_with_escape_sequences_is_shown_escaped_by_verify() {
    use mdcluster::cluster::manifest::Manifest;
    use mdcluster::plan::Plan;
    let lab = few_accounts();
    let mut text = std::fs::read_to_string(&lab.plan).unwrap();
    text.push_str(
        "\n[[nodes]]\nname = \"MAIL2\"\naddress = \"127.0.0.12\"\nrole = \"secondary\"\n",
    );
    std::fs::write(&lab.plan, text).unwrap();
    let plan = Plan::load(&lab.plan, &mdcluster::profile::Profile::builtin()).unwrap();
    let mut m = Manifest::default()
        .with_plan(&plan, "2026-01-01T00:00:00Z")
        .unwrap();
    for n in m.nodes.iter_mut() {
        n.registered = Some("2026-01-01T00:00:00Z".into());
    }
    m.save(&lab.share).unwrap();
    let logs = lab.install.join("Logs");
    std::fs::create_dir_all(&logs).unwrap();
    let name = "MDaemon-2026-11-22-Cluster\u{1b}]0;T\u{7}\u{1b}[2J.log";
    let line = |t: &str| format!("Sun 2026-11-22 10:15:02.117: 17: {t}\r\n");
    let mut content = line("Cluster service: connected to MAIL2 (server ID 2)");
    content.push_str(&line("Cluster service: \u{9b}2J\u{202e}gol.exe \u{7f}"));
    std::fs::write(logs.join(name), content).unwrap();

    let out = mdcluster()
        .args(["verify", "--timeout", "0", "--lines", "--plan"])
        .arg(&lab.plan)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(5), "{text}");
    assert_no_raw_controls("verify's text", &text);
    assert_no_raw_controls("verify's errors", &String::from_utf8_lossy(&out.stderr));
    let closing = text
        .lines()
        .find(|l| l.starts_with("Log: "))
        .unwrap_or_else(|| panic!("no Log: line in {text}"));
    assert!(
        closing.contains("Cluster\\x1b]0;T\\x07\\x1b[2J.log"),
        "{closing}"
    );
    assert!(
        text.contains("\\x9b2J\\u{202e}gol.exe \\x7f"),
        "the log line, escaped: {text}"
    );

    let out = mdcluster()
        .args(["verify", "--timeout", "0", "--lines", "--json", "--plan"])
        .arg(&lab.plan)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    let events = assert_json_clean("verify --json", &out.stdout);
    let last = events.last().unwrap();
    assert_eq!(last["event"], "verify-result", "{last}");
    assert!(
        last["log"]
            .as_str()
            .is_some_and(|l| l.ends_with("Cluster\\x1b]0;T\\x07\\x1b[2J.log")),
        "{last}"
    );
    assert!(
        events.iter().any(|e| e["event"] == "log-line"
            && e["line"]
                .to_string()
                .contains("\\\\x9b2J\\\\u{202e}gol.exe")),
        "{events:#?}"
    );
}

/// File names with control characters in what `apply` and `cleanup` print
/// at the end: a link that is skipped (never followed) is named in a note,
/// a file kept by `cleanup` in the closing summary; escaped in text and in
/// the JSON events.
#[test]
#[cfg(unix)]
fn file_names_with_controls_are_escaped_in_closing_summaries_and_json_events() {
    let lab = few_accounts();
    let mailbox = std::fs::read_dir(lab.install.join("Users/example.org"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    // C1 and bidi controls are allowed in Windows names; a link is skipped.
    std::os::unix::fs::symlink("/nonexistent", mailbox.join("link\u{9b}2J\u{202e}kl")).unwrap();
    let out = lab
        .apply()
        .args(["--yes", "--keep-source", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let events = assert_json_clean("apply --json", &out.stdout);
    assert!(
        events.iter().any(|e| e["event"] == "note"
            && e["text"]
                .as_str()
                .is_some_and(|t| t.contains("link\\x9b2J\\u{202e}kl"))),
        "the skipped link is named, escaped: {events:#?}"
    );

    // Mail that reached the old store after the copy, under a hostile name:
    // kept by cleanup, and named in its closing summary.
    let late = mailbox.join("md5\u{9b}31m\u{202e}gsm.msg");
    std::fs::write(&late, b"late mail").unwrap();
    let out = mdcluster()
        .args(["cleanup", "--yes", "--plan"])
        .arg(&lab.plan)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_no_raw_controls("cleanup's text", &text);
    assert_no_raw_controls("cleanup's errors", &String::from_utf8_lossy(&out.stderr));
    assert!(
        text.lines()
            .any(|l| l.starts_with("Kept") && l.contains("md5\\x9b31m\\u{202e}gsm.msg")),
        "{text}"
    );
    assert!(late.exists());

    // Undo, in text: the note about the link on the way back is escaped too.
    let out = mdcluster()
        .args(["undo", "--yes", "--plan"])
        .arg(&lab.plan)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_no_raw_controls("undo's text", &String::from_utf8_lossy(&out.stdout));
    assert_no_raw_controls("undo's errors", &String::from_utf8_lossy(&out.stderr));
}
