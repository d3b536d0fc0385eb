use std::net::IpAddr;

use neutrino_ipam::*;

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}
fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}
fn p(s: &str, e: &str) -> Pool {
    Pool::new(ip(s), ip(e))
}

#[test]
fn next_walks_pools_in_given_order() {
    // Pool order, not address order, decides which pool fills first.
    let mut a = Allocator::new(
        net("10.0.0.0/24"),
        vec![p("10.0.0.100", "10.0.0.101"), p("10.0.0.2", "10.0.0.3")],
    );
    let got: Vec<_> = (0..4).map(|_| a.allocate_next().unwrap()).collect();
    assert_eq!(
        got,
        ["10.0.0.100", "10.0.0.101", "10.0.0.2", "10.0.0.3"].map(ip)
    );
    assert_eq!(a.allocate_next(), Err(IpamError::Exhausted));
    assert_eq!(a.first_free(), None);
}

#[test]
fn next_fills_holes_lowest_first() {
    let mut a = Allocator::new(
        net("10.0.0.0/24"),
        default_pools(&net("10.0.0.0/24"), Some(ip("10.0.0.1"))),
    );
    for _ in 0..5 {
        a.allocate_next().unwrap();
    }
    assert!(a.release(ip("10.0.0.4")));
    assert!(a.release(ip("10.0.0.3")));
    assert_eq!(a.allocate_next(), Ok(ip("10.0.0.3")));
    assert_eq!(a.allocate_next(), Ok(ip("10.0.0.4")));
    assert_eq!(a.allocate_next(), Ok(ip("10.0.0.7")));
}

#[test]
fn next_skips_specific_allocations_inside_pools() {
    let mut a = Allocator::new(net("10.0.0.0/29"), vec![p("10.0.0.2", "10.0.0.4")]);
    a.allocate_specific(ip("10.0.0.2"), "").unwrap();
    a.allocate_specific(ip("10.0.0.4"), "").unwrap();
    assert_eq!(a.allocate_next(), Ok(ip("10.0.0.3")));
    assert_eq!(a.allocate_next(), Err(IpamError::Exhausted));
}

#[test]
fn specific_outside_pools_is_allowed_but_not_pooled() {
    let mut a = Allocator::new(net("10.0.0.0/24"), vec![p("10.0.0.10", "10.0.0.10")]);
    // The gateway and other off-pool addresses are legal specific requests.
    assert_eq!(
        a.allocate_specific(ip("10.0.0.1"), "network:router_interface"),
        Ok(())
    );
    assert_eq!(
        a.allocate_specific(ip("10.0.0.200"), "compute:nova"),
        Ok(())
    );
    assert_eq!(a.allocate_next(), Ok(ip("10.0.0.10")));
    assert_eq!(
        a.allocated().collect::<Vec<_>>(),
        ["10.0.0.1", "10.0.0.10", "10.0.0.200"].map(ip)
    );
}

#[test]
fn specific_errors() {
    let mut a = Allocator::new(net("10.0.0.0/24"), default_pools(&net("10.0.0.0/24"), None));
    a.allocate_specific(ip("10.0.0.5"), "").unwrap();
    let cases = [
        ("10.0.0.5", "", IpamError::AlreadyAllocated(ip("10.0.0.5"))),
        ("10.0.0.0", "", IpamError::NotInSubnet(ip("10.0.0.0"))),
        ("10.0.0.255", "", IpamError::NotInSubnet(ip("10.0.0.255"))),
        ("10.0.1.5", "", IpamError::NotInSubnet(ip("10.0.1.5"))),
        ("2001:db8::5", "", IpamError::NotInSubnet(ip("2001:db8::5"))),
    ];
    for (addr, owner, want) in cases {
        assert_eq!(a.allocate_specific(ip(addr), owner), Err(want), "{addr}");
    }
    assert_eq!(a.allocated().count(), 1);
}

#[test]
fn v6_network_address_depends_on_owner() {
    let n = net("2001:db8::/64");
    let mut a = Allocator::new(n, default_pools(&n, Some(default_gateway(&n))));
    assert_eq!(
        a.allocate_specific(ip("2001:db8::"), "compute:nova"),
        Err(IpamError::NotInSubnet(ip("2001:db8::")))
    );
    assert_eq!(
        a.allocate_specific(ip("2001:db8::"), "network:router_interface"),
        Ok(())
    );
    // Uniqueness is checked first, so a second claimant hears "taken".
    assert_eq!(
        a.allocate_specific(ip("2001:db8::"), "compute:nova"),
        Err(IpamError::AlreadyAllocated(ip("2001:db8::")))
    );
    assert_eq!(a.allocate_next(), Ok(ip("2001:db8::1")));
}

#[test]
fn huge_v6_pool_allocates_without_scanning() {
    let n = net("2001:db8::/64");
    let mut a = Allocator::new(
        n,
        vec![p(
            "2001:db8::ffff:ffff:ffff:fffe",
            "2001:db8::ffff:ffff:ffff:ffff",
        )],
    );
    assert_eq!(a.allocate_next(), Ok(ip("2001:db8::ffff:ffff:ffff:fffe")));
    assert_eq!(a.allocate_next(), Ok(ip("2001:db8::ffff:ffff:ffff:ffff")));
    assert_eq!(a.allocate_next(), Err(IpamError::Exhausted));

    // The very top of the v6 space must not overflow.
    let top = net("ffff:ffff:ffff:ffff::/64");
    let mut a = Allocator::new(
        top,
        vec![p(
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        )],
    );
    assert_eq!(
        a.allocate_next(),
        Ok(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))
    );
    assert_eq!(a.allocate_next(), Err(IpamError::Exhausted));
}

#[test]
fn release_and_is_allocated() {
    let mut a = Allocator::new(net("10.0.0.0/30"), default_pools(&net("10.0.0.0/30"), None));
    let x = a.allocate_next().unwrap();
    assert!(a.is_allocated(x));
    assert!(
        !a.is_allocated(ip("::a00:1")),
        "other family must not alias"
    );
    assert!(!a.release(ip("::a00:1")));
    assert!(a.release(x));
    assert!(!a.release(x));
    assert!(!a.is_allocated(x));
}

#[test]
fn malformed_pools_are_ignored() {
    let n = net("10.0.0.0/24");
    let pools = vec![
        p("10.0.0.9", "10.0.0.2"),
        p("2001:db8::1", "2001:db8::2"),
        p("10.0.1.1", "10.0.1.2"),
        p("10.0.0.50", "10.0.0.50"),
    ];
    let mut a = Allocator::new(n, pools);
    assert_eq!(a.allocate_next(), Ok(ip("10.0.0.50")));
    assert_eq!(a.allocate_next(), Err(IpamError::Exhausted));
}

#[test]
fn no_pools_means_exhausted() {
    let mut a = Allocator::new(net("10.0.0.0/24"), vec![]);
    assert_eq!(a.allocate_next(), Err(IpamError::Exhausted));
    assert_eq!(
        IpamError::Exhausted.to_string(),
        "No more IP addresses available on subnet."
    );
}
