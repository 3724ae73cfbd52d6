//! Kill anywhere, lose nothing (issue 8, item 1).
//!
//! A real `mdcluster apply --yes` on a sandbox of a few thousand messages
//! whose share is on another file system (the store is copied, verified and
//! deleted, not renamed; PEM, LockFiles, MDaemon.ini and Userlist.dat are
//! rewritten) is killed:
//!
//! - after every journal record in turn (`MDCLUSTER_CRASH_AFTER_RECORD=N`:
//!   the process aborts right after writing record N), and
//!   (every `MDCLUSTER_TEST_CRASH_STRIDE`th record where that is set), and
//! - with SIGKILL (`Child::kill`; TerminateProcess on Windows) at random
//!   moments drawn from a seeded RNG within the measured duration of an
//!   uninterrupted run (`MDCLUSTER_KILL_ROUNDS`, 50 by default;
//!   `MDCLUSTER_KILL_SEED`; `MDCLUSTER_KILL_MESSAGES`, 2000 by default; 600
//!   when the test cannot mount a tmpfs, i.e. not root).
//!
//! On Linux the share is on another file system (a tmpfs); on Windows,
//! which has no second volume here, `MDCLUSTER_NO_RENAME` makes the move a
//! copy all the same.
//!
//! After each kill: every message is at the source or, identical, on the
//! share; then a rerun finishes and the result equals an uninterrupted run
//! (every file of installation and share: path, content, size, time, mode;
//! mdcluster's state folder left out), with every message on the share
//! exactly once and none left behind — or, for every fourth kill, `undo`
//! restores the original tree byte for byte. The tally is printed:
//! `killed N times, N recovered, 0 lost`.

mod common;
use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// splitmix64: a seeded generator, no dependency needed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The environment of every run of the big harness: on Windows the move
/// must be a copy although the share is on the same volume (see above).
const COPY_ENV: &[(&str, &str)] = if cfg!(windows) {
    &[("MDCLUSTER_NO_RENAME", "1")]
} else {
    &[]
};

fn apply(lab: &Lab, crash_after: Option<usize>) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mdcluster"));
    c.args(["apply", "--yes", "--plan"])
        .arg(&lab.plan)
        .env("NO_COLOR", "1")
        .env_remove("MDCLUSTER_NO_RENAME")
        .env_remove("MDCLUSTER_CRASH_AFTER_RECORD")
        .envs(COPY_ENV.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(n) = crash_after {
        c.env("MDCLUSTER_CRASH_AFTER_RECORD", n.to_string());
    }
    c
}

/// Relative paths of the `.msg` files under `root` (mdcluster's state folder
/// left out), with repeats if any.
fn messages(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(root).min_depth(1) {
        let e = e.unwrap();
        // With '/' on every platform, as the expected names are.
        let rel = e
            .path()
            .strip_prefix(root)
            .unwrap()
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        if rel == "mdcluster" || rel.starts_with("mdcluster/") {
            continue;
        }
        if e.file_type().is_file() && rel.ends_with(".msg") {
            out.push(rel);
        }
    }
    out
}

struct Reference {
    install: BTreeMap<String, String>,
    share: BTreeMap<String, String>,
    original: String,
    expected: BTreeMap<String, String>,
    expected_msgs: BTreeSet<String>,
}

#[derive(Default)]
struct Tally {
    killed: usize,
    recovered: usize,
    lost: usize,
    undone: usize,
    mid_move: usize,
}

/// After a kill: nothing lost at that moment, then finished by a rerun (or
/// reversed by undo) to the reference.
fn recover(lab: &Lab, r: &Reference, undo: bool, what: &str, tally: &mut Tally) {
    tally.killed += 1;
    let journal =
        std::fs::read_to_string(lab.install.join("mdcluster/journal.jsonl")).unwrap_or_default();
    if journal.contains(r#""step":"mail-store""#)
        && !journal.contains(r#""record":"step-done","step":"mail-store""#)
    {
        tally.mid_move += 1;
    }
    let lost = lost_messages(lab, &r.expected);
    tally.lost += lost.len();
    assert!(
        lost.is_empty(),
        "{what}: {} message(s) neither at the source nor verified on the share, e.g. {}",
        lost.len(),
        lost[0]
    );
    if undo {
        let out = run(lab, &["undo", "--yes"], COPY_ENV);
        assert!(
            out.status.success(),
            "{what}: undo failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            lab.hash(),
            r.original,
            "{what}: undo gives the original tree"
        );
        assert_eq!(
            lab_leftovers(lab),
            Vec::<String>::new(),
            "{what}: after undo"
        );
        tally.undone += 1;
    } else {
        let out = run(lab, &["apply", "--yes"], COPY_ENV);
        assert!(
            out.status.success(),
            "{what}: the rerun failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        check_finished(lab, r, what);
    }
    tally.recovered += 1;
}

fn check_finished(lab: &Lab, r: &Reference, what: &str) {
    assert_eq!(
        lab_leftovers(lab),
        Vec::<String>::new(),
        "{what}: temporary files"
    );
    assert_eq!(outcome_map(&lab.install, true), r.install, "{what}");
    assert_eq!(tree_map(&lab.share, false), r.share, "{what}");
    let on_share = messages(&lab.share);
    assert_eq!(on_share.len(), r.expected_msgs.len(), "{what}: .msg count");
    assert_eq!(
        on_share.into_iter().collect::<BTreeSet<_>>(),
        r.expected_msgs,
        "{what}: message names"
    );
    assert_eq!(
        messages(&lab.install),
        Vec::<String>::new(),
        "{what}: no message left behind in the old store"
    );
}

#[test]
fn killed_anywhere_a_rerun_or_undo_loses_nothing() {
    let started = Instant::now();
    // Both sides on tmpfs when the test may mount one (root): the root file
    // system slows down badly on back-to-back copies. Otherwise the
    // installation in a temp folder and the share on /dev/shm (both in the
    // temp folder on Windows), with a smaller store.
    let mount = TmpfsMount::new("size=1g");
    let opts = mdcluster::sandbox::Options {
        accounts: 8,
        messages: env_number(
            "MDCLUSTER_KILL_MESSAGES",
            if mount.is_some() { 2000 } else { 600 },
        ) as usize,
        seed: 4,
        message_size: None,
    };
    let template = match &mount {
        Some(m) => Lab::in_shm_with_share(
            opts,
            tempfile::Builder::new()
                .prefix("mdcluster-share-")
                .tempdir_in(m.path())
                .unwrap(),
        ),
        None => Lab::with(
            opts,
            Some(
                tempfile::Builder::new()
                    .prefix("mdcluster-share-")
                    .tempdir_in(fast_tmp_dir())
                    .unwrap(),
            ),
        ),
    };
    let opts_messages = env_number("MDCLUSTER_KILL_MESSAGES", 600) as usize;
    let expected = expected_on_share(&template);
    let expected_msgs: BTreeSet<String> = expected
        .keys()
        .filter(|k| k.ends_with(".msg"))
        .cloned()
        .collect();
    assert!(expected_msgs.len() >= opts_messages / 2);

    // An uninterrupted run: the reference result and how long a run takes.
    let (reference, full) = {
        let lab = template.copy();
        let start = Instant::now();
        assert!(apply(&lab, None).status().unwrap().success());
        let full = start.elapsed();
        let r = Reference {
            install: outcome_map(&lab.install, true),
            share: tree_map(&lab.share, false),
            original: template.hash(),
            expected,
            expected_msgs,
        };
        check_finished(&lab, &r, "the uninterrupted run");
        (r, full)
    };
    let mut tally = Tally::default();

    // After every journal record (or every stride-th).
    let (mut records, mut last_crash) = (0, 0);
    for n in crash_points() {
        let lab = template.copy();
        if apply(&lab, Some(n)).status().unwrap().success() {
            break; // past the last record
        }
        records += 1;
        last_crash = n;
        recover(
            &lab,
            &reference,
            n % 4 == 0,
            &format!("crash after journal record {n}"),
            &mut tally,
        );
    }
    assert!(
        crashed_through(last_crash, 10),
        "a crash point per journal record, the last at {last_crash}"
    );

    // SIGKILL at random moments of the run.
    let rounds = env_number("MDCLUSTER_KILL_ROUNDS", 50) as usize;
    let seed = env_number("MDCLUSTER_KILL_SEED", 0x6d64_636c);
    let mut rng = Rng(seed);
    let mut random_kills = 0;
    let mut finished_first = 0;
    let mut attempt = 0;
    while random_kills < rounds {
        attempt += 1;
        assert!(
            attempt <= 3 * rounds,
            "only {random_kills} of {attempt} runs were still going when killed (a run takes {full:?})"
        );
        let lab = template.copy();
        let delay = full.mul_f64(0.9 * rng.unit());
        let mut child = apply(&lab, None).spawn().unwrap();
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL; TerminateProcess on Windows
        let status = child.wait().unwrap();
        let what = format!("SIGKILL after {delay:?} (seed {seed}, attempt {attempt})");
        if status.success() {
            // Finished before the kill: still the reference result.
            finished_first += 1;
            check_finished(&lab, &reference, &what);
            continue;
        }
        random_kills += 1;
        recover(&lab, &reference, random_kills % 4 == 0, &what, &mut tally);
    }
    assert!(
        tally.mid_move >= rounds / 4,
        "only {} kills landed during the move (a run takes {full:?})",
        tally.mid_move
    );
    eprintln!(
        "killed {} times, {} recovered, {} lost ({records} after a journal record, \
         {random_kills} SIGKILL at random moments with seed {seed}, {finished_first} runs \
         finished before their kill; {} during the move; {} undone, the rest rerun; \
         a run takes {full:?}, the harness {:?})",
        tally.killed,
        tally.recovered,
        tally.lost,
        tally.mid_move,
        tally.undone,
        started.elapsed()
    );
}

/// A small store in [`fast_tmp_dir`], for the tests that kill at chosen moments.
fn small_template() -> Lab {
    Lab::in_shm(mdcluster::sandbox::Options {
        accounts: 6,
        messages: 120,
        seed: 9,
        message_size: None,
    })
}

/// Killed right after the copy of a private key, or of MDaemon.ini or
/// Userlist.dat, was written beside its final name (`MDCLUSTER_CRASH_AT`):
/// the copy is there then; after a rerun or an undo it is gone, and the
/// result is the reference (rerun) or the original tree (undo).
#[test]
fn a_kill_beside_a_half_written_secret_leaves_no_copy_behind() {
    let template = small_template();
    let reference = {
        let lab = template.copy();
        assert!(run(&lab, &["apply", "--yes"], &[]).status.success());
        (outcome_map(&lab.install, true), tree_map(&lab.share, false))
    };
    let original = template.hash();
    for name in ["rsa.private", "MDaemon.ini", "Userlist.dat"] {
        for undo in [false, true] {
            let what = format!(
                "killed at {name}, then {}",
                if undo { "undo" } else { "rerun" }
            );
            let lab = template.copy();
            let out = run(&lab, &["apply", "--yes"], &[("MDCLUSTER_CRASH_AT", name)]);
            assert!(!out.status.success(), "{what}: the kill did not happen");
            let left = lab_leftovers(&lab);
            assert!(
                left.iter().any(|l| l.contains(".mdcluster-")),
                "{what}: no temporary file at the moment of the kill"
            );
            if name == "rsa.private" {
                // The copy on the share is a byte copy of a private key.
                let part = left
                    .iter()
                    .find(|l| l.ends_with(".part"))
                    .expect("a .part file");
                let key = std::fs::read(part).unwrap();
                assert!(
                    String::from_utf8_lossy(&key).contains("PRIVATE KEY"),
                    "{what}"
                );
            }
            let out = if undo {
                run(&lab, &["undo", "--yes"], &[])
            } else {
                run(&lab, &["apply", "--yes"], &[])
            };
            assert!(
                out.status.success(),
                "{what}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(lab_leftovers(&lab), Vec::<String>::new(), "{what}");
            if undo {
                assert_eq!(lab.hash(), original, "{what}");
            } else {
                assert_eq!(outcome_map(&lab.install, true), reference.0, "{what}");
                assert_eq!(tree_map(&lab.share, false), reference.1, "{what}");
            }
        }
    }
}

/// An undo killed after each of its journal records in turn, and one killed
/// while it writes MDaemon.ini back: `status` says the undo is unfinished,
/// and the next undo gives the original tree byte for byte, with no
/// temporary file left.
#[test]
fn a_killed_undo_is_finished_by_the_next_one() {
    let template = small_template();
    let original = template.hash();
    let (mut kills, mut last_record_kill) = (0, 0);
    let mut past_the_end = false;
    let points = crash_points()
        .map(|n| ("MDCLUSTER_CRASH_AFTER_RECORD", n.to_string()))
        .take(200)
        .chain([("MDCLUSTER_CRASH_AT", "MDaemon.ini".to_string())]);
    for (var, value) in points {
        if past_the_end && var == "MDCLUSTER_CRASH_AFTER_RECORD" {
            continue;
        }
        let what = format!("undo with {var}={value}");
        let lab = template.copy();
        assert!(run(&lab, &["apply", "--yes"], &[]).status.success());
        let out = run(&lab, &["undo", "--yes"], &[(var, &value)]);
        if out.status.success() {
            assert_eq!(var, "MDCLUSTER_CRASH_AFTER_RECORD", "{what}: not killed");
            past_the_end = true; // past the undo's last record
            continue;
        }
        kills += 1;
        if var == "MDCLUSTER_CRASH_AFTER_RECORD" {
            last_record_kill = value.parse().unwrap();
        }
        let status = run(&lab, &["status"], &[]);
        let text = String::from_utf8_lossy(&status.stdout);
        // Unfinished, or (killed after its last record) done, never "done (journal)".
        assert!(
            text.contains("to finish the undo") || !text.contains("done (journal)"),
            "{what}: status must say where the undo stands:\n{text}"
        );
        let out = run(&lab, &["undo", "--yes"], &[]);
        assert!(
            out.status.success(),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(lab.hash(), original, "{what}");
        assert_eq!(lab_leftovers(&lab), Vec::<String>::new(), "{what}");
        // The undo is over: a new run is not refused as if it were not.
        let again = run(&lab, &["apply", "--dry-run"], &[]);
        assert!(
            again.status.success(),
            "{what}: after the finished undo: {}",
            String::from_utf8_lossy(&again.stderr)
        );
    }
    assert!(
        crashed_through(last_record_kill, 9) && kills > 1,
        "only {kills} kills landed in an undo, the last after record {last_record_kill}"
    );
}
