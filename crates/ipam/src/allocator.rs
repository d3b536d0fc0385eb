//! In-memory allocator: the executable specification of the store's SQL
//! allocation query, and a test double for code that needs an IPAM.

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::addr::{from_u128, inside, same_family, to_u128};
use crate::{IpamError, Pool, is_valid_for_subnet};

/// Allocation state of one subnet.
#[derive(Clone, Debug)]
pub struct Allocator {
    cidr: IpNet,
    /// Inclusive numeric ranges, kept in the caller's order because
    /// allocation fills pool 1 before looking at pool 2.
    pools: Vec<(u128, u128)>,
    allocated: BTreeSet<u128>,
}

impl Allocator {
    /// Pools are expected to have passed [`crate::validate_pools`]. Ones that
    /// could not (wrong family, reversed, outside the CIDR) are dropped so
    /// they can never yield an address off the subnet.
    pub fn new(cidr: IpNet, pools: Vec<Pool>) -> Self {
        let cidr = cidr.trunc();
        let pools = pools
            .iter()
            .filter_map(|p| Some((inside(&cidr, p.start)?, inside(&cidr, p.end)?)))
            .filter(|(s, e)| s <= e)
            .collect();
        Allocator {
            cidr,
            pools,
            allocated: BTreeSet::new(),
        }
    }

    pub fn cidr(&self) -> &IpNet {
        &self.cidr
    }

    /// The lowest free address of the first pool that has one. Pools can
    /// span 2^64 addresses, so this walks the allocated set, not the pool.
    pub fn first_free(&self) -> Option<IpAddr> {
        self.pools.iter().find_map(|&(start, end)| {
            let mut candidate = Some(start);
            for &taken in self.allocated.range(start..=end) {
                match candidate {
                    Some(c) if c == taken => candidate = (c < end).then(|| c + 1),
                    _ => break,
                }
            }
            candidate.map(|c| from_u128(&self.cidr, c))
        })
    }

    /// Neutron's `PreferNextAddressRequest` order (lowest free address).
    pub fn allocate_next(&mut self) -> Result<IpAddr, IpamError> {
        let ip = self.first_free().ok_or(IpamError::Exhausted)?;
        self.allocated.insert(to_u128(ip));
        Ok(ip)
    }

    /// A port asking for a given address. Uniqueness is checked before
    /// validity, as Neutron's `neutrondb_ipam` does; pools do not matter.
    pub fn allocate_specific(&mut self, ip: IpAddr, device_owner: &str) -> Result<(), IpamError> {
        if self.is_allocated(ip) {
            return Err(IpamError::AlreadyAllocated(ip));
        }
        if !is_valid_for_subnet(&self.cidr, ip, device_owner) {
            return Err(IpamError::NotInSubnet(ip));
        }
        self.allocated.insert(to_u128(ip));
        Ok(())
    }

    /// Frees `ip`; returns whether it was allocated.
    pub fn release(&mut self, ip: IpAddr) -> bool {
        same_family(&self.cidr, ip) && self.allocated.remove(&to_u128(ip))
    }

    pub fn is_allocated(&self, ip: IpAddr) -> bool {
        same_family(&self.cidr, ip) && self.allocated.contains(&to_u128(ip))
    }

    /// Allocated addresses in ascending order.
    pub fn allocated(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.allocated.iter().map(|&v| from_u128(&self.cidr, v))
    }
}
