//! What a node is: the facts the cluster rules compare, read from the local
//! MDaemon installation and the machine.
//!
//! Secrets never leave the machine: the licence key is reduced to a
//! fingerprint (a keyed hash), certificates to their thumbprint's first 16
//! hex digits. Where a fact cannot be read here it is `None`, and the rule
//! that needs it says "unknown" rather than guessing.

use crate::ini::IniDoc;
use crate::profile::{IniKey, Profile};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    /// Windows computer name (NetBIOS).
    pub name: String,
    pub addresses: Vec<IpAddr>,
    pub version: Option<String>,
    pub time_zone: String,
    /// Fingerprint of the licence key, never the key.
    pub licence: Option<String>,
    /// Certificates installed on this machine (thumbprint prefixes); None
    /// where the store cannot be read from here.
    pub certificates: Option<Vec<String>>,
    /// Certificates MDaemon is set to use (thumbprint prefixes).
    pub certificates_in_use: Vec<String>,
    pub attachment_linking: Option<bool>,
    pub auto_update: Option<bool>,
    pub domain_ip_binding: Option<bool>,
    pub letsencrypt: Option<bool>,
    pub share: ShareCheck,
}

/// The shared path as this node reaches it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareCheck {
    /// Create, write, rename and delete worked.
    pub writable: Option<bool>,
    /// The account the probe ran as.
    pub identity: String,
    /// This machine's clock against the file server's, from a probe file's
    /// timestamp (file server time minus local time), in milliseconds.
    pub clock_offset_ms: Option<i64>,
    /// The account the MDaemon service runs as, where it could be asked.
    #[serde(default)]
    pub service_account: Option<String>,
}

/// The current time in Unix milliseconds, as this process reads it (with the
/// test skew applied).
pub fn now_ms() -> i64 {
    // Test hook: as on a node whose clock is off.
    let skew: i64 = crate::test_hooks::number(crate::test_hooks::CLOCK_SKEW_MS).unwrap_or(0);
    let real = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    real + skew
}

/// A fingerprint that identifies a secret without revealing it.
pub fn licence_fingerprint(key: &str) -> String {
    let normal: String = key
        .trim()
        .to_ascii_uppercase()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let h = blake3::derive_key(
        "mdcluster 2026 licence key fingerprint v1",
        normal.as_bytes(),
    );
    h[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// A certificate thumbprint, shortened for announcements.
pub(crate) fn thumbprint_id(thumbprint: &str) -> Option<String> {
    let hex: String = thumbprint
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect::<String>()
        .to_ascii_uppercase();
    (hex.len() >= 16 && hex.chars().all(|c| c.is_ascii_hexdigit())).then(|| hex[..16].to_string())
}

fn ini_value(doc: &IniDoc, key: &IniKey) -> Option<String> {
    doc.get_str(&key[0], &key[1])
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Read the facts of the installation at `root` (local path).
pub fn collect(
    root: &Path,
    profile: &Profile,
    name: &str,
    addresses: Vec<IpAddr>,
    share: Option<&Path>,
    certificates: &CertificateStore,
) -> Facts {
    let ini = std::fs::read(root.join(profile.ini.file.replace('\\', "/")))
        .ok()
        .map(IniDoc::parse);
    let f = &profile.facts;
    let get = |k: &IniKey| ini.as_ref().and_then(|d| ini_value(d, k));
    let yes = |k: &IniKey| get(k).map(|v| f.yes_values.iter().any(|y| y.eq_ignore_ascii_case(&v)));
    let in_use = get(&f.certificates_in_use)
        .map(|v| v.split([',', ';', ' ']).filter_map(thumbprint_id).collect())
        .unwrap_or_default();
    Facts {
        name: name.to_string(),
        addresses,
        version: get(&f.version),
        time_zone: os_time_zone(),
        licence: get(&f.licence_key).map(|k| licence_fingerprint(&k)),
        certificates: certificates.thumbprints(),
        certificates_in_use: in_use,
        attachment_linking: yes(&f.attachment_linking),
        auto_update: yes(&f.auto_update_install),
        domain_ip_binding: domain_ip_binding(root, profile),
        letsencrypt: yes(&f.letsencrypt),
        share: share
            .map(|s| ShareCheck {
                service_account: crate::service::Service::of(root, profile).account(),
                ..check_share(s)
            })
            .unwrap_or_default(),
    }
}

/// Any domain bound to an IP address (Domains.dat: `Bind=Yes`).
fn domain_ip_binding(root: &Path, profile: &Profile) -> Option<bool> {
    let bytes = std::fs::read(root.join(profile.domains.file.replace('\\', "/"))).ok()?;
    let doc = IniDoc::parse(bytes);
    let yes = &profile.facts.yes_values;
    Some(doc.section_names().iter().any(|s| {
        let section = crate::codepage::decode_windows_1252(s);
        doc.get_str(&section, &profile.domains.bind_key)
            .is_some_and(|v| yes.iter().any(|y| y.eq_ignore_ascii_case(v.trim())))
    }))
}

/// The SIMULATED certificate store of a sandbox: the thumbprints of the
/// certificates "installed" on this machine, one per line. (On Windows the
/// machine's certificate store is asked instead.)
pub const SANDBOX_CERT_STORE: &str = ".mdcluster-sandbox-certificates";

/// Where the certificates installed on a node are read. Chosen once by the
/// front end ([`CertificateStore::of`]) and handed down, so that facts never
/// prefer a file to the machine's store by themselves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertificateStore {
    /// The machine's store (Windows: LocalMachine\My; elsewhere it cannot
    /// be read).
    Machine,
    /// A sandbox's simulated store: a file of thumbprints.
    Sandbox(PathBuf),
    /// These thumbprints (tests).
    Fixed(Vec<String>),
}

impl CertificateStore {
    /// The store for the installation at `root`: a sandbox's own (a sandbox
    /// carries its marker file), else the machine's.
    pub fn of(root: &Path) -> CertificateStore {
        if root.join(crate::service::SANDBOX_MARKER).exists() {
            CertificateStore::Sandbox(root.join(SANDBOX_CERT_STORE))
        } else {
            CertificateStore::Machine
        }
    }

    /// The thumbprints (shortened) of the certificates installed; None when
    /// the store cannot be read.
    pub fn thumbprints(&self) -> Option<Vec<String>> {
        match self {
            CertificateStore::Machine => machine_certificates(),
            CertificateStore::Sandbox(file) => std::fs::read_to_string(file)
                .ok()
                .map(|text| text.lines().filter_map(thumbprint_id).collect()),
            CertificateStore::Fixed(list) => Some(
                list.iter()
                    .map(String::as_str)
                    .filter_map(thumbprint_id)
                    .collect(),
            ),
        }
    }
}

/// The certificates in the Windows machine store.
fn machine_certificates() -> Option<Vec<String>> {
    #[cfg(windows)]
    {
        let out = std::process::Command::new("powershell")
            .args([
                "-NoProfile",
                "-Command",
                "Get-ChildItem Cert:\\LocalMachine\\My | ForEach-Object { $_.Thumbprint }",
            ])
            .output()
            .ok()?;
        if out.status.success() {
            return Some(
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .filter_map(thumbprint_id)
                    .collect(),
            );
        }
    }
    None
}

/// The machine's time zone: Windows' own name on Windows, otherwise TZ or
/// the system's zone name.
pub(crate) fn os_time_zone() -> String {
    #[cfg(windows)]
    if let Ok(out) = std::process::Command::new("tzutil").arg("/g").output() {
        let name = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !name.is_empty() {
            return name;
        }
    }
    if let Ok(tz) = std::env::var("TZ") {
        if !tz.trim().is_empty() {
            return tz.trim().trim_start_matches(':').to_string();
        }
    }
    if let Ok(tz) = std::fs::read_to_string("/etc/timezone") {
        if !tz.trim().is_empty() {
            return tz.trim().to_string();
        }
    }
    if let Ok(target) = std::fs::read_link("/etc/localtime") {
        let s = target.to_string_lossy();
        if let Some(i) = s.find("zoneinfo/") {
            return s[i + "zoneinfo/".len()..].to_string();
        }
    }
    "UTC".into()
}

/// Probe the shared path: writable, by whom, and the clock against the file
/// server's (the probe file's timestamp is the server's time on a share).
pub(crate) fn check_share(share: &Path) -> ShareCheck {
    let identity = identity();
    let writable = Some(crate::fsops::probe::write_probe(share).is_ok());
    ShareCheck {
        writable,
        identity,
        clock_offset_ms: clock_offset(share),
        service_account: None,
    }
}

/// File server time minus local time, measured with a file written on the share.
pub(crate) fn clock_offset(share: &Path) -> Option<i64> {
    let probe = share.join(format!(
        ".mdcluster-clock-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    let before = now_ms();
    let result = std::fs::write(&probe, b"clock probe").and_then(|_| std::fs::metadata(&probe));
    let after = now_ms();
    let _ = std::fs::remove_file(&probe);
    let mtime = filetime::FileTime::from_last_modification_time(&result.ok()?);
    let server_ms = mtime.unix_seconds() * 1000 + i64::from(mtime.nanoseconds() / 1_000_000);
    Some(server_ms - (before + after) / 2)
}

/// This machine's Windows computer name (elsewhere: the host name, made one).
pub(crate) fn computer_name() -> String {
    #[cfg(windows)]
    if let Ok(name) = std::env::var("COMPUTERNAME") {
        if crate::plan::check_computer_name(&name).is_ok() {
            return name;
        }
    }
    netbios_name(&crate::platform::hostname())
}

/// A computer name from a host name: letters, digits and hyphens, up to 15.
pub(crate) fn netbios_name(host: &str) -> String {
    let first = host.split('.').next().unwrap_or(host);
    let name: String = first
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(15)
        .collect::<String>()
        .to_uppercase();
    if crate::plan::check_computer_name(&name).is_ok() {
        name
    } else {
        "MAIL1".into()
    }
}

/// The account this process runs as (for the share probe's verdict).
pub fn identity() -> String {
    #[cfg(windows)]
    {
        let user = std::env::var("USERNAME").unwrap_or_default();
        let domain = std::env::var("USERDOMAIN").unwrap_or_default();
        if !user.is_empty() {
            return if domain.is_empty() {
                user
            } else {
                format!("{domain}\\{user}")
            };
        }
    }
    if let Ok(user) = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")) {
        return user;
    }
    // No name in the environment: the numeric user id, from the kernel.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .map(|u| format!("uid {u}"))
        })
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_sandbox_reads_its_certificate_file() {
        let d = tempfile::tempdir().unwrap();
        let thumb = "0123456789ABCDEF0123456789ABCDEF01234567";
        std::fs::write(d.path().join(SANDBOX_CERT_STORE), thumb).unwrap();
        // A real installation with such a file: the machine's store counts.
        assert_eq!(CertificateStore::of(d.path()), CertificateStore::Machine);
        std::fs::write(d.path().join(crate::service::SANDBOX_MARKER), b"").unwrap();
        let store = CertificateStore::of(d.path());
        assert_eq!(
            store,
            CertificateStore::Sandbox(d.path().join(SANDBOX_CERT_STORE))
        );
        assert_eq!(store.thumbprints(), thumbprint_id(thumb).map(|t| vec![t]));
        // A fake store is what the facts report.
        let fixed = CertificateStore::Fixed(vec![thumb.into()]);
        let f = collect(d.path(), &Profile::builtin(), "MAIL2", vec![], None, &fixed);
        assert_eq!(f.certificates, fixed.thumbprints());
        if !cfg!(windows) {
            assert_eq!(CertificateStore::Machine.thumbprints(), None);
        }
    }

    #[test]
    fn sandbox_facts() {
        let d = tempfile::tempdir().unwrap();
        let profile = Profile::builtin();
        let opts = crate::sandbox::Options {
            accounts: 2,
            messages: 4,
            seed: 5,
            message_size: None,
        };
        crate::sandbox::create(d.path(), &profile, &opts).unwrap();
        let f = collect(
            d.path(),
            &profile,
            "MAIL2",
            vec![],
            Some(d.path()),
            &CertificateStore::of(d.path()),
        );
        assert_eq!(f.version.as_deref(), Some("23.5.2"));
        assert_eq!(f.licence.as_ref().map(String::len), Some(16));
        assert_eq!(f.certificates_in_use.len(), 2);
        assert_eq!(f.certificates.as_ref().unwrap(), &f.certificates_in_use);
        assert_eq!(f.attachment_linking, Some(false));
        assert_eq!(
            f.auto_update,
            Some(false),
            "the first of two duplicate keys counts, as on Windows"
        );
        assert_eq!(f.domain_ip_binding, Some(false));
        assert_eq!(f.share.writable, Some(true));
        assert!(f.share.clock_offset_ms.unwrap().abs() < 1000);
        let text = serde_json::to_string(&f).unwrap();
        assert!(
            !text.contains("SAMPLE-"),
            "the licence key itself never appears"
        );
    }

    #[test]
    fn fingerprints_are_stable_and_blind() {
        assert_eq!(
            licence_fingerprint("abc-123"),
            licence_fingerprint(" ABC-123 ")
        );
        assert_ne!(
            licence_fingerprint("abc-123"),
            licence_fingerprint("abc-124")
        );
        assert_eq!(
            thumbprint_id("9256ba42082daf3ad806539356616bc7f898c82e").unwrap(),
            "9256BA42082DAF3A"
        );
        assert_eq!(thumbprint_id("xyz"), None);
    }
}
