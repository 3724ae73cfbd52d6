//! Step 11 through `mdcluster apply`: the balancer's files from the plan's
//! `[load_balancer]` and the nodes in the cluster manifest, checked by the
//! real HAProxy, nginx and Apache, written atomically, judged again on every
//! run, refused over foreign files, undone, and finished or undone after a
//! crash at every journal record.
//!
//! The cluster manifest is written with the library (a node whose
//! registration is confirmed), as `mdcluster register` leaves it, so no
//! mDNS traffic is needed; `tests/cluster.rs` covers how nodes get there.

mod common;
use common::*;
use mdcluster::lb::{self, Kind, Verdict};
use mdcluster::plan::Plan;
use mdcluster::profile::Profile;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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

/// Append a secondary (127.0.0.<11+n>) to the plan.
fn add_node(lab: &Lab, name: &str, n: usize) {
    let mut text = std::fs::read_to_string(&lab.plan).unwrap();
    text.push_str(&format!(
        "\n[[nodes]]\nname = \"{name}\"\naddress = \"127.0.0.{}\"\nrole = \"secondary\"\n",
        11 + n
    ));
    std::fs::write(&lab.plan, text).unwrap();
}

fn set_lb(lab: &Lab, table: &str) {
    let mut text = std::fs::read_to_string(&lab.plan).unwrap();
    text.push_str(table);
    std::fs::write(&lab.plan, text).unwrap();
}

fn lb_table(kind: &str, output: Option<&Path>, extra: &str) -> String {
    let mut t = format!("\n[load_balancer]\nkind = \"{kind}\"\n");
    if let Some(o) = output {
        t.push_str(&format!(
            "output = {}\n",
            toml::Value::String(o.display().to_string())
        ));
    }
    t.push_str(extra);
    t
}

/// A lab whose cluster is MAIL1 and `secondaries` (registered), with `lb`.
fn cluster_lab(secondaries: &[&str], lb: &str) -> Lab {
    let lab = small_lab();
    for (i, s) in secondaries.iter().enumerate() {
        add_node(&lab, s, i + 1);
    }
    set_lb(&lab, lb);
    if !secondaries.is_empty() {
        lab.register_all();
    }
    lab
}

fn apply_json(lab: &Lab, extra: &[&str]) -> (Option<i32>, Vec<Value>, String) {
    let out = lab
        .apply()
        .args(["--yes", "--json"])
        .args(extra)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), json_lines(&out.stdout), text)
}

/// A lab whose cluster is MAIL1 and MAIL2 (registered), its Apache files
/// going to a folder of their own (`extra` added to `[load_balancer]`); the
/// temporary folder lives as long as the first value.
fn apache_cluster(extra: &str) -> (tempfile::TempDir, PathBuf, Lab) {
    let holder = tempfile::tempdir().unwrap();
    let out = holder.path().join("lb");
    let lab = cluster_lab(&["MAIL2"], &lb_table("apache", Some(&out), extra));
    (holder, out, lab)
}

/// `apply --yes --json`, which must succeed; its events.
fn apply_ok(lab: &Lab) -> Vec<Value> {
    let (rc, events, text) = apply_json(lab, &[]);
    assert_eq!(rc, Some(0), "{text}");
    events
}

/// `undo --latest --yes` of the lab's plan.
fn undo_latest(lab: &Lab) -> std::process::Output {
    mdcluster()
        .args(["undo", "--latest", "--yes", "--plan"])
        .arg(&lab.plan)
        .output()
        .unwrap()
}

fn event<'a>(events: &'a [Value], kind: &str, step: &str) -> Option<&'a Value> {
    events
        .iter()
        .find(|e| e["event"] == kind && e["step"] == step)
}

fn lb_preview(events: &[Value]) -> &Value {
    event(events, "step-preview", "load-balancer").expect("a preview of step 11")
}

fn status_of(lab: &Lab, step: &str) -> (String, String) {
    let out = mdcluster()
        .args(["status", "--json", "--plan"])
        .arg(&lab.plan)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let row = json_lines(&out.stdout)
        .into_iter()
        .find(|v| v["step"] == step)
        .unwrap();
    (
        row["state"].as_str().unwrap().to_string(),
        row["detail"].as_str().unwrap().to_string(),
    )
}

fn default_dir(lab: &Lab, kind: &str) -> PathBuf {
    lab.install
        .join("mdcluster")
        .join("load-balancer")
        .join(kind)
}

/// Every file below `dir` and its content (times left out: two runs write at
/// different times).
fn contents(dir: &Path) -> BTreeMap<String, String> {
    tree_map(dir, false)
        .into_iter()
        .map(|(k, v)| {
            let hash = v.rsplit(' ').next().unwrap_or_default().to_string();
            let kind = v.split(' ').next().unwrap_or_default().to_string();
            (k, format!("{kind} {hash}"))
        })
        .collect()
}

#[test]
fn without_a_kind_the_step_waits_and_says_what_to_add() {
    let lab = cluster_lab(&["MAIL2"], "");
    let (rc, events, text) = apply_json(&lab, &[]);
    assert_eq!(rc, Some(0), "{text}");
    assert_eq!(lb_preview(&events)["state"], "waiting");
    let reason = event(&events, "step-waiting", "load-balancer").unwrap()["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        reason.contains("kind = \"haproxy\"") && reason.contains("[load_balancer]"),
        "{reason}"
    );
    assert!(reason.contains("--kind all"), "{reason}");
    assert!(!lab.install.join("mdcluster/load-balancer").exists());
    let (state, detail) = status_of(&lab, "load-balancer");
    assert_eq!(state, "waiting", "{detail}");
    assert!(detail.contains("kind = "), "{detail}");
}

#[test]
fn with_only_the_primary_the_step_waits_for_the_secondaries() {
    let lab = cluster_lab(&[], &lb_table("haproxy", None, ""));
    let (rc, events, text) = apply_json(&lab, &[]);
    assert_eq!(rc, Some(0), "{text}");
    let reason = event(&events, "step-waiting", "load-balancer")
        .unwrap_or_else(|| panic!("{events:#?}"))["reason"]
        .as_str()
        .unwrap();
    assert!(
        reason.contains("no secondary in the cluster yet"),
        "{reason}"
    );
    assert!(reason.contains("steps 6-9"), "{reason}");
    assert!(!default_dir(&lab, "haproxy").exists());
    assert_eq!(status_of(&lab, "load-balancer").0, "waiting");
}

/// Two nodes: the files of each balancer are previewed with full paths and
/// diffs, checked by the balancer itself, written, and the summary says to
/// copy them and reload the balancer. A rerun has nothing to do.
#[test]
fn two_nodes_get_checked_files_for_each_balancer_and_a_rerun_changes_nothing() {
    for kind in Kind::ALL {
        let installed = lb_program(kind).is_some();
        let lab = cluster_lab(&["MAIL2"], &lb_table(kind.key(), None, ""));
        let dir = default_dir(&lab, kind.key());

        // The human preview: every file with its full path and its lines.
        let out = lab.apply().arg("--dry-run").output().unwrap();
        assert!(out.status.success(), "{out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        let plan = Plan::load(&lab.plan, &Profile::builtin()).unwrap();
        let first = lb::generate(&plan, &Profile::builtin(), kind).unwrap();
        for f in &first.files {
            let full = dir.join(&f.path).display().to_string();
            assert!(text.contains(&full), "{kind:?}: {full} in {text}");
        }
        assert!(text.contains("(new file: nothing there yet)"), "{text}");
        assert!(text.contains("+# Generated by mdcluster"), "{text}");
        assert!(!dir.exists(), "a dry run wrote files");

        let (rc, events, text) = apply_json(&lab, &[]);
        assert_eq!(rc, Some(0), "{kind:?}: {text}");
        let preview = lb_preview(&events);
        assert_eq!(preview["state"], "ready", "{preview}");
        // JSON carries the files (path and content), their diffs and the verdicts.
        let action = &preview["actions"][0];
        assert_eq!(action["action"]["type"], "write-files");
        let files = action["action"]["files"].as_array().unwrap();
        assert_eq!(files.len(), first.files.len());
        assert!(action["diff"].as_array().unwrap().len() > 10);
        let check = preview["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == format!("{} check", kind.title()))
            .unwrap_or_else(|| panic!("no balancer check: {preview}"));
        assert_eq!(check["ok"], true, "{check}");
        let detail = check["detail"].as_str().unwrap();
        if installed {
            assert!(detail.starts_with("passed `"), "{kind:?}: {detail}");
        } else {
            assert!(detail.starts_with("not checked here"), "{detail}");
        }
        // Written as previewed, and the balancer accepts them as they are on disk.
        let mut on_disk = Vec::new();
        for f in files {
            let path = dir.join(f["path"].as_str().unwrap());
            let content = std::fs::read_to_string(&path).unwrap();
            assert_eq!(content, f["after"].as_str().unwrap(), "{}", path.display());
            on_disk.push(lb::GeneratedFile {
                path: f["path"].as_str().unwrap().into(),
                contents: content,
                about: String::new(),
            });
        }
        if installed {
            match lb::validate(kind, &on_disk) {
                Verdict::Passed { .. } => {}
                other => panic!("{kind:?} refuses the written files: {other:#?}"),
            }
        }
        let cfg: String = on_disk.iter().map(|f| f.contents.as_str()).collect();
        // Mail goes to every node (Apache carries HTTP only, all to the primary here).
        assert_eq!(cfg.contains("127.0.0.12"), kind != Kind::Apache, "{cfg}");
        let next = events.last().unwrap()["next"].to_string();
        assert!(
            next.contains("copy ") && next.contains("reloads nothing"),
            "{next}"
        );
        assert!(
            next.contains(kind.reload_hint().split(' ').next().unwrap()),
            "{next}"
        );
        assert_eq!(status_of(&lab, "load-balancer").0, "done");

        // A rerun: nothing to do, no new journal record, the files untouched.
        let journal = std::fs::read(lab.install.join("mdcluster/journal.jsonl")).unwrap();
        let files_before = tree_map(&dir, false);
        let out = lab.apply().arg("--yes").output().unwrap();
        assert!(out.status.success(), "{out:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Nothing to do"),
            "{out:?}"
        );
        assert_eq!(
            std::fs::read(lab.install.join("mdcluster/journal.jsonl")).unwrap(),
            journal
        );
        assert_eq!(tree_map(&dir, false), files_before, "{kind:?}");
    }
}

/// The human summary after the first write.
#[test]
fn the_summary_says_to_copy_the_files_and_reload_the_balancer() {
    let out_dir_holder = tempfile::tempdir().unwrap();
    let out_dir = out_dir_holder.path().join("balancer");
    let lab = cluster_lab(&["MAIL2"], &lb_table("haproxy", Some(&out_dir), ""));
    let out = lab.apply().arg("--yes").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let cfg = out_dir.join("haproxy.cfg").display().to_string();
    assert!(
        text.contains(&format!("Next: copy {cfg} to the balancer")),
        "{text}"
    );
    assert!(
        text.contains("Next: then check and reload the balancer there: haproxy -c"),
        "{text}"
    );
    assert!(
        text.contains("mdcluster starts and reloads nothing"),
        "{text}"
    );
    let (state, detail) = status_of(&lab, "load-balancer");
    assert_eq!(state, "done");
    assert!(detail.contains("up to date"), "{detail}");
}

/// A node joins the cluster: the next run writes only the files that change
/// (Apache's failover include does not depend on the nodes), and undo takes
/// both runs back.
#[test]
fn a_third_node_rewrites_only_the_files_that_change_and_undo_takes_it_all_back() {
    let (_out_holder, out, lab) = apache_cluster("http_mode = \"balanced\"\n");
    let original = before_undo(&lab, &out);
    apply_ok(&lab);
    let failover = out.join("mdcluster/failover.inc");
    let balancer = out.join("mdcluster/balancer.conf");
    let failover_meta = tree_map(&out, false)["mdcluster/failover.inc"].clone();
    let balancer_before = std::fs::read_to_string(&balancer).unwrap();
    assert!(!balancer_before.contains("MAIL3"));

    add_node(&lab, "MAIL3", 2);
    lab.register_all();
    let install_before = tree_hash(&lab.install, true);
    let (rc, events, text) = apply_json(&lab, &[]);
    assert_eq!(rc, Some(0), "{text}");
    let preview = lb_preview(&events);
    let files = preview["actions"][0]["action"]["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{preview}");
    assert_eq!(files[0]["path"], "mdcluster/balancer.conf");
    assert!(files[0]["before_hash"].is_string());
    let diff: Vec<&str> = preview["actions"][0]["diff"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l.as_str())
        .collect();
    assert!(
        diff.iter()
            .any(|l| l.starts_with('+') && l.contains(r#""http://127.0.0.13:80" route=MAIL3"#)),
        "{diff:#?}"
    );
    assert!(
        diff.iter().all(|l| !l.contains("failover.inc (new file)")),
        "{diff:#?}"
    );
    let changed: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "step-done" && e["outcome"] == "changed")
        .collect();
    assert_eq!(changed.len(), 1, "{changed:#?}");
    assert_eq!(changed[0]["step"], "load-balancer");
    assert!(std::fs::read_to_string(&balancer)
        .unwrap()
        .contains("route=MAIL3"));
    assert_eq!(
        tree_map(&out, false)["mdcluster/failover.inc"],
        failover_meta,
        "the unchanged file was written again"
    );
    assert_eq!(tree_hash(&lab.install, true), install_before);
    // The journal: step 11 judged again in a later run, its action after the first.
    let journal = std::fs::read_to_string(lab.install.join("mdcluster/journal.jsonl")).unwrap();
    assert!(
        journal.contains(r#""record":"step-again","step":"load-balancer""#),
        "{journal}"
    );

    // Undo: the second write comes back from its backup, then the first is removed.
    lab.undo();
    assert!(!out.exists(), "the folders mdcluster created are gone");
    assert!(!failover.exists());
    // The whole conversion is reversed (the manifest, which this test wrote, aside).
    assert_eq!(before_undo(&lab, &out), original);
}

/// `undo --latest` after a node was added: only that run's change comes
/// back (the balancer's file as the first run wrote it), the mail store and
/// MDaemon.ini stay converted, the journal goes on; a run that moved data
/// is never undone on its own; a full undo afterwards restores the original.
#[test]
fn undo_latest_reverses_only_the_node_added_last() {
    let (_out_holder, out, lab) = apache_cluster("http_mode = \"balanced\"\n");
    let original = before_undo(&lab, &out);
    // One run: nothing to undo on its own.
    apply_ok(&lab);
    let only = undo_latest(&lab);
    assert_eq!(only.status.code(), Some(3), "{only:?}");
    assert!(String::from_utf8_lossy(&only.stderr).contains("the latest run is the only one"));
    let converted = tree_hash(&lab.install, true);
    let balancer = out.join("mdcluster/balancer.conf");
    let first = std::fs::read_to_string(&balancer).unwrap();

    add_node(&lab, "MAIL3", 2);
    lab.register_all();
    apply_ok(&lab);
    assert!(std::fs::read_to_string(&balancer)
        .unwrap()
        .contains("route=MAIL3"));
    // The plain undo's list offers the latest run alone.
    let asked = mdcluster()
        .args(["undo", "--plan"])
        .arg(&lab.plan)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&asked.stdout)
            .contains("`--latest` undoes only the latest run: 1 change(s)"),
        "{asked:?}"
    );

    // Stopped part-way, the undo of the latest run is remembered as such:
    // apply refuses until it is finished, and a plain `undo` finishes that
    // run only.
    let stopped = mdcluster()
        .args(["undo", "--latest", "--yes", "--plan"])
        .arg(&lab.plan)
        .env("MDCLUSTER_FAIL_AT_ACTION", "1")
        .output()
        .unwrap();
    assert_eq!(stopped.status.code(), Some(4), "{stopped:?}");
    let refused = lab.apply().arg("--yes").output().unwrap();
    assert_eq!(refused.status.code(), Some(3), "{refused:?}");
    let latest = mdcluster()
        .args(["undo", "--yes", "--plan"])
        .arg(&lab.plan)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&latest.stdout);
    assert_eq!(latest.status.code(), Some(0), "{latest:?}");
    assert!(
        said.contains("Undo of the latest run reverses")
            && said.contains("The runs before it stay applied"),
        "{said}"
    );
    assert_eq!(std::fs::read_to_string(&balancer).unwrap(), first);
    assert_eq!(
        tree_hash(&lab.install, true),
        converted,
        "the conversion stays"
    );
    let journal = lab.install.join("mdcluster/journal.jsonl");
    assert!(journal.exists());
    assert_eq!(status_of(&lab, "mail-store").0, "done");
    // Killed after its last undo and before its end record: apply waits,
    // and `undo` writes the end (nothing is left to reverse).
    let text = std::fs::read_to_string(&journal).unwrap();
    assert!(text.lines().last().unwrap().contains("latest-run-undone"));
    let cut: String = text
        .lines()
        .take(text.lines().count() - 1)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&journal, cut).unwrap();
    assert_eq!(
        lab.apply()
            .args(["--yes", "--dry-run"])
            .output()
            .unwrap()
            .status
            .code(),
        Some(3)
    );
    let finished = mdcluster()
        .args(["undo", "--yes", "--plan"])
        .arg(&lab.plan)
        .output()
        .unwrap();
    assert_eq!(finished.status.code(), Some(0), "{finished:?}");
    assert!(std::fs::read_to_string(&journal)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .contains("latest-run-undone"));
    assert_eq!(
        lab.apply()
            .args(["--yes", "--dry-run"])
            .output()
            .unwrap()
            .status
            .code(),
        Some(0)
    );
    assert_eq!(std::fs::read_to_string(&balancer).unwrap(), first);
    // Now the first run is the only one left.
    assert_eq!(undo_latest(&lab).status.code(), Some(3));

    lab.undo();
    assert!(!out.exists());
    assert_eq!(before_undo(&lab, &out), original);
}

/// A run that stopped part-way, and the run that finished it, are undone
/// only together with everything: neither is the latest run alone (the
/// finished part would be reversed without the rest).
#[test]
fn a_stopped_run_and_its_finishing_rerun_are_not_undone_alone() {
    let (_out_holder, out, lab) = apache_cluster("");
    let original = before_undo(&lab, &out);
    apply_ok(&lab);
    add_node(&lab, "MAIL3", 2);
    lab.register_all();
    // Run 2 begins writing the balancer's files and stops.
    let stopped = lab
        .apply()
        .arg("--yes")
        .env("MDCLUSTER_FAIL_AT_ACTION", "1")
        .output()
        .unwrap();
    assert_eq!(stopped.status.code(), Some(4), "{stopped:?}");
    let out1 = undo_latest(&lab);
    assert_eq!(out1.status.code(), Some(3), "{out1:?}");
    assert!(String::from_utf8_lossy(&out1.stderr).contains("stopped part-way"));
    // Run 3 finishes it: still not undone alone.
    apply_ok(&lab);
    let out2 = undo_latest(&lab);
    let err = String::from_utf8_lossy(&out2.stderr);
    assert_eq!(out2.status.code(), Some(3), "{out2:?}");
    assert!(err.contains("undone only together"), "{err}");
    lab.undo();
    assert_eq!(before_undo(&lab, &out), original);
}

/// A run that finished a move an earlier run began is part of that move:
/// it is never undone on its own (the store would stay half moved), an
/// interrupted run is not either, nor a whole run that changed the
/// installation (`cleanup`); each says why and what to run instead.
#[test]
fn a_run_that_moved_data_is_not_undone_on_its_own() {
    let lab = cluster_lab(&["MAIL2"], "");
    let before = lab.hash();
    let failed = lab
        .apply()
        .arg("--yes")
        .env("MDCLUSTER_FAIL_AT_ACTION", "4")
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(4), "{failed:?}");
    let out = undo_latest(&lab);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(
        err.contains("stopped part-way") && err.contains("mdcluster undo --plan"),
        "{err}"
    );

    apply_ok(&lab);
    let converted = lab.hash();
    let out = undo_latest(&lab);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(err.contains("undone only together"), "{err}");
    assert_eq!(lab.hash(), converted, "a refused undo changed something");
    lab.undo();
    assert_eq!(lab.hash(), before);

    // A whole run of its own that changed the installation: `cleanup`
    // deleting the old store after `--keep-source`.
    let (rc, _, text) = apply_json(&lab, &["--keep-source"]);
    assert_eq!(rc, Some(0), "{text}");
    let cleaned = mdcluster()
        .args(["cleanup", "--yes", "--mdaemon-restarted", "--plan"])
        .arg(&lab.plan)
        .output()
        .unwrap();
    assert_eq!(cleaned.status.code(), Some(0), "{cleaned:?}");
    let out = undo_latest(&lab);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(
        err.contains("changed the installation itself") && err.contains("mail-store"),
        "{err}"
    );
    lab.undo();
    assert_eq!(lab.hash(), before);
}

#[test]
fn a_foreign_file_at_the_target_is_refused_before_any_change() {
    let out_holder = tempfile::tempdir().unwrap();
    let out = out_holder.path().join("etc-nginx");
    std::fs::create_dir_all(&out).unwrap();
    let theirs = out.join("mdcluster-stream.conf");
    std::fs::write(&theirs, "stream { }\n").unwrap();
    let lab = cluster_lab(&["MAIL2"], &lb_table("nginx", Some(&out), ""));
    let before = lab.hash();
    let out_before = tree_map(&out, false);
    let output = lab.apply().arg("--yes").output().unwrap();
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains(&theirs.display().to_string()), "{err}");
    assert!(err.contains("not written by mdcluster"), "{err}");
    assert!(err.contains("output = "), "the fix: {err}");
    assert!(err.contains("nothing was changed"), "{err}");
    assert_eq!(lab.hash(), before, "a refused run changed the installation");
    assert_eq!(tree_map(&out, false), out_before);
    assert!(!lab.install.join("mdcluster/journal.jsonl").exists());
    let (state, detail) = status_of(&lab, "load-balancer");
    assert_eq!(state, "pending");
    assert!(detail.contains("blocked"), "{detail}");
}

/// A failed balancer step blocks nothing else: without consent the run is
/// refused and says what could run; with `--skip-blocked` the moves and the
/// rewrite run, step 11 is left out and said to be, and once its cause is
/// gone a rerun writes it.
#[test]
fn a_failed_balancer_step_leaves_out_only_itself_with_consent() {
    let out_holder = tempfile::tempdir().unwrap();
    let out = out_holder.path().join("etc-nginx");
    std::fs::create_dir_all(&out).unwrap();
    let theirs = out.join("mdcluster-stream.conf");
    std::fs::write(&theirs, "stream { }\n").unwrap();
    let lab = cluster_lab(&["MAIL2"], &lb_table("nginx", Some(&out), ""));
    let before = lab.hash();

    let refused = lab.apply().arg("--yes").output().unwrap();
    assert_eq!(refused.status.code(), Some(3), "{refused:?}");
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("--skip-blocked")
            && err.contains("lockfiles, pem, mail-store, directories")
            && err.contains("leaving out load-balancer (its check failed)"),
        "{err}"
    );
    assert_eq!(lab.hash(), before, "a refused run changed something");

    let run = lab
        .apply()
        .args(["--yes", "--skip-blocked"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(0), "{run:?}");
    assert!(
        text.contains("Left out: step 11 (load-balancer): its check failed"),
        "{text}"
    );
    assert_eq!(status_of(&lab, "mail-store").0, "done");
    assert_eq!(status_of(&lab, "directories").0, "done");
    assert_eq!(status_of(&lab, "load-balancer").0, "pending");
    assert_eq!(std::fs::read_to_string(&theirs).unwrap(), "stream { }\n");

    std::fs::remove_file(&theirs).unwrap();
    let (code, events, text) = apply_json(&lab, &[]);
    assert_eq!(code, Some(0), "{text}");
    let finished = events.last().unwrap();
    assert_eq!(
        finished["changed"],
        serde_json::json!(["load-balancer"]),
        "{text}"
    );
    assert_eq!(finished["left_out"], serde_json::json!([]));
    assert!(theirs.exists(), "step 11 wrote its files in the rerun");
}

/// A failed move leaves out every move and the rewrite of MDaemon.ini with
/// it (moved data without the rewrite would leave MDaemon in folders that
/// are gone), and everything that needs them, the balancer too: with
/// nothing else to run, `--skip-blocked` is refused like the plain run, and
/// nothing changes.
#[test]
fn a_failed_move_blocks_all_moves_the_rewrite_and_what_needs_them() {
    let lab = cluster_lab(&["MAIL2"], &lb_table("nginx", None, ""));
    std::fs::create_dir_all(lab.share.join("Users/LockFiles")).unwrap();
    std::fs::write(lab.share.join("Users/LockFiles/foreign.lck"), b"theirs").unwrap();
    let before = lab.hash();
    for extra in [&["--skip-blocked"][..], &["--skip-blocked", "--dry-run"]] {
        let (code, events, text) = apply_json(&lab, extra);
        assert_eq!(code, Some(3), "{text}");
        assert!(text.contains("lockfiles"), "{text}");
        assert!(
            !text.contains("add --skip-blocked"),
            "nothing could run: {text}"
        );
        assert_eq!(events.last().unwrap()["event"], "error", "{text}");
        assert_eq!(lab.hash(), before, "a refused run changed something");
    }
    assert!(!default_dir(&lab, "nginx").exists());
    // `status` says what holds the other moves back.
    let (state, detail) = status_of(&lab, "pem");
    assert_eq!(state, "pending");
    assert!(
        detail.contains("waits for step 2 (lockfiles), which is blocked"),
        "{detail}"
    );
    assert!(status_of(&lab, "lockfiles").1.starts_with("blocked: "));
}

/// A `--skip-blocked` run killed part-way: the rerun with the same flag
/// (as the interrupt notice and the refusal say) finishes the moves, step 11
/// still left out; every message is on the share exactly once.
#[test]
fn a_skip_run_killed_part_way_is_finished_by_the_same_rerun() {
    let out_holder = tempfile::tempdir().unwrap();
    let out = out_holder.path().join("etc-nginx");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("mdcluster-stream.conf"), "stream { }\n").unwrap();
    let lab = cluster_lab(&["MAIL2"], &lb_table("nginx", Some(&out), ""));
    let expected = expected_on_share(&lab);
    let failed = lab
        .apply()
        .args(["--yes", "--skip-blocked"])
        .env("MDCLUSTER_FAIL_AT_ACTION", "3")
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(4), "{failed:?}");
    // Without the flag the failed balancer check refuses the rerun, saying
    // how to go on.
    let refused = lab.apply().arg("--yes").output().unwrap();
    assert_eq!(refused.status.code(), Some(3), "{refused:?}");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("add --skip-blocked"));
    let (code, events, text) = apply_json(&lab, &["--skip-blocked"]);
    assert_eq!(code, Some(0), "{text}");
    let finished = events.last().unwrap();
    assert_eq!(
        finished["left_out"],
        serde_json::json!([{"step": "load-balancer", "waits_for": "load-balancer"}]),
        "{text}"
    );
    assert!(lost_messages(&lab, &expected).is_empty());
    assert_eq!(status_of(&lab, "directories").0, "done");
    assert_eq!(status_of(&lab, "mail-store").0, "done");
}

/// A balancer whose own check refuses the files: a failed check, nothing
/// written. (A stand-in haproxy on PATH, so the refusal does not depend on a
/// broken generator.)
#[test]
fn a_refusing_balancer_check_fails_the_preflight_and_nothing_is_written() {
    let bin_holder = tempfile::tempdir().unwrap();
    let path = path_with_refusing_haproxy(bin_holder.path());
    let lab = cluster_lab(&["MAIL2"], &lb_table("haproxy", None, ""));
    let before = lab.hash();
    let out = lab.apply().arg("--yes").env("PATH", path).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("HAProxy check"), "{err}");
    assert!(err.contains("unknown keyword 'frobnicate'"), "{err}");
    assert!(
        !err.contains("mdcluster-lb-check-"),
        "the temporary folder leaked: {err}"
    );
    assert_eq!(lab.hash(), before);
    assert!(!default_dir(&lab, "haproxy").exists());
}

type Trees = (
    BTreeMap<String, String>,
    BTreeMap<String, String>,
    BTreeMap<String, String>,
);

/// The share, with the cluster manifest by content only (the test writes it).
fn share_map(lab: &Lab) -> BTreeMap<String, String> {
    let mut map = tree_map(&lab.share, false);
    if let Some(v) = map.get_mut("mdcluster/cluster.toml") {
        *v = std::fs::read_to_string(lab.share.join("mdcluster/cluster.toml")).unwrap();
    }
    map
}

/// What a finished run leaves: the installation (written files' times
/// blanked), the share and the balancer's files.
fn outcome(lab: &Lab, out: &Path) -> Trees {
    (
        outcome_map(&lab.install, true),
        share_map(lab),
        contents(out),
    )
}

/// What undo must bring back: the installation exactly, the share (the
/// manifest, which the test changes, left out) and no balancer files.
fn before_undo(
    lab: &Lab,
    out: &Path,
) -> (String, BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut share = tree_map(&lab.share, false);
    share.remove("mdcluster/cluster.toml");
    (tree_hash(&lab.install, true), share, contents(out))
}

/// A crash after every journal record of the whole conversion, step 11
/// included (nginx: two files), and of a later run that adds a node (both
/// nginx files change in balanced mode): a rerun gives the result of an
/// uninterrupted run; undo restores the original tree, the balancer's
/// folder included.
#[test]
fn a_crash_at_any_journal_record_is_finished_by_a_rerun_or_undone() {
    let table = |out: &Path| lb_table("nginx", Some(out), "http_mode = \"balanced\"\n");
    let make = || {
        let lab = small_lab();
        let out = lab.tmp.path().join("balancer");
        add_node(&lab, "MAIL2", 1);
        set_lb(&lab, &table(&out));
        lab.register_all();
        (lab, out)
    };
    let grow = |lab: &Lab| {
        add_node(lab, "MAIL3", 2);
        lab.register_all();
    };
    // References: uninterrupted runs.
    let (reference_one, reference_two) = {
        let (lab, out) = make();
        let (rc, _, text) = apply_json(&lab, &[]);
        assert_eq!(rc, Some(0), "{text}");
        let one = outcome(&lab, &out);
        grow(&lab);
        let (rc, _, text) = apply_json(&lab, &[]);
        assert_eq!(rc, Some(0), "{text}");
        (one, outcome(&lab, &out))
    };
    assert_eq!(reference_one.2.len(), 2, "{:?}", reference_one.2);
    assert_ne!(reference_one.2, reference_two.2);

    for second_run in [false, true] {
        let mut last_crash = 0;
        for n in crash_points() {
            let (lab, out) = make();
            let original = before_undo(&lab, &out);
            if second_run {
                let (rc, _, text) = apply_json(&lab, &[]);
                assert_eq!(rc, Some(0), "{text}");
                grow(&lab);
            }
            let crash = n.to_string();
            let status = lab
                .apply()
                .args(["--yes", "--json"])
                .env("MDCLUSTER_CRASH_AFTER_RECORD", &crash)
                .output()
                .unwrap()
                .status;
            if status.success() {
                break; // past the last record: the run completed
            }
            last_crash = n;
            let reference = if second_run {
                &reference_two
            } else {
                &reference_one
            };
            if n % 2 == 0 {
                let (rc, _, text) = apply_json(&lab, &[]);
                assert_eq!(rc, Some(0), "rerun after a crash at record {n}: {text}");
                assert_eq!(
                    outcome(&lab, &out),
                    *reference,
                    "second run {second_run}, crash after record {n}"
                );
            } else {
                lab.undo();
                assert_eq!(
                    before_undo(&lab, &out),
                    original,
                    "undo after a crash at record {n} (second run {second_run})"
                );
            }
        }
        // Every record of the whole conversion; of the later run: its begin,
        // steps 6-9 judged again, step 11's step-again, intent, done, end.
        let least = if second_run { 8 } else { 30 };
        assert!(
            crashed_through(last_crash, least),
            "expected a crash point per journal record, the last at {last_crash} (second run {second_run})"
        );
    }
}

/// `[load_balancer.ha]`: two balancer hosts on addresses of their own
/// (the lab's nodes are 127.0.0.x).
const HA: &str = "[load_balancer.ha]\nvirtual_ip = \"192.0.2.100/24\"\ninterface = \"eth0\"\nrouter_id = 51\nhealth_check = true\n\
    [[load_balancer.ha.hosts]]\nname = \"lb1\"\naddress = \"192.0.2.21\"\n\
    [[load_balancer.ha.hosts]]\nname = \"lb2\"\naddress = \"192.0.2.22\"\ninterface = \"ens192\"\n";

/// Step 11 with HA: one journaled write carries each host's keepalived.conf
/// beside the balancer's file (preview, diff), keepalived's verdict is a
/// check of the step, a rerun changes nothing, undo removes them all.
#[test]
fn ha_keepalived_files_are_written_by_step_11_and_undone() {
    let holder = tempfile::tempdir().unwrap();
    let out = holder.path().join("lb");
    let lab = cluster_lab(&["MAIL2"], &(lb_table("haproxy", Some(&out), "") + HA));
    let original = before_undo(&lab, &out);
    let events = apply_ok(&lab);
    let preview = lb_preview(&events);
    let files: Vec<String> = preview["actions"][0]["action"]["files"]
        .as_array()
        .unwrap()
        .iter()
        // Windows writes the relative paths with `\`.
        .map(|f| f["path"].as_str().unwrap().replace('\\', "/"))
        .collect();
    assert_eq!(
        files,
        [
            "haproxy.cfg",
            "keepalived/lb1/keepalived.conf",
            "keepalived/lb2/keepalived.conf"
        ],
        "{preview}"
    );
    let checks = preview["checks"].to_string();
    let installed = keepalived_program().is_some();
    for host in ["lb1", "lb2"] {
        assert!(
            checks.contains(&format!("keepalived check ({host})")),
            "{checks}"
        );
    }
    if installed {
        assert!(
            checks.contains("passed `keepalived -t -f check-keepalived.conf`"),
            "{checks}"
        );
    }
    let diff = preview["actions"][0]["diff"].to_string();
    assert!(diff.contains("unicast_src_ip 192.0.2.22"), "{diff}");

    // Byte for byte what the generator makes of the plan.
    let plan = Plan::load(&lab.plan, &Profile::builtin()).unwrap();
    let generated = lb::generate(&plan, &Profile::builtin(), Kind::Haproxy).unwrap();
    for f in &generated.files {
        assert_eq!(
            std::fs::read_to_string(out.join(&f.path)).unwrap(),
            f.contents
        );
    }
    for v in lb::validate_keepalived(&generated.files) {
        let expected = installed;
        assert_eq!(matches!(v.check, Verdict::Passed { .. }), expected, "{v:?}");
    }

    // A rerun: nothing to write.
    let (rc, events, text) = apply_json(&lab, &[]);
    assert_eq!(rc, Some(0), "{text}");
    assert_eq!(
        events.last().unwrap()["changed"],
        serde_json::json!([]),
        "{text}"
    );

    lab.undo();
    assert!(!out.exists(), "the keepalived folders are gone too");
    assert_eq!(before_undo(&lab, &out), original);
}

/// keepalived refusing a host's file fails step 11's check: nothing of
/// the balancer is written, as when the balancer's own check refuses.
#[test]
fn a_refused_keepalived_conf_blocks_step_11() {
    let holder = tempfile::tempdir().unwrap();
    let out = holder.path().join("lb");
    let bin = holder.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let path = path_with_refusing(&bin, "keepalived");
    let lab = cluster_lab(&["MAIL2"], &(lb_table("haproxy", Some(&out), "") + HA));
    let dry = lab
        .apply()
        .env("PATH", &path)
        .args(["--yes", "--json", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(dry.status.code(), Some(3), "{dry:?}");
    let events = json_lines(&dry.stdout);
    // As Windows writes it too: `keepalived.exe`, `\` in the path.
    let what = events[0]["error"]["what"]
        .as_str()
        .unwrap()
        .replace('\\', "/")
        .replace("keepalived.exe", "keepalived");
    assert!(what.contains("2 checks failed"), "{what}");
    for host in ["lb1", "lb2"] {
        assert!(
            what.contains(&format!(
                "keepalived check ({host}): `keepalived -t -f check-keepalived.conf` refused keepalived/{host}/keepalived.conf"
            )),
            "{what}"
        );
    }
    assert!(what.contains("unknown keyword 'frobnicate'"), "{what}");
    let refused = lab
        .apply()
        .env("PATH", &path)
        .args(["--yes", "--skip-blocked"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&refused.stdout).into_owned()
        + &String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(0), "{text}");
    assert!(
        text.contains("Left out: step 11 (load-balancer): its check failed"),
        "{text}"
    );
    assert!(!out.exists(), "nothing of the balancer was written");
    assert_eq!(status_of(&lab, "load-balancer").0, "pending");
}
