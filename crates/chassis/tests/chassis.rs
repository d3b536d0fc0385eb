//! A real chassis: ovsdb-server ×3, ovn-northd, ovs-vswitchd (netdev) and
//! ovn-controller, started from Debian's packages as root.
//!
//! The userspace datapath's devices are host-wide, so these tests hold
//! `testing::HostLock` (and are named `e2e_` for nextest's serial group).
//! Every namespace, bridge and veth name is unique to the test and removed
//! by a guard even when the test fails; only PIDs the chassis reports are
//! signalled.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use neutrino_chassis::testing::HostLock;
use neutrino_chassis::{
    Central, Chassis, ChassisConfig, DATAPATH_DEVICE, Daemon, Error, LocalChassis, NicMapping,
    RunningChassis, plug_internal, plug_veth, tap_name, unplug,
};
use neutrino_testkit::free_tcp_port;

fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("neutrino_chassis=debug")
        .with_test_writer()
        .try_init();
}

fn suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..6].to_string()
}

/// A chassis config private to one test: its own directory, free TCP
/// ports, and bridge names no one else uses.
fn config(dir: &Path, sfx: &str) -> ChassisConfig {
    let mut c = ChassisConfig::all_in_one(dir);
    c.central = Central::Local {
        nb_tcp: Some(([127, 0, 0, 1], free_tcp_port()).into()),
        sb_tcp: Some(([127, 0, 0, 1], free_tcp_port()).into()),
    };
    c.local = Some(LocalChassis {
        name: format!("test-{sfx}"),
        integration_bridge: format!("bi-{sfx}"),
        ..LocalChassis::for_this_host()
    });
    c.stop_timeout = Duration::from_secs(5);
    c
}

fn sh(cmd: &str) -> anyhow::Result<String> {
    let out = Command::new("sh").arg("-c").arg(cmd).output()?;
    if !out.status.success() {
        bail!(
            "`{cmd}` failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit(')')
            .next()
            .is_some_and(|r| !r.trim_start().starts_with('Z'))
    })
}

async fn eventually<F: FnMut() -> anyhow::Result<bool>>(
    what: &str,
    timeout: Duration,
    mut f: F,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let mut last = None;
    loop {
        match f() {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(e) => last = Some(e),
        }
        if Instant::now() >= deadline {
            bail!("{what}: not within {timeout:?} (last error: {last:?})");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Deletes a network namespace on drop.
struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// Deletes a host device on drop.
struct Link(String);

impl Drop for Link {
    fn drop(&mut self) {
        if link_exists(&self.0) {
            let _ = Command::new("ip").args(["link", "del", &self.0]).status();
        }
    }
}

fn vsctl(c: &RunningChassis, args: &str) -> anyhow::Result<String> {
    sh(&format!(
        "ovs-vsctl --no-wait --db={} {args}",
        c.env().ovs.as_deref().unwrap()
    ))
}

fn nbctl(c: &RunningChassis, args: &str) -> anyhow::Result<String> {
    sh(&format!("ovn-nbctl --db={} {args}", c.nb()))
}

fn sbctl(c: &RunningChassis, args: &str) -> anyhow::Result<String> {
    sh(&format!("ovn-sbctl --db={} {args}", c.sb()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_chassis_starts_registers_and_stops_cleanly() -> anyhow::Result<()> {
    init_logging();
    let _host = HostLock::acquire()?;
    let dir = tempfile::tempdir()?;
    let sfx = suffix();
    let cfg = config(dir.path(), &sfx);
    let bridge = format!("bi-{sfx}");
    let chassis = Chassis::start(cfg.clone()).await?;

    let pids: Vec<(Daemon, u32)> = Daemon::ALL
        .iter()
        .map(|d| {
            (
                *d,
                chassis.pid(*d).unwrap_or_else(|| panic!("{d} not running")),
            )
        })
        .collect();
    for (d, pid) in &pids {
        ensure!(alive(*pid), "{d} (pid {pid}) is not alive");
    }
    chassis.wait_registered(Duration::from_secs(20)).await?;
    let show = sbctl(&chassis, "show")?;
    ensure!(show.contains(&format!("Chassis test-{sfx}")), "{show}");
    ensure!(
        vsctl(&chassis, &format!("get Bridge {bridge} datapath_type"))? == "netdev",
        "integration bridge is not netdev"
    );
    ensure!(vsctl(&chassis, &format!("get Bridge {bridge} fail_mode"))? == "secure");
    ensure!(vsctl(&chassis, "get Open_vSwitch . external_ids:ovn-encap-type")? == "geneve");
    ensure!(link_exists(&bridge) && link_exists(DATAPATH_DEVICE));

    // ovn.env is usable as documented.
    let env_file = dir.path().join("ovn.env");
    ensure!(chassis.env_file() == env_file.canonicalize()?);
    let env = std::fs::read_to_string(&env_file)?;
    ensure!(
        env.contains("OVN_NB_DB=unix:") && env.contains("OVS_DB=unix:"),
        "{env}"
    );
    sh(&format!(
        ". {} && ovn-nbctl --db=$OVN_NB_DB ls-add sw-{sfx} && ovn-nbctl --db=$OVN_NB_DB show | grep -q sw-{sfx} \
         && ovs-vsctl --db=$OVS_DB br-exists {bridge}",
        env_file.display()
    ))?;
    // The TCP listener answers too.
    if let Central::Local {
        nb_tcp: Some(a), ..
    } = cfg.central
    {
        sh(&format!("ovn-nbctl --db=tcp:{a} show | grep -q sw-{sfx}"))?;
    }

    // A second chassis on this host collides on the host-wide devices,
    // even with other bridge names, and says so.
    let dir2 = tempfile::tempdir()?;
    let other = config(dir2.path(), &suffix());
    match Chassis::start(other).await {
        Err(Error::Collision(msg)) => ensure!(msg.contains(DATAPATH_DEVICE), "{msg}"),
        Err(e) => bail!("expected a collision, got {e}"),
        Ok(c) => {
            c.shutdown().await?;
            bail!("a second chassis started");
        }
    }
    // And the same data directory is locked.
    ensure!(matches!(
        Chassis::start(cfg.clone()).await,
        Err(Error::Locked(_))
    ));

    chassis.shutdown().await?;
    for (d, pid) in &pids {
        ensure!(!alive(*pid), "{d} (pid {pid}) still runs after shutdown");
    }
    ensure!(!link_exists(&bridge), "{bridge} left behind");
    ensure!(
        !link_exists(DATAPATH_DEVICE),
        "{DATAPATH_DEVICE} left behind"
    );
    ensure!(!env_file.exists(), "ovn.env left behind");

    // A restart on the same directory keeps the databases.
    let chassis = Chassis::start(cfg).await?;
    ensure!(nbctl(&chassis, "ls-list")?.contains(&format!("sw-{sfx}")));
    chassis.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_chassis_restarts_a_killed_daemon() -> anyhow::Result<()> {
    init_logging();
    let _host = HostLock::acquire()?;
    let dir = tempfile::tempdir()?;
    let sfx = suffix();
    let chassis = Chassis::start(config(dir.path(), &sfx)).await?;
    let old = chassis.pid(Daemon::Northd).context("northd not running")?;
    sh(&format!("kill -9 {old}"))?;
    eventually("northd restarted", Duration::from_secs(10), || {
        Ok(chassis
            .pid(Daemon::Northd)
            .is_some_and(|p| p != old && alive(p)))
    })
    .await?;
    let status = chassis
        .daemons()
        .into_iter()
        .find(|s| s.daemon == Daemon::Northd)
        .unwrap();
    ensure!(status.starts == 2, "{status:?}");
    // The new northd serves: a logical switch becomes a datapath.
    nbctl(&chassis, &format!("ls-add sw-{sfx}"))?;
    eventually(
        "datapath in the southbound",
        Duration::from_secs(10),
        || {
            Ok(
                sbctl(&chassis, "--columns=external_ids list Datapath_Binding")?
                    .contains(&format!("sw-{sfx}")),
            )
        },
    )
    .await?;

    // vswitchd too; a killed vswitchd leaves its devices, the new one
    // takes them over.
    let old = chassis
        .pid(Daemon::Vswitchd)
        .context("vswitchd not running")?;
    sh(&format!("kill -9 {old}"))?;
    eventually("vswitchd restarted", Duration::from_secs(10), || {
        Ok(chassis
            .pid(Daemon::Vswitchd)
            .is_some_and(|p| p != old && alive(p)))
    })
    .await?;
    let bridge = format!("bi-{sfx}");
    chassis_shutdown_leaves_nothing(chassis, &[&bridge]).await
}

async fn chassis_shutdown_leaves_nothing(
    c: RunningChassis,
    devices: &[&str],
) -> anyhow::Result<()> {
    let pids: Vec<u32> = c.daemons().iter().filter_map(|s| s.pid).collect();
    c.shutdown().await?;
    for pid in pids {
        ensure!(!alive(pid), "pid {pid} survived shutdown");
    }
    for d in devices.iter().chain([&DATAPATH_DEVICE]) {
        ensure!(!link_exists(d), "{d} left behind");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_chassis_dropped_without_shutdown_stops_its_daemons() -> anyhow::Result<()> {
    init_logging();
    let _host = HostLock::acquire()?;
    let dir = tempfile::tempdir()?;
    let sfx = suffix();
    let chassis = Chassis::start(config(dir.path(), &sfx)).await?;
    let pids: Vec<u32> = chassis.daemons().iter().filter_map(|s| s.pid).collect();
    ensure!(pids.len() == 6);
    drop(chassis);
    for pid in pids {
        ensure!(!alive(pid), "pid {pid} survived the drop");
    }
    ensure!(!link_exists(&format!("bi-{sfx}")) && !link_exists(DATAPATH_DEVICE));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_chassis_nic_mapping_makes_a_provider_bridge() -> anyhow::Result<()> {
    init_logging();
    let _host = HostLock::acquire()?;
    let dir = tempfile::tempdir()?;
    let sfx = suffix();
    // The "host interface": one end of a veth pair the test owns.
    let nic = Link(format!("vh-{sfx}"));
    sh(&format!(
        "ip link add {} type veth peer name vp-{sfx}",
        nic.0
    ))?;
    let mut cfg = config(dir.path(), &sfx);
    let provider = format!("bp-{sfx}");
    cfg.local.as_mut().unwrap().nic_mappings =
        vec![format!("physnet1:{}:{provider}", nic.0).parse::<NicMapping>()?];
    let chassis = Chassis::start(cfg.clone()).await?;
    let ports = vsctl(&chassis, &format!("list-ports {provider}"))?;
    ensure!(ports.lines().any(|p| p == nic.0), "{ports}");
    ensure!(vsctl(&chassis, &format!("get Bridge {provider} datapath_type"))? == "netdev");
    ensure!(
        vsctl(
            &chassis,
            "get Open_vSwitch . external_ids:ovn-bridge-mappings"
        )? == format!("\"physnet1:{provider}\"")
    );
    ensure!(link_exists(&provider));
    let bridge = format!("bi-{sfx}");
    chassis_shutdown_leaves_nothing(chassis, &[&bridge, &provider]).await?;
    ensure!(
        link_exists(&nic.0),
        "the host interface is not ours to delete"
    );

    // Without the mapping, the next start removes the bridge and the
    // mapping it made.
    cfg.local.as_mut().unwrap().nic_mappings.clear();
    let chassis = Chassis::start(cfg).await?;
    let bridges = vsctl(&chassis, "list-br")?;
    ensure!(bridges == bridge, "bridges: {bridges}");
    ensure!(
        vsctl(
            &chassis,
            "--if-exists get Open_vSwitch . external_ids:ovn-bridge-mappings"
        )?
        .is_empty()
    );
    ensure!(!link_exists(&provider));
    chassis.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_chassis_nic_mapping_to_a_missing_interface_fails_clearly() -> anyhow::Result<()> {
    init_logging();
    let _host = HostLock::acquire()?;
    let dir = tempfile::tempdir()?;
    let sfx = suffix();
    let mut cfg = config(dir.path(), &sfx);
    cfg.local.as_mut().unwrap().nic_mappings = vec![NicMapping::new("x", &format!("nx-{sfx}"))];
    match Chassis::start(cfg).await {
        Err(Error::Config(m)) => ensure!(m.contains("does not exist"), "{m}"),
        Err(e) => bail!("unexpected error {e}"),
        Ok(c) => {
            c.shutdown().await?;
            bail!("started with a missing interface");
        }
    }
    ensure!(!link_exists(DATAPATH_DEVICE));
    Ok(())
}

/// A logical switch with two ports, created with ovn-nbctl.
fn two_ports(c: &RunningChassis, sw: &str, p1: &str, p2: &str) -> anyhow::Result<()> {
    nbctl(
        c,
        &format!(
            "ls-add {sw} -- lsp-add {sw} {p1} -- lsp-set-addresses {p1} '{M1} 10.0.0.1' \
             -- lsp-add {sw} {p2} -- lsp-set-addresses {p2} '{M2} 10.0.0.2'"
        ),
    )?;
    Ok(())
}

const M1: &str = "fa:16:3e:00:00:01";
const M2: &str = "fa:16:3e:00:00:02";

fn binding(c: &RunningChassis, port: &str) -> anyhow::Result<(bool, String)> {
    let up = sbctl(
        c,
        &format!("--bare --columns=up find Port_Binding logical_port={port}"),
    )?;
    let chassis = sbctl(
        c,
        &format!("--bare --columns=chassis find Port_Binding logical_port={port}"),
    )?;
    let name = if chassis.is_empty() {
        String::new()
    } else {
        sbctl(c, &format!("--bare --columns=name list Chassis {chassis}"))?
    };
    Ok((up == "true", name))
}

async fn wait_bound(c: &RunningChassis, port: &str) -> anyhow::Result<()> {
    let want = c.chassis_name().unwrap().to_string();
    eventually(
        &format!("{port} bound and up"),
        Duration::from_secs(20),
        || {
            let (up, chassis) = binding(c, port)?;
            Ok(up && chassis == want)
        },
    )
    .await
}

fn ping(ns: &str, ip: &str) -> anyhow::Result<()> {
    sh(&format!("ip netns exec {ns} ping -c 2 -i 0.2 -W 2 {ip}")).map(drop)
}

/// A TCP connection carrying data both ways: python3 listens, bash's
/// /dev/tcp connects. TCP is what breaks if TX checksum offload is on.
fn tcp(server_ns: &str, server_ip: &str, client_ns: &str) -> anyhow::Result<()> {
    let server = Command::new("ip")
        .args(["netns", "exec", server_ns, "python3", "-c"])
        .arg(format!(
            "import socket\n\
             s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
             s.bind(('{server_ip}', 9443)); s.listen(1); s.settimeout(10)\n\
             c, _ = s.accept(); c.settimeout(10); data = b''\n\
             while not data.endswith(b'end\\n'):\n    d = c.recv(65536)\n    if not d: break\n    data += d\n\
             c.sendall(str(len(data)).encode() + b'\\n'); c.close()\n"
        ))
        .spawn()?;
    let mut server = scopeguard(server);
    let payload_lines = 2000; // ~100 KB: many full-size segments
    let out = sh(&format!(
        "for i in 1 2 3 4 5; do \
           timeout 5 ip netns exec {client_ns} bash -c 'exec 3<>/dev/tcp/{server_ip}/9443 && \
             (for i in $(seq {payload_lines}); do echo 0123456789012345678901234567890123456789012345; done; echo end) >&3 && \
             head -n1 <&3' && exit 0; sleep 0.3; done; exit 1"
    ))?;
    let expected = payload_lines * 47 + 4;
    ensure!(
        out == expected.to_string(),
        "server received {out} bytes, sent {expected}"
    );
    let _ = server.0.wait();
    server.1 = false;
    Ok(())
}

/// Kills the helper process on drop unless it was waited for.
struct Guard(std::process::Child, bool);
fn scopeguard(c: std::process::Child) -> Guard {
    Guard(c, true)
}
impl Drop for Guard {
    fn drop(&mut self) {
        if self.1 {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_chassis_plugged_namespaces_talk_through_ovn() -> anyhow::Result<()> {
    init_logging();
    let _host = HostLock::acquire()?;
    let dir = tempfile::tempdir()?;
    let sfx = suffix();
    let chassis = Chassis::start(config(dir.path(), &sfx)).await?;
    let ovs = chassis.ovs().unwrap();
    let bridge = chassis.integration_bridge().unwrap().to_string();
    // Port ids as Neutron's: the tap name is cut from them.
    let p1 = format!("{sfx}01-0000-4000-8000-000000000001");
    let p2 = format!("{sfx}02-0000-4000-8000-000000000002");
    two_ports(&chassis, &format!("sw-{sfx}"), &p1, &p2)?;
    let ns1 = Netns(format!("nt1-{sfx}"));
    let ns2 = Netns(format!("nt2-{sfx}"));
    let tap1 = Link(tap_name(&p1));
    let tap2 = Link(tap_name(&p2));

    let plugged = plug_veth(&ovs, &bridge, &p1, M1, &ns1.0, "eth0").await?;
    ensure!(plugged.ovs_interface == tap1.0 && link_exists(&tap1.0));
    plug_veth(&ovs, &bridge, &p2, M2, &ns2.0, "eth0").await?;
    // Plugging twice is refused, and leaves the first plug alone.
    ensure!(
        plug_veth(&ovs, &bridge, &p1, M1, &ns1.0, "eth1")
            .await
            .is_err()
    );
    ensure!(sh(&format!("ip -n {} link show eth0", ns1.0))?.contains(M1));
    sh(&format!("ip -n {} addr add 10.0.0.1/24 dev eth0", ns1.0))?;
    sh(&format!("ip -n {} addr add 10.0.0.2/24 dev eth0", ns2.0))?;
    ensure!(
        vsctl(
            &chassis,
            &format!("get Interface {} external_ids:iface-id", tap1.0)
        )? == format!("\"{p1}\"")
    );
    wait_bound(&chassis, &p1).await?;
    wait_bound(&chassis, &p2).await?;

    ping(&ns1.0, "10.0.0.2")?;
    ping(&ns2.0, "10.0.0.1")?;
    tcp(&ns2.0, "10.0.0.2", &ns1.0)?;

    // Unplug: the veth (both ends) and the OVS port go; the binding goes down.
    let removed = unplug(&ovs, &p2).await?;
    ensure!(removed == vec![tap2.0.clone()], "{removed:?}");
    ensure!(!link_exists(&tap2.0), "veth left behind");
    ensure!(
        sh(&format!("ip -n {} -o link", ns2.0))?
            .lines()
            .all(|l| !l.contains("eth0"))
    );
    ensure!(!vsctl(&chassis, &format!("list-ports {bridge}"))?.contains(&tap2.0));
    eventually("p2 down", Duration::from_secs(10), || {
        Ok(!binding(&chassis, &p2)?.0)
    })
    .await?;
    ensure!(ping(&ns1.0, "10.0.0.2").is_err(), "ping works after unplug");
    ensure!(unplug(&ovs, &p2).await?.is_empty(), "unplug is idempotent");

    // The same port again, as an internal port moved into the namespace.
    let plugged = plug_internal(&ovs, &bridge, &p2, M2, Some(&ns2.0), "eth0").await?;
    ensure!(plugged.ovs_interface == tap2.0 && !link_exists(&tap2.0));
    sh(&format!("ip -n {} addr add 10.0.0.2/24 dev eth0", ns2.0))?;
    wait_bound(&chassis, &p2).await?;
    ping(&ns1.0, "10.0.0.2")?;
    tcp(&ns1.0, "10.0.0.1", &ns2.0)?;
    unplug(&ovs, &p2).await?;
    eventually("internal device removed", Duration::from_secs(10), || {
        Ok(!sh(&format!("ip -n {} -o link", ns2.0))?.contains("eth0"))
    })
    .await?;

    chassis_shutdown_leaves_nothing(chassis, &[&bridge]).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_chassis_central_only_and_remote_chassis() -> anyhow::Result<()> {
    init_logging();
    let _host = HostLock::acquire()?;
    // The central part alone: NB, SB, northd, no OVS.
    let central_dir = tempfile::tempdir()?;
    let mut central = config(central_dir.path(), &suffix());
    central.local = None;
    let central = Chassis::start(central).await?;
    for d in [Daemon::OvsDb, Daemon::Vswitchd, Daemon::Controller] {
        ensure!(central.pid(d).is_none(), "{d} runs on a central-only host");
    }
    ensure!(central.env().ovs.is_none() && central.ovs().is_none());
    ensure!(!link_exists(DATAPATH_DEVICE));

    // A chassis of that OVN: only OVS and ovn-controller here.
    let dir = tempfile::tempdir()?;
    let sfx = suffix();
    let mut cfg = config(dir.path(), &sfx);
    cfg.central = Central::Remote {
        nb: central.nb().to_string(),
        sb: central.sb().to_string(),
    };
    let chassis = Chassis::start(cfg).await?;
    for d in [Daemon::NbDb, Daemon::SbDb, Daemon::Northd] {
        ensure!(chassis.pid(d).is_none(), "{d} runs on a remote chassis");
    }
    ensure!(chassis.nb() == central.nb() && chassis.sb() == central.sb());
    chassis.wait_registered(Duration::from_secs(20)).await?;
    ensure!(
        vsctl(&chassis, "get Open_vSwitch . external_ids:ovn-remote")?
            == format!("\"{}\"", central.sb())
    );
    let ovs = chassis.ovs().unwrap();
    ensure!(neutrino_chassis::integration_bridge(&ovs).await? == format!("bi-{sfx}"));
    chassis_shutdown_leaves_nothing(chassis, &[&format!("bi-{sfx}")]).await?;
    // A clean ovn-controller exit takes its Chassis row with it.
    ensure!(!sbctl(&central, "show")?.contains(&format!("test-{sfx}")));
    central.shutdown().await?;
    Ok(())
}
