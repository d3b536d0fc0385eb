//! Child daemons and their supervision: each runs in the foreground (no
//! `--detach`), in its own process group, and is restarted with backoff
//! when it dies; stopping one touches only its own PID.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustix::process::Signal;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::watch;

use crate::host;
use crate::unixctl;

const BACKOFF_MIN: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// A run this long resets the backoff: the daemon was healthy.
const HEALTHY_RUN: Duration = Duration::from_secs(30);
const STDERR_LINES: usize = 20;

/// The daemons a chassis may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Daemon {
    /// ovsdb-server for OVN_Northbound.
    NbDb,
    /// ovsdb-server for OVN_Southbound.
    SbDb,
    /// ovsdb-server for the local Open_vSwitch database.
    OvsDb,
    Northd,
    Vswitchd,
    Controller,
}

impl Daemon {
    pub const ALL: [Daemon; 6] = [
        Daemon::NbDb,
        Daemon::SbDb,
        Daemon::OvsDb,
        Daemon::Northd,
        Daemon::Vswitchd,
        Daemon::Controller,
    ];

    /// The stem of its files under the data directory (`.pid`, `.log`,
    /// `.ctl`), named as Debian's ovn-ctl/ovs-ctl name them.
    pub fn stem(self) -> &'static str {
        match self {
            Daemon::NbDb => "ovnnb_db",
            Daemon::SbDb => "ovnsb_db",
            Daemon::OvsDb => "ovsdb-server",
            Daemon::Northd => "ovn-northd",
            Daemon::Vswitchd => "ovs-vswitchd",
            Daemon::Controller => "ovn-controller",
        }
    }

    pub fn program(self) -> &'static str {
        match self {
            Daemon::NbDb | Daemon::SbDb | Daemon::OvsDb => "ovsdb-server",
            Daemon::Northd => "ovn-northd",
            Daemon::Vswitchd => "ovs-vswitchd",
            Daemon::Controller => "ovn-controller",
        }
    }
}

impl std::fmt::Display for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.stem())
    }
}

/// How a daemon is asked to stop before signals.
#[derive(Debug, Clone)]
pub enum Ask {
    /// SIGTERM straight away.
    Signal,
    /// A unixctl command on this socket (ovs-vswitchd: `exit --cleanup`,
    /// which also removes its tap devices).
    Unixctl(PathBuf, Vec<&'static str>),
    /// A unixctl command on `DIR/PROGRAM.PID.ctl` (ovn-controller 23.03
    /// has no `--unixctl` option and names its socket after its PID).
    UnixctlByPid(PathBuf, Vec<&'static str>),
}

#[derive(Debug, Clone)]
pub struct Spec {
    pub daemon: Daemon,
    pub args: Vec<OsString>,
    pub env: Vec<(&'static str, OsString)>,
    pub cwd: PathBuf,
    pub ask: Ask,
    pub stop_timeout: Duration,
}

impl Spec {
    fn ctl_path(&self, pid: u32) -> Option<(PathBuf, Vec<&'static str>)> {
        match &self.ask {
            Ask::Signal => None,
            Ask::Unixctl(p, args) => Some((p.clone(), args.clone())),
            Ask::UnixctlByPid(dir, args) => Some((
                dir.join(format!("{}.{pid}.ctl", self.daemon.program())),
                args.clone(),
            )),
        }
    }
}

/// What the supervisor knows of its daemon.
#[derive(Debug, Clone, Default)]
pub struct State {
    /// The PID of the running process.
    pub pid: Option<u32>,
    /// How many times it was started.
    pub starts: u32,
    /// Why the last process ended, if one did.
    pub last_exit: Option<String>,
}

/// One supervised daemon.
pub struct Supervised {
    pub spec: Arc<Spec>,
    state: watch::Receiver<State>,
    stop: watch::Sender<bool>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    stderr: Arc<Mutex<VecDeque<String>>>,
}

impl Supervised {
    pub fn start(spec: Spec) -> Arc<Self> {
        let spec = Arc::new(spec);
        let (state_tx, state) = watch::channel(State::default());
        let (stop, stop_rx) = watch::channel(false);
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let task = tokio::spawn(supervise(spec.clone(), state_tx, stop_rx, stderr.clone()));
        Arc::new(Supervised {
            spec,
            state,
            stop,
            task: Mutex::new(Some(task)),
            stderr,
        })
    }

    pub fn state(&self) -> State {
        self.state.borrow().clone()
    }

    pub fn pid(&self) -> Option<u32> {
        self.state.borrow().pid
    }

    /// The last lines the daemon wrote to stderr.
    pub fn stderr_tail(&self) -> String {
        lock(&self.stderr)
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Waits until the daemon runs; errors if it has exited (at least
    /// once) or never started within the timeout.
    pub async fn wait_started(&self, timeout: Duration) -> Result<u32, String> {
        let mut rx = self.state.clone();
        let res = tokio::time::timeout(
            timeout,
            rx.wait_for(|s| s.pid.is_some() || s.last_exit.is_some()),
        )
        .await;
        match res {
            Ok(Ok(s)) => match (s.pid, &s.last_exit) {
                (Some(pid), None) => Ok(pid),
                (_, Some(why)) => Err(self.failure(why)),
                (None, None) => Err("not started".into()),
            },
            Ok(Err(_)) => Err("supervisor ended".into()),
            Err(_) => Err(format!("not started after {timeout:?}")),
        }
    }

    /// Resolves when the daemon has died (at least once), with why.
    pub async fn died(&self) -> String {
        let mut rx = self.state.clone();
        let why = match rx.wait_for(|s| s.last_exit.is_some()).await {
            Ok(s) => s.last_exit.clone().unwrap_or_default(),
            Err(_) => "supervisor ended".to_string(),
        };
        self.failure(&why)
    }

    /// Fails if the daemon has died since it was started.
    pub fn check_alive(&self) -> Result<(), String> {
        let s = self.state();
        match &s.last_exit {
            Some(why) => Err(self.failure(why)),
            None => Ok(()),
        }
    }

    fn failure(&self, why: &str) -> String {
        let tail = self.stderr_tail();
        if tail.is_empty() {
            why.to_string()
        } else {
            format!("{why}; stderr: {tail}")
        }
    }

    /// Stops the daemon (no restart afterwards) and waits for it.
    pub async fn stop(&self) {
        let _ = self.stop.send(true);
        let task = lock(&self.task).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    /// For `Drop`: stops the daemon without a runtime to await on. The
    /// supervisor is told first so it does not restart what we stop.
    pub fn stop_blocking(&self) {
        // The task is left alone: aborting it would drop the Child, whose
        // kill_on_drop would SIGKILL vswitchd before it cleaned up.
        let _ = self.stop.send(true);
        if let Some(pid) = self.pid() {
            ask_then_signal_blocking(&self.spec, pid);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// util-linux's setpriv, which every Debian has.
const SETPRIV: &str = "/usr/bin/setpriv";

fn command(spec: &Spec) -> tokio::process::Command {
    // If we are killed outright, nothing runs our shutdown: the kernel's
    // parent-death signal stops the daemon instead of leaving it running
    // for ever. setpriv sets it and execs the daemon, so the PID stays the
    // daemon's. (Setting it ourselves would take unsafe pre_exec code.)
    // It fires when the spawning thread exits: supervisors run on runtime
    // worker threads, which live as long as the runtime.
    let mut cmd = if Path::new(SETPRIV).exists() {
        let mut c = tokio::process::Command::new(SETPRIV);
        c.args(["--pdeathsig", "TERM", "--", spec.daemon.program()]);
        c
    } else {
        tokio::process::Command::new(spec.daemon.program())
    };
    cmd.args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&spec.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        // Its own process group: a Ctrl-C at the terminal reaches only
        // us, and we stop the daemons in order (vswitchd cleaning up).
        .process_group(0)
        // If we are gone without stopping it (a panic unwinding past
        // everything), do not leave it running.
        .kill_on_drop(true);
    cmd
}

async fn supervise(
    spec: Arc<Spec>,
    state: watch::Sender<State>,
    mut stop: watch::Receiver<bool>,
    stderr: Arc<Mutex<VecDeque<String>>>,
) {
    let name = spec.daemon.stem();
    let mut backoff = BACKOFF_MIN;
    loop {
        if *stop.borrow() {
            return;
        }
        let started = Instant::now();
        let spawned = command(&spec).spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                let why = format!("cannot run {}: {e}", spec.daemon.program());
                tracing::error!(daemon = name, error = %e, "cannot start; retrying in {backoff:?}");
                state.send_modify(|s| s.last_exit = Some(why));
                if wait_or_stop(&mut stop, backoff).await {
                    return;
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        let pid = child.id();
        if let Some(out) = child.stderr.take() {
            let buf = stderr.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(out).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    match ovs_level(&line) {
                        Some("EMER" | "ERR") => tracing::error!(daemon = name, "{line}"),
                        Some("INFO" | "DBG") => tracing::debug!(daemon = name, "{line}"),
                        _ => tracing::warn!(daemon = name, "{line}"),
                    }
                    let mut b = lock(&buf);
                    if b.len() == STDERR_LINES {
                        b.pop_front();
                    }
                    b.push_back(line);
                }
            });
        }
        state.send_modify(|s| {
            s.pid = pid;
            s.starts += 1;
        });
        tracing::debug!(daemon = name, pid, "started");

        let exited = tokio::select! {
            status = child.wait() => Some(status),
            _ = stop.wait_for(|s| *s) => None,
        };
        let Some(status) = exited else {
            if let Some(pid) = pid {
                stop_child(&spec, pid, &mut child).await;
            }
            state.send_modify(|s| s.pid = None);
            return;
        };
        let why = match status {
            Ok(st) => format!("exited with {st}"),
            Err(e) => format!("wait failed: {e}"),
        };
        state.send_modify(|s| {
            s.pid = None;
            s.last_exit = Some(why.clone());
        });
        if *stop.borrow() {
            return;
        }
        if started.elapsed() >= HEALTHY_RUN {
            backoff = BACKOFF_MIN;
        }
        tracing::warn!(daemon = name, pid, reason = %why, "daemon died; restarting in {backoff:?}");
        if wait_or_stop(&mut stop, backoff).await {
            return;
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// The level of an OVS log line (`TIME|SEQ|MODULE|LEVEL|TEXT`).
fn ovs_level(line: &str) -> Option<&str> {
    line.split('|').nth(3)
}

/// Sleeps; true if told to stop meanwhile.
async fn wait_or_stop(stop: &mut watch::Receiver<bool>, d: Duration) -> bool {
    let slept = tokio::select! {
        _ = tokio::time::sleep(d) => true,
        _ = stop.wait_for(|s| *s) => false,
    };
    !slept || *stop.borrow()
}

/// Asks nicely (unixctl), then SIGTERM, then SIGKILL, each with the stop
/// timeout.
async fn stop_child(spec: &Spec, pid: u32, child: &mut tokio::process::Child) {
    let name = spec.daemon.stem();
    let t = spec.stop_timeout;
    if let Some((ctl, args)) = spec.ctl_path(pid) {
        let asked = tokio::task::spawn_blocking(move || ask(&ctl, &args, t))
            .await
            .unwrap_or(false);
        if asked && tokio::time::timeout(t, child.wait()).await.is_ok() {
            tracing::debug!(daemon = name, pid, "exited on request");
            return;
        }
    }
    host::signal(pid, Signal::TERM);
    if tokio::time::timeout(t, child.wait()).await.is_ok() {
        tracing::debug!(daemon = name, pid, "exited on SIGTERM");
        return;
    }
    tracing::warn!(daemon = name, pid, "no exit {t:?} after SIGTERM; SIGKILL");
    let _ = child.start_kill();
    let _ = child.wait().await;
}

fn ask(ctl: &Path, args: &[&'static str], timeout: Duration) -> bool {
    let (method, params) = match args.split_first() {
        Some((m, p)) => (*m, p),
        None => return false,
    };
    match unixctl::call(ctl, method, params, timeout) {
        Ok(_) | Err(unixctl::CallError::NoReply(_)) => true,
        Err(e) => {
            tracing::debug!(ctl = %ctl.display(), error = %e, "unixctl request failed");
            false
        }
    }
}

fn ask_then_signal_blocking(spec: &Spec, pid: u32) {
    if let Some((ctl, args)) = spec.ctl_path(pid)
        && ask(&ctl, &args, spec.stop_timeout)
        && host::wait_gone_blocking(pid, spec.stop_timeout)
    {
        return;
    }
    host::terminate_blocking(pid, spec.stop_timeout);
}
