//! The health screen (`h`): `mdcluster health`'s rounds for the wizard's
//! plan, one every [`HEALTH_INTERVAL`], as a table of checks with the
//! summary above it. Reachable from the steps and after a run; the rounds
//! stop when the screen is left.

use crate::health::{Round, State};
use crate::wizard::app::{App, Cmd, Focus, Screen, HEALTH_INTERVAL};
use crate::wizard::keys::Action;
use crate::wizard::page::Page;
use crate::wizard::view::{heading, safe, Drawn, Theme};
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Padding, Row, Table};
use ratatui::Frame;

impl App {
    /// Open the health screen from `from`: rounds start for the plan as
    /// answered.
    pub(in crate::wizard) fn open_health(&mut self, from: Screen) -> Vec<Cmd> {
        let generation = self.health.generation + 1;
        self.health = Default::default();
        self.health.generation = generation;
        self.previous = from;
        self.screen = Screen::Health;
        self.scroll = 0;
        match self.answers.plan(&self.profile, &self.plan_file) {
            Ok(plan) => vec![Cmd::WatchHealth {
                generation,
                plan: Box::new(plan),
            }],
            Err(errors) => {
                let p = crate::plan::plan_problem(&self.plan_file, &errors);
                self.health.error = Some(format!("{} ({})", p.what, "answer the steps first"));
                Vec::new()
            }
        }
    }

    pub(super) fn health_act(&mut self, action: Action) -> Vec<Cmd> {
        match action {
            Action::Back => {
                self.screen = self.previous.clone();
                if self.screen == Screen::Steps {
                    self.focus = Focus::Steps;
                }
                self.scroll = 0;
                // Answers to the rounds still under way are dropped.
                self.health.generation += 1;
                vec![Cmd::StopHealth]
            }
            Action::Quit => {
                self.quit = true;
                vec![Cmd::StopHealth]
            }
            other => {
                self.browse(other);
                Vec::new()
            }
        }
    }

    /// A round arrived (or why none could run).
    pub(in crate::wizard) fn health_round(&mut self, round: Result<(Round, Vec<String>), String>) {
        match round {
            Ok((round, notes)) => {
                let before = self.health.round.as_ref().map(|r| r.state);
                if before != Some(round.state) {
                    let was = before
                        .map(|b| format!(" (was {})", b.word()))
                        .unwrap_or_default();
                    self.event(format!("cluster health: {}{was}", round.state.word()));
                }
                self.health.round = Some(round);
                self.health.notes = notes;
                self.health.error = None;
                self.health.rounds += 1;
                self.health.at = Some(self.now);
            }
            Err(why) => self.health.error = Some(why),
        }
    }
}

fn state_style(s: State, t: &Theme) -> Style {
    match s {
        State::Ok => t.fg(Color::Green),
        State::Warning | State::Unknown => t.fg(Color::Yellow),
        State::Critical => t.fg(Color::Red).add_modifier(Modifier::BOLD),
    }
}

pub(crate) fn render_health(f: &mut Frame, area: Rect, app: &App, t: &Theme, drawn: &mut Drawn) {
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" Cluster health ");
    let inner = block.inner(area);
    f.render_widget(block, area);
    let mut page = Page::default();
    let h = &app.health;
    if let Some(e) = &h.error {
        page.push(Line::from(Span::styled(
            format!(" {}", safe(e)),
            t.fg(Color::Red),
        )));
    }
    let Some(round) = &h.round else {
        if h.error.is_none() {
            page.push(Span::styled(
                " Checking every node's services, the share, the cluster log and clocks…",
                t.dim(),
            ));
        }
        drawn.page = Some(page.render(inner, f.buffer_mut(), app.scroll));
        return;
    };
    page.push(summary(round, h.rounds, t));
    page.push(Line::from(Span::styled(
        format!(
            " Round {} took {} ms; the next starts every {} s while this screen is open \
             (`mdcluster health --plan <plan>` for monitoring).",
            h.rounds,
            round.elapsed_ms,
            HEALTH_INTERVAL.as_secs()
        ),
        t.dim(),
    )));
    page.push(Line::default());
    let (table, height) = checks_table(round, t);
    page.table(table, height);
    if !h.notes.is_empty() {
        page.push(Line::default());
        page.push(heading("Not checked", t));
        for n in &h.notes {
            page.push(Line::from(format!(" - {}", safe(n))));
        }
    }
    drawn.page = Some(page.render(inner, f.buffer_mut(), app.scroll));
}

fn summary(round: &Round, _rounds: u64, t: &Theme) -> Line<'static> {
    let count = |s: State| round.checks.iter().filter(|c| c.state == s).count();
    let mut parts = vec![format!("{} checks", round.checks.len())];
    for s in [State::Critical, State::Warning, State::Unknown] {
        let n = count(s);
        if n > 0 {
            parts.push(format!("{n} {}", s.word().to_lowercase()));
        }
    }
    Line::from(vec![
        Span::raw(" "),
        Span::styled(round.state.word(), state_style(round.state, t)),
        Span::raw(format!(": {}", parts.join(", "))),
    ])
}

fn checks_table<'a>(round: &Round, t: &Theme) -> (Table<'a>, u16) {
    let rows: Vec<Row> = round
        .checks
        .iter()
        .map(|c| {
            let measure = c.measure();
            Row::new(vec![
                Cell::from(safe(c.node.as_deref().unwrap_or("-"))),
                Cell::from(safe(&c.check)),
                Cell::from(Span::styled(c.state.word(), state_style(c.state, t))),
                Cell::from(measure),
                Cell::from(safe(&c.detail)),
            ])
        })
        .collect();
    let header = Row::new(["NODE", "CHECK", "STATE", "TIME", "WHAT"]).style(t.dim());
    // Names as wide as the longest (at most 15, NetBIOS's limit), so the
    // text keeps the room.
    let node_width = round
        .checks
        .iter()
        .filter_map(|c| c.node.as_ref())
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(1)
        .clamp(4, 15);
    let widths = [
        Constraint::Length(u16::try_from(node_width).unwrap_or(15)),
        Constraint::Length(11),
        Constraint::Length(8),
        Constraint::Length(9),
        Constraint::Min(10),
    ];
    let height = u16::try_from(round.checks.len() + 1).unwrap_or(u16::MAX);
    (
        Table::new(rows, widths)
            .header(header)
            .block(Block::default().padding(Padding::left(1))),
        height,
    )
}
