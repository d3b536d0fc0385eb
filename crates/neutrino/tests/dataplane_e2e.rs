//! The data path, end to end, with every OVS/OVN daemon real: `neutrino up`
//! supervising ovsdb-servers, northd, a netdev ovs-vswitchd and
//! ovn-controller; the topology made with the real `openstack` client;
//! network namespaces standing in for the Octavia controller pod, an
//! amphora, a VM and an external host. Names carry a per-test suffix and
//! everything is removed at the end (also on failure, by `Host`'s Drop).
//! Serialized with the other `e2e_` tests: a netdev vswitchd's devices are
//! host-global.

#[path = "common/dataplane.rs"]
mod dataplane;

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use dataplane::*;
use neutrino_chassis::testing::HostLock;

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
