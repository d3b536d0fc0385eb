//! The data path, end to end, with every OVS/OVN daemon real: `neutrino up`
//! supervising ovsdb-servers, northd, a netdev ovs-vswitchd and
//! ovn-controller; the topology made with the real `openstack` client;
//! network namespaces standing in for the Octavia controller pod, an
//! amphora, a VM and an external host. Names carry a per-test suffix and
//! everything is removed at the end (also on failure, by `Host`'s Drop).
//! Serialized with the other `e2e_` tests: a netdev vswitchd's devices are
//! host-global.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use neutrino_chassis::testing::HostLock;
use neutrino_testkit::{ChildGuard, free_tcp_port, venv_bin};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_neutrino");

fn sh(args: &[&str]) -> Result<Output> {
    Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", args.join(" ")))
}

fn must(args: &[&str]) -> Result<String> {
    let out = sh(args)?;
    ensure!(
        out.status.success(),
        "`{}` failed: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn in_ns(ns: &str, args: &[&str]) -> Result<String> {
    let mut all = vec!["ip", "netns", "exec", ns];
    all.extend_from_slice(args);
    must(&all)
}

/// Host objects this test made; removed on drop, in reverse order.
#[derive(Default)]
struct Host {
    netns: Vec<String>,
    links: Vec<String>,
    etc: Vec<PathBuf>,
}

impl Host {
    fn netns(&mut self, name: &str) -> Result<()> {
        must(&["ip", "netns", "add", name])?;
        self.netns.push(name.into());
        // dhclient-script writes resolv.conf: `ip netns exec` bind-mounts
        // /etc/netns/NAME/ over /etc, so it writes this one, not the host's.
        let etc = PathBuf::from("/etc/netns").join(name);
        std::fs::create_dir_all(&etc)?;
        std::fs::write(etc.join("resolv.conf"), "")?;
        self.etc.push(etc);
        in_ns(name, &["ip", "link", "set", "lo", "up"])?;
        Ok(())
    }

    /// A veth pair; `a` stays in the host (or `ns_a`), `b` goes to `ns_b`.
    fn veth(&mut self, a: &str, b: &str, ns_b: Option<(&str, &str)>) -> Result<()> {
        must(&["ip", "link", "add", a, "type", "veth", "peer", "name", b])?;
        self.links.push(a.into());
        // Userspace datapath + veth: checksums must be complete on the wire.
        let _ = sh(&["ethtool", "-K", a, "tx", "off"]);
        must(&["ip", "link", "set", a, "up"])?;
        match ns_b {
            Some((ns, ifname)) => {
                must(&["ip", "link", "set", b, "netns", ns])?;
                in_ns(ns, &["ip", "link", "set", b, "name", ifname])?;
                let _ = sh(&[
                    "ip", "netns", "exec", ns, "ethtool", "-K", ifname, "tx", "off",
                ]);
                in_ns(ns, &["ip", "link", "set", ifname, "up"])?;
            }
            None => {
                let _ = sh(&["ethtool", "-K", b, "tx", "off"]);
                must(&["ip", "link", "set", b, "up"])?;
            }
        }
        Ok(())
    }

    fn bridge(&mut self, name: &str) -> Result<()> {
        must(&["ip", "link", "add", name, "type", "bridge"])?;
        self.links.push(name.into());
        must(&["ip", "link", "set", name, "up"])?;
        Ok(())
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        for l in self.links.iter().rev() {
            let _ = sh(&["ip", "link", "del", l]);
        }
        for n in self.netns.iter().rev() {
            let _ = sh(&["ip", "netns", "del", n]);
        }
        for e in &self.etc {
            let _ = std::fs::remove_dir_all(e);
        }
    }
}

struct Up {
    child: ChildGuard,
    dir: PathBuf,
}

impl Up {
    fn start(dir: &Path, extra: &[&str]) -> Result<Up> {
        let log = std::fs::File::create(dir.join("up.log"))?;
        let mut cmd = Command::new(BIN);
        cmd.current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .args(["up", "--data-dir"])
            .arg(dir.join("data"))
            .arg("--identity-listen")
            .arg(format!("127.0.0.1:{}", free_tcp_port()))
            .arg("--network-listen")
            .arg(format!("127.0.0.1:{}", free_tcp_port()))
            .arg("--ovn-nb-listen")
            .arg(format!("127.0.0.1:{}", free_tcp_port()))
            .arg("--ovn-sb-listen")
            .arg(format!("127.0.0.1:{}", free_tcp_port()))
            .args(["--ovn-audit-interval", "5"])
            .args(extra);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("NEUTRINO_")
                || k.to_string_lossy().starts_with("OS_")
            {
                cmd.env_remove(k);
            }
        }
        let mut up = Up {
            child: ChildGuard::spawn(&mut cmd)?,
            dir: dir.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while !dir.join("data/clouds.yaml").exists() {
            if let Some(s) = up.child.0.try_wait()? {
                bail!("neutrino up exited ({s}):\n{}", up.log());
            }
            ensure!(Instant::now() < deadline, "no clouds.yaml:\n{}", up.log());
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(up)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("up.log")).unwrap_or_default()
    }

    fn openstack(&self, args: &[&str]) -> Result<String> {
        let mut c = Command::new(venv_bin("openstack")?);
        c.args(args)
            .stdin(Stdio::null())
            .env("OS_CLOUD", "neutrino")
            .env("OS_CLIENT_CONFIG_FILE", self.dir.join("data/clouds.yaml"));
        let out = c.output()?;
        ensure!(
            out.status.success(),
            "`openstack {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn json(&self, args: &[&str]) -> Result<Value> {
        let mut all = args.to_vec();
        all.extend(["-f", "json"]);
        Ok(serde_json::from_str(&self.openstack(&all)?)?)
    }

    fn neutrino(&self, args: &[&str]) -> Result<String> {
        let out = Command::new(BIN)
            .args(args)
            .env("OS_CLOUD", "neutrino")
            .env("OS_CLIENT_CONFIG_FILE", self.dir.join("data/clouds.yaml"))
            .output()?;
        ensure!(
            out.status.success(),
            "`neutrino {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn stop(mut self) -> Result<()> {
        let status = self.child.terminate(Duration::from_secs(30))?;
        ensure!(
            status.success(),
            "neutrino up exited with {status}:\n{}",
            self.log()
        );
        Ok(())
    }
}

fn suffix() -> String {
    format!(
        "{:04x}",
        std::process::id() as u16 ^ (Instant::now().elapsed().subsec_nanos() as u16)
    )
}

fn wait_until(what: &str, within: Duration, mut ok: impl FnMut() -> Result<bool>) -> Result<()> {
    let deadline = Instant::now() + within;
    loop {
        match ok() {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(e) if Instant::now() > deadline => {
                return Err(e.context(format!("waiting for {what}")));
            }
            Err(_) => {}
        }
        ensure!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// A TCP listener in `ns` that prints each peer's address, one per line.
fn listener(ns: &str, port: u16, out: &Path) -> Result<ChildGuard> {
    let script = format!(
        "import socket,sys\ns=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
         s.bind(('0.0.0.0',{port}));s.listen(8)\nwhile True:\n c,a=s.accept()\n \
         open('{}','a').write(a[0]+'\\n');c.close()\n",
        out.display()
    );
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns, "python3", "-c", &script])
        .stdin(Stdio::null());
    let g = ChildGuard::spawn(&mut cmd)?;
    std::thread::sleep(Duration::from_millis(300));
    Ok(g)
}

/// The peer addresses a [`listener`] wrote to `out`, once `want` is among
/// them or 5 s have passed: a connect returns when the kernel completes
/// the handshake, before the listener has accepted and written the peer.
fn peers_seen(out: &Path, want: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let peers = std::fs::read_to_string(out).unwrap_or_default();
        if peers.lines().any(|l| l == want) || std::time::Instant::now() > deadline {
            return peers;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether a TCP connection from `ns` to `ip:port` succeeds within 2 s.
fn connects(ns: &str, ip: &str, port: u16) -> Result<bool> {
    let script = format!(
        "import socket,sys\ns=socket.socket();s.settimeout(2)\n\
         try:\n s.connect(('{ip}',{port}));sys.exit(0)\nexcept Exception:\n sys.exit(1)\n"
    );
    Ok(sh(&["ip", "netns", "exec", ns, "python3", "-c", &script])?
        .status
        .success())
}

fn pings(ns: &str, ip: &str) -> Result<bool> {
    Ok(
        sh(&["ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "1", ip])?
            .status
            .success(),
    )
}

fn field<'a>(v: &'a Value, k: &str) -> Result<&'a str> {
    v[k].as_str().with_context(|| format!("{k} in {v}"))
}

#[test]
fn e2e_dataplane_document_000_management_network() -> Result<()> {
    let _lock = HostLock::acquire()?;
    let s = suffix();
    let dir = tempfile::tempdir()?;
    let mut host = Host::default();
    // The host side of doc 000: octbr, linked to the provider bridge of
    // physnet octavia through a veth pair; the controller pod on octbr.
    let (octbr, uplink_br, uplink_ovs) =
        (format!("octbr{s}"), format!("vo{s}a"), format!("vo{s}b"));
    host.bridge(&octbr)?;
    host.veth(&uplink_br, &uplink_ovs, None)?;
    must(&["ip", "link", "set", &uplink_br, "master", &octbr])?;
    let ctl = format!("ctl{s}");
    host.netns(&ctl)?;
    host.veth(&format!("vc{s}a"), &format!("vc{s}b"), Some((&ctl, "eth0")))?;
    must(&["ip", "link", "set", &format!("vc{s}a"), "master", &octbr])?;
    in_ns(
        &ctl,
        &["ip", "addr", "add", "172.23.0.30/24", "dev", "eth0"],
    )?;
    in_ns(
        &ctl,
        &["ip", "route", "add", "172.24.0.0/16", "via", "172.23.0.150"],
    )?;

    let up = Up::start(
        dir.path(),
        &[
            "--nic-mapping",
            &format!("octavia:{uplink_ovs}:bo{s}"),
            "--integration-bridge",
            &format!("bi{s}"),
            "--chassis-name",
            &format!("dp-{s}"),
        ],
    )?;
    let result = (|| -> Result<()> {
        // Document 000's management topology, with the real client.
        up.openstack(&[
            "network",
            "create",
            "--provider-network-type",
            "flat",
            "--provider-physical-network",
            "octavia",
            "--external",
            "octavia-provider-net",
        ])?;
        up.openstack(&[
            "subnet",
            "create",
            "--network",
            "octavia-provider-net",
            "--subnet-range",
            "172.23.0.0/24",
            "--allocation-pool",
            "start=172.23.0.71,end=172.23.0.96",
            "--gateway",
            "none",
            "--no-dhcp",
            "octavia-provider-subnet",
        ])?;
        up.openstack(&["network", "create", "lb-mgmt-net"])?;
        up.openstack(&[
            "subnet",
            "create",
            "--network",
            "lb-mgmt-net",
            "--subnet-range",
            "172.24.0.0/16",
            "--gateway",
            "none",
            "lb-mgmt-subnet",
        ])?;
        let rport = up.json(&[
            "port",
            "create",
            "--network",
            "lb-mgmt-net",
            "lb-mgmt-router-port",
        ])?;
        let rport_ip = rport["fixed_ips"][0]["ip_address"]
            .as_str()
            .context("router port ip")?
            .to_string();
        up.openstack(&["router", "create", "octavia-link-router"])?;
        up.openstack(&[
            "router",
            "set",
            "--external-gateway",
            "octavia-provider-net",
            "--disable-snat",
            "--fixed-ip",
            "subnet=octavia-provider-subnet,ip-address=172.23.0.150",
            "octavia-link-router",
        ])?;
        up.openstack(&[
            "router",
            "add",
            "port",
            "octavia-link-router",
            "lb-mgmt-router-port",
        ])?;
        up.openstack(&[
            "subnet",
            "set",
            "--host-route",
            &format!("destination=172.23.0.0/24,gateway={rport_ip}"),
            "lb-mgmt-subnet",
        ])?;
        up.openstack(&["security", "group", "create", "lb-mgmt-sec-grp"])?;
        up.openstack(&[
            "security",
            "group",
            "rule",
            "create",
            "--protocol",
            "tcp",
            "--dst-port",
            "9443",
            "lb-mgmt-sec-grp",
        ])?;
        up.openstack(&[
            "security",
            "group",
            "rule",
            "create",
            "--protocol",
            "icmp",
            "lb-mgmt-sec-grp",
        ])?;
        let amp = up.json(&[
            "port",
            "create",
            "--network",
            "lb-mgmt-net",
            "--security-group",
            "lb-mgmt-sec-grp",
            "amphora",
        ])?;
        let amp_id = field(&amp, "id")?.to_string();
        let amp_ip = amp["fixed_ips"][0]["ip_address"]
            .as_str()
            .context("amphora ip")?
            .to_string();

        // The amphora: plugged, then DHCP from OVN gives its address and the host route.
        let ns = format!("amp{s}");
        host.netns(&ns)?;
        up.neutrino(&[
            "port",
            "plug",
            &amp_id,
            "--netns",
            &ns,
            "--data-dir",
            up.dir.join("data").to_str().unwrap(),
        ])?;
        let lease = dir.path().join("amp.lease");
        let pid = dir.path().join("amp.pid");
        in_ns(
            &ns,
            &[
                "timeout",
                "60",
                "dhclient",
                "-1",
                "-v",
                "-lf",
                lease.to_str().unwrap(),
                "-pf",
                pid.to_str().unwrap(),
                "eth0",
            ],
        )
        .with_context(|| up.log())?;
        let addrs = in_ns(&ns, &["ip", "-4", "addr", "show", "dev", "eth0"])?;
        ensure!(
            addrs.contains(&format!("{amp_ip}/16")),
            "DHCP address {amp_ip}/16 in {addrs}"
        );
        let routes = in_ns(&ns, &["ip", "route"])?;
        ensure!(
            routes.contains(&format!("172.23.0.0/24 via {rport_ip}")),
            "host route by DHCP: {routes}"
        );
        if let Ok(p) = std::fs::read_to_string(&pid) {
            let _ = sh(&["kill", p.trim()]);
        }

        // ACTIVE, bound to this host.
        wait_until(
            "the amphora port to be ACTIVE",
            Duration::from_secs(30),
            || {
                let p = up.json(&["port", "show", &amp_id])?;
                Ok(p["status"] == "ACTIVE"
                    && !p["binding_host_id"].as_str().unwrap_or_default().is_empty())
            },
        )?;

        // Router ports are up as soon as OVN has the router.
        wait_until(
            "lb-mgmt-router-port to be ACTIVE",
            Duration::from_secs(30),
            || Ok(up.json(&["port", "show", "lb-mgmt-router-port"])?["status"] == "ACTIVE"),
        )?;

        // Ping both ways, TCP 9443 without SNAT.
        wait_until(
            "ping controller → amphora",
            Duration::from_secs(30),
            || pings(&ctl, &amp_ip),
        )?;
        ensure!(pings(&ns, "172.23.0.30")?, "ping amphora → controller");
        let seen = dir.path().join("seen-9443");
        let _l = listener(&ns, 9443, &seen)?;
        ensure!(
            connects(&ctl, &amp_ip, 9443)?,
            "controller connects to 9443"
        );
        let peers = peers_seen(&seen, "172.23.0.30");
        ensure!(
            peers.lines().any(|l| l == "172.23.0.30"),
            "no SNAT: the amphora saw {peers:?}"
        );

        // Security groups: 8080 closed, opened by a rule, all open without port security.
        let _l8080 = listener(&ns, 8080, &dir.path().join("seen-8080"))?;
        ensure!(
            !connects(&ctl, &amp_ip, 8080)?,
            "8080 must be closed by lb-mgmt-sec-grp"
        );
        up.openstack(&[
            "security",
            "group",
            "rule",
            "create",
            "--protocol",
            "tcp",
            "--dst-port",
            "8080",
            "lb-mgmt-sec-grp",
        ])?;
        wait_until(
            "the 8080 rule to open the port",
            Duration::from_secs(20),
            || connects(&ctl, &amp_ip, 8080),
        )?;
        let _l7070 = listener(&ns, 7070, &dir.path().join("seen-7070"))?;
        ensure!(!connects(&ctl, &amp_ip, 7070)?, "7070 closed");
        up.openstack(&[
            "port",
            "set",
            "--no-security-group",
            "--disable-port-security",
            &amp_id,
        ])?;
        wait_until(
            "no port security to open everything",
            Duration::from_secs(20),
            || connects(&ctl, &amp_ip, 7070),
        )?;

        up.neutrino(&[
            "port",
            "unplug",
            &amp_id,
            "--data-dir",
            up.dir.join("data").to_str().unwrap(),
        ])?;
        wait_until(
            "the unplugged port to go DOWN",
            Duration::from_secs(30),
            || Ok(up.json(&["port", "show", &amp_id])?["status"] == "DOWN"),
        )?;
        Ok(())
    })();
    let log = up.log();
    let stopped = up.stop();
    result.with_context(|| format!("neutrino up log:\n{}", tail(&log)))?;
    stopped?;
    Ok(())
}

#[test]
fn e2e_dataplane_snat_and_floating_ip() -> Result<()> {
    let _lock = HostLock::acquire()?;
    let s = suffix();
    let dir = tempfile::tempdir()?;
    let mut host = Host::default();
    // The "outside": a namespace holding the external network's gateway.
    let ext = format!("ext{s}");
    host.netns(&ext)?;
    let uplink = format!("ve{s}b");
    host.veth(&uplink, &format!("ve{s}c"), Some((&ext, "eth0")))?;
    in_ns(
        &ext,
        &["ip", "addr", "add", "203.0.113.1/24", "dev", "eth0"],
    )?;

    let up = Up::start(
        dir.path(),
        &[
            "--nic-mapping",
            &format!("public:{uplink}:bp{s}"),
            "--integration-bridge",
            &format!("bi{s}"),
            "--chassis-name",
            &format!("dp-{s}"),
        ],
    )?;
    let result = (|| -> Result<()> {
        up.openstack(&[
            "network",
            "create",
            "--provider-network-type",
            "flat",
            "--provider-physical-network",
            "public",
            "--external",
            "public",
        ])?;
        up.openstack(&[
            "subnet",
            "create",
            "--network",
            "public",
            "--subnet-range",
            "203.0.113.0/24",
            "--gateway",
            "203.0.113.1",
            "--allocation-pool",
            "start=203.0.113.100,end=203.0.113.200",
            "--no-dhcp",
            "public-subnet",
        ])?;
        up.openstack(&["network", "create", "private"])?;
        up.openstack(&[
            "subnet",
            "create",
            "--network",
            "private",
            "--subnet-range",
            "10.0.0.0/24",
            "private-subnet",
        ])?;
        up.openstack(&["router", "create", "r1"])?;
        up.openstack(&["router", "set", "--external-gateway", "public", "r1"])?;
        up.openstack(&["router", "add", "subnet", "r1", "private-subnet"])?;
        let router = up.json(&["router", "show", "r1"])?;
        let gw_ip = router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
            .as_str()
            .context("gateway ip")?
            .to_string();
        up.openstack(&["security", "group", "create", "open"])?;
        up.openstack(&[
            "security",
            "group",
            "rule",
            "create",
            "--protocol",
            "tcp",
            "--dst-port",
            "80",
            "open",
        ])?;
        let vm = up.json(&[
            "port",
            "create",
            "--network",
            "private",
            "--security-group",
            "open",
            "vm",
        ])?;
        let vm_id = field(&vm, "id")?.to_string();
        let vm_ip = vm["fixed_ips"][0]["ip_address"]
            .as_str()
            .context("vm ip")?
            .to_string();
        let ns = format!("vm{s}");
        host.netns(&ns)?;
        up.neutrino(&[
            "port",
            "plug",
            &vm_id,
            "--netns",
            &ns,
            "--data-dir",
            up.dir.join("data").to_str().unwrap(),
        ])?;
        in_ns(
            &ns,
            &["ip", "addr", "add", &format!("{vm_ip}/24"), "dev", "eth0"],
        )?;
        in_ns(&ns, &["ip", "route", "add", "default", "via", "10.0.0.1"])?;

        // SNAT: the outside sees the router's gateway address.
        let seen = dir.path().join("seen-ext");
        let _l = listener(&ext, 8000, &seen)?;
        wait_until(
            "the VM to reach the outside",
            Duration::from_secs(60),
            || connects(&ns, "203.0.113.1", 8000),
        )?;
        let peers = peers_seen(&seen, &gw_ip);
        ensure!(
            peers.lines().any(|l| l == gw_ip),
            "SNAT to {gw_ip}: outside saw {peers:?}"
        );

        // A floating IP: the outside reaches the VM, which sees the outside's address.
        let fip = up.json(&["floating", "ip", "create", "--port", &vm_id, "public"])?;
        let fip_ip = field(&fip, "floating_ip_address")?.to_string();
        let seen_vm = dir.path().join("seen-vm");
        let _lv = listener(&ns, 80, &seen_vm)?;
        wait_until(
            "the outside to reach the floating IP",
            Duration::from_secs(60),
            || connects(&ext, &fip_ip, 80),
        )?;
        let peers = peers_seen(&seen_vm, "203.0.113.1");
        ensure!(
            peers.lines().any(|l| l == "203.0.113.1"),
            "DNAT keeps the source: VM saw {peers:?}"
        );
        Ok(())
    })();
    let log = up.log();
    let stopped = up.stop();
    result.with_context(|| format!("neutrino up log:\n{}", tail(&log)))?;
    stopped?;
    Ok(())
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}
