use serde_json::json;

use crate::support::{self, assert_error};

#[tokio::test]
async fn port_defaults_mac_and_dns_assignment() {
    for c in support::backends().await {
        let net = c.network(&c.alice, "lb-mgmt-net").await;
        let s = c.subnet(&c.alice, &net, "172.24.0.0/16", json!({})).await;
        let p = c.create(&c.alice, "port", json!({"network_id": net["id"], "name": "lb-mgmt-router-port", "fixed_ips": [{"subnet_id": s["id"]}]})).await;
        assert!(
            p["mac_address"].as_str().unwrap().starts_with("fa:16:3e:"),
            "{p}"
        );
        assert_eq!(p["status"], "DOWN");
        assert_eq!(p["revision_number"], 1);
        assert_eq!(p["device_owner"], "");
        assert_eq!(p["port_security_enabled"], true);
        let ip = p["fixed_ips"][0]["ip_address"]
            .as_str()
            .unwrap()
            .to_string();
        let addr: std::net::Ipv4Addr = ip.parse().unwrap();
        assert!(
            addr.octets()[0] == 172
                && addr.octets()[1] == 24
                && addr != "172.24.0.1".parse::<std::net::Ipv4Addr>().unwrap()
        );
        assert_eq!(p["fixed_ips"][0]["subnet_id"], s["id"]);
        let host = format!("host-{}", ip.replace('.', "-"));
        assert_eq!(
            p["dns_assignment"],
            json!([{"hostname": host, "ip_address": ip, "fqdn": format!("{host}.openstacklocal.")}])
        );
        assert!(
            p.get("binding:host_id").is_none(),
            "bindings are admin-only"
        );
        let (_, b) = c
            .call(
                "GET",
                &format!("/v2.0/ports/{}", p["id"].as_str().unwrap()),
                &c.admin,
                None,
            )
            .await;
        assert_eq!(b["port"]["binding:vif_type"], "unbound");
        assert_eq!(b["port"]["binding:vnic_type"], "normal");
        assert_eq!(b["port"]["binding:profile"], json!({}));
    }
}

#[tokio::test]
async fn specific_addresses_and_their_errors() {
    for c in support::backends().await {
        let net = c.network(&c.alice, "n").await;
        let s = c
            .subnet(
                &c.alice,
                &net,
                "10.0.0.0/24",
                json!({"allocation_pools": [{"start": "10.0.0.10", "end": "10.0.0.20"}]}),
            )
            .await;
        let nid = net["id"].clone();
        // A specific address need not be inside a pool.
        let p = c
            .create(
                &c.alice,
                "port",
                json!({"network_id": nid, "fixed_ips": [{"ip_address": "10.0.0.50"}]}),
            )
            .await;
        assert_eq!(
            p["fixed_ips"],
            json!([{"subnet_id": s["id"], "ip_address": "10.0.0.50"}])
        );
        let ports_before = c.count("ports").await;
        let cases = [
            (
                json!([{"ip_address": "10.0.0.50"}]),
                409,
                "IpAddressAlreadyAllocated",
            ),
            (
                json!([{"ip_address": "10.9.9.9"}]),
                400,
                "InvalidIpForNetwork",
            ),
            (
                json!([{"subnet_id": s["id"], "ip_address": "10.0.0.255"}]),
                400,
                "InvalidIpForSubnet",
            ),
            (
                json!([{"subnet_id": s["id"], "ip_address": "10.0.0.0"}]),
                400,
                "InvalidIpForSubnet",
            ),
            (json!([{"ip_address": "nope"}]), 400, "HTTPBadRequest"),
            (json!([{"subnet_id": "not-a-uuid"}]), 400, "HTTPBadRequest"),
            (
                json!([{"subnet_id": "5b7c8f4e-1111-4222-8333-944455556666"}]),
                404,
                "SubnetNotFound",
            ),
            (
                json!([{"ip_address": "10.0.0.60"}, {"ip_address": "10.0.0.60"}]),
                400,
                "HTTPBadRequest",
            ),
            (json!("10.0.0.3"), 400, "HTTPBadRequest"),
        ];
        for (fixed, status, kind) in cases {
            let (st, b) = c
                .call(
                    "POST",
                    "/v2.0/ports",
                    &c.alice,
                    Some(json!({"port": {"network_id": nid, "fixed_ips": fixed}})),
                )
                .await;
            assert_error(st, &b, status, kind);
        }
        assert_eq!(
            c.count("ports").await,
            ports_before,
            "[{}] failed creates store no port",
            c.backend
        );
        assert_eq!(c.count("ip_allocations").await, 1);
        // Bob may not pick addresses on alice's network, nor even see it.
        let (st, b) = c
            .call(
                "POST",
                "/v2.0/ports",
                &c.bob,
                Some(json!({"port": {"network_id": nid}})),
            )
            .await;
        assert_error(st, &b, 404, "NetworkNotFound");
    }
}

#[tokio::test]
async fn released_addresses_are_reused_and_updates_move_addresses() {
    for c in support::backends().await {
        let net = c.network(&c.alice, "n").await;
        let s = c
            .subnet(
                &c.alice,
                &net,
                "10.0.0.0/28",
                json!({"allocation_pools": [{"start": "10.0.0.2", "end": "10.0.0.3"}]}),
            )
            .await;
        let a = c
            .create(&c.alice, "port", json!({"network_id": net["id"]}))
            .await;
        let b = c
            .create(&c.alice, "port", json!({"network_id": net["id"]}))
            .await;
        let (st, body) = c
            .call(
                "POST",
                "/v2.0/ports",
                &c.alice,
                Some(json!({"port": {"network_id": net["id"]}})),
            )
            .await;
        assert_error(st, &body, 409, "IpAddressGenerationFailure");
        let freed = a["fixed_ips"][0]["ip_address"].clone();
        let (st, _) = c
            .call(
                "DELETE",
                &format!("/v2.0/ports/{}", a["id"].as_str().unwrap()),
                &c.alice,
                None,
            )
            .await;
        assert_eq!(st, 204);
        let again = c
            .create(&c.alice, "port", json!({"network_id": net["id"]}))
            .await;
        assert_eq!(again["fixed_ips"][0]["ip_address"], freed);
        // Move b to a specific address; its old one becomes free.
        let (st, upd) = c
            .call("PUT", &format!("/v2.0/ports/{}", b["id"].as_str().unwrap()), &c.alice, Some(json!({"port": {"fixed_ips": [{"subnet_id": s["id"], "ip_address": "10.0.0.9"}]}})))
            .await;
        assert_eq!(st, 200, "{upd}");
        assert_eq!(
            upd["port"]["fixed_ips"],
            json!([{"subnet_id": s["id"], "ip_address": "10.0.0.9"}])
        );
        assert_eq!(upd["port"]["revision_number"], 2);
        let last = c
            .create(&c.alice, "port", json!({"network_id": net["id"]}))
            .await;
        assert_eq!(
            last["fixed_ips"][0]["ip_address"],
            b["fixed_ips"][0]["ip_address"]
        );
        assert_eq!(c.count("ip_allocations").await, 3);
    }
}

#[tokio::test]
async fn port_security_groups_pairs_and_bindings() {
    for c in support::backends().await {
        let net = c.network(&c.alice, "n").await;
        c.subnet(&c.alice, &net, "10.0.0.0/24", json!({})).await;
        let (st, b) = c
            .call(
                "POST",
                "/v2.0/security-groups",
                &c.alice,
                Some(json!({"security_group": {"name": "sg"}})),
            )
            .await;
        assert_eq!(st, 201, "{b}");
        let sg = b["security_group"]["id"].as_str().unwrap().to_string();
        let (st, b) = c.call("POST", "/v2.0/ports", &c.alice, Some(json!({"port": {"network_id": net["id"], "port_security_enabled": false, "security_groups": [sg]}}))).await;
        assert_error(st, &b, 400, "PortSecurityAndIPRequiredForSecurityGroups");
        let (st, b) = c.call("POST", "/v2.0/ports", &c.alice, Some(json!({"port": {"network_id": net["id"], "port_security_enabled": false, "allowed_address_pairs": [{"ip_address": "10.0.0.77"}]}}))).await;
        assert_error(st, &b, 409, "AddressPairAndPortSecurityRequired");
        let p = c.create(&c.alice, "port", json!({"network_id": net["id"], "security_groups": [sg], "allowed_address_pairs": [{"ip_address": "10.0.0.0/28"}]})).await;
        assert_eq!(p["security_groups"], json!([sg]));
        assert_eq!(
            p["allowed_address_pairs"][0]["mac_address"], p["mac_address"],
            "pairs default to the port's MAC"
        );
        let path = format!("/v2.0/ports/{}", p["id"].as_str().unwrap());
        let (st, b) = c
            .call(
                "PUT",
                &path,
                &c.alice,
                Some(json!({"port": {"port_security_enabled": false}})),
            )
            .await;
        assert_error(st, &b, 409, "PortSecurityPortHasSecurityGroup");
        let (st, b) = c
            .call(
                "PUT",
                &path,
                &c.alice,
                Some(json!({"port": {"binding:host_id": "node-1"}})),
            )
            .await;
        assert_error(st, &b, 403, "PolicyNotAuthorized");
        let (st, b) = c
            .call(
                "PUT",
                &path,
                &c.admin,
                Some(json!({"port": {"binding:host_id": "node-1", "binding:profile": {"k": "v"}}})),
            )
            .await;
        assert_eq!(st, 200, "{b}");
        assert_eq!(b["port"]["binding:host_id"], "node-1");
        assert_eq!(b["port"]["binding:vif_type"], "ovs");
        assert_eq!(b["port"]["binding:profile"], json!({"k": "v"}));
        let (st, b) = c.call("PUT", &path, &c.alice, Some(json!({"port": {"security_groups": [], "allowed_address_pairs": [], "port_security_enabled": false, "dns_name": "amphora-1"}}))).await;
        assert_eq!(st, 200, "{b}");
        assert_eq!(b["port"]["port_security_enabled"], false);
        assert_eq!(b["port"]["dns_assignment"][0]["hostname"], "amphora-1");
        let (st, b) = c
            .call(
                "PUT",
                &path,
                &c.alice,
                Some(json!({"port": {"dns_name": "bad_name!"}})),
            )
            .await;
        assert_error(st, &b, 400, "HTTPBadRequest");
    }
}

#[tokio::test]
async fn mac_addresses_are_unique_per_network() {
    for c in support::backends().await {
        let net = c.network(&c.alice, "n").await;
        let other = c.network(&c.alice, "m").await;
        c.create(
            &c.alice,
            "port",
            json!({"network_id": net["id"], "mac_address": "FA:16:3E:00:00:01"}),
        )
        .await;
        let (st, b) = c
            .call(
                "POST",
                "/v2.0/ports",
                &c.alice,
                Some(
                    json!({"port": {"network_id": net["id"], "mac_address": "fa:16:3e:00:00:01"}}),
                ),
            )
            .await;
        assert_error(st, &b, 409, "MacAddressInUse");
        let p = c
            .create(
                &c.alice,
                "port",
                json!({"network_id": other["id"], "mac_address": "fa:16:3e:00:00:01"}),
            )
            .await;
        assert_eq!(p["mac_address"], "fa:16:3e:00:00:01");
        let (st, b) = c
            .call(
                "POST",
                "/v2.0/ports",
                &c.alice,
                Some(
                    json!({"port": {"network_id": net["id"], "mac_address": "zz:16:3e:00:00:01"}}),
                ),
            )
            .await;
        assert_error(st, &b, 400, "HTTPBadRequest");
    }
}

#[tokio::test]
async fn slaac_subnets_give_eui64_addresses() {
    for c in support::backends().await {
        let net = c.network(&c.alice, "v6").await;
        let s = c
            .subnet(
                &c.alice,
                &net,
                "2001:db8:1::/64",
                json!({"ipv6_address_mode": "slaac", "ipv6_ra_mode": "slaac"}),
            )
            .await;
        let p = c
            .create(
                &c.alice,
                "port",
                json!({"network_id": net["id"], "mac_address": "fa:16:3e:12:34:56"}),
            )
            .await;
        assert_eq!(
            p["fixed_ips"],
            json!([{"subnet_id": s["id"], "ip_address": "2001:db8:1:0:f816:3eff:fe12:3456"}])
        );
        let (st, b) = c.call("POST", "/v2.0/ports", &c.alice, Some(json!({"port": {"network_id": net["id"], "fixed_ips": [{"ip_address": "2001:db8:1::5"}]}}))).await;
        assert_error(st, &b, 400, "AllocationOnAutoAddressSubnet");
    }
}

/// The plain list is served from rendered views cached by revision: every
/// change must show in the next list, made on this server or another.
#[tokio::test]
async fn cached_lists_never_show_stale_ports() {
    for c in support::backends().await {
        let net = c.network(&c.alice, "n").await;
        let s = c.subnet(&c.alice, &net, "10.0.0.0/24", json!({})).await;
        let a = c
            .create(
                &c.alice,
                "port",
                json!({"network_id": net["id"], "name": "a"}),
            )
            .await;
        let b = c
            .create(
                &c.alice,
                "port",
                json!({"network_id": net["id"], "name": "b"}),
            )
            .await;
        let list = |token: String| {
            let c = &c;
            async move {
                let (st, body) = c.call("GET", "/v2.0/ports", &token, None).await;
                assert_eq!(st, 200, "{body}");
                body["ports"].as_array().unwrap().clone()
            }
        };
        let find = |ports: &[serde_json::Value], id: &serde_json::Value| {
            ports
                .iter()
                .find(|p| p["id"] == *id)
                .cloned()
                .expect("listed")
        };
        assert_eq!(list(c.alice.clone()).await.len(), 2);
        assert!(
            find(&list(c.admin.clone()).await, &a["id"])
                .get("binding:vif_type")
                .is_some(),
            "admins get their own view"
        );
        assert!(
            find(&list(c.alice.clone()).await, &a["id"])
                .get("binding:vif_type")
                .is_none(),
            "members get theirs"
        );

        // A rename on a second server.
        let replica = c.replica().await;
        let req = support::request(
            "PUT",
            &format!("/v2.0/ports/{}", a["id"].as_str().unwrap()),
            Some(&c.alice),
            Some(json!({"port": {"name": "renamed"}})),
        );
        let (st, _, _) = support::send(&replica, req).await;
        assert_eq!(st, 200);
        assert_eq!(
            find(&list(c.alice.clone()).await, &a["id"])["name"],
            "renamed"
        );
        // A tag.
        let (st, _) = c
            .call(
                "PUT",
                &format!("/v2.0/ports/{}/tags/red", a["id"].as_str().unwrap()),
                &c.alice,
                None,
            )
            .await;
        assert_eq!(st, 201);
        assert_eq!(
            find(&list(c.alice.clone()).await, &a["id"])["tags"],
            json!(["red"])
        );
        // Becoming a router interface.
        let r = c.create(&c.alice, "router", json!({"name": "r"})).await;
        let (st, _) = c
            .call(
                "PUT",
                &format!(
                    "/v2.0/routers/{}/add_router_interface",
                    r["id"].as_str().unwrap()
                ),
                &c.alice,
                Some(json!({"port_id": b["id"]})),
            )
            .await;
        assert_eq!(st, 200);
        let listed_b = find(&list(c.alice.clone()).await, &b["id"]);
        assert_eq!(listed_b["device_owner"], "network:router_interface");
        assert_eq!(listed_b["device_id"], r["id"]);
        // A new address.
        let (st, _) = c
            .call("PUT", &format!("/v2.0/ports/{}", a["id"].as_str().unwrap()), &c.alice, Some(json!({"port": {"fixed_ips": [{"subnet_id": s["id"], "ip_address": "10.0.0.77"}]}})))
            .await;
        assert_eq!(st, 200);
        assert_eq!(
            find(&list(c.alice.clone()).await, &a["id"])["fixed_ips"][0]["ip_address"],
            "10.0.0.77"
        );
        // A deletion.
        let (st, _) = c
            .call(
                "DELETE",
                &format!("/v2.0/ports/{}", a["id"].as_str().unwrap()),
                &c.alice,
                None,
            )
            .await;
        assert_eq!(st, 204);
        let ports = list(c.alice.clone()).await;
        assert_eq!(ports.len(), 1);
        assert_eq!(ports[0]["id"], b["id"]);
        // Filtered lists still use the general path and agree.
        let (_, body) = c
            .call(
                "GET",
                "/v2.0/ports?device_owner=network:router_interface",
                &c.alice,
                None,
            )
            .await;
        assert_eq!(body["ports"].as_array().unwrap().len(), 1);
    }
}

/// A create answers from the values it wrote rather than reading the port
/// back (one statement less under the SQLite write lock): that answer must
/// be exactly what a later read shows, for every kind of attribute.
#[tokio::test]
async fn create_answer_equals_a_later_show_and_list() {
    for c in support::backends().await {
        let net = c.network(&c.admin, "answer-net").await;
        let v4 = c.subnet(&c.admin, &net, "10.9.0.0/24", json!({})).await;
        let v6 = c
            .subnet(
                &c.admin,
                &net,
                "2001:db8:9::/64",
                json!({"ip_version": 6, "ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac"}),
            )
            .await;
        // Several groups and tags: the answer lists them in stored order.
        let g1 = c.security_group(&c.admin, json!({"name": "zeta"})).await;
        let g2 = c.security_group(&c.admin, json!({"name": "alpha"})).await;
        let bodies = [
            json!({"network_id": net["id"]}),
            json!({"network_id": net["id"], "security_groups": [g1["id"], g2["id"]],
                   "tags": ["b", "a", "C"]}),
            json!({"network_id": net["id"], "name": "full", "description": "d",
                   "fixed_ips": [{"subnet_id": v6["id"]}, {"subnet_id": v4["id"], "ip_address": "10.9.0.77"}],
                   "allowed_address_pairs": [{"ip_address": "10.9.0.200"}],
                   "binding:host_id": "node-1", "binding:profile": {"k": "v"},
                   "binding:vnic_type": "direct", "dns_name": "web-1",
                   "device_id": "dev", "device_owner": "compute:nova", "tags": ["one"],
                   "admin_state_up": false}),
            json!({"network_id": net["id"], "port_security_enabled": false}),
            json!({"network_id": net["id"], "device_owner": "network:dhcp"}),
        ];
        for body in bodies {
            let created = c.create(&c.admin, "port", body.clone()).await;
            let id = created["id"].as_str().unwrap();
            let (s, shown) = c
                .call("GET", &format!("/v2.0/ports/{id}"), &c.admin, None)
                .await;
            assert_eq!(s, 200);
            assert_eq!(created, shown["port"], "create answer vs show for {body}");
            let (s, listed) = c
                .call("GET", &format!("/v2.0/ports?id={id}"), &c.admin, None)
                .await;
            assert_eq!(s, 200);
            assert_eq!(listed["ports"], json!([created]), "list for {body}");
        }
        // A bulk create answers in request order, each as stored.
        let (s, bulk) = c
            .call(
                "POST",
                "/v2.0/ports",
                &c.admin,
                Some(json!({"ports": [
                    {"network_id": net["id"], "name": "b1"},
                    {"network_id": net["id"], "name": "b2", "fixed_ips": [{"subnet_id": v4["id"]}]}
                ]})),
            )
            .await;
        assert_eq!(s, 201, "{bulk}");
        for p in bulk["ports"].as_array().unwrap() {
            let id = p["id"].as_str().unwrap();
            let (_, shown) = c
                .call("GET", &format!("/v2.0/ports/{id}"), &c.admin, None)
                .await;
            assert_eq!(p, &shown["port"]);
        }
    }
}

/// The plain list is streamed in pieces from the view cache: the pieces
/// must add up to one JSON document with every port once, and the
/// Content-Length must match what is sent.
#[tokio::test]
async fn plain_list_of_many_ports_is_one_document() {
    for c in support::backends().await {
        let net = c.network(&c.admin, "many").await;
        c.subnet(&c.admin, &net, "10.10.0.0/20", json!({})).await;
        let mut items = Vec::new();
        for i in 0..150 {
            items.push(json!({"network_id": net["id"], "name": format!("p{i}"),
                              "description": "x".repeat(255)}));
        }
        let (s, b) = c
            .call(
                "POST",
                "/v2.0/ports",
                &c.admin,
                Some(json!({"ports": items})),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        for round in 0..2 {
            use tower::ServiceExt;
            let resp = c
                .app
                .clone()
                .oneshot(support::request("GET", "/v2.0/ports", Some(&c.admin), None))
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            let declared: usize = resp.headers()["content-length"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            let raw = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .unwrap();
            assert_eq!(declared, raw.len());
            let body: serde_json::Value = serde_json::from_slice(&raw).expect("one document");
            let ports = body["ports"].as_array().unwrap();
            assert_eq!(ports.len(), 150, "round {round}");
            let names: std::collections::HashSet<&str> =
                ports.iter().map(|p| p["name"].as_str().unwrap()).collect();
            assert_eq!(names.len(), 150);
        }
    }
}
