//! The cluster log: found by the profile's patterns below the installation's
//! Logs folder ([`find`]), followed by polling ([`follow`]), decoded and
//! parsed into events ([`parse`]), matched against the profile's patterns
//! ([`matcher`]) and summed up per node ([`confirm`]).
//!
//! Invariants:
//! - Nothing in a log makes reading fail: bytes are UTF-8 when valid, else
//!   Windows-1252; a line longer than [`MAX_LINE`] bytes is cut and marked;
//!   a line that matches no known format is kept as an event of format
//!   "unknown" with its text, never dropped (blank lines carry nothing and
//!   are skipped).
//! - Memory is bounded: the follower reads in chunks and hands each line on
//!   as soon as its newline arrives; only one partial line (at most
//!   [`MAX_LINE`] bytes) is held between polls.
//! - A partly written last line is held until its newline arrives, except
//!   when its file is finished (rolled over or replaced): then it is handed
//!   on as it is.
//! - Polling, never change notifications (those miss appends on Windows
//!   while the writer holds the file open); the file is opened so that the
//!   writer can go on writing, renaming and deleting it.
//! - Text from the log is untrusted: it reaches a terminal only through
//!   [`crate::text::sanitize`].

pub mod confirm;
pub mod find;
pub mod follow;
pub mod grid;
pub mod matcher;
pub mod parse;
pub mod peer;
pub mod watch;

pub use confirm::{Confirmations, NodeSpec};
pub use find::Found;
pub use follow::{Follower, Happening, Line};
pub use matcher::{Kind, Matched, Matcher};
pub use parse::{Event, Format, Parser};
pub use peer::PeerWatch;
pub use watch::Watch;

use std::time::Duration;

/// Longest line kept, in bytes; the rest is cut and the cut marked.
pub const MAX_LINE: usize = 8 * 1024;

/// How often the follower looks at the file.
pub(crate) const POLL: Duration = Duration::from_millis(100);

/// Everything needed to turn log lines into matched events.
pub struct Reader {
    pub parser: Parser,
    pub matcher: Matcher,
}

impl Reader {
    pub fn new(profile: &crate::profile::Profile) -> Result<Reader, crate::problem::Problem> {
        Ok(Reader {
            parser: Parser::new(profile)?,
            matcher: Matcher::new(&profile.cluster_log())?,
        })
    }

    /// One line: its event and, when it names a node's state, the match.
    pub fn read(&self, line: &Line) -> (Event, Option<Matched>) {
        let event = self.parser.parse(&line.text);
        let matched = self.matcher.find(&event.text);
        (event, matched)
    }
}

/// The cluster log read once, from the beginning of the newest file to its
/// end (no following): what step 10 judges from.
pub fn scan_once(
    root: &std::path::Path,
    profile: &crate::profile::Profile,
    nodes: &[NodeSpec],
) -> Result<(Found, Confirmations), crate::problem::Problem> {
    let mut watch = Watch::new(root, profile, nodes)?;
    watch.read_to_end();
    Ok((watch.found().clone(), watch.confirmations().clone()))
}
