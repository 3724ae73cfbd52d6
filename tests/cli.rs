//! The command-line surface: help, exit codes, steps, profile.

mod common;
use common::*;
use predicates::prelude::*;

#[test]
fn help_documents_the_exit_codes() {
    for args in [
        vec!["--help"],
        vec!["apply", "--help"],
        vec!["undo", "--help"],
    ] {
        mdcluster()
            .args(&args)
            .assert()
            .success()
            .stdout(predicate::str::contains("Exit codes:"))
            .stdout(predicate::str::contains("3  a preflight check refused"));
    }
}

#[test]
fn usage_errors_exit_2() {
    mdcluster().arg("apply").assert().code(2);
    mdcluster().arg("frobnicate").assert().code(2);
    mdcluster()
        .args(["apply", "--plan", "/nonexistent/plan.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("plan example"));
}

#[test]
fn steps_lists_eleven_with_stable_ids() {
    let out = mdcluster()
        .args(["steps", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let steps = json_lines(&out);
    let ids: Vec<&str> = steps.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "shared-path",
            "lockfiles",
            "pem",
            "mail-store",
            "directories",
            "certificates",
            "secondaries",
            "discover",
            "server-ids",
            "cluster-log",
            "load-balancer"
        ]
    );
    // Every step is carried out by this version: no "available" flag, and
    // each says what it is for and which steps of the manual it covers.
    for s in &steps {
        assert!(s.get("available").is_none(), "{s}");
        assert!(!s["purpose"].as_str().unwrap().is_empty(), "{s}");
        assert!(!s["manual_steps"].as_str().unwrap().is_empty(), "{s}");
    }
}

#[test]
fn profile_show_and_override() {
    let out = mdcluster()
        .args(["profile", "show"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("lockfiles_key = { value = \"LockFiles\", source = \"seed\" }"));
    mdcluster()
        .args(["profile", "show", "--table"])
        .assert()
        .success()
        .stdout(predicate::str::contains("ini.pem_key"))
        .stdout(predicate::str::contains("guess"));

    // An override of one name changes what mdcluster does: here the semaphore.
    let lab = Lab::new();
    let custom = lab.tmp.path().join("profile.toml");
    std::fs::write(&custom, text.replace("\"RESTART.SEM\"", "\"REBOOT.SEM\"")).unwrap();
    lab.apply()
        .args(["--yes", "--restart", "--profile"])
        .arg(&custom)
        .assert()
        .success();
    assert!(lab.install.join("App/REBOOT.SEM").exists());
    assert!(!lab.install.join("App/RESTART.SEM").exists());
}

#[test]
fn hostile_text_from_files_is_escaped_on_screen() {
    let lab = Lab::new();
    // A [Directories] value carrying terminal escape sequences (clear screen, OSC 52 clipboard).
    lab.edit_ini(
        b"Gateways=C:\\MDaemon\\Gateways\\",
        b"Gateways=C:\\MDaemon\\LockFiles\\x\x1b[2J\x1b]52;c;SGk=\x07\\",
    );
    let out = lab.apply().arg("--dry-run").output().unwrap();
    let all = [out.stdout.clone(), out.stderr.clone()].concat();
    assert!(
        !all.contains(&0x1b),
        "no raw ESC reaches the terminal: {}",
        String::from_utf8_lossy(&all)
    );
    assert!(!all.contains(&0x07));
}

#[test]
fn demo_refuses_too_many_simulated_secondaries_before_writing_anything() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let out = mdcluster()
        .args(["demo", "--yes", "--secondaries", "51", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("from 0 to 50"), "{stderr}");
    assert!(!dir.exists());
}

/// `mdcluster … | head`: standard output closed before mdcluster writes.
/// It stops quietly with exit 141 (as a program stopped by SIGPIPE), never
/// with a panic (exit 101, "failed printing to stdout"). A closed standard
/// error is ignored: the run ends with its own exit code.
#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let lab = Lab::with(
        mdcluster::sandbox::Options {
            accounts: 2,
            messages: 4,
            ..Default::default()
        },
        None,
    );
    let sandbox = tmp.path().join("sandbox");
    let plan = lab.plan.to_str().unwrap().to_string();
    let sandbox_arg = sandbox.to_str().unwrap().to_string();
    let bin = assert_cmd::cargo::cargo_bin("mdcluster");
    let closed = || {
        // The reading end is gone before mdcluster starts: its first write fails.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        writer
    };
    for args in [
        vec!["plan", "example"],
        vec!["steps"],
        vec!["steps", "--json"],
        vec!["profile", "show", "--table"],
        vec!["status", "--plan", &plan],
        vec!["apply", "--dry-run", "--plan", &plan],
        vec!["apply", "--dry-run", "--json", "--plan", &plan],
        vec![
            "sandbox",
            &sandbox_arg,
            "--accounts",
            "1",
            "--messages",
            "1",
        ],
    ] {
        let out = std::process::Command::new(&bin)
            .args(&args)
            .env("NO_COLOR", "1")
            .stdout(closed())
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(141), "{args:?}: {err}");
    }
    // Standard error closed: an error still ends with its own exit code.
    let out = std::process::Command::new(&bin)
        .args(["apply", "--plan", "/nonexistent/plan.toml"])
        .stdout(std::process::Stdio::piped())
        .stderr(closed())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    // And the usual pipeline: `| head -1` gets its line, mdcluster no panic
    // (a shell and head are Unix's; Windows' closed pipe is the case above).
    #[cfg(unix)]
    {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "'{}' profile show --table 2>&1 | head -1",
                bin.display()
            ))
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(!text.contains("panicked"), "{text}");
    }
}

/// `code --show` prints the code in force without replacing it; a new code
/// that replaces one in force says so, loudly, on standard error.
#[test]
fn the_join_code_in_force_is_shown_and_its_replacement_said() {
    let lab = Lab::new();
    let code = |show: bool| {
        let mut cmd = mdcluster();
        cmd.arg("code");
        if show {
            cmd.arg("--show");
        }
        cmd.arg("--root").arg(&lab.install).output().unwrap()
    };
    // None issued yet: --show refuses (exit 3) and issues nothing.
    let none = code(true);
    assert_eq!(none.status.code(), Some(3), "{none:?}");
    assert!(String::from_utf8_lossy(&none.stderr).contains("mdcluster code"));
    assert!(!lab.install.join("mdcluster/join-code.json").exists());

    let first = code(false);
    assert!(first.status.success());
    assert!(!String::from_utf8_lossy(&first.stderr).contains("replaces"));
    let first_code = String::from_utf8(first.stdout).unwrap();
    // Shown as it is, as often as asked.
    for _ in 0..2 {
        let shown = code(true);
        assert!(shown.status.success(), "{shown:?}");
        assert_eq!(String::from_utf8(shown.stdout).unwrap(), first_code);
    }
    // Replaced: a new code, and the warning that the old one stops working.
    let second = code(false);
    assert!(second.status.success());
    assert_ne!(String::from_utf8(second.stdout).unwrap(), first_code);
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(
        said.contains("warning: this replaces the join code in force until")
            && said.contains("no longer trusted"),
        "{said}"
    );
}

/// `unlock` changes nothing where the share cannot be reached, and says
/// when the cluster manifest is not locked at all.
#[test]
fn unlock_needs_the_share_and_says_when_nothing_is_locked() {
    let lab = Lab::new();
    let unreachable = lab.tmp.path().join("gone");
    std::fs::rename(&lab.share, &unreachable).unwrap();
    let out = mdcluster()
        .args(["unlock", "--plan"])
        .arg(&lab.plan)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be reached"));
    assert!(
        !lab.share.exists(),
        "nothing made where the share should be"
    );
    std::fs::rename(&unreachable, &lab.share).unwrap();
    mdcluster()
        .args(["unlock", "--plan"])
        .arg(&lab.plan)
        .assert()
        .success()
        .stdout(predicate::str::contains("not locked"));
}
