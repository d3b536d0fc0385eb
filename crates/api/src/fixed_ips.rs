//! Choosing and recording a port's addresses (Neutron's
//! `_allocate_ips_for_port` rules), inside the caller's transaction.

use std::net::IpAddr;

use neutrino_ipam::{IpNet, Mac};
use neutrino_store::Tx;
use neutrino_store::ports as store;
use neutrino_store::subnets::{self as subnets, PoolsBySubnet, StoredPool};
use neutrino_types::model::{FixedIp, Subnet};
use neutrino_types::{ApiError, ROUTER_INTERFACE_OWNERS};
use rand::Rng;
use serde_json::Value;

use crate::body::is_uuid;
use crate::networks::internal;

/// One entry of a `fixed_ips` request.
#[derive(Clone, Debug)]
pub struct Requested {
    pub subnet_id: Option<String>,
    pub ip_address: Option<IpAddr>,
}

/// Parses `fixed_ips` with neutron-lib's `validate_fixed_ips` messages.
pub fn parse(v: &Value) -> Result<Vec<Requested>, ApiError> {
    let bad = |why: String| ApiError::invalid_attr("fixed_ips", why);
    let Value::Array(items) = v else {
        return Err(bad(format!("Invalid data format for fixed IP: '{v}'")));
    };
    let mut out: Vec<Requested> = Vec::new();
    for item in items {
        let Value::Object(o) = item else {
            return Err(bad(format!("Invalid data format for fixed IP: '{item}'")));
        };
        if let Some(k) = o.keys().find(|k| *k != "subnet_id" && *k != "ip_address") {
            return Err(bad(format!("Unrecognized attribute(s) '{k}'")));
        }
        let subnet_id = match o.get("subnet_id") {
            None => None,
            Some(Value::String(s)) if is_uuid(s) => Some(s.clone()),
            Some(s) => {
                return Err(bad(format!(
                    "'{}' is not a valid UUID",
                    s.as_str().unwrap_or(&s.to_string())
                )));
            }
        };
        let ip_address = match o.get("ip_address") {
            None => None,
            Some(Value::String(s)) => {
                let ip: IpAddr = s
                    .parse()
                    .map_err(|_| bad(format!("'{s}' is not a valid IP address")))?;
                if out.iter().any(|r| r.ip_address == Some(ip)) {
                    return Err(bad(format!("Duplicate IP address '{s}'")));
                }
                Some(ip)
            }
            Some(other) => return Err(bad(format!("'{other}' is not a valid IP address"))),
        };
        out.push(Requested {
            subnet_id,
            ip_address,
        });
    }
    Ok(out)
}

pub fn is_auto_address(s: &Subnet) -> bool {
    matches!(
        s.ipv6_address_mode.as_deref(),
        Some("slaac") | Some("dhcpv6-stateless")
    )
}

pub fn is_router_owner(owner: &str) -> bool {
    ROUTER_INTERFACE_OWNERS.contains(&owner)
}

fn cidr_of(s: &Subnet) -> Result<IpNet, ApiError> {
    s.cidr
        .parse()
        .map_err(|_| ApiError::internal("stored CIDR is invalid"))
}

fn generation_failure(network_id: &str) -> ApiError {
    ApiError::conflict(
        "IpAddressGenerationFailure",
        format!("No more IP addresses available on network {network_id}."),
    )
}

/// Everything needed to record addresses for one port.
pub struct PortAddressing<'a> {
    pub port_id: &'a str,
    pub network_id: &'a str,
    pub device_owner: &'a str,
    pub mac: &'a Mac,
    /// The stored pools of the network's subnets, as read with them
    /// ([`subnets::for_network_with_pools_tx`]).
    pub pools: &'a PoolsBySubnet,
}

/// Orders a port's addresses as the store returns them (by offset in their
/// subnet, then address), so an answer built from a request's own data
/// matches a later read.
pub fn sort_as_stored(ips: &mut [FixedIp], subnets_on_net: &[Subnet]) {
    ips.sort_by_cached_key(|f| {
        let offset = subnets_on_net
            .iter()
            .find(|s| s.id == f.subnet_id)
            .and_then(|s| cidr_of(s).ok())
            .zip(f.ip_address.parse::<IpAddr>().ok())
            .and_then(|(cidr, ip)| neutrino_ipam::offset_of(&cidr, ip));
        (offset, f.ip_address.clone())
    });
}

impl PortAddressing<'_> {
    async fn record(&self, tx: &mut Tx, subnet: &Subnet, ip: IpAddr) -> Result<bool, ApiError> {
        let cidr = cidr_of(subnet)?;
        let offset = neutrino_ipam::offset_of(&cidr, ip);
        store::insert_allocation(
            tx,
            &subnet.id,
            &ip.to_string(),
            offset,
            self.port_id,
            self.network_id,
        )
        .await
        .map_err(internal)
    }

    /// Records a specific address, or 409 if someone holds it.
    async fn take_specific(
        &self,
        tx: &mut Tx,
        subnet: &Subnet,
        ip: IpAddr,
    ) -> Result<FixedIp, ApiError> {
        if !self.record(tx, subnet, ip).await? {
            return Err(ApiError::conflict(
                "IpAddressAlreadyAllocated",
                format!("IP address {ip} already allocated in subnet {}", subnet.id),
            ));
        }
        Ok(FixedIp {
            subnet_id: subnet.id.clone(),
            ip_address: ip.to_string(),
        })
    }

    /// Picks a free address of `subnet`: a random starting point inside a
    /// pool, then the first free address at or after it (wrapping round).
    /// Service ports take the lowest free address, as Neutron gives them.
    async fn take_any(&self, tx: &mut Tx, subnet: &Subnet) -> Result<Option<FixedIp>, ApiError> {
        if is_auto_address(subnet) {
            let IpNet::V6(prefix) = cidr_of(subnet)? else {
                return Ok(None);
            };
            let Some(ip) = neutrino_ipam::eui64(&prefix, self.mac) else {
                return Ok(None);
            };
            return self
                .take_specific(tx, subnet, IpAddr::V6(ip))
                .await
                .map(Some);
        }
        let cidr = cidr_of(subnet)?;
        // Every subnet of the network has an entry, empty when it has no pools.
        let pools: &[StoredPool] = self.pools.get(&subnet.id).map_or(&[], Vec::as_slice);
        let lowest = self.device_owner.starts_with("network:");
        for pool in pools {
            // A lost race (another server took the address between our
            // read and our insert) just means trying again.
            for _ in 0..16 {
                let base = if lowest || pool.first_offset == pool.last_offset {
                    pool.first_offset
                } else {
                    // Stay in the first 2^24 addresses of huge IPv6 pools.
                    let hi = pool
                        .last_offset
                        .min(pool.first_offset.saturating_add(1 << 24));
                    let base = rand::rng().random_range(pool.first_offset..=hi);
                    // The random start is usually free, and then it is the
                    // answer the search below would give: try it first,
                    // one statement instead of two.
                    if let Some(got) = self.try_offset(tx, subnet, &cidr, base).await? {
                        return Ok(Some(got));
                    }
                    base
                };
                let mut found = store::next_free_offset(tx, &subnet.id, base, pool.last_offset)
                    .await
                    .map_err(internal)?;
                if found.is_none() && base > pool.first_offset {
                    found = store::next_free_offset(tx, &subnet.id, pool.first_offset, base - 1)
                        .await
                        .map_err(internal)?;
                }
                let Some(offset) = found else { break };
                if let Some(got) = self.try_offset(tx, subnet, &cidr, offset).await? {
                    return Ok(Some(got));
                }
            }
        }
        Ok(None)
    }

    /// Records the address at `offset` in `subnet` for this port; `None`
    /// when another port holds it.
    async fn try_offset(
        &self,
        tx: &mut Tx,
        subnet: &Subnet,
        cidr: &IpNet,
        offset: i64,
    ) -> Result<Option<FixedIp>, ApiError> {
        let ip = neutrino_ipam::addr_at(cidr, offset)
            .ok_or_else(|| ApiError::internal("offset outside subnet"))?;
        Ok(self.record(tx, subnet, ip).await?.then(|| FixedIp {
            subnet_id: subnet.id.clone(),
            ip_address: ip.to_string(),
        }))
    }

    /// Resolves and records the addresses of a new port. `requested` is
    /// `None` when the request had no `fixed_ips`.
    pub async fn allocate(
        &self,
        tx: &mut Tx,
        subnets_on_net: &[Subnet],
        requested: Option<&[Requested]>,
    ) -> Result<Vec<FixedIp>, ApiError> {
        match requested {
            Some(req) => self.allocate_requested(tx, subnets_on_net, req, &[]).await,
            None => self.allocate_default(tx, subnets_on_net).await,
        }
    }

    async fn allocate_default(
        &self,
        tx: &mut Tx,
        subnets_on_net: &[Subnet],
    ) -> Result<Vec<FixedIp>, ApiError> {
        let mut out = Vec::new();
        let v4: Vec<&Subnet> = subnets_on_net
            .iter()
            .filter(|s| s.ip_version == 4)
            .collect();
        let v6_stateful: Vec<&Subnet> = subnets_on_net
            .iter()
            .filter(|s| s.ip_version == 6 && !is_auto_address(s))
            .collect();
        for group in [v4, v6_stateful] {
            if group.is_empty() {
                continue;
            }
            let mut got = None;
            for s in group {
                if let Some(f) = self.take_any(tx, s).await? {
                    got = Some(f);
                    break;
                }
            }
            out.push(got.ok_or_else(|| generation_failure(self.network_id))?);
        }
        if !is_router_owner(self.device_owner) {
            for s in subnets_on_net.iter().filter(|s| is_auto_address(s)) {
                if let Some(f) = self.take_any(tx, s).await? {
                    out.push(f);
                }
            }
        }
        Ok(out)
    }

    /// Replaces the port's addresses `old` by the requested ones. Addresses
    /// asked for again are kept; with `keep_auto`, so are SLAAC addresses on
    /// subnets the request does not name (Neutron keeps those on update).
    /// Everything is released first so an address can move between entries;
    /// the caller's transaction makes it all-or-nothing.
    pub async fn reallocate(
        &self,
        tx: &mut Tx,
        subnets_on_net: &[Subnet],
        old: &[FixedIp],
        req: &[Requested],
        keep_auto: bool,
    ) -> Result<Vec<FixedIp>, ApiError> {
        for f in old {
            store::delete_allocation(tx, self.port_id, &f.subnet_id, &f.ip_address)
                .await
                .map_err(internal)?;
        }
        let new = self
            .allocate_requested(tx, subnets_on_net, req, old)
            .await?;
        let kept_auto = old.iter().filter(|f| {
            keep_auto
                && subnets_on_net
                    .iter()
                    .any(|s| s.id == f.subnet_id && is_auto_address(s))
                && !req
                    .iter()
                    .any(|r| r.subnet_id.as_deref() == Some(&f.subnet_id))
        });
        // Kept addresses were released above: record them again.
        for f in new.iter().filter(|f| old.contains(f)).chain(kept_auto) {
            let s = subnets_on_net
                .iter()
                .find(|s| s.id == f.subnet_id)
                .ok_or_else(|| ApiError::internal("subnet vanished"))?;
            let ip: IpAddr = f
                .ip_address
                .parse()
                .map_err(|_| ApiError::internal("stored IP is invalid"))?;
            self.record(tx, s, ip).await?;
        }
        Ok(new)
    }

    /// Resolves explicit entries. `keep` lists addresses the port already
    /// holds (on update), which are kept rather than re-allocated.
    pub async fn allocate_requested(
        &self,
        tx: &mut Tx,
        subnets_on_net: &[Subnet],
        req: &[Requested],
        keep: &[FixedIp],
    ) -> Result<Vec<FixedIp>, ApiError> {
        if !req.is_empty() && subnets_on_net.is_empty() {
            return Err(ApiError::invalid_input(
                "IP allocation requires subnets for network",
            ));
        }
        // Resolve every entry to a subnet first.
        let mut resolved: Vec<(&Subnet, Option<IpAddr>)> = Vec::new();
        for r in req {
            let subnet = match (&r.subnet_id, r.ip_address) {
                (Some(id), ip) => {
                    let Some(s) = subnets_on_net.iter().find(|s| &s.id == id) else {
                        let exists = subnets::get_tx(tx, id).await.map_err(internal)?.is_some();
                        return Err(if exists {
                            ApiError::invalid_input(format!(
                                "Failed to create port on network {}, because fixed_ips included invalid subnet {id}",
                                self.network_id
                            ))
                        } else {
                            ApiError::subnet_not_found(id)
                        });
                    };
                    if let Some(ip) = ip {
                        let cidr = cidr_of(s)?;
                        if !neutrino_ipam::is_valid_for_subnet(&cidr, ip, self.device_owner) {
                            return Err(ApiError::new(
                                400,
                                "InvalidIpForSubnet",
                                format!("IP address {ip} is not a valid IP for the specified subnet."),
                            ));
                        }
                    }
                    s
                }
                (None, Some(ip)) => subnets_on_net
                    .iter()
                    .find(|s| {
                        cidr_of(s).is_ok_and(|c| neutrino_ipam::is_valid_for_subnet(&c, ip, self.device_owner))
                    })
                    .ok_or_else(|| {
                        ApiError::new(
                            400,
                            "InvalidIpForNetwork",
                            format!("IP address {ip} is not a valid IP for any of the subnets on the specified network."),
                        )
                    })?,
                (None, None) => {
                    return Err(ApiError::invalid_input("Failed to parse request. fixed_ips entries need a subnet_id or an ip_address"));
                }
            };
            if let Some(ip) = r.ip_address
                && is_auto_address(subnet)
                && !is_router_owner(self.device_owner)
            {
                let IpNet::V6(prefix) = cidr_of(subnet)? else {
                    unreachable!("auto-address subnets are IPv6")
                };
                if neutrino_ipam::eui64(&prefix, self.mac).map(IpAddr::V6) != Some(ip) {
                    return Err(ApiError::new(
                        400,
                        "AllocationOnAutoAddressSubnet",
                        format!(
                            "IPv6 address {ip} cannot be directly assigned to a port on subnet {} as the subnet is configured for automatic addresses",
                            subnet.id
                        ),
                    ));
                }
            }
            resolved.push((subnet, r.ip_address));
        }
        let mut out = Vec::new();
        // Specific addresses first, then "any address on this subnet".
        for (s, ip) in resolved.iter().filter(|(_, ip)| ip.is_some()) {
            let ip = ip.expect("filtered");
            if keep
                .iter()
                .any(|k| k.subnet_id == s.id && k.ip_address == ip.to_string())
            {
                out.push(FixedIp {
                    subnet_id: s.id.clone(),
                    ip_address: ip.to_string(),
                });
                continue;
            }
            out.push(self.take_specific(tx, s, ip).await?);
        }
        for (s, _) in resolved.iter().filter(|(_, ip)| ip.is_none()) {
            if let Some(k) = keep
                .iter()
                .find(|k| k.subnet_id == s.id && !out.contains(k))
            {
                out.push(k.clone());
                continue;
            }
            match self.take_any(tx, s).await? {
                Some(f) => out.push(f),
                None => return Err(generation_failure(self.network_id)),
            }
        }
        Ok(out)
    }
}
