//! Apache httpd: `mdcluster/balancer.conf` and its failover include
//! `mdcluster/failover.inc`, both relative to the server root, so the site file
//! names the include the same way on every distribution.
//!
//! Apache proxies HTTP only: it carries Webmail and Remote Administration,
//! and says in the file which TCP services need another balancer.

use super::model::{Entry, Model, Move, Route};
use super::template::{Blocks, Vars};
use super::{why, GeneratedFile};
use crate::plan::{HttpMode, Service};
use crate::problem::Problem;
use std::sync::OnceLock;

pub(crate) const SITE_FILE: &str = "mdcluster/balancer.conf";
pub(crate) const FAILOVER_FILE: &str = "mdcluster/failover.inc";

fn blocks() -> &'static Blocks {
    static B: OnceLock<Blocks> = OnceLock::new();
    B.get_or_init(|| {
        Blocks::parse(
            "assets/lb/apache.tmpl",
            include_str!("../../assets/lb/apache.tmpl"),
        )
    })
}

/// What Apache carries: the rest is TCP.
pub(crate) fn carries(s: Service) -> bool {
    matches!(s, Service::Http | Service::RemoteAdmin)
}

/// `base` is the configuration without a failover: the site file never changes
/// with a failover, only the include does (as in the article's second listing).
pub(crate) fn render(base: &Model, failover: Option<&Move>) -> Result<Vec<GeneratedFile>, Problem> {
    let t = blocks();
    let carried: Vec<&Entry> = base.entries.iter().filter(|e| carries(e.service)).collect();
    let mut left_out = String::new();
    for e in base.entries.iter().filter(|e| !carries(e.service)) {
        left_out.push_str(
            &t.render(
                "tcp-service",
                &Vars::new()
                    .set("title", e.service.title())
                    .set("port", e.port.to_string()),
            )?,
        );
    }
    let tcp = if left_out.is_empty() {
        String::new()
    } else {
        t.render("tcp-services", &Vars::new().set("services", left_out))?
    };
    let mut listen = String::new();
    for e in &carried {
        listen.push_str(&t.render("listen", &Vars::new().set("bind", base.bind(e.port)))?);
    }
    let mut site = t.render(
        "head",
        &base
            .common_vars()
            .set("tcp_services", tcp)
            .set("listen", listen),
    )?;
    for e in &carried {
        site.push('\n');
        site.push_str(&vhost(t, base, e)?);
    }
    Ok(vec![
        GeneratedFile {
            path: SITE_FILE.into(),
            contents: site,
            about: "Webmail and Remote Administration, to include from the main configuration"
                .into(),
        },
        GeneratedFile {
            path: FAILOVER_FILE.into(),
            contents: failover_include(t, base, failover)?,
            about: "the failover include, rewritten by `mdcluster lb failover`".into(),
        },
    ])
}

fn vhost(t: &Blocks, model: &Model, entry: &Entry) -> Result<String, Problem> {
    let s = entry.service;
    let vhost = if model.listen.is_unspecified() {
        format!("*:{}", entry.port)
    } else {
        model.bind(entry.port)
    };
    let vars = model
        .common_vars()
        .set("why", why(model, entry, false)?)
        .set("key", s.key())
        .set("vhost", vhost)
        .set(
            "timeout_seconds",
            (super::model::idle_minutes(s) * 60).to_string(),
        );
    match &entry.route {
        Route::Single { member, .. } => {
            let failover = if s == Service::Http {
                t.render("failover-include", &Vars::new())?
            } else {
                String::new()
            };
            t.render(
                "http-single",
                &vars
                    .set("endpoint", member.endpoint())
                    .set("failover", failover),
            )
        }
        Route::Sticky { members } => {
            let mut lines = String::new();
            for m in members {
                lines.push_str(
                    &t.render(
                        "member",
                        &Vars::new()
                            .set("endpoint", m.endpoint())
                            .set("node", m.name.clone()),
                    )?,
                );
            }
            t.render("http-balanced", &vars.set("members", lines))
        }
        Route::LeastConn { .. } => Err(Problem::other(format!(
            "Apache cannot carry {} (a defect: only HTTP services reach here)",
            s.title()
        ))),
    }
}

fn failover_include(t: &Blocks, base: &Model, failover: Option<&Move>) -> Result<String, Problem> {
    let Some(mv) = failover else {
        return t.render("failover-none", &base.common_vars());
    };
    let vars = base
        .common_vars()
        .set("from", mv.from.clone())
        .set("to", mv.to.clone());
    let http = base.entries.iter().find(|e| e.service == Service::Http);
    match (base.mode, http) {
        (HttpMode::Balanced, Some(_)) => t.render("failover-sticky", &vars),
        (HttpMode::Primary, Some(_)) if mv.from == base.primary => {
            let endpoint = base.endpoint_of(&mv.to, Service::Http).ok_or_else(|| {
                Problem::other(format!("node {} is not in the plan (a defect)", mv.to))
            })?;
            t.render("failover-single", &vars.set("endpoint", endpoint))
        }
        _ => t.render("failover-nothing", &vars),
    }
}
