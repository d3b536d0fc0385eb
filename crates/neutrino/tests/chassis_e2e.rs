//! `neutrino up` with its data plane: the OVS/OVN daemons it starts,
//! `neutrino port plug/unplug` through the Network API, and what SIGTERM
//! leaves behind (nothing it made).
//!
//! Runs a real ovs-vswitchd, whose devices are host-wide: the test holds
//! `HostLock` and is named `e2e_` (nextest's serial group). Bridge,
//! namespace and veth names are unique to the run and removed by guards.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use common::{Netns, alive, neutrino, sh, wait};
use neutrino_chassis::testing::HostLock;
use neutrino_testkit::{ChildGuard, free_tcp_port, venv_bin};
use serde_json::Value;

fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

struct Link(String);
impl Drop for Link {
    fn drop(&mut self) {
        if link_exists(&self.0) {
            let _ = Command::new("ip").args(["link", "del", &self.0]).status();
        }
    }
}

struct Cloud {
    clouds: PathBuf,
    data: PathBuf,
}

impl Cloud {
    fn openstack(&self, args: &[&str]) -> Result<Value> {
        let out = Command::new(venv_bin("openstack")?)
            .args(args)
            .args(["-f", "json"])
            .env("OS_CLIENT_CONFIG_FILE", &self.clouds)
            .env("OS_CLOUD", "neutrino")
            .output()?;
        ensure!(
            out.status.success(),
            "openstack {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(serde_json::from_slice(&out.stdout)?)
    }

    fn neutrino(&self, args: &[&str]) -> Result<String> {
        let out = neutrino(self.data.parent().unwrap())
            .args(args)
            .arg("--data-dir")
            .arg(&self.data)
            .env("OS_CLIENT_CONFIG_FILE", &self.clouds)
            .env("OS_CLOUD", "neutrino")
            .output()?;
        ensure!(
            out.status.success(),
            "neutrino {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

#[test]
fn e2e_up_runs_the_data_plane() -> Result<()> {
    let _host = HostLock::acquire()?;
    let tmp = tempfile::tempdir()?;
    let data = tmp.path().join("data");
    let log = tmp.path().join("up.log");
    let sfx = &uuid::Uuid::new_v4().simple().to_string()[..6];
    let bridge = format!("bi-{sfx}");
    let provider = format!("bp-{sfx}");
    let nic = Link(format!("vh-{sfx}"));
    sh(&format!(
        "ip link add {} type veth peer name vp-{sfx}",
        nic.0
    ))?;

    let port = |_| free_tcp_port().to_string();
    let [identity, network, nb, sb]: [String; 4] = [0, 1, 2, 3].map(port);
    let mut up = neutrino(tmp.path());
    up.arg("up")
        .arg("--data-dir")
        .arg(&data)
        .args(["--identity-listen", &format!("127.0.0.1:{identity}")])
        .args(["--network-listen", &format!("127.0.0.1:{network}")])
        .args(["--ovn-nb-listen", &format!("127.0.0.1:{nb}")])
        .args(["--ovn-sb-listen", &format!("127.0.0.1:{sb}")])
        .args(["--chassis-name", &format!("up-{sfx}")])
        .args(["--integration-bridge", &bridge])
        .args(["--nic-mapping", &format!("physnet1:{}:{provider}", nic.0)])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log)?);
    let mut server = ChildGuard::spawn(&mut up)?;
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    let clouds = data.join("clouds.yaml");
    wait("clouds.yaml", Duration::from_secs(60), || {
        if let Some(st) = server.try_wait()? {
            bail!("neutrino up exited ({st}):\n{}", log_text());
        }
        Ok(clouds.is_file())
    })?;
    let env_file = data.join("ovn.env");
    ensure!(env_file.is_file(), "no ovn.env:\n{}", log_text());
    let ovn = |cmd: &str| sh(&format!(". {} && {cmd}", env_file.display()));
    ensure!(ovn(&format!("ovs-vsctl --db=$OVS_DB list-ports {provider}"))?.contains(&nic.0));
    ensure!(
        ovn("ovs-vsctl --db=$OVS_DB get Open_vSwitch . external_ids:ovn-bridge-mappings")?
            == format!("\"physnet1:{provider}\"")
    );
    ensure!(
        ovn(&format!("ovn-sbctl --db=tcp:127.0.0.1:{sb} show"))?.contains(&format!("up-{sfx}"))
    );
    let pids: Vec<u32> = std::fs::read_dir(data.join("ovn"))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "pid"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok()?.trim().parse().ok())
        .collect();
    ensure!(pids.len() == 6, "pid files: {pids:?}");

    // A network with two ports, through the API; the sync worker puts them
    // in the northbound database.
    let cloud = Cloud {
        clouds: clouds.clone(),
        data: data.clone(),
    };
    cloud.openstack(&["network", "create", "plug-net"])?;
    cloud.openstack(&[
        "subnet",
        "create",
        "--network",
        "plug-net",
        "--subnet-range",
        "10.77.0.0/24",
        "plug-sub",
    ])?;
    let mut ports = Vec::new();
    for name in ["plug-a", "plug-b"] {
        let p = cloud.openstack(&["port", "create", "--network", "plug-net", name])?;
        let id = p["id"].as_str().context("port id")?.to_string();
        let ip = p["fixed_ips"][0]["ip_address"]
            .as_str()
            .context("fixed ip")?
            .to_string();
        ports.push((id, ip));
    }
    let ns_a = Netns(format!("up-a-{sfx}"));
    let ns_b = Netns(format!("up-b-{sfx}"));
    let _taps: Vec<Link> = ports
        .iter()
        .map(|(id, _)| Link(neutrino_chassis::tap_name(id)))
        .collect();
    // By name (looked up through the API) and by id.
    let out = cloud.neutrino(&["port", "plug", "plug-a", "--netns", &ns_a.0])?;
    ensure!(out.contains(&ports[0].0), "{out}");
    cloud.neutrino(&["port", "plug", &ports[1].0, "--netns", &ns_b.0])?;
    for ((_, ip), ns) in ports.iter().zip([&ns_a, &ns_b]) {
        sh(&format!("ip -n {} addr add {ip}/24 dev eth0", ns.0))?;
    }
    for name in ["plug-a", "plug-b"] {
        wait(&format!("{name} ACTIVE"), Duration::from_secs(30), || {
            let p = cloud.openstack(&["port", "show", name])?;
            Ok(p["status"] == "ACTIVE"
                && p["binding_host_id"].as_str().is_some_and(|h| !h.is_empty()))
        })?;
    }
    sh(&format!(
        "ip netns exec {} ping -c 2 -i 0.2 -W 2 {}",
        ns_a.0, ports[1].1
    ))?;

    let out = cloud.neutrino(&["port", "unplug", "plug-b"])?;
    ensure!(out.contains("unplugged"), "{out}");
    ensure!(!link_exists(&neutrino_chassis::tap_name(&ports[1].0)));

    // SIGTERM: every daemon it started is gone, and what it made too.
    sh(&format!("kill -TERM {}", server.id()))?;
    wait("neutrino up to exit", Duration::from_secs(30), || {
        Ok(server.try_wait()?.is_some())
    })?;
    for pid in pids {
        ensure!(
            !alive(pid),
            "daemon {pid} survived SIGTERM:\n{}",
            log_text()
        );
    }
    ensure!(!env_file.exists(), "ovn.env left behind");
    for dev in [&bridge, &provider, "ovs-netdev"] {
        ensure!(!link_exists(dev), "{dev} left behind");
    }
    ensure!(link_exists(&nic.0), "the host NIC is not ours to delete");
    Ok(())
}
