//! Steps 6-9: the secondaries. Each planned secondary that is not registered
//! yet must announce itself (`mdcluster join`), be trusted, and meet the
//! cluster rules; then step 9 gives it a server ID in the cluster manifest and
//! says exactly what to enter in MDaemon's Cluster Service dialog.
//!
//! A secondary that has not announced itself makes these steps wait (nothing
//! fails); one that announces but breaks a rule is a failed check (unless the
//! rule is ignored by name).

use super::{Action, Check, Context, StepId, StepPlan, StepStatus};
use crate::cluster::manifest::Manifest;
use crate::cluster::rules::{Level, RuleId, Verdict};
use crate::discovery::survey::{NodeReport, UNSIGNED_ADDRESS};
use crate::plan::ServerId;
use crate::plan::{Node, Role};
use crate::problem::Problem;

/// Whether `step` judges `rule`: steps 6 and 7 their own rules, step 8
/// every other rule of the Cluster Service, step 9 none.
fn judges(step: StepId, rule: RuleId) -> bool {
    match step {
        StepId::Certificates => rule == RuleId::Certificates,
        StepId::Secondaries => matches!(rule, RuleId::Version | RuleId::Licence),
        StepId::ServerIds => false,
        _ => {
            crate::cluster::rules::RULES.contains(&rule)
                && !matches!(
                    rule,
                    RuleId::Certificates | RuleId::Version | RuleId::Licence
                )
        }
    }
}

/// The plan's secondaries not in the manifest yet: they must be found,
/// trusted and meet the rules before step 9 gives them a server ID. (One in
/// the manifest was checked when it was added; it only awaits registration.)
fn pending<'a>(ctx: &'a Context) -> Vec<&'a Node> {
    ctx.plan
        .nodes
        .iter()
        .filter(|n| n.role == Role::Secondary)
        .filter(|n| {
            ctx.cluster
                .manifest
                .as_ref()
                .and_then(|m| m.member(&n.name))
                .is_none()
        })
        .collect()
}

fn report<'a>(ctx: &'a Context, name: &str) -> Option<&'a NodeReport> {
    ctx.cluster
        .reports
        .as_ref()?
        .iter()
        .find(|r| r.name.eq_ignore_ascii_case(name))
}

fn verdict_check(node: &str, v: &Verdict) -> Check {
    let name = format!("{node}: {}", v.rule);
    match v.level {
        Level::Pass => Check::pass(&name, v.detail.clone()),
        Level::Warn => Check::pass(&name, format!("warning: {}", v.detail)),
        Level::Ignored => Check::pass(
            &name,
            format!("ignored as asked (--ignore {}): {}", v.rule, v.detail),
        ),
        Level::Fail | Level::Unknown => Check::fail(
            &name,
            v.detail.clone(),
            format!(
                "fix it on {node} and rerun, or go on regardless with --ignore {}",
                v.rule
            ),
        ),
    }
}

pub(super) fn prepare(ctx: &Context, step: StepId) -> Result<StepPlan, Problem> {
    let mut sp = StepPlan::new(step, StepStatus::NothingToDo);
    let secondaries: Vec<&Node> = ctx
        .plan
        .nodes
        .iter()
        .filter(|n| n.role == Role::Secondary)
        .collect();
    if secondaries.is_empty() {
        sp.state = StepStatus::Waiting;
        sp.notes.push("no secondary in the plan yet: add them in the wizard, or as [[nodes]] with role = \"secondary\"".into());
        return Ok(sp);
    }
    let todo = pending(ctx);
    for n in &secondaries {
        let status = match ctx
            .cluster
            .manifest
            .as_ref()
            .and_then(|m| m.member(&n.name))
        {
            Some(m) if m.registered.is_some() => format!("server ID {}, registered", m.server_id),
            Some(m) => format!("server ID {}, registration not confirmed", m.server_id),
            None => "new".into(),
        };
        sp.fact(&n.name, format!("{} ({status})", n.address));
    }
    if todo.is_empty() {
        sp.notes
            .push("every secondary in the plan is in the cluster manifest".into());
        if step == StepId::ServerIds {
            return server_ids(ctx, sp, &todo);
        }
        return Ok(sp);
    }
    if ctx.cluster.reports.is_none() && step != StepId::ServerIds {
        sp.state = StepStatus::Waiting;
        sp.notes.push("discovery did not run: the secondaries are found when apply listens for them (--discovery-timeout)".into());
        return Ok(sp);
    }
    let mut waiting = Vec::new();
    for node in &todo {
        match report(ctx, &node.name) {
            None => waiting.push(format!(
                "{} has not announced itself: run `{}` on it (it asks for the join code, which `mdcluster code --show` prints here)",
                node.name,
                crate::cluster::pairing::join_command(Some(&ctx.plan.shared.path.to_string()), "")
            )),
            Some(r) if !r.trusted => {
                let why = r.untrusted.clone().unwrap_or_default();
                if step == StepId::Secondaries {
                    sp.checks.push(Check::fail(
                        &format!("{}: trusted", node.name),
                        format!("it answers but cannot be trusted: {why}"),
                        "start `mdcluster join` there again with this primary's join code (`mdcluster code --show` prints it)",
                    ));
                } else {
                    waiting.push(format!("{} is not trusted yet", node.name));
                }
            }
            Some(r) => {
                if step == StepId::Secondaries {
                    sp.checks.push(Check::pass(
                        &format!("{}: trusted", node.name),
                        "its announcement is signed with the join code",
                    ));
                }
                if step == StepId::Discover {
                    address_check(&mut sp, node, r);
                }
                for v in r.rules.iter().filter(|v| judges(step, v.rule)) {
                    sp.checks.push(verdict_check(&node.name, v));
                }
            }
        }
    }
    if !waiting.is_empty() {
        sp.state = StepStatus::Waiting;
        sp.notes.extend(waiting);
        if step != StepId::ServerIds
            || todo
                .iter()
                .all(|n| report(ctx, &n.name).is_none_or(|r| !r.trusted))
        {
            return Ok(sp);
        }
    }
    if step != StepId::ServerIds {
        // Checked on every run: these steps have nothing to change.
        if sp.state == StepStatus::NothingToDo && !sp.checks.is_empty() {
            sp.state = StepStatus::Ready;
        }
        return Ok(sp);
    }
    server_ids(ctx, sp, &todo)
}

/// The plan's address must be one the node announces in its signed
/// announcement (when it is an IP); one that only an unsigned mDNS record
/// gives for its host name is refused as such.
fn address_check(sp: &mut StepPlan, node: &Node, r: &NodeReport) {
    let Ok(ip) = node.address.parse::<std::net::IpAddr>() else {
        return;
    };
    let check = format!("{}: address", node.name);
    let signed = if r.addresses.is_empty() {
        "no address".to_string()
    } else {
        r.addresses
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    if r.addresses.contains(&ip) {
        sp.checks
            .push(Check::pass(&check, format!("announces {ip}")));
    } else if r.unsigned_addresses.contains(&ip) {
        sp.checks.push(Check::fail(
            &check,
            format!(
                "the plan says {} is {ip}, which is {UNSIGNED_ADDRESS}; it signs {signed}",
                node.name
            ),
            format!(
                "put the address {} signs in the plan ({signed}), and find out what on the LAN answers for it with {ip}",
                node.name
            ),
        ));
    } else {
        sp.checks.push(Check::fail(
            &check,
            format!("the plan says {} is {ip}; it announces {signed}", node.name),
            "correct the address in the plan (or the node's network settings)",
        ));
    }
}

/// Step 9: server IDs in the manifest, and what to enter in MDaemon.
fn server_ids(ctx: &Context, mut sp: StepPlan, todo: &[&Node]) -> Result<StepPlan, Problem> {
    let share = ctx.resolver.locate(&ctx.plan.shared.path)?;
    let current = ctx.cluster.manifest.clone().unwrap_or_default();
    let mut next = current.with_plan(ctx.plan, ctx.now)?;
    let mut added = Vec::new();
    for m in next.nodes.iter_mut() {
        if current.member(&m.name).is_none() {
            added.push(m.name.clone());
            m.licence = report(ctx, &m.name)
                .and_then(|r| r.facts.as_ref())
                .and_then(|f| f.licence.clone());
        }
    }
    // Who is ready: found, trusted, no blocking rule.
    let ready = |name: &str| report(ctx, name).is_some_and(NodeReport::addable);
    let blocked: Vec<&str> = todo
        .iter()
        .filter(|n| !ready(&n.name))
        .map(|n| n.name.as_str())
        .collect();
    if !blocked.is_empty() {
        sp.state = StepStatus::Waiting;
        sp.notes.push(format!(
            "waiting for {} to be found and to meet the rules",
            blocked.join(", ")
        ));
        return Ok(sp);
    }
    let registering: Vec<(String, ServerId)> = next
        .awaiting_registration()
        .map(|m| (m.name.clone(), m.server_id))
        .collect();
    let ini_edit = registration(ctx, &mut sp, &mut next, &registering);
    for (name, id) in &registering {
        sp.fact(&format!("{name} server ID"), id.to_string());
    }
    let after = manifest_text(&next)?;
    let actions = if ctx.cluster.manifest_text.as_deref().map(str::trim) == Some(after.trim())
        || added.is_empty() && current == next
    {
        Vec::new()
    } else {
        ini_edit
            .into_iter()
            .chain([Action::UpdateManifest {
                share: share.clone(),
                before: ctx.cluster.manifest_text.clone(),
                after,
                added,
            }])
            .collect()
    };
    if !actions.is_empty() {
        manifest_checks(ctx, &mut sp, &share);
    }
    let unregistered = next.awaiting_registration().next().is_some();
    let mut sp = sp.with_actions(actions);
    if sp.state == StepStatus::NothingToDo && unregistered {
        sp.state = StepStatus::Waiting;
    }
    Ok(sp)
}

/// Registration of the nodes awaiting it: by an edit of MDaemon.ini where
/// the profile locates MDaemon's list (then recorded as registered now), else
/// what the administrator enters in MDaemon, as notes.
fn registration(
    ctx: &Context,
    sp: &mut StepPlan,
    next: &mut crate::cluster::manifest::Manifest,
    registering: &[(String, ServerId)],
) -> Option<Action> {
    let mut ini_edit = None;
    match registration_edits(ctx, registering) {
        // MDaemon's list located: written with the manifest, registered now.
        Some(edits) => {
            let now = ctx.now.to_string();
            for m in next.nodes.iter_mut() {
                if registering.iter().any(|(n, _)| *n == m.name) {
                    m.registered = Some(now.clone());
                }
            }
            for e in &edits {
                sp.next.push(format!(
                    "registers {} in MDaemon.ini: [{}] {}={} (restart MDaemon afterwards)",
                    e.new, e.section, e.key, e.new
                ));
            }
            if !edits.is_empty() {
                let install = ctx.install;
                match crate::ini::apply_edits(&install.ini_bytes, &edits) {
                    Ok(bytes) => {
                        ini_edit = Some(Action::EditIni {
                            file: install.ini.clone(),
                            before: install.ini_hash(),
                            after: crate::install::content_hash(&bytes),
                            edits,
                        })
                    }
                    Err(e) => sp.checks.push(Check::fail(
                        "registration",
                        format!("a node's name cannot be written in MDaemon.ini: {e}"),
                        "register the node in MDaemon by hand and confirm with `mdcluster register`",
                    )),
                }
            }
        }
        None => {
            for (name, id) in registering {
                let address = next
                    .member(name)
                    .map(|m| m.address.clone())
                    .unwrap_or_default();
                sp.next
                    .push(registration_text(ctx, name.as_str(), *id, &address));
            }
        }
    }
    ini_edit
}

/// Refused before any change when another run holds the manifest, or when
/// it holds what this mdcluster does not know (a newer one wrote it).
fn manifest_checks(ctx: &Context, sp: &mut StepPlan, share: &crate::location::Loc) {
    if let Some(current) = &ctx.cluster.manifest_text {
        let path =
            crate::cluster::manifest::dir_of(&share.local).join(crate::cluster::manifest::FILE);
        if let Err(p) = crate::cluster::manifest::check_replaceable(current, &path) {
            sp.checks.push(Check::fail(
                "cluster manifest format",
                p.what.clone(),
                p.fix.clone().unwrap_or_default(),
            ));
        }
    }
    if let Some(holder) = crate::cluster::manifest::ManifestLock::held_elsewhere(&share.local) {
        sp.checks.push(Check::fail(
            "cluster manifest lock",
            format!("another mdcluster is working on this cluster: {holder}"),
            "let it finish first (two runs must not assign server IDs at once); if its machine is gone, rerun once the lease is stale, or take the lock over with `mdcluster unlock --plan FILE` when you are sure no mdcluster runs there",
        ));
    }
}

/// The one seam for registering nodes with MDaemon itself. Where MDaemon
/// keeps its list of registered cluster servers is not known (facts file), so
/// the profile's `[cluster] registered_servers` is empty and this gives None:
/// the administrator enters each node in MDaemon's dialog and confirms it.
/// A profile that locates the list as `[section, key prefix]` makes step 9
/// write `<prefix><server ID>=<name>` there instead (through the lossless INI
/// editor, journaled, undone like every edit), and the node counts as
/// registered.
pub(crate) fn registration_edits(
    ctx: &Context,
    nodes: &[(String, ServerId)],
) -> Option<Vec<crate::steps::IniEdit>> {
    let [section, prefix] = ctx.profile.cluster.registered_servers.value.as_slice() else {
        return None;
    };
    let doc = &ctx.install.ini_doc;
    Some(
        nodes
            .iter()
            .filter_map(|(name, id)| {
                let key = format!("{prefix}{id}");
                let old = doc.get_str(section, &key);
                (old.as_deref().map(str::trim) != Some(name.as_str())).then(|| {
                    crate::steps::IniEdit {
                        section: section.clone(),
                        key,
                        old,
                        new: name.clone(),
                    }
                })
            })
            .collect(),
    )
}

/// Exactly what the administrator enters in MDaemon, and how to confirm it.
pub(crate) fn registration_text(ctx: &Context, name: &str, id: ServerId, address: &str) -> String {
    format!(
        "register {name} in MDaemon on the primary: {}; server name {name} (or {address}), server ID {id}, OK. \
         Then confirm: mdcluster register --plan {} --node {name}",
        *ctx.profile.cluster.dialog,
        ctx.plan.file.display()
    )
}

/// Whether `note` is the [`registration_text`] of node `name` (so that it
/// can be left out once the node is registered).
pub(crate) fn is_registration_of(note: &str, name: &str) -> bool {
    note.strip_prefix("register ")
        .and_then(|rest| rest.strip_prefix(name))
        .is_some_and(|rest| rest.starts_with(" in MDaemon"))
}

pub(crate) fn manifest_text(m: &Manifest) -> Result<String, Problem> {
    let mut text = String::from(
        "# mdcluster cluster manifest: nodes and server IDs. Written by mdcluster; keep it.\n",
    );
    text.push_str(
        &toml::to_string(m)
            .map_err(|e| Problem::other(format!("could not write the manifest: {e}")))?,
    );
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registration_note_names_its_node_exactly() {
        let note = "register MAIL20 in MDaemon on the primary: …";
        assert!(is_registration_of(note, "MAIL20"));
        assert!(!is_registration_of(note, "MAIL2"));
        assert!(!is_registration_of("restart MDaemon afterwards", "MAIL2"));
    }
    use crate::discovery::survey::Source;

    fn checks(address: &str) -> Vec<Check> {
        let node = Node {
            name: "MAIL2".into(),
            address: address.into(),
            role: Role::Secondary,
            server_id: None,
            replaces: None,
        };
        let report = NodeReport {
            name: "MAIL2".into(),
            addresses: vec!["10.0.0.12".parse().unwrap()],
            unsigned_addresses: vec!["10.0.0.9".parse().unwrap()],
            source: Source::Mdns,
            trusted: true,
            untrusted: None,
            facts: None,
            rules: Vec::new(),
        };
        let mut sp = StepPlan::new(StepId::Discover, StepStatus::NothingToDo);
        address_check(&mut sp, &node, &report);
        sp.checks
    }

    #[test]
    fn a_plan_address_only_an_unsigned_record_gives_is_refused_naming_it() {
        let c = checks("10.0.0.12");
        assert!(c.len() == 1 && c[0].ok, "{c:?}");

        let c = checks("10.0.0.9");
        assert_eq!(c.len(), 1);
        assert!(!c[0].ok);
        assert_eq!(c[0].name, "MAIL2: address");
        assert!(
            c[0].detail.contains("MAIL2 is 10.0.0.9")
                && c[0].detail.contains("unsigned")
                && c[0].detail.contains("it signs 10.0.0.12"),
            "{c:?}"
        );
        let fix = c[0].fix.clone().unwrap_or_default();
        assert!(
            fix.contains("(10.0.0.12)") && fix.contains("10.0.0.9"),
            "{fix}"
        );

        let c = checks("10.0.0.50");
        assert!(
            !c[0].ok && c[0].detail.contains("it announces 10.0.0.12"),
            "{c:?}"
        );
        // A host name is not compared here.
        assert!(checks("mail2.example.com").is_empty());
    }
}
