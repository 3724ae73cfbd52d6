//! The steps: the list, each step's answers, and step 8's nodes table with
//! a host typed by hand.

use super::join::join_lines;
use crate::discovery::survey::NodeReport;
use crate::discovery::survey::UNSIGNED_ADDRESS;
use crate::report::preview::edit_diff;
use crate::report::DiffLine;
use crate::steps::StepId;
use crate::steps::StepPlan;
use crate::text::size;
use crate::wizard::answers::question;
use crate::wizard::answers::FieldId;
use crate::wizard::app::PreviewState;
use crate::wizard::app::{App, Cmd, Confirm, Focus, Screen};
use crate::wizard::keys::Action;
use crate::wizard::nodes::Standing;
use crate::wizard::nodes::Tone;
use crate::wizard::view::{heading, safe, Theme};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Gauge, Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;

/// Most characters of an answer, and of a host typed by hand.
const ANSWER_MAX: usize = 300;
const HOST_MAX: usize = 253;

impl App {
    pub(super) fn steps_act(&mut self, action: Action) -> Vec<Cmd> {
        match action {
            Action::Quit => {
                self.quit = true;
                Vec::new()
            }
            Action::Answer => {
                if let Some(first) = self.fields_of(self.selected).first() {
                    self.focus = Focus::Field(*first);
                } else if self.selected == StepId::Discover {
                    self.focus = Focus::Nodes;
                    self.cluster.row = self
                        .cluster
                        .row
                        .min(self.node_rows().len().saturating_sub(1));
                }
                Vec::new()
            }
            Action::Registered => {
                if self.awaiting_registration().is_empty() {
                    self.event("no node awaits its registration in MDaemon");
                } else {
                    self.previous = Screen::Steps;
                    self.screen = Screen::Confirm(Confirm::Registered);
                }
                Vec::new()
            }
            Action::Apply => {
                match self.can_apply() {
                    Ok(()) => {
                        self.previous = Screen::Steps;
                        self.screen = Screen::Confirm(Confirm::Apply);
                    }
                    Err(why) => self.event(format!("cannot apply yet: {why}")),
                }
                Vec::new()
            }
            Action::Undo => {
                if self.undo_available {
                    return self.open_undo(Screen::Steps);
                }
                self.event("nothing to undo: no journal of an applied run");
                Vec::new()
            }
            Action::Save => self.open_save(),
            Action::Join => {
                self.screen = Screen::Join;
                if self.join.name.is_empty() {
                    self.join.name = self.answers.node_name.trim().to_string();
                }
                // A secondary must not hold the primary's manifest lock.
                self.cluster.lock_share = None;
                self.cluster.lock_held_by = None;
                self.cluster.lock_pending = None;
                vec![Cmd::ReleaseLock]
            }
            other => {
                self.browse(other);
                Vec::new()
            }
        }
    }

    pub(super) fn field_act(&mut self, action: Action) -> Vec<Cmd> {
        let Focus::Field(field) = self.focus else {
            return Vec::new();
        };
        let fields = self.fields_of(question(field).step);
        let pos = fields.iter().position(|f| *f == field).unwrap_or(0);
        let n = fields.len().max(1);
        match action {
            Action::NextField => {
                self.focus = Focus::Field(fields[(pos + 1) % n]);
                self.refresh_preview()
            }
            Action::PreviousField => {
                self.focus = Focus::Field(fields[(pos + n - 1) % n]);
                self.refresh_preview()
            }
            Action::Done => {
                self.focus = Focus::Steps;
                self.refresh_preview()
            }
            Action::Erase => {
                self.answers.get_mut(field).pop();
                Vec::new()
            }
            Action::Clear => {
                self.answers.get_mut(field).clear();
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    pub(super) fn field_type(&mut self, c: char) {
        if let Focus::Field(field) = self.focus {
            let value = self.answers.get_mut(field);
            if value.chars().count() < ANSWER_MAX {
                value.push(c);
            }
        }
    }

    /// The nodes table: move, add a found node to the plan, take one out,
    /// or type a host to check by hand.
    pub(super) fn nodes_act(&mut self, action: Action) -> Vec<Cmd> {
        let rows = self.node_rows();
        let row = rows.get(self.cluster.row.min(rows.len().saturating_sub(1)));
        match action {
            Action::Done => self.focus = Focus::Steps,
            Action::Up => self.cluster.row = self.cluster.row.saturating_sub(1),
            Action::Down if self.cluster.row + 1 < rows.len() => self.cluster.row += 1,
            Action::Home => self.cluster.row = 0,
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

pub(crate) fn render_step(f: &mut Frame, area: Rect, app: &App, t: &Theme) {
    let choosing = matches!(app.focus, Focus::Nodes | Focus::ManualHost);
    if app.selected == StepId::Discover && choosing && app.screen == Screen::Steps {
        return render_choosing_nodes(f, area, app, t);
    }
    let step = app.selected;
    let state = app.step_state(step);
    let mut lines: Vec<Line> = Vec::new();
    lines.push(Line::from(Span::styled(step.purpose(), Style::default())));
    lines.push(Line::from(Span::styled(
        format!("MDaemon manual step {}", step.manual_steps()),
        t.dim(),
    )));

    if let PreviewState::Failed(problem) = &app.preview {
        if app.failed_step() == Some(step) {
            lines.push(Line::default());
            lines.push(Line::from(Span::styled(
                "Cannot prepare the steps",
                t.fg(Color::Red).add_modifier(Modifier::BOLD),
            )));
            for l in problem.to_string().lines() {
                lines.push(Line::from(Span::styled(safe(l), t.fg(Color::Red))));
            }
        }
    }

    question_lines(&mut lines, app, t, step);

    if (6..=9).contains(&step.number()) {
        cluster_lines(&mut lines, app, t, area.width.saturating_sub(2));
    }
    if step == StepId::ClusterLog {
        log_lines(&mut lines, app, t);
    }

    match &app.preview {
        PreviewState::Ready(p) => {
            if let Some(sp) = p.steps.iter().find(|s| s.step == step) {
                step_lines(&mut lines, sp, p, &app.profile, t);
            }
        }
        PreviewState::Computing => {
            lines.push(Line::default());
            lines.push(Line::from(Span::styled(
                "Preparing the preview...",
                t.dim(),
            )));
        }
        _ => {}
    }

    let title = Line::from(vec![
        Span::styled(format!(" {}. {} ", step.number(), step.title()), t.bold()),
        Span::styled(format!("[{}] ", state.label()), t.state(state)),
    ]);
    let block = Block::default().borders(Borders::ALL).title(title);
    let (content, gauge) = match &app.progress {
        Some(_) if area.height > 8 => {
            let [c, g] = Layout::vertical([Constraint::Min(3), Constraint::Length(3)]).areas(area);
            (c, Some(g))
        }
        _ => (area, None),
    };
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((app.scroll, 0)),
        content,
    );
    if let (Some(g), Some(p)) = (gauge, &app.progress) {
        f.render_widget(progress_gauge(app, p, t), g);
    }
}

/// The step's questions, each with its verdict, the focused one with its help.
fn question_lines(lines: &mut Vec<Line<'static>>, app: &App, t: &Theme, step: StepId) {
    let fields: Vec<FieldId> = app
        .answers
        .fields()
        .into_iter()
        .filter(|fid| question(*fid).step == step)
        .collect();
    if !fields.is_empty() {
        lines.push(Line::default());
        lines.push(heading("Questions", t));
        for fid in fields {
            let q = question(fid);
            let focused = app.focus == Focus::Field(fid) && app.screen == Screen::Steps;
            let value = safe(app.answers.get(fid));
            let cursor = if focused { "█" } else { "" };
            let label_style = if focused {
                t.bold().add_modifier(Modifier::UNDERLINED)
            } else {
                Style::default()
            };
            let verdict = app.field_error(fid);
            let mark = if verdict.is_none() {
                Span::styled("  ✓", t.fg(Color::Green))
            } else {
                Span::styled("  ✗", t.fg(Color::Red))
            };
            lines.push(Line::from(vec![
                Span::styled(format!(" {}: ", q.label), label_style),
                Span::raw(format!("{value}{cursor}")),
                mark,
            ]));
            if let Some(e) = verdict {
                lines.push(Line::from(Span::styled(
                    format!("    {}", safe(&e)),
                    t.fg(Color::Red),
                )));
            }
            if focused {
                lines.push(Line::from(Span::styled(format!("    {}", q.help), t.dim())));
            }
        }
    }
}

/// The bar of the work in progress.
fn progress_gauge(app: &App, p: &crate::wizard::app::ProgressInfo, t: &Theme) -> Gauge<'static> {
    let ratio = if p.bytes_total > 0 {
        p.bytes_done as f64 / p.bytes_total as f64
    } else {
        0.0
    };
    let speed = match app.rate() {
        Some((rate, Some(left))) => format!(", {rate:.0}/s, {}s left", left.as_secs()),
        _ => String::new(),
    };
    let label = format!(
        "{}/{} files, {}/{}{speed}",
        p.files_done,
        p.files_total,
        size(p.bytes_done),
        size(p.bytes_total)
    );
    Gauge::default()
        .block(
            Block::default()
                .borders(Borders::ALL)
                .title(format!(" {} ", p.step)),
        )
        .gauge_style(t.fg(Color::Cyan))
        .ratio(ratio.clamp(0.0, 1.0))
        .label(label)
}

/// When a join code expires, as people read it.
pub(crate) fn until(ms: i64) -> String {
    crate::text::clock_utc(ms)
}

/// Steps 6-9: the join code, the nodes table (step 8) and the registration
/// (step 9). Names, reasons and rule details come from the network: sanitized.
pub(crate) fn cluster_lines(lines: &mut Vec<Line>, app: &App, t: &Theme, width: u16) {
    let c = &app.cluster;
    let step = app.selected;
    if let Some(h) = &c.lock_held_by {
        lines.push(Line::default());
        lines.push(Line::from(Span::styled(
            format!(
                "Another mdcluster is working on this cluster: {}. Let it finish first.",
                safe(h)
            ),
            t.fg(Color::Red).add_modifier(Modifier::BOLD),
        )));
    }
    // Step 8 is about the table; the others about what to run on a secondary.
    if step == StepId::Discover {
        nodes_table(lines, app, t, width);
    }
    join_lines(lines, app, t);
    if step == StepId::ServerIds {
        registration_lines(lines, app, t);
    }
}

/// Step 10: the cluster log as followed, a row per node, what is missing,
/// warnings, and the latest lines. Everything from the log is sanitized.
pub(crate) fn log_lines(lines: &mut Vec<Line>, app: &App, t: &Theme) {
    lines.push(Line::default());
    lines.push(heading("Cluster log", t));
    let Some(c) = &app.log.confirmations else {
        lines.push(Line::from(Span::styled(
            " Followed once a secondary is registered (steps 6-9).",
            t.dim(),
        )));
        return;
    };
    lines.push(Line::from(format!(" {}", safe(&app.log.found))));
    lines.push(Line::from(Span::styled(
        format!(
            "   {:<15} {:<10} {:<12} {}",
            "NODE", "CONNECTED", "REPLICATING", "WARNINGS"
        ),
        t.dim(),
    )));
    let mark = |ok: Option<bool>| match ok {
        Some(true) => ("yes", Color::Green),
        Some(false) => ("no", Color::Red),
        None => ("-", Color::Yellow),
    };
    for (n, log) in &c.nodes {
        let name: String = safe(&n.name).chars().take(15).collect();
        if n.primary {
            lines.push(Line::from(format!(
                "   {name:<15} (the primary: it writes this log)"
            )));
            continue;
        }
        let (conn, cc) = mark(log.connection.as_ref().map(|(ok, _)| *ok));
        let (repl, rc) = mark(log.replication.as_ref().map(|(ok, _)| *ok));
        let warnings: Vec<&str> = [
            log.clock.as_ref().map(|_| "clock"),
            log.time_zone.as_ref().map(|_| "time zone"),
        ]
        .into_iter()
        .flatten()
        .collect();
        lines.push(Line::from(vec![
            Span::raw(format!("   {name:<15} ")),
            Span::styled(format!("{conn:<10} "), t.fg(cc)),
            Span::styled(format!("{repl:<12} "), t.fg(rc)),
            Span::styled(warnings.join(", "), t.fg(Color::Yellow)),
        ]));
    }
    if app.log_confirmed() {
        lines.push(Line::from(Span::styled(
            " The cluster log confirms every node: connected and replicating.",
            t.fg(Color::Green).add_modifier(Modifier::BOLD),
        )));
    } else {
        for m in c.missing() {
            lines.push(Line::from(Span::styled(
                format!(" waiting: {}", safe(&m)),
                t.fg(Color::Yellow),
            )));
        }
    }
    for w in c.warnings() {
        lines.push(Line::from(Span::styled(
            format!(" warning: {}", safe(&w)),
            t.fg(Color::Yellow),
        )));
    }
    if !app.log.recent.is_empty() {
        lines.push(Line::from(Span::styled(" Latest lines:", t.dim())));
        for l in &app.log.recent {
            lines.push(Line::from(Span::styled(format!("   {}", safe(l)), t.dim())));
        }
    }
}

pub(crate) fn registration_lines(lines: &mut Vec<Line>, app: &App, t: &Theme) {
    let waiting = app.awaiting_registration();
    if waiting.is_empty() {
        return;
    }
    let list: Vec<String> = waiting
        .iter()
        .map(|(n, id)| format!("{} (server ID {id})", safe(n)))
        .collect();
    lines.push(Line::default());
    lines.push(heading("Registration in MDaemon", t));
    lines.push(Line::from(format!(
        " On the primary, {}: add {}.",
        *app.profile.cluster.dialog,
        list.join(", ")
    )));
    lines.push(Line::from(Span::styled(
        " Press r once they are registered; mdcluster records it in the cluster manifest.",
        t.fg(Color::Yellow),
    )));
}

/// Step 8 while nodes are chosen: the nodes as a table that keeps the
/// selected row in view however many there are, and below it the selected
/// node's verdicts, so both fit on the smallest terminal (80x24).
fn render_choosing_nodes(f: &mut Frame, area: Rect, app: &App, t: &Theme) {
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
    // Header and rows, at most half the page: the verdicts need the rest.
    let wanted = rows.len() as u16 + 1;
    let height = wanted.min((inner.height / 2).max(2));
    let [top, rest] =
        Layout::vertical([Constraint::Length(height), Constraint::Min(1)]).areas(inner);
    let wide = inner.width >= 78;
    let id_header = Cell::from(Line::from("ID").right_aligned());
    let header = if wide {
        Row::new(vec![
            Cell::from("NAME"),
            Cell::from("ADDRESS"),
            id_header,
            Cell::from("STANDING"),
        ])
    } else {
        Row::new(vec![Cell::from("NAME"), Cell::from("ADDRESS"), id_header])
    };
    let body = rows.iter().map(|r| {
        let id = r
            .server_id
            .map(|n| n.to_string())
            .unwrap_or_else(|| "-".into());
        let mut cells = vec![
            Cell::from(safe(&r.name)),
            Cell::from(safe(&r.addresses)),
            Cell::from(Line::from(id).right_aligned()),
        ];
        if wide {
            cells.push(Cell::from(Span::styled(
                safe(&r.standing.text()),
                tone(r.standing.tone(), t),
            )));
        }
        Row::new(cells)
    });
    let widths = if wide {
        vec![
            Constraint::Length(15),
            Constraint::Length(22),
            Constraint::Length(5),
            Constraint::Min(10),
        ]
    } else {
        vec![
            Constraint::Length(15),
            Constraint::Length(16),
            Constraint::Length(5),
        ]
    };
    let table = Table::new(body, widths)
        .header(header.style(t.dim()))
        .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED))
        .highlight_symbol("> ");
    let selected = app.cluster.row.min(rows.len().saturating_sub(1));
    let mut table_state =
        TableState::default().with_selected((!rows.is_empty()).then_some(selected));
    f.render_stateful_widget(table, top, &mut table_state);

    let mut lines: Vec<Line> = Vec::new();
    if let Some(h) = &app.cluster.lock_held_by {
        lines.push(Line::from(Span::styled(
            format!(
                "Another mdcluster is working on this cluster: {}. Let it finish first.",
                safe(h)
            ),
            t.fg(Color::Red).add_modifier(Modifier::BOLD),
        )));
    }
    if let (false, Some(r)) = (wide, rows.get(selected)) {
        // The narrow table has no room for the standing: said here.
        lines.push(Line::from(vec![
            Span::raw(format!(" {}: ", safe(&r.name))),
            Span::styled(safe(&r.standing.text()), tone(r.standing.tone(), t)),
        ]));
    }
    node_details(&mut lines, app, t);
    join_lines(&mut lines, app, t);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((app.scroll, 0)),
        rest,
    );
}

fn tone(tone: Tone, t: &Theme) -> Style {
    match tone {
        Tone::Good => t.fg(Color::Green),
        Tone::Waiting => t.fg(Color::Yellow),
        Tone::Bad => t.fg(Color::Red),
    }
}

/// The nodes table. Wide panes get one line per node; narrow ones put the
/// standing on a second line.
pub(crate) fn nodes_table(lines: &mut Vec<Line>, app: &App, t: &Theme, width: u16) {
    let c = &app.cluster;
    let rows = app.node_rows();
    let focused =
        matches!(app.focus, Focus::Nodes | Focus::ManualHost) && app.screen == Screen::Steps;
    let wide = width >= 80;
    lines.push(Line::default());
    lines.push(heading("Nodes", t));
    let head = if wide {
        format!(
            "   {:<15} {:<22} {:>5}  {}",
            "NAME", "ADDRESS", "ID", "STANDING"
        )
    } else {
        format!("   {:<15} {:<16} {:>5}", "NAME", "ADDRESS", "ID")
    };
    lines.push(Line::from(Span::styled(head, t.dim())));
    for (i, r) in rows.iter().enumerate() {
        let selected = focused && i == c.row.min(rows.len().saturating_sub(1));
        let colour = tone(r.standing.tone(), t);
        let id = r
            .server_id
            .map(|n| n.to_string())
            .unwrap_or_else(|| "-".into());
        let name: String = safe(&r.name).chars().take(15).collect();
        let marker = if selected { " > " } else { "   " };
        let reversed = |l: Line<'static>| {
            if selected {
                l.style(Style::default().add_modifier(Modifier::REVERSED))
            } else {
                l
            }
        };
        if wide {
            let addresses: String = safe(&r.addresses).chars().take(22).collect();
            lines.push(reversed(Line::from(vec![
                Span::raw(marker),
                Span::raw(format!("{name:<15} {addresses:<22} {id:>5}  ")),
                Span::styled(safe(&r.standing.text()), colour),
            ])));
        } else {
            let addresses: String = safe(&r.addresses).chars().take(16).collect();
            lines.push(reversed(Line::from(vec![
                Span::raw(marker),
                Span::raw(format!("{name:<15} {addresses:<16} {id:>5}")),
            ])));
            lines.push(Line::from(Span::styled(
                format!("     {}", safe(&r.standing.text())),
                colour,
            )));
        }
    }
    node_details(lines, app, t);
}

/// Below the nodes table: why nothing was found, the host being typed, and
/// the selected node's verdicts, rule by rule.
fn node_details(lines: &mut Vec<Line>, app: &App, t: &Theme) {
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

pub(crate) fn step_lines(
    lines: &mut Vec<Line>,
    sp: &StepPlan,
    preview: &crate::engine::Preview,
    profile: &crate::profile::Profile,
    t: &Theme,
) {
    // A failed check is what the administrator must see first.
    let failed = sp.failed_checks().next().is_some();
    if failed {
        check_lines(lines, sp, t);
    }
    if !sp.facts.is_empty() {
        lines.push(Line::default());
        lines.push(heading("Found", t));
        for (k, v) in &sp.facts {
            lines.push(Line::from(format!(" {k}: {}", safe(v))));
        }
    }
    if !failed {
        check_lines(lines, sp, t);
    }
    action_lines(lines, sp, preview, profile, t);
}

pub(crate) fn check_lines(lines: &mut Vec<Line>, sp: &StepPlan, t: &Theme) {
    if !sp.checks.is_empty() {
        lines.push(Line::default());
        lines.push(heading("Checks", t));
        for c in &sp.checks {
            let (mark, style) = if c.ok {
                ("ok  ", t.fg(Color::Green))
            } else {
                ("FAIL", t.fg(Color::Red).add_modifier(Modifier::BOLD))
            };
            lines.push(Line::from(vec![
                Span::styled(format!(" {mark} "), style),
                Span::raw(format!("{}: {}", c.name, safe(&c.detail))),
            ]));
            if let Some(fix) = c.fix.as_ref().filter(|_| !c.ok) {
                lines.push(Line::from(Span::styled(
                    format!("      what to do: {}", safe(fix)),
                    t.fg(Color::Red),
                )));
            }
        }
    }
}

pub(crate) fn action_lines(
    lines: &mut Vec<Line>,
    sp: &StepPlan,
    preview: &crate::engine::Preview,
    profile: &crate::profile::Profile,
    t: &Theme,
) {
    if !sp.actions.is_empty() {
        lines.push(Line::default());
        lines.push(heading(
            if sp.state == crate::steps::StepStatus::Interrupted {
                "Will finish"
            } else {
                "Will change"
            },
            t,
        ));
        for (i, a) in &sp.actions {
            lines.push(Line::from(Span::styled(
                format!(" -> {}", safe(&preview.describe(sp.step, *i, a))),
                t.fg(Color::Cyan),
            )));
            for d in edit_diff(a, preview, profile).unwrap_or_default() {
                let style = match d {
                    DiffLine::Removed(_) => t.fg(Color::Red),
                    DiffLine::Added(_) => t.fg(Color::Green),
                    DiffLine::Hunk(_) => t.fg(Color::Cyan),
                    DiffLine::Header(_) => t.bold(),
                    DiffLine::Context(_) => Style::default(),
                };
                lines.push(Line::from(Span::styled(format!("    {}", d.text()), style)));
            }
        }
    } else {
        lines.push(Line::default());
        lines.push(Line::from(Span::styled(
            format!("Nothing to change ({}).", sp.state.label()),
            t.dim(),
        )));
    }
    for n in &sp.notes {
        lines.push(Line::from(Span::styled(
            format!(" note: {}", safe(n)),
            t.dim(),
        )));
    }
    for n in &sp.next {
        lines.push(Line::from(format!(" afterwards: {}", safe(n))));
    }
}
