//! `neutrino up` after `kill -9`: started again on the same data directory
//! it replaces what its killed predecessor left (daemons, devices, files),
//! and an ovs-vswitchd in another network namespace is none of its
//! business. Also: an operator error at start-up is one line, exit code 1.
//!
//! Runs real ovs-vswitchd processes: the tests hold `HostLock` and are
//! named `e2e_` (nextest's serial group). Every process the test starts is
//! stopped by its PID, every namespace deleted, by guards.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail, ensure};
use common::{Netns, alive, neutrino, sh, wait};
use neutrino_chassis::testing::HostLock;
use neutrino_testkit::{ChildGuard, free_tcp_port};

/// `neutrino up` on `data` with the full data plane, on fresh ports.
struct Up {
    tmp: PathBuf,
    data: PathBuf,
    sfx: String,
}

impl Up {
    fn new(tmp: &Path) -> Up {
        Up {
            tmp: tmp.to_path_buf(),
            data: tmp.join("data"),
            sfx: uuid::Uuid::new_v4().simple().to_string()[..6].to_string(),
        }
    }

    fn log(&self, run: u32) -> PathBuf {
        self.tmp.join(format!("up-{run}.log"))
    }

    fn log_text(&self, run: u32) -> String {
        std::fs::read_to_string(self.log(run)).unwrap_or_default()
    }

    /// Starts run number `run` and waits until it is ready: a fresh
    /// `ovn.env`, `clouds.yaml`, and six live daemons recorded in the data
    /// directory.
    fn start(&self, run: u32) -> Result<(ChildGuard, Vec<u32>)> {
        let port = |_| free_tcp_port().to_string();
        let [identity, network, nb, sb]: [String; 4] = [0, 1, 2, 3].map(port);
        let began = SystemTime::now();
        let mut up = neutrino(&self.tmp);
        up.arg("up")
            .arg("--data-dir")
            .arg(&self.data)
            .args(["--identity-listen", &format!("127.0.0.1:{identity}")])
            .args(["--network-listen", &format!("127.0.0.1:{network}")])
            .args(["--ovn-nb-listen", &format!("127.0.0.1:{nb}")])
            .args(["--ovn-sb-listen", &format!("127.0.0.1:{sb}")])
            .args(["--chassis-name", &format!("re-{}", self.sfx)])
            .args(["--integration-bridge", &format!("br-{}", self.sfx)])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.log(run))?);
        let mut server = ChildGuard::spawn(&mut up)?;
        let env_file = self.data.join("ovn.env");
        wait("neutrino up ready", Duration::from_secs(90), || {
            if let Some(st) = server.try_wait()? {
                bail!("neutrino up exited ({st}):\n{}", self.log_text(run));
            }
            let fresh = std::fs::metadata(&env_file)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t >= began);
            // ovn.env is written once the chassis runs, clouds.yaml (removed
            // at start) once the server is ready and handles SIGTERM.
            Ok(fresh
                && self.data.join("clouds.yaml").is_file()
                && self.daemon_pids().iter().filter(|p| alive(**p)).count() == 6)
        })?;
        Ok((server, self.daemon_pids()))
    }

    /// The PIDs in the data directory's pid files.
    fn daemon_pids(&self) -> Vec<u32> {
        let Ok(dir) = std::fs::read_dir(self.data.join("ovn")) else {
            return Vec::new();
        };
        dir.filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "pid"))
            .filter_map(|e| std::fs::read_to_string(e.path()).ok()?.trim().parse().ok())
            .collect()
    }

    /// SIGTERM, and every daemon it runs is gone.
    fn stop(&self, mut server: ChildGuard, pids: &[u32], run: u32) -> Result<()> {
        sh(&format!("kill -TERM {}", server.id()))?;
        wait("neutrino up to exit", Duration::from_secs(30), || {
            Ok(server.try_wait()?.is_some())
        })?;
        for pid in pids {
            ensure!(
                !alive(*pid),
                "daemon {pid} survived SIGTERM:\n{}",
                self.log_text(run)
            );
        }
        for dev in [format!("br-{}", self.sfx), "ovs-netdev".into()] {
            ensure!(
                !Path::new("/sys/class/net").join(&dev).exists(),
                "{dev} left behind:\n{}",
                self.log_text(run)
            );
        }
        Ok(())
    }
}

/// Kills `neutrino up` outright (not its daemons: SIGKILL to its PID only,
/// as an OOM kill or `kill -9` does), then starts it again on the same
/// data directory: at once (its daemons, stopped by their parent-death
/// signal, may still be exiting or running), or once they are gone
/// (leaving their devices behind).
fn kill_and_restart(up: &Up, at_once: bool) -> Result<(ChildGuard, Vec<u32>, Vec<u32>)> {
    let (mut first, old) = up.start(1)?;
    first.kill()?;
    first.wait()?;
    if !at_once {
        wait(
            "the killed run's daemons to exit",
            Duration::from_secs(20),
            || Ok(old.iter().all(|p| !alive(*p))),
        )?;
        ensure!(
            Path::new("/sys/class/net/ovs-netdev").exists(),
            "the killed run left no devices: nothing to test"
        );
    }
    let (second, new) = up.start(2).with_context(|| up.log_text(1))?;
    for pid in &old {
        ensure!(
            !alive(*pid),
            "daemon {pid} of the killed run is still alive after the restart:\n{}",
            up.log_text(2)
        );
        ensure!(!new.contains(pid), "pid {pid} reused in the new run?");
    }
    Ok((second, old, new))
}

#[test]
fn e2e_up_starts_again_after_kill_9() -> Result<()> {
    let _host = HostLock::acquire()?;
    let tmp = tempfile::tempdir()?;
    let up = Up::new(tmp.path());
    let (second, _, new) = kill_and_restart(&up, true)?;
    up.stop(second, &new, 2)
}

/// An ovs-vswitchd with its own database in another network namespace,
/// with a netdev bridge (so it owns an `ovs-netdev` there too): `up` is
/// restarted after `kill -9` next to it, and it is still running, its
/// devices in place, afterwards.
#[test]
fn e2e_up_ignores_a_vswitchd_in_another_netns() -> Result<()> {
    let _host = HostLock::acquire()?;
    let tmp = tempfile::tempdir()?;
    let sfx = &uuid::Uuid::new_v4().simple().to_string()[..6];
    let ns = Netns(format!("nf-{sfx}"));
    sh(&format!("ip netns add {}", ns.0))?;
    let dir = tmp.path().join("foreign");
    std::fs::create_dir(&dir)?;
    let d = dir.display();
    sh(&format!(
        "ovsdb-tool create {d}/conf.db /usr/share/openvswitch/vswitch.ovsschema"
    ))?;
    // `ip netns exec` execs the daemon: the guards hold the daemons' PIDs.
    let daemon = |args: &[String]| -> Result<ChildGuard> {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &ns.0])
            .args(args)
            .env("OVS_RUNDIR", &dir)
            .env("OVS_LOGDIR", &dir)
            .env("OVS_DBDIR", &dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        ChildGuard::spawn(&mut c)
    };
    let db = format!("unix:{d}/db.sock");
    let ovsdb = daemon(&[
        "ovsdb-server".into(),
        format!("{d}/conf.db"),
        format!("--remote=p{db}"),
        format!("--pidfile={d}/ovsdb-server.pid"),
        format!("--unixctl={d}/ovsdb-server.ctl"),
    ])?;
    wait("foreign ovsdb-server", Duration::from_secs(20), || {
        Ok(sh(&format!("ovs-vsctl --db={db} --no-wait init")).is_ok())
    })?;
    let vswitchd = daemon(&[
        "ovs-vswitchd".into(),
        db.clone(),
        format!("--pidfile={d}/ovs-vswitchd.pid"),
        format!("--unixctl={d}/ovs-vswitchd.ctl"),
    ])?;
    let bridge = format!("bf-{sfx}");
    sh(&format!(
        "ovs-vsctl --db={db} --timeout=20 add-br {bridge} -- set bridge {bridge} datapath_type=netdev"
    ))?;
    let foreign_devices = || {
        sh(&format!("ip -n {} link show ovs-netdev", ns.0)).is_ok()
            && sh(&format!("ip -n {} link show {bridge}", ns.0)).is_ok()
    };
    wait("foreign ovs-netdev", Duration::from_secs(20), || {
        Ok(foreign_devices())
    })?;
    let foreign = [ovsdb.id(), vswitchd.id()];

    let up = Up::new(tmp.path());
    let (second, _, new) = kill_and_restart(&up, false)?;
    for pid in foreign {
        ensure!(alive(pid), "foreign daemon {pid} was stopped");
    }
    ensure!(foreign_devices(), "the foreign vswitchd's devices are gone");
    up.stop(second, &new, 2)?;
    for pid in foreign {
        ensure!(alive(pid), "foreign daemon {pid} was stopped");
    }
    // Guards: vswitchd, then its database, then the namespace.
    drop(vswitchd);
    drop(ovsdb);
    drop(ns);
    Ok(())
}

/// Operator errors at start-up: one line naming the problem, exit code 1,
/// no backtrace even when RUST_BACKTRACE asks for one.
#[test]
fn up_operator_error_is_one_line() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "")?;
    for (data_dir, expect) in [
        (file.join("data"), "cannot create data directory"),
        (file.clone(), "a-file"),
    ] {
        let out = neutrino(tmp.path())
            .args(["up", "--no-data-plane", "--data-dir"])
            .arg(&data_dir)
            .env("RUST_BACKTRACE", "1")
            .output()?;
        let err = String::from_utf8_lossy(&out.stderr);
        ensure!(out.status.code() == Some(1), "{:?}: {err}", out.status);
        ensure!(err.contains(expect), "{err}");
        ensure!(
            !err.contains("backtrace") && !err.contains("panicked"),
            "{err}"
        );
        ensure!(err.trim_end().lines().count() == 1, "{err}");
    }
    Ok(())
}
