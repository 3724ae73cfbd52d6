//! The wizard's screens, one module each: what its keys do (from its
//! table in [`super::keys`]) and, where it has its own, how it is drawn.
//! The model and the messages live in [`super::app`]; the frame around the
//! screens in [`super::view`].

pub(crate) mod confirm;
pub(crate) mod health;
pub(crate) mod join;
pub(crate) mod nodes;
pub(crate) mod resume;
pub(crate) mod run;
pub(crate) mod save;
pub(crate) mod steps;

use super::app::{App, Cmd, Confirm, Focus, Screen};
use super::keys::{self, Action, Mode, Pressed};
use crate::steps::StepId;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

impl App {
    /// Where the keys go now.
    pub fn mode(&self) -> Mode {
        match (&self.screen, self.focus) {
            (Screen::Resume, _) => Mode::Resume,
            (Screen::Join, _) if self.join.running => Mode::Joining,
            (Screen::Join, _) => Mode::Join,
            (Screen::Confirm(_), _) => Mode::Confirm,
            (Screen::SavePlan, _) => Mode::SavePlan,
            (Screen::Running, _) => Mode::Running,
            (Screen::Summary, _) => Mode::Summary,
            (Screen::Health, _) => Mode::Health,
            (Screen::Steps, Focus::Field(_)) => Mode::Field,
            (Screen::Steps, Focus::Nodes) => Mode::Nodes,
            (Screen::Steps, Focus::ManualHost) => Mode::ManualHost,
            (Screen::Steps, Focus::Steps) if self.selected == StepId::ServerIds => {
                Mode::StepsServerIds
            }
            (Screen::Steps, Focus::Steps) if self.selected == StepId::Discover => {
                Mode::StepsDiscover
            }
            (Screen::Steps, Focus::Steps) => Mode::Steps,
        }
    }

    /// The key-help line of the mode the keys go to.
    pub(crate) fn key_help(&self) -> String {
        keys::keymap(self.mode()).help()
    }

    /// A key: Ctrl-C asks to quit everywhere; otherwise the mode's table
    /// says what it does.
    pub(super) fn key(&mut self, key: KeyEvent) -> Vec<Cmd> {
        if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
            return self.ask_quit();
        }
        let mode = self.mode();
        match keys::keymap(mode).pressed(&key) {
            Pressed::Action(action) => self.act(mode, action),
            Pressed::Typed(c) => {
                self.type_char(mode, c);
                Vec::new()
            }
            Pressed::Nothing => Vec::new(),
        }
    }

    fn act(&mut self, mode: Mode, action: Action) -> Vec<Cmd> {
        match mode {
            Mode::Steps | Mode::StepsDiscover | Mode::StepsServerIds => self.steps_act(action),
            Mode::Field => self.field_act(action),
            Mode::Nodes => self.nodes_act(action),
            Mode::ManualHost => self.manual_act(action),
            Mode::Join | Mode::Joining => self.join_act(action),
            Mode::Resume => self.resume_act(action),
            Mode::Confirm => self.confirm_act(action),
            Mode::SavePlan => self.save_act(action),
            Mode::Running | Mode::Summary => self.run_act(action),
            Mode::Health => self.health_act(action),
        }
    }

    fn type_char(&mut self, mode: Mode, c: char) {
        match mode {
            Mode::Field => self.field_type(c),
            Mode::ManualHost => self.manual_type(c),
            Mode::Join => self.join_type(c),
            Mode::SavePlan => self.save_type(c),
            _ => {}
        }
    }

    /// Quit; while a run is under way, ask first.
    pub(super) fn ask_quit(&mut self) -> Vec<Cmd> {
        if self.screen == Screen::Running {
            self.previous = Screen::Running;
            self.screen = Screen::Confirm(Confirm::QuitWhileRunning);
        } else if !matches!(self.screen, Screen::Confirm(Confirm::QuitWhileRunning)) {
            self.quit = true;
        }
        Vec::new()
    }

    /// Move through the steps, and scroll the selected step's page.
    pub(super) fn browse(&mut self, action: Action) {
        let i = self.selected.number() - 1;
        match action {
            Action::Up if i > 0 => {
                self.selected = StepId::ALL[i - 1];
                self.scroll = 0;
            }
            Action::Down if i + 1 < StepId::ALL.len() => {
                self.selected = StepId::ALL[i + 1];
                self.scroll = 0;
            }
            Action::PageDown | Action::PageUp => self.scroll_page(action),
            Action::Home => self.scroll = 0,
            // Past the end: the next frame stops it at the last row.
            Action::End => self.scroll = u16::MAX,
            _ => {}
        }
    }

    /// A page up or down from where the page stopped: the rows it showed,
    /// less two kept in view.
    pub(super) fn scroll_page(&mut self, action: Action) {
        let by = self.page.rows.saturating_sub(2).max(1);
        let from = self.shown_scroll();
        self.scroll = match action {
            Action::PageDown => from.saturating_add(by),
            _ => from.saturating_sub(by),
        };
    }
}
