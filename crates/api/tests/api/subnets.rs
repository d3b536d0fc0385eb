use serde_json::json;

use crate::support::{self, assert_error};

#[tokio::test]
async fn defaults_follow_neutron() {
    for c in support::backends().await {
        let net = c.network(&c.alice, "n").await;
        let s = c
            .subnet(
                &c.alice,
                &net,
                "172.24.0.0/16",
                json!({"name": "lb-mgmt-subnet"}),
            )
            .await;
        assert_eq!(s["gateway_ip"], "172.24.0.1");
        assert_eq!(
            s["allocation_pools"],
            json!([{"start": "172.24.0.2", "end": "172.24.255.254"}])
        );
        assert_eq!(s["enable_dhcp"], true);
        assert_eq!(s["ip_version"], 4);
        assert_eq!(s["revision_number"], 0);
        assert_eq!(s["host_routes"], json!([]));
        let (_, b) = c
            .call(
                "GET",
                &format!("/v2.0/networks/{}", net["id"].as_str().unwrap()),
                &c.alice,
                None,
            )
            .await;
        assert_eq!(b["network"]["subnets"], json!([s["id"]]));

        let v6 = c.subnet(&c.alice, &net, "2001:db8::/64", json!({})).await;
        assert_eq!(
            v6["gateway_ip"], "2001:db8::",
            "IPv6 gateways default to the network address"
        );
        assert_eq!(
            v6["allocation_pools"],
            json!([{"start": "2001:db8::1", "end": "2001:db8::ffff:ffff:ffff:ffff"}])
        );
    }
}

#[tokio::test]
async fn explicit_pools_and_no_gateway() {
    for c in support::backends().await {
        let net = c.create(&c.admin, "network", json!({"provider:network_type": "flat", "provider:physical_network": "octavia", "router:external": true})).await;
        let s = c
            .subnet(&c.admin, &net, "172.23.0.0/24", json!({"gateway_ip": null, "enable_dhcp": false, "allocation_pools": [{"start": "172.23.0.71", "end": "172.23.0.96"}]}))
            .await;
        assert!(s["gateway_ip"].is_null());
        assert_eq!(
            s["allocation_pools"],
            json!([{"start": "172.23.0.71", "end": "172.23.0.96"}])
        );
        assert_eq!(s["router:external"], true);
        assert_eq!(s["enable_dhcp"], false);
    }
}

#[tokio::test]
async fn invalid_subnets_are_rejected_and_not_stored() {
    for c in support::backends().await {
        let net = c.network(&c.alice, "n").await;
        let nid = net["id"].clone();
        let cases = [
            (json!({"cidr": "10.0.0.0/33"}), 400, "HTTPBadRequest"),
            (json!({"cidr": "not-a-cidr"}), 400, "HTTPBadRequest"),
            (json!({"cidr": "10.0.0.5/24"}), 400, "HTTPBadRequest"),
            (
                json!({"cidr": "10.0.0.0/24", "ip_version": 6}),
                400,
                "InvalidInput",
            ),
            (
                json!({"cidr": "10.0.0.0/24", "allocation_pools": [{"start": "10.0.1.1", "end": "10.0.1.5"}]}),
                400,
                "OutOfBoundsAllocationPool",
            ),
            (
                json!({"cidr": "10.0.0.0/24", "allocation_pools": [{"start": "10.0.0.9", "end": "10.0.0.2"}]}),
                400,
                "InvalidAllocationPool",
            ),
            (
                json!({"cidr": "10.0.0.0/24", "allocation_pools": [{"start": "10.0.0.2", "end": "10.0.0.10"}, {"start": "10.0.0.5", "end": "10.0.0.20"}]}),
                409,
                "OverlappingAllocationPools",
            ),
            (
                json!({"cidr": "10.0.0.0/24", "gateway_ip": "10.0.0.5", "allocation_pools": [{"start": "10.0.0.2", "end": "10.0.0.10"}]}),
                409,
                "GatewayConflictWithAllocationPools",
            ),
            (
                json!({"cidr": "10.0.0.0/24", "gateway_ip": "10.0.0.0"}),
                400,
                "InvalidInput",
            ),
            (
                json!({"cidr": "10.0.0.0/24", "dns_nameservers": ["1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.1.4", "1.1.1.5", "1.1.1.6"]}),
                400,
                "DNSNameServersExhausted",
            ),
            (
                json!({"cidr": "10.0.0.0/24", "dns_nameservers": ["1.1.1.1", "1.1.1.1"]}),
                400,
                "HTTPBadRequest",
            ),
            (
                json!({"cidr": "10.0.0.0/24", "host_routes": (0..21).map(|i| json!({"destination": format!("10.{i}.0.0/16"), "nexthop": "10.0.0.9"})).collect::<Vec<_>>()}),
                400,
                "HostRoutesExhausted",
            ),
            (
                json!({"cidr": "2001:db8::/80", "ipv6_address_mode": "slaac", "ipv6_ra_mode": "slaac"}),
                400,
                "InvalidInput",
            ),
            (
                json!({"cidr": "2001:db8::/64", "ipv6_address_mode": "slaac", "ipv6_ra_mode": "dhcpv6-stateful"}),
                400,
                "InvalidInput",
            ),
            (
                json!({"cidr": "10.0.0.0/24", "ipv6_address_mode": "slaac"}),
                400,
                "InvalidInput",
            ),
            (
                json!({"cidr": "10.0.0.0/24", "enable_dhcp": "maybe"}),
                400,
                "HTTPBadRequest",
            ),
            (json!({"cidr": "10.0.0.0/31"}), 400, "InvalidInput"),
        ];
        for (extra, status, kind) in cases {
            let mut body = json!({"network_id": nid, "ip_version": 4});
            for (k, v) in extra.as_object().unwrap() {
                body[k] = v.clone();
            }
            if body["cidr"].as_str().is_some_and(|c| c.contains(':')) && body["ip_version"] == 4 {
                body["ip_version"] = json!(6);
            }
            let (s, b) = c
                .call(
                    "POST",
                    "/v2.0/subnets",
                    &c.alice,
                    Some(json!({"subnet": body})),
                )
                .await;
            assert_error(s, &b, status, kind);
        }
        assert_eq!(
            c.count("subnets").await,
            0,
            "[{}] nothing stored",
            c.backend
        );
        assert_eq!(c.count("subnet_allocation_pools").await, 0);

        // Overlap with an existing subnet of the same network.
        c.subnet(&c.alice, &net, "10.0.0.0/24", json!({})).await;
        let (s, b) = c.call("POST", "/v2.0/subnets", &c.alice, Some(json!({"subnet": {"network_id": nid, "ip_version": 4, "cidr": "10.0.0.128/25"}}))).await;
        assert_error(s, &b, 400, "InvalidInput");
        // Another project's network does not exist for bob.
        let (s, b) = c
            .call(
                "POST",
                "/v2.0/subnets",
                &c.bob,
                Some(
                    json!({"subnet": {"network_id": nid, "ip_version": 4, "cidr": "10.9.0.0/24"}}),
                ),
            )
            .await;
        assert_error(s, &b, 404, "NetworkNotFound");
        assert_eq!(c.count("subnets").await, 1);
    }
}

#[tokio::test]
async fn updates_of_pools_gateway_and_host_routes() {
    for c in support::backends().await {
        let net = c.network(&c.alice, "n").await;
        let s = c
            .subnet(&c.alice, &net, "10.1.0.0/24", json!({"gateway_ip": null}))
            .await;
        let path = format!("/v2.0/subnets/{}", s["id"].as_str().unwrap());
        let (st, b) = c
            .call("PUT", &path, &c.alice, Some(json!({"subnet": {"host_routes": [{"destination": "172.23.0.0/24", "nexthop": "10.1.0.7"}]}})))
            .await;
        assert_eq!(st, 200, "{b}");
        assert_eq!(
            b["subnet"]["host_routes"],
            json!([{"destination": "172.23.0.0/24", "nexthop": "10.1.0.7"}])
        );
        assert_eq!(b["subnet"]["revision_number"], 1);
        let (st, b) = c.call("PUT", &path, &c.alice, Some(json!({"subnet": {"allocation_pools": [{"start": "10.1.0.10", "end": "10.1.0.20"}]}}))).await;
        assert_eq!(st, 200, "{b}");
        assert_eq!(
            b["subnet"]["allocation_pools"],
            json!([{"start": "10.1.0.10", "end": "10.1.0.20"}])
        );
        let (st, b) = c
            .call(
                "PUT",
                &path,
                &c.alice,
                Some(json!({"subnet": {"gateway_ip": "10.1.0.15"}})),
            )
            .await;
        assert_error(st, &b, 409, "GatewayConflictWithAllocationPools");
        let (st, b) = c
            .call(
                "PUT",
                &path,
                &c.alice,
                Some(json!({"subnet": {"gateway_ip": "10.1.0.1"}})),
            )
            .await;
        assert_eq!(st, 200, "{b}");
        assert_eq!(b["subnet"]["gateway_ip"], "10.1.0.1");
        let (st, b) = c
            .call(
                "PUT",
                &path,
                &c.alice,
                Some(json!({"subnet": {"cidr": "10.2.0.0/24"}})),
            )
            .await;
        assert_error(st, &b, 400, "HTTPBadRequest");
        // New pools are where ports now come from.
        let p = c
            .create(&c.alice, "port", json!({"network_id": net["id"]}))
            .await;
        let ip: std::net::Ipv4Addr = p["fixed_ips"][0]["ip_address"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            (10..=20).contains(&ip.octets()[3]),
            "{ip} outside the new pool"
        );
    }
}

#[tokio::test]
async fn subnet_in_use_cannot_be_deleted() {
    for c in support::backends().await {
        let net = c.network(&c.alice, "n").await;
        let s = c.subnet(&c.alice, &net, "10.3.0.0/24", json!({})).await;
        let p = c
            .create(&c.alice, "port", json!({"network_id": net["id"]}))
            .await;
        let (st, b) = c
            .call(
                "DELETE",
                &format!("/v2.0/subnets/{}", s["id"].as_str().unwrap()),
                &c.alice,
                None,
            )
            .await;
        assert_error(st, &b, 409, "SubnetInUse");
        let (st, b) = c
            .call(
                "DELETE",
                &format!("/v2.0/networks/{}", net["id"].as_str().unwrap()),
                &c.alice,
                None,
            )
            .await;
        assert_error(st, &b, 409, "NetworkInUse");
        let (st, _) = c
            .call(
                "DELETE",
                &format!("/v2.0/ports/{}", p["id"].as_str().unwrap()),
                &c.alice,
                None,
            )
            .await;
        assert_eq!(st, 204);
        let (st, _) = c
            .call(
                "DELETE",
                &format!("/v2.0/networks/{}", net["id"].as_str().unwrap()),
                &c.alice,
                None,
            )
            .await;
        assert_eq!(
            st, 204,
            "a network with only unused subnets goes, subnets included"
        );
        assert_eq!(c.count("subnets").await, 0);
    }
}
