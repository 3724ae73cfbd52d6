//! On a secondary: its own cluster log confirms the connection to the
//! primary (MDaemon's step 10: check on the secondary that both servers are
//! registered and connected). What `join` and the wizard's join screen
//! follow once the node is registered.
//!
//! The log is read from the beginning of the newest file, then followed
//! (the same [`Follower`] as `verify`); the primary is confirmed when the
//! latest connection event about it is a connection and the latest
//! replication event a completed one. Clock and time-zone warnings about it
//! are kept once seen.

use super::confirm::{NodeLog, Seen};
use super::watch::{self, Watch};
use super::{Event, Happening, Matched, NodeSpec};
use crate::problem::Problem;
use crate::profile::Profile;
use std::path::Path;

/// What one poll brought.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum News {
    /// Something happened to the file followed (opened, rolled over, …).
    File(Happening),
    /// An event about the primary.
    Event(Event, Matched),
}

/// The secondary's cluster log, followed for its primary.
pub struct PeerWatch {
    watch: Watch,
    primary: String,
}

impl PeerWatch {
    /// Follow the cluster log of the installation at `root` for `primary`.
    pub fn new(root: &Path, profile: &Profile, primary: &str) -> Result<PeerWatch, Problem> {
        let node = NodeSpec {
            name: primary.to_string(),
            address: String::new(),
            primary: false,
        };
        Ok(PeerWatch {
            watch: Watch::new(root, profile, &[node])?,
            primary: primary.to_string(),
        })
    }

    pub fn primary(&self) -> &str {
        &self.primary
    }

    /// Read what is new; each event about the primary and each change of
    /// file goes to `on` (the same error twice in a row is said once).
    /// Returns true when there is more to read at once.
    pub fn poll(&mut self, on: &mut dyn FnMut(News)) -> bool {
        self.watch.poll(&mut |news| match news {
            watch::News::Matched {
                event,
                matched,
                node: Some(_),
            } => on(News::Event(event, matched)),
            watch::News::File(h) => on(News::File(h)),
            watch::News::Matched { .. } | watch::News::Line(_) => {}
        })
    }

    /// What the log says about the primary so far.
    pub fn log(&self) -> &NodeLog {
        &self.watch.confirmations().nodes[0].1
    }

    pub fn confirmed(&self) -> bool {
        self.log().connected() && self.log().replicating()
    }

    /// The file being read.
    pub fn file(&self) -> Option<&Path> {
        self.watch.file()
    }

    /// The search for the log: pattern and match, for the screen.
    pub fn describe(&self) -> String {
        self.watch.found().describe()
    }

    /// The glob the log is looked for with.
    pub fn pattern(&self) -> &str {
        &self.watch.found().pattern
    }

    /// Lines read in all.
    pub fn lines(&self) -> u64 {
        self.watch.lines()
    }

    /// What is missing after `secs` seconds, one sentence each (empty when
    /// confirmed).
    pub fn missing(&self, secs: u64) -> Vec<String> {
        let p = &self.primary;
        let Some(file) = self.file() else {
            return vec![format!(
                "no connection to {p}: no cluster log on this node within {secs} s ({})",
                self.describe()
            )];
        };
        let file = file.display();
        let said = |s: &Seen| {
            format!(
                "at {}: {}",
                s.time.as_deref().unwrap_or("?"),
                crate::text::sanitize(&s.text)
            )
        };
        let mut out = Vec::new();
        match &self.log().connection {
            Some((true, _)) => {}
            Some((false, s)) => out.push(format!(
                "not connected to {p}: this node's cluster log {file} says, {}",
                said(s)
            )),
            None => out.push(format!(
                "no connection to {p} in this node's cluster log {file} within {secs} s"
            )),
        }
        match &self.log().replication {
            Some((true, _)) => {}
            Some((false, s)) => out.push(format!(
                "replication with {p} failed: this node's cluster log {file} says, {}",
                said(s)
            )),
            None => out.push(format!(
                "no completed replication with {p} in this node's cluster log {file} within {secs} s"
            )),
        }
        out
    }

    /// Clock and time-zone warnings about the primary, one sentence each.
    pub fn warnings(&self) -> Vec<String> {
        self.watch.confirmations().warnings()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirms_the_primary_from_the_secondarys_own_log() {
        let tmp = tempfile::tempdir().unwrap();
        let profile = Profile::builtin();
        let logs = tmp.path().join("Logs");
        std::fs::create_dir_all(&logs).unwrap();
        let file = logs.join("MDaemon-2026-11-22-Cluster.log");
        let mut w = PeerWatch::new(tmp.path(), &profile, "MAIL1").unwrap();
        let mut news = Vec::new();
        while w.poll(&mut |n| news.push(n)) {}
        assert!(w.file().is_none());
        let missing = w.missing(3);
        assert!(
            missing[0]
                .starts_with("no connection to MAIL1: no cluster log on this node within 3 s"),
            "{missing:?}"
        );

        std::fs::write(
            &file,
            "Sun 2026-11-22 10:15:02.117: 17: Cluster service: connected to OTHER (server ID 3)\r\n\
             Sun 2026-11-22 10:15:02.118: 17: Cluster service: connected to MAIL1 (server ID 1)\r\n",
        )
        .unwrap();
        while w.poll(&mut |n| news.push(n)) {}
        assert!(w.log().connected() && !w.confirmed());
        let missing = w.missing(7);
        assert_eq!(missing.len(), 1, "{missing:?}");
        assert!(
            missing[0].contains("no completed replication with MAIL1")
                && missing[0].contains("within 7 s"),
            "{missing:?}"
        );
        // Only events about the primary are handed on.
        let events = news.iter().filter(|n| matches!(n, News::Event(..))).count();
        assert_eq!(events, 1, "{news:?}");

        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&file)
            .unwrap();
        std::io::Write::write_all(
            &mut f,
            b"Sun 2026-11-22 10:15:04.001: 17: Cluster service: clock of MAIL1 differs from this server by 2.4 seconds\r\n\
              Sun 2026-11-22 10:15:04.117: 17: Cluster service: replication to MAIL1 complete (8 items)\r\n",
        )
        .unwrap();
        while w.poll(&mut |n| news.push(n)) {}
        assert!(w.confirmed());
        assert!(w.missing(7).is_empty());
        assert_eq!(w.warnings().len(), 1, "{:?}", w.warnings());
    }

    #[test]
    fn a_lost_connection_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let profile = Profile::builtin();
        let logs = tmp.path().join("Logs");
        std::fs::create_dir_all(&logs).unwrap();
        std::fs::write(
            logs.join("MDaemon-2026-11-22-Cluster.log"),
            "Sun 2026-11-22 10:15:02.117: 17: Cluster service: lost connection to MAIL1\r\n",
        )
        .unwrap();
        let mut w = PeerWatch::new(tmp.path(), &profile, "MAIL1").unwrap();
        while w.poll(&mut |_| {}) {}
        let missing = w.missing(1);
        assert!(
            missing[0].starts_with("not connected to MAIL1") && missing[0].contains("10:15:02"),
            "{missing:?}"
        );
    }
}
