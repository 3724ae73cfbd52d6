//! Terminal and JSON output for the command line.

use crate::engine::events::{Event, EventSink, Outcome};
use crate::problem::{Exit, Problem};
use crate::report::preview::Style;
use crate::report::{sanitize, size};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

/// Colour only on a terminal and when NO_COLOR is not set.
pub fn style_for_stdout() -> Style {
    Style {
        color: std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    }
}

pub fn print_problem(p: &Problem, json: bool) {
    if json {
        let v = serde_json::json!({ "event": "error", "exit": p.exit.code(), "error": p });
        println!("{v}");
    } else {
        // Problems quote file content and paths: escape anything a terminal would act on.
        let text = p.to_string();
        let safe: Vec<String> = text.lines().map(|l| sanitize(l).into_owned()).collect();
        eprintln!("error: {}", safe.join("\n"));
    }
}

/// One JSON object per line on stdout.
pub struct JsonSink;

impl EventSink for JsonSink {
    fn emit(&self, event: Event) {
        json_line(&event);
    }
}

pub fn json_line<T: serde::Serialize>(value: &T) {
    if let Ok(text) = serde_json::to_string(value) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }
}

/// Step lines on stderr, with a progress bar for long work on a terminal.
pub struct HumanSink {
    bar: Mutex<Option<ProgressBar>>,
    tty: bool,
}

impl HumanSink {
    pub fn new() -> HumanSink {
        HumanSink {
            bar: Mutex::new(None),
            tty: std::io::stderr().is_terminal(),
        }
    }

    fn finish_bar(&self) {
        if let Ok(mut bar) = self.bar.lock() {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
        }
    }
}

impl EventSink for HumanSink {
    fn emit(&self, event: Event) {
        match event {
            Event::StepStarted {
                step,
                number,
                title,
            } => eprintln!("[{number:>2}/11] {step}: {title}"),
            Event::ActionStarted { description, .. } => {
                eprintln!("        {}", sanitize(&description))
            }
            Event::StepProgress {
                files_done,
                files_total,
                bytes_done,
                bytes_total,
                ..
            } => {
                if !self.tty || files_total < 50 {
                    return;
                }
                if let Ok(mut bar) = self.bar.lock() {
                    let b = bar.get_or_insert_with(|| {
                        let b = ProgressBar::new(bytes_total.max(1));
                        if let Ok(s) = ProgressStyle::with_template(
                            "        {bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta} {msg}",
                        ) {
                            b.set_style(s);
                        }
                        b
                    });
                    b.set_position(bytes_done);
                    b.set_message(format!("{files_done}/{files_total} files"));
                }
            }
            Event::ActionDone { .. } => self.finish_bar(),
            Event::StepDone { step, outcome } => {
                self.finish_bar();
                let text = match outcome {
                    Outcome::Changed => "done",
                    Outcome::AlreadyDone => "already done (journal)",
                    Outcome::NothingToDo => "nothing to do",
                    Outcome::Checked => "checked",
                    Outcome::Undone => "undone",
                };
                if matches!(
                    outcome,
                    Outcome::Changed | Outcome::Checked | Outcome::Undone
                ) {
                    eprintln!("        {text}");
                } else {
                    eprintln!("[{:>2}/11] {step}: {text}", step.number());
                }
            }
            Event::StepSkipped { step, reason } => {
                eprintln!("[{:>2}/11] {step}: skipped, {reason}", step.number())
            }
            Event::StepWaiting { step, reason } => {
                eprintln!(
                    "[{:>2}/11] {step}: waiting: {}",
                    step.number(),
                    sanitize(&reason)
                )
            }
            Event::StepFailed { .. } => {
                self.finish_bar();
                eprintln!("        FAILED");
            }
            Event::Note { text, .. } => eprintln!("        note: {}", sanitize(&text)),
        }
    }
}

/// Ask once; without a terminal, refuse and say how to proceed.
pub fn confirm(question: &str) -> Result<bool, Problem> {
    if !std::io::stdin().is_terminal() {
        return Err(Problem::usage("there is no terminal to ask for confirmation, so nothing was changed")
            .fix("rerun with --yes to go ahead without asking, or with --dry-run to only see the changes"));
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| Problem::other(format!("could not read the answer: {e}")))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes" | "YES"))
}

/// The end of an apply, for people.
pub fn print_summary(summary: &crate::engine::Summary, undo_hint: &str) {
    if let Some(j) = &summary.journal {
        println!("Journal: {}", j.display());
    }
    if let Some(b) = &summary.backups {
        if b.exists() {
            println!("Backups: {}", b.display());
        }
    }
    for k in &summary.kept {
        println!(
            "Kept (changed after mdcluster wrote it, not ours to delete): {}",
            k.display()
        );
    }
    let mut notes: Vec<&String> = summary.notes.iter().collect();
    notes.dedup();
    for n in notes {
        println!("Next: {}", sanitize(n));
    }
    if !undo_hint.is_empty() {
        println!("To reverse: {undo_hint}");
    }
}

pub fn print_sizes_line(files: u64, bytes: u64) -> String {
    format!("{files} files, {}", size(bytes))
}

pub fn declined() -> Problem {
    Problem::new(Exit::Other, "cancelled; nothing was changed")
}
