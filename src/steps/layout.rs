//! Before the first change: every folder the run moves, protects or writes
//! to is a folder of its own, whatever route leads to it.
//!
//! Names prove nothing: a `[[mounts]]` entry, a link or junction, a bind
//! mount or a share that exports a folder of the installation can make two
//! names one folder, and a mail folder can hold the installation. So the
//! places of a run are compared twice, by name (case-insensitively, as
//! Windows does) and on disk ([`crate::fsops::identity`]), and whichever
//! relation holds is judged by what the places are:
//!
//! - what stays (the installation root, `App` with MDaemon.ini and
//!   Userlist.dat, mdcluster's state folder, a folder the plan keeps on each
//!   node) is never, and never lies inside, a folder that moves or a target;
//! - what moves (the LockFiles and PEM folders, the trees of the mail store
//!   (mailboxes, public folders, gateways, digests, archive), every account
//!   folder) is never another folder that moves, nor inside
//!   one (the entries of a store tree being the documented exception), nor
//!   inside mdcluster's state folder;
//! - a target is never a folder of the installation side, nor inside one,
//!   nor contains one, except that the shared folder may hold mail that is
//!   already on the share elsewhere;
//! - targets nest only below the shared folder, the mailboxes and public
//!   folders targets, and an account's folder below its domain's.
//!
//! A breach is a failed check of the step it concerns: the whole run is
//! refused before anything changes (exit 3).

use super::{Action, Check, Context, StepId, StepPlan};
use crate::fsops::identity::{self, OnDisk, Place};
use crate::location::{Loc, Resolver};
use crate::problem::Problem;
use crate::profile::Tree;
use crate::winpath::WinPath;
use std::path::{Path, PathBuf};

/// What a place is to the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// Stays where it is and holds what the run needs; `state`: mdcluster's
    /// state folder, which nothing that moves may lie in.
    Kept { state: bool },
    /// A tree of the mail store whose entries move (not the tree itself).
    Store,
    /// A folder that moves or is copied; `tree`: the store tree it is an
    /// entry of.
    Source { tree: Option<usize> },
    /// Where something goes.
    Target(Kind),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// The shared folder.
    Share,
    /// The target of a store tree (mailboxes, public folders, gateways,
    /// digests, archive): its entries go below it.
    Store,
    /// Where an entry of a store tree goes.
    Entry,
    /// Where an account folder from outside the store's trees goes.
    Account,
    /// Where the LockFiles or PEM folder goes, as a whole.
    Folder,
}

struct Spot {
    role: Role,
    /// What it is, for messages ("the installation", "the LockFiles folder").
    what: String,
    win: Option<WinPath>,
    step: StepId,
    place: Place,
}

impl Spot {
    /// A place on the installation side (no marks there): where `win` is
    /// on this machine, None when it cannot be located.
    fn installed(
        ctx: &Context,
        role: Role,
        what: impl Into<String>,
        win: &WinPath,
        step: StepId,
    ) -> Option<Spot> {
        let loc = ctx.resolver.locate(win).ok()?;
        Some(Spot {
            role,
            what: what.into(),
            place: Place::local(&loc.local),
            win: Some(loc.win),
            step,
        })
    }

    fn local(&self) -> PathBuf {
        self.place.chain.first().cloned().unwrap_or_default()
    }

    /// How deep it lies (for listing the outermost breach first).
    fn depth(&self) -> usize {
        match &self.win {
            Some(w) => w.components().len(),
            None => self.local().components().count(),
        }
    }

    fn shown(&self) -> String {
        match &self.win {
            Some(w) => w.to_string(),
            None => self.local().display().to_string(),
        }
    }
}

/// Compare every place of the run (the prepared steps' actions, the plan's
/// targets, the installation and `state_dir`) and add a failed check to the
/// step concerned for each breach. Probe files are left only on the share
/// side, and removed again.
pub fn check(ctx: &Context, state_dir: &Path, plans: &mut [StepPlan]) {
    let spots = spots(ctx, state_dir, plans);
    let places: Vec<Place> = spots.iter().map(|s| s.place.clone()).collect();
    let survey = identity::survey(&places);
    let mut breaches = breaches(&spots, &survey);
    // Outermost first; one breach implies those of the folders inside its
    // two places (a store tree that is the mailboxes target: each of its
    // domains is inside it too), which are not listed again.
    breaches.sort_by_key(|&(a, b, ..)| spots[a].depth() + spots[b].depth());
    let mut reported: Vec<(usize, usize)> = Vec::new();
    let mut findings: Vec<(StepId, Check)> = Vec::new();
    for (a, b, rel, named, fix) in breaches {
        let within = |outer: usize, inner: usize| {
            name_relation(&spots[inner], &spots[outer]) != OnDisk::Apart
                && name_relation(&spots[inner], &spots[outer]) != OnDisk::Contains
        };
        let covered = reported
            .iter()
            .any(|&(x, y)| (within(x, a) && within(y, b)) || (within(x, b) && within(y, a)));
        if covered {
            continue;
        }
        reported.push((a, b));
        findings.push(breach_check(&spots, a, b, rel, named, fix));
    }
    if findings.is_empty() {
        findings.push((
            StepId::SharedPath,
            Check::pass(
                "folders of their own",
                "the installation, every folder that moves and every target are folders of \
                 their own, by name and on disk",
            ),
        ));
    }
    for (dir, why) in &survey.unmarked {
        findings.push((
            StepId::SharedPath,
            Check::pass(
                "folders of their own",
                format!(
                    "no probe file could be left in {} ({why}): folders reached through it were \
                     compared by file identity only",
                    dir.display()
                ),
            ),
        ));
    }
    for (step, check) in findings {
        if let Some(sp) = plans.iter_mut().find(|sp| sp.step == step) {
            sp.checks.push(check);
        }
    }
}

/// Every breach: (a, b, relation on disk or by name, by name, what to do).
type Breach = (usize, usize, OnDisk, OnDisk, &'static str);

/// Every pair of places whose roles forbid how they lie, on disk or by name.
fn breaches(spots: &[Spot], survey: &identity::Survey) -> Vec<Breach> {
    let mut breaches = Vec::new();
    for a in 0..spots.len() {
        for b in 0..spots.len() {
            if a == b {
                continue;
            }
            let named = name_relation(&spots[a], &spots[b]);
            let disk = survey.relation(a, b);
            let rel = if disk == OnDisk::Apart { named } else { disk };
            // Each pair once: "a contains b" is judged as "b lies inside a".
            if matches!(rel, OnDisk::Apart | OnDisk::Contains) {
                continue;
            }
            if let Some(fix) = breach(spots, a, b, rel) {
                breaches.push((a, b, rel, named, fix));
            }
        }
    }
    breaches
}

/// The failed check for a breach, for the step of the folder that moves.
fn breach_check(
    spots: &[Spot],
    a: usize,
    b: usize,
    rel: OnDisk,
    named: OnDisk,
    fix: &'static str,
) -> (StepId, Check) {
    // The folder that moves (or the target) is named first.
    let (sa, sb) = match (spots[a].role, rel) {
        (Role::Kept { .. }, OnDisk::Same) => (&spots[b], &spots[a]),
        _ => (&spots[a], &spots[b]),
    };
    let verb = if rel == OnDisk::Same {
        "is the same folder as"
    } else {
        "lies inside"
    };
    let route = if named == rel {
        String::new()
    } else {
        " on disk, though the names differ (reached through a share, a [[mounts]] entry, a link or a junction)".into()
    };
    let step = match sa.role {
        Role::Kept { .. } => sb.step,
        _ => sa.step,
    };
    (
        step,
        Check::fail(
            "folders of their own",
            format!(
                "{} {} {verb} {} {}{route}",
                sa.what,
                sa.shown(),
                sb.what,
                sb.shown()
            ),
            fix,
        ),
    )
}

/// What to do when `a` is (`Same`) or lies inside (`Inside`) `b` and their
/// roles forbid it; None when allowed.
fn breach(spots: &[Spot], a: usize, b: usize, rel: OnDisk) -> Option<&'static str> {
    const KEEP: &str = "a folder that moves may not be or hold the installation, its App folder \
        (MDaemon.ini, Userlist.dat), mdcluster's state folder or a folder the plan keeps on each \
        node: point its [Directories] value, or the account's mail folder, at a folder of its own \
        in MDaemon (or share the kept folder: take it out of keep_local), then rerun; nothing was \
        changed";
    const APART: &str = "folders that move may not be one another or lie inside one another: give \
        each its own folder in MDaemon (its [Directories] value, or the account's mail folder), then \
        rerun; nothing was changed";
    const TARGET: &str = "a target must be a folder of its own on the file server, outside the \
        installation and every folder that moves: check [shared] in the plan, its [[mounts]], and \
        which folder the share exports; nothing was changed";
    const TARGETS: &str =
        "give each kind of shared data its own folder, not inside the lock-files \
        or PEM target or a moved folder: check [shared] in the plan; nothing was changed";
    let moving = |r: Role| matches!(r, Role::Store | Role::Source { .. });
    match (spots[a].role, spots[b].role) {
        (Role::Kept { .. }, Role::Kept { .. }) => None,
        (Role::Kept { .. }, r) if moving(r) => Some(KEEP),
        (Role::Kept { .. }, Role::Target(_)) => Some(TARGET),
        (r, Role::Kept { state }) if moving(r) => (rel == OnDisk::Same || state).then_some(KEEP),
        (Role::Source { tree }, Role::Store) => {
            (rel == OnDisk::Same || tree != Some(b)).then_some(APART)
        }
        (ra, rb) if moving(ra) && moving(rb) => Some(APART),
        (r, Role::Target(kind)) if moving(r) => {
            (kind != Kind::Share || rel == OnDisk::Same).then_some(TARGET)
        }
        (Role::Target(_), _) if !matches!(spots[b].role, Role::Target(_)) => Some(TARGET),
        (Role::Target(ka), Role::Target(kb)) => {
            let nests = matches!(kb, Kind::Share | Kind::Store)
                || (kb == Kind::Entry && ka == Kind::Account);
            (rel == OnDisk::Same || !nests).then_some(TARGETS)
        }
        _ => None,
    }
}

/// How `a` lies relative to `b` by name (Windows rules); Apart where either
/// has no Windows name.
fn name_relation(a: &Spot, b: &Spot) -> OnDisk {
    match (&a.win, &b.win) {
        (Some(x), Some(y)) if x == y => OnDisk::Same,
        (Some(x), Some(y)) if x.starts_with(y) => OnDisk::Inside,
        (Some(x), Some(y)) if y.starts_with(x) => OnDisk::Contains,
        _ => OnDisk::Apart,
    }
}

/// Every place of the run.
fn spots(ctx: &Context, state_dir: &Path, plans: &[StepPlan]) -> Vec<Spot> {
    let mut spots = kept_spots(ctx, state_dir);
    let first_root = spots.len();
    for r in &super::mail_store::store_roots(ctx) {
        let what = format!("the mail store tree ([Directories] {})", r.key);
        spots.extend(Spot::installed(
            ctx,
            Role::Store,
            what,
            &r.from,
            StepId::MailStore,
        ));
    }
    let trees = first_root..spots.len();
    let mut targets = plan_targets(ctx);
    ini_folder_sources(ctx, &mut spots);
    moving_spots(plans, trees, &mut spots, &mut targets);
    for (kind, step, what, win) in targets {
        let Some(place) = target_place(ctx.resolver, &win) else {
            continue;
        };
        spots.push(Spot {
            role: Role::Target(kind),
            what,
            win: Some(win),
            step,
            place,
        });
    }
    spots
}

/// A target of the run: its kind, its step, what it is, where.
type Target = (Kind, StepId, String, WinPath);

/// What the run keeps where it is: the installation, the folders of
/// MDaemon.ini and Userlist.dat, mdcluster's state folder.
fn kept_spots(ctx: &Context, state_dir: &Path) -> Vec<Spot> {
    let mut spots = Vec::new();
    let kept = |what: &str, win: Option<WinPath>, local: &Path| Spot {
        role: Role::Kept { state: false },
        what: what.to_string(),
        win,
        step: StepId::SharedPath,
        place: Place::local(local),
    };
    let install = ctx.install;
    spots.push(kept(
        "the installation",
        Some(install.root.win.clone()),
        &install.root.local,
    ));
    let mut app_dirs = vec![&install.ini];
    if let Some((userlist, _)) = &install.userlist {
        app_dirs.push(userlist);
    }
    for file in app_dirs {
        if let (Some(win), Some(local)) = (file.win.parent(), file.local.parent()) {
            if !spots.iter().any(|s| s.win.as_ref() == Some(&win)) {
                spots.push(kept(
                    &format!("the folder of {}", file.win.file_name().unwrap_or("App")),
                    Some(win),
                    local,
                ));
            }
        }
    }
    spots.push(Spot {
        role: Role::Kept { state: true },
        ..kept(
            "mdcluster's state folder",
            ctx.plan
                .install_root
                .join(crate::fsops::state_dir::STATE_DIR)
                .ok(),
            state_dir,
        )
    });
    // A folder the plan keeps on each node stays too (one already on the
    // share, moved before it was kept, is no concern of this run).
    let shared = ctx.plan.shared.named();
    for tree in ctx.plan.shared.kept_local() {
        let Some((from, _)) = super::mail_store::tree_source(ctx, tree) else {
            continue;
        };
        if shared.iter().any(|(_, target)| from.starts_with(target)) {
            continue;
        }
        let what = format!("the {} folder kept on each node", tree.label());
        spots.extend(Spot::installed(
            ctx,
            Role::Kept { state: false },
            what,
            &from,
            StepId::MailStore,
        ));
    }
    spots
}

/// The plan's targets on the share.
fn plan_targets(ctx: &Context) -> Vec<Target> {
    let mut targets = vec![(
        Kind::Share,
        StepId::SharedPath,
        "the shared folder".into(),
        ctx.plan.shared.path.clone(),
    )];
    for tree in Tree::ALL {
        if let Some(target) = ctx.plan.shared.tree(tree) {
            let what = format!("the {} target", tree.label());
            targets.push((Kind::Store, StepId::MailStore, what, target.clone()));
        }
    }
    targets.extend([
        (
            Kind::Folder,
            StepId::Lockfiles,
            "the lock-files target".into(),
            ctx.plan.shared.lockfiles.clone(),
        ),
        (
            Kind::Folder,
            StepId::Pem,
            "the PEM target".into(),
            ctx.plan.shared.pem.clone(),
        ),
    ]);
    targets
}

/// LockFiles and PEM where MDaemon.ini says, whenever the run points the
/// value elsewhere: also when nothing needs moving (a target found to hold
/// an identical copy already may be the folder itself).
fn ini_folder_sources(ctx: &Context, spots: &mut Vec<Spot>) {
    let install = ctx.install;
    let section = &*ctx.profile.ini.directories_section;
    for (key, step, target, what) in [
        (
            &*ctx.profile.ini.lockfiles_key,
            StepId::Lockfiles,
            &ctx.plan.shared.lockfiles,
            "the LockFiles folder",
        ),
        (
            &*ctx.profile.ini.pem_key,
            StepId::Pem,
            &ctx.plan.shared.pem,
            "the PEM folder",
        ),
    ] {
        let Ok(value) = install.required_folder(key, section) else {
            continue;
        };
        if value.path == *target {
            continue;
        }
        let role = Role::Source { tree: None };
        spots.extend(Spot::installed(ctx, role, what, &value.path, step));
    }
}

/// The folders the prepared actions move or copy, and their targets.
fn moving_spots(
    plans: &[StepPlan],
    trees: std::ops::Range<usize>,
    spots: &mut Vec<Spot>,
    targets: &mut Vec<Target>,
) {
    for sp in plans {
        for (_, action) in &sp.actions {
            let (Action::MoveFolder { from, to, .. } | Action::CopyFolder { from, to, .. }) =
                action
            else {
                continue;
            };
            let tree = trees
                .clone()
                .find(|&i| from.win.parent().as_ref() == spots.get(i).and_then(|s| s.win.as_ref()));
            // LockFiles' and PEM's sources are there already (above).
            if !matches!(sp.step, StepId::Lockfiles | StepId::Pem) {
                let what = match tree {
                    Some(_) => "the mail store folder".to_string(),
                    None => account_of(plans, &from.win)
                        .map(|a| format!("the mail folder of {a}"))
                        .unwrap_or_else(|| "the account folder".into()),
                };
                spots.push(Spot {
                    role: Role::Source { tree },
                    what,
                    win: Some(from.win.clone()),
                    step: sp.step,
                    place: Place::local(&from.local),
                });
            }
            let kind = match (sp.step, tree) {
                (StepId::Lockfiles | StepId::Pem, _) => Kind::Folder,
                (_, Some(_)) => Kind::Entry,
                (_, None) => Kind::Account,
            };
            let what = format!("the target of {}:", from.win);
            // The plan's own target of this step is there already; the same
            // folder as another step's target is a breach to find.
            if !targets.iter().any(|t| t.3 == to.win && t.1 == sp.step) {
                targets.push((kind, sp.step, what, to.win.clone()));
            }
        }
    }
}

/// The account (`mailbox@domain`) whose mail folder `folder` is, from the
/// prepared Userlist.dat edits.
fn account_of(plans: &[StepPlan], folder: &WinPath) -> Option<String> {
    plans
        .iter()
        .flat_map(|sp| sp.actions.iter())
        .find_map(|(_, a)| match a {
            Action::EditUserlist { edits, .. } => edits
                .iter()
                .find(|e| WinPath::parse(e.old.trim()).as_ref() == Ok(folder))
                .map(|e| e.account.clone()),
            _ => None,
        })
}

/// Before `cleanup` deletes `source` because `copy` holds it: the two must
/// be folders of their own on disk, whatever route leads to them (a share
/// exporting the old store gives it ids of its own: only a mark shows it).
pub(crate) fn check_apart(resolver: &Resolver, source: &Loc, copy: &Loc) -> Result<(), Problem> {
    let Some(copy_place) = target_place(resolver, &copy.win) else {
        return Ok(());
    };
    let survey = identity::survey(&[Place::local(&source.local), copy_place]);
    if survey.relation(0, 1) == OnDisk::Apart && survey.relation(1, 0) == OnDisk::Apart {
        return Ok(());
    }
    Err(Problem::refused(format!(
        "the old store {source} and its copy {copy} are not folders of their own on disk \
         (one is, or lies inside, the other: a share, a [[mounts]] entry, a link or a junction)"
    ))
    .at(format!("{} and {}", source.local.display(), copy.local.display()))
    .fix("nothing was deleted; make the copy a folder of its own on the file server, then rerun cleanup"))
}

/// A target and the folders it lies in as Windows sees them (each located
/// on this machine; they may be marked), then the local parents of the
/// outermost one. A drive's root is never marked.
fn target_place(resolver: &Resolver, win: &WinPath) -> Option<Place> {
    let mut chain = Vec::new();
    let mut cur = Some(win.clone());
    while let Some(w) = cur {
        if w.is_drive() && w.components().is_empty() {
            break;
        }
        match resolver.locate(&w) {
            Ok(loc) => chain.push(loc.local),
            Err(_) => break,
        }
        cur = w.parent();
    }
    let markable = chain.len();
    let outer = chain.last()?.clone();
    chain.extend(outer.ancestors().skip(1).map(Path::to_path_buf));
    Some(Place { chain, markable })
}
