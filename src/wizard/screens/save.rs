//! Saving the plan the answers make, for `mdcluster apply --plan`.

use crate::wizard::answers::question;
use crate::wizard::app::{App, Cmd, Screen};
use crate::wizard::keys::Action;
use crate::wizard::view::{centred, safe, Theme};
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;
use std::path::PathBuf;

impl App {
    pub(super) fn open_save(&mut self) -> Vec<Cmd> {
        if let Some((f, e)) = self.first_invalid() {
            self.event(format!(
                "cannot save a plan yet: {}: {e}",
                question(f).label
            ));
            return Vec::new();
        }
        self.previous = self.screen.clone();
        self.screen = Screen::SavePlan;
        self.save_error = None;
        Vec::new()
    }

    pub(super) fn save_act(&mut self, action: Action) -> Vec<Cmd> {
        match action {
            Action::Back => {
                self.screen = self.previous.clone();
                Vec::new()
            }
            Action::SaveNow => {
                let path = PathBuf::from(self.save_path.trim());
                if !path.is_absolute() {
                    self.save_error = Some("give an absolute path".into());
                    return Vec::new();
                }
                // An existing file is refused by the command (never replaced).
                vec![Cmd::SavePlan {
                    path,
                    text: self.answers.plan_text(),
                }]
            }
            Action::Erase => {
                self.save_path.pop();
                Vec::new()
            }
            Action::Clear => {
                self.save_path.clear();
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    pub(super) fn save_type(&mut self, c: char) {
        self.save_path.push(c);
    }
}

pub(crate) fn render_save(f: &mut Frame, area: Rect, app: &App, t: &Theme) {
    let mut lines = vec![
        Line::from("Save the answers as a plan file; `mdcluster apply --plan FILE` replays them."),
        Line::default(),
        Line::from(vec![
            Span::raw(" File: "),
            Span::styled(format!("{}█", safe(&app.save_path)), t.bold()),
        ]),
    ];
    if let Some(e) = &app.save_error {
        lines.push(Line::from(Span::styled(
            format!(" ✗ {}", safe(e)),
            t.fg(Color::Red),
        )));
    }
    let r = centred(area, 76, 8);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines)
            .block(Block::default().borders(Borders::ALL).title(" Save plan "))
            .wrap(Wrap { trim: false }),
        r,
    );
}
