//! Bad input: each case gets a clear error naming the problem and the fix,
//! its documented exit code, and no change on disk (hash of the whole tree).

mod common;
use common::*;

/// Run `apply --yes` and check the refusal: exit code, message parts, nothing changed.
fn refused(lab: &Lab, code: i32, needles: &[&str]) {
    let before = lab.hash();
    let out = lab.apply().arg("--yes").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {stderr}");
    for n in needles {
        assert!(stderr.contains(n), "expected {n:?} in: {stderr}");
    }
    assert!(
        stderr.contains("what to do:"),
        "every refusal says what to do: {stderr}"
    );
    assert_eq!(lab.hash(), before, "nothing may change");
    assert!(
        !lab.install.join("mdcluster").exists(),
        "no state written on a refusal"
    );
}

#[test]
fn missing_mdaemon_ini() {
    let lab = Lab::new();
    std::fs::remove_file(lab.ini()).unwrap();
    refused(
        &lab,
        3,
        &[
            "could not read MDaemon.ini",
            "does not exist",
            "[install] root",
        ],
    );
}

#[test]
fn unreadable_mdaemon_ini() {
    let lab = Lab::new();
    // A folder where the file should be cannot be read, also by root.
    std::fs::remove_file(lab.ini()).unwrap();
    std::fs::create_dir(lab.ini()).unwrap();
    refused(&lab, 3, &["could not read MDaemon.ini"]);
}

#[test]
fn mdaemon_ini_without_directories() {
    let lab = Lab::new();
    lab.edit_ini(b"[Directories]", b"[Folders]");
    refused(&lab, 3, &["has no [Directories] section"]);
}

#[test]
fn empty_directories_value() {
    let lab = Lab::new();
    lab.edit_ini(b"Backup=C:\\MDaemon\\Backup\\", b"Backup=");
    refused(
        &lab,
        3,
        &["[Directories] Backup in MDaemon.ini is empty", "line"],
    );
}

#[test]
fn relative_directories_value() {
    let lab = Lab::new();
    lab.edit_ini(
        b"LockFiles=C:\\MDaemon\\LockFiles\\",
        b"LockFiles=LockFiles\\",
    );
    refused(
        &lab,
        3,
        &[
            "LockFiles in MDaemon.ini is not an absolute folder path",
            "relative",
        ],
    );
}

#[test]
fn missing_lockfiles_key() {
    let lab = Lab::new();
    lab.edit_ini(b"LockFiles=C:\\MDaemon\\LockFiles\\\r\n", b"");
    refused(&lab, 3, &["has no LockFiles entry"]);
}

#[test]
fn shared_path_missing() {
    let lab = Lab::new();
    std::fs::remove_dir(&lab.share).unwrap();
    refused(
        &lab,
        3,
        &["[shared-path] exists", "create the shared folder"],
    );
}

#[test]
fn shared_path_not_a_folder() {
    let lab = Lab::new();
    std::fs::remove_dir(&lab.share).unwrap();
    std::fs::write(&lab.share, b"a file").unwrap();
    refused(&lab, 3, &["is not a folder"]);
}

// Windows ignores the read-only attribute on folders; a share there is
// read-only through its ACL or the server's export, which a test cannot set up.
#[cfg(unix)]
#[test]
fn shared_path_read_only() {
    let lab = Lab::new();
    if is_root() {
        // Root ignores permission bits: use a read-only file system.
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "ro,size=64m", "tmpfs"])
            .arg(&lab.share)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(
            ok,
            "as root this test mounts a read-only tmpfs; mount failed"
        );
    } else {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&lab.share, std::fs::Permissions::from_mode(0o555)).unwrap();
    }
    let result = std::panic::catch_unwind(|| refused(&lab, 3, &["writable", "write access"]));
    if is_root() {
        let _ = std::process::Command::new("umount")
            .arg(&lab.share)
            .status();
    }
    result.unwrap();
}

#[test]
fn shared_path_inside_the_folder_being_moved() {
    let lab = Lab::new();
    // Through the mount, the "share" is really a folder inside LockFiles.
    let inside = lab.install.join("LockFiles/share");
    std::fs::create_dir(&inside).unwrap();
    let text = std::fs::read_to_string(&lab.plan).unwrap();
    let share = toml::Value::String(lab.share.to_string_lossy().into_owned()).to_string();
    let inside_q = toml::Value::String(inside.to_string_lossy().into_owned()).to_string();
    std::fs::write(&lab.plan, text.replace(&share, &inside_q)).unwrap();
    refused(&lab, 3, &["outside the installation", "inside"]);
}

#[test]
fn shared_path_inside_the_installation_by_name() {
    let lab = Lab::new();
    lab.edit_plan(
        "path = '\\\\fileserver\\mdaemon'",
        "path = 'c:\\mdaemon\\Share'",
    );
    refused(&lab, 2, &["plan.toml:9:8", "inside the installation"]);
}

#[test]
fn drive_letter_shared_path() {
    let lab = Lab::new();
    lab.edit_plan("path = '\\\\fileserver\\mdaemon'", "path = 'S:\\mdaemon'");
    lab.edit_plan(
        "windows = '\\\\fileserver\\mdaemon'",
        "windows = 'S:\\mdaemon'",
    );
    refused(&lab, 3, &["[shared-path] UNC path", "drive letters"]);
}

#[test]
fn target_already_holding_different_data() {
    let lab = Lab::new();
    std::fs::create_dir_all(lab.share.join("Users/LockFiles")).unwrap();
    std::fs::write(
        lab.share.join("Users/LockFiles/someone-else.lck"),
        b"foreign",
    )
    .unwrap();
    refused(
        &lab,
        3,
        &[
            "already holds different data",
            "someone-else.lck",
            "never overwrites",
        ],
    );
}

#[test]
fn pem_target_with_different_data() {
    let lab = Lab::new();
    std::fs::create_dir_all(lab.share.join("PEM/MDaemon")).unwrap();
    std::fs::write(lab.share.join("PEM/MDaemon/rsa.private"), b"another key").unwrap();
    refused(&lab, 3, &["[pem] target is free", "rsa.private"]);
}

#[cfg(unix)]
#[test]
fn a_link_in_a_folder_to_move() {
    let lab = Lab::new();
    std::os::unix::fs::symlink("/etc", lab.install.join("LockFiles/etc")).unwrap();
    refused(&lab, 3, &["link", "never follows"]);
}

// A small file system is a tmpfs mount here; Windows has no mount.
#[cfg(unix)]
#[test]
fn not_enough_free_space() {
    if !is_root() {
        assert!(
            std::env::var_os("MDCLUSTER_REQUIRE_ROOT_TESTS").is_none(),
            "CI runs this test as root"
        );
        eprintln!("skipped: needs root to mount a small tmpfs");
        return;
    }
    let lab = Lab::new();
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&lab.share)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "mounting a small tmpfs failed");
    let result = std::panic::catch_unwind(|| refused(&lab, 3, &["free space", "are needed"]));
    let _ = std::process::Command::new("umount")
        .arg(&lab.share)
        .status();
    result.unwrap();
}

#[test]
fn invalid_plans_exit_2_with_position() {
    let lab = Lab::new();
    lab.edit_plan("version = 1", "version = 1\nbogus = true");
    refused(&lab, 2, &["plan.toml:4:1", "unknown key"]);
    let lab = Lab::new();
    lab.edit_plan("server_id = 1", "server_id = \"one\"");
    refused(
        &lab,
        2,
        &["plan.toml:", "must be a whole number, not the text \"one\""],
    );
    let lab = Lab::new();
    lab.edit_plan("root = 'C:\\MDaemon'", "root = \"C:\\MDaemon\"");
    refused(&lab, 2, &["plan.toml:6:", "single quotes"]);
}

// Off Windows only: on Windows a Windows path needs no mapping.
#[cfg(not(windows))]
#[test]
fn windows_paths_without_mounts_say_how_to_map_them() {
    let lab = Lab::new();
    let text = std::fs::read_to_string(&lab.plan).unwrap();
    let cut = text.find("\n[[mounts]]").unwrap();
    std::fs::write(&lab.plan, &text[..cut]).unwrap();
    refused(&lab, 2, &["this machine is not Windows", "[[mounts]]"]);
}

#[test]
fn a_journal_of_a_different_plan() {
    let lab = Lab::new();
    lab.apply().arg("--yes").assert().success();
    let other_share = lab.tmp.path().join("share2");
    std::fs::create_dir(&other_share).unwrap();
    lab.edit_plan(
        "path = '\\\\fileserver\\mdaemon'",
        "path = '\\\\fileserver2\\mdaemon'",
    );
    lab.edit_plan(
        "windows = '\\\\fileserver\\mdaemon'",
        "windows = '\\\\fileserver2\\mdaemon'",
    );
    let before = lab.hash();
    let journal = std::fs::read(lab.install.join("mdcluster/journal.jsonl")).unwrap();
    let out = lab.apply().arg("--yes").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("different plan"), "{stderr}");
    assert!(stderr.contains("mdcluster undo --plan"), "{stderr}");
    assert_eq!(lab.hash(), before);
    assert_eq!(
        std::fs::read(lab.install.join("mdcluster/journal.jsonl")).unwrap(),
        journal
    );
}

#[test]
fn a_bad_profile_file() {
    let lab = Lab::new();
    let profile = lab.tmp.path().join("profile.toml");
    std::fs::write(&profile, "format = 1\nname = \"x\"\n").unwrap();
    let before = lab.hash();
    let out = lab
        .apply()
        .arg("--yes")
        .arg("--profile")
        .arg(&profile)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid profile"));
    assert_eq!(lab.hash(), before);
}

#[test]
fn mdaemon_ini_changed_between_preview_and_change_is_stale() {
    // The INI edit checks the file's hash from the preview before writing.
    // Stop a run right after the directories step recorded its actions (the
    // record number comes from a reference run's journal), change the file,
    // and resume: the edit must refuse rather than overwrite the change.
    let reference = Lab::new();
    reference.apply().arg("--yes").assert().success();
    let journal =
        std::fs::read_to_string(reference.install.join("mdcluster/journal.jsonl")).unwrap();
    let crash_at = journal
        .lines()
        .position(|l| l.contains(r#""record":"step-begin","step":"directories""#))
        .expect("directories step in the journal")
        + 1;
    let lab = Lab::new();
    let out = lab
        .apply()
        .arg("--yes")
        .env("MDCLUSTER_CRASH_AFTER_RECORD", crash_at.to_string())
        .output()
        .unwrap();
    assert!(!out.status.success());
    lab.edit_ini(b"MAXTHREADS=20", b"MAXTHREADS=40");
    let out = lab.apply().arg("--yes").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert!(stderr.contains("changed after the preview"), "{stderr}");
    assert!(
        String::from_utf8_lossy(&lab.ini_bytes()).contains("MAXTHREADS=40"),
        "the other change is kept"
    );
    assert!(
        String::from_utf8_lossy(&lab.ini_bytes()).contains("LockFiles=C:\\MDaemon\\LockFiles\\")
    );
}

#[test]
fn a_second_mdcluster_at_the_same_time_is_refused() {
    let lab = Lab::new();
    let state = lab.install.join("mdcluster");
    std::fs::create_dir(&state).unwrap();
    // This test process plays the first mdcluster: it holds the OS lock.
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(state.join("lock"))
        .unwrap();
    lock.try_lock().unwrap();
    std::fs::write(
        state.join("lock-holder.json"),
        br#"{"host":"MAIL1","pid":4242,"since":"2026-11-21T10:00:00Z","command":"apply"}"#,
    )
    .unwrap();
    let before = lab.hash();
    let out = lab.apply().arg("--yes").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("another mdcluster is working on this installation: process 4242 on MAIL1"),
        "{stderr}"
    );
    assert_eq!(lab.hash(), before);
    // Once the first one is gone (its lock released), the run goes ahead.
    drop(lock);
    lab.apply().arg("--yes").assert().success();
}

/// The preview an administrator approved (the wizard's confirm, or a review
/// before `apply` goes on), then MDaemon.ini changed by someone else: the
/// run is refused as stale (exit 6) before its first change, and their
/// change is kept.
#[test]
fn mdaemon_ini_changed_after_the_preview_was_approved_is_refused_before_any_change() {
    use mdcluster::engine::{events::Collect, Engine};
    use mdcluster::problem::Exit;
    let lab = Lab::new();
    let profile = mdcluster::profile::Profile::builtin();
    let plan = mdcluster::plan::Plan::load(&lab.plan, &profile).unwrap();
    let mut engine = Engine::open(plan, profile).unwrap();
    let preview = engine.preview().unwrap();
    lab.edit_ini(b"MAXTHREADS=20", b"MAXTHREADS=40");
    let before = lab.hash();
    let err = engine
        .apply(&preview, "test", &Collect::default())
        .unwrap_err();
    assert_eq!(err.exit, Exit::Stale, "{err:?}");
    assert!(err.what.contains("changed after the preview"), "{err:?}");
    assert!(err.fix.as_deref().unwrap_or("").contains("fresh preview"));
    assert_eq!(lab.hash(), before, "nothing may change");
    assert!(String::from_utf8_lossy(&lab.ini_bytes()).contains("MAXTHREADS=40"));
}
