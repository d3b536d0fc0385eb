use std::net::IpAddr;

use neutrino_ipam::*;

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}
fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn normalize_cidr_table() {
    let ok = [
        ("10.0.0.5/24", "10.0.0.0/24"),
        ("10.0.0.0/24", "10.0.0.0/24"),
        ("192.168.1.1/32", "192.168.1.1/32"),
        ("10.0.0.1/31", "10.0.0.0/31"),
        ("2001:db8::1/64", "2001:db8::/64"),
        ("2001:DB8:0:0:1::5/80", "2001:db8::1:0:0:0/80"),
        ("1.2.3.4/1", "0.0.0.0/1"),
    ];
    for (input, want) in ok {
        assert_eq!(normalize_cidr(input).unwrap(), net(want), "{input}");
    }
    let bad = [
        ("10.0.0.0/0", "0 is not allowed as CIDR prefix length"),
        ("::/0", "0 is not allowed as CIDR prefix length"),
        ("10.0.0.0/33", "'10.0.0.0/33' is not a valid IP subnet"),
        ("garbage", "'garbage' is not a valid IP subnet"),
        ("", "'' is not a valid IP subnet"),
        (" 10.0.0.0/24", "' 10.0.0.0/24' is not a valid IP subnet"),
        ("10.0.0/24", "'10.0.0/24' is not a valid IP subnet"),
        (
            "2001:db8::/129",
            "'2001:db8::/129' is not a valid IP subnet",
        ),
    ];
    for (input, msg) in bad {
        assert_eq!(
            normalize_cidr(input),
            Err(IpamError::InvalidCidr(msg.into())),
            "{input}"
        );
    }
}

#[test]
fn bare_address_is_not_a_cidr() {
    // ipnet accepts neither, but the message must say which form to use.
    let e = normalize_cidr("10.0.0.1").unwrap_err();
    assert!(matches!(e, IpamError::InvalidCidr(_)), "{e:?}");
}

#[test]
fn default_gateway_table() {
    let cases = [
        ("10.0.0.0/24", "10.0.0.1"),
        ("192.168.7.0/30", "192.168.7.1"),
        ("10.0.0.0/31", "10.0.0.1"),
        ("10.0.0.4/32", "10.0.0.5"),
        ("255.255.255.255/32", "255.255.255.255"),
        ("2001:db8::/64", "2001:db8::"),
        ("2001:db8:1::/48", "2001:db8:1::"),
        ("2001:db8::5/128", "2001:db8::5"),
    ];
    for (cidr, gw) in cases {
        assert_eq!(default_gateway(&net(cidr)), ip(gw), "{cidr}");
    }
}

#[test]
fn validate_gateway_table() {
    const BAD: &str = "Gateway is not valid on subnet";
    let cases: [(&str, &str, Option<&str>); 12] = [
        ("10.0.0.0/24", "10.0.0.1", None),
        ("10.0.0.0/24", "10.0.0.254", None),
        ("10.0.0.0/24", "10.0.0.0", Some(BAD)),
        ("10.0.0.0/24", "10.0.0.255", Some(BAD)),
        // Outside the CIDR is allowed (provider networks).
        ("10.0.0.0/24", "10.0.1.0", None),
        ("10.0.0.0/24", "192.168.0.1", None),
        ("10.0.0.0/31", "10.0.0.1", Some(BAD)),
        ("2001:db8::/64", "2001:db8::", None),
        ("2001:db8::/64", "2001:db8::ffff:ffff:ffff:ffff", None),
        ("2001:db8::/64", "fe80::1", None),
        (
            "10.0.0.0/24",
            "2001:db8::1",
            Some("gateway_ip '2001:db8::1' does not match the ip_version '4'"),
        ),
        (
            "2001:db8::/64",
            "10.0.0.1",
            Some("gateway_ip '10.0.0.1' does not match the ip_version '6'"),
        ),
    ];
    for (cidr, gw, err) in cases {
        let want = err.map(|m| IpamError::InvalidGateway(m.into()));
        assert_eq!(
            validate_gateway(&net(cidr), ip(gw)).err(),
            want,
            "{cidr} {gw}"
        );
    }
}

#[test]
fn usable_bounds_table() {
    let cases = [
        ("10.0.0.0/24", "10.0.0.1", "10.0.0.254"),
        ("10.0.0.0/30", "10.0.0.1", "10.0.0.2"),
        ("10.0.0.0/31", "10.0.0.0", "10.0.0.1"),
        ("10.0.0.7/32", "10.0.0.7", "10.0.0.7"),
        (
            "2001:db8::/64",
            "2001:db8::1",
            "2001:db8::ffff:ffff:ffff:ffff",
        ),
        ("2001:db8::/127", "2001:db8::1", "2001:db8::1"),
        ("2001:db8::9/128", "2001:db8::9", "2001:db8::9"),
    ];
    for (cidr, first, last) in cases {
        assert_eq!(first_usable(&net(cidr)), ip(first), "{cidr}");
        assert_eq!(last_usable(&net(cidr)), ip(last), "{cidr}");
    }
}

#[test]
fn check_subnet_ip_table() {
    let cases = [
        ("10.0.0.0/24", "10.0.0.1", "", true),
        ("10.0.0.0/24", "10.0.0.254", "compute:nova", true),
        ("10.0.0.0/24", "10.0.0.0", "", false),
        ("10.0.0.0/24", "10.0.0.0", "network:router_interface", false),
        ("10.0.0.0/24", "10.0.0.255", "", false),
        ("10.0.0.0/24", "10.0.1.1", "", false),
        ("10.0.0.0/24", "::1", "", false),
        ("10.0.0.0/30", "10.0.0.3", "", false),
        ("10.0.0.0/31", "10.0.0.0", "compute:nova", true),
        ("10.0.0.0/31", "10.0.0.1", "compute:nova", true),
        ("10.0.0.0/31", "10.0.0.2", "", false),
        ("10.0.0.5/32", "10.0.0.5", "compute:nova", true),
        ("2001:db8::/64", "2001:db8::5", "compute:nova", true),
        (
            "2001:db8::/64",
            "2001:db8::ffff:ffff:ffff:ffff",
            "compute:nova",
            true,
        ),
        ("2001:db8::/64", "2001:db8:0:1::", "", false),
        ("2001:db8::/64", "10.0.0.1", "", false),
        ("2001:db8::/64", "2001:db8::", "", true),
        ("2001:db8::/64", "2001:db8::", "compute:nova", false),
        ("2001:db8::/64", "2001:db8::", "network:dhcp", false),
        (
            "2001:db8::/64",
            "2001:db8::",
            "network:router_interface",
            true,
        ),
        (
            "2001:db8::/64",
            "2001:db8::",
            "network:router_gateway",
            true,
        ),
        (
            "2001:db8::/64",
            "2001:db8::",
            "network:router_interface_distributed",
            true,
        ),
        (
            "2001:db8::/64",
            "2001:db8::",
            "network:ha_router_replicated_interface",
            true,
        ),
        (
            "2001:db8::/64",
            "2001:db8::",
            "network:router_centralized_snat",
            true,
        ),
    ];
    for (cidr, addr, owner, want) in cases {
        assert_eq!(
            is_valid_for_subnet(&net(cidr), ip(addr), owner),
            want,
            "{cidr} {addr} {owner:?}"
        );
    }
}

#[test]
fn offsets_table() {
    let cases: [(&str, &str, Option<i64>); 8] = [
        ("10.0.0.0/24", "10.0.0.0", Some(0)),
        ("10.0.0.0/24", "10.0.0.7", Some(7)),
        ("10.0.0.0/24", "10.0.0.255", Some(255)),
        ("10.0.0.0/24", "10.0.1.0", None),
        ("10.0.0.0/24", "2001:db8::", None),
        ("2001:db8::/64", "2001:db8::1:0", Some(65536)),
        (
            "2001:db8::/64",
            "2001:db8::7fff:ffff:ffff:ffff",
            Some(i64::MAX),
        ),
        ("2001:db8::/64", "2001:db8::8000:0:0:0", None),
    ];
    for (cidr, addr, off) in cases {
        assert_eq!(offset_of(&net(cidr), ip(addr)), off, "{cidr} {addr}");
        if let Some(o) = off {
            assert_eq!(addr_at(&net(cidr), o), Some(ip(addr)), "{cidr} {o}");
        }
    }
    let n = net("10.0.0.0/24");
    assert_eq!(addr_at(&n, -1), None);
    assert_eq!(addr_at(&n, 256), None);
    assert_eq!(
        addr_at(&net("2001:db8::/64"), i64::MAX),
        Some(ip("2001:db8::7fff:ffff:ffff:ffff"))
    );
}

#[test]
fn cidrs_overlap_table() {
    let cases = [
        ("10.0.0.0/24", "10.0.0.0/24", true),
        ("10.0.0.0/24", "10.0.0.128/25", true),
        ("10.0.0.0/8", "10.200.0.0/16", true),
        ("10.0.0.0/24", "10.0.1.0/24", false),
        ("10.0.0.0/25", "10.0.0.128/25", false),
        ("2001:db8::/64", "2001:db8::/96", true),
        ("2001:db8::/64", "2001:db8:0:1::/64", false),
        // ::/96 holds ::a00:0, numerically equal to 10.0.0.0, but is another family.
        ("10.0.0.0/24", "::/96", false),
    ];
    for (a, b, want) in cases {
        assert_eq!(cidrs_overlap(&net(a), &net(b)), want, "{a} {b}");
        assert_eq!(cidrs_overlap(&net(b), &net(a)), want, "{b} {a}");
    }
}
