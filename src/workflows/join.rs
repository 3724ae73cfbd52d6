//! Joining a secondary: announce it (signed with the join code) until the
//! primary adds and MDaemon registers it, then follow its own cluster log
//! until it shows the connection to the primary and a replication. `join`
//! and the wizard's join screen both run this and only render its events.

use super::LogFile;
use crate::cluster::facts::{self, Facts};
use crate::cluster::manifest::{self, Manifest};
use crate::cluster::pairing::JoinCode;
use crate::clusterlog::peer::News;
use crate::clusterlog::{Event, Matched, PeerWatch};
use crate::discovery::{Announcer, Scope};
use crate::plan::ServerId;
use crate::problem::{Exit, Problem};
use crate::profile::Profile;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What a join needs; front ends fill it from their own input.
#[derive(Clone, Debug)]
pub struct JoinSettings {
    /// This node's MDaemon installation.
    pub root: PathBuf,
    /// Where this node reaches the shared path (None: unknown, so it can
    /// announce itself but not learn that it was added).
    pub share: Option<PathBuf>,
    /// This node's name (its computer name).
    pub name: String,
    pub scope: Scope,
    pub code: JoinCode,
    /// Give up when not registered within this time (None: until stopped).
    pub register_timeout: Option<Duration>,
    /// After registration, how long this node's cluster log may take to
    /// confirm the primary (zero: do not verify).
    pub verify_timeout: Duration,
    /// Where this node's installed certificates are read.
    pub certificates: facts::CertificateStore,
}

/// What happened, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum JoinEvent {
    /// This node's facts, as announced.
    Facts(Box<Facts>),
    /// Announcing on these interfaces.
    Announcing { scope: String },
    /// The primary added it to the cluster manifest.
    Added { server_id: ServerId },
    /// Its registration in MDaemon is confirmed; `verify`: verification follows.
    Registered { server_id: ServerId, verify: bool },
    /// Following this node's cluster log for the primary.
    Verifying { primary: String, pattern: String },
    /// The log file: found, changed, or still looked for.
    Log(LogFile),
    /// A line of the log about the primary.
    LogEvent { event: Event, matched: Matched },
    /// The end of verification.
    Verified(Verification),
}

/// Whether this node's cluster log confirms the primary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verification {
    pub ok: bool,
    /// The primary the manifest names (None: it names none).
    pub primary: Option<String>,
    pub missing: Vec<String>,
    pub warnings: Vec<String>,
    pub log: Option<PathBuf>,
    /// The log's file-name pattern and the lines read (None: no log was
    /// looked for).
    pub pattern: Option<String>,
    pub lines: Option<u64>,
}

/// How a join ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinEnd {
    /// `stop` said so, or `on` refused an event (its receiver is gone).
    Stopped,
    /// Registered; not verified (`verify_timeout` zero).
    Registered,
    /// Verified: confirmed or not.
    Verified { ok: bool },
}

/// How often the manifest is read while waiting for the registration.
const MANIFEST_POLL: Duration = Duration::from_millis(500);

/// Run a join. `on` receives every event (false: stop); `stop` is asked
/// between polls. Errors: the announcement cannot start, the manifest cannot
/// be read, or no registration within `register_timeout` (exit 5).
pub fn join(
    settings: &JoinSettings,
    profile: &Profile,
    stop: &dyn Fn() -> bool,
    on: &mut dyn FnMut(JoinEvent) -> bool,
) -> Result<JoinEnd, Problem> {
    let collect = {
        let s = settings.clone();
        let profile = profile.clone();
        move || {
            facts::collect(
                &s.root,
                &profile,
                &s.name,
                s.scope.addresses(),
                s.share.as_deref(),
                &s.certificates,
            )
        }
    };
    if !on(JoinEvent::Facts(Box::new(collect()))) {
        return Ok(JoinEnd::Stopped);
    }
    let announcer = Announcer::start(&settings.scope, settings.code.clone(), collect)?;
    if !on(JoinEvent::Announcing {
        scope: settings.scope.describe(),
    }) {
        return Ok(JoinEnd::Stopped);
    }
    let start = Instant::now();
    let mut added = None;
    loop {
        if stop() {
            return Ok(JoinEnd::Stopped);
        }
        let standing = match settings.share.as_deref() {
            Some(share) => manifest::standing(share, &settings.name)?,
            None => None,
        };
        match standing {
            Some((server_id, true)) => {
                let verify = !settings.verify_timeout.is_zero();
                if !on(JoinEvent::Registered { server_id, verify }) {
                    return Ok(JoinEnd::Stopped);
                }
                drop(announcer);
                if !verify {
                    return Ok(JoinEnd::Registered);
                }
                return verify_join(settings, profile, stop, on);
            }
            Some((server_id, false)) if added != Some(server_id) => {
                added = Some(server_id);
                if !on(JoinEvent::Added { server_id }) {
                    return Ok(JoinEnd::Stopped);
                }
            }
            _ => {}
        }
        if let Some(limit) = settings.register_timeout {
            if start.elapsed() >= limit {
                return Err(Problem::new(
                    Exit::Verification,
                    format!(
                        "{} was not registered within {} s",
                        settings.name,
                        start.elapsed().as_secs()
                    ),
                )
                .fix("add it on the primary (wizard, or `mdcluster apply` with it in the plan), then register it in MDaemon"));
            }
        }
        std::thread::sleep(MANIFEST_POLL);
    }
}

/// After registration: this node's own cluster log must show the connection
/// to the primary (named in the manifest) and a completed replication within
/// the verify timeout.
fn verify_join(
    settings: &JoinSettings,
    profile: &Profile,
    stop: &dyn Fn() -> bool,
    on: &mut dyn FnMut(JoinEvent) -> bool,
) -> Result<JoinEnd, Problem> {
    let primary = settings
        .share
        .as_deref()
        .and_then(|s| Manifest::load(s).ok().flatten())
        .map(|m| m.primary)
        .filter(|p| !p.is_empty());
    let Some(primary) = primary else {
        on(JoinEvent::Verified(Verification {
            ok: false,
            primary: None,
            missing: vec![
                "the cluster manifest on the share names no primary: there is nothing to verify against"
                    .into(),
            ],
            warnings: Vec::new(),
            log: None,
            pattern: None,
            lines: None,
        }));
        return Ok(JoinEnd::Verified { ok: false });
    };
    let mut watch = PeerWatch::new(&settings.root, profile, &primary)?;
    if !on(JoinEvent::Verifying {
        primary: primary.clone(),
        pattern: watch.pattern().to_string(),
    }) {
        return Ok(JoinEnd::Stopped);
    }
    let deadline = Instant::now() + settings.verify_timeout;
    let mut looked = false;
    loop {
        if stop() {
            return Ok(JoinEnd::Stopped);
        }
        let mut news = Vec::new();
        let more = watch.poll(&mut |n| news.push(n));
        for n in news {
            let event = match n {
                News::File(h) => JoinEvent::Log(LogFile::Changed {
                    what: h.describe(),
                    file: watch.file().map(PathBuf::from),
                    pattern: watch.pattern().to_string(),
                }),
                News::Event(event, matched) => JoinEvent::LogEvent { event, matched },
            };
            if !on(event) {
                return Ok(JoinEnd::Stopped);
            }
        }
        if !looked && watch.file().is_none() {
            looked = true;
            if !on(JoinEvent::Log(LogFile::Searching {
                what: watch.describe(),
                pattern: watch.pattern().to_string(),
            })) {
                return Ok(JoinEnd::Stopped);
            }
        }
        if watch.confirmed() || (!more && Instant::now() >= deadline) {
            break;
        }
        if !more {
            std::thread::sleep(crate::clusterlog::POLL);
        }
    }
    let ok = watch.confirmed();
    on(JoinEvent::Verified(Verification {
        ok,
        primary: Some(primary),
        missing: watch.missing(settings.verify_timeout.as_secs()),
        warnings: watch.warnings(),
        log: watch.file().map(PathBuf::from),
        pattern: Some(watch.pattern().to_string()),
        lines: Some(watch.lines()),
    }));
    Ok(JoinEnd::Verified { ok })
}
