//! IP advertisements for the VIPs after haproxy starts or reloads
//! (upstream `util.send_vip_advertisements` and `ip_advertisement.py`): a
//! gratuitous ARP for IPv4, an unsolicited neighbor advertisement for
//! IPv6, sent as raw Ethernet frames from the interface holding the VIP.
//!
//! Outside ACTIVE_STANDBY (where keepalived announces the VIP) nothing
//! else tells the network that a new amphora holds it: OVN binds the VIP's
//! virtual port only when it sees an ARP from the VIP, so after a failover
//! clients would wait for that until their neighbour entries expire.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::net::addr::{SocketAddrArg, SocketAddrLen, SocketAddrOpaque};
use rustix::net::{AddressFamily, SendFlags, SocketFlags, SocketType};

use crate::AgentConfig;
use crate::haproxy::Paths;

const ETH_P_ARP: u16 = 0x0806;
const ETH_P_IPV6: u16 = 0x86dd;
const BROADCAST: [u8; 6] = [0xff; 6];
/// ff02::1 (all nodes) as an Ethernet multicast address.
const ALL_NODES_MAC: [u8; 6] = [0x33, 0x33, 0, 0, 0, 1];
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
const IPPROTO_ICMPV6: u8 = 58;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("listing interfaces: {0}")]
    Links(String),
    #[error("no interface holds {0}")]
    NoInterface(IpAddr),
    #[error("interface {ifname} has no Ethernet address ({mac:?})")]
    Mac { ifname: String, mac: String },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}

/// Sends a gratuitous ARP (IPv4) or an unsolicited neighbor advertisement
/// (IPv6) for `addr` from the interface that holds it in network namespace
/// `netns` (`None`: the caller's).
pub async fn send_for_address(netns: Option<&str>, addr: IpAddr) -> Result<(), Error> {
    // Only its `ip` command (from PATH) is used.
    let cfg = AgentConfig::new(String::new(), PathBuf::new());
    send(&cfg, netns, addr).await
}

/// After haproxy of load balancer `lb` started or reloaded: advertises
/// each VIP its config binds. Failures are logged at debug level and
/// otherwise ignored, as upstream (a BACKUP does not hold the VIP).
pub(crate) async fn send_vip_advertisements(cfg: &AgentConfig, lb: &str) {
    let Ok(text) = std::fs::read_to_string(Paths(cfg).cfg(lb)) else {
        return;
    };
    for vip in vip_addresses(&text) {
        if let Err(e) = send(cfg, cfg.inner_namespace.as_deref(), vip).await {
            tracing::debug!(lb, %vip, error = %e, "VIP advertisement not sent");
        }
    }
}

/// The addresses haproxy binds (upstream `get_haproxy_vip_addresses`):
/// the first word with a port of each `bind` line, a comma-separated
/// list of `address:port`. Loopback and wildcard binds are not VIPs.
fn vip_addresses(cfg_text: &str) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for line in cfg_text.lines() {
        let Some(rest) = line.trim().strip_prefix("bind ") else {
            continue;
        };
        let Some(word) = rest.split_whitespace().find(|w| w.contains(':')) else {
            continue;
        };
        for addr_port in word.split(',') {
            let Some((addr, _)) = addr_port.rsplit_once(':') else {
                continue;
            };
            if let Ok(ip) = addr.trim_matches(['[', ']']).parse::<IpAddr>()
                && !ip.is_loopback()
                && !ip.is_unspecified()
                && !out.contains(&ip)
            {
                out.push(ip);
            }
        }
    }
    out
}

async fn send(cfg: &AgentConfig, netns: Option<&str>, addr: IpAddr) -> Result<(), Error> {
    let links = crate::net::links(cfg, netns).await.map_err(Error::Links)?;
    let link = links
        .iter()
        .find(|l| l.addrs.contains(&addr))
        .ok_or(Error::NoInterface(addr))?;
    let mac = parse_mac(&link.mac).ok_or_else(|| Error::Mac {
        ifname: link.ifname.clone(),
        mac: link.mac.clone(),
    })?;
    let (protocol, dest, frame) = match addr {
        IpAddr::V4(ip) => (ETH_P_ARP, BROADCAST, garp(mac, ip)),
        IpAddr::V6(ip) => (ETH_P_IPV6, ALL_NODES_MAC, neighbor_advertisement(mac, ip)),
    };
    let netns = netns.map(str::to_owned);
    let ifname = link.ifname.clone();
    // Blocking: entering a namespace takes a thread of its own.
    tokio::task::spawn_blocking(move || {
        send_frame(netns.as_deref(), &ifname, protocol, dest, &frame)
    })
    .await
    .map_err(|e| Error::Io {
        what: "advertisement task".into(),
        source: io::Error::other(e),
    })?
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut mac {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

fn send_frame(
    netns: Option<&str>,
    ifname: &str,
    protocol: u16,
    dest: [u8; 6],
    frame: &[u8],
) -> Result<(), Error> {
    let fd = packet_socket(netns).map_err(io_err(format!(
        "packet socket in namespace {}",
        netns.unwrap_or("(own)")
    )))?;
    let ifindex = rustix::net::netdevice::name_to_index(&fd, ifname)
        .map_err(|e| io_err(format!("index of {ifname}"))(e.into()))?;
    let mut addr = [0u8; 8];
    addr[..6].copy_from_slice(&dest);
    let to = LinkAddr {
        family: AddressFamily::PACKET.as_raw(),
        protocol: protocol.to_be(),
        ifindex: ifindex as i32,
        hatype: 0,
        pkttype: 0,
        halen: 6,
        addr,
    };
    rustix::net::sendto(&fd, frame, SendFlags::empty(), &to)
        .map_err(|e| io_err(format!("sending on {ifname}"))(e.into()))?;
    Ok(())
}

/// An `AF_PACKET` socket (send only: protocol 0 receives nothing), made
/// in `netns` by a short-lived thread that enters it: a socket stays in
/// the namespace it was made in.
fn packet_socket(netns: Option<&str>) -> io::Result<OwnedFd> {
    let open = || {
        rustix::net::socket_with(
            AddressFamily::PACKET,
            SocketType::RAW,
            SocketFlags::CLOEXEC,
            None,
        )
        .map_err(io::Error::from)
    };
    let Some(ns) = netns else {
        return open();
    };
    let file = std::fs::File::open(Path::new("/run/netns").join(ns))?;
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("advertise-netns".into())
            .spawn_scoped(s, || {
                rustix::thread::move_into_link_name_space(
                    file.as_fd(),
                    Some(rustix::thread::LinkNameSpaceType::Network),
                )?;
                open()
            })?
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("namespace thread panicked")))
    })
}

/// `struct sockaddr_ll` (packet(7)): where `sendto` puts a raw frame.
#[repr(C)]
struct LinkAddr {
    family: u16,
    /// Ethertype, network byte order.
    protocol: u16,
    ifindex: i32,
    hatype: u16,
    pkttype: u8,
    halen: u8,
    addr: [u8; 8],
}

// The one unsafe item here: rustix has no `sockaddr_ll` of its own.
// SAFETY: `LinkAddr` is `#[repr(C)]` with the layout of `sockaddr_ll`
// (20 bytes, no padding); `f` gets a pointer to `self`, readable for its
// whole size while `f` runs.
#[allow(unsafe_code)]
unsafe impl SocketAddrArg for LinkAddr {
    unsafe fn with_sockaddr<R>(
        &self,
        f: impl FnOnce(*const SocketAddrOpaque, SocketAddrLen) -> R,
    ) -> R {
        f(
            std::ptr::from_ref(self).cast(),
            std::mem::size_of::<Self>() as SocketAddrLen,
        )
    }
}

const _: () = assert!(std::mem::size_of::<LinkAddr>() == 20);

/// A gratuitous ARP request, as upstream's: sender and target address
/// the VIP, target hardware address broadcast; padded to Ethernet's
/// minimum frame size.
fn garp(mac: [u8; 6], ip: Ipv4Addr) -> Vec<u8> {
    let mut f = Vec::with_capacity(60);
    f.extend_from_slice(&BROADCAST);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&ETH_P_ARP.to_be_bytes());
    f.extend_from_slice(&1u16.to_be_bytes()); // hardware type: Ethernet
    f.extend_from_slice(&0x0800u16.to_be_bytes()); // protocol type: IPv4
    f.extend_from_slice(&[6, 4]); // address sizes
    f.extend_from_slice(&1u16.to_be_bytes()); // opcode: request
    f.extend_from_slice(&mac);
    f.extend_from_slice(&ip.octets());
    f.extend_from_slice(&BROADCAST);
    f.extend_from_slice(&ip.octets());
    f.resize(60, 0);
    f
}

/// An unsolicited neighbor advertisement (RFC 4861 §7.2.6) to all nodes,
/// with the Override flag and the target link-layer address option.
/// Unlike upstream it does not claim to be a router (its R flag): an
/// amphora forwards nothing, and Linux's own unsolicited ones set R only
/// when forwarding.
fn neighbor_advertisement(mac: [u8; 6], ip: Ipv6Addr) -> Vec<u8> {
    let mut icmp = Vec::with_capacity(32);
    icmp.extend_from_slice(&[136, 0, 0, 0]); // type, code, checksum (below)
    icmp.extend_from_slice(&0x2000_0000u32.to_be_bytes()); // flags: O
    icmp.extend_from_slice(&ip.octets());
    icmp.extend_from_slice(&[2, 1]); // target link-layer address, 8 bytes
    icmp.extend_from_slice(&mac);
    let sum = icmpv6_checksum(ip, ALL_NODES, &icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());

    let mut f = Vec::with_capacity(14 + 40 + icmp.len());
    f.extend_from_slice(&ALL_NODES_MAC);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&ETH_P_IPV6.to_be_bytes());
    f.extend_from_slice(&[0x60, 0, 0, 0]); // version 6, no class or flow
    f.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
    // Hop limit 255: receivers drop neighbor discovery with any other.
    f.extend_from_slice(&[IPPROTO_ICMPV6, 255]);
    f.extend_from_slice(&ip.octets());
    f.extend_from_slice(&ALL_NODES.octets());
    f.extend_from_slice(&icmp);
    f
}

/// The ICMPv6 checksum (RFC 4443 §2.3): over the IPv6 pseudo-header and
/// the message (its checksum field zero).
fn icmpv6_checksum(src: Ipv6Addr, dst: Ipv6Addr, msg: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |bytes: &[u8]| {
        for c in bytes.chunks(2) {
            sum += u32::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)]));
        }
    };
    add(&src.octets());
    add(&dst.octets());
    add(&(msg.len() as u32).to_be_bytes());
    add(&[0, 0, 0, IPPROTO_ICMPV6]);
    add(msg);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0xfa, 0x16, 0x3e, 0x00, 0x00, 0x01];

    #[test]
    fn vips_from_bind_lines() {
        let cfg = "frontend a\n    bind 203.0.113.10:80 ssl crt /x ciphers A:B\n\
                   bind 2001:db8::10:443,203.0.113.11:443\n\
                   bind 203.0.113.10:8080\n\
                   frontend prometheus\n    bind 127.0.0.1:9101\n    bind :::81 v4v6\n\
                   backend b\n    server m 198.51.100.5:80\n";
        let want: Vec<IpAddr> = ["203.0.113.10", "2001:db8::10", "203.0.113.11"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(vip_addresses(cfg), want);
    }

    #[test]
    fn mac_parsing() {
        assert_eq!(parse_mac("fa:16:3e:00:00:01"), Some(MAC));
        assert_eq!(parse_mac("fa:16:3e:00:00"), None);
        assert_eq!(parse_mac("fa:16:3e:00:00:01:02"), None);
        assert_eq!(parse_mac(""), None);
    }

    #[test]
    fn garp_frame() {
        let f = garp(MAC, Ipv4Addr::new(203, 0, 113, 10));
        assert_eq!(f.len(), 60);
        assert_eq!(&f[..6], &BROADCAST);
        assert_eq!(&f[6..12], &MAC);
        assert_eq!(&f[12..14], &[0x08, 0x06]);
        assert_eq!(&f[20..22], &[0, 1]); // request
        assert_eq!(&f[22..28], &MAC);
        assert_eq!(&f[28..32], &[203, 0, 113, 10]);
        assert_eq!(&f[38..42], &[203, 0, 113, 10]);
    }

    #[test]
    fn neighbor_advertisement_checksum() {
        let ip: Ipv6Addr = "2001:db8::10".parse().unwrap();
        let f = neighbor_advertisement(MAC, ip);
        assert_eq!(f.len(), 14 + 40 + 32);
        let icmp = &f[54..];
        assert_eq!(icmp[0], 136);
        assert_ne!(&icmp[2..4], &[0, 0]);
        // Summed with its checksum in place, a message checks to zero.
        assert_eq!(icmpv6_checksum(ip, ALL_NODES, icmp), 0);
        // Computed independently (Python's struct over the same bytes).
        assert_eq!(&icmp[2..4], &[0xc2, 0xf5]);
    }
}
