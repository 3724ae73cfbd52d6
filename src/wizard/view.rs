//! Drawing the wizard: a pure function of [`App`]. Every text that came from
//! files, logs or the network goes through `sanitize` before it is drawn, and
//! the finished frame is scrubbed of anything `sanitize` would escape.

use super::answers::{question, FieldId};
use super::app::{App, Confirm, Focus, PreviewState, Screen, UiState};
use super::nodes::Tone;
use crate::discovery::survey::UNSIGNED_ADDRESS;
use crate::report::preview::{edit_diff, state_label};
use crate::report::DiffLine;
use crate::steps::{StepId, StepPlan};
use crate::text::{sanitize, size};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Gauge, List, ListItem, Paragraph, Wrap};
use ratatui::Frame;

/// Colours, or none (NO_COLOR).
struct Theme {
    color: bool,
}

impl Theme {
    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }
    fn bold(&self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }
    fn dim(&self) -> Style {
        if self.color {
            Style::default().fg(Color::DarkGray)
        } else {
            Style::default()
        }
    }
    fn state(&self, s: UiState) -> Style {
        match s {
            UiState::Ready => self.fg(Color::Yellow),
            UiState::Running => self.fg(Color::Cyan).add_modifier(Modifier::BOLD),
            UiState::Done => self.fg(Color::Green),
            UiState::Failed => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            UiState::NeedsInput => self.fg(Color::Magenta),
            UiState::NotAvailable => self.dim(),
            UiState::Pending => Style::default(),
        }
    }
}

fn symbol(s: UiState) -> &'static str {
    match s {
        UiState::Pending => "·",
        UiState::NeedsInput => "?",
        UiState::Ready => "•",
        UiState::Running => "»",
        UiState::Done => "✓",
        UiState::Failed => "✗",
        UiState::NotAvailable => "-",
    }
}

fn safe(s: &str) -> String {
    sanitize(s).into_owned()
}

pub fn render(f: &mut Frame, app: &App) {
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

    let title = format!(
        " mdcluster  {} -> {}",
        safe(&app.answers.install_root),
        if app.answers.shared_path.is_empty() {
            "(shared path?)".to_string()
        } else {
            safe(&app.answers.shared_path)
        }
    );
    f.render_widget(
        Paragraph::new(Line::from(Span::styled(title, t.bold()))),
        header,
    );
    render_steps(f, list, app, &t);
    match app.screen {
        Screen::Summary => render_summary(f, main, app, &t),
        Screen::Resume => render_resume(f, main, app, &t),
        Screen::Join => render_join(f, main, app, &t),
        _ => render_step(f, main, app, &t),
    }
    render_events(f, events, app, &t);
    f.render_widget(Paragraph::new(Span::styled(help_text(app), t.dim())), help);
    match app.screen {
        Screen::Confirm(kind) => render_confirm(f, area, app, kind, &t),
        Screen::SavePlan => render_save(f, area, app, &t),
        _ => {}
    }
    scrub(f.buffer_mut());
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
            let mut style = t.state(st);
            if *s == app.selected {
                style = style.add_modifier(Modifier::REVERSED);
            }
            ListItem::new(Line::from(Span::styled(
                format!("{} {:>2} {}", symbol(st), s.number(), s.id()),
                style,
            )))
        })
        .collect();
    f.render_widget(
        List::new(items).block(Block::default().borders(Borders::ALL).title(" Steps ")),
        area,
    );
}

fn heading<'a>(text: &'a str, t: &Theme) -> Line<'a> {
    Line::from(Span::styled(text, t.bold()))
}

fn render_step(f: &mut Frame, area: Rect, app: &App, t: &Theme) {
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
        PreviewState::Computing if step.available() => {
            lines.push(Line::default());
            lines.push(Line::from(Span::styled(
                "Preparing the preview...",
                t.dim(),
            )));
        }
        _ => {}
    }
    if !step.available() {
        lines.push(Line::default());
        lines.push(Line::from(Span::styled(
            format!("Not yet available. By hand: {}.", step.manual_hint()),
            t.dim(),
        )));
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
        let gauge = Gauge::default()
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(format!(" {} ", p.step)),
            )
            .gauge_style(t.fg(Color::Cyan))
            .ratio(ratio.clamp(0.0, 1.0))
            .label(label);
        f.render_widget(gauge, g);
    }
}

/// When a join code expires, as people read it.
fn until(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%H:%M UTC").to_string())
        .unwrap_or_else(|_| "?".into())
}

/// Steps 6-9: the join code, the nodes table (step 8) and the registration
/// (step 9). Names, reasons and rule details come from the network: sanitized.
fn cluster_lines(lines: &mut Vec<Line>, app: &App, t: &Theme, width: u16) {
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
fn log_lines(lines: &mut Vec<Line>, app: &App, t: &Theme) {
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

fn join_lines(lines: &mut Vec<Line>, app: &App, t: &Theme) {
    let c = &app.cluster;
    lines.push(Line::default());
    match (&c.code, &c.code_error, &app.discovery_scope) {
        (Some((code, expires)), _, scope) => {
            lines.push(Line::from(vec![
                Span::styled(" Join code ", t.bold()),
                Span::styled(safe(code), t.bold().add_modifier(Modifier::REVERSED)),
                Span::raw(format!("  valid until {}", until(*expires))),
            ]));
            let scope_arg = match scope {
                Some(s) if s.loopback => " --loopback".to_string(),
                Some(s) => s
                    .interfaces
                    .iter()
                    .map(|i| format!(" --interface {i}"))
                    .collect(),
                None => String::new(),
            };
            lines.push(Line::from(" On each secondary (MDaemon installed, same version, its own licence):"));
            lines.push(Line::from(Span::styled(
                format!(
                    "   mdcluster join --code {} --share '{}'{scope_arg}",
                    safe(code),
                    safe(app.answers.shared_path.trim())
                ),
                t.fg(Color::Cyan),
            )));
        }
        (None, Some(e), _) => lines.push(Line::from(Span::styled(
            format!(" No join code: {}", safe(e)),
            t.fg(Color::Red),
        ))),
        (None, None, None) => lines.push(Line::from(Span::styled(
            " Discovery is off in this session: add secondaries with a plan (`mdcluster apply --plan`).",
            t.dim(),
        ))),
        (None, None, Some(_)) => lines.push(Line::from(Span::styled(
            " Looking for secondaries...",
            t.dim(),
        ))),
    }
}

fn registration_lines(lines: &mut Vec<Line>, app: &App, t: &Theme) {
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

/// The nodes table. Wide panes get one line per node; narrow ones put the
/// standing on a second line.
fn nodes_table(lines: &mut Vec<Line>, app: &App, t: &Theme, width: u16) {
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
        let tone = match r.standing.tone() {
            Tone::Good => t.fg(Color::Green),
            Tone::Waiting => t.fg(Color::Yellow),
            Tone::Bad => t.fg(Color::Red),
        };
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
                Span::styled(safe(&r.standing.text()), tone),
            ])));
        } else {
            let addresses: String = safe(&r.addresses).chars().take(16).collect();
            lines.push(reversed(Line::from(vec![
                Span::raw(marker),
                Span::raw(format!("{name:<15} {addresses:<16} {id:>5}")),
            ])));
            lines.push(Line::from(Span::styled(
                format!("     {}", safe(&r.standing.text())),
                tone,
            )));
        }
    }
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

fn step_lines(
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

fn check_lines(lines: &mut Vec<Line>, sp: &StepPlan, t: &Theme) {
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

fn action_lines(
    lines: &mut Vec<Line>,
    sp: &StepPlan,
    preview: &crate::engine::Preview,
    profile: &crate::profile::Profile,
    t: &Theme,
) {
    if !sp.actions.is_empty() {
        lines.push(Line::default());
        lines.push(heading(
            if sp.state == crate::steps::StepState::Resume {
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
    } else if sp.state != crate::steps::StepState::Unavailable {
        lines.push(Line::default());
        lines.push(Line::from(Span::styled(
            format!("Nothing to change ({}).", state_label(sp.state)),
            t.dim(),
        )));
    }
    for n in &sp.notes {
        lines.push(Line::from(Span::styled(
            format!(" note: {}", safe(n)),
            t.dim(),
        )));
    }
}

fn render_summary(f: &mut Frame, area: Rect, app: &App, t: &Theme) {
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
                let mut notes: Vec<&String> = s.notes.iter().collect();
                notes.dedup();
                for n in notes {
                    lines.push(Line::from(format!(" - {}", safe(n))));
                }
                if fin.undo {
                    lines.push(Line::from(
                        " - if MDaemon was restarted with the new folders, restart it again",
                    ));
                } else {
                    lines.push(Line::from(" - to reverse everything: run the wizard again and press u, or `mdcluster undo --plan <plan>`"));
                }
                let manual: Vec<&str> = StepId::ALL
                    .iter()
                    .filter(|x| !x.available())
                    .map(|x| x.id())
                    .collect();
                lines.push(Line::from(format!(
                    " - not yet available, by hand: {}",
                    manual.join(", ")
                )));
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
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((app.scroll, 0)),
        area,
    );
}

/// The join screen: this machine as a secondary. Its facts are what the
/// primary will check; the status says where it stands.
fn render_join(f: &mut Frame, area: Rect, app: &App, t: &Theme) {
    let j = &app.join;
    let field = |label: &str, value: &str, focused: bool| {
        let cursor = if focused && !j.running { "█" } else { "" };
        let style = if focused {
            t.bold().add_modifier(Modifier::UNDERLINED)
        } else {
            Style::default()
        };
        Line::from(vec![
            Span::styled(format!(" {label}: "), style),
            Span::raw(format!("{}{cursor}", safe(value))),
        ])
    };
    let mut lines = vec![
        Line::from(
            "Announce this machine to the primary as a new secondary. The primary's wizard \
             (step 8) or `mdcluster code` shows the join code; it never crosses the network.",
        ),
        Line::default(),
        field("Join code", &j.code, j.field == 0),
        field("This node's name", &j.name, j.field == 1),
        Line::from(format!(
            " Shared path: {}",
            if app.answers.shared_path.trim().is_empty() {
                "(answer it in step 1; it is probed from here)".to_string()
            } else {
                safe(app.answers.shared_path.trim())
            }
        )),
    ];
    if let Some(facts) = &j.facts {
        let flag = |v: Option<bool>| match v {
            Some(true) => "on",
            Some(false) => "off",
            None => "unknown",
        };
        lines.push(Line::default());
        lines.push(heading("What the primary will check", t));
        lines.push(Line::from(format!(
            " MDaemon {}, time zone {}, licence fingerprint {}",
            safe(facts.version.as_deref().unwrap_or("unknown")),
            safe(&facts.time_zone),
            safe(facts.licence.as_deref().unwrap_or("unknown"))
        )));
        lines.push(Line::from(format!(
            " certificates installed: {}; attachment linking {}, automatic updates {}, domain IP binding {}",
            facts
                .certificates
                .as_ref()
                .map(|c| c.len().to_string())
                .unwrap_or_else(|| "unknown".into()),
            flag(facts.attachment_linking),
            flag(facts.auto_update),
            flag(facts.domain_ip_binding)
        )));
        lines.push(Line::from(match facts.share.writable {
            Some(true) => format!(" shared path writable as {}", safe(&facts.share.identity)),
            Some(false) => format!(
                " shared path NOT writable as {}",
                safe(&facts.share.identity)
            ),
            None => " shared path not probed".to_string(),
        }));
    }
    if !j.status.is_empty() {
        lines.push(Line::default());
        lines.push(heading("Status", t));
        for s in &j.status {
            let style = if j.verified == Some(false) || s.starts_with("warning:") {
                t.fg(Color::Yellow)
            } else if j.registered {
                t.fg(Color::Green)
            } else {
                Style::default()
            };
            lines.push(Line::from(Span::styled(format!(" {}", safe(s)), style)));
        }
    }
    let block = Block::default().borders(Borders::ALL).title(Span::styled(
        " Join a cluster (this machine is a secondary) ",
        t.bold(),
    ));
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

fn render_resume(f: &mut Frame, area: Rect, app: &App, t: &Theme) {
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

fn render_events(f: &mut Frame, area: Rect, app: &App, t: &Theme) {
    let rows = area.height.saturating_sub(2) as usize;
    let skip = app.events.len().saturating_sub(rows);
    let lines: Vec<Line> = app
        .events
        .iter()
        .skip(skip)
        .map(|e| Line::from(safe(e)))
        .collect();
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(" Events ", t.dim()));
    f.render_widget(Paragraph::new(lines).block(block), area);
}

fn help_text(app: &App) -> String {
    match (&app.screen, app.focus) {
        (Screen::Resume, _) => " r resume  u undo  q quit".into(),
        (Screen::Join, _) if app.join.running => " Esc stop announcing and go back".into(),
        (Screen::Join, _) => " type  Tab next field  Enter announce  Esc back".into(),
        (Screen::Confirm(_), _) => " y yes  n no".into(),
        (Screen::SavePlan, _) => " type a path  Enter save  Esc cancel  Ctrl-U clear".into(),
        (Screen::Running, _) => " Up/Down step  PgUp/PgDn scroll  q quit (asks first)".into(),
        (Screen::Summary, _) => {
            " Up/Down step  PgUp/PgDn scroll  Enter back to the steps  s save plan  q quit".into()
        }
        (Screen::Steps, Focus::Field(_)) => {
            " type to edit  Tab next  Enter done  Esc back  Ctrl-U clear".into()
        }
        (Screen::Steps, Focus::Nodes) => {
            " Up/Down node  Enter add  - take out  m enter a host  Esc back".into()
        }
        (Screen::Steps, Focus::ManualHost) => " type a host  Enter check  Esc back".into(),
        (Screen::Steps, Focus::Steps) if app.selected == StepId::ServerIds => {
            " Up/Down step  r registered in MDaemon  a apply  s save  u undo  q quit".into()
        }
        (Screen::Steps, Focus::Steps) if app.selected == StepId::Discover => {
            " Up/Down step  Enter choose nodes  a apply  s save  u undo  q quit".into()
        }
        (Screen::Steps, Focus::Steps) => {
            " Up/Dn step  Tab answer  PgUp/Dn scroll  a apply  s save  u undo  J join  q quit"
                .into()
        }
    }
}

/// A centred rectangle for popups.
fn centred(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width.saturating_sub(2));
    let h = height.min(area.height.saturating_sub(2));
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

fn render_confirm(f: &mut Frame, area: Rect, app: &App, kind: Confirm, t: &Theme) {
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
            lines.push(Line::default());
            lines.push(Line::from(
                "A journal and backups are kept; a rerun resumes and undo reverses.",
            ));
            " Apply "
        }
        Confirm::Undo => {
            lines.push(Line::from(
                "Undo what mdcluster changed on this installation, newest first?",
            ));
            lines.push(Line::default());
            lines.push(Line::from(
                "Only what mdcluster did is reversed; files changed since are kept.",
            ));
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
    lines.push(Line::from(vec![
        Span::styled(" y ", t.bold().add_modifier(Modifier::REVERSED)),
        Span::raw(" yes    "),
        Span::styled(" n ", t.bold().add_modifier(Modifier::REVERSED)),
        Span::raw(" no"),
    ]));
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

fn render_save(f: &mut Frame, area: Rect, app: &App, t: &Theme) {
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
