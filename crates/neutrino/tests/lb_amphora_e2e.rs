//! Load balancers with real amphorae (issue 12), end to end: `neutrino up`
//! with its data plane and the local amphora backend; the topology made
//! with the real `openstack` client; web servers, a client and an
//! "external" host as network namespaces. Every amphora is a namespace
//! pair running `neutrino amphora-agent` and haproxy, reached over the
//! management network `up` makes.
//!
//! Serialized with the other `e2e_` data-plane tests (HostLock). Names
//! carry a per-test suffix; namespaces, links and processes this test made
//! are removed at the end, also on failure.

#[path = "common/dataplane.rs"]
mod dataplane;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use dataplane::*;
use neutrino_chassis::testing::HostLock;
use neutrino_testkit::{ChildGuard, free_tcp_port};
use serde_json::Value;

/// A web server in `ns` answering `GET /` with `name` and `GET /api/`
/// with `api-{name}`.
fn web_server(ns: &str, name: &str, root: &Path) -> Result<ChildGuard> {
    let dir = root.join(format!("www-{name}"));
    std::fs::create_dir_all(dir.join("api"))?;
    std::fs::write(dir.join("index.html"), format!("{name}\n"))?;
    std::fs::write(dir.join("api/index.html"), format!("api-{name}\n"))?;
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns, "python3", "-m", "http.server", "80"])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    ChildGuard::spawn(&mut cmd)
}

/// `GET url` from `ns`: (status, body).
fn get(ns: &str, url: &str) -> Result<(u16, String)> {
    let out = sh(&[
        "ip",
        "netns",
        "exec",
        ns,
        "curl",
        "-s",
        "-m",
        "3",
        "-w",
        "\n%{http_code}",
        url,
    ])?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "000"));
    Ok((code.trim().parse().unwrap_or(0), body.trim().to_string()))
}

/// Who answered `n` requests to `url` from `ns`, in order.
fn answers(ns: &str, url: &str, n: usize) -> Result<Vec<String>> {
    (0..n)
        .map(|_| {
            let (code, body) = get(ns, url)?;
            ensure!(code == 200, "GET {url}: {code} {body}");
            Ok(body)
        })
        .collect()
}

fn counts(v: &[String]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for s in v {
        *m.entry(s.clone()).or_default() += 1;
    }
    m
}

/// What an amphora leaves on the host while it lives.
struct AmphoraTraces {
    id: String,
    port_ids: Vec<String>,
}

impl AmphoraTraces {
    fn namespaces(&self) -> [String; 2] {
        [
            format!("amp-{}", self.id),
            format!("amp-{}-haproxy", self.id),
        ]
    }
}

/// Every process whose network namespace is `ns`.
fn pids_in(ns: &str) -> Vec<String> {
    sh(&["ip", "netns", "pids", ns])
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn netns_exists(ns: &str) -> bool {
    Path::new("/run/netns").join(ns).exists()
}

/// Kills what an amphora of this test left (a failed test must not leave
/// haproxy running); by PID, only in this test's amphora namespaces.
fn reap(data: &Path) {
    let Ok(rd) = std::fs::read_dir(data.join("amphorae")) else {
        return;
    };
    for e in rd.flatten() {
        let id = e.file_name().to_string_lossy().into_owned();
        for ns in [format!("amp-{id}-haproxy"), format!("amp-{id}")] {
            for p in pids_in(&ns) {
                let _ = sh(&["kill", "-9", &p]);
            }
            let _ = sh(&["ip", "netns", "del", &ns]);
        }
    }
}

/// The NB database's logical switch port names.
fn nb_ports(up: &Up) -> Result<String> {
    let env = std::fs::read_to_string(up.dir.join("data/ovn.env"))?;
    let nb = env
        .lines()
        .find_map(|l| l.strip_prefix("OVN_NB_DB="))
        .context("OVN_NB_DB in ovn.env")?
        .trim_matches('"')
        .to_string();
    must(&[
        "ovn-nbctl",
        &format!("--db={nb}"),
        "--columns=name",
        "list",
        "Logical_Switch_Port",
    ])
}

/// After a delete: no namespace, process, port, OVN row, certificate or
/// socket directory of `amp` remains.
fn assert_gone(up: &Up, amp: &AmphoraTraces) -> Result<()> {
    for ns in amp.namespaces() {
        ensure!(!netns_exists(&ns), "namespace {ns} is left");
    }
    let agents = must(&["ps", "-eo", "args"])?;
    ensure!(
        !agents.lines().any(|l| l.contains(&amp.id)),
        "a process naming amphora {} is left",
        amp.id
    );
    let ports = up.json(&["port", "list", "--device-id", &amp.id])?;
    ensure!(
        ports.as_array().is_some_and(|a| a.is_empty()),
        "ports of amphora {} are left: {ports}",
        amp.id
    );
    wait_until(
        "OVN to drop the amphora's ports",
        Duration::from_secs(30),
        || {
            let nb = nb_ports(up)?;
            Ok(amp.port_ids.iter().all(|p| !nb.contains(p.as_str())))
        },
    )?;
    let dir = up.dir.join("data/amphorae").join(&amp.id);
    ensure!(!dir.exists(), "{} (certificates) is left", dir.display());
    let sock = Path::new("/run/neutrino-lb").join(&amp.id);
    ensure!(!sock.exists(), "{} is left", sock.display());
    Ok(())
}

fn traces(up: &Up, lb: &str) -> Result<Vec<AmphoraTraces>> {
    let amps = up.json(&["loadbalancer", "amphora", "list", "--loadbalancer", lb])?;
    let mut out = Vec::new();
    for a in amps.as_array().context("amphora list")? {
        let id = field(a, "id")?.to_string();
        let ports = up.json(&["port", "list", "--device-id", &id])?;
        let port_ids = ports
            .as_array()
            .context("port list")?
            .iter()
            .filter_map(|p| p["ID"].as_str().map(str::to_string))
            .collect();
        out.push(AmphoraTraces { id, port_ids });
    }
    Ok(out)
}

/// Waits until `openstack <show...>`'s `operating_status` is `want`
/// (heartbeats set it; `up` here sends them every second).
fn wait_operating(up: &Up, show: &[&str], want: &str) -> Result<()> {
    let mut last = Value::Null;
    wait_until(
        &format!("{} operating_status {want}", show.join(" ")),
        Duration::from_secs(30),
        || {
            last = up.json(show)?;
            Ok(last["operating_status"] == want)
        },
    )
    .with_context(|| format!("{last}"))
}

fn start(dir: &Path, s: &str, uplink: &str, env: &[(&str, &str)]) -> Result<Up> {
    Up::start_with_env(
        dir,
        &[
            "--load-balancer-listen",
            &format!("127.0.0.1:{}", free_tcp_port()),
            "--nic-mapping",
            &format!("public:{uplink}:bp{s}"),
            "--integration-bridge",
            &format!("bi{s}"),
            "--chassis-name",
            &format!("lb-{s}"),
            "--lb-heartbeat-interval",
            "1",
        ],
        env,
    )
}

/// public (flat, on the host's `ext` namespace), private, a router.
fn topology(up: &Up) -> Result<()> {
    for args in [
        vec![
            "network",
            "create",
            "--provider-network-type",
            "flat",
            "--provider-physical-network",
            "public",
            "--external",
            "public",
        ],
        vec![
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
        ],
        vec!["network", "create", "private"],
        vec![
            "subnet",
            "create",
            "--network",
            "private",
            "--subnet-range",
            "10.0.0.0/24",
            "private-subnet",
        ],
        vec!["router", "create", "r1"],
        vec!["router", "set", "--external-gateway", "public", "r1"],
        vec!["router", "add", "subnet", "r1", "private-subnet"],
        vec!["security", "group", "create", "web"],
        vec![
            "security",
            "group",
            "rule",
            "create",
            "--protocol",
            "tcp",
            "--dst-port",
            "80",
            "web",
        ],
    ] {
        up.openstack(&args)?;
    }
    Ok(())
}

/// A port on private plugged into a new namespace; returns its address.
fn workload(up: &Up, host: &mut Host, name: &str, ns: &str) -> Result<String> {
    workload_on(up, host, name, ns, "private")
}

/// A port on `network` plugged into a new namespace; returns its address.
fn workload_on(up: &Up, host: &mut Host, name: &str, ns: &str, network: &str) -> Result<String> {
    let p = up.json(&[
        "port",
        "create",
        "--network",
        network,
        "--security-group",
        "web",
        name,
    ])?;
    let id = field(&p, "id")?.to_string();
    let ip = p["fixed_ips"][0]["ip_address"]
        .as_str()
        .context("address")?
        .to_string();
    host.netns(ns)?;
    up.neutrino(&[
        "port",
        "plug",
        &id,
        "--netns",
        ns,
        "--data-dir",
        up.dir.join("data").to_str().context("path")?,
    ])?;
    in_ns(
        ns,
        &["ip", "addr", "add", &format!("{ip}/24"), "dev", "eth0"],
    )?;
    // The subnet's gateway: `.1` of its /24 (no router on private2: the
    // amphora reaches that network directly).
    let gateway = format!("{}.1", ip.rsplit_once('.').context("IPv4 address")?.0);
    in_ns(ns, &["ip", "route", "add", "default", "via", &gateway])?;
    Ok(ip)
}

fn external(host: &mut Host, s: &str) -> Result<(String, String)> {
    let ext = format!("ext{s}");
    host.netns(&ext)?;
    let uplink = format!("ve{s}b");
    host.veth(&uplink, &format!("ve{s}c"), Some((&ext, "eth0")))?;
    in_ns(
        &ext,
        &["ip", "addr", "add", "203.0.113.1/24", "dev", "eth0"],
    )?;
    Ok((ext, uplink))
}

/// Runs `body` against a fresh `neutrino up` (its data plane holding the
/// host lock, an "external" namespace `ext` on the public network's
/// uplink, `env` in its environment), then reaps this test's amphorae and
/// stops `up`, also when `body` failed (whose error then carries the log).
fn with_up(
    env: &[(&str, &str)],
    body: impl FnOnce(&Up, &mut Host, &Path, &str, &str) -> Result<()>,
) -> Result<()> {
    let _lock = HostLock::acquire()?;
    let s = suffix();
    let dir = tempfile::tempdir()?;
    let mut host = Host::default();
    let (ext, uplink) = external(&mut host, &s)?;
    let up = start(dir.path(), &s, &uplink, env)?;
    let result = body(&up, &mut host, dir.path(), &s, &ext);
    reap(&up.dir.join("data"));
    let log = up.log();
    let stopped = up.stop();
    result.with_context(|| format!("neutrino up log:\n{}", tail(&log)))?;
    stopped?;
    Ok(())
}

#[test]
fn e2e_amphora_document_003_with_real_traffic() -> Result<()> {
    with_up(&[], |up, host, dir, s, ext| {
        topology(up)?;
        let (web1_ns, web2_ns, client_ns) = (format!("w1{s}"), format!("w2{s}"), format!("cl{s}"));
        let web1 = workload(up, host, "web1", &web1_ns)?;
        let web2 = workload(up, host, "web2", &web2_ns)?;
        let client_ip = workload(up, host, "client", &client_ns)?;
        let _w1 = web_server(&web1_ns, "web1", dir)?;
        let _w2 = web_server(&web2_ns, "web2", dir)?;

        // Document 003, with the amphora provider.
        let t0 = Instant::now();
        let lb = up.json(&[
            "loadbalancer",
            "create",
            "--name",
            "lb1",
            "--vip-subnet-id",
            "private-subnet",
            "--wait",
        ])?;
        let boot = t0.elapsed();
        ensure!(lb["provisioning_status"] == "ACTIVE", "{lb}");
        let lb_id = field(&lb, "id")?.to_string();
        let vip = field(&lb, "vip_address")?.to_string();
        let vip_port = field(&lb, "vip_port_id")?.to_string();

        // The amphora: ALLOCATED, its management address on lb-mgmt-net,
        // its ports ACTIVE and bound to this node.
        let amps = up.json(&["loadbalancer", "amphora", "list", "--loadbalancer", &lb_id])?;
        let amp = &amps.as_array().context("amphorae")?[0];
        let amp_id = field(amp, "id")?.to_string();
        ensure!(
            amp["status"] == "ALLOCATED" && amp["role"] == "STANDALONE",
            "{amp}"
        );
        let mgmt_ip = field(amp, "lb_network_ip")?;
        ensure!(
            mgmt_ip.starts_with("172.31.0."),
            "management address {mgmt_ip}"
        );
        let mgmt_net = up.json(&["network", "show", "lb-mgmt-net"])?;
        let mgmt_port = up.json(&["port", "show", &format!("octavia-amp-mgmt-{amp_id}")])?;
        ensure!(mgmt_port["network_id"] == mgmt_net["id"], "{mgmt_port}");
        let vrrp = up.json(&["port", "show", &format!("octavia-lb-vrrp-{amp_id}")])?;
        ensure!(
            vrrp["device_owner"] == "Octavia"
                && vrrp["allowed_address_pairs"].to_string().contains(&vip),
            "VRRP port holds the VIP: {vrrp}"
        );
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")?
            .trim()
            .to_string();
        for name in [
            format!("octavia-amp-mgmt-{amp_id}"),
            format!("octavia-lb-vrrp-{amp_id}"),
        ] {
            let mut last = Value::Null;
            wait_until(&format!("{name} ACTIVE"), Duration::from_secs(30), || {
                last = up.json(&["port", "show", &name])?;
                Ok(last["status"] == "ACTIVE" && last["binding_host_id"] == hostname)
            })
            .with_context(|| format!("{last}"))?;
        }
        ensure!(
            pids_in(&format!("amp-{amp_id}")).len() == 1,
            "the agent runs in amp-{amp_id}"
        );

        up.openstack(&[
            "loadbalancer",
            "listener",
            "create",
            "--name",
            "l1",
            "--protocol",
            "HTTP",
            "--protocol-port",
            "80",
            "lb1",
            "--wait",
        ])?;
        up.openstack(&[
            "loadbalancer",
            "pool",
            "create",
            "--name",
            "p1",
            "--lb-algorithm",
            "ROUND_ROBIN",
            "--listener",
            "l1",
            "--protocol",
            "HTTP",
            "--wait",
        ])?;
        up.openstack(&[
            "loadbalancer",
            "healthmonitor",
            "create",
            "--delay",
            "5",
            "--timeout",
            "3",
            "--max-retries",
            "3",
            "--type",
            "HTTP",
            "--url-path",
            "/",
            "p1",
            "--wait",
        ])?;
        for (name, ip) in [("m1", &web1), ("m2", &web2)] {
            up.openstack(&[
                "loadbalancer",
                "member",
                "create",
                "--name",
                name,
                "--address",
                ip,
                "--protocol-port",
                "80",
                "--subnet-id",
                "private-subnet",
                "p1",
                "--wait",
            ])?;
        }
        let haproxy = pids_in(&format!("amp-{amp_id}-haproxy"));
        ensure!(!haproxy.is_empty(), "haproxy runs in amp-{amp_id}-haproxy");

        // The amphora's heartbeats bring everything ONLINE (the members
        // pass the HTTP health monitor's checks).
        for show in [
            &["loadbalancer", "show", "lb1"][..],
            &["loadbalancer", "listener", "show", "l1"],
            &["loadbalancer", "pool", "show", "p1"],
            &["loadbalancer", "member", "show", "p1", "m1"],
            &["loadbalancer", "member", "show", "p1", "m2"],
        ] {
            wait_operating(up, show, "ONLINE")?;
        }

        // 20 requests to the VIP alternate between the two.
        let url = format!("http://{vip}/");
        wait_until("the VIP to answer", Duration::from_secs(30), || {
            Ok(get(&client_ns, &url)?.0 == 200)
        })?;
        let seen = answers(&client_ns, &url, 20)?;
        ensure!(
            counts(&seen) == BTreeMap::from([("web1".into(), 10), ("web2".into(), 10)]),
            "round robin: {seen:?}"
        );
        ensure!(
            seen.windows(2).all(|w| w[0] != w[1]),
            "alternating: {seen:?}"
        );

        // The same through a floating IP on the VIP port, from outside.
        let fip = up.json(&["floating", "ip", "create", "--port", &vip_port, "public"])?;
        let fip_url = format!("http://{}/", field(&fip, "floating_ip_address")?);
        wait_until("the floating IP to answer", Duration::from_secs(60), || {
            Ok(get(ext, &fip_url)?.0 == 200)
        })?;
        let seen = answers(ext, &fip_url, 20)?;
        ensure!(
            counts(&seen) == BTreeMap::from([("web1".into(), 10), ("web2".into(), 10)]),
            "through the floating IP: {seen:?}"
        );

        // A disabled member gets no traffic.
        up.openstack(&[
            "loadbalancer",
            "member",
            "set",
            "--disable",
            "p1",
            "m2",
            "--wait",
        ])?;
        let seen = answers(&client_ns, &url, 10)?;
        ensure!(seen.iter().all(|b| b == "web1"), "m2 disabled: {seen:?}");
        up.openstack(&[
            "loadbalancer",
            "member",
            "set",
            "--enable",
            "p1",
            "m2",
            "--wait",
        ])?;

        // /api goes to a second pool (web2 only); REJECT answers 403.
        up.openstack(&[
            "loadbalancer",
            "pool",
            "create",
            "--name",
            "p2",
            "--lb-algorithm",
            "ROUND_ROBIN",
            "--loadbalancer",
            "lb1",
            "--protocol",
            "HTTP",
            "--wait",
        ])?;
        up.openstack(&[
            "loadbalancer",
            "member",
            "create",
            "--address",
            &web2,
            "--protocol-port",
            "80",
            "p2",
            "--wait",
        ])?;
        up.openstack(&[
            "loadbalancer",
            "l7policy",
            "create",
            "--action",
            "REDIRECT_TO_POOL",
            "--redirect-pool",
            "p2",
            "--name",
            "api",
            "l1",
            "--wait",
        ])?;
        up.openstack(&[
            "loadbalancer",
            "l7rule",
            "create",
            "--compare-type",
            "STARTS_WITH",
            "--type",
            "PATH",
            "--value",
            "/api",
            "api",
            "--wait",
        ])?;
        up.openstack(&[
            "loadbalancer",
            "l7policy",
            "create",
            "--action",
            "REJECT",
            "--name",
            "deny",
            "l1",
            "--wait",
        ])?;
        up.openstack(&[
            "loadbalancer",
            "l7rule",
            "create",
            "--compare-type",
            "STARTS_WITH",
            "--type",
            "PATH",
            "--value",
            "/deny",
            "deny",
            "--wait",
        ])?;
        let seen = answers(&client_ns, &format!("http://{vip}/api/"), 6)?;
        ensure!(seen.iter().all(|b| b == "api-web2"), "/api to p2: {seen:?}");
        let (code, _) = get(&client_ns, &format!("http://{vip}/deny"))?;
        ensure!(code == 403, "REJECT: {code}");
        let seen = answers(&client_ns, &url, 4)?;
        ensure!(
            counts(&seen).len() == 2,
            "/ still to p1's two members: {seen:?}"
        );

        // A member nothing answers for fails its checks: the heartbeats
        // report it DOWN → member ERROR, pool and load balancer DEGRADED;
        // without it, ONLINE again. p2 has no monitor: NO_MONITOR.
        up.openstack(&[
            "loadbalancer",
            "member",
            "create",
            "--name",
            "m3",
            "--address",
            &client_ip,
            "--protocol-port",
            "80",
            "p1",
            "--wait",
        ])?;
        wait_operating(up, &["loadbalancer", "member", "show", "p1", "m3"], "ERROR")?;
        wait_operating(up, &["loadbalancer", "pool", "show", "p1"], "DEGRADED")?;
        wait_operating(up, &["loadbalancer", "show", "lb1"], "DEGRADED")?;
        let p2_members = up.json(&["loadbalancer", "member", "list", "p2"])?;
        ensure!(
            p2_members[0]["operating_status"] == "NO_MONITOR",
            "{p2_members}"
        );
        let seen = answers(&client_ns, &url, 6)?;
        ensure!(
            !seen.iter().any(|b| !b.starts_with("web")),
            "the failing member gets no traffic: {seen:?}"
        );
        up.openstack(&["loadbalancer", "member", "delete", "p1", "m3", "--wait"])?;
        wait_operating(up, &["loadbalancer", "show", "lb1"], "ONLINE")?;

        // A member on a network the VIP is not on: the amphora gets a port
        // there (`octavia-lb-member-{amphora}`) and reaches it directly.
        up.openstack(&["network", "create", "private2"])?;
        up.openstack(&[
            "subnet",
            "create",
            "--network",
            "private2",
            "--subnet-range",
            "10.0.1.0/24",
            "private2-subnet",
        ])?;
        let web3_ns = format!("w3{s}");
        let web3 = workload_on(up, host, "web3", &web3_ns, "private2")?;
        let _w3 = web_server(&web3_ns, "web3", dir)?;
        up.openstack(&[
            "loadbalancer",
            "member",
            "create",
            "--name",
            "m4",
            "--address",
            &web3,
            "--protocol-port",
            "80",
            "--subnet-id",
            "private2-subnet",
            "p1",
            "--wait",
        ])?;
        let private2 = up.json(&["network", "show", "private2"])?;
        let member_port_name = format!("octavia-lb-member-{amp_id}");
        let mut last = Value::Null;
        wait_until("the member port ACTIVE", Duration::from_secs(30), || {
            last = up.json(&["port", "show", &member_port_name])?;
            Ok(last["status"] == "ACTIVE" && last["network_id"] == private2["id"])
        })
        .with_context(|| format!("{last}"))?;
        wait_operating(
            up,
            &["loadbalancer", "member", "show", "p1", "m4"],
            "ONLINE",
        )?;
        let seen = answers(&client_ns, &url, 6)?;
        ensure!(
            counts(&seen)
                == BTreeMap::from([("web1".into(), 2), ("web2".into(), 2), ("web3".into(), 2)]),
            "three members on two networks: {seen:?}"
        );

        // A failover replaces the amphora: the new one serves the same
        // configuration, the old one leaves nothing.
        let before = traces(up, &lb_id)?;
        up.openstack(&["loadbalancer", "failover", "--wait", "lb1"])?;
        // The new amphora announces the VIP (gratuitous ARP after its
        // haproxy starts): OVN binds the VIP to its VRRP port and clients
        // learn the new MAC at once, not when their entry goes stale.
        let back = Instant::now();
        wait_until(
            "the VIP after the failover",
            Duration::from_secs(10),
            || Ok(get(&client_ns, &url)?.0 == 200),
        )?;
        eprintln!(
            "VIP answering {:?} after failover --wait returned",
            back.elapsed()
        );
        let seen = answers(&client_ns, &url, 6)?;
        ensure!(
            counts(&seen).len() == 3,
            "after the failover, the new amphora reaches all three: {seen:?}"
        );
        for amp in &before {
            assert_gone(up, amp)?;
        }

        // Delete leaves nothing.
        let left = traces(up, &lb_id)?;
        ensure!(
            left.len() == 1 && left[0].port_ids.len() == 3,
            "one amphora, three ports (management, VRRP, member network)"
        );
        ensure!(
            left[0].id != before[0].id,
            "the failover made a new amphora"
        );
        up.openstack(&["floating", "ip", "delete", field(&fip, "id")?])?;
        up.openstack(&["loadbalancer", "delete", "--cascade", "--wait", "lb1"])?;
        for amp in &left {
            assert_gone(up, amp)?;
        }
        let sgs = up.json(&["security", "group", "list"])?;
        ensure!(
            !sgs.to_string().contains(&format!("lb-{lb_id}")),
            "the VIP group lb-{lb_id} is left"
        );
        eprintln!("lb create → ACTIVE (client --wait): {boot:?}");
        Ok(())
    })
}

/// A create that fails after the VRRP port is plugged unwinds: the load
/// balancer is ERROR with no amphora, and deleting it leaves nothing.
#[test]
fn e2e_amphora_failed_create_leaves_nothing() -> Result<()> {
    if !cfg!(feature = "fault-injection") {
        anyhow::bail!("needs --features neutrino/fault-injection (scripts/test.sh passes it)");
    }
    with_up(
        &[(
            "NEUTRINO_LB_FAULT",
            "lb_create:amphorae_plug_vip:after:error",
        )],
        |up, _, _, _, _| {
            topology(up)?;
            let lb = up.json(&[
                "loadbalancer",
                "create",
                "--name",
                "lb1",
                "--vip-subnet-id",
                "private-subnet",
            ])?;
            let lb_id = field(&lb, "id")?.to_string();
            let mut amp_ids: Vec<String> = Vec::new();
            wait_until("the create to fail", Duration::from_secs(60), || {
                // Remember the amphora while it exists, to check it is gone.
                if let Ok(a) =
                    up.json(&["loadbalancer", "amphora", "list", "--loadbalancer", &lb_id])
                {
                    for x in a.as_array().into_iter().flatten() {
                        if let Some(id) = x["id"].as_str()
                            && !amp_ids.iter().any(|i| i == id)
                        {
                            amp_ids.push(id.to_string());
                        }
                    }
                }
                let v: Value = up.json(&["loadbalancer", "show", &lb_id])?;
                Ok(v["provisioning_status"] == "ERROR")
            })?;
            let amps = up.json(&["loadbalancer", "amphora", "list", "--loadbalancer", &lb_id])?;
            ensure!(amps.as_array().is_some_and(|a| a.is_empty()), "{amps}");
            // The unwound amphora (if the listing caught it) left nothing;
            // nor did any other (the namespaces of this test's data dir).
            let data = up.dir.join("data/amphorae");
            let dirs: Vec<_> = std::fs::read_dir(&data)?.flatten().collect();
            ensure!(dirs.is_empty(), "amphora directories left: {dirs:?}");
            for id in &amp_ids {
                assert_gone(
                    up,
                    &AmphoraTraces {
                        id: id.clone(),
                        port_ids: Vec::new(),
                    },
                )?;
            }
            let vrrp = up.json(&["port", "list", "--device-owner", "Octavia"])?;
            ensure!(
                vrrp.as_array().is_some_and(|a| a.len() == 1),
                "only the VIP port is left before the delete: {vrrp}"
            );
            up.openstack(&["loadbalancer", "delete", "--wait", &lb_id])?;
            let vrrp = up.json(&["port", "list", "--device-owner", "Octavia"])?;
            ensure!(vrrp.as_array().is_some_and(|a| a.is_empty()), "{vrrp}");
            Ok(())
        },
    )
}

/// A CA, and a server certificate for `www.example.test` it signed, as
/// PEM files and a PKCS#12 bundle (Octavia's documented way to store a
/// listener certificate), made with the openssl CLI in `dir`.
fn certificates(dir: &Path) -> Result<()> {
    let d = dir.display().to_string();
    let run = |args: &[&str]| -> Result<()> {
        let mut all = vec!["openssl"];
        all.extend_from_slice(args);
        must(&all).map(drop)
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=test-ca",
        "-keyout",
        &format!("{d}/ca.key"),
        "-out",
        &format!("{d}/ca.crt"),
    ])?;
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=www.example.test",
        "-addext",
        "subjectAltName=DNS:www.example.test",
        "-keyout",
        &format!("{d}/server.key"),
        "-out",
        &format!("{d}/server.csr"),
    ])?;
    run(&[
        "x509",
        "-req",
        "-in",
        &format!("{d}/server.csr"),
        "-CA",
        &format!("{d}/ca.crt"),
        "-CAkey",
        &format!("{d}/ca.key"),
        "-CAcreateserial",
        "-days",
        "2",
        "-copy_extensions",
        "copy",
        "-out",
        &format!("{d}/server.crt"),
    ])?;
    run(&[
        "pkcs12",
        "-export",
        "-inkey",
        &format!("{d}/server.key"),
        "-in",
        &format!("{d}/server.crt"),
        "-certfile",
        &format!("{d}/ca.crt"),
        "-passout",
        "pass:",
        "-out",
        &format!("{d}/server.p12"),
    ])
}

/// `curl` from `ns` to https://www.example.test:{port}/ at `vip`,
/// verifying against `ca` only: (status, body).
fn get_tls(ns: &str, vip: &str, port: u16, ca: &Path) -> Result<(u16, String)> {
    let out = sh(&[
        "ip",
        "netns",
        "exec",
        ns,
        "curl",
        "-s",
        "-m",
        "3",
        "--cacert",
        ca.to_str().context("path")?,
        "--resolve",
        &format!("www.example.test:{port}:{vip}"),
        "-w",
        "\n%{http_code}",
        &format!("https://www.example.test:{port}/"),
    ])?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "000"));
    Ok((code.trim().parse().unwrap_or(0), body.trim().to_string()))
}

/// TERMINATED_HTTPS with certificates stored through `openstack secret
/// store` (a PKCS#12 secret) and `secret container create` (a
/// certificate container): a client verifying against the CA gets that
/// certificate and the backend's answer; a reference nobody can read is
/// refused with upstream's 400.
#[test]
fn e2e_amphora_terminated_https_with_stored_certificates() -> Result<()> {
    with_up(&[], |up, host, dir, s, _| {
        topology(up)?;
        let (web_ns, client_ns) = (format!("w1{s}"), format!("cl{s}"));
        let web = workload(up, host, "web1", &web_ns)?;
        workload(up, host, "client", &client_ns)?;
        let _w = web_server(&web_ns, "web1", dir)?;
        certificates(dir)?;
        let b64 = |f: &str| -> Result<String> {
            Ok(
                must(&["base64", "-w0", dir.join(f).to_str().context("path")?])?
                    .trim()
                    .to_string(),
            )
        };
        let p12 = up.json(&[
            "secret",
            "store",
            "--name",
            "tls-p12",
            "--payload-content-type",
            "application/octet-stream",
            "--payload-content-encoding",
            "base64",
            "--payload",
            &b64("server.p12")?,
        ])?;
        let p12_ref = field(&p12, "Secret href")?.to_string();
        let text = |f: &str| std::fs::read_to_string(dir.join(f));
        let cert = up.json(&[
            "secret",
            "store",
            "--name",
            "tls-cert",
            "--payload-content-type",
            "text/plain",
            "--payload",
            &text("server.crt")?,
        ])?;
        let key = up.json(&[
            "secret",
            "store",
            "--name",
            "tls-key",
            "--payload-content-type",
            "text/plain",
            "--payload",
            &text("server.key")?,
        ])?;
        let container = up.json(&[
            "secret",
            "container",
            "create",
            "--name",
            "tls",
            "--type",
            "certificate",
            "--secret",
            &format!("certificate={}", field(&cert, "Secret href")?),
            "--secret",
            &format!("private_key={}", field(&key, "Secret href")?),
            "-c",
            "Container href",
        ])?;
        let container_ref = field(&container, "Container href")?.to_string();

        up.openstack(&[
            "loadbalancer",
            "create",
            "--name",
            "lb1",
            "--vip-subnet-id",
            "private-subnet",
            "--wait",
        ])?;
        let vip = field(&up.json(&["loadbalancer", "show", "lb1"])?, "vip_address")?.to_string();
        // A reference that names nothing: upstream's 400, nothing stored.
        let bad = format!(
            "{}/v1/secrets/{}",
            "http://127.0.0.1:1/key-manager",
            uuid_like()
        );
        let err = up
            .openstack(&[
                "loadbalancer",
                "listener",
                "create",
                "--name",
                "bad",
                "--protocol",
                "TERMINATED_HTTPS",
                "--protocol-port",
                "443",
                "--default-tls-container-ref",
                &bad,
                "lb1",
            ])
            .err()
            .context("a listener with an unreadable certificate was accepted")?;
        ensure!(
            format!("{err:#}").contains("Could not retrieve certificate"),
            "{err:#}"
        );
        let listeners = up.json(&["loadbalancer", "listener", "list"])?;
        ensure!(
            listeners.as_array().is_some_and(|a| a.is_empty()),
            "{listeners}"
        );

        for (name, port, reference) in [("p12", "443", &p12_ref), ("ctr", "8443", &container_ref)] {
            up.openstack(&[
                "loadbalancer",
                "listener",
                "create",
                "--name",
                name,
                "--protocol",
                "TERMINATED_HTTPS",
                "--protocol-port",
                port,
                "--default-tls-container-ref",
                reference,
                "lb1",
                "--wait",
            ])?;
            let pool = format!("pool-{name}");
            up.openstack(&[
                "loadbalancer",
                "pool",
                "create",
                "--name",
                &pool,
                "--lb-algorithm",
                "ROUND_ROBIN",
                "--listener",
                name,
                "--protocol",
                "HTTP",
                "--wait",
            ])?;
            up.openstack(&[
                "loadbalancer",
                "member",
                "create",
                "--address",
                &web,
                "--protocol-port",
                "80",
                &pool,
                "--wait",
            ])?;
        }
        let ca = dir.join("ca.crt");
        for port in [443, 8443] {
            wait_until(&format!("TLS on {port}"), Duration::from_secs(30), || {
                Ok(get_tls(&client_ns, &vip, port, &ca)? == (200, "web1".to_string()))
            })?;
        }
        // The certificate served is the stored one (its subject and issuer).
        let served = must(&[
            "sh",
            "-c",
            &format!(
                "ip netns exec {client_ns} openssl s_client -connect {vip}:443 \
                 -servername www.example.test </dev/null 2>/dev/null | openssl x509 -noout -subject -issuer"
            ),
        ])?;
        ensure!(
            served.contains("CN = www.example.test") && served.contains("CN = test-ca"),
            "served certificate: {served}"
        );
        let left = traces(
            up,
            field(&up.json(&["loadbalancer", "show", "lb1"])?, "id")?,
        )?;
        up.openstack(&["loadbalancer", "delete", "--cascade", "--wait", "lb1"])?;
        for amp in &left {
            assert_gone(up, amp)?;
        }
        Ok(())
    })
}

fn uuid_like() -> String {
    format!("{:08x}-0000-4000-8000-000000000000", std::process::id())
}

/// ACTIVE_STANDBY (a flavor): two amphorae, MASTER and BACKUP, keepalived
/// on their VRRP ports; kill every process of the one holding the VIP →
/// the VIP answers from the other, which now holds the address. Prints the
/// gap.
#[test]
fn e2e_amphora_active_standby_survives_the_master() -> Result<()> {
    with_up(&[], |up, host, dir, s, _| {
        topology(up)?;
        let (web_ns, client_ns) = (format!("w1{s}"), format!("cl{s}"));
        let web = workload(up, host, "web1", &web_ns)?;
        workload(up, host, "client", &client_ns)?;
        let _w = web_server(&web_ns, "web1", dir)?;
        up.openstack(&[
            "loadbalancer",
            "flavorprofile",
            "create",
            "--name",
            "ha",
            "--provider",
            "amphora",
            "--flavor-data",
            r#"{"loadbalancer_topology": "ACTIVE_STANDBY"}"#,
        ])?;
        up.openstack(&[
            "loadbalancer",
            "flavor",
            "create",
            "--name",
            "ha",
            "--flavorprofile",
            "ha",
            "--enable",
        ])?;
        let lb = up.json(&[
            "loadbalancer",
            "create",
            "--name",
            "lb1",
            "--vip-subnet-id",
            "private-subnet",
            "--flavor",
            "ha",
            "--wait",
        ])?;
        ensure!(lb["provisioning_status"] == "ACTIVE", "{lb}");
        let lb_id = field(&lb, "id")?.to_string();
        let vip = field(&lb, "vip_address")?.to_string();
        up.openstack(&[
            "loadbalancer",
            "listener",
            "create",
            "--name",
            "l1",
            "--protocol",
            "HTTP",
            "--protocol-port",
            "80",
            "lb1",
            "--wait",
        ])?;
        up.openstack(&[
            "loadbalancer",
            "pool",
            "create",
            "--name",
            "p1",
            "--lb-algorithm",
            "ROUND_ROBIN",
            "--listener",
            "l1",
            "--protocol",
            "HTTP",
            "--wait",
        ])?;
        up.openstack(&[
            "loadbalancer",
            "member",
            "create",
            "--address",
            &web,
            "--protocol-port",
            "80",
            "p1",
            "--wait",
        ])?;
        let amps = up.json(&["loadbalancer", "amphora", "list", "--loadbalancer", &lb_id])?;
        let role_of = |role: &str| -> Result<String> {
            amps.as_array()
                .context("amphorae")?
                .iter()
                .find(|a| a["role"] == role)
                .and_then(|a| a["id"].as_str())
                .map(str::to_string)
                .with_context(|| format!("no {role} in {amps}"))
        };
        let (master, backup) = (role_of("MASTER")?, role_of("BACKUP")?);
        let holds_vip = |amp: &str| -> bool {
            sh(&[
                "ip",
                "-n",
                &format!("amp-{amp}-haproxy"),
                "-4",
                "addr",
                "show",
                "dev",
                "eth1",
            ])
            .map(|o| String::from_utf8_lossy(&o.stdout).contains(&format!("inet {vip}/")))
            .unwrap_or(false)
        };
        let url = format!("http://{vip}/");
        wait_until("the VIP to answer", Duration::from_secs(60), || {
            Ok(get(&client_ns, &url)?.0 == 200)
        })?;
        // Exactly one holds the VIP. Which one is keepalived's: both start
        // as BACKUP with nopreempt (upstream's config), so the first to
        // start may claim it before its peer, whatever the priorities.
        let (active, standby) = match (holds_vip(&master), holds_vip(&backup)) {
            (true, false) => (master, backup),
            (false, true) => (backup, master),
            other => anyhow::bail!("exactly one amphora holds the VIP: {other:?}"),
        };
        let (master, backup) = (active, standby);
        ensure!(
            !pids_in(&format!("amp-{backup}-haproxy")).is_empty(),
            "the standby runs haproxy and keepalived too"
        );
        // Both amphorae send heartbeats (the standby's listener is OPEN
        // too: haproxy binds the VIP nonlocally).
        wait_operating(up, &["loadbalancer", "show", "lb1"], "ONLINE")?;
        wait_operating(up, &["loadbalancer", "listener", "show", "l1"], "ONLINE")?;

        // Every process of the MASTER, by PID: frozen first, so none says
        // goodbye (a VRRP child told of its parent's death would).
        let doomed: Vec<String> = [format!("amp-{master}-haproxy"), format!("amp-{master}")]
            .iter()
            .flat_map(|ns| pids_in(ns))
            .collect();
        ensure!(!doomed.is_empty(), "the MASTER's processes");
        for p in &doomed {
            let _ = sh(&["kill", "-STOP", p]);
        }
        let killed = Instant::now();
        for p in &doomed {
            let _ = sh(&["kill", "-KILL", p]);
        }
        let deadline = killed + Duration::from_secs(30);
        loop {
            if let Ok((200, body)) = get(&client_ns, &url)
                && body == "web1"
            {
                break;
            }
            ensure!(
                Instant::now() < deadline,
                "the VIP did not come back from the BACKUP"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let gap = killed.elapsed();
        ensure!(holds_vip(&backup), "the BACKUP holds the VIP");
        eprintln!("ACTIVE_STANDBY: VIP back after the MASTER was killed in {gap:?}");
        let left = traces(up, &lb_id)?;
        up.openstack(&["loadbalancer", "delete", "--cascade", "--wait", "lb1"])?;
        for amp in &left {
            assert_gone(up, amp)?;
        }
        Ok(())
    })
}
