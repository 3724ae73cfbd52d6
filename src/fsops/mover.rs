//! Moving and copying folder trees without losing a file: verified, resumable,
//! in parallel, with bounded memory.
//!
//! # Invariants ([`move_tree`] and [`copy_tree`] alike)
//!
//! 1. **One file.** A file reaches the destination under a temporary name
//!    (`.mdcluster-<hash of its name>.part`, in the same folder). The source's size
//!    and modification time are read (from the open file) before its bytes are
//!    read, and again after: a source that changed meanwhile is copied again. The
//!    copy is then read back and verified (size and BLAKE3 of the bytes read from
//!    the source against the bytes read back from the copy), given the source's
//!    modification and access times and (Unix) permission bits, made durable
//!    (fsync, or a `syncfs` covering it, see "Durability"), and only then renamed
//!    to its final name (on Linux with `RENAME_NOREPLACE`, so a file that
//!    appeared meanwhile is never replaced). A failed verification removes the
//!    temporary file; nothing is left at the final name.
//! 2. **Verified by construction.** Because of 1, a file at its final name in the
//!    destination was verified against its source *before* it got that name, and
//!    its content, size and times were on stable storage before the rename, so no
//!    crash can leave the final name with a torn or unverified copy. The only
//!    other way a file gets there is someone else putting it there, which the
//!    steps' preflight refuses by hashing ([`super::tree::foreign_content`]).
//!    Hence a resumed run treats a destination file whose size *and* modification
//!    time (to the nanosecond, as the file system stores it) equal its source's
//!    as done, without reading either: it is a verified copy of that very version
//!    of the source. Any other destination file is compared by content (BLAKE3
//!    of both): identical means done (its times and permission bits are set
//!    again), different is a [`FsError::Conflict`] — never overwritten.
//! 3. **Two phases.** A move deletes no source file before every file of the tree
//!    has been copied, verified and made durable (each file before its rename,
//!    then the destination's folder entries: one `syncfs` on Linux, an fsync per
//!    folder elsewhere). An error anywhere in the copy phase ends the move before
//!    the delete phase starts. In the delete phase each source file is checked
//!    against its copy once more (size and modification time; when the times
//!    differ, as on a share that keeps them only to the second or refuses to
//!    set them, by content: same size and BLAKE3); one that changed
//!    since its copy (or appeared since) is copied again (through 1, replacing our
//!    earlier copy, flushed at once) and its folder flushed before the source is
//!    deleted.
//! 4. **Idempotent.** Every step can be repeated: a rerun after a crash at any
//!    point continues (2 makes the rerun cheap), and an undo — the same move the
//!    other way — works with partial states on both sides (a source partly
//!    deleted, a destination partly written). A leftover temporary file is reused
//!    (same name per file) and overwritten; one found in the tree being moved
//!    (an undo of an interrupted copy) is neither copied nor kept.
//! 5. **Links and special files** (symlinks, FIFOs, sockets, devices) are never
//!    followed, opened for reading or copied: they are skipped and listed
//!    (relative paths) in [`Outcome::skipped`]. In a move they stay at the source,
//!    with the folders that hold them; everything else moves. A link loop cannot
//!    make the walk hang, since links are not followed. A source that *is* a link
//!    is an error ([`FsError::Special`]).
//! 6. **Folders** are created before any file in them; their permission bits and
//!    times are set after all their content is written, deepest first. (A rerun
//!    after a crash copies a folder's times as they are then: a source folder
//!    whose content was partly deleted, or, when an undo follows a crash in the
//!    copy phase, a copied folder whose times were not set yet, has a new time.
//!    Files always keep theirs.)
//! 7. **Same file system.** When allowed and the target is missing or empty, a
//!    move is one rename of the folder (links move along; nothing is read, and
//!    the reported counts are the caller's totals).
//!
//! Limits: the read-back of 1 may come from the destination's cache, so it
//! proves what the file system accepted, not the disk's media; a destination
//! that cannot store nanosecond times (some shares) never matches 2's quick
//! check, so a rerun compares such files by content (slower, still correct).
//!
//! # Parallelism and memory
//!
//! One walker thread streams the tree (unsorted `walkdir`, links not followed)
//! and feeds files in batches of [`BATCH`] through a bounded channel
//! ([`QUEUE_PER_THREAD`] batches per worker) to [`Options::threads`] worker
//! threads, which copy (or, in the delete phase, check and delete) one file at a
//! time each, with one reused buffer. The calling thread only reports progress
//! (from atomic counters, every 100 ms) and waits. Memory is bounded by the
//! queue, the workers' pending lists ([`PENDING_FILES`]), the walker's open
//! folders and the list of folders (path and metadata, far fewer than files),
//! never by the number of files. The first error stops the walk; the workers
//! drain the queue without doing more work, and the error is returned.
//!
//! # Durability
//!
//! Every copy is on stable storage before its rename ([`Flush`]): either each
//! worker fsyncs each file (`EachFile`: the flushes run in parallel; on an SMB
//! share this is what sends the server a flush), or, on a local Linux file
//! system where one `syncfs` is a full barrier (`Batched`, chosen automatically
//! for ext4, XFS, Btrfs and tmpfs), each worker collects up to [`PENDING_FILES`]
//! verified temporary files, flushes them with one `syncfs` and then renames
//! them. Per-file fsync onto ext4 costs a journal commit per file (54 s against
//! 13 s for copying 223,000 files here, docs/performance.md "Mail-store move");
//! on a Linux SMB mount `syncfs` would write the data but ask the server for no
//! flush (the SMB client has no `sync_fs`), while fsync sends one. The
//! folder entries (the renames) are flushed at the end of the copy phase, before
//! any deletion: on Linux with one `syncfs`, elsewhere with an fsync per folder.

use super::tree::{kind_of, walk_error};
use super::{fsync_dir, FsError};
use crossbeam_channel::{RecvTimeoutError, Sender};
use std::collections::{BTreeSet, HashSet};
use std::fs::{File, Metadata};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use walkdir::WalkDir;

/// Worker threads by default. The work waits on the kernel more than it
/// computes, so more threads than cores pay off; on the 2-core benchmark
/// machine 4, 8 and 16 were within the noise (docs/performance.md). 8 keeps
/// enough requests in flight for a share's latency with half the memory of 16.
pub(crate) const DEFAULT_THREADS: usize = 8;

/// Files per message from the walker to the workers (one wake-up per batch,
/// not per file).
pub(crate) const BATCH: usize = 64;

/// Batches queued per worker between the walker and the workers. With the
/// batch each worker holds, at most `threads * (QUEUE_PER_THREAD + 1) * BATCH`
/// files are in flight: the memory bound.
pub(crate) const QUEUE_PER_THREAD: usize = 2;

const BUF_SIZE: usize = 256 * 1024;
const TICK: Duration = Duration::from_millis(100);
/// How often a file that keeps changing while it is copied is tried.
const ATTEMPTS: usize = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// One rename of the whole folder (same file system).
    Rename,
    /// Copy, verify, then (for a move) delete the source.
    Copy,
}

/// How a move or copy runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Permit the one-rename shortcut of a move (see [`rename_allowed`]).
    pub allow_rename: bool,
    /// Worker threads (at least 1).
    pub threads: usize,
    /// How copies are made durable before they get their final name.
    pub flush: Flush,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            allow_rename: true,
            threads: DEFAULT_THREADS,
            flush: Flush::Auto,
        }
    }
}

/// How a verified copy is made durable before it is renamed to its final name
/// (module doc, "Durability"). Either way no final name ever points to data
/// that is not on stable storage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Flush {
    /// `Batched` where the destination is a local Linux file system on which
    /// one `syncfs` flushes everything (ext2/3/4, XFS, Btrfs, tmpfs);
    /// `EachFile` everywhere else (SMB and NFS shares, FUSE, other systems).
    #[default]
    Auto,
    /// fsync each file before its rename.
    EachFile,
    /// Each worker collects verified temporary files (up to [`PENDING_FILES`]
    /// or [`PENDING_BYTES`]), flushes them all with one `syncfs`, then renames
    /// them. Linux only; elsewhere the same as `EachFile`.
    Batched,
}

/// Verified temporary files a worker collects before one `syncfs` ([`Flush::Batched`]).
pub(crate) const PENDING_FILES: usize = 512;
/// Bytes a worker collects before one `syncfs` ([`Flush::Batched`]).
pub(crate) const PENDING_BYTES: u64 = 64 << 20;

/// What a move or copy is doing: copying (each file written under a
/// temporary name, read back and compared), flushing the copies to stable
/// storage, or deleting the source (only after every copy is verified and
/// flushed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    #[default]
    Copy,
    Flush,
    Delete,
}

/// Running totals for progress reports.
#[derive(Clone, Copy, Debug, Default)]
pub struct Progress {
    pub phase: Phase,
    /// Files copied or found already copied (verified).
    pub files_done: u64,
    pub bytes_done: u64,
    pub files_total: u64,
    pub bytes_total: u64,
    /// Source files deleted so far (the delete phase of a move).
    pub files_removed: u64,
}

/// What a move or copy did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Outcome {
    pub method: Method,
    pub files: u64,
    pub bytes: u64,
    /// Links and special files that were not copied (relative to the source);
    /// in a move they are still at the source.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
}

/// False when the test hook [`crate::test_hooks::NO_RENAME`] is set.
pub(crate) fn rename_allowed() -> bool {
    !crate::test_hooks::is_set(crate::test_hooks::NO_RENAME)
}

/// Move the folder `from` to `to` (which must not exist, be empty, or hold an
/// identical partial copy). Afterwards `to` holds everything and `from` is gone,
/// except for skipped links and special files, which stay at the source with
/// their folders. `totals` are the expected (files, bytes) for progress (and
/// the counts reported for a rename, which reads nothing). `progress` is called
/// on the calling thread.
pub(crate) fn move_tree(
    from: &Path,
    to: &Path,
    opts: &Options,
    totals: (u64, u64),
    progress: &mut dyn FnMut(&Progress),
) -> Result<Outcome, FsError> {
    // Moved already, or by one rename: done, source gone.
    let finished = Progress {
        phase: Phase::Delete,
        files_done: totals.0,
        bytes_done: totals.1,
        files_total: totals.0,
        bytes_total: totals.1,
        files_removed: totals.0,
    };
    let renamed = Outcome {
        method: Method::Rename,
        files: totals.0,
        bytes: totals.1,
        skipped: Vec::new(),
    };
    if !super::exists(from) {
        // Resumed after the rename (or the final delete) already happened.
        if super::exists(to) {
            progress(&finished);
            return Ok(renamed);
        }
        return Err(FsError::io(
            "move",
            from,
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
    }
    refuse_special_root(from)?;
    refuse_alias(from, to)?;
    if opts.allow_rename && super::tree::is_empty_dir(to)? {
        if super::exists(to) {
            std::fs::remove_dir(to).map_err(|e| FsError::io("remove the empty folder", to, e))?;
        }
        // On another file system (or when the OS refuses the rename) fall through to copying.
        if std::fs::rename(from, to).is_ok() {
            sync_parents(from, to)?;
            progress(&finished);
            return Ok(renamed);
        }
    }
    let run = Run::new(opts, totals);
    run.copy_phase(from, to, progress)?;
    run.delete_phase(from, to, progress)?;
    Ok(run.outcome())
}

/// Copy the folder `from` to `to`, verified; the source stays as it is. Links
/// and special files are skipped and listed in the outcome.
pub fn copy_tree(
    from: &Path,
    to: &Path,
    opts: &Options,
    totals: (u64, u64),
    progress: &mut dyn FnMut(&Progress),
) -> Result<Outcome, FsError> {
    refuse_special_root(from)?;
    refuse_alias(from, to)?;
    let run = Run::new(opts, totals);
    run.copy_phase(from, to, progress)?;
    Ok(run.outcome())
}

/// Undo of [`copy_tree`]: delete from `copy` every file that is still identical
/// to its twin in `source` and every temporary file of ours, then the folders left empty (`copy` itself too unless
/// `keep_root`). Files that differ are kept and returned: they are not ours to delete.
pub(crate) fn remove_copy(
    source: &Path,
    copy: &Path,
    keep_root: bool,
) -> Result<Vec<PathBuf>, FsError> {
    let mut kept = Vec::new();
    if !super::exists(copy) {
        return Ok(kept);
    }
    for entry in WalkDir::new(copy)
        .follow_links(false)
        .follow_root_links(false)
        .contents_first(true)
        .sort_by_file_name()
    {
        let entry = entry.map_err(|e| walk_error(copy, e))?;
        let rel = entry.path().strip_prefix(copy).unwrap_or(entry.path());
        if entry.file_type().is_dir() {
            if entry.depth() == 0 && keep_root {
                continue;
            }
            match std::fs::remove_dir(entry.path()) {
                Ok(()) => {}
                // Kept files keep their folder.
                Err(_) if !super::tree::is_empty_dir(entry.path())? => {}
                Err(e) => return Err(FsError::io("remove folder", entry.path(), e)),
            }
        } else if is_leftover(entry.file_name())
            || super::tree::same_file_content(entry.path(), &source.join(rel))?
        {
            // Identical to its source, or a temporary file of an interrupted
            // copy (ours; it may hold a private key).
            remove_file(entry.path())?;
        } else {
            kept.push(entry.path().to_path_buf());
        }
    }
    if let Some(parent) = copy.parent() {
        fsync_dir(parent)?;
    }
    Ok(kept)
}

/// Whether `from` and the nearest existing folder of `to` are on one file system
/// (a move will be a rename). None where the platform cannot tell.
pub fn same_filesystem(from: &Path, to: &Path) -> Option<bool> {
    // A link is renamed itself, on the file system of the folder holding it.
    let is_link = std::fs::symlink_metadata(from)
        .ok()?
        .file_type()
        .is_symlink();
    let a = match from.parent() {
        Some(parent) if is_link => super::identity::device(parent)?,
        _ => super::identity::device(from)?,
    };
    let mut probe = to;
    loop {
        if let Some(b) = super::identity::device(probe) {
            return Some(a == b);
        }
        probe = probe.parent()?;
    }
}

/// Two names of one folder: copying it "onto itself" would verify every
/// file against itself and the move would then delete the only copy.
fn refuse_alias(from: &Path, to: &Path) -> Result<(), FsError> {
    if super::identity::same_file(from, to) {
        return Err(FsError::Alias {
            path: from.to_path_buf(),
            other: to.to_path_buf(),
        });
    }
    Ok(())
}

fn refuse_special_root(from: &Path) -> Result<(), FsError> {
    if let Some(what) = std::fs::symlink_metadata(from)
        .ok()
        .as_ref()
        .and_then(kind_of)
    {
        return Err(FsError::Special {
            path: from.to_path_buf(),
            what,
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// One run: shared state of the walker, the workers and the calling thread.

struct Run {
    threads: usize,
    flush: Flush,
    totals: (u64, u64),
    /// The phase being reported ([`Phase`] as its index).
    phase: std::sync::atomic::AtomicU8,
    files: AtomicU64,
    bytes: AtomicU64,
    removed: AtomicU64,
    stop: AtomicBool,
    error: Mutex<Option<FsError>>,
    /// Links and special files found, relative to the source root.
    skipped: Mutex<BTreeSet<PathBuf>>,
}

/// A file for a worker.
struct Job {
    src: PathBuf,
    dst: PathBuf,
    /// The destination folder was created (empty) by this walk, so there is
    /// nothing to look for at `dst` (the final rename still never replaces).
    fresh: bool,
}

/// A worker's own state: its buffer and, with [`Flush::Batched`], its verified
/// temporary files waiting for the next `syncfs` before their renames.
struct Worker {
    buf: Vec<u8>,
    batched: bool,
    pending: Vec<Pending>,
    pending_bytes: u64,
}

/// A verified, not yet flushed temporary file and its final name.
struct Pending {
    tmp: PathBuf,
    dst: PathBuf,
    len: u64,
}

/// The walker's end of the queue: collects jobs into batches.
struct Batcher {
    jobs: Sender<Vec<Job>>,
    batch: Vec<Job>,
}

impl Batcher {
    /// Queue a job (waits while the queue is full); false when the workers are gone.
    fn push(&mut self, job: Job) -> bool {
        self.batch.push(job);
        self.batch.len() < BATCH || self.flush()
    }

    fn flush(&mut self) -> bool {
        if self.batch.is_empty() {
            return true;
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        self.jobs.send(batch).is_ok()
    }
}

/// A destination folder, with what to give it once its content is written.
struct Folder {
    path: PathBuf,
    meta: Metadata,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The destination path of `src`, found below `from`, under `to`.
fn twin(from: &Path, to: &Path, src: &Path) -> PathBuf {
    match src.strip_prefix(from) {
        Ok(rel) if !rel.as_os_str().is_empty() => to.join(rel),
        _ => to.to_path_buf(),
    }
}

impl Run {
    fn new(opts: &Options, totals: (u64, u64)) -> Run {
        Run {
            threads: opts.threads.clamp(1, 1024),
            flush: opts.flush,
            totals,
            phase: std::sync::atomic::AtomicU8::new(0),
            files: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            removed: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            error: Mutex::new(None),
            skipped: Mutex::new(BTreeSet::new()),
        }
    }

    fn fail(&self, e: FsError) {
        let mut first = lock(&self.error);
        if first.is_none() {
            *first = Some(e);
        }
        self.stop.store(true, Ordering::SeqCst);
    }

    fn count(&self, len: u64) {
        self.files.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(len, Ordering::Relaxed);
    }

    /// Make a worker's verified temporary files durable with one `syncfs`, then
    /// give them their final names.
    fn flush_pending(&self, w: &mut Worker) -> Result<(), FsError> {
        let Some(first) = w.pending.first() else {
            return Ok(());
        };
        let dir = first.dst.parent().unwrap_or(Path::new("."));
        syncfs(dir)?;
        w.pending_bytes = 0;
        while let Some(p) = w.pending.pop() {
            trace(&p.dst, "flushed");
            if let Err(e) = rename_into_place(&p.tmp, &p.dst, false) {
                w.pending.push(p);
                return Err(e);
            }
            trace(&p.dst, "renamed");
            self.count(p.len);
        }
        Ok(())
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn skip(&self, from: &Path, path: &Path) {
        let rel = path.strip_prefix(from).unwrap_or(path).to_path_buf();
        lock(&self.skipped).insert(rel);
    }

    fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Relaxed);
    }

    fn progress(&self) -> Progress {
        let phase = match self.phase.load(Ordering::Relaxed) {
            0 => Phase::Copy,
            1 => Phase::Flush,
            _ => Phase::Delete,
        };
        Progress {
            phase,
            files_done: self.files.load(Ordering::Relaxed),
            bytes_done: self.bytes.load(Ordering::Relaxed),
            files_total: self.totals.0,
            bytes_total: self.totals.1,
            files_removed: self.removed.load(Ordering::Relaxed),
        }
    }

    fn outcome(&self) -> Outcome {
        Outcome {
            method: Method::Copy,
            files: self.files.load(Ordering::SeqCst),
            bytes: self.bytes.load(Ordering::SeqCst),
            skipped: lock(&self.skipped)
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
        }
    }

    /// Run `walk` on its own thread, feeding jobs through a bounded channel to
    /// the workers, which run `work` on each; the calling thread reports
    /// progress until all have finished. Returns what the walk collected, or
    /// the first error of any of them.
    fn pool<W: Send>(
        &self,
        batched: bool,
        walk: impl FnOnce(&mut Batcher) -> Result<W, FsError> + Send,
        work: impl Fn(&mut Worker, Job) -> Result<(), FsError> + Sync,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<W, FsError> {
        let (jobs, queue) = crossbeam_channel::bounded::<Vec<Job>>(self.threads * QUEUE_PER_THREAD);
        // Nothing is ever sent on `alive`: it disconnects when the last thread
        // holding a clone ends (also by unwinding), which ends the wait below.
        let (alive, all_ended) = crossbeam_channel::bounded::<()>(0);
        let walked = std::thread::scope(|s| {
            let work = &work;
            for _ in 0..self.threads {
                let queue = queue.clone();
                let alive = alive.clone();
                s.spawn(move || {
                    let _alive = alive;
                    let mut worker = Worker {
                        buf: Vec::new(),
                        batched,
                        pending: Vec::new(),
                        pending_bytes: 0,
                    };
                    for batch in queue.iter() {
                        for job in batch {
                            if self.stopped() {
                                break; // drain, so the walker is never stuck
                            }
                            if let Err(e) = work(&mut worker, job) {
                                self.fail(e);
                            }
                        }
                    }
                    if !self.stopped() {
                        if let Err(e) = self.flush_pending(&mut worker) {
                            self.fail(e);
                        }
                    }
                    for p in worker.pending.drain(..) {
                        let _ = std::fs::remove_file(&p.tmp);
                    }
                });
            }
            drop(queue);
            let walker = s.spawn(move || {
                let _alive = alive;
                let mut batcher = Batcher {
                    jobs,
                    batch: Vec::with_capacity(BATCH),
                };
                let walked = walk(&mut batcher);
                if walked.is_ok() {
                    batcher.flush();
                }
                drop(batcher);
                walked.map_err(|e| self.fail(e)).ok()
            });
            while let Err(RecvTimeoutError::Timeout) = all_ended.recv_timeout(TICK) {
                progress(&self.progress());
            }
            walker.join()
        });
        let walked = match walked {
            Ok(w) => w,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        if let Some(e) = lock(&self.error).take() {
            return Err(e);
        }
        // A walk that failed has recorded its error: `walked` is Some here.
        walked.ok_or_else(|| FsError::Io {
            op: "walk",
            path: PathBuf::new(),
            reason: "the walk ended without a result".into(),
            kind: std::io::ErrorKind::Other,
        })
    }

    // -----------------------------------------------------------------------
    // Copy phase

    fn copy_phase(
        &self,
        from: &Path,
        to: &Path,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<(), FsError> {
        // Each phase is said when it begins, however short it is.
        progress(&self.progress());
        let folders = self.pool(
            cfg!(target_os = "linux")
                && (self.flush == Flush::Batched
                    || (self.flush == Flush::Auto && syncfs_flushes_all(to))),
            |jobs| self.walk_copy(from, to, jobs),
            |w, job| {
                let (src, dst) = (&job.src, &job.dst);
                match copy_file(w, src, dst, job.fresh, false)? {
                    Copied::Done(len) => self.count(len),
                    Copied::Queued => {
                        if w.pending.len() >= PENDING_FILES || w.pending_bytes >= PENDING_BYTES {
                            self.flush_pending(w)?;
                        }
                    }
                    Copied::Special => self.skip(from, src),
                }
                Ok(())
            },
            progress,
        )?;
        // Said before the flush, which may take a while on a slow share.
        self.set_phase(Phase::Flush);
        progress(&self.progress());
        // Deepest first: reversed pre-order puts every folder after its content.
        for folder in folders.iter().rev() {
            copy_permissions(&folder.meta, &folder.path)?;
            set_times(&folder.path, &folder.meta)?;
        }
        make_durable(to, &folders)?;
        progress(&self.progress());
        Ok(())
    }

    fn walk_copy(
        &self,
        from: &Path,
        to: &Path,
        jobs: &mut Batcher,
    ) -> Result<Vec<Folder>, FsError> {
        let mut folders = Vec::new();
        // Per depth of the walk: whether that folder was created by this walk.
        let mut created: Vec<bool> = Vec::new();
        for entry in WalkDir::new(from)
            .follow_links(false)
            .follow_root_links(false)
        {
            if self.stopped() {
                break;
            }
            let entry = entry.map_err(|e| walk_error(from, e))?;
            let ft = entry.file_type();
            if ft.is_dir() {
                let dst = twin(from, to, entry.path());
                let meta = entry.metadata().map_err(|e| walk_error(entry.path(), e))?;
                created.truncate(entry.depth());
                created.push(create_folder(&dst)?);
                folders.push(Folder { path: dst, meta });
            } else if ft.is_file() {
                if is_leftover(entry.file_name()) {
                    continue; // ours, from an interrupted copy into this tree
                }
                let job = Job {
                    dst: twin(from, to, entry.path()),
                    fresh: entry
                        .depth()
                        .checked_sub(1)
                        .and_then(|parent| created.get(parent).copied())
                        .unwrap_or(false),
                    src: entry.into_path(),
                };
                if !jobs.push(job) {
                    break;
                }
            } else {
                self.skip(from, entry.path());
            }
        }
        Ok(folders)
    }

    // -----------------------------------------------------------------------
    // Delete phase (moves only, after the copy phase succeeded)

    fn delete_phase(
        &self,
        from: &Path,
        to: &Path,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<(), FsError> {
        self.set_phase(Phase::Delete);
        progress(&self.progress());
        let folders = self.pool(
            false,
            |jobs| self.walk_delete(from, to, jobs),
            |w, job| self.delete_file(w, from, &job.src, &job.dst),
            progress,
        )?;
        // Folders that still hold a skipped link or special file stay.
        let mut keep: HashSet<PathBuf> = HashSet::new();
        for rel in lock(&self.skipped).iter() {
            for dir in from.join(rel).ancestors().skip(1) {
                if !dir.starts_with(from) || !keep.insert(dir.to_path_buf()) {
                    break;
                }
            }
        }
        for dir in folders.iter().rev() {
            if keep.contains(dir) {
                continue;
            }
            match std::fs::remove_dir(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(FsError::io("remove the moved folder", dir, e)),
            }
        }
        if let Some(parent) = from.parent() {
            fsync_dir(parent)?;
        }
        progress(&self.progress());
        Ok(())
    }

    fn walk_delete(
        &self,
        from: &Path,
        to: &Path,
        jobs: &mut Batcher,
    ) -> Result<Vec<PathBuf>, FsError> {
        let mut folders = Vec::new();
        for entry in WalkDir::new(from)
            .follow_links(false)
            .follow_root_links(false)
        {
            if self.stopped() {
                break;
            }
            let entry = entry.map_err(|e| walk_error(from, e))?;
            let ft = entry.file_type();
            if ft.is_dir() {
                // A folder that appeared after the copy phase gets its twin,
                // so its files can be copied before they are deleted.
                let dst = twin(from, to, entry.path());
                let _ = create_folder(&dst)?;
                refuse_alias(entry.path(), &dst)?;
                folders.push(entry.into_path());
            } else if ft.is_file() {
                if is_leftover(entry.file_name()) {
                    // A temporary file of an interrupted copy into this tree
                    // (an undo moves a partial copy back): ours, not copied.
                    remove_file(entry.path())?;
                    continue;
                }
                let job = Job {
                    dst: twin(from, to, entry.path()),
                    src: entry.into_path(),
                    fresh: false,
                };
                if !jobs.push(job) {
                    break;
                }
            } else {
                self.skip(from, entry.path());
            }
        }
        Ok(folders)
    }

    /// Delete one source file whose verified copy is in place; copy it again
    /// first when it changed since it was copied.
    fn delete_file(
        &self,
        w: &mut Worker,
        from: &Path,
        src: &Path,
        dst: &Path,
    ) -> Result<(), FsError> {
        for _ in 0..ATTEMPTS {
            let meta = match std::fs::symlink_metadata(src) {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(FsError::io("read", src, e)),
            };
            if !meta.is_file() {
                self.skip(from, src);
                return Ok(());
            }
            if unchanged_since_copy(&meta, dst) || same_content(w, &meta, src, dst)? {
                // Never the only copy: a copy that is the source itself
                // (reached through a link or mount) is no copy. Each folder
                // was compared already; on Unix each file costs nothing more.
                #[cfg(unix)]
                if let Ok(d) = std::fs::symlink_metadata(dst) {
                    if super::identity::one_file(src, &meta, dst, &d) {
                        return Err(FsError::Alias {
                            path: src.to_path_buf(),
                            other: dst.to_path_buf(),
                        });
                    }
                }
                remove_file(src)?;
                trace(src, "deleted");
                self.removed.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
            // Changed since its copy (or new): copy again, and make the new
            // name durable, before the source may go.
            if let Copied::Special = copy_file(w, src, dst, false, true)? {
                self.skip(from, src);
                return Ok(());
            }
            if let Some(parent) = dst.parent() {
                fsync_dir(parent)?;
            }
            trace(src, "copied again");
        }
        Err(FsError::io(
            "move",
            src,
            std::io::Error::other("it kept changing while it was being moved"),
        ))
    }
}

/// Create a destination folder; true when it was created (and so is empty),
/// false when it was there already.
fn create_folder(dst: &Path) -> Result<bool, FsError> {
    match std::fs::create_dir(dst) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            // Not `is_dir()`: a link to a folder at the destination is not ours.
            match std::fs::symlink_metadata(dst) {
                Ok(m) if m.is_dir() => Ok(false),
                _ => Err(FsError::Conflict {
                    path: dst.to_path_buf(),
                }),
            }
        }
        Err(e) => Err(FsError::io("create folder", dst, e)),
    }
}

fn unchanged_since_copy(src: &Metadata, dst: &Path) -> bool {
    match std::fs::symlink_metadata(dst) {
        Ok(d) => d.is_file() && d.len() == src.len() && same_mtime(&d, src),
        Err(_) => false,
    }
}

/// Whether `dst` holds exactly the bytes of `src` (same size, same BLAKE3),
/// for a copy whose modification time differs from its source's: a share
/// that keeps times only to the second (or not at all) never passes the
/// quick check of [`unchanged_since_copy`].
fn same_content(w: &mut Worker, meta: &Metadata, src: &Path, dst: &Path) -> Result<bool, FsError> {
    match std::fs::symlink_metadata(dst) {
        Ok(d) if d.is_file() && d.len() == meta.len() => {}
        _ => return Ok(false),
    }
    if w.buf.len() < BUF_SIZE {
        w.buf.resize(BUF_SIZE, 0);
    }
    let Some(mut input) = open_source(src)? else {
        return Ok(false);
    };
    let (_, source_hash) = hash_stream(&mut input, &mut w.buf, src)?;
    let mut copy = File::open(dst).map_err(|e| FsError::io("open", dst, e))?;
    let (_, copy_hash) = hash_stream(&mut copy, &mut w.buf, dst)?;
    let after = input.metadata().map_err(|e| FsError::io("read", src, e))?;
    // Unchanged while it was read, and identical to its copy.
    Ok(source_hash == copy_hash && after.len() == meta.len() && same_mtime(&after, meta))
}

fn same_mtime(a: &Metadata, b: &Metadata) -> bool {
    filetime::FileTime::from_last_modification_time(a)
        == filetime::FileTime::from_last_modification_time(b)
}

// ---------------------------------------------------------------------------
// One file

enum Copied {
    /// Copied, or a verified copy was already in place: the file's size.
    Done(u64),
    /// Verified and waiting in the worker's pending list for a `syncfs`.
    Queued,
    /// Not a regular file (any more): skipped.
    Special,
}

/// Copy one file through a temporary name, verified before the rename (module
/// doc, invariant 1). With `replace` a different destination file (our own
/// earlier copy of a source that changed since) is replaced; without it that
/// is a conflict.
fn copy_file(
    w: &mut Worker,
    src: &Path,
    dst: &Path,
    fresh: bool,
    replace: bool,
) -> Result<Copied, FsError> {
    if w.buf.len() < BUF_SIZE {
        w.buf.resize(BUF_SIZE, 0);
    }
    let buf = &mut w.buf;
    // A replacement is rare (delete phase) and flushed at once.
    let flush_now = replace || !w.batched;
    // In a folder this run created nothing can be there yet; where the final
    // rename cannot refuse to replace (not Linux), look anyway.
    let look = !fresh || !cfg!(target_os = "linux");
    let lookup = if look {
        std::fs::symlink_metadata(dst)
    } else {
        Err(std::io::ErrorKind::NotFound.into())
    };
    let existing = match lookup {
        Ok(m) if m.is_file() => Some(m),
        Ok(_) => {
            return Err(FsError::Conflict {
                path: dst.to_path_buf(),
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(FsError::io("read", dst, e)),
    };
    if let Some(existing) = &existing {
        // A resumed run: look at the source without opening it first.
        let meta = std::fs::symlink_metadata(src).map_err(|e| FsError::io("read", src, e))?;
        if !meta.is_file() {
            return Ok(Copied::Special);
        }
        if existing.len() == meta.len() && same_mtime(existing, &meta) {
            // Verified by construction (module doc, invariant 2).
            return Ok(Copied::Done(meta.len()));
        }
    }
    let Some(mut input) = open_source(src)? else {
        return Ok(Copied::Special);
    };
    let mut meta = input.metadata().map_err(|e| FsError::io("read", src, e))?;
    if !meta.is_file() {
        return Ok(Copied::Special);
    }
    if let Some(existing) = &existing {
        if existing.len() == meta.len() && identical_copy(&mut input, &meta, buf, src, dst)? {
            return Ok(Copied::Done(meta.len()));
        }
        if !replace {
            return Err(FsError::Conflict {
                path: dst.to_path_buf(),
            });
        }
    }
    let dir = dst.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(part_name(dst));
    for _ in 0..ATTEMPTS {
        let written = write_verified(buf, &mut input, &meta, src, &tmp, dst, flush_now);
        if let Ok(None) = written {
            super::crash_point(dst);
        }
        match written {
            Ok(None) if !flush_now => {
                w.pending_bytes += meta.len();
                w.pending.push(Pending {
                    tmp,
                    dst: dst.to_path_buf(),
                    len: meta.len(),
                });
                return Ok(Copied::Queued);
            }
            Ok(None) => {
                rename_into_place(&tmp, dst, replace)?;
                trace(dst, "renamed");
                return Ok(Copied::Done(meta.len()));
            }
            Ok(Some(changed)) => {
                // The source changed while it was read: copy that version.
                meta = changed;
                rewind(&mut input, src)?;
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        }
    }
    let _ = std::fs::remove_file(&tmp);
    Err(FsError::io(
        "copy",
        src,
        std::io::Error::other("it kept changing while it was being copied"),
    ))
}

/// Whether the file at `dst` (as long as the source) is an identical copy
/// of `input`, compared by content; then it gets the source's times and
/// permission bits. Else `input` is rewound for the copy.
fn identical_copy(
    input: &mut File,
    meta: &std::fs::Metadata,
    buf: &mut [u8],
    src: &Path,
    dst: &Path,
) -> Result<bool, FsError> {
    let (_, source_hash) = hash_stream(input, buf, src)?;
    let mut copy = File::open(dst).map_err(|e| FsError::io("open", dst, e))?;
    let (_, copy_hash) = hash_stream(&mut copy, buf, dst)?;
    if source_hash == copy_hash {
        drop(copy);
        copy_permissions(meta, dst)?;
        set_times(dst, meta)?;
        trace(dst, "identical");
        return Ok(true);
    }
    rewind(input, src)?;
    Ok(false)
}

/// Write `input` (whose metadata, read before, is `meta`) to `tmp`, read it back
/// and verify it, give it `meta`'s times and permission bits, and (with
/// `flush_now`) flush it.
/// Returns the source's new metadata when it changed while it was read (the
/// temporary file is then not ready), or None when `tmp` is ready to be renamed.
fn write_verified(
    buf: &mut [u8],
    input: &mut File,
    meta: &Metadata,
    src: &Path,
    tmp: &Path,
    dst: &Path,
    flush_now: bool,
) -> Result<Option<Metadata>, FsError> {
    let mut out = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(tmp)
        .map_err(|e| FsError::io("create", tmp, e))?;
    let mut hasher = blake3::Hasher::new();
    let mut written = 0u64;
    loop {
        let n = read_some(input, buf, src)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])
            .map_err(|e| FsError::io("write", tmp, e))?;
        written += n as u64;
    }
    let source_hash = hasher.finalize();
    #[cfg(test)]
    hooks::change_source(src);
    let after = input.metadata().map_err(|e| FsError::io("read", src, e))?;
    if written != meta.len() || after.len() != meta.len() || !same_mtime(&after, meta) {
        return Ok(Some(after));
    }
    trace(dst, "written");
    #[cfg(test)]
    hooks::corrupt(dst, &mut out);
    rewind(&mut out, tmp)?;
    let (read_back, copy_hash) = hash_stream(&mut out, buf, tmp)?;
    if read_back != written || copy_hash != source_hash {
        return Err(FsError::Verify {
            path: src.to_path_buf(),
        });
    }
    trace(dst, "verified");
    // A share may refuse both (an SMB mount through FUSE): the copy is
    // verified already, and the delete phase then compares by content.
    #[cfg(unix)]
    tolerated(out.set_permissions(meta.permissions()))
        .map_err(|e| FsError::io("set permissions on", tmp, e))?;
    tolerated(out.set_times(file_times(meta, src)?))
        .map_err(|e| FsError::io("set the modification time of", tmp, e))?;
    trace(dst, "times");
    if flush_now {
        out.sync_all().map_err(|e| FsError::io("flush", tmp, e))?;
        trace(dst, "flushed");
    }
    Ok(None)
}

/// Test hook [`crate::test_hooks::UNREADABLE`]: a source file with that
/// name cannot be opened ("permission denied"), like a file the account may
/// not read; root ignores `chmod 000`, so tests cannot make one otherwise.
fn unreadable_by_hook(src: &Path) -> bool {
    static NAME: std::sync::OnceLock<Option<std::ffi::OsString>> = std::sync::OnceLock::new();
    NAME.get_or_init(|| crate::test_hooks::value(crate::test_hooks::UNREADABLE))
        .as_deref()
        .is_some_and(|name| src.file_name() == Some(name))
}

/// Open a source file for reading without following a link and without
/// blocking on a FIFO; None when it is (now) a link.
fn open_source(src: &Path) -> Result<Option<File>, FsError> {
    if unreadable_by_hook(src) {
        return Err(FsError::io(
            "open",
            src,
            std::io::ErrorKind::PermissionDenied.into(),
        ));
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::OFlags;
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags((OFlags::NOFOLLOW | OFlags::NONBLOCK).bits() as i32);
    }
    match options.open(src) {
        Ok(f) => Ok(Some(f)),
        #[cfg(target_os = "linux")]
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => Ok(None),
        Err(e) => Err(FsError::io("open", src, e)),
    }
}

/// Rename the verified temporary file to its final name. Without `replace` an
/// existing file there is never replaced (Linux: `RENAME_NOREPLACE`; where the
/// file system does not support it, the check made before the copy stands).
fn rename_into_place(tmp: &Path, dst: &Path, replace: bool) -> Result<(), FsError> {
    #[cfg(target_os = "linux")]
    if !replace {
        use rustix::fs::{renameat_with, RenameFlags, CWD};
        use rustix::io::Errno;
        let renamed = super::retry_busy(|| {
            renameat_with(CWD, tmp, CWD, dst, RenameFlags::NOREPLACE).map_err(Into::into)
        });
        match renamed.map_err(|e| Errno::from_io_error(&e).unwrap_or(Errno::IO)) {
            Ok(()) => return Ok(()),
            Err(Errno::EXIST) => {
                let _ = std::fs::remove_file(tmp);
                return Err(FsError::Conflict {
                    path: dst.to_path_buf(),
                });
            }
            Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => {}
            Err(e) => {
                let _ = std::fs::remove_file(tmp);
                return Err(FsError::io("rename into place", dst, e.into()));
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = replace;
    super::retry_busy(|| std::fs::rename(tmp, dst)).map_err(|e| {
        let _ = std::fs::remove_file(tmp);
        FsError::io("rename into place", dst, e)
    })
}

/// Flush what the copy phase wrote that the per-file flushes do not cover: the
/// folder entries (renames, new folders) and the folders' times.
fn make_durable(to: &Path, folders: &[Folder]) -> Result<(), FsError> {
    #[cfg(target_os = "linux")]
    {
        let _ = folders;
        syncfs(to)?;
    }
    #[cfg(not(target_os = "linux"))]
    for folder in folders {
        fsync_dir(&folder.path)?;
    }
    // The entry of `to` itself (its parent may be another file system).
    if let Some(parent) = to.parent() {
        fsync_dir(parent)?;
    }
    trace(to, "durable");
    Ok(())
}

/// `syncfs` of the file system holding `path`: everything written to it so far
/// is on stable storage when this returns. Linux only; never called elsewhere.
fn syncfs(path: &Path) -> Result<(), FsError> {
    #[cfg(target_os = "linux")]
    {
        let f = File::open(path).map_err(|e| FsError::io("open", path, e))?;
        rustix::fs::syncfs(&f)
            .map_err(|e| FsError::io("flush the file system of", path, e.into()))?;
        trace(path, "syncfs");
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = path;
        Ok(())
    }
}

/// Whether the file system that will hold `to` is one where one `syncfs` is a
/// full barrier for data and metadata ([`Flush::Auto`]).
fn syncfs_flushes_all(to: &Path) -> bool {
    #[cfg(target_os = "linux")]
    {
        const EXT: u64 = 0xEF53; // ext2, ext3, ext4
        const XFS: u64 = 0x5846_5342;
        const BTRFS: u64 = 0x9123_683E;
        const TMPFS: u64 = 0x0102_1994;
        let mut probe = to;
        loop {
            if let Ok(s) = rustix::fs::statfs(probe) {
                let kind = s.f_type as u64 & 0xFFFF_FFFF;
                return [EXT, XFS, BTRFS, TMPFS].contains(&kind);
            }
            match probe.parent() {
                Some(p) => probe = p,
                None => return false,
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = to;
        false
    }
}

fn read_some(input: &mut File, buf: &mut [u8], path: &Path) -> Result<usize, FsError> {
    loop {
        match input.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(FsError::io("read", path, e)),
        }
    }
}

/// Length and BLAKE3 of everything `input` yields from where it stands.
fn hash_stream(
    input: &mut File,
    buf: &mut [u8],
    path: &Path,
) -> Result<(u64, blake3::Hash), FsError> {
    let mut hasher = blake3::Hasher::new();
    let mut len = 0u64;
    loop {
        let n = read_some(input, buf, path)?;
        if n == 0 {
            return Ok((len, hasher.finalize()));
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
}

fn rewind(input: &mut File, path: &Path) -> Result<(), FsError> {
    input
        .seek(SeekFrom::Start(0))
        .map(|_| ())
        .map_err(|e| FsError::io("read", path, e))
}

/// A stable temporary name per destination file, so a rerun reuses (and
/// overwrites) a leftover from an interrupted copy instead of piling them up.
fn part_name(dst: &Path) -> String {
    let name = dst
        .file_name()
        .map(|n| n.as_encoded_bytes().to_vec())
        .unwrap_or_default();
    let h = blake3::hash(&name);
    let hex: String = h.as_bytes()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(".mdcluster-{hex}.part")
}

/// Whether a file name is one of [`part_name`]'s.
fn is_leftover(name: &std::ffi::OsStr) -> bool {
    let name = name.as_encoded_bytes();
    name.len() == 32
        && name.starts_with(b".mdcluster-")
        && name.ends_with(b".part")
        && name[11..27].iter().all(u8::is_ascii_hexdigit)
}

fn file_times(meta: &Metadata, path: &Path) -> Result<std::fs::FileTimes, FsError> {
    let modified = meta
        .modified()
        .map_err(|e| FsError::io("read the modification time of", path, e))?;
    let mut times = std::fs::FileTimes::new().set_modified(modified);
    if let Ok(accessed) = meta.accessed() {
        times = times.set_accessed(accessed);
    }
    Ok(times)
}

/// Ok when `r` failed only because the file system does not allow or support
/// the operation (setting times or permission bits on some shares): such a
/// copy keeps its content, and what it lacks is compared by content instead.
fn tolerated(r: std::io::Result<()>) -> std::io::Result<()> {
    match r {
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::Unsupported
            ) =>
        {
            Ok(())
        }
        other => other,
    }
}

fn set_times(path: &Path, meta: &Metadata) -> Result<(), FsError> {
    let mtime = filetime::FileTime::from_last_modification_time(meta);
    let atime = filetime::FileTime::from_last_access_time(meta);
    tolerated(filetime::set_file_times(path, atime, mtime))
        .map_err(|e| FsError::io("set the modification time of", path, e))
}

fn copy_permissions(meta: &Metadata, path: &Path) -> Result<(), FsError> {
    #[cfg(unix)]
    {
        tolerated(std::fs::set_permissions(path, meta.permissions()))
            .map_err(|e| FsError::io("set permissions on", path, e))?;
    }
    // On Windows only the read-only flag exists; a read-only copy could not be
    // replaced on resume, so it is left writable there.
    #[cfg(not(unix))]
    let _ = (meta, path);
    Ok(())
}

fn remove_file(path: &Path) -> Result<(), FsError> {
    match super::retry_busy(|| std::fs::remove_file(path)) {
        Ok(()) => Ok(()),
        #[cfg(windows)]
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            // Windows refuses to delete read-only files; clear the flag and retry.
            let mut perm = std::fs::metadata(path)
                .map_err(|e| FsError::io("read", path, e))?
                .permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perm.set_readonly(false);
            std::fs::set_permissions(path, perm)
                .map_err(|e| FsError::io("make writable", path, e))?;
            std::fs::remove_file(path).map_err(|e| FsError::io("delete", path, e))
        }
        Err(e) => Err(FsError::io("delete", path, e)),
    }
}

fn sync_parents(a: &Path, b: &Path) -> Result<(), FsError> {
    for p in [a.parent(), b.parent()].into_iter().flatten() {
        fsync_dir(p)?;
    }
    Ok(())
}

/// Record a step of the mover for the tests (which check the order of steps);
/// nothing outside tests.
#[inline]
fn trace(path: &Path, what: &'static str) {
    #[cfg(test)]
    hooks::record(path, what);
    #[cfg(not(test))]
    let _ = (path, what);
}

#[cfg(test)]
mod hooks {
    //! Fault injection and a trace of steps, keyed by path so tests running in
    //! parallel do not see each other.
    use std::ffi::OsString;
    use std::io::Write;
    use std::path::{Path, PathBuf};
    use std::sync::Mutex;

    static TRACE: Mutex<Vec<(PathBuf, &'static str)>> = Mutex::new(Vec::new());
    static CORRUPT: Mutex<Vec<OsString>> = Mutex::new(Vec::new());

    pub fn record(path: &Path, what: &'static str) {
        super::lock(&TRACE).push((path.to_path_buf(), what));
    }

    /// The recorded steps for paths below `root`, in order.
    pub(crate) fn steps_below(root: &Path) -> Vec<(PathBuf, &'static str)> {
        super::lock(&TRACE)
            .iter()
            .filter(|(p, _)| p.starts_with(root))
            .cloned()
            .collect()
    }

    /// Make every copy of a file with this (unique) name differ from its source
    /// after it is written, as a failing disk or share would.
    pub(crate) fn corrupt_copies_of(name: &str) {
        super::lock(&CORRUPT).push(name.into());
    }

    pub(crate) fn heal(name: &str) {
        super::lock(&CORRUPT).retain(|n| n != name);
    }

    static CHANGE: Mutex<Vec<OsString>> = Mutex::new(Vec::new());

    /// Change a source file with this (unique) name once, right after the
    /// mover has read it, as a program writing to it meanwhile would.
    pub(crate) fn change_source_once(name: &str) {
        super::lock(&CHANGE).push(name.into());
    }

    pub(crate) fn change_source(src: &Path) {
        let hit = src.file_name().is_some_and(|n| {
            let mut names = super::lock(&CHANGE);
            let before = names.len();
            names.retain(|c| c != n);
            names.len() != before
        });
        if hit {
            let mut f = std::fs::OpenOptions::new().append(true).open(src).unwrap();
            f.write_all(b", changed").unwrap();
            drop(f);
            filetime::set_file_mtime(src, filetime::FileTime::from_unix_time(1_000_000_000, 1))
                .unwrap();
        }
    }

    pub(crate) fn corrupt(dst: &Path, out: &mut std::fs::File) {
        let hit = dst
            .file_name()
            .is_some_and(|n| super::lock(&CORRUPT).iter().any(|c| c == n));
        if hit {
            let _ = out.write_all(b"!");
        }
    }
}

#[cfg(test)]
mod tests;
