use super::*;
use std::collections::BTreeMap;

/// Everything the mover promises to keep: per relative path the kind, content,
/// modification time (ns) and permission bits — folders included.
fn snapshot(root: &Path) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for e in WalkDir::new(root).min_depth(1).sort_by_file_name() {
        let e = e.unwrap();
        // Keys with `/` on every platform, as the tests write them.
        let rel = e
            .path()
            .strip_prefix(root)
            .unwrap()
            .display()
            .to_string()
            .replace('\\', "/");
        let meta = std::fs::symlink_metadata(e.path()).unwrap();
        let t = filetime::FileTime::from_last_modification_time(&meta);
        #[cfg(unix)]
        let mode = std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o7777;
        #[cfg(not(unix))]
        let mode = 0;
        let desc = if meta.is_file() {
            let content = blake3::hash(&std::fs::read(e.path()).unwrap());
            format!("file {mode:o} {} {t} {content}", meta.len())
        } else if meta.is_dir() {
            format!("dir {mode:o} {t}")
        } else {
            format!("other {}", kind_of(&meta).unwrap_or("?"))
        };
        m.insert(rel, desc);
    }
    m
}

fn set_mode(p: &Path, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    #[cfg(not(unix))]
    let _ = (p, mode);
}

fn sample(root: &Path) {
    std::fs::create_dir_all(root.join("a.IMAP/b.IMAP")).unwrap();
    std::fs::create_dir_all(root.join("empty")).unwrap();
    for (i, name) in [
        "x.msg",
        "a.IMAP/y.msg",
        "a.IMAP/b.IMAP/z.msg",
        "Hiwater.mrk",
    ]
    .iter()
    .enumerate()
    {
        let p = root.join(name);
        std::fs::write(&p, vec![b'0' + i as u8; 1000 * (i + 1)]).unwrap();
        filetime::set_file_mtime(
            &p,
            filetime::FileTime::from_unix_time(1_500_000_000 + i as i64, 123_456_789),
        )
        .unwrap();
    }
    set_mode(&root.join("x.msg"), 0o640);
    set_mode(&root.join("Hiwater.mrk"), 0o400);
    set_mode(&root.join("a.IMAP/b.IMAP"), 0o750);
    // Folder times are part of the promise too: give them distinct ones.
    for (i, dir) in ["a.IMAP", "a.IMAP/b.IMAP", "empty"].iter().enumerate() {
        filetime::set_file_mtime(
            root.join(dir),
            filetime::FileTime::from_unix_time(1_400_000_000 + i as i64, 5),
        )
        .unwrap();
    }
}

fn opts(threads: usize) -> Options {
    Options {
        allow_rename: false,
        threads,
        flush: Flush::Auto,
    }
}

fn no_progress() -> impl FnMut(&Progress) {
    |_| {}
}

#[test]
fn copy_path_moves_everything_and_keeps_times_and_permissions() {
    let d = tempfile::tempdir().unwrap();
    let (src, dst) = (d.path().join("src"), d.path().join("dst"));
    sample(&src);
    let before = snapshot(&src);
    let out = move_tree(&src, &dst, &opts(4), (4, 10_000), &mut no_progress()).unwrap();
    assert!(!src.exists());
    assert_eq!(snapshot(&dst), before);
    assert_eq!(
        out,
        Outcome {
            method: Method::Copy,
            files: 4,
            bytes: 10_000,
            skipped: vec![],
        }
    );
    // No temporary file is left behind.
    assert!(!snapshot(&dst).keys().any(|k| k.contains(".mdcluster-")));
}

#[test]
fn progress_is_reported_on_the_calling_thread() {
    let d = tempfile::tempdir().unwrap();
    let (src, dst) = (d.path().join("src"), d.path().join("dst"));
    sample(&src);
    let me = std::thread::current().id();
    let mut last = Progress::default();
    let mut calls = 0;
    let mut phases: Vec<Phase> = Vec::new();
    move_tree(&src, &dst, &opts(8), (4, 10_000), &mut |p| {
        assert_eq!(std::thread::current().id(), me);
        calls += 1;
        last = *p;
        if phases.last() != Some(&p.phase) {
            phases.push(p.phase);
        }
        // Nothing is deleted before the delete phase, and the copies are
        // all counted before it starts.
        if p.phase != Phase::Delete {
            assert_eq!(p.files_removed, 0, "{p:?}");
        } else {
            assert_eq!(p.files_done, 4, "{p:?}");
        }
    })
    .unwrap();
    assert!(calls >= 3, "after each phase at least");
    // Each phase said, in order, however short.
    assert_eq!(phases, [Phase::Copy, Phase::Flush, Phase::Delete]);
    assert_eq!(
        (last.files_done, last.bytes_done, last.files_removed),
        (4, 10_000, 4)
    );
}

/// Invariant 1 and 3: per file written, verified, times set, flushed, renamed —
/// in that order; all of it (and the folder entries) durable before the first
/// source file is deleted.
#[test]
fn every_file_is_verified_and_flushed_before_its_rename_and_before_any_delete() {
    for flush in [Flush::EachFile, Flush::Batched, Flush::Auto] {
        verified_and_flushed_before_rename_and_delete(flush);
    }
}

fn verified_and_flushed_before_rename_and_delete(flush: Flush) {
    let d = tempfile::tempdir().unwrap();
    let (src, dst) = (d.path().join("src"), d.path().join("dst"));
    sample(&src);
    let o = Options { flush, ..opts(4) };
    move_tree(&src, &dst, &o, (4, 10_000), &mut no_progress()).unwrap();
    let steps = hooks::steps_below(d.path());
    let at = |path: &Path, what: &str| {
        steps
            .iter()
            .position(|(p, w)| p == path && *w == what)
            .unwrap_or_else(|| panic!("no {what} for {}", path.display()))
    };
    let durable = at(&dst, "durable");
    for name in [
        "x.msg",
        "a.IMAP/y.msg",
        "a.IMAP/b.IMAP/z.msg",
        "Hiwater.mrk",
    ] {
        let f = dst.join(name);
        let order = ["written", "verified", "times", "flushed", "renamed"].map(|w| at(&f, w));
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "{flush:?} {name}: {order:?}"
        );
        // Batching is Linux's (syncfs); elsewhere every file is flushed itself.
        if flush == Flush::Batched && cfg!(target_os = "linux") {
            // One syncfs between the last change of the copy and its rename.
            assert!(
                steps[order[2]..order[4]]
                    .iter()
                    .any(|(_, w)| *w == "syncfs"),
                "{name}: no syncfs before the rename"
            );
        }
        assert!(order[4] < durable);
        assert!(durable < at(&src.join(name), "deleted"), "{name}");
    }
}

/// Invariant 1: a copy that does not match its source never gets its final
/// name, and a move deletes nothing; a rerun then finishes.
#[test]
fn a_failed_verification_leaves_nothing_at_the_final_name_and_deletes_nothing() {
    for (i, flush) in [Flush::EachFile, Flush::Batched].into_iter().enumerate() {
        failed_verification(&format!("corrupted-by-the-share-{i}.msg"), flush);
    }
}

fn failed_verification(bad: &str, flush: Flush) {
    let d = tempfile::tempdir().unwrap();
    let (src, dst) = (d.path().join("src"), d.path().join("dst"));
    sample(&src);
    std::fs::write(src.join("a.IMAP").join(bad), b"precious").unwrap();
    let before = snapshot(&src);
    hooks::corrupt_copies_of(bad);
    let o = Options { flush, ..opts(4) };
    let err = move_tree(&src, &dst, &o, (5, 0), &mut no_progress()).unwrap_err();
    hooks::heal(bad);
    assert!(matches!(err, FsError::Verify { .. }), "{err}");
    assert!(!dst.join("a.IMAP").join(bad).exists());
    assert!(!snapshot(&dst).keys().any(|k| k.contains(".mdcluster-")));
    assert_eq!(snapshot(&src), before, "the source is complete");
    // Rerun (the share is healthy again): resumes and finishes.
    move_tree(&src, &dst, &o, (5, 0), &mut no_progress()).unwrap();
    assert!(!src.exists());
    assert_eq!(snapshot(&dst), before);
}

/// Invariant 1: a source that changes while it is read is read again, so the
/// copy matches the version whose time it gets.
#[test]
fn a_source_changing_during_its_copy_is_copied_again() {
    let d = tempfile::tempdir().unwrap();
    let (src, dst) = (d.path().join("src"), d.path().join("dst"));
    sample(&src);
    let name = "changes-while-copied.msg";
    std::fs::write(src.join(name), b"first version").unwrap();
    hooks::change_source_once(name);
    copy_tree(&src, &dst, &opts(2), (0, 0), &mut no_progress()).unwrap();
    assert_eq!(snapshot(&dst), snapshot(&src));
    assert_eq!(
        std::fs::read(dst.join(name)).unwrap(),
        b"first version, changed"
    );
}

/// Invariant 2: resume rules for a file already at the destination.
#[test]
fn destination_files_done_identical_or_conflicting() {
    let d = tempfile::tempdir().unwrap();
    let (src, dst) = (d.path().join("src"), d.path().join("dst"));
    sample(&src);
    std::fs::create_dir_all(&dst).unwrap();
    let meta = std::fs::metadata(src.join("x.msg")).unwrap();
    let mtime = filetime::FileTime::from_last_modification_time(&meta);

    // Same size and mtime: a verified copy by construction, not read again.
    // (Different bytes here only prove that it is not read.)
    std::fs::write(dst.join("x.msg"), vec![b'Z'; 1000]).unwrap();
    filetime::set_file_mtime(dst.join("x.msg"), mtime).unwrap();
    copy_tree(&src, &dst, &opts(2), (0, 0), &mut no_progress()).unwrap();
    assert_eq!(std::fs::read(dst.join("x.msg")).unwrap(), vec![b'Z'; 1000]);

    // Same bytes, other time: identical, its time and permission bits are fixed.
    std::fs::copy(src.join("x.msg"), dst.join("x.msg")).unwrap();
    set_mode(&dst.join("x.msg"), 0o666);
    filetime::set_file_mtime(dst.join("x.msg"), filetime::FileTime::from_unix_time(7, 0)).unwrap();
    copy_tree(&src, &dst, &opts(2), (0, 0), &mut no_progress()).unwrap();
    assert_eq!(snapshot(&dst), snapshot(&src));

    // Same size, other bytes and time; or another size: a conflict, untouched.
    for other in [vec![b'Z'; 1000], b"short".to_vec()] {
        std::fs::write(dst.join("x.msg"), &other).unwrap();
        let err = copy_tree(&src, &dst, &opts(2), (0, 0), &mut no_progress()).unwrap_err();
        assert!(matches!(err, FsError::Conflict { .. }), "{err}");
        assert_eq!(std::fs::read(dst.join("x.msg")).unwrap(), other);
    }
}

#[cfg(target_os = "linux")]
#[test]
fn the_final_rename_never_replaces_a_file_that_appeared_meanwhile() {
    let d = tempfile::tempdir().unwrap();
    let (tmp, dst) = (d.path().join("tmp"), d.path().join("dst"));
    std::fs::write(&tmp, b"ours").unwrap();
    std::fs::write(&dst, b"someone else's").unwrap();
    let err = rename_into_place(&tmp, &dst, false).unwrap_err();
    assert!(matches!(err, FsError::Conflict { .. }), "{err}");
    assert_eq!(std::fs::read(&dst).unwrap(), b"someone else's");
    assert!(!tmp.exists());
}

/// Invariant 3: in the delete phase a source that changed since its copy is
/// copied again before it is deleted.
#[test]
fn a_source_changed_after_the_copy_phase_is_copied_again_before_its_delete() {
    let d = tempfile::tempdir().unwrap();
    let (src, dst) = (d.path().join("src"), d.path().join("dst"));
    sample(&src);
    let run = Run::new(&opts(4), (4, 10_000));
    run.copy_phase(&src, &dst, &mut no_progress()).unwrap();
    std::fs::write(src.join("a.IMAP/y.msg"), b"a new version").unwrap();
    std::fs::write(src.join("a.IMAP/new.msg"), b"new since the copy").unwrap();
    std::fs::create_dir(src.join("new.IMAP")).unwrap();
    std::fs::write(src.join("new.IMAP/1.msg"), b"in a new folder").unwrap();
    let before = snapshot(&src);
    run.delete_phase(&src, &dst, &mut no_progress()).unwrap();
    assert!(!src.exists());
    let after = snapshot(&dst);
    for name in ["a.IMAP/y.msg", "a.IMAP/new.msg", "new.IMAP/1.msg", "x.msg"] {
        assert_eq!(after[name], before[name], "{name}");
    }
}

#[test]
fn interrupted_copy_resumes_and_conflicts_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let (src, dst) = (d.path().join("src"), d.path().join("dst"));
    sample(&src);
    let before = snapshot(&src);
    // An earlier run copied one file and left a half-written temp file.
    std::fs::create_dir_all(dst.join("a.IMAP")).unwrap();
    std::fs::copy(src.join("a.IMAP/y.msg"), dst.join("a.IMAP/y.msg")).unwrap();
    std::fs::write(dst.join(part_name(&dst.join("x.msg"))), b"half").unwrap();
    move_tree(&src, &dst, &opts(3), (4, 10_000), &mut no_progress()).unwrap();
    assert_eq!(snapshot(&dst), before);

    // Different data at the destination is never overwritten.
    sample(&src);
    std::fs::write(dst.join("x.msg"), b"someone else's").unwrap();
    std::fs::remove_dir_all(dst.join("a.IMAP")).unwrap();
    let err = move_tree(&src, &dst, &opts(3), (0, 0), &mut no_progress()).unwrap_err();
    assert!(matches!(err, FsError::Conflict { .. }), "{err}");
    assert_eq!(std::fs::read(dst.join("x.msg")).unwrap(), b"someone else's");
    assert!(src.join("x.msg").exists());
    assert!(src.join("a.IMAP/y.msg").exists(), "nothing deleted");
}

#[test]
fn a_crash_in_the_delete_phase_is_finished_by_a_rerun() {
    let d = tempfile::tempdir().unwrap();
    let (src, dst) = (d.path().join("src"), d.path().join("dst"));
    sample(&src);
    let before = snapshot(&src);
    Run::new(&opts(2), (0, 0))
        .copy_phase(&src, &dst, &mut no_progress())
        .unwrap();
    std::fs::remove_file(src.join("x.msg")).unwrap();
    std::fs::remove_dir_all(src.join("a.IMAP/b.IMAP")).unwrap();
    let out = move_tree(&src, &dst, &opts(2), (4, 10_000), &mut no_progress()).unwrap();
    assert!(!src.exists());
    // Files exactly; a folder whose content was partly deleted before the
    // crash takes the time of that deletion (its source's time changed).
    let mut after = snapshot(&dst);
    let mut before = before;
    for m in [&mut after, &mut before] {
        m.remove("a.IMAP");
    }
    assert_eq!(after, before);
    assert_eq!(out.files, 2, "the two files still at the source");
}

#[test]
fn rename_path_and_resume_after_rename() {
    let d = tempfile::tempdir().unwrap();
    let (src, dst) = (d.path().join("src"), d.path().join("dst"));
    sample(&src);
    let before = snapshot(&src);
    std::fs::create_dir(&dst).unwrap(); // an empty target is fine
    let o = Options::default();
    let out = move_tree(&src, &dst, &o, (4, 10_000), &mut no_progress()).unwrap();
    assert_eq!(out.method, Method::Rename);
    assert_eq!((out.files, out.bytes), (4, 10_000));
    assert_eq!(snapshot(&dst), before);
    // A rerun after the rename finds the work done.
    let again = move_tree(&src, &dst, &o, (4, 10_000), &mut no_progress()).unwrap();
    assert_eq!(again.files, 4);
}

#[test]
fn undo_of_a_partial_move_merges_back() {
    let d = tempfile::tempdir().unwrap();
    let (src, dst) = (d.path().join("src"), d.path().join("dst"));
    sample(&src);
    let before = snapshot(&src);
    Run::new(&opts(4), (0, 0))
        .copy_phase(&src, &dst, &mut no_progress())
        .unwrap();
    // Crash in the delete phase: one source file already gone.
    std::fs::remove_file(src.join("x.msg")).unwrap();
    move_tree(&dst, &src, &opts(4), (4, 10_000), &mut no_progress()).unwrap();
    assert!(!dst.exists());
    assert_eq!(snapshot(&src), before);
}

/// A crash in the middle of a copy leaves temporary files at the destination;
/// undo (the move the other way) neither copies them back nor trips over them.
#[test]
fn undo_after_a_crash_mid_copy_leaves_no_temporary_file_behind() {
    let d = tempfile::tempdir().unwrap();
    let (src, dst) = (d.path().join("src"), d.path().join("dst"));
    sample(&src);
    let before = snapshot(&src);
    std::fs::create_dir_all(dst.join("a.IMAP")).unwrap();
    std::fs::copy(src.join("a.IMAP/y.msg"), dst.join("a.IMAP/y.msg")).unwrap();
    let meta = std::fs::metadata(src.join("a.IMAP/y.msg")).unwrap();
    let mtime = filetime::FileTime::from_last_modification_time(&meta);
    filetime::set_file_mtime(dst.join("a.IMAP/y.msg"), mtime).unwrap();
    let leftover = dst
        .join("a.IMAP")
        .join(part_name(&dst.join("a.IMAP/gone.msg")));
    std::fs::write(&leftover, b"half of a file whose source is gone").unwrap();
    assert!(is_leftover(leftover.file_name().unwrap()));
    move_tree(&dst, &src, &opts(2), (0, 0), &mut no_progress()).unwrap();
    assert!(!dst.exists());
    // Exactly, but for the time of the folder the crash left without its time.
    let mut after = snapshot(&src);
    let mut before = before;
    for m in [&mut after, &mut before] {
        m.remove("a.IMAP");
    }
    assert_eq!(after, before);
}

#[test]
fn remove_copy_keeps_changed_files() {
    let d = tempfile::tempdir().unwrap();
    let (src, dst) = (d.path().join("src"), d.path().join("dst"));
    sample(&src);
    copy_tree(&src, &dst, &opts(4), (0, 0), &mut no_progress()).unwrap();
    std::fs::write(dst.join("a.IMAP/y.msg"), b"edited after the copy").unwrap();
    let kept = remove_copy(&src, &dst, false).unwrap();
    assert_eq!(kept, vec![dst.join("a.IMAP/y.msg")]);
    assert!(!dst.join("x.msg").exists());
    assert!(!dst.join("empty").exists());
    assert!(dst.join("a.IMAP/y.msg").exists());
}

/// Many files of many sizes (empty, several buffers long) in nested folders:
/// one thread and many threads give the same, complete tree.
#[test]
fn one_thread_and_many_threads_give_the_same_tree() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    for i in 0..300usize {
        let dir = src.join(format!("u{}/f{}.IMAP", i % 7, i % 3));
        std::fs::create_dir_all(&dir).unwrap();
        let len = match i % 50 {
            0 => 0,
            1 => BUF_SIZE * 2 + 17,
            _ => (i * 131) % 20_000,
        };
        let body: Vec<u8> = (0..len).map(|j| (j * 7 + i) as u8).collect();
        let p = dir.join(format!("{i}.msg"));
        std::fs::write(&p, body).unwrap();
        filetime::set_file_mtime(&p, filetime::FileTime::from_unix_time(i as i64, i as u32))
            .unwrap();
    }
    let before = snapshot(&src);
    for threads in [1, 16] {
        let dst = d.path().join(format!("dst{threads}"));
        let out = copy_tree(&src, &dst, &opts(threads), (0, 0), &mut no_progress()).unwrap();
        assert_eq!(out.files, 300);
        assert_eq!(snapshot(&dst), before, "{threads} threads");
    }
    let moved = d.path().join("moved");
    move_tree(&src, &moved, &opts(16), (0, 0), &mut no_progress()).unwrap();
    assert!(!src.exists());
    assert_eq!(snapshot(&moved), before);
}

/// Invariant 5: links and special files are skipped, listed, and left at the
/// source with their folders; a link loop does not hang the walk.
#[cfg(unix)]
#[test]
fn links_and_special_files_are_skipped_reported_and_left_in_place() {
    use std::os::unix::fs::symlink;
    let d = tempfile::tempdir().unwrap();
    let (src, dst) = (d.path().join("src"), d.path().join("dst"));
    sample(&src);
    symlink("/etc", src.join("etc")).unwrap();
    symlink("x.msg", src.join("link-to-x.msg")).unwrap();
    symlink("..", src.join("a.IMAP/up")).unwrap(); // a loop through the parent
    symlink("loop-b", src.join("a.IMAP/b.IMAP/loop-a")).unwrap();
    symlink("loop-a", src.join("a.IMAP/b.IMAP/loop-b")).unwrap();
    std::fs::create_dir(src.join("sockets")).unwrap();
    let _socket = std::os::unix::net::UnixListener::bind(src.join("sockets/s")).unwrap();
    #[cfg(target_os = "linux")]
    rustix::fs::mknodat(
        rustix::fs::CWD,
        src.join("fifo"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    let before = snapshot(&src);

    // On a thread, so a hang fails the test instead of stalling it.
    let (done, result) = std::sync::mpsc::channel();
    let (s, t) = (src.clone(), dst.clone());
    std::thread::spawn(move || {
        let _ = done.send(move_tree(&s, &t, &opts(4), (4, 10_000), &mut |_| {}));
    });
    let out = result
        .recv_timeout(Duration::from_secs(60))
        .expect("the move hung")
        .unwrap();
    let mut expected = vec![
        "a.IMAP/b.IMAP/loop-a",
        "a.IMAP/b.IMAP/loop-b",
        "a.IMAP/up",
        "etc",
        "link-to-x.msg",
        "sockets/s",
    ];
    #[cfg(target_os = "linux")]
    expected.push("fifo");
    expected.sort();
    assert_eq!(out.skipped, expected);
    assert_eq!((out.files, out.bytes), (4, 10_000));

    // Every file moved; nothing of the skipped entries at the destination.
    let moved = snapshot(&dst);
    for name in [
        "x.msg",
        "a.IMAP/y.msg",
        "a.IMAP/b.IMAP/z.msg",
        "Hiwater.mrk",
    ] {
        assert_eq!(moved[name], before[name]);
        assert!(!src.join(name).exists());
    }
    assert!(expected.iter().all(|s| !moved.contains_key(*s)));
    assert!(!dst.join("etc/passwd").exists());
    // The skipped entries and exactly the folders holding them stay.
    let left = snapshot(&src);
    let mut kept: Vec<&str> = left.keys().map(String::as_str).collect();
    kept.sort();
    let mut want = expected.clone();
    want.extend(["a.IMAP", "a.IMAP/b.IMAP", "sockets"]);
    want.sort();
    assert_eq!(kept, want);
    for s in &expected {
        assert_eq!(left[*s], before[*s], "{s} untouched");
    }

    // A copy skips them the same way; the JSON evidence lists them.
    let copied = d.path().join("copied");
    let out = copy_tree(&src, &copied, &opts(2), (0, 0), &mut no_progress()).unwrap();
    assert_eq!(out.skipped, expected);
    let json = serde_json::to_value(&out).unwrap();
    assert_eq!(
        json["skipped"].as_array().map(Vec::len),
        Some(expected.len())
    );
}

#[cfg(unix)]
#[test]
fn a_link_as_the_folder_to_move_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let (real, link) = (d.path().join("real"), d.path().join("link"));
    sample(&real);
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let dst = d.path().join("dst");
    for o in [opts(2), Options::default()] {
        let err = move_tree(&link, &dst, &o, (0, 0), &mut no_progress()).unwrap_err();
        assert!(matches!(err, FsError::Special { .. }), "{err}");
        let err = copy_tree(&link, &dst, &o, (0, 0), &mut no_progress()).unwrap_err();
        assert!(matches!(err, FsError::Special { .. }), "{err}");
    }
    assert!(!dst.exists());
    assert!(real.join("x.msg").exists());
}

#[test]
fn outcome_json_without_skipped_entries_is_unchanged() {
    let out = Outcome {
        method: Method::Copy,
        files: 1,
        bytes: 2,
        skipped: vec![],
    };
    assert_eq!(
        serde_json::to_string(&out).unwrap(),
        r#"{"method":"copy","files":1,"bytes":2}"#
    );
    let back: Outcome = serde_json::from_str(r#"{"method":"rename","files":1,"bytes":2}"#).unwrap();
    assert!(back.skipped.is_empty());
}
