use serde_json::json;

use crate::support::{self, assert_error};

#[tokio::test]
async fn create_show_update_delete() {
    for c in support::backends().await {
        let n = c
            .create(
                &c.alice,
                "network",
                json!({"name": "net1", "description": "d"}),
            )
            .await;
        assert_eq!(n["status"], "ACTIVE");
        assert_eq!(n["admin_state_up"], true);
        assert_eq!(n["shared"], false);
        assert_eq!(n["router:external"], false);
        assert_eq!(n["project_id"], c.alice_project.as_str());
        assert_eq!(n["tenant_id"], c.alice_project.as_str());
        assert_eq!(
            n["mtu"], 1442,
            "geneve networks lose 58 bytes to encapsulation"
        );
        assert_eq!(n["revision_number"], 1);
        assert!(
            n.get("provider:network_type").is_none(),
            "provider attributes are admin-only"
        );
        let id = n["id"].as_str().expect("id").to_string();

        let (s, b) = c
            .call("GET", &format!("/v2.0/networks/{id}"), &c.admin, None)
            .await;
        assert_eq!(s, 200);
        assert_eq!(b["network"]["provider:network_type"], "geneve");
        assert!(b["network"]["provider:segmentation_id"].as_i64().is_some());

        let (s, b) = c
            .call(
                "PUT",
                &format!("/v2.0/networks/{id}"),
                &c.alice,
                Some(json!({"network": {"name": "renamed", "mtu": 1400}})),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["network"]["name"], "renamed");
        assert_eq!(b["network"]["mtu"], 1400);
        assert_eq!(b["network"]["revision_number"], 2);

        let (s, b) = c
            .call(
                "GET",
                &format!("/v2.0/networks/{id}?fields=id&fields=name"),
                &c.alice,
                None,
            )
            .await;
        assert_eq!(s, 200);
        assert_eq!(b["network"].as_object().map(|o| o.len()), Some(2), "{b}");

        let (s, _) = c
            .call("DELETE", &format!("/v2.0/networks/{id}"), &c.alice, None)
            .await;
        assert_eq!(s, 204);
        let (s, b) = c
            .call("GET", &format!("/v2.0/networks/{id}"), &c.alice, None)
            .await;
        assert_error(s, &b, 404, "NetworkNotFound");
    }
}

#[tokio::test]
async fn provider_networks_follow_ml2_rules() {
    for c in support::backends().await {
        let flat = c
            .create(&c.admin, "network", json!({"name": "octavia-provider-net", "provider:network_type": "flat", "provider:physical_network": "octavia", "router:external": true}))
            .await;
        assert_eq!(flat["provider:physical_network"], "octavia");
        assert!(flat["provider:segmentation_id"].is_null());
        assert_eq!(flat["mtu"], 1500);
        assert_eq!(flat["router:external"], true);

        // One flat network per physical network.
        let (s, b) = c.call("POST", "/v2.0/networks", &c.admin, Some(json!({"network": {"provider:network_type": "flat", "provider:physical_network": "octavia"}}))).await;
        assert_error(s, &b, 409, "FlatNetworkInUse");
        let (s, b) = c
            .call(
                "POST",
                "/v2.0/networks",
                &c.admin,
                Some(json!({"network": {"provider:network_type": "flat"}})),
            )
            .await;
        assert_error(s, &b, 400, "InvalidInput");

        let vlan = c.create(&c.admin, "network", json!({"provider:network_type": "vlan", "provider:physical_network": "physnet1", "provider:segmentation_id": 42})).await;
        assert_eq!(vlan["provider:segmentation_id"], 42);
        let (s, b) = c.call("POST", "/v2.0/networks", &c.admin, Some(json!({"network": {"provider:network_type": "vlan", "provider:physical_network": "physnet1", "provider:segmentation_id": 42}}))).await;
        assert_error(s, &b, 409, "VlanIdInUse");
        // The same tag on another physnet is fine.
        c.create(&c.admin, "network", json!({"provider:network_type": "vlan", "provider:physical_network": "physnet2", "provider:segmentation_id": 42})).await;
        let (s, b) = c.call("POST", "/v2.0/networks", &c.admin, Some(json!({"network": {"provider:network_type": "vlan", "provider:physical_network": "physnet1", "provider:segmentation_id": 5000}}))).await;
        assert_error(s, &b, 400, "InvalidInput");
        // Without a tag, one comes from the configured range.
        let auto = c
            .create(
                &c.admin,
                "network",
                json!({"provider:network_type": "vlan", "provider:physical_network": "physnet1"}),
            )
            .await;
        assert_eq!(auto["provider:segmentation_id"], 100);

        // Members may not set provider attributes or external.
        let (s, b) = c
            .call(
                "POST",
                "/v2.0/networks",
                &c.alice,
                Some(json!({"network": {"provider:network_type": "geneve"}})),
            )
            .await;
        assert_error(s, &b, 403, "PolicyNotAuthorized");
        let (s, b) = c
            .call(
                "POST",
                "/v2.0/networks",
                &c.alice,
                Some(json!({"network": {"router:external": true}})),
            )
            .await;
        assert_error(s, &b, 403, "PolicyNotAuthorized");
        let (s, b) = c
            .call(
                "POST",
                "/v2.0/networks",
                &c.alice,
                Some(json!({"network": {"shared": true}})),
            )
            .await;
        assert_error(s, &b, 403, "PolicyNotAuthorized");
        let (s, b) = c
            .call(
                "POST",
                "/v2.0/networks",
                &c.reader,
                Some(json!({"network": {"name": "x"}})),
            )
            .await;
        assert_error(s, &b, 403, "PolicyNotAuthorized");
        let (s, b) = c
            .call(
                "PUT",
                &format!("/v2.0/networks/{}", vlan["id"].as_str().unwrap()),
                &c.admin,
                Some(json!({"network": {"provider:segmentation_id": 43}})),
            )
            .await;
        assert_error(s, &b, 400, "InvalidInput");
    }
}

#[tokio::test]
async fn tenant_networks_get_distinct_segments_and_ids_are_reused() {
    for c in support::backends().await {
        let mut segs = Vec::new();
        let mut ids = Vec::new();
        for i in 0..5 {
            let n = c.network(&c.alice, &format!("n{i}")).await;
            ids.push(n["id"].as_str().unwrap().to_string());
            let (_, b) = c
                .call("GET", &format!("/v2.0/networks/{}", ids[i]), &c.admin, None)
                .await;
            segs.push(b["network"]["provider:segmentation_id"].as_i64().unwrap());
        }
        assert_eq!(
            segs,
            vec![1, 2, 3, 4, 5],
            "[{}] lowest free ids in order",
            c.backend
        );
        let (s, _) = c
            .call(
                "DELETE",
                &format!("/v2.0/networks/{}", ids[1]),
                &c.alice,
                None,
            )
            .await;
        assert_eq!(s, 204);
        let n = c.network(&c.alice, "again").await;
        let (_, b) = c
            .call(
                "GET",
                &format!("/v2.0/networks/{}", n["id"].as_str().unwrap()),
                &c.admin,
                None,
            )
            .await;
        assert_eq!(
            b["network"]["provider:segmentation_id"], 2,
            "a released id is handed out again"
        );
    }
}

#[tokio::test]
async fn segment_range_exhaustion_is_503() {
    let cfg = neutrino_api::NetworkConfig {
        tunnel_id_range: (10, 11),
        ..support::config()
    };
    for c in support::backends_with(cfg).await {
        c.network(&c.alice, "a").await;
        c.network(&c.alice, "b").await;
        let (s, b) = c
            .call(
                "POST",
                "/v2.0/networks",
                &c.alice,
                Some(json!({"network": {"name": "c"}})),
            )
            .await;
        assert_error(s, &b, 503, "NoNetworkAvailable");
        assert_eq!(c.count("networks").await, 2);
    }
}

#[tokio::test]
async fn projects_see_only_their_own_and_shared_networks() {
    for c in support::backends().await {
        let mine = c.network(&c.alice, "alice-net").await;
        let id = mine["id"].as_str().unwrap();
        let (s, b) = c
            .call("GET", &format!("/v2.0/networks/{id}"), &c.bob, None)
            .await;
        assert_error(s, &b, 404, "NetworkNotFound");
        let (s, b) = c
            .call(
                "PUT",
                &format!("/v2.0/networks/{id}"),
                &c.bob,
                Some(json!({"network": {"name": "x"}})),
            )
            .await;
        assert_error(s, &b, 404, "NetworkNotFound");
        let (s, b) = c
            .call("DELETE", &format!("/v2.0/networks/{id}"), &c.bob, None)
            .await;
        assert_error(s, &b, 404, "NetworkNotFound");
        let (_, b) = c.call("GET", "/v2.0/networks", &c.bob, None).await;
        assert_eq!(b["networks"].as_array().unwrap().len(), 0);

        let shared = c
            .create(
                &c.admin,
                "network",
                json!({"name": "public", "shared": true}),
            )
            .await;
        let (_, b) = c.call("GET", "/v2.0/networks", &c.bob, None).await;
        let names: Vec<&str> = b["networks"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|n| n["name"].as_str())
            .collect();
        assert_eq!(names, vec!["public"]);
        // Visible is not writable.
        let (s, b) = c
            .call(
                "PUT",
                &format!("/v2.0/networks/{}", shared["id"].as_str().unwrap()),
                &c.bob,
                Some(json!({"network": {"name": "mine"}})),
            )
            .await;
        assert_error(s, &b, 403, "PolicyNotAuthorized");
        // The reader of alice's project sees her network but cannot change it.
        let (s, _) = c
            .call("GET", &format!("/v2.0/networks/{id}"), &c.reader, None)
            .await;
        assert_eq!(s, 200);
        let (s, b) = c
            .call("DELETE", &format!("/v2.0/networks/{id}"), &c.reader, None)
            .await;
        assert_error(s, &b, 403, "PolicyNotAuthorized");
        let (_, b) = c.call("GET", "/v2.0/networks", &c.admin, None).await;
        assert_eq!(
            b["networks"].as_array().unwrap().len(),
            2,
            "admins see everything"
        );
    }
}

#[tokio::test]
async fn if_match_revision_number() {
    for c in support::backends().await {
        let n = c.network(&c.alice, "rev").await;
        let id = n["id"].as_str().unwrap();
        let put = |rev: &str| {
            axum::http::Request::builder()
                .method("PUT")
                .uri(format!("/v2.0/networks/{id}"))
                .header("x-auth-token", &c.alice)
                .header("if-match", rev)
                .body(axum::body::Body::from(
                    json!({"network": {"name": "x"}}).to_string(),
                ))
                .unwrap()
        };
        let (s, _, b) = support::send(&c.app, put("revision_number=7")).await;
        assert_error(s.as_u16(), &b, 412, "RevisionNumberConstraintFailed");
        let (s, _, b) = support::send(&c.app, put("revision_number=1")).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["network"]["revision_number"], 2);
        let (s, _, b) = support::send(&c.app, put("revision_number=abc")).await;
        assert_error(s.as_u16(), &b, 400, "HTTPBadRequest");
    }
}

#[tokio::test]
async fn filters_sorting_and_pagination() {
    for c in support::backends().await {
        for name in ["b", "a", "d", "c", "e"] {
            c.network(&c.alice, name).await;
        }
        c.create(
            &c.alice,
            "network",
            json!({"name": "down", "admin_state_up": false}),
        )
        .await;
        let (_, b) = c
            .call("GET", "/v2.0/networks?name=a&name=c", &c.alice, None)
            .await;
        let mut names: Vec<&str> = b["networks"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|n| n["name"].as_str())
            .collect();
        names.sort();
        assert_eq!(names, vec!["a", "c"], "repeated filter values are OR-ed");
        let (_, b) = c
            .call("GET", "/v2.0/networks?admin_state_up=False", &c.alice, None)
            .await;
        assert_eq!(b["networks"].as_array().unwrap().len(), 1);
        let (s, b) = c
            .call("GET", "/v2.0/networks?bogus=1", &c.alice, None)
            .await;
        assert_error(s, &b, 400, "HTTPBadRequest");

        let (_, b) = c
            .call(
                "GET",
                "/v2.0/networks?sort_key=name&sort_dir=desc&fields=name",
                &c.alice,
                None,
            )
            .await;
        let names: Vec<&str> = b["networks"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|n| n["name"].as_str())
            .collect();
        assert_eq!(names, vec!["e", "down", "d", "c", "b", "a"]);
        let (s, b) = c
            .call("GET", "/v2.0/networks?sort_key=nope", &c.alice, None)
            .await;
        assert_error(s, &b, 400, "HTTPBadRequest");

        let (_, p1) = c
            .call(
                "GET",
                "/v2.0/networks?sort_key=name&sort_dir=asc&limit=2",
                &c.alice,
                None,
            )
            .await;
        let names: Vec<&str> = p1["networks"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|n| n["name"].as_str())
            .collect();
        assert_eq!(names, vec!["a", "b"]);
        let next = p1["networks_links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == "next")
            .expect("next link");
        let href = next["href"].as_str().unwrap();
        let path = &href[href.find("/v2.0").unwrap()..];
        let (_, p2) = c.call("GET", path, &c.alice, None).await;
        let names: Vec<&str> = p2["networks"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|n| n["name"].as_str())
            .collect();
        assert_eq!(names, vec!["c", "d"]);
        let (s, b) = c
            .call("GET", "/v2.0/networks?limit=-1", &c.alice, None)
            .await;
        assert_error(s, &b, 400, "HTTPBadRequest");
    }
}

#[tokio::test]
async fn tags_subresource_and_filters() {
    for c in support::backends().await {
        let n = c.network(&c.alice, "tagged").await;
        let other = c.network(&c.alice, "plain").await;
        let base = format!("/v2.0/networks/{}/tags", n["id"].as_str().unwrap());
        let (s, _) = c.call("PUT", &format!("{base}/red"), &c.alice, None).await;
        assert_eq!(s, 201);
        let (s, b) = c
            .call(
                "PUT",
                &base,
                &c.alice,
                Some(json!({"tags": ["red", "blue"]})),
            )
            .await;
        assert_eq!(s, 200);
        assert_eq!(b["tags"], json!(["blue", "red"]));
        let (s, _) = c.call("GET", &format!("{base}/blue"), &c.alice, None).await;
        assert_eq!(s, 204);
        let (s, _) = c
            .call("GET", &format!("{base}/green"), &c.alice, None)
            .await;
        assert_eq!(s, 404);
        let (_, b) = c
            .call("GET", "/v2.0/networks?tags=red,blue", &c.alice, None)
            .await;
        assert_eq!(b["networks"].as_array().unwrap().len(), 1);
        let (_, b) = c
            .call("GET", "/v2.0/networks?not-tags=red", &c.alice, None)
            .await;
        assert_eq!(b["networks"][0]["id"], other["id"]);
        let too_many: Vec<String> = (0..51).map(|i| format!("t{i}")).collect();
        let (s, b) = c
            .call("PUT", &base, &c.alice, Some(json!({"tags": too_many})))
            .await;
        assert_error(s, &b, 400, "HTTPBadRequest");
        let (s, b) = c
            .call("PUT", &base, &c.bob, Some(json!({"tags": ["x"]})))
            .await;
        assert_error(s, &b, 404, "NetworkNotFound");
        let (s, _) = c.call("DELETE", &base, &c.alice, None).await;
        assert_eq!(s, 204);
        let (_, b) = c.call("GET", &base, &c.alice, None).await;
        assert_eq!(b["tags"], json!([]));
    }
}

#[tokio::test]
async fn bulk_create_is_all_or_nothing() {
    for c in support::backends().await {
        let (s, b) = c
            .call(
                "POST",
                "/v2.0/networks",
                &c.alice,
                Some(json!({"networks": [{"name": "x"}, {"name": "y"}]})),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        assert_eq!(b["networks"].as_array().unwrap().len(), 2);
        let (s, b) = c
            .call(
                "POST",
                "/v2.0/networks",
                &c.alice,
                Some(json!({"networks": [{"name": "z"}, {"name": 5}]})),
            )
            .await;
        assert_error(s, &b, 400, "HTTPBadRequest");
        assert_eq!(
            c.count("networks").await,
            2,
            "[{}] the valid half of a failed bulk is not stored",
            c.backend
        );
    }
}
