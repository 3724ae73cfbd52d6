//! The real balancers' own config checks on generated configurations:
//! `haproxy -c -f`, `nginx -t`, `apache2 -t` (or `httpd -t`), for 2- and
//! 5-node plans in both HTTP modes, with and without a failover. These tests
//! fail (not skip) without the programs when MDCLUSTER_REQUIRE_LB_TESTS is set.

mod common;
use common::*;
use mdcluster::lb::{self, Kind, Verdict};
use mdcluster::plan::Plan;
use mdcluster::profile::Profile;
use std::path::Path;

fn plan(nodes: usize, extra: &str) -> Plan {
    let text = lb_plan_text(nodes, |i| format!("192.0.2.{}", 10 + i), extra);
    Plan::parse(&text, Path::new("plan.toml"), &Profile::builtin()).unwrap()
}

const MODES: [&str; 2] = ["", "[load_balancer]\nhttp_mode = \"balanced\"\n"];

fn assert_passed(what: &str, v: &Verdict) {
    match v {
        Verdict::Passed { .. } => {}
        other => panic!("{what}: {other:#?}"),
    }
}

fn every_config_passes(kind: Kind) {
    if lb_program(kind).is_none() {
        return;
    }
    let profile = Profile::builtin();
    for nodes in [2, 5] {
        for mode in MODES {
            let p = plan(nodes, mode);
            let g = lb::generate(&p, &profile, kind).unwrap();
            let what = format!("{kind:?}, {nodes} nodes, {mode:?}");
            assert_passed(&what, &lb::validate(kind, &g.files));
            // The failover variants are checked before they are written too.
            for (from, to) in [("MAIL2", "MAIL1"), ("MAIL1", "MAIL2")] {
                let m = lb::failover(&p, &profile, kind, from, to).unwrap();
                assert_passed(
                    &format!("{what}, failover {from} -> {to}"),
                    &lb::validate(kind, &m.config.files),
                );
            }
        }
    }
    // Non-default ports, a listen address, services left out, IPv6.
    let p = plan(
        3,
        "[load_balancer]\nhttp_mode = \"balanced\"\nlisten = \"::1\"\ncookie = \"ROUTE\"\n[load_balancer.ports]\nhttp = 8080\npop3 = 0\nxmpp = 0\n[load_balancer.backend_ports]\nhttp = 3000\n",
    );
    let g = lb::generate(&p, &profile, kind).unwrap();
    assert_passed(
        &format!("{kind:?}, custom ports"),
        &lb::validate(kind, &g.files),
    );
}

#[test]
fn haproxy_accepts_every_generated_configuration() {
    every_config_passes(Kind::Haproxy);
}

#[test]
fn nginx_accepts_every_generated_configuration() {
    every_config_passes(Kind::Nginx);
}

#[test]
fn apache_accepts_every_generated_configuration() {
    every_config_passes(Kind::Apache);
}

/// The checks are real: a broken line makes each balancer refuse, and its
/// words come back with the file's name.
#[test]
fn each_check_refuses_a_broken_configuration() {
    for kind in Kind::ALL {
        if lb_program(kind).is_none() {
            continue;
        }
        let mut g = lb::generate(&plan(2, MODES[1]), &Profile::builtin(), kind).unwrap();
        let first = &mut g.files[0];
        first.contents.push_str("\nmdcluster_not_a_directive on\n");
        let name = first
            .path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        match lb::validate(kind, &g.files) {
            Verdict::Failed { output, command } => {
                assert!(output.contains(&name), "{kind:?}: {output}");
                assert!(
                    !output.contains("mdcluster-lb-check-"),
                    "temp paths are hidden: {output}"
                );
                assert!(!command.contains("mdcluster-lb-check-"), "{command}");
            }
            other => panic!("{kind:?}: a broken file passed: {other:#?}"),
        }
    }
}
