//! The sandbox installation: realistic, deterministic, labelled as a sample.

mod common;
use common::*;
use mdcluster::profile::Profile;

fn make(dir: &std::path::Path, seed: u64) {
    mdcluster()
        .arg("sandbox")
        .arg(dir)
        .args([
            "--accounts",
            "20",
            "--messages",
            "400",
            "--seed",
            &seed.to_string(),
        ])
        .assert()
        .success();
}

#[test]
fn same_seed_same_tree_other_seed_other_tree() {
    let t = tempfile::tempdir().unwrap();
    let (a, b, c) = (t.path().join("a"), t.path().join("b"), t.path().join("c"));
    make(&a, 5);
    make(&b, 5);
    make(&c, 6);
    assert_eq!(tree_hash(&a, false), tree_hash(&b, false));
    assert_ne!(tree_hash(&a, false), tree_hash(&c, false));
}

#[test]
fn the_installation_looks_like_mdaemon() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("MDaemon");
    let out = mdcluster()
        .arg("sandbox")
        .arg(&dir)
        .args(["--accounts", "30", "--messages", "900"])
        .assert()
        .success();
    // stdout is a plan for it
    let plan = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    mdcluster::plan::Plan::parse(&plan, std::path::Path::new("p.toml"), &Profile::builtin())
        .unwrap();

    let readme = std::fs::read_to_string(dir.join("README.txt")).unwrap();
    assert!(readme.contains("SAMPLE") && readme.contains("NOT a real mail server"));

    let ini = std::fs::read(dir.join("App/MDaemon.ini")).unwrap();
    assert!(ini.windows(2).filter(|w| w == b"\r\n").count() > 20, "CRLF");
    assert!(
        !ini.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'),
        "only CRLF"
    );
    assert!(
        String::from_utf8(ini.clone()).is_err(),
        "Windows-1252 bytes, not UTF-8"
    );
    assert!(ini.windows(3).any(|w| w == b"J\xf6r"), "1252 in a comment");
    assert!(ini.windows(3).any(|w| w == b"M\xfcl"), "1252 in a value");
    let doc = mdcluster::ini::IniDoc::parse(ini);
    assert_eq!(
        doc.get_str("directories", "lockfiles").unwrap(),
        r"C:\MDaemon\LockFiles\"
    );
    assert_eq!(
        doc.get_str("Directories", "PEM").unwrap(),
        r"C:\MDaemon\Pem\"
    );
    assert!(doc.entries("Directories").len() > 8);

    // Userlist.dat: fixed width, MailDir in columns 105..195
    let userlist = std::fs::read(dir.join("App/Userlist.dat")).unwrap();
    let lines: Vec<&[u8]> = userlist
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(lines.len(), 30);
    for l in &lines {
        let maildir = String::from_utf8_lossy(&l[105..195]).trim_end().to_string();
        // One account lives outside the Users tree, as on some installations.
        let inside = maildir.starts_with(r"C:\MDaemon\Users\")
            || maildir.starts_with(r"C:\MDaemon\MailExtra\");
        assert!(inside && maildir.ends_with('\\'), "{maildir}");
        let rel = maildir
            .trim_start_matches(r"C:\MDaemon\")
            .replace('\\', "/");
        assert!(dir.join(&rel).is_dir(), "{rel} exists");
        assert!(dir.join(&rel).join("Hiwater.mrk").is_file());
    }
    assert!(userlist.iter().any(|b| *b >= 0x80), "non-ASCII full names");

    let domains = std::fs::read_to_string(dir.join("App/Domains.dat")).unwrap();
    assert!(domains.contains("Bind=No"));

    let map = tree_map(&dir, false);
    let msgs: Vec<&String> = map
        .keys()
        .filter(|k| (k.starts_with("Users/") || k.starts_with("MailExtra/")) && k.ends_with(".msg"))
        .collect();
    assert_eq!(msgs.len(), 900);
    let name_ok = |k: &str| {
        let n = k.rsplit('/').next().unwrap();
        n.len() == 17 && n.starts_with("md50") && n[4..13].chars().all(|c| c.is_ascii_digit())
    };
    assert!(msgs.iter().all(|k| name_ok(k)), "md50 + 9 digits + .msg");
    assert!(
        map.keys()
            .any(|k| k.contains(".IMAP/") && k.matches(".IMAP").count() >= 2),
        "nested IMAP folders"
    );
    assert!(map
        .keys()
        .any(|k| k.starts_with("Public Folders/") && k.ends_with(".msg")));
    assert!(map.keys().any(|k| k.starts_with("LockFiles/")));
    assert!(
        map.contains_key("Pem/MDaemon/rsa.private") && map.contains_key("Pem/MDaemon/rsa.public")
    );
    assert!(map
        .keys()
        .any(|k| k.starts_with("Logs/MDaemon-") && k.ends_with("-System.log")));
}

#[test]
fn refuses_a_folder_that_holds_something() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("keep.txt"), b"mine").unwrap();
    mdcluster().arg("sandbox").arg(t.path()).assert().code(2);
    assert_eq!(std::fs::read(t.path().join("keep.txt")).unwrap(), b"mine");
}
