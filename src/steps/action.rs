//! The primitive changes steps are made of. Actions are plain data: they are
//! shown in previews, written to the journal before they run, and undone from
//! the journal. Their execution lives in `engine::actions`.

use crate::fsops::mover::same_filesystem;
use crate::location::Loc;
use serde::{Deserialize, Serialize};

/// One changed value in an INI file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IniEdit {
    pub section: String,
    pub key: String,
    /// The value before (None when the key is added).
    pub old: Option<String>,
    pub new: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Action {
    /// Create one folder (its parent exists). Undo removes it if still empty.
    CreateFolder { folder: Loc },
    /// Move a folder tree. Undo moves it back.
    MoveFolder {
        from: Loc,
        to: Loc,
        files: u64,
        bytes: u64,
        target_existed: bool,
    },
    /// Copy a folder tree, the source stays. Undo deletes the copies still identical.
    CopyFolder {
        from: Loc,
        to: Loc,
        files: u64,
        bytes: u64,
        target_existed: bool,
    },
    /// Change values in an INI file, from bytes with hash `before` to bytes
    /// with hash `after`. Undo restores the backup.
    EditIni {
        file: Loc,
        before: String,
        after: String,
        edits: Vec<IniEdit>,
    },
    /// Drop a semaphore file MDaemon acts on. Undo removes it if still there.
    DropSemaphore { file: Loc },
}

impl Action {
    /// Bytes this action puts somewhere new.
    pub fn bytes(&self) -> u64 {
        match self {
            Action::MoveFolder { bytes, .. } | Action::CopyFolder { bytes, .. } => *bytes,
            _ => 0,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Action::CreateFolder { .. } => "create-folder",
            Action::MoveFolder { .. } => "move-folder",
            Action::CopyFolder { .. } => "copy-folder",
            Action::EditIni { .. } => "edit-ini",
            Action::DropSemaphore { .. } => "drop-semaphore",
        }
    }

    /// One line for previews and logs.
    pub fn describe(&self) -> String {
        use crate::report::size;
        match self {
            Action::CreateFolder { folder } => {
                format!("create folder {}", folder.win.to_dir_string())
            }
            Action::MoveFolder {
                from,
                to,
                files,
                bytes,
                ..
            } => {
                let how = match same_filesystem(&from.local, &to.local) {
                    Some(true) => "one rename, same file system",
                    Some(false) => "copy, verify, then delete the source",
                    None => "rename if possible, else copy, verify, delete",
                };
                format!(
                    "move {} -> {}  ({files} files, {}; {how})",
                    from.win.to_dir_string(),
                    to.win.to_dir_string(),
                    size(*bytes)
                )
            }
            Action::CopyFolder {
                from,
                to,
                files,
                bytes,
                ..
            } => format!(
                "copy {} -> {}  ({files} files, {}; verified; the original stays)",
                from.win.to_dir_string(),
                to.win.to_dir_string(),
                size(*bytes)
            ),
            Action::EditIni { file, edits, .. } => {
                format!(
                    "edit {} ({} value{})",
                    file.win,
                    edits.len(),
                    if edits.len() == 1 { "" } else { "s" }
                )
            }
            Action::DropSemaphore { file } => {
                format!("drop {} (MDaemon acts on it and deletes it)", file.win)
            }
        }
    }
}
