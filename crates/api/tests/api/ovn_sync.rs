//! The northbound sync against a real ovsdb-server holding OVN's schemas:
//! what the API stores becomes the rows Neutron's OVN driver would write,
//! a second pass changes nothing, journal rows are consumed, and an audit
//! repairs drift. (No northd/ovn-controller here: the data-path tests in
//! crates/neutrino/tests/dataplane_e2e.rs run the whole of OVN.)

use std::time::Duration;

use neutrino_ovn::Syncer;
use neutrino_ovsdb::testing::OvsdbServer;
use neutrino_ovsdb::{Replica, Row, Session};
use serde_json::json;

use crate::support::{Cloud, backends};

struct Ovn {
    nb: OvsdbServer,
    sb: OvsdbServer,
    syncer: Syncer,
    nb_session: Session,
}

fn tables(list: &[&str]) -> Vec<(String, Option<Vec<String>>)> {
    list.iter().map(|t| (t.to_string(), None)).collect()
}

async fn ovn(cloud: &Cloud) -> Ovn {
    let nb = OvsdbServer::start_nb().expect("NB ovsdb-server");
    let sb = OvsdbServer::start_sb().expect("SB ovsdb-server");
    // NB_Global normally comes from ovn-nbctl init / northd.
    nb.nbctl(&["init"]).expect("nbctl init");
    // One chassis that may host gateways.
    sb.sbctl(&["chassis-add", "gw-1", "geneve", "127.0.0.1"])
        .expect("chassis");
    let nb_session = Session::start(
        nb.endpoint(),
        "OVN_Northbound",
        tables(neutrino_ovn::NB_TABLES),
    );
    let sb_session = Session::start(
        sb.endpoint(),
        "OVN_Southbound",
        tables(neutrino_ovn::SB_TABLES),
    );
    nb_session
        .wait_connected(Duration::from_secs(10))
        .await
        .expect("NB");
    sb_session
        .wait_connected(Duration::from_secs(10))
        .await
        .expect("SB");
    sb_session
        .wait_for(|r| r.table("Chassis").count() == 1, Duration::from_secs(5))
        .await
        .expect("chassis in replica");
    let syncer = Syncer::new(cloud.db.clone(), nb_session.clone(), sb_session);
    Ovn {
        nb,
        sb,
        syncer,
        nb_session,
    }
}

fn find<'a>(r: &'a Replica, table: &str, name: &str) -> Option<&'a Row> {
    r.find_by(table, "name", name)
}

/// Document 000's management topology plus a tenant network behind a SNAT
/// router with a floating IP.
struct Topology {
    provider: String,
    provider_subnet: String,
    mgmt: String,
    mgmt_subnet: String,
    amphora: serde_json::Value,
    sg: String,
    router: String,
    router_port: String,
    ext_router: String,
    tenant_port: serde_json::Value,
    fip: String,
}

async fn topology(c: &Cloud) -> Topology {
    let a = &c.admin;
    let provider = c
        .create(
            a,
            "network",
            json!({"name": "octavia-provider-net", "provider:network_type": "flat",
            "provider:physical_network": "octavia", "router:external": true}),
        )
        .await;
    let provider_subnet = c
        .subnet(
            a,
            &provider,
            "172.23.0.0/24",
            json!({"gateway_ip": null,
            "allocation_pools": [{"start": "172.23.0.71", "end": "172.23.0.96"}]}),
        )
        .await;
    let mgmt = c.network(a, "lb-mgmt-net").await;
    let mgmt_subnet = c
        .subnet(a, &mgmt, "172.24.0.0/16", json!({"gateway_ip": null}))
        .await;
    let router = c
        .create(a, "router", json!({"name": "octavia-link-router", "external_gateway_info": {
            "network_id": provider["id"], "enable_snat": false,
            "external_fixed_ips": [{"subnet_id": provider_subnet["id"], "ip_address": "172.23.0.150"}]}}))
        .await;
    let rport = c
        .create(
            a,
            "port",
            json!({"name": "lb-mgmt-router-port", "network_id": mgmt["id"]}),
        )
        .await;
    let (s, b) = c
        .call(
            "PUT",
            &format!(
                "/v2.0/routers/{}/add_router_interface",
                router["id"].as_str().unwrap()
            ),
            a,
            Some(json!({"port_id": rport["id"]})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let rip = rport["fixed_ips"][0]["ip_address"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, b) = c
        .call("PUT", &format!("/v2.0/subnets/{}", mgmt_subnet["id"].as_str().unwrap()), a,
            Some(json!({"subnet": {"host_routes": [{"destination": "172.23.0.0/24", "nexthop": rip}]}})))
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = c
        .call(
            "POST",
            "/v2.0/security-groups",
            a,
            Some(json!({"security_group": {"name": "lb-mgmt-sec-grp"}})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let sg = b["security_group"].clone();
    for port in [9443, 22] {
        let (s, b) = c
            .call(
                "POST",
                "/v2.0/security-group-rules",
                a,
                Some(json!({"security_group_rule": {
                "security_group_id": sg["id"], "direction": "ingress",
                "protocol": "tcp", "port_range_min": port, "port_range_max": port}})),
            )
            .await;
        assert_eq!(s, 201, "{b}");
    }
    let amphora = c
        .create(
            a,
            "port",
            json!({"name": "amphora", "network_id": mgmt["id"], "security_groups": [sg["id"]]}),
        )
        .await;

    // A tenant network behind a SNAT router, with a floating IP.
    let ext = c
        .create(
            a,
            "network",
            json!({"name": "public", "provider:network_type": "flat",
            "provider:physical_network": "extnet", "router:external": true}),
        )
        .await;
    let ext_subnet = c.subnet(a, &ext, "203.0.113.0/24", json!({})).await;
    let tenant = c.network(a, "private").await;
    let tenant_subnet = c.subnet(a, &tenant, "10.0.0.0/24", json!({})).await;
    let ext_router = c
        .create(
            a,
            "router",
            json!({"name": "r1", "external_gateway_info": {"network_id": ext["id"]}}),
        )
        .await;
    let (s, b) = c
        .call(
            "PUT",
            &format!(
                "/v2.0/routers/{}/add_router_interface",
                ext_router["id"].as_str().unwrap()
            ),
            a,
            Some(json!({"subnet_id": tenant_subnet["id"]})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let tenant_port = c
        .create(a, "port", json!({"name": "vm", "network_id": tenant["id"]}))
        .await;
    let fip = c
        .create(
            a,
            "floatingip",
            json!({"floating_network_id": ext["id"], "port_id": tenant_port["id"]}),
        )
        .await;
    let _ = ext_subnet;
    Topology {
        provider: provider["id"].as_str().unwrap().into(),
        provider_subnet: provider_subnet["id"].as_str().unwrap().into(),
        mgmt: mgmt["id"].as_str().unwrap().into(),
        mgmt_subnet: mgmt_subnet["id"].as_str().unwrap().into(),
        amphora,
        sg: sg["id"].as_str().unwrap().into(),
        router: router["id"].as_str().unwrap().into(),
        router_port: rport["id"].as_str().unwrap().into(),
        ext_router: ext_router["id"].as_str().unwrap().into(),
        tenant_port,
        fip: fip["id"].as_str().unwrap().into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_becomes_neutron_shaped_northbound_rows() {
    for c in backends().await {
        let o = ovn(&c).await;
        let t = topology(&c).await;
        let report = o.syncer.audit().await.expect("audit");
        assert!(report.counts.created > 10, "[{}] {report:?}", c.backend);
        let r = o.nb_session.replica();

        // Provider network: a switch with a localnet port on physnet octavia.
        let ls = find(&r, "Logical_Switch", &format!("neutron-{}", t.provider))
            .expect("provider switch");
        assert_eq!(
            ls.string_map("external_ids")
                .get("neutron:network_name")
                .map(String::as_str),
            Some("octavia-provider-net")
        );
        let localnet = find(
            &r,
            "Logical_Switch_Port",
            &format!("provnet-{}", t.provider),
        )
        .expect("localnet");
        assert_eq!(localnet.str("type"), Some("localnet"));
        assert_eq!(
            localnet
                .string_map("options")
                .get("network_name")
                .map(String::as_str),
            Some("octavia")
        );
        assert!(ls.uuids("ports").contains(&localnet.uuid().unwrap()));

        // The management subnet has no gateway but DHCP still carries its host route.
        let dhcp = r
            .find("DHCP_Options", |d| {
                d.string_map("external_ids").get("subnet_id") == Some(&t.mgmt_subnet)
            })
            .expect("dhcp options of lb-mgmt-subnet");
        let opts = dhcp.string_map("options");
        assert_eq!(dhcp.str("cidr"), Some("172.24.0.0/16"));
        let rport_ip = {
            let (_, b) = c
                .call(
                    "GET",
                    &format!("/v2.0/ports/{}", t.router_port),
                    &c.admin,
                    None,
                )
                .await;
            b["port"]["fixed_ips"][0]["ip_address"]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(
            opts.get("classless_static_route"),
            Some(&format!("{{172.23.0.0/24,{rport_ip}}}")),
            "{opts:?}"
        );
        assert!(
            !opts.contains_key("router"),
            "no gateway, no router option: {opts:?}"
        );
        assert_eq!(opts.get("lease_time").map(String::as_str), Some("43200"));

        // The amphora port: addresses, port security, DHCP, groups.
        let amp_id = t.amphora["id"].as_str().unwrap();
        let lsp = find(&r, "Logical_Switch_Port", amp_id).expect("amphora LSP");
        let mac = t.amphora["mac_address"].as_str().unwrap();
        let ip = t.amphora["fixed_ips"][0]["ip_address"].as_str().unwrap();
        assert_eq!(lsp.strings("addresses"), vec![format!("{mac} {ip}")]);
        assert_eq!(lsp.strings("port_security"), vec![format!("{mac} {ip}")]);
        assert_eq!(lsp.uuids("dhcpv4_options"), vec![dhcp.uuid().unwrap()]);
        assert_eq!(
            lsp.string_map("external_ids").get("neutron:cidrs"),
            Some(&format!("{ip}/16"))
        );
        let pg =
            find(&r, "Port_Group", &format!("pg_{}", t.sg.replace('-', "_"))).expect("port group");
        assert!(pg.uuids("ports").contains(&lsp.uuid().unwrap()));
        let drop_pg = find(&r, "Port_Group", "neutron_pg_drop").expect("drop group");
        assert!(drop_pg.uuids("ports").contains(&lsp.uuid().unwrap()));
        let acl_matches: Vec<String> = pg
            .uuids("acls")
            .iter()
            .filter_map(|u| r.get("ACL", *u))
            .map(|a| a.str("match").unwrap_or_default().to_string())
            .collect();
        let pgname = format!("pg_{}", t.sg.replace('-', "_"));
        assert!(
            acl_matches.contains(&format!(
                "outport == @{pgname} && ip4 && tcp && tcp.dst == 9443"
            )),
            "{acl_matches:?}"
        );

        // The link router: no SNAT, the gateway port bound to the chassis.
        let lr = find(&r, "Logical_Router", &format!("neutron-{}", t.router)).expect("link router");
        assert!(
            lr.uuids("nat").is_empty(),
            "enable_snat false means no NAT rows"
        );
        let lrp_names: Vec<String> = lr
            .uuids("ports")
            .iter()
            .filter_map(|u| r.get("Logical_Router_Port", *u))
            .filter_map(|p| p.str("name").map(String::from))
            .collect();
        assert!(
            lrp_names.contains(&format!("lrp-{}", t.router_port)),
            "{lrp_names:?}"
        );
        let gw_lrp = lr
            .uuids("ports")
            .iter()
            .filter_map(|u| r.get("Logical_Router_Port", *u))
            .find(|p| p.strings("networks") == vec!["172.23.0.150/24".to_string()])
            .expect("gateway LRP with 172.23.0.150/24");
        let gcs: Vec<&Row> = gw_lrp
            .uuids("gateway_chassis")
            .iter()
            .filter_map(|u| r.get("Gateway_Chassis", *u))
            .collect();
        assert_eq!(gcs.len(), 1);
        assert_eq!(gcs[0].str("chassis_name"), Some("gw-1"));
        let router_lsp = find(&r, "Logical_Switch_Port", &t.router_port).expect("router LSP");
        assert_eq!(router_lsp.str("type"), Some("router"));
        assert_eq!(
            router_lsp.string_map("options").get("router-port"),
            Some(&format!("lrp-{}", t.router_port))
        );

        // The SNAT router: one snat for the tenant subnet, one dnat_and_snat.
        let r1 = find(&r, "Logical_Router", &format!("neutron-{}", t.ext_router)).expect("r1");
        let nats: Vec<&Row> = r1
            .uuids("nat")
            .iter()
            .filter_map(|u| r.get("NAT", *u))
            .collect();
        let snat = nats
            .iter()
            .find(|n| n.str("type") == Some("snat"))
            .expect("snat row");
        assert_eq!(snat.str("logical_ip"), Some("10.0.0.0/24"));
        let dnat = nats
            .iter()
            .find(|n| n.str("type") == Some("dnat_and_snat"))
            .expect("fip row");
        assert_eq!(
            dnat.str("logical_ip"),
            t.tenant_port["fixed_ips"][0]["ip_address"].as_str()
        );
        assert_eq!(
            dnat.string_map("external_ids").get("neutron:fip_id"),
            Some(&t.fip)
        );
        let routes: Vec<&Row> = r1
            .uuids("static_routes")
            .iter()
            .filter_map(|u| r.get("Logical_Router_Static_Route", *u))
            .collect();
        assert_eq!(routes.len(), 1, "default route via the external gateway");
        assert_eq!(routes[0].str("nexthop"), Some("203.0.113.1"));
        let _ = (&t.mgmt, &t.provider_subnet);

        // Level-triggered: a second pass finds nothing to do.
        let again = o.syncer.audit().await.expect("second audit");
        assert_eq!(
            again.counts.total(),
            0,
            "[{}] {:?}",
            c.backend,
            again.counts
        );
        drop(o.sb);
        drop(o.nb);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journal_rows_are_applied_and_consumed() {
    for c in backends().await {
        let o = ovn(&c).await;
        // Everything created through the API went through the journal.
        let net = c.network(&c.admin, "j-net").await;
        c.subnet(&c.admin, &net, "10.9.0.0/24", json!({})).await;
        let port = c
            .create(&c.admin, "port", json!({"network_id": net["id"]}))
            .await;
        let pending = neutrino_store::ovn::pending_count(&c.db).await.unwrap();
        assert!(pending >= 3, "[{}] journal rows: {pending}", c.backend);
        while o.syncer.drain(1000).await.expect("drain") > 0 {}
        assert_eq!(neutrino_store::ovn::pending_count(&c.db).await.unwrap(), 0);
        let pid = port["id"].as_str().unwrap();
        let r = o.nb_session.replica();
        let lsp = find(&r, "Logical_Switch_Port", pid).expect("port synced");
        let ls = find(
            &r,
            "Logical_Switch",
            &format!("neutron-{}", net["id"].as_str().unwrap()),
        )
        .expect("switch");
        assert!(ls.uuids("ports").contains(&lsp.uuid().unwrap()));
        drop(r);

        // An update and a delete flow the same way.
        let (s, _) = c
            .call(
                "PUT",
                &format!("/v2.0/ports/{pid}"),
                &c.admin,
                Some(json!({"port": {"admin_state_up": false}})),
            )
            .await;
        assert_eq!(s, 200);
        while o.syncer.drain(1000).await.expect("drain") > 0 {}
        let row = find(&o.nb_session.replica(), "Logical_Switch_Port", pid).cloned();
        assert_eq!(
            row.as_ref().and_then(|p| p.bool("enabled")),
            Some(false),
            "{row:?}"
        );
        let (s, _) = c
            .call("DELETE", &format!("/v2.0/ports/{pid}"), &c.admin, None)
            .await;
        assert_eq!(s, 204);
        while o.syncer.drain(1000).await.expect("drain") > 0 {}
        assert!(
            find(&o.nb_session.replica(), "Logical_Switch_Port", pid).is_none(),
            "deleted port's LSP is gone"
        );
        assert_eq!(neutrino_store::ovn::pending_count(&c.db).await.unwrap(), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audit_repairs_what_changed_behind_our_back() {
    for c in backends().await {
        let o = ovn(&c).await;
        let t = topology(&c).await;
        o.syncer.audit().await.expect("first audit");
        let amp = t.amphora["id"].as_str().unwrap();
        // Drift: a changed row, a deleted row, an extra row.
        o.nb.nbctl(&["lsp-set-addresses", amp, "00:00:00:00:00:01 10.1.1.1"])
            .expect("change");
        o.nb.nbctl(&["ls-del", &format!("neutron-{}", t.mgmt)])
            .expect("delete");
        o.nb.nbctl(&["ls-add", "neutron-00000000-0000-0000-0000-000000000000"])
            .expect("extra");
        o.nb_session
            .wait_for(
                |r| {
                    r.find_by(
                        "Logical_Switch",
                        "name",
                        "neutron-00000000-0000-0000-0000-000000000000",
                    )
                    .is_some()
                },
                Duration::from_secs(5),
            )
            .await
            .unwrap();
        let report = o.syncer.audit().await.expect("repair");
        assert!(
            report.counts.created >= 3,
            "switch, amphora and router ports recreated: {report:?}"
        );
        assert!(report.counts.deleted >= 1, "{report:?}");
        let r = o.nb_session.replica();
        assert!(
            find(
                &r,
                "Logical_Switch",
                "neutron-00000000-0000-0000-0000-000000000000"
            )
            .is_none()
        );
        let lsp = find(&r, "Logical_Switch_Port", amp).expect("amphora port back");
        assert!(
            lsp.strings("addresses")[0].starts_with("fa:16:3e"),
            "{:?}",
            lsp.strings("addresses")
        );
        drop(r);
        let again = o.syncer.audit().await.expect("third audit");
        assert_eq!(
            again.counts.total(),
            0,
            "[{}] {:?}",
            c.backend,
            again.counts
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extra_routes_ipv6_modes_and_remote_groups_reach_the_northbound() {
    for c in backends().await {
        let o = ovn(&c).await;
        let a = &c.admin;
        let net = c.network(a, "v6-net").await;
        let v4 = c.subnet(a, &net, "10.30.0.0/24", json!({})).await;
        let slaac = c
            .subnet(
                a,
                &net,
                "2001:db8:1::/64",
                json!({"ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac"}),
            )
            .await;
        let stateful = c
            .subnet(
                a,
                &net,
                "2001:db8:2::/64",
                json!({"ipv6_ra_mode": "dhcpv6-stateful",
                "ipv6_address_mode": "dhcpv6-stateful"}),
            )
            .await;
        let router = c.create(a, "router", json!({"name": "r6"})).await;
        let rid = router["id"].as_str().unwrap();
        for s in [&v4, &slaac] {
            let (st, b) = c
                .call(
                    "PUT",
                    &format!("/v2.0/routers/{rid}/add_router_interface"),
                    a,
                    Some(json!({"subnet_id": s["id"]})),
                )
                .await;
            assert_eq!(st, 200, "{b}");
        }
        let (st, b) = c
            .call(
                "PUT",
                &format!("/v2.0/routers/{rid}"),
                a,
                Some(json!({"router": {"routes": [
                {"destination": "10.99.0.0/24", "nexthop": "10.30.0.5"}]}})),
            )
            .await;
        assert_eq!(st, 200, "{b}");
        // A stateless group whose rule admits members of another group.
        let (st, b) = c
            .call(
                "POST",
                "/v2.0/security-groups",
                a,
                Some(json!({"security_group": {"name": "peers"}})),
            )
            .await;
        assert_eq!(st, 201, "{b}");
        let peers = b["security_group"]["id"].as_str().unwrap().to_string();
        let (st, b) = c
            .call(
                "POST",
                "/v2.0/security-groups",
                a,
                Some(json!({"security_group": {"name": "web", "stateful": false}})),
            )
            .await;
        assert_eq!(st, 201, "{b}");
        let web = b["security_group"]["id"].as_str().unwrap().to_string();
        let (st, b) = c
            .call("POST", "/v2.0/security-group-rules", a, Some(json!({"security_group_rule": {
                "security_group_id": web, "direction": "ingress", "ethertype": "IPv6",
                "protocol": "tcp", "port_range_min": 80, "port_range_max": 80, "remote_group_id": peers}})))
            .await;
        assert_eq!(st, 201, "{b}");
        let rule_id = b["security_group_rule"]["id"].as_str().map(String::from);
        let port = c
            .create(
                a,
                "port",
                json!({"network_id": net["id"], "security_groups": [web],
                "fixed_ips": [{"subnet_id": stateful["id"]}]}),
            )
            .await;

        o.syncer.audit().await.expect("audit");
        let r = o.nb_session.replica();
        let lr = find(&r, "Logical_Router", &format!("neutron-{rid}")).expect("router");
        let routes: Vec<(String, String)> = lr
            .uuids("static_routes")
            .iter()
            .filter_map(|u| r.get("Logical_Router_Static_Route", *u))
            .map(|s| {
                (
                    s.str("ip_prefix").unwrap().to_string(),
                    s.str("nexthop").unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            routes,
            vec![("10.99.0.0/24".to_string(), "10.30.0.5".to_string())]
        );
        let ra: Vec<_> = lr
            .uuids("ports")
            .iter()
            .filter_map(|u| r.get("Logical_Router_Port", *u))
            .map(|p| p.string_map("ipv6_ra_configs"))
            .filter(|m| !m.is_empty())
            .collect();
        assert_eq!(ra.len(), 1, "the SLAAC interface advertises: {ra:?}");
        assert_eq!(ra[0].get("address_mode").map(String::as_str), Some("slaac"));

        let sid = stateful["id"].as_str().unwrap();
        let v6 = r
            .find("DHCP_Options", |d| {
                d.string_map("external_ids")
                    .get("subnet_id")
                    .map(String::as_str)
                    == Some(sid)
            })
            .expect("DHCPv6 options of the stateful subnet");
        assert_eq!(v6.str("cidr"), Some("2001:db8:2::/64"));
        assert!(v6.string_map("options").contains_key("server_id"));
        let slaac_id = slaac["id"].as_str().unwrap();
        assert!(
            r.find("DHCP_Options", |d| d
                .string_map("external_ids")
                .get("subnet_id")
                .map(String::as_str)
                == Some(slaac_id))
                .is_none(),
            "SLAAC needs no DHCPv6"
        );
        let lsp = find(&r, "Logical_Switch_Port", port["id"].as_str().unwrap()).expect("port");
        assert_eq!(lsp.uuids("dhcpv6_options"), vec![v6.uuid().unwrap()]);

        let pg =
            find(&r, "Port_Group", &format!("pg_{}", web.replace('-', "_"))).expect("web group");
        let acls: Vec<&Row> = pg
            .uuids("acls")
            .iter()
            .filter_map(|u| r.get("ACL", *u))
            .collect();
        // The two default egress rules plus ours.
        assert_eq!(acls.len(), 3);
        assert!(
            acls.iter()
                .all(|a| a.str("action") == Some("allow-stateless"))
        );
        let ours = acls
            .iter()
            .find(|a| {
                a.string_map("external_ids")
                    .get("neutron:security_group_rule_id")
                    .map(String::as_str)
                    == rule_id.as_deref()
            })
            .expect("the rule's ACL");
        assert_eq!(
            ours.str("match").map(String::from),
            Some(format!(
                "outport == @pg_{} && ip6 && ip6.src == $pg_{}_ip6 && tcp && tcp.dst == 80",
                web.replace('-', "_"),
                peers.replace('-', "_")
            ))
        );
    }
}
