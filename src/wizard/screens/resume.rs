//! An earlier run stopped part-way: resume it, undo it, or quit.

use crate::wizard::app::{App, Cmd, Focus, Screen};
use crate::wizard::keys::Action;
use crate::wizard::view::{safe, Theme};
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;

impl App {
    pub(super) fn resume_act(&mut self, action: Action) -> Vec<Cmd> {
        match action {
            Action::Resume => {
                self.screen = Screen::Steps;
                self.focus = Focus::Steps;
                self.event("resume: the preview shows what is left; press a to finish");
                self.refresh_preview()
            }
            Action::Undo => self.open_undo(Screen::Resume),
            Action::Quit => {
                self.quit = true;
                Vec::new()
            }
            _ => Vec::new(),
        }
    }
}

pub(crate) fn render_resume(f: &mut Frame, area: Rect, app: &App, t: &Theme) {
    let note = app.resume_note.clone().unwrap_or_default();
    let lines = vec![
        Line::from(Span::styled(
            "An interrupted run",
            t.fg(Color::Yellow).add_modifier(Modifier::BOLD),
        )),
        Line::default(),
        Line::from(safe(&note)),
        Line::default(),
        Line::from(vec![
            Span::styled(" r ", t.bold()),
            Span::raw("resume: finish what was started (the preview shows what is left)"),
        ]),
        Line::from(vec![
            Span::styled(" u ", t.bold()),
            Span::raw("undo: reverse what it did, newest first"),
        ]),
        Line::from(vec![
            Span::styled(" q ", t.bold()),
            Span::raw("quit: change nothing now"),
        ]),
    ];
    let block = Block::default().borders(Borders::ALL).title(" Resume ");
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}
