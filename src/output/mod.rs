//! Terminal and JSON output, shared by every front end (the command line,
//! the plain wizard, the demo's simulated services).
//!
//! Every write to standard output and standard error goes through this
//! module, which is where two promises are kept:
//! - Untrusted text (file names, log lines, what the network announced) never
//!   reaches the terminal or a `--json` consumer raw: [`say!`] and
//!   [`say_err!`] sanitize every line they print, [`json_line`] every string
//!   of the value it prints ([`crate::text::sanitize`], the one sanitizer).
//!   Only [`print_raw`] writes text as it is: the preview with its colours,
//!   which [`crate::report::preview::render`] sanitized piece by piece.
//! - A closed pipe never panics. On standard output
//!   (`mdcluster plan example | head -1`) it ends the process quietly with
//!   exit status [`BROKEN_PIPE_EXIT`]; on standard error (diagnostics and
//!   progress) the write is dropped and the run goes on to its own exit code.

pub(crate) mod interrupt;
pub mod json;

use crate::engine::events::{Event, EventSink, Outcome};
use crate::fsops::mover::Phase;
use crate::problem::{Exit, Problem};
use crate::report::preview::Style;
use crate::text::{safe_path, sanitize, sanitize_json_text, sanitize_lines, size};
use indicatif::{ProgressBar, ProgressStyle};
use json::JsonEvent;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

/// The exit status when standard output was closed before everything was
/// written (`| head`): 141, what a shell reports for a program stopped by
/// SIGPIPE (128 + 13), so `set -o pipefail` scripts see that the output was
/// cut short, as with any other command, and a cut-short run never claims
/// success (0).
pub(crate) const BROKEN_PIPE_EXIT: i32 = 141;

/// When `main` started (for the first-frame benchmark).
pub(crate) static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// Where a write goes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Stream {
    Out,
    Err,
}

/// Write text exactly as it is, never panicking. On standard output a closed
/// pipe ends the process quietly ([`BROKEN_PIPE_EXIT`]) and any other failure
/// ends it with exit 1 and a line on standard error. A failure to write
/// standard error is ignored: the run goes on.
pub(crate) fn write_raw(stream: Stream, text: &str) {
    let result = match stream {
        Stream::Out => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes()).and_then(|()| out.flush())
        }
        Stream::Err => {
            let mut err = std::io::stderr().lock();
            err.write_all(text.as_bytes()).and_then(|()| err.flush())
        }
    };
    match (stream, result) {
        (_, Ok(())) | (Stream::Err, Err(_)) => {}
        (Stream::Out, Err(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            std::process::exit(BROKEN_PIPE_EXIT)
        }
        (Stream::Out, Err(e)) => {
            let _ = writeln!(
                std::io::stderr(),
                "error: could not write to standard output: {e}"
            );
            std::process::exit(i32::from(Exit::Other.code()));
        }
    }
}

/// One line (or several, separated by `\n`) on standard output, sanitized.
pub(crate) fn say_line(text: &str) {
    let mut line = sanitize_lines(text).into_owned();
    line.push('\n');
    write_raw(Stream::Out, &line);
}

/// One line (or several) on standard error, sanitized.
pub(crate) fn say_err_line(text: &str) {
    let mut line = sanitize_lines(text).into_owned();
    line.push('\n');
    write_raw(Stream::Err, &line);
}

/// Text on standard output exactly as it is: only for text whose untrusted
/// parts were sanitized piece by piece and that carries mdcluster's own
/// escape sequences (the preview's colours, `verify`'s redrawn grid).
pub(crate) fn print_raw(text: &str) {
    write_raw(Stream::Out, text);
}

/// Text of several lines on standard output, each sanitized, written as it
/// is otherwise (no line break added).
pub(crate) fn print_text(text: &str) {
    write_raw(Stream::Out, &sanitize_lines(text));
}

/// `println!` for the command line: every line of the text sanitized, a
/// closed pipe handled ([`say_line`]).
macro_rules! say {
    () => {
        $crate::output::say_line("")
    };
    ($($arg:tt)*) => {
        $crate::output::say_line(&format!($($arg)*))
    };
}
pub(crate) use say;

/// `eprintln!` for the command line: every line sanitized, a write that
/// fails ignored ([`say_err_line`]).
macro_rules! say_err {
    () => {
        $crate::output::say_err_line("")
    };
    ($($arg:tt)*) => {
        $crate::output::say_err_line(&format!($($arg)*))
    };
}
pub(crate) use say_err;

/// Colour only on a terminal and when NO_COLOR is not set.
pub(crate) fn style_for_stdout() -> Style {
    Style {
        color: std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    }
}

pub(crate) fn print_problem(p: &Problem, json: bool) {
    if json {
        json_line(&JsonEvent::Error {
            exit: p.exit.code(),
            error: p,
        });
    } else {
        // Problems quote file content and paths: every line is sanitized.
        say_err!("error: {p}");
    }
}

/// One JSON object per line on stdout.
pub(crate) struct JsonSink;

impl EventSink for JsonSink {
    fn emit(&self, event: Event) {
        json_line(&JsonEvent::Engine(&event));
    }
}

/// One JSON object on its own line on stdout. Every string in it (keys too)
/// is sanitized first, so C1 controls, DEL and bidi overrides from files, logs
/// or the network arrive escaped as on the terminal (serde_json itself escapes
/// only C0).
pub(crate) fn json_line(value: &JsonEvent<'_>) {
    let Ok(text) = serde_json::to_string(value) else {
        return;
    };
    let mut text = sanitize_json_text(&text).into_owned();
    text.push('\n');
    write_raw(Stream::Out, &text);
}

/// Step lines on stderr, with a progress bar for long work on a terminal.
pub(crate) struct HumanSink {
    /// The bar of the folder being moved, and the phase it shows.
    bar: Mutex<Option<(ProgressBar, Phase)>>,
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
            if let Some((b, _)) = bar.take() {
                b.finish_and_clear();
            }
        }
    }

    /// The folder's bar, honest per phase: bytes copied (with rate and time
    /// left, and where the whole step stands), then the flush, then the
    /// source files deleted.
    fn show_progress(&self, event: &Event) {
        let Event::StepProgress { progress: p, .. } = *event else {
            return;
        };
        if !self.tty || p.files_total < 50 {
            return;
        }
        let Ok(mut slot) = self.bar.lock() else {
            return;
        };
        let template = match p.phase {
            Phase::Copy => {
                "        {bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta} {msg}"
            }
            Phase::Flush => "        {bar:30} {msg}",
            Phase::Delete => "        {bar:30} {pos}/{len} source files deleted {msg}",
        };
        if slot.as_ref().is_none_or(|(_, shown)| *shown != p.phase) {
            let bar = slot
                .take()
                .map(|(b, _)| b)
                .unwrap_or_else(|| ProgressBar::new(1));
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style);
            }
            *slot = Some((bar, p.phase));
        }
        let Some((bar, _)) = slot.as_ref() else {
            return;
        };
        let folder = if p.folders > 1 {
            format!(" · folder {}/{}", p.folder, p.folders)
        } else {
            String::new()
        };
        match p.phase {
            Phase::Copy => {
                bar.set_length(p.bytes_total.max(1));
                bar.set_position(p.bytes_done);
                let step = if p.step_bytes_total > 0 {
                    format!(
                        ", step {:.0}%",
                        p.step_bytes_done as f64 * 100.0 / p.step_bytes_total as f64
                    )
                } else {
                    String::new()
                };
                bar.set_message(format!(
                    "{}/{} files copied and verified{folder}{step}",
                    p.files_done, p.files_total
                ));
            }
            Phase::Flush => {
                bar.set_length(1);
                bar.set_position(1);
                bar.set_message(format!(
                    "flushing {} copied files to disk{folder}",
                    p.files_done
                ));
            }
            Phase::Delete => {
                bar.set_length(p.files_total.max(1));
                bar.set_position(p.files_removed);
                bar.set_message(format!("(each copy verified){folder}"));
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
            } => say_err!("[{number:>2}/11] {step}: {title}"),
            Event::ActionStarted { description, .. } => {
                say_err!("        {}", sanitize(&description))
            }
            Event::StepProgress { .. } => self.show_progress(&event),
            Event::ActionDone { .. } => self.finish_bar(),
            Event::StepDone { step, outcome } => {
                self.finish_bar();
                let text = outcome.label();
                if matches!(
                    outcome,
                    Outcome::Changed | Outcome::Checked | Outcome::Undone
                ) {
                    say_err!("        {text}");
                } else {
                    say_err!("[{:>2}/11] {step}: {text}", step.number());
                }
            }
            Event::StepWaiting { step, reason } => {
                say_err!(
                    "[{:>2}/11] {step}: waiting: {}",
                    step.number(),
                    sanitize(&reason)
                )
            }
            Event::StepFailed { .. } => {
                self.finish_bar();
                say_err!("        FAILED");
            }
            Event::Note { text, .. } => say_err!("        note: {}", sanitize(&text)),
        }
    }
}

/// Ask once; without a terminal, refuse and say how to proceed.
pub fn confirm(question: &str) -> Result<bool, Problem> {
    if !std::io::stdin().is_terminal() {
        return Err(Problem::usage("there is no terminal to ask for confirmation, so nothing was changed")
            .fix("rerun with --yes to go ahead without asking, or with --dry-run to only see the changes"));
    }
    write_raw(Stream::Err, &format!("{} [y/N] ", sanitize(question)));
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| Problem::other(format!("could not read the answer: {e}")))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes" | "YES"))
}

/// The end of an apply, for people.
pub(crate) fn print_summary(summary: &crate::engine::Summary, undo_hint: &str) {
    // File names come from the disk: a line break in one is escaped too.
    if let Some(j) = &summary.journal {
        say!("Journal: {}", safe_path(j));
    }
    if let Some(b) = &summary.backups {
        say!("Backups: {}", safe_path(b));
    }
    for k in &summary.kept {
        say!(
            "Kept (changed after mdcluster wrote it, not ours to delete): {}",
            safe_path(k)
        );
    }
    let mut notes: Vec<&String> = summary.notes.iter().collect();
    notes.dedup();
    for n in notes {
        say!("Next: {}", sanitize(n));
    }
    for l in &summary.left_out {
        if l.step == l.waits_for {
            say!(
                "Left out: step {} ({}): its check failed; correct it and rerun to apply it.",
                l.step.number(),
                l.step
            );
        } else {
            say!(
                "Left out: step {} ({}): it waits for step {} ({}); it follows in the rerun once that is corrected.",
                l.step.number(),
                l.step,
                l.waits_for.number(),
                l.waits_for
            );
        }
    }
    if !undo_hint.is_empty() {
        say!("To reverse: {undo_hint}");
    }
}

pub(crate) fn print_sizes_line(files: u64, bytes: u64) -> String {
    format!("{files} files, {}", size(bytes))
}

pub(crate) fn declined() -> Problem {
    Problem::new(Exit::Other, "cancelled; nothing was changed")
}
