//! Applying or undoing, and the summary after it.

use crate::wizard::app::{App, Cmd, Focus, Screen};
use crate::wizard::keys::Action;
use crate::wizard::page::Page;
use crate::wizard::view::{heading, safe, Drawn, Theme};
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders};
use ratatui::Frame;

impl App {
    pub(super) fn run_act(&mut self, action: Action) -> Vec<Cmd> {
        match action {
            Action::AskQuit => self.ask_quit(),
            Action::Quit => {
                self.quit = true;
                Vec::new()
            }
            // Back to the steps: register the new nodes, add another one.
            Action::Back => {
                self.screen = Screen::Steps;
                self.focus = Focus::Steps;
                self.scroll = 0;
                Vec::new()
            }
            Action::Save => self.open_save(),
            Action::Health => self.open_health(Screen::Summary),
            other => {
                self.browse(other);
                Vec::new()
            }
        }
    }
}

pub(crate) fn render_summary(f: &mut Frame, area: Rect, app: &App, t: &Theme, drawn: &mut Drawn) {
    let mut lines: Vec<Line> = Vec::new();
    match &app.finished {
        Some(fin) => match &fin.result {
            Ok(s) => {
                let verb = if fin.undo { "Undone" } else { "Applied" };
                let steps: Vec<String> = s.changed.iter().map(|x| x.to_string()).collect();
                lines.push(Line::from(Span::styled(
                    format!(
                        "{verb}: {} step(s) changed ({})",
                        steps.len(),
                        steps.join(", ")
                    ),
                    t.fg(Color::Green).add_modifier(Modifier::BOLD),
                )));
                if let Some(j) = &s.journal {
                    lines.push(Line::from(format!(
                        "Journal: {}",
                        safe(&j.display().to_string())
                    )));
                }
                if let Some(b) = &s.backups {
                    lines.push(Line::from(format!(
                        "Backups: {}",
                        safe(&b.display().to_string())
                    )));
                }
                for k in &s.kept {
                    lines.push(Line::from(format!(
                        "Kept (changed after mdcluster wrote it): {}",
                        safe(&k.display().to_string())
                    )));
                }
                lines.push(Line::default());
                lines.push(heading("What to do next", t));
                for n in app.next_steps(&s.notes) {
                    lines.push(Line::from(format!(" - {}", safe(&n))));
                }
                if fin.undo {
                    lines.push(Line::from(
                        " - if MDaemon was restarted with the new folders, restart it again",
                    ));
                } else {
                    lines.push(Line::from(" - to reverse everything: run the wizard again and press u, or `mdcluster undo --plan <plan>`"));
                }
            }
            Err(p) => {
                lines.push(Line::from(Span::styled(
                    "Stopped: a step failed",
                    t.fg(Color::Red).add_modifier(Modifier::BOLD),
                )));
                for l in p.to_string().lines() {
                    lines.push(Line::from(Span::styled(safe(l), t.fg(Color::Red))));
                }
                lines.push(Line::default());
                lines.push(Line::from("Nothing is lost: the journal records what was done. Fix the cause, then run the"));
                lines.push(Line::from(
                    "wizard again to resume (or press u there to undo).",
                ));
            }
        },
        None => lines.push(Line::from("")),
    }
    lines.push(Line::default());
    match &app.saved {
        Some(p) => lines.push(Line::from(format!(
            "Plan saved: {} (replay with `mdcluster apply --plan`)",
            safe(&p.display().to_string())
        ))),
        None => lines.push(Line::from(Span::styled(
            "Press s to save the answers as a plan file for headless runs.",
            t.dim(),
        ))),
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(" Summary ", t.bold()));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let mut page = Page::default();
    *page.lines() = lines;
    drawn.page = Some(page.render(inner, f.buffer_mut(), app.scroll));
}
