//! `mdcluster lb` and `mdcluster lb failover`: write the balancer's files after
//! its own check passed. Nothing here starts or reloads a balancer.

use super::{LbFailoverArgs, LbGenerateArgs};
use crate::lb::{self, Generated, GeneratedFile, HostVerdict, Kind, Overwrite, Verdict};
use crate::output::json::{JsonEvent, LbReport, WrittenFile};
use crate::output::{json_line, say};
use crate::plan::Plan;
use crate::problem::{Exit, Problem};
use crate::profile::Profile;
use crate::text::sanitize;
use std::path::{Path, PathBuf};

/// Where a kind's files go: `-o DIR` for one kind, `DIR/<kind>` for all.
fn out_dir(out: Option<&Path>, kind: Kind, several: bool) -> PathBuf {
    match out {
        Some(dir) if several => dir.join(kind.key()),
        Some(dir) => dir.to_path_buf(),
        None => Path::new("mdcluster-lb").join(kind.key()),
    }
}

pub fn generate(profile: &Profile, a: &LbGenerateArgs) -> Result<Exit, Problem> {
    let (Some(plan_file), Some(kind)) = (&a.plan, a.kind) else {
        return Err(Problem::usage("mdcluster lb needs --plan FILE and --kind")
            .fix("e.g. mdcluster lb --plan plan.toml --kind haproxy"));
    };
    let plan = Plan::load(plan_file, profile)?;
    let kinds = kind.kinds();
    let several = kinds.len() > 1;
    // Everything is generated and checked before anything is written.
    let mut done: Vec<(Generated, Checks, PathBuf)> = Vec::new();
    for k in &kinds {
        let generated = lb::generate(&plan, profile, *k)?;
        let checks = check(&generated)?;
        done.push((generated, checks, out_dir(a.out.as_deref(), *k, several)));
    }
    let overwrite = if a.force {
        Overwrite::Always
    } else {
        Overwrite::Never
    };
    for (g, _, dir) in &done {
        lb::check_targets(dir, &g.files.iter().collect::<Vec<_>>(), overwrite)?;
    }
    for (g, checks, dir) in &done {
        let written = lb::write_files(dir, &g.files.iter().collect::<Vec<_>>(), overwrite)?;
        report(&plan, g, checks, &written, a.json, None);
    }
    if a.json {
        json_line(&JsonEvent::Finished { exit: 0 });
    } else {
        say!("Nothing was started or reloaded: copy the files into place and reload the balancer yourself.");
    }
    Ok(Exit::Success)
}

pub fn failover(profile: &Profile, a: &LbFailoverArgs) -> Result<Exit, Problem> {
    let plan = Plan::load(&a.plan, profile)?;
    let kinds = a.kind.kinds();
    let several = kinds.len() > 1;
    let overwrite = if a.force {
        Overwrite::Always
    } else {
        Overwrite::Generated
    };
    let mut done = Vec::new();
    for k in &kinds {
        let moved = lb::failover(&plan, profile, *k, &a.from, &a.to)?;
        let checks = check(&moved.config)?;
        let dir = out_dir(a.out.as_deref(), *k, several);
        // The changed files, and any file of the set that is not there yet.
        let files: Vec<GeneratedFile> = moved
            .config
            .files
            .iter()
            .filter(|f| {
                moved.changed.contains(&f.path) || !crate::fsops::exists(&dir.join(&f.path))
            })
            .cloned()
            .collect();
        lb::check_targets(&dir, &files.iter().collect::<Vec<_>>(), overwrite)?;
        done.push((moved, checks, dir, files));
    }
    for (moved, checks, dir, files) in &done {
        let written = lb::write_files(dir, &files.iter().collect::<Vec<_>>(), overwrite)?;
        report(
            &plan,
            &moved.config,
            checks,
            &written,
            a.json,
            Some(&moved.what),
        );
    }
    if a.json {
        json_line(&JsonEvent::Finished { exit: 0 });
    } else {
        say!(
            "Nothing was reloaded: reload the balancer yourself to move the sessions. Once {} is back, `mdcluster lb --force` writes the normal configuration again.",
            done.first().map(|d| d.0.what.from.as_str()).unwrap_or("the node")
        );
    }
    Ok(Exit::Success)
}

/// The balancer's own verdict and keepalived's for each HA host.
struct Checks {
    balancer: Verdict,
    keepalived: Vec<HostVerdict>,
}

/// Every check of `g`; a configuration the balancer or keepalived refuses is
/// never offered (exit 5).
fn check(g: &Generated) -> Result<Checks, Problem> {
    let balancer = lb::validate(g.kind, &g.files);
    refuse_failed(
        &format!("{}'s own check", g.kind.title()),
        &balancer,
        "the check's words above name the line; often it is a node address the balancer cannot resolve (give IP addresses in the plan's [[nodes]]) or a module it lacks. Correct that and run `mdcluster lb` again",
    )?;
    let keepalived = lb::validate_keepalived(&g.files);
    for k in &keepalived {
        refuse_failed(
            &format!("keepalived's check of {}", k.path.display()),
            &k.check,
            "the check's words above name the line of keepalived.conf; correct [load_balancer.ha] in the plan and run `mdcluster lb` again",
        )?;
    }
    Ok(Checks {
        balancer,
        keepalived,
    })
}

fn refuse_failed(what: &str, verdict: &Verdict, fix: &str) -> Result<(), Problem> {
    let Verdict::Failed { command, output } = verdict else {
        return Ok(());
    };
    let shown: Vec<String> = output.lines().map(|l| format!("    {l}")).collect();
    Err(Problem::new(
        Exit::Verification,
        format!(
            "{what} refused the generated configuration, so nothing was written.\n  `{command}` said:\n{}",
            shown.join("\n")
        ),
    )
    .fix(fix))
}

fn report(
    plan: &Plan,
    g: &Generated,
    checks: &Checks,
    written: &[PathBuf],
    json: bool,
    moved: Option<&lb::Move>,
) {
    if json {
        let files: Vec<_> = g
            .files
            .iter()
            .filter_map(|f| {
                written
                    .iter()
                    .find(|w| w.ends_with(&f.path))
                    .map(|w| WrittenFile {
                        path: w,
                        about: &f.about,
                    })
            })
            .collect();
        let report = LbReport {
            kind: g.kind,
            failover: moved,
            files,
            check: &checks.balancer,
            keepalived: &checks.keepalived,
            notes: &g.notes,
        };
        json_line(&if moved.is_some() {
            JsonEvent::LbFailover(report)
        } else {
            JsonEvent::LbConfig(report)
        });
        return;
    }
    let lbp = &plan.load_balancer;
    let primary = plan.primary().map(|p| p.name.as_str()).unwrap_or("?");
    match moved {
        Some(m) => say!(
            "{}: sessions of {} move to {}",
            g.kind.title(),
            m.from,
            m.to
        ),
        None => say!(
            "{} for {} nodes, primary {} (Webmail: {})",
            g.kind.title(),
            plan.nodes.len(),
            primary,
            match lbp.http_mode {
                crate::plan::HttpMode::Primary => "all to the primary",
                crate::plan::HttpMode::Balanced => "every node, sticky by cookie",
            }
        ),
    }
    for w in written {
        let about = g
            .files
            .iter()
            .find(|f| w.ends_with(&f.path))
            .map(|f| f.about.as_str())
            .unwrap_or("");
        say!("  wrote  {}: {about}", sanitize(&w.display().to_string()));
    }
    let verdict = &checks.balancer;
    say!("  check  {}", verdict.summary());
    for l in verdict.output().lines() {
        say!("         | {l}");
    }
    for k in &checks.keepalived {
        say!("  check  keepalived for {}: {}", k.host, k.check.summary());
        for l in k.check.output().lines() {
            say!("         | {l}");
        }
    }
    for n in &g.notes {
        say!("  note   {n}");
    }
    say!("  apply  {}", g.kind.reload_hint());
}
