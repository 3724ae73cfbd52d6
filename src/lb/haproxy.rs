//! HAProxy: one `haproxy.cfg`, one `listen` section per service.

use super::model::{greeting, idle_minutes, Entry, Model, Route};
use super::template::{Blocks, Vars};
use super::{why, GeneratedFile};
use crate::problem::Problem;
use std::sync::OnceLock;

pub(crate) const FILE: &str = "haproxy.cfg";

fn blocks() -> &'static Blocks {
    static B: OnceLock<Blocks> = OnceLock::new();
    B.get_or_init(|| {
        Blocks::parse(
            "assets/lb/haproxy.cfg.tmpl",
            include_str!("../../assets/lb/haproxy.cfg.tmpl"),
        )
    })
}

pub(crate) fn render(model: &Model) -> Result<Vec<GeneratedFile>, Problem> {
    let t = blocks();
    let mut out = t.render("head", &model.common_vars())?;
    for entry in &model.entries {
        out.push('\n');
        out.push_str(&section(t, model, entry)?);
    }
    Ok(vec![GeneratedFile {
        path: FILE.into(),
        contents: out,
        about: "the whole HAProxy configuration, for /etc/haproxy/haproxy.cfg".into(),
    }])
}

fn section(t: &Blocks, model: &Model, entry: &Entry) -> Result<String, Problem> {
    let s = entry.service;
    let vars = model
        .common_vars()
        .set("why", why(model, entry, false)?)
        .set("name", format!("mdcluster_{}", s.key()))
        .set("bind", model.bind(entry.port))
        .set("timeout", format!("{}m", idle_minutes(s)));
    let disabled = |down: bool| if down { " disabled" } else { "" };
    match &entry.route {
        Route::Single { member, .. } => {
            let vars = vars
                .set("node", member.name.clone())
                .set("endpoint", member.endpoint());
            let block = if s == crate::plan::Service::Http {
                "http-primary"
            } else {
                "tcp-single"
            };
            t.render(block, &vars)
        }
        Route::Sticky { members } => {
            let mut servers = String::new();
            for m in members {
                servers.push_str(
                    &t.render(
                        "server-sticky",
                        &Vars::new()
                            .set("node", m.name.clone())
                            .set("endpoint", m.endpoint())
                            .set("disabled", disabled(m.down)),
                    )?,
                );
            }
            let failover = match &model.failover {
                Some(mv) => t.render(
                    "http-failover",
                    &model
                        .common_vars()
                        .set("from", mv.from.clone())
                        .set("to", mv.to.clone()),
                )?,
                None => String::new(),
            };
            t.render(
                "http-balanced",
                &vars.set("servers", servers).set("failover", failover),
            )
        }
        Route::LeastConn { members } => {
            let g = greeting(s);
            let mut check = String::new();
            if g.as_ref().is_some_and(|g| g.tls) {
                check.push_str(&t.render("check-tls", &Vars::new())?);
            }
            if let Some(g) = &g {
                check.push_str(&t.render(&format!("check-{}", g.protocol), &Vars::new())?);
            }
            let verify = if g.as_ref().is_some_and(|g| g.tls) {
                " verify none"
            } else {
                ""
            };
            let mut servers = String::new();
            for m in members {
                servers.push_str(
                    &t.render(
                        "server-mail",
                        &Vars::new()
                            .set("node", m.name.clone())
                            .set("endpoint", m.endpoint())
                            .set("verify", verify)
                            .set("disabled", disabled(m.down)),
                    )?,
                );
            }
            t.render(
                "tcp-mail",
                &vars.set("check", check).set("servers", servers),
            )
        }
    }
}
