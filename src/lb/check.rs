//! The balancer's own verdict on generated files: `haproxy -c -f`,
//! `nginx -t`, `apache2 -t` / `httpd -t`, run on a copy in a temporary folder
//! with a minimal main configuration around it (assets/lb/check.tmpl).
//!
//! A check never starts or reloads a balancer, and it is bounded in time.
//! A balancer that is not installed here is a verdict too: mdcluster usually
//! runs on the MDaemon primary, not on the balancer.

use super::template::{Blocks, Vars};
use super::{apache, keepalived, nginx, GeneratedFile, Kind};
use serde::Serialize;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long a check may take before it is stopped.
pub(crate) const CHECK_TIMEOUT: Duration = Duration::from_secs(30);
/// At most this many lines of a check's output are kept.
const MAX_LINES: usize = 200;

/// What the balancer said about the generated files.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    /// The check accepted the files; `output` may hold warnings.
    Passed { command: String, output: String },
    /// The check refused the files; `output` says why.
    Failed { command: String, output: String },
    /// The balancer is not installed on this machine.
    NotInstalled { program: String },
    /// Installed, but the check could not run (a missing module, a timeout).
    NotChecked { reason: String },
}

impl Verdict {
    pub fn failed(&self) -> bool {
        matches!(self, Verdict::Failed { .. })
    }
    /// One line for people.
    pub fn summary(&self) -> String {
        match self {
            Verdict::Passed { command, .. } => format!("passed `{command}`"),
            Verdict::Failed { command, .. } => format!("FAILED `{command}`"),
            Verdict::NotInstalled { program } => {
                format!("not checked: {program} is not installed on this machine")
            }
            Verdict::NotChecked { reason } => format!("not checked: {reason}"),
        }
    }
    pub fn output(&self) -> &str {
        match self {
            Verdict::Passed { output, .. } | Verdict::Failed { output, .. } => output,
            _ => "",
        }
    }
}

/// The generated files laid out for the balancer, with the main configuration
/// that includes them.
#[derive(Debug)]
pub struct Staged {
    pub program: PathBuf,
    /// The configuration to pass to the balancer (`-f` / `-c`).
    pub config: PathBuf,
    /// The check's arguments.
    pub check_args: Vec<OsString>,
}

/// Run the balancer's own check on `files`, if the balancer is installed.
pub fn validate(kind: Kind, files: &[GeneratedFile]) -> Verdict {
    validate_with(kind, files, &search_path())
}

/// As [`validate`], looking for the program only in `dirs`.
pub(crate) fn validate_with(kind: Kind, files: &[GeneratedFile], dirs: &[PathBuf]) -> Verdict {
    // keepalived's files have their own check (validate_keepalived).
    let files: Vec<GeneratedFile> = files
        .iter()
        .filter(|f| keepalived::host_of(&f.path).is_none())
        .cloned()
        .collect();
    let files = files.as_slice();
    let Some(program) = find_program(kind, dirs) else {
        return Verdict::NotInstalled {
            program: kind.programs().join(" or "),
        };
    };
    let tmp = match temp_folder("mdcluster-lb-check-") {
        Ok(t) => t,
        Err(v) => return v,
    };
    let dir = tmp.path();
    let staged = match stage(kind, files, &program, dir) {
        Ok(s) => s,
        Err(reason) => return Verdict::NotChecked { reason },
    };
    let shown = |s: &str| clean(s, dir);
    let command = std::iter::once(file_name(&staged.program))
        .chain(staged.check_args.iter().map(|a| relative(a, dir)))
        .collect::<Vec<_>>()
        .join(" ");
    match run_bounded(&staged.program, &staged.check_args, dir, CHECK_TIMEOUT) {
        Ok((true, output)) => Verdict::Passed {
            command,
            output: shown(&output),
        },
        Ok((false, output)) => Verdict::Failed {
            command,
            output: shown(&output),
        },
        Err(reason) => Verdict::NotChecked {
            reason: shown(&reason),
        },
    }
}

/// `keepalived -t` on one balancer host's keepalived.conf.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HostVerdict {
    /// The balancer host of `[load_balancer.ha]`.
    pub host: String,
    /// The file, relative to the output folder.
    pub path: PathBuf,
    pub check: Verdict,
}

/// keepalived's own check of each generated keepalived.conf (none without
/// `[load_balancer.ha]`), where keepalived is installed.
pub fn validate_keepalived(files: &[GeneratedFile]) -> Vec<HostVerdict> {
    validate_keepalived_with(files, &search_path())
}

/// As [`validate_keepalived`], looking for keepalived only in `dirs`.
pub(crate) fn validate_keepalived_with(
    files: &[GeneratedFile],
    dirs: &[PathBuf],
) -> Vec<HostVerdict> {
    let program = find_named(&[KEEPALIVED], dirs);
    files
        .iter()
        .filter_map(|f| keepalived::host_of(&f.path).map(|host| (host, f)))
        .map(|(host, f)| HostVerdict {
            host,
            path: f.path.clone(),
            check: match &program {
                Some(p) => check_keepalived(p, &f.contents),
                None => Verdict::NotInstalled {
                    program: KEEPALIVED.to_string(),
                },
            },
        })
        .collect()
}

pub const KEEPALIVED: &str = "keepalived";

/// `keepalived -t -f` on a harness that includes the file: the harness lets
/// the host's interface be missing here (`dynamic_interfaces`), since the
/// check usually runs on another machine than the balancer host. keepalived
/// -t only reads: it starts nothing and writes no pid file.
fn check_keepalived(program: &Path, contents: &str) -> Verdict {
    let tmp = match temp_folder("mdcluster-keepalived-check-") {
        Ok(t) => t,
        Err(v) => return v,
    };
    let dir = tmp.path();
    let harness = harness().render("keepalived", &Vars::new().set("file", keepalived::FILE));
    let config = dir.join("check-keepalived.conf");
    let staged = harness.map_err(|p| p.to_string()).and_then(|text| {
        std::fs::write(dir.join(keepalived::FILE), contents)
            .and_then(|()| std::fs::write(&config, text))
            .map_err(|e| format!("could not write the files to check: {e}"))
    });
    if let Err(reason) = staged {
        return Verdict::NotChecked { reason };
    }
    let args: Vec<OsString> = vec!["-t".into(), "-f".into(), config.into()];
    let command = std::iter::once(file_name(program))
        .chain(args.iter().map(|a| relative(a, dir)))
        .collect::<Vec<_>>()
        .join(" ");
    // The include is relative: keepalived reads it from the harness's folder.
    match run_bounded(program, &args, dir, CHECK_TIMEOUT) {
        // keepalived -t passes a file it could not open, saying so.
        Ok((_, output)) if output.contains("Config files missing") => Verdict::NotChecked {
            reason: format!("keepalived did not read the file: {}", clean(&output, dir)),
        },
        Ok((true, output)) => Verdict::Passed {
            command,
            output: clean(&output, dir),
        },
        Ok((false, output)) if only_script_warnings(&output) => Verdict::NotChecked {
            reason: format!(
                "`{command}` judges scripts only where they are installed and it runs as root, as on the balancer host (it said: {})",
                clean(&output, dir).replace('\n', " | ")
            ),
        },
        Ok((false, output)) => Verdict::Failed {
            command,
            output: clean(&output, dir),
        },
        Err(reason) => Verdict::NotChecked {
            reason: clean(&reason, dir),
        },
    }
}

/// keepalived -t run by another user than root refuses every script as
/// insecure, and a script missing here (it is the balancer host's, e.g. a
/// `check_script`) as not found (measured with 2.2.7): neither says
/// anything about the file.
fn only_script_warnings(output: &str) -> bool {
    let mut lines = output.lines().map(str::trim).filter(|l| !l.is_empty());
    let mut any = false;
    let all = lines.all(|l| {
        any = true;
        l.starts_with("Disabling track script")
            && (l.ends_with("due to insecure") || l.ends_with("since not found/accessible"))
    });
    any && all
}

/// Where programs are looked for: PATH, then the folders the balancers
/// install to that PATH often lacks (sbin without root on Linux; the
/// archives' usual folders on Windows).
pub fn search_path() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    let extra: &[&str] = if cfg!(windows) {
        &[r"C:\nginx", r"C:\Apache24\bin"]
    } else {
        &["/usr/local/sbin", "/usr/sbin", "/sbin"]
    };
    for d in extra {
        let d = PathBuf::from(d);
        if !dirs.contains(&d) {
            dirs.push(d);
        }
    }
    dirs
}

/// The balancer's program in the first of `dirs` that has one.
pub fn find_program(kind: Kind, dirs: &[PathBuf]) -> Option<PathBuf> {
    find_named(kind.programs(), dirs)
}

/// The first of `programs` found in `dirs`.
pub fn find_named(programs: &[&str], dirs: &[PathBuf]) -> Option<PathBuf> {
    let pathext = std::env::var("PATHEXT").ok();
    let names: Vec<String> = programs
        .iter()
        .flat_map(|name| file_names(name, cfg!(windows), pathext.as_deref()))
        .collect();
    names.iter().find_map(|name| {
        dirs.iter()
            .map(|d| d.join(name))
            .find(|p| p.is_file() && is_executable(p))
    })
}

/// The file names a program may have: on Windows with each extension of
/// PATHEXT (what the command prompt runs), elsewhere the name itself.
fn file_names(name: &str, windows: bool, pathext: Option<&str>) -> Vec<String> {
    if !windows {
        return vec![name.to_string()];
    }
    pathext
        .filter(|p| !p.trim().is_empty())
        .unwrap_or(".COM;.EXE;.BAT;.CMD")
        .split(';')
        .map(str::trim)
        .filter(|ext| ext.starts_with('.') && ext.len() > 1)
        .map(|ext| format!("{name}{}", ext.to_ascii_lowercase()))
        .collect()
}

#[cfg(unix)]
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

/// On Windows the extension makes a file a program, and [`file_names`] asks for those.
#[cfg(not(unix))]
fn is_executable(_: &Path) -> bool {
    true
}

fn harness() -> &'static Blocks {
    static B: OnceLock<Blocks> = OnceLock::new();
    B.get_or_init(|| {
        Blocks::parse(
            "assets/lb/check.tmpl",
            include_str!("../../assets/lb/check.tmpl"),
        )
    })
}

/// nginx: a main configuration that includes the generated files (loading
/// the stream module where this nginx has it as a module).
fn stage_nginx(files: &[GeneratedFile], program: &Path, dir: &Path) -> Result<Staged, String> {
    let d = dir.display().to_string();
    let has = |name: &str| files.iter().any(|f| f.path == Path::new(name));
    let t = harness();
    let include = |name: &str| -> Result<String, String> {
        if !has(name) {
            return Ok(String::new());
        }
        let path = dir.join(name).display().to_string();
        t.render("nginx-include", &Vars::new().set("path", path))
            .map_err(|p| p.to_string())
    };
    let load_module = if has(nginx::STREAM_FILE) {
        match nginx_stream_module(program)? {
            Some(path) => t
                .render("nginx-load-module", &Vars::new().set("path", path))
                .map_err(|p| p.to_string())?,
            None => String::new(),
        }
    } else {
        String::new()
    };
    let text = t
        .render(
            "nginx",
            &Vars::new()
                .set("dir", d.clone())
                .set("load_module", load_module)
                .set("http", include(nginx::HTTP_FILE)?)
                .set("stream", include(nginx::STREAM_FILE)?),
        )
        .map_err(|p| p.to_string())?;
    let config = dir.join("check-nginx.conf");
    std::fs::write(&config, text).map_err(|e| format!("could not write the harness: {e}"))?;
    Ok(Staged {
        program: program.to_path_buf(),
        check_args: vec![
            "-e".into(),
            dir.join("error.log").into(),
            "-t".into(),
            "-c".into(),
            config.clone().into(),
            "-p".into(),
            format!("{d}/").into(),
        ],
        config,
    })
}

/// Apache: a main configuration that loads the modules the site needs and
/// includes it.
fn stage_apache(program: &Path, dir: &Path) -> Result<Staged, String> {
    let d = dir.display().to_string();
    let t = harness();
    let mut modules = String::new();
    for (name, path) in apache_modules(program)? {
        modules.push_str(
            &t.render(
                "apache-load-module",
                &Vars::new().set("name", name).set("path", path),
            )
            .map_err(|p| p.to_string())?,
        );
    }
    let text = t
        .render(
            "apache",
            &Vars::new()
                .set("dir", d.clone())
                .set("modules", modules)
                .set("site", apache::SITE_FILE),
        )
        .map_err(|p| p.to_string())?;
    let config = dir.join("check-httpd.conf");
    std::fs::write(&config, text).map_err(|e| format!("could not write the harness: {e}"))?;
    Ok(Staged {
        program: program.to_path_buf(),
        check_args: vec!["-t".into(), "-f".into(), config.clone().into()],
        config,
    })
}

/// Write `files` below `dir` and the main configuration around them. Errors
/// are reasons the check cannot run here.
pub fn stage(
    kind: Kind,
    files: &[GeneratedFile],
    program: &Path,
    dir: &Path,
) -> Result<Staged, String> {
    for f in files {
        let path = dir.join(&f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("could not create {}: {e}", parent.display()))?;
        }
        std::fs::write(&path, &f.contents)
            .map_err(|e| format!("could not write {}: {e}", path.display()))?;
    }
    match kind {
        Kind::Haproxy => {
            let config = dir.join(super::haproxy::FILE);
            Ok(Staged {
                program: program.to_path_buf(),
                check_args: vec!["-c".into(), "-f".into(), config.clone().into()],
                config,
            })
        }
        Kind::Nginx => stage_nginx(files, program, dir),
        Kind::Apache => stage_apache(program, dir),
    }
}

/// The stream module to load, `None` when it is built in. Debian/Ubuntu ship
/// it as a separate package.
fn nginx_stream_module(program: &Path) -> Result<Option<String>, String> {
    let tmp =
        tempfile::tempdir().map_err(|e| format!("could not create a temporary folder: {e}"))?;
    let (_, info) = run_bounded(program, &["-V".into()], tmp.path(), CHECK_TIMEOUT)?;
    let args: Vec<&str> = info.split_whitespace().collect();
    if args.contains(&"--with-stream") {
        return Ok(None);
    }
    if !args.contains(&"--with-stream=dynamic") {
        return Err(
            "this nginx was built without the stream module, which the TCP services need".into(),
        );
    }
    let dir = args
        .iter()
        .find_map(|a| a.strip_prefix("--modules-path="))
        .unwrap_or("/usr/lib/nginx/modules");
    let path = Path::new(dir).join("ngx_stream_module.so");
    if path.is_file() {
        Ok(Some(path.display().to_string()))
    } else {
        Err(format!(
            "nginx's stream module is not installed ({} is missing; Debian/Ubuntu: apt-get install libnginx-mod-stream)",
            path.display()
        ))
    }
}

/// The modules the generated Apache files use, as (identifier, file) pairs
/// for those not built into the server.
fn apache_modules(program: &Path) -> Result<Vec<(String, String)>, String> {
    let tmp =
        tempfile::tempdir().map_err(|e| format!("could not create a temporary folder: {e}"))?;
    let (_, built_in) = run_bounded(program, &["-l".into()], tmp.path(), CHECK_TIMEOUT)?;
    let (_, settings) = run_bounded(program, &["-V".into()], tmp.path(), CHECK_TIMEOUT)?;
    let root = settings
        .lines()
        .find_map(|l| l.trim().strip_prefix("-D HTTPD_ROOT=\""))
        .map(|r| r.trim_end_matches('"').to_string());
    let mut dirs: Vec<PathBuf> = [
        "/usr/lib/apache2/modules",
        "/usr/lib64/httpd/modules",
        "/usr/lib/httpd/modules",
        "/usr/local/apache2/modules",
        "/usr/libexec/apache2",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    if let Some(root) = root {
        dirs.insert(0, Path::new(&root).join("modules"));
    }
    let compiled = |source: &str| built_in.lines().any(|l| l.trim() == source);
    let mut wanted: Vec<(&str, &str, &str)> = Vec::new();
    if !["event.c", "worker.c", "prefork.c"]
        .iter()
        .any(|m| compiled(m))
    {
        wanted.push(("mpm_event_module", "mod_mpm_event.so", "event.c"));
    }
    wanted.extend([
        ("unixd_module", "mod_unixd.so", "mod_unixd.c"),
        ("authz_core_module", "mod_authz_core.so", "mod_authz_core.c"),
        ("headers_module", "mod_headers.so", "mod_headers.c"),
        ("rewrite_module", "mod_rewrite.so", "mod_rewrite.c"),
        (
            "slotmem_shm_module",
            "mod_slotmem_shm.so",
            "mod_slotmem_shm.c",
        ),
        ("proxy_module", "mod_proxy.so", "mod_proxy.c"),
        ("proxy_http_module", "mod_proxy_http.so", "mod_proxy_http.c"),
        (
            "proxy_balancer_module",
            "mod_proxy_balancer.so",
            "mod_proxy_balancer.c",
        ),
        (
            "lbmethod_byrequests_module",
            "mod_lbmethod_byrequests.so",
            "mod_lbmethod_byrequests.c",
        ),
    ]);
    let mut out = Vec::new();
    for (id, file, source) in wanted {
        if compiled(source) {
            continue;
        }
        match dirs.iter().map(|d| d.join(file)).find(|p| p.is_file()) {
            Some(p) => out.push((id.to_string(), p.display().to_string())),
            // mod_unixd is built into Debian's server and a module elsewhere.
            None if id == "unixd_module" => {}
            None => {
                return Err(format!(
                    "Apache's module {file} was not found (looked in {})",
                    dirs.iter()
                        .map(|d| d.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
        }
    }
    Ok(out)
}

/// A temporary folder for a check, or the verdict that it could not run.
fn temp_folder(prefix: &str) -> Result<tempfile::TempDir, Verdict> {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map_err(|e| Verdict::NotChecked {
            reason: format!("could not create a temporary folder: {e}"),
        })
}

/// Run a program with a deadline; stdout and stderr go to files in `dir`
/// (no pipe can fill up). Returns (exit status 0, combined output).
pub(crate) fn run_bounded(
    program: &Path,
    args: &[OsString],
    dir: &Path,
    timeout: Duration,
) -> Result<(bool, String), String> {
    let out_path = dir.join(".check-output");
    let out = std::fs::File::create(&out_path)
        .map_err(|e| format!("could not create {}: {e}", out_path.display()))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("could not prepare the output file: {e}"))?;
    let mut child = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("could not start {}: {e}", program.display()))?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > timeout => {
                // Only the child we started, by its handle.
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{} did not finish within {} s and was stopped",
                    file_name(program),
                    timeout.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("could not wait for {}: {e}", program.display())),
        }
    };
    let output = std::fs::read(&out_path).unwrap_or_default();
    let _ = std::fs::remove_file(&out_path);
    Ok((
        status.success(),
        String::from_utf8_lossy(&output).into_owned(),
    ))
}

/// An argument as shown: paths in the temporary folder relative to it.
fn relative(arg: &OsString, dir: &Path) -> String {
    let a = Path::new(arg);
    match a.strip_prefix(dir) {
        Ok(rest) if rest.as_os_str().is_empty() => ".".to_string(),
        Ok(rest) => rest.display().to_string(),
        Err(_) => crate::text::sanitize(&arg.to_string_lossy()).into_owned(),
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

/// Output as it can be shown: paths in the temporary folder made relative,
/// control characters escaped, long output cut.
fn clean(text: &str, dir: &Path) -> String {
    let native = dir.display().to_string();
    let mut text = text.to_string();
    // A balancer on Windows may write the folder with either separator.
    for d in [native.replace('\\', "/"), native] {
        text = text
            .replace(&format!("{d}/"), "")
            .replace(&format!("{d}\\"), "")
            .replace(&d, ".");
    }
    let lines: Vec<String> = text
        .lines()
        .map(|l| crate::text::sanitize(l.trim_end()).into_owned())
        .collect();
    let mut out: Vec<String> = lines.iter().take(MAX_LINES).cloned().collect();
    if lines.len() > MAX_LINES {
        out.push(format!("... ({} more lines)", lines.len() - MAX_LINES));
    }
    out.join("\n").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_temporary_folder_is_left_out_of_what_the_check_said() {
        for dir in ["/tmp/mdcluster-lb-check-1", r"C:\Temp\mdcluster-lb-check-1"] {
            let said = format!(
                "parsing [{dir}/haproxy.cfg:42] and [{dir}\\haproxy.cfg:7] and [{}/x.conf:1] in {dir}",
                dir.replace('\\', "/")
            );
            assert_eq!(
                clean(&said, Path::new(dir)),
                "parsing [haproxy.cfg:42] and [haproxy.cfg:7] and [x.conf:1] in ."
            );
        }
    }

    #[test]
    fn only_scripts_refused_as_insecure_or_missing_here_are_not_a_failure() {
        assert!(only_script_warnings(
            "Disabling track script mdcluster_health due to insecure\n"
        ));
        assert!(only_script_warnings(
            "Disabling track script mdcluster_balancer since not found/accessible\nDisabling track script mdcluster_health due to insecure\n"
        ));
        for other in [
            "",
            "Disabling track script mdcluster_health due to insecure\n(keepalived.conf: Line 3) Unknown keyword 'x'",
            "(keepalived.conf: Line 15) number '999' outside range [1, 255]",
            "Disabling track script x since not found/accessible and more",
        ] {
            assert!(!only_script_warnings(other), "{other}");
        }
    }

    #[test]
    fn windows_programs_carry_an_extension_from_pathext() {
        assert_eq!(file_names("nginx", false, Some(".EXE")), ["nginx"]);
        assert_eq!(
            file_names("nginx", true, None),
            ["nginx.com", "nginx.exe", "nginx.bat", "nginx.cmd"]
        );
        assert_eq!(
            file_names("httpd", true, Some(" .EXE ; ;.Ps1;bad;.")),
            ["httpd.exe", "httpd.ps1"]
        );
        assert_eq!(file_names("haproxy", true, Some("  ")).len(), 4);
    }

    #[test]
    fn the_balancer_is_found_where_it_is_installed() {
        let dir = tempfile::tempdir().unwrap();
        let empty = tempfile::tempdir().unwrap();
        let dirs = [empty.path().to_path_buf(), dir.path().to_path_buf()];
        assert_eq!(find_program(Kind::Nginx, &dirs), None);
        let name = if cfg!(windows) { "nginx.exe" } else { "nginx" };
        let program = dir.path().join(name);
        std::fs::write(&program, b"").unwrap();
        #[cfg(unix)]
        {
            // Not executable: not a program.
            assert_eq!(find_program(Kind::Nginx, &dirs), None);
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        assert_eq!(find_program(Kind::Nginx, &dirs), Some(program));
        // A folder of the program's name is not the program.
        std::fs::create_dir(empty.path().join(name)).unwrap();
        assert_eq!(
            find_program(Kind::Nginx, &dirs).unwrap().parent(),
            Some(dir.path())
        );
    }
}
