//! keepalived (ACTIVE_STANDBY's VRRP) as upstream's agent runs it
//! (`api_server/keepalived.py`, `util.vrrp_check_script_update`), without
//! systemd: one daemon in the inner namespace, its pid files and config
//! under `{base_dir}/vrrp`, started, reloaded (SIGHUP) and stopped by the
//! agent.
//!
//! The VRRP check (`vrrp_script` of the rendered config) is upstream's
//! pair: `vrrp/check_script.sh` runs every file in `vrrp/check_scripts/`,
//! whose `haproxy_check_script.sh` asks each load balancer's haproxy for
//! its stats on the stats socket (upstream's `haproxy-vrrp-check`, here a
//! small Python program of ours next to it).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::AgentConfig;
use crate::haproxy::{self, Paths};

/// Where upstream's config points `vrrp_script check_script` (and the
/// controller's rendering must): `{base_dir}/vrrp/check_script.sh`.
pub fn check_script_path(base_dir: &Path) -> PathBuf {
    base_dir.join("vrrp").join("check_script.sh")
}

struct Files {
    dir: PathBuf,
}

impl Files {
    fn of(cfg: &AgentConfig) -> Files {
        Files {
            dir: Paths(cfg).vrrp_dir(),
        }
    }
    fn conf(&self) -> PathBuf {
        self.dir.join("octavia-keepalived.conf")
    }
    fn pid(&self) -> PathBuf {
        self.dir.join("octavia-keepalived.pid")
    }
    /// The children's pid files. keepalived's defaults are host-wide
    /// (`/run/keepalived_vrrp.pid`, ...), and a second keepalived finding
    /// a live pid there refuses to start: amphorae sharing a host each
    /// need their own.
    fn child_pids(&self) -> [PathBuf; 3] {
        [
            self.dir.join("octavia-keepalived-vrrp.pid"),
            self.dir.join("octavia-keepalived-checkers.pid"),
            self.dir.join("octavia-keepalived-bfd.pid"),
        ]
    }
    fn check_scripts_dir(&self) -> PathBuf {
        self.dir.join("check_scripts")
    }
    fn haproxy_check(&self) -> PathBuf {
        self.check_scripts_dir().join("haproxy_check_script.sh")
    }
    fn vrrp_check_program(&self) -> PathBuf {
        self.dir.join("haproxy-vrrp-check.py")
    }
}

/// Upstream's `keepalived_check_script.conf.j2`: the sum of the exit
/// statuses of every check script.
fn check_script_text(dir: &Path) -> String {
    format!(
        "#!/bin/bash\n\n\
         # Don't try to run the directory when it is empty\n\
         shopt -s nullglob\n\n\
         status=0\n\
         for file in {}/*\n\
         do\n\
         \x20 echo \"Running check script: \" $file\n\
         \x20 bash $file\n\
         \x20 status=$(( $status + $? ))\n\
         done\n\
         exit $status\n",
        shell_quote(&dir.display().to_string())
    )
}

/// Exit 0 when every stats socket named answers `show stat` with
/// something, 1 otherwise (a socket that refuses, times out after 5 s or
/// says nothing): what upstream's `haproxy-vrrp-check` decides.
const VRRP_CHECK_PROGRAM: &str = r#"import socket
import sys


def answers(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect(path)
        s.sendall(b"show stat -1 -1 -1\n")
        got = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        return len(got) > 0
    except OSError:
        return False
    finally:
        s.close()


sys.exit(0 if all(answers(p) for p in sys.argv[1:]) else 1)
"#;

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn python() -> PathBuf {
    // Scripts run with keepalived's environment; an absolute path does not
    // depend on its PATH.
    let system = Path::new("/usr/bin/python3");
    if system.exists() {
        return system.to_path_buf();
    }
    std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("python3"))
                .find(|p| p.exists())
        })
        .unwrap_or_else(|| "python3".into())
}

fn write_mode(path: &Path, data: impl AsRef<[u8]>, mode: u32) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp-write");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)?;
    f.write_all(data.as_ref())?;
    f.sync_all()?;
    std::fs::rename(tmp, path)
}

/// The stats socket of a stored haproxy config (`stats socket PATH ...`).
pub fn stats_socket(cfg_text: &str) -> Option<String> {
    cfg_text.lines().find_map(|l| {
        let mut w = l.split_whitespace();
        (w.next() == Some("stats") && w.next() == Some("socket"))
            .then(|| w.next().map(str::to_string))
            .flatten()
    })
}

/// Upstream's `vrrp_check_script_update(lb_id, action)`: the haproxy check
/// names the stats socket of every load balancer with a config, but the
/// one being stopped (`stopping`); with no load balancer at all the check
/// fails (`exit 1`), so that an amphora without haproxy never holds the VIP.
pub fn update_haproxy_check(cfg: &AgentConfig, stopping: Option<&str>) -> std::io::Result<()> {
    let f = Files::of(cfg);
    std::fs::create_dir_all(f.check_scripts_dir())?;
    let lbs = haproxy::loadbalancers(cfg);
    if lbs.is_empty() {
        return write_mode(&f.haproxy_check(), "exit 1", 0o644);
    }
    let mut args = Vec::new();
    for lb in lbs.iter().filter(|lb| Some(lb.as_str()) != stopping) {
        let text = std::fs::read_to_string(Paths(cfg).cfg(lb)).unwrap_or_default();
        match stats_socket(&text) {
            Some(sock) => args.push(shell_quote(&sock)),
            // Nothing to ask: this haproxy cannot be told alive.
            None => return write_mode(&f.haproxy_check(), "exit 1", 0o644),
        }
    }
    let cmd = format!(
        "{} {} {}; exit $?",
        shell_quote(&python().display().to_string()),
        shell_quote(&f.vrrp_check_program().display().to_string()),
        args.join(" ")
    );
    write_mode(&f.haproxy_check(), cmd, 0o644)
}

/// Whether the VRRP check scripts are in place (upstream's test for
/// "this amphora runs VRRP" when a load balancer is deleted).
pub fn enabled(cfg: &AgentConfig) -> bool {
    check_script_path(&cfg.base_dir).exists()
}

/// Writes the check scripts (upstream does on upload).
fn write_check_scripts(cfg: &AgentConfig) -> std::io::Result<()> {
    let f = Files::of(cfg);
    std::fs::create_dir_all(f.check_scripts_dir())?;
    write_mode(&f.vrrp_check_program(), VRRP_CHECK_PROGRAM, 0o644)?;
    write_mode(
        &check_script_path(&cfg.base_dir),
        check_script_text(&f.check_scripts_dir()),
        0o755,
    )?;
    update_haproxy_check(cfg, None)
}

/// What keepalived reports about upstream's own configs and runs them
/// anyway: a script without `enable_script_security` (upstream's config
/// has one and does not set it), authentication under VRRP version 3
/// (an IPv6 VRRP address).
const HARMLESS: &[&str] = &[
    "SECURITY VIOLATION - scripts are being executed but script_security not enabled",
    "VRRP version 3 does not support authentication",
];

/// `keepalived -t -f file` in the inner namespace (it checks that the
/// interfaces exist): Err(its report) unless it is clean, or reports only
/// [`HARMLESS`] things.
async fn config_test(cfg: &AgentConfig, file: &Path) -> Result<(), String> {
    let mut c = haproxy::ns_command(cfg, &cfg.keepalived_cmd);
    c.arg("-t").arg("-f").arg(file);
    let (ok, out) = match haproxy::run(c).await {
        Ok(out) => (true, out),
        Err(out) => (false, out),
    };
    let other = out
        .lines()
        .any(|l| !l.trim().is_empty() && !HARMLESS.iter().any(|h| l.contains(h)));
    if ok || !other {
        Ok(())
    } else if out.trim().is_empty() {
        Err("keepalived -t failed".into())
    } else {
        Err(out)
    }
}

pub enum UploadError {
    /// The config was refused; keepalived's report.
    Invalid(String),
    Io(std::io::Error),
}

/// Upstream's `upload_keepalived_config`, with a `keepalived -t` first:
/// the check scripts are (re)written, then the config replaces the stored
/// one only if keepalived accepts it (a refused one is kept aside as
/// `octavia-keepalived.conf.new-failed`).
pub async fn upload(cfg: &AgentConfig, body: &[u8]) -> Result<(), UploadError> {
    // keepalived -t wants the check script to exist; if this upload made
    // it, a refusal takes it away again.
    let first = !enabled(cfg);
    // The test runs where keepalived will (the VRRP interface is there).
    haproxy::ensure_namespace(cfg)
        .await
        .map_err(|e| UploadError::Io(std::io::Error::other(e)))?;
    write_check_scripts(cfg).map_err(UploadError::Io)?;
    let f = Files::of(cfg);
    let new = f.conf().with_extension("conf.new");
    write_mode(&new, body, 0o644).map_err(UploadError::Io)?;
    if let Err(out) = config_test(cfg, &new).await {
        let _ = std::fs::rename(&new, f.conf().with_extension("conf.new-failed"));
        if first {
            let _ = std::fs::remove_file(check_script_path(&cfg.base_dir));
            let _ = std::fs::remove_file(f.vrrp_check_program());
            let _ = std::fs::remove_dir_all(f.check_scripts_dir());
        }
        return Err(UploadError::Invalid(out));
    }
    std::fs::rename(&new, f.conf()).map_err(UploadError::Io)
}

/// keepalived's processes: the parent named by the pid file when its
/// command line is ours, its children (their pid files, and whatever runs
/// in its session: the VRRP child, check scripts), and any process
/// started with our config file.
fn processes(cfg: &AgentConfig) -> Vec<i32> {
    let f = Files::of(cfg);
    let conf = f.conf();
    let mut pids: Vec<i32> = haproxy::live_pids(&f.pid())
        .into_iter()
        .chain(f.child_pids().iter().flat_map(|p| haproxy::live_pids(p)))
        .filter(|p| haproxy::cmdline_has(*p, &conf))
        .collect();
    for p in haproxy::serving(&conf) {
        if !pids.contains(&p) {
            pids.push(p);
        }
    }
    let sessions = pids.clone();
    for p in haproxy::in_sessions(&sessions) {
        if !pids.contains(&p) {
            pids.push(p);
        }
    }
    pids
}

/// Whether a keepalived config was uploaded (upstream's heartbeat sender
/// then sends only while keepalived runs).
pub fn configured(cfg: &AgentConfig) -> bool {
    Files::of(cfg).conf().is_file()
}

/// The running parent's pid, if any.
pub fn running(cfg: &AgentConfig) -> Option<i32> {
    let f = Files::of(cfg);
    haproxy::live_pids(&f.pid())
        .into_iter()
        .find(|p| haproxy::cmdline_has(*p, &f.conf()))
}

/// Starts keepalived as a daemon in the inner namespace and waits for its
/// pid file (systemd's `Type=forking` with `PIDFile=`).
pub async fn start(cfg: &AgentConfig) -> Result<(), String> {
    let f = Files::of(cfg);
    if !f.conf().exists() {
        return Err(format!(
            "{} does not exist: no configuration was uploaded",
            f.conf().display()
        ));
    }
    haproxy::ensure_namespace(cfg).await?;
    // Pid files of a keepalived that did not exit cleanly: keepalived
    // takes a zombie for a running daemon and would refuse to start.
    for p in std::iter::once(f.pid()).chain(f.child_pids()) {
        if haproxy::live_pids(&p).is_empty() {
            let _ = std::fs::remove_file(&p);
        }
    }
    let [vrrp, checkers, bfd] = f.child_pids();
    let mut c = haproxy::ns_command(cfg, &cfg.keepalived_cmd);
    c.arg("-f")
        .arg(f.conf())
        .arg("-p")
        .arg(f.pid())
        .arg("-r")
        .arg(vrrp)
        .arg("-c")
        .arg(checkers)
        .arg("-b")
        .arg(bfd);
    let out = haproxy::run(c).await?;
    for _ in 0..200 {
        if running(cfg).is_some() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Whatever it left must not run on.
    let _ = stop(cfg).await;
    Err(format!(
        "keepalived did not start (no live pid in {}): {}",
        f.pid().display(),
        out.trim()
    ))
}

/// SIGHUP: keepalived rereads its config (systemd's `ExecReload`).
pub fn reload(cfg: &AgentConfig) -> Result<(), String> {
    let Some(pid) = running(cfg) else {
        return Err("octavia-keepalived is not running".into());
    };
    let p = rustix::process::Pid::from_raw(pid).ok_or("bad pid")?;
    rustix::process::kill_process(p, rustix::process::Signal::HUP).map_err(|e| e.to_string())
}

/// Stops keepalived: SIGTERM to the parent, which stops its children (the
/// VRRP child gives the VIP up with a priority 0 advertisement), then
/// waits until none of its processes is left, killing what remains after
/// 5 s. Done when nothing was running.
pub async fn stop(cfg: &AgentConfig) -> Result<(), String> {
    use rustix::process::{Pid, Signal, kill_process};
    let f = Files::of(cfg);
    let mut pids = processes(cfg);
    if let Some(parent) = running(cfg).and_then(Pid::from_raw) {
        let _ = kill_process(parent, Signal::TERM);
    } else {
        for p in pids.iter().filter_map(|p| Pid::from_raw(*p)) {
            let _ = kill_process(p, Signal::TERM);
        }
    }
    for i in 0..200 {
        // Children a stopping parent or child starts (a check script) join.
        for p in processes(cfg) {
            if !pids.contains(&p) {
                pids.push(p);
            }
        }
        if pids.iter().all(|p| !haproxy::pid_alive(*p)) {
            for p in std::iter::once(f.pid()).chain(f.child_pids()) {
                let _ = std::fs::remove_file(p);
            }
            return Ok(());
        }
        if i == 100 {
            for p in pids.iter().filter_map(|p| Pid::from_raw(*p)) {
                let _ = kill_process(p, Signal::KILL);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let left: Vec<i32> = pids
        .into_iter()
        .filter(|p| haproxy::pid_alive(*p))
        .collect();
    Err(format!("keepalived processes {left:?} did not exit"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_socket_is_read_from_the_config() {
        let cfg =
            "global\n    daemon\n    stats socket /var/lib/octavia/x.sock mode 0666 level user\n";
        assert_eq!(
            stats_socket(cfg).as_deref(),
            Some("/var/lib/octavia/x.sock")
        );
        assert_eq!(stats_socket("global\n    daemon\n"), None);
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("/a b/c'd"), r"'/a b/c'\''d'");
    }
}
