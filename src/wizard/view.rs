//! Drawing the wizard: a pure function of [`App`]. Every text that came from
//! files, logs or the network goes through `sanitize` before it is drawn, and
//! the finished frame is scrubbed of anything `sanitize` would escape.

use super::app::{App, Screen};
use super::page::{wrap_hanging, Extent};
use super::screens;
use crate::steps::StepId;
use crate::steps::StepStatus;
use crate::text::sanitize;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, List, ListItem, ListState, Paragraph};
use ratatui::Frame;

/// Colours, or none (NO_COLOR).
pub(crate) struct Theme {
    pub(crate) color: bool,
}

impl Theme {
    pub(crate) fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }
    pub(crate) fn bold(&self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }
    pub(crate) fn dim(&self) -> Style {
        if self.color {
            Style::default().fg(Color::DarkGray)
        } else {
            Style::default()
        }
    }
    pub(crate) fn state(&self, s: StepStatus) -> Style {
        match s {
            StepStatus::Ready | StepStatus::Interrupted => self.fg(Color::Yellow),
            StepStatus::Running => self.fg(Color::Cyan).add_modifier(Modifier::BOLD),
            StepStatus::Done | StepStatus::NothingToDo | StepStatus::Undone => {
                self.fg(Color::Green)
            }
            StepStatus::Failed | StepStatus::UndoInterrupted => {
                self.fg(Color::Red).add_modifier(Modifier::BOLD)
            }
            StepStatus::NeedsInput | StepStatus::Waiting => self.fg(Color::Magenta),
            StepStatus::Pending => Style::default(),
        }
    }
}

pub(crate) fn symbol(s: StepStatus) -> &'static str {
    match s {
        StepStatus::Pending => "·",
        StepStatus::NeedsInput => "?",
        StepStatus::Waiting => "…",
        StepStatus::Ready | StepStatus::Interrupted => "•",
        StepStatus::Running => "»",
        StepStatus::Done | StepStatus::NothingToDo | StepStatus::Undone => "✓",
        StepStatus::Failed | StepStatus::UndoInterrupted => "✗",
    }
}

pub(crate) fn safe(s: &str) -> String {
    sanitize(s).into_owned()
}

/// What a frame showed that the model needs back ([`App::drawn`]): how far
/// the scrolled page goes, and the first row of the nodes table shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Drawn {
    pub page: Option<Extent>,
    pub nodes_offset: Option<usize>,
}

/// Draw the frame; what it returns goes back to the model ([`App::drawn`]).
pub fn render(f: &mut Frame, app: &App) -> Drawn {
    let mut drawn = Drawn::default();
    let t = Theme { color: app.color };
    let area = f.area();
    let events_height = if area.height >= 34 { 9 } else { 5 };
    let [header, body, events, help] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(6),
        Constraint::Length(events_height),
        Constraint::Length(1),
    ])
    .areas(area);
    let [list, main] =
        Layout::horizontal([Constraint::Length(24), Constraint::Min(20)]).areas(body);

    f.render_widget(Paragraph::new(header_line(app, area, &t)), header);
    render_steps(f, list, app, &t);
    match app.screen {
        Screen::Summary => screens::run::render_summary(f, main, app, &t, &mut drawn),
        Screen::Resume => screens::resume::render_resume(f, main, app, &t),
        Screen::Join => screens::join::render_join(f, main, app, &t),
        Screen::Health => screens::health::render_health(f, main, app, &t, &mut drawn),
        _ => screens::steps::render_step(f, main, app, &t, &mut drawn),
    }
    render_events(f, events, app, &t);
    f.render_widget(Paragraph::new(Span::styled(app.key_help(), t.dim())), help);
    match app.screen {
        Screen::Confirm(kind) => screens::confirm::render_confirm(f, area, app, kind, &t),
        Screen::SavePlan => screens::save::render_save(f, area, app, &t),
        _ => {}
    }
    scrub(f.buffer_mut());
    drawn
}

/// The last line of defence: whatever text a widget above was given, no
/// character that [`sanitize`] would escape reaches the terminal (ratatui
/// drops control characters itself, but not bidi overrides and marks).
/// Texts from files, logs and the network are sanitized where they are
/// drawn, so this changes nothing on a normal screen.
fn scrub(buf: &mut ratatui::buffer::Buffer) {
    for cell in buf.content.iter_mut() {
        if cell.symbol().chars().any(crate::text::needs_escape) {
            cell.set_symbol("\u{fffd}");
        }
    }
}

fn render_steps(f: &mut Frame, area: Rect, app: &App, t: &Theme) {
    let items: Vec<ListItem> = StepId::ALL
        .iter()
        .map(|s| {
            let st = app.step_state(*s);
            ListItem::new(Line::from(Span::styled(
                format!("{} {:>2} {}", symbol(st), s.number(), s.id()),
                t.state(st),
            )))
        })
        .collect();
    // The selection drawn (and kept in view) by the list itself.
    let mut state = ListState::default().with_selected(Some(app.selected.number() - 1));
    f.render_stateful_widget(
        List::new(items)
            .block(Block::default().borders(Borders::ALL).title(" Steps "))
            .highlight_style(Style::default().add_modifier(Modifier::REVERSED)),
        area,
        &mut state,
    );
}

pub(crate) fn heading<'a>(text: &'a str, t: &Theme) -> Line<'a> {
    Line::from(Span::styled(text, t.bold()))
}

/// The title line, or on a terminal below 80x24 a notice that says so.
fn header_line(app: &App, area: Rect, t: &Theme) -> Line<'static> {
    if area.width < 80 || area.height < 24 {
        return Line::from(Span::styled(
            format!(
                " mdcluster needs 80x24; this terminal is {}x{}",
                area.width, area.height
            ),
            t.fg(Color::Yellow).add_modifier(Modifier::BOLD),
        ));
    }
    let title = format!(
        " mdcluster  {} -> {}",
        safe(&app.answers.install_root),
        if app.answers.shared_path.is_empty() {
            "(shared path?)".to_string()
        } else {
            safe(&app.answers.shared_path)
        }
    );
    Line::from(Span::styled(title, t.bold()))
}

/// The latest events, newest at the bottom, each wrapped (not cut) to the
/// pane's width.
fn render_events(f: &mut Frame, area: Rect, app: &App, t: &Theme) {
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(" Events ", t.dim()));
    let inner = block.inner(area);
    let rows = usize::from(inner.height);
    let mut lines: Vec<Line> = Vec::new();
    for e in app.events.iter().rev() {
        if lines.len() >= rows {
            break;
        }
        // Continuation rows hang, so each event reads as one.
        let mut wrapped = wrap_hanging(Line::from(safe(e)), inner.width, 2);
        wrapped.extend(lines);
        lines = wrapped;
    }
    let skip = lines.len().saturating_sub(rows);
    let lines: Vec<Line> = lines.into_iter().skip(skip).collect();
    f.render_widget(block, area);
    f.render_widget(Paragraph::new(lines), inner);
}

/// A centred rectangle for popups.
pub(crate) fn centred(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width.saturating_sub(2));
    let h = height.min(area.height.saturating_sub(2));
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}
