//! `apply`, `status` and `undo` end to end on sandboxes, through the real binary.

mod common;
use common::*;
use predicates::prelude::*;

#[test]
fn dry_run_changes_nothing_and_shows_every_change() {
    let lab = Lab::new();
    let before = lab.hash();
    let out = lab
        .apply()
        .arg("--dry-run")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains(r"-LockFiles=C:\MDaemon\LockFiles\"), "{text}");
    assert!(
        text.contains(r"+LockFiles=\\fileserver\mdaemon\Users\LockFiles\"),
        "{text}"
    );
    assert!(text.contains(r"+PEM=\\fileserver\mdaemon\PEM\"), "{text}");
    assert!(text.contains("move C:\\MDaemon\\LockFiles\\"), "{text}");
    assert!(text.contains("3 files"), "{text}");
    assert!(text.contains("copy C:\\MDaemon\\Pem\\"), "{text}");
    assert!(text.contains("no secondary is registered yet"), "{text}");
    assert_eq!(lab.hash(), before);
    assert!(
        !lab.install.join("mdcluster").exists(),
        "a dry run writes no journal"
    );
}

#[test]
fn apply_then_undo_restores_the_tree_exactly() {
    let lab = Lab::new();
    let before = lab.hash();
    lab.apply()
        .arg("--yes")
        .assert()
        .success()
        .stdout(predicate::str::contains("Applied: 4 step(s) changed"));
    let after = lab.hash();
    let after_map = outcome_map(&lab.install, true);
    assert_ne!(after, before);
    // what changed: LockFiles moved, PEM copied, INI rewritten
    assert!(!lab.install.join("LockFiles").exists());
    assert!(
        lab.share
            .join("Users/LockFiles")
            .read_dir()
            .unwrap()
            .count()
            == 3
    );
    assert!(lab.install.join("Pem/MDaemon/rsa.private").exists());
    assert_eq!(
        std::fs::read(lab.install.join("Pem/MDaemon/rsa.private")).unwrap(),
        std::fs::read(lab.share.join("PEM/MDaemon/rsa.private")).unwrap()
    );
    let ini = String::from_utf8_lossy(&lab.ini_bytes()).into_owned();
    assert!(ini.contains("LockFiles=\\\\fileserver\\mdaemon\\Users\\LockFiles\\\r\n"));
    assert!(
        ini.contains("DKIMKeys=\\\\fileserver\\mdaemon\\PEM\\\r\n"),
        "values inside a moved folder follow it"
    );

    lab.undo();
    assert_eq!(
        lab.hash(),
        before,
        "undo restores every byte, time and mode"
    );
    // The journal is archived; a new apply starts fresh.
    assert!(!lab.install.join("mdcluster/journal.jsonl").exists());
    lab.apply().arg("--yes").assert().success();
    assert_eq!(outcome_map(&lab.install, true), after_map);
}

#[test]
fn apply_twice_equals_apply_once_and_says_so() {
    let lab = Lab::new();
    lab.apply().arg("--yes").assert().success();
    let once = lab.hash();
    let journal = std::fs::read(lab.install.join("mdcluster/journal.jsonl")).unwrap();
    lab.apply()
        .arg("--yes")
        .assert()
        .success()
        .stdout(predicate::str::contains("Nothing to do"));
    assert_eq!(lab.hash(), once);
    assert_eq!(
        std::fs::read(lab.install.join("mdcluster/journal.jsonl")).unwrap(),
        journal,
        "no new records"
    );
}

#[test]
fn without_a_journal_a_finished_installation_is_recognised() {
    let lab = Lab::new();
    lab.apply().arg("--yes").assert().success();
    std::fs::remove_dir_all(lab.install.join("mdcluster")).unwrap();
    let once = lab.hash();
    lab.apply()
        .arg("--yes")
        .assert()
        .success()
        .stdout(predicate::str::contains("Nothing to do"));
    assert_eq!(lab.hash(), once);
}

#[test]
fn only_changed_values_change_in_mdaemon_ini() {
    let lab = Lab::new();
    let before = lab.ini_bytes();
    lab.apply().arg("--yes").assert().success();
    let after = lab.ini_bytes();
    let split = |b: &[u8]| {
        b.split(|c| *c == b'\n')
            .map(|l| l.to_vec())
            .collect::<Vec<_>>()
    };
    let (a, b) = (split(&before), split(&after));
    assert_eq!(a.len(), b.len());
    let changed: Vec<String> = a
        .iter()
        .zip(&b)
        .filter(|(x, y)| x != y)
        .map(|(x, _)| String::from_utf8_lossy(x).into_owned())
        .collect();
    assert_eq!(changed.len(), 9, "{changed:?}");
    let keys = [
        "LockFiles=",
        "PEM=",
        "DKIMKeys=",
        "Users=",
        "PublicFolders=",
        "Gateways=",
        "Digests=",
        "Archive=",
        "MailDir=",
    ];
    assert!(
        changed
            .iter()
            .all(|l| keys.iter().any(|k| l.starts_with(k))),
        "{changed:?}"
    );
    // Windows-1252 bytes in a comment and a value survive untouched.
    assert!(after.windows(3).any(|w| w == b"J\xf6r"));
    assert!(after.windows(3).any(|w| w == b"M\xfcl"));
    // A timestamped backup of the original exists.
    let backups = lab.install.join("mdcluster/backups");
    let run = std::fs::read_dir(&backups)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let backup = std::fs::read_dir(&run)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert_eq!(std::fs::read(backup).unwrap(), before);
}

#[test]
fn restart_drops_the_semaphore() {
    let lab = Lab::new();
    lab.apply().args(["--yes", "--restart"]).assert().success();
    assert!(lab.install.join("App/RESTART.SEM").exists());
}

#[test]
fn json_events_for_scripts() {
    let lab = Lab::new();
    let out = lab
        .apply()
        .args(["--yes", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let events = json_lines(&out);
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "step-preview").count(), 11);
    for id in [
        "shared-path",
        "lockfiles",
        "pem",
        "mail-store",
        "directories",
    ] {
        assert!(
            events
                .iter()
                .any(|e| e["event"] == "step-started" && e["step"] == id),
            "no step-started for {id}"
        );
        assert!(events
            .iter()
            .any(|e| e["event"] == "step-done" && e["step"] == id));
    }
    assert!(events
        .iter()
        .any(|e| e["event"] == "step-done" && e["step"] == "mail-store"));
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "step-waiting" && e["step"] == "certificates"),
        "no secondary in the plan yet"
    );
    assert!(events
        .iter()
        .any(|e| e["event"] == "step-waiting" && e["step"] == "cluster-log"));
    let last = events.last().unwrap();
    assert_eq!(last["event"], "finished");
    assert_eq!(last["exit"], 0);
    // Without --yes, --json refuses rather than prompting.
    let lab2 = Lab::new();
    let before = lab2.hash();
    let out = lab2
        .apply()
        .arg("--json")
        .assert()
        .code(2)
        .get_output()
        .stdout
        .clone();
    assert_eq!(json_lines(&out).last().unwrap()["event"], "error");
    assert_eq!(lab2.hash(), before);
}

#[test]
fn no_terminal_and_no_yes_changes_nothing() {
    let lab = Lab::new();
    let before = lab.hash();
    lab.apply()
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--yes"));
    assert_eq!(lab.hash(), before);
}

#[test]
fn status_reports_each_step() {
    let lab = Lab::new();
    let status = |lab: &Lab| {
        let out = mdcluster()
            .args(["status", "--json", "--plan"])
            .arg(&lab.plan)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        json_lines(&out)
            .into_iter()
            .map(|e| {
                (
                    e["step"].as_str().unwrap().to_string(),
                    e["state"].as_str().unwrap().to_string(),
                )
            })
            .collect::<Vec<_>>()
    };
    let s = status(&lab);
    assert_eq!(s.len(), 11);
    assert_eq!(s[1], ("lockfiles".to_string(), "pending".to_string()));
    assert_eq!(s[3], ("mail-store".to_string(), "pending".to_string()));
    assert_eq!(
        s[5].1, "waiting",
        "certificates: no secondary in the plan yet"
    );
    assert_eq!(
        s[9].1, "waiting",
        "cluster-log: no secondary registered yet"
    );
    lab.apply().arg("--yes").assert().success();
    let s = status(&lab);
    assert!(s[..5].iter().all(|(_, st)| st == "done"), "{s:?}");
}

#[test]
fn moves_across_file_systems_copy_verify_and_undo_exactly() {
    let lab = Lab::cross_fs();
    let before = lab.hash();
    let out = lab
        .apply()
        .args(["--yes"])
        .assert()
        .success()
        .get_output()
        .stderr
        .clone();
    assert!(String::from_utf8_lossy(&out).contains("copy, verify, then delete the source"));
    assert!(!lab.install.join("LockFiles").exists());
    assert_eq!(
        lab.share
            .join("Users/LockFiles")
            .read_dir()
            .unwrap()
            .count(),
        3
    );
    lab.undo();
    assert_eq!(lab.hash(), before);
}

/// A sandbox small enough to run many times.
fn small_lab() -> Lab {
    Lab::with(
        mdcluster::sandbox::Options {
            accounts: 5,
            messages: 40,
            seed: 9,
            message_size: None,
        },
        None,
    )
}

/// Simulate a crash after every journal record in turn (see
/// `crash_points`); each time a rerun finishes the job and the result equals
/// an uninterrupted run. Also: undo after a crash restores the original tree.
#[test]
fn a_crash_at_any_journal_record_is_finished_by_a_rerun() {
    for copy_path in [false, true] {
        let reference = {
            let lab = small_lab();
            let mut c = lab.apply();
            if copy_path {
                c.env("MDCLUSTER_NO_RENAME", "1");
            }
            c.arg("--yes").assert().success();
            (outcome_map(&lab.install, true), tree_map(&lab.share, false))
        };
        let mut last_crash = 0;
        for n in crash_points() {
            let lab = small_lab();
            let original = lab.hash();
            let mut c = lab.apply();
            c.args(["--yes", "--json"])
                .env("MDCLUSTER_CRASH_AFTER_RECORD", n.to_string());
            if copy_path {
                c.env("MDCLUSTER_NO_RENAME", "1");
            }
            let status = c.output().unwrap().status;
            if status.success() {
                break; // past the last record: the run completed
            }
            last_crash = n;
            if n % 2 == 0 {
                // finish by rerunning
                let mut c = lab.apply();
                if copy_path {
                    c.env("MDCLUSTER_NO_RENAME", "1");
                }
                c.arg("--yes").assert().success();
                assert_eq!(
                    outcome_map(&lab.install, true),
                    reference.0,
                    "crash after record {n}"
                );
                assert_eq!(
                    tree_map(&lab.share, false),
                    reference.1,
                    "crash after record {n}"
                );
            } else {
                // or undo what was started
                let mut c = mdcluster();
                if copy_path {
                    c.env("MDCLUSTER_NO_RENAME", "1");
                }
                c.args(["undo", "--yes", "--plan"])
                    .arg(&lab.plan)
                    .assert()
                    .success();
                assert_eq!(lab.hash(), original, "undo after crash at record {n}");
            }
        }
        assert!(
            crashed_through(last_crash, 10),
            "expected a crash point per journal record, the last at {last_crash}"
        );
    }
}

/// Ctrl-C during `apply`: it stops at once, says what that leaves and what
/// to run next, exits 130; the rerun finishes the job.
#[cfg(unix)]
#[test]
fn an_interrupted_apply_says_what_to_run_next_and_a_rerun_finishes() {
    let lab = Lab::new();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_mdcluster"))
        .args(["apply", "--yes", "--plan"])
        .arg(&lab.plan)
        .env("MDCLUSTER_TEST_ACTION_DELAY_MS", "300")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Under way: its journal is there.
    let journal = lab.install.join("mdcluster/journal.jsonl");
    let start = std::time::Instant::now();
    while !journal.exists() && start.elapsed() < std::time::Duration::from_secs(60) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(journal.exists(), "apply never began");
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    assert!(err.contains("mdcluster apply --plan"), "{err}");
    assert!(err.contains("mdcluster undo --plan"), "{err}");

    lab.apply().arg("--yes").assert().success();
    let expected = expected_on_share(&lab);
    assert!(lost_messages(&lab, &expected).is_empty());
}
