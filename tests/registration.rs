//! Step 9's seam for registering nodes with MDaemon itself. The built-in
//! profile does not know where MDaemon keeps its registered servers, so step 9
//! shows what to enter and waits (tests/cluster.rs). A profile that locates
//! the list makes step 9 write it: checked here with a profile naming an
//! invented `[Cluster] Server<ID>` list, after step 5's edits of the same
//! file, journaled and undone.

mod common;
use common::*;
use mdcluster::cluster::manifest::Manifest;
use mdcluster::plan::Plan;
use mdcluster::profile::Profile;

const STAMP: &str = "2026-01-01T00:00:00Z";

/// The built-in profile with MDaemon's list of registered servers "located".
fn locating_profile(dir: &std::path::Path) -> std::path::PathBuf {
    let builtin = include_str!("../assets/profiles/mdaemon.toml");
    let line = r#"registered_servers = { value = [], source = "guess" }"#;
    assert!(
        builtin.contains(line),
        "the profile's registered_servers line"
    );
    let text = builtin.replace(
        line,
        r#"registered_servers = { value = ["Cluster", "Server"], source = "guess" }"#,
    );
    let path = dir.join("profile.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// MAIL2 in the plan and in the manifest with its server ID, not registered.
fn lab_with_unregistered_secondary() -> Lab {
    let lab = Lab::with(
        mdcluster::sandbox::Options {
            accounts: 2,
            messages: 4,
            seed: 3,
            message_size: None,
        },
        None,
    );
    let mut text = std::fs::read_to_string(&lab.plan).unwrap();
    text.push_str(
        "\n[[nodes]]\nname = \"MAIL2\"\naddress = \"127.0.0.12\"\nrole = \"secondary\"\n",
    );
    std::fs::write(&lab.plan, text).unwrap();
    let plan = Plan::load(&lab.plan, &Profile::builtin()).unwrap();
    let m = Manifest::default().with_plan(&plan, STAMP).unwrap();
    assert!(m.member("MAIL2").unwrap().registered.is_none());
    m.save(&lab.share).unwrap();
    lab
}

#[test]
fn a_profile_that_locates_the_list_makes_step_9_register_the_node_in_mdaemon_ini() {
    let lab = lab_with_unregistered_secondary();
    let profile = locating_profile(lab.tmp.path());
    let original = lab.ini_bytes();

    let out = mdcluster()
        .arg("--profile")
        .arg(&profile)
        .args(["apply", "--yes", "--plan"])
        .arg(&lab.plan)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("registers MAIL2 in MDaemon.ini: [Cluster] Server2=MAIL2"),
        "{text}"
    );

    // Both edits of MDaemon.ini landed: step 5's folders and step 9's list.
    let ini = String::from_utf8_lossy(&lab.ini_bytes()).into_owned();
    assert!(
        ini.contains("[Cluster]") && ini.contains("Server2=MAIL2"),
        "{ini}"
    );
    assert!(
        ini.contains(r"LockFiles=\\fileserver\mdaemon\Users\LockFiles\"),
        "{ini}"
    );
    let m = Manifest::load(&lab.share).unwrap().unwrap();
    assert!(m.member("MAIL2").unwrap().registered.is_some());

    // A rerun has nothing left to register.
    let out = mdcluster()
        .arg("--profile")
        .arg(&profile)
        .args(["apply", "--yes", "--plan"])
        .arg(&lab.plan)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&lab.ini_bytes())
            .matches("Server2=")
            .count(),
        1
    );

    // Undo takes both edits back, byte for byte.
    let out = mdcluster()
        .arg("--profile")
        .arg(&profile)
        .args(["undo", "--yes", "--plan"])
        .arg(&lab.plan)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(lab.ini_bytes(), original);
    // Said as it is: this run added no node to take back out.
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("leave the cluster manifest's nodes as they are"),
        "{said}"
    );
}

#[test]
fn the_built_in_profile_leaves_registration_to_the_administrator() {
    let lab = lab_with_unregistered_secondary();
    let original = lab.ini_bytes();
    let out = lab.apply().arg("--yes").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("register MAIL2 in MDaemon on the primary"),
        "{text}"
    );
    let ini = String::from_utf8_lossy(&lab.ini_bytes()).into_owned();
    assert!(!ini.contains("[Cluster]"), "{ini}");
    assert_ne!(
        lab.ini_bytes(),
        original,
        "step 5 still rewrites [Directories]"
    );
    let m = Manifest::load(&lab.share).unwrap().unwrap();
    assert!(m.member("MAIL2").unwrap().registered.is_none());
}

/// Killed after every journal record of that run, a rerun finishes it: the
/// same MDaemon.ini as an uninterrupted run, the node registered once.
#[test]
fn a_crash_at_any_record_of_the_registering_run_is_finished_by_a_rerun() {
    let run = |lab: &Lab, profile: &std::path::Path, crash: Option<usize>| {
        let mut c = mdcluster();
        c.arg("--profile")
            .arg(profile)
            .args(["apply", "--yes", "--plan"])
            .arg(&lab.plan);
        if let Some(n) = crash {
            c.env("MDCLUSTER_CRASH_AFTER_RECORD", n.to_string());
        }
        c.output().unwrap()
    };
    let reference = lab_with_unregistered_secondary();
    let profile = locating_profile(reference.tmp.path());
    assert!(run(&reference, &profile, None).status.success());
    let records = std::fs::read_to_string(reference.install.join("mdcluster/journal.jsonl"))
        .unwrap()
        .lines()
        .count();
    let want = String::from_utf8_lossy(&reference.ini_bytes()).into_owned();
    // The share's path is the same in every lab, so the INI text compares.
    let want = want.replace(&reference.share.display().to_string(), "SHARE");
    for n in crash_points().take_while(|&n| n < records) {
        let lab = lab_with_unregistered_secondary();
        let profile = locating_profile(lab.tmp.path());
        let out = run(&lab, &profile, Some(n));
        assert!(
            !out.status.success(),
            "record {n}: the crash hook did not fire"
        );
        let out = run(&lab, &profile, None);
        assert!(out.status.success(), "record {n}: {out:?}");
        let got = String::from_utf8_lossy(&lab.ini_bytes())
            .into_owned()
            .replace(&lab.share.display().to_string(), "SHARE");
        assert_eq!(got, want, "record {n}");
        assert_eq!(got.matches("Server2=MAIL2").count(), 1, "record {n}");
        let m = Manifest::load(&lab.share).unwrap().unwrap();
        assert!(
            m.member("MAIL2").unwrap().registered.is_some(),
            "record {n}"
        );
    }
}
