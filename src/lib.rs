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
//! - [`fsops`]: atomic writes, verified and resumable folder moves, locks, the state folder.
//! - [`report`]: diffs and previews as text.
//! - [`text`]: untrusted text made safe for a terminal and JSON; sizes; positions.
//! - [`platform`]: the few questions only the operating system answers (host name, clock, is a process alive).
//! - [`service`]: whether MDaemon runs; stopping and starting it.
//! - [`sandbox`]: a realistic sample installation for tests and the demo.
//! - [`simulation`]: a SIMULATED cluster (secondaries announcing, a primary writing cluster-log lines) for the demo and tests.
//! - [`lb`]: load-balancer configuration (step 11): generated, checked by the real balancer, failover.
//! - [`wizard`]: the interactive wizard: full-screen (ratatui) and plain prompts.
//! - [`clusterlog`]: the cluster log: found, followed by polling, parsed, matched per node (step 10, `verify`).
//! - [`cluster`]: node facts, pairing, cluster rules, the manifest of nodes and server IDs.
//! - [`discovery`]: mDNS announcements and browsing of nodes on the LAN; the survey judging them.
//! - [`health`]: the cluster's health after setup: every node's services, the share, the cluster log, clocks.
//! - [`output`]: terminal and JSON output for every front end.
//! - [`workflows`]: each workflow once (join, verify, discovery, what an earlier run left), reporting typed events to every front end.
//! - [`cli`]: the command line.
//! - [`problem`]: user-facing errors and exit codes.

//!
//! The modules form layers (ARCHITECTURE.md, enforced by `tests/layers.rs`).

#![forbid(unsafe_code)]

pub mod cli;
pub mod cluster;
pub mod clusterlog;
pub mod codepage;
pub mod discovery;
pub mod engine;
pub mod fsops;
pub mod health;
pub mod ini;
pub mod install;
pub mod lb;
pub mod location;
pub(crate) mod output;
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
pub mod text;
pub mod userlist;
pub mod winpath;
pub mod wizard;
pub mod workflows;
