//! The `--json` interface: every object mdcluster prints for a script, as one
//! type. Each line of `--json` output is one [`JsonEvent`]; its `event` field
//! names the kind. `docs/json.md` lists every event with its fields. The
//! tests below build an example of every kind (the compiler's list of
//! variants is checked against them), snapshot their shapes, so a renamed,
//! retyped or removed field fails until the snapshot is updated on purpose,
//! and check that the page has a section for every event name.
//!
//! Compatibility: fields are only ever added; a field's name, type and
//! meaning stay. Consumers should ignore fields they do not know.

use crate::cluster::facts::Facts;
use crate::clusterlog::grid::CheckState;
use crate::clusterlog::{Format as LogLineFormat, Kind as LogKind};
use crate::discovery::survey::Source;
use crate::engine::events::Event as EngineEvent;
use crate::lb::check::Verdict;
use crate::location::Loc;
use crate::plan::ServerId;
use crate::plan::{Kind as BalancerKind, Plan};
use crate::problem::Problem;
use crate::steps::{Action, Check, StepId, StepStatus};
use serde::Serialize;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// One line of `--json` output. Several kinds share the name `finished`
/// (the last line of a command, with that command's result) and the
/// simulation's kinds carry `"simulation": true`.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
#[cfg_attr(test, derive(strum::EnumDiscriminants))]
#[cfg_attr(test, strum_discriminants(derive(strum::EnumIter)))]
pub(crate) enum JsonEvent<'a> {
    /// The command failed; `exit` is the process's exit code.
    Error { exit: u8, error: &'a Problem },
    /// `apply`: what one step will do (before anything is done).
    StepPreview {
        step: StepId,
        number: usize,
        title: &'static str,
        state: StepStatus,
        facts: Vec<Fact<'a>>,
        checks: &'a [Check],
        actions: Vec<PreviewAction<'a>>,
        notes: &'a [String],
        /// What the administrator does after the run.
        next: &'a [String],
        /// What the run leaves as chosen, at a cost (a folder kept on each node).
        warnings: &'a [String],
    },
    /// `status`: where one step stands.
    StepStatus {
        step: StepId,
        number: usize,
        title: &'static str,
        state: StepStatus,
        detail: String,
    },
    /// `undo`: one action it will reverse, newest first.
    UndoPreview {
        step: StepId,
        index: usize,
        action: &'a Action,
        description: String,
    },
    /// `cleanup`: an old mail store it will delete where its copy is identical.
    CleanupPreview { source: &'a Loc, copy: &'a Loc },
    /// `apply --dry-run`: the end of the preview.
    #[serde(rename = "finished")]
    DryRunFinished {
        dry_run: bool,
        steps_to_change: usize,
        /// Steps `--skip-blocked` would leave out, and what each waits for.
        left_out: &'a [crate::engine::LeftOut],
        exit: u8,
    },
    /// `apply`: the end of the run.
    #[serde(rename = "finished")]
    Applied {
        changed: &'a [StepId],
        journal: Option<&'a Path>,
        backups: Option<&'a Path>,
        next: &'a [String],
        /// Steps left out (with `--skip-blocked`) and what each waits for.
        left_out: &'a [crate::engine::LeftOut],
        exit: u8,
    },
    /// `undo`: the end of the run.
    #[serde(rename = "finished")]
    Undone {
        undone: &'a [StepId],
        journal: Option<&'a Path>,
        kept: &'a [PathBuf],
        /// What is left to do (in MDaemon) after the undo.
        next: &'a [String],
        exit: u8,
    },
    /// `cleanup`: the end of the run.
    #[serde(rename = "finished")]
    Cleaned {
        cleaned: usize,
        kept: &'a [PathBuf],
        exit: u8,
    },
    /// `discover`: the end of listening.
    #[serde(rename = "finished")]
    Discovered {
        found: usize,
        trusted: usize,
        why: &'a str,
        exit: u8,
    },
    /// `lb`, `lb failover`: the end of the run.
    Finished { exit: u8 },
    /// `plan validate`: the plan is valid (an invalid plan is an `error`).
    PlanValid {
        valid: bool,
        fingerprint: String,
        plan: &'a Plan,
        unreachable_here: Vec<String>,
    },
    /// `steps`: one of the eleven steps.
    StepInfo {
        number: usize,
        id: &'static str,
        title: &'static str,
        manual_steps: &'static str,
        purpose: &'static str,
    },
    /// `lb`: the configuration written for one balancer.
    LbConfig(LbReport<'a>),
    /// `lb failover`: the failover configuration written for one balancer.
    LbFailover(LbReport<'a>),
    /// `health`: one check of a round.
    HealthCheck {
        round: u64,
        #[serde(flatten)]
        check: &'a crate::health::Check,
    },
    /// `health`: the end of a round: the worst state, its exit code, the
    /// summary line monitoring systems read.
    HealthRound {
        round: u64,
        state: crate::health::State,
        exit: u8,
        checks: usize,
        ok: usize,
        warning: usize,
        critical: usize,
        unknown: usize,
        elapsed_ms: f64,
        summary: String,
        notes: &'a [String],
    },
    /// `health --watch --failover`: what the failover watch did.
    Failover(FailoverReport<'a>),
    /// `join`: the node announces itself.
    Announcing { name: &'a str, scope: String },
    /// `join`: the primary added the node to the cluster manifest.
    Added { name: &'a str, server_id: ServerId },
    /// `join`: the node is registered in MDaemon's cluster (`exit` when
    /// `join` ends here, without verifying).
    Registered {
        name: &'a str,
        server_id: ServerId,
        verify: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        exit: Option<u8>,
    },
    /// `join`: waiting for the primary in this node's cluster log.
    Verifying {
        name: &'a str,
        primary: &'a str,
        timeout: u64,
        pattern: &'a str,
    },
    /// `join`: the end, with whether this node is connected to the primary
    /// and replicating.
    Verified {
        ok: bool,
        name: &'a str,
        primary: Option<&'a str>,
        missing: &'a [String],
        warnings: &'a [String],
        log: Option<&'a Path>,
        pattern: Option<&'a str>,
        lines: Option<u64>,
        exit: u8,
    },
    /// `join`, `verify`: the cluster log found (or, `file` null, still looked for).
    LogFile {
        what: String,
        file: Option<&'a Path>,
        pattern: &'a str,
    },
    /// `join`, `verify`: a cluster-log line about a node.
    LogEvent {
        kind: LogKind,
        /// The node it is about, as the plan names it (null: none of them).
        node: Option<&'a str>,
        /// The node as the log line names it.
        named: &'a str,
        time: Option<&'a str>,
        severity: Option<&'a str>,
        format: LogLineFormat,
        text: &'a str,
    },
    /// `verify --lines`: every line read.
    LogLine { line: &'a crate::clusterlog::Event },
    /// `verify`: one check of one node changed.
    Check {
        node: &'a str,
        check: &'static str,
        ok: bool,
        state: CheckState,
        detail: &'a str,
    },
    /// `verify`: the end, with what is missing.
    VerifyResult {
        ok: bool,
        missing: &'a [String],
        warnings: &'a [String],
        notes: &'a [String],
        log: Option<&'a Path>,
        pattern: &'a str,
        lines: u64,
        unknown_lines: u64,
        exit: u8,
    },
    /// `facts`: this node's facts.
    Facts { facts: &'a Facts },
    /// `discover`: one node heard (or entered by hand) and judged.
    Node {
        name: &'a str,
        addresses: &'a [IpAddr],
        unsigned_addresses: &'a [IpAddr],
        source: Source,
        trusted: bool,
        untrusted: Option<&'a str>,
        addable: bool,
        facts: Option<&'a Facts>,
        rules: &'a [crate::cluster::rules::Verdict],
    },
    /// `simulate`: the simulation runs.
    SimulationStarted {
        simulation: bool,
        note: &'static str,
        primary: &'a Path,
        share: &'a Path,
        dir: &'a Path,
        names: &'a [String],
        log_format: crate::simulation::LogFormat,
        interval_ms: u64,
        faults: &'a [crate::simulation::Fault],
        scope: String,
        cluster_log: &'a Path,
        pid: u32,
    },
    /// `simulate`: the simulation stopped.
    SimulationStopped { simulation: bool, exit: u8 },
    /// `simulate`: a simulated secondary's sample installation.
    Secondary {
        name: &'a str,
        dir: &'a Path,
        created: bool,
        simulation: bool,
    },
    /// `simulate`: a simulated secondary announces itself.
    #[serde(rename = "announcing")]
    SimulatedAnnouncing { name: &'a str, simulation: bool },
    /// `simulate`: a simulated secondary was registered.
    #[serde(rename = "registered")]
    SimulatedRegistered {
        name: &'a str,
        server_id: ServerId,
        simulation: bool,
    },
    /// `simulate`: a node no longer registered stops announcing.
    Unregistered { name: &'a str, simulation: bool },
    /// `simulate`: a line the simulated cluster service wrote.
    #[serde(rename = "log-line")]
    SimulatedLogLine {
        /// Whose log: `primary` or a secondary's name.
        log_of: &'a str,
        node: &'a str,
        kind: &'static str,
        format: crate::simulation::logline::Format,
        file: &'a Path,
        line: &'a str,
        simulation: bool,
    },
    /// `simulate`: the simulated log went on to the next day's file.
    Rollover {
        from: &'a Path,
        to: &'a Path,
        simulation: bool,
    },
    /// `simulate`: a remark of the simulation.
    #[serde(rename = "note")]
    SimulationNote { text: &'a str, simulation: bool },
    /// `bench-mover` (hidden): one timed move or copy.
    BenchMover {
        op: &'a str,
        threads: usize,
        flush: &'a str,
        method: crate::fsops::mover::Method,
        files: u64,
        bytes: u64,
        skipped: usize,
        seconds: f64,
        files_per_s: f64,
        mb_per_s: f64,
    },
    /// `bench-discovery` (hidden): how long until a node was trusted.
    BenchDiscovery {
        name: &'a str,
        scope: String,
        start_to_trusted_ms: f64,
        start_to_announcing_ms: Option<f64>,
        announcing_to_trusted_ms: Option<f64>,
        listen_to_trusted_ms: f64,
    },
    /// The engine at work (`apply`, `undo`, `cleanup`): `step-started`,
    /// `step-progress`, `action-started`, `action-done`, `step-done`,
    /// `step-waiting`, `step-failed`, `note`.
    #[serde(untagged)]
    Engine(&'a EngineEvent),
}

/// A fact of a step's preview.
#[derive(Debug, Serialize)]
pub struct Fact<'a> {
    pub name: &'a str,
    pub value: String,
}

/// An action of a step's preview, with the diff of the file it edits.
#[derive(Debug, Serialize)]
pub(crate) struct PreviewAction<'a> {
    pub index: usize,
    pub action: &'a Action,
    pub description: String,
    pub diff: Option<Vec<String>>,
}

/// What `lb` wrote for one balancer and what the balancer's check said.
/// What the failover watch did: `action` is `counting` (a node failed a
/// round: `node`, `rounds`), `moved` or `restored` (`from`, `to`, `files`,
/// the reload), `refused` (`from`, `to`, `why`) or `also-failed` (`node`,
/// while `from` is moved to `to`).
#[derive(Debug, Serialize)]
pub(crate) struct FailoverReport<'a> {
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rounds: Option<u32>,
    pub files: &'a [PathBuf],
    /// The reload command: run (`reload_ran`), or for the administrator.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reload: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reload_ran: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reload_ok: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reload_output: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub(crate) struct LbReport<'a> {
    pub kind: BalancerKind,
    /// The node whose sessions move, and where (null for `lb-config`).
    pub failover: Option<&'a crate::lb::Move>,
    pub files: Vec<WrittenFile<'a>>,
    pub check: &'a Verdict,
    /// `keepalived -t` on each balancer host's file (`[load_balancer.ha]`; else empty).
    pub keepalived: &'a [crate::lb::HostVerdict],
    pub notes: &'a [String],
}

/// One file `lb` wrote.
#[derive(Debug, Serialize)]
pub(crate) struct WrittenFile<'a> {
    pub path: &'a Path,
    pub about: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::events::{EventDiscriminants as EngineEventDiscriminants, Outcome};
    use crate::winpath::WinPath;
    use serde_json::Value;
    use strum::IntoEnumIterator;

    /// The shape of a JSON value: its keys in order and the type of each
    /// value, arrays by their first element. Values do not matter, so the
    /// snapshot changes only when the interface does.
    fn shape(v: &Value, indent: usize, out: &mut String) {
        let pad = "  ".repeat(indent);
        match v {
            Value::Null => out.push_str("null"),
            Value::Bool(_) => out.push_str("boolean"),
            Value::Number(n) if n.is_f64() => out.push_str("number"),
            Value::Number(_) => out.push_str("integer"),
            Value::String(_) => out.push_str("string"),
            Value::Array(items) => match items.first() {
                None => out.push_str("[]"),
                Some(first) => {
                    out.push('[');
                    shape(first, indent, out);
                    out.push(']');
                }
            },
            Value::Object(map) => {
                out.push_str("{\n");
                for (k, v) in map {
                    out.push_str(&format!("{pad}  {k}: "));
                    shape(v, indent + 1, out);
                    out.push('\n');
                }
                out.push_str(&format!("{pad}}}"));
            }
        }
    }

    fn name_of(e: &JsonEvent<'_>) -> String {
        let v = serde_json::to_value(e).unwrap();
        v["event"].as_str().unwrap_or("?").to_string()
    }

    /// One example of every kind of event, built from the real types; most
    /// optional fields filled, so their shape shows (the page says which
    /// may be null or absent).
    #[test]
    fn every_json_event_has_the_shape_the_snapshot_and_docs_json_md_list() {
        let profile = crate::profile::Profile::builtin();
        let plan = crate::plan::Plan::parse(crate::plan::EXAMPLE, Path::new("plan.toml"), &profile)
            .unwrap();
        let loc = |w: &str, l: &str| Loc {
            win: WinPath::parse(w).unwrap(),
            local: PathBuf::from(l),
        };
        let source = loc("C:\\MDaemon\\Users", "/srv/MDaemon/Users");
        let copy = loc("\\\\FS1\\MDShare\\Users", "/mnt/share/Users");
        let action = Action::CreateFolder {
            folder: copy.clone(),
        };
        let problem = Problem::usage("the plan names no primary")
            .at("plan.toml:3:1")
            .fix("add a node with role = \"primary\"");
        let checks = vec![Check::fail(
            "share reachable",
            "\\\\FS1\\MDShare does not answer",
            "check the share",
        )];
        let strings = vec!["text".to_string()];
        let steps = [StepId::ALL[0]];
        let paths = vec![PathBuf::from("/srv/MDaemon/mdcluster/backups/x")];
        let facts = Facts {
            name: "MAIL2".into(),
            addresses: vec!["10.0.0.2".parse().unwrap()],
            version: Some("24.0.1".into()),
            licence: Some("ab12".into()),
            certificates: Some(vec!["3f2a".into()]),
            certificates_in_use: vec!["3f2a".into()],
            attachment_linking: Some(false),
            auto_update: Some(false),
            domain_ip_binding: Some(false),
            letsencrypt: Some(false),
            ..Facts::default()
        };
        let addresses: Vec<IpAddr> = vec!["10.0.0.2".parse().unwrap()];
        let rules = vec![crate::cluster::rules::Verdict {
            rule: crate::cluster::rules::RuleId::Version,
            level: crate::cluster::rules::Level::Pass,
            detail: "same version".into(),
        }];
        let verdict = Verdict::Passed {
            command: "haproxy -c -f haproxy.cfg".into(),
            output: String::new(),
        };
        let keepalived = vec![crate::lb::HostVerdict {
            host: "lb1".into(),
            path: "keepalived/lb1/keepalived.conf".into(),
            check: Verdict::Passed {
                command: "keepalived -t -f check-keepalived.conf".into(),
                output: String::new(),
            },
        }];
        let moved = crate::lb::Move {
            from: "MAIL2".into(),
            to: "MAIL1".into(),
        };
        let faults: Vec<crate::simulation::Fault> = vec!["SIM2:clock".parse().unwrap()];
        let log_line = crate::clusterlog::Event {
            time: Some("2026-11-22 10:15:02.117".into()),
            severity: Some("info".into()),
            text: "connected to MAIL2".into(),
            raw: "Sun 2026-11-22 10:15:02.117: 17: connected to MAIL2".into(),
            format: LogLineFormat::Classic,
        };
        let step = StepId::ALL[0];
        let engine_events = [
            EngineEvent::StepStarted {
                step,
                number: 1,
                title: step.title(),
            },
            EngineEvent::StepProgress {
                step,
                progress: crate::engine::events::FolderProgress {
                    phase: crate::engine::events::Phase::Copy,
                    files_done: 1,
                    files_total: 2,
                    bytes_done: 10,
                    bytes_total: 20,
                    files_removed: 0,
                    folder: 1,
                    folders: 3,
                    step_bytes_done: 10,
                    step_bytes_total: 60,
                },
            },
            EngineEvent::ActionStarted {
                step,
                action: 0,
                kind: "create-folder",
                description: "create folder".into(),
            },
            EngineEvent::ActionDone {
                step,
                action: 0,
                kind: "create-folder",
            },
            EngineEvent::StepDone {
                step,
                outcome: Outcome::Changed,
            },
            EngineEvent::StepWaiting {
                step,
                reason: "waiting for MAIL2".into(),
            },
            EngineEvent::StepFailed {
                step,
                error: problem.clone(),
            },
            EngineEvent::Note {
                step: Some(step),
                text: "restart MDaemon".into(),
            },
        ];
        let p = Path::new("/srv/MDaemon/Logs/MDaemon-Cluster.log");
        let mut events = vec![
            JsonEvent::Error {
                exit: 2,
                error: &problem,
            },
            JsonEvent::StepPreview {
                step,
                number: 1,
                title: step.title(),
                state: StepStatus::Ready,
                facts: vec![Fact {
                    name: "shared path",
                    value: "\\\\FS1\\MDShare".into(),
                }],
                checks: &checks,
                actions: vec![PreviewAction {
                    index: 0,
                    action: &action,
                    description: action.describe_now(),
                    diff: Some(vec!["+LockFiles=x".into()]),
                }],
                notes: &strings,
                next: &strings,
                warnings: &strings,
            },
            JsonEvent::StepStatus {
                step,
                number: 1,
                title: step.title(),
                state: StepStatus::Done,
                detail: String::new(),
            },
            JsonEvent::UndoPreview {
                step,
                index: 0,
                action: &action,
                description: action.describe_undo(),
            },
            JsonEvent::CleanupPreview {
                source: &source,
                copy: &copy,
            },
            JsonEvent::DryRunFinished {
                dry_run: true,
                steps_to_change: 3,
                left_out: &[crate::engine::LeftOut {
                    step: StepId::ServerIds,
                    waits_for: StepId::Discover,
                }],
                exit: 0,
            },
            JsonEvent::Applied {
                changed: &steps,
                journal: Some(p),
                backups: Some(p),
                next: &strings,
                left_out: &[crate::engine::LeftOut {
                    step: StepId::LoadBalancer,
                    waits_for: StepId::LoadBalancer,
                }],
                exit: 0,
            },
            JsonEvent::Undone {
                undone: &steps,
                journal: Some(p),
                kept: &paths,
                next: &strings,
                exit: 0,
            },
            JsonEvent::Cleaned {
                cleaned: 1,
                kept: &paths,
                exit: 0,
            },
            JsonEvent::Discovered {
                found: 1,
                trusted: 1,
                why: "",
                exit: 0,
            },
            JsonEvent::Finished { exit: 0 },
            JsonEvent::PlanValid {
                valid: true,
                fingerprint: plan.fingerprint(),
                plan: &plan,
                unreachable_here: strings.clone(),
            },
            JsonEvent::StepInfo {
                number: 1,
                id: step.id(),
                title: step.title(),
                manual_steps: step.manual_steps(),
                purpose: step.purpose(),
            },
        ];
        for failover in [None, Some(&moved)] {
            let report = LbReport {
                kind: BalancerKind::Haproxy,
                failover,
                files: vec![WrittenFile {
                    path: p,
                    about: "HAProxy configuration",
                }],
                check: &verdict,
                keepalived: &keepalived,
                notes: &strings,
            };
            events.push(match failover {
                None => JsonEvent::LbConfig(report),
                Some(_) => JsonEvent::LbFailover(report),
            });
        }
        let check = crate::health::Check {
            node: Some("MAIL2".into()),
            check: "smtp".into(),
            target: "10.0.0.2:25".into(),
            state: crate::health::State::Ok,
            latency_ms: Some(1.5),
            read: Some("220 MAIL2 ESMTP".into()),
            detail: "an SMTP greeting".into(),
            last_confirmed: Some("2026-11-22 10:15:02.117".into()),
            age_s: Some(60),
            clock_offset_s: Some(0.5),
            answered: Some(true),
        };
        events.extend([
            JsonEvent::HealthCheck {
                round: 1,
                check: &check,
            },
            JsonEvent::HealthRound {
                round: 1,
                state: crate::health::State::Ok,
                exit: 0,
                checks: 1,
                ok: 1,
                warning: 0,
                critical: 0,
                unknown: 0,
                elapsed_ms: 3.5,
                summary: "MDCLUSTER OK - all 1 checks OK | 'MAIL2 smtp'=1.5ms;1000;3000;0".into(),
                notes: &strings,
            },
            JsonEvent::Failover(FailoverReport {
                action: "moved",
                node: None,
                from: Some("MAIL2"),
                to: Some("MAIL1"),
                rounds: None,
                files: &paths,
                reload: Some("systemctl reload haproxy".into()),
                reload_ran: Some(true),
                reload_ok: Some(true),
                reload_output: None,
                why: None,
            }),
        ]);
        events.extend([
            JsonEvent::Announcing {
                name: "MAIL2",
                scope: "eth0".into(),
            },
            JsonEvent::Added {
                name: "MAIL2",
                server_id: ServerId::new(2).unwrap(),
            },
            JsonEvent::Registered {
                name: "MAIL2",
                server_id: ServerId::new(2).unwrap(),
                verify: false,
                exit: Some(0),
            },
            JsonEvent::Verifying {
                name: "MAIL2",
                primary: "MAIL1",
                timeout: 60,
                pattern: "MDaemon-Cluster*.log",
            },
            JsonEvent::Verified {
                ok: true,
                name: "MAIL2",
                primary: Some("MAIL1"),
                missing: &strings,
                warnings: &strings,
                log: Some(p),
                pattern: Some("MDaemon-Cluster*.log"),
                lines: Some(10),
                exit: 0,
            },
            JsonEvent::LogFile {
                what: "found".into(),
                file: Some(p),
                pattern: "MDaemon-Cluster*.log",
            },
            JsonEvent::LogEvent {
                kind: LogKind::Connected,
                node: Some("MAIL2"),
                named: "mail2",
                time: Some("2026-11-22 10:15:02.117"),
                severity: Some("info"),
                format: LogLineFormat::Classic,
                text: "connected",
            },
            JsonEvent::LogLine { line: &log_line },
            JsonEvent::Check {
                node: "MAIL2",
                check: "connected",
                ok: true,
                state: CheckState::Pass,
                detail: "connected at 10:15",
            },
            JsonEvent::VerifyResult {
                ok: true,
                missing: &strings,
                warnings: &strings,
                notes: &strings,
                log: Some(p),
                pattern: "MDaemon-Cluster*.log",
                lines: 10,
                unknown_lines: 0,
                exit: 0,
            },
            JsonEvent::Facts { facts: &facts },
            JsonEvent::Node {
                name: "MAIL2",
                addresses: &addresses,
                unsigned_addresses: &addresses,
                source: Source::Mdns,
                trusted: false,
                untrusted: Some("signed with another join code"),
                addable: false,
                facts: Some(&facts),
                rules: &rules,
            },
            JsonEvent::SimulationStarted {
                simulation: true,
                note: "SIMULATION",
                primary: p,
                share: p,
                dir: p,
                names: &strings,
                log_format: crate::simulation::LogFormat::Classic,
                interval_ms: 500,
                faults: &faults,
                scope: "lo".into(),
                cluster_log: p,
                pid: 1,
            },
            JsonEvent::SimulationStopped {
                simulation: true,
                exit: 0,
            },
            JsonEvent::Secondary {
                name: "SIM2",
                dir: p,
                created: true,
                simulation: true,
            },
            JsonEvent::SimulatedAnnouncing {
                name: "SIM2",
                simulation: true,
            },
            JsonEvent::SimulatedRegistered {
                name: "SIM2",
                server_id: ServerId::new(2).unwrap(),
                simulation: true,
            },
            JsonEvent::Unregistered {
                name: "SIM2",
                simulation: true,
            },
            JsonEvent::SimulatedLogLine {
                log_of: "primary",
                node: "SIM2",
                kind: "connected",
                format: crate::simulation::logline::Format::Classic,
                file: p,
                line: "Sun 2026-11-22 10:15:02.117: 17: connected",
                simulation: true,
            },
            JsonEvent::Rollover {
                from: p,
                to: p,
                simulation: true,
            },
            JsonEvent::SimulationNote {
                text: "SIM2 never connects (fault)",
                simulation: true,
            },
            JsonEvent::BenchMover {
                op: "move",
                threads: 4,
                flush: "auto",
                method: crate::fsops::mover::Method::Copy,
                files: 10,
                bytes: 100,
                skipped: 0,
                seconds: 0.5,
                files_per_s: 20.0,
                mb_per_s: 0.2,
            },
            JsonEvent::BenchDiscovery {
                name: "MAIL2",
                scope: "lo".into(),
                start_to_trusted_ms: 1.5,
                start_to_announcing_ms: Some(0.5),
                announcing_to_trusted_ms: Some(1.0),
                listen_to_trusted_ms: 1.0,
            },
        ]);
        events.extend(engine_events.iter().map(JsonEvent::Engine));

        // Every kind has its example.
        let kinds: Vec<JsonEventDiscriminants> =
            events.iter().map(JsonEventDiscriminants::from).collect();
        for kind in JsonEventDiscriminants::iter() {
            assert!(kinds.contains(&kind), "no example of {kind:?}: add one");
        }
        let engine_kinds: Vec<EngineEventDiscriminants> = engine_events
            .iter()
            .map(EngineEventDiscriminants::from)
            .collect();
        for kind in EngineEventDiscriminants::iter() {
            assert!(
                engine_kinds.contains(&kind),
                "no example of the engine's {kind:?}: add one"
            );
        }

        // The shapes, in one snapshot (a changed field changes it).
        let mut text = String::new();
        for e in &events {
            let v = serde_json::to_value(e).unwrap();
            let variant = format!("{:?}", JsonEventDiscriminants::from(e));
            text.push_str(&format!("{} ({variant}) ", name_of(e)));
            shape(&v, 0, &mut text);
            text.push_str("\n\n");
        }
        insta::assert_snapshot!(text);

        // Every event name is documented in docs/json.md, and the page names
        // no event that does not exist.
        let page =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/json.md"))
                .unwrap();
        let names: std::collections::BTreeSet<String> = events.iter().map(name_of).collect();
        for n in &names {
            assert!(
                page.contains(&format!("### `{n}`")),
                "docs/json.md has no section `### `{n}``"
            );
        }
        for line in page.lines() {
            if let Some(n) = line.strip_prefix("### `").and_then(|l| l.strip_suffix('`')) {
                assert!(
                    names.contains(n),
                    "docs/json.md documents `{n}`, which mdcluster never prints"
                );
            }
        }
    }
}
