use std::net::{IpAddr, Ipv6Addr};

use neutrino_ipam::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

#[test]
fn mac_parse_table() {
    let ok = [
        ("fa:16:3e:20:c1:b1", "fa:16:3e:20:c1:b1"),
        ("FA:16:3E:20:C1:B1", "fa:16:3e:20:c1:b1"),
        ("fa-16-3e-20-c1-b1", "fa:16:3e:20:c1:b1"),
        ("fa16.3e20.c1b1", "fa:16:3e:20:c1:b1"),
        ("fa163e20c1b1", "fa:16:3e:20:c1:b1"),
        ("00:00:00:00:00:01", "00:00:00:00:00:01"),
        ("02:00:00:00:00:00", "02:00:00:00:00:00"),
    ];
    for (input, want) in ok {
        let mac: Mac = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(mac.to_string(), want, "{input}");
    }
    let bad = [
        "00:00:00:00:00:00",
        "ff:ff:ff:ff:ff:ff",
        "FF:FF:FF:FF:FF:FF",
        "01:00:5e:00:00:01",
        "33:33:00:00:00:01",
        "fa:16:3e:20:c1",
        "fa:16:3e:20:c1:b1:00",
        "fa:16:3e:20:c1:g1",
        "fa:16:3e:20:c1:b",
        "fa:16:3e:20:c1:b1 ",
        "fa:16:3e-20:c1:b1",
        "+a:16:3e:20:c1:b1",
        "",
    ];
    for input in bad {
        assert_eq!(
            input.parse::<Mac>(),
            Err(IpamError::InvalidMac(format!(
                "'{input}' is not a valid MAC address"
            ))),
            "{input}"
        );
    }
}

#[test]
fn random_mac_keeps_prefix_and_varies() {
    let mut rng = StdRng::seed_from_u64(7);
    let macs: Vec<Mac> = (0..64).map(|_| Mac::random(&mut rng)).collect();
    for m in &macs {
        assert_eq!(m.octets()[..3], DEFAULT_MAC_PREFIX);
        let s = m.to_string();
        assert!(s.starts_with("fa:16:3e:"), "{s}");
        assert_eq!(s.parse::<Mac>().unwrap(), *m, "round trip {s}");
    }
    let distinct: std::collections::BTreeSet<_> = macs.iter().collect();
    assert!(
        distinct.len() > 60,
        "random tails collide too often: {}",
        distinct.len()
    );

    let custom = Mac::random_with_prefix([0x02, 0xab, 0xcd], &mut rng);
    assert_eq!(custom.octets()[..3], [0x02, 0xab, 0xcd]);
}

#[test]
fn eui64_table() {
    let cases = [
        (
            "2001:db8::/64",
            "00:16:3e:33:44:55",
            "2001:db8::216:3eff:fe33:4455",
        ),
        (
            "2001:db8::/64",
            "fa:16:3e:20:c1:b1",
            "2001:db8::f816:3eff:fe20:c1b1",
        ),
        (
            "fd00:1:2:3::/64",
            "02:00:00:00:00:01",
            "fd00:1:2:3::ff:fe00:1",
        ),
        // Host bits in the prefix are ignored.
        (
            "2001:db8::1234/64",
            "00:16:3e:33:44:55",
            "2001:db8::216:3eff:fe33:4455",
        ),
    ];
    for (prefix, mac, want) in cases {
        let got = eui64(&prefix.parse().unwrap(), &mac.parse().unwrap());
        assert_eq!(
            got,
            Some(want.parse::<Ipv6Addr>().unwrap()),
            "{prefix} {mac}"
        );
        assert!(is_eui64_address(IpAddr::V6(got.unwrap())));
    }
    let mac: Mac = "00:16:3e:33:44:55".parse().unwrap();
    for prefix in ["2001:db8::/48", "2001:db8::/80", "2001:db8::/128"] {
        assert_eq!(eui64(&prefix.parse().unwrap(), &mac), None, "{prefix}");
    }
    assert!(!is_eui64_address("2001:db8::1".parse().unwrap()));
    assert!(!is_eui64_address("10.0.0.1".parse().unwrap()));
}

#[test]
fn auto_address_modes_need_a_64() {
    let v6_64: IpNet = "2001:db8::/64".parse().unwrap();
    let v6_80: IpNet = "2001:db8::/80".parse().unwrap();
    let v4: IpNet = "10.0.0.0/24".parse().unwrap();
    for mode in ["slaac", "dhcpv6-stateless"] {
        assert_eq!(check_auto_address_prefix(&v6_64, Some(mode)), Ok(()));
        assert_eq!(
            check_auto_address_prefix(&v6_80, Some(mode)),
            Err(IpamError::InvalidCidr(
                "Invalid CIDR 2001:db8::/80 for IPv6 address mode. OpenStack uses the EUI-64 \
                 address format, which requires the prefix to be /64."
                    .into()
            ))
        );
        assert!(check_auto_address_prefix(&v4, Some(mode)).is_err());
    }
    assert_eq!(
        check_auto_address_prefix(&v6_80, Some("dhcpv6-stateful")),
        Ok(())
    );
    assert_eq!(check_auto_address_prefix(&v6_80, None), Ok(()));
}
