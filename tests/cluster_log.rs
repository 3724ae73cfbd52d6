//! The cluster log as another process writes it, and `mdcluster verify`.
//!
//! A writer (a separate process, like MDaemon) appends, truncates,
//! replaces and rolls over the log on command; the follower must see every
//! line once, hold a partial line until its newline arrives, decode
//! Windows-1252, and never pass terminal escapes on raw. Then `verify` and
//! step 10 on sandboxes whose cluster manifest has a registered secondary.
//! Every wait is a poll with a generous deadline; nothing asserts on time.

mod common;
use common::*;
use mdcluster::cluster::manifest::Manifest;
use mdcluster::clusterlog::{Follower, Format, Happening, Kind, Reader};
use mdcluster::plan::Plan;
use mdcluster::profile::Profile;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(30);
const STAMP: &str = "2026-01-01T00:00:00Z";

/// The writer: this test executable started once more as a separate process
/// (like MDaemon), running [`log_writer_process`]. One command per line on
/// stdin, tab-separated, and "writer-ok" on stdout when done: `append FILE HEX`
/// appends through a handle it keeps open (as MDaemon does), `truncate FILE`,
/// `replace FILE HEX` writes a new file and renames it over the old one.
struct Writer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

const WRITER_ENV: &str = "MDCLUSTER_TEST_LOG_WRITER";
const WRITER_OK: &str = "writer-ok";

impl Writer {
    fn start() -> Writer {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["log_writer_process", "--exact", "--ignored", "--nocapture"])
            .args(["--test-threads=1", "-q"])
            .env(WRITER_ENV, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Writer {
            child,
            stdin,
            stdout,
        }
    }

    fn send(&mut self, cmd: &str, path: &Path, data: &[u8]) {
        let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
        writeln!(self.stdin, "{cmd}\t{}\t{hex}", path.display()).unwrap();
        self.stdin.flush().unwrap();
        // The test harness of the writer process prints lines of its own.
        loop {
            let mut reply = String::new();
            let n = self.stdout.read_line(&mut reply).unwrap();
            assert!(n > 0, "the writer process ended");
            if reply.trim() == WRITER_OK {
                return;
            }
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The writer process of [`Writer`]; only started by it.
#[test]
#[ignore = "the log writer process: started by the tests of this file"]
fn log_writer_process() {
    use std::collections::HashMap;
    use std::fs::{File, OpenOptions};
    if std::env::var_os(WRITER_ENV).is_none() {
        return;
    }
    let mut handles: HashMap<String, File> = HashMap::new();
    for line in std::io::stdin().lines() {
        let line = line.unwrap();
        let mut parts = line.split('\t');
        let (cmd, path) = (parts.next().unwrap(), parts.next().unwrap().to_string());
        let hex = parts.next().unwrap_or("");
        let data: Vec<u8> = (0..hex.len() / 2)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        match cmd {
            "append" => {
                let f = handles.entry(path.clone()).or_insert_with(|| {
                    OpenOptions::new()
                        .append(true)
                        .create(true)
                        .open(&path)
                        .unwrap()
                });
                f.write_all(&data).unwrap();
            }
            "truncate" => {
                OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .unwrap()
                    .set_len(0)
                    .unwrap();
                handles.remove(&path);
            }
            "replace" => {
                handles.remove(&path);
                let new = format!("{path}.new");
                std::fs::write(&new, &data).unwrap();
                std::fs::rename(&new, &path).unwrap();
            }
            other => panic!("unknown writer command {other:?}"),
        }
        println!("{WRITER_OK}");
    }
}

/// Poll until `n` more lines arrived (or the deadline passed).
fn lines(f: &mut Follower, n: usize, seen: &mut Vec<Happening>) -> Vec<String> {
    let mut out = Vec::new();
    let start = Instant::now();
    while out.len() < n && start.elapsed() < DEADLINE {
        if !f.poll(1 << 20, &mut |l| out.push(l.text)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        seen.extend(f.take_happenings());
    }
    out
}

/// A few polls that must hand on nothing.
fn nothing_more(f: &mut Follower) {
    for _ in 0..5 {
        let mut out = Vec::new();
        f.poll(1 << 20, &mut |l| out.push(l.text));
        assert!(out.is_empty(), "unexpected lines: {out:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn classic(text: &str) -> Vec<u8> {
    format!("Sun 2026-11-22 10:15:02.117: 17: {text}\r\n").into_bytes()
}

#[test]
fn the_follower_sees_what_another_process_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("Logs");
    std::fs::create_dir_all(logs.join("Plugins")).unwrap();
    let profile = Profile::builtin();
    let reader = Reader::new(&profile).unwrap();
    let mut f = Follower::in_dir(&logs, &profile);
    let mut seen = Vec::new();
    let mut w = Writer::start();
    let day1 = logs.join("Plugins/MDaemon-2026-11-22-Cluster.log");
    let day2 = logs.join("Plugins/MDaemon-2026-11-23-Cluster.log");
    // Another log beside it is not the cluster log.
    std::fs::write(logs.join("MDaemon-2026-11-23-System.log"), "x\r\n").unwrap();

    // An append, and a partly written line held until its newline arrives.
    let mut bytes = classic("Cluster service: connected to MAIL2 (server ID 2)");
    bytes.extend_from_slice(b"261122 101503204 I [1002FA89] 0x415041A1 Cluster service: replic");
    w.send("append", &day1, &bytes);
    let got = lines(&mut f, 1, &mut seen);
    assert_eq!(
        got,
        ["Sun 2026-11-22 10:15:02.117: 17: Cluster service: connected to MAIL2 (server ID 2)"]
    );
    assert!(seen.contains(&Happening::Opened(day1.clone())));
    nothing_more(&mut f);
    w.send("append", &day1, b"ation to MAIL2 complete (14 items)\r\n");
    let got = lines(&mut f, 1, &mut seen);
    let (event, m) = reader.read(&mdcluster::clusterlog::Line {
        text: got[0].clone(),
        cut: 0,
    });
    assert_eq!(event.format, Format::Service);
    assert_eq!(event.time.as_deref(), Some("2026-11-22 10:15:03.204"));
    let m = m.unwrap();
    assert_eq!((m.kind, m.node.as_str()), (Kind::ReplicationDone, "MAIL2"));

    // Windows-1252 bytes, and terminal escapes that never reach a terminal raw.
    let mut bytes =
        b"Sun 2026-11-22 10:15:04.000: 17: Cluster service: Verbindung \xfcber Port 8\x80\r\n"
            .to_vec();
    bytes.extend(classic(
        "Cluster service: clock of MAIL2 differs from this server by 2.5 seconds\x1b[2J\x1b]0;owned\x07",
    ));
    bytes.extend(b"\xff\xfe garbage \x00 line\r\n");
    w.send("append", &day1, &bytes);
    let got = lines(&mut f, 3, &mut seen);
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got[0].ends_with("Verbindung über Port 8€"), "{}", got[0]);
    let shown = mdcluster::text::sanitize(&got[1]);
    assert!(
        !shown.contains('\x1b') && !shown.contains('\x07'),
        "{shown}"
    );
    let (event, m) = reader.read(&mdcluster::clusterlog::Line {
        text: got[1].clone(),
        cut: 0,
    });
    assert_eq!(event.format, Format::Classic);
    assert_eq!(m.unwrap().kind, Kind::ClockWarning);
    let (event, m) = reader.read(&mdcluster::clusterlog::Line {
        text: got[2].clone(),
        cut: 0,
    });
    assert_eq!(event.format, Format::Unknown, "kept, not dropped");
    assert!(m.is_none());

    // Truncated: read again from the start.
    w.send("truncate", &day1, b"");
    w.send("append", &day1, &classic("after truncation"));
    let got = lines(&mut f, 1, &mut seen);
    assert_eq!(got.len(), 1);
    assert!(got[0].ends_with("after truncation"));
    assert!(
        seen.contains(&Happening::Truncated(day1.clone())),
        "{seen:?}"
    );

    // Replaced by a new file (longer than what was read): the rest of the
    // old one first, then the new one from its start. Not under Wine, which
    // refuses a rename over a file another process holds open even where
    // Windows allows it (the follower opens with FILE_SHARE_DELETE).
    if !cfg!(windows) {
        replaced(&mut w, &mut f, &day1, &mut seen);
    }

    // Midnight: the old file finished (its partial line too), then the new one.
    w.send(
        "append",
        &day1,
        b"Sun 2026-11-22 23:59:59.999: 17: last words",
    );
    w.send(
        "append",
        &day2,
        b"261123 000000100 W [1002FA89] 0x415041A1 Cluster service: time zone of MAIL2 differs from this server\r\n",
    );
    let got = lines(&mut f, 2, &mut seen);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got[0].ends_with("last words"));
    let (event, m) = reader.read(&mdcluster::clusterlog::Line {
        text: got[1].clone(),
        cut: 0,
    });
    assert_eq!(event.severity.as_deref(), Some("warning"));
    assert_eq!(m.unwrap().kind, Kind::TimeZoneWarning);
    assert!(seen.contains(&Happening::RolledOver {
        from: day1.clone(),
        to: day2.clone()
    }));
    assert_eq!(f.file(), Some(day2.as_path()));
    nothing_more(&mut f);
}

/// The replacement part of [`the_follower_sees_what_another_process_writes`].
fn replaced(w: &mut Writer, f: &mut Follower, day1: &Path, seen: &mut Vec<Happening>) {
    w.send(
        "append",
        day1,
        b"Sun 2026-11-22 10:16:00.000: 17: unfinished",
    );
    let mut new = classic("replacement one with a long text to be longer than before");
    new.extend(classic("replacement two"));
    w.send("replace", day1, &new);
    let got = lines(f, 3, seen);
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got[0].ends_with("unfinished"));
    assert!(got[1].ends_with("replacement one with a long text to be longer than before"));
    assert!(got[2].ends_with("replacement two"));
    assert!(
        seen.contains(&Happening::Replaced(day1.to_path_buf())),
        "{seen:?}"
    );
}

fn small_lab() -> Lab {
    Lab::with(
        mdcluster::sandbox::Options {
            accounts: 2,
            messages: 4,
            seed: 3,
            message_size: None,
        },
        None,
    )
}

/// A lab whose cluster manifest has MAIL2 registered (as `mdcluster
/// register` leaves it).
fn cluster_lab() -> Lab {
    let lab = small_lab();
    let mut text = std::fs::read_to_string(&lab.plan).unwrap();
    text.push_str(
        "\n[[nodes]]\nname = \"MAIL2\"\naddress = \"127.0.0.12\"\nrole = \"secondary\"\n",
    );
    std::fs::write(&lab.plan, text).unwrap();
    let plan = Plan::load(&lab.plan, &Profile::builtin()).unwrap();
    let mut m = Manifest::default().with_plan(&plan, STAMP).unwrap();
    for n in m.nodes.iter_mut() {
        n.registered = Some(STAMP.into());
    }
    m.save(&lab.share).unwrap();
    lab
}

fn cluster_log(lab: &Lab) -> std::path::PathBuf {
    lab.install.join("Logs/MDaemon-2026-11-22-Cluster.log")
}

fn verify(lab: &Lab, args: &[&str]) -> std::process::Output {
    mdcluster()
        .args(["verify", "--plan"])
        .arg(&lab.plan)
        .args(args)
        .output()
        .unwrap()
}

fn step10(lab: &Lab) -> (String, String) {
    let out = mdcluster()
        .args(["status", "--json", "--plan"])
        .arg(&lab.plan)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let row = json_lines(&out.stdout)
        .into_iter()
        .find(|v| v["step"] == "cluster-log")
        .unwrap();
    (
        row["state"].as_str().unwrap().to_string(),
        row["detail"].as_str().unwrap().to_string(),
    )
}

#[test]
fn verify_follows_the_log_to_a_confirmed_cluster_with_a_clock_warning() {
    let lab = cluster_lab();
    let (state, detail) = step10(&lab);
    assert_eq!(state, "waiting", "{detail}");
    assert!(detail.contains("MAIL2: not connected"), "{detail}");
    // verify starts before the confirmations are written, and follows the log.
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("mdcluster"))
        .env("NO_COLOR", "1")
        .args(["verify", "--json", "--timeout", "60", "--plan"])
        .arg(&lab.plan)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(first.contains("\"event\""), "{first}");
    let mut w = Writer::start();
    let log = cluster_log(&lab);
    let mut bytes = classic("Cluster service: starting");
    bytes.extend(classic("Cluster service: connected to MAIL2 (server ID 2)"));
    bytes.extend(b"261122 101503204 W [1002FA89] 0x415041A1 Cluster service: clock of MAIL2 differs from this server by 1.5 seconds\r\n");
    bytes.extend(b"261122 101503304 I [1002FA89] 0x415041A1 Cluster service: replication to MAIL2 complete (14 items)\r\n");
    w.send("append", &log, &bytes);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let status = child.wait().unwrap();
    let events = json_lines((first + &rest).as_bytes());
    assert_eq!(status.code(), Some(0), "{events:#?}");
    let last = events.last().unwrap();
    assert_eq!(last["event"], "verify-result");
    assert_eq!(last["ok"], true);
    assert!(last["warnings"][0]
        .as_str()
        .unwrap()
        .starts_with("MAIL2: clock warning"));
    assert!(events
        .iter()
        .any(|e| e["event"] == "log-event" && e["kind"] == "connected" && e["node"] == "MAIL2"));
    assert!(events.iter().any(|e| e["event"] == "check"
        && e["node"] == "MAIL2"
        && e["check"] == "replicating"
        && e["ok"] == true));
    assert!(events
        .iter()
        .any(|e| e["event"] == "check" && e["check"] == "clock" && e["state"] == "warning"));

    // Read again from the start: the same verdict, in words, with the warning.
    let out = verify(&lab, &["--timeout", "0"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("Verified"), "{text}");
    assert!(text.contains("Warning: MAIL2: clock warning"), "{text}");
    assert!(
        text.contains("MAIL2        log        yes        yes        yes         WARNING"),
        "{text}"
    );
    let (state, detail) = step10(&lab);
    assert_eq!(state, "done", "{detail}");
}

#[test]
fn verify_names_what_is_missing_and_exits_5() {
    let lab = cluster_lab();
    let mut bytes = classic("Cluster service: replication to MAIL2 complete (3 items)");
    bytes.extend(classic("Cluster service: connected to MAIL9 (server ID 9)"));
    bytes.extend(classic("\x1b]0;owned\x07\x1b[31mhostile\x1b[0m"));
    std::fs::create_dir_all(lab.install.join("Logs")).unwrap();
    std::fs::write(cluster_log(&lab), bytes).unwrap();
    let out = verify(&lab, &["--timeout", "1", "--lines"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(5), "{text}");
    assert!(text.contains("NOT verified"), "{text}");
    assert!(text.contains("MAIL2: not connected"), "{text}");
    assert!(!text.contains("MAIL2: not replicating"), "{text}");
    assert!(
        text.contains("MAIL9"),
        "a node not in the cluster is noted: {text}"
    );
    assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text}");
    assert!(text.contains("\\x1b]0;owned"), "{text}");

    let out = verify(&lab, &["--timeout", "0", "--json"]);
    assert_eq!(out.status.code(), Some(5));
    let events = json_lines(&out.stdout);
    let last = events.last().unwrap();
    assert_eq!(last["ok"], false);
    assert_eq!(last["exit"], 5);
    let missing: Vec<&str> = last["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert!(missing[0].starts_with("MAIL2: not connected"));
    let (state, detail) = step10(&lab);
    assert_eq!(state, "waiting");
    assert!(detail.contains("MAIL2: not connected"), "{detail}");

    // A lost connection after the connection: not connected, with the log's words.
    let mut bytes = std::fs::read(cluster_log(&lab)).unwrap();
    bytes.extend(classic("Cluster service: connected to MAIL2 (server ID 2)"));
    bytes.extend(classic("Cluster service: lost connection to MAIL2"));
    std::fs::write(cluster_log(&lab), bytes).unwrap();
    let out = verify(&lab, &["--timeout", "0"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(5), "{text}");
    assert!(
        text.contains("MAIL2: not connected (the log says"),
        "{text}"
    );
    assert!(text.contains("lost connection to MAIL2"), "{text}");
}

#[test]
fn verify_without_a_log_or_a_registered_secondary_exits_5() {
    let lab = cluster_lab();
    let out = verify(&lab, &["--timeout", "0"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(5), "{text}");
    assert!(text.contains("no cluster log found"), "{text}");
    assert!(text.contains("*Cluster*.log (unverified guess)"), "{text}");
    assert!(text.contains("MAIL2: not connected"), "{text}");

    let lab = small_lab();
    let out = verify(&lab, &["--timeout", "0"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(5), "{text}");
    assert!(text.contains("no secondary is registered"), "{text}");
    let (state, detail) = step10(&lab);
    assert_eq!(state, "waiting");
    assert!(
        detail.contains("no secondary is registered yet"),
        "{detail}"
    );
}
