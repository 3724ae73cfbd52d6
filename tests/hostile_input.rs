//! The hostile-input corpus (issue 8): files and trees no MDaemon would
//! write, fed to a real `apply`. Each case: no panic (a panic exits 101), a
//! clear error with a documented exit code and nothing changed, or a correct
//! result. The corpus is generated here rather than stored (a 50 MB line,
//! 100,000 sections), deterministic for its seed.

mod common;
use common::*;

/// What `apply --yes` did with the lab as it is.
enum Outcome {
    Done,
    Refused(String),
}

fn apply(lab: &Lab) -> Outcome {
    let before = lab.hash();
    let out = lab.apply().arg("--yes").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    match out.status.code() {
        Some(0) => Outcome::Done,
        Some(code @ (2 | 3)) => {
            assert!(
                stderr.contains("what to do:"),
                "exit {code} without a fix: {stderr}"
            );
            assert_eq!(
                lab.hash(),
                before,
                "a refused run changed something: {stderr}"
            );
            Outcome::Refused(stderr)
        }
        other => panic!("exit {other:?} (101 is a panic): {stderr}"),
    }
}

fn small_lab() -> Lab {
    Lab::with(
        mdcluster::sandbox::Options {
            accounts: 3,
            messages: 9,
            seed: 8,
            message_size: None,
        },
        None,
    )
}

/// A deterministic byte stream (xorshift), for garbage.
fn garbage(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn set_ini(lab: &Lab, bytes: &[u8]) {
    std::fs::write(lab.ini(), bytes).unwrap();
}

#[test]
fn malformed_mdaemon_ini_files() {
    // Binary garbage: no [Directories], refused.
    let lab = small_lab();
    set_ini(&lab, &garbage(7, 64 * 1024));
    match apply(&lab) {
        Outcome::Refused(e) => assert!(e.contains("MDaemon.ini"), "{e}"),
        Outcome::Done => panic!("garbage accepted as MDaemon.ini"),
    }

    // NUL bytes inside keys, values and comments around a good [Directories].
    let lab = small_lab();
    let mut ini = lab.ini_bytes();
    ini.splice(
        0..0,
        b"; \0comment\0\r\n[Ju\0nk]\r\nK\0ey=va\0lue\r\n"
            .iter()
            .copied(),
    );
    set_ini(&lab, &ini);
    if let Outcome::Done = apply(&lab) {
        let after = lab.ini_bytes();
        assert!(
            after.starts_with(b"; \0comment\0\r\n[Ju\0nk]\r\nK\0ey=va\0lue\r\n"),
            "bytes outside [Directories] kept"
        );
    }

    // UTF-16 with a BOM: not MDaemon's encoding; refused, never mangled.
    let lab = small_lab();
    let text = String::from_utf8_lossy(&lab.ini_bytes()).into_owned();
    let mut utf16 = vec![0xFF, 0xFE];
    for unit in text.encode_utf16() {
        utf16.extend_from_slice(&unit.to_le_bytes());
    }
    set_ini(&lab, &utf16);
    match apply(&lab) {
        Outcome::Refused(e) => assert!(e.contains("MDaemon.ini"), "{e}"),
        Outcome::Done => panic!("UTF-16 MDaemon.ini was edited"),
    }

    // 100,000 sections before the real ones: works, every byte kept.
    let lab = small_lab();
    let mut ini = Vec::new();
    for i in 0..100_000 {
        ini.extend_from_slice(format!("[S{i}]\r\nK=V\r\n").as_bytes());
    }
    let prefix_len = ini.len();
    ini.extend_from_slice(&lab.ini_bytes());
    let prefix = ini[..prefix_len].to_vec();
    set_ini(&lab, &ini);
    assert!(matches!(apply(&lab), Outcome::Done));
    assert!(lab.ini_bytes().starts_with(&prefix));

    // A 50 MB comment line: works, the line kept byte for byte.
    let lab = small_lab();
    let mut ini = b";".to_vec();
    ini.extend(std::iter::repeat_n(b'x', 50 << 20));
    ini.extend_from_slice(b"\r\n");
    let line_len = ini.len();
    ini.extend_from_slice(&lab.ini_bytes());
    set_ini(&lab, &ini);
    assert!(matches!(apply(&lab), Outcome::Done));
    let after = lab.ini_bytes();
    assert!(
        after.len() >= line_len
            && after[..line_len]
                .iter()
                .skip(1)
                .take(50 << 20)
                .all(|b| *b == b'x')
    );
}

#[test]
fn odd_userlist_lines() {
    let lab = small_lab();
    let path = lab.install.join("App/Userlist.dat");
    let mut bytes = std::fs::read(&path).unwrap();
    // Short, long, blank, and non-ASCII (Windows-1252 and UTF-8) lines.
    bytes.extend_from_slice(b"short\r\n\r\n");
    bytes.extend(std::iter::repeat_n(b'L', 5000));
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(b"M\xfcller \xe4\xf6 \xc3\xa4\r\n");
    std::fs::write(&path, &bytes).unwrap();
    match apply(&lab) {
        Outcome::Done => {
            let after = std::fs::read(&path).unwrap();
            assert!(
                after.ends_with(b"M\xfcller \xe4\xf6 \xc3\xa4\r\n"),
                "odd lines kept"
            );
        }
        Outcome::Refused(e) => assert!(e.contains("Userlist.dat"), "{e}"),
    }
}

/// A mailbox folder of the lab to put odd things in.
#[cfg(unix)]
fn mailbox(lab: &Lab) -> std::path::PathBuf {
    let domain = lab.install.join("Users");
    let d = std::fs::read_dir(&domain)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::read_dir(d)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
}

#[cfg(unix)]
#[test]
fn odd_mail_trees() {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::symlink;

    // A symlink loop and a link pointing outside: reported, never followed;
    // the move completes and the link targets are untouched.
    let lab = small_lab();
    let mbx = mailbox(&lab);
    symlink(&mbx, mbx.join("loop")).unwrap();
    let outside = lab.tmp.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), b"not mail").unwrap();
    symlink(&outside, mbx.join("out")).unwrap();
    let _ = apply(&lab);
    assert_eq!(
        std::fs::read(outside.join("secret.txt")).unwrap(),
        b"not mail"
    );

    // Empty files, a non-UTF-8 name and a FIFO.
    let lab = small_lab();
    let mbx = mailbox(&lab);
    std::fs::write(mbx.join("md50000000099.msg"), b"").unwrap();
    let odd = std::ffi::OsStr::from_bytes(b"md5\xff\xfe.msg");
    std::fs::write(mbx.join(odd), b"odd name").unwrap();
    let fifo = mbx.join("pipe");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    match apply(&lab) {
        Outcome::Done => {
            // The empty message moved with the rest; nothing was read from the FIFO.
            let moved = lab.share.join("Users");
            assert!(find(&moved, "md50000000099.msg"), "the empty message moved");
        }
        Outcome::Refused(e) => assert!(
            e.contains("md5") || e.contains("name"),
            "the refusal names the file: {e}"
        ),
    }

    // Case twins, Windows-invalid names and 300-character paths: refused as a
    // list before anything moves.
    let lab = small_lab();
    let mbx = mailbox(&lab);
    std::fs::write(mbx.join("Twin.msg"), b"1").unwrap();
    std::fs::write(mbx.join("twin.MSG"), b"2").unwrap();
    std::fs::write(mbx.join("aux.msg"), b"3").unwrap();
    std::fs::write(mbx.join("trailing."), b"4").unwrap();
    let mut deep = mbx.clone();
    for i in 0..6 {
        deep = deep.join(format!("{}{i}.IMAP", "d".repeat(48)));
    }
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(deep.join("md50000000001.msg"), b"deep").unwrap();
    match apply(&lab) {
        Outcome::Refused(e) => {
            for want in ["differ only in case", "aux.msg", "MAX_PATH"] {
                assert!(e.contains(want), "{want} in {e}");
            }
        }
        Outcome::Done => panic!("names Windows refuses were moved"),
    }
}

#[cfg(unix)]
fn find(root: &std::path::Path, name: &str) -> bool {
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .any(|e| e.file_name() == name)
}
