//! Step 4: move the mail store to the share and point every account at its
//! new mail folder in Userlist.dat. The store is every tree the cluster
//! service does not replicate ([`Tree`]): the mailboxes, the public folders,
//! the domain gateways' mail, the digests and the mail archive (the last
//! three unless the plan keeps one on each node, with a warning).
//!
//! The store moves one top-level folder at a time (each domain folder of the
//! Users tree, each public folder, each gateway's folder, …), so a target
//! that already holds mdcluster's own LockFiles can receive it, and on one
//! file system each folder moves with one rename. An account whose mail
//! folder lies outside the Users tree moves to `<mailboxes>\<domain>\<mailbox>`.
//! Before anything moves the whole store is checked for what Windows or the
//! share would refuse: names invalid on Windows, names that differ only in
//! case in one folder, paths over MAX_PATH, and mail folder paths that do
//! not fit Userlist.dat's fixed-width field.

use super::relocate::{foreign_content, missing_parents};
use super::{service_check, Action, Check, Context, StepId, StepPlan, StepStatus, UserlistEdit};
use crate::fsops;
use crate::install::content_hash;
use crate::location::Loc;
use crate::problem::Problem;
use crate::profile::Tree;
use crate::text::size;
use crate::userlist::{Layout, Userlist};
use crate::winpath::{self, WinPath};
use std::collections::HashMap;
use std::path::Path;

/// How many examples a preflight finding lists (the count is always complete).
const EXAMPLES: usize = 10;

/// One tree of the mail store that moves: the Users tree, the public
/// folders, the gateways, digests or archive, where MDaemon.ini says it is.
pub(crate) struct StoreRoot {
    pub tree: Tree,
    /// The `[Directories]` key naming it, and the profile entry that names the key.
    pub key: String,
    pub profile_entry: &'static str,
    pub from: WinPath,
    pub to: WinPath,
    /// False when MDaemon.ini names the tree nowhere (not under its key, nor
    /// its default folder under another key): MDaemon's default below the
    /// installation root is taken, and moving it is refused, since no value
    /// could then point MDaemon at the share.
    pub stated: bool,
}

/// Where a tree is on this installation: MDaemon.ini's `[Directories]`
/// value, else MDaemon's default below the root; and whether MDaemon.ini
/// names it (under its key, or its default folder under another key).
pub(crate) fn tree_source(ctx: &Context, tree: Tree) -> Option<(WinPath, bool)> {
    let names = ctx.profile.tree(tree);
    match ctx.install.folder(&names.key) {
        Some(v) => Some((v.path.clone(), true)),
        None => {
            let p = ctx.plan.install_root.join(&names.dir).ok()?;
            let named = ctx.install.folders.iter().any(|f| f.path == p);
            Some((p, named))
        }
    }
}

/// The trees MDaemon.ini still names under their key elsewhere than the
/// plan's target (what an earlier run left), as "what in where", for
/// `status`.
pub(crate) fn trees_left(
    plan: &crate::plan::Plan,
    profile: &crate::profile::Profile,
    install: &crate::install::Installation,
) -> Vec<String> {
    Tree::ALL
        .into_iter()
        .filter_map(|tree| {
            let target = plan.shared.tree(tree)?;
            let value = install.folder(&profile.tree(tree).key)?;
            (value.path != *target)
                .then(|| format!("{} in {}", tree.what(), value.path.to_dir_string()))
        })
        .collect()
}

/// The trees of the mail store, read from MDaemon.ini's `[Directories]`
/// (MDaemon's default below the root where the file lacks the key), with
/// their targets on the share. Trees already at their target, and those the
/// plan keeps on each node, are left out.
pub(crate) fn store_roots(ctx: &Context) -> Vec<StoreRoot> {
    let mut out = Vec::new();
    for tree in Tree::ALL {
        let Some(target) = ctx.plan.shared.tree(tree) else {
            continue;
        };
        let Some((from, stated)) = tree_source(ctx, tree) else {
            continue;
        };
        if from != *target {
            let names = ctx.profile.tree(tree);
            out.push(StoreRoot {
                tree,
                key: names.key.value,
                profile_entry: names.key_entry,
                from,
                to: target.clone(),
                stated,
            });
        }
    }
    out
}

/// The relocations of the mail store: (source root, target root). Shared
/// with the directories step, which rewrites the MDaemon.ini values that
/// point into them.
pub(crate) fn store_relocations(ctx: &Context) -> Vec<(WinPath, WinPath)> {
    store_roots(ctx)
        .into_iter()
        .map(|r| (r.from, r.to))
        .collect()
}

/// One folder to move.
struct Source {
    from: Loc,
    to: Loc,
    scan: StoreScan,
}

pub(super) fn prepare(ctx: &Context) -> Result<StepPlan, Problem> {
    let mut sp = StepPlan::new(StepId::MailStore, StepStatus::NothingToDo);
    let roots = store_roots(ctx);
    unstated_roots(ctx, &roots, &mut sp)?;
    kept_local_warnings(ctx, &mut sp);
    let relocations: Vec<(WinPath, WinPath)> = roots
        .iter()
        .map(|r| (r.from.clone(), r.to.clone()))
        .collect();
    let Some((userlist_loc, userlist_bytes)) = ctx.install.userlist.clone() else {
        sp.checks.push(Check::fail(
            "Userlist.dat",
            format!("{} cannot be read", *ctx.profile.userlist.file),
            "mdcluster updates each account's mail folder in Userlist.dat; if the accounts live in ODBC or LDAP, \
             move the store by hand and update them there",
        ));
        return Ok(sp);
    };
    let userlist = Userlist::parse(userlist_bytes.clone(), Layout::from_profile(ctx.profile));
    let accounts = userlist.accounts();
    sp.fact(
        "accounts",
        format!(
            "{} in {} ({})",
            accounts.len(),
            userlist_loc.win,
            userlist_loc.local.display()
        ),
    );

    // The folders that move: each top-level entry of the Users tree and of the
    // public folders, then accounts whose mail folder lies elsewhere.
    let mut problems = Findings::default();
    let mut sources = top_level_sources(ctx, &roots, &mut sp, &mut problems)?;
    let moves = account_moves(
        ctx,
        &userlist,
        &accounts,
        &relocations,
        &mut sources,
        &mut problems,
    )?;
    let scanned = scan_sources(sources, &mut sp, &mut problems)?;

    if let Some(check) = service_check(ctx, !scanned.is_empty()) {
        sp.checks.push(check);
    }
    push_findings(&mut sp, &problems);
    too_long_check(ctx, &mut sp, moves.too_long);
    damaged_lines_check(
        &mut sp,
        &userlist,
        !scanned.is_empty() || !moves.edits.is_empty(),
    );
    if !scanned.is_empty() {
        // Folders this installation's accounts already use are its own store.
        let in_use: Vec<WinPath> = accounts
            .iter()
            .filter_map(|a| WinPath::parse(a.mail_dir.trim()).ok())
            .collect();
        foreign_check(ctx, &mut sp, &scanned, &relocations, &in_use)?;
    }
    if !moves.edits.is_empty() {
        if let Err(why) = fsops::atomic::check_replaceable(&userlist_loc.local) {
            sp.checks.push(Check::fail(
                "Userlist.dat can be replaced",
                why,
                "make Userlist.dat a plain file this account may write (clear its read-only or \
                 immutable flag), in a folder where it may create files, then rerun",
            ));
        }
    }
    if sp.failed_checks().next().is_some() {
        return Ok(sp);
    }

    let mut actions = move_actions(ctx, scanned, &roots)?;
    if ctx.options.keep_source && !actions.is_empty() {
        sp.next.push(format!(
            "the source stays where it is until `mdcluster cleanup --plan {}` removes it, once MDaemon runs with the new folders",
            ctx.plan.file.display()
        ));
    }
    actions.extend(userlist_actions(
        ctx,
        userlist_loc,
        &userlist_bytes,
        moves.edits,
    )?);
    Ok(sp.with_actions(actions))
}

/// A store tree MDaemon.ini does not name: nothing to do when it is empty,
/// else refused (moved, MDaemon would look for it where it was).
fn unstated_roots(ctx: &Context, roots: &[StoreRoot], sp: &mut StepPlan) -> Result<(), Problem> {
    let section = &*ctx.profile.ini.directories_section;
    for r in roots.iter().filter(|r| !r.stated) {
        let local = ctx.resolver.locate(&r.from)?;
        let holds_something = !fsops::tree::is_empty_dir(&local.local).unwrap_or(false);
        if !holds_something {
            sp.notes.push(format!(
                "MDaemon.ini has no [{section}] {} entry and MDaemon's default {} holds nothing to move",
                r.key,
                r.from.to_dir_string()
            ));
            continue;
        }
        let keep = if r.tree.may_stay_local() {
            format!(
                ", or keep the folder on each node with keep_local = [\"{}\"] in the plan's [shared]",
                r.tree.id()
            )
        } else {
            String::new()
        };
        sp.checks.push(Check::fail(
            "MDaemon.ini names the store",
            format!(
                "MDaemon.ini has no [{section}] {} entry (nor another naming {}, {}): moved, \
                 MDaemon would go on looking for it there, where it is no more",
                r.key,
                r.from.to_dir_string(),
                r.tree.what()
            ),
            format!(
                "add {}={} to [{section}] in MDaemon.ini (the folder MDaemon uses), or give the \
                 key MDaemon really uses as {} in a profile (--profile){keep}, then rerun",
                r.key,
                r.from.to_dir_string(),
                r.profile_entry
            ),
        ));
    }
    Ok(())
}

/// A warning for each tree the plan keeps on each node: what is not shared,
/// and what that costs. (One inside a folder that moves is refused by the
/// layout check, by name and on disk.)
fn kept_local_warnings(ctx: &Context, sp: &mut StepPlan) {
    for tree in ctx.plan.shared.kept_local() {
        let Some((from, _)) = tree_source(ctx, tree) else {
            continue;
        };
        sp.warnings.push(format!(
            "kept on each node (keep_local in the plan): {}, in {}; {}",
            tree.what(),
            from.to_dir_string(),
            tree.when_kept_local()
        ));
    }
}

/// Each top-level entry of the store's trees, with where it goes.
fn top_level_sources(
    ctx: &Context,
    roots: &[StoreRoot],
    sp: &mut StepPlan,
    problems: &mut Findings,
) -> Result<Vec<(Loc, Loc)>, Problem> {
    let mut sources = Vec::new();
    for StoreRoot {
        tree,
        from: from_root,
        to: to_root,
        ..
    } in roots
    {
        let local = ctx.resolver.locate(from_root)?;
        sp.fact(
            tree.label(),
            format!(
                "{} -> {}",
                from_root.to_dir_string(),
                to_root.to_dir_string()
            ),
        );
        let entries = match std::fs::read_dir(&local.local) {
            Ok(it) => it,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                sp.notes.push(format!(
                    "{} does not exist: nothing to move there",
                    from_root.to_dir_string()
                ));
                continue;
            }
            Err(e) => {
                return Err(Problem::io(
                    crate::problem::Exit::Refused,
                    "list",
                    &local.local,
                    &e,
                ))
            }
        };
        let mut names: Vec<std::ffi::OsString> = entries.flatten().map(|e| e.file_name()).collect();
        names.sort();
        for name in names {
            let Some(text) = name.to_str() else {
                problems.invalid.add(format!(
                    "{}: not valid Unicode",
                    local.local.join(&name).display()
                ));
                continue;
            };
            match (from_root.join(text), to_root.join(text)) {
                (Ok(f), Ok(t)) => {
                    sources.push((ctx.resolver.locate(&f)?, ctx.resolver.locate(&t)?))
                }
                (Err(e), _) | (_, Err(e)) => problems.invalid.add(e.to_string()),
            }
        }
    }
    Ok(sources)
}

/// What the accounts' mail folders become.
struct AccountMoves {
    /// The new MailDir of each account that changes.
    edits: Vec<UserlistEdit>,
    /// Accounts whose new mail folder would not fit Userlist.dat: (what, length).
    too_long: Vec<(String, usize)>,
}

/// Every account's new mail folder. An account whose mail folder lies outside
/// the store's trees moves on its own (added to `sources`).
fn account_moves(
    ctx: &Context,
    userlist: &Userlist,
    accounts: &[crate::userlist::Account],
    relocations: &[(WinPath, WinPath)],
    sources: &mut Vec<(Loc, Loc)>,
    problems: &mut Findings,
) -> Result<AccountMoves, Problem> {
    let mut moves = AccountMoves {
        edits: Vec::new(),
        too_long: Vec::new(),
    };
    // Accounts whose mail folder lies outside the store's trees move one by
    // one: (old folder, new folder). Outermost folders first, so an account
    // whose folder is, or lies inside, another account's follows that move
    // instead of getting one of its own.
    let mut own: Vec<(WinPath, WinPath)> = Vec::new();
    let mut parsed: Vec<(&crate::userlist::Account, WinPath)> = Vec::new();
    for a in accounts {
        match WinPath::parse(a.mail_dir.trim()) {
            Ok(p) => parsed.push((a, p)),
            Err(_) => problems.accounts.add(format!(
                "{}@{} in Userlist.dat: its mail folder '{}' is not an absolute Windows path (a damaged line?)",
                a.mailbox, a.domain, a.mail_dir
            )),
        }
    }
    parsed.sort_by_key(|(a, p)| (p.components().len(), a.line));
    for (a, old) in parsed {
        let new = match relocations
            .iter()
            .chain(own.iter())
            .find_map(|(from, to)| old.rebase(from, to))
        {
            Some(new) => new,
            // Already moved: on the share, in the target of a tree (also one
            // an earlier run moved, which is no relocation any more).
            None if relocations.iter().any(|(_, to)| old.starts_with(to))
                || Tree::ALL
                    .into_iter()
                    .filter_map(|t| ctx.plan.shared.tree(t))
                    .any(|to| old.starts_with(to)) =>
            {
                continue
            }
            None => match own_move(ctx, a, &old, relocations, &own)? {
                Ok(target) => {
                    let from = ctx.resolver.locate(&old)?;
                    if fsops::exists(&from.local) {
                        sources.push((from, ctx.resolver.locate(&target)?));
                    }
                    own.push((old.clone(), target.clone()));
                    target
                }
                Err(None) => continue,
                Err(Some(why)) => {
                    problems.accounts.add(why);
                    continue;
                }
            },
        };
        let text = if a.mail_dir.trim_end().ends_with('\\') {
            new.to_dir_string()
        } else {
            new.to_string()
        };
        match userlist.check_mail_dir(a.line, &text) {
            Ok(()) => {}
            Err(crate::userlist::UserlistError::TooLong { len, .. }) => {
                moves.too_long.push((
                    format!("{}@{} ({len} characters: {text})", a.mailbox, a.domain),
                    len,
                ));
                continue;
            }
            Err(e) => {
                problems
                    .accounts
                    .add(format!("{}@{}: {e}", a.mailbox, a.domain));
                continue;
            }
        }
        moves.edits.push(UserlistEdit {
            line: a.line,
            account: format!("{}@{}", a.mailbox.trim(), a.domain.trim()),
            old: a.mail_dir.clone(),
            new: text,
        });
    }
    Ok(moves)
}

/// Where an account whose mail folder `old` lies outside the store's trees
/// moves: `<mailboxes>\<domain>\<mailbox>`. `Err(None)`: it is there
/// already; `Err(Some(why))`: it cannot move there.
fn own_move(
    ctx: &Context,
    a: &crate::userlist::Account,
    old: &WinPath,
    relocations: &[(WinPath, WinPath)],
    own: &[(WinPath, WinPath)],
) -> Result<Result<WinPath, Option<String>>, Problem> {
    let Ok(target) = ctx
        .plan
        .shared
        .mailboxes
        .join_components([a.domain.trim(), a.mailbox.trim()])
    else {
        return Ok(Err(Some(format!(
            "{}@{}: domain or mailbox is not a valid folder name",
            a.mailbox, a.domain
        ))));
    };
    if target == *old {
        return Ok(Err(None));
    }
    // Its new place must not be a folder the Users tree brings along.
    if let Some(inside) = relocations
        .iter()
        .find_map(|(from, to)| target.rebase(to, from))
    {
        if fsops::exists(&ctx.resolver.locate(&inside)?.local) {
            return Ok(Err(Some(format!(
                "{}@{}: its mail folder {old} would move onto {inside}, which already exists",
                a.mailbox, a.domain
            ))));
        }
    }
    if own.iter().any(|(_, to)| *to == target) {
        return Ok(Err(Some(format!(
            "{}@{}: another account's mail folder already moves to {target}",
            a.mailbox, a.domain
        ))));
    }
    Ok(Ok(target))
}

/// Preflight over the whole store, streaming: what every folder holds.
fn scan_sources(
    sources: Vec<(Loc, Loc)>,
    sp: &mut StepPlan,
    problems: &mut Findings,
) -> Result<Vec<Source>, Problem> {
    let mut scanned: Vec<Source> = Vec::new();
    for (from, to) in sources {
        let scan = scan_store(&from.local, &to.win, problems).map_err(|e| {
            Problem::refused(format!("could not scan the mail store: {e}"))
                .at(e.path().display().to_string())
                .fix("make sure this account may read the whole store, then rerun")
        })?;
        scanned.push(Source { from, to, scan });
    }
    let (files, bytes, unusual): (u64, u64, Vec<String>) =
        scanned.iter().fold((0, 0, Vec::new()), |(f, b, mut u), s| {
            u.extend(s.scan.unusual.iter().cloned());
            (f + s.scan.files, b + s.scan.bytes, u)
        });
    sp.fact(
        "content",
        format!(
            "{} folders to move: {files} files, {}",
            scanned.len(),
            size(bytes)
        ),
    );
    if !unusual.is_empty() {
        sp.notes.push(format!(
            "{} link(s) or special file(s) are not followed or copied and stay where they are: {}",
            unusual.len(),
            unusual
                .iter()
                .take(EXAMPLES)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(scanned)
}

/// Refused when a new mail folder would not fit Userlist.dat's field.
fn too_long_check(ctx: &Context, sp: &mut StepPlan, mut too_long: Vec<(String, usize)>) {
    if too_long.is_empty() {
        return;
    }
    too_long.sort_by_key(|(_, len)| std::cmp::Reverse(*len));
    let width = Layout::from_profile(ctx.profile).mail_dir_width();
    let excess = too_long[0].1.saturating_sub(width);
    let mailboxes = ctx.plan.shared.mailboxes.utf16_len();
    sp.checks.push(Check::fail(
        "mail folders fit Userlist.dat",
        format!(
            "{} account(s) would get a mail folder longer than the {width} characters Userlist.dat holds: {}",
            too_long.len(),
            too_long.iter().take(EXAMPLES).map(|(a, _)| a.clone()).collect::<Vec<_>>().join("; ")
        ),
        format!(
            "choose a mailboxes path at most {} characters long (now {mailboxes}: {}), e.g. a shorter share or server name",
            mailboxes.saturating_sub(excess),
            ctx.plan.shared.mailboxes
        ),
    ));
}

/// The folders to create and the moves (or copies, with `keep_source`).
/// Every tree's target is created where MDaemon.ini will point at it, even
/// when nothing moves there yet (an empty gateways folder), so no value
/// names a folder that is not there.
fn move_actions(
    ctx: &Context,
    scanned: Vec<Source>,
    roots: &[StoreRoot],
) -> Result<Vec<Action>, Problem> {
    let mut actions = Vec::new();
    for root in roots {
        let to_root = &root.to;
        if root.stated || scanned.iter().any(|s| s.to.win.starts_with(to_root)) {
            let target = ctx.resolver.locate(to_root)?;
            let mut wanted = missing_parents(ctx, &target)?;
            if !fsops::exists(&target.local) {
                wanted.push(Action::CreateFolder { folder: target });
            }
            for a in wanted {
                if !actions.contains(&a) {
                    actions.push(a);
                }
            }
        }
    }
    for s in scanned {
        for parent in missing_parents(ctx, &s.to)? {
            // A folder an earlier move brings along needs no creating.
            let Action::CreateFolder { folder } = &parent else {
                continue;
            };
            let brought = actions.iter().any(|a| match a {
                Action::MoveFolder { to, .. } | Action::CopyFolder { to, .. } => {
                    folder.win.starts_with(&to.win)
                }
                _ => false,
            });
            if !brought && !actions.contains(&parent) {
                actions.push(parent);
            }
        }
        let target_existed = fsops::exists(&s.to.local);
        let (files, bytes) = (s.scan.files, s.scan.bytes);
        actions.push(if ctx.options.keep_source {
            Action::CopyFolder {
                from: s.from,
                to: s.to,
                files,
                bytes,
                target_existed,
            }
        } else {
            Action::MoveFolder {
                from: s.from,
                to: s.to,
                files,
                bytes,
                target_existed,
            }
        });
    }
    Ok(actions)
}

/// The edit of Userlist.dat, and the semaphore that makes MDaemon reread it.
fn userlist_actions(
    ctx: &Context,
    file: Loc,
    bytes: &[u8],
    mut edits: Vec<UserlistEdit>,
) -> Result<Vec<Action>, Problem> {
    if edits.is_empty() {
        return Ok(Vec::new());
    }
    edits.sort_by_key(|e| e.line);
    let after = crate::userlist::apply_edits(bytes, &edits, Layout::from_profile(ctx.profile))
        .map_err(Problem::refused)?;
    let mut actions = vec![Action::EditUserlist {
        file,
        before: content_hash(bytes),
        after: content_hash(&after),
        edits,
    }];
    if let Ok(sem) = ctx
        .plan
        .install_root
        .join(&ctx.profile.semaphores.dir)
        .and_then(|d| d.join(&ctx.profile.semaphores.reload_userlist))
    {
        actions.push(Action::DropSemaphore {
            file: ctx.resolver.locate(&sem)?,
        });
    }
    Ok(actions)
}

/// A damaged line of Userlist.dat (too short to hold a whole mail folder)
/// may be an account whose folder moves now: its MailDir could not follow,
/// and the account would lose its mail. Refused while anything moves.
fn damaged_lines_check(sp: &mut StepPlan, userlist: &Userlist, moving: bool) {
    let damaged = userlist.damaged();
    if damaged.is_empty() {
        return;
    }
    let list: Vec<String> = damaged
        .iter()
        .take(EXAMPLES)
        .map(|a| {
            format!(
                "line {} ({}@{}, mail folder cut off at '{}')",
                a.line,
                a.mailbox.trim(),
                a.domain.trim(),
                a.mail_dir
            )
        })
        .collect();
    if !moving {
        sp.notes.push(format!(
            "Userlist.dat has {} damaged line(s), left as they are: {}",
            damaged.len(),
            list.join("; ")
        ));
        return;
    }
    sp.checks.push(Check::fail(
        "every account's mail folder can be rewritten",
        format!(
            "{} line(s) of Userlist.dat are too short to hold a whole mail folder, so mdcluster \
             cannot point those accounts at the moved store: {}",
            damaged.len(),
            list.join("; ")
        ),
        "repair these lines (in MDaemon, open and save each account, or restore Userlist.dat \
         from a backup; a line that is no account can be removed), then rerun; mdcluster \
         never moves mail whose account it cannot update",
    ));
}

/// A finding with a complete count and a few examples.
#[derive(Default)]
struct Finding {
    count: u64,
    examples: Vec<String>,
}

impl Finding {
    fn add(&mut self, example: String) {
        self.count += 1;
        if self.examples.len() < EXAMPLES {
            self.examples.push(example);
        }
    }
}

#[derive(Default)]
struct Findings {
    /// Accounts whose mail folder cannot move or cannot be pointed at its new place.
    accounts: Finding,
    invalid: Finding,
    collisions: Finding,
    too_long: Finding,
}

fn push_findings(sp: &mut StepPlan, f: &Findings) {
    for (name, finding, fix) in [
        (
            "every account's mail folder can move",
            &f.accounts,
            "correct these accounts' mail folders in MDaemon (or their lines in Userlist.dat), then rerun",
        ),
        ("names valid on Windows", &f.invalid, "rename these files or folders (Windows refuses them), then rerun"),
        (
            "no names that differ only in case",
            &f.collisions,
            "the share compares names without case, so one would overwrite the other: rename one of each pair, then rerun",
        ),
        ("paths within MAX_PATH", &f.too_long, "shorten these folder or file names, or choose a shorter shared path, then rerun"),
    ] {
        if finding.count > 0 {
            sp.checks.push(Check::fail(
                name,
                format!("{} found: {}", finding.count, finding.examples.join("; ")),
                fix,
            ));
        }
    }
    if f.invalid.count + f.collisions.count + f.too_long.count == 0 {
        sp.checks.push(Check::pass(
            "names and paths",
            "every name is valid on Windows, unique without case, and fits MAX_PATH",
        ));
    }
}

/// What a store folder holds, checked against Windows' rules at its target.
#[derive(Default)]
struct StoreScan {
    files: u64,
    bytes: u64,
    unusual: Vec<String>,
}

/// Walk `root` (a file or folder) without following links; count it and
/// record names Windows would refuse, names colliding without case in one
/// folder, and target paths over MAX_PATH. Holds one folder's names at a time.
fn scan_store(
    root: &Path,
    target: &WinPath,
    findings: &mut Findings,
) -> Result<StoreScan, fsops::FsError> {
    let mut scan = StoreScan::default();
    let meta = match std::fs::symlink_metadata(root) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(scan),
        Err(e) => return Err(fsops::FsError::io("read", root, e)),
    };
    let root_len = target.utf16_len();
    if meta.is_file() {
        scan.files = 1;
        scan.bytes = meta.len();
        if root_len >= winpath::MAX_PATH {
            findings
                .too_long
                .add(format!("{target} ({root_len} characters)"));
        }
        return Ok(scan);
    }
    if !meta.is_dir() {
        scan.unusual.push(root.display().to_string());
        return Ok(scan);
    }
    // (folder on disk, its target path's length, its path for messages)
    let mut stack = vec![(root.to_path_buf(), root_len, target.to_string())];
    while let Some((dir, len, shown)) = stack.pop() {
        let mut seen: HashMap<String, String> = HashMap::new();
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .map_err(|e| fsops::FsError::io("list", &dir, e))?
            .collect::<Result<_, _>>()
            .map_err(|e| fsops::FsError::io("list", &dir, e))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let os_name = entry.file_name();
            let name = os_name.to_string_lossy();
            let path_shown = format!("{shown}\\{name}");
            if os_name.to_str().is_none() {
                findings
                    .invalid
                    .add(format!("{path_shown}: not valid Unicode"));
            } else if let Err(why) = winpath::check_name(&name) {
                findings.invalid.add(format!("{path_shown}: {why}"));
            }
            if let Some(other) = seen.insert(winpath::fold(&name), name.to_string()) {
                findings
                    .collisions
                    .add(format!("{shown}\\{other} and {name}"));
            }
            let entry_len = len + 1 + name.encode_utf16().count();
            if entry_len >= winpath::MAX_PATH {
                findings
                    .too_long
                    .add(format!("{path_shown} ({entry_len} characters)"));
            }
            let meta = entry
                .path()
                .symlink_metadata()
                .map_err(|e| fsops::FsError::io("read", &entry.path(), e))?;
            if meta.is_dir() {
                stack.push((entry.path(), entry_len, path_shown));
            } else if meta.is_file() {
                scan.files += 1;
                scan.bytes += meta.len();
            } else {
                scan.unusual.push(entry.path().display().to_string());
            }
        }
    }
    Ok(scan)
}

/// The targets may hold only an earlier, identical partial copy of ours, or
/// the folders of mdcluster's own steps (LockFiles, PEM). Anything else there
/// is foreign data and refused: mdcluster never mixes a store into it.
fn foreign_check(
    ctx: &Context,
    sp: &mut StepPlan,
    sources: &[Source],
    relocations: &[(WinPath, WinPath)],
    in_use: &[WinPath],
) -> Result<(), Problem> {
    let ours = [&ctx.plan.shared.lockfiles, &ctx.plan.shared.pem];
    let mut foreign = Finding::default();
    for (_, to_root) in relocations {
        let target = ctx.resolver.locate(to_root)?;
        let Ok(entries) = std::fs::read_dir(&target.local) else {
            continue;
        };
        let mut names: Vec<_> = entries.flatten().map(|e| e.file_name()).collect();
        names.sort();
        for name in names {
            let text = name.to_string_lossy();
            let Ok(win) = to_root.join(&text) else {
                foreign.add(format!("{}\\{text}", to_root));
                continue;
            };
            if ours.iter().any(|o| o.starts_with(&win))
                || in_use.iter().any(|p| p.starts_with(&win))
            {
                continue;
            }
            match sources
                .iter()
                .find(|s| s.to.win == win || s.to.win.starts_with(&win))
            {
                // A folder some source moves into (an account from outside the Users tree).
                Some(s) if s.to.win != win && !fsops::exists(&s.to.local) => {}
                Some(s) => {
                    let other = foreign_content(&s.from.local, &s.to.local).map_err(|e| {
                        Problem::refused(format!("could not compare the target: {e}"))
                    })?;
                    if let Some(rel) = other {
                        foreign.add(format!("{win}\\{}", rel.display()));
                    }
                }
                None => foreign.add(win.to_string()),
            }
        }
    }
    // Sources whose target lies deeper (accounts from outside the Users tree).
    for s in sources.iter().filter(|s| fsops::exists(&s.to.local)) {
        if relocations
            .iter()
            .any(|(_, root)| s.to.win.parent().as_ref() == Some(root))
        {
            continue; // checked above
        }
        let other = foreign_content(&s.from.local, &s.to.local)
            .map_err(|e| Problem::refused(format!("could not compare the target: {e}")))?;
        if let Some(rel) = other {
            foreign.add(format!("{}\\{}", s.to.win, rel.display()));
        }
    }
    if foreign.count > 0 {
        sp.checks.push(Check::fail(
            "targets hold no foreign data",
            format!("{} item(s) in the targets are not mdcluster's: {}", foreign.count, foreign.examples.join("; ")),
            "move that data away or choose other target folders in the plan; mdcluster never mixes the store into foreign data",
        ));
    }
    Ok(())
}
