//! IPv6 SLAAC addresses (RFC 4291 modified EUI-64).

use std::net::{IpAddr, Ipv6Addr};

use ipnet::{IpNet, Ipv6Net};

use crate::{IpamError, Mac};

/// `ipv6_address_mode` values whose hosts derive their own address from
/// the MAC, which only works on a /64.
pub const AUTO_ADDRESS_MODES: [&str; 2] = ["slaac", "dhcpv6-stateless"];

/// The address a host on `prefix` configures for itself via SLAAC. Neutron
/// must predict it to record the port's fixed IP; `None` unless /64 because
/// the interface identifier is exactly 64 bits.
pub fn eui64(prefix: &Ipv6Net, mac: &Mac) -> Option<Ipv6Addr> {
    if prefix.prefix_len() != 64 {
        return None;
    }
    let [a, b, c, d, e, f] = mac.octets();
    // Flipping the universal/local bit makes locally administered MACs
    // yield "local" identifiers, as RFC 4291 appendix A requires.
    let iid = u64::from_be_bytes([a ^ 0x02, b, c, 0xff, 0xfe, d, e, f]);
    Some(Ipv6Addr::from(
        u128::from(prefix.network()) | u128::from(iid),
    ))
}

/// Heuristic from Neutron's `is_eui64_address`: the `ff:fe` filler marks
/// an address as MAC-derived, so a port update can regenerate it.
pub fn is_eui64_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V6(a) => (u128::from(a) >> 24) & 0xffff == 0xfffe,
        IpAddr::V4(_) => false,
    }
}

/// Rejects auto-address modes on anything but an IPv6 /64. Other modes,
/// and no mode at all, are always fine here.
pub fn check_auto_address_prefix(cidr: &IpNet, mode: Option<&str>) -> Result<(), IpamError> {
    match mode {
        Some(m)
            if AUTO_ADDRESS_MODES.contains(&m)
                && !matches!(cidr, IpNet::V6(n) if n.prefix_len() == 64) =>
        {
            Err(IpamError::InvalidCidr(format!(
                "Invalid CIDR {cidr} for IPv6 address mode. OpenStack uses the EUI-64 address format, which requires the prefix to be /64."
            )))
        }
        _ => Ok(()),
    }
}
