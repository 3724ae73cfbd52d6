//! State written by an earlier mdcluster stays usable (docs/state-formats.md).
//!
//! `tests/fixtures/state/v1/` holds what mdcluster 0.1.0 (journal format 1,
//! manifest format 1) left on disk, checked in as it was written:
//!
//! - `original.tar`: a sample installation, its share and its plan;
//! - `stopped.tar`: the same after a run killed in the middle of copying a
//!   message file of the mail store (`MDCLUSTER_CRASH_AT`, the move made a
//!   verified copy as across file systems: `MDCLUSTER_NO_RENAME`): the
//!   installation with its journal, its lock files and backups, the share
//!   part filled, a `.part` file beside the message being copied;
//! - `finished.tar`: the same after a whole run;
//! - `cluster.toml`: a cluster manifest with a primary, a registered and an
//!   unregistered secondary and a retired node.
//!
//! The journals are as mdcluster 0.1.0 wrote them: without `format` fields
//! (that is format 1). The local paths of the lab in the journal and the
//! plan are `@LAB@` there.
//! Today's mdcluster reads them, finishes the stopped run, and undoes either
//! to the original byte for byte. When a change breaks one of these, it
//! breaks every administrator's resume or undo after an upgrade: keep the old
//! format readable (a serde alias, a default), or raise the format and say
//! so. `make_fixtures` (ignored) wrote them.

mod common;
use common::*;
use mdcluster::cluster::manifest::Manifest;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const PLACEHOLDER: &str = "@LAB@";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/state/v1")
        .join(name)
}

/// A fixture tree unpacked into a new temp folder, its placeholders filled in.
struct Unpacked {
    tmp: tempfile::TempDir,
}

impl Unpacked {
    fn new(name: &str) -> Unpacked {
        let tmp = tempfile::tempdir().unwrap();
        let file = std::fs::File::open(fixture(name)).unwrap();
        let mut archive = tar::Archive::new(file);
        archive.set_preserve_permissions(true);
        archive.set_preserve_mtime(true);
        archive.unpack(tmp.path()).unwrap();
        let lab = tmp.path().display().to_string();
        // Inside JSON strings and TOML basic strings ("..."), both of which
        // escape a Windows path's backslashes the same way.
        let escaped = serde_json::to_string(&lab).unwrap();
        let escaped = &escaped[1..escaped.len() - 1];
        for file in ["MDaemon/mdcluster/journal.jsonl", "plan.toml"] {
            let path = tmp.path().join(file);
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let meta = std::fs::metadata(&path).unwrap();
            std::fs::write(&path, text.replace(PLACEHOLDER, escaped)).unwrap();
            let mtime = filetime::FileTime::from_last_modification_time(&meta);
            filetime::set_file_mtime(&path, mtime).unwrap();
        }
        Unpacked { tmp }
    }

    fn install(&self) -> PathBuf {
        self.tmp.path().join("MDaemon")
    }

    fn share(&self) -> PathBuf {
        self.tmp.path().join("share")
    }

    /// Run with the stopped run's conditions (moves by verified copy).
    fn run(&self, args: &[&str]) -> std::process::Output {
        mdcluster()
            .env("MDCLUSTER_NO_RENAME", "1")
            .args(args)
            .arg("--plan")
            .arg(self.tmp.path().join("plan.toml"))
            .output()
            .unwrap()
    }

    /// Installation (mdcluster's state folder left out) and share.
    fn trees(&self) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
        (
            tree_map(&self.install(), true),
            tree_map(&self.share(), false),
        )
    }
}

/// The `.msg` files below `root` by relative path, with their content hash.
fn messages(root: &Path) -> BTreeMap<String, String> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "msg"))
        .map(|e| {
            let rel = e.path().strip_prefix(root).unwrap();
            let rel: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let hash = blake3::hash(&std::fs::read(e.path()).unwrap());
            (rel.join("/"), hash.to_hex().to_string())
        })
        .collect()
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn todays_journal_and_manifest_are_read() {
    let stopped = Unpacked::new("stopped.tar");
    let replay =
        mdcluster::engine::journal::read(&stopped.install().join("mdcluster/journal.jsonl"))
            .unwrap();
    let store = replay
        .step(mdcluster::steps::StepId::MailStore)
        .expect("the mail-store step was begun");
    assert!(store.actions.len() > 5 && !store.done.is_empty());
    assert!(store.finished.is_none());
    assert!(
        store.intents.iter().any(|i| !store.done.contains_key(i)),
        "stopped in the middle of an action"
    );
    // Every action's evidence reads as its kind wrote it, never as unknown.
    for name in ["stopped.tar", "finished.tar"] {
        let run = Unpacked::new(name);
        let replay =
            mdcluster::engine::journal::read(&run.install().join("mdcluster/journal.jsonl"))
                .unwrap();
        let mut read = 0;
        for (step, rec) in &replay.steps {
            for (i, evidence) in &rec.done {
                assert!(
                    !matches!(evidence, mdcluster::engine::evidence::Evidence::Unread(_)),
                    "{name}: {step} action {i}: {evidence:?}"
                );
                read += 1;
            }
            assert!(
                !matches!(
                    rec.finished,
                    Some(mdcluster::engine::evidence::StepEvidence::Unread(_))
                ),
                "{name}: {step}"
            );
        }
        assert!(read > 0, "{name}: {read}");
    }
    let share = tempfile::tempdir().unwrap();
    let dir = share.path().join("mdcluster");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixture("cluster.toml"), dir.join("cluster.toml")).unwrap();
    let m = Manifest::load(share.path()).unwrap().unwrap();
    assert_eq!(m.primary, "MAIL1");
    let ids: Vec<(&str, u32, bool)> = m
        .nodes
        .iter()
        .map(|n| (n.name.as_str(), n.server_id.get(), n.registered.is_some()))
        .collect();
    assert_eq!(
        ids,
        [("MAIL1", 1, true), ("MAIL2", 2, true), ("MAIL4", 4, false)]
    );
    assert_eq!(m.retired.len(), 1);
    assert_eq!(m.retired[0].server_id, 3);
    // And written again by today's mdcluster without loss.
    m.save(share.path()).unwrap();
    assert_eq!(Manifest::load(share.path()).unwrap().unwrap(), m);
}

#[test]
fn a_run_stopped_by_an_earlier_version_is_finished() {
    let original = Unpacked::new("original.tar");
    let stopped = Unpacked::new("stopped.tar");
    let out = stopped.run(&["apply", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    // Every message of the original is on the share, identical; none is left.
    let before = messages(&original.install());
    assert!(before.len() >= 10, "{}", before.len());
    let on_share = messages(&stopped.share());
    for (rel, hash) in &before {
        assert!(
            on_share.values().filter(|h| *h == hash).count() == 1,
            "{rel}: on the share exactly once"
        );
    }
    assert_eq!(on_share.len(), before.len());
    assert_eq!(messages(&stopped.install()), BTreeMap::new());
    // MDaemon.ini (Windows-1252) names the share for the moved folders.
    let ini = std::fs::read(stopped.install().join("App/MDaemon.ini")).unwrap();
    let ini = String::from_utf8_lossy(&ini);
    for key in ["LockFiles", "Users", "PublicFolders"] {
        assert!(
            ini.lines()
                .any(|l| l.starts_with(&format!("{key}=\\\\fileserver\\mdaemon\\"))),
            "{key} points at the share:\n{ini}"
        );
    }
    assert_eq!(leftovers(stopped.tmp.path()), Vec::<String>::new());
}

#[test]
fn a_run_stopped_by_an_earlier_version_is_undone_byte_for_byte() {
    let original = Unpacked::new("original.tar");
    let stopped = Unpacked::new("stopped.tar");
    let out = stopped.run(&["undo", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(stopped.trees(), original.trees());
}

#[test]
fn a_finished_run_of_an_earlier_version_is_shown_and_undone_byte_for_byte() {
    let original = Unpacked::new("original.tar");
    let finished = Unpacked::new("finished.tar");
    let out = finished.run(&["status"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = finished.run(&["undo", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(finished.trees(), original.trees());
}

/// Writes the fixtures with this mdcluster (run once per format:
/// `MDCLUSTER_WRITE_STATE_FIXTURES=1 cargo test --test state_formats -- --ignored`).
#[test]
#[ignore = "writes tests/fixtures/state/v1: run by hand when a format is raised"]
fn make_fixtures() {
    assert!(
        std::env::var_os("MDCLUSTER_WRITE_STATE_FIXTURES").is_some(),
        "set MDCLUSTER_WRITE_STATE_FIXTURES=1 to overwrite the fixtures"
    );
    let out_dir = fixture("");
    std::fs::create_dir_all(&out_dir).unwrap();
    let lab = |dir: &Path| {
        let opts = mdcluster::sandbox::Options {
            accounts: 3,
            messages: 12,
            seed: 5,
            message_size: None,
        };
        let profile = mdcluster::profile::Profile::builtin();
        mdcluster::sandbox::create(&dir.join("MDaemon"), &profile, &opts).unwrap();
        std::fs::create_dir_all(dir.join("share")).unwrap();
        std::fs::write(
            dir.join("plan.toml"),
            mdcluster::sandbox::plan_text(&dir.join("MDaemon"), &dir.join("share")),
        )
        .unwrap();
    };
    let pack = |dir: &Path, name: &str| {
        let lab = dir.display().to_string();
        for file in ["MDaemon/mdcluster/journal.jsonl", "plan.toml"] {
            let path = dir.join(file);
            if let Ok(text) = std::fs::read_to_string(&path) {
                let meta = std::fs::metadata(&path).unwrap();
                // As 0.1.0 wrote it: no format fields (format 1).
                let text = text
                    .replace(&lab, PLACEHOLDER)
                    .replace(r#","format":1"#, "");
                std::fs::write(&path, text).unwrap();
                let mtime = filetime::FileTime::from_last_modification_time(&meta);
                filetime::set_file_mtime(&path, mtime).unwrap();
            }
        }
        let file = std::fs::File::create(out_dir.join(name)).unwrap();
        let mut builder = tar::Builder::new(file);
        builder.mode(tar::HeaderMode::Complete);
        builder.follow_symlinks(false);
        for part in ["MDaemon", "share", "plan.toml"] {
            let path = dir.join(part);
            if path.is_dir() {
                builder.append_dir_all(part, &path).unwrap();
            } else {
                builder.append_path_with_name(&path, part).unwrap();
            }
        }
        builder.finish().unwrap();
    };
    let run = |dir: &Path, env: &[(&str, &str)]| {
        let mut c = mdcluster();
        c.args(["apply", "--yes", "--plan"])
            .arg(dir.join("plan.toml"))
            .envs(env.iter().copied());
        c.output().unwrap()
    };
    // A copy of the original lab with a plan of its own (the plan names
    // the lab's folders).
    let copy_of = |from: &Path| {
        let to = tempfile::tempdir().unwrap();
        copy_tree(from, to.path());
        std::fs::write(
            to.path().join("plan.toml"),
            mdcluster::sandbox::plan_text(&to.path().join("MDaemon"), &to.path().join("share")),
        )
        .unwrap();
        to
    };
    let original = tempfile::tempdir().unwrap();
    lab(original.path());
    // Killed while copying a message in the middle of the store.
    let mut names: Vec<String> = walkdir::WalkDir::new(original.path().join("MDaemon/Users"))
        .sort_by_file_name()
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "msg"))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let middle = names[names.len() / 2].clone();
    let stopped = copy_of(original.path());
    let out = run(
        stopped.path(),
        &[
            ("MDCLUSTER_NO_RENAME", "1"),
            ("MDCLUSTER_CRASH_AT", &middle),
        ],
    );
    assert!(!out.status.success());
    assert!(!leftovers(stopped.path()).is_empty(), "a .part file");
    let finished = copy_of(original.path());
    assert!(run(finished.path(), &[]).status.success());
    pack(original.path(), "original.tar");
    pack(stopped.path(), "stopped.tar");
    pack(finished.path(), "finished.tar");

    let member =
        |name: &str, role, server_id, registered: bool| mdcluster::cluster::manifest::Member {
            name: name.into(),
            role,
            server_id: mdcluster::plan::ServerId::new(server_id).unwrap(),
            address: "192.0.2.1".into(),
            licence: Some("0f3c9a1e".into()),
            added: "2026-11-20T09:00:00Z".into(),
            registered: registered.then(|| "2026-11-20T09:30:00Z".into()),
        };
    use mdcluster::plan::Role;
    let manifest = Manifest {
        version: 1,
        primary: "MAIL1".into(),
        nodes: vec![
            member("MAIL1", Role::Primary, 1, true),
            member("MAIL2", Role::Secondary, 2, true),
            member("MAIL4", Role::Secondary, 4, false),
        ],
        retired: vec![mdcluster::cluster::manifest::Retired {
            name: "MAIL3".into(),
            server_id: mdcluster::plan::ServerId::new(3).unwrap(),
            removed: "2026-11-21T10:00:00Z".into(),
        }],
    };
    let share = tempfile::tempdir().unwrap();
    manifest.save(share.path()).unwrap();
    std::fs::copy(
        share.path().join("mdcluster/cluster.toml"),
        out_dir.join("cluster.toml"),
    )
    .unwrap();
}

/// A gateway's stored mail, as it arrives after an earlier mdcluster set
/// the installation up (or stopped part-way).
fn gateway_mail(root: &Path) {
    let dir = root.join("MDaemon/Gateways/partner.example");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("md50000000001.msg");
    std::fs::write(&file, b"Subject: held for the gateway\r\n\r\nSAMPLE\r\n").unwrap();
    filetime::set_file_mtime(&file, filetime::FileTime::from_unix_time(1_700_000_000, 0)).unwrap();
}

/// A run an earlier mdcluster stopped in the middle of the mail store,
/// with mail in the gateways it knew nothing of: the resumed run finishes
/// what it began and leaves the gateways and their MDaemon.ini value as
/// they are (never a value pointing at the share while the mail stays
/// behind), saying so; the next apply moves them; undo restores it all.
#[test]
fn a_run_stopped_by_an_earlier_version_leaves_the_gateways_to_the_next_apply() {
    let original = Unpacked::new("original.tar");
    gateway_mail(original.tmp.path());
    let stopped = Unpacked::new("stopped.tar");
    gateway_mail(stopped.tmp.path());
    let ini_of = |u: &Unpacked| {
        String::from_utf8_lossy(&std::fs::read(u.install().join("App/MDaemon.ini")).unwrap())
            .into_owned()
    };
    let held = stopped
        .install()
        .join("Gateways/partner.example/md50000000001.msg");

    let out = stopped.run(&["apply", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("run apply again afterwards to move it"),
        "{}",
        text(&out)
    );
    assert!(
        held.is_file(),
        "the gateway's mail stays where MDaemon.ini says"
    );
    let ini = ini_of(&stopped);
    assert!(
        ini.contains("Gateways=C:\\MDaemon\\Gateways\\\r\n"),
        "{ini}"
    );
    assert!(
        ini.contains("Users=\\\\fileserver\\mdaemon\\Users\\\r\n"),
        "{ini}"
    );

    let out = stopped.run(&["apply", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!held.exists());
    assert!(stopped
        .share()
        .join("Gateways/partner.example/md50000000001.msg")
        .is_file());
    let ini = ini_of(&stopped);
    assert!(
        ini.contains("Gateways=\\\\fileserver\\mdaemon\\Gateways\\\r\n"),
        "{ini}"
    );

    let out = stopped.run(&["undo", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(stopped.trees(), original.trees());
}

/// An installation set up by an earlier mdcluster, which left the
/// gateways and digests where they were: the next `apply` moves what is
/// there now (a gateway's stored mail), points MDaemon.ini at the share,
/// and says the earlier steps' work is done; undo then restores it all.
#[test]
fn a_finished_run_of_an_earlier_version_moves_what_it_left_and_undo_restores_all() {
    let original = Unpacked::new("original.tar");
    gateway_mail(original.tmp.path());
    let finished = Unpacked::new("finished.tar");
    gateway_mail(finished.tmp.path());

    let out = finished.run(&["apply", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("looked at again"), "{}", text(&out));
    let moved = finished
        .share()
        .join("Gateways/partner.example/md50000000001.msg");
    assert!(moved.is_file(), "the gateway's mail is on the share");
    assert!(!finished.install().join("Gateways/partner.example").exists());
    assert!(
        finished.share().join("Digests").is_dir(),
        "an empty tree's target is made"
    );
    let ini = String::from_utf8_lossy(
        &std::fs::read(finished.install().join("App/MDaemon.ini")).unwrap(),
    )
    .into_owned();
    assert!(
        ini.contains("Gateways=\\\\fileserver\\mdaemon\\Gateways\\\r\n"),
        "{ini}"
    );
    assert!(
        ini.contains("Digests=\\\\fileserver\\mdaemon\\Digests\\\r\n"),
        "{ini}"
    );

    let out = finished.run(&["apply", "--yes"]);
    assert!(text(&out).contains("Nothing to do"), "{}", text(&out));

    let out = finished.run(&["undo", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(finished.trees(), original.trees());
}
