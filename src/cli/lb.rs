//! `mdcluster lb` and `mdcluster lb failover`: write the balancer's files after
//! its own check passed. Nothing here starts or reloads a balancer.

use super::{LbFailoverArgs, LbGenerateArgs};
use crate::lb::{self, Generated, GeneratedFile, Kind, Overwrite, Verdict};
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
    let mut done: Vec<(Generated, Verdict, PathBuf)> = Vec::new();
    for k in &kinds {
        let generated = lb::generate(&plan, profile, *k)?;
        let verdict = lb::validate(*k, &generated.files);
        refuse_failed(*k, &verdict)?;
        done.push((generated, verdict, out_dir(a.out.as_deref(), *k, several)));
    }
    let overwrite = if a.force {
        Overwrite::Always
    } else {
        Overwrite::Never
    };
    for (g, _, dir) in &done {
        lb::check_targets(dir, &g.files.iter().collect::<Vec<_>>(), overwrite)?;
    }
    for (g, verdict, dir) in &done {
        let written = lb::write_files(dir, &g.files.iter().collect::<Vec<_>>(), overwrite)?;
        report(&plan, g, verdict, &written, a.json, None);
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
        let verdict = lb::validate(*k, &moved.config.files);
        refuse_failed(*k, &verdict)?;
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
        done.push((moved, verdict, dir, files));
    }
    for (moved, verdict, dir, files) in &done {
        let written = lb::write_files(dir, &files.iter().collect::<Vec<_>>(), overwrite)?;
        report(
            &plan,
            &moved.config,
            verdict,
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

/// A configuration the balancer itself refuses is never offered (exit 5).
fn refuse_failed(kind: Kind, verdict: &Verdict) -> Result<(), Problem> {
    let Verdict::Failed { command, output } = verdict else {
        return Ok(());
    };
    let shown: Vec<String> = output.lines().map(|l| format!("    {l}")).collect();
    Err(Problem::new(
        Exit::Verification,
        format!(
            "{}'s own check refused the generated configuration, so nothing was written.\n  `{command}` said:\n{}",
            kind.title(),
            shown.join("\n")
        ),
    )
    .fix("the check's words above name the line; often it is a node address the balancer cannot resolve (give IP addresses in the plan's [[nodes]]) or a module it lacks. Correct that and run `mdcluster lb` again"))
}

fn report(
    plan: &Plan,
    g: &Generated,
    verdict: &Verdict,
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
            check: verdict,
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
    say!("  check  {}", verdict.summary());
    for l in verdict.output().lines() {
        say!("         | {l}");
    }
    for n in &g.notes {
        say!("  note   {n}");
    }
    say!("  apply  {}", g.kind.reload_hint());
}
