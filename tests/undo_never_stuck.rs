//! Undo is never stuck (issue 12, item 7): whatever stops a run part-way, a
//! rerun finishes it or `undo` brings the installation back byte for byte.
//!
//! A fault is injected at every action of a run in turn (every
//! `MDCLUSTER_TEST_CRASH_STRIDE`th where that is set)
//! (`MDCLUSTER_FAIL_AT_ACTION=N`: the Nth action fails before it does
//! anything; `N:after`: it fails once done, before that is journaled), on
//! several layouts: the plain sandbox (folders renamed), a share on another
//! file system (copied and verified), a mail store that MDaemon.ini places
//! elsewhere, accounts sharing and nesting their mail folders, and the
//! cleanup of a kept source. After each fault the run exits 4; then, in
//! turn, a rerun gives the result of an uninterrupted run, or `undo` gives
//! the original tree; never a temporary file left behind.

mod common;
use common::*;
use std::path::Path;

fn opts(seed: u64) -> mdcluster::sandbox::Options {
    mdcluster::sandbox::Options {
        accounts: 6,
        messages: 80,
        seed,
        message_size: None,
    }
}

/// The store below `Mail\Users`, as MDaemon.ini, its New Accounts template
/// and every account say.
fn store_elsewhere(lab: &Lab) {
    std::fs::create_dir_all(lab.install.join("Mail")).unwrap();
    std::fs::rename(lab.install.join("Users"), lab.install.join("Mail/Users")).unwrap();
    lab.edit_ini(
        b"Users=C:\\MDaemon\\Users\\",
        b"Users=C:\\MDaemon\\Mail\\Users\\",
    );
    lab.edit_ini(
        b"MailDir=C:\\MDaemon\\Users\\",
        b"MailDir=C:\\MDaemon\\Mail\\Users\\",
    );
    for line in 0..6 {
        let old = mail_dir(lab, line);
        if let Some(rest) = old.strip_prefix(r"C:\MDaemon\Users\") {
            set_mail_dir(lab, line, &format!(r"C:\MDaemon\Mail\Users\{rest}"));
        }
    }
}

/// Two more accounts: one shares the mail folder of the account outside the
/// Users tree (the last line), one lives in a folder inside it.
fn shared_and_nested(lab: &Lab) {
    let path = lab.install.join("App/Userlist.dat");
    let bytes = std::fs::read(&path).unwrap();
    let last = bytes
        .split(|&b| b == b'\n')
        .rfind(|l| l.len() >= 195)
        .unwrap()
        .to_vec();
    let outside = String::from_utf8_lossy(&last[105..195])
        .trim_end()
        .to_string();
    assert!(outside.contains("MailExtra"), "{outside}");
    let nested = format!("{outside}Sub\\");
    let local = lab
        .install
        .join(nested.trim_start_matches(r"C:\MDaemon\").replace('\\', "/"));
    std::fs::create_dir_all(&local).unwrap();
    std::fs::write(
        local.join("md50000000001.msg"),
        b"Subject: nested\r\n\r\nhi\r\n",
    )
    .unwrap();
    let mut out = bytes.clone();
    if !out.ends_with(b"\n") {
        out.extend_from_slice(b"\r\n");
    }
    for (mailbox, dir) in [("alias.box", &outside), ("nested.box", &nested)] {
        let mut line = last.clone();
        if line.ends_with(b"\r") {
            line.pop();
        }
        let mut field = mailbox.as_bytes().to_vec();
        field.resize(30, b' ');
        line.splice(45..75, field);
        let mut field = dir.as_bytes().to_vec();
        field.resize(90, b' ');
        line.splice(105..195, field);
        out.extend_from_slice(&line);
        out.extend_from_slice(b"\r\n");
    }
    std::fs::write(&path, out).unwrap();
}

/// Inject a fault at every action of `args` on copies of `template`, in
/// both modes, and recover each time (rerun or undo, alternately).
fn fault_at_every_action(
    template: &Lab,
    setup: &[&[&str]],
    args: &[&str],
    env: &[(&str, &str)],
    what: &str,
) {
    let original = template.hash();
    let reference = {
        let lab = template.copy();
        for s in setup {
            assert!(run(&lab, s, env).status.success(), "{what}: setup {s:?}");
        }
        let out = run(&lab, args, env);
        assert!(
            out.status.success(),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        (outcome_map(&lab.install, true), tree_map(&lab.share, false))
    };
    let mut faults = 0;
    for mode in ["", ":after"] {
        let mut last_fault = 0;
        for n in crash_points() {
            let at = format!("{n}{mode}");
            let case = format!("{what}: fault at action {at}");
            let lab = template.copy();
            for s in setup {
                assert!(run(&lab, s, env).status.success(), "{case}: setup");
            }
            let mut fault = env.to_vec();
            fault.push(("MDCLUSTER_FAIL_AT_ACTION", &at));
            let out = run(&lab, args, &fault);
            if out.status.success() {
                assert!(
                    crashed_through(last_fault, 4),
                    "{case}: too few actions, the last fault at {last_fault}"
                );
                break; // past the last action
            }
            faults += 1;
            last_fault = n;
            assert_eq!(
                out.status.code(),
                Some(4),
                "{case}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let undo = n % 2 == 0;
            let out = if undo {
                run(&lab, &["undo", "--yes"], env)
            } else {
                run(&lab, args, env)
            };
            assert!(
                out.status.success(),
                "{case}, then {}: {}",
                if undo { "undo" } else { "rerun" },
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(lab_leftovers(&lab), Vec::<String>::new(), "{case}");
            if undo {
                assert_eq!(lab.hash(), original, "{case}: undo gives the original");
            } else {
                assert_eq!(outcome_map(&lab.install, true), reference.0, "{case}");
                assert_eq!(tree_map(&lab.share, false), reference.1, "{case}");
            }
        }
    }
    assert!(faults >= 2, "{what}: only {faults} faults");
}

#[test]
fn a_fault_at_any_action_of_a_plain_run() {
    let lab = Lab::in_shm(opts(21));
    fault_at_every_action(&lab, &[], &["apply", "--yes"], &[], "plain");
}

#[test]
fn a_fault_at_any_action_of_a_copy_to_another_file_system() {
    let share = tempfile::Builder::new()
        .prefix("mdcluster-share-")
        .tempdir()
        .unwrap();
    let lab = Lab::in_shm_with_share(opts(22), share);
    // Windows has no second volume here: the copy is forced.
    let env: &[(&str, &str)] = if cfg!(windows) {
        &[("MDCLUSTER_NO_RENAME", "1")]
    } else {
        &[]
    };
    fault_at_every_action(&lab, &[], &["apply", "--yes"], env, "another file system");
}

#[test]
fn a_fault_at_any_action_with_the_store_elsewhere() {
    let lab = Lab::in_shm(opts(23));
    store_elsewhere(&lab);
    fault_at_every_action(&lab, &[], &["apply", "--yes"], &[], "store elsewhere");
}

#[test]
fn a_fault_at_any_action_with_shared_and_nested_account_folders() {
    let lab = Lab::in_shm(opts(24));
    shared_and_nested(&lab);
    fault_at_every_action(&lab, &[], &["apply", "--yes"], &[], "shared and nested");
}

#[test]
fn a_fault_at_any_action_of_a_cleanup() {
    let lab = Lab::in_shm(opts(25));
    fault_at_every_action(
        &lab,
        &[&["apply", "--yes", "--keep-source"]],
        &["cleanup", "--yes", "--mdaemon-restarted"],
        &[],
        "cleanup",
    );
}

/// A run refused late: MDaemon.ini changed by someone between the moves and
/// its rewrite. The rewrite refuses (stale); undo brings the mail back and
/// leaves MDaemon.ini as that someone left it.
#[test]
fn a_run_refused_late_is_undone() {
    let template = Lab::in_shm(opts(26));
    let lab = template.copy();
    // Killed once the rewrite of MDaemon.ini is journaled (the mail has
    // moved); the file changes then. Which record that is, an uninterrupted
    // run's journal says (one record per line, the same on every run).
    const DIRECTORIES_BEGIN: &str = r#""record":"step-begin","step":"directories""#;
    let n = {
        let full = template.copy();
        assert!(run(&full, &["apply", "--yes"], &[]).status.success());
        let journal =
            std::fs::read_to_string(full.install.join("mdcluster/journal.jsonl")).unwrap();
        1 + journal
            .lines()
            .position(|l| l.contains(DIRECTORIES_BEGIN))
            .expect("the directories step in the journal")
    };
    let out = run(
        &lab,
        &["apply", "--yes"],
        &[("MDCLUSTER_CRASH_AFTER_RECORD", &n.to_string())],
    );
    assert!(!out.status.success());
    let journal = std::fs::read_to_string(lab.install.join("mdcluster/journal.jsonl")).unwrap();
    assert!(
        journal
            .trim_end()
            .lines()
            .last()
            .unwrap()
            .contains(DIRECTORIES_BEGIN),
        "killed right after the directories step began:\n{journal}"
    );
    lab.edit_ini(b"MAXTHREADS=20", b"MAXTHREADS=40");
    let changed_ini = lab.ini_bytes();
    let out = run(&lab, &["apply", "--yes"], &[]);
    assert!(!out.status.success(), "the stale rewrite must be refused");
    let out = run(&lab, &["undo", "--yes"], &[]);
    assert!(
        out.status.success(),
        "undo: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(lab.ini_bytes(), changed_ini, "MDaemon.ini as they left it");
    // Everything else as it was.
    let mut now = tree_map(&lab.install, true);
    let mut before = tree_map(&template.install, true);
    now.remove("App/MDaemon.ini");
    before.remove("App/MDaemon.ini");
    assert_eq!(now, before);
    assert_eq!(
        tree_map(&lab.share, false),
        tree_map(&template.share, false)
    );
    assert_eq!(lab_leftovers(&lab), Vec::<String>::new());
    assert!(Path::new(&lab.install.join("Users")).is_dir());
}
