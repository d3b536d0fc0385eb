//! Per-address rules: CIDR parsing, gateway defaults, usable ranges, offsets.
//!
//! Internally every address is handled as a `u128` within its family so the
//! v4 and v6 rules share one arithmetic path; the family is always carried by
//! the subnet's [`IpNet`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use crate::IpamError;

/// Owners allowed to take an IPv6 subnet's network address: Neutron lets
/// routers use the subnet-router anycast address (`ROUTER_PORT_OWNERS`).
pub const ROUTER_PORT_OWNERS: [&str; 5] = [
    "network:router_interface",
    "network:router_gateway",
    "network:router_interface_distributed",
    "network:ha_router_replicated_interface",
    "network:router_centralized_snat",
];

pub(crate) fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u32::from(a).into(),
        IpAddr::V6(a) => a.into(),
    }
}

/// Builds an address of `cidr`'s family. Callers only pass values derived
/// from that family's bounds, so the v4 narrowing cannot lose bits.
pub(crate) fn from_u128(cidr: &IpNet, v: u128) -> IpAddr {
    match cidr {
        IpNet::V4(_) => IpAddr::V4(Ipv4Addr::from(u32::try_from(v).expect("v4 value fits u32"))),
        IpNet::V6(_) => IpAddr::V6(Ipv6Addr::from(v)),
    }
}

pub(crate) fn same_family(cidr: &IpNet, ip: IpAddr) -> bool {
    matches!(
        (cidr, ip),
        (IpNet::V4(_), IpAddr::V4(_)) | (IpNet::V6(_), IpAddr::V6(_))
    )
}

/// First and last address of the CIDR (network and v4 broadcast).
pub(crate) fn bounds(cidr: &IpNet) -> (u128, u128) {
    (to_u128(cidr.network()), to_u128(cidr.broadcast()))
}

/// `ip`'s numeric value if it lies inside `cidr` (same family).
pub(crate) fn inside(cidr: &IpNet, ip: IpAddr) -> Option<u128> {
    let (first, last) = bounds(cidr);
    let v = to_u128(ip);
    (same_family(cidr, ip) && (first..=last).contains(&v)).then_some(v)
}

/// The range Neutron hands out by default (`generate_pools`); explicit pools
/// are checked against the same range so both paths agree.
pub(crate) fn usable_bounds(cidr: &IpNet) -> (u128, u128) {
    let (first, last) = bounds(cidr);
    if first == last {
        return (first, last);
    }
    match cidr {
        IpNet::V4(n) if n.prefix_len() <= 30 => (first + 1, last - 1),
        // Point-to-point /31 links have no network or broadcast address.
        IpNet::V4(_) => (first, last),
        // No broadcast in v6, but the network address is the subnet-router
        // anycast address and is never pooled.
        IpNet::V6(_) => (first + 1, last),
    }
}

/// Parses a subnet CIDR and drops host bits, as Neutron stores
/// `10.0.0.5/24` as `10.0.0.0/24`.
pub fn normalize_cidr(s: &str) -> Result<IpNet, IpamError> {
    let net: IpNet = s
        .parse()
        .map_err(|_| IpamError::InvalidCidr(format!("'{s}' is not a valid IP subnet")))?;
    if !s.contains('/') {
        return Err(IpamError::InvalidCidr(format!(
            "'{s}' isn't a recommended IP address. Use '{net}' instead"
        )));
    }
    // A /0 would make dnsmasq fail (Neutron bug 1362651), so Neutron forbids it.
    if net.prefix_len() == 0 {
        return Err(IpamError::InvalidCidr(
            "0 is not allowed as CIDR prefix length".into(),
        ));
    }
    Ok(net.trunc())
}

/// Gateway used when the request omits `gateway_ip` entirely (an explicit
/// `null` means "no gateway" and never reaches here).
///
/// IPv6 deliberately uses the network address itself, matching Neutron's
/// `_gateway_ip_str`. For 255.255.255.255/32 there is no "+1"; the address
/// saturates rather than wrapping into 0.0.0.0.
pub fn default_gateway(cidr: &IpNet) -> IpAddr {
    let (first, _) = bounds(cidr);
    match cidr {
        IpNet::V4(_) => from_u128(cidr, (first + 1).min(u32::MAX.into())),
        IpNet::V6(_) => from_u128(cidr, first),
    }
}

/// Neutron lets the gateway live outside the CIDR (provider networks do
/// that), so only an in-CIDR v4 network or broadcast address is rejected.
/// The v6 network address stays legal: it is Neutron's default v6 gateway.
pub fn validate_gateway(cidr: &IpNet, gw: IpAddr) -> Result<(), IpamError> {
    if !same_family(cidr, gw) {
        let version = if cidr.addr().is_ipv4() { 4 } else { 6 };
        return Err(IpamError::InvalidGateway(format!(
            "gateway_ip '{gw}' does not match the ip_version '{version}'"
        )));
    }
    let (first, last) = bounds(cidr);
    let bad = match inside(cidr, gw) {
        Some(v) => cidr.addr().is_ipv4() && (v == first || v == last),
        None => false,
    };
    if bad {
        return Err(IpamError::InvalidGateway(
            "Gateway is not valid on subnet".into(),
        ));
    }
    Ok(())
}

/// Lowest address that may appear in an allocation pool.
pub fn first_usable(cidr: &IpNet) -> IpAddr {
    from_u128(cidr, usable_bounds(cidr).0)
}

/// Highest address that may appear in an allocation pool.
pub fn last_usable(cidr: &IpNet) -> IpAddr {
    from_u128(cidr, usable_bounds(cidr).1)
}

/// Neutron's `check_subnet_ip`: whether a port may hold `ip` on this subnet.
/// Pools are irrelevant here because specific IPs may sit outside them.
pub fn is_valid_for_subnet(cidr: &IpNet, ip: IpAddr, device_owner: &str) -> bool {
    let Some(v) = inside(cidr, ip) else {
        return false;
    };
    let (first, last) = bounds(cidr);
    match cidr {
        IpNet::V4(n) if n.prefix_len() <= 30 => v != first && v != last,
        IpNet::V4(_) => true,
        IpNet::V6(_) => {
            v != first || device_owner.is_empty() || ROUTER_PORT_OWNERS.contains(&device_owner)
        }
    }
}

/// Offset of `ip` from the network address, as stored in the database.
/// `None` when `ip` is outside the CIDR or (huge v6 subnets) beyond `i64`.
pub fn offset_of(cidr: &IpNet, ip: IpAddr) -> Option<i64> {
    let v = inside(cidr, ip)?;
    i64::try_from(v - bounds(cidr).0).ok()
}

/// Inverse of [`offset_of`]; `None` for negative offsets or ones past the CIDR.
pub fn addr_at(cidr: &IpNet, offset: i64) -> Option<IpAddr> {
    let offset = u128::try_from(offset).ok()?;
    let (first, last) = bounds(cidr);
    (offset <= last - first).then(|| from_u128(cidr, first + offset))
}

/// Whether two subnets share any address. Different families never overlap.
/// Aligned CIDRs are either nested or disjoint, so comparing ranges suffices.
pub fn cidrs_overlap(a: &IpNet, b: &IpNet) -> bool {
    if a.addr().is_ipv4() != b.addr().is_ipv4() {
        return false;
    }
    let (a1, a2) = bounds(a);
    let (b1, b2) = bounds(b);
    a1 <= b2 && b1 <= a2
}
