//! What an earlier run left on this installation, read once when a front end
//! starts: a journal that cannot be used, a run that stopped part-way
//! (resume or undo), a run to undo, and the plan it used. The full-screen
//! and the plain wizard start from this; neither reads the journal itself.

use crate::engine::journal;
use crate::fsops::state_dir::STATE_DIR;
use crate::plan::Plan;
use crate::problem::Problem;
use crate::profile::Profile;
use std::path::{Path, PathBuf};

/// The wizard's own copy of the plan it applies, in the state folder.
pub(crate) const WIZARD_PLAN: &str = "wizard-plan.toml";

/// A run that stopped part-way.
#[derive(Clone, Debug)]
pub struct Interrupted {
    /// Actions finished, of those recorded.
    pub done: usize,
    pub total: usize,
    /// The plan it named, when it can still be read.
    pub plan: Option<Plan>,
}

/// What an earlier run left.
#[derive(Clone, Debug, Default)]
pub struct EarlierRun {
    /// The journal cannot be used (damaged, or written by a newer
    /// mdcluster); applying refuses with the same words.
    pub unusable: Option<Problem>,
    /// It stopped part-way: resume it or undo it.
    pub interrupted: Option<Interrupted>,
    /// There is an applied run that undo would reverse.
    pub undo_available: bool,
    /// The plan of the latest applied run (not undone): the one its journal
    /// names, else the wizard's copy.
    pub plan: Option<Plan>,
    /// Where the wizard keeps its copy of the plan.
    pub wizard_plan: PathBuf,
}

impl EarlierRun {
    /// Read the journal of the installation at `install_local`.
    pub fn read(install_local: &Path, profile: &Profile) -> EarlierRun {
        let state = install_local.join(STATE_DIR);
        let wizard_plan = state.join(WIZARD_PLAN);
        let replay = match journal::read(&state.join(journal::FILE_NAME)) {
            Ok(replay) => replay,
            Err(p) => {
                return EarlierRun {
                    unusable: Some(p),
                    wizard_plan,
                    ..EarlierRun::default()
                }
            }
        };
        let named = replay.plan_file().map(PathBuf::from);
        let load = |f: &Path| Plan::load(f, profile).ok();
        let interrupted = replay.interrupted().then(|| {
            let (done, total) = replay
                .steps
                .values()
                .fold((0, 0), |(d, t), s| (d + s.done.len(), t + s.actions.len()));
            Interrupted {
                done,
                total,
                plan: named.as_deref().and_then(load),
            }
        });
        let applied = !replay.is_empty() && !replay.undone;
        let plan = if applied {
            [named, Some(wizard_plan.clone())]
                .into_iter()
                .flatten()
                .find_map(|f| load(&f))
        } else {
            None
        };
        EarlierRun {
            unusable: None,
            interrupted,
            undo_available: applied,
            plan,
            wizard_plan,
        }
    }
}
