//! Pairing: a secondary proves it was invited by the primary's join code.
//!
//! - The primary issues a join code: 12 characters from an alphabet without
//!   look-alikes (60 bits), shown as `XXXX-XXXX-XXXX`, valid for an hour, kept
//!   owner-only in the state folder.
//! - The secondary signs its announcement with a key derived from the code:
//!   a keyed BLAKE3 MAC over every fact and a timestamp. The code itself never
//!   crosses the network; without it a signature cannot be made or checked.
//! - The primary trusts an announcement only when the MAC checks with its code
//!   and the timestamp is fresh (within [`FRESH_MS`] of its own clock), so an
//!   old announcement replayed later is refused.
//! - Everything in an announcement is bounded and validated before use; it never
//!   becomes a path or a command, and is escaped before it reaches a terminal.

use super::facts::{Facts, ShareCheck};
use crate::problem::{Exit, Problem};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

/// The mDNS service type mdcluster announces and browses.
pub const SERVICE_TYPE: &str = "_mdcluster._tcp.local.";
/// How far an announcement's timestamp may be from the primary's clock.
pub(crate) const FRESH_MS: i64 = 60_000;
/// How long a join code is valid.
pub(crate) const CODE_LIFETIME_SECS: i64 = 3600;
const ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
const CODE_LEN: usize = 12;
const CODE_FILE: &str = "join-code.json";
/// Format version of announcements.
const FORMAT: &str = "1";

/// A join code, normalised (upper case, no dashes).
#[derive(Clone, PartialEq, Eq)]
pub struct JoinCode(String);

impl std::fmt::Debug for JoinCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JoinCode(…)") // never in logs
    }
}

impl JoinCode {
    pub fn generate() -> JoinCode {
        use rand::Rng;
        let mut rng = rand::rng();
        JoinCode(
            (0..CODE_LEN)
                .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
                .collect(),
        )
    }

    /// Accepts what an administrator types: any case, with or without dashes and spaces.
    pub fn parse(text: &str) -> Result<JoinCode, Problem> {
        let code: String = text
            .chars()
            .filter(|c| *c != '-' && !c.is_whitespace())
            .collect::<String>()
            .to_ascii_uppercase();
        if code.len() != CODE_LEN || !code.bytes().all(|b| ALPHABET.contains(&b)) {
            return Err(Problem::usage(
                "that is not a join code: it has 12 letters and digits, like K7QM-3XPA-9RTW",
            )
            .fix("copy the code the primary shows (`mdcluster code --show` prints it)"));
        }
        Ok(JoinCode(code))
    }

    /// `XXXX-XXXX-XXXX`, for people.
    pub fn display(&self) -> String {
        let c = &self.0;
        format!("{}-{}-{}", &c[0..4], &c[4..8], &c[8..12])
    }

    fn key(&self) -> [u8; 32] {
        blake3::derive_key(
            "mdcluster 2026 join code announcement key v1",
            self.0.as_bytes(),
        )
    }
}

#[derive(Serialize, Deserialize)]
struct StoredCode {
    code: String,
    expires_ms: i64,
}

/// Issue a new join code and keep it in the state folder (owner-only).
pub(crate) fn issue_code(state_dir: &Path) -> Result<(JoinCode, i64), Problem> {
    crate::fsops::state_dir::create_state_dir(state_dir)?;
    let code = JoinCode::generate();
    let expires_ms = super::facts::now_ms() + CODE_LIFETIME_SECS * 1000;
    let text = serde_json::to_vec(&StoredCode {
        code: code.0.clone(),
        expires_ms,
    })
    .unwrap_or_default();
    let path = state_dir.join(CODE_FILE);
    crate::fsops::atomic::write_atomic(&path, &text, None)
        .map_err(|e| Problem::new(Exit::Other, format!("could not store the join code: {e}")))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    }
    Ok((code, expires_ms))
}

/// The primary's current join code, unless it has expired.
pub(crate) fn current_code(state_dir: &Path) -> Option<JoinCode> {
    current_code_until(state_dir).map(|(c, _)| c)
}

/// The current join code and when it expires (Unix milliseconds).
pub(crate) fn current_code_until(state_dir: &Path) -> Option<(JoinCode, i64)> {
    let text = std::fs::read(state_dir.join(CODE_FILE)).ok()?;
    let stored: StoredCode = serde_json::from_slice(&text).ok()?;
    let code = JoinCode::parse(&stored.code).ok()?;
    (stored.expires_ms > super::facts::now_ms()).then_some((code, stored.expires_ms))
}

/// The code to show: the current one while it has ten minutes left, else a
/// new one (so a secondary started from the screen has time to join).
pub fn code_to_show(state_dir: &Path) -> Result<(JoinCode, i64), Problem> {
    match current_code_until(state_dir) {
        Some((code, until)) if until - super::facts::now_ms() > 600_000 => Ok((code, until)),
        _ => issue_code(state_dir),
    }
}

/// What to run on a secondary, ready to paste into cmd or PowerShell
/// ([`crate::text::shell_arg`]), with `extra` arguments after it: `join`
/// asks for the code (which `mdcluster code --show` prints on the primary),
/// so the code never lands in a note, a log or the process list. A trailing
/// backslash is left out (inside quotes, cmd would read it as escaping the
/// closing quote).
pub(crate) fn join_command(share: Option<&str>, extra: &str) -> String {
    match share.map(|s| s.trim().trim_end_matches('\\')) {
        Some(s) if !s.is_empty() => {
            format!(
                "mdcluster join --share {}{extra}",
                crate::text::shell_arg(s)
            )
        }
        _ => format!("mdcluster join{extra}"),
    }
}

/// A signed announcement: a node's facts and when they were signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announcement {
    pub facts: Facts,
    pub time_ms: i64,
    pub signature: String,
}

/// Why an announcement is not trusted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "why", content = "detail")]
pub enum Untrusted {
    /// No signature: not made by `mdcluster join` (or made by an older one).
    Unsigned,
    /// The signature does not check with this code.
    WrongSignature,
    /// Signed too long ago (or in the future): a replay, or a clock far off.
    Stale(i64),
    /// Malformed: a value too long, of the wrong form, or missing.
    Malformed(String),
    /// No join code on this side to check with.
    NoCode,
}

impl std::fmt::Display for Untrusted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Untrusted::Unsigned => f.write_str("not signed (not announced by `mdcluster join`)"),
            Untrusted::WrongSignature => f.write_str("the signature does not match the join code"),
            Untrusted::Stale(ms) => write!(
                f,
                "signed {} s away from this clock: a replay, or a clock far off",
                ms / 1000
            ),
            Untrusted::Malformed(why) => write!(f, "malformed announcement: {why}"),
            Untrusted::NoCode => f.write_str(
                "no join code to check the signature with (`mdcluster code` issues one)",
            ),
        }
    }
}

fn flag(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "1",
        Some(false) => "0",
        None => "?",
    }
}

impl Announcement {
    pub fn sign(facts: Facts, time_ms: i64, code: &JoinCode) -> Announcement {
        let mut a = Announcement {
            facts,
            time_ms,
            signature: String::new(),
        };
        a.signature = mac(code, &a.canonical());
        a
    }

    /// The facts as TXT properties (every value within DNS's 255-byte limit).
    fn fields(&self) -> BTreeMap<&'static str, String> {
        let f = &self.facts;
        let mut m = BTreeMap::new();
        m.insert("fmt", FORMAT.to_string());
        m.insert("name", f.name.clone());
        m.insert(
            "ip",
            f.addresses
                .iter()
                .map(IpAddr::to_string)
                .collect::<Vec<_>>()
                .join(","),
        );
        m.insert("ver", f.version.clone().unwrap_or_else(|| "?".into()));
        // Text is cut to what the receiving side accepts.
        let cut = |v: &str| {
            let mut out = String::new();
            for c in v.chars().filter(|c| !c.is_control()) {
                if out.len() + c.len_utf8() > 64 {
                    break;
                }
                out.push(c);
            }
            out
        };
        m.insert("tz", cut(&f.time_zone));
        m.insert("lic", f.licence.clone().unwrap_or_else(|| "?".into()));
        m.insert(
            "crt",
            f.certificates
                .as_ref()
                .map(|c| c.join(","))
                .unwrap_or_else(|| "?".into()),
        );
        m.insert("use", f.certificates_in_use.join(","));
        m.insert("al", flag(f.attachment_linking).into());
        m.insert("au", flag(f.auto_update).into());
        m.insert("bind", flag(f.domain_ip_binding).into());
        m.insert("le", flag(f.letsencrypt).into());
        m.insert("sw", flag(f.share.writable).into());
        m.insert("sid", cut(&f.share.identity));
        m.insert(
            "svc",
            f.share
                .service_account
                .as_deref()
                .map(cut)
                .unwrap_or_else(|| "?".into()),
        );
        m.insert(
            "clk",
            f.share
                .clock_offset_ms
                .map(|v| v.to_string())
                .unwrap_or_else(|| "?".into()),
        );
        m.insert("t", self.time_ms.to_string());
        m
    }

    fn canonical(&self) -> String {
        self.fields()
            .iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect()
    }

    pub fn to_txt(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .fields()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        out.push(("sig".into(), self.signature.clone()));
        out
    }

    /// Parse TXT properties from the network. Strict: every value bounded and
    /// of its form; anything else is [`Untrusted::Malformed`] (or
    /// [`Untrusted::Unsigned`] when there is no signature at all).
    pub fn from_txt(props: &BTreeMap<String, String>) -> Result<Announcement, Untrusted> {
        let bad = |why: &str| Untrusted::Malformed(why.to_string());
        if props.len() > 40 {
            return Err(bad("too many properties"));
        }
        let get = |k: &str| props.get(k).map(String::as_str);
        let signature = match get("sig") {
            None => return Err(Untrusted::Unsigned),
            Some(s) if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) => s.to_string(),
            Some(_) => return Err(bad("signature")),
        };
        let text = |k: &str, max: usize, ok: fn(char) -> bool| -> Result<String, Untrusted> {
            let v = get(k).ok_or_else(|| bad(&format!("{k} missing")))?;
            if v.len() > max || !v.chars().all(ok) {
                return Err(bad(&format!("{k} too long or of the wrong form")));
            }
            Ok(v.to_string())
        };
        let printable = |c: char| !c.is_control() && c != '\u{7f}';
        let optional = |v: String| (v != "?").then_some(v);
        let boolean = |k: &str| -> Result<Option<bool>, Untrusted> {
            match get(k) {
                Some("1") => Ok(Some(true)),
                Some("0") => Ok(Some(false)),
                Some("?") => Ok(None),
                _ => Err(bad(&format!("{k} is not 0, 1 or ?"))),
            }
        };
        let hex_list = |k: &str| -> Result<Option<Vec<String>>, Untrusted> {
            let v = text(k, 240, |c| c.is_ascii_hexdigit() || c == ',' || c == '?')?;
            if v == "?" {
                return Ok(None);
            }
            let items: Vec<String> = v
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            if items.iter().any(|i| i.len() != 16) {
                return Err(bad(&format!("{k} holds a malformed thumbprint")));
            }
            Ok(Some(items))
        };
        if get("fmt") != Some(FORMAT) {
            return Err(bad("unknown format"));
        }
        let name = text("name", 15, |c| {
            c.is_ascii_alphanumeric() || c == '-' || c == '_'
        })?;
        if crate::plan::check_computer_name(&name).is_err() {
            return Err(bad("name is not a computer name"));
        }
        let ips = text("ip", 200, |c| {
            c.is_ascii_hexdigit() || matches!(c, '.' | ':' | ',')
        })?;
        let addresses: Vec<IpAddr> = ips
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().map_err(|_| bad("ip holds a malformed address")))
            .collect::<Result<_, _>>()?;
        if addresses.len() > 8 {
            return Err(bad("too many addresses"));
        }
        let clock = text("clk", 20, |c| c.is_ascii_digit() || c == '-' || c == '?')?;
        let clock_offset_ms = if clock == "?" {
            None
        } else {
            Some(clock.parse::<i64>().map_err(|_| bad("clk"))?)
        };
        let time_ms = text("t", 20, |c| c.is_ascii_digit())?
            .parse::<i64>()
            .map_err(|_| bad("t"))?;
        let facts = Facts {
            name,
            addresses,
            version: optional(text("ver", 32, |c| {
                c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ' ' | '?')
            })?),
            time_zone: text("tz", 64, printable)?,
            licence: optional(text("lic", 16, |c| c.is_ascii_hexdigit() || c == '?')?),
            certificates: hex_list("crt")?,
            certificates_in_use: hex_list("use")?.unwrap_or_default(),
            attachment_linking: boolean("al")?,
            auto_update: boolean("au")?,
            domain_ip_binding: boolean("bind")?,
            letsencrypt: boolean("le")?,
            share: ShareCheck {
                writable: boolean("sw")?,
                identity: text("sid", 64, printable)?,
                clock_offset_ms,
                service_account: optional(text("svc", 64, printable)?),
            },
        };
        Ok(Announcement {
            facts,
            time_ms,
            signature,
        })
    }

    /// Trusted when signed with `code` and signed within [`FRESH_MS`] of `now_ms`.
    pub fn verify(&self, code: Option<&JoinCode>, now_ms: i64) -> Result<(), Untrusted> {
        let code = code.ok_or(Untrusted::NoCode)?;
        let expected = mac(code, &self.canonical());
        // Equal-time comparison of the hex strings (both 64 characters).
        let same = expected
            .bytes()
            .zip(self.signature.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
            && expected.len() == self.signature.len();
        if !same {
            return Err(Untrusted::WrongSignature);
        }
        let age = now_ms - self.time_ms;
        if age.abs() > FRESH_MS {
            return Err(Untrusted::Stale(age));
        }
        Ok(())
    }
}

fn mac(code: &JoinCode, text: &str) -> String {
    blake3::keyed_hash(&code.key(), text.as_bytes())
        .to_hex()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        Facts {
            name: "MAIL2".into(),
            addresses: vec!["10.0.0.12".parse().unwrap()],
            version: Some("23.5.2".into()),
            time_zone: "Europe/Berlin".into(),
            licence: Some("0123456789abcdef".into()),
            certificates: Some(vec!["9256BA42082DAF3A".into()]),
            certificates_in_use: vec!["9256BA42082DAF3A".into()],
            attachment_linking: Some(false),
            auto_update: Some(false),
            domain_ip_binding: Some(false),
            letsencrypt: None,
            share: ShareCheck {
                writable: Some(true),
                identity: "MAIL2\\mdaemon".into(),
                clock_offset_ms: Some(-12),
                service_account: Some("LocalSystem".into()),
            },
        }
    }

    #[test]
    fn long_text_is_cut_to_what_the_other_side_accepts_and_still_verifies() {
        let code = JoinCode::generate();
        let mut f = facts();
        f.share.identity = format!("ÄÖÜ-DOMAIN\\{}", "ü".repeat(80));
        f.time_zone = "Zone/".repeat(30);
        let a = Announcement::sign(f, 1_000, &code);
        let back = round_trip(&a).unwrap();
        assert!(back.facts.share.identity.len() <= 64);
        assert!(back.facts.share.identity.starts_with("ÄÖÜ-DOMAIN"));
        assert!(back.facts.time_zone.len() <= 64);
        assert_eq!(back.verify(Some(&code), 1_000), Ok(()));
    }

    fn round_trip(a: &Announcement) -> Result<Announcement, Untrusted> {
        Announcement::from_txt(&a.to_txt().into_iter().collect())
    }

    #[test]
    fn the_join_command_names_the_share_and_never_a_code() {
        assert_eq!(
            join_command(Some(r"\\fs\mdaemon\"), " --loopback"),
            r"mdcluster join --share \\fs\mdaemon --loopback"
        );
        assert_eq!(
            join_command(Some(r"\\fs\mail's share"), ""),
            r#"mdcluster join --share "\\fs\mail's share""#
        );
        assert_eq!(join_command(None, ""), "mdcluster join");
    }

    #[test]
    fn codes_are_typeable_and_parse_back() {
        let c = JoinCode::generate();
        let shown = c.display();
        assert_eq!(shown.len(), 14);
        assert_eq!(JoinCode::parse(&shown.to_lowercase()).unwrap(), c);
        assert!(JoinCode::parse("K7QM-3XPA").is_err());
        assert!(JoinCode::parse("0000-1111-OOOO").is_err(), "no look-alikes");
        assert!(!format!("{c:?}").contains(&c.0), "never in debug output");
    }

    #[test]
    fn signed_announcements_round_trip_and_verify() {
        let code = JoinCode::generate();
        let a = Announcement::sign(facts(), 1_000_000, &code);
        let b = round_trip(&a).unwrap();
        assert_eq!(a, b);
        assert_eq!(b.verify(Some(&code), 1_000_500), Ok(()));
        for (k, v) in a.to_txt() {
            assert!(k.len() + v.len() < 255, "{k}");
            assert!(!v.contains(&code.0), "the code never crosses the network");
        }
    }

    #[test]
    fn forged_wrong_code_replayed_and_unsigned_are_refused() {
        let code = JoinCode::generate();
        let a = Announcement::sign(facts(), 1_000_000, &code);
        assert_eq!(
            a.verify(Some(&JoinCode::generate()), 1_000_000),
            Err(Untrusted::WrongSignature)
        );
        assert!(
            matches!(
                a.verify(Some(&code), 1_000_000 + FRESH_MS + 1),
                Err(Untrusted::Stale(_))
            ),
            "replayed later"
        );
        let mut forged = a.clone();
        forged.facts.version = Some("99".into());
        assert_eq!(
            forged.verify(Some(&code), 1_000_000),
            Err(Untrusted::WrongSignature),
            "a changed fact breaks the MAC"
        );
        let mut txt: BTreeMap<String, String> = a.to_txt().into_iter().collect();
        txt.remove("sig");
        assert_eq!(Announcement::from_txt(&txt), Err(Untrusted::Unsigned));
        assert_eq!(a.verify(None, 1_000_000), Err(Untrusted::NoCode));
    }

    #[test]
    fn hostile_values_are_malformed() {
        let code = JoinCode::generate();
        let good: BTreeMap<String, String> = Announcement::sign(facts(), 1, &code)
            .to_txt()
            .into_iter()
            .collect();
        for (k, v) in [
            ("name", "../../etc"),
            ("name", "MAIL2\u{1b}[2J"),
            ("tz", "Europe/Berlin\u{1b}]52;c;SGk=\u{7}"),
            ("ip", "10.0.0.1,evil"),
            ("crt", "ZZZZ"),
            ("al", "yes"),
            ("t", "-5"),
            ("sid", &"x".repeat(300)),
            ("fmt", "2"),
        ] {
            let mut p = good.clone();
            p.insert(k.into(), v.into());
            assert!(
                matches!(Announcement::from_txt(&p), Err(Untrusted::Malformed(_))),
                "{k}={v:?}"
            );
        }
    }
}
