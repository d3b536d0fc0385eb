use serde_json::json;

use crate::support::{self, assert_error, request, send};

#[tokio::test]
async fn show_update_details_reset() {
    for c in support::backends().await {
        let p = c.alice_project.clone();
        let (s, b) = c
            .call("GET", &format!("/v2.0/quotas/{p}"), &c.alice, None)
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["quota"]["network"], 100);
        assert_eq!(b["quota"]["port"], 500);
        let (s, b) = c
            .call("GET", &format!("/v2.0/quotas/{p}"), &c.bob, None)
            .await;
        assert_error(s, &b, 403, "PolicyNotAuthorized");
        let (s, b) = c
            .call(
                "PUT",
                &format!("/v2.0/quotas/{p}"),
                &c.alice,
                Some(json!({"quota": {"network": 1}})),
            )
            .await;
        assert_error(s, &b, 403, "PolicyNotAuthorized");
        let (s, b) = c
            .call(
                "PUT",
                &format!("/v2.0/quotas/{p}"),
                &c.admin,
                Some(json!({"quota": {"widgets": 1}})),
            )
            .await;
        assert_error(s, &b, 400, "HTTPBadRequest");
        let (s, b) = c
            .call(
                "PUT",
                &format!("/v2.0/quotas/{p}"),
                &c.admin,
                Some(json!({"quota": {"network": -2}})),
            )
            .await;
        assert_error(s, &b, 400, "HTTPBadRequest");
        let (s, b) = c
            .call(
                "PUT",
                &format!("/v2.0/quotas/{p}"),
                &c.admin,
                Some(json!({"quota": {"network": 2, "port": -1}})),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["quota"]["network"], 2);
        assert_eq!(b["quota"]["port"], -1);

        c.network(&c.alice, "one").await;
        c.network(&c.alice, "two").await;
        let (s, b) = c
            .call(
                "POST",
                "/v2.0/networks",
                &c.alice,
                Some(json!({"network": {"name": "three"}})),
            )
            .await;
        assert_error(s, &b, 409, "OverQuota");
        assert_eq!(
            c.count("networks").await,
            2,
            "[{}] an over-quota create stores nothing",
            c.backend
        );
        let (_, b) = c
            .call("GET", &format!("/v2.0/quotas/{p}/details"), &c.alice, None)
            .await;
        assert_eq!(
            b["quota"]["network"],
            json!({"limit": 2, "used": 2, "reserved": 0})
        );
        let (_, b) = c.call("GET", "/v2.0/quotas", &c.admin, None).await;
        assert_eq!(b["quotas"].as_array().unwrap().len(), 1);
        assert_eq!(b["quotas"][0]["project_id"], p.as_str());
        let (_, b) = c
            .call("GET", &format!("/v2.0/quotas/{p}/default"), &c.alice, None)
            .await;
        assert_eq!(b["quota"]["network"], 100);

        let (s, _) = c
            .call("DELETE", &format!("/v2.0/quotas/{p}"), &c.admin, None)
            .await;
        assert_eq!(s, 204);
        c.network(&c.alice, "three").await;
    }
}

#[tokio::test]
async fn twenty_racing_floating_ips_against_a_quota_of_ten() {
    for c in support::backends().await {
        let ext = c
            .create(
                &c.admin,
                "network",
                json!({"name": "public", "router:external": true}),
            )
            .await;
        c.subnet(&c.admin, &ext, "198.51.100.0/24", json!({})).await;
        let (s, _) = c
            .call(
                "PUT",
                &format!("/v2.0/quotas/{}", c.alice_project),
                &c.admin,
                Some(json!({"quota": {"floatingip": 10}})),
            )
            .await;
        assert_eq!(s, 200);
        let replica = c.replica().await;
        let body = json!({"floatingip": {"floating_network_id": ext["id"]}});
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let app = if i % 2 == 0 {
                    c.app.clone()
                } else {
                    replica.clone()
                };
                let req = request(
                    "POST",
                    "/v2.0/floatingips",
                    Some(&c.alice),
                    Some(body.clone()),
                );
                tokio::spawn(async move { send(&app, req).await })
            })
            .collect();
        let (mut ok, mut over) = (0, 0);
        for t in tasks {
            let (status, _, b) = t.await.expect("task");
            match status.as_u16() {
                201 => ok += 1,
                409 => {
                    assert_eq!(b["NeutronError"]["type"], "OverQuota", "{b}");
                    over += 1;
                }
                other => panic!("[{}] unexpected {other}: {b}", c.backend),
            }
        }
        assert_eq!(
            (ok, over),
            (10, 10),
            "[{}] exactly the quota is granted",
            c.backend
        );
        assert_eq!(c.count("floatingips").await, 10);
        let (_, b) = c
            .call(
                "GET",
                "/v2.0/ports?device_owner=network:floatingip",
                &c.admin,
                None,
            )
            .await;
        assert_eq!(
            b["ports"].as_array().unwrap().len(),
            10,
            "[{}] refused creates leave no port behind",
            c.backend
        );
    }
}

/// `openstack quota set --networks N PROJECT` always sends `check_limit:
/// true` (or `force: true` with `--force`), the quota-check-limit extension
/// of Neutron: the server accepted neither ("Unrecognized attribute(s)
/// 'check_limit'"), so the stock client could not set a network quota. As
/// upstream since 2025.1, a new limit below the usage is refused unless
/// `force` is true, with or without `check_limit`.
#[tokio::test]
async fn update_takes_check_limit_and_force_as_the_openstack_client_sends_them() {
    for c in support::backends().await {
        let path = format!("/v2.0/quotas/{}", c.alice_project);
        let put = |quota: serde_json::Value| {
            let path = path.clone();
            let c = &c;
            async move {
                c.call("PUT", &path, &c.admin, Some(json!({"quota": quota})))
                    .await
            }
        };
        let (s, b) = put(json!({"network": 2, "check_limit": true})).await;
        assert_eq!(s, 200, "[{}] {b}", c.backend);
        assert_eq!(b["quota"]["network"], 2);
        assert!(b["quota"].get("check_limit").is_none(), "{b}");
        c.network(&c.alice, "one").await;
        c.network(&c.alice, "two").await;

        for quota in [
            json!({"network": 1, "check_limit": true}),
            json!({"network": 1}),
            json!({"network": 1, "force": false}),
        ] {
            let (s, b) = put(quota.clone()).await;
            assert_error(s, &b, 400, "HTTPBadRequest");
            assert_eq!(
                b["NeutronError"]["message"],
                "Quota limit 1 for network must be greater than or equal to already used 2",
                "{quota}"
            );
        }
        let (_, b) = c.call("GET", &path, &c.admin, None).await;
        assert_eq!(b["quota"]["network"], 2, "a refused update stores nothing");

        let (s, b) = put(json!({"network": 1, "force": true})).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["quota"]["network"], 1);
        let (s, b) = put(json!({"network": -1, "check_limit": true})).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["quota"]["network"], -1);
        let (s, b) = put(json!({"network": 5, "router": 0, "check_limit": true})).await;
        assert_eq!(s, 200, "unused resources may go to 0: {b}");

        let (_, b) = c.call("GET", "/v2.0/extensions", &c.alice, None).await;
        let aliases: Vec<&str> = b["extensions"]
            .as_array()
            .expect("extensions")
            .iter()
            .filter_map(|e| e["alias"].as_str())
            .collect();
        for want in ["quota-check-limit", "quota-check-limit-default"] {
            assert!(aliases.contains(&want), "{want} missing: {aliases:?}");
        }
    }
}
