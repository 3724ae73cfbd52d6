//! The full-screen wizard driven through `update` with messages alone: no
//! executor runs, and every folder the answers name does not exist. What the
//! wizard asks the world for comes back as the commands `update` returns;
//! what the world says goes in as messages. (`tests/layers.rs` checks that
//! the model, `update` and `view` contain no disk or network call.)

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use mdcluster::plan::Plan;
use mdcluster::problem::Problem;
use mdcluster::profile::Profile;
use mdcluster::wizard::answers::{Answers, FieldId};
use mdcluster::wizard::app::{App, Cmd, Focus, LockAnswer, Msg, PreviewState};
use mdcluster::workflows::start::EarlierRun;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A folder that is not there, under the temporary folder.
fn nowhere() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mdcluster-nowhere-{}", std::process::id()));
    assert!(!dir.exists());
    dir
}

/// A path as a TOML string, whatever characters it has.
fn toml_string(path: &Path) -> String {
    toml::Value::String(path.display().to_string()).to_string()
}

/// Answers from a plan whose installation and share map to `nowhere`.
fn answers(nowhere: &Path, profile: &Profile) -> Answers {
    let text = format!(
        "version = 1\n\
         [install]\nroot = 'C:\\MDaemon'\n\
         [shared]\npath = '\\\\FS1\\MDShare'\n\
         [[mounts]]\nwindows = 'C:\\MDaemon'\nlocal = {}\n\
         [[mounts]]\nwindows = '\\\\FS1\\MDShare'\nlocal = {}\n\
         [[nodes]]\nname = 'MAIL1'\naddress = '10.0.0.1'\nrole = 'primary'\n",
        toml_string(&nowhere.join("MDaemon")),
        toml_string(&nowhere.join("share"))
    );
    let plan = Plan::parse(&text, Path::new("plan.toml"), profile).unwrap();
    Answers::from_plan(&plan, &nowhere.join("MDaemon"), profile)
}

fn app(nowhere: &Path) -> App {
    let profile = Profile::builtin();
    let earlier = EarlierRun {
        wizard_plan: nowhere.join("MDaemon/mdcluster/wizard-plan.toml"),
        ..EarlierRun::default()
    };
    App::new(profile.clone(), answers(nowhere, &profile), false, earlier)
}

fn key(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

fn probes(cmds: &[Cmd]) -> Vec<String> {
    cmds.iter()
        .filter_map(|c| match c {
            Cmd::ProbeFolder { path } => Some(path.clone()),
            _ => None,
        })
        .collect()
}

/// The kinds of commands, for failure messages (a command may carry a
/// join code, so it has no Debug).
fn kinds(cmds: &[Cmd]) -> Vec<&'static str> {
    cmds.iter()
        .map(|c| match c {
            Cmd::Preview { .. } => "Preview",
            Cmd::Discover { .. } => "Discover",
            Cmd::HoldLock { .. } => "HoldLock",
            Cmd::ReleaseLock => "ReleaseLock",
            Cmd::ProbeFolder { .. } => "ProbeFolder",
            Cmd::Register { .. } => "Register",
            Cmd::Join { .. } => "Join",
            Cmd::StopJoin => "StopJoin",
            Cmd::FollowLog { .. } => "FollowLog",
            Cmd::WatchHealth { .. } => "WatchHealth",
            Cmd::StopHealth => "StopHealth",
            Cmd::Apply { .. } => "Apply",
            Cmd::Undo { .. } => "Undo",
            Cmd::UndoList { .. } => "UndoList",
            Cmd::SavePlan { .. } => "SavePlan",
        })
        .collect()
}

fn previews(cmds: &[Cmd]) -> Vec<u64> {
    cmds.iter()
        .filter_map(|c| match c {
            Cmd::Preview { generation, .. } => Some(*generation),
            _ => None,
        })
        .collect()
}

#[test]
fn the_share_folder_is_asked_about_by_a_command_and_judged_from_the_answer() {
    let nowhere = nowhere();
    let mut app = app(&nowhere);
    let share = nowhere.join("share").display().to_string();

    // The first update asks about the share's folder and the manifest lock
    // (both by command), and the preview starts.
    assert_eq!(app.first_invalid(), None);
    let cmds = app.update(Msg::Tick(Instant::now()));
    assert_eq!(probes(&cmds), std::slice::from_ref(&share));
    assert!(cmds.iter().any(
        |c| matches!(c, Cmd::HoldLock { share, .. } if share.to_string() == "\\\\FS1\\MDShare")
    ));
    let first = app.start();
    assert_eq!(previews(&first).len(), 1, "{:?}", kinds(&first));
    assert!(matches!(app.preview, PreviewState::Computing));
    // Asked once, not on every message.
    assert!(probes(&app.update(Msg::Tick(Instant::now()))).is_empty());

    // The answer: no such folder. The field says so, the preview waits, and
    // the preview already under way is of answers no longer valid.
    let in_flight = previews(&first)[0];
    let cmds = app.update(Msg::FolderProbed {
        path: share.clone(),
        is_dir: false,
    });
    assert!(previews(&cmds).is_empty());
    app.update(Msg::Preview {
        generation: in_flight,
        result: Err(Problem::refused("stale")),
    });
    assert!(matches!(app.preview, PreviewState::Waiting));
    let why = app.field_error(FieldId::SharedLocal).unwrap();
    assert!(why.contains("is not an existing folder"), "{why}");
    assert_eq!(
        app.first_invalid().map(|(f, _)| f),
        Some(FieldId::SharedLocal)
    );
    assert!(matches!(app.preview, PreviewState::Waiting));
    assert!(app.can_apply().is_err());

    // An answer about text no longer in the field changes nothing.
    app.update(Msg::FolderProbed {
        path: "/somewhere/else".into(),
        is_dir: true,
    });
    assert!(app.field_error(FieldId::SharedLocal).is_some());
    // A "no" is asked again after a while (the share may be mounted by then).
    let later = app.update(Msg::Tick(
        Instant::now() + std::time::Duration::from_secs(30),
    ));
    assert_eq!(probes(&later), std::slice::from_ref(&share));
    // One question at a time: nothing more while it is under way.
    app.focus = Focus::Field(FieldId::SharedLocal);
    assert!(probes(&app.update(key(KeyCode::Char('x')))).is_empty());
    app.update(key(KeyCode::Backspace));
    app.update(Msg::FolderProbed {
        path: share.clone(),
        is_dir: false,
    });

    // Typing in the field asks again (by command) for the new text.
    app.focus = Focus::Field(FieldId::SharedLocal);
    let cmds = app.update(key(KeyCode::Char('2')));
    assert_eq!(probes(&cmds), [format!("{share}2")]);
    // Meanwhile the new text counts as valid (the shared-path step checks
    // it again); a "yes" starts the preview.
    let cmds = app.update(Msg::FolderProbed {
        path: format!("{share}2"),
        is_dir: true,
    });
    assert_eq!(previews(&cmds).len(), 1, "{:?}", kinds(&cmds));
    assert!(app.field_error(FieldId::SharedLocal).is_none());

    // What the preview job says comes back as a message.
    let generation = previews(&cmds)[0];
    app.update(Msg::Preview {
        generation,
        result: Err(Problem::refused("the installation cannot be read")),
    });
    assert!(matches!(&app.preview, PreviewState::Failed(p) if p.what.contains("cannot be read")));
    assert!(!nowhere.exists(), "update created {}", nowhere.display());
}

#[test]
fn the_manifest_lock_is_asked_for_by_command_and_another_holder_blocks_apply() {
    let nowhere = nowhere();
    let mut app = app(&nowhere);
    let t0 = Instant::now();
    let cmds = app.update(Msg::Tick(t0));
    let seqs: Vec<u64> = cmds
        .iter()
        .filter_map(|c| match c {
            Cmd::HoldLock { seq, .. } => Some(*seq),
            _ => None,
        })
        .collect();
    assert_eq!(seqs.len(), 1);
    let seq = seqs[0];
    // Not asked again while nothing changed, and apply waits for the answer.
    let again = app.update(Msg::Tick(t0));
    assert!(!again.iter().any(|c| matches!(c, Cmd::HoldLock { .. })));
    assert!(app
        .can_apply()
        .unwrap_err()
        .contains("waiting for the cluster manifest lock"));
    // Answers to older or overtaken requests change nothing.
    app.update(Msg::ClusterLock {
        seq: seq - 1,
        answer: LockAnswer::Held,
    });
    app.update(Msg::ClusterLock {
        seq,
        answer: LockAnswer::Void,
    });
    assert_eq!(app.cluster.lock_pending, Some(seq));

    app.update(Msg::ClusterLock {
        seq,
        answer: LockAnswer::Elsewhere("wizard on MAIL9, process 4242".into()),
    });
    assert_eq!(
        app.cluster.lock_held_by.as_deref(),
        Some("wizard on MAIL9, process 4242")
    );
    assert!(app.events.iter().any(|e| e.contains("another mdcluster")));
    assert!(app.can_apply().unwrap_err().contains("MAIL9"));
    // A late answer of an older request cannot hide the other holder.
    app.update(Msg::ClusterLock {
        seq: seq - 1,
        answer: LockAnswer::Held,
    });
    assert!(app.cluster.lock_held_by.is_some());
    // Asked again after a while, by command.
    let later = app.update(Msg::Tick(t0 + std::time::Duration::from_secs(60)));
    let seq = later
        .iter()
        .find_map(|c| match c {
            Cmd::HoldLock { seq, .. } => Some(*seq),
            _ => None,
        })
        .expect("asked again");

    // The share is not there: no holder, and asked again later too.
    app.update(Msg::ClusterLock {
        seq,
        answer: LockAnswer::NoShare,
    });
    assert!(app.cluster.lock_held_by.is_none() && app.cluster.share_missing);
    let later = app.update(Msg::Tick(t0 + std::time::Duration::from_secs(120)));
    assert!(later.iter().any(|c| matches!(c, Cmd::HoldLock { .. })));
    assert!(!nowhere.exists());
}

#[test]
fn saving_a_plan_is_a_command_and_its_refusal_a_message() {
    let nowhere = nowhere();
    let mut app = app(&nowhere);
    app.update(Msg::Tick(Instant::now()));
    app.update(Msg::FolderProbed {
        path: nowhere.join("share").display().to_string(),
        is_dir: true,
    });
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('s'),
        KeyModifiers::NONE,
    )));
    let target = nowhere.join("plan.toml");
    app.save_path = target.display().to_string();
    let cmds = app.update(key(KeyCode::Enter));
    assert!(
        cmds.iter()
            .any(|c| matches!(c, Cmd::SavePlan { path, .. } if *path == target)),
        "{:?}",
        kinds(&cmds)
    );
    // The file exists after all (the command found it): said in the dialog.
    app.update(Msg::Saved(Err(
        "that file exists; choose another name".into()
    )));
    assert_eq!(
        app.save_error.as_deref(),
        Some("that file exists; choose another name")
    );
    assert!(!nowhere.exists());
}

/// The undo question offers the latest run alone only when the journal
/// says it can be undone alone (the list comes by message), and `l` then
/// asks for exactly that; without it, `l` does nothing.
#[test]
fn undo_offers_the_latest_run_alone_only_when_it_can_be() {
    let nowhere = nowhere();
    for offered in [false, true] {
        let mut app = app(&nowhere);
        app.undo_available = true;
        let cmds = app.update(key(KeyCode::Char('u')));
        assert!(kinds(&cmds).contains(&"UndoList"), "{:?}", kinds(&cmds));
        app.update(Msg::UndoList {
            list: Ok(vec!["[server-ids] restore the manifest".into(); 3]),
            latest: offered.then(|| {
                (
                    "r2".to_string(),
                    vec!["[load-balancer] restore the files".into()],
                )
            }),
            finishing_latest: false,
        });
        let cmds = app.update(key(KeyCode::Char('l')));
        let undo: Vec<Option<String>> = cmds
            .iter()
            .filter_map(|c| match c {
                Cmd::Undo { latest, .. } => Some(latest.clone()),
                _ => None,
            })
            .collect();
        if offered {
            // The run shown is the run undone (refused as stale otherwise).
            assert_eq!(undo, [Some("r2".to_string())], "{:?}", kinds(&cmds));
            assert!(app.undoing_latest);
        } else {
            assert!(undo.is_empty(), "{:?}", kinds(&cmds));
            // `y` is still the undo of everything.
            let cmds = app.update(key(KeyCode::Char('y')));
            assert!(cmds
                .iter()
                .any(|c| matches!(c, Cmd::Undo { latest: None, .. })));
            assert!(!app.undoing_latest);
        }
    }
}
