//! The cluster manifest on the share, `<shared>\mdcluster\cluster.toml`: the
//! nodes, their roles and server IDs, and the IDs retired with removed nodes.
//!
//! Invariants:
//! - Server IDs are unique and stable: a node keeps its ID across reruns; a new
//!   node gets a number never used before (retired IDs included); a retired ID
//!   is reused only when a plan names the node it replaces (`replaces`).
//! - A plan that contradicts the manifest (another ID for a known node, an ID
//!   another node holds) is refused with both sides named.
//! - Written atomically; changed only under the manifest lock, which names
//!   host, process and time and is refreshed while held, so two runs never
//!   change it at once and a lock whose holder died is recognised as stale.

use crate::plan::{Plan, Role, ServerId};
use crate::problem::{Exit, Problem};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub(crate) const DIR: &str = "mdcluster";
pub const FILE: &str = "cluster.toml";
pub(crate) const LOCK: &str = "cluster.lock";
/// The file the manifest lock's OS lock is taken on (see [`ManifestLock`]).
pub(crate) const GUARD: &str = "cluster.guard";
/// A lock not refreshed for this long belongs to a run that is gone.
pub(crate) const STALE_SECS: i64 = 120;
const HEARTBEAT: Duration = Duration::from_secs(15);

/// The manifest format this mdcluster writes and the newest it reads (the
/// file's `version`); see docs/state-formats.md.
pub(crate) const FORMAT: u32 = 1;

// Unknown fields are read past, not refused: a node with a newer mdcluster
// may have added some. Replacing such a file is refused instead (`save`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub primary: String,
    #[serde(default)]
    pub nodes: Vec<Member>,
    /// Removed nodes: their IDs are never handed out again by themselves.
    #[serde(default)]
    pub retired: Vec<Retired>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retired {
    pub name: String,
    pub server_id: ServerId,
    pub removed: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub name: String,
    pub role: Role,
    pub server_id: ServerId,
    #[serde(default)]
    pub address: String,
    /// Licence fingerprint as announced (never the key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licence: Option<String>,
    pub added: String,
    /// When the administrator confirmed the node is registered in MDaemon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered: Option<String>,
}

/// The manifest folder on the share (local path).
pub(crate) fn dir_of(share: &Path) -> PathBuf {
    share.join(DIR)
}

impl Manifest {
    pub fn load(share: &Path) -> Result<Option<Manifest>, Problem> {
        let path = dir_of(share).join(FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Problem::io(
                    Exit::Refused,
                    "read the cluster manifest",
                    &path,
                    &e,
                ))
            }
        };
        Manifest::parse(&text, &path).map(Some)
    }

    /// The manifest in `text` (the file at `path`): its format checked
    /// first, since a newer one may not even have today's shape.
    fn parse(text: &str, path: &Path) -> Result<Manifest, Problem> {
        if let Some(v) = text
            .parse::<toml::Table>()
            .ok()
            .and_then(|t| t.get("version").and_then(toml::Value::as_integer))
        {
            if v > i64::from(FORMAT) {
                return Err(newer_format(v, path));
            }
        }
        let m: Manifest = toml::from_str(text).map_err(|e| {
            let at = e.span().map(|s| crate::text::line_col(text, s.start)).unwrap_or((1, 1));
            Problem::refused(format!("the cluster manifest is damaged: {}", e.message().trim()))
                .at(format!("{}:{}:{}", path.display(), at.0, at.1))
                .fix("restore it from a backup, or correct it by hand; mdcluster does not guess server IDs")
        })?;
        if m.version == 0 {
            return Err(
                Problem::refused("the cluster manifest has no valid version (0)")
                    .at(path.display().to_string())
                    .fix("restore it from a backup, or set version = 1 if it was edited by hand"),
            );
        }
        Ok(m)
    }

    /// Write the manifest. Refused when the file it replaces holds what this
    /// mdcluster does not know ([`check_replaceable`]).
    pub fn save(&self, share: &Path) -> Result<(), Problem> {
        let dir = dir_of(share);
        let path = dir.join(FILE);
        check_file_replaceable(&path)?;
        std::fs::create_dir_all(&dir).map_err(|e| Problem::io(Exit::Failed, "create", &dir, &e))?;
        let mut text = String::from(
            "# mdcluster cluster manifest: nodes and server IDs. Written by mdcluster; keep it.\n",
        );
        text.push_str(
            &toml::to_string(self)
                .map_err(|e| Problem::other(format!("could not write the manifest: {e}")))?,
        );
        crate::fsops::atomic::write_atomic(&dir.join(FILE), text.as_bytes(), None)
            .map_err(|e| Problem::failed(format!("could not write the cluster manifest: {e}")))
    }

    pub fn member(&self, name: &str) -> Option<&Member> {
        self.nodes
            .iter()
            .find(|m| m.name.eq_ignore_ascii_case(name))
    }

    /// The secondaries added whose registration in MDaemon is not confirmed
    /// yet, in manifest order.
    pub fn awaiting_registration(&self) -> impl Iterator<Item = &Member> {
        self.nodes
            .iter()
            .filter(|m| m.role == Role::Secondary && m.registered.is_none())
    }

    fn used_ids(&self) -> impl Iterator<Item = ServerId> + '_ {
        self.nodes
            .iter()
            .map(|m| m.server_id)
            .chain(self.retired.iter().map(|r| r.server_id))
    }

    /// The manifest with the plan's nodes in it: known nodes keep their IDs,
    /// new ones get a fresh ID (or the plan's, if free), `replaces` reuses a
    /// retired node's ID. Nodes of the manifest the plan does not list stay.
    pub fn with_plan(&self, plan: &Plan, now: &str) -> Result<Manifest, Problem> {
        let mut m = self.clone();
        m.version = 1;
        let primary = plan.primary().ok_or_else(|| {
            Problem::usage("the plan lists nodes but none as primary")
                .fix("mark this server role = \"primary\"")
        })?;
        if !m.primary.is_empty() && !m.primary.eq_ignore_ascii_case(&primary.name) {
            return Err(conflict(format!(
                "the plan's primary is {}, the manifest's is {}",
                primary.name, m.primary
            )));
        }
        m.primary = primary.name.clone();
        for node in &plan.nodes {
            if let Some(known) = m.member(&node.name) {
                if let Some(id) = node.server_id.filter(|id| *id != known.server_id) {
                    return Err(conflict(format!(
                        "the plan gives {} server ID {id}, the manifest on the share has {}",
                        node.name, known.server_id
                    )));
                }
                if known.role != node.role {
                    return Err(conflict(format!(
                        "the plan makes {} {:?}, the manifest has it {:?}",
                        node.name, node.role, known.role
                    )));
                }
                continue;
            }
            let id = m.id_for(node, plan)?;
            m.nodes.push(Member {
                name: node.name.clone(),
                role: node.role,
                server_id: id,
                address: node.address.clone(),
                licence: None,
                added: now.to_string(),
                registered: None,
            });
        }
        Ok(m)
    }

    /// The server ID of a node new to the manifest (and out of the retired
    /// list when it replaces a removed node).
    fn id_for(&mut self, node: &crate::plan::Node, plan: &Plan) -> Result<ServerId, Problem> {
        Ok(if let Some(old) = &node.replaces {
            let i = self
                .retired
                .iter()
                .position(|r| r.name.eq_ignore_ascii_case(old))
                .ok_or_else(|| {
                    conflict(format!(
                        "{} replaces {old}, but the manifest has no removed node {old}",
                        node.name
                    ))
                })?;
            let id = self.retired[i].server_id;
            if ServerId::new(id.get()).is_none() {
                return Err(conflict(format!(
                    "{} replaces {old}, whose server ID {id} is above 65535 (an earlier \
                     mdcluster handed it out), which MDaemon cannot take: leave out \
                     replaces, and {} gets a fresh ID",
                    node.name, node.name
                )));
            }
            self.retired.remove(i);
            id
        } else if let Some(id) = node.server_id {
            if let Some(holder) = self.nodes.iter().find(|o| o.server_id == id) {
                return Err(conflict(format!(
                    "the plan gives {} server ID {id}, which {} holds in the manifest",
                    node.name, holder.name
                )));
            }
            if self.retired.iter().any(|r| r.server_id == id) {
                return Err(conflict(format!(
                    "the plan gives {} server ID {id}, retired with a removed node; retired IDs are not reused \
                     unless the plan says which node it replaces (replaces = \"NAME\")",
                    node.name
                )));
            }
            id
        } else {
            // Past every ID in use and every one the plan gives a node
            // further down, so a later explicit ID is still free; past
            // the last one, the lowest nobody holds, held or retired.
            let taken: Vec<ServerId> = self
                .used_ids()
                .chain(plan.nodes.iter().filter_map(|n| n.server_id))
                .collect();
            match taken.iter().max() {
                None => Some(ServerId::FIRST),
                Some(last) => last.next(),
            }
            .or_else(|| {
                (1..=ServerId::MAX)
                    .filter_map(ServerId::new)
                    .find(|id| !taken.contains(id))
            })
            .ok_or_else(|| {
                Problem::refused(format!(
                    "no server ID is left for {}: all 65535 are in use or retired",
                    node.name
                ))
                .fix("remove nodes the cluster no longer has, or give this node an explicit server_id that is free")
            })?
        })
    }

    /// Remove a node; its ID is retired, never handed out again by itself.
    pub fn remove(&mut self, name: &str, now: &str) -> Result<Member, Problem> {
        let i = self
            .nodes
            .iter()
            .position(|m| m.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| Problem::usage(format!("{name} is not in the cluster manifest")))?;
        if self.nodes[i].role == Role::Primary {
            return Err(Problem::usage(format!(
                "{name} is the primary; it cannot be removed"
            )));
        }
        let m = self.nodes.remove(i);
        self.retired.push(Retired {
            name: m.name.clone(),
            server_id: m.server_id,
            removed: now.to_string(),
        });
        Ok(m)
    }
}

impl Manifest {
    /// Undo of a manifest write: take back the nodes it added. One already
    /// registered in MDaemon keeps its ID retired (MDaemon may still know it);
    /// those are returned. The primary goes only with everything else.
    pub(crate) fn take_back(&mut self, added: &[String], now: &str) -> Vec<String> {
        let is_added = |n: &str| added.iter().any(|a| a.eq_ignore_ascii_case(n));
        let mut registered = Vec::new();
        let mut kept = Vec::new();
        for m in std::mem::take(&mut self.nodes) {
            if m.role == Role::Primary || !is_added(&m.name) {
                kept.push(m);
                continue;
            }
            if m.registered.is_some() {
                self.retired.push(Retired {
                    name: m.name.clone(),
                    server_id: m.server_id,
                    removed: now.to_string(),
                });
                registered.push(m.name);
            }
        }
        self.nodes = kept;
        if self
            .nodes
            .iter()
            .all(|m| m.role == Role::Primary && is_added(&m.name))
            && self.retired.is_empty()
        {
            self.nodes.clear();
        }
        registered
    }

    /// Nothing left: no node and no retired ID.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty() && self.retired.is_empty()
    }
}

/// Where a node stands in the manifest on `share`: its server ID and
/// whether its registration in MDaemon is confirmed (None: not in it, or no
/// manifest yet). What `join` watches for.
///
/// A manifest that cannot be read for a moment (a share that does not
/// answer) is "not yet"; one that is damaged or from a newer mdcluster is
/// an error, so that a waiting `join` says so instead of waiting forever.
pub(crate) fn standing(share: &Path, name: &str) -> Result<Option<(ServerId, bool)>, Problem> {
    let path = dir_of(share).join(FILE);
    // Read once: a share that does not answer for a moment is "not yet".
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let m = Manifest::parse(&text, &path)?;
    Ok(m.member(name)
        .map(|me| (me.server_id, me.registered.is_some())))
}

/// Record that the administrator registered these nodes in MDaemon's
/// Cluster Service (under the manifest lock). Returns (name, server ID).
pub fn confirm_registered(
    share: &Path,
    names: &[String],
    command: &str,
) -> Result<Vec<(String, ServerId)>, Problem> {
    let _lock = ManifestLock::acquire(share, command)?;
    let mut m = Manifest::load(share)?.ok_or_else(|| {
        Problem::refused("there is no cluster manifest on the share yet")
            .fix("run `mdcluster apply --plan FILE` first; it assigns the server IDs")
    })?;
    let now = crate::platform::now_rfc3339();
    let mut done = Vec::new();
    for n in names {
        let member = m
            .nodes
            .iter_mut()
            .find(|x| x.name.eq_ignore_ascii_case(n))
            .ok_or_else(|| {
                Problem::usage(format!("{n} is not in the cluster manifest"))
                    .fix("add it to the plan and run apply first")
            })?;
        if member.registered.is_none() {
            member.registered = Some(now.clone());
        }
        done.push((member.name.clone(), member.server_id));
    }
    m.save(share)?;
    Ok(done)
}

fn conflict(what: String) -> Problem {
    Problem::refused(what).fix("correct the plan to match the cluster manifest on the share (or the manifest, if the plan is right)")
}

/// The manifest lock, refreshed while held; dropped, it is removed. A
/// process that already holds it (the wizard, for its whole run) may take it
/// again: the inner guard neither refreshes nor removes it.
///
/// Two files: `cluster.lock` names the holder (host, process, command, time,
/// refreshed while held: the lease), and `cluster.guard` carries an OS file
/// lock, so that two runs can never both hold it. The guard is taken as the
/// installation lock is ([`crate::fsops::lock::try_lock_path`]: the locked
/// file must still be the one at the path), so removing both files on release
/// is safe. A live lease of a run whose OS lock this machine cannot see (on
/// another computer, or one that died less than [`STALE_SECS`] ago) still
/// refuses.
pub struct ManifestLock {
    path: PathBuf,
    guard: Option<(PathBuf, crate::fsops::lock::Held)>,
    owned: bool,
    stop: Arc<AtomicBool>,
    beat: Option<std::thread::JoinHandle<()>>,
}

#[derive(Serialize, Deserialize)]
struct Holder {
    host: String,
    pid: u32,
    command: String,
    since: String,
    /// Unix seconds of the last refresh.
    alive: i64,
}

impl Holder {
    fn is_me(&self) -> bool {
        self.pid == std::process::id() && self.host == crate::platform::hostname()
    }

    fn is_live(&self) -> bool {
        // A holder on this machine whose process has ended (a crash, a
        // killed run, a closed remote session) holds nothing: taken over at
        // once, not after the lease expires. Another machine's holder is
        // judged by its lease alone.
        let here = self.host.eq_ignore_ascii_case(&crate::platform::hostname());
        if here && !crate::platform::process_alive(self.pid) {
            return false;
        }
        now_secs() - self.alive <= STALE_SECS
    }

    fn describe(&self) -> String {
        format!(
            "{} (process {} on {}, since {})",
            self.command, self.pid, self.host, self.since
        )
    }

    /// When the lease counts as stale, from now.
    fn staleness(&self) -> String {
        let ago = (now_secs() - self.alive).max(0);
        let stale_in = (STALE_SECS - ago).max(0);
        format!(
            "its lease was refreshed {ago} s ago and counts as stale {stale_in} s from now \
             unless that mdcluster refreshes it again"
        )
    }
}

/// Take the manifest lock away from whoever holds it (`mdcluster unlock`):
/// for a holder on a machine that is gone, when waiting for the lease to go
/// stale is not wanted. Refused while the lock's OS guard is held (its
/// holder runs and the file server knows it), while a run of this machine
/// that holds it still runs, and, without `fresh_too`, while the lease is
/// fresh. Returns who held it (None: nobody).
pub fn force_unlock(share: &Path, fresh_too: bool) -> Result<Option<String>, Problem> {
    let dir = dir_of(share);
    let path = dir.join(LOCK);
    let guard_path = dir.join(GUARD);
    // The guard first: while a live run holds it, nothing is taken.
    let guard = match crate::fsops::lock::try_lock_path(&guard_path) {
        Ok(Some(held)) => Some(held),
        Ok(None) => {
            return Err(Problem::refused(
                "a run holds the cluster manifest's lock right now (the file server still sees it)",
            )
            .at(guard_path.display().to_string())
            .fix("let it finish; if its machine is gone, the file server lets go of it when it notices, then rerun"))
        }
        Err(_) => None,
    };
    let holder = read_holder(&path);
    if let Some(h) = &holder {
        let here = h.host.eq_ignore_ascii_case(&crate::platform::hostname());
        if here && crate::platform::process_alive(h.pid) {
            return Err(Problem::refused(format!(
                "the cluster manifest is locked by a run on this machine that is still running: {}",
                h.describe()
            ))
            .fix("let it finish, or end that process; mdcluster takes over a lock of an ended process by itself"));
        }
        if h.is_live() && !fresh_too {
            return Err(Problem::refused(format!(
                "the cluster manifest's lock is held by {}; {}",
                h.describe(),
                h.staleness()
            ))
            .fix(format!(
                "wait until it is stale, or, when you are sure {} is gone, add --yes",
                sanitize_host(&h.host)
            )));
        }
    }
    if holder.is_none() && !crate::fsops::exists(&path) {
        return Ok(None);
    }
    std::fs::remove_file(&path).map_err(|e| Problem::io(Exit::Refused, "remove", &path, &e))?;
    if guard.is_some() {
        let _ = std::fs::remove_file(&guard_path);
    }
    drop(guard);
    Ok(Some(holder.map_or_else(
        || "a holder that had not named itself".into(),
        |h| h.describe(),
    )))
}

fn now_secs() -> i64 {
    super::facts::now_ms() / 1000
}

/// The leases of the manifest locks this process holds. A second acquire in
/// the same process (the wizard holds the lock for its whole run) takes it
/// again as an inner guard. Known here, not read from the lease: on Windows a
/// removed lease may stay visible while another process has it open, still
/// naming a run that is over.
static HELD_HERE: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

fn held_here(path: &Path) -> bool {
    HELD_HERE
        .lock()
        .map(|held| held.iter().any(|p| p == path))
        .unwrap_or(false)
}

fn set_held_here(path: &Path, held: bool) {
    if let Ok(mut list) = HELD_HERE.lock() {
        list.retain(|p| p != path);
        if held {
            list.push(path.to_path_buf());
        }
    }
}

fn read_holder(path: &Path) -> Option<Holder> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
}

impl ManifestLock {
    /// Who holds the lock, when another live process does (checked before a
    /// run, so a refusal comes before any change).
    pub(crate) fn held_elsewhere(share: &Path) -> Option<String> {
        let h = read_holder(&dir_of(share).join(LOCK))?;
        (h.is_live() && !h.is_me()).then(|| h.describe())
    }

    pub(crate) fn acquire(share: &Path, command: &str) -> Result<ManifestLock, Problem> {
        use crate::fsops::lock::{try_lock_path, LockError};
        let dir = dir_of(share);
        let path = dir.join(LOCK);
        let guard_path = dir.join(GUARD);
        let me = Holder {
            host: crate::platform::hostname(),
            pid: std::process::id(),
            command: command.into(),
            since: crate::platform::now_rfc3339(),
            alive: now_secs(),
        };
        let inner = || ManifestLock {
            path: path.clone(),
            guard: None,
            owned: false,
            stop: Arc::new(AtomicBool::new(true)),
            beat: None,
        };
        if held_here(&path) {
            return Ok(inner());
        }
        let mut held = None;
        for _ in 0..3 {
            std::fs::create_dir_all(&dir)
                .map_err(|e| Problem::io(Exit::Refused, "create", &dir, &e))?;
            match try_lock_path(&guard_path) {
                Ok(Some(h)) => {
                    held = Some(h);
                    break;
                }
                // Held by this process (taken a moment ago by another of its threads).
                Ok(None) if held_here(&path) => return Ok(inner()),
                Ok(None) => return Err(busy(&path)),
                // The folder went with a released lock: make it again.
                Err(LockError::Open(e)) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(LockError::Open(e) | LockError::Lock(e)) => {
                    return Err(Problem::io(
                        Exit::Refused,
                        "lock the cluster manifest",
                        &guard_path,
                        &e,
                    )
                    .fix("the share must support file locks"))
                }
                Err(LockError::Unstable) => break,
            }
        }
        let Some(held) = held else {
            return Err(Problem::refused("could not lock the cluster manifest: its lock file kept changing")
                .at(guard_path.display().to_string())
                .fix("another mdcluster is starting and stopping on this share: wait until it has finished, then rerun; nothing was changed"));
        };
        // No other mdcluster that takes the guard is here now. The lease still
        // speaks for one whose OS lock cannot be seen from here.
        match read_holder(&path) {
            Some(h) if h.is_live() && !h.is_me() => return Err(busy(&path)),
            // Unreadable and young: being written by a run that does not take the guard.
            None if crate::fsops::exists(&path) && lock_age(&path) <= STALE_SECS => {
                return Err(busy(&path))
            }
            // Free, released, or stale (its holder stopped refreshing it): ours.
            _ => {}
        }
        set_held_here(&path, true);
        if let Err(p) = write_holder(&path, &me) {
            set_held_here(&path, false);
            return Err(p);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let beat = heartbeat(path.clone(), me, stop.clone());
        Ok(ManifestLock {
            path,
            guard: Some((guard_path, held)),
            owned: true,
            stop,
            beat: Some(beat),
        })
    }
}

/// The refusal while another run holds the manifest lock, naming it.
fn busy(path: &Path) -> Problem {
    match read_holder(path) {
        Some(h) => Problem::refused(format!(
            "another mdcluster is working on this cluster: {}; {}",
            h.describe(),
            h.staleness()
        ))
        .at(path.display().to_string())
        .fix(format!(
            "let it finish first (two runs must not assign server IDs at once); if {} is gone, \
             rerun once the lease is stale, or take the lock over now with `mdcluster unlock \
             --plan FILE` when you are sure no mdcluster runs there",
            sanitize_host(&h.host)
        )),
        None => Problem::refused("the cluster manifest is locked by another run")
            .at(path.display().to_string())
            .fix("wait a moment and retry; a lock nobody refreshes expires after two minutes"),
    }
}

/// A host name read from the share, safe to show.
fn sanitize_host(host: &str) -> String {
    crate::text::sanitize(host).chars().take(64).collect()
}

/// Refresh the lease in `path` until `stop` is set, so that other hosts
/// see the holder alive.
fn heartbeat(path: PathBuf, mut me: Holder, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            std::thread::park_timeout(HEARTBEAT);
            // Another run's lease now (this one was taken over): never
            // written over. One that cannot be read for a moment is ours.
            let theirs = read_holder(&path).is_some_and(|h| h.pid != me.pid || h.host != me.host);
            if theirs {
                break;
            }
            me.alive = now_secs();
            if !stop.load(Ordering::Relaxed) {
                let _ = write_holder(&path, &me);
            }
        }
    })
}

/// Seconds since the lock file last changed (by its content, else its time).
fn lock_age(path: &Path) -> i64 {
    let by_content = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str::<Holder>(&t).ok())
        .map(|h| now_secs() - h.alive);
    by_content.unwrap_or_else(|| {
        std::fs::metadata(path)
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.elapsed().ok())
            .map(|d| d.as_secs() as i64)
            .unwrap_or(i64::MAX)
    })
}

fn write_holder(path: &Path, h: &Holder) -> Result<(), Problem> {
    let text = serde_json::to_vec(h).unwrap_or_default();
    crate::fsops::atomic::write_atomic(path, &text, None)
        .map_err(|e| Problem::failed(format!("could not write the manifest lock: {e}")))
}

impl Drop for ManifestLock {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.beat.take() {
            t.thread().unpark();
            let _ = t.join();
        }
        if self.owned {
            // The lease, if it still names this run; then the guard, while it
            // is still locked; then the lock is let go.
            if read_holder(&self.path).is_none_or(|h| h.is_me()) {
                let _ = std::fs::remove_file(&self.path);
            }
            if let Some((guard_path, held)) = self.guard.take() {
                let _ = std::fs::remove_file(&guard_path);
                set_held_here(&self.path, false);
                drop(held);
            }
            // The folder too, when the lock was all there was in it.
            if let Some(dir) = self.path.parent() {
                let _ = std::fs::remove_dir(dir);
            }
        }
    }
}

fn newer_format(version: i64, path: &Path) -> Problem {
    Problem::refused(format!(
        "the cluster manifest was written by a newer mdcluster (manifest format {version}); this mdcluster ({}) reads format {FORMAT} and older",
        env!("CARGO_PKG_VERSION")
    ))
    .at(path.display().to_string())
    .fix("run the same mdcluster version on every node: update mdcluster on this one")
}

/// Whether mdcluster may replace or remove the manifest file whose text is
/// `current` (at `path`): not when it holds what this version does not know
/// (a newer format, fields a newer mdcluster or a hand edit added), which
/// replacing it would drop, nor when it cannot be read as a manifest at all.
pub(crate) fn check_replaceable(current: &str, path: &Path) -> Result<(), Problem> {
    let unknown = unknown_fields(current).map_err(|why| {
        Problem::refused(format!("the cluster manifest is damaged: {why}"))
            .at(path.display().to_string())
            .fix("restore it from a backup, or correct it by hand; mdcluster does not replace it")
    })?;
    if unknown.is_empty() {
        return Ok(());
    }
    let shown: Vec<String> = unknown
        .iter()
        .take(5)
        .map(|f| crate::text::sanitize(f).chars().take(60).collect())
        .collect();
    Err(Problem::refused(format!(
        "the cluster manifest holds what this mdcluster ({}) does not know ({}{}): a newer mdcluster wrote it, or a hand edit; changing it here would drop that",
        env!("CARGO_PKG_VERSION"),
        shown.join(", "),
        if unknown.len() > shown.len() { ", ..." } else { "" }
    ))
    .at(path.display().to_string())
    .fix("run the same mdcluster version on every node: update mdcluster on this one (or remove those fields if they were a hand edit)"))
}

/// [`check_replaceable`] for the file at `path`; a missing file may be written.
pub(crate) fn check_file_replaceable(path: &Path) -> Result<(), Problem> {
    match std::fs::read_to_string(path) {
        Ok(current) => check_replaceable(&current, path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Problem::io(
            Exit::Refused,
            "read the cluster manifest",
            path,
            &e,
        )),
    }
}

/// The keys of the manifest file this version knows (aliases of older
/// spellings belong here too). `the_known_keys_are_every_field` keeps them
/// in step with the structs.
const TOP_KEYS: [&str; 4] = ["version", "primary", "nodes", "retired"];
const NODE_KEYS: [&str; 7] = [
    "name",
    "role",
    "server_id",
    "address",
    "licence",
    "added",
    "registered",
];
const RETIRED_KEYS: [&str; 3] = ["name", "server_id", "removed"];

/// What the manifest file `text` holds that this version does not know, as
/// `format 2`, `color` or `nodes[1].color`: a newer format or fields a newer
/// mdcluster (or a hand edit) added.
fn unknown_fields(text: &str) -> Result<Vec<String>, String> {
    let file = text
        .parse::<toml::Table>()
        .map_err(|e| e.message().trim().to_string())?;
    let mut out = Vec::new();
    if let Some(v) = file.get("version").and_then(toml::Value::as_integer) {
        if v > i64::from(FORMAT) {
            out.push(format!("format {v}"));
        }
    }
    for (key, value) in &file {
        let inner: &[&str] = match key.as_str() {
            "nodes" => &NODE_KEYS,
            "retired" => &RETIRED_KEYS,
            k if TOP_KEYS.contains(&k) => continue,
            _ => {
                out.push(key.clone());
                continue;
            }
        };
        let Some(items) = value.as_array() else {
            continue;
        };
        for (i, item) in items.iter().enumerate() {
            if let Some(t) = item.as_table() {
                out.extend(
                    t.keys()
                        .filter(|k| !inner.contains(&k.as_str()))
                        .map(|k| format!("{key}[{}].{k}", i + 1)),
                );
            }
        }
    }
    Ok(out)
}

/// The nodes whose confirmation is awaited: the primary and every secondary
/// registered in the cluster manifest (registration confirmed). Also returns
/// the plan's secondaries that are not registered yet (not awaited).
pub(crate) fn registered_nodes(
    plan: &Plan,
    manifest: Option<&Manifest>,
) -> (Vec<crate::clusterlog::confirm::NodeSpec>, Vec<String>) {
    let mut nodes = Vec::new();
    let primary = manifest
        .map(|m| m.primary.clone())
        .filter(|p| !p.is_empty())
        .or_else(|| plan.primary().map(|p| p.name.clone()));
    if let Some(p) = primary {
        let address = plan
            .nodes
            .iter()
            .find(|n| n.name.eq_ignore_ascii_case(&p))
            .map(|n| n.address.clone())
            .unwrap_or_default();
        nodes.push(crate::clusterlog::confirm::NodeSpec {
            name: p,
            address,
            primary: true,
        });
    }
    if let Some(m) = manifest {
        for member in m
            .nodes
            .iter()
            .filter(|m| m.role == Role::Secondary && m.registered.is_some())
        {
            nodes.push(crate::clusterlog::confirm::NodeSpec {
                name: member.name.clone(),
                address: member.address.clone(),
                primary: false,
            });
        }
    }
    let unregistered = plan
        .nodes
        .iter()
        .filter(|n| n.role == Role::Secondary)
        .filter(|n| !nodes.iter().any(|s| s.name.eq_ignore_ascii_case(&n.name)))
        .map(|n| n.name.clone())
        .collect();
    (nodes, unregistered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profile;

    fn plan(nodes: &str) -> Plan {
        let text = format!(
            "version = 1\n[install]\nroot = 'C:\\MDaemon'\n[shared]\npath = '\\\\fs\\m'\n{nodes}"
        );
        Plan::parse(&text, Path::new("p.toml"), &Profile::builtin()).unwrap()
    }

    fn node(name: &str, role: &str, extra: &str) -> String {
        format!(
            "[[nodes]]\nname = \"{name}\"\naddress = \"10.0.0.1\"\nrole = \"{role}\"\n{extra}\n"
        )
    }

    #[test]
    fn no_id_past_65535_is_handed_out() {
        // (The search for a free ID when every one is taken is not run here:
        // 65535 members are more than a test should build.)
        let p = plan(
            &(node("MAIL1", "primary", "server_id = 65535") + &node("MAIL2", "secondary", "")),
        );
        // The highest is taken: the lowest free one.
        let m = Manifest::default().with_plan(&p, "t0").unwrap();
        assert_eq!(m.member("MAIL2").unwrap().server_id, 1);
        // A manifest with ID 0 is damaged; one above 65535 (an earlier
        // version's) is read, and a new node gets a free ID below.
        let old = "version = 1\nprimary = \"MAIL1\"\n\n[[nodes]]\nname = \"MAIL1\"\nrole = \"primary\"\nserver_id = 65536\nadded = \"t\"\n";
        let m = Manifest::parse(old, Path::new("cluster.toml")).unwrap();
        assert_eq!(m.nodes[0].server_id, 65536);
        let text = "version = 1\nprimary = \"MAIL1\"\n\n[[nodes]]\nname = \"MAIL1\"\nrole = \"primary\"\nserver_id = 0\nadded = \"t\"\n";
        assert!(Manifest::parse(text, Path::new("cluster.toml")).is_err());
    }

    #[test]
    fn ids_are_stable_fresh_and_never_reused_unless_replacing() {
        let p =
            plan(&(node("MAIL1", "primary", "server_id = 1") + &node("MAIL2", "secondary", "")));
        let m = Manifest::default().with_plan(&p, "t0").unwrap();
        assert_eq!(
            m.nodes
                .iter()
                .map(|n| (n.name.as_str(), n.server_id.get()))
                .collect::<Vec<_>>(),
            [("MAIL1", 1), ("MAIL2", 2)]
        );
        // Rerun: the same IDs.
        assert_eq!(m.with_plan(&p, "t1").unwrap().nodes, m.nodes);
        // Remove MAIL2: its ID is retired; a new node gets 3, not 2.
        let mut m2 = m.clone();
        m2.remove("MAIL2", "t2").unwrap();
        let p3 = plan(&(node("MAIL1", "primary", "") + &node("MAIL3", "secondary", "")));
        let m3 = m2.with_plan(&p3, "t3").unwrap();
        assert_eq!(m3.member("MAIL3").unwrap().server_id, 3);
        // Asking for the retired ID is refused; replacing explicitly reuses it.
        let p4 =
            plan(&(node("MAIL1", "primary", "") + &node("MAIL4", "secondary", "server_id = 2")));
        assert!(m2
            .with_plan(&p4, "t4")
            .unwrap_err()
            .what
            .contains("retired"));
        let p5 = plan(
            &(node("MAIL1", "primary", "") + &node("MAIL4", "secondary", "replaces = \"MAIL2\"")),
        );
        let m5 = m2.with_plan(&p5, "t5").unwrap();
        assert_eq!(m5.member("MAIL4").unwrap().server_id, 2);
        assert!(m5.retired.is_empty());
    }

    #[test]
    fn conflicts_name_both_sides() {
        let p = plan(
            &(node("MAIL1", "primary", "server_id = 1")
                + &node("MAIL2", "secondary", "server_id = 2")),
        );
        let m = Manifest::default().with_plan(&p, "t").unwrap();
        let other = plan(
            &(node("MAIL1", "primary", "server_id = 1")
                + &node("MAIL2", "secondary", "server_id = 7")),
        );
        let e = m.with_plan(&other, "t").unwrap_err();
        assert!(
            e.what.contains("server ID 7") && e.what.contains("has 2"),
            "{e}"
        );
        let taken =
            plan(&(node("MAIL1", "primary", "") + &node("MAIL9", "secondary", "server_id = 2")));
        let e = m.with_plan(&taken, "t").unwrap_err();
        assert!(
            e.what.contains("MAIL9") && e.what.contains("MAIL2 holds"),
            "{e}"
        );
        assert!(m.clone().remove("MAIL1", "t").is_err(), "the primary stays");
    }

    #[test]
    fn undo_takes_back_added_nodes_and_retires_registered_ones() {
        let p = plan(&(node("MAIL1", "primary", "") + &node("MAIL2", "secondary", "")));
        let first = Manifest::default().with_plan(&p, "t").unwrap();
        let p3 = plan(
            &(node("MAIL1", "primary", "")
                + &node("MAIL2", "secondary", "")
                + &node("MAIL3", "secondary", "")),
        );
        let mut m = first.with_plan(&p3, "t2").unwrap();
        m.nodes[1].registered = Some("t3".into());
        // Undo of the second write: MAIL3 goes, unregistered, so no ID is retired.
        let mut a = m.clone();
        assert!(a.take_back(&["MAIL3".into()], "t4").is_empty());
        assert_eq!(a.nodes.len(), 2);
        assert!(a.retired.is_empty());
        // Undo of the first: MAIL2 was registered, so its ID stays retired and
        // the primary stays to hold the manifest.
        assert_eq!(
            a.take_back(&["MAIL1".into(), "MAIL2".into()], "t5"),
            vec!["MAIL2".to_string()]
        );
        assert_eq!(a.nodes.len(), 1);
        assert_eq!(a.retired[0].server_id, 2);
        assert!(!a.is_empty());
        // Without registrations everything goes.
        let mut b = first.clone();
        b.take_back(&["MAIL1".into(), "MAIL2".into()], "t6");
        assert!(b.is_empty());
    }

    /// A manifest with every field set: what this version knows of the file.
    fn with_every_field() -> Manifest {
        Manifest {
            version: FORMAT,
            primary: "P".into(),
            nodes: vec![Member {
                name: "P".into(),
                role: Role::Primary,
                server_id: ServerId::new(1).unwrap(),
                address: "a".into(),
                licence: Some("l".into()),
                added: "t".into(),
                registered: Some("t".into()),
            }],
            retired: vec![Retired {
                name: "R".into(),
                server_id: ServerId::new(2).unwrap(),
                removed: "t".into(),
            }],
        }
    }

    /// The known keys are every field of the structs: adding a field fails
    /// to compile here until the lists know it, and everything written is known.
    #[test]
    fn the_known_keys_are_every_field() {
        let m = with_every_field();
        let Manifest {
            version: _,
            primary: _,
            nodes,
            retired,
        } = &m;
        let Member {
            name: _,
            role: _,
            server_id: _,
            address: _,
            licence: _,
            added: _,
            registered: _,
        } = &nodes[0];
        let Retired {
            name: _,
            server_id: _,
            removed: _,
        } = &retired[0];
        let text = toml::to_string(&m).unwrap();
        assert_eq!(unknown_fields(&text), Ok(Vec::new()));
        let table: toml::Table = text.parse().unwrap();
        assert_eq!(table.len(), TOP_KEYS.len());
        assert_eq!(table["nodes"][0].as_table().unwrap().len(), NODE_KEYS.len());
        assert_eq!(
            table["retired"][0].as_table().unwrap().len(),
            RETIRED_KEYS.len()
        );
    }

    /// A manifest a newer mdcluster wrote: read as far as this one knows it;
    /// never replaced (that would drop what it does not know); a newer
    /// format refused by name. Nothing on disk changes.
    #[test]
    fn a_manifest_from_a_newer_mdcluster_is_read_but_never_replaced() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join(DIR).join(FILE);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        let newer = "version = 1\nprimary = \"MAIL1\"\nzone = \"eu\"\n\n\
             [[nodes]]\nname = \"MAIL1\"\nrole = \"primary\"\nserver_id = 1\nadded = \"t\"\n\n\
             [[nodes]]\nname = \"MAIL2\"\nrole = \"secondary\"\nserver_id = 2\nadded = \"t\"\nweight = 3\n";
        std::fs::write(&file, newer).unwrap();
        let m = Manifest::load(d.path()).unwrap().unwrap();
        assert_eq!(m.member("MAIL2").unwrap().server_id, 2);
        assert!(check_file_replaceable(&file).is_err());
        let err = m.save(d.path()).unwrap_err();
        let shown = err.to_string();
        assert!(
            shown.contains("does not know (nodes[2].weight, zone)")
                && shown.contains("same mdcluster version on every node"),
            "{shown}"
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), newer);

        let format_2 = newer.replacen("version = 1", "version = 2", 1);
        std::fs::write(&file, &format_2).unwrap();
        let shown = Manifest::load(d.path()).unwrap_err().to_string();
        assert!(
            shown.contains("written by a newer mdcluster (manifest format 2)")
                && shown.contains("reads format 1"),
            "{shown}"
        );
        assert!(m.save(d.path()).is_err());
        assert_eq!(std::fs::read_to_string(&file).unwrap(), format_2);
    }

    #[test]
    fn saves_and_loads_and_the_lock_refuses_a_second_run() {
        let d = tempfile::tempdir().unwrap();
        let p = plan(&(node("MAIL1", "primary", "") + &node("MAIL2", "secondary", "")));
        let m = Manifest::default().with_plan(&p, "t").unwrap();
        m.save(d.path()).unwrap();
        assert_eq!(Manifest::load(d.path()).unwrap().unwrap(), m);
        // Held by this process (the wizard): taken again, kept by the inner drop.
        let first = ManifestLock::acquire(d.path(), "wizard").unwrap();
        assert_eq!(ManifestLock::held_elsewhere(d.path()), None);
        drop(ManifestLock::acquire(d.path(), "apply").unwrap());
        assert!(dir_of(d.path()).join(LOCK).exists());
        drop(first);
        assert!(!dir_of(d.path()).join(LOCK).exists());
        // Held by a live run elsewhere: refused, naming it.
        let other = Holder {
            host: "MAIL7".into(),
            pid: 4242,
            command: "wizard".into(),
            since: "2026-11-21T10:00:00Z".into(),
            alive: now_secs(),
        };
        std::fs::write(
            dir_of(d.path()).join(LOCK),
            serde_json::to_vec(&other).unwrap(),
        )
        .unwrap();
        let e = ManifestLock::acquire(d.path(), "apply").err().unwrap();
        assert!(e.what.contains("wizard (process 4242 on MAIL7"), "{e}");
        // When it counts as stale, and how to take it over deliberately.
        assert!(
            e.what.contains("counts as stale") && e.what.contains(" s from now"),
            "{e}"
        );
        let fix = e.fix.clone().unwrap_or_default();
        assert!(
            fix.contains("mdcluster unlock") && fix.contains("MAIL7"),
            "{fix}"
        );
        assert!(ManifestLock::held_elsewhere(d.path())
            .unwrap()
            .contains("MAIL7"));
        // Taken over on purpose: then it is free.
        // A fresh lease is taken only on purpose (--yes).
        assert_eq!(
            force_unlock(d.path(), false).unwrap_err().exit,
            Exit::Refused
        );
        let who = force_unlock(d.path(), true).unwrap().unwrap();
        assert!(who.contains("MAIL7"), "{who}");
        assert!(ManifestLock::held_elsewhere(d.path()).is_none());
        assert_eq!(force_unlock(d.path(), true).unwrap(), None);
        // A run of this machine that still runs is not unlocked.
        let me = Holder {
            host: crate::platform::hostname(),
            pid: std::process::id(),
            command: "wizard".into(),
            since: "now".into(),
            alive: now_secs(),
        };
        write_holder(&dir_of(d.path()).join(LOCK), &me).unwrap();
        assert_eq!(
            force_unlock(d.path(), true).unwrap_err().exit,
            Exit::Refused
        );
        std::fs::write(
            dir_of(d.path()).join(LOCK),
            serde_json::to_vec(&other).unwrap(),
        )
        .unwrap();
        // A lock whose holder stopped refreshing it two minutes ago is stale.
        let old = Holder {
            host: "MAIL9".into(),
            pid: 1,
            command: "wizard".into(),
            since: "then".into(),
            alive: now_secs() - STALE_SECS - 5,
        };
        std::fs::write(
            dir_of(d.path()).join(LOCK),
            serde_json::to_vec(&old).unwrap(),
        )
        .unwrap();
        assert!(ManifestLock::acquire(d.path(), "apply").is_ok());
    }

    #[test]
    fn a_fresh_lease_of_a_dead_process_on_this_machine_is_taken_over_at_once() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir_of(d.path())).unwrap();
        // A process of this machine that has ended (this test binary, asked
        // only to list its tests).
        let child = std::process::Command::new(std::env::current_exe().unwrap())
            .arg("--list")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        let _ = child.wait_with_output();
        let crashed = Holder {
            host: crate::platform::hostname(),
            pid,
            command: "wizard".into(),
            since: "a moment ago".into(),
            alive: now_secs(),
        };
        std::fs::write(
            dir_of(d.path()).join(LOCK),
            serde_json::to_vec(&crashed).unwrap(),
        )
        .unwrap();
        assert_eq!(ManifestLock::held_elsewhere(d.path()), None);
        let mine = ManifestLock::acquire(d.path(), "wizard").unwrap();
        assert!(read_holder(&dir_of(d.path()).join(LOCK)).unwrap().is_me());
        drop(mine);
        // The same lease from another machine still holds until it expires.
        let elsewhere = Holder {
            host: "MAIL9".into(),
            ..crashed
        };
        std::fs::create_dir_all(dir_of(d.path())).unwrap();
        std::fs::write(
            dir_of(d.path()).join(LOCK),
            serde_json::to_vec(&elsewhere).unwrap(),
        )
        .unwrap();
        assert!(ManifestLock::acquire(d.path(), "wizard").is_err());
    }

    #[test]
    fn a_stale_lease_is_not_taken_over_while_its_run_holds_the_guard() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir_of(d.path())).unwrap();
        // Another run holds the OS lock, but its lease went stale (it was
        // suspended, or its clock jumped): it still holds the lock.
        let other = crate::fsops::lock::try_lock_path(&dir_of(d.path()).join(GUARD))
            .unwrap()
            .unwrap();
        let stale = Holder {
            host: "MAIL9".into(),
            pid: 1,
            command: "wizard".into(),
            since: "then".into(),
            alive: now_secs() - STALE_SECS - 5,
        };
        std::fs::write(
            dir_of(d.path()).join(LOCK),
            serde_json::to_vec(&stale).unwrap(),
        )
        .unwrap();
        let e = ManifestLock::acquire(d.path(), "apply").err().unwrap();
        assert_eq!(e.exit, Exit::Refused);
        assert!(e.what.contains("wizard (process 1 on MAIL9"), "{e}");
        // Released: the stale lease is taken over.
        drop(other);
        let mine = ManifestLock::acquire(d.path(), "apply").unwrap();
        assert!(read_holder(&dir_of(d.path()).join(LOCK)).unwrap().is_me());
        drop(mine);
        assert!(
            !dir_of(d.path()).exists(),
            "lease, guard and folder are gone"
        );
    }

    /// Set in the child processes of the race below: the share to race on.
    const RACE_SHARE: &str = "MDCLUSTER_TEST_MANIFEST_RACE_SHARE";

    #[test]
    fn racing_processes_never_hold_the_manifest_lock_together() {
        if let Some(share) = std::env::var_os(RACE_SHARE) {
            // A child: take and release the lock until it held it 30 times,
            // asserting nobody else holds it at the same moment (the marker
            // is created with `create_new`). Every other time it leaves a
            // stale lease behind, as a run that stopped refreshing it would,
            // so that the next holders take a stale lock over.
            let share = PathBuf::from(share);
            let marker = share.join("inside");
            let mut held = 0;
            while held < 30 {
                match ManifestLock::acquire(&share, "race") {
                    Ok(lock) => {
                        assert!(lock.owned);
                        if let Err(e) = std::fs::OpenOptions::new()
                            .write(true)
                            .create_new(true)
                            .open(&marker)
                        {
                            panic!("two holders of the manifest lock at once ({e})");
                        }
                        std::thread::yield_now();
                        std::fs::remove_file(&marker).unwrap();
                        if held % 2 == 0 {
                            let stale = Holder {
                                host: "GONE".into(),
                                pid: 1,
                                command: "race".into(),
                                since: "then".into(),
                                alive: now_secs() - STALE_SECS - 5,
                            };
                            write_holder(&lock.path, &stale).unwrap();
                        }
                        drop(lock);
                        held += 1;
                    }
                    Err(p) => {
                        assert_eq!(p.exit, Exit::Refused, "{p}");
                        // A moment before the next try, as a run retrying
                        // would: four processes reading the lease without a
                        // pause keep it open all the time, and Windows cannot
                        // replace a file that is open.
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            }
            return;
        }
        let d = tempfile::tempdir().unwrap();
        crate::fsops::lock::run_in_processes(
            "cluster::manifest::tests::racing_processes_never_hold_the_manifest_lock_together",
            (RACE_SHARE, d.path()),
            4,
        );
    }
}
