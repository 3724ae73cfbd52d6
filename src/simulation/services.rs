//! SIMULATED node services: small stand-ins that speak the first words of
//! MDaemon's services on one address, so balancers, `mdcluster health` and
//! the demo have something real to talk to (never MDaemon; every answer
//! says SIMULATED).
//!
//! - SMTP/submission: `220 NAME ESMTP SIMULATED; <date>`, then `250` to
//!   anything and `221` to QUIT; IMAP: `* OK`, `* BYE` to LOGOUT; POP3:
//!   `+OK`, `+OK` to QUIT.
//! - HTTP (Webmail, Remote Administration): `200` with the node's name as
//!   the body and in `X-Mdcluster-Node`, and a `Date` header.
//! - XMPP: a stream header in answer to the client's.
//! - The TLS ports: a TLS alert record (a server that speaks TLS but
//!   refuses; no certificate is involved).
//!
//! Bounded: at most 64 connections at once per service (more are closed at
//! once), each at most 64 KiB read, 30 s idle and 2 minutes long.

use crate::plan::Service;
use crate::problem::{Exit, Problem};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

const IDLE: Duration = Duration::from_secs(30);
const LIFETIME: Duration = Duration::from_secs(120);
const MAX_IN: u64 = 64 * 1024;
const MAX_CONNECTIONS: usize = 64;

/// One simulated node's services.
#[derive(Clone, Debug)]
pub struct Standin {
    pub name: String,
    pub address: IpAddr,
    pub services: Vec<(Service, u16)>,
    /// A hung node: connections are accepted and never answered.
    pub silent: bool,
}

/// Bind every port first (an error names the one that failed and nothing
/// runs), then serve until `stop` is set. Returns the listener threads.
pub fn serve(standin: &Standin, stop: Arc<AtomicBool>) -> Result<Vec<JoinHandle<()>>, Problem> {
    let mut bound = Vec::new();
    for (service, port) in &standin.services {
        let at = SocketAddr::new(standin.address, *port);
        let listener = TcpListener::bind(at).map_err(|e| {
            Problem::new(
                Exit::Other,
                format!("cannot listen on {at} for {}: {e}", service.title()),
            )
            .fix("choose a free port (--service NAME=PORT) or another address (--listen)")
        })?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Problem::other(format!("cannot set up {at}: {e}")))?;
        bound.push((*service, listener));
    }
    Ok(bound
        .into_iter()
        .map(|(service, listener)| {
            let (stop, name, silent) = (stop.clone(), standin.name.clone(), standin.silent);
            std::thread::spawn(move || accept_loop(&listener, service, &name, silent, &stop))
        })
        .collect())
}

fn accept_loop(
    listener: &TcpListener,
    service: Service,
    name: &str,
    silent: bool,
    stop: &AtomicBool,
) {
    let open = Arc::new(AtomicUsize::new(0));
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                if open.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
                    continue; // dropped: closed at once
                }
                open.fetch_add(1, Ordering::SeqCst);
                let (name, open) = (name.to_string(), open.clone());
                std::thread::spawn(move || {
                    let _ = stream.set_nonblocking(false);
                    let _ = stream.set_read_timeout(Some(IDLE));
                    let _ = stream.set_write_timeout(Some(IDLE));
                    let ended = Arc::new(AtomicBool::new(false));
                    if let Ok(s) = stream.try_clone() {
                        let ended = ended.clone();
                        // The whole connection's limit, whatever the client does.
                        std::thread::spawn(move || {
                            let start = std::time::Instant::now();
                            while start.elapsed() < LIFETIME && !ended.load(Ordering::SeqCst) {
                                std::thread::sleep(Duration::from_millis(200));
                            }
                            let _ = s.shutdown(std::net::Shutdown::Both);
                        });
                    }
                    if silent {
                        let _ = std::io::copy(&mut stream.take(MAX_IN), &mut std::io::sink());
                    } else {
                        let _ = answer(stream, service, &name);
                    }
                    ended.store(true, Ordering::SeqCst);
                    open.fetch_sub(1, Ordering::SeqCst);
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

fn now_rfc2822() -> String {
    jiff::fmt::rfc2822::to_string(&jiff::Zoned::now()).unwrap_or_default()
}

fn http_date() -> String {
    jiff::fmt::rfc2822::DateTimePrinter::new()
        .timestamp_to_rfc9110_string(&jiff::Timestamp::now())
        .unwrap_or_default()
}

fn answer(stream: TcpStream, service: Service, name: &str) -> std::io::Result<()> {
    let mut out = stream.try_clone()?;
    let mut input = BufReader::new(stream.take(MAX_IN));
    match service {
        Service::Smtp | Service::Submission => {
            let greeting = format!("220 {name} ESMTP SIMULATED; {}\r\n", now_rfc2822());
            lines(
                &mut input,
                &mut out,
                &greeting,
                |l| {
                    if l.trim().eq_ignore_ascii_case("QUIT") {
                        Some("221 bye\r\n")
                    } else {
                        None
                    }
                },
                "250 ok\r\n",
            )
        }
        Service::Imap => lines(
            &mut input,
            &mut out,
            &format!("* OK [CAPABILITY IMAP4rev1] {name} IMAP SIMULATED ready\r\n"),
            |l| {
                l.to_ascii_uppercase()
                    .contains("LOGOUT")
                    .then_some("* BYE SIMULATED\r\na1 OK LOGOUT\r\n")
            },
            "* BAD SIMULATED\r\n",
        ),
        Service::Pop3 => lines(
            &mut input,
            &mut out,
            &format!("+OK {name} POP3 SIMULATED ready\r\n"),
            |l| {
                l.trim()
                    .eq_ignore_ascii_case("QUIT")
                    .then_some("+OK bye\r\n")
            },
            "-ERR SIMULATED\r\n",
        ),
        Service::Http | Service::RemoteAdmin => {
            // Each request on the connection, until the client closes.
            loop {
                let mut head = String::new();
                loop {
                    let mut line = String::new();
                    if input.read_line(&mut line)? == 0 {
                        return Ok(());
                    }
                    if line == "\r\n" || line == "\n" {
                        break;
                    }
                    head.push_str(&line);
                }
                let body = format!("{name}\n");
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nDate: {}\r\nServer: mdcluster-SIMULATED\r\nX-Mdcluster-Node: {name}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
                    http_date(),
                    body.len()
                );
                out.write_all(reply.as_bytes())?;
                if head.to_ascii_lowercase().contains("connection: close") {
                    return Ok(());
                }
            }
        }
        Service::Xmpp => {
            let mut buf = [0u8; 1024];
            let _ = input.read(&mut buf)?;
            out.write_all(
                format!("<?xml version='1.0'?><stream:stream from='{name}' id='simulated' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>").as_bytes(),
            )?;
            let _ = input.read(&mut buf);
            out.write_all(b"</stream:stream>")
        }
        Service::Imaps | Service::Pop3s | Service::Https => {
            let mut buf = [0u8; 1024];
            let _ = input.read(&mut buf)?;
            // A fatal handshake_failure alert.
            out.write_all(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28])
        }
    }
}

/// A line protocol: the greeting, then one reply per line until `last`
/// gives the goodbye.
fn lines(
    input: &mut impl BufRead,
    out: &mut impl Write,
    greeting: &str,
    last: impl Fn(&str) -> Option<&'static str>,
    other: &str,
) -> std::io::Result<()> {
    out.write_all(greeting.as_bytes())?;
    loop {
        let mut line = String::new();
        if input.read_line(&mut line)? == 0 {
            return Ok(());
        }
        if let Some(bye) = last(&line) {
            return out.write_all(bye.as_bytes());
        }
        out.write_all(other.as_bytes())?;
    }
}

/// `smtp=2525`: a service by its plan key and a port.
pub fn parse_service(text: &str) -> Result<(Service, u16), String> {
    let (key, port) = text
        .split_once('=')
        .ok_or_else(|| format!("'{}' is not SERVICE=PORT", crate::text::sanitize(text)))?;
    let service = Service::ALL
        .into_iter()
        .find(|s| s.key() == key.trim())
        .ok_or_else(|| {
            format!(
                "'{}' is not a service; use one of: {}",
                crate::text::sanitize(key),
                Service::ALL.map(|s| s.key()).join(", ")
            )
        })?;
    let port: u16 = port
        .trim()
        .parse()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| {
            format!(
                "'{}' is not a port from 1 to 65535",
                crate::text::sanitize(port)
            )
        })?;
    Ok((service, port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::probe::probe;

    #[test]
    fn every_standin_answers_the_health_probe() {
        let free = |_: &Service| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        };
        let services: Vec<(Service, u16)> = Service::ALL.iter().map(|s| (*s, free(s))).collect();
        let stop = Arc::new(AtomicBool::new(false));
        let standin = Standin {
            name: "SIM2".into(),
            address: "127.0.0.1".parse().unwrap(),
            services: services.clone(),
            silent: false,
        };
        let threads = serve(&standin, stop.clone()).unwrap();
        for (s, port) in &services {
            let a = probe(*s, "127.0.0.1", *port, Duration::from_secs(5));
            assert!(a.up, "{s:?}: {a:?}");
            if matches!(s, Service::Smtp | Service::Submission | Service::Http) {
                let off = a.clock_offset_s.unwrap();
                assert!(off.abs() < 5.0, "{s:?} {off}");
            }
        }
        assert_eq!(parse_service("imap=1143").unwrap(), (Service::Imap, 1143));
        assert!(parse_service("gopher=70").is_err());
        assert!(parse_service("smtp=0").is_err());
        assert!(parse_service("smtp").is_err());
        stop.store(true, Ordering::SeqCst);
        for t in threads {
            t.join().unwrap();
        }
    }
}
