//! The steps: the list, each step's answers and its page (with step 10's
//! cluster log as a table). Step 8's nodes table is in [`super::nodes`].

use super::join::join_lines;
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
use crate::wizard::page::Page;
use crate::wizard::view::{heading, safe, Drawn, Theme};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Gauge, Padding, Row, Table};
use ratatui::Frame;

/// Most characters of an answer.
const ANSWER_MAX: usize = 300;

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
                    // The verdicts below the table are a page of their own.
                    self.scroll = 0;
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
                        self.apply_asked = self.preview_generation();
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
            Action::Health => self.open_health(Screen::Steps),
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
}

pub(crate) fn render_step(f: &mut Frame, area: Rect, app: &App, t: &Theme, drawn: &mut Drawn) {
    let choosing = matches!(app.focus, Focus::Nodes | Focus::ManualHost);
    if app.selected == StepId::Discover && choosing && app.screen == Screen::Steps {
        return super::nodes::render_choosing_nodes(f, area, app, t, drawn);
    }
    let step = app.selected;
    let state = app.step_state(step);
    let mut page = Page::default();
    page.push(Span::styled(step.purpose(), Style::default()));
    page.push(Span::styled(
        format!("MDaemon manual step {}", step.manual_steps()),
        t.dim(),
    ));

    if let PreviewState::Failed(problem) = &app.preview {
        if app.failed_step() == Some(step) {
            page.push(Line::default());
            page.push(Span::styled(
                "Cannot prepare the steps",
                t.fg(Color::Red).add_modifier(Modifier::BOLD),
            ));
            for l in problem.to_string().lines() {
                page.push(Span::styled(safe(l), t.fg(Color::Red)));
            }
        }
    }

    question_lines(page.lines(), app, t, step);

    if (6..=9).contains(&step.number()) {
        cluster_lines(&mut page, app, t, area.width.saturating_sub(2));
    }
    if step == StepId::ClusterLog {
        log_lines(&mut page, app, t);
    }

    match &app.preview {
        PreviewState::Ready(p) => {
            if let Some(sp) = p.steps.iter().find(|s| s.step == step) {
                step_lines(page.lines(), sp, p, &app.profile, t);
            }
        }
        PreviewState::Computing => {
            page.push(Line::default());
            page.push(Span::styled("Preparing the preview...", t.dim()));
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
    let inner = block.inner(content);
    f.render_widget(block, content);
    drawn.page = Some(page.render(inner, f.buffer_mut(), app.scroll));
    if let (Some(g), Some(p)) = (gauge, &app.progress) {
        f.render_widget(progress_gauge(app, p, t, g.width), g);
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

/// The bar of the work in progress: the whole step's copy while it copies
/// (with this folder's counts, rate and time left), then this folder's flush
/// and the deletion of its source, each said as such. The label is the
/// longest of its forms that fits `width`.
fn progress_gauge(
    app: &App,
    p: &crate::wizard::app::ProgressInfo,
    t: &Theme,
    width: u16,
) -> Gauge<'static> {
    use crate::engine::events::Phase;
    let (step, p) = (p.step, &p.progress);
    let part = |done: u64, total: u64| {
        if total > 0 {
            (done as f64 / total as f64).clamp(0.0, 1.0)
        } else {
            0.0
        }
    };
    let folder = if p.folders > 1 {
        format!(" · folder {}/{}", p.folder, p.folders)
    } else {
        String::new()
    };
    let files = format!("{}/{}", p.files_done, p.files_total);
    let (ratio, forms) = match p.phase {
        Phase::Copy => {
            let ratio = part(p.step_bytes_done, p.step_bytes_total);
            let step = format!("step {:.0}%", ratio * 100.0);
            let (rate, left) = match app.rate() {
                Some((rate, Some(left))) => (
                    format!(", {rate:.0}/s"),
                    format!(", {}s left", left.as_secs()),
                ),
                _ => (String::new(), String::new()),
            };
            let bytes = format!(", {}/{}", size(p.bytes_done), size(p.bytes_total));
            (
                ratio,
                vec![
                    format!(
                        "copying and verifying {files} files{bytes}{rate}{left}{folder}, {step}"
                    ),
                    format!("copying {files} files{bytes}{left}{folder}, {step}"),
                    format!("copying {files} files{left}{folder}, {step}"),
                    format!("copying {files}, {step}"),
                ],
            )
        }
        Phase::Flush => (
            part(p.step_bytes_done, p.step_bytes_total),
            vec![
                format!("flushing {} copied files to disk{folder}", p.files_done),
                "flushing to disk".to_string(),
            ],
        ),
        Phase::Delete => {
            let removed = format!("{}/{}", p.files_removed, p.files_total);
            (
                part(p.files_removed, p.files_total),
                vec![
                    format!("deleting the source: {removed} files, each copy verified{folder}"),
                    format!("deleting the source: {removed} files{folder}"),
                    format!("deleting the source: {removed}"),
                ],
            )
        }
    };
    let room = usize::from(width.saturating_sub(2));
    let label = forms
        .iter()
        .find(|f| f.chars().count() <= room)
        .or(forms.last())
        .cloned()
        .unwrap_or_default();
    Gauge::default()
        .block(
            Block::default()
                .borders(Borders::ALL)
                .title(format!(" {step} ")),
        )
        .gauge_style(t.fg(Color::Cyan))
        .ratio(ratio)
        .label(label)
}

/// When a join code expires, as people read it.
pub(crate) fn until(ms: i64) -> String {
    crate::text::clock_utc(ms)
}

/// Steps 6-9: the join code, the nodes table (step 8) and the registration
/// (step 9). Names, reasons and rule details come from the network: sanitized.
pub(crate) fn cluster_lines(page: &mut Page<'_>, app: &App, t: &Theme, width: u16) {
    let c = &app.cluster;
    let step = app.selected;
    if let Some(h) = &c.lock_held_by {
        page.push(Line::default());
        page.push(Line::from(Span::styled(
            format!(
                "Another mdcluster is working on this cluster: {}. Let it finish first.",
                safe(h)
            ),
            t.fg(Color::Red).add_modifier(Modifier::BOLD),
        )));
    }
    // Step 8 is about the table; the others about what to run on a secondary.
    if step == StepId::Discover {
        super::nodes::nodes_table(page, app, t, width);
    }
    join_lines(page.lines(), app, t);
    if step == StepId::ServerIds {
        registration_lines(page.lines(), app, t);
    }
}

/// Step 10: the cluster log as followed, a row per node, what is missing,
/// warnings, and the latest lines. Everything from the log is sanitized.
pub(crate) fn log_lines(page: &mut Page<'_>, app: &App, t: &Theme) {
    page.push(Line::default());
    page.push(heading("Cluster log", t));
    let Some(c) = &app.log.confirmations else {
        page.push(Span::styled(
            " Followed once a secondary is registered (steps 6-9).",
            t.dim(),
        ));
        return;
    };
    page.push(format!(" {}", safe(&app.log.found)));
    let mark = |ok: Option<bool>| match ok {
        Some(true) => Span::styled("yes", t.fg(Color::Green)),
        Some(false) => Span::styled("no", t.fg(Color::Red)),
        None => Span::styled("-", t.fg(Color::Yellow)),
    };
    let rows: Vec<Row> = c
        .nodes
        .iter()
        .map(|(n, log)| {
            let name = Cell::from(safe(&n.name));
            if n.primary {
                // It writes this log and is where replication starts.
                return Row::new(vec![
                    name,
                    Cell::from(Span::styled("primary", t.dim())),
                    Cell::from(Span::styled("(the source)", t.dim())),
                ]);
            }
            let warnings: Vec<&str> = [
                log.clock.as_ref().map(|_| "clock"),
                log.time_zone.as_ref().map(|_| "time zone"),
            ]
            .into_iter()
            .flatten()
            .collect();
            Row::new(vec![
                name,
                Cell::from(mark(log.connection.as_ref().map(|(ok, _)| *ok))),
                Cell::from(mark(log.replication.as_ref().map(|(ok, _)| *ok))),
                Cell::from(Span::styled(warnings.join(", "), t.fg(Color::Yellow))),
            ])
        })
        .collect();
    let header = Row::new(["NODE", "CONNECTED", "REPLICATING", "WARNINGS"]).style(t.dim());
    let widths = [
        Constraint::Length(15),
        Constraint::Length(10),
        Constraint::Length(12),
        Constraint::Min(8),
    ];
    let height = u16::try_from(rows.len() + 1).unwrap_or(u16::MAX);
    let table = Table::new(rows, widths)
        .header(header)
        .block(Block::default().padding(Padding::left(3)));
    page.table(table, height);
    if app.log_confirmed() {
        page.push(Line::from(Span::styled(
            " The cluster log confirms every node: connected and replicating.",
            t.fg(Color::Green).add_modifier(Modifier::BOLD),
        )));
    } else {
        for m in c.missing() {
            page.push(Line::from(Span::styled(
                format!(" waiting: {}", safe(&m)),
                t.fg(Color::Yellow),
            )));
        }
    }
    for w in c.warnings() {
        page.push(Line::from(Span::styled(
            format!(" warning: {}", safe(&w)),
            t.fg(Color::Yellow),
        )));
    }
    if !app.log.recent.is_empty() {
        page.push(Line::from(Span::styled(" Latest lines:", t.dim())));
        for l in &app.log.recent {
            page.push(Line::from(Span::styled(format!("   {}", safe(l)), t.dim())));
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
                // Diff headers name paths from the disk.
                lines.push(Line::from(Span::styled(
                    format!("    {}", safe(&d.text())),
                    style,
                )));
            }
        }
    } else if !preview.left_out.contains_key(&sp.step) {
        // (A step left out says so in its note.)
        lines.push(Line::default());
        lines.push(Line::from(Span::styled(
            format!("Nothing to change ({}).", sp.state.label()),
            t.dim(),
        )));
    } else {
        lines.push(Line::default());
    }
    for w in &sp.warnings {
        lines.push(Line::from(Span::styled(
            format!(" warning: {}", safe(w)),
            t.fg(Color::Yellow),
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
