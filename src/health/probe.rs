//! One service of one node asked whether it answers: connect with a
//! deadline, read what a ready server says first (or ask for it), say goodbye
//! politely. What was read is untrusted: bounded here, sanitized before it
//! leaves (see [`Answer::read`]).
//!
//! - SMTP and submission: a `220` greeting; IMAP: `* OK`; POP3: `+OK`
//!   (the same first words the balancer's own checks wait for).
//! - HTTP (Webmail, Remote Administration): a status line below 500 to
//!   `GET /`, as the balancer's `http-check` expects.
//! - XMPP: a stream header in answer to ours (an error stream counts: the
//!   server speaks XMPP).
//! - The TLS ports (IMAPS, POP3S, HTTPS): a TLS record in answer to a
//!   ClientHello; no handshake is completed and no certificate is judged.
//!
//! The clock of a node is read where a service states it: the date in an
//! SMTP greeting (MDaemon writes one) and an HTTP `Date` header.

use crate::plan::Service;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// The most bytes read from a service.
const MAX_READ: usize = 4096;
/// The most characters of what was read that are kept for the report.
pub const MAX_SHOWN: usize = 160;

/// What one probe found.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    /// The service answered as expected.
    pub up: bool,
    /// Until the answer (or the failure), in milliseconds.
    pub latency_ms: f64,
    /// The first line of what was read, bounded (not yet sanitized).
    pub read: String,
    /// Why it is down, or what kind of answer it was.
    pub detail: String,
    /// The node's clock minus this machine's, in seconds, where the answer
    /// stated the time.
    pub clock_offset_s: Option<f64>,
}

impl Answer {
    fn down(start: Instant, detail: impl Into<String>, read: String) -> Answer {
        Answer {
            up: false,
            latency_ms: ms(start.elapsed()),
            read,
            detail: detail.into(),
            clock_offset_s: None,
        }
    }
}

pub(crate) fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 10.0).round() / 10.0
}

/// Ask `service` at `host:port`, all within `timeout`.
pub fn probe(service: Service, host: &str, port: u16, timeout: Duration) -> Answer {
    let start = Instant::now();
    let deadline = start + timeout;
    let addr = match resolve(host, port) {
        Ok(a) => a,
        Err(why) => return Answer::down(start, why, String::new()),
    };
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Answer::down(start, "timed out resolving the name", String::new());
    }
    let mut stream = match TcpStream::connect_timeout(&addr, left) {
        Ok(s) => s,
        Err(e) => return Answer::down(start, connect_error(&e), String::new()),
    };
    let _ = stream.set_nodelay(true);
    let mut talk = Talk {
        stream: &mut stream,
        deadline,
        start,
        buf: Vec::new(),
    };
    let host = safe_host(host);
    let answer = match service {
        Service::Smtp | Service::Submission => talk.greeting("220", "QUIT\r\n", "an SMTP greeting"),
        Service::Imap => talk.greeting("* OK", "a1 LOGOUT\r\n", "an IMAP greeting"),
        Service::Pop3 => talk.greeting("+OK", "QUIT\r\n", "a POP3 greeting"),
        Service::Http | Service::RemoteAdmin => talk.http(&host),
        Service::Xmpp => talk.xmpp(&host),
        Service::Imaps | Service::Pop3s | Service::Https => talk.tls(),
    };
    let _ = stream.shutdown(std::net::Shutdown::Both);
    answer
}

/// The host name as sent in a request (`Host:`, XMPP's `to`): only the
/// characters a name or address has, so nothing can end the line or quote.
fn safe_host(host: &str) -> String {
    let ok = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '[' | ']'));
    if !ok {
        return "localhost".into();
    }
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

fn resolve(host: &str, port: u16) -> Result<SocketAddr, String> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    match (host, port).to_socket_addrs() {
        Ok(mut addrs) => addrs
            .next()
            .ok_or_else(|| "the name resolves to no address".to_string()),
        Err(e) => Err(format!("the name does not resolve: {e}")),
    }
}

fn connect_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
            "no answer to the connection (timed out)".into()
        }
        _ => format!("cannot connect: {e}"),
    }
}

/// A conversation with a deadline.
struct Talk<'s> {
    stream: &'s mut TcpStream,
    deadline: Instant,
    start: Instant,
    buf: Vec<u8>,
}

impl Talk<'_> {
    /// Read until `done(buf)` holds, the peer closes, `MAX_READ` bytes or
    /// the deadline; false when the deadline passed first.
    fn read_until(&mut self, done: impl Fn(&[u8]) -> bool) -> Result<(), String> {
        let mut chunk = [0u8; 1024];
        while !done(&self.buf) && self.buf.len() < MAX_READ {
            let left = self.deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err("timed out waiting for the answer".into());
            }
            let _ = self.stream.set_read_timeout(Some(left));
            match self.stream.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    let room = MAX_READ - self.buf.len();
                    self.buf.extend_from_slice(&chunk[..n.min(room)]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err("timed out waiting for the answer".into())
                }
                Err(e) => return Err(format!("the connection failed while reading: {e}")),
            }
        }
        Ok(())
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        let _ = self
            .stream
            .set_write_timeout(Some(left.max(Duration::from_millis(1))));
        self.stream
            .write_all(bytes)
            .map_err(|e| format!("cannot send: {e}"))
    }

    fn first_line(&self) -> String {
        let text = String::from_utf8_lossy(&self.buf);
        let line = text.lines().next().unwrap_or("").trim_end();
        line.chars().take(MAX_SHOWN).collect()
    }

    fn answer(&self, up: bool, detail: impl Into<String>) -> Answer {
        Answer {
            up,
            latency_ms: ms(self.start.elapsed()),
            read: self.first_line(),
            detail: detail.into(),
            clock_offset_s: None,
        }
    }

    /// A line-based greeting starting with `expect`.
    fn greeting(&mut self, expect: &str, bye: &str, what: &str) -> Answer {
        if let Err(why) = self.read_until(|b| b.contains(&b'\n')) {
            return self.answer(false, why);
        }
        let line = self.first_line();
        if self.buf.is_empty() {
            return self.answer(false, format!("closed without {what}"));
        }
        let mut answer = if line.starts_with(expect) {
            self.answer(true, what.to_string())
        } else {
            self.answer(false, format!("expected {what} (\"{expect}\")"))
        };
        if answer.up && expect == "220" {
            answer.clock_offset_s = smtp_date(&line).map(offset_from);
        }
        let _ = self.send(bye.as_bytes());
        answer
    }

    fn http(&mut self, host: &str) -> Answer {
        let request = format!(
            "GET / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: mdcluster-health\r\nConnection: close\r\n\r\n"
        );
        if let Err(why) = self.send(request.as_bytes()) {
            return self.answer(false, why);
        }
        if let Err(why) = self.read_until(|b| b.windows(4).any(|w| w == b"\r\n\r\n")) {
            return self.answer(false, why);
        }
        let line = self.first_line();
        let status = line
            .strip_prefix("HTTP/")
            .and_then(|rest| rest.split_whitespace().nth(1))
            .and_then(|code| code.parse::<u16>().ok());
        let mut answer = match status {
            Some(code) if (200..500).contains(&code) => self.answer(true, format!("HTTP {code}")),
            Some(code) => self.answer(false, format!("HTTP {code}: the server reports an error")),
            None if self.buf.is_empty() => self.answer(false, "closed without an HTTP answer"),
            None => self.answer(false, "the answer is not HTTP"),
        };
        if answer.up {
            answer.clock_offset_s = http_date(&self.buf).map(offset_from);
        }
        answer
    }

    fn xmpp(&mut self, host: &str) -> Answer {
        let open = format!(
            "<?xml version='1.0'?><stream:stream to='{host}' xmlns='jabber:client' \
             xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
        );
        if let Err(why) = self.send(open.as_bytes()) {
            return self.answer(false, why);
        }
        let found = |b: &[u8]| b.windows(14).any(|w| w == b"<stream:stream");
        if let Err(why) = self.read_until(found) {
            return self.answer(false, why);
        }
        let answer = if found(&self.buf) {
            self.answer(true, "an XMPP stream header")
        } else if self.buf.is_empty() {
            self.answer(false, "closed without an XMPP stream header")
        } else {
            self.answer(false, "expected an XMPP stream header")
        };
        let _ = self.send(b"</stream:stream>");
        answer
    }

    fn tls(&mut self) -> Answer {
        if let Err(why) = self.send(&client_hello()) {
            return self.answer(false, why);
        }
        if let Err(why) = self.read_until(|b| b.len() >= 5) {
            return self.answer(false, why);
        }
        let mut answer = match self.buf.as_slice() {
            [0x16, 0x03, ..] => self.answer(true, "TLS: the server answered the hello"),
            [0x15, 0x03, ..] => self.answer(
                true,
                "TLS: the server answered with an alert (it speaks TLS, but not our hello)",
            ),
            [] => self.answer(false, "closed without a TLS answer"),
            _ => self.answer(false, "the answer is not TLS"),
        };
        // Binary: what was read is not shown.
        answer.read = String::new();
        answer
    }
}

/// Seconds from this machine's clock to the stated time. Dates are stated
/// in whole seconds, cut short: the middle of that second is the best guess.
fn offset_from(stated: jiff::Timestamp) -> f64 {
    let mid = stated
        .checked_add(jiff::SignedDuration::from_millis(500))
        .unwrap_or(stated);
    let d = mid.duration_since(jiff::Timestamp::now());
    (d.as_secs_f64() * 10.0).round() / 10.0
}

/// The RFC 5322 date after the `;` of an SMTP greeting, where there is one.
pub(crate) fn smtp_date(line: &str) -> Option<jiff::Timestamp> {
    let (_, date) = line.rsplit_once(';')?;
    parse_rfc2822(date)
}

/// The `Date:` header of an HTTP answer.
pub(crate) fn http_date(head: &[u8]) -> Option<jiff::Timestamp> {
    let text = String::from_utf8_lossy(head);
    text.lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.trim().eq_ignore_ascii_case("date").then_some(value)
        })
        .and_then(parse_rfc2822)
}

fn parse_rfc2822(text: &str) -> Option<jiff::Timestamp> {
    let text = text.trim();
    if text.len() > 64 {
        return None;
    }
    jiff::fmt::rfc2822::parse(text)
        .ok()
        .map(|z| z.timestamp())
        .or_else(|| {
            // HTTP dates end in "GMT", which RFC 2822 parsing accepts only
            // as an obsolete zone; try it as +0000.
            let fixed = text.strip_suffix("GMT")?.trim_end();
            jiff::fmt::rfc2822::parse(&format!("{fixed} +0000"))
                .ok()
                .map(|z| z.timestamp())
        })
}

/// A TLS 1.2 ClientHello every current server answers (a ServerHello or an
/// alert): common suites, the groups and signature algorithms they need.
fn client_hello() -> Vec<u8> {
    let suites: &[u16] = &[
        0x1301, 0x1302, 0x1303, 0xc02f, 0xc030, 0xc02b, 0xc02c, 0xcca8, 0xcca9, 0x009c, 0x009d,
        0x002f, 0x0035,
    ];
    let mut ext = Vec::new();
    // supported_groups: x25519, secp256r1, secp384r1
    push_ext(
        &mut ext,
        0x000a,
        &[0x00, 0x06, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18],
    );
    // ec_point_formats: uncompressed
    push_ext(&mut ext, 0x000b, &[0x01, 0x00]);
    // signature_algorithms
    let sigs: &[u16] = &[0x0403, 0x0503, 0x0804, 0x0805, 0x0401, 0x0501, 0x0201];
    let mut body = ((sigs.len() * 2) as u16).to_be_bytes().to_vec();
    sigs.iter()
        .for_each(|s| body.extend_from_slice(&s.to_be_bytes()));
    push_ext(&mut ext, 0x000d, &body);
    let mut hello = vec![0x03, 0x03];
    hello.extend((0..32u8).map(|i| i.wrapping_mul(37).wrapping_add(11)));
    hello.push(0); // no session id
    hello.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    suites
        .iter()
        .for_each(|s| hello.extend_from_slice(&s.to_be_bytes()));
    hello.extend_from_slice(&[0x01, 0x00]); // no compression
    hello.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    hello.extend_from_slice(&ext);
    let mut handshake = vec![0x01];
    handshake.extend_from_slice(&(hello.len() as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&hello);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

fn push_ext(out: &mut Vec<u8>, kind: u16, body: &[u8]) {
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_read_from_greetings_and_headers() {
        let t =
            smtp_date("220 mx1.example.com ESMTP MDaemon 24.0.1; Sat, 05 Dec 2026 20:10:00 +0100")
                .unwrap();
        assert_eq!(t.to_string(), "2026-12-05T19:10:00Z");
        let head = b"HTTP/1.1 200 OK\r\nServer: x\r\nDate: Sat, 05 Dec 2026 19:10:00 GMT\r\n\r\n";
        assert_eq!(http_date(head).unwrap().to_string(), "2026-12-05T19:10:00Z");
        assert_eq!(smtp_date("220 mx1 ESMTP ready"), None);
        assert_eq!(smtp_date("220 x; not a date"), None);
        assert_eq!(
            http_date(b"HTTP/1.1 200 OK\r\n\r\nDate: Sat, 05 Dec 2026 19:10:00 GMT"),
            None
        );
    }

    #[test]
    fn the_client_hello_is_one_well_formed_record() {
        let r = client_hello();
        assert_eq!(&r[..3], &[0x16, 0x03, 0x01]);
        let len = u16::from_be_bytes([r[3], r[4]]) as usize;
        assert_eq!(r.len(), 5 + len);
        let hs_len = u32::from_be_bytes([0, r[6], r[7], r[8]]) as usize;
        assert_eq!(len, 4 + hs_len);
    }
}
