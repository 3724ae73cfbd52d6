//! mdcluster: turns single MDaemon mail servers into an MDaemon cluster, safely.
//!
//! Map of the crate:
//! - [`plan`]: the plan file (TOML v1), strict validation with positions.
//! - [`profile`]: every MDaemon-specific name, from `assets/profiles/mdaemon.toml`.
//! - [`winpath`]: Windows path rules (UNC, drives, case-insensitive, MAX_PATH) as plain code.
//! - [`location`]: where MDaemon's Windows paths are on this machine (`[[mounts]]`).
//! - [`codepage`]: Windows-1252, the code page of MDaemon's files.
//! - [`ini`]: lossless MDaemon.ini editing: only the bytes of a changed value change.
//! - [`userlist`]: lossless Userlist.dat editing: only the bytes of a changed MailDir change.
//! - [`install`]: reading the installation (MDaemon.ini, `[Directories]`).
//! - [`steps`]: the eleven steps, their checks and the actions they are made of.
//! - [`engine`]: preview, apply, status and undo over a journal.
//! - [`fsops`]: atomic writes and verified, resumable folder moves.
//! - [`report`]: human-readable output: sizes, safe text, diffs, previews.
//! - [`platform`]: the few questions only the operating system answers (is a process alive).
//! - [`service`]: whether MDaemon runs; stopping and starting it.
//! - [`sandbox`]: a realistic sample installation for tests and the demo.
//! - [`simulation`]: a SIMULATED cluster (secondaries announcing, a primary writing cluster-log lines) for the demo and tests.
//! - [`lb`]: load-balancer configuration (step 11): generated, checked by the real balancer, failover.
//! - [`wizard`]: the interactive wizard: full-screen (ratatui) and plain prompts.
//! - [`clusterlog`]: the cluster log: found, followed by polling, parsed, matched per node (step 10, `verify`).
//! - [`cluster`]: node facts, pairing, cluster rules, the manifest of nodes and server IDs.
//! - [`discovery`]: mDNS announcements and browsing of nodes on the LAN.
//! - [`cli`]: the command line.
//! - [`problem`]: user-facing errors and exit codes.

#![forbid(unsafe_code)]

pub mod cli;
pub mod cluster;
pub mod clusterlog;
pub mod codepage;
pub mod discovery;
pub mod engine;
pub mod fsops;
pub mod ini;
pub mod install;
pub mod lb;
pub mod location;
pub mod plan;
pub mod platform;
pub mod problem;
pub mod profile;
pub mod report;
pub mod sandbox;
pub mod service;
pub mod simulation;
pub mod steps;
pub mod test_hooks;
pub mod userlist;
pub mod winpath;
pub mod wizard;
