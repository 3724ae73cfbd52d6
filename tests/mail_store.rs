//! The mail-store move (step 4) end to end through the real binary.

mod common;
use common::*;
use std::path::Path;
use std::time::Duration;

fn userlist(lab: &Lab) -> Vec<u8> {
    std::fs::read(lab.install.join("App/Userlist.dat")).unwrap()
}

#[test]
fn across_file_systems_the_copy_equals_the_source_file_for_file() {
    let lab = Lab::cross_fs();
    let expected = expected_on_share(&lab);
    assert!(expected.len() > 500);
    let before = lab.hash();
    let out = lab.apply().args(["--yes", "--json"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Content, size, modification time and mode of every message, identical.
    assert_eq!(files_on_share(&lab), expected);
    for dir in ["Users", "Public Folders", "MailExtra/example.com"] {
        let left = std::fs::read_dir(lab.install.join(dir))
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(left, 0, "{dir} is empty after the move");
    }
    let events = json_lines(&out.stdout);
    let progress: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["event"] == "step-progress" && e["step"] == "mail-store")
        .collect();
    assert!(!progress.is_empty());
    // Honest progress: per folder, copy then flush then delete (each said),
    // nothing deleted before the delete phase, and the step's bytes never
    // going back nor past their total.
    let order = |p: &str| {
        ["copy", "flush", "delete"]
            .iter()
            .position(|x| *x == p)
            .unwrap()
    };
    let mut last_step_bytes = 0;
    let mut phases_of: std::collections::BTreeMap<u64, Vec<String>> = Default::default();
    for p in &progress {
        let folder = p["folder"].as_u64().unwrap();
        let phase = p["phase"].as_str().unwrap().to_string();
        let seen = phases_of.entry(folder).or_default();
        if let Some(prev) = seen.last() {
            assert!(order(prev) <= order(&phase), "{prev} then {phase}: {p}");
        }
        if seen.last() != Some(&phase) {
            seen.push(phase.clone());
        }
        if phase != "delete" {
            assert_eq!(p["files_removed"], 0, "{p}");
        }
        let step_bytes = p["step_bytes_done"].as_u64().unwrap();
        assert!(step_bytes >= last_step_bytes, "{p}");
        assert!(step_bytes <= p["step_bytes_total"].as_u64().unwrap(), "{p}");
        assert!(
            folder >= 1 && folder <= p["folders"].as_u64().unwrap(),
            "{p}"
        );
        last_step_bytes = step_bytes;
    }
    assert!(
        phases_of.values().any(|p| p.len() == 3),
        "some folder said all three phases: {phases_of:?}"
    );
    let last = progress.last().unwrap();
    assert_eq!(last["step_bytes_done"], last["step_bytes_total"], "{last}");
    lab.undo();
    assert_eq!(lab.hash(), before);
}

#[test]
fn userlist_lines_change_only_in_the_mail_dir_field() {
    let lab = Lab::new();
    let before = userlist(&lab);
    lab.apply().arg("--yes").assert().success();
    let after = userlist(&lab);
    let lines = |b: &[u8]| {
        b.split(|c| *c == b'\n')
            .map(<[u8]>::to_vec)
            .collect::<Vec<_>>()
    };
    let (a, b) = (lines(&before), lines(&after));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b).filter(|(x, _)| !x.is_empty()) {
        assert_eq!(x.len(), y.len(), "fixed width kept");
        assert_eq!(x[..105], y[..105]);
        assert_eq!(x[195..], y[195..], "password and flags untouched");
        let new = String::from_utf8_lossy(&y[105..195]).trim_end().to_string();
        assert!(new.starts_with(r"\\fileserver\mdaemon\Users\"), "{new}");
        let rel = new
            .trim_start_matches(r"\\fileserver\mdaemon\")
            .replace('\\', "/");
        assert!(
            lab.share.join(rel).join("Hiwater.mrk").is_file(),
            "the account points at a folder that holds its mail"
        );
    }
}

fn refused(lab: &Lab, args: &[&str], needles: &[&str]) {
    let before = lab.hash();
    let out = lab.apply().arg("--yes").args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    for n in needles {
        assert!(stderr.contains(n), "expected {n:?} in {stderr}");
    }
    assert_eq!(lab.hash(), before, "nothing moved");
}

#[test]
fn a_mail_folder_too_long_for_userlist_is_refused_with_the_accounts_and_a_shorter_path() {
    let lab = Lab::new();
    let long = "a-very-long-share-folder-name-that-no-administrator-should-ever-pick";
    lab.edit_plan(
        "path = '\\\\fileserver\\mdaemon'",
        &format!("path = '\\\\fileserver\\mdaemon'\nmailboxes = '\\\\fileserver\\mdaemon\\{long}'"),
    );
    refused(
        &lab,
        &[],
        &[
            "longer than the 90 characters Userlist.dat holds",
            "@example.",
            "at most",
        ],
    );
}

// Unix only: names Windows itself refuses or folds together cannot be made there
// (tests/windows.rs covers the case twin a case-insensitive file system makes).
#[cfg(unix)]
#[test]
fn names_windows_or_the_share_would_refuse() {
    let lab = Lab::new();
    let mbx = std::fs::read_dir(lab.install.join("Users/example.org"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(mbx.join("Report.msg"), b"1").unwrap();
    std::fs::write(mbx.join("report.MSG"), b"2").unwrap();
    refused(
        &lab,
        &[],
        &["differ only in case", "Report.msg and report.MSG"],
    );

    let lab = Lab::new();
    let mbx = std::fs::read_dir(lab.install.join("Users/example.net"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(mbx.join("con.msg"), b"x").unwrap();
    std::fs::write(mbx.join("what?.msg"), b"x").unwrap();
    refused(
        &lab,
        &[],
        &["names valid on Windows", "2 found", "con.msg", "what?.msg"],
    );

    let lab = Lab::new();
    let mut deep = std::fs::read_dir(lab.install.join("Users/example.com"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    for i in 0..5 {
        deep = deep.join(format!("{}{i}.IMAP", "x".repeat(45)));
    }
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(deep.join("md50000000001.msg"), b"deep").unwrap();
    refused(&lab, &[], &["paths within MAX_PATH", "characters)"]);
}

#[test]
fn foreign_data_in_the_target_is_refused() {
    let lab = Lab::new();
    std::fs::create_dir_all(lab.share.join("Users/someone.else")).unwrap();
    std::fs::write(lab.share.join("Users/someone.else/mail.msg"), b"not ours").unwrap();
    refused(&lab, &[], &["targets hold no foreign data", "someone.else"]);
}

#[test]
fn without_userlist_the_store_does_not_move() {
    let lab = Lab::new();
    std::fs::remove_file(lab.install.join("App/Userlist.dat")).unwrap();
    refused(&lab, &[], &["Userlist.dat cannot be read", "ODBC or LDAP"]);
}

struct Simulation(std::process::Child);

impl Drop for Simulation {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn simulate(lab: &Lab) -> Simulation {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_mdcluster"))
        .args(["sandbox", "--run-service", "--service-seconds", "120"])
        .arg(&lab.install)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let state = lab.install.join(mdcluster::service::SIMULATION_STATE);
    for _ in 0..100 {
        if state.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(state.exists(), "the simulated MDaemon did not start");
    Simulation(child)
}

#[test]
fn a_running_mdaemon_is_refused_or_stopped_and_started_again() {
    let lab = Lab::new();
    let _sim = simulate(&lab);
    // The simulation keeps a state file in the sandbox; leave it out of the tree hash.
    let state_file = lab.install.join(mdcluster::service::SIMULATION_STATE);
    let before = {
        let s = std::fs::read(&state_file).unwrap();
        let h = lab.hash();
        (s, h)
    };
    let out = lab.apply().arg("--yes").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("MDaemon is running") && stderr.contains("--stop-mdaemon"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&state_file).unwrap(), before.0);
    assert_eq!(lab.hash(), before.1);

    lab.apply()
        .args(["--yes", "--stop-mdaemon"])
        .assert()
        .success();
    let log = std::fs::read_to_string(lab.install.join("Logs/SIMULATED-MDaemon.log")).unwrap();
    let stop = log.find("EXITNOW.SEM: stopped").expect("stopped");
    let start = log.find("RESTART.SEM: started").expect("started again");
    assert!(stop < start);
    let sim = mdcluster::service::read_simulated(&lab.install).unwrap();
    assert!(sim.running, "MDaemon runs again after the run");
    assert!(lab.share.join("Users/example.org").is_dir());

    // Undo stops it while the store moves back, and starts it again.
    lab.undo();
    let log = std::fs::read_to_string(lab.install.join("Logs/SIMULATED-MDaemon.log")).unwrap();
    assert_eq!(log.matches("EXITNOW.SEM: stopped").count(), 2);
    assert!(
        mdcluster::service::read_simulated(&lab.install)
            .unwrap()
            .running
    );
    assert!(lab.install.join("Users/example.org").is_dir());
}

#[test]
fn keep_source_then_cleanup_then_undo() {
    let lab = Lab::cross_fs();
    let before = lab.hash();
    let expected = expected_on_share(&lab);
    lab.apply()
        .args(["--yes", "--keep-source"])
        .assert()
        .success();
    assert_eq!(files_on_share(&lab), expected, "copied");
    assert_eq!(expected_on_share(&lab), expected, "and the source kept");
    // Mail that reached the old store after the copy is not the copy's: kept.
    let late = std::fs::read_dir(lab.install.join("Users/example.org"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("md50999999999.msg");
    std::fs::write(&late, b"late mail").unwrap();
    let out = mdcluster()
        .args(["cleanup", "--yes", "--plan"])
        .arg(&lab.plan)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        late.exists(),
        "a file without an identical copy is never deleted"
    );
    assert_eq!(
        expected_on_share(&lab).len(),
        1,
        "everything else of the old store is gone"
    );
    std::fs::remove_file(&late).unwrap();
    lab.undo();
    assert_eq!(
        lab.hash(),
        before,
        "undo brings the cleaned-up store back exactly"
    );
}

// A file system that fills up part-way is a tmpfs mount here; Windows has no mount.
#[cfg(unix)]
#[test]
fn a_failure_in_the_middle_stops_with_exit_4_and_loses_nothing() {
    if !is_root() {
        assert!(
            std::env::var_os("MDCLUSTER_REQUIRE_ROOT_TESTS").is_none(),
            "CI runs this test as root"
        );
        eprintln!("skipped: needs root to mount a tmpfs");
        return;
    }
    let lab = Lab::new();
    // Room enough by the free-space check, but too few inodes for the store:
    // the copy runs out of space part-way, like a full disk.
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256m,nr_inodes=300", "tmpfs"])
        .arg(&lab.share)
        .status()
        .unwrap()
        .success();
    assert!(ok, "mounting a tmpfs failed");
    let result = std::panic::catch_unwind(|| {
        let before = lab.hash();
        let out = lab.apply().arg("--yes").output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{stderr}");
        assert!(
            stderr.contains("[mail-store]") && stderr.contains("space"),
            "{stderr}"
        );
        assert!(
            stderr.contains(&lab.share.display().to_string()),
            "the message names the file: {stderr}"
        );
        // Every message is still at the source or verified on the share; undo restores all.
        lab.undo();
        assert_eq!(lab.hash(), before);
    });
    let _ = std::process::Command::new("umount")
        .arg(&lab.share)
        .status();
    result.unwrap();
}

#[test]
fn same_file_system_moves_by_rename() {
    let lab = Lab::new();
    let out = lab.apply().arg("--dry-run").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            r"move C:\MDaemon\Users\example.org\ -> \\fileserver\mdaemon\Users\example.org\"
        ),
        "{text}"
    );
    assert!(text.contains("one rename, same file system"));
    let inode = |p: &Path| common::file_number(p);
    let msg = walkdir::WalkDir::new(lab.install.join("Users/example.org"))
        .into_iter()
        .flatten()
        .find(|e| e.file_type().is_file())
        .unwrap()
        .into_path();
    let rel = msg.strip_prefix(&lab.install).unwrap().to_path_buf();
    let before = inode(&msg);
    lab.apply().arg("--yes").assert().success();
    assert_eq!(inode(&lab.share.join(rel)), before, "renamed, not copied");
}

#[test]
fn an_account_outside_the_users_tree_never_lands_on_an_existing_folder() {
    let lab = Lab::new();
    // The sandbox keeps one account under MailExtra; give the Users tree a folder of the same name.
    let outside = std::fs::read_dir(lab.install.join("MailExtra"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let domain = outside.file_name().unwrap().to_owned();
    let mailbox = std::fs::read_dir(&outside)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .file_name();
    std::fs::create_dir_all(lab.install.join("Users").join(&domain).join(&mailbox)).unwrap();
    refused(&lab, &[], &["would move onto", "already exists"]);
}

#[cfg(unix)]
#[test]
fn links_and_special_files_are_reported_not_copied_and_not_followed() {
    let lab = Lab::cross_fs();
    let mbx = std::fs::read_dir(lab.install.join("Users/example.org"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let outside = lab.tmp.path().join("outside-secret.txt");
    std::fs::write(&outside, b"must never be copied through a link").unwrap();
    std::os::unix::fs::symlink(&outside, mbx.join("link-out.msg")).unwrap();
    assert!(std::process::Command::new("mkfifo")
        .arg(mbx.join("pipe"))
        .status()
        .unwrap()
        .success());
    let dry = lab.apply().arg("--dry-run").output().unwrap();
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(
        text.contains("2 link(s) or special file(s) are not followed or copied"),
        "{text}"
    );
    let out = lab.apply().arg("--yes").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rel = mbx.strip_prefix(&lab.install).unwrap();
    let moved = lab.share.join(rel);
    assert!(moved.join("Hiwater.mrk").is_file(), "the mailbox moved");
    assert!(
        !moved.join("link-out.msg").exists() && !moved.join("pipe").exists(),
        "not copied"
    );
    assert!(
        mbx.join("link-out.msg").symlink_metadata().is_ok() && mbx.join("pipe").exists(),
        "left where they were"
    );
    assert_eq!(
        std::fs::read(&outside).unwrap(),
        b"must never be copied through a link"
    );
}

/// An installation whose gateways were kept on each node, shared later:
/// with MDaemon running the look at the moves again does not hold the run
/// back (a node could be added): it warns why the gateways stay, and
/// changes nothing of them; with `--stop-mdaemon` they move.
#[test]
fn a_later_look_at_the_store_with_mdaemon_running_warns_and_waits() {
    let lab = Lab::new();
    lab.keep_local(&["gateways"]);
    lab.apply().arg("--yes").assert().success();
    lab.keep_local(&[]);
    let _sim = simulate(&lab);
    let state_file = lab.install.join(mdcluster::service::SIMULATION_STATE);
    let before = (std::fs::read(&state_file).unwrap(), lab.hash());
    let out = lab.apply().arg("--yes").output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(
        said.contains("which this run does not move") && said.contains("--stop-mdaemon"),
        "{said}"
    );
    assert_eq!((std::fs::read(&state_file).unwrap(), lab.hash()), before);
    lab.apply()
        .args(["--yes", "--stop-mdaemon"])
        .assert()
        .success();
    assert!(lab.share.join("Gateways/partner-firma.example").is_dir());
}
