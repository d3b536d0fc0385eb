//! Allocation pools: defaults, validation and the offset form the store uses.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::IpamError;
use crate::addr::{bounds, from_u128, same_family, to_u128, usable_bounds};

/// An inclusive address range, as in Neutron's `allocation_pools` entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pool {
    pub start: IpAddr,
    pub end: IpAddr,
}

impl Pool {
    pub fn new(start: IpAddr, end: IpAddr) -> Self {
        Pool { start, end }
    }

    /// Start after end, or mixed families, is what netaddr's `IPRange`
    /// refuses, which Neutron reports as `InvalidAllocationPool`.
    fn well_formed(&self) -> bool {
        self.start.is_ipv4() == self.end.is_ipv4() && to_u128(self.start) <= to_u128(self.end)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.start.is_ipv4() == ip.is_ipv4()
            && (to_u128(self.start)..=to_u128(self.end)).contains(&to_u128(ip))
    }
}

/// Neutron prints pools as netaddr's `IPRange` does: `start-end`.
impl fmt::Display for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

fn invalid(pool: impl fmt::Display) -> IpamError {
    IpamError::InvalidAllocationPool(format!("The allocation pool {pool} is not valid."))
}

/// Parses an API `{"start", "end"}` pair; every failure is
/// `InvalidAllocationPool`, as in Neutron's `pools_to_ip_range`.
pub fn parse_pool(start: &str, end: &str) -> Result<Pool, IpamError> {
    let err = || invalid(format_args!("{start}-{end}"));
    let pool = Pool::new(
        start.parse().map_err(|_| err())?,
        end.parse().map_err(|_| err())?,
    );
    if pool.well_formed() {
        Ok(pool)
    } else {
        Err(err())
    }
}

/// Pools generated when the request gives none (Neutron `generate_pools`).
/// The gateway is carved out so a default subnet never hands it to a port.
pub fn default_pools(cidr: &IpNet, gateway: Option<IpAddr>) -> Vec<Pool> {
    let (s, e) = usable_bounds(cidr);
    let mk = |a, b| Pool::new(from_u128(cidr, a), from_u128(cidr, b));
    let gw = gateway
        .filter(|g| same_family(cidr, *g))
        .map(to_u128)
        .filter(|g| (s..=e).contains(g));
    match gw {
        None => vec![mk(s, e)],
        Some(g) if g == s && g == e => vec![],
        Some(g) if g == s => vec![mk(s + 1, e)],
        Some(g) if g == e => vec![mk(s, e - 1)],
        Some(g) => vec![mk(s, g - 1), mk(g + 1, e)],
    }
}

/// Whether two pools share an address. Different families never overlap.
pub fn ranges_overlap(a: &Pool, b: &Pool) -> bool {
    a.start.is_ipv4() == b.start.is_ipv4()
        && to_u128(a.start) <= to_u128(b.end)
        && to_u128(b.start) <= to_u128(a.end)
}

/// Validates explicit pools in Neutron's order, so that a request breaking
/// several rules gets the same error type Neutron would report first.
pub fn validate_pools(
    cidr: &IpNet,
    pools: &[Pool],
    gateway: Option<IpAddr>,
) -> Result<(), IpamError> {
    if let Some(bad) = pools.iter().find(|p| !p.well_formed()) {
        return Err(invalid(bad));
    }
    let (lo, hi) = usable_bounds(cidr);
    for pool in pools {
        if !same_family(cidr, pool.start) {
            return Err(invalid(pool));
        }
        if to_u128(pool.start) < lo || to_u128(pool.end) > hi {
            return Err(IpamError::OutOfBoundsAllocationPool(format!(
                "The allocation pool {pool} spans beyond the subnet cidr {cidr}."
            )));
        }
    }
    for (i, a) in pools.iter().enumerate() {
        if let Some(b) = pools[i + 1..].iter().find(|b| ranges_overlap(a, b)) {
            return Err(IpamError::OverlappingAllocationPools(format!(
                "Found overlapping allocation pools: {a} {b} for subnet {cidr}."
            )));
        }
    }
    if let Some(gw) = gateway
        && let Some(pool) = pools.iter().find(|p| p.contains(gw))
    {
        return Err(IpamError::GatewayConflictWithAllocationPools(format!(
            "Gateway ip {gw} conflicts with allocation pool {pool}."
        )));
    }
    Ok(())
}

/// The pool as offsets from the network address, the form the allocation
/// query works on. Offsets saturate at `i64::MAX`: no v6 pool can be filled
/// that far, so the unreachable tail is simply not representable.
pub fn pool_offsets(cidr: &IpNet, pool: &Pool) -> (i64, i64) {
    let (first, _) = bounds(cidr);
    let off = |ip| {
        let v: u128 = to_u128(ip);
        i64::try_from(v.saturating_sub(first)).unwrap_or(i64::MAX)
    };
    (off(pool.start), off(pool.end))
}
