//! The plain wizard: the same questions as line prompts (inquire), for SSH
//! sessions and screen readers. Same answers, same plan, same engine.

use super::answers::{question, Answers};
use super::runtime::{keep_plan, save_plan};
use crate::cli::output::{print_summary, HumanSink};
use crate::engine::Engine;
use crate::problem::{Exit, Problem};
use crate::profile::Profile;
use crate::report::preview::{render, Style};
use inquire::validator::Validation;
use inquire::{Confirm, InquireError, Select, Text};

fn cancelled(e: InquireError) -> Problem {
    match e {
        InquireError::OperationCanceled | InquireError::OperationInterrupted => {
            Problem::new(Exit::Other, "cancelled; nothing was changed")
        }
        InquireError::NotTTY => no_terminal(),
        other => Problem::other(format!("the prompt failed: {other}")),
    }
}

pub fn no_terminal() -> Problem {
    Problem::usage("the wizard needs a terminal to ask its questions, and there is none")
        .fix("for a run without questions use `mdcluster apply --plan FILE` (`mdcluster plan example` prints one)")
}

pub fn run(mut answers: Answers, profile: Profile, style: Style) -> Result<Exit, Problem> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(no_terminal());
    }
    let state = answers.install_local.join(crate::engine::STATE_DIR);
    let replay = crate::engine::journal::read(&state.join(crate::engine::journal::FILE_NAME))?;
    if replay.interrupted() {
        if let Some(plan) = replay
            .plan_file()
            .and_then(|f| crate::plan::Plan::load(std::path::Path::new(f), &profile).ok())
        {
            answers = Answers::from_plan(&plan, &answers.install_local);
        }
        println!("An earlier run on this installation was interrupted; its journal can finish it or reverse it.");
        let choice = Select::new(
            "What now?",
            vec!["resume: finish it", "undo: reverse what it did", "quit"],
        )
        .prompt()
        .map_err(cancelled)?;
        if choice.starts_with("quit") {
            return Ok(Exit::Success);
        }
        if choice.starts_with("undo") {
            let plan = answers
                .plan(&profile, &state.join("wizard-plan.toml"))
                .map_err(|e| crate::plan::plan_problem(&state, &e))?;
            let mut engine = Engine::open(plan, profile.clone())?;
            let summary = engine.undo(&HumanSink::new())?;
            println!("\nUndone: {} step(s) reversed.", summary.changed.len());
            print_summary(&summary, "");
            return Ok(Exit::Success);
        }
    }

    for field in answers.fields() {
        let q = question(field);
        let current = answers.clone();
        let value = Text::new(&format!("{}:", q.label))
            .with_initial_value(answers.get(field))
            .with_help_message(q.help)
            .with_validator(move |input: &str| {
                let mut a = current.clone();
                *a.get_mut(field) = input.to_string();
                Ok(match a.validate(field) {
                    Ok(()) => Validation::Valid,
                    Err(e) => Validation::Invalid(e.into()),
                })
            })
            .prompt()
            .map_err(cancelled)?;
        *answers.get_mut(field) = value.trim().to_string();
    }

    let plan = answers
        .plan(&profile, &state.join("wizard-plan.toml"))
        .map_err(|e| crate::plan::plan_problem(&state.join("wizard-plan.toml"), &e))?;
    let engine = Engine::open(plan, profile.clone())?;
    let preview = engine.preview()?;
    println!();
    print!("{}", render(&preview, style, &profile));
    println!();
    if !preview.has_changes() {
        println!("Nothing to do: the installation is already as planned.");
    } else if Confirm::new("Apply these changes?")
        .with_default(false)
        .prompt()
        .map_err(cancelled)?
    {
        let plan = keep_plan(&answers.plan_text(), &profile)?;
        let mut engine = Engine::open(plan, profile.clone())?;
        let summary = engine.apply(&preview, "wizard", &HumanSink::new())?;
        println!("\nApplied: {} step(s) changed.", summary.changed.len());
        print_summary(
            &summary,
            "run the wizard again and choose undo, or `mdcluster undo --plan <plan>`",
        );
    } else {
        return Err(Problem::new(Exit::Other, "cancelled; nothing was changed"));
    }
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
            Ok(p) => println!(
                "Plan saved: {} (replay with `mdcluster apply --plan {}`)",
                p.display(),
                p.display()
            ),
            Err(e) => eprintln!("error: {e}"),
        }
    }
    Ok(Exit::Success)
}
