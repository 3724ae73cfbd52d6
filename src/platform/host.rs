//! This machine's name and clock.

/// This computer's name, as MDaemon and other nodes know it.
pub fn hostname() -> String {
    #[cfg(windows)]
    if let Ok(name) = std::env::var("COMPUTERNAME") {
        return name;
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown-host".into())
}

/// Now, as RFC 3339 in UTC (how the journal, lock holders and the manifest
/// write times).
pub fn now_rfc3339() -> String {
    jiff::Timestamp::now().to_string()
}
