//! What an action (or its undo) did, as the journal keeps it.
//!
//! Typed here, one payload per outcome, each field with one meaning. The
//! journal stores the payload as it is (untagged), in the JSON shapes journal
//! format 1 has always had, so older versions read new journals and the other
//! way round; a payload is read back knowing the action that wrote it
//! ([`Evidence::read`]), never by guessing from its keys. A payload that does
//! not fit (a newer version's) is kept as it was read: the action still
//! counts as done.

use crate::fsops::mover;
use crate::steps::{Action, Check};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// One action's evidence.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Evidence {
    /// Create folder: whether mdcluster made it (false: it was there).
    FolderCreated { created: bool },
    /// Move or copy a folder: what the mover did.
    TreeCopied(mover::Outcome),
    /// Edit MDaemon.ini or Userlist.dat: where the bytes before were backed
    /// up; `already` when the change was found made (a resumed run).
    FileEdited {
        backup: PathBuf,
        #[serde(skip_serializing_if = "is_false")]
        already: bool,
    },
    /// Stop MDaemon (or the undo of a start).
    ServiceStopped { stopped: bool },
    /// Start MDaemon (or the undo of a stop).
    ServiceStarted { started: bool },
    /// Delete a source, or undo a copy or a new folder: what was not deleted
    /// because it is not mdcluster's to delete (it differs from the copy, or
    /// someone put it there since).
    Kept {
        #[serde(skip_serializing_if = "Vec::is_empty")]
        kept: Vec<PathBuf>,
    },
    /// Update the cluster manifest: the file written, or nothing because it
    /// already held what the run writes.
    ManifestWritten {
        #[serde(skip_serializing_if = "Option::is_none")]
        written: Option<PathBuf>,
        #[serde(skip_serializing_if = "is_false")]
        already: bool,
    },
    /// Write the balancer's files.
    FilesWritten {
        written: Vec<PathBuf>,
        already: Vec<PathBuf>,
        backups: Vec<PathBuf>,
    },
    /// Undo of an edit: the backup put back, or nothing to put back.
    FileRestored {
        #[serde(skip_serializing_if = "Option::is_none")]
        restored_from: Option<PathBuf>,
        #[serde(skip_serializing_if = "is_false")]
        already: bool,
        #[serde(skip_serializing_if = "is_false")]
        never_written: bool,
    },
    /// Undo of a restart semaphore: false when MDaemon had already taken it.
    SemaphoreRemoved { removed: bool },
    /// Undo of a deleted source: how many files came back from the copy.
    SourceRestored { restored: u64 },
    /// Undo of a manifest update: the nodes taken out, and those of them
    /// still registered in MDaemon's Cluster Service (to take out there).
    ManifestTakenBack {
        #[serde(skip_serializing_if = "Vec::is_empty")]
        taken_back: Vec<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        registered_in_mdaemon: Vec<String>,
        #[serde(skip_serializing_if = "is_false")]
        already: bool,
    },
    /// Undo of the balancer's files.
    FilesUnwritten {
        removed: Vec<PathBuf>,
        restored: Vec<PathBuf>,
        kept: Vec<PathBuf>,
    },
    /// Nothing to record (a semaphore dropped, a move undone).
    Nothing {},
    /// A payload this version does not know (a newer version wrote it), as
    /// it was read.
    Unread(serde_json::Value),
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A payload without fields: `{}` and nothing else.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

/// The payloads that have the same fields, read as one. Every field has a
/// default, so nothing else may be there: any object would read as one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeptPayload {
    #[serde(default)]
    kept: Vec<PathBuf>,
}

impl Evidence {
    /// What was not deleted because it is not mdcluster's to delete.
    pub fn kept(&self) -> &[PathBuf] {
        match self {
            Evidence::Kept { kept } | Evidence::FilesUnwritten { kept, .. } => kept,
            _ => &[],
        }
    }

    /// Links and special files a move or copy left where they were.
    pub fn skipped(&self) -> &[String] {
        match self {
            Evidence::TreeCopied(out) => &out.skipped,
            _ => &[],
        }
    }

    /// The evidence `action` wrote, read back from the journal. `undo`: the
    /// record of its undo.
    pub fn read(action: &Action, undo: bool, value: serde_json::Value) -> Evidence {
        let parsed = if undo {
            Self::read_undo(action, value.clone())
        } else {
            Self::read_done(action, value.clone())
        };
        parsed.unwrap_or(Evidence::Unread(value))
    }

    fn read_done(action: &Action, v: serde_json::Value) -> serde_json::Result<Evidence> {
        use serde_json::from_value as read;
        #[derive(Deserialize)]
        struct Created {
            created: bool,
        }
        #[derive(Deserialize)]
        struct Edited {
            backup: PathBuf,
            #[serde(default)]
            already: bool,
        }
        #[derive(Deserialize)]
        struct Manifest {
            written: Option<PathBuf>,
            #[serde(default)]
            already: bool,
        }
        #[derive(Deserialize)]
        struct Files {
            written: Vec<PathBuf>,
            already: Vec<PathBuf>,
            backups: Vec<PathBuf>,
        }
        Ok(match action {
            Action::CreateFolder { .. } => {
                let Created { created } = read(v)?;
                Evidence::FolderCreated { created }
            }
            Action::MoveFolder { .. } | Action::CopyFolder { .. } => Evidence::TreeCopied(read(v)?),
            Action::EditIni { .. } | Action::EditUserlist { .. } => {
                let Edited { backup, already } = read(v)?;
                Evidence::FileEdited { backup, already }
            }
            Action::DropSemaphore { .. } => {
                let Empty {} = read(v)?;
                Evidence::Nothing {}
            }
            Action::StopService { .. } => Self::stopped(v)?,
            Action::StartService { .. } => Self::started(v)?,
            Action::DeleteSource { .. } => {
                let KeptPayload { kept } = read(v)?;
                Evidence::Kept { kept }
            }
            Action::UpdateManifest { .. } => {
                let Manifest { written, already } = read(v)?;
                Evidence::ManifestWritten { written, already }
            }
            Action::WriteFiles { .. } => {
                let Files {
                    written,
                    already,
                    backups,
                } = read(v)?;
                Evidence::FilesWritten {
                    written,
                    already,
                    backups,
                }
            }
        })
    }

    fn read_undo(action: &Action, v: serde_json::Value) -> serde_json::Result<Evidence> {
        use serde_json::from_value as read;
        #[derive(Deserialize)]
        struct Restored {
            restored_from: Option<PathBuf>,
            #[serde(default)]
            already: bool,
            #[serde(default)]
            never_written: bool,
        }
        #[derive(Deserialize)]
        struct Removed {
            removed: bool,
        }
        #[derive(Deserialize)]
        struct SourceRestored {
            restored: u64,
        }
        #[derive(Deserialize)]
        struct TakenBack {
            #[serde(default)]
            taken_back: Vec<String>,
            #[serde(default)]
            registered_in_mdaemon: Vec<String>,
            #[serde(default)]
            already: bool,
        }
        #[derive(Deserialize)]
        struct Unwritten {
            removed: Vec<PathBuf>,
            restored: Vec<PathBuf>,
            kept: Vec<PathBuf>,
        }
        Ok(match action {
            Action::CreateFolder { .. } | Action::CopyFolder { .. } => {
                let KeptPayload { kept } = read(v)?;
                Evidence::Kept { kept }
            }
            Action::MoveFolder { .. } => {
                let Empty {} = read(v)?;
                Evidence::Nothing {}
            }
            Action::EditIni { .. } | Action::EditUserlist { .. } => {
                let Restored {
                    restored_from,
                    already,
                    never_written,
                } = read(v)?;
                Evidence::FileRestored {
                    restored_from,
                    already,
                    never_written,
                }
            }
            Action::DropSemaphore { .. } => {
                let Removed { removed } = read(v)?;
                Evidence::SemaphoreRemoved { removed }
            }
            // The undo of a stop is a start, and the other way round.
            Action::StopService { .. } => Self::started(v)?,
            Action::StartService { .. } => Self::stopped(v)?,
            Action::DeleteSource { .. } => {
                let SourceRestored { restored } = read(v)?;
                Evidence::SourceRestored { restored }
            }
            Action::UpdateManifest { .. } => {
                let TakenBack {
                    taken_back,
                    registered_in_mdaemon,
                    already,
                } = read(v)?;
                Evidence::ManifestTakenBack {
                    taken_back,
                    registered_in_mdaemon,
                    already,
                }
            }
            Action::WriteFiles { .. } => {
                let Unwritten {
                    removed,
                    restored,
                    kept,
                } = read(v)?;
                Evidence::FilesUnwritten {
                    removed,
                    restored,
                    kept,
                }
            }
        })
    }

    fn stopped(v: serde_json::Value) -> serde_json::Result<Evidence> {
        #[derive(Deserialize)]
        struct Stopped {
            stopped: bool,
        }
        let Stopped { stopped } = serde_json::from_value(v)?;
        Ok(Evidence::ServiceStopped { stopped })
    }

    fn started(v: serde_json::Value) -> serde_json::Result<Evidence> {
        #[derive(Deserialize)]
        struct Started {
            started: bool,
        }
        let Started { started } = serde_json::from_value(v)?;
        Ok(Evidence::ServiceStarted { started })
    }

    /// The payload as the journal stores it. A path that is no Unicode
    /// cannot be JSON: then the evidence is kept as text for people (read
    /// back as unknown; the action still counts as done).
    pub(crate) fn to_journal(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_else(
            |_| serde_json::json!({ "unencodable": crate::text::sanitize(&format!("{self:?}")) }),
        )
    }
}

/// How a step ended, as its `step-done` record keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StepEvidence {
    /// Carried out: how many actions it had.
    Changed { actions: usize },
    /// Nothing to change; what was checked.
    Checked { checks: Vec<Check> },
    /// Already as planned when the run came to it.
    NothingToDo { nothing_to_do: bool },
    /// A payload this version does not know (a newer version wrote it).
    Unread(serde_json::Value),
}

#[cfg(test)]
mod tests;
