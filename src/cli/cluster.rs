//! Commands for the cluster's nodes: `code`, `join`, `discover`, `register`,
//! `node remove`.

use crate::cluster::facts::{self, Facts};
use crate::cluster::manifest::{Manifest, ManifestLock};
use crate::cluster::pairing::{self, JoinCode};
use crate::cluster::rules::RuleId;
use crate::discovery::survey::{NodeReport, PrimaryView, Source, UNSIGNED_ADDRESS};
use crate::discovery::{Browser, Scope};
use crate::location::Resolver;
use crate::output::json::JsonEvent;
use crate::output::{json_line, say, say_err, style_for_stdout};
use crate::plan::Plan;
use crate::problem::{Exit, Problem};
use crate::profile::Profile;
use crate::text::sanitize;
use crate::winpath::WinPath;
use crate::workflows::discover::{Survey, SurveySettings};
use crate::workflows::{
    self,
    join::{JoinEnd, JoinEvent, JoinSettings, Verification},
};
use clap::Args;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Which installation (and share) a command is about: a plan, or a folder.
#[derive(Args, Debug, Clone)]
pub struct Place {
    /// The plan of this installation
    #[arg(long, value_name = "FILE", conflicts_with = "root")]
    pub plan: Option<PathBuf>,
    /// The MDaemon installation folder on this machine (without a plan)
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// The shared path as a UNC path (without a plan)
    #[arg(long, value_name = "UNC")]
    pub share: Option<String>,
    /// Where this machine reaches the shared path (not needed on Windows)
    #[arg(long, value_name = "DIR")]
    pub share_local: Option<PathBuf>,
}

/// Which network interfaces mDNS uses.
#[derive(Args, Debug, Clone)]
pub(crate) struct ScopeArgs {
    /// Use only loopback: nothing leaves this machine (trials, tests)
    #[arg(long)]
    pub loopback: bool,
    /// Use only this interface (repeat for more); default: every non-loopback one
    #[arg(long = "interface", value_name = "NAME")]
    pub interfaces: Vec<String>,
}

impl ScopeArgs {
    pub(crate) fn scope(&self) -> Scope {
        Scope {
            loopback: self.loopback,
            interfaces: self.interfaces.clone(),
        }
    }
}

/// Where things are for a command.
pub(crate) struct Located {
    pub plan: Option<Plan>,
    pub root: PathBuf,
    pub share: Option<PathBuf>,
    pub share_win: Option<WinPath>,
}

impl Place {
    pub fn locate(&self, profile: &Profile) -> Result<Located, Problem> {
        if let Some(file) = &self.plan {
            let plan = Plan::load(file, profile)?;
            let r = Resolver::new(plan.mounts.clone());
            let root = r.locate(&plan.install_root)?.local;
            let share = r.locate(&plan.shared.path)?.local;
            let share_win = Some(plan.shared.path.clone());
            return Ok(Located {
                plan: Some(plan),
                root,
                share: Some(share),
                share_win,
            });
        }
        let root = match &self.root {
            Some(r) => {
                std::path::absolute(r).map_err(|e| Problem::io(Exit::Usage, "resolve", r, &e))?
            }
            None if cfg!(windows) => PathBuf::from(&profile.install.default_root.value),
            None => {
                return Err(
                    Problem::usage("say which installation: --plan FILE or --root DIR")
                        .fix("on a sandbox: --root DIR (the folder `mdcluster sandbox` wrote)"),
                )
            }
        };
        let share_win = match &self.share {
            Some(s) => {
                Some(WinPath::parse(s).map_err(|e| Problem::usage(format!("--share: {e}")))?)
            }
            None => None,
        };
        let share = match (&share_win, &self.share_local) {
            (_, Some(local)) => Some(local.clone()),
            (Some(w), None) if cfg!(windows) => Some(PathBuf::from(w.to_string())),
            (Some(w), None) => {
                return Err(Problem::usage(format!(
                    "this machine is not Windows: say where it reaches {w}"
                ))
                .fix("add --share-local DIR"))
            }
            (None, None) => None,
        };
        Ok(Located {
            plan: None,
            root,
            share,
            share_win,
        })
    }
}

#[derive(Args, Debug)]
pub(crate) struct CodeArgs {
    #[command(flatten)]
    pub place: Place,
    /// Print the code in force without replacing it (exit 3 when none is)
    #[arg(long)]
    pub show: bool,
}

/// Issue a fresh join code; print it on stdout.
pub fn code(profile: &Profile, a: &CodeArgs) -> Result<Exit, Problem> {
    let at = a.place.locate(profile)?;
    let state = at.root.join(crate::fsops::state_dir::STATE_DIR);
    let in_force = pairing::current_code_until(&state);
    if a.show {
        let Some((code, until)) = in_force else {
            return Err(Problem::refused(
                "no join code is in force on this installation (none was issued, or it expired)",
            )
            .fix("issue one with `mdcluster code`"));
        };
        say!("{}", code.display());
        say_err!("In force until {}.", crate::text::clock_utc(until));
        return Ok(Exit::Success);
    }
    let (code, expires) = pairing::issue_code(&state)?;
    say!("{}", code.display());
    // Said loudly: a secondary announcing with the old code is no longer
    // trusted until it is restarted with this one.
    if let Some((_, until)) = in_force {
        say_err!(
            "warning: this replaces the join code in force until {}: a secondary announcing with it is no longer trusted; restart `mdcluster join` there with the new code (`mdcluster code --show` shows the code in force without replacing it)",
            crate::text::clock_utc(until)
        );
    }
    let share = at.share_win.map(|s| s.to_string());
    say_err!(
        "Valid for {} minutes. On each secondary run (it asks for the code; in a script give it with --code-file FILE or --code-stdin):\n  {}\nThe code stays on the machines where you type it; only signatures made with it cross the network.",
        pairing::CODE_LIFETIME_SECS / 60,
        pairing::join_command(share.as_deref(), ""),
    );
    let _ = expires;
    Ok(Exit::Success)
}

#[derive(Args, Debug)]
pub(crate) struct JoinArgs {
    #[command(flatten)]
    pub place: Place,
    /// The join code the primary shows (asked for on a terminal when left out).
    /// Every user of this machine can read it in the process list: prefer
    /// --code-file or --code-stdin
    #[arg(long, value_name = "CODE", conflicts_with_all = ["code_file", "code_stdin"])]
    pub code: Option<String>,
    /// Read the join code from this file (`-`: standard input); a trailing line break is ignored
    #[arg(long, value_name = "FILE", conflicts_with = "code_stdin")]
    pub code_file: Option<PathBuf>,
    /// Read the join code from standard input, e.g. `mdcluster join --code-stdin … < code.txt`
    #[arg(long)]
    pub code_stdin: bool,
    /// This node's name (default: the computer name)
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Stop after this many seconds if not registered by then (exit 5)
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// After registration, seconds to wait for this node's own cluster log to
    /// show the connection to the primary and a replication (0: do not verify)
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    pub verify_timeout: u64,
    /// One JSON object per event
    #[arg(long)]
    pub json: bool,
}

/// Announce this node until the primary registers it (or it is stopped),
/// then verify from this node's cluster log: the join workflow, rendered as
/// text or JSON.
pub fn join(profile: &Profile, a: &JoinArgs) -> Result<Exit, Problem> {
    let code = join_code(a)?;
    let at = a.place.locate(profile)?;
    let name = match &a.name {
        Some(n) => {
            crate::plan::check_computer_name(n)
                .map_err(|why| Problem::usage(format!("--name '{n}' {why}")))?;
            n.to_uppercase()
        }
        None => facts::computer_name(),
    };
    if !at.root.join(profile.ini.file.replace('\\', "/")).exists() {
        return Err(Problem::refused(format!("no MDaemon installation at {}", at.root.display()))
            .fix("install MDaemon on this secondary first (same version, its own licence key), or give --root"));
    }
    let settings = JoinSettings {
        certificates: facts::CertificateStore::of(&at.root),
        root: at.root.clone(),
        share: at.share.clone(),
        name: name.clone(),
        scope: a.scope.scope(),
        code,
        register_timeout: a.timeout.map(Duration::from_secs),
        verify_timeout: Duration::from_secs(a.verify_timeout),
    };
    let mut primary = String::new();
    let end = workflows::join::join(&settings, profile, &|| false, &mut |event| {
        show_join(&event, &name, a, &mut primary);
        true
    })?;
    Ok(match end {
        JoinEnd::Verified { ok: false } => Exit::Verification,
        _ => Exit::Success,
    })
}

/// One event of the join, as text or JSON. `primary` is learnt from
/// `Verifying`, for the log lines after it.
fn show_join(event: &JoinEvent, name: &str, a: &JoinArgs, primary: &mut String) {
    let secs = a.verify_timeout;
    let p = sanitize(primary).into_owned();
    match event {
        JoinEvent::Facts(f) => report_facts(f, a.json),
        JoinEvent::Announcing { scope } if a.json => json_line(&JsonEvent::Announcing {
            name,
            scope: scope.clone(),
        }),
        JoinEvent::Announcing { scope } => say!(
            "Announcing {name} on {scope} (signed with the join code). Stop with Ctrl-C."
        ),
        JoinEvent::Added { server_id } if a.json => json_line(&JsonEvent::Added {
            name,
            server_id: *server_id,
        }),
        JoinEvent::Added { server_id } => say!(
            "Added to the cluster manifest as server ID {server_id}; waiting for its registration in MDaemon."
        ),
        JoinEvent::Registered { server_id, verify } if a.json => {
            json_line(&JsonEvent::Registered {
                name,
                server_id: *server_id,
                verify: *verify,
                exit: (!verify).then_some(0),
            })
        }
        JoinEvent::Registered { server_id, .. } => {
            say!("{name} is registered in the cluster as server ID {server_id}.")
        }
        JoinEvent::Verifying {
            primary: named,
            pattern,
        } => {
            *primary = named.clone();
            if a.json {
                json_line(&JsonEvent::Verifying {
                    name,
                    primary: named,
                    timeout: secs,
                    pattern,
                });
            } else {
                say!(
                    "Verifying: waiting up to {secs} s for {} in this node's cluster log (connected, replicating).",
                    sanitize(named)
                );
            }
        }
        JoinEvent::Log(log) => {
            if let Some(line) = super::verify::show_log_file(log, a.json) {
                say!("{line}");
            }
        }
        JoinEvent::LogEvent { event: e, matched } if a.json => json_line(&JsonEvent::LogEvent {
            kind: matched.kind,
            node: Some(primary),
            named: &matched.node,
            time: e.time.as_deref(),
            severity: e.severity.as_deref(),
            format: e.format,
            text: &e.text,
        }),
        JoinEvent::LogEvent { event: e, matched } => say!(
            "  {p}: {} ({}: {})",
            matched.kind.label(),
            sanitize(e.time.as_deref().unwrap_or("?")),
            sanitize(&e.text)
        ),
        JoinEvent::Verified(v) => show_verified(v, name, secs, a.json),
    }
}

/// The end of `join`: whether this node's own cluster log showed the
/// connection to the primary and a completed replication within
/// `--verify-timeout` seconds, and what is missing.
fn show_verified(v: &Verification, name: &str, secs: u64, json: bool) {
    if json {
        json_line(&JsonEvent::Verified {
            ok: v.ok,
            name,
            primary: v.primary.as_deref(),
            missing: &v.missing,
            warnings: &v.warnings,
            log: v.log.as_deref(),
            pattern: v.pattern.as_deref(),
            lines: v.lines,
            exit: if v.ok { 0 } else { Exit::Verification.code() },
        });
        return;
    }
    let Some(primary) = &v.primary else {
        for m in &v.missing {
            say!("NOT verified: {}", sanitize(m));
        }
        return;
    };
    let p = sanitize(primary);
    for w in &v.warnings {
        say!("Warning: {}", sanitize(w));
    }
    if v.ok {
        say!(
            "Verified: {name} is connected to {p} and replicating (this node's cluster log {}).",
            v.log
                .as_deref()
                .map(crate::text::safe_path)
                .unwrap_or_default()
        );
    } else {
        say!("NOT verified within {secs} s:");
        for m in &v.missing {
            say!("  {}", sanitize(m));
        }
        say!(
            "Next: check Setup > Cluster Service on this node and on {p}, then run `mdcluster verify` on the primary (or this `join` again with a longer --verify-timeout)."
        );
    }
}

/// The most a join code file (or standard input) is read: a code with a
/// line break is 16 bytes, so anything near this is not one.
const CODE_FILE_MAX: u64 = 1024;

/// `join`'s code: from `--code-file`, `--code-stdin`, `--code` (with a
/// warning: the process list shows it), or asked for on the terminal. Read
/// before anything else happens, so a bad one changes nothing.
fn join_code(a: &JoinArgs) -> Result<JoinCode, Problem> {
    if let Some(c) = &a.code {
        say_err!(
            "warning: --code shows the join code in the process list, where every user of this machine can read it; use --code-file FILE or --code-stdin instead"
        );
        return JoinCode::parse(c);
    }
    let from_stdin = a.code_stdin || a.code_file.as_deref() == Some(Path::new("-"));
    match &a.code_file {
        _ if from_stdin => {
            use std::io::{BufRead, IsTerminal, Read};
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                // Typed: the line ends it, not an end of file.
                let mut line = String::new();
                stdin
                    .lock()
                    .take(CODE_FILE_MAX)
                    .read_line(&mut line)
                    .map_err(|e| Problem::usage(format!("could not read the join code: {e}")))?;
                read_code(&mut line.as_bytes(), "standard input")
            } else {
                read_code(&mut stdin.lock(), "standard input")
            }
        }
        Some(file) => {
            let mut f = std::fs::File::open(file).map_err(|e| code_file_problem(file, &e))?;
            read_code(&mut f, &file.display().to_string())
                .map_err(|p| p.at(file.display().to_string()))
        }
        None => ask_code(),
    }
}

fn code_file_problem(file: &Path, e: &std::io::Error) -> Problem {
    Problem::io(Exit::Usage, "read the join code file", file, e).fix(
        "give a file that holds the code the primary shows (`mdcluster code --show` prints it)",
    )
}

/// A join code read from a file or standard input: at most [`CODE_FILE_MAX`]
/// bytes, text, line breaks at the end ignored.
fn read_code(input: &mut dyn std::io::Read, from: &str) -> Result<JoinCode, Problem> {
    use std::io::Read;
    let mut bytes = Vec::new();
    input
        .take(CODE_FILE_MAX + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| {
            Problem::usage(format!(
                "could not read the join code from {from}: {}",
                crate::problem::describe_io(&e)
            ))
            .fix("give the code the primary shows (`mdcluster code --show` prints it)")
        })?;
    if bytes.len() as u64 > CODE_FILE_MAX {
        return Err(Problem::usage(format!(
            "{from} holds more than {CODE_FILE_MAX} bytes: that is not a join code"
        ))
        .fix("give a file that holds only the code the primary shows, like K7QM-3XPA-9RTW"));
    }
    let text = String::from_utf8(bytes).map_err(|_| {
        Problem::usage(format!("{from} is not text: that is not a join code"))
            .fix("give a file that holds only the code the primary shows, like K7QM-3XPA-9RTW")
    })?;
    let code = text.trim_end_matches(['\r', '\n']);
    if code.trim().is_empty() {
        return Err(Problem::usage(format!("{from} holds no join code"))
            .fix("give the code the primary shows (`mdcluster code --show` prints it)"));
    }
    JoinCode::parse(code)
}

/// The join code, typed at the terminal (validated as it is typed).
fn ask_code() -> Result<JoinCode, Problem> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return Err(Problem::usage(
            "give the join code: --code-file FILE, --code-stdin, or --code CODE",
        )
        .fix("the primary's wizard (step 8) or `mdcluster code --show` shows it"));
    }
    let typed =
        inquire::Text::new("Join code (from the primary's wizard or `mdcluster code --show`):")
            .with_validator(|s: &str| {
                Ok(match JoinCode::parse(s) {
                    Ok(_) => inquire::validator::Validation::Valid,
                    Err(p) => inquire::validator::Validation::Invalid(p.what.into()),
                })
            })
            .prompt()
            .map_err(|e| Problem::usage(format!("no join code: {e}")))?;
    JoinCode::parse(&typed)
}

fn report_facts(f: &Facts, json: bool) {
    if json {
        json_line(&JsonEvent::Facts { facts: f });
        return;
    }
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
    let flag = |v: Option<bool>| match v {
        Some(true) => "on",
        Some(false) => "off",
        None => "unknown",
    };
    say!(
        "This node: {} ({})",
        f.name,
        f.addresses
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    say!(
        "  MDaemon {}, time zone {}, licence fingerprint {}",
        opt(&f.version),
        sanitize(&f.time_zone),
        opt(&f.licence)
    );
    say!(
        "  certificates installed: {}; attachment linking {}, automatic updates {}, domain IP binding {}",
        f.certificates.as_ref().map(|c| c.len().to_string()).unwrap_or_else(|| "unknown".into()),
        flag(f.attachment_linking),
        flag(f.auto_update),
        flag(f.domain_ip_binding)
    );
    match f.share.writable {
        Some(w) => say!(
            "  shared path: {} as {}; clock {} ms from the file server's",
            if w { "writable" } else { "NOT writable" },
            sanitize(&f.share.identity),
            f.share
                .clock_offset_ms
                .map(|v| v.to_string())
                .unwrap_or_else(|| "?".into())
        ),
        None => say!("  shared path: not given (--share), so not probed"),
    }
}

#[derive(Args, Debug)]
pub(crate) struct DiscoverArgs {
    #[command(flatten)]
    pub place: Place,
    /// The join code (default: the one `mdcluster code` issued here)
    #[arg(long, value_name = "CODE")]
    pub code: Option<String>,
    /// How long to listen, in seconds
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub timeout: u64,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Go on despite a failed rule (repeat; see the rule ids in the output)
    #[arg(long = "ignore", value_name = "RULE")]
    pub ignore: Vec<crate::cluster::rules::RuleId>,
    /// Also check a node entered by hand: NetBIOS name, IP or DNS name (repeat)
    #[arg(long = "manual", value_name = "HOST")]
    pub manual: Vec<String>,
    /// One JSON object per node
    #[arg(long)]
    pub json: bool,
}

/// The primary's view, from a located installation.
pub(crate) fn primary_view(
    profile: &Profile,
    at: &Located,
    scope: &Scope,
    code: Option<&str>,
) -> Result<PrimaryView, Problem> {
    let s = survey_settings(at, scope, code, &[])?;
    PrimaryView::gather(
        profile,
        &s.root,
        s.share.as_deref(),
        &s.primary,
        scope,
        s.code,
        &s.certificates,
    )
}

/// What a survey from this installation needs: the primary's name (from
/// the plan, else this computer's), the code given (else the one issued
/// here), the rules to go on despite.
pub(crate) fn survey_settings(
    at: &Located,
    scope: &Scope,
    code: Option<&str>,
    ignore: &[RuleId],
) -> Result<SurveySettings, Problem> {
    let primary = at
        .plan
        .as_ref()
        .and_then(|p| p.primary())
        .map(|n| n.name.clone())
        .unwrap_or_else(facts::computer_name);
    Ok(SurveySettings {
        certificates: facts::CertificateStore::of(&at.root),
        root: at.root.clone(),
        share: at.share.clone(),
        primary,
        scope: scope.clone(),
        code: code.map(JoinCode::parse).transpose()?,
        ignore: ignore.to_vec(),
    })
}

/// Listen for announcements and judge every node found.
pub fn discover(profile: &Profile, a: &DiscoverArgs) -> Result<Exit, Problem> {
    let at = a.place.locate(profile)?;
    let scope = a.scope.scope();
    let settings = survey_settings(&at, &scope, a.code.as_deref(), &a.ignore)?;
    let mut survey = Survey::start(settings, profile)?;
    if survey.code().is_none() && !a.json {
        say_err!("note: no join code here (issue one with `mdcluster code`): no announcement can be trusted.");
    }
    for host in &a.manual {
        survey.add_manual(host);
    }
    survey.listen(Duration::from_secs(a.timeout));
    let reports = survey.reports();
    let trusted = reports.iter().filter(|r| r.trusted).count();
    let why = survey.why();
    if a.json {
        for r in &reports {
            json_line(&JsonEvent::Node {
                name: &r.name,
                addresses: &r.addresses,
                unsigned_addresses: &r.unsigned_addresses,
                source: r.source,
                trusted: r.trusted,
                untrusted: r.untrusted.as_deref(),
                addable: r.addable(),
                facts: r.facts.as_ref(),
                rules: &r.rules,
            });
        }
        json_line(&JsonEvent::Discovered {
            found: reports.len(),
            trusted,
            why: &why,
            exit: 0,
        });
    } else {
        print_reports(&reports);
        if !why.is_empty() {
            say!("{why}");
        }
        say!("Clock: {}.", crate::cluster::rules::CLOCK_METHOD);
    }
    Ok(Exit::Success)
}

fn print_reports(reports: &[NodeReport]) {
    let style = style_for_stdout();
    if reports.is_empty() {
        say!("No node found.");
        return;
    }
    for r in reports {
        let trust = match (r.source, r.trusted) {
            (Source::Manual, _) => style.yellow("entered by hand"),
            (_, true) => style.green("trusted"),
            (_, false) => style.red("NOT trusted"),
        };
        let verdict = if r.addable() {
            style.green("can join")
        } else {
            style.red("cannot join")
        };
        let addrs: Vec<String> = r.addresses.iter().map(ToString::to_string).collect();
        // With colours: written as it is, the name sanitized here.
        crate::output::print_raw(&format!(
            "{}  {}  {trust}  {verdict}\n",
            style.bold(&sanitize(&r.name)),
            addrs.join(", ")
        ));
        if let Some(why) = &r.untrusted {
            say!("    {}", sanitize(why));
        }
        for ip in &r.unsigned_addresses {
            // With colours: an address and mdcluster's own words, nothing to sanitize.
            crate::output::print_raw(&format!(
                "    {}\n",
                style.yellow(&format!("ignored {ip}: {UNSIGNED_ADDRESS}"))
            ));
        }
        for v in r
            .rules
            .iter()
            .filter(|v| v.level != crate::cluster::rules::Level::Pass)
        {
            say!("    {:<18} {:?}: {}", v.rule, v.level, sanitize(&v.detail));
        }
    }
}

/// Where the plan's shared folder is on this machine, for the commands that
/// change the cluster manifest there; refused when it cannot be reached.
fn plan_share(profile: &Profile, plan: &Path) -> Result<PathBuf, Problem> {
    let at = Place {
        plan: Some(plan.to_path_buf()),
        root: None,
        share: None,
        share_local: None,
    }
    .locate(profile)?;
    match at.share {
        Some(share) if share.is_dir() => Ok(share),
        other => Err(Problem::refused(format!(
            "the shared folder {} cannot be reached from here",
            other.map_or_else(|| "of the plan".into(), |s| s.display().to_string())
        ))
        .fix("run it where the share is reachable, or correct the plan's [[mounts]]")),
    }
}

#[derive(Args, Debug)]
pub(crate) struct RegisterArgs {
    /// The plan of this cluster
    #[arg(long, value_name = "FILE")]
    pub plan: PathBuf,
    /// The node now registered in MDaemon's Cluster Service (repeat)
    #[arg(long = "node", value_name = "NAME", required = true)]
    pub nodes: Vec<String>,
}

/// Record that the administrator registered nodes in MDaemon's dialog.
pub fn register(profile: &Profile, a: &RegisterArgs) -> Result<Exit, Problem> {
    let share = &plan_share(profile, &a.plan)?;
    for (name, id) in crate::cluster::manifest::confirm_registered(share, &a.nodes, "register")? {
        say!("{name} (server ID {id}) recorded as registered in MDaemon.");
    }
    Ok(Exit::Success)
}

#[derive(Args, Debug)]
pub(crate) struct UnlockArgs {
    /// The plan of this cluster (its shared path holds the lock)
    #[arg(long, value_name = "FILE")]
    pub plan: PathBuf,
    /// Take it even though its holder refreshed it lately (its machine is gone)
    #[arg(long)]
    pub yes: bool,
}

/// Take the cluster manifest's lock from a run on a machine that is gone.
pub fn unlock(profile: &Profile, a: &UnlockArgs) -> Result<Exit, Problem> {
    let share = &plan_share(profile, &a.plan)?;
    match crate::cluster::manifest::force_unlock(share, a.yes)? {
        Some(who) => say!(
            "The cluster manifest's lock is taken from {}. If that mdcluster still runs, end it: two runs must not change the manifest at once.",
            sanitize(&who)
        ),
        None => say!("The cluster manifest is not locked."),
    }
    Ok(Exit::Success)
}

#[derive(Args, Debug)]
pub(crate) struct RemoveArgs {
    /// The plan of this cluster
    #[arg(long, value_name = "FILE")]
    pub plan: PathBuf,
    /// The node to remove; its server ID is retired
    pub name: String,
}

/// Remove a node from the manifest; its server ID is never reused by itself.
pub fn remove(profile: &Profile, a: &RemoveArgs) -> Result<Exit, Problem> {
    let share = &plan_share(profile, &a.plan)?;
    let _lock = ManifestLock::acquire(share, "node remove")?;
    let mut m = Manifest::load(share)?
        .ok_or_else(|| Problem::refused("there is no cluster manifest on the share"))?;
    let removed = m.remove(&a.name, &crate::platform::now_rfc3339())?;
    m.save(share)?;
    say!(
        "{} removed; server ID {} is retired. Also take it out of MDaemon's cluster ({}), and out of the plan.",
        removed.name,
        removed.server_id,
        *profile.cluster.remove_dialog
    );
    Ok(Exit::Success)
}

/// How `apply` listens for the plan's secondaries.
#[derive(Args, Debug, Clone)]
pub(crate) struct DiscoveryArgs {
    /// The join code (default: the one `mdcluster code` issued here)
    #[arg(long, value_name = "CODE")]
    pub code: Option<String>,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Go on despite a failed cluster rule (repeat)
    #[arg(long = "ignore", value_name = "RULE")]
    pub ignore: Vec<crate::cluster::rules::RuleId>,
    /// How long to listen for the secondaries, in seconds
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub discovery_timeout: u64,
}

impl DiscoveryArgs {
    /// Listen for the plan's secondaries that are not in the cluster yet
    /// ([`workflows::discover::survey_plan`]) with these options.
    pub fn survey(
        &self,
        profile: &Profile,
        plan: &Plan,
    ) -> Result<Option<Vec<NodeReport>>, Problem> {
        workflows::discover::survey_plan(
            profile,
            plan,
            &self.scope.scope(),
            self.code.as_deref(),
            &self.ignore,
            Duration::from_secs(self.discovery_timeout),
        )
    }
}

#[derive(Args, Debug)]
pub(crate) struct BenchDiscoveryArgs {
    #[command(flatten)]
    pub place: Place,
    /// The join code (default: the one `mdcluster code` issued here)
    #[arg(long, value_name = "CODE")]
    pub code: Option<String>,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// The node to wait for, as the node command announces it
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// Give up after this many seconds (exit 5)
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub timeout: u64,
    /// Listen this long before starting the node, so the primary's own first
    /// queries are over (a quiet LAN)
    #[arg(long, value_name = "MS", default_value_t = 1500)]
    pub settle_ms: u64,
    /// Before the second measurement, let the node announce this long, so its
    /// two start-up announcements and the one-second multicast rate limit of
    /// RFC 6762 are over (a node that has been announcing for a while)
    #[arg(long, value_name = "MS", default_value_t = 3000)]
    pub rest_ms: u64,
    /// After `--`: the command that starts the node (`mdcluster join … --json`)
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub node: Vec<std::ffi::OsString>,
}

/// The node process of a benchmark round; stopped when dropped.
struct NodeProcess(std::process::Child);

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Poll until `name` is seen trusted (what `discover` would show as a trusted
/// row); the moment it was.
fn until_trusted(
    browser: &mut Browser,
    view: &PrimaryView,
    name: &str,
    deadline: Instant,
    node: &mut NodeProcess,
) -> Result<Instant, Problem> {
    loop {
        browser.poll(
            deadline
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(100)),
        );
        let judge = view.judge(&[]);
        if browser
            .sightings()
            .any(|s| s.name().eq_ignore_ascii_case(name) && judge.sighting(s, &[]).trusted)
        {
            return Ok(Instant::now());
        }
        if let Ok(Some(status)) = node.0.try_wait() {
            return Err(Problem::other(format!(
                "the node command ended ({status}) before {name} was seen"
            )));
        }
        if Instant::now() >= deadline {
            return Err(Problem::new(
                Exit::Verification,
                format!("{name} was not seen trusted in time"),
            ));
        }
    }
}

/// The hidden `bench-discovery` command (benches/discovery.sh): how long from
/// a node's start, and from its first announcement, until the primary sees it
/// trusted; then how long a primary that starts listening while the node
/// announces takes. One JSON line.
pub(crate) fn bench_discovery(profile: &Profile, a: &BenchDiscoveryArgs) -> Result<Exit, Problem> {
    use std::io::BufRead;
    let at = a.place.locate(profile)?;
    let scope = a.scope.scope();
    let view = primary_view(profile, &at, &scope, a.code.as_deref())?;
    if view.code.is_none() {
        return Err(Problem::usage(
            "no join code: issue one with `mdcluster code`, or give --code",
        ));
    }
    let limit = Duration::from_secs(a.timeout);
    let mut browser = Browser::start(&scope)?;
    let settled = Instant::now() + Duration::from_millis(a.settle_ms);
    while Instant::now() < settled {
        browser.poll(settled.saturating_duration_since(Instant::now()));
    }

    let Some((program, args)) = a.node.split_first() else {
        return Err(Problem::usage("give the node's command after `--`"));
    };
    let spawned = Instant::now();
    let mut child = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| {
            Problem::other(format!(
                "could not start {}: {e}",
                program.to_string_lossy()
            ))
        })?;
    let stdout = child.stdout.take();
    let mut node = NodeProcess(child);
    // The moment the node prints its "announcing" event: right after it
    // handed the signed announcement to its mDNS responder.
    let (tx, announced) = std::sync::mpsc::channel::<Instant>();
    if let Some(out) = stdout {
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                let event = serde_json::from_str::<serde_json::Value>(&line).ok();
                if event.is_some_and(|v| v["event"] == "announcing") {
                    let _ = tx.send(Instant::now());
                }
            }
        });
    }
    let trusted = until_trusted(&mut browser, &view, &a.name, spawned + limit, &mut node)?;
    let announcing = announced.recv_timeout(Duration::from_secs(1)).ok();
    drop(browser);

    // A primary that starts listening while the node already announces.
    std::thread::sleep(Duration::from_millis(a.rest_ms));
    let listening = Instant::now();
    let mut browser = Browser::start(&scope)?;
    let found = until_trusted(&mut browser, &view, &a.name, listening + limit, &mut node)?;
    drop(browser);
    drop(node);

    let ms = |from: Instant, to: Instant| to.saturating_duration_since(from).as_secs_f64() * 1000.0;
    json_line(&JsonEvent::BenchDiscovery {
        name: &a.name,
        scope: scope.describe(),
        start_to_trusted_ms: ms(spawned, trusted),
        start_to_announcing_ms: announcing.map(|t| ms(spawned, t)),
        announcing_to_trusted_ms: announcing.map(|t| ms(t, trusted)),
        listen_to_trusted_ms: ms(listening, found),
    });
    Ok(Exit::Success)
}
