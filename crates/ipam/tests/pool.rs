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
fn default_pools_table() {
    let cases: Vec<(&str, Option<&str>, Vec<Pool>)> = vec![
        (
            "10.0.0.0/24",
            Some("10.0.0.1"),
            vec![p("10.0.0.2", "10.0.0.254")],
        ),
        ("10.0.0.0/24", None, vec![p("10.0.0.1", "10.0.0.254")]),
        (
            "10.0.0.0/24",
            Some("10.0.0.254"),
            vec![p("10.0.0.1", "10.0.0.253")],
        ),
        (
            "10.0.0.0/24",
            Some("10.0.0.100"),
            vec![p("10.0.0.1", "10.0.0.99"), p("10.0.0.101", "10.0.0.254")],
        ),
        (
            "10.0.0.0/24",
            Some("10.0.1.1"),
            vec![p("10.0.0.1", "10.0.0.254")],
        ),
        (
            "10.0.0.0/24",
            Some("2001:db8::1"),
            vec![p("10.0.0.1", "10.0.0.254")],
        ),
        (
            "10.0.0.0/30",
            Some("10.0.0.1"),
            vec![p("10.0.0.2", "10.0.0.2")],
        ),
        (
            "10.0.0.0/30",
            Some("10.0.0.2"),
            vec![p("10.0.0.1", "10.0.0.1")],
        ),
        ("10.0.0.0/31", None, vec![p("10.0.0.0", "10.0.0.1")]),
        (
            "10.0.0.0/31",
            Some("10.0.0.1"),
            vec![p("10.0.0.0", "10.0.0.0")],
        ),
        (
            "10.0.0.4/32",
            Some("10.0.0.5"),
            vec![p("10.0.0.4", "10.0.0.4")],
        ),
        (
            "2001:db8::/64",
            Some("2001:db8::"),
            vec![p("2001:db8::1", "2001:db8::ffff:ffff:ffff:ffff")],
        ),
        (
            "2001:db8::/64",
            Some("2001:db8::1"),
            vec![p("2001:db8::2", "2001:db8::ffff:ffff:ffff:ffff")],
        ),
        ("2001:db8::/127", Some("2001:db8::1"), vec![]),
        (
            "2001:db8::/126",
            None,
            vec![p("2001:db8::1", "2001:db8::3")],
        ),
        ("2001:db8::7/128", Some("2001:db8::7"), vec![]),
    ];
    for (cidr, gw, want) in cases {
        let n = net(cidr);
        let gw = gw.map(ip);
        let got = default_pools(&n, gw);
        assert_eq!(got, want, "{cidr} {gw:?}");
        // Generated pools must satisfy the rules explicit pools are held to.
        assert_eq!(validate_pools(&n, &got, gw), Ok(()), "{cidr} {gw:?}");
    }
}

#[test]
fn parse_pool_table() {
    assert_eq!(
        parse_pool("10.0.0.2", "10.0.0.9"),
        Ok(p("10.0.0.2", "10.0.0.9"))
    );
    assert_eq!(
        parse_pool("10.0.0.2", "10.0.0.2"),
        Ok(p("10.0.0.2", "10.0.0.2"))
    );
    let bad = [
        ("10.0.0.9", "10.0.0.2"),
        ("10.0.0.2", "2001:db8::1"),
        ("10.0.0.256", "10.0.0.9"),
        ("bogus", "10.0.0.9"),
        ("10.0.0.2", ""),
    ];
    for (s, e) in bad {
        let want =
            IpamError::InvalidAllocationPool(format!("The allocation pool {s}-{e} is not valid."));
        assert_eq!(parse_pool(s, e), Err(want), "{s}-{e}");
    }
}

#[test]
fn validate_pools_messages() {
    let n = net("10.0.0.0/24");
    let cases: Vec<(Vec<Pool>, Option<&str>, IpamError)> = vec![
        (
            vec![p("10.0.0.9", "10.0.0.2")],
            None,
            IpamError::InvalidAllocationPool("The allocation pool 10.0.0.9-10.0.0.2 is not valid.".into()),
        ),
        (
            vec![p("2001:db8::1", "2001:db8::5")],
            None,
            IpamError::InvalidAllocationPool("The allocation pool 2001:db8::1-2001:db8::5 is not valid.".into()),
        ),
        (
            vec![p("10.0.0.1", "2001:db8::5")],
            None,
            IpamError::InvalidAllocationPool("The allocation pool 10.0.0.1-2001:db8::5 is not valid.".into()),
        ),
        (
            vec![p("10.0.0.0", "10.0.0.5")],
            None,
            IpamError::OutOfBoundsAllocationPool(
                "The allocation pool 10.0.0.0-10.0.0.5 spans beyond the subnet cidr 10.0.0.0/24.".into(),
            ),
        ),
        (
            vec![p("10.0.0.200", "10.0.0.255")],
            None,
            IpamError::OutOfBoundsAllocationPool(
                "The allocation pool 10.0.0.200-10.0.0.255 spans beyond the subnet cidr 10.0.0.0/24.".into(),
            ),
        ),
        (
            vec![p("10.0.1.2", "10.0.1.5")],
            None,
            IpamError::OutOfBoundsAllocationPool(
                "The allocation pool 10.0.1.2-10.0.1.5 spans beyond the subnet cidr 10.0.0.0/24.".into(),
            ),
        ),
        (
            vec![p("10.0.0.2", "10.0.0.10"), p("10.0.0.5", "10.0.0.20")],
            None,
            IpamError::OverlappingAllocationPools(
                "Found overlapping allocation pools: 10.0.0.2-10.0.0.10 10.0.0.5-10.0.0.20 for subnet 10.0.0.0/24."
                    .into(),
            ),
        ),
        (
            vec![p("10.0.0.2", "10.0.0.10"), p("10.0.0.10", "10.0.0.10")],
            None,
            IpamError::OverlappingAllocationPools(
                "Found overlapping allocation pools: 10.0.0.2-10.0.0.10 10.0.0.10-10.0.0.10 for subnet 10.0.0.0/24."
                    .into(),
            ),
        ),
        (
            vec![p("10.0.0.20", "10.0.0.30"), p("10.0.0.2", "10.0.0.10")],
            Some("10.0.0.5"),
            IpamError::GatewayConflictWithAllocationPools(
                "Gateway ip 10.0.0.5 conflicts with allocation pool 10.0.0.2-10.0.0.10.".into(),
            ),
        ),
    ];
    for (pools, gw, want) in cases {
        assert_eq!(
            validate_pools(&n, &pools, gw.map(ip)),
            Err(want.clone()),
            "{pools:?}"
        );
        assert!(!want.to_string().is_empty());
    }
}

#[test]
fn validate_pools_check_order() {
    let n = net("10.0.0.0/24");
    // A malformed later pool wins over an out-of-bounds earlier one: Neutron
    // parses every pool before it checks any bounds.
    let pools = [p("10.0.0.0", "10.0.0.5"), p("10.0.0.9", "10.0.0.2")];
    assert!(matches!(
        validate_pools(&n, &pools, None),
        Err(IpamError::InvalidAllocationPool(_))
    ));
    // Bounds beat overlap.
    let pools = [
        p("10.0.0.2", "10.0.0.10"),
        p("10.0.0.5", "10.0.0.20"),
        p("10.0.0.250", "10.0.0.255"),
    ];
    assert!(matches!(
        validate_pools(&n, &pools, None),
        Err(IpamError::OutOfBoundsAllocationPool(_))
    ));
    // Overlap beats the gateway conflict.
    let pools = [p("10.0.0.2", "10.0.0.10"), p("10.0.0.5", "10.0.0.20")];
    assert!(matches!(
        validate_pools(&n, &pools, Some(ip("10.0.0.3"))),
        Err(IpamError::OverlappingAllocationPools(_))
    ));
}

#[test]
fn validate_pools_accepts() {
    let cases: Vec<(&str, Vec<Pool>, Option<&str>)> = vec![
        ("10.0.0.0/24", vec![], Some("10.0.0.1")),
        ("10.0.0.0/24", vec![p("10.0.0.1", "10.0.0.254")], None),
        (
            "10.0.0.0/24",
            vec![p("10.0.0.2", "10.0.0.9"), p("10.0.0.10", "10.0.0.20")],
            Some("10.0.0.1"),
        ),
        (
            "10.0.0.0/24",
            vec![p("10.0.0.2", "10.0.0.9")],
            Some("10.0.1.1"),
        ),
        ("10.0.0.0/31", vec![p("10.0.0.0", "10.0.0.1")], None),
        ("10.0.0.3/32", vec![p("10.0.0.3", "10.0.0.3")], None),
        (
            "2001:db8::/64",
            vec![p("2001:db8::1", "2001:db8::ffff:ffff:ffff:ffff")],
            Some("2001:db8::"),
        ),
    ];
    for (cidr, pools, gw) in cases {
        assert_eq!(
            validate_pools(&net(cidr), &pools, gw.map(ip)),
            Ok(()),
            "{cidr} {pools:?}"
        );
    }
    // The v6 network address is never poolable even though ports may use it.
    let n = net("2001:db8::/64");
    assert!(matches!(
        validate_pools(&n, &[p("2001:db8::", "2001:db8::5")], None),
        Err(IpamError::OutOfBoundsAllocationPool(_))
    ));
}

#[test]
fn ranges_overlap_table() {
    let cases = [
        (p("10.0.0.1", "10.0.0.5"), p("10.0.0.5", "10.0.0.9"), true),
        (p("10.0.0.1", "10.0.0.5"), p("10.0.0.6", "10.0.0.9"), false),
        (p("10.0.0.1", "10.0.0.9"), p("10.0.0.3", "10.0.0.4"), true),
        (p("10.0.0.1", "10.0.0.5"), p("::a00:1", "::a00:5"), false),
    ];
    for (a, b, want) in cases {
        assert_eq!(ranges_overlap(&a, &b), want, "{a} {b}");
        assert_eq!(ranges_overlap(&b, &a), want, "{b} {a}");
    }
}

#[test]
fn pool_offsets_table() {
    let cases = [
        ("10.0.0.0/24", p("10.0.0.2", "10.0.0.254"), (2, 254)),
        ("10.0.0.0/31", p("10.0.0.0", "10.0.0.1"), (0, 1)),
        (
            "2001:db8::/64",
            p("2001:db8::1", "2001:db8::ffff:ffff:ffff:ffff"),
            (1, i64::MAX),
        ),
        (
            "2001:db8::/120",
            p("2001:db8::10", "2001:db8::ff"),
            (16, 255),
        ),
        (
            "2001:db8::/64",
            p("2001:db8::8000:0:0:0", "2001:db8::ffff:0:0:0"),
            (i64::MAX, i64::MAX),
        ),
    ];
    for (cidr, pool, want) in cases {
        assert_eq!(pool_offsets(&net(cidr), &pool), want, "{cidr} {pool}");
    }
}

#[test]
fn pool_display_and_contains() {
    let pool = p("10.0.0.2", "10.0.0.10");
    assert_eq!(pool.to_string(), "10.0.0.2-10.0.0.10");
    assert!(pool.contains(ip("10.0.0.2")) && pool.contains(ip("10.0.0.10")));
    assert!(!pool.contains(ip("10.0.0.11")) && !pool.contains(ip("::a00:5")));
}
