//! Plan fixtures: every valid plan parses; every invalid one gives errors with
//! file, line and column (snapshotted, so a change in wording is reviewed).

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

#[test]
#[cfg_attr(
    windows,
    ignore = "the fixtures map Windows paths to Linux folders ([[mounts]] local = '/srv/...'), not absolute on Windows"
)]
fn valid_plans_parse_and_render_back() {
    let profile = Profile::builtin();
    let files = fixtures("valid");
    assert!(files.len() >= 3);
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let plan = Plan::parse(&text, Path::new("plan.toml"), &profile)
            .unwrap_or_else(|e| panic!("{}: {e:?}", f.display()));
        let again = Plan::parse(&plan.render(&profile), Path::new("plan.toml"), &profile).unwrap();
        assert_eq!(again, plan, "{}", f.display());
    }
}

#[test]
#[cfg_attr(
    windows,
    ignore = "the fixtures map Windows paths to Linux folders ([[mounts]] local = '/srv/...'), not absolute on Windows"
)]
fn invalid_plans_are_refused_with_positions() {
    let profile = Profile::builtin();
    let files = fixtures("invalid");
    assert!(files.len() >= 20);
    for f in files {
        let name = f.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&f).unwrap();
        let errors = Plan::parse(&text, Path::new("plan.toml"), &profile)
            .err()
            .unwrap_or_else(|| panic!("{name} should be invalid"));
        let problem = mdcluster::plan::plan_problem(Path::new(&format!("{name}.toml")), &errors);
        assert_eq!(problem.exit, mdcluster::problem::Exit::Usage);
        let shown = problem.to_string();
        assert!(shown.contains(&format!("{name}.toml:")), "{shown}");
        insta::assert_snapshot!(name, shown);
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
