//! User-facing errors: what went wrong, where, what to do, and the exit code.
//!
//! Every failure that reaches the administrator is a [`Problem`]. It always
//! carries an [`Exit`] code (documented in the README and `--help`) and, where
//! there is one, a fix: a sentence that says what to do next.

use serde::Serialize;
use std::fmt;

/// Process exit codes. The numbers are a public interface: scripts rely on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(into = "u8")]
pub enum Exit {
    /// Changed what was needed, or there was nothing to do.
    Success = 0,
    /// Anything not covered below.
    Other = 1,
    /// Wrong command line, or an invalid plan or profile.
    Usage = 2,
    /// A check before any change refused to go on; nothing was changed.
    Refused = 3,
    /// A change failed part-way; the journal is kept: rerun to resume, or undo.
    Failed = 4,
    /// A copy did not match its source, a confirmation did not arrive, or a
    /// balancer's own check refused a generated configuration.
    Verification = 5,
    /// A file changed on disk between the preview and the change: the plan is stale.
    Stale = 6,
    /// Stopped by Ctrl-C or a termination request (128 + SIGINT, as shells
    /// report it); the journal resumes or undoes the run.
    Interrupted = 130,
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<Exit> for u8 {
    fn from(e: Exit) -> u8 {
        e.code()
    }
}

/// Text for `--help` and the README.
pub(crate) const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success: changed what was needed, or nothing to do
  1  any other error
  2  usage error, or an invalid plan or profile
  3  a preflight check refused to go on; nothing was changed
  4  a change failed part-way; the journal is kept (rerun to resume, or undo)
  5  verification failed: a copy differs from its source, a balancer refused a generated configuration,
     or the cluster log did not confirm every registered node in time (verify)
  6  the plan is stale: a file changed between preview and change
  130  interrupted (Ctrl-C): stopped at once; rerun to finish, or undo
  141  standard output was closed early (`| head`): stopped there, as on SIGPIPE";

/// An error the administrator can act on.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub exit: Exit,
    /// What is wrong, as one sentence.
    pub what: String,
    /// The file, line or folder concerned, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// Stable id of the step that failed, when a step failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<&'static str>,
}

impl Problem {
    pub fn new(exit: Exit, what: impl Into<String>) -> Problem {
        Problem {
            exit,
            what: what.into(),
            location: None,
            fix: None,
            step: None,
        }
    }
    pub fn usage(what: impl Into<String>) -> Problem {
        Problem::new(Exit::Usage, what)
    }
    pub fn refused(what: impl Into<String>) -> Problem {
        Problem::new(Exit::Refused, what)
    }
    pub fn failed(what: impl Into<String>) -> Problem {
        Problem::new(Exit::Failed, what)
    }
    pub fn other(what: impl Into<String>) -> Problem {
        Problem::new(Exit::Other, what)
    }
    pub fn at(mut self, location: impl Into<String>) -> Problem {
        self.location = Some(location.into());
        self
    }
    pub fn fix(mut self, fix: impl Into<String>) -> Problem {
        self.fix = Some(fix.into());
        self
    }
    pub(crate) fn in_step(mut self, step: &'static str) -> Problem {
        if self.step.is_none() {
            self.step = Some(step);
        }
        self
    }
    /// An I/O error on a path, as a sentence naming the path and the OS reason.
    pub fn io(exit: Exit, doing: &str, path: &std::path::Path, err: &std::io::Error) -> Problem {
        Problem::new(exit, format!("could not {doing}: {}", describe_io(err)))
            .at(path.display().to_string())
    }
}

/// The OS reason in words, without Rust's "(os error N)" noise where a kind says it better.
pub(crate) fn describe_io(err: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match err.kind() {
        NotFound => "it does not exist".to_string(),
        PermissionDenied => "permission denied".to_string(),
        AlreadyExists => "it already exists".to_string(),
        _ => err.to_string(),
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(step) = self.step {
            write!(f, "[{step}] ")?;
        }
        write!(f, "{}", self.what)?;
        if let Some(loc) = &self.location {
            write!(f, "\n  where: {loc}")?;
        }
        if let Some(fix) = &self.fix {
            write!(f, "\n  what to do: {fix}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problem {}

pub type Result<T, E = Problem> = std::result::Result<T, E>;
