//! The primitive changes steps are made of. Actions are plain data: they are
//! shown in previews, written to the journal before they run, and undone from
//! the journal. Their execution lives in `engine::actions`.

use crate::fsops::mover::same_filesystem;
use crate::install::ContentHash;
use crate::location::Loc;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub use crate::ini::IniEdit;
pub use crate::userlist::UserlistEdit;

/// One file of [`Action::WriteFiles`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileWrite {
    /// Relative to the action's folder.
    pub path: PathBuf,
    /// Hash of the file as previewed; None: there was no file.
    pub before_hash: Option<ContentHash>,
    /// The new content.
    pub after: String,
}

impl FileWrite {
    pub(crate) fn after_hash(&self) -> ContentHash {
        crate::install::content_hash(self.after.as_bytes())
    }
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
        before: ContentHash,
        after: ContentHash,
        edits: Vec<IniEdit>,
    },
    /// Drop a semaphore file MDaemon acts on. Undo removes it if still there.
    DropSemaphore { file: Loc },
    /// Change MailDir fields of Userlist.dat, from bytes with hash `before`
    /// to bytes with hash `after`. Undo restores the backup.
    EditUserlist {
        file: Loc,
        before: ContentHash,
        after: ContentHash,
        edits: Vec<UserlistEdit>,
    },
    /// Stop MDaemon and wait until it has stopped. Undo starts it again.
    StopService { timeout_secs: u64 },
    /// Start MDaemon and wait until it runs. Undo stops it.
    StartService { timeout_secs: u64 },
    /// Cleanup after `--keep-source`: delete the source files whose copy is
    /// identical. Undo copies them back from the copy.
    DeleteSource { source: Loc, copy: Loc },
    /// Write the cluster manifest on the share (nodes and server IDs), from
    /// `before` (None: no manifest yet) to `after`. Undo puts `before` back.
    UpdateManifest {
        share: Loc,
        before: Option<String>,
        after: String,
        added: Vec<String>,
    },
    /// Write files into a folder on this machine (the load balancer's
    /// configuration), each atomically, the one it replaces backed up first.
    /// Only files that carry mdcluster's header are ever replaced. Undo
    /// restores the backups and removes the files it created; a file changed
    /// since is kept.
    WriteFiles {
        dir: PathBuf,
        /// Folders missing when the action was prepared, outermost first:
        /// created by the action, removed by undo when empty again.
        created: Vec<PathBuf>,
        files: Vec<FileWrite>,
        /// What the files are, for people ("HAProxy configuration").
        what: String,
    },
}

impl Action {
    /// Bytes this action puts somewhere new.
    pub fn bytes(&self) -> u64 {
        match self {
            // A rename on one file system needs no room.
            Action::MoveFolder { from, to, .. }
                if same_filesystem(&from.local, &to.local) == Some(true) =>
            {
                0
            }
            Action::MoveFolder { bytes, .. } | Action::CopyFolder { bytes, .. } => *bytes,
            _ => 0,
        }
    }

    /// Whether MDaemon must not run while this action works.
    pub(crate) fn moves_data(&self) -> bool {
        matches!(
            self,
            Action::MoveFolder { .. } | Action::CopyFolder { .. } | Action::DeleteSource { .. }
        )
    }

    /// A change only of the cluster's nodes (the manifest, the balancer's
    /// files), which an undo of the latest run alone may reverse: not the
    /// installation (MDaemon.ini, data) nor the service.
    pub(crate) fn per_node_change(&self) -> bool {
        matches!(
            self,
            Action::UpdateManifest { .. } | Action::WriteFiles { .. } | Action::CreateFolder { .. }
        )
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Action::CreateFolder { .. } => "create-folder",
            Action::MoveFolder { .. } => "move-folder",
            Action::CopyFolder { .. } => "copy-folder",
            Action::EditIni { .. } => "edit-ini",
            Action::DropSemaphore { .. } => "drop-semaphore",
            Action::EditUserlist { .. } => "edit-userlist",
            Action::StopService { .. } => "stop-service",
            Action::StartService { .. } => "start-service",
            Action::DeleteSource { .. } => "delete-source",
            Action::UpdateManifest { .. } => "update-manifest",
            Action::WriteFiles { .. } => "write-files",
        }
    }

    /// What undoing this action does, in one line.
    pub(crate) fn describe_undo(&self) -> String {
        match self {
            Action::CreateFolder { folder } => format!(
                "remove folder {} if it is empty",
                folder.win.to_dir_string()
            ),
            Action::MoveFolder { from, to, .. } => {
                format!(
                    "move {} back to {}",
                    to.win.to_dir_string(),
                    from.win.to_dir_string()
                )
            }
            Action::CopyFolder { from, to, .. } => format!(
                "delete the copy {} where it is still identical to {}",
                to.win.to_dir_string(),
                from.win.to_dir_string()
            ),
            Action::EditIni { file, .. } | Action::EditUserlist { file, .. } => {
                format!("restore {} from its backup", file.win)
            }
            Action::DropSemaphore { file } => {
                format!("remove {} if MDaemon has not taken it", file.win)
            }
            Action::StopService { .. } => "start MDaemon again".into(),
            Action::StartService { .. } => "stop MDaemon and wait until it has stopped".into(),
            Action::DeleteSource { source, copy } => format!(
                "copy {} back from {}",
                source.win.to_dir_string(),
                copy.win.to_dir_string()
            ),
            // A write that added no node (a registration recorded): undo
            // takes nothing out of the manifest.
            Action::UpdateManifest { added, .. } if added.is_empty() => {
                "leave the cluster manifest's nodes as they are (this run added none; registrations it recorded stay recorded)".to_string()
            }
            Action::UpdateManifest { added, .. } => format!(
                "take {} back out of the cluster manifest (a node already registered in MDaemon keeps its server ID retired: remove it from MDaemon's registered servers too)",
                added.join(", ")
            ),
            Action::WriteFiles { dir, files, .. } => {
                let (new, replaced): (Vec<&FileWrite>, Vec<&FileWrite>) =
                    files.iter().partition(|f| f.before_hash.is_none());
                let list = |fs: &[&FileWrite]| {
                    fs.iter()
                        .map(|f| dir.join(&f.path).display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let mut parts = Vec::new();
                if !new.is_empty() {
                    parts.push(format!("remove {}", list(&new)));
                }
                if !replaced.is_empty() {
                    parts.push(format!("restore {} from the backup", list(&replaced)));
                }
                format!(
                    "{} (a file changed since mdcluster wrote it is kept)",
                    parts.join("; ")
                )
            }
        }
    }

    /// For a folder move: whether source and target are on one file system
    /// (a rename), as the disk says now (None: unknown, or no move).
    pub fn same_filesystem(&self) -> Option<bool> {
        match self {
            Action::MoveFolder { from, to, .. } => same_filesystem(&from.local, &to.local),
            _ => None,
        }
    }

    /// One line for previews and logs, asking the disk now how a move goes
    /// (a preview's actions: [`crate::engine::Preview::describe`]).
    pub fn describe_now(&self) -> String {
        self.describe_with(self.same_filesystem())
    }

    /// [`Action::describe_now`] with what [`Action::same_filesystem`] said,
    /// without touching the disk.
    pub(crate) fn describe_with(&self, same_fs: Option<bool>) -> String {
        use crate::text::size;
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
                let how = match same_fs {
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
            Action::EditUserlist { file, edits, .. } => format!(
                "edit {}: the mail folder of {} account{}",
                file.win,
                edits.len(),
                if edits.len() == 1 { "" } else { "s" }
            ),
            Action::StopService { timeout_secs } => {
                format!("stop MDaemon and wait until it has stopped (at most {timeout_secs} s)")
            }
            Action::StartService { timeout_secs } => {
                format!("start MDaemon again and wait until it runs (at most {timeout_secs} s)")
            }
            Action::DeleteSource { source, copy } => format!(
                "delete the source {} where its copy in {} is identical",
                source.win.to_dir_string(),
                copy.win.to_dir_string()
            ),
            Action::UpdateManifest { share, added, .. } => format!(
                "write the cluster manifest {}\\{}\\{} ({})",
                share.win,
                crate::cluster::manifest::DIR,
                crate::cluster::manifest::FILE,
                if added.is_empty() {
                    "no new node".to_string()
                } else {
                    format!("adds {}", added.join(", "))
                }
            ),
            Action::WriteFiles {
                dir, files, what, ..
            } => {
                let list: Vec<String> = files
                    .iter()
                    .map(|f| {
                        let how = if f.before_hash.is_some() {
                            "replaces mdcluster's earlier file"
                        } else {
                            "new"
                        };
                        format!("{} ({how})", dir.join(&f.path).display())
                    })
                    .collect();
                format!(
                    "write the {what} to {}: {}",
                    folder_text(dir),
                    list.join(", ")
                )
            }
        }
    }
}

fn folder_text(dir: &Path) -> String {
    let mut s = dir.display().to_string();
    if !s.ends_with(std::path::MAIN_SEPARATOR) {
        s.push(std::path::MAIN_SEPARATOR);
    }
    s
}
