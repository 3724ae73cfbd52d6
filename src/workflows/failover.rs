//! The failover watch: health rounds in, balancer changes out. When no
//! service of a node answered for `after` rounds in a row, step 11 writes
//! the balancer's configuration with that node's sessions moved (the
//! magazine article's second listing, [`crate::lb::failover`]); when it has
//! answered again for `restore_after` rounds, the normal configuration is
//! written back. Each write is a journaled run of the engine (backed up,
//! undoable, the balancer's own check first); the balancer is reloaded only
//! by the command the plan configures, else the command is printed.
//!
//! One failover at a time: a second node failing while one is moved is
//! reported, and left to the balancer's own health checks.

use crate::engine::events::EventSink;
use crate::engine::Engine;
use crate::health::{NodeTarget, Round};
use crate::lb::Move;
use crate::plan::{FailoverPolicy, Plan};
use crate::problem::Problem;
use crate::profile::Profile;
use crate::steps::load_balancer::InForce;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

/// What the watch decided after a round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Move the sessions of `from` to `to`.
    Fail(Move),
    /// `from` is back: write the normal configuration again.
    Restore(Move),
}

/// What the watch did, for every front end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FailoverEvent {
    /// A node failed a round (counted toward `after`).
    Counting {
        node: String,
        rounds: u32,
        after: u32,
    },
    /// The files were written (the journal's run).
    Changed {
        decision: Decision,
        files: Vec<PathBuf>,
        reload: Reload,
    },
    /// A change was due but was refused before anything was written
    /// (`written`: false), or failed part-way (true: the journal resumes
    /// or undoes it).
    Refused {
        decision: Decision,
        why: String,
        written: bool,
    },
    /// Another node failed while a failover is in force: left to the balancer.
    Also { node: String, active: Move },
    /// A node failed and no other node answers: nowhere to move its sessions.
    Nowhere { node: String },
    /// The balancer's files could not be read, or are neither the normal
    /// configuration nor a failover (said once per cause).
    Files { why: String },
}

/// How the balancer was told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reload {
    /// No reload command configured: this one is for the administrator.
    Print(String),
    /// The configured command ran: whether it succeeded, and its output.
    Ran {
        command: String,
        ok: bool,
        output: String,
    },
}

impl Reload {
    /// The command, whether it ran and succeeded (None: printed, not run),
    /// and its output; None when nothing was to be reloaded.
    pub fn parts(&self) -> Option<(&str, Option<bool>, &str)> {
        match self {
            Reload::Print(cmd) if cmd.is_empty() => None,
            Reload::Print(cmd) => Some((cmd, None, "")),
            Reload::Ran {
                command,
                ok,
                output,
            } => Some((command, Some(*ok), output)),
        }
    }
}

/// The watch's memory between rounds. Node names are counted as Windows
/// compares computer names: without regard to case.
#[derive(Clone, Debug)]
pub struct Watcher {
    policy: FailoverPolicy,
    down: BTreeMap<String, u32>,
    up: BTreeMap<String, u32>,
    active: Option<Move>,
    /// Nodes whose failure was reported (once per failure).
    reported: BTreeSet<String>,
    /// What was last said about the files (said again only when it changes).
    files_said: Option<String>,
}

fn key(name: &str) -> String {
    name.to_ascii_uppercase()
}

impl Watcher {
    /// `active`: the failover the files carry when the watch starts.
    pub fn new(policy: FailoverPolicy, active: Option<Move>) -> Watcher {
        Watcher {
            policy,
            down: BTreeMap::new(),
            up: BTreeMap::new(),
            active,
            reported: BTreeSet::new(),
            files_said: None,
        }
    }

    /// Read what the balancer's files carry now (within `timeout`: the
    /// installation or the share may hang) and take it in.
    pub fn look(
        &mut self,
        plan: &Plan,
        profile: &Profile,
        timeout: Duration,
    ) -> Vec<FailoverEvent> {
        let (plan, profile) = (plan.clone(), profile.clone());
        let now = crate::health::within(timeout, move || {
            Engine::open(plan, profile)?.failover_in_force()
        });
        let said = match now {
            Some(Ok(now)) => {
                self.files_are(&now);
                (now == InForce::Unrecognised).then(|| {
                    "the balancer's files are neither the normal configuration nor a failover of this plan (another node list, a hand edit, or a write under way): the watch keeps what it knew".to_string()
                })
            }
            Some(Err(p)) => Some(format!("the balancer's files could not be looked at: {}", p.what)),
            None => Some("looking at the balancer's files took longer than the timeout (the installation or the share hangs)".to_string()),
        };
        if said == self.files_said {
            return Vec::new();
        }
        self.files_said = said.clone();
        said.map(|why| FailoverEvent::Files { why })
            .into_iter()
            .collect()
    }

    pub fn active(&self) -> Option<&Move> {
        self.active.as_ref()
    }

    /// What the balancer's files carry now (read again before each
    /// decision: an `apply` or an undo may have changed them). Files that
    /// are neither the normal configuration nor a failover (other nodes
    /// since, a hand edit, a write under way) change nothing: the watch
    /// keeps what it knows.
    pub fn files_are(&mut self, now: &InForce) {
        match now {
            InForce::Normal => self.active = None,
            InForce::Failover(m) => self.active = Some(m.clone()),
            InForce::Unrecognised => {}
        }
    }

    fn down_rounds(&self, name: &str) -> u32 {
        self.down.get(&key(name)).copied().unwrap_or(0)
    }

    /// Count the round; the change that is due, if any, and what to report.
    pub fn decide(
        &mut self,
        round: &Round,
        nodes: &[NodeTarget],
    ) -> (Option<Decision>, Vec<FailoverEvent>) {
        let mut events = self.count(round, nodes);
        let failed: Vec<&NodeTarget> = nodes
            .iter()
            .filter(|n| self.down_rounds(&n.name) >= self.policy.after)
            .collect();
        if let Some(active) = self.active.clone() {
            for n in failed
                .iter()
                .filter(|n| !n.name.eq_ignore_ascii_case(&active.from))
            {
                if self.reported.insert(key(&n.name)) {
                    events.push(FailoverEvent::Also {
                        node: n.name.clone(),
                        active: active.clone(),
                    });
                }
            }
            let back = self.up.get(&key(&active.from)).copied().unwrap_or(0);
            let due = back >= self.policy.restore_after;
            return (due.then_some(Decision::Restore(active)), events);
        }
        let Some(failed) = failed.first() else {
            return (None, events);
        };
        // The primary takes the sessions when it is up, else the first node up.
        let to = nodes
            .iter()
            .filter(|n| !n.name.eq_ignore_ascii_case(&failed.name) && !round.node_down(&n.name))
            .min_by_key(|n| !n.primary);
        match to {
            Some(to) => {
                let decision = Decision::Fail(Move {
                    from: failed.name.clone(),
                    to: to.name.clone(),
                });
                (Some(decision), events)
            }
            None => {
                if self.reported.insert(key(&failed.name)) {
                    events.push(FailoverEvent::Nowhere {
                        node: failed.name.clone(),
                    });
                }
                (None, events)
            }
        }
    }

    /// Count each node's rounds down or up in a row; a node counting toward
    /// `after` is reported, and one that answers again may be reported anew.
    fn count(&mut self, round: &Round, nodes: &[NodeTarget]) -> Vec<FailoverEvent> {
        let mut events = Vec::new();
        for n in nodes {
            let k = key(&n.name);
            let down = round.node_down(&n.name);
            let (grow, reset) = if down {
                (&mut self.down, &mut self.up)
            } else {
                self.reported.remove(&k);
                (&mut self.up, &mut self.down)
            };
            reset.remove(&k);
            *grow.entry(k).or_insert(0) += 1;
            let rounds = self.down_rounds(&n.name);
            if down && rounds < self.policy.after {
                events.push(FailoverEvent::Counting {
                    node: n.name.clone(),
                    rounds,
                    after: self.policy.after,
                });
            }
        }
        events
    }

    /// The change was made: remember it.
    pub fn carried_out(&mut self, decision: &Decision) {
        match decision {
            Decision::Fail(m) => self.active = Some(m.clone()),
            Decision::Restore(_) => self.active = None,
        }
    }
}

/// Write the balancer's files for `decision` (a journaled run) and reload or
/// say how.
pub fn carry_out(
    plan: &Plan,
    profile: &Profile,
    decision: &Decision,
    events: &dyn EventSink,
) -> Result<(Vec<PathBuf>, Reload), Problem> {
    let mut engine = Engine::open(plan.clone(), profile.clone())?;
    let (failover, command) = match decision {
        Decision::Fail(m) => (Some(m), format!("failover watch: {} -> {}", m.from, m.to)),
        Decision::Restore(m) => (None, format!("failover watch: {} is back", m.from)),
    };
    let (_, files) = engine.balancer_run(failover, &command, events)?;
    // Nothing written (the files already were so): nothing to reload.
    if files.is_empty() {
        return Ok((files, Reload::Print(String::new())));
    }
    Ok((files, reload(plan)))
}

/// The plan's reload command, run with a deadline; or the one to run.
fn reload(plan: &Plan) -> Reload {
    let args = &plan.load_balancer.failover.reload;
    let Some((program, rest)) = args.split_first() else {
        let hint = plan
            .load_balancer
            .kind
            .map(|k| k.reload_hint())
            .unwrap_or("reload the balancer");
        return Reload::Print(hint.to_string());
    };
    let command = args.join(" ");
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            return Reload::Ran {
                command,
                ok: false,
                output: format!("could not make a folder for its output: {e}"),
            }
        }
    };
    let rest: Vec<std::ffi::OsString> = rest.iter().map(Into::into).collect();
    match crate::lb::check::run_bounded(
        std::path::Path::new(program),
        &rest,
        dir.path(),
        Duration::from_secs(30),
    ) {
        Ok((ok, output)) => Reload::Ran {
            command,
            ok,
            output: output.chars().take(2000).collect(),
        },
        Err(why) => Reload::Ran {
            command,
            ok: false,
            output: why,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::{Check, State};

    fn nodes() -> Vec<NodeTarget> {
        ["MX1", "SIM2", "SIM3"]
            .iter()
            .enumerate()
            .map(|(i, n)| NodeTarget {
                name: n.to_string(),
                address: format!("127.0.0.{}", i + 1),
                primary: i == 0,
            })
            .collect()
    }

    /// A round where the nodes in `down` answer nothing.
    fn round(down: &[&str]) -> Round {
        let checks = nodes()
            .iter()
            .flat_map(|n| {
                let state = if down.contains(&n.name.as_str()) {
                    State::Critical
                } else {
                    State::Ok
                };
                ["smtp", "http"].map(|s| {
                    let mut c = Check::new(Some(&n.name), s, &n.address, state);
                    c.answered = Some(state != State::Critical);
                    c
                })
            })
            .collect();
        Round {
            checks,
            state: State::Ok,
            elapsed_ms: 1.0,
        }
    }

    fn policy(after: u32, restore_after: u32) -> FailoverPolicy {
        FailoverPolicy {
            after,
            restore_after,
            reload: Vec::new(),
        }
    }

    #[test]
    fn a_node_fails_after_n_rounds_in_a_row_and_comes_back_after_m() {
        let mut w = Watcher::new(policy(3, 2), None);
        let n = nodes();
        // Two bad rounds, one good: the count starts again.
        for _ in 0..2 {
            assert_eq!(w.decide(&round(&["SIM2"]), &n).0, None);
        }
        assert_eq!(w.decide(&round(&[]), &n).0, None);
        for _ in 0..2 {
            assert_eq!(w.decide(&round(&["SIM2"]), &n).0, None);
        }
        let (d, _) = w.decide(&round(&["SIM2"]), &n);
        let mv = Move {
            from: "SIM2".into(),
            to: "MX1".into(),
        };
        assert_eq!(d, Some(Decision::Fail(mv.clone())));
        w.carried_out(&Decision::Fail(mv.clone()));
        assert_eq!(w.decide(&round(&["SIM2"]), &n).0, None);
        assert_eq!(w.decide(&round(&[]), &n).0, None);
        assert_eq!(
            w.decide(&round(&[]), &n).0,
            Some(Decision::Restore(mv.clone()))
        );
        w.carried_out(&Decision::Restore(mv));
        assert_eq!(w.active(), None);
    }

    #[test]
    fn a_failed_primary_goes_to_the_first_secondary_up_and_a_second_failure_is_reported() {
        let mut w = Watcher::new(policy(1, 1), None);
        let n = nodes();
        let (d, _) = w.decide(&round(&["MX1", "SIM2"]), &n);
        let mv = Move {
            from: "MX1".into(),
            to: "SIM3".into(),
        };
        assert_eq!(d, Some(Decision::Fail(mv.clone())));
        w.carried_out(&Decision::Fail(mv));
        let (d, events) = w.decide(&round(&["MX1", "SIM3"]), &n);
        assert_eq!(d, None);
        assert!(events
            .iter()
            .any(|e| matches!(e, FailoverEvent::Also { node, .. } if node == "SIM3")));
        // Reported once, not every round.
        let (_, events) = w.decide(&round(&["MX1", "SIM3"]), &n);
        assert!(!events
            .iter()
            .any(|e| matches!(e, FailoverEvent::Also { .. })));
        // Everything down: nowhere to move to, said once.
        let mut w = Watcher::new(policy(1, 1), None);
        let (d, events) = w.decide(&round(&["MX1", "SIM2", "SIM3"]), &n);
        assert_eq!(d, None);
        assert!(matches!(&events[..], [.., FailoverEvent::Nowhere { node }] if node == "MX1"));
        let (_, events) = w.decide(&round(&["MX1", "SIM2", "SIM3"]), &n);
        assert!(!events
            .iter()
            .any(|e| matches!(e, FailoverEvent::Nowhere { .. })));
    }

    #[test]
    fn a_slow_node_is_not_a_failed_one() {
        let mut w = Watcher::new(policy(1, 1), None);
        let mut slow = round(&["SIM2"]);
        for c in slow.checks.iter_mut() {
            c.answered = Some(true); // CRITICAL for its latency, but it answered
        }
        assert!(!slow.node_down("SIM2"));
        assert_eq!(w.decide(&slow, &nodes()).0, None);
    }

    #[test]
    fn two_nodes_failing_together_and_names_in_another_case() {
        let mut w = Watcher::new(policy(2, 1), None);
        let n = nodes();
        assert_eq!(w.decide(&round(&["SIM2", "SIM3"]), &n).0, None);
        let (d, _) = w.decide(&round(&["SIM2", "SIM3"]), &n);
        let mv = Move {
            from: "SIM2".into(),
            to: "MX1".into(),
        };
        assert_eq!(d, Some(Decision::Fail(mv)));
        // The files name the node as the plan spells it: "sim2".
        w.files_are(&InForce::Failover(Move {
            from: "sim2".into(),
            to: "MX1".into(),
        }));
        let (_, events) = w.decide(&round(&["SIM2", "SIM3"]), &n);
        // SIM3, down as long as SIM2, is reported; SIM2 is not "also".
        let also: Vec<&String> = events
            .iter()
            .filter_map(|e| match e {
                FailoverEvent::Also { node, .. } => Some(node),
                _ => None,
            })
            .collect();
        assert_eq!(also, ["SIM3"]);
        // Files the watch does not recognise leave what it knows alone.
        w.files_are(&InForce::Unrecognised);
        let (d, _) = w.decide(&round(&["SIM3"]), &n);
        assert!(matches!(d, Some(Decision::Restore(m)) if m.from == "sim2"));
    }
}
