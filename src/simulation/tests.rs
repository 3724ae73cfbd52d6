use super::*;
use crate::cluster::manifest::Member;
use crate::plan::Role;
use crate::plan::ServerId;
use jiff::civil::date;
use jiff::tz::TimeZone;

fn manifest(registered: &[(&str, u32)]) -> Manifest {
    let mut nodes = vec![Member {
        name: "MAIL1".into(),
        role: Role::Primary,
        server_id: ServerId::FIRST,
        address: String::new(),
        licence: None,
        added: "2026-11-22T10:00:00Z".into(),
        registered: None,
    }];
    for (n, id) in registered {
        nodes.push(Member {
            name: n.to_string(),
            role: Role::Secondary,
            server_id: ServerId::new(*id).unwrap(),
            address: "127.0.0.1".into(),
            licence: None,
            added: "2026-11-22T10:00:00Z".into(),
            registered: Some("2026-11-22T10:00:01Z".into()),
        });
    }
    Manifest {
        version: 1,
        primary: "MAIL1".into(),
        nodes,
        retired: Vec::new(),
    }
}

fn at(h: i8, m: i8, s: i8) -> jiff::Zoned {
    date(2026, 11, 22)
        .at(h, m, s, 0)
        .to_zoned(TimeZone::UTC)
        .unwrap()
}

fn service(t: &tempfile::TempDir, format: LogFormat, faults: &[&str]) -> PrimaryService {
    let faults: Vec<Fault> = faults.iter().map(|f| f.parse().unwrap()).collect();
    PrimaryService::new(
        t.path(),
        &Profile::builtin(),
        &default_names(2),
        format,
        &faults,
        Duration::from_secs(2),
    )
}

fn log(t: &tempfile::TempDir, day: &str) -> String {
    std::fs::read_to_string(t.path().join(format!("Logs/MDaemon-{day}-Cluster.log")))
        .unwrap_or_default()
}

#[test]
fn nothing_is_written_before_a_node_is_registered() {
    let t = tempfile::tempdir().unwrap();
    let mut s = service(&t, LogFormat::Classic, &[]);
    assert!(s.tick(None, &at(10, 0, 0)).unwrap().is_empty());
    let mut m = manifest(&[("SIM2", 2)]);
    m.nodes[1].registered = None;
    assert!(s.tick(Some(&m), &at(10, 0, 1)).unwrap().is_empty());
    assert!(!t.path().join("Logs").exists());
}

#[test]
fn a_registered_node_connects_then_replicates_every_interval() {
    let t = tempfile::tempdir().unwrap();
    let mut s = service(&t, LogFormat::Classic, &[]);
    let m = manifest(&[("SIM2", 2)]);
    s.tick(Some(&m), &at(10, 0, 0)).unwrap();
    s.tick(Some(&m), &at(10, 0, 1)).unwrap();
    s.tick(Some(&m), &at(10, 0, 2)).unwrap();
    s.tick(Some(&m), &at(10, 0, 4)).unwrap();
    assert_eq!(
        log(&t, "2026-11-22"),
        "Sun 2026-11-22 10:00:00.000: 17: Cluster service: connected to SIM2 (server ID 2)\r\n\
         Sun 2026-11-22 10:00:02.000: 17: Cluster service: replication to SIM2 complete (8 items)\r\n\
         Sun 2026-11-22 10:00:04.000: 17: Cluster service: replication to SIM2 complete (15 items)\r\n"
    );
    assert!(s.is_registered("SIM2") && !s.is_registered("SIM3"));
    // Taken out of the manifest: a lost connection, then silence.
    s.tick(Some(&manifest(&[])), &at(10, 0, 5)).unwrap();
    s.tick(Some(&manifest(&[])), &at(10, 0, 9)).unwrap();
    assert!(log(&t, "2026-11-22")
        .ends_with("10:00:05.000: 17: Cluster service: lost connection to SIM2\r\n"));
}

#[test]
fn mixed_format_alternates_between_both_formats() {
    let t = tempfile::tempdir().unwrap();
    let mut s = service(&t, LogFormat::Mixed, &[]);
    let m = manifest(&[("SIM3", 3)]);
    s.tick(Some(&m), &at(10, 0, 0)).unwrap();
    s.tick(Some(&m), &at(10, 0, 2)).unwrap();
    assert_eq!(
        log(&t, "2026-11-22"),
        "Sun 2026-11-22 10:00:00.000: 18: Cluster service: connected to SIM3 (server ID 3)\r\n\
         261122 100002000 I [1002FA8A] 0x415041B0 Cluster service: replication to SIM3 complete (21 items)\r\n"
    );
}

#[test]
fn faults_give_their_lines() {
    let t = tempfile::tempdir().unwrap();
    let mut s = service(
        &t,
        LogFormat::Service,
        &[
            "SIM2:never-connects",
            "sim3:clock",
            "SIM3:timezone",
            "SIM3:replication-error",
        ],
    );
    let m = manifest(&[("SIM2", 2), ("SIM3", 3)]);
    s.tick(Some(&m), &at(10, 0, 0)).unwrap();
    s.tick(Some(&m), &at(10, 0, 2)).unwrap();
    let text = log(&t, "2026-11-22");
    assert!(!text.contains("connected to SIM2"), "{text}");
    assert_eq!(
        text,
        "261122 100000000 I [1002FA8A] 0x415041A1 Cluster service: connected to SIM3 (server ID 3)\r\n\
         261122 100000000 W [1002FA8A] 0x815041C0 Cluster service: clock of SIM3 differs from this server by 2.7 seconds\r\n\
         261122 100000000 W [1002FA8A] 0x815041C1 Cluster service: time zone of SIM3 differs from this server\r\n\
         261122 100002000 W [1002FA89] 0x815041A2 Cluster service: lost connection to SIM2\r\n\
         261122 100002000 E [1002FA8A] 0xC15041B1 Cluster service: replication to SIM3 failed: the connection to the node was reset (10054)\r\n"
    );
}

#[test]
fn rollover_moves_later_lines_to_the_next_days_file_from_midnight() {
    let t = tempfile::tempdir().unwrap();
    let mut s = service(&t, LogFormat::Classic, &["rollover"]);
    let m = manifest(&[("SIM2", 2)]);
    s.tick(Some(&m), &at(10, 0, 0)).unwrap();
    let r = s.tick(Some(&m), &at(10, 0, 2)).unwrap();
    assert!(
        r.iter().any(|r| matches!(r, Report::Rollover { .. })),
        "{r:?}"
    );
    s.tick(Some(&m), &at(10, 0, 4)).unwrap();
    let today = log(&t, "2026-11-22");
    assert_eq!(today.lines().count(), 2, "{today}");
    assert_eq!(
        log(&t, "2026-11-23"),
        "Mon 2026-11-23 00:00:02.000: 17: Cluster service: replication to SIM2 complete (15 items)\r\n"
    );
}

#[test]
fn faults_parse_with_and_without_a_node() {
    let f: Fault = "sim2:Clock".parse().unwrap();
    assert_eq!(
        f,
        Fault {
            node: Some("SIM2".into()),
            kind: FaultKind::Clock
        }
    );
    let f: Fault = "rollover".parse().unwrap();
    assert_eq!(f.node, None);
    assert!("SIM2:melt"
        .parse::<Fault>()
        .unwrap_err()
        .contains("never-connects"));
    assert!(":clock".parse::<Fault>().is_err());
}

#[test]
fn only_sandboxes_are_simulated() {
    let t = tempfile::tempdir().unwrap();
    let cfg = Config {
        primary: t.path().to_path_buf(),
        share: t.path().to_path_buf(),
        dir: t.path().join("sim"),
        names: default_names(1),
        code: JoinCode::generate(),
        scope: Scope {
            loopback: true,
            interfaces: Vec::new(),
        },
        interval: Duration::from_secs(2),
        format: LogFormat::Classic,
        faults: Vec::new(),
        stop_after: Some(Duration::ZERO),
    };
    let err = run(
        &Profile::builtin(),
        &cfg,
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .unwrap_err();
    assert_eq!(err.exit, Exit::Usage);
    assert!(!t.path().join("sim").exists());
}
