//! Every test hook of mdcluster, in one place: environment variables that
//! make the process stop, fail or see the world differently at an exact
//! point, so that the tests can prove what happens there (docs/testing.md).
//! None is set in normal use, and none widens what mdcluster may do: each
//! makes it crash, fail, copy instead of rename, or misread its clock.
//!
//! | variable | effect |
//! |---|---|
//! | `MDCLUSTER_CRASH_AFTER_RECORD=N` | abort right after the Nth journal record this process writes |
//! | `MDCLUSTER_CRASH_AT=NAME` | abort right after writing the temporary file for a destination named NAME, before its rename |
//! | `MDCLUSTER_FAIL_AT_ACTION=N` (`N:after`) | the Nth action (or undo of one) fails before it does anything (once done, before that is journaled) |
//! | `MDCLUSTER_NO_RENAME=1` | move folders by verified copy even on one file system |
//! | `MDCLUSTER_TEST_UNREADABLE=NAME` | a source file named NAME cannot be opened, as one the account may not read |
//! | `MDCLUSTER_TEST_CLOCK_SKEW_MS=N` | this process's clock readings are N ms off |
//! | `MDCLUSTER_TEST_PANIC=1` | the full-screen wizard panics after its first frame (terminal restore) |
//! | `MDCLUSTER_EXIT_AFTER_FIRST_FRAME=1` | the full-screen wizard quits after its first frame |
//! | `MDCLUSTER_TEST_ACTION_DELAY_MS=N` | every action waits N ms before it starts (a run long enough to interrupt) |

use std::ffi::OsString;

pub(crate) const CRASH_AFTER_RECORD: &str = "MDCLUSTER_CRASH_AFTER_RECORD";
pub(crate) const CRASH_AT: &str = "MDCLUSTER_CRASH_AT";
pub(crate) const FAIL_AT_ACTION: &str = "MDCLUSTER_FAIL_AT_ACTION";
pub(crate) const NO_RENAME: &str = "MDCLUSTER_NO_RENAME";
pub(crate) const UNREADABLE: &str = "MDCLUSTER_TEST_UNREADABLE";
pub const CLOCK_SKEW_MS: &str = "MDCLUSTER_TEST_CLOCK_SKEW_MS";
pub(crate) const PANIC_AFTER_FIRST_FRAME: &str = "MDCLUSTER_TEST_PANIC";
pub(crate) const EXIT_AFTER_FIRST_FRAME: &str = "MDCLUSTER_EXIT_AFTER_FIRST_FRAME";
pub(crate) const ACTION_DELAY_MS: &str = "MDCLUSTER_TEST_ACTION_DELAY_MS";

/// The value of a hook, when set.
pub fn value(hook: &str) -> Option<OsString> {
    std::env::var_os(hook)
}

/// Whether a hook is set at all.
pub(crate) fn is_set(hook: &str) -> bool {
    value(hook).is_some()
}

/// A hook's value as a number; None when unset or not a number.
pub fn number<T: std::str::FromStr>(hook: &str) -> Option<T> {
    std::env::var(hook).ok()?.trim().parse().ok()
}
