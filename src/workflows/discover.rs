//! Listening for secondaries and judging them (steps 7 and 8, `discover`,
//! `apply`'s survey of the plan's secondaries): the primary's side read
//! once (and again when it ages), announcements collected by mDNS, every
//! node judged against the cluster rules. One [`Survey`] serves the command
//! line, the full-screen and the plain wizard.

use crate::cluster::manifest::Manifest;
use crate::cluster::pairing::JoinCode;
use crate::cluster::rules::RuleId;
use crate::discovery::survey::{NodeReport, PrimaryView};
use crate::discovery::{explain_nothing, Browser, Scope, Sighting};
use crate::location::Resolver;
use crate::plan::{Plan, Role};
use crate::problem::Problem;
use crate::profile::Profile;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What a survey needs.
#[derive(Clone, Debug)]
pub struct SurveySettings {
    /// The primary's installation and where it reaches the shared path.
    pub root: PathBuf,
    pub share: Option<PathBuf>,
    /// The primary's name.
    pub primary: String,
    pub scope: Scope,
    /// The join code announcements must be signed with (None: the one
    /// issued on this installation, if any).
    pub code: Option<JoinCode>,
    /// Rules the administrator chose to go on despite (`--ignore`).
    pub ignore: Vec<RuleId>,
    /// Where the primary's installed certificates are read.
    pub certificates: crate::cluster::facts::CertificateStore,
}

/// A survey in progress: the primary's view and what was heard so far.
pub struct Survey {
    settings: SurveySettings,
    profile: Profile,
    view: PrimaryView,
    gathered: Instant,
    browser: Browser,
    /// Time spent listening (not at a prompt between listens).
    listened: Duration,
    /// Hosts entered by hand, with their judgement (resolved once, and
    /// again with the primary's side).
    manual: Vec<(String, NodeReport)>,
}

/// How often a long survey reads the primary's side again (its clock
/// offset and the manifest's members age).
const REGATHER: Duration = Duration::from_secs(30);
/// How long one poll of the network waits at most.
const SLICE: Duration = Duration::from_millis(250);
/// How long a survey listens before "nothing found" may be explained.
const EXPLAIN_AFTER: Duration = Duration::from_secs(3);

/// What a running survey reports.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Judged {
    pub reports: Vec<NodeReport>,
    /// Why nothing (trusted) was found, when that is so; else empty.
    pub why: String,
}

impl Survey {
    /// Read the primary's side and start listening.
    pub fn start(settings: SurveySettings, profile: &Profile) -> Result<Survey, Problem> {
        let view = gather(&settings, profile)?;
        let browser = Browser::start(&settings.scope)?;
        Ok(Survey {
            settings,
            profile: profile.clone(),
            view,
            gathered: Instant::now(),
            browser,
            listened: Duration::ZERO,
            manual: Vec::new(),
        })
    }

    /// The join code announcements are checked with (None: none here).
    pub fn code(&self) -> Option<&JoinCode> {
        self.view.code.as_ref()
    }

    /// Listen for `how_long`.
    pub fn listen(&mut self, how_long: Duration) {
        let end = Instant::now() + how_long;
        while Instant::now() < end {
            self.poll(end.saturating_duration_since(Instant::now()).min(SLICE));
        }
    }

    /// Listen until `done` says the reports are enough, or `deadline`.
    pub(crate) fn listen_until(&mut self, deadline: Instant, done: &dyn Fn(&Survey) -> bool) {
        loop {
            self.poll(SLICE);
            if done(self) || Instant::now() >= deadline {
                return;
            }
        }
    }

    /// Listen until `stop`, telling `on` whenever the judgement changes
    /// (false from `on`: stop).
    pub(crate) fn watch(&mut self, stop: &dyn Fn() -> bool, on: &mut dyn FnMut(Judged) -> bool) {
        let mut last = None;
        while !stop() {
            self.poll(SLICE);
            let now = Judged {
                reports: self.reports(),
                why: if self.listened > EXPLAIN_AFTER {
                    self.why()
                } else {
                    String::new()
                },
            };
            if last.as_ref() != Some(&now) {
                last = Some(now.clone());
                if !on(now) {
                    return;
                }
            }
        }
    }

    /// A host typed by the administrator, judged with the others from now on.
    pub(crate) fn add_manual(&mut self, host: &str) {
        let report = self.view.judge(&self.settings.ignore).manual(host);
        self.manual.push((host.to_string(), report));
    }

    /// The sightings so far.
    pub(crate) fn sightings(&self) -> Vec<&Sighting> {
        self.browser.sightings().collect()
    }

    /// Every node heard or entered, judged now.
    pub fn reports(&self) -> Vec<NodeReport> {
        let manual = self.manual.iter().map(|(_, r)| r.clone()).collect();
        self.view
            .judge(&self.settings.ignore)
            .all_with(&self.sightings(), manual)
    }

    /// Why nothing (trusted) was found, when that is so; else empty.
    pub fn why(&self) -> String {
        let sightings = self.sightings();
        let trusted = self.reports().iter().filter(|r| r.trusted).count();
        explain_nothing(
            &self.settings.scope,
            sightings.len(),
            trusted,
            self.listened,
        )
    }

    fn poll(&mut self, wait: Duration) {
        let start = Instant::now();
        self.browser.poll(wait);
        self.listened += start.elapsed();
        if self.gathered.elapsed() > REGATHER {
            if let Ok(view) = gather(&self.settings, &self.profile) {
                self.view = view;
                let judge = self.view.judge(&self.settings.ignore);
                for (host, report) in &mut self.manual {
                    *report = judge.manual(host);
                }
            }
            self.gathered = Instant::now();
        }
    }
}

/// Listen for the plan's secondaries that are not registered yet, until all
/// are found and trusted or the time is up; judge them. None when the plan
/// has no such secondary (nothing to listen for).
pub(crate) fn survey_plan(
    profile: &Profile,
    plan: &Plan,
    scope: &Scope,
    code: Option<&str>,
    ignore: &[RuleId],
    timeout: Duration,
) -> Result<Option<Vec<NodeReport>>, Problem> {
    if !plan.nodes.iter().any(|n| n.role == Role::Secondary) {
        return Ok(None);
    }
    let r = Resolver::new(plan.mounts.clone());
    let root = r.locate(&plan.install_root)?.local;
    let share = r.locate(&plan.shared.path)?.local;
    // An unreachable share is refused by the shared-path step, in its own words.
    let manifest = if share.is_dir() {
        Manifest::load(&share)?
    } else {
        None
    };
    let wanted: Vec<&crate::plan::Node> = plan
        .nodes
        .iter()
        .filter(|n| n.role == Role::Secondary)
        // One in the manifest already was checked when it was added.
        .filter(|n| manifest.as_ref().and_then(|m| m.member(&n.name)).is_none())
        .collect();
    if wanted.is_empty() {
        return Ok(None);
    }
    let settings = SurveySettings {
        certificates: crate::cluster::facts::CertificateStore::of(&root),
        root,
        share: Some(share),
        primary: plan.primary().map(|n| n.name.clone()).unwrap_or_default(),
        scope: scope.clone(),
        // Read only when there is something to listen for.
        code: code.map(JoinCode::parse).transpose()?,
        ignore: ignore.to_vec(),
    };
    let mut survey = Survey::start(settings, profile)?;
    let deadline = Instant::now() + timeout;
    // Found: trusted, and signing the plan's address when that is an IP.
    // Until then it is listened for to the end: its addresses arrive in
    // pieces, and a refusal can say what else answers for it unsigned.
    survey.listen_until(deadline, &|survey| {
        let now = crate::cluster::facts::now_ms();
        wanted.iter().all(|w| {
            let planned = w.address.parse::<std::net::IpAddr>().ok();
            survey.sightings().iter().any(|s| {
                s.name().eq_ignore_ascii_case(&w.name)
                    && s.trust(survey.code(), now).is_ok_and(|a| {
                        planned.is_none_or(|ip| s.signed_and_unsigned(a).0.contains(&ip))
                    })
            })
        })
    });
    Ok(Some(survey.reports()))
}

fn gather(settings: &SurveySettings, profile: &Profile) -> Result<PrimaryView, Problem> {
    PrimaryView::gather(
        profile,
        &settings.root,
        settings.share.as_deref(),
        &settings.primary,
        &settings.scope,
        settings.code.clone(),
        &settings.certificates,
    )
}
