//! nginx (open source): Webmail in the http context, every TCP service in
//! the stream context, as two files to include.

use super::model::{idle_minutes, Entry, Member, Model, Route};
use super::template::{Blocks, Vars};
use super::{why, GeneratedFile};
use crate::plan::Service;
use crate::problem::Problem;
use std::sync::OnceLock;

pub(crate) const HTTP_FILE: &str = "mdcluster-http.conf";
pub(crate) const STREAM_FILE: &str = "mdcluster-stream.conf";

fn blocks() -> &'static Blocks {
    static B: OnceLock<Blocks> = OnceLock::new();
    B.get_or_init(|| {
        Blocks::parse(
            "assets/lb/nginx.tmpl",
            include_str!("../../assets/lb/nginx.tmpl"),
        )
    })
}

pub(crate) fn render(model: &Model) -> Result<Vec<GeneratedFile>, Problem> {
    let t = blocks();
    let mut http = Vec::new();
    let mut stream = Vec::new();
    for entry in &model.entries {
        match (&entry.route, entry.service) {
            (Route::Sticky { members }, _) => http.push(balanced(t, model, entry, members)?),
            (Route::Single { member, .. }, Service::Http) => {
                http.push(t.render("http-primary", &vars(model, entry, member)?)?)
            }
            (Route::Single { member, .. }, _) => {
                stream.push(t.render("stream-single", &vars(model, entry, member)?)?)
            }
            (Route::LeastConn { members }, _) => {
                let mut servers = String::new();
                for m in members {
                    servers.push_str(&t.render("stream-server", &server_vars(m))?);
                }
                let vars = section_vars(model, entry)?.set("servers", servers);
                stream.push(t.render("stream-mail", &vars)?);
            }
        }
    }
    let mut files = Vec::new();
    if !http.is_empty() {
        let mut text = t.render("http-head", &model.common_vars())?;
        for s in http {
            text.push('\n');
            text.push_str(&s);
        }
        files.push(GeneratedFile {
            path: HTTP_FILE.into(),
            contents: text,
            about: "Webmail, to include inside http { }; Debian/Ubuntu: /etc/nginx/conf.d/".into(),
        });
    }
    if !stream.is_empty() {
        let vars = model.common_vars().set("sections", stream.join("\n"));
        files.push(GeneratedFile {
            path: STREAM_FILE.into(),
            contents: t.render("stream-head", &vars)?,
            about: "the TCP services, to include at the top level of nginx.conf; needs the stream module"
                .into(),
        });
    }
    Ok(files)
}

fn section_vars(model: &Model, entry: &Entry) -> Result<Vars, Problem> {
    let s = entry.service;
    Ok(model
        .common_vars()
        .set("why", why(model, entry, true)?)
        .set("key", s.key())
        .set("name", format!("mdcluster_{}", s.key()))
        .set("bind", model.bind(entry.port))
        .set("timeout", format!("{}m", idle_minutes(s)))
        .set(
            "proxy",
            blocks().render(
                "proxy",
                &Vars::new().set("timeout", format!("{}m", idle_minutes(s))),
            )?,
        ))
}

fn vars(model: &Model, entry: &Entry, member: &Member) -> Result<Vars, Problem> {
    Ok(section_vars(model, entry)?.set("endpoint", member.endpoint()))
}

fn server_vars(m: &Member) -> Vars {
    Vars::new()
        .set("endpoint", m.endpoint())
        .set("down", if m.down { " down" } else { "" })
}

/// Webmail on every node with the emulated cookie stickiness (see the template).
fn balanced(
    t: &Blocks,
    model: &Model,
    entry: &Entry,
    members: &[Member],
) -> Result<String, Problem> {
    let key = entry.service.key();
    let upstream_of = |m: &Member| format!("mdcluster_{key}_{}", m.name);
    // The node that answered is known only by its IP address.
    if let Some(m) = members.iter().find(|m| !m.is_ip()) {
        return Err(Problem::usage(format!(
            "nginx cannot keep Webmail sessions on node {}: its address {} is a DNS name, and nginx names the node that answered only by IP address",
            m.name, m.address
        ))
        .fix("give the nodes' IP addresses in the plan, or use --kind haproxy or apache, or http_mode = \"primary\""));
    }
    let mut cookie_map = String::new();
    let mut addr_map = String::new();
    let mut servers = String::new();
    let mut node_upstreams = String::new();
    for m in members {
        // A moved node's cookie leads to the node its sessions moved to.
        let target = match &model.failover {
            Some(mv) if mv.from == m.name => members
                .iter()
                .find(|o| o.name == mv.to)
                .map(upstream_of)
                .unwrap_or_else(|| upstream_of(m)),
            _ => upstream_of(m),
        };
        cookie_map.push_str(
            &t.render(
                "cookie-map-line",
                &Vars::new()
                    .set("node", map_key(&m.name))
                    .set("upstream", target),
            )?,
        );
        addr_map.push_str(
            &t.render(
                "addr-map-line",
                &Vars::new()
                    .set("node", m.name.clone())
                    .set("endpoint_re", regex_escape(&m.endpoint())),
            )?,
        );
        servers.push_str(&t.render("http-server", &server_vars(m))?);
        if m.down {
            continue;
        }
        // The node's own upstream: the node, then every other one as a backup.
        let mut own = t.render("http-server", &server_vars(m))?;
        for o in members.iter().filter(|o| o.name != m.name && !o.down) {
            own.push_str(&t.render("http-backup", &Vars::new().set("endpoint", o.endpoint()))?);
        }
        node_upstreams.push_str(
            &t.render(
                "node-upstream",
                &Vars::new()
                    .set("upstream", upstream_of(m))
                    .set("servers", own),
            )?,
        );
    }
    let vars = section_vars(model, entry)?
        .set("cookie_map", cookie_map)
        .set("addr_map", addr_map)
        .set("servers", servers)
        .set("node_upstreams", node_upstreams);
    t.render("http-balanced", &vars)
}

/// A map's source value: nginx reads these words as its own parameters
/// unless they are escaped.
fn map_key(name: &str) -> String {
    let special = ["default", "hostnames", "include", "volatile"];
    if special.iter().any(|w| w.eq_ignore_ascii_case(name)) {
        format!("\\{name}")
    } else {
        name.to_string()
    }
}

/// A literal for a PCRE pattern (addresses: dots, colons, brackets).
fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for ch in s.chars() {
        if !ch.is_ascii_alphanumeric() && ch != ':' && ch != '_' && ch != '-' {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}
