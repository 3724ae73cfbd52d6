//! Security review (docs/security.md): the state folder and the secrets
//! mdcluster writes are owner-only where the platform allows (Unix mode bits
//! here; Windows keeps the folder's inherited ACL, not tested).

mod common;
use common::*;

#[cfg(unix)]
fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
}

/// After an apply: the state folder is 0700 (nothing in it reachable by
/// another account), the journal and the backups of MDaemon.ini and
/// Userlist.dat are 0600.
#[test]
#[cfg(unix)]
fn the_state_folder_and_backups_are_owner_only_after_an_apply() {
    let lab = Lab::new();
    lab.apply().arg("--yes").assert().success();
    let state = lab.install.join("mdcluster");
    assert_eq!(mode(&state), 0o700, "state folder");
    assert_eq!(mode(&state.join("journal.jsonl")), 0o600, "journal");
    let mut backups = 0;
    for e in walkdir::WalkDir::new(state.join("backups")) {
        let e = e.unwrap();
        if e.file_type().is_file() {
            assert_eq!(mode(e.path()), 0o600, "{}", e.path().display());
            backups += 1;
        }
    }
    assert!(backups >= 2, "MDaemon.ini and Userlist.dat backed up");
}

/// `mdcluster code`: the state folder 0700, the join code file 0600, and the
/// code printed is the one stored (so it is the secret the file protects).
#[test]
#[cfg(unix)]
fn the_join_code_file_is_owner_only() {
    let lab = Lab::new();
    let out = mdcluster()
        .args(["code", "--root"])
        .arg(&lab.install)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let shown = String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .replace('-', "");
    let state = lab.install.join("mdcluster");
    assert_eq!(mode(&state), 0o700, "state folder");
    let file = state.join("join-code.json");
    assert_eq!(mode(&file), 0o600, "join code file");
    let stored = std::fs::read_to_string(&file).unwrap();
    assert!(stored.contains(&shown), "{stored} / {shown}");
}

/// A node's licence key crosses the network only as its fingerprint: the
/// facts read from a real installation, signed and turned into TXT records,
/// hold the fingerprint and never the key.
#[test]
fn the_licence_key_is_announced_only_as_a_fingerprint() {
    use mdcluster::cluster::{facts, pairing};
    let lab = Lab::new();
    let profile = mdcluster::profile::Profile::builtin();
    let ini = String::from_utf8_lossy(&lab.ini_bytes()).into_owned();
    let key = ini
        .lines()
        .skip_while(|l| !l.eq_ignore_ascii_case("[Registration]"))
        .find_map(|l| l.strip_prefix("Key="))
        .expect("the sandbox has a licence key")
        .trim()
        .to_string();
    assert!(key.len() >= 8, "{key}");
    let f = facts::collect(&lab.install, &profile, "MAIL2", vec![], None);
    assert_eq!(
        f.licence.as_deref(),
        Some(&*facts::licence_fingerprint(&key))
    );
    let code = pairing::JoinCode::generate();
    let a = pairing::Announcement::sign(f, facts::now_ms(), &code);
    for (k, v) in a.to_txt() {
        assert!(!v.contains(&key), "{k}={v} carries the licence key");
    }
    // Nor does an apply's journal or output.
    let out = lab.apply().args(["--yes", "--json"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&key));
    assert!(!String::from_utf8_lossy(&out.stderr).contains(&key));
    let journal = std::fs::read_to_string(lab.install.join("mdcluster/journal.jsonl")).unwrap();
    assert!(!journal.contains(&key), "the journal holds the licence key");
}

/// `unsafe` is forbidden in the library and the binary (a compile error,
/// checked here so that removing the attribute fails a test).
#[test]
fn unsafe_code_is_forbidden_in_both_crate_roots() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for file in ["src/lib.rs", "src/main.rs"] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        assert!(
            text.lines().any(|l| l.trim() == "#![forbid(unsafe_code)]"),
            "{file} lacks #![forbid(unsafe_code)]"
        );
    }
}
