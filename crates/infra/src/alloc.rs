//! Address allocation for IPSets: pure functions, no storage.
//!
//! The walk is upstream's (`internal/ipam/funcs.go`): allocation ranges in
//! list order, each from start to end, the first address that is neither
//! excluded nor reserved. Upstream also skips IPv4 addresses ending in `.0`
//! and IPv6 addresses ending in `:0`; we keep that (so the same inputs give
//! the same addresses) and additionally never hand out the gateway or an
//! IPv4 network or broadcast address, which upstream does.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use crate::resources::{IPSetReservation, Network, Route, Subnet};

/// The service network that upstream sorts first in an IPSet's status.
pub const CTLPLANE: &str = "ctlplane";

/// A subnet parsed for allocation.
#[derive(Clone, Debug)]
pub struct SubnetPlan {
    pub cidr: IpNet,
    pub ranges: Vec<(IpAddr, IpAddr)>,
    pub excluded: HashSet<IpAddr>,
    pub gateway: Option<IpAddr>,
}

/// Why a requested `fixedIP` cannot be had.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FixedIpError {
    NotAnAddress,
    OutsideCidr,
    Excluded,
}

pub fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v) => u32::from(v) as u128,
        IpAddr::V6(v) => u128::from(v),
    }
}

pub fn from_u128(v: u128, v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(v))
    } else {
        IpAddr::V4(Ipv4Addr::from(v as u32))
    }
}

/// An address in its canonical text form (`2001:db8::1`, not `2001:DB8:0::01`),
/// which is how reservations are keyed.
pub fn canonical(ip: &str) -> Option<String> {
    ip.trim().parse::<IpAddr>().ok().map(|a| a.to_string())
}

impl SubnetPlan {
    /// Parses a subnet. Validation has normally run already; a subnet that
    /// still does not parse yields the offending value.
    pub fn new(subnet: &Subnet) -> Result<SubnetPlan, String> {
        let cidr: IpNet = subnet
            .cidr
            .trim()
            .parse()
            .map_err(|_| format!("invalid cidr {:?}", subnet.cidr))?;
        let parse = |s: &str| -> Result<IpAddr, String> {
            s.trim()
                .parse::<IpAddr>()
                .map_err(|_| format!("invalid address {s:?}"))
        };
        let mut ranges = Vec::with_capacity(subnet.allocation_ranges.len());
        for r in &subnet.allocation_ranges {
            ranges.push((parse(&r.start)?, parse(&r.end)?));
        }
        let mut excluded = HashSet::new();
        for e in &subnet.exclude_addresses {
            excluded.insert(parse(e)?);
        }
        let gateway = match &subnet.gateway {
            Some(g) if !g.trim().is_empty() => Some(parse(g)?),
            _ => None,
        };
        Ok(SubnetPlan {
            cidr,
            ranges,
            excluded,
            gateway,
        })
    }

    fn is_v6(&self) -> bool {
        matches!(self.cidr, IpNet::V6(_))
    }

    /// Whether `ip` is the IPv4 network or broadcast address of the subnet
    /// (/31 and /32 have neither).
    pub fn is_network_or_broadcast(&self, ip: IpAddr) -> bool {
        match self.cidr {
            IpNet::V4(n) if n.prefix_len() <= 30 => {
                ip == IpAddr::V4(n.network()) || ip == IpAddr::V4(n.broadcast())
            }
            IpNet::V6(n) if n.prefix_len() <= 126 => ip == IpAddr::V6(n.network()),
            _ => false,
        }
    }

    /// Addresses the walk never hands out, whoever holds them.
    pub fn is_skipped(&self, ip: IpAddr) -> bool {
        let zero_tail = match ip {
            IpAddr::V4(v) => v.octets()[3] == 0,
            IpAddr::V6(v) => v.segments()[7] == 0,
        };
        zero_tail
            || self.excluded.contains(&ip)
            || self.gateway == Some(ip)
            || !self.cidr.contains(&ip)
            || self.is_network_or_broadcast(ip)
    }

    /// The first address of the walk for which `taken` is false, or `None`
    /// when every range is used up.
    pub fn first_free(&self, mut taken: impl FnMut(IpAddr) -> bool) -> Option<IpAddr> {
        let v6 = self.is_v6();
        for &(start, end) in &self.ranges {
            if start.is_ipv6() != v6 || end.is_ipv6() != v6 {
                continue;
            }
            let (mut cur, last) = (to_u128(start), to_u128(end));
            while cur <= last {
                let ip = from_u128(cur, v6);
                if !self.is_skipped(ip) && !taken(ip) {
                    return Some(ip);
                }
                if cur == u128::MAX {
                    break;
                }
                cur += 1;
            }
        }
        None
    }

    /// Checks a requested fixed address: inside the CIDR and not excluded.
    /// It need not lie in an allocation range (upstream's rule).
    pub fn check_fixed(&self, ip: &str) -> Result<IpAddr, FixedIpError> {
        let ip: IpAddr = ip.trim().parse().map_err(|_| FixedIpError::NotAnAddress)?;
        if !self.cidr.contains(&ip) {
            return Err(FixedIpError::OutsideCidr);
        }
        if self.excluded.contains(&ip) {
            return Err(FixedIpError::Excluded);
        }
        Ok(ip)
    }
}

/// The status entry of one reserved address: the network's and subnet's
/// settings as upstream copies them, plus the default route when asked.
pub fn status_entry(
    net: &Network,
    subnet: &Subnet,
    address: &str,
    default_route: bool,
) -> IPSetReservation {
    let mut routes: Vec<Route> = subnet.routes.clone();
    let gateway = subnet.gateway.clone().filter(|g| !g.trim().is_empty());
    if default_route && let Some(gw) = &gateway {
        let v6 = address.contains(':');
        routes.push(Route {
            destination: if v6 { "::/0" } else { "0.0.0.0/0" }.to_string(),
            nexthop: gw.clone(),
        });
    }
    IPSetReservation {
        address: address.to_string(),
        cidr: subnet.cidr.clone(),
        dns_domain: subnet
            .dns_domain
            .clone()
            .unwrap_or_else(|| net.dns_domain.clone()),
        gateway,
        mtu: net.mtu,
        network: net.name.clone(),
        routes,
        service_network: net.service_network(),
        subnet: subnet.name.clone(),
        vlan: subnet.vlan,
    }
}

/// Orders an IPSet's status entries: the `ctlplane` service network first,
/// then by network name (case-insensitively), which is the order of
/// upstream's documented status block.
pub fn order_reservations(entries: &mut [IPSetReservation]) {
    entries.sort_by(|a, b| {
        let ca = a.service_network.eq_ignore_ascii_case(CTLPLANE);
        let cb = b.service_network.eq_ignore_ascii_case(CTLPLANE);
        cb.cmp(&ca)
            .then_with(|| a.network.to_lowercase().cmp(&b.network.to_lowercase()))
            .then_with(|| a.network.cmp(&b.network))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::AllocationRange;
    use proptest::prelude::*;

    fn subnet(cidr: &str, ranges: &[(&str, &str)], excl: &[&str], gw: Option<&str>) -> Subnet {
        Subnet {
            name: "subnet1".into(),
            cidr: cidr.into(),
            allocation_ranges: ranges
                .iter()
                .map(|(s, e)| AllocationRange {
                    start: s.to_string(),
                    end: e.to_string(),
                })
                .collect(),
            exclude_addresses: excl.iter().map(|s| s.to_string()).collect(),
            gateway: gw.map(String::from),
            ..Subnet::default()
        }
    }

    #[test]
    fn walks_ranges_in_order_skipping_excluded_and_gateway() {
        let s = subnet(
            "172.17.0.0/24",
            &[("172.17.0.10", "172.17.0.12"), ("172.17.0.5", "172.17.0.6")],
            &["172.17.0.10", "172.17.0.12"],
            Some("172.17.0.11"),
        );
        let p = SubnetPlan::new(&s).unwrap();
        // .10 and .12 excluded, .11 the gateway: the second range.
        assert_eq!(p.first_free(|_| false), Some("172.17.0.5".parse().unwrap()));
        let taken: IpAddr = "172.17.0.5".parse().unwrap();
        assert_eq!(
            p.first_free(|ip| ip == taken),
            Some("172.17.0.6".parse().unwrap())
        );
        assert_eq!(p.first_free(|_| true), None);
    }

    #[test]
    fn skips_zero_tails_network_and_broadcast() {
        let p = SubnetPlan::new(&subnet(
            "10.0.0.0/23",
            &[("10.0.0.255", "10.0.1.1")],
            &[],
            None,
        ))
        .unwrap();
        // .0.255 is a host of a /23, 10.0.1.0 ends in .0 (upstream skips it).
        assert_eq!(p.first_free(|_| false), Some("10.0.0.255".parse().unwrap()));
        let p = SubnetPlan::new(&subnet(
            "10.0.0.0/24",
            &[("10.0.0.0", "10.0.0.255")],
            &[],
            None,
        ))
        .unwrap();
        let first = p.first_free(|_| false).unwrap();
        assert_eq!(first, "10.0.0.1".parse::<IpAddr>().unwrap());
        let bcast: IpAddr = "10.0.0.255".parse().unwrap();
        assert!(p.is_skipped(bcast));
        let p6 = SubnetPlan::new(&subnet(
            "fd00::/64",
            &[("fd00::", "fd00::3")],
            &[],
            Some("fd00::1"),
        ))
        .unwrap();
        assert_eq!(p6.first_free(|_| false), Some("fd00::2".parse().unwrap()));
    }

    #[test]
    fn fixed_ip_rules() {
        let p = SubnetPlan::new(&subnet(
            "172.17.0.0/24",
            &[("172.17.0.10", "172.17.0.20")],
            &["172.17.0.12"],
            None,
        ))
        .unwrap();
        assert!(
            p.check_fixed("172.17.0.150").is_ok(),
            "outside the ranges is fine"
        );
        assert_eq!(p.check_fixed("172.17.0.12"), Err(FixedIpError::Excluded));
        assert_eq!(p.check_fixed("172.18.0.1"), Err(FixedIpError::OutsideCidr));
        assert_eq!(p.check_fixed("nope"), Err(FixedIpError::NotAnAddress));
    }

    #[test]
    fn status_entry_adds_default_route_and_subnet_domain_wins() {
        let net = Network {
            name: "CtlPlane".into(),
            dns_domain: "ctlplane.example.com".into(),
            mtu: 1500,
            subnets: vec![],
            service_network: None,
        };
        let mut s = subnet("192.168.122.0/24", &[], &[], Some("192.168.122.1"));
        let e = status_entry(&net, &s, "192.168.122.100", true);
        assert_eq!(e.routes.len(), 1);
        assert_eq!(e.routes[0].destination, "0.0.0.0/0");
        assert_eq!(e.routes[0].nexthop, "192.168.122.1");
        assert_eq!(e.service_network, "ctlplane");
        assert_eq!(e.dns_domain, "ctlplane.example.com");
        s.dns_domain = Some("sub.example.com".into());
        let e = status_entry(&net, &s, "192.168.122.100", false);
        assert!(e.routes.is_empty());
        assert_eq!(e.dns_domain, "sub.example.com");
    }

    #[test]
    fn ctlplane_sorts_first_then_names() {
        let mk = |n: &str, sn: &str| IPSetReservation {
            network: n.into(),
            service_network: sn.into(),
            ..Default::default()
        };
        let mut v = vec![
            mk("Tenant", "tenant"),
            mk("InternalApi", "internalapi"),
            mk("Storage", "storage"),
            mk("CtlPlane", "ctlplane"),
            mk("External", "external"),
        ];
        order_reservations(&mut v);
        let names: Vec<_> = v.iter().map(|e| e.network.as_str()).collect();
        assert_eq!(
            names,
            ["CtlPlane", "External", "InternalApi", "Storage", "Tenant"]
        );
    }

    /// The reference model: every address of every range in order, minus
    /// the skipped ones.
    fn eligible(p: &SubnetPlan) -> Vec<IpAddr> {
        let mut out = Vec::new();
        for &(s, e) in &p.ranges {
            for v in to_u128(s)..=to_u128(e) {
                let ip = from_u128(v, false);
                if !p.is_skipped(ip) {
                    out.push(ip);
                }
            }
        }
        out
    }

    proptest! {
        /// Allocating until exhaustion hands out each eligible address once,
        /// in walk order, and never an excluded address or the gateway.
        #[test]
        fn allocation_matches_the_model(
            a in 0u32..200, la in 0u32..40, b in 0u32..200, lb in 0u32..40,
            excl in proptest::collection::vec(0u32..256, 0..20),
            gw in proptest::option::of(1u32..255),
            pre in proptest::collection::vec(0u32..256, 0..30),
        ) {
            let ip = |o: u32| format!("10.1.2.{}", o.min(255));
            let s = subnet(
                "10.1.2.0/24",
                &[(&ip(a), &ip(a + la)), (&ip(b), &ip(b + lb))],
                &excl.iter().map(|o| ip(*o)).collect::<Vec<_>>().iter().map(String::as_str).collect::<Vec<_>>(),
                gw.map(ip).as_deref(),
            );
            let p = SubnetPlan::new(&s).unwrap();
            let mut taken: HashSet<IpAddr> = pre.iter().map(|o| ip(*o).parse().unwrap()).collect();
            let mut model: Vec<IpAddr> = eligible(&p).into_iter().filter(|x| !taken.contains(x)).collect();
            let mut seen = HashSet::new();
            model.retain(|x| seen.insert(*x));
            let mut got = Vec::new();
            while let Some(x) = p.first_free(|c| taken.contains(&c)) {
                prop_assert!(!p.excluded.contains(&x));
                prop_assert!(Some(x) != p.gateway);
                prop_assert!(taken.insert(x), "handed out twice: {}", x);
                got.push(x);
            }
            prop_assert_eq!(got, model);
        }
    }
}
