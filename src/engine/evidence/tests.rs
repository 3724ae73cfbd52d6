use super::*;
use crate::install::content_hash;
use crate::location::Loc;
use crate::steps::FileWrite;
use crate::winpath::WinPath;
use serde_json::json;
use std::path::Path;

fn loc(win: &str, local: &str) -> Loc {
    Loc {
        win: WinPath::parse(win).unwrap(),
        local: PathBuf::from(local),
    }
}

/// One action of every kind.
fn every_action() -> Vec<Action> {
    let folder = || loc(r"C:\MDaemon\Users", "/lab/Users");
    let share = || loc(r"\\fs\md\Users", "/share/Users");
    let hash = || content_hash(b"x");
    vec![
        Action::CreateFolder { folder: share() },
        Action::MoveFolder {
            from: folder(),
            to: share(),
            files: 3,
            bytes: 66,
            target_existed: false,
        },
        Action::CopyFolder {
            from: folder(),
            to: share(),
            files: 3,
            bytes: 66,
            target_existed: true,
        },
        Action::EditIni {
            file: folder(),
            before: hash(),
            after: hash(),
            edits: Vec::new(),
        },
        Action::DropSemaphore { file: folder() },
        Action::EditUserlist {
            file: folder(),
            before: hash(),
            after: hash(),
            edits: Vec::new(),
        },
        Action::StopService { timeout_secs: 1 },
        Action::StartService { timeout_secs: 1 },
        Action::DeleteSource {
            source: folder(),
            copy: share(),
        },
        Action::UpdateManifest {
            share: share(),
            before: None,
            after: String::new(),
            added: vec!["MAIL2".into()],
        },
        Action::WriteFiles {
            dir: PathBuf::from("/lb"),
            created: Vec::new(),
            files: vec![FileWrite {
                path: PathBuf::from("haproxy.cfg"),
                before_hash: None,
                after: String::new(),
            }],
            what: "HAProxy configuration".into(),
        },
    ]
}

/// Every evidence an action of this kind writes, done and undone.
fn written_by(action: &Action) -> (Vec<Evidence>, Vec<Evidence>) {
    let p = |s: &str| PathBuf::from(s);
    match action {
        Action::CreateFolder { .. } => (
            vec![
                Evidence::FolderCreated { created: true },
                Evidence::FolderCreated { created: false },
            ],
            vec![
                Evidence::Kept { kept: Vec::new() },
                Evidence::Kept {
                    kept: vec![p("/share/Users")],
                },
            ],
        ),
        Action::MoveFolder { .. } | Action::CopyFolder { .. } => (
            vec![Evidence::TreeCopied(mover::Outcome {
                method: mover::Method::Copy,
                files: 3,
                bytes: 66,
                skipped: vec!["link".into()],
            })],
            if matches!(action, Action::MoveFolder { .. }) {
                vec![Evidence::Nothing {}]
            } else {
                vec![Evidence::Kept {
                    kept: vec![p("/share/Users/a.msg")],
                }]
            },
        ),
        Action::EditIni { .. } | Action::EditUserlist { .. } => (
            vec![
                Evidence::FileEdited {
                    backup: p("/b/MDaemon.ini"),
                    already: false,
                },
                Evidence::FileEdited {
                    backup: p("/b/MDaemon.ini"),
                    already: true,
                },
            ],
            vec![
                Evidence::FileRestored {
                    restored_from: Some(p("/b/MDaemon.ini")),
                    already: false,
                    never_written: false,
                },
                Evidence::FileRestored {
                    restored_from: None,
                    already: true,
                    never_written: false,
                },
                Evidence::FileRestored {
                    restored_from: None,
                    already: false,
                    never_written: true,
                },
            ],
        ),
        Action::DropSemaphore { .. } => (
            vec![Evidence::Nothing {}],
            vec![
                Evidence::SemaphoreRemoved { removed: true },
                Evidence::SemaphoreRemoved { removed: false },
            ],
        ),
        Action::StopService { .. } => (
            vec![Evidence::ServiceStopped { stopped: true }],
            vec![Evidence::ServiceStarted { started: true }],
        ),
        Action::StartService { .. } => (
            vec![Evidence::ServiceStarted { started: true }],
            vec![Evidence::ServiceStopped { stopped: true }],
        ),
        Action::DeleteSource { .. } => (
            vec![
                Evidence::Kept { kept: Vec::new() },
                Evidence::Kept {
                    kept: vec![p("/lab/Users/changed.msg")],
                },
            ],
            vec![Evidence::SourceRestored { restored: 4 }],
        ),
        Action::UpdateManifest { .. } => (
            vec![
                Evidence::ManifestWritten {
                    written: Some(p("/share/cluster.toml")),
                    already: false,
                },
                Evidence::ManifestWritten {
                    written: None,
                    already: true,
                },
            ],
            vec![
                Evidence::ManifestTakenBack {
                    taken_back: vec!["MAIL2".into()],
                    registered_in_mdaemon: vec!["MAIL2".into()],
                    already: false,
                },
                Evidence::ManifestTakenBack {
                    taken_back: Vec::new(),
                    registered_in_mdaemon: Vec::new(),
                    already: true,
                },
            ],
        ),
        Action::WriteFiles { .. } => (
            vec![Evidence::FilesWritten {
                written: vec![p("/lb/haproxy.cfg")],
                already: Vec::new(),
                backups: vec![p("/b/haproxy.cfg")],
            }],
            vec![Evidence::FilesUnwritten {
                removed: vec![p("/lb/haproxy.cfg")],
                restored: Vec::new(),
                kept: vec![p("/lb/other.cfg")],
            }],
        ),
    }
}

#[test]
fn every_evidence_reads_back_as_it_was_written() {
    for action in every_action() {
        let (done, undone) = written_by(&action);
        for (undo, list) in [(false, done), (true, undone)] {
            for e in list {
                let back = Evidence::read(&action, undo, e.to_journal());
                assert_eq!(back, e, "{} (undo: {undo})", action.kind());
            }
        }
    }
}

#[test]
fn journal_format_1_payloads_read_as_their_action_wrote_them() {
    // As mdcluster 0.1.0 wrote them (tests/fixtures/state/v1 has more).
    let actions = every_action();
    let of = |kind: &str| actions.iter().find(|a| a.kind() == kind).unwrap();
    let cases = [
        (of("create-folder"), false, json!({"created": true})),
        (of("create-folder"), true, json!({})),
        (
            of("move-folder"),
            false,
            json!({"bytes": 66, "files": 3, "method": "rename"}),
        ),
        (of("copy-folder"), true, json!({"kept": []})),
        (of("edit-ini"), false, json!({"backup": "/b/MDaemon.ini"})),
        (
            of("edit-userlist"),
            true,
            json!({"restored_from": "/b/Userlist.dat"}),
        ),
        (of("drop-semaphore"), false, json!({})),
        (of("delete-source"), false, json!({"kept": ["/x"]})),
        (of("delete-source"), true, json!({"restored": 2})),
        (
            of("update-manifest"),
            false,
            json!({"written": "/share/cluster.toml"}),
        ),
        (
            of("update-manifest"),
            true,
            json!({"taken_back": ["MAIL2"], "registered_in_mdaemon": []}),
        ),
        (
            of("write-files"),
            false,
            json!({"written": ["/lb/a"], "already": [], "backups": []}),
        ),
    ];
    for (action, undo, value) in cases {
        let e = Evidence::read(action, undo, value.clone());
        assert!(
            !matches!(e, Evidence::Unread(_)),
            "{} {value}",
            action.kind()
        );
        // Written again, the payload has the same meaning.
        assert_eq!(Evidence::read(action, undo, e.to_journal()), e);
    }
    let kept = Evidence::read(of("delete-source"), false, json!({"kept": ["/x"]}));
    assert_eq!(kept.kept(), [Path::new("/x")]);
    // Written in the shape format 1 has for it.
    let already = Evidence::ManifestTakenBack {
        taken_back: Vec::new(),
        registered_in_mdaemon: Vec::new(),
        already: true,
    };
    assert_eq!(already.to_journal(), json!({"already": true}));
}

#[test]
fn a_payload_with_nothing_to_say_reads_only_as_empty() {
    let actions = every_action();
    let of = |kind: &str| actions.iter().find(|a| a.kind() == kind).unwrap();
    assert_eq!(
        Evidence::read(of("move-folder"), true, json!({})),
        Evidence::Nothing {}
    );
    let newer = json!({"merged": 3});
    assert_eq!(
        Evidence::read(of("move-folder"), true, newer.clone()),
        Evidence::Unread(newer.clone())
    );
    assert_eq!(
        Evidence::read(of("drop-semaphore"), false, newer.clone()),
        Evidence::Unread(newer)
    );
}

#[test]
fn a_payload_of_another_shape_is_kept_as_read_never_mistaken() {
    let actions = every_action();
    let of = |kind: &str| actions.iter().find(|a| a.kind() == kind).unwrap();
    // The same key with another type, and a newer version's payload.
    for (action, value) in [
        (of("write-files"), json!({"written": "/share/cluster.toml"})),
        (of("update-manifest"), json!({"written": ["/lb/a"]})),
        (of("drop-semaphore"), json!({"removed": ["/lb/a"]})),
        (of("create-folder"), json!({"made": 1})),
    ] {
        let undo = action.kind() == "drop-semaphore";
        let e = Evidence::read(action, undo, value.clone());
        assert_eq!(e, Evidence::Unread(value.clone()), "{}", action.kind());
        assert!(e.kept().is_empty());
        // Kept as it was read.
        assert_eq!(e.to_journal(), value);
    }
}

#[test]
fn step_evidence_reads_every_form_and_tolerates_a_new_one() {
    for (value, form) in [
        (json!({"actions": 2}), "changed"),
        (json!({"checks": []}), "checked"),
        (json!({"nothing_to_do": true}), "nothing"),
        (json!({"something": "new"}), "unread"),
    ] {
        let e: StepEvidence = serde_json::from_value(value.clone()).unwrap();
        let got = match e {
            StepEvidence::Changed { .. } => "changed",
            StepEvidence::Checked { .. } => "checked",
            StepEvidence::NothingToDo { .. } => "nothing",
            StepEvidence::Unread(_) => "unread",
        };
        assert_eq!(got, form, "{value}");
        assert_eq!(serde_json::to_value(&e).unwrap(), value);
    }
}

#[cfg(unix)]
#[test]
fn evidence_with_a_path_that_is_no_unicode_is_kept_as_text() {
    use std::os::unix::ffi::OsStrExt;
    let odd = PathBuf::from(std::ffi::OsStr::from_bytes(b"/lab/Users/\xff.msg"));
    let e = Evidence::Kept { kept: vec![odd] };
    let v = e.to_journal();
    let text = v["unencodable"].as_str().expect("kept as text");
    assert!(text.contains("Users"), "{text}");
    // Read back, it is unknown, never mistaken.
    let action = &every_action()[8];
    assert_eq!(action.kind(), "delete-source");
    assert!(matches!(
        Evidence::read(action, false, v),
        Evidence::Unread(_)
    ));
}
