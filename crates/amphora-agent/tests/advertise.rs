//! VIP advertisements on the wire: two namespaces of the test's joined by
//! a veth pair, A holding the address, B listening (a packet socket) and
//! learning it (its neighbour table).
//!
//! `garp_*` / `neighbor_advertisement_*`: [`send_for_address`] directly.
//! `agent_start_*`: an agent (in-process, on a thread inside its outer
//! namespace) plugs the VIP and starts haproxy on it in SINGLE topology;
//! only then does B learn the VIP.

mod common;

use std::net::{IpAddr, Ipv6Addr};
use std::os::fd::OwnedFd;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Namespaces, in_netns, ip, tag};

use neutrino_amphora_agent::advertise::{Error, send_for_address};
use neutrino_amphora_agent::{AgentConfig, Hooks};
use serde_json::Value;

/// A and B joined by veth `va` (in A, with `mac`) – `vb` (in B), both up.
fn pair(test: &str, mac: &str) -> (Namespaces, String, String) {
    let t = tag();
    let mut ns = Namespaces::default();
    let a = ns.add(format!("nt-adv-{test}-a-{t}"));
    let b = ns.add(format!("nt-adv-{test}-b-{t}"));
    ip(&[
        "-n", &a, "link", "add", "va", "address", mac, "type", "veth", "peer", "name", "vb",
        "netns", &b,
    ]);
    ip(&["-n", &a, "link", "set", "va", "up"]);
    ip(&["-n", &b, "link", "set", "vb", "up"]);
    (ns, a, b)
}

/// A packet socket in `ns` receiving frames of `ethertype` (from
/// rustix's `eth` constants), with a receive timeout.
fn capture(ns: &str, ethertype: rustix::net::Protocol) -> OwnedFd {
    in_netns(ns, || {
        let fd = rustix::net::socket_with(
            rustix::net::AddressFamily::PACKET,
            rustix::net::SocketType::RAW,
            rustix::net::SocketFlags::CLOEXEC,
            Some(ethertype),
        )
        .expect("packet socket");
        rustix::net::sockopt::set_socket_timeout(
            &fd,
            rustix::net::sockopt::Timeout::Recv,
            Some(Duration::from_millis(200)),
        )
        .unwrap();
        fd
    })
}

/// The first frame `accept` takes within 3 s.
fn frame(fd: &OwnedFd, accept: impl Fn(&[u8]) -> bool) -> Option<Vec<u8>> {
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut buf = vec![0u8; 2048];
    while Instant::now() < deadline {
        if let Ok((n, _)) = rustix::net::recv(fd, &mut buf[..], rustix::net::RecvFlags::empty())
            && accept(&buf[..n])
        {
            return Some(buf[..n].to_vec());
        }
    }
    None
}

/// The link-layer address `ns`'s neighbour table has for `addr` on `dev`.
fn neighbour(ns: &str, dev: &str, addr: &str) -> Option<String> {
    let out = ip(&["-j", "-n", ns, "neigh", "show", addr, "dev", dev]);
    let v: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
    v.as_array()?
        .iter()
        .find_map(|n| Some(n["lladdr"].as_str()?.to_string()))
}

fn wait_neighbour(ns: &str, dev: &str, addr: &str, want: &str) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let got = neighbour(ns, dev, addr);
        if got.as_deref() == Some(want) || Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn mac_bytes(mac: &str) -> Vec<u8> {
    mac.split(':')
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

fn arp_accept(ns: &str, dev: &str) {
    let st = Command::new("ip")
        .args(["netns", "exec", ns, "sysctl", "-qw"])
        .arg(format!("net.ipv4.conf.{dev}.arp_accept=1"))
        .status()
        .unwrap();
    assert!(st.success());
}

const MAC_A: &str = "fa:16:3e:ad:00:01";
const VIP4: &str = "198.51.100.10";

/// A gratuitous ARP from the VIP's ARP sender, for the VIP.
fn is_garp_for(vip: [u8; 4]) -> impl Fn(&[u8]) -> bool {
    move |f| f.len() >= 42 && f[12..14] == [0x08, 0x06] && f[28..32] == vip
}

#[tokio::test]
async fn garp_for_an_ipv4_address() {
    let (_ns, a, b) = pair("g4", MAC_A);
    ip(&["-n", &a, "addr", "add", &format!("{VIP4}/24"), "dev", "va"]);
    ip(&["-n", &b, "addr", "add", "198.51.100.20/24", "dev", "vb"]);
    arp_accept(&b, "vb");
    let cap = capture(&b, rustix::net::eth::ARP);
    assert_eq!(neighbour(&b, "vb", VIP4), None);

    send_for_address(Some(&a), VIP4.parse().unwrap())
        .await
        .unwrap();

    let f = frame(&cap, is_garp_for([198, 51, 100, 10])).expect("no GARP seen in B");
    let mac = mac_bytes(MAC_A);
    assert_eq!(f[0..6], [0xff; 6], "destination: broadcast");
    assert_eq!(f[6..12], mac[..], "source: A's MAC");
    assert_eq!(f[14..20], [0, 1, 0x08, 0, 6, 4], "Ethernet/IPv4 ARP");
    assert_eq!(f[20..22], [0, 1], "opcode: request");
    assert_eq!(f[22..28], mac[..], "sender MAC");
    assert_eq!(f[38..42], [198, 51, 100, 10], "target IP = VIP");
    // B's kernel took it as an announcement of the VIP at A's MAC.
    assert_eq!(
        wait_neighbour(&b, "vb", VIP4, MAC_A).as_deref(),
        Some(MAC_A)
    );
}

fn icmpv6_checksum_ok(src: &[u8], dst: &[u8], msg: &[u8]) -> bool {
    let mut data = Vec::new();
    data.extend_from_slice(src);
    data.extend_from_slice(dst);
    data.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    data.extend_from_slice(&[0, 0, 0, 58]);
    data.extend_from_slice(msg);
    if data.len() % 2 == 1 {
        data.push(0);
    }
    let mut sum: u64 = data
        .chunks(2)
        .map(|c| u64::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum == 0xffff
}

#[tokio::test]
async fn neighbor_advertisement_for_an_ipv6_address() {
    const VIP6: &str = "2001:db8::10";
    let (_ns, a, b) = pair("na6", MAC_A);
    ip(&[
        "-n",
        &a,
        "addr",
        "add",
        "2001:db8::10/64",
        "dev",
        "va",
        "nodad",
    ]);
    ip(&[
        "-n",
        &b,
        "addr",
        "add",
        "2001:db8::20/64",
        "dev",
        "vb",
        "nodad",
    ]);
    // Linux takes an unsolicited advertisement as an update of an entry
    // it has (not as a new one): B knows the VIP at some older MAC.
    const OLD: &str = "02:00:00:00:00:99";
    ip(&[
        "-n", &b, "neigh", "replace", VIP6, "lladdr", OLD, "dev", "vb", "nud", "stale",
    ]);
    let cap = capture(&b, rustix::net::eth::IPV6);

    send_for_address(Some(&a), VIP6.parse().unwrap())
        .await
        .unwrap();

    let vip: Ipv6Addr = VIP6.parse().unwrap();
    let f = frame(&cap, |f| {
        f.len() >= 86 && f[20] == 58 && f[54] == 136 && f[62..78] == vip.octets()
    })
    .expect("no neighbor advertisement seen in B");
    let mac = mac_bytes(MAC_A);
    assert_eq!(f[0..6], [0x33, 0x33, 0, 0, 0, 1], "destination: all nodes");
    assert_eq!(f[6..12], mac[..], "source: A's MAC");
    assert_eq!(f[12..14], [0x86, 0xdd]);
    assert_eq!(f[14] >> 4, 6);
    assert_eq!(u16::from_be_bytes([f[18], f[19]]), 32, "payload length");
    assert_eq!(f[21], 255, "hop limit");
    assert_eq!(f[22..38], vip.octets(), "source: the VIP");
    let all_nodes: Ipv6Addr = "ff02::1".parse().unwrap();
    assert_eq!(f[38..54], all_nodes.octets());
    let icmp = &f[54..86];
    assert_eq!(icmp[1], 0, "code");
    assert_eq!(icmp[4] & 0xe0, 0x20, "flags: Override only");
    assert_eq!(icmp[24..26], [2, 1], "target link-layer address option");
    assert_eq!(icmp[26..32], mac[..]);
    assert!(
        icmpv6_checksum_ok(&f[22..38], &f[38..54], icmp),
        "ICMPv6 checksum"
    );
    // B's kernel (which checks the checksum and hop limit) updated it.
    assert_eq!(
        wait_neighbour(&b, "vb", VIP6, MAC_A).as_deref(),
        Some(MAC_A)
    );
}

#[tokio::test]
async fn an_address_nobody_holds_is_an_error() {
    let (_ns, a, _b) = pair("none", MAC_A);
    let addr: IpAddr = "198.51.100.99".parse().unwrap();
    match send_for_address(Some(&a), addr).await {
        Err(Error::NoInterface(x)) => assert_eq!(x, addr),
        other => panic!("{other:?}"),
    }
}

/// One request to the agent's router; (status, body).
async fn call(app: &axum::Router, method: &str, path: &str, body: String) -> (u16, String) {
    use tower::ServiceExt;
    let req = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .body(axum::body::Body::from(body))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status().as_u16();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[test]
fn agent_start_in_single_topology_advertises_the_vip() {
    const LB: &str = "9b8f0c2e-7e0e-4d39-8e3e-0f4e5d6c7b8a";
    const AMP: &str = "5d1c6f0e-4a63-4f4e-9a7b-1a2b3c4d5e6f";
    // A is the amphora's outer namespace; the agent makes the inner one
    // and moves the VIP port (va) into it as eth1.
    let (mut ns, outer, b) = pair("agent", MAC_A);
    let inner = ns.adopt(format!("{outer}-haproxy"));
    ip(&["-n", &b, "addr", "add", "198.51.100.20/24", "dev", "vb"]);
    arp_accept(&b, "vb");
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = AgentConfig::new(AMP, dir.path().join("agent"));
    cfg.inner_namespace = Some(inner.clone());
    std::fs::create_dir_all(&cfg.base_dir).unwrap();
    let app = neutrino_amphora_agent::router(cfg, Hooks::default());

    // On a thread inside the outer namespace, as the agent runs: the
    // commands it starts (`ip`, haproxy) start in there.
    let b2 = b.clone();
    in_netns(&outer, move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let plug = serde_json::json!({
                "subnet_cidr": "198.51.100.0/24",
                "gateway": "198.51.100.1",
                "mac_address": MAC_A,
            });
            let (s, body) = call(&app, "POST", &format!("/1.0/plug/vip/{VIP4}"), plug.to_string()).await;
            assert_eq!(s, 202, "{body}");
            // Plugging alone announces nothing.
            tokio::time::sleep(Duration::from_millis(300)).await;
            assert_eq!(neighbour(&b2, "vb", VIP4), None);

            let haproxy = format!(
                "global\n    daemon\n    maxconn 100\n\n\
                 defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 5s\n    timeout server 5s\n\n\
                 frontend 3f2a1b0c-1111-2222-3333-444455556666\n    bind {VIP4}:8080\n    default_backend pool\n\n\
                 backend pool\n    server m1 127.0.0.1:9\n"
            );
            let (s, body) = call(&app, "PUT", &format!("/1.0/loadbalancer/{AMP}/{LB}/haproxy"), haproxy).await;
            assert_eq!(s, 202, "{body}");
            let (s, body) = call(&app, "PUT", &format!("/1.0/loadbalancer/{LB}/start"), String::new()).await;
            assert_eq!(s, 202, "{body}");
            assert_eq!(
                wait_neighbour(&b2, "vb", VIP4, MAC_A).as_deref(),
                Some(MAC_A),
                "B did not learn the VIP after start"
            );
            let (s, body) = call(&app, "PUT", &format!("/1.0/loadbalancer/{LB}/stop"), String::new()).await;
            assert_eq!(s, 202, "{body}");
        });
    });
}
