//! Whether MDaemon runs, and stopping or starting it.
//!
//! - On Windows: the service state from the profile's query command
//!   (`sc query MDaemon`); stop and start with `sc stop` / `sc start`.
//! - On a sandbox: the SIMULATED MDaemon (`mdcluster sandbox DIR --run-service`),
//!   which records its state in a file in the sandbox and acts on semaphores
//!   as MDaemon does (stops on EXITNOW.SEM, starts again on RESTART.SEM).
//! - Anywhere else (a Windows installation reached through a mount): mdcluster
//!   cannot tell; the administrator stops MDaemon and says so (`--mdaemon-stopped`).

use crate::problem::{Exit, Problem};
use crate::profile::Profile;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// File a sandbox carries so mdcluster knows it is one.
pub const SANDBOX_MARKER: &str = ".mdcluster-sandbox";
/// Where the simulated MDaemon keeps its state, inside the sandbox.
pub const SIMULATION_STATE: &str = ".mdcluster-simulated-mdaemon.json";

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "state", content = "why")]
pub enum State {
    Running,
    Stopped,
    /// Cannot be told from here; the string says why.
    Unknown(String),
}

/// The simulated service's state file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Simulated {
    pub pid: u32,
    pub running: bool,
    pub since: String,
    pub restarts: u32,
}

/// What mdcluster asks of MDaemon's service: what it is, whether it runs,
/// stop and start it. The engine opens it through a [`ServiceOpener`], so
/// tests give a fake one.
pub trait ServiceControl: Send + Sync {
    fn describe(&self) -> String;
    fn state(&self) -> State;
    /// Ask it to stop (does not wait).
    fn request_stop(&self) -> Result<(), Problem>;
    /// Ask it to start (does not wait).
    fn request_start(&self) -> Result<(), Problem>;
    /// Wait until it runs (or not), at most `timeout`; `tick` about once a
    /// second with the time waited.
    fn wait(
        &self,
        running: bool,
        timeout: Duration,
        tick: &mut dyn FnMut(Duration),
    ) -> Result<(), Problem>;
}

/// Opens the service of the installation at a local root.
pub(crate) type ServiceOpener =
    std::sync::Arc<dyn Fn(&Path, &Profile) -> Box<dyn ServiceControl> + Send + Sync>;

/// The real service: Windows, or a sandbox's simulated one.
pub(crate) fn real_services() -> ServiceOpener {
    std::sync::Arc::new(|root, profile| Box::new(Service::of(root, profile)))
}

impl ServiceControl for Service {
    fn describe(&self) -> String {
        Service::describe(self)
    }
    fn state(&self) -> State {
        Service::state(self)
    }
    fn request_stop(&self) -> Result<(), Problem> {
        Service::request_stop(self)
    }
    fn request_start(&self) -> Result<(), Problem> {
        Service::request_start(self)
    }
    fn wait(
        &self,
        running: bool,
        timeout: Duration,
        tick: &mut dyn FnMut(Duration),
    ) -> Result<(), Problem> {
        Service::wait(self, running, timeout, tick)
    }
}

pub struct Service {
    root: PathBuf,
    kind: Kind,
    name: String,
    query: String,
    marker: String,
    stop: String,
    start: String,
    config: String,
    account_field: String,
    semaphores: PathBuf,
    stop_sem: String,
    start_sem: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Windows,
    Simulated,
    Unknown,
}

impl Service {
    /// The service of the installation at `root` (a local path).
    pub fn of(root: &Path, profile: &Profile) -> Service {
        let kind = if root.join(SANDBOX_MARKER).exists() {
            Kind::Simulated
        } else if cfg!(windows) {
            Kind::Windows
        } else {
            Kind::Unknown
        };
        let name = profile.install.service_name.value.clone();
        let fill = |s: &str| s.replace("{service}", &name);
        Service {
            root: root.to_path_buf(),
            kind,
            query: fill(&profile.service.query_command),
            marker: profile.service.running_marker.value.clone(),
            stop: fill(&profile.service.stop_command),
            start: fill(&profile.service.start_command),
            config: fill(&profile.service.config_command),
            account_field: profile.service.account_field.value.clone(),
            name,
            semaphores: root.join(profile.semaphores.dir.replace('\\', "/")),
            stop_sem: profile.semaphores.stop.value.clone(),
            start_sem: profile.semaphores.restart.value.clone(),
        }
    }

    pub fn describe(&self) -> String {
        match self.kind {
            Kind::Windows => format!("the Windows service {}", self.name),
            Kind::Simulated => "the SIMULATED MDaemon of this sandbox".into(),
            Kind::Unknown => format!("the MDaemon service ({} from here)", "unknown"),
        }
    }

    pub fn state(&self) -> State {
        match self.kind {
            Kind::Simulated => match read_simulated(&self.root) {
                Some(s) if s.running && crate::platform::process_alive(s.pid) => State::Running,
                _ => State::Stopped,
            },
            Kind::Windows => match run(&self.query) {
                Ok(out) if out.contains(&self.marker) => State::Running,
                Ok(_) => State::Stopped,
                Err(e) => State::Unknown(format!("`{}` failed: {e}", self.query)),
            },
            Kind::Unknown => State::Unknown(
                "this machine is not the Windows server, so the MDaemon service cannot be asked"
                    .into(),
            ),
        }
    }

    /// The account the service runs as, where it can be asked (Windows).
    pub fn account(&self) -> Option<String> {
        match self.kind {
            Kind::Windows => run(&self.config)
                .ok()
                .and_then(|out| account_of(&out, &self.account_field)),
            Kind::Simulated | Kind::Unknown => None,
        }
    }

    /// Ask MDaemon to stop (does not wait).
    pub fn request_stop(&self) -> Result<(), Problem> {
        match self.kind {
            Kind::Windows if run(&self.stop).is_ok() => Ok(()),
            _ => self.drop_semaphore(&self.stop_sem),
        }
    }

    /// Ask MDaemon to start (does not wait).
    pub fn request_start(&self) -> Result<(), Problem> {
        match self.kind {
            Kind::Windows => run(&self.start).map(|_| ()).map_err(|e| {
                Problem::failed(format!("could not start {}: {e}", self.describe()))
                    .fix(format!("start the service by hand: {}", self.start))
            }),
            _ => self.drop_semaphore(&self.start_sem),
        }
    }

    fn drop_semaphore(&self, name: &str) -> Result<(), Problem> {
        let path = self.semaphores.join(name);
        crate::fsops::atomic::write_atomic(&path, b"", None).map_err(|e| {
            Problem::failed(format!("could not drop {name}: {e}")).at(path.display().to_string())
        })
    }

    /// Wait until the service is (or is not) running, at most `timeout`;
    /// `tick` is called about once a second with the time waited so far.
    pub fn wait(
        &self,
        running: bool,
        timeout: Duration,
        tick: &mut dyn FnMut(Duration),
    ) -> Result<(), Problem> {
        let start = Instant::now();
        let mut last = Duration::ZERO;
        loop {
            let now = self.state();
            if (now == State::Running) == running && !matches!(now, State::Unknown(_)) {
                return Ok(());
            }
            let waited = start.elapsed();
            if waited >= timeout {
                let what = if running { "start" } else { "stop" };
                return Err(Problem::failed(format!(
                    "{} did not {what} within {} s",
                    self.describe(),
                    timeout.as_secs()
                ))
                .fix(format!("{what} MDaemon by hand, then rerun to resume")));
            }
            if waited - last >= Duration::from_secs(1) {
                last = waited;
                tick(waited);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The account in `sc qc` output: the value of the `field` line
/// (`        SERVICE_START_NAME : LocalSystem`).
pub(crate) fn account_of(sc_qc: &str, field: &str) -> Option<String> {
    sc_qc.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim().eq_ignore_ascii_case(field) && !v.trim().is_empty())
            .then(|| v.trim().chars().take(256).collect())
    })
}

/// Whether the account a probe ran as is the one a service runs as:
/// LocalSystem is `NT AUTHORITY\SYSTEM`, and reaches a share as the
/// computer account (`DOMAIN\NAME$`); `.\user` is a local account.
pub(crate) fn same_account(probed: &str, service: &str) -> bool {
    let norm = |s: &str| {
        let s = s.trim().to_ascii_lowercase();
        let s = s.strip_prefix(".\\").unwrap_or(&s).to_string();
        match s.as_str() {
            "localsystem" | "nt authority\\system" | "system" => "system".to_string(),
            _ if s.ends_with('$') => "system".to_string(),
            _ => s.rsplit('\\').next().unwrap_or(&s).to_string(),
        }
    };
    norm(probed) == norm(service)
}

pub fn read_simulated(root: &Path) -> Option<Simulated> {
    let text = std::fs::read_to_string(root.join(SIMULATION_STATE)).ok()?;
    serde_json::from_str(&text).ok()
}

fn run(command: &str) -> Result<String, String> {
    let mut parts = command.split_whitespace();
    let program = parts.next().ok_or("empty command")?;
    let out = std::process::Command::new(program)
        .args(parts)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A refusal when MDaemon may be running while data it uses is moved.
pub(crate) fn running_problem(service: &dyn ServiceControl, state: &State) -> Problem {
    match state {
        State::Unknown(why) => Problem::refused(format!("mdcluster cannot tell whether MDaemon runs: {why}"))
            .fix("stop the MDaemon service on the server, then rerun with --mdaemon-stopped"),
        _ => Problem::new(Exit::Refused, format!("{} is running; its data must not move under it", service.describe()))
            .fix("rerun with --stop-mdaemon (mdcluster stops it, moves, and starts it again), or stop it yourself"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sandbox_without_a_simulation_is_stopped_and_a_live_one_runs() {
        let d = tempfile::tempdir().unwrap();
        let profile = Profile::builtin();
        std::fs::write(d.path().join(SANDBOX_MARKER), b"").unwrap();
        let s = Service::of(d.path(), &profile);
        assert_eq!(s.state(), State::Stopped);
        let me = Simulated {
            pid: std::process::id(),
            running: true,
            since: "now".into(),
            restarts: 0,
        };
        std::fs::write(
            d.path().join(SIMULATION_STATE),
            serde_json::to_string(&me).unwrap(),
        )
        .unwrap();
        assert_eq!(s.state(), State::Running);
        let gone = Simulated {
            pid: u32::MAX - 3,
            ..me
        };
        std::fs::write(
            d.path().join(SIMULATION_STATE),
            serde_json::to_string(&gone).unwrap(),
        )
        .unwrap();
        assert_eq!(s.state(), State::Stopped, "a dead simulation does not run");
    }

    #[cfg(not(windows))]
    #[test]
    fn the_service_account_from_sc_qc() {
        let out = "[SC] QueryServiceConfig SUCCESS\r\n\r\nSERVICE_NAME: MDaemon\r\n        TYPE               : 10  WIN32_OWN_PROCESS\r\n        BINARY_PATH_NAME   : C:\\MDaemon\\App\\MDaemon.exe\r\n        SERVICE_START_NAME : LocalSystem\r\n";
        assert_eq!(
            account_of(out, "SERVICE_START_NAME").as_deref(),
            Some("LocalSystem")
        );
        assert_eq!(account_of("nothing here", "SERVICE_START_NAME"), None);
        assert!(same_account("EXAMPLE\\MAIL2$", "LocalSystem"));
        assert!(same_account("NT AUTHORITY\\SYSTEM", "LocalSystem"));
        assert!(same_account("EXAMPLE\\mdsvc", ".\\mdsvc"));
        assert!(!same_account("EXAMPLE\\admin", "LocalSystem"));
        assert!(!same_account("EXAMPLE\\admin", "EXAMPLE\\mdsvc"));
    }

    #[test]
    fn a_mounted_installation_is_unknown() {
        let d = tempfile::tempdir().unwrap();
        let s = Service::of(d.path(), &Profile::builtin());
        assert!(matches!(s.state(), State::Unknown(_)));
    }
}
