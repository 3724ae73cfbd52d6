//! Each workflow once: settings in, typed events out. The command line
//! (text and `--json`), the full-screen wizard, the plain wizard and the
//! demo run these and only render what they report.

pub mod discover;
pub mod failover;
pub mod join;
pub mod start;
pub mod verify;

use std::path::PathBuf;

/// The cluster log file followed, as `join` and `verify` report it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogFile {
    /// Something happened to it: found, rolled over, unreadable.
    Changed {
        what: String,
        file: Option<PathBuf>,
        pattern: String,
    },
    /// No log file yet: still looked for (said once).
    Searching { what: String, pattern: String },
}
