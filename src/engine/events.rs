//! Events the engine reports while it works: to the terminal, as JSON lines,
//! or (in the wizard) as messages to the screen.

/// The phase of a folder's move, as [`Event::StepProgress`] reports it.
pub use crate::fsops::mover::Phase;
use crate::problem::Problem;
use crate::steps::{StepId, StepStatus};
use serde::Serialize;

/// Where a folder's move or copy stands, and the whole step with it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FolderProgress {
    /// Copy (and verify), flush, or delete the source.
    pub phase: Phase,
    /// The folder's files copied and verified, and their bytes.
    pub files_done: u64,
    pub files_total: u64,
    pub bytes_done: u64,
    pub bytes_total: u64,
    /// The folder's source files deleted (the delete phase of a move).
    pub files_removed: u64,
    /// This folder's number (from 1) of the step's folders in this run.
    pub folder: usize,
    pub folders: usize,
    /// Bytes copied over all the step's folders in this run.
    pub step_bytes_done: u64,
    pub step_bytes_total: u64,
}

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
#[cfg_attr(test, derive(strum::EnumDiscriminants))]
#[cfg_attr(test, strum_discriminants(derive(strum::EnumIter)))]
pub enum Event {
    StepStarted {
        step: StepId,
        number: usize,
        title: &'static str,
    },
    /// A folder being moved or copied: its phase and counts, and where the
    /// whole step stands.
    StepProgress {
        step: StepId,
        #[serde(flatten)]
        progress: FolderProgress,
    },
    ActionStarted {
        step: StepId,
        action: usize,
        kind: &'static str,
        description: String,
    },
    ActionDone {
        step: StepId,
        action: usize,
        kind: &'static str,
    },
    StepDone {
        step: StepId,
        outcome: Outcome,
    },
    /// The step waits for the administrator or another machine; nothing failed.
    StepWaiting {
        step: StepId,
        reason: String,
    },
    StepFailed {
        step: StepId,
        error: Problem,
    },
    Note {
        step: Option<StepId>,
        text: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Changed,
    AlreadyDone,
    NothingToDo,
    Checked,
    Undone,
}

impl Outcome {
    /// Where the step stands after it.
    pub fn status(self) -> StepStatus {
        match self {
            Outcome::Changed | Outcome::AlreadyDone | Outcome::Checked => StepStatus::Done,
            Outcome::NothingToDo => StepStatus::NothingToDo,
            Outcome::Undone => StepStatus::Undone,
        }
    }

    /// The words every front end shows.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Changed => "done",
            Outcome::AlreadyDone => "already done (journal)",
            Outcome::NothingToDo => "nothing to do",
            Outcome::Checked => "checked",
            Outcome::Undone => "undone",
        }
    }
}

/// Receives events; implementations must be cheap (progress comes often).
pub trait EventSink: Send + Sync {
    fn emit(&self, event: Event);
}

/// Collects events (tests, and callers that only want the summary).
#[derive(Default)]
pub struct Collect(pub std::sync::Mutex<Vec<Event>>);

impl EventSink for Collect {
    fn emit(&self, event: Event) {
        if let Ok(mut v) = self.0.lock() {
            v.push(event);
        }
    }
}
