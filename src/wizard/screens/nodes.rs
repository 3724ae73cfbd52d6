//! Step 8's nodes: the table (ratatui `Table`, the same in the step page and
//! while nodes are chosen), what its keys do, and the selected node's
//! verdicts. Names, addresses, reasons and rule details come from the
//! network: sanitized.

use super::join::join_lines;
use crate::discovery::survey::NodeReport;
use crate::discovery::survey::UNSIGNED_ADDRESS;
use crate::wizard::app::{App, Cmd, Focus, Screen};
use crate::wizard::keys::Action;
use crate::wizard::nodes::{NodeRow, Standing, Tone};
use crate::wizard::page::{wrap, Page};
use crate::wizard::view::{heading, safe, Drawn, Theme};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Borders, Cell, HighlightSpacing, Row, Table, TableState};
use ratatui::Frame;
use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

/// Most characters of a host typed by hand.
const HOST_MAX: usize = 253;
/// Most rows a node's standing takes in the table (the rest: "...").
const STANDING_ROWS: usize = 3;

impl App {
    /// The nodes table: move, add a found node to the plan, take one out,
    /// or type a host to check by hand.
    pub(super) fn nodes_act(&mut self, action: Action) -> Vec<Cmd> {
        let rows = self.node_rows();
        // Fewer nodes than when the row was chosen: the last one.
        self.cluster.row = self.cluster.row.min(rows.len().saturating_sub(1));
        let row = rows.get(self.cluster.row);
        match action {
            Action::Done => {
                self.focus = Focus::Steps;
                self.scroll = 0;
            }
            Action::Up | Action::Down | Action::Home | Action::End => {
                let last = rows.len().saturating_sub(1);
                let row = match action {
                    Action::Up => self.cluster.row.saturating_sub(1),
                    Action::Down => (self.cluster.row + 1).min(last),
                    Action::Home => 0,
                    _ => last,
                };
                if row != self.cluster.row {
                    // A new node's verdicts are read from their top.
                    self.scroll = 0;
                }
                self.cluster.row = row;
            }
            // The selected node's verdicts below the table.
            Action::PageDown | Action::PageUp => self.scroll_page(action),
            Action::TypeHost => {
                self.focus = Focus::ManualHost;
                self.cluster.typing.clear();
            }
            Action::AddNode => {
                let Some(row) = row else { return Vec::new() };
                match &row.standing {
                    Standing::Addable => {
                        let address = row
                            .report
                            .as_ref()
                            .map(NodeReport::plan_address)
                            .unwrap_or_default();
                        match self.answers.add_secondary(&row.name, &address) {
                            Ok(()) => self.event(format!(
                                "{} added to the plan; press a to apply (it gets a server ID)",
                                row.name
                            )),
                            Err(e) => self.event(format!("cannot add {}: {e}", row.name)),
                        }
                        return self.refresh_preview();
                    }
                    Standing::CannotJoin(why) => {
                        self.event(format!("{} cannot be added: {why}", row.name));
                    }
                    _ => self.event(format!("{}: {}", row.name, row.standing.text())),
                }
            }
            Action::TakeOutNode => {
                let Some(row) = row else { return Vec::new() };
                let member = matches!(
                    row.standing,
                    Standing::Registered | Standing::AwaitingRegistration | Standing::Primary
                );
                if member {
                    self.event(format!(
                        "{} is in the cluster; remove it with `mdcluster node remove --plan FILE {}` (its server ID is retired)",
                        row.name, row.name
                    ));
                } else if self.answers.remove_secondary(&row.name) {
                    self.event(format!("{} taken out of the plan", row.name));
                    return self.refresh_preview();
                }
            }
            _ => {}
        }
        Vec::new()
    }

    /// Typing a host to check by hand.
    pub(super) fn manual_act(&mut self, action: Action) -> Vec<Cmd> {
        match action {
            Action::Back => self.focus = Focus::Nodes,
            Action::CheckHost => {
                let host = self.cluster.typing.trim().to_string();
                match crate::plan::check_address(&host) {
                    Ok(()) => {
                        if !self.cluster.manual.contains(&host) {
                            self.cluster.manual.push(host.clone());
                        }
                        self.event(format!("checking {host}"));
                        self.focus = Focus::Nodes;
                    }
                    Err(why) => self.event(format!("{host}: the host {why}")),
                }
            }
            Action::Erase => {
                self.cluster.typing.pop();
            }
            _ => {}
        }
        Vec::new()
    }

    pub(super) fn manual_type(&mut self, c: char) {
        if self.cluster.typing.len() < HOST_MAX {
            self.cluster.typing.push(c);
        }
    }
}

/// Step 8 while nodes are chosen: the table at most half the pane, keeping
/// the selected row in view (its first row shown is kept in the model, so
/// the table scrolls only when the selection leaves it), and below it the
/// selected node's verdicts, scrolled by PgUp/PgDn: both fit on 80x24.
pub(crate) fn render_choosing_nodes(
    f: &mut Frame,
    area: Rect,
    app: &App,
    t: &Theme,
    drawn: &mut Drawn,
) {
    let step = app.selected;
    let state = app.step_state(step);
    let title = Line::from(vec![
        Span::styled(format!(" {}. {} ", step.number(), step.title()), t.bold()),
        Span::styled(format!("[{}] ", state.label()), t.state(state)),
    ]);
    let block = Block::default().borders(Borders::ALL).title(title);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let rows = app.node_rows();
    let selected = app.cluster.row.min(rows.len().saturating_sub(1));
    let (table, heights) = node_table(&rows, t, inner.width);
    let whole = heights.iter().fold(1u16, |sum, h| sum.saturating_add(*h));
    // At most half the pane, but always the header and the selected row.
    let least = 1 + heights.get(selected).copied().unwrap_or(1);
    let height = whole.min((inner.height / 2).max(least));
    let [top, rest] =
        Layout::vertical([Constraint::Length(height), Constraint::Min(1)]).areas(inner);
    // Fewer rows than when the table last scrolled: from the offset on,
    // the rows fill the table again. `fits`: the first row from which the
    // rest fits below the header.
    let body = height.saturating_sub(1);
    let mut fits = heights.len();
    let mut below = 0u16;
    for (i, h) in heights.iter().enumerate().rev() {
        below = below.saturating_add(*h);
        if below > body {
            break;
        }
        fits = i;
    }
    let mut table_state = TableState::default()
        .with_offset(app.cluster.offset.min(fits))
        .with_selected((!rows.is_empty()).then_some(selected));
    f.render_stateful_widget(table, top, &mut table_state);
    drawn.nodes_offset = Some(table_state.offset());

    let mut page = Page::default();
    if let Some(h) = &app.cluster.lock_held_by {
        page.push(Span::styled(
            format!(
                "Another mdcluster is working on this cluster: {}. Let it finish first.",
                safe(h)
            ),
            t.fg(Color::Red).add_modifier(Modifier::BOLD),
        ));
    }
    node_details(page.lines(), app, t);
    join_lines(page.lines(), app, t);
    drawn.page = Some(page.render(rest, f.buffer_mut(), app.scroll));
}

/// The nodes table in the step page, while step 8 is not focused.
pub(crate) fn nodes_table(page: &mut Page<'_>, app: &App, t: &Theme, width: u16) {
    let rows = app.node_rows();
    page.push(Line::default());
    page.push(heading("Nodes", t));
    let (table, heights) = node_table(&rows, t, width);
    page.table(
        table,
        heights.iter().fold(1u16, |sum, h| sum.saturating_add(*h)),
    );
    node_details(page.lines(), app, t);
}

/// The table and the height of each node's row (the header is one more). A
/// standing too long for its column wraps onto more rows of its own; the
/// other columns keep theirs.
fn node_table<'a>(rows: &[NodeRow], t: &Theme, width: u16) -> (Table<'a>, Vec<u16>) {
    let address = if width >= 78 { 22 } else { 15 };
    // The highlight column is always kept, so focusing moves no column.
    let standing = width.saturating_sub(2 + 15 + address + 5 + 3).max(8);
    let widths = [
        Constraint::Length(15),
        Constraint::Length(address),
        Constraint::Length(5),
        Constraint::Min(standing),
    ];
    let header = Row::new(vec![
        Cell::from("NAME"),
        Cell::from("ADDRESS"),
        Cell::from(Line::from("ID").right_aligned()),
        Cell::from("STANDING"),
    ])
    .style(t.dim());
    let mut heights = Vec::new();
    let body: Vec<Row> = rows
        .iter()
        .map(|r| {
            let id = r.server_id.map_or_else(|| "-".into(), |n| n.to_string());
            let lines = standing_lines(&r.standing, tone(r.standing.tone(), t), standing);
            let row_height = u16::try_from(lines.len()).unwrap_or(1);
            heights.push(row_height);
            Row::new(vec![
                Cell::from(safe(&r.name)),
                Cell::from(safe(&r.addresses)),
                Cell::from(Line::from(id).right_aligned()),
                Cell::from(Text::from(lines)),
            ])
            .height(row_height)
        })
        .collect();
    let table = Table::new(body, widths)
        .header(header)
        .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED))
        .highlight_symbol("> ")
        .highlight_spacing(HighlightSpacing::Always);
    (table, heights)
}

/// A standing, wrapped to its column, at most [`STANDING_ROWS`] rows (the
/// last one then ends in "...").
fn standing_lines(standing: &Standing, style: Style, width: u16) -> Vec<Line<'static>> {
    let mut lines = wrap(Line::styled(safe(&standing.text()), style), width);
    if lines.len() > STANDING_ROWS {
        lines.truncate(STANDING_ROWS);
        if let Some(last) = lines.last_mut() {
            let text: String = last.spans.iter().map(|s| s.content.as_ref()).collect();
            let room = usize::from(width).saturating_sub(3);
            let mut used = 0;
            let kept: String = text
                .graphemes(true)
                .take_while(|g| {
                    used += g.width();
                    used <= room
                })
                .collect();
            *last = Line::styled(format!("{}...", kept.trim_end()), style);
        }
    }
    lines
}

fn tone(tone: Tone, t: &Theme) -> Style {
    match tone {
        Tone::Good => t.fg(Color::Green),
        Tone::Waiting => t.fg(Color::Yellow),
        Tone::Bad => t.fg(Color::Red),
    }
}

/// Below the nodes table: why nothing was found, the host being typed, and
/// the selected node's verdicts, rule by rule.
fn node_details(lines: &mut Vec<Line<'_>>, app: &App, t: &Theme) {
    let c = &app.cluster;
    let rows = app.node_rows();
    let focused =
        matches!(app.focus, Focus::Nodes | Focus::ManualHost) && app.screen == Screen::Steps;
    if !c.why_nothing.is_empty() {
        lines.push(Line::from(Span::styled(
            format!(" {}", safe(&c.why_nothing)),
            t.fg(Color::Yellow),
        )));
    }
    if app.focus == Focus::ManualHost {
        lines.push(Line::from(vec![
            Span::styled(" Host (NetBIOS name, IP or DNS name): ", t.bold()),
            Span::raw(format!("{}█", safe(&c.typing))),
        ]));
    } else if !focused {
        lines.push(Line::from(Span::styled(
            " Enter: choose nodes (add one that was found, or enter a host by hand)",
            t.dim(),
        )));
    }
    // The selected node's verdicts: what it announced, rule by rule.
    let selected = rows.get(c.row.min(rows.len().saturating_sub(1)));
    if let (true, Some(report)) = (focused, selected.and_then(|r| r.report.as_ref())) {
        lines.push(Line::default());
        lines.push(heading("Cluster rules", t));
        if let Some(why) = &report.untrusted {
            lines.push(Line::from(Span::styled(
                format!(" not trusted: {}", safe(why)),
                t.fg(Color::Red),
            )));
        }
        for ip in &report.unsigned_addresses {
            lines.push(Line::from(Span::styled(
                format!(" ignored {ip}: {UNSIGNED_ADDRESS}"),
                t.fg(Color::Yellow),
            )));
        }
        for v in &report.rules {
            use crate::cluster::rules::Level;
            let (mark, style) = match v.level {
                Level::Pass => ("ok  ", t.fg(Color::Green)),
                Level::Warn => ("warn", t.fg(Color::Yellow)),
                Level::Ignored => ("ign ", t.fg(Color::Yellow)),
                Level::Fail => ("FAIL", t.fg(Color::Red).add_modifier(Modifier::BOLD)),
                Level::Unknown => ("??  ", t.fg(Color::Red)),
            };
            lines.push(Line::from(vec![
                Span::styled(format!(" {mark} "), style),
                Span::raw(format!("{}: {}", v.rule, safe(&v.detail))),
            ]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_standing_takes_three_rows_and_ends_in_dots() {
        let why = "not trusted (the signature does not match the join code, ".repeat(3);
        let lines = standing_lines(&Standing::CannotJoin(why), Style::default(), 14);
        assert_eq!(lines.len(), STANDING_ROWS);
        assert!(lines.iter().all(|l| l.width() <= 14), "{lines:?}");
        let last: String = lines[2].spans.iter().map(|s| s.content.as_ref()).collect();
        assert!(last.ends_with("..."), "{last:?}");
        let short = standing_lines(&Standing::Primary, Style::default(), 14);
        assert_eq!(short.len(), 1);
    }
}
