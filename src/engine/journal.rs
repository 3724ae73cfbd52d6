//! The journal: an append-only JSON-lines file, fsynced after every record.
//!
//! Invariants:
//! - Before an action runs, an `intent` record naming it is on disk; after it
//!   succeeds, a `done` record with its evidence. A step's full action list is
//!   recorded once (`step-begin`) before its first action, so a rerun resumes
//!   exactly the recorded actions, not a re-computed guess.
//! - A crash can tear only the last line. Reading drops a torn last line (it
//!   never recorded a completed fact); damage anywhere else is an error, and
//!   the file is left as it is.
//! - `undo` writes `undo-intent`/`undo-done` the same way, then `undone`; the
//!   journal is then archived so the next apply starts fresh. An undo of the
//!   latest run alone names it in its `undo-begin` (format 2) and ends with
//!   `latest-run-undone`; the journal goes on.
//! - Every `run-begin` and `undo-begin` names the journal format it was written in
//!   ([`FORMAT_RUN`] or [`FORMAT_LATEST_UNDO`]; a record without it is format 1). A journal with a newer
//!   format than this mdcluster reads is refused as such, naming the version
//!   that wrote it, never reported as damaged (docs/state-formats.md).

use super::evidence::{Evidence, StepEvidence};
use crate::problem::{Exit, Problem};
use crate::steps::{Action, StepId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

pub(crate) const FILE_NAME: &str = "journal.jsonl";

/// The newest journal format this mdcluster reads. Raised only for a change
/// older versions would misread; see docs/state-formats.md.
pub(crate) const FORMAT: u32 = 3;
/// The format of a run and of an undo of everything: what mdcluster 0.1.0
/// reads too.
pub(crate) const FORMAT_RUN: u32 = 1;
/// The format of an undo of the latest run alone (its `undo-begin` names the
/// run, and a `latest-run-undone` record ends it): older versions would take
/// it for an unfinished undo of everything, so they refuse it by name.
pub(crate) const FORMAT_LATEST_UNDO: u32 = 2;
/// The format of a run that takes up a data move a finished run did (a
/// `step-again` of steps 2-5: what an earlier version left where it was).
/// Older versions would resume the move and take the rewrite of
/// MDaemon.ini for done, so they refuse it by name.
pub(crate) const FORMAT_MOVES_AGAIN: u32 = 3;

fn format_one() -> u32 {
    1
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "record", rename_all = "kebab-case")]
pub enum Record {
    RunBegin {
        run: String,
        command: String,
        plan: String,
        plan_file: String,
        version: String,
        /// The journal format of the records that follow ([`FORMAT`]).
        #[serde(default = "format_one")]
        format: u32,
    },
    StepBegin {
        step: StepId,
        actions: Vec<Action>,
    },
    /// More actions for a step begun earlier (cleanup after `--keep-source`);
    /// their indexes follow the step's earlier actions.
    StepExtend {
        step: StepId,
        actions: Vec<Action>,
    },
    /// A cluster step judged again in a later run (a node added), or a
    /// move that finds what an earlier run left (format 3): its new actions
    /// follow the earlier ones, and the step is in progress again.
    StepAgain {
        step: StepId,
        actions: Vec<Action>,
    },
    Intent {
        step: StepId,
        action: usize,
    },
    Done {
        step: StepId,
        action: usize,
        /// An [`Evidence`], read back knowing the action ([`Evidence::read`]).
        evidence: serde_json::Value,
    },
    StepDone {
        step: StepId,
        evidence: StepEvidence,
    },
    StepFailed {
        step: StepId,
        error: String,
    },
    RunEnd {
        outcome: String,
    },
    UndoBegin {
        run: String,
        /// The journal format of the records that follow ([`FORMAT`]).
        #[serde(default = "format_one")]
        format: u32,
        /// The mdcluster version that began the undo.
        #[serde(default)]
        version: String,
        /// The run this undo reverses on its own (format 2); none: everything.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        latest_run: Option<String>,
    },
    UndoIntent {
        step: StepId,
        action: usize,
    },
    UndoDone {
        step: StepId,
        action: usize,
        /// An [`Evidence`] of the undo.
        evidence: serde_json::Value,
    },
    Undone {},
    /// The undo of one run (`latest_run` of its `undo-begin`) ended; the
    /// journal goes on with the runs before it (format 2).
    LatestRunUndone {
        run: String,
    },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Line {
    pub seq: u64,
    pub time: String,
    #[serde(flatten)]
    pub record: Record,
}

/// What one step's records say.
#[derive(Clone, Debug, Default)]
pub struct StepRecord {
    pub actions: Vec<Action>,
    pub intents: std::collections::BTreeSet<usize>,
    pub done: BTreeMap<usize, Evidence>,
    pub finished: Option<StepEvidence>,
    pub failed: Option<String>,
    pub undo_intents: std::collections::BTreeSet<usize>,
    pub undo_done: std::collections::BTreeSet<usize>,
}

/// A run of the journal and the actions it began, in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunActions {
    pub run: String,
    pub actions: Vec<(StepId, usize)>,
    /// It began while an earlier run was unfinished (it finished that run).
    pub resumed: bool,
    /// Its `run-end` is on record.
    pub ended: bool,
}

/// The journal's content, replayed.
#[derive(Clone, Debug, Default)]
pub struct Replay {
    /// Plan fingerprint and file of the first run.
    pub plan: Option<(String, String)>,
    /// Id of the first run (names the backup folder).
    pub first_run: Option<String>,
    pub steps: BTreeMap<StepId, StepRecord>,
    /// Action order as executed: (step, index), for undo in reverse.
    pub executed: Vec<(StepId, usize)>,
    pub undo_begun: bool,
    pub undone: bool,
    /// The run an unfinished undo reverses on its own (None: everything).
    pub undoing_run: Option<String>,
    /// Each run, with the actions it began.
    pub runs: Vec<RunActions>,
    pub records: u64,
    pub last_seq: u64,
}

impl Replay {
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }
    /// The actions a run began (none for a run not in this journal).
    pub(crate) fn actions_of(&self, run: &str) -> &[(StepId, usize)] {
        self.runs
            .iter()
            .find(|r| r.run == run)
            .map_or(&[][..], |r| r.actions.as_slice())
    }
    pub fn step(&self, step: StepId) -> Option<&StepRecord> {
        self.steps.get(&step)
    }
    pub fn finished(&self, step: StepId) -> bool {
        self.step(step).is_some_and(|s| s.finished.is_some())
    }
    pub fn begun(&self, step: StepId) -> bool {
        self.step(step).is_some()
    }
    /// An earlier run stopped part-way: a step began and did not finish.
    pub(crate) fn interrupted(&self) -> bool {
        !self.undone
            && self
                .steps
                .values()
                .any(|s| !s.actions.is_empty() && s.finished.is_none())
    }
    /// MDaemon was stopped by this journal's run and not started again since.
    pub(crate) fn stopped_by_us(&self) -> bool {
        let mut stopped = false;
        for (step, i) in &self.executed {
            let Some(rec) = self.steps.get(step) else {
                continue;
            };
            if !rec.done.contains_key(i) || rec.undo_done.contains(i) {
                continue;
            }
            match rec.actions.get(*i) {
                Some(Action::StopService { .. }) => stopped = true,
                Some(Action::StartService { .. }) => stopped = false,
                _ => {}
            }
        }
        stopped
    }

    /// Copies of a `--keep-source` run whose source was not removed yet:
    /// (source, copy).
    pub(crate) fn kept_sources(&self) -> Vec<(crate::location::Loc, crate::location::Loc)> {
        let Some(rec) = self.steps.get(&StepId::MailStore) else {
            return Vec::new();
        };
        let finished = |i: &usize| rec.done.contains_key(i) && !rec.undo_done.contains(i);
        let cleaned: Vec<&crate::location::Loc> = rec
            .actions
            .iter()
            .enumerate()
            .filter(|(i, _)| finished(i))
            .filter_map(|(_, a)| match a {
                Action::DeleteSource { source, .. } => Some(source),
                _ => None,
            })
            .collect();
        rec.actions
            .iter()
            .enumerate()
            .filter(|(i, _)| finished(i))
            .filter_map(|(_, a)| match a {
                Action::CopyFolder { from, to, .. } if !cleaned.contains(&from) => {
                    Some((from.clone(), to.clone()))
                }
                _ => None,
            })
            .collect()
    }

    /// Whether a finished (and not undone) action of this kind exists for the step.
    pub(crate) fn done_kind(&self, step: StepId, kind: &str) -> bool {
        self.steps.get(&step).is_some_and(|rec| {
            rec.actions.iter().enumerate().any(|(i, a)| {
                a.kind() == kind && rec.done.contains_key(&i) && !rec.undo_done.contains(&i)
            })
        })
    }

    /// The plan file the first run named.
    pub fn plan_file(&self) -> Option<&str> {
        self.plan.as_ref().map(|(_, f)| f.as_str())
    }

    fn apply(&mut self, line: &Line) {
        self.records += 1;
        self.last_seq = line.seq;
        match &line.record {
            Record::RunBegin {
                run,
                plan,
                plan_file,
                ..
            } => {
                if self.plan.is_none() {
                    self.plan = Some((plan.clone(), plan_file.clone()));
                    self.first_run = Some(run.clone());
                }
                let resumed = self.interrupted() || self.runs.last().is_some_and(|r| !r.ended);
                self.runs.push(RunActions {
                    run: run.clone(),
                    actions: Vec::new(),
                    resumed,
                    ended: false,
                });
            }
            Record::StepBegin { step, actions } => {
                self.steps.entry(*step).or_default().actions = actions.clone();
            }
            Record::StepExtend { step, actions } => {
                self.steps
                    .entry(*step)
                    .or_default()
                    .actions
                    .extend(actions.iter().cloned());
            }
            Record::StepAgain { step, actions } => {
                let s = self.steps.entry(*step).or_default();
                s.actions.extend(actions.iter().cloned());
                s.finished = None;
                s.failed = None;
            }
            Record::Intent { step, action } => {
                self.steps.entry(*step).or_default().intents.insert(*action);
                if !self.executed.contains(&(*step, *action)) {
                    self.executed.push((*step, *action));
                    if let Some(run) = self.runs.last_mut() {
                        run.actions.push((*step, *action));
                    }
                }
            }
            Record::Done {
                step,
                action,
                evidence,
            } => {
                let s = self.steps.entry(*step).or_default();
                let evidence = match s.actions.get(*action) {
                    Some(a) => Evidence::read(a, false, evidence.clone()),
                    None => Evidence::Unread(evidence.clone()),
                };
                s.done.insert(*action, evidence);
            }
            Record::StepDone { step, evidence } => {
                let s = self.steps.entry(*step).or_default();
                s.finished = Some(evidence.clone());
                s.failed = None;
            }
            Record::StepFailed { step, error } => {
                self.steps.entry(*step).or_default().failed = Some(error.clone());
            }
            Record::RunEnd { .. } => {
                if let Some(run) = self.runs.last_mut() {
                    run.ended = true;
                }
            }
            Record::UndoBegin { latest_run, .. } => {
                self.undo_begun = true;
                self.undoing_run = latest_run.clone();
            }
            Record::UndoIntent { step, action } => {
                self.steps
                    .entry(*step)
                    .or_default()
                    .undo_intents
                    .insert(*action);
            }
            Record::UndoDone { step, action, .. } => {
                self.steps
                    .entry(*step)
                    .or_default()
                    .undo_done
                    .insert(*action);
            }
            Record::Undone {} => self.undone = true,
            Record::LatestRunUndone { .. } => {
                self.undo_begun = false;
                self.undoing_run = None;
            }
        }
    }
}

/// Read a journal. A missing file is an empty journal.
pub fn read(path: &Path) -> Result<Replay, Problem> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Replay::default()),
        Err(e) => {
            return Err(Problem::io(Exit::Other, "read the journal", path, &e)
                .fix("make sure this account may read mdcluster's state folder"))
        }
    };
    let mut replay = Replay::default();
    let complete_len = complete_prefix_len(&bytes);
    newer_format(&bytes[..complete_len]).map_or(Ok(()), |(format, version)| {
        Err(Problem::refused(format!(
            "the journal was written by mdcluster {version} in journal format {format}; this mdcluster ({}) reads format {FORMAT} and older",
            env!("CARGO_PKG_VERSION")
        ))
        .at(path.display().to_string())
        .fix(format!(
            "resume, finish or undo that run with mdcluster {version} or newer; mdcluster left the journal untouched"
        )))
    })?;
    for (i, raw) in bytes[..complete_len].split(|b| *b == b'\n').enumerate() {
        if raw.is_empty() {
            continue;
        }
        let line: Line = serde_json::from_slice(raw).map_err(|e| {
            Problem::other(format!("the journal is damaged at line {}: {e}", i + 1))
                .at(path.display().to_string())
                .fix("mdcluster left it untouched; keep a copy for support. Restore MDaemon.ini from the backups folder beside it if needed")
        })?;
        replay.apply(&line);
    }
    Ok(replay)
}

/// The newest format of any `run-begin` or `undo-begin` record, with the
/// mdcluster version that wrote it, when newer than [`FORMAT`]. Read loosely,
/// record by record, so that records this version does not know cannot hide it.
fn newer_format(bytes: &[u8]) -> Option<(u64, String)> {
    bytes
        .split(|b| *b == b'\n')
        .filter_map(|raw| serde_json::from_slice::<serde_json::Value>(raw).ok())
        .filter(|v| v["record"] == "run-begin" || v["record"] == "undo-begin")
        .filter_map(|v| {
            let format = v["format"].as_u64()?;
            let version = v["version"].as_str().unwrap_or("(unknown)");
            Some((
                format,
                crate::text::sanitize(version).chars().take(40).collect(),
            ))
        })
        .filter(|(format, _)| *format > u64::from(FORMAT))
        .max_by_key(|(format, _)| *format)
}

/// Length of the part of the journal made of complete lines (a torn last line
/// without its newline is left out).
fn complete_prefix_len(bytes: &[u8]) -> usize {
    match bytes.iter().rposition(|b| *b == b'\n') {
        Some(i) => i + 1,
        None => 0,
    }
}

/// A journal open for appending.
pub(crate) struct Journal {
    file: std::fs::File,
    path: PathBuf,
    next_seq: u64,
    /// Test hook: abort the process after this many records (see docs/testing.md).
    crash_after: Option<u64>,
    written: u64,
    /// The time each record carries.
    clock: crate::platform::Clock,
}

impl Journal {
    /// Open (creating if needed) for appending; a torn last line is cut off
    /// first. Records carry the time of `clock`.
    pub fn open(
        path: &Path,
        replay: &Replay,
        clock: &crate::platform::Clock,
    ) -> Result<Journal, Problem> {
        let fail = |doing: &str, e: std::io::Error| {
            Problem::io(Exit::Other, doing, path, &e)
                .fix("make sure this account may write mdcluster's state folder")
        };
        if let Ok(bytes) = std::fs::read(path) {
            let keep = complete_prefix_len(&bytes);
            if keep < bytes.len() {
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(|e| fail("open the journal", e))?;
                f.set_len(keep as u64)
                    .map_err(|e| fail("repair the journal", e))?;
                f.sync_all().map_err(|e| fail("flush the journal", e))?;
            }
        }
        let created = !path.exists();
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            // Owner-only, like the state folder it lives in.
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options
            .open(path)
            .map_err(|e| fail("open the journal", e))?;
        if created {
            if let Some(dir) = path.parent() {
                crate::fsops::fsync_dir(dir).map_err(|e| Problem::other(e.to_string()))?;
            }
        }
        // Abort right after the Nth record of this run: how tests simulate a
        // crash at every point.
        let crash_after = crate::test_hooks::number(crate::test_hooks::CRASH_AFTER_RECORD);
        Ok(Journal {
            file,
            path: path.to_path_buf(),
            next_seq: replay.last_seq + 1,
            crash_after,
            written: 0,
            clock: clock.clone(),
        })
    }

    /// Append one record and flush it to disk before returning.
    pub fn append(&mut self, record: Record) -> Result<(), Problem> {
        let line = Line {
            seq: self.next_seq,
            time: self.clock.now(),
            record,
        };
        let mut text = serde_json::to_string(&line)
            .map_err(|e| Problem::other(format!("could not encode a journal record: {e}")))?;
        text.push('\n');
        self.file
            .write_all(text.as_bytes())
            .and_then(|_| self.file.sync_data())
            .map_err(|e| {
                Problem::io(Exit::Failed, "write the journal", &self.path, &e)
                    .fix("free space or fix permissions on the installation's disk, then rerun to resume")
            })?;
        self.next_seq += 1;
        self.written += 1;
        if self.crash_after == Some(self.written) {
            // Simulated crash for tests: no destructors, no flushing beyond what is on disk.
            std::process::abort();
        }
        Ok(())
    }
}

/// A run id that sorts by time and names backup folders:
/// `20261121T101530Z-1234`, at the time of `clock` (the system's when its
/// text is no timestamp).
pub(crate) fn new_run_id(clock: &crate::platform::Clock) -> String {
    let at = clock
        .now()
        .parse::<jiff::Timestamp>()
        .unwrap_or_else(|_| jiff::Timestamp::now());
    format!("{}-{}", at.strftime("%Y%m%dT%H%M%SZ"), std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torn_last_line_is_dropped_and_cut_on_append() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(FILE_NAME);
        let mut j =
            Journal::open(&p, &Replay::default(), &crate::platform::Clock::system()).unwrap();
        j.append(Record::RunBegin {
            run: "r1".into(),
            command: "apply".into(),
            plan: "fp".into(),
            plan_file: "p.toml".into(),
            version: "0".into(),
            format: FORMAT_RUN,
        })
        .unwrap();
        j.append(Record::StepDone {
            step: StepId::SharedPath,
            evidence: StepEvidence::Changed { actions: 0 },
        })
        .unwrap();
        drop(j);
        let mut bytes = std::fs::read(&p).unwrap();
        bytes.extend_from_slice(br#"{"seq":3,"time":"x","record":"step-do"#);
        std::fs::write(&p, &bytes).unwrap();
        let r = read(&p).unwrap();
        assert_eq!(r.records, 2);
        assert!(r.finished(StepId::SharedPath));
        assert_eq!(r.plan, Some(("fp".into(), "p.toml".into())));
        let mut j = Journal::open(&p, &r, &crate::platform::Clock::system()).unwrap();
        j.append(Record::RunEnd {
            outcome: "complete".into(),
        })
        .unwrap();
        let r = read(&p).unwrap();
        assert_eq!((r.records, r.last_seq), (3, 3));
    }

    #[test]
    fn a_journal_from_a_newer_mdcluster_is_refused_as_such_not_as_damaged() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(FILE_NAME);
        // Written before records named their format: format 1.
        std::fs::write(
            &p,
            concat!(
                r#"{"seq":1,"time":"t","record":"run-begin","run":"r1","command":"apply","plan":"fp","plan_file":"p.toml","version":"0.1.0"}"#,
                "\n",
                r#"{"seq":2,"time":"t","record":"undo-begin","run":"r2"}"#,
                "\n"
            ),
        )
        .unwrap();
        let r = read(&p).unwrap();
        assert!(r.undo_begun && r.records == 2);
        // A later run by a newer mdcluster, with records this one does not know.
        let mut bytes = std::fs::read(&p).unwrap();
        bytes.extend_from_slice(
            concat!(
                r#"{"seq":3,"time":"t","record":"run-begin","run":"r3","command":"apply","plan":"fp","plan_file":"p.toml","version":"9.1.0","format":4}"#,
                "\n",
                r#"{"seq":4,"time":"t","record":"step-paused","step":"mail-store"}"#,
                "\n"
            )
            .as_bytes(),
        );
        std::fs::write(&p, &bytes).unwrap();
        let err = read(&p).unwrap_err();
        let shown = err.to_string();
        assert!(
            shown.contains("mdcluster 9.1.0 in journal format 4")
                && shown.contains("reads format 3")
                && shown.contains("with mdcluster 9.1.0 or newer")
                && !shown.contains("damaged"),
            "{shown}"
        );
        assert_eq!(err.exit, Exit::Refused);
        assert_eq!(std::fs::read(&p).unwrap(), bytes, "left untouched");
        // Of two newer formats, the newest names the version to use.
        bytes.extend_from_slice(
            concat!(
                r#"{"seq":5,"time":"t","record":"undo-begin","run":"r5","format":5,"version":"9.5.0"}"#,
                "\n"
            )
            .as_bytes(),
        );
        std::fs::write(&p, &bytes).unwrap();
        let shown = read(&p).unwrap_err().to_string();
        assert!(shown.contains("with mdcluster 9.5.0 or newer"), "{shown}");
    }

    #[test]
    fn runs_keep_their_actions_and_an_undo_of_the_latest_run_ends_as_such() {
        let line = |seq: u64, record: &str| format!("{{\"seq\":{seq},\"time\":\"t\",{record}}}\n");
        let begin = |run: &str| {
            format!(
                r#""record":"run-begin","run":"{run}","command":"apply","plan":"fp","plan_file":"p.toml","version":"0""#
            )
        };
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(FILE_NAME);
        let mut text = [
            line(1, &begin("r1")),
            line(2, r#""record":"intent","step":"mail-store","action":0"#),
            line(3, &begin("r2")),
            line(4, r#""record":"intent","step":"server-ids","action":0"#),
            line(5, r#""record":"intent","step":"mail-store","action":0"#),
            line(
                6,
                r#""record":"undo-begin","run":"u1","format":2,"latest_run":"r2""#,
            ),
        ]
        .concat();
        std::fs::write(&p, &text).unwrap();
        let r = read(&p).unwrap();
        let runs: Vec<(&str, usize)> = r
            .runs
            .iter()
            .map(|x| (x.run.as_str(), x.actions.len()))
            .collect();
        // An action resumed in a later run belongs to the run that began it.
        assert_eq!(runs, [("r1", 1), ("r2", 1)]);
        assert!(r.undo_begun && r.undoing_run.as_deref() == Some("r2"));
        text.push_str(&line(7, r#""record":"latest-run-undone","run":"r2""#));
        std::fs::write(&p, &text).unwrap();
        let r = read(&p).unwrap();
        assert!(!r.undo_begun && r.undoing_run.is_none() && !r.undone);
    }

    #[test]
    fn damage_in_the_middle_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(FILE_NAME);
        std::fs::write(&p, b"not json\n{\"also\": \"not a record\"}\n").unwrap();
        let err = read(&p).unwrap_err();
        assert!(err.what.contains("line 1"), "{err}");
    }
}
