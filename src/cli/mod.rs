//! The command line: parsing, dispatch, and turning problems into exit codes.

mod cluster;
mod commands;
mod demo;
mod health;
mod lb;
mod simulate;
mod verify;

use crate::output;
use crate::problem::{Exit, Problem, EXIT_CODES_HELP};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "mdcluster",
    // Not argv[0]: on Windows that would show "mdcluster.exe" in every usage line.
    bin_name = "mdcluster",
    version,
    about = "Turns single MDaemon mail servers into an MDaemon cluster, safely.",
    long_about = "Turns single MDaemon mail servers into an MDaemon cluster, safely.\n\n\
                  Every change is previewed, journaled, backed up and undoable; a rerun \
                  resumes where an interrupted run stopped.",
    after_help = EXIT_CODES_HELP
)]
pub(crate) struct Cli {
    /// Use this MDaemon profile instead of the built-in one (see `mdcluster profile show`)
    #[arg(long, global = true, value_name = "FILE")]
    profile: Option<PathBuf>,

    /// Without a command: the wizard on this installation folder (default: the profile's C:\MDaemon)
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,

    /// Ask the wizard's questions as plain line prompts instead of the full screen
    #[arg(long, global = true)]
    plain: bool,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The interactive wizard (also what `mdcluster` without a command starts)
    #[command(after_help = EXIT_CODES_HELP)]
    Wizard(WizardArgs),
    /// Carry out a plan: preview, confirm, change, journal
    #[command(after_help = EXIT_CODES_HELP)]
    Apply(ApplyArgs),
    /// Show where each step stands for a plan's installation
    #[command(after_help = EXIT_CODES_HELP)]
    Status(PlanArgs),
    /// Reverse what mdcluster changed, newest first, from the journal
    #[command(after_help = EXIT_CODES_HELP)]
    Undo(UndoArgs),
    /// After `apply --keep-source`: delete the old mail store where its copy on the share is identical
    #[command(after_help = EXIT_CODES_HELP)]
    Cleanup(CleanupArgs),
    /// Check a plan file or print an example
    #[command(subcommand)]
    Plan(PlanCommand),
    /// Write the load balancer's configuration (HAProxy, nginx, Apache) from a plan, checked by the balancer itself
    #[command(
        after_help = EXIT_CODES_HELP,
        args_conflicts_with_subcommands = true,
        subcommand_negates_reqs = true
    )]
    Lb(LbArgs),
    /// Write a SAMPLE MDaemon installation to try mdcluster on; prints a plan for it
    Sandbox(SandboxArgs),
    /// Run mdcluster on a sample installation and a demo share in a temporary folder
    Demo(DemoArgs),
    /// Run a SIMULATED cluster for a sample primary: secondaries that announce, cluster-log lines once registered
    Simulate(simulate::SimulateArgs),
    /// List the eleven steps with their ids
    Steps {
        /// One JSON object per step
        #[arg(long)]
        json: bool,
    },
    /// Show the MDaemon profile in use
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// On the primary: issue a join code for the secondaries (printed on stdout)
    Code(cluster::CodeArgs),
    /// On a secondary: announce this node, signed with the join code, until it is registered
    #[command(after_help = EXIT_CODES_HELP)]
    Join(cluster::JoinArgs),
    /// On the primary: find the nodes announcing on the LAN and check the cluster rules
    Discover(cluster::DiscoverArgs),
    /// Record that nodes were registered in MDaemon's Cluster Service dialog
    Register(cluster::RegisterArgs),
    /// Take the cluster manifest's lock from a run on a machine that is gone
    Unlock(cluster::UnlockArgs),
    /// Confirm the cluster from MDaemon's cluster log: every registered node connected and replicating (exit 5 if not)
    #[command(after_help = EXIT_CODES_HELP)]
    Verify(verify::VerifyArgs),
    /// Manage the cluster's nodes
    #[command(subcommand)]
    Node(NodeCommand),
    /// Check every node's services, the share, the cluster log and clocks (exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN, as monitoring systems read it)
    #[command(after_help = HEALTH_EXIT_CODES)]
    Health(health::HealthArgs),
    /// Run SIMULATED MDaemon services on one address (greetings, Webmail answering with the node's name) for tests and the demo
    #[command(name = "simulate-services")]
    SimulateServices(simulate::ServicesArgs),
    /// Benchmark hook (benches/move.sh): move or copy a folder with the mover
    #[command(name = "bench-mover", hide = true)]
    BenchMover(BenchMoverArgs),
    /// Benchmark hook (benches/discovery.sh): time until a starting node is seen trusted
    #[command(name = "bench-discovery", hide = true)]
    BenchDiscovery(cluster::BenchDiscoveryArgs),
}

#[derive(Args, Debug)]
struct BenchMoverArgs {
    /// `move` (copy, verify, delete; or one rename) or `copy` (verified copy)
    #[arg(value_parser = ["move", "copy"])]
    op: String,
    from: PathBuf,
    to: PathBuf,
    /// Worker threads
    #[arg(long, default_value_t = crate::fsops::mover::DEFAULT_THREADS)]
    threads: usize,
    /// Never use the one-rename shortcut
    #[arg(long)]
    no_rename: bool,
    /// How copies are made durable: auto, each-file (fsync per file), batched (syncfs)
    #[arg(long, default_value = "auto", value_parser = ["auto", "each-file", "batched"])]
    flush: String,
}

#[derive(Args, Debug)]
struct WizardArgs {
    /// The MDaemon installation folder on this machine (default: the profile's C:\MDaemon)
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    #[command(flatten)]
    discovery: WizardDiscovery,
}

/// Where the wizard looks for secondaries (steps 6-9).
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct WizardDiscovery {
    /// Look for secondaries on loopback only (sandbox nodes on this machine)
    #[arg(long, conflicts_with = "no_discovery")]
    pub loopback: bool,
    /// Look for secondaries only on this interface (repeat for more)
    #[arg(long = "interface", value_name = "NAME")]
    pub interfaces: Vec<String>,
    /// Do not look for secondaries (add them with a plan instead)
    #[arg(long)]
    pub no_discovery: bool,
}

impl WizardDiscovery {
    pub fn scope(&self, loopback_default: bool) -> Option<crate::discovery::Scope> {
        (!self.no_discovery).then(|| crate::discovery::Scope {
            loopback: self.loopback || (loopback_default && self.interfaces.is_empty()),
            interfaces: self.interfaces.clone(),
        })
    }
}

#[derive(Args, Debug)]
struct PlanArgs {
    /// The plan file
    #[arg(long, value_name = "FILE")]
    plan: PathBuf,
    /// Print JSON instead of text
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct ApplyArgs {
    #[command(flatten)]
    plan: PlanArgs,
    /// Show every change and change nothing
    #[arg(long)]
    dry_run: bool,
    /// Do not ask before changing anything (needed without a terminal and with --json)
    #[arg(long, short = 'y')]
    yes: bool,
    /// Drop RESTART.SEM after MDaemon.ini is rewritten, so MDaemon restarts and uses the new folders
    #[arg(long)]
    restart: bool,
    /// Copy the mail store and keep the source until `mdcluster cleanup` removes it
    #[arg(long)]
    keep_source: bool,
    /// Stop MDaemon while its data moves (EXITNOW.SEM or the service) and start it afterwards
    #[arg(long)]
    stop_mdaemon: bool,
    /// Say that MDaemon is stopped, where mdcluster cannot ask the service (not on the server)
    #[arg(long)]
    mdaemon_stopped: bool,
    /// When a check fails, apply the steps that do not need the failed one and leave out the rest (a rerun applies them once it is corrected)
    #[arg(long)]
    skip_blocked: bool,
    #[command(flatten)]
    discovery: cluster::DiscoveryArgs,
}

#[derive(Args, Debug)]
struct UndoArgs {
    #[command(flatten)]
    plan: PlanArgs,
    /// Do not ask before undoing
    #[arg(long, short = 'y')]
    yes: bool,
    /// Undo only the latest run (a node added), leaving the runs before it applied; refused when that run moved data or rewrote MDaemon.ini
    #[arg(long)]
    latest: bool,
    /// Stop a running MDaemon while data moves back, and start it again afterwards
    #[arg(long)]
    stop_mdaemon: bool,
    /// Say that MDaemon is stopped, where mdcluster cannot ask the service
    #[arg(long)]
    mdaemon_stopped: bool,
}

#[derive(Args, Debug)]
struct CleanupArgs {
    #[command(flatten)]
    plan: PlanArgs,
    /// Do not ask before deleting
    #[arg(long, short = 'y')]
    yes: bool,
    /// Say that MDaemon was restarted since MDaemon.ini was rewritten (it uses the share now)
    #[arg(long)]
    mdaemon_restarted: bool,
}

#[derive(Args, Debug)]
struct LbArgs {
    #[command(subcommand)]
    command: Option<LbCommand>,
    #[command(flatten)]
    generate: LbGenerateArgs,
}

/// Which balancer.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum KindArg {
    Haproxy,
    Nginx,
    Apache,
    /// All three, each in its own folder
    All,
}

impl KindArg {
    fn kinds(self) -> Vec<crate::lb::Kind> {
        use crate::lb::Kind;
        match self {
            KindArg::Haproxy => vec![Kind::Haproxy],
            KindArg::Nginx => vec![Kind::Nginx],
            KindArg::Apache => vec![Kind::Apache],
            KindArg::All => Kind::ALL.to_vec(),
        }
    }
}

#[derive(Args, Debug)]
struct LbGenerateArgs {
    /// The plan file: its [[nodes]] and [load_balancer]
    #[arg(long, value_name = "FILE", required = true)]
    plan: Option<PathBuf>,
    /// Which balancer the configuration is for
    #[arg(long, value_enum, required = true)]
    kind: Option<KindArg>,
    /// Folder for the files (default: ./mdcluster-lb/<kind>/; with --kind all, one folder per kind inside it)
    #[arg(long, short = 'o', value_name = "DIR")]
    out: Option<PathBuf>,
    /// Replace files that already exist
    #[arg(long)]
    force: bool,
    /// Print JSON instead of text
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum LbCommand {
    /// Move the sessions of a failed node to another node: writes the failover include (Apache) or the changed configuration (HAProxy, nginx)
    #[command(after_help = EXIT_CODES_HELP)]
    Failover(LbFailoverArgs),
}

#[derive(Args, Debug)]
struct LbFailoverArgs {
    /// The plan file the configuration was generated from
    #[arg(long, value_name = "FILE")]
    plan: PathBuf,
    /// Which balancer
    #[arg(long, value_enum)]
    kind: KindArg,
    /// The failed node (its name in the plan)
    #[arg(long, value_name = "NODE")]
    from: String,
    /// The node that takes over its sessions
    #[arg(long, value_name = "NODE")]
    to: String,
    /// Folder of the generated files (default: ./mdcluster-lb/<kind>/)
    #[arg(long, short = 'o', value_name = "DIR")]
    out: Option<PathBuf>,
    /// Replace files even if mdcluster did not write them
    #[arg(long)]
    force: bool,
    /// Print JSON instead of text
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum PlanCommand {
    /// Check a plan without touching anything
    Validate {
        file: PathBuf,
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// Print a commented example plan
    Example,
}

#[derive(Subcommand, Debug)]
enum NodeCommand {
    /// Remove a node from the cluster manifest; its server ID is retired
    Remove(cluster::RemoveArgs),
}

#[derive(Subcommand, Debug)]
enum ProfileCommand {
    /// Print the profile (with --table: every entry and whether it is verified)
    Show {
        #[arg(long)]
        table: bool,
    },
}

#[derive(Args, Debug)]
struct SandboxArgs {
    /// Folder to create (must be new or empty); it stands for C:\MDaemon
    dir: PathBuf,
    /// Number of accounts
    #[arg(long, default_value_t = 12)]
    accounts: usize,
    /// Number of messages in all mailboxes together
    #[arg(long, default_value_t = 600)]
    messages: usize,
    /// Random seed: the same seed writes the same files
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Make every message this many bytes (benchmark stores of many small files)
    #[arg(long, value_name = "BYTES")]
    message_size: Option<usize>,
    /// Also create this folder as the demo share and use it in the printed plan
    #[arg(long, value_name = "DIR")]
    share: Option<PathBuf>,
    /// Run the SIMULATED MDaemon for this sandbox in the foreground (creating the sandbox first if DIR is new)
    #[arg(long)]
    run_service: bool,
    /// Make it a secondary of the sandbox in DIR: its certificates installed, its own licence
    #[arg(long, value_name = "DIR")]
    secondary_of: Option<PathBuf>,
    /// With --secondary-of: the secondary's computer name
    #[arg(long, value_name = "NAME", default_value = "MAIL2")]
    name: String,
    /// With --run-service: stop the simulation after this many seconds
    #[arg(long, value_name = "SECONDS")]
    service_seconds: Option<u64>,
}

#[derive(Args, Debug)]
struct DemoArgs {
    /// Work in this folder (new or empty) instead of a new temporary one
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Run headless without asking (no wizard)
    #[arg(long, short = 'y')]
    yes: bool,
    /// SIMULATED secondaries running beside the wizard (SIM2, SIM3, …; 0 for none)
    #[arg(long, value_name = "N", default_value_t = 2)]
    secondaries: usize,
    #[command(flatten)]
    discovery: WizardDiscovery,
}

/// Run the command line; returns the process exit code.
pub fn main() -> u8 {
    crate::output::STARTED.get_or_init(std::time::Instant::now);
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            if e.use_stderr() && health_command() {
                // Monitoring reads 2 as CRITICAL: a bad option is UNKNOWN.
                return health::bad_options(&e);
            }
            let _ = e.print();
            return if e.use_stderr() {
                Exit::Usage.code()
            } else {
                Exit::Success.code()
            };
        }
    };
    let json = cli.wants_json();
    if let Some(Command::Health(h)) = &cli.command {
        let profile = crate::profile::Profile::load(cli.profile.as_deref());
        return health::main(profile, h);
    }
    match run(cli) {
        Ok(code) => code.code(),
        Err(problem) => {
            output::print_problem(&problem, json);
            problem.exit.code()
        }
    }
}

/// The exit codes of `health` (the monitoring plugins' convention).
const HEALTH_EXIT_CODES: &str = "\
Exit codes (the monitoring plugins' convention, not mdcluster's usual ones):
  0  OK: every check passed
  1  WARNING: a check crossed a warning threshold
  2  CRITICAL: a service, the share or a node failed, or a critical threshold was crossed
  3  UNKNOWN: the plan, the profile or an option could not be used, or a check could not be made";

/// Whether the command line names `health` (for its exit code on a bad
/// option), as clap reads it despite the error.
fn health_command() -> bool {
    use clap::CommandFactory;
    Cli::command()
        .ignore_errors(true)
        .try_get_matches()
        .is_ok_and(|m| m.subcommand_name() == Some("health"))
}

impl Cli {
    fn wants_json(&self) -> bool {
        match &self.command {
            Some(Command::Apply(a)) => a.plan.json,
            Some(Command::Status(p)) => p.json,
            Some(Command::Undo(u)) => u.plan.json,
            Some(Command::Cleanup(c)) => c.plan.json,
            Some(Command::Plan(PlanCommand::Validate { json, .. })) => *json,
            Some(Command::Steps { json }) => *json,
            Some(Command::Join(j)) => j.json,
            Some(Command::Discover(d)) => d.json,
            Some(Command::Simulate(s)) => s.json,
            Some(Command::Verify(v)) => v.json,
            Some(Command::Health(h)) => h.json,
            Some(Command::Lb(l)) => match &l.command {
                Some(LbCommand::Failover(f)) => f.json,
                None => l.generate.json,
            },
            _ => false,
        }
    }
}

fn run(cli: Cli) -> Result<Exit, Problem> {
    let profile = crate::profile::Profile::load(cli.profile.as_deref())?;
    match cli.command {
        None => commands::wizard(
            profile,
            cli.root.as_deref(),
            cli.plain,
            WizardDiscovery::default().scope(false),
        ),
        Some(Command::Wizard(w)) => commands::wizard(
            profile,
            w.root.as_deref().or(cli.root.as_deref()),
            cli.plain,
            w.discovery.scope(false),
        ),
        Some(Command::Apply(a)) => commands::apply(&profile, &a),
        Some(Command::Status(p)) => commands::status(&profile, &p),
        Some(Command::Undo(u)) => commands::undo(&profile, &u),
        Some(Command::Cleanup(c)) => commands::cleanup(&profile, &c),
        Some(Command::Plan(PlanCommand::Validate { file, json })) => {
            commands::validate(&profile, &file, json)
        }
        Some(Command::Plan(PlanCommand::Example)) => {
            output::print_text(crate::plan::EXAMPLE);
            Ok(Exit::Success)
        }
        Some(Command::Lb(l)) => match l.command {
            Some(LbCommand::Failover(f)) => lb::failover(&profile, &f),
            None => lb::generate(&profile, &l.generate),
        },
        Some(Command::Sandbox(s)) => commands::sandbox(&profile, &s),
        Some(Command::Demo(d)) => commands::demo(profile, &d, cli.plain),
        Some(Command::Simulate(s)) => simulate::simulate(&profile, &s),
        Some(Command::Code(c)) => cluster::code(&profile, &c),
        Some(Command::Join(j)) => cluster::join(&profile, &j),
        Some(Command::Discover(d)) => cluster::discover(&profile, &d),
        Some(Command::Register(r)) => cluster::register(&profile, &r),
        Some(Command::Unlock(u)) => cluster::unlock(&profile, &u),
        Some(Command::Verify(v)) => verify::verify(&profile, &v),
        // `main` runs it before this: its problems are UNKNOWN, not mdcluster's codes.
        Some(Command::Health(_)) => Err(Problem::other("health is run on its own")),
        Some(Command::SimulateServices(s)) => simulate::services(&s),
        Some(Command::Node(NodeCommand::Remove(r))) => cluster::remove(&profile, &r),
        Some(Command::Steps { json }) => {
            commands::steps(json);
            Ok(Exit::Success)
        }
        Some(Command::BenchMover(b)) => commands::bench_mover(&b),
        Some(Command::BenchDiscovery(b)) => cluster::bench_discovery(&profile, &b),
        Some(Command::Profile(ProfileCommand::Show { table })) => {
            commands::profile_show(&profile, cli.profile.as_deref(), table);
            Ok(Exit::Success)
        }
    }
}
