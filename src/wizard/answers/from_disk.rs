//! The answers' defaults from what is on disk, and the one check that
//! needs the disk. Everything else of the answers is pure data, so the
//! full-screen wizard's update and view never wait for a disk.

use super::{not_a_folder, windows_root_from_ini, Answers, FieldId};
use crate::ini::IniDoc;
use crate::plan::check_address;
use crate::plan::file::{LbTable, SharedTable};
use crate::profile::Profile;
use crate::winpath::WinPath;
use crate::workflows::start::EarlierRun;
use std::path::Path;

impl Answers {
    /// Defaults from what is on disk: the plan of an earlier run when there
    /// is one (a rerun adds a node to what is there), else the installation's
    /// Windows path from MDaemon.ini and this machine's name.
    pub fn from_disk(install_local: &Path, profile: &Profile, earlier: &EarlierRun) -> Answers {
        match &earlier.plan {
            Some(plan) => Answers::from_plan(plan, install_local, profile),
            None => Answers::fresh(install_local, profile),
        }
    }

    /// Defaults for an installation mdcluster has not worked on.
    pub fn fresh(install_local: &Path, profile: &Profile) -> Answers {
        let host = crate::platform::hostname();
        let ini = std::fs::read(install_local.join(profile.ini.file.replace('\\', "/")))
            .ok()
            .map(IniDoc::parse);
        let from_ini = ini
            .as_ref()
            .and_then(|doc| windows_root_from_ini(doc, &profile.ini.directories_section));
        let install_root = if cfg!(windows) {
            root_on_windows(from_ini, install_local)
        } else {
            from_ini.unwrap_or_else(|| profile.install.default_root.value.clone())
        };
        // A rerun: LockFiles already on a share names it.
        let shared_path = ini
            .as_ref()
            .and_then(|doc| {
                doc.get_str(&profile.ini.directories_section, &profile.ini.lockfiles_key)
            })
            .and_then(|v| WinPath::parse(v.trim()).ok())
            .filter(WinPath::is_unc)
            .map(|p| match p.prefix() {
                crate::winpath::Prefix::Unc { server, share } => format!("\\\\{server}\\{share}"),
                crate::winpath::Prefix::Drive(_) => String::new(),
            })
            .unwrap_or_default();
        let name = crate::cluster::facts::computer_name();
        let address = if check_address(&host).is_ok() {
            host.clone()
        } else {
            "127.0.0.1".into()
        };
        Answers {
            install_local: install_local.to_path_buf(),
            install_root,
            shared_path,
            shared_local: String::new(),
            node_name: name,
            node_address: address,
            server_id: "1".into(),
            stop_mdaemon: "n".into(),
            keep_source: "n".into(),
            keep_local: String::new(),
            restart: "n".into(),
            secondaries: Vec::new(),
            lb_kind: "none".into(),
            lb_http_mode: "primary".into(),
            lb_output: String::new(),
            lb_kept: LbTable::default(),
            shared_kept: SharedTable::default(),
        }
    }

    /// What [`Answers::validate`] leaves to the disk: the share's local
    /// folder exists, the balancer's output folder is no file. (The
    /// full-screen wizard asks the first on a thread; step 11's check says
    /// the second.)
    pub fn check_on_disk(&self, id: FieldId) -> Result<(), String> {
        let v = self.get(id).trim();
        match id {
            FieldId::SharedLocal if !Path::new(v).is_dir() => Err(not_a_folder(v)),
            FieldId::LbOutput if !v.is_empty() => {
                crate::plan::check_output_dir_on_disk(Path::new(v))
                    .map_err(|why| format!("{v} {why}"))
            }
            _ => Ok(()),
        }
    }
}

/// The installation root to plan with on Windows, where this folder is
/// itself a Windows path: this folder, unless MDaemon.ini (whose folders
/// have `ini_root` in common) was written for another one — mdcluster's
/// sandbox (always, so that a demo never reaches a real `C:\MDaemon`) or a
/// copy from another machine (a folder that does not exist here). Then that
/// root, which the plan maps to this folder.
pub(super) fn root_on_windows(ini_root: Option<String>, install_local: &Path) -> String {
    let sandbox = install_local.join(crate::service::SANDBOX_MARKER).exists();
    ini_root
        .filter(|root| !crate::fsops::identity::same_file(Path::new(root), install_local))
        .filter(|root| sandbox || !Path::new(root).exists())
        .unwrap_or_else(|| install_local.display().to_string())
}
