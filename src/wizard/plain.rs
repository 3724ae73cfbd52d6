//! The plain wizard: the same questions as line prompts (inquire), for SSH
//! sessions and screen readers. Same answers, same plan, same engine.

use super::answers::{question, Answers};
use super::runtime::{keep_plan, save_plan};
use crate::cluster::pairing;
use crate::discovery::survey::NodeReport;
use crate::engine::Engine;
use crate::output::{print_summary, say, say_err, HumanSink};
use crate::plan::ServerId;
use crate::problem::{Exit, Problem};
use crate::profile::Profile;
use crate::report::preview::{render, Style};
use crate::text::sanitize;
use crate::workflows::discover::{Survey, SurveySettings};
use inquire::validator::Validation;
use inquire::{Confirm, InquireError, MultiSelect, Select, Text};
use std::time::Duration;

fn cancelled(e: InquireError) -> Problem {
    match e {
        InquireError::OperationCanceled | InquireError::OperationInterrupted => {
            Problem::new(Exit::Other, "cancelled; nothing was changed")
        }
        InquireError::NotTTY => no_terminal(),
        other => Problem::other(format!("the prompt failed: {other}")),
    }
}

/// Steps 6-8 as prompts: show the join code, listen for the secondaries,
/// let the administrator pick the ones that may join (or enter a host by
/// hand). Returns what was found, judged, for the preview.
fn secondaries(
    answers: &mut Answers,
    plan: &crate::plan::Plan,
    scope: &crate::discovery::Scope,
    profile: &Profile,
) -> Result<Vec<NodeReport>, Problem> {
    let resolver = crate::location::Resolver::new(plan.mounts.clone());
    let root = resolver.locate(&plan.install_root)?.local;
    let share = resolver.locate(&plan.shared.path)?.local;
    let (code, _) = pairing::code_to_show(&root.join(crate::fsops::state_dir::STATE_DIR))?;
    say!(
        "\nSecondaries. Join code {} (valid for an hour). On each secondary run this and type the code:\n  {}",
        code.display(),
        pairing::join_command(
            Some(&plan.shared.path.to_string()),
            if scope.loopback { " --loopback" } else { "" }
        )
    );
    let settings = SurveySettings {
        certificates: crate::cluster::facts::CertificateStore::of(&root),
        root,
        share: Some(share),
        primary: plan.primary().map(|n| n.name.clone()).unwrap_or_default(),
        scope: scope.clone(),
        code: Some(code),
        ignore: Vec::new(),
    };
    let mut survey = Survey::start(settings, profile)?;
    loop {
        say!("Listening for {LISTEN_SECS} s on {}...", scope.describe());
        survey.listen(Duration::from_secs(LISTEN_SECS));
        let reports = survey.reports();
        for r in &reports {
            let standing = if r.addable() {
                "can join"
            } else {
                "cannot join"
            };
            say!("  {}  {standing}", sanitize(&r.name));
            if let Some(why) = &r.untrusted {
                say!("      not trusted: {}", sanitize(why));
            }
            for v in r.blocking() {
                say!("      {}: {}", v.rule, sanitize(&v.detail));
            }
        }
        let why = survey.why();
        if !why.is_empty() {
            say!("  {why}");
        }
        let choices: Vec<String> = reports
            .iter()
            .filter(|r| r.addable())
            .filter(|r| {
                !answers
                    .secondaries
                    .iter()
                    .any(|s| s.name.eq_ignore_ascii_case(&r.name))
            })
            .map(|r| sanitize(&r.name).into_owned())
            .collect();
        if !choices.is_empty() {
            let picked = MultiSelect::new("Add to the cluster:", choices)
                .prompt()
                .map_err(cancelled)?;
            for name in picked {
                if let Some(r) = reports.iter().find(|r| r.name == name) {
                    if let Err(e) = answers.add_secondary(&r.name, &r.plan_address()) {
                        say_err!("cannot add {name}: {e}");
                    }
                }
            }
        }
        let next = Select::new(
            "Secondaries:",
            vec![
                "go on to the preview",
                "listen again",
                "enter a host by hand (NetBIOS name, IP or DNS name)",
            ],
        )
        .prompt()
        .map_err(cancelled)?;
        if next.starts_with("go on") {
            return Ok(reports);
        }
        if next.starts_with("enter") {
            let host = Text::new("Host:")
                .with_validator(|h: &str| {
                    Ok(match crate::plan::check_address(h.trim()) {
                        Ok(()) => Validation::Valid,
                        Err(why) => Validation::Invalid(format!("the host {why}").into()),
                    })
                })
                .prompt()
                .map_err(cancelled)?;
            survey.add_manual(host.trim());
        }
    }
}

/// How long the plain wizard listens each time.
const LISTEN_SECS: u64 = 5;

/// Nodes in the manifest whose registration in MDaemon is not confirmed:
/// say what to enter, and record it once the administrator says it is done.
fn confirm_registrations(share: &std::path::Path, profile: &Profile) -> Result<(), Problem> {
    let Some(m) = crate::cluster::manifest::Manifest::load(share)? else {
        return Ok(());
    };
    let waiting: Vec<(String, ServerId)> = m
        .awaiting_registration()
        .map(|n| (n.name.clone(), n.server_id))
        .collect();
    if waiting.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = waiting
        .iter()
        .map(|(n, id)| format!("{n} (server ID {id})"))
        .collect();
    say!(
        "\nRegister in MDaemon on the primary, {}: {}.",
        *profile.cluster.dialog,
        list.join(", ")
    );
    if Confirm::new("Are they registered now?")
        .with_default(false)
        .prompt()
        .map_err(cancelled)?
    {
        let names: Vec<String> = waiting.into_iter().map(|(n, _)| n).collect();
        for (name, id) in crate::cluster::manifest::confirm_registered(share, &names, "wizard")? {
            say!("{name} (server ID {id}) recorded as registered.");
        }
    }
    Ok(())
}

pub(crate) fn no_terminal() -> Problem {
    Problem::usage("the wizard needs a terminal to ask its questions, and there is none")
        .fix("for a run without questions use `mdcluster apply --plan FILE` (`mdcluster plan example` prints one)")
}

/// An earlier run was interrupted: finish it (its plan becomes the answers),
/// undo it, or quit. Some(exit) when the session ends here.
fn interrupted_run(
    answers: &mut Answers,
    earlier: &crate::workflows::start::EarlierRun,
    profile: &Profile,
    state: &std::path::Path,
) -> Result<Option<Exit>, Problem> {
    if let Some(run) = &earlier.interrupted {
        if let Some(plan) = &run.plan {
            *answers = Answers::from_plan(plan, &answers.install_local, profile);
        }
        say!("An earlier run on this installation was interrupted; its journal can finish it or reverse it.");
        let choice = Select::new(
            "What now?",
            vec!["resume: finish it", "undo: reverse what it did", "quit"],
        )
        .prompt()
        .map_err(cancelled)?;
        if choice.starts_with("quit") {
            return Ok(Some(Exit::Success));
        }
        if choice.starts_with("undo") {
            let plan = answers
                .plan(profile, &earlier.wizard_plan)
                .map_err(|e| crate::plan::plan_problem(state, &e))?;
            let mut engine = Engine::open(plan, profile.clone())?;
            say!("Undo reverses, newest first:");
            for (step, _, a) in engine.undo_list() {
                say!("  [{step}] {}", crate::text::sanitize(&a.describe_undo()));
            }
            let go = Confirm::new("Undo these changes?")
                .with_default(false)
                .prompt()
                .map_err(cancelled)?;
            if !go {
                return Ok(Some(Exit::Success));
            }
            crate::output::interrupt::stop_with(
                crate::output::interrupt::notice("undo", &earlier.wizard_plan),
                false,
            );
            let summary = engine.undo(&HumanSink::new())?;
            say!("\nUndone: {} step(s) reversed.", summary.changed.len());
            print_summary(&summary, "");
            return Ok(Some(Exit::Success));
        }
    }
    Ok(None)
}

/// Each question, checked as it is typed.
fn ask(answers: &mut Answers) -> Result<(), Problem> {
    for field in answers.fields() {
        let q = question(field);
        let current = answers.clone();
        let value = Text::new(&format!("{}:", q.label))
            .with_initial_value(answers.get(field))
            .with_help_message(q.help)
            .with_validator(move |input: &str| {
                let mut a = current.clone();
                *a.get_mut(field) = input.to_string();
                Ok(
                    match a.validate(field).and_then(|()| a.check_on_disk(field)) {
                        Ok(()) => Validation::Valid,
                        Err(e) => Validation::Invalid(e.into()),
                    },
                )
            })
            .prompt()
            .map_err(cancelled)?;
        *answers.get_mut(field) = value.trim().to_string();
    }
    Ok(())
}

/// Offer to save the answers as a plan file for headless runs.
fn offer_to_save(answers: &Answers) -> Result<(), Problem> {
    if Confirm::new("Save these answers as a plan file for headless runs?")
        .with_default(true)
        .prompt()
        .map_err(cancelled)?
    {
        let default = std::env::current_dir()
            .unwrap_or_default()
            .join("mdcluster-plan.toml");
        let path = Text::new("Plan file:")
            .with_initial_value(&default.display().to_string())
            .prompt()
            .map_err(cancelled)?;
        match save_plan(std::path::Path::new(path.trim()), &answers.plan_text()) {
            Ok(p) => say!(
                "Plan saved: {} (replay with `mdcluster apply --plan {}`)",
                p.display(),
                p.display()
            ),
            Err(e) => say_err!("error: {e}"),
        }
    }
    Ok(())
}

/// The wizard as plain prompts: an interrupted run first, then the questions,
/// the secondaries, the preview, apply, and saving the answers.
pub fn run(
    mut answers: Answers,
    earlier: crate::workflows::start::EarlierRun,
    profile: Profile,
    style: Style,
    scope: Option<crate::discovery::Scope>,
) -> Result<Exit, Problem> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(no_terminal());
    }
    let state = answers
        .install_local
        .join(crate::fsops::state_dir::STATE_DIR);
    if let Some(p) = earlier.unusable {
        return Err(p);
    }
    if let Some(exit) = interrupted_run(&mut answers, &earlier, &profile, &state)? {
        return Ok(exit);
    }
    ask(&mut answers)?;

    let plan = answers
        .plan(&profile, &earlier.wizard_plan)
        .map_err(|e| crate::plan::plan_problem(&earlier.wizard_plan, &e))?;
    // Held for the whole session, like the full-screen wizard does.
    let lock = super::runtime::LockHolder::default();
    let share = crate::location::Resolver::new(plan.mounts.clone())
        .locate(&plan.shared.path)?
        .local;
    if share.is_dir() {
        if let Some(holder) = lock.hold(&share) {
            return Err(Problem::refused(format!(
                "another mdcluster is working on this cluster: {holder}"
            ))
            .fix("let it finish first; two wizards must not assign server IDs at once"));
        }
        confirm_registrations(&share, &profile)?;
    }
    let discovered = match &scope {
        Some(scope) => Some(secondaries(&mut answers, &plan, scope, &profile)?),
        None => None,
    };
    let plan = answers
        .plan(&profile, &earlier.wizard_plan)
        .map_err(|e| crate::plan::plan_problem(&earlier.wizard_plan, &e))?;
    let mut engine = Engine::open(plan, profile.clone())?;
    engine.discovered = discovered;
    // A failed check leaves out its step and what needs it; the rest may
    // still be applied, with consent (the question says so).
    let preview = engine.prepare()?;
    if let (Some(problem), false) = (preview.refusal(), preview.can_skip_blocked()) {
        return Err(problem);
    }
    say!();
    crate::output::print_raw(&render(&preview, style, &profile));
    say!();
    let question = if preview.left_out.is_empty() {
        "Apply these changes?".to_string()
    } else {
        say!(
            "Left out until corrected: {}.",
            crate::text::sanitize(&preview.left_out_text().join(", "))
        );
        "Apply the other changes now, leaving those out?".to_string()
    };
    if !preview.has_changes() {
        say!("Nothing to do: the installation is already as planned.");
    } else if Confirm::new(&question)
        .with_default(false)
        .prompt()
        .map_err(cancelled)?
    {
        let plan = keep_plan(&answers.plan_text(), &profile)?;
        let mut engine = Engine::open(plan, profile.clone())?;
        crate::output::interrupt::stop_with(
            crate::output::interrupt::notice("apply", &earlier.wizard_plan),
            false,
        );
        let summary = engine.apply(&preview, "wizard", &HumanSink::new())?;
        say!("\nApplied: {} step(s) changed.", summary.changed.len());
        print_summary(
            &summary,
            "run the wizard again and choose undo, or `mdcluster undo --plan <plan>`",
        );
        if share.is_dir() {
            confirm_registrations(&share, &profile)?;
        }
    } else {
        return Err(Problem::new(Exit::Other, "cancelled; nothing was changed"));
    }
    offer_to_save(&answers)?;
    Ok(Exit::Success)
}
