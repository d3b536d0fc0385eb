//! haproxy processes, one per load balancer, as daemons with pid files
//! under the base dir; the inner namespace; process lookups in /proc.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use sha1::Digest;

use crate::AgentConfig;

/// Upstream `octavia_utils.base64_sha1_string(amphora_id).rstrip('=')`.
pub fn peer_name(amphora_id: &str) -> String {
    let digest = sha1::Sha1::digest(amphora_id.as_bytes());
    let b64 = base64::engine::general_purpose::STANDARD.encode(digest);
    let b64 = b64.replace('+', "_").replace('/', "-");
    let b64 = match b64.strip_prefix('-') {
        Some(rest) => format!("x{rest}"),
        None => b64,
    };
    b64.trim_end_matches('=').to_string()
}

pub fn md5_hex(data: &[u8]) -> String {
    use std::fmt::Write;
    let d = md5::Md5::digest(data);
    d.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Ids used as directory names: uuids and the like, nothing path-like.
pub fn safe_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub struct Paths<'a>(pub &'a AgentConfig);

impl Paths<'_> {
    pub fn lb_root(&self) -> PathBuf {
        self.0.base_dir.join("lb")
    }
    pub fn lb_dir(&self, lb: &str) -> PathBuf {
        self.lb_root().join(lb)
    }
    pub fn cfg(&self, lb: &str) -> PathBuf {
        self.lb_dir(lb).join("haproxy.cfg")
    }
    pub fn pid(&self, lb: &str) -> PathBuf {
        self.lb_dir(lb).join(format!("{lb}.pid"))
    }
    pub fn user_group(&self) -> PathBuf {
        self.0.base_dir.join("haproxy-user-group.cfg")
    }
    pub fn cert_dir(&self, lb: &str) -> PathBuf {
        self.0.base_dir.join("certs").join(lb)
    }
    pub fn vrrp_dir(&self) -> PathBuf {
        self.0.base_dir.join("vrrp")
    }
}

/// Load balancers with a stored haproxy config.
pub fn loadbalancers(cfg: &AgentConfig) -> Vec<String> {
    let p = Paths(cfg);
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(p.lb_root()) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if safe_id(&name) && p.cfg(&name).exists() {
                out.push(name);
            }
        }
    }
    out.sort();
    out
}

/// A command, run inside the inner namespace when one is configured.
pub fn ns_command(cfg: &AgentConfig, prog: &Path) -> tokio::process::Command {
    match &cfg.inner_namespace {
        Some(ns) => {
            let mut c = tokio::process::Command::new(&cfg.ip_cmd);
            c.arg("netns").arg("exec").arg(ns).arg(prog);
            c
        }
        None => tokio::process::Command::new(prog),
    }
}

/// Runs a command to completion (60 s at most); Ok(output) on exit 0,
/// Err(output) otherwise; output = stdout + stderr.
pub async fn run(mut cmd: tokio::process::Command) -> Result<String, String> {
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let out = match tokio::time::timeout(Duration::from_secs(60), cmd.output()).await {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => return Err(format!("{e}")),
        Err(_) => return Err("timed out".into()),
    };
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    if out.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}

/// Ensures the inner namespace exists (no-op without one).
pub async fn ensure_namespace(cfg: &AgentConfig) -> Result<(), String> {
    let Some(ns) = &cfg.inner_namespace else {
        return Ok(());
    };
    if Path::new("/run/netns").join(ns).exists() {
        return Ok(());
    }
    let mut c = tokio::process::Command::new(&cfg.ip_cmd);
    c.args(["netns", "add"]).arg(ns);
    run(c).await?;
    // As upstream's amphora-netns unit: haproxy's health checks and stats
    // may use 127.0.0.1 in there.
    let mut c = tokio::process::Command::new(&cfg.ip_cmd);
    c.args(["-n", ns, "link", "set", "dev", "lo", "up"]);
    run(c).await?;
    nonlocal_bind(cfg).await;
    Ok(())
}

/// `net.ipv{4,6}.ip_nonlocal_bind=1` in the inner namespace, as upstream's
/// amphora image sets it (its sysctl.d, loaded into amphora-haproxy by the
/// amphora-netns unit): haproxy binds the VIP on an ACTIVE_STANDBY BACKUP,
/// where keepalived has not added it. Only with an inner namespace: the
/// agent's own namespace is its host's business. Failures are logged, as
/// upstream's unit ignores them.
pub async fn nonlocal_bind(cfg: &AgentConfig) {
    let Some(ns) = &cfg.inner_namespace else {
        return;
    };
    let mut c = tokio::process::Command::new(&cfg.ip_cmd);
    c.args(["netns", "exec", ns, "sysctl", "-w"])
        .args(["net.ipv4.ip_nonlocal_bind=1", "net.ipv6.ip_nonlocal_bind=1"]);
    if let Err(e) = run(c).await {
        tracing::warn!(namespace = %ns, error = %e, "setting ip_nonlocal_bind failed");
    }
}

/// The group haproxy runs as (upstream auto-detects `haproxy` or `nogroup`).
pub fn write_user_group(cfg: &AgentConfig) -> std::io::Result<PathBuf> {
    let groups = std::fs::read_to_string("/etc/group").unwrap_or_default();
    let group = if groups.lines().any(|l| l.starts_with("haproxy:")) {
        "haproxy"
    } else {
        "nogroup"
    };
    let path = Paths(cfg).user_group();
    // An amphora sharing its host (a namespace, not a VM of its own) may
    // not raise its open-file limit to what `maxconn` asks for; haproxy
    // then serves within the limit it has instead of refusing to start.
    std::fs::write(
        &path,
        format!("global\n    group {group}\n    no strict-limits\n"),
    )?;
    Ok(path)
}

/// `haproxy -c -L peer -f file -f user-group.cfg`.
pub async fn check(cfg: &AgentConfig, file: &Path) -> Result<String, String> {
    let ug = write_user_group(cfg).map_err(|e| e.to_string())?;
    let mut c = tokio::process::Command::new(&cfg.haproxy_cmd);
    c.arg("-c")
        .arg("-L")
        .arg(peer_name(&cfg.amphora_id))
        .arg("-f")
        .arg(file)
        .arg("-f")
        .arg(ug);
    run(c).await
}

pub fn pid_alive(pid: i32) -> bool {
    // A zombie (nobody reaped it yet) counts as gone, but only once every
    // thread is: a multi-threaded haproxy whose main thread exited first
    // shows its leader as a zombie while other threads still hold the
    // listening sockets.
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.filter_map(Result::ok).any(|t| {
        std::fs::read_to_string(t.path().join("stat")).is_ok_and(|stat| {
            stat.rsplit_once(')').is_some_and(|(_, rest)| {
                let state = rest.trim_start();
                !state.starts_with('Z') && !state.starts_with('X')
            })
        })
    })
}

/// Whether `pid`'s command line has `arg` as one of its arguments.
pub fn cmdline_has(pid: i32, arg: &Path) -> bool {
    let want = arg.as_os_str().as_encoded_bytes();
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|c| c.split(|b| *b == 0).any(|a| a == want))
}

fn all_pids() -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .collect()
}

/// Live processes in the sessions led by `leaders` (a daemon that called
/// setsid, and everything it started that did not leave its session).
pub fn in_sessions(leaders: &[i32]) -> Vec<i32> {
    if leaders.is_empty() {
        return Vec::new();
    }
    all_pids()
        .into_iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                // After the command name: state ppid pgrp session.
                stat.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(3)?.parse::<i32>().ok())
                    .is_some_and(|sid| leaders.contains(&sid))
            })
        })
        .filter(|pid| pid_alive(*pid))
        .collect()
}

/// Live processes whose command line names `config` (haproxy's `-f`).
pub fn serving(config: &Path) -> Vec<i32> {
    all_pids()
        .into_iter()
        .filter(|pid| cmdline_has(*pid, config))
        .filter(|pid| pid_alive(*pid))
        .collect()
}

/// Pids from a pid file that are still running.
pub fn live_pids(pid_file: &Path) -> Vec<i32> {
    std::fs::read_to_string(pid_file)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|s| s.parse::<i32>().ok())
        .filter(|p| *p > 0 && pid_alive(*p))
        .collect()
}

pub fn running(cfg: &AgentConfig, lb: &str) -> bool {
    !live_pids(&Paths(cfg).pid(lb)).is_empty()
}

/// Starts haproxy as a daemon, or, with `old` pids, reloads (`-sf`).
pub async fn start(cfg: &AgentConfig, lb: &str, old: &[i32]) -> Result<String, String> {
    ensure_namespace(cfg).await?;
    let p = Paths(cfg);
    let ug = write_user_group(cfg).map_err(|e| e.to_string())?;
    let mut c = ns_command(cfg, &cfg.haproxy_cmd);
    c.arg("-D")
        .arg("-L")
        .arg(peer_name(&cfg.amphora_id))
        .arg("-p")
        .arg(p.pid(lb))
        .arg("-f")
        .arg(p.cfg(lb))
        .arg("-f")
        .arg(ug);
    if !old.is_empty() {
        c.arg("-sf");
        for pid in old {
            c.arg(pid.to_string());
        }
    }
    run(c).await
}

/// Signals the pids and waits (10 s, then SIGKILL) until they are gone.
pub async fn kill_and_wait(pids: &[i32]) -> Result<(), String> {
    use rustix::process::{Pid, Signal, kill_process};
    for &pid in pids {
        if let Some(p) = Pid::from_raw(pid) {
            let _ = kill_process(p, Signal::TERM);
        }
    }
    for i in 0..200 {
        if pids.iter().all(|p| !pid_alive(*p)) {
            return Ok(());
        }
        if i == 100 {
            for &pid in pids {
                if let Some(p) = Pid::from_raw(pid) {
                    let _ = kill_process(p, Signal::KILL);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("processes {pids:?} did not exit"))
}

pub async fn stop(cfg: &AgentConfig, lb: &str) -> Result<(), String> {
    let pid_file = Paths(cfg).pid(lb);
    let mut pids = live_pids(&pid_file);
    // A process of a reload the pid file no longer names (a `-sf`
    // predecessor still finishing, or one that lost a race on the file)
    // serves this load balancer too: it runs with its config file.
    for p in serving(&Paths(cfg).cfg(lb)) {
        if !pids.contains(&p) {
            pids.push(p);
        }
    }
    kill_and_wait(&pids).await?;
    let _ = std::fs::remove_file(pid_file);
    Ok(())
}

/// Listener ids (`frontend X`) and their modes in a stored config.
pub fn listeners_in(cfg_text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut current: Option<usize> = None;
    for line in cfg_text.lines() {
        let t = line.trim();
        if let Some(rest) = line.strip_prefix("frontend ") {
            out.push((rest.trim().to_string(), "TCP".into()));
            current = Some(out.len() - 1);
        } else if !line.starts_with(char::is_whitespace) && !t.is_empty() {
            current = None;
        } else if let Some(i) = current {
            if let Some(mode) = t.strip_prefix("mode ") {
                if out[i].1 != "TERMINATED_HTTPS" {
                    out[i].1 = mode.trim().to_ascii_uppercase();
                }
            } else if t.starts_with("bind ") && t.contains(" ssl ") && t.contains(" crt") {
                out[i].1 = "TERMINATED_HTTPS".into();
            }
        }
    }
    out
}
