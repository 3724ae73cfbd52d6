//! The keepalived files: their text (golden), that a failover leaves them
//! alone, and keepalived's own verdict on them where it is installed.

use super::super::check::{validate_keepalived_with, HostVerdict, Verdict};
use super::super::{failover, generate, GeneratedFile, Kind, MARKER};
use super::*;
use crate::plan::Plan;
use crate::profile::Profile;

const NODES: &str =
    "version = 1\n[install]\nroot = 'C:\\MDaemon'\n[shared]\npath = '\\\\fs\\mdaemon'\n\
    [[nodes]]\nname = \"MAIL1\"\naddress = \"10.0.0.11\"\nrole = \"primary\"\n\
    [[nodes]]\nname = \"MAIL2\"\naddress = \"10.0.0.12\"\nrole = \"secondary\"\n";

/// Three balancer hosts; lb3 on an interface of its own.
const HA: &str = "[load_balancer.ha]\nvirtual_ip = \"10.0.0.100/24\"\ninterface = \"eth0\"\nrouter_id = 51\n\
    [[load_balancer.ha.hosts]]\nname = \"lb1\"\naddress = \"10.0.0.21\"\n\
    [[load_balancer.ha.hosts]]\nname = \"lb2\"\naddress = \"10.0.0.22\"\n\
    [[load_balancer.ha.hosts]]\nname = \"lb3\"\naddress = \"10.0.0.23\"\ninterface = \"ens192\"\npriority = 90\n";

const HA6: &str = "[load_balancer.ha]\nvirtual_ip = \"2001:db8::100\"\ninterface = \"eth0\"\nrouter_id = 7\nhealth_check = true\n\
    [[load_balancer.ha.hosts]]\nname = \"lb1\"\naddress = \"2001:db8::21\"\n\
    [[load_balancer.ha.hosts]]\nname = \"lb2\"\naddress = \"2001:db8::22\"\n";

fn plan(lb: &str) -> Plan {
    Plan::parse(
        &format!("{NODES}{lb}"),
        Path::new("plan.toml"),
        &Profile::builtin(),
    )
    .unwrap()
}

fn keepalived_files(p: &Plan, kind: Kind) -> Vec<GeneratedFile> {
    generate(p, &Profile::builtin(), kind)
        .unwrap()
        .files
        .into_iter()
        .filter(|f| host_of(&f.path).is_some())
        .collect()
}

fn text_of(p: &Plan, kind: Kind, host: &str) -> String {
    keepalived_files(p, kind)
        .into_iter()
        .find(|f| f.path == path_of(host))
        .unwrap_or_else(|| panic!("no file for {host}"))
        .contents
}

fn with_health(ha: &str) -> String {
    ha.replace("router_id = 51\n", "router_id = 51\nhealth_check = true\n")
}

#[test]
fn golden_with_and_without_the_health_check() {
    let mut settings = insta::Settings::clone_current();
    // A new version is not a new text.
    settings.add_filter(r"mdcluster \d+\.\d+\.\d+\S*", "mdcluster [VERSION]");
    settings.bind(|| {
        let p = plan(&format!(
            "[load_balancer]\nkind = \"haproxy\"\n{}",
            with_health(HA)
        ));
        insta::assert_snapshot!("lb1-haproxy-health", text_of(&p, Kind::Haproxy, "lb1"));
        let p = plan(&format!("[load_balancer]\n{HA}"));
        insta::assert_snapshot!("lb3-nginx", text_of(&p, Kind::Nginx, "lb3"));
    });
}

#[test]
fn each_host_has_its_own_file_priority_and_peers() {
    let p = plan(&format!("[load_balancer]\n{HA}"));
    let files = keepalived_files(&p, Kind::Haproxy);
    let hosts: Vec<String> = files.iter().filter_map(|f| host_of(&f.path)).collect();
    assert_eq!(hosts, ["lb1", "lb2", "lb3"]);
    for (host, own, priority, interface) in [
        ("lb1", "10.0.0.21", 150, "eth0"),
        ("lb2", "10.0.0.22", 140, "eth0"),
        ("lb3", "10.0.0.23", 90, "ens192"),
    ] {
        let t = text_of(&p, Kind::Haproxy, host);
        assert!(t.lines().next().unwrap().contains(MARKER), "{t}");
        assert!(t.contains(&format!("router_id {host}\n")), "{t}");
        assert!(t.contains(&format!("priority {priority}\n")), "{t}");
        assert!(t.contains(&format!("interface {interface}\n")), "{t}");
        assert!(t.contains(&format!("unicast_src_ip {own}\n")), "{t}");
        let peers = &t[t.find("unicast_peer {").unwrap()..];
        let peers = &peers[..peers.find('}').unwrap()];
        for other in ["10.0.0.21", "10.0.0.22", "10.0.0.23"] {
            assert_eq!(peers.contains(other), other != own, "{host}: {peers}");
        }
        assert!(
            t.contains("state BACKUP\n") && !t.lines().any(|l| l.trim() == "nopreempt"),
            "{t}"
        );
        assert!(t.contains("virtual_router_id 51\n"), "{t}");
        assert!(t.contains("        10.0.0.100/24\n"), "{t}");
        assert!(
            !t.contains("vrrp_script"),
            "no health check unless asked: {t}"
        );
        assert!(!t.contains("{{"), "{t}");
    }
}

#[test]
fn the_process_followed_is_the_balancers() {
    for (kind, process) in [
        (Kind::Haproxy, "haproxy"),
        (Kind::Nginx, "nginx"),
        (Kind::Apache, "apache2"),
    ] {
        let t = text_of(&plan(&format!("[load_balancer]\n{HA}")), kind, "lb2");
        assert!(t.contains(&format!("    process {process}\n")), "{t}");
    }
    let httpd = HA.replace("router_id = 51\n", "router_id = 51\nprocess = \"httpd\"\n");
    let t = text_of(
        &plan(&format!("[load_balancer]\n{httpd}")),
        Kind::Apache,
        "lb1",
    );
    assert!(t.contains("    process httpd\n"), "{t}");
    let g = generate(
        &plan(&format!("[load_balancer]\n{HA}")),
        &Profile::builtin(),
        Kind::Apache,
    )
    .unwrap();
    assert!(
        g.notes.iter().any(|n| n.contains("process = \"httpd\"")),
        "{:?}",
        g.notes
    );
}

#[test]
fn the_health_check_only_fails_on_critical_and_lowers_below_every_healthy_host() {
    let t = text_of(
        &plan(&format!("[load_balancer]\n{}", with_health(HA))),
        Kind::Haproxy,
        "lb2",
    );
    assert!(
        t.contains("script \"/bin/sh -c 'mdcluster health --plan /etc/mdcluster/plan.toml; test $? -ne 2'\""),
        "{t}"
    );
    // 150 - 90 + 1: a failing lb1 (150 - 61 = 89) is below a healthy lb3 (90).
    assert!(t.contains("weight -61\n"), "{t}");
    assert!(
        t.contains("track_script {\n        mdcluster_health\n"),
        "{t}"
    );
}

#[test]
fn notes_say_where_the_balancer_listens_and_that_keepalived_is_needed() {
    let g = generate(
        &plan(&format!("[load_balancer]\n{HA}")),
        &Profile::builtin(),
        Kind::Haproxy,
    )
    .unwrap();
    assert!(
        g.notes
            .iter()
            .any(|n| n
                .contains("keepalived must be installed on every balancer host (lb1, lb2, lb3)")),
        "{:?}",
        g.notes
    );
    assert!(
        g.notes
            .iter()
            .any(|n| n.contains("listens on all addresses")),
        "{:?}",
        g.notes
    );
    let on_vip = format!("[load_balancer]\nlisten = \"10.0.0.100\"\n{HA}");
    let g = generate(&plan(&on_vip), &Profile::builtin(), Kind::Haproxy).unwrap();
    assert!(
        g.notes
            .iter()
            .any(|n| n.contains("net.ipv4.ip_nonlocal_bind=1")),
        "{:?}",
        g.notes
    );
    assert!(text_of(&plan(&on_vip), Kind::Haproxy, "lb1").contains("10.0.0.100/24"));
    // No [load_balancer.ha]: no keepalived file, no note.
    let g = generate(&plan(""), &Profile::builtin(), Kind::Haproxy).unwrap();
    assert!(g.files.iter().all(|f| host_of(&f.path).is_none()));
    assert!(
        !g.notes.iter().any(|n| n.contains("keepalived")),
        "{:?}",
        g.notes
    );
}

#[test]
fn a_failover_changes_no_keepalived_file() {
    let p = plan(&format!("[load_balancer]\nhttp_mode = \"balanced\"\n{HA}"));
    for kind in Kind::ALL {
        let base = generate(&p, &Profile::builtin(), kind).unwrap();
        let moved = failover(&p, &Profile::builtin(), kind, "MAIL2", "MAIL1").unwrap();
        assert!(
            !moved.changed.is_empty(),
            "{kind:?}: the balancer's files change"
        );
        assert!(
            moved.changed.iter().all(|c| host_of(c).is_none()),
            "{kind:?}: {:?}",
            moved.changed
        );
        let ka = |g: &super::super::Generated| -> Vec<GeneratedFile> {
            g.files
                .iter()
                .filter(|f| host_of(&f.path).is_some())
                .cloned()
                .collect()
        };
        assert_eq!(ka(&base), ka(&moved.config), "{kind:?}");
        assert_eq!(ka(&base).len(), 3);
    }
}

#[test]
fn files_are_recognised_by_their_place_only() {
    assert_eq!(
        host_of(Path::new("keepalived/lb1/keepalived.conf")).as_deref(),
        Some("lb1")
    );
    for other in [
        "haproxy.cfg",
        "keepalived/keepalived.conf",
        "keepalived/lb1/other.conf",
        "x/lb1/keepalived.conf",
        "keepalived/../keepalived.conf",
    ] {
        assert_eq!(host_of(Path::new(other)), None, "{other}");
    }
}

#[test]
fn without_keepalived_each_file_is_not_installed() {
    let files = keepalived_files(&plan(&format!("[load_balancer]\n{HA}")), Kind::Haproxy);
    let empty = tempfile::tempdir().unwrap();
    let verdicts = validate_keepalived_with(&files, &[empty.path().to_path_buf()]);
    assert_eq!(verdicts.len(), 3);
    for v in verdicts {
        assert_eq!(
            v.check,
            Verdict::NotInstalled {
                program: "keepalived".into()
            }
        );
    }
}

/// keepalived, when this machine has it; else skipped, or failed when
/// MDCLUSTER_REQUIRE_LB_TESTS is set.
fn keepalived_dirs() -> Option<Vec<std::path::PathBuf>> {
    let dirs = super::super::check::search_path();
    if super::super::check::find_named(&["keepalived"], &dirs).is_some() {
        return Some(dirs);
    }
    assert!(
        std::env::var_os("MDCLUSTER_REQUIRE_LB_TESTS").is_none(),
        "keepalived is not installed, and MDCLUSTER_REQUIRE_LB_TESTS is set"
    );
    eprintln!("skipped: keepalived is not installed (bash scripts/test.sh installs it)");
    None
}

#[test]
fn keepalived_accepts_every_generated_file() {
    let Some(dirs) = keepalived_dirs() else {
        return;
    };
    // The widest spread of priorities: the weight stays within keepalived's range.
    let extremes = with_health(HA)
        .replace(
            "address = \"10.0.0.21\"\n",
            "address = \"10.0.0.21\"\npriority = 254\n",
        )
        .replace("priority = 90", "priority = 1");
    assert!(text_of(
        &plan(&format!("[load_balancer]\n{extremes}")),
        Kind::Haproxy,
        "lb1"
    )
    .contains("weight -253\n"));
    let scripted = with_health(HA).replace(
        "router_id = 51\n",
        "router_id = 51\ncheck_script = \"/bin/true\"\n",
    );
    for lb in [
        format!("[load_balancer]\n{HA}"),
        format!("[load_balancer]\n{}", with_health(HA)),
        format!("[load_balancer]\n{extremes}"),
        format!("[load_balancer]\n{scripted}"),
        format!("[load_balancer]\n{HA6}"),
    ] {
        for kind in Kind::ALL {
            let files = keepalived_files(&plan(&lb), kind);
            let verdicts: Vec<HostVerdict> = validate_keepalived_with(&files, &dirs);
            assert_eq!(verdicts.len(), files.len());
            for v in verdicts {
                assert!(
                    matches!(&v.check, Verdict::Passed { command, .. } if command == "keepalived -t -f check-keepalived.conf"),
                    "{kind:?} {}: {:?}\n{lb}",
                    v.host,
                    v.check
                );
            }
        }
    }
}

#[test]
fn keepalived_refuses_a_broken_file_and_names_the_line() {
    let Some(dirs) = keepalived_dirs() else {
        return;
    };
    let good = keepalived_files(&plan(&format!("[load_balancer]\n{HA}")), Kind::Haproxy);
    let mut broken = good[0].clone();
    broken.contents = broken.contents.replace("priority 150", "priority 999");
    let mut unbalanced = good[1].clone();
    unbalanced.contents = unbalanced.contents.replace(
        "    virtual_ipaddress {\n",
        "    virtual_ipaddress {\n    {\n",
    );
    let verdicts = validate_keepalived_with(&[broken, unbalanced, good[2].clone()], &dirs);
    match &verdicts[0].check {
        Verdict::Failed { output, .. } => {
            assert!(output.contains("keepalived.conf: Line"), "{output}");
            assert!(output.contains("999"), "{output}");
            assert!(
                !output.contains("mdcluster-keepalived-check-"),
                "no temporary folder: {output}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(verdicts[1].check.failed(), "{:?}", verdicts[1].check);
    assert!(!verdicts[2].check.failed(), "{:?}", verdicts[2].check);
    assert_eq!(verdicts[0].host, "lb1");
}

#[test]
fn a_check_script_replaces_following_the_process() {
    let ha = HA.replace(
        "router_id = 51\n",
        "router_id = 51\ncheck_script = \"/usr/local/sbin/haproxy-ok\"\n",
    );
    for (table, scripts) in [
        (ha.clone(), "        mdcluster_balancer\n    }"),
        (
            with_health(&ha),
            "        mdcluster_balancer\n        mdcluster_health\n    }",
        ),
    ] {
        let t = text_of(
            &plan(&format!("[load_balancer]\n{table}")),
            Kind::Haproxy,
            "lb1",
        );
        assert!(
            t.contains(
                "vrrp_script mdcluster_balancer {\n    script \"/usr/local/sbin/haproxy-ok\""
            ),
            "{t}"
        );
        assert!(
            !t.contains("track_process") && !t.contains("vrrp_track_process"),
            "{t}"
        );
        assert!(t.contains(&format!("track_script {{\n{scripts}")), "{t}");
    }
}

#[test]
fn a_check_script_missing_here_is_not_checked_rather_than_refused() {
    let Some(dirs) = keepalived_dirs() else {
        return;
    };
    let ha = HA.replace(
        "router_id = 51\n",
        "router_id = 51\ncheck_script = \"/nonexistent/mdcluster-test/balancer-ok\"\n",
    );
    let files = keepalived_files(&plan(&format!("[load_balancer]\n{ha}")), Kind::Haproxy);
    for v in validate_keepalived_with(&files, &dirs) {
        assert!(
            matches!(&v.check, Verdict::NotChecked { reason } if reason.contains("where they are installed")),
            "{}: {:?}",
            v.host,
            v.check
        );
    }
}
