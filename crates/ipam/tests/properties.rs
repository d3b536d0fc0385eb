//! Property tests. Case counts are kept low so a debug build runs them in a
//! few seconds; raise `with_cases` locally when hunting bugs.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use neutrino_ipam::*;
use proptest::prelude::*;

const ROUTER: &str = "network:router_gateway";
const OWNERS: [&str; 3] = ["", "compute:nova", ROUTER];

fn subnet() -> impl Strategy<Value = IpNet> {
    prop_oneof![
        (any::<u32>(), 20u8..=32)
            .prop_map(|(a, l)| IpNet::V4(Ipv4Net::new(a.into(), l).unwrap().trunc())),
        (any::<u128>(), 64u8..=128)
            .prop_map(|(a, l)| IpNet::V6(Ipv6Net::new(a.into(), l).unwrap().trunc())),
    ]
}

fn num(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u32::from(a).into(),
        IpAddr::V6(a) => a.into(),
    }
}

fn addr(cidr: &IpNet, v: u128) -> IpAddr {
    match cidr {
        IpNet::V4(_) => IpAddr::V4(Ipv4Addr::from(u32::try_from(v).unwrap())),
        IpNet::V6(_) => IpAddr::V6(Ipv6Addr::from(v)),
    }
}

fn span(cidr: &IpNet) -> (u128, u128) {
    (num(cidr.network()), num(cidr.broadcast()))
}

fn is_v4_short(cidr: &IpNet) -> bool {
    matches!(cidr, IpNet::V4(n) if n.prefix_len() <= 30)
}

/// Independent restatement of `check_subnet_ip` used as the oracle.
fn valid(cidr: &IpNet, v: u128, owner: &str) -> bool {
    let (net, last) = span(cidr);
    if v < net || v > last {
        return false;
    }
    match cidr {
        IpNet::V4(_) if is_v4_short(cidr) => v != net && v != last,
        IpNet::V4(_) => true,
        IpNet::V6(_) => v != net || owner != "compute:nova",
    }
}

/// Turns raw numbers into non-overlapping pools inside the usable range,
/// kept in generation order (which need not be address order).
fn make_pools(cidr: &IpNet, raw: &[(u64, u8)]) -> Vec<(u128, u128)> {
    let (lo, hi) = (num(first_usable(cidr)), num(last_usable(cidr)));
    let mut pools: Vec<(u128, u128)> = Vec::new();
    for &(r, len) in raw {
        let start = lo + u128::from(r) % (hi - lo + 1);
        let end = start.saturating_add(len.into()).min(hi);
        if pools.iter().all(|&(s, e)| end < s || start > e) {
            pools.push((start, end));
        }
    }
    pools
}

#[derive(Debug, Clone)]
enum Op {
    Next,
    Specific(u64, usize),
    Release(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Next),
        2 => (any::<u64>(), 0..OWNERS.len()).prop_map(|(s, o)| Op::Specific(s, o)),
        1 => any::<u64>().prop_map(Op::Release),
    ]
}

/// Picks an address likely to be interesting: in a pool, anywhere in the
/// CIDR, on its edges, or just outside it.
fn pick(cidr: &IpNet, pools: &[(u128, u128)], s: u64) -> u128 {
    let (net, last) = span(cidr);
    let r = u128::from(s >> 2);
    match s % 4 {
        0 if !pools.is_empty() => {
            let (ps, pe) = pools[(r % pools.len() as u128) as usize];
            ps + (r >> 8) % (pe - ps + 1)
        }
        1 => net + r % (last - net + 1),
        2 => {
            if r % 2 == 0 {
                net
            } else {
                last
            }
        }
        _ => {
            let max = if cidr.addr().is_ipv4() {
                u128::from(u32::MAX)
            } else {
                u128::MAX
            };
            if r % 2 == 0 {
                net.checked_sub(1).unwrap_or(net)
            } else if last < max {
                last + 1
            } else {
                last
            }
        }
    }
}

/// Reference first-free: plain scan with membership tests. At most
/// `taken.len() + 1` candidates per pool can be examined before a hit.
fn reference_next(pools: &[(u128, u128)], taken: &BTreeSet<u128>) -> Option<u128> {
    for &(s, e) in pools {
        let mut c = s;
        loop {
            if !taken.contains(&c) {
                return Some(c);
            }
            if c == e {
                break;
            }
            c += 1;
        }
    }
    None
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn allocator_matches_model(
        cidr in subnet(),
        raw_pools in prop::collection::vec((any::<u64>(), 0u8..8), 0..4),
        ops in prop::collection::vec(op(), 0..80),
    ) {
        let pools = make_pools(&cidr, &raw_pools);
        let api_pools: Vec<Pool> = pools.iter().map(|&(s, e)| Pool::new(addr(&cidr, s), addr(&cidr, e))).collect();
        prop_assert_eq!(validate_pools(&cidr, &api_pools, None), Ok(()));
        let pool_size: u128 = pools.iter().map(|&(s, e)| e - s + 1).sum();
        let (net, last) = span(&cidr);

        let mut alloc = Allocator::new(cidr, api_pools);
        let mut model: BTreeSet<u128> = BTreeSet::new();
        for op in ops {
            match op {
                Op::Next => {
                    let in_pools = model.iter().filter(|v| pools.iter().any(|&(s, e)| (s..=e).contains(*v))).count() as u128;
                    let want = reference_next(&pools, &model);
                    match alloc.allocate_next() {
                        Ok(ip) => {
                            let v = num(ip);
                            prop_assert_eq!(Some(v), want);
                            prop_assert!(pools.iter().any(|&(s, e)| (s..=e).contains(&v)), "{} outside pools", ip);
                            prop_assert!(!is_v4_short(&cidr) || (v != net && v != last), "{} is network/broadcast", ip);
                            prop_assert!(model.insert(v), "{} handed out twice", ip);
                            prop_assert!(in_pools < pool_size);
                        }
                        Err(e) => {
                            prop_assert_eq!(e, IpamError::Exhausted);
                            prop_assert_eq!(want, None);
                            prop_assert_eq!(in_pools, pool_size, "exhausted with free pool addresses");
                        }
                    }
                }
                Op::Specific(s, o) => {
                    let v = pick(&cidr, &pools, s);
                    let ip = addr(&cidr, v);
                    let want = if model.contains(&v) {
                        Err(IpamError::AlreadyAllocated(ip))
                    } else if !valid(&cidr, v, OWNERS[o]) {
                        Err(IpamError::NotInSubnet(ip))
                    } else {
                        model.insert(v);
                        Ok(())
                    };
                    prop_assert_eq!(alloc.allocate_specific(ip, OWNERS[o]), want);
                }
                Op::Release(s) => {
                    let v = if !model.is_empty() && s % 3 != 0 {
                        *model.iter().nth((s as usize / 3) % model.len()).unwrap()
                    } else {
                        pick(&cidr, &pools, s)
                    };
                    prop_assert_eq!(alloc.release(addr(&cidr, v)), model.remove(&v));
                }
            }
            let state: Vec<u128> = alloc.allocated().map(num).collect();
            prop_assert_eq!(state, model.iter().copied().collect::<Vec<_>>());
        }
    }

    #[test]
    fn default_pools_cover_usable_range_minus_gateway(cidr in subnet(), g in any::<u64>(), explicit in any::<bool>()) {
        let (net, last) = span(&cidr);
        let gw = if explicit { addr(&cidr, net + u128::from(g) % (last - net + 1)) } else { default_gateway(&cidr) };
        prop_assume!(validate_gateway(&cidr, gw).is_ok());
        let pools = default_pools(&cidr, Some(gw));
        prop_assert_eq!(validate_pools(&cidr, &pools, Some(gw)), Ok(()));
        let (lo, hi) = (num(first_usable(&cidr)), num(last_usable(&cidr)));
        let size: u128 = pools.iter().map(|p| num(p.end) - num(p.start) + 1).sum();
        let gw_inside = (lo..=hi).contains(&num(gw));
        prop_assert_eq!(size + u128::from(gw_inside), hi - lo + 1);
        prop_assert!(pools.windows(2).all(|w| num(w[0].end) < num(w[1].start)));
    }

    #[test]
    fn offsets_round_trip(cidr in subnet(), r in any::<u128>()) {
        let (net, last) = span(&cidr);
        let off = r % (last - net + 1);
        let ip = addr(&cidr, net + off);
        match i64::try_from(off) {
            Ok(o) => {
                prop_assert_eq!(offset_of(&cidr, ip), Some(o));
                prop_assert_eq!(addr_at(&cidr, o), Some(ip));
                prop_assert_eq!(pool_offsets(&cidr, &Pool::new(ip, ip)), (o, o));
            }
            Err(_) => {
                prop_assert_eq!(offset_of(&cidr, ip), None);
                prop_assert_eq!(pool_offsets(&cidr, &Pool::new(ip, ip)), (i64::MAX, i64::MAX));
            }
        }
        if let Ok(past) = i64::try_from(last - net + 1) {
            prop_assert_eq!(addr_at(&cidr, past), None);
        }
        prop_assert_eq!(addr_at(&cidr, -1 - (r as i64).abs().min(i64::MAX - 1)), None);
    }

    #[test]
    fn offset_of_rejects_foreign_addresses(cidr in subnet(), other in any::<u128>()) {
        let (net, last) = span(&cidr);
        let v = if cidr.addr().is_ipv4() { other % (1 << 32) } else { other };
        prop_assume!(v < net || v > last);
        prop_assert_eq!(offset_of(&cidr, addr(&cidr, v)), None);
        prop_assert!(!is_valid_for_subnet(&cidr, addr(&cidr, v), ""));
    }

    #[test]
    fn mac_display_parse_round_trip(bytes in any::<[u8; 6]>()) {
        let mac = Mac::from_bytes(bytes);
        let usable = bytes[0] & 1 == 0 && bytes != [0; 6];
        prop_assert_eq!(mac.to_string().parse::<Mac>().is_ok(), usable);
        prop_assert_eq!(mac.to_string().to_uppercase().parse::<Mac>().is_ok(), usable);
        if usable {
            prop_assert_eq!(mac.to_string().to_uppercase().parse::<Mac>(), Ok(mac));
            prop_assert_eq!(mac.to_string().replace(':', "-").parse::<Mac>(), Ok(mac));
        }
    }

    #[test]
    fn eui64_embeds_the_mac(prefix in any::<u128>(), bytes in any::<[u8; 6]>()) {
        let net = Ipv6Net::new(prefix.into(), 64).unwrap();
        let ip = eui64(&net, &Mac::from_bytes(bytes)).unwrap();
        prop_assert!(net.contains(&ip));
        let o = ip.octets();
        prop_assert_eq!([o[8] ^ 2, o[9], o[10], o[13], o[14], o[15]], bytes);
        prop_assert_eq!([o[11], o[12]], [0xff, 0xfe]);
        prop_assert!(is_eui64_address(IpAddr::V6(ip)));
    }
}
