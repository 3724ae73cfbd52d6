//! keepalived for `[load_balancer.ha]`: one `keepalived/<host>/keepalived.conf`
//! per balancer host, a VRRP instance that floats the virtual IP to the host
//! of highest priority whose balancer process runs.
//!
//! The files do not depend on the nodes or on a failover, so `lb failover`
//! leaves them as they are. Every value in them was held by the plan parser
//! to a word or an IP address (`crate::plan::Ha`).

use super::model::Model;
use super::template::{Blocks, Vars};
use super::{GeneratedFile, Kind};
use crate::plan::{Ha, HaHost};
use crate::problem::Problem;
use std::net::IpAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

/// The folder of the output that holds one folder per balancer host.
pub(crate) const DIR: &str = "keepalived";
pub(crate) const FILE: &str = "keepalived.conf";

fn blocks() -> &'static Blocks {
    static B: OnceLock<Blocks> = OnceLock::new();
    B.get_or_init(|| {
        Blocks::parse(
            "assets/lb/keepalived.conf.tmpl",
            include_str!("../../assets/lb/keepalived.conf.tmpl"),
        )
    })
}

/// The process a balancer runs as (`/proc/PID/comm`), unless the plan names one.
pub(crate) fn default_process(kind: Kind) -> &'static str {
    match kind {
        Kind::Haproxy => "haproxy",
        Kind::Nginx => "nginx",
        // Debian and Ubuntu; Red Hat's is httpd (process = "httpd").
        Kind::Apache => "apache2",
    }
}

/// The process keepalived follows on every host.
pub(crate) fn process(ha: &Ha, kind: Kind) -> &str {
    ha.process.as_deref().unwrap_or(default_process(kind))
}

/// The balancer host a generated file is the keepalived.conf of.
pub(crate) fn host_of(path: &Path) -> Option<String> {
    let parts: Vec<Component> = path.components().collect();
    match parts.as_slice() {
        [Component::Normal(dir), Component::Normal(host), Component::Normal(file)]
            if *dir == DIR && *file == FILE =>
        {
            Some(host.to_string_lossy().into_owned())
        }
        _ => None,
    }
}

/// Where a host's file goes below the output folder.
pub(crate) fn path_of(host: &str) -> PathBuf {
    Path::new(DIR).join(host).join(FILE)
}

/// How far a failing health check lowers a host's priority: below every
/// healthy host, whatever the priorities are; at most 253, the largest
/// weight keepalived takes (priorities 254 and 1 then tie, and VRRP's own
/// tie-break by address decides).
fn health_drop(ha: &Ha) -> u8 {
    let max = ha.hosts.iter().map(|h| h.priority).max().unwrap_or(1);
    let min = ha.hosts.iter().map(|h| h.priority).min().unwrap_or(1);
    (max - min).saturating_add(1).min(253)
}

/// One keepalived.conf per host of `ha`.
pub(crate) fn render(model: &Model, ha: &Ha, kind: Kind) -> Result<Vec<GeneratedFile>, Problem> {
    let t = blocks();
    let vip = ha.virtual_ip_text();
    let drop = health_drop(ha).to_string();
    let health = if ha.health_check {
        t.render("health", &Vars::new().set("drop", drop))?
    } else {
        String::new()
    };
    let (balancer, tracks) = balancer_tracking(t, ha, kind)?;
    let mut files = Vec::new();
    for host in &ha.hosts {
        let vars = model
            .common_vars()
            .set("host", host.name.clone())
            .set("host_count", ha.hosts.len().to_string())
            .set("vip", vip.clone())
            .set("kind", kind.title())
            .set("process", process(ha, kind))
            .set("interface", ha.interface_of(host))
            .set("router_id", ha.router_id.to_string())
            .set("priority", host.priority.to_string())
            .set("address", host.address.to_string())
            .set("peers", peers(ha, host))
            .set("health", health.clone())
            .set("balancer", balancer.clone())
            .set("tracks", tracks.clone());
        files.push(GeneratedFile {
            path: path_of(&host.name),
            contents: t.render("head", &vars)?,
            about: format!(
                "keepalived for balancer host {} (priority {}), for /etc/keepalived/keepalived.conf there",
                host.name, host.priority
            ),
        });
    }
    Ok(files)
}

/// How the balancer is followed (its process, or the plan's check script)
/// and the instance's track blocks (with the health check's script).
fn balancer_tracking(t: &Blocks, ha: &Ha, kind: Kind) -> Result<(String, String), Problem> {
    let mut scripts = Vec::new();
    let mut tracks = Vec::new();
    let balancer = match &ha.check_script {
        Some(script) => {
            scripts.push("mdcluster_balancer");
            t.render(
                "balancer-script",
                &Vars::new().set("script", script.clone()),
            )?
        }
        None => {
            tracks.push(t.render("track-process", &Vars::new())?);
            t.render(
                "balancer-process",
                &Vars::new().set("process", process(ha, kind)),
            )?
        }
    };
    if ha.health_check {
        scripts.push("mdcluster_health");
    }
    if !scripts.is_empty() {
        tracks.push(t.render(
            "track-script",
            &Vars::new().set("scripts", scripts.join("\n")),
        )?);
    }
    let tracks: Vec<&str> = tracks.iter().map(|t| t.trim_end()).collect();
    Ok((balancer, tracks.join("\n")))
}

/// The other hosts' addresses, one a line.
fn peers(ha: &Ha, host: &HaHost) -> String {
    ha.hosts
        .iter()
        .filter(|h| h.name != host.name)
        .map(|h| h.address.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// What the administrator must know about the keepalived files.
pub(crate) fn notes(ha: &Ha, kind: Kind, listen: IpAddr) -> Vec<String> {
    let hosts: Vec<&str> = ha.hosts.iter().map(|h| h.name.as_str()).collect();
    let mut notes = vec![format!(
        "keepalived must be installed on every balancer host ({}), with {} on each; copy each host's keepalived/<host>/keepalived.conf to /etc/keepalived/keepalived.conf there and restart keepalived.",
        hosts.join(", "),
        kind.title()
    )];
    if listen.is_unspecified() {
        notes.push(format!(
            "{} listens on all addresses ({listen}), so it answers on the virtual IP {} wherever keepalived puts it.",
            kind.title(),
            ha.virtual_ip
        ));
    } else {
        let sysctl = if listen.is_ipv4() {
            "net.ipv4.ip_nonlocal_bind=1"
        } else {
            "net.ipv6.ip_nonlocal_bind=1"
        };
        notes.push(format!(
            "{} listens on the virtual IP {listen}, which only the MASTER holds: set {sysctl} (sysctl) on every balancer host so the balancer starts on the BACKUP hosts too.",
            kind.title()
        ));
    }
    if ha.process.is_none() && kind == Kind::Apache {
        notes.push(
            "keepalived follows the process apache2 (Debian, Ubuntu); on Red Hat and its kin set process = \"httpd\" under [load_balancer.ha]."
                .to_string(),
        );
    }
    if ha.health_check {
        notes.push(
            "health_check: each balancer host runs `mdcluster health --plan /etc/mdcluster/plan.toml` every 10 s; install mdcluster on PATH there (root-owned) and copy the plan to that path. Only CRITICAL (exit 2) counts as failed."
                .to_string(),
        );
    }
    notes
}

#[cfg(test)]
mod tests;
