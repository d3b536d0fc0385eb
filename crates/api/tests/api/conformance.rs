//! Regressions found by the upstream API tests (scripts/conformance.sh,
//! docs/conformance.md), each checked against the real Neutron's answer.

use serde_json::{Value, json};

use crate::support::{self, assert_error};

fn link<'a>(body: &'a Value, plural: &str, rel: &str) -> Option<&'a str> {
    body[format!("{plural}_links")]
        .as_array()?
        .iter()
        .find(|l| l["rel"] == rel)?["href"]
        .as_str()
}

fn path_of(href: &str) -> &str {
    &href[href.find("/v2.0").expect("link path")..]
}

fn ids(body: &Value, plural: &str) -> Vec<String> {
    body[plural]
        .as_array()
        .expect("collection")
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_string())
        .collect()
}

/// neutron_tempest_plugin's `_list_all_with_hrefs`: page forward one by one
/// up to the empty page, then follow `previous` back. The empty page's
/// `previous` link carries no marker (Neutron's get_previous_link), so it
/// leads to the last page instead of skipping the last item.
#[tokio::test]
async fn pagination_links_walk_back_from_the_empty_page() {
    for c in support::backends().await {
        let mut want = Vec::new();
        for name in ["p1", "p2", "p3"] {
            want.push(
                c.network(&c.alice, name).await["id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
        want.sort();
        let mut path = "/v2.0/networks?sort_key=id&sort_dir=asc&limit=1".to_string();
        let mut forward = Vec::new();
        let last = loop {
            let (s, b) = c.call("GET", &path, &c.alice, None).await;
            assert_eq!(s, 200, "{b}");
            let page = ids(&b, "networks");
            if page.is_empty() {
                break b;
            }
            forward.extend(page);
            path = path_of(link(&b, "networks", "next").expect("next link")).to_string();
        };
        assert_eq!(forward, want);
        assert!(link(&last, "networks", "next").is_none(), "{last}");
        let prev = link(&last, "networks", "previous").expect("previous link");
        assert!(!prev.contains("marker="), "empty page: no marker, {prev}");
        assert!(prev.contains("page_reverse=True"), "{prev}");

        let mut back = Vec::new();
        let mut path = path_of(prev).to_string();
        for _ in 0..want.len() {
            let (s, b) = c.call("GET", &path, &c.alice, None).await;
            assert_eq!(s, 200, "{b}");
            back.extend(ids(&b, "networks"));
            match link(&b, "networks", "previous") {
                Some(p) => path = path_of(p).to_string(),
                None => break,
            }
        }
        back.reverse();
        assert_eq!(back, want, "walking back visits every item");
    }
}

/// net-mtu-writable only asks for a non-negative MTU; a subnet then needs
/// 68 (IPv4) or 1280 (IPv6): Neutron's NetworkMTUSubnetConflict.
#[tokio::test]
async fn network_mtu_must_fit_its_subnets() {
    for c in support::backends().await {
        let tiny = c
            .create(&c.alice, "network", json!({"name": "tiny", "mtu": 67}))
            .await;
        assert_eq!(tiny["mtu"], 67);
        let (s, b) = c
            .call(
                "POST",
                "/v2.0/subnets",
                &c.alice,
                Some(json!({"subnet": {"network_id": tiny["id"], "cidr": "10.0.0.0/24", "ip_version": 4}})),
            )
            .await;
        assert_error(s, &b, 409, "NetworkMTUSubnetConflict");
        let msg = b["NeutronError"]["message"].as_str().unwrap();
        assert!(msg.ends_with("subnet requires a minimum of 68"), "{msg}");
        assert_eq!(c.count("subnets").await, 0);

        let v6 = c
            .create(&c.alice, "network", json!({"name": "v6", "mtu": 1279}))
            .await;
        let (s, b) = c
            .call(
                "POST",
                "/v2.0/subnets",
                &c.alice,
                Some(json!({"subnet": {"network_id": v6["id"], "cidr": "2001:db8:0:1::/64", "ip_version": 6}})),
            )
            .await;
        assert_error(s, &b, 409, "NetworkMTUSubnetConflict");
        c.subnet(&c.alice, &v6, "10.0.1.0/24", json!({})).await;

        let n = c
            .create(&c.alice, "network", json!({"name": "n", "mtu": 1280}))
            .await;
        c.subnet(&c.alice, &n, "2001:db8:0:2::/64", json!({})).await;
        let path = format!("/v2.0/networks/{}", n["id"].as_str().unwrap());
        for (mtu, min) in [(1279, "1280"), (67, "68")] {
            let (s, b) = c
                .call(
                    "PUT",
                    &path,
                    &c.alice,
                    Some(json!({"network": {"mtu": mtu}})),
                )
                .await;
            assert_error(s, &b, 409, "NetworkMTUSubnetConflict");
            let msg = b["NeutronError"]["message"].as_str().unwrap();
            assert!(msg.ends_with(min), "{msg}");
        }
        let (s, b) = c
            .call(
                "PUT",
                &path,
                &c.alice,
                Some(json!({"network": {"mtu": 1300}})),
            )
            .await;
        assert_eq!(s, 200, "{b}");

        let (s, b) = c
            .call(
                "POST",
                "/v2.0/networks",
                &c.alice,
                Some(json!({"network": {"mtu": -1}})),
            )
            .await;
        assert_error(s, &b, 400, "HTTPBadRequest");
        let zero = c
            .create(&c.alice, "network", json!({"name": "zero", "mtu": 0}))
            .await;
        assert_eq!(zero["mtu"], 1442, "0 asks for the computed MTU");
    }
}

/// `shared` is a hidden subnet attribute that filters by the network's
/// sharing (neutron_tempest_plugin test_filtering_shared_subnets).
#[tokio::test]
async fn subnets_filter_on_shared() {
    for c in support::backends().await {
        let shared_net = c
            .create(&c.admin, "network", json!({"name": "pub", "shared": true}))
            .await;
        let shared = c
            .subnet(&c.admin, &shared_net, "10.1.0.0/24", json!({}))
            .await;
        let own_net = c.network(&c.alice, "own").await;
        let own = c.subnet(&c.alice, &own_net, "10.2.0.0/24", json!({})).await;
        assert!(shared.get("shared").is_none(), "not a visible attribute");
        for token in [&c.alice, &c.admin] {
            for (value, yes, no) in [("True", &shared, &own), ("false", &own, &shared)] {
                let (s, b) = c
                    .call("GET", &format!("/v2.0/subnets?shared={value}"), token, None)
                    .await;
                assert_eq!(s, 200, "{b}");
                let got = ids(&b, "subnets");
                assert!(
                    got.contains(&yes["id"].as_str().unwrap().to_string()),
                    "{b}"
                );
                assert!(
                    !got.contains(&no["id"].as_str().unwrap().to_string()),
                    "{b}"
                );
            }
        }
        let (s, b) = c
            .call("GET", "/v2.0/subnets?shared=maybe", &c.alice, None)
            .await;
        assert_error(s, &b, 400, "HTTPBadRequest");
    }
}

/// A subnet revises its network: creating, updating and deleting one bumps
/// the network's revision_number (Neutron's Subnet.revises_on_change).
#[tokio::test]
async fn subnet_changes_revise_the_network() {
    for c in support::backends().await {
        let n = c.network(&c.alice, "rev").await;
        let path = format!("/v2.0/networks/{}", n["id"].as_str().unwrap());
        let rev = |b: &Value| b["network"]["revision_number"].as_i64().unwrap();
        let (_, b) = c.call("GET", &path, &c.alice, None).await;
        assert_eq!(rev(&b), 1);
        let s = c.subnet(&c.alice, &n, "10.3.0.0/24", json!({})).await;
        let (_, b) = c.call("GET", &path, &c.alice, None).await;
        assert_eq!(rev(&b), 2, "subnet create");
        let spath = format!("/v2.0/subnets/{}", s["id"].as_str().unwrap());
        let (st, b2) = c
            .call(
                "PUT",
                &spath,
                &c.alice,
                Some(json!({"subnet": {"name": "x"}})),
            )
            .await;
        assert_eq!(st, 200, "{b2}");
        let (_, b) = c.call("GET", &path, &c.alice, None).await;
        assert_eq!(rev(&b), 3, "subnet update");
        let (st, _) = c.call("DELETE", &spath, &c.alice, None).await;
        assert_eq!(st, 204);
        let (_, b) = c.call("GET", &path, &c.alice, None).await;
        assert_eq!(rev(&b), 4, "subnet delete");
    }
}

/// Only the network's owner (or an admin) may set port_security_enabled or
/// allowed_address_pairs on a port (Neutron's create_port:* and
/// update_port:* policies), e.g. on another project's shared network.
#[tokio::test]
async fn port_security_attributes_need_the_network_owner() {
    for c in support::backends().await {
        let net = c
            .create(
                &c.admin,
                "network",
                json!({"name": "shared", "shared": true}),
            )
            .await;
        c.subnet(&c.admin, &net, "10.4.0.0/24", json!({})).await;
        for (key, value) in [
            ("port_security_enabled", json!(false)),
            ("allowed_address_pairs", json!([{"ip_address": "1.1.1.1"}])),
        ] {
            let (s, b) = c
                .call(
                    "POST",
                    "/v2.0/ports",
                    &c.alice,
                    Some(json!({"port": {"network_id": net["id"], key: value}})),
                )
                .await;
            assert_error(s, &b, 403, "PolicyNotAuthorized");
            assert!(
                b["NeutronError"]["message"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("create_port:{key}")),
                "{b}"
            );
        }
        let port = c
            .create(&c.alice, "port", json!({"network_id": net["id"]}))
            .await;
        let path = format!("/v2.0/ports/{}", port["id"].as_str().unwrap());
        for (key, value) in [
            ("port_security_enabled", json!(false)),
            ("allowed_address_pairs", json!([{"ip_address": "1.1.1.1"}])),
        ] {
            let (s, b) = c
                .call("PUT", &path, &c.alice, Some(json!({"port": {key: value}})))
                .await;
            assert_error(s, &b, 403, "PolicyNotAuthorized");
        }
        let (s, b) = c
            .call(
                "PUT",
                &path,
                &c.admin,
                Some(json!({"port": {"allowed_address_pairs": [{"ip_address": "1.1.1.1"}]}})),
            )
            .await;
        assert_eq!(s, 200, "admin may: {b}");
    }
}

/// Neutron's _validate_privileges: a non-admin naming another project in a
/// create body gets 400 HTTPBadRequest (neutron_tempest_plugin
/// test_add_port_with_nonexist_project_id).
#[tokio::test]
async fn foreign_project_in_create_is_a_bad_request() {
    for c in support::backends().await {
        let net = c.network(&c.alice, "mine").await;
        c.subnet(&c.alice, &net, "10.5.0.0/24", json!({})).await;
        let other = "0b5f0d4a7c2a4d2b8f1e0e6b7a3c9d11";
        for (resource, body) in [
            ("network", json!({"name": "x", "project_id": other})),
            (
                "subnet",
                json!({"network_id": net["id"], "cidr": "10.6.0.0/24", "ip_version": 4, "tenant_id": other}),
            ),
            (
                "port",
                json!({"network_id": net["id"], "project_id": other}),
            ),
        ] {
            let (s, b) = c
                .call(
                    "POST",
                    &format!("/v2.0/{resource}s"),
                    &c.alice,
                    Some(json!({resource: body})),
                )
                .await;
            assert_error(s, &b, 400, "HTTPBadRequest");
            assert!(
                b["NeutronError"]["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("Specifying 'project_id' other than the authenticated project"),
                "{b}"
            );
        }
    }
}

/// Non-admins may filter on the provider attributes they cannot see
/// (neutron_tempest_plugin test_list_network_filter_provider_attributes).
#[tokio::test]
async fn non_admins_filter_on_hidden_provider_attributes() {
    for c in support::backends().await {
        let n = c.network(&c.alice, "geneve-net").await;
        let id = n["id"].as_str().unwrap().to_string();
        let (_, b) = c
            .call("GET", &format!("/v2.0/networks/{id}"), &c.admin, None)
            .await;
        let seg = b["network"]["provider:segmentation_id"].clone();
        for (query, found) in [
            ("provider:network_type=geneve".to_string(), true),
            ("provider:network_type=vlan".to_string(), false),
            (format!("provider:segmentation_id={seg}"), true),
        ] {
            let (s, b) = c
                .call("GET", &format!("/v2.0/networks?{query}"), &c.alice, None)
                .await;
            assert_eq!(s, 200, "{b}");
            assert_eq!(ids(&b, "networks").contains(&id), found, "{query}: {b}");
            for item in b["networks"].as_array().unwrap() {
                assert!(item.get("provider:network_type").is_none(), "{item}");
                assert!(item.get("provider:segmentation_id").is_none(), "{item}");
            }
        }
    }
}
