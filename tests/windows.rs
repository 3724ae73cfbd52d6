//! What only Windows does, tested where mdcluster runs: on Windows, and in CI
//! under Wine (scripts/test-windows.sh). Drive letters and UNC paths used as
//! they are, names that differ only in case being one name, a file another
//! program holds open, paths beyond MAX_PATH, process liveness and the
//! service manager's `sc`.
//!
//! Tests that change the machine (C:\MDaemon, starting a service) run only
//! where MDCLUSTER_UNDER_WINE is set (scripts/test-windows.sh sets it): on a
//! real server they could meet a real MDaemon.
#![cfg(windows)]

mod common;
use common::*;
use mdcluster::location::Resolver;
use mdcluster::profile::Profile;
use mdcluster::service::{Service, State};
use mdcluster::winpath::WinPath;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn under_wine() -> bool {
    std::env::var_os("MDCLUSTER_UNDER_WINE").is_some()
}

#[test]
fn drive_letters_and_unc_paths_are_used_as_they_are() {
    let r = Resolver::new(vec![]);
    for p in [
        r"C:\MDaemon\App\MDaemon.ini",
        r"\\fileserver\mdaemon\Users\LockFiles",
        r"d:\Mail Store\Public Folders",
    ] {
        let loc = r.locate(&WinPath::parse(p).unwrap()).unwrap();
        assert_eq!(loc.local, PathBuf::from(p));
    }
}

/// The sandbox at its real Windows path, C:\MDaemon, reached natively (no
/// mapping for it). Only under Wine.
struct NativeLab {
    root: PathBuf,
    share: PathBuf,
    plan: PathBuf,
    _tmp: tempfile::TempDir,
}

impl NativeLab {
    fn new() -> Option<NativeLab> {
        if !under_wine() {
            eprintln!("skipped: changes C:\\MDaemon; runs only under Wine (MDCLUSTER_UNDER_WINE)");
            return None;
        }
        let root = PathBuf::from(mdcluster::sandbox::WINDOWS_ROOT);
        if root.exists() {
            assert!(
                root.join(mdcluster::service::SANDBOX_MARKER).exists(),
                "C:\\MDaemon exists and is not a sandbox: not touching it"
            );
            std::fs::remove_dir_all(&root).unwrap();
        }
        let profile = Profile::builtin();
        let opts = mdcluster::sandbox::Options {
            accounts: 3,
            messages: 6,
            seed: 7,
            message_size: None,
        };
        mdcluster::sandbox::create(&root, &profile, &opts).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let share = tmp.path().join("Share");
        std::fs::create_dir(&share).unwrap();
        let plan = tmp.path().join("plan.toml");
        // The share must be a UNC path (a drive is refused); Wine has no SMB
        // server, so that one path is mapped to a folder.
        let text = format!(
            "version = 1\n[install]\nroot = 'C:\\MDaemon'\n[shared]\npath = '\\\\fileserver\\mdaemon'\n\
             [[nodes]]\nname = \"MAIL1\"\naddress = \"127.0.0.1\"\nrole = \"primary\"\nserver_id = 1\n\
             [[mounts]]\nwindows = '\\\\fileserver\\mdaemon'\nlocal = {}\n",
            toml::Value::String(share.display().to_string())
        );
        std::fs::write(&plan, text).unwrap();
        Some(NativeLab {
            root,
            share,
            plan,
            _tmp: tmp,
        })
    }

    fn apply(&self) -> assert_cmd::Command {
        let mut c = mdcluster();
        c.args(["apply", "--plan"]).arg(&self.plan);
        c
    }
}

impl Drop for NativeLab {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

// One test, as every case needs C:\MDaemon to itself.
#[test]
fn a_native_installation_moves_undoes_and_guards_case_and_length() {
    let Some(lab) = NativeLab::new() else { return };
    let before = tree_hash(&lab.root, true);

    // Native paths in the preview: backslashes, no mapping, no mixed separators.
    let out = lab.apply().arg("--dry-run").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(r"C:\MDaemon\Users\"), "{text}");
    assert!(
        !text.contains("/**/") && !text.contains(r"MDaemon/"),
        "{text}"
    );

    // A folder on the share named like an account's, in other case, is the
    // same folder on Windows: refused, nothing changed.
    let domain = std::fs::read_dir(lab.root.join("Users"))
        .unwrap()
        .flatten()
        .find(|e| e.path().is_dir() && e.file_name().to_string_lossy().contains('.'))
        .unwrap()
        .file_name()
        .to_string_lossy()
        .to_uppercase();
    let twin = lab.share.join("Users").join(&domain);
    std::fs::create_dir_all(&twin).unwrap();
    std::fs::write(twin.join("theirs.msg"), b"not ours").unwrap();
    let out = lab.apply().arg("--yes").output().unwrap();
    assert!(!out.status.success(), "moved onto {}", twin.display());
    assert_eq!(tree_hash(&lab.root, true), before, "nothing changed");
    assert_eq!(std::fs::read(twin.join("theirs.msg")).unwrap(), b"not ours");
    std::fs::remove_dir_all(lab.share.join("Users")).unwrap();

    // A path beyond MAX_PATH (which MDaemon cannot open): refused by name.
    let mut deep = lab.root.join("Users").join(&domain);
    while deep.as_os_str().len() < 280 {
        deep = deep.join(format!("{}.IMAP", "d".repeat(40)));
    }
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(deep.join("md50000000001.msg"), b"deep").unwrap();
    let out = lab.apply().arg("--yes").output().unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success() && all.contains("MAX_PATH"), "{all}");
    let mut top = lab.root.join("Users").join(&domain);
    top.push(
        deep.strip_prefix(&top)
            .unwrap()
            .components()
            .next()
            .unwrap(),
    );
    std::fs::remove_dir_all(&top).unwrap();
    assert_eq!(tree_hash(&lab.root, true), before);

    // The move itself, then undo: byte for byte.
    lab.apply().arg("--yes").assert().success();
    assert!(lab.share.join("Users").join(&domain).is_dir());
    mdcluster()
        .args(["undo", "--yes", "--plan"])
        .arg(&lab.plan)
        .assert()
        .success();
    assert_eq!(
        tree_hash(&lab.root, true),
        before,
        "undo restores every byte"
    );
}

#[test]
fn a_file_held_open_is_replaced_once_it_is_let_go() {
    let dir = tempfile::tempdir().unwrap();
    let ini = dir.path().join("MDaemon.ini");
    std::fs::write(&ini, b"[Directories]\r\nUsers=C:\\MDaemon\\Users\\\r\n").unwrap();
    // Another program has the file open without sharing delete (MDaemon,
    // an editor, a virus scanner): a rename over it is refused meanwhile.
    let held = std::fs::File::open(&ini).unwrap();
    let err = mdcluster::fsops::atomic::write_atomic(&ini, b"new", None).unwrap_err();
    assert!(err.to_string().contains("MDaemon.ini"), "{err}");
    assert!(std::fs::read(&ini).unwrap().starts_with(b"[Directories]"));
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
    assert_eq!(left.len(), 1, "no temporary file left: {left:?}");
    // Let go during the retries: the replacement goes through.
    let closer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        drop(held);
    });
    mdcluster::fsops::atomic::write_atomic(&ini, b"new", None).unwrap();
    closer.join().unwrap();
    assert_eq!(std::fs::read(&ini).unwrap(), b"new");
}

#[test]
fn names_differing_in_case_are_one_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Userlist.dat"), b"x").unwrap();
    assert!(mdcluster::fsops::identity::same_file(
        &dir.path().join("Userlist.dat"),
        &dir.path().join("USERLIST.DAT")
    ));
    assert!(dir.path().join("userlist.dat").exists());
}

#[test]
fn volumes_tell_a_rename_from_a_copy() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir(&a).unwrap();
    assert!(mdcluster::fsops::identity::device(&a).is_some());
    assert_eq!(
        mdcluster::fsops::mover::same_filesystem(&a, &b.join("not yet")),
        Some(true)
    );
}

#[test]
fn a_finished_process_is_dead_and_a_running_one_alive() {
    assert!(mdcluster::platform::process_alive(std::process::id()));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mdcluster"))
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    child.wait().unwrap();
    drop(child);
    assert!(!mdcluster::platform::process_alive(pid));
}

#[test]
fn usage_names_mdcluster_not_the_exe() {
    let out = mdcluster().arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Usage: mdcluster "), "{text}");
    assert!(!text.contains("mdcluster.exe"), "{text}");
}

/// The service manager through `sc`, on a service Wine has and keeps
/// stopped (wuauserv): query, start, wait, stop, wait.
#[test]
fn the_service_is_asked_stopped_and_started_through_sc() {
    if !under_wine() {
        eprintln!(
            "skipped: starts and stops a service; runs only under Wine (MDCLUSTER_UNDER_WINE)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut profile = Profile::builtin();
    profile.install.service_name.value = "wuauserv".into();
    let service = Service::of(dir.path(), &profile);
    let wait = |running: bool| {
        service
            .wait(running, Duration::from_secs(30), &mut |_| {})
            .unwrap()
    };
    if service.state() == State::Running {
        service.request_stop().unwrap();
        wait(false);
    }
    assert_eq!(service.state(), State::Stopped);
    service.request_start().unwrap();
    wait(true);
    assert_eq!(service.state(), State::Running);
    service.request_stop().unwrap();
    wait(false);
    assert_eq!(service.state(), State::Stopped);

    profile.install.service_name.value = "NoSuchService".into();
    let missing = Service::of(dir.path(), &profile);
    assert!(
        matches!(missing.state(), State::Unknown(_) | State::Stopped),
        "{:?}",
        missing.state()
    );
}

#[test]
fn a_path_is_its_own_identity_through_its_short_and_long_names() {
    let dir = tempfile::tempdir().unwrap();
    let long = dir.path().join("Public Folders");
    std::fs::create_dir(&long).unwrap();
    let verbatim = PathBuf::from(format!(r"\\?\{}", long.display()));
    assert!(mdcluster::fsops::identity::same_file(&long, &verbatim));
    assert!(!mdcluster::fsops::identity::same_file(
        &long,
        Path::new(r"C:\")
    ));
}
