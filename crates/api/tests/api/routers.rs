use serde_json::{Value, json};

use crate::support::{self, Cloud, assert_error, request, send};

fn id(v: &Value) -> &str {
    v["id"].as_str().expect("id")
}

/// Document 000's management network, through the API as the operator does it.
struct Topology {
    provider_net: Value,
    provider_subnet: Value,
    mgmt_net: Value,
    mgmt_subnet: Value,
    router: Value,
    port: Value,
}

async fn document_000(c: &Cloud) -> Topology {
    let provider_net = c
        .create(&c.admin, "network", json!({"name": "octavia-provider-net", "provider:network_type": "flat", "provider:physical_network": "octavia", "router:external": true}))
        .await;
    let provider_subnet = c
        .subnet(&c.admin, &provider_net, "172.23.0.0/24", json!({"name": "octavia-provider-subnet", "gateway_ip": null, "enable_dhcp": false, "allocation_pools": [{"start": "172.23.0.71", "end": "172.23.0.96"}]}))
        .await;
    let mgmt_net = c.network(&c.admin, "lb-mgmt-net").await;
    let mgmt_subnet = c
        .subnet(
            &c.admin,
            &mgmt_net,
            "172.24.0.0/16",
            json!({"name": "lb-mgmt-subnet", "gateway_ip": null}),
        )
        .await;
    let router = c
        .create(&c.admin, "router", json!({"name": "octavia-link-router", "external_gateway_info": {"network_id": provider_net["id"], "enable_snat": false, "external_fixed_ips": [{"subnet_id": provider_subnet["id"], "ip_address": "172.23.0.150"}]}}))
        .await;
    let port = c.create(&c.admin, "port", json!({"name": "lb-mgmt-router-port", "network_id": mgmt_net["id"], "fixed_ips": [{"subnet_id": mgmt_subnet["id"]}]})).await;
    let (s, b) = c
        .call(
            "PUT",
            &format!("/v2.0/routers/{}/add_router_interface", id(&router)),
            &c.admin,
            Some(json!({"port_id": port["id"]})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["port_id"], port["id"]);
    assert_eq!(b["subnet_id"], mgmt_subnet["id"]);
    let ip = port["fixed_ips"][0]["ip_address"].clone();
    let (s, b) = c
        .call("PUT", &format!("/v2.0/subnets/{}", id(&mgmt_subnet)), &c.admin, Some(json!({"subnet": {"host_routes": [{"destination": "172.23.0.0/24", "nexthop": ip}]}})))
        .await;
    assert_eq!(s, 200, "{b}");
    Topology {
        provider_net,
        provider_subnet,
        mgmt_net,
        mgmt_subnet,
        router,
        port,
    }
}

#[tokio::test]
async fn document_000_management_network() {
    for c in support::backends().await {
        let t = document_000(&c).await;
        let (_, b) = c
            .call(
                "GET",
                &format!("/v2.0/routers/{}", id(&t.router)),
                &c.admin,
                None,
            )
            .await;
        let r = &b["router"];
        assert_eq!(
            r["external_gateway_info"],
            json!({"network_id": t.provider_net["id"], "enable_snat": false, "external_fixed_ips": [{"subnet_id": t.provider_subnet["id"], "ip_address": "172.23.0.150"}]})
        );
        assert_eq!(r["status"], "ACTIVE");
        // What `openstack router show` builds interfaces_info from.
        let (_, b) = c
            .call(
                "GET",
                &format!("/v2.0/ports?device_id={}", id(&t.router)),
                &c.admin,
                None,
            )
            .await;
        let owners: Vec<(&str, &str)> = b["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["id"].as_str().unwrap(),
                    p["device_owner"].as_str().unwrap(),
                )
            })
            .collect();
        assert!(
            owners.contains(&(id(&t.port), "network:router_interface")),
            "{owners:?}"
        );
        assert!(
            owners.iter().any(|(_, o)| *o == "network:router_gateway"),
            "{owners:?}"
        );
        let gw = b["ports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["device_owner"] == "network:router_gateway")
            .unwrap();
        assert_eq!(gw["project_id"], "", "gateway ports belong to no project");
        let (_, p) = c
            .call(
                "GET",
                &format!("/v2.0/ports/{}", id(&t.port)),
                &c.admin,
                None,
            )
            .await;
        assert_eq!(p["port"]["device_owner"], "network:router_interface");
        assert_eq!(p["port"]["device_id"], t.router["id"]);
        let (_, s) = c
            .call(
                "GET",
                &format!("/v2.0/subnets/{}", id(&t.mgmt_subnet)),
                &c.admin,
                None,
            )
            .await;
        assert_eq!(
            s["subnet"]["host_routes"],
            json!([{"destination": "172.23.0.0/24", "nexthop": t.port["fixed_ips"][0]["ip_address"]}])
        );

        // The external network came with the wildcard access_as_external policy...
        let (_, b) = c
            .call(
                "GET",
                &format!("/v2.0/rbac-policies?object_id={}", id(&t.provider_net)),
                &c.admin,
                None,
            )
            .await;
        let pols = b["rbac_policies"].as_array().unwrap();
        assert_eq!(pols.len(), 1, "{b}");
        assert_eq!(pols[0]["action"], "access_as_external");
        assert_eq!(pols[0]["target_tenant"], "*");
        let (s, _) = c
            .call(
                "GET",
                &format!("/v2.0/networks/{}", id(&t.provider_net)),
                &c.bob,
                None,
            )
            .await;
        assert_eq!(s, 200, "everyone sees an external network at first");
        // ...which the operator re-targets to the admin project (octavia-operator PR #434).
        let (_, me) = c
            .call("GET", "/v2.0/networks?name=lb-mgmt-net", &c.admin, None)
            .await;
        let admin_project = me["networks"][0]["project_id"]
            .as_str()
            .unwrap()
            .to_string();
        let (s, b) = c
            .call(
                "PUT",
                &format!("/v2.0/rbac-policies/{}", pols[0]["id"].as_str().unwrap()),
                &c.admin,
                Some(json!({"rbac_policy": {"target_tenant": admin_project}})),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let (s, b) = c
            .call(
                "GET",
                &format!("/v2.0/networks/{}", id(&t.provider_net)),
                &c.bob,
                None,
            )
            .await;
        assert_error(s, &b, 404, "NetworkNotFound");
        let (_, b) = c.call("GET", "/v2.0/networks", &c.bob, None).await;
        assert_eq!(b["networks"], json!([]));
        let _ = &t.mgmt_net;
    }
}

#[tokio::test]
async fn router_interfaces_by_subnet_and_their_rules() {
    for c in support::backends().await {
        let r = c.create(&c.alice, "router", json!({"name": "r1"})).await;
        assert!(r["external_gateway_info"].is_null());
        let net = c.network(&c.alice, "n1").await;
        let s1 = c.subnet(&c.alice, &net, "10.10.0.0/24", json!({})).await;
        let path = |op: &str| format!("/v2.0/routers/{}/{op}", id(&r));
        let (s, b) = c
            .call(
                "PUT",
                &path("add_router_interface"),
                &c.alice,
                Some(json!({"subnet_id": s1["id"]})),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let port_id = b["port_id"].as_str().unwrap().to_string();
        let (_, p) = c
            .call("GET", &format!("/v2.0/ports/{port_id}"), &c.alice, None)
            .await;
        assert_eq!(
            p["port"]["fixed_ips"],
            json!([{"subnet_id": s1["id"], "ip_address": "10.10.0.1"}]),
            "the interface takes the gateway address"
        );

        let (s, b) = c
            .call(
                "PUT",
                &path("add_router_interface"),
                &c.alice,
                Some(json!({"subnet_id": s1["id"]})),
            )
            .await;
        assert_error(s, &b, 400, "BadRequest");
        let other = c.network(&c.alice, "n2").await;
        let overlapping = c
            .subnet(&c.alice, &other, "10.10.0.128/25", json!({}))
            .await;
        let (s, b) = c
            .call(
                "PUT",
                &path("add_router_interface"),
                &c.alice,
                Some(json!({"subnet_id": overlapping["id"]})),
            )
            .await;
        assert_error(s, &b, 400, "BadRequest");
        let nogw = c
            .subnet(
                &c.alice,
                &other,
                "10.20.0.0/24",
                json!({"gateway_ip": null}),
            )
            .await;
        let (s, b) = c
            .call(
                "PUT",
                &path("add_router_interface"),
                &c.alice,
                Some(json!({"subnet_id": nogw["id"]})),
            )
            .await;
        assert_error(s, &b, 400, "BadRequest");
        let (s, b) = c
            .call(
                "PUT",
                &path("add_router_interface"),
                &c.alice,
                Some(json!({"subnet_id": s1["id"], "port_id": port_id})),
            )
            .await;
        assert_error(s, &b, 400, "BadRequest");
        let (s, b) = c
            .call(
                "PUT",
                &path("add_router_interface"),
                &c.alice,
                Some(json!({})),
            )
            .await;
        assert_error(s, &b, 400, "BadRequest");
        let (s, b) = c
            .call(
                "PUT",
                &path("add_router_interface"),
                &c.alice,
                Some(json!({"port_id": port_id})),
            )
            .await;
        assert_error(s, &b, 409, "PortInUse");

        // Router ports are managed through the router.
        let (s, b) = c
            .call("DELETE", &format!("/v2.0/ports/{port_id}"), &c.alice, None)
            .await;
        assert_error(s, &b, 409, "ServicePortInUse");
        let (s, b) = c
            .call(
                "DELETE",
                &format!("/v2.0/routers/{}", id(&r)),
                &c.alice,
                None,
            )
            .await;
        assert_error(s, &b, 409, "RouterInUse");
        let (s, b) = c
            .call(
                "DELETE",
                &format!("/v2.0/subnets/{}", id(&s1)),
                &c.alice,
                None,
            )
            .await;
        assert_error(s, &b, 409, "SubnetInUse");
        let (s, b) = c
            .call(
                "PUT",
                &format!("/v2.0/subnets/{}", id(&s1)),
                &c.alice,
                Some(json!({"subnet": {"gateway_ip": "10.10.0.254"}})),
            )
            .await;
        assert_error(s, &b, 409, "GatewayIpInUse");

        // Extra routes need a connected next hop.
        let (s, b) = c.call("PUT", &format!("/v2.0/routers/{}", id(&r)), &c.alice, Some(json!({"router": {"routes": [{"destination": "192.168.0.0/24", "nexthop": "10.99.0.5"}]}}))).await;
        assert_error(s, &b, 400, "InvalidRoutes");
        let (s, b) = c.call("PUT", &format!("/v2.0/routers/{}", id(&r)), &c.alice, Some(json!({"router": {"routes": [{"destination": "192.168.0.0/24", "nexthop": "10.10.0.5"}]}}))).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(
            b["router"]["routes"],
            json!([{"destination": "192.168.0.0/24", "nexthop": "10.10.0.5"}])
        );
        let (s, b) = c
            .call(
                "PUT",
                &path("remove_router_interface"),
                &c.alice,
                Some(json!({"subnet_id": s1["id"]})),
            )
            .await;
        assert_error(s, &b, 409, "RouterInterfaceInUseByRoute");
        c.call(
            "PUT",
            &format!("/v2.0/routers/{}", id(&r)),
            &c.alice,
            Some(json!({"router": {"routes": []}})),
        )
        .await;

        let (s, b) = c
            .call(
                "PUT",
                &path("remove_router_interface"),
                &c.alice,
                Some(json!({"subnet_id": nogw["id"]})),
            )
            .await;
        assert_error(s, &b, 404, "RouterInterfaceNotFoundForSubnet");
        let (s, b) = c
            .call(
                "PUT",
                &path("remove_router_interface"),
                &c.alice,
                Some(json!({"subnet_id": s1["id"]})),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["port_id"], port_id.as_str());
        let (s, _) = c
            .call("GET", &format!("/v2.0/ports/{port_id}"), &c.alice, None)
            .await;
        assert_eq!(s, 404, "removing an interface deletes its port");
        let (s, _) = c
            .call(
                "DELETE",
                &format!("/v2.0/routers/{}", id(&r)),
                &c.alice,
                None,
            )
            .await;
        assert_eq!(s, 204);
        let (s, b) = c
            .call("GET", &format!("/v2.0/routers/{}", id(&r)), &c.bob, None)
            .await;
        assert_error(s, &b, 404, "RouterNotFound");
    }
}

#[tokio::test]
async fn gateway_policy_and_validation() {
    for c in support::backends().await {
        let ext = c
            .create(
                &c.admin,
                "network",
                json!({"name": "public", "router:external": true}),
            )
            .await;
        c.subnet(&c.admin, &ext, "198.51.100.0/24", json!({})).await;
        let internal = c.network(&c.alice, "private").await;
        let (s, b) = c.call("POST", "/v2.0/routers", &c.alice, Some(json!({"router": {"external_gateway_info": {"network_id": ext["id"], "enable_snat": false}}}))).await;
        assert_error(s, &b, 403, "PolicyNotAuthorized");
        let (s, b) = c
            .call(
                "POST",
                "/v2.0/routers",
                &c.alice,
                Some(json!({"router": {"external_gateway_info": {"network_id": internal["id"]}}})),
            )
            .await;
        assert_error(s, &b, 400, "BadRequest");
        assert_eq!(
            c.count("routers").await,
            0,
            "[{}] rejected creates store nothing",
            c.backend
        );
        let r = c
            .create(
                &c.alice,
                "router",
                json!({"external_gateway_info": {"network_id": ext["id"]}}),
            )
            .await;
        assert_eq!(
            r["external_gateway_info"]["enable_snat"], true,
            "SNAT is on by default"
        );
        let gw_ip = r["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
            .as_str()
            .unwrap();
        assert!(
            gw_ip.starts_with("198.51.100.") && gw_ip != "198.51.100.1",
            "{gw_ip}"
        );
        let (s, b) = c
            .call("PUT", &format!("/v2.0/routers/{}", id(&r)), &c.admin, Some(json!({"router": {"external_gateway_info": {"network_id": ext["id"], "external_fixed_ips": [{"ip_address": "198.51.100.1"}]}}})))
            .await;
        assert_error(s, &b, 400, "BadRequest");
        let (s, b) = c
            .call(
                "PUT",
                &format!("/v2.0/routers/{}", id(&r)),
                &c.alice,
                Some(json!({"router": {"external_gateway_info": {}}})),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        assert!(b["router"]["external_gateway_info"].is_null());
        let (_, b) = c
            .call(
                "GET",
                &format!("/v2.0/ports?device_id={}", id(&r)),
                &c.admin,
                None,
            )
            .await;
        assert_eq!(
            b["ports"],
            json!([]),
            "clearing the gateway deletes its port"
        );
    }
}

#[tokio::test]
async fn two_routers_racing_for_one_port() {
    for c in support::backends().await {
        let net = c.network(&c.alice, "n").await;
        c.subnet(&c.alice, &net, "10.30.0.0/24", json!({})).await;
        let port = c
            .create(&c.alice, "port", json!({"network_id": net["id"]}))
            .await;
        let r1 = c.create(&c.alice, "router", json!({"name": "r1"})).await;
        let r2 = c.create(&c.alice, "router", json!({"name": "r2"})).await;
        let replica = c.replica().await;
        let body = json!({"port_id": port["id"]});
        let a = {
            let app = c.app.clone();
            let req = request(
                "PUT",
                &format!("/v2.0/routers/{}/add_router_interface", id(&r1)),
                Some(&c.alice),
                Some(body.clone()),
            );
            tokio::spawn(async move { send(&app, req).await })
        };
        let b = {
            let req = request(
                "PUT",
                &format!("/v2.0/routers/{}/add_router_interface", id(&r2)),
                Some(&c.alice),
                Some(body.clone()),
            );
            tokio::spawn(async move { send(&replica, req).await })
        };
        let (sa, _, ba) = a.await.unwrap();
        let (sb, _, bb) = b.await.unwrap();
        let mut statuses = vec![sa.as_u16(), sb.as_u16()];
        statuses.sort();
        assert_eq!(statuses, vec![200, 409], "[{}] {ba} / {bb}", c.backend);
        let loser = if sa.as_u16() == 409 { ba } else { bb };
        assert_eq!(loser["NeutronError"]["type"], "PortInUse");
        let (_, p) = c
            .call("GET", &format!("/v2.0/ports/{}", id(&port)), &c.alice, None)
            .await;
        let winner = if sa.as_u16() == 200 { &r1 } else { &r2 };
        assert_eq!(p["port"]["device_id"], winner["id"]);
    }
}

#[tokio::test]
async fn floating_ips_follow_the_router_path() {
    for c in support::backends().await {
        let ext = c
            .create(
                &c.admin,
                "network",
                json!({"name": "public", "router:external": true}),
            )
            .await;
        c.subnet(
            &c.admin,
            &ext,
            "198.51.100.0/28",
            json!({"allocation_pools": [{"start": "198.51.100.2", "end": "198.51.100.6"}]}),
        )
        .await;
        let net = c.network(&c.alice, "private").await;
        let sub = c.subnet(&c.alice, &net, "10.40.0.0/24", json!({})).await;
        let vm = c
            .create(&c.alice, "port", json!({"network_id": net["id"]}))
            .await;
        let fip = c
            .create(
                &c.alice,
                "floatingip",
                json!({"floating_network_id": ext["id"]}),
            )
            .await;
        assert!(
            fip["floating_ip_address"]
                .as_str()
                .unwrap()
                .starts_with("198.51.100.")
        );
        assert!(fip["port_id"].is_null());
        assert_eq!(fip["status"], "DOWN");
        let fpath = format!("/v2.0/floatingips/{}", id(&fip));

        // Not reachable yet: no router links the subnet to the external network.
        let (s, b) = c
            .call(
                "PUT",
                &fpath,
                &c.alice,
                Some(json!({"floatingip": {"port_id": vm["id"]}})),
            )
            .await;
        assert_error(s, &b, 404, "ExternalGatewayForFloatingIPNotFound");
        let r = c
            .create(
                &c.alice,
                "router",
                json!({"external_gateway_info": {"network_id": ext["id"]}}),
            )
            .await;
        let (s, _) = c
            .call(
                "PUT",
                &format!("/v2.0/routers/{}/add_router_interface", id(&r)),
                &c.alice,
                Some(json!({"subnet_id": sub["id"]})),
            )
            .await;
        assert_eq!(s, 200);
        let (s, b) = c
            .call(
                "PUT",
                &fpath,
                &c.alice,
                Some(json!({"floatingip": {"port_id": vm["id"]}})),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(
            b["floatingip"]["fixed_ip_address"],
            vm["fixed_ips"][0]["ip_address"]
        );
        assert_eq!(b["floatingip"]["router_id"], r["id"]);

        // One floating IP per fixed address.
        let second = c
            .create(
                &c.alice,
                "floatingip",
                json!({"floating_network_id": ext["id"]}),
            )
            .await;
        let (s, b) = c
            .call(
                "PUT",
                &format!("/v2.0/floatingips/{}", id(&second)),
                &c.alice,
                Some(json!({"floatingip": {"port_id": vm["id"]}})),
            )
            .await;
        assert_error(s, &b, 409, "FloatingIPPortAlreadyAssociated");
        // What uses the router path is protected.
        let (s, b) = c
            .call(
                "PUT",
                &format!("/v2.0/routers/{}", id(&r)),
                &c.alice,
                Some(json!({"router": {"external_gateway_info": {}}})),
            )
            .await;
        assert_error(s, &b, 409, "RouterExternalGatewayInUseByFloatingIp");
        let (s, b) = c
            .call(
                "PUT",
                &format!("/v2.0/routers/{}/remove_router_interface", id(&r)),
                &c.alice,
                Some(json!({"subnet_id": sub["id"]})),
            )
            .await;
        assert_error(s, &b, 409, "RouterInterfaceInUseByFloatingIP");
        // Deleting the port releases the association.
        let (s, _) = c
            .call(
                "DELETE",
                &format!("/v2.0/ports/{}", id(&vm)),
                &c.alice,
                None,
            )
            .await;
        assert_eq!(s, 204);
        let (_, b) = c.call("GET", &fpath, &c.alice, None).await;
        assert!(b["floatingip"]["port_id"].is_null(), "{b}");

        // Bad requests.
        let (s, b) = c
            .call(
                "POST",
                "/v2.0/floatingips",
                &c.alice,
                Some(json!({"floatingip": {"floating_network_id": net["id"]}})),
            )
            .await;
        assert_error(s, &b, 400, "BadRequest");
        let (s, b) = c.call("POST", "/v2.0/floatingips", &c.alice, Some(json!({"floatingip": {"floating_network_id": ext["id"], "floating_ip_address": "198.51.100.5"}}))).await;
        assert_error(s, &b, 403, "PolicyNotAuthorized");
        let fips_before = c.count("floatingips").await;
        // The pool has 5 addresses: gateway port, two floating IPs, three left.
        for _ in 0..2 {
            c.create(
                &c.alice,
                "floatingip",
                json!({"floating_network_id": ext["id"]}),
            )
            .await;
        }
        let (s, b) = c
            .call(
                "POST",
                "/v2.0/floatingips",
                &c.alice,
                Some(json!({"floatingip": {"floating_network_id": ext["id"]}})),
            )
            .await;
        assert_error(s, &b, 400, "ExternalIpAddressExhausted");
        assert_eq!(
            c.count("floatingips").await,
            fips_before + 2,
            "[{}] an exhausted create stores nothing",
            c.backend
        );
        let (s, _) = c.call("DELETE", &fpath, &c.alice, None).await;
        assert_eq!(s, 204);
        let (s, b) = c.call("GET", &fpath, &c.alice, None).await;
        assert_error(s, &b, 404, "FloatingIPNotFound");
        // An external network takes its remaining floating IPs with it
        // (once no router uses it as a gateway).
        let (s, _) = c
            .call(
                "PUT",
                &format!("/v2.0/routers/{}/remove_router_interface", id(&r)),
                &c.alice,
                Some(json!({"subnet_id": sub["id"]})),
            )
            .await;
        assert_eq!(s, 200);
        let (s, _) = c
            .call(
                "DELETE",
                &format!("/v2.0/routers/{}", id(&r)),
                &c.alice,
                None,
            )
            .await;
        assert_eq!(s, 204);
        assert!(c.count("floatingips").await > 0);
        let (s, b) = c
            .call(
                "DELETE",
                &format!("/v2.0/networks/{}", id(&ext)),
                &c.admin,
                None,
            )
            .await;
        assert_eq!(s, 204, "{b}");
        assert_eq!(
            c.count("floatingips").await,
            0,
            "[{}] floating IPs went with their network",
            c.backend
        );
    }
}
