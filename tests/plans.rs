//! Plan fixtures: every valid plan parses; every invalid one gives errors with
//! file, line and column (snapshotted, so a change in wording is reviewed).
//!
//! The fixtures name Linux folders; on Windows the test reads them with
//! Windows folders in their place ([`native`]), and the errors whose fix
//! hint gives an example folder have a Windows snapshot of their own.

use mdcluster::plan::Plan;
use mdcluster::profile::Profile;
use std::path::Path;

fn fixtures(kind: &str) -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/plans")
        .join(kind);
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

/// Local folders of the fixtures, and what stands for each on Windows.
const LOCAL_FOLDERS: [(&str, &str); 4] = [
    ("'/srv/mx-a/MDaemon'", r"'C:\srv\mx-a\MDaemon'"),
    ("'/srv/mdcluster-lb'", r"'C:\srv\mdcluster-lb'"),
    (
        "'/srv/mdcluster/../../etc'",
        r"'C:\srv\mdcluster\..\..\etc'",
    ),
    // A file that exists on every Windows, as /dev/null on Linux.
    ("'/dev/null'", r"'C:\Windows\win.ini'"),
];

/// The errors whose fix hint names an example folder of this machine's kind.
const OS_SPECIFIC_HINTS: [&str; 4] = [
    "lb-output-is-a-file",
    "lb-output-parent",
    "lb-relative-output",
    "relative-mount",
];

/// A fixture's text, with Windows folders for the Linux ones on Windows.
fn native(text: String) -> String {
    if !cfg!(windows) {
        return text;
    }
    LOCAL_FOLDERS
        .iter()
        .fold(text, |t, (linux, windows)| t.replace(linux, windows))
}

fn read_fixture(f: &Path) -> String {
    native(std::fs::read_to_string(f).unwrap())
}

#[test]
fn valid_plans_parse_and_render_back() {
    let profile = Profile::builtin();
    let files = fixtures("valid");
    assert!(files.len() >= 3);
    for f in files {
        let text = read_fixture(&f);
        let plan = Plan::parse(&text, Path::new("plan.toml"), &profile)
            .unwrap_or_else(|e| panic!("{}: {e:?}", f.display()));
        let again = Plan::parse(&plan.render(&profile), Path::new("plan.toml"), &profile).unwrap();
        assert_eq!(again, plan, "{}", f.display());
    }
}

#[test]
fn invalid_plans_are_refused_with_positions() {
    let profile = Profile::builtin();
    let files = fixtures("invalid");
    assert!(files.len() >= 20);
    for f in files {
        let name = f.file_stem().unwrap().to_string_lossy().into_owned();
        let text = read_fixture(&f);
        // As `plan validate` reads a plan: what it names on disk checked too.
        let errors = Plan::parse_checked(&text, Path::new("plan.toml"), &profile)
            .err()
            .unwrap_or_else(|| panic!("{name} should be invalid"));
        let problem = mdcluster::plan::plan_problem(Path::new(&format!("{name}.toml")), &errors);
        assert_eq!(problem.exit, mdcluster::problem::Exit::Usage);
        let shown = problem.to_string();
        assert!(shown.contains(&format!("{name}.toml:")), "{shown}");
        let mut settings = insta::Settings::clone_current();
        if cfg!(windows) && OS_SPECIFIC_HINTS.contains(&name.as_str()) {
            settings.set_snapshot_suffix("windows");
        }
        settings.bind(|| insta::assert_snapshot!(name, shown));
    }
}

#[test]
fn validate_command_checks_without_touching() {
    for f in fixtures("invalid").iter().take(3) {
        let out = assert_cmd::Command::cargo_bin("mdcluster")
            .unwrap()
            .args(["plan", "validate"])
            .arg(f)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
    }
    let example = &fixtures("valid")[0];
    assert_cmd::Command::cargo_bin("mdcluster")
        .unwrap()
        .args(["plan", "validate"])
        .arg(example)
        .assert()
        .success()
        .stdout(predicates::str::contains("valid plan"));
}

#[test]
fn example_command_prints_a_valid_plan() {
    let out = assert_cmd::Command::cargo_bin("mdcluster")
        .unwrap()
        .args(["plan", "example"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("# "), "commented");
    Plan::parse(&text, Path::new("example.toml"), &Profile::builtin()).unwrap();
}
