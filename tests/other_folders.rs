//! Gateways, digests and the mail archive: the folders besides the mail
//! store that the cluster service does not replicate move to the share with
//! it (step 4), verified; MDaemon.ini's values follow byte for byte; undo
//! restores every byte; a run killed in the middle of them is finished by a
//! rerun; a plan may keep one on each node, with a warning (issue 17).

mod common;
use common::*;
use std::collections::BTreeMap;

/// The sandbox's other trees, below the installation and on the share.
const OTHERS: [&str; 3] = ["Gateways", "Digests", "Archive"];

/// The files of a tree (path, content, size, time, mode), folders left out.
fn files(root: &std::path::Path) -> BTreeMap<String, String> {
    tree_map(root, false)
        .into_iter()
        .filter(|(_, v)| v.starts_with("file"))
        .collect()
}

/// The `step-preview` JSON event of `step` in a dry run.
fn json_preview(lab: &Lab, step: &str) -> serde_json::Value {
    let out = lab.apply().args(["--dry-run", "--json"]).output().unwrap();
    json_lines(&out.stdout)
        .into_iter()
        .find(|e| e["event"] == "step-preview" && e["step"] == step)
        .unwrap_or_else(|| panic!("no preview of {step}"))
}

/// `bytes` with each `(old, new)` line replaced, each exactly once.
fn replaced(bytes: &[u8], lines: &[(&str, &str)]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for (old, new) in lines {
        let old = format!("{old}\r\n").into_bytes();
        let at: Vec<usize> = out
            .windows(old.len())
            .enumerate()
            .filter(|(_, w)| *w == old.as_slice())
            .map(|(i, _)| i)
            .collect();
        assert_eq!(
            at.len(),
            1,
            "{} once in MDaemon.ini",
            String::from_utf8_lossy(&old)
        );
        let mut next = out[..at[0]].to_vec();
        next.extend_from_slice(format!("{new}\r\n").as_bytes());
        next.extend_from_slice(&out[at[0] + old.len()..]);
        out = next;
    }
    out
}

/// Every value the run rewrites, as MDaemon.ini has it before and after.
const REWRITTEN: [(&str, &str); 9] = [
    (
        r"LockFiles=C:\MDaemon\LockFiles\",
        r"LockFiles=\\fileserver\mdaemon\Users\LockFiles\",
    ),
    (r"PEM=C:\MDaemon\Pem\", r"PEM=\\fileserver\mdaemon\PEM\"),
    (
        r"Users=C:\MDaemon\Users\",
        r"Users=\\fileserver\mdaemon\Users\",
    ),
    (
        r"PublicFolders=C:\MDaemon\Public Folders\",
        r"PublicFolders=\\fileserver\mdaemon\Public Folders\",
    ),
    (
        r"Gateways=C:\MDaemon\Gateways\",
        r"Gateways=\\fileserver\mdaemon\Gateways\",
    ),
    (
        r"Digests=C:\MDaemon\Digests\",
        r"Digests=\\fileserver\mdaemon\Digests\",
    ),
    (
        r"Archive=C:\MDaemon\Archive\",
        r"Archive=\\fileserver\mdaemon\Archive\",
    ),
    (
        r"DKIMKeys=C:\MDaemon\Pem\",
        r"DKIMKeys=\\fileserver\mdaemon\PEM\",
    ),
    (
        r"MailDir=C:\MDaemon\Users\$DOMAIN$\$MAILBOX$\",
        r"MailDir=\\fileserver\mdaemon\Users\$DOMAIN$\$MAILBOX$\",
    ),
];

/// By rename (one file system) and by verified copy (`MDCLUSTER_NO_RENAME`):
/// each tree's files arrive on the share identical (content, size, time,
/// mode) and leave the installation; MDaemon.ini is the old file with
/// exactly the moved folders' values changed; undo restores every byte.
#[test]
fn the_other_trees_move_verified_their_values_follow_and_undo_restores_every_byte() {
    for copy in [false, true] {
        let lab = Lab::with(
            mdcluster::sandbox::Options {
                accounts: 5,
                messages: 200,
                seed: 17,
                message_size: None,
            },
            None,
        );
        let before = lab.hash();
        let ini_before = lab.ini_bytes();
        let originals: Vec<_> = OTHERS.map(|t| files(&lab.install.join(t))).into();
        for (t, f) in OTHERS.iter().zip(&originals) {
            assert!(
                f.keys().filter(|k| k.ends_with(".msg")).count() >= 4,
                "the sandbox has mail in {t}: {f:?}"
            );
        }
        #[cfg(unix)]
        let gateway_inode = {
            use std::os::unix::fs::MetadataExt;
            let rel = originals[0].keys().next().unwrap();
            std::fs::metadata(lab.install.join("Gateways").join(rel))
                .unwrap()
                .ino()
        };
        let mut c = lab.apply();
        if copy {
            c.env("MDCLUSTER_NO_RENAME", "1");
        }
        let out = c.arg("--yes").output().unwrap();
        let said = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "copy={copy}\n{said}");
        #[cfg(unix)]
        {
            // A rename keeps a file's inode; a verified copy makes a new file.
            use std::os::unix::fs::MetadataExt;
            let rel = originals[0].keys().next().unwrap();
            let now = std::fs::metadata(lab.share.join("Gateways").join(rel)).unwrap();
            assert_eq!(now.ino() != gateway_inode, copy, "copy={copy}: {rel}");
        }
        for (t, original) in OTHERS.iter().zip(&originals) {
            assert_eq!(
                &files(&lab.share.join(t)),
                original,
                "copy={copy}: {t} on the share, every file identical"
            );
            assert_eq!(
                files(&lab.install.join(t)),
                BTreeMap::new(),
                "copy={copy}: nothing left in the old {t}"
            );
        }
        assert_eq!(
            String::from_utf8_lossy(&lab.ini_bytes()),
            String::from_utf8_lossy(&replaced(&ini_before, &REWRITTEN)),
            "copy={copy}: only the moved folders' values changed"
        );
        assert_eq!(lab.ini_bytes(), replaced(&ini_before, &REWRITTEN));

        let mut c = mdcluster();
        if copy {
            c.env("MDCLUSTER_NO_RENAME", "1");
        }
        c.args(["undo", "--yes", "--plan"])
            .arg(&lab.plan)
            .assert()
            .success();
        assert_eq!(lab.hash(), before, "copy={copy}: undo restores every byte");
    }
}

/// The first message file of a tree whose name no other file of the
/// installation has: where a copy is killed.
fn first_message(install: &std::path::Path, tree: &str) -> String {
    let name = |k: &str| k.rsplit('/').next().unwrap().to_string();
    let elsewhere: Vec<String> = files(install)
        .into_keys()
        .filter(|k| !k.starts_with(&format!("{tree}/")))
        .map(|k| name(&k))
        .collect();
    files(&install.join(tree))
        .into_keys()
        .map(|k| name(&k))
        .find(|n| n.ends_with(".msg") && !elsewhere.contains(n))
        .expect("a message of its own name")
}

/// Killed in the middle of copying each tree (after a file's temporary
/// copy is written, before its rename): no message is lost at that moment,
/// and a rerun finishes the job to exactly the result of an uninterrupted
/// run; or undo restores the original byte for byte.
#[test]
fn killed_while_a_tree_is_copied_a_rerun_finishes_and_undo_restores() {
    let template = Lab::in_shm(mdcluster::sandbox::Options {
        accounts: 4,
        messages: 120,
        seed: 23,
        message_size: None,
    });
    let reference = {
        let lab = template.copy();
        lab.apply()
            .env("MDCLUSTER_NO_RENAME", "1")
            .arg("--yes")
            .assert()
            .success();
        (outcome_map(&lab.install, true), tree_map(&lab.share, false))
    };
    let expected = expected_on_share(&template);
    for (i, tree) in OTHERS.iter().enumerate() {
        for undo in [false, true] {
            let lab = template.copy();
            let original = lab.hash();
            let at = first_message(&lab.install, tree);
            let out = lab
                .apply()
                .env("MDCLUSTER_NO_RENAME", "1")
                .env("MDCLUSTER_CRASH_AT", &at)
                .arg("--yes")
                .output()
                .unwrap();
            assert!(!out.status.success(), "{tree}: the run was killed at {at}");
            let part = lab_leftovers(&lab);
            assert!(
                part.iter()
                    .any(|p| p.contains(tree) && p.ends_with(".part")),
                "{tree}: killed while copying into it: {part:?}"
            );
            assert!(
                !files(&lab.install.join(tree)).is_empty(),
                "{tree}: a source is deleted only after its copy is verified"
            );
            assert_eq!(
                lost_messages(&lab, &expected),
                Vec::<String>::new(),
                "{tree}: nothing lost when killed"
            );
            let what = format!(
                "killed copying {tree}/…/{at} (case {i}), then {}",
                if undo { "undo" } else { "rerun" }
            );
            if undo {
                let mut c = mdcluster();
                c.env("MDCLUSTER_NO_RENAME", "1")
                    .args(["undo", "--yes", "--plan"])
                    .arg(&lab.plan)
                    .assert()
                    .success();
                assert_eq!(lab.hash(), original, "{what}");
            } else {
                lab.apply()
                    .env("MDCLUSTER_NO_RENAME", "1")
                    .arg("--yes")
                    .assert()
                    .success();
                assert_eq!(outcome_map(&lab.install, true), reference.0, "{what}");
                assert_eq!(tree_map(&lab.share, false), reference.1, "{what}");
                assert_eq!(lab_leftovers(&lab), Vec::<String>::new(), "{what}");
            }
        }
    }
}

/// `keep_local = ["archive"]`: the preview warns (text and JSON), the
/// archive and its value stay, the gateways and digests move.
#[test]
fn keep_local_leaves_a_tree_on_each_node_with_a_warning() {
    let lab = Lab::new();
    lab.keep_local(&["archive"]);
    let archive = files(&lab.install.join("Archive"));
    let out = lab.apply().arg("--dry-run").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(r"warning: kept on each node (keep_local in the plan): the mail archive, in C:\MDaemon\Archive\; each node archives only the mail it handled"),
        "{text}"
    );
    assert!(
        text.contains("archive: kept on each node (keep_local)"),
        "{text}"
    );
    assert!(!text.contains(r"move C:\MDaemon\Archive\"), "{text}");

    let store = json_preview(&lab, "mail-store");
    let warnings = store["warnings"].as_array().expect("warnings");
    assert_eq!(warnings.len(), 1, "{store}");
    assert!(warnings[0].as_str().unwrap().contains("the mail archive"));
    let plan = mdcluster()
        .args(["plan", "validate", "--json"])
        .arg(&lab.plan)
        .output()
        .unwrap();
    let valid = json_lines(&plan.stdout);
    assert_eq!(
        valid[0]["plan"]["shared"]["archive"],
        serde_json::Value::Null
    );

    lab.apply().arg("--yes").assert().success();
    assert_eq!(
        files(&lab.install.join("Archive")),
        archive,
        "the archive stays"
    );
    let ini = String::from_utf8_lossy(&lab.ini_bytes()).into_owned();
    assert!(ini.contains("Archive=C:\\MDaemon\\Archive\\\r\n"), "{ini}");
    assert!(
        ini.contains("Gateways=\\\\fileserver\\mdaemon\\Gateways\\\r\n"),
        "{ini}"
    );
    assert!(files(&lab.install.join("Gateways")).is_empty());
    assert!(!files(&lab.share.join("Digests")).is_empty());
    assert!(!lab.share.join("Archive").exists());
}

/// A plan may name each target; it must not both name one and keep that
/// folder on each node, nor keep the mail store itself, nor name a folder
/// mdcluster does not know: each is an error at its place (exit 2).
#[test]
fn targets_and_keep_local_are_checked_in_the_plan() {
    let lab = Lab::new();
    lab.edit_plan(
        r"path = '\\fileserver\mdaemon'",
        "path = '\\\\fileserver\\mdaemon'\narchive = '\\\\fileserver\\mdaemon\\Users'\n\
         keep_local = [\"digests\", \"mailboxes\", \"queues\"]\ndigests = '\\\\fileserver\\d'",
    );
    let before = lab.hash();
    let out = mdcluster()
        .args(["plan", "validate"])
        .arg(&lab.plan)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{err}");
    for needle in [
        r"shared.mailboxes and shared.archive are the same folder \\fileserver\mdaemon\Users",
        "keep_local: the mailboxes cannot stay on each node",
        "keep_local: 'queues' is no folder mdcluster moves; it knows gateways, digests, archive",
        "shared.digests names a target, but keep_local keeps the mailing-list digests on each node",
    ] {
        assert!(err.contains(needle), "{needle:?} in:\n{err}");
    }
    assert_eq!(
        lab.apply().arg("--yes").output().unwrap().status.code(),
        Some(2)
    );
    assert_eq!(lab.hash(), before);
}

/// Targets of their own, named in the plan, are where the trees go.
#[test]
fn named_targets_are_used() {
    let lab = Lab::new();
    lab.edit_plan(
        r"path = '\\fileserver\mdaemon'",
        "path = '\\\\fileserver\\mdaemon'\ngateways = '\\\\fileserver\\mdaemon\\Mail\\GW'\n\
         archive = '\\\\fileserver\\mdaemon\\Langzeit-Archiv'",
    );
    let gateways = files(&lab.install.join("Gateways"));
    let before = lab.hash();
    lab.apply().arg("--yes").assert().success();
    assert_eq!(files(&lab.share.join("Mail/GW")), gateways);
    assert!(!files(&lab.share.join("Langzeit-Archiv")).is_empty());
    let ini = String::from_utf8_lossy(&lab.ini_bytes()).into_owned();
    assert!(
        ini.contains("Gateways=\\\\fileserver\\mdaemon\\Mail\\GW\\\r\n"),
        "{ini}"
    );
    assert!(
        ini.contains("Archive=\\\\fileserver\\mdaemon\\Langzeit-Archiv\\\r\n"),
        "{ini}"
    );
    lab.undo();
    assert_eq!(lab.hash(), before);
}

/// Settings outside `[Directories]` that name a folder that moves (a domain
/// gateway's own folder in a settings file of the App folder, a section of
/// MDaemon.ini mdcluster does not rewrite) are warned of, file and line,
/// in the text and JSON previews; the files are left byte for byte.
#[test]
fn settings_elsewhere_that_name_a_moved_folder_are_warned_of() {
    let lab = Lab::new();
    let gateways_dat = lab.install.join("App/Gateways.dat");
    let settings =
        b"[partner-firma.example]\r\nMailDir=C:\\MDaemon\\Gateways\\partner-firma.example\\\r\n\
        [old]\r\nMailDir=C:\\MDaemon\\GatewaysOld\\\r\n"
            .to_vec();
    std::fs::write(&gateways_dat, &settings).unwrap();
    let mut ini = lab.ini_bytes();
    assert!(ini.ends_with(b"\r\n"));
    let archive_line = ini.iter().filter(|b| **b == b'\n').count() + 3;
    ini.extend_from_slice(b"\r\n[Archiving]\r\nArchivePath=c:\\mdaemon\\archive\\\r\n");
    std::fs::write(lab.ini(), &ini).unwrap();

    let out = lab.apply().arg("--dry-run").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(r"warning: Gateways.dat line 2 still names C:\MDaemon\Gateways\"),
        "{text}"
    );
    assert!(
        text.contains(r"point it at \\fileserver\mdaemon\Gateways\ in MDaemon"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            r"warning: MDaemon.ini line {archive_line} still names C:\MDaemon\Archive\"
        )),
        "{text}"
    );
    assert!(
        !text.contains("line 4 still names"),
        "GatewaysOld is another folder:\n{text}"
    );

    let dirs = json_preview(&lab, "directories");
    assert_eq!(dirs["warnings"].as_array().unwrap().len(), 2, "{dirs}");

    lab.apply().arg("--yes").assert().success();
    assert_eq!(
        std::fs::read(&gateways_dat).unwrap(),
        settings,
        "left as it was"
    );
    let after = String::from_utf8_lossy(&lab.ini_bytes()).into_owned();
    assert!(
        after.contains("ArchivePath=c:\\mdaemon\\archive\\\r\n"),
        "{after}"
    );
}

/// A folder kept on each node at first and shared later: the next `apply`
/// (the same plan otherwise) looks at the moves again and moves it, with
/// its MDaemon.ini value, in a run of journal format 3; an account whose
/// folder on the share is not `<domain>\<mailbox>` is not moved again; a
/// third apply has nothing to do; undo restores everything.
#[test]
fn a_folder_shared_later_moves_in_the_next_apply() {
    let lab = Lab::new();
    // One account keeps an old folder name inside the Users tree.
    let line = (0..12)
        .find(|l| mail_dir(&lab, *l).starts_with(r"C:\MDaemon\Users\"))
        .expect("an account in the Users tree");
    let old = mail_dir(&lab, line);
    let renamed = format!("{}-old\\", old.trim_end_matches('\\'));
    let local = |win: &str| {
        lab.install
            .join(win.trim_start_matches(r"C:\MDaemon\").replace('\\', "/"))
    };
    std::fs::rename(local(&old), local(&renamed)).unwrap();
    set_mail_dir(&lab, line, &renamed);
    let original = lab.hash();
    let gateways = files(&lab.install.join("Gateways"));
    lab.keep_local(&["gateways"]);
    lab.apply().arg("--yes").assert().success();
    assert_eq!(files(&lab.install.join("Gateways")), gateways);
    let userlist = std::fs::read(lab.install.join("App/Userlist.dat")).unwrap();

    lab.keep_local(&[]);
    let status = mdcluster()
        .args(["status", "--plan"])
        .arg(&lab.plan)
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(
        status.contains(r"MDaemon.ini still names the domain gateways' mail in C:\MDaemon\Gateways\: the next apply moves it"),
        "{status}"
    );
    let out = lab.apply().arg("--dry-run").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    assert!(text.contains("looked at again"), "{text}");
    assert!(!text.contains("Userlist.dat: the mail folder"), "{text}");
    lab.apply().arg("--yes").assert().success();
    assert_eq!(files(&lab.share.join("Gateways")), gateways);
    assert!(files(&lab.install.join("Gateways")).is_empty());
    let ini = String::from_utf8_lossy(&lab.ini_bytes()).into_owned();
    assert!(
        ini.contains("Gateways=\\\\fileserver\\mdaemon\\Gateways\\\r\n"),
        "{ini}"
    );
    assert_eq!(
        std::fs::read(lab.install.join("App/Userlist.dat")).unwrap(),
        userlist,
        "no account moves again"
    );
    let journal = std::fs::read_to_string(lab.install.join("mdcluster/journal.jsonl")).unwrap();
    let begins: Vec<&str> = journal
        .lines()
        .filter(|l| l.contains("\"run-begin\""))
        .collect();
    assert_eq!(begins.len(), 2, "{journal}");
    assert!(begins[1].contains("\"format\":3"), "{}", begins[1]);
    assert!(journal.contains("\"step-again\""), "{journal}");

    lab.apply()
        .arg("--yes")
        .assert()
        .success()
        .stdout(predicates::str::contains("Nothing to do"));
    lab.undo();
    assert_eq!(lab.hash(), original, "undo reverses both runs");
}

/// The look at the moves again stopped part-way in step 4 (an action
/// fails): the rerun finishes the moves and rewrites the value in the same
/// run, never leaving the gateways on the share while MDaemon.ini names
/// the old folder; undo restores everything.
#[test]
fn a_look_again_stopped_in_the_middle_is_finished_with_its_rewrite() {
    let lab = Lab::new();
    let original = lab.hash();
    lab.keep_local(&["gateways"]);
    lab.apply().arg("--yes").assert().success();
    let gateways = files(&lab.install.join("Gateways"));
    lab.keep_local(&[]);
    // The look again: create the target, move two gateways, rewrite. The
    // second move fails.
    let out = lab
        .apply()
        .arg("--yes")
        .env("MDCLUSTER_FAIL_AT_ACTION", "3")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ini = String::from_utf8_lossy(&lab.ini_bytes()).into_owned();
    assert!(
        ini.contains("Gateways=C:\\MDaemon\\Gateways\\\r\n"),
        "{ini}"
    );
    let out = lab.apply().arg("--yes").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(files(&lab.share.join("Gateways")), gateways);
    let ini = String::from_utf8_lossy(&lab.ini_bytes()).into_owned();
    assert!(
        ini.contains("Gateways=\\\\fileserver\\mdaemon\\Gateways\\\r\n"),
        "the value follows in the run that finished the moves: {ini}"
    );
    lab.apply()
        .arg("--yes")
        .assert()
        .success()
        .stdout(predicates::str::contains("Nothing to do"));
    lab.undo();
    assert_eq!(lab.hash(), original);
}
