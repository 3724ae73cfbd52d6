//! Faults on the way (issue 8, item 2): the store moved onto a real SMB
//! share (Samba on loopback, mounted through FUSE with smbnetfs), the Samba
//! server stopped mid-copy, the target's disk full after the preflight, a
//! source file that cannot be read, and a target that turns read-only. Each:
//! the documented exit code, a message naming the file or the cause, nothing
//! lost (every message at the source or, identical, on the share), and a
//! rerun after the fault is gone completes.
//!
//! (MDaemon.ini changed between plan and apply, exit 6, and a second
//! mdcluster at once, exit 3, are in tests/bad_input.rs.)
//!
//! Root only (mounts, smbd): skipped with a message otherwise, or failing
//! when MDCLUSTER_REQUIRE_ROOT_TESTS is set.

// Linux only: Samba mounted through FUSE (smbnetfs), tmpfs mounts, and
// `chattr`; the Windows build's file rules are tested in tests/windows.rs.
#![cfg(target_os = "linux")]

mod common;
use common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether this test can run: root, and `programs` installed.
fn can_run(programs: &[&str]) -> bool {
    let missing: Vec<&str> = programs
        .iter()
        .copied()
        .filter(|p| find_program(p).is_none())
        .collect();
    let why = if !is_root() {
        "needs root (mounts)".to_string()
    } else if !missing.is_empty() {
        format!(
            "needs {} (bash scripts/test.sh installs it)",
            missing.join(", ")
        )
    } else {
        return true;
    };
    assert!(
        std::env::var_os("MDCLUSTER_REQUIRE_ROOT_TESTS").is_none(),
        "{why}, and MDCLUSTER_REQUIRE_ROOT_TESTS is set"
    );
    eprintln!("skipped: {why}");
    false
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn opts(accounts: usize, messages: usize) -> mdcluster::sandbox::Options {
    mdcluster::sandbox::Options {
        accounts,
        messages,
        seed: 8,
        message_size: None,
    }
}

/// Poll `cond` until it holds or `limit` passes (generous: shared machines).
fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

/// Every file of the store by where it must end up on the share, with the
/// hash of its content (times and modes are the share's business).
fn store_contents(lab: &Lab) -> BTreeMap<String, blake3::Hash> {
    expected_on_share(lab)
        .into_keys()
        .map(|k| {
            let src = source_of(lab, &k);
            let h = blake3::hash(&std::fs::read(&src).unwrap());
            (k, h)
        })
        .collect()
}

/// Where the message `key` (a key of `expected_on_share`) is in the installation.
fn source_of(lab: &Lab, key: &str) -> PathBuf {
    for d in SHARED_TREES {
        if let Some(rel) = key.strip_prefix(&format!("{d}/")) {
            let p = lab.install.join(d).join(rel);
            if p.exists() || d != "Users" {
                return p;
            }
            let extra = lab.install.join("MailExtra").join(rel);
            if extra.exists() {
                return extra;
            }
            return p;
        }
    }
    panic!("not a store key: {key}")
}

/// Messages neither at the source nor with the same content at `share`
/// (read where the share's bytes really are: for SMB the server's folder).
fn lost(lab: &Lab, share: &Path, contents: &BTreeMap<String, blake3::Hash>) -> Vec<String> {
    contents
        .iter()
        .filter(|(k, h)| {
            !source_of(lab, k).exists()
                && std::fs::read(share.join(k))
                    .map(|b| blake3::hash(&b) != **h)
                    .unwrap_or(true)
        })
        .map(|(k, _)| k.clone())
        .collect()
}

/// After a completed move: every message on the share with its content,
/// none left at the source.
fn all_moved(lab: &Lab, share: &Path, contents: &BTreeMap<String, blake3::Hash>) {
    for (k, h) in contents {
        let bytes = std::fs::read(share.join(k)).unwrap_or_else(|e| panic!("{k}: {e}"));
        assert_eq!(blake3::hash(&bytes), *h, "{k} on the share");
        assert!(!source_of(lab, k).exists(), "{k} left at the source");
    }
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Run apply with `MDCLUSTER_CRASH_AFTER_RECORD` at the first record of the
/// mail-store step: the preflight has passed, nothing of the store moved.
fn stop_before_the_store(lab: &Lab) {
    let journal = lab.install.join("mdcluster/journal.jsonl");
    for n in 1..200 {
        let probe = lab.copy();
        let out = probe
            .apply()
            .arg("--yes")
            .env("MDCLUSTER_CRASH_AFTER_RECORD", n.to_string())
            .output()
            .unwrap();
        assert!(!out.status.success(), "no mail-store record before the end");
        let text = std::fs::read_to_string(probe.install.join("mdcluster/journal.jsonl"))
            .unwrap_or_default();
        if text.contains(r#""step":"mail-store""#) {
            let out = lab
                .apply()
                .arg("--yes")
                .env("MDCLUSTER_CRASH_AFTER_RECORD", n.to_string())
                .output()
                .unwrap();
            assert!(!out.status.success());
            assert!(std::fs::read_to_string(&journal)
                .unwrap()
                .contains(r#""step":"mail-store""#));
            return;
        }
    }
    panic!("the mail-store step never began");
}

/// A lab whose share is inside `mount`.
fn lab_on(mount: &Path, o: mdcluster::sandbox::Options) -> Lab {
    Lab::with(
        o,
        Some(
            tempfile::Builder::new()
                .prefix("mdcluster-share-")
                .tempdir_in(mount)
                .unwrap(),
        ),
    )
}

#[test]
fn disk_full_after_the_preflight_stops_with_exit_4_and_loses_nothing() {
    if !can_run(&["mount", "umount"]) {
        return;
    }
    // Room for the store and the preflight's margin (16 MiB), then filled.
    let mount = TmpfsMount::new("size=24m").expect("mount a tmpfs");
    let lab = lab_on(mount.path(), opts(3, 150));
    let contents = store_contents(&lab);
    stop_before_the_store(&lab);
    let filler = mount.path().join("filler");
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=1M"])
        .arg(format!("of={}", filler.display()))
        .stderr(Stdio::null())
        .status();
    let out = lab.apply().arg("--yes").output().unwrap();
    let stderr = stderr_of(&out);
    eprintln!("disk full: exit {:?}: {stderr}", out.status.code());
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("No space left on device") || stderr.contains("space"),
        "names the cause: {stderr}"
    );
    assert!(
        stderr.contains(&lab.share.display().to_string()),
        "names the file: {stderr}"
    );
    assert_eq!(lost(&lab, &lab.share, &contents), Vec::<String>::new());
    std::fs::remove_file(&filler).unwrap();
    let out = lab.apply().arg("--yes").output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    all_moved(&lab, &lab.share, &contents);
}

#[test]
fn a_target_turned_read_only_stops_with_exit_4_and_loses_nothing() {
    if !can_run(&["mount", "umount"]) {
        return;
    }
    let mount = TmpfsMount::new("size=64m").expect("mount a tmpfs");
    let lab = lab_on(mount.path(), opts(3, 150));
    let contents = store_contents(&lab);
    stop_before_the_store(&lab);
    let remount = |mode: &str| {
        assert!(Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(mount.path())
            .status()
            .unwrap()
            .success());
    };
    remount("ro");
    let out = lab.apply().arg("--yes").output().unwrap();
    remount("rw");
    let stderr = stderr_of(&out);
    eprintln!("read-only target: exit {:?}: {stderr}", out.status.code());
    assert!(
        matches!(out.status.code(), Some(3) | Some(4)),
        "refused or stopped: {stderr}"
    );
    assert!(
        stderr.contains("read-only") || stderr.contains("Read-only"),
        "names the cause: {stderr}"
    );
    assert!(
        stderr.contains(&lab.share.display().to_string()),
        "names the place: {stderr}"
    );
    assert_eq!(lost(&lab, &lab.share, &contents), Vec::<String>::new());
    let out = lab.apply().arg("--yes").output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    all_moved(&lab, &lab.share, &contents);
}

#[test]
fn a_source_file_that_cannot_be_read_stops_with_exit_4_naming_it() {
    let lab = Lab::cross_fs();
    let contents = store_contents(&lab);
    let victim = contents
        .keys()
        .find(|k| k.ends_with(".msg") && k.starts_with("Users/"))
        .unwrap()
        .clone();
    let name = Path::new(&victim).file_name().unwrap().to_owned();
    let before = lab.hash();
    let out = lab
        .apply()
        .arg("--yes")
        .env("MDCLUSTER_TEST_UNREADABLE", &name)
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    eprintln!("unreadable source: exit {:?}: {stderr}", out.status.code());
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains(&name.to_string_lossy().to_string()) && stderr.contains("ermission denied"),
        "names the file and the cause: {stderr}"
    );
    assert!(
        source_of(&lab, &victim).exists(),
        "the unreadable file stays"
    );
    assert_eq!(lost(&lab, &lab.share, &contents), Vec::<String>::new());
    // Undo gives the original tree back; a rerun once it is readable completes.
    lab.undo();
    assert_eq!(lab.hash(), before);
    let out = lab.apply().arg("--yes").output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    all_moved(&lab, &lab.share, &contents);
}

// ---------------------------------------------------------------------------
// A real SMB share: smbd on 127.0.0.1 at a free high port, every state folder
// in the test's temp folder, mounted through FUSE with smbnetfs.

struct Samba {
    dir: tempfile::TempDir,
    port: u16,
    smbd: Option<Child>,
    smbnetfs: Option<Child>,
}

impl Samba {
    fn start() -> Samba {
        let dir = tempfile::Builder::new()
            .prefix("mdcluster-smb-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        for sub in [
            "run",
            "lock",
            "state",
            "cache",
            "private",
            "ncalrpc",
            "share",
            "home/.smb",
            "mnt",
        ] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let p = |s: &str| d.join(s).display().to_string();
        std::fs::write(
            d.join("smb.conf"),
            format!(
                "[global]\n workgroup = WORKGROUP\n server role = standalone server\n \
                 interfaces = lo\n bind interfaces only = yes\n smb ports = {port}\n \
                 disable netbios = yes\n pid directory = {}\n lock directory = {}\n \
                 state directory = {}\n cache directory = {}\n private dir = {}\n \
                 ncalrpc dir = {}\n passdb backend = tdbsam:{}/passdb.tdb\n \
                 log file = {}/log.%m\n logging = file\n load printers = no\n \
                 printing = bsd\n printcap name = /dev/null\n disable spoolss = yes\n \
                 server min protocol = SMB2_10\n\
                 [share]\n path = {}\n read only = no\n force user = root\n create mask = 0644\n",
                p("run"),
                p("lock"),
                p("state"),
                p("cache"),
                p("private"),
                p("ncalrpc"),
                p("private"),
                p("."),
                p("share"),
            ),
        )
        .unwrap();
        let mut pw = Command::new(find_program("smbpasswd").unwrap())
            .args(["-c"])
            .arg(d.join("smb.conf"))
            .args(["-s", "-a", "root"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        use std::io::Write;
        pw.stdin
            .take()
            .unwrap()
            .write_all(b"mdc-test\nmdc-test\n")
            .unwrap();
        assert!(pw.wait().unwrap().success(), "smbpasswd");
        let conf = d.join("home/.smb/smbnetfs.conf");
        std::fs::write(
            &conf,
            "auth \"127.0.0.1\" \"root\" \"mdc-test\"\nhost 127.0.0.1 visible=true\nsmb_query_browsers false\n",
        )
        .unwrap();
        let _ = Command::new("chmod").arg("600").arg(&conf).status();
        // libsmbclient (under smbnetfs) reads this one.
        std::fs::write(
            d.join("home/.smb/smb.conf"),
            format!(
                "[global]\n client min protocol = SMB2_10\n smb ports = {port}\n disable netbios = yes\n"
            ),
        )
        .unwrap();
        let mut s = Samba {
            dir,
            port,
            smbd: None,
            smbnetfs: None,
        };
        s.start_smbd();
        let smbnetfs = Command::new(find_program("smbnetfs").unwrap())
            .arg(s.dir.path().join("mnt"))
            .arg("-f")
            .env("HOME", s.dir.path().join("home"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        s.smbnetfs = Some(smbnetfs);
        let root = s.mounted();
        assert!(
            wait_for(Duration::from_secs(60), || std::fs::read_dir(&root).is_ok()),
            "the share is not reachable through smbnetfs at {}",
            root.display()
        );
        s
    }

    /// The share as the client sees it (the FUSE mount; the port is part of
    /// the host name there).
    fn mounted(&self) -> PathBuf {
        self.dir
            .path()
            .join(format!("mnt/127.0.0.1:{}/share", self.port))
    }

    /// The share's folder on the server: where its bytes really are.
    fn served(&self) -> PathBuf {
        self.dir.path().join("share")
    }

    fn start_smbd(&mut self) {
        let child = Command::new(find_program("smbd").unwrap())
            .arg("-s")
            .arg(self.dir.path().join("smb.conf"))
            .args(["--foreground", "--no-process-group"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.smbd = Some(child);
        let port = self.port;
        assert!(
            wait_for(Duration::from_secs(60), || {
                std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            }),
            "smbd did not listen on port {port}"
        );
    }

    /// Stop smbd and the processes it started for connections, by their ids.
    fn stop_smbd(&mut self) {
        let Some(mut child) = self.smbd.take() else {
            return;
        };
        let pid = child.id();
        let mut pids = vec![pid];
        // smbd forks a process per connection: its children.
        let mut i = 0;
        while i < pids.len() {
            let parent = pids[i];
            for e in std::fs::read_dir("/proc").unwrap().flatten() {
                let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
                    continue;
                };
                let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
                let ppid = stat
                    .rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                    .and_then(|s| s.parse::<u32>().ok());
                if ppid == Some(parent) && !pids.contains(&p) {
                    pids.push(p);
                }
            }
            i += 1;
        }
        for p in pids.iter().skip(1) {
            let _ = Command::new("kill")
                .args(["-KILL", &p.to_string()])
                .stderr(Stdio::null())
                .status();
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Samba {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path().join("mnt"))
            .stderr(Stdio::null())
            .status();
        if let Some(mut c) = self.smbnetfs.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.stop_smbd();
    }
}

/// A lab whose share is a folder on the SMB share; returns the lab and that
/// folder as the server sees it.
fn lab_on_smb(smb: &Samba, o: mdcluster::sandbox::Options) -> (Lab, PathBuf) {
    let lab = lab_on(&smb.mounted(), o);
    let rel = lab.share.strip_prefix(smb.mounted()).unwrap().to_path_buf();
    let served = smb.served().join(rel);
    assert!(served.is_dir(), "{} on the server", served.display());
    (lab, served)
}

#[test]
fn the_store_moves_onto_a_real_smb_share_verified_with_what_it_does_not_keep() {
    if !can_run(&["smbd", "smbpasswd", "smbnetfs", "umount"]) {
        return;
    }
    let smb = Samba::start();
    let (lab, served) = lab_on_smb(&smb, opts(3, 120));
    // Real stores have times finer than a second and owner-only messages:
    // the share keeps neither.
    let mut n = 0;
    for e in walkdir::WalkDir::new(lab.install.join("Users")) {
        let e = e.unwrap();
        if e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "msg") && n < 20 {
            filetime::set_file_mtime(
                e.path(),
                filetime::FileTime::from_unix_time(1_700_000_000, 123_456_789),
            )
            .unwrap();
            let _ = Command::new("chmod").arg("600").arg(e.path()).status();
            n += 1;
        }
    }
    let contents = store_contents(&lab);
    let out = lab.apply().arg("--yes").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}\n{stdout}", stderr_of(&out));
    all_moved(&lab, &served, &contents);
    let dry = {
        // What the share does not keep is said in the preview (a fresh one).
        let probe = Lab::with(opts(1, 5), None);
        let plan = mdcluster::sandbox::plan_text(&probe.install, &smb.mounted().join("preview"));
        std::fs::create_dir_all(smb.mounted().join("preview")).unwrap();
        std::fs::write(&probe.plan, plan).unwrap();
        let o = probe.apply().arg("--dry-run").output().unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert!(
        dry.contains("keeps modification times only to the second")
            || dry.contains("does not keep modification times"),
        "{dry}"
    );
    assert!(dry.contains("does not keep permission bits"), "{dry}");
    // Undo brings every message back (content; the share kept times only to
    // the second and no permission bits, so those of the copies come back).
    let out = mdcluster()
        .args(["undo", "--yes", "--plan"])
        .arg(&lab.plan)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    for (k, h) in &contents {
        let bytes = std::fs::read(source_of(&lab, k)).unwrap();
        assert_eq!(blake3::hash(&bytes), *h, "{k} back at the source");
    }
}

#[test]
fn smbd_stopped_mid_copy_exits_4_loses_nothing_and_a_rerun_completes() {
    if !can_run(&["smbd", "smbpasswd", "smbnetfs", "umount"]) {
        return;
    }
    let mut smb = Samba::start();
    let (lab, served) = lab_on_smb(&smb, opts(4, 600));
    let contents = store_contents(&lab);
    let mut child = Command::new(env!("CARGO_BIN_EXE_mdcluster"))
        .args(["apply", "--yes", "--plan"])
        .arg(&lab.plan)
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let arrived = || {
        walkdir::WalkDir::new(served.join("Users"))
            .into_iter()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "msg"))
            .count()
    };
    assert!(
        wait_for(Duration::from_secs(120), || arrived() >= 20),
        "no message arrived on the share"
    );
    smb.stop_smbd();
    let stopped_at = arrived();
    let status = {
        let start = Instant::now();
        loop {
            if let Some(s) = child.try_wait().unwrap() {
                break Some(s);
            }
            if start.elapsed() > Duration::from_secs(300) {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    let status = status.expect("apply did not end within 300 s after smbd stopped");
    assert!(
        stopped_at < contents.len(),
        "the copy finished before smbd stopped"
    );
    eprintln!(
        "smbd stopped after {stopped_at} of {} files: exit {:?}: {stderr}",
        contents.len(),
        status.code()
    );
    assert_eq!(status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("[mail-store]") && stderr.contains(&smb.mounted().display().to_string()),
        "names the step and the file on the share: {stderr}"
    );
    assert_eq!(lost(&lab, &served, &contents), Vec::<String>::new());
    // Back again: the rerun completes.
    smb.start_smbd();
    let share = lab.share.clone();
    assert!(
        wait_for(Duration::from_secs(120), || std::fs::read_dir(&share)
            .is_ok()),
        "the share is back"
    );
    let out = lab.apply().arg("--yes").output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    all_moved(&lab, &served, &contents);
}

/// A share that exports a folder of the installation itself (an
/// administrator shares `C:\MDaemon\Users` as `\\fileserver\mdaemon`): the
/// targets are then inside the store under another name. Through SMB the
/// folder has ids of its own (FUSE), so only the probe mark shows it: the
/// run is refused before any change, naming both.
#[cfg(unix)]
#[test]
fn a_share_that_exports_the_installations_own_store_is_refused() {
    if !can_run(&["smbd", "smbpasswd", "smbnetfs", "umount"]) {
        return;
    }
    let smb = Samba::start();
    // The installation lies in the folder Samba serves; the plan reaches the
    // share through the SMB mount of its Users tree.
    let install = smb.served().join("MDaemon");
    let profile = mdcluster::profile::Profile::builtin();
    mdcluster::sandbox::create(&install, &profile, &opts(3, 30)).unwrap();
    let through_smb = smb.mounted().join("MDaemon/Users");
    assert!(
        wait_for(Duration::from_secs(30), || through_smb.is_dir()),
        "the store through SMB"
    );
    // Different ids: what makes names and ids both blind here.
    use std::os::unix::fs::MetadataExt;
    let (a, b) = (
        std::fs::metadata(install.join("Users")).unwrap(),
        std::fs::metadata(&through_smb).unwrap(),
    );
    assert_ne!((a.dev(), a.ino()), (b.dev(), b.ino()));
    let tmp = tempfile::tempdir().unwrap();
    let plan = tmp.path().join("plan.toml");
    std::fs::write(&plan, mdcluster::sandbox::plan_text(&install, &through_smb)).unwrap();
    let before = tree_hash(&install, true);
    let out = mdcluster()
        .args(["apply", "--yes", "--plan"])
        .arg(&plan)
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("folders of their own") && stderr.contains("on disk"),
        "{stderr}"
    );
    assert!(stderr.contains(r"C:\MDaemon\Users"), "{stderr}");
    assert_eq!(tree_hash(&install, true), before, "nothing changed");
    assert_eq!(leftovers(&install), Vec::<String>::new(), "no probe left");
}
