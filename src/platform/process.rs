//! Whether a process of this machine still runs.

/// Whether process `pid` of this machine still runs. When the answer cannot
/// be known (the process belongs to another account, the platform does not
/// say), it is "yes": callers use a "no" to clean up after a dead run, and
/// cleaning up after a live one would do harm.
pub fn process_alive(pid: u32) -> bool {
    alive(pid)
}

#[cfg(target_os = "linux")]
fn alive(pid: u32) -> bool {
    // A zombie is dead for our purposes: it holds no files and writes nothing.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(e) => e.kind() != std::io::ErrorKind::NotFound,
    }
}

#[cfg(windows)]
fn alive(pid: u32) -> bool {
    match process_alive::state(process_alive::Pid::from(pid)) {
        process_alive::State::Alive => true,
        process_alive::State::Dead => false,
        // OpenProcess failed: ERROR_INVALID_PARAMETER (87) means no process
        // has this id; anything else (access denied) means one does.
        process_alive::State::Unknown => std::io::Error::last_os_error().raw_os_error() != Some(87),
    }
}

#[cfg(not(any(target_os = "linux", windows)))]
fn alive(_pid: u32) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_runs() {
        assert!(process_alive(std::process::id()));
    }

    #[test]
    fn a_finished_child_does_not_run() {
        let exe = std::env::current_exe().unwrap();
        // The test binary itself, asked for no tests, exits at once.
        let mut child = std::process::Command::new(exe)
            .args(["--exact", "no such test"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        assert!(process_alive(pid) || child.try_wait().unwrap().is_some());
        child.wait().unwrap();
        assert!(!process_alive(pid), "process {pid} has exited");
    }

    #[test]
    fn an_id_no_process_has_does_not_run() {
        // Beyond Linux's pid_max (4194304) and never a Windows process id (multiples of 4).
        assert!(!process_alive(4_194_303 * 2 + 1));
    }
}
