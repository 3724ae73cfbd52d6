//! The join screen: this machine as a secondary, announcing itself with
//! the primary's join code until it is registered, then verified.

use super::steps::until;
use crate::wizard::app::{App, Cmd, JoinRequest, JoinUpdate, Screen};
use crate::wizard::keys::Action;
use crate::wizard::view::{heading, safe, Theme};
use crate::workflows::join::JoinEvent;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;

/// Most characters of the code and name fields.
const FIELD_MAX: usize = 40;

impl App {
    pub(super) fn join_act(&mut self, action: Action) -> Vec<Cmd> {
        match action {
            Action::Back => self.screen = Screen::Steps,
            Action::StopAnnouncing => {
                self.screen = Screen::Steps;
                self.join.running = false;
                self.join.generation += 1;
                self.event("stopped announcing this node");
                return vec![Cmd::StopJoin];
            }
            Action::NextField => self.join.field = 1 - self.join.field,
            Action::Erase => {
                self.join_field().pop();
            }
            Action::Announce => return self.start_join(),
            _ => {}
        }
        Vec::new()
    }

    pub(super) fn join_type(&mut self, c: char) {
        let field = self.join_field();
        if field.len() < FIELD_MAX {
            field.push(c);
        }
    }

    /// The field being typed in: the code, or the name.
    fn join_field(&mut self) -> &mut String {
        if self.join.field == 0 {
            &mut self.join.code
        } else {
            &mut self.join.name
        }
    }

    fn start_join(&mut self) -> Vec<Cmd> {
        if let Err(p) = crate::cluster::pairing::JoinCode::parse(&self.join.code) {
            self.event(p.what);
            return Vec::new();
        }
        let name = self.join.name.trim().to_uppercase();
        if let Err(why) = crate::plan::check_computer_name(&name) {
            self.event(format!("the name {why}"));
            return Vec::new();
        }
        let share = self
            .answers
            .plan(&self.profile, &self.plan_file)
            .ok()
            .map(|plan| (plan.mounts, plan.shared.path));
        if share.is_none() {
            self.event("the shared path is not answered yet (step 1): the share is not probed");
        }
        self.join.generation += 1;
        self.join.running = true;
        self.join.status.clear();
        self.join.server_id = None;
        self.join.registered = false;
        self.join.verified = None;
        vec![Cmd::Join {
            generation: self.join.generation,
            request: JoinRequest {
                root: self.answers.install_local.clone(),
                share,
                name,
                code: self.join.code.clone(),
                scope: self.discovery_scope.clone().unwrap_or_default(),
            },
        }]
    }

    pub(crate) fn join_update(&mut self, update: JoinUpdate) {
        let j = &mut self.join;
        let event = match update {
            JoinUpdate::Event(event) => event,
            JoinUpdate::Failed(e) => {
                j.running = false;
                j.status.push(format!("stopped: {e}"));
                return;
            }
        };
        match event {
            JoinEvent::Facts(f) => j.facts = Some(*f),
            JoinEvent::Announcing { scope } => j
                .status
                .push(format!("announcing on {scope}; waiting for the primary")),
            JoinEvent::Added { server_id } => {
                j.server_id = Some(server_id);
                j.status.push(format!(
                    "added to the cluster as server ID {server_id}; waiting for its registration in MDaemon on the primary"
                ));
            }
            JoinEvent::Registered { server_id, verify } => {
                j.server_id = Some(server_id);
                j.registered = true;
                j.running = verify;
                j.status.push(format!(
                    "registered as server ID {server_id}: this node is in the cluster"
                ));
            }
            JoinEvent::Verifying { primary, .. } => {
                j.running = true;
                j.status.push(format!(
                    "verifying: waiting for {primary} in this node's cluster log"
                ));
            }
            // The log's lines and file changes: the verdict below says what counts.
            JoinEvent::Log(_) | JoinEvent::LogEvent { .. } => {}
            JoinEvent::Verified(v) => {
                j.running = false;
                j.verified = Some(v.ok);
                for w in v.warnings {
                    j.status.push(format!("warning: {w}"));
                }
                if v.ok {
                    let log = v.log.map(|l| l.display().to_string()).unwrap_or_default();
                    j.status
                        .push(format!("verified: connected and replicating ({log})"));
                } else {
                    for m in v.missing {
                        j.status.push(format!("NOT verified: {m}"));
                    }
                }
            }
        }
    }
}

/// The join screen: this machine as a secondary. Its facts are what the
/// primary will check; the status says where it stands.
pub(crate) fn render_join(f: &mut Frame, area: Rect, app: &App, t: &Theme) {
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
             (step 8) or `mdcluster code --show` shows the join code; it never crosses the network.",
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

pub(crate) fn join_lines(lines: &mut Vec<Line>, app: &App, t: &Theme) {
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
            lines.push(Line::from(" On each secondary (MDaemon installed, same version, its own licence), run this and type the code:"));
            lines.push(Line::from(Span::styled(
                format!(
                    "   {}",
                    safe(&crate::cluster::pairing::join_command(
                        Some(&app.answers.shared_path),
                        &scope_arg
                    ))
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
