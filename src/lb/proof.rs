//! Proof that Webmail sessions stick (the demo): the real HAProxy started
//! on the generated configuration in a temporary folder, HTTP requests sent
//! through it, and the route cookie shown to keep a browser on its node.
//! Everything on loopback, bounded in time; HAProxy is stopped at the end
//! (also when a step fails). Nothing is installed or reloaded.

use super::check::{find_program, search_path, stage};
use super::{GeneratedFile, Kind};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long HAProxy may take to listen, and each request to be answered.
const WAIT: Duration = Duration::from_secs(10);
/// Requests sent with the cookie after the first answer set it.
pub const WITH_COOKIE: usize = 5;

/// What the requests through the balancer showed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sticky {
    /// The node of the first answer, which the cookie names.
    pub node: String,
    /// The cookie as the first answer set it (`NAME=value`).
    pub cookie: String,
    /// The node of each request sent with the cookie.
    pub with_cookie: Vec<String>,
    /// The nodes of requests sent without a cookie (the balancer spreads them).
    pub without_cookie: Vec<String>,
}

impl Sticky {
    /// Every request with the cookie reached the cookie's node.
    pub fn held(&self) -> bool {
        !self.with_cookie.is_empty() && self.with_cookie.iter().all(|n| *n == self.node)
    }
}

/// The outcome: shown, or skipped (HAProxy not installed), or failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Proof {
    Shown(Sticky),
    Skipped(String),
    Failed(String),
}

/// Run HAProxy on `files` (a balanced HTTP section listening on `http`),
/// in `dir`, and send requests through it; `cookie`: the route cookie's name.
pub fn sticky(files: &[GeneratedFile], http: SocketAddr, cookie: &str, dir: &Path) -> Proof {
    let Some(program) = find_program(Kind::Haproxy, &search_path()) else {
        return Proof::Skipped(
            "HAProxy is not installed on this machine, so the stickiness proof is left out (install haproxy to see it)".into(),
        );
    };
    let mut running = match start(&program, files, dir) {
        Ok(r) => r,
        Err(why) => return Proof::Failed(why),
    };
    let result = requests(http, cookie, &mut running);
    running.stop();
    match result {
        Ok(s) => Proof::Shown(s),
        Err(why) => Proof::Failed(format!("{why}{}", running.log_tail())),
    }
}

/// HAProxy running in the foreground; stopped by its handle.
struct Running {
    child: Child,
    log: std::path::PathBuf,
}

impl Running {
    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
    fn log_tail(&self) -> String {
        let bytes = std::fs::read(&self.log).unwrap_or_default();
        let from = bytes.len().saturating_sub(4096);
        let text = String::from_utf8_lossy(&bytes[from..]);
        let lines: Vec<&str> = text.lines().rev().take(5).collect();
        if lines.is_empty() {
            return String::new();
        }
        let lines: Vec<&str> = lines.into_iter().rev().collect();
        format!(
            " (HAProxy said: {})",
            crate::text::sanitize(&lines.join(" | "))
        )
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

fn start(program: &Path, files: &[GeneratedFile], dir: &Path) -> Result<Running, String> {
    let staged = stage(Kind::Haproxy, files, program, dir)?;
    // Only root can switch to the haproxy user the file names; the demo's
    // HAProxy runs as whoever runs the demo, on loopback only.
    let text = std::fs::read_to_string(&staged.config)
        .map_err(|e| format!("could not read the staged configuration: {e}"))?;
    // Its log goes to its own output (the demo folder's haproxy.log), not
    // to this machine's syslog.
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !matches!(l.trim(), "user haproxy" | "group haproxy"))
        .map(|l| {
            if l.trim().starts_with("log /dev/log") {
                "    log stderr format raw local0"
            } else {
                l
            }
        })
        .collect();
    std::fs::write(&staged.config, kept.join("\n") + "\n")
        .map_err(|e| format!("could not write the staged configuration: {e}"))?;
    let log = dir.join("haproxy.log");
    let out = std::fs::File::create(&log)
        .map_err(|e| format!("could not create {}: {e}", log.display()))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("could not prepare HAProxy's log: {e}"))?;
    let child = Command::new(program)
        .arg("-db")
        .arg("-f")
        .arg(&staged.config)
        .current_dir(dir)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("could not start HAProxy: {e}"))?;
    Ok(Running { child, log })
}

fn requests(http: SocketAddr, cookie: &str, running: &mut Running) -> Result<Sticky, String> {
    wait_listening(http, running)?;
    let first = get(http, None)?;
    let set = first
        .set_cookies
        .iter()
        .find(|c| c.starts_with(&format!("{cookie}=")))
        .ok_or_else(|| format!("the first answer set no {cookie} cookie"))?;
    let pair = set.split(';').next().unwrap_or(set).trim().to_string();
    let mut with_cookie = Vec::new();
    for _ in 0..WITH_COOKIE {
        with_cookie.push(get(http, Some(&pair))?.body);
    }
    let mut without_cookie = Vec::new();
    for _ in 0..3 {
        without_cookie.push(get(http, None)?.body);
    }
    // Answered by this HAProxy, not by a program that had the port first.
    if let Ok(Some(status)) = running.child.try_wait() {
        return Err(format!(
            "HAProxy ended ({status}) while the requests were answered: another program has {http}"
        ));
    }
    Ok(Sticky {
        node: first.body,
        cookie: pair,
        with_cookie,
        without_cookie,
    })
}

fn wait_listening(http: SocketAddr, running: &mut Running) -> Result<(), String> {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&http, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = running.child.try_wait() {
            return Err(format!(
                "HAProxy ended ({status}) before it listened on {http}"
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!(
        "HAProxy did not listen on {http} within {} s",
        WAIT.as_secs()
    ))
}

struct Answer {
    set_cookies: Vec<String>,
    /// The node's name, as the SIMULATED node answers it.
    body: String,
}

/// `GET /` through the balancer, with a cookie or none; at most 64 KiB read.
fn get(http: SocketAddr, cookie: Option<&str>) -> Result<Answer, String> {
    let deadline = Instant::now() + WAIT;
    let mut s = TcpStream::connect_timeout(&http, WAIT)
        .map_err(|e| format!("no connection to the balancer: {e}"))?;
    let _ = s.set_write_timeout(Some(WAIT));
    let cookie = cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    s.write_all(
        format!("GET / HTTP/1.1\r\nHost: demo\r\nUser-Agent: mdcluster-demo\r\n{cookie}Connection: close\r\n\r\n")
            .as_bytes(),
    )
    .map_err(|e| format!("could not send a request: {e}"))?;
    let mut raw = Vec::new();
    let mut chunk = [0u8; 4096];
    while raw.len() < 64 * 1024 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "no whole answer from the balancer within {} s",
                WAIT.as_secs()
            ));
        }
        let _ = s.set_read_timeout(Some(left));
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("no answer from the balancer: {e}")),
        }
    }
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.lines().next().unwrap_or("");
    if !status.contains(" 200") {
        return Err(format!(
            "the balancer answered \"{}\"",
            crate::text::sanitize(status)
        ));
    }
    let set_cookies = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.trim().eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.trim().to_string())
        .collect();
    let body: String = body.trim().chars().take(64).collect();
    // The SIMULATED node names itself in a header too: an answer without it
    // came from somewhere else.
    let named = head.lines().any(|l| {
        l.split_once(':').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("x-mdcluster-node") && v.trim() == body
        })
    });
    if !named {
        return Err("an answer through the balancer did not come from a SIMULATED node".into());
    }
    Ok(Answer {
        set_cookies,
        body: crate::text::sanitize(&body).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_holds_only_when_every_request_with_the_cookie_reached_its_node() {
        let s = |with: &[&str]| Sticky {
            node: "SIM2".into(),
            cookie: "MDCLUSTER_NODE=SIM2".into(),
            with_cookie: with.iter().map(|n| n.to_string()).collect(),
            without_cookie: vec!["MAIL1".into(), "SIM3".into()],
        };
        assert!(s(&["SIM2", "SIM2"]).held());
        assert!(!s(&["SIM2", "SIM3"]).held());
        assert!(!s(&[]).held());
    }
}
