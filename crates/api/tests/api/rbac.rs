use serde_json::json;

use crate::support::{self, assert_error};

#[tokio::test]
async fn sharing_a_network_with_one_project() {
    for c in support::backends().await {
        let net = c.network(&c.alice, "alice-net").await;
        c.subnet(&c.alice, &net, "10.50.0.0/24", json!({})).await;
        let nid = net["id"].as_str().unwrap();
        let (s, b) = c
            .call("GET", &format!("/v2.0/networks/{nid}"), &c.bob, None)
            .await;
        assert_error(s, &b, 404, "NetworkNotFound");
        let (s, b) = c
            .call("POST", "/v2.0/rbac-policies", &c.alice, Some(json!({"rbac_policy": {"object_type": "network", "object_id": nid, "action": "access_as_shared", "target_tenant": c.bob_project}})))
            .await;
        assert_eq!(s, 201, "{b}");
        let policy = b["rbac_policy"]["id"].as_str().unwrap().to_string();
        let (s, b) = c
            .call("POST", "/v2.0/rbac-policies", &c.alice, Some(json!({"rbac_policy": {"object_type": "network", "object_id": nid, "action": "access_as_shared", "target_tenant": c.bob_project}})))
            .await;
        assert_error(s, &b, 409, "DuplicateRbacPolicy");
        let (s, b) = c
            .call("POST", "/v2.0/rbac-policies", &c.alice, Some(json!({"rbac_policy": {"object_type": "network", "object_id": nid, "action": "access_as_shared", "target_tenant": "*"}})))
            .await;
        assert_error(s, &b, 403, "PolicyNotAuthorized");
        let (s, b) = c
            .call("POST", "/v2.0/rbac-policies", &c.bob, Some(json!({"rbac_policy": {"object_type": "network", "object_id": nid, "action": "access_as_shared", "target_tenant": c.bob_project}})))
            .await;
        // Bob sees the network now, but only its owner may grant access to it.
        assert_error(s, &b, 400, "BadRequest");
        let (_, b) = c.call("GET", "/v2.0/rbac-policies", &c.bob, None).await;
        assert_eq!(
            b["rbac_policies"],
            json!([]),
            "a policy is its creator's, not its target's"
        );

        let (s, b) = c
            .call("GET", &format!("/v2.0/networks/{nid}"), &c.bob, None)
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(
            b["network"]["shared"], true,
            "shared as seen by the target project"
        );
        let (_, b) = c
            .call("GET", &format!("/v2.0/networks/{nid}"), &c.alice, None)
            .await;
        assert_eq!(b["network"]["shared"], false, "not shared with everyone");
        let port = c.create(&c.bob, "port", json!({"network_id": nid})).await;

        // Bob's port depends on the grant.
        let (s, b) = c
            .call(
                "DELETE",
                &format!("/v2.0/rbac-policies/{policy}"),
                &c.alice,
                None,
            )
            .await;
        assert_error(s, &b, 409, "RbacPolicyInUse");
        let (s, _) = c
            .call(
                "DELETE",
                &format!("/v2.0/ports/{}", port["id"].as_str().unwrap()),
                &c.bob,
                None,
            )
            .await;
        assert_eq!(s, 204);
        let (s, _) = c
            .call(
                "DELETE",
                &format!("/v2.0/rbac-policies/{policy}"),
                &c.alice,
                None,
            )
            .await;
        assert_eq!(s, 204);
        let (s, _) = c
            .call("GET", &format!("/v2.0/networks/{nid}"), &c.bob, None)
            .await;
        assert_eq!(s, 404);
    }
}

#[tokio::test]
async fn shared_flag_is_a_wildcard_policy() {
    for c in support::backends().await {
        let n = c
            .create(&c.admin, "network", json!({"name": "pub", "shared": true}))
            .await;
        let (_, b) = c
            .call(
                "GET",
                &format!(
                    "/v2.0/rbac-policies?object_id={}",
                    n["id"].as_str().unwrap()
                ),
                &c.admin,
                None,
            )
            .await;
        let pols = b["rbac_policies"].as_array().unwrap();
        assert_eq!(pols.len(), 1);
        assert_eq!(pols[0]["action"], "access_as_shared");
        assert_eq!(pols[0]["target_tenant"], "*");
        let (s, b) = c
            .call(
                "PUT",
                &format!("/v2.0/networks/{}", n["id"].as_str().unwrap()),
                &c.admin,
                Some(json!({"network": {"shared": false}})),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let (_, b) = c.call("GET", "/v2.0/rbac-policies", &c.admin, None).await;
        assert_eq!(b["rbac_policies"], json!([]));
        let (s, _) = c
            .call(
                "GET",
                &format!("/v2.0/networks/{}", n["id"].as_str().unwrap()),
                &c.bob,
                None,
            )
            .await;
        assert_eq!(s, 404);
        let (s, b) = c
            .call("POST", "/v2.0/rbac-policies", &c.admin, Some(json!({"rbac_policy": {"object_type": "qos_policy", "object_id": n["id"], "action": "access_as_shared", "target_tenant": "*"}})))
            .await;
        assert_error(s, &b, 400, "HTTPBadRequest");
    }
}

#[tokio::test]
async fn external_access_grants_follow_neutron() {
    for c in support::backends().await {
        // Granting access_as_external makes a network external...
        let n = c.network(&c.admin, "becomes-external").await;
        let nid = n["id"].as_str().unwrap();
        let (s, b) = c
            .call("POST", "/v2.0/rbac-policies", &c.admin, Some(json!({"rbac_policy": {"object_type": "network", "object_id": nid, "action": "access_as_external", "target_tenant": c.bob_project}})))
            .await;
        assert_eq!(s, 201, "{b}");
        let project_policy = b["rbac_policy"]["id"].as_str().unwrap().to_string();
        let (_, b) = c
            .call("GET", &format!("/v2.0/networks/{nid}"), &c.admin, None)
            .await;
        assert_eq!(b["network"]["router:external"], true);
        c.subnet(
            &c.admin,
            &n,
            "203.0.113.0/24",
            json!({"enable_dhcp": false}),
        )
        .await;
        let wildcard = c
            .call("POST", "/v2.0/rbac-policies", &c.admin, Some(json!({"rbac_policy": {"object_type": "network", "object_id": nid, "action": "access_as_external", "target_tenant": "*"}})))
            .await
            .1["rbac_policy"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        // ...bob uses it; either grant alone keeps his access, not neither.
        let r = c
            .create(
                &c.bob,
                "router",
                json!({"external_gateway_info": {"network_id": nid}}),
            )
            .await;
        let (s, _) = c
            .call(
                "DELETE",
                &format!("/v2.0/rbac-policies/{wildcard}"),
                &c.admin,
                None,
            )
            .await;
        assert_eq!(s, 204, "bob keeps his own grant");
        let (s, b) = c
            .call(
                "DELETE",
                &format!("/v2.0/rbac-policies/{project_policy}"),
                &c.admin,
                None,
            )
            .await;
        assert_error(s, &b, 409, "RbacPolicyInUse");
        let (s, _) = c
            .call(
                "DELETE",
                &format!("/v2.0/routers/{}", r["id"].as_str().unwrap()),
                &c.bob,
                None,
            )
            .await;
        assert_eq!(s, 204);
        // ...and losing the last grant makes it internal again.
        let (s, _) = c
            .call(
                "DELETE",
                &format!("/v2.0/rbac-policies/{project_policy}"),
                &c.admin,
                None,
            )
            .await;
        assert_eq!(s, 204);
        let (_, b) = c
            .call("GET", &format!("/v2.0/networks/{nid}"), &c.admin, None)
            .await;
        assert_eq!(b["network"]["router:external"], false);
    }
}
