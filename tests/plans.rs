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

/// `[load_balancer.ha]`: each class of bad value, several ways, refused
/// with the key named and a fix; and no value that could leave its word in
/// keepalived.conf (a line break, a quote, a brace, a comment sign) passes.
#[test]
fn every_bad_ha_value_is_refused_naming_its_key() {
    let base = "version = 1\n[install]\nroot = 'C:\\MDaemon'\n[shared]\npath = '\\\\fs\\mdaemon'\n\
        [[nodes]]\nname = \"MAIL1\"\naddress = \"10.0.0.11\"\nrole = \"primary\"\n\
        [[nodes]]\nname = \"MAIL2\"\naddress = \"10.0.0.12\"\nrole = \"secondary\"\n[load_balancer]\n";
    let ha = |vip: &str, iface: &str, router: &str, extra: &str, h1: &str, h2: &str| {
        format!(
            "{base}[load_balancer.ha]\nvirtual_ip = {vip}\ninterface = {iface}\nrouter_id = {router}\n{extra}\
             [[load_balancer.ha.hosts]]\n{h1}\n[[load_balancer.ha.hosts]]\n{h2}\n"
        )
    };
    let h1 = "name = \"lb1\"\naddress = \"10.0.0.21\"";
    let h2 = "name = \"lb2\"\naddress = \"10.0.0.22\"";
    let ok = ha("\"10.0.0.100\"", "\"eth0\"", "51", "", h1, h2);
    let profile = Profile::builtin();
    Plan::parse(&ok, Path::new("plan.toml"), &profile).expect("the base is valid");
    let q = |s: &str| toml::Value::String(s.to_string()).to_string();
    let mut cases: Vec<(String, &str)> = Vec::new();
    for vip in [
        "10.0.0.300",
        "10.0.0.100/0",
        "10.0.0.100/33",
        "2001:db8::1/129",
        "0.0.0.0",
        "127.0.0.1",
        "224.0.0.18",
        "255.255.255.255",
        "vip.example.com",
        "10.0.0.100\n}",
        "10.0.0.21",
        "",
    ] {
        cases.push((
            ha(&q(vip), "\"eth0\"", "51", "", h1, h2),
            "load_balancer.ha",
        ));
    }
    for iface in [
        "",
        "eth 0",
        "eth0\"",
        "eth0}",
        "eth0\n",
        "eth0#x",
        "a234567890123456",
        "..",
        "eth0;",
        "ｅth0",
        "eth\u{7}0",
    ] {
        cases.push((
            ha("\"10.0.0.100\"", &q(iface), "51", "", h1, h2),
            "load_balancer.ha.interface",
        ));
        let host = format!("{h1}\ninterface = {}", q(iface));
        cases.push((
            ha("\"10.0.0.100\"", "\"eth0\"", "51", "", &host, h2),
            "load_balancer.ha.hosts.interface",
        ));
    }
    for router in ["0", "256", "-1", "1000"] {
        cases.push((
            ha("\"10.0.0.100\"", "\"eth0\"", router, "", h1, h2),
            "load_balancer.ha.router_id",
        ));
    }
    for prio in ["0", "255", "-5", "300"] {
        let host = format!("{h1}\npriority = {prio}");
        cases.push((
            ha("\"10.0.0.100\"", "\"eth0\"", "51", "", &host, h2),
            "load_balancer.ha.hosts.priority",
        ));
    }
    for (a, b) in [("150", "150"), ("1", "1")] {
        let (x, y) = (
            format!("{h1}\npriority = {a}"),
            format!("{h2}\npriority = {b}"),
        );
        cases.push((
            ha("\"10.0.0.100\"", "\"eth0\"", "51", "", &x, &y),
            "has priority",
        ));
    }
    // The second host's default (140) is the first's explicit priority.
    let x = format!("{h1}\npriority = 140");
    cases.push((
        ha("\"10.0.0.100\"", "\"eth0\"", "51", "", &x, h2),
        "has priority 140",
    ));
    for name in [
        "",
        "lb 1",
        "lb1\"",
        "lb1{",
        "-lb1",
        "lb1\n",
        "lb/1",
        "..",
        "con",
        "lb1.",
        "lb#1",
        &"x".repeat(64),
    ] {
        let host = format!("name = {}\naddress = \"10.0.0.21\"", q(name));
        cases.push((
            ha("\"10.0.0.100\"", "\"eth0\"", "51", "", &host, h2),
            "load_balancer.ha.hosts.name",
        ));
    }
    for name in ["lb2", "LB2"] {
        let host = format!("name = {}\naddress = \"10.0.0.21\"", q(name));
        cases.push((
            ha("\"10.0.0.100\"", "\"eth0\"", "51", "", &host, h2),
            "given twice",
        ));
    }
    for address in [
        "10.0.0.100",
        "10.0.0.22",
        "10.0.0.11",
        "10.0.0.12",
        "2001:db8::21",
        "lb1.example.com",
        "0.0.0.0",
        "127.0.0.1",
        "10.0.0.21/24",
        "10.0.0.21\n}",
    ] {
        let host = format!("name = \"lb1\"\naddress = {}", q(address));
        cases.push((
            ha("\"10.0.0.100\"", "\"eth0\"", "51", "", &host, h2),
            "load_balancer.ha.hosts.address",
        ));
    }
    for process in [
        "",
        "haproxy -x",
        "haproxy\"",
        "nginx}",
        "a234567890123456",
        "-haproxy",
        "ha\nproxy",
    ] {
        let extra = format!("process = {}\n", q(process));
        cases.push((
            ha("\"10.0.0.100\"", "\"eth0\"", "51", &extra, h1, h2),
            "load_balancer.ha.process",
        ));
    }
    for script in [
        "",
        "balancer-ok",
        "./balancer-ok",
        "/usr/local/bin/ok --quiet",
        "/usr/local/bin/ok\"",
        "/usr/local/bin/ok'",
        "/usr/local/bin/ok;reboot",
        "/usr/local/../bin/ok",
        "/usr/local/bin/ok\n}",
        "/",
        "/usr/local/bin/",
        &format!("/{}", "x".repeat(255)),
    ] {
        let extra = format!("check_script = {}\n", q(script));
        cases.push((
            ha("\"10.0.0.100\"", "\"eth0\"", "51", &extra, h1, h2),
            "load_balancer.ha.check_script",
        ));
    }
    cases.push((
        ha(
            "\"10.0.0.100\"",
            "\"eth0\"",
            "51",
            "process = \"haproxy\"\ncheck_script = \"/usr/local/bin/ok\"\n",
            h1,
            h2,
        ),
        "process and check_script are both given",
    ));
    // One host, none, and no interface for a host.
    let one = format!("{base}[load_balancer.ha]\nvirtual_ip = \"10.0.0.100\"\ninterface = \"eth0\"\nrouter_id = 51\n[[load_balancer.ha.hosts]]\n{h1}\n");
    cases.push((one, "at least two"));
    let none = format!("{base}[load_balancer.ha]\nvirtual_ip = \"10.0.0.100\"\ninterface = \"eth0\"\nrouter_id = 51\n");
    cases.push((none, "at least two"));
    let no_iface = ok.replace("interface = \"eth0\"\n", "");
    cases.push((no_iface, "has no interface"));
    // The balancer must answer on the virtual IP.
    for listen in ["10.0.0.5", "10.0.0.21", "::1"] {
        let t = ok.replace(
            "[load_balancer]\n",
            &format!("[load_balancer]\nlisten = \"{listen}\"\n"),
        );
        cases.push((t, "load_balancer.listen"));
    }
    for (text, key) in &cases {
        let errors = Plan::parse(text, Path::new("plan.toml"), &profile)
            .err()
            .unwrap_or_else(|| panic!("should be refused ({key}):\n{text}"));
        assert!(
            errors
                .iter()
                .any(|e| e.message.contains(key) && e.fix.is_some() && e.line > 0),
            "{key}: {errors:#?}\n{text}"
        );
    }
    // The same plan with the table's own good values: listen on the virtual IP is fine.
    for good in [
        ok.replace(
            "[load_balancer]\n",
            "[load_balancer]\nlisten = \"10.0.0.100\"\n",
        ),
        ok.replace("\"10.0.0.100\"", "\"10.0.0.100/24\""),
        ok.replace("\"eth0\"", "\"br-lan.100\""),
        ha(
            "\"2001:db8::100/64\"",
            "\"eth0\"",
            "255",
            "health_check = true\ncheck_script = \"/usr/local/sbin/lb_ok-2.sh\"\n",
            "name = \"lb1\"\naddress = \"2001:db8::21\"\npriority = 1",
            "name = \"lb-2.example\"\naddress = \"2001:db8::22\"\npriority = 254",
        ),
    ] {
        Plan::parse(&good, Path::new("plan.toml"), &profile)
            .unwrap_or_else(|e| panic!("{e:#?}\n{good}"));
    }
}
