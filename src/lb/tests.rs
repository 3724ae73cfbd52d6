//! The generator's rules, checked on the text each balancer gets.

use super::*;
use crate::plan::Plan;
use crate::problem::Exit;

fn plan(nodes: usize, lb: &str) -> Plan {
    let mut t = String::from(
        "version = 1\n[install]\nroot = 'C:\\MDaemon'\n[shared]\npath = '\\\\fs\\mdaemon'\n",
    );
    for i in 1..=nodes {
        let role = if i == 1 { "primary" } else { "secondary" };
        t.push_str(&format!(
            "[[nodes]]\nname = \"MAIL{i}\"\naddress = \"10.0.0.{}\"\nrole = \"{role}\"\nserver_id = {i}\n",
            10 + i
        ));
    }
    t.push_str(lb);
    Plan::parse(&t, Path::new("plan.toml"), &Profile::builtin()).unwrap()
}

const BALANCED: &str = "[load_balancer]\nhttp_mode = \"balanced\"\n";

fn files(plan: &Plan, kind: Kind) -> Vec<GeneratedFile> {
    generate(plan, &Profile::builtin(), kind).unwrap().files
}

fn file(plan: &Plan, kind: Kind, name: &str) -> String {
    files(plan, kind)
        .into_iter()
        .find(|f| f.path == Path::new(name))
        .unwrap_or_else(|| panic!("no {name}"))
        .contents
}

/// The HAProxy `listen` section of a service, up to the next section.
fn haproxy_section(cfg: &str, service: &str) -> String {
    let start = cfg
        .find(&format!("listen mdcluster_{service}\n"))
        .unwrap_or_else(|| panic!("no section {service}"));
    let rest = &cfg[start..];
    let end = rest[1..].find("\n\n").map(|e| e + 1).unwrap_or(rest.len());
    rest[..end].to_string()
}

/// The server lines' endpoints of a section.
fn servers(section: &str) -> Vec<String> {
    section
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("server "))
        .map(|l| l.split_whitespace().nth(2).unwrap_or_default().to_string())
        .collect()
}

#[test]
fn primary_mode_sends_everything_but_mail_to_the_primary() {
    let p = plan(3, "");
    let cfg = file(&p, Kind::Haproxy, "haproxy.cfg");
    for (service, port) in [
        ("remote_admin", 1000),
        ("http", 80),
        ("https", 443),
        ("xmpp", 5222),
    ] {
        let s = haproxy_section(&cfg, service);
        assert_eq!(servers(&s), [format!("10.0.0.11:{port}")], "{s}");
    }
    assert!(
        !cfg.contains("cookie MDCLUSTER_NODE"),
        "no cookie in primary mode"
    );
    let http = haproxy_section(&cfg, "http");
    assert!(http.contains("mode http"), "{http}");

    let ng = file(&p, Kind::Nginx, nginx::HTTP_FILE);
    assert!(!ng.contains("$cookie_"), "{ng}");
    assert!(ng.contains("server 10.0.0.11:80;"), "{ng}");
    assert!(!ng.contains("10.0.0.12:80"), "{ng}");

    let ap = file(&p, Kind::Apache, apache::SITE_FILE);
    assert!(!ap.contains("balancer://"), "{ap}");
    assert!(
        ap.contains("ProxyPass \"/\" \"http://10.0.0.11:80/\""),
        "{ap}"
    );
    assert!(!ap.contains("10.0.0.12"), "{ap}");
}

#[test]
fn balanced_mode_names_every_node_with_its_route() {
    for n in [2, 5] {
        let p = plan(n, BALANCED);
        let cfg = file(&p, Kind::Haproxy, "haproxy.cfg");
        let http = haproxy_section(&cfg, "http");
        assert!(
            http.contains("cookie MDCLUSTER_NODE insert indirect nocache"),
            "{http}"
        );
        assert!(http.contains("option redispatch"), "{http}");
        let ng = file(&p, Kind::Nginx, nginx::HTTP_FILE);
        let ap = file(&p, Kind::Apache, apache::SITE_FILE);
        assert!(ap.contains("stickysession=MDCLUSTER_NODE"), "{ap}");
        assert!(ap.contains("env=BALANCER_ROUTE_CHANGED"), "{ap}");
        assert!(ap.contains("Include mdcluster/failover.inc"), "{ap}");
        for i in 1..=n {
            let addr = format!("10.0.0.{}:80", 10 + i);
            assert!(
                http.contains(&format!("server MAIL{i} {addr} check cookie MAIL{i}")),
                "{http}"
            );
            assert!(
                ng.contains(&format!("    MAIL{i}  mdcluster_http_MAIL{i};")),
                "{ng}"
            );
            assert!(
                ng.contains(&format!("upstream mdcluster_http_MAIL{i} {{")),
                "{ng}"
            );
            assert!(
                ng.contains(&format!(
                    "\"~(^|[ ,]){}$\"  MAIL{i};",
                    addr.replace('.', "\\.")
                )),
                "{ng}"
            );
            assert!(
                ap.contains(&format!("BalancerMember \"http://{addr}\" route=MAIL{i}")),
                "{ap}"
            );
        }
        // XMPP and HTTPS stay on the primary in balanced mode too.
        assert_eq!(servers(&haproxy_section(&cfg, "xmpp")), ["10.0.0.11:5222"]);
        assert_eq!(servers(&haproxy_section(&cfg, "https")), ["10.0.0.11:443"]);
    }
}

#[test]
fn remote_administration_only_ever_reaches_the_primary() {
    for lb in ["", BALANCED] {
        let p = plan(4, lb);
        let mut configs = vec![(
            Kind::Haproxy,
            generate(&p, &Profile::builtin(), Kind::Haproxy).unwrap(),
        )];
        // Even when the primary fails: the manual forbids administering a secondary.
        for kind in Kind::ALL {
            configs.push((
                kind,
                failover(&p, &Profile::builtin(), kind, "mail1", "MAIL3")
                    .unwrap()
                    .config,
            ));
        }
        for (kind, g) in configs {
            let text: String = g.files.iter().map(|f| f.contents.as_str()).collect();
            let admin: Vec<&str> = text.lines().filter(|l| l.contains(":1000")).collect();
            assert!(!admin.is_empty(), "{kind:?}");
            for l in admin {
                assert!(
                    l.contains("10.0.0.11:1000")
                        || l.contains("0.0.0.0:1000")
                        || l.contains("*:1000"),
                    "{kind:?}: {l}"
                );
            }
        }
    }
}

#[test]
fn mail_is_tcp_least_connections_with_greeting_checks_and_long_imap_timeouts() {
    let p = plan(3, "");
    let cfg = file(&p, Kind::Haproxy, "haproxy.cfg");
    for (service, port, expect) in [
        ("smtp", 25, "tcp-check expect rstring ^220"),
        ("submission", 587, "tcp-check expect rstring ^220"),
        ("imap", 143, "tcp-check expect rstring ^\\*\\ OK"),
        ("imaps", 993, "tcp-check expect rstring ^\\*\\ OK"),
        ("pop3", 110, "tcp-check expect rstring ^\\+OK"),
        ("pop3s", 995, "tcp-check expect rstring ^\\+OK"),
    ] {
        let s = haproxy_section(&cfg, service);
        assert!(
            s.contains("mode tcp") && s.contains("balance leastconn"),
            "{s}"
        );
        assert!(s.contains("option tcp-check") && s.contains(expect), "{s}");
        assert_eq!(
            servers(&s),
            (1..=3)
                .map(|i| format!("10.0.0.{}:{port}", 10 + i))
                .collect::<Vec<_>>()
        );
        let tls = service.ends_with('s') && service != "submission";
        assert_eq!(s.contains("tcp-check connect ssl"), tls, "{s}");
        assert_eq!(s.contains("verify none"), tls, "{s}");
    }
    assert!(haproxy_section(&cfg, "imap").contains("timeout client 35m"));
    assert!(haproxy_section(&cfg, "imaps").contains("timeout server 35m"));

    let stream = file(&p, Kind::Nginx, nginx::STREAM_FILE);
    assert_eq!(stream.matches("least_conn;").count(), 6, "{stream}");
    assert!(stream.contains("proxy_timeout 35m;"), "{stream}");
}

#[test]
fn every_file_is_marked_and_commented() {
    for lb in ["", BALANCED] {
        for kind in Kind::ALL {
            for f in files(&plan(2, lb), kind) {
                let first = f.contents.lines().next().unwrap_or_default();
                assert!(first.starts_with("# ") && first.contains(MARKER), "{first}");
                let comments = f
                    .contents
                    .lines()
                    .filter(|l| l.trim_start().starts_with('#'))
                    .count();
                assert!(
                    comments >= 7,
                    "{kind:?} {}: {comments} comment lines",
                    f.path.display()
                );
                assert!(!f.contents.contains("{{"), "an unfilled placeholder");
                assert!(!f.contents.contains("@@"), "a template line");
            }
        }
    }
    // Every section says why it routes as it does.
    let cfg = file(&plan(2, ""), Kind::Haproxy, "haproxy.cfg");
    let chunks: Vec<&str> = cfg.split("\nlisten ").collect();
    assert_eq!(chunks.len(), 11, "ten services");
    for chunk in &chunks[..chunks.len() - 1] {
        let last = chunk.trim_end().lines().last().unwrap_or_default();
        assert!(
            last.starts_with("# "),
            "a section without its comment: {last}"
        );
    }
}

#[test]
fn fewer_than_two_nodes_cannot_be_balanced() {
    for n in [0, 1] {
        let e = generate(&plan(n, ""), &Profile::builtin(), Kind::Haproxy).unwrap_err();
        assert_eq!(e.exit, Exit::Usage);
        assert!(e.what.contains(&format!("{n} node")), "{e}");
        assert!(e.fix.unwrap().contains("[[nodes]]"));
    }
}

#[test]
fn ports_listen_address_and_disabled_services() {
    let p = plan(
        2,
        "[load_balancer]\nlisten = \"192.0.2.5\"\n[load_balancer.ports]\nhttp = 8080\npop3 = 0\npop3s = 0\n[load_balancer.backend_ports]\nhttp = 3000\n",
    );
    let cfg = file(&p, Kind::Haproxy, "haproxy.cfg");
    let http = haproxy_section(&cfg, "http");
    assert!(http.contains("bind 192.0.2.5:8080"), "{http}");
    assert_eq!(servers(&http), ["10.0.0.11:3000"]);
    assert!(!cfg.contains("pop3"), "disabled services are left out");
    let ap = file(&p, Kind::Apache, apache::SITE_FILE);
    assert!(
        ap.contains("Listen 192.0.2.5:8080") && ap.contains("<VirtualHost 192.0.2.5:8080>"),
        "{ap}"
    );
    // IPv6 addresses get brackets.
    let p6 = plan(2, "[load_balancer]\nlisten = \"::\"\n");
    assert!(file(&p6, Kind::Haproxy, "haproxy.cfg").contains("bind [::]:1000"));
}

#[test]
fn failover_moves_the_sessions_of_a_node() {
    let p = plan(3, BALANCED);
    let profile = Profile::builtin();

    let ap = failover(&p, &profile, Kind::Apache, "MAIL2", "mail3").unwrap();
    assert_eq!(
        ap.changed,
        [PathBuf::from(apache::FAILOVER_FILE)],
        "the site file stays"
    );
    assert_eq!(
        ap.what,
        Move {
            from: "MAIL2".into(),
            to: "MAIL3".into()
        }
    );
    let inc = &ap.config.files[1].contents;
    assert!(
        inc.contains(
            "RewriteCond \"%{HTTP_COOKIE}\" \"(^|;\\s*)MDCLUSTER_NODE=balancer\\.MAIL2(;|$)\""
        ),
        "{inc}"
    );
    assert!(
        inc.contains("Set-Cookie \"MDCLUSTER_NODE=balancer.MAIL3;"),
        "{inc}"
    );
    assert!(file(&p, Kind::Apache, apache::FAILOVER_FILE).contains("No failover is active"));

    let ha = failover(&p, &profile, Kind::Haproxy, "MAIL2", "MAIL3").unwrap();
    let cfg = &ha.config.files[0].contents;
    let http = haproxy_section(cfg, "http");
    assert!(
        http.contains("server MAIL2 10.0.0.12:80 check cookie MAIL2 disabled"),
        "{http}"
    );
    assert!(
        http.contains("req.cook(MDCLUSTER_NODE) -m str MAIL2"),
        "{http}"
    );
    assert!(http.contains("use-server MAIL3 if"), "{http}");
    assert!(haproxy_section(cfg, "imap").contains("server MAIL2 10.0.0.12:143 check disabled"));

    let ng = failover(&p, &profile, Kind::Nginx, "MAIL2", "MAIL3").unwrap();
    let http = &ng.config.files[0].contents;
    assert!(http.contains("    MAIL2  mdcluster_http_MAIL3;"), "{http}");
    assert!(!http.contains("upstream mdcluster_http_MAIL2 {"), "{http}");
    assert!(
        http.contains("server 10.0.0.12:80 max_fails=1 fail_timeout=10s down;"),
        "{http}"
    );
    assert_eq!(ng.changed.len(), 2, "Webmail and the TCP pools change");

    // In primary mode a failed primary's services move; Remote Administration stays.
    let p = plan(3, "");
    let ha = failover(&p, &profile, Kind::Haproxy, "MAIL1", "MAIL2").unwrap();
    let cfg = &ha.config.files[0].contents;
    assert_eq!(servers(&haproxy_section(cfg, "http")), ["10.0.0.12:80"]);
    assert_eq!(servers(&haproxy_section(cfg, "xmpp")), ["10.0.0.12:5222"]);
    assert_eq!(
        servers(&haproxy_section(cfg, "remote_admin")),
        ["10.0.0.11:1000"]
    );
    let ap = failover(&p, &profile, Kind::Apache, "MAIL1", "MAIL2").unwrap();
    assert!(ap.config.files[1]
        .contents
        .contains("\"http://10.0.0.12:80/$1\" [P,L]"));
    let ap = failover(&p, &profile, Kind::Apache, "MAIL3", "MAIL2").unwrap();
    assert!(ap.config.files[1].contents.contains("nothing to move"));
}

#[test]
fn failover_names_must_be_nodes_and_differ() {
    let p = plan(2, BALANCED);
    let e = failover(&p, &Profile::builtin(), Kind::Apache, "MAIL9", "MAIL1").unwrap_err();
    assert_eq!(e.exit, Exit::Usage);
    assert!(e.fix.unwrap().contains("MAIL1, MAIL2"));
    let e = failover(&p, &Profile::builtin(), Kind::Apache, "MAIL1", "mail1").unwrap_err();
    assert_eq!(e.exit, Exit::Usage);
}

#[test]
fn nginx_balanced_needs_ip_addresses_and_escapes_its_keywords() {
    let mut p = plan(2, BALANCED);
    p.nodes[1].address = "mail2.example.com".into();
    let e = generate(&p, &Profile::builtin(), Kind::Nginx).unwrap_err();
    assert_eq!(e.exit, Exit::Usage);
    assert!(e.what.contains("mail2.example.com"), "{e}");
    assert!(generate(&p, &Profile::builtin(), Kind::Haproxy).is_ok());
    let mut p = plan(2, BALANCED);
    p.nodes[1].name = "default".into();
    let ng = file(&p, Kind::Nginx, nginx::HTTP_FILE);
    assert!(
        ng.contains("    \\default  mdcluster_http_default;"),
        "{ng}"
    );
}

#[test]
fn nodes_with_one_address_are_refused() {
    let mut p = plan(2, "");
    p.nodes[1].address = "10.0.0.11".into();
    let e = generate(&p, &Profile::builtin(), Kind::Haproxy).unwrap_err();
    assert_eq!(e.exit, Exit::Usage);
    assert!(e.what.contains("same address"), "{e}");
}

#[test]
fn a_missing_balancer_is_a_verdict() {
    let g = generate(&plan(2, ""), &Profile::builtin(), Kind::Haproxy).unwrap();
    let v = check::validate_with(Kind::Haproxy, &g.files, &[]);
    assert_eq!(
        v,
        Verdict::NotInstalled {
            program: "haproxy".into()
        }
    );
    assert!(!v.failed());
}

#[test]
fn the_nginx_limitation_is_said() {
    let g = generate(&plan(2, BALANCED), &Profile::builtin(), Kind::Nginx).unwrap();
    assert!(
        g.notes
            .iter()
            .any(|n| n.contains("cannot insert a sticky cookie")),
        "{:?}",
        g.notes
    );
    let g = generate(&plan(2, ""), &Profile::builtin(), Kind::Apache).unwrap();
    assert!(
        g.notes.iter().any(|n| n.contains("HTTP only")),
        "{:?}",
        g.notes
    );
}

#[test]
fn writing_never_replaces_a_foreign_file() {
    let tmp = tempfile::tempdir().unwrap();
    let g = generate(&plan(2, ""), &Profile::builtin(), Kind::Apache).unwrap();
    let refs: Vec<&GeneratedFile> = g.files.iter().collect();
    write_files(tmp.path(), &refs, Overwrite::Never).unwrap();
    let e = write_files(tmp.path(), &refs, Overwrite::Never).unwrap_err();
    assert_eq!(e.exit, Exit::Usage);
    write_files(tmp.path(), &refs, Overwrite::Generated).unwrap();
    let inc = tmp.path().join(apache::FAILOVER_FILE);
    std::fs::write(&inc, "# my own rules\n").unwrap();
    assert!(write_files(tmp.path(), &refs, Overwrite::Generated).is_err());
    assert_eq!(std::fs::read_to_string(&inc).unwrap(), "# my own rules\n");
    write_files(tmp.path(), &refs, Overwrite::Always).unwrap();
    assert!(std::fs::read_to_string(&inc).unwrap().contains(MARKER));
}

#[test]
fn a_balancer_without_services_is_refused() {
    let mut ports = String::from("[load_balancer.ports]\n");
    for s in crate::plan::Service::ALL {
        ports.push_str(&format!("{} = 0\n", s.key()));
    }
    let e = generate(&plan(2, &ports), &Profile::builtin(), Kind::Nginx).unwrap_err();
    assert_eq!(e.exit, Exit::Usage);
    assert!(e.what.contains("nothing to balance"), "{e}");
}
