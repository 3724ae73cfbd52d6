//! The subcommands.

use super::{ApplyArgs, BenchMoverArgs, CleanupArgs, DemoArgs, PlanArgs, SandboxArgs, UndoArgs};
use crate::engine::events::EventSink;
use crate::engine::{Engine, Preview};
use crate::output::json::{Fact, JsonEvent, PreviewAction};
use crate::output::{self, confirm, declined, json_line, say, say_err, HumanSink, JsonSink};
use crate::plan::Plan;
use crate::problem::{Exit, Problem};
use crate::profile::Profile;
use crate::report::preview::{edit_diff, render};
use crate::steps::StepId;
use crate::text::{sanitize, sanitize_lines};
use crate::workflows::start::EarlierRun;
use std::path::Path;

pub fn apply(profile: &Profile, a: &ApplyArgs) -> Result<Exit, Problem> {
    let plan = Plan::load(&a.plan.plan, profile)?;
    let mut engine = Engine::open(plan, profile.clone())?;
    engine.options.restart |= a.restart;
    engine.options.keep_source |= a.keep_source;
    engine.options.stop_mdaemon |= a.stop_mdaemon;
    engine.options.mdaemon_stopped |= a.mdaemon_stopped;
    engine.options.skip_blocked |= a.skip_blocked;
    engine.discovered = a.discovery.survey(profile, &engine.plan)?;
    let preview = engine.preview()?;
    let json = a.plan.json;
    show_preview(&engine, &preview, json, a.dry_run);
    if a.dry_run {
        dry_run_finished(&preview, json);
        return Ok(Exit::Success);
    }
    let sink: Box<dyn EventSink> = if json {
        Box::new(JsonSink)
    } else {
        Box::new(HumanSink::new())
    };
    if !preview.has_changes() {
        engine.apply(&preview, "apply", sink.as_ref())?;
        if json {
            json_line(&JsonEvent::Applied {
                changed: &[],
                journal: None,
                backups: None,
                next: &[],
                left_out: &[],
                exit: 0,
            });
        } else {
            say!("Nothing to do: the installation is already as the plan wants it; nothing was changed.");
        }
        return Ok(Exit::Success);
    }
    ask_first(
        a.yes,
        json,
        "Apply these changes?",
        "add --yes to apply, or --dry-run to only see the changes",
    )?;
    // From the first change on, an interrupt says what it leaves.
    let rerun = if a.skip_blocked {
        "apply --skip-blocked"
    } else {
        "apply"
    };
    output::interrupt::stop_with(output::interrupt::notice(rerun, &a.plan.plan), json);
    let summary = engine.apply(&preview, "apply", sink.as_ref())?;
    if json {
        json_line(&JsonEvent::Applied {
            changed: &summary.changed,
            journal: summary.journal.as_deref(),
            backups: summary.backups.as_deref(),
            next: &summary.notes,
            left_out: &summary.left_out,
            exit: 0,
        });
    } else {
        say!("\nApplied: {} step(s) changed.", summary.changed.len());
        output::print_summary(
            &summary,
            &format!("mdcluster undo --plan {}", engine.plan.file.display()),
        );
    }
    Ok(Exit::Success)
}

/// The end of `apply --dry-run`: how many steps would change, and (with
/// `--skip-blocked`) which would be left out.
fn dry_run_finished(preview: &Preview, json: bool) {
    let pending = preview.pending().count();
    if json {
        json_line(&JsonEvent::DryRunFinished {
            dry_run: true,
            steps_to_change: pending,
            left_out: &preview.left_out_list(),
            exit: 0,
        });
        return;
    }
    if pending == 0 {
        say!("Dry run: nothing to do, and nothing was changed.");
    } else {
        say!("Dry run: {pending} step(s) would change something; nothing was changed.");
    }
    if !preview.left_out.is_empty() {
        say!(
            "Left out until corrected: {}.",
            sanitize(&preview.left_out_text().join(", "))
        );
    }
}

fn show_preview(engine: &Engine, preview: &Preview, json: bool, dry_run: bool) {
    if json {
        for sp in &preview.steps {
            let actions: Vec<_> = sp
                .actions
                .iter()
                .map(|(i, a)| {
                    let diff = edit_diff(a, preview, &engine.profile)
                        .map(|d| d.iter().map(|l| l.text()).collect::<Vec<_>>());
                    PreviewAction {
                        index: *i,
                        action: a,
                        description: preview.describe(sp.step, *i, a),
                        diff,
                    }
                })
                .collect();
            json_line(&JsonEvent::StepPreview {
                step: sp.step,
                number: sp.step.number(),
                title: sp.step.title(),
                state: sp.state,
                facts: sp
                    .facts
                    .iter()
                    .map(|(k, v)| Fact {
                        name: k,
                        value: sanitize(v).into_owned(),
                    })
                    .collect(),
                checks: &sp.checks,
                actions,
                notes: &sp.notes,
                next: &sp.next,
                warnings: &sp.warnings,
            });
        }
        return;
    }
    let style = output::style_for_stdout();
    let plan = &engine.plan;
    let local = |w: &crate::winpath::WinPath| {
        engine
            .resolver
            .locate(w)
            .map(|l| l.local.display().to_string())
            .unwrap_or_default()
    };
    // The heading and the preview carry the colours: written as they are
    // (render sanitizes every text it shows).
    output::print_raw(&format!(
        "{}\n",
        style.bold(if dry_run {
            "Preview (dry run: nothing will be changed)"
        } else {
            "Preview"
        })
    ));
    say!("  plan          {}", plan.file.display());
    say!(
        "  installation  {}  ({})",
        plan.install_root,
        local(&plan.install_root)
    );
    say!(
        "  shared path   {}  ({})",
        plan.shared.path,
        local(&plan.shared.path)
    );
    if preview.resuming() {
        output::print_raw(&format!(
            "  {}\n",
            style.yellow(
                "an earlier run was interrupted: its remaining actions resume where they stopped"
            )
        ));
    }
    say!();
    output::print_raw(&render(preview, style, &engine.profile));
    say!();
}

pub fn status(profile: &Profile, p: &PlanArgs) -> Result<Exit, Problem> {
    let plan = Plan::load(&p.plan, profile)?;
    let engine = Engine::open(plan, profile.clone())?;
    let rows = engine.status();
    if p.json {
        for r in &rows {
            json_line(&JsonEvent::StepStatus {
                step: r.step,
                number: r.step.number(),
                title: r.title,
                state: r.state,
                detail: sanitize(&r.detail).into_owned(),
            });
        }
        return Ok(Exit::Success);
    }
    say!(
        "Status of {} (plan {})",
        engine.plan.install_root,
        engine.plan.file.display()
    );
    for r in &rows {
        say!(
            "{:>2}. {:<14} {:<15} {}",
            r.step.number(),
            r.step.id(),
            r.state,
            sanitize(&r.detail)
        );
    }
    let journal = engine.journal_path();
    if journal.exists() {
        say!("Journal: {}", journal.display());
    }
    Ok(Exit::Success)
}

/// What an undo reverses, newest first; for everything, whether the latest
/// run could be undone alone.
fn show_undo_list(
    engine: &Engine,
    list: &[(StepId, usize, crate::steps::Action)],
    latest: bool,
    json: bool,
) {
    if json {
        for (step, i, a) in list {
            json_line(&JsonEvent::UndoPreview {
                step: *step,
                index: *i,
                action: a,
                description: a.describe_undo(),
            });
        }
        return;
    }
    say!(
        "{}",
        if latest {
            "Undo of the latest run reverses, newest first (the runs before it stay):"
        } else {
            "Undo reverses, newest first:"
        }
    );
    for (step, _, a) in list {
        say!("  [{step}] {}", sanitize(&a.describe_undo()));
    }
    if !latest {
        if let Ok(l) = engine.latest_run() {
            say!(
                "(`--latest` undoes only the latest run: {} change(s).)",
                l.actions.len()
            );
        }
    }
    say!();
}

pub fn undo(profile: &Profile, u: &UndoArgs) -> Result<Exit, Problem> {
    let plan = Plan::load(&u.plan.plan, profile)?;
    let mut engine = Engine::open(plan, profile.clone())?;
    engine.options.stop_mdaemon |= u.stop_mdaemon;
    engine.options.mdaemon_stopped |= u.mdaemon_stopped;
    // An undo of the latest run that stopped part-way is finished as such.
    let latest = if u.latest || engine.replay.undoing_run.is_some() {
        Some(engine.latest_run_or_refusal()?)
    } else {
        None
    };
    let list = match &latest {
        Some(l) => l.actions.clone(),
        None => engine.undo_list(),
    };
    let json = u.plan.json;
    // An undo stopped after its last action still has its end to write.
    if list.is_empty() && !engine.replay.undo_begun {
        if json {
            json_line(&JsonEvent::Undone {
                undone: &[],
                journal: None,
                kept: &[],
                next: &[],
                exit: 0,
            });
        } else {
            say!("Nothing to undo: there is no journal of an applied run for this installation.");
        }
        return Ok(Exit::Success);
    }
    show_undo_list(&engine, &list, latest.is_some(), json);
    ask_first(u.yes, json, "Undo these changes?", "add --yes to undo")?;
    let sink: Box<dyn EventSink> = if json {
        Box::new(JsonSink)
    } else {
        Box::new(HumanSink::new())
    };
    output::interrupt::stop_with(output::interrupt::notice("undo", &u.plan.plan), json);
    let summary = if let Some(l) = &latest {
        engine.undo_latest(Some(&l.run), sink.as_ref())?
    } else {
        engine.undo(sink.as_ref())?
    };
    if json {
        json_line(&JsonEvent::Undone {
            undone: &summary.changed,
            journal: summary.journal.as_deref(),
            kept: &summary.kept,
            next: &summary.notes,
            exit: 0,
        });
    } else {
        say!("\nUndone: {} step(s) reversed.", summary.changed.len());
        output::print_summary(&summary, "");
        if latest.is_some() {
            say!(
                "The runs before it stay applied; `mdcluster undo --plan {}` reverses them too.",
                u.plan.plan.display()
            );
        } else {
            say!("If MDaemon was restarted with the new folders, restart it again so it uses the old ones.");
        }
    }
    Ok(Exit::Success)
}

pub fn cleanup(profile: &Profile, c: &CleanupArgs) -> Result<Exit, Problem> {
    let plan = Plan::load(&c.plan.plan, profile)?;
    let mut engine = Engine::open(plan, profile.clone())?;
    engine.options.mdaemon_restarted |= c.mdaemon_restarted;
    let kept = engine.replay.kept_sources();
    let json = c.plan.json;
    if kept.is_empty() {
        if json {
            json_line(&JsonEvent::Cleaned {
                cleaned: 0,
                kept: &[],
                exit: 0,
            });
        } else {
            say!("Nothing to clean up: no old mail store is kept (only `apply --keep-source` keeps one).");
        }
        return Ok(Exit::Success);
    }
    for (source, copy) in &kept {
        if json {
            json_line(&JsonEvent::CleanupPreview { source, copy });
        } else {
            say!(
                "delete {} where its copy in {} is identical",
                source.win.to_dir_string(),
                copy.win.to_dir_string()
            );
        }
    }
    ask_first(
        c.yes,
        json,
        "Delete the old store where the copy is identical?",
        "add --yes to clean up",
    )?;
    let sink: Box<dyn EventSink> = if json {
        Box::new(JsonSink)
    } else {
        Box::new(HumanSink::new())
    };
    output::interrupt::stop_with(output::interrupt::notice("cleanup", &c.plan.plan), json);
    let summary = engine.cleanup(sink.as_ref())?;
    if json {
        json_line(&JsonEvent::Cleaned {
            cleaned: kept.len(),
            kept: &summary.kept,
            exit: 0,
        });
    } else {
        say!(
            "\nCleaned up: {} old folder(s) removed where identical to the share.",
            kept.len()
        );
        output::print_summary(
            &summary,
            &format!("mdcluster undo --plan {}", engine.plan.file.display()),
        );
    }
    Ok(Exit::Success)
}

pub fn validate(profile: &Profile, file: &Path, json: bool) -> Result<Exit, Problem> {
    let plan = Plan::load(file, profile)?;
    let resolver = crate::location::Resolver::new(plan.mounts.clone());
    let unreachable: Vec<String> = [&plan.install_root, &plan.shared.path]
        .into_iter()
        .filter(|p| resolver.locate(p).is_err())
        .map(|p| p.to_string())
        .collect();
    if json {
        json_line(&JsonEvent::PlanValid {
            valid: true,
            fingerprint: plan.fingerprint(),
            plan: &plan,
            unreachable_here: unreachable,
        });
        return Ok(Exit::Success);
    }
    say!("{}: valid plan", file.display());
    say!("  installation    {}", plan.install_root);
    say!("  shared path     {}", plan.shared.path);
    for (what, target) in plan.shared.named().into_iter().skip(1) {
        say!("  {what:<15} {target}");
    }
    for tree in plan.shared.kept_local() {
        say!("  {:<15} kept on each node (keep_local)", tree.label());
    }
    for n in &plan.nodes {
        say!(
            "  node            {} ({}), {:?}, server ID {}",
            n.name,
            n.address,
            n.role,
            n.server_id
                .map(|id| id.to_string())
                .unwrap_or_else(|| "assigned by mdcluster".into())
        );
    }
    let lb = &plan.load_balancer;
    let services: Vec<String> = lb
        .enabled()
        .map(|s| format!("{} {}", s.key(), lb.ports.get(s)))
        .collect();
    say!(
        "  load balancer   http_mode = {}, listens on {}: {}",
        lb.http_mode.key(),
        lb.listen,
        services.join(", ")
    );
    if let Some(kind) = lb.kind {
        let files = match &lb.output {
            Some(dir) => dir.display().to_string(),
            None => format!(
                "{}\\{}\\{}\\{} (default)",
                plan.install_root,
                crate::fsops::state_dir::STATE_DIR,
                crate::steps::load_balancer::DEFAULT_DIR,
                kind.key()
            ),
        };
        say!(
            "  step 11         writes the {} configuration to {files}",
            kind.title()
        );
    }
    for p in unreachable {
        say!("  note: {p} cannot be reached from this machine without a [[mounts]] entry");
    }
    Ok(Exit::Success)
}

pub fn sandbox(profile: &Profile, s: &SandboxArgs) -> Result<Exit, Problem> {
    let dir = absolute(&s.dir)?;
    if s.run_service && dir.join(crate::service::SANDBOX_MARKER).exists() {
        crate::sandbox::service::run(&dir, profile, s.service_seconds, &|t| say_err!("{t}"))?;
        return Ok(Exit::Success);
    }
    let opts = crate::sandbox::Options {
        accounts: s.accounts,
        messages: s.messages,
        seed: s.seed,
        message_size: s.message_size,
    };
    let share = match &s.share {
        Some(share) => {
            let share = absolute(share)?;
            if crate::fsops::exists(&share)
                && !crate::fsops::tree::is_empty_dir(&share).unwrap_or(false)
            {
                return Err(
                    Problem::usage(format!("{} exists and is not empty", share.display()))
                        .fix("give a new or empty folder for the demo share"),
                );
            }
            Some(share)
        }
        None => None,
    };
    let started = std::time::Instant::now();
    let report = crate::sandbox::create(&dir, profile, &opts)?;
    if let Some(primary) = &s.secondary_of {
        crate::sandbox::make_secondary(&dir, &absolute(primary)?, &s.name, profile)?;
    }
    if let Some(share) = &share {
        std::fs::create_dir_all(share)
            .map_err(|e| Problem::io(Exit::Other, "create", share, &e))?;
    }
    say_err!(
        "Wrote a SAMPLE MDaemon installation to {} in {:.1} s: {} accounts in {} domains, {} messages, {}.",
        dir.display(),
        started.elapsed().as_secs_f64(),
        report.accounts,
        report.domains,
        report.messages,
        output::print_sizes_line(report.files, report.bytes)
    );
    let share_dir = share.unwrap_or_else(|| crate::sandbox::default_share(&dir));
    if !share_dir.exists() {
        say_err!(
            "Create the share folder before applying: mkdir {}",
            share_dir.display()
        );
    }
    say_err!("A plan for it follows on standard output (save it with `> plan.toml`).");
    output::print_text(&crate::sandbox::plan_text(&dir, &share_dir));
    if s.run_service {
        crate::sandbox::service::run(&dir, profile, s.service_seconds, &|t| say_err!("{t}"))?;
    }
    Ok(Exit::Success)
}

/// The wizard on an installation folder: full screen, or plain prompts.
pub fn wizard(
    profile: Profile,
    root: Option<&Path>,
    plain: bool,
    scope: Option<crate::discovery::Scope>,
) -> Result<Exit, Problem> {
    let root = match root {
        Some(r) => absolute(r)?,
        None if cfg!(windows) => std::path::PathBuf::from(&profile.install.default_root.value),
        None => {
            return Err(Problem::usage("this machine is not Windows, so there is no C:\\MDaemon to start from")
                .fix("give the installation folder with --root DIR (try `mdcluster sandbox DIR` for a sample, or `mdcluster demo`)"))
        }
    };
    let earlier = EarlierRun::read(&root, &profile);
    let answers = crate::wizard::answers::Answers::from_disk(&root, &profile, &earlier);
    start_wizard(answers, earlier, profile, plain, scope)
}

fn start_wizard(
    answers: crate::wizard::answers::Answers,
    earlier: EarlierRun,
    profile: Profile,
    plain: bool,
    scope: Option<crate::discovery::Scope>,
) -> Result<Exit, Problem> {
    let style = output::style_for_stdout();
    if plain {
        crate::wizard::plain::run(answers, earlier, profile, style, scope)
    } else {
        crate::wizard::run_tui(answers, earlier, profile, style.color, scope)
    }
}

pub fn demo(profile: Profile, d: &DemoArgs, plain: bool) -> Result<Exit, Problem> {
    use std::io::IsTerminal;
    // Checked before anything is written.
    if d.secondaries > 50 {
        return Err(
            Problem::usage(format!("--secondaries {}: too many", d.secondaries))
                .fix("give from 0 to 50 simulated secondaries"),
        );
    }
    let dir = match &d.dir {
        Some(dir) => absolute(dir)?,
        None => std::env::temp_dir().join(format!(
            "mdcluster-demo-{}-{:04x}",
            std::process::id(),
            rand::random::<u16>()
        )),
    };
    if crate::fsops::exists(&dir) && !crate::fsops::tree::is_empty_dir(&dir).unwrap_or(false) {
        return Err(Problem::usage(format!("{} exists and is not empty", dir.display()))
            .fix("give a new or empty folder with --dir, or leave --dir out to use a new temporary folder"));
    }
    let terminal = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    if !d.yes && !terminal {
        return Err(crate::wizard::plain::no_terminal()
            .fix("run `mdcluster demo --yes` for the demo without questions"));
    }
    let install = dir.join("MDaemon");
    let share = dir.join("share");
    let plan_file = dir.join("plan.toml");
    let report = crate::sandbox::create(&install, &profile, &crate::sandbox::Options::default())?;
    std::fs::create_dir_all(&share).map_err(|e| Problem::io(Exit::Other, "create", &share, &e))?;
    std::fs::write(&plan_file, crate::sandbox::plan_text(&install, &share))
        .map_err(|e| Problem::io(Exit::Other, "write", &plan_file, &e))?;
    let intro = format!(
        "mdcluster demo: everything happens inside {}; nothing else is touched.\n  \
         SAMPLE installation  {} (stands for {}): {} accounts, {} messages\n  \
         demo share           {} (stands for {})\n  \
         plan                 {}",
        dir.display(),
        install.display(),
        crate::sandbox::WINDOWS_ROOT,
        report.accounts,
        report.messages,
        share.display(),
        crate::sandbox::DEMO_SHARE,
        plan_file.display()
    );
    if !d.yes {
        say!("{intro}");
        return demo_wizard(profile, d, &dir, plain);
    }
    demo_headless(&profile, d, &dir, &intro)
}

/// The interactive demo: the wizard on the sample installation, with the
/// SIMULATED secondaries beside it and, when they have loopback addresses
/// of their own, step 11 answered (HAProxy) and services on every node;
/// the stickiness proof is offered on the way out.
fn demo_wizard(profile: Profile, d: &DemoArgs, dir: &Path, plain: bool) -> Result<Exit, Problem> {
    let (install, share) = (dir.join("MDaemon"), dir.join("share"));
    let earlier = EarlierRun::read(&install, &profile);
    let mut answers = crate::wizard::answers::Answers::from_disk(&install, &profile, &earlier);
    answers.shared_path = crate::sandbox::DEMO_SHARE.into();
    answers.shared_local = share.display().to_string();
    answers.node_name = "MAIL1".into();
    answers.node_address = "127.0.0.1".into();
    // The demo's secondaries are sandboxes on this machine: loopback.
    let scope = d.discovery.scope(true);
    let _simulation = match &scope {
        Some(scope) if d.secondaries > 0 => Some(demo_simulation(
            &profile,
            dir,
            &install,
            &share,
            d.secondaries,
            scope,
        )?),
        _ => None,
    };
    let balancer = if scope.as_ref().is_some_and(own_addresses) && d.secondaries > 0 {
        Some(super::demo::balancer_into_answers(
            &profile,
            &mut answers,
            d.secondaries,
        )?)
    } else {
        None
    };
    let _nodes = match &balancer {
        Some(b) => {
            let mut nodes = vec![("MAIL1".to_string(), std::net::IpAddr::from([127, 0, 0, 1]))];
            nodes.extend(
                crate::simulation::default_names(d.secondaries)
                    .into_iter()
                    .enumerate()
                    .map(|(i, n)| (n, crate::simulation::loopback_address(i))),
            );
            Some(super::demo::start_nodes(&nodes, b)?)
        }
        None => None,
    };
    let exit = start_wizard(answers, earlier, profile.clone(), plain, scope)?;
    if balancer.is_some() {
        super::demo::offer_proof(&profile, &install, dir);
    }
    Ok(exit)
}

/// The secondaries into the plan; with loopback addresses of their own, a
/// balancer on loopback ports too and SIMULATED services on every node for
/// it (running until the second value is dropped).
fn demo_nodes(
    profile: &Profile,
    plan_file: &Path,
    names: &[String],
    scope: Option<&crate::discovery::Scope>,
) -> Result<(Option<super::demo::Balancer>, Option<super::demo::Nodes>), Problem> {
    if names.is_empty() {
        return Ok((None, None));
    }
    let own = scope.is_some_and(own_addresses);
    add_secondaries(profile, plan_file, names, own)?;
    if !own {
        return Ok((None, None));
    }
    let balancer = super::demo::balancer_into_plan(profile, plan_file)?;
    let nodes = super::demo::start_nodes(
        &super::demo::plan_nodes(&Plan::load(plan_file, profile)?),
        &balancer,
    )?;
    Ok((Some(balancer), Some(nodes)))
}

/// Whether the simulated secondaries announce loopback addresses of their
/// own (the simulation stays on loopback).
fn own_addresses(scope: &crate::discovery::Scope) -> bool {
    scope.loopback && scope.interfaces.is_empty() && crate::simulation::own_loopback_addresses()
}

/// The demo's secondaries into its plan, as an administrator adds them.
/// All on this machine; with `own` each at its own loopback address
/// (127.0.0.11, …), which it announces, so the balancer of step 11 can tell
/// them apart; else at 127.0.0.1 (step 11 then waits).
fn add_secondaries(
    profile: &Profile,
    plan_file: &Path,
    names: &[String],
    own: bool,
) -> Result<(), Problem> {
    let mut plan = Plan::load(plan_file, profile)?;
    plan.nodes
        .extend(names.iter().enumerate().map(|(i, n)| crate::plan::Node {
            name: n.clone(),
            address: if own {
                crate::simulation::loopback_address(i).to_string()
            } else {
                "127.0.0.1".into()
            },
            role: crate::plan::Role::Secondary,
            server_id: None,
            replaces: None,
        }));
    std::fs::write(plan_file, plan.render(profile))
        .map_err(|e| Problem::io(Exit::Other, "write", plan_file, &e))
}

/// `demo --yes`: the plan applied, the simulated secondaries registered and
/// verified from the cluster log, and where every step stands, as text.
fn demo_headless(
    profile: &Profile,
    d: &DemoArgs,
    dir: &Path,
    intro: &str,
) -> Result<Exit, Problem> {
    let (install, share, plan_file) = (
        dir.join("MDaemon"),
        dir.join("share"),
        dir.join("plan.toml"),
    );
    let style = output::style_for_stdout();
    output::print_raw(&format!("{}\n\n", style.bold(&sanitize_lines(intro))));
    // The SIMULATED secondaries go into the plan as an administrator would
    // add them; they announce on loopback, where the demo listens.
    let scope = d.discovery.scope(true);
    let names = match &scope {
        Some(_) => crate::simulation::default_names(d.secondaries),
        None => Vec::new(),
    };
    let (balancer, _nodes) = demo_nodes(profile, &plan_file, &names, scope.as_ref())?;
    let _simulation = match &scope {
        Some(scope) if !names.is_empty() => Some(demo_simulation(
            profile,
            dir,
            &install,
            &share,
            names.len(),
            scope,
        )?),
        _ => None,
    };
    let plan = Plan::load(&plan_file, profile)?;
    let mut engine = Engine::open(plan, profile.clone())?;
    if let Some(scope) = &scope {
        engine.discovered = crate::workflows::discover::survey_plan(
            profile,
            &engine.plan,
            scope,
            None,
            &[],
            std::time::Duration::from_secs(30),
        )?;
    }
    let preview = engine.preview()?;
    show_preview(&engine, &preview, false, false);
    if preview.refusal().is_some() {
        return Err(
            Problem::refused("the demo's preview has a failed check (above)")
                .fix("this is a bug in the demo; please report it with the output above"),
        );
    }
    let summary = engine.apply(&preview, "demo", &HumanSink::new())?;
    say!("\nApplied: {} step(s) changed.", summary.changed.len());
    output::print_summary(
        &summary,
        &format!("mdcluster undo --plan {}", plan_file.display()),
    );
    if names.is_empty() {
        say!("\nNo secondaries (--secondaries 0 or --no-discovery): nothing to verify.");
        return Ok(Exit::Success);
    }
    // What the administrator does in MDaemon's dialog, done for the demo:
    // the simulated MDaemon then connects the nodes and writes its log.
    let registered = crate::cluster::manifest::confirm_registered(&share, &names, "demo")?;
    for (name, id) in &registered {
        say!("DEMO: {name} registered in the SIMULATED MDaemon with server ID {id} (as `mdcluster register` records it)");
    }
    say!();
    let exit = super::verify::verify_plan(
        profile,
        &Plan::load(&plan_file, profile)?,
        std::time::Duration::from_secs(120),
        super::verify::Show::default(),
    )?;
    // A failure of step 11 or of the proof is said after where every step
    // stands (and is the demo's exit code).
    let step11 = match (exit, &balancer) {
        (Exit::Success, Some(_)) => balancer_step(profile, &plan_file, dir, &install),
        _ => Ok(()),
    };
    where_steps_stand(profile, &plan_file)?;
    step11?;
    if exit == Exit::Success {
        say!(
            "\nThe cluster is verified. Look around in {}; rerun `mdcluster apply --plan {}` to see that nothing is left to do.",
            dir.display(),
            plan_file.display()
        );
    }
    Ok(exit)
}

/// `status` as text, for the end of the demo.
fn where_steps_stand(profile: &Profile, plan_file: &Path) -> Result<(), Problem> {
    say!("\nWhere every step stands now:");
    let engine = Engine::open(Plan::load(plan_file, profile)?, profile.clone())?;
    for r in engine.status() {
        say!(
            "{:>2}. {:<14} {:<15} {}",
            r.step.number(),
            r.step.id(),
            r.state,
            sanitize(&r.detail)
        );
    }
    Ok(())
}

/// Step 11 once the secondaries are in the cluster (a run of its own, as
/// an administrator reruns `apply`), then HAProxy's stickiness proof.
fn balancer_step(
    profile: &Profile,
    plan_file: &Path,
    dir: &Path,
    install: &Path,
) -> Result<(), Problem> {
    say!("\nStep 11, now that the secondaries are in the cluster (apply again):");
    let plan = Plan::load(plan_file, profile)?;
    let mut engine = Engine::open(plan.clone(), profile.clone())?;
    let preview = engine.preview()?;
    show_preview(&engine, &preview, false, false);
    let summary = engine.apply(&preview, "demo", &HumanSink::new())?;
    say!("\nApplied: {} step(s) changed.", summary.changed.len());
    super::demo::prove(&plan, install, dir)
}

/// The demo's SIMULATED secondaries (`mdcluster simulate` in threads): they
/// announce with the join code the wizard shows, and the simulated primary
/// writes the cluster log once they are registered. What it does goes to
/// `<dir>/simulation/SIMULATION-events.log`, never to the screen.
fn demo_simulation(
    profile: &Profile,
    dir: &Path,
    install: &Path,
    share: &Path,
    n: usize,
    scope: &crate::discovery::Scope,
) -> Result<crate::simulation::Running, Problem> {
    let (code, _) =
        crate::cluster::pairing::code_to_show(&install.join(crate::fsops::state_dir::STATE_DIR))?;
    let cfg = crate::simulation::Config {
        primary: install.to_path_buf(),
        share: share.to_path_buf(),
        dir: dir.join("simulation"),
        names: crate::simulation::default_names(n),
        code,
        scope: scope.clone(),
        interval: std::time::Duration::from_secs(2),
        format: crate::simulation::LogFormat::Classic,
        faults: Vec::new(),
        stop_after: None,
    };
    let events = cfg.dir.join("SIMULATION-events.log");
    let sink = move |r: crate::simulation::Report| {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&events)
        {
            let _ = writeln!(f, "SIMULATION {r:?}");
        }
    };
    let running = crate::simulation::spawn(profile, &cfg, sink)?;
    say!(
        "  SIMULATED secondaries {} announce on {} (folders in {})",
        cfg.names.join(", "),
        scope.describe(),
        cfg.dir.display()
    );
    Ok(running)
}

pub fn steps(json: bool) {
    for s in StepId::ALL {
        if json {
            json_line(&JsonEvent::StepInfo {
                number: s.number(),
                id: s.id(),
                title: s.title(),
                manual_steps: s.manual_steps(),
                purpose: s.purpose(),
            });
        } else {
            say!(
                "{:>2}. {:<14} {}  [manual step {}]",
                s.number(),
                s.id(),
                s.title(),
                s.manual_steps()
            );
        }
    }
}

pub(crate) fn profile_show(profile: &Profile, file: Option<&Path>, table: bool) {
    if table {
        for (name, value, source) in profile.entries() {
            say!(
                "{name:<36} {:<11} {}",
                format!("{source:?}").to_lowercase(),
                sanitize(&value)
            );
        }
        return;
    }
    match file.and_then(|f| std::fs::read_to_string(f).ok()) {
        Some(text) => output::print_text(&text),
        None => output::print_text(crate::profile::DEFAULT_PROFILE),
    }
}

/// Ask once before changing anything, unless `--yes`. JSON output cannot ask.
fn ask_first(yes: bool, json: bool, question: &str, json_fix: &str) -> Result<(), Problem> {
    if yes {
        return Ok(());
    }
    if json {
        return Err(
            Problem::usage("--json cannot ask for confirmation, so nothing was changed")
                .fix(json_fix),
        );
    }
    if confirm(question)? {
        Ok(())
    } else {
        Err(declined())
    }
}

fn absolute(p: &Path) -> Result<std::path::PathBuf, Problem> {
    std::path::absolute(p).map_err(|e| Problem::io(Exit::Usage, "resolve", p, &e))
}

/// The hidden `bench-mover` command: one move or copy, timed, as one JSON line.
pub(crate) fn bench_mover(b: &BenchMoverArgs) -> Result<Exit, Problem> {
    use crate::fsops::mover;
    let opts = mover::Options {
        allow_rename: !b.no_rename,
        threads: b.threads,
        flush: match b.flush.as_str() {
            "each-file" => mover::Flush::EachFile,
            "batched" => mover::Flush::Batched,
            _ => mover::Flush::Auto,
        },
    };
    let started = std::time::Instant::now();
    let out = if b.op == "move" {
        mover::move_tree(&b.from, &b.to, &opts, (0, 0), &mut |_| {})
    } else {
        mover::copy_tree(&b.from, &b.to, &opts, (0, 0), &mut |_| {})
    }
    .map_err(crate::engine::actions::fs_problem)?;
    let seconds = started.elapsed().as_secs_f64();
    json_line(&JsonEvent::BenchMover {
        op: &b.op,
        threads: b.threads,
        flush: &b.flush,
        method: out.method,
        files: out.files,
        bytes: out.bytes,
        skipped: out.skipped.len(),
        seconds,
        files_per_s: out.files as f64 / seconds.max(1e-9),
        mb_per_s: out.bytes as f64 / 1e6 / seconds.max(1e-9),
    });
    Ok(Exit::Success)
}
