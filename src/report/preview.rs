//! The preview of a run as text: every step, its facts and checks, and every
//! change it would make, with a unified diff of MDaemon.ini.

use super::{sanitize, unified_diff, DiffLine};
use crate::engine::Preview;
use crate::install::decode;
use crate::steps::{Action, StepPlan, StepState};

/// ANSI styling, or none (NO_COLOR, not a terminal).
#[derive(Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    pub fn bold(&self, t: &str) -> String {
        self.paint("1", t)
    }
    pub fn red(&self, t: &str) -> String {
        self.paint("31", t)
    }
    pub fn green(&self, t: &str) -> String {
        self.paint("32", t)
    }
    pub fn yellow(&self, t: &str) -> String {
        self.paint("33", t)
    }
    pub fn cyan(&self, t: &str) -> String {
        self.paint("36", t)
    }
    pub fn dim(&self, t: &str) -> String {
        self.paint("2", t)
    }
}

pub fn state_label(state: StepState) -> &'static str {
    match state {
        StepState::Done => "done",
        StepState::Resume => "resume",
        StepState::Ready => "ready",
        StepState::NothingToDo => "nothing to do",
        StepState::Unavailable => "not yet available",
    }
}

/// The diff lines of an INI edit against the bytes read at preview time.
pub fn ini_edit_diff(action: &Action, preview: &Preview) -> Option<Vec<DiffLine>> {
    let Action::EditIni { file, edits, .. } = action else {
        return None;
    };
    let (loc, bytes) = preview.ini.as_ref()?;
    if loc != file {
        return None;
    }
    let after = crate::steps::directories::apply_edits(bytes, edits).ok()?;
    let doc = crate::ini::IniDoc::parse(bytes.clone());
    Some(unified_diff(
        &file.win.to_string(),
        &decode(&doc, bytes),
        &decode(&doc, &after),
    ))
}

pub fn render(preview: &Preview, style: Style) -> String {
    let mut out = String::new();
    for sp in &preview.steps {
        render_step(&mut out, sp, preview, style);
    }
    out
}

fn render_step(out: &mut String, sp: &StepPlan, preview: &Preview, s: Style) {
    let step = sp.step;
    let label = state_label(sp.state);
    let label = match sp.state {
        StepState::Ready | StepState::Resume => s.yellow(label),
        StepState::Done | StepState::NothingToDo => s.green(label),
        StepState::Unavailable => s.dim(label),
    };
    out.push_str(&format!(
        "{:>2}. {} {}  {}\n",
        step.number(),
        s.bold(&format!("{:<14}", step.id())),
        step.title(),
        label
    ));
    for (k, v) in &sp.facts {
        out.push_str(&format!("      {}: {}\n", k, sanitize(v)));
    }
    for c in &sp.checks {
        let mark = if c.ok { s.green("ok  ") } else { s.red("FAIL") };
        out.push_str(&format!(
            "      {mark} {}: {}\n",
            c.name,
            sanitize(&c.detail)
        ));
        if let Some(fix) = c.fix.as_ref().filter(|_| !c.ok) {
            out.push_str(&format!("           what to do: {fix}\n"));
        }
    }
    for (_, action) in &sp.actions {
        out.push_str(&format!(
            "      {} {}\n",
            s.cyan("->"),
            sanitize(&action.describe())
        ));
        if let Some(lines) = ini_edit_diff(action, preview) {
            for l in lines {
                let text = l.text();
                let painted = match l {
                    DiffLine::Removed(_) => s.red(&text),
                    DiffLine::Added(_) => s.green(&text),
                    DiffLine::Hunk(_) => s.cyan(&text),
                    DiffLine::Header(_) => s.bold(&text),
                    DiffLine::Context(_) => text,
                };
                out.push_str(&format!("         {painted}\n"));
            }
        }
    }
    for n in &sp.notes {
        out.push_str(&format!(
            "      {}\n",
            s.dim(&format!("note: {}", sanitize(n)))
        ));
    }
}
