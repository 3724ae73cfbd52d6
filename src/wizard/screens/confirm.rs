//! A yes/no question: apply, undo, registered in MDaemon, quit while running.

use crate::wizard::app::{App, Cmd, Confirm, Focus, Screen};
use crate::wizard::keys::Action;
use crate::wizard::view::{centred, safe, Theme};
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

impl App {
    pub(super) fn confirm_act(&mut self, action: Action) -> Vec<Cmd> {
        let Screen::Confirm(kind) = self.screen.clone() else {
            return Vec::new();
        };
        match action {
            Action::Yes => self.confirmed(kind),
            Action::UndoLatest if kind == Confirm::Undo => match self.undo_latest.clone() {
                Some((run, _)) => self.start_undo(Some(run)),
                None => Vec::new(),
            },
            Action::No => {
                self.screen = self.previous.clone();
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn confirmed(&mut self, kind: Confirm) -> Vec<Cmd> {
        match kind {
            Confirm::QuitWhileRunning => {
                self.quit = true;
                Vec::new()
            }
            Confirm::Registered => {
                self.screen = Screen::Steps;
                let names: Vec<String> = self
                    .awaiting_registration()
                    .into_iter()
                    .map(|(n, _)| n)
                    .collect();
                match self.answers.plan(&self.profile, &self.plan_file) {
                    Ok(plan) if !names.is_empty() => vec![Cmd::Register {
                        plan: Box::new(plan),
                        names,
                    }],
                    _ => Vec::new(),
                }
            }
            // What is applied is what was asked about.
            Confirm::Apply if self.apply_asked != self.preview_generation() => {
                self.apply_asked = self.preview_generation();
                self.event("the preview changed while you were asked: read the question again, then confirm");
                Vec::new()
            }
            Confirm::Apply => {
                let Some(preview) = self.preview().cloned() else {
                    self.screen = Screen::Steps;
                    return Vec::new();
                };
                self.screen = Screen::Running;
                self.focus = Focus::Steps;
                self.finished = None;
                self.event("applying; the journal records every change");
                vec![Cmd::Apply {
                    plan_text: self.answers.plan_text(),
                    preview: Box::new(preview),
                }]
            }
            // Asked only once what it reverses is on screen.
            Confirm::Undo if !matches!(self.undo_list, Some(Ok(_))) => {
                self.event("undo waits until the list of what it reverses has been read");
                Vec::new()
            }
            Confirm::Undo => self.start_undo(None),
        }
    }

    /// Undo everything (or finish an undo of the latest run), or (`latest`)
    /// that run alone.
    fn start_undo(&mut self, latest: Option<String>) -> Vec<Cmd> {
        match self.answers.plan(&self.profile, &self.plan_file) {
            Ok(plan) => {
                self.screen = Screen::Running;
                self.focus = Focus::Steps;
                self.finished = None;
                self.undoing_latest = latest.is_some() || self.finishing_latest;
                self.event(if self.undoing_latest {
                    "undoing the latest run, newest change first; the runs before it stay"
                } else {
                    "undoing, newest change first"
                });
                vec![Cmd::Undo {
                    plan: Box::new(plan),
                    latest,
                }]
            }
            Err(errors) => {
                self.event(crate::plan::plan_problem(&self.plan_file, &errors).what);
                self.screen = self.previous.clone();
                Vec::new()
            }
        }
    }
}

pub(crate) fn render_confirm(f: &mut Frame, area: Rect, app: &App, kind: Confirm, t: &Theme) {
    let mut lines: Vec<Line> = Vec::new();
    let title = match kind {
        Confirm::Apply => {
            let steps: Vec<String> = app
                .preview()
                .map(|p| p.pending().map(|s| s.step.to_string()).collect())
                .unwrap_or_default();
            lines.push(Line::from(format!(
                "Apply the changes of {} step(s)?",
                steps.len()
            )));
            lines.push(Line::from(Span::styled(steps.join(", "), t.bold())));
            let left_out = app.preview().map(|p| p.left_out_text()).unwrap_or_default();
            if !left_out.is_empty() {
                lines.push(Line::from(Span::styled(
                    format!("Left out until corrected: {}", left_out.join(", ")),
                    t.fg(Color::Yellow),
                )));
            }
            lines.push(Line::default());
            lines.push(Line::from(
                "A journal and backups are kept; a rerun resumes and undo reverses.",
            ));
            " Apply "
        }
        Confirm::Undo => {
            undo_lines(&mut lines, app, t, area.height.saturating_sub(12) as usize);
            " Undo "
        }
        Confirm::Registered => {
            let names: Vec<String> = app
                .awaiting_registration()
                .iter()
                .map(|(n, id)| format!("{} (server ID {id})", safe(n)))
                .collect();
            lines.push(Line::from(
                "Are these registered in MDaemon's Cluster Service now?",
            ));
            lines.push(Line::from(Span::styled(names.join(", "), t.bold())));
            lines.push(Line::default());
            lines.push(Line::from("mdcluster records it in the cluster manifest."));
            " Registered "
        }
        Confirm::QuitWhileRunning => {
            lines.push(Line::from("A change is in progress. Quit anyway?"));
            lines.push(Line::default());
            lines.push(Line::from(
                "Nothing is lost: run the wizard again to resume from the journal.",
            ));
            " Quit "
        }
    };
    lines.push(Line::default());
    let mut keys = vec![
        Span::styled(" y ", t.bold().add_modifier(Modifier::REVERSED)),
        Span::raw(" yes    "),
        Span::styled(" n ", t.bold().add_modifier(Modifier::REVERSED)),
        Span::raw(" no"),
    ];
    if let (Confirm::Undo, Some(_)) = (kind, &app.undo_latest) {
        keys.push(Span::raw("    "));
        keys.push(Span::styled(
            " l ",
            t.bold().add_modifier(Modifier::REVERSED),
        ));
        keys.push(Span::raw(" only the latest run"));
    }
    lines.push(Line::from(keys));
    // Tall enough for the wrapped text (70 columns inside the border).
    let rows: usize = lines.iter().map(|l| l.width().div_ceil(70).max(1)).sum();
    let r = centred(area, 72, (rows as u16 + 2).max(9));
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines)
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(Span::styled(title, t.bold())),
            )
            .wrap(Wrap { trim: false }),
        r,
    );
}

/// What an undo reverses, as many lines as fit (`room`), and what is left
/// to do in MDaemon afterwards.
fn undo_lines(lines: &mut Vec<Line<'static>>, app: &App, t: &Theme, room: usize) {
    lines.push(Line::from(if app.finishing_latest {
        "Finish the undo of the latest run that stopped? Newest first, it reverses (the runs before it stay):"
    } else {
        "Undo what mdcluster changed on this installation? Newest first, it reverses:"
    }));
    match &app.undo_list {
        None => lines.push(Line::from(Span::styled("reading the journal...", t.dim()))),
        Some(Err(e)) => lines.push(Line::from(Span::styled(
            safe(e),
            t.fg(ratatui::style::Color::Red),
        ))),
        Some(Ok(list)) if list.is_empty() => {
            lines.push(Line::from("nothing: no change is recorded"))
        }
        Some(Ok(list)) => {
            let shown = room.max(3).min(list.len());
            for l in &list[..shown] {
                lines.push(Line::from(format!("  {}", safe(l))));
            }
            if list.len() > shown {
                lines.push(Line::from(Span::styled(
                    format!(
                        "  ... and {} more (`mdcluster undo --plan <plan>` lists them all)",
                        list.len() - shown
                    ),
                    t.dim(),
                )));
            }
        }
    }
    // The latest run alone (`l`): what that reverses, in full.
    if let Some((_, latest)) = &app.undo_latest {
        lines.push(Line::from(Span::styled(
            "Only the latest run (l) reverses, and the runs before it stay:",
            t.bold(),
        )));
        for l in latest.iter().take(room.max(2)) {
            lines.push(Line::from(format!("  {}", safe(l))));
        }
    }
    lines.push(Line::default());
    lines.push(Line::from(
        "Only what mdcluster did is reversed; files changed since are kept.",
    ));
    lines.push(Line::from(format!(
        "Secondaries taken out of the cluster manifest stay registered in MDaemon until you take them out there ({}).",
        *app.profile.cluster.remove_dialog
    )));
}
