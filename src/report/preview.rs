//! The preview of a run as text: every step, its facts and checks, and every
//! change it would make, with a unified diff of MDaemon.ini.

use super::{sanitize, unified_diff, DiffLine};
use crate::engine::Preview;
use crate::install::decode;
use crate::steps::{Action, StepPlan, StepStatus};

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
    pub(crate) fn bold(&self, t: &str) -> String {
        self.paint("1", t)
    }
    pub(crate) fn red(&self, t: &str) -> String {
        self.paint("31", t)
    }
    pub(crate) fn green(&self, t: &str) -> String {
        self.paint("32", t)
    }
    pub(crate) fn yellow(&self, t: &str) -> String {
        self.paint("33", t)
    }
    pub(crate) fn cyan(&self, t: &str) -> String {
        self.paint("36", t)
    }
    pub(crate) fn dim(&self, t: &str) -> String {
        self.paint("2", t)
    }
}

/// The diff of a file edit (MDaemon.ini, Userlist.dat) against the bytes
/// read at preview time.
pub(crate) fn edit_diff(
    action: &Action,
    preview: &Preview,
    profile: &crate::profile::Profile,
) -> Option<Vec<DiffLine>> {
    let file = match action {
        Action::EditIni { file, .. } | Action::EditUserlist { file, .. } => file,
        Action::WriteFiles { dir, files, .. } => return Some(files_diff(dir, files, preview)),
        _ => return None,
    };
    let (_, bytes) = preview.files.iter().find(|(loc, _)| loc == file)?;
    match action {
        Action::EditIni { edits, .. } => {
            let after = crate::ini::apply_edits(bytes, edits).ok()?;
            let doc = crate::ini::IniDoc::parse(bytes.clone());
            Some(unified_diff(
                &file.win.to_string(),
                &decode(&doc, bytes),
                &decode(&doc, &after),
            ))
        }
        // Only the account and its mail folder: the rest of a Userlist.dat
        // line holds the password field, which is never shown or logged.
        Action::EditUserlist { edits, .. } => {
            crate::userlist::apply_edits(
                bytes,
                edits,
                crate::userlist::Layout::from_profile(profile),
            )
            .ok()?;
            let mut lines = vec![DiffLine::Header(format!(
                "{} (mail folder per account)",
                file.win
            ))];
            for e in edits {
                lines.push(DiffLine::Removed(
                    sanitize(&format!("{}  {}", e.account, e.old.trim_end())).into_owned(),
                ));
                lines.push(DiffLine::Added(
                    sanitize(&format!("{}  {}", e.account, e.new)).into_owned(),
                ));
            }
            Some(lines)
        }
        _ => None,
    }
}

/// The diff of each file an [`Action::WriteFiles`] writes, against the file
/// as read for the preview (a new file: against nothing).
fn files_diff(
    dir: &std::path::Path,
    files: &[crate::steps::FileWrite],
    preview: &Preview,
) -> Vec<DiffLine> {
    let mut lines = Vec::new();
    for f in files {
        let path = dir.join(&f.path);
        let shown = path.display().to_string();
        let before = preview
            .local_files
            .iter()
            .find(|(p, _)| *p == path)
            .filter(|(_, b)| Some(crate::install::content_hash(b)) == f.before_hash)
            .map(|(_, b)| String::from_utf8_lossy(b).into_owned());
        match (&f.before_hash, before) {
            (None, _) => {
                let mut diff = unified_diff(&shown, "", &f.after);
                if let Some(first) = diff.first_mut() {
                    *first = DiffLine::Header(format!("--- {shown} (new file: nothing there yet)"));
                }
                lines.extend(diff);
            }
            (Some(_), Some(before)) => lines.extend(unified_diff(&shown, &before, &f.after)),
            (Some(_), None) => {
                lines.push(DiffLine::Header(format!(
                    "{shown}: no diff, the file no longer holds what the preview was made from (written by an interrupted run, or changed since: then the change is refused as stale)"
                )));
            }
        }
    }
    lines
}

/// Longest diff the text preview prints per edit; the JSON output and the
/// wizard show all of it.
pub(crate) const DIFF_LINES_SHOWN: usize = 60;

pub fn render(preview: &Preview, style: Style, profile: &crate::profile::Profile) -> String {
    let mut out = String::new();
    for sp in &preview.steps {
        render_step(&mut out, sp, preview, style, profile);
    }
    out
}

fn render_step(
    out: &mut String,
    sp: &StepPlan,
    preview: &Preview,
    s: Style,
    profile: &crate::profile::Profile,
) {
    let step = sp.step;
    let label = sp.state.label();
    let label = match sp.state {
        StepStatus::Ready | StepStatus::Interrupted => s.yellow(label),
        StepStatus::Done | StepStatus::NothingToDo | StepStatus::Undone => s.green(label),
        StepStatus::Waiting | StepStatus::Running | StepStatus::NeedsInput => s.cyan(label),
        StepStatus::Pending => label.to_string(),
        StepStatus::Failed | StepStatus::UndoInterrupted => s.red(label),
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
    for (i, action) in &sp.actions {
        out.push_str(&format!(
            "      {} {}\n",
            s.cyan("->"),
            sanitize(&preview.describe(sp.step, *i, action))
        ));
        if let Some(lines) = edit_diff(action, preview, profile) {
            let total = lines.len();
            for l in lines.into_iter().take(DIFF_LINES_SHOWN) {
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
            if total > DIFF_LINES_SHOWN {
                out.push_str(&format!(
                    "         {}\n",
                    s.dim(&format!(
                        "... {} more diff lines (`--json` lists every change)",
                        total - DIFF_LINES_SHOWN
                    ))
                ));
            }
        }
    }
    for w in &sp.warnings {
        out.push_str(&format!(
            "      {}\n",
            s.yellow(&format!("warning: {}", sanitize(w)))
        ));
    }
    for n in &sp.notes {
        out.push_str(&format!(
            "      {}\n",
            s.dim(&format!("note: {}", sanitize(n)))
        ));
    }
    for n in &sp.next {
        out.push_str(&format!("      afterwards: {}\n", sanitize(n)));
    }
}
