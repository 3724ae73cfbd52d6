//! The cluster log watched for N nodes: followed from the beginning of the
//! newest file, every line parsed and matched, what each node's lines
//! confirm kept. `verify`, step 10 (read once), the wizard's step 10
//! (followed) and a secondary's own check of its primary all poll this.

use super::{Confirmations, Event, Follower, Found, Happening, Matched, NodeSpec, Reader};
use crate::problem::Problem;
use crate::profile::Profile;
use std::path::Path;

/// What one poll brought, in the order it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum News {
    /// A line was read (any line; handed on only when lines are wanted).
    Line(Event),
    /// A line about a node's state: what it says, and which of the watched
    /// nodes it is about (None: none of them).
    Matched {
        event: Event,
        matched: Matched,
        node: Option<usize>,
    },
    /// Something happened to the file followed (opened, rolled over,
    /// unreadable); the same happening twice in a row is said once.
    File(Happening),
}

/// The cluster log of one installation, watched for some nodes.
pub struct Watch {
    reader: Reader,
    follower: Follower,
    confirmations: Confirmations,
    last: Option<Happening>,
    lines_wanted: bool,
    unknown: u64,
}

/// Most bytes read per poll, so a huge log still lets the caller move.
const BITE: usize = 4 << 20;

impl Watch {
    /// Watch the cluster log of the installation at `root` for `nodes`.
    pub fn new(root: &Path, profile: &Profile, nodes: &[NodeSpec]) -> Result<Watch, Problem> {
        Ok(Watch {
            reader: Reader::new(profile)?,
            follower: Follower::new(root, profile),
            confirmations: Confirmations::new(nodes),
            last: None,
            lines_wanted: false,
            unknown: 0,
        })
    }

    /// Also hand on every line read ([`News::Line`]).
    pub(crate) fn with_lines(mut self) -> Watch {
        self.lines_wanted = true;
        self
    }

    /// Read what is new (a bounded bite), telling `on` what happened.
    /// Returns true when there is more to read at once.
    pub fn poll(&mut self, on: &mut dyn FnMut(News)) -> bool {
        let (reader, conf, unknown) = (&self.reader, &mut self.confirmations, &mut self.unknown);
        let lines_wanted = self.lines_wanted;
        let more = self.follower.poll(BITE, &mut |line| {
            let (event, matched) = reader.read(&line);
            if event.format == super::Format::Unknown {
                *unknown += 1;
            }
            if lines_wanted {
                on(News::Line(event.clone()));
            }
            if let Some(matched) = matched {
                let node = conf.apply(&event, &matched);
                on(News::Matched {
                    event,
                    matched,
                    node,
                });
            }
        });
        for h in self.follower.take_happenings() {
            if self.last.as_ref() == Some(&h) {
                continue;
            }
            self.last = Some(h.clone());
            on(News::File(h));
        }
        more
    }

    /// Read from where it is to the end of the file, now.
    pub fn read_to_end(&mut self) {
        while self.poll(&mut |_| {}) {}
    }

    /// What the log confirms so far, per node.
    pub fn confirmations(&self) -> &Confirmations {
        &self.confirmations
    }

    /// The search for the log: pattern and what it found.
    pub fn found(&self) -> &Found {
        self.follower.found()
    }

    /// The file being read.
    pub fn file(&self) -> Option<&Path> {
        self.follower.file()
    }

    /// Lines read in all.
    pub fn lines(&self) -> u64 {
        self.follower.lines
    }

    /// Lines in no known format.
    pub(crate) fn unknown_lines(&self) -> u64 {
        self.unknown
    }
}
