//! The Userlist.dat editor on the file a real sandbox writes: every account
//! is read, every MailDir is moved to the share, and nothing else changes.

use mdcluster::profile::Profile;
use mdcluster::sandbox::{self, Options, DEMO_SHARE, WINDOWS_ROOT};
use mdcluster::userlist::{Layout, Userlist, UserlistError};

fn sandbox_userlist() -> (tempfile::TempDir, Vec<u8>, Layout) {
    let profile = Profile::builtin();
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("MDaemon");
    let opts = Options {
        accounts: 25,
        messages: 50,
        seed: 7,
        message_size: None,
    };
    sandbox::create(&dir, &profile, &opts).unwrap();
    let file = profile.userlist.file.replace('\\', "/");
    let bytes = std::fs::read(dir.join(file)).unwrap();
    (t, bytes, Layout::from_profile(&profile))
}

#[test]
fn every_sandbox_account_moves_to_the_share_and_nothing_else_changes() {
    let (_t, original, layout) = sandbox_userlist();
    let mut u = Userlist::parse(original.clone(), layout);
    assert!(u.issues().is_empty(), "{:?}", u.issues());
    let accounts = u.accounts();
    assert_eq!(accounts.len(), 25);
    assert!(
        accounts.iter().any(|a| a.full_name == "Jörg Müller"),
        "the sandbox writes Windows-1252 full names"
    );

    let new_prefix = format!(r"{DEMO_SHARE}\Users\");
    for a in &accounts {
        // Every account is under Users, except one the sandbox keeps elsewhere.
        let base = if a.mail_dir.contains(r"\MailExtra\") {
            "MailExtra"
        } else {
            "Users"
        };
        let old_prefix = format!(r"{WINDOWS_ROOT}\{base}\");
        assert_eq!(
            a.mail_dir,
            format!(r"{old_prefix}{}\{}\", a.domain, a.mailbox)
        );
        let new = format!("{new_prefix}{}", &a.mail_dir[old_prefix.len()..]);
        u.check_mail_dir(a.line, &new).unwrap();
        u.set_mail_dir(a.line, &new).unwrap();
    }

    let after = u.as_bytes();
    assert_eq!(after.len(), original.len());
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(
            original
                .iter()
                .enumerate()
                .filter(|(_, &b)| b == b'\n')
                .map(|(i, _)| i + 1),
        )
        .collect();
    let [start, end] = layout.mail_dir;
    for (i, (old, new)) in original.iter().zip(after).enumerate() {
        let line_start = line_starts.iter().rev().find(|&&s| s <= i).unwrap();
        let column = i - line_start;
        if !(start..end).contains(&column) {
            assert_eq!(old, new, "byte {i} (column {column}) changed");
        }
    }
    for (old, new) in accounts.iter().zip(u.accounts()) {
        assert_eq!(new.line, old.line);
        assert_eq!(new.full_name, old.full_name);
        assert!(new.mail_dir.starts_with(&new_prefix), "{}", new.mail_dir);
    }
}

#[test]
fn a_share_path_too_long_for_the_field_is_refused_before_anything_changes() {
    let (_t, original, layout) = sandbox_userlist();
    let mut u = Userlist::parse(original.clone(), layout);
    let long_share = format!(r"\\fileserver\{}", "x".repeat(70));
    // Check every account first, as the mail-store step must.
    let refused: Vec<UserlistError> = u
        .accounts()
        .iter()
        .filter_map(|a| {
            let rest = a.mail_dir.strip_prefix(r"C:\MDaemon\")?;
            u.check_mail_dir(a.line, &format!(r"{long_share}\{rest}"))
                .err()
        })
        .collect();
    assert_eq!(refused.len(), 25, "every path is over 90 characters");
    assert!(refused
        .iter()
        .all(|e| matches!(e, UserlistError::TooLong { max: 90, .. })));
    assert!(u
        .set_mail_dir(1, &format!(r"{long_share}\Users\x\"))
        .is_err());
    assert_eq!(u.as_bytes(), &original[..]);
}
