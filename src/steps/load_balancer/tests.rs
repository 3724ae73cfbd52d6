//! Step 11 on a sandbox installation: which nodes, what is written, refusals,
//! and the action's execution, resumption and undo.

use super::*;
use crate::cluster::manifest::Manifest;
use crate::engine::actions::{self, ActionEnv};
use crate::engine::evidence::Evidence;
use crate::install::Installation;
use crate::location::Resolver;
use crate::plan::Plan;
use crate::problem::Exit;
use crate::profile::Profile;
use crate::steps::{ClusterView, RunOptions};

struct Lab {
    tmp: tempfile::TempDir,
    install: PathBuf,
    share: PathBuf,
    profile: Profile,
}

fn lab() -> Lab {
    let tmp = tempfile::tempdir().unwrap();
    let install = tmp.path().join("MDaemon");
    let share = tmp.path().join("share");
    let profile = Profile::builtin();
    let opts = crate::sandbox::Options {
        accounts: 1,
        messages: 1,
        seed: 1,
        message_size: None,
    };
    crate::sandbox::create(&install, &profile, &opts).unwrap();
    std::fs::create_dir_all(&share).unwrap();
    Lab {
        tmp,
        install,
        share,
        profile,
    }
}

impl Lab {
    /// The sandbox plan (MAIL1 the primary at 127.0.0.1) with `secondaries`
    /// at 127.0.0.12.. and `lb` appended.
    fn plan(&self, secondaries: &[&str], lb: &str) -> Plan {
        let mut text = crate::sandbox::plan_text(&self.install, &self.share);
        for (i, name) in secondaries.iter().enumerate() {
            text.push_str(&format!(
                "\n[[nodes]]\nname = \"{name}\"\naddress = \"127.0.0.{}\"\nrole = \"secondary\"\n",
                12 + i
            ));
        }
        text.push_str(lb);
        Plan::parse(&text, &self.tmp.path().join("plan.toml"), &self.profile).unwrap()
    }

    /// The step as prepared with this manifest.
    fn prepare(&self, plan: &Plan, manifest: Option<Manifest>) -> StepPlan {
        let resolver = Resolver::new(plan.mounts.clone());
        let install = Installation::open(plan, &self.profile, &resolver).unwrap();
        let cluster = ClusterView {
            manifest,
            manifest_text: None,
            reports: None,
        };
        let ctx = Context {
            plan,
            profile: &self.profile,
            resolver: &resolver,
            install: &install,
            options: RunOptions::default(),
            service: &crate::service::State::Stopped,
            cluster: &cluster,
            now: "2026-12-05T10:00:00Z",
            failover: None,
        };
        prepare(&ctx).unwrap()
    }

    fn backups(&self) -> PathBuf {
        self.tmp.path().join("backups")
    }

    fn env_run<T>(&self, slot: &str, f: impl FnOnce(&ActionEnv) -> T) -> T {
        let backups = self.backups();
        let note = |_: String| {};
        let services = crate::service::real_services();
        let clock = crate::platform::Clock::system();
        let env = ActionEnv {
            backups: &backups,
            slot: slot.into(),
            allow_rename: true,
            root: &self.install,
            profile: &self.profile,
            services: &services,
            note: &note,
            clock: &clock,
        };
        f(&env)
    }

    fn execute(&self, slot: &str, action: &Action) -> Result<Evidence, Problem> {
        self.env_run(slot, |env| actions::execute(action, env, &mut |_| {}))
    }

    fn undo(&self, slot: &str, action: &Action) -> Result<Evidence, Problem> {
        self.env_run(slot, |env| actions::undo(action, env, true))
    }

    fn default_dir(&self, kind: &str) -> PathBuf {
        self.install
            .join("mdcluster")
            .join("load-balancer")
            .join(kind)
    }
}

/// The balancer files' evidence: written, already, backups; or, undone:
/// removed, restored, kept.
fn files(ev: &Evidence) -> [&[PathBuf]; 3] {
    match ev {
        Evidence::FilesWritten {
            written,
            already,
            backups,
        } => [written, already, backups],
        Evidence::FilesUnwritten {
            removed,
            restored,
            kept,
        } => [removed, restored, kept],
        other => panic!("not the evidence of written files: {other:?}"),
    }
}

/// A manifest with the plan's nodes, `registered` confirmed in MDaemon.
fn manifest(plan: &Plan, registered: &[&str]) -> Manifest {
    let mut m = Manifest::default()
        .with_plan(plan, "2026-01-01T00:00:00Z")
        .unwrap();
    for n in m.nodes.iter_mut() {
        if registered.iter().any(|r| r.eq_ignore_ascii_case(&n.name)) {
            n.registered = Some("2026-01-01T00:05:00Z".into());
        }
    }
    m
}

fn write_action(sp: &StepPlan) -> &Action {
    assert_eq!(sp.actions.len(), 1, "{sp:#?}");
    &sp.actions[0].1
}

fn files_of(a: &Action) -> &[FileWrite] {
    match a {
        Action::WriteFiles { files, .. } => files,
        other => panic!("not a write: {other:?}"),
    }
}

const HAPROXY: &str = "\n[load_balancer]\nkind = \"haproxy\"\n";
const NGINX_BALANCED: &str = "\n[load_balancer]\nkind = \"nginx\"\nhttp_mode = \"balanced\"\n";

#[test]
fn without_a_kind_the_step_waits_and_says_what_to_add() {
    let lab = lab();
    let plan = lab.plan(&["MAIL2"], "");
    let sp = lab.prepare(&plan, Some(manifest(&plan, &["MAIL2"])));
    assert_eq!(sp.state, StepStatus::Waiting);
    let note = &sp.notes[0];
    assert!(
        note.contains("kind = \"haproxy\"") && note.contains("[load_balancer]"),
        "{note}"
    );
    assert!(note.contains("--kind all"), "{note}");
    assert!(sp.actions.is_empty());
}

#[test]
fn only_nodes_in_the_cluster_count() {
    let lab = lab();
    // No manifest: only the primary.
    let plan = lab.plan(&["MAIL2", "MAIL3"], HAPROXY);
    let sp = lab.prepare(&plan, None);
    assert_eq!(sp.state, StepStatus::Waiting);
    assert!(
        sp.notes[0].contains("no secondary in the cluster yet"),
        "{:?}",
        sp.notes
    );
    // In the manifest but not registered in MDaemon yet: still waiting, and said why.
    let sp = lab.prepare(&plan, Some(manifest(&plan, &[])));
    assert_eq!(sp.state, StepStatus::Waiting);
    let left: Vec<&String> = sp
        .facts
        .iter()
        .filter(|(k, _)| k == "left out")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(left[0].contains("mdcluster register"), "{left:?}");
    // MAIL2 registered, MAIL3 not: the balancer routes to MAIL1 and MAIL2 only.
    let sp = lab.prepare(&plan, Some(manifest(&plan, &["MAIL2"])));
    assert_eq!(sp.state, StepStatus::Ready, "{sp:#?}");
    let cfg = &files_of(write_action(&sp))[0].after;
    assert!(cfg.contains("MAIL1") && cfg.contains("MAIL2"), "{cfg}");
    assert!(!cfg.contains("MAIL3"), "an unregistered node is routed to");
    assert!(cfg.contains("127.0.0.12") && !cfg.contains("127.0.0.13"));
    // A member of the cluster the plan does not list is named, not routed.
    let mut m = manifest(&plan, &["MAIL2"]);
    let other = lab.plan(&["MAIL2", "MAIL9"], HAPROXY);
    m = m.with_plan(&other, "2026-01-02T00:00:00Z").unwrap();
    for n in m.nodes.iter_mut() {
        n.registered
            .get_or_insert_with(|| "2026-01-02T00:00:00Z".into());
    }
    let sp = lab.prepare(&plan, Some(m));
    assert!(
        sp.facts
            .iter()
            .any(|(k, v)| k == "left out" && v.contains("MAIL9") && v.contains("not in this plan")),
        "{:?}",
        sp.facts
    );
}

#[test]
fn two_nodes_give_one_write_with_every_file_and_the_next_steps() {
    let lab = lab();
    let plan = lab.plan(&["MAIL2"], NGINX_BALANCED);
    let sp = lab.prepare(&plan, Some(manifest(&plan, &["MAIL2"])));
    assert_eq!(sp.state, StepStatus::Ready, "{sp:#?}");
    let dir = lab.default_dir("nginx");
    let Action::WriteFiles {
        dir: d,
        created,
        files,
        ..
    } = write_action(&sp)
    else {
        unreachable!()
    };
    assert_eq!(*d, dir);
    // The state folder does not exist yet: every folder on the way is created (and undone).
    assert_eq!(
        *created,
        vec![
            lab.install.join("mdcluster"),
            lab.install.join("mdcluster").join("load-balancer"),
            dir.clone()
        ]
    );
    let names: Vec<_> = files.iter().map(|f| f.path.clone()).collect();
    assert_eq!(
        names,
        vec![
            PathBuf::from("mdcluster-http.conf"),
            PathBuf::from("mdcluster-stream.conf")
        ]
    );
    assert!(files.iter().all(|f| f.before_hash.is_none()));
    // Every file's full path is in the preview, and the generator's notes.
    let text = write_action(&sp).describe_now();
    for f in files {
        assert!(
            text.contains(&dir.join(&f.path).display().to_string()),
            "{text}"
        );
    }
    assert!(
        sp.facts
            .iter()
            .any(|(k, v)| k == "note" && v.contains("cannot insert a sticky cookie")),
        "{:?}",
        sp.facts
    );
    // The balancer's own check is a check of the step, whatever its verdict here.
    let check = sp
        .checks
        .iter()
        .find(|c| c.name == "nginx check")
        .expect("a check by nginx");
    assert!(check.ok, "{check:?}");
    assert!(
        check.detail.starts_with("passed") || check.detail.starts_with("not checked here"),
        "{check:?}"
    );
    // What to do next: copy each file, then check and reload; nothing is reloaded here.
    assert!(sp
        .next
        .iter()
        .any(|n| n.starts_with("copy ") && n.contains("mdcluster-stream.conf")));
    assert!(sp
        .next
        .iter()
        .any(|n| n.contains("nginx -t") && n.contains("reloads nothing")));
}

#[test]
fn written_files_are_up_to_date_on_the_next_run_and_a_new_node_rewrites_only_what_changes() {
    let lab = lab();
    let plan = lab.plan(&["MAIL2"], NGINX_BALANCED);
    let sp = lab.prepare(&plan, Some(manifest(&plan, &["MAIL2"])));
    let first = write_action(&sp).clone();
    let ev = lab.execute("load-balancer-0", &first).unwrap();
    assert_eq!(files(&ev)[0].len(), 2, "{ev:?}");
    for f in files_of(&first) {
        assert_eq!(
            std::fs::read_to_string(lab.default_dir("nginx").join(&f.path)).unwrap(),
            f.after
        );
    }
    // Again: nothing to do.
    let sp = lab.prepare(&plan, Some(manifest(&plan, &["MAIL2"])));
    assert_eq!(sp.state, StepStatus::NothingToDo, "{sp:#?}");
    assert!(sp.actions.is_empty());
    assert!(sp.notes[0].contains("up to date"), "{:?}", sp.notes);
    // Carried out again anyway (a crash after the write): already done.
    let ev = lab.execute("load-balancer-0", &first).unwrap();
    assert_eq!(files(&ev)[1].len(), 2, "{ev:?}");

    // MAIL3 joins the cluster. With Apache the failover include does not
    // depend on the nodes: only balancer.conf is written again.
    let apache = "\n[load_balancer]\nkind = \"apache\"\nhttp_mode = \"balanced\"\n";
    let before = lab.plan(&["MAIL2"], apache);
    let sp = lab.prepare(&before, Some(manifest(&before, &["MAIL2"])));
    lab.execute("load-balancer-1", write_action(&sp)).unwrap();
    let plan = lab.plan(&["MAIL2", "MAIL3"], apache);
    let sp = lab.prepare(&plan, Some(manifest(&plan, &["MAIL2", "MAIL3"])));
    let files = files_of(write_action(&sp));
    assert_eq!(files.len(), 1, "{files:#?}");
    assert_eq!(files[0].path, PathBuf::from("mdcluster/balancer.conf"));
    assert!(files[0].before_hash.is_some());
    assert!(sp
        .facts
        .iter()
        .any(|(k, v)| k == "file" && v.contains("failover.inc (unchanged)")));
    assert!(files[0].after.contains("127.0.0.13"));
}

#[test]
fn a_foreign_file_at_a_target_is_a_failed_check_naming_it() {
    let lab = lab();
    let plan = lab.plan(&["MAIL2"], HAPROXY);
    let dir = lab.default_dir("haproxy");
    std::fs::create_dir_all(&dir).unwrap();
    let theirs = dir.join("haproxy.cfg");
    std::fs::write(&theirs, "global\n    daemon\n").unwrap();
    let sp = lab.prepare(&plan, Some(manifest(&plan, &["MAIL2"])));
    let failed: Vec<_> = sp.failed_checks().collect();
    assert_eq!(failed.len(), 1, "{sp:#?}");
    assert!(
        failed[0].detail.contains(&theirs.display().to_string()),
        "{failed:?}"
    );
    assert!(failed[0].detail.contains("not written by mdcluster"));
    assert!(failed[0].fix.as_deref().unwrap().contains("output = "));
    assert!(sp.actions.is_empty(), "nothing is planned over it");
    // A folder where a file goes is refused too.
    std::fs::remove_file(&theirs).unwrap();
    std::fs::create_dir(&theirs).unwrap();
    let sp = lab.prepare(&plan, Some(manifest(&plan, &["MAIL2"])));
    assert!(sp
        .failed_checks()
        .any(|c| c.detail.contains("not a regular file")));
}

#[test]
fn the_action_never_replaces_a_file_without_the_header_nor_a_changed_one() {
    let lab = lab();
    let plan = lab.plan(&["MAIL2"], HAPROXY);
    let sp = lab.prepare(&plan, Some(manifest(&plan, &["MAIL2"])));
    let action = write_action(&sp).clone();
    let path = lab.default_dir("haproxy").join("haproxy.cfg");
    // Someone wrote the file after the preview: stale, nothing written.
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, "# theirs\n").unwrap();
    let err = lab.execute("load-balancer-0", &action).unwrap_err();
    assert_eq!(err.exit, Exit::Stale, "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "# theirs\n");
    // Even with a matching hash (a journal written for it), a file without
    // mdcluster's header is not replaced.
    let mut forged = action.clone();
    if let Action::WriteFiles { files, .. } = &mut forged {
        files[0].before_hash = Some(crate::install::content_hash(b"# theirs\n"));
    }
    let err = lab.execute("load-balancer-0", &forged).unwrap_err();
    assert!(err.what.contains("not written by mdcluster"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "# theirs\n");
}

#[test]
fn a_partial_write_resumes_and_undo_restores_backups_and_removes_what_it_created() {
    let lab = lab();
    let plan = lab.plan(&["MAIL2"], NGINX_BALANCED);
    let sp = lab.prepare(&plan, Some(manifest(&plan, &["MAIL2"])));
    let first = write_action(&sp).clone();
    let dir = lab.default_dir("nginx");
    // A crash after the first file: the same action finishes the job.
    std::fs::create_dir_all(&dir).unwrap();
    let f0 = &files_of(&first)[0];
    std::fs::write(dir.join(&f0.path), &f0.after).unwrap();
    let ev = lab.execute("load-balancer-0", &first).unwrap();
    assert_eq!(files(&ev)[1].len(), 1, "{ev:?}");
    assert_eq!(files(&ev)[0].len(), 1, "{ev:?}");

    // A second run replaces both (a new node, balanced mode): backups first.
    let plan3 = lab.plan(&["MAIL2", "MAIL3"], NGINX_BALANCED);
    let sp = lab.prepare(&plan3, Some(manifest(&plan3, &["MAIL2", "MAIL3"])));
    let second = write_action(&sp).clone();
    assert_eq!(files_of(&second).len(), 2);
    let ev = lab.execute("load-balancer-1", &second).unwrap();
    assert_eq!(files(&ev)[2].len(), 2, "{ev:?}");
    for f in files_of(&second) {
        assert_eq!(std::fs::read_to_string(dir.join(&f.path)).unwrap(), f.after);
    }

    // The administrator edits the stream file after mdcluster wrote it.
    let stream = dir.join("mdcluster-stream.conf");
    std::fs::write(&stream, "# Generated by mdcluster, then edited\n").unwrap();

    // Undo, newest first: the http file comes back from its backup, the
    // edited stream file is kept and listed.
    let ev = lab.undo("load-balancer-1", &second).unwrap();
    assert_eq!(files(&ev)[1].len(), 1, "{ev:?}");
    assert_eq!(files(&ev)[2], std::slice::from_ref(&stream), "{ev:?}");
    assert_eq!(
        std::fs::read_to_string(dir.join("mdcluster-http.conf")).unwrap(),
        files_of(&first)[0].after
    );
    // Undone again (a crash during undo): nothing more happens.
    let ev = lab.undo("load-balancer-1", &second).unwrap();
    assert!(files(&ev)[1].is_empty(), "{ev:?}");
    // The first write: the http file it created goes; the edited one stays,
    // and so does its folder.
    let ev = lab.undo("load-balancer-0", &first).unwrap();
    assert_eq!(files(&ev)[0].len(), 1, "{ev:?}");
    assert!(!dir.join("mdcluster-http.conf").exists());
    assert!(stream.exists());
    // Without the edited file, the folders mdcluster created go too.
    std::fs::remove_file(&stream).unwrap();
    lab.undo("load-balancer-0", &first).unwrap();
    assert!(!lab.install.join("mdcluster").exists());
}

#[test]
fn an_output_folder_from_the_plan_is_used() {
    let lab = lab();
    let out = lab.tmp.path().join("lb out");
    let plan = lab.plan(
        &["MAIL2"],
        &format!(
            "\n[load_balancer]\nkind = \"apache\"\noutput = '{}'\n",
            out.display()
        ),
    );
    let sp = lab.prepare(&plan, Some(manifest(&plan, &["MAIL2"])));
    let action = write_action(&sp).clone();
    let Action::WriteFiles { dir, created, .. } = &action else {
        unreachable!()
    };
    assert_eq!(*dir, out);
    // Apache's files sit in a sub-folder, created too.
    assert_eq!(*created, vec![out.clone(), out.join("mdcluster")]);
    lab.execute("load-balancer-0", &action).unwrap();
    assert!(out.join("mdcluster/balancer.conf").is_file());
    assert!(out.join("mdcluster/failover.inc").is_file());
    lab.undo("load-balancer-0", &action).unwrap();
    assert!(!out.exists());
}
